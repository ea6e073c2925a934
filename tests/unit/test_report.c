#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/report.h"

static struct cg_report_row row(const char *period, const char *cc, long long visitors,
                                long long acc, long long rej, long long cus, long long wd,
                                long long gp, long long gs, long long gm)
{
	struct cg_report_row r;

	memset(&r, 0, sizeof r);
	snprintf(r.period, sizeof r.period, "%s", period);
	snprintf(r.country, sizeof r.country, "%s", cc);
	strcpy(r.version, "2023-12");
	strcpy(r.lang, "nb");
	r.visitors = visitors;
	r.n[0] = acc;
	r.n[1] = rej;
	r.n[2] = cus;
	r.n[3] = wd;
	r.choices = acc + rej + cus;
	r.granted[0] = gp;
	r.granted[1] = gs;
	r.granted[2] = gm;
	return r;
}

static void fill(struct cg_report *r)
{
	struct cg_report_row a = row("2026-11-20", "NO", 5, 3, 1, 1, 0, 4, 4, 3);
	struct cg_report_row b = row("2026-11-20", "SE", 4, 4, 0, 0, 0, 4, 4, 4);
	struct cg_report_row c = row("2026-11-21", "", 6, 2, 2, 2, 1, 3, 4, 2);

	memset(r, 0, sizeof *r);
	assert_int_equal(cg_report_add(r, &a), CG_OK);
	assert_int_equal(cg_report_add(r, &b), CG_OK);
	assert_int_equal(cg_report_add(r, &c), CG_OK);
}

static void test_k_boundary(void **state)
{
	struct cg_report r;

	(void)state;
	fill(&r);
	cg_report_suppress(&r, 5);
	assert_false(r.rows[0].suppressed); /* exactly k visitors: shown */
	assert_true(r.rows[1].suppressed);  /* k - 1: suppressed */
	assert_false(r.rows[2].suppressed);
	cg_report_suppress(&r, 6);
	assert_true(r.rows[0].suppressed);
	assert_false(r.rows[2].suppressed);
	cg_report_suppress(&r, 1);
	assert_false(r.rows[1].suppressed);
	cg_report_free(&r);
}

static void test_renderers(void **state)
{
	struct cg_report r;
	struct cg_buf b;

	(void)state;
	fill(&r);
	cg_report_suppress(&r, 5);
	cg_buf_init(&b, 1 << 20);
	assert_int_equal(cg_report_render(&r, CG_FMT_CSV, NULL, &b), CG_OK);
	assert_string_equal(b.p,
		"day,country,policy_version,lang,visitors,accept_all,reject_all,custom,withdraw,choices,"
		"preferences_rate,statistics_rate,marketing_rate,suppressed\r\n"
		"2026-11-20,NO,2023-12,nb,5,3,1,1,0,5,0.8000,0.8000,0.6000,0\r\n"
		"2026-11-20,SE,2023-12,nb,,,,,,,,,,1\r\n"
		"2026-11-21,,2023-12,nb,6,2,2,2,1,6,0.5000,0.6667,0.3333,0\r\n");
	cg_buf_reset(&b);
	assert_int_equal(cg_report_render(&r, CG_FMT_JSON, NULL, &b), CG_OK);
	assert_non_null(strstr(b.p, "{\"period\":\"day\",\"k\":5,\"rows\":["));
	assert_non_null(strstr(b.p, "\"country\":\"SE\",\"policy_version\":\"2023-12\",\"lang\":\"nb\",\"suppressed\":true}"));
	assert_null(strstr(b.p, "\"visitors\":4"));  /* a suppressed cell leaks no count */
	cg_buf_reset(&b);
	assert_int_equal(cg_report_render(&r, CG_FMT_TABLE, NULL, &b), CG_OK);
	assert_non_null(strstr(b.p, "fewer than 5 visitors"));
	cg_buf_reset(&b);
	assert_int_equal(cg_report_render(&r, CG_FMT_HTML, "Consent report", &b), CG_OK);
	assert_non_null(strstr(b.p, "<!doctype html>"));
	assert_int_equal(strstr(b.p, "<svg") != NULL, 1);
	assert_non_null(strstr(b.p, "Grant rate per category over time"));
	assert_non_null(strstr(b.p, "* suppressed"));
	assert_null(strstr(b.p, "http")); /* self-contained: nothing loaded from anywhere */
	assert_int_equal(cg_report_render(&r, 9, NULL, &b), CG_ERR_INVALID);
	cg_buf_free(&b);
	cg_report_free(&r);
}

static void test_rollup(void **state)
{
	struct cg_report r, by;

	(void)state;
	fill(&r);
	cg_report_suppress(&r, 5);
	assert_int_equal(cg_report_rollup(&r, 0, &by), CG_OK);
	assert_int_equal(by.n, 2);
	assert_string_equal(by.rows[0].period, "2026-11-20");
	assert_int_equal(by.rows[0].visitors, 9);
	assert_int_equal(by.rows[0].granted[2], 7);
	assert_false(by.rows[0].suppressed);
	cg_report_free(&by);
	assert_int_equal(cg_report_rollup(&r, 1, &by), CG_OK);
	assert_int_equal(by.n, 3);
	assert_true(by.rows[1].suppressed); /* SE alone has 4 visitors */
	cg_report_free(&by);
	cg_report_free(&r);
}

static void test_charsets(void **state)
{
	struct cg_report r = {0};
	struct cg_report_row x = row("2026-11-20", "NO", 1, 1, 0, 0, 0, 1, 1, 1);

	(void)state;
	strcpy(x.lang, "n\"b");
	assert_int_equal(cg_report_add(&r, &x), CG_ERR_INVALID);
	x = row("<b>", "NO", 1, 1, 0, 0, 0, 1, 1, 1);
	assert_int_equal(cg_report_add(&r, &x), CG_ERR_INVALID);
	x = row("2026-W47", "no", 1, 1, 0, 0, 0, 1, 1, 1);
	assert_int_equal(cg_report_add(&r, &x), CG_ERR_INVALID);
	assert_int_equal(cg_period_parse("week"), CG_BY_WEEK);
	assert_int_equal(cg_format_parse("html"), CG_FMT_HTML);
	assert_int_equal(cg_format_parse("xml"), -1);
	cg_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_k_boundary),
		cmocka_unit_test(test_renderers),
		cmocka_unit_test(test_rollup),
		cmocka_unit_test(test_charsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
