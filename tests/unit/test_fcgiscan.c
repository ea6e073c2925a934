#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/fcgiscan.h"

static size_t rec(uint8_t *p, int type, int id, size_t clen, int pad)
{
	p[0] = 1;
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(id >> 8);
	p[3] = (uint8_t)id;
	p[4] = (uint8_t)(clen >> 8);
	p[5] = (uint8_t)clen;
	p[6] = (uint8_t)pad;
	p[7] = 0;
	memset(p + 8, 'x', clen + (size_t)pad);
	return 8 + clen + (size_t)pad;
}

/* BEGIN, PARAMS(n), PARAMS(0), STDIN(body), STDIN(0): what nginx sends */
static size_t request(uint8_t *p, size_t params, size_t body)
{
	size_t n = 0;

	n += rec(p + n, 1, 1, 8, 0);
	n += rec(p + n, 4, 1, params, (int)((8 - params % 8) % 8));
	n += rec(p + n, 4, 1, 0, 0);
	if (body)
		n += rec(p + n, 5, 1, body, 3);
	n += rec(p + n, 5, 1, 0, 0);
	return n;
}

static void test_complete_only_at_the_end(void **state)
{
	static uint8_t b[70000];
	size_t n = request(b, 300, 4000), used = 0;

	(void)state;
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(cg_fcgi_scan(b, cut, NULL), CG_FCGI_INCOMPLETE);
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_COMPLETE);
	assert_int_equal(used, n);
	/* a further request behind it (kept connection) is not counted */
	n += request(b + n, 10, 0);
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_COMPLETE);
	assert_int_equal(used, request(b, 300, 4000));
}

static void test_no_body(void **state)
{
	uint8_t b[512];
	size_t n = request(b, 100, 0), used;

	(void)state;
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_COMPLETE);
	assert_int_equal(used, n);
}

static void test_invalid(void **state)
{
	uint8_t b[512];
	size_t n;

	(void)state;
	n = request(b, 16, 0);
	b[0] = 2; /* version */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = rec(b, 4, 1, 4, 0); /* PARAMS before BEGIN */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 5, 1, 0, 0); /* STDIN before PARAMS ended */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 1, 1, 8, 0); /* two BEGINs */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 11, 1, 0, 0); /* unknown type */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	/* one stray byte is only a beginning */
	b[0] = 1;
	assert_int_equal(cg_fcgi_scan(b, 1, NULL), CG_FCGI_INCOMPLETE);
	assert_int_equal(cg_fcgi_scan(b, 0, NULL), CG_FCGI_INCOMPLETE);
}

static void test_management_and_abort(void **state)
{
	uint8_t b[512];
	size_t n = 0, used;

	(void)state;
	n += rec(b, 9, 0, 16, 0); /* GET_VALUES first */
	n += request(b + n, 20, 5);
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_COMPLETE);
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 2, 1, 0, 0); /* ABORT: handed over, libfcgi answers it */
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_COMPLETE);
	assert_int_equal(used, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_only_at_the_end),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_management_and_abort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
