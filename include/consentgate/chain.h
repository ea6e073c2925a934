/* The hash chain over consent_events (docs/auditors.md#the-hash-chain).
 *
 *   core_digest     = SHA-256(canonical core fields)
 *   personal_digest = SHA-256(salt || canonical personal fields)
 *   hash            = SHA-256(prev_hash || core_digest || personal_digest)
 *
 * Erasure and retention clear the personal fields *and* the per-row salt, so
 * the stored personal_digest still links the chain but no longer lets anyone
 * confirm a guessed value (a /24 prefix alone would be brute-forced in
 * seconds without the salt). Pure. */
#ifndef CONSENTGATE_CHAIN_H
#define CONSENTGATE_CHAIN_H

#include "consentgate/event.h"

#define CG_CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* Fills core_digest, personal_digest, prev_hash (copied) and hash. */
void cg_chain_seal(struct cg_event *ev, const char *prev_hash);

enum cg_chain_fault {
	CG_CHAIN_OK = 0,
	CG_CHAIN_BAD_LINK,     /* prev_hash is not the previous row's hash */
	CG_CHAIN_BAD_CORE,     /* core fields do not match core_digest */
	CG_CHAIN_BAD_PERSONAL, /* personal fields do not match (row not redacted) */
	CG_CHAIN_BAD_HASH,     /* hash does not match its inputs */
};

/* Checks one stored row against the previous row's hash. */
int cg_chain_check(const struct cg_event *ev, const char *expected_prev);
/* For a row deleted by retention, only its link survives (consent_pruned):
 * checks prev_hash and hash, not the fields. */
int cg_chain_check_link(const struct cg_event *ev, const char *expected_prev);
const char *cg_chain_fault_name(int fault);

#endif
