#!/usr/bin/env bash
# Migrations of a real log, by consentctl migrate and by the daemon at
# start-up: schema 1 -> 5 (tests/fixtures/v1.sql: choices, a withdrawal, an
# objection, an erasure, visitors pruned by retention, pending outbox rows)
# and row format 1 -> 2 (tests/fixtures/v3.sql, SQLite schema 3, and
# pg2.sql, PostgreSQL schema 2: what was shown, IP prefixes cleared with
# their salt, pruned visitors, signed heads), through the erasure notices'
# schema (SQLite 4, PostgreSQL 3) to row format 2 (SQLite 5, PostgreSQL 4)
# and on to kept vendor lists and the outbox's whole subject index
# (SQLite 6, PostgreSQL 5) and the leak reports (SQLite 7, PostgreSQL 6).
# Every analyst view keeps its rows; old rows keep verifying under the old
# rule and are named as such; the format event closes row format 1; new
# rows are of format 2; the visitors' consent IDs still find their records.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
fixtures="$here/../fixtures"

# the fixtures' files here; each daemon's stack in a directory of its own
W=$(mktemp -d /tmp/cg-migrate.XXXXXX)
trap 'stack_stop; [ -n "${PGDB:-}" ] && cg_pg_dropdb "$PGDB"; cg_pg_stop; rm -rf "$W"' EXIT
load() { # FIXTURE PATH: the fixture as a file of its schema (.dump does not keep user_version)
	sqlite3 "$2" <"$fixtures/$1.sql" && sqlite3 "$2" "PRAGMA user_version = ${1#v}"
}
# what an analyst reads, the columns the views had before (columns are
# added, never renamed), in the SQL both backends speak
VIEWS="SELECT id, subject, recorded_at, action, policy_version, preferences, statistics, marketing,
         objection_purpose, objections, choice_at, gpc, dnt, lang, banner, page, ip_prefix, country, salt,
         core_digest, personal_digest, prev_hash, hash FROM consent_events ORDER BY id;
       SELECT subject, last_event_id, recorded_at, action, policy_version, preferences, statistics, marketing,
         objections, choice_at, gpc, dnt, lang, country, expires_at, expired, stale_policy
         FROM consent_current ORDER BY last_event_id;
       SELECT day, country, policy_version, lang, outcome, n FROM consent_daily
         ORDER BY day, coalesce(country, ''), policy_version, coalesce(lang, ''), outcome;
       SELECT id, subject, destination, purpose, mode, payload, created_at, attempts, next_attempt_at, state,
         last_error FROM outbox ORDER BY id;
       SELECT id, prev_hash, hash, core_digest, personal_digest, pruned_at FROM consent_pruned ORDER BY id;"
views() { sqlite3 -batch -noheader "$1" "$VIEWS"; }
tip() { sqlite3 "$1" "SELECT hash FROM (SELECT id, hash FROM consent_events UNION ALL SELECT id, hash FROM consent_pruned
	UNION ALL SELECT id, hash FROM consent_log) ORDER BY id DESC LIMIT 1"; }
ini() { # NAME STORAGE-LINES...: a configuration for consentctl
	local f="$W/$1.ini"; shift
	printf '[server]\nsite = test.example\n[policy]\nversion = 2023-12\nconsent_max_age_days = 365\nrefusal_max_age_days = 180\n[storage]\n' >"$f"
	printf '%s\n' "$@" >>"$f"
	echo "$f"
}

echo "# consentctl migrate: schema 1 -> 7"
A="$W/a.db"
load v1 "$A"
before=$(views "$A")
AI=$(ini a "database = $A")
expect_eq "a schema-1 file" 1 "$(sqlite3 "$A" "PRAGMA user_version")"
out=$("$CG_BUILD/consentctl" -c "$AI" migrate 2>&1); rc=$?
expect_eq "migrate exits 0" 0 "$rc"
expect_match "migrate says so" "a.db: the schema is this build's" "$out"
expect_eq "schema 7 (vendor lists, then leak reports, on top of row format 2)" 7 "$(sqlite3 "$A" "PRAGMA user_version")"
after=$(views "$A")
expect_eq "every analyst view returns the same rows as before" "$before" "$after"
expect_eq "no schema-1 table is left" "" "$(sqlite3 "$A" "SELECT name FROM sqlite_master WHERE name LIKE 'v1%'")"
expect_eq "digests are stored as 32 bytes" "32|32|32" \
	"$(sqlite3 "$A" "SELECT DISTINCT length(core_digest) || '|' || length(personal_digest) || '|' || length(hash) FROM events")"
expect_eq "the format event closes row format 1, naming the 3 links pruned before it" \
	"15|format|format=2;links=3;ids=$(printf '%s\n' $(sqlite3 "$A" "SELECT id FROM pruned ORDER BY id") | sha256sum | cut -c1-64)" \
	"$(sqlite3 "$A" "SELECT id, kind, record FROM consent_log")"
# the erasure notices' schema (4) on the way: recipients recorded from now on
expect_eq "with the recipients, recorded from now on" "1|1" \
	"$(sqlite3 "$A" "SELECT count(*) FROM sqlite_master WHERE name = 'recipients';
		SELECT count(*) FROM meta WHERE key = 'recipients_since_ms' AND value > 1700000000000" | tr '\n' '|' | sed 's/|$//')"
expect_eq "the outbox view tells notices apart: the old rows are events" "event" "$(sqlite3 "$A" "SELECT DISTINCT kind FROM outbox")"
out=$("$CG_BUILD/consentctl" -c "$AI" verify); rc=$?
expect_eq "verify passes after the migration" 0 "$rc"
expect_match "verify: the rows, the format event, and the chain head it is now" \
	"OK: 15 rows verified \(2 redacted, 3 pruned by retention\), chain head $(tip "$A")" "$out"
expect_match "... naming the rows checked under the old rule" "note: rows before row 15 are of row format 1" "$out"
out=$("$CG_BUILD/consentctl" -c "$AI" migrate 2>&1); rc=$?
expect_eq "migrating again changes nothing" "0|$after|1" "$rc|$(views "$A")|$(sqlite3 "$A" "SELECT count(*) FROM log_events")"

echo "# the daemon migrates at start-up; schema-1 consent IDs keep working"
export CG_DB_PATH="$W/b.db"
load v1 "$CG_DB_PATH"
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
stack_start || exit 1
cookie() { sed -n "s/^$2=//p" "$fixtures/$1-cookies.txt"; }
expect_eq "the daemon migrated the file" 7 "$(sql "PRAGMA user_version")"
expect_match "and logged it" "migrated from schema 1 to 2.*migrated from schema 1 to 5" "$(cat "$CG_DIR/daemon.log" | tr '\n' ' ')"
state() { curl -s -H "Cookie: cg_id=$1" "$CG_URL/consent"; }
expect_match "accept-all visitor's state" '"preferences":true,"statistics":true,"marketing":true' "$(state "$(cookie v1 all)")"
expect_match "refusing visitor's state" '"preferences":false,"statistics":false,"marketing":false' "$(state "$(cookie v1 none)")"
expect_match "the objection is still in force" '"objections":\["marketing"\]' "$(state "$(cookie v1 objector)")"
expect_match "the withdrawal is still in force" '"statistics":false' "$(state "$(cookie v1 withdrawer)")"
C=$(cookie v1 custom)
hdr=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "Cookie: cg_id=$C" \
	--data '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r')
expect_match "a schema-1 visitor keeps their consent ID" "Set-Cookie: cg_id=$C;" "$hdr"
expect_eq "their new choice joins their old rows, in row format 2" "choice:1,0,1:1 choice:0,0,0:2" \
	"$(sql "SELECT group_concat(action || ':' || preferences || ',' || statistics || ',' || marketing || ':' || row_format, ' ') FROM (SELECT * FROM consent_events WHERE subject = '$(subject_of "$C")' ORDER BY id)")"
out=$(curl -s -H "Cookie: cg_id=$C" "$CG_URL/consent/export")
expect_match "export finds both rows (the format event between them)" '"events":\[\{"id":6,.*\{"id":16,' "$out"
N=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	--data '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
expect_match "a new visitor gets a schema-2 ID" '^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}$' "$N"
expect_eq "stored under its subject key" 1 "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$(subject_of "$N")'")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "the chain continues across the migration" 0 "$rc"
expect_match "verify counts the new rows" "OK: 17 rows verified" "$out"
stack_stop

echo "# row format 1 -> 2: a log of SQLite schema 3 (through 4, 5 and 6 to 7)"
V="$W/v3.db"
load v3 "$V"
before=$(views "$V")
shown_before=$(sqlite3 "$V" "SELECT * FROM shown ORDER BY id; SELECT * FROM shown_files ORDER BY 1, 2; SELECT hash, length(bytes) FROM artefacts ORDER BY 1")
old_tip=$(sqlite3 "$V" "SELECT hash FROM consent_events ORDER BY id DESC LIMIT 1")
VI=$(ini v3 "database = $V")
out=$("$CG_BUILD/consentctl" -c "$VI" migrate 2>&1); rc=$?
expect_eq "schema 3 -> 7" "0 7" "$rc $(sqlite3 "$V" "PRAGMA user_version")"
expect_eq "every analyst view returns the same rows as before" "$before" "$(views "$V")"
expect_eq "schema 7: the leak reports' table" "csp_leaks" "$(sqlite3 "$V" "SELECT name FROM sqlite_master WHERE name = 'csp_leaks'")"
expect_eq "schema 6: the builds and notices kept, retired ones too, through the table's rebuild" "$shown_before" \
	"$(sqlite3 "$V" "SELECT * FROM shown ORDER BY id; SELECT * FROM shown_files ORDER BY 1, 2; SELECT hash, length(bytes) FROM artefacts ORDER BY 1")"
expect_eq "... which now takes vendor lists (kind 2) and nothing else" "ok|CHECK" \
	"$(sqlite3 "$V" "BEGIN; INSERT INTO shown(id, kind, first_ms) VALUES('x', 2, 0); SELECT 'ok'; ROLLBACK" 2>&1 | tr '\n' '|')$(sqlite3 "$V" "INSERT INTO shown(id, kind, first_ms) VALUES('y', 3, 0)" 2>&1 | grep -o CHECK)"
expect_eq "schema 6: an erasure finds every outbox row of its subject by an index (no scan)" "outbox_sid|0" \
	"$(sqlite3 "$V" "SELECT name, count(*) FILTER (WHERE sql LIKE '%WHERE%') FROM sqlite_master WHERE name = 'outbox_sid'")"
expect_match "... the erasure's statement uses it" "USING INDEX outbox_sid \(sid=\?\)" \
	"$(sqlite3 "$V" "EXPLAIN QUERY PLAN UPDATE outbox_rows SET sid = NULL, payload = '' WHERE sid = 1")"
expect_eq "old rows are of row format 1, named so in the views" "15|0" \
	"$(sqlite3 "$V" "SELECT count(*), count(*) FILTER (WHERE row_format <> 1) FROM (SELECT row_format FROM consent_events UNION ALL SELECT row_format FROM consent_pruned)")"
expect_eq "the format event links onto the old tip" "$old_tip" "$(sqlite3 "$V" "SELECT prev_hash FROM consent_log")"
out=$("$CG_BUILD/consentctl" -c "$VI" verify); rc=$?
expect_eq "the migrated log verifies" 0 "$rc"
expect_match "... its IP-cleared rows of format 1 under the old rule, and says so" \
	"OK: 16 rows verified \(9 redacted, 3 pruned by retention\).*12 rows and 3 pruned links of row format 1.*note: rows before row 16 are of row format 1" \
	"$(echo $out)"
# an attacker turning a kept row of format 1 into a link: the format event counts them
cp "$V" "$W/t.db"
sqlite3 "$W/t.db" "DROP TRIGGER pruned_append_only;
	INSERT INTO pruned(id, core_digest, personal_digest, hash, pruned_ms) SELECT id, core_digest, personal_digest, hash, 0 FROM events WHERE id = 13;
	DELETE FROM events WHERE id = 13"
out=$("$CG_BUILD/consentctl" -c "$VI" verify --database "$W/t.db"); rc=$?
expect_match "a row of format 1 removed as a link of that format: verify fails at the format event" \
	"^1 BROKEN: row 16: the format event records 3 links pruned before it" "$rc $out"
export CG_DB_PATH="$V"
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
stack_start || exit 1
expect_match "the visitors of schema 3 keep their state" '"preferences":true,"statistics":true,"marketing":true' \
	"$(state "$(cookie v3 all)")"
C=$(cookie v3 custom)
curl -s -o /dev/null -H 'Content-Type: application/json' -H "Cookie: cg_id=$C" \
	--data '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"}' "$CG_URL/consent"
expect_eq "new rows follow row format 2" "17|2" "$(sql "SELECT id, row_format FROM consent_events ORDER BY id DESC LIMIT 1")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "the chain continues in row format 2" "0" "$rc"
stack_stop

echo "# row format 1 -> 2: a log of PostgreSQL schema 2 (through 3)"
cg_pg_start || exit 1
PGDB=cg_migrate_pg2
cg_pg_dropdb "$PGDB"
PGURL=$(cg_pg_createdb "$PGDB") || exit 1
psql -X -q -v ON_ERROR_STOP=1 "$PGURL" <"$fixtures/pg2.sql" >/dev/null || not_ok "the schema-2 dump loads"
before=$(psql -X -q -At -F '|' "$PGURL" -c "$VIEWS")
PI=$(ini pg "backend = postgresql" "url = $PGURL")
out=$("$CG_BUILD/consentctl" -c "$PI" migrate 2>&1); rc=$?
expect_eq "PostgreSQL schema 2 -> 6" "0 6" "$rc $(pgsql "$PGDB" "SELECT value FROM meta WHERE key = 'schema_version'")"
expect_eq "schema 5: vendor lists may be kept" "(kind = ANY (ARRAY[0, 1, 2]))" \
	"$(pgsql "$PGDB" "SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint WHERE conname = 'shown_kind_check'")"
expect_eq "schema 5: the outbox's subject index covers every row" "CREATE INDEX outbox_sid ON public.outbox_rows USING btree (sid)" \
	"$(pgsql "$PGDB" "SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_sid'")"
expect_eq "schema 6: the leak reports' table" "csp_leaks" "$(pgsql "$PGDB" "SELECT to_regclass('csp_leaks')")"
expect_eq "every analyst view returns the same rows as before" "$before" "$(psql -X -q -At -F '|' "$PGURL" -c "$VIEWS")"
out=$("$CG_BUILD/consentctl" -c "$PI" verify); rc=$?
expect_match "the migrated log verifies, old rows named" \
	"^0 OK: 16 rows verified \(9 redacted, 3 pruned by retention\).*note: rows before row 16 are of row format 1" \
	"$rc $(echo $out)"
out=$(pgsql "$PGDB" "INSERT INTO events(id, sid, recorded_ms, action, objections, core_digest, personal_digest, hash)
	SELECT 17, sid, 0, 0, 0, core_digest, personal_digest, hash FROM events LIMIT 1" 2>&1)
expect_match "a row of format 1 after the migration (an instance of an older build) is refused" 'row format 2 only' "$out"

cg_summary
