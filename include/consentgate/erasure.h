/* Erasure reaches the recipients (GDPR Art. 17(2), 19): when a visitor is
 * erased, each destination that received their data under a pseudonym (a
 * full client_id: only ever sent while the visitor granted the purpose)
 * gets an erasure notice naming that pseudonym — a webhook the documented
 * JSON, GA4 a User Deletion API request when its credentials are configured.
 * The notices are outbox rows, so they are recorded, retried and given up
 * like deliveries; unlike analytics they never expire, are not tied to the
 * visitor (the row keeps no subject key) and are sent whatever the
 * visitor's state. Pure. */
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

/* The notices for a visitor with these events: rows[i].payload points into
 * payloads[i] (initialised here; the caller frees them). Returns how many. */
size_t cg_erasure_rows(const struct cg_config *cfg, const uint8_t key[CG_KEY_BYTES], const char *subject,
                       const struct cg_event *evs, size_t n, int64_t now_ms, struct cg_outbox_row *rows,
                       struct cg_buf *payloads, size_t max);
/* BODY of such a payload, the request body sent (CG_ERR_INVALID if it is none) */
int cg_erasure_body(const char *payload, struct cg_buf *out);

#endif
