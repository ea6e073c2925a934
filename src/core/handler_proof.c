/* Proof anyone can check: the public keys (GET /consent/keys), the newest
 * signed chain head (GET /consent/chain-head), and the signature on a
 * visitor's receipt. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/sign.h"
#include "handler_internal.h"

json_t *cgh_sign_receipt(struct ctx *c, const json_t *receipt)
{
	return cg_receipt_envelope(c->ops->signer ? c->ops->signer(c->ops->ctx) : NULL, receipt);
}

void cgh_route_keys(struct ctx *c)
{
	struct cg_pubkey *keys = NULL;
	size_t n = 0;

	if (!c->ops->public_keys || c->ops->public_keys(c->ops->ctx, &keys, &n) != CG_OK) {
		cgh_respond_store_down(c);
		return;
	}
	cgh_respond_json(c, 200, cg_keys_json(keys, n));
	free(keys);
}

void cgh_route_chain_head(struct ctx *c)
{
	struct cg_signed_head h = {0};
	json_t *o = NULL;
	int rc = c->ops->latest_head ? c->ops->latest_head(c->ops->ctx, &h) : CG_ERR_NOT_FOUND;

	if (rc == CG_ERR_NOT_FOUND) {
		cgh_respond_error(c, CG_ANS_NOT_FOUND, "no chain head has been signed yet", NULL);
		return;
	}
	if (rc != CG_OK || !(o = json_loads(h.envelope, 0, NULL))) {
		cg_signed_head_clear(&h);
		cgh_respond_store_down(c);
		return;
	}
	/* beside the envelope, not inside what was signed */
	json_object_set_new(o, "head_id", json_integer(h.id));
	json_object_set_new(o, "anchor", h.anchor ? json_string(h.anchor) : json_null());
	cg_signed_head_clear(&h);
	cgh_respond_json(c, 200, o);
}
