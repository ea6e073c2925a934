/* Retention and outbox administration on PostgreSQL. What goes is the
 * core's rule (cg_rules_retention, cg_rules_consent_ended_ms), as on
 * SQLite; this file carries it out in one transaction. The purge runs on
 * one instance at a time (PGS_LOCK_PURGE) and the daemons' daily purge only
 * when no instance purged in the last day. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/logevent.h"
#include "consentgate/rules.h"
#include "internal.h"

struct purge {
	PGconn *c;
	const struct cg_config *cfg;
	int64_t now_ms, deadline, max_id;
	int daily;                          /* the daemons' daily run: skip if done today */
	struct cg_purge_counts *out;
	struct cg_retention_cutoffs cut;
	struct pgs_arr sids;                /* visitors to prune */
	int nsids;
};

#define I64(buf, v) (snprintf(buf, sizeof buf, "%" PRId64, (int64_t)(v)), buf)

/* a statement with integer parameters; *changed: rows it touched */
static int step(struct purge *p, const char *sql, int n, const char *const *v, long long *changed)
{
	PGresult *r = NULL;
	int rc = pgs_query(p->c, sql, n, v, p->deadline, &r);

	if (rc == CG_OK && changed)
		*changed = atoll(PQcmdTuples(r));
	PQclear(r);
	return rc;
}

static int64_t meta_ms(struct purge *p, const char *key)
{
	const char *v[] = {key};
	PGresult *r = NULL;
	int64_t ms = 0;

	if (pgs_query(p->c, "SELECT value::bigint FROM meta WHERE key = $1", 1, v, p->deadline, &r) == CG_OK &&
	    PQntuples(r) == 1)
		ms = pgs_col_i64(r, 0, 0);
	PQclear(r);
	return ms;
}

static int set_meta_ms(struct purge *p, const char *key, int64_t ms)
{
	char b[24];
	const char *v[] = {key, I64(b, ms)};

	return step(p, "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	            2, v, NULL);
}

/* The core's formulas (chain.h) in SQL, so that the purge stays one
 * statement per step over any number of rows: hex SHA-256 of a label and a
 * text, and the canonical field "<length>:<bytes>;". The verifiers
 * recompute every row from the core's own code. */
#define LHEX(label, text) "encode(sha256(convert_to('" label "' || " text ", 'UTF8')), 'hex')"
#define SALT_HEX "encode(salt, 'hex')"
#define IP_SALT "left(" LHEX("consentgate/ip-salt/v2:", SALT_HEX) ", 32)"
#define FIELD(x) "octet_length(" x ") || ':' || " x " || ';'"

/* 1. IP prefixes. A row of format 2 keeps the prefix's digest and its
 *    personal salt instead (cg_chain_clear_ip), so its other personal
 *    fields stay checkable; one of format 1 loses its salt with the prefix,
 *    as it always did. Only rows recorded since the last cut-off (less two
 *    days: rows commit in about, not exactly, time order) are looked at,
 *    through the BRIN index on the time. */
static int purge_ip(struct purge *p)
{
	char a[24], b[24];
	int64_t since = meta_ms(p, "ip_cleared_before_ms");
	const char *v[] = {I64(a, p->cut.ip_prefix_before_ms), I64(b, since ? since - 2 * CG_MS_PER_DAY : 0)};
	int rc = step(p, "UPDATE events SET ip_prefix = NULL,"
	                 " ip_digest = CASE WHEN fmt = 2 THEN sha256(convert_to('17:consentgate/ip/v2;32:' || " IP_SALT
	                 " || ';' || " FIELD("ip_prefix") ", 'UTF8')) END,"
	                 " salt = CASE WHEN fmt = 2 THEN decode(left(" LHEX("consentgate/personal-salt/v2:", SALT_HEX)
	                 ", 32), 'hex') END"
	                 " WHERE recorded_ms < $1::bigint AND recorded_ms >= $2::bigint AND ip_prefix IS NOT NULL",
	              2, v, &p->out->ip_prefixes_cleared);

	return rc == CG_OK ? set_meta_ms(p, "ip_cleared_before_ms", p->cut.ip_prefix_before_ms) : rc;
}

/* The visitors whose consent ended before the cut-off: the core decides
 * from each one's latest event, read through a cursor. */
static int pick_subjects(struct purge *p)
{
	char m[24];
	const char *v[] = {I64(m, p->max_id)};
	int rc = pgs_query(p->c, "DECLARE cg_latest NO SCROLL CURSOR FOR SELECT DISTINCT ON (sid) sid, action,"
	                         " preferences, statistics, marketing, recorded_ms, recorded_ms - choice_back_ms"
	                         " FROM events WHERE id <= $1::bigint ORDER BY sid, id DESC",
	                   1, v, p->deadline, NULL);

	while (rc == CG_OK) {
		PGresult *r = NULL;
		rc = pgs_query(p->c, "FETCH 5000 FROM cg_latest", 0, NULL, p->deadline, &r);
		for (int i = 0; rc == CG_OK && i < PQntuples(r); i++) {
			struct cg_state latest = {.present = 1};
			latest.action = (int)pgs_col_i64(r, i, 1);
			for (int k = 0; k < CG_NPURPOSES; k++)
				latest.choice[k] = pgs_col_tri(r, i, 2 + k);
			latest.recorded_at_ms = pgs_col_i64(r, i, 5);
			latest.choice_at_ms = pgs_col_i64(r, i, 6);
			if (cg_rules_consent_ended_ms(p->cfg, &latest) >= p->cut.ended_before_ms)
				continue;
			pgs_arr_int(&p->sids, pgs_col_i64(r, i, 0));
			p->nsids++;
		}
		if (rc == CG_OK && PQntuples(r) == 0) {
			PQclear(r);
			break;
		}
		PQclear(r);
	}
	return rc == CG_OK ? pgs_exec(p->c, "CLOSE cg_latest", p->deadline) : rc;
}

/* the purge's log event: the retention in force and the ids of the rows
 * it removes, read in id order through a cursor */
static int purge_event(struct purge *p, int64_t *id)
{
	struct cg_logevent l = {.kind = CG_ACT_PURGE};
	struct cg_ids_digest d;
	struct cg_event ev;
	int rc = pgs_exec(p->c, "DECLARE cg_gone NO SCROLL CURSOR FOR SELECT id FROM events"
	                        " WHERE sid IN (SELECT sid FROM cg_purge) ORDER BY id", p->deadline);

	cg_ids_init(&d);
	while (rc == CG_OK) {
		PGresult *r = NULL;
		int n;
		rc = pgs_query(p->c, "FETCH 10000 FROM cg_gone", 0, NULL, p->deadline, &r);
		n = rc == CG_OK ? PQntuples(r) : 0;
		for (int i = 0; i < n; i++)
			cg_ids_add(&d, pgs_col_i64(r, i, 0));
		PQclear(r);
		if (!n)
			break;
	}
	if (rc == CG_OK)
		rc = pgs_exec(p->c, "CLOSE cg_gone", p->deadline);
	*id = 0;
	if (rc != CG_OK || !d.n)
		return rc;
	cg_retention_of(p->cfg, &l.retention);
	l.count = d.n;
	cg_ids_final(&d, l.ids);
	rc = pgs_log_event_put(p->c, p->deadline, &l, p->now_ms, &ev);
	*id = ev.id;
	return rc;
}

/* The links: a row of format 2 keeps its core fields with its subject's
 * digest (chain.h) in place of the subject; one of format 1 its digests.
 * Each names the purge's log event. */
static int purge_links(struct purge *p, const char *const *now)
{
	char pid[24];
	const char *v[] = {now[0], pid};
	int64_t id = 0;
	int rc = purge_event(p, &id);

	if (rc != CG_OK || !id)
		return rc;
	I64(pid, id);
	return step(p, "INSERT INTO pruned(id, pruned_ms, core_digest, personal_digest, hash, purge_id, fmt, sdigest,"
	               " recorded_ms, choice_back_ms, action, preferences, statistics, marketing, objection_purpose,"
	               " objections, policy_version, banner) SELECT e.id, $1::bigint, e.core_digest, e.personal_digest,"
	               " e.hash, $2::bigint, e.fmt, CASE WHEN e.fmt = 2 THEN decode("
	               LHEX("consentgate/subject-digest/v2:", "encode(s.digest, 'hex')") ", 'hex') END,"
	               " CASE WHEN e.fmt = 2 THEN e.recorded_ms END, CASE WHEN e.fmt = 2 THEN e.choice_back_ms END,"
	               " CASE WHEN e.fmt = 2 THEN e.action END, CASE WHEN e.fmt = 2 THEN e.preferences END,"
	               " CASE WHEN e.fmt = 2 THEN e.statistics END, CASE WHEN e.fmt = 2 THEN e.marketing END,"
	               " CASE WHEN e.fmt = 2 THEN e.objection_purpose END, CASE WHEN e.fmt = 2 THEN e.objections END,"
	               " CASE WHEN e.fmt = 2 THEN e.policy_version END, CASE WHEN e.fmt = 2 THEN e.banner END"
	               " FROM events e JOIN subjects s ON s.sid = e.sid WHERE e.sid IN (SELECT sid FROM cg_purge)",
	            2, v, NULL);
}

/* 2. Their rows, queued analytics, recipients and keys go; their links
 *    stay in pruned, a log event accounts for them.
 *    The chain lock keeps new events out meanwhile, and a visitor with an
 *    event newer than the snapshot the choice was made on is spared. */
static int purge_subjects(struct purge *p)
{
	char lock[64], m[24], now[24];
	const char *arr = NULL;
	const char *v[] = {NULL, I64(m, p->max_id)}, *t[] = {I64(now, p->now_ms)};
	PGresult *r = NULL;
	int rc;

	if ((rc = pick_subjects(p)) != CG_OK || !p->nsids)
		return rc;
	if (!(arr = pgs_arr_end(&p->sids)))
		return CG_ERR_NOMEM;
	v[0] = arr;
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", PGS_LOCK_CHAIN);
	if ((rc = pgs_exec(p->c, lock, p->deadline)) ||
	    (rc = pgs_exec(p->c, "CREATE TEMP TABLE cg_purge(sid bigint PRIMARY KEY) ON COMMIT DROP", p->deadline)) ||
	    (rc = pgs_query(p->c, "INSERT INTO cg_purge SELECT DISTINCT unnest($1::bigint[]) EXCEPT"
	                          " SELECT sid FROM events WHERE id > $2::bigint", 2, v, p->deadline, NULL)) ||
	    (rc = pgs_query(p->c, "SELECT count(*) FROM cg_purge", 0, NULL, p->deadline, &r)))
		return rc;
	p->out->subjects_pruned = pgs_col_i64(r, 0, 0);
	PQclear(r);
	if ((rc = purge_links(p, t)) ||
	    (rc = step(p, "DELETE FROM events WHERE sid IN (SELECT sid FROM cg_purge)", 0, NULL,
	               &p->out->events_pruned)) ||
	    (rc = step(p, "DELETE FROM outbox_rows WHERE sid IN (SELECT sid FROM cg_purge)", 0, NULL, NULL)) ||
	    (rc = step(p, "DELETE FROM recipients WHERE sid IN (SELECT sid FROM cg_purge)", 0, NULL, NULL)))
		return rc;
	return step(p, "DELETE FROM subjects WHERE sid IN (SELECT sid FROM cg_purge)", 0, NULL, NULL);
}

/* 3. The outbox: delivered and dropped rows after outbox_delivered_days,
 *    dead letters after 30 days; pending rows past 72 h are dropped. Old
 *    batch keys (kept to resolve lost COMMITs) go after two days. */
static int purge_outbox(struct purge *p)
{
	char a[24], b[24], c[24];
	const char *v[] = {I64(a, p->cut.delivered_before_ms), I64(b, p->cut.dead_before_ms)};
	const char *w[] = {I64(c, p->cut.pending_before_ms)};
	int rc = step(p, "DELETE FROM outbox_rows WHERE (state IN (1, 2) AND created_ms < $1::bigint)"
	                 " OR (state = 3 AND created_ms < $2::bigint)", 2, v, &p->out->outbox_deleted);

	if (rc == CG_OK)
		rc = step(p, "UPDATE outbox_rows SET state = 2, last_error = 'older than 72 h', claimed_by = NULL,"
		             " claimed_until_ms = NULL WHERE state = 0 AND created_ms < $1::bigint"
		             " AND kind = 0", 1, w, /* erasure notices never expire */
		          &p->out->outbox_expired);
	if (rc == CG_OK)
		rc = step(p, "DELETE FROM batches WHERE committed_ms < cg_now_ms() - 2 * 86400000", 0, NULL, NULL);
	return rc;
}

/* What was shown: a retired build, notice or vendor list goes, with the
 * files no other one holds, once no row names it (shown.h: "build=" + 32 +
 * ";notice=" + 64 [+ ";vendors=" + 64]). */
static int purge_shown(struct purge *p)
{
	int rc = step(p, "DELETE FROM shown WHERE retired_ms IS NOT NULL AND id NOT IN ("
	                 " SELECT substr(banner, 7, 32) FROM events WHERE banner LIKE 'build=%'"
	                 " UNION ALL SELECT substr(banner, 47, 64) FROM events WHERE banner LIKE 'build=%'"
	                 " UNION ALL SELECT substr(banner, 120, 64) FROM events WHERE banner LIKE 'build=%;vendors=%')",
	              0, NULL, &p->out->shown_deleted);

	if (rc == CG_OK)
		rc = step(p, "DELETE FROM shown_files WHERE shown_id NOT IN (SELECT id FROM shown)", 0, NULL, NULL);
	if (rc == CG_OK)
		rc = step(p, "DELETE FROM artefacts WHERE hash NOT IN (SELECT hash FROM shown_files)", 0, NULL, NULL);
	return rc;
}

/* CG_OK, CG_ERR_DUPLICATE (the daily run found it done or running
 * elsewhere), or an error. */
static int purge_txn(struct purge *p)
{
	char lock[64];
	PGresult *r = NULL;
	int rc;

	snprintf(lock, sizeof lock, "SELECT pg_%sadvisory_xact_lock(%d)", p->daily ? "try_" : "", PGS_LOCK_PURGE);
	if ((rc = pgs_exec(p->c, "BEGIN", p->deadline)) || (rc = pgs_query(p->c, lock, 0, NULL, p->deadline, &r)))
		return rc;
	rc = p->daily && strcmp(PQgetvalue(r, 0, 0), "f") == 0 ? CG_ERR_DUPLICATE : CG_OK;
	PQclear(r);
	if (rc == CG_OK && p->daily && meta_ms(p, "last_purge_ms") > p->now_ms - CG_MS_PER_DAY + 3600 * 1000)
		rc = CG_ERR_DUPLICATE;
	if (rc == CG_OK && (rc = pgs_query(p->c, "SELECT coalesce(max(id), 0) FROM events", 0, NULL, p->deadline, &r)) ==
	                           CG_OK) {
		p->max_id = pgs_col_i64(r, 0, 0);
		PQclear(r);
	}
	if (rc == CG_OK)
		rc = purge_ip(p);
	if (rc == CG_OK)
		rc = purge_subjects(p);
	if (rc == CG_OK)
		rc = purge_outbox(p);
	if (rc == CG_OK)
		rc = purge_shown(p);
	if (rc == CG_OK)
		rc = set_meta_ms(p, "last_purge_ms", p->now_ms);
	return rc;
}

static int run_purge(PGconn *c, const struct cg_config *cfg, int64_t now_ms, int dry_run, int daily,
                     struct cg_purge_counts *out)
{
	struct purge p = {.c = c, .cfg = cfg, .now_ms = now_ms, .daily = daily, .out = out,
	                  .deadline = pgs_mono_ms() + 3600 * 1000};
	int rc;

	memset(out, 0, sizeof *out);
	cg_rules_retention(cfg, now_ms, &p.cut);
	pgs_arr_init(&p.sids);
	rc = pgs_exec(c, "SET statement_timeout = 0", p.deadline);
	if (rc == CG_OK)
		rc = purge_txn(&p);
	pgs_arr_free(&p.sids);
	if (rc != CG_ERR_IO)
		pgs_exec(c, rc == CG_OK && !dry_run ? "COMMIT" : "ROLLBACK", p.deadline);
	pgs_exec(c, "RESET statement_timeout", p.deadline);
	return rc;
}

/* Plain VACUUM: the dead versions of erased or purged rows become free
 * space that later writes overwrite (VACUUM FULL would rewrite the files
 * but locks the tables; docs/postgresql.md#erasure-on-postgresql). */
void pgs_vacuum(PGconn *c)
{
	int64_t deadline = pgs_mono_ms() + 600000;

	if (pgs_exec(c, "SET statement_timeout = 0", deadline) != CG_OK ||
	    pgs_exec(c, "VACUUM events, outbox_rows, subjects, recipients", deadline) != CG_OK)
		cg_warn("postgresql: VACUUM after an erasure failed; autovacuum will do it later");
	pgs_exec(c, "RESET statement_timeout", deadline);
}

/* the VACUUM above on the doctor's own connection, soon (its next round):
 * asked for here, where erasures and purges know when one is due */
void pgs_want_vacuum(struct pgs *s)
{
	pthread_mutex_lock(&s->mu);
	s->vacuum_wanted = 1;
	pthread_cond_signal(&s->doctor_wake);
	pthread_mutex_unlock(&s->mu);
}

/* what the purge removed or cleared left old row versions to vacuum */
static int purged_any(const struct cg_purge_counts *n)
{
	return n->ip_prefixes_cleared || n->events_pruned || n->outbox_deleted || n->outbox_expired;
}

int pgs_purge(void *ctx, const struct cg_config *cfg, int64_t now_ms, int dry_run, struct cg_purge_counts *out)
{
	struct pgs *s = ctx;
	PGconn *c = NULL;
	char err[256];
	int rc = pgs_connect(&s->cfg, "consentctl", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, sizeof err);

	if (rc == CG_OK)
		rc = run_purge(c, cfg, now_ms, dry_run, 0, out);
	else
		cg_error("%s", err);
	if (rc == CG_OK && !dry_run && purged_any(out))
		pgs_vacuum(c); /* here: consentctl exits before a doctor would */
	PQfinish(c);
	return rc == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

void pgs_daily_purge(struct pgs *s, PGconn *c, int *said_skip)
{
	struct cg_purge_counts n;
	int rc = run_purge(c, &s->cfg, pgs_wall_ms(), 0, 1, &n);

	if (rc == CG_ERR_DUPLICATE) { /* another instance did it today, or is doing it */
		if (!*said_skip)
			cg_info("retention: done today by another instance (or running there); checked again hourly");
		*said_skip = 1;
		return;
	}
	if (rc != CG_OK) {
		cg_warn("retention: the daily purge failed; it is tried again within the hour");
		return;
	}
	cg_info("retention: %lld ip prefixes cleared, %lld subjects (%lld events) pruned, "
	        "%lld outbox rows deleted, %lld expired", n.ip_prefixes_cleared, n.subjects_pruned,
	        n.events_pruned, n.outbox_deleted, n.outbox_expired);
	if (purged_any(&n))
		pgs_want_vacuum(s);
}

int pgs_outbox_set(void *ctx, int64_t id, int retry, int64_t now_ms, long long *changed)
{
	struct pgs *s = ctx;
	char a[24], b[24], err[256];
	const char *v[] = {I64(a, id), I64(b, now_ms)};
	struct purge p = {.deadline = pgs_mono_ms() + s->cfg.write_timeout_ms};
	int rc = pgs_connect(&s->cfg, "consentctl", pgs_mono_ms() + s->cfg.connect_timeout_ms, &p.c, err, sizeof err);

	*changed = 0;
	if (rc == CG_OK)
		rc = step(&p, retry ? "UPDATE outbox_rows SET state = 0, next_ms = $2::bigint, last_error = NULL,"
		                      " claimed_by = NULL, claimed_until_ms = NULL"
		                      " WHERE state = 3 AND ($1::bigint = 0 OR id = $1::bigint)"
		                    : "UPDATE outbox_rows SET state = 2, last_error = 'dropped by the operator'"
		                      " WHERE state IN (3, 0) AND ($1::bigint = 0 OR id = $1::bigint)",
		          retry ? 2 : 1, v, changed);
	else
		cg_error("%s", err);
	PQfinish(p.c);
	return rc == CG_OK ? CG_OK : CG_ERR_STORAGE;
}
