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
	/* ABORT: libfcgi never takes it for the request's end (it would read
	 * on, and wait, on the loop's thread): the connection is closed */
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 2, 1, 0, 0);
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_INVALID);
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 4, 1, 20, 4);
	n += rec(b + n, 2, 1, 0, 0); /* in the middle of the params */
	assert_int_equal(cg_fcgi_scan(b, n, &used), CG_FCGI_INVALID);
}

/* A record of another request: libfcgi skips it and reads on, so it can
 * never end this one (an empty STDIN of request 2 would have the loop's
 * thread wait in libfcgi for request 1's) */
static void test_other_request(void **state)
{
	uint8_t b[512];
	size_t n;

	(void)state;
	n = request(b, 16, 0);
	b[n - 8 + 3] = 2; /* the empty STDIN's id */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = request(b, 16, 0);
	b[n - 16 + 3] = 2; /* the empty PARAMS' id */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = request(b, 16, 5);
	b[16 + 2] = 0x01; /* the first PARAMS: id 0x0101 */
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_INVALID);
	n = request(b, 16, 0);
	b[2] = 0x12; /* id 0x1201 throughout: fine */
	for (size_t off = 8 + 8; off < n; off += 8 + (size_t)(b[off + 4] << 8 | b[off + 5]) + b[off + 6])
		b[off + 2] = 0x12;
	assert_int_equal(cg_fcgi_scan(b, n, NULL), CG_FCGI_COMPLETE);
}

/* id and FCGI_KEEP_CONN of the BEGIN_REQUEST, after management records */
static void test_begin(void **state)
{
	uint8_t b[512];
	unsigned id = 0;
	int keep = -1;
	size_t n = rec(b, 9, 0, 13, 3); /* GET_VALUES (padded) first */

	(void)state;
	n += rec(b + n, 1, 0x1234, 8, 0);
	b[n - 6] = 1; /* flags: FCGI_KEEP_CONN */
	assert_int_equal(cg_fcgi_begin(b, n, &id, &keep), 0);
	assert_int_equal(id, 0x1234);
	assert_int_equal(keep, 1);
	b[n - 6] = 0;
	assert_int_equal(cg_fcgi_begin(b, n, &id, &keep), 0);
	assert_int_equal(keep, 0);
	assert_int_equal(cg_fcgi_begin(b, n - 1, &id, &keep), -1); /* its content cut */
	assert_int_equal(cg_fcgi_begin(b, 24, &id, &keep), -1);    /* only the management record */
	b[0] = 2;
	assert_int_equal(cg_fcgi_begin(b, n, &id, &keep), -1);
}

/* the answer's records, byte for byte; a text over one record's 65535 */
static void test_answer(void **state)
{
	static const uint8_t want[] = {
		1, 6, 0, 7, 0, 3, 0, 0, 'a', 'b', 'c', /* STDOUT "abc" */
		1, 6, 0, 7, 0, 0, 0, 0,                /* STDOUT, empty */
		1, 3, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* END_REQUEST, complete */
	};
	static char big[70000];
	static uint8_t out[70100];
	uint8_t small[64];
	size_t n;

	(void)state;
	assert_int_equal(cg_fcgi_answer(7, "abc", 3, small, sizeof small), sizeof want);
	assert_memory_equal(small, want, sizeof want);
	assert_int_equal(cg_fcgi_answer(7, "abc", 3, small, sizeof want - 1), 0);
	memset(big, 'z', sizeof big);
	n = cg_fcgi_answer(1, big, sizeof big, out, sizeof out);
	assert_int_equal(n, sizeof big + 4 * 8 + 8);
	assert_int_equal(out[4] << 8 | out[5], 65535);
	assert_int_equal(out[8 + 65535 + 4] << 8 | out[8 + 65535 + 5], sizeof big - 65535);
	assert_int_equal(out[8 + 65535 + 1], 6);
}

/* Feeds a whole request to the skipper in pieces of at most `step` bytes
 * (never more than it wants); returns the bytes taken when it completed. */
static size_t skip_all(const uint8_t *b, size_t len, size_t step)
{
	struct cg_fcgi_skip s;
	size_t off = 0;

	memset(&s, 0, sizeof s);
	while (off < len) {
		size_t want = cg_fcgi_skip_want(&s), n = want < step ? want : step;
		int r;

		assert_true(want > 0);
		if (n > len - off)
			n = len - off;
		r = cg_fcgi_skip(&s, n, b + off);
		off += n;
		if (r == CG_FCGI_COMPLETE)
			return off;
		assert_int_equal(r, CG_FCGI_INCOMPLETE);
	}
	return 0;
}

/* the skipper stops exactly at the request's end, however the bytes come */
static void test_skip_to_the_end(void **state)
{
	static uint8_t b[70000];
	size_t n = request(b, 300, 4000), two;
	struct cg_fcgi_skip s;

	(void)state;
	two = n + request(b + n, 10, 0); /* the next request on a kept connection */
	assert_int_equal(skip_all(b, two, 1), n);
	assert_int_equal(skip_all(b, two, 5), n);
	assert_int_equal(skip_all(b, two, 100000), n);
	assert_int_equal(skip_all(b, n - 1, 100000), 0); /* not yet */
	n = rec(b, 1, 1, 8, 0);
	n += rec(b + n, 2, 1, 0, 0); /* ABORT ends it too */
	assert_int_equal(skip_all(b, n + 8, 100000), n);
	memset(&s, 0, sizeof s);
	b[0] = 2;
	assert_int_equal(cg_fcgi_skip(&s, 8, b), CG_FCGI_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_only_at_the_end),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_management_and_abort),
		cmocka_unit_test(test_other_request),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_skip_to_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
