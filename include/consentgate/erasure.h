/* Erasure reaches the recipients (GDPR Art. 17(2), 19): when a visitor is
 * erased, each destination that received their data under a pseudonym
 * gets an erasure notice naming that pseudonym — a webhook the documented
 * JSON, GA4 a User Deletion API request when its credentials are configured.
 *
 * Who received it is what the store recorded, not what the visitor chose: a
 * full client_id is only ever sent while the visitor granted the purpose,
 * but a destination that was down, or that the visitor's events never
 * reached, holds nothing and gets nothing. The store records a destination
 * as a recipient of a visitor when it acknowledged (2xx) a delivery of one
 * of their full rows (rules.h); a notice row is conditional on that record,
 * checked again in the erasure's own transaction, so a first delivery
 * acknowledged while the erasure is on its way is not missed either.
 *
 * The notices are outbox rows, so they are recorded, retried and given up
 * like deliveries; unlike analytics they never expire, are not tied to the
 * visitor (the row keeps no subject key), are sent whatever the visitor's
 * state, and have their own bound ([limits] erasure_notices_max_rows): they
 * never take the room /collect's events have under outbox_max_rows. Pure. */
#ifndef CONSENTGATE_ERASURE_H
#define CONSENTGATE_ERASURE_H

#include <stddef.h>
#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/event.h"

/* an outbox row's payload is an erasure notice: {"erasure": BODY} */
#define CG_ERASURE_PREFIX "{\"erasure\":"
int cg_erasure_is(const char *payload);
/* 1 if the destination can take an erasure notice (webhook; ga4 with
 * property_id and deletion_token_file) */
int cg_erasure_possible(const struct cg_destination *d);

/* A set of configured destinations: bit i is cfg->dest[i]. */
typedef uint32_t cg_dest_mask;
/* the destination named so, as a set (0: not configured) */
cg_dest_mask cg_dest_bit(const struct cg_config *cfg, const char *name);

/* What one erasure queues, in two steps: cg_erasure_plan_init from the
 * visitor's events and what the store records, then, once the bound has
 * said how much room there is, cg_erasure_plan_room.
 *
 * candidates: the destinations that can take a notice and whose purpose
 * the visitor granted at some time (only then may a pseudonym have gone).
 * received: the candidates recorded as recipients, and those presumed to
 * be: a grant recorded before the store began recording recipients
 * (since_ms, an upgrade; 0: never) is taken to have reached the destination,
 * as erasures assumed before recipients were recorded. Those are told, as
 * many as there is room for (in configuration order), the rest refused.
 * With room for all of them, the other candidates get a row too, which the
 * store keeps only if it records the destination as a recipient by the
 * time the erasure commits (a first delivery acknowledged meanwhile). */
struct cg_erasure_plan {
	cg_dest_mask candidates, received;
	cg_dest_mask certain;    /* rows queued without the store's check (presumed) */
	cg_dest_mask rows;       /* a notice row for each */
	size_t want;             /* received, counted */
	size_t notified;         /* recipients told (the answer's recipients_notified) */
	size_t refused;          /* recipients not told: no room under the bound */
};
void cg_erasure_plan_init(const struct cg_config *cfg, const struct cg_event *evs, size_t n, cg_dest_mask recorded,
                          int64_t since_ms, struct cg_erasure_plan *out);
void cg_erasure_plan_room(struct cg_erasure_plan *p, size_t room);

/* The notice rows of the plan: rows[i].payload points into payloads[i]
 * (initialised here; the caller frees them). A row not in p->certain names
 * `subject` in if_recipient_of (queued only if the store records its
 * destination as a recipient). Returns how many. */
size_t cg_erasure_rows(const struct cg_config *cfg, const uint8_t key[CG_KEY_BYTES], const char *subject,
                       const struct cg_erasure_plan *p, int64_t now_ms, struct cg_outbox_row *rows,
                       struct cg_buf *payloads, size_t max);
/* BODY of such a payload, the request body sent (CG_ERR_INVALID if it is none) */
int cg_erasure_body(const char *payload, struct cg_buf *out);

#endif
