/* Read connections (one thread at a time each) and every query. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/decision.h"
#include "consentgate/store_sqlite.h"
#include "internal.h"
#include "schema.sql.h"


int cgs_reader_open(void *ctx, struct cg_store_reader **out)
{
	struct cgs *s = ctx;
	struct cg_store_reader *r = calloc(1, sizeof *r);

	*out = NULL;
	if (!r)
		return CG_ERR_NOMEM;
	/* one reader per worker thread: a small page cache (64 kB) each keeps the daemon
	 * small (the OS page cache holds the hot pages anyway) */
	if (cgs_open_conn(s->path, SQLITE_OPEN_READONLY, &r->db) ||
	    sqlite3_exec(r->db, "PRAGMA cache_size=-64", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db, CGS_SUBJECT_FIND_SQL, -1, SQLITE_PREPARE_PERSISTENT, &r->find,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db,
	                       "SELECT action, policy_version, preferences, statistics, marketing,"
	                       " objections, recorded_ms, recorded_ms - choice_back_ms FROM events"
	                       " WHERE sid = ? ORDER BY id DESC LIMIT 1",
	                       -1, SQLITE_PREPARE_PERSISTENT, &r->state, NULL) != SQLITE_OK) {
		cgs_reader_free(r);
		return CG_ERR_STORAGE;
	}
	*out = r;
	return CG_OK;
}

void cgs_reader_free(struct cg_store_reader *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->find);
	sqlite3_finalize(r->state);
	sqlite3_finalize(r->claim);
	sqlite3_close(r->db);
	free(r);
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(out, size, "%s", v ? v : "");
}

static int col_tri(sqlite3_stmt *st, int i)
{
	int v = sqlite3_column_int(st, i);

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return CG_TRI_NULL;
	return v == 0 || v == 1 ? v : CG_TRI_BAD; /* no digest matches it */
}

/* The visitor's sid: CG_OK, CG_ERR_NOT_FOUND (no row yet), or an error. */
static int reader_sid(struct cg_store_reader *r, const char *subject, int64_t *sid)
{
	uint8_t key[CG_SUBJECT_BYTES];

	if (cgs_subject_key(subject, key) != CG_OK)
		return CG_ERR_NOT_FOUND;
	return cgs_sid_find(r->find, key, sid);
}

static void col_time(sqlite3_stmt *st, int i, char out[CG_TIME_LEN + 1])
{
	out[0] = '\0';
	if (sqlite3_column_type(st, i) != SQLITE_NULL)
		cg_time_format(sqlite3_column_int64(st, i), out);
}

int cgs_load_state(struct cg_store_reader *r, const char *subject, struct cg_state *out)
{
	sqlite3_stmt *st = r->state;
	const char *s;
	int64_t sid = 0;
	int rc;

	memset(out, 0, sizeof *out);
	rc = reader_sid(r, subject, &sid);
	if (rc != CG_OK)
		return rc == CG_ERR_NOT_FOUND ? CG_OK : rc;
	sqlite3_bind_int64(st, 1, sid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->present = 1;
		out->action = sqlite3_column_int(st, 0);
		s = (const char *)sqlite3_column_text(st, 1);
		snprintf(out->policy_version, sizeof out->policy_version, "%s", s ? s : "");
		for (int p = 0; p < CG_NPURPOSES; p++)
			out->choice[p] = col_tri(st, 2 + p);
		out->objections = (unsigned)sqlite3_column_int(st, 5);
		out->recorded_at_ms = sqlite3_column_int64(st, 6);
		out->choice_at_ms = sqlite3_column_int64(st, 7); /* NULL reads as 0: no choice */
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}


int cgs_report(struct cg_store_reader *r, int period, const char *since_day,
               struct cg_report *out)
{
	static const char *const period_sql[] = {
		"strftime('%Y-%m-%d', recorded_ms / 1000, 'unixepoch')",
		"strftime('%Y-W%W', recorded_ms / 1000, 'unixepoch')",
		"strftime('%Y-%m', recorded_ms / 1000, 'unixepoch')",
	};
	char sql[1400], since[CG_TIME_LEN + 1];
	sqlite3_stmt *st = NULL;
	int64_t since_ms = 0;
	int rc;

	/* a day ("2026-11-01") or a time */
	snprintf(since, sizeof since, "%s%s", since_day, strlen(since_day) == 10 ? "T00:00:00.000Z" : "");
	if (period < 0 || period > 2 || (since_day[0] && cg_time_parse(since, &since_ms)))
		return CG_ERR_INVALID;
	out->period = period;
	snprintf(sql, sizeof sql,
		"SELECT period, coalesce(country, ''), coalesce(policy_version, ''), coalesce(lang, ''),"
		" count(DISTINCT sid),"
		" sum(action = 0 AND preferences = 1 AND statistics = 1 AND marketing = 1),"
		" sum(action = 0 AND preferences = 0 AND statistics = 0 AND marketing = 0),"
		" sum(action = 0 AND NOT (preferences = statistics AND statistics = marketing)),"
		" sum(action = 1), sum(action = 0),"
		" sum(action = 0 AND preferences = 1), sum(action = 0 AND statistics = 1),"
		" sum(action = 0 AND marketing = 1)"
		" FROM (SELECT %s AS period, e.*, x.country, x.lang FROM events e"
		"       LEFT JOIN contexts x ON x.cid = e.cid"
		"       WHERE e.action IN (0, 1) AND e.id >= ?2 AND e.recorded_ms >= ?1)"
		" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 = '', 2, 3, 4", period_sql[period]);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, cgs_first_id(r->db, since_ms));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cg_report_row row;
		memset(&row, 0, sizeof row);
		col_copy(st, 0, row.period, sizeof row.period);
		col_copy(st, 1, row.country, sizeof row.country);
		col_copy(st, 2, row.version, sizeof row.version);
		col_copy(st, 3, row.lang, sizeof row.lang);
		row.visitors = sqlite3_column_int64(st, 4);
		for (int o = 0; o < CG_NOUTCOMES; o++)
			row.n[o] = sqlite3_column_int64(st, 5 + o);
		row.choices = sqlite3_column_int64(st, 9);
		for (int c = 0; c < 3; c++)
			row.granted[c] = sqlite3_column_int64(st, 10 + c);
		if (cg_report_add(out, &row) != CG_OK) {
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}


/* Every kind of link in one column list: 0 the kind (enum cg_link), then the
 * fields of struct cg_event; what a kind lacks is NULL. */
#define ROW_COLS \
	"SELECT 0, e.id, s.digest, NULL, e.recorded_ms, e.action, e.policy_version, e.preferences," \
	" e.statistics, e.marketing, e.objection_purpose, e.objections, e.recorded_ms - e.choice_back_ms, e.gpc," \
	" e.dnt, c.lang, c.banner, e.page, e.ip_prefix, e.ip_digest, c.country, e.salt, e.core_digest," \
	" e.personal_digest, " CG_PREV("e.id") ", e.hash, e.fmt, NULL, NULL, NULL" \
	" FROM events e JOIN subjects s ON s.sid = e.sid LEFT JOIN contexts c ON c.cid = e.cid"
#define LINK_COLS \
	" SELECT 1, p.id, NULL, p.sdigest, p.recorded_ms, p.action, p.policy_version, p.preferences," \
	" p.statistics, p.marketing, p.objection_purpose, coalesce(p.objections, 0)," \
	" p.recorded_ms - p.choice_back_ms, NULL, NULL, NULL, c.banner, NULL, NULL, NULL, NULL, NULL," \
	" p.core_digest, p.personal_digest, " CG_PREV("p.id") ", p.hash, p.fmt, p.purge_id, p.pruned_ms, NULL" \
	" FROM pruned p LEFT JOIN contexts c ON c.cid = p.cid"
#define LOG_COLS \
	" SELECT 2, l.id, NULL, NULL, l.recorded_ms, l.kind, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL," \
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.core_digest, l.personal_digest, " CG_PREV("l.id") "," \
	" l.hash, 2, NULL, NULL, l.record FROM log_events l"

/* Columns of a link, read as they are: a value longer than its field, or
 * text with a NUL inside, would otherwise read as another, shorter one. */
static void text_col(sqlite3_stmt *st, int i, char *out, size_t size, const char *name, struct cg_event *ev)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	snprintf(out, size, "%s", v ? v : "");
	if (v && (n >= size || strlen(v) != n) && !ev->malformed)
		ev->malformed = name;
}

static void hex_col(sqlite3_stmt *st, int i, char *out, size_t size, const char *name, struct cg_event *ev)
{
	cgs_column_hex(st, i, out, size);
	if (2 * (size_t)sqlite3_column_bytes(st, i) >= size && !ev->malformed)
		ev->malformed = name;
}

static void read_event(sqlite3_stmt *st, struct cg_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->link = sqlite3_column_int(st, 0);
	ev->id = sqlite3_column_int64(st, 1);
	hex_col(st, 2, ev->subject, sizeof ev->subject, "subject", ev);
	hex_col(st, 3, ev->subject_digest, sizeof ev->subject_digest, "subject_digest", ev);
	col_time(st, 4, ev->recorded_at);
	ev->action = sqlite3_column_int(st, 5);
	text_col(st, 6, ev->policy_version, sizeof ev->policy_version, "policy_version", ev);
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = col_tri(st, 7 + p);
	ev->objection_purpose = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10);
	ev->objections = (unsigned)sqlite3_column_int(st, 11);
	col_time(st, 12, ev->choice_at);
	ev->gpc = col_tri(st, 13);
	ev->dnt = col_tri(st, 14);
	text_col(st, 15, ev->lang, sizeof ev->lang, "lang", ev);
	text_col(st, 16, ev->banner, sizeof ev->banner, "banner", ev);
	text_col(st, 17, ev->page, sizeof ev->page, "page", ev);
	text_col(st, 18, ev->ip_prefix, sizeof ev->ip_prefix, "ip_prefix", ev);
	hex_col(st, 19, ev->ip_digest, sizeof ev->ip_digest, "ip_digest", ev);
	text_col(st, 20, ev->country, sizeof ev->country, "country", ev);
	hex_col(st, 21, ev->salt, sizeof ev->salt, "salt", ev);
	hex_col(st, 22, ev->core_digest, sizeof ev->core_digest, "core_digest", ev);
	hex_col(st, 23, ev->personal_digest, sizeof ev->personal_digest, "personal_digest", ev);
	cgs_column_hex(st, 24, ev->prev_hash, sizeof ev->prev_hash);
	hex_col(st, 25, ev->hash, sizeof ev->hash, "hash", ev);
	ev->format = sqlite3_column_type(st, 26) == SQLITE_NULL ? 1 : sqlite3_column_int(st, 26);
	ev->purge_id = sqlite3_column_int64(st, 27);
	col_time(st, 28, ev->pruned_at);
	text_col(st, 29, ev->record, sizeof ev->record, "record", ev);
}

/* the links sql selects, to fn; sid bound as ?1 when not 0 */
static int each(struct cg_store_reader *r, const char *sql, int64_t sid, cg_store_event_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct cg_event ev;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	if (sid)
		sqlite3_bind_int64(st, 1, sid);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_event(st, &ev);
		stop = fn(ctx, &ev);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cgs_each_event(struct cg_store_reader *r, const char *subject, cg_store_event_fn fn, void *ctx)
{
	int64_t sid = 0;
	int rc;

	if (!subject) /* the whole chain, every kind of link */
		return each(r, ROW_COLS " UNION ALL" LINK_COLS " UNION ALL" LOG_COLS " ORDER BY 2", 0, fn, ctx);
	if ((rc = reader_sid(r, subject, &sid)) != CG_OK)
		return rc == CG_ERR_NOT_FOUND ? CG_OK : rc;
	return each(r, ROW_COLS " WHERE e.sid = ?1 ORDER BY e.id", sid, fn, ctx);
}

int cgs_each_link(struct cg_store_reader *r, cg_store_event_fn fn, void *ctx)
{
	return each(r, LINK_COLS " UNION ALL" LOG_COLS " ORDER BY 2", 0, fn, ctx);
}

/* a WAL read transaction: its snapshot is taken at its first read */
int cgs_snapshot(struct cg_store_reader *r, int begin)
{
	return cgs_exec(r->db, begin ? "BEGIN" : "COMMIT") == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
}

/* One daemon per SQLite file: claiming is reading (the lease is moot). */
int cgs_claim_outbox(struct cg_store_reader *r, int64_t now_ms, size_t max, int64_t lease_ms,
                     struct cg_outbox_item **items, size_t *n)
{
	sqlite3_stmt *st;
	struct cg_outbox_item *it = NULL;
	int rc;

	(void)lease_ms;
	*items = NULL;
	*n = 0;
	/* kept prepared: under load the forwarder runs a round after every
	 * commit that queued rows (parsing this each time was 2 % of the CPU) */
	if (!r->claim &&
	    sqlite3_prepare_v3(r->db,
	                       "SELECT o.id, s.digest, o.destination, o.purpose, o.mode, o.attempts,"
	                       " o.created_ms, o.payload, o.last_error FROM outbox_rows o"
	                       " LEFT JOIN subjects s ON s.sid = o.sid"
	                       " WHERE o.state = 0 AND o.next_ms <= ? ORDER BY o.next_ms, o.id LIMIT ?",
	                       -1, SQLITE_PREPARE_PERSISTENT, &r->claim, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	st = r->claim;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	it = calloc(max ? max : 1, sizeof *it);
	if (!it) {
		sqlite3_clear_bindings(st);
		return CG_ERR_NOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct cg_outbox_item *x = &it[*n];
		const char *pl = (const char *)sqlite3_column_text(st, 7);
		x->id = sqlite3_column_int64(st, 0);
		cgs_column_hex(st, 1, x->subject, sizeof x->subject);
		col_copy(st, 2, x->destination, sizeof x->destination);
		x->purpose = sqlite3_column_int(st, 3);
		x->mode = sqlite3_column_int(st, 4) == 0 ? CG_FORWARD_FULL : CG_FORWARD_MINIMISED;
		x->attempts = sqlite3_column_int(st, 5);
		x->created_ms = sqlite3_column_int64(st, 6);
		x->payload = strdup(pl ? pl : "");
		col_copy(st, 8, x->last_error, sizeof x->last_error);
		(*n)++;
		if (!x->payload) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	/* reset: ends the read transaction, which would hold back checkpoints */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		cg_store_outbox_items_free(it, *n);
		*n = 0;
		return CG_ERR_STORAGE;
	}
	*items = it;
	return CG_OK;
}

/* the pending events by the outbox_due index, the notices by their own
 * (which the planner, without statistics, would not pick by itself) */
int cgs_outbox_pending(struct cg_store_reader *r, long long *events, long long *notices)
{
	static const char sql[] =
		"SELECT (SELECT count(*) FROM outbox_rows WHERE state = 0),"
		" (SELECT count(*) FROM outbox_rows INDEXED BY outbox_notices WHERE state = 0 AND kind = 1)";
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE;

	*events = *notices = 0;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*notices = sqlite3_column_int64(st, 1);
		*events = sqlite3_column_int64(st, 0) - *notices;
		rc = CG_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int cgs_recipients_since(struct cg_store_reader *r, int64_t *ms)
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE, step;

	*ms = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = '" CG_RECIPIENTS_SINCE "'",
	                       -1, &st, NULL) == SQLITE_OK) {
		step = sqlite3_step(st);
		if (step == SQLITE_ROW)
			*ms = sqlite3_column_int64(st, 0);
		rc = step == SQLITE_ROW || step == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
	}
	sqlite3_finalize(st);
	return rc;
}

/* (subject, destination) of the recipients recorded (storage.h) */
int cgs_each_recipient(struct cg_store_reader *r, const char *subject, cg_store_recipient_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	char hex[CG_SUBJECT_LEN + 1];
	int64_t sid = 0;
	int rc, stop = 0;

	if (subject && (rc = reader_sid(r, subject, &sid)) != CG_OK)
		return rc == CG_ERR_NOT_FOUND ? CG_OK : rc;
	if (sqlite3_prepare_v2(r->db, subject ? "SELECT s.digest, r.destination FROM recipients r"
	                                        " JOIN subjects s ON s.sid = r.sid WHERE r.sid = ?1"
	                                      : "SELECT s.digest, r.destination FROM recipients r"
	                                        " JOIN subjects s ON s.sid = r.sid ORDER BY r.sid, r.destination",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	if (subject)
		sqlite3_bind_int64(st, 1, sid);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 1);
		cgs_column_hex(st, 0, hex, sizeof hex);
		stop = fn(ctx, hex, d ? d : "");
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cgs_outbox_counts(struct cg_store_reader *r, long long counts[CG_OB_NSTATES])
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(counts, 0, sizeof(long long) * CG_OB_NSTATES);
	if (sqlite3_prepare_v2(r->db, "SELECT state, count(*) FROM outbox_rows GROUP BY state", -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int i = sqlite3_column_int(st, 0);
		if (i >= 0 && i < CG_OB_NSTATES)
			counts[i] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cgs_outbox_backlog(struct cg_store_reader *r, cg_store_backlog_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	/* outbox_due (state, next_ms) finds the pending and dead rows alone */
	if (sqlite3_prepare_v2(r->db,
	                       "SELECT destination, count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state = 3),"
	                       " coalesce(min(created_ms) FILTER (WHERE state = 0), 0) FROM outbox_rows"
	                       " WHERE state IN (0, 3) GROUP BY destination ORDER BY destination",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
		          sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	return stop || rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

/* ---- outbox administration (consentctl outbox) ------------------------------ */

int cgs_outbox_rows(struct cg_store_reader *r, const char *sql_kind,
                    int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx)
{
	static const char summary[] =
		"SELECT destination, kind, state, count(*), min(created_at), max(created_at) FROM outbox"
		" GROUP BY destination, kind, state ORDER BY destination, kind, state";
	static const char dead[] =
		"SELECT id, destination, kind, created_at, attempts, last_error FROM outbox"
		" WHERE state = 'dead' ORDER BY id";
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(r->db, strcmp(sql_kind, "dead") == 0 ? dead : summary, -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cols[6];
		for (int i = 0; i < 6; i++) {
			cols[i] = (const char *)sqlite3_column_text(st, i);
			if (!cols[i])
				cols[i] = "";
		}
		stop = fn(ctx, 6, cols);
	}
	sqlite3_finalize(st);
	return stop || rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}


/* every outbox row (consentctl migrate --to) */
int cgs_each_outbox(struct cg_store_reader *r, cg_store_outbox_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	if (sqlite3_prepare_v2(r->db,
	                       "SELECT o.id, s.digest, o.destination, o.purpose, o.mode, o.attempts, o.created_ms,"
	                       " o.payload, o.state, o.next_ms, o.last_error"
	                       " FROM outbox_rows o LEFT JOIN subjects s ON s.sid = o.sid ORDER BY o.id",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cg_outbox_item it;
		memset(&it, 0, sizeof it);
		it.id = sqlite3_column_int64(st, 0);
		cgs_column_hex(st, 1, it.subject, sizeof it.subject);
		col_copy(st, 2, it.destination, sizeof it.destination);
		it.purpose = sqlite3_column_int(st, 3);
		it.mode = sqlite3_column_int(st, 4) == 0 ? CG_FORWARD_FULL : CG_FORWARD_MINIMISED;
		it.attempts = sqlite3_column_int(st, 5);
		it.created_ms = sqlite3_column_int64(st, 6);
		it.payload = strdup(sqlite3_column_text(st, 7) ? (const char *)sqlite3_column_text(st, 7) : "");
		it.state = sqlite3_column_int(st, 8);
		it.next_ms = sqlite3_column_int64(st, 9);
		col_copy(st, 10, it.last_error, sizeof it.last_error);
		stop = it.payload ? fn(ctx, &it) : CG_ERR_NOMEM;
		free(it.payload);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}
