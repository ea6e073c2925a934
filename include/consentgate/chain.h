/* The hash chain over consent_events (docs/auditors.md#the-hash-chain).
 * Every link — a kept row, the link of a row retention removed, a log event
 * (logevent.h) — is
 *
 *   hash = SHA-256(prev_hash || core_digest || personal_digest)
 *
 * over the hex text of each, the first link's prev_hash being 64 zeros. The
 * digests are those of the link's row format; c(x) below is the canonical
 * encoding of one field, "<length>:<bytes>;" (length in bytes, decimal), and
 * "-;" for NULL. Digests and salts are lower-case hex text.
 *
 * Row format 2 (every row written since SQLite schema 5 / PostgreSQL
 * schema 4):
 *
 *   subject_digest  = SHA-256("consentgate/subject-digest/v2:" || subject)
 *   core_digest     = SHA-256(c("consentgate/core/v2") c(id) c(subject_digest)
 *                       c(recorded_at) c(action) c(policy_version) c(preferences)
 *                       c(statistics) c(marketing) c(objection_purpose)
 *                       c(objections) c(choice_at) c(banner) c(record))
 *   personal_salt   = the first 32 digits of SHA-256("consentgate/personal-salt/v2:" || salt)
 *   ip_salt         = the first 32 digits of SHA-256("consentgate/ip-salt/v2:" || salt)
 *   ip_digest       = SHA-256(c("consentgate/ip/v2") c(ip_salt) c(ip_prefix))
 *   personal_digest = SHA-256(c("consentgate/personal/v2") c(personal_salt)
 *                       c(gpc) c(dnt) c(lang) c(page) c(country) c(ip_digest))
 *
 * What was shown (`banner`, shown.h) is in the core: checked for the row's
 * whole life. A row is written with one random salt. The IP retention
 * stores ip_digest, replaces the salt by personal_salt and clears the
 * prefix (cg_chain_clear_ip): the prefix can no longer be confirmed, the
 * other personal fields still can. An erasure clears the salt, ip_digest
 * and every personal field: the stored personal_digest then only links the
 * chain. An erasure tombstone and a log event have no salt and no personal
 * field: their personal_digest is the one of all NULLs (personal_salt
 * included), and is checked like the rest. A pruned link keeps the core
 * fields with subject_digest in place of the subject, so its core_digest
 * is recomputed too.
 *
 * Row format 1 (rows written before; kept and checked as they were):
 *   core_digest     = SHA-256(c("consentgate/core/v1") c(id) c(subject)
 *                       c(recorded_at) c(action) c(policy_version) c(preferences)
 *                       c(statistics) c(marketing) c(objection_purpose)
 *                       c(objections) c(choice_at))
 *   personal_digest = SHA-256(c("consentgate/personal/v1") c(salt) c(gpc)
 *                       c(dnt) c(lang) c(banner) c(page) c(ip_prefix) c(country))
 * where erasure and the IP retention cleared the salt, after which nothing
 * personal (what was shown included) can be checked; a pruned row kept only
 * its digests and hash.
 *
 * Pure. The rules over the whole log (which rows may lack a salt, which
 * removals retention allowed) are audit.h's. */
#ifndef CONSENTGATE_CHAIN_H
#define CONSENTGATE_CHAIN_H

#include "consentgate/event.h"

#define CG_CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define CG_ROW_FORMAT 2   /* what this build writes */

/* Seals a row or log event in the current row format: sets format, fills
 * core_digest, personal_digest, prev_hash (copied) and hash. */
void cg_chain_seal(struct cg_event *ev, const char *prev_hash);
/* The same in a given format (1 or 2): tests, and nothing else, write
 * format 1. */
void cg_chain_seal_format(struct cg_event *ev, const char *prev_hash, int format);

void cg_chain_subject_digest(const char *subject, char out[CG_HEX_HASH_LEN + 1]);
/* The IP retention's step on a row of format 2 that holds its salt:
 * ip_digest from the prefix, the salt replaced by the personal salt, the
 * prefix cleared. personal_digest and hash stay valid. */
void cg_chain_clear_ip(struct cg_event *ev);
/* the same on stored values: from the row's salt and prefix, the salt and
 * ip_digest it keeps */
void cg_chain_clear_ip_values(const char *salt, const char *ip_prefix, char new_salt[CG_SALT_LEN + 1],
                              char ip_digest[CG_HEX_HASH_LEN + 1]);

enum cg_chain_fault {
	CG_CHAIN_OK = 0,
	CG_CHAIN_BAD_LINK,     /* prev_hash is not the previous row's hash */
	CG_CHAIN_BAD_CORE,     /* core fields do not match core_digest */
	CG_CHAIN_BAD_PERSONAL, /* personal fields do not match personal_digest */
	CG_CHAIN_BAD_HASH,     /* hash does not match its inputs */
};

/* Checks one link's digests against the hash of the link before it
 * (expected_prev), in its row format: its core fields (a pruned link of
 * format 1 has none), its personal fields where they can be checked (a
 * salt, or none of them at all: a tombstone, a log event), then its hash.
 * Whether a row may lack its salt is audit.h's rule, not this. */
int cg_chain_check(const struct cg_event *ev, const char *expected_prev);
/* 1 when the row's personal fields can be checked against its digest */
int cg_chain_personal_checkable(const struct cg_event *ev);
const char *cg_chain_fault_name(int fault);

#endif
