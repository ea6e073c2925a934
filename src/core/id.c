#include <sodium.h>
#include <string.h>

#include "consentgate/id.h"

static void b64(char *out, size_t outlen, const uint8_t *raw, size_t n)
{
	sodium_bin2base64(out, outlen, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* 1 if s[0..len) is canonical base64url of exactly n bytes */
static int b64_decodes(const char *s, size_t len, uint8_t *raw, size_t n)
{
	size_t got = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	/* also rejects non-canonical trailing bits */
	if (sodium_base642bin(raw, n, s, len, NULL, &got, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	return got == n;
}

void cg_id_encode(const uint8_t raw[CG_ID_BYTES], char out[CG_ID_V1_LEN + 1])
{
	b64(out, CG_ID_V1_LEN + 1, raw, CG_ID_BYTES);
}

void cg_id_make(const uint8_t rnd[CG_ID_RANDOM_BYTES], int64_t now_ms, char out[CG_ID_LEN + 1])
{
	uint64_t sel = ((uint64_t)now_ms << 20) |
	               (((uint64_t)rnd[CG_ID_BYTES] << 16 | (uint64_t)rnd[CG_ID_BYTES + 1] << 8 |
	                 rnd[CG_ID_BYTES + 2]) & 0xfffff);
	uint8_t be[CG_ID_SELECTOR_BYTES];

	for (int i = 0; i < CG_ID_SELECTOR_BYTES; i++)
		be[i] = (uint8_t)(sel >> (56 - 8 * i));
	b64(out, CG_ID_SELECTOR_LEN + 1, be, sizeof be);
	out[CG_ID_SELECTOR_LEN] = '.';
	b64(out + CG_ID_SELECTOR_LEN + 1, CG_ID_V1_LEN + 1, rnd, CG_ID_BYTES);
}

int cg_id_valid(const char *s, size_t len)
{
	uint8_t raw[CG_ID_BYTES];

	if (!s)
		return 0;
	if (len == CG_ID_V1_LEN)
		return b64_decodes(s, len, raw, CG_ID_BYTES);
	return len == CG_ID_LEN && s[CG_ID_SELECTOR_LEN] == '.' &&
	       b64_decodes(s, CG_ID_SELECTOR_LEN, raw, CG_ID_SELECTOR_BYTES) &&
	       b64_decodes(s + CG_ID_SELECTOR_LEN + 1, CG_ID_V1_LEN, raw, CG_ID_BYTES);
}

void cg_sha256_hex(const void *data, size_t len, char out[CG_HEX_HASH_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, h, sizeof h);
}

void cg_id_subject(const char *id, char out[CG_SUBJECT_LEN + 1])
{
	static const char v1[] = "consentgate/subject/v1:", v2[] = "consentgate/subject/v2:";
	char msg[sizeof v2 + CG_ID_LEN];
	uint8_t key[CG_SUBJECT_BYTES], h[crypto_hash_sha256_BYTES];
	size_t n = strnlen(id, CG_ID_LEN), got = 0;
	int is_v2 = n == CG_ID_LEN;

	memcpy(msg, is_v2 ? v2 : v1, sizeof v1 - 1);
	memcpy(msg + sizeof v1 - 1, id, n);
	crypto_hash_sha256(h, (const unsigned char *)msg, sizeof v1 - 1 + n);
	if (is_v2) {
		/* the selector leads, so the key sorts by creation time */
		if (sodium_base642bin(key, CG_ID_SELECTOR_BYTES, id, CG_ID_SELECTOR_LEN, NULL, &got,
		                      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
			memset(key, 0, CG_ID_SELECTOR_BYTES);
		memcpy(key + CG_ID_SELECTOR_BYTES, h, CG_SUBJECT_BYTES - CG_ID_SELECTOR_BYTES);
	} else {
		memcpy(key, h, sizeof key);
	}
	sodium_bin2hex(out, CG_SUBJECT_LEN + 1, key, sizeof key);
}
