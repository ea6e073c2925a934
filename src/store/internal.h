/* The SQLite backend's private parts, shared by its files: store.c (open,
 * close, schema, the public entry points), writer.c (the writer thread: group
 * commit, outbox rows, WAL checkpoints), read.c (read connections and
 * queries), maintain.c (retention, outbox administration). Nothing outside
 * src/store/ includes this or sqlite3.h. */
#ifndef CONSENTGATE_STORE_INTERNAL_H
#define CONSENTGATE_STORE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include "consentgate/store.h"

/* Runs fn on the writer's connection: inside the next group commit's
 * transaction (alone = 0), or in a transaction of its own (alone = 1), where
 * fn returning CG_ERR_DRY_RUN rolls back and still counts as success. */
typedef int (*cg_store_fn)(sqlite3 *db, void *arg);
int cg_store_run(struct cg_store *st, int alone, cg_store_fn fn, void *arg);

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


/* sqlite3_exec, logging the error */
int cgs_exec(sqlite3 *db, const char *sql);
/* opens with busy_timeout and the pragmas every connection needs */
int cgs_open_conn(const char *path, int flags, sqlite3 **out);

/* writer.c: the writer's statements, its thread, the checkpointer */
int cgs_writer_prepare(struct cg_store *s);
void cgs_writer_finalize(struct cg_store *s);
void *cgs_writer_main(void *arg);
void *cgs_checkpoint_main(void *arg);
int cgs_wal_hook(void *arg, sqlite3 *db, const char *name, int frames);

#endif
