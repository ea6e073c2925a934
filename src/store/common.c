/* What every backend shares, written against the port alone: the blocking
 * side of its completion callbacks (cg_store_submit_wait, the semaphore
 * waiter), a subject's events gathered through each_event, and the port's
 * own small helpers (storage.h), so that each backend links alone. */
#include <semaphore.h>
#include <stdlib.h>

#include "consentgate/err.h"
#include "consentgate/storage.h"

static const char *const ob_state_names[CG_OB_NSTATES] = {"pending", "delivered", "dropped", "dead"};

const char *cg_outbox_state_name(int st)
{
	return st >= 0 && st < CG_OB_NSTATES ? ob_state_names[st] : "unknown";
}

void cg_store_outbox_items_free(struct cg_outbox_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++)
		free(items[i].payload);
	free(items);
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

struct event_list {
	struct cg_event *evs;
	size_t n, cap;
};

static int collect_event(void *arg, const struct cg_event *ev)
{
	struct event_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct cg_event *nv;
		if (ncap > 100000)
			return CG_ERR_TOO_LONG;
		nv = realloc(l->evs, ncap * sizeof *nv);
		if (!nv)
			return CG_ERR_NOMEM;
		l->evs = nv;
		l->cap = ncap;
	}
	l->evs[l->n++] = *ev;
	return 0;
}

int cg_store_subject_events(const struct cg_store_port *p, struct cg_store_reader *r, const char *subject,
                            struct cg_event **evs, size_t *n)
{
	struct event_list l = {0};
	int rc = p->each_event(r, subject, collect_event, &l);

	*evs = NULL;
	*n = 0;
	if (rc != CG_OK) {
		free(l.evs);
		return rc == CG_ERR_TOO_LONG || rc == CG_ERR_NOMEM ? rc : CG_ERR_STORAGE;
	}
	*evs = l.evs;
	*n = l.n;
	return CG_OK;
}
