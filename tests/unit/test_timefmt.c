/* Times as stored (timefmt.h): UTC with milliseconds, before 1970 too, and
 * the parsers refusing what is not exactly that form or not a real day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "consentgate/err.h"
#include "consentgate/timefmt.h"

static void test_format(void **state)
{
	char out[CG_TIME_LEN + 1];

	(void)state;
	cg_time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	cg_time_format(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
	cg_time_format(INT64_C(1795303718006), out);
	assert_string_equal(out, "2026-11-21T23:28:38.006Z");
	cg_time_format(INT64_C(951782400000), out); /* a leap day of a century year */
	assert_string_equal(out, "2000-02-29T00:00:00.000Z");
}

static void test_round_trip(void **state)
{
	char out[CG_TIME_LEN + 1];
	int64_t back;

	(void)state;
	for (int64_t ms = -INT64_C(5000000000000); ms < INT64_C(5000000000000); ms += INT64_C(123456789013)) {
		cg_time_format(ms, out);
		assert_int_equal(cg_time_parse(out, &back), CG_OK);
		assert_int_equal(back, ms);
	}
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		NULL, "", "2026-11-22T23:28:38Z", "2026-11-22T23:28:38.006", "2026-11-22 23:28:38.006Z",
		"2026-13-22T23:28:38.006Z", "2026-00-22T23:28:38.006Z", "2026-11-32T23:28:38.006Z",
		"2026-11-22T24:28:38.006Z", "2026-11-22T23:60:38.006Z", "2026-11-22T23:28:61.006Z",
		"2026-11-22T23:28:38.0a6Z", "+026-11-22T23:28:38.006Z", "2026-11-22T23:28:38.006Z ",
	};
	int64_t ms = 7;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cg_time_parse(bad[i], &ms), CG_ERR_INVALID);
	assert_int_equal(ms, 7); /* untouched */
	/* a leap second parses (as the next second's time) */
	assert_int_equal(cg_time_parse("2016-12-31T23:59:60.000Z", &ms), CG_OK);
}

static void test_day(void **state)
{
	int64_t ms = 7;

	(void)state;
	assert_int_equal(cg_day_parse("1970-01-02", &ms), CG_OK);
	assert_int_equal(ms, CG_MS_PER_DAY);
	assert_int_equal(cg_day_parse("2024-02-29", &ms), CG_OK);
	assert_int_equal(cg_day_parse("2023-02-29", &ms), CG_ERR_INVALID);
	assert_int_equal(cg_day_parse("1900-02-29", &ms), CG_ERR_INVALID);
	assert_int_equal(cg_day_parse("2026-04-31", &ms), CG_ERR_INVALID);
	assert_int_equal(cg_day_parse("2026-4-30", &ms), CG_ERR_INVALID);
	assert_int_equal(cg_day_parse("2026-04-30T", &ms), CG_ERR_INVALID);
	assert_int_equal(cg_day_parse(NULL, &ms), CG_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
