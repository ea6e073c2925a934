/* Every cg_buf append says whether it fit (buf.h); here each caller in the
 * core is run with every cap from 0 to its answer's length — this build of
 * the core clamps every buffer to cg_buf_tiny (-DCG_BUF_TINY=cg_buf_tiny) —
 * and its answer must be the whole text or a clear error, never a text cut
 * short that reads as whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/decision.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/report.h"
#include "consentgate/sign.h"
#include "consentgate/vendor.h"

extern size_t cg_buf_tiny;
size_t cg_buf_tiny = SIZE_MAX;

static struct cg_config cfg;

/* one caller: appends its answer to out, returns its status */
typedef int (*caller)(struct cg_buf *out);

/* The caller's whole answer with no cap, then with every smaller cap: a
 * non-zero status each time; with the whole length as cap, the same bytes. */
static void check_caller(caller fn)
{
	struct cg_buf whole, b;

	cg_buf_tiny = SIZE_MAX;
	cg_buf_init(&whole, (size_t)1 << 20);
	assert_int_equal(fn(&whole), CG_OK);
	assert_true(whole.len > 0);
	for (size_t cap = 0; cap < whole.len; cap++) {
		cg_buf_tiny = cap;
		cg_buf_init(&b, (size_t)1 << 20);
		assert_int_not_equal(fn(&b), CG_OK);
		assert_true(b.len <= cap);
		cg_buf_free(&b);
	}
	cg_buf_tiny = whole.len;
	cg_buf_init(&b, (size_t)1 << 20);
	assert_int_equal(fn(&b), CG_OK);
	assert_int_equal(b.len, whole.len);
	assert_memory_equal(b.p, whole.p, whole.len);
	cg_buf_free(&b);
	cg_buf_free(&whole);
	cg_buf_tiny = SIZE_MAX;
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	cg_buf_tiny = SIZE_MAX;
	return cg_config_parse("[server]\nsite = shop.example\n[policy]\nversion = 2023-12\n"
	                       "allowed_origins = https://shop.example\n"
	                       "[vendor.sv]\ncategory = statistics\nhosts = vendor.example\ncookies = _sv_* sv_http\n"
	                       "[destination.ga4]\ntype = ga4\nurl = http://127.0.0.1/_ga/mp/collect\n"
	                       "measurement_id = G-TEST\napi_secret = s3cret\npurpose = statistics\n",
	                       "t", &cfg, err, sizeof err) == CG_OK ? 0 : (fprintf(stderr, "%s\n", err), -1);
}

/* ---- the callers -------------------------------------------------------- */

static int payload(struct cg_buf *out)
{
	struct cg_payload_in in = {.cfg = &cfg, .dest = &cfg.dest[0], .mode = CG_FORWARD_FULL,
	                           .client_id = "123.456", .country = "NO", .choice = {1, 1, 0},
	                           .timestamp_micros = 1700000000000000LL};
	json_t *ev = json_loads("[{\"name\":\"page_view\",\"params\":{\"page_title\":\"a \\\"b\\\"\\n\"}}]", 0, NULL);
	int rc = cg_payload_build(&in, ev, out);

	json_decref(ev);
	return rc;
}

static int ga4_merge(struct cg_buf *out)
{
	struct cg_buf one;
	char *rows[2];
	size_t taken = 0;
	int rc;

	cg_buf_init(&one, CG_PAYLOAD_MAX);
	if (payload(&one) != CG_OK) {
		cg_buf_free(&one);
		return CG_ERR_TOO_LONG; /* the cap refused the rows themselves */
	}
	rows[0] = rows[1] = one.p;
	rc = cg_ga4_merge((const char *const *)rows, 2, out, &taken);
	cg_buf_free(&one);
	return rc;
}

static int erasure_body(struct cg_buf *out)
{
	return cg_erasure_body("{\"erasure\":{\"subject_hash\":\"0123456789abcdef\",\"site\":\"shop.example\"}}", out);
}

static int vendor_list(struct cg_buf *out)
{
	char id[CG_VENDORS_ID_LEN + 1];

	return cg_vendor_list(cfg.vendors, cfg.n_vendors, "Shop AB", out, id);
}

static int vendor_write(struct cg_buf *out)
{
	return cg_vendor_write(&cfg.vendors[0], out);
}

static int config_write(struct cg_buf *out)
{
	return cg_config_write(&cfg, out);
}

static struct cg_head head_of(void)
{
	struct cg_head h;

	memset(&h, 0, sizeof h);
	h.last_id = 42;
	memset(h.hash, 'a', CG_HEX_HASH_LEN);
	strcpy(h.last_recorded_at, "2026-01-02T03:04:05.006Z");
	h.links = 42;
	strcpy(h.signed_at, "2026-01-02T03:04:06.000Z");
	strcpy(h.key_id, "k1");
	strcpy(h.site, "shop.example");
	return h;
}

static int head_payload(struct cg_buf *out)
{
	struct cg_head h = head_of();

	return cg_head_payload(&h, out);
}

static int head_sign(struct cg_buf *out)
{
	uint8_t seed[CG_SIGN_SEED_BYTES];
	struct cg_signer s;
	struct cg_head h = head_of();
	int rc;

	memset(seed, 7, sizeof seed);
	cg_signer_from_seed(seed, &s);
	rc = cg_head_sign(&s, "shop.example", &h, out);
	cg_signer_wipe(&s);
	return rc;
}

static int report(struct cg_buf *out)
{
	struct cg_report r;
	struct cg_report_row row;
	int rc;

	memset(&r, 0, sizeof r);
	memset(&row, 0, sizeof row);
	snprintf(row.period, sizeof row.period, "2026-01-02");
	snprintf(row.country, sizeof row.country, "NO");
	snprintf(row.version, sizeof row.version, "2023-12");
	row.visitors = 100;
	row.n[0] = 40;
	row.choices = 60;
	if (cg_report_add(&r, &row) != CG_OK)
		return CG_ERR_NOMEM;
	rc = cg_report_render(&r, 0, "consent", out);
	cg_report_free(&r);
	return rc;
}

static void test_collect(void **state)
{
	(void)state;
	check_caller(payload);
	check_caller(ga4_merge);
}

static void test_erasure(void **state)
{
	(void)state;
	check_caller(erasure_body);
}

static void test_vendor_and_config(void **state)
{
	(void)state;
	check_caller(vendor_list);
	check_caller(vendor_write);
	check_caller(config_write);
}

static void test_sign(void **state)
{
	(void)state;
	check_caller(head_payload);
	check_caller(head_sign);
}

static void test_report(void **state)
{
	(void)state;
	check_caller(report);
}

/* The handler's answer buffer: below the state answer's length the answer
 * is a 500, with the fixed error body when that fits and no body (and no
 * JSON content type) when even that does not. */
static void test_handler(void **state)
{
	static const struct cg_ops ops;
	static const char fallback[] = "{\"error\":\"internal\",\"detail\":\"could not build the answer\"}";
	struct cg_request r;
	struct cg_response res;
	size_t whole;

	(void)state;
	memset(&r, 0, sizeof r);
	r.method = "GET";
	r.path = "/consent";
	r.remote_addr = "192.0.2.1";
	r.now_ms = INT64_C(1795303718006);
	cg_response_init(&res);
	cg_handle(&cfg, &ops, &r, &res);
	assert_int_equal(res.status, 200);
	whole = res.body.len;
	cg_response_free(&res);
	for (size_t cap = 0; cap < whole; cap++) {
		cg_buf_tiny = cap;
		cg_response_init(&res);
		cg_handle(&cfg, &ops, &r, &res);
		assert_int_equal(res.status, 500);
		if (cap >= sizeof fallback - 1) {
			assert_string_equal(res.body.p, fallback);
			assert_string_equal(res.content_type, "application/json");
		} else {
			assert_int_equal(res.body.len, 0);
			assert_null(res.content_type);
		}
		cg_response_free(&res);
	}
	cg_buf_tiny = SIZE_MAX;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collect),
		cmocka_unit_test(test_erasure),
		cmocka_unit_test(test_vendor_and_config),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_handler),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
