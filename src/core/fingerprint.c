/* The configuration fingerprint (config.h): what instances sharing one
 * database must agree on, so a rolling change cannot split visitors between
 * two policies. Pure. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/config.h"

static void add(crypto_hash_sha256_state *h, const char *key, const char *value)
{
	/* "key=value\n": a value holds no newline (the INI reader splits lines) */
	crypto_hash_sha256_update(h, (const unsigned char *)key, strlen(key));
	crypto_hash_sha256_update(h, (const unsigned char *)"=", 1);
	crypto_hash_sha256_update(h, (const unsigned char *)value, strlen(value));
	crypto_hash_sha256_update(h, (const unsigned char *)"\n", 1);
}

static void add_int(crypto_hash_sha256_state *h, const char *key, long v)
{
	char num[24];

	snprintf(num, sizeof num, "%ld", v);
	add(h, key, num);
}

static void add_destination(crypto_hash_sha256_state *h, const struct cg_destination *d)
{
	add(h, "destination", d->name);
	add_int(h, "type", d->type);
	add(h, "url", d->url);
	add(h, "measurement_id", d->measurement_id);
	add_int(h, "purpose", d->purpose);
	add_int(h, "basis", d->basis);
	add(h, "recipient", d->recipient);
	add(h, "country", d->country);
	add_int(h, "transfer", d->transfer);
	if (d->vendor[0]) /* so that a configuration without vendors keeps its fingerprint */
		add(h, "vendor", d->vendor);
}

/* a vendor in use, as completed from the catalogue: what the banner shows
 * and clears is policy too */
static void add_vendor(crypto_hash_sha256_state *h, const struct cg_vendor *v)
{
	add(h, "vendor", v->name);
	add(h, "title", v->title);
	add_int(h, "category", v->category);
	add(h, "hosts", v->hosts);
	add(h, "cookies", v->cookies);
	add(h, "storage", v->storage);
	add(h, "recipient", v->recipient);
	add(h, "country", v->country);
	add_int(h, "transfer", v->transfer);
}

void cg_config_fingerprint(const struct cg_config *cfg, char out[CG_FINGERPRINT_LEN + 1])
{
	crypto_hash_sha256_state h;
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&h);
	add(&h, "consentgate/config-fingerprint", "v1");
	add(&h, "site", cfg->site);
	add(&h, "base_path", cfg->base_path);
	add(&h, "policy.version", cfg->policy_version);
	add_int(&h, "policy.consent_max_age_days", cfg->consent_max_age_days);
	add_int(&h, "policy.refusal_max_age_days", cfg->refusal_max_age_days);
	for (int i = 0; i < cfg->n_origins; i++)
		add(&h, "policy.allowed_origin", cfg->allowed_origins[i]);
	add_int(&h, "policy.cookie_secure", cfg->cookie_secure);
	add_int(&h, "policy.refusal_is_objection", cfg->refusal_is_objection);
	add_int(&h, "policy.gpc", cfg->gpc);
	add(&h, "policy.url", cfg->policy_url);
	add(&h, "geoip.country_path", cfg->country_path);
	add_int(&h, "geoip.ipv4_prefix", cfg->ipv4_prefix);
	add_int(&h, "geoip.ipv6_prefix", cfg->ipv6_prefix);
	add_int(&h, "retention.ip_prefix_days", cfg->ip_prefix_days);
	add_int(&h, "retention.events_days_after_end", cfg->events_days_after_end);
	add_int(&h, "retention.outbox_delivered_days", cfg->outbox_delivered_days);
	add(&h, "controller.name", cfg->controller_name);
	add(&h, "controller.contact", cfg->controller_contact);
	for (int i = 0; i < cfg->n_dest; i++)
		add_destination(&h, &cfg->dest[i]);
	for (int i = 0; i < cfg->n_vendors; i++)
		add_vendor(&h, &cfg->vendors[i]);
	/* which vendors a page may load, and whether the browser is told to
	 * block them: only when on, so a configuration without it keeps its
	 * fingerprint */
	if (cfg->csp_mode) {
		add_int(&h, "csp.mode", cfg->csp_mode);
		add(&h, "csp.base", cfg->csp_base);
	}
	crypto_hash_sha256_final(&h, digest);
	sodium_bin2hex(out, CG_FINGERPRINT_LEN + 1, digest, sizeof digest);
}
