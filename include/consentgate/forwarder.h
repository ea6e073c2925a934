/* The forwarder: a thread that drains the durable outbox into the configured
 * destinations with libcurl (docs/gatekeeper.md#the-forwarder). It re-checks each visitor's
 * consent right before sending; withdrawn, erased, objected or expired
 * visitors' events are dropped, never sent. Delivery is at-least-once. */
#ifndef CONSENTGATE_FORWARDER_H
#define CONSENTGATE_FORWARDER_H

#include <stdint.h>
#include "consentgate/config.h"
#include "consentgate/storage.h"


struct cg_forwarder;

struct cg_forwarder_stats {
	uint64_t attempts;      /* HTTP requests made */
	uint64_t delivered;     /* outbox rows delivered */
	uint64_t retried;       /* rows scheduled for another attempt */
	uint64_t dead;          /* rows given up (4xx, redirect, unknown destination) */
	uint64_t dropped;       /* rows not sent: consent gone, older than 72 h */
	double latency_seconds; /* sum over requests */
};

/* st must outlive the forwarder */
int cg_forwarder_start(const struct cg_config *cfg, const struct cg_store_port *st, struct cg_forwarder **out);
/* New rows were committed: look now rather than at the next poll. */
void cg_forwarder_wake(struct cg_forwarder *f);
/* Stops after the current round; undelivered rows stay pending. NULL is harmless. */
void cg_forwarder_stop(struct cg_forwarder *f);
void cg_forwarder_stats(struct cg_forwarder *f, struct cg_forwarder_stats *out);

#endif
