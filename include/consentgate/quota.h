/* Byte budgets per key over fixed hourly windows (what /collect may queue
 * per visitor and per client prefix), in a caller-owned table of fixed size:
 * no allocation, no clock, no globals. Keys are 64-bit hashes the caller
 * computes (keyed, so they cannot be aimed at one slot). When every slot a
 * key may use holds another key of the current hour, the one with the
 * fewest bytes is forgotten: under a flood the budgets err towards letting
 * through, never towards refusing a visitor who sent little. */
#ifndef CONSENTGATE_QUOTA_H
#define CONSENTGATE_QUOTA_H

#include <stdint.h>

#define CG_QUOTA_SLOTS 16384          /* power of two */
#define CG_QUOTA_WINDOW_MS 3600000    /* one hour */

struct cg_quota_slot {
	uint64_t key;
	int64_t window;                   /* now_ms / CG_QUOTA_WINDOW_MS; 0 = free */
	uint64_t bytes;
};
struct cg_quota {
	struct cg_quota_slot slot[CG_QUOTA_SLOTS];
};

void cg_quota_init(struct cg_quota *q);
/* Whether `bytes` more fit in key's budget `limit` for the hour of now_ms.
 * With charge = 1 they are counted when they fit. *retry_s (if not NULL):
 * seconds until the hour ends. */
int cg_quota_fits(struct cg_quota *q, uint64_t key, int64_t now_ms, uint64_t bytes,
                  uint64_t limit, int charge, int *retry_s);

#endif
