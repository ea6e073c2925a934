/* audit.c (pass 2, the results) and audit_scan.c (pass 1: the removals)
 * share these. */
#ifndef CONSENTGATE_AUDIT_INTERNAL_H
#define CONSENTGATE_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "consentgate/audit.h"
#include "consentgate/logevent.h"
#include "consentgate/rules.h"

/* An open-addressing map from a 16-byte key (the first bytes of a subject
 * or its digest: collisions are out of reach) to a few numbers. */
struct audit_slot {
	uint8_t key[16];
	int64_t v[3];
	int32_t next;      /* a purge's list of visitors (audit_scan.c) */
	uint8_t used, flags;
};
struct audit_map {
	struct audit_slot *s;
	size_t cap, n;
};
/* the slot of key (created zeroed when `add`), or NULL (absent, or no memory: *oom set) */
struct audit_slot *audit_map_get(struct audit_map *m, const uint8_t key[16], int add, int *oom);
void audit_map_free(struct audit_map *m);
/* the first 16 bytes of a 64-digit hex text; 0 if it is not one */
int audit_key(const char *hex, uint8_t key[16]);

/* a purge (or an id that links name as one), gathered by pass 1 */
struct audit_purge {
	int64_t id;
	struct cg_ids_digest ids;     /* of the links that name it */
	int64_t first_link;
	int32_t visitors;             /* head of its list of visitors' slots; -1: none */
	int seen;                     /* the log event was met */
	int64_t at_ms;                /* its time */
};

/* a signed head (cg_audit_head) */
struct audit_head {
	int64_t last_id, signed_ms, links;
	char hash[CG_HEX_HASH_LEN + 1];
};

struct cg_audit {
	struct cg_audit_opts o;
	struct cg_audit_result r;
	int oom;
	/* pass 1 */
	struct audit_map removed;     /* pruned visitors by subject digest */
	struct audit_purge *purges;
	size_t npurges, cappurges;
	struct cg_retention most;     /* the highest retention recorded so far */
	int have_most;
	/* pass 2 */
	int64_t last_id;
	char prev[CG_HEX_HASH_LEN + 1];
	int era;                      /* 0: nothing yet; else the row format in force */
	int64_t era_at;               /* the format event's id */
	struct cg_ids_digest v1_links;/* links pruned in row format 1, before the format event */
	struct audit_map erased;      /* visitors with erased rows, awaiting a tombstone */
	int64_t prev_ms;              /* the last link's time; -1: unknown */
	int64_t open_purge, open_purge_ms; /* a purge awaiting the next link's time */
	struct audit_head *heads;
	size_t nheads, next_head;     /* next_head: the first head not yet reached by pass 2 */
};

/* the lowest-id fault wins; printf-like text after "row N: " */
void audit_fault(struct cg_audit *a, int64_t id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void audit_note(struct cg_audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the gathered purge of that id, or NULL */
struct audit_purge *audit_purge_find(struct cg_audit *a, int64_t id);
/* a kept row of format 2 (pass 2): no earlier purge left it behind */
void audit_check_kept(struct cg_audit *a, const struct cg_event *ev, const uint8_t sd[16]);
/* pass 1's checks that wait for the end of the log */
void audit_scan_finish(struct cg_audit *a);

#endif
