#include <string.h>

#include "consentgate/decision.h"

static const char *const decision_names[CG_NDECISIONS] = {"drop", "minimised", "full"};

const char *cg_decision_name(int d)
{
	return d >= 0 && d < CG_NDECISIONS ? decision_names[d] : "unknown";
}

int cg_decision_parse(const char *s)
{
	for (int i = 0; s && i < CG_NDECISIONS; i++)
		if (strcmp(decision_names[i], s) == 0)
			return i;
	return -1;
}

static int any_granted(const struct cg_state *st)
{
	for (int p = 0; p < CG_NPURPOSES; p++)
		if (st->choice[p] == 1)
			return 1;
	return 0;
}

int64_t cg_state_expires_with(int consent_days, int refusal_days, const struct cg_state *st)
{
	int64_t base = st->choice_at_ms ? st->choice_at_ms : st->recorded_at_ms;

	return base + (int64_t)(any_granted(st) ? consent_days : refusal_days) * CG_MS_PER_DAY;
}

int64_t cg_state_expires_ms(const struct cg_config *cfg, const struct cg_state *st)
{
	return cg_state_expires_with(cfg->consent_max_age_days, cfg->refusal_max_age_days, st);
}

int cg_choice_current(const struct cg_config *cfg, const struct cg_state *st, int64_t now_ms)
{
	if (!st->present || st->action == CG_ACT_ERASE || !st->choice_at_ms)
		return 0;
	if (strcmp(st->policy_version, cfg->policy_version) != 0)
		return 0;
	return now_ms < cg_state_expires_ms(cfg, st);
}

int cg_consent_valid(const struct cg_config *cfg, const struct cg_state *st, int p,
                     int64_t now_ms)
{
	if (p < 0 || p >= CG_NPURPOSES)
		return 0;
	return cg_choice_current(cfg, st, now_ms) && st->choice[p] == 1 &&
	       !(st->objections & (1u << p));
}

int cg_decide(const struct cg_config *cfg, const struct cg_destination *d,
              const struct cg_state *st, int gpc, int64_t now_ms)
{
	int p = d->purpose;

	if (cg_consent_valid(cfg, st, p, now_ms))
		return CG_FORWARD_FULL;
	if (d->basis == CG_BASIS_CONSENT)
		return CG_DROP;
	/* legitimate interest (never marketing: the config refuses it) */
	if (st->present && st->action != CG_ACT_ERASE) {
		if (st->objections & (1u << p))
			return CG_DROP;
		/* a refusal in the banner objects too, even once it is stale or
		 * expired: the visitor said no, and has not said yes since */
		if (cfg->refusal_is_objection && st->choice_at_ms && st->choice[p] == 0)
			return CG_DROP;
	}
	if (gpc && (cfg->gpc == CG_GPC_ALL || (cfg->gpc == CG_GPC_MARKETING && p == CG_MARKETING)))
		return CG_DROP;
	return CG_FORWARD_MINIMISED;
}

int cg_decision_still_allows(int mode, int now_decision)
{
	if (mode == CG_FORWARD_FULL)
		return now_decision == CG_FORWARD_FULL;
	return mode == CG_FORWARD_MINIMISED && now_decision != CG_DROP;
}

int64_t cg_backoff_ms(int attempt, double jitter, int64_t cap_ms)
{
	int64_t ceiling = 1000;

	if (attempt < 1)
		attempt = 1;
	for (int i = 1; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (jitter < 0)
		jitter = 0;
	if (jitter >= 1)
		jitter = 0.999999;
	/* "equal jitter": at least half the ceiling, so retries do spread out */
	return ceiling / 2 + (int64_t)((double)(ceiling - ceiling / 2) * jitter);
}
