/* Row format 2 on PostgreSQL: the chain's tip over every kind of link, log
 * events (logevent.h), and the migration from row format 1 (schema 3 -> 4),
 * as logev.c does on SQLite. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/logevent.h"
#include "internal.h"

/* Schema 4: the IP prefix's digest and each row's format; pruned links
 * that keep their core fields, the subject's digest and the purge that
 * removed them; the log events; the tip over all three; rows of another
 * format refused (an instance of an older build beside a migrated
 * database must not append format 1 after the format event), but for a
 * log moved here as it was (import.c sets consentgate.importing). */
static const char v4_sql[] =
"ALTER TABLE events ADD COLUMN ip_digest bytea, ADD COLUMN fmt smallint;\n"
"ALTER TABLE pruned ADD COLUMN sdigest bytea, ADD COLUMN recorded_ms bigint, ADD COLUMN choice_back_ms bigint,\n"
"  ADD COLUMN action smallint, ADD COLUMN preferences smallint, ADD COLUMN statistics smallint,\n"
"  ADD COLUMN marketing smallint, ADD COLUMN objection_purpose smallint, ADD COLUMN objections smallint,\n"
"  ADD COLUMN policy_version text, ADD COLUMN banner text, ADD COLUMN purge_id bigint, ADD COLUMN fmt smallint;\n"
"CREATE TABLE log_events(id bigint PRIMARY KEY, recorded_ms bigint NOT NULL,\n"
"  kind smallint NOT NULL CHECK (kind IN (4, 5)), record text NOT NULL, core_digest bytea NOT NULL,\n"
"  personal_digest bytea NOT NULL, hash bytea NOT NULL);\n"
"DROP TRIGGER events_append_only ON events;\n"
"CREATE TRIGGER events_append_only BEFORE UPDATE OF id, sid, recorded_ms, action, policy_version,\n"
"  preferences, statistics, marketing, objection_purpose, objections, choice_back_ms, core_digest,\n"
"  personal_digest, hash, fmt ON events FOR EACH ROW EXECUTE FUNCTION cg_append_only();\n"
"CREATE TRIGGER pruned_append_only BEFORE UPDATE ON pruned FOR EACH ROW EXECUTE FUNCTION cg_append_only();\n"
"CREATE TRIGGER log_events_append_only BEFORE UPDATE OR DELETE ON log_events\n"
"  FOR EACH ROW EXECUTE FUNCTION cg_append_only();\n"
"CREATE FUNCTION cg_row_format() RETURNS trigger LANGUAGE plpgsql AS\n"
"  $$BEGIN IF NEW.fmt IS DISTINCT FROM 2 AND current_setting('consentgate.importing', true) IS DISTINCT FROM 'on' THEN\n"
"    RAISE EXCEPTION 'rows of row format 2 only: this database was migrated (upgrade every instance)';\n"
"  END IF; RETURN NEW; END$$;\n"
"CREATE TRIGGER events_row_format BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION cg_row_format();\n"
"CREATE OR REPLACE FUNCTION cg_expect_tip(want_id bigint, want_hash bytea) RETURNS void LANGUAGE plpgsql AS $$\n"
"DECLARE t_id bigint := 0; t_hash bytea;\n"
"BEGIN\n"
"  SELECT x.id, x.hash INTO t_id, t_hash FROM (\n"
"    (SELECT id, hash FROM events ORDER BY id DESC LIMIT 1) UNION ALL\n"
"    (SELECT id, hash FROM pruned ORDER BY id DESC LIMIT 1) UNION ALL\n"
"    (SELECT id, hash FROM log_events ORDER BY id DESC LIMIT 1)) x ORDER BY x.id DESC LIMIT 1;\n"
"  IF coalesce(t_id, 0) <> want_id OR t_hash IS DISTINCT FROM want_hash THEN\n"
"    RAISE EXCEPTION 'the chain tip moved' USING ERRCODE = 'CG001';\n"
"  END IF;\n"
"END$$;\n"
"CREATE OR REPLACE FUNCTION cg_action(a smallint) RETURNS text LANGUAGE sql IMMUTABLE AS\n"
"  $$SELECT CASE a WHEN 0 THEN 'choice' WHEN 1 THEN 'withdraw' WHEN 2 THEN 'objection' WHEN 3 THEN 'erase'\n"
"    WHEN 4 THEN 'purge' WHEN 5 THEN 'format' END$$;\n";

/* the tip: the last row, pruned link or log event (as cg_expect_tip) */
const char pgs_tip_sql[] =
	"SELECT id, hash FROM (SELECT id, hash FROM events ORDER BY id DESC LIMIT 1) e"
	" UNION ALL SELECT id, hash FROM (SELECT id, hash FROM pruned ORDER BY id DESC LIMIT 1) p"
	" UNION ALL SELECT id, hash FROM (SELECT id, hash FROM log_events ORDER BY id DESC LIMIT 1) l"
	" ORDER BY id DESC LIMIT 1";

int pgs_tip(PGconn *c, int64_t deadline, int64_t *id, char hash[CG_HEX_HASH_LEN + 1])
{
	PGresult *r = NULL;
	int rc = pgs_query(c, pgs_tip_sql, 0, NULL, deadline, &r);

	*id = 0;
	strcpy(hash, CG_CHAIN_GENESIS);
	if (rc == CG_OK && PQntuples(r) == 1) {
		*id = pgs_col_i64(r, 0, 0);
		pgs_col_hex(r, 0, 1, hash, CG_HEX_HASH_LEN + 1);
	}
	PQclear(r);
	return rc;
}

int pgs_log_event_put(PGconn *c, int64_t deadline, const struct cg_logevent *l, int64_t now_ms,
                      struct cg_event *ev)
{
	char tip_hash[CG_HEX_HASH_LEN + 1], id[24], ms[24], kind[8], d[3][CG_HEX_HASH_LEN + 3];
	const char *v[] = {id, ms, kind, ev->record, d[0], d[1], d[2]};
	int64_t tip;
	int rc = pgs_tip(c, deadline, &tip, tip_hash);

	if (rc != CG_OK)
		return rc;
	cg_logevent_event(l, now_ms, ev);
	ev->id = tip + 1;
	cg_chain_seal(ev, tip_hash);
	snprintf(id, sizeof id, "%" PRId64, ev->id);
	snprintf(ms, sizeof ms, "%" PRId64, now_ms);
	snprintf(kind, sizeof kind, "%d", ev->action);
	pgs_bytea_param(ev->core_digest, d[0], sizeof d[0]);
	pgs_bytea_param(ev->personal_digest, d[1], sizeof d[1]);
	pgs_bytea_param(ev->hash, d[2], sizeof d[2]);
	return pgs_query(c, "INSERT INTO log_events(id, recorded_ms, kind, record, core_digest, personal_digest, hash)"
	                    " VALUES($1, $2, $3, $4, $5, $6, $7)", 7, v, deadline, NULL);
}

/* The format event: row format 2 from here on; the links pruned before,
 * which format 1 kept without their fields, are these. None in an empty
 * log. Under the chain lock, in the migration's transaction. */
static int format_event(PGconn *c, int64_t deadline)
{
	struct cg_logevent l = {.kind = CG_ACT_FORMAT, .format = CG_ROW_FORMAT};
	struct cg_ids_digest d;
	struct cg_event ev;
	char lock[64], hash[CG_HEX_HASH_LEN + 1];
	PGresult *r = NULL;
	int64_t tip;
	int rc;

	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", PGS_LOCK_CHAIN);
	if ((rc = pgs_exec(c, lock, deadline)) || (rc = pgs_tip(c, deadline, &tip, hash)) || !tip)
		return rc;
	cg_ids_init(&d);
	rc = pgs_query(c, "SELECT id FROM pruned ORDER BY id", 0, NULL, deadline, &r);
	for (int i = 0; rc == CG_OK && i < PQntuples(r); i++)
		cg_ids_add(&d, pgs_col_i64(r, i, 0));
	PQclear(r);
	if (rc != CG_OK)
		return rc;
	l.count = d.n;
	cg_ids_final(&d, l.ids);
	return pgs_log_event_put(c, deadline, &l, pgs_wall_ms(), &ev);
}

int pgs_migrate_v4(PGconn *c, int64_t deadline)
{
	int rc = pgs_exec_script(c, v4_sql, deadline);

	if (rc == CG_OK)
		rc = pgs_exec_script(c, pgs_v4_views_sql, deadline);
	if (rc == CG_OK)
		rc = format_event(c, deadline);
	return rc;
}
