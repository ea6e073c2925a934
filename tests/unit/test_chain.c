#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentgate/chain.h"
#include "consentgate/export.h"
#include "consentgate/timefmt.h"

#define NOTICE "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6"

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

/* Erasure: personal fields, their salt and ip_digest go; the row still
 * links (its personal digest is no longer checked, audit.h says when that
 * is allowed). */
static void test_redacted_row_still_links(void **state)
{
	struct cg_event a, b;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 2, "bb");
	cg_chain_seal(&b, a.hash);
	a.salt[0] = a.lang[0] = a.page[0] = a.ip_prefix[0] = a.country[0] = '\0';
	a.gpc = a.dnt = CG_TRI_NULL;
	assert_false(cg_chain_personal_checkable(&a));
	assert_int_equal(cg_chain_check(&a, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	assert_int_equal(cg_chain_check(&b, a.hash), CG_CHAIN_OK);
}

/* Row format 2: what was shown is core, checked whatever the salt. */
static void test_shown_is_core(void **state)
{
	struct cg_event a, t;

	(void)state;
	make(&a, 1, "aa");
	strcpy(a.banner, "build=79c60a93689838a5ba7217b6e331a89d;notice=" NOTICE);
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	t = a;
	t.banner[10] = t.banner[10] == 'a' ? 'b' : 'a';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	t.salt[0] = '\0'; /* without the salt too */
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	/* format 1 had it personal: unchecked once the salt was gone */
	make(&a, 1, "aa");
	strcpy(a.banner, "build=79c60a93689838a5ba7217b6e331a89d;notice=" NOTICE);
	cg_chain_seal_format(&a, CG_CHAIN_GENESIS, 1);
	t = a;
	t.banner[10] = 'f';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_PERSONAL);
	t.salt[0] = '\0';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_OK);
}

/* The IP retention: the prefix goes, its digest stays, the salt becomes the
 * personal salt: the other personal fields are still checked. */
static void test_ip_retention(void **state)
{
	struct cg_event a, t;
	char salt[CG_SALT_LEN + 1], ipd[CG_HEX_HASH_LEN + 1];

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	t = a;
	cg_chain_clear_ip(&t);
	assert_string_equal(t.ip_prefix, "");
	assert_int_equal(strlen(t.ip_digest), 64);
	assert_string_not_equal(t.salt, a.salt);
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	cg_chain_clear_ip_values(a.salt, a.ip_prefix, salt, ipd);
	assert_string_equal(salt, t.salt);
	assert_string_equal(ipd, t.ip_digest);
	strcpy(t.lang, "sv");
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_PERSONAL);
	/* the prefix cannot be confirmed from what is left: another one, with
	 * the original salt gone, gives the same (unchecked) digest inputs */
	t = a;
	cg_chain_clear_ip(&t);
	t.ip_digest[0] = t.ip_digest[0] == 'a' ? 'b' : 'a';
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_PERSONAL);
	/* a row sealed without an IP keeps its salt: nothing to clear */
	t = a;
	t.ip_prefix[0] = '\0';
	cg_chain_seal(&t, CG_CHAIN_GENESIS);
	cg_chain_clear_ip(&t);
	assert_string_equal(t.ip_prefix, "");
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_OK);
}

/* An erasure tombstone and a log event have no salt and no personal field:
 * their personal digest (of NULLs) is checked all the same. */
static void test_tombstone_checked(void **state)
{
	struct cg_event ev, t;

	(void)state;
	cg_event_tombstone("aa", INT64_C(1795303718006), &ev);
	ev.id = 3;
	cg_chain_seal(&ev, CG_CHAIN_GENESIS);
	assert_true(cg_chain_personal_checkable(&ev));
	assert_int_equal(cg_chain_check(&ev, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	t = ev;
	t.personal_digest[3] ^= 1;
	assert_int_equal(cg_chain_check(&t, CG_CHAIN_GENESIS), CG_CHAIN_BAD_PERSONAL);
}

/* A pruned link keeps its core fields, the subject's digest standing in for
 * the subject: its core digest is recomputed. A link of format 1 kept its
 * digests only. */
static void test_pruned_link(void **state)
{
	struct cg_event a, b, link;

	(void)state;
	make(&a, 1, "aa");
	cg_chain_seal(&a, CG_CHAIN_GENESIS);
	make(&b, 2, "bb");
	cg_chain_seal(&b, a.hash);
	link = a;
	link.link = CG_LINK_PRUNED;
	cg_chain_subject_digest(a.subject, link.subject_digest);
	link.subject[0] = link.salt[0] = link.lang[0] = link.page[0] = link.ip_prefix[0] = link.country[0] = '\0';
	link.gpc = link.dnt = CG_TRI_NULL;
	assert_int_equal(cg_chain_check(&link, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	assert_int_equal(cg_chain_check(&b, link.hash), CG_CHAIN_OK);
	link.action = CG_ACT_WITHDRAW; /* what the removed row was is bound */
	assert_int_equal(cg_chain_check(&link, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	link.action = a.action;
	link.subject_digest[0] = link.subject_digest[0] == 'a' ? 'b' : 'a';
	assert_int_equal(cg_chain_check(&link, CG_CHAIN_GENESIS), CG_CHAIN_BAD_CORE);
	/* format 1 */
	make(&a, 1, "aa");
	cg_chain_seal_format(&a, CG_CHAIN_GENESIS, 1);
	memset(&link, 0, sizeof link);
	link.id = 1;
	link.link = CG_LINK_PRUNED;
	link.format = 1;
	strcpy(link.prev_hash, a.prev_hash);
	strcpy(link.hash, a.hash);
	strcpy(link.core_digest, a.core_digest);
	strcpy(link.personal_digest, a.personal_digest);
	assert_int_equal(cg_chain_check(&link, CG_CHAIN_GENESIS), CG_CHAIN_OK);
	link.core_digest[0] ^= 1;
	assert_int_equal(cg_chain_check(&link, CG_CHAIN_GENESIS), CG_CHAIN_BAD_HASH);
	assert_int_equal(cg_chain_check(&link, b.hash), CG_CHAIN_BAD_LINK);
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

/* The encoding is a format: verifiers outside this code recompute it
 * (docs/auditors.md#the-hash-chain; the bundle's verify.py). Known events and the
 * hashes they have always had: row format 1, and row format 2 as a Python
 * transcription of the documented formulas computes it. */
static void test_known_vector(void **state)
{
	struct cg_event ev;
	char prev[CG_HEX_HASH_LEN + 1];

	(void)state;
	memset(&ev, 0, sizeof ev);
	strcpy(ev.subject, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	strcpy(ev.recorded_at, "2026-11-21T23:28:38.006Z");
	strcpy(ev.choice_at, "2026-11-21T23:28:38.006Z");
	strcpy(ev.policy_version, "2023-12");
	strcpy(ev.salt, "0123456789abcdef0123456789abcdef");
	strcpy(ev.page, "https://shop.example/p");
	strcpy(ev.lang, "nb");
	strcpy(ev.ip_prefix, "198.51.100.0/24");
	ev.objection_purpose = -1;
	ev.id = 199999;
	memset(prev, 'a', CG_HEX_HASH_LEN);
	prev[CG_HEX_HASH_LEN] = '\0';
	cg_chain_seal_format(&ev, prev, 1);
	assert_string_equal(ev.hash, "880de7ad0c9af77ba15ddeefbd529a72c4acb9068c52c4ea85aada05866413b9");
	strcpy(ev.banner, "build=79c60a93689838a5ba7217b6e331a89d;notice=" NOTICE);
	cg_chain_seal(&ev, prev);
	assert_string_equal(ev.core_digest, "cd823939832f6a52c45810964c5d2654fa7d1145f6aae79884fb546e8cbdfcbb");
	assert_string_equal(ev.personal_digest, "a5d5e0ba181698489f22ca59fbd042599b6dc9380f501e71f61854c7abf9af3e");
	assert_string_equal(ev.hash, "d06df66c12c18538516cca149b6e0a946a105e2db714979dd35b52c0ed184356");
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
	assert_int_not_equal(cg_time_parse("2026-11-21T23:28: 8.006Z", &ms), 0);
	assert_int_not_equal(cg_time_parse("2026-11-21T23:28:+8.006Z", &ms), 0);
	assert_int_not_equal(cg_time_parse("2026-11-21 23:28:38.006Z", &ms), 0);
	/* rolled over as timegm does */
	assert_int_equal(cg_time_parse("2026-06-31T23:59:60.000Z", &ms), 0);
	cg_time_format(ms, s);
	assert_string_equal(s, "2026-07-02T00:00:00.000Z");
}

/* Days as consentctl's --from, --to and --since take them: only days that
 * exist, checked against libc's calendar for every day of 1999-2101. */
static void test_day(void **state)
{
	static const char *const bad[] = {"2026-02-30", "2026-13-01", "2025-02-29", "2026-04-31", "1900-02-29",
	                                  "2026-00-10", "2026-01-00", "2026-01-32", "2026-1-01", "2026-01-01T",
	                                  "2026/01/01", "2026-01-0a", "", "+026-01-01"};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cg_day_parse(bad[i], &ms) == 0)
			fail_msg("'%s' taken as a day", bad[i]);
	assert_int_not_equal(cg_day_parse(NULL, &ms), 0);
	assert_int_equal(cg_day_parse("2024-02-29", &ms), 0);
	assert_int_equal(ms, INT64_C(1709164800000));
	assert_int_equal(cg_day_parse("2000-02-29", &ms), 0);
	assert_int_equal(cg_day_parse("1970-01-01", &ms), 0);
	assert_int_equal(ms, 0);
	for (time_t t = 915148800; t < 4133980800; t += 86400) { /* 1999-01-01 .. 2101-01-01 */
		char s[64];
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(s, sizeof s, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		if (cg_day_parse(s, &ms) != 0 || ms != (int64_t)t * 1000)
			fail_msg("%s: not the day of %lld", s, (long long)t);
		if (tm.tm_mday >= 28) { /* the day after a month's last is no day */
			struct tm next = tm;
			time_t u = t + 86400;
			gmtime_r(&u, &next);
			if (next.tm_mday == 1) {
				snprintf(s, sizeof s, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + 1);
				if (cg_day_parse(s, &ms) == 0)
					fail_msg("'%s' taken as a day", s);
			}
		}
	}
}

/* The calendar arithmetic against libc's over a sweep of instants from
 * 1600 to 2400 (leap centuries, leap days, month ends, before 1970). */
static void test_time_against_libc(void **state)
{
	char s[CG_TIME_LEN + 1], want[64];
	int64_t ms, back;

	(void)state;
	for (int64_t t = INT64_C(-11676096000000); t < INT64_C(13569465600000); t += INT64_C(3723456789)) {
		for (int64_t dt = 0; dt < 3; dt++) {
			time_t secs;
			struct tm tm;
			ms = t + dt * (CG_MS_PER_DAY - 1); /* also a day's last millisecond */
			secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
			gmtime_r(&secs, &tm);
			snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			         (int)(ms - (int64_t)secs * 1000));
			cg_time_format(ms, s);
			if (strcmp(s, want) != 0)
				fail_msg("%lld: %s, libc %s", (long long)ms, s, want);
			assert_int_equal(cg_time_parse(s, &back), 0);
			if (back != ms)
				fail_msg("%s: %lld, want %lld", s, (long long)back, (long long)ms);
			tm.tm_mday += 3; /* past the month's end: timegm rolls over */
			s[8] = (char)('0' + tm.tm_mday / 10);
			s[9] = (char)('0' + tm.tm_mday % 10);
			if (tm.tm_mday <= 31 && cg_time_parse(s, &back) == 0 &&
			    back != (int64_t)timegm(&tm) * 1000 + (ms - (int64_t)secs * 1000))
				fail_msg("%s: %lld, timegm %lld", s, (long long)back, (long long)timegm(&tm));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_redacted_row_still_links),
		cmocka_unit_test(test_shown_is_core),
		cmocka_unit_test(test_ip_retention),
		cmocka_unit_test(test_tombstone_checked),
		cmocka_unit_test(test_pruned_link),
		cmocka_unit_test(test_field_boundaries),
		cmocka_unit_test(test_known_vector),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_against_libc),
		cmocka_unit_test(test_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
