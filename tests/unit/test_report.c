#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/report.h"

static void test_merge_and_render(void **state)
{
	struct cg_report r = {0};
	struct cg_buf b;

	(void)state;
	assert_int_equal(cg_report_add(&r, "2026-11-20", "NO", CG_OUT_ACCEPT_ALL, 3), CG_OK);
	assert_int_equal(cg_report_add(&r, "2026-11-20", "NO", CG_OUT_REJECT_ALL, 2), CG_OK);
	assert_int_equal(cg_report_add(&r, "2026-11-20", NULL, CG_OUT_CUSTOM, 1), CG_OK);
	assert_int_equal(cg_report_add(&r, "2026-11-21", "SE", CG_OUT_WITHDRAW, 4), CG_OK);
	assert_int_equal(r.n, 3);
	assert_int_equal(cg_report_add(&r, "2026-11-21", "S\"", CG_OUT_WITHDRAW, 4), CG_ERR_INVALID);
	assert_int_equal(cg_report_add(&r, "x", "SE", CG_OUT_WITHDRAW, 4), CG_ERR_INVALID);
	assert_int_equal(cg_report_add(&r, "2026-11-21", "SE", 9, 4), CG_ERR_INVALID);

	cg_buf_init(&b, 1 << 20);
	assert_int_equal(cg_report_render(&r, CG_FMT_CSV, &b), CG_OK);
	assert_string_equal(b.p, "day,country,accept_all,reject_all,custom,withdraw,total\r\n"
	                         "2026-11-20,NO,3,2,0,0,5\r\n"
	                         "2026-11-20,,0,0,1,0,1\r\n"
	                         "2026-11-21,SE,0,0,0,4,4\r\n");
	cg_buf_reset(&b);
	assert_int_equal(cg_report_render(&r, CG_FMT_JSON, &b), CG_OK);
	assert_non_null(strstr(b.p, "{\"day\":\"2026-11-20\",\"country\":null,\"accept_all\":0,"
	                            "\"reject_all\":0,\"custom\":1,\"withdraw\":0,\"total\":1}"));
	cg_buf_reset(&b);
	assert_int_equal(cg_report_render(&r, CG_FMT_TABLE, &b), CG_OK);
	assert_non_null(strstr(b.p, "2026-11-21  SE"));
	assert_int_equal(cg_report_render(&r, 7, &b), CG_ERR_INVALID);
	assert_int_equal(cg_format_parse("csv"), CG_FMT_CSV);
	assert_int_equal(cg_format_parse("xml"), -1);
	cg_buf_free(&b);
	cg_report_free(&r);
	cg_report_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_and_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
