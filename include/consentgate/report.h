/* Aggregate consent reports (consentctl report, GET /consent/report):
 * outcomes and per-category grant rates by period x country x policy
 * version x language, with small cells suppressed (k-anonymity), rendered as
 * table, CSV, JSON or one self-contained HTML file with SVG charts. Pure:
 * the rows come from cg_store_report(). */
#ifndef CONSENTGATE_REPORT_H
#define CONSENTGATE_REPORT_H

#include <stddef.h>
#include "consentgate/buf.h"

enum cg_outcome { CG_OUT_ACCEPT_ALL = 0, CG_OUT_REJECT_ALL, CG_OUT_CUSTOM, CG_OUT_WITHDRAW, CG_NOUTCOMES };
enum cg_period { CG_BY_DAY = 0, CG_BY_WEEK, CG_BY_MONTH };
enum cg_format { CG_FMT_TABLE = 0, CG_FMT_CSV, CG_FMT_JSON, CG_FMT_HTML };

struct cg_report_row {
	char period[11];        /* 2026-11-21, 2026-W47, 2026-11 */
	char country[3];        /* "" = unknown */
	char version[33];
	char lang[17];
	long long visitors;     /* distinct subjects in the cell */
	long long n[CG_NOUTCOMES];
	long long choices;      /* choice events (the base of the grant rates) */
	long long granted[3];   /* choice events granting preferences, statistics, marketing */
	int suppressed;         /* fewer than k visitors: numbers withheld */
};

struct cg_report {
	struct cg_report_row *rows; /* owned */
	size_t n, cap;
	int period;
	int k;
};

const char *cg_outcome_name(int o);
const char *cg_period_name(int p);
int cg_period_parse(const char *s);
int cg_format_parse(const char *s);   /* -1 if unknown */

/* Appends a row (copied). CG_ERR_INVALID if a text field breaks its charset. */
int cg_report_add(struct cg_report *r, const struct cg_report_row *row);
/* Marks rows with fewer than k visitors. */
void cg_report_suppress(struct cg_report *r, int k);
/* Sums rows by period (by = 0) or by country (by = 1) into out, then
 * suppresses with r->k. */
int cg_report_rollup(const struct cg_report *r, int by, struct cg_report *out);
int cg_report_render(const struct cg_report *r, int format, const char *title, struct cg_buf *out);
void cg_report_free(struct cg_report *r);

#endif
