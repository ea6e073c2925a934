/* The request handler: a FastCGI-free, pure function from a request (and the
 * facts the I/O shell fetches through `ops`) to a response and a plan —
 * what must be durable before that response may go. The shell submits the
 * plan's batch and sends the response once it is committed, or the storage
 * error the handler named if it is not. Every error answer's status comes
 * from one table (enum cg_answer); routes are one table with what each
 * accepts, checked once before the route runs. */
#ifndef CONSENTGATE_HANDLER_H
#define CONSENTGATE_HANDLER_H

#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/cspreport.h"
#include "consentgate/event.h"
#include "consentgate/ip.h"
#include "consentgate/report.h"
#include "consentgate/sign.h"

struct cg_request {
	const char *method;        /* REQUEST_METHOD */
	const char *path;          /* DOCUMENT_URI (no query) */
	const char *query;         /* QUERY_STRING or NULL */
	const char *content_type;
	const char *body;          /* the body read by the shell (may be NULL) */
	size_t body_len;
	int body_too_large;        /* CONTENT_LENGTH over CG_COLLECT_BODY_MAX: not read */
	int body_incomplete;       /* fewer bytes than CONTENT_LENGTH arrived */
	int body_bad_length;       /* CONTENT_LENGTH is not plain digits */
	const char *cookie;        /* the Cookie line holding the consent cookie (cg_cookie_pick) */
	int cookie_dup;            /* the consent cookie arrived more than once */
	const char *remote_addr;
	const char *sec_fetch_site;
	const char *origin;
	const char *sec_gpc;
	const char *dnt;
	const char *host;          /* HTTP_HOST: the withdrawal's cookie domains; the site's
	                            * own host when [policy] allowed_origins is empty */
	const char *if_none_match; /* HTTP_IF_NONE_MATCH: GET /consent/vendors */
	int64_t now_ms;
};

/* the consent cookies, and a withdrawal's expiries of vendor cookies */
#define CG_MAX_SET_COOKIES 16

/* Every error answer of the API, with its status and code from one table. */
enum cg_answer {
	CG_ANS_BAD_BODY = 0,     /* 400 bad_body: Content-Length wrong or short */
	CG_ANS_BAD_JSON,         /* 400 bad_json */
	CG_ANS_BAD_FIELD,        /* 400 bad_field */
	CG_ANS_BAD_COOKIE,       /* 400 bad_cookie: the consent cookie twice */
	CG_ANS_CROSS_SITE,       /* 403 cross_site */
	CG_ANS_NOT_FOUND,        /* 404 not_found */
	CG_ANS_NO_RECORD,        /* 404 no_record */
	CG_ANS_METHOD,           /* 405 method_not_allowed */
	CG_ANS_STALE_POLICY,     /* 409 stale_policy */
	CG_ANS_STALE_BANNER,     /* 409 stale_banner: a retired banner build */
	CG_ANS_STALE_VENDORS,    /* 409 stale_vendors: a retired vendor list */
	CG_ANS_TOO_LARGE,        /* 413 too_large */
	CG_ANS_MEDIA_TYPE,       /* 415 unsupported_media_type */
	CG_ANS_RATE_LIMITED,     /* 429 rate_limited */
	CG_ANS_OUTBOX_FULL,      /* 503 outbox_full */
	CG_ANS_STORAGE,          /* 503 storage */
	CG_ANS_UNAVAILABLE,      /* 503 unavailable (randomness, keys, metrics) */
	CG_ANS_BUSY,             /* 503 busy: too much is waiting for the store */
	CG_NANSWERS
};
int cg_answer_status(int answer);
const char *cg_answer_code(int answer);

/* What must be durable before the answer goes: an event (sealed onto the
 * chain by the store), outbox rows, or both. */
#define CG_PLAN_ROWS (CG_MAX_DESTINATIONS * 4)
struct cg_plan {
	int has_event;
	struct cg_event event;
	size_t nrows;
	struct cg_outbox_row rows[CG_PLAN_ROWS];
	struct cg_buf payloads[CG_PLAN_ROWS];  /* owned: rows[i].payload points into */
	const char *fail_detail;               /* the 503's detail if the batch fails */
};

/* The routes by index, in the routing table's order, and CG_ROUTE_OTHER
 * last (no route matched): the metrics count a request by its route's
 * index and name them from the one table (handler.c checks the count). */
#define CG_NROUTES 17
#define CG_ROUTE_OTHER (CG_NROUTES - 1)
const char *cg_route_name(int i);

struct cg_response {
	int status;
	int route;                 /* the route's index (cg_route_name), for metrics */
	const char *content_type;  /* static string or NULL */
	int no_store;
	int revalidate;            /* Cache-Control: no-cache, with etag */
	char etag[72];
	int retry_after;           /* seconds, 0 = no header */
	char allow[48];            /* Allow header for 405 */
	char set_cookie[CG_MAX_SET_COOKIES][256];
	int n_cookies;
	/* GET /consent/csp: the policy's header and value (static, or the
	 * daemon's struct cg_csp, which outlives every answer); NULL = none */
	const char *csp_header;
	const char *csp_value;
	struct cg_buf body;        /* owned; cg_response_free */
	struct cg_plan plan;       /* owned; nothing to store unless has_event or nrows */
};

/* The shell's services. Each returns enum cg_err. Tests pass fakes. */
struct cg_ops {
	void *ctx;
	/* country of the full address: cc = "NO" or "" when unknown */
	int (*country)(void *ctx, const struct cg_ip *ip, char cc[3]);
	/* latest state of subject; st->present = 0 when none */
	int (*load_state)(void *ctx, const char *subject, struct cg_state *st);
	/* cryptographically random bytes */
	int (*random)(void *ctx, void *buf, size_t n);
	/* the client_id key and today's in-memory salt (rotated daily) */
	int (*keys)(void *ctx, int64_t now_ms, uint8_t key[32], uint8_t day_salt[32]);
	/* counts a decision for metrics (may be NULL) */
	void (*decided)(void *ctx, int dest_index, int decision);
	/* every event of subject, oldest first (*evs malloc'd, caller frees) */
	int (*subject_events)(void *ctx, const char *subject, struct cg_event **evs, size_t *n);
	/* the aggregate report (not yet suppressed) from since_day on */
	int (*report)(void *ctx, int period, const char *since_day, struct cg_report *out);
	/* Prometheus text for /metrics (may be NULL) */
	int (*metrics)(void *ctx, struct cg_buf *out);
	/* may /collect queue `rows` rows of `bytes` payload bytes for this
	 * visitor (subject "" when none) from this client prefix? Returns
	 * CG_ADMIT_OK (and counts them), or which bound refuses, with the
	 * seconds to wait in *retry_s. May be NULL: everything is admitted. */
	int (*admit)(void *ctx, const char *subject, const char *prefix, size_t bytes, size_t rows,
	             int64_t now_ms, int *retry_s);
	/* the destinations recorded as recipients of subject's pseudonym (bit
	 * i: cfg->dest[i]) and since when recipients are recorded (0: from the
	 * start), erasure.h. May be NULL: none recorded. */
	int (*recipients)(void *ctx, const char *subject, uint32_t *mask, int64_t *since_ms);
	/* how many of `want` erasure notices may be queued under [limits]
	 * erasure_notices_max_rows (and counts them). May be NULL: all. */
	size_t (*admit_notices)(void *ctx, size_t want, int64_t now_ms);
	/* the instance's signer; NULL (or a NULL op): receipts go unsigned */
	const struct cg_signer *(*signer)(void *ctx);
	/* every public key that ever signed in this log, oldest first (*keys malloc'd) */
	int (*public_keys)(void *ctx, struct cg_pubkey **keys, size_t *n);
	/* the newest signed chain head (cg_signed_head_clear); CG_ERR_NOT_FOUND: none yet */
	int (*latest_head)(void *ctx, struct cg_signed_head *out);
	/* what is shown now: this instance's banner build and the notice of the
	 * policy version in force ("" where none is configured) (may be NULL) */
	void (*shown_now)(void *ctx, char build[33], char notice[65]);
	/* a banner build id: enum cg_build_status; for a retired build, the
	 * notice in service with it (cg_shown_notice_of; "" if none) */
	int (*build_status)(void *ctx, const char *build, char notice_then[65]);
	/* a vendor list id other than the configuration's: enum cg_build_status (may be NULL) */
	int (*vendors_status)(void *ctx, const char *id);
	/* the policies of [csp], built once (csp.h) (may be NULL: none) */
	const struct cg_csp *(*csp)(void *ctx);
	/* counts leaks of CSP reports (cspreport.h) in memory (may be NULL) */
	void (*leaks)(void *ctx, const struct cg_leak *l, size_t n, int64_t now_ms);
};

enum cg_build_status { CG_BUILD_CURRENT = 0, CG_BUILD_RETIRED, CG_BUILD_UNKNOWN };

enum cg_admit { CG_ADMIT_OK = 0, CG_ADMIT_VISITOR, CG_ADMIT_PREFIX, CG_ADMIT_OUTBOX, CG_NADMIT };

void cg_response_init(struct cg_response *res);
void cg_response_free(struct cg_response *res);
/* the error answer {"error": code, "detail": ...}; a 503 carries Retry-After */
void cg_response_error(struct cg_response *res, int answer, const char *detail);
/* whether the answer must wait for the plan's batch to be durable */
int cg_response_needs_store(const struct cg_response *res);
/* the batch failed: the answer becomes the 503 storage error, no cookies */
void cg_response_store_failed(struct cg_response *res);
void cg_handle(const struct cg_config *cfg, const struct cg_ops *ops,
               const struct cg_request *req, struct cg_response *res);
/* "200 OK" */
const char *cg_status_line(int status);

#endif
