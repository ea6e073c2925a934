/* The request handler: a FastCGI-free, pure function from a request (and the
 * facts the I/O shell fetches through `ops`) to a response. All HTTP status
 * choices are made here. */
#ifndef CONSENTGATE_HANDLER_H
#define CONSENTGATE_HANDLER_H

#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/event.h"
#include "consentgate/ip.h"
#include "consentgate/report.h"

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
	int64_t now_ms;
};

#define CG_MAX_SET_COOKIES 2

struct cg_response {
	int status;
	const char *route;         /* route name for metrics, static */
	const char *content_type;  /* static string or NULL */
	int no_store;
	int retry_after;           /* seconds, 0 = no header */
	char allow[48];            /* Allow header for 405 */
	char set_cookie[CG_MAX_SET_COOKIES][256];
	int n_cookies;
	struct cg_buf body;        /* owned; cg_response_free */
};

/* The shell's services. Each returns enum cg_err. Tests pass fakes. */
struct cg_ops {
	void *ctx;
	/* country of the full address: cc = "NO" or "" when unknown */
	int (*country)(void *ctx, const struct cg_ip *ip, char cc[3]);
	/* latest state of subject; st->present = 0 when none */
	int (*load_state)(void *ctx, const char *subject, struct cg_state *st);
	/* durably appends the event (blocks until committed); fills id/hash */
	int (*commit)(void *ctx, struct cg_event *ev);
	/* cryptographically random bytes */
	int (*random)(void *ctx, void *buf, size_t n);
	/* durably appends outbox rows (blocks until committed) */
	int (*outbox)(void *ctx, const struct cg_outbox_row *rows, size_t n);
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
};

enum cg_admit { CG_ADMIT_OK = 0, CG_ADMIT_VISITOR, CG_ADMIT_PREFIX, CG_ADMIT_OUTBOX, CG_NADMIT };

void cg_response_init(struct cg_response *res);
void cg_response_free(struct cg_response *res);
void cg_handle(const struct cg_config *cfg, const struct cg_ops *ops,
               const struct cg_request *req, struct cg_response *res);
/* "200 OK" */
const char *cg_status_line(int status);

#endif
