/* The instance's signing key file (I/O shell around sign.h): the 32-byte
 * Ed25519 seed as base64 and a newline, mode 0600, outside the database —
 * the database holds only the public keys, so whoever reads a copy or a
 * backup of it cannot sign. */
#ifndef CONSENTGATE_KEYFILE_H
#define CONSENTGATE_KEYFILE_H

#include <stddef.h>
#include "consentgate/config.h"
#include "consentgate/sign.h"

/* [signing] key_file, or by default: beside the SQLite file
 * (DATABASE.signing-key); on PostgreSQL in the daemon's state directory
 * ($STATE_DIRECTORY from systemd, else /var/lib/consentgate)/signing.key */
void cg_keyfile_path(const struct cg_config *cfg, char *out, size_t n);

/* Loads the key at path; creates it first (new random seed) when create is
 * set and there is none. Refuses a file others may read or write. */
int cg_keyfile_load(const char *path, int create, struct cg_signer *out, char *err, size_t errlen);

#endif
