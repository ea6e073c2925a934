/* The statements of one transaction of the writer (writer.c): every job's
 * rows as a few multi-row statements (unnest of array literals), in job
 * order, with what an event does to stored rows between them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/rules.h"
#include "consentgate/timefmt.h"
#include "internal.h"


static const char ins_events_sql[] =
	"INSERT INTO events(id, sid, recorded_ms, choice_back_ms, action, preferences, statistics, marketing,"
	" objection_purpose, objections, gpc, dnt, policy_version, lang, banner, country, page, ip_prefix,"
	" salt, core_digest, personal_digest, hash, fmt)"
	" SELECT v.id, s.sid, v.recorded_ms, v.choice_back_ms, v.action, v.preferences, v.statistics,"
	" v.marketing, v.objection_purpose, v.objections, v.gpc, v.dnt, v.policy_version, v.lang, v.banner,"
	" v.country, v.page, v.ip_prefix, v.salt, v.core_digest, v.personal_digest, v.hash, v.fmt"
	" FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[], $5::smallint[], $6::smallint[],"
	" $7::smallint[], $8::smallint[], $9::smallint[], $10::smallint[], $11::smallint[], $12::smallint[],"
	" $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::bytea[],"
	" $20::bytea[], $21::bytea[], $22::bytea[], $23::smallint[]) AS v(id, subject, recorded_ms, choice_back_ms,"
	" action, preferences, statistics, marketing, objection_purpose, objections, gpc, dnt, policy_version, lang,"
	" banner, country, page, ip_prefix, salt, core_digest, personal_digest, hash, fmt)"
	/* a missing subject leaves sid NULL: NOT NULL fails the transaction */
	" LEFT JOIN subjects s ON s.digest = v.subject";

/* a row naming a subject in if_recipient_of (recv) goes in only if its
 * destination is a recorded recipient of that subject (storage.h) */
static const char ins_outbox_sql[] =
	"INSERT INTO outbox_rows(sid, destination, purpose, mode, payload, created_ms, next_ms)"
	" SELECT s.sid, v.destination, v.purpose, v.mode, v.payload, v.created_ms, v.created_ms"
	" FROM unnest($1::bytea[], $2::text[], $3::smallint[], $4::smallint[], $5::text[], $6::bigint[],"
	" $7::bytea[]) WITH ORDINALITY AS v(subject, destination, purpose, mode, payload, created_ms, recv, ord)"
	" LEFT JOIN subjects s ON s.digest = v.subject"
	" WHERE v.recv IS NULL OR EXISTS (SELECT 1 FROM recipients r JOIN subjects x ON x.sid = r.sid"
	"   WHERE x.digest = v.recv AND r.destination = v.destination) ORDER BY v.ord";

/* only the holder of a row's claim records its outcome (pgs_claim_outbox);
 * the ids it changed say which updates took effect */
const char pgs_upd_outbox_sql[] =
	"UPDATE outbox_rows o SET state = u.state, attempts = u.attempts, next_ms = u.next_ms,"
	" last_error = u.last_error, claimed_by = NULL, claimed_until_ms = NULL"
	" FROM unnest($1::bigint[], $2::smallint[], $3::integer[], $4::bigint[], $5::text[])"
	" AS u(id, state, attempts, next_ms, last_error)"
	" WHERE o.id = u.id AND o.state = 0 AND o.claimed_by = $6 RETURNING o.id";
/* Recipients (storage.h): each acknowledged delivery of a row that carried
 * a pseudonym, whatever became of the row (after the update: a row an
 * erasure took meanwhile has no subject left to record), in key order so
 * that instances recording the same visitor never deadlock. */
static const char recipients_sql[] =
	"INSERT INTO recipients(sid, destination) SELECT DISTINCT o.sid, o.destination"
	" FROM unnest($1::bigint[], $2::smallint[]) AS u(id, state) JOIN outbox_rows o ON o.id = u.id"
	" WHERE u.state = 1 AND o.sid IS NOT NULL AND o.mode = 0 ORDER BY 1, 2 ON CONFLICT DO NOTHING";

static const char subjects_sql[] =
	"INSERT INTO subjects(digest) SELECT d FROM unnest($1::bytea[]) WITH ORDINALITY AS v(d, ord)"
	" ORDER BY ord ON CONFLICT (digest) DO NOTHING";

#define SID "(SELECT sid FROM subjects WHERE digest = $1)"
/* Erasure: every personal column of the subject's rows, and the salt that
 * would let anyone confirm a guess of them, goes. The proof columns stay,
 * and from row format 2 what was shown with them (banner). */
static const char redact_sql[] =
	"UPDATE events SET salt = NULL, gpc = NULL, dnt = NULL, lang = NULL, country = NULL, page = NULL,"
	" ip_prefix = NULL, ip_digest = NULL, banner = CASE WHEN fmt = 2 THEN banner END WHERE sid = " SID;
/* What an event does to the visitor's outbox rows is the core's rule
 * (cg_rules_outbox_effect); these statements carry it out. */
static const char *const effect_sql[] = {
	[CG_EFFECT_DROP_PENDING] = "UPDATE outbox_rows SET state = 2, last_error = $2 WHERE sid = " SID " AND state = 0",
	[CG_EFFECT_DROP_PENDING_PURPOSE] = "UPDATE outbox_rows SET state = 2, last_error = $2"
	                                   " WHERE sid = " SID " AND state = 0 AND purpose = $3::smallint",
	[CG_EFFECT_ERASE] = "UPDATE outbox_rows SET sid = NULL, payload = '',"
	                    " last_error = CASE state WHEN 0 THEN $2 ELSE 'erased' END,"
	                    " state = CASE state WHEN 0 THEN 2 ELSE state END, claimed_by = NULL,"
	                    " claimed_until_ms = NULL WHERE sid = " SID,
};
/* an erasure forgets the visitor's recipients once its notices are queued */
static const char forget_recipients_sql[] = "DELETE FROM recipients WHERE sid = " SID;

/* The plan keeps s (malloc'd) until plan_reset; NULL if it could not. */
static const char *own(struct plan *p, char *s)
{
	if (s && p->nowned == p->capowned) {
		size_t ncap = p->capowned ? p->capowned * 2 : 64;
		char **nv = realloc(p->owned, ncap * sizeof *nv);
		if (nv) {
			p->owned = nv;
			p->capowned = ncap;
		}
	}
	if (!s || p->nowned == p->capowned) {
		free(s);
		p->failed = 1;
		return NULL;
	}
	p->owned[p->nowned++] = s;
	return s;
}

struct pgs_stmt *pgs_plan_stmt(struct plan *p, const char *sql)
{
	struct pgs_stmt *st;

	if (p->n == MAX_STMTS) {
		p->failed = 1;
		return &p->st[MAX_STMTS - 1]; /* harmless scratch: the plan is not run */
	}
	st = &p->st[p->n++];
	memset(st, 0, sizeof *st);
	st->sql = sql;
	return st;
}

static void arrs_init(struct pgs_arr *a, int n)
{
	for (int i = 0; i < n; i++)
		pgs_arr_init(&a[i]);
}

static void arrs_free(struct pgs_arr *a, int n)
{
	for (int i = 0; i < n; i++)
		pgs_arr_free(&a[i]);
}

/* Turns the accumulated rows of one kind into a statement. */
static void flush_arrays(struct plan *p, struct pgs_arr *a, int ncols, int *nrows, const char *sql,
                         const char *extra)
{
	struct pgs_stmt *st;

	if (!*nrows)
		return;
	st = pgs_plan_stmt(p, sql);
	for (int i = 0; i < ncols; i++) {
		st->vals[i] = pgs_arr_end(&a[i]) ? own(p, cg_buf_take(&a[i].b)) : NULL;
		p->failed |= !st->vals[i];
		pgs_arr_free(&a[i]);
		pgs_arr_init(&a[i]);
	}
	st->n = ncols;
	if (extra)
		st->vals[st->n++] = extra;
	*nrows = 0;
}

static void flush_all(struct plan *p, const char *instance)
{
	struct pgs_stmt *st;

	flush_arrays(p, p->ev, EV_COLS, &p->nev, ins_events_sql, NULL);
	flush_arrays(p, p->ob, OB_COLS, &p->nob, ins_outbox_sql, NULL);
	if (!p->nup)
		return;
	flush_arrays(p, p->up, UP_COLS, &p->nup, pgs_upd_outbox_sql, instance);
	st = pgs_plan_stmt(p, recipients_sql);   /* the update's ids and states */
	st->vals[0] = p->st[p->n - 2].vals[0];
	st->vals[1] = p->st[p->n - 2].vals[1];
	st->n = 2;
}

/* Empties the plan for the next transaction (its memory stays). */
void pgs_plan_reset(struct plan *p)
{
	arrs_free(p->ev, EV_COLS);
	arrs_free(p->ob, OB_COLS);
	arrs_free(p->up, UP_COLS);
	arrs_init(p->ev, EV_COLS);
	arrs_init(p->ob, OB_COLS);
	arrs_init(p->up, UP_COLS);
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	p->nowned = 0;
	p->n = p->nev = p->nob = p->nup = 0;
	p->failed = 0;
}

static void tri(struct pgs_arr *a, int v)
{
	if (v == CG_TRI_NULL)
		pgs_arr_null(a);
	else
		pgs_arr_int(a, v);
}

static void add_event_row(struct plan *p, const struct cg_event *ev)
{
	struct pgs_arr *a = p->ev;
	int64_t at = 0, choice_at = 0;

	cg_time_parse(ev->recorded_at, &at); /* checked by job_valid */
	pgs_arr_int(&a[0], ev->id);
	pgs_arr_hex(&a[1], ev->subject);
	pgs_arr_int(&a[2], at);
	if (ev->choice_at[0] && cg_time_parse(ev->choice_at, &choice_at) == CG_OK)
		pgs_arr_int(&a[3], at - choice_at);
	else
		pgs_arr_null(&a[3]);
	pgs_arr_int(&a[4], ev->action);
	for (int i = 0; i < CG_NPURPOSES; i++)
		tri(&a[5 + i], ev->choice[i]);
	if (ev->objection_purpose >= 0)
		pgs_arr_int(&a[8], ev->objection_purpose);
	else
		pgs_arr_null(&a[8]);
	pgs_arr_int(&a[9], (long long)ev->objections);
	tri(&a[10], ev->gpc);
	tri(&a[11], ev->dnt);
	pgs_arr_text(&a[12], PGS_OPT(ev->policy_version));
	pgs_arr_text(&a[13], PGS_OPT(ev->lang));
	pgs_arr_text(&a[14], PGS_OPT(ev->banner));
	pgs_arr_text(&a[15], PGS_OPT(ev->country));
	pgs_arr_text(&a[16], PGS_OPT(ev->page));
	pgs_arr_text(&a[17], PGS_OPT(ev->ip_prefix));
	pgs_arr_hex(&a[18], ev->salt);
	pgs_arr_hex(&a[19], ev->core_digest);
	pgs_arr_hex(&a[20], ev->personal_digest);
	pgs_arr_hex(&a[21], ev->hash);
	pgs_arr_int(&a[22], ev->format);
	p->nev++;
}

static void add_outbox_rows(struct plan *p, const struct cg_outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t at = 0;
		cg_time_parse(rows[i].created_at, &at);
		pgs_arr_hex(&p->ob[0], rows[i].subject);
		pgs_arr_text(&p->ob[1], rows[i].destination);
		pgs_arr_int(&p->ob[2], rows[i].purpose);
		pgs_arr_int(&p->ob[3], rows[i].mode == CG_FORWARD_FULL ? 0 : 1);
		pgs_arr_text(&p->ob[4], rows[i].payload);
		pgs_arr_int(&p->ob[5], at);
		pgs_arr_hex(&p->ob[6], rows[i].if_recipient_of);
		p->nob++;
	}
}

static void add_updates(struct plan *p, const struct cg_outbox_update *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgs_arr_int(&p->up[0], u[i].id);
		pgs_arr_int(&p->up[1], u[i].state);
		pgs_arr_int(&p->up[2], u[i].attempts);
		pgs_arr_int(&p->up[3], u[i].next_attempt_ms);
		pgs_arr_text(&p->up[4], PGS_OPT(u[i].last_error));
		p->nup++;
	}
}

static const char *subject_param(struct plan *p, const char *hex)
{
	char *v = malloc(CG_SUBJECT_LEN + 3);

	if (v)
		pgs_bytea_param(hex, v, CG_SUBJECT_LEN + 3);
	return own(p, v);
}

/* An event with an effect on stored rows: an erasure redacts the earlier
 * rows first (the tombstone has nothing to redact); withdrawal, objection
 * and erasure then reach the outbox. Rows queued earlier in the same batch
 * are in the statements before, so they are covered. */
static void add_event(struct plan *p, const struct cg_event *ev, const char *instance)
{
	struct cg_outbox_rule r;
	struct pgs_stmt *st;

	cg_rules_outbox_effect(ev, &r);
	if (ev->action == CG_ACT_ERASE) {
		flush_all(p, instance);
		st = pgs_plan_stmt(p, redact_sql);
		st->vals[0] = subject_param(p, ev->subject);
		st->n = 1;
	}
	add_event_row(p, ev);
	if (r.effect == CG_EFFECT_NONE)
		return;
	flush_all(p, instance);
	st = pgs_plan_stmt(p, effect_sql[r.effect]);
	st->vals[0] = subject_param(p, ev->subject);
	st->vals[1] = r.reason;
	st->n = 2;
	if (r.effect == CG_EFFECT_DROP_PENDING_PURPOSE) {
		char *num = malloc(8);
		if (num)
			snprintf(num, 8, "%d", r.purpose);
		st->vals[2] = own(p, num);
		st->n = 3;
	}
}

/* after the erasure's notices (rules.h: CG_EFFECT_ERASE) */
static void forget_recipients(struct plan *p, const struct cg_event *ev, const char *instance)
{
	struct cg_outbox_rule r;
	struct pgs_stmt *st;

	cg_rules_outbox_effect(ev, &r);
	if (r.effect != CG_EFFECT_ERASE)
		return;
	flush_all(p, instance);
	st = pgs_plan_stmt(p, forget_recipients_sql);
	st->vals[0] = subject_param(p, ev->subject);
	st->n = 1;
}

static int subject_ok(const char *s)
{
	return !s[0] || (strlen(s) == CG_SUBJECT_LEN && strspn(s, "0123456789abcdef") == CG_SUBJECT_LEN);
}

/* What the SQLite writer would refuse row by row (CG_ERR_INVALID) is
 * refused here before the transaction, so one bad job fails alone. */
int pgs_job_valid(const struct pgs_job *j)
{
	const struct cg_store_batch *b = j->b;
	const struct cg_event *ev = b->event;
	int64_t t;

	if (ev && (!ev->subject[0] || !subject_ok(ev->subject) || cg_time_parse(ev->recorded_at, &t) ||
	           (ev->choice_at[0] && cg_time_parse(ev->choice_at, &t))))
		return 0;
	for (size_t i = 0; i < b->nrows; i++)
		if (!subject_ok(b->rows[i].subject) || !subject_ok(b->rows[i].if_recipient_of) ||
		    cg_time_parse(b->rows[i].created_at, &t) ||
		    !b->rows[i].destination || !b->rows[i].payload)
			return 0;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every subject of the batch, sorted and once each: instances that insert
 * the same new subjects lock their index entries in one order (no deadlock). */
static void add_subjects(struct plan *p, struct pgs_job *jobs)
{
	const char **v = NULL;
	size_t n = 0, cap = 0;
	struct pgs_arr a;
	struct pgs_stmt *st;

	for (struct pgs_job *j = jobs; j; j = j->next) {
		const struct cg_store_batch *b = j->b;
		if (j->rc != CG_OK)
			continue;
		for (size_t i = 0; i <= b->nrows; i++) {
			const char *s = i < b->nrows ? b->rows[i].subject : b->event ? b->event->subject : "";
			if (!s[0])
				continue;
			if (n == cap && !(v = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v))) {
				p->failed = 1;
				return;
			}
			v[n++] = s;
		}
	}
	if (!n)
		return;
	qsort(v, n, sizeof *v, cmp_str);
	pgs_arr_init(&a);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			pgs_arr_hex(&a, v[i]);
	st = pgs_plan_stmt(p, subjects_sql);
	st->vals[0] = pgs_arr_end(&a) ? own(p, cg_buf_take(&a.b)) : NULL;
	st->n = 1;
	p->failed |= !st->vals[0];
	pgs_arr_free(&a);
	free(v);
}

void pgs_plan_rows(struct plan *p, struct pgs_job *jobs, const char *instance)
{
	add_subjects(p, jobs);
	for (struct pgs_job *j = jobs; j; j = j->next) {
		if (j->rc != CG_OK)
			continue;
		if (j->b->event)
			add_event(p, j->b->event, instance);
		add_outbox_rows(p, j->b->rows, j->b->nrows);
		if (j->b->event && j->b->event->action == CG_ACT_ERASE)
			forget_recipients(p, j->b->event, instance);
		add_updates(p, j->b->updates, j->b->nupdates);
	}
	flush_all(p, instance);
}

struct plan *pgs_plan_new(void)
{
	struct plan *p = calloc(1, sizeof *p);

	if (p) {
		arrs_init(p->ev, EV_COLS);
		arrs_init(p->ob, OB_COLS);
		arrs_init(p->up, UP_COLS);
	}
	return p;
}

void pgs_plan_free(struct plan *p)
{
	if (!p)
		return;
	pgs_plan_reset(p);
	arrs_free(p->ev, EV_COLS);
	arrs_free(p->ob, OB_COLS);
	arrs_free(p->up, UP_COLS);
	free(p->owned);
	free(p);
}
