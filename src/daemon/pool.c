/* The read connections the workers share: a query borrows one for its
 * duration. */
#include <time.h>

#include "consentgate/err.h"
#include "daemon.h"

/* Waits at most [storage] read_timeout_ms for a free connection: when the
 * database stalls, every connection may be busy waiting out its own
 * deadline, and a request must not queue behind them (NULL: fail it). */
struct cg_store_reader *cgd_borrow(struct daemon *d)
{
	struct cg_store_reader *r = NULL;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)d->cfg.read_timeout_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&d->readers.mu);
	while (!d->readers.nfree)
		if (pthread_cond_timedwait(&d->readers.cv, &d->readers.mu, &until) != 0)
			break;
	if (d->readers.nfree)
		r = d->readers.free[--d->readers.nfree];
	pthread_mutex_unlock(&d->readers.mu);
	return r;
}

void cgd_give_back(struct daemon *d, struct cg_store_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&d->readers.mu);
	d->readers.free[d->readers.nfree++] = r;
	pthread_cond_signal(&d->readers.cv);
	pthread_mutex_unlock(&d->readers.mu);
}

int cgd_pool_open(struct daemon *d, int n)
{
	pthread_mutex_init(&d->readers.mu, NULL);
	pthread_cond_init(&d->readers.cv, NULL);
	for (d->readers.n = 0; d->readers.n < n && d->readers.n < READERS_MAX; d->readers.n++) {
		if (d->store.reader_open(d->store.ctx, &d->readers.free[d->readers.n]) != CG_OK)
			return CG_ERR_STORAGE;
		d->readers.nfree = d->readers.n + 1;
	}
	return CG_OK;
}

void cgd_pool_close(struct daemon *d)
{
	for (int i = 0; i < d->readers.nfree; i++)
		d->store.reader_free(d->readers.free[i]);
	d->readers.nfree = 0;
}

