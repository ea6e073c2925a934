/* Erasure notices (erasure.h): who may hold the visitor's pseudonym, who is
 * told (what the store records, what is presumed for grants from before it
 * recorded, as far as the bound has room), and the rows: conditional on the
 * store's record unless presumed, the pseudonym the destination had. And
 * POST /consent/erase through the handler: the answer says whom it told
 * and whom not. Pure: fakes for the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/timefmt.h"

static struct cg_config cfg;
static const int64_t NOW = 1795303718006, DAY = 86400000;
#define SUBJECT "00000000000000000000000000000000000000000000000000000000000000aa"

/* dest[0] hook (statistics), dest[1] ga (marketing, deletion configured),
 * dest[2] ga_plain (statistics, no deletion settings: cannot be told),
 * dest[3] prefs (preferences webhook) */
static const char config[] =
	"[server]\nsite = shop.example\n[policy]\nversion = 2023-12\ncookie_secure = false\n"
	"[destination.hook]\ntype = webhook\nurl = http://127.0.0.1/hook\npurpose = statistics\n"
	"[destination.ga]\ntype = ga4\nurl = http://127.0.0.1/mp\nmeasurement_id = G-X\napi_secret = s\n"
	"purpose = marketing\nproperty_id = 42\ndeletion_url = http://127.0.0.1/del\ndeletion_token_file = /t\n"
	"[destination.ga_plain]\ntype = ga4\nurl = http://127.0.0.1/mp\nmeasurement_id = G-Y\napi_secret = s\n"
	"purpose = statistics\n"
	"[destination.prefs]\ntype = webhook\nurl = http://127.0.0.1/p\npurpose = preferences\n";
enum { HOOK = 1, GA = 2, GA_PLAIN = 4, PREFS = 8 };

static void choice(struct cg_event *ev, int p, int s, int m, int64_t at)
{
	memset(ev, 0, sizeof *ev);
	strcpy(ev->subject, SUBJECT);
	ev->action = CG_ACT_CHOICE;
	ev->choice[CG_PREFERENCES] = p;
	ev->choice[CG_STATISTICS] = s;
	ev->choice[CG_MARKETING] = m;
	ev->objection_purpose = -1;
	cg_time_format(at, ev->recorded_at);
}

static void test_candidates_are_granted_purposes_that_can_be_told(void **state)
{
	struct cg_event evs[2];
	struct cg_erasure_plan p;

	(void)state;
	choice(&evs[0], 0, 1, 0, NOW - 3 * DAY);
	choice(&evs[1], 0, 0, 1, NOW - DAY);    /* statistics withdrawn, marketing granted since */
	cg_erasure_plan_init(&cfg, evs, 2, 0, 0, &p);
	assert_int_equal(p.candidates, HOOK | GA);  /* ga_plain: no deletion settings; prefs: never granted */
	assert_int_equal(p.received, 0);
	assert_int_equal(p.want, 0);
	cg_erasure_plan_init(&cfg, evs, 1, HOOK | GA | PREFS, 0, &p);
	assert_int_equal(p.received, HOOK);         /* recorded, but only candidates count */
	assert_int_equal(p.want, 1);
}

/* Recipients recorded from an upgrade on: a grant from before is presumed
 * to have reached the destination (certain: no record to check). */
static void test_grants_before_the_record_are_presumed(void **state)
{
	struct cg_event evs[2];
	struct cg_erasure_plan p;

	(void)state;
	choice(&evs[0], 0, 1, 0, NOW - 3 * DAY);
	choice(&evs[1], 0, 1, 1, NOW - DAY);
	cg_erasure_plan_init(&cfg, evs, 2, 0, NOW - 2 * DAY, &p);
	assert_int_equal(p.certain, HOOK);          /* marketing was granted after the record began */
	assert_int_equal(p.received, HOOK);
	cg_erasure_plan_init(&cfg, evs, 2, GA, NOW - 2 * DAY, &p);
	assert_int_equal(p.received, HOOK | GA);
	assert_int_equal(p.want, 2);
}

static void test_room_decides_who_is_told(void **state)
{
	struct cg_event ev;
	struct cg_erasure_plan p;

	(void)state;
	choice(&ev, 1, 1, 1, NOW - DAY);
	cg_erasure_plan_init(&cfg, &ev, 1, GA | PREFS, 0, &p);
	assert_int_equal(p.candidates, HOOK | GA | PREFS);
	/* room for both: both told, and hook gets a row the store keeps only if
	 * it records hook by the time the erasure commits */
	cg_erasure_plan_room(&p, 5);
	assert_int_equal(p.rows, HOOK | GA | PREFS);
	assert_int_equal(p.notified, 2);
	assert_int_equal(p.refused, 0);
	/* room for one: the first in configuration order, no extra rows */
	cg_erasure_plan_room(&p, 1);
	assert_int_equal(p.rows, GA);
	assert_int_equal(p.notified, 1);
	assert_int_equal(p.refused, 1);
	cg_erasure_plan_room(&p, 0);
	assert_int_equal(p.rows, 0);
	assert_int_equal(p.refused, 2);
}

static void test_rows_are_conditional_unless_presumed(void **state)
{
	struct cg_erasure_plan p = {.rows = HOOK | GA | GA_PLAIN, .certain = GA};
	struct cg_outbox_row rows[4];
	struct cg_buf payloads[4];
	uint8_t key[CG_KEY_BYTES];
	char cid[CG_CLIENT_ID_MAX], want[128];
	size_t n;

	(void)state;
	memset(key, 3, sizeof key);
	n = cg_erasure_rows(&cfg, key, SUBJECT, &p, NOW, rows, payloads, 4);
	assert_int_equal(n, 2);                     /* ga_plain cannot take a notice */
	assert_string_equal(rows[0].destination, "hook");
	assert_string_equal(rows[0].if_recipient_of, SUBJECT);
	assert_string_equal(rows[0].subject, "");   /* the row outlives the visitor's key */
	assert_true(cg_erasure_is(rows[0].payload));
	cg_client_id_full(key, "hook", SUBJECT, cid);
	snprintf(want, sizeof want, "\"client_id\":\"%s\"", cid);
	assert_non_null(strstr(rows[0].payload, want));
	assert_string_equal(rows[1].destination, "ga");
	assert_string_equal(rows[1].if_recipient_of, "");
	cg_client_id_full(key, "ga", SUBJECT, cid);
	snprintf(want, sizeof want, "\"userId\":\"%s\"", cid);
	assert_non_null(strstr(rows[1].payload, want));
	for (size_t i = 0; i < n; i++)
		cg_buf_free(&payloads[i]);
}

/* ---- POST /consent/erase through the handler, with fakes ---- */

static uint32_t recorded;
static size_t room;

static int f_events(void *ctx, const char *subject, struct cg_event **evs, size_t *n)
{
	(void)ctx;
	*evs = calloc(1, sizeof **evs);
	if (!*evs)
		return CG_ERR_NOMEM;
	choice(*evs, 1, 1, 1, NOW - DAY);
	strcpy((*evs)->subject, subject);
	*n = 1;
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

static int f_recipients(void *ctx, const char *subject, uint32_t *mask, int64_t *since_ms)
{
	(void)ctx;
	(void)subject;
	*mask = recorded;
	*since_ms = 0;
	return CG_OK;
}

static size_t f_admit(void *ctx, size_t want, int64_t now_ms)
{
	(void)ctx;
	(void)now_ms;
	return want < room ? want : room;
}

static void erase(struct cg_response *res)
{
	static const struct cg_ops ops = {.subject_events = f_events, .keys = f_keys, .recipients = f_recipients,
	                                  .admit_notices = f_admit};
	struct cg_request req;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.path = "/consent/erase";
	req.cookie = "cg_id=AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA";
	req.remote_addr = "192.0.2.77";
	req.now_ms = NOW;
	cg_response_init(res);
	cg_handle(&cfg, &ops, &req, res);
}

static void test_the_answer_says_whom_it_told(void **state)
{
	struct cg_response res;

	(void)state;
	recorded = HOOK | GA;
	room = 10;
	erase(&res);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body.p, "{\"erased\":true,\"detail\":\"your personal data was erased\","
	                                "\"recipients_notified\":2}");
	assert_int_equal(res.plan.nrows, 3);        /* and prefs, kept only if recorded by the commit */
	cg_response_free(&res);
	/* the notices' bound: the erasure is recorded, the notice refused */
	room = 1;
	erase(&res);
	assert_int_equal(res.status, 200);
	assert_true(res.plan.has_event);
	assert_string_equal(res.body.p, "{\"erased\":true,\"detail\":\"your personal data was erased\","
	                                "\"recipients_notified\":1,\"recipients_not_notified\":1}");
	assert_int_equal(res.plan.nrows, 1);
	assert_string_equal(res.plan.rows[0].destination, "hook");
	cg_response_free(&res);
	/* nothing recorded: nobody told (a notice row each, should a first
	 * delivery be recorded before the erasure commits) */
	recorded = 0;
	room = 10;
	erase(&res);
	assert_non_null(strstr(res.body.p, "\"recipients_notified\":0}"));
	assert_int_equal(res.plan.nrows, 3);
	for (size_t i = 0; i < res.plan.nrows; i++)
		assert_string_equal(res.plan.rows[i].if_recipient_of, res.plan.event.subject);
	cg_response_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_candidates_are_granted_purposes_that_can_be_told),
		cmocka_unit_test(test_grants_before_the_record_are_presumed),
		cmocka_unit_test(test_room_decides_who_is_told),
		cmocka_unit_test(test_rows_are_conditional_unless_presumed),
		cmocka_unit_test(test_the_answer_says_whom_it_told),
	};
	char err[256];

	if (cg_config_parse(config, "t", &cfg, err, sizeof err) != CG_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
