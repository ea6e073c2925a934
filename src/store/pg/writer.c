/* The writer thread: group commit on PostgreSQL. Every queued batch of this
 * instance goes into one transaction sent as two pipelines (two round
 * trips): the chain lock and its tip, then every row as a few multi-row
 * statements and COMMIT. Several instances append to one global chain: the
 * transaction-scoped advisory lock PGS_LOCK_CHAIN orders them, so ids stay
 * consecutive (no gap, no fork); the lock is held from the tip read to the
 * COMMIT, one round trip plus the commit's flush.
 *
 * Each transaction also takes a lock of its own batch key and writes the
 * key into `batches`. When the connection drops while COMMIT is in flight,
 * the outcome is resolved on a new connection before anyone is answered:
 * waiting for that key's lock waits out the old transaction, whatever it
 * was doing, and then the key's row says whether it committed. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/rules.h"
#include "consentgate/timefmt.h"
#include "internal.h"

#define MAX_JOBS 4096       /* jobs per transaction; the rest wait for the next */
/* statements per pipeline: at most 3 per job (redact, insert, effect) */
#define MAX_STMTS (3 * MAX_JOBS + 16)

static const char ins_events_sql[] =
	"INSERT INTO events(id, sid, recorded_ms, choice_back_ms, action, preferences, statistics, marketing,"
	" objection_purpose, objections, gpc, dnt, policy_version, lang, banner, country, page, ip_prefix,"
	" salt, core_digest, personal_digest, hash)"
	" SELECT v.id, s.sid, v.recorded_ms, v.choice_back_ms, v.action, v.preferences, v.statistics,"
	" v.marketing, v.objection_purpose, v.objections, v.gpc, v.dnt, v.policy_version, v.lang, v.banner,"
	" v.country, v.page, v.ip_prefix, v.salt, v.core_digest, v.personal_digest, v.hash"
	" FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[], $5::smallint[], $6::smallint[],"
	" $7::smallint[], $8::smallint[], $9::smallint[], $10::smallint[], $11::smallint[], $12::smallint[],"
	" $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::bytea[],"
	" $20::bytea[], $21::bytea[], $22::bytea[]) AS v(id, subject, recorded_ms, choice_back_ms, action,"
	" preferences, statistics, marketing, objection_purpose, objections, gpc, dnt, policy_version, lang,"
	" banner, country, page, ip_prefix, salt, core_digest, personal_digest, hash)"
	/* a missing subject leaves sid NULL: NOT NULL fails the transaction */
	" LEFT JOIN subjects s ON s.digest = v.subject";
#define EV_COLS 22

static const char ins_outbox_sql[] =
	"INSERT INTO outbox_rows(sid, destination, purpose, mode, payload, created_ms, next_ms)"
	" SELECT s.sid, v.destination, v.purpose, v.mode, v.payload, v.created_ms, v.created_ms"
	" FROM unnest($1::bytea[], $2::text[], $3::smallint[], $4::smallint[], $5::text[], $6::bigint[])"
	" WITH ORDINALITY AS v(subject, destination, purpose, mode, payload, created_ms, ord)"
	" LEFT JOIN subjects s ON s.digest = v.subject ORDER BY v.ord";
#define OB_COLS 6

/* only the holder of a row's claim records its outcome (pgs_claim_outbox) */
static const char upd_outbox_sql[] =
	"UPDATE outbox_rows o SET state = u.state, attempts = u.attempts, next_ms = u.next_ms,"
	" last_error = u.last_error, claimed_by = NULL, claimed_until_ms = NULL"
	" FROM unnest($1::bigint[], $2::smallint[], $3::integer[], $4::bigint[], $5::text[])"
	" AS u(id, state, attempts, next_ms, last_error)"
	" WHERE o.id = u.id AND o.state = 0 AND o.claimed_by = $6";
#define UP_COLS 5

static const char subjects_sql[] =
	"INSERT INTO subjects(digest) SELECT d FROM unnest($1::bytea[]) WITH ORDINALITY AS v(d, ord)"
	" ORDER BY ord ON CONFLICT (digest) DO NOTHING";

#define SID "(SELECT sid FROM subjects WHERE digest = $1)"
/* Erasure: every personal column of the subject's rows, and the salt that
 * would let anyone confirm a guess of them, goes. The proof columns stay. */
static const char redact_sql[] =
	"UPDATE events SET salt = NULL, gpc = NULL, dnt = NULL, lang = NULL, banner = NULL, country = NULL,"
	" page = NULL, ip_prefix = NULL WHERE sid = " SID;
/* What an event does to the visitor's outbox rows is the core's rule
 * (cg_rules_outbox_effect); these statements carry it out. */
static const char *const effect_sql[] = {
	[CG_EFFECT_DROP_PENDING] = "UPDATE outbox_rows SET state = 2, last_error = $2 WHERE sid = " SID " AND state = 0",
	[CG_EFFECT_DROP_PENDING_PURPOSE] = "UPDATE outbox_rows SET state = 2, last_error = $2"
	                                   " WHERE sid = " SID " AND state = 0 AND purpose = $3::smallint",
	[CG_EFFECT_ERASE] = "UPDATE outbox_rows SET sid = NULL, payload = '',"
	                    " last_error = CASE state WHEN 0 THEN $2 ELSE 'erased' END,"
	                    " state = CASE state WHEN 0 THEN 2 ELSE state END, claimed_by = NULL,"
	                    " claimed_until_ms = NULL WHERE sid = " SID,
};

/* A transaction under construction: statements, and the memory their
 * parameters point into (freed by plan_free). */
struct plan {
	struct pgs_stmt st[MAX_STMTS];
	int n;
	struct pgs_arr ev[EV_COLS], ob[OB_COLS], up[UP_COLS];
	int nev, nob, nup;
	char **owned;               /* strings the statements point to */
	size_t nowned, capowned;
	int failed;
};

/* The plan keeps s (malloc'd) until plan_reset; NULL if it could not. */
static const char *own(struct plan *p, char *s)
{
	if (s && p->nowned == p->capowned) {
		size_t ncap = p->capowned ? p->capowned * 2 : 64;
		char **nv = realloc(p->owned, ncap * sizeof *nv);
		if (nv) {
			p->owned = nv;
			p->capowned = ncap;
		}
	}
	if (!s || p->nowned == p->capowned) {
		free(s);
		p->failed = 1;
		return NULL;
	}
	p->owned[p->nowned++] = s;
	return s;
}

static struct pgs_stmt *add_stmt(struct plan *p, const char *sql)
{
	struct pgs_stmt *st;

	if (p->n == MAX_STMTS) {
		p->failed = 1;
		return &p->st[MAX_STMTS - 1]; /* harmless scratch: the plan is not run */
	}
	st = &p->st[p->n++];
	memset(st, 0, sizeof *st);
	st->sql = sql;
	return st;
}

static void arrs_init(struct pgs_arr *a, int n)
{
	for (int i = 0; i < n; i++)
		pgs_arr_init(&a[i]);
}

static void arrs_free(struct pgs_arr *a, int n)
{
	for (int i = 0; i < n; i++)
		pgs_arr_free(&a[i]);
}

/* Turns the accumulated rows of one kind into a statement. */
static void flush_arrays(struct plan *p, struct pgs_arr *a, int ncols, int *nrows, const char *sql,
                         const char *extra)
{
	struct pgs_stmt *st;

	if (!*nrows)
		return;
	st = add_stmt(p, sql);
	for (int i = 0; i < ncols; i++) {
		st->vals[i] = pgs_arr_end(&a[i]) ? own(p, cg_buf_take(&a[i].b)) : NULL;
		p->failed |= !st->vals[i];
		pgs_arr_free(&a[i]);
		pgs_arr_init(&a[i]);
	}
	st->n = ncols;
	if (extra)
		st->vals[st->n++] = extra;
	*nrows = 0;
}

static void flush_all(struct plan *p, const char *instance)
{
	flush_arrays(p, p->ev, EV_COLS, &p->nev, ins_events_sql, NULL);
	flush_arrays(p, p->ob, OB_COLS, &p->nob, ins_outbox_sql, NULL);
	flush_arrays(p, p->up, UP_COLS, &p->nup, upd_outbox_sql, instance);
}

/* Empties the plan for the next transaction (its memory stays). */
static void plan_reset(struct plan *p)
{
	arrs_free(p->ev, EV_COLS);
	arrs_free(p->ob, OB_COLS);
	arrs_free(p->up, UP_COLS);
	arrs_init(p->ev, EV_COLS);
	arrs_init(p->ob, OB_COLS);
	arrs_init(p->up, UP_COLS);
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	p->nowned = 0;
	p->n = p->nev = p->nob = p->nup = 0;
	p->failed = 0;
}

static void tri(struct pgs_arr *a, int v)
{
	if (v == CG_TRI_NULL)
		pgs_arr_null(a);
	else
		pgs_arr_int(a, v);
}

static void add_event_row(struct plan *p, const struct cg_event *ev)
{
	struct pgs_arr *a = p->ev;
	int64_t at = 0, choice_at = 0;

	cg_time_parse(ev->recorded_at, &at); /* checked by job_valid */
	pgs_arr_int(&a[0], ev->id);
	pgs_arr_hex(&a[1], ev->subject);
	pgs_arr_int(&a[2], at);
	if (ev->choice_at[0] && cg_time_parse(ev->choice_at, &choice_at) == CG_OK)
		pgs_arr_int(&a[3], at - choice_at);
	else
		pgs_arr_null(&a[3]);
	pgs_arr_int(&a[4], ev->action);
	for (int i = 0; i < CG_NPURPOSES; i++)
		tri(&a[5 + i], ev->choice[i]);
	if (ev->objection_purpose >= 0)
		pgs_arr_int(&a[8], ev->objection_purpose);
	else
		pgs_arr_null(&a[8]);
	pgs_arr_int(&a[9], (long long)ev->objections);
	tri(&a[10], ev->gpc);
	tri(&a[11], ev->dnt);
	pgs_arr_text(&a[12], PGS_OPT(ev->policy_version));
	pgs_arr_text(&a[13], PGS_OPT(ev->lang));
	pgs_arr_text(&a[14], PGS_OPT(ev->banner));
	pgs_arr_text(&a[15], PGS_OPT(ev->country));
	pgs_arr_text(&a[16], PGS_OPT(ev->page));
	pgs_arr_text(&a[17], PGS_OPT(ev->ip_prefix));
	pgs_arr_hex(&a[18], ev->salt);
	pgs_arr_hex(&a[19], ev->core_digest);
	pgs_arr_hex(&a[20], ev->personal_digest);
	pgs_arr_hex(&a[21], ev->hash);
	p->nev++;
}

static void add_outbox_rows(struct plan *p, const struct cg_outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t at = 0;
		cg_time_parse(rows[i].created_at, &at);
		pgs_arr_hex(&p->ob[0], rows[i].subject);
		pgs_arr_text(&p->ob[1], rows[i].destination);
		pgs_arr_int(&p->ob[2], rows[i].purpose);
		pgs_arr_int(&p->ob[3], rows[i].mode == CG_FORWARD_FULL ? 0 : 1);
		pgs_arr_text(&p->ob[4], rows[i].payload);
		pgs_arr_int(&p->ob[5], at);
		p->nob++;
	}
}

static void add_updates(struct plan *p, const struct cg_outbox_update *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgs_arr_int(&p->up[0], u[i].id);
		pgs_arr_int(&p->up[1], u[i].state);
		pgs_arr_int(&p->up[2], u[i].attempts);
		pgs_arr_int(&p->up[3], u[i].next_attempt_ms);
		pgs_arr_text(&p->up[4], PGS_OPT(u[i].last_error));
		p->nup++;
	}
}

static const char *subject_param(struct plan *p, const char *hex)
{
	char *v = malloc(CG_SUBJECT_LEN + 3);

	if (v)
		pgs_bytea_param(hex, v, CG_SUBJECT_LEN + 3);
	return own(p, v);
}

/* An event with an effect on stored rows: an erasure redacts the earlier
 * rows first (the tombstone has nothing to redact); withdrawal, objection
 * and erasure then reach the outbox. Rows queued earlier in the same batch
 * are in the statements before, so they are covered. */
static void add_event(struct plan *p, const struct cg_event *ev, const char *instance)
{
	struct cg_outbox_rule r;
	struct pgs_stmt *st;

	cg_rules_outbox_effect(ev, &r);
	if (ev->action == CG_ACT_ERASE) {
		flush_all(p, instance);
		st = add_stmt(p, redact_sql);
		st->vals[0] = subject_param(p, ev->subject);
		st->n = 1;
	}
	add_event_row(p, ev);
	if (r.effect == CG_EFFECT_NONE)
		return;
	flush_all(p, instance);
	st = add_stmt(p, effect_sql[r.effect]);
	st->vals[0] = subject_param(p, ev->subject);
	st->vals[1] = r.reason;
	st->n = 2;
	if (r.effect == CG_EFFECT_DROP_PENDING_PURPOSE) {
		char *num = malloc(8);
		if (num)
			snprintf(num, 8, "%d", r.purpose);
		st->vals[2] = own(p, num);
		st->n = 3;
	}
}

static int subject_ok(const char *s)
{
	return !s[0] || (strlen(s) == CG_SUBJECT_LEN && strspn(s, "0123456789abcdef") == CG_SUBJECT_LEN);
}

/* What the SQLite writer would refuse row by row (CG_ERR_INVALID) is
 * refused here before the transaction, so one bad job fails alone. */
static int job_valid(const struct pgs_job *j)
{
	const struct cg_store_batch *b = j->b;
	const struct cg_event *ev = b->event;
	int64_t t;

	if (ev && (!ev->subject[0] || !subject_ok(ev->subject) || cg_time_parse(ev->recorded_at, &t) ||
	           (ev->choice_at[0] && cg_time_parse(ev->choice_at, &t))))
		return 0;
	for (size_t i = 0; i < b->nrows; i++)
		if (!subject_ok(b->rows[i].subject) || cg_time_parse(b->rows[i].created_at, &t) ||
		    !b->rows[i].destination || !b->rows[i].payload)
			return 0;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every subject of the batch, sorted and once each: instances that insert
 * the same new subjects lock their index entries in one order (no deadlock). */
static void add_subjects(struct plan *p, struct pgs_job *jobs)
{
	const char **v = NULL;
	size_t n = 0, cap = 0;
	struct pgs_arr a;
	struct pgs_stmt *st;

	for (struct pgs_job *j = jobs; j; j = j->next) {
		const struct cg_store_batch *b = j->b;
		if (j->rc != CG_OK)
			continue;
		for (size_t i = 0; i <= b->nrows; i++) {
			const char *s = i < b->nrows ? b->rows[i].subject : b->event ? b->event->subject : "";
			if (!s[0])
				continue;
			if (n == cap && !(v = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v))) {
				p->failed = 1;
				return;
			}
			v[n++] = s;
		}
	}
	if (!n)
		return;
	qsort(v, n, sizeof *v, cmp_str);
	pgs_arr_init(&a);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			pgs_arr_hex(&a, v[i]);
	st = add_stmt(p, subjects_sql);
	st->vals[0] = pgs_arr_end(&a) ? own(p, cg_buf_take(&a.b)) : NULL;
	st->n = 1;
	p->failed |= !st->vals[0];
	pgs_arr_free(&a);
	free(v);
}

/* ---- one transaction ------------------------------------------------------------ */

static PGconn *writer_conn(struct pgs *s)
{
	if (s->wconn)
		return s->wconn;
	pthread_mutex_lock(&s->mu);
	if (s->wspare) {
		s->wconn = s->wspare;
		s->wspare = NULL;
	} else if (!s->want_wconn) {
		s->want_wconn = 1;
		pthread_cond_signal(&s->doctor_wake);
	}
	s->stats.connected = s->wconn != NULL;
	pthread_mutex_unlock(&s->mu);
	return s->wconn;
}

/* the connection is unusable (broken, or a statement may still run on it):
 * gone, and the doctor makes a new one */
static void writer_drop(struct pgs *s)
{
	PQfinish(s->wconn);
	s->wconn = NULL;
	pthread_mutex_lock(&s->mu);
	s->stats.connected = 0;
	s->want_wconn = 1;
	pthread_cond_signal(&s->doctor_wake);
	pthread_mutex_unlock(&s->mu);
}

/* The chain's tip, under the chain lock: the last row, kept or pruned. */
static const char tip_sql[] =
	"SELECT id, hash FROM (SELECT id, hash FROM events ORDER BY id DESC LIMIT 1) e"
	" UNION ALL SELECT id, hash FROM (SELECT id, hash FROM pruned ORDER BY id DESC LIMIT 1) p"
	" ORDER BY id DESC LIMIT 1";

struct txn {
	int64_t key;                 /* the batch key */
	char key_s[24], lock_s[96], chain_s[64], inst[40];
	char tip_id[24], tip_hash[CG_HEX_HASH_LEN + 3];  /* the tip expected */
	int64_t deadline;
	int events;                  /* the batch appends to the chain */
	int64_t last_id;             /* the tip once it commits */
	char last_hash[CG_HEX_HASH_LEN + 1];
};

/* BEGIN and the locks; with events, what the chain's tip is: read (the
 * second statement after the locks is then the tip query), or assumed and
 * checked (cg_expect_tip fails the transaction if it moved). */
#define EXPECT_AT 3  /* the index of the tip's statement */
static void begin_stmts(struct plan *p, struct txn *t, const struct pgs *s)
{
	struct pgs_stmt *st;

	add_stmt(p, "BEGIN");
	add_stmt(p, t->lock_s);
	if (!t->events)
		return;
	add_stmt(p, t->chain_s);
	if (!s->tip_known) {
		add_stmt(p, tip_sql);
		return;
	}
	st = add_stmt(p, "SELECT cg_expect_tip($1, $2)");
	snprintf(t->tip_id, sizeof t->tip_id, "%" PRId64, s->tip_id);
	pgs_bytea_param(s->tip_hash, t->tip_hash, sizeof t->tip_hash);
	st->vals[0] = t->tip_id;
	st->vals[1] = s->tip_id ? t->tip_hash : NULL;
	st->n = 2;
}

/* The tip read in this transaction (no row: the chain is empty). */
static void read_tip(struct pgs *s, const PGresult *tip)
{
	s->tip_id = 0;
	strcpy(s->tip_hash, CG_CHAIN_GENESIS);
	if (tip && PQntuples(tip) == 1) {
		s->tip_id = pgs_col_i64(tip, 0, 0);
		pgs_col_hex(tip, 0, 1, s->tip_hash, sizeof s->tip_hash);
	}
}

/* Seals the batch's events onto the tip (read, or assumed and checked). */
static void seal(const struct pgs *s, struct pgs_job *jobs, struct txn *t)
{
	char hash[CG_HEX_HASH_LEN + 1];
	int64_t id = s->tip_id;

	strcpy(hash, s->tip_hash);
	for (struct pgs_job *j = jobs; j; j = j->next)
		if (j->rc == CG_OK && j->b->event) {
			j->b->event->id = ++id;
			cg_chain_seal(j->b->event, hash);
			strcpy(hash, j->b->event->hash);
		}
	t->last_id = id;
	strcpy(t->last_hash, hash);
}

static void body_stmts(struct plan *p, struct pgs_job *jobs, struct txn *t)
{
	struct pgs_stmt *st;

	add_subjects(p, jobs);
	for (struct pgs_job *j = jobs; j; j = j->next) {
		if (j->rc != CG_OK)
			continue;
		if (j->b->event)
			add_event(p, j->b->event, t->inst);
		add_outbox_rows(p, j->b->rows, j->b->nrows);
		add_updates(p, j->b->updates, j->b->nupdates);
	}
	flush_all(p, t->inst);
	st = add_stmt(p, "INSERT INTO batches(id, instance, committed_ms) VALUES($1, $2, cg_now_ms())");
	st->vals[0] = t->key_s;
	st->vals[1] = t->inst;
	st->n = 2;
	add_stmt(p, "COMMIT");
}

/* After a lost COMMIT: did it commit? CG_OK yes, CG_ERR_STORAGE no,
 * CG_ERR_IO unknown (no new connection within the deadline). */
static int resolve(struct pgs *s, struct txn *t)
{
	struct pgs_stmt st[4] = {{"BEGIN", 0, {0}}, {t->lock_s, 0, {0}},
	                         {"SELECT count(*) FROM batches WHERE id = $1", 1, {t->key_s}}, {"COMMIT", 0, {0}}};
	PGresult *res[4];
	PGconn *c = NULL;
	char err[256];
	int failed, rc;

	if (pgs_connect(&s->cfg, "consentgated", pgs_mono_ms() + s->cfg.write_timeout_ms, &c, err, sizeof err))
		return CG_ERR_IO;
	rc = pgs_pipeline(c, st, 4, pgs_mono_ms() + s->cfg.write_timeout_ms, res, &failed);
	if (rc == CG_OK)
		rc = pgs_col_i64(res[2], 0, 0) == 1 ? CG_OK : CG_ERR_STORAGE;
	else
		rc = CG_ERR_IO;
	for (int i = 0; i < 4; i++)
		PQclear(res[i]);
	if (rc == CG_ERR_IO) {
		PQfinish(c);
		return rc;
	}
	s->wconn = c; /* a good connection: keep it */
	return rc;
}

/* A pipeline's failure: a refused statement is rolled back; a broken
 * connection is dropped. Returns CG_OK only for a COMMIT resolved as done. */
static int after_failure(struct pgs *s, struct txn *t, int rc, int commit_sent)
{
	if (rc == CG_ERR_STORAGE) {
		if (pgs_exec(s->wconn, "ROLLBACK", t->deadline) != CG_OK)
			writer_drop(s);
		return CG_ERR_STORAGE;
	}
	writer_drop(s);
	if (!commit_sent)
		return CG_ERR_STORAGE;
	rc = resolve(s, t);
	pthread_mutex_lock(&s->mu);
	s->stats.unknown_commits++;
	pthread_mutex_unlock(&s->mu);
	if (rc == CG_ERR_IO)
		cg_error("postgresql: the connection dropped during COMMIT of batch %s and no new connection "
		         "came up to resolve it: its requests are refused (503); the batch may be stored",
		         t->key_s);
	else
		cg_warn("postgresql: the connection dropped during COMMIT of batch %s: resolved as %s",
		        t->key_s, rc == CG_OK ? "committed" : "not committed");
	return rc == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

/* Round trip 1 of the slow path: the locks and the tip. */
static int read_tip_locked(struct pgs *s, struct txn *t, struct plan *p)
{
	PGresult *res[4] = {0};
	int failed, rc;

	begin_stmts(p, t, s);
	rc = pgs_pipeline(s->wconn, p->st, p->n, t->deadline, res, &failed);
	if (rc != CG_OK)
		return after_failure(s, t, rc, 0);
	read_tip(s, res[EXPECT_AT]);
	for (int i = 0; i < 4; i++)
		PQclear(res[i]);
	p->n = 0;
	return CG_OK;
}

static int run_txn(struct pgs *s, struct pgs_job *jobs, struct txn *t, struct plan *p)
{
	int failed = 0, rc, fast = t->events && s->tip_known;

	if (t->events && !s->tip_known && (rc = read_tip_locked(s, t, p)) != CG_OK)
		return rc;
	if (t->events)
		seal(s, jobs, t);
	if (fast || !t->events)
		begin_stmts(p, t, s);
	body_stmts(p, jobs, t);
	if (p->failed) {
		if (!fast && t->events && pgs_exec(s->wconn, "ROLLBACK", t->deadline) != CG_OK)
			writer_drop(s);
		return CG_ERR_NOMEM;
	}
	rc = pgs_pipeline(s->wconn, p->st, p->n, t->deadline, NULL, &failed);
	if (rc == CG_ERR_STORAGE && fast && failed == EXPECT_AT) {
		/* another writer appended since our last commit: read the tip */
		if (pgs_exec(s->wconn, "ROLLBACK", t->deadline) != CG_OK) {
			writer_drop(s);
			return CG_ERR_STORAGE;
		}
		s->tip_known = 0;
		plan_reset(p);
		return run_txn(s, jobs, t, p);
	}
	if (rc != CG_OK) {
		s->tip_known = 0;
		return after_failure(s, t, rc, rc == CG_ERR_IO);
	}
	if (t->events) {
		s->tip_id = t->last_id;
		strcpy(s->tip_hash, t->last_hash);
		s->tip_known = 1;
	}
	return CG_OK;
}

static void count_batch(struct pgs *s, int rc, uint64_t jobs, uint64_t rows, int64_t t0)
{
	pthread_mutex_lock(&s->mu);
	s->stats.commits++;
	if (rc == CG_OK)
		s->stats.rows += rows;
	else
		s->stats.failures++;
	if (jobs > s->stats.batch_max)
		s->stats.batch_max = jobs;
	s->stats.commit_seconds_total += (double)(pgs_mono_ms() - t0) / 1000.0;
	pthread_mutex_unlock(&s->mu);
}

static void write_batch(struct pgs *s, struct plan *p, struct pgs_job *jobs)
{
	struct txn t = {.deadline = pgs_mono_ms() + s->cfg.write_timeout_ms};
	int64_t t0 = pgs_mono_ms();
	uint64_t njobs = 0, nrows = 0;
	int rc = CG_OK, erased = 0;

	for (struct pgs_job *j = jobs; j; j = j->next, njobs++) {
		j->rc = job_valid(j) ? CG_OK : CG_ERR_INVALID;
		if (j->rc == CG_OK) {
			t.events |= j->b->event != NULL;
			erased |= j->b->event && j->b->event->action == CG_ACT_ERASE;
			nrows += (j->b->event != NULL) + j->b->nrows;
		}
	}
	randombytes_buf(&t.key, sizeof t.key);
	t.key &= INT64_MAX;
	snprintf(t.key_s, sizeof t.key_s, "%" PRId64, t.key);
	snprintf(t.lock_s, sizeof t.lock_s, "SELECT pg_advisory_xact_lock(%d, %d)", PGS_LOCK_BATCH,
	         (int)(t.key & 0x7fffffff));
	snprintf(t.chain_s, sizeof t.chain_s, "SELECT pg_advisory_xact_lock(%d)", PGS_LOCK_CHAIN);
	snprintf(t.inst, sizeof t.inst, "%s", s->instance);
	if (atomic_load(&s->fenced))
		rc = CG_ERR_STORAGE; /* another configuration owns the database now */
	else if (!writer_conn(s))
		rc = CG_ERR_STORAGE; /* no connection: fail at once, the doctor reconnects */
	else
		rc = run_txn(s, jobs, &t, p);
	plan_reset(p);
	for (struct pgs_job *j = jobs; j; j = j->next)
		if (j->rc == CG_OK)
			j->rc = rc;
	count_batch(s, rc, njobs, nrows, t0);
	if (rc == CG_OK && erased)
		pgs_want_vacuum(s);
}

/* Takes up to MAX_JOBS queued jobs; NULL when stopping and drained. */
static struct pgs_job *take_jobs(struct pgs *s)
{
	struct pgs_job *batch, *last;
	int n = 1;

	pthread_mutex_lock(&s->mu);
	while (!s->head && !s->stopping)
		pthread_cond_wait(&s->work, &s->mu);
	batch = s->head;
	for (last = batch; last && last->next && n < MAX_JOBS; last = last->next)
		n++;
	if (last) {
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return batch;
}

void *pgs_writer_main(void *arg)
{
	struct pgs *s = arg;
	struct plan *p = calloc(1, sizeof *p); /* reused by every transaction */
	struct pgs_job *batch;

	if (p) {
		arrs_init(p->ev, EV_COLS);
		arrs_init(p->ob, OB_COLS);
		arrs_init(p->up, UP_COLS);
	}
	while ((batch = take_jobs(s))) {
		if (p)
			write_batch(s, p, batch);
		for (struct pgs_job *j = batch, *next; j; j = next) {
			next = j->next;
			j->done(j->done_arg, p ? j->rc : CG_ERR_NOMEM);
			free(j);
		}
	}
	if (p) {
		plan_reset(p);
		arrs_free(p->ev, EV_COLS);
		arrs_free(p->ob, OB_COLS);
		arrs_free(p->up, UP_COLS);
		free(p->owned);
		free(p);
	}
	return NULL;
}

int pgs_submit(void *ctx, struct cg_store_batch *b, cg_store_done done, void *arg)
{
	struct pgs *s = ctx;
	struct pgs_job *j;

	if (s->mode == CG_STORE_READONLY)
		return CG_ERR_STORAGE;
	j = calloc(1, sizeof *j);
	if (!j)
		return CG_ERR_NOMEM;
	j->b = b;
	j->done = done;
	j->done_arg = arg;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return CG_ERR_STOPPING;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return CG_OK;
}
