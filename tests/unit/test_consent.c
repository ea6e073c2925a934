#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/consent.h"
#include "consentgate/err.h"

static struct cg_choice_req req;
static struct cg_field_error fe;

static int choice(const char *body)
{
	memset(&fe, 0, sizeof fe);
	return cg_consent_parse_choice(body, strlen(body), &req, &fe);
}

static void bad(const char *body, const char *field)
{
	assert_int_equal(choice(body), CG_ERR_INVALID);
	if (strcmp(fe.field, field) != 0)
		fail_msg("body %s: field [%s], expected [%s] (%s)", body, fe.field, field, fe.detail);
}

#define OK3 "\"choices\":{\"preferences\":true,\"statistics\":false,\"marketing\":false}"

static void test_valid(void **state)
{
	(void)state;
	assert_int_equal(choice("{" OK3 ",\"policy_version\":\"2023-12\",\"lang\":\"nb\","
	                        "\"banner\":\"79c60a93689838a5ba7217b6e331a89d\",\"page\":\"https://example.no/produkter?id=7#x\"}"), CG_OK);
	assert_int_equal(req.choice[CG_PREFERENCES], 1);
	assert_int_equal(req.choice[CG_STATISTICS], 0);
	assert_int_equal(req.choice[CG_MARKETING], 0);
	assert_string_equal(req.policy_version, "2023-12");
	assert_string_equal(req.lang, "nb");
	assert_string_equal(req.banner, "79c60a93689838a5ba7217b6e331a89d");
	assert_string_equal(req.page, "https://example.no/produkter");
	/* necessary: true is allowed, other keys optional */
	assert_int_equal(choice("{\"choices\":{\"necessary\":true,\"preferences\":false,"
	                        "\"statistics\":true,\"marketing\":true},\"policy_version\":\"v\"}"), CG_OK);
	assert_string_equal(req.lang, "");
	assert_string_equal(req.page, "");
	/* a page that is no http(s) URL is recorded as none: a choice is never
	 * refused over it */
	assert_int_equal(choice("{" OK3 ",\"policy_version\":\"1\",\"page\":\"javascript:alert(1)\"}"), CG_OK);
	assert_string_equal(req.page, "");
}

static void test_rules(void **state)
{
	(void)state;
	bad("", "");
	bad("nope", "");
	bad("[1]", "");
	bad("{" OK3 "}", "policy_version");
	bad("{\"policy_version\":\"1\"}", "choices");
	bad("{\"choices\":[],\"policy_version\":\"1\"}", "choices");
	bad("{\"choices\":{\"necessary\":false,\"preferences\":true,\"statistics\":true,\"marketing\":true},"
	    "\"policy_version\":\"1\"}", "choices.necessary");
	bad("{\"choices\":{\"preferences\":true,\"statistics\":true},\"policy_version\":\"1\"}",
	    "choices.marketing");
	bad("{\"choices\":{\"preferences\":1,\"statistics\":true,\"marketing\":true},\"policy_version\":\"1\"}",
	    "choices.preferences");
	bad("{\"choices\":{\"preferences\":true,\"statistics\":true,\"marketing\":true,\"ads\":true},"
	    "\"policy_version\":\"1\"}", "choices.ads");
	bad("{" OK3 ",\"policy_version\":\"1\",\"extra\":1}", "extra");
	bad("{" OK3 ",\"policy_version\":1}", "policy_version");
	bad("{" OK3 ",\"policy_version\":\"\"}", "policy_version");
	bad("{" OK3 ",\"policy_version\":\"a b\"}", "policy_version");
	bad("{" OK3 ",\"policy_version\":\"123456789012345678901234567890123\"}", "policy_version");
	bad("{" OK3 ",\"policy_version\":\"1\",\"lang\":\"n<b\"}", "lang");
	bad("{" OK3 ",\"policy_version\":\"1\",\"lang\":\"12345678901234567\"}", "lang");
	bad("{" OK3 ",\"policy_version\":\"1\",\"banner\":\"v 1\"}", "banner");
	bad("{" OK3 ",\"policy_version\":\"1\",\"banner\":\"v1\"}", "banner");   /* not a build id */
	bad("{" OK3 ",\"policy_version\":\"1\",\"banner\":\"79C60A93689838A5BA7217B6E331A89D\"}", "banner");
	bad("{" OK3 ",\"policy_version\":\"1\",\"page\":7}", "page");
	/* duplicate keys are refused by the parser: which one would count? */
	bad("{" OK3 "," OK3 ",\"policy_version\":\"1\"}", "");
	bad("{" OK3 ",\"policy_version\":\"1\"} trailing", "");
	bad("{" OK3 ",\"policy_version\":\"1\\u0000\"}", "");
}

static void test_objection(void **state)
{
	int p;

	(void)state;
	assert_int_equal(cg_consent_parse_objection("{\"purpose\":\"statistics\"}", 24, &p, &fe), CG_OK);
	assert_int_equal(p, CG_STATISTICS);
	assert_int_equal(cg_consent_parse_objection("{}", 2, &p, &fe), CG_ERR_INVALID);
	assert_string_equal(fe.field, "purpose");
	assert_int_equal(cg_consent_parse_objection("{\"purpose\":\"necessary\"}", 23, &p, &fe), CG_ERR_INVALID);
	assert_string_equal(fe.field, "purpose");
	assert_int_equal(cg_consent_parse_objection("{\"purpose\":\"marketing\",\"x\":1}", 29, &p, &fe),
	                 CG_ERR_INVALID);
	assert_string_equal(fe.field, "x");
}

static void norm(const char *in, const char *want)
{
	char out[CG_PAGE_MAX + 1];

	assert_int_equal(cg_page_normalise(in, out, sizeof out), CG_OK);
	assert_string_equal(out, want);
}

static void test_page(void **state)
{
	char out[CG_PAGE_MAX + 1], big[CG_PAGE_MAX + 40];

	(void)state;
	norm("https://example.no/produkter?id=7", "https://example.no/produkter");
	norm("HTTPS://Example.NO/A/b#frag", "https://example.no/A/b");
	norm("http://user:pw@example.no:8080/x?y", "http://example.no:8080/x");
	norm("https://example.no", "https://example.no/");
	norm("https://example.no?x=1", "https://example.no/");
	norm("https://[2001:db8::1]/p", "https://[2001:db8::1]/p");
	assert_int_equal(cg_page_normalise("ftp://example.no/", out, sizeof out), CG_ERR_INVALID);
	assert_int_equal(cg_page_normalise("https:///x", out, sizeof out), CG_ERR_INVALID);
	assert_int_equal(cg_page_normalise("https://exa mple.no/", out, sizeof out), CG_ERR_INVALID);
	assert_int_equal(cg_page_normalise("https://example.no/a b", out, sizeof out), CG_ERR_INVALID);
	assert_int_equal(cg_page_normalise("https://example.no/\xc3\xa6", out, sizeof out), CG_ERR_INVALID);
	memcpy(big, "https://example.no/", 19);
	memset(big + 19, 'a', sizeof big - 20);
	big[sizeof big - 1] = '\0';
	assert_int_equal(cg_page_normalise(big, out, sizeof out), CG_ERR_TOO_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_objection),
		cmocka_unit_test(test_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
