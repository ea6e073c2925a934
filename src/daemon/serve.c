/* The request pipeline: FastCGI params into a struct cg_request, the pure
 * handler, and its answer back into bytes — at once, or once its plan is
 * durable. A worker never waits for a commit: a request whose answer waits
 * for one becomes an `inflight` object (its own heap FCGX_Request) that the
 * storage port's writer answers and finishes from its completion callback,
 * right after COMMIT, while the worker has long gone back to the next
 * request. What is in flight is capped in bytes ([server]
 * max_inflight_bytes): past the cap a request is answered 503 busy at once
 * instead of queueing without limit. */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/cookie.h"
#include "consentgate/err.h"
#include "consentgate/forwarder.h"
#include "consentgate/handler.h"
#include "consentgate/intake.h"
#include "consentgate/log.h"
#include "daemon.h"

/* libfcgi's input and output buffers of one request */
#define FCGX_BUFFERS (2 * 8192)
struct inflight {
	FCGX_Request rq;
	struct daemon *d;
	struct cg_conn *conn;      /* the intake's, given back in finish() */
	struct cg_response res;
	struct cg_store_batch batch;
	int head;                  /* HEAD: the answer has no body */
	size_t cost;               /* bytes counted in d->inflight_bytes */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *param(FCGX_Request *rq, const char *name)
{
	return FCGX_GetParam(name, rq->envp);
}

#define MAX_COOKIE_LINES 16 /* Cookie lines looked at; nginx caps the header size anyway */

/* The params that matter to the handler; the body is read separately. */
static void read_params(struct daemon *d, FCGX_Request *rq, struct cg_request *req,
                        char path[1024], const char *cookie_lines[MAX_COOKIE_LINES])
{
	const char *uri = param(rq, "DOCUMENT_URI");
	int cookies = 0;

	memset(req, 0, sizeof *req);
	req->method = param(rq, "REQUEST_METHOD");
	if (!uri) {
		uri = param(rq, "REQUEST_URI");
		snprintf(path, 1024, "%.*s", uri ? (int)strcspn(uri, "?") : 0, uri ? uri : "");
		uri = path;
	}
	req->path = uri;
	req->query = param(rq, "QUERY_STRING");
	req->content_type = param(rq, "CONTENT_TYPE");
	/* nginx 1.22 passes each Cookie header line as its own param */
	for (char **e = rq->envp; e && *e && cookies < MAX_COOKIE_LINES; e++)
		if (strncmp(*e, "HTTP_COOKIE=", 12) == 0)
			cookie_lines[cookies++] = *e + 12;
	req->cookie = cg_cookie_pick(cookie_lines, (size_t)cookies, cg_config_id_cookie(&d->cfg),
	                             &req->cookie_dup);
	req->remote_addr = param(rq, "REMOTE_ADDR");
	req->sec_fetch_site = param(rq, "HTTP_SEC_FETCH_SITE");
	req->origin = param(rq, "HTTP_ORIGIN");
	req->sec_gpc = param(rq, "HTTP_SEC_GPC");
	req->dnt = param(rq, "HTTP_DNT");
	req->host = param(rq, "HTTP_HOST");
	req->if_none_match = param(rq, "HTTP_IF_NONE_MATCH");
	req->now_ms = wall_ms();
}

/* libfcgi does not enforce CONTENT_LENGTH: read at most our cap, and only
 * a length of plain digits ("+96", " 96", "-1", "9e3" are refused). */
static void read_body(struct worker *w, FCGX_Request *rq, struct cg_request *req)
{
	const char *cl = param(rq, "CONTENT_LENGTH");
	unsigned long long n;
	char *end = NULL;
	int got;

	if (!cl || !*cl)
		return;
	if (strspn(cl, "0123456789") != strlen(cl)) {
		req->body_bad_length = 1;
		return;
	}
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno || *end || n > CG_COLLECT_BODY_MAX) {
		req->body_too_large = 1;
		return;
	}
	if (n == 0)
		return;
	got = FCGX_GetStr(w->body, (int)n, rq->in);
	if (got < 0 || (unsigned long long)got != n) {
		req->body_incomplete = 1;
		return;
	}
	w->body[n] = '\0';
	req->body = w->body;
	req->body_len = (size_t)n;
}

/* The input to its end (the empty FCGI_STDIN record), whatever the body's
 * fate: a record left in the socket would break the next request on a kept
 * connection, and closing with unread data resets the peer. The intake
 * handed the connection over with the whole request already buffered, so
 * this never waits. */
static void drain_input(FCGX_Request *rq)
{
	char sink[4096];

	while (FCGX_GetStr(sink, sizeof sink, rq->in) > 0)
		;
}

/* libfcgi's FCGX_FPrintF has its own, older printf: format here instead */
int cgd_answer_head(const struct cg_response *res, struct cg_buf *head)
{
	int rc = cg_buf_printf(head, "Status: %s\r\n", cg_status_line(res->status)) ||
	         (res->content_type && cg_buf_printf(head, "Content-Type: %s\r\n", res->content_type)) ||
	         (res->no_store && cg_buf_adds(head, "Cache-Control: no-store\r\n")) ||
	         (res->revalidate && cg_buf_printf(head, "Cache-Control: no-cache\r\nETag: %s\r\n", res->etag)) ||
	         (res->retry_after && cg_buf_printf(head, "Retry-After: %d\r\n", res->retry_after)) ||
	         (res->allow[0] && cg_buf_printf(head, "Allow: %s\r\n", res->allow)) ||
	         (res->csp_header && res->csp_value &&
	          cg_buf_printf(head, "%s: %s\r\n", res->csp_header, res->csp_value));

	for (int i = 0; i < res->n_cookies && !rc; i++)
		rc = cg_buf_printf(head, "Set-Cookie: %s\r\n", res->set_cookie[i]);
	if (rc || cg_buf_printf(head, "Content-Length: %zu\r\n\r\n", res->body.len))
		return CG_ERR_TOO_LONG;
	return CG_OK;
}

static void write_response(FCGX_Request *rq, int head_only, const struct cg_response *res)
{
	struct cg_buf head;

	cg_buf_init(&head, 4096 + CG_CSP_MAX); /* a policy (csp.h) and the rest */
	if (cgd_answer_head(res, &head) == CG_OK)
		FCGX_PutStr(head.p, (int)head.len, rq->out);
	else
		FCGX_PutS("Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", rq->out);
	cg_buf_free(&head);
	if (res->body.len && !head_only)
		FCGX_PutStr(res->body.p, (int)res->body.len, rq->out);
}

/* Sends the answer and ends the request: the connection goes back to the
 * intake when nginx keeps it, else it is closed at once (the input was read
 * to its end, so libfcgi's lingering close — shutdown and wait for the
 * peer's EOF, which would hold this thread — is skipped: FCGX_Detach). */
static void finish(struct inflight *f)
{
	struct daemon *d = f->d;

	cgd_count_request(d, f->res.route, f->res.status);
	write_response(&f->rq, f->head, &f->res);
	FCGX_Detach(&f->rq);
	FCGX_Finish_r(&f->rq);
	cg_intake_done(f->conn, f->rq.ipcFd); /* -1 when libfcgi closed it */
	f->rq.ipcFd = -1;
	FCGX_Free(&f->rq, 0);
	if (f->cost)
		atomic_fetch_sub(&d->inflight_bytes, f->cost);
	cg_response_free(&f->res);
	free(f);
}

/* The storage port's completion, on its writer thread: the plan is durable
 * (or not), the answer goes now. */
void cgd_wake_forwarder(struct daemon *d)
{
	pthread_mutex_lock(&d->fwd_mu);
	if (d->forwarder)
		cg_forwarder_wake(d->forwarder);
	pthread_mutex_unlock(&d->fwd_mu);
}

static void committed(void *arg, int status)
{
	struct inflight *f = arg;

	if (status != CG_OK)
		cg_response_store_failed(&f->res);
	else if (f->res.plan.nrows)
		cgd_wake_forwarder(f->d);
	finish(f);
}

/* What this request holds while it waits: its own object, libfcgi's
 * buffers and params, the answer planned. */
static size_t cost_of(const struct inflight *f)
{
	size_t n = sizeof *f + FCGX_BUFFERS + f->res.body.len;

	for (char **e = f->rq.envp; e && *e; e++)
		n += strlen(*e) + 1 + sizeof *e;
	for (size_t i = 0; i < f->res.plan.nrows; i++)
		n += f->res.plan.payloads[i].len;
	return n;
}

/* Over the cap: nothing is stored, the visitor is asked to come back. */
static int admit(struct daemon *d, struct inflight *f)
{
	size_t cost = cost_of(f);

	if (atomic_fetch_add(&d->inflight_bytes, cost) + cost > (size_t)d->cfg.max_inflight_bytes) {
		int route = f->res.route;
		atomic_fetch_sub(&d->inflight_bytes, cost);
		atomic_fetch_add(&d->busy_refusals, 1);
		cg_response_free(&f->res);
		cg_response_init(&f->res);
		f->res.route = route;
		cg_response_error(&f->res, CG_ANS_BUSY, "too many requests are waiting to be stored; try again");
		return 0;
	}
	f->cost = cost;
	return 1;
}

static void submit(struct daemon *d, struct inflight *f)
{
	const struct cg_plan *p = &f->res.plan;

	f->batch = (struct cg_store_batch){.event = p->has_event ? &f->res.plan.event : NULL,
	                                   .rows = p->rows, .nrows = p->nrows};
	if (!admit(d, f)) {
		finish(f);
		return;
	}
	if (d->store.submit(d->store.ctx, &f->batch, committed, f) != CG_OK)
		committed(f, CG_ERR_STORAGE); /* stopping: nothing was queued */
}

/* busy: the read threads' queue is full (PostgreSQL): the request is read
 * to its end and answered 503 busy without touching storage */
static void serve(struct worker *w, struct inflight *f, int busy)
{
	struct cg_ops ops;
	const char *cookie_lines[MAX_COOKIE_LINES];
	struct cg_request req;
	char path[1024];

	cgd_ops_init(w, &ops);
	read_params(w->d, &f->rq, &req, path, cookie_lines);
	read_body(w, &f->rq, &req);
	drain_input(&f->rq);
	f->head = req.method && strcmp(req.method, "HEAD") == 0;
	if (busy) {
		atomic_fetch_add(&w->d->busy_refusals, 1);
		cg_response_error(&f->res, CG_ANS_BUSY, "too many requests are waiting for the database; try again");
		finish(f);
		return;
	}
	cg_handle(&w->d->cfg, &ops, &req, &f->res);
	if (cg_response_needs_store(&f->res))
		submit(w->d, f); /* answered from the writer once durable */
	else
		finish(f);
}

/* A connection whose whole request is already in the socket buffer, so
 * libfcgi's reads never wait on a slow peer. The request object is given
 * the open connection (ipcFd, keepConnection = 1) and, as its listening
 * socket, one that can never have a connection: libfcgi goes on to
 * accept() when a read fails, and must not serve a connection the intake
 * did not vet. */
void cgd_serve_conn(struct worker *w, struct cg_conn *conn, int fd, int busy)
{
	struct inflight *f = calloc(1, sizeof *f);

	if (!f) {
		close(fd);
		cg_intake_done(conn, -1);
		return;
	}
	f->d = w->d;
	f->conn = conn;
	cg_response_init(&f->res);
	FCGX_InitRequest(&f->rq, w->d->no_accept_fd, 0);
	f->rq.ipcFd = fd;
	f->rq.keepConnection = 1;
	if (FCGX_Accept_r(&f->rq) < 0) { /* libfcgi has closed the connection */
		FCGX_Free(&f->rq, 1);
		cg_response_free(&f->res);
		free(f);
		cg_intake_done(conn, -1);
		return;
	}
	serve(w, f, busy);
}
