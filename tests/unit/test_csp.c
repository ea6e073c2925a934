/* The per-visitor Content-Security-Policy: every combination of granted
 * categories, the base, frames, the size bound, [csp]'s -t refusals and
 * the fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"
#include "consentgate/event.h"
#include "consentgate/vendor.h"

#define MIN "[server]\nsite = example.no\n[policy]\nversion = 2023-12\n"
/* two vendors given whole (no catalogue needed): statistics and marketing */
#define VENDORS \
	"[vendor.stats]\ncategory = statistics\nhosts = https://stats.example https://cdn.shared.example\n" \
	"cookies = _s\nstorage = s\nrecipient = Stats AS\ncountry = NO\nsource = https://stats.example/doc\n" \
	"[vendor.ads]\ncategory = marketing\nhosts = https://ads.example https://cdn.shared.example\n" \
	"cookies = _a\nstorage = a\nrecipient = Ads AS\ncountry = NO\nsource = https://ads.example/doc\n"

static struct cg_config cfg;
static char err[512];

static int load(const char *text)
{
	int rc = cg_config_parse(text, "t.ini", &cfg, err, sizeof err);

	return rc == CG_OK ? cg_config_vendors(&cfg, NULL, "t.ini", err, sizeof err) : rc;
}

/* the value of one directive ("script-src ...") without its name */
static void directive(const char *policy, const char *name, char *out, size_t n)
{
	const char *p = strstr(policy, name);

	assert_non_null(p);
	p += strlen(name);
	snprintf(out, n, "%.*s", (int)strcspn(p, ";"), p);
}

static void test_every_combination(void **state)
{
	struct cg_csp csp;
	char d[1024];

	(void)state;
	assert_int_equal(load(MIN "[csp]\nmode = enforce\nbase = 'self' 'unsafe-inline' https://cdn.site.example\n"
	                      VENDORS), CG_OK);
	assert_int_equal(cg_csp_build(&cfg, &csp, err, sizeof err), CG_OK);
	assert_string_equal(cg_csp_header(csp.mode), "X-Consentgate-CSP");
	for (unsigned g = 0; g < CG_CSP_COMBOS; g++) {
		const char *p = cg_csp_policy(&csp, g);
		int stats = (g >> CG_STATISTICS) & 1, ads = (g >> CG_MARKETING) & 1;
		assert_non_null(p);
		directive(p, "script-src", d, sizeof d);
		/* the base first, its script keyword only here */
		assert_memory_equal(d, " 'self' 'unsafe-inline' https://cdn.site.example", 47);
		assert_int_equal(strstr(d, "stats.example") != NULL, stats);
		assert_int_equal(strstr(d, "ads.example") != NULL, ads);
		/* a host two granted vendors share appears once */
		if (stats || ads) {
			const char *s = strstr(d, "https://cdn.shared.example");
			assert_non_null(s);
			assert_null(strstr(s + 1, "https://cdn.shared.example"));
		}
		for (int k = 0; k < 2; k++) {
			directive(p, k ? "img-src" : "connect-src", d, sizeof d);
			assert_null(strstr(d, "unsafe"));
			assert_non_null(strstr(d, "https://cdn.site.example"));
			assert_int_equal(strstr(d, "stats.example") != NULL, stats);
			assert_int_equal(strstr(d, "ads.example") != NULL, ads);
		}
		/* frames: every vendor in use, whatever was granted (placeholders gate them) */
		directive(p, "frame-src", d, sizeof d);
		assert_non_null(strstr(d, "https://stats.example"));
		assert_non_null(strstr(d, "https://ads.example"));
		assert_non_null(strstr(p, "; report-uri /consent/csp-report; report-to " CG_CSP_REPORT_GROUP));
	}
	assert_string_not_equal(cg_csp_policy(&csp, 0), cg_csp_policy(&csp, 1u << CG_STATISTICS));
	cg_csp_free(&csp);
}

static void test_modes(void **state)
{
	struct cg_csp csp;

	(void)state;
	assert_int_equal(load(MIN VENDORS), CG_OK); /* off by default */
	assert_int_equal(cfg.csp_mode, CG_CSP_OFF);
	assert_int_equal(cg_csp_build(&cfg, &csp, err, sizeof err), CG_OK);
	assert_null(cg_csp_policy(&csp, 7));
	assert_null(cg_csp_header(csp.mode));
	cg_csp_free(&csp);
	assert_int_equal(load(MIN "[csp]\nmode = report\n"), CG_OK);
	assert_int_equal(cg_csp_build(&cfg, &csp, err, sizeof err), CG_OK);
	assert_string_equal(cg_csp_header(csp.mode), "X-Consentgate-CSP-Report-Only");
	/* no vendors: the base alone */
	assert_string_equal(cg_csp_policy(&csp, 7), "script-src 'self'; connect-src 'self'; img-src 'self'; "
	                    "frame-src 'self'; report-uri /consent/csp-report; report-to " CG_CSP_REPORT_GROUP);
	cg_csp_free(&csp);
	assert_int_equal(load(MIN "[csp]\nmode = report\nreport_to = no\n"), CG_OK);
	assert_int_equal(cg_csp_build(&cfg, &csp, err, sizeof err), CG_OK);
	assert_non_null(strstr(cg_csp_policy(&csp, 0), "; report-uri /consent/csp-report"));
	assert_null(strstr(cg_csp_policy(&csp, 0), "report-to"));
	cg_csp_free(&csp);
	/* an empty base: 'none', never an empty directive (which would mean no restriction at all) */
	assert_int_equal(load(MIN "[csp]\nmode = enforce\nbase =\n"), CG_OK);
	assert_int_equal(cg_csp_build(&cfg, &csp, err, sizeof err), CG_OK);
	assert_non_null(strstr(cg_csp_policy(&csp, 0), "script-src 'none'; connect-src 'none';"));
	cg_csp_free(&csp);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
		"'self' https://a.example; script-src *", "*", "'unsafe-hashes'", "'nonce-abc'", "https://",
		"http://<b>.example", "'self'\x01",
	};
	char text[16384], hosts[256];
	int off;

	(void)state;
	assert_int_equal(load(MIN "[csp]\nmode = sometimes\n"), CG_ERR_CONFIG);
	assert_non_null(strstr(err, "[csp] mode"));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, MIN "[csp]\nmode = report\nbase = %s\n", bad[i]);
		if (load(text) != CG_ERR_CONFIG)
			fail_msg("base = %s was accepted", bad[i]);
		assert_non_null(strstr(err, "[csp] base"));
	}
	/* every vendor with long host lists: the policy would not fit nginx's buffer */
	for (int distinct = 0; distinct < 2; distinct++) {
		off = snprintf(text, sizeof text, MIN "[csp]\nmode = enforce\n");
		for (int v = 0; v < CG_MAX_VENDORS; v++) {
			hosts[0] = '\0';
			for (int h = 0; strlen(hosts) < 170; h++) /* the same hosts in every vendor, or not */
				snprintf(hosts + strlen(hosts), sizeof hosts - strlen(hosts), " https://%c%02d.example",
				         distinct ? 'a' + v : 'h', h);
			off += snprintf(text + off, sizeof text - (size_t)off, "[vendor.v%d]\ncategory = marketing\n"
			                "hosts =%s\ncookies = c\nstorage = s\nrecipient = R\ncountry = NO\n"
			                "source = https://r.example/\n", v, hosts);
		}
		if (!distinct && load(text) != CG_OK) /* a host twice is written once */
			fail_msg("%s", err);
		if (distinct) {
			assert_int_equal(load(text), CG_ERR_CONFIG);
			assert_non_null(strstr(err, "[csp] mode: the policy with every category granted is over"));
		}
	}
	assert_int_equal(load(MIN "[csp]\nbase = 'self' 'unsafe-inline' data: https://*.cdn.example:8443/js/\n"), CG_OK);
}

static void test_fingerprint(void **state)
{
	char off[CG_FINGERPRINT_LEN + 1], off2[CG_FINGERPRINT_LEN + 1], rep[CG_FINGERPRINT_LEN + 1],
	    enf[CG_FINGERPRINT_LEN + 1], base[CG_FINGERPRINT_LEN + 1];

	(void)state;
	assert_int_equal(load(MIN), CG_OK);
	cg_config_fingerprint(&cfg, off);
	/* off: the base is not policy, and a configuration without [csp] keeps its fingerprint */
	assert_int_equal(load(MIN "[csp]\nmode = off\nbase = https://x.example\n"), CG_OK);
	cg_config_fingerprint(&cfg, off2);
	assert_string_equal(off, off2);
	assert_int_equal(load(MIN "[csp]\nmode = report\n"), CG_OK);
	cg_config_fingerprint(&cfg, rep);
	assert_int_equal(load(MIN "[csp]\nmode = enforce\n"), CG_OK);
	cg_config_fingerprint(&cfg, enf);
	assert_int_equal(load(MIN "[csp]\nmode = enforce\nbase = 'self' https://x.example\n"), CG_OK);
	cg_config_fingerprint(&cfg, base);
	assert_string_not_equal(off, rep);
	assert_string_not_equal(rep, enf);
	assert_string_not_equal(enf, base);
}

static size_t parse(int kind, const char *body, struct cg_leak *out)
{
	size_t n = 99;

	assert_int_equal(cg_leak_parse(&cfg, kind, body, strlen(body), out, CG_LEAKS_PER_BODY, &n), CG_OK);
	return n;
}

#define URI(doc, blocked, dir, extra) \
	"{\"csp-report\":{\"document-uri\":\"" doc "\",\"blocked-uri\":\"" blocked \
	"\",\"effective-directive\":\"" dir "\"" extra "}}"

static void test_reports(void **state)
{
	struct cg_leak l[CG_LEAKS_PER_BODY];
	char big[8192];
	size_t n = 0, off;

	(void)state;
	assert_int_equal(load(MIN VENDORS "[vendor.wild]\ncategory = marketing\nhosts = https://*.wild.example\n"
	                      "cookies = w\nstorage = w\nrecipient = W\ncountry = NO\nsource = https://w.example/\n"), CG_OK);
	/* a vendor's host: the vendor; the page cut to its first segment, no query */
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/product/42?email=a@b.example",
	                                          "https://ADS.example/p.js?id=7", "script-src-elem", ""), l), 1);
	assert_string_equal(cfg.vendors[l[0].vendor].name, "ads");
	assert_string_equal(l[0].path, "/product");
	assert_int_equal(l[0].directive, CG_LD_SCRIPT);
	assert_string_equal(l[0].host, "");
	/* *.host matches subdomains only */
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://a.b.wild.example/x", "img-src", ""), l), 1);
	assert_string_equal(cfg.vendors[l[0].vendor].name, "wild");
	assert_string_equal(l[0].path, "/");
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://wild.example/x", "img-src", ""), l), 1);
	assert_int_equal(l[0].vendor, -1);
	assert_string_equal(l[0].host, "wild.example");
	/* not a vendor's load: inline, data:, the page's own host, the banner's release, a vendor's own script,
	 * a directive the policy does not have */
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "inline", "script-src-elem", ""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "data", "img-src", ""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/a", "https://shop.example/b.js", "script-src", ""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://ads.example/p.js", "script-src-elem",
	                                          ",\"source-file\":\"https://shop.example/consent/banner.js\""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://ads.example/px", "img-src",
	                                          ",\"source-file\":\"https://cdn.shared.example/s.js\""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://ads.example/px", "style-src", ""), l), 0);
	/* a script of the site's own (not the banner, no vendor's) that loads a vendor: a leak */
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://ads.example/px", "img-src",
	                                          ",\"source-file\":\"https://shop.example/app.js\""), l), 1);
	/* hostile hosts and paths: nothing kept that is not plain */
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/", "https://<b>x</b>.example/", "img-src", ""), l), 0);
	assert_int_equal(parse(CG_REPORT_URI, URI("https://shop.example/%3Cscript%3E/x", "https://t.example/", "img-src", ""), l), 1);
	assert_string_equal(l[0].path, "/-");
	memset(big, 'a', 300);
	memcpy(big, "https://", 8);
	strcpy(big + 300, ".example/x");
	off = (size_t)snprintf(NULL, 0, "%s", big);
	assert_true(off > CG_LEAK_HOST_MAX);
	{
		char body[sizeof big + 128];
		snprintf(body, sizeof body, URI("https://shop.example/", "%s", "img-src", ""), big);
		assert_int_equal(parse(CG_REPORT_URI, body, l), 0);
	}
	/* report-to: a batch, only csp-violation, at most CG_LEAKS_PER_BODY */
	off = (size_t)snprintf(big, sizeof big, "[{\"type\":\"deprecation\",\"body\":{}}");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(big + off, sizeof big - off, ",{\"type\":\"csp-violation\",\"body\":{"
		                        "\"documentURL\":\"https://shop.example/blog/p\",\"blockedURL\":"
		                        "\"https://stats.example/a%d\",\"effectiveDirective\":\"connect-src\"}}", i);
	snprintf(big + off, sizeof big - off, "]");
	assert_int_equal(cg_leak_parse(&cfg, CG_REPORT_TO, big, strlen(big), l, CG_LEAKS_PER_BODY, &n), CG_OK);
	assert_int_equal(n, CG_LEAKS_PER_BODY - 1); /* the first of 32 items was no violation */
	assert_string_equal(cfg.vendors[l[0].vendor].name, "stats");
	assert_string_equal(l[0].path, "/blog");
	/* not a report */
	assert_int_equal(cg_leak_parse(&cfg, CG_REPORT_URI, "[]", 2, l, CG_LEAKS_PER_BODY, &n), CG_ERR_INVALID);
	assert_int_equal(cg_leak_parse(&cfg, CG_REPORT_TO, "{}", 2, l, CG_LEAKS_PER_BODY, &n), CG_ERR_INVALID);
	assert_int_equal(cg_leak_parse(&cfg, CG_REPORT_URI, "{\"csp-report\":1, \"csp-report\":2}", 30, l,
	                               CG_LEAKS_PER_BODY, &n), CG_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_combination),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
