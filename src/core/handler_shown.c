/* What a choice was shown (shown.h), as POST /consent records it: the
 * banner build, the notice in service with it, the vendor list. Pure. */
#include <string.h>

#include "consentgate/consent.h"
#include "consentgate/err.h"
#include "consentgate/shown.h"
#include "consentgate/vendor.h"
#include "handler_internal.h"

/* What was in front of the visitor (shown.h): the build their banner names
 * — refused if never served (400), or retired while the choice grants
 * anything (409, so a cached old banner asks again; refusing is never
 * refused, Art. 7(3)) — or, when a client names none, the build served now,
 * marked as asserted by the server; with the notice in service with that
 * build: the current one, or for a retired build the one of its time. 0
 * with the answer given. */
static int build_and_notice(struct ctx *c, const struct cg_choice_req *body, int grants, struct cg_what_shown *w)
{
	char notice_then[65] = "";
	int status;

	if (c->ops->shown_now)
		c->ops->shown_now(c->ops->ctx, w->build, w->notice);
	if (!body->banner[0]) {
		w->asserted = 1;
		return 1;
	}
	status = c->ops->build_status ? c->ops->build_status(c->ops->ctx, body->banner, notice_then)
	                              : CG_BUILD_UNKNOWN;
	if (status == CG_BUILD_UNKNOWN) {
		cgh_respond_error(c, CG_ANS_BAD_FIELD, "banner names a banner build this site never served", "banner");
		return 0;
	}
	if (status == CG_BUILD_RETIRED && grants) {
		cgh_respond_answer(c, CG_ANS_STALE_BANNER, "this banner is an old build; reload the page",
		                   w->build[0] ? json_pack("{s:s}", "current_build", w->build) : NULL);
		return 0;
	}
	if (status == CG_BUILD_RETIRED)
		memcpy(w->notice, notice_then, sizeof w->notice);
	memcpy(w->build, body->banner, sizeof w->build);
	return 1;
}

int cgh_shown(struct ctx *c, const struct cg_choice_req *body, char out[CG_BANNER_MAX + 1])
{
	int grants = body->choice[0] == 1 || body->choice[1] == 1 || body->choice[2] == 1, asserted;
	struct cg_what_shown w = {0};
	char vendors[CG_VENDORS_ID_LEN + 1];

	out[0] = '\0';
	if (!build_and_notice(c, body, grants, &w) || !cgh_vendors_shown(c, body, grants, vendors, &asserted))
		return 0;
	/* The vendor list goes into the chain beside build and notice once the
	 * site declares vendors (the daemon keeps its bytes then); one the
	 * client did not name is the server's word like a build it did not
	 * name: ";asserted" says the record holds something the client did not
	 * name. Without a banner build configured nothing is recorded. */
	if (c->cfg->n_vendors > 0) {
		memcpy(w.vendors, vendors, sizeof vendors);
		w.asserted |= asserted;
	}
	if (w.build[0])
		cg_shown_record(out, &w);
	return 1;
}
