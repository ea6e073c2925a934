#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

struct conn {
	int fd;
	int idle;                  /* a kept connection between requests */
	int64_t deadline;          /* monotonic ms; pending connections only */
	struct conn *prev, *next;
};

/* FIFO lists: pending ones in deadline order, since every deadline is
 * accept (or first byte) + the same interval: the head expires first */
struct list {
	struct conn *head, *tail;
	int n;
};

struct cg_intake {
	struct cg_intake_opts o;
	int ep, wake;
	pthread_t thread;
	int started;
	struct list pending, idle;   /* the intake thread's alone */
	uint8_t *peek;               /* o.max_request + 1 bytes */
	pthread_mutex_t mu;          /* guards what follows */
	pthread_cond_t ready_cv;
	struct list ready, returned;
	int stopping, stopped;
	struct cg_intake_stats st;
};

static char listen_tag, wake_tag; /* epoll data for the two special fds */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push(struct list *l, struct conn *c)
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

static void unlink_conn(struct list *l, struct conn *c)
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

static void drop(struct cg_intake *in, struct list *l, struct conn *c, uint64_t *counter)
{
	unlink_conn(l, c);
	close(c->fd); /* also leaves the epoll set */
	free(c);
	if (counter) {
		pthread_mutex_lock(&in->mu);
		(*counter)++;
		pthread_mutex_unlock(&in->mu);
	}
}

static void watch(struct cg_intake *in, struct conn *c, struct list *l)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};

	push(l, c);
	if (epoll_ctl(in->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		drop(in, l, c, NULL);
}

/* New data (or a hang-up) on a connection: is its request whole yet? */
static void examine(struct cg_intake *in, struct conn *c, uint32_t events)
{
	struct list *l = c->idle ? &in->idle : &in->pending;
	ssize_t n = recv(c->fd, in->peek, in->o.max_request + 1, MSG_PEEK | MSG_DONTWAIT);
	size_t used;
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EOF: the peer is done (a kept connection nginx closed) */
		drop(in, l, c, NULL);
		return;
	}
	if (c->idle) { /* the next request on a kept connection: its clock starts */
		unlink_conn(&in->idle, c);
		c->idle = 0;
		c->deadline = mono_ms() + in->o.deadline_ms;
		push(&in->pending, c);
		l = &in->pending;
	}
	r = cg_fcgi_scan(in->peek, (size_t)n, &used);
	if (r == CG_FCGI_COMPLETE) {
		epoll_ctl(in->ep, EPOLL_CTL_DEL, c->fd, NULL);
		unlink_conn(l, c);
		pthread_mutex_lock(&in->mu);
		push(&in->ready, c);
		in->st.handed++;
		pthread_cond_signal(&in->ready_cv);
		pthread_mutex_unlock(&in->mu);
	} else if (r == CG_FCGI_INVALID) {
		drop(in, l, c, &in->st.invalid);
	} else if ((size_t)n > in->o.max_request) {
		drop(in, l, c, &in->st.oversize);
	} else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		drop(in, l, c, NULL); /* half a request and the peer stopped writing */
	}
}

static void accept_some(struct cg_intake *in)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(in->o.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				cg_warn("intake: out of file descriptors");
				if (in->pending.head) /* make room: the oldest waits longest */
					drop(in, &in->pending, in->pending.head, &in->st.evicted);
				else
					usleep(10000);
			}
			return; /* EAGAIN: all taken */
		}
		c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->deadline = mono_ms() + in->o.deadline_ms;
		if (in->pending.n >= in->o.max_pending)
			drop(in, &in->pending, in->pending.head, &in->st.evicted);
		pthread_mutex_lock(&in->mu);
		in->st.accepted++;
		pthread_mutex_unlock(&in->mu);
		watch(in, c, &in->pending);
	}
}

/* Kept connections the workers gave back. Returns 1 once stopping. */
static int take_returned(struct cg_intake *in)
{
	uint64_t v;
	struct conn *c, *next;
	int stopping;

	if (read(in->wake, &v, sizeof v) < 0 && errno != EAGAIN)
		cg_warn("intake: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&in->mu);
	c = in->returned.head;
	in->returned.head = in->returned.tail = NULL;
	in->returned.n = 0;
	stopping = in->stopping;
	pthread_mutex_unlock(&in->mu);
	for (; c; c = next) {
		next = c->next;
		c->idle = 1;
		if (in->idle.n >= in->o.max_idle)
			drop(in, &in->idle, in->idle.head, NULL);
		watch(in, c, &in->idle);
	}
	return stopping;
}

static void *intake_main(void *arg)
{
	struct cg_intake *in = arg;
	struct epoll_event evs[64];
	int stopping = 0;

	while (!stopping) {
		int timeout = -1, n, listen_ready = 0, wake_ready = 0;
		if (in->pending.head) {
			int64_t left = in->pending.head->deadline - mono_ms();
			timeout = left < 0 ? 0 : (int)left;
		}
		n = epoll_wait(in->ep, evs, 64, timeout);
		/* connection events first: accepting may close the oldest pending
		 * connection, which must not have an event still to come in evs */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &listen_tag)
				listen_ready = 1;
			else if (evs[i].data.ptr == &wake_tag)
				wake_ready = 1;
			else
				examine(in, evs[i].data.ptr, evs[i].events);
		}
		if (wake_ready)
			stopping = take_returned(in);
		if (listen_ready && !stopping)
			accept_some(in);
		for (int64_t now = mono_ms(); in->pending.head && in->pending.head->deadline <= now;)
			drop(in, &in->pending, in->pending.head, &in->st.timed_out);
		pthread_mutex_lock(&in->mu);
		in->st.pending = in->pending.n;
		in->st.idle = in->idle.n;
		pthread_mutex_unlock(&in->mu);
	}
	while (in->pending.head)
		drop(in, &in->pending, in->pending.head, NULL);
	while (in->idle.head)
		drop(in, &in->idle, in->idle.head, NULL);
	close(in->o.listen_fd);
	pthread_mutex_lock(&in->mu);
	in->stopped = 1;
	pthread_cond_broadcast(&in->ready_cv);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

int cg_intake_start(const struct cg_intake_opts *o, struct cg_intake **out)
{
	struct cg_intake *in = calloc(1, sizeof *in);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listen_tag};
	struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &wake_tag};
	int fl;

	*out = NULL;
	if (!in)
		return CG_ERR_NOMEM;
	in->o = *o;
	in->ep = in->wake = -1;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->ready_cv, NULL);
	in->peek = malloc(o->max_request + 1);
	in->ep = epoll_create1(EPOLL_CLOEXEC);
	in->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fl = fcntl(o->listen_fd, F_GETFL);
	if (!in->peek || in->ep < 0 || in->wake < 0 || fl < 0 ||
	    fcntl(o->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    epoll_ctl(in->ep, EPOLL_CTL_ADD, o->listen_fd, &lev) != 0 ||
	    epoll_ctl(in->ep, EPOLL_CTL_ADD, in->wake, &wev) != 0 ||
	    pthread_create(&in->thread, NULL, intake_main, in) != 0) {
		cg_intake_free(in);
		return CG_ERR_IO;
	}
	in->started = 1;
	*out = in;
	return CG_OK;
}

int cg_intake_next(struct cg_intake *in)
{
	struct conn *c;
	int fd;

	pthread_mutex_lock(&in->mu);
	while (!in->ready.head && !in->stopped)
		pthread_cond_wait(&in->ready_cv, &in->mu);
	c = in->ready.head;
	if (c)
		unlink_conn(&in->ready, c);
	pthread_mutex_unlock(&in->mu);
	if (!c)
		return -1;
	fd = c->fd;
	free(c);
	return fd;
}

void cg_intake_keep(struct cg_intake *in, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	uint64_t one = 1;
	int gone;

	pthread_mutex_lock(&in->mu);
	gone = in->stopping || !c;
	if (!gone) {
		c->fd = fd;
		push(&in->returned, c);
	}
	pthread_mutex_unlock(&in->mu);
	if (gone) {
		close(fd);
		free(c);
		return;
	}
	if (write(in->wake, &one, sizeof one) < 0)
		cg_warn("intake: eventfd: %s", strerror(errno));
}

void cg_intake_stats(struct cg_intake *in, struct cg_intake_stats *out)
{
	pthread_mutex_lock(&in->mu);
	*out = in->st;
	pthread_mutex_unlock(&in->mu);
}

void cg_intake_stop(struct cg_intake *in)
{
	uint64_t one = 1;

	if (!in)
		return;
	pthread_mutex_lock(&in->mu);
	in->stopping = 1;
	pthread_mutex_unlock(&in->mu);
	if (write(in->wake, &one, sizeof one) < 0)
		cg_warn("intake: eventfd: %s", strerror(errno));
}

void cg_intake_free(struct cg_intake *in)
{
	if (!in)
		return;
	if (in->started) {
		cg_intake_stop(in);
		pthread_join(in->thread, NULL);
	}
	for (struct conn *c = in->ready.head, *next; c; c = next) {
		next = c->next;
		close(c->fd);
		free(c);
	}
	for (struct conn *c = in->returned.head, *next; c; c = next) {
		next = c->next;
		close(c->fd);
		free(c);
	}
	if (in->ep >= 0)
		close(in->ep);
	if (in->wake >= 0)
		close(in->wake);
	free(in->peek);
	pthread_cond_destroy(&in->ready_cv);
	pthread_mutex_destroy(&in->mu);
	free(in);
}
