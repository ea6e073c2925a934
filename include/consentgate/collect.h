/* POST /collect: validation of the GA4-shaped event body and the payloads
 * built from it per destination (docs/gatekeeper.md#events-post-collect). Pure. */
#ifndef CONSENTGATE_COLLECT_H
#define CONSENTGATE_COLLECT_H

#include <jansson.h>
#include <stdint.h>
#include "consentgate/buf.h"
#include "consentgate/config.h"
#include "consentgate/consent.h"

#define CG_COLLECT_BODY_MAX 65536
#define CG_COLLECT_MAX_EVENTS 25
#define CG_COLLECT_MAX_PARAMS 25
#define CG_COLLECT_NAME_MAX 40
#define CG_COLLECT_VALUE_MAX 100   /* characters, as GA4 counts them */
#define CG_PAYLOAD_MAX 130000      /* GA4 MP: body < 130 kB */
#define CG_CLIENT_ID_MAX 24
#define CG_KEY_BYTES 32

/* One payload queued for one destination (a row of the outbox table). */
struct cg_outbox_row {
	char subject[CG_SUBJECT_LEN + 1];  /* "" when the visitor has no id */
	const char *destination;
	int purpose;
	int mode;                          /* CG_FORWARD_FULL / CG_FORWARD_MINIMISED */
	const char *payload;
	char created_at[CG_TIME_LEN + 1];
	/* "" or a subject: queue the row only if the store records `destination`
	 * as a recipient of that subject's pseudonym, checked in the row's own
	 * transaction (erasure notices, erasure.h) */
	char if_recipient_of[CG_SUBJECT_LEN + 1];
};

/* Validates {"events":[{"name":..., "params":{...}}, ...]}. On CG_OK *events
 * is the validated array (a new reference the caller releases). */
int cg_collect_parse(const char *body, size_t len, json_t **events,
                     struct cg_field_error *fe);

/* client_id for a full decision: keyed hash of (destination, subject) — never
 * the consent ID, and never the same value at two destinations, so two
 * vendors cannot join their data on it; for a minimised one: keyed hash of
 * (daily salt, destination, site, prefix). */
void cg_client_id_full(const uint8_t key[CG_KEY_BYTES], const char *destination,
                       const char *subject, char out[CG_CLIENT_ID_MAX]);
void cg_client_id_minimised(const uint8_t day_salt[CG_KEY_BYTES], const char *destination,
                            const char *site, const char *ip_prefix, char out[CG_CLIENT_ID_MAX]);

struct cg_payload_in {
	const struct cg_config *cfg;
	const struct cg_destination *dest;
	int mode;                  /* CG_FORWARD_FULL or CG_FORWARD_MINIMISED */
	const char *client_id;
	const char *country;       /* "" when unknown */
	int choice[3];             /* the visitor's choices (0/1, or -1 when none) */
	int64_t timestamp_micros;
};

/* The destination's request body for these events (a GA4 Measurement
 * Protocol body, or the documented webhook JSON). Minimised payloads drop URL
 * queries and fragments and every referrer. No IP address, consent ID or
 * subject ever appears. GA4's events carry the request's timestamp_micros
 * each (GA4 takes an event's own time over the request's), so that rows can
 * be merged. CG_ERR_TOO_LONG past CG_PAYLOAD_MAX (nothing appended). */
int cg_payload_build(const struct cg_payload_in *in, json_t *events, struct cg_buf *out);

/* GA4 takes up to 25 events of one client per request: the forwarder sends
 * queued GA4 rows of one destination as one request while their request
 * fields (all but timestamp_micros) are the same text. Merges the longest
 * prefix of payloads[0..n) that shares the first's request fields, holds at
 * most CG_COLLECT_MAX_EVENTS events and stays under CG_PAYLOAD_MAX, by
 * joining their events arrays (each event keeps its own time). *taken = the
 * rows merged (at least 1; a single row, or one not in cg_payload_build's
 * GA4 shape, is copied as it is). */
int cg_ga4_merge(const char *const *payloads, size_t n, struct cg_buf *out, size_t *taken);

#endif
