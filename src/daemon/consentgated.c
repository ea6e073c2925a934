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
#include "consentgate/storage.h"
#include "daemon.h"

/* ---- cg_ops over the real handles ---------------------------------------- */

static int op_metrics(void *ctx, struct cg_buf *out)
{
	return cgd_metrics(((struct worker *)ctx)->d, out);
}

static int op_country(void *ctx, const struct cg_ip *ip, char cc[3])
{
	struct worker *w = ctx;

	cc[0] = '\0';
	return w->d->geo ? cg_geo_country(w->d->geo, ip, cc) : CG_ERR_NOT_FOUND;
}

static int op_load_state(void *ctx, const char *subject, struct cg_state *st)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? d->store.load_state(r, subject, st) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

/* Both wait for their group commit: the answer must not go before the row
 * is durable. (The port's submit is asynchronous; these workers block.) */
static int op_commit(void *ctx, struct cg_event *ev)
{
	struct worker *w = ctx;
	struct cg_store_batch b = {.event = ev};

	return cg_store_submit_wait(&w->d->store, &b);
}

static int op_outbox(void *ctx, const struct cg_outbox_row *rows, size_t n)
{
	struct worker *w = ctx;
	struct cg_store_batch b = {.rows = rows, .nrows = n};
	int rc = cg_store_submit_wait(&w->d->store, &b);

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
		/* counted outside the lock (a database round trip); one request
		 * a second does it, the others use the last count */
		long long n;
		struct cg_store_reader *r;
		d->pending_at_ms = now_ms;
		pthread_mutex_unlock(&d->admit_mu);
		r = cgd_borrow(d);
		rv = r && d->store.outbox_pending(r, &n) == CG_OK;
		cgd_give_back(d, r);
		pthread_mutex_lock(&d->admit_mu);
		if (rv)
			d->pending_rows = n;
		rv = 0;
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
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? cg_store_subject_events(&d->store, r, subject, evs, n) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static int op_report(void *ctx, int period, const char *since_day, struct cg_report *out)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? d->store.report(r, period, since_day, out) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
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

/* libfcgi's FCGX_FPrintF has its own, older printf: format here instead */
static void write_response(FCGX_Request *rq, const struct cg_request *req, const struct cg_response *res)
{
	struct cg_buf head;

	cg_buf_init(&head, 4096);
	cg_buf_printf(&head, "Status: %s\r\n", cg_status_line(res->status));
	if (res->content_type)
		cg_buf_printf(&head, "Content-Type: %s\r\n", res->content_type);
	if (res->no_store)
		cg_buf_adds(&head, "Cache-Control: no-store\r\n");
	if (res->retry_after)
		cg_buf_printf(&head, "Retry-After: %d\r\n", res->retry_after);
	if (res->allow[0])
		cg_buf_printf(&head, "Allow: %s\r\n", res->allow);
	for (int i = 0; i < res->n_cookies; i++)
		cg_buf_printf(&head, "Set-Cookie: %s\r\n", res->set_cookie[i]);
	cg_buf_printf(&head, "Content-Length: %zu\r\n\r\n", res->body.len);
	FCGX_PutStr(head.p, (int)head.len, rq->out);
	cg_buf_free(&head);
	if (res->body.len && !(req->method && strcmp(req->method, "HEAD") == 0))
		FCGX_PutStr(res->body.p, (int)res->body.len, rq->out);
}

static void serve(struct worker *w, FCGX_Request *rq)
{
	struct daemon *d = w->d;
	struct cg_ops ops = {w, op_country, op_load_state, op_commit, op_random, op_outbox,
	                     op_keys, op_decided, op_subject_events, op_report, op_metrics, op_admit};
	const char *cookie_lines[MAX_COOKIE_LINES];
	struct cg_request req;
	struct cg_response res;
	char path[1024];

	read_params(d, rq, &req, path, cookie_lines);
	read_body(w, rq, &req);
	cg_response_init(&res);
	cg_handle(&d->cfg, &ops, &req, &res);
	cgd_count_request(d, res.route ? res.route : "other", res.status);
	write_response(rq, &req, &res);
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

/* -c FILE [-t]: 0 to go on, else the exit status (done, or a usage error) */
static int parse_args(int argc, char **argv, const char **cfg_path, int *test_only, int *exit_rc)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': *cfg_path = optarg; break;
		case 't': *test_only = 1; break;
		case 'h': usage(stdout); *exit_rc = 0; return 1;
		case 'V': printf("consentgated %s\n", CONSENTGATE_VERSION); *exit_rc = 0; return 1;
		default: usage(stderr); *exit_rc = 2; return 1;
		}
	}
	if (!*cfg_path || optind != argc) {
		usage(stderr);
		*exit_rc = 2;
		return 1;
	}
	return 0;
}

/* The socket first: a second instance stops there, before it touches the
 * database or anything else of the first one's. Then the country data, the
 * store, the keys and limits, the forwarder, the read pool. */
static int open_handles(struct daemon *d, const char *cfg_path)
{
	char err[512];

	if (cg_startup_listen(&d->cfg, cfg_path, &d->listener, err, sizeof err) != CG_OK) {
		cg_error("%s", err);
		return -1;
	}
	if (d->cfg.geo_database[0] &&
	    cg_geo_open(d->cfg.geo_database, d->cfg.country_path, &d->geo) != CG_OK) {
		cg_error("%s: [geoip] database: cannot open %s", cfg_path, d->cfg.geo_database);
		return -1;
	}
	if (cg_store_port_open(&d->cfg, CG_STORE_DAEMON, &d->store, err, sizeof err) != CG_OK) {
		cg_error("%s: [storage] %s: %s", cfg_path, d->cfg.backend == CG_BACKEND_SQLITE ? "database" : "url", err);
		return -1;
	}
	if (d->store.client_key(d->store.ctx, d->client_key) != CG_OK) {
		cg_error("storage: no client_id key");
		return -1;
	}
	pthread_mutex_init(&d->salt_mu, NULL);
	d->salt_day = -1;
	pthread_mutex_init(&d->admit_mu, NULL);
	cg_quota_init(&d->visitors);
	cg_quota_init(&d->prefixes);
	randombytes_buf(d->quota_key, sizeof d->quota_key);
	d->pending_at_ms = -1000000;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    cg_forwarder_start(&d->cfg, &d->store, &d->forwarder) != CG_OK) {
		cg_error("cannot start the forwarder");
		return -1;
	}
	d->no_accept_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* never listens */
	if (FCGX_Init() != 0 || d->no_accept_fd < 0) {
		cg_error("FCGX_Init failed");
		return -1;
	}
	if (cgd_pool_open(d, d->cfg.workers) != CG_OK) {
		cg_error("cannot open read connections to %s", d->cfg.database);
		return -1;
	}
	return 0;
}

/* The intake and the workers; *started: how many workers run (to join). */
static int start_threads(struct daemon *d, struct worker *workers, int *started)
{
	struct cg_intake_opts io = {
		.listen_fd = d->listener.fd,
		.deadline_ms = d->cfg.request_timeout_ms,
		.max_pending = d->cfg.max_pending_connections,
		.max_idle = d->cfg.max_pending_connections,
		/* params (nginx sends a few kB) + the largest body + record framing */
		.max_request = CG_COLLECT_BODY_MAX + 64 * 1024,
	};

	if (cg_intake_start(&io, &d->intake) != CG_OK) {
		cg_error("cannot start the intake thread");
		return -1;
	}
	d->listener.fd = -1; /* the intake owns it now */
	for (int i = 0; i < d->cfg.workers; i++, (*started)++) {
		workers[i].d = d;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			cg_error("cannot start worker %d", i);
			cg_intake_stop(d->intake);
			return -1;
		}
	}
	return 0;
}

/* Until SIGTERM or SIGINT; SIGHUP reopens the country database. */
static void wait_for_signals(struct daemon *d, sigset_t *sigs)
{
	for (;;) {
		int sig = 0;
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (d->geo && cg_geo_reopen(d->geo) == CG_OK)
				cg_info("country database reopened");
			continue;
		}
		cg_info("signal %d: draining", sig);
		return;
	}
}

static void close_handles(struct daemon *d)
{
	cg_intake_free(d->intake);
	cg_startup_unlisten(&d->cfg, &d->listener);
	if (d->no_accept_fd >= 0)
		close(d->no_accept_fd);
	cgd_pool_close(d);
	cg_forwarder_stop(d->forwarder);
	cg_store_port_close(&d->store);
	sodium_memzero(d->client_key, sizeof d->client_key);
	sodium_memzero(d->day_salt, sizeof d->day_salt);
	cg_geo_free(d->geo);
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large: keep it off the stack */
	const char *cfg_path = NULL;
	struct worker *workers = NULL;
	char err[512];
	sigset_t sigs;
	int test_only = 0, rc = 1, started = 0;

	if (parse_args(argc, argv, &cfg_path, &test_only, &rc))
		return rc;
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

	workers = calloc((size_t)d.cfg.workers, sizeof *workers);
	if (!workers || open_handles(&d, cfg_path) != 0)
		goto out;
	if (start_threads(&d, workers, &started) != 0)
		goto out_join;
	cg_info("listening on %s with %d workers, policy %s", d.cfg.listen, d.cfg.workers,
	        d.cfg.policy_version);
	wait_for_signals(&d, &sigs);
	/* Stop accepting; requests that have arrived are still served, then
	 * the workers end and the writer drains. */
	cg_intake_stop(d.intake);
	rc = 0;
out_join:
	for (int i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
out:
	close_handles(&d);
	free(workers);
	if (rc == 0)
		cg_info("stopped");
	return rc;
}
