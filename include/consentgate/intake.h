/* The intake: one thread that accepts FastCGI connections and hands a
 * connection to the workers only once its whole request is in the socket
 * buffer (cg_fcgi_scan on MSG_PEEK), within a total deadline counted from
 * accept, whatever the peer's byte rate. libfcgi reads with no timeout, so
 * without this any local peer that sends one byte and stalls holds a worker
 * for as long as it likes. I/O shell; Linux (epoll, eventfd).
 *
 * Connections still arriving are capped: past the cap the oldest is closed.
 * Kept connections (fastcgi_keep_conn) handed back with cg_intake_keep wait
 * idle without a deadline; their next request gets one from its first byte. */
#ifndef CONSENTGATE_INTAKE_H
#define CONSENTGATE_INTAKE_H

#include <stddef.h>
#include <stdint.h>

struct cg_intake; /* opaque */

struct cg_intake_opts {
	int listen_fd;            /* listening socket; the intake owns it from here on */
	int deadline_ms;          /* a whole request must arrive within this of accept */
	int max_pending;          /* connections whose request is still arriving */
	int max_idle;             /* kept connections waiting for their next request */
	size_t max_request;       /* bytes: a request larger than this is refused */
};

struct cg_intake_stats {
	uint64_t accepted, handed, timed_out, oversize, invalid, evicted;
	int pending, idle;
};

int cg_intake_start(const struct cg_intake_opts *o, struct cg_intake **out);
/* The next connection whose request has fully arrived: its fd, which the
 * caller now owns (blocking mode). Blocks; -1 once the intake stopped and
 * every ready connection was taken. Thread-safe. */
int cg_intake_next(struct cg_intake *in);
/* Gives a kept connection back after its answer: watched for the next
 * request. Thread-safe. */
void cg_intake_keep(struct cg_intake *in, int fd);
void cg_intake_stats(struct cg_intake *in, struct cg_intake_stats *out);
/* Stops accepting and closes connections whose request has not arrived;
 * ready ones are still returned by cg_intake_next. */
void cg_intake_stop(struct cg_intake *in);
/* Joins the thread, closes everything. NULL is harmless. */
void cg_intake_free(struct cg_intake *in);

#endif
