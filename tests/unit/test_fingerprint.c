/* The configuration fingerprint (config.h): instances sharing a database
 * compare it, so it is pinned here — a change to its input is a change to
 * what every running instance computes, and a rolling upgrade would split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/err.h"

#define BASE "[server]\nsite = shop.example\n[policy]\nversion = 2023-12\n" \
	"allowed_origins = https://shop.example\n"
#define DEST "[destination.li]\ntype = webhook\nurl = http://127.0.0.1/_hook\npurpose = statistics\n" \
	"basis = legitimate_interest\n"

static void fingerprint_of(const char *ini, char out[CG_FINGERPRINT_LEN + 1])
{
	static struct cg_config cfg;
	char err[256];

	assert_int_equal(cg_config_parse(ini, "t", &cfg, err, sizeof err), CG_OK);
	cg_config_fingerprint(&cfg, out);
}

static void test_pinned(void **state)
{
	char fp[CG_FINGERPRINT_LEN + 1];

	(void)state;
	fingerprint_of(BASE, fp);
	assert_int_equal(strlen(fp), CG_FINGERPRINT_LEN);
	assert_string_equal(fp, "af117b5fca2eca3838c98b8df971d74cd69c6284984b6d771e5fafc11f3f3290");
}

/* what instances must agree on changes it; what each may hold its own does not */
static void test_what_counts(void **state)
{
	char base[CG_FINGERPRINT_LEN + 1], fp[CG_FINGERPRINT_LEN + 1];

	(void)state;
	fingerprint_of(BASE, base);
	fingerprint_of(BASE "[server]\nworkers = 3\n", fp);
	assert_string_equal(fp, base);
	fingerprint_of("[server]\nsite = shop.example\n[policy]\nversion = 2024-01\n"
	               "allowed_origins = https://shop.example\n", fp);
	assert_string_not_equal(fp, base);
	fingerprint_of(BASE "[policy]\nconsent_max_age_days = 100\n", fp);
	assert_string_not_equal(fp, base);
	fingerprint_of(BASE DEST, fp);
	assert_string_not_equal(fp, base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_what_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
