/* Maintenance on the writer's connection: the retention purge and the
 * outbox administration of consentctl. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/rules.h"
#include "consentgate/store.h"
#include "consentgate/timefmt.h"
#include "internal.h"

/* ---- retention ------------------------------------------------------------ */

struct purge_job {
	const struct cg_config *cfg;
	int64_t now_ms;
	int dry_run;
	struct cg_purge_counts *out;
	struct cg_retention_cutoffs cut;   /* the core's rule at now_ms */
};

static int purge_step(sqlite3 *db, const char *sql, const char *const *binds, int nbinds,
                      long long *changes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cg_error("purge: %s", sqlite3_errmsg(db));
		return CG_ERR_STORAGE;
	}
	for (int i = 0; i < nbinds; i++)
		sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return CG_ERR_STORAGE;
	if (changes)
		*changes = sqlite3_changes(db);
	return CG_OK;
}


/* 1. IP prefixes: cleared with the salt (the row is then "redacted") */
static int purge_ip(sqlite3 *db, struct purge_job *p)
{
	char ip_cut[CG_TIME_LEN + 1];
	const char *b[] = {ip_cut};

	cg_time_format(p->cut.ip_prefix_before_ms, ip_cut);
	return purge_step(db, "UPDATE consent_events SET ip_prefix = NULL, salt = NULL"
	                      " WHERE ip_prefix IS NOT NULL AND recorded_at < ?1",
	                  b, 1, &p->out->ip_prefixes_cleared);
}

/* 2. subjects whose consent ended before the cutoff: their rows go, their
 *    links stay in consent_pruned */
static int purge_subjects(sqlite3 *db, struct purge_job *p)
{
	char now[CG_TIME_LEN + 1], ev_cut[CG_TIME_LEN + 1], cdays[16], rdays[16];
	const char *b[] = {ev_cut, cdays, rdays}, *bn[] = {now};
	sqlite3_stmt *st = NULL;
	int rc;

	cg_time_format(p->now_ms, now);
	cg_time_format(p->cut.ended_before_ms, ev_cut);
	snprintf(cdays, sizeof cdays, "%d", p->cfg->consent_max_age_days);
	snprintf(rdays, sizeof rdays, "%d", p->cfg->refusal_max_age_days);
	rc = purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);
	if (rc == CG_OK)
		rc = purge_step(db,
			"CREATE TEMP TABLE purge_subjects AS"
			" SELECT subject FROM (SELECT e.subject,"
			"  CASE WHEN e.action IN ('withdraw', 'erase') THEN e.recorded_at"
			"       ELSE strftime('%Y-%m-%dT%H:%M:%fZ', coalesce(e.choice_at, e.recorded_at), '+' ||"
			"            CASE WHEN coalesce(e.preferences,0) + coalesce(e.statistics,0) +"
			"                      coalesce(e.marketing,0) > 0 THEN ?2 ELSE ?3 END || ' days')"
			"  END AS ended_at"
			"  FROM consent_events e"
			"  JOIN (SELECT subject, max(id) AS id FROM consent_events GROUP BY subject) l"
			"    ON e.id = l.id)"
			" WHERE ended_at < ?1", b, 3, NULL);
	if (rc != CG_OK)
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM temp.purge_subjects", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		p->out->subjects_pruned = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	rc = purge_step(db,
		"INSERT INTO consent_pruned(id, prev_hash, hash, core_digest, personal_digest, pruned_at)"
		" SELECT id, prev_hash, hash, core_digest, personal_digest, ?1 FROM consent_events"
		" WHERE subject IN (SELECT subject FROM temp.purge_subjects)", bn, 1, NULL);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM consent_events WHERE subject IN (SELECT subject FROM temp.purge_subjects)",
		                NULL, 0, &p->out->events_pruned);
	if (rc == CG_OK)
		rc = purge_step(db, "DELETE FROM outbox WHERE subject IN (SELECT subject FROM temp.purge_subjects)",
		                NULL, 0, NULL);
	return rc;
}

/* 3. the outbox: delivered and dropped rows after outbox_delivered_days,
 *    dead letters after 30 days; pending rows past 72 h are dropped */
static int purge_outbox(sqlite3 *db, struct purge_job *p)
{
	char ob_cut[CG_TIME_LEN + 1], dead_cut[CG_TIME_LEN + 1], old_cut[CG_TIME_LEN + 1];
	const char *b[] = {ob_cut, dead_cut}, *bo[] = {old_cut};
	int rc;

	cg_time_format(p->cut.delivered_before_ms, ob_cut);
	cg_time_format(p->cut.dead_before_ms, dead_cut);
	cg_time_format(p->cut.pending_before_ms, old_cut);
	rc = purge_step(db, "DELETE FROM outbox WHERE (state IN ('delivered', 'dropped') AND created_at < ?1)"
	                    " OR (state = 'dead' AND created_at < ?2)", b, 2, &p->out->outbox_deleted);
	if (rc == CG_OK)
		rc = purge_step(db, "UPDATE outbox SET state = 'dropped', last_error = 'older than 72 h'"
		                    " WHERE state = 'pending' AND created_at < ?1", bo, 1, &p->out->outbox_expired);
	return rc;
}

static int purge_fn(sqlite3 *db, void *arg)
{
	struct purge_job *p = arg;
	int rc;

	memset(p->out, 0, sizeof *p->out);
	cg_rules_retention(p->cfg, p->now_ms, &p->cut);
	rc = purge_ip(db, p);
	if (rc == CG_OK)
		rc = purge_subjects(db, p);
	if (rc == CG_OK)
		rc = purge_outbox(db, p);
	purge_step(db, "DROP TABLE IF EXISTS temp.purge_subjects", NULL, 0, NULL);
	if (rc != CG_OK)
		return rc;
	return p->dry_run ? CG_ERR_DRY_RUN : CG_OK;
}

int cg_store_purge(struct cg_store *s, const struct cg_config *cfg, int64_t now_ms, int dry_run,
                   struct cg_purge_counts *out)
{
	struct purge_job p = {.cfg = cfg, .now_ms = now_ms, .dry_run = dry_run, .out = out};

	return cg_store_run(s, 1, purge_fn, &p);
}

struct set_job {
	int64_t id;       /* 0: every row in a matching state */
	int retry;        /* 1: dead -> pending now; 0: dead/pending -> dropped */
	const char *now;
	long long changed;
};

static int outbox_set_fn(sqlite3 *db, void *arg)
{
	struct set_job *j = arg;
	sqlite3_stmt *st = NULL;
	const char *sql = j->retry
		? "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, last_error = NULL"
		  " WHERE state = 'dead' AND (?1 = 0 OR id = ?1)"
		: "UPDATE outbox SET state = 'dropped', last_error = 'dropped by the operator'"
		  " WHERE state IN ('dead', 'pending') AND (?1 = 0 OR id = ?1)";
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, j->id);
	if (j->retry)
		sqlite3_bind_text(st, 2, j->now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	j->changed = sqlite3_changes(db);
	return rc == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}

int cg_store_outbox_set(struct cg_store *s, int64_t id, int retry, int64_t now_ms, long long *changed)
{
	char now[CG_TIME_LEN + 1];
	struct set_job j = {id, retry, now, 0};
	int rc;

	cg_time_format(now_ms, now);
	rc = cg_store_run(s, 0, outbox_set_fn, &j);
	*changed = j.changed;
	return rc;
}
