/* Schema 1 -> 2, in place, inside the caller's transaction (and 3 -> 4 at
 * the end of the file): the hex and
 * ISO-8601 text columns become blobs and integer ms, each visitor gets a
 * sid, prev_hash is no longer stored (schema 2 derives it; a chain that
 * verified under schema 1 verifies unchanged). Consent IDs of schema 1 keep
 * working: their subject keys are copied as they were. SQLite 3.40 has no
 * unhex(), so the conversions are two functions of this connection. */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/timefmt.h"
#include "internal.h"
#include "schema.sql.h"

static void fn_unhex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *hex = (const char *)sqlite3_value_text(argv[0]);
	uint8_t b[64];
	size_t n = hex ? strlen(hex) : 0, got = 0;

	(void)argc;
	if (n == 0 || n % 2 || n / 2 > sizeof b ||
	    sodium_hex2bin(b, sizeof b, hex, n, NULL, &got, NULL) != 0 || got != n / 2)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_blob(ctx, b, (int)got, SQLITE_TRANSIENT);
}

static void fn_ms(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t = (const char *)sqlite3_value_text(argv[0]);
	int64_t ms;

	(void)argc;
	if (t && cg_time_parse(t, &ms) == CG_OK)
		sqlite3_result_int64(ctx, ms);
	else
		sqlite3_result_null(ctx);
}

static const char move_aside[] =
	"DROP VIEW consent_current; DROP VIEW consent_daily;"
	" DROP TRIGGER consent_events_append_only; DROP INDEX outbox_due; DROP INDEX outbox_subject;"
	" ALTER TABLE consent_events RENAME TO v1_events;"
	" ALTER TABLE consent_pruned RENAME TO v1_pruned;"
	" ALTER TABLE outbox RENAME TO v1_outbox;";

/* subjects in the order they first appear, so sids ascend with the log */
static const char copy_rows[] =
	"INSERT INTO subjects(digest) SELECT cg_unhex(subject) FROM ("
	"  SELECT subject, min(id) AS first FROM v1_events GROUP BY subject"
	"  UNION ALL SELECT subject, 1e18 + min(id) FROM v1_outbox WHERE subject IS NOT NULL"
	"    AND subject NOT IN (SELECT subject FROM v1_events) GROUP BY subject) ORDER BY first;"
	"CREATE TEMP TABLE v1_sid AS SELECT sid, lower(hex(digest)) AS subject FROM subjects;"
	"INSERT OR IGNORE INTO contexts(lang, banner, country)"
	" SELECT DISTINCT coalesce(lang, ''), coalesce(banner, ''), coalesce(country, '') FROM v1_events"
	" WHERE coalesce(lang, banner, country) IS NOT NULL;"
	"CREATE INDEX temp.v1_sid_subject ON v1_sid(subject);"
	"INSERT INTO events(id, sid, recorded_ms, action, policy_version, preferences, statistics,"
	"  marketing, objection_purpose, objections, choice_back_ms, gpc, dnt, cid, page,"
	"  ip_prefix, salt, core_digest, personal_digest, hash)"
	" SELECT e.id, m.sid, cg_ms(e.recorded_at),"
	"  CASE e.action WHEN 'choice' THEN 0 WHEN 'withdraw' THEN 1 WHEN 'objection' THEN 2 WHEN 'erase' THEN 3 END,"
	"  e.policy_version, e.preferences, e.statistics, e.marketing,"
	"  CASE e.objection_purpose WHEN 'preferences' THEN 0 WHEN 'statistics' THEN 1 WHEN 'marketing' THEN 2 END,"
	"  (instr(e.objections, 'preferences') > 0) | (instr(e.objections, 'statistics') > 0) << 1 |"
	"  (instr(e.objections, 'marketing') > 0) << 2,"
	"  cg_ms(e.recorded_at) - cg_ms(e.choice_at), e.gpc, e.dnt, x.cid, e.page, e.ip_prefix,"
	"  cg_unhex(e.salt), cg_unhex(e.core_digest), cg_unhex(e.personal_digest), cg_unhex(e.hash)"
	" FROM v1_events e JOIN temp.v1_sid m ON m.subject = e.subject"
	" LEFT JOIN contexts x ON x.lang = coalesce(e.lang, '') AND x.banner = coalesce(e.banner, '')"
	"  AND x.country = coalesce(e.country, '') ORDER BY e.id;"
	"INSERT INTO event_days(day, first_id) SELECT recorded_ms / 86400000, min(id) FROM events GROUP BY 1;"
	"INSERT INTO pruned(id, core_digest, personal_digest, hash, pruned_ms)"
	" SELECT id, cg_unhex(core_digest), cg_unhex(personal_digest), cg_unhex(hash), cg_ms(pruned_at)"
	" FROM v1_pruned ORDER BY id;"
	"INSERT INTO outbox_rows(id, sid, destination, purpose, mode, payload, created_ms, attempts,"
	"  next_ms, state, last_error)"
	" SELECT o.id, m.sid, o.destination,"
	"  CASE o.purpose WHEN 'preferences' THEN 0 WHEN 'statistics' THEN 1 ELSE 2 END,"
	"  o.mode <> 'full', o.payload, cg_ms(o.created_at), o.attempts, cg_ms(o.next_attempt_at),"
	"  CASE o.state WHEN 'pending' THEN 0 WHEN 'delivered' THEN 1 WHEN 'dropped' THEN 2 ELSE 3 END,"
	"  o.last_error FROM v1_outbox o LEFT JOIN temp.v1_sid m ON m.subject = o.subject ORDER BY o.id;";

/* schema 1 stored each row's prev_hash; schema 2 takes the hash of row
 * id - 1. Where they differ the chain was already broken: say where. */
static const char first_bad_link[] =
	"SELECT min(a.id) FROM (SELECT id, prev_hash FROM v1_events UNION ALL"
	"  SELECT id, prev_hash FROM v1_pruned) a"
	" WHERE a.prev_hash IS NOT coalesce((SELECT hash FROM v1_events WHERE id = a.id - 1),"
	"  (SELECT hash FROM v1_pruned WHERE id = a.id - 1),"
	"  CASE WHEN a.id = 1 THEN '" CG_CHAIN_GENESIS "' END)";

static const char drop_v1[] =
	"DROP TABLE temp.v1_sid; DROP TABLE v1_events; DROP TABLE v1_pruned; DROP TABLE v1_outbox;";

static void warn_broken_chain(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, first_bad_link, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		cg_warn("migration: the schema-1 chain was already broken at id %lld; "
		        "consentctl verify will report it", (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
}

int cgs_migrate_v1(sqlite3 *db, char *err, size_t errlen)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	int rc;

	if (sqlite3_create_function(db, "cg_unhex", 1, flags, NULL, fn_unhex, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "cg_ms", 1, flags, NULL, fn_ms, NULL, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	warn_broken_chain(db);
	rc = cgs_exec(db, move_aside) == SQLITE_OK && cgs_exec(db, cg_schema_v2_tables) == SQLITE_OK &&
	     cgs_exec(db, cg_schema_v2_views) == SQLITE_OK && cgs_exec(db, copy_rows) == SQLITE_OK &&
	     cgs_exec(db, drop_v1) == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
	if (rc != CG_OK)
		snprintf(err, errlen, "migration from schema 1 failed: %s", sqlite3_errmsg(db));
	sqlite3_create_function(db, "cg_unhex", 1, flags, NULL, NULL, NULL, NULL);
	sqlite3_create_function(db, "cg_ms", 1, flags, NULL, NULL, NULL, NULL);
	return rc;
}

/* Schema 3 -> 4 (and a fresh file): erasure notices and recipients
 * (schema.c). A database with a history had no record of which destination
 * acknowledged whose pseudonym: meta recipients_since_ms says from when on
 * the record is kept, so that an erasure can presume a delivery for a
 * grant recorded before (what erasures assumed until this version). */
int cgs_migrate_v4(sqlite3 *db, int history, char *err, size_t errlen)
{
	int rc = cgs_exec(db, cg_schema_v4_notices) == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;

	if (rc == CG_OK && history &&
	    cgs_exec(db, "INSERT OR IGNORE INTO meta(key, value) VALUES('" CG_RECIPIENTS_SINCE "',"
	                 " CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK)
		snprintf(err, errlen, "migration to schema 4 failed: %s", sqlite3_errmsg(db));
	return rc;
}
