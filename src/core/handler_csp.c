/* GET /consent/csp: the per-visitor Content-Security-Policy, an nginx
 * auth_request target for the site's pages (docs/nginx.md#content-security-policy). */
#include <string.h>

#include "consentgate/csp.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "handler_internal.h"

/* The categories the visitor granted, as /consent/check decides them
 * (consent only); anything wrong with the cookie or the store is "none":
 * the page then gets the base policy, never an error (an auth_request
 * answering 5xx would fail the page). */
static unsigned granted(struct ctx *c)
{
	struct cg_state st;
	char id[CG_ID_LEN + 1], subject[CG_SUBJECT_LEN + 1];
	unsigned g = 0;

	memset(&st, 0, sizeof st);
	if (cgh_read_id(c, id) != ID_VALID)
		return 0;
	cg_id_subject(id, subject);
	if (c->ops->load_state(c->ops->ctx, subject, &st) != CG_OK)
		return 0;
	for (int p = 0; p < CG_NPURPOSES; p++)
		if (cg_consent_valid(c->cfg, &st, p, c->req->now_ms))
			g |= 1u << p;
	return g;
}

void cgh_route_csp(struct ctx *c)
{
	const struct cg_csp *csp = c->ops->csp ? c->ops->csp(c->ops->ctx) : NULL;

	cg_buf_reset(&c->res->body);
	c->res->no_store = 1;
	c->res->status = 204;
	if (!csp || csp->mode == CG_CSP_OFF)
		return; /* no header: nginx adds none */
	c->res->csp_header = cg_csp_header(csp->mode);
	c->res->csp_value = cg_csp_policy(csp, granted(c));
}

/* POST /consent/csp-report: what the browser blocked (enforce) or would
 * have blocked (report). A report-uri report carries the consent cookie:
 * a vendor whose category the visitor has granted by now loaded after a
 * grant (the banner released it on a page whose policy predates the
 * choice), so it is no leak. Nothing of the visitor is kept; a body that
 * is no report is a 400 and counts nothing. */
void cgh_route_csp_report(struct ctx *c)
{
	struct cg_leak leaks[CG_LEAKS_PER_BODY];
	int kind = cgh_report_kind(c);
	size_t n = 0, kept = 0;
	unsigned g;

	if (cg_leak_parse(c->cfg, kind, c->req->body ? c->req->body : "", c->req->body_len, leaks,
	                  CG_LEAKS_PER_BODY, &n) != CG_OK) {
		cgh_respond_error(c, CG_ANS_BAD_JSON, "not a CSP report", NULL);
		return;
	}
	g = n && kind == CG_REPORT_URI ? granted(c) : 0;
	for (size_t i = 0; i < n; i++)
		if (leaks[i].vendor < 0 || !(g & (1u << c->cfg->vendors[leaks[i].vendor].category)))
			leaks[kept++] = leaks[i];
	if (kept && c->ops->leaks)
		c->ops->leaks(c->ops->ctx, leaks, kept, c->req->now_ms);
	cg_buf_reset(&c->res->body);
	c->res->no_store = 1;
	c->res->status = 204;
}
