/* Row format 2 on SQLite: the chain's tip over every kind of link, log
 * events (logevent.h), the SQL functions the purge and the migration call
 * into the core with, and the migration from row format 1 (schema 4 -> 5). */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/logevent.h"
#include "consentgate/timefmt.h"
#include "internal.h"
#include "schema.sql.h"

int cgs_tip(sqlite3 *db, int64_t *id, char hash[CG_HEX_HASH_LEN + 1])
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE;

	*id = 0;
	strcpy(hash, CG_CHAIN_GENESIS);
	if (sqlite3_prepare_v2(db, "SELECT id, hash FROM (SELECT id, hash FROM (SELECT id, hash FROM events ORDER BY id"
	                           " DESC LIMIT 1) UNION ALL SELECT id, hash FROM (SELECT id, hash FROM pruned ORDER BY"
	                           " id DESC LIMIT 1) UNION ALL SELECT id, hash FROM (SELECT id, hash FROM log_events"
	                           " ORDER BY id DESC LIMIT 1)) ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return rc;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*id = sqlite3_column_int64(st, 0);
		cgs_column_hex(st, 1, hash, CG_HEX_HASH_LEN + 1);
		/* fall through */
	case SQLITE_DONE:
		rc = CG_OK;
		break;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Seals the log event onto the tip (read in the caller's transaction) and
 * stores it; ev->id is its id. */
int cgs_log_event_put(sqlite3 *db, const struct cg_logevent *l, int64_t now_ms, struct cg_event *ev)
{
	char tip_hash[CG_HEX_HASH_LEN + 1];
	sqlite3_stmt *st = NULL;
	int64_t tip;
	int rc = cgs_tip(db, &tip, tip_hash);

	if (rc != CG_OK)
		return rc;
	cg_logevent_event(l, now_ms, ev);
	ev->id = tip + 1;
	cg_chain_seal(ev, tip_hash);
	if (sqlite3_prepare_v2(db, "INSERT INTO log_events(id, recorded_ms, kind, record, core_digest, personal_digest,"
	                           " hash) VALUES(?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, ev->id);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int(st, 3, ev->action);
	sqlite3_bind_text(st, 4, ev->record, -1, SQLITE_STATIC);
	rc = cgs_bind_hex(st, 5, ev->core_digest, 32);
	if (rc == CG_OK)
		rc = cgs_bind_hex(st, 6, ev->personal_digest, 32);
	if (rc == CG_OK)
		rc = cgs_bind_hex(st, 7, ev->hash, 32);
	if (rc == CG_OK)
		rc = cgs_step_final(st);
	else
		sqlite3_finalize(st);
	return rc;
}

/* ---- SQL functions: the core's rules on stored values --------------------------------------- */

static int blob_hex(sqlite3_value *v, size_t n, char *hex)
{
	if (sqlite3_value_type(v) != SQLITE_BLOB || (size_t)sqlite3_value_bytes(v) != n)
		return 0;
	sodium_bin2hex(hex, 2 * n + 1, sqlite3_value_blob(v), n);
	return 1;
}

static void result_hex(sqlite3_context *ctx, const char *hex)
{
	uint8_t b[32];
	size_t got = 0;

	if (sodium_hex2bin(b, sizeof b, hex, strlen(hex), NULL, &got, NULL) == 0 && got)
		sqlite3_result_blob(ctx, b, (int)got, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

/* cg_subject_digest(subject blob) -> the subject's digest (chain.h) */
static void fn_subject_digest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char subject[CG_SUBJECT_LEN + 1], d[CG_HEX_HASH_LEN + 1];

	(void)argc;
	if (!blob_hex(argv[0], CG_SUBJECT_BYTES, subject)) {
		sqlite3_result_null(ctx);
		return;
	}
	cg_chain_subject_digest(subject, d);
	result_hex(ctx, d);
}

/* cg_ip_clear(salt blob, prefix, which): the IP retention's step on a row
 * of format 2 (cg_chain_clear_ip_values): which 0 = the salt it keeps,
 * 1 = its ip_digest */
static void fn_ip_clear(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char salt[CG_SALT_LEN + 1], new_salt[CG_SALT_LEN + 1], ipd[CG_HEX_HASH_LEN + 1];
	const char *prefix = (const char *)sqlite3_value_text(argv[1]);

	(void)argc;
	if (!blob_hex(argv[0], CG_SALT_LEN / 2, salt)) {
		sqlite3_result_null(ctx);
		return;
	}
	cg_chain_clear_ip_values(salt, prefix ? prefix : "", new_salt, ipd);
	result_hex(ctx, sqlite3_value_int(argv[2]) ? ipd : new_salt);
}

int cgs_functions(sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;

	return sqlite3_create_function(db, "cg_subject_digest", 1, flags, NULL, fn_subject_digest, NULL, NULL) ==
	               SQLITE_OK &&
	       sqlite3_create_function(db, "cg_ip_clear", 3, flags, NULL, fn_ip_clear, NULL, NULL) == SQLITE_OK
	       ? CG_OK : CG_ERR_STORAGE;
}

/* ---- schema 4 -> 5 ----------------------------------------------------------------------------- */

/* The format event: row format 2 from here on; the links pruned before,
 * which format 1 kept without their fields, are these. None in an empty log. */
static int format_event(sqlite3 *db)
{
	struct cg_logevent l = {.kind = CG_ACT_FORMAT, .format = CG_ROW_FORMAT};
	struct cg_ids_digest d;
	struct cg_event ev;
	struct timespec now;
	char hash[CG_HEX_HASH_LEN + 1];
	int64_t tip;
	int rc = cgs_tip(db, &tip, hash);

	if (rc != CG_OK || tip == 0)
		return rc;
	if ((rc = cgs_ids_of(db, "SELECT id FROM pruned ORDER BY id", &d)) != CG_OK)
		return rc;
	l.count = d.n;
	cg_ids_final(&d, l.ids);
	clock_gettime(CLOCK_REALTIME, &now);
	return cgs_log_event_put(db, &l, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &ev);
}

int cgs_migrate_v5(sqlite3 *db)
{
	if (cgs_exec(db, cg_schema_v5_tables) != SQLITE_OK || cgs_exec(db, cg_schema_v5_views) != SQLITE_OK)
		return CG_ERR_STORAGE;
	return format_event(db);
}
