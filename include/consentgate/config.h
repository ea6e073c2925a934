/* Configuration (docs/configuration.md), parsed from a string so tests need no files.
 * Unknown sections or keys, bad values and missing required keys are errors
 * that name the file, the line and the key. Pure. */
#ifndef CONSENTGATE_CONFIG_H
#define CONSENTGATE_CONFIG_H

#include <stddef.h>
#include "consentgate/dest.h"   /* enum cg_dest_type */
#include "consentgate/vendor.h"

#define CG_MAX_ORIGINS 16
#define CG_MAX_DESTINATIONS 8
#define CG_CFG_STR 256

enum cg_gpc_scope { CG_GPC_NONE = 0, CG_GPC_MARKETING, CG_GPC_ALL };
enum cg_basis { CG_BASIS_CONSENT = 0, CG_BASIS_LEGITIMATE_INTEREST };
enum cg_backend { CG_BACKEND_SQLITE = 0, CG_BACKEND_POSTGRESQL };
#define CG_URL_MAX 1024

struct cg_destination {
	char name[64];
	int type;                 /* enum cg_dest_type: its row of the kinds (dest.h) */
	char url[CG_CFG_STR];
	char measurement_id[64];
	char api_secret[128];
	int purpose;              /* enum cg_purpose */
	int basis;                /* enum cg_basis */
	/* where the data goes: the company, its country, the transfer basis
	 * (transfer.h); "" / 0 = not declared */
	char recipient[128];
	char country[3];
	int transfer;             /* enum cg_transfer */
	/* erasure notices (erasure.h): GA4's User Deletion API, when set */
	char property_id[32];
	char deletion_url[CG_CFG_STR];
	char deletion_token_file[CG_CFG_STR];  /* an OAuth access token, kept fresh by the operator's tooling */
	char vendor[CG_VENDOR_NAME_MAX + 1];   /* a [vendor.NAME] in use: recipient, country, transfer basis */
	int seen[16];             /* which keys were given (validation) */
};

struct cg_config {
	/* [server] */
	char listen[CG_CFG_STR];
	char socket_group[64];
	int workers;
	char base_path[64];
	char site[128];
	/* [policy] */
	char policy_version[33];
	int consent_max_age_days;
	int refusal_max_age_days;
	char allowed_origins[CG_MAX_ORIGINS][CG_CFG_STR];
	int n_origins;
	int cookie_secure;
	int refusal_is_objection;
	int gpc;                  /* enum cg_gpc_scope */
	/* [storage] */
	int backend;              /* enum cg_backend */
	char database[CG_CFG_STR];    /* sqlite: the file */
	char url[CG_URL_MAX];         /* postgresql: a libpq URI or key=value string */
	int read_timeout_ms;          /* a request's read (state lookup) must finish within this */
	int write_timeout_ms;         /* a batch must commit within this, else 503 */
	int connect_timeout_ms;       /* one connection attempt (postgresql) */
	/* [geoip] */
	char geo_database[CG_CFG_STR];
	char country_path[64];
	int ipv4_prefix;
	int ipv6_prefix;
	/* [retention] */
	int ip_prefix_days;
	int events_days_after_end;
	int outbox_delivered_days;
	/* [controller] */
	char controller_name[CG_CFG_STR];
	char controller_contact[CG_CFG_STR];
	char policy_url[CG_CFG_STR];
	/* [report] */
	int report_min_visitors;
	/* [forwarder] */
	int retry_cap_seconds;
	int forward_timeout_ms;
	int forward_concurrency;
	int lease_seconds;        /* outbox rows claimed by one instance for this long */
	/* [server], cont. */
	int request_timeout_ms;       /* a connection's whole request must arrive within this */
	int max_pending_connections;  /* connections whose request is still arriving */
	int max_idle_connections;     /* kept connections idle between requests */
	int max_inflight_bytes;       /* requests waiting for a commit, in bytes; past it 503 busy */
	/* [limits]: what /collect may queue */
	int visitor_bytes_per_hour;   /* payload bytes per visitor (subject) per hour */
	int prefix_bytes_per_hour;    /* payload bytes per client prefix (/24, /48) per hour */
	int outbox_max_rows;          /* pending analytics rows in the whole outbox */
	/* [limits]: pending erasure notices (erasure.h), a bound of their own */
	int erasure_notices_max_rows;
	/* [signing] */
	char key_file[CG_CFG_STR];    /* the instance's Ed25519 secret key; "": the default place */
	char anchor_command[CG_CFG_STR]; /* run with each signed head on stdin; "": none */
	int head_interval_minutes;    /* how often the chain head is signed */
	/* [banner] */
	char banner_dir[CG_CFG_STR];  /* banner.js + banner.css as served; "": no banner build is recorded */
	/* [policy], cont. */
	char notice_file[CG_CFG_STR]; /* the privacy notice of this policy version, as shown; "": none */
	/* [destination.NAME] */
	struct cg_destination dest[CG_MAX_DESTINATIONS];
	int n_dest;
	/* [vendors] and [vendor.NAME]: the vendors the site's pages use (vendor.h) */
	char vendor_catalogue[CG_CFG_STR]; /* "": the installed one (cg_config_load fills it in) */
	struct cg_vendor vendors[CG_MAX_VENDORS];
	int n_vendors;
	char vendors_id[CG_VENDORS_ID_LEN + 1]; /* the list's id (cg_config_vendors); "": not completed */
	/* [csp] (csp.h): the per-visitor Content-Security-Policy */
	int csp_mode;                 /* enum cg_csp_mode */
	char csp_base[512];           /* the site's own sources, in every directive */
	int csp_report_to;            /* report-to beside report-uri (the Reporting API) */
};

/* Fills *cfg with defaults, then applies `text`. On error returns
 * CG_ERR_CONFIG and writes "FILE:LINE: [section] key: reason" to err. */
int cg_config_parse(const char *text, const char *filename,
                    struct cg_config *cfg, char *err, size_t errlen);
void cg_config_defaults(struct cg_config *cfg);

/* SHA-256 (hex) over every setting that decides what happens to a visitor
 * or an event: [policy], site, base_path, [geoip] prefixes, [retention],
 * [controller] and the destinations (api_secret excepted). Instances that
 * share a database must agree on it; listen, workers, timeouts, limits and
 * paths may differ. */
#define CG_FINGERPRINT_LEN 64
void cg_config_fingerprint(const struct cg_config *cfg, char out[CG_FINGERPRINT_LEN + 1]);

/* The configuration in effect as INI text that cg_config_parse reads back:
 * every directive, in the order of the directive table, with its value —
 * defaults included, "key =" for an unset one — and every [vendor.NAME]
 * (cg_vendor_write) and [destination.NAME].
 * api_secret is written as "(set, not printed)" when set. Appends to *out;
 * CG_ERR_TOO_LONG when it refused an append. (consentgated -t -v) */
struct cg_buf;
int cg_config_write(const struct cg_config *cfg, struct cg_buf *out);
/* Completes the [vendor.NAME] sections from the catalogue (NULL: none)
 * and checks them, then gives each destination that names a vendor the
 * vendor's recipient, country and transfer basis where it declares none.
 * cg_config_load calls it after cg_config_parse; errors like the parse's. */
int cg_config_vendors(struct cg_config *cfg, const struct cg_catalogue *cat, const char *filename,
                      char *err, size_t errlen);
/* Used by cg_config_parse: one key of a [vendor.NAME] section at line. */
int cg_config_vendor_key(struct cg_config *cfg, const char *name, const char *key, const char *value,
                         int line, char *why, size_t n);

/* 1 if the destination names its recipient and country */
int cg_destination_declared(const struct cg_destination *d);

/* Cookie names depend on cookie_secure (the __Host- prefix needs Secure). */
const char *cg_config_id_cookie(const struct cg_config *cfg);

#endif
