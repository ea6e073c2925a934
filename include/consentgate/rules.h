/* The rules the store backends execute, written once
 * (docs/architecture.md#the-storage-port): what an event does to the
 * visitor's queued analytics, the retention cut-offs, and the 72 h delivery
 * limit. Pure: no I/O, no clock (times are passed in). A backend asks these
 * functions and does what they say; it never decides. */
#ifndef CONSENTGATE_RULES_H
#define CONSENTGATE_RULES_H

#include <stdint.h>
#include "consentgate/config.h"
#include "consentgate/event.h"

/* GA4's Measurement Protocol refuses events older than 72 h: a pending
 * outbox row past that is dropped, never sent. */
#define CG_OUTBOX_MAX_AGE_MS (72LL * 3600 * 1000)
/* Dead letters are kept this long for an operator to look at. */
#define CG_OUTBOX_DEAD_KEEP_MS (30LL * 86400 * 1000)

/* What a committed event does to the same visitor's outbox rows. */
enum cg_outbox_effect {
	CG_EFFECT_NONE = 0,
	CG_EFFECT_DROP_PENDING,          /* withdrawal: every queued row → dropped */
	CG_EFFECT_DROP_PENDING_PURPOSE,  /* objection: the queued rows of one purpose → dropped */
	CG_EFFECT_ERASE,                 /* erasure: every row loses subject and payload,
	                                  * queued ones → dropped */
};
struct cg_outbox_rule {
	int effect;                      /* enum cg_outbox_effect */
	int purpose;                     /* CG_EFFECT_DROP_PENDING_PURPOSE: which */
	const char *reason;              /* last_error of the rows dropped (static text) */
};
void cg_rules_outbox_effect(const struct cg_event *ev, struct cg_outbox_rule *out);

/* Retention at now_ms ([retention], [policy] lifetimes), as the times before
 * which each thing goes. */
struct cg_retention_cutoffs {
	int64_t ip_prefix_before_ms;     /* ip_prefix of events recorded before: cleared */
	int64_t ended_before_ms;         /* events of visitors whose consent ended before: pruned */
	int64_t delivered_before_ms;     /* delivered / dropped outbox rows created before: deleted */
	int64_t dead_before_ms;          /* dead letters created before: deleted */
	int64_t pending_before_ms;       /* pending rows created before: dropped (72 h) */
};
void cg_rules_retention(const struct cg_config *cfg, int64_t now_ms, struct cg_retention_cutoffs *out);

/* The settings that decide what retention removes, as a purge records them
 * in the chain (logevent.h) and the verifiers read them back. */
struct cg_retention {
	int ip_prefix_days, events_days_after_end, consent_max_age_days, refusal_max_age_days;
};
void cg_retention_of(const struct cg_config *cfg, struct cg_retention *out);

/* When a visitor's consent ended, from their latest event: at once for a
 * withdrawal or an erasure, else when the choice in force expires
 * (cg_state_expires_ms). Retention prunes the visitor's events once this
 * is before ended_before_ms; a verifier checks a removal by the same rule
 * with the settings the purge recorded (cg_rules_ended_ms). */
int64_t cg_rules_consent_ended_ms(const struct cg_config *cfg, const struct cg_state *latest);
int64_t cg_rules_ended_ms(const struct cg_retention *r, const struct cg_state *latest);

/* The outcome class of an event for the reports (enum cg_outcome:
 * accept_all, reject_all, custom, withdraw), or -1 for events that are no
 * choice (objection, erasure). The view consent_daily computes the same in
 * SQL; tests/unit/test_sql_rules.c proves they agree. */
int cg_rules_outcome(int action, const int choice[CG_NPURPOSES]);

/* Whether a pending row created at created_ms may still be sent at now_ms. */
int cg_rules_deliverable(int64_t created_ms, int64_t now_ms);

#endif
