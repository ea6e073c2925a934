#include <stdio.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/dest.h"
#include "consentgate/export.h"
#include "consentgate/transfer.h"

void cg_state_from_event(const struct cg_event *ev, struct cg_state *st)
{
	memset(st, 0, sizeof *st);
	st->present = 1;
	st->action = ev->action;
	snprintf(st->policy_version, sizeof st->policy_version, "%s", ev->policy_version);
	memcpy(st->choice, ev->choice, sizeof st->choice);
	st->objections = ev->objections;
	cg_time_parse(ev->recorded_at, &st->recorded_at_ms);
	if (ev->choice_at[0])
		cg_time_parse(ev->choice_at, &st->choice_at_ms);
}

void cg_event_tombstone(const char *subject, int64_t now_ms, struct cg_event *ev)
{
	memset(ev, 0, sizeof *ev);
	snprintf(ev->subject, sizeof ev->subject, "%s", subject);
	cg_time_format(now_ms, ev->recorded_at);
	ev->action = CG_ACT_ERASE;
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = CG_TRI_NULL;
	ev->objection_purpose = -1;
	ev->gpc = ev->dnt = CG_TRI_NULL;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *tri(int v)
{
	return v == CG_TRI_NULL ? json_null() : json_boolean(v);
}

static json_t *event_json(const struct cg_event *ev)
{
	json_t *o = json_object(), *ch = json_object();

	for (int p = 0; p < CG_NPURPOSES; p++)
		json_object_set_new(ch, cg_purpose_name(p), tri(ev->choice[p]));
	json_object_set_new(o, "id", json_integer(ev->id));
	json_object_set_new(o, "recorded_at", json_string(ev->recorded_at));
	json_object_set_new(o, "action", json_string(cg_action_name(ev->action)));
	json_object_set_new(o, "policy_version", str_or_null(ev->policy_version));
	json_object_set_new(o, "choices", ch);
	json_object_set_new(o, "objection_purpose",
	                    ev->objection_purpose >= 0 ? json_string(cg_purpose_name(ev->objection_purpose))
	                                               : json_null());
	json_object_set_new(o, "gpc", tri(ev->gpc));
	json_object_set_new(o, "dnt", tri(ev->dnt));
	json_object_set_new(o, "lang", str_or_null(ev->lang));
	json_object_set_new(o, "banner", str_or_null(ev->banner));
	json_object_set_new(o, "page", str_or_null(ev->page));
	json_object_set_new(o, "ip_prefix", str_or_null(ev->ip_prefix));
	json_object_set_new(o, "country", str_or_null(ev->country));
	json_object_set_new(o, "redacted", json_boolean(!ev->salt[0]));
	json_object_set_new(o, "hash", json_string(ev->hash));
	return o;
}

/* given / refused / withdrawn / objected / expired / stale / none, per purpose */
static const char *purpose_state(const struct cg_config *cfg, const struct cg_state *st, int p,
                                 int64_t now)
{
	if (!st->present || st->action == CG_ACT_ERASE)
		return "none";
	if (st->objections & (1u << p))
		return "objected";
	if (cg_consent_valid(cfg, st, p, now))
		return "given";
	if (st->action == CG_ACT_WITHDRAW)
		return "withdrawn";
	if (st->choice[p] == CG_TRI_NULL || !st->choice_at_ms)
		return "none";
	if (strcmp(st->policy_version, cfg->policy_version) != 0)
		return "stale";
	if (st->choice[p] == 1)
		return "expired";
	return "refused";
}

/* Who receives the data of a purpose, where it goes, and on what basis it
 * leaves the EU/EEA (Art. 13(1)(e)-(f)): per destination; one that declares
 * nothing says so rather than being left out. */
static json_t *recipients(const struct cg_config *cfg, int p)
{
	json_t *a = json_array();

	for (int i = 0; i < cfg->n_dest; i++) {
		const struct cg_destination *d = &cfg->dest[i];
		const char *basis = cg_transfer_name(d->transfer);
		json_t *o;
		if (d->purpose != p)
			continue;
		o = json_pack("{s:s, s:s, s:s}", "name", d->name,
			"type", cg_dest_kind(d->type)->label,
			"lawful_basis", d->basis == CG_BASIS_CONSENT ? "consent (GDPR Art. 6(1)(a))"
			                                             : "legitimate interest (GDPR Art. 6(1)(f))");
		json_object_set_new(o, "recipient", json_string(d->recipient[0] ? d->recipient : "not declared"));
		json_object_set_new(o, "country", json_string(d->country[0] ? d->country : "not declared"));
		if (!d->country[0])
			json_object_set_new(o, "transfer", json_string("not declared"));
		else if (cg_country_adequate(d->country))
			json_object_set_new(o, "transfer", json_string("none: the EU/EEA or an adequate country"));
		else
			json_object_set_new(o, "transfer", json_pack("{s:s, s:s, s:s}", "basis", basis, "text",
				cg_transfer_text(d->transfer), "copy", "ask the controller for a copy of the legal basis "
				"of the transfer (GDPR Art. 13(1)(f))"));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *cg_export_recipients(const struct cg_config *cfg)
{
	json_t *o = json_object();

	for (int p = 0; p < CG_NPURPOSES; p++)
		json_object_set_new(o, cg_purpose_name(p), recipients(cfg, p));
	return o;
}

static const char *const purpose_text[CG_NPURPOSES] = {
	"Remember the visitor's settings, such as language",
	"Measure how the site is used (analytics)",
	"Advertising and marketing measurement",
};

static json_t *retention(const struct cg_config *cfg)
{
	char b[5][96];

	snprintf(b[0], sizeof b[0], "P%dD", cfg->consent_max_age_days);
	snprintf(b[1], sizeof b[1], "P%dD", cfg->refusal_max_age_days);
	snprintf(b[2], sizeof b[2], "P%dD", cfg->ip_prefix_days);
	snprintf(b[3], sizeof b[3], "P%dD after the consent ended", cfg->events_days_after_end);
	snprintf(b[4], sizeof b[4], "P%dD after delivery; never sent after 72 h", cfg->outbox_delivered_days);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "consent_validity", b[0], "refusal_validity", b[1],
	                 "ip_prefix", b[2], "consent_records", b[3], "analytics_events", b[4]);
}

static const char withdrawal_method[] =
	"The 'Cookie settings' link on every page (ConsentGate.open()), or DELETE /consent; "
	"object with POST /consent/objection; erase with POST /consent/erase";

json_t *cg_receipt_build(const struct cg_export_in *in)
{
	const struct cg_config *cfg = in->cfg;
	const struct cg_event *last;
	struct cg_state st;
	json_t *r, *purposes, *services;
	char validity[16];
	int64_t ts_ms = 0;

	if (!in->n)
		return NULL;
	last = &in->events[in->n - 1];
	cg_state_from_event(last, &st);
	cg_time_parse(last->recorded_at, &ts_ms);
	purposes = json_array();
	for (int p = 0; p < CG_NPURPOSES; p++) {
		json_t *rec = recipients(cfg, p);
		int li = 0;
		for (int i = 0; i < cfg->n_dest; i++)
			li |= cfg->dest[i].purpose == p && cfg->dest[i].basis == CG_BASIS_LEGITIMATE_INTEREST;
		json_array_append_new(purposes, json_pack(
			"{s:s, s:s, s:[s], s:s, s:s, s:[s, s, s], s:s, s:b, s:o, s:s}",
			"purpose", purpose_text[p], "purposeId", cg_purpose_name(p),
			"purposeCategory", cg_purpose_name(p),
			"consentType", "EXPLICIT",
			"lawfulBasis", li ? "consent; legitimate interest (minimised) where no choice was made"
			                  : "consent",
			"piiCategory", "pseudonymous online identifier", "truncated IP address", "country",
			"state", purpose_state(cfg, &st, p, in->now_ms),
			"thirdPartyDisclosure", json_array_size(rec) > 0,
			"thirdPartyName", rec,
			"termination", withdrawal_method));
	}
	services = json_pack("{s:s, s:o}", "service", cfg->site, "purposes", purposes);
	snprintf(validity, sizeof validity, "P%dD", cfg->consent_max_age_days);
	r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:s, s:[o]}",
		"version", "KI-CR-v1.1.0",
		"schemaVersion", "consentgate receipt 1 (ISO/IEC TS 27560 fields, Kantara Consent Receipt v1.1 names)",
		"jurisdiction", "EU/EEA (GDPR; ePrivacy as implemented nationally)",
		"consentReceiptID", last->hash,
		"consentTimestamp", (json_int_t)(ts_ms / 1000),
		"eventTime", last->recorded_at,
		"eventType", cg_action_name(last->action),
		"collectionMethod", "consentgate cookie banner on the website",
		"language", last->lang[0] ? last->lang : "und",
		"piiControllers", "piiController", cfg->controller_name, "contact", cfg->controller_contact,
		"policyUrl", cfg->policy_url,
		"piiPrincipalId", in->subject,
		"services", services);
	json_object_set_new(r, "recordId", json_integer(last->id));
	/* the row's link in the hash chain: a signed receipt is bound to it */
	json_object_set_new(r, "recordHash", json_string(last->hash));
	json_object_set_new(r, "noticeVersion", str_or_null(st.policy_version));
	json_object_set_new(r, "validityDuration", json_string(validity));
	json_object_set_new(r, "withdrawalMethod", json_string(withdrawal_method));
	json_object_set_new(r, "storageLocations", json_pack("[s]", "the controller's server (SQLite database)"));
	return r;
}

json_t *cg_export_build(const struct cg_export_in *in)
{
	const struct cg_config *cfg = in->cfg;
	struct cg_state st;
	json_t *o, *events, *purposes, *cur, *ch;
	char ts[CG_TIME_LEN + 1];

	if (!in->n)
		return NULL;
	cg_state_from_event(&in->events[in->n - 1], &st);
	events = json_array();
	for (size_t i = 0; i < in->n; i++)
		json_array_append_new(events, event_json(&in->events[i]));
	purposes = json_array();
	for (int p = 0; p < CG_NPURPOSES; p++)
		json_array_append_new(purposes, json_pack("{s:s, s:s, s:s, s:o}",
			"purpose", cg_purpose_name(p), "description", purpose_text[p],
			"state", purpose_state(cfg, &st, p, in->now_ms), "recipients", recipients(cfg, p)));
	ch = json_object();
	for (int p = 0; p < CG_NPURPOSES; p++)
		json_object_set_new(ch, cg_purpose_name(p), st.action == CG_ACT_ERASE ? json_null() : tri(st.choice[p]));
	cur = json_pack("{s:s, s:o, s:o}", "last_action", cg_action_name(st.action),
	                "policy_version", str_or_null(st.policy_version), "choices", ch);
	cg_time_format(in->now_ms, ts);
	o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:s, s:o}",
		"subject", in->subject,
		"generated_at", ts,
		"controller", "name", cfg->controller_name, "contact", cfg->controller_contact,
		"policy", "version", cfg->policy_version, "url", cfg->policy_url,
		"current_state", cur,
		"purposes", purposes,
		"retention", retention(cfg),
		"events", events,
		"what_we_keep", "A hash of the random ID in your consent cookie (never the ID itself), "
		                "your IP address truncated to a network prefix, your country, your choices "
		                "and the page and language of the banner. Analytics events leave only as "
		                "allowed per purpose, without any IP address.",
		"receipt", cg_receipt_build(in));
	/* the receipt, once signed, vouches for everything the export restates */
	if (o)
		json_object_set_new(json_object_get(o, "receipt"), "exportBinding", cg_receipt_binding(o));
	return o;
}
