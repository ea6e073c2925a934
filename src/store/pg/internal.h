/* The PostgreSQL backend's private parts, shared by its files:
 *   conn.c     libpq with deadlines: connect, one statement, a pipeline,
 *              array literals, result columns
 *   schema.c   tables, views, the schema version, meta, keys
 *   writer.c   the writer thread: group commit, the chain, unknown COMMITs
 *   read.c     reader connections and every query
 *   doctor.c   background work: connections, this instance's heartbeat and
 *              fingerprint, the daily purge on one instance, VACUUM
 *   maintain.c retention and outbox administration
 *   import.c   copying a log from another backend (consentctl migrate --to)
 *   pg.c       open, close, the port table
 * Nothing outside src/store/pg/ includes this or libpq-fe.h. */
#ifndef CONSENTGATE_PG_INTERNAL_H
#define CONSENTGATE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/id.h"
#include "consentgate/storage.h"
#include "consentgate/store_pg.h"

/* Advisory lock keys (one database holds one consentgate log). */
#define PGS_LOCK_SCHEMA 0x63670001   /* creating or migrating the schema */
#define PGS_LOCK_CHAIN 0x63670002    /* appending to the hash chain */
#define PGS_LOCK_PURGE 0x63670003    /* the retention purge */
#define PGS_LOCK_INSTANCES 0x63670004 /* registering an instance */
#define PGS_LOCK_BATCH 0x63670005    /* class of the per-batch locks (two-key form) */
#define PGS_LOCK_HEADS 0x63670006    /* signing a chain head */

/* An instance counts as alive while its heartbeat is younger than this. */
#define PGS_HEARTBEAT_MS 5000
#define PGS_ALIVE_MS 30000

/* ---- conn.c ---------------------------------------------------------------- */

/* Errors: CG_ERR_STORAGE = the server refused a statement (the connection
 * is fine); CG_ERR_IO = the connection broke or the deadline passed (the
 * connection must be dropped: a statement may still be running). */
int64_t pgs_mono_ms(void);
int64_t pgs_wall_ms(void);
/* A new connection to cfg->url within deadline (monotonic ms), with the
 * session settings every connection needs. */
int pgs_connect(const struct cg_config *cfg, const char *app, int64_t deadline, PGconn **out,
                char *err, size_t errlen);
/* One statement with text parameters (NULL = SQL NULL). *res: the result
 * (PQclear) when res is not NULL. */
int pgs_query(PGconn *c, const char *sql, int n, const char *const *vals, int64_t deadline, PGresult **res);
int pgs_exec(PGconn *c, const char *sql, int64_t deadline);
/* several statements in one simple-protocol query (no parameters) */
int pgs_exec_script(PGconn *c, const char *sql, int64_t deadline);
/* The same for a statement prepared with PREPARE on this connection. */
int pgs_query_prepared(PGconn *c, const char *name, int n, const char *const *vals, int64_t deadline,
                       PGresult **res);

#define PGS_MAX_PARAMS 24
struct pgs_stmt {
	const char *sql;
	int n;
	const char *vals[PGS_MAX_PARAMS];
};
/* Sends the statements in one pipeline (one round trip) and reads their
 * results into res[i] (may be NULL). CG_OK when all succeeded; else the
 * first failure's code, its index in *failed_at (n when the connection
 * broke before any statement failed). */
int pgs_pipeline(PGconn *c, const struct pgs_stmt *st, int n, int64_t deadline, PGresult **res,
                 int *failed_at);

/* Text-format array literals for unnest(): {"a",NULL,"\\x00ff"} */
struct pgs_arr {
	struct cg_buf b;
	int n;
	int failed;
};
void pgs_arr_init(struct pgs_arr *a);
void pgs_arr_text(struct pgs_arr *a, const char *s);   /* NULL -> NULL */
#define PGS_OPT(s) ((s)[0] ? (s) : NULL)              /* "" -> NULL */
void pgs_arr_int(struct pgs_arr *a, long long v);
void pgs_arr_null(struct pgs_arr *a);
void pgs_arr_hex(struct pgs_arr *a, const char *hex);  /* bytea from hex; "" -> NULL */
/* the literal (owned by the array), or NULL if it could not be built */
const char *pgs_arr_end(struct pgs_arr *a);
void pgs_arr_free(struct pgs_arr *a);

/* Columns of a text-format result; NULL reads as "", 0 or CG_TRI_NULL. */
void pgs_col(const PGresult *r, int row, int col, char *out, size_t size);
int64_t pgs_col_i64(const PGresult *r, int row, int col);
int pgs_col_tri(const PGresult *r, int row, int col);
int pgs_col_null(const PGresult *r, int row, int col);
/* a bytea column as hex, without its "\x" */
void pgs_col_hex(const PGresult *r, int row, int col, char *out, size_t size);
/* "\\x" + hex of 32 bytes, for a bytea parameter */
void pgs_bytea_param(const char *hex, char *out, size_t size);

/* ---- the store ---------------------------------------------------------------- */

struct pgs_job {
	struct cg_store_batch *b;
	int rc;
	cg_store_done done;
	void *done_arg;
	struct pgs_job *next;
};

struct pgs {
	int mode;                        /* CG_STORE_WRITER, _READONLY, _DAEMON */
	struct cg_config cfg;            /* a copy: the url, timeouts, retention */
	char instance[33];               /* random, per start: who claims, who writes */
	char fingerprint[CG_FINGERPRINT_LEN + 1];
	uint8_t client_key[32];

	pthread_mutex_t mu;
	/* the writer (thread + its connection; a replacement made by the doctor) */
	pthread_t thread;
	int running;
	pthread_cond_t work;
	struct pgs_job *head, *tail;
	int stopping;
	PGconn *wconn;                   /* the writer thread's own */
	int tip_known;                   /* the writer's: the chain's tip as of its last commit */
	int64_t tip_id;
	char tip_hash[CG_HEX_HASH_LEN + 1];
	PGconn *wspare;                  /* under mu: a fresh connection for the writer */
	int want_wconn;                  /* under mu: the writer has none */
	struct cg_store_stats stats;     /* under mu */
	atomic_int fenced;               /* another configuration owns the database */
	/* acked.c: the daemon's last acknowledged row (NULL: not tracked), the
	 * database reached lacks it, the writer's connection is to be checked */
	struct cg_acked *_Atomic acked; /* set once, read by every thread */
	atomic_int diverged, wcheck;
	/* the doctor: connections, heartbeat, purge, vacuum */
	pthread_t doctor;
	int doctor_running, doctor_stop;
	pthread_cond_t doctor_wake;
	int vacuum_wanted;               /* under mu: an erasure or purge committed */
	/* every open reader; held by the doctor while it reconnects them, so a
	 * reader is never freed under it */
	pthread_mutex_t readers_mu;
	struct cg_store_reader *readers;
};

struct cg_store_reader {
	struct pgs *s;
	pthread_mutex_t mu;              /* the reader's user, or the doctor swapping conn */
	PGconn *conn;                    /* NULL: broken, the doctor reconnects it */
	int snapshot;                    /* in pgs_snapshot's transaction */
	struct cg_store_reader *next;    /* under s->readers_mu */
};

/* schema.c */
int pgs_schema(PGconn *c, const struct cg_config *cfg, int64_t deadline, char *err, size_t errlen);
int pgs_schema_check(PGconn *c, int64_t deadline, char *err, size_t errlen);
int pgs_load_client_key(PGconn *c, int64_t deadline, uint8_t key[32]);
int pgs_write_meta(PGconn *c, const struct cg_config *cfg, int64_t deadline);
/* reader.c's connection set-up (prepared statements) */
int pgs_reader_prepare(PGconn *c, int64_t deadline);

/* plan.c: the statements of one writer transaction */
#define MAX_JOBS 4096       /* jobs per transaction; the rest wait for the next */
/* statements per pipeline: at most 5 per job (redact, insert, effect,
 * outbox rows, forgetting recipients; updates and recipients) */
#define MAX_STMTS (5 * MAX_JOBS + 16)
#define EV_COLS 23
#define OB_COLS 7
#define UP_COLS 5
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
	PGresult *res[MAX_STMTS];   /* the results, when updates want theirs (writer.c) */
};

struct plan *pgs_plan_new(void);
void pgs_plan_free(struct plan *p);
/* empties it for the next transaction (its memory stays) */
void pgs_plan_reset(struct plan *p);
/* a statement appended (NULL-free: on overflow p->failed is set) */
struct pgs_stmt *pgs_plan_stmt(struct plan *p, const char *sql);
/* every valid job's rows, in job order */
void pgs_plan_rows(struct plan *p, struct pgs_job *jobs, const char *instance);
/* what the SQLite writer refuses row by row is refused before the transaction */
int pgs_job_valid(const struct pgs_job *j);
/* the statement recording outcomes (RETURNING the ids it changed) */
extern const char pgs_upd_outbox_sql[];

/* writer.c */
void *pgs_writer_main(void *arg);
int pgs_submit(void *ctx, struct cg_store_batch *b, cg_store_done done, void *arg);

/* doctor.c */
int pgs_register(struct pgs *s, PGconn *c, char *err, size_t errlen);
void pgs_unregister(struct pgs *s);
void *pgs_doctor_main(void *arg);

/* read.c: the port's reads */
int pgs_reader_open(void *ctx, struct cg_store_reader **out);
void pgs_reader_free(struct cg_store_reader *r);
int pgs_load_state(struct cg_store_reader *r, const char *subject, struct cg_state *out);
int pgs_each_event(struct cg_store_reader *r, const char *subject, cg_store_event_fn fn, void *ctx);
int pgs_each_link(struct cg_store_reader *r, cg_store_event_fn fn, void *ctx);
int pgs_snapshot(struct cg_store_reader *r, int begin);
int pgs_report(struct cg_store_reader *r, int period, const char *since_day, struct cg_report *out);
int pgs_claim_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max, int64_t lease_ms,
                     struct cg_outbox_item **items, size_t *n);
int pgs_outbox_pending(struct cg_store_reader *r, long long *events, long long *notices);
int pgs_each_recipient(struct cg_store_reader *r, const char *subject, cg_store_recipient_fn fn, void *ctx);
int pgs_recipients_since(struct cg_store_reader *r, int64_t *ms);
int pgs_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES]);
int pgs_outbox_backlog(struct cg_store_reader *r, cg_store_backlog_fn fn, void *ctx);
int pgs_outbox_rows(struct cg_store_reader *r, const char *kind, cg_store_row_fn fn, void *ctx);
int pgs_each_outbox(struct cg_store_reader *r, cg_store_outbox_fn fn, void *ctx);
/* a reader's connection for one call (NULL: broken), and its release; a
 * call that ended in CG_ERR_IO drops the connection for the doctor */
PGconn *pgs_reader_conn(struct cg_store_reader *r);
/* one statement on a reader's connection, within write_timeout_ms: CG_OK or
 * CG_ERR_STORAGE (a broken connection is left for the doctor) */
int pgs_reader_query(struct cg_store_reader *r, const char *sql, int n, const char *const *vals, PGresult **res);
void pgs_reader_done(struct cg_store_reader *r, int rc);

/* maintain.c */
int pgs_purge(void *ctx, const struct cg_config *cfg, int64_t now_ms, int dry_run, struct cg_purge_counts *out);
/* the daemon's daily purge: runs only if no instance purged in the last day
 * (*said_skip: the skip was logged once already) */
void pgs_daily_purge(struct pgs *s, PGconn *c, int *said_skip);
/* VACUUM of the tables erasures and purges rewrite */
void pgs_vacuum(PGconn *c);
void pgs_want_vacuum(struct pgs *s);
int pgs_outbox_set(void *ctx, int64_t id, int retry, int64_t now_ms, long long *changed);

/* proof.c: public keys and signed chain heads */
extern const char pgs_proof_sql[];
int pgs_key_put(void *ctx, const struct cg_pubkey *k);
int pgs_sign_head(void *ctx, int64_t now_ms, int64_t min_interval_ms, int force, cg_head_sign_fn sign, void *arg,
                  int64_t *head_id);
int pgs_head_anchor(void *ctx, int64_t head_id, const char *anchor, int64_t now_ms);
int pgs_each_key(struct cg_store_reader *r, cg_store_key_fn fn, void *ctx);
int pgs_each_head(struct cg_store_reader *r, int64_t from_ms, int64_t to_ms, int latest, cg_store_head_fn fn,
                  void *ctx);

/* shown.c: banner builds and notices */
extern const char pgs_shown_sql[];
int pgs_shown_put(void *ctx, const struct cg_shown *sh, int64_t now_ms);
int pgs_leaks_put(void *ctx, const struct cg_leak_row *rows, size_t n);
int pgs_each_leak(struct cg_store_reader *r, const char *since_day, cg_store_leak_fn fn, void *ctx);
extern const char pgs_leaks_sql[];
int pgs_each_shown(struct cg_store_reader *r, const char *id, cg_store_shown_fn fn, void *ctx);
int pgs_artefact(struct cg_store_reader *r, const char *hash, struct cg_buf *out);

/* logev.c: schema 2 -> 3 (row format 2) with its format event, in the
 * caller's transaction; the chain's tip over rows, pruned links and log
 * events (pgs_tip_sql: id, hash); a log event sealed onto it and stored
 * (the caller holds the chain lock) */
struct cg_logevent;
extern const char pgs_v4_views_sql[], pgs_tip_sql[];
int pgs_migrate_v4(PGconn *c, int64_t deadline);
int pgs_tip(PGconn *c, int64_t deadline, int64_t *id, char hash[CG_HEX_HASH_LEN + 1]);
int pgs_log_event_put(PGconn *c, int64_t deadline, const struct cg_logevent *l, int64_t now_ms,
                      struct cg_event *ev);

/* acked.c: every new connection of the daemon holds its last acknowledged
 * row (CG_ERR_CONFIG: it does not, err names both; logged once) */
int pgs_acked_check(struct pgs *s, PGconn *c, char *err, size_t errlen);
/* pgs_connect, then that check (the connection is closed if it fails) */
int pgs_connect_checked(struct pgs *s, const char *app, int64_t deadline, PGconn **out, char *err,
                        size_t errlen);
/* the writer's commit of rows up to (id, hash) */
void pgs_acked_commit(struct pgs *s, int64_t id, const char *hash);
int pgs_track_acked(void *ctx, struct cg_acked *a, char *err, size_t errlen);

/* import.c */
int pgs_import(void *ctx, const struct cg_store_port *src, struct cg_store_reader *src_reader,
               struct cg_import_counts *out, char *err, size_t errlen);

#endif
