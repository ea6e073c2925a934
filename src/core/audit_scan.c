/* Pass 1 of the audit (audit.h): the removals. Every pruned link of row
 * format 2 names its purge and keeps its core fields, so the links of each
 * visitor, in id order, show which purge took them and what the visitor's
 * last state was; each purge's log event then checks its own count and the
 * consent of every visitor it took. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/timefmt.h"
#include "audit_internal.h"

/* ---- what the audit finds (both passes report through these) ---------------- */

void audit_fault(struct cg_audit *a, int64_t id, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->r.bad_id && a->r.bad_id <= id)
		return;
	a->r.bad_id = id;
	n = snprintf(a->r.why, sizeof a->r.why, "row %lld: ", (long long)id);
	va_start(ap, fmt);
	vsnprintf(a->r.why + n, sizeof a->r.why - (size_t)n, fmt, ap);
	va_end(ap);
}

void audit_note(struct cg_audit *a, const char *fmt, ...)
{
	size_t n = strlen(a->r.notes);
	va_list ap;

	if (n + 2 >= sizeof a->r.notes)
		return;
	va_start(ap, fmt);
	vsnprintf(a->r.notes + n, sizeof a->r.notes - n - 1, fmt, ap);
	va_end(ap);
	strcat(a->r.notes, "\n");
}

/* ---- the map ---------------------------------------------------------------- */

static size_t slot_of(const struct audit_map *m, const uint8_t key[16])
{
	uint64_t h;

	memcpy(&h, key + 8, sizeof h); /* digest bytes: already uniform */
	return (size_t)(h & (m->cap - 1));
}

static int grow(struct audit_map *m)
{
	struct audit_map bigger = {calloc(m->cap ? m->cap * 2 : 1024, sizeof *m->s), m->cap ? m->cap * 2 : 1024, 0};

	if (!bigger.s)
		return CG_ERR_NOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;
		if (!m->s[i].used)
			continue;
		for (j = slot_of(&bigger, m->s[i].key); bigger.s[j].used; j = (j + 1) & (bigger.cap - 1))
			;
		bigger.s[j] = m->s[i];
		bigger.n++;
	}
	free(m->s);
	*m = bigger;
	return CG_OK;
}

struct audit_slot *audit_map_get(struct audit_map *m, const uint8_t key[16], int add, int *oom)
{
	size_t i;

	if (add && 2 * (m->n + 1) > m->cap && grow(m) != CG_OK) {
		*oom = 1;
		return NULL;
	}
	if (!m->cap)
		return NULL;
	for (i = slot_of(m, key); m->s[i].used; i = (i + 1) & (m->cap - 1))
		if (memcmp(m->s[i].key, key, 16) == 0)
			return &m->s[i];
	if (!add)
		return NULL;
	memset(&m->s[i], 0, sizeof m->s[i]);
	memcpy(m->s[i].key, key, 16);
	m->s[i].used = 1;
	m->s[i].next = -1;
	m->n++;
	return &m->s[i];
}

void audit_map_free(struct audit_map *m)
{
	free(m->s);
	memset(m, 0, sizeof *m);
}

int audit_key(const char *hex, uint8_t key[16])
{
	size_t got = 0;

	return strlen(hex) == CG_HEX_HASH_LEN && strspn(hex, "0123456789abcdef") == CG_HEX_HASH_LEN &&
	       sodium_hex2bin(key, 16, hex, 32, NULL, &got, NULL) == 0 && got == 16;
}

/* ---- the purges, by id -------------------------------------------------------- */

static size_t purge_pos(const struct cg_audit *a, int64_t id)
{
	size_t lo = 0, hi = a->npurges;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->purges[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct audit_purge *audit_purge_find(struct cg_audit *a, int64_t id)
{
	size_t i = purge_pos(a, id);

	return i < a->npurges && a->purges[i].id == id ? &a->purges[i] : NULL;
}

static struct audit_purge *purge_add(struct cg_audit *a, int64_t id, int64_t first_link)
{
	struct audit_purge *p = audit_purge_find(a, id);
	size_t i;

	if (p)
		return p;
	if (a->npurges == a->cappurges) {
		size_t ncap = a->cappurges ? a->cappurges * 2 : 64;
		void *nv = realloc(a->purges, ncap * sizeof *a->purges);
		if (!nv) {
			a->oom = 1;
			return NULL;
		}
		a->purges = nv;
		a->cappurges = ncap;
	}
	i = purge_pos(a, id);
	memmove(&a->purges[i + 1], &a->purges[i], (a->npurges - i) * sizeof *a->purges);
	a->npurges++;
	p = &a->purges[i];
	memset(p, 0, sizeof *p);
	p->id = id;
	p->first_link = first_link;
	p->visitors = -1;
	cg_ids_init(&p->ids);
	return p;
}

/* ---- pass 1 ------------------------------------------------------------------- */

/* a visitor's last removed row, as much as the consent rule needs */
static void keep_state(struct audit_slot *v, const struct cg_event *ev)
{
	struct cg_state st;
	int granted = 0;

	cg_state_from_event(ev, &st);
	for (int p = 0; p < CG_NPURPOSES; p++)
		granted |= ev->choice[p] == 1;
	v->v[1] = st.action == CG_ACT_WITHDRAW || st.action == CG_ACT_ERASE || !st.choice_at_ms ? st.recorded_at_ms
	                                                                                       : st.choice_at_ms;
	v->v[2] = ev->id;
	v->flags = (uint8_t)(st.action | granted << 4);
}

/* A link of format 2 whose core fields hold: its visitor's rows go to its
 * purge together. Links come in id order, so a visitor's purges only grow,
 * and a row of theirs that was there at an earlier purge belonged to it. */
static void scan_link(struct cg_audit *a, const struct cg_event *ev, struct audit_purge *p)
{
	uint8_t key[16];
	struct audit_slot *v;

	if (!audit_key(ev->subject_digest, key) || !(v = audit_map_get(&a->removed, key, 1, &a->oom)))
		return;
	if (v->v[0] && v->v[0] != p->id) {
		if (v->v[0] > p->id)
			audit_fault(a, ev->id, "removed by the purge at row %lld, but an earlier row of the same "
			            "visitor (row %lld) by a later one (row %lld)", (long long)p->id, (long long)v->v[2],
			            (long long)v->v[0]);
		else if (v->v[0] > ev->id)
			audit_fault(a, ev->id, "removed by the purge at row %lld, but left behind by the one at row "
			            "%lld, which removed row %lld of the same visitor (a purge removes every row of a "
			            "visitor)", (long long)p->id, (long long)v->v[0], (long long)v->v[2]);
	}
	if (v->v[0] != p->id) { /* the visitor's rows begin a new group: on the purge's list */
		v->v[0] = p->id;
		v->next = p->visitors;
		p->visitors = (int32_t)(v - a->removed.s);
	}
	keep_state(v, ev);
}

/* the link's fields hold (its place in the chain is pass 2's) */
static int core_holds(const struct cg_event *ev)
{
	int fault = cg_chain_check(ev, ev->prev_hash);

	return fault != CG_CHAIN_BAD_CORE && fault != CG_CHAIN_BAD_PERSONAL;
}

static void scan_pruned(struct cg_audit *a, const struct cg_event *ev)
{
	struct audit_purge *p;

	if (!ev->purge_id) /* format 1, before the format event: pass 2 */
		return;
	if (ev->purge_id <= ev->id) {
		audit_fault(a, ev->id, "removed by row %lld, which is not after it", (long long)ev->purge_id);
		return;
	}
	p = purge_add(a, ev->purge_id, ev->id);
	if (!p || cg_ids_add(&p->ids, ev->id) != CG_OK)
		return;
	if (ev->format != 1 && core_holds(ev))
		scan_link(a, ev, p);
}

static int at_least(int x, int y)
{
	return x > y ? x : y;
}

static void highest(struct cg_retention *into, const struct cg_retention *r)
{
	into->ip_prefix_days = at_least(into->ip_prefix_days, r->ip_prefix_days);
	into->events_days_after_end = at_least(into->events_days_after_end, r->events_days_after_end);
	into->consent_max_age_days = at_least(into->consent_max_age_days, r->consent_max_age_days);
	into->refusal_max_age_days = at_least(into->refusal_max_age_days, r->refusal_max_age_days);
}

/* The retention a removal by this purge must respect: its own, raised to
 * the auditor's floor, or else to the highest an earlier purge recorded.
 * Every lowering is noted. */
static void retention_due(struct cg_audit *a, const struct cg_event *ev, const struct cg_retention *rec,
                          struct cg_retention *due)
{
	const struct cg_retention *m = &a->most;

	if (a->have_most && (rec->events_days_after_end < m->events_days_after_end ||
	                     rec->consent_max_age_days < m->consent_max_age_days ||
	                     rec->refusal_max_age_days < m->refusal_max_age_days))
		audit_note(a, "the purge at row %lld recorded a lowered retention: events_days_after_end %d, "
		           "consent_max_age_days %d, refusal_max_age_days %d (earlier purges: up to %d, %d, %d)",
		           (long long)ev->id, rec->events_days_after_end, rec->consent_max_age_days,
		           rec->refusal_max_age_days, m->events_days_after_end, m->consent_max_age_days,
		           m->refusal_max_age_days);
	*due = *rec;
	if (a->o.min_retention_days >= 0)
		due->events_days_after_end = at_least(a->o.min_retention_days, rec->events_days_after_end);
	else if (a->have_most)
		highest(due, m);
	if (a->have_most)
		highest(&a->most, rec);
	else
		a->most = *rec;
	a->have_most = 1;
}

/* every visitor the purge took: their consent ended long enough before */
static void check_visitors(struct cg_audit *a, const struct audit_purge *p, const struct cg_retention *due)
{
	char ended_s[CG_TIME_LEN + 1];

	for (int32_t i = p->visitors; i >= 0; i = a->removed.s[i].next) {
		const struct audit_slot *v = &a->removed.s[i];
		struct cg_state st = {.present = 1, .action = v->flags & 15, .recorded_at_ms = v->v[1],
		                      .choice_at_ms = v->v[1]};
		int64_t ended;
		st.choice[0] = v->flags >> 4;
		ended = cg_rules_ended_ms(due, &st);
		if (v->v[0] != p->id || ended <= p->at_ms - (int64_t)due->events_days_after_end * CG_MS_PER_DAY)
			continue;
		cg_time_format(ended, ended_s);
		audit_fault(a, v->v[2], "removed by the purge at row %lld, but its visitor's consent ended at %s, "
		            "less than %d days before it", (long long)p->id, ended_s, due->events_days_after_end);
	}
}

static void scan_purge(struct cg_audit *a, const struct cg_event *ev)
{
	struct cg_logevent l;
	struct cg_retention due;
	struct audit_purge *p;
	char ids[CG_HEX_HASH_LEN + 1];

	/* met, whatever it holds: a link that names it is not to blame */
	if (!(p = purge_add(a, ev->id, 0)))
		return;
	p->seen = 1;
	cg_time_parse(ev->recorded_at, &p->at_ms);
	if (!core_holds(ev)) /* pass 2 names it */
		return;
	if (cg_logevent_parse(ev->record, CG_ACT_PURGE, &l) != CG_OK) {
		audit_fault(a, ev->id, "its record is not a purge's: '%.80s'", ev->record);
		return;
	}
	cg_ids_final(&p->ids, ids);
	if (p->ids.n != l.count || strcmp(ids, l.ids) != 0)
		audit_fault(a, ev->id, "the purge records %lld removed rows (ids %.16s…), but %lld links name it "
		            "(ids %.16s…)", (long long)l.count, l.ids, (long long)p->ids.n, ids);
	retention_due(a, ev, &l.retention, &due);
	check_visitors(a, p, &due);
	a->r.n.purges++;
}

void cg_audit_scan(struct cg_audit *a, const struct cg_event *ev)
{
	if (ev->link == CG_LINK_PRUNED)
		scan_pruned(a, ev);
	else if (ev->link == CG_LINK_LOG && ev->action == CG_ACT_PURGE)
		scan_purge(a, ev);
}

void audit_scan_finish(struct cg_audit *a)
{
	for (size_t i = 0; i < a->npurges; i++)
		if (!a->purges[i].seen)
			audit_fault(a, a->purges[i].first_link, "removed by row %lld, which is no purge",
			            (long long)a->purges[i].id);
}

void audit_check_kept(struct cg_audit *a, const struct cg_event *ev, const uint8_t sd[16])
{
	const struct audit_slot *v = audit_map_get(&a->removed, sd, 0, &a->oom);

	if (v && v->v[0] > ev->id)
		audit_fault(a, ev->id, "kept, but the purge at row %lld removed row %lld of the same visitor "
		            "(a purge removes every row of a visitor)", (long long)v->v[0], (long long)v->v[2]);
}
