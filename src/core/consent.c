#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/consent.h"
#include "consentgate/vendor.h"
#include "consentgate/shown.h"
#include "consentgate/err.h"

static int field_error(struct cg_field_error *fe, const char *field, const char *detail)
{
	snprintf(fe->field, sizeof fe->field, "%s", field);
	snprintf(fe->detail, sizeof fe->detail, "%s", detail);
	return CG_ERR_INVALID;
}

static json_t *load_object(const char *body, size_t len, struct cg_field_error *fe)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(body ? body : "", len,
	                  JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char d[160];
		snprintf(d, sizeof d, "line %d, column %d: %.100s", jerr.line, jerr.column, jerr.text);
		field_error(fe, "", d);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		field_error(fe, "", "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/* Copies a string member that must match `allowed` chars and fit `size`. */
static int get_token(json_t *v, const char *field, const char *allowed, char *out,
                     size_t size, struct cg_field_error *fe)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return field_error(fe, field, "must be a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= size || strlen(s) != n)
		return field_error(fe, field, "has a bad length");
	if (allowed && strspn(s, allowed) != n)
		return field_error(fe, field, "has characters that are not allowed");
	memcpy(out, s, n + 1);
	return CG_OK;
}

static const char version_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
static const char lang_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-";
static const char banner_chars[] = "0123456789abcdef"; /* a build id (shown.h) */

/* One top-level field other than "choices"; CG_OK or CG_ERR_INVALID (fe set). */
static int choice_field(const char *key, json_t *v, struct cg_choice_req *out, struct cg_field_error *fe)
{
	char f[48];

	if (strcmp(key, "policy_version") == 0)
		return get_token(v, "policy_version", version_chars, out->policy_version,
		                 sizeof out->policy_version, fe) ? CG_ERR_INVALID : CG_OK;
	if (strcmp(key, "lang") == 0)
		return get_token(v, "lang", lang_chars, out->lang, sizeof out->lang, fe) ? CG_ERR_INVALID : CG_OK;
	if (strcmp(key, "banner") == 0) {
		if (get_token(v, "banner", banner_chars, out->banner, sizeof out->banner, fe))
			return CG_ERR_INVALID;
		if (!cg_build_id_valid(out->banner)) {
			field_error(fe, "banner", "must be a banner build id (32 hex digits)");
			return CG_ERR_INVALID;
		}
		return CG_OK;
	}
	if (strcmp(key, "vendors") == 0) { /* the id of the vendor list shown (vendor.h) */
		if (get_token(v, "vendors", banner_chars, out->vendors, sizeof out->vendors, fe))
			return CG_ERR_INVALID;
		if (!cg_vendors_id_valid(out->vendors)) {
			field_error(fe, "vendors", "must be a vendor list id (64 hex digits)");
			return CG_ERR_INVALID;
		}
		return CG_OK;
	}
	if (strcmp(key, "page") == 0) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			field_error(fe, "page", "must be a string");
			return CG_ERR_INVALID;
		}
		/* not an http(s) URL: kept as none; a refusal is never refused over it */
		if (cg_page_normalise(json_string_value(v), out->page, sizeof out->page))
			out->page[0] = '\0';
		return CG_OK;
	}
	snprintf(f, sizeof f, "%.47s", key);
	field_error(fe, f, "unknown field");
	return CG_ERR_INVALID;
}

/* "choices": every category, each a boolean; necessary only as true. */
static int parse_choices(json_t *choices, struct cg_choice_req *out, struct cg_field_error *fe)
{
	int seen[CG_NPURPOSES] = {0};
	const char *key;
	json_t *v;

	if (!json_is_object(choices)) {
		field_error(fe, "choices", "must be an object");
		return CG_ERR_INVALID;
	}
	json_object_foreach(choices, key, v) {
		char f[48];
		int p;
		snprintf(f, sizeof f, "choices.%.39s", key);
		if (strcmp(key, "necessary") == 0) {
			if (!json_is_true(v)) {
				field_error(fe, f, "necessary cookies are always on; send true or leave it out");
				return CG_ERR_INVALID;
			}
			continue;
		}
		p = cg_purpose_parse(key);
		if (p < 0) {
			field_error(fe, f, "unknown category");
			return CG_ERR_INVALID;
		}
		if (!json_is_boolean(v)) {
			field_error(fe, f, "must be true or false");
			return CG_ERR_INVALID;
		}
		out->choice[p] = json_is_true(v);
		seen[p] = 1;
	}
	for (int p = 0; p < CG_NPURPOSES; p++)
		if (!seen[p]) {
			char f[48];
			snprintf(f, sizeof f, "choices.%s", cg_purpose_name(p));
			field_error(fe, f, "is required");
			return CG_ERR_INVALID;
		}
	return CG_OK;
}

int cg_consent_parse_choice(const char *body, size_t len,
                            struct cg_choice_req *out, struct cg_field_error *fe)
{
	json_t *root, *choices = NULL, *v;
	const char *key;
	int rc = CG_ERR_INVALID;

	memset(out, 0, sizeof *out);
	root = load_object(body, len, fe);
	if (!root)
		return CG_ERR_INVALID;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "choices") == 0)
			choices = v;
		else if (choice_field(key, v, out, fe) != CG_OK)
			goto out_root;
	}
	if (!choices) {
		field_error(fe, "choices", "is required");
		goto out_root;
	}
	if (!out->policy_version[0]) {
		field_error(fe, "policy_version", "is required");
		goto out_root;
	}
	rc = parse_choices(choices, out, fe);
out_root:
	json_decref(root);
	return rc;
}

int cg_consent_parse_objection(const char *body, size_t len, int *purpose,
                               struct cg_field_error *fe)
{
	json_t *root, *v;
	const char *key;
	int rc = CG_ERR_INVALID;

	*purpose = -1;
	root = load_object(body, len, fe);
	if (!root)
		return CG_ERR_INVALID;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "purpose") != 0) {
			char f[48];
			snprintf(f, sizeof f, "%.47s", key);
			field_error(fe, f, "unknown field");
			goto out_root;
		}
		if (!json_is_string(v) || (*purpose = cg_purpose_parse(json_string_value(v))) < 0) {
			field_error(fe, "purpose", "must be preferences, statistics or marketing");
			goto out_root;
		}
	}
	if (*purpose < 0) {
		field_error(fe, "purpose", "is required");
		goto out_root;
	}
	rc = CG_OK;
out_root:
	json_decref(root);
	return rc;
}

int cg_page_normalise(const char *url, char *out, size_t outlen)
{
	const char *p, *host, *host_end, *path, *path_end;
	size_t slen, hlen, plen;
	char scheme[8];

	if (!url)
		return CG_ERR_INVALID;
	if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(scheme, "https");
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(scheme, "http");
		p = url + 7;
	} else {
		return CG_ERR_INVALID;
	}
	/* authority ends at the first / ? # */
	host = p;
	host_end = host + strcspn(host, "/?#");
	/* drop userinfo: everything up to the last '@' in the authority */
	for (const char *q = host; q < host_end; q++)
		if (*q == '@')
			host = q + 1;
	hlen = (size_t)(host_end - host);
	if (hlen == 0)
		return CG_ERR_INVALID;
	for (const char *q = host; q < host_end; q++) {
		unsigned char ch = (unsigned char)*q;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' ||
		      ch == '[' || ch == ']'))
			return CG_ERR_INVALID;
	}
	path = host_end;
	path_end = path + strcspn(path, "?#");
	plen = (size_t)(path_end - path);
	for (const char *q = path; q < path_end; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return CG_ERR_INVALID;
	slen = strlen(scheme);
	if (slen + 3 + hlen + (plen ? plen : 1) + 1 > outlen)
		return CG_ERR_TOO_LONG;
	memcpy(out, scheme, slen);
	memcpy(out + slen, "://", 3);
	for (size_t i = 0; i < hlen; i++) {
		char ch = host[i];
		out[slen + 3 + i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
	}
	if (plen)
		memcpy(out + slen + 3 + hlen, path, plen);
	else
		out[slen + 3 + hlen] = '/', plen = 1;
	out[slen + 3 + hlen + plen] = '\0';
	return CG_OK;
}

/* "host[:port]" of scheme://authority, lower case, without the scheme's
 * default port; 0 if it does not fit */
static int authority(const char *scheme, const char *a, size_t len, char *out, size_t outlen)
{
	const char *dflt = strcmp(scheme, "https") == 0 ? ":443" : ":80";
	size_t dl = strlen(dflt);

	if (len > dl && strncmp(a + len - dl, dflt, dl) == 0)
		len -= dl;
	if (len == 0 || len >= outlen)
		return 0;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)a[i]);
	out[len] = '\0';
	return 1;
}

/* scheme and host[:port] of "scheme://authority[/...]"; 0 if it is not one */
static int origin_of(const char *url, char scheme[8], char *host, size_t hostlen)
{
	const char *sep = strstr(url, "://");
	size_t slen = sep ? (size_t)(sep - url) : 0;

	if (!sep || slen == 0 || slen >= 8)
		return 0;
	for (size_t i = 0; i < slen; i++)
		scheme[i] = (char)tolower((unsigned char)url[i]);
	scheme[slen] = '\0';
	return authority(scheme, sep + 3, strcspn(sep + 3, "/?#"), host, hostlen);
}

int cg_page_own(const char *page, const struct cg_config *cfg, const char *host)
{
	char scheme[8], s2[8], h[256], h2[256];

	if (!page[0] || !origin_of(page, scheme, h, sizeof h))
		return 0;
	for (int i = 0; i < cfg->n_origins; i++)
		if (origin_of(cfg->allowed_origins[i], s2, h2, sizeof h2) && strcmp(scheme, s2) == 0 &&
		    strcmp(h, h2) == 0)
			return 1;
	/* no list: the site is whatever host the request came to, in either scheme */
	return cfg->n_origins == 0 && host && authority(scheme, host, strlen(host), h2, sizeof h2) &&
	       strcmp(h, h2) == 0;
}
