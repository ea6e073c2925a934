/* What was shown: build ids (a known answer computed by an independent
 * implementation, the bundle's verify.py), stamping, notice ids, the
 * choice row's record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/shown.h"

static const char JS[] = "var B = \"cg-build:00000000000000000000000000000000\";\n";
static const char CSS[] = ".cg { color: red }\n";

static void files_of(struct cg_shown_file f[2], const char *js, const char *css)
{
	memset(f, 0, 2 * sizeof *f);
	/* given out of order: the id sorts them by name */
	strcpy(f[0].name, "banner.js");
	f[0].bytes = (const uint8_t *)js;
	f[0].len = strlen(js);
	strcpy(f[1].name, "banner.css");
	f[1].bytes = (const uint8_t *)css;
	f[1].len = strlen(css);
}

static void test_build_id(void **state)
{
	struct cg_shown_file f[2];
	char id[CG_BUILD_ID_LEN + 1], embedded[CG_BUILD_ID_LEN + 1];
	char js[sizeof JS];

	(void)state;
	files_of(f, JS, CSS);
	assert_int_equal(cg_banner_build_id(f, 2, id, embedded), CG_OK);
	assert_string_equal(id, "79c60a93689838a5ba7217b6e331a89d");   /* verify.py's build_id() */
	assert_string_equal(embedded, "00000000000000000000000000000000");
	assert_string_equal(f[0].name, "banner.css");
	/* stamping writes the id in, and the id does not change with it */
	memcpy(js, JS, sizeof js);
	assert_int_equal(cg_banner_stamp((uint8_t *)js, strlen(js), id), CG_OK);
	assert_non_null(strstr(js, "cg-build:79c60a93689838a5ba7217b6e331a89d\""));
	files_of(f, js, CSS);
	assert_int_equal(cg_banner_build_id(f, 2, id, embedded), CG_OK);
	assert_string_equal(id, "79c60a93689838a5ba7217b6e331a89d");
	assert_string_equal(embedded, id);
	/* any other byte changes it */
	files_of(f, js, ".cg { color: blue }\n");
	assert_int_equal(cg_banner_build_id(f, 2, id, embedded), CG_OK);
	assert_string_equal(id, "fb8b9648320e25f3fab4858af9c0b933");
	/* a build without a script, a script without the field */
	files_of(f, "var x;", CSS);
	assert_int_equal(cg_banner_build_id(f, 2, id, embedded), CG_OK);
	assert_string_equal(embedded, "");
	assert_int_equal(cg_banner_build_id(f, 1, id, embedded), CG_ERR_INVALID);   /* f[0]: banner.css, sorted */
	assert_int_equal(cg_banner_stamp((uint8_t *)js, 10, id), CG_ERR_INVALID);
}

static void test_notice_id(void **state)
{
	struct cg_shown_file f = {.name = "notice.html", .bytes = (const uint8_t *)"<p>notice</p>\n", .len = 14};
	char id[CG_NOTICE_ID_LEN + 1];

	(void)state;
	cg_notice_id(&f, id);
	assert_string_equal(id, "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6"); /* sha256sum */
	assert_string_equal(f.hash, id);
}

static void test_record(void **state)
{
	char rec[CG_BANNER_MAX + 1];
	struct cg_what_shown w, back;
	const char *b = "79c60a93689838a5ba7217b6e331a89d";
	const char *n = "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6";

	(void)state;
	memset(&w, 0, sizeof w);
	strcpy(w.build, b);
	strcpy(w.notice, n);
	w.asserted = 1;
	cg_shown_record(rec, &w);
	assert_string_equal(rec, "build=79c60a93689838a5ba7217b6e331a89d;notice="
	                         "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6;asserted");
	assert_int_equal(cg_shown_parse(rec, &back), CG_OK);
	assert_memory_equal(&back, &w, sizeof w);
	w.notice[0] = '\0';   /* no notice configured */
	w.asserted = 0;
	cg_shown_record(rec, &w);
	assert_int_equal(cg_shown_parse(rec, &back), CG_OK);
	assert_string_equal(back.build, b);
	assert_string_equal(back.notice, "");
	/* the parts a later record may carry, in their order */
	strcpy(w.notice, n);
	strcpy(w.vendors, "8c5c5d0ddd1a432a78d4471e1ca16afb18624c6b0604c76847fde33bc460ab7b");
	strcpy(w.mode, "opt_in");
	w.asserted = 1;
	cg_shown_record(rec, &w);
	assert_string_equal(rec + 6 + 32 + 8 + 64, ";vendors=8c5c5d0ddd1a432a78d4471e1ca16afb18624c6b0604c76847fde33bc460ab7b"
	                                           ";mode=opt_in;asserted");
	assert_int_equal(cg_shown_parse(rec, &back), CG_OK);
	assert_memory_equal(&back, &w, sizeof w);
	/* only the exact form parses */
	assert_int_equal(cg_shown_parse("v1", &back), CG_ERR_INVALID);   /* a schema-1 free-text label */
	assert_string_equal(back.build, "");
	snprintf(rec, sizeof rec, "build=%s;notice=%s;mode=x;vendors=y", b, n);  /* out of order */
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	snprintf(rec, sizeof rec, "build=%s;notice=%s;asserted;", b, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	snprintf(rec, sizeof rec, "build=%s;notice=%.63sX", b, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	snprintf(rec, sizeof rec, "build=%s;notice=%s;mode=", b, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	/* the vendor list's id is one: 64 lower-case hex digits, nothing else */
	snprintf(rec, sizeof rec, "build=%s;notice=%s;vendors=%s", b, n, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_OK);
	assert_string_equal(back.vendors, n);
	snprintf(rec, sizeof rec, "build=%s;notice=%s;vendors=%.63s", b, n, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	snprintf(rec, sizeof rec, "build=%s;notice=%s;vendors=%.63sA", b, n, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	snprintf(rec, sizeof rec, "build=%s;notice=%s;vendors=3f2a", b, n);
	assert_int_equal(cg_shown_parse(rec, &back), CG_ERR_INVALID);
	assert_true(cg_build_id_valid(b));
	assert_false(cg_build_id_valid("79C60A93689838A5BA7217B6E331A89D"));
	assert_false(cg_build_id_valid("79c60a93"));
}

/* The names a build's or notice's file may have: what consentctl notice
 * show writes into a directory, so never a path or a hidden file. */
static void test_names(void **state)
{
	static const char *const good[] = {"banner.js", "banner.css", "notice-2023-12.html", "Personvern_v2+nb.html",
	                                   "a", "x..y", "123"};
	static const char *const bad[] = {"", ".", "..", "../x", "../../escaped.html", "a/b", "/etc/passwd", ".hidden",
	                                  "-rf", "a b", "a\nb", "notice\x1b[2J.html", "personvern-på-norsk.html",
	                                  "a\\b", "x:y", "0123456789012345678901234567890123456789012345678901234567890123"};

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!cg_shown_name_valid(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cg_shown_name_valid(bad[i]))
			fail_msg("'%s' taken as a file name", bad[i]);
	assert_true(cg_shown_name_valid("012345678901234567890123456789012345678901234567890123456789012")); /* 63 */
	assert_true(cg_shown_hash_valid("1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6"));
	assert_false(cg_shown_hash_valid("1E26109FE534052E8E4938209526A56658519FE8BF41D4AAB4B41E29063D1BA6"));
	assert_false(cg_shown_hash_valid("1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6/../x"));
	assert_false(cg_shown_hash_valid("../../../escaped"));
	assert_false(cg_shown_hash_valid(""));
}

/* the notice cg_shown_notice_of picks for rows[b], fed every row */
static const char *notice_of(const struct cg_shown_row *rows, size_t n, size_t b, struct cg_notice_pick *p)
{
	p->notice[0] = '\0';
	p->first_ms = -1;
	for (size_t i = 0; i < n; i++)
		cg_shown_notice_of(&rows[b], &rows[(i + b) % n], p); /* in any order */
	return p->notice;
}

/* a retired build is recorded with the notice in service when it last was */
static void test_notice_of(void **state)
{
	const struct cg_shown_row rows[] = {
		{.id = "b1", .kind = CG_SHOWN_BANNER, .first_ms = 100, .retired_ms = 500},
		{.id = "n1", .kind = CG_SHOWN_NOTICE, .first_ms = 100, .retired_ms = 300},
		{.id = "n2", .kind = CG_SHOWN_NOTICE, .first_ms = 300, .retired_ms = 700},
		{.id = "b2", .kind = CG_SHOWN_BANNER, .first_ms = 500, .retired_ms = 0},
		{.id = "n3", .kind = CG_SHOWN_NOTICE, .first_ms = 700, .retired_ms = 0},
		{.id = "b0", .kind = CG_SHOWN_BANNER, .first_ms = 10, .retired_ms = 50},
	};
	struct cg_notice_pick p;

	(void)state;
	assert_string_equal(notice_of(rows, 6, 0, &p), "n2"); /* not n3, today's */
	assert_string_equal(notice_of(rows, 6, 3, &p), "n3"); /* in service: today's */
	assert_string_equal(notice_of(rows, 6, 5, &p), "");   /* no notice then */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_notice_id),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_notice_of),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
