/* The writer thread: group commit of events and outbox rows, outbox
 * updates, jobs on the writer's connection, and the WAL checkpoints. */
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentgate/chain.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/rules.h"
#include "consentgate/store_sqlite.h"
#include "internal.h"

static const char insert_sql[] =
	"INSERT INTO events(id, sid, recorded_ms, action, policy_version,"
	" preferences, statistics, marketing, objection_purpose, objections, choice_back_ms,"
	" gpc, dnt, cid, page, ip_prefix, salt, core_digest, personal_digest, hash, fmt)"
	" VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* The chain tip: the highest id among the rows, the pruned rows' links and
 * the log events. Read inside every write transaction, so consentctl
 * (erase, purge) can write beside a running daemon: BEGIN IMMEDIATE orders
 * them. */
static int load_tip(struct cgs *s)
{
	int rc = SQLITE_DONE;

	s->last_id = 0;
	strcpy(s->last_hash, CG_CHAIN_GENESIS);
	for (int i = 0; i < 3 && rc == SQLITE_DONE; i++) {
		sqlite3_stmt *st = s->tip[i];
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (sqlite3_column_int64(st, 0) > s->last_id) {
				s->last_id = sqlite3_column_int64(st, 0);
				cgs_column_hex(st, 1, s->last_hash, sizeof s->last_hash);
			}
			rc = SQLITE_DONE;
		}
		sqlite3_reset(st);
	}
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_tri(sqlite3_stmt *st, int i, int v)
{
	if (v == CG_TRI_NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int(st, i, v);
}

/* The event's personal context (language, banner, country) as a row of
 * contexts, made the first time the combination is seen; 0: none. */
static int cid_for(struct cgs *s, const struct cg_event *ev, int64_t *cid)
{
	const char *v[] = {ev->lang, ev->banner, ev->country};
	int rc;

	*cid = 0;
	if (!ev->lang[0] && !ev->banner[0] && !ev->country[0])
		return CG_OK;
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(s->ctx_find, i + 1, v[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(s->ctx_find);
	if (rc == SQLITE_ROW)
		*cid = sqlite3_column_int64(s->ctx_find, 0);
	sqlite3_reset(s->ctx_find);
	sqlite3_clear_bindings(s->ctx_find);
	if (rc == SQLITE_ROW)
		return CG_OK;
	if (rc != SQLITE_DONE)
		return CG_ERR_STORAGE;
	/* a combination not seen before */
	for (int i = 0; i < 3; i++)
		sqlite3_bind_text(s->ctx_ins, i + 1, v[i], -1, SQLITE_STATIC);
	rc = cgs_step_done(s->ctx_ins);
	*cid = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* event_days: the first id of each day */
static int note_day(struct cgs *s, int64_t at, int64_t id)
{
	sqlite3_bind_int64(s->day_ins, 1, at / CG_MS_PER_DAY);
	sqlite3_bind_int64(s->day_ins, 2, id);
	return cgs_step_done(s->day_ins);
}

static int insert_event(struct cgs *s, int64_t sid, const struct cg_event *ev)
{
	sqlite3_stmt *st = s->ins;
	int64_t at = 0, choice_at = 0, cid = 0;
	int rc;

	if (cg_time_parse(ev->recorded_at, &at) || (ev->choice_at[0] && cg_time_parse(ev->choice_at, &choice_at)))
		return CG_ERR_INVALID;
	if ((rc = cid_for(s, ev, &cid)) != CG_OK || (rc = note_day(s, at, ev->id)) != CG_OK)
		return rc;
	sqlite3_bind_int64(st, 1, ev->id);
	sqlite3_bind_int64(st, 2, sid);
	sqlite3_bind_int64(st, 3, at);
	sqlite3_bind_int(st, 4, ev->action);
	bind_opt(st, 5, ev->policy_version);
	bind_tri(st, 6, ev->choice[CG_PREFERENCES]);
	bind_tri(st, 7, ev->choice[CG_STATISTICS]);
	bind_tri(st, 8, ev->choice[CG_MARKETING]);
	if (ev->objection_purpose >= 0)
		sqlite3_bind_int(st, 9, ev->objection_purpose);
	sqlite3_bind_int(st, 10, (int)ev->objections);
	if (ev->choice_at[0])
		sqlite3_bind_int64(st, 11, at - choice_at); /* 0 for a choice: a byte less */
	bind_tri(st, 12, ev->gpc);
	bind_tri(st, 13, ev->dnt);
	if (cid)
		sqlite3_bind_int64(st, 14, cid);
	bind_opt(st, 15, ev->page);
	bind_opt(st, 16, ev->ip_prefix);
	rc = cgs_bind_hex(st, 17, ev->salt, CG_SALT_LEN / 2);
	if (rc == CG_OK)
		rc = cgs_bind_hex(st, 18, ev->core_digest, 32);
	if (rc == CG_OK)
		rc = cgs_bind_hex(st, 19, ev->personal_digest, 32);
	if (rc == CG_OK)
		rc = cgs_bind_hex(st, 20, ev->hash, 32);
	sqlite3_bind_int(st, 21, ev->format);
	if (rc != CG_OK) {
		sqlite3_clear_bindings(st);
		return rc;
	}
	return cgs_step_done(st);
}

static const char ob_insert_sql[] =
	"INSERT INTO outbox_rows(sid, destination, purpose, mode, payload, created_ms,"
	" attempts, next_ms, state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0, ?6, 0)";
static const char ob_drop_sql[] =
	"UPDATE outbox_rows SET state = 2, last_error = ?2 WHERE sid = ?1 AND state = 0";
static const char ob_drop_purpose_sql[] =
	"UPDATE outbox_rows SET state = 2, last_error = ?2 WHERE sid = ?1 AND state = 0 AND purpose = ?3";
/* Erasure reaches the outbox too: every row of the visitor (queued, sent,
 * dead) loses the subject key and its payload (event params, page URLs);
 * what stays is the row's accounting (destination, purpose, times, state).
 * (The subject index covers every row since schema 6: before, this was a
 * scan of the whole outbox per erasure.) */
static const char ob_erase_sql[] =
	"UPDATE outbox_rows SET sid = NULL, payload = '',"
	" last_error = CASE state WHEN 0 THEN ?2 ELSE 'erased' END,"
	" state = CASE state WHEN 0 THEN 2 ELSE state END"
	" WHERE sid = ?1";
static const char ob_update_sql[] =
	"UPDATE outbox_rows SET state = ?2, attempts = ?3, next_ms = ?4, last_error = ?5"
	" WHERE id = ?1 AND state = 0";
/* Recipients (storage.h): an acknowledged delivery of a row that carried a
 * visitor's pseudonym, whatever became of the row since it was claimed (a
 * withdrawal dropped it, say: the destination has it all the same) */
static const char recipient_ins_sql[] =
	"INSERT OR IGNORE INTO recipients(sid, destination)"
	" SELECT sid, destination FROM outbox_rows WHERE id = ?1 AND sid IS NOT NULL AND mode = 0";
static const char recipient_has_sql[] = "SELECT 1 FROM recipients WHERE sid = ?1 AND destination = ?2";
static const char recipient_forget_sql[] = "DELETE FROM recipients WHERE sid = ?1";

/* What an event does to the visitor's outbox rows is the core's rule
 * (cg_rules_outbox_effect); these statements carry it out, in the event's
 * own transaction. (The forwarder re-checks before sending as well: this
 * keeps the outbox telling the truth.) */
static int drop_queued(struct cgs *s, int64_t sid, const struct cg_event *ev)
{
	struct cg_outbox_rule r;
	sqlite3_stmt *st;

	cg_rules_outbox_effect(ev, &r);
	switch (r.effect) {
	case CG_EFFECT_ERASE: st = s->ob_erase; break;
	case CG_EFFECT_DROP_PENDING: st = s->ob_drop; break;
	case CG_EFFECT_DROP_PENDING_PURPOSE:
		st = s->ob_drop_purpose;
		sqlite3_bind_int(st, 3, r.purpose);
		break;
	default: return CG_OK;
	}
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, r.reason, -1, SQLITE_STATIC);
	return cgs_step_done(st);
}

/* Erasure: every personal column of the subject's rows, and the salt that
 * would let anyone confirm a guess of them, goes. The proof columns stay,
 * and from row format 2 what was shown with them: the row's context
 * (language, banner, country) becomes the one of its banner alone. */
static const char redact_sql[] =
	"INSERT OR IGNORE INTO contexts(lang, banner, country) SELECT DISTINCT '', c.banner, '' FROM events e"
	" JOIN contexts c ON c.cid = e.cid WHERE e.sid = ?1 AND e.fmt = 2 AND c.banner <> '';"
	"UPDATE events SET salt = NULL, gpc = NULL, dnt = NULL, page = NULL, ip_prefix = NULL, ip_digest = NULL,"
	" cid = CASE WHEN fmt = 2 THEN (SELECT k.cid FROM contexts c JOIN contexts k ON k.banner = c.banner"
	"  AND k.lang = '' AND k.country = '' WHERE c.cid = events.cid AND c.banner <> '') END"
	" WHERE sid = ?1";

static int redact_subject(struct cgs *s, int64_t sid)
{
	int rc = CG_OK;

	for (int i = 0; i < 2 && rc == CG_OK; i++) {
		sqlite3_bind_int64(s->redact[i], 1, sid);
		rc = cgs_step_done(s->redact[i]);
	}
	return rc;
}

/* The visitor's row in subjects, made on their first event (or queued row). */
static int sid_for(struct cgs *s, const char *subject, int64_t *sid)
{
	uint8_t key[CG_SUBJECT_BYTES];
	int rc = cgs_subject_key(subject, key);

	if (rc == CG_OK)
		rc = cgs_sid_find(s->sub_find, key, sid);
	if (rc != CG_ERR_NOT_FOUND)
		return rc;
	sqlite3_bind_blob(s->sub_ins, 1, key, sizeof key, SQLITE_TRANSIENT);
	rc = cgs_step_done(s->sub_ins);
	*sid = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* A row queued only if its destination is a recorded recipient of the
 * subject named (erasure notices): *yes */
static int is_recipient(struct cgs *s, const char *subject, const char *destination, int *yes)
{
	uint8_t key[CG_SUBJECT_BYTES];
	int64_t sid;
	int rc = cgs_subject_key(subject, key), step;

	*yes = 0;
	if (rc == CG_OK)
		rc = cgs_sid_find(s->sub_find, key, &sid);
	if (rc != CG_OK)
		return rc == CG_ERR_NOT_FOUND ? CG_OK : rc;
	sqlite3_bind_int64(s->rcp_has, 1, sid);
	sqlite3_bind_text(s->rcp_has, 2, destination, -1, SQLITE_STATIC);
	step = sqlite3_step(s->rcp_has);
	*yes = step == SQLITE_ROW;
	sqlite3_reset(s->rcp_has);
	sqlite3_clear_bindings(s->rcp_has);
	return step == SQLITE_ROW || step == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

static int insert_outbox(struct cgs *s, const struct cg_outbox_row *rows, size_t n)
{
	sqlite3_stmt *st = s->ob_ins;
	int64_t sid, at;
	int rc = CG_OK, yes = 1;

	for (size_t i = 0; i < n && rc == CG_OK; i++) {
		if (cg_time_parse(rows[i].created_at, &at))
			return CG_ERR_INVALID;
		if (rows[i].if_recipient_of[0] &&
		    ((rc = is_recipient(s, rows[i].if_recipient_of, rows[i].destination, &yes)) != CG_OK || !yes))
			continue;
		if (rows[i].subject[0] && (rc = sid_for(s, rows[i].subject, &sid)) != CG_OK)
			return rc;
		if (rows[i].subject[0])
			sqlite3_bind_int64(st, 1, sid);
		sqlite3_bind_text(st, 2, rows[i].destination, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, rows[i].purpose);
		sqlite3_bind_int(st, 4, rows[i].mode == CG_FORWARD_FULL ? 0 : 1);
		sqlite3_bind_text(st, 5, rows[i].payload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, at);
		rc = cgs_step_done(st);
	}
	return rc;
}

static int update_outbox(struct cgs *s, const struct cg_outbox_update *u, size_t n, unsigned char *applied)
{
	sqlite3_stmt *st = s->ob_upd;
	int rc = CG_OK;

	for (size_t i = 0; i < n && rc == CG_OK; i++) {
		sqlite3_bind_int64(st, 1, u[i].id);
		sqlite3_bind_int(st, 2, u[i].state);
		sqlite3_bind_int(st, 3, u[i].attempts);
		sqlite3_bind_int64(st, 4, u[i].next_attempt_ms);
		bind_opt(st, 5, u[i].last_error);
		rc = cgs_step_done(st);
		if (applied)
			applied[i] = rc == CG_OK && sqlite3_changes(s->db) > 0;
		if (rc == CG_OK && u[i].state == CG_OB_DELIVERED) {
			sqlite3_bind_int64(s->rcp_ins, 1, u[i].id);
			rc = cgs_step_done(s->rcp_ins);
		}
	}
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One event of a batch: an erasure redacts the subject's earlier rows
 * first; the row is sealed onto the chain tip; what it forbids in the outbox
 * goes in the same transaction. *sid: the subject's. */
static int write_event(struct cgs *s, struct cg_event *ev, int64_t *sid)
{
	int rc = sid_for(s, ev->subject, sid);

	if (rc == CG_OK && ev->action == CG_ACT_ERASE)
		rc = redact_subject(s, *sid);
	ev->id = s->last_id + 1;
	cg_chain_seal(ev, s->last_hash);
	if (rc == CG_OK)
		rc = insert_event(s, *sid, ev);
	if (rc == CG_OK)
		rc = drop_queued(s, *sid, ev);
	if (rc == CG_OK) {
		s->last_id = ev->id;
		strcpy(s->last_hash, ev->hash);
	}
	return rc;
}

/* An erasure's notices (the batch's rows) are queued by what the store
 * knows of its recipients; then it forgets them (rules.h). */
static int forget_recipients(struct cgs *s, int64_t sid, const struct cg_event *ev)
{
	struct cg_outbox_rule r;

	cg_rules_outbox_effect(ev, &r);
	if (r.effect != CG_EFFECT_ERASE)
		return CG_OK;
	sqlite3_bind_int64(s->rcp_forget, 1, sid);
	return cgs_step_done(s->rcp_forget);
}

/* A batch: its event, its outbox rows and its updates, in that order. */
static int write_job(struct cgs *s, struct job *j)
{
	struct cg_store_batch *b = j->b;
	int64_t sid = 0;
	int rc = CG_OK;

	if (j->kind == JOB_FN)
		return j->fn(s->db, j->arg);
	if (b->event)
		rc = write_event(s, b->event, &sid);
	if (rc == CG_OK && b->nrows)
		rc = insert_outbox(s, b->rows, b->nrows);
	if (rc == CG_OK && b->event)
		rc = forget_recipients(s, sid, b->event);
	if (rc == CG_OK && b->nupdates)
		rc = update_outbox(s, b->updates, b->nupdates, b->applied);
	return rc;
}

static void count_batch(struct cgs *s, int rc, uint64_t n, uint64_t ok, double t0)
{
	pthread_mutex_lock(&s->mu);
	s->stats.commits++;
	s->stats.rows += ok;
	if (rc)
		s->stats.failures++;
	if (n > s->stats.batch_max)
		s->stats.batch_max = n;
	s->stats.commit_seconds_total += now_seconds() - t0;
	pthread_mutex_unlock(&s->mu);
}

static int truncate_wal(struct cgs *s)
{
	int rc;

	pthread_mutex_lock(&s->ckpt_mu);
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	pthread_mutex_unlock(&s->ckpt_mu);
	return rc;
}

/* One group commit: every queued row in one transaction, one fsync. */
static void write_batch(struct cgs *s, struct job *batch)
{
	double t0 = now_seconds();
	uint64_t n = 0, ok = 0;
	int rc = CG_OK, erased = 0;

	/* the tip is read inside the transaction: other writers may have added rows */
	if (cgs_exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK || load_tip(s) != CG_OK)
		rc = CG_ERR_STORAGE;
	for (struct job *j = batch; j; j = j->next, n++) {
		j->rc = rc ? rc : write_job(s, j);
		if (j->rc == CG_OK) {
			ok++;
			erased |= j->kind == JOB_BATCH && j->b->event && j->b->event->action == CG_ACT_ERASE;
		} else if (!rc && j->rc != CG_ERR_INVALID) {
			rc = j->rc; /* disk full, I/O error: the transaction is lost */
			cg_error("sqlite write: %s", sqlite3_errmsg(s->db));
		}
	}
	if (rc == CG_OK && cgs_exec(s->db, "COMMIT") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK) {
		if (!sqlite3_get_autocommit(s->db))
			cgs_exec(s->db, "ROLLBACK");
		for (struct job *j = batch; j; j = j->next)
			j->rc = rc;
		ok = 0;
	}
	count_batch(s, rc, n, ok, t0);
	/* the erased values still sit in old WAL frames: empty the WAL now, from
	 * this thread, which no commit can outpace (the checkpointer would wait
	 * for a gap between commits under load); if readers are in the way past
	 * busy_timeout, the checkpointer tries again */
	if (erased && rc == CG_OK && truncate_wal(s) != SQLITE_OK) {
		pthread_mutex_lock(&s->mu);
		s->ckpt_want = SQLITE_CHECKPOINT_TRUNCATE;
		pthread_cond_signal(&s->ckpt_wake);
		pthread_mutex_unlock(&s->mu);
	}
}

/* After each commit, on the writer's thread: once the WAL holds
 * WAL_RESTART_FRAMES frames, a RESTART checkpoint, so the next commit writes
 * from the start of the file again and the WAL stays bounded whatever the
 * load. Passive checkpoints alone never get there under steady load (a
 * commit is always appending when they finish), and one on another thread
 * can starve waiting for a gap between commits. The passive ones have
 * copied most frames by then: what is left is mostly one fsync. */
#define WAL_RESTART_FRAMES 2048
int cgs_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct cgs *s = arg;

	if (frames >= WAL_RESTART_FRAMES) {
		pthread_mutex_lock(&s->ckpt_mu);
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
		pthread_mutex_unlock(&s->ckpt_mu);
	}
	return SQLITE_OK;
}

/* fn decides: CG_OK commits, anything else rolls back (CG_ERR_DRY_RUN is
 * a successful dry run) */
static int run_alone(struct cgs *s, struct job *j)
{
	int rc;

	if (cgs_exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return CG_ERR_STORAGE;
	rc = j->fn(s->db, j->arg);
	if (rc == CG_OK && cgs_exec(s->db, "COMMIT") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK && !sqlite3_get_autocommit(s->db))
		cgs_exec(s->db, "ROLLBACK");
	return rc == CG_ERR_DRY_RUN ? CG_OK : rc;
}

void *cgs_writer_main(void *arg)
{
	struct cgs *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct job *batch;
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break; /* stopping and drained */
		batch = s->head;
		s->head = s->tail = NULL;
		pthread_mutex_unlock(&s->mu);

		/* JOB_ALONE jobs leave the batch and run one by one after it */
		{
			struct job *alone = NULL, **pp = &batch;
			while (*pp) {
				struct job *j = *pp;
				if (j->kind == JOB_ALONE) {
					*pp = j->next;
					j->next = alone;
					alone = j;
				} else {
					pp = &j->next;
				}
			}
			if (batch)
				write_batch(s, batch);
			for (struct job *j = alone, *next; j; j = next) {
				next = j->next;
				j->rc = run_alone(s, j);
				j->done(j->done_arg, j->rc);
				free(j);
			}
		}

		for (struct job *j = batch, *next; j; j = next) {
			next = j->next;
			j->done(j->done_arg, j->rc);
			free(j);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK
	               ? CG_OK : CG_ERR_STORAGE;
}

/* two statements in one text */
static int prepare_two(sqlite3 *db, const char *sql, sqlite3_stmt *st[2])
{
	const char *rest = NULL;

	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st[0], &rest) == SQLITE_OK && rest &&
	       sqlite3_prepare_v3(db, rest, -1, SQLITE_PREPARE_PERSISTENT, &st[1], NULL) == SQLITE_OK
	               ? CG_OK : CG_ERR_STORAGE;
}

int cgs_writer_prepare(struct cgs *s)
{
	int rc = CG_OK;

	if (rc == CG_OK && (prepare(s->db, insert_sql, &s->ins) ||
	                    prepare(s->db, ob_insert_sql, &s->ob_ins) ||
	                    prepare(s->db, ob_drop_sql, &s->ob_drop) ||
	                    prepare(s->db, ob_drop_purpose_sql, &s->ob_drop_purpose) ||
	                    prepare(s->db, ob_erase_sql, &s->ob_erase) ||
	                    prepare(s->db, ob_update_sql, &s->ob_upd) ||
	                    prepare_two(s->db, redact_sql, s->redact) ||
	                    prepare(s->db, recipient_ins_sql, &s->rcp_ins) ||
	                    prepare(s->db, recipient_has_sql, &s->rcp_has) ||
	                    prepare(s->db, recipient_forget_sql, &s->rcp_forget) ||
	                    prepare(s->db, CGS_SUBJECT_FIND_SQL, &s->sub_find) ||
	                    prepare(s->db, "INSERT INTO subjects(digest) VALUES(?)", &s->sub_ins) ||
	                    prepare(s->db, "INSERT INTO contexts(lang, banner, country) VALUES(?, ?, ?)",
	                            &s->ctx_ins) ||
	                    prepare(s->db, "SELECT cid FROM contexts WHERE lang = ? AND banner = ? AND country = ?",
	                            &s->ctx_find) ||
	                    prepare(s->db, "INSERT OR IGNORE INTO event_days(day, first_id) VALUES(?, ?)", &s->day_ins) ||
	                    prepare(s->db, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", &s->tip[0]) ||
	                    prepare(s->db, "SELECT id, hash FROM pruned ORDER BY id DESC LIMIT 1", &s->tip[1]) ||
	                    prepare(s->db, "SELECT id, hash FROM log_events ORDER BY id DESC LIMIT 1", &s->tip[2]) ||
	                    cgs_functions(s->db)))
		rc = CG_ERR_STORAGE;
	return rc;
}

void cgs_writer_finalize(struct cgs *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->ob_ins);
	sqlite3_finalize(s->ob_drop);
	sqlite3_finalize(s->ob_drop_purpose);
	sqlite3_finalize(s->ob_erase);
	sqlite3_finalize(s->ob_upd);
	sqlite3_finalize(s->redact[0]);
	sqlite3_finalize(s->redact[1]);
	sqlite3_finalize(s->rcp_ins);
	sqlite3_finalize(s->rcp_has);
	sqlite3_finalize(s->rcp_forget);
	sqlite3_finalize(s->sub_find);
	sqlite3_finalize(s->sub_ins);
	sqlite3_finalize(s->ctx_ins);
	sqlite3_finalize(s->ctx_find);
	sqlite3_finalize(s->day_ins);
	sqlite3_finalize(s->tip[0]);
	sqlite3_finalize(s->tip[1]);
	sqlite3_finalize(s->tip[2]);
}


/* the daily retention purge, on the checkpointer's thread */
static void daily_purge(struct cgs *s)
{
	struct cg_purge_counts c;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (cgs_purge(s, s->cfg, (int64_t)now.tv_sec * 1000, 0, &c) == CG_OK)
		cg_info("retention: %lld ip prefixes cleared, %lld subjects (%lld events) pruned, "
		        "%lld outbox rows deleted, %lld expired", c.ip_prefixes_cleared,
		        c.subjects_pruned, c.events_pruned, c.outbox_deleted, c.outbox_expired);
	else
		cg_warn("retention: the daily purge failed; it runs again tomorrow");
}

/* Which checkpoint this round (under s->mu): what was asked for, or a
 * TRUNCATE once a second has passed without commits. */
static int checkpoint_mode(struct cgs *s, uint64_t *seen_commits, int *idle_truncated)
{
	int mode = s->ckpt_want;

	s->ckpt_want = SQLITE_CHECKPOINT_PASSIVE;
	if (s->stats.commits != *seen_commits) {
		*seen_commits = s->stats.commits;
		*idle_truncated = 0;
	} else if (!*idle_truncated) {
		mode = SQLITE_CHECKPOINT_TRUNCATE;
		*idle_truncated = 1;
	}
	return mode;
}

/* The checkpointer has its own connection, so copying WAL frames back into
 * the database seldom adds to a commit. Every second a PASSIVE checkpoint
 * (never waits); once writes have stopped (and when the writer's own
 * TRUNCATE after an erasure was refused), a TRUNCATE, so that old frames
 * holding erased or superseded values do not linger in the -wal file. The
 * writer bounds the WAL itself (cgs_wal_hook). TRUNCATE waits (busy_timeout)
 * for readers, whose read transactions are kept short for this reason. */
void *cgs_checkpoint_main(void *arg)
{
	struct cgs *s = arg;
	sqlite3 *db = NULL;
	struct timespec until;
	uint64_t seen_commits = 0;
	int idle_truncated = 0;
	time_t next_purge = time(NULL) + 60; /* a minute after start, then daily */

	/* the first read opens the WAL index: before it, a checkpoint on this
	 * connection returns OK and copies nothing */
	if (cgs_open_conn(s->path, SQLITE_OPEN_READWRITE, &db) != CG_OK ||
	    cgs_exec(db, "SELECT count(*) FROM sqlite_master") != SQLITE_OK) {
		cg_error("checkpointer: cannot open %s", s->path);
		sqlite3_close(db);
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		int mode, log = 0, done = 0, rc;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!s->ckpt_want)
			pthread_cond_timedwait(&s->ckpt_wake, &s->mu, &until);
		if (s->stopping)
			break;
		mode = checkpoint_mode(s, &seen_commits, &idle_truncated);
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_lock(&s->ckpt_mu);
		rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, &log, &done);
		pthread_mutex_unlock(&s->ckpt_mu);
		if (s->cfg && time(NULL) >= next_purge) {
			next_purge = time(NULL) + 86400;
			daily_purge(s);
		}
		pthread_mutex_lock(&s->mu);
		s->stats.checkpoints++;
		s->stats.wal_frames = log > 0 ? (uint64_t)log : 0;
		if (rc != SQLITE_OK && mode > SQLITE_CHECKPOINT_PASSIVE && s->ckpt_want < mode)
			s->ckpt_want = mode; /* readers in the way: again next round */
	}
	pthread_mutex_unlock(&s->mu);
	sqlite3_close(db);
	return NULL;
}

