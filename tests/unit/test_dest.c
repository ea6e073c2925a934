/* The destination kinds' table (dest.h): every kind of CG_DEST_KINDS is
 * registered with all its operations, found by its name and no other, an
 * unknown kind is refused (by the lookup and by the configuration, whose
 * message lists the kinds), and each kind answers for its own keys. Pure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/dest.h"
#include "consentgate/err.h"

static struct cg_config cfg;
static char err[512];

#define HEAD "[server]\nsite = shop.example\n[policy]\nversion = 2023-12\ncookie_secure = false\n"

static int parse(const char *text)
{
	return cg_config_parse(text, "t.ini", &cfg, err, sizeof err);
}

static void test_each_kind_registered(void **state)
{
	(void)state;
	assert_int_equal(CG_DEST_NKINDS, 2);
	for (int i = 0; i < CG_DEST_NKINDS; i++) {
		const struct cg_destkind *k = cg_dest_kind(i);
		assert_non_null(k);
		assert_non_null(cg_dest_kind_names[i]);
		assert_int_equal(cg_dest_kind_named(cg_dest_kind_names[i]), i);
		assert_non_null(k->label);
		assert_non_null(k->payload_head);
		assert_non_null(k->check);
		assert_non_null(k->erasure_possible);
		assert_non_null(k->erasure_notice);
	}
	assert_null(cg_dest_kind_names[CG_DEST_NKINDS]);
	assert_string_equal(cg_dest_kind_names[CG_DEST_GA4], "ga4");
	assert_string_equal(cg_dest_kind_names[CG_DEST_WEBHOOK], "webhook");
	assert_string_equal(cg_dest_kind(CG_DEST_GA4)->label, "Google Analytics 4 (Measurement Protocol)");
	assert_string_equal(cg_dest_kind(CG_DEST_WEBHOOK)->label, "webhook");
	assert_true(cg_dest_kind(CG_DEST_GA4)->event_time);
	assert_false(cg_dest_kind(CG_DEST_WEBHOOK)->event_time);
}

static void test_unknown_refused(void **state)
{
	(void)state;
	assert_null(cg_dest_kind(-1));
	assert_null(cg_dest_kind(CG_DEST_NKINDS));
	assert_int_equal(cg_dest_kind_named("matomo"), -1);
	assert_int_equal(cg_dest_kind_named("GA4"), -1);
	assert_int_equal(cg_dest_kind_named("ga"), -1);
	assert_int_equal(cg_dest_kind_named(""), -1);
	assert_int_equal(parse(HEAD "[destination.m]\ntype = matomo\nurl = http://127.0.0.1/m\npurpose = statistics\n"),
	                 CG_ERR_CONFIG);
	assert_non_null(strstr(err, "type"));
	assert_int_equal(parse(HEAD "[destination.m]\nurl = http://127.0.0.1/m\npurpose = statistics\n"),
	                 CG_ERR_CONFIG);
	assert_non_null(strstr(err, "is required (ga4 or webhook)"));
}

static void test_kind_list(void **state)
{
	char out[64], tiny[6];

	(void)state;
	assert_string_equal(cg_dest_kind_list(out, sizeof out), "ga4 or webhook");
	assert_string_equal(cg_dest_kind_list(tiny, sizeof tiny), "ga4 o");   /* cut, still a string */
}

/* each kind's own keys, through the configuration */
static void test_kind_checks(void **state)
{
	(void)state;
	assert_int_equal(parse(HEAD "[destination.g]\ntype = ga4\nurl = http://127.0.0.1/mp\npurpose = statistics\n"),
	                 CG_ERR_CONFIG);
	assert_non_null(strstr(err, "measurement_id"));
	assert_int_equal(parse(HEAD "[destination.g]\ntype = ga4\nurl = http://127.0.0.1/mp\nmeasurement_id = G-X\n"
	                       "purpose = statistics\n"), CG_ERR_CONFIG);
	assert_non_null(strstr(err, "api_secret"));
	assert_int_equal(parse(HEAD "[destination.g]\ntype = ga4\nurl = http://127.0.0.1/mp\nmeasurement_id = G-X\n"
	                       "api_secret = s\npurpose = statistics\nproperty_id = 42\n"), CG_ERR_CONFIG);
	assert_non_null(strstr(err, "deletion_url"));
	assert_int_equal(parse(HEAD "[destination.g]\ntype = ga4\nurl = http://127.0.0.1/mp\nmeasurement_id = G-X\n"
	                       "api_secret = s\npurpose = statistics\n"), CG_OK);
	/* the kind's defaults: Google, in the US under the DPF */
	assert_string_equal(cfg.dest[0].country, "US");
	assert_false(cg_dest_kind(CG_DEST_GA4)->erasure_possible(&cfg.dest[0]));
	assert_int_equal(parse(HEAD "[destination.w]\ntype = webhook\nurl = http://127.0.0.1/w\npurpose = statistics\n"),
	                 CG_OK);
	assert_string_equal(cfg.dest[0].country, "");
	assert_true(cg_dest_kind(CG_DEST_WEBHOOK)->erasure_possible(&cfg.dest[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_kind_registered),
		cmocka_unit_test(test_unknown_refused),
		cmocka_unit_test(test_kind_list),
		cmocka_unit_test(test_kind_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
