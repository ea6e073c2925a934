/* The storage port (docs/architecture.md#the-storage-port): everything the
 * daemon, the forwarder and consentctl need from a store, as plain-data
 * operations behind a table of function pointers with an opaque context, in
 * the spirit of SQLite's VFS objects. A backend fills a struct cg_store_port;
 * nothing outside the backend sees its library's types. Backends: SQLite
 * (store_sqlite.h) and PostgreSQL (store_pg.h).
 *
 * Writes are asynchronous: submit() queues a batch and returns; the backend
 * calls done(arg, status) once the batch is durable (CG_OK) or has failed,
 * from its own thread and outside its locks. cg_store_submit_wait() is the
 * blocking form. Reads go through a reader handle that one thread uses at a
 * time; each read is one call with its results in caller-owned memory, so a
 * backend over a network can answer it from a pool or asynchronously behind
 * the same call. */
#ifndef CONSENTGATE_STORAGE_H
#define CONSENTGATE_STORAGE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/cspreport.h"
#include "consentgate/event.h"
#include "consentgate/report.h"
#include "consentgate/shown.h"
#include "consentgate/sign.h"

#define CG_STORE_PORT_VERSION 1

struct cg_store_reader;  /* opaque, the backend's: one read connection */

/* WRITER: writes and reads; DAEMON: that plus the daily retention purge;
 * READONLY: reads only (consentctl report, verify, export). */
enum cg_store_mode { CG_STORE_WRITER = 0, CG_STORE_READONLY, CG_STORE_DAEMON };

/* ---- the outbox (docs/gatekeeper.md#the-forwarder) ---- */
/* the meta key of recipients_since (schema 4 on SQLite, 3 on PostgreSQL) */
#define CG_RECIPIENTS_SINCE "recipients_since_ms"
enum cg_outbox_state { CG_OB_PENDING = 0, CG_OB_DELIVERED, CG_OB_DROPPED, CG_OB_DEAD, CG_OB_NSTATES };
const char *cg_outbox_state_name(int s);

struct cg_outbox_item {
	int64_t id;
	char subject[CG_SUBJECT_LEN + 1];
	char destination[64];
	int purpose, mode, attempts;
	int64_t created_ms;
	char *payload;                     /* owned by the item list */
	char last_error[160];              /* the last attempt's */
	/* each_outbox only (moving a log between backends) */
	int state;
	int64_t next_ms;
};
void cg_store_outbox_items_free(struct cg_outbox_item *items, size_t n);

struct cg_outbox_update {
	int64_t id;
	int state;
	int attempts;
	int64_t next_attempt_ms;
	char last_error[160];
};

/* Retention (docs/retention.md): what a purge at now_ms changes (or would). */
struct cg_purge_counts {
	long long ip_prefixes_cleared;
	long long subjects_pruned;
	long long events_pruned;
	long long outbox_deleted;
	long long outbox_expired;   /* pending rows older than 72 h: dropped */
	long long shown_deleted;    /* retired banner builds and notices no row names any more */
};

/* Writer statistics for metrics. */
struct cg_store_stats {
	uint64_t commits, rows, failures;
	uint64_t batch_max;
	double commit_seconds_total;
	uint64_t checkpoints;    /* checkpoint runs (SQLite) */
	uint64_t wal_frames;     /* frames in the WAL at the last checkpoint (SQLite) */
	uint64_t reconnects;     /* connections re-established (PostgreSQL) */
	uint64_t unknown_commits; /* COMMITs whose connection dropped, resolved afterwards */
	int connected;           /* the writer's connection is up (PostgreSQL; SQLite: 1) */
};

/* What moving a log to another backend copied (import). */
struct cg_import_counts {
	long long events, pruned, log_events, outbox, subjects, recipients;
};

/* One durable batch: an event (sealed onto the chain: its id and hash are
 * filled in), outbox rows, outbox updates, or any of them together, all in
 * one transaction. Owned by the caller until done() is called.
 *
 * Recipients (erasure.h, rules.h): an update to CG_OB_DELIVERED of a row
 * that carried a visitor's pseudonym (full, with a subject) records its
 * destination as a recipient of that visitor — whatever became of the row
 * since it was claimed, as the destination did acknowledge it. A row whose
 * if_recipient_of names a subject is queued only if its destination is so
 * recorded, checked after the batch's event and earlier rows; an erasure
 * forgets the visitor's recipients once the batch's rows are queued. */
struct cg_store_batch {
	struct cg_event *event;                  /* NULL: none */
	const struct cg_outbox_row *rows;
	size_t nrows;
	const struct cg_outbox_update *updates;
	size_t nupdates;
	/* NULL, or nupdates flags (zeroed by the caller) the backend sets: 1
	 * where the update took effect (the row was still pending and, on
	 * PostgreSQL, still claimed by this instance); meaningful once done()
	 * reported CG_OK (a COMMIT whose answer was lost leaves them 0) */
	unsigned char *applied;
};
typedef void (*cg_store_done)(void *arg, int status);

/* sign_head's signing step, run inside its transaction: head holds the
 * log's side (last_id, hash, last_recorded_at, links); the callback fills
 * the rest and appends the envelope to `envelope`. */
typedef int (*cg_head_sign_fn)(void *arg, struct cg_head *head, struct cg_buf *envelope);
typedef int (*cg_store_key_fn)(void *ctx, const struct cg_pubkey *k);

typedef int (*cg_store_shown_fn)(void *ctx, const struct cg_shown_row *s);
typedef int (*cg_store_leak_fn)(void *ctx, const struct cg_leak_row *row);
typedef int (*cg_store_head_fn)(void *ctx, const struct cg_signed_head *h);

typedef int (*cg_store_row_fn)(void *ctx, int ncols, const char *const *cols);
typedef int (*cg_store_event_fn)(void *ctx, const struct cg_event *ev);
typedef int (*cg_store_outbox_fn)(void *ctx, const struct cg_outbox_item *it);
/* one destination's undelivered rows: pending, dead, and when the oldest
 * pending one was created (0: none pending) */
typedef int (*cg_store_backlog_fn)(void *ctx, const char *dest, long long pending, long long dead, int64_t oldest_ms);
typedef int (*cg_store_recipient_fn)(void *ctx, const char *subject, const char *destination);

/* The last row this daemon had acknowledged (id, hash; id 0: none), kept
 * by the daemon and given to the backend with track_acked: the backend
 * updates it after every commit of its rows, and on every new connection
 * checks that the database holds that row, refusing to write (503) to one
 * that does not: a diverged old primary back in service
 * (docs/postgresql.md#a-diverged-old-primary). */
struct cg_acked {
	pthread_mutex_t mu;
	int64_t id;
	char hash[CG_HEX_HASH_LEN + 1];
};

struct cg_store_port {
	int version;            /* CG_STORE_PORT_VERSION */
	const char *name;       /* "sqlite" */
	void *ctx;              /* the backend's; passed to every write and admin call */

	/* writes */
	int (*submit)(void *ctx, struct cg_store_batch *b, cg_store_done done, void *arg);
	/* retry: dead rows → pending now; else dead/pending rows → dropped. id 0: all. */
	int (*outbox_set)(void *ctx, int64_t id, int retry, int64_t now_ms, long long *changed);
	int (*purge)(void *ctx, const struct cg_config *cfg, int64_t now_ms, int dry_run,
	             struct cg_purge_counts *out);
	/* the secret that keys full client_ids; created at first start */
	int (*client_key)(void *ctx, uint8_t key[32]);
	void (*stats)(void *ctx, struct cg_store_stats *out);
	/* drains the queue, stops, closes */
	void (*close)(void *ctx);
	/* Moving a log between backends (consentctl migrate --to). NULL where a
	 * backend cannot do its side. import: copies everything `src` holds
	 * (events, pruned links, outbox rows, the client_id key) into this
	 * empty store in one transaction; CG_ERR_DUPLICATE when it already holds
	 * exactly that log (a finished copy), CG_ERR_INVALID when it holds
	 * anything else. retire: runs copy(arg) while this store refuses every
	 * other writer, then marks it moved to `to` (it then refuses writers
	 * and start-up for good) and its pending outbox rows dropped. */
	int (*import)(void *ctx, const struct cg_store_port *src, struct cg_store_reader *src_reader,
	              struct cg_import_counts *out, char *err, size_t errlen);
	int (*retire)(void *ctx, const char *to, int (*copy)(void *arg), void *arg);
	/* NULL where a backend has no replicas to diverge (SQLite). Checks the
	 * database holds a's row (CG_ERR_CONFIG and err naming both when not),
	 * then keeps a (the caller's, alive until close) up to date. */
	int (*track_acked)(void *ctx, struct cg_acked *a, char *err, size_t errlen);

	/* Proof (sign.h). key_put: registers an instance's public key (kept for
	 * good, so receipts signed before a rotation still verify). sign_head:
	 * signs the log's head, one instance at a time (the purge's kind of
	 * lease); unless force, only when no head was signed within
	 * min_interval_ms and the log moved since the last one. *head_id: the
	 * new head's id, or 0 when none was due. head_anchor: records what the
	 * anchor command printed for a head. */
	int (*key_put)(void *ctx, const struct cg_pubkey *k);
	int (*sign_head)(void *ctx, int64_t now_ms, int64_t min_interval_ms, int force, cg_head_sign_fn sign,
	                 void *arg, int64_t *head_id);
	int (*head_anchor)(void *ctx, int64_t head_id, const char *anchor, int64_t now_ms);
	/* What was shown (shown.h): registers a build or notice and its files
	 * (stored once per content hash), puts it in service and retires every
	 * other of its kind; the purge deletes a retired one no row names. */
	int (*shown_put)(void *ctx, const struct cg_shown *s, int64_t now_ms);
	/* Leak reports: adds each row's count to its day's (one transaction;
	 * the daemon writes what it counted once a minute). May be NULL. */
	int (*leaks_put)(void *ctx, const struct cg_leak_row *rows, size_t n);

	/* reads, on a reader */
	int (*reader_open)(void *ctx, struct cg_store_reader **out);
	void (*reader_free)(struct cg_store_reader *r);
	int (*load_state)(struct cg_store_reader *r, const char *subject, struct cg_state *out);
	/* fn for every row of `subject` (NULL: every link of the chain — rows,
	 * the links of removed rows, log events; ev->link says which) in id
	 * order; stops when fn returns non-zero */
	int (*each_event)(struct cg_store_reader *r, const char *subject, cg_store_event_fn fn, void *ctx);
	/* the same for the links that are no kept row (removed rows' links, log
	 * events) only: a verifier's first walk, without reading every row */
	int (*each_link)(struct cg_store_reader *r, cg_store_event_fn fn, void *ctx);
	/* begin 1: the reads that follow on this reader, until begin 0, see one
	 * snapshot of the log — a verifier's two walks read the same log while
	 * a daemon writes and purges beside them. CG_OK or CG_ERR_STORAGE. */
	int (*snapshot)(struct cg_store_reader *r, int begin);
	/* outcomes and grants per period x country x version x language from since_day */
	int (*report)(struct cg_store_reader *r, int period, const char *since_day, struct cg_report *out);
	/* Claims up to max pending rows due at now_ms, oldest first, for
	 * lease_ms (cg_store_outbox_items_free): rows claimed by another
	 * instance whose lease has not ended are skipped, and only the holder's
	 * outcome updates take effect. A backend with one instance per store
	 * (SQLite) may simply read them. */
	int (*claim_outbox)(struct cg_store_reader *r, int64_t now_ms, size_t max, int64_t lease_ms,
	                    struct cg_outbox_item **items, size_t *n);
	/* pending rows: analytics events (outbox_max_rows counts them) and
	 * erasure notices (erasure_notices_max_rows) */
	int (*outbox_pending)(struct cg_store_reader *r, long long *events, long long *notices);
	int (*outbox_counts)(struct cg_store_reader *r, long long counts[CG_OB_NSTATES]);
	/* fn for each destination with pending or dead rows, by name; reads
	 * only those rows (the metrics scrape it) */
	int (*outbox_backlog)(struct cg_store_reader *r, cg_store_backlog_fn fn, void *ctx);
	/* "summary" rows (destination, kind 'event'|'erasure', state, count,
	 * oldest, newest) or "dead" letters (id, destination, kind, created_at,
	 * attempts, error) */
	int (*outbox_rows)(struct cg_store_reader *r, const char *kind, cg_store_row_fn fn, void *ctx);
	/* every outbox row, whatever its state, in id order, payload included */
	int (*each_outbox)(struct cg_store_reader *r, cg_store_outbox_fn fn, void *ctx);
	/* (subject hex, destination) for each recipient recorded for subject
	 * (NULL: every subject), until fn returns non-zero */
	int (*each_recipient)(struct cg_store_reader *r, const char *subject, cg_store_recipient_fn fn, void *ctx);
	/* since when recipients are recorded: 0 from the log's start; else the
	 * upgrade that began it (an erasure presumes a delivery for a grant
	 * recorded before, erasure.h) */
	int (*recipients_since)(struct cg_store_reader *r, int64_t *ms);
	/* every public key, oldest first */
	int (*each_key)(struct cg_store_reader *r, cg_store_key_fn fn, void *ctx);
	/* registered builds and notices (id NULL: all, oldest first) */
	int (*each_shown)(struct cg_store_reader *r, const char *id, cg_store_shown_fn fn, void *ctx);
	/* a stored file's bytes by its SHA-256; CG_ERR_NOT_FOUND */
	int (*artefact)(struct cg_store_reader *r, const char *hash, struct cg_buf *out);
	/* the signed heads signed in [from_ms, to_ms), oldest first; latest:
	 * only the newest of them */
	int (*each_head)(struct cg_store_reader *r, int64_t from_ms, int64_t to_ms, int latest,
	                 cg_store_head_fn fn, void *ctx);
	/* the leak rows of since_day and after, by day, vendor, host, directive, path */
	int (*each_leak)(struct cg_store_reader *r, const char *since_day, cg_store_leak_fn fn, void *ctx);
};

/* Opens the backend [storage] names (creating and migrating in the writer
 * modes). On error *out is zeroed and err says why. */
int cg_store_port_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                       char *err, size_t errlen);
/* Closes what cg_store_port_open opened; a zeroed port is harmless. */
void cg_store_port_close(struct cg_store_port *p);
/* The subject's rows, oldest first, through each_event; *evs is malloc'd
 * (caller frees). */
int cg_store_subject_events(const struct cg_store_port *p, struct cg_store_reader *r, const char *subject,
                            struct cg_event **evs, size_t *n);
/* Signs the chain head when due (or at once: force) with the instance's
 * signer, then hands the newest head, if it has no anchor yet, to [signing]
 * anchor_command (anchor.h) and records what it printed. *head_id: the head
 * signed now, or 0. A failed anchor is logged and tried again next time;
 * *cancel (may be NULL) cuts a running anchor command short. */
int cg_store_sign_and_anchor(const struct cg_store_port *p, struct cg_store_reader *r,
                             const struct cg_config *cfg, const struct cg_signer *signer, int force,
                             int64_t now_ms, const atomic_int *cancel, int64_t *head_id);
/* The configured destinations recorded as recipients of subject's
 * pseudonym (bit i: cfg->dest[i], erasure.h) and recipients_since. */
int cg_store_recipients(const struct cg_store_port *p, struct cg_store_reader *r, const struct cg_config *cfg,
                        const char *subject, uint32_t *mask, int64_t *since_ms);
/* Every public key, oldest first (*keys malloc'd, caller frees). */
int cg_store_keys(const struct cg_store_port *p, struct cg_store_reader *r, struct cg_pubkey **keys, size_t *n);
/* The newest signed head (cg_signed_head_clear); CG_ERR_NOT_FOUND: none. */
int cg_store_latest_head(const struct cg_store_port *p, struct cg_store_reader *r, struct cg_signed_head *out);
/* submit() and wait for done(): CG_OK once the batch is durable. */
int cg_store_submit_wait(const struct cg_store_port *p, struct cg_store_batch *b);

/* The blocking side of any done() callback: a semaphore each, posted by the
 * backend outside its locks, so the woken thread neither joins a herd nor
 * hits a held mutex. cg_store_waiter_init; pass cg_store_waiter_done and the
 * waiter as done and arg; cg_store_waiter_wait returns the status. */
struct cg_store_waiter {
	sem_t sem;
	int rc;
};
void cg_store_waiter_init(struct cg_store_waiter *w);
void cg_store_waiter_done(void *waiter, int status);
int cg_store_waiter_wait(struct cg_store_waiter *w);

#endif
