/* consentgated: the FastCGI daemon. This file only turns FastCGI params into
 * a struct cg_request and a struct cg_response back into bytes; it owns the
 * threads, the signals and the handles the core reaches through cg_ops. */
#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/cfgfile.h"
#include "consentgate/collect.h"
#include "consentgate/consent.h"
#include "consentgate/cookie.h"
#include "consentgate/decision.h"
#include "consentgate/forwarder.h"
#include "consentgate/err.h"
#include "consentgate/geo.h"
#include "consentgate/handler.h"
#include "consentgate/intake.h"
#include "consentgate/log.h"
#include "consentgate/quota.h"
#include "consentgate/startup.h"
#include "consentgate/store.h"

/* requests_total{route,status}: fixed tables, lock-free counters */
static const char *const metric_routes[] = {
	"state", "choice", "withdraw", "objection", "collect", "check", "export", "erase",
	"healthz", "metrics", "report", "other",
};
static const int metric_statuses[] = {200, 204, 400, 403, 404, 405, 409, 413, 415, 429, 500, 503};
#define STATUS_500_INDEX 10
#define NROUTES (sizeof metric_routes / sizeof metric_routes[0])
#define NSTATUSES (sizeof metric_statuses / sizeof metric_statuses[0])

/* Read connections shared by the workers: a query borrows one for its
 * duration. Far fewer than workers are needed (a read takes microseconds,
 * a worker mostly waits on the network or the writer), and each connection
 * costs memory. */
#define READERS_MAX 8

struct reader_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cg_store_reader *free[READERS_MAX];
	int nfree, n;
};

struct daemon {
	struct cg_config cfg;
	struct reader_pool readers;
	struct cg_store *store;
	struct cg_geo *geo;
	struct cg_listener listener;
	struct cg_intake *intake;
	int no_accept_fd;   /* what libfcgi may "accept" on: never a connection */
	struct cg_forwarder *forwarder;
	atomic_int stopping;
	atomic_uint_fast64_t requests[NROUTES][NSTATUSES];
	atomic_uint_fast64_t decisions[CG_MAX_DESTINATIONS][CG_NDECISIONS];
	/* full client_ids: a stable key from the database; minimised ones: a
	 * salt that lives in memory only and is replaced every UTC day */
	pthread_mutex_t salt_mu;
	uint8_t client_key[CG_KEY_BYTES];
	uint8_t day_salt[CG_KEY_BYTES];
	int64_t salt_day;
	/* [limits] for /collect: byte budgets per visitor and per client
	 * prefix, and the number of pending outbox rows (counted at most once a
	 * second, plus what was admitted since) */
	pthread_mutex_t admit_mu;
	struct cg_quota visitors, prefixes;
	uint8_t quota_key[crypto_shorthash_KEYBYTES];
	int64_t pending_at_ms;
	long long pending_rows;
	atomic_uint_fast64_t refused[CG_NADMIT];
};

struct worker {
	struct daemon *d;
	pthread_t thread;
	char body[CG_COLLECT_BODY_MAX + 1];
};

static struct cg_store_reader *borrow(struct daemon *d)
{
	struct cg_store_reader *r;

	pthread_mutex_lock(&d->readers.mu);
	while (!d->readers.nfree)
		pthread_cond_wait(&d->readers.cv, &d->readers.mu);
	r = d->readers.free[--d->readers.nfree];
	pthread_mutex_unlock(&d->readers.mu);
	return r;
}

static void give_back(struct daemon *d, struct cg_store_reader *r)
{
	pthread_mutex_lock(&d->readers.mu);
	d->readers.free[d->readers.nfree++] = r;
	pthread_cond_signal(&d->readers.cv);
	pthread_mutex_unlock(&d->readers.mu);
}

static int pool_open(struct daemon *d, int n)
{
	pthread_mutex_init(&d->readers.mu, NULL);
	pthread_cond_init(&d->readers.cv, NULL);
	for (d->readers.n = 0; d->readers.n < n && d->readers.n < READERS_MAX; d->readers.n++) {
		if (cg_store_reader_open(d->store, &d->readers.free[d->readers.n]) != CG_OK)
			return CG_ERR_STORAGE;
		d->readers.nfree = d->readers.n + 1;
	}
	return CG_OK;
}

static void pool_close(struct daemon *d)
{
	for (int i = 0; i < d->readers.nfree; i++)
		cg_store_reader_free(d->readers.free[i]);
	d->readers.nfree = 0;
}

/* ---- cg_ops over the real handles ---------------------------------------- */

static int op_country(void *ctx, const struct cg_ip *ip, char cc[3])
{
	struct worker *w = ctx;

	cc[0] = '\0';
	return w->d->geo ? cg_geo_country(w->d->geo, ip, cc) : CG_ERR_NOT_FOUND;
}

static int op_load_state(void *ctx, const char *subject, struct cg_state *st)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = borrow(d);
	int rc = cg_store_load_state(r, subject, st);

	give_back(d, r);
	return rc;
}

static int op_commit(void *ctx, struct cg_event *ev)
{
	struct worker *w = ctx;

	return cg_store_commit(w->d->store, ev);
}

static int op_outbox(void *ctx, const struct cg_outbox_row *rows, size_t n)
{
	struct worker *w = ctx;
	int rc = cg_store_add_outbox(w->d->store, rows, n);

	if (rc == CG_OK)
		cg_forwarder_wake(w->d->forwarder);
	return rc;
}

static int op_keys(void *ctx, int64_t now_ms, uint8_t key[32], uint8_t day_salt[32])
{
	struct daemon *d = ((struct worker *)ctx)->d;
	int64_t day = now_ms / CG_MS_PER_DAY;

	pthread_mutex_lock(&d->salt_mu);
	if (day != d->salt_day) {
		randombytes_buf(d->day_salt, sizeof d->day_salt);
		d->salt_day = day;
	}
	memcpy(key, d->client_key, CG_KEY_BYTES);
	memcpy(day_salt, d->day_salt, CG_KEY_BYTES);
	pthread_mutex_unlock(&d->salt_mu);
	return CG_OK;
}

static int op_admit(void *ctx, const char *subject, const char *prefix, size_t bytes, size_t rows,
                    int64_t now_ms, int *retry_s)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t vkey = 0, pkey;
	int why = CG_ADMIT_OK, rv = 0, rp = 0;

	pthread_mutex_lock(&d->admit_mu);
	if (now_ms - d->pending_at_ms >= 1000) {
		long long n;
		struct cg_store_reader *r = borrow(d);
		if (cg_store_outbox_pending(r, &n) == CG_OK) {
			d->pending_rows = n;
			d->pending_at_ms = now_ms;
		}
		give_back(d, r);
	}
	if (subject[0]) {
		crypto_shorthash(h, (const unsigned char *)subject, strlen(subject), d->quota_key);
		memcpy(&vkey, h, sizeof vkey);
	}
	crypto_shorthash(h, (const unsigned char *)prefix, strlen(prefix), d->quota_key);
	memcpy(&pkey, h, sizeof pkey);
	if (d->pending_rows + (long long)rows > d->cfg.outbox_max_rows) {
		why = CG_ADMIT_OUTBOX;
		*retry_s = 60;
	} else if (subject[0] && !cg_quota_fits(&d->visitors, vkey, now_ms, bytes,
	                                        (uint64_t)d->cfg.visitor_bytes_per_hour, 0, &rv)) {
		why = CG_ADMIT_VISITOR;
		*retry_s = rv;
	} else if (!cg_quota_fits(&d->prefixes, pkey, now_ms, bytes,
	                          (uint64_t)d->cfg.prefix_bytes_per_hour, 0, &rp)) {
		why = CG_ADMIT_PREFIX;
		*retry_s = rp;
	} else { /* both fit: count them in both */
		if (subject[0])
			cg_quota_fits(&d->visitors, vkey, now_ms, bytes, (uint64_t)d->cfg.visitor_bytes_per_hour, 1, NULL);
		cg_quota_fits(&d->prefixes, pkey, now_ms, bytes, (uint64_t)d->cfg.prefix_bytes_per_hour, 1, NULL);
		d->pending_rows += (long long)rows;
	}
	pthread_mutex_unlock(&d->admit_mu);
	if (why != CG_ADMIT_OK)
		atomic_fetch_add(&d->refused[why], 1);
	return why;
}

static void op_decided(void *ctx, int dest, int decision)
{
	struct daemon *d = ((struct worker *)ctx)->d;

	if (dest >= 0 && dest < CG_MAX_DESTINATIONS && decision >= 0 && decision < CG_NDECISIONS)
		atomic_fetch_add(&d->decisions[dest][decision], 1);
}

static int op_subject_events(void *ctx, const char *subject, struct cg_event **evs, size_t *n)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = borrow(d);
	int rc = cg_store_subject_events(r, subject, evs, n);

	give_back(d, r);
	return rc;
}

static int op_report(void *ctx, int period, const char *since_day, struct cg_report *out)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = borrow(d);
	int rc = cg_store_report(r, period, since_day, out);

	give_back(d, r);
	return rc;
}

static int op_random(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	for (size_t got = 0; got < n;) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0 && errno != EINTR)
			return CG_ERR_IO;
		if (r > 0)
			got += (size_t)r;
	}
	return CG_OK;
}

static int op_metrics(void *ctx, struct cg_buf *out)
{
	struct worker *w = ctx;
	struct daemon *d = w->d;
	struct cg_store_stats st;
	int rc = 0;

	rc |= cg_buf_adds(out, "# HELP consentgate_requests_total Requests by route and status.\n"
	                       "# TYPE consentgate_requests_total counter\n");
	for (size_t r = 0; r < NROUTES; r++)
		for (size_t s = 0; s < NSTATUSES; s++) {
			uint64_t v = atomic_load(&d->requests[r][s]);
			if (v)
				rc |= cg_buf_printf(out, "consentgate_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				                    metric_routes[r], metric_statuses[s], (unsigned long long)v);
		}
	rc |= cg_buf_adds(out, "# HELP consentgate_decisions_total Gatekeeper decisions by destination and result.\n"
	                       "# TYPE consentgate_decisions_total counter\n");
	for (int i = 0; i < d->cfg.n_dest; i++)
		for (int k = 0; k < CG_NDECISIONS; k++)
			rc |= cg_buf_printf(out, "consentgate_decisions_total{destination=\"%s\",result=\"%s\"} %llu\n",
			                    d->cfg.dest[i].name, cg_decision_name(k),
			                    (unsigned long long)atomic_load(&d->decisions[i][k]));
	{
		long long counts[CG_OB_NSTATES];
		struct cg_forwarder_stats fs;
		struct cg_store_reader *r = borrow(d);
		int orc = cg_store_outbox_counts(r, counts);
		give_back(d, r);
		if (orc == CG_OK) {
			rc |= cg_buf_adds(out, "# HELP consentgate_outbox_rows Outbox rows by state.\n"
			                       "# TYPE consentgate_outbox_rows gauge\n");
			for (int k = 0; k < CG_OB_NSTATES; k++)
				rc |= cg_buf_printf(out, "consentgate_outbox_rows{state=\"%s\"} %lld\n",
				                    cg_outbox_state_name(k), counts[k]);
		}
		cg_forwarder_stats(d->forwarder, &fs);
		rc |= cg_buf_printf(out,
			"# HELP consentgate_delivery_attempts_total HTTP requests to destinations.\n"
			"# TYPE consentgate_delivery_attempts_total counter\n"
			"consentgate_delivery_attempts_total %llu\n"
			"# HELP consentgate_delivery_rows_total Outbox rows by delivery outcome.\n"
			"# TYPE consentgate_delivery_rows_total counter\n"
			"consentgate_delivery_rows_total{outcome=\"delivered\"} %llu\n"
			"consentgate_delivery_rows_total{outcome=\"retried\"} %llu\n"
			"consentgate_delivery_rows_total{outcome=\"dead\"} %llu\n"
			"consentgate_delivery_rows_total{outcome=\"dropped\"} %llu\n"
			"# HELP consentgate_delivery_seconds_total Time spent in requests to destinations.\n"
			"# TYPE consentgate_delivery_seconds_total counter\n"
			"consentgate_delivery_seconds_total %.6f\n",
			(unsigned long long)fs.attempts, (unsigned long long)fs.delivered,
			(unsigned long long)fs.retried, (unsigned long long)fs.dead,
			(unsigned long long)fs.dropped, fs.latency_seconds);
	}
	rc |= cg_buf_printf(out,
		"# HELP consentgate_collect_refused_total /collect requests refused by a [limits] bound.\n"
		"# TYPE consentgate_collect_refused_total counter\n"
		"consentgate_collect_refused_total{bound=\"visitor\"} %llu\n"
		"consentgate_collect_refused_total{bound=\"prefix\"} %llu\n"
		"consentgate_collect_refused_total{bound=\"outbox\"} %llu\n",
		(unsigned long long)atomic_load(&d->refused[CG_ADMIT_VISITOR]),
		(unsigned long long)atomic_load(&d->refused[CG_ADMIT_PREFIX]),
		(unsigned long long)atomic_load(&d->refused[CG_ADMIT_OUTBOX]));
	{
		struct cg_intake_stats is;
		cg_intake_stats(d->intake, &is);
		rc |= cg_buf_printf(out,
			"# HELP consentgate_connections_total FastCGI connections by what became of them.\n"
			"# TYPE consentgate_connections_total counter\n"
			"consentgate_connections_total{outcome=\"accepted\"} %llu\n"
			"consentgate_connections_total{outcome=\"timed_out\"} %llu\n"
			"consentgate_connections_total{outcome=\"oversize\"} %llu\n"
			"consentgate_connections_total{outcome=\"invalid\"} %llu\n"
			"consentgate_connections_total{outcome=\"evicted\"} %llu\n"
			"# HELP consentgate_requests_received_total Requests that arrived whole and went to a worker.\n"
			"# TYPE consentgate_requests_received_total counter\n"
			"consentgate_requests_received_total %llu\n"
			"# HELP consentgate_connections_pending Connections whose request is still arriving.\n"
			"# TYPE consentgate_connections_pending gauge\n"
			"consentgate_connections_pending %d\n",
			(unsigned long long)is.accepted, (unsigned long long)is.timed_out,
			(unsigned long long)is.oversize, (unsigned long long)is.invalid,
			(unsigned long long)is.evicted, (unsigned long long)is.handed, is.pending);
	}
	cg_store_stats(d->store, &st);
	rc |= cg_buf_printf(out,
		"# HELP consentgate_writer_commits_total Group commits (transactions) by the writer.\n"
		"# TYPE consentgate_writer_commits_total counter\n"
		"consentgate_writer_commits_total %llu\n"
		"# HELP consentgate_writer_rows_total Rows committed.\n"
		"# TYPE consentgate_writer_rows_total counter\n"
		"consentgate_writer_rows_total %llu\n"
		"# HELP consentgate_writer_failures_total Failed group commits.\n"
		"# TYPE consentgate_writer_failures_total counter\n"
		"consentgate_writer_failures_total %llu\n"
		"# HELP consentgate_writer_batch_max Largest batch committed at once.\n"
		"# TYPE consentgate_writer_batch_max gauge\n"
		"consentgate_writer_batch_max %llu\n"
		"# HELP consentgate_writer_commit_seconds_total Time spent in group commits.\n"
		"# TYPE consentgate_writer_commit_seconds_total counter\n"
		"consentgate_writer_commit_seconds_total %.6f\n"
		"# HELP consentgate_checkpoints_total WAL checkpoints run.\n"
		"# TYPE consentgate_checkpoints_total counter\n"
		"consentgate_checkpoints_total %llu\n"
		"# HELP consentgate_wal_frames Frames in the WAL at the last checkpoint.\n"
		"# TYPE consentgate_wal_frames gauge\n"
		"consentgate_wal_frames %llu\n",
		(unsigned long long)st.commits, (unsigned long long)st.rows,
		(unsigned long long)st.failures, (unsigned long long)st.batch_max,
		st.commit_seconds_total, (unsigned long long)st.checkpoints,
		(unsigned long long)st.wal_frames);
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}

static void count_request(struct daemon *d, const char *route, int status)
{
	size_t r, s;

	for (r = 0; r < NROUTES - 1 && strcmp(metric_routes[r], route) != 0; r++)
		;
	for (s = 0; s < NSTATUSES && metric_statuses[s] != status; s++)
		;
	if (s == NSTATUSES)
		s = STATUS_500_INDEX;
	atomic_fetch_add(&d->requests[r][s], 1);
}

/* ---- one request ---------------------------------------------------------- */

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

static void serve(struct worker *w, FCGX_Request *rq)
{
	struct daemon *d = w->d;
	struct cg_ops ops = {w, op_country, op_load_state, op_commit, op_random, op_outbox,
	                     op_keys, op_decided, op_subject_events, op_report, op_metrics, op_admit};
	struct cg_request req;
	struct cg_response res;
	struct cg_buf head;
	const char *cl, *uri;
	char path[1024];
	const char *cookie_lines[MAX_COOKIE_LINES];
	int cookies = 0;

	memset(&req, 0, sizeof req);
	req.method = param(rq, "REQUEST_METHOD");
	uri = param(rq, "DOCUMENT_URI");
	if (!uri) {
		uri = param(rq, "REQUEST_URI");
		snprintf(path, sizeof path, "%.*s", uri ? (int)strcspn(uri, "?") : 0, uri ? uri : "");
		uri = path;
	}
	req.path = uri;
	req.query = param(rq, "QUERY_STRING");
	req.content_type = param(rq, "CONTENT_TYPE");
	/* nginx 1.22 passes each Cookie header line as its own param */
	for (char **e = rq->envp; e && *e && cookies < MAX_COOKIE_LINES; e++)
		if (strncmp(*e, "HTTP_COOKIE=", 12) == 0)
			cookie_lines[cookies++] = *e + 12;
	req.cookie = cg_cookie_pick(cookie_lines, (size_t)cookies, cg_config_id_cookie(&d->cfg),
	                            &req.cookie_dup);
	req.remote_addr = param(rq, "REMOTE_ADDR");
	req.sec_fetch_site = param(rq, "HTTP_SEC_FETCH_SITE");
	req.origin = param(rq, "HTTP_ORIGIN");
	req.sec_gpc = param(rq, "HTTP_SEC_GPC");
	req.dnt = param(rq, "HTTP_DNT");
	req.now_ms = wall_ms();

	/* libfcgi does not enforce CONTENT_LENGTH: read at most our cap */
	cl = param(rq, "CONTENT_LENGTH");
	if (cl && *cl && strspn(cl, "0123456789") != strlen(cl)) {
		req.body_bad_length = 1; /* "+96", " 96", "-1", "9e3": digits only */
	} else if (cl && *cl) {
		char *end = NULL;
		unsigned long long n;
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || *end || n > CG_COLLECT_BODY_MAX) {
			req.body_too_large = 1;
		} else if (n > 0) {
			int got = FCGX_GetStr(w->body, (int)n, rq->in);
			if (got < 0 || (unsigned long long)got != n)
				req.body_incomplete = 1;
			else {
				w->body[n] = '\0';
				req.body = w->body;
				req.body_len = (size_t)n;
			}
		}
	}

	cg_response_init(&res);
	cg_handle(&d->cfg, &ops, &req, &res);
	count_request(d, res.route ? res.route : "other", res.status);

	/* libfcgi's FCGX_FPrintF has its own, older printf: format here instead */
	cg_buf_init(&head, 4096);
	cg_buf_printf(&head, "Status: %s\r\n", cg_status_line(res.status));
	if (res.content_type)
		cg_buf_printf(&head, "Content-Type: %s\r\n", res.content_type);
	if (res.no_store)
		cg_buf_adds(&head, "Cache-Control: no-store\r\n");
	if (res.retry_after)
		cg_buf_printf(&head, "Retry-After: %d\r\n", res.retry_after);
	if (res.allow[0])
		cg_buf_printf(&head, "Allow: %s\r\n", res.allow);
	for (int i = 0; i < res.n_cookies; i++)
		cg_buf_printf(&head, "Set-Cookie: %s\r\n", res.set_cookie[i]);
	cg_buf_printf(&head, "Content-Length: %zu\r\n\r\n", res.body.len);
	FCGX_PutStr(head.p, (int)head.len, rq->out);
	cg_buf_free(&head);
	if (res.body.len && !(req.method && strcmp(req.method, "HEAD") == 0))
		FCGX_PutStr(res.body.p, (int)res.body.len, rq->out);
	cg_response_free(&res);
}

/* A worker serves connections the intake hands it, each with its whole
 * request already in the socket buffer, so libfcgi's reads never wait on a
 * slow peer. The request object is given the open connection (ipcFd,
 * keepConnection = 1) and, as its listening socket, one that can never
 * have a connection: libfcgi goes on to accept() when a read fails, and must
 * not serve a connection the intake did not vet. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	FCGX_Request rq;
	int fd;

	while ((fd = cg_intake_next(d->intake)) >= 0) {
		FCGX_InitRequest(&rq, d->no_accept_fd, 0);
		rq.ipcFd = fd;
		rq.keepConnection = 1;
		if (FCGX_Accept_r(&rq) < 0) { /* libfcgi has closed the connection */
			FCGX_Free(&rq, 1);
			continue;
		}
		serve(w, &rq);
		FCGX_Finish_r(&rq); /* closes unless nginx keeps the connection */
		if (rq.ipcFd >= 0) {
			cg_intake_keep(d->intake, rq.ipcFd);
			rq.ipcFd = -1;
		}
		FCGX_Free(&rq, 0);
	}
	return NULL;
}

/* ---- start-up ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: consentgated -c FILE [-t]\n"
	           "  -c FILE      configuration file (INI)\n"
	           "  -t           check the configuration and what start-up needs, then exit\n"
	           "  -h, --help   this text\n"
	           "  --version    the version\n"
	           "exit status: 0 ok, 1 configuration or start-up error, 2 usage\n");
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large: keep it off the stack */
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *cfg_path = NULL;
	struct worker *workers = NULL;
	char err[512];
	sigset_t sigs;
	int opt, test_only = 0, rc = 1, started = 0;

	while ((opt = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cfg_path = optarg; break;
		case 't': test_only = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("consentgated %s\n", CONSENTGATE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfg_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cg_config_load(cfg_path, &d.cfg, err, sizeof err) != CG_OK ||
	    cg_startup_check(&d.cfg, cfg_path, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentgated: %s\n", err);
		return 1;
	}
	if (test_only) {
		printf("consentgated: %s: configuration OK\n", cfg_path);
		return 0;
	}
	d.listener.fd = d.no_accept_fd = -1;
	if (sodium_init() < 0) {
		cg_error("libsodium cannot start");
		return 1;
	}
	/* Signals go to one thread (sigwait below); libfcgi's own handlers
	 * would only set a flag while threads stay blocked in accept(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the socket first: a second instance stops here, before it touches
	 * the database or anything else of the first one's */
	if (cg_startup_listen(&d.cfg, cfg_path, &d.listener, err, sizeof err) != CG_OK) {
		cg_error("%s", err);
		goto out;
	}
	if (d.cfg.geo_database[0] &&
	    cg_geo_open(d.cfg.geo_database, d.cfg.country_path, &d.geo) != CG_OK) {
		cg_error("%s: [geoip] database: cannot open %s", cfg_path, d.cfg.geo_database);
		goto out;
	}
	if (cg_store_open(&d.cfg, CG_STORE_DAEMON, &d.store, err, sizeof err) != CG_OK) {
		cg_error("%s: [storage] database: %s", cfg_path, err);
		goto out;
	}
	if (cg_store_client_key(d.store, d.client_key) != CG_OK) {
		cg_error("storage: no client_id key");
		goto out;
	}
	pthread_mutex_init(&d.salt_mu, NULL);
	d.salt_day = -1;
	pthread_mutex_init(&d.admit_mu, NULL);
	cg_quota_init(&d.visitors);
	cg_quota_init(&d.prefixes);
	randombytes_buf(d.quota_key, sizeof d.quota_key);
	d.pending_at_ms = -1000000;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    cg_forwarder_start(&d.cfg, d.store, &d.forwarder) != CG_OK) {
		cg_error("cannot start the forwarder");
		goto out;
	}
	d.no_accept_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* never listens */
	if (FCGX_Init() != 0 || d.no_accept_fd < 0) {
		cg_error("FCGX_Init failed");
		goto out;
	}
	workers = calloc((size_t)d.cfg.workers, sizeof *workers);
	if (!workers)
		goto out;
	if (pool_open(&d, d.cfg.workers) != CG_OK) {
		cg_error("cannot open read connections to %s", d.cfg.database);
		goto out;
	}
	{
		struct cg_intake_opts io = {
			.listen_fd = d.listener.fd,
			.deadline_ms = d.cfg.request_timeout_ms,
			.max_pending = d.cfg.max_pending_connections,
			.max_idle = d.cfg.max_pending_connections,
			/* params (nginx sends a few kB) + the largest body + record framing */
			.max_request = CG_COLLECT_BODY_MAX + 64 * 1024,
		};
		if (cg_intake_start(&io, &d.intake) != CG_OK) {
			cg_error("cannot start the intake thread");
			goto out;
		}
		d.listener.fd = -1; /* the intake owns it now */
	}
	for (int i = 0; i < d.cfg.workers; i++) {
		workers[i].d = &d;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			cg_error("cannot start worker %d", i);
			cg_intake_stop(d.intake);
			goto out_join;
		}
		started++;
	}
	cg_info("listening on %s with %d workers, policy %s", d.cfg.listen, d.cfg.workers,
	        d.cfg.policy_version);

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (d.geo && cg_geo_reopen(d.geo) == CG_OK)
				cg_info("country database reopened");
			continue;
		}
		cg_info("signal %d: draining", sig);
		break;
	}
	/* Stop accepting; requests that have arrived are still served, then
	 * the workers end and the writer drains. */
	cg_intake_stop(d.intake);
	rc = 0;
out_join:
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
out:
	cg_intake_free(d.intake);
	cg_startup_unlisten(&d.cfg, &d.listener);
	if (d.no_accept_fd >= 0)
		close(d.no_accept_fd);
	free(workers);
	pool_close(&d);
	cg_forwarder_stop(d.forwarder);
	cg_store_close(d.store);
	sodium_memzero(d.client_key, sizeof d.client_key);
	sodium_memzero(d.day_salt, sizeof d.day_salt);
	cg_geo_free(d.geo);
	if (rc == 0)
		cg_info("stopped");
	return rc;
}
