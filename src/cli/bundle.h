/* consentctl bundle's parts: bundle.c writes the archive; bundle_links.c
 * turns links into rows and gathers what the period's events need from
 * the rest of the log (log events, removals, erasures, the chain between
 * them). Nothing else includes this. */
#ifndef CONSENTGATE_CLI_BUNDLE_H
#define CONSENTGATE_CLI_BUNDLE_H

#include <jansson.h>
#include <stdio.h>
#include <sys/types.h>
#include "consentgate/event.h"
#include "consentgate/sign.h"
#include "cli.h"

#define MAX_VERSIONS 256
#define MAX_SHOWN 256
#define MAX_HEADS 100000

struct version_seen {
	char version[CG_VERSION_MAX + 1];
	char first[CG_TIME_LEN + 1], last[CG_TIME_LEN + 1];
	long long n;
};

/* A scratch file with no name (outfile.h) that becomes one member: memory
 * stays flat in the number of rows. n: the JSON elements written. */
struct scratch {
	FILE *f;
	long long n;
};

struct bundle {
	const struct cg_config *cfg;
	char from[11], to[11];              /* days, inclusive */
	const char *subject;                /* NULL: every visitor */
	struct cg_buf transcript, sums;
	/* the members written while the log is read: the period's events, and
	 * what they need from the rest of it (bundle_links.c) */
	struct scratch csv, events, log_events, pruned, erasures, chain, others; /* others: --consent-id */
	long long nevents;
	json_t *groups;                     /* the removals (subject digest/purge) to hold whole */
	json_t *erased;                     /* visitors whose erased rows await their tombstone */
	char subject_digest[CG_HEX_HASH_LEN + 1]; /* of subject */
	int64_t first;                      /* the first link of the period's (0: none yet) */
	int64_t heads_max;                  /* the last row a head of the period names */
	off_t chain_keep;                   /* chain.txt up to the last link needed */
	char last_hash[CG_HEX_HASH_LEN + 1];/* of the link before the one being read */
	struct version_seen versions[MAX_VERSIONS];
	int nversions;
	struct cg_signed_head *heads;       /* of the period, oldest first */
	struct cg_head *parsed;             /* their payloads; last_id 0 when unreadable */
	size_t nheads, next_head;
	struct cg_verify v;                 /* the whole chain */
	/* the builds and notices the period's events name, their files */
	char shown_ids[MAX_SHOWN][CG_NOTICE_ID_LEN + 1];
	int nshown;
	json_t *shown_index;
	struct { char hash[CG_HEX_HASH_LEN + 1]; struct cg_buf bytes; } *files;
	size_t nfiles;
	struct archive *a;
	char dir[64];
	int failed, refused;                /* refused: a row of the store, said why */
	struct cg_signer signer;            /* signs SHA256SUMS, when the key is readable */
	int has_signer;
};

/* a link as the views show it (a pruned link with its subject's digest and
 * purge, a log event with its record; what the store could not read as it
 * is, named under "malformed") */
json_t *cg_bundle_row(const struct cg_event *ev);
/* one element of a JSON array written to a scratch file (the bytes
 * json_dumps gives the whole array with JSON_INDENT(2)) */
void cg_bundle_element(struct bundle *b, struct scratch *s, json_t *row);
/* a kept row, or a removed row, of the period (or of the visitor) */
int cg_bundle_of_period(const struct bundle *b, const struct cg_event *ev);
/* the first walk (cg_cli_verify_begin's `also`): the removals to hold whole */
int cg_bundle_note_groups(void *arg, const struct cg_event *ev);
/* the second walk, after the events: what they need from the rest of the
 * log, and chain.txt (added: the link is one of the period's events) */
void cg_bundle_context(struct bundle *b, const struct cg_event *ev, int added);
void cg_bundle_close_arrays(struct bundle *b);
int cg_bundle_scratch_failed(const struct bundle *b);
void cg_bundle_links_init(struct bundle *b);
void cg_bundle_links_free(struct bundle *b);

#endif
