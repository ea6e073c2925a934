/* Maintenance on the writer's connection: the retention purge and the
 * outbox administration of consentctl. What goes is the core's rule
 * (cg_rules_retention, cg_rules_consent_ended_ms); this file carries it out. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/logevent.h"
#include "consentgate/rules.h"
#include "consentgate/store_sqlite.h"
#include "consentgate/timefmt.h"
#include "internal.h"

/* ---- retention ------------------------------------------------------------ */

struct candidates;

struct purge_job {
	const struct cg_config *cfg;
	int64_t now_ms;
	int dry_run;
	struct cg_purge_counts *out;
	struct cg_retention_cutoffs cut;   /* the core's rule at now_ms */
	const struct candidates *cand;     /* visitors to prune, read before */
};

/* one statement with integer parameters */
static int purge_step(sqlite3 *db, const char *sql, const int64_t *binds, int nbinds,
                      long long *changes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cg_error("purge: %s", sqlite3_errmsg(db));
		return CG_ERR_STORAGE;
	}
	for (int i = 0; i < nbinds; i++)
		sqlite3_bind_int64(st, i + 1, binds[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return CG_ERR_STORAGE;
	if (changes)
		*changes = sqlite3_changes(db);
	return CG_OK;
}

/* 1. IP prefixes. A row of format 2 keeps the prefix's digest and its
 *    personal salt instead (cg_ip_clear: chain.h), so its other personal
 *    fields stay checkable; one of format 1 loses its salt with the prefix,
 *    as it always did. Only the ids recorded since the last purge's
 *    cut-off are looked at (meta ip_cleared_before_ms): the rows before it
 *    were cleared then. */
static int purge_ip(sqlite3 *db, struct purge_job *p)
{
	int64_t b[] = {p->cut.ip_prefix_before_ms, 0, 0};
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'ip_cleared_before_ms'",
	                       -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		b[1] = cgs_first_id(db, sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	b[2] = cgs_after_id(db, b[0]);
	rc = purge_step(db, "UPDATE events SET ip_prefix = NULL,"
	                    " ip_digest = CASE WHEN fmt = 2 THEN cg_ip_clear(salt, ip_prefix, 1) END,"
	                    " salt = CASE WHEN fmt = 2 THEN cg_ip_clear(salt, ip_prefix, 0) END"
	                    " WHERE id >= ?2 AND id < ?3 AND ip_prefix IS NOT NULL AND recorded_ms < ?1",
	                b, 3, &p->out->ip_prefixes_cleared);
	if (rc == CG_OK)
		rc = purge_step(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('ip_cleared_before_ms', ?1)",
		                b, 1, NULL);
	return rc;
}

/* The visitors to prune: the core decides from each one's latest event.
 * Deciding means reading every visitor's latest event, a scan of the whole
 * table (0.85 s at 2 M events), so it runs before the write transaction, on
 * a connection of its own: a WAL reader, while the writer keeps committing.
 * Each candidate keeps the id of the latest event it was judged by. */
struct candidates {
	int64_t (*v)[2];   /* sid, latest event id */
	size_t n, cap;
	char (*shown)[65]; /* retired builds and notices only candidates name */
	size_t nshown;
	int64_t max_id;    /* the newest event the reads saw */
};

static int by_sid(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Whether every row naming retired build, notice or vendor list `id`
 * belongs to a candidate (so that none is left once they are pruned). The
 * record (shown.h) holds the build at 7, the notice at 47 and a vendor
 * list's id at 120 (after ";vendors="); a 64-digit id is found nowhere
 * else. */
static int only_candidates_name(sqlite3 *db, const struct candidates *c, const char *id, int *yes)
{
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;

	if (sqlite3_prepare_v2(db, "SELECT e.sid FROM events e JOIN contexts x ON x.cid = e.cid"
	                           " WHERE x.banner LIKE 'build=%' AND (substr(x.banner, 7, 32) = ?1"
	                           " OR substr(x.banner, 47, 64) = ?1 OR substr(x.banner, 120, 64) = ?1)",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	*yes = 1;
	while (*yes && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t key[2] = {sqlite3_column_int64(st, 0), 0};
		*yes = c->n && bsearch(key, c->v, c->n, sizeof *c->v, by_sid) != NULL;
	}
	sqlite3_finalize(st);
	return !*yes || step == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

/* The retired builds and notices that no row will name once the
 * candidates are pruned, and the newest event id of this snapshot. */
static int read_shown(sqlite3 *db, struct candidates *c)
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE, step = SQLITE_DONE, yes;

	if (c->n) /* (v is NULL then) */
		qsort(c->v, c->n, sizeof *c->v, by_sid);
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM events", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	c->max_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id FROM shown WHERE retired_ms IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		void *nv;
		if ((rc = only_candidates_name(db, c, id, &yes)) != CG_OK)
			goto out;
		if (!yes)
			continue;
		if (!(nv = realloc(c->shown, (c->nshown + 1) * sizeof *c->shown))) {
			rc = CG_ERR_NOMEM;
			goto out;
		}
		c->shown = nv;
		snprintf(c->shown[c->nshown++], sizeof *c->shown, "%s", id);
	}
	rc = step == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
out:
	sqlite3_finalize(st);
	return rc;
}

static int read_candidates(const char *path, struct purge_job *p, struct candidates *c)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE, step;

	/* one read transaction: one snapshot for every read */
	if (cgs_open_conn(path, SQLITE_OPEN_READONLY, &db) != CG_OK || cgs_exec(db, "BEGIN") != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT e.sid, e.id, e.action, e.preferences, e.statistics, e.marketing,"
	                           " e.recorded_ms, e.recorded_ms - e.choice_back_ms FROM events e"
	                           " JOIN (SELECT sid, max(id) AS id FROM events GROUP BY sid) l ON e.id = l.id",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct cg_state latest = {.present = 1};
		latest.action = sqlite3_column_int(st, 2);
		for (int i = 0; i < CG_NPURPOSES; i++)
			latest.choice[i] = sqlite3_column_type(st, 3 + i) == SQLITE_NULL ? CG_TRI_NULL
			                   : sqlite3_column_int(st, 3 + i);
		latest.recorded_at_ms = sqlite3_column_int64(st, 6);
		latest.choice_at_ms = sqlite3_column_int64(st, 7);
		if (cg_rules_consent_ended_ms(p->cfg, &latest) >= p->cut.ended_before_ms)
			continue;
		if (c->n == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 256;
			void *nv = realloc(c->v, ncap * sizeof *c->v);
			if (!nv) {
				rc = CG_ERR_NOMEM;
				goto out;
			}
			c->v = nv;
			c->cap = ncap;
		}
		c->v[c->n][0] = sqlite3_column_int64(st, 0);
		c->v[c->n++][1] = sqlite3_column_int64(st, 1);
	}
	rc = step == SQLITE_DONE ? read_shown(db, c) : CG_ERR_STORAGE;
out:
	sqlite3_finalize(st);
	sqlite3_close(db); /* ends the read transaction */
	return rc;
}

/* Into temp.purge_subjects, inside the write transaction: the candidates
 * with no event since they were judged (a visitor who came back in between
 * keeps the new choice). */
static int pick_subjects(sqlite3 *db, struct purge_job *p)
{
	sqlite3_stmt *ins = NULL;
	int rc = CG_OK;

	if (sqlite3_prepare_v2(db, "INSERT INTO temp.purge_subjects(sid) SELECT ?1"
	                           " WHERE (SELECT max(id) FROM events WHERE sid = ?1) = ?2",
	                       -1, &ins, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < p->cand->n && rc == CG_OK; i++) {
		sqlite3_bind_int64(ins, 1, p->cand->v[i][0]);
		sqlite3_bind_int64(ins, 2, p->cand->v[i][1]);
		rc = cgs_step_done(ins);
		if (rc == CG_OK && sqlite3_changes(db) == 0) /* came back: spared */
			rc = purge_step(db, "INSERT INTO temp.purge_spared(sid) VALUES(?1)", p->cand->v[i], 1, NULL);
		else
			p->out->subjects_pruned++;
	}
	sqlite3_finalize(ins);
	return rc;
}

/* The links of the visitors' rows: a row of format 2 keeps its core fields,
 * its subject's digest in place of the subject, and what was shown as a
 * context of its own; one of format 1 its digests. Each names the purge
 * (log event purge_id), which records their ids. */
static const char links_sql[] =
	"INSERT OR IGNORE INTO contexts(lang, banner, country) SELECT DISTINCT '', c.banner, '' FROM events e"
	" JOIN contexts c ON c.cid = e.cid WHERE e.sid IN (SELECT sid FROM temp.purge_subjects) AND e.fmt = 2"
	" AND c.banner <> '';"
	"INSERT INTO pruned(id, core_digest, personal_digest, hash, pruned_ms, purge_id, fmt, sdigest, recorded_ms,"
	" action, policy_version, preferences, statistics, marketing, objection_purpose, objections, choice_back_ms,"
	" cid) SELECT e.id, e.core_digest, e.personal_digest, e.hash, ?1, ?2, e.fmt,"
	" CASE WHEN e.fmt = 2 THEN cg_subject_digest(s.digest) END, CASE WHEN e.fmt = 2 THEN e.recorded_ms END,"
	" CASE WHEN e.fmt = 2 THEN e.action END, CASE WHEN e.fmt = 2 THEN e.policy_version END,"
	" CASE WHEN e.fmt = 2 THEN e.preferences END, CASE WHEN e.fmt = 2 THEN e.statistics END,"
	" CASE WHEN e.fmt = 2 THEN e.marketing END, CASE WHEN e.fmt = 2 THEN e.objection_purpose END,"
	" CASE WHEN e.fmt = 2 THEN e.objections END, CASE WHEN e.fmt = 2 THEN e.choice_back_ms END,"
	" CASE WHEN e.fmt = 2 THEN (SELECT k.cid FROM contexts c JOIN contexts k ON k.banner = c.banner"
	"  AND k.lang = '' AND k.country = '' WHERE c.cid = e.cid AND c.banner <> '') END"
	" FROM events e JOIN subjects s ON s.sid = e.sid WHERE e.sid IN (SELECT sid FROM temp.purge_subjects)";

/* the purge's log event: the retention in force, the rows it removes */
static int purge_event(sqlite3 *db, struct purge_job *p, int64_t *id)
{
	struct cg_logevent l = {.kind = CG_ACT_PURGE};
	struct cg_ids_digest d;
	struct cg_event ev;
	int step;

	cg_retention_of(p->cfg, &l.retention);
	if ((step = cgs_ids_of(db, "SELECT id FROM events WHERE sid IN (SELECT sid FROM temp.purge_subjects)"
	                           " ORDER BY id", &d)) != CG_OK)
		return step;
	*id = 0;
	if (!d.n) /* nothing removed: nothing to account for */
		return CG_OK;
	l.count = d.n;
	cg_ids_final(&d, l.ids);
	step = cgs_log_event_put(db, &l, p->now_ms, &ev);
	*id = ev.id;
	return step;
}

static int purge_links(sqlite3 *db, struct purge_job *p)
{
	sqlite3_stmt *st[2] = {NULL, NULL};
	const char *rest = NULL;
	int64_t id = 0;
	int rc = purge_event(db, p, &id);

	if (rc != CG_OK || !id)
		return rc;
	if (sqlite3_prepare_v2(db, links_sql, -1, &st[0], &rest) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, rest, -1, &st[1], NULL) != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc == CG_OK)
		rc = cgs_step_final(st[0]);
	else
		sqlite3_finalize(st[0]);
	if (rc == CG_OK) {
		sqlite3_bind_int64(st[1], 1, p->now_ms);
		sqlite3_bind_int64(st[1], 2, id);
		rc = cgs_step_final(st[1]);
	} else {
		sqlite3_finalize(st[1]);
	}
	return rc;
}

/* 2. visitors whose consent ended before the cutoff: their rows, queued
 *    analytics, recipients and key go, their links stay in pruned, a log
 *    event accounts for them */
static int purge_subjects(sqlite3 *db, struct purge_job *p)
{
	int rc = purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);

	if (rc == CG_OK)
		rc = purge_step(db, "DROP TABLE IF EXISTS temp.purge_spared", NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "CREATE TEMP TABLE purge_subjects(sid INTEGER PRIMARY KEY)", NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "CREATE TEMP TABLE purge_spared(sid INTEGER PRIMARY KEY)", NULL, 0, NULL);
	if (rc == CG_OK)
		rc = pick_subjects(db, p);
	if (rc == CG_OK)
		rc = purge_links(db, p);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM events WHERE sid IN (SELECT sid FROM temp.purge_subjects)",
		                NULL, 0, &p->out->events_pruned);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM outbox_rows WHERE sid IN (SELECT sid FROM temp.purge_subjects)",
		                NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM recipients WHERE sid IN (SELECT sid FROM temp.purge_subjects)",
		                NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM subjects WHERE sid IN (SELECT sid FROM temp.purge_subjects)",
		                NULL, 0, NULL);
	return rc;
}

/* 3. the outbox: delivered and dropped rows after outbox_delivered_days,
 *    dead letters after 30 days; pending rows past 72 h are dropped */
static int purge_outbox(sqlite3 *db, struct purge_job *p)
{
	const int64_t b[] = {p->cut.delivered_before_ms, p->cut.dead_before_ms};
	int rc;

	rc = purge_step(db, "DELETE FROM outbox_rows WHERE (state IN (1, 2) AND created_ms < ?1)"
	                    " OR (state = 3 AND created_ms < ?2)", b, 2, &p->out->outbox_deleted);
	if (rc == CG_OK)
		rc = purge_step(db, "UPDATE outbox_rows SET state = 2, last_error = 'older than 72 h'"
		                    " WHERE state = 0 AND created_ms < ?1 AND kind = 0",
		                &p->cut.pending_before_ms, 1, /* erasure notices never expire */
		                &p->out->outbox_expired);
	return rc;
}

/* 4. What was shown: a retired build or notice goes, with the files no
 *    other one holds, once no row names it: those only candidates named when
 *    the reader looked, unless an event since, or a candidate spared, does. */
static int purge_shown(sqlite3 *db, struct purge_job *p)
{
	sqlite3_stmt *del = NULL;
	int rc = CG_OK;

	/* the banner field is "build=" + 32 + ";notice=" + 64 [+ ";vendors=" + 64] (shown.h) */
	if (sqlite3_prepare_v2(db, "DELETE FROM shown WHERE id = ?1 AND retired_ms IS NOT NULL AND NOT EXISTS ("
	                           " SELECT 1 FROM contexts WHERE banner LIKE 'build=%' AND (substr(banner, 7, 32) = ?1"
	                           " OR substr(banner, 47, 64) = ?1 OR substr(banner, 120, 64) = ?1) AND cid IN"
	                           " (SELECT cid FROM events WHERE id > ?2"
	                           "  UNION SELECT cid FROM events WHERE sid IN (SELECT sid FROM temp.purge_spared)))",
	                       -1, &del, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < p->cand->nshown && rc == CG_OK; i++) {
		sqlite3_bind_text(del, 1, p->cand->shown[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(del, 2, p->cand->max_id);
		rc = cgs_step_done(del);
		p->out->shown_deleted += sqlite3_changes(db);
	}
	sqlite3_finalize(del);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM shown_files WHERE shown_id NOT IN (SELECT id FROM shown)", NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM artefacts WHERE hash NOT IN (SELECT hash FROM shown_files)", NULL, 0, NULL);
	return rc;
}

static int purge_fn(sqlite3 *db, void *arg)
{
	struct purge_job *p = arg;
	int rc;

	memset(p->out, 0, sizeof *p->out);
	rc = purge_ip(db, p);
	if (rc == CG_OK)
		rc = purge_subjects(db, p);
	if (rc == CG_OK)
		rc = purge_outbox(db, p);
	if (rc == CG_OK)
		rc = purge_shown(db, p);
	purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);
	purge_step(db, "DROP TABLE IF EXISTS temp.purge_spared", NULL, 0, NULL);
	if (rc != CG_OK)
		return rc;
	return p->dry_run ? CG_ERR_DRY_RUN : CG_OK;
}

int cgs_purge(void *ctx, const struct cg_config *cfg, int64_t now_ms, int dry_run,
              struct cg_purge_counts *out)
{
	struct cgs *s = ctx;
	struct candidates cand = {0};
	struct purge_job p = {.cfg = cfg, .now_ms = now_ms, .dry_run = dry_run, .out = out, .cand = &cand};
	int rc;

	cg_rules_retention(cfg, now_ms, &p.cut);
	rc = read_candidates(s->path, &p, &cand);
	if (rc == CG_OK)
		rc = cgs_run(s, 1, purge_fn, &p);
	free(cand.v);
	free(cand.shown);
	return rc;
}

struct set_job {
	int64_t id;       /* 0: every row in a matching state */
	int retry;        /* 1: dead -> pending now; 0: dead/pending -> dropped */
	int64_t now_ms;
	long long changed;
};

static int outbox_set_fn(sqlite3 *db, void *arg)
{
	struct set_job *j = arg;
	const int64_t b[] = {j->id, j->now_ms};

	return purge_step(db, j->retry
		? "UPDATE outbox_rows SET state = 0, next_ms = ?2, last_error = NULL"
		  " WHERE state = 3 AND (?1 = 0 OR id = ?1)"
		: "UPDATE outbox_rows SET state = 2, last_error = 'dropped by the operator'"
		  " WHERE state IN (3, 0) AND (?1 = 0 OR id = ?1)", b, j->retry ? 2 : 1, &j->changed);
}

int cgs_outbox_set(void *ctx, int64_t id, int retry, int64_t now_ms, long long *changed)
{
	struct cgs *s = ctx;
	struct set_job j = {id, retry, now_ms, 0};
	int rc = cgs_run(s, 0, outbox_set_fn, &j);

	*changed = j.changed;
	return rc;
}

/* ---- moving the log to another backend (consentctl migrate --to) ------------ */

struct retire_job {
	const char *to;
	int (*copy)(void *arg);
	void *arg;
};

/* Runs inside BEGIN IMMEDIATE on the writer's connection, so no other
 * writer (a daemon left running, consentctl) can add a row while the copy
 * reads. Afterwards the file refuses writes for good: its pending rows now
 * belong to the new store, and a daemon started on it by mistake must not
 * record choices nobody will find. */
static int retire_fn(sqlite3 *db, void *arg)
{
	struct retire_job *j = arg;
	sqlite3_stmt *st = NULL;
	int rc = j->copy(j->arg);

	if (rc != CG_OK)
		return rc;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('moved_to', ?1)", -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, j->to, -1, SQLITE_STATIC);
	rc = cgs_step_done(st);
	sqlite3_finalize(st);
	if (rc == CG_OK &&
	    cgs_exec(db, "UPDATE outbox_rows SET state = 2, last_error = 'moved to another store' WHERE state = 0;"
	                 "CREATE TRIGGER moved_events BEFORE INSERT ON events"
	                 " BEGIN SELECT RAISE(ABORT, 'this database was moved (meta moved_to)'); END;"
	                 "CREATE TRIGGER moved_outbox_insert BEFORE INSERT ON outbox_rows"
	                 " BEGIN SELECT RAISE(ABORT, 'this database was moved (meta moved_to)'); END;"
	                 "CREATE TRIGGER moved_outbox_update BEFORE UPDATE ON outbox_rows"
	                 " BEGIN SELECT RAISE(ABORT, 'this database was moved (meta moved_to)'); END;") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	return rc;
}

int cgs_retire(void *ctx, const char *to, int (*copy)(void *arg), void *arg)
{
	struct cgs *s = ctx;
	struct retire_job j = {to, copy, arg};

	return cgs_run(s, 1, retire_fn, &j);
}
