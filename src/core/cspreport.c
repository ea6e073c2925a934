/* Leak reports (cspreport.h): CSP violation reports reduced to vendor,
 * directive and the page's first path segment. Pure. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"

/* a URL's parts as read (nothing here is kept but host and first segment) */
struct url {
	char host[CG_LEAK_HOST_MAX + 2]; /* lower case; "" when none or too long */
	const char *path;                /* into the string: "/..." or "" */
	size_t path_len;                 /* up to '?' or '#' */
};

int cg_leak_host_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > CG_LEAK_HOST_MAX || !strchr(s, '.') || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && label > 0)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

/* "scheme://[user@]host[:port]/path?query#frag": host lower-cased, or "" */
static void url_parse(const char *s, struct url *u)
{
	const char *p = strstr(s, "://"), *h, *end;
	size_t n = 0;

	memset(u, 0, sizeof *u);
	u->path = "";
	if (!p)
		return;
	h = p + 3;
	end = h + strcspn(h, "/?#");
	for (const char *at = h; at < end; at++)
		if (*at == '@')
			h = at + 1;
	for (const char *q = h; q < end && *q != ':' && n < sizeof u->host - 1; q++)
		u->host[n++] = (char)((*q >= 'A' && *q <= 'Z') ? *q + 32 : *q);
	u->host[n] = '\0';
	if (n == sizeof u->host - 1)
		u->host[0] = '\0'; /* too long: no host */
	if (*end == '/') {
		u->path = end;
		u->path_len = strcspn(end, "?#");
	}
}

/* a host-source's host matches: "*.example.com" any subdomain, else exact */
static int host_matches(const char *pattern, size_t n, const char *host)
{
	size_t hn = strlen(host);

	if (n > 2 && pattern[0] == '*' && pattern[1] == '.')
		return hn > n - 1 && memcmp(host + hn - (n - 1), pattern + 1, n - 1) == 0;
	return hn == n && memcmp(host, pattern, n) == 0;
}

int cg_leak_vendor_of(const struct cg_config *cfg, const char *host)
{
	for (int i = 0; i < cfg->n_vendors; i++)
		for (const char *p = cfg->vendors[i].hosts; *p;) {
			size_t k = strcspn(p, " ");
			const char *h = p, *e = p + k, *s = strstr(h, "://");
			if (s && s < e)
				h = s + 3;
			if (host_matches(h, strcspn(h, ":/ "), host))
				return i;
			p = e + (*e == ' ');
		}
	return -1;
}

static int directive_of(const char *d)
{
	static const char *const names[CG_NLD] = {"script-src", "connect-src", "img-src", "frame-src"};

	if (!d)
		return -1;
	if (strcmp(d, "script-src-elem") == 0)
		return CG_LD_SCRIPT;
	for (int i = 0; i < CG_NLD; i++)
		if (strcmp(d, names[i]) == 0)
			return i;
	return -1;
}

const char *cg_leak_directive_name(int d)
{
	static const char *const names[CG_NLD] = {"script-src", "connect-src", "img-src", "frame-src"};

	return d >= 0 && d < CG_NLD ? names[d] : "-";
}

/* "/" and the first segment, when it is plain; "/-" when not */
static void first_segment(const struct url *doc, char out[CG_LEAK_PATH_MAX + 1])
{
	const char *p = doc->path_len ? doc->path + 1 : "";
	size_t rest = doc->path_len ? doc->path_len - 1 : 0, n = 0;

	while (n < rest && p[n] != '/')
		n++;
	if (n >= CG_LEAK_PATH_MAX - 1 ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") < n) {
		strcpy(out, "/-");
		return;
	}
	out[0] = '/';
	memcpy(out + 1, p, n);
	out[n + 1] = '\0';
}

/* A load some script started that is not the page itself: the banner
 * releasing what was granted (its own file), or a vendor's script loading
 * more of itself. Such a load is not a leak: the first load of the vendor
 * was reported, or was released after consent. */
static int started_by_script(const struct cg_config *cfg, const struct url *doc, const char *source)
{
	struct url src;
	char banner[80];

	if (!source || !source[0])
		return 0;
	url_parse(source, &src);
	if (!src.host[0])
		return 0;
	if (strcmp(src.host, doc->host) == 0) {
		snprintf(banner, sizeof banner, "%s/banner.js", cfg->base_path);
		return src.path_len == strlen(banner) && memcmp(src.path, banner, src.path_len) == 0;
	}
	return cg_leak_vendor_of(cfg, src.host) >= 0;
}

static const char *str(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	if (!json_is_string(v) && k2)
		v = json_object_get(o, k2);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* one violation (field names of either kind); 1 if it is a leak */
static int one(const struct cg_config *cfg, json_t *v, int kind, struct cg_leak *out)
{
	int to = kind == CG_REPORT_TO;
	const char *doc_s = str(v, to ? "documentURL" : "document-uri", NULL);
	const char *blocked = str(v, to ? "blockedURL" : "blocked-uri", NULL);
	const char *dir = str(v, to ? "effectiveDirective" : "effective-directive", to ? NULL : "violated-directive");
	struct url doc, b;

	if (!doc_s || !blocked || (out->directive = directive_of(dir)) < 0)
		return 0;
	url_parse(doc_s, &doc);
	url_parse(blocked, &b);
	if (!b.host[0] || strcmp(b.host, doc.host) == 0)
		return 0; /* inline, eval, data:, blob:, or the page's own host */
	if (started_by_script(cfg, &doc, str(v, to ? "sourceFile" : "source-file", NULL)))
		return 0;
	out->vendor = cg_leak_vendor_of(cfg, b.host);
	out->host[0] = '\0';
	if (out->vendor < 0) {
		if (!cg_leak_host_valid(b.host))
			return 0; /* kept as text, so only a plain host name */
		strcpy(out->host, b.host);
	}
	first_segment(&doc, out->path);
	return 1;
}

int cg_leak_parse(const struct cg_config *cfg, int kind, const char *body, size_t len,
                  struct cg_leak *out, size_t max, size_t *n)
{
	json_error_t e;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e), *item;
	size_t i;

	*n = 0;
	if (!root)
		return CG_ERR_INVALID;
	if (kind == CG_REPORT_URI) {
		json_t *v = json_object_get(root, "csp-report");
		int ok = json_is_object(v);
		if (ok && max && one(cfg, v, kind, &out[0]))
			*n = 1;
		json_decref(root);
		return ok ? CG_OK : CG_ERR_INVALID;
	}
	if (!json_is_array(root)) {
		json_decref(root);
		return CG_ERR_INVALID;
	}
	json_array_foreach(root, i, item) {
		json_t *type = json_object_get(item, "type"), *b = json_object_get(item, "body");
		if (i >= CG_LEAKS_PER_BODY || *n >= max)
			break;
		if (json_is_string(type) && strcmp(json_string_value(type), "csp-violation") == 0 && json_is_object(b) &&
		    one(cfg, b, kind, &out[*n]))
			(*n)++;
	}
	json_decref(root);
	return CG_OK;
}
