/* The request handler's private parts, shared by handler.c (helpers,
 * consent routes, the routing table), handler_collect.c (/collect,
 * /consent/check) and handler_rights.c (export, erase, report). */
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
void cgh_respond_error(struct ctx *c, int status, const char *code, const char *detail, const char *field);
void cgh_respond_dup_cookie(struct ctx *c);
void cgh_respond_store_down(struct ctx *c);
void cgh_add_cookie(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cgh_header_is_one(const char *h);
int cgh_read_id(struct ctx *c, char id[CG_ID_LEN + 1]);
int cgh_need_body(struct ctx *c, size_t max, int text_plain_ok);
void cgh_bad_body(struct ctx *c, const struct cg_field_error *fe);

void cgh_route_collect(struct ctx *c);
void cgh_route_check(struct ctx *c);
void cgh_route_export(struct ctx *c);
void cgh_route_erase(struct ctx *c);
void cgh_route_report(struct ctx *c);

#endif
