/* The per-visitor Content-Security-Policy (docs/nginx.md#content-security-policy):
 * from [csp] mode and base, the vendors in use and the categories a visitor
 * has granted, the value GET /consent/csp hands nginx. Pure.
 *
 * Only three categories decide a policy, so every combination is built once
 * when the configuration is read (struct cg_csp, 8 values) and a request
 * only picks one: /consent/csp costs what /consent/check costs. */
#ifndef CONSENTGATE_CSP_H
#define CONSENTGATE_CSP_H

#include <stddef.h>
#include "consentgate/buf.h"

enum cg_csp_mode { CG_CSP_OFF = 0, CG_CSP_REPORT, CG_CSP_ENFORCE };

/* the largest policy: the shipped nginx snippet's fastcgi_buffer_size
 * (32k) holds it with the rest of the answer's head; -t refuses a larger */
#define CG_CSP_MAX 16384
#define CG_CSP_COMBOS 8           /* bit per enum cg_purpose granted */
#define CG_CSP_REPORT_GROUP "consentgate-csp" /* report-to's name (Reporting-Endpoints) */

struct cg_config;

struct cg_csp {
	int mode;                     /* enum cg_csp_mode */
	struct cg_buf policy[CG_CSP_COMBOS];
};

/* Builds every combination (none when mode is off). CG_ERR_CONFIG with why
 * in err when a policy would be over CG_CSP_MAX. cg_csp_free frees. */
int cg_csp_build(const struct cg_config *cfg, struct cg_csp *out, char *err, size_t errlen);
void cg_csp_free(struct cg_csp *csp);
/* the policy for a visitor who granted the categories in `granted` (bit
 * per enum cg_purpose); NULL when mode is off */
const char *cg_csp_policy(const struct cg_csp *csp, unsigned granted);
/* the response header the daemon answers with (NULL when off) */
const char *cg_csp_header(int mode);
const char *cg_csp_mode_name(int mode);

/* [csp] base: space-separated source expressions (vendor.h's
 * cg_csp_source_valid) and the keywords 'unsafe-inline', 'unsafe-eval',
 * 'wasm-unsafe-eval' (script-src only). 1 if valid; else 0 with the
 * first bad word in bad. */
int cg_csp_base_valid(const char *base, char *bad, size_t n);

#endif
