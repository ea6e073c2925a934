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
