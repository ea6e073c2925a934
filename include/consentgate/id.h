/* The consent ID (a bearer secret kept in the visitor's cookie) and the
 * subject key derived from it, which is all the database ever sees. */
#ifndef CONSENTGATE_ID_H
#define CONSENTGATE_ID_H

#include <stddef.h>
#include <stdint.h>

#define CG_ID_BYTES 16      /* 128 random bits */
#define CG_ID_LEN 22        /* base64url, no padding */
#define CG_SUBJECT_LEN 64   /* hex SHA-256 */
#define CG_HEX_HASH_LEN 64

void cg_id_encode(const uint8_t raw[CG_ID_BYTES], char out[CG_ID_LEN + 1]);
/* 1 if s[0..len) is a well-formed consent ID. */
int cg_id_valid(const char *s, size_t len);
/* subject = hex(SHA-256("consentgate/subject/v1:" || id)) */
void cg_id_subject(const char *id, char out[CG_SUBJECT_LEN + 1]);
/* hex(SHA-256(data)) */
void cg_sha256_hex(const void *data, size_t len, char out[CG_HEX_HASH_LEN + 1]);

#endif
