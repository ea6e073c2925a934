#ifndef CONSENTGATE_STORE_SCHEMA_SQL_H
#define CONSENTGATE_STORE_SCHEMA_SQL_H
/* Schema version 5 (the SQL is in schema.c, kept as C strings so the
 * binary needs no data files); the macros its SQL and the readers share.
 *
 * Lean base tables (digests as 32-byte blobs, times as integer ms since the
 * epoch, enumerations as small integers, a visitor's rows keyed by an
 * increasing integer) under the analyst contract of docs/analysts.md#views-and-tables: the views
 * consent_events, consent_current, consent_daily, outbox and consent_pruned
 * keep schema 1's column names and types (hex text digests, ISO-8601 text
 * times). Add columns, never rename.
 *
 *   subjects  one row per visitor: the 32-byte subject key; indexed by its
 *             first 8 bytes, which for consent IDs of schema 2 are the
 *             creation time (new visitors append to the index)
 *   events    the chain; prev_hash is not stored: it is the hash of row
 *             id - 1 (ids are consecutive: the writer assigns tip + 1)
 *   pruned    the links of rows deleted by retention (row format 2: with
 *             their core fields and the purge that removed them)
 *   log_events  chained rows of no visitor: purges, the format change
 *   outbox_rows  the outbox */
#define CG_ISO(ms) "strftime('%Y-%m-%dT%H:%M:%S', " ms " / 1000, 'unixepoch') || printf('.%03dZ', " ms " % 1000)"
#define CG_HEX(b) "lower(hex(" b "))"
#define CG_HEXN(b) "nullif(lower(hex(" b ")), '')"
#define CG_PURPOSE(p) "CASE " p " WHEN 0 THEN 'preferences' WHEN 1 THEN 'statistics' WHEN 2 THEN 'marketing' END"
#define CG_ACTION(a) "CASE " a " WHEN 0 THEN 'choice' WHEN 1 THEN 'withdraw' WHEN 2 THEN 'objection'" \
	" WHEN 3 THEN 'erase' WHEN 4 THEN 'purge' WHEN 5 THEN 'format' END"
#define CG_OBJECTIONS(o) "rtrim(CASE WHEN " o " & 1 THEN 'preferences,' ELSE '' END ||" \
	" CASE WHEN " o " & 2 THEN 'statistics,' ELSE '' END || CASE WHEN " o " & 4 THEN 'marketing,' ELSE '' END, ',')"
/* the hash of the link before `id`: a row, a pruned link, a log event, or genesis */
#define CG_PREV(id) \
	"coalesce((SELECT hash FROM events WHERE id = " id " - 1), (SELECT hash FROM pruned WHERE id = " id " - 1)," \
	" (SELECT hash FROM log_events WHERE id = " id " - 1), CASE WHEN " id " = 1 THEN zeroblob(32) END)"

#endif
