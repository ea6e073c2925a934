/* The lean tables of schema 2 and the analyst views over them
 * (schema.sql.h); schema 4's erasure notices and recipients; what schema 5
 * adds for row format 2; schema 6's vendor lists and outbox index. */
#include "consentgate/erasure.h"
#include "internal.h"
#include "schema.sql.h"

const char cg_schema_v2_tables[] =
"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;\n"
"CREATE TABLE subjects(sid INTEGER PRIMARY KEY, digest BLOB NOT NULL);\n"
"CREATE INDEX subjects_key ON subjects(substr(digest, 1, 8));\n"
"CREATE TABLE events(\n"
"  id INTEGER PRIMARY KEY,\n"
"  sid INTEGER NOT NULL,\n"
"  recorded_ms INTEGER NOT NULL,\n"
"  action INTEGER NOT NULL CHECK (action BETWEEN 0 AND 3),\n" /* choice, withdraw, objection, erase */
"  policy_version TEXT,\n"
"  preferences INTEGER, statistics INTEGER, marketing INTEGER,\n"
"  objection_purpose INTEGER,\n"
"  objections INTEGER NOT NULL,\n"                            /* bit per purpose */
"  choice_back_ms INTEGER,\n"                      /* recorded_ms - choice time: 0 for a choice */
"  gpc INTEGER, dnt INTEGER, cid INTEGER, page TEXT, ip_prefix TEXT,\n"
"  salt BLOB,\n"
"  core_digest BLOB NOT NULL, personal_digest BLOB NOT NULL, hash BLOB NOT NULL);\n"
"CREATE INDEX events_sid ON events(sid);\n"
/* the first id recorded on each day (ms / 86400000): time ranges of the
 * purge and the reports become id ranges, without an index on the time */
"CREATE TABLE event_days(day INTEGER PRIMARY KEY, first_id INTEGER NOT NULL);\n"
/* the personal context of an event (language, banner, country): a few
 * hundred combinations, each stored once ('' for none) */
"CREATE TABLE contexts(cid INTEGER PRIMARY KEY, lang TEXT NOT NULL, banner TEXT NOT NULL,\n"
"  country TEXT NOT NULL, UNIQUE(lang, banner, country));\n"
/* The proof may be redacted (personal columns) or pruned, never rewritten. */
"CREATE TRIGGER events_append_only BEFORE UPDATE OF id, sid, recorded_ms, action,\n"
"  policy_version, preferences, statistics, marketing, objection_purpose, objections,\n"
"  choice_back_ms, core_digest, personal_digest, hash ON events\n"
"BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;\n"
"CREATE TABLE pruned(id INTEGER PRIMARY KEY, core_digest BLOB NOT NULL,\n"
"  personal_digest BLOB NOT NULL, hash BLOB NOT NULL, pruned_ms INTEGER NOT NULL);\n"
"CREATE TABLE outbox_rows(\n"
"  id INTEGER PRIMARY KEY,\n"
"  sid INTEGER,\n"
"  destination TEXT NOT NULL,\n"
"  purpose INTEGER NOT NULL,\n"
"  mode INTEGER NOT NULL CHECK (mode IN (0, 1)),\n"          /* full, minimised */
"  payload TEXT NOT NULL,\n"
"  created_ms INTEGER NOT NULL,\n"
"  attempts INTEGER NOT NULL DEFAULT 0,\n"
"  next_ms INTEGER NOT NULL,\n"
"  state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),\n" /* pending, delivered, dropped, dead */
"  last_error TEXT);\n"
"CREATE INDEX outbox_due ON outbox_rows(state, next_ms);\n"
"CREATE INDEX outbox_sid ON outbox_rows(sid) WHERE state = 0;\n";

const char cg_schema_v2_views[] =
"CREATE VIEW consent_events AS\n"
"SELECT e.id, " CG_HEX("s.digest") " AS subject, " CG_ISO("e.recorded_ms") " AS recorded_at,\n"
"  CASE e.action WHEN 0 THEN 'choice' WHEN 1 THEN 'withdraw' WHEN 2 THEN 'objection' ELSE 'erase' END AS action,\n"
"  e.policy_version, e.preferences, e.statistics, e.marketing,\n"
"  " CG_PURPOSE("e.objection_purpose") " AS objection_purpose,\n"
"  rtrim(CASE WHEN e.objections & 1 THEN 'preferences,' ELSE '' END ||\n"
"        CASE WHEN e.objections & 2 THEN 'statistics,' ELSE '' END ||\n"
"        CASE WHEN e.objections & 4 THEN 'marketing,' ELSE '' END, ',') AS objections,\n"
"  " CG_ISO("(e.recorded_ms - e.choice_back_ms)") " AS choice_at,\n"
"  e.gpc, e.dnt, nullif(c.lang, '') AS lang, nullif(c.banner, '') AS banner, e.page, e.ip_prefix,\n"
"  nullif(c.country, '') AS country, " CG_HEXN("e.salt") " AS salt,\n"
"  " CG_HEX("e.core_digest") " AS core_digest, " CG_HEX("e.personal_digest") " AS personal_digest,\n"
"  " CG_HEX(CG_PREV("e.id")) " AS prev_hash, " CG_HEX("e.hash") " AS hash\n"
"FROM events e JOIN subjects s ON s.sid = e.sid LEFT JOIN contexts c ON c.cid = e.cid;\n"
"CREATE TRIGGER consent_events_append_only INSTEAD OF UPDATE ON consent_events\n"
"BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;\n"
"CREATE VIEW consent_pruned AS\n"
"SELECT id, " CG_HEX(CG_PREV("p.id")) " AS prev_hash, " CG_HEX("hash") " AS hash,\n"
"  " CG_HEX("core_digest") " AS core_digest, " CG_HEX("personal_digest") " AS personal_digest,\n"
"  " CG_ISO("pruned_ms") " AS pruned_at\n"
"FROM pruned p;\n"
/* expiry as the core's cg_state_expires_ms: choice time + the lifetime of
 * a grant or a refusal; expired once that is not after now */
"CREATE VIEW consent_current AS\n"
"SELECT c.subject, c.last_event_id, " CG_ISO("c.recorded_ms") " AS recorded_at, c.action,\n"
"  c.policy_version, c.preferences, c.statistics, c.marketing, c.objections,\n"
"  " CG_ISO("c.choice_ms") " AS choice_at, c.gpc, c.dnt, c.lang, c.country,\n"
"  " CG_ISO("c.expires_ms") " AS expires_at,\n"
"  CASE WHEN c.expires_ms IS NULL THEN NULL\n"
"       WHEN c.expires_ms <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) THEN 1 ELSE 0 END AS expired,\n"
"  CASE WHEN c.policy_version IS (SELECT value FROM meta WHERE key = 'policy_version')\n"
"       THEN 0 ELSE 1 END AS stale_policy\n"
"FROM (SELECT " CG_HEX("s.digest") " AS subject, e.id AS last_event_id, e.recorded_ms,\n"
"        CASE e.action WHEN 0 THEN 'choice' WHEN 1 THEN 'withdraw' WHEN 2 THEN 'objection' ELSE 'erase' END AS action,\n"
"        e.policy_version, e.preferences, e.statistics, e.marketing,\n"
"        rtrim(CASE WHEN e.objections & 1 THEN 'preferences,' ELSE '' END ||\n"
"              CASE WHEN e.objections & 2 THEN 'statistics,' ELSE '' END ||\n"
"              CASE WHEN e.objections & 4 THEN 'marketing,' ELSE '' END, ',') AS objections,\n"
"        e.recorded_ms - e.choice_back_ms AS choice_ms, e.gpc, e.dnt,\n"
"        nullif(x.lang, '') AS lang, nullif(x.country, '') AS country,\n"
"        CASE WHEN e.action = 3 OR e.choice_back_ms IS NULL THEN NULL\n"
"        ELSE e.recorded_ms - e.choice_back_ms + 86400000 * (SELECT CAST(value AS INTEGER) FROM meta WHERE key = CASE\n"
"             WHEN coalesce(e.preferences,0) + coalesce(e.statistics,0) + coalesce(e.marketing,0) > 0\n"
"             THEN 'consent_max_age_days' ELSE 'refusal_max_age_days' END) END AS expires_ms\n"
"      FROM events e JOIN subjects s ON s.sid = e.sid LEFT JOIN contexts x ON x.cid = e.cid\n"
"      JOIN (SELECT sid, max(id) AS id FROM events GROUP BY sid) l ON e.id = l.id) c;\n"
"CREATE VIEW consent_daily AS\n"
"SELECT strftime('%Y-%m-%d', recorded_ms / 1000, 'unixepoch') AS day, nullif(x.country, '') AS country,\n"
"  policy_version, nullif(x.lang, '') AS lang,\n"
"  CASE WHEN action = 1 THEN 'withdraw'\n"
"       WHEN preferences = 1 AND statistics = 1 AND marketing = 1 THEN 'accept_all'\n"
"       WHEN preferences = 0 AND statistics = 0 AND marketing = 0 THEN 'reject_all'\n"
"       ELSE 'custom' END AS outcome,\n"
"  count(*) AS n\n"
"FROM events e LEFT JOIN contexts x ON x.cid = e.cid WHERE action IN (0, 1)\n"
"GROUP BY 1, 2, 3, 4, 5;\n";

/* Schema 5 (row format 2, chain.h): the IP prefix's digest, each row's
 * format; pruned links that keep their core fields, the subject's digest
 * and the purge that removed them; the log events (logevent.h). Columns
 * added to tables of schema 2, so a row of format 1 stays as it was. */
const char cg_schema_v5_tables[] =
"ALTER TABLE events ADD COLUMN ip_digest BLOB;\n"
"ALTER TABLE events ADD COLUMN fmt INTEGER;\n"                     /* 2; NULL: row format 1 */
"ALTER TABLE pruned ADD COLUMN sdigest BLOB;\n"
"ALTER TABLE pruned ADD COLUMN recorded_ms INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN action INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN policy_version TEXT;\n"
"ALTER TABLE pruned ADD COLUMN preferences INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN statistics INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN marketing INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN objection_purpose INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN objections INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN choice_back_ms INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN cid INTEGER;\n"                     /* contexts('', banner, '') */
"ALTER TABLE pruned ADD COLUMN purge_id INTEGER;\n"
"ALTER TABLE pruned ADD COLUMN fmt INTEGER;\n"
"CREATE TABLE log_events(id INTEGER PRIMARY KEY, recorded_ms INTEGER NOT NULL,\n"
"  kind INTEGER NOT NULL CHECK (kind IN (4, 5)), record TEXT NOT NULL,\n"  /* purge, format */
"  core_digest BLOB NOT NULL, personal_digest BLOB NOT NULL, hash BLOB NOT NULL);\n"
/* The proof may be redacted (personal columns, the IP prefix for its
 * digest) or pruned, never rewritten. */
"DROP TRIGGER events_append_only;\n"
"CREATE TRIGGER events_append_only BEFORE UPDATE OF id, sid, recorded_ms, action,\n"
"  policy_version, preferences, statistics, marketing, objection_purpose, objections,\n"
"  choice_back_ms, core_digest, personal_digest, hash, fmt ON events\n"
"BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;\n"
"CREATE TRIGGER pruned_append_only BEFORE UPDATE ON pruned\n"
"BEGIN SELECT RAISE(ABORT, 'consent_pruned is append-only'); END;\n"
"CREATE TRIGGER log_events_append_only BEFORE UPDATE ON log_events\n"
"BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END;\n"
"CREATE TRIGGER log_events_kept BEFORE DELETE ON log_events\n"
"BEGIN SELECT RAISE(ABORT, 'log events are kept'); END;\n"
"DROP VIEW consent_events;\n"
"DROP VIEW consent_pruned;\n";

/* the views that read what schema 5 adds: columns appended, the link
 * before a row found among the log events too (CG_PREV), and the log */
const char cg_schema_v5_views[] =
"CREATE VIEW consent_events AS\n"
"SELECT e.id, " CG_HEX("s.digest") " AS subject, " CG_ISO("e.recorded_ms") " AS recorded_at,\n"
"  " CG_ACTION("e.action") " AS action,\n"
"  e.policy_version, e.preferences, e.statistics, e.marketing,\n"
"  " CG_PURPOSE("e.objection_purpose") " AS objection_purpose,\n"
"  " CG_OBJECTIONS("e.objections") " AS objections,\n"
"  " CG_ISO("(e.recorded_ms - e.choice_back_ms)") " AS choice_at,\n"
"  e.gpc, e.dnt, nullif(c.lang, '') AS lang, nullif(c.banner, '') AS banner, e.page, e.ip_prefix,\n"
"  nullif(c.country, '') AS country, " CG_HEXN("e.salt") " AS salt,\n"
"  " CG_HEX("e.core_digest") " AS core_digest, " CG_HEX("e.personal_digest") " AS personal_digest,\n"
"  " CG_HEX(CG_PREV("e.id")) " AS prev_hash, " CG_HEX("e.hash") " AS hash,\n"
"  " CG_HEXN("e.ip_digest") " AS ip_digest, coalesce(e.fmt, 1) AS row_format\n"
"FROM events e JOIN subjects s ON s.sid = e.sid LEFT JOIN contexts c ON c.cid = e.cid;\n"
"CREATE TRIGGER consent_events_append_only INSTEAD OF UPDATE ON consent_events\n"
"BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;\n"
/* the link of a removed row: of row format 2 with its core fields */
"CREATE VIEW consent_pruned AS\n"
"SELECT p.id, " CG_HEX(CG_PREV("p.id")) " AS prev_hash, " CG_HEX("p.hash") " AS hash,\n"
"  " CG_HEX("p.core_digest") " AS core_digest, " CG_HEX("p.personal_digest") " AS personal_digest,\n"
"  " CG_ISO("p.pruned_ms") " AS pruned_at, " CG_HEXN("p.sdigest") " AS subject_digest,\n"
"  " CG_ISO("p.recorded_ms") " AS recorded_at, " CG_ACTION("p.action") " AS action, p.policy_version,\n"
"  p.preferences, p.statistics, p.marketing, " CG_PURPOSE("p.objection_purpose") " AS objection_purpose,\n"
"  " CG_OBJECTIONS("p.objections") " AS objections, " CG_ISO("(p.recorded_ms - p.choice_back_ms)") " AS choice_at,\n"
"  nullif(c.banner, '') AS banner, p.purge_id, coalesce(p.fmt, 1) AS row_format\n"
"FROM pruned p LEFT JOIN contexts c ON c.cid = p.cid;\n"
"CREATE VIEW consent_log AS\n"
"SELECT l.id, " CG_ISO("l.recorded_ms") " AS recorded_at, " CG_ACTION("l.kind") " AS kind, l.record,\n"
"  " CG_HEX("l.core_digest") " AS core_digest, " CG_HEX("l.personal_digest") " AS personal_digest,\n"
"  " CG_HEX(CG_PREV("l.id")) " AS prev_hash, " CG_HEX("l.hash") " AS hash\n"
"FROM log_events l;\n";

/* Schema 4: erasure notices are told apart (kind 1: an erasure notice,
 * erasure.h), counted by an index of their own (their bound is not
 * /collect's), and go only to recipients: the destinations that
 * acknowledged a delivery of a visitor's pseudonym (storage.h). The outbox
 * view gains the kind. (The view moved here from schema 2's: it is made
 * once the column exists.) */
const char cg_schema_v4_notices[] =
"ALTER TABLE outbox_rows ADD COLUMN kind INTEGER GENERATED ALWAYS AS\n"
"  (CASE WHEN substr(payload, 1, 11) = '" CG_ERASURE_PREFIX "' THEN 1 ELSE 0 END) VIRTUAL;\n"
"CREATE INDEX outbox_notices ON outbox_rows(next_ms) WHERE state = 0 AND kind = 1;\n"
"CREATE TABLE recipients(sid INTEGER NOT NULL, destination TEXT NOT NULL,\n"
"  PRIMARY KEY (sid, destination)) WITHOUT ROWID;\n"
"DROP VIEW IF EXISTS outbox;\n"
"CREATE VIEW outbox AS\n"
"SELECT o.id, " CG_HEXN("s.digest") " AS subject, o.destination, " CG_PURPOSE("o.purpose") " AS purpose,\n"
"  CASE o.mode WHEN 0 THEN 'full' ELSE 'minimised' END AS mode, o.payload,\n"
"  " CG_ISO("o.created_ms") " AS created_at, o.attempts, " CG_ISO("o.next_ms") " AS next_attempt_at,\n"
"  CASE o.state WHEN 0 THEN 'pending' WHEN 1 THEN 'delivered' WHEN 2 THEN 'dropped' ELSE 'dead' END AS state,\n"
"  o.last_error, CASE o.kind WHEN 1 THEN 'erasure' ELSE 'event' END AS kind\n"
"FROM outbox_rows o LEFT JOIN subjects s ON s.sid = o.sid;\n"
/* operators (and the tests) may queue a row by hand, in the view's terms */
"CREATE TRIGGER outbox_insert INSTEAD OF INSERT ON outbox\n"
"BEGIN INSERT INTO outbox_rows(sid, destination, purpose, mode, payload, created_ms, attempts, next_ms, state, last_error)\n"
"  VALUES((SELECT sid FROM subjects WHERE " CG_HEX("digest") " = NEW.subject), NEW.destination,\n"
"    CASE NEW.purpose WHEN 'preferences' THEN 0 WHEN 'statistics' THEN 1 ELSE 2 END,\n"
"    NEW.mode IS NOT 'full', NEW.payload,\n"
"    CAST(round((julianday(NEW.created_at) - 2440587.5) * 86400000) AS INTEGER), coalesce(NEW.attempts, 0),\n"
"    CAST(round((julianday(coalesce(NEW.next_attempt_at, NEW.created_at)) - 2440587.5) * 86400000) AS INTEGER),\n"
"    CASE coalesce(NEW.state, 'pending') WHEN 'pending' THEN 0 WHEN 'delivered' THEN 1 WHEN 'dropped' THEN 2 ELSE 3 END,\n"
"    NEW.last_error); END;\n";

/* Schema 6: vendor lists are kept like builds and notices (kind 2,
 * shown.h), so the table is made again with the wider CHECK (SQLite cannot
 * alter one); and the outbox's subject index covers every row, not only
 * pending ones: an erasure reaches the visitor's delivered and dead rows
 * too, which was a scan of the whole outbox per erasure. */
const char cg_schema_v6[] =
"CREATE TABLE shown_v6(id TEXT PRIMARY KEY, kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2)), label TEXT,\n"
"  first_ms INTEGER NOT NULL, retired_ms INTEGER) WITHOUT ROWID;\n"
"INSERT INTO shown_v6(id, kind, label, first_ms, retired_ms) SELECT id, kind, label, first_ms, retired_ms FROM shown;\n"
"DROP TABLE shown;\n"
"ALTER TABLE shown_v6 RENAME TO shown;\n"
"DROP INDEX outbox_sid;\n"
"CREATE INDEX outbox_sid ON outbox_rows(sid);\n";
