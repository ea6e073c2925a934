#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/dest.h"
#include "consentgate/transfer.h"
#include "consentgate/err.h"
#include "consentgate/event.h"

enum dtype { T_STR, T_INT, T_BOOL, T_ENUM, T_ORIGINS };

struct directive {
	const char *section; /* "destination" matches every [destination.NAME] */
	const char *key;
	enum dtype type;
	size_t off;          /* into struct cg_config, or struct cg_destination */
	size_t size;         /* T_STR: buffer size */
	long min, max;       /* T_INT */
	const char *const *names; /* T_ENUM, NULL-terminated */
};

static const char *const gpc_names[] = {"none", "marketing", "all", NULL};
static const char *const purpose_names[] = {"preferences", "statistics", "marketing", NULL};
static const char *const basis_names[] = {"consent", "legitimate_interest", NULL};
static const char *const backend_names[] = {"sqlite", "postgresql", NULL};
static const char *const csp_mode_names[] = {"off", "report", "enforce", NULL};
static const char *const transfer_names[] = {"none", "dpf", "scc", "bcr", "derogation", NULL};

#define C(f) offsetof(struct cg_config, f), sizeof(((struct cg_config *)0)->f)
#define D(f) offsetof(struct cg_destination, f), sizeof(((struct cg_destination *)0)->f)

static const struct directive directives[] = {
	{"server", "listen", T_STR, C(listen), 0, 0, NULL},
	{"server", "socket_group", T_STR, C(socket_group), 0, 0, NULL},
	{"server", "workers", T_INT, C(workers), 1, 1024, NULL},
	{"server", "request_timeout_ms", T_INT, C(request_timeout_ms), 100, 60000, NULL},
	{"server", "max_pending_connections", T_INT, C(max_pending_connections), 16, 65536, NULL},
	{"server", "max_idle_connections", T_INT, C(max_idle_connections), 2, 65536, NULL},
	{"server", "max_inflight_bytes", T_INT, C(max_inflight_bytes), 65536, 1 << 30, NULL},
	{"server", "base_path", T_STR, C(base_path), 0, 0, NULL},
	{"server", "site", T_STR, C(site), 0, 0, NULL},
	{"policy", "version", T_STR, C(policy_version), 0, 0, NULL},
	{"policy", "consent_max_age_days", T_INT, C(consent_max_age_days), 1, 395, NULL},
	{"policy", "refusal_max_age_days", T_INT, C(refusal_max_age_days), 1, 395, NULL},
	{"policy", "allowed_origins", T_ORIGINS, C(allowed_origins), 0, 0, NULL},
	{"policy", "cookie_secure", T_BOOL, C(cookie_secure), 0, 0, NULL},
	{"policy", "refusal_is_objection", T_BOOL, C(refusal_is_objection), 0, 0, NULL},
	{"policy", "gpc", T_ENUM, C(gpc), 0, 0, gpc_names},
	{"policy", "url", T_STR, C(policy_url), 0, 0, NULL},
	{"policy", "notice_file", T_STR, C(notice_file), 0, 0, NULL},
	{"banner", "dir", T_STR, C(banner_dir), 0, 0, NULL},
	{"storage", "backend", T_ENUM, C(backend), 0, 0, backend_names},
	{"storage", "database", T_STR, C(database), 0, 0, NULL},
	{"storage", "url", T_STR, C(url), 0, 0, NULL},
	{"storage", "read_timeout_ms", T_INT, C(read_timeout_ms), 5, 60000, NULL},
	{"storage", "write_timeout_ms", T_INT, C(write_timeout_ms), 100, 600000, NULL},
	{"storage", "connect_timeout_ms", T_INT, C(connect_timeout_ms), 100, 600000, NULL},
	{"geoip", "database", T_STR, C(geo_database), 0, 0, NULL},
	{"geoip", "country_path", T_STR, C(country_path), 0, 0, NULL},
	{"geoip", "ipv4_prefix", T_INT, C(ipv4_prefix), 8, 32, NULL},
	{"geoip", "ipv6_prefix", T_INT, C(ipv6_prefix), 16, 128, NULL},
	{"retention", "ip_prefix_days", T_INT, C(ip_prefix_days), 1, 36500, NULL},
	{"retention", "events_days_after_end", T_INT, C(events_days_after_end), 1, 36500, NULL},
	{"retention", "outbox_delivered_days", T_INT, C(outbox_delivered_days), 1, 36500, NULL},
	{"controller", "name", T_STR, C(controller_name), 0, 0, NULL},
	{"controller", "contact", T_STR, C(controller_contact), 0, 0, NULL},
	{"report", "min_visitors", T_INT, C(report_min_visitors), 1, 1000000, NULL},
	{"forwarder", "retry_cap_seconds", T_INT, C(retry_cap_seconds), 1, 86400, NULL},
	{"forwarder", "timeout_ms", T_INT, C(forward_timeout_ms), 100, 120000, NULL},
	{"forwarder", "concurrency", T_INT, C(forward_concurrency), 1, 256, NULL},
	{"forwarder", "lease_seconds", T_INT, C(lease_seconds), 1, 86400, NULL},
	{"limits", "visitor_bytes_per_hour", T_INT, C(visitor_bytes_per_hour), 1024, 1 << 30, NULL},
	{"limits", "prefix_bytes_per_hour", T_INT, C(prefix_bytes_per_hour), 1024, 1 << 30, NULL},
	{"limits", "outbox_max_rows", T_INT, C(outbox_max_rows), 100, 100000000, NULL},
	{"limits", "erasure_notices_max_rows", T_INT, C(erasure_notices_max_rows), 100, 100000000, NULL},
	{"signing", "key_file", T_STR, C(key_file), 0, 0, NULL},
	{"signing", "anchor_command", T_STR, C(anchor_command), 0, 0, NULL},
	{"signing", "head_interval_minutes", T_INT, C(head_interval_minutes), 1, 10080, NULL},
	{"vendors", "catalogue", T_STR, C(vendor_catalogue), 0, 0, NULL},
	{"csp", "mode", T_ENUM, C(csp_mode), 0, 0, csp_mode_names},
	{"csp", "base", T_STR, C(csp_base), 0, 0, NULL},
	{"csp", "report_to", T_BOOL, C(csp_report_to), 0, 0, NULL},
	{"destination", "type", T_ENUM, D(type), 0, 0, cg_dest_kind_names},
	{"destination", "url", T_STR, D(url), 0, 0, NULL},
	{"destination", "measurement_id", T_STR, D(measurement_id), 0, 0, NULL},
	{"destination", "api_secret", T_STR, D(api_secret), 0, 0, NULL},
	{"destination", "purpose", T_ENUM, D(purpose), 0, 0, purpose_names},
	{"destination", "basis", T_ENUM, D(basis), 0, 0, basis_names},
	{"destination", "recipient", T_STR, D(recipient), 0, 0, NULL},
	{"destination", "country", T_STR, D(country), 0, 0, NULL},
	{"destination", "transfer_basis", T_ENUM, D(transfer), 0, 0, transfer_names},
	{"destination", "property_id", T_STR, D(property_id), 0, 0, NULL},
	{"destination", "deletion_url", T_STR, D(deletion_url), 0, 0, NULL},
	{"destination", "deletion_token_file", T_STR, D(deletion_token_file), 0, 0, NULL},
	{"destination", "vendor", T_STR, D(vendor), 0, 0, NULL},
};
#define NDIRECTIVES (sizeof directives / sizeof directives[0])
/* Destination keys index cg_destination.seen[] from the first of them. */
static size_t dest_first(void)
{
	size_t i = 0;

	while (i < NDIRECTIVES && strcmp(directives[i].section, "destination") != 0)
		i++;
	return i;
}

struct parse_ctx {
	struct cg_config *cfg;
	const char *filename;
	const char *text;      /* reader cursor */
	int line;
	int section_start;     /* line of the latest [section] header */
	int failed;
	char *err;
	size_t errlen;
	unsigned char seen[NDIRECTIVES];
	int section_line[CG_MAX_DESTINATIONS];
};

static void fail(struct parse_ctx *c, const char *section, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(struct parse_ctx *c, const char *section, const char *key,
                 const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (c->line > 0)
		snprintf(c->err, c->errlen, "%s:%d: [%s] %s: %s", c->filename, c->line,
		         section, key, why);
	else /* about a section or the file as a whole: no line to name */
		snprintf(c->err, c->errlen, "%s: [%s] %s: %s", c->filename, section, key, why);
}

/* A [vendor.NAME] header: the vendor is in use even when its section is
 * empty (a catalogue name needs no keys, and inih reports no empty section). */
static void vendor_header(struct parse_ctx *c, const char *line)
{
	char name[64], why[200];
	size_t n;

	if (strncmp(line, "[vendor.", 8) != 0)
		return;
	n = strcspn(line + 8, "]");
	if (line[8 + n] != ']' || n >= sizeof name)
		return; /* inih's syntax error, or the name's error below */
	memcpy(name, line + 8, n);
	name[n] = '\0';
	if (cg_config_vendor_key(c->cfg, name, NULL, NULL, c->line, why, sizeof why))
		fail(c, "vendor", name, "%s", why);
}

/* fgets-style reader that counts lines and refuses lines inih would split */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	const char *nl;
	size_t n;

	if (c->failed || !*c->text)
		return NULL;
	nl = strchr(c->text, '\n');
	n = nl ? (size_t)(nl - c->text) + 1 : strlen(c->text);
	c->line++;
	if (n >= (size_t)num) {
		fail(c, "-", "-", "%s", "line too long");
		return NULL;
	}
	memcpy(str, c->text, n);
	str[n] = '\0';
	if (str[strspn(str, " \t")] == '[')
		c->section_start = c->line;
	c->text += n;
	vendor_header(c, str + strspn(str, " \t"));
	return str;
}

void cg_config_defaults(struct cg_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->listen, "/run/consentgate/fcgi.sock");
	cfg->workers = 2;
	strcpy(cfg->base_path, "/consent");
	cfg->consent_max_age_days = 365;
	cfg->refusal_max_age_days = 180;
	cfg->cookie_secure = 1;
	cfg->refusal_is_objection = 1;
	cfg->gpc = CG_GPC_MARKETING;
	strcpy(cfg->database, "/var/lib/consentgate/consent.db");
	strcpy(cfg->geo_database, "/var/lib/consentgate/country.mmdb");
	strcpy(cfg->country_path, "country.iso_code");
	cfg->ipv4_prefix = 24;
	cfg->ipv6_prefix = 48;
	cfg->ip_prefix_days = 730;
	cfg->events_days_after_end = 1095;
	cfg->outbox_delivered_days = 7;
	cfg->report_min_visitors = 5;
	cfg->retry_cap_seconds = 300;
	cfg->forward_timeout_ms = 10000;
	cfg->forward_concurrency = 16;
	cfg->lease_seconds = 300;
	cfg->read_timeout_ms = 50;
	cfg->write_timeout_ms = 5000;
	cfg->connect_timeout_ms = 2000;
	cfg->request_timeout_ms = 5000;
	cfg->max_pending_connections = 1024;
	cfg->max_idle_connections = 4096;
	cfg->max_inflight_bytes = 8 * 1024 * 1024;
	cfg->visitor_bytes_per_hour = 256 * 1024;
	cfg->prefix_bytes_per_hour = 4 * 1024 * 1024;
	cfg->outbox_max_rows = 100000;
	cfg->erasure_notices_max_rows = 100000;
	cfg->head_interval_minutes = 60;
	strcpy(cfg->csp_base, "'self'");
	cfg->csp_report_to = 1;
}

static int valid_origin(const char *o)
{
	const char *host;

	if (strncmp(o, "https://", 8) == 0)
		host = o + 8;
	else if (strncmp(o, "http://", 7) == 0)
		host = o + 7;
	else
		return 0;
	if (!*host)
		return 0;
	for (; *host; host++)
		if (!((*host >= 'a' && *host <= 'z') || (*host >= '0' && *host <= '9') ||
		      *host == '.' || *host == '-' || *host == ':' || *host == '[' || *host == ']'))
			return 0;
	return 1;
}

static int set_int(struct parse_ctx *c, const struct directive *d, int *field,
                   const char *section, const char *key, const char *value)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < d->min || v > d->max) {
		fail(c, section, key, "must be a whole number from %ld to %ld", d->min, d->max);
		return 0;
	}
	*field = (int)v;
	return 1;
}

static int set_bool(struct parse_ctx *c, int *field, const char *section, const char *key,
                    const char *value)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
	    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
		*field = 1;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
	         strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
		*field = 0;
	else {
		fail(c, section, key, "%s", "must be true or false");
		return 0;
	}
	return 1;
}

static int set_origins(struct parse_ctx *c, struct cg_config *cfg, const char *section,
                       const char *key, const char *value)
{
	char tmp[1024], *save = NULL, *tok;

	if (strlen(value) >= sizeof tmp) {
		fail(c, section, key, "%s", "value too long");
		return 0;
	}
	strcpy(tmp, value);
	cfg->n_origins = 0;
	for (tok = strtok_r(tmp, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		if (cfg->n_origins == CG_MAX_ORIGINS) {
			fail(c, section, key, "%s", "too many origins");
			return 0;
		}
		if (!valid_origin(tok) || strlen(tok) >= CG_CFG_STR) {
			fail(c, section, key, "'%s' is not an origin (scheme://host[:port], lower case)", tok);
			return 0;
		}
		strcpy(cfg->allowed_origins[cfg->n_origins++], tok);
	}
	return 1;
}

static int set_value(struct parse_ctx *c, const struct directive *d, void *base,
                     const char *section, const char *key, const char *value)
{
	char *field = (char *)base + d->off;

	switch (d->type) {
	case T_STR:
		if (strlen(value) >= d->size) {
			fail(c, section, key, "%s", "value too long");
			return 0;
		}
		strcpy(field, value);
		return 1;
	case T_INT:
		return set_int(c, d, (int *)(void *)field, section, key, value);
	case T_BOOL:
		return set_bool(c, (int *)(void *)field, section, key, value);
	case T_ENUM:
		for (int i = 0; d->names[i]; i++)
			if (strcmp(d->names[i], value) == 0) {
				*(int *)(void *)field = i;
				return 1;
			}
		fail(c, section, key, "unknown value '%s'", value);
		return 0;
	case T_ORIGINS:
		return set_origins(c, base, section, key, value);
	}
	return 0;
}

/* [destination.NAME]: the one of that name, created at its first key */
static struct cg_destination *destination(struct parse_ctx *c, const char *dname,
                                          const char *section, const char *key)
{
	struct cg_config *cfg = c->cfg;
	size_t n = strlen(dname);
	int i;

	for (i = 0; i < cfg->n_dest; i++)
		if (strcmp(cfg->dest[i].name, dname) == 0)
			return &cfg->dest[i];
	if (i == CG_MAX_DESTINATIONS) {
		fail(c, section, key, "%s", "too many destinations");
		return NULL;
	}
	if (n == 0 || n >= sizeof cfg->dest[i].name ||
	    strspn(dname, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
		fail(c, section, key, "%s", "destination names use a-z, 0-9, _ and -");
		return NULL;
	}
	strcpy(cfg->dest[i].name, dname);
	cfg->dest[i].basis = CG_BASIS_CONSENT;
	cfg->dest[i].purpose = -1;
	cfg->dest[i].type = -1;
	c->section_line[i] = c->section_start;
	cfg->n_dest++;
	return &cfg->dest[i];
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *c = user;
	struct cg_config *cfg = c->cfg;
	const char *dname = NULL;
	void *base = cfg;

	if (c->failed)
		return 0;
	if (strncmp(section, "vendor.", 7) == 0) {
		char why[200];
		if (cg_config_vendor_key(cfg, section + 7, key, value, c->section_start, why, sizeof why) == 0)
			return 1;
		fail(c, section, key, "%s", why);
		return 0;
	}
	if (strncmp(section, "destination.", 12) == 0) {
		dname = section + 12;
		base = destination(c, dname, section, key);
		if (!base)
			return 0;
	}
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		const struct directive *d = &directives[i];
		if (strcmp(d->key, key) != 0)
			continue;
		if (dname ? strcmp(d->section, "destination") != 0 : strcmp(d->section, section) != 0)
			continue;
		if (dname) {
			int *seen = &((struct cg_destination *)base)->seen[i - dest_first()];
			if (*seen) {
				fail(c, section, key, "%s", "given twice");
				return 0;
			}
			*seen = 1;
		} else {
			if (c->seen[i]) {
				fail(c, section, key, "%s", "given twice");
				return 0;
			}
			c->seen[i] = 1;
		}
		return set_value(c, d, base, section, key, value);
	}
	for (size_t i = 0; i < NDIRECTIVES; i++)
		if (!dname && strcmp(directives[i].section, section) == 0) {
			fail(c, section, key, "%s", "unknown key");
			return 0;
		}
	fail(c, section, key, "%s", dname ? "unknown key" : "unknown section");
	return 0;
}

static int url_ok(const char *u)
{
	const char *h = strncmp(u, "https://", 8) == 0 ? u + 8
	              : strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
	return h && *h && *h != '/' && !strpbrk(u, " \t\"'<>\\");
}

static void validate_transfer(struct parse_ctx *c, struct cg_destination *d, const char *sec)
{
	if (cg_dest_kind(d->type)->defaults)   /* what the kind implies (GA4: Google) */
		cg_dest_kind(d->type)->defaults(d);
	if (d->country[0] && (strlen(d->country) != 2 || strspn(d->country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2))
		fail(c, sec, "country", "%s", "must be an ISO 3166-1 alpha-2 code in capitals, such as IE or US");
	else if (d->country[0] && !cg_country_adequate(d->country) && !d->transfer)
		fail(c, sec, "transfer_basis", "is required: %s is outside the EU/EEA and has no adequacy decision "
		     "(dpf, scc, bcr or derogation)", d->country);
	else if (d->transfer && !d->country[0])
		fail(c, sec, "country", "%s", "is required with transfer_basis (where the data goes)");
}

int cg_destination_declared(const struct cg_destination *d)
{
	return d->recipient[0] && d->country[0];
}

static int validate(struct parse_ctx *c)
{
	struct cg_config *cfg = c->cfg;
	char bad[80];
	size_t n;

	c->line = 0; /* errors below are about the file as a whole or a section */
	if (!cfg->listen[0])
		fail(c, "server", "listen", "%s", "must not be empty");
	if (cfg->base_path[0] != '/' || (n = strlen(cfg->base_path)) < 2 ||
	    cfg->base_path[n - 1] == '/' ||
	    strspn(cfg->base_path, "/abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		fail(c, "server", "base_path", "%s", "must look like /consent");
	if (!cfg->site[0])
		fail(c, "server", "site", "%s", "is required (it keys the pseudonymous hashes)");
	n = strlen(cfg->policy_version);
	if (!n || n > CG_VERSION_MAX ||
	    strspn(cfg->policy_version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		fail(c, "policy", "version", "%s", "is required: 1-32 of A-Z a-z 0-9 . _ -");
	if (cfg->backend == CG_BACKEND_SQLITE && !cfg->database[0])
		fail(c, "storage", "database", "%s", "must not be empty");
	if (cfg->backend == CG_BACKEND_POSTGRESQL && !cfg->url[0])
		fail(c, "storage", "url", "%s",
		     "is required for backend = postgresql (a libpq URI or conninfo; passwords belong in ~/.pgpass)");
	/* a claimed row must be sent (or given up) well inside its lease */
	if ((long)cfg->lease_seconds * 1000 < 3L * cfg->forward_timeout_ms)
		fail(c, "forwarder", "lease_seconds", "must be at least 3 x timeout_ms (%d s)",
		     (3 * cfg->forward_timeout_ms + 999) / 1000);
	if (!cg_csp_base_valid(cfg->csp_base, bad, sizeof bad))
		fail(c, "csp", "base", "'%s' is not a CSP source expression ('self', host, *.host, https://host/path, "
		     "scheme:, 'unsafe-inline', 'unsafe-eval')", bad);
	for (int i = 0; i < cfg->n_dest && !c->failed; i++) {
		struct cg_destination *d = &cfg->dest[i];
		const char *key, *why;
		char sec[80], kinds[128];
		snprintf(sec, sizeof sec, "destination.%s", d->name);
		c->line = c->section_line[i];
		if (d->type < 0)
			fail(c, sec, "type", "is required (%s)", cg_dest_kind_list(kinds, sizeof kinds));
		else if (!url_ok(d->url))
			fail(c, sec, "url", "%s", "must be an http:// or https:// URL");
		else if (d->purpose < 0)
			fail(c, sec, "purpose", "%s", "is required (preferences, statistics or marketing)");
		else if (d->purpose == CG_MARKETING && d->basis == CG_BASIS_LEGITIMATE_INTEREST)
			fail(c, sec, "basis", "%s",
			     "marketing cannot rest on legitimate interest (profiling for advertising needs consent)");
		else if (d->deletion_url[0] && !url_ok(d->deletion_url))
			fail(c, sec, "deletion_url", "%s", "must be an http:// or https:// URL");
		else if ((key = cg_dest_kind(d->type)->check(d, &why)))   /* the kind's own keys */
			fail(c, sec, key, "%s", why);
		else if (!d->vendor[0]) /* else from its vendor (cg_config_vendors) */
			validate_transfer(c, d, sec);
	}
	return c->failed ? CG_ERR_CONFIG : CG_OK;
}

int cg_config_parse(const char *text, const char *filename,
                    struct cg_config *cfg, char *err, size_t errlen)
{
	struct parse_ctx c;
	int rc;

	cg_config_defaults(cfg);
	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	c.filename = filename ? filename : "<string>";
	c.text = text ? text : "";
	c.err = err;
	c.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	rc = ini_parse_stream(reader, &c, handler, &c);
	if (c.failed)
		return CG_ERR_CONFIG;
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: syntax error", c.filename, rc > 0 ? rc : c.line);
		return CG_ERR_CONFIG;
	}
	return validate(&c);
}

const char *cg_config_id_cookie(const struct cg_config *cfg)
{
	return cfg->cookie_secure ? "__Host-cg_id" : "cg_id";
}

/* ---- the configuration in effect, as INI text (consentgated -t -v) ---- */

/* " value" of one directive as the parser would read it back; nothing for
 * an unset one. api_secret is a credential: whether it is set, never what. */
static int put_value(struct cg_buf *out, const struct cg_config *cfg, const struct directive *d,
                     const void *base)
{
	const char *field = (const char *)base + d->off;
	int v = d->type == T_STR || d->type == T_ORIGINS ? 0 : *(const int *)(const void *)field;
	int rc = 0;

	switch (d->type) {
	case T_STR:
		if (*field && strcmp(d->key, "api_secret") == 0)
			return cg_buf_adds(out, " (set, not printed)");
		return *field ? cg_buf_printf(out, " %s", field) : CG_OK;
	case T_INT:
		return cg_buf_printf(out, " %d", v);
	case T_BOOL:
		return cg_buf_adds(out, v ? " true" : " false");
	case T_ENUM:
		return v >= 0 ? cg_buf_printf(out, " %s", d->names[v]) : CG_OK;
	case T_ORIGINS:
		for (int i = 0; i < cfg->n_origins; i++)
			rc |= cg_buf_printf(out, " %s", cfg->allowed_origins[i]);
		return rc;
	}
	return CG_OK;
}

int cg_config_write(const struct cg_config *cfg, struct cg_buf *out)
{
	const char *section = NULL;
	size_t first = dest_first();
	int rc = 0;

	for (size_t i = 0; i < first; i++) {
		const struct directive *d = &directives[i];
		if (!section || strcmp(section, d->section) != 0)
			rc |= cg_buf_printf(out, "%s[%s]\n", section ? "\n" : "", d->section);
		section = d->section;
		rc |= cg_buf_printf(out, "%s =", d->key);
		rc |= put_value(out, cfg, d, cfg);
		rc |= cg_buf_adds(out, "\n");
	}
	for (int k = 0; k < cfg->n_vendors; k++)
		rc |= cg_vendor_write(&cfg->vendors[k], out);
	for (int k = 0; k < cfg->n_dest; k++) {
		rc |= cg_buf_printf(out, "\n[destination.%s]\n", cfg->dest[k].name);
		for (size_t i = first; i < NDIRECTIVES; i++) {
			rc |= cg_buf_printf(out, "%s =", directives[i].key);
			rc |= put_value(out, cfg, &directives[i], &cfg->dest[k]);
			rc |= cg_buf_adds(out, "\n");
		}
	}
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}
