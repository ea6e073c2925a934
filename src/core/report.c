#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/report.h"

static const char *const outcome_names[CG_NOUTCOMES] = {"accept_all", "reject_all", "custom", "withdraw"};
static const char *const period_names[] = {"day", "week", "month"};
static const char *const format_names[] = {"table", "csv", "json", "html"};
static const char *const cat_names[3] = {"preferences", "statistics", "marketing"};

static int index_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *cg_outcome_name(int o) { return o >= 0 && o < CG_NOUTCOMES ? outcome_names[o] : NULL; }
const char *cg_period_name(int p) { return p >= 0 && p < 3 ? period_names[p] : NULL; }
int cg_period_parse(const char *s) { return index_of(period_names, 3, s); }
int cg_format_parse(const char *s) { return index_of(format_names, 4, s); }

static int only(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

/* The renderers print these fields unescaped: their charsets are checked here. */
int cg_report_add(struct cg_report *r, const struct cg_report_row *row)
{
	if (!only(row->period, "0123456789-W") || !only(row->country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
	    !only(row->version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ||
	    !only(row->lang, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"))
		return CG_ERR_INVALID;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct cg_report_row *nr = realloc(r->rows, ncap * sizeof *nr);
		if (!nr)
			return CG_ERR_NOMEM;
		r->rows = nr;
		r->cap = ncap;
	}
	r->rows[r->n++] = *row;
	return CG_OK;
}

void cg_report_suppress(struct cg_report *r, int k)
{
	r->k = k;
	for (size_t i = 0; i < r->n; i++)
		r->rows[i].suppressed = r->rows[i].visitors < k;
}

/* Note: visitors are summed per cell, so a visitor counted in two cells
 * counts twice here; the rollups are for the charts' shapes. */
int cg_report_rollup(const struct cg_report *r, int by, struct cg_report *out)
{
	memset(out, 0, sizeof *out);
	out->period = r->period;
	for (size_t i = 0; i < r->n; i++) {
		const struct cg_report_row *w = &r->rows[i];
		struct cg_report_row *t = NULL;
		for (size_t j = 0; j < out->n && !t; j++)
			if (by ? strcmp(out->rows[j].country, w->country) == 0
			       : strcmp(out->rows[j].period, w->period) == 0)
				t = &out->rows[j];
		if (!t) {
			struct cg_report_row z;
			memset(&z, 0, sizeof z);
			if (by)
				strcpy(z.country, w->country);
			else
				strcpy(z.period, w->period);
			if (cg_report_add(out, &z))
				return CG_ERR_NOMEM;
			t = &out->rows[out->n - 1];
		}
		t->visitors += w->visitors;
		t->choices += w->choices;
		for (int o = 0; o < CG_NOUTCOMES; o++)
			t->n[o] += w->n[o];
		for (int c = 0; c < 3; c++)
			t->granted[c] += w->granted[c];
	}
	cg_report_suppress(out, r->k);
	return CG_OK;
}

void cg_report_free(struct cg_report *r)
{
	if (!r)
		return;
	free(r->rows);
	memset(r, 0, sizeof *r);
}

static double rate(const struct cg_report_row *w, int c)
{
	return w->choices ? (double)w->granted[c] / (double)w->choices : 0.0;
}

static int render_table(const struct cg_report *r, struct cg_buf *out)
{
	int rc = cg_buf_printf(out, "%-10s  %-7s  %-10s  %-5s  %8s  %10s  %10s  %6s  %8s  %6s  %6s  %6s\n",
	                       cg_period_name(r->period), "country", "policy", "lang", "visitors",
	                       "accept_all", "reject_all", "custom", "withdraw", "pref%", "stat%", "mkt%");
	for (size_t i = 0; i < r->n; i++) {
		const struct cg_report_row *w = &r->rows[i];
		rc |= cg_buf_printf(out, "%-10s  %-7s  %-10s  %-5s  ", w->period, w->country[0] ? w->country : "-",
		                    w->version[0] ? w->version : "-", w->lang[0] ? w->lang : "-");
		if (w->suppressed)
			rc |= cg_buf_printf(out, "%8s  %10s  %10s  %6s  %8s  %6s  %6s  %6s\n", "<k", "*", "*", "*",
			                    "*", "*", "*", "*");
		else
			rc |= cg_buf_printf(out, "%8lld  %10lld  %10lld  %6lld  %8lld  %6.1f  %6.1f  %6.1f\n",
			                    w->visitors, w->n[0], w->n[1], w->n[2], w->n[3], 100 * rate(w, 0),
			                    100 * rate(w, 1), 100 * rate(w, 2));
	}
	if (r->k > 1)
		rc |= cg_buf_printf(out, "(* cells with fewer than %d visitors are suppressed)\n", r->k);
	return rc;
}

static int render_csv(const struct cg_report *r, struct cg_buf *out)
{
	int rc = cg_buf_printf(out, "%s,country,policy_version,lang,visitors,accept_all,reject_all,custom,"
	                            "withdraw,choices,preferences_rate,statistics_rate,marketing_rate,suppressed\r\n",
	                       cg_period_name(r->period));
	for (size_t i = 0; i < r->n; i++) {
		const struct cg_report_row *w = &r->rows[i];
		rc |= cg_buf_printf(out, "%s,%s,%s,%s,", w->period, w->country, w->version, w->lang);
		if (w->suppressed)
			rc |= cg_buf_adds(out, ",,,,,,,,,1\r\n");
		else
			rc |= cg_buf_printf(out, "%lld,%lld,%lld,%lld,%lld,%lld,%.4f,%.4f,%.4f,0\r\n", w->visitors,
			                    w->n[0], w->n[1], w->n[2], w->n[3], w->choices, rate(w, 0), rate(w, 1),
			                    rate(w, 2));
	}
	return rc;
}

static int render_json_rows(const struct cg_report *r, struct cg_buf *out)
{
	int rc = cg_buf_adds(out, "[");

	for (size_t i = 0; i < r->n; i++) {
		const struct cg_report_row *w = &r->rows[i];
		rc |= cg_buf_printf(out, "%s{\"period\":\"%s\",\"country\":", i ? "," : "", w->period);
		rc |= w->country[0] ? cg_buf_printf(out, "\"%s\"", w->country) : cg_buf_adds(out, "null");
		rc |= cg_buf_adds(out, ",\"policy_version\":");
		rc |= w->version[0] ? cg_buf_printf(out, "\"%s\"", w->version) : cg_buf_adds(out, "null");
		rc |= cg_buf_adds(out, ",\"lang\":");
		rc |= w->lang[0] ? cg_buf_printf(out, "\"%s\"", w->lang) : cg_buf_adds(out, "null");
		if (w->suppressed)
			rc |= cg_buf_adds(out, ",\"suppressed\":true}");
		else
			rc |= cg_buf_printf(out, ",\"suppressed\":false,\"visitors\":%lld,\"accept_all\":%lld,"
			                         "\"reject_all\":%lld,\"custom\":%lld,\"withdraw\":%lld,\"choices\":%lld,"
			                         "\"grant_rate\":{\"preferences\":%.4f,\"statistics\":%.4f,\"marketing\":%.4f}}",
			                    w->visitors, w->n[0], w->n[1], w->n[2], w->n[3], w->choices, rate(w, 0),
			                    rate(w, 1), rate(w, 2));
	}
	return rc | cg_buf_adds(out, "]");
}

/* ---- HTML with inline SVG --------------------------------------------------- */

static const char *const colours[3] = {"#1f6feb", "#1a7f37", "#bc4c00"};

static int svg_lines(const struct cg_report *by_period, struct cg_buf *out)
{
	const int W = 720, H = 260, L = 48, R = 16, T = 16, B = 40;
	size_t n = by_period->n;
	int rc = cg_buf_printf(out, "<svg role=\"img\" aria-labelledby=\"c1\" viewBox=\"0 0 %d %d\" width=\"100%%\">"
	                            "<title id=\"c1\">Grant rate per category over time</title>", W, H);

	for (int g = 0; g <= 4; g++) {
		double y = T + (H - T - B) * (1 - g / 4.0);
		rc |= cg_buf_printf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
		                         "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%d%%</text>",
		                    L, W - R, y, y, L - 6, y + 4, g * 25);
	}
	for (size_t i = 0; i < n; i++) {
		double x = L + (n > 1 ? (double)(W - L - R) * (double)i / (double)(n - 1) : (W - L - R) / 2.0);
		if (n <= 12 || i % (n / 12 + 1) == 0)
			rc |= cg_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>",
			                    x, H - B + 16, by_period->rows[i].period);
	}
	for (int c = 0; c < 3; c++) {
		int pen = 0;
		rc |= cg_buf_printf(out, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" d=\"", colours[c]);
		for (size_t i = 0; i < n; i++) {
			const struct cg_report_row *w = &by_period->rows[i];
			double x = L + (n > 1 ? (double)(W - L - R) * (double)i / (double)(n - 1) : (W - L - R) / 2.0);
			double y = T + (H - T - B) * (1 - rate(w, c));
			if (w->suppressed || !w->choices) {
				pen = 0; /* a gap for a suppressed period */
				continue;
			}
			rc |= cg_buf_printf(out, "%s%.1f %.1f ", pen ? "L" : "M", x, y);
			pen = 1;
		}
		rc |= cg_buf_adds(out, "\"/>");
		/* points too: a single period (or one between gaps) is no line */
		for (size_t i = 0; i < n; i++) {
			const struct cg_report_row *w = &by_period->rows[i];
			double x = L + (n > 1 ? (double)(W - L - R) * (double)i / (double)(n - 1) : (W - L - R) / 2.0);
			if (!w->suppressed && w->choices)
				rc |= cg_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x,
				                    T + (H - T - B) * (1 - rate(w, c)), colours[c]);
		}
		rc |= cg_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		                         "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
		                    L + 10 + c * 120, H - 14, colours[c], L + 26 + c * 120, H - 4, cat_names[c]);
	}
	return rc | cg_buf_adds(out, "</svg>");
}

static int svg_bars(const struct cg_report *by_country, struct cg_buf *out)
{
	/* bars leave room for their labels ("100% preferences") on the right */
	const int row = 22, L = 60, W = 720, T = 8, LABEL = 130;
	int shown = 0, rc = CG_OK;

	for (size_t i = 0; i < by_country->n; i++)
		shown += !by_country->rows[i].suppressed;
	rc |= cg_buf_printf(out, "<svg role=\"img\" aria-labelledby=\"c2\" viewBox=\"0 0 %d %d\" width=\"100%%\">"
	                         "<title id=\"c2\">Grant rate per category by country</title>",
	                    W, T + (shown ? shown : 1) * 3 * row / 2 * 2 + 8);
	shown = 0;
	for (size_t i = 0; i < by_country->n; i++) {
		const struct cg_report_row *w = &by_country->rows[i];
		int y = T + shown * 3 * row;
		if (w->suppressed)
			continue;
		shown++;
		rc |= cg_buf_printf(out, "<text x=\"0\" y=\"%d\" font-size=\"13\">%s</text>", y + row + 4,
		                    w->country[0] ? w->country : "?");
		for (int c = 0; c < 3; c++) {
			double len = (W - L - LABEL) * rate(w, c);
			rc |= cg_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
			                         "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%.0f%% %s</text>",
			                    L, y + c * (row - 2), len, row - 6, colours[c], L + len + 4,
			                    y + c * (row - 2) + row - 9, 100 * rate(w, c), cat_names[c]);
		}
	}
	return rc | cg_buf_adds(out, "</svg>");
}

static int render_html(const struct cg_report *r, const char *title, struct cg_buf *out)
{
	struct cg_report by_period, by_country;
	int rc;

	if (cg_report_rollup(r, 0, &by_period) || cg_report_rollup(r, 1, &by_country)) {
		cg_report_free(&by_period);
		return CG_ERR_NOMEM;
	}
	rc = cg_buf_printf(out,
		"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		"<title>%s</title><style>"
		"body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1b1b}"
		"table{border-collapse:collapse;width:100%%;font-variant-numeric:tabular-nums}"
		"th,td{padding:.2rem .5rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
		".wrap{overflow-x:auto}"
		"th:nth-child(-n+4),td:nth-child(-n+4){text-align:left}.s{color:#6a6a6a}"
		"figure{margin:1.5rem 0}h1 span{white-space:nowrap}</style></head><body><h1>",
		title);
	/* each word unbroken: dates and versions never wrap at their hyphens */
	for (const char *p = title; *p;) {
		size_t n = strcspn(p, " ");
		rc |= cg_buf_printf(out, "<span>%.*s</span>%s", (int)n, p, p[n] ? " " : "");
		p += n + (p[n] == ' ');
	}
	rc |= cg_buf_adds(out, "</h1>");
	rc |= r->k > 1 ? cg_buf_printf(out, "<p>Cells with fewer than %d distinct visitors are suppressed "
	                                    "(shown as *).", r->k)
	               : cg_buf_adds(out, "<p>No cell is suppressed (k = 1).");
	rc |= cg_buf_printf(out, " Grant rates are the share of choices that granted the category.</p>"
	                         "<figure><figcaption>Grant rate per category, by %s</figcaption>",
	                    cg_period_name(r->period));
	rc |= svg_lines(&by_period, out);
	rc |= cg_buf_adds(out, "</figure><figure><figcaption>Grant rate per category, by country</figcaption>");
	rc |= svg_bars(&by_country, out);
	rc |= cg_buf_printf(out, "</figure><div class=\"wrap\"><table><thead><tr><th>%s</th><th>country</th><th>policy</th><th>lang</th>"
	                         "<th>visitors</th><th>accept all</th><th>reject all</th><th>custom</th>"
	                         "<th>withdraw</th><th>preferences</th><th>statistics</th><th>marketing</th>"
	                         "</tr></thead><tbody>", cg_period_name(r->period));
	for (size_t i = 0; i < r->n; i++) {
		const struct cg_report_row *w = &r->rows[i];
		rc |= cg_buf_printf(out, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>", w->period,
		                    w->country[0] ? w->country : "–", w->version, w->lang[0] ? w->lang : "–");
		if (w->suppressed)
			rc |= cg_buf_adds(out, "<td class=\"s\" colspan=\"8\">* suppressed</td></tr>");
		else
			rc |= cg_buf_printf(out, "<td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>"
			                         "<td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td></tr>",
			                    w->visitors, w->n[0], w->n[1], w->n[2], w->n[3], 100 * rate(w, 0),
			                    100 * rate(w, 1), 100 * rate(w, 2));
	}
	rc |= cg_buf_adds(out, "</tbody></table></div></body></html>\n");
	cg_report_free(&by_period);
	cg_report_free(&by_country);
	return rc;
}

int cg_report_render(const struct cg_report *r, int format, const char *title, struct cg_buf *out)
{
	int rc;

	switch (format) {
	case CG_FMT_TABLE: rc = render_table(r, out); break;
	case CG_FMT_CSV: rc = render_csv(r, out); break;
	case CG_FMT_JSON:
		rc = cg_buf_printf(out, "{\"period\":\"%s\",\"k\":%d,\"rows\":", cg_period_name(r->period), r->k);
		rc |= render_json_rows(r, out);
		rc |= cg_buf_adds(out, "}\n");
		break;
	case CG_FMT_HTML: rc = render_html(r, title ? title : "Consent report", out); break;
	default: return CG_ERR_INVALID;
	}
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}
