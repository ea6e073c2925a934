/* Validation of the request bodies of the /consent routes (docs/api.md#routes).
 * Pure: every rule here answers with the field that broke it. */
#ifndef CONSENTGATE_CONSENT_H
#define CONSENTGATE_CONSENT_H

#include <stddef.h>
#include "consentgate/config.h"
#include "consentgate/event.h"

#define CG_BODY_MAX 4096

struct cg_field_error {
	char field[48];
	char detail[160];
};

struct cg_choice_req {
	int choice[CG_NPURPOSES];            /* 0 or 1 */
	char policy_version[CG_VERSION_MAX + 1];
	char lang[CG_LANG_MAX + 1];          /* "" when not sent */
	char banner[33];                /* the build id the banner names (shown.h), or "" */
	char vendors[65];               /* the id of the vendor list it showed (vendor.h), or "" */
	char page[CG_PAGE_MAX + 1];          /* normalised: scheme://host/path; "" when it is
	                                      * none (not an http(s) URL is no error) */
};

/* CG_ERR_INVALID with fe filled for any rule broken (fe->field "" means the
 * body is not JSON at all: bad_json). */
int cg_consent_parse_choice(const char *body, size_t len,
                            struct cg_choice_req *out, struct cg_field_error *fe);
/* {"purpose": "statistics"} */
int cg_consent_parse_objection(const char *body, size_t len, int *purpose,
                               struct cg_field_error *fe);
/* Keeps scheme://host[:port]/path of an http(s) URL; drops userinfo, query
 * and fragment. CG_ERR_INVALID or CG_ERR_TOO_LONG otherwise. */
int cg_page_normalise(const char *url, char *out, size_t outlen);
/* 1 when a normalised page is on the site's own hosts: one of the origins
 * ([policy] allowed_origins: scheme://host[:port]), or, when there are
 * none, the request's Host (either scheme). Default ports compare equal to
 * none. A page elsewhere is recorded as none. */
int cg_page_own(const char *page, const struct cg_config *cfg, const char *host);

#endif
