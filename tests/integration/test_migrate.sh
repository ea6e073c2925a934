#!/usr/bin/env bash
# Schema 1 -> 2 on a database written by the schema-1 daemon and consentctl
# (tests/fixtures/v1.sql: choices, a withdrawal, an objection, an erasure,
# visitors pruned by retention, pending outbox rows): consentctl migrate
# keeps every analyst view row for row and the chain verifiable; the daemon
# migrates a copy at start-up, and the visitors' schema-1 consent IDs still
# find their records.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
fixtures="$here/../fixtures"

trap stack_stop EXIT
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
v1db() { # PATH: the fixture as a schema-1 file (.dump does not keep user_version)
	sqlite3 "$1" <"$fixtures/v1.sql" && sqlite3 "$1" "PRAGMA user_version = 1"
}
views() { # DB: what an analyst reads, as text (the columns schema 1 had)
	sqlite3 -batch -header "$1" "SELECT * FROM consent_events ORDER BY id;
		SELECT * FROM consent_current ORDER BY subject;
		SELECT * FROM consent_daily ORDER BY 1, 2, 3, 4, 5;
		SELECT id, subject, destination, purpose, mode, payload, created_at, attempts, next_attempt_at, state,
		  last_error FROM outbox ORDER BY id;
		SELECT * FROM consent_pruned ORDER BY id;"
}
cookie() { sed -n "s/^$1=//p" "$fixtures/v1-cookies.txt"; }

echo "# consentctl migrate"
A="$CG_DIR/a.db"
v1db "$A"
before=$(views "$A")
head=$(sqlite3 "$A" "SELECT hash FROM consent_events ORDER BY id DESC LIMIT 1")
cat >"$CG_DIR/a.ini" <<INI
[server]
site = test.example
[policy]
version = 2023-12
consent_max_age_days = 365
refusal_max_age_days = 180
[storage]
database = $A
INI
expect_eq "a schema-1 file" 1 "$(sqlite3 "$A" "PRAGMA user_version")"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/a.ini" migrate 2>&1); rc=$?
expect_eq "migrate exits 0" 0 "$rc"
expect_match "migrate says so" "a.db: the schema is this build's" "$out"
expect_eq "schema 4" 4 "$(sqlite3 "$A" "PRAGMA user_version")"
after=$(views "$A")
expect_eq "every analyst view returns the same rows as before" "$before" "$after"
expect_eq "no schema-1 table is left" "" "$(sqlite3 "$A" "SELECT name FROM sqlite_master WHERE name LIKE 'v1%'")"
expect_eq "digests are stored as 32 bytes" "32|32|32" \
	"$(sqlite3 "$A" "SELECT DISTINCT length(core_digest) || '|' || length(personal_digest) || '|' || length(hash) FROM events")"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/a.ini" verify); rc=$?
expect_eq "verify passes after the migration" 0 "$rc"
expect_match "verify: the same rows and the same chain head" \
	"OK: 14 rows verified \(2 redacted, 3 pruned by retention\), chain head $head" "$out"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/a.ini" migrate 2>&1); rc=$?
expect_eq "migrating again changes nothing" "0|$after" "$rc|$(views "$A")"
# schema 3 -> 4 adds the erasure notices' kind and the recipients, and
# says since when recipients are recorded (a file with a history)
v4_undo="DROP TABLE recipients; DROP VIEW outbox; DROP INDEX outbox_notices; ALTER TABLE outbox_rows DROP COLUMN kind;
	DELETE FROM meta WHERE key = 'recipients_since_ms'"
sqlite3 "$A" "$v4_undo; PRAGMA user_version = 3"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/a.ini" migrate 2>&1); rc=$?
expect_eq "a schema-3 file becomes schema 4, its views unchanged" "0|4|$after" \
	"$rc|$(sqlite3 "$A" "PRAGMA user_version")|$(views "$A")"
expect_eq "with the recipients, recorded from now on" "1|1" \
	"$(sqlite3 "$A" "SELECT count(*) FROM sqlite_master WHERE name = 'recipients';
		SELECT count(*) FROM meta WHERE key = 'recipients_since_ms' AND value > 1700000000000" | tr '\n' '|' | sed 's/|$//')"
expect_eq "the outbox view tells notices apart: the old rows are events" "event" "$(sqlite3 "$A" "SELECT DISTINCT kind FROM outbox")"
sqlite3 "$A" "INSERT INTO outbox(destination, purpose, mode, payload, created_at)
	VALUES('hook', 'statistics', 'full', '{\"erasure\":{}}', '2026-01-01T00:00:00.000Z')"
expect_eq "and a notice queued by hand is one" "erasure" \
	"$(sqlite3 "$A" "SELECT kind FROM outbox ORDER BY id DESC LIMIT 1; DELETE FROM outbox_rows WHERE kind = 1")"
# schema 2 -> 3 adds the signing keys and signed heads, nothing else
sqlite3 "$A" "DROP TABLE signing_keys; DROP TABLE chain_heads; DROP TABLE shown; DROP TABLE shown_files; DROP TABLE artefacts;
	$v4_undo; PRAGMA user_version = 2"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/a.ini" migrate 2>&1); rc=$?
expect_eq "a schema-2 file becomes schema 4, its views unchanged" "0|4|$after" \
	"$rc|$(sqlite3 "$A" "PRAGMA user_version")|$(views "$A")"
expect_eq "with the proof tables" "chain_heads signing_keys" \
	"$(sqlite3 "$A" "SELECT name FROM sqlite_master WHERE name IN ('signing_keys', 'chain_heads') ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"

echo "# the daemon migrates at start-up; schema-1 consent IDs keep working"
export CG_DB_PATH="$CG_DIR/b.db"
v1db "$CG_DB_PATH"
stack_start || exit 1
expect_eq "the daemon migrated the file" 4 "$(sql "PRAGMA user_version")"
expect_match "and logged it" "migrated from schema 1 to 2" "$(cat "$CG_DIR/daemon.log")"
state() { curl -s -H "Cookie: cg_id=$1" "$CG_URL/consent"; }
expect_match "accept-all visitor's state" '"preferences":true,"statistics":true,"marketing":true' "$(state "$(cookie all)")"
expect_match "refusing visitor's state" '"preferences":false,"statistics":false,"marketing":false' "$(state "$(cookie none)")"
expect_match "the objection is still in force" '"objections":\["marketing"\]' "$(state "$(cookie objector)")"
expect_match "the withdrawal is still in force" '"statistics":false' "$(state "$(cookie withdrawer)")"
C=$(cookie custom)
hdr=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "Cookie: cg_id=$C" \
	--data '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r')
expect_match "a schema-1 visitor keeps their consent ID" "Set-Cookie: cg_id=$C;" "$hdr"
expect_eq "their new choice joins their old rows" "choice:1,0,1 choice:0,0,0" \
	"$(sql "SELECT group_concat(action || ':' || preferences || ',' || statistics || ',' || marketing, ' ') FROM (SELECT * FROM consent_events WHERE subject = '$(subject_of "$C")' ORDER BY id)")"
out=$(curl -s -H "Cookie: cg_id=$C" "$CG_URL/consent/export")
expect_match "export finds both rows" '"events":\[\{"id":6,.*\{"id":15,' "$out"
N=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	--data '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
expect_match "a new visitor gets a schema-2 ID" '^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}$' "$N"
expect_eq "stored under its subject key" 1 "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$(subject_of "$N")'")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "the chain continues across the migration" 0 "$rc"
expect_match "verify counts the new rows" "OK: 16 rows verified" "$out"

cg_summary
