#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/decision.h"
#include "consentgate/rules.h"
#include "consentgate/timefmt.h"

static void test_outbox_effect_per_action(void **state)
{
	struct cg_event ev;
	struct cg_outbox_rule r;

	(void)state;
	memset(&ev, 0, sizeof ev);
	ev.objection_purpose = -1;
	ev.action = CG_ACT_CHOICE;
	cg_rules_outbox_effect(&ev, &r);
	assert_int_equal(r.effect, CG_EFFECT_NONE); /* a choice leaves the queue alone */
	ev.action = CG_ACT_WITHDRAW;
	cg_rules_outbox_effect(&ev, &r);
	assert_int_equal(r.effect, CG_EFFECT_DROP_PENDING);
	assert_string_equal(r.reason, "withdrawn before delivery");
	ev.action = CG_ACT_ERASE;
	cg_rules_outbox_effect(&ev, &r);
	assert_int_equal(r.effect, CG_EFFECT_ERASE);
	assert_string_equal(r.reason, "erased before delivery");
	ev.action = CG_ACT_OBJECTION;
	ev.objection_purpose = CG_STATISTICS;
	cg_rules_outbox_effect(&ev, &r);
	assert_int_equal(r.effect, CG_EFFECT_DROP_PENDING_PURPOSE);
	assert_int_equal(r.purpose, CG_STATISTICS);
	assert_string_equal(r.reason, "objection before delivery");
	ev.objection_purpose = -1; /* an objection without a purpose changes nothing queued */
	cg_rules_outbox_effect(&ev, &r);
	assert_int_equal(r.effect, CG_EFFECT_NONE);
}

static void test_retention_cutoffs(void **state)
{
	struct cg_config cfg;
	struct cg_retention_cutoffs c;
	const int64_t now = 1800000000000LL;

	(void)state;
	cg_config_defaults(&cfg);
	cfg.ip_prefix_days = 730;
	cfg.events_days_after_end = 1095;
	cfg.outbox_delivered_days = 7;
	cg_rules_retention(&cfg, now, &c);
	assert_true(c.ip_prefix_before_ms == now - 730 * CG_MS_PER_DAY);
	assert_true(c.ended_before_ms == now - 1095 * CG_MS_PER_DAY);
	assert_true(c.delivered_before_ms == now - 7 * CG_MS_PER_DAY);
	assert_true(c.dead_before_ms == now - 30 * CG_MS_PER_DAY);
	assert_true(c.pending_before_ms == now - 72 * 3600 * 1000LL);
}

static void test_deliverable_72h(void **state)
{
	const int64_t t = 1800000000000LL;

	(void)state;
	assert_true(cg_rules_deliverable(t, t));
	assert_true(cg_rules_deliverable(t, t + CG_OUTBOX_MAX_AGE_MS));      /* exactly 72 h: still */
	assert_false(cg_rules_deliverable(t, t + CG_OUTBOX_MAX_AGE_MS + 1)); /* a millisecond past: never */
}

static void test_consent_ended(void **state)
{
	struct cg_config cfg;
	const int64_t t = 1800000000000LL, d = CG_MS_PER_DAY;
	struct cg_state st = {.present = 1, .action = CG_ACT_CHOICE, .choice = {1, 0, 0},
	                      .recorded_at_ms = t + 5 * d, .choice_at_ms = t};

	(void)state;
	cg_config_defaults(&cfg);
	/* a grant ends when it expires, counted from when it was made */
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + cfg.consent_max_age_days * d);
	/* a refusal lives as long as refusals do */
	st.choice[0] = 0;
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + cfg.refusal_max_age_days * d);
	/* an objection keeps the choice in force: the same */
	st.action = CG_ACT_OBJECTION;
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + cfg.refusal_max_age_days * d);
	/* a withdrawal or an erasure ends it when recorded */
	st.action = CG_ACT_WITHDRAW;
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + 5 * d);
	st.action = CG_ACT_ERASE;
	st.choice_at_ms = 0;
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + 5 * d);
	/* no choice ever made (an objection first): from when it was recorded */
	st.action = CG_ACT_OBJECTION;
	assert_int_equal(cg_rules_consent_ended_ms(&cfg, &st), t + 5 * d + cfg.refusal_max_age_days * d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_effect_per_action),
		cmocka_unit_test(test_retention_cutoffs),
		cmocka_unit_test(test_deliverable_72h),
		cmocka_unit_test(test_consent_ended),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
