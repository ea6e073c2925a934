#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/cookie.h"
#include "consentgate/err.h"
#include "consentgate/id.h"

static int find(const char *h, const char *name, char *out, size_t outlen)
{
	const char *v;
	size_t n;
	int rc = cg_cookie_find(h, name, &v, &n);

	if (rc == CG_OK) {
		assert_true(n < outlen);
		memcpy(out, v, n);
		out[n] = '\0';
	}
	return rc;
}

static void test_basic(void **state)
{
	char v[64];

	(void)state;
	assert_int_equal(find("a=1; cg_id=abc; b=2", "cg_id", v, sizeof v), CG_OK);
	assert_string_equal(v, "abc");
	assert_int_equal(find("cg_id=abc", "cg_id", v, sizeof v), CG_OK);
	assert_int_equal(find("  cg_id = abc ;", "cg_id", v, sizeof v), CG_OK);
	assert_string_equal(v, "abc");
	assert_int_equal(find("cg_id=\"quoted\"", "cg_id", v, sizeof v), CG_OK);
	assert_string_equal(v, "quoted");
	assert_int_equal(find("cg_id=", "cg_id", v, sizeof v), CG_OK);
	assert_string_equal(v, "");
	/* prefixes and suffixes of the name are other cookies */
	assert_int_equal(find("xcg_id=1; cg_idx=2", "cg_id", v, sizeof v), CG_ERR_NOT_FOUND);
	assert_int_equal(find("__Host-cg_id=1", "cg_id", v, sizeof v), CG_ERR_NOT_FOUND);
	assert_int_equal(find("__Host-cg_id=1", "__Host-cg_id", v, sizeof v), CG_OK);
	assert_int_equal(find("", "cg_id", v, sizeof v), CG_ERR_NOT_FOUND);
	assert_int_equal(find(";;; ;", "cg_id", v, sizeof v), CG_ERR_NOT_FOUND);
	assert_int_equal(find("noequals; cg_id=z", "cg_id", v, sizeof v), CG_OK);
	assert_string_equal(v, "z");
	{
		const char *p;
		size_t n;
		assert_int_equal(cg_cookie_find(NULL, "cg_id", &p, &n), CG_ERR_NOT_FOUND);
	}
}

static void test_duplicates(void **state)
{
	char v[64];

	(void)state;
	assert_int_equal(find("cg_id=a; cg_id=b", "cg_id", v, sizeof v), CG_ERR_DUPLICATE);
	assert_int_equal(find("cg_id=a;cg_id=a", "cg_id", v, sizeof v), CG_ERR_DUPLICATE);
	assert_int_equal(find("x=1; x=2; cg_id=a", "cg_id", v, sizeof v), CG_OK);
}

static void test_charset(void **state)
{
	char v[64];

	(void)state;
	assert_int_equal(find("cg_id=a b", "cg_id", v, sizeof v), CG_ERR_INVALID);
	assert_int_equal(find("cg_id=a,b", "cg_id", v, sizeof v), CG_ERR_INVALID);
	assert_int_equal(find("cg_id=a\\b", "cg_id", v, sizeof v), CG_ERR_INVALID);
	assert_int_equal(find("cg_id=\xc3\xa6", "cg_id", v, sizeof v), CG_ERR_INVALID);
	assert_int_equal(find("cg_id=a\"b", "cg_id", v, sizeof v), CG_ERR_INVALID);
	/* a bad value in another cookie does not matter */
	assert_int_equal(find("other=a b; cg_id=ok", "cg_id", v, sizeof v), CG_OK);
}

static void test_oversize(void **state)
{
	char *h = malloc(CG_COOKIE_HEADER_MAX + 10);
	char v[64];

	(void)state;
	memset(h, 'a', CG_COOKIE_HEADER_MAX + 9);
	memcpy(h, "cg_id=x; b=", 11);
	h[CG_COOKIE_HEADER_MAX + 9] = '\0';
	assert_int_equal(find(h, "cg_id", v, sizeof v), CG_ERR_TOO_LONG);
	h[CG_COOKIE_HEADER_MAX] = '\0';
	assert_int_equal(find(h, "cg_id", v, sizeof v), CG_OK);
	free(h);
}

static void test_id_v1(void **state)
{
	uint8_t raw[CG_ID_BYTES];
	char id[CG_ID_LEN + 1], subj[CG_SUBJECT_LEN + 1], subj2[CG_SUBJECT_LEN + 1];

	(void)state;
	for (int i = 0; i < CG_ID_BYTES; i++)
		raw[i] = (uint8_t)(i * 37 + 1);
	cg_id_encode(raw, id);
	assert_int_equal(strlen(id), CG_ID_V1_LEN);
	assert_true(cg_id_valid(id, CG_ID_V1_LEN));
	assert_false(cg_id_valid(id, CG_ID_V1_LEN - 1));
	assert_false(cg_id_valid("AAAAAAAAAAAAAAAAAAAAA+", CG_ID_V1_LEN));
	assert_false(cg_id_valid("AAAAAAAAAAAAAAAAAAAAAB", CG_ID_V1_LEN)); /* non-canonical tail */
	assert_true(cg_id_valid("AAAAAAAAAAAAAAAAAAAAAA", CG_ID_V1_LEN));
	cg_id_subject(id, subj);
	assert_int_equal(strlen(subj), CG_SUBJECT_LEN);
	assert_null(strstr(subj, id));
	cg_id_subject("AAAAAAAAAAAAAAAAAAAAAA", subj2);
	assert_string_not_equal(subj, subj2);
	/* the subject is SHA-256 of a fixed prefix and the id: tests and
	 * scripts can derive it (echo -n "consentgate/subject/v1:$id" | sha256sum) */
	cg_sha256_hex("consentgate/subject/v1:AAAAAAAAAAAAAAAAAAAAAA", 45, subj);
	assert_string_equal(subj, subj2);
}

static void test_id_v2(void **state)
{
	uint8_t rnd[CG_ID_RANDOM_BYTES];
	char a[CG_ID_LEN + 1], b[CG_ID_LEN + 1], sa[CG_SUBJECT_LEN + 1], sb[CG_SUBJECT_LEN + 1];
	char h[CG_HEX_HASH_LEN + 1], msg[80];
	const int64_t t = 1767225600123LL;

	(void)state;
	memset(rnd, 0xab, sizeof rnd);
	cg_id_make(rnd, t, a);
	assert_int_equal(strlen(a), CG_ID_LEN);
	assert_int_equal(a[CG_ID_SELECTOR_LEN], '.');
	assert_true(cg_id_valid(a, CG_ID_LEN));
	/* the selector is the time << 20 | 20 random bits, big-endian */
	cg_id_subject(a, sa);
	snprintf(msg, sizeof msg, "%016llx", (unsigned long long)(((uint64_t)t << 20) | 0xbabab));
	assert_memory_equal(sa, msg, 16);
	/* ... followed by 24 bytes of SHA-256 over a fixed prefix and the id */
	snprintf(msg, sizeof msg, "consentgate/subject/v2:%s", a);
	cg_sha256_hex(msg, strlen(msg), h);
	assert_memory_equal(sa + 16, h, 48);
	/* a later visitor sorts after, whatever its random bits */
	memset(rnd, 0, sizeof rnd);
	cg_id_make(rnd, t + 1, b);
	cg_id_subject(b, sb);
	assert_true(strcmp(sb, sa) > 0);
	/* the secret is what makes the key: another secret, another key */
	b[CG_ID_LEN - 2] = b[CG_ID_LEN - 2] == 'A' ? 'B' : 'A';
	memcpy(b, a, CG_ID_SELECTOR_LEN);
	cg_id_subject(b, sb);
	assert_memory_equal(sa, sb, 16);
	assert_string_not_equal(sa, sb);
	/* malformed */
	memcpy(b, a, sizeof b);
	b[CG_ID_SELECTOR_LEN] = '-';
	assert_false(cg_id_valid(b, CG_ID_LEN));
	assert_false(cg_id_valid(a, CG_ID_LEN - 1));
	memcpy(b, a, sizeof b);
	b[3] = '.';
	assert_false(cg_id_valid(b, CG_ID_LEN));
}

static void test_pick(void **state)
{
	const char *one[] = {"a=1; cg_id=X"};
	const char *two[] = {"theme=dark", "cg_id=X; b=2"};
	const char *rep[] = {"cg_id=X", "cg_id=Y"};
	const char *rep1[] = {"cg_id=X; cg_id=Y", "a=1"};
	const char *none[] = {"a=1", "b=2"};
	int dup = -1;

	(void)state;
	assert_ptr_equal(cg_cookie_pick(one, 1, "cg_id", &dup), one[0]);
	assert_int_equal(dup, 0);
	/* another cookie in another Cookie line is no conflict */
	assert_ptr_equal(cg_cookie_pick(two, 2, "cg_id", &dup), two[1]);
	assert_int_equal(dup, 0);
	cg_cookie_pick(rep, 2, "cg_id", &dup);
	assert_int_equal(dup, 1);
	cg_cookie_pick(rep1, 2, "cg_id", &dup);
	assert_int_equal(dup, 1);
	assert_ptr_equal(cg_cookie_pick(none, 2, "cg_id", &dup), none[0]);
	assert_int_equal(dup, 0);
	assert_null(cg_cookie_pick(NULL, 0, "cg_id", &dup));
	assert_int_equal(dup, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_id_v1),
		cmocka_unit_test(test_id_v2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
