/* POST /collect and GET /consent/check: the gatekeeper's routes. */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "consentgate/collect.h"
#include "consentgate/consent.h"
#include "consentgate/decision.h"
#include "consentgate/export.h"
#include "consentgate/cookie.h"
#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/id.h"
#include "handler_internal.h"

static int build_payloads(struct cg_payload_in *in, json_t *events, size_t from, size_t to,
                          struct cg_buf *bufs, size_t *nbufs, size_t maxbufs)
{
	json_t *slice = json_array();
	int rc;

	for (size_t i = from; i < to; i++)
		json_array_append(slice, json_array_get(events, i));
	if (*nbufs == maxbufs) {
		json_decref(slice);
		return CG_ERR_TOO_LONG;
	}
	cg_buf_init(&bufs[*nbufs], CG_PAYLOAD_MAX);
	rc = cg_payload_build(in, slice, &bufs[*nbufs]);
	json_decref(slice);
	if (rc == CG_OK) {
		(*nbufs)++;
		return CG_OK;
	}
	cg_buf_free(&bufs[*nbufs]);
	if (rc != CG_ERR_TOO_LONG || to - from < 2)
		return rc;
	rc = build_payloads(in, events, from, from + (to - from) / 2, bufs, nbufs, maxbufs);
	return rc ? rc : build_payloads(in, events, from + (to - from) / 2, to, bufs, nbufs, maxbufs);
}

#define MAX_PAYLOADS CG_PLAN_ROWS

/* POST /collect: decide per destination, queue what is allowed, answer 204
 * once it is durable (docs/gatekeeper.md#events-post-collect,
 * docs/gatekeeper.md#the-decision). */
/* What /collect knows of the visitor and the request. */
struct visitor {
	struct cg_state st;
	char subject[CG_SUBJECT_LEN + 1];   /* "" without a valid consent cookie */
	char prefix[CG_IP_PREFIX_MAX];
	char country[3];
	int gpc;
};

/* The visitor's state, prefix and country; 0, or an answer was given. */
static int know_visitor(struct ctx *c, struct visitor *v)
{
	char id[CG_ID_LEN + 1];
	struct cg_ip ip;
	int ids = cgh_read_id(c, id);

	memset(v, 0, sizeof *v);
	v->gpc = cgh_header_is_one(c->req->sec_gpc);
	if (ids == ID_VALID) {
		cg_id_subject(id, v->subject);
		if (c->ops->load_state(c->ops->ctx, v->subject, &v->st) != CG_OK) {
			cgh_respond_store_down(c);
			return -1;
		}
	}
	if (cg_ip_parse(c->req->remote_addr, &ip) == CG_OK) {
		cg_ip_prefix(&ip, (unsigned)c->cfg->ipv4_prefix, (unsigned)c->cfg->ipv6_prefix, v->prefix);
		if (c->ops->country(c->ops->ctx, &ip, v->country) != CG_OK)
			v->country[0] = '\0';
		sodium_memzero(&ip, sizeof ip);
	}
	return 0;
}

/* Outbox rows for every destination the decision allows; CG_OK or
 * CG_ERR_TOO_LONG (the events do not fit a destination's limits). */
static int plan_rows(struct ctx *c, const struct visitor *v, json_t *events,
                     const uint8_t key[CG_KEY_BYTES], const uint8_t salt[CG_KEY_BYTES],
                     struct cg_outbox_row *rows, struct cg_buf *bufs, size_t *nbufs)
{
	const struct cg_config *cfg = c->cfg;
	char now[CG_TIME_LEN + 1];
	int rc = CG_OK;

	cg_time_format(c->req->now_ms, now);
	for (int i = 0; i < cfg->n_dest && rc == CG_OK; i++) {
		const struct cg_destination *d = &cfg->dest[i];
		struct cg_payload_in in;
		char cid[CG_CLIENT_ID_MAX];
		size_t first = *nbufs;
		int decision = cg_decide(cfg, d, &v->st, v->gpc, c->req->now_ms);

		if (c->ops->decided)
			c->ops->decided(c->ops->ctx, i, decision);
		if (decision == CG_DROP)
			continue;
		if (decision == CG_FORWARD_FULL)
			cg_client_id_full(key, d->name, v->subject, cid);
		else
			cg_client_id_minimised(salt, d->name, cfg->site, v->prefix, cid);
		memset(&in, 0, sizeof in);
		in.cfg = cfg;
		in.dest = d;
		in.mode = decision;
		in.client_id = cid;
		in.country = v->country;
		memcpy(in.choice, v->st.choice, sizeof in.choice);
		if (!v->st.present)
			in.choice[0] = in.choice[1] = in.choice[2] = CG_TRI_NULL;
		in.timestamp_micros = c->req->now_ms * 1000;
		rc = build_payloads(&in, events, 0, json_array_size(events), bufs, nbufs, MAX_PAYLOADS);
		for (size_t k = first; rc == CG_OK && k < *nbufs; k++) {
			memset(&rows[k], 0, sizeof rows[k]);
			strcpy(rows[k].subject, v->subject);
			rows[k].destination = d->name;
			rows[k].purpose = d->purpose;
			rows[k].mode = decision;
			rows[k].payload = bufs[k].p;
			strcpy(rows[k].created_at, now);
		}
	}
	return rc;
}

/* The [limits] bounds; 0, or the 429/503 was answered. */
static int admitted(struct ctx *c, const struct visitor *v, const struct cg_buf *bufs, size_t nbufs)
{
	size_t bytes = 0;
	int retry = 1, why;

	if (!c->ops->admit)
		return 0;
	for (size_t k = 0; k < nbufs; k++)
		bytes += bufs[k].len;
	why = c->ops->admit(c->ops->ctx, v->subject, v->prefix, bytes, nbufs, c->req->now_ms, &retry);
	if (why == CG_ADMIT_VISITOR || why == CG_ADMIT_PREFIX)
		cgh_respond_error(c, CG_ANS_RATE_LIMITED,
		                  why == CG_ADMIT_VISITOR
		                          ? "this visitor has sent more events this hour than the site accepts"
		                          : "this network has sent more events this hour than the site accepts",
		                  NULL);
	else if (why == CG_ADMIT_OUTBOX)
		cgh_respond_error(c, CG_ANS_OUTBOX_FULL, "too many events are waiting for delivery; try again later", NULL);
	else
		return 0;
	c->res->retry_after = retry;
	return -1;
}

void cgh_route_collect(struct ctx *c)
{
	struct cg_plan *plan = &c->res->plan;
	struct cg_field_error fe;
	struct visitor v;
	uint8_t key[CG_KEY_BYTES], salt[CG_KEY_BYTES];
	json_t *events = NULL;
	int rc;

	if (cg_collect_parse(c->req->body, c->req->body_len, &events, &fe)) {
		cgh_bad_body(c, &fe);
		return;
	}
	if (know_visitor(c, &v) != 0)
		goto out;
	if (c->cfg->n_dest && (!c->ops->keys || c->ops->keys(c->ops->ctx, c->req->now_ms, key, salt))) {
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "keys are not available", NULL);
		goto out;
	}
	/* the rows go into the plan: the answer waits until they are durable */
	rc = plan_rows(c, &v, events, key, salt, plan->rows, plan->payloads, &plan->nrows);
	sodium_memzero(key, sizeof key);
	sodium_memzero(salt, sizeof salt);
	if (rc != CG_OK) {
		cgh_respond_error(c, CG_ANS_BAD_FIELD, "the events cannot be encoded within the destination's limits", "events");
		goto out;
	}
	if (plan->nrows && admitted(c, &v, plan->payloads, plan->nrows) != 0)
		goto out;
	plan->fail_detail = "the events could not be queued; try again";
	c->res->status = 204;
	c->res->no_store = 1;
	cg_buf_reset(&c->res->body);
	json_decref(events);
	return;
out:
	for (size_t k = 0; k < plan->nrows; k++)
		cg_buf_free(&plan->payloads[k]);
	plan->nrows = 0; /* an error answer stores nothing */
	json_decref(events);
}

/* "purpose=statistics" (other parameters are ignored) */
static int query_purpose(const char *q)
{
	char tmp[128];
	char *save = NULL, *tok;

	if (!q || strlen(q) >= sizeof tmp)
		return -1;
	strcpy(tmp, q);
	for (tok = strtok_r(tmp, "&", &save); tok; tok = strtok_r(NULL, "&", &save))
		if (strncmp(tok, "purpose=", 8) == 0)
			return cg_purpose_parse(tok + 8);
	return -1;
}

/* GET /consent/check?purpose=P: the nginx auth_request target. Loading a
 * tool that stores data on the device needs consent whatever the GDPR basis
 * (ePrivacy Art. 5(3), ekomloven § 3-15), so only a valid consent allows.
 * Anything wrong with the visitor's cookie or the store denies: never 5xx. */
void cgh_route_check(struct ctx *c)
{
	struct cg_state st;
	char id[CG_ID_LEN + 1], subject[CG_SUBJECT_LEN + 1];
	int p = query_purpose(c->req->query);

	memset(&st, 0, sizeof st);
	if (p < 0) {
		cgh_respond_error(c, CG_ANS_BAD_FIELD, "purpose must be preferences, statistics or marketing",
		              "purpose");
		return;
	}
	if (cgh_read_id(c, id) == ID_VALID) {
		cg_id_subject(id, subject);
		if (c->ops->load_state(c->ops->ctx, subject, &st) != CG_OK)
			memset(&st, 0, sizeof st);
	}
	cg_buf_reset(&c->res->body);
	c->res->no_store = 1;
	c->res->status = cg_consent_valid(c->cfg, &st, p, c->req->now_ms) ? 204 : 403;
}

/* GET /consent/export: the register copy and receipt. One uniform 404 for
 * every case without a record, so the answer tells nothing else. */
