/* The request handler against fake ops: every status, cookie and stored
 * field decided by the core, with no FastCGI, SQLite or GeoIP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/handler.h"
#include "consentgate/id.h"

#define NOW INT64_C(1795303718006)
#define DAY CG_MS_PER_DAY

/* ---- fakes ---- */
struct fake {
	struct cg_event events[64];
	int n;
	int fail_commit, fail_load;
	unsigned char rnd;
};
static struct fake F;
static struct cg_config cfg;

static int f_country(void *ctx, const struct cg_ip *ip, char cc[3])
{
	(void)ctx;
	if (ip->family == 4 && ip->a[0] == 192 && ip->a[1] == 0 && ip->a[2] == 2) {
		strcpy(cc, "NO");
		return CG_OK;
	}
	cc[0] = '\0';
	return CG_ERR_NOT_FOUND;
}

static int f_load(void *ctx, const char *subject, struct cg_state *st)
{
	(void)ctx;
	memset(st, 0, sizeof *st);
	if (F.fail_load)
		return CG_ERR_STORAGE;
	for (int i = F.n - 1; i >= 0; i--) {
		const struct cg_event *ev = &F.events[i];
		if (strcmp(ev->subject, subject) != 0)
			continue;
		st->present = 1;
		st->action = ev->action;
		strcpy(st->policy_version, ev->policy_version);
		memcpy(st->choice, ev->choice, sizeof st->choice);
		st->objections = ev->objections;
		cg_time_parse(ev->recorded_at, &st->recorded_at_ms);
		if (ev->choice_at[0])
			cg_time_parse(ev->choice_at, &st->choice_at_ms);
		break;
	}
	return CG_OK;
}

/* The shell's part of a plan, as the daemon does it: the batch (event,
 * rows) stored, or the answer turned into the storage error. */
static int f_store(struct cg_plan *p)
{
	if (p->has_event && F.fail_commit)
		return CG_ERR_STORAGE;
	if (p->has_event) {
		p->event.id = F.n + 1;
		F.events[F.n++] = p->event;
	}
	return CG_OK;
}

static int f_random(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		((unsigned char *)buf)[i] = F.rnd++;
	return CG_OK;
}

struct fake_row {
	struct cg_outbox_row row;
	char payload[8192];
};
static struct fake_row OB[32];
static int nob, fail_outbox;

static int f_outbox(const struct cg_outbox_row *rows, size_t n)
{
	if (fail_outbox)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < n && nob < 32; i++) {
		OB[nob].row = rows[i];
		snprintf(OB[nob].payload, sizeof OB[nob].payload, "%s", rows[i].payload);
		nob++;
	}
	return CG_OK;
}

static int f_keys(void *ctx, int64_t now, uint8_t key[32], uint8_t salt[32])
{
	(void)ctx;
	memset(key, 0x11, 32);
	memset(salt, (int)(now / CG_MS_PER_DAY) & 0xff, 32);
	return CG_OK;
}

#define CUR "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   /* the build in service */
#define OLD "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"   /* a retired one */
#define NOTICE "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6"
#define OLD_NOTICE "9999999999999999999999999999999999999999999999999999999999999999"

static void f_shown_now(void *ctx, char build[33], char notice[65])
{
	(void)ctx;
	strcpy(build, CUR);
	strcpy(notice, NOTICE);
}

/* the retired build was served with the notice of its time */
static int f_build_status(void *ctx, const char *build, char notice_then[65])
{
	(void)ctx;
	strcpy(notice_then, strcmp(build, OLD) == 0 ? OLD_NOTICE : "");
	return strcmp(build, CUR) == 0 ? CG_BUILD_CURRENT : strcmp(build, OLD) == 0 ? CG_BUILD_RETIRED : CG_BUILD_UNKNOWN;
}

#define OLD_LIST "5555555555555555555555555555555555555555555555555555555555555555"   /* a retired vendor list */

/* the lists the store knows besides the configuration's: one retired */
static int f_vendors_status(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, OLD_LIST) == 0 ? CG_BUILD_RETIRED : CG_BUILD_UNKNOWN;
}

static const struct cg_ops ops = {
	.country = f_country, .load_state = f_load, .random = f_random, .keys = f_keys,
	.shown_now = f_shown_now, .build_status = f_build_status, .vendors_status = f_vendors_status,
};

/* ---- helpers ---- */
static struct cg_response res;
static json_t *body;
static char cookie_hdr[128];

static struct cg_request base(const char *method, const char *path, const char *json)
{
	struct cg_request r;

	memset(&r, 0, sizeof r);
	r.method = method;
	r.path = path;
	r.content_type = json ? "application/json" : NULL;
	r.body = json;
	r.body_len = json ? strlen(json) : 0;
	r.remote_addr = "192.0.2.77";
	r.now_ms = NOW;
	return r;
}

static void run(const struct cg_request *r)
{
	json_error_t e;

	cg_response_free(&res);
	json_decref(body);
	cg_response_init(&res);
	cg_handle(&cfg, &ops, r, &res);
	/* the plan carried out: the answer stands only if the batch is stored */
	if (cg_response_needs_store(&res) &&
	    (f_store(&res.plan) != CG_OK || (res.plan.nrows && f_outbox(res.plan.rows, res.plan.nrows) != CG_OK)))
		cg_response_store_failed(&res);
	body = res.body.len ? json_loadb(res.body.p, res.body.len, 0, &e) : NULL;
}

static const char *jstr(const char *key)
{
	return json_string_value(json_object_get(body, key));
}

static int choice_of(const char *purpose)
{
	json_t *v = json_object_get(json_object_get(body, "choices"), purpose);
	return json_is_null(v) ? -1 : json_is_true(v);
}

/* the id cookie value of the last response, as a Cookie header */
static const char *cookie_from_response(void)
{
	const char *v = strstr(res.set_cookie[0], "cg_id=");

	assert_non_null(v);
	snprintf(cookie_hdr, sizeof cookie_hdr, "cg_id=%.*s", CG_ID_LEN, v + 6);
	return cookie_hdr;
}

#define CHOICE(p, s, m) "{\"choices\":{\"preferences\":" p ",\"statistics\":" s \
	",\"marketing\":" m "},\"policy_version\":\"2023-12\",\"lang\":\"sv\"," \
	"\"page\":\"https://shop.example/a?q=secret#frag\"}"

static int setup(void **state)
{
	char err[256];

	(void)state;
	memset(&F, 0, sizeof F);
	nob = 0;
	fail_outbox = 0;
	assert_int_equal(cg_config_parse("[server]\nsite = shop.example\n[policy]\nversion = 2023-12\n"
	                                 "allowed_origins = https://shop.example\ncookie_secure = false\n"
	                                 "[destination.ga4]\ntype = ga4\nurl = http://127.0.0.1/_ga/mp/collect\n"
	                                 "measurement_id = G-TEST\napi_secret = s3cret\npurpose = statistics\n"
	                                 "[destination.li]\ntype = webhook\nurl = http://127.0.0.1/_hook\n"
	                                 "purpose = statistics\nbasis = legitimate_interest\n",
	                                 "t", &cfg, err, sizeof err), CG_OK);
	cg_response_init(&res);
	body = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cg_response_free(&res);
	json_decref(body);
	body = NULL;
	return 0;
}

/* ---- tests ---- */

static void test_choice_recorded(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "false", "false"));
	const struct cg_event *ev;

	(void)state;
	r.sec_gpc = "1";
	r.sec_fetch_site = "same-origin";
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.n, 1);
	ev = &F.events[0];
	assert_int_equal(ev->action, CG_ACT_CHOICE);
	assert_string_equal(ev->ip_prefix, "192.0.2.0/24");
	assert_string_equal(ev->country, "NO");
	assert_string_equal(ev->page, "https://shop.example/a");
	assert_string_equal(ev->lang, "sv");
	assert_int_equal(ev->gpc, 1);
	assert_int_equal(ev->dnt, 0);
	assert_int_equal(ev->choice[CG_PREFERENCES], 1);
	assert_int_equal(ev->choice[CG_STATISTICS], 0);
	assert_string_equal(ev->recorded_at, "2026-11-21T23:28:38.006Z");
	assert_string_equal(ev->choice_at, ev->recorded_at);
	assert_int_equal(strlen(ev->salt), CG_SALT_LEN);
	assert_int_equal(strlen(ev->subject), CG_SUBJECT_LEN);
	/* cookies */
	assert_int_equal(res.n_cookies, 2);
	assert_non_null(strstr(res.set_cookie[0], "; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax"));
	assert_null(strstr(res.set_cookie[0], "Secure"));
	assert_string_equal(res.set_cookie[1],
	                    "cg_state=v=2023-12&p=1&s=0&m=0&t=1795303718; Max-Age=31536000; Path=/; SameSite=Lax");
	/* the subject stored is the hash of the id in the cookie, not the id */
	{
		char subj[CG_SUBJECT_LEN + 1];
		cookie_from_response();
		cg_id_subject(cookie_hdr + 6, subj);
		assert_string_equal(subj, ev->subject);
	}
	assert_true(res.no_store);
	assert_int_equal(choice_of("preferences"), 1);
	assert_int_equal(choice_of("necessary"), 1);
	assert_false(json_is_true(json_object_get(body, "needs_choice")));
	assert_string_equal(jstr("expires_at"), "2027-11-21T23:28:38.006Z");
}

static void test_secure_cookies(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("false", "false", "false"));

	(void)state;
	cfg.cookie_secure = 1;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_non_null(strstr(res.set_cookie[0], "__Host-cg_id="));
	assert_non_null(strstr(res.set_cookie[0], "; Secure"));
	assert_non_null(strstr(res.set_cookie[0], "Path=/"));
	assert_null(strstr(res.set_cookie[0], "Domain"));
	/* refusal lifetime: 180 days */
	assert_non_null(strstr(res.set_cookie[0], "Max-Age=15552000"));
	assert_non_null(strstr(res.set_cookie[1], "; Secure"));
	assert_null(strstr(res.set_cookie[1], "HttpOnly"));
}

static void test_same_visitor_keeps_id(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));
	char first[CG_SUBJECT_LEN + 1];

	(void)state;
	run(&r);
	strcpy(first, F.events[0].subject);
	r = base("POST", "/consent", CHOICE("false", "false", "false"));
	r.cookie = cookie_from_response();
	r.now_ms = NOW + 1000;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.n, 2);
	assert_string_equal(F.events[1].subject, first);
	/* a malformed id cookie is replaced by a fresh one */
	r.cookie = "cg_id=not-a-valid-id";
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_not_equal(F.events[2].subject, first);
}

/* An erased visitor's consent ID is never taken again: a client that
 * still sends it (the erasure's Set-Cookie ignored, a request already on
 * its way) gets a fresh one. Under the old ID its new choices would join
 * the erased record's subject, and the destinations would receive the
 * very pseudonym they were told to erase. */
static void test_erased_id_not_reused(void **state)
{
	static const char *const routes[][2] = {
		{"POST", "/consent"}, {"DELETE", "/consent"}, {"POST", "/consent/objection"}};
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));
	char erased[CG_SUBJECT_LEN + 1], old_cookie[128];

	(void)state;
	run(&r);
	strcpy(erased, F.events[0].subject);
	snprintf(old_cookie, sizeof old_cookie, "%s", cookie_from_response());
	cg_event_tombstone(erased, NOW + 500, &F.events[F.n++]);
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const char *json = i == 0 ? CHOICE("true", "true", "true") : i == 2 ? "{\"purpose\":\"statistics\"}" : NULL;

		r = base(routes[i][0], routes[i][1], json);
		r.cookie = old_cookie;
		r.now_ms = NOW + 1000;
		run(&r);
		assert_int_equal(res.status, 200);
		assert_string_not_equal(F.events[F.n - 1].subject, erased);
		assert_null(strstr(res.set_cookie[0], old_cookie));
	}
	r = base("GET", "/consent", NULL);
	r.cookie = old_cookie;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_false(json_is_true(json_object_get(body, "consent_id_present")));
}

static void test_stale_policy(void **state)
{
	struct cg_request r = base("POST", "/consent",
		"{\"choices\":{\"preferences\":true,\"statistics\":true,\"marketing\":true},"
		"\"policy_version\":\"2022-01\"}");

	(void)state;
	run(&r);
	assert_int_equal(res.status, 409);
	assert_string_equal(jstr("error"), "stale_policy");
	assert_string_equal(jstr("current"), "2023-12");
	assert_int_equal(F.n, 0);
	assert_int_equal(res.n_cookies, 0);
}

/* what was shown: the named build, or the served one asserted; never
 * served: 400; retired: 409 unless the choice grants nothing, and then
 * recorded with the notice served with it, not today's */
#define WITH(b, grant) "{\"choices\":{\"preferences\":" grant ",\"statistics\":false,\"marketing\":false}," \
	"\"policy_version\":\"2023-12\"" b "}"
static void test_what_was_shown(void **state)
{
	struct cg_request r = base("POST", "/consent", WITH(",\"banner\":\"" CUR "\"", "true"));

	(void)state;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(F.events[F.n - 1].banner, "build=" CUR ";notice=" NOTICE);
	r = base("POST", "/consent", WITH("", "true"));
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(F.events[F.n - 1].banner, "build=" CUR ";notice=" NOTICE ";asserted");
	r = base("POST", "/consent", WITH(",\"banner\":\"cccccccccccccccccccccccccccccccc\"", "false"));
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("field"), "banner");
	r = base("POST", "/consent", WITH(",\"banner\":\"" OLD "\"", "true"));
	run(&r);
	assert_int_equal(res.status, 409);
	assert_string_equal(jstr("error"), "stale_banner");
	assert_string_equal(jstr("current_build"), CUR);
	assert_int_equal(F.n, 2);
	r = base("POST", "/consent", WITH(",\"banner\":\"" OLD "\"", "false"));
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(F.events[F.n - 1].banner, "build=" OLD ";notice=" OLD_NOTICE);
}

/* page: kept only on the site's own hosts ([policy] allowed_origins, or the
 * request's Host without one); elsewhere, or not a URL, recorded as none —
 * never refused */
static void test_page_on_own_hosts(void **state)
{
	static const struct {
		const char *page, *host;
		int origins;
		const char *kept;
	} cases[] = {
		{"https://shop.example/a?q=1", NULL, 1, "https://shop.example/a"},
		{"https://shop.example:443/a", NULL, 1, "https://shop.example:443/a"},
		{"http://shop.example/a", NULL, 1, ""},                  /* another origin: the scheme */
		{"https://evil.example/a", NULL, 1, ""},
		{"https://shop.example.evil.example/a", NULL, 1, ""},
		{"https://user@evil.example/a", NULL, 1, ""},
		{"javascript:alert(1)", NULL, 1, ""},
		{"https://Shop.Example:8443/b", "shop.example:8443", 0, "https://shop.example:8443/b"},
		{"http://shop.example/b", "shop.example", 0, "http://shop.example/b"},
		{"https://shop.example/b", "other.example", 0, ""},
		{"https://shop.example/b", NULL, 0, ""},                 /* no Host, no list */
	};
	char body_s[512], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cg_request r;
		if (!cases[i].origins)
			assert_int_equal(cg_config_parse("[server]\nsite = shop.example\n[policy]\nversion = 2023-12\n"
			                                 "cookie_secure = false\n", "t", &cfg, err, sizeof err), CG_OK);
		snprintf(body_s, sizeof body_s, "{\"choices\":{\"preferences\":false,\"statistics\":false,"
		         "\"marketing\":false},\"policy_version\":\"2023-12\",\"page\":\"%s\"}", cases[i].page);
		r = base("POST", "/consent", body_s);
		r.host = cases[i].host;
		run(&r);
		assert_int_equal(res.status, 200);
		assert_string_equal(F.events[F.n - 1].page, cases[i].kept);
	}
}

static void test_bad_requests_store_nothing(void **state)
{
	struct cg_request r;

	(void)state;
	r = base("POST", "/consent", "{\"choices\":{}}");
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("error"), "bad_field");
	assert_string_equal(jstr("field"), "policy_version");

	r = base("POST", "/consent", "{oops");
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("error"), "bad_json");

	r = base("POST", "/consent", CHOICE("true", "true", "true"));
	r.content_type = "text/plain";
	run(&r);
	assert_int_equal(res.status, 415);
	r.content_type = "application/json; charset=utf-8";
	r.body_too_large = 1;
	run(&r);
	assert_int_equal(res.status, 413);
	assert_string_equal(jstr("error"), "too_large");
	r.body_too_large = 0;
	r.body_incomplete = 1;
	run(&r);
	assert_int_equal(res.status, 400);
	r.body_incomplete = 0;
	r.body_bad_length = 1;
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("error"), "bad_body");

	r = base("POST", "/consent/objection", "{\"purpose\":\"ads\"}");
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("field"), "purpose");
	assert_int_equal(F.n, 0);
}

static void test_cross_site(void **state)
{
	static const struct { const char *site, *origin; int status; } cases[] = {
		{"same-origin", NULL, 200}, {"none", NULL, 200},
		{"same-site", NULL, 403}, {"cross-site", NULL, 403}, {"bogus", NULL, 403},
		/* Sec-Fetch-Site decides even when Origin is fine */
		{"cross-site", "https://shop.example", 403},
		{NULL, "https://shop.example", 200}, {NULL, "https://evil.example", 403},
		{NULL, "null", 403}, {NULL, NULL, 200},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *methods[] = {"POST", "DELETE"};
		for (int m = 0; m < 2; m++) {
			struct cg_request r = base(methods[m], "/consent",
			                           m ? NULL : CHOICE("true", "true", "true"));
			int before = F.n;
			r.sec_fetch_site = cases[i].site;
			r.origin = cases[i].origin;
			run(&r);
			if (res.status != cases[i].status)
				fail_msg("%s site=%s origin=%s: %d", methods[m], cases[i].site,
				         cases[i].origin, res.status);
			if (cases[i].status == 403) {
				assert_string_equal(jstr("error"), "cross_site");
				assert_int_equal(F.n, before);
			}
		}
	}
	/* reading is never refused */
	{
		struct cg_request r = base("GET", "/consent", NULL);
		r.sec_fetch_site = "cross-site";
		run(&r);
		assert_int_equal(res.status, 200);
	}
}

static void test_duplicate_cookie(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));

	(void)state;
	r.cookie = "cg_id=AAAAAAAAAAAAAAAAAAAAAA; cg_id=AAAAAAAAAAAAAAAAAAAAAQ";
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("error"), "bad_cookie");
	r.cookie = "cg_id=AAAAAAAAAAAAAAAAAAAAAA";
	r.cookie_dup = 1;
	run(&r);
	assert_int_equal(res.status, 400);
	r.method = "GET";
	run(&r);
	assert_int_equal(res.status, 400);
	assert_int_equal(F.n, 0);
}

static void test_storage_failure(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));

	(void)state;
	F.fail_commit = 1;
	run(&r);
	assert_int_equal(res.status, 503);
	assert_int_equal(res.retry_after, 5);
	assert_string_equal(jstr("error"), "storage");
	assert_int_equal(res.n_cookies, 0); /* no success cookie for an unstored choice */
	F.fail_commit = 0;
	run(&r);
	r.cookie = cookie_from_response();
	F.fail_load = 1;
	run(&r);
	assert_int_equal(res.status, 503);
	r.method = "GET";
	run(&r);
	assert_int_equal(res.status, 503);
}

static void test_get_state(void **state)
{
	struct cg_request r = base("GET", "/consent", NULL);
	const char *ck;

	(void)state;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_false(json_is_true(json_object_get(body, "consent_id_present")));
	assert_true(json_is_true(json_object_get(body, "needs_choice")));
	assert_true(json_is_null(json_object_get(body, "recorded_at")));

	r = base("POST", "/consent", CHOICE("false", "true", "false"));
	run(&r);
	ck = cookie_from_response();
	r = base("GET", "/consent", NULL);
	r.cookie = ck;
	r.now_ms = NOW + 10 * DAY;
	run(&r);
	assert_true(json_is_true(json_object_get(body, "consent_id_present")));
	assert_false(json_is_true(json_object_get(body, "needs_choice")));
	assert_int_equal(choice_of("statistics"), 1);
	assert_string_equal(jstr("policy_version"), "2023-12");
	/* expired after consent_max_age_days */
	r.now_ms = NOW + 365 * DAY;
	run(&r);
	assert_true(json_is_true(json_object_get(body, "needs_choice")));
	/* stale after a policy bump */
	r.now_ms = NOW + DAY;
	strcpy(cfg.policy_version, "2024-06");
	run(&r);
	assert_true(json_is_true(json_object_get(body, "needs_choice")));
	assert_string_equal(jstr("current_policy_version"), "2024-06");
	/* HEAD behaves like GET; GETs never write */
	r.method = "HEAD";
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.n, 1);
}

/* The state answer's exact bytes (written without a JSON tree): jansson's
 * compact output of the same object, keys in this order. */
static void test_state_answer_bytes(void **state)
{
	struct cg_request r = base("GET", "/consent", NULL);
	char want[1024];

	(void)state;
	run(&r);
	assert_string_equal(res.body.p,
	                    "{\"consent_id_present\":false,\"choices\":{\"necessary\":true,\"preferences\":false,"
	                    "\"statistics\":false,\"marketing\":false},\"objections\":[],\"policy_version\":null,"
	                    "\"current_policy_version\":\"2023-12\",\"recorded_at\":null,\"expires_at\":null,"
	                    "\"needs_choice\":true}");
	r = base("POST", "/consent", CHOICE("true", "false", "true"));
	run(&r);
	snprintf(want, sizeof want,
	         "{\"consent_id_present\":true,\"choices\":{\"necessary\":true,\"preferences\":true,"
	         "\"statistics\":false,\"marketing\":true},\"objections\":[],\"policy_version\":\"2023-12\","
	         "\"current_policy_version\":\"2023-12\",\"recorded_at\":\"%s\",\"expires_at\":\"%s\","
	         "\"needs_choice\":false}", "2026-11-21T23:28:38.006Z", "2027-11-21T23:28:38.006Z");
	assert_string_equal(res.body.p, want);
	r = base("POST", "/consent/objection", "{\"purpose\":\"marketing\"}");
	r.cookie = cookie_from_response();
	run(&r);
	r = base("POST", "/consent/objection", "{\"purpose\":\"preferences\"}");
	r.cookie = cookie_hdr;
	run(&r);
	r = base("GET", "/consent", NULL);
	r.cookie = cookie_hdr;
	strcpy(cfg.policy_version, "2024 \"q\"\\");
	run(&r);
	assert_string_equal(res.body.p,
	                    "{\"consent_id_present\":true,\"choices\":{\"necessary\":true,\"preferences\":false,"
	                    "\"statistics\":false,\"marketing\":false},\"objections\":[\"preferences\",\"marketing\"],"
	                    "\"policy_version\":\"2023-12\",\"current_policy_version\":\"2024 \\\"q\\\"\\\\\","
	                    "\"recorded_at\":\"2026-11-21T23:28:38.006Z\",\"expires_at\":\"2027-05-20T23:28:38.006Z\","
	                    "\"needs_choice\":true}");
}

static void test_withdraw_and_objection(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));
	const char *ck;

	(void)state;
	run(&r);
	ck = cookie_from_response();

	r = base("POST", "/consent/objection", "{\"purpose\":\"statistics\"}");
	r.cookie = ck;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.events[1].action, CG_ACT_OBJECTION);
	assert_int_equal(F.events[1].objection_purpose, CG_STATISTICS);
	assert_int_equal(F.events[1].objections, 1u << CG_STATISTICS);
	/* objecting ends the consent to that purpose, keeps the others */
	assert_int_equal(F.events[1].choice[CG_STATISTICS], 0);
	assert_int_equal(F.events[1].choice[CG_MARKETING], 1);
	assert_string_equal(F.events[1].choice_at, F.events[0].choice_at);
	assert_string_equal(json_string_value(json_array_get(json_object_get(body, "objections"), 0)),
	                    "statistics");

	r = base("DELETE", "/consent", NULL);
	r.cookie = ck;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.events[2].action, CG_ACT_WITHDRAW);
	for (int p = 0; p < CG_NPURPOSES; p++)
		assert_int_equal(F.events[2].choice[p], 0);
	assert_int_equal(F.events[2].objections, 1u << CG_STATISTICS);
	assert_int_equal(choice_of("marketing"), 0);
	assert_false(json_is_true(json_object_get(body, "needs_choice")));
	assert_non_null(strstr(res.set_cookie[1], "p=0&s=0&m=0"));

	/* granting statistics again lifts the objection */
	r = base("POST", "/consent", CHOICE("false", "true", "false"));
	r.cookie = ck;
	run(&r);
	assert_int_equal(F.events[3].objections, 0);

	/* an objection from a visitor without a choice gets an id and no cg_state */
	r = base("POST", "/consent/objection", "{\"purpose\":\"marketing\"}");
	run(&r);
	assert_int_equal(res.status, 200);
	assert_int_equal(F.events[4].choice[0], CG_TRI_NULL);
	assert_int_equal(res.n_cookies, 1);
	assert_true(json_is_true(json_object_get(body, "needs_choice")));
	assert_int_equal(choice_of("marketing"), -1);
}

static void test_ip_handling(void **state)
{
	struct cg_request r = base("POST", "/consent", CHOICE("true", "true", "true"));

	(void)state;
	r.remote_addr = "2001:db8:1:2:3:4:5:6";
	run(&r);
	assert_string_equal(F.events[0].ip_prefix, "2001:db8:1::/48");
	assert_string_equal(F.events[0].country, "");
	r.remote_addr = "::ffff:192.0.2.200";
	run(&r);
	assert_string_equal(F.events[1].ip_prefix, "192.0.2.0/24");
	assert_string_equal(F.events[1].country, "NO");
	r.remote_addr = "garbage";
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(F.events[2].ip_prefix, "");
	r.remote_addr = NULL;
	run(&r);
	assert_int_equal(res.status, 200);
	for (int i = 0; i < F.n; i++) {
		assert_null(strstr(F.events[i].ip_prefix, "192.0.2.200"));
		assert_null(strstr(F.events[i].ip_prefix, "5:6"));
	}
}

static void test_routing(void **state)
{
	struct cg_request r = base("PUT", "/consent", NULL);

	(void)state;
	run(&r);
	assert_int_equal(res.status, 405);
	assert_string_equal(res.allow, "GET, HEAD, POST, DELETE");
	r.path = "/consent/objection";
	run(&r);
	assert_int_equal(res.status, 405);
	assert_string_equal(res.allow, "POST");
	r.path = "/consent/nope";
	run(&r);
	assert_int_equal(res.status, 404);
	assert_string_equal(jstr("error"), "not_found");
	r.path = "/other";
	run(&r);
	assert_int_equal(res.status, 404);
	/* the metrics' route: an index into the routing table, "other" when none */
	assert_int_equal(res.route, CG_ROUTE_OTHER);
	assert_string_equal(cg_route_name(CG_ROUTE_OTHER), "other");
	assert_string_equal(cg_route_name(0), "state");
	for (int i = 0; i < CG_ROUTE_OTHER; i++)
		for (int j = 0; j < i; j++)
			assert_string_not_equal(cg_route_name(i), cg_route_name(j));
	r = base("GET", "/consent/vendors", NULL);
	run(&r);
	assert_string_equal(cg_route_name(res.route), "vendors");
	r = base("GET", "/consent/healthz", NULL);
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(cg_route_name(res.route), "healthz");
	r.path = "/consent/metrics"; /* no metrics op in this fake */
	run(&r);
	assert_int_equal(res.status, 503);
}

#define EVENTS "{\"events\":[{\"name\":\"page_view\",\"params\":{\"page_location\":" \
	"\"https://shop.example/a?utm=x#f\",\"page_referrer\":\"https://ref.example/\",\"n\":3}}]}"

static struct cg_request collect_req(const char *cookie)
{
	struct cg_request r = base("POST", "/collect", EVENTS);

	r.content_type = "text/plain;charset=UTF-8"; /* sendBeacon */
	r.cookie = cookie;
	return r;
}

static const char *consent_cookie(const char *choice_body)
{
	struct cg_request r = base("POST", "/consent", choice_body);

	run(&r);
	assert_int_equal(res.status, 200);
	return cookie_from_response();
}

static void test_collect_consented(void **state)
{
	struct cg_request r;
	const char *ck = consent_cookie(CHOICE("false", "true", "false"));

	(void)state;
	r = collect_req(ck);
	run(&r);
	assert_int_equal(res.status, 204);
	assert_int_equal(nob, 2);
	/* GA4 (consent) gets the full payload keyed by the subject */
	assert_string_equal(OB[0].row.destination, "ga4");
	assert_int_equal(OB[0].row.mode, CG_FORWARD_FULL);
	assert_string_equal(OB[0].row.subject, F.events[0].subject);
	assert_non_null(strstr(OB[0].payload, "\"user_location\":{\"country_id\":\"NO\"}"));
	assert_non_null(strstr(OB[0].payload, "\"ad_user_data\":\"DENIED\""));
	assert_non_null(strstr(OB[0].payload, "utm=x"));
	assert_non_null(strstr(OB[0].payload, "\"timestamp_micros\":1795303718006000"));
	/* the legitimate-interest hook also gets it in full: consent covers it */
	assert_int_equal(OB[1].row.mode, CG_FORWARD_FULL);
	for (int i = 0; i < nob; i++) {
		assert_null(strstr(OB[i].payload, "192.0.2"));
		assert_null(strstr(OB[i].payload, F.events[0].subject));
		assert_null(strstr(OB[i].payload, ck + 6));
		assert_null(strstr(OB[i].payload, "ip_override"));
	}
}

static void test_collect_refused_and_fresh(void **state)
{
	struct cg_request r;
	const char *ck = consent_cookie(CHOICE("true", "false", "true"));
	json_t *p;
	json_error_t e;

	(void)state;
	r = collect_req(ck);
	run(&r);
	assert_int_equal(res.status, 204);
	assert_int_equal(nob, 0); /* refused statistics: nothing, not even to LI */

	/* a visitor with no choice: only legitimate interest, minimised */
	r = collect_req(NULL);
	run(&r);
	assert_int_equal(res.status, 204);
	assert_int_equal(nob, 1);
	assert_string_equal(OB[0].row.destination, "li");
	assert_int_equal(OB[0].row.mode, CG_FORWARD_MINIMISED);
	assert_string_equal(OB[0].row.subject, "");
	p = json_loads(OB[0].payload, 0, &e);
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "mode")), "minimised");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
		json_object_get(p, "events"), 0), "params"), "page_location")), "https://shop.example/a");
	assert_null(json_object_get(json_object_get(json_array_get(json_object_get(p, "events"), 0),
	                                            "params"), "page_referrer"));
	json_decref(p);

	/* GPC does not stop statistics by default (gpc = marketing) */
	r = collect_req(NULL);
	r.sec_gpc = "1";
	run(&r);
	assert_int_equal(nob, 2);
}

static void test_collect_errors(void **state)
{
	struct cg_request r = collect_req(NULL);

	(void)state;
	r.body = "{\"events\":[{\"name\":\"1bad\"}]}";
	r.body_len = strlen(r.body);
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("field"), "events[0].name");
	r = collect_req(NULL);
	r.content_type = "application/xml";
	run(&r);
	assert_int_equal(res.status, 415);
	r = collect_req(NULL);
	r.sec_fetch_site = "cross-site";
	run(&r);
	assert_int_equal(res.status, 403);
	r = collect_req(NULL);
	fail_outbox = 1;
	run(&r);
	assert_int_equal(res.status, 503);
	assert_int_equal(nob, 0);
	/* the collect body may be larger than a consent body */
	r = collect_req(NULL);
	r.body_too_large = 1;
	run(&r);
	assert_int_equal(res.status, 413);
}

static void test_check(void **state)
{
	struct cg_request r;
	const char *ck;

	(void)state;
	r = base("GET", "/consent/check", NULL);
	r.query = "purpose=statistics";
	run(&r);
	assert_int_equal(res.status, 403);
	r.cookie = "cg_id=garbage";
	run(&r);
	assert_int_equal(res.status, 403);
	ck = consent_cookie(CHOICE("false", "true", "false"));
	r = base("GET", "/consent/check", NULL);
	r.cookie = ck;
	r.query = "purpose=statistics";
	run(&r);
	assert_int_equal(res.status, 204);
	r.query = "x=1&purpose=marketing";
	run(&r);
	assert_int_equal(res.status, 403);
	r.query = "purpose=statistics";
	F.fail_load = 1; /* storage trouble denies, never 5xx */
	run(&r);
	assert_int_equal(res.status, 403);
	F.fail_load = 0;
	r.cookie_dup = 1;
	run(&r);
	assert_int_equal(res.status, 403);
	r.cookie_dup = 0;
	r.now_ms = NOW + 366 * DAY; /* expired */
	run(&r);
	assert_int_equal(res.status, 403);
	r.query = "purpose=everything";
	run(&r);
	assert_int_equal(res.status, 400);
}

/* ---- a withdrawal's expiries of vendor cookies ---- */

#define VENDOR_SV "[vendor.sv]\ncategory = statistics\nhosts = vendor.example\ncookies = _sv_* sv_http\n" \
	"storage =\nrecipient = Standin AS\ncountry = NO\nsource = https://vendor.example/cookies\n"

/* the configuration of setup() with the vendor sv declared */
static void with_vendor_sv(void)
{
	char err[256];

	assert_int_equal(cg_config_parse("[server]\nsite = shop.example\n[policy]\nversion = 2023-12\n"
	                                 "cookie_secure = false\n" VENDOR_SV, "t", &cfg, err, sizeof err), CG_OK);
	assert_int_equal(cg_config_vendors(&cfg, NULL, "t", err, sizeof err), CG_OK);
}

/* DELETE /consent with this Cookie and Host header: the answer's vendor
 * expiries (after the consent cookies) joined by " | " */
static const char *withdraw_expiries(const char *cookie, const char *host)
{
	static char out[CG_MAX_SET_COOKIES * 260];
	struct cg_request r = base("DELETE", "/consent", NULL);

	r.cookie = cookie;
	r.host = host;
	run(&r);
	assert_int_equal(res.status, 200);
	assert_true(res.n_cookies >= 2 && res.n_cookies <= CG_MAX_SET_COOKIES);
	assert_non_null(strstr(res.set_cookie[0], "cg_id="));
	assert_true(strncmp(res.set_cookie[1], "cg_state=", 9) == 0);
	out[0] = '\0';
	for (int i = 2; i < res.n_cookies; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i > 2 ? " | " : "", res.set_cookie[i]);
	return out;
}

#define EXPIRED(n) n "=; Max-Age=0; Path=/ | " n "=; Max-Age=0; Path=/; Domain=www.shop.test | " \
	n "=; Max-Age=0; Path=/; Domain=shop.test"

static void test_withdraw_expires_vendor_cookies(void **state)
{
	(void)state;
	with_vendor_sv();
	/* only the declared names the header carries, host-only and on each parent
	 * domain down to two labels; undeclared ones and the consent cookies stay */
	assert_string_equal(withdraw_expiries("_ga=1; _sv_id=2; _svx=3; sv_httpx=4; other=5; cg_state=v=2023-12; _sv_=6",
	                                      "www.shop.test:8080"),
	                    EXPIRED("_sv_id") " | " EXPIRED("_sv_"));
	/* a name the vendor sets HttpOnly, which the banner's script cannot see */
	assert_string_equal(withdraw_expiries("sv_http=1", "www.shop.test"), EXPIRED("sv_http"));
	/* a browser sends one of a name per domain that holds it: expired once */
	assert_string_equal(withdraw_expiries("_sv_id=1; _sv_id=2", "www.shop.test"), EXPIRED("_sv_id"));
	/* a name that is no cookie-name token is never echoed: nothing rides along
	 * (an attribute, a second cookie) even where the pattern's * matches it */
	assert_string_equal(withdraw_expiries("_sv_a HttpOnly=1; _sv_b,Domain=evil.example=1; _sv_c\"=1; _sv_\x01=1; "
	                                      "HttpOnly; Secure=1; _sv_\xc3\xa6=1; =1; _sv_d", "www.shop.test"), "");
	/* a host that is an address, or none: host-only */
	assert_string_equal(withdraw_expiries("_sv_id=1", "192.0.2.1:8080"), "_sv_id=; Max-Age=0; Path=/");
	assert_string_equal(withdraw_expiries("_sv_id=1", NULL), "_sv_id=; Max-Age=0; Path=/");
	assert_string_equal(withdraw_expiries(NULL, "www.shop.test"), "");
}

static void test_withdraw_expiries_bounded(void **state)
{
	static char hdr[8192], host[300];
	const char *got;
	int n = 0;

	(void)state;
	with_vendor_sv();
	/* 100 cookies, every other one declared: the answer stays within its slots,
	 * each name expired on every domain or not at all, the consent cookies first */
	for (int i = 0; i < 100; i++)
		n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s%s%02d=%d", i ? "; " : "", i % 2 ? "_sv_" : "_x_", i, i);
	got = withdraw_expiries(hdr, "www.shop.test");
	assert_int_equal(res.n_cookies, 2 + 3 * ((CG_MAX_SET_COOKIES - 2) / 3));
	assert_true(strncmp(got, EXPIRED("_sv_01") " | " EXPIRED("_sv_03"), strlen(EXPIRED("_sv_01") " | " EXPIRED("_sv_03"))) == 0);
	assert_null(strstr(got, "_x_"));
	/* one declared name after 99 others is still found */
	n = 0;
	for (int i = 0; i < 99; i++)
		n += snprintf(hdr + n, sizeof hdr - (size_t)n, "_x_%02d=%d; ", i, i);
	snprintf(hdr + n, sizeof hdr - (size_t)n, "_sv_last=1");
	assert_string_equal(withdraw_expiries(hdr, "www.shop.test"), EXPIRED("_sv_last"));
	/* a long name on a long host: every Set-Cookie whole (a domain whose line
	 * would not fit is left out, never cut short) */
	memset(host, 'a', 240);
	strcpy(host + 240, ".shop.test");
	got = withdraw_expiries("_sv_0123456789012345678901234567890123456789012345678901234567=1", host);
	assert_int_equal(res.n_cookies, 2 + 2);
	for (int i = 2; i < res.n_cookies; i++)
		assert_true(strlen(res.set_cookie[i]) < sizeof res.set_cookie[i] - 1);
	assert_non_null(strstr(got, "; Domain=shop.test"));
}

/* the vendor list in the record: the one named, or the one in service
 * marked asserted; never served: 400; retired: 409 stale_vendors unless
 * the choice grants nothing; none recorded while the site declares no
 * vendors */
static void test_vendor_list_recorded(void **state)
{
	char named[200], list[CG_VENDORS_ID_LEN + 1];
	struct cg_request r = base("POST", "/consent", WITH(",\"banner\":\"" CUR "\"", "true"));

	(void)state;
	run(&r);
	assert_string_equal(F.events[F.n - 1].banner, "build=" CUR ";notice=" NOTICE);
	with_vendor_sv();
	memcpy(list, cfg.vendors_id, sizeof list);
	snprintf(named, sizeof named, ",\"banner\":\"%s\",\"vendors\":\"%s\"", CUR, list);
	char json[512];
	snprintf(json, sizeof json, WITH("%s", "true"), named);
	r = base("POST", "/consent", json);
	run(&r);
	assert_int_equal(res.status, 200);
	snprintf(named, sizeof named, "build=" CUR ";notice=" NOTICE ";vendors=%s", list);
	assert_string_equal(F.events[F.n - 1].banner, named);
	/* a build named, no list: the list in service, asserted */
	r = base("POST", "/consent", WITH(",\"banner\":\"" CUR "\"", "true"));
	run(&r);
	assert_int_equal(res.status, 200);
	snprintf(named, sizeof named, "build=" CUR ";notice=" NOTICE ";vendors=%s;asserted", list);
	assert_string_equal(F.events[F.n - 1].banner, named);
	r = base("POST", "/consent", WITH(",\"vendors\":\"" NOTICE "\"", "false"));
	run(&r);
	assert_int_equal(res.status, 400);
	assert_string_equal(jstr("field"), "vendors");
	int n = F.n;
	r = base("POST", "/consent", WITH(",\"vendors\":\"" OLD_LIST "\"", "true"));
	run(&r);
	assert_int_equal(res.status, 409);
	assert_string_equal(jstr("error"), "stale_vendors");
	assert_string_equal(jstr("current_vendors"), list);
	assert_int_equal(F.n, n);
	r = base("POST", "/consent", WITH(",\"banner\":\"" CUR "\",\"vendors\":\"" OLD_LIST "\"", "false"));
	run(&r);
	assert_int_equal(res.status, 200);
	assert_string_equal(F.events[F.n - 1].banner, "build=" CUR ";notice=" NOTICE ";vendors=" OLD_LIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_choice_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secure_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_visitor_keeps_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erased_id_not_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_was_shown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_on_own_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests_store_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_site, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_answer_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdraw_and_objection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip_handling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect_consented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect_refused_and_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdraw_expires_vendor_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdraw_expiries_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vendor_list_recorded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
