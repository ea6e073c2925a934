/* The visitor's register copy (GDPR Art. 15 access, Art. 20 portability)
 * and consent receipt (ISO/IEC TS 27560 / Kantara Consent Receipt field
 * names), built from their events and the configuration. Pure. */
#ifndef CONSENTGATE_EXPORT_H
#define CONSENTGATE_EXPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
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

/* {"preferences": [...], "statistics": [...], "marketing": [...]}: each
 * purpose's recipients, their countries and transfer bases (a new reference) */
json_t *cg_export_recipients(const struct cg_config *cfg);

/* The non-personal tombstone an erasure appends to the chain. */
void cg_event_tombstone(const char *subject, int64_t now_ms, struct cg_event *ev);

#endif
