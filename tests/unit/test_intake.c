/* The intake (src/daemon/intake.c) over a real unix socket: what it hands
 * to the serve callback, and when, on kept connections. The test plays
 * both nginx (the client sockets) and the daemon's writer (it reads each
 * handed request and calls cg_intake_done). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/intake.h"

/* what the serve callback was handed, in order */
#define MAX_SERVED 8
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cg_conn *conn[MAX_SERVED];
	int fd[MAX_SERVED];
	int n, taken;
} served = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0};

static void on_serve(void *arg, int loop, struct cg_conn *c, int fd)
{
	(void)arg;
	(void)loop;
	pthread_mutex_lock(&served.mu);
	if (served.n < MAX_SERVED) {
		served.conn[served.n] = c;
		served.fd[served.n++] = fd;
	}
	pthread_cond_broadcast(&served.cv);
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

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
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
	char dir[] = "/tmp/cg-intake.XXXXXX", path[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct cg_intake *in = NULL;
	int lfd, a, b, ia, ib, i3;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/s", dir);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 16), 0);
	struct cg_intake_opts o = {.listen_fd = lfd, .loops = 1, .deadline_ms = 5000,
	                           .send_timeout_ms = 1000, .max_pending = 16, .max_idle = 16,
	                           .max_request = 65536, .serve = on_serve};
	assert_int_equal(cg_intake_start(&o, &in), 0);

	a = dial(path);
	send_request(a);
	ia = next_served();
	assert_true(ia >= 0);
	consume_request(served.fd[ia]);

	/* the next request on A while A is still being served ... */
	send_request(a);
	/* ... and, as evidence that the loop has looked at it, a request on a
	 * new connection B: the loop examines A's event before it accepts B */
	b = dial(path);
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
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_arriving_while_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
