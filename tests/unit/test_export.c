#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/export.h"

#define NOW INT64_C(1795303718006)

static struct cg_config cfg;

static void setup_cfg(void)
{
	char err[256];

	assert_int_equal(cg_config_parse(
		"[server]\nsite = shop.example\n[policy]\nversion = 2023-12\nurl = /personvern\n"
		"[controller]\nname = Testbutikken AS\ncontact = personvern@shop.example\n"
		"[destination.ga4]\ntype = ga4\nurl = http://127.0.0.1/_ga/mp/collect\n"
		"measurement_id = G-1\napi_secret = x\npurpose = statistics\n", "t", &cfg, err, sizeof err), CG_OK);
}

static void choice(struct cg_event *ev, int64_t id, int p, int s, int m, const char *when)
{
	memset(ev, 0, sizeof *ev);
	ev->id = id;
	strcpy(ev->subject, "subj");
	strcpy(ev->recorded_at, when);
	strcpy(ev->choice_at, when);
	ev->action = CG_ACT_CHOICE;
	strcpy(ev->policy_version, "2023-12");
	ev->choice[0] = p;
	ev->choice[1] = s;
	ev->choice[2] = m;
	ev->objection_purpose = -1;
	strcpy(ev->salt, "00112233445566778899aabbccddeeff");
	strcpy(ev->lang, "nb");
	strcpy(ev->ip_prefix, "192.0.2.0/24");
	strcpy(ev->country, "NO");
	strcpy(ev->hash, "abc");
}

static void test_receipt(void **state)
{
	struct cg_event evs[2];
	struct cg_export_in in = {&cfg, "subj", evs, 2, NOW};
	json_t *r, *purposes, *stat;

	(void)state;
	setup_cfg();
	choice(&evs[0], 1, 1, 1, 1, "2026-11-01T10:00:00.000Z");
	choice(&evs[1], 2, 0, 1, 0, "2026-11-20T10:00:00.000Z");
	strcpy(evs[1].hash, "deadbeef");
	r = cg_receipt_build(&in);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "version")), "KI-CR-v1.1.0");
	assert_string_equal(json_string_value(json_object_get(r, "consentReceiptID")), "deadbeef");
	assert_string_equal(json_string_value(json_object_get(r, "piiPrincipalId")), "subj");
	assert_string_equal(json_string_value(json_object_get(r, "policyUrl")), "/personvern");
	assert_string_equal(json_string_value(json_object_get(r, "language")), "nb");
	assert_string_equal(json_string_value(json_object_get(r, "eventType")), "choice");
	assert_string_equal(json_string_value(json_object_get(r, "noticeVersion")), "2023-12");
	assert_string_equal(json_string_value(json_object_get(r, "validityDuration")), "P365D");
	assert_int_equal(json_integer_value(json_object_get(r, "consentTimestamp")), 1795168800);
	assert_non_null(json_object_get(r, "withdrawalMethod"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "piiControllers"), 0), "piiController")), "Testbutikken AS");
	purposes = json_object_get(json_array_get(json_object_get(r, "services"), 0), "purposes");
	assert_int_equal(json_array_size(purposes), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(purposes, 0), "state")), "refused");
	stat = json_array_get(purposes, 1);
	assert_string_equal(json_string_value(json_object_get(stat, "state")), "given");
	assert_true(json_is_true(json_object_get(stat, "thirdPartyDisclosure")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(stat, "thirdPartyName"), 0), "name")), "ga4");
	/* the recipient, where the data goes and on what basis it leaves the EU/EEA */
	{
		json_t *ga4 = json_array_get(json_object_get(stat, "thirdPartyName"), 0);
		assert_string_equal(json_string_value(json_object_get(ga4, "country")), "US");
		assert_string_equal(json_string_value(json_object_get(json_object_get(ga4, "transfer"), "basis")), "dpf");
		assert_non_null(strstr(json_string_value(json_object_get(ga4, "recipient")), "Google"));
	}
	json_decref(r);
	in.n = 0;
	assert_null(cg_receipt_build(&in));
	assert_null(cg_export_build(&in));
}

static void test_export(void **state)
{
	struct cg_event evs[3];
	struct cg_export_in in = {&cfg, "subj", evs, 3, NOW};
	json_t *e, *list;

	(void)state;
	setup_cfg();
	choice(&evs[0], 1, 1, 1, 1, "2026-11-01T10:00:00.000Z");
	choice(&evs[1], 2, 1, 1, 1, "2026-11-02T10:00:00.000Z");
	evs[1].action = CG_ACT_WITHDRAW;
	evs[1].choice[0] = evs[1].choice[1] = evs[1].choice[2] = 0;
	cg_event_tombstone("subj", NOW, &evs[2]);
	e = cg_export_build(&in);
	assert_non_null(e);
	list = json_object_get(e, "events");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ip_prefix")), "192.0.2.0/24");
	assert_true(json_is_null(json_object_get(json_array_get(list, 2), "ip_prefix")));
	assert_true(json_is_true(json_object_get(json_array_get(list, 2), "redacted")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "current_state"), "last_action")), "erase");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "controller"), "contact")), "personvern@shop.example");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "retention"), "ip_prefix")), "P730D");
	assert_non_null(json_object_get(e, "receipt"));
	json_decref(e);
}

/* an export against its receipt: intact, a restated field changed (named),
 * another visitor's receipt, a receipt signed before exports were bound */
static void check_names(json_t *doc, json_t *r, const char *want)
{
	struct cg_buf covered;
	char why[400] = "";

	cg_buf_init(&covered, 1 << 16);
	assert_int_equal(cg_receipt_check(doc, r, &covered, why, sizeof why), want ? CG_ERR_INVALID : CG_OK);
	if (want && strncmp(why, want, strlen(want)) != 0)
		fail_msg("want '%s', got '%s'", want, why);
	if (!want)
		assert_non_null(strstr(covered.p, "not covered by the signature: generated_at"));
	cg_buf_free(&covered);
}

static void test_receipt_binding(void **state)
{
	struct cg_event evs[2];
	struct cg_export_in in = {&cfg, "subj", evs, 2, NOW};
	json_t *e, *r, *d, *other;

	(void)state;
	setup_cfg();
	choice(&evs[0], 1, 1, 1, 1, "2026-11-01T10:00:00.000Z");
	choice(&evs[1], 2, 1, 1, 0, "2026-11-02T10:00:00.000Z");
	e = cg_export_build(&in);
	r = json_deep_copy(json_object_get(e, "receipt")); /* what was signed */
	check_names(e, r, NULL);
	d = json_deep_copy(e);
	json_object_set_new(json_object_get(json_object_get(d, "current_state"), "choices"), "marketing", json_true());
	check_names(d, r, "current_state.choices.marketing: ");
	json_decref(d);
	d = json_deep_copy(e);
	json_object_set_new(json_array_get(json_object_get(d, "events"), 1), "country", json_string("SE"));
	check_names(d, r, "events[1] (row 2): ");
	json_decref(d);
	d = json_deep_copy(e);
	json_object_set_new(json_array_get(json_object_get(json_object_get(d, "receipt"), "piiControllers"), 0),
	                    "contact", json_string("x@y"));
	check_names(d, r, "receipt.piiControllers[0].contact: ");
	json_decref(d);
	d = json_deep_copy(e);
	json_object_del(d, "retention");
	check_names(d, r, "retention: missing");
	json_decref(d);
	other = json_deep_copy(r);
	json_object_set_new(other, "piiPrincipalId", json_string("someone-else"));
	check_names(e, other, "subject: the signed receipt is another visitor's");
	json_object_del(r, "exportBinding"); /* signed before exports were bound */
	json_object_del(json_object_get(e, "receipt"), "exportBinding");
	check_names(e, r, NULL);
	json_object_set_new(json_array_get(json_object_get(e, "events"), 1), "hash", json_string("abd"));
	check_names(e, r, "events[last].hash: ");
	json_decref(other);
	json_decref(r);
	json_decref(e);
}

/* a destination that declares no recipient still runs, and says so */
static void test_undeclared_recipient(void **state)
{
	struct cg_event ev;
	struct cg_export_in in = {&cfg, "subj", &ev, 1, NOW};
	char err[256];
	json_t *e, *r;

	(void)state;
	assert_int_equal(cg_config_parse("[server]\nsite = s\n[policy]\nversion = 2023-12\n[destination.hook]\n"
	                                 "type = webhook\nurl = http://x/\npurpose = marketing\n", "t", &cfg, err,
	                                 sizeof err), CG_OK);
	choice(&ev, 1, 1, 1, 1, "2026-11-01T10:00:00.000Z");
	e = cg_export_build(&in);
	r = json_array_get(json_object_get(json_array_get(json_object_get(e, "purposes"), 2), "recipients"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "recipient")), "not declared");
	assert_string_equal(json_string_value(json_object_get(r, "country")), "not declared");
	assert_string_equal(json_string_value(json_object_get(r, "transfer")), "not declared");
	json_decref(e);
}

static void test_tombstone_is_not_personal(void **state)
{
	struct cg_event t;

	(void)state;
	cg_event_tombstone("subj", NOW, &t);
	assert_int_equal(t.action, CG_ACT_ERASE);
	assert_string_equal(t.salt, "");
	assert_string_equal(t.ip_prefix, "");
	assert_string_equal(t.country, "");
	assert_string_equal(t.lang, "");
	assert_int_equal(t.gpc, CG_TRI_NULL);
	assert_int_equal(t.choice[1], CG_TRI_NULL);
	cg_chain_seal(&t, CG_CHAIN_GENESIS);
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receipt),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_receipt_binding),
		cmocka_unit_test(test_undeclared_recipient),
		cmocka_unit_test(test_tombstone_is_not_personal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
