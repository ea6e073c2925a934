/* Pass 2 of the audit (audit.h): every link in id order — its place in
 * the chain, its digests, its row format, and what a row may lack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/shown.h"
#include "consentgate/timefmt.h"
#include "audit_internal.h"

int cg_audit_new(const struct cg_audit_opts *o, struct cg_audit **out)
{
	struct cg_audit *a = calloc(1, sizeof *a);

	*out = a;
	if (!a)
		return CG_ERR_NOMEM;
	a->o = *o;
	strcpy(a->prev, CG_CHAIN_GENESIS);
	strcpy(a->r.head, CG_CHAIN_GENESIS);
	a->prev_ms = -1;
	cg_ids_init(&a->v1_links);
	return CG_OK;
}

void cg_audit_free(struct cg_audit *a)
{
	if (!a)
		return;
	audit_map_free(&a->removed);
	audit_map_free(&a->erased);
	free(a->purges);
	free(a->heads);
	free(a);
}

int cg_audit_head(struct cg_audit *a, int64_t last_id, int64_t signed_ms, const char *hash, int64_t links)
{
	void *nv = realloc(a->heads, (a->nheads + 1) * sizeof *a->heads);
	size_t i;

	if (!nv)
		return CG_ERR_NOMEM;
	a->heads = nv;
	for (i = a->nheads; i > 0 && a->heads[i - 1].last_id > last_id; i--)
		a->heads[i] = a->heads[i - 1];
	a->heads[i].last_id = last_id;
	a->heads[i].signed_ms = signed_ms;
	a->heads[i].links = links;
	snprintf(a->heads[i].hash, sizeof a->heads[i].hash, "%s", hash);
	a->nheads++;
	return CG_OK;
}

const struct cg_audit_result *cg_audit_result(const struct cg_audit *a)
{
	return &a->r;
}

/* ---- rows ------------------------------------------------------------------------ */

/* the personal fields a row without salt still holds ("" if none) */
static void personal_left(const struct cg_event *ev, char out[96])
{
	const struct { const char *name; int set; } f[] = {
		{"gpc", ev->gpc != CG_TRI_NULL}, {"dnt", ev->dnt != CG_TRI_NULL}, {"lang", ev->lang[0] != 0},
		{"page", ev->page[0] != 0}, {"ip_prefix", ev->ip_prefix[0] != 0},
		{"ip_digest", ev->ip_digest[0] != 0}, {"country", ev->country[0] != 0},
	};

	out[0] = '\0';
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i].set)
			snprintf(out + strlen(out), 96 - strlen(out), "%s%s", out[0] ? ", " : "", f[i].name);
}

/* Redaction claims nothing: without its salt a row holds no personal value
 * and waits for its visitor's erasure; the IP retention leaves the digest
 * and no prefix. */
static void check_personal(struct cg_audit *a, const struct cg_event *ev, const uint8_t sd[16])
{
	struct audit_slot *e;
	char left[96];

	if (ev->salt[0]) {
		a->r.n.ip_cleared += ev->ip_digest[0] != 0;
		if (ev->ip_digest[0] && ev->ip_prefix[0])
			audit_fault(a, ev->id, "ip_prefix holds a value beside the ip_digest that replaced it");
		return;
	}
	personal_left(ev, left);
	if (left[0]) {
		audit_fault(a, ev->id, "its salt is NULL but %s still hold%s a value: its personal fields can no "
		            "longer be checked", left, strchr(left, ',') ? "" : "s");
		return;
	}
	if (ev->action == CG_ACT_ERASE)
		return;
	a->r.n.redacted++;
	if ((e = audit_map_get(&a->erased, sd, 1, &a->oom)) && !e->v[0])
		e->v[0] = ev->id;
}

static void check_row(struct cg_audit *a, const struct cg_event *ev)
{
	char sdhex[CG_HEX_HASH_LEN + 1];
	struct cg_what_shown w;
	uint8_t sd[16];

	a->r.n.rows++;
	if (ev->format == 1) { /* the old rule: its digests, as far as its salt allows */
		a->r.n.rows_v1++;
		a->r.n.redacted += !ev->salt[0];
		return;
	}
	if (ev->action < CG_ACT_CHOICE || ev->action > CG_ACT_ERASE) {
		audit_fault(a, ev->id, "action is not that of a visitor's row");
		return;
	}
	if (ev->objections & ~7u)
		audit_fault(a, ev->id, "objections holds bits of no purpose");
	if (ev->action == CG_ACT_CHOICE && ev->banner[0] && cg_shown_parse(ev->banner, &w) != CG_OK)
		audit_fault(a, ev->id, "banner is not a record of what was shown");
	cg_chain_subject_digest(ev->subject, sdhex);
	if (!audit_key(sdhex, sd))
		return;
	audit_check_kept(a, ev, sd);
	check_personal(a, ev, sd);
}

static void check_link(struct cg_audit *a, const struct cg_event *ev)
{
	const struct audit_purge *p;
	int64_t at;

	if (ev->format == 1) {
		a->r.n.pruned_v1++;
		if (!ev->purge_id && cg_ids_add(&a->v1_links, ev->id) != CG_OK)
			audit_fault(a, ev->id, "out of order");
		return;
	}
	a->r.n.pruned++;
	if (ev->action < CG_ACT_CHOICE || ev->action > CG_ACT_ERASE)
		audit_fault(a, ev->id, "action is not that of a visitor's row");
	if (ev->objections & ~7u)
		audit_fault(a, ev->id, "objections holds bits of no purpose");
	p = ev->purge_id ? audit_purge_find(a, ev->purge_id) : NULL;
	if (!ev->purge_id)
		audit_fault(a, ev->id, "a link of row format 2 that names no purge");
	else if (p && p->seen && (cg_time_parse(ev->pruned_at, &at) != CG_OK || at != p->at_ms))
		audit_fault(a, ev->id, "pruned_at is not the time of the purge at row %lld", (long long)p->id);
}

/* ---- log events ------------------------------------------------------------------------ */

/* A purge's time lies after the link before it, before the first signed
 * head after it and the verifier's clock (and, checked at the next link,
 * before that link's time). */
static void check_purge_time(struct cg_audit *a, const struct cg_event *ev, int64_t t)
{
	size_t i;

	if (a->prev_ms >= 0 && t < a->prev_ms - CG_AUDIT_SLACK_MS)
		audit_fault(a, ev->id, "the purge is dated %s, before the row before it", ev->recorded_at);
	if (t > a->o.now_ms + CG_AUDIT_SLACK_MS)
		audit_fault(a, ev->id, "the purge is dated %s, in the future", ev->recorded_at);
	for (i = 0; i < a->nheads && a->heads[i].last_id < ev->id; i++)
		;
	if (i < a->nheads && t > a->heads[i].signed_ms + CG_AUDIT_SLACK_MS)
		audit_fault(a, ev->id, "the purge is dated %s, after the head signed over row %lld", ev->recorded_at,
		            (long long)a->heads[i].last_id);
	a->open_purge = ev->id;
	a->open_purge_ms = t;
}

static void check_format(struct cg_audit *a, const struct cg_event *ev)
{
	struct cg_logevent l;
	char ids[CG_HEX_HASH_LEN + 1];

	a->r.n.formats++;
	if (cg_logevent_parse(ev->record, CG_ACT_FORMAT, &l) != CG_OK || l.format != CG_ROW_FORMAT) {
		audit_fault(a, ev->id, "its record is not a change to row format %d: '%.80s'", CG_ROW_FORMAT,
		            ev->record);
		return;
	}
	if (a->era == CG_ROW_FORMAT && a->era_at) {
		audit_fault(a, ev->id, "a second format event (the first at row %lld)", (long long)a->era_at);
		return;
	}
	cg_ids_final(&a->v1_links, ids);
	if (l.count != a->v1_links.n || strcmp(ids, l.ids) != 0)
		audit_fault(a, ev->id, "the format event records %lld links pruned before it (ids %.16s…), the log "
		            "holds %lld (ids %.16s…)", (long long)l.count, l.ids, (long long)a->v1_links.n, ids);
	a->era = CG_ROW_FORMAT;
	a->era_at = ev->id;
	if (ev->id > 1)
		audit_note(a, "rows before row %lld are of row format 1 (written before the migration there): what "
		           "was shown and personal fields whose salt was cleared are not checked in them, nor are the "
		           "removals of the %lld rows pruned among them", (long long)ev->id, (long long)l.count);
}

static void check_log(struct cg_audit *a, const struct cg_event *ev)
{
	int64_t t = 0;

	if (cg_time_parse(ev->recorded_at, &t) != CG_OK)
		audit_fault(a, ev->id, "recorded_at is not a time");
	if (ev->action == CG_ACT_PURGE)
		check_purge_time(a, ev, t);
	else if (ev->action == CG_ACT_FORMAT)
		check_format(a, ev);
	else
		audit_fault(a, ev->id, "a log event of no known kind");
}

/* An erasure explains every row of its visitor before it that lacks its
 * salt — whatever else is wrong with it, which is its own fault. */
static void explain_erasure(struct cg_audit *a, const struct cg_event *ev)
{
	char sdhex[CG_HEX_HASH_LEN + 1];
	struct audit_slot *e;
	uint8_t sd[16];

	if (ev->link != CG_LINK_ROW || ev->action != CG_ACT_ERASE)
		return;
	cg_chain_subject_digest(ev->subject, sdhex);
	if (audit_key(sdhex, sd) && (e = audit_map_get(&a->erased, sd, 0, &a->oom)))
		e->v[0] = 0;
}

/* the signed heads this link is the row of: it still has their hash and
 * the links before it */
static void check_heads(struct cg_audit *a, const struct cg_event *ev)
{
	for (; a->next_head < a->nheads && a->heads[a->next_head].last_id <= ev->id; a->next_head++) {
		const struct audit_head *h = &a->heads[a->next_head];
		char when[CG_TIME_LEN + 1];
		cg_time_format(h->signed_ms, when);
		if (h->last_id < ev->id) /* its row was not met: missing, found by the ids */
			continue;
		if (strcmp(h->hash, ev->hash) != 0)
			audit_fault(a, ev->id, "its hash is not the one the head signed at %s names (the log was "
			            "rewritten up to here)", when);
		else if (h->links != a->r.n.links)
			audit_fault(a, ev->id, "the log holds %lld links up to it, the head signed at %s %lld",
			            a->r.n.links, when, (long long)h->links);
	}
}

/* ---- the walk ---------------------------------------------------------------------------- */

/* Format 1 comes first, if at all, then the format event, then format 2. */
static int check_era(struct cg_audit *a, const struct cg_event *ev)
{
	int f = ev->link == CG_LINK_LOG ? CG_ROW_FORMAT : ev->format == 1 ? 1 : 2;

	if (ev->format != 1 && ev->format != CG_ROW_FORMAT) {
		audit_fault(a, ev->id, "row format %d is none this build knows", ev->format);
		return 0;
	}
	if (!a->era)
		a->era = ev->link == CG_LINK_LOG && ev->action == CG_ACT_FORMAT ? 1 : f;
	if (f == 1 && a->era != 1) {
		audit_fault(a, ev->id, "row format 1 after the log moved to row format %d", a->era);
		return 0;
	}
	if (f != 1 && a->era == 1 && !(ev->link == CG_LINK_LOG && ev->action == CG_ACT_FORMAT)) {
		audit_fault(a, ev->id, "row format %d before the format event", f);
		return 0;
	}
	return 1;
}

/* this link's time (-1: a link of format 1 kept none); the purge before
 * it, if it awaits a bound, must not be later */
static int64_t check_neighbours(struct cg_audit *a, const struct cg_event *ev)
{
	int64_t t = -1;

	if (ev->recorded_at[0] && cg_time_parse(ev->recorded_at, &t) != CG_OK)
		t = -1;
	if (a->open_purge && t >= 0) {
		if (a->open_purge_ms > t + CG_AUDIT_SLACK_MS)
			audit_fault(a, a->open_purge, "the purge is dated after the row after it (row %lld)",
			            (long long)ev->id);
		a->open_purge = 0;
	}
	return t;
}

void cg_audit_row(struct cg_audit *a, const struct cg_event *ev)
{
	int64_t t;
	int fault;

	a->r.n.links++;
	if (ev->id != a->last_id + 1)
		audit_fault(a, a->last_id + 1, ev->id > a->last_id + 1 ? "missing (neither a row nor a pruned link)"
		                                                      : "comes again, or out of order");
	a->last_id = ev->id;
	t = check_neighbours(a, ev);
	explain_erasure(a, ev);
	if (ev->malformed)
		audit_fault(a, ev->id, "%s holds a value no row of this log can hold", ev->malformed);
	else if (check_era(a, ev)) {
		fault = cg_chain_check(ev, a->prev);
		if (fault != CG_CHAIN_OK)
			audit_fault(a, ev->id, "%s", cg_chain_fault_name(fault));
		if (ev->link == CG_LINK_ROW)
			check_row(a, ev);
		else if (ev->link == CG_LINK_PRUNED)
			check_link(a, ev);
		else
			check_log(a, ev);
	}
	check_heads(a, ev);
	a->prev_ms = t;
	memcpy(a->prev, ev->hash, sizeof a->prev);
	memcpy(a->r.head, ev->hash, sizeof a->r.head);
}

int cg_audit_finish(struct cg_audit *a)
{
	if (a->next_head < a->nheads) /* a head over rows the log no longer reaches */
		audit_fault(a, a->last_id + 1, "missing: the log ends at row %lld, a signed head names row %lld",
		            (long long)a->last_id, (long long)a->heads[a->nheads - 1].last_id);
	audit_scan_finish(a);
	for (size_t i = 0; i < a->erased.cap; i++)
		if (a->erased.s[i].used && a->erased.s[i].v[0])
			audit_fault(a, a->erased.s[i].v[0], "erased (no salt, no personal field), but no erasure of "
			            "its visitor follows");
	if (a->r.n.pruned_v1 && a->era_at)
		audit_note(a, "%lld links of rows of row format 1 were checked as links only (they kept no fields)",
		           a->r.n.pruned_v1);
	if (a->oom)
		audit_fault(a, a->last_id + 1, "the verifier ran out of memory");
	return a->r.bad_id ? CG_ERR_CHAIN : CG_OK;
}
