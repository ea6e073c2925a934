/* The views compute in SQL what the core decides in C; this proves they
 * agree on the same rows, generated around every boundary: a choice's
 * expiry (consent_current.expires_at / expired against cg_state_expires_ms)
 * and the outcome class (consent_daily.outcome against cg_rules_outcome);
 * and the purge carries out the retention rules at their boundaries.
 * Real SQLite through the store's port, in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/report.h"
#include "consentgate/rules.h"
#include "consentgate/store_sqlite.h"
#include "consentgate/timefmt.h"

#define NEV 48
static struct cg_event evs[NEV];
static int nev;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add(int action, int p, int s, int m, int64_t at_ms)
{
	struct cg_event *ev = &evs[nev];

	memset(ev, 0, sizeof *ev);
	snprintf(ev->subject, sizeof ev->subject, "%064d", nev + 1);
	ev->action = action;
	ev->choice[0] = p;
	ev->choice[1] = s;
	ev->choice[2] = m;
	ev->objection_purpose = -1;
	ev->gpc = ev->dnt = CG_TRI_NULL;
	strcpy(ev->policy_version, "2023-12");
	cg_time_format(at_ms, ev->recorded_at);
	if (action != CG_ACT_ERASE)
		strcpy(ev->choice_at, ev->recorded_at);
	strcpy(ev->salt, "00000000000000000000000000000000");
	nev++;
}

/* defaults, the test policy, a database in a fresh temporary directory */
static void test_config(struct cg_config *cfg, char *dir, const char *file)
{
	assert_non_null(mkdtemp(dir));
	cg_config_defaults(cfg);
	strcpy(cfg->site, "test");
	strcpy(cfg->policy_version, "2023-12");
	snprintf(cfg->database, sizeof cfg->database, "%s/%s", dir, file);
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_views_agree_with_the_core(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256], expires[CG_TIME_LEN + 1];
	struct cg_config cfg;
	struct cg_store_port port;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const int64_t day = CG_MS_PER_DAY, now = now_ms(), slack = 60 * 1000;
	long long c_counts[CG_NOUTCOMES] = {0}, sql_counts[CG_NOUTCOMES] = {0};
	int rows = 0;

	(void)state;
	test_config(&cfg, dir, "c.db");
	/* around both lifetimes, a minute either side, for every outcome class */
	for (int k = 0; k < 2; k++) {
		int64_t life = (int64_t)(k ? cfg.consent_max_age_days : cfg.refusal_max_age_days) * day;
		for (int side = -1; side <= 1; side += 2) {
			int64_t at = now - life + side * slack;
			add(CG_ACT_CHOICE, 1, 1, 1, at);
			add(CG_ACT_CHOICE, 0, 0, 0, at);
			add(CG_ACT_CHOICE, 1, 0, 0, at);
			add(CG_ACT_CHOICE, 0, 0, 1, at);
			add(CG_ACT_WITHDRAW, 0, 0, 0, at);
			add(CG_ACT_CHOICE, CG_TRI_NULL, 1, CG_TRI_NULL, at); /* objection-era NULLs */
		}
	}
	add(CG_ACT_ERASE, CG_TRI_NULL, CG_TRI_NULL, CG_TRI_NULL, now - day);
	assert_int_equal(cg_store_port_open(&cfg, CG_STORE_WRITER, &port, err, sizeof err), CG_OK);
	for (int i = 0; i < nev; i++) {
		struct cg_store_batch b = {.event = &evs[i]};
		assert_int_equal(cg_store_submit_wait(&port, &b), CG_OK);
	}
	cg_store_port_close(&port);
	assert_int_equal(sqlite3_open_v2(cfg.database, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

	/* expiry: the same instant, and the same verdict now */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT subject, expires_at, expired FROM consent_current",
	                                    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *subject = (const char *)sqlite3_column_text(st, 0);
		int i = atoi(subject) - 1;
		struct cg_state s;
		cg_state_from_event(&evs[i], &s);
		rows++;
		if (evs[i].action == CG_ACT_ERASE) {
			assert_int_equal(sqlite3_column_type(st, 1), SQLITE_NULL);
			assert_false(cg_choice_current(&cfg, &s, now));
			continue;
		}
		cg_time_format(cg_state_expires_ms(&cfg, &s), expires);
		assert_string_equal((const char *)sqlite3_column_text(st, 1), expires);
		assert_int_equal(sqlite3_column_int(st, 2), now_ms() >= cg_state_expires_ms(&cfg, &s));
		assert_int_equal(sqlite3_column_int(st, 2), !cg_choice_current(&cfg, &s, now_ms()));
	}
	sqlite3_finalize(st);
	assert_int_equal(rows, nev);

	/* outcome classes: the view's counts are the core's */
	for (int i = 0; i < nev; i++) {
		int o = cg_rules_outcome(evs[i].action, evs[i].choice);
		if (o >= 0)
			c_counts[o]++;
	}
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT outcome, sum(n) FROM consent_daily GROUP BY outcome",
	                                    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *o = (const char *)sqlite3_column_text(st, 0);
		int k = strcmp(o, "accept_all") == 0 ? CG_OUT_ACCEPT_ALL : strcmp(o, "reject_all") == 0 ? CG_OUT_REJECT_ALL
		      : strcmp(o, "custom") == 0 ? CG_OUT_CUSTOM : CG_OUT_WITHDRAW;
		sql_counts[k] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	for (int k = 0; k < CG_NOUTCOMES; k++)
		assert_int_equal(sql_counts[k], c_counts[k]);
	assert_true(c_counts[CG_OUT_CUSTOM] > 0 && c_counts[CG_OUT_WITHDRAW] > 0);
	sqlite3_close(db);
	remove_dir(dir);
}

/* The purge carries out the core's retention rules exactly, on rows around
 * each cut-off: a visitor is pruned iff cg_rules_consent_ended_ms is before
 * ended_before_ms; an ip_prefix is cleared iff recorded before
 * ip_prefix_before_ms (also by a later purge, for rows that crossed the line
 * since); a pending outbox row is dropped iff !cg_rules_deliverable. */
static void test_purge_executes_the_core(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256], q[256];
	struct cg_config cfg;
	struct cg_store_port port;
	struct cg_retention_cutoffs cut, cut2;
	struct cg_purge_counts pc;
	struct cg_outbox_row ob[2];
	const int64_t day = CG_MS_PER_DAY, now = now_ms(), min = 60 * 1000, hour = 3600 * 1000;
	int64_t at[NEV];
	sqlite3 *db = NULL;

	(void)state;
	test_config(&cfg, dir, "p.db");
	cg_rules_retention(&cfg, now, &cut);
	cg_rules_retention(&cfg, now + day, &cut2);
	nev = 0;
	/* oldest first, as they commit: visitors whose consent ended a minute
	 * either side of the cut-off (a grant, a refusal, a withdrawal)... */
	for (int side = -1; side <= 1; side += 2) {
		int64_t end = cut.ended_before_ms + side * min;
		at[nev] = end - (int64_t)cfg.consent_max_age_days * day;
		add(CG_ACT_CHOICE, 1, 1, 1, at[nev]);
		at[nev] = end - (int64_t)cfg.refusal_max_age_days * day;
		add(CG_ACT_CHOICE, 0, 0, 0, at[nev]);
	}
	/* ...ip prefixes recorded either side of their cut-off, and half a day
	 * after it (the next day's purge clears that one) */
	for (int k = 0; k < 3; k++) {
		at[nev] = cut.ip_prefix_before_ms + (k == 0 ? -min : k == 1 ? min : 12 * hour);
		add(CG_ACT_CHOICE, 1, 0, 1, at[nev]);
	}
	for (int side = -1; side <= 1; side += 2) {
		at[nev] = cut.ended_before_ms + side * min;
		add(CG_ACT_WITHDRAW, 0, 0, 0, at[nev]);
	}
	/* withdrawals are younger than the refusals above: sort by time */
	for (int i = 1; i < nev; i++)
		for (int j = i; j > 0 && at[j - 1] > at[j]; j--) {
			struct cg_event t = evs[j];
			int64_t ta = at[j];
			evs[j] = evs[j - 1], at[j] = at[j - 1];
			evs[j - 1] = t, at[j - 1] = ta;
		}
	for (int i = 0; i < nev; i++)
		strcpy(evs[i].ip_prefix, "203.0.113.0/24");
	/* pending rows a minute either side of 72 h */
	for (int i = 0; i < 2; i++) {
		memset(&ob[i], 0, sizeof ob[i]);
		ob[i].destination = "d";
		ob[i].purpose = CG_STATISTICS;
		ob[i].mode = CG_FORWARD_MINIMISED;
		ob[i].payload = "{}";
		cg_time_format(cut.pending_before_ms + (i ? min : -min), ob[i].created_at);
	}
	assert_int_equal(cg_store_port_open(&cfg, CG_STORE_WRITER, &port, err, sizeof err), CG_OK);
	for (int i = 0; i < nev; i++) {
		struct cg_store_batch b = {.event = &evs[i]};
		assert_int_equal(cg_store_submit_wait(&port, &b), CG_OK);
	}
	{
		struct cg_store_batch b = {.rows = ob, .nrows = 2};
		assert_int_equal(cg_store_submit_wait(&port, &b), CG_OK);
	}
	assert_int_equal(port.purge(port.ctx, &cfg, now, 0, &pc), CG_OK);
	assert_int_equal(sqlite3_open_v2(cfg.database, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (int i = 0; i < nev; i++) {
		struct cg_state s;
		int64_t rec;
		sqlite3_stmt *st = NULL;
		int present, ip;
		cg_state_from_event(&evs[i], &s);
		assert_int_equal(cg_time_parse(evs[i].recorded_at, &rec), CG_OK);
		snprintf(q, sizeof q, "SELECT count(*), count(ip_prefix) FROM consent_events WHERE subject = '%s'",
		         evs[i].subject);
		assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		present = sqlite3_column_int(st, 0);
		ip = sqlite3_column_int(st, 1);
		sqlite3_finalize(st);
		assert_int_equal(present, cg_rules_consent_ended_ms(&cfg, &s) >= cut.ended_before_ms);
		if (present)
			assert_int_equal(ip, rec >= cut.ip_prefix_before_ms);
	}
	{
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT created_at, state FROM outbox", -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int64_t created;
			assert_int_equal(cg_time_parse((const char *)sqlite3_column_text(st, 0), &created), CG_OK);
			assert_string_equal((const char *)sqlite3_column_text(st, 1),
			                    cg_rules_deliverable(created, now) ? "pending" : "dropped");
		}
		sqlite3_finalize(st);
	}
	assert_int_equal(pc.outbox_expired, 1);
	/* a day later: the rows recorded a minute and half a day after the first
	 * cut-off have crossed it */
	assert_int_equal(port.purge(port.ctx, &cfg, now + day, 0, &pc), CG_OK);
	assert_int_equal(pc.ip_prefixes_cleared, 2);
	{
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM consent_events WHERE ip_prefix IS NOT NULL"
		                                        " AND recorded_at < ?", -1, &st, NULL), SQLITE_OK);
		cg_time_format(cut2.ip_prefix_before_ms, q);
		sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	cg_store_port_close(&port);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views_agree_with_the_core),
		cmocka_unit_test(test_purge_executes_the_core),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
