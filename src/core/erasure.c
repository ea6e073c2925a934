#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/timefmt.h"

int cg_erasure_is(const char *payload)
{
	return strncmp(payload, CG_ERASURE_PREFIX, strlen(CG_ERASURE_PREFIX)) == 0;
}

int cg_erasure_possible(const struct cg_destination *d)
{
	return d->type == CG_DEST_WEBHOOK || (d->property_id[0] && d->deletion_token_file[0] && d->deletion_url[0]);
}

/* the pseudonym reached the destination only if the visitor granted its purpose */
static int ever_granted(const struct cg_event *evs, size_t n, int purpose)
{
	for (size_t i = 0; i < n; i++)
		if (evs[i].action == CG_ACT_CHOICE && evs[i].choice[purpose] == 1)
			return 1;
	return 0;
}

static json_t *notice(const struct cg_destination *d, const char *client_id, const char *at)
{
	if (d->type == CG_DEST_GA4) /* Google Analytics User Deletion API, userDeletionRequests:upsert */
		return json_pack("{s:s, s:{s:s, s:s}, s:s}", "kind", "analytics#userDeletionRequest",
		                 "id", "type", "CLIENT_ID", "userId", client_id, "propertyId", d->property_id);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "erasure", "destination", d->name,
	                 "client_id", client_id, "requested_at", at,
	                 "reason", "the visitor's data was erased at their request (GDPR Art. 17); erase what you "
	                           "hold under this client_id (Art. 17(2), 19)");
}

size_t cg_erasure_rows(const struct cg_config *cfg, const uint8_t key[CG_KEY_BYTES], const char *subject,
                       const struct cg_event *evs, size_t n, int64_t now_ms, struct cg_outbox_row *rows,
                       struct cg_buf *payloads, size_t max)
{
	char at[CG_TIME_LEN + 1], cid[CG_CLIENT_ID_MAX];
	size_t k = 0;

	cg_time_format(now_ms, at);
	for (int i = 0; i < cfg->n_dest && k < max; i++) {
		const struct cg_destination *d = &cfg->dest[i];
		json_t *body;
		char *s;
		if (!cg_erasure_possible(d) || !ever_granted(evs, n, d->purpose))
			continue;
		cg_client_id_full(key, d->name, subject, cid);
		body = notice(d, cid, at);
		body = body ? json_pack("{s:o}", "erasure", body) : NULL;   /* takes the notice */
		s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(body);
		cg_buf_init(&payloads[k], CG_PAYLOAD_MAX);
		if (!s || cg_buf_adds(&payloads[k], s) != CG_OK) {
			free(s);
			cg_buf_free(&payloads[k]);
			continue;
		}
		free(s);
		memset(&rows[k], 0, sizeof rows[k]);  /* no subject: the row outlives the visitor's key */
		rows[k].destination = d->name;
		rows[k].purpose = d->purpose;
		rows[k].mode = CG_FORWARD_FULL;
		rows[k].payload = payloads[k].p;
		memcpy(rows[k].created_at, at, sizeof at);
		k++;
	}
	return k;
}

int cg_erasure_body(const char *payload, struct cg_buf *out)
{
	json_t *o = cg_erasure_is(payload) ? json_loads(payload, 0, NULL) : NULL;
	char *s = o ? json_dumps(json_object_get(o, "erasure"), JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc = s ? cg_buf_adds(out, s) : CG_ERR_INVALID;

	free(s);
	json_decref(o);
	return rc;
}
