/* How each destination kind's requests go out (dest.h has the kinds'
 * table; this is its daemon half): the forwarder (forwarder.c) batches a
 * destination's claimed rows and asks the kind's row here for the body,
 * the headers and the URL. One file per kind (fwd_KIND.c), one row of
 * CG_DEST_KINDS. */
#ifndef CONSENTGATE_FWD_KIND_H
#define CONSENTGATE_FWD_KIND_H

#include <curl/curl.h>
#include <stddef.h>

#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/storage.h"

/* One HTTP request being built: its body, its headers, the rows it carries
 * (n: offered, then how many went). */
struct cg_fwd_request {
	struct cg_buf body;
	struct curl_slist *headers;
	size_t n;
};

struct cg_fwdkind {
	size_t batch;          /* event rows per request at most */
	size_t notice_batch;   /* erasure notices per request at most */
	/* notices go to a metered API (GA4's User Deletion API): one a
	 * second per destination, and a 403 (the day's quota spent) retried */
	int metered;
	/* the body and headers for rows items[first .. first+r->n): events,
	 * or erasure notices (cg_erasure_is); CG_ERR_IO: a credential cannot
	 * be read */
	int (*events)(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
	              size_t first);
	int (*notices)(struct cg_fwd_request *r, const struct cg_destination *d, const struct cg_outbox_item *items,
	               size_t first);
	/* where they go (credentials may travel in it) */
	int (*url)(CURL *easy, const struct cg_destination *d, int notice, char *out, size_t cap);
};

/* the row of a destination's type (NULL for none) */
const struct cg_fwdkind *cg_fwdkind_of(int type);

/* "X-Consentgate-Event-Ids: 17,18,19": every delivery names its outbox
 * rows' ids, items[first .. first+n), in the order of the body */
int cg_fwd_ids_header(struct cg_fwd_request *r, const struct cg_outbox_item *items, size_t first, size_t n);

#endif
