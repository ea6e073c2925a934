#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/shown.h"

static void sha256_hex(const uint8_t *b, size_t n, char out[CG_HEX_HASH_LEN + 1])
{
	uint8_t d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, b, n);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, d, sizeof d);
}

/* the offset of the 32 id digits in a script, or -1 */
static long id_field(const uint8_t *js, size_t len)
{
	size_t flen = strlen(CG_BUILD_FIELD);

	for (size_t i = 0; i + flen + CG_BUILD_ID_LEN < len; i++)
		if (memcmp(js + i, CG_BUILD_FIELD, flen) == 0 && js[i + flen + CG_BUILD_ID_LEN] == '"')
			return (long)(i + flen);
	return -1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct cg_shown_file *)a)->name, ((const struct cg_shown_file *)b)->name);
}

int cg_banner_build_id(struct cg_shown_file *files, size_t n, char id[CG_BUILD_ID_LEN + 1],
                       char embedded[CG_BUILD_ID_LEN + 1])
{
	static const char zeros[CG_BUILD_ID_LEN + 1] = "00000000000000000000000000000000";
	crypto_hash_sha256_state h;
	uint8_t d[crypto_hash_sha256_BYTES];
	char num[32];
	int have_js = 0;

	embedded[0] = '\0';
	qsort(files, n, sizeof *files, by_name);
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"consentgate/banner-build/1\n", 27);
	for (size_t i = 0; i < n; i++) {
		long at = strcmp(files[i].name, "banner.js") == 0 ? id_field(files[i].bytes, files[i].len) : -1;
		sha256_hex(files[i].bytes, files[i].len, files[i].hash);
		snprintf(num, sizeof num, "\n%zu\n", files[i].len);
		crypto_hash_sha256_update(&h, (const uint8_t *)files[i].name, strlen(files[i].name));
		crypto_hash_sha256_update(&h, (const uint8_t *)num, strlen(num));
		if (at >= 0) { /* the id field reads as zeros */
			memcpy(embedded, files[i].bytes + at, CG_BUILD_ID_LEN);
			embedded[CG_BUILD_ID_LEN] = '\0';
			crypto_hash_sha256_update(&h, files[i].bytes, (size_t)at);
			crypto_hash_sha256_update(&h, (const uint8_t *)zeros, CG_BUILD_ID_LEN);
			crypto_hash_sha256_update(&h, files[i].bytes + at + CG_BUILD_ID_LEN,
			                          files[i].len - (size_t)at - CG_BUILD_ID_LEN);
		} else {
			crypto_hash_sha256_update(&h, files[i].bytes, files[i].len);
		}
		crypto_hash_sha256_update(&h, (const uint8_t *)"\n", 1);
		have_js |= strcmp(files[i].name, "banner.js") == 0;
	}
	crypto_hash_sha256_final(&h, d);
	sodium_bin2hex(id, CG_BUILD_ID_LEN + 1, d, CG_BUILD_ID_LEN / 2);
	return have_js ? CG_OK : CG_ERR_INVALID;
}

int cg_banner_stamp(uint8_t *js, size_t len, const char id[CG_BUILD_ID_LEN + 1])
{
	long at = id_field(js, len);

	if (at < 0)
		return CG_ERR_INVALID;
	memcpy(js + at, id, CG_BUILD_ID_LEN);
	return CG_OK;
}

void cg_notice_id(struct cg_shown_file *file, char id[CG_NOTICE_ID_LEN + 1])
{
	sha256_hex(file->bytes, file->len, file->hash);
	memcpy(id, file->hash, CG_NOTICE_ID_LEN + 1);
}

int cg_build_id_valid(const char *s)
{
	return strlen(s) == CG_BUILD_ID_LEN && strspn(s, "0123456789abcdef") == CG_BUILD_ID_LEN;
}

int cg_shown_hash_valid(const char *s)
{
	return strlen(s) == CG_HEX_HASH_LEN && strspn(s, "0123456789abcdef") == CG_HEX_HASH_LEN;
}

int cg_shown_name_valid(const char *name)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-";
	size_t n = strlen(name);

	return n >= 1 && n <= CG_SHOWN_NAME_MAX && strspn(name, ok) == n && name[0] != '.' &&
	       name[0] != '-';
}

void cg_shown_record(char out[CG_BANNER_MAX + 1], const char *build, const char *notice, int asserted)
{
	snprintf(out, CG_BANNER_MAX + 1, "build=%s;notice=%s%s", build,
	         notice && notice[0] ? notice : "----------------------------------------------------------------",
	         asserted ? ";asserted" : "");
}

void cg_shown_parse(const char *record, char build[CG_BUILD_ID_LEN + 1], char notice[CG_NOTICE_ID_LEN + 1])
{
	build[0] = notice[0] = '\0';
	if (strncmp(record, "build=", 6) != 0 || strlen(record) < CG_SHOWN_RECORD_LEN - 9)
		return;
	memcpy(build, record + 6, CG_BUILD_ID_LEN);
	build[CG_BUILD_ID_LEN] = '\0';
	if (strncmp(record + 6 + CG_BUILD_ID_LEN, ";notice=", 8) == 0 && record[6 + CG_BUILD_ID_LEN + 8] != '-') {
		memcpy(notice, record + 6 + CG_BUILD_ID_LEN + 8, CG_NOTICE_ID_LEN);
		notice[CG_NOTICE_ID_LEN] = '\0';
	}
	if (!cg_build_id_valid(build))
		build[0] = '\0';
}
