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

/* "" is NULL */
static void put_opt(crypto_hash_sha256_state *h, const char *s)
{
	put_str(h, s, !s[0]);
}

/* 0, 1 or NULL; anything else a store read (CG_TRI_BAD) is a text no
 * honest row has, so no digest matches it */
static void put_tri(crypto_hash_sha256_state *h, int v)
{
	put_str(h, v == 0 ? "0" : v == 1 ? "1" : "?", v == CG_TRI_NULL);
}

static void finish(crypto_hash_sha256_state *h, char out[CG_HEX_HASH_LEN + 1])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(h, d);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, d, sizeof d);
}

/* hex SHA-256(label || text), cut to `digits` hex digits */
static void labelled(const char *label, const char *text, char *out, size_t digits)
{
	crypto_hash_sha256_state h;
	char hex[CG_HEX_HASH_LEN + 1];

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)label, strlen(label));
	crypto_hash_sha256_update(&h, (const unsigned char *)text, strlen(text));
	finish(&h, hex);
	memcpy(out, hex, digits);
	out[digits] = '\0';
}

void cg_chain_subject_digest(const char *subject, char out[CG_HEX_HASH_LEN + 1])
{
	labelled("consentgate/subject-digest/v2:", subject, out, CG_HEX_HASH_LEN);
}

/* the fields both core digests share after the subject */
static void core_fields(crypto_hash_sha256_state *h, const struct cg_event *ev)
{
	char obj[CG_OBJECTIONS_MAX + 1];
	const char *action = cg_action_name(ev->action);

	put_str(h, ev->recorded_at, 0);
	put_str(h, action ? action : "", !action); /* a stored value out of range: no digest matches */
	put_opt(h, ev->policy_version);
	for (int p = 0; p < CG_NPURPOSES; p++)
		put_tri(h, ev->choice[p]);
	put_str(h, cg_purpose_name(ev->objection_purpose) ? cg_purpose_name(ev->objection_purpose) : "?",
	        ev->objection_purpose == -1);
	cg_objections_format(ev->objections, obj);
	put_str(h, obj, 0);
	put_opt(h, ev->choice_at);
}

static void put_id(crypto_hash_sha256_state *h, int64_t v)
{
	char id[24];

	if (v < 0) /* never stored; still a distinct text */
		snprintf(id, sizeof id, "%" PRId64, v);
	else
		decimal(id, (uint64_t)v);
	put_str(h, id, 0);
}

static void core_digest(const struct cg_event *ev, int format, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;
	char sd[CG_HEX_HASH_LEN + 1];

	crypto_hash_sha256_init(&h);
	put_str(&h, format == 1 ? "consentgate/core/v1" : "consentgate/core/v2", 0);
	put_id(&h, ev->id);
	if (format == 1) {
		put_str(&h, ev->subject, 0);
	} else if (ev->subject[0]) {
		cg_chain_subject_digest(ev->subject, sd);
		put_str(&h, sd, 0);
	} else {
		put_opt(&h, ev->subject_digest); /* a pruned link's, or none: a log event */
	}
	core_fields(&h, ev);
	if (format != 1) {
		put_opt(&h, ev->banner);
		put_opt(&h, ev->record);
	}
	finish(&h, out);
}

static void personal_digest_v1(const struct cg_event *ev, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	put_str(&h, "consentgate/personal/v1", 0);
	put_str(&h, ev->salt, 0);
	put_tri(&h, ev->gpc);
	put_tri(&h, ev->dnt);
	put_opt(&h, ev->lang);
	put_opt(&h, ev->banner);
	put_opt(&h, ev->page);
	put_opt(&h, ev->ip_prefix);
	put_opt(&h, ev->country);
	finish(&h, out);
}

static void ip_digest(const char *ip_salt, const char *prefix, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	put_str(&h, "consentgate/ip/v2", 0);
	put_str(&h, ip_salt, 0);
	put_opt(&h, prefix);
	finish(&h, out);
}

/* A row holds its written salt until the IP retention stores ip_digest and
 * keeps the personal salt instead; a row without salt (erased, a tombstone,
 * a log event) commits to NULL there. */
static void personal_digest_v2(const struct cg_event *ev, char out[CG_HEX_HASH_LEN + 1])
{
	crypto_hash_sha256_state h;
	char psalt[CG_SALT_LEN + 1] = "", isalt[CG_SALT_LEN + 1], ipd[CG_HEX_HASH_LEN + 1] = "";

	if (ev->salt[0] && !ev->ip_digest[0]) {
		labelled("consentgate/personal-salt/v2:", ev->salt, psalt, CG_SALT_LEN);
		labelled("consentgate/ip-salt/v2:", ev->salt, isalt, CG_SALT_LEN);
		ip_digest(isalt, ev->ip_prefix, ipd);
	} else {
		snprintf(psalt, sizeof psalt, "%s", ev->salt);
		snprintf(ipd, sizeof ipd, "%s", ev->ip_digest);
	}
	crypto_hash_sha256_init(&h);
	put_str(&h, "consentgate/personal/v2", 0);
	put_opt(&h, psalt);
	put_tri(&h, ev->gpc);
	put_tri(&h, ev->dnt);
	put_opt(&h, ev->lang);
	put_opt(&h, ev->page);
	put_opt(&h, ev->country);
	put_opt(&h, ipd);
	finish(&h, out);
}

static void personal_digest(const struct cg_event *ev, int format, char out[CG_HEX_HASH_LEN + 1])
{
	if (format == 1)
		personal_digest_v1(ev, out);
	else
		personal_digest_v2(ev, out);
}

void cg_chain_clear_ip_values(const char *salt, const char *ip_prefix, char new_salt[CG_SALT_LEN + 1],
                              char out[CG_HEX_HASH_LEN + 1])
{
	char isalt[CG_SALT_LEN + 1];

	labelled("consentgate/ip-salt/v2:", salt, isalt, CG_SALT_LEN);
	ip_digest(isalt, ip_prefix, out);
	labelled("consentgate/personal-salt/v2:", salt, new_salt, CG_SALT_LEN);
}

void cg_chain_clear_ip(struct cg_event *ev)
{
	char salt[CG_SALT_LEN + 1];

	if (ev->format == 1 || !ev->salt[0] || ev->ip_digest[0])
		return;
	cg_chain_clear_ip_values(ev->salt, ev->ip_prefix, salt, ev->ip_digest);
	memcpy(ev->salt, salt, sizeof salt);
	ev->ip_prefix[0] = '\0';
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

void cg_chain_seal_format(struct cg_event *ev, const char *prev_hash, int format)
{
	ev->format = format;
	snprintf(ev->prev_hash, sizeof ev->prev_hash, "%s", prev_hash);
	core_digest(ev, format, ev->core_digest);
	personal_digest(ev, format, ev->personal_digest);
	link_hash(ev->prev_hash, ev->core_digest, ev->personal_digest, ev->hash);
}

void cg_chain_seal(struct cg_event *ev, const char *prev_hash)
{
	cg_chain_seal_format(ev, prev_hash, CG_ROW_FORMAT);
}

int cg_chain_personal_checkable(const struct cg_event *ev)
{
	if (ev->link == CG_LINK_PRUNED)
		return 0;
	if (ev->salt[0])
		return 1;
	/* format 2: a tombstone or a log event has none of them */
	return ev->format != 1 && (ev->action == CG_ACT_ERASE || ev->link == CG_LINK_LOG) &&
	       ev->gpc == CG_TRI_NULL && ev->dnt == CG_TRI_NULL && !ev->lang[0] && !ev->page[0] &&
	       !ev->ip_prefix[0] && !ev->ip_digest[0] && !ev->country[0];
}

int cg_chain_check(const struct cg_event *ev, const char *expected_prev)
{
	char d[CG_HEX_HASH_LEN + 1];
	int format = ev->format == 1 ? 1 : 2;

	if (strcmp(ev->prev_hash, expected_prev) != 0)
		return CG_CHAIN_BAD_LINK;
	/* a pruned link of format 1 kept nothing but its digests */
	if (!(ev->link == CG_LINK_PRUNED && format == 1)) {
		core_digest(ev, format, d);
		if (strcmp(d, ev->core_digest) != 0)
			return CG_CHAIN_BAD_CORE;
	}
	if (cg_chain_personal_checkable(ev)) {
		personal_digest(ev, format, d);
		if (strcmp(d, ev->personal_digest) != 0)
			return CG_CHAIN_BAD_PERSONAL;
	}
	link_hash(ev->prev_hash, ev->core_digest, ev->personal_digest, d);
	if (strcmp(d, ev->hash) != 0)
		return CG_CHAIN_BAD_HASH;
	return CG_CHAIN_OK;
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
