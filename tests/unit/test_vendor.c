/* Vendors as data: the shipped catalogue (values, not only keys), the
 * checks of one vendor, [vendor.NAME] and [destination.X] vendor in the
 * configuration, and the list the banner shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/err.h"
#include "consentgate/event.h"
#include "consentgate/transfer.h"
#include "consentgate/vendor.h"

#define MIN "[server]\nsite = example.no\n[policy]\nversion = 2023-12\n"

static struct cg_catalogue cat;
static struct cg_config cfg;
static char err[512];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc(1 << 18);
	size_t n;

	assert_non_null(f);
	n = fread(b, 1, (1 << 18) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static int setup(void **state)
{
	char *text = slurp(CG_CATALOGUE_FILE);
	int rc = cg_catalogue_parse(text, "vendors.ini", &cat, err, sizeof err);

	(void)state;
	free(text);
	if (rc != CG_OK)
		fprintf(stderr, "catalogue: %s\n", err);
	return rc;
}

/* every word of a space-separated list passes ok */
static void each_word(const char *vendor, const char *list, int (*ok)(const char *))
{
	char w[256];

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		assert_true(n < sizeof w);
		memcpy(w, p, n);
		w[n] = '\0';
		if (!ok(w))
			fail_msg("[%s]: '%s' is not valid", vendor, w);
		p += n + (p[n] == ' ');
	}
}

static void test_catalogue_complete(void **state)
{
	static const char *const needed[] = {
		"google-analytics", "google-tag-manager", "google-ads", "hotjar", "microsoft-clarity",
		"microsoft-uet", "meta-pixel", "linkedin-insight", "tiktok-pixel", "youtube", "vimeo",
		"google-maps", "matomo",
	};
	(void)state;
	for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
		if (!cg_catalogue_find(&cat, needed[i]))
			fail_msg("the catalogue lacks %s", needed[i]);
	for (int i = 0; i < cat.n; i++) {
		const struct cg_vendor *v = &cat.v[i];
		int self = strcmp(v->recipient, "self") == 0;
		if (v->category < 0 || v->category > 2)
			fail_msg("[%s] category %d", v->name, v->category);
		if (!v->hosts[0] || !v->recipient[0] || !v->title[0])
			fail_msg("[%s] hosts, recipient and title are needed", v->name);
		each_word(v->name, v->hosts, cg_csp_source_valid);
		each_word(v->name, v->cookies, cg_vendor_pattern_valid);
		each_word(v->name, v->storage, cg_vendor_pattern_valid);
		if (strncmp(v->source, "https://", 8) != 0)
			fail_msg("[%s] source %s is not https", v->name, v->source);
		if (!self && (strlen(v->country) != 2 || strspn(v->country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2))
			fail_msg("[%s] country '%s'", v->name, v->country);
		/* a transfer basis exactly where the country needs one */
		if (!self && !cg_country_adequate(v->country) != !!v->transfer)
			fail_msg("[%s] country %s with transfer basis %d", v->name, v->country, v->transfer);
		if (self && (v->country[0] || v->transfer))
			fail_msg("[%s] a self-hosted vendor sends nothing abroad", v->name);
	}
}

static void test_catalogue_values(void **state)
{
	const struct cg_vendor *ga = cg_catalogue_find(&cat, "google-analytics");
	const struct cg_vendor *hj = cg_catalogue_find(&cat, "hotjar");
	const struct cg_vendor *fb = cg_catalogue_find(&cat, "meta-pixel");
	const struct cg_vendor *pk = cg_catalogue_find(&cat, "matomo");

	(void)state;
	assert_int_equal(ga->category, CG_STATISTICS);
	assert_true(cg_vendor_pattern_match(ga->cookies, "_ga", 3));
	assert_true(cg_vendor_pattern_match(ga->cookies, "_ga_X1Y2Z3", 10));
	assert_false(cg_vendor_pattern_match(ga->cookies, "_gat", 4));
	assert_string_equal(ga->country, "US");
	assert_string_equal(cg_transfer_name(ga->transfer), "dpf");
	assert_string_equal(hj->country, "MT");
	assert_int_equal(hj->transfer, 0);
	assert_true(cg_vendor_pattern_match(hj->cookies, "_hjSessionUser_123", 18));
	assert_int_equal(fb->category, CG_MARKETING);
	assert_true(cg_vendor_pattern_match(fb->cookies, "_fbp", 4));
	assert_string_equal(pk->recipient, "self");
	assert_true(cg_vendor_pattern_match(pk->cookies, "_pk_id.1.1fff", 13));
	assert_string_equal(pk->hosts, "'self'");
}

static void test_csp_sources(void **state)
{
	static const char *const good[] = {
		"'self'", "https:", "wss:", "example.com", "*.example.com", "https://www.google.com",
		"https://*.hotjar.com", "wss://*.hotjar.com", "https://a.example:8443", "https://a.example/path/x.js",
	};
	static const char *const bad[] = {
		"", "*", "'unsafe-inline'", "http", "https://", "https://*", "localhost", "ex ample.com",
		"https://Example.com", "example..com", ".example.com", "https://a.example:", "https://a.example:123456",
		"https://a.example/p?q", "javascript:alert(1)x", "https://a.example;script-src", "*.*.example.com",
		"'self", "data:;",
	};
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!cg_csp_source_valid(good[i]))
			fail_msg("'%s' should be a source expression", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cg_csp_source_valid(bad[i]))
			fail_msg("'%s' should not be a source expression", bad[i]);
	assert_true(cg_vendor_pattern_valid("_ga_*"));
	assert_false(cg_vendor_pattern_valid("*"));
	assert_false(cg_vendor_pattern_valid("_g*a"));
	assert_false(cg_vendor_pattern_valid("a;b"));
}

static void catalogue_error(const char *text, const char *want)
{
	struct cg_catalogue *c = malloc(sizeof *c);

	assert_int_equal(cg_catalogue_parse(text, "v.ini", c, err, sizeof err), CG_ERR_CONFIG);
	free(c);
	if (!strstr(err, want))
		fail_msg("error [%s] does not contain [%s]", err, want);
}

#define ENTRY "[x]\ncategory = statistics\nhosts = x.example\ncookies = _x\nstorage =\nrecipient = X AS\nsource = https://x.example/cookies\n"

static void test_catalogue_refusals(void **state)
{
	struct cg_catalogue *c = malloc(sizeof *c);

	(void)state;
	assert_int_equal(cg_catalogue_parse(ENTRY "country = NO\n", "v.ini", c, err, sizeof err), CG_OK);
	free(c);
	catalogue_error(ENTRY, "[x] country: is required");
	catalogue_error(ENTRY "country = US\n", "[x] transfer_basis: is required: US");
	catalogue_error(ENTRY "country = SE\ntransfer_basis = scc\n", "[x] transfer_basis: must not be given");
	catalogue_error(ENTRY "country = NO\ncolour = red\n", "[x] colour: unknown key");
	catalogue_error(ENTRY "country = no\n", "[x] country: must be an ISO 3166-1");
	catalogue_error("[x]\nhosts = x.example 'unsafe-inline'\n", "'unsafe-inline' is not a CSP source expression");
	catalogue_error("[x]\nsource = http://x.example/\n", "[x] source: must be an https://");
	catalogue_error("[x]\ncookies = a;b\n", "[x] cookies: 'a;b' is not a name");
	catalogue_error(ENTRY "country = NO\n[y]\ntitle = Y\n[x]\ntitle = again\n", "[x] title: a vendor is one section");
}

static int parse_vendors(const char *text)
{
	int rc = cg_config_parse(text, "test.ini", &cfg, err, sizeof err);

	return rc == CG_OK ? cg_config_vendors(&cfg, &cat, "test.ini", err, sizeof err) : rc;
}

static void config_error(const char *text, const char *want)
{
	assert_int_equal(parse_vendors(text), CG_ERR_CONFIG);
	if (!strstr(err, want))
		fail_msg("error [%s] does not contain [%s]", err, want);
}

static void test_site_vendors(void **state)
{
	(void)state;
	/* a catalogue name needs no keys; a key overrides */
	assert_int_equal(parse_vendors(MIN "[vendor.youtube]\n[vendor.hotjar]\ncookies = _hjid\n"), CG_OK);
	assert_int_equal(cfg.n_vendors, 2);
	assert_string_equal(cfg.vendors[0].name, "youtube");
	assert_int_equal(cfg.vendors[0].category, CG_MARKETING);
	assert_string_equal(cfg.vendors[0].country, "US");
	assert_string_equal(cfg.vendors[1].cookies, "_hjid");
	assert_string_equal(cfg.vendors[1].recipient, "Hotjar Ltd");
	/* a country given drops the catalogue's transfer basis */
	assert_int_equal(parse_vendors(MIN "[vendor.google-analytics]\ncountry = IE\n"), CG_OK);
	assert_int_equal(cfg.vendors[0].transfer, 0);
	/* an unknown vendor must give every key, named by file and line */
	config_error(MIN "\n[vendor.shopchat]\ncategory = preferences\n", "test.ini:6: [vendor.shopchat] hosts: is required");
	config_error(MIN "[vendor.shopchat]\n", "test.ini:5: [vendor.shopchat] category: 'shopchat' is not in the vendor catalogue");
	config_error(MIN "[vendor.youtube]\ncolour = red\n", "test.ini:6: [vendor.youtube] colour: unknown key");
	config_error(MIN "[vendor.youtube]\ncategory = ads\n", "test.ini:6: [vendor.youtube] category: must be");
	config_error(MIN "[vendor.youtube]\ncountry = CN\n", "test.ini:5: [vendor.youtube] transfer_basis: is required: CN");
	config_error(MIN "[vendor.YouTube]\n", "[vendor] YouTube: vendor names use");
	assert_int_equal(parse_vendors(MIN "[vendor.shopchat]\ncategory = preferences\nhosts = chat.example\ncookies =\n"
	                               "storage = chat_*\nrecipient = Chat AS\ncountry = NO\nsource = https://chat.example/\n"),
	                 CG_OK);
	assert_true(cg_vendor_pattern_match(cfg.vendors[0].storage, "chat_x", 6));
}

#define DEST "[destination.hook]\ntype = webhook\nurl = http://127.0.0.1/h\npurpose = statistics\n"

static void test_destination_vendor(void **state)
{
	(void)state;
	assert_int_equal(parse_vendors(MIN "[vendor.hotjar]\n" DEST "vendor = hotjar\n"), CG_OK);
	assert_string_equal(cfg.dest[0].recipient, "Hotjar Ltd");
	assert_string_equal(cfg.dest[0].country, "MT");
	assert_int_equal(parse_vendors(MIN "[vendor.google-analytics]\n" DEST "vendor = google-analytics\n"), CG_OK);
	assert_string_equal(cfg.dest[0].country, "US");
	assert_string_equal(cg_transfer_name(cfg.dest[0].transfer), "dpf");
	/* the destination's own keys override */
	assert_int_equal(parse_vendors(MIN "[vendor.hotjar]\n" DEST "vendor = hotjar\nrecipient = Proxy AS\ncountry = NO\n"),
	                 CG_OK);
	assert_string_equal(cfg.dest[0].recipient, "Proxy AS");
	assert_string_equal(cfg.dest[0].country, "NO");
	/* self-hosted: the controller */
	assert_int_equal(parse_vendors(MIN "[controller]\nname = Butikken AS\n[vendor.matomo]\n" DEST "vendor = matomo\n"), CG_OK);
	assert_string_equal(cfg.dest[0].recipient, "Butikken AS");
	config_error(MIN DEST "vendor = hotjar\n", "[destination.hook] vendor: 'hotjar' is not a vendor in use");
	config_error(MIN "[vendor.hotjar]\n" DEST "vendor = hotjar\ncountry = US\n", "[destination.hook] vendor: US is outside");
}

static void test_fingerprint(void **state)
{
	char a[CG_FINGERPRINT_LEN + 1], b[CG_FINGERPRINT_LEN + 1];

	(void)state;
	assert_int_equal(parse_vendors(MIN "[vendor.hotjar]\n"), CG_OK);
	cg_config_fingerprint(&cfg, a);
	assert_int_equal(parse_vendors(MIN "[vendor.hotjar]\ncookies = _hjid\n"), CG_OK);
	cg_config_fingerprint(&cfg, b);
	assert_string_not_equal(a, b);
	assert_int_equal(parse_vendors(MIN), CG_OK);
	cg_config_fingerprint(&cfg, b);
	assert_string_not_equal(a, b);
}

static void test_list(void **state)
{
	struct cg_buf b;
	char id[CG_VENDORS_ID_LEN + 1], want[CG_VENDORS_ID_LEN + 1];
	uint8_t d[32];

	(void)state;
	assert_int_equal(parse_vendors(MIN "[vendor.hotjar]\ncookies = _hjid _hjSession_*\n[vendor.matomo]\n"), CG_OK);
	cg_buf_init(&b, CG_VENDOR_LIST_MAX);
	assert_int_equal(cg_vendor_list(cfg.vendors, cfg.n_vendors, "Butikken AS", &b, id), CG_OK);
	assert_string_equal(b.p,
		"[{\"name\":\"hotjar\",\"title\":\"Hotjar\",\"category\":\"statistics\",\"recipient\":\"Hotjar Ltd\","
		"\"country\":\"MT\",\"transfer_basis\":null,\"cookies\":[\"_hjid\",\"_hjSession_*\"],\"storage\":[\"_hj*\"]},"
		"{\"name\":\"matomo\",\"title\":\"Matomo (self-hosted)\",\"category\":\"statistics\",\"recipient\":\"Butikken AS\","
		"\"country\":null,\"transfer_basis\":null,\"cookies\":[\"_pk_id.*\",\"_pk_ses.*\",\"_pk_ref.*\",\"_pk_cvar.*\","
		"\"_pk_hsr.*\",\"_pk_testcookie*\",\"mtm_consent\",\"mtm_consent_removed\",\"mtm_cookie_consent\"],\"storage\":[]}]");
	/* the id is what sha256sum prints for those bytes */
	crypto_hash_sha256(d, (const uint8_t *)b.p, b.len);
	sodium_bin2hex(want, sizeof want, d, sizeof d);
	assert_string_equal(id, want);
	assert_true(cg_vendors_id_valid(id));
	assert_false(cg_vendors_id_valid("abc"));
	cg_buf_free(&b);
}

/* consentgated -t -v: each vendor written as a section that reads back the
 * same, a catalogue one (a self-hosted one too) with no keys of its own */
static void test_write_reads_back(void **state)
{
	static struct cg_config back;
	struct cg_buf b;

	(void)state;
	assert_int_equal(parse_vendors(MIN "[vendor.matomo]\n[vendor.google-analytics]\ncookies = _ga\n"), CG_OK);
	cg_buf_init(&b, 1 << 16);
	assert_int_equal(cg_buf_adds(&b, MIN), CG_OK);
	for (int i = 0; i < cfg.n_vendors; i++)
		assert_int_equal(cg_vendor_write(&cfg.vendors[i], &b), CG_OK);
	assert_non_null(strstr(b.p, "[vendor.matomo]\ntitle = Matomo (self-hosted)\ncategory = statistics\n"));
	assert_null(strstr(b.p, "country = \n"));
	assert_int_equal(cg_config_parse(b.p, "back.ini", &back, err, sizeof err), CG_OK);
	assert_int_equal(cg_config_vendors(&back, NULL, "back.ini", err, sizeof err), CG_OK);
	assert_int_equal(back.n_vendors, 2);
	for (int i = 0; i < 2; i++) {
		const struct cg_vendor *x = &cfg.vendors[i], *y = &back.vendors[i];
		assert_string_equal(x->name, y->name);
		assert_string_equal(x->title, y->title);
		assert_int_equal(x->category, y->category);
		assert_string_equal(x->hosts, y->hosts);
		assert_string_equal(x->cookies, y->cookies);
		assert_string_equal(x->storage, y->storage);
		assert_string_equal(x->recipient, y->recipient);
		assert_string_equal(x->country, y->country);
		assert_int_equal(x->transfer, y->transfer);
		assert_string_equal(x->source, y->source);
	}
	/* the same list, the same id */
	assert_string_equal(cfg.vendors_id, back.vendors_id);
	cg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalogue_complete),
		cmocka_unit_test(test_catalogue_values),
		cmocka_unit_test(test_csp_sources),
		cmocka_unit_test(test_catalogue_refusals),
		cmocka_unit_test(test_site_vendors),
		cmocka_unit_test(test_destination_vendor),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_write_reads_back),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
