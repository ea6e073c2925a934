/* The per-visitor Content-Security-Policy (csp.h). Pure. */
#include <stdio.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/err.h"
#include "consentgate/event.h"
#include "consentgate/vendor.h"

/* keywords that only make sense for scripts: kept out of the other directives */
static int script_keyword(const char *w, size_t n)
{
	static const char *const kw[] = {"'unsafe-inline'", "'unsafe-eval'", "'wasm-unsafe-eval'"};

	for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
		if (strlen(kw[i]) == n && memcmp(kw[i], w, n) == 0)
			return 1;
	return 0;
}

int cg_csp_base_valid(const char *base, char *bad, size_t n)
{
	char w[256];

	for (const char *p = base; *p;) {
		size_t k = strcspn(p, " \t");
		if (k) {
			snprintf(bad, n, "%.*s", (int)k, p);
			if (k >= sizeof w)
				return 0;
			memcpy(w, p, k);
			w[k] = '\0';
			if (!script_keyword(w, k) && !cg_csp_source_valid(w))
				return 0;
		}
		p += k;
		p += strspn(p, " \t");
	}
	return 1;
}

/* 1 if the word w[0..n) is already in the directive's value so far */
static int has_word(const struct cg_buf *b, size_t from, const char *w, size_t n)
{
	const char *p = b->p + from, *end = b->p + b->len;

	while (p < end) {
		size_t k = strcspn(p, " ;");
		if (k == n && memcmp(p, w, n) == 0)
			return 1;
		p += k + 1;
	}
	return 0;
}

/* appends each word of list not yet in this directive (from: its start) */
static int add_words(struct cg_buf *b, size_t from, const char *list, int scripts)
{
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " \t");
		if (k && (scripts || !script_keyword(p, k)) && !has_word(b, from, p, k) &&
		    (cg_buf_adds(b, " ") || cg_buf_add(b, p, k)))
			return CG_ERR_TOO_LONG;
		p += k;
		p += strspn(p, " \t");
	}
	return CG_OK;
}

/* "name base hosts...; ": frames allow every vendor in use, whatever was
 * granted: placeholders gate embeds, and "load once" must work without a
 * new policy (docs/banner.md#page-gating) */
static int directive(struct cg_buf *b, const struct cg_config *cfg, const char *name, unsigned granted)
{
	size_t from;
	int frames = strcmp(name, "frame-src") == 0;

	if (cg_buf_adds(b, name))
		return CG_ERR_TOO_LONG;
	from = b->len;
	if (add_words(b, from, cfg->csp_base, strcmp(name, "script-src") == 0))
		return CG_ERR_TOO_LONG;
	for (int i = 0; i < cfg->n_vendors; i++) {
		const struct cg_vendor *v = &cfg->vendors[i];
		if ((frames || (granted & (1u << v->category))) && add_words(b, from, v->hosts, 0))
			return CG_ERR_TOO_LONG;
	}
	if (b->len == from && cg_buf_adds(b, " 'none'"))
		return CG_ERR_TOO_LONG;
	return cg_buf_adds(b, "; ") ? CG_ERR_TOO_LONG : CG_OK;
}

static int build_one(const struct cg_config *cfg, unsigned granted, struct cg_buf *b)
{
	static const char *const names[] = {"script-src", "connect-src", "img-src", "frame-src"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (directive(b, cfg, names[i], granted))
			return CG_ERR_TOO_LONG;
	/* report-uri for browsers without the Reporting API (and it carries the
	 * consent cookie: docs/api.md#leak-reports); report-to for the rest,
	 * which then ignore report-uri */
	return cg_buf_printf(b, "report-uri %s/csp-report%s", cfg->base_path,
	                     cfg->csp_report_to ? "; report-to " CG_CSP_REPORT_GROUP : "") ? CG_ERR_TOO_LONG : CG_OK;
}

int cg_csp_build(const struct cg_config *cfg, struct cg_csp *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->mode = cfg->csp_mode;
	for (unsigned g = 0; g < CG_CSP_COMBOS; g++) {
		cg_buf_init(&out->policy[g], CG_CSP_MAX);
		if (out->mode != CG_CSP_OFF && build_one(cfg, g, &out->policy[g]) != CG_OK) {
			snprintf(err, errlen, "the policy with every category granted is over %d bytes: fewer "
			         "vendors or hosts", CG_CSP_MAX);
			cg_csp_free(out);
			return CG_ERR_CONFIG;
		}
	}
	return CG_OK;
}

void cg_csp_free(struct cg_csp *csp)
{
	for (unsigned g = 0; g < CG_CSP_COMBOS; g++)
		cg_buf_free(&csp->policy[g]);
}

const char *cg_csp_policy(const struct cg_csp *csp, unsigned granted)
{
	if (!csp || csp->mode == CG_CSP_OFF)
		return NULL;
	return csp->policy[granted % CG_CSP_COMBOS].p;
}

const char *cg_csp_header(int mode)
{
	return mode == CG_CSP_ENFORCE ? "X-Consentgate-CSP"
	       : mode == CG_CSP_REPORT ? "X-Consentgate-CSP-Report-Only" : NULL;
}

const char *cg_csp_mode_name(int mode)
{
	return mode == CG_CSP_ENFORCE ? "enforce" : mode == CG_CSP_REPORT ? "report" : "off";
}
