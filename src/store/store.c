#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentgate/chain.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/store.h"
#include "schema.sql.h"

/* A request to the writer: one event (an erasure also redacts the subject's
 * earlier rows), outbox rows, outbox updates, or a function run on the
 * writer's connection inside the batch's transaction (JOB_FN) or in a
 * transaction of its own (JOB_ALONE, e.g. the retention purge). */
enum job_kind { JOB_EVENT, JOB_OUTBOX, JOB_UPDATE, JOB_FN, JOB_ALONE };

struct job {
	int kind;
	cg_store_fn fn;
	void *arg;
	struct cg_event *ev;
	const struct cg_outbox_row *rows;
	const struct cg_outbox_update *ups;
	size_t n;
	int rc;
	sem_t done;               /* posted by the writer outside its lock: the woken
	                           * worker neither joins a herd nor hits a held mutex */
	struct job *next;
};

struct cg_store {
	int mode;
	char path[CG_CFG_STR];
	sqlite3 *db;              /* the writer's (or consentctl's) connection */
	sqlite3_stmt *ins;
	sqlite3_stmt *ob_ins, *ob_drop, *ob_drop_purpose, *ob_erase, *ob_upd, *redact, *tip[2];
	uint8_t client_key[32];
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t work;      /* writer waits: queue non-empty or stopping */
	struct job *head, *tail;
	int stopping;
	/* chain tip, read by the writer at the start of each transaction */
	int64_t last_id;
	char last_hash[CG_HEX_HASH_LEN + 1];
	struct cg_store_stats stats; /* under mu */
	/* checkpointer: its own connection, so checkpoints never stall a commit */
	pthread_t ckpt_thread;
	int ckpt_running;
	pthread_cond_t ckpt_wake;
	int ckpt_want;            /* under mu: the strongest checkpoint asked for */
	const struct cg_config *cfg;  /* DAEMON mode: for the daily purge */
};

struct cg_store_reader {
	sqlite3 *db;
	sqlite3_stmt *state;
};

static const char insert_sql[] =
	"INSERT INTO consent_events(id, subject, recorded_at, action, policy_version,"
	" preferences, statistics, marketing, objection_purpose, objections, choice_at,"
	" gpc, dnt, lang, banner, page, ip_prefix, country, salt,"
	" core_digest, personal_digest, prev_hash, hash)"
	" VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static int map_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return CG_OK;
	case SQLITE_NOMEM: return CG_ERR_NOMEM;
	case SQLITE_CONSTRAINT: return CG_ERR_INVALID;
	default: return CG_ERR_STORAGE;
	}
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		cg_error("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return rc;
}

static int open_conn(const char *path, int flags, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		cg_error("sqlite: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		*out = NULL;
		return CG_ERR_STORAGE;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	*out = db;
	return CG_OK;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else
		rc = SQLITE_ERROR;
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int v = 0;

	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || user_version(db, &v)) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	if (v > CG_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d; this build knows up to %d",
		         v, CG_SCHEMA_VERSION);
		exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	if (v < 1 && (exec(db, cg_schema_v1) != SQLITE_OK || exec(db, "PRAGMA user_version = 1") != SQLITE_OK)) {
		snprintf(err, errlen, "migration to schema 1 failed: %s", sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	/* future migrations: if (v < 2) ... */
	if (exec(db, "COMMIT") != SQLITE_OK) {
		snprintf(err, errlen, "migration commit failed: %s", sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	return CG_OK;
}

/* The views compute expiry and staleness against the running configuration. */
static int write_meta(sqlite3 *db, const struct cg_config *cfg)
{
	sqlite3_stmt *st = NULL;
	char num[2][16];
	const char *kv[][2] = {
		{"policy_version", cfg->policy_version},
		{"consent_max_age_days", num[0]},
		{"refusal_max_age_days", num[1]},
	};
	int rc = CG_OK;

	snprintf(num[0], sizeof num[0], "%d", cfg->consent_max_age_days);
	snprintf(num[1], sizeof num[1], "%d", cfg->refusal_max_age_days);
	if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?, ?)"
	                           " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < sizeof kv / sizeof kv[0] && rc == CG_OK; i++) {
		sqlite3_bind_text(st, 1, kv[i][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, kv[i][1], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = CG_ERR_STORAGE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The chain tip: the highest id among the rows and the pruned rows' links.
 * Read inside every write transaction, so consentctl (erase, purge) can
 * write beside a running daemon: BEGIN IMMEDIATE orders them. */
static int load_tip(struct cg_store *s)
{
	int rc = SQLITE_DONE;

	s->last_id = 0;
	strcpy(s->last_hash, CG_CHAIN_GENESIS);
	for (int i = 0; i < 2 && rc == SQLITE_DONE; i++) {
		sqlite3_stmt *st = s->tip[i];
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (sqlite3_column_int64(st, 0) > s->last_id) {
				s->last_id = sqlite3_column_int64(st, 0);
				snprintf(s->last_hash, sizeof s->last_hash, "%s",
				         (const char *)sqlite3_column_text(st, 1));
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

static int insert_event(struct cg_store *s, const struct cg_event *ev)
{
	sqlite3_stmt *st = s->ins;
	char obj[CG_OBJECTIONS_MAX + 1];
	int rc;

	cg_objections_format(ev->objections, obj);
	sqlite3_bind_int64(st, 1, ev->id);
	sqlite3_bind_text(st, 2, ev->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ev->recorded_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cg_action_name(ev->action), -1, SQLITE_STATIC);
	bind_opt(st, 5, ev->policy_version);
	bind_tri(st, 6, ev->choice[CG_PREFERENCES]);
	bind_tri(st, 7, ev->choice[CG_STATISTICS]);
	bind_tri(st, 8, ev->choice[CG_MARKETING]);
	bind_opt(st, 9, ev->objection_purpose >= 0 ? cg_purpose_name(ev->objection_purpose) : NULL);
	sqlite3_bind_text(st, 10, obj, -1, SQLITE_TRANSIENT);
	bind_opt(st, 11, ev->choice_at);
	bind_tri(st, 12, ev->gpc);
	bind_tri(st, 13, ev->dnt);
	bind_opt(st, 14, ev->lang);
	bind_opt(st, 15, ev->banner);
	bind_opt(st, 16, ev->page);
	bind_opt(st, 17, ev->ip_prefix);
	bind_opt(st, 18, ev->country);
	bind_opt(st, 19, ev->salt);
	sqlite3_bind_text(st, 20, ev->core_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 21, ev->personal_digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 22, ev->prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 23, ev->hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CG_OK : map_sqlite(rc);
}

static const char *const ob_state_names[CG_OB_NSTATES] = {"pending", "delivered", "dropped", "dead"};

const char *cg_outbox_state_name(int st)
{
	return st >= 0 && st < CG_OB_NSTATES ? ob_state_names[st] : "unknown";
}

static const char ob_insert_sql[] =
	"INSERT INTO outbox(subject, destination, purpose, mode, payload, created_at,"
	" attempts, next_attempt_at, state) VALUES(?,?,?,?,?,?,0,?,'pending')";
static const char ob_drop_sql[] =
	"UPDATE outbox SET state = 'dropped', last_error = ?2"
	" WHERE subject = ?1 AND state = 'pending'";
static const char ob_drop_purpose_sql[] =
	"UPDATE outbox SET state = 'dropped', last_error = ?2"
	" WHERE subject = ?1 AND state = 'pending' AND purpose = ?3";
/* Erasure reaches the outbox too: every row of the visitor (queued, sent,
 * dead) loses the subject key and its payload (event params, page URLs);
 * what stays is the row's accounting (destination, purpose, times, state).
 * (A scan of the outbox: its subject index covers pending rows only, and
 * erasures are rare.) */
static const char ob_erase_sql[] =
	"UPDATE outbox SET subject = NULL, payload = '',"
	" last_error = CASE state WHEN 'pending' THEN 'erased before delivery' ELSE 'erased' END,"
	" state = CASE state WHEN 'pending' THEN 'dropped' ELSE state END"
	" WHERE subject = ?1";
static const char ob_update_sql[] =
	"UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5"
	" WHERE id = ?1 AND state = 'pending'";

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CG_OK : map_sqlite(rc);
}

/* A withdrawal or erasure drops the visitor's undelivered events in the same
 * transaction; an objection those of that purpose. (The forwarder re-checks
 * before sending as well: this keeps the outbox telling the truth.) */
static int drop_queued(struct cg_store *s, const struct cg_event *ev)
{
	if (ev->action == CG_ACT_ERASE) {
		sqlite3_bind_text(s->ob_erase, 1, ev->subject, -1, SQLITE_STATIC);
		return step_done(s->ob_erase);
	}
	if (ev->action == CG_ACT_WITHDRAW) {
		sqlite3_bind_text(s->ob_drop, 1, ev->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ob_drop, 2, "withdrawn before delivery", -1, SQLITE_STATIC);
		return step_done(s->ob_drop);
	}
	if (ev->action == CG_ACT_OBJECTION && ev->objection_purpose >= 0) {
		sqlite3_bind_text(s->ob_drop_purpose, 1, ev->subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ob_drop_purpose, 2, "objection before delivery", -1, SQLITE_STATIC);
		sqlite3_bind_text(s->ob_drop_purpose, 3, cg_purpose_name(ev->objection_purpose), -1,
		                  SQLITE_STATIC);
		return step_done(s->ob_drop_purpose);
	}
	return CG_OK;
}

/* Erasure: every personal column of the subject's rows, and the salt that
 * would let anyone confirm a guess of them, goes. The proof columns stay. */
static const char redact_sql[] =
	"UPDATE consent_events SET salt = NULL, gpc = NULL, dnt = NULL, lang = NULL, banner = NULL,"
	" page = NULL, ip_prefix = NULL, country = NULL WHERE subject = ?";

static int redact_subject(struct cg_store *s, const char *subject)
{
	sqlite3_bind_text(s->redact, 1, subject, -1, SQLITE_STATIC);
	return step_done(s->redact);
}

static int insert_outbox(struct cg_store *s, const struct cg_outbox_row *rows, size_t n)
{
	sqlite3_stmt *st = s->ob_ins;
	int rc = CG_OK;

	for (size_t i = 0; i < n && rc == CG_OK; i++) {
		bind_opt(st, 1, rows[i].subject);
		sqlite3_bind_text(st, 2, rows[i].destination, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, cg_purpose_name(rows[i].purpose), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, rows[i].mode == CG_FORWARD_FULL ? "full" : "minimised", -1,
		                  SQLITE_STATIC);
		sqlite3_bind_text(st, 5, rows[i].payload, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, rows[i].created_at, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, rows[i].created_at, -1, SQLITE_STATIC);
		rc = step_done(st);
	}
	return rc;
}

static int update_outbox(struct cg_store *s, const struct cg_outbox_update *u, size_t n)
{
	sqlite3_stmt *st = s->ob_upd;
	char when[CG_TIME_LEN + 1];
	int rc = CG_OK;

	for (size_t i = 0; i < n && rc == CG_OK; i++) {
		cg_time_format(u[i].next_attempt_ms, when);
		sqlite3_bind_int64(st, 1, u[i].id);
		sqlite3_bind_text(st, 2, cg_outbox_state_name(u[i].state), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, u[i].attempts);
		sqlite3_bind_text(st, 4, when, -1, SQLITE_TRANSIENT);
		bind_opt(st, 5, u[i].last_error);
		rc = step_done(st);
	}
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One group commit: every queued row in one transaction, one fsync. */
static void write_batch(struct cg_store *s, struct job *batch)
{
	double t0 = now_seconds();
	uint64_t n = 0, ok = 0;
	int rc = CG_OK, erased = 0;

	/* the tip is read inside the transaction: other writers may have added rows */
	if (exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK || load_tip(s) != CG_OK)
		rc = CG_ERR_STORAGE;
	for (struct job *j = batch; j; j = j->next, n++) {
		if (rc) {
			j->rc = rc;
			continue;
		}
		if (j->kind == JOB_OUTBOX) {
			j->rc = insert_outbox(s, j->rows, j->n);
		} else if (j->kind == JOB_UPDATE) {
			j->rc = update_outbox(s, j->ups, j->n);
		} else if (j->kind == JOB_FN) {
			j->rc = j->fn(s->db, j->arg);
		} else {
			j->rc = j->ev->action == CG_ACT_ERASE ? redact_subject(s, j->ev->subject) : CG_OK;
			j->ev->id = s->last_id + 1;
			cg_chain_seal(j->ev, s->last_hash);
			if (j->rc == CG_OK)
				j->rc = insert_event(s, j->ev);
			if (j->rc == CG_OK)
				j->rc = drop_queued(s, j->ev);
			if (j->rc == CG_OK) {
				s->last_id = j->ev->id;
				strcpy(s->last_hash, j->ev->hash);
				erased |= j->ev->action == CG_ACT_ERASE;
			}
		}
		if (j->rc == CG_OK)
			ok++;
		else if (j->rc != CG_ERR_INVALID) {
			rc = j->rc; /* disk full, I/O error: the transaction is lost */
			cg_error("sqlite write: %s", sqlite3_errmsg(s->db));
		}
	}
	if (rc == CG_OK && exec(s->db, "COMMIT") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK) {
		if (!sqlite3_get_autocommit(s->db))
			exec(s->db, "ROLLBACK");
		for (struct job *j = batch; j; j = j->next)
			j->rc = rc;
		ok = 0;
	}
	pthread_mutex_lock(&s->mu);
	s->stats.commits++;
	s->stats.rows += ok;
	if (rc)
		s->stats.failures++;
	if (n > s->stats.batch_max)
		s->stats.batch_max = n;
	s->stats.commit_seconds_total += now_seconds() - t0;
	pthread_mutex_unlock(&s->mu);
	/* the erased values still sit in old WAL frames: empty the WAL now, from
	 * this thread, which no commit can outpace (the checkpointer would wait
	 * for a gap between commits under load); if readers are in the way past
	 * busy_timeout, the checkpointer tries again */
	if (erased && rc == CG_OK &&
	    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK) {
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
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)arg;
	if (frames >= WAL_RESTART_FRAMES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	return SQLITE_OK;
}

/* fn decides: CG_OK commits, anything else rolls back (CG_ERR_DRY_RUN is
 * a successful dry run) */
static int run_alone(struct cg_store *s, struct job *j)
{
	int rc;

	if (exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return CG_ERR_STORAGE;
	rc = j->fn(s->db, j->arg);
	if (rc == CG_OK && exec(s->db, "COMMIT") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK && !sqlite3_get_autocommit(s->db))
		exec(s->db, "ROLLBACK");
	return rc == CG_ERR_DRY_RUN ? CG_OK : rc;
}

static void *writer_main(void *arg)
{
	struct cg_store *s = arg;

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
				sem_post(&j->done);
			}
		}

		for (struct job *j = batch, *next; j; j = next) {
			next = j->next; /* j lives on a worker's stack: gone once posted */
			sem_post(&j->done);
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

/* The key of full client_ids: random at first start, then stable, so a
 * visitor keeps one pseudonymous id at the destination across restarts. */
static int load_client_key(struct cg_store *s)
{
	sqlite3_stmt *st = NULL;
	const char *hex = NULL;
	char fresh[65];
	size_t got = 0;
	int rc = CG_ERR_STORAGE;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'client_id_key'", -1,
	                       &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	if (sqlite3_step(st) == SQLITE_ROW)
		hex = (const char *)sqlite3_column_text(st, 0);
	if (hex && sodium_hex2bin(s->client_key, sizeof s->client_key, hex, strlen(hex), NULL,
	                          &got, NULL) == 0 && got == sizeof s->client_key)
		rc = CG_OK;
	sqlite3_finalize(st);
	if (rc == CG_OK)
		return rc;
	randombytes_buf(s->client_key, sizeof s->client_key);
	sodium_bin2hex(fresh, sizeof fresh, s->client_key, sizeof s->client_key);
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES('client_id_key', ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, fresh, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
	sqlite3_finalize(st);
	sodium_memzero(fresh, sizeof fresh);
	return rc;
}

/* The checkpointer has its own connection, so copying WAL frames back into
 * the database seldom adds to a commit. Every second a PASSIVE checkpoint
 * (never waits); once writes have stopped (and when the writer's own
 * TRUNCATE after an erasure was refused), a TRUNCATE, so that old frames
 * holding erased or superseded values do not linger in the -wal file. The
 * writer bounds the WAL itself (wal_hook). TRUNCATE waits (busy_timeout)
 * for readers, whose read transactions are kept short for this reason. */
static void *checkpoint_main(void *arg)
{
	struct cg_store *s = arg;
	sqlite3 *db = NULL;
	struct timespec until;
	uint64_t seen_commits = 0;
	int idle_truncated = 0;

	time_t next_purge = time(NULL) + 60; /* a minute after start, then daily */

	/* the first read opens the WAL index: before it, a checkpoint on this
	 * connection returns OK and copies nothing */
	if (open_conn(s->path, SQLITE_OPEN_READWRITE, &db) != CG_OK ||
	    exec(db, "SELECT count(*) FROM sqlite_master") != SQLITE_OK) {
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
		mode = s->ckpt_want;
		s->ckpt_want = SQLITE_CHECKPOINT_PASSIVE;
		if (s->stats.commits != seen_commits) {
			seen_commits = s->stats.commits;
			idle_truncated = 0;
		} else if (!idle_truncated) {
			mode = SQLITE_CHECKPOINT_TRUNCATE; /* a second without commits */
			idle_truncated = 1;
		}
		pthread_mutex_unlock(&s->mu);
		rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, &log, &done);
		pthread_mutex_lock(&s->mu);
		s->stats.checkpoints++;
		s->stats.wal_frames = log > 0 ? (uint64_t)log : 0;
		if (rc != SQLITE_OK && mode > SQLITE_CHECKPOINT_PASSIVE && s->ckpt_want < mode)
			s->ckpt_want = mode; /* readers in the way: again next round */
		if (s->cfg && time(NULL) >= next_purge) {
			struct cg_purge_counts c;
			struct timespec now;
			pthread_mutex_unlock(&s->mu);
			clock_gettime(CLOCK_REALTIME, &now);
			next_purge = time(NULL) + 86400;
			if (cg_store_purge(s, s->cfg, (int64_t)now.tv_sec * 1000, 0, &c) == CG_OK)
				cg_info("retention: %lld ip prefixes cleared, %lld subjects (%lld events) pruned, "
				        "%lld outbox rows deleted, %lld expired", c.ip_prefixes_cleared,
				        c.subjects_pruned, c.events_pruned, c.outbox_deleted, c.outbox_expired);
			else
				cg_warn("retention: the daily purge failed; it runs again tomorrow");
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	sqlite3_close(db);
	return NULL;
}

int cg_store_open(const struct cg_config *cfg, int mode, struct cg_store **out,
                  char *err, size_t errlen)
{
	struct cg_store *s = NULL;
	int rc = CG_ERR_NOMEM, v = 0;

	*out = NULL;
	err[0] = '\0';
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return CG_ERR_NOMEM;
	}
	s->mode = mode == CG_STORE_DAEMON ? CG_STORE_WRITER : mode;
	s->cfg = mode == CG_STORE_DAEMON ? cfg : NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	snprintf(s->path, sizeof s->path, "%s", cfg->database);

	rc = open_conn(s->path, s->mode == CG_STORE_READONLY ? SQLITE_OPEN_READONLY
	                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s->db);
	if (rc) {
		snprintf(err, errlen, "cannot open database %s", s->path);
		goto out_fail;
	}
	if (s->mode == CG_STORE_READONLY) {
		if (user_version(s->db, &v) || v != CG_SCHEMA_VERSION) {
			snprintf(err, errlen, "%s: not a consentgate database of schema %d",
			         s->path, CG_SCHEMA_VERSION);
			rc = CG_ERR_STORAGE;
			goto out_fail;
		}
		*out = s;
		return CG_OK;
	}
	/* WAL + FULL: a commit is on disk when COMMIT returns, even on power loss */
	if (exec(s->db, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
	    exec(s->db, "PRAGMA synchronous=FULL") != SQLITE_OK ||
	    exec(s->db, "PRAGMA journal_size_limit=16777216") != SQLITE_OK ||
	    /* freed space is zeroed, so an erased value is not left in a free page */
	    exec(s->db, "PRAGMA secure_delete=ON") != SQLITE_OK ||
	    exec(s->db, "PRAGMA wal_autocheckpoint=0") != SQLITE_OK ||
	    exec(s->db, "PRAGMA foreign_keys=ON") != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot set WAL mode: %s", s->path, sqlite3_errmsg(s->db));
		rc = CG_ERR_STORAGE;
		goto out_fail;
	}
	rc = migrate(s->db, err, errlen);
	if (rc)
		goto out_fail;
	rc = write_meta(s->db, cfg);
	if (rc == CG_OK && (prepare(s->db, insert_sql, &s->ins) ||
	                    prepare(s->db, ob_insert_sql, &s->ob_ins) ||
	                    prepare(s->db, ob_drop_sql, &s->ob_drop) ||
	                    prepare(s->db, ob_drop_purpose_sql, &s->ob_drop_purpose) ||
	                    prepare(s->db, ob_erase_sql, &s->ob_erase) ||
	                    prepare(s->db, ob_update_sql, &s->ob_upd) ||
	                    prepare(s->db, redact_sql, &s->redact) ||
	                    prepare(s->db, "SELECT id, hash FROM consent_events ORDER BY id DESC LIMIT 1", &s->tip[0]) ||
	                    prepare(s->db, "SELECT id, hash FROM consent_pruned ORDER BY id DESC LIMIT 1", &s->tip[1])))
		rc = CG_ERR_STORAGE;
	if (rc == CG_OK)
		rc = load_client_key(s);
	if (rc) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
		goto out_fail;
	}
	if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		rc = CG_ERR_IO;
		goto out_fail;
	}
	s->running = 1;
	sqlite3_wal_hook(s->db, wal_hook, NULL);
	if (pthread_create(&s->ckpt_thread, NULL, checkpoint_main, s) == 0)
		s->ckpt_running = 1;
	*out = s;
	return CG_OK;
out_fail:
	cg_store_close(s);
	return rc;
}

void cg_store_close(struct cg_store *s)
{
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_signal(&s->work);
		pthread_cond_signal(&s->ckpt_wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		if (s->ckpt_running)
			pthread_join(s->ckpt_thread, NULL);
	}
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->ob_ins);
	sqlite3_finalize(s->ob_drop);
	sqlite3_finalize(s->ob_drop_purpose);
	sqlite3_finalize(s->ob_erase);
	sqlite3_finalize(s->ob_upd);
	sqlite3_finalize(s->redact);
	sqlite3_finalize(s->tip[0]);
	sqlite3_finalize(s->tip[1]);
	sodium_memzero(s->client_key, sizeof s->client_key);
	if (s->db && s->mode == CG_STORE_WRITER)
		sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->ckpt_wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int submit(struct cg_store *s, struct job *jp)
{
	struct job j = *jp;

	if (s->mode != CG_STORE_WRITER)
		return CG_ERR_STORAGE;
	sem_init(&j.done, 0, 0);
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		sem_destroy(&j.done);
		return CG_ERR_STOPPING;
	}
	if (s->tail)
		s->tail->next = &j;
	else
		s->head = &j;
	s->tail = &j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	while (sem_wait(&j.done) != 0)
		; /* EINTR */
	sem_destroy(&j.done);
	return j.rc;
}

int cg_store_commit(struct cg_store *s, struct cg_event *ev)
{
	struct job j = {.kind = JOB_EVENT, .ev = ev};

	return submit(s, &j);
}

int cg_store_add_outbox(struct cg_store *s, const struct cg_outbox_row *rows, size_t n)
{
	struct job j = {.kind = JOB_OUTBOX, .rows = rows, .n = n};

	return n ? submit(s, &j) : CG_OK;
}

int cg_store_run(struct cg_store *s, int alone, cg_store_fn fn, void *arg)
{
	struct job j = {.kind = alone ? JOB_ALONE : JOB_FN, .fn = fn, .arg = arg};

	return submit(s, &j);
}

int cg_store_update_outbox(struct cg_store *s, const struct cg_outbox_update *u, size_t n)
{
	struct job j = {.kind = JOB_UPDATE, .ups = u, .n = n};

	return n ? submit(s, &j) : CG_OK;
}

int cg_store_client_key(struct cg_store *s, uint8_t key[32])
{
	memcpy(key, s->client_key, sizeof s->client_key);
	return s->mode == CG_STORE_WRITER ? CG_OK : CG_ERR_NOT_FOUND;
}

int cg_store_reader_open(struct cg_store *s, struct cg_store_reader **out)
{
	struct cg_store_reader *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r)
		return CG_ERR_NOMEM;
	/* one reader per worker thread: a small page cache (64 kB) each keeps the daemon
	 * small (the OS page cache holds the hot pages anyway) */
	if (open_conn(s->path, SQLITE_OPEN_READONLY, &r->db) ||
	    sqlite3_exec(r->db, "PRAGMA cache_size=-64", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db,
	                       "SELECT action, policy_version, preferences, statistics, marketing,"
	                       " objections, recorded_at, choice_at FROM consent_events"
	                       " WHERE subject = ? ORDER BY id DESC LIMIT 1",
	                       -1, SQLITE_PREPARE_PERSISTENT, &r->state, NULL) != SQLITE_OK) {
		cg_store_reader_free(r);
		return CG_ERR_STORAGE;
	}
	*out = r;
	return CG_OK;
}

void cg_store_reader_free(struct cg_store_reader *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->state);
	sqlite3_close(r->db);
	free(r);
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(out, size, "%s", v ? v : "");
}

static int col_tri(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? CG_TRI_NULL : sqlite3_column_int(st, i) != 0;
}

int cg_store_load_state(struct cg_store_reader *r, const char *subject, struct cg_state *out)
{
	sqlite3_stmt *st = r->state;
	const char *s;
	int rc;

	memset(out, 0, sizeof *out);
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->present = 1;
		out->action = cg_action_parse((const char *)sqlite3_column_text(st, 0));
		s = (const char *)sqlite3_column_text(st, 1);
		snprintf(out->policy_version, sizeof out->policy_version, "%s", s ? s : "");
		for (int p = 0; p < CG_NPURPOSES; p++)
			out->choice[p] = col_tri(st, 2 + p);
		if (cg_objections_parse((const char *)sqlite3_column_text(st, 5), &out->objections) ||
		    cg_time_parse((const char *)sqlite3_column_text(st, 6), &out->recorded_at_ms))
			rc = SQLITE_CORRUPT;
		s = (const char *)sqlite3_column_text(st, 7);
		if (s && cg_time_parse(s, &out->choice_at_ms))
			rc = SQLITE_CORRUPT;
		if (rc == SQLITE_ROW)
			rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

void cg_store_stats(struct cg_store *s, struct cg_store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}

struct sqlite3 *cg_store_db(struct cg_store *s)
{
	return s->db;
}

int cg_store_report(struct cg_store_reader *r, int period, const char *since_day,
                    struct cg_report *out)
{
	static const char *const period_sql[] = {
		"substr(recorded_at, 1, 10)", "strftime('%Y-W%W', recorded_at)", "substr(recorded_at, 1, 7)",
	};
	char sql[1400];
	sqlite3_stmt *st = NULL;
	int rc;

	if (period < 0 || period > 2)
		return CG_ERR_INVALID;
	out->period = period;
	snprintf(sql, sizeof sql,
		"SELECT period, coalesce(country, ''), coalesce(policy_version, ''), coalesce(lang, ''),"
		" count(DISTINCT subject),"
		" sum(action = 'choice' AND preferences = 1 AND statistics = 1 AND marketing = 1),"
		" sum(action = 'choice' AND preferences = 0 AND statistics = 0 AND marketing = 0),"
		" sum(action = 'choice' AND NOT (preferences = statistics AND statistics = marketing)),"
		" sum(action = 'withdraw'), sum(action = 'choice'),"
		" sum(action = 'choice' AND preferences = 1), sum(action = 'choice' AND statistics = 1),"
		" sum(action = 'choice' AND marketing = 1)"
		" FROM (SELECT %s AS period, * FROM consent_events"
		"       WHERE action IN ('choice', 'withdraw') AND recorded_at >= ?)"
		" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 = '', 2, 3, 4", period_sql[period]);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, since_day, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cg_report_row row;
		memset(&row, 0, sizeof row);
		col_copy(st, 0, row.period, sizeof row.period);
		col_copy(st, 1, row.country, sizeof row.country);
		col_copy(st, 2, row.version, sizeof row.version);
		col_copy(st, 3, row.lang, sizeof row.lang);
		row.visitors = sqlite3_column_int64(st, 4);
		for (int o = 0; o < CG_NOUTCOMES; o++)
			row.n[o] = sqlite3_column_int64(st, 5 + o);
		row.choices = sqlite3_column_int64(st, 9);
		for (int c = 0; c < 3; c++)
			row.granted[c] = sqlite3_column_int64(st, 10 + c);
		if (cg_report_add(out, &row) != CG_OK) {
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}


int cg_store_each_event(struct cg_store_reader *r, const char *subject,
                        int (*fn)(void *ctx, const struct cg_event *ev), void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct cg_event ev;
	int rc, stop = 0;
	/* without a subject: the whole chain, pruned rows as links only
	 * (subject ''; verification checks their hash, not their fields) */
	const char *sql = subject
		? "SELECT id, subject, recorded_at, action, policy_version, preferences,"
		  " statistics, marketing, objection_purpose, objections, choice_at,"
		  " gpc, dnt, lang, banner, page, ip_prefix, country, salt,"
		  " core_digest, personal_digest, prev_hash, hash"
		  " FROM consent_events WHERE subject = ?1 ORDER BY id"
		: "SELECT id, subject, recorded_at, action, policy_version, preferences,"
		  " statistics, marketing, objection_purpose, objections, choice_at,"
		  " gpc, dnt, lang, banner, page, ip_prefix, country, salt,"
		  " core_digest, personal_digest, prev_hash, hash FROM consent_events"
		  " UNION ALL SELECT id, '', '', 'pruned', NULL, NULL, NULL, NULL, NULL, '', NULL,"
		  " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
		  " core_digest, personal_digest, prev_hash, hash FROM consent_pruned ORDER BY 1";

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	if (subject)
		sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t;
		memset(&ev, 0, sizeof ev);
		ev.id = sqlite3_column_int64(st, 0);
		col_copy(st, 1, ev.subject, sizeof ev.subject);
		col_copy(st, 2, ev.recorded_at, sizeof ev.recorded_at);
		ev.action = cg_action_parse((const char *)sqlite3_column_text(st, 3));
		col_copy(st, 4, ev.policy_version, sizeof ev.policy_version);
		for (int p = 0; p < CG_NPURPOSES; p++)
			ev.choice[p] = col_tri(st, 5 + p);
		t = (const char *)sqlite3_column_text(st, 8);
		ev.objection_purpose = t ? cg_purpose_parse(t) : -1;
		if (cg_objections_parse((const char *)sqlite3_column_text(st, 9), &ev.objections))
			ev.objections = ~0u; /* unparsable: the core digest will not match */
		col_copy(st, 10, ev.choice_at, sizeof ev.choice_at);
		ev.gpc = col_tri(st, 11);
		ev.dnt = col_tri(st, 12);
		col_copy(st, 13, ev.lang, sizeof ev.lang);
		col_copy(st, 14, ev.banner, sizeof ev.banner);
		col_copy(st, 15, ev.page, sizeof ev.page);
		col_copy(st, 16, ev.ip_prefix, sizeof ev.ip_prefix);
		col_copy(st, 17, ev.country, sizeof ev.country);
		col_copy(st, 18, ev.salt, sizeof ev.salt);
		col_copy(st, 19, ev.core_digest, sizeof ev.core_digest);
		col_copy(st, 20, ev.personal_digest, sizeof ev.personal_digest);
		col_copy(st, 21, ev.prev_hash, sizeof ev.prev_hash);
		col_copy(st, 22, ev.hash, sizeof ev.hash);
		stop = fn(ctx, &ev);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cg_store_due_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max,
                        struct cg_outbox_item **items, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cg_outbox_item *it = NULL;
	char now[CG_TIME_LEN + 1];
	int rc;

	*items = NULL;
	*n = 0;
	cg_time_format(now_ms, now);
	if (sqlite3_prepare_v2(r->db,
	                       "SELECT id, subject, destination, purpose, mode, attempts, created_at, payload"
	                       " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
	                       " ORDER BY next_attempt_at, id LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	it = calloc(max ? max : 1, sizeof *it);
	if (!it) {
		sqlite3_finalize(st);
		return CG_ERR_NOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct cg_outbox_item *x = &it[*n];
		const char *pl = (const char *)sqlite3_column_text(st, 7);
		x->id = sqlite3_column_int64(st, 0);
		col_copy(st, 1, x->subject, sizeof x->subject);
		col_copy(st, 2, x->destination, sizeof x->destination);
		x->purpose = cg_purpose_parse((const char *)sqlite3_column_text(st, 3));
		x->mode = strcmp((const char *)sqlite3_column_text(st, 4), "full") == 0
		                  ? CG_FORWARD_FULL : CG_FORWARD_MINIMISED;
		x->attempts = sqlite3_column_int(st, 5);
		if (cg_time_parse((const char *)sqlite3_column_text(st, 6), &x->created_ms))
			x->created_ms = 0;
		x->payload = strdup(pl ? pl : "");
		(*n)++;
		if (!x->payload) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		cg_store_outbox_items_free(it, *n);
		*n = 0;
		return CG_ERR_STORAGE;
	}
	*items = it;
	return CG_OK;
}

void cg_store_outbox_items_free(struct cg_outbox_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++)
		free(items[i].payload);
	free(items);
}

int cg_store_outbox_pending(struct cg_store_reader *r, long long *n)
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE;

	*n = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM outbox WHERE state = 'pending'", -1, &st,
	                       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		rc = CG_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int cg_store_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES])
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(counts, 0, sizeof(long long) * CG_OB_NSTATES);
	if (sqlite3_prepare_v2(r->db, "SELECT state, count(*) FROM outbox GROUP BY state", -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (int i = 0; i < CG_OB_NSTATES; i++)
			if (strcmp(ob_state_names[i], (const char *)sqlite3_column_text(st, 0)) == 0)
				counts[i] = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

/* ---- retention ------------------------------------------------------------ */

struct purge_job {
	const struct cg_config *cfg;
	int64_t now_ms;
	int dry_run;
	struct cg_purge_counts *out;
};

static int purge_step(sqlite3 *db, const char *sql, const char *const *binds, int nbinds,
                      long long *changes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cg_error("purge: %s", sqlite3_errmsg(db));
		return CG_ERR_STORAGE;
	}
	for (int i = 0; i < nbinds; i++)
		sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return CG_ERR_STORAGE;
	if (changes)
		*changes = sqlite3_changes(db);
	return CG_OK;
}

static int purge_fn(sqlite3 *db, void *arg)
{
	struct purge_job *p = arg;
	const struct cg_config *cfg = p->cfg;
	char now[CG_TIME_LEN + 1], ip_cut[CG_TIME_LEN + 1], ev_cut[CG_TIME_LEN + 1];
	char ob_cut[CG_TIME_LEN + 1], dead_cut[CG_TIME_LEN + 1], old_cut[CG_TIME_LEN + 1];
	char cdays[16], rdays[16];
	int rc;

	cg_time_format(p->now_ms, now);
	cg_time_format(p->now_ms - (int64_t)cfg->ip_prefix_days * CG_MS_PER_DAY, ip_cut);
	cg_time_format(p->now_ms - (int64_t)cfg->events_days_after_end * CG_MS_PER_DAY, ev_cut);
	cg_time_format(p->now_ms - (int64_t)cfg->outbox_delivered_days * CG_MS_PER_DAY, ob_cut);
	cg_time_format(p->now_ms - 30 * CG_MS_PER_DAY, dead_cut);
	cg_time_format(p->now_ms - 72 * 3600 * INT64_C(1000), old_cut);
	snprintf(cdays, sizeof cdays, "%d", cfg->consent_max_age_days);
	snprintf(rdays, sizeof rdays, "%d", cfg->refusal_max_age_days);
	memset(p->out, 0, sizeof *p->out);

	/* 1. IP prefixes: cleared with the salt (the row is then "redacted") */
	{
		const char *b[] = {ip_cut};
		rc = purge_step(db, "UPDATE consent_events SET ip_prefix = NULL, salt = NULL"
		                    " WHERE ip_prefix IS NOT NULL AND recorded_at < ?1",
		                b, 1, &p->out->ip_prefixes_cleared);
	}
	/* 2. subjects whose consent ended before the cutoff: their rows go, their
	 *    links stay in consent_pruned */
	if (rc == CG_OK) {
		const char *b[] = {ev_cut, cdays, rdays};
		rc = purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);
		if (rc == CG_OK)
			rc = purge_step(db,
				"CREATE TEMP TABLE purge_subjects AS"
				" SELECT subject FROM (SELECT e.subject,"
				"  CASE WHEN e.action IN ('withdraw', 'erase') THEN e.recorded_at"
				"       ELSE strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(e.choice_at, e.recorded_at), '+' ||"
				"            CASE WHEN coalesce(e.preferences,0) + coalesce(e.statistics,0) +"
				"                      coalesce(e.marketing,0) > 0 THEN ?2 ELSE ?3 END || ' days')"
				"  END AS ended_at"
				"  FROM consent_events e"
				"  JOIN (SELECT subject, max(id) AS id FROM consent_events GROUP BY subject) l"
				"    ON e.id = l.id)"
				" WHERE ended_at < ?1", b, 3, NULL);
	}
	if (rc == CG_OK) {
		const char *b[] = {now};
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM temp.purge_subjects", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			p->out->subjects_pruned = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		rc = purge_step(db,
			"INSERT INTO consent_pruned(id, prev_hash, hash, core_digest, personal_digest, pruned_at)"
			" SELECT id, prev_hash, hash, core_digest, personal_digest, ?1 FROM consent_events"
			" WHERE subject IN (SELECT subject FROM temp.purge_subjects)", b, 1, NULL);
	}
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM consent_events WHERE subject IN (SELECT subject FROM temp.purge_subjects)",
		                NULL, 0, &p->out->events_pruned);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM outbox WHERE subject IN (SELECT subject FROM temp.purge_subjects)",
		                NULL, 0, NULL);
	/* 3. the outbox: delivered and dropped rows after outbox_delivered_days,
	 *    dead letters after 30 days; pending rows past 72 h are dropped */
	if (rc == CG_OK) {
		const char *b[] = {ob_cut, dead_cut};
		rc = purge_step(db, "DELETE FROM outbox WHERE (state IN ('delivered', 'dropped') AND created_at < ?1)"
		                    " OR (state = 'dead' AND created_at < ?2)", b, 2, &p->out->outbox_deleted);
	}
	if (rc == CG_OK) {
		const char *b[] = {old_cut};
		rc = purge_step(db, "UPDATE outbox SET state = 'dropped', last_error = 'older than 72 h'"
		                    " WHERE state = 'pending' AND created_at < ?1", b, 1, &p->out->outbox_expired);
	}
	purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);
	if (rc != CG_OK)
		return rc;
	return p->dry_run ? CG_ERR_DRY_RUN : CG_OK;
}

int cg_store_purge(struct cg_store *s, const struct cg_config *cfg, int64_t now_ms, int dry_run,
                   struct cg_purge_counts *out)
{
	struct purge_job p = {cfg, now_ms, dry_run, out};

	return cg_store_run(s, 1, purge_fn, &p);
}

struct event_list {
	struct cg_event *evs;
	size_t n, cap;
};

static int collect_event(void *arg, const struct cg_event *ev)
{
	struct event_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct cg_event *nv;
		if (ncap > 100000)
			return CG_ERR_TOO_LONG;
		nv = realloc(l->evs, ncap * sizeof *nv);
		if (!nv)
			return CG_ERR_NOMEM;
		l->evs = nv;
		l->cap = ncap;
	}
	l->evs[l->n++] = *ev;
	return 0;
}

int cg_store_subject_events(struct cg_store_reader *r, const char *subject,
                            struct cg_event **evs, size_t *n)
{
	struct event_list l = {0};
	int rc = cg_store_each_event(r, subject, collect_event, &l);

	*evs = NULL;
	*n = 0;
	if (rc != CG_OK) {
		free(l.evs);
		return rc == CG_ERR_TOO_LONG || rc == CG_ERR_NOMEM ? rc : CG_ERR_STORAGE;
	}
	*evs = l.evs;
	*n = l.n;
	return CG_OK;
}

/* ---- outbox administration (consentctl outbox) ------------------------------ */

int cg_store_outbox_rows(struct cg_store_reader *r, const char *sql_kind,
                         int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx)
{
	static const char summary[] =
		"SELECT destination, state, count(*), min(created_at), max(created_at) FROM outbox"
		" GROUP BY destination, state ORDER BY destination, state";
	static const char dead[] =
		"SELECT id, destination, created_at, attempts, last_error FROM outbox"
		" WHERE state = 'dead' ORDER BY id";
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(r->db, strcmp(sql_kind, "dead") == 0 ? dead : summary, -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cols[5];
		for (int i = 0; i < 5; i++) {
			cols[i] = (const char *)sqlite3_column_text(st, i);
			if (!cols[i])
				cols[i] = "";
		}
		stop = fn(ctx, 5, cols);
	}
	sqlite3_finalize(st);
	return stop || rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

struct set_job {
	int64_t id;       /* 0: every row in a matching state */
	int retry;        /* 1: dead -> pending now; 0: dead/pending -> dropped */
	const char *now;
	long long changed;
};

static int outbox_set_fn(sqlite3 *db, void *arg)
{
	struct set_job *j = arg;
	sqlite3_stmt *st = NULL;
	const char *sql = j->retry
		? "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error = NULL"
		  " WHERE state = 'dead' AND (?1 = 0 OR id = ?1)"
		: "UPDATE outbox SET state = 'dropped', last_error = 'dropped by the operator'"
		  " WHERE state IN ('dead', 'pending') AND (?1 = 0 OR id = ?1)";
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, j->id);
	if (j->retry)
		sqlite3_bind_text(st, 2, j->now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	j->changed = sqlite3_changes(db);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cg_store_outbox_set(struct cg_store *s, int64_t id, int retry, int64_t now_ms, long long *changed)
{
	char now[CG_TIME_LEN + 1];
	struct set_job j = {id, retry, now, 0};
	int rc;

	cg_time_format(now_ms, now);
	rc = cg_store_run(s, 0, outbox_set_fn, &j);
	*changed = j.changed;
	return rc;
}
