/* The request handler's private parts, shared by handler_respond.c (the
 * answers), handler.c (helpers, consent routes, the routing table),
 * handler_collect.c (/collect,
 * /consent/check), handler_rights.c (export, erase, report),
 * handler_shown.c and handler_vendors.c (what a choice was shown),
 * handler_csp.c (the per-visitor Content-Security-Policy). */
#ifndef CONSENTGATE_HANDLER_INTERNAL_H
#define CONSENTGATE_HANDLER_INTERNAL_H

#include <jansson.h>
#include "consentgate/handler.h"
#include "consentgate/id.h"

#define RESPONSE_MAX (256 * 1024)

struct ctx {
	const struct cg_config *cfg;
	const struct cg_ops *ops;
	const struct cg_request *req;
	struct cg_response *res;
};

enum id_status { ID_NONE, ID_VALID, ID_DUPLICATE };
struct cg_field_error;

void cgh_respond_json(struct ctx *c, int status, json_t *obj);
/* the error answer `answer` (enum cg_answer) with its detail and field */
void cgh_respond_error(struct ctx *c, int answer, const char *detail, const char *field);
void cgh_respond_store_down(struct ctx *c);
/* the error answer with the members of extra (taken) */
void cgh_respond_answer(struct ctx *c, int answer, const char *detail, json_t *extra);
/* the event the answer waits for, and the 503's detail if it fails */
void cgh_plan_event(struct ctx *c, const struct cg_event *ev, const char *fail_detail);
void cgh_add_cookie(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cgh_header_is_one(const char *h);
int cgh_read_id(struct ctx *c, char id[CG_ID_LEN + 1]);
void cgh_bad_body(struct ctx *c, const struct cg_field_error *fe);

void cgh_route_collect(struct ctx *c);
void cgh_route_check(struct ctx *c);
void cgh_route_csp(struct ctx *c);
void cgh_route_csp_report(struct ctx *c);
int cgh_report_kind(struct ctx *c);
void cgh_route_export(struct ctx *c);
void cgh_route_erase(struct ctx *c);
void cgh_route_report(struct ctx *c);
void cgh_route_keys(struct ctx *c);
void cgh_route_chain_head(struct ctx *c);
void cgh_route_vendors(struct ctx *c);
struct cg_choice_req;
/* what a choice was shown, as its record (handler_shown.c); 0 with the answer given */
int cgh_shown(struct ctx *c, const struct cg_choice_req *body, char out[CG_BANNER_MAX + 1]);
/* the vendor list a choice was shown (handler_vendors.c); 0 with the answer given */
int cgh_vendors_shown(struct ctx *c, const struct cg_choice_req *body, int grants,
                      char id[CG_VENDORS_ID_LEN + 1], int *asserted);
void cgh_expire_vendor_cookies(struct ctx *c);
/* the receipt's signed envelope as an object, or NULL (no signer) */
json_t *cgh_sign_receipt(struct ctx *c, const json_t *receipt);

#endif
