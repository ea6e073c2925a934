/* consentgated: the FastCGI daemon's start-up, threads and signals. The
 * request pipeline is serve.c, the handler's services ops.c. */
#include <curl/curl.h>
#include <errno.h>
#include <execinfo.h>
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

/* ---- start-up ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: consentgated -c FILE [-t [-v]]\n"
	           "  -c FILE      configuration file (INI)\n"
	           "  -t           check the configuration and what start-up needs, then exit\n"
	           "  -v           with -t: first print the configuration in effect, defaults included\n"
	           "  -h, --help   this text\n"
	           "  --version    the version\n"
	           "exit status: 0 ok, 1 configuration or start-up error, 2 usage\n");
}

/* -c FILE [-t [-v]]: 0 to go on, else the exit status (done, or a usage
 * error). *test_only: 1 for -t, 2 for -t -v. */
static int parse_args(int argc, char **argv, const char **cfg_path, int *test_only, int *exit_rc)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt, verbose = 0;

	while ((opt = getopt_long(argc, argv, "c:thv", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': *cfg_path = optarg; break;
		case 't': *test_only = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); *exit_rc = 0; return 1;
		case 'V': printf("consentgated %s\n", CONSENTGATE_VERSION); *exit_rc = 0; return 1;
		default: usage(stderr); *exit_rc = 2; return 1;
		}
	}
	if (!*cfg_path || optind != argc || (verbose && !*test_only)) {
		usage(stderr);
		*exit_rc = 2;
		return 1;
	}
	*test_only += verbose;
	return 0;
}

/* -t -v: what the daemon would run with, printed before the start-up
 * checks so that it shows even when one of them fails (cg_config_write). */
static int print_config(const struct cg_config *cfg)
{
	struct cg_buf out;
	int rc;

	cg_buf_init(&out, 1024 * 1024);
	rc = cg_config_write(cfg, &out);
	if (rc == CG_OK && fwrite(out.p, 1, out.len, stdout) != out.len)
		rc = CG_ERR_IO;
	cg_buf_free(&out);
	return rc;
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
	if (cgd_acked_start(d) != CG_OK)
		return -1;
	if (d->store.client_key(d->store.ctx, d->client_key) != CG_OK) {
		cg_error("storage: no client_id key");
		return -1;
	}
	if (cgd_proof_start(d) != CG_OK || cgd_shown_start(d) != CG_OK)
		return -1;
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
	/* SQLite: the loops read; PostgreSQL: one read thread per connection */
	if (cgd_pool_open(d, d->cfg.backend == CG_BACKEND_POSTGRESQL ? READERS_MAX : d->cfg.workers) != CG_OK) {
		cg_error("cannot open read connections to %s", d->cfg.database);
		return -1;
	}
	if (d->cfg.backend == CG_BACKEND_POSTGRESQL && cgd_readq_start(d, d->readers.n) != CG_OK) {
		cg_error("cannot start the read threads");
		return -1;
	}
	return 0;
}

/* What the intake answers to a request over its limit (it never reaches
 * the handler): the API's 413 too_large. */
static int refusal(struct cg_buf *out, size_t max_request)
{
	struct cg_response res;
	char detail[64];
	int rc;

	cg_buf_init(out, CG_INTAKE_ANSWER_MAX - 1);
	cg_response_init(&res);
	snprintf(detail, sizeof detail, "the request is larger than %zu bytes", max_request);
	cg_response_error(&res, CG_ANS_TOO_LARGE, detail);
	rc = cgd_answer_head(&res, out) || cg_buf_add(out, res.body.p, res.body.len);
	cg_response_free(&res);
	return rc;
}

/* The intake's loops, one per `[server] workers`, each serving with its
 * own struct worker. */
static int start_intake(struct daemon *d, struct worker *workers)
{
	struct cg_intake_opts io = {
		.listen_fd = d->listener.fd,
		.loops = d->cfg.workers,
		.deadline_ms = d->cfg.request_timeout_ms,
		/* the answers a commit releases are small; a peer that does not
		 * read them must not hold the writer longer than this */
		.send_timeout_ms = 100,
		.max_pending = d->cfg.max_pending_connections,
		.max_idle = d->cfg.max_idle_connections,
		/* params (nginx sends a few kB) + the largest body + record framing */
		.max_request = CG_COLLECT_BODY_MAX + 64 * 1024,
		/* a refused request is read to its end (nginx's body limits are
		 * 8 kB and 64 kB, but a site may raise them) up to this much */
		.max_discard = 8 * 1024 * 1024,
		.serve = cgd_serve,
		.arg = workers,
	};

	for (int i = 0; i < d->cfg.workers; i++)
		workers[i].d = d;
	if (refusal(&d->too_large, io.max_request) != 0) {
		cg_error("cannot build the intake's 413 answer");
		return -1;
	}
	io.too_large = d->too_large.p;
	d->listener.fd = -1; /* the intake owns it now, even if it fails */
	/* d->intake is set before a loop runs, and stays set if the start
	 * fails: close_handles frees it after everything that reads it */
	if (cg_intake_start(&io, &d->intake) != CG_OK) {
		cg_error("cannot start the intake");
		return -1;
	}
	return 0;
}

/* A crash leaves its stack in the log (the journal): a bug report then
 * says where, not only "status=11/SEGV" (addresses as binary+offset, for
 * addr2line). The signal is then raised again with its default action, so
 * a core is dumped where enabled and systemd restarts the service.
 * backtrace() runs once at start-up, so that the handler does not load
 * libgcc (and allocate) inside the signal. Not under AddressSanitizer,
 * which reports crashes itself. */
#ifndef __SANITIZE_ADDRESS__
static void on_fatal(int sig)
{
	static const char head[] = "consentgated: fatal signal ";
	char num[3] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), '\n'};
	size_t skip = sig < 10; /* no leading zero */
	void *frames[64];
	int n = backtrace(frames, 64);

	if (write(STDERR_FILENO, head, sizeof head - 1) < 0 || write(STDERR_FILENO, num + skip, 3 - skip) < 0)
		n = 0;
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	raise(sig); /* SA_RESETHAND: the default action, once this returns */
}
#endif

static void catch_fatal(void)
{
#ifndef __SANITIZE_ADDRESS__
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa;
	void *warm[1];

	backtrace(warm, 1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
#endif
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

/* In dependency order: the read threads (answering what the loops queued)
 * and connections, the forwarder, then the store, whose close drains the
 * writer's queue — answering the requests still waiting for a commit,
 * which give their connections back to the (stopped) intake — and only
 * then the intake. */
static void close_handles(struct daemon *d)
{
	struct cg_forwarder *fwd;

	cgd_readq_stop(d); /* what the loops queued is answered first */
	cgd_proof_stop(d);
	cgd_pool_close(d);
	pthread_mutex_lock(&d->fwd_mu);
	fwd = d->forwarder;
	d->forwarder = NULL; /* the writer's callbacks no longer wake it */
	pthread_mutex_unlock(&d->fwd_mu);
	cg_forwarder_stop(fwd);
	cg_store_port_close(&d->store);
	cgd_acked_stop(d);
	cg_intake_free(d->intake);
	cg_buf_free(&d->too_large);
	cg_startup_unlisten(&d->cfg, &d->listener);
	if (d->no_accept_fd >= 0)
		close(d->no_accept_fd);
	sodium_memzero(d->client_key, sizeof d->client_key);
	sodium_memzero(d->day_salt, sizeof d->day_salt);
	cg_geo_free(d->geo);
	cg_csp_free(&d->csp);
}

/* The file, then (-t -v) what is in effect, then what start-up needs. */
static int load_config(struct cg_config *cfg, const char *cfg_path, int verbose)
{
	char err[512];

	if (cg_config_load(cfg_path, cfg, err, sizeof err) != CG_OK)
		goto out_fail;
	if (verbose && print_config(cfg) != CG_OK) {
		snprintf(err, sizeof err, "-v: the configuration could not be written out");
		goto out_fail;
	}
	if (cg_startup_check(cfg, cfg_path, err, sizeof err) != CG_OK)
		goto out_fail;
	cg_startup_warn(cfg, cfg_path);
	return CG_OK;
out_fail:
	fprintf(stderr, "consentgated: %s\n", err);
	return CG_ERR_CONFIG;
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large: keep it off the stack */
	const char *cfg_path = NULL;
	struct worker *workers = NULL;
	sigset_t sigs;
	int test_only = 0, rc = 1;

	if (parse_args(argc, argv, &cfg_path, &test_only, &rc))
		return rc;
	if (sodium_init() < 0) { /* -t loads the signing key too */
		fprintf(stderr, "consentgated: libsodium cannot start\n");
		return 1;
	}
	if (load_config(&d.cfg, cfg_path, test_only == 2) != CG_OK)
		return 1;
	if (test_only) {
		printf("consentgated: %s: configuration OK\n", cfg_path);
		return 0;
	}
	d.listener.fd = d.no_accept_fd = d.acked_dfd = -1;
	pthread_mutex_init(&d.fwd_mu, NULL);
	pthread_mutex_init(&d.leaks.mu, NULL);
	/* Signals go to one thread (sigwait below); libfcgi's own handlers
	 * would only set a flag while threads stay blocked in accept(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	catch_fatal();

	workers = calloc((size_t)d.cfg.workers, sizeof *workers);
	/* every policy of [csp] once (load_config checked they fit) */
	if (!workers || cg_csp_build(&d.cfg, &d.csp, NULL, 0) != CG_OK || open_handles(&d, cfg_path) != 0)
		goto out;
	if (start_intake(&d, workers) != 0)
		goto out;
	cg_info("listening on %s with %d workers, policy %s", d.cfg.listen, d.cfg.workers,
	        d.cfg.policy_version);
	wait_for_signals(&d, &sigs);
	/* Stop accepting and serving; what waits for a commit is answered
	 * when close_handles drains the writer. */
	cg_intake_stop(d.intake);
	rc = 0;
out:
	close_handles(&d);
	if (workers) /* unused random bytes */
		sodium_memzero(workers, (size_t)d.cfg.workers * sizeof *workers);
	free(workers);
	if (rc == 0)
		cg_info("stopped");
	return rc;
}
