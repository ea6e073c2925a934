/* The event's names (event.h): purposes and actions by name and back, and
 * the objections set as the stored text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/event.h"

static void test_purposes(void **state)
{
	(void)state;
	for (int p = 0; p < CG_NPURPOSES; p++)
		assert_int_equal(cg_purpose_parse(cg_purpose_name(p)), p);
	assert_string_equal(cg_purpose_name(CG_MARKETING), "marketing");
	assert_null(cg_purpose_name(-1));
	assert_null(cg_purpose_name(CG_NPURPOSES));
	assert_int_equal(cg_purpose_parse("Marketing"), -1);
	assert_int_equal(cg_purpose_parse(""), -1);
	assert_int_equal(cg_purpose_parse(NULL), -1);
}

/* the stored names: a row's action column reads back as the action */
static void test_actions(void **state)
{
	static const char *const stored[CG_NACTIONS] = {"choice", "withdraw", "objection", "erase", "purge", "format"};

	(void)state;
	for (int a = 0; a < CG_NACTIONS; a++) {
		assert_string_equal(cg_action_name(a), stored[a]);
		assert_int_equal(cg_action_parse(stored[a]), a);
	}
	assert_null(cg_action_name(CG_NACTIONS));
	assert_null(cg_action_name(-1));
	assert_int_equal(cg_action_parse("delete"), -1);
}

static void test_objections(void **state)
{
	char out[CG_OBJECTIONS_MAX + 1];
	unsigned bits = 99;

	(void)state;
	cg_objections_format(0, out);
	assert_string_equal(out, "");
	cg_objections_format(7, out);
	assert_string_equal(out, "preferences,statistics,marketing");
	assert_true(strlen(out) <= CG_OBJECTIONS_MAX);
	cg_objections_format(1u << CG_MARKETING | 1u << CG_PREFERENCES, out);
	assert_string_equal(out, "preferences,marketing");
	assert_int_equal(cg_objections_parse(out, &bits), CG_OK);
	assert_int_equal(bits, 1u << CG_MARKETING | 1u << CG_PREFERENCES);
	assert_int_equal(cg_objections_parse("", &bits), CG_OK);
	assert_int_equal(bits, 0);
	assert_int_equal(cg_objections_parse(NULL, &bits), CG_OK);
	assert_int_equal(cg_objections_parse("statistics,", &bits), CG_OK); /* strtok: empty tokens skipped */
	assert_int_equal(bits, 1u << CG_STATISTICS);
	assert_int_equal(cg_objections_parse("statistics,ads", &bits), CG_ERR_INVALID);
	assert_int_equal(cg_objections_parse("preferences,statistics,marketing,marketing", &bits), CG_ERR_INVALID);
}

static void test_tri(void **state)
{
	(void)state;
	assert_string_equal(cg_tri_json(CG_TRI_NULL), "null");
	assert_string_equal(cg_tri_json(0), "false");
	assert_string_equal(cg_tri_json(1), "true");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_purposes),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_objections),
		cmocka_unit_test(test_tri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
