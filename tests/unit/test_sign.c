/* Signatures (RFC 8032 known answers), envelopes, public-key forms, and
 * checking a log against a signed chain head: intact, pruned, tampered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/sign.h"

static void hex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(sodium_hex2bin(out, n, h, strlen(h), NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

/* RFC 8032 §7.1, TEST 1 and TEST 2 */
static const struct {
	const char *seed, *pk, *msg, *sig;
} rfc8032[] = {
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

static void signer_of(int i, struct cg_signer *s)
{
	uint8_t seed[32];

	hex(rfc8032[i].seed, seed, sizeof seed);
	cg_signer_from_seed(seed, s);
}

static void test_known_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; i++) {
		struct cg_signer s;
		struct cg_envelope e;
		struct cg_buf b;
		uint8_t pk[32], msg[1], want[64];
		size_t mlen = strlen(rfc8032[i].msg) / 2;
		char why[128];

		signer_of((int)i, &s);
		hex(rfc8032[i].pk, pk, sizeof pk);
		assert_memory_equal(s.pk, pk, 32);
		if (mlen)
			hex(rfc8032[i].msg, msg, mlen);
		hex(rfc8032[i].sig, want, sizeof want);
		{
			uint8_t got[64];
			crypto_sign_detached(got, NULL, msg, mlen, s.sk);
			assert_memory_equal(got, want, 64);   /* Ed25519 is deterministic */
		}
		cg_buf_init(&b, 1 << 16);
		assert_int_equal(cg_envelope_make(&s, CG_TYPE_RECEIPT, msg, mlen, &b), CG_OK);
		assert_int_equal(cg_envelope_parse(b.p, b.len, &e, why, sizeof why), CG_OK);
		assert_int_equal(e.len, mlen);
		assert_string_equal(e.key_id, s.key_id);
		assert_int_equal(cg_envelope_verify(&e, pk), CG_OK);
		cg_envelope_free(&e);
		cg_buf_free(&b);
		cg_signer_wipe(&s);
	}
}

/* DSSE's own examples: protocol.md's PAE, and testvectors/vectors.json
 * (key A there is RFC 8032's first key: signer_of(0)) */
#define INTOTO "application/vnd.in-toto+json"
#define STATEMENT "{\"_type\":\"https://in-toto.io/Statement/v1\"}"

static void test_dsse_pae(void **state)
{
	struct cg_buf b;
	uint8_t want[128];
	const char *pae_hex = "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e20343320"
	                      "7b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d";

	(void)state;
	cg_buf_init(&b, 4096);
	assert_int_equal(cg_envelope_pae("http://example.com/HelloWorld", "hello world", 11, &b), CG_OK);
	assert_int_equal(b.len, strlen("DSSEv1 29 http://example.com/HelloWorld 11 hello world"));
	assert_memory_equal(b.p, "DSSEv1 29 http://example.com/HelloWorld 11 hello world", b.len);
	cg_buf_reset(&b);
	assert_int_equal(cg_envelope_pae(INTOTO, STATEMENT, strlen(STATEMENT), &b), CG_OK);
	hex(pae_hex, want, strlen(pae_hex) / 2);
	assert_int_equal(b.len, strlen(pae_hex) / 2);
	assert_memory_equal(b.p, want, b.len);
	cg_buf_reset(&b); /* an empty body: "... 0 " with its trailing space */
	assert_int_equal(cg_envelope_pae(INTOTO, "", 0, &b), CG_OK);
	assert_int_equal(b.len, strlen("DSSEv1 28 " INTOTO " 0 "));
	assert_memory_equal(b.p, "DSSEv1 28 " INTOTO " 0 ", b.len);
	cg_buf_free(&b);
}

/* a vector's envelope with our key id in place of its "A" */
static int vector(const struct cg_signer *s, const char *type, const char *payload, const char *sig,
                  struct cg_envelope *e)
{
	char text[1024], why[128];

	snprintf(text, sizeof text, "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\","
	         "\"keyid\":\"%s\"}]}", payload, type, sig, s->key_id);
	return cg_envelope_parse(text, strlen(text), e, why, sizeof why);
}

static void test_dsse_vectors(void **state)
{
	const char *sig1 = "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==";
	struct cg_signer s;
	struct cg_envelope e;
	struct cg_buf b;
	char why[128];
	uint8_t want[64];
	size_t got;

	(void)state;
	signer_of(0, &s);
	/* single-signature: ours signs the same bytes to the same signature */
	cg_buf_init(&b, 4096);
	assert_int_equal(cg_envelope_make(&s, INTOTO, STATEMENT, strlen(STATEMENT), &b), CG_OK);
	assert_int_equal(cg_envelope_parse(b.p, b.len, &e, why, sizeof why), CG_OK);
	assert_int_equal(sodium_base642bin(want, 64, sig1, strlen(sig1), NULL, &got, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL), 0);
	assert_memory_equal(e.sig, want, 64);
	assert_null(cg_envelope_kind(&e)); /* not a type of ours */
	cg_envelope_free(&e);
	assert_int_equal(vector(&s, INTOTO, "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==", sig1, &e), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
	cg_envelope_free(&e);
	/* payload-type-swapped: rejected */
	assert_int_equal(vector(&s, "application/vnd.example.other+json",
	                        "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==", sig1, &e), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_ERR_CHAIN);
	cg_envelope_free(&e);
	/* url-safe-base64: either alphabet is read */
	assert_int_equal(vector(&s, INTOTO, "-_-_Pj8=", "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW"
	                        "886DbWNWcCmX5twLrAw==", &e), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
	cg_envelope_free(&e);
	/* empty-payload */
	assert_int_equal(vector(&s, INTOTO, "", "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/"
	                        "jHfkkDqsj7CDbDg==", &e), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
	cg_envelope_free(&e);
	cg_buf_free(&b);
}

/* a head relabelled as a receipt fails; an envelope of before verifies,
 * its kind taken from what it signed, whatever its label says */
static void test_envelope_relabelled(void **state)
{
	const char head[] = "{\"type\":\"consentgate/chain-head/1\",\"site\":\"s\"}";
	const char receipt[] = "{\"schemaVersion\":\"consentgate receipt 1 (x)\"}";
	struct cg_signer s;
	struct cg_envelope e;
	struct cg_buf b;
	char why[128], *p;

	(void)state;
	signer_of(0, &s);
	cg_buf_init(&b, 4096);
	assert_int_equal(cg_envelope_make(&s, CG_TYPE_HEAD, head, strlen(head), &b), CG_OK);
	p = strstr(b.p, "chain-head+json");
	memcpy(p, "receipt+json\"", 13);
	memmove(p + 13, p + 16, strlen(p + 16) + 1);
	assert_int_equal(cg_envelope_parse(b.p, strlen(b.p), &e, why, sizeof why), CG_OK);
	assert_string_equal(e.payload_type, CG_TYPE_RECEIPT);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_ERR_CHAIN);
	cg_envelope_free(&e);
	for (int i = 0; i < 2; i++) { /* the format of before, labelled falsely */
		const char *pl = i ? receipt : head;
		uint8_t sig[64];
		char p64[256], s64[128];
		cg_buf_reset(&b);
		crypto_sign_detached(sig, NULL, (const uint8_t *)pl, strlen(pl), s.sk);
		sodium_bin2base64(p64, sizeof p64, (const uint8_t *)pl, strlen(pl), sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(s64, sizeof s64, sig, 64, sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(cg_buf_printf(&b, "{\"signed\":\"consentgate/1\",\"payload_type\":\"%s\",\"payload\":\"%s\","
		                               "\"key_id\":\"%s\",\"alg\":\"Ed25519\",\"signature\":\"%s\"}",
		                               i ? "chain-head" : "receipt", p64, s.key_id, s64), CG_OK);
		assert_int_equal(cg_envelope_parse(b.p, b.len, &e, why, sizeof why), CG_OK);
		assert_int_equal(e.legacy, 1);
		assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
		assert_string_equal(cg_envelope_kind(&e), i ? "receipt" : "chain-head");
		cg_envelope_free(&e);
	}
	cg_buf_free(&b);
}

static void test_key_forms(void **state)
{
	struct cg_signer s;
	char pem[CG_SIGN_PEM_MAX], b64[48];

	(void)state;
	signer_of(0, &s);
	cg_key_pem(s.pk, pem);
	assert_string_equal(pem, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	                         "-----END PUBLIC KEY-----\n");
	cg_key_b64url(s.pk, b64);
	assert_string_equal(b64, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
	/* the id: SHA-256 of the key, first 8 bytes */
	assert_int_equal(strlen(s.key_id), 16);
	{
		uint8_t d[32];
		char want[17];
		crypto_hash_sha256(d, s.pk, 32);
		sodium_bin2hex(want, sizeof want, d, 8);
		assert_string_equal(s.key_id, want);
	}
}

/* one changed byte of the payload, another key, a mangled envelope */
static void test_envelope_refuses(void **state)
{
	struct cg_signer s, other;
	struct cg_envelope e;
	struct cg_buf b;
	char why[128], *p;
	const char receipt[] = "{\"consentReceiptID\":\"ab\",\"x\":\"\\u00e6 \\\"q\\\"\"}";

	(void)state;
	signer_of(0, &s);
	signer_of(1, &other);
	cg_buf_init(&b, 1 << 16);
	assert_int_equal(cg_envelope_make(&s, CG_TYPE_RECEIPT, receipt, strlen(receipt), &b), CG_OK);
	assert_int_equal(cg_envelope_parse(b.p, b.len, &e, why, sizeof why), CG_OK);
	assert_string_equal(e.payload, receipt);          /* the exact bytes */
	assert_string_equal(e.payload_type, CG_TYPE_RECEIPT);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, other.pk), CG_ERR_CHAIN);
	e.payload[3] ^= 1;
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_ERR_CHAIN);
	cg_envelope_free(&e);
	p = strstr(b.p, "\"signatures\"");
	memcpy(p, "\"signaturez\"", 12);
	assert_int_equal(cg_envelope_parse(b.p, b.len, &e, why, sizeof why), CG_ERR_INVALID);
	assert_int_equal(cg_envelope_parse("[1]", 3, &e, why, sizeof why), CG_ERR_INVALID);
	assert_int_equal(cg_envelope_parse("{", 1, &e, why, sizeof why), CG_ERR_INVALID);
	cg_buf_free(&b);
}

/* an export holding its receipt's envelope under "signed_receipt" */
static void test_envelope_inside_export(void **state)
{
	struct cg_signer s;
	struct cg_envelope e;
	struct cg_buf env, doc;
	char why[128];

	(void)state;
	signer_of(0, &s);
	cg_buf_init(&env, 1 << 16);
	cg_buf_init(&doc, 1 << 16);
	assert_int_equal(cg_envelope_make(&s, CG_TYPE_RECEIPT, "{}", 2, &env), CG_OK);
	assert_int_equal(cg_buf_printf(&doc, "{\"subject\":\"x\",\"signed_receipt\":%s}", env.p), CG_OK);
	assert_int_equal(cg_envelope_parse(doc.p, doc.len, &e, why, sizeof why), CG_OK);
	assert_int_equal(cg_envelope_verify(&e, s.pk), CG_OK);
	cg_envelope_free(&e);
	cg_buf_free(&env);
	cg_buf_free(&doc);
}

static void make(struct cg_event *ev, int64_t id, const char *prev)
{
	memset(ev, 0, sizeof *ev);
	ev->id = id;
	snprintf(ev->subject, sizeof ev->subject, "%064lld", (long long)id);
	snprintf(ev->recorded_at, sizeof ev->recorded_at, "2026-11-21T10:00:%02lld.000Z", (long long)id);
	strcpy(ev->choice_at, ev->recorded_at);
	strcpy(ev->policy_version, "2023-12");
	ev->choice[0] = ev->choice[1] = ev->choice[2] = 1;
	ev->objection_purpose = -1;
	strcpy(ev->salt, "00112233445566778899aabbccddeeff");
	ev->gpc = ev->dnt = 0;
	strcpy(ev->ip_prefix, "203.0.113.0/24");
	cg_chain_seal(ev, prev);
}

#define N 6
static void chain(struct cg_event ev[N])
{
	for (int i = 0; i < N; i++)
		make(&ev[i], i + 1, i ? ev[i - 1].hash : CG_CHAIN_GENESIS);
}

static int run(const struct cg_head *h, const struct cg_event *ev, int n, char *why)
{
	struct cg_head_check c;
	int rc;

	cg_head_check_init(&c, h);
	for (int i = 0; i < n && !cg_head_check_row(&c, &ev[i]); i++)
		;
	rc = cg_head_check_finish(&c);
	strcpy(why, c.why);
	return rc;
}

static void head_at(const struct cg_event *ev, int64_t id, struct cg_head *h)
{
	memset(h, 0, sizeof *h);
	h->last_id = id;
	h->links = id;
	strcpy(h->hash, ev[id - 1].hash);
}

static void test_head_round_trip(void **state)
{
	struct cg_event ev[N];
	struct cg_head h, back;
	struct cg_buf b;

	(void)state;
	chain(ev);
	head_at(ev, 4, &h);
	strcpy(h.site, "shop.example");
	strcpy(h.chain, "consent_events");
	strcpy(h.key_id, "0123456789abcdef");
	strcpy(h.signed_at, "2026-11-21T11:00:00.000Z");
	strcpy(h.last_recorded_at, ev[3].recorded_at);
	cg_buf_init(&b, 4096);
	assert_int_equal(cg_head_payload(&h, &b), CG_OK);
	assert_non_null(strstr(b.p, "{\"type\":\"consentgate/chain-head/1\",\"site\":\"shop.example\""));
	assert_int_equal(cg_head_parse(b.p, b.len, &back), CG_OK);
	assert_memory_equal(&h, &back, sizeof h);
	assert_int_equal(cg_head_parse("{\"type\":\"x\"}", 12, &back), CG_ERR_INVALID);
	cg_buf_free(&b);
}

static void test_head_intact_and_grown(void **state)
{
	struct cg_event ev[N];
	struct cg_head h;
	char why[200];

	(void)state;
	chain(ev);
	head_at(ev, 4, &h);
	assert_int_equal(run(&h, ev, 4, why), CG_OK);
	assert_int_equal(run(&h, ev, N, why), CG_OK);   /* rows after the head change nothing */
	memset(&h, 0, sizeof h);                        /* the empty log's head */
	strcpy(h.hash, CG_CHAIN_GENESIS);
	assert_int_equal(run(&h, ev, N, why), CG_OK);
}

/* retention deleted rows 1-2 and kept their links: still the same head */
static void test_head_pruned(void **state)
{
	struct cg_event ev[N];
	struct cg_head h;
	char why[200];

	(void)state;
	chain(ev);
	for (int i = 0; i < 2; i++) { /* links that keep their core fields (chain.h) */
		ev[i].link = CG_LINK_PRUNED;
		cg_chain_subject_digest(ev[i].subject, ev[i].subject_digest);
		memset(ev[i].subject, 0, sizeof ev[i].subject);
		ev[i].salt[0] = '\0';
	}
	head_at(ev, 4, &h);
	assert_int_equal(run(&h, ev, N, why), CG_OK);
	/* ...but a pruned link that was removed too is a divergence */
	assert_int_equal(run(&h, ev + 1, N - 1, why), CG_ERR_CHAIN);
	assert_string_equal(why, "row 1 is missing (neither a row nor a pruned link)");
}

static void test_head_tampered(void **state)
{
	struct cg_event ev[N], forged[N];
	struct cg_head h;
	char why[200];

	(void)state;
	chain(ev);
	head_at(ev, 4, &h);
	ev[1].choice[2] = 0;                             /* a core field altered */
	assert_int_equal(run(&h, ev, N, why), CG_ERR_CHAIN);
	assert_string_equal(why, "row 2: core fields do not match core_digest");
	/* the whole history rewritten and re-sealed: only the head can tell */
	chain(forged);
	forged[1].choice[2] = 0;
	for (int i = 1; i < N; i++)
		cg_chain_seal(&forged[i], forged[i - 1].hash);
	assert_int_equal(run(&h, forged, N, why), CG_ERR_CHAIN);
	assert_string_equal(why, "row 4: its hash is not the signed head's (the log was rewritten up to here)");
	/* the log cut short */
	chain(ev);
	assert_int_equal(run(&h, ev, 3, why), CG_ERR_CHAIN);
	assert_string_equal(why, "row 4 is missing (neither a row nor a pruned link); the log ends before the signed head");
	/* a head that claims more links than its rows */
	h.links = 5;
	assert_int_equal(run(&h, ev, N, why), CG_ERR_CHAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_key_forms),
		cmocka_unit_test(test_dsse_pae),
		cmocka_unit_test(test_dsse_vectors),
		cmocka_unit_test(test_envelope_relabelled),
		cmocka_unit_test(test_envelope_refuses),
		cmocka_unit_test(test_envelope_inside_export),
		cmocka_unit_test(test_head_round_trip),
		cmocka_unit_test(test_head_intact_and_grown),
		cmocka_unit_test(test_head_pruned),
		cmocka_unit_test(test_head_tampered),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
