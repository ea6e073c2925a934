#include <jansson.h>
#include <stdlib.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "consentgate/collect.h"
#include "consentgate/consent.h"
#include "consentgate/decision.h"
#include "consentgate/export.h"
#include "consentgate/shown.h"
#include "consentgate/cookie.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "consentgate/id.h"
#include "handler_internal.h"

/* ---- pure helpers over the state ------------------------------------------ */

static int put_str_or_null(struct cg_buf *b, const char *s)
{
	return s ? cg_buf_json_str(b, s, strlen(s)) : cg_buf_adds(b, "null");
}

/* The visitor's state, the answer of GET /consent and of every change:
 * written as text (the hottest answer; a jansson tree and json_dumps cost
 * a tenth of the daemon's CPU per consent). test_state_answer_bytes pins
 * the bytes: jansson's compact output of the same object. */
static void respond_state(struct ctx *c, const struct cg_state *st, int id_present)
{
	const struct cg_config *cfg = c->cfg;
	struct cg_buf *b = &c->res->body;
	char recorded[CG_TIME_LEN + 1], expires[CG_TIME_LEN + 1];
	int bad, first = 1;

	if (st->present) {
		cg_time_format(st->recorded_at_ms, recorded);
		cg_time_format(cg_state_expires_ms(cfg, st), expires);
	}
	cg_buf_reset(b);
	bad = cg_buf_adds(b, id_present ? "{\"consent_id_present\":true" : "{\"consent_id_present\":false") ||
	      cg_buf_adds(b, ",\"choices\":{\"necessary\":true");
	for (int p = 0; p < CG_NPURPOSES; p++)
		bad |= cg_buf_json_key(b, 0, cg_purpose_name(p)) ||
		       cg_buf_adds(b, st->present ? cg_tri_json(st->choice[p]) : "false");
	bad |= cg_buf_adds(b, "},\"objections\":[");
	for (int p = 0; p < CG_NPURPOSES; p++)
		if (st->objections & (1u << p)) {
			bad |= (!first && cg_buf_adds(b, ",")) || put_str_or_null(b, cg_purpose_name(p));
			first = 0;
		}
	bad |= cg_buf_adds(b, "],\"policy_version\":") ||
	       put_str_or_null(b, st->present && st->policy_version[0] ? st->policy_version : NULL) ||
	       cg_buf_adds(b, ",\"current_policy_version\":") || put_str_or_null(b, cfg->policy_version) ||
	       cg_buf_adds(b, ",\"recorded_at\":") || put_str_or_null(b, st->present ? recorded : NULL) ||
	       cg_buf_adds(b, ",\"expires_at\":") || put_str_or_null(b, st->present ? expires : NULL) ||
	       /* the banner cannot read the page's headers: whether a grant needs a reload */
	       (cfg->csp_mode && (cg_buf_adds(b, ",\"csp\":") || put_str_or_null(b, cg_csp_mode_name(cfg->csp_mode)))) ||
	       cg_buf_adds(b, cg_choice_current(cfg, st, c->req->now_ms) ? ",\"needs_choice\":false}"
	                                                                  : ",\"needs_choice\":true}");
	if (bad) {
		cgh_respond_json(c, 500, NULL);
		return;
	}
	c->res->status = 200;
	c->res->content_type = "application/json";
	c->res->no_store = 1;
}

/* ---- request facts -------------------------------------------------------- */

/* Cross-site check (docs/api.md#routes): the algorithm of Go's CrossOriginProtection. */
static int cross_site_ok(const struct cg_config *cfg, const struct cg_request *req)
{
	const char *s = req->sec_fetch_site;

	if (s && *s)
		return strcmp(s, "same-origin") == 0 || strcmp(s, "none") == 0;
	if (!req->origin || !*req->origin)
		return 1;
	for (int i = 0; i < cfg->n_origins; i++)
		if (strcmp(req->origin, cfg->allowed_origins[i]) == 0)
			return 1;
	return 0;
}

static int media_type_is(const char *ct, const char *want)
{
	size_t n;

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; \t");
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

/* the kind of CSP report a body is (cspreport.h), by its media type; -1: another */
int cgh_report_kind(struct ctx *c)
{
	const char *ct = c->req->content_type;

	if (media_type_is(ct, "application/csp-report") || media_type_is(ct, "application/json"))
		return CG_REPORT_URI;
	return media_type_is(ct, "application/reports+json") ? CG_REPORT_TO : -1;
}

int cgh_header_is_one(const char *h)
{
	return h && h[0] == '1' && h[1] == '\0';
}


/* Reads the consent ID cookie. A malformed value counts as none (a fresh ID
 * is issued on the next state change); two cookies of that name are refused,
 * since we cannot know which one the visitor's choice belongs to. */
int cgh_read_id(struct ctx *c, char id[CG_ID_LEN + 1])
{
	const char *v;
	size_t n;
	int rc;

	id[0] = '\0';
	if (c->req->cookie_dup)
		return ID_DUPLICATE;
	rc = cg_cookie_find(c->req->cookie, cg_config_id_cookie(c->cfg), &v, &n);
	if (rc == CG_ERR_DUPLICATE)
		return ID_DUPLICATE;
	if (rc != CG_OK || !cg_id_valid(v, n))
		return ID_NONE;
	memcpy(id, v, n);
	id[n] = '\0';
	return ID_VALID;
}

static int new_id(struct ctx *c, char id[CG_ID_LEN + 1])
{
	uint8_t raw[CG_ID_RANDOM_BYTES];

	if (c->ops->random(c->ops->ctx, raw, sizeof raw))
		return CG_ERR_IO;
	cg_id_make(raw, c->req->now_ms, id);
	sodium_memzero(raw, sizeof raw);
	return CG_OK;
}

/* Fills the personal evidence of an event: truncated IP, country, signals.
 * The full address lives only in this stack frame. */
static int fill_evidence(struct ctx *c, struct cg_event *ev)
{
	const struct cg_request *req = c->req;
	struct cg_ip ip;
	uint8_t salt[CG_SALT_LEN / 2];

	if (c->ops->random(c->ops->ctx, salt, sizeof salt))
		return CG_ERR_IO;
	sodium_bin2hex(ev->salt, sizeof ev->salt, salt, sizeof salt);
	ev->gpc = cgh_header_is_one(req->sec_gpc);
	ev->dnt = cgh_header_is_one(req->dnt);
	if (cg_ip_parse(req->remote_addr, &ip) == CG_OK) {
		cg_ip_prefix(&ip, (unsigned)c->cfg->ipv4_prefix, (unsigned)c->cfg->ipv6_prefix,
		             ev->ip_prefix);
		if (c->ops->country(c->ops->ctx, &ip, ev->country) != CG_OK)
			ev->country[0] = '\0';
		sodium_memzero(&ip, sizeof ip);
	}
	return CG_OK;
}

/* ---- routes ------------------------------------------------------------- */

void cgh_plan_event(struct ctx *c, const struct cg_event *ev, const char *fail_detail)
{
	c->res->plan.has_event = 1;
	c->res->plan.event = *ev;
	c->res->plan.fail_detail = fail_detail;
}

/* The event to store, and the answer once it is: the state and cookies. */
static void plan_and_answer(struct ctx *c, struct cg_event *ev, const char *id)
{
	const struct cg_config *cfg = c->cfg;
	struct cg_state st;
	int64_t max_age;
	const char *secure = cfg->cookie_secure ? "; Secure" : "";

	if (fill_evidence(c, ev)) {
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "no randomness available", NULL);
		return;
	}
	cgh_plan_event(c, ev, "the choice could not be stored; try again");
	cg_state_from_event(ev, &st);
	max_age = (cg_state_expires_ms(cfg, &st) - c->req->now_ms) / 1000;
	if (max_age < 0)
		max_age = 0;
	cgh_add_cookie(c, "%s=%s; Max-Age=%lld; Path=/; HttpOnly; SameSite=Lax%s",
	           cg_config_id_cookie(cfg), id, (long long)max_age, secure);
	if (st.choice_at_ms)
		cgh_add_cookie(c, "cg_state=v=%s&p=%d&s=%d&m=%d&t=%lld; Max-Age=%lld; Path=/; SameSite=Lax%s",
		           st.policy_version, st.choice[CG_PREFERENCES] == 1,
		           st.choice[CG_STATISTICS] == 1, st.choice[CG_MARKETING] == 1,
		           (long long)(st.choice_at_ms / 1000), (long long)max_age, secure);
	respond_state(c, &st, 1);
}

/* Common start of every state-changing route: identity and previous state.
 * Returns 0 and has answered on failure. */
static int begin_change(struct ctx *c, char id[CG_ID_LEN + 1], struct cg_event *ev,
                        struct cg_state *prev)
{
	int ids = cgh_read_id(c, id);

	memset(prev, 0, sizeof *prev);
	cg_id_subject(id, ev->subject);
	if (ids == ID_VALID && c->ops->load_state(c->ops->ctx, ev->subject, prev) != CG_OK) {
		cgh_respond_store_down(c);
		return 0;
	}
	if (prev->action == CG_ACT_ERASE) { /* afresh, under a new ID: not the erased subject's */
		memset(prev, 0, sizeof *prev);
		ids = ID_NONE;
	}
	if (ids != ID_VALID && new_id(c, id)) {
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "no randomness available", NULL);
		return 0;
	}
	cg_id_subject(id, ev->subject);
	cg_time_format(c->req->now_ms, ev->recorded_at);
	ev->objection_purpose = -1;
	ev->gpc = ev->dnt = CG_TRI_NULL;
	return 1;
}

enum body_kind { BODY_NONE = 0, BODY_JSON, BODY_JSON_OR_TEXT, BODY_REPORT };

/* A route's body: within its limit, whole, of a media type it accepts. */
static int body_ok(struct ctx *c, int kind, size_t max)
{
	if (kind == BODY_NONE)
		return 1;
	if (c->req->body_too_large || c->req->body_len > max) {
		char d[64];
		snprintf(d, sizeof d, "the body is larger than %zu bytes", max);
		cgh_respond_error(c, CG_ANS_TOO_LARGE, d, NULL);
		return 0;
	}
	if (c->req->body_bad_length) {
		cgh_respond_error(c, CG_ANS_BAD_BODY, "Content-Length must be a plain decimal number", NULL);
		return 0;
	}
	if (c->req->body_incomplete) {
		cgh_respond_error(c, CG_ANS_BAD_BODY, "the body is shorter than its Content-Length", NULL);
		return 0;
	}
	if (kind == BODY_REPORT) /* CSP reports: the route reads which kind */
		return cgh_report_kind(c) >= 0 ||
		       (cgh_respond_error(c, CG_ANS_MEDIA_TYPE, "send application/csp-report or application/reports+json",
		                          NULL), 0);
	if (!media_type_is(c->req->content_type, "application/json") &&
	    !(kind == BODY_JSON_OR_TEXT && media_type_is(c->req->content_type, "text/plain"))) {
		cgh_respond_error(c, CG_ANS_MEDIA_TYPE,
		                  kind == BODY_JSON_OR_TEXT ? "send application/json or text/plain" : "send application/json",
		                  NULL);
		return 0;
	}
	return 1;
}

void cgh_bad_body(struct ctx *c, const struct cg_field_error *fe)
{
	if (!fe->field[0])
		cgh_respond_error(c, CG_ANS_BAD_JSON, fe->detail, NULL);
	else {
		char d[256];
		snprintf(d, sizeof d, "%s %s", fe->field, fe->detail);
		cgh_respond_error(c, CG_ANS_BAD_FIELD, d, fe->field);
	}
}

static void route_choice(struct ctx *c)
{
	char shown[CG_BANNER_MAX + 1];
	struct cg_choice_req body;
	struct cg_field_error fe;
	struct cg_event ev;
	struct cg_state prev;
	char id[CG_ID_LEN + 1];

	if (cg_consent_parse_choice(c->req->body, c->req->body_len, &body, &fe)) {
		cgh_bad_body(c, &fe);
		return;
	}
	if (strcmp(body.policy_version, c->cfg->policy_version) != 0) {
		cgh_respond_answer(c, CG_ANS_STALE_POLICY, "the banner shows another policy version; reload it",
		                   json_pack("{s:s}", "current", c->cfg->policy_version));
		return;
	}
	if (!cgh_shown(c, &body, shown))
		return;
	memset(&ev, 0, sizeof ev);
	if (!begin_change(c, id, &ev, &prev))
		return;
	ev.action = CG_ACT_CHOICE;
	strcpy(ev.policy_version, body.policy_version);
	memcpy(ev.choice, body.choice, sizeof ev.choice);
	/* granting a purpose lifts an earlier objection to it; refusing keeps it */
	ev.objections = prev.objections;
	for (int p = 0; p < CG_NPURPOSES; p++)
		if (body.choice[p])
			ev.objections &= ~(1u << p);
	strcpy(ev.choice_at, ev.recorded_at);
	strcpy(ev.lang, body.lang);
	strcpy(ev.banner, shown);
	/* a page elsewhere than on the site's own hosts is no evidence of this site */
	if (cg_page_own(body.page, c->cfg, c->req->host))
		strcpy(ev.page, body.page);
	plan_and_answer(c, &ev, id);
}

static void route_withdraw(struct ctx *c)
{
	struct cg_event ev;
	struct cg_state prev;
	char id[CG_ID_LEN + 1];

	memset(&ev, 0, sizeof ev);
	if (!begin_change(c, id, &ev, &prev))
		return;
	ev.action = CG_ACT_WITHDRAW;
	strcpy(ev.policy_version, c->cfg->policy_version);
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev.choice[p] = 0;
	ev.objections = prev.objections;
	/* a withdrawal is a choice (to refuse): the banner need not ask again */
	strcpy(ev.choice_at, ev.recorded_at);
	plan_and_answer(c, &ev, id);
	if (c->res->status == 200)
		cgh_expire_vendor_cookies(c);
}

static void route_objection(struct ctx *c)
{
	struct cg_field_error fe;
	struct cg_event ev;
	struct cg_state prev;
	char id[CG_ID_LEN + 1];
	int purpose;

	if (cg_consent_parse_objection(c->req->body, c->req->body_len, &purpose, &fe)) {
		cgh_bad_body(c, &fe);
		return;
	}
	memset(&ev, 0, sizeof ev);
	if (!begin_change(c, id, &ev, &prev))
		return;
	ev.action = CG_ACT_OBJECTION;
	ev.objection_purpose = purpose;
	ev.objections = prev.objections | (1u << purpose);
	if (prev.present) {
		strcpy(ev.policy_version, prev.policy_version);
		memcpy(ev.choice, prev.choice, sizeof ev.choice);
		if (prev.choice_at_ms)
			cg_time_format(prev.choice_at_ms, ev.choice_at);
	} else {
		for (int p = 0; p < CG_NPURPOSES; p++)
			ev.choice[p] = CG_TRI_NULL;
	}
	/* objecting to a purpose also ends any consent to it */
	if (ev.choice[purpose] == 1)
		ev.choice[purpose] = 0;
	plan_and_answer(c, &ev, id);
}

static void route_state(struct ctx *c)
{
	struct cg_state st;
	char id[CG_ID_LEN + 1], subject[CG_SUBJECT_LEN + 1];
	int ids = cgh_read_id(c, id);

	memset(&st, 0, sizeof st);
	if (ids == ID_VALID) {
		cg_id_subject(id, subject);
		if (c->ops->load_state(c->ops->ctx, subject, &st) != CG_OK) {
			cgh_respond_store_down(c);
			return;
		}
		if (st.action == CG_ACT_ERASE) { /* an erased ID is as none (begin_change) */
			memset(&st, 0, sizeof st);
			ids = ID_NONE;
		}
	}
	respond_state(c, &st, ids == ID_VALID);
}

static void route_healthz(struct ctx *c)
{
	cgh_respond_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static void route_metrics(struct ctx *c)
{
	struct cg_response *res = c->res;

	cg_buf_reset(&res->body);
	if (!c->ops->metrics || c->ops->metrics(c->ops->ctx, &res->body) != CG_OK) {
		cgh_respond_error(c, CG_ANS_UNAVAILABLE, "metrics are not available", NULL);
		return;
	}
	res->status = 200;
	res->content_type = "text/plain; version=0.0.4";
	res->no_store = 1;
}

/* Builds the payloads of events[from, to) for one destination, halving the
 * range while a payload is over the destination's size limit. */
/* ---- routing table ------------------------------------------------------- */

/* Every route and what it accepts, checked once by prepare() before the
 * route runs (after OpenBSD bgplgd's cmds[] and prep_request): the routes
 * never re-check. */
struct route {
	const char *name;    /* for metrics */
	const char *suffix;  /* after base_path; an absolute path when it starts with '!' */
	const char *method;
	int changes_state;   /* the cross-site check */
	int body;            /* enum body_kind */
	size_t body_max;
	int cookie;          /* reads the consent cookie: a repeated one is a 400 */
	void (*fn)(struct ctx *);
};

static const struct route routes[] = {
	{"state", "", "GET", 0, BODY_NONE, 0, 1, route_state},
	{"choice", "", "POST", 1, BODY_JSON, CG_BODY_MAX, 1, route_choice},
	{"withdraw", "", "DELETE", 1, BODY_NONE, 0, 1, route_withdraw},
	{"objection", "/objection", "POST", 1, BODY_JSON, CG_BODY_MAX, 1, route_objection},
	{"healthz", "/healthz", "GET", 0, BODY_NONE, 0, 0, route_healthz},
	{"metrics", "/metrics", "GET", 0, BODY_NONE, 0, 0, route_metrics},
	{"report", "/report", "GET", 0, BODY_NONE, 0, 0, cgh_route_report},
	/* the nginx gate: a repeated cookie denies like a missing one */
	{"check", "/check", "GET", 0, BODY_NONE, 0, 0, cgh_route_check},
	{"csp", "/csp", "GET", 0, BODY_NONE, 0, 0, cgh_route_csp},
	{"export", "/export", "GET", 0, BODY_NONE, 0, 1, cgh_route_export},
	{"erase", "/erase", "POST", 1, BODY_NONE, 0, 1, cgh_route_erase},
	{"keys", "/keys", "GET", 0, BODY_NONE, 0, 0, cgh_route_keys},
	{"vendors", "/vendors", "GET", 0, BODY_NONE, 0, 0, cgh_route_vendors},
	{"chain-head", "/chain-head", "GET", 0, BODY_NONE, 0, 0, cgh_route_chain_head},
	{"csp-report", "/csp-report", "POST", 0, BODY_REPORT, CG_LEAK_BODY_MAX, 0, cgh_route_csp_report},
	{"collect", "!/collect", "POST", 1, BODY_JSON_OR_TEXT, CG_COLLECT_BODY_MAX, 1, cgh_route_collect},
};
#define NROUTES (sizeof routes / sizeof routes[0])
_Static_assert(NROUTES == CG_ROUTE_OTHER, "CG_NROUTES: the routes table's rows and \"other\"");

const char *cg_route_name(int i)
{
	return i >= 0 && i < (int)NROUTES ? routes[i].name : "other";
}

static int route_matches(const struct cg_config *cfg, const struct route *r, const char *path)
{
	size_t blen = strlen(cfg->base_path);

	if (r->suffix[0] == '!')
		return strcmp(r->suffix + 1, path) == 0;
	return strncmp(path, cfg->base_path, blen) == 0 && strcmp(r->suffix, path + blen) == 0;
}

/* The route for the path and method, or NULL with the 404 or 405 answered. */
static const struct route *find_route(struct ctx *c, const char *path, const char *method)
{
	char allow[sizeof c->res->allow] = "";
	int path_known = 0;

	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(allow);
		if (!route_matches(c->cfg, r, path))
			continue;
		path_known = 1;
		if (strcmp(r->method, method) == 0)
			return r;
		snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "",
		         strcmp(r->method, "GET") == 0 ? "GET, HEAD" : r->method);
	}
	if (!path_known) {
		cgh_respond_error(c, CG_ANS_NOT_FOUND, "no such resource", NULL);
		return NULL;
	}
	cgh_respond_error(c, CG_ANS_METHOD, "this method is not allowed here", NULL);
	snprintf(c->res->allow, sizeof c->res->allow, "%s", allow);
	return NULL;
}

/* What the route's row says it accepts; 0 with the answer given. */
static int prepare(struct ctx *c, const struct route *r)
{
	char id[CG_ID_LEN + 1];

	if (r->changes_state && !cross_site_ok(c->cfg, c->req)) {
		cgh_respond_error(c, CG_ANS_CROSS_SITE, "cross-site requests are refused", NULL);
		return 0;
	}
	if (!body_ok(c, r->body, r->body_max))
		return 0;
	if (r->cookie && cgh_read_id(c, id) == ID_DUPLICATE) {
		cgh_respond_error(c, CG_ANS_BAD_COOKIE, "the consent cookie was sent more than once", NULL);
		return 0;
	}
	return 1;
}

void cg_handle(const struct cg_config *cfg, const struct cg_ops *ops,
               const struct cg_request *req, struct cg_response *res)
{
	struct ctx c = {cfg, ops, req, res};
	const char *method = req->method ? req->method : "";
	const struct route *r;

	res->route = CG_ROUTE_OTHER;
	if (strcmp(method, "HEAD") == 0)
		method = "GET"; /* the shell drops the body */
	r = find_route(&c, req->path ? req->path : "", method);
	if (!r)
		return;
	res->route = (int)(r - routes);
	if (prepare(&c, r))
		r->fn(&c);
}
