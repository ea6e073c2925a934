/* The benchmarks' references: a libfcgi responder that reads the body and
 * answers a tiny JSON — the ceiling of the FastCGI hop.
 *
 *   noop_fcgi SOCKET THREADS           (a) libfcgi's usual loop: every
 *                                      thread blocks in FCGX_Accept_r, a
 *                                      new connection per request
 *   noop_fcgi SOCKET THREADS keep      (b) kept connections (nginx's
 *                                      fastcgi_keep_conn) served from an
 *                                      epoll set: a thread calls
 *                                      FCGX_Accept_r only on a connection
 *                                      whose next request is readable, so
 *                                      an idle connection pins no thread
 * The thread counts are fixed by tests/bench/run. */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd, ep;
static const char answer[] = "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

/* the input to its end (the empty FCGI_STDIN record): a record left in the
 * socket would break the next request on a kept connection */
static void serve(FCGX_Request *rq)
{
	char body[4096];

	while (FCGX_GetStr(body, sizeof body, rq->in) > 0)
		;
	FCGX_PutStr(answer, (int)sizeof answer - 1, rq->out);
}

static void *usual(void *arg)
{
	FCGX_Request rq;

	(void)arg;
	FCGX_InitRequest(&rq, listen_fd, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		serve(&rq);
		FCGX_Finish_r(&rq);
	}
	return NULL;
}

static char listen_tag;

static void arm(FCGX_Request *rq, int op)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = rq};

	if (epoll_ctl(ep, op, rq->ipcFd, &ev) != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
		epoll_ctl(ep, EPOLL_CTL_ADD, rq->ipcFd, &ev);
}

static void *kept(void *arg)
{
	struct epoll_event ev;

	(void)arg;
	for (;;) {
		FCGX_Request *rq;
		if (epoll_wait(ep, &ev, 1, -1) != 1)
			continue;
		if (ev.data.ptr == &listen_tag) { /* a new connection: watched like the kept ones */
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &listen_tag};
			epoll_ctl(ep, EPOLL_CTL_MOD, listen_fd, &lev);
			if (fd < 0 || !(rq = calloc(1, sizeof *rq))) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			FCGX_InitRequest(rq, listen_fd, 0);
			rq->ipcFd = fd;
			rq->keepConnection = 1;
			arm(rq, EPOLL_CTL_ADD);
			continue;
		}
		rq = ev.data.ptr;
		/* at EOF libfcgi closes the connection and tries one accept on the
		 * non-blocking listener, which fails: the object is done */
		if (FCGX_Accept_r(rq) < 0) {
			FCGX_Free(rq, 1);
			free(rq);
			continue;
		}
		serve(rq);
		FCGX_Finish_r(rq); /* closes unless nginx keeps the connection */
		if (rq->ipcFd >= 0) {
			arm(rq, EPOLL_CTL_MOD);
		} else {
			FCGX_Free(rq, 0);
			free(rq);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 64, keep = argc > 3 && strcmp(argv[3], "keep") == 0;
	pthread_t t;

	if (argc < 2) {
		fprintf(stderr, "usage: noop_fcgi SOCKET [THREADS [keep]]\n");
		return 2;
	}
	FCGX_Init();
	unlink(argv[1]);
	listen_fd = FCGX_OpenSocket(argv[1], 1024);
	if (listen_fd < 0)
		return 1;
	chmod(argv[1], 0666);
	if (keep) {
		struct epoll_event lev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &listen_tag};
		fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
		ep = epoll_create1(EPOLL_CLOEXEC);
		epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev);
	}
	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, keep ? kept : usual, NULL);
	(keep ? kept : usual)(NULL);
	return 0;
}
