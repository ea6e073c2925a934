/* The intake (src/daemon/intake.c) over a real unix socket: what it hands
 * to the serve callback, and when, on kept connections; its start-up, with
 * requests already waiting. The test plays both nginx (the client sockets)
 * and the daemon's writer (it reads each handed request and calls
 * cg_intake_done). Built with CG_INTAKE_TEST_HOOKS (intake.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/intake.h"

/* Where cg_intake_start publishes the intake: what the daemon's state is
 * to the requests it serves (GET /consent/metrics reads the intake's
 * statistics through it). */
static struct cg_intake *published;

/* what the serve callback was handed, in order, and what it found published */
#define MAX_SERVED 16
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cg_conn *conn[MAX_SERVED];
	int fd[MAX_SERVED];
	struct cg_intake *seen[MAX_SERVED];
	int n, taken;
} served = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, {0}, 0, 0};

static void on_serve(void *arg, int loop, struct cg_conn *c, int fd)
{
	(void)arg;
	(void)loop;
	pthread_mutex_lock(&served.mu);
	if (served.n < MAX_SERVED) {
		served.conn[served.n] = c;
		served.seen[served.n] = published;
		served.fd[served.n++] = fd;
	}
	pthread_cond_broadcast(&served.cv);
	pthread_mutex_unlock(&served.mu);
}

/* Until n connections in all were handed over (at most 10 s). */
static void wait_served(int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&served.mu);
	while (served.n < n && pthread_cond_timedwait(&served.cv, &served.mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&served.mu);
}

/* The next connection handed over, within 5 s (index into served), or -1. */
static int next_served(void)
{
	struct timespec until;
	int i = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&served.mu);
	while (served.taken == served.n)
		if (pthread_cond_timedwait(&served.cv, &served.mu, &until) == ETIMEDOUT)
			break;
	if (served.taken < served.n)
		i = served.taken++;
	pthread_mutex_unlock(&served.mu);
	return i;
}

static size_t rec(uint8_t *p, int type, size_t clen)
{
	p[0] = 1;
	p[1] = (uint8_t)type;
	p[2] = 0;
	p[3] = 1;
	p[4] = (uint8_t)(clen >> 8);
	p[5] = (uint8_t)clen;
	p[6] = 0;
	p[7] = 0;
	memset(p + 8, 'x', clen);
	return 8 + clen;
}

/* BEGIN, PARAMS(16), PARAMS(0), STDIN(0): a whole request as nginx sends it */
static size_t request(uint8_t *p)
{
	size_t n = rec(p, 1, 8);

	n += rec(p + n, 4, 16);
	n += rec(p + n, 4, 0);
	return n + rec(p + n, 5, 0);
}

/* a listening unix socket in a directory of its own */
struct sock {
	char dir[32], path[64];
	int fd;
};

static void listen_on(struct sock *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(s->dir, sizeof s->dir, "/tmp/cg-intake.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof s->path, "%s/s", s->dir);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->fd, 16), 0);
}

static void unlisten(struct sock *s)
{
	unlink(s->path);
	rmdir(s->dir);
}

#define TOO_LARGE "Status: 413 Payload Too Large\r\nContent-Length: 2\r\n\r\n{}"

static struct cg_intake_opts opts(int listen_fd, int loops)
{
	return (struct cg_intake_opts){.listen_fd = listen_fd, .loops = loops, .deadline_ms = 5000,
	                               .send_timeout_ms = 1000, .max_pending = 16, .max_idle = 16,
	                               .max_request = 65536, .too_large = TOO_LARGE, .max_discard = 256 * 1024,
	                               .serve = on_serve};
}

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval t = {5, 0}; /* a read that would hang fails the test */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
	return fd;
}

static void send_request(int fd)
{
	uint8_t b[128];
	size_t n = request(b);

	assert_int_equal(write(fd, b, n), (ssize_t)n);
}

/* the daemon side reads the request it was handed, as libfcgi would */
static void consume_request(int fd)
{
	uint8_t b[128];
	size_t want = request(b), got = 0;

	while (got < want) {
		ssize_t r = read(fd, b, want - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

/* nginx sends the next request on a kept connection as soon as it has read
 * the answer, which may be before the answering thread has given the
 * connection back (cg_intake_done): the loop sees that request arrive while
 * the connection is still being served. It must still be served once the
 * connection is given back, not wait forever for bytes that already came. */
static void test_request_arriving_while_served(void **state)
{
	struct cg_intake_opts o;
	struct cg_intake *in = NULL;
	struct sock s;
	int a, b, ia, ib, i3;

	(void)state;
	listen_on(&s);
	o = opts(s.fd, 1);
	assert_int_equal(cg_intake_start(&o, &in), 0);

	a = dial(s.path);
	send_request(a);
	ia = next_served();
	assert_true(ia >= 0);
	consume_request(served.fd[ia]);

	/* the next request on A while A is still being served ... */
	send_request(a);
	/* ... and, as evidence that the loop has looked at it, a request on a
	 * new connection B: the loop examines A's event before it accepts B */
	b = dial(s.path);
	send_request(b);
	ib = next_served();
	assert_true(ib >= 0);
	assert_ptr_not_equal(served.conn[ib], served.conn[ia]); /* A is busy: not handed again */
	consume_request(served.fd[ib]);
	cg_intake_done(served.conn[ib], served.fd[ib]);

	/* A's answer has gone: its waiting request is handed over */
	cg_intake_done(served.conn[ia], served.fd[ia]);
	i3 = next_served();
	if (i3 < 0)
		fail_msg("the request that arrived while its connection was busy was never served");
	assert_ptr_equal(served.conn[i3], served.conn[ia]);
	consume_request(served.fd[i3]);
	cg_intake_done(served.conn[i3], served.fd[i3]);

	cg_intake_stop(in);
	cg_intake_free(in);
	close(a);
	close(b);
	unlisten(&s);
}

/* Threads of this process (cmocka starts none: more than one means the
 * intake's loops are running). */
static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int hook_served; /* the served count a hook waits for */

/* The delayed publish: any loop already running when the intake is about
 * to be published is given all the time it needs to serve the request
 * waiting in the backlog, so the window between the two is always open
 * (on a daemon, a GET /consent/metrics served there read no intake). */
static int publish_late(int step)
{
	if (step == CG_INTAKE_HOOK_PUBLISH && threads() > 1)
		wait_served(hook_served);
	return 0;
}

/* A request waiting when the intake starts is served with the intake
 * already published. */
static void test_published_before_any_request(void **state)
{
	struct cg_intake_opts o;
	struct sock s;
	int a, i;

	(void)state;
	listen_on(&s);
	a = dial(s.path);
	send_request(a); /* in the backlog before the loops exist */
	o = opts(s.fd, 2);
	hook_served = served.n + 1;
	published = NULL;
	cg_intake_test_hook = publish_late;
	assert_int_equal(cg_intake_start(&o, &published), 0);
	cg_intake_test_hook = NULL;
	i = next_served();
	assert_true(i >= 0);
	if (served.seen[i] != published)
		fail_msg("a request was served while the intake was %p, before it was published as %p",
		         (void *)served.seen[i], (void *)published);
	consume_request(served.fd[i]);
	cg_intake_done(served.conn[i], served.fd[i]);
	cg_intake_stop(published);
	cg_intake_free(published);
	published = NULL;
	close(a);
	unlisten(&s);
}

/* the second loop fails to start once the first has served a request */
static int fail_second_loop(int step)
{
	if (step != 1)
		return 0;
	wait_served(hook_served);
	return -1;
}

/* A start that fails after a loop has handed a connection over keeps the
 * intake published and valid: that connection is still being served (on
 * the daemon, its answer may wait for a commit) and reads the intake when
 * it is given back; the caller frees the intake once nothing reads it. */
static void test_failed_start_keeps_the_intake(void **state)
{
	struct cg_intake_stats st;
	struct cg_intake_opts o;
	struct sock s;
	char c;
	int a, i, rc;

	(void)state;
	listen_on(&s);
	a = dial(s.path);
	send_request(a);
	o = opts(s.fd, 2);
	hook_served = served.n + 1;
	published = NULL;
	cg_intake_test_hook = fail_second_loop;
	rc = cg_intake_start(&o, &published);
	cg_intake_test_hook = NULL;
	assert_int_not_equal(rc, 0);
	if (!published)
		fail_msg("the failed start took the intake back while a connection it handed over was being served");
	i = next_served();
	assert_true(i >= 0);
	assert_ptr_equal(served.seen[i], published);
	cg_intake_stats(published, &st);
	assert_int_equal(st.handed, 1);
	consume_request(served.fd[i]);
	cg_intake_done(served.conn[i], served.fd[i]); /* no loop left: closed */
	assert_int_equal(read(a, &c, 1), 0);
	cg_intake_free(published);
	published = NULL;
	close(a);
	unlisten(&s);
}

/* ---- a request over max_request (65536 here) ---------------------------- */

/* BEGIN (FCGI_KEEP_CONN as given), PARAMS, and the head of a body of
 * `body` bytes in STDIN records of 50000: 2 records, so over the limit
 * (*head: the bytes up to the second record's middle), then the rest and
 * the empty STDIN record. */
static size_t big_request(uint8_t *p, int keep, size_t body, size_t *head)
{
	size_t n = rec(p, 1, 8);

	p[10] = (uint8_t)keep; /* flags */
	n += rec(p + n, 4, 16);
	n += rec(p + n, 4, 0);
	for (size_t left = body; left > 0;) {
		size_t part = left < 50000 ? left : 50000;
		n += rec(p + n, 5, part);
		left -= part;
	}
	*head = 8 + 8 + 8 + 16 + 8 + 50008 + 25000;
	return n + rec(p + n, 5, 0);
}

/* The refusal the intake must send for request id 1: TOO_LARGE as
 * FastCGI records (the peer reads it before it sends the rest). */
static void expect_refusal(int fd)
{
	uint8_t want[256], got[256];
	size_t n = 0, len = strlen(TOO_LARGE), have = 0;

	n += rec(want, 6, len);
	memcpy(want + 8, TOO_LARGE, len);
	n += rec(want + n, 6, 0);
	n += rec(want + n, 3, 8);
	memset(want + n - 8, 0, 8);
	while (have < n) {
		ssize_t r = read(fd, got + have, n - have);
		if (r <= 0)
			fail_msg("the refusal did not arrive: %zu of its %zu bytes, then %s", have, n,
			         r == 0 ? "the end" : strerror(errno));
		have += (size_t)r;
	}
	assert_memory_equal(got, want, n);
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* One loop, and a peer that sent the head of a request over the limit
 * (keep: FCGI_KEEP_CONN) and read the refusal: b holds the whole request,
 * r->n bytes of it, r->head sent. */
struct refused {
	struct sock s;
	struct cg_intake_opts o;
	struct cg_intake *in;
	size_t head, n;
	int a;
};

static void refused_start(struct refused *r, uint8_t *b, int keep)
{
	listen_on(&r->s);
	r->o = opts(r->s.fd, 1);
	r->in = NULL;
	assert_int_equal(cg_intake_start(&r->o, &r->in), 0);
	r->a = dial(r->s.path);
	r->n = big_request(b, keep, 100000, &r->head);
	send_all(r->a, b, r->head);
	expect_refusal(r->a);
}

static void refused_end(struct refused *r)
{
	cg_intake_stop(r->in);
	cg_intake_free(r->in);
	close(r->a);
	unlisten(&r->s);
}

/* Answered before the rest is sent (as nginx reads it while still
 * sending), then read to its very end, not a byte further: the next
 * request on the kept connection is handed over whole. */
static void test_oversize_answered_then_kept(void **state)
{
	static uint8_t b[200000];
	struct cg_intake_stats st;
	struct refused r;
	int i;

	(void)state;
	refused_start(&r, b, 1);
	r.n += request(b + r.n); /* the next request right behind it */
	send_all(r.a, b + r.head, r.n - r.head);
	i = next_served();
	if (i < 0)
		fail_msg("the request after the refused one on a kept connection was never served");
	consume_request(served.fd[i]); /* exactly its bytes: the refused one is gone */
	cg_intake_done(served.conn[i], served.fd[i]);
	cg_intake_stats(r.in, &st);
	assert_int_equal(st.oversize, 1);
	assert_int_equal(st.handed, 1);
	refused_end(&r);
}

/* A peer that does not keep the connection: the answer, then the end of
 * the daemon's side (nginx waits for it); the rest is still read. */
static void test_oversize_not_kept(void **state)
{
	static uint8_t b[200000];
	struct refused r;
	char c;

	(void)state;
	refused_start(&r, b, 0);
	assert_int_equal(read(r.a, &c, 1), 0);
	send_all(r.a, b + r.head, r.n - r.head); /* read on, never a reset */
	refused_end(&r);
}

/* A peer that never ends its request is cut off past max_discard (256 kB
 * here), with its answer sent. */
static void test_oversize_bounded(void **state)
{
	static uint8_t b[200000];
	struct refused r;
	size_t sent;

	(void)state;
	refused_start(&r, b, 1);
	sent = r.n - 8; /* all but its empty STDIN record */
	send_all(r.a, b + r.head, sent - r.head);
	rec(b, 5, 50000); /* more STDIN records, and no end */
	while (sent < 64 * 1024 * 1024) {
		ssize_t w = send(r.a, b, 50008, MSG_NOSIGNAL);
		if (w < 0)
			break;
		sent += (size_t)w;
	}
	if (sent >= 64 * 1024 * 1024)
		fail_msg("64 MB of a refused request were read and the connection is still open");
	assert_true(errno == EPIPE || errno == ECONNRESET);
	assert_true(sent > r.o.max_discard);
	refused_end(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_arriving_while_served),
		cmocka_unit_test(test_published_before_any_request),
		cmocka_unit_test(test_failed_start_keeps_the_intake),
		cmocka_unit_test(test_oversize_answered_then_kept),
		cmocka_unit_test(test_oversize_not_kept),
		cmocka_unit_test(test_oversize_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
