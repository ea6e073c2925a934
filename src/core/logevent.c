#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/logevent.h"
#include "consentgate/timefmt.h"

#define PURGE_FMT "purge;ip_prefix_days=%d;events_days_after_end=%d;consent_max_age_days=%d;" \
                  "refusal_max_age_days=%d;rows=%" PRId64 ";ids=%s"
#define FORMAT_FMT "format=%d;links=%" PRId64 ";ids=%s"

void cg_logevent_record(const struct cg_logevent *l, char out[CG_RECORD_MAX + 1])
{
	const struct cg_retention *r = &l->retention;

	if (l->kind == CG_ACT_PURGE)
		snprintf(out, CG_RECORD_MAX + 1, PURGE_FMT, r->ip_prefix_days, r->events_days_after_end,
		         r->consent_max_age_days, r->refusal_max_age_days, l->count, l->ids);
	else
		snprintf(out, CG_RECORD_MAX + 1, FORMAT_FMT, l->format, l->count, l->ids);
}

int cg_logevent_parse(const char *record, int kind, struct cg_logevent *l)
{
	struct cg_retention *r = &l->retention;
	char again[CG_RECORD_MAX + 1];
	int n;

	memset(l, 0, sizeof *l);
	l->kind = kind;
	/* the ids: 64 hex digits, then the end */
	if (kind == CG_ACT_PURGE)
		n = sscanf(record, "purge;ip_prefix_days=%d;events_days_after_end=%d;consent_max_age_days=%d;"
		           "refusal_max_age_days=%d;rows=%" SCNd64 ";ids=%64[0-9a-f]", &r->ip_prefix_days,
		           &r->events_days_after_end, &r->consent_max_age_days, &r->refusal_max_age_days, &l->count,
		           l->ids) == 6;
	else if (kind == CG_ACT_FORMAT)
		n = sscanf(record, "format=%d;links=%" SCNd64 ";ids=%64[0-9a-f]", &l->format, &l->count, l->ids) == 3;
	else
		n = 0;
	if (n) { /* nothing more, nothing written another way (signs, zeros) */
		cg_logevent_record(l, again);
		if (strcmp(again, record) == 0 && l->count >= 0 && strlen(l->ids) == CG_HEX_HASH_LEN &&
		    r->ip_prefix_days >= 0 && r->events_days_after_end >= 0 && r->consent_max_age_days >= 0 &&
		    r->refusal_max_age_days >= 0 && (kind == CG_ACT_PURGE || l->format >= 1))
			return CG_OK;
	}
	memset(l, 0, sizeof *l);
	return CG_ERR_INVALID;
}

void cg_logevent_event(const struct cg_logevent *l, int64_t now_ms, struct cg_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->link = CG_LINK_LOG;
	ev->action = l->kind;
	cg_time_format(now_ms, ev->recorded_at);
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = CG_TRI_NULL;
	ev->objection_purpose = -1;
	ev->gpc = ev->dnt = CG_TRI_NULL;
	cg_logevent_record(l, ev->record);
}

void cg_ids_init(struct cg_ids_digest *d)
{
	crypto_hash_sha256_init(&d->h);
	d->n = 0;
	d->last = 0;
}

int cg_ids_add(struct cg_ids_digest *d, int64_t id)
{
	char num[24];
	int n;

	if (id <= d->last)
		return CG_ERR_INVALID;
	n = snprintf(num, sizeof num, "%" PRId64 "\n", id);
	crypto_hash_sha256_update(&d->h, (const unsigned char *)num, (unsigned long long)n);
	d->last = id;
	d->n++;
	return CG_OK;
}

void cg_ids_final(struct cg_ids_digest *d, char out[CG_HEX_HASH_LEN + 1])
{
	unsigned char b[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(&d->h, b);
	sodium_bin2hex(out, CG_HEX_HASH_LEN + 1, b, sizeof b);
}
