/* The gatekeeper's decision (docs/gatekeeper.md#the-decision): may this destination receive an
 * event of this visitor, and in which form? Pure; time is passed in. */
#ifndef CONSENTGATE_DECISION_H
#define CONSENTGATE_DECISION_H

#include <stdint.h>
#include "consentgate/config.h"
#include "consentgate/event.h"

enum cg_decision {
	CG_DROP = 0,
	CG_FORWARD_MINIMISED,  /* legitimate interest, no valid choice: no cookie-derived id */
	CG_FORWARD_FULL,       /* valid consent for the purpose */
	CG_NDECISIONS,
};

/* When the choice in force ends: its time plus consent_max_age_days if it
 * grants anything, else refusal_max_age_days (from the last event when the
 * visitor never chose, e.g. only objected). */
/* the same with the lifetimes given: of a choice that grants something,
 * and of a refusal */
int64_t cg_state_expires_with(int consent_days, int refusal_days, const struct cg_state *st);
int64_t cg_state_expires_ms(const struct cg_config *cfg, const struct cg_state *st);
/* 1 if a choice exists, was made under the current policy version and has
 * not expired; otherwise the banner asks again. */
int cg_choice_current(const struct cg_config *cfg, const struct cg_state *st, int64_t now_ms);

/* 1 if the visitor holds a valid consent for purpose p: granted under the
 * current policy version, not expired, not withdrawn, erased or objected to. */
int cg_consent_valid(const struct cg_config *cfg, const struct cg_state *st, int p,
                     int64_t now_ms);

/* gpc: the request carried Sec-GPC: 1. */
int cg_decide(const struct cg_config *cfg, const struct cg_destination *d,
              const struct cg_state *st, int gpc, int64_t now_ms);

/* At delivery: may a payload built for `mode` still go out? A full payload
 * needs a full decision now; a minimised one anything but a drop. */
int cg_decision_still_allows(int mode, int now_decision);

const char *cg_decision_name(int d);  /* "drop", "minimised", "full" */
int cg_decision_parse(const char *s);

/* Retry delay in ms after `attempt` failed attempts (1, 2, ...): capped
 * exponential backoff with jitter, jitter in [0, 1). The first retry comes
 * within 1 s, the second within 2 s, ... never later than cap_ms. */
int64_t cg_backoff_ms(int attempt, double jitter, int64_t cap_ms);

#endif
