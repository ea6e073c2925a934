/* Vendors as data (docs/configuration.md#vendors, docs/banner.md#page-gating):
 * who a page's scripts and embeds belong to, what they store in the
 * visitor's browser, and where the data goes. Pure.
 *
 * The catalogue (conf/vendors.ini, installed as
 * share/consentgate/vendors.ini) has one section per vendor with every key;
 * a site declares the vendors it uses as [vendor.NAME] sections: a
 * catalogue name needs no keys (a key given overrides the catalogue's), any
 * other name must give them all. The vendors in use are the list the banner
 * shows (GET /consent/vendors); its id is the SHA-256 of its exact bytes,
 * recorded with each choice like the banner build and the notice. */
#ifndef CONSENTGATE_VENDOR_H
#define CONSENTGATE_VENDOR_H

#include <stddef.h>
#include "consentgate/buf.h"

#define CG_MAX_VENDORS 24        /* in use by one site */
#define CG_CATALOGUE_MAX 48      /* sections of a catalogue */
#define CG_VENDOR_NAME_MAX 47
#define CG_VENDOR_PATTERN_MAX 64 /* a cookie or storage name (pattern); a name a withdrawal expires */
#define CG_VENDORS_ID_LEN 64     /* SHA-256, hex */
#define CG_VENDOR_LIST_MAX 65536 /* bytes of the list the banner reads */
#define CG_VENDOR_SELF "self"    /* recipient: the site itself (self-hosted) */

/* The keys of a vendor, in this order (bits of cg_vendor.seen). */
enum cg_vendor_key {
	CG_VK_TITLE = 0, CG_VK_CATEGORY, CG_VK_HOSTS, CG_VK_COOKIES, CG_VK_STORAGE,
	CG_VK_RECIPIENT, CG_VK_COUNTRY, CG_VK_TRANSFER, CG_VK_SOURCE, CG_NVK
};

struct cg_vendor {
	char name[CG_VENDOR_NAME_MAX + 1];
	char title[64];          /* what visitors read; "" = the name */
	int category;            /* enum cg_purpose; -1 = not given */
	char hosts[512];         /* CSP source expressions, space-separated */
	char cookies[384];       /* first-party cookie names, a trailing '*' matches any rest */
	char storage[256];       /* localStorage / sessionStorage keys, the same way */
	char recipient[128];     /* the company, or "self" */
	char country[3];         /* ISO 3166-1 alpha-2; "" only with recipient self */
	int transfer;            /* enum cg_transfer */
	char source[256];        /* https URL of the vendor's own documentation */
	unsigned seen;           /* bit per enum cg_vendor_key given */
	int line;                /* line of its [vendor.NAME] section in the site's file (errors) */
};

struct cg_catalogue {
	struct cg_vendor v[CG_CATALOGUE_MAX];
	int n;
};

/* Parses a catalogue; every section must be complete and valid (the
 * shipped one is tested). CG_ERR_CONFIG with "FILE: [NAME] key: why" (or
 * "FILE:LINE: syntax error"). */
int cg_catalogue_parse(const char *text, const char *filename, struct cg_catalogue *cat,
                       char *err, size_t errlen);
const struct cg_vendor *cg_catalogue_find(const struct cg_catalogue *cat, const char *name);

/* "category", ... by enum cg_vendor_key; -1 for an unknown key */
int cg_vendor_key(const char *key);
const char *cg_vendor_key_name(int k);
/* Sets one key; 0 or -1 with why ("must be ..."). */
int cg_vendor_set(struct cg_vendor *v, int key, const char *value, char *why, size_t n);
/* Valid and complete: -1 with *key naming the first missing or wrong one. */
int cg_vendor_check(const struct cg_vendor *v, const char **key, char *why, size_t n);
/* Fills what a site's vendor did not give from its catalogue entry (a
 * given country drops the catalogue's transfer basis: it was for another
 * country). */
void cg_vendor_inherit(struct cg_vendor *v, const struct cg_vendor *from);

/* 1 if s is a CSP source expression (host-source, scheme-source or 'self') */
int cg_csp_source_valid(const char *s);
/* 1 if s is a cookie or storage name, optionally ending in '*' */
int cg_vendor_pattern_valid(const char *s);
/* 1 if the cookie name is matched by one of the space-separated patterns */
int cg_vendor_pattern_match(const char *patterns, const char *name, size_t len);

/* The list the banner shows, as exact bytes (a JSON array, in the order
 * of the configuration) and its id; controller: the name shown for
 * recipient "self". CG_ERR_* from the buffer. */
int cg_vendor_list(const struct cg_vendor *v, int n, const char *controller, struct cg_buf *out,
                   char id[CG_VENDORS_ID_LEN + 1]);
/* 1 if s is 64 lower-case hex digits */
int cg_vendors_id_valid(const char *s);
/* The vendor as the [vendor.NAME] section that cg_config_parse reads back:
 * every key with its value in effect (the title falls back to the name;
 * no country for recipient "self", which has none). Appends to *out;
 * CG_ERR_* from the buffer. (consentgated -t -v) */
int cg_vendor_write(const struct cg_vendor *v, struct cg_buf *out);

#endif
