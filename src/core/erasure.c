#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/dest.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/timefmt.h"

int cg_erasure_is(const char *payload)
{
	return strncmp(payload, CG_ERASURE_PREFIX, strlen(CG_ERASURE_PREFIX)) == 0;
}

int cg_erasure_possible(const struct cg_destination *d)
{
	return cg_dest_kind(d->type)->erasure_possible(d);
}

cg_dest_mask cg_dest_bit(const struct cg_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_dest; i++)
		if (strcmp(cfg->dest[i].name, name) == 0)
			return (cg_dest_mask)1 << i;
	return 0;
}

/* The destinations that can take a notice whose purpose the visitor
 * granted in a choice recorded before before_ms: a full client_id reaches
 * a destination only while its purpose is granted. */
static cg_dest_mask granted(const struct cg_config *cfg, const struct cg_event *evs, size_t n, int64_t before_ms)
{
	cg_dest_mask m = 0;

	for (int i = 0; i < cfg->n_dest; i++)
		for (size_t k = 0; k < n && cg_erasure_possible(&cfg->dest[i]); k++) {
			int64_t at;
			if (evs[k].action == CG_ACT_CHOICE && evs[k].choice[cfg->dest[i].purpose] == 1 &&
			    cg_time_parse(evs[k].recorded_at, &at) == CG_OK && at < before_ms) {
				m |= (cg_dest_mask)1 << i;
				break;
			}
		}
	return m;
}

void cg_erasure_plan_init(const struct cg_config *cfg, const struct cg_event *evs, size_t n, cg_dest_mask recorded,
                          int64_t since_ms, struct cg_erasure_plan *out)
{
	memset(out, 0, sizeof *out);
	out->candidates = granted(cfg, evs, n, INT64_MAX);
	out->certain = since_ms > 0 ? granted(cfg, evs, n, since_ms) : 0;
	out->received = out->candidates & (recorded | out->certain);
	for (cg_dest_mask m = out->received; m; m &= m - 1)
		out->want++;
}

void cg_erasure_plan_room(struct cg_erasure_plan *p, size_t room)
{
	p->rows = 0;
	p->notified = p->refused = 0;
	if (room >= p->want) {
		p->rows = p->candidates;
		p->notified = p->want;
		return;
	}
	for (cg_dest_mask m = p->received; m && p->notified < room; m &= m - 1) {
		p->rows |= m & (~m + 1);   /* the lowest bit: configuration order */
		p->notified++;
	}
	p->refused = p->want - p->notified;
}

size_t cg_erasure_rows(const struct cg_config *cfg, const uint8_t key[CG_KEY_BYTES], const char *subject,
                       const struct cg_erasure_plan *p, int64_t now_ms, struct cg_outbox_row *rows,
                       struct cg_buf *payloads, size_t max)
{
	char at[CG_TIME_LEN + 1], cid[CG_CLIENT_ID_MAX];
	size_t k = 0;

	cg_time_format(now_ms, at);
	for (int i = 0; i < cfg->n_dest && k < max; i++) {
		const struct cg_destination *d = &cfg->dest[i];
		json_t *body;
		char *s;
		cg_dest_mask bit = (cg_dest_mask)1 << i;
		if (!(p->rows & bit) || !cg_erasure_possible(d))
			continue;
		cg_client_id_full(key, d->name, subject, cid);
		body = cg_dest_kind(d->type)->erasure_notice(d, cid, at);
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
		if (!(p->certain & bit))
			snprintf(rows[k].if_recipient_of, sizeof rows[k].if_recipient_of, "%s", subject);
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
