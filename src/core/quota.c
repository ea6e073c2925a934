#include <string.h>

#include "consentgate/quota.h"

#define PROBES 8

void cg_quota_init(struct cg_quota *q)
{
	memset(q, 0, sizeof *q);
}

static struct cg_quota_slot *find(struct cg_quota *q, uint64_t key, int64_t window)
{
	struct cg_quota_slot *victim = NULL;

	for (unsigned i = 0; i < PROBES; i++) {
		struct cg_quota_slot *s = &q->slot[(key + i) & (CG_QUOTA_SLOTS - 1)];
		if (s->window == window && s->key == key)
			return s;
		if (s->window != window) { /* free, or an earlier hour's */
			if (!victim || victim->window == window)
				victim = s;
		} else if (!victim || (victim->window == window && s->bytes < victim->bytes)) {
			victim = s;
		}
	}
	victim->key = key;
	victim->window = window;
	victim->bytes = 0;
	return victim;
}

int cg_quota_fits(struct cg_quota *q, uint64_t key, int64_t now_ms, uint64_t bytes,
                  uint64_t limit, int charge, int *retry_s)
{
	int64_t window = now_ms / CG_QUOTA_WINDOW_MS + 1; /* + 1: 0 marks a free slot */
	struct cg_quota_slot *s = find(q, key, window);
	int fits = s->bytes + bytes <= limit;

	if (retry_s)
		*retry_s = (int)((window * CG_QUOTA_WINDOW_MS - now_ms + 999) / 1000);
	if (fits && charge)
		s->bytes += bytes;
	return fits;
}
