#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/collect.h"
#include "consentgate/decision.h"
#include "consentgate/dest.h"
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

/* Whether a parameter holds a URL: by its name (lower-cased, any spelling
 * a page may use) or by its value (scheme://..., //host..., /path...). */
static int url_valued(const char *lkey, const char *v)
{
	static const char *const url_keys[] = {"url", "link", "location", "uri", "href", "path", "page"};
	size_t scheme = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	for (size_t i = 0; i < sizeof url_keys / sizeof url_keys[0]; i++)
		if (strstr(lkey, url_keys[i]))
			return 1;
	return (scheme > 0 && strncmp(v + scheme, "://", 3) == 0) || v[0] == '/';
}

/* A parameter name in ASCII lower case (names are validated: at most 40 of
 * [A-Za-z0-9_]), so that each name is folded once, not once per word
 * looked for (strcasestr: ~2 % of the daemon's CPU under /collect). */
static void lower_name(const char *key, char out[64])
{
	size_t i = 0;

	for (; key[i] && i < 63; i++)
		out[i] = key[i] >= 'A' && key[i] <= 'Z' ? (char)(key[i] - 'A' + 'a') : key[i];
	out[i] = '\0';
}

/* a validated parameter value: a string or a number */
static int put_value(struct cg_buf *b, const json_t *v)
{
	char *s;
	int bad;

	if (json_is_string(v))
		return cg_buf_json_str(b, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return cg_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	bad = !s || cg_buf_adds(b, s);
	free(s);
	return bad;
}

/* Minimised: referrers go entirely (any spelling: referrer, referer); every
 * URL-valued parameter loses its query and fragment (CNIL's conditions for
 * an analytics proxy). */
static int put_params(struct cg_buf *b, int mode, json_t *params)
{
	const char *key;
	json_t *v;
	int first = 1, bad = cg_buf_add(b, "{", 1);

	json_object_foreach(params, key, v) {
		const char *str = json_string_value(v);
		int minimise = mode != CG_FORWARD_FULL;
		char lkey[64];
		if (minimise) {
			lower_name(key, lkey);
			if (strstr(lkey, "referer") || strstr(lkey, "referrer"))
				continue;
		}
		bad |= cg_buf_json_key(b, first, key);
		first = 0;
		if (minimise && str && url_valued(lkey, str)) {
			char norm[CG_PAGE_MAX + 1];
			if (cg_page_normalise(str, norm, sizeof norm) == CG_OK)
				bad |= cg_buf_json_str(b, norm, strlen(norm));
			else /* relative, or another scheme: cut at the query */
				bad |= cg_buf_json_str(b, str, strcspn(str, "?#"));
		} else {
			bad |= put_value(b, v);
		}
	}
	return bad || cg_buf_add(b, "}", 1);
}

/* "events":[...]: GA4's events each carry the request's time, so that rows
 * of one client can be merged into one request (cg_ga4_merge) */
static int put_events(struct cg_buf *b, const struct cg_payload_in *in, json_t *events)
{
	json_t *ev;
	size_t i;
	int bad = cg_buf_adds(b, "\"events\":[");

	json_array_foreach(events, i, ev) {
		json_t *params = json_object_get(ev, "params");
		const char *name = json_string_value(json_object_get(ev, "name"));
		bad |= (i && cg_buf_add(b, ",", 1)) || cg_buf_add(b, "{", 1);
		if (cg_dest_kind(in->dest->type)->event_time)
			bad |= cg_buf_printf(b, "\"timestamp_micros\":%lld,", (long long)in->timestamp_micros);
		bad |= cg_buf_adds(b, "\"name\":") || cg_buf_json_str(b, name, strlen(name));
		if (params)
			bad |= cg_buf_adds(b, ",\"params\":") || put_params(b, in->mode, params);
		bad |= cg_buf_add(b, "}", 1);
	}
	return bad || cg_buf_adds(b, "]");
}

int cg_payload_build(const struct cg_payload_in *in, json_t *events, struct cg_buf *out)
{
	size_t at = out->len;
	int bad = cg_dest_kind(in->dest->type)->payload_head(in, out);

	bad |= put_events(out, in, events) || cg_buf_add(out, "}", 1);
	if (bad || out->len - at >= CG_PAYLOAD_MAX) {
		out->len = at; /* nothing half-written stays */
		if (out->p)
			out->p[at] = '\0';
		return CG_ERR_TOO_LONG;
	}
	return CG_OK;
}

/* A GA4 row as cg_payload_build writes it, seen as text: the request
 * fields (before and after its timestamp_micros) and the events' inner
 * text. Rows of another shape (queued by an older version, or whose events
 * lack their own time) are not split and travel alone. */
struct ga4_text {
	const char *p;
	size_t ts, ts_end;         /* ,"timestamp_micros":N */
	size_t ev, ev_end;         /* the events array's inner text */
	size_t nev;
};

static int ga4_split(const char *p, struct ga4_text *t)
{
	static const char ts_key[] = ",\"timestamp_micros\":", ev_key[] = "\"events\":[",
	                  ev_ts[] = "{\"timestamp_micros\":";
	const char *ts = strstr(p, ts_key), *ev = strstr(p, ev_key);
	size_t len = strlen(p), depth = 0;
	int in_str = 0;

	/* our fields hold no quotes, so the first matches are the request's */
	if (strncmp(p, "{\"client_id\":", 13) != 0 || !ts || !ev || ts > ev || len < 2 ||
	    strcmp(p + len - 2, "]}") != 0)
		return 0;
	t->p = p;
	t->ts = (size_t)(ts - p);
	t->ts_end = t->ts + sizeof ts_key - 1 + strspn(ts + sizeof ts_key - 1, "0123456789");
	t->ev = (size_t)(ev - p) + sizeof ev_key - 1;
	t->ev_end = len - 2;
	t->nev = 0;
	for (size_t i = t->ev; i < t->ev_end; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' && depth++ == 0) {
			if (strncmp(p + i, ev_ts, sizeof ev_ts - 1) != 0)
				return 0;
			t->nev++;
		} else if (c == '}') {
			depth--;
		}
	}
	return t->nev > 0 && depth == 0 && !in_str;
}

/* the same request fields, the time aside */
static int same_request(const struct ga4_text *a, const struct ga4_text *b)
{
	return a->ts == b->ts && memcmp(a->p, b->p, a->ts) == 0 && a->ev - a->ts_end == b->ev - b->ts_end &&
	       memcmp(a->p + a->ts_end, b->p + b->ts_end, a->ev - a->ts_end) == 0;
}

int cg_ga4_merge(const char *const *payloads, size_t n, struct cg_buf *out, size_t *taken)
{
	struct ga4_text first, t;
	size_t k = 1, nev, bytes;
	int bad;

	*taken = 1;
	if (n < 2 || !ga4_split(payloads[0], &first) || first.nev > CG_COLLECT_MAX_EVENTS)
		return cg_buf_adds(out, payloads[0]) ? CG_ERR_TOO_LONG : CG_OK;
	nev = first.nev;
	bytes = strlen(payloads[0]);
	bad = cg_buf_add(out, first.p, first.ev_end);
	for (; k < n && !bad; k++) {
		if (!ga4_split(payloads[k], &t) || !same_request(&first, &t) || nev + t.nev > CG_COLLECT_MAX_EVENTS ||
		    bytes + 1 + (t.ev_end - t.ev) >= CG_PAYLOAD_MAX)
			break;
		bad = cg_buf_add(out, ",", 1) || cg_buf_add(out, t.p + t.ev, t.ev_end - t.ev);
		nev += t.nev;
		bytes += 1 + t.ev_end - t.ev;
	}
	if (bad || cg_buf_add(out, "]}", 2))
		return CG_ERR_TOO_LONG;
	*taken = k;
	return CG_OK;
}
