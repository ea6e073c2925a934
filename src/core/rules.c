#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/report.h"
#include "consentgate/rules.h"
#include "consentgate/timefmt.h"

void cg_rules_outbox_effect(const struct cg_event *ev, struct cg_outbox_rule *out)
{
	memset(out, 0, sizeof *out);
	out->purpose = -1;
	switch (ev->action) {
	case CG_ACT_ERASE:
		out->effect = CG_EFFECT_ERASE;
		out->reason = "erased before delivery";
		break;
	case CG_ACT_WITHDRAW:
		out->effect = CG_EFFECT_DROP_PENDING;
		out->reason = "withdrawn before delivery";
		break;
	case CG_ACT_OBJECTION:
		if (ev->objection_purpose >= 0) {
			out->effect = CG_EFFECT_DROP_PENDING_PURPOSE;
			out->purpose = ev->objection_purpose;
			out->reason = "objection before delivery";
		}
		break;
	default:
		break;
	}
}

void cg_rules_retention(const struct cg_config *cfg, int64_t now_ms, struct cg_retention_cutoffs *out)
{
	out->ip_prefix_before_ms = now_ms - (int64_t)cfg->ip_prefix_days * CG_MS_PER_DAY;
	out->ended_before_ms = now_ms - (int64_t)cfg->events_days_after_end * CG_MS_PER_DAY;
	out->delivered_before_ms = now_ms - (int64_t)cfg->outbox_delivered_days * CG_MS_PER_DAY;
	out->dead_before_ms = now_ms - CG_OUTBOX_DEAD_KEEP_MS;
	out->pending_before_ms = now_ms - CG_OUTBOX_MAX_AGE_MS;
}

void cg_retention_of(const struct cg_config *cfg, struct cg_retention *out)
{
	out->ip_prefix_days = cfg->ip_prefix_days;
	out->events_days_after_end = cfg->events_days_after_end;
	out->consent_max_age_days = cfg->consent_max_age_days;
	out->refusal_max_age_days = cfg->refusal_max_age_days;
}

int64_t cg_rules_ended_ms(const struct cg_retention *r, const struct cg_state *latest)
{
	if (latest->action == CG_ACT_WITHDRAW || latest->action == CG_ACT_ERASE)
		return latest->recorded_at_ms;
	return cg_state_expires_with(r->consent_max_age_days, r->refusal_max_age_days, latest);
}

int64_t cg_rules_consent_ended_ms(const struct cg_config *cfg, const struct cg_state *latest)
{
	struct cg_retention r;

	cg_retention_of(cfg, &r);
	return cg_rules_ended_ms(&r, latest);
}

int cg_rules_outcome(int action, const int choice[CG_NPURPOSES])
{
	int all = 1, none = 1;

	if (action == CG_ACT_WITHDRAW)
		return CG_OUT_WITHDRAW;
	if (action != CG_ACT_CHOICE)
		return -1;
	for (int p = 0; p < CG_NPURPOSES; p++) {
		all &= choice[p] == 1;
		none &= choice[p] == 0;
	}
	return all ? CG_OUT_ACCEPT_ALL : none ? CG_OUT_REJECT_ALL : CG_OUT_CUSTOM;
}

int cg_rules_deliverable(int64_t created_ms, int64_t now_ms)
{
	return now_ms - created_ms <= CG_OUTBOX_MAX_AGE_MS;
}
