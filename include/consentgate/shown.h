/* What was shown (EDPB 05/2020 §5.1, CNIL 2020-092 §48): every banner build
 * and privacy notice the site serves is content-addressed, and each choice
 * records, inside the hash chain, the build and the notice in front of the
 * visitor. Pure.
 *
 * A banner build is banner.js and banner.css. Its id is the first 16 bytes
 * (32 hex digits) of
 *
 *   SHA-256("consentgate/banner-build/1\n" ||
 *           for each file, by name: name "\n" length "\n" bytes "\n")
 *
 * taken with the script's id field blanked: banner.js holds the id in
 * `"cg-build:` + 32 hex digits + `"`, read as 32 zeros for the hash, so the
 * script carries its own id without circularity (`consentctl banner stamp`
 * writes it in). A notice's id is the SHA-256 (64 hex digits) of its file,
 * what `sha256sum` prints.
 *
 * What a choice records (its `banner` field; in the core digest from row
 * format 2, chain.h):
 *
 *   "build=<id>;notice=<sha256, or 64 '-' without a notice file>"
 *
 * then each optional part that has a value, in this order: ";vendors=<the
 * vendor list's id, 64 lower-case hex digits>" (page gating),
 * ";mode=<the jurisdiction's mode>" (rules by country), and last
 * ";asserted" when the client named no build, or no vendor list while one
 * is recorded, and the server recorded the one it served then. Other
 * values are 1 to 64 of [A-Za-z0-9_.-]. Adding something shown is a member of struct
 * cg_what_shown and a row of shown.c's table of parts: the record stays one
 * field, which the verifiers hash as stored (and parse only to find the
 * build and notice a bundle must hold). */
#ifndef CONSENTGATE_SHOWN_H
#define CONSENTGATE_SHOWN_H

#include <stddef.h>
#include <stdint.h>
#include "consentgate/event.h"

#define CG_BUILD_ID_LEN 32
#define CG_NOTICE_ID_LEN 64
#define CG_BUILD_FIELD "cg-build:"
#define CG_SHOWN_NAME_MAX 63 /* a file's name, without NUL */
#define CG_SHOWN_VALUE_MAX 64

enum cg_shown_kind { CG_SHOWN_BANNER = 0, CG_SHOWN_NOTICE, CG_SHOWN_VENDORS }; /* VENDORS: from SQLite schema 6 / PostgreSQL 5 */

/* One file of a build or a notice (bytes as served). */
struct cg_shown_file {
	char name[CG_SHOWN_NAME_MAX + 1];
	const uint8_t *bytes;
	size_t len;
	char hash[CG_HEX_HASH_LEN + 1];   /* SHA-256 of the bytes as served */
};

/* A build or notice to register. */
struct cg_shown {
	int kind;
	char id[CG_NOTICE_ID_LEN + 1];
	char label[64];                   /* a notice: its policy version */
	struct cg_shown_file files[4];
	size_t nfiles;
};

/* The build's id from its files (sorted by name here; each file's hash is
 * filled in) and the id banner.js carries ("" if it has no id field, 32
 * zeros if unstamped). CG_ERR_INVALID: no banner.js among them. */
int cg_banner_build_id(struct cg_shown_file *files, size_t n, char id[CG_BUILD_ID_LEN + 1],
                       char embedded[CG_BUILD_ID_LEN + 1]);
/* Writes id into banner.js's id field, in place. CG_ERR_INVALID: none. */
int cg_banner_stamp(uint8_t *js, size_t len, const char id[CG_BUILD_ID_LEN + 1]);
/* A notice: its id (SHA-256) and file hash. */
void cg_notice_id(struct cg_shown_file *file, char id[CG_NOTICE_ID_LEN + 1]);

/* "banner", "notice" or "vendors" (as consentctl and the bundle name them) */
const char *cg_shown_kind_name(int kind);
/* 1 if s is 32 lower-case hex digits */
int cg_build_id_valid(const char *s);
/* 1 if s is a SHA-256 as stored for a file (64 lower-case hex digits) */
int cg_shown_hash_valid(const char *s);
/* 1 if name may name a file of a build or notice: 1-63 of A-Z a-z 0-9 and
 * . _ + -, not starting with '.' or '-'. So never a path, never "." or
 * "..", never hidden, never an option: the daemon registers no other name
 * and consentctl writes no other (a name read from the database is
 * checked again before it names a file). */
int cg_shown_name_valid(const char *name);

struct cg_what_shown {
	char build[CG_BUILD_ID_LEN + 1];
	char notice[CG_NOTICE_ID_LEN + 1];      /* "": no notice file */
	char vendors[CG_SHOWN_VALUE_MAX + 1];   /* the vendor list's id; "": none (no vendors declared) */
	char mode[CG_SHOWN_VALUE_MAX + 1];      /* "": none (issue: rules by country) */
	int asserted;
};
/* the record of w (which names a valid build) */
void cg_shown_record(char out[CG_BANNER_MAX + 1], const struct cg_what_shown *w);
/* A record taken apart: CG_OK only when it is exactly what cg_shown_record
 * writes; CG_ERR_INVALID otherwise (w zeroed: a free-text label of schema
 * 1, anything altered). */
int cg_shown_parse(const char *record, struct cg_what_shown *w);

/* A registered banner build or notice, as the store lists it. */
struct cg_shown_row {
	char id[CG_NOTICE_ID_LEN + 1];
	int kind;                           /* enum cg_shown_kind */
	char label[64];                     /* a notice: its policy version */
	int64_t first_ms, retired_ms;       /* retired_ms 0: in service */
	size_t nfiles;
	char names[4][CG_SHOWN_NAME_MAX + 1];
	char hashes[4][CG_HEX_HASH_LEN + 1];
};
/* The notice in service when a build last was (the moment before its
 * retirement; now for one in service): what a visitor who still runs that
 * build was shown with it. Fed every registered row once, in any order (a
 * log of years holds many), from p->notice "" and p->first_ms -1: p->notice
 * is then that notice, "" when no notice was in service then. */
struct cg_notice_pick {
	char notice[CG_NOTICE_ID_LEN + 1];
	int64_t first_ms;                   /* of the notice picked so far */
};
void cg_shown_notice_of(const struct cg_shown_row *build, const struct cg_shown_row *row, struct cg_notice_pick *p);

#endif
