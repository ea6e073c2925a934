#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/report.h"

static const char *const outcome_names[CG_NOUTCOMES] = {
	"accept_all", "reject_all", "custom", "withdraw",
};
static const char *const format_names[] = {"table", "csv", "json"};

const char *cg_outcome_name(int o)
{
	return o >= 0 && o < CG_NOUTCOMES ? outcome_names[o] : NULL;
}

int cg_outcome_parse(const char *s)
{
	for (int i = 0; s && i < CG_NOUTCOMES; i++)
		if (strcmp(outcome_names[i], s) == 0)
			return i;
	return -1;
}

int cg_format_parse(const char *s)
{
	for (int i = 0; s && i < (int)(sizeof format_names / sizeof *format_names); i++)
		if (strcmp(format_names[i], s) == 0)
			return i;
	return -1;
}

int cg_report_add(struct cg_report *r, const char *day, const char *country,
                  int outcome, long long n)
{
	struct cg_report_row *row = NULL;

	country = country ? country : "";
	/* the JSON renderer relies on these character sets */
	if (outcome < 0 || outcome >= CG_NOUTCOMES || strlen(day) > 10 ||
	    strspn(day, "0123456789-") != strlen(day) || strlen(country) > 2 ||
	    strspn(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(country))
		return CG_ERR_INVALID;
	/* rows arrive grouped by day, so only the tail can match */
	for (size_t i = r->n; i-- > 0 && strcmp(r->rows[i].day, day) == 0;)
		if (strcmp(r->rows[i].country, country) == 0) {
			row = &r->rows[i];
			break;
		}
	if (!row) {
		if (r->n == r->cap) {
			size_t ncap = r->cap ? r->cap * 2 : 64;
			struct cg_report_row *nr = realloc(r->rows, ncap * sizeof *nr);
			if (!nr)
				return CG_ERR_NOMEM;
			r->rows = nr;
			r->cap = ncap;
		}
		row = &r->rows[r->n++];
		memset(row, 0, sizeof *row);
		strcpy(row->day, day);
		strcpy(row->country, country);
	}
	row->n[outcome] += n;
	return CG_OK;
}

void cg_report_free(struct cg_report *r)
{
	if (!r)
		return;
	free(r->rows);
	memset(r, 0, sizeof *r);
}

int cg_report_render(const struct cg_report *r, int format, struct cg_buf *out)
{
	int rc = CG_OK;

	switch (format) {
	case CG_FMT_TABLE:
		rc |= cg_buf_printf(out, "%-10s  %-7s  %10s  %10s  %8s  %8s  %8s\n", "day", "country",
		                    "accept_all", "reject_all", "custom", "withdraw", "total");
		for (size_t i = 0; i < r->n; i++) {
			const struct cg_report_row *w = &r->rows[i];
			rc |= cg_buf_printf(out, "%-10s  %-7s  %10lld  %10lld  %8lld  %8lld  %8lld\n",
			                    w->day, w->country[0] ? w->country : "-", w->n[0], w->n[1],
			                    w->n[2], w->n[3], w->n[0] + w->n[1] + w->n[2] + w->n[3]);
		}
		break;
	case CG_FMT_CSV:
		rc |= cg_buf_adds(out, "day,country,accept_all,reject_all,custom,withdraw,total\r\n");
		for (size_t i = 0; i < r->n; i++) {
			const struct cg_report_row *w = &r->rows[i];
			rc |= cg_buf_printf(out, "%s,%s,%lld,%lld,%lld,%lld,%lld\r\n", w->day, w->country,
			                    w->n[0], w->n[1], w->n[2], w->n[3],
			                    w->n[0] + w->n[1] + w->n[2] + w->n[3]);
		}
		break;
	case CG_FMT_JSON:
		/* day and country are [0-9-] and [A-Z] by construction: no escaping */
		rc |= cg_buf_adds(out, "{\"rows\":[");
		for (size_t i = 0; i < r->n; i++) {
			const struct cg_report_row *w = &r->rows[i];
			rc |= cg_buf_printf(out, "%s{\"day\":\"%s\",\"country\":", i ? "," : "", w->day);
			rc |= w->country[0] ? cg_buf_printf(out, "\"%s\"", w->country)
			                    : cg_buf_adds(out, "null");
			rc |= cg_buf_printf(out, ",\"accept_all\":%lld,\"reject_all\":%lld,\"custom\":%lld,"
			                         "\"withdraw\":%lld,\"total\":%lld}",
			                    w->n[0], w->n[1], w->n[2], w->n[3],
			                    w->n[0] + w->n[1] + w->n[2] + w->n[3]);
		}
		rc |= cg_buf_adds(out, "]}\n");
		break;
	default:
		return CG_ERR_INVALID;
	}
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}
