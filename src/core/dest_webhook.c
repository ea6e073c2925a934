/* The webhook kind (dest.h): the documented JSON (docs/api.md), to any
 * URL the operator names. */
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/decision.h"
#include "consentgate/dest.h"
#include "consentgate/event.h"

static int head(const struct cg_payload_in *in, struct cg_buf *out)
{
	int bad = cg_buf_adds(out, "{\"destination\":") || cg_buf_json_str(out, in->dest->name, strlen(in->dest->name)) ||
	          cg_buf_adds(out, ",\"site\":") || cg_buf_json_str(out, in->cfg->site, strlen(in->cfg->site)) ||
	          cg_buf_printf(out, ",\"mode\":\"%s\",\"client_id\":", cg_decision_name(in->mode)) ||
	          cg_buf_json_str(out, in->client_id, strlen(in->client_id)) || cg_buf_adds(out, ",\"country\":");

	bad |= in->country[0] ? cg_buf_json_str(out, in->country, strlen(in->country)) : cg_buf_adds(out, "null");
	bad |= cg_buf_adds(out, ",\"consent\":{");
	for (int p = 0; p < CG_NPURPOSES; p++)
		bad |= cg_buf_printf(out, "%s\"%s\":%s", p ? "," : "", cg_purpose_name(p), cg_tri_json(in->choice[p]));
	return bad | cg_buf_printf(out, "},\"timestamp_micros\":%lld,", (long long)in->timestamp_micros);
}

/* url is checked for every kind; a webhook needs nothing more */
static const char *check(const struct cg_destination *d, const char **why)
{
	(void)d;
	(void)why;
	return NULL;
}

/* a webhook takes the documented notice wherever it is */
static int erasure_possible(const struct cg_destination *d)
{
	(void)d;
	return 1;
}

static json_t *notice(const struct cg_destination *d, const char *client_id, const char *at)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "erasure", "destination", d->name,
	                 "client_id", client_id, "requested_at", at,
	                 "reason", "the visitor's data was erased at their request (GDPR Art. 17); erase what you "
	                           "hold under this client_id (Art. 17(2), 19)");
}

const struct cg_destkind cg_destkind_webhook = {
	.label = "webhook",
	.event_time = 0,
	.payload_head = head,
	.defaults = NULL,
	.check = check,
	.erasure_possible = erasure_possible,
	.erasure_notice = notice,
};
