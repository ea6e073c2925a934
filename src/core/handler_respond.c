/* The handler's answers (handler.h, handler_internal.h): the response
 * buffer, the one table from an error answer to its status and code, JSON
 * and error bodies, Set-Cookie lines. Every route's file answers through
 * these; none of them needs the routes. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/handler.h"
#include "handler_internal.h"

void cg_response_init(struct cg_response *res)
{
	memset(res, 0, sizeof *res);
	res->route = CG_ROUTE_OTHER; /* until a route takes the request */
	cg_buf_init(&res->body, RESPONSE_MAX);
}

void cg_response_free(struct cg_response *res)
{
	if (!res)
		return;
	cg_buf_free(&res->body);
	for (size_t i = 0; i < res->plan.nrows; i++)
		cg_buf_free(&res->plan.payloads[i]);
	res->plan.nrows = 0;
}

int cg_response_needs_store(const struct cg_response *res)
{
	return res->plan.has_event || res->plan.nrows > 0;
}

void cg_response_store_failed(struct cg_response *res)
{
	res->n_cookies = 0; /* nothing was stored: no cookie claims otherwise */
	cg_response_error(res, CG_ANS_STORAGE,
	                  res->plan.fail_detail ? res->plan.fail_detail : "this could not be stored; try again");
}

/* The one table from an error answer to its status and code. */
static const struct {
	int status;
	const char *code;
} answers[CG_NANSWERS] = {
	[CG_ANS_BAD_BODY] = {400, "bad_body"},
	[CG_ANS_BAD_JSON] = {400, "bad_json"},
	[CG_ANS_BAD_FIELD] = {400, "bad_field"},
	[CG_ANS_BAD_COOKIE] = {400, "bad_cookie"},
	[CG_ANS_CROSS_SITE] = {403, "cross_site"},
	[CG_ANS_NOT_FOUND] = {404, "not_found"},
	[CG_ANS_NO_RECORD] = {404, "no_record"},
	[CG_ANS_METHOD] = {405, "method_not_allowed"},
	[CG_ANS_STALE_POLICY] = {409, "stale_policy"},
	[CG_ANS_STALE_BANNER] = {409, "stale_banner"},
	[CG_ANS_STALE_VENDORS] = {409, "stale_vendors"},
	[CG_ANS_TOO_LARGE] = {413, "too_large"},
	[CG_ANS_MEDIA_TYPE] = {415, "unsupported_media_type"},
	[CG_ANS_RATE_LIMITED] = {429, "rate_limited"},
	[CG_ANS_OUTBOX_FULL] = {503, "outbox_full"},
	[CG_ANS_STORAGE] = {503, "storage"},
	[CG_ANS_UNAVAILABLE] = {503, "unavailable"},
	[CG_ANS_BUSY] = {503, "busy"},
};

int cg_answer_status(int a)
{
	return a >= 0 && a < CG_NANSWERS ? answers[a].status : 500;
}

const char *cg_answer_code(int a)
{
	return a >= 0 && a < CG_NANSWERS ? answers[a].code : "internal";
}

const char *cg_status_line(int status)
{
	switch (status) {
	case 200: return "200 OK";
	case 204: return "204 No Content";
	case 304: return "304 Not Modified";
	case 400: return "400 Bad Request";
	case 403: return "403 Forbidden";
	case 404: return "404 Not Found";
	case 405: return "405 Method Not Allowed";
	case 409: return "409 Conflict";
	case 413: return "413 Content Too Large";
	case 415: return "415 Unsupported Media Type";
	case 429: return "429 Too Many Requests";
	case 503: return "503 Service Unavailable";
	default: return "500 Internal Server Error";
	}
}

/* ---- response helpers ---------------------------------------------------- */

void cgh_respond_json(struct ctx *c, int status, json_t *obj)
{
	struct cg_response *res = c->res;
	char *s;

	res->status = status;
	res->content_type = "application/json";
	res->no_store = 1;
	cg_buf_reset(&res->body);
	s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	if (!s || cg_buf_adds(&res->body, s)) {
		res->status = 500;
		cg_buf_reset(&res->body);
		/* a cap under even this: the status says it alone, with no body
		 * that claims to be JSON */
		if (cg_buf_adds(&res->body, "{\"error\":\"internal\",\"detail\":\"could not build the answer\"}"))
			res->content_type = NULL;
	}
	free(s);
	json_decref(obj);
}

/* An error answer: {"error": code, "detail": ..., "field": ...} plus what
 * an extra object holds (taken); status and code from the table. */
static void respond_answer(struct ctx *c, int answer, const char *detail, const char *field, json_t *extra)
{
	json_t *o = json_pack("{s:s, s:s}", "error", cg_answer_code(answer), "detail", detail);

	if (o && field && *field)
		json_object_set_new(o, "field", json_string(field));
	if (o && extra)
		json_object_update(o, extra);
	json_decref(extra);
	cgh_respond_json(c, cg_answer_status(answer), o);
	if (cg_answer_status(answer) == 503)
		c->res->retry_after = answer == CG_ANS_BUSY ? 1 : 5;
}

void cgh_respond_answer(struct ctx *c, int answer, const char *detail, json_t *extra)
{
	respond_answer(c, answer, detail, NULL, extra);
}

void cgh_respond_error(struct ctx *c, int answer, const char *detail, const char *field)
{
	respond_answer(c, answer, detail, field, NULL);
}

void cg_response_error(struct cg_response *res, int answer, const char *detail)
{
	struct ctx c = {.res = res};

	respond_answer(&c, answer, detail, NULL, NULL);
}

void cgh_respond_store_down(struct ctx *c)
{
	cgh_respond_error(c, CG_ANS_STORAGE, "the consent store is unavailable; try again", NULL);
}

void cgh_add_cookie(struct ctx *c, const char *fmt, ...)
{
	struct cg_response *res = c->res;
	va_list ap;

	if (res->n_cookies >= CG_MAX_SET_COOKIES)
		return;
	va_start(ap, fmt);
	vsnprintf(res->set_cookie[res->n_cookies++], sizeof res->set_cookie[0], fmt, ap);
	va_end(ap);
}
