#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/transfer.h"
#include "consentgate/err.h"
#include "consentgate/event.h"

#define MIN "[server]\nsite = example.no\n[policy]\nversion = 2023-12\n"

static struct cg_config cfg;
static char err[512];

static int parse(const char *text)
{
	return cg_config_parse(text, "test.ini", &cfg, err, sizeof err);
}

static void expect_error(const char *text, const char *want)
{
	assert_int_equal(parse(text), CG_ERR_CONFIG);
	if (!strstr(err, want))
		fail_msg("error [%s] does not contain [%s]", err, want);
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(MIN), CG_OK);
	assert_string_equal(cfg.listen, "/run/consentgate/fcgi.sock");
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.max_inflight_bytes, 8 * 1024 * 1024);
	assert_string_equal(cfg.base_path, "/consent");
	assert_int_equal(cfg.consent_max_age_days, 365);
	assert_int_equal(cfg.refusal_max_age_days, 180);
	assert_true(cfg.cookie_secure);
	assert_true(cfg.refusal_is_objection);
	assert_int_equal(cfg.gpc, CG_GPC_MARKETING);
	assert_int_equal(cfg.ipv4_prefix, 24);
	assert_int_equal(cfg.ipv6_prefix, 48);
	assert_string_equal(cfg.country_path, "country.iso_code");
	assert_int_equal(cfg.ip_prefix_days, 730);
	assert_int_equal(cfg.events_days_after_end, 1095);
	assert_int_equal(cfg.outbox_delivered_days, 7);
	assert_string_equal(cg_config_id_cookie(&cfg), "__Host-cg_id");
}

static const char FULL[] =
	"; comment\n"
	"[server]\n"
	"listen = 127.0.0.1:9000   ; inline comment\n"
	"workers = 4\n"
	"base_path = /cmp\n"
	"site = example.no\n"
	"socket_group = www-data\n"
	"[policy]\n"
	"version = 2024-01.b\n"
	"consent_max_age_days = 395\n"
	"refusal_max_age_days = 1\n"
	"allowed_origins = https://example.no https://www.example.no\n"
	"cookie_secure = false\n"
	"refusal_is_objection = no\n"
	"gpc = all\n"
	"[storage]\n"
	"database = /tmp/x.db\n"
	"[geoip]\n"
	"country_path = country_code\n"
	"ipv4_prefix = 16\n"
	"ipv6_prefix = 56\n"
	"[destination.ga4]\n"
	"type = ga4\n"
	"url = http://127.0.0.1:8080/_ga/mp/collect\n"
	"measurement_id = G-XXXXXXXXXX\n"
	"api_secret = CHANGE_ME\n"
	"purpose = statistics\n"
	"basis = consent\n"
	"[destination.hook]\n"
	"type = webhook\n"
	"url = https://tags.example.no/x\n"
	"purpose = statistics\n"
	"basis = legitimate_interest\n";

static void test_full(void **state)
{
	(void)state;
	assert_int_equal(parse(FULL), CG_OK);
	assert_string_equal(cfg.listen, "127.0.0.1:9000");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.n_origins, 2);
	assert_string_equal(cfg.allowed_origins[1], "https://www.example.no");
	assert_false(cfg.cookie_secure);
	assert_string_equal(cg_config_id_cookie(&cfg), "cg_id");
	assert_false(cfg.refusal_is_objection);
	assert_int_equal(cfg.gpc, CG_GPC_ALL);
	assert_int_equal(cfg.n_dest, 2);
	assert_string_equal(cfg.dest[0].name, "ga4");
	assert_int_equal(cfg.dest[0].type, CG_DEST_GA4);
	assert_int_equal(cfg.dest[0].purpose, CG_STATISTICS);
	assert_int_equal(cfg.dest[1].basis, CG_BASIS_LEGITIMATE_INTEREST);
}

static void test_errors_name_line_and_key(void **state)
{
	(void)state;
	expect_error(MIN "[server]\nbogus = 1\n", "test.ini:6: [server] bogus: unknown key");
	expect_error(MIN "[nosuch]\nx = 1\n", "test.ini:6: [nosuch] x: unknown section");
	expect_error("[server]\nworkers = many\n", "test.ini:2: [server] workers: must be a whole number");
	expect_error("[server]\nworkers = 0\n", "workers: must be a whole number from 1 to 1024");
	expect_error("[server]\nworkers = 5x\n", "test.ini:2");
	expect_error("[policy]\n\n\ncookie_secure = maybe\n", "test.ini:4: [policy] cookie_secure: must be true or false");
	expect_error("[policy]\ngpc = some\n", "gpc: unknown value 'some'");
	expect_error("[policy]\nconsent_max_age_days = 400\n", "consent_max_age_days");
	expect_error("[policy]\nallowed_origins = https://ok.no example.no\n", "'example.no' is not an origin");
	expect_error("[policy]\nallowed_origins = https://ok.no/path\n", "is not an origin");
	expect_error(MIN "[server]\nsite = again\n", "site: given twice");
	expect_error("[server]\nsite = x\n", "[policy] version: is required");
	expect_error("[policy]\nversion = 1\n", "[server] site: is required");
	expect_error(MIN "[server]\nbase_path = consent\n", "base_path");
	expect_error(MIN "[server]\nbase_path = /consent/\n", "base_path");
	expect_error("[server]\nsite = x\n[policy]\nversion = a b\n", "version");
	expect_error("[geoip]\nipv4_prefix = 33\n", "ipv4_prefix");
	expect_error("x = 1\n", "unknown section");
	expect_error("[server\n", "syntax error");
}

static void test_long_line(void **state)
{
	char text[600];

	(void)state;
	snprintf(text, sizeof text, "[server]\nsite = %0300d\n", 1);
	expect_error(text, "test.ini:2");
	expect_error(text, "line too long");
}

static void test_destinations(void **state)
{
	(void)state;
	expect_error(MIN "[destination.ads]\ntype = webhook\nurl = http://x/\npurpose = marketing\n"
	             "basis = legitimate_interest\n",
	             "[destination.ads] basis: marketing cannot rest on legitimate interest");
	expect_error(MIN "[destination.g]\ntype = ga4\nurl = http://x/\npurpose = statistics\n",
	             "measurement_id: is required");
	expect_error(MIN "[destination.g]\ntype = ga4\nurl = http://x/\npurpose = statistics\n"
	             "measurement_id = G-1\n", "api_secret: is required");
	expect_error(MIN "[destination.g]\ntype = ftp\n", "type: unknown value 'ftp'");
	expect_error(MIN "[destination.g]\ntype = webhook\nurl = ftp://x/\npurpose = statistics\n",
	             "url: must be an http:// or https:// URL");
	expect_error(MIN "[destination.g]\ntype = webhook\nurl = http:///x\npurpose = statistics\n",
	             "url");
	expect_error(MIN "[destination.g]\ntype = webhook\nurl = http://x/\n", "purpose: is required");
	expect_error(MIN "[destination.g]\nurl = http://x/\npurpose = statistics\n", "type: is required");
	expect_error(MIN "[destination.g]\ntype = webhook\ntype = ga4\n", "type: given twice");
	expect_error(MIN "[destination.Bad Name]\ntype = webhook\n", "destination names");
	expect_error(MIN "[destination.g]\ncolour = red\n", "[destination.g] colour: unknown key");
	/* the error for a missing key names the section's line */
	expect_error(MIN "\n[destination.g]\ntype = webhook\nurl = http://x/\n", "test.ini:6:");
}

#define HOOK MIN "[destination.h]\ntype = webhook\nurl = http://x/\npurpose = statistics\n"

/* recipients, countries and the basis of transfers outside the EU/EEA */
static void test_transfers(void **state)
{
	(void)state;
	expect_error(HOOK "recipient = Hotjar Ltd\ncountry = US\n",
	             "[destination.h] transfer_basis: is required: US is outside the EU/EEA");
	expect_error(HOOK "country = us\n", "[destination.h] country: must be an ISO 3166-1 alpha-2 code");
	expect_error(HOOK "transfer_basis = scc\n", "[destination.h] country: is required with transfer_basis");
	expect_error(HOOK "country = US\ntransfer_basis = maybe\n", "transfer_basis: unknown value 'maybe'");
	assert_int_equal(parse(HOOK "recipient = Hotjar Ltd\ncountry = MT\n"), CG_OK);     /* the EU */
	assert_true(cg_destination_declared(&cfg.dest[0]));
	assert_int_equal(parse(HOOK "recipient = Acme\ncountry = GB\n"), CG_OK);           /* adequacy */
	assert_int_equal(parse(HOOK "recipient = Acme Inc\ncountry = US\ntransfer_basis = scc\n"), CG_OK);
	assert_int_equal(cfg.dest[0].transfer, CG_TRANSFER_SCC);
	/* nothing declared: it runs, and says so */
	assert_int_equal(parse(HOOK), CG_OK);
	assert_false(cg_destination_declared(&cfg.dest[0]));
	/* ga4 names its known recipient unless told otherwise */
	assert_int_equal(parse(MIN "[destination.g]\ntype = ga4\nurl = http://x/\npurpose = statistics\n"
	                       "measurement_id = G-1\napi_secret = s\n"), CG_OK);
	assert_string_equal(cfg.dest[0].country, "US");
	assert_int_equal(cfg.dest[0].transfer, CG_TRANSFER_DPF);
	assert_true(cg_destination_declared(&cfg.dest[0]));
	/* erasures reach GA4 only with all three of its deletion settings */
	expect_error(MIN "[destination.g]\ntype = ga4\nurl = http://x/\npurpose = statistics\nmeasurement_id = G-1\n"
	             "api_secret = s\nproperty_id = 1\ndeletion_url = http://x/del\n",
	             "[destination.g] deletion_token_file: erasures reach GA4 only with all of");
	expect_error(MIN "[destination.g]\ntype = ga4\nurl = http://x/\npurpose = statistics\nmeasurement_id = G-1\n"
	             "api_secret = s\ndeletion_url = ftp://x/\n", "[destination.g] deletion_url: must be an http");
	assert_true(cg_country_adequate("NO") && cg_country_adequate("CH") && !cg_country_adequate("US") &&
	            !cg_country_adequate("CN") && !cg_country_adequate("N") && !cg_country_adequate("NOR"));
}

static void test_storage(void **state)
{
	(void)state;
	assert_int_equal(parse(MIN), CG_OK);
	assert_int_equal(cfg.backend, CG_BACKEND_SQLITE);
	assert_int_equal(cfg.read_timeout_ms, 50);
	assert_int_equal(cfg.write_timeout_ms, 5000);
	assert_int_equal(cfg.connect_timeout_ms, 2000);
	assert_int_equal(cfg.lease_seconds, 300);
	assert_int_equal(parse(MIN "[storage]\nbackend = postgresql\n"
	                           "url = postgresql://cg@db1,db2/consent?target_session_attrs=read-write\n"
	                           "read_timeout_ms = 80\n"), CG_OK);
	assert_int_equal(cfg.backend, CG_BACKEND_POSTGRESQL);
	assert_string_equal(cfg.url, "postgresql://cg@db1,db2/consent?target_session_attrs=read-write");
	assert_int_equal(cfg.read_timeout_ms, 80);
	expect_error(MIN "[storage]\nbackend = postgresql\n", "[storage] url: is required for backend = postgresql");
	expect_error(MIN "[storage]\nbackend = mysql\n", "[storage] backend: unknown value 'mysql'");
	expect_error(MIN "[storage]\nread_timeout_ms = 1\n", "read_timeout_ms: must be a whole number from 5");
	/* a claimed row must be sent well inside its lease */
	expect_error(MIN "[forwarder]\ntimeout_ms = 10000\nlease_seconds = 20\n",
	             "[forwarder] lease_seconds: must be at least 3 x timeout_ms (30 s)");
}

/* Instances sharing a database must agree on what decides; listen,
 * workers, timeouts, limits and paths may differ. */
static void test_fingerprint(void **state)
{
	char a[CG_FINGERPRINT_LEN + 1], b[CG_FINGERPRINT_LEN + 1];
	const char *same[] = {
		"[server]\nlisten = /run/b.sock\nworkers = 4\n",
		"[storage]\ndatabase = /tmp/other.db\n",
		"[storage]\nbackend = postgresql\nurl = host=x\nwrite_timeout_ms = 900\n",
		"[limits]\noutbox_max_rows = 500\n",
		"[forwarder]\nconcurrency = 2\n",
	};
	const char *differ[] = {
		"[policy]\nconsent_max_age_days = 200\n",
		"[policy]\ngpc = all\n",
		"[retention]\nip_prefix_days = 30\n",
		"[geoip]\nipv4_prefix = 16\n",
		"[destination.h]\ntype = webhook\nurl = http://x/\npurpose = statistics\n",
		"[destination.h]\ntype = webhook\nurl = http://x/\npurpose = statistics\nbasis = legitimate_interest\n",
	};
	char text[512];

	(void)state;
	assert_int_equal(parse(MIN), CG_OK);
	cg_config_fingerprint(&cfg, a);
	assert_int_equal(strlen(a), CG_FINGERPRINT_LEN);
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		snprintf(text, sizeof text, "%s%s", MIN, same[i]);
		if (parse(text) != CG_OK)
			fail_msg("%s", err);
		cg_config_fingerprint(&cfg, b);
		if (strcmp(a, b) != 0)
			fail_msg("[%s] changed the fingerprint", same[i]);
	}
	assert_int_equal(parse("[server]\nsite = example.no\n[policy]\nversion = 2024-06\n"), CG_OK);
	cg_config_fingerprint(&cfg, b);
	assert_string_not_equal(a, b); /* the policy version */
	for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
		snprintf(text, sizeof text, "%s%s", MIN, differ[i]);
		if (parse(text) != CG_OK)
			fail_msg("%s", err);
		cg_config_fingerprint(&cfg, b);
		if (strcmp(a, b) == 0)
			fail_msg("[%s] left the fingerprint as it was", differ[i]);
		if (i == 4) /* the basis of an otherwise equal destination counts too */
			strcpy(a, b);
	}
}

/* consentgated -t -v: the configuration in effect reads back as itself,
 * defaults written out, unset keys as "key =", the GA4 secret never. */
#define WANT_HEAD "[server]\nlisten = /run/consentgate/fcgi.sock\nsocket_group =\nworkers = 2\n"
static void test_written_reads_back(void **state)
{
	struct cg_buf out;
	char fp1[CG_FINGERPRINT_LEN + 1], fp2[CG_FINGERPRINT_LEN + 1];

	(void)state;
	cg_buf_init(&out, 64 * 1024);
	assert_int_equal(parse(MIN), CG_OK);
	assert_int_equal(cg_config_write(&cfg, &out), CG_OK);
	if (strncmp(out.p, WANT_HEAD, strlen(WANT_HEAD)) != 0)
		fail_msg("written: [%.200s]", out.p);
	assert_non_null(strstr(out.p, "\nmax_inflight_bytes = 8388608\n"));
	assert_non_null(strstr(out.p, "\n[policy]\nversion = 2023-12\n"));
	assert_non_null(strstr(out.p, "\ncookie_secure = true\n"));
	assert_non_null(strstr(out.p, "\ngpc = marketing\n"));
	assert_non_null(strstr(out.p, "\nallowed_origins =\n"));
	assert_null(strstr(out.p, "[destination."));
	cg_buf_reset(&out);

	assert_int_equal(parse(FULL), CG_OK);
	cg_config_fingerprint(&cfg, fp1);
	assert_int_equal(cg_config_write(&cfg, &out), CG_OK);
	assert_non_null(strstr(out.p, "\nallowed_origins = https://example.no https://www.example.no\n"));
	assert_non_null(strstr(out.p, "\n[destination.ga4]\ntype = ga4\n"));
	assert_non_null(strstr(out.p, "\napi_secret = (set, not printed)\n"));
	assert_null(strstr(out.p, "CHANGE_ME"));
	assert_non_null(strstr(out.p, "\n[destination.hook]\ntype = webhook\n"));
	if (parse(out.p) != CG_OK)
		fail_msg("%s in [%s]", err, out.p);
	cg_config_fingerprint(&cfg, fp2);
	assert_string_equal(fp1, fp2);
	assert_string_equal(cfg.listen, "127.0.0.1:9000");
	assert_false(cfg.cookie_secure);
	cg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors_name_line_and_key),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_transfers),
		cmocka_unit_test(test_storage),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_written_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
