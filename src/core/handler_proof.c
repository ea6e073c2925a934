/* Proof anyone can check: the public keys (GET /consent/keys), the newest
 * signed chain head (GET /consent/chain-head), and the signature on a
 * visitor's receipt. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/sign.h"
#include "consentgate/timefmt.h"
#include "handler_internal.h"

/* The envelope of the receipt's exact bytes (compact, sorted keys), as a
 * JSON object, or NULL when this instance has no signer. */
json_t *cgh_sign_receipt(struct ctx *c, const json_t *receipt)
{
	const struct cg_signer *s = c->ops->signer ? c->ops->signer(c->ops->ctx) : NULL;
	char *bytes = s && receipt ? json_dumps(receipt, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct cg_buf env;
	json_t *out = NULL;

	cg_buf_init(&env, CG_ENVELOPE_MAX * 2);
	if (bytes && cg_envelope_make(s, "receipt", bytes, strlen(bytes), &env) == CG_OK)
		out = json_loadb(env.p, env.len, 0, NULL);
	cg_buf_free(&env);
	free(bytes);
	return out;
}

void cgh_route_keys(struct ctx *c)
{
	struct cg_pubkey *keys = NULL;
	size_t n = 0;
	json_t *a;

	if (!c->ops->public_keys || c->ops->public_keys(c->ops->ctx, &keys, &n) != CG_OK) {
		cgh_respond_store_down(c);
		return;
	}
	a = json_array();
	for (size_t i = 0; i < n; i++) {
		char pem[CG_SIGN_PEM_MAX], raw[48], at[CG_TIME_LEN + 1];
		cg_key_pem(keys[i].pk, pem);
		cg_key_b64url(keys[i].pk, raw);
		cg_time_format(keys[i].created_ms, at);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "key_id", keys[i].key_id,
		                                   "alg", "Ed25519", "public_key", raw, "spki_pem", pem, "created_at", at));
	}
	free(keys);
	cgh_respond_json(c, 200, json_pack("{s:o}", "keys", a));
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
