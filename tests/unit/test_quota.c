#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "consentgate/quota.h"

#define HOUR 3600000LL
#define T0 (1700000000000LL / HOUR * HOUR) /* the start of an hour */

static void test_budget_per_key_and_hour(void **state)
{
	struct cg_quota *q = malloc(sizeof *q);
	int retry = 0;

	(void)state;
	cg_quota_init(q);
	assert_true(cg_quota_fits(q, 42, T0, 600, 1000, 1, &retry));
	assert_int_equal(retry, 3600);
	assert_true(cg_quota_fits(q, 42, T0 + 1000, 400, 1000, 1, &retry)); /* exactly the limit */
	assert_int_equal(retry, 3599);
	assert_false(cg_quota_fits(q, 42, T0 + 2000, 1, 1000, 1, NULL));
	assert_true(cg_quota_fits(q, 43, T0 + 2000, 1000, 1000, 1, NULL)); /* another key */
	/* without charging nothing is counted */
	assert_true(cg_quota_fits(q, 44, T0, 1000, 1000, 0, NULL));
	assert_true(cg_quota_fits(q, 44, T0, 1000, 1000, 1, NULL));
	/* the next hour starts afresh */
	assert_true(cg_quota_fits(q, 42, T0 + HOUR, 1000, 1000, 1, &retry));
	assert_int_equal(retry, 3600);
	assert_false(cg_quota_fits(q, 42, T0 + 2 * HOUR - 1, 1, 1000, 1, &retry));
	assert_int_equal(retry, 1);
	free(q);
}

static void test_collisions_forget_the_smallest(void **state)
{
	struct cg_quota *q = malloc(sizeof *q);

	(void)state;
	cg_quota_init(q);
	/* eight keys that share one slot group fill it; the big one stays counted */
	assert_true(cg_quota_fits(q, 7, T0, 900, 1000, 1, NULL));
	for (uint64_t k = 1; k < 8; k++)
		assert_true(cg_quota_fits(q, 7 + k * CG_QUOTA_SLOTS, T0, 10 + k, 1000, 1, NULL));
	/* a ninth key takes the slot of the smallest (10 + 1 bytes) */
	assert_true(cg_quota_fits(q, 7 + 9 * CG_QUOTA_SLOTS, T0, 5, 1000, 1, NULL));
	assert_false(cg_quota_fits(q, 7, T0, 200, 1000, 1, NULL)); /* still 900 */
	assert_true(cg_quota_fits(q, 7 + 1 * CG_QUOTA_SLOTS, T0, 1000, 1000, 1, NULL)); /* forgotten */
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_per_key_and_hour),
		cmocka_unit_test(test_collisions_forget_the_smallest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
