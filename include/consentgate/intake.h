/* The intake: a few event loops (one thread each, `[server] workers`) that
 * accept FastCGI connections, watch them in an epoll set, and hand a
 * connection to the serve callback — on the loop's own thread — only once
 * its whole request is in the socket buffer (cg_fcgi_scan on MSG_PEEK),
 * within a total deadline counted from accept (on a kept connection, from
 * the next request's first byte), whatever the peer's byte rate. libfcgi reads with no timeout: without this, any local peer
 * that sends one byte and stalls would hold a thread for as long as it
 * likes. I/O shell; Linux (epoll, eventfd).
 *
 * No thread is pinned to a connection: between requests a kept connection
 * (fastcgi_keep_conn) costs a file descriptor in its loop's epoll set.
 * Connections still arriving are capped per loop (past the cap the oldest
 * is closed), and so are idle kept ones (past the cap, a connection is
 * closed right after its answer instead of kept).
 *
 * A request larger than max_request is never handed over: the loop
 * answers it with too_large at once and reads the rest of it, throwing it
 * away, up to max_discard bytes and within the deadline; the connection is
 * then kept, as its peer asked, or closed. */
#ifndef CONSENTGATE_INTAKE_H
#define CONSENTGATE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

struct cg_intake; /* opaque */
struct cg_conn;   /* one connection, the intake's between requests */

/* Runs on loop `loop`'s thread with a connection whose request has fully
 * arrived: its fd, blocking, with a send timeout. The callee owns the
 * connection until it calls cg_intake_done — from any thread, at once or
 * after a commit — and should not block for long: the loop serves nothing
 * else meanwhile. */
typedef void cg_intake_serve_fn(void *arg, int loop, struct cg_conn *c, int fd);

struct cg_intake_opts {
	int listen_fd;            /* listening socket; the intake owns it from here on */
	int loops;                /* threads */
	int deadline_ms;          /* a whole request must arrive within this */
	int send_timeout_ms;      /* SO_SNDTIMEO of every connection */
	int max_pending;          /* connections whose request is still arriving (all loops) */
	int max_idle;             /* kept connections waiting for their next request (all loops) */
	size_t max_request;       /* bytes: a request larger than this is refused */
	const char *too_large;    /* the refusal: CGI headers, blank line, body (< CG_INTAKE_ANSWER_MAX) */
	size_t max_discard;       /* bytes of a refused request read before its connection is closed */
	cg_intake_serve_fn *serve;
	void *arg;
};

#define CG_INTAKE_ANSWER_MAX 1024

struct cg_intake_stats {
	uint64_t accepted, handed, timed_out, invalid, evicted;
	uint64_t oversize;        /* requests over max_request, answered too_large */
	uint64_t evicted_idle;    /* kept connections closed after their answer: idle cap */
	int pending, idle;
};

/* Publishes the intake in *out before any loop runs (what the loops serve
 * may read it there), then starts the loops. On failure *out is the
 * intake, stopped, or NULL when none could be allocated: free it with
 * cg_intake_free once nothing it handed over is still being served. */
int cg_intake_start(const struct cg_intake_opts *o, struct cg_intake **out);
/* The answer went out: fd >= 0 is the connection, kept open for its next
 * request (watched again); -1 when it was closed. Thread-safe. */
void cg_intake_done(struct cg_conn *c, int fd);
void cg_intake_stats(struct cg_intake *in, struct cg_intake_stats *out);
/* Stops accepting, closes the connections between requests and joins the
 * loops. Connections being served stay valid: cg_intake_done closes them. */
void cg_intake_stop(struct cg_intake *in);
/* Once nothing is being served. NULL is harmless. */
void cg_intake_free(struct cg_intake *in);

#ifdef CG_INTAKE_TEST_HOOKS
/* Test builds only (tests/unit/test_intake.c compiles intake.c with this
 * defined; the daemon has no hook): called with CG_INTAKE_HOOK_PUBLISH
 * right before cg_intake_start publishes the intake (*out), and with i
 * right before loop i's thread is created, where non-zero fails the start
 * as a failed pthread_create would. */
#define CG_INTAKE_HOOK_PUBLISH (-1)
extern int (*cg_intake_test_hook)(int step);
#endif

#endif
