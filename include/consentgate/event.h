/* One row of consent_events: an append-only state change (docs/analysts.md#views-and-tables),
 * plus the visitor state derived from the latest row. Pure data + names. */
#ifndef CONSENTGATE_EVENT_H
#define CONSENTGATE_EVENT_H

#include <stdint.h>
#include "consentgate/id.h"
#include "consentgate/ip.h"
#include "consentgate/timefmt.h"

enum cg_purpose {
	CG_PREFERENCES = 0,
	CG_STATISTICS = 1,
	CG_MARKETING = 2,
	CG_NPURPOSES = 3,
};

enum cg_action {
	CG_ACT_CHOICE = 0,
	CG_ACT_WITHDRAW,
	CG_ACT_OBJECTION,
	CG_ACT_ERASE,
	/* log events (row format 2): chained rows of no visitor */
	CG_ACT_PURGE,                /* retention removed rows (logevent.h) */
	CG_ACT_FORMAT,               /* the log changed row format (a migration) */
};
#define CG_NACTIONS 6

/* What a link of the chain is: a kept row, the link of a row retention
 * removed, or a log event. */
enum cg_link { CG_LINK_ROW = 0, CG_LINK_PRUNED, CG_LINK_LOG };

#define CG_TRI_NULL (-1) /* SQL NULL for 0/1 columns */
#define CG_TRI_BAD 2     /* what a store reads for any other value of one */
/* a 0/1/NULL value as JSON text */
static inline const char *cg_tri_json(int v)
{
	return v == CG_TRI_NULL ? "null" : v ? "true" : "false";
}

#define CG_VERSION_MAX 32
#define CG_LANG_MAX 16
#define CG_BANNER_MAX 255  /* what was shown: "build=<id>;notice=<sha256>;..." (shown.h) */
#define CG_PAGE_MAX 1024
#define CG_SALT_LEN 32      /* hex of 16 random bytes */
#define CG_OBJECTIONS_MAX 40 /* "preferences,statistics,marketing" */
#define CG_RECORD_MAX 400   /* a log event's record (logevent.h) */

/* A link of the chain (chain.h has the digests of each row format). */
struct cg_event {
	/* assigned by the store's writer, in commit order */
	int64_t id;
	int link;                            /* enum cg_link (what a store reads back) */
	int format;                          /* row format: 1 (before the migration) or 2 */
	char prev_hash[CG_HEX_HASH_LEN + 1];
	char hash[CG_HEX_HASH_LEN + 1];
	char core_digest[CG_HEX_HASH_LEN + 1];
	char personal_digest[CG_HEX_HASH_LEN + 1];

	/* core: what proves the choice; never redacted. A pruned link keeps
	 * these but the subject, whose digest stands in for it. */
	char subject[CG_SUBJECT_LEN + 1];    /* "" for a pruned link or a log event */
	char subject_digest[CG_HEX_HASH_LEN + 1]; /* a pruned link's (format 2); else "" */
	char recorded_at[CG_TIME_LEN + 1];
	int action;                          /* enum cg_action */
	char policy_version[CG_VERSION_MAX + 1]; /* "" = NULL */
	int choice[CG_NPURPOSES];            /* 0, 1 or CG_TRI_NULL */
	int objection_purpose;               /* enum cg_purpose or -1 */
	unsigned objections;                 /* bit per purpose, state after event */
	char choice_at[CG_TIME_LEN + 1];     /* when the choices in force were made; "" = NULL */
	/* what was shown (shown.h): core from row format 2, personal in format 1 */
	char banner[CG_BANNER_MAX + 1];
	char record[CG_RECORD_MAX + 1];      /* a log event's record (logevent.h); else "" */

	/* personal: cleared by erasure and retention; committed to by a salted digest */
	char salt[CG_SALT_LEN + 1];          /* "" = NULL (erased) */
	int gpc, dnt;                        /* 0/1 or CG_TRI_NULL */
	char lang[CG_LANG_MAX + 1];
	char page[CG_PAGE_MAX + 1];
	char ip_prefix[CG_IP_PREFIX_MAX];
	char ip_digest[CG_HEX_HASH_LEN + 1]; /* stored once the IP retention cleared the prefix */
	char country[3];

	/* a pruned link: the purge (log event) that removed it (0: before row
	 * format 2) and when */
	int64_t purge_id;
	char pruned_at[CG_TIME_LEN + 1];

	/* set by a store that read a value no honest row holds in a column (too
	 * long for its field here, a NUL inside): the column's name; the
	 * verifiers fail such a row */
	const char *malformed;
};

/* The visitor's state as of their latest event. */
struct cg_state {
	int present;                         /* 0: no event for this subject */
	int action;
	char policy_version[CG_VERSION_MAX + 1];
	int choice[CG_NPURPOSES];
	unsigned objections;
	int64_t recorded_at_ms;
	int64_t choice_at_ms;                /* 0 if no choice was ever made */
};

const char *cg_purpose_name(int p);      /* NULL if out of range */
int cg_purpose_parse(const char *s);     /* -1 if unknown */
const char *cg_action_name(int a);
int cg_action_parse(const char *s);
/* "statistics,marketing" or "" */
void cg_objections_format(unsigned bits, char out[CG_OBJECTIONS_MAX + 1]);
int cg_objections_parse(const char *s, unsigned *bits);

#endif
