/* SQLite storage (DESIGN.md §4): schema + migrations, one writer thread with
 * group commit, and per-thread readers. The only module that talks SQL; this
 * header names no SQLite type (src/store/internal.h holds those). */
#ifndef CONSENTGATE_STORE_H
#define CONSENTGATE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "consentgate/config.h"
#include "consentgate/collect.h"
#include "consentgate/event.h"
#include "consentgate/report.h"

struct cg_store;         /* opaque: writer connection + thread + queue */
struct cg_store_reader;  /* opaque: one read connection, one thread at a time */

#define CG_SCHEMA_VERSION 1

/* WRITER: the writer thread; DAEMON: that plus the daily retention purge;
 * READONLY: queries only (consentctl report, verify, export). */
enum cg_store_mode { CG_STORE_WRITER = 0, CG_STORE_READONLY, CG_STORE_DAEMON };

/* Opens (creating and migrating in writer mode) and, in writer mode, starts
 * the writer thread and records the policy settings the views read. */
int cg_store_open(const struct cg_config *cfg, int mode, struct cg_store **out,
                  char *err, size_t errlen);
/* Drains the queue, stops the writer, closes. NULL is harmless. */
void cg_store_close(struct cg_store *st);

/* Appends ev through the writer's next group commit and waits for it.
 * Returns CG_OK only once the row is durable. */
int cg_store_commit(struct cg_store *st, struct cg_event *ev);

int cg_store_reader_open(struct cg_store *st, struct cg_store_reader **out);
void cg_store_reader_free(struct cg_store_reader *r);
int cg_store_load_state(struct cg_store_reader *r, const char *subject,
                        struct cg_state *out);

/* ---- the outbox (DESIGN.md §4) ---- */
enum cg_outbox_state { CG_OB_PENDING = 0, CG_OB_DELIVERED, CG_OB_DROPPED, CG_OB_DEAD, CG_OB_NSTATES };
const char *cg_outbox_state_name(int s);

/* Appends rows through the writer's group commit; CG_OK once durable. */
int cg_store_add_outbox(struct cg_store *st, const struct cg_outbox_row *rows, size_t n);

struct cg_outbox_item {
	int64_t id;
	char subject[CG_SUBJECT_LEN + 1];
	char destination[64];
	int purpose, mode, attempts;
	int64_t created_ms;
	char *payload;                     /* owned by the item list */
};
/* Up to max pending rows due at now_ms, oldest first. Free with
 * cg_store_outbox_items_free. */
int cg_store_due_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max,
                        struct cg_outbox_item **items, size_t *n);
void cg_store_outbox_items_free(struct cg_outbox_item *items, size_t n);

struct cg_outbox_update {
	int64_t id;
	int state;
	int attempts;
	int64_t next_attempt_ms;
	char last_error[160];
};
int cg_store_update_outbox(struct cg_store *st, const struct cg_outbox_update *u, size_t n);
/* the number of pending rows (an index count: cheap) */
int cg_store_outbox_pending(struct cg_store_reader *r, long long *n);
/* counts[state] of all rows */
int cg_store_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES]);

/* Retention (DESIGN.md §4): what a purge at now_ms changes (or would). */
struct cg_purge_counts {
	long long ip_prefixes_cleared;
	long long subjects_pruned;
	long long events_pruned;
	long long outbox_deleted;
	long long outbox_expired;   /* pending rows older than 72 h: dropped */
};
int cg_store_purge(struct cg_store *st, const struct cg_config *cfg, int64_t now_ms, int dry_run,
                   struct cg_purge_counts *out);

/* consentctl outbox: "summary" rows (destination, state, count, oldest,
 * newest) or "dead" letters (id, destination, created_at, attempts, error). */
int cg_store_outbox_rows(struct cg_store_reader *r, const char *kind,
                         int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx);
/* retry: dead rows → pending now; else dead/pending rows → dropped. id 0: all. */
int cg_store_outbox_set(struct cg_store *st, int64_t id, int retry, int64_t now_ms, long long *changed);

/* The secret that keys full client_ids; created at first start, kept in meta. */
int cg_store_client_key(struct cg_store *st, uint8_t key[32]);

/* Outcomes and grants per period x country x policy version x language,
 * from since_day (YYYY-MM-DD) on; not yet suppressed. */
int cg_store_report(struct cg_store_reader *r, int period, const char *since_day,
                    struct cg_report *out);

/* Calls fn for every row of consent_events of `subject` (NULL: every row,
 * plus the links of pruned rows with action -1) in id order; stops when fn
 * returns non-zero (and returns that value). */
int cg_store_each_event(struct cg_store_reader *r, const char *subject,
                        int (*fn)(void *ctx, const struct cg_event *ev), void *ctx);

/* The subject's rows, oldest first; *evs is malloc'd (caller frees). */
int cg_store_subject_events(struct cg_store_reader *r, const char *subject,
                            struct cg_event **evs, size_t *n);


/* Writer statistics for metrics. */
struct cg_store_stats {
	uint64_t commits, rows, failures;
	uint64_t batch_max;
	double commit_seconds_total;
	uint64_t checkpoints;    /* checkpoint runs */
	uint64_t wal_frames;     /* frames in the WAL at the last checkpoint */
};
void cg_store_stats(struct cg_store *st, struct cg_store_stats *out);

#endif
