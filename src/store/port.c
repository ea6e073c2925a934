/* The storage port's backend-independent parts: choosing the backend and the
 * blocking form of submit(). */
#include <semaphore.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/storage.h"
#include "consentgate/store.h"

int cg_store_port_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                       char *err, size_t errlen)
{
	/* one backend today; [storage] backend will choose among several */
	return cg_sqlite_open(cfg, mode, out, err, errlen);
}

void cg_store_port_close(struct cg_store_port *p)
{
	if (p && p->close && p->ctx)
		p->close(p->ctx);
	if (p)
		memset(p, 0, sizeof *p);
}

void cg_store_waiter_init(struct cg_store_waiter *w)
{
	sem_init(&w->sem, 0, 0);
	w->rc = CG_OK;
}

void cg_store_waiter_done(void *waiter, int status)
{
	struct cg_store_waiter *w = waiter;

	w->rc = status;
	sem_post(&w->sem);
}

int cg_store_waiter_wait(struct cg_store_waiter *w)
{
	while (sem_wait(&w->sem) != 0)
		; /* EINTR */
	sem_destroy(&w->sem);
	return w->rc;
}

int cg_store_submit_wait(const struct cg_store_port *p, struct cg_store_batch *b)
{
	struct cg_store_waiter w;
	int rc;

	if (!b->event && !b->nrows && !b->nupdates)
		return CG_OK;
	cg_store_waiter_init(&w);
	rc = p->submit(p->ctx, b, cg_store_waiter_done, &w);
	if (rc != CG_OK) {
		sem_destroy(&w.sem);
		return rc;
	}
	return cg_store_waiter_wait(&w);
}
