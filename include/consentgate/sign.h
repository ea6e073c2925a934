/* Signed proof (Ed25519, libsodium crypto_sign): the instance's signer, the
 * envelope that carries a signature over the exact bytes of a payload (a
 * consent receipt, a chain head), public keys in the forms outside tools
 * read, and checking a log against a signed chain head. Pure: keys and
 * rows are passed in.
 *
 * Envelope: DSSE (secure-systems-lab's Dead Simple Signing Envelope). The
 * payload is never re-canonicalised: it is carried as base64 of its exact
 * bytes, and the Ed25519 signature is over
 * PAE(type, payload) = "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload,
 * so the type is signed with the bytes:
 *
 *   {"payloadType": CG_TYPE_RECEIPT | CG_TYPE_HEAD, "payload": BASE64,
 *    "signatures": [{"keyid": HEX16, "sig": BASE64}]}
 *
 * Envelopes signed before (format "consentgate/1": "payload_type",
 * "key_id", "alg", "signature", signed over the bare payload) still verify,
 * but their kind is read from the signed payload (cg_envelope_kind), never
 * from their unsigned label.
 *
 * BASE64 is written in the standard alphabet with padding (what `base64 -d`
 * reads); either alphabet is read. A key's id is the first 8 bytes of
 * SHA-256(public key), in hex. */
#ifndef CONSENTGATE_SIGN_H
#define CONSENTGATE_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/event.h"

#define CG_SIGN_PK_BYTES 32
#define CG_SIGN_SK_BYTES 64
#define CG_SIGN_SEED_BYTES 32
#define CG_SIGN_SIG_BYTES 64
#define CG_KEY_ID_LEN 16
#define CG_SIGN_PEM_MAX 128
#define CG_ENVELOPE_MAX (256 * 1024)
#define CG_TYPE_RECEIPT "application/vnd.consentgate.receipt+json"
#define CG_TYPE_HEAD "application/vnd.consentgate.chain-head+json"
#define CG_TYPE_SUMS "application/vnd.consentgate.bundle-sha256sums"

/* An instance's key pair. Owned by the caller; wipe with cg_signer_wipe. */
struct cg_signer {
	char key_id[CG_KEY_ID_LEN + 1];
	uint8_t pk[CG_SIGN_PK_BYTES];
	uint8_t sk[CG_SIGN_SK_BYTES];
};

/* A public key as the store lists it. */
struct cg_pubkey {
	char key_id[CG_KEY_ID_LEN + 1];
	uint8_t pk[CG_SIGN_PK_BYTES];
	int64_t created_ms;
};

void cg_signer_from_seed(const uint8_t seed[CG_SIGN_SEED_BYTES], struct cg_signer *s);
void cg_signer_wipe(struct cg_signer *s);
void cg_key_id(const uint8_t pk[CG_SIGN_PK_BYTES], char out[CG_KEY_ID_LEN + 1]);
/* "-----BEGIN PUBLIC KEY-----\n<SPKI DER, base64>\n-----END PUBLIC KEY-----\n" */
void cg_key_pem(const uint8_t pk[CG_SIGN_PK_BYTES], char out[CG_SIGN_PEM_MAX]);
/* the raw key, base64url without padding */
void cg_key_b64url(const uint8_t pk[CG_SIGN_PK_BYTES], char out[48]);

/* {"keys": [{key_id, alg, public_key (base64url), spki_pem, created_at}]}:
 * GET /consent/keys and consentctl keys (a new reference) */
json_t *cg_keys_json(const struct cg_pubkey *keys, size_t n);
/* The keys of such a document (*keys malloc'd); CG_ERR_INVALID if it is not one. */
int cg_keys_parse(const char *text, size_t len, struct cg_pubkey **keys, size_t *n);
/* the key with this id, or NULL */
const struct cg_pubkey *cg_keys_find(const struct cg_pubkey *keys, size_t n, const char *key_id);

/* A receipt's envelope, as an object: over its compact, key-sorted JSON
 * text (a new reference, or NULL) */
json_t *cg_receipt_envelope(const struct cg_signer *s, const json_t *receipt);

/* DSSE's pre-authentication encoding of (type, body), appended to out */
int cg_envelope_pae(const char *type, const void *body, size_t len, struct cg_buf *out);
/* Appends the DSSE envelope of payload[0..len), of type payload_type
 * (CG_TYPE_*), to out. */
int cg_envelope_make(const struct cg_signer *s, const char *payload_type, const void *payload, size_t len,
                     struct cg_buf *out);

/* An envelope taken apart: the payload (malloc'd, NUL-terminated; caller
 * frees with cg_envelope_free), its type, the key id and the signature. */
struct cg_envelope {
	char *payload;
	size_t len;
	char payload_type[64];                 /* as the envelope says: signed only when !legacy */
	char key_id[CG_KEY_ID_LEN + 1];
	uint8_t sig[CG_SIGN_SIG_BYTES];
	int legacy;                            /* "consentgate/1": signed over the bare payload */
};
/* Parses an envelope, or any JSON object holding one under "signed_receipt"
 * or "envelope" (an export, a saved GET /consent/chain-head). CG_ERR_INVALID
 * with why[] filled when it is not one. */
int cg_envelope_parse(const char *text, size_t len, struct cg_envelope *out, char *why, size_t whylen);
void cg_envelope_free(struct cg_envelope *e);
/* CG_OK if the signature is the key's over PAE(type, payload) (a legacy
 * envelope: over the payload's bytes). */
int cg_envelope_verify(const struct cg_envelope *e, const uint8_t pk[CG_SIGN_PK_BYTES]);
/* What a verified envelope holds, "receipt" or "chain-head" (NULL: neither):
 * from its signed type, or for a legacy envelope from the signed payload (a
 * head's "type", a receipt's "schemaVersion"). */
const char *cg_envelope_kind(const struct cg_envelope *e);

/* ---- chain heads ---- */
struct cg_head {
	int64_t last_id;                       /* 0: the empty log */
	char hash[CG_HEX_HASH_LEN + 1];        /* row last_id's hash (genesis when empty) */
	char last_recorded_at[CG_TIME_LEN + 1];
	int64_t links;                         /* rows and pruned links with id <= last_id */
	char signed_at[CG_TIME_LEN + 1];
	char key_id[CG_KEY_ID_LEN + 1];
	char site[128];
	char chain[32];                        /* the log it heads: "consent_events" (parsed, not signed from) */
};
/* The head's payload: compact JSON with its fields in a fixed order. */
int cg_head_payload(const struct cg_head *h, struct cg_buf *out);
int cg_head_parse(const char *payload, size_t len, struct cg_head *out);
/* Completes a head from the log (last_id, hash, last_recorded_at, links,
 * signed_at) with the site and the signer's key id, and appends its
 * envelope to env. */
int cg_head_sign(const struct cg_signer *s, const char *site, struct cg_head *h, struct cg_buf *env);

/* A head's envelope opened: its key among keys[0..n), the signature, the
 * signed kind, the payload, and that the payload's key id is the
 * envelope's. CG_OK, or an error with why[] filled. */
int cg_head_open(const struct cg_envelope *e, const struct cg_pubkey *keys, size_t n, struct cg_head *out,
                 char *why, size_t whylen);

/* A signed head as the store keeps it. The strings are malloc'd by
 * whoever fills it; cg_signed_head_clear frees them. */
struct cg_signed_head {
	int64_t id;                            /* the store's, in signing order */
	int64_t last_id;
	int64_t signed_ms;
	char key_id[CG_KEY_ID_LEN + 1];
	char *envelope;
	char *anchor;                          /* what the anchor command printed; NULL: not anchored */
};
void cg_signed_head_clear(struct cg_signed_head *h);

/* Checks a log against a head, fed the log's rows (pruned links with
 * action < 0) in id order from the first: every link up to the head's row
 * verifies, none is missing, and that row's hash is the head's. */
struct cg_head_check {
	struct cg_head head;
	char prev[CG_HEX_HASH_LEN + 1];
	int64_t next_id, links;
	int reached, failed;
	char why[200];                         /* the first divergence */
};
void cg_head_check_init(struct cg_head_check *c, const struct cg_head *h);
/* 0: go on; 1: stop (the head was reached, or the log diverged) */
int cg_head_check_row(struct cg_head_check *c, const struct cg_event *ev);
/* CG_OK, or CG_ERR_CHAIN with c->why naming the first divergence */
int cg_head_check_finish(struct cg_head_check *c);

#endif
