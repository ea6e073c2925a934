#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/collect.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"

static int field_error(struct cg_field_error *fe, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int field_error(struct cg_field_error *fe, const char *detail, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe->field, sizeof fe->field, fmt, ap);
	va_end(ap);
	snprintf(fe->detail, sizeof fe->detail, "%s", detail);
	return CG_ERR_INVALID;
}

/* [A-Za-z][A-Za-z0-9_]{0,39}, and not a name GA4 reserves */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CG_COLLECT_NAME_MAX)
		return 0;
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return 0;
	return strncmp(s, "google_", 7) != 0 && strncmp(s, "ga_", 3) != 0 &&
	       strncmp(s, "firebase_", 9) != 0;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int check_event(json_t *ev, size_t i, struct cg_field_error *fe)
{
	const char *key;
	json_t *v, *name = NULL, *params = NULL;

	if (!json_is_object(ev))
		return field_error(fe, "must be an object", "events[%zu]", i);
	json_object_foreach(ev, key, v) {
		if (strcmp(key, "name") == 0)
			name = v;
		else if (strcmp(key, "params") == 0)
			params = v;
		else
			return field_error(fe, "unknown field", "events[%zu].%.20s", i, key);
	}
	if (!name)
		return field_error(fe, "is required", "events[%zu].name", i);
	if (!json_is_string(name) || !valid_name(json_string_value(name)))
		return field_error(fe, "must match [A-Za-z][A-Za-z0-9_]{0,39} and not start with google_, ga_ or firebase_",
		                   "events[%zu].name", i);
	if (!params)
		return CG_OK;
	if (!json_is_object(params))
		return field_error(fe, "must be an object", "events[%zu].params", i);
	if (json_object_size(params) > CG_COLLECT_MAX_PARAMS)
		return field_error(fe, "has more than 25 parameters", "events[%zu].params", i);
	json_object_foreach(params, key, v) {
		if (!valid_name(key))
			return field_error(fe, "parameter names must match [A-Za-z][A-Za-z0-9_]{0,39}",
			                   "events[%zu].params.%.20s", i, key);
		if (json_is_string(v)) {
			if (strlen(json_string_value(v)) != json_string_length(v) ||
			    utf8_chars(json_string_value(v)) > CG_COLLECT_VALUE_MAX)
				return field_error(fe, "string values are at most 100 characters",
				                   "events[%zu].params.%.20s", i, key);
		} else if (!json_is_number(v)) {
			return field_error(fe, "values are strings or numbers",
			                   "events[%zu].params.%.20s", i, key);
		}
	}
	return CG_OK;
}

int cg_collect_parse(const char *body, size_t len, json_t **events,
                     struct cg_field_error *fe)
{
	json_error_t jerr;
	json_t *root, *arr = NULL, *v;
	const char *key;
	int rc = CG_ERR_INVALID;

	*events = NULL;
	root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char d[160];
		snprintf(d, sizeof d, "line %d, column %d: %.100s", jerr.line, jerr.column, jerr.text);
		fe->field[0] = '\0';
		snprintf(fe->detail, sizeof fe->detail, "%s", d);
		return CG_ERR_INVALID;
	}
	if (!json_is_object(root)) {
		fe->field[0] = '\0';
		snprintf(fe->detail, sizeof fe->detail, "the body must be a JSON object");
		goto out_root;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "events") != 0) {
			field_error(fe, "unknown field", "%.40s", key);
			goto out_root;
		}
		arr = v;
	}
	if (!arr) {
		field_error(fe, "is required", "events");
		goto out_root;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > CG_COLLECT_MAX_EVENTS) {
		field_error(fe, "must be an array of 1 to 25 events", "events");
		goto out_root;
	}
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (check_event(json_array_get(arr, i), i, fe))
			goto out_root;
	*events = json_incref(arr);
	rc = CG_OK;
out_root:
	json_decref(root);
	return rc;
}

/* "1234567890.987654321"-style ids, like the ones gtag keeps in _ga */
static void format_id(const unsigned char h[crypto_auth_hmacsha256_BYTES], char out[CG_CLIENT_ID_MAX])
{
	uint32_t a, b;

	memcpy(&a, h, 4);
	memcpy(&b, h + 4, 4);
	snprintf(out, CG_CLIENT_ID_MAX, "%u.%u", a % 2000000000u + 100000000u, b);
}

void cg_client_id_full(const uint8_t key[CG_KEY_BYTES], const char *destination,
                       const char *subject, char out[CG_CLIENT_ID_MAX])
{
	unsigned char h[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, CG_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"cid/full/v2:", 12);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)destination, strlen(destination) + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)subject, strlen(subject));
	crypto_auth_hmacsha256_final(&st, h);
	format_id(h, out);
}

void cg_client_id_minimised(const uint8_t day_salt[CG_KEY_BYTES], const char *destination,
                            const char *site, const char *ip_prefix, char out[CG_CLIENT_ID_MAX])
{
	unsigned char h[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, day_salt, CG_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"cid/min/v2:", 11);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)destination, strlen(destination) + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)site, strlen(site) + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ip_prefix, strlen(ip_prefix));
	crypto_auth_hmacsha256_final(&st, h);
	format_id(h, out);
}

/* Whether a parameter holds a URL: by its name (any spelling a page may
 * use) or by its value (scheme://..., //host..., /path...). */
static int url_valued(const char *key, const char *v)
{
	static const char *const url_keys[] = {"url", "link", "location", "uri", "href", "path", "page"};
	size_t scheme = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	for (size_t i = 0; i < sizeof url_keys / sizeof url_keys[0]; i++)
		if (strcasestr(key, url_keys[i]))
			return 1;
	return (scheme > 0 && strncmp(v + scheme, "://", 3) == 0) || v[0] == '/';
}

/* Minimised: referrers go entirely (any spelling: referrer, referer); every
 * URL-valued parameter loses its query and fragment (CNIL's conditions for
 * an analytics proxy). */
static json_t *minimise_params(json_t *params)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(params, key, v) {
		if (strcasestr(key, "referer") || strcasestr(key, "referrer"))
			continue;
		if (json_is_string(v) && url_valued(key, json_string_value(v))) {
			const char *s = json_string_value(v);
			char norm[CG_PAGE_MAX + 1];
			if (cg_page_normalise(s, norm, sizeof norm) == CG_OK)
				json_object_set_new(out, key, json_string(norm));
			else /* relative, or another scheme: cut at the query */
				json_object_set_new(out, key, json_stringn(s, strcspn(s, "?#")));
			continue;
		}
		json_object_set(out, key, v);
	}
	return out;
}

static json_t *events_for(int mode, json_t *events)
{
	json_t *arr = json_array(), *ev;
	size_t i;

	json_array_foreach(events, i, ev) {
		json_t *o = json_object();
		json_t *params = json_object_get(ev, "params");
		json_object_set(o, "name", json_object_get(ev, "name"));
		if (params)
			json_object_set_new(o, "params", mode == CG_FORWARD_FULL ? json_copy(params)
			                                                         : minimise_params(params));
		json_array_append_new(arr, o);
	}
	return arr;
}

int cg_payload_build(const struct cg_payload_in *in, json_t *events, struct cg_buf *out)
{
	json_t *o = json_object();
	char *s = NULL;
	int rc = CG_ERR_NOMEM;
	int marketing = in->mode == CG_FORWARD_FULL && in->choice[CG_MARKETING] == 1;

	if (!o)
		return CG_ERR_NOMEM;
	if (in->dest->type == CG_DEST_GA4) {
		json_object_set_new(o, "client_id", json_string(in->client_id));
		json_object_set_new(o, "timestamp_micros", json_integer(in->timestamp_micros));
		json_object_set_new(o, "consent", json_pack("{s:s, s:s}",
			"ad_user_data", marketing ? "GRANTED" : "DENIED",
			"ad_personalization", marketing ? "GRANTED" : "DENIED"));
		if (in->country[0])
			json_object_set_new(o, "user_location", json_pack("{s:s}", "country_id", in->country));
		json_object_set_new(o, "events", events_for(in->mode, events));
	} else {
		json_t *consent = json_object();
		for (int p = 0; p < CG_NPURPOSES; p++)
			json_object_set_new(consent, cg_purpose_name(p),
			                    in->choice[p] < 0 ? json_null() : json_boolean(in->choice[p]));
		json_object_set_new(o, "destination", json_string(in->dest->name));
		json_object_set_new(o, "site", json_string(in->cfg->site));
		json_object_set_new(o, "mode", json_string(cg_decision_name(in->mode)));
		json_object_set_new(o, "client_id", json_string(in->client_id));
		json_object_set_new(o, "country", in->country[0] ? json_string(in->country) : json_null());
		json_object_set_new(o, "consent", consent);
		json_object_set_new(o, "timestamp_micros", json_integer(in->timestamp_micros));
		json_object_set_new(o, "events", events_for(in->mode, events));
	}
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		goto out;
	rc = strlen(s) >= CG_PAYLOAD_MAX ? CG_ERR_TOO_LONG : cg_buf_adds(out, s);
out:
	free(s);
	json_decref(o);
	return rc;
}

/* The request fields two GA4 rows must share to travel as one request. */
static int same_request(const json_t *a, const json_t *b)
{
	static const char *const keys[] = {"client_id", "consent", "user_location", "user_id"};

	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
		if ((x || y) && !json_equal(x, y))
			return 0;
	}
	return 1;
}

/* The row's events, each stamped with the row's time (unless it has one),
 * appended to into: CG_ERR_INVALID (nothing appended) when one is not an
 * object, CG_ERR_NOMEM when into may hold part of them. */
static int stamp_events(json_t *row, json_t *into)
{
	json_t *ts = json_object_get(row, "timestamp_micros"), *evs = json_object_get(row, "events"), *ev;
	size_t i;

	json_array_foreach(evs, i, ev)
		if (!json_is_object(ev))
			return CG_ERR_INVALID;
	json_array_foreach(evs, i, ev) {
		if (ts && !json_object_get(ev, "timestamp_micros") && json_object_set(ev, "timestamp_micros", ts))
			return CG_ERR_NOMEM;
		if (json_array_append(into, ev))
			return CG_ERR_NOMEM;
	}
	return CG_OK;
}

static size_t events_of(const json_t *row)
{
	const json_t *ev = json_object_get(row, "events");

	return json_is_array(ev) ? json_array_size(ev) : CG_COLLECT_MAX_EVENTS + 1;
}

int cg_ga4_merge(const char *const *payloads, size_t n, struct cg_buf *out, size_t *taken)
{
	json_t *first = NULL, *events = NULL;
	size_t k = 1, nev, bytes;
	char *s = NULL;
	int rc = CG_OK;

	*taken = 1;
	if (n > 1)
		first = json_loads(payloads[0], 0, NULL);
	if (!first || (nev = events_of(first)) > CG_COLLECT_MAX_EVENTS)
		goto alone;
	/* a bound on the merged size: the parts, plus each event's time */
	bytes = strlen(payloads[0]) + nev * 40;
	events = json_array();
	if (!events || stamp_events(first, events) != CG_OK)
		goto alone;
	for (; k < n; k++) {
		json_t *row = json_loads(payloads[k], 0, NULL);
		size_t m = row ? events_of(row) : 0;
		size_t len = strlen(payloads[k]) + m * 40;
		int st = row && same_request(first, row) && nev + m <= CG_COLLECT_MAX_EVENTS &&
		                 bytes + len < CG_PAYLOAD_MAX
		                 ? stamp_events(row, events) : CG_ERR_INVALID;
		json_decref(row);
		if (st == CG_ERR_NOMEM)
			goto alone;
		if (st != CG_OK)
			break;
		nev += m;
		bytes += len;
	}
	if (k == 1)
		goto alone;
	/* the request keeps the first row's time; each event has its own */
	if (json_object_set(first, "events", events) || !(s = json_dumps(first, JSON_COMPACT)))
		rc = CG_ERR_NOMEM;
	else if (cg_buf_adds(out, s))
		rc = CG_ERR_TOO_LONG;
	else
		*taken = k;
	free(s);
	json_decref(events);
	json_decref(first);
	return rc;
alone:
	json_decref(events);
	json_decref(first);
	return cg_buf_adds(out, payloads[0]) ? CG_ERR_TOO_LONG : CG_OK;
}
