/* GA4's requests (fwd_kind.h): the Measurement Protocol, up to 25 events
 * of one client per request; erasure notices to the User Deletion API, one
 * client_id a request, with the operator's current token. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/collect.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "fwd_kind.h"

/* the leading rows of one client as one request (r->n becomes how many) */
static int events(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
                  size_t first)
{
	const char *p[CG_COLLECT_MAX_EVENTS];

	(void)d;
	for (size_t i = 0; i < r->n; i++)
		p[i] = items[first + i].payload;
	if (cg_ga4_merge(p, r->n, &r->body, &r->n) != CG_OK)
		return CG_ERR_TOO_LONG;
	return cg_fwd_ids_header(r, items, first, r->n);
}

static int notices(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
                   size_t first)
{
	char token[4096], hdr[4200];
	FILE *f;
	size_t len;
	int rc;

	if ((rc = cg_erasure_body(items[first].payload, &r->body)) != CG_OK)
		return rc;
	f = fopen(d->deletion_token_file, "re");
	len = f ? fread(token, 1, sizeof token - 1, f) : 0;
	if (f)
		fclose(f);
	token[len] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	if (!token[0])
		return CG_ERR_IO;
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", token);
	r->headers = curl_slist_append(r->headers, hdr);
	sodium_memzero(token, sizeof token);
	sodium_memzero(hdr, sizeof hdr);
	return cg_fwd_ids_header(r, items, first, 1);
}

/* the credentials travel in the query string; notices to deletion_url */
static int url(CURL *easy, const struct cg_destination *d, int notice, char *out, size_t cap)
{
	char *mid, *sec;
	int n;

	if (notice)
		return snprintf(out, cap, "%s", d->deletion_url) < (int)cap ? CG_OK : CG_ERR_TOO_LONG;
	mid = curl_easy_escape(easy, d->measurement_id, 0);
	sec = curl_easy_escape(easy, d->api_secret, 0);
	n = snprintf(out, cap, "%s%smeasurement_id=%s&api_secret=%s", d->url,
	             strchr(d->url, '?') ? "&" : "?", mid ? mid : "", sec ? sec : "");
	curl_free(mid);
	curl_free(sec);
	return n < (int)cap ? CG_OK : CG_ERR_TOO_LONG;
}

const struct cg_fwdkind cg_fwdkind_ga4 = {
	.batch = CG_COLLECT_MAX_EVENTS,
	.notice_batch = 1,
	.metered = 1,
	.events = events,
	.notices = notices,
	.url = url,
};
