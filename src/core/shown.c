#include <sodium.h>
#include <stddef.h>
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

const char *cg_shown_kind_name(int kind)
{
	return kind == CG_SHOWN_BANNER ? "banner" : kind == CG_SHOWN_NOTICE ? "notice" : "vendors";
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

#define NOTICE_NONE "----------------------------------------------------------------"

/* The optional parts of a record, in their order (shown.h); a part that
 * is an id is exactly that many lower-case hex digits (an edited id that
 * is no id fails the grammar, not only the digest). */
static const struct {
	const char *key;
	size_t off;
	size_t hex;                         /* 0: any value */
} parts[] = {
	{"vendors", offsetof(struct cg_what_shown, vendors), 64},
	{"mode", offsetof(struct cg_what_shown, mode), 0},
};
#define NPARTS (sizeof parts / sizeof parts[0])
#define VALUE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

void cg_shown_record(char out[CG_BANNER_MAX + 1], const struct cg_what_shown *w)
{
	size_t n = (size_t)snprintf(out, CG_BANNER_MAX + 1, "build=%s;notice=%s", w->build,
	                            w->notice[0] ? w->notice : NOTICE_NONE);

	for (size_t i = 0; i < NPARTS && n < CG_BANNER_MAX; i++) {
		const char *v = (const char *)w + parts[i].off;
		if (v[0])
			n += (size_t)snprintf(out + n, CG_BANNER_MAX + 1 - n, ";%s=%s", parts[i].key, v);
	}
	if (w->asserted && n < CG_BANNER_MAX)
		snprintf(out + n, CG_BANNER_MAX + 1 - n, ";asserted");
}

/* one optional part at *p, if it is there: advances *p */
static int parse_part(const char **p, size_t i, struct cg_what_shown *w)
{
	size_t klen = strlen(parts[i].key), vlen;
	char *v = (char *)w + parts[i].off;

	if ((*p)[0] != ';' || strncmp(*p + 1, parts[i].key, klen) != 0 || (*p)[1 + klen] != '=')
		return 0;
	*p += 2 + klen;
	vlen = strspn(*p, VALUE_CHARS);
	if (vlen == 0 || vlen > CG_SHOWN_VALUE_MAX ||
	    (parts[i].hex && (vlen != parts[i].hex || strspn(*p, "0123456789abcdef") < vlen)))
		return -1;
	memcpy(v, *p, vlen);
	v[vlen] = '\0';
	*p += vlen;
	return 1;
}

int cg_shown_parse(const char *record, struct cg_what_shown *w)
{
	char again[CG_BANNER_MAX + 1];
	const char *p = record;

	memset(w, 0, sizeof *w);
	if (strlen(record) < 6 + CG_BUILD_ID_LEN + 8 + CG_NOTICE_ID_LEN || strncmp(p, "build=", 6) != 0 ||
	    strncmp(p + 6 + CG_BUILD_ID_LEN, ";notice=", 8) != 0)
		goto out_invalid;
	memcpy(w->build, p + 6, CG_BUILD_ID_LEN);
	p += 6 + CG_BUILD_ID_LEN + 8;
	if (strncmp(p, NOTICE_NONE, CG_NOTICE_ID_LEN) != 0) {
		memcpy(w->notice, p, CG_NOTICE_ID_LEN);
		if (strspn(w->notice, "0123456789abcdef") != CG_NOTICE_ID_LEN)
			goto out_invalid;
	}
	p += CG_NOTICE_ID_LEN;
	for (size_t i = 0; i < NPARTS; i++)
		if (parse_part(&p, i, w) < 0)
			goto out_invalid;
	if (strcmp(p, ";asserted") == 0)
		w->asserted = 1;
	else if (*p)
		goto out_invalid;
	cg_shown_record(again, w);
	if (cg_build_id_valid(w->build) && strcmp(again, record) == 0)
		return CG_OK;
out_invalid:
	memset(w, 0, sizeof *w);
	return CG_ERR_INVALID;
}

static int in_service(const struct cg_shown_row *r, int64_t t)
{
	return r->first_ms <= t && (!r->retired_ms || t < r->retired_ms);
}

void cg_shown_notice_of(const struct cg_shown_row *build, const struct cg_shown_row *row, struct cg_notice_pick *p)
{
	int64_t t = build->retired_ms ? build->retired_ms - 1 : INT64_MAX - 1;

	/* of the notices in service then (one, unless two instances overlapped), the newest */
	if (row->kind == CG_SHOWN_NOTICE && in_service(row, t) && row->first_ms > p->first_ms) {
		p->first_ms = row->first_ms;
		snprintf(p->notice, sizeof p->notice, "%s", row->id);
	}
}
