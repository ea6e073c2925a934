/* The rules over a whole log (audit.h), on logs built in memory as the
 * stores write them: honest operations at their boundaries pass, and every
 * attack the row format is meant to stop fails, naming the row. No
 * database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/audit.h"
#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/logevent.h"
#include "consentgate/timefmt.h"

#define DAY CG_MS_PER_DAY
#define T0 INT64_C(1700000000000)   /* the log's first day */
#define NOW (T0 + 4000 * DAY)       /* the verifier's clock */
#define MAXEV 64

static struct cg_event L[MAXEV];
static int n;

static const struct cg_retention R = {730, 1095, 365, 180};

static void subj(int who, char out[CG_SUBJECT_LEN + 1])
{
	snprintf(out, CG_SUBJECT_LEN + 1, "%064d", who);
}

static void seal_at(int i, int format)
{
	L[i].id = i + 1;
	cg_chain_seal_format(&L[i], i ? L[i - 1].hash : CG_CHAIN_GENESIS, format);
}

/* re-seals every link from i on, as an attacker who rewrites the chain */
static void reseal_from(int i)
{
	for (; i < n; i++) {
		L[i].id = i + 1;
		cg_chain_seal_format(&L[i], i ? L[i - 1].hash : CG_CHAIN_GENESIS, L[i].format == 1 ? 1 : 2);
	}
}

/* a visitor's row: action, all purposes granted or refused, at t */
static int row(int who, int action, int granted, int64_t t, int format)
{
	struct cg_event *ev = &L[n];

	memset(ev, 0, sizeof *ev);
	subj(who, ev->subject);
	cg_time_format(t, ev->recorded_at);
	ev->action = action;
	strcpy(ev->policy_version, "2023-12");
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = action == CG_ACT_CHOICE ? granted : 0;
	strcpy(ev->choice_at, ev->recorded_at);
	ev->objection_purpose = -1;
	if (action == CG_ACT_CHOICE && format == 2)
		strcpy(ev->banner, "build=79c60a93689838a5ba7217b6e331a89d;notice="
		                   "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6");
	snprintf(ev->salt, sizeof ev->salt, "%032d", n + 7);
	ev->gpc = 0;
	ev->dnt = CG_TRI_NULL;
	strcpy(ev->lang, "nb");
	strcpy(ev->page, "https://shop.example/");
	strcpy(ev->ip_prefix, "203.0.113.0/24");
	strcpy(ev->country, "NO");
	seal_at(n, format);
	return n++;
}

static int log_event(const struct cg_logevent *l, int64_t t)
{
	cg_logevent_event(l, t, &L[n]);
	seal_at(n, 2);
	return n++;
}

static void redact(struct cg_event *ev)
{
	ev->salt[0] = ev->lang[0] = ev->page[0] = ev->ip_prefix[0] = ev->ip_digest[0] = ev->country[0] = '\0';
	ev->gpc = ev->dnt = CG_TRI_NULL;
}

/* erasure: the visitor's rows redacted, a tombstone */
static int erase(int who, int64_t t)
{
	char s[CG_SUBJECT_LEN + 1];

	subj(who, s);
	for (int i = 0; i < n; i++)
		if (L[i].link == CG_LINK_ROW && strcmp(L[i].subject, s) == 0)
			redact(&L[i]);
	cg_event_tombstone(s, t, &L[n]);
	seal_at(n, 2);
	return n++;
}

/* a purge at t removing these visitors' rows, recording retention r */
static int purge(const int *who, int nwho, const struct cg_retention *r, int64_t t)
{
	struct cg_logevent l = {.kind = CG_ACT_PURGE, .retention = *r};
	struct cg_ids_digest d;
	char s[CG_SUBJECT_LEN + 1];

	cg_ids_init(&d);
	for (int i = 0; i < n; i++) {
		int hit = 0;
		for (int k = 0; k < nwho; k++) {
			subj(who[k], s);
			hit |= L[i].link == CG_LINK_ROW && strcmp(L[i].subject, s) == 0;
		}
		if (!hit)
			continue;
		L[i].link = CG_LINK_PRUNED;
		L[i].purge_id = n + 1;
		cg_time_format(t, L[i].pruned_at);
		if (L[i].format != 1)
			cg_chain_subject_digest(L[i].subject, L[i].subject_digest);
		L[i].subject[0] = '\0';
		redact(&L[i]);
		cg_ids_add(&d, L[i].id);
	}
	l.count = d.n;
	cg_ids_final(&d, l.ids);
	return log_event(&l, t);
}

static const struct cg_audit_result *audit_with(int floor, struct cg_audit **out)
{
	struct cg_audit_opts o = {.now_ms = NOW, .min_retention_days = floor};

	assert_int_equal(cg_audit_new(&o, out), CG_OK);
	for (int i = 0; i < n; i++)
		cg_audit_scan(*out, &L[i]);
	for (int i = 0; i < n; i++)
		cg_audit_row(*out, &L[i]);
	cg_audit_finish(*out);
	return cg_audit_result(*out);
}

/* the row the audit names (0: it passed) and, when it failed, that the
 * text says `what` */
static int64_t bad(int floor, const char *what)
{
	struct cg_audit *a = NULL;
	const struct cg_audit_result *r = audit_with(floor, &a);
	int64_t id = r->bad_id;

	if (id && what && !strstr(r->why, what))
		fail_msg("expected '%s' in: %s", what, r->why);
	if (id)
		print_message("  -> %s\n", r->why);
	cg_audit_free(a);
	return id;
}

/* An honest log: choices, a withdrawal, an objection, an erasure, the IP
 * retention, a purge of the visitors whose consent ended long enough before. */
static int honest(void)
{
	int who[2] = {1, 2};

	n = 0;
	row(1, CG_ACT_CHOICE, 0, T0, 2);                  /* a refusal, ended after 180 days */
	row(2, CG_ACT_CHOICE, 1, T0 + DAY, 2);
	row(2, CG_ACT_WITHDRAW, 0, T0 + 2 * DAY, 2);      /* ended at once */
	row(3, CG_ACT_CHOICE, 1, T0 + 3 * DAY, 2);
	row(4, CG_ACT_CHOICE, 1, T0 + 4 * DAY, 2);
	erase(4, T0 + 5 * DAY);
	for (int i = 0; i < n; i++)
		if (L[i].link == CG_LINK_ROW && L[i].salt[0])
			cg_chain_clear_ip(&L[i]);
	/* the refusal ended at T0 + 180 d: due 1095 days after */
	return purge(who, 2, &R, T0 + (180 + 1095) * DAY);
}

static void test_honest_log(void **state)
{
	struct cg_audit *a = NULL;
	const struct cg_audit_result *r;

	(void)state;
	honest();
	row(5, CG_ACT_CHOICE, 1, T0 + 1300 * DAY, 2);
	r = audit_with(-1, &a);
	assert_int_equal(r->bad_id, 0);
	assert_int_equal(r->n.links, 8);
	assert_int_equal(r->n.pruned, 3);
	assert_int_equal(r->n.purges, 1);
	assert_int_equal(r->n.redacted, 1);
	assert_int_equal(r->n.ip_cleared, 1);   /* visitor 3's row; 4's was erased */
	assert_string_equal(r->head, L[n - 1].hash);
	cg_audit_free(a);
}

/* the purge exactly at the boundary passes; a millisecond early fails,
 * naming the visitor's last row */
static void test_purge_boundary(void **state)
{
	int who[1] = {2};

	(void)state;
	n = 0;
	row(2, CG_ACT_CHOICE, 1, T0, 2);
	row(2, CG_ACT_WITHDRAW, 0, T0 + DAY, 2);
	purge(who, 1, &R, T0 + DAY + 1095 * DAY);
	assert_int_equal(bad(-1, NULL), 0);
	n = 0;
	row(2, CG_ACT_CHOICE, 1, T0, 2);
	row(2, CG_ACT_WITHDRAW, 0, T0 + DAY, 2);
	purge(who, 1, &R, T0 + DAY + 1095 * DAY - 1);
	assert_int_equal(bad(-1, "consent ended"), 2);
	/* a grant's consent ends when it expires (365 days) */
	n = 0;
	row(3, CG_ACT_CHOICE, 1, T0, 2);
	who[0] = 3;
	purge(who, 1, &R, T0 + (365 + 1095) * DAY);
	assert_int_equal(bad(-1, NULL), 0);
	L[1].recorded_at[0] = '\0';
	n = 0;
	row(3, CG_ACT_CHOICE, 1, T0, 2);
	purge(who, 1, &R, T0 + (180 + 1095) * DAY);   /* as if it were a refusal */
	assert_int_equal(bad(-1, "consent ended"), 1);
}

/* A current row pruned with a purge appended at the tip, as anyone with
 * write access can: the consent has not ended. */
static void test_prune_current_row(void **state)
{
	int who[1] = {5};

	(void)state;
	honest();
	row(5, CG_ACT_CHOICE, 1, NOW - DAY, 2);
	purge(who, 1, &R, NOW);
	assert_int_equal(bad(-1, "consent ended"), 8);
}

/* Last week's withdrawal removed, the visitor's grant kept: their state
 * would flip back to granted. */
static void test_prune_withdrawal_only(void **state)
{
	struct cg_logevent l = {.kind = CG_ACT_PURGE, .retention = R, .count = 1};
	struct cg_ids_digest d;
	int w;

	(void)state;
	honest();
	row(6, CG_ACT_CHOICE, 1, NOW - 30 * DAY, 2);
	w = row(6, CG_ACT_WITHDRAW, 0, NOW - 7 * DAY, 2);
	L[w].link = CG_LINK_PRUNED;
	cg_chain_subject_digest(L[w].subject, L[w].subject_digest);
	L[w].subject[0] = '\0';
	redact(&L[w]);
	L[w].purge_id = n + 1;
	cg_time_format(NOW, L[w].pruned_at);
	cg_ids_init(&d);
	cg_ids_add(&d, L[w].id);
	cg_ids_final(&d, l.ids);
	log_event(&l, NOW);
	assert_int_equal(bad(-1, "kept, but the purge"), w);    /* the grant row before it */
	/* the old attack: the link alone, no purge */
	honest();
	row(6, CG_ACT_CHOICE, 1, NOW - 30 * DAY, 2);
	w = row(6, CG_ACT_WITHDRAW, 0, NOW - 7 * DAY, 2);
	L[w].link = CG_LINK_PRUNED;
	cg_chain_subject_digest(L[w].subject, L[w].subject_digest);
	L[w].subject[0] = '\0';
	assert_int_equal(bad(-1, "names no purge"), w + 1);
	L[w].format = 1;    /* as a link of row format 1 */
	assert_int_equal(bad(-1, "row format 1 after"), w + 1);
}

/* Redaction claims nothing. */
static void test_salt_rules(void **state)
{
	(void)state;
	honest();
	/* the salt nulled and a field rewritten */
	L[3].salt[0] = '\0';
	strcpy(L[3].lang, "sv");
	assert_int_equal(bad(-1, "salt is NULL but gpc, lang, page, ip_digest, country"), 4);
	/* every personal field cleared, as if erased, but no erasure follows */
	honest();
	redact(&L[3]);
	assert_int_equal(bad(-1, "no erasure of its visitor follows"), 4);
	/* a prefix kept beside its digest */
	honest();
	strcpy(L[3].ip_prefix, "198.51.100.0/24");
	assert_int_equal(bad(-1, "beside the ip_digest"), 4);
	/* a tombstone that carries a personal value */
	honest();
	strcpy(L[5].lang, "nb");
	assert_int_equal(bad(-1, "salt is NULL but lang"), 6);
	/* two rows' personal fields swapped */
	honest();
	row(7, CG_ACT_CHOICE, 1, T0 + 1300 * DAY, 2);
	row(8, CG_ACT_CHOICE, 0, T0 + 1300 * DAY, 2);
	{
		struct cg_event t = L[n - 1];
		strcpy(L[n - 1].salt, L[n - 2].salt);
		strcpy(L[n - 1].ip_prefix, L[n - 2].ip_prefix);
		strcpy(L[n - 2].salt, t.salt);
	}
	assert_int_equal(bad(-1, "personal fields do not match"), n - 1);
}

/* A lowered retention removes what the earlier one protected: it fails
 * unless the auditor accepts a floor, and is noted either way. */
static void test_lowered_retention(void **state)
{
	struct cg_retention low = R;
	struct cg_audit *a = NULL;
	int who[1] = {6};

	(void)state;
	honest();
	row(6, CG_ACT_CHOICE, 1, NOW - 30 * DAY, 2);
	row(6, CG_ACT_WITHDRAW, 0, NOW - 7 * DAY, 2);
	low.events_days_after_end = 1;
	purge(who, 1, &low, NOW);
	/* named: the visitor's last row, whose end the purge came too soon after */
	assert_int_equal(bad(-1, "less than 1095 days"), 9);
	assert_int_equal(bad(1, NULL), 0);               /* an auditor who accepts 1 day */
	assert_int_equal(bad(30, "less than 30 days"), 9);
	assert_non_null(strstr(audit_with(1, &a)->notes, "lowered retention"));
	cg_audit_free(a);
	/* a floor above what the log kept fails the honest purge too */
	honest();
	assert_int_equal(bad(2000, "less than 2000 days"), 1);
}

/* A purge's time is bounded by its neighbours, the next signed head and the
 * verifier's clock. */
static void test_purge_time(void **state)
{
	struct cg_audit_opts o = {.now_ms = NOW, .min_retention_days = -1};
	struct cg_audit *a = NULL;
	int p;

	(void)state;
	p = honest();
	row(5, CG_ACT_CHOICE, 1, T0 + 1300 * DAY, 2);
	assert_int_equal(bad(-1, NULL), 0);
	/* dated after the row after it (the attacker re-seals what follows) */
	cg_time_format(T0 + 1400 * DAY, L[p].recorded_at);
	for (int i = 0; i < p; i++)
		if (L[i].purge_id)
			strcpy(L[i].pruned_at, L[p].recorded_at);
	reseal_from(p);
	assert_int_equal(bad(-1, "after the row after it"), p + 1);
	/* in the future */
	p = honest();
	cg_time_format(NOW + DAY, L[p].recorded_at);
	for (int i = 0; i < p; i++)
		if (L[i].purge_id)
			strcpy(L[i].pruned_at, L[p].recorded_at);
	reseal_from(p);
	assert_int_equal(bad(-1, "in the future"), p + 1);
	/* after a head signed over it */
	p = honest();
	assert_int_equal(cg_audit_new(&o, &a), CG_OK);
	assert_int_equal(cg_audit_head(a, p + 1, T0 + 1000 * DAY, L[p].hash, p + 1), CG_OK);
	for (int i = 0; i < n; i++)
		cg_audit_scan(a, &L[i]);
	for (int i = 0; i < n; i++)
		cg_audit_row(a, &L[i]);
	assert_int_equal(cg_audit_finish(a), CG_ERR_CHAIN);
	assert_non_null(strstr(cg_audit_result(a)->why, "after the head signed"));
	cg_audit_free(a);
}

/* The log's own signed heads: a row rewritten, or the log cut, before one
 * of them fails even without a head from outside. */
static void test_heads(void **state)
{
	struct cg_audit_opts o = {.now_ms = NOW, .min_retention_days = -1};
	struct cg_audit *a = NULL;
	char hash[CG_HEX_HASH_LEN + 1];
	int last;

	(void)state;
	honest();
	last = row(5, CG_ACT_CHOICE, 1, T0 + 1300 * DAY, 2);
	strcpy(hash, L[last].hash);
	for (int round = 0; round < 3; round++) {
		if (round == 1) {   /* the last visitor's page rewritten, the row re-sealed */
			strcpy(L[last].page, "https://shop.example/other");
			reseal_from(last);
		}
		if (round == 2)     /* the last row gone */
			n--;
		assert_int_equal(cg_audit_new(&o, &a), CG_OK);
		assert_int_equal(cg_audit_head(a, last + 1, T0 + 1300 * DAY, hash, last + 1), CG_OK);
		for (int i = 0; i < n; i++)
			cg_audit_scan(a, &L[i]);
		for (int i = 0; i < n; i++)
			cg_audit_row(a, &L[i]);
		assert_int_equal(cg_audit_finish(a), round ? CG_ERR_CHAIN : CG_OK);
		if (round)
			assert_non_null(strstr(cg_audit_result(a)->why, round == 1 ? "not the one the head" : "missing"));
		cg_audit_free(a);
	}
}

/* What a purge accounts for: its count, the links that name it. */
static void test_purge_accounts(void **state)
{
	int p;

	(void)state;
	p = honest();
	L[0].purge_id = 2;   /* names a row that is no purge */
	assert_int_equal(bad(-1, "which is no purge"), 1);
	honest();
	strcpy(L[0].pruned_at, L[3].recorded_at);
	assert_int_equal(bad(-1, "pruned_at"), 1);
	/* a link added to the purge: rows of a current visitor */
	p = honest();
	L[3].link = CG_LINK_PRUNED;
	cg_chain_subject_digest(L[3].subject, L[3].subject_digest);
	L[3].subject[0] = '\0';
	redact(&L[3]);
	L[3].purge_id = p + 1;
	strcpy(L[3].pruned_at, L[p].recorded_at);
	assert_int_equal(bad(-1, "consent ended"), 4);
	/* a link of the purge moved away: its count no longer holds */
	p = honest();
	L[1].link = CG_LINK_ROW;
	assert_int_not_equal(bad(-1, NULL), 0);
	(void)p;
}

/* Row format 1 before the format event, 2 after; the format event names
 * the links pruned before it. */
static void test_formats(void **state)
{
	struct cg_logevent f = {.kind = CG_ACT_FORMAT, .format = 2};
	struct cg_ids_digest d;
	struct cg_audit *a = NULL;

	(void)state;
	n = 0;
	row(1, CG_ACT_CHOICE, 1, T0, 1);
	row(2, CG_ACT_CHOICE, 1, T0 + DAY, 1);
	L[0].link = CG_LINK_PRUNED;  /* a format-1 purge kept digests only */
	L[0].format = 1;
	L[0].subject[0] = '\0';
	row(3, CG_ACT_CHOICE, 0, T0 + 2 * DAY, 1);
	L[2].salt[0] = '\0';         /* format 1's IP retention: the salt cleared, fields kept */
	L[2].ip_prefix[0] = '\0';
	cg_ids_init(&d);
	cg_ids_add(&d, 1);
	f.count = 1;
	cg_ids_final(&d, f.ids);
	log_event(&f, T0 + 3 * DAY);
	row(4, CG_ACT_CHOICE, 1, T0 + 4 * DAY, 2);
	assert_int_equal(bad(-1, NULL), 0);
	assert_non_null(strstr(audit_with(-1, &a)->notes, "row format 1"));
	assert_int_equal(cg_audit_result(a)->n.rows_v1, 2);
	cg_audit_free(a);
	/* a format-1 row turned into a link of that format: the count changes */
	L[1].link = CG_LINK_PRUNED;
	assert_int_equal(bad(-1, "links pruned before it"), 4);
	L[1].link = CG_LINK_ROW;
	/* format 1 after the format event, format 2 before it */
	L[4].format = 1;
	reseal_from(4);
	assert_int_equal(bad(-1, "row format 1 after"), 5);
	L[4].format = 2;
	L[1].format = 2;
	reseal_from(1);
	assert_int_equal(bad(-1, "before the format event"), 2);
}

/* A gap in the ids; a banner that is no record (the attacker re-sealed). */
static void test_shape(void **state)
{
	(void)state;
	honest();
	memmove(&L[3], &L[4], (size_t)(n - 4) * sizeof *L);
	n--;
	assert_int_equal(bad(-1, "missing"), 4);
	honest();
	strcpy(L[3].banner, "build=nothing");
	reseal_from(3);
	assert_int_equal(bad(-1, "not a record of what was shown"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_honest_log),
		cmocka_unit_test(test_purge_boundary),
		cmocka_unit_test(test_prune_current_row),
		cmocka_unit_test(test_prune_withdrawal_only),
		cmocka_unit_test(test_salt_rules),
		cmocka_unit_test(test_lowered_retention),
		cmocka_unit_test(test_purge_time),
		cmocka_unit_test(test_heads),
		cmocka_unit_test(test_purge_accounts),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_shape),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
