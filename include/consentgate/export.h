/* The visitor's register copy (GDPR Art. 15 access, Art. 20 portability)
 * and consent receipt (ISO/IEC TS 27560 / Kantara Consent Receipt field
 * names), built from their events and the configuration. Pure. */
#ifndef CONSENTGATE_EXPORT_H
#define CONSENTGATE_EXPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/event.h"

struct cg_export_in {
	const struct cg_config *cfg;
	const char *subject;
	const struct cg_event *events;  /* the subject's rows, oldest first */
	size_t n;
	int64_t now_ms;
};

/* The visitor's state after their last event. */
void cg_state_from_event(const struct cg_event *ev, struct cg_state *st);

/* A new reference, or NULL when n == 0 (no record). */
json_t *cg_export_build(const struct cg_export_in *in);
json_t *cg_receipt_build(const struct cg_export_in *in);

/* What a signed receipt binds of its export (under "exportBinding"): the
 * subject, current_state in full, and the SHA-256 of each other field
 * the export restates (controller, policy, current_state, purposes,
 * retention, events — arrays per element — what_we_keep) over its compact,
 * key-sorted JSON text. A new reference. */
json_t *cg_receipt_binding(json_t *doc);
/* The export doc against its signed receipt r: CG_OK with what the
 * signature covers and what it does not appended to covered, or
 * CG_ERR_INVALID with why[] naming the field that differs (or "subject:"
 * when the receipt is another visitor's). A receipt signed before exports
 * were bound is checked for what it restates. */
int cg_receipt_check(json_t *doc, json_t *r, struct cg_buf *covered, char *why, size_t whylen);

/* {"preferences": [...], "statistics": [...], "marketing": [...]}: each
 * purpose's recipients, their countries and transfer bases (a new reference) */
json_t *cg_export_recipients(const struct cg_config *cfg);

/* The non-personal tombstone an erasure appends to the chain. */
void cg_event_tombstone(const char *subject, int64_t now_ms, struct cg_event *ev);

#endif
