/* The configuration's vendors (config.h, vendor.h): [vendor.NAME] sections
 * completed from the catalogue, and destinations that name their vendor.
 * Pure. */
#include <stdio.h>
#include <string.h>

#include "consentgate/config.h"
#include "consentgate/csp.h"
#include "consentgate/err.h"
#include "consentgate/transfer.h"

int cg_config_vendor_key(struct cg_config *cfg, const char *name, const char *key, const char *value,
                         int line, char *why, size_t n)
{
	struct cg_vendor *v = NULL;
	int k;

	for (int i = 0; i < cfg->n_vendors; i++)
		if (strcmp(cfg->vendors[i].name, name) == 0)
			v = &cfg->vendors[i];
	if (!v) {
		if (cfg->n_vendors == CG_MAX_VENDORS)
			return snprintf(why, n, "too many vendors (at most %d)", CG_MAX_VENDORS), -1;
		if (!name[0] || strlen(name) > CG_VENDOR_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name))
			return snprintf(why, n, "vendor names use a-z, 0-9 and -"), -1;
		v = &cfg->vendors[cfg->n_vendors++];
		memset(v, 0, sizeof *v);
		strcpy(v->name, name);
		v->category = -1;
		v->line = line;
	}
	if (!key) /* an empty section: a catalogue name as it is */
		return 0;
	if ((k = cg_vendor_key(key)) < 0)
		return snprintf(why, n, "unknown key"), -1;
	if (v->seen & (1u << k))
		return snprintf(why, n, "given twice"), -1;
	return cg_vendor_set(v, k, value, why, n);
}

static int fail(char *err, size_t errlen, const char *filename, int line, const char *section,
                const char *key, const char *why)
{
	if (line > 0)
		snprintf(err, errlen, "%s:%d: [%s] %s: %s", filename, line, section, key, why);
	else
		snprintf(err, errlen, "%s: [%s] %s: %s", filename, section, key, why);
	return CG_ERR_CONFIG;
}

/* the destination's recipient, country and transfer basis from its vendor,
 * where it declares none itself (its own keys override) */
static int destination_vendor(struct cg_config *cfg, struct cg_destination *d, char *why, size_t n)
{
	const struct cg_vendor *v = NULL;

	for (int i = 0; i < cfg->n_vendors; i++)
		if (strcmp(cfg->vendors[i].name, d->vendor) == 0)
			v = &cfg->vendors[i];
	if (!v)
		return snprintf(why, n, "'%s' is not a vendor in use: add a [vendor.%s] section (a catalogue name "
		                "needs no keys)", d->vendor, d->vendor), -1;
	if (!d->recipient[0]) { /* the site itself: the controller, by name */
		const char *r = strcmp(v->recipient, CG_VENDOR_SELF) == 0 && cfg->controller_name[0]
		              ? cfg->controller_name : v->recipient;
		size_t k = strlen(r) < sizeof d->recipient ? strlen(r) : sizeof d->recipient - 1;
		memcpy(d->recipient, r, k);
		d->recipient[k] = '\0';
	}
	if (!d->country[0]) {
		memcpy(d->country, v->country, sizeof d->country);
		if (!d->transfer)
			d->transfer = v->transfer;
	}
	if (d->country[0] && !cg_country_adequate(d->country) && !d->transfer)
		return snprintf(why, n, "%s is outside the EU/EEA and has no adequacy decision: give transfer_basis",
		                d->country), -1;
	return 0;
}

/* the id of the list the banner shows (GET /consent/vendors), once */
static int vendors_id(struct cg_config *cfg, char *err, size_t errlen)
{
	struct cg_buf b;
	int rc;

	cg_buf_init(&b, CG_VENDOR_LIST_MAX);
	rc = cg_vendor_list(cfg->vendors, cfg->n_vendors, cfg->controller_name, &b, cfg->vendors_id);
	cg_buf_free(&b);
	if (rc != CG_OK)
		snprintf(err, errlen, "the vendor list is larger than %d bytes", CG_VENDOR_LIST_MAX);
	return rc == CG_OK ? CG_OK : CG_ERR_CONFIG;
}

int cg_config_vendors(struct cg_config *cfg, const struct cg_catalogue *cat, const char *filename,
                      char *err, size_t errlen)
{
	char sec[80], why[240];
	const char *key;

	filename = filename ? filename : "<string>";
	for (int i = 0; i < cfg->n_vendors; i++) {
		struct cg_vendor *v = &cfg->vendors[i];
		const struct cg_vendor *from = cg_catalogue_find(cat, v->name);
		snprintf(sec, sizeof sec, "vendor.%s", v->name);
		if (from)
			cg_vendor_inherit(v, from);
		if (cg_vendor_check(v, &key, why, sizeof why) == 0)
			continue;
		if (!from && !(v->seen & ~(1u << CG_VK_TITLE)))
			snprintf(why, sizeof why, "'%s' is not in the vendor catalogue%s: give category, hosts, cookies, "
			         "storage, recipient, country and source", v->name, cat ? "" : " (none was read)");
		return fail(err, errlen, filename, v->line, sec, key, why);
	}
	for (int i = 0; i < cfg->n_dest; i++) {
		struct cg_destination *d = &cfg->dest[i];
		snprintf(sec, sizeof sec, "destination.%s", d->name);
		if (d->vendor[0] && destination_vendor(cfg, d, why, sizeof why))
			return fail(err, errlen, filename, 0, sec, "vendor", why);
	}
	if (cfg->csp_mode != CG_CSP_OFF) { /* the largest policy must fit nginx's buffer */
		struct cg_csp csp;
		if (cg_csp_build(cfg, &csp, why, sizeof why) != CG_OK)
			return fail(err, errlen, filename, 0, "csp", "mode", why);
		cg_csp_free(&csp);
	}
	return vendors_id(cfg, err, errlen);
}
