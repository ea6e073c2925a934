/* The handler's plans: for every route, what it asks the shell to store
 * before its answer may go, and what that answer is — with no I/O (the
 * shell's part is in test_handler.c's fakes and the integration tests).
 * And the one table from an error answer to its status and code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/timefmt.h"

static struct cg_config cfg;
static const int64_t NOW = 1795303718006;
static int present; /* the visitor the fake store knows: 0 none, else this choice */

static int f_country(void *ctx, const struct cg_ip *ip, char cc[3])
{
	(void)ctx;
	(void)ip;
	strcpy(cc, "NO");
	return CG_OK;
}

static int f_load(void *ctx, const char *subject, struct cg_state *st)
{
	(void)ctx;
	(void)subject;
	memset(st, 0, sizeof *st);
	if (present) {
		st->present = 1;
		st->action = CG_ACT_CHOICE;
		strcpy(st->policy_version, "2023-12");
		for (int p = 0; p < CG_NPURPOSES; p++)
			st->choice[p] = present > 0;
		st->recorded_at_ms = st->choice_at_ms = NOW - 1000;
	}
	return CG_OK;
}

static int f_random(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	memset(buf, 7, n);
	return CG_OK;
}

static int f_keys(void *ctx, int64_t now, uint8_t key[32], uint8_t salt[32])
{
	(void)ctx;
	(void)now;
	memset(key, 1, 32);
	memset(salt, 2, 32);
	return CG_OK;
}

/* the known visitor's one choice (export and erase read the events) */
static int f_events(void *ctx, const char *subject, struct cg_event **evs, size_t *n)
{
	(void)ctx;
	*evs = NULL;
	*n = 0;
	if (!present)
		return CG_OK;
	if (!(*evs = calloc(1, sizeof **evs)))
		return CG_ERR_NOMEM;
	snprintf((*evs)->subject, sizeof (*evs)->subject, "%s", subject);
	cg_time_format(NOW - 1000, (*evs)->recorded_at);
	strcpy((*evs)->choice_at, (*evs)->recorded_at);
	strcpy((*evs)->policy_version, "2023-12");
	(*evs)->action = CG_ACT_CHOICE;
	for (int p = 0; p < CG_NPURPOSES; p++)
		(*evs)->choice[p] = present > 0;
	(*evs)->objection_purpose = -1;
	*n = 1;
	return CG_OK;
}

static const struct cg_ops ops = {.country = f_country, .load_state = f_load, .random = f_random,
                                  .keys = f_keys, .subject_events = f_events};

#define COOKIE "cg_id=AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"
#define ALL "{\"choices\":{\"preferences\":true,\"statistics\":true,\"marketing\":true},\"policy_version\":\"2023-12\"}"
#define EVENTS "{\"events\":[{\"name\":\"page_view\"}]}"

/* one request: what it plans to store, and the answer */
struct row {
	const char *method, *path, *body, *cookie;
	int known;                 /* the fake store knows the visitor: 1 consented, -1 refused */
	int status;
	int event;                 /* -1: no event planned; else its action */
	int rows;                  /* outbox rows planned: 0, or 1 = some */
};

static const struct row rows[] = {
	{"POST", "/consent", ALL, NULL, 0, 200, CG_ACT_CHOICE, 0},
	{"POST", "/consent", ALL, COOKIE, 1, 200, CG_ACT_CHOICE, 0},
	{"DELETE", "/consent", NULL, COOKIE, 1, 200, CG_ACT_WITHDRAW, 0},
	{"POST", "/consent/objection", "{\"purpose\":\"statistics\"}", COOKIE, 1, 200, CG_ACT_OBJECTION, 0},
	{"POST", "/consent/erase", NULL, COOKIE, 1, 200, CG_ACT_ERASE, 1},   /* + a notice to the webhook */
	{"POST", "/consent/erase", NULL, COOKIE, -1, 200, CG_ACT_ERASE, 0},  /* never granted: no pseudonym left */
	{"POST", "/consent/erase", NULL, NULL, 0, 200, -1, 0},         /* nothing to erase */
	{"POST", "/collect", EVENTS, COOKIE, 1, 204, -1, 1},            /* consent + legitimate interest */
	{"POST", "/collect", EVENTS, COOKIE, -1, 204, -1, 0},           /* refused: nothing may go */
	{"POST", "/collect", EVENTS, NULL, 0, 204, -1, 1},              /* no choice: minimised, LI only */
	{"GET", "/consent", NULL, COOKIE, 1, 200, -1, 0},
	{"GET", "/consent/check?", NULL, COOKIE, 1, 400, -1, 0},        /* no purpose */
	{"GET", "/consent/export", NULL, COOKIE, 1, 200, -1, 0},
	{"GET", "/consent/healthz", NULL, NULL, 0, 200, -1, 0},
	/* error answers plan nothing */
	{"POST", "/consent", "{", NULL, 0, 400, -1, 0},
	{"POST", "/consent", "{\"choices\":{},\"policy_version\":\"1999-01\"}", NULL, 0, 400, -1, 0},
	{"POST", "/consent", "{\"choices\":{\"preferences\":true,\"statistics\":true,\"marketing\":true},"
	                     "\"policy_version\":\"1999-01\"}", NULL, 0, 409, -1, 0},
	{"POST", "/collect", "{\"events\":[]}", NULL, 0, 400, -1, 0},
	{"PUT", "/consent", ALL, NULL, 0, 405, -1, 0},
	{"GET", "/nowhere", NULL, NULL, 0, 404, -1, 0},
};

static void handle(const struct row *r, struct cg_response *res)
{
	struct cg_request req;
	const char *q = r->path ? strchr(r->path, '?') : NULL;
	char path[64];

	snprintf(path, sizeof path, "%.*s", q ? (int)(q - r->path) : (int)strlen(r->path), r->path);
	memset(&req, 0, sizeof req);
	req.method = r->method;
	req.path = path;
	req.query = q ? q + 1 : NULL;
	req.body = r->body;
	req.body_len = r->body ? strlen(r->body) : 0;
	req.content_type = r->body ? "application/json" : NULL;
	req.cookie = r->cookie;
	req.remote_addr = "192.0.2.77";
	req.now_ms = NOW;
	present = r->known;
	cg_response_init(res);
	cg_handle(&cfg, &ops, &req, res);
}

static void test_every_route_plan(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		struct cg_response res;
		handle(r, &res);
		if (res.status != r->status || res.plan.has_event != (r->event >= 0) ||
		    (r->event >= 0 && res.plan.event.action != r->event) || (res.plan.nrows > 0) != r->rows ||
		    cg_response_needs_store(&res) != (r->event >= 0 || r->rows))
			fail_msg("%s %s (row %zu): status %d, event %d (action %d), rows %zu", r->method, r->path, i,
			         res.status, res.plan.has_event, res.plan.event.action, res.plan.nrows);
		/* a planned row's payload belongs to the plan */
		for (size_t k = 0; k < res.plan.nrows; k++)
			assert_ptr_equal(res.plan.rows[k].payload, res.plan.payloads[k].p);
		cg_response_free(&res);
	}
}

/* The answer planned for a commit that then fails: the storage error, with
 * its Retry-After, and without the cookies the success would have set. */
static void test_failed_store_answer(void **state)
{
	struct cg_response res;

	(void)state;
	handle(&rows[0], &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.n_cookies, 2);
	cg_response_store_failed(&res);
	assert_int_equal(res.status, 503);
	assert_int_equal(res.retry_after, 5);
	assert_int_equal(res.n_cookies, 0);
	assert_non_null(strstr(res.body.p, "\"error\":\"storage\""));
	assert_non_null(strstr(res.body.p, "the choice could not be stored"));
	cg_response_free(&res);
	handle(&rows[7], &res);   /* the first /collect */
	cg_response_store_failed(&res);
	assert_non_null(strstr(res.body.p, "the events could not be queued"));
	cg_response_free(&res);
}

/* Every error code has one status, and the response says both. */
static void test_answer_table(void **state)
{
	static const int allowed[] = {400, 403, 404, 405, 409, 413, 415, 429, 503};

	(void)state;
	for (int a = 0; a < CG_NANSWERS; a++) {
		struct cg_response res;
		char want[64];
		int known = 0;
		for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
			known |= cg_answer_status(a) == allowed[k];
		if (!known || strncmp(cg_status_line(cg_answer_status(a)), "500", 3) == 0)
			fail_msg("answer %d has status %d", a, cg_answer_status(a));
		for (int b = 0; b < a; b++)
			if (strcmp(cg_answer_code(a), cg_answer_code(b)) == 0)
				fail_msg("answers %d and %d share the code %s", a, b, cg_answer_code(a));
		cg_response_init(&res);
		cg_response_error(&res, a, "why");
		snprintf(want, sizeof want, "{\"error\":\"%s\",\"detail\":\"why\"}", cg_answer_code(a));
		assert_string_equal(res.body.p, want);
		assert_int_equal(res.status, cg_answer_status(a));
		assert_int_equal(res.retry_after != 0, res.status == 503);
		cg_response_free(&res);
	}
	assert_int_equal(cg_answer_status(CG_NANSWERS), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_plan),
		cmocka_unit_test(test_failed_store_answer),
		cmocka_unit_test(test_answer_table),
	};
	char err[256];

	if (cg_config_parse("[server]\nsite = shop.example\n[policy]\nversion = 2023-12\ncookie_secure = false\n"
	                    "[destination.ga4]\ntype = ga4\nurl = http://127.0.0.1/_ga/mp/collect\n"
	                    "measurement_id = G-TEST\napi_secret = s3cret\npurpose = statistics\n"
	                    "[destination.li]\ntype = webhook\nurl = http://127.0.0.1/_hook\n"
	                    "purpose = statistics\nbasis = legitimate_interest\n", "t", &cfg, err, sizeof err) != CG_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
