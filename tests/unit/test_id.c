/* The visitor's ID and its subject key (id.h): the forms the cookie may
 * hold and no other, and the subject keys that sort by creation time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/id.h"

static void test_sha256(void **state)
{
	char out[CG_HEX_HASH_LEN + 1];

	(void)state;
	cg_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_make_and_valid(void **state)
{
	uint8_t rnd[CG_ID_RANDOM_BYTES];
	char id[CG_ID_LEN + 1], v1[CG_ID_V1_LEN + 1];

	(void)state;
	memset(rnd, 0xab, sizeof rnd);
	cg_id_make(rnd, INT64_C(1795303718006), id);
	assert_int_equal(strlen(id), CG_ID_LEN);
	assert_int_equal(id[CG_ID_SELECTOR_LEN], '.');
	assert_true(cg_id_valid(id, CG_ID_LEN));
	cg_id_encode(rnd, v1);
	assert_int_equal(strlen(v1), CG_ID_V1_LEN);
	assert_true(cg_id_valid(v1, CG_ID_V1_LEN));
	/* the secret part of a v2 ID is the v1 form of the same bytes */
	assert_string_equal(id + CG_ID_SELECTOR_LEN + 1, v1);
}

static void test_valid_refuses(void **state)
{
	uint8_t rnd[CG_ID_RANDOM_BYTES];
	char id[CG_ID_LEN + 1], v1[CG_ID_V1_LEN + 1];

	(void)state;
	memset(rnd, 0, sizeof rnd);
	cg_id_make(rnd, 1, id);
	cg_id_encode(rnd, v1);
	assert_false(cg_id_valid(NULL, 0));
	assert_false(cg_id_valid(v1, CG_ID_V1_LEN - 1));
	assert_false(cg_id_valid(id, CG_ID_LEN - 1));
	/* 22 characters carry 132 bits: the last 4 must be zero (canonical) */
	v1[CG_ID_V1_LEN - 1] = 'B';
	assert_false(cg_id_valid(v1, CG_ID_V1_LEN));
	v1[CG_ID_V1_LEN - 1] = 'Q';
	assert_true(cg_id_valid(v1, CG_ID_V1_LEN));
	v1[0] = '+'; /* standard base64, not base64url */
	assert_false(cg_id_valid(v1, CG_ID_V1_LEN));
	id[CG_ID_SELECTOR_LEN] = '-';
	assert_false(cg_id_valid(id, CG_ID_LEN));
}

/* v2 subjects lead with the selector (the time): later IDs sort later */
static void test_subject(void **state)
{
	uint8_t rnd[CG_ID_RANDOM_BYTES];
	char a[CG_ID_LEN + 1], b[CG_ID_LEN + 1], v1[CG_ID_V1_LEN + 1];
	char sa[CG_SUBJECT_LEN + 1], sb[CG_SUBJECT_LEN + 1], s1[CG_SUBJECT_LEN + 1];

	(void)state;
	memset(rnd, 0xff, sizeof rnd);
	cg_id_make(rnd, INT64_C(1700000000000), a);
	memset(rnd, 0x00, sizeof rnd);
	cg_id_make(rnd, INT64_C(1700000000001), b);
	cg_id_subject(a, sa);
	cg_id_subject(b, sb);
	assert_int_equal(strlen(sa), CG_SUBJECT_LEN);
	assert_true(strcmp(sa, sb) < 0);
	/* the same secret as a v1 ID is another subject (another version's key) */
	cg_id_encode(rnd, v1);
	cg_id_subject(v1, s1);
	assert_string_not_equal(s1, sb);
	/* and the same ID, the same subject */
	cg_id_subject(b, sa);
	assert_string_equal(sa, sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_make_and_valid),
		cmocka_unit_test(test_valid_refuses),
		cmocka_unit_test(test_subject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
