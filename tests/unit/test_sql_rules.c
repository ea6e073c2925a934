/* The views compute in SQL what the core decides in C; this proves they
 * agree on the same rows, generated around every boundary: a choice's
 * expiry (consent_current.expires_at / expired against cg_state_expires_ms)
 * and the outcome class (consent_daily.outcome against cg_rules_outcome);
 * and the purge carries out the retention rules at their boundaries.
 * Real SQLite through the store's port, in a temporary directory; with
 * CG_BACKEND=postgresql, real PostgreSQL (a fresh database in the cluster at
 * CG_PG_HOST, tests/lib/pg.sh): both backends execute the same rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/audit.h"
#include "consentgate/decision.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/report.h"
#include "consentgate/storage.h"
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
	snprintf(ev->salt, sizeof ev->salt, "%032x", nev + 1);
	if (action == CG_ACT_CHOICE)
		strcpy(ev->banner, "build=79c60a93689838a5ba7217b6e331a89d;notice="
		                   "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6");
	strcpy(ev->lang, "nb");
	strcpy(ev->country, "NO");
	strcpy(ev->page, "https://shop.example/a");
	nev++;
}

static int scan(void *a, const struct cg_event *ev)
{
	cg_audit_scan(a, ev);
	return 0;
}

static int walk(void *a, const struct cg_event *ev)
{
	cg_audit_row(a, ev);
	return 0;
}

/* the whole log as the verifiers read it back (audit.h), both walks in one
 * snapshot: *counts filled; a purge at purge_at (0: none) between them, as
 * a daemon's may run beside a verifier, is not seen */
static void audit_store(const struct cg_store_port *p, const struct cg_config *cfg, int64_t now, int64_t purge_at,
                        struct cg_audit_counts *counts)
{
	struct cg_audit_opts o = {.now_ms = now, .min_retention_days = -1};
	struct cg_store_reader *r = NULL;
	struct cg_audit *a = NULL;
	struct cg_purge_counts pc;

	assert_int_equal(p->reader_open(p->ctx, &r), CG_OK);
	assert_int_equal(cg_audit_new(&o, &a), CG_OK);
	assert_int_equal(p->snapshot(r, 1), CG_OK);
	assert_int_equal(p->each_link(r, scan, a), CG_OK);
	if (purge_at)
		assert_int_equal(p->purge(p->ctx, cfg, purge_at, 0, &pc), CG_OK);
	assert_int_equal(p->each_event(r, NULL, walk, a), CG_OK);
	assert_int_equal(p->snapshot(r, 0), CG_OK);
	if (cg_audit_finish(a) != CG_OK)
		fail_msg("the log does not verify: %s", cg_audit_result(a)->why);
	*counts = cg_audit_result(a)->n;
	cg_audit_free(a);
	p->reader_free(r);
}

static int on_pg(void)
{
	const char *b = getenv("CG_BACKEND");

	return b && strcmp(b, "postgresql") == 0;
}

/* defaults, the test policy, a database in a fresh temporary directory (or
 * a fresh PostgreSQL database) */
static void test_config(struct cg_config *cfg, char *dir, const char *file)
{
	static int n;

	assert_non_null(mkdtemp(dir));
	cg_config_defaults(cfg);
	strcpy(cfg->site, "test");
	strcpy(cfg->policy_version, "2023-12");
	snprintf(cfg->database, sizeof cfg->database, "%s/%s", dir, file);
	if (on_pg()) {
		char admin[512], sql[128];
		PGconn *c;
		PGresult *r;
		assert_non_null(getenv("CG_PG_HOST"));
		snprintf(admin, sizeof admin, "host=%s port=%s user=cg dbname=postgres", getenv("CG_PG_HOST"),
		         getenv("CG_PG_PORT") ? getenv("CG_PG_PORT") : "5432");
		c = PQconnectdb(admin);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		snprintf(sql, sizeof sql, "CREATE DATABASE cg_sqlrules_%d_%d", (int)getpid(), ++n);
		r = PQexec(c, sql);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		PQfinish(c);
		cfg->backend = CG_BACKEND_POSTGRESQL;
		snprintf(cfg->url, sizeof cfg->url, "host=%s port=%s user=cg dbname=cg_sqlrules_%d_%d",
		         getenv("CG_PG_HOST"), getenv("CG_PG_PORT") ? getenv("CG_PG_PORT") : "5432", (int)getpid(), n);
	}
}

/* The analyst views, read as text the same way on either backend. */
struct q {
	sqlite3 *db;
	PGconn *pg;
};

static void q_open(struct q *q, const struct cg_config *cfg)
{
	memset(q, 0, sizeof *q);
	if (cfg->backend == CG_BACKEND_POSTGRESQL) {
		q->pg = PQconnectdb(cfg->url);
		assert_int_equal(PQstatus(q->pg), CONNECTION_OK);
	} else {
		assert_int_equal(sqlite3_open_v2(cfg->database, &q->db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	}
}

static void q_close(struct q *q)
{
	sqlite3_close(q->db);
	PQfinish(q->pg);
}

/* fn(ctx, cols) for every row; a NULL column is NULL; returns the row count */
static int q_rows(struct q *q, const char *sql, void (*fn)(void *ctx, const char *const *cols), void *ctx)
{
	const char *cols[8];
	int rows = 0;

	if (q->pg) {
		PGresult *r = PQexec(q->pg, sql);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++, rows++) {
			for (int k = 0; k < PQnfields(r) && k < 8; k++)
				cols[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
			fn(ctx, cols);
		}
		PQclear(r);
		return rows;
	}
	{
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(q->db, sql, -1, &st, NULL), SQLITE_OK);
		for (; sqlite3_step(st) == SQLITE_ROW; rows++) {
			for (int k = 0; k < sqlite3_column_count(st) && k < 8; k++)
				cols[k] = (const char *)sqlite3_column_text(st, k);
			fn(ctx, cols);
		}
		sqlite3_finalize(st);
	}
	return rows;
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

struct views {
	const struct cg_config *cfg;
	int rows;
	long long counts[CG_NOUTCOMES];
};

/* consent_current: the same expiry instant as the core, and the same verdict now */
static void expiry_row(void *arg, const char *const *c)
{
	struct views *v = arg;
	int i = atoi(c[0]) - 1;
	char expires[CG_TIME_LEN + 1];
	struct cg_state s;

	cg_state_from_event(&evs[i], &s);
	v->rows++;
	if (evs[i].action == CG_ACT_ERASE) {
		assert_null(c[1]);
		assert_false(cg_choice_current(v->cfg, &s, now_ms()));
		return;
	}
	cg_time_format(cg_state_expires_ms(v->cfg, &s), expires);
	assert_string_equal(c[1], expires);
	assert_int_equal(atoi(c[2]), now_ms() >= cg_state_expires_ms(v->cfg, &s));
	assert_int_equal(atoi(c[2]), !cg_choice_current(v->cfg, &s, now_ms()));
}

static void outcome_row(void *arg, const char *const *c)
{
	struct views *v = arg;
	int k = strcmp(c[0], "accept_all") == 0 ? CG_OUT_ACCEPT_ALL : strcmp(c[0], "reject_all") == 0 ? CG_OUT_REJECT_ALL
	      : strcmp(c[0], "custom") == 0 ? CG_OUT_CUSTOM : CG_OUT_WITHDRAW;

	v->counts[k] = atoll(c[1]);
}

static void test_views_agree_with_the_core(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256];
	struct cg_config cfg;
	struct cg_store_port port;
	struct views v = {.cfg = &cfg};
	struct q q;
	const int64_t day = CG_MS_PER_DAY, now = now_ms(), slack = 60 * 1000;
	long long c_counts[CG_NOUTCOMES] = {0};

	(void)state;
	test_config(&cfg, dir, "c.db");
	nev = 0;
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
	q_open(&q, &cfg);
	q_rows(&q, "SELECT subject, expires_at, expired FROM consent_current", expiry_row, &v);
	assert_int_equal(v.rows, nev);
	/* outcome classes: the view's counts are the core's */
	for (int i = 0; i < nev; i++) {
		int o = cg_rules_outcome(evs[i].action, evs[i].choice);
		if (o >= 0)
			c_counts[o]++;
	}
	q_rows(&q, "SELECT outcome, sum(n) FROM consent_daily GROUP BY outcome", outcome_row, &v);
	for (int k = 0; k < CG_NOUTCOMES; k++)
		assert_int_equal(v.counts[k], c_counts[k]);
	assert_true(c_counts[CG_OUT_CUSTOM] > 0 && c_counts[CG_OUT_WITHDRAW] > 0);
	q_close(&q);
	remove_dir(dir);
}

static void ints_row(void *arg, const char *const *c)
{
	int *out = arg;

	out[0] = atoi(c[0]);
	out[1] = c[1] ? atoi(c[1]) : 0;
}

struct outbox_check {
	int64_t now;
	int rows;
};

static void outbox_row(void *arg, const char *const *c)
{
	struct outbox_check *o = arg;
	int64_t created;

	assert_int_equal(cg_time_parse(c[0], &created), CG_OK);
	assert_string_equal(c[1], cg_rules_deliverable(created, o->now) ? "pending" : "dropped");
	o->rows++;
}

/* The visitors around each cut-off, oldest first as they commit: whose
 * consent ended a minute either side (a grant, a refusal, a withdrawal),
 * and ip prefixes recorded either side of their cut-off and half a day
 * after it (the next day's purge clears that one). */
static void purge_rows(const struct cg_config *cfg, const struct cg_retention_cutoffs *cut, int64_t *at)
{
	const int64_t day = CG_MS_PER_DAY, min = 60 * 1000, hour = 3600 * 1000;

	nev = 0;
	for (int side = -1; side <= 1; side += 2) {
		int64_t end = cut->ended_before_ms + side * min;
		at[nev] = end - (int64_t)cfg->consent_max_age_days * day;
		add(CG_ACT_CHOICE, 1, 1, 1, at[nev]);
		at[nev] = end - (int64_t)cfg->refusal_max_age_days * day;
		add(CG_ACT_CHOICE, 0, 0, 0, at[nev]);
	}
	for (int k = 0; k < 3; k++) {
		at[nev] = cut->ip_prefix_before_ms + (k == 0 ? -min : k == 1 ? min : 12 * hour);
		add(CG_ACT_CHOICE, 1, 0, 1, at[nev]);
	}
	for (int side = -1; side <= 1; side += 2) {
		at[nev] = cut->ended_before_ms + side * min;
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
}

/* The purge carries out the core's retention rules exactly, on rows around
 * each cut-off: a visitor is pruned iff cg_rules_consent_ended_ms is before
 * ended_before_ms; an ip_prefix is cleared iff recorded before
 * ip_prefix_before_ms (also by a later purge, for rows that crossed the line
 * since); a pending outbox row is dropped iff !cg_rules_deliverable. */
static void test_purge_executes_the_core(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256], sql[256], t[CG_TIME_LEN + 1];
	struct cg_config cfg;
	struct cg_store_port port;
	struct cg_retention_cutoffs cut, cut2;
	struct cg_purge_counts pc;
	struct cg_outbox_row ob[2];
	const int64_t day = CG_MS_PER_DAY, now = now_ms(), min = 60 * 1000;
	struct outbox_check oc = {.now = now};
	int64_t at[NEV];
	int n[2];
	struct q q;

	(void)state;
	test_config(&cfg, dir, "p.db");
	cg_rules_retention(&cfg, now, &cut);
	cg_rules_retention(&cfg, now + day, &cut2);
	purge_rows(&cfg, &cut, at);
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
	q_open(&q, &cfg);
	for (int i = 0; i < nev; i++) {
		struct cg_state s;
		int64_t rec;
		cg_state_from_event(&evs[i], &s);
		assert_int_equal(cg_time_parse(evs[i].recorded_at, &rec), CG_OK);
		snprintf(sql, sizeof sql, "SELECT count(*), count(ip_prefix) FROM consent_events WHERE subject = '%s'",
		         evs[i].subject);
		q_rows(&q, sql, ints_row, n);
		assert_int_equal(n[0], cg_rules_consent_ended_ms(&cfg, &s) >= cut.ended_before_ms);
		if (n[0])
			assert_int_equal(n[1], rec >= cut.ip_prefix_before_ms);
	}
	assert_int_equal(q_rows(&q, "SELECT created_at, state FROM outbox", outbox_row, &oc), 2);
	assert_int_equal(pc.outbox_expired, 1);
	/* a day later: the rows recorded a minute and half a day after the first
	 * cut-off have crossed it */
	assert_int_equal(port.purge(port.ctx, &cfg, now + day, 0, &pc), CG_OK);
	assert_int_equal(pc.ip_prefixes_cleared, 2);
	cg_time_format(cut2.ip_prefix_before_ms, t);
	snprintf(sql, sizeof sql, "SELECT count(*), 0 FROM consent_events WHERE ip_prefix IS NOT NULL AND recorded_at < '%s'",
	         t);
	q_rows(&q, sql, ints_row, n);
	assert_int_equal(n[0], 0);
	q_close(&q);
	/* what the purges did verifies: IP prefixes under their digests, the
	 * removed rows' links with their fields, each purge's log event */
	{
		struct cg_audit_counts c;
		audit_store(&port, &cfg, now + day + 1000, 1100 * day + now, &c);
		assert_int_equal(c.purges, 2);  /* the second pruned the visitors who crossed the line since */
		assert_true(c.pruned > 0);
		assert_true(c.ip_cleared > 0);
		assert_int_equal(c.rows_v1, 0);
		audit_store(&port, &cfg, 1100 * day + now + 1000, 0, &c);
		assert_int_equal(c.purges, 3);  /* the one between the walks, seen by the next verifier */
	}
	cg_store_port_close(&port);
	remove_dir(dir);
}

static int outcome(const struct cg_store_port *p, int64_t id, int state)
{
	struct cg_outbox_update u = {.id = id, .state = state, .attempts = 1};
	struct cg_store_batch b = {.updates = &u, .nupdates = 1};

	return cg_store_submit_wait(p, &b);
}

/* PostgreSQL, two instances on one database (two ports): a claimed row is
 * the claimer's until its lease ends, SKIP LOCKED and the lease keep the
 * other's hands off it, then the other takes it over, and from then on only
 * the new holder's outcome counts. */
static void test_outbox_leases(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256], sql[160];
	struct cg_config cfg;
	struct cg_store_port a, b;
	struct cg_store_reader *ra = NULL, *rb = NULL;
	struct cg_outbox_item *items = NULL;
	struct cg_outbox_row row;
	const int64_t now = now_ms();
	size_t n = 0;
	int64_t id;
	int st[2];
	struct q q;

	(void)state;
	test_config(&cfg, dir, "l.db");
	memset(&row, 0, sizeof row);
	row.destination = "d";
	row.purpose = CG_STATISTICS;
	row.mode = CG_FORWARD_MINIMISED;
	row.payload = "{}";
	cg_time_format(now, row.created_at);
	assert_int_equal(cg_store_port_open(&cfg, CG_STORE_WRITER, &a, err, sizeof err), CG_OK);
	assert_int_equal(cg_store_port_open(&cfg, CG_STORE_WRITER, &b, err, sizeof err), CG_OK);
	assert_int_equal(a.reader_open(a.ctx, &ra), CG_OK);
	assert_int_equal(b.reader_open(b.ctx, &rb), CG_OK);
	assert_int_equal(cg_store_submit_wait(&a, &(struct cg_store_batch){.rows = &row, .nrows = 1}), CG_OK);
	/* A claims it for a minute: B finds nothing */
	assert_int_equal(a.claim_outbox(ra, now, 10, 60000, &items, &n), CG_OK);
	assert_int_equal(n, 1);
	id = items[0].id;
	cg_store_outbox_items_free(items, n);
	assert_int_equal(b.claim_outbox(rb, now, 10, 60000, &items, &n), CG_OK);
	assert_int_equal(n, 0);
	cg_store_outbox_items_free(items, n);
	/* B may not record an outcome for A's row */
	assert_int_equal(outcome(&b, id, CG_OB_DELIVERED), CG_OK);
	q_open(&q, &cfg);
	snprintf(sql, sizeof sql, "SELECT CASE state WHEN 'pending' THEN 0 ELSE 1 END, 0 FROM outbox WHERE id = %lld",
	         (long long)id);
	q_rows(&q, sql, ints_row, st);
	assert_int_equal(st[0], 0);
	/* A's lease ends (as if A died or hung a minute): B takes the row over... */
	snprintf(sql, sizeof sql, "UPDATE outbox_rows SET claimed_until_ms = cg_now_ms() - 1 WHERE id = %lld",
	         (long long)id);
	PQclear(PQexec(q.pg, sql));
	assert_int_equal(b.claim_outbox(rb, now, 10, 60000, &items, &n), CG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].id, id);
	cg_store_outbox_items_free(items, n);
	/* ...and now A's late outcome is the one that does not count */
	assert_int_equal(outcome(&a, id, CG_OB_DEAD), CG_OK);
	snprintf(sql, sizeof sql, "SELECT CASE state WHEN 'pending' THEN 0 ELSE 1 END, 0 FROM outbox WHERE id = %lld",
	         (long long)id);
	q_rows(&q, sql, ints_row, st);
	assert_int_equal(st[0], 0);
	assert_int_equal(outcome(&b, id, CG_OB_DELIVERED), CG_OK);
	snprintf(sql, sizeof sql, "SELECT count(*), 0 FROM outbox WHERE id = %lld AND state = 'delivered'"
	         " AND claimed_by IS NULL", (long long)id);
	q_rows(&q, sql, ints_row, st);
	assert_int_equal(st[0], 1);
	q_close(&q);
	a.reader_free(ra);
	b.reader_free(rb);
	cg_store_port_close(&a);
	cg_store_port_close(&b);
	remove_dir(dir);
}

/* ---- recipients of erasure notices (storage.h) ---- */

static struct cg_outbox_row ob_row(const char *subject, const char *dest, int mode, const char *payload,
                                   const char *if_recipient_of)
{
	struct cg_outbox_row r;

	memset(&r, 0, sizeof r);
	snprintf(r.subject, sizeof r.subject, "%s", subject);
	snprintf(r.if_recipient_of, sizeof r.if_recipient_of, "%s", if_recipient_of);
	r.destination = dest;
	r.purpose = CG_STATISTICS;
	r.mode = mode;
	r.payload = payload;
	cg_time_format(now_ms(), r.created_at);
	return r;
}

/* Claims every due row and records an outcome for each: DEAD for a row of
 * `dead` (a subject), the notices back to pending, the rest DELIVERED;
 * `between` runs after the claim (while the rows are on their way).
 * applied: which outcomes took effect, in the order claimed. */
static size_t deliver(const struct cg_store_port *p, struct cg_store_reader *r, const char *dead,
                      void (*between)(const struct cg_store_port *p), unsigned char *applied)
{
	struct cg_outbox_item *items = NULL;
	struct cg_outbox_update u[8];
	size_t n = 0;

	assert_int_equal(p->claim_outbox(r, now_ms() + 1000, 8, 60000, &items, &n), CG_OK);
	for (size_t i = 0; i < n; i++) {
		memset(&u[i], 0, sizeof u[i]);
		u[i].id = items[i].id;
		u[i].state = cg_erasure_is(items[i].payload) ? CG_OB_PENDING
		             : dead && strcmp(items[i].subject, dead) == 0 ? CG_OB_DEAD : CG_OB_DELIVERED;
		u[i].attempts = 1;
		u[i].next_attempt_ms = now_ms() + 60000;
	}
	cg_store_outbox_items_free(items, n);
	if (between)
		between(p);
	memset(applied, 0, n);
	assert_int_equal(cg_store_submit_wait(p, &(struct cg_store_batch){.updates = u, .nupdates = n,
	                                                                  .applied = applied}), CG_OK);
	return n;
}

static uint32_t recipients_of(const struct cg_store_port *p, struct cg_store_reader *r,
                              const struct cg_config *cfg, const char *subject)
{
	uint32_t mask = 0;
	int64_t since = -1;

	assert_int_equal(cg_store_recipients(p, r, cfg, subject, &mask, &since), CG_OK);
	assert_int_equal(since, 0);  /* a new store records from its start */
	return mask;
}

static void pending(const struct cg_store_port *p, struct cg_store_reader *r, long long events, long long notices)
{
	long long e = -1, n = -1;

	assert_int_equal(p->outbox_pending(r, &e, &n), CG_OK);
	assert_int_equal(e, events);
	assert_int_equal(n, notices);
}

static void submit_event(const struct cg_store_port *p, int action, const char *subject,
                         const struct cg_outbox_row *rows, size_t nrows)
{
	add(action, CG_TRI_NULL, CG_TRI_NULL, CG_TRI_NULL, now_ms());
	strcpy(evs[nev - 1].subject, subject);
	assert_int_equal(cg_store_submit_wait(p, &(struct cg_store_batch){.event = &evs[nev - 1], .rows = rows,
	                                                                  .nrows = nrows}), CG_OK);
}

static void withdraw_second(const struct cg_store_port *p)
{
	submit_event(p, CG_ACT_WITHDRAW, evs[1].subject, NULL, 0);
}

static void erase_third(const struct cg_store_port *p)
{
	submit_event(p, CG_ACT_ERASE, evs[2].subject, NULL, 0);
}

/* Both backends record a recipient for each acknowledged delivery of a
 * full row (whatever became of the row meanwhile, as long as it still has
 * its subject), queue a conditional row only for a recorded recipient,
 * forget an erased visitor's recipients after the erasure's rows, say which
 * outcomes took effect, and count erasure notices apart. */
static void test_recipients(void **state)
{
	char dir[] = "/tmp/cg-sqlrules.XXXXXX", err[256], s1[CG_SUBJECT_LEN + 1], s2[CG_SUBJECT_LEN + 1],
	     s3[CG_SUBJECT_LEN + 1];
	static const char N[] = "{\"erasure\":{}}";
	struct cg_config cfg;
	struct cg_store_port port;
	struct cg_store_reader *rd = NULL;
	struct cg_outbox_row rows[3];
	unsigned char applied[8];

	(void)state;
	test_config(&cfg, dir, "r.db");
	cfg.n_dest = 2;
	strcpy(cfg.dest[0].name, "hook");
	strcpy(cfg.dest[1].name, "li");
	nev = 0;
	for (int i = 0; i < 3; i++)
		add(CG_ACT_CHOICE, 0, 1, 0, now_ms() - 1000);
	strcpy(s1, evs[0].subject), strcpy(s2, evs[1].subject), strcpy(s3, evs[2].subject);
	assert_int_equal(cg_store_port_open(&cfg, CG_STORE_WRITER, &port, err, sizeof err), CG_OK);
	assert_int_equal(port.reader_open(port.ctx, &rd), CG_OK);
	for (int i = 0; i < nev; i++)
		assert_int_equal(cg_store_submit_wait(&port, &(struct cg_store_batch){.event = &evs[i]}), CG_OK);
	/* acknowledged full and minimised rows, a dead one */
	rows[0] = ob_row(s1, "hook", CG_FORWARD_FULL, "{}", "");
	rows[1] = ob_row(s2, "li", CG_FORWARD_MINIMISED, "{}", "");
	rows[2] = ob_row(s3, "hook", CG_FORWARD_FULL, "{}", "");
	assert_int_equal(cg_store_submit_wait(&port, &(struct cg_store_batch){.rows = rows, .nrows = 3}), CG_OK);
	assert_int_equal(deliver(&port, rd, s3, NULL, applied), 3);
	assert_memory_equal(applied, "\1\1\1", 3);
	assert_int_equal(recipients_of(&port, rd, &cfg, s1), 1);
	assert_int_equal(recipients_of(&port, rd, &cfg, s2), 0);
	assert_int_equal(recipients_of(&port, rd, &cfg, s3), 0);
	pending(&port, rd, 0, 0);
	/* conditional rows: only hook's for s1 goes in, counted as a notice */
	rows[0] = ob_row("", "hook", CG_FORWARD_FULL, N, s1);
	rows[1] = ob_row("", "li", CG_FORWARD_FULL, N, s1);
	rows[2] = ob_row("", "hook", CG_FORWARD_FULL, N, s2);
	assert_int_equal(cg_store_submit_wait(&port, &(struct cg_store_batch){.rows = rows, .nrows = 3}), CG_OK);
	pending(&port, rd, 0, 1);
	/* s2 withdraws while its row is on its way: the acknowledgement's
	 * outcome does not take effect (dropped), the recipient is recorded */
	rows[0] = ob_row(s2, "hook", CG_FORWARD_FULL, "{}", "");
	assert_int_equal(cg_store_submit_wait(&port, &(struct cg_store_batch){.rows = rows, .nrows = 1}), CG_OK);
	pending(&port, rd, 1, 1);
	assert_int_equal(deliver(&port, rd, NULL, withdraw_second, applied), 2);
	assert_memory_equal(applied, "\1\0", 2);  /* the notice (back to pending), s2's row */
	assert_int_equal(recipients_of(&port, rd, &cfg, s2), 1);
	/* s3 erased while its row is on its way: no subject left to record */
	rows[0] = ob_row(s3, "hook", CG_FORWARD_FULL, "{}", "");
	assert_int_equal(cg_store_submit_wait(&port, &(struct cg_store_batch){.rows = rows, .nrows = 1}), CG_OK);
	assert_int_equal(deliver(&port, rd, NULL, erase_third, applied), 1);
	assert_memory_equal(applied, "\0", 1);
	assert_int_equal(recipients_of(&port, rd, &cfg, s3), 0);
	/* s1 erased, its notice rows in the same batch: hook's goes in (hook
	 * is recorded), then s1's recipients are forgotten */
	rows[0] = ob_row("", "hook", CG_FORWARD_FULL, N, s1);
	rows[1] = ob_row("", "li", CG_FORWARD_FULL, N, s1);
	submit_event(&port, CG_ACT_ERASE, s1, rows, 2);
	pending(&port, rd, 0, 2);
	assert_int_equal(recipients_of(&port, rd, &cfg, s1), 0);
	port.reader_free(rd);
	cg_store_port_close(&port);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views_agree_with_the_core),
		cmocka_unit_test(test_purge_executes_the_core),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_outbox_leases),
	};
	/* the lease is PostgreSQL's: one SQLite file has one daemon, whose
	 * claim is a read */
	return _cmocka_run_group_tests("sql_rules", tests, on_pg() ? 4 : 3, NULL, NULL);
}
