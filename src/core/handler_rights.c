/* The visitor's rights (export, erase) and the operator's report. */
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
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/id.h"
#include "handler_internal.h"

void cgh_route_export(struct ctx *c)
{
	struct cg_export_in in;
	struct cg_event *evs = NULL;
	json_t *doc, *signed_receipt;
	char id[CG_ID_LEN + 1], subject[CG_SUBJECT_LEN + 1];
	size_t n = 0;
	int ids = cgh_read_id(c, id);

	if (ids == ID_VALID) {
		cg_id_subject(id, subject);
		if (c->ops->subject_events(c->ops->ctx, subject, &evs, &n) != CG_OK) {
			cgh_respond_store_down(c);
			return;
		}
	}
	if (!n) {
		free(evs);
		cgh_respond_error(c, CG_ANS_NO_RECORD, "there is no consent record for this browser", NULL);
		return;
	}
	in.cfg = c->cfg;
	in.subject = subject;
	in.events = evs;
	in.n = n;
	in.now_ms = c->req->now_ms;
	doc = cg_export_build(&in);
	signed_receipt = doc ? cgh_sign_receipt(c, json_object_get(doc, "receipt")) : NULL;
	if (signed_receipt)
		json_object_set_new(doc, "signed_receipt", signed_receipt);
	cgh_respond_json(c, 200, doc);
	free(evs);
}

/* Which recipients an erasure tells (erasure.h): what the store records,
 * and as many as the notices' bound has room for. CG_OK or a storage error. */
static int plan_notices(struct ctx *c, const char *subject, const struct cg_event *evs, size_t n,
                        struct cg_erasure_plan *ep)
{
	uint32_t recorded = 0;
	int64_t since = 0;

	if (c->ops->recipients && c->ops->recipients(c->ops->ctx, subject, &recorded, &since) != CG_OK)
		return CG_ERR_STORAGE;
	cg_erasure_plan_init(c->cfg, evs, n, recorded, since, ep);
	cg_erasure_plan_room(ep, c->ops->admit_notices ? c->ops->admit_notices(c->ops->ctx, ep->want, c->req->now_ms)
	                                               : ep->want);
	return CG_OK;
}

/* The answer: what was erased, and whom the erasure was passed on to —
 * the recipients told, and, past the notices' bound, how many could not be. */
static void answer_erased(struct ctx *c, int present, const struct cg_erasure_plan *ep)
{
	json_t *o = json_pack("{s:b, s:s, s:I}", "erased", present,
	                      "detail", present ? "your personal data was erased" : "there was nothing to erase",
	                      "recipients_notified", (json_int_t)ep->notified);

	if (o && ep->refused)
		json_object_set_new(o, "recipients_not_notified", json_integer((json_int_t)ep->refused));
	cgh_respond_json(c, 200, o);
}

/* POST /consent/erase: redacts every personal field of the visitor's rows,
 * drops their queued analytics, appends a non-personal tombstone (the chain
 * keeps verifying), queues an erasure notice for each recipient that holds
 * their data under a pseudonym (erasure.h), and clears both cookies. The
 * erasure itself is never refused for want of room: only notices are. */
void cgh_route_erase(struct ctx *c)
{
	struct cg_event ev, *evs = NULL;
	struct cg_plan *plan = &c->res->plan;
	struct cg_erasure_plan ep = {0};
	uint8_t key[CG_KEY_BYTES], salt[CG_KEY_BYTES];
	char id[CG_ID_LEN + 1], subject[CG_SUBJECT_LEN + 1];
	const char *secure = c->cfg->cookie_secure ? "; Secure" : "";
	size_t n = 0;
	int ids = cgh_read_id(c, id), present;

	if (ids == ID_VALID) {
		cg_id_subject(id, subject);
		if (c->ops->subject_events(c->ops->ctx, subject, &evs, &n) != CG_OK) {
			cgh_respond_store_down(c);
			return;
		}
	}
	present = n > 0 && evs[n - 1].action != CG_ACT_ERASE;
	if (present && (plan_notices(c, subject, evs, n, &ep) != CG_OK ||
	                c->ops->keys(c->ops->ctx, c->req->now_ms, key, salt) != CG_OK)) {
		free(evs);
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "the erasure cannot be passed on now; try again", NULL);
		return;
	}
	if (present) {
		cg_event_tombstone(subject, c->req->now_ms, &ev);
		cgh_plan_event(c, &ev, "the erasure could not be stored; try again");
		plan->nrows = cg_erasure_rows(c->cfg, key, subject, &ep, c->req->now_ms, plan->rows, plan->payloads,
		                              CG_PLAN_ROWS);
		sodium_memzero(key, sizeof key);
	}
	free(evs);
	cgh_add_cookie(c, "%s=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax%s", cg_config_id_cookie(c->cfg), secure);
	cgh_add_cookie(c, "cg_state=; Max-Age=0; Path=/; SameSite=Lax%s", secure);
	answer_erased(c, present, &ep);
}

/* Loopback-only (nginx): the last 31 days by day, suppressed like the CLI's. */
void cgh_route_report(struct ctx *c)
{
	struct cg_response *res = c->res;
	struct cg_report rep = {0};
	char since[CG_TIME_LEN + 1];

	cg_time_format(c->req->now_ms - 30 * CG_MS_PER_DAY, since);
	since[10] = '\0';
	if (!c->ops->report || c->ops->report(c->ops->ctx, CG_BY_DAY, since, &rep) != CG_OK) {
		cg_report_free(&rep);
		cgh_respond_store_down(c);
		return;
	}
	cg_report_suppress(&rep, c->cfg->report_min_visitors);
	cg_buf_reset(&res->body);
	if (cg_report_render(&rep, CG_FMT_JSON, NULL, &res->body) != CG_OK)
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "the report is too large", NULL);
	else {
		res->status = 200;
		res->content_type = "application/json";
		res->no_store = 1;
	}
	cg_report_free(&rep);
}

