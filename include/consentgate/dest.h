/* Destination kinds: what differs between a ga4 and a webhook destination,
 * as one table of operations. Each kind is a file of its own
 * (src/core/dest_KIND.c here: the payload's head, the configuration check,
 * the register's label, the erasure notice's shape; src/daemon/fwd_KIND.c:
 * how a request goes out) and one row of CG_DEST_KINDS below; nothing
 * else names a kind. A destination's type is its kind's row (enum
 * cg_dest_type). Pure. */
#ifndef CONSENTGATE_DEST_H
#define CONSENTGATE_DEST_H

#include <jansson.h>
#include <stddef.h>

struct cg_buf;
struct cg_destination;
struct cg_payload_in;

/* The table: X(name, NAME) per kind, in type order (the config's
 * `type = name`, CG_DEST_NAME, cg_destkind_name, cg_fwdkind_name). */
#define CG_DEST_KINDS(X) X(ga4, GA4) X(webhook, WEBHOOK)

#define CG_DEST_ENUM_(k, K) CG_DEST_##K,
enum cg_dest_type { CG_DEST_KINDS(CG_DEST_ENUM_) CG_DEST_NKINDS };

struct cg_destkind {
	const char *label;  /* the register's "type" (export.h) */
	/* each event of a payload carries the request's time (GA4: rows of one
	 * client merge into one request, cg_ga4_merge) */
	int event_time;
	/* the payload up to its "events" array: {"client_id":...,  */
	int (*payload_head)(const struct cg_payload_in *in, struct cg_buf *out);
	/* defaults the kind implies (GA4: its recipient), before the checks */
	void (*defaults)(struct cg_destination *d);
	/* the kind's own keys: NULL, or the key at fault and *why */
	const char *(*check)(const struct cg_destination *d, const char **why);
	/* 1 if the destination can take an erasure notice */
	int (*erasure_possible)(const struct cg_destination *d);
	/* an erasure notice's body (erasure.h), NULL if memory fails */
	json_t *(*erasure_notice)(const struct cg_destination *d, const char *client_id, const char *at);
};

/* the kind of a destination's type; NULL for none */
const struct cg_destkind *cg_dest_kind(int type);
/* the type named so (the config's value), or -1 */
int cg_dest_kind_named(const char *name);
/* the kinds' names in type order, NULL-terminated (the config's choices) */
extern const char *const cg_dest_kind_names[];
/* "ga4 or webhook": the names for a message (cut short to fit cap) */
const char *cg_dest_kind_list(char *out, size_t cap);

#endif
