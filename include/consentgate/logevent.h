/* Log events: chained rows of no visitor (row format 2), appended by the
 * store in the same transaction as what they record, so that what the log
 * no longer holds is accounted for in the chain itself. Each is a link like
 * any row (chain.h): no subject, no choice, no personal field; its action
 * names its kind and its `record` says what happened:
 *
 *   purge   "purge;ip_prefix_days=730;events_days_after_end=1095;
 *            consent_max_age_days=365;refusal_max_age_days=180;rows=17;ids=<hex>"
 *           the retention in force and the rows it removed; each removed
 *           row's link names the purge (purge_id)
 *   format  "format=2;links=3;ids=<hex>"
 *           the log changed row format here (a migration): every row after
 *           it is of that format; the links of rows pruned before it, which
 *           row format 1 kept without their fields, are these
 *
 * (one line, no spaces). `ids` is the hex SHA-256 of the ids concerned in
 * ascending order, each as decimal text followed by "\n" (the SHA-256 of
 * the empty text when there are none). Pure. */
#ifndef CONSENTGATE_LOGEVENT_H
#define CONSENTGATE_LOGEVENT_H

#include <sodium.h>
#include <stdint.h>
#include "consentgate/event.h"
#include "consentgate/rules.h"

struct cg_logevent {
	int kind;                          /* CG_ACT_PURGE or CG_ACT_FORMAT */
	struct cg_retention retention;     /* a purge */
	int format;                        /* a format change: the row format from here on */
	int64_t count;                     /* rows removed; links pruned before */
	char ids[CG_HEX_HASH_LEN + 1];
};

void cg_logevent_record(const struct cg_logevent *l, char out[CG_RECORD_MAX + 1]);
/* CG_OK only for a record exactly as cg_logevent_record writes one of that
 * kind; CG_ERR_INVALID otherwise */
int cg_logevent_parse(const char *record, int kind, struct cg_logevent *l);
/* the event to seal (chain.h) at now_ms */
void cg_logevent_event(const struct cg_logevent *l, int64_t now_ms, struct cg_event *ev);

/* the ids digest: fed in ascending order (CG_ERR_INVALID otherwise) */
struct cg_ids_digest {
	crypto_hash_sha256_state h;
	int64_t n, last;
};
void cg_ids_init(struct cg_ids_digest *d);
int cg_ids_add(struct cg_ids_digest *d, int64_t id);
void cg_ids_final(struct cg_ids_digest *d, char out[CG_HEX_HASH_LEN + 1]);

#endif
