/* The ga4 kind (dest.h): Google Analytics 4's Measurement Protocol, and
 * its User Deletion API for erasure notices. */
#include <stdio.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/config.h"
#include "consentgate/decision.h"
#include "consentgate/dest.h"
#include "consentgate/transfer.h"

static int head(const struct cg_payload_in *in, struct cg_buf *out)
{
	const char *ad = in->mode == CG_FORWARD_FULL && in->choice[CG_MARKETING] == 1 ? "GRANTED" : "DENIED";
	int bad = cg_buf_adds(out, "{\"client_id\":") || cg_buf_json_str(out, in->client_id, strlen(in->client_id)) ||
	          cg_buf_printf(out, ",\"timestamp_micros\":%lld,\"consent\":{\"ad_user_data\":\"%s\","
	                        "\"ad_personalization\":\"%s\"},", (long long)in->timestamp_micros, ad, ad);

	if (in->country[0])
		bad |= cg_buf_adds(out, "\"user_location\":{\"country_id\":") ||
		       cg_buf_json_str(out, in->country, strlen(in->country)) || cg_buf_adds(out, "},");
	return bad;
}

/* GA4's recipient when a ga4 destination declares none: Google's EU
 * entity, processing by Google LLC in the United States (DPF-certified) */
static void recipient(struct cg_destination *d)
{
	if (d->recipient[0] || d->country[0] || d->transfer)
		return;
	snprintf(d->recipient, sizeof d->recipient, "%s", "Google Ireland Limited; Google LLC (processor)");
	strcpy(d->country, "US");
	d->transfer = CG_TRANSFER_DPF;
}

/* the credentials come first; the deletion settings all or none */
static const char *check(const struct cg_destination *d, const char **why)
{
	if (!d->measurement_id[0])
		return *why = "is required for type ga4", "measurement_id";
	if (!d->api_secret[0])
		return *why = "is required for type ga4", "api_secret";
	*why = "erasures reach GA4 only with all of property_id, deletion_url and deletion_token_file";
	if (!d->property_id[0] && !d->deletion_token_file[0] && !d->deletion_url[0])
		return NULL;
	if (d->property_id[0] && d->deletion_token_file[0] && d->deletion_url[0])
		return NULL;
	return d->property_id[0] ? (d->deletion_url[0] ? "deletion_token_file" : "deletion_url") : "property_id";
}

static int erasure_possible(const struct cg_destination *d)
{
	return d->property_id[0] && d->deletion_token_file[0] && d->deletion_url[0];
}

/* Google Analytics User Deletion API, userDeletionRequests:upsert */
static json_t *notice(const struct cg_destination *d, const char *client_id, const char *at)
{
	(void)at;
	return json_pack("{s:s, s:{s:s, s:s}, s:s}", "kind", "analytics#userDeletionRequest",
	                 "id", "type", "CLIENT_ID", "userId", client_id, "propertyId", d->property_id);
}

const struct cg_destkind cg_destkind_ga4 = {
	.label = "Google Analytics 4 (Measurement Protocol)",
	.event_time = 1,
	.payload_head = head,
	.defaults = recipient,
	.check = check,
	.erasure_possible = erasure_possible,
	.erasure_notice = notice,
};
