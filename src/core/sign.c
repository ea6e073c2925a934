#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/sign.h"
#include "consentgate/timefmt.h"

#define ENVELOPE_FORMAT "consentgate/1"
#define HEAD_TYPE "consentgate/chain-head/1"

void cg_key_id(const uint8_t pk[CG_SIGN_PK_BYTES], char out[CG_KEY_ID_LEN + 1])
{
	uint8_t d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, pk, CG_SIGN_PK_BYTES);
	sodium_bin2hex(out, CG_KEY_ID_LEN + 1, d, CG_KEY_ID_LEN / 2);
}

void cg_signer_from_seed(const uint8_t seed[CG_SIGN_SEED_BYTES], struct cg_signer *s)
{
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	cg_key_id(s->pk, s->key_id);
}

void cg_signer_wipe(struct cg_signer *s)
{
	sodium_memzero(s, sizeof *s);
}

/* SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): this prefix, then the key */
static const uint8_t spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

void cg_key_pem(const uint8_t pk[CG_SIGN_PK_BYTES], char out[CG_SIGN_PEM_MAX])
{
	uint8_t der[sizeof spki_prefix + CG_SIGN_PK_BYTES];
	char b64[64];

	memcpy(der, spki_prefix, sizeof spki_prefix);
	memcpy(der + sizeof spki_prefix, pk, CG_SIGN_PK_BYTES);
	sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, CG_SIGN_PEM_MAX, "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
}

void cg_key_b64url(const uint8_t pk[CG_SIGN_PK_BYTES], char out[48])
{
	sodium_bin2base64(out, 48, pk, CG_SIGN_PK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

json_t *cg_keys_json(const struct cg_pubkey *keys, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		char pem[CG_SIGN_PEM_MAX], raw[48], at[CG_TIME_LEN + 1];
		cg_key_pem(keys[i].pk, pem);
		cg_key_b64url(keys[i].pk, raw);
		cg_time_format(keys[i].created_ms, at);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "key_id", keys[i].key_id,
		                                   "alg", "Ed25519", "public_key", raw, "spki_pem", pem, "created_at", at));
	}
	return json_pack("{s:o}", "keys", a);
}

int cg_keys_parse(const char *text, size_t len, struct cg_pubkey **keys, size_t *n)
{
	json_t *o = json_loadb(text, len, 0, NULL), *a = json_object_get(o, "keys"), *k;
	struct cg_pubkey *out = NULL;
	size_t i, got = 0, m = 0;
	int rc = CG_ERR_INVALID;

	*keys = NULL;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > 4096 ||
	    !(out = calloc(json_array_size(a) + 1, sizeof *out)))
		goto out;
	json_array_foreach(a, i, k) {
		const char *kid = json_string_value(json_object_get(k, "key_id"));
		const char *raw = json_string_value(json_object_get(k, "public_key"));
		if (!kid || !raw || strlen(kid) != CG_KEY_ID_LEN ||
		    sodium_base642bin(out[m].pk, CG_SIGN_PK_BYTES, raw, strlen(raw), NULL, &got, NULL,
		                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || got != CG_SIGN_PK_BYTES)
			goto out;
		memcpy(out[m].key_id, kid, CG_KEY_ID_LEN + 1);
		m++;
	}
	*keys = out;
	*n = m;
	out = NULL;
	rc = CG_OK;
out:
	free(out);
	json_decref(o);
	return rc;
}

const struct cg_pubkey *cg_keys_find(const struct cg_pubkey *keys, size_t n, const char *key_id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].key_id, key_id) == 0)
			return &keys[i];
	return NULL;
}

json_t *cg_receipt_envelope(const struct cg_signer *s, const json_t *receipt)
{
	char *bytes = s && receipt ? json_dumps(receipt, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct cg_buf env;
	json_t *out = NULL;

	cg_buf_init(&env, CG_ENVELOPE_MAX * 2);
	if (bytes && cg_envelope_make(s, CG_TYPE_RECEIPT, bytes, strlen(bytes), &env) == CG_OK)
		out = json_loadb(env.p, env.len, 0, NULL);
	cg_buf_free(&env);
	free(bytes);
	return out;
}

int cg_envelope_pae(const char *type, const void *body, size_t len, struct cg_buf *out)
{
	int rc = cg_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len);

	return rc == CG_OK ? cg_buf_add(out, body, len) : rc;
}

int cg_envelope_make(const struct cg_signer *s, const char *payload_type, const void *payload, size_t len,
                     struct cg_buf *out)
{
	uint8_t sig[CG_SIGN_SIG_BYTES];
	char sig64[sodium_base64_ENCODED_LEN(CG_SIGN_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	struct cg_buf pae;
	char *p64 = NULL;
	int rc;

	if (len > CG_ENVELOPE_MAX || !(p64 = malloc(cap)))
		return len > CG_ENVELOPE_MAX ? CG_ERR_TOO_LONG : CG_ERR_NOMEM;
	/* DSSE: the type is signed with the bytes, so no envelope can be relabelled */
	cg_buf_init(&pae, CG_ENVELOPE_MAX + 256);
	if ((rc = cg_envelope_pae(payload_type, payload, len, &pae)) != CG_OK) {
		free(p64);
		cg_buf_free(&pae);
		return rc;
	}
	crypto_sign_detached(sig, NULL, (const unsigned char *)pae.p, pae.len, s->sk);
	cg_buf_free(&pae);
	sodium_bin2base64(p64, cap, payload, len, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	rc = cg_buf_printf(out, "{\"payloadType\":\"%s\",\"payload\":\"%s\",\"signatures\":[{\"keyid\":\"%s\","
	                   "\"sig\":\"%s\"}]}", payload_type, p64, s->key_id, sig64);
	free(p64);
	return rc;
}

/* DSSE verifiers take either base64 alphabet, padded or not */
static int b64_any(uint8_t *bin, size_t cap, const char *s, size_t *got)
{
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_URLSAFE,
	                               sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	                               sodium_base64_VARIANT_URLSAFE_NO_PADDING};

	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
		if (sodium_base642bin(bin, cap, s, strlen(s), NULL, got, NULL, variants[i]) == 0)
			return 0;
	return -1;
}

/* the fields both forms share, checked and decoded into out */
static int envelope_decode(const char *type, const char *payload, const char *kid, const char *sig,
                           struct cg_envelope *out, char *why, size_t whylen)
{
	size_t got = 0, cap;

	if (strlen(kid) != CG_KEY_ID_LEN || strlen(type) >= sizeof out->payload_type) {
		snprintf(why, whylen, "unknown algorithm, key id or payload type");
		return CG_ERR_INVALID;
	}
	if (b64_any(out->sig, sizeof out->sig, sig, &got) != 0 || got != sizeof out->sig) {
		snprintf(why, whylen, "the signature is not 64 bytes of base64");
		return CG_ERR_INVALID;
	}
	cap = strlen(payload) / 4 * 3 + 3;
	if (!(out->payload = malloc(cap + 1)))
		return CG_ERR_NOMEM;
	if (b64_any((uint8_t *)out->payload, cap, payload, &out->len) != 0) {
		snprintf(why, whylen, "the payload is not base64");
		return CG_ERR_INVALID;
	}
	out->payload[out->len] = '\0';
	snprintf(out->payload_type, sizeof out->payload_type, "%s", type);
	snprintf(out->key_id, sizeof out->key_id, "%s", kid);
	return CG_OK;
}

/* {"payloadType", "payload", "signatures": [{"keyid", "sig"}]}: one
 * signature (consentgate signs with one key); or the format of before,
 * signed over the bare payload, whose payload_type nothing covers */
static int envelope_fields(json_t *o, struct cg_envelope *out, char *why, size_t whylen)
{
	const char *fmt = NULL, *type = NULL, *payload = NULL, *kid = NULL, *alg = NULL, *sig = NULL;
	json_t *sigs = json_object_get(o, "signatures");

	if (json_is_array(sigs)) {
		if (json_unpack(o, "{s:s, s:s}", "payloadType", &type, "payload", &payload) != 0 ||
		    json_array_size(sigs) != 1 ||
		    json_unpack(json_array_get(sigs, 0), "{s:s, s:s}", "keyid", &kid, "sig", &sig) != 0) {
			snprintf(why, whylen, "not a DSSE envelope with one signature and its keyid");
			return CG_ERR_INVALID;
		}
		return envelope_decode(type, payload, kid, sig, out, why, whylen);
	}
	if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:s, s:s}", "signed", &fmt, "payload_type", &type, "payload",
	                &payload, "key_id", &kid, "alg", &alg, "signature", &sig) != 0 ||
	    strcmp(fmt, ENVELOPE_FORMAT) != 0) {
		snprintf(why, whylen, "not a signed envelope (DSSE, or " ENVELOPE_FORMAT ")");
		return CG_ERR_INVALID;
	}
	if (strcmp(alg, "Ed25519") != 0) {
		snprintf(why, whylen, "unknown algorithm, key id or payload type");
		return CG_ERR_INVALID;
	}
	out->legacy = 1;
	return envelope_decode(type, payload, kid, sig, out, why, whylen);
}

int cg_envelope_parse(const char *text, size_t len, struct cg_envelope *out, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *o, *inner;
	int rc;

	memset(out, 0, sizeof *out);
	if (len > 16 * CG_ENVELOPE_MAX || !(o = json_loadb(text, len, 0, &jerr))) {
		snprintf(why, whylen, "not JSON: %s", len > 16 * CG_ENVELOPE_MAX ? "too large" : jerr.text);
		return CG_ERR_INVALID;
	}
	inner = json_object_get(o, "signed_receipt");
	rc = envelope_fields(json_is_object(inner) ? inner : o, out, why, whylen);
	json_decref(o);
	if (rc != CG_OK)
		cg_envelope_free(out);
	return rc;
}

void cg_envelope_free(struct cg_envelope *e)
{
	free(e->payload);
	e->payload = NULL;
	e->len = 0;
}

int cg_envelope_verify(const struct cg_envelope *e, const uint8_t pk[CG_SIGN_PK_BYTES])
{
	struct cg_buf pae;
	int ok;

	if (e->legacy)
		return crypto_sign_verify_detached(e->sig, (const unsigned char *)e->payload, e->len, pk) == 0
		               ? CG_OK : CG_ERR_CHAIN;
	cg_buf_init(&pae, CG_ENVELOPE_MAX + 256);
	ok = cg_envelope_pae(e->payload_type, e->payload, e->len, &pae) == CG_OK &&
	     crypto_sign_verify_detached(e->sig, (const unsigned char *)pae.p, pae.len, pk) == 0;
	cg_buf_free(&pae);
	return ok ? CG_OK : CG_ERR_CHAIN;
}

const char *cg_envelope_kind(const struct cg_envelope *e)
{
	const char *kind = NULL, *type, *schema;
	json_t *o;

	if (!e->legacy)
		return strcmp(e->payload_type, CG_TYPE_RECEIPT) == 0 ? "receipt"
		       : strcmp(e->payload_type, CG_TYPE_HEAD) == 0  ? "chain-head" : NULL;
	/* before DSSE the label was not signed: the signed bytes say what they are */
	o = json_loadb(e->payload, e->len, 0, NULL);
	type = json_string_value(json_object_get(o, "type"));
	schema = json_string_value(json_object_get(o, "schemaVersion"));
	if (type && !schema && strcmp(type, HEAD_TYPE) == 0)
		kind = "chain-head";
	else if (schema && !type && strncmp(schema, "consentgate receipt ", 20) == 0)
		kind = "receipt";
	json_decref(o);
	return kind;
}

int cg_head_payload(const struct cg_head *h, struct cg_buf *out)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "type", HEAD_TYPE, "site", h->site,
	                      "chain", "consent_events", "last_id", (json_int_t)h->last_id, "hash", h->hash,
	                      "last_recorded_at", h->last_recorded_at, "links", (json_int_t)h->links,
	                      "signed_at", h->signed_at, "key_id", h->key_id);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc = s ? cg_buf_adds(out, s) : CG_ERR_NOMEM;

	free(s);
	json_decref(o);
	return rc;
}

int cg_head_sign(const struct cg_signer *s, const char *site, struct cg_head *h, struct cg_buf *env)
{
	struct cg_buf payload;
	int rc;

	snprintf(h->site, sizeof h->site, "%s", site);
	memcpy(h->key_id, s->key_id, sizeof h->key_id);
	cg_buf_init(&payload, 4096);
	rc = cg_head_payload(h, &payload);
	if (rc == CG_OK)
		rc = cg_envelope_make(s, CG_TYPE_HEAD, payload.p, payload.len, env);
	cg_buf_free(&payload);
	return rc;
}

static int copy_field(char *dst, size_t size, const char *src)
{
	return (size_t)snprintf(dst, size, "%s", src) < size ? CG_OK : CG_ERR_INVALID;
}

int cg_head_parse(const char *payload, size_t len, struct cg_head *out)
{
	const char *type, *site, *chain, *hash, *last, *signed_at, *kid;
	json_int_t last_id, links;
	json_t *o = json_loadb(payload, len, 0, NULL);
	int rc = CG_ERR_INVALID;

	memset(out, 0, sizeof *out);
	if (o && json_unpack(o, "{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "type", &type, "site", &site,
	                     "chain", &chain, "last_id", &last_id, "hash", &hash, "last_recorded_at", &last,
	                     "links", &links, "signed_at", &signed_at, "key_id", &kid) == 0 &&
	    strcmp(type, HEAD_TYPE) == 0 && strlen(hash) == CG_HEX_HASH_LEN && last_id >= 0 && links >= 0) {
		out->last_id = last_id;
		out->links = links;
		rc = copy_field(out->hash, sizeof out->hash, hash) | copy_field(out->site, sizeof out->site, site) |
		     copy_field(out->last_recorded_at, sizeof out->last_recorded_at, last) |
		     copy_field(out->signed_at, sizeof out->signed_at, signed_at) |
		     copy_field(out->key_id, sizeof out->key_id, kid) | copy_field(out->chain, sizeof out->chain, chain);
		rc = rc ? CG_ERR_INVALID : CG_OK;
	}
	json_decref(o);
	return rc;
}

int cg_head_open(const struct cg_envelope *e, const struct cg_pubkey *keys, size_t n, struct cg_head *out,
                 char *why, size_t whylen)
{
	const struct cg_pubkey *k = cg_keys_find(keys, n, e->key_id);
	const char *kind;

	memset(out, 0, sizeof *out);
	if (!k) {
		snprintf(why, whylen, "signed by key %s, which the keys given do not list", e->key_id);
		return CG_ERR_NOT_FOUND;
	}
	if (cg_envelope_verify(e, k->pk) != CG_OK) {
		snprintf(why, whylen, "the signature does not match the signed bytes");
		return CG_ERR_CHAIN;
	}
	kind = cg_envelope_kind(e);
	if (!kind || strcmp(kind, "chain-head") != 0 || cg_head_parse(e->payload, e->len, out) != CG_OK) {
		snprintf(why, whylen, "the signed payload is not a chain head");
		return CG_ERR_INVALID;
	}
	/* the id beside the signature chose the key; the signed one must agree */
	if (strcmp(out->key_id, e->key_id) != 0) {
		snprintf(why, whylen, "the signed key_id %s is not the envelope's %s", out->key_id, e->key_id);
		return CG_ERR_INVALID;
	}
	return CG_OK;
}

void cg_signed_head_clear(struct cg_signed_head *h)
{
	free(h->envelope);
	free(h->anchor);
	memset(h, 0, sizeof *h);
}

void cg_head_check_init(struct cg_head_check *c, const struct cg_head *h)
{
	memset(c, 0, sizeof *c);
	c->head = *h;
	strcpy(c->prev, CG_CHAIN_GENESIS);
	c->next_id = 1;
	c->reached = h->last_id == 0;
}

#define MISSING "row %lld is missing (neither a row nor a pruned link)%s"
#define AT_ROW "row %lld: %s"

static int diverged(struct cg_head_check *c, int missing, long long id, const char *what)
{
	if (missing)
		snprintf(c->why, sizeof c->why, MISSING, id, what);
	else
		snprintf(c->why, sizeof c->why, AT_ROW, id, what);
	c->failed = 1;
	return 1;
}

int cg_head_check_row(struct cg_head_check *c, const struct cg_event *ev)
{
	int fault;

	if (c->reached || ev->id > c->head.last_id)
		return 1;
	if (ev->id != c->next_id)
		return diverged(c, 1, (long long)c->next_id, "");
	fault = cg_chain_check(ev, c->prev);
	if (fault != CG_CHAIN_OK)
		return diverged(c, 0, (long long)ev->id, cg_chain_fault_name(fault));
	c->links++;
	c->next_id++;
	memcpy(c->prev, ev->hash, sizeof c->prev);
	if (ev->id == c->head.last_id) {
		c->reached = 1;
		if (strcmp(ev->hash, c->head.hash) != 0)
			return diverged(c, 0, (long long)ev->id,
			                "its hash is not the signed head's (the log was rewritten up to here)");
		return 1;
	}
	return 0;
}

int cg_head_check_finish(struct cg_head_check *c)
{
	if (c->failed)
		return CG_ERR_CHAIN;
	if (!c->reached) {
		diverged(c, 1, (long long)c->next_id,
		         "; the log ends before the signed head");
		return CG_ERR_CHAIN;
	}
	if (c->links != c->head.links) {
		snprintf(c->why, sizeof c->why, "the log holds %lld links up to row %lld, the signed head %lld",
		         (long long)c->links, (long long)c->head.last_id, (long long)c->head.links);
		c->failed = 1;
		return CG_ERR_CHAIN;
	}
	if (c->head.last_id == 0 && strcmp(c->head.hash, CG_CHAIN_GENESIS) != 0) {
		snprintf(c->why, sizeof c->why, "an empty head must name the genesis hash");
		c->failed = 1;
		return CG_ERR_CHAIN;
	}
	return CG_OK;
}
