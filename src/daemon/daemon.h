/* consentgated's private parts: the daemon's state, shared by
 * consentgated.c (start-up, threads, signals), serve.c (FastCGI glue, the
 * request pipeline), ops.c (the handler's services), pool.c (the read
 * connections) and metrics.c (Prometheus text). */
#ifndef CONSENTGATE_DAEMON_H
#define CONSENTGATE_DAEMON_H

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>

#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/decision.h"
#include "consentgate/forwarder.h"
#include "consentgate/geo.h"
#include "consentgate/handler.h"
#include "consentgate/intake.h"
#include "consentgate/quota.h"
#include "consentgate/startup.h"
#include "consentgate/storage.h"

/* requests_total{route,status}: fixed tables (metrics.c), lock-free counters */
#define CGD_NROUTES CG_NROUTES
#define CGD_NSTATUSES 12

/* Read connections: a query borrows one for its duration. SQLite: one per
 * worker (the loops read themselves); PostgreSQL: READERS_MAX, one per read
 * thread (readq.c). */
#define READERS_MAX 8
#define CGD_BUILD_CACHE 16

struct reader_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cg_store_reader *free[READERS_MAX];
	int nfree, n;
};

struct worker;

/* leaks.c: leak reports counted in memory until written */
#define CGD_LEAK_ROWS 512     /* distinct rows between two writes; past it a report is dropped */
#define CGD_LEAK_HOSTS 100    /* hosts of no vendor kept a day */
struct cgd_leaks {
	pthread_mutex_t mu;
	struct cg_leak_row rows[CGD_LEAK_ROWS];
	size_t n;
	char hosts_day[11];
	char hosts[CGD_LEAK_HOSTS][CG_LEAK_HOST_MAX + 1];
	int nhosts;
	unsigned long long dropped;
	atomic_uint_fast64_t reports[CG_MAX_VENDORS + 1]; /* by vendor index; the last: unknown */
};

/* PostgreSQL: requests go from the loops to a few read threads, one per
 * read connection, through a bounded queue (readq.c) */
#define READQ_CAP 1024

struct read_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct {
		struct cg_conn *conn;
		int fd;
	} q[READQ_CAP];
	int head, n, stop, nthreads, nworkers;
	pthread_t threads[READERS_MAX];
	struct worker *workers;  /* one per thread */
};

struct daemon {
	struct cg_config cfg;
	struct cg_csp csp;        /* [csp]'s policies, built once (csp.h) */
	struct cgd_leaks leaks;
	struct reader_pool readers;
	struct read_queue readq;
	struct cg_store_port store;
	struct cg_geo *geo;
	struct cg_listener listener;
	struct cg_intake *intake;
	struct cg_buf too_large;  /* the intake's answer to a request over its limit */
	int no_accept_fd;   /* what libfcgi may "accept" on: never a connection */
	struct cg_forwarder *forwarder;  /* under fwd_mu once threads run */
	pthread_mutex_t fwd_mu;          /* the writer wakes it while shutdown stops it */
	atomic_int stopping;
	atomic_uint_fast64_t requests[CGD_NROUTES][CGD_NSTATUSES];
	atomic_uint_fast64_t decisions[CG_MAX_DESTINATIONS][CG_NDECISIONS];
	/* full client_ids: a stable key from the database; minimised ones: a
	 * salt that lives in memory only and is replaced every UTC day */
	pthread_mutex_t salt_mu;
	uint8_t client_key[CG_KEY_BYTES];
	uint8_t day_salt[CG_KEY_BYTES];
	int64_t salt_day;
	/* [limits] for /collect: byte budgets per visitor and per client
	 * prefix, and the number of pending outbox rows (counted at most once a
	 * second, plus what was admitted since); erasure notices have their
	 * own count and bound, and the notices refused past it */
	pthread_mutex_t admit_mu;
	struct cg_quota visitors, prefixes;
	uint8_t quota_key[crypto_shorthash_KEYBYTES];
	int64_t pending_at_ms;
	long long pending_rows, pending_notices;
	atomic_uint_fast64_t refused[CG_NADMIT];
	atomic_uint_fast64_t notices_refused;
	/* requests whose answer waits for a commit: their bytes, capped by
	 * [server] max_inflight_bytes (serve.c), and the refusals past it */
	atomic_size_t inflight_bytes;
	atomic_uint_fast64_t busy_refusals;
	/* proof.c: the instance's signing key and the head-signing thread */
	struct cg_signer signer;
	pthread_t proof_thread;
	int proof_running;
	atomic_int proof_stop;
	pthread_mutex_t proof_mu;
	pthread_cond_t proof_wake;
	/* acked.c: the last row acknowledged, kept by the store up to date
	 * and saved to the state directory by a thread of its own */
	struct cg_acked acked;
	char acked_dir[CG_CFG_STR + 32];
	int acked_dfd, acked_running, acked_stop;
	int64_t acked_saved;
	pthread_t acked_thread;
	pthread_mutex_t acked_mu;
	pthread_cond_t acked_wake;
	/* shown.c: this instance's banner build and notice ("" when none), and
	 * the status of build ids choices named */
	char build[33], notice[65];
	pthread_mutex_t builds_mu;
	struct {
		char id[65];              /* a build's or a vendor list's */
		int status;
		char notice[65];          /* a retired build's: the notice of its time */
		int64_t at_ms;
	} builds[CGD_BUILD_CACHE];
};

/* what one intake loop needs to serve a request */
struct worker {
	struct daemon *d;
	uint8_t random[1024];      /* ops.c: unused random bytes, from the end */
	size_t random_left;
	char body[CG_COLLECT_BODY_MAX + 1];
};

/* wakes the forwarder for rows just committed (from the writer's thread,
 * safe while the daemon stops it) */
void cgd_wake_forwarder(struct daemon *d);

/* proof.c: loads (or creates) the signing key, registers its public key,
 * starts the head-signing thread; stop joins it and wipes the key */
int cgd_proof_start(struct daemon *d);
void cgd_proof_stop(struct daemon *d);
/* acked.c: loads the last acknowledged row, has the store check and keep
 * it (a database that lacks it refuses the start), saves it; stop (after
 * the store closed) saves the final one */
int cgd_acked_start(struct daemon *d);
void cgd_acked_stop(struct daemon *d);

/* shown.c: registers this instance's banner build and notice; the status
 * of a build id (enum cg_build_status) */
int cgd_shown_start(struct daemon *d);
int cgd_build_status(struct daemon *d, const char *build, char notice_then[65]);
/* the status of a vendor list id (enum cg_build_status) */
int cgd_vendors_status(struct daemon *d, const char *id);

/* ops.c: the handler's services over the real handles */
void cgd_ops_init(struct worker *w, struct cg_ops *ops);

/* serve.c: an answer's status and header lines, through the blank line */
int cgd_answer_head(const struct cg_response *res, struct cg_buf *head);

/* serve.c: serves one connection on this thread (busy: answer 503 busy);
 * requests whose answer waits for a commit are answered from the store's
 * completion callback */
void cgd_serve_conn(struct worker *w, struct cg_conn *conn, int fd, int busy);

/* readq.c: the intake's serve callback (arg: the workers, one per loop),
 * which on PostgreSQL queues for the read threads — never blocking: past
 * READQ_CAP the request is answered 503 busy at once */
void cgd_serve(void *arg, int loop, struct cg_conn *conn, int fd);
int cgd_readq_start(struct daemon *d, int n);
/* serves what is queued, then joins the threads */
void cgd_readq_stop(struct daemon *d);

/* pool.c: a read connection for the duration of one query */
int cgd_pool_open(struct daemon *d, int n);
void cgd_pool_close(struct daemon *d);
struct cg_store_reader *cgd_borrow(struct daemon *d);
void cgd_give_back(struct daemon *d, struct cg_store_reader *r);

/* leaks.c: counts a report's leaks; writes them (the proof thread, once a
 * minute, and at the end); the metric */
void cgd_leaks_count(struct daemon *d, const struct cg_leak *l, size_t n, int64_t now_ms);
void cgd_leaks_flush(struct daemon *d);
int cgd_leaks_metrics(struct daemon *d, struct cg_buf *out);

/* metrics.c */
void cgd_count_request(struct daemon *d, int route, int status);
int cgd_metrics(struct daemon *d, struct cg_buf *out);

#endif
