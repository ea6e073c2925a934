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
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

/* ---- one transaction ------------------------------------------------------------ */

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

/* The doctor's connections, and the one a lost COMMIT is resolved on, are
 * checked (acked.c) when made; the one made at open, before the daemon
 * handed over its last acknowledged row, is checked here first. */
static PGconn *writer_conn(struct pgs *s)
{
	char err[512];

	if (s->wconn && atomic_exchange(&s->wcheck, 0) && pgs_acked_check(s, s->wconn, err, sizeof err) != CG_OK)
		writer_drop(s);
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

/* The chain's tip, under the chain lock: pgs_tip_sql (logev.c). */
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

	pgs_plan_stmt(p, "BEGIN");
	pgs_plan_stmt(p, t->lock_s);
	if (!t->events)
		return;
	pgs_plan_stmt(p, t->chain_s);
	if (!s->tip_known) {
		pgs_plan_stmt(p, pgs_tip_sql);
		return;
	}
	st = pgs_plan_stmt(p, "SELECT cg_expect_tip($1, $2)");
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

	pgs_plan_rows(p, jobs, t->inst);
	st = pgs_plan_stmt(p, "INSERT INTO batches(id, instance, committed_ms) VALUES($1, $2, cg_now_ms())");
	st->vals[0] = t->key_s;
	st->vals[1] = t->inst;
	st->n = 2;
	pgs_plan_stmt(p, "COMMIT");
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

	if (pgs_connect_checked(s, "consentgated", pgs_mono_ms() + s->cfg.write_timeout_ms, &c, err, sizeof err))
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
	s->wconn = c; /* a good connection (it holds the last acknowledged row): keep it */
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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Which updates took effect (cg_store_batch.applied): the ids the outcome
 * statements returned. Frees the results. */
static void mark_applied(struct plan *p, PGresult **res, struct pgs_job *jobs)
{
	int64_t *ids = NULL;
	size_t n = 0;

	for (int i = 0; i < p->n; i++) {
		if (res[i] && p->st[i].sql == pgs_upd_outbox_sql) {
			int64_t *nv = realloc(ids, (n + (size_t)PQntuples(res[i]) + 1) * sizeof *ids);
			for (int k = 0; nv && k < PQntuples(res[i]); k++)
				nv[n++] = pgs_col_i64(res[i], k, 0);
			ids = nv ? nv : ids;
		}
		PQclear(res[i]);
	}
	if (ids)
		qsort(ids, n, sizeof *ids, cmp_i64);
	for (struct pgs_job *j = jobs; j; j = j->next)
		for (size_t k = 0; j->rc == CG_OK && j->b->applied && k < j->b->nupdates; k++)
			j->b->applied[k] = ids && bsearch(&j->b->updates[k].id, ids, n, sizeof *ids, cmp_i64) != NULL;
	free(ids);
}

static int wants_applied(const struct pgs_job *jobs)
{
	for (; jobs; jobs = jobs->next)
		if (jobs->rc == CG_OK && jobs->b->applied && jobs->b->nupdates)
			return 1;
	return 0;
}

static int run_txn(struct pgs *s, struct pgs_job *jobs, struct txn *t, struct plan *p)
{
	int failed = 0, rc, fast = t->events && s->tip_known;
	PGresult **res = wants_applied(jobs) ? p->res : NULL;

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
	rc = pgs_pipeline(s->wconn, p->st, p->n, t->deadline, res, &failed);
	if (rc == CG_OK && res)
		mark_applied(p, res, jobs);
	if (rc == CG_ERR_STORAGE && fast && failed == EXPECT_AT) {
		/* another writer appended since our last commit: read the tip */
		if (pgs_exec(s->wconn, "ROLLBACK", t->deadline) != CG_OK) {
			writer_drop(s);
			return CG_ERR_STORAGE;
		}
		s->tip_known = 0;
		pgs_plan_reset(p);
		return run_txn(s, jobs, t, p);
	}
	if (rc != CG_OK) {
		s->tip_known = 0;
		rc = after_failure(s, t, rc, rc == CG_ERR_IO);
		if (rc == CG_OK && t->events) /* a lost COMMIT that had committed */
			pgs_acked_commit(s, t->last_id, t->last_hash);
		return rc;
	}
	if (t->events) {
		s->tip_id = t->last_id;
		strcpy(s->tip_hash, t->last_hash);
		s->tip_known = 1;
		pgs_acked_commit(s, t->last_id, t->last_hash);
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
		j->rc = pgs_job_valid(j) ? CG_OK : CG_ERR_INVALID;
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
	pgs_plan_reset(p);
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
	struct plan *p = pgs_plan_new(); /* reused by every transaction */
	struct pgs_job *batch;

	while ((batch = take_jobs(s))) {
		if (p)
			write_batch(s, p, batch);
		for (struct pgs_job *j = batch, *next; j; j = next) {
			next = j->next;
			j->done(j->done_arg, p ? j->rc : CG_ERR_NOMEM);
			free(j);
		}
	}
	pgs_plan_free(p);
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
