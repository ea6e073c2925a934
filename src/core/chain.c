#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"

/* Canonical encoding: every field as "<len>:<bytes>;", NULL as "-;". Lengths
 * make it unambiguous whatever the field contents are. (Decimal written by
 * hand: snprintf cost a sixth of the seal, 3.5 against 3.0 µs.) */
static size_t decimal(char out[24], uint64_t v)
{
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (len = 0; len < n; len++)
		out[len] = tmp[n - 1 - len];
	out[len] = '\0';
	return len;
}

static void put_str(crypto_hash_sha256_state *h, const char *s, int is_null)
{
	char num[24];
	size_t len, n;

	if (is_null) {
		crypto_hash_sha256_update(h, (const unsigned char *)"-;", 2);
		return;
	}
	len = strlen(s);
	n = decimal(num, len);
	num[n++] = ':';
	crypto_hash_sha256_update(h, (const unsigned char *)num, n);
	crypto_hash_sha256_update(h, (const unsigned char *)s, len);
	crypto_hash_sha256_update(h, (const unsigned char *)";", 1);
}

static void put_tri(crypto_hash_sha256_state *h, int v)
{
	put_str(h, v ? "1" : "0", v == CG_TRI_NULL);
}

static void finish(crypto_hash_sha256_state *h, char out[CG_HEX_HASH_LEN + 1])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(h, d);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, d, sizeof d);
}

static void core_digest(const struct cg_event *ev, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;
	char id[24], obj[CG_OBJECTIONS_MAX + 1];

	crypto_hash_sha256_init(&h);
	put_str(&h, "consentgate/core/v1", 0);
	if (ev->id < 0) /* never stored; still a distinct text */
		snprintf(id, sizeof id, "%" PRId64, ev->id);
	else
		decimal(id, (uint64_t)ev->id);
	put_str(&h, id, 0);
	put_str(&h, ev->subject, 0);
	put_str(&h, ev->recorded_at, 0);
	put_str(&h, cg_action_name(ev->action), 0);
	put_str(&h, ev->policy_version, !ev->policy_version[0]);
	for (int p = 0; p < CG_NPURPOSES; p++)
		put_tri(&h, ev->choice[p]);
	put_str(&h, ev->objection_purpose >= 0 ? cg_purpose_name(ev->objection_purpose) : "",
	        ev->objection_purpose < 0);
	cg_objections_format(ev->objections, obj);
	put_str(&h, obj, 0);
	put_str(&h, ev->choice_at, !ev->choice_at[0]);
	finish(&h, out);
}

static void personal_digest(const struct cg_event *ev, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	put_str(&h, "consentgate/personal/v1", 0);
	put_str(&h, ev->salt, 0);
	put_tri(&h, ev->gpc);
	put_tri(&h, ev->dnt);
	put_str(&h, ev->lang, !ev->lang[0]);
	put_str(&h, ev->banner, !ev->banner[0]);
	put_str(&h, ev->page, !ev->page[0]);
	put_str(&h, ev->ip_prefix, !ev->ip_prefix[0]);
	put_str(&h, ev->country, !ev->country[0]);
	finish(&h, out);
}

static void link_hash(const char *prev, const char *core, const char *pers,
                      char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)prev, strlen(prev));
	crypto_hash_sha256_update(&h, (const unsigned char *)core, strlen(core));
	crypto_hash_sha256_update(&h, (const unsigned char *)pers, strlen(pers));
	finish(&h, out);
}

void cg_chain_seal(struct cg_event *ev, const char *prev_hash)
{
	snprintf(ev->prev_hash, sizeof ev->prev_hash, "%s", prev_hash);
	core_digest(ev, ev->core_digest);
	personal_digest(ev, ev->personal_digest);
	link_hash(ev->prev_hash, ev->core_digest, ev->personal_digest, ev->hash);
}

int cg_chain_check(const struct cg_event *ev, const char *expected_prev)
{
	char d[CG_HEX_HASH_LEN + 1];

	if (strcmp(ev->prev_hash, expected_prev) != 0)
		return CG_CHAIN_BAD_LINK;
	core_digest(ev, d);
	if (strcmp(d, ev->core_digest) != 0)
		return CG_CHAIN_BAD_CORE;
	/* a redacted row (salt cleared) can no longer be checked field by field */
	if (ev->salt[0]) {
		personal_digest(ev, d);
		if (strcmp(d, ev->personal_digest) != 0)
			return CG_CHAIN_BAD_PERSONAL;
	}
	link_hash(ev->prev_hash, ev->core_digest, ev->personal_digest, d);
	if (strcmp(d, ev->hash) != 0)
		return CG_CHAIN_BAD_HASH;
	return CG_CHAIN_OK;
}

int cg_chain_check_link(const struct cg_event *ev, const char *expected_prev)
{
	char d[CG_HEX_HASH_LEN + 1];

	if (strcmp(ev->prev_hash, expected_prev) != 0)
		return CG_CHAIN_BAD_LINK;
	link_hash(ev->prev_hash, ev->core_digest, ev->personal_digest, d);
	return strcmp(d, ev->hash) == 0 ? CG_CHAIN_OK : CG_CHAIN_BAD_HASH;
}

const char *cg_chain_fault_name(int fault)
{
	static const char *const names[] = {
		"ok", "prev_hash does not match the previous row",
		"core fields do not match core_digest",
		"personal fields do not match personal_digest",
		"hash does not match its inputs",
	};
	return fault >= 0 && fault <= CG_CHAIN_BAD_HASH ? names[fault] : "unknown";
}
