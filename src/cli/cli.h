/* consentctl's pieces shared between its files: the store and the clock
 * (common.c), chain verification (verify.c), the proofs (proof.c), moving a
 * log to PostgreSQL (move.c). */
#ifndef CONSENTGATE_CLI_H
#define CONSENTGATE_CLI_H

#include <jansson.h>
#include <stdint.h>
#include "consentgate/audit.h"
#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/id.h"
#include "consentgate/storage.h"

/* Verifying a whole log (audit.h) through the port: the log's signed
 * heads (those whose signature holds against the log's keys) bound the
 * times of purges, then two walks. */
struct cg_verify {
	struct cg_audit *a;
	int done;                          /* finished: the result holds */
	const struct cg_store_port *p;     /* with r: in a snapshot of the log until released */
	struct cg_store_reader *r;
};
/* cg_cli_verify_begin (a snapshot of the log begun, the heads and the
 * first walk — the links that are no kept row, or every link when `also`
 * is not NULL, which then sees each), then every link to cg_cli_verify_row
 * in id order from the same reader, then cg_cli_verify_end; cg_cli_verify
 * is all three. CG_OK, or a read error. min_retention_days: -1 for none.
 * cg_cli_verify_release ends the snapshot (cg_cli_verify_end does): before
 * the reader is closed, on every path. */
int cg_cli_verify_begin(const struct cg_store_port *p, struct cg_store_reader *r, int min_retention_days,
                        struct cg_verify *v, cg_store_event_fn also, void *also_arg);
void cg_cli_verify_row(struct cg_verify *v, const struct cg_event *ev);
void cg_cli_verify_end(struct cg_verify *v);
void cg_cli_verify_release(struct cg_verify *v);
int cg_cli_verify(const struct cg_store_port *p, struct cg_store_reader *r, int min_retention_days,
                  struct cg_verify *v);
void cg_cli_verify_free(struct cg_verify *v);
/* the verdict: "OK: N rows verified (...), chain head H" and what else the
 * auditor should read, or "BROKEN: row N: why"; returns the exit status */
int cg_cli_verify_print(const char *label, const struct cg_verify *v);
/* non-zero when out refused an append (the text stops where it did) */
int cg_cli_verify_text(const char *label, const struct cg_verify *v, struct cg_buf *out);

/* common.c: the store through its port (database: another SQLite file,
 * or NULL), with a reader when rd is not NULL; 0, or 1 with the reason
 * printed. The wall clock in ms. */
int cg_cli_open(const struct cg_config *cfg, const char *database, int mode, struct cg_store_port *st,
                struct cg_store_reader **rd);
void cg_cli_close(struct cg_store_port *st, struct cg_store_reader *rd);
int64_t cg_cli_now_ms(void);

/* proof.c: consentctl keys, head show|sign, receipt verify, verify --head
 * (each returns the exit status) */
int cg_cli_keys(const struct cg_config *cfg);
/* the export with its receipt signed by this instance's key, when readable
 * (else as it was, saying so on stderr); takes and returns doc */
json_t *cg_cli_signed_export(const struct cg_config *cfg, json_t *doc);
int cg_cli_head(const struct cg_config *cfg, const char *action);
int cg_cli_receipt_verify(const struct cg_config *cfg, const char *file, const char *keys_file);
int cg_cli_verify_head(const struct cg_config *cfg, const char *file, int min_retention_days);
/* consentctl verify [--database] [--head] [--min-retention-days] */
int cg_cli_verify_cmd(const struct cg_config *cfg, const char *database, const char *head_file,
                      int min_retention_days);

/* bundle.c: consentctl bundle (the exit status) */
struct cg_cli_bundle_opts {
	const char *from, *to;     /* YYYY-MM-DD, inclusive */
	const char *subject;       /* one visitor, or NULL */
	const char *output;        /* never overwritten */
};
int cg_cli_bundle(struct cg_cli_bundle_opts *o, const struct cg_config *cfg);

/* shown.c: consentctl banner stamp|id DIR (no configuration), notice
 * list|show ID -o DIR */
int cg_cli_banner(const char *action, const char *dir);
int cg_cli_notice(const struct cg_config *cfg, const char *action, const char *id, const char *dir);
/* 1 if every file name and hash of a build or notice read from the store
 * is one consentctl may use (shown.h); else 0, the reason printed */
int cg_cli_shown_row_ok(const char *me, const struct cg_shown_row *s);

/* erase.c: consentctl erase (the exit status) */
int cg_cli_erase(const struct cg_config *cfg, const char *database, const char *subject);

/* consentctl migrate --to URL: the exit status */
int cg_cli_move(const struct cg_config *cfg, const char *database, const char *url);

#endif
