/* The SQLite backend's private parts, shared by its files: conn.c (what
 * they all use: connections, statement steps, encodings, the writer's
 * queue), store.c (open, close, schema, the port's table), writer.c (the
 * writer thread: group commit, outbox rows, WAL checkpoints), read.c (read
 * connections and queries), maintain.c (retention, outbox administration).
 * Nothing outside src/store/ includes this or sqlite3.h. */
#ifndef CONSENTGATE_STORE_INTERNAL_H
#define CONSENTGATE_STORE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include "consentgate/store_sqlite.h"

struct cgs; /* the writer connection + thread + queue; defined below */

/* Runs fn on the writer's connection: inside the next group commit's
 * transaction (alone = 0), or in a transaction of its own (alone = 1), where
 * fn returning CG_ERR_DRY_RUN rolls back and still counts as success. */
typedef int (*cgs_fn)(sqlite3 *db, void *arg);
int cgs_run(struct cgs *st, int alone, cgs_fn fn, void *arg);

/* A request to the writer: a batch (an event — an erasure also redacts the
 * subject's earlier rows —, outbox rows, outbox updates), or a function run
 * on the writer's connection inside the batch's transaction (JOB_FN) or in a
 * transaction of its own (JOB_ALONE, e.g. the retention purge). Allocated by
 * submit; the writer calls done(done_arg, rc) outside its lock once the
 * transaction has committed (or failed), then frees it. */
enum job_kind { JOB_BATCH, JOB_FN, JOB_ALONE };

struct job {
	int kind;
	cgs_fn fn;
	void *arg;
	struct cg_store_batch *b;
	int rc;
	cg_store_done done;
	void *done_arg;
	struct job *next;
};

/* conn.c: queue a job (copied); done is called exactly once when this
 * returns CG_OK */
int cgs_submit(struct cgs *s, const struct job *j);
struct cg_ids_digest;
int cgs_ids_of(sqlite3 *db, const char *sql, struct cg_ids_digest *d);
/* the port's operations (store.c, read.c, maintain.c) */
int cgs_open(const struct cg_config *cfg, int mode, struct cgs **out, char *err, size_t errlen);
void cgs_close(void *ctx);
int cgs_client_key(void *ctx, uint8_t key[32]);
void cgs_stats(void *ctx, struct cg_store_stats *out);
int cgs_purge(void *ctx, const struct cg_config *cfg, int64_t now_ms, int dry_run,
              struct cg_purge_counts *out);
int cgs_outbox_set(void *ctx, int64_t id, int retry, int64_t now_ms, long long *changed);
int cgs_reader_open(void *ctx, struct cg_store_reader **out);
void cgs_reader_free(struct cg_store_reader *r);
int cgs_load_state(struct cg_store_reader *r, const char *subject, struct cg_state *out);
int cgs_each_event(struct cg_store_reader *r, const char *subject, cg_store_event_fn fn, void *ctx);
int cgs_each_link(struct cg_store_reader *r, cg_store_event_fn fn, void *ctx);
int cgs_snapshot(struct cg_store_reader *r, int begin);
int cgs_report(struct cg_store_reader *r, int period, const char *since_day, struct cg_report *out);
int cgs_claim_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max, int64_t lease_ms,
                     struct cg_outbox_item **items, size_t *n);
int cgs_each_outbox(struct cg_store_reader *r, cg_store_outbox_fn fn, void *ctx);
int cgs_retire(void *ctx, const char *to, int (*copy)(void *arg), void *arg);
int cgs_outbox_pending(struct cg_store_reader *r, long long *events, long long *notices);
int cgs_each_recipient(struct cg_store_reader *r, const char *subject, cg_store_recipient_fn fn, void *ctx);
int cgs_recipients_since(struct cg_store_reader *r, int64_t *ms);
int cgs_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES]);
int cgs_outbox_backlog(struct cg_store_reader *r, cg_store_backlog_fn fn, void *ctx);
int cgs_outbox_rows(struct cg_store_reader *r, const char *kind, cg_store_row_fn fn, void *ctx);
/* shown.c */
int cgs_shown_put(void *ctx, const struct cg_shown *s, int64_t now_ms);
int cgs_leaks_put(void *ctx, const struct cg_leak_row *rows, size_t n);
int cgs_each_leak(struct cg_store_reader *r, const char *since_day, cg_store_leak_fn fn, void *ctx);
extern const char cg_schema_v7_leaks[];
int cgs_each_shown(struct cg_store_reader *r, const char *id, cg_store_shown_fn fn, void *ctx);
int cgs_artefact(struct cg_store_reader *r, const char *hash, struct cg_buf *out);
/* proof.c */
int cgs_key_put(void *ctx, const struct cg_pubkey *k);
int cgs_sign_head(void *ctx, int64_t now_ms, int64_t min_interval_ms, int force,
                  cg_head_sign_fn sign, void *arg, int64_t *head_id);
int cgs_head_anchor(void *ctx, int64_t head_id, const char *anchor, int64_t now_ms);
int cgs_each_key(struct cg_store_reader *r, cg_store_key_fn fn, void *ctx);
int cgs_each_head(struct cg_store_reader *r, int64_t from_ms, int64_t to_ms, int latest,
                  cg_store_head_fn fn, void *ctx);

struct cgs {
	int mode;
	char path[CG_CFG_STR];
	sqlite3 *db;              /* the writer's (or consentctl's) connection */
	sqlite3_stmt *ins;
	sqlite3_stmt *ob_ins, *ob_drop, *ob_drop_purpose, *ob_erase, *ob_upd, *redact[2], *tip[3];
	sqlite3_stmt *sub_find, *sub_ins, *ctx_ins, *ctx_find, *day_ins;
	sqlite3_stmt *rcp_ins, *rcp_has, *rcp_forget;   /* recipients (storage.h) */
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
	/* held around every checkpoint of this process: SQLite refuses a
	 * checkpoint at once (SQLITE_BUSY, no busy handler) while another one
	 * runs, so the writer's RESTART would fail whenever the checkpointer's
	 * PASSIVE happens to be copying frames */
	pthread_mutex_t ckpt_mu;
	const struct cg_config *cfg;  /* DAEMON mode: for the daily purge */
};

struct cg_store_reader {
	sqlite3 *db;
	sqlite3_stmt *find, *state;
	sqlite3_stmt *claim; /* the forwarder's, prepared on its first round */
};


/* sqlite3_exec, logging the error */
int cgs_exec(sqlite3 *db, const char *sql);
/* opens with busy_timeout and the pragmas every connection needs */
int cgs_open_conn(const char *path, int flags, sqlite3 **out);

/* ---- schema 2's encodings (conn.c) ---- */
/* step a one-off statement that returns no row (NULL: it failed to
 * prepare), then finalize it */
int cgs_step_final(sqlite3_stmt *st);
/* step a statement that returns no row, then reset and clear it */
int cgs_step_done(sqlite3_stmt *st);
/* 64 hex digits -> the 32-byte subject key (CG_ERR_INVALID if malformed) */
int cgs_subject_key(const char *hex, uint8_t key[CG_SUBJECT_BYTES]);
/* A visitor's sid by their subject key, on a statement prepared from
 * CGS_SUBJECT_FIND_SQL: candidates by the key's first 8 bytes, the whole key
 * compared in constant time. CG_OK, CG_ERR_NOT_FOUND or CG_ERR_STORAGE. */
#define CGS_SUBJECT_FIND_SQL "SELECT sid, digest FROM subjects WHERE substr(digest, 1, 8) = ?1"
int cgs_sid_find(sqlite3_stmt *find, const uint8_t key[CG_SUBJECT_BYTES], int64_t *sid);
/* hex text <-> blob columns: "" binds NULL; a NULL column reads as "" */
int cgs_bind_hex(sqlite3_stmt *st, int i, const char *hex, size_t nbytes);
void cgs_column_hex(sqlite3_stmt *st, int i, char *out, size_t size);
/* Time ranges as id ranges (event_days), a day wider on each side, since
 * rows commit in about, not exactly, the order of their times: every id
 * recorded at or after ms is >= cgs_first_id(ms); every id recorded before
 * ms is < cgs_after_id(ms). */
int64_t cgs_first_id(sqlite3 *db, int64_t ms);
int64_t cgs_after_id(sqlite3 *db, int64_t ms);
/* schema.c */
extern const char cg_schema_v2_tables[], cg_schema_v2_views[], cg_schema_v3_proof[], cg_schema_v3_shown[],
	cg_schema_v4_notices[], cg_schema_v5_tables[], cg_schema_v5_views[], cg_schema_v6[];
/* migrate.c: schema 1 -> 2, inside the caller's transaction */
int cgs_migrate_v1(sqlite3 *db, char *err, size_t errlen);
/* schema 3 -> 4 (history: the file held a log before) */
int cgs_migrate_v4(sqlite3 *db, int history, char *err, size_t errlen);
/* logev.c: the chain's tip over rows, pruned links and log events; a log
 * event sealed onto it and stored (ev: what was stored); the SQL functions
 * cg_subject_digest(subject) and cg_ip_clear(salt, prefix, 0 salt | 1
 * ip_digest) on a connection; schema 4 -> 5 (row format 2), in the
 * caller's transaction, with the format event */
struct cg_logevent;
int cgs_tip(sqlite3 *db, int64_t *id, char hash[CG_HEX_HASH_LEN + 1]);
int cgs_log_event_put(sqlite3 *db, const struct cg_logevent *l, int64_t now_ms, struct cg_event *ev);
int cgs_functions(sqlite3 *db);
int cgs_migrate_v5(sqlite3 *db);

/* writer.c: the writer's statements, its thread, the checkpointer */
int cgs_writer_prepare(struct cgs *s);
void cgs_writer_finalize(struct cgs *s);
void *cgs_writer_main(void *arg);
void *cgs_checkpoint_main(void *arg);
int cgs_wal_hook(void *arg, sqlite3 *db, const char *name, int frames);

#endif
