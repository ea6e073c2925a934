/* Event loops that vet FastCGI connections (see intake.h).
 *
 * Each loop owns an epoll set with the listening socket (EPOLLEXCLUSIVE:
 * one loop wakes per new connection) and the connections it accepted,
 * edge-triggered: an event means new bytes (or a hang-up), so a request
 * that has arrived in part waits for more without spinning, although its
 * bytes stay in the socket buffer for libfcgi.
 *
 * A connection is in one of four states:
 *   PENDING  its request is arriving; on the loop's deadline-ordered list
 *   REFUSED  its request was too large and has been answered; its bytes
 *            are read and thrown away as they come; on the pending list,
 *            under the same deadline
 *   BUSY     being served; in no list, its events ignored
 *   IDLE     kept between requests; on the loop's idle list
 * A connection stays in its epoll set from accept to close (no system call
 * to take it out while it is served and put it back). Only the loop's
 * thread touches PENDING connections and frees connections.
 * cg_intake_done (any thread) turns BUSY into IDLE under the loop's mutex,
 * which also guards the idle list. Events that came while it was BUSY were
 * ignored, but noted (`missed`): only then does cg_intake_done re-arm it
 * with EPOLL_CTL_MOD, which reports what arrived meanwhile (the next
 * request, sent as soon as nginx read the answer, or a hang-up). Usually
 * nothing came, and going IDLE is a few stores under the mutex: a system
 * call there on every answer made the loop's thread wait for the mutex
 * (and both threads switch) about once per request under load. A
 * connection done with goes on the loop's dead list, freed by the loop
 * after its current batch of events, which may still name it.
 *
 * A request larger than max_request is answered by the loop itself
 * (o.too_large, in FastCGI records: libfcgi would have to read it all),
 * at once, and then read to its end and thrown away, up to max_discard
 * bytes. The answer goes first because nginx, once it has an answer's
 * header, stops sending the body and afterwards closes the connection
 * instead of keeping it (its request was not sent whole); closing with
 * the rest unread instead would make nginx's next write or read fail
 * (ECONNRESET, a RST on TCP), often before it read the answer: a 502. A
 * peer that had sent everything finds a kept connection usable again. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/fcgiscan.h"
#include "consentgate/intake.h"
#include "consentgate/log.h"

enum state { PENDING, REFUSED, BUSY, IDLE };

struct loop;

struct cg_conn {
	int fd;
	enum state state;
	int missed;                /* an event came while BUSY (under mu) */
	int64_t deadline;          /* monotonic ms; PENDING and REFUSED only */
	struct loop *loop;
	struct cg_fcgi_skip skip;  /* REFUSED: how far its request was read */
	size_t discarded;          /* REFUSED: bytes of it thrown away */
	int keep;                  /* REFUSED: the peer keeps the connection */
	struct cg_conn *prev, *next;
};

/* FIFO lists. Every pending deadline is (first byte) + the same interval,
 * so the pending list is in deadline order: its head expires first. */
struct list {
	struct cg_conn *head, *tail;
	int n;
};

struct loop {
	struct cg_intake *in;
	int index, ep;
	pthread_t thread;
	int started;
	struct list pending;         /* the loop's thread alone */
	uint8_t *peek;               /* max_request + 1 bytes */
	pthread_mutex_t mu;          /* guards idle, dead, stopped, and BUSY -> IDLE */
	struct list idle;
	struct list dead;            /* closed by their server: to free */
	int stopped;
};

struct cg_intake {
	struct cg_intake_opts o;
	int max_pending, max_idle;   /* per loop */
	int stop_fd;                 /* an eventfd: readable once stopping */
	int rcvbuf;                  /* SO_RCVBUF of accepted TCP connections; 0: unix */
	struct loop *loops;
	atomic_uint_fast64_t accepted, handed, timed_out, oversize, invalid, evicted, evicted_idle;
	atomic_int pending, idle;
};

static char listen_tag, stop_tag; /* epoll data of the two shared fds */

#ifdef CG_INTAKE_TEST_HOOKS
int (*cg_intake_test_hook)(int step);
#define TEST_HOOK(step) (cg_intake_test_hook ? cg_intake_test_hook(step) : 0)
#else
#define TEST_HOOK(step) 0
#endif

#define WATCH (EPOLLIN | EPOLLRDHUP | EPOLLET)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push(struct list *l, struct cg_conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void unlink_conn(struct list *l, struct cg_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static int watch(struct cg_conn *c, int op)
{
	struct epoll_event ev = {.events = WATCH, .data.ptr = c};

	return epoll_ctl(c->loop->ep, op, c->fd, &ev);
}

/* Closes a pending connection (the loop's thread). */
static void drop_pending(struct loop *lp, struct cg_conn *c, atomic_uint_fast64_t *counter)
{
	unlink_conn(&lp->pending, c);
	atomic_fetch_sub(&lp->in->pending, 1);
	close(c->fd); /* also leaves the epoll set */
	free(c);
	if (counter)
		atomic_fetch_add(counter, 1);
}

/* Closes the loop's idle connections, at its end (the loop's thread; the
 * caller holds mu). */
static void close_idle(struct loop *lp)
{
	while (lp->idle.n) {
		struct cg_conn *c = lp->idle.head;
		unlink_conn(&lp->idle, c);
		atomic_fetch_sub(&lp->in->idle, 1);
		close(c->fd);
		free(c);
	}
}

/* The loop's thread, holding mu, between batches of events. */
static void free_dead(struct loop *lp)
{
	while (lp->dead.head) {
		struct cg_conn *c = lp->dead.head;
		unlink_conn(&lp->dead, c);
		free(c);
	}
}

static void start_pending(struct loop *lp, struct cg_conn *c)
{
	c->state = PENDING;
	c->deadline = mono_ms() + lp->in->o.deadline_ms;
	push(&lp->pending, c);
	atomic_fetch_add(&lp->in->pending, 1);
}

/* A refused request read to its end: the connection is kept, as the peer
 * asked, or closed (nothing unread: the peer sees a clean end). Kept, it
 * goes idle as after any answer, and is re-armed: the next request may
 * have come while this one was read, and no new edge would tell. */
static void refused_done(struct loop *lp, struct cg_conn *c)
{
	if (!c->keep) {
		drop_pending(lp, c, NULL);
		return;
	}
	unlink_conn(&lp->pending, c);
	atomic_fetch_sub(&lp->in->pending, 1);
	c->state = BUSY;
	c->missed = 1;
	cg_intake_done(c, c->fd);
}

/* Reads what has come of a refused request and throws it away, never a
 * byte past its end; at most max_discard bytes, then the connection is
 * closed. */
static void discard(struct loop *lp, struct cg_conn *c)
{
	size_t cap = lp->in->o.max_request + 1; /* the peek buffer: free for this */

	for (;;) {
		size_t want = cg_fcgi_skip_want(&c->skip);
		ssize_t n = recv(c->fd, lp->peek, want < cap ? want : cap, MSG_DONTWAIT);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the next edge brings more */
		if (n <= 0 || (c->discarded += (size_t)n) > lp->in->o.max_discard) {
			drop_pending(lp, c, NULL); /* the peer left, or sends too much */
			return;
		}
		r = cg_fcgi_skip(&c->skip, (size_t)n, lp->peek);
		if (r != CG_FCGI_INCOMPLETE) {
			if (r == CG_FCGI_COMPLETE)
				refused_done(lp, c);
			else
				drop_pending(lp, c, NULL);
			return;
		}
	}
}

/* A request over max_request, n bytes of it peeked: answered now with
 * o.too_large, then read and thrown away (the comment at the top). A
 * request whose BEGIN_REQUEST is not among those bytes is closed. */
static void refuse(struct loop *lp, struct cg_conn *c, size_t n)
{
	struct cg_intake *in = lp->in;
	uint8_t answer[CG_INTAKE_ANSWER_MAX + 64];
	unsigned id;
	size_t len;

	atomic_fetch_add(&in->oversize, 1);
	if (cg_fcgi_begin(lp->peek, n, &id, &c->keep) != 0 ||
	    !(len = cg_fcgi_answer(id, in->o.too_large, strlen(in->o.too_large), answer, sizeof answer)) ||
	    send(c->fd, answer, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		drop_pending(lp, c, NULL);
		return;
	}
	/* Not kept: the end of our side tells the peer the answer is whole
	 * (nginx waits for it), while what it still sends is read on. */
	if (!c->keep)
		shutdown(c->fd, SHUT_WR);
	c->state = REFUSED;
	memset(&c->skip, 0, sizeof c->skip);
	c->discarded = 0;
	discard(lp, c);
}

/* New bytes (or a hang-up) on a connection: is its request whole yet? */
static void examine(struct loop *lp, struct cg_conn *c, uint32_t events)
{
	struct cg_intake *in = lp->in;
	ssize_t n;
	size_t used;
	int r;

	pthread_mutex_lock(&lp->mu);
	if (c->state == BUSY) { /* cg_intake_done's re-arm reports it again */
		c->missed = 1;
		pthread_mutex_unlock(&lp->mu);
		return;
	}
	if (c->state == IDLE) { /* the next request on a kept connection: its clock starts */
		unlink_conn(&lp->idle, c);
		atomic_fetch_sub(&in->idle, 1);
		start_pending(lp, c);
	}
	pthread_mutex_unlock(&lp->mu);
	if (c->state == REFUSED) {
		discard(lp, c);
		return;
	}
	n = recv(c->fd, lp->peek, in->o.max_request + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF: the peer is done (a kept connection nginx closed) */
		drop_pending(lp, c, NULL);
		return;
	}
	r = cg_fcgi_scan(lp->peek, (size_t)n, &used);
	if (r == CG_FCGI_COMPLETE) {
		unlink_conn(&lp->pending, c);
		atomic_fetch_sub(&in->pending, 1);
		atomic_fetch_add(&in->handed, 1);
		c->state = BUSY; /* no other thread looks at it before serve() */
		in->o.serve(in->o.arg, lp->index, c, c->fd);
	} else if (r == CG_FCGI_INVALID) {
		drop_pending(lp, c, &in->invalid);
	} else if ((size_t)n > in->o.max_request) {
		refuse(lp, c, (size_t)n);
	} else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		drop_pending(lp, c, NULL); /* half a request and the peer stopped writing */
	}
}

static void accept_some(struct loop *lp)
{
	struct cg_intake *in = lp->in;
	const struct timeval send_timeout = {in->o.send_timeout_ms / 1000, (in->o.send_timeout_ms % 1000) * 1000};

	for (int i = 0; i < 64; i++) {
		int fd = accept4(in->o.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct cg_conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				cg_warn("intake: out of file descriptors");
				if (lp->pending.head) /* make room: the oldest waits longest */
					drop_pending(lp, lp->pending.head, &in->evicted);
			}
			return; /* EAGAIN: all taken (or another loop took it) */
		}
		c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			return;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
		if (in->rcvbuf)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &in->rcvbuf, sizeof in->rcvbuf);
		c->fd = fd;
		c->loop = lp;
		atomic_fetch_add(&in->accepted, 1);
		if (lp->pending.n >= in->max_pending)
			drop_pending(lp, lp->pending.head, &in->evicted);
		start_pending(lp, c);
		if (watch(c, EPOLL_CTL_ADD) != 0)
			drop_pending(lp, c, NULL);
	}
}

static void *loop_main(void *arg)
{
	struct loop *lp = arg;
	struct cg_intake *in = lp->in;
	struct epoll_event evs[64];
	int stopping = 0;

	while (!stopping) {
		int timeout = -1, n, listen_ready = 0;
		if (lp->pending.head) {
			int64_t left = lp->pending.head->deadline - mono_ms();
			timeout = left < 0 ? 0 : (int)left;
		}
		n = epoll_wait(lp->ep, evs, 64, timeout);
		/* connection events first: accepting may close the oldest pending
		 * connection, which must not have an event still to come in evs */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &listen_tag)
				listen_ready = 1;
			else if (evs[i].data.ptr == &stop_tag)
				stopping = 1;
			else
				examine(lp, evs[i].data.ptr, evs[i].events);
		}
		if (listen_ready && !stopping)
			accept_some(lp);
		for (int64_t now = mono_ms(); lp->pending.head && lp->pending.head->deadline <= now;)
			drop_pending(lp, lp->pending.head, &in->timed_out);
		pthread_mutex_lock(&lp->mu);
		free_dead(lp);
		pthread_mutex_unlock(&lp->mu);
	}
	while (lp->pending.head)
		drop_pending(lp, lp->pending.head, NULL);
	pthread_mutex_lock(&lp->mu);
	lp->stopped = 1; /* cg_intake_done closes and frees from now on */
	close_idle(lp);
	free_dead(lp);
	pthread_mutex_unlock(&lp->mu);
	return NULL;
}

void cg_intake_done(struct cg_conn *c, int fd)
{
	struct loop *lp = c->loop;

	pthread_mutex_lock(&lp->mu);
	if (lp->stopped) { /* no loop left to watch it, or to look at c */
		pthread_mutex_unlock(&lp->mu);
		if (fd >= 0)
			close(fd);
		free(c);
		return;
	}
	/* The idle cap is kept here, by closing a connection right after its
	 * answer, never later: nginx may take an idle kept connection for the
	 * next request at any moment, and a POST sent on one that is then
	 * closed fails (nginx does not retry it). Closed straight after the
	 * answer, the hang-up is there before nginx looks at the connection
	 * again, and it drops it from its cache. */
	if (fd >= 0 && lp->idle.n >= lp->in->max_idle) {
		close(fd);
		atomic_fetch_add(&lp->in->evicted_idle, 1);
	} else if (fd >= 0) {
		int missed = c->missed;
		c->state = IDLE;
		c->missed = 0;
		push(&lp->idle, c);
		atomic_fetch_add(&lp->in->idle, 1);
		if (!missed || watch(c, EPOLL_CTL_MOD) == 0) {
			pthread_mutex_unlock(&lp->mu);
			return;
		}
		unlink_conn(&lp->idle, c);
		atomic_fetch_sub(&lp->in->idle, 1);
		close(fd);
	}
	/* closed (by libfcgi, or just now): out of the set, but an event the
	 * loop has already collected may still name it */
	c->state = BUSY;
	push(&lp->dead, c);
	pthread_mutex_unlock(&lp->mu);
}

int cg_intake_start(const struct cg_intake_opts *o, struct cg_intake **out)
{
	struct cg_intake *in = calloc(1, sizeof *in);
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	int fl;

	/* Published before any loop runs: a loop may serve a request at once
	 * (one waits in the backlog after a restart), and what it serves reads
	 * the intake through *out (GET /consent/metrics). pthread_create orders
	 * this store before everything the new thread does. */
	(void)TEST_HOOK(CG_INTAKE_HOOK_PUBLISH);
	*out = in;
	if (!in)
		return CG_ERR_NOMEM;
	in->o = *o;
	in->max_pending = o->max_pending / o->loops > 0 ? o->max_pending / o->loops : 1;
	in->max_idle = o->max_idle / o->loops > 0 ? o->max_idle / o->loops : 1;
	in->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	in->loops = calloc((size_t)o->loops, sizeof *in->loops);
	/* The whole request (over max_request: its first max_request + 1
	 * bytes) must fit in a TCP connection's receive window to be peeked.
	 * The default buffer leaves ~100 kB, and autotuning grows it only as
	 * the application reads, which peeking never does: each accepted TCP
	 * connection gets a buffer of twice that (the kernel doubles it again,
	 * capped at rmem_max). Not the listener's alone: connections queued
	 * before the intake started (nginx connects as soon as the socket
	 * listens) would keep the default. A unix socket's queue is bounded by
	 * its sender instead. */
	if (getsockname(o->listen_fd, (struct sockaddr *)&sa, &salen) == 0 && sa.ss_family != AF_UNIX)
		in->rcvbuf = (int)(2 * (o->max_request + 1));
	fl = fcntl(o->listen_fd, F_GETFL);
	if (in->stop_fd < 0 || !in->loops || fl < 0 || fcntl(o->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    !o->too_large || strlen(o->too_large) >= CG_INTAKE_ANSWER_MAX)
		goto fail;
	for (int i = 0; i < o->loops; i++) {
		struct loop *lp = &in->loops[i];
		struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag};
		struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stop_tag};

		lp->in = in;
		lp->index = i;
		pthread_mutex_init(&lp->mu, NULL);
		lp->peek = malloc(o->max_request + 1);
		lp->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!lp->peek || lp->ep < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, o->listen_fd, &lev) != 0 ||
		    epoll_ctl(lp->ep, EPOLL_CTL_ADD, in->stop_fd, &sev) != 0 || TEST_HOOK(i) != 0 ||
		    pthread_create(&lp->thread, NULL, loop_main, lp) != 0)
			goto fail;
		lp->started = 1;
	}
	return CG_OK;
fail:
	/* Stopped, not freed: a loop that ran may have handed connections over
	 * that are still being served (answered by the writer after a commit),
	 * and those read the intake until they are given back. The caller
	 * frees it once they are done, as after a normal stop. */
	cg_intake_stop(in);
	return CG_ERR_IO;
}

void cg_intake_stats(struct cg_intake *in, struct cg_intake_stats *out)
{
	*out = (struct cg_intake_stats){
		.accepted = atomic_load(&in->accepted), .handed = atomic_load(&in->handed),
		.timed_out = atomic_load(&in->timed_out), .oversize = atomic_load(&in->oversize),
		.invalid = atomic_load(&in->invalid), .evicted = atomic_load(&in->evicted),
		.evicted_idle = atomic_load(&in->evicted_idle),
		.pending = atomic_load(&in->pending), .idle = atomic_load(&in->idle),
	};
}

void cg_intake_stop(struct cg_intake *in)
{
	uint64_t one = 1;

	if (!in || in->o.listen_fd < 0)
		return;
	if (in->stop_fd >= 0 && write(in->stop_fd, &one, sizeof one) < 0)
		cg_warn("intake: eventfd: %s", strerror(errno));
	for (int i = 0; in->loops && i < in->o.loops; i++) {
		if (in->loops[i].started)
			pthread_join(in->loops[i].thread, NULL);
		in->loops[i].started = 0;
	}
	close(in->o.listen_fd);
	in->o.listen_fd = -1;
}

void cg_intake_free(struct cg_intake *in)
{
	if (!in)
		return;
	cg_intake_stop(in);
	for (int i = 0; in->loops && i < in->o.loops; i++) {
		struct loop *lp = &in->loops[i];
		if (lp->ep > 0)
			close(lp->ep);
		free(lp->peek);
		pthread_mutex_destroy(&lp->mu);
	}
	free(in->loops);
	if (in->stop_fd >= 0)
		close(in->stop_fd);
	free(in);
}
