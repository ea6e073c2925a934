/* Reader connections and every query. A reader is one connection used by
 * one thread at a time. A request's lookup (load_state) must finish within
 * [storage] read_timeout_ms; when it does not, or the connection broke, the
 * connection is dropped and the call fails at once (the daemon denies or
 * answers 503) until the doctor has connected it again: a request thread
 * never waits for a connection to be made. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/timefmt.h"
#include "internal.h"

/* bulk reads (exports, reports, verification) get more time per step */
#define BULK_MS(s) ((int64_t)(s)->cfg.write_timeout_ms + 60000)

int pgs_reader_prepare(PGconn *c, int64_t deadline)
{
	return pgs_exec(c, "PREPARE cg_state(bytea) AS SELECT action, policy_version, preferences, statistics,"
	                   " marketing, objections, recorded_ms, recorded_ms - choice_back_ms FROM events"
	                   " WHERE sid = (SELECT sid FROM subjects WHERE digest = $1) ORDER BY id DESC LIMIT 1",
	                deadline);
}

int pgs_reader_open(void *ctx, struct cg_store_reader **out)
{
	struct pgs *s = ctx;
	struct cg_store_reader *r = calloc(1, sizeof *r);
	char err[256];
	int64_t deadline = pgs_mono_ms() + s->cfg.connect_timeout_ms;

	*out = NULL;
	if (!r)
		return CG_ERR_NOMEM;
	if (pgs_connect_checked(s, "consentgated-read", deadline, &r->conn, err, sizeof err) != CG_OK ||
	    pgs_reader_prepare(r->conn, deadline) != CG_OK) {
		cg_error("postgresql: a read connection: %s", err);
		PQfinish(r->conn);
		free(r);
		return CG_ERR_STORAGE;
	}
	r->s = s;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_lock(&s->readers_mu);
	r->next = s->readers;
	s->readers = r;
	pthread_mutex_unlock(&s->readers_mu);
	*out = r;
	return CG_OK;
}

void pgs_reader_free(struct cg_store_reader *r)
{
	struct pgs *s;

	if (!r)
		return;
	s = r->s;
	pthread_mutex_lock(&s->readers_mu);
	for (struct cg_store_reader **pp = &s->readers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&s->readers_mu);
	PQfinish(r->conn);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

PGconn *pgs_reader_conn(struct cg_store_reader *r)
{
	pthread_mutex_lock(&r->mu);
	return r->conn;
}

void pgs_reader_done(struct cg_store_reader *r, int rc)
{
	int wake = 0;

	if (rc == CG_ERR_IO && r->conn) {
		PQfinish(r->conn);
		r->conn = NULL;
		wake = 1;
	}
	pthread_mutex_unlock(&r->mu);
	if (wake) {
		pthread_mutex_lock(&r->s->mu);
		pthread_cond_signal(&r->s->doctor_wake);
		pthread_mutex_unlock(&r->s->mu);
	}
}

/* The port speaks of storage failures; a dropped connection is one. */
static int port_rc(int rc)
{
	return rc == CG_ERR_IO ? CG_ERR_STORAGE : rc;
}

static int subject_param(const char *subject, char out[CG_SUBJECT_LEN + 3])
{
	if (strlen(subject) != CG_SUBJECT_LEN || strspn(subject, "0123456789abcdef") != CG_SUBJECT_LEN)
		return CG_ERR_NOT_FOUND;
	pgs_bytea_param(subject, out, CG_SUBJECT_LEN + 3);
	return CG_OK;
}

int pgs_load_state(struct cg_store_reader *r, const char *subject, struct cg_state *out)
{
	char key[CG_SUBJECT_LEN + 3];
	const char *v[] = {key};
	PGresult *res = NULL;
	PGconn *c;
	int rc;

	memset(out, 0, sizeof *out);
	if (subject_param(subject, key) != CG_OK)
		return CG_OK;
	c = pgs_reader_conn(r);
	rc = c ? pgs_query_prepared(c, "cg_state", 1, v, pgs_mono_ms() + r->s->cfg.read_timeout_ms, &res)
	       : CG_ERR_IO;
	pgs_reader_done(r, rc);
	if (rc == CG_OK && PQntuples(res) == 1) {
		out->present = 1;
		out->action = (int)pgs_col_i64(res, 0, 0);
		pgs_col(res, 0, 1, out->policy_version, sizeof out->policy_version);
		for (int p = 0; p < CG_NPURPOSES; p++)
			out->choice[p] = pgs_col_tri(res, 0, 2 + p);
		out->objections = (unsigned)pgs_col_i64(res, 0, 5);
		out->recorded_at_ms = pgs_col_i64(res, 0, 6);
		out->choice_at_ms = pgs_col_i64(res, 0, 7); /* NULL reads as 0: no choice */
	}
	PQclear(res);
	return port_rc(rc);
}

/* ---- events ------------------------------------------------------------------ */

/* Every kind of link in one column list (as on SQLite): 0 the kind (enum
 * cg_link), then the fields of struct cg_event; what a kind lacks is NULL. */
#define ROW_COLS(prev) \
	"SELECT 0, e.id, encode(s.digest, 'hex'), NULL, e.recorded_ms, e.action, e.policy_version, e.preferences," \
	" e.statistics, e.marketing, e.objection_purpose, e.objections, e.recorded_ms - e.choice_back_ms," \
	" e.gpc, e.dnt, e.lang, e.banner, e.page, e.ip_prefix, encode(e.ip_digest, 'hex'), e.country," \
	" encode(e.salt, 'hex'), encode(e.core_digest, 'hex'), encode(e.personal_digest, 'hex'), " prev "," \
	" encode(e.hash, 'hex'), e.fmt, NULL::bigint, NULL::bigint, NULL" \
	" FROM events e JOIN subjects s ON s.sid = e.sid"

/* a column of a link, read as it is: a value longer than its field would
 * otherwise read as another, shorter one */
static void col(const PGresult *r, int i, int c, char *out, size_t size, const char *name, struct cg_event *ev)
{
	pgs_col(r, i, c, out, size);
	if (!pgs_col_null(r, i, c) && strlen(PQgetvalue(r, i, c)) >= size && !ev->malformed)
		ev->malformed = name;
}

static void read_event(const PGresult *r, int i, struct cg_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->link = (int)pgs_col_i64(r, i, 0);
	ev->id = pgs_col_i64(r, i, 1);
	col(r, i, 2, ev->subject, sizeof ev->subject, "subject", ev);
	col(r, i, 3, ev->subject_digest, sizeof ev->subject_digest, "subject_digest", ev);
	if (!pgs_col_null(r, i, 4))
		cg_time_format(pgs_col_i64(r, i, 4), ev->recorded_at);
	ev->action = (int)pgs_col_i64(r, i, 5);
	col(r, i, 6, ev->policy_version, sizeof ev->policy_version, "policy_version", ev);
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = pgs_col_tri(r, i, 7 + p);
	ev->objection_purpose = pgs_col_null(r, i, 10) ? -1 : (int)pgs_col_i64(r, i, 10);
	ev->objections = (unsigned)pgs_col_i64(r, i, 11);
	if (!pgs_col_null(r, i, 12))
		cg_time_format(pgs_col_i64(r, i, 12), ev->choice_at);
	ev->gpc = pgs_col_tri(r, i, 13);
	ev->dnt = pgs_col_tri(r, i, 14);
	col(r, i, 15, ev->lang, sizeof ev->lang, "lang", ev);
	col(r, i, 16, ev->banner, sizeof ev->banner, "banner", ev);
	col(r, i, 17, ev->page, sizeof ev->page, "page", ev);
	col(r, i, 18, ev->ip_prefix, sizeof ev->ip_prefix, "ip_prefix", ev);
	col(r, i, 19, ev->ip_digest, sizeof ev->ip_digest, "ip_digest", ev);
	col(r, i, 20, ev->country, sizeof ev->country, "country", ev);
	col(r, i, 21, ev->salt, sizeof ev->salt, "salt", ev);
	col(r, i, 22, ev->core_digest, sizeof ev->core_digest, "core_digest", ev);
	col(r, i, 23, ev->personal_digest, sizeof ev->personal_digest, "personal_digest", ev);
	pgs_col(r, i, 24, ev->prev_hash, sizeof ev->prev_hash);
	col(r, i, 25, ev->hash, sizeof ev->hash, "hash", ev);
	ev->format = pgs_col_null(r, i, 26) ? 1 : (int)pgs_col_i64(r, i, 26);
	ev->purge_id = pgs_col_i64(r, i, 27);
	if (!pgs_col_null(r, i, 28))
		cg_time_format(pgs_col_i64(r, i, 28), ev->pruned_at);
	col(r, i, 29, ev->record, sizeof ev->record, "record", ev);
}

static int each_row(const PGresult *res, cg_store_event_fn fn, void *ctx)
{
	struct cg_event ev;
	int stop = 0;

	for (int i = 0; i < PQntuples(res) && !stop; i++) {
		read_event(res, i, &ev);
		stop = fn(ctx, &ev);
	}
	return stop;
}

static int subject_rows(struct cg_store_reader *r, PGconn *c, const char *subject, cg_store_event_fn fn,
                        void *ctx)
{
	char key[CG_SUBJECT_LEN + 3];
	const char *v[] = {key};
	PGresult *res = NULL;
	int rc;

	if (subject_param(subject, key) != CG_OK)
		return CG_OK;
	rc = pgs_query(c, ROW_COLS("encode(coalesce((SELECT hash FROM events WHERE id = e.id - 1),"
	                           " (SELECT hash FROM pruned WHERE id = e.id - 1),"
	                           " (SELECT hash FROM log_events WHERE id = e.id - 1),"
	                           " CASE WHEN e.id = 1 THEN decode(repeat('00', 32), 'hex') END), 'hex')")
	               " WHERE e.sid = (SELECT sid FROM subjects WHERE digest = $1) ORDER BY e.id",
	               1, v, pgs_mono_ms() + BULK_MS(r->s), &res);
	if (rc == CG_OK)
		rc = each_row(res, fn, ctx);
	PQclear(res);
	return rc;
}

/* The chain through a cursor: the columns of every kind of link (as
 * ROW_COLS), prev_hash the hash of the link before (genesis before id 1). */
#define LINK_SELECT(prev) \
	"DECLARE cg_chain NO SCROLL CURSOR FOR SELECT k, id, subject, sdigest, recorded_ms, action, policy_version," \
	" preferences, statistics, marketing, objection_purpose, objections, choice_ms, gpc, dnt, lang, banner," \
	" page, ip_prefix, ip_digest, country, salt, core_digest, personal_digest, " prev ", encode(hash, 'hex')," \
	" fmt, purge_id, pruned_ms, record FROM ("
#define GENESIS "CASE WHEN id = 1 THEN decode(repeat('00', 32), 'hex') END"
#define EVENTS_ALL \
	"SELECT 0 AS k, e.id, encode(s.digest, 'hex') AS subject, NULL AS sdigest, e.recorded_ms, e.action," \
	" e.policy_version, e.preferences, e.statistics, e.marketing, e.objection_purpose, e.objections," \
	" e.recorded_ms - e.choice_back_ms AS choice_ms, e.gpc, e.dnt, e.lang, e.banner, e.page, e.ip_prefix," \
	" encode(e.ip_digest, 'hex') AS ip_digest, e.country, encode(e.salt, 'hex') AS salt," \
	" encode(e.core_digest, 'hex') AS core_digest, encode(e.personal_digest, 'hex') AS personal_digest, e.hash," \
	" e.fmt, NULL::bigint AS purge_id, NULL::bigint AS pruned_ms, NULL AS record" \
	" FROM events e JOIN subjects s ON s.sid = e.sid UNION ALL "
#define LINKS_AND_LOG \
	"SELECT 1 AS k, p.id, NULL AS subject, encode(p.sdigest, 'hex') AS sdigest, p.recorded_ms, p.action," \
	" p.policy_version, p.preferences, p.statistics, p.marketing, p.objection_purpose," \
	" coalesce(p.objections, 0) AS objections, p.recorded_ms - p.choice_back_ms AS choice_ms, NULL AS gpc," \
	" NULL AS dnt, NULL AS lang, p.banner, NULL AS page, NULL AS ip_prefix, NULL AS ip_digest, NULL AS country," \
	" NULL AS salt, encode(p.core_digest, 'hex') AS core_digest, encode(p.personal_digest, 'hex') AS" \
	" personal_digest, p.hash, p.fmt, p.purge_id, p.pruned_ms, NULL AS record FROM pruned p" \
	" UNION ALL SELECT 2, l.id, NULL, NULL, l.recorded_ms, l.kind, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL," \
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, encode(l.core_digest, 'hex')," \
	" encode(l.personal_digest, 'hex'), l.hash, 2, NULL, NULL, l.record FROM log_events l) x ORDER BY id"
/* every link from one snapshot */
static const char chain_sql[] =
	LINK_SELECT("encode(coalesce(lag(hash) OVER (ORDER BY id), " GENESIS "), 'hex')") EVENTS_ALL LINKS_AND_LOG;
/* the links that are no kept row: the link before each looked up */
static const char links_sql[] =
	LINK_SELECT("encode(coalesce((SELECT hash FROM events WHERE id = x.id - 1), (SELECT hash FROM pruned WHERE"
	            " id = x.id - 1), (SELECT hash FROM log_events WHERE id = x.id - 1), " GENESIS "), 'hex')")
	LINKS_AND_LOG;

/* Inside the reader's snapshot (pgs_snapshot), or a transaction of its own
 * otherwise: a cursor needs one. */
static int chain_rows(struct cg_store_reader *r, PGconn *c, const char *sql, cg_store_event_fn fn, void *ctx)
{
	int64_t step = BULK_MS(r->s);
	int rc = r->snapshot ? CG_OK
	                     : pgs_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pgs_mono_ms() + step);

	if (rc == CG_OK)
		rc = pgs_exec(c, sql, pgs_mono_ms() + step);
	while (rc == CG_OK) {
		PGresult *res = NULL;
		rc = pgs_query(c, "FETCH 2000 FROM cg_chain", 0, NULL, pgs_mono_ms() + step, &res);
		if (rc == CG_OK && PQntuples(res) == 0) {
			PQclear(res);
			break;
		}
		if (rc == CG_OK)
			rc = each_row(res, fn, ctx);
		PQclear(res);
	}
	if (r->snapshot) /* the snapshot goes on: the cursor does not (an error aborted both) */
		return rc == CG_OK ? pgs_exec(c, "CLOSE cg_chain", pgs_mono_ms() + step) : rc;
	if (rc != CG_ERR_IO && pgs_exec(c, rc == CG_OK ? "COMMIT" : "ROLLBACK", pgs_mono_ms() + step) != CG_OK &&
	    rc == CG_OK)
		rc = CG_ERR_STORAGE;
	return rc;
}

int pgs_each_event(struct cg_store_reader *r, const char *subject, cg_store_event_fn fn, void *ctx)
{
	PGconn *c = pgs_reader_conn(r);
	int rc = !c ? CG_ERR_IO : subject ? subject_rows(r, c, subject, fn, ctx) : chain_rows(r, c, chain_sql, fn, ctx);

	pgs_reader_done(r, rc);
	return port_rc(rc);
}

int pgs_each_link(struct cg_store_reader *r, cg_store_event_fn fn, void *ctx)
{
	PGconn *c = pgs_reader_conn(r);
	int rc = c ? chain_rows(r, c, links_sql, fn, ctx) : CG_ERR_IO;

	pgs_reader_done(r, rc);
	return port_rc(rc);
}

int pgs_snapshot(struct cg_store_reader *r, int begin)
{
	PGconn *c = pgs_reader_conn(r);
	int rc = CG_ERR_IO;

	if (c && begin)
		rc = pgs_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pgs_mono_ms() + BULK_MS(r->s));
	else if (c) /* after an error in it, COMMIT ends it all the same (as a rollback) */
		rc = pgs_exec(c, "COMMIT", pgs_mono_ms() + BULK_MS(r->s));
	r->snapshot = begin && rc == CG_OK;
	pgs_reader_done(r, rc);
	return port_rc(rc);
}

/* ---- the report ---------------------------------------------------------------- */

/* the same period labels as SQLite's strftime: %Y-%m-%d, %Y-W%W (weeks from
 * the year's first Monday, 00-53), %Y-%m */
#define PG_TS "(timestamp 'epoch' + recorded_ms * interval '1 millisecond')"
static const char *const period_sql[] = {
	"to_char(" PG_TS ", 'YYYY-MM-DD')",
	"to_char(" PG_TS ", 'YYYY') || '-W' || lpad(((extract(doy FROM " PG_TS ")::int + 6"
	" - (extract(isodow FROM " PG_TS ")::int - 1)) / 7)::text, 2, '0')",
	"to_char(" PG_TS ", 'YYYY-MM')",
};

static int report_rows(const PGresult *res, int period, struct cg_report *out)
{
	out->period = period;
	for (int i = 0; i < PQntuples(res); i++) {
		struct cg_report_row row;
		memset(&row, 0, sizeof row);
		pgs_col(res, i, 0, row.period, sizeof row.period);
		pgs_col(res, i, 1, row.country, sizeof row.country);
		pgs_col(res, i, 2, row.version, sizeof row.version);
		pgs_col(res, i, 3, row.lang, sizeof row.lang);
		row.visitors = pgs_col_i64(res, i, 4);
		for (int o = 0; o < CG_NOUTCOMES; o++)
			row.n[o] = pgs_col_i64(res, i, 5 + o);
		row.choices = pgs_col_i64(res, i, 9);
		for (int k = 0; k < 3; k++)
			row.granted[k] = pgs_col_i64(res, i, 10 + k);
		if (cg_report_add(out, &row) != CG_OK)
			return CG_ERR_NOMEM;
	}
	return CG_OK;
}

int pgs_report(struct cg_store_reader *r, int period, const char *since_day, struct cg_report *out)
{
	char sql[2400], since[CG_TIME_LEN + 1], ms[24];
	const char *v[] = {ms};
	int64_t since_ms = 0;
	PGresult *res = NULL;
	PGconn *c;
	int rc;

	snprintf(since, sizeof since, "%s%s", since_day, strlen(since_day) == 10 ? "T00:00:00.000Z" : "");
	if (period < 0 || period > 2 || (since_day[0] && cg_time_parse(since, &since_ms)))
		return CG_ERR_INVALID;
	snprintf(ms, sizeof ms, "%" PRId64, since_ms);
	snprintf(sql, sizeof sql,
		"SELECT period, coalesce(country, ''), coalesce(policy_version, ''), coalesce(lang, ''),"
		" count(DISTINCT sid),"
		" count(*) FILTER (WHERE action = 0 AND preferences = 1 AND statistics = 1 AND marketing = 1),"
		" count(*) FILTER (WHERE action = 0 AND preferences = 0 AND statistics = 0 AND marketing = 0),"
		" count(*) FILTER (WHERE action = 0 AND NOT (preferences = statistics AND statistics = marketing)),"
		" count(*) FILTER (WHERE action = 1), count(*) FILTER (WHERE action = 0),"
		" count(*) FILTER (WHERE action = 0 AND preferences = 1),"
		" count(*) FILTER (WHERE action = 0 AND statistics = 1),"
		" count(*) FILTER (WHERE action = 0 AND marketing = 1)"
		" FROM (SELECT %s AS period, e.* FROM events e WHERE e.action IN (0, 1) AND e.recorded_ms >= $1) x"
		" GROUP BY 1, 2, 3, 4 ORDER BY period COLLATE \"C\", coalesce(country, '') COLLATE \"C\","
		" coalesce(policy_version, '') COLLATE \"C\", coalesce(lang, '') COLLATE \"C\"",
		period_sql[period]);
	c = pgs_reader_conn(r);
	rc = c ? pgs_query(c, sql, 1, v, pgs_mono_ms() + BULK_MS(r->s), &res) : CG_ERR_IO;
	pgs_reader_done(r, rc);
	if (rc == CG_OK)
		rc = report_rows(res, period, out);
	PQclear(res);
	return port_rc(rc);
}

/* ---- the outbox ------------------------------------------------------------------ */

static int cmp_item(const void *a, const void *b)
{
	const struct cg_outbox_item *x = a, *y = b;

	return x->next_ms != y->next_ms ? (x->next_ms < y->next_ms ? -1 : 1) : (x->id > y->id) - (x->id < y->id);
}

static int read_items(const PGresult *res, struct cg_outbox_item **items, size_t *n)
{
	int rows = PQntuples(res);
	struct cg_outbox_item *it = calloc(rows ? (size_t)rows : 1, sizeof *it);

	if (!it)
		return CG_ERR_NOMEM;
	for (int i = 0; i < rows; i++) {
		struct cg_outbox_item *x = &it[i];
		x->id = pgs_col_i64(res, i, 0);
		pgs_col(res, i, 1, x->subject, sizeof x->subject);
		pgs_col(res, i, 2, x->destination, sizeof x->destination);
		x->purpose = (int)pgs_col_i64(res, i, 3);
		x->mode = pgs_col_i64(res, i, 4) == 0 ? CG_FORWARD_FULL : CG_FORWARD_MINIMISED;
		x->attempts = (int)pgs_col_i64(res, i, 5);
		x->created_ms = pgs_col_i64(res, i, 6);
		x->payload = strdup(PQgetvalue(res, i, 7));
		x->next_ms = pgs_col_i64(res, i, 8);
		x->state = (int)pgs_col_i64(res, i, 9);
		pgs_col(res, i, 10, x->last_error, sizeof x->last_error);
		*n = (size_t)i + 1;
		if (!x->payload) {
			cg_store_outbox_items_free(it, *n);
			*n = 0;
			return CG_ERR_NOMEM;
		}
	}
	*items = it;
	return CG_OK;
}

#define ITEM_COLS(o) \
	o ".id, encode((SELECT digest FROM subjects WHERE sid = " o ".sid), 'hex'), " o ".destination, " \
	o ".purpose, " o ".mode, " o ".attempts, " o ".created_ms, " o ".payload, " o ".next_ms, " o ".state, " \
	o ".last_error"

/* Claimed rows carry this instance's id and a lease on the database's
 * clock; rows claimed by others are skipped until their lease ends (then a
 * dead instance's rows are taken over). */
int pgs_claim_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max, int64_t lease_ms,
                     struct cg_outbox_item **items, size_t *n)
{
	char now[24], lim[24], lease[24];
	const char *v[] = {now, lim, r->s->instance, lease};
	PGresult *res = NULL;
	PGconn *c;
	int rc;

	*items = NULL;
	*n = 0;
	snprintf(now, sizeof now, "%" PRId64, now_ms);
	snprintf(lim, sizeof lim, "%zu", max);
	snprintf(lease, sizeof lease, "%" PRId64, lease_ms);
	c = pgs_reader_conn(r);
	rc = c ? pgs_query(c, "UPDATE outbox_rows o SET claimed_by = $3, claimed_until_ms = cg_now_ms() + $4"
	                      " FROM (SELECT id FROM outbox_rows WHERE state = 0 AND next_ms <= $1"
	                      "   AND (claimed_until_ms IS NULL OR claimed_until_ms <= cg_now_ms())"
	                      "   ORDER BY next_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED) due"
	                      " WHERE o.id = due.id RETURNING " ITEM_COLS("o"),
	                   4, v, pgs_mono_ms() + r->s->cfg.write_timeout_ms, &res)
	       : CG_ERR_IO;
	pgs_reader_done(r, rc);
	if (rc == CG_OK)
		rc = read_items(res, items, n);
	PQclear(res);
	if (rc == CG_OK)
		qsort(*items, *n, sizeof **items, cmp_item);
	return port_rc(rc);
}

int pgs_reader_query(struct cg_store_reader *r, const char *sql, int n, const char *const *vals, PGresult **res)
{
	PGconn *c = pgs_reader_conn(r);
	int rc = c ? pgs_query(c, sql, n, vals, pgs_mono_ms() + r->s->cfg.write_timeout_ms, res) : CG_ERR_IO;

	pgs_reader_done(r, rc);
	return port_rc(rc);
}

/* the pending events by the outbox_due index, the notices by their own */
int pgs_outbox_pending(struct cg_store_reader *r, long long *events, long long *notices)
{
	PGresult *res = NULL;
	int rc = pgs_reader_query(r, "SELECT (SELECT count(*) FROM outbox_rows WHERE state = 0),"
	                             " (SELECT count(*) FROM outbox_rows WHERE state = 0 AND kind = 1)", 0, NULL, &res);

	*notices = rc == CG_OK ? pgs_col_i64(res, 0, 1) : 0;
	*events = rc == CG_OK ? pgs_col_i64(res, 0, 0) - *notices : 0;
	PQclear(res);
	return rc;
}

/* (subject, destination) of the recipients recorded (storage.h) */
int pgs_each_recipient(struct cg_store_reader *r, const char *subject, cg_store_recipient_fn fn, void *ctx)
{
	char key[CG_SUBJECT_LEN + 3], hex[CG_SUBJECT_LEN + 1];
	const char *v[] = {key};
	PGresult *res = NULL;
	int rc, stop = 0;

	if (subject)
		pgs_bytea_param(subject, key, sizeof key);
	rc = pgs_reader_query(r, subject ? "SELECT s.digest, r.destination FROM recipients r JOIN subjects s"
	                                   " ON s.sid = r.sid WHERE s.digest = $1"
	                                 : "SELECT s.digest, r.destination FROM recipients r JOIN subjects s"
	                                   " ON s.sid = r.sid ORDER BY r.sid, r.destination",
	                      subject ? 1 : 0, v, &res);
	for (int i = 0; rc == CG_OK && !stop && i < PQntuples(res); i++) {
		pgs_col_hex(res, i, 0, hex, sizeof hex);
		stop = fn(ctx, hex, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return stop ? stop : rc;
}

int pgs_recipients_since(struct cg_store_reader *r, int64_t *ms)
{
	PGresult *res = NULL;
	int rc = pgs_reader_query(r, "SELECT value::bigint FROM meta WHERE key = '" CG_RECIPIENTS_SINCE "'", 0, NULL,
	                          &res);

	*ms = rc == CG_OK && PQntuples(res) ? pgs_col_i64(res, 0, 0) : 0;
	PQclear(res);
	return rc;
}

int pgs_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES])
{
	PGresult *res = NULL;
	int rc = pgs_reader_query(r, "SELECT state, count(*) FROM outbox_rows GROUP BY state", 0, NULL, &res);

	memset(counts, 0, sizeof(long long) * CG_OB_NSTATES);
	for (int i = 0; rc == CG_OK && i < PQntuples(res); i++) {
		int64_t st = pgs_col_i64(res, i, 0);
		if (st >= 0 && st < CG_OB_NSTATES)
			counts[st] = pgs_col_i64(res, i, 1);
	}
	PQclear(res);
	return rc;
}

int pgs_outbox_backlog(struct cg_store_reader *r, cg_store_backlog_fn fn, void *ctx)
{
	PGresult *res = NULL;
	int rc = pgs_reader_query(r,
		"SELECT destination, count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 3),"
		" coalesce(min(created_ms) FILTER (WHERE state = 0), 0) FROM outbox_rows"
		" WHERE state IN (0, 3) GROUP BY destination ORDER BY destination COLLATE \"C\"", 0, NULL, &res);

	for (int i = 0, stop = 0; rc == CG_OK && !stop && i < PQntuples(res); i++)
		stop = fn(ctx, PQgetvalue(res, i, 0), pgs_col_i64(res, i, 1), pgs_col_i64(res, i, 2),
		          pgs_col_i64(res, i, 3));
	PQclear(res);
	return rc;
}

int pgs_outbox_rows(struct cg_store_reader *r, const char *kind, cg_store_row_fn fn, void *ctx)
{
	static const char summary[] =
		"SELECT destination, kind, state, count(*), min(created_at), max(created_at) FROM outbox"
		" GROUP BY destination, kind, state ORDER BY destination COLLATE \"C\", kind COLLATE \"C\","
		" state COLLATE \"C\"";
	static const char dead[] =
		"SELECT id, destination, kind, created_at, attempts, last_error FROM outbox WHERE state = 'dead' ORDER BY id";
	PGresult *res = NULL;
	PGconn *c = pgs_reader_conn(r);
	int rc = c ? pgs_query(c, strcmp(kind, "dead") == 0 ? dead : summary, 0, NULL,
	                       pgs_mono_ms() + BULK_MS(r->s), &res)
	           : CG_ERR_IO;

	pgs_reader_done(r, rc);
	for (int i = 0, stop = 0; rc == CG_OK && !stop && i < PQntuples(res); i++) {
		const char *cols[6];
		for (int k = 0; k < 6; k++)
			cols[k] = PQgetisnull(res, i, k) ? "" : PQgetvalue(res, i, k);
		stop = fn(ctx, 6, cols);
	}
	PQclear(res);
	return port_rc(rc);
}

int pgs_each_outbox(struct cg_store_reader *r, cg_store_outbox_fn fn, void *ctx)
{
	struct cg_outbox_item *items = NULL;
	PGresult *res = NULL;
	PGconn *c = pgs_reader_conn(r);
	size_t n = 0;
	int rc = c ? pgs_query(c, "SELECT " ITEM_COLS("o") " FROM outbox_rows o ORDER BY o.id", 0, NULL,
	                       pgs_mono_ms() + BULK_MS(r->s), &res)
	           : CG_ERR_IO;

	pgs_reader_done(r, rc);
	if (rc == CG_OK)
		rc = read_items(res, &items, &n);
	PQclear(res);
	for (size_t i = 0; rc == CG_OK && i < n; i++)
		rc = fn(ctx, &items[i]);
	cg_store_outbox_items_free(items, n);
	return port_rc(rc);
}
