/* The vendors in use (vendor.h): GET /consent/vendors, the list a choice
 * names, and the vendors' cookies a withdrawal expires. Pure. */
#include <stdio.h>
#include <string.h>

#include "consentgate/consent.h"
#include "consentgate/err.h"
#include "consentgate/vendor.h"
#include "handler_internal.h"

/* {"id": ID, "vendors": LIST}: the id is the SHA-256 of LIST's exact
 * bytes, kept as shown. Browsers keep it and revalidate on every use
 * (no-cache + ETag: a 304 while it is unchanged), like the banner files. */
void cgh_route_vendors(struct ctx *c)
{
	struct cg_response *res = c->res;
	struct cg_buf list;
	char id[CG_VENDORS_ID_LEN + 1];
	int bad;

	cg_buf_init(&list, CG_VENDOR_LIST_MAX);
	bad = cg_vendor_list(c->cfg->vendors, c->cfg->n_vendors, c->cfg->controller_name, &list, id);
	cg_buf_reset(&res->body);
	if (!bad && c->req->if_none_match && strstr(c->req->if_none_match, id)) {
		res->status = 304;
	} else {
		bad = bad || cg_buf_printf(&res->body, "{\"id\":\"%s\",\"vendors\":", id) ||
		      cg_buf_add(&res->body, list.p, list.len) || cg_buf_adds(&res->body, "}");
		res->status = 200;
		res->content_type = "application/json";
	}
	cg_buf_free(&list);
	if (bad) {
		cgh_respond_json(c, 500, NULL);
		return;
	}
	res->no_store = 0;
	res->revalidate = 1;
	snprintf(res->etag, sizeof res->etag, "\"%s\"", id);
}

/* The vendor list in front of the visitor, treated as banner builds are:
 * one never served is refused (400), a retired one too while the choice
 * grants anything (409: a cached page asks again; refusing is never
 * refused), and a client that names none gets the list in service, marked
 * as asserted by the server. 0 with the answer given. */
int cgh_vendors_shown(struct ctx *c, const struct cg_choice_req *body, int grants,
                      char id[CG_VENDORS_ID_LEN + 1], int *asserted)
{
	const char *now = c->cfg->vendors_id;
	int status;

	*asserted = !body->vendors[0];
	memcpy(id, *asserted ? now : body->vendors, CG_VENDORS_ID_LEN + 1);
	if (*asserted || strcmp(body->vendors, now) == 0)
		return 1;
	status = c->ops->vendors_status ? c->ops->vendors_status(c->ops->ctx, body->vendors) : CG_BUILD_UNKNOWN;
	if (status == CG_BUILD_UNKNOWN) {
		cgh_respond_error(c, CG_ANS_BAD_FIELD, "vendors names a vendor list this site never served", "vendors");
		return 0;
	}
	if (status == CG_BUILD_RETIRED && grants) {
		cgh_respond_answer(c, CG_ANS_STALE_VENDORS, "the vendor list has changed; reload the page",
		                   json_pack("{s:s}", "current_vendors", now));
		return 0;
	}
	return 1;
}

/* the request's host, lower case, without its port; "" for an address */
static void request_host(const char *h, char out[256])
{
	size_t n = h ? strcspn(h, ":") : 0;

	out[0] = '\0';
	if (!n || n >= 256 || h[0] == '[' || strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789.-") < n ||
	    strspn(h, "0123456789.") == n)
		return;
	memcpy(out, h, n);
	out[n] = '\0';
}

static int declared(const struct cg_config *cfg, const char *name, size_t len)
{
	for (int i = 0; i < cfg->n_vendors; i++)
		if (cg_vendor_pattern_match(cfg->vendors[i].cookies, name, len))
			return 1;
	return 0;
}

/* RFC 6265's cookie-name token: a name echoed into Set-Cookie carries
 * nothing else along (a pattern's '*' matches any rest) */
#define COOKIE_TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
#define EXPIRY "=; Max-Age=0; Path=/"
#define EXPIRY_DOMAIN EXPIRY "; Domain="

/* expired by an earlier line of this answer: a browser sends a name once
 * for each domain that holds it */
static int expired_already(const struct cg_response *res, int from, const char *name, size_t len)
{
	for (int i = from; i < res->n_cookies; i++)
		if (strncmp(res->set_cookie[i], name, len) == 0 && res->set_cookie[i][len] == '=')
			return 1;
	return 0;
}

/* The withdrawal's answer expires the declared vendor cookies that the
 * request's Cookie header carries (HttpOnly ones too, which the banner's
 * script cannot see) — only those, so the answer stays small: host-only,
 * and on each parent domain of the request's host down to two labels (a
 * browser ignores the ones on a public suffix). Bounded by the answer's
 * cookie slots: a name is expired on all its domains or not at all, and a
 * domain too long for a slot's line is left out, never cut short. */
void cgh_expire_vendor_cookies(struct ctx *c)
{
	struct cg_response *res = c->res;
	const char *p = c->req->cookie, *doms[128];
	int first = res->n_cookies, nd = 0;
	char host[256];

	request_host(c->req->host, host);
	for (const char *d = host; strchr(d, '.'); d = strchr(d, '.') + 1)
		if (CG_VENDOR_PATTERN_MAX + strlen(EXPIRY_DOMAIN) + strlen(d) < sizeof res->set_cookie[0])
			doms[nd++] = d;
	while (p && *p) {
		size_t n, len;
		p += strspn(p, " ;");
		n = strcspn(p, ";");
		len = strcspn(p, "=");
		if (len < n && len && len <= CG_VENDOR_PATTERN_MAX && strspn(p, COOKIE_TOKEN) >= len &&
		    declared(c->cfg, p, len) && !expired_already(res, first, p, len)) {
			if (res->n_cookies + 1 + nd > CG_MAX_SET_COOKIES)
				return;
			cgh_add_cookie(c, "%.*s" EXPIRY, (int)len, p);
			for (int i = 0; i < nd; i++)
				cgh_add_cookie(c, "%.*s" EXPIRY_DOMAIN "%s", (int)len, p, doms[i]);
		}
		p += n;
	}
}
