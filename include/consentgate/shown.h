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
 * A choice row's banner field: "build=<id>;notice=<sha256 or 64 '-'>", and
 * ";asserted" when the client named no build and the server recorded the
 * one it served then. */
#ifndef CONSENTGATE_SHOWN_H
#define CONSENTGATE_SHOWN_H

#include <stddef.h>
#include <stdint.h>
#include "consentgate/event.h"

#define CG_BUILD_ID_LEN 32
#define CG_NOTICE_ID_LEN 64
#define CG_BUILD_FIELD "cg-build:"
#define CG_SHOWN_NAME_MAX 63 /* a file's name, without NUL */
#define CG_SHOWN_RECORD_LEN (6 + CG_BUILD_ID_LEN + 8 + CG_NOTICE_ID_LEN + 9)

enum cg_shown_kind { CG_SHOWN_BANNER = 0, CG_SHOWN_NOTICE };

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
/* the choice row's banner field */
void cg_shown_record(char out[CG_BANNER_MAX + 1], const char *build, const char *notice, int asserted);
/* the build and notice ids of such a field ("" where there is none) */
void cg_shown_parse(const char *record, char build[CG_BUILD_ID_LEN + 1], char notice[CG_NOTICE_ID_LEN + 1]);

#endif
