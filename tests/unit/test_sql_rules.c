/* The views compute in SQL what the core decides in C; this proves they
 * agree on the same rows, generated around every boundary: a choice's
 * expiry (consent_current.expires_at / expired against cg_state_expires_ms)
 * and the outcome class (consent_daily.outcome against cg_rules_outcome).
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
#include "consentgate/store.h"
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
	assert_non_null(mkdtemp(dir));
	cg_config_defaults(&cfg);
	strcpy(cfg.site, "test");
	strcpy(cfg.policy_version, "2023-12");
	snprintf(cfg.database, sizeof cfg.database, "%s/c.db", dir);
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
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views_agree_with_the_core),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
