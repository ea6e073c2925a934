/* A webhook's requests (fwd_kind.h): a JSON array of up to 100 rows, events
 * or erasure notices, to the destination's url. */
#include <stdio.h>

#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "fwd_kind.h"

#define WEBHOOK_BATCH 100      /* rows per webhook request (events, or erasure notices) */

/* the payloads, and the range of their ids */
static int events(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
                  size_t first)
{
	char hdr[96];

	(void)d;
	if (cg_buf_adds(&r->body, "["))
		return CG_ERR_TOO_LONG;
	for (size_t i = first; i < first + r->n; i++)
		if (cg_buf_adds(&r->body, items[i].payload) || cg_buf_adds(&r->body, i + 1 < first + r->n ? "," : "]"))
			return CG_ERR_TOO_LONG;
	snprintf(hdr, sizeof hdr, "X-Consentgate-Delivery: %lld-%lld", (long long)items[first].id,
	         (long long)items[first + r->n - 1].id);
	r->headers = curl_slist_append(r->headers, hdr);
	return cg_fwd_ids_header(r, items, first, r->n);
}

/* the JSON array of the notices */
static int notices(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
                   size_t first)
{
	(void)d;
	for (size_t i = first; i < first + r->n; i++)
		if (cg_buf_adds(&r->body, i == first ? "[" : ",") || cg_erasure_body(items[i].payload, &r->body))
			return CG_ERR_INVALID;
	return cg_buf_adds(&r->body, "]") ? CG_ERR_TOO_LONG : cg_fwd_ids_header(r, items, first, r->n);
}

static int url(CURL *easy, const struct cg_destination *d, int notice, char *out, size_t cap)
{
	(void)easy;
	(void)notice;
	return snprintf(out, cap, "%s", d->url) < (int)cap ? CG_OK : CG_ERR_TOO_LONG;
}

const struct cg_fwdkind cg_fwdkind_webhook = {
	.batch = WEBHOOK_BATCH,
	.notice_batch = WEBHOOK_BATCH,
	.metered = 0,
	.events = events,
	.notices = notices,
	.url = url,
};
