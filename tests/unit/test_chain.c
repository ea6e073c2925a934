#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/timefmt.h"

static void make(struct cg_event *ev, int64_t id, const char *subject)
{
	memset(ev, 0, sizeof *ev);
	ev->id = id;
	snprintf(ev->subject, sizeof ev->subject, "%s", subject);
	strcpy(ev->recorded_at, "2026-11-21T10:00:00.000Z");
	strcpy(ev->choice_at, ev->recorded_at);
	ev->action = CG_ACT_CHOICE;
	strcpy(ev->policy_version, "2023-12");
	ev->choice[0] = 1;
	ev->choice[1] = 0;
	ev->choice[2] = 0;
	ev->objection_purpose = -1;
	strcpy(ev->salt, "00112233445566778899aabbccddeeff");
	ev->gpc = 0;
	ev->dnt = 1;
	strcpy(ev->lang, "nb");
	strcpy(ev->page, "https://example.no/");
	strcpy(ev->ip_prefix, "203.0.113.0/24");
	strcpy(ev->country, "NO");
}

static void test_links(void **state)
{
	struct cg_event a, b;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 2, "bb");
	cg_chain_seal(&b, a.hash);
	assert_string_equal(b.prev_hash, a.hash);
	assert_int_equal(cg_chain_check(&a, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	assert_int_equal(cg_chain_check(&b, a.hash), CG_CHAIN_OK);
	/* a deleted row shows as a broken link */
	assert_int_equal(cg_chain_check(&b, CG_CHAIN_GENESIS), CG_CHAIN_BAD_LINK);
	assert_string_not_equal(a.hash, b.hash);
	assert_int_equal(strlen(a.hash), 64);
}

static void test_tamper(void **state)
{
	struct cg_event a, t;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	t = a; t.choice[2] = 1;
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	t = a; strcpy(t.policy_version, "2024-01");
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	t = a; t.recorded_at[3] = '7';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	t = a; t.choice[0] = CG_TRI_NULL;
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	t = a; strcpy(t.country, "SE");
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_PERSONAL);
	t = a; t.hash[0] = t.hash[0] == 'a' ? 'b' : 'a';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_HASH);
	t = a; t.personal_digest[5] ^= 1;
	assert_int_not_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_OK);
}

static void test_redacted_row_still_links(void **state)
{
	struct cg_event a, b;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 2, "bb");
	cg_chain_seal(&b, a.hash);
	/* erasure / retention: personal fields and salt cleared */
	a.salt[0] = a.lang[0] = a.page[0] = a.ip_prefix[0] = a.country[0] = '\0';
	a.gpc = a.dnt = CG_TRI_NULL;
	assert_int_equal(cg_chain_check(&a, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	assert_int_equal(cg_chain_check(&b, a.hash), CG_CHAIN_OK);
}

static void test_pruned_link(void **state)
{
	struct cg_event a, b, link;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 2, "bb");
	cg_chain_seal(&b, a.hash);
	/* retention deleted row a; its link (consent_pruned) still chains to b */
	memset(&link, 0, sizeof link);
	link.id = 1;
	link.action = -1;
	strcpy(link.prev_hash, a.prev_hash);
	strcpy(link.hash, a.hash);
	strcpy(link.core_digest, a.core_digest);
	strcpy(link.personal_digest, a.personal_digest);
	assert_int_equal(cg_chain_check_link(&link, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	assert_int_equal(cg_chain_check(&b, link.hash), CG_CHAIN_OK);
	link.core_digest[0] ^= 1;
	assert_int_equal(cg_chain_check_link(&link, CG_CHAIN_GENESIS), CG_CHAIN_BAD_HASH);
	assert_int_equal(cg_chain_check_link(&link, b.hash), CG_CHAIN_BAD_LINK);
}

static void test_field_boundaries(void **state)
{
	struct cg_event a, b;

	(void)state;
	/* the length-prefixed encoding keeps "ab"+"c" apart from "a"+"bc" */
	make(&a, 1, "x");
	strcpy(a.lang, "ab");
	strcpy(a.page, "c");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 1, "x");
	strcpy(b.lang, "a");
	strcpy(b.page, "bc");
	cg_chain_seal(&b, CG_CHAIN_GENESIS);
	assert_string_not_equal(a.personal_digest, b.personal_digest);
}

static void test_time(void **state)
{
	char s[CG_TIME_LEN + 1];
	int64_t ms;

	(void)state;
	cg_time_format(INT64_C(1795303718006), s);
	assert_string_equal(s, "2026-11-21T23:28:38.006Z");
	assert_int_equal(cg_time_parse(s, &ms), 0);
	assert_int_equal(ms, INT64_C(1795303718006));
	cg_time_format(0, s);
	assert_string_equal(s, "1970-01-01T00:00:00.000Z");
	assert_int_not_equal(cg_time_parse("2026-11-21T23:28:38Z", &ms), 0);
	assert_int_not_equal(cg_time_parse("2026-13-21T23:28:38.006Z", &ms), 0);
	assert_int_not_equal(cg_time_parse(NULL, &ms), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_redacted_row_still_links),
		cmocka_unit_test(test_pruned_link),
		cmocka_unit_test(test_field_boundaries),
		cmocka_unit_test(test_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
