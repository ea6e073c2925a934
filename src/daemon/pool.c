/* The read connections the workers share: a query borrows one for its
 * duration. */
#include "consentgate/err.h"
#include "daemon.h"

struct cg_store_reader *cgd_borrow(struct daemon *d)
{
	struct cg_store_reader *r;

	pthread_mutex_lock(&d->readers.mu);
	while (!d->readers.nfree)
		pthread_cond_wait(&d->readers.cv, &d->readers.mu);
	r = d->readers.free[--d->readers.nfree];
	pthread_mutex_unlock(&d->readers.mu);
	return r;
}

void cgd_give_back(struct daemon *d, struct cg_store_reader *r)
{
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

