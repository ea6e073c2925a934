/* The decision table of docs/gatekeeper.md#the-decision, enumerated: every basis x purpose x
 * visitor state x GPC x configuration, against the table written out as
 * rules here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/decision.h"

#define NOW INT64_C(1795303718006)
#define DAY CG_MS_PER_DAY

enum vstate { V_NONE, V_GRANTED, V_REFUSED, V_STALE_GRANT, V_STALE_REFUSAL, V_EXPIRED_GRANT,
              V_WITHDRAWN, V_OBJECTED_ONLY, V_GRANTED_OTHER_OBJECTED, V_ERASED, V_NSTATES };

static void make_state(struct cg_state *st, int v, int p)
{
	memset(st, 0, sizeof *st);
	if (v == V_NONE)
		return;
	st->present = 1;
	st->action = CG_ACT_CHOICE;
	strcpy(st->policy_version, "2023-12");
	st->recorded_at_ms = st->choice_at_ms = NOW - DAY;
	for (int q = 0; q < CG_NPURPOSES; q++)
		st->choice[q] = 0;
	switch (v) {
	case V_GRANTED: st->choice[p] = 1; break;
	case V_REFUSED: break;
	case V_STALE_GRANT: st->choice[p] = 1; strcpy(st->policy_version, "2022-01"); break;
	case V_STALE_REFUSAL: strcpy(st->policy_version, "2022-01"); break;
	case V_EXPIRED_GRANT: st->choice[p] = 1; st->choice_at_ms = NOW - 400 * DAY; break;
	case V_WITHDRAWN: st->action = CG_ACT_WITHDRAW; break;
	case V_OBJECTED_ONLY:
		st->action = CG_ACT_OBJECTION;
		st->choice_at_ms = 0;
		for (int q = 0; q < CG_NPURPOSES; q++)
			st->choice[q] = CG_TRI_NULL;
		st->objections = 1u << p;
		break;
	case V_GRANTED_OTHER_OBJECTED:
		st->choice[p] = 1;
		st->objections = 1u << ((p + 1) % CG_NPURPOSES);
		break;
	case V_ERASED: st->action = CG_ACT_ERASE; st->choice[p] = 1; break;
	}
}

/* the table, as rules */
static int expected(int basis, int p, int v, int gpc, int refusal_is_objection, int gpc_scope)
{
	int granted = v == V_GRANTED || v == V_GRANTED_OTHER_OBJECTED;
	int refused = v == V_REFUSED || v == V_STALE_REFUSAL || v == V_WITHDRAWN;
	int gpc_objects = gpc && (gpc_scope == CG_GPC_ALL || (gpc_scope == CG_GPC_MARKETING && p == CG_MARKETING));

	if (granted)
		return CG_FORWARD_FULL;
	if (basis == CG_BASIS_CONSENT)
		return CG_DROP;
	if (v == V_OBJECTED_ONLY || (refused && refusal_is_objection) || gpc_objects)
		return CG_DROP;
	/* no choice, stale or expired grant, erased (starts afresh), or a
	 * refusal that is not taken as an objection */
	return CG_FORWARD_MINIMISED;
}

static void test_truth_table(void **state)
{
	struct cg_config cfg;
	struct cg_destination d;
	struct cg_state st;
	int cases = 0;

	(void)state;
	cg_config_defaults(&cfg);
	strcpy(cfg.policy_version, "2023-12");
	for (int basis = 0; basis < 2; basis++)
		for (int p = 0; p < CG_NPURPOSES; p++) {
			if (basis == CG_BASIS_LEGITIMATE_INTEREST && p == CG_MARKETING)
				continue; /* refused by the configuration */
			for (int v = 0; v < V_NSTATES; v++)
				for (int gpc = 0; gpc < 2; gpc++)
					for (int rio = 0; rio < 2; rio++)
						for (int scope = 0; scope < 3; scope++) {
							int got, want;
							memset(&d, 0, sizeof d);
							d.basis = basis;
							d.purpose = p;
							cfg.refusal_is_objection = rio;
							cfg.gpc = scope;
							make_state(&st, v, p);
							got = cg_decide(&cfg, &d, &st, gpc, NOW);
							want = expected(basis, p, v, gpc, rio, scope);
							if (got != want)
								fail_msg("basis %d purpose %d state %d gpc %d rio %d scope %d: %s, want %s",
								         basis, p, v, gpc, rio, scope, cg_decision_name(got),
								         cg_decision_name(want));
							cases++;
						}
		}
	assert_int_equal(cases, 5 * V_NSTATES * 2 * 2 * 3);
}

static void test_consent_valid(void **state)
{
	struct cg_config cfg;
	struct cg_state st;

	(void)state;
	cg_config_defaults(&cfg);
	strcpy(cfg.policy_version, "2023-12");
	make_state(&st, V_GRANTED, CG_STATISTICS);
	assert_true(cg_consent_valid(&cfg, &st, CG_STATISTICS, NOW));
	assert_false(cg_consent_valid(&cfg, &st, CG_MARKETING, NOW));
	assert_false(cg_consent_valid(&cfg, &st, 7, NOW));
	/* the boundary of consent_max_age_days */
	assert_true(cg_consent_valid(&cfg, &st, CG_STATISTICS, st.choice_at_ms + 365 * DAY - 1));
	assert_false(cg_consent_valid(&cfg, &st, CG_STATISTICS, st.choice_at_ms + 365 * DAY));
	st.objections = 1u << CG_STATISTICS;
	assert_false(cg_consent_valid(&cfg, &st, CG_STATISTICS, NOW));
}

static void test_still_allows(void **state)
{
	(void)state;
	assert_true(cg_decision_still_allows(CG_FORWARD_FULL, CG_FORWARD_FULL));
	assert_false(cg_decision_still_allows(CG_FORWARD_FULL, CG_FORWARD_MINIMISED));
	assert_false(cg_decision_still_allows(CG_FORWARD_FULL, CG_DROP));
	assert_true(cg_decision_still_allows(CG_FORWARD_MINIMISED, CG_FORWARD_MINIMISED));
	assert_true(cg_decision_still_allows(CG_FORWARD_MINIMISED, CG_FORWARD_FULL));
	assert_false(cg_decision_still_allows(CG_FORWARD_MINIMISED, CG_DROP));
	assert_false(cg_decision_still_allows(CG_DROP, CG_FORWARD_FULL));
}

static void test_backoff(void **state)
{
	const int64_t cap = 300000;

	(void)state;
	/* first retry within 2 s (here: 0.5-1 s), doubling, capped */
	assert_int_equal(cg_backoff_ms(1, 0.0, cap), 500);
	assert_true(cg_backoff_ms(1, 0.999, cap) <= 1000);
	assert_true(cg_backoff_ms(2, 0.999, cap) <= 2000);
	assert_int_equal(cg_backoff_ms(2, 0.0, cap), 1000);
	assert_int_equal(cg_backoff_ms(3, 0.0, cap), 2000);
	assert_int_equal(cg_backoff_ms(9, 0.0, cap), 128000);
	assert_int_equal(cg_backoff_ms(10, 0.0, cap), 150000);
	assert_true(cg_backoff_ms(1000, 0.999, cap) <= cap);
	assert_true(cg_backoff_ms(1000, 0.0, cap) >= cap / 2);
	assert_int_equal(cg_backoff_ms(0, 0.0, cap), 500);
	assert_int_equal(cg_backoff_ms(1, -3, cap), 500);
	assert_true(cg_backoff_ms(1, 7, cap) <= 1000);
	assert_true(cg_backoff_ms(5, 0.0, 1000) <= 1000);
	assert_true(cg_backoff_ms(5, 0.5, 1000) >= 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truth_table),
		cmocka_unit_test(test_consent_valid),
		cmocka_unit_test(test_still_allows),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
