#include <sodium.h>
#include <string.h>

#include "consentgate/id.h"

void cg_id_encode(const uint8_t raw[CG_ID_BYTES], char out[CG_ID_LEN + 1])
{
	sodium_bin2base64(out, CG_ID_LEN + 1, raw, CG_ID_BYTES,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int cg_id_valid(const char *s, size_t len)
{
	uint8_t raw[CG_ID_BYTES];
	size_t got = 0;

	if (!s || len != CG_ID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	/* also rejects non-canonical trailing bits */
	if (sodium_base642bin(raw, sizeof raw, s, len, NULL, &got, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	return got == CG_ID_BYTES;
}

void cg_sha256_hex(const void *data, size_t len, char out[CG_HEX_HASH_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, h, sizeof h);
}

void cg_id_subject(const char *id, char out[CG_SUBJECT_LEN + 1])
{
	static const char prefix[] = "consentgate/subject/v1:";
	char msg[sizeof prefix + CG_ID_LEN];
	size_t n = strnlen(id, CG_ID_LEN);

	memcpy(msg, prefix, sizeof prefix - 1);
	memcpy(msg + sizeof prefix - 1, id, n);
	cg_sha256_hex(msg, sizeof prefix - 1 + n, out);
}
