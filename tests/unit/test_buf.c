/* The capped buffer (buf.h): appends up to the cap and not a byte past it,
 * a refused append leaves the buffer as it was, printf's two passes, and the
 * JSON writer's bytes as jansson's compact output has them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/err.h"

static void test_add_and_cap(void **state)
{
	struct cg_buf b;

	(void)state;
	cg_buf_init(&b, 8);
	assert_null(b.p);
	assert_int_equal(cg_buf_add(&b, "", 0), CG_OK);
	assert_string_equal(b.p, "");
	assert_int_equal(cg_buf_adds(&b, "abcd"), CG_OK);
	assert_int_equal(cg_buf_add(&b, "efgh", 4), CG_OK);
	assert_int_equal(b.len, 8);
	/* the cap holds: one byte more is refused, the text unchanged */
	assert_int_equal(cg_buf_add(&b, "i", 1), CG_ERR_TOO_LONG);
	assert_string_equal(b.p, "abcdefgh");
	assert_int_equal(b.len, 8);
	/* a length that would wrap the sum is refused, not wrapped */
	assert_int_equal(cg_buf_add(&b, "x", SIZE_MAX), CG_ERR_TOO_LONG);
	cg_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	cg_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.max, 8);
}

static void test_printf(void **state)
{
	struct cg_buf b;
	char big[1000];

	(void)state;
	cg_buf_init(&b, 1200);
	assert_int_equal(cg_buf_printf(&b, "%d-%s", 42, "x"), CG_OK);
	assert_string_equal(b.p, "42-x");
	/* past what is allocated: the second pass after growing */
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(cg_buf_printf(&b, "%s", big), CG_OK);
	assert_int_equal(b.len, 4 + 999);
	assert_int_equal(b.p[b.len], '\0');
	/* past the cap: refused, and the text (and its NUL) as it was */
	assert_int_equal(cg_buf_printf(&b, "%s", big), CG_ERR_TOO_LONG);
	assert_int_equal(b.len, 1003);
	assert_int_equal(strlen(b.p), 1003);
	cg_buf_free(&b);
	/* a text that fits the allocation but not the cap */
	cg_buf_init(&b, 3);
	assert_int_equal(cg_buf_printf(&b, "ab"), CG_OK);
	assert_int_equal(cg_buf_printf(&b, "cd"), CG_ERR_TOO_LONG);
	assert_string_equal(b.p, "ab");
	cg_buf_free(&b);
}

static void test_take(void **state)
{
	struct cg_buf b;
	char *p;

	(void)state;
	cg_buf_init(&b, 64);
	assert_int_equal(cg_buf_adds(&b, "kept"), CG_OK);
	p = cg_buf_take(&b);
	assert_string_equal(p, "kept");
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64);
	free(p);
	cg_buf_free(NULL);
}

/* every ASCII byte but NUL in a string: the text jansson writes, but for
 * the case of \u escapes' hex digits (jansson: \u001B, here \u001b; the
 * same JSON string) */
static void test_json_str_as_jansson(void **state)
{
	char raw[127];
	struct cg_buf b;
	json_t *s;
	char *want;

	(void)state;
	for (int i = 0; i < 127; i++)
		raw[i] = (char)(i + 1);
	s = json_stringn(raw, 127);
	assert_non_null(s);
	want = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
	cg_buf_init(&b, 4096);
	assert_int_equal(cg_buf_json_str(&b, raw, 127), 0);
	for (char *p = want; (p = strstr(p, "\\u")) != NULL; p += 2)
		for (int i = 2; i < 6; i++)
			p[i] = (char)tolower((unsigned char)p[i]);
	assert_string_equal(b.p, want);
	cg_buf_reset(&b);
	assert_int_equal(cg_buf_json_key(&b, 1, "a\"b"), 0);
	assert_int_equal(cg_buf_json_key(&b, 0, "c"), 0);
	assert_string_equal(b.p, "\"a\\\"b\":,\"c\":");
	cg_buf_free(&b);
	/* refused past the cap, as every append */
	cg_buf_init(&b, 4);
	assert_int_not_equal(cg_buf_json_str(&b, "abcd", 4), 0);
	assert_int_not_equal(cg_buf_json_key(&b, 0, "k"), 0);
	cg_buf_free(&b);
	free(want);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_cap),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_json_str_as_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
