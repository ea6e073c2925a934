/* The daemon half of the destination kinds' table (fwd_kind.h), and what
 * every kind's request carries. */
#include "consentgate/dest.h"
#include "consentgate/err.h"
#include "fwd_kind.h"

#define CG_FWD_DECL_(k, K) extern const struct cg_fwdkind cg_fwdkind_##k;
CG_DEST_KINDS(CG_FWD_DECL_)

#define CG_FWD_ROW_(k, K) &cg_fwdkind_##k,
static const struct cg_fwdkind *const kinds[] = {CG_DEST_KINDS(CG_FWD_ROW_)};

const struct cg_fwdkind *cg_fwdkind_of(int type)
{
	return type >= 0 && type < CG_DEST_NKINDS ? kinds[type] : NULL;
}

/* Every delivery names its outbox rows' ids, which never change (not on a
 * retry, not when another instance takes over a lease, not when the log
 * moves to PostgreSQL), so a receiver can drop a repeat: a row is sent twice
 * only if its sender died between sending and recording the outcome. */
int cg_fwd_ids_header(struct cg_fwd_request *r, const struct cg_outbox_item *items, size_t first, size_t n)
{
	struct cg_buf h;
	struct curl_slist *l;
	int rc = CG_OK;

	cg_buf_init(&h, 64 + 21 * n);
	rc = cg_buf_adds(&h, "X-Consentgate-Event-Ids: ");
	for (size_t i = first; i < first + n && rc == CG_OK; i++)
		rc = cg_buf_printf(&h, "%s%lld", i > first ? "," : "", (long long)items[i].id);
	l = rc == CG_OK ? curl_slist_append(r->headers, h.p) : NULL;
	cg_buf_free(&h);
	if (!l)
		return CG_ERR_NOMEM;
	r->headers = l;
	return CG_OK;
}
