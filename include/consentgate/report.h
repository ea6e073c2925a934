/* Consent outcomes per day x country (from the consent_daily view) and their
 * rendering as table, CSV or JSON. Rendering is pure; the rows come from
 * cg_store_report_daily(). */
#ifndef CONSENTGATE_REPORT_H
#define CONSENTGATE_REPORT_H

#include <stddef.h>
#include "consentgate/buf.h"

enum cg_outcome { CG_OUT_ACCEPT_ALL = 0, CG_OUT_REJECT_ALL, CG_OUT_CUSTOM, CG_OUT_WITHDRAW, CG_NOUTCOMES };

struct cg_report_row {
	char day[11];        /* YYYY-MM-DD */
	char country[3];     /* "" = unknown */
	long long n[CG_NOUTCOMES];
};

struct cg_report {
	struct cg_report_row *rows; /* owned */
	size_t n, cap;
};

enum cg_format { CG_FMT_TABLE = 0, CG_FMT_CSV, CG_FMT_JSON };

const char *cg_outcome_name(int o);
int cg_outcome_parse(const char *s);
int cg_format_parse(const char *s);   /* -1 if unknown */

/* Adds n events of outcome to (day, country), keeping rows in input order. */
int cg_report_add(struct cg_report *r, const char *day, const char *country,
                  int outcome, long long n);
int cg_report_render(const struct cg_report *r, int format, struct cg_buf *out);
void cg_report_free(struct cg_report *r);

#endif
