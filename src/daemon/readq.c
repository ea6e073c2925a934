/* The intake's serve callback, and the read threads (PostgreSQL only) it
 * hands requests to. On PostgreSQL every read — the visitor's state, for
 * nearly every route — is a network round trip, up to [storage]
 * read_timeout_ms when the database stalls. Served on an event loop, one
 * slow read would hold every connection of that loop, and two loops would
 * cap a remote database at two reads per round trip. So the loops hand
 * each whole request to this queue, and as many threads as there are read
 * connections serve them: a stalled database costs these threads their
 * read deadline, never a loop. The queue is bounded: past READQ_CAP a
 * request is answered 503 busy at once, by the loop, without a read. */
#include <sodium.h>
#include <stdlib.h>

#include "consentgate/err.h"
#include "daemon.h"

static void *readq_main(void *arg)
{
	struct worker *w = arg;
	struct read_queue *q = &w->d->readq;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct cg_conn *conn;
		int fd;

		while (!q->n && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->n) /* stopping, and nothing left */
			break;
		conn = q->q[q->head].conn;
		fd = q->q[q->head].fd;
		q->head = (q->head + 1) % READQ_CAP;
		q->n--;
		pthread_mutex_unlock(&q->mu);
		cgd_serve_conn(w, conn, fd, 0);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int cgd_readq_start(struct daemon *d, int n)
{
	struct read_queue *q = &d->readq;

	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (n > READERS_MAX)
		n = READERS_MAX;
	q->workers = calloc((size_t)n, sizeof *q->workers);
	if (!q->workers)
		return CG_ERR_NOMEM;
	q->nworkers = n;
	for (; q->nthreads < n; q->nthreads++) {
		q->workers[q->nthreads].d = d;
		if (pthread_create(&q->threads[q->nthreads], NULL, readq_main, &q->workers[q->nthreads]) != 0)
			return CG_ERR_IO;
	}
	return CG_OK;
}

static void readq_push(struct worker *w, struct cg_conn *conn, int fd)
{
	struct read_queue *q = &w->d->readq;
	int full;

	pthread_mutex_lock(&q->mu);
	full = q->n == READQ_CAP;
	if (!full) {
		int tail = (q->head + q->n) % READQ_CAP;
		q->q[tail].conn = conn;
		q->q[tail].fd = fd;
		q->n++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (full)
		cgd_serve_conn(w, conn, fd, 1);
}

void cgd_readq_stop(struct daemon *d)
{
	struct read_queue *q = &d->readq;

	if (!q->workers)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	sodium_memzero(q->workers, (size_t)q->nworkers * sizeof *q->workers); /* unused random bytes */
	free(q->workers);
	q->workers = NULL;
}

/* The intake's serve callback, on loop `loop`'s thread. SQLite's reads
 * are local and short: the loop serves the request itself. PostgreSQL's
 * are network round trips: the read threads serve them, so a slow
 * database never holds a loop. */
void cgd_serve(void *arg, int loop, struct cg_conn *conn, int fd)
{
	struct worker *w = (struct worker *)arg + loop;

	if (w->d->readq.nthreads)
		readq_push(w, conn, fd);
	else
		cgd_serve_conn(w, conn, fd, 0);
}
