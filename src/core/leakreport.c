/* consentctl report --leaks (cspreport.h): leak rows as a table, CSV, JSON
 * or an HTML page with a chart. Pure. Hosts were validated as host names
 * when counted; they are escaped here all the same (a database is not
 * trusted to hold only what this build wrote). */
#include <stdio.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"
#include "consentgate/report.h"

static const char *who(const struct cg_leak_row *r)
{
	return r->vendor[0] ? r->vendor : r->host;
}

static int html(struct cg_buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++)
		rc = *s == '<' ? cg_buf_adds(b, "&lt;") : *s == '>' ? cg_buf_adds(b, "&gt;")
		   : *s == '&' ? cg_buf_adds(b, "&amp;") : *s == '"' ? cg_buf_adds(b, "&quot;")
		   : *s == '\'' ? cg_buf_adds(b, "&#39;") : cg_buf_add(b, s, 1);
	return rc;
}

/* a CSV field: quoted, quotes doubled; a leading = + - @ neutralised (a spreadsheet formula) */
static int csv(struct cg_buf *b, const char *s)
{
	int rc = cg_buf_adds(b, strchr("=+-@", s[0]) && s[0] ? "\"'" : "\"");

	for (; *s && !rc; s++)
		rc = *s == '"' ? cg_buf_adds(b, "\"\"") : cg_buf_add(b, s, 1);
	return rc || cg_buf_adds(b, "\"");
}

static int render_table(const struct cg_leak_row *r, size_t n, struct cg_buf *b)
{
	int rc = cg_buf_printf(b, "%-10s  %-28s  %-11s  %-20s  %8s\n", "day", "vendor or host", "directive", "page",
	                       "reports");

	for (size_t i = 0; i < n && !rc; i++)
		rc = cg_buf_printf(b, "%-10s  %-28s  %-11s  %-20s  %8lld\n", r[i].day, who(&r[i]), r[i].directive,
		                   r[i].path, r[i].count);
	return rc;
}

static int render_csv(const struct cg_leak_row *r, size_t n, struct cg_buf *b)
{
	int rc = cg_buf_adds(b, "day,vendor,host,directive,page,reports\n");

	for (size_t i = 0; i < n && !rc; i++)
		rc = cg_buf_printf(b, "%s,", r[i].day) || csv(b, r[i].vendor) || cg_buf_adds(b, ",") ||
		     csv(b, r[i].host) || cg_buf_printf(b, ",%s,", r[i].directive) || csv(b, r[i].path) ||
		     cg_buf_printf(b, ",%lld\n", r[i].count);
	return rc;
}

static int render_json(const struct cg_leak_row *r, size_t n, struct cg_buf *b)
{
	int rc = cg_buf_adds(b, "[");

	for (size_t i = 0; i < n && !rc; i++)
		rc = cg_buf_adds(b, i ? ",{" : "{") || cg_buf_json_key(b, 1, "day") ||
		     cg_buf_json_str(b, r[i].day, strlen(r[i].day)) || cg_buf_json_key(b, 0, "vendor") ||
		     (r[i].vendor[0] ? cg_buf_json_str(b, r[i].vendor, strlen(r[i].vendor)) : cg_buf_adds(b, "null")) ||
		     cg_buf_json_key(b, 0, "host") ||
		     (r[i].host[0] ? cg_buf_json_str(b, r[i].host, strlen(r[i].host)) : cg_buf_adds(b, "null")) ||
		     cg_buf_json_key(b, 0, "directive") || cg_buf_json_str(b, r[i].directive, strlen(r[i].directive)) ||
		     cg_buf_json_key(b, 0, "page") || cg_buf_json_str(b, r[i].path, strlen(r[i].path)) ||
		     cg_buf_printf(b, ",\"reports\":%lld}", r[i].count);
	return rc || cg_buf_adds(b, "]\n");
}

/* totals per vendor or host, in order of first appearance (at most 64 bars) */
static int svg_bars(const struct cg_leak_row *r, size_t n, struct cg_buf *b)
{
	const char *names[64];
	long long tot[64], max = 1;
	int k = 0, rc;

	for (size_t i = 0; i < n; i++) {
		int j = 0;
		while (j < k && strcmp(names[j], who(&r[i])) != 0)
			j++;
		if (j == k && k == 64)
			continue;
		if (j == k) {
			names[k] = who(&r[i]);
			tot[k++] = 0;
		}
		tot[j] += r[i].count;
		max = tot[j] > max ? tot[j] : max;
	}
	rc = cg_buf_printf(b, "<svg role=\"img\" aria-label=\"reports by vendor or host\" width=\"640\" height=\"%d\">\n",
	                   20 * k + 10);
	for (int j = 0; j < k && !rc; j++)
		rc = cg_buf_printf(b, "<text x=\"0\" y=\"%d\" font-size=\"12\">", 20 * j + 15) || html(b, names[j]) ||
		     cg_buf_printf(b, "</text><rect x=\"220\" y=\"%d\" height=\"14\" width=\"%lld\" fill=\"#bc4c00\"/>"
		                      "<text x=\"%lld\" y=\"%d\" font-size=\"12\">%lld</text>\n",
		                   20 * j + 4, 1 + 360 * tot[j] / max, 226 + 360 * tot[j] / max, 20 * j + 15, tot[j]);
	return rc || cg_buf_adds(b, "</svg>\n");
}

static int render_html(const struct cg_leak_row *r, size_t n, const char *title, struct cg_buf *b)
{
	int rc = cg_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>") ||
	         html(b, title) || cg_buf_adds(b, "</title><style>body{font-family:sans-serif}td,th{padding:2px 8px;"
	                                         "text-align:left}</style></head><body><h1>") ||
	         html(b, title) || cg_buf_adds(b, "</h1>\n") || svg_bars(r, n, b) ||
	         cg_buf_adds(b, "<table><tr><th>day</th><th>vendor or host</th><th>directive</th><th>page</th>"
	                        "<th>reports</th></tr>\n");

	for (size_t i = 0; i < n && !rc; i++)
		rc = cg_buf_printf(b, "<tr><td>%s</td><td>", r[i].day) || html(b, who(&r[i])) ||
		     cg_buf_adds(b, r[i].vendor[0] ? "" : " (no vendor)") || cg_buf_adds(b, "</td><td>") ||
		     html(b, r[i].directive) || cg_buf_adds(b, "</td><td>") || html(b, r[i].path) ||
		     cg_buf_printf(b, "</td><td>%lld</td></tr>\n", r[i].count);
	return rc || cg_buf_adds(b, "</table></body></html>\n");
}

int cg_leak_render(const struct cg_leak_row *rows, size_t n, int format, const char *title, struct cg_buf *out)
{
	int rc = format == CG_FMT_CSV    ? render_csv(rows, n, out)
	       : format == CG_FMT_JSON   ? render_json(rows, n, out)
	       : format == CG_FMT_HTML   ? render_html(rows, n, title, out)
	                                 : render_table(rows, n, out);

	return rc ? CG_ERR_TOO_LONG : CG_OK;
}
