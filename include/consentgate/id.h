/* The consent ID (a bearer secret kept in the visitor's cookie) and the
 * subject key derived from it, which is all the database ever sees. */
#ifndef CONSENTGATE_ID_H
#define CONSENTGATE_ID_H

#include <stddef.h>
#include <stdint.h>

/* A consent ID is "<selector>.<secret>" (schema 2): the selector is 8 bytes,
 * the creation time in ms shifted left by 20 bits plus 20 random bits, so
 * new visitors' keys are increasing and append to the store's index; the
 * secret is 128 random bits. Both base64url without padding. Consent IDs of
 * schema 1, 16 random bytes with no selector, stay valid.
 *
 * The subject key the store sees is 32 bytes, written as 64 hex digits:
 *   v2: selector (8 bytes) || SHA-256("consentgate/subject/v2:" || id)[0..24)
 *   v1: SHA-256("consentgate/subject/v1:" || id)
 * Its first 8 bytes are the store's index key either way. Only a hash of the
 * secret is kept, so nothing an analyst reads lets them act as the visitor. */
#define CG_ID_BYTES 16          /* the secret: 128 random bits */
#define CG_ID_V1_LEN 22         /* base64url of the 16 bytes */
#define CG_ID_SELECTOR_BYTES 8
#define CG_ID_SELECTOR_LEN 11   /* base64url of the 8 bytes */
#define CG_ID_LEN (CG_ID_SELECTOR_LEN + 1 + CG_ID_V1_LEN) /* the longest form */
#define CG_ID_RANDOM_BYTES (CG_ID_BYTES + 3)  /* what cg_id_make consumes */
#define CG_SUBJECT_BYTES 32
#define CG_SUBJECT_LEN 64       /* hex */
#define CG_HEX_HASH_LEN 64

/* A v1-form ID of 16 bytes (tests, and schema-1 fixtures). */
void cg_id_encode(const uint8_t raw[CG_ID_BYTES], char out[CG_ID_V1_LEN + 1]);
/* A new ID from CG_ID_RANDOM_BYTES random bytes and the time. */
void cg_id_make(const uint8_t rnd[CG_ID_RANDOM_BYTES], int64_t now_ms, char out[CG_ID_LEN + 1]);
/* 1 if s[0..len) is a well-formed consent ID of either form. */
int cg_id_valid(const char *s, size_t len);
/* The subject key of a valid ID, as 64 hex digits. */
void cg_id_subject(const char *id, char out[CG_SUBJECT_LEN + 1]);
/* hex(SHA-256(data)) */
void cg_sha256_hex(const void *data, size_t len, char out[CG_HEX_HASH_LEN + 1]);

#endif
