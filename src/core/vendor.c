/* Vendors as data (vendor.h): the catalogue, one vendor's keys and their
 * checks, and the list the banner shows. Pure. */
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/event.h"
#include "consentgate/transfer.h"
#include "consentgate/vendor.h"

static const char *const key_names[CG_NVK] = {
	"title", "category", "hosts", "cookies", "storage", "recipient", "country", "transfer_basis", "source",
};
static const char *const category_names[] = {"preferences", "statistics", "marketing"};
static const char *const transfer_names[] = {"none", "dpf", "scc", "bcr", "derogation"};

int cg_vendor_key(const char *key)
{
	for (int k = 0; k < CG_NVK; k++)
		if (strcmp(key_names[k], key) == 0)
			return k;
	return -1;
}

const char *cg_vendor_key_name(int k)
{
	return k >= 0 && k < CG_NVK ? key_names[k] : "?";
}

static int lower_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
}

/* host-source (CSP Level 3 §2.3.1), lower case: [scheme "://"] host
 * [":" port] [path], host "*" or ["*."] labels; or a scheme-source
 * ("https:", "wss:") or 'self'. Stricter than the grammar where it costs
 * nothing: no IP literals, no quotes but 'self'. */
int cg_csp_source_valid(const char *s)
{
	const char *p = s, *h;
	size_t n = strlen(s);

	if (strcmp(s, "'self'") == 0)
		return 1;
	if (n >= 2 && s[n - 1] == ':' && strspn(s, "abcdefghijklmnopqrstuvwxyz") == n - 1)
		return 1; /* scheme-source */
	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "wss://", 6) == 0)
		p += 6;
	if (p[0] == '*' && p[1] == '.')
		p += 2;
	h = p;
	while (lower_host_char(*p))
		p++;
	if (p == h || h[0] == '.' || h[0] == '-' || p[-1] == '.' || strstr(h, "..") || !memchr(h, '.', (size_t)(p - h)))
		return 0;
	if (*p == ':') {
		size_t d = strspn(p + 1, "0123456789");
		if (d == 0 || d > 5)
			return 0;
		p += 1 + d;
	}
	if (*p == '/')
		p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%");
	return *p == '\0';
}

int cg_vendor_pattern_valid(const char *s)
{
	size_t n = strlen(s), k;

	/* cookie-name token characters a vendor uses; '*' only at the end */
	k = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
	return n > 0 && n <= CG_VENDOR_PATTERN_MAX && (k == n || (k == n - 1 && k > 0 && s[k] == '*'));
}

/* each space-separated word of list passes ok() */
static int words_ok(const char *list, int (*ok)(const char *), char *bad, size_t badlen)
{
	char w[256];

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		if (n && n < sizeof w) {
			memcpy(w, p, n);
			w[n] = '\0';
			if (!ok(w)) {
				snprintf(bad, badlen, "%.48s", w);
				return 0;
			}
		} else if (n) {
			snprintf(bad, badlen, "%.40s...", p);
			return 0;
		}
		p += n;
		p += strspn(p, " ");
	}
	return 1;
}

int cg_vendor_pattern_match(const char *patterns, const char *name, size_t len)
{
	for (const char *p = patterns; *p;) {
		size_t n = strcspn(p, " ");
		if (n && p[n - 1] == '*' ? len >= n - 1 && memcmp(p, name, n - 1) == 0
		                         : n == len && memcmp(p, name, n) == 0)
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

static int enum_value(const char *const *names, int count, const char *v)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

/* a space-separated list, its runs of blanks made one space */
static int set_list(char *dst, size_t size, const char *value)
{
	size_t o = 0;

	for (const char *p = value + strspn(value, " \t"); *p;) {
		size_t n = strcspn(p, " \t");
		if (o + n + 2 > size)
			return -1;
		if (o)
			dst[o++] = ' ';
		memcpy(dst + o, p, n);
		o += n;
		p += n;
		p += strspn(p, " \t");
	}
	dst[o] = '\0';
	return 0;
}

static int set_text(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size || strpbrk(value, "<>\"\\"))
		return -1;
	strcpy(dst, value);
	return 0;
}

int cg_vendor_set(struct cg_vendor *v, int key, const char *value, char *why, size_t n)
{
	char bad[64];
	int e;

	switch (key) {
	case CG_VK_TITLE:
	case CG_VK_RECIPIENT:
		if (set_text(key == CG_VK_TITLE ? v->title : v->recipient,
		             key == CG_VK_TITLE ? sizeof v->title : sizeof v->recipient, value) || !value[0])
			return snprintf(why, n, "must be 1-%zu characters without < > \" \\",
			                (key == CG_VK_TITLE ? sizeof v->title : sizeof v->recipient) - 1), -1;
		break;
	case CG_VK_CATEGORY:
		if ((v->category = enum_value(category_names, 3, value)) < 0)
			return snprintf(why, n, "must be preferences, statistics or marketing"), -1;
		break;
	case CG_VK_TRANSFER:
		if ((e = enum_value(transfer_names, 5, value)) < 0)
			return snprintf(why, n, "must be dpf, scc, bcr, derogation or none"), -1;
		v->transfer = e;
		break;
	case CG_VK_COUNTRY:
		if (strlen(value) != 2 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)
			return snprintf(why, n, "must be an ISO 3166-1 alpha-2 code in capitals, such as IE or US"), -1;
		strcpy(v->country, value);
		break;
	case CG_VK_SOURCE:
		if (strncmp(value, "https://", 8) || strlen(value) < 12 || set_text(v->source, sizeof v->source, value) ||
		    strpbrk(value, " \t'"))
			return snprintf(why, n, "must be an https:// URL of the vendor's own documentation"), -1;
		break;
	case CG_VK_HOSTS:
		if (set_list(v->hosts, sizeof v->hosts, value) || !words_ok(v->hosts, cg_csp_source_valid, bad, sizeof bad))
			return snprintf(why, n, "%s is not a CSP source expression (host, *.host, https://host/path, "
			                "wss://host, 'self')", v->hosts[0] ? bad : value), -1;
		break;
	case CG_VK_COOKIES:
	case CG_VK_STORAGE:
		if (set_list(key == CG_VK_COOKIES ? v->cookies : v->storage,
		             key == CG_VK_COOKIES ? sizeof v->cookies : sizeof v->storage, value) ||
		    !words_ok(key == CG_VK_COOKIES ? v->cookies : v->storage, cg_vendor_pattern_valid, bad, sizeof bad))
			return snprintf(why, n, "'%s' is not a name (A-Z a-z 0-9 _ - ., a trailing * for any rest)", bad), -1;
		break;
	default:
		return snprintf(why, n, "unknown key"), -1;
	}
	v->seen |= 1u << key;
	return 0;
}

/* every key but the optional title (and, for recipient self, country and
 * transfer basis); the transfer basis exactly where the country needs one */
int cg_vendor_check(const struct cg_vendor *v, const char **key, char *why, size_t n)
{
	int self = strcmp(v->recipient, CG_VENDOR_SELF) == 0;

	for (int k = CG_VK_CATEGORY; k < CG_NVK; k++) {
		if (v->seen & (1u << k) || k == CG_VK_TRANSFER || (self && k == CG_VK_COUNTRY))
			continue;
		*key = key_names[k];
		snprintf(why, n, "is required (a vendor the catalogue does not know gives category, hosts, cookies, "
		         "storage, recipient, country and source)");
		return -1;
	}
	*key = key_names[CG_VK_TRANSFER];
	if (self && (v->country[0] || v->transfer))
		return snprintf(why, n, "is not for recipient self (the data stays with the site)"), -1;
	if (!self && !cg_country_adequate(v->country) && !v->transfer)
		return snprintf(why, n, "is required: %s is outside the EU/EEA and has no adequacy decision "
		                "(dpf, scc, bcr or derogation)", v->country), -1;
	if (!self && cg_country_adequate(v->country) && v->transfer)
		return snprintf(why, n, "must not be given: %s needs no transfer basis", v->country), -1;
	return 0;
}

void cg_vendor_inherit(struct cg_vendor *v, const struct cg_vendor *from)
{
	unsigned own = v->seen;
	int line = v->line;
	struct cg_vendor out = *from;

	memcpy(out.name, v->name, sizeof out.name);
	if (own & (1u << CG_VK_TITLE)) memcpy(out.title, v->title, sizeof out.title);
	if (own & (1u << CG_VK_CATEGORY)) out.category = v->category;
	if (own & (1u << CG_VK_HOSTS)) memcpy(out.hosts, v->hosts, sizeof out.hosts);
	if (own & (1u << CG_VK_COOKIES)) memcpy(out.cookies, v->cookies, sizeof out.cookies);
	if (own & (1u << CG_VK_STORAGE)) memcpy(out.storage, v->storage, sizeof out.storage);
	if (own & (1u << CG_VK_RECIPIENT)) memcpy(out.recipient, v->recipient, sizeof out.recipient);
	if (own & (1u << CG_VK_COUNTRY)) {
		memcpy(out.country, v->country, sizeof out.country);
		out.transfer = 0; /* the catalogue's basis was for its own country */
	}
	if (own & (1u << CG_VK_TRANSFER)) out.transfer = v->transfer;
	if (own & (1u << CG_VK_SOURCE)) memcpy(out.source, v->source, sizeof out.source);
	out.seen = from->seen | own;
	if (!(own & (1u << CG_VK_TRANSFER)) && !out.transfer)
		out.seen &= ~(1u << CG_VK_TRANSFER);
	out.line = line;
	*v = out;
}

/* ---- the catalogue -------------------------------------------------------- */

struct cat_ctx {
	struct cg_catalogue *cat;
	const char *filename;
	char *err;
	size_t errlen;
	int failed;
};

static int cat_handler(void *user, const char *section, const char *key, const char *value)
{
	struct cat_ctx *c = user;
	struct cg_catalogue *cat = c->cat;
	struct cg_vendor *v = cat->n ? &cat->v[cat->n - 1] : NULL;
	char why[200];
	int k;

	if (!v || strcmp(v->name, section) != 0) {
		if (cg_catalogue_find(cat, section) || cat->n == CG_CATALOGUE_MAX ||
		    strlen(section) > CG_VENDOR_NAME_MAX || !section[0] ||
		    strspn(section, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(section)) {
			snprintf(why, sizeof why, "%s", cat->n == CG_CATALOGUE_MAX ? "too many vendors"
			         : "a vendor is one section, named with a-z, 0-9 and -");
			goto fail;
		}
		v = &cat->v[cat->n++];
		memset(v, 0, sizeof *v);
		v->category = -1;
		strcpy(v->name, section);
	}
	k = cg_vendor_key(key);
	if (k < 0) {
		snprintf(why, sizeof why, "unknown key");
		goto fail;
	}
	if (v->seen & (1u << k)) {
		snprintf(why, sizeof why, "given twice");
		goto fail;
	}
	if (cg_vendor_set(v, k, value, why, sizeof why) == 0)
		return 1;
fail:
	snprintf(c->err, c->errlen, "%s: [%s] %s: %s", c->filename, section, key, why);
	c->failed = 1;
	return 0;
}

int cg_catalogue_parse(const char *text, const char *filename, struct cg_catalogue *cat, char *err,
                       size_t errlen)
{
	struct cat_ctx c = {cat, filename ? filename : "<catalogue>", err, errlen, 0};
	const char *key;
	char why[200];
	int rc;

	cat->n = 0;
	rc = ini_parse_string(text, cat_handler, &c);
	if (c.failed)
		return CG_ERR_CONFIG;
	if (rc) {
		snprintf(err, errlen, "%s:%d: syntax error", c.filename, rc);
		return CG_ERR_CONFIG;
	}
	for (int i = 0; i < cat->n; i++)
		if (cg_vendor_check(&cat->v[i], &key, why, sizeof why)) {
			snprintf(err, errlen, "%s: [%s] %s: %s", c.filename, cat->v[i].name, key, why);
			return CG_ERR_CONFIG;
		}
	return CG_OK;
}

const struct cg_vendor *cg_catalogue_find(const struct cg_catalogue *cat, const char *name)
{
	for (int i = 0; cat && i < cat->n; i++)
		if (strcmp(cat->v[i].name, name) == 0)
			return &cat->v[i];
	return NULL;
}

/* ---- the list the banner shows ------------------------------------------- */

static int json_words(struct cg_buf *b, const char *key, const char *list)
{
	int bad = cg_buf_json_key(b, 0, key) || cg_buf_adds(b, "[");

	for (const char *p = list; *p && !bad;) {
		size_t n = strcspn(p, " ");
		bad = (p != list && cg_buf_adds(b, ",")) || cg_buf_json_str(b, p, n);
		p += n;
		p += strspn(p, " ");
	}
	return bad || cg_buf_adds(b, "]");
}

static int json_field(struct cg_buf *b, const char *key, const char *s)
{
	return cg_buf_json_key(b, 0, key) || (s ? cg_buf_json_str(b, s, strlen(s)) : cg_buf_adds(b, "null"));
}

int cg_vendor_list(const struct cg_vendor *v, int n, const char *controller, struct cg_buf *out,
                   char id[CG_VENDORS_ID_LEN + 1])
{
	uint8_t d[crypto_hash_sha256_BYTES];
	int bad = cg_buf_adds(out, "[");

	for (int i = 0; i < n && !bad; i++) {
		int self = strcmp(v[i].recipient, CG_VENDOR_SELF) == 0;
		bad = (i && cg_buf_adds(out, ",")) || cg_buf_adds(out, "{\"name\":") ||
		      cg_buf_json_str(out, v[i].name, strlen(v[i].name)) ||
		      json_field(out, "title", v[i].title[0] ? v[i].title : v[i].name) ||
		      json_field(out, "category", category_names[v[i].category]) ||
		      json_field(out, "recipient", self ? (controller && controller[0] ? controller : NULL) : v[i].recipient) ||
		      json_field(out, "country", v[i].country[0] ? v[i].country : NULL) ||
		      json_field(out, "transfer_basis", cg_transfer_name(v[i].transfer)) ||
		      json_words(out, "cookies", v[i].cookies) || json_words(out, "storage", v[i].storage) ||
		      cg_buf_adds(out, "}");
	}
	if (bad || cg_buf_adds(out, "]"))
		return CG_ERR_NOMEM;
	crypto_hash_sha256(d, (const uint8_t *)out->p, out->len);
	sodium_bin2hex(id, CG_VENDORS_ID_LEN + 1, d, sizeof d);
	return CG_OK;
}

int cg_vendors_id_valid(const char *s)
{
	return strlen(s) == CG_VENDORS_ID_LEN && strspn(s, "0123456789abcdef") == CG_VENDORS_ID_LEN;
}

int cg_vendor_write(const struct cg_vendor *v, struct cg_buf *out)
{
	int bad = cg_buf_printf(out, "\n[vendor.%s]\ntitle = %s\ncategory = %s\nhosts = %s\ncookies = %s\n"
	                        "storage = %s\nrecipient = %s\n", v->name, v->title[0] ? v->title : v->name,
	                        category_names[v->category], v->hosts, v->cookies, v->storage, v->recipient) ||
	          (v->country[0] && cg_buf_printf(out, "country = %s\n", v->country)) ||
	          cg_buf_printf(out, "transfer_basis = %s\nsource = %s\n", transfer_names[v->transfer], v->source);

	return bad ? CG_ERR_NOMEM : CG_OK;
}
