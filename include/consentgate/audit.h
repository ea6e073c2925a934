/* Whether a log proves what it claims: the rules a verifier applies over
 * the whole chain, beyond each link's digests (chain.h). Fed the log's
 * links in id order — every kept row, the link of every row retention
 * removed, every log event (logevent.h) — twice: once to gather the
 * removals (cg_audit_scan), once to check every link (cg_audit_row). Used
 * by consentctl verify, verify --head and bundle; the bundle's verify.py
 * applies the same rules on its own. Pure (it allocates; no I/O, no clock).
 *
 * The rules, besides each link's digests and its place in the chain:
 *
 *  - Row format: a log begins in format 1 (migrated) or 2 (new). Format 1
 *    rows and links only come before the format event that ends them, which
 *    names the links pruned before it; only format 2 comes after.
 *  - Redaction claims nothing: a row of format 2 without its salt holds no
 *    personal value at all, and then an erasure of its visitor (a tombstone
 *    of the same subject) follows it; a row whose IP prefix retention
 *    cleared keeps ip_digest and no prefix.
 *  - Removals only where retention allowed them: every pruned link of
 *    format 2 names a purge after it, whose record counts it; all rows of a
 *    visitor that existed at a purge go in that purge, no kept row of that
 *    visitor is older than it; the visitor's consent (their last removed
 *    row, cg_rules_ended_ms) ended at least events_days_after_end before
 *    the purge. The purge's time lies between its neighbours' in the chain
 *    and before the first signed head after it and the verifier's clock.
 *    Without min_retention_days, a removal must also respect the highest
 *    retention any earlier purge recorded (a lowered setting fails where it
 *    removed what the earlier one protected); with it, that floor replaces
 *    the history. Every lowering is noted either way. */
#ifndef CONSENTGATE_AUDIT_H
#define CONSENTGATE_AUDIT_H

#include <stdint.h>
#include "consentgate/event.h"

/* Rows commit in about, not exactly, the order of their times, and
 * instances' clocks differ: a purge's time may be this far outside its
 * bounds. */
#define CG_AUDIT_SLACK_MS (3600LL * 1000)

struct cg_audit_opts {
	int64_t now_ms;              /* the verifier's clock */
	int min_retention_days;      /* -1: none (the log's own history decides) */
};

struct cg_audit_counts {
	long long links;             /* every link checked */
	long long rows, rows_v1;     /* kept rows; of them, row format 1 */
	long long redacted;          /* rows without salt (tombstones not counted): erased; in
	                              * row format 1 also those whose IP prefix was cleared */
	long long ip_cleared;        /* rows whose IP prefix retention cleared */
	long long pruned, pruned_v1; /* links of removed rows; of them, format 1 (no fields kept) */
	long long purges, formats;   /* log events */
};

struct cg_audit_result {
	int64_t bad_id;              /* the lowest row a rule failed at; 0: none */
	char why[320];               /* "row N: ..." */
	struct cg_audit_counts n;
	char head[CG_HEX_HASH_LEN + 1];  /* the last link's hash */
	char notes[2048];            /* lines worth an auditor's eye: format 1, lowered retention */
};

struct cg_audit;
int cg_audit_new(const struct cg_audit_opts *o, struct cg_audit **out);
void cg_audit_free(struct cg_audit *a);
/* A signed head whose signature the caller verified: the log still holds
 * it (row last_id has that hash, with `links` links up to it), and the rows
 * up to last_id existed at signed_ms (which bounds the purges before it).
 * Any time before the first pass. */
int cg_audit_head(struct cg_audit *a, int64_t last_id, int64_t signed_ms, const char *hash, int64_t links);
/* pass 1; kept rows may be left out of it */
void cg_audit_scan(struct cg_audit *a, const struct cg_event *ev);
/* pass 2 */
void cg_audit_row(struct cg_audit *a, const struct cg_event *ev);
/* after pass 2: CG_OK, or CG_ERR_CHAIN with the result's bad_id and why */
int cg_audit_finish(struct cg_audit *a);
const struct cg_audit_result *cg_audit_result(const struct cg_audit *a);

#endif
