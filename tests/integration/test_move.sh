#!/usr/bin/env bash
# consentctl migrate --to: an SQLite log (tests/fixtures/v1.sql: choices, a
# withdrawal, an objection, an erasure, pruned rows, pending outbox rows)
# moved into an empty PostgreSQL database: verify passes on both with the
# same head, the analyst views return the same rows, the visitors' consent
# IDs find their records through a daemon on the copy, a second run neither
# copies twice nor fails, the source takes no more writes, a non-empty
# target and a running daemon are refused, and a copy killed half-way
# leaves nothing behind and can be run again.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
fixtures="$here/../fixtures"
export CG_BACKEND=postgresql
trap 'kill "$mover" 2>/dev/null; stack_stop; for d in cg_move_other cg_move_big; do cg_pg_dropdb "$d"; done' EXIT
mover=

stack_start || exit 1
cookie() { sed -n "s/^$1=//p" "$fixtures/v1-cookies.txt"; }
# what an analyst reads, in the SQL both backends speak, explicit columns
VIEWS="SELECT id, subject, recorded_at, action, policy_version, preferences, statistics, marketing,
         objection_purpose, objections, choice_at, gpc, dnt, lang, banner, page, ip_prefix, country, salt,
         core_digest, personal_digest, prev_hash, hash FROM consent_events ORDER BY id;
       SELECT subject, last_event_id, recorded_at, action, policy_version, preferences, statistics, marketing,
         objections, choice_at, gpc, dnt, lang, country, expires_at, expired, stale_policy
         FROM consent_current ORDER BY last_event_id;
       SELECT day, country, policy_version, lang, outcome, n FROM consent_daily
         ORDER BY day, coalesce(country, ''), policy_version, coalesce(lang, ''), outcome;
       SELECT id, subject, destination, purpose, mode, payload, created_at, attempts, next_attempt_at, state,
         last_error, kind FROM outbox ORDER BY id;
       SELECT id, prev_hash, hash, core_digest, personal_digest, pruned_at FROM consent_pruned ORDER BY id;"
sqlite_views() { sqlite3 -batch -noheader "$1" "$VIEWS"; }
pg_views() { psql -X -q -At -F '|' -v ON_ERROR_STOP=1 "$1" -c "$VIEWS" | tr -d '\r'; }
ini() { # NAME DATABASE-LINE... : a configuration for consentctl
	local f="$CG_DIR/$1.ini"; shift
	printf '[server]\nsite = test.example\nlisten = %s\n[policy]\nversion = 2023-12\n[storage]\n' \
		"$CG_DIR/none.sock" >"$f"
	printf '%s\n' "$@" >>"$f"
	echo "$f"
}

echo "# the move"
SRC="$CG_DIR/src.db"
sqlite3 "$SRC" <"$fixtures/v1.sql" && sqlite3 "$SRC" "PRAGMA user_version = 1"
A=$(ini a "database = $SRC")
"$CG_BUILD/consentctl" -c "$A" migrate >/dev/null   # schema 2 first, to read the views as they are
# a public key and a signed head, as a daemon on the file would have left them
sqlite3 "$SRC" "INSERT INTO signing_keys VALUES('0123456789abcdef', zeroblob(32), 1000);
	INSERT INTO chain_heads(last_id, signed_ms, key_id, envelope, anchor) VALUES(14, 2000, '0123456789abcdef', '{\"signed\":1}', 'token')"
# leak reports, as the daemon would have written them
sqlite3 "$SRC" "INSERT INTO csp_leaks VALUES('2026-01-02', 'hotjar', '', 'script-src', '/shop', 3);
	INSERT INTO csp_leaks VALUES('2026-01-03', '', 'cdn.example.net', 'img-src', '', 1)"
# recipients of erasure notices, as deliveries would have recorded them
sqlite3 "$SRC" "INSERT INTO recipients(sid, destination) SELECT sid, 'hook' FROM subjects ORDER BY sid LIMIT 2"
recipients() { # HEX-EXPRESSION: each recipient as subject|destination
	echo "SELECT s || '|' || destination FROM (SELECT $1 AS s, r.destination
		FROM recipients r JOIN subjects s ON s.sid = r.sid) x ORDER BY 1"; }
recipients=$(sqlite3 "$SRC" "$(recipients 'lower(hex(s.digest))')")
since=$(sqlite3 "$SRC" "SELECT value FROM meta WHERE key = 'recipients_since_ms'")
before=$(sqlite_views "$SRC")
# the tip: the migration's format event, the last link
head=$(sqlite3 "$SRC" "SELECT hash FROM (SELECT id, hash FROM consent_events UNION ALL SELECT id, hash FROM consent_log) ORDER BY id DESC LIMIT 1")
pending=$(sqlite3 "$SRC" "SELECT count(*) FROM outbox WHERE state = 'pending'")
cg_stop_daemon # the move goes into a database no daemon uses yet
out=$("$CG_BUILD/consentctl" -c "$A" migrate --to "$CG_PG_URL" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
expect_eq "migrate --to exits 0" 0 "$rc"
expect_match "says what it copied" 'copied: 11 events, 3 pruned links, 1 log events, [1-9][0-9]* outbox rows and the client_id key' "$out"
expect_match "verifies the source" 'source \(SQLite\): +OK: 15 rows verified' "$out"
expect_match "verifies the target, same head" "target \\(PostgreSQL\\): OK: 15 rows verified \\(2 redacted, 3 pruned by retention\\), chain head $head" "$out"
P=$(ini p "backend = postgresql" "url = $CG_PG_URL")
out=$("$CG_BUILD/consentctl" -c "$P" verify); rc=$?
expect_eq "consentctl verify on the copy" "0" "$rc"
expect_match "the copy's chain head is the source's" "chain head $head" "$out"
after=$(pg_views "$CG_PG_URL")
expect_eq "every analyst view returns the same rows on the copy" "" "$(diff <(echo "$before") <(echo "$after"))"
expect_eq "the pending rows are the copy's now" "$pending" "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")"
expect_eq "the source's pending rows are not (none is sent from both)" "0" \
	"$(sqlite3 "$SRC" "SELECT count(*) FROM outbox WHERE state = 'pending'")"
expect_eq "the client_id key came along" "$(sqlite3 "$SRC" "SELECT value FROM meta WHERE key = 'client_id_key'")" \
	"$(sql "SELECT encode(value, 'hex') FROM secrets WHERE name = 'client_id_key'")"

expect_eq "the recipients came along, and since when they are recorded" "$recipients|$since" \
	"$(sql "$(recipients "encode(s.digest, 'hex')")")|$(sql "SELECT value FROM meta WHERE key = 'recipients_since_ms'")"
expect_eq "the public keys came along (receipts signed before the move still verify)" "0123456789abcdef|1000" \
	"$(sql "SELECT key_id || '|' || created_ms FROM signing_keys WHERE key_id = '0123456789abcdef'")"
expect_eq "the signed heads and their anchors came along" "14|2000|token" \
	"$(sql "SELECT last_id || '|' || signed_ms || '|' || anchor FROM chain_heads WHERE key_id = '0123456789abcdef'")"
expect_eq "the leak reports came along" "2026-01-02|hotjar||script-src|/shop|3 2026-01-03||cdn.example.net|img-src||1" \
	"$(sql "SELECT day || '|' || vendor || '|' || host || '|' || directive || '|' || path || '|' || count FROM csp_leaks ORDER BY day" | tr '\n' ' ' | sed 's/ $//')"

echo "# afterwards"
out=$("$CG_BUILD/consentctl" -c "$A" migrate --to "$CG_PG_URL" 2>&1); rc=$?
expect_eq "running it again on the moved file: refused (exit 1)" 1 "$rc"
expect_match "running it again: says the file was moved" 'was moved to PostgreSQL' "$out"
out=$(sqlite3 "$SRC" "INSERT INTO outbox_rows(destination, purpose, mode, payload, created_ms, next_ms) VALUES('x', 1, 1, '{}', 0, 0)" 2>&1)
expect_match "the source refuses writes" 'moved' "$out"
# a run that died after the copy committed and before the file was sealed:
# the file as it was then (unsealed, its rows pending), the copy complete
sqlite3 "$SRC" "DELETE FROM meta WHERE key = 'moved_to'; DROP TRIGGER moved_events; DROP TRIGGER moved_outbox_insert;
	DROP TRIGGER moved_outbox_update; UPDATE outbox_rows SET state = 0, last_error = NULL WHERE last_error = 'moved to another store'"
out=$("$CG_BUILD/consentctl" -c "$A" migrate --to "$CG_PG_URL" 2>&1); rc=$?
expect_eq "resuming after a copy that committed: exit 0" 0 "$rc"
expect_match "resuming: recognises the finished copy and seals the source" 'already holds this log \(a finished copy\); the source is sealed now' "$out"
expect_eq "resuming: nothing copied twice" "" "$(diff <(echo "$after") <(pg_views "$CG_PG_URL"))"
expect_eq "resuming: the source's rows are no longer pending" 0 "$(sqlite3 "$SRC" "SELECT count(*) FROM outbox WHERE state = 'pending'")"
sed -e "s#^backend = postgresql#database = $SRC#" -e '/^url = /d' "$CG_INI" >"$CG_DIR/old.ini"
out=$("$CG_BUILD/consentgated" -c "$CG_DIR/old.ini" 2>&1); rc=$?
expect_eq "a daemon on the old file does not start" 1 "$rc"
expect_match "and says where the log went" 'moved to PostgreSQL by consentctl migrate --to' "$out"

echo "# the visitors keep their records through a daemon on the copy"
cg_start_daemon || exit 1
state() { curl -s -H "Cookie: cg_id=$1" "$CG_URL/consent"; }
expect_match "accept-all visitor's state" '"preferences":true,"statistics":true,"marketing":true' "$(state "$(cookie all)")"
expect_match "the objection is still in force" '"objections":\["marketing"\]' "$(state "$(cookie objector)")"
expect_match "the withdrawal is still in force" '"statistics":false' "$(state "$(cookie withdrawer)")"
expect_match "export finds the schema-1 visitor's rows" '"events":\[\{"id":6,' \
	"$(curl -s -H "Cookie: cg_id=$(cookie custom)" "$CG_URL/consent/export")"
curl -s -o /dev/null -H 'Content-Type: application/json' -H "Cookie: cg_id=$(cookie custom)" \
	--data '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"}' "$CG_URL/consent"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "the chain continues on PostgreSQL" 0 "$rc"
expect_match "one row more" 'OK: 16 rows verified' "$out"
expect_eq "... of row format 2, the moved rows of format 1" "1 14|2 16" \
	"$(sql "SELECT row_format, max(id) FROM consent_events GROUP BY row_format ORDER BY 1" | tr '\n|' '| ' | sed 's/|$//')"

echo "# refusals"
OTHER=$(cg_pg_createdb cg_move_other)
pgsql cg_move_other "CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL)" >/dev/null
FRESH="$CG_DIR/fresh.db"
sqlite3 "$FRESH" <"$fixtures/v1.sql" && sqlite3 "$FRESH" "PRAGMA user_version = 1"
F=$(ini f "database = $FRESH")
out=$("$CG_BUILD/consentctl" -c "$F" migrate --to "$OTHER" 2>&1); rc=$?
expect_eq "a database with foreign tables: exit 1" 1 "$rc"
expect_match "names why" 'not consentgate' "$out"
out=$("$CG_BUILD/consentctl" -c "$F" migrate --to "$CG_PG_URL" 2>&1); rc=$?
expect_eq "a target holding another log: exit 1" 1 "$rc"
expect_match "names both logs" 'already holds a log \(16 rows, head id 16\) that is not this source' "$out"
expect_eq "the refused source still takes writes" "" "$(sqlite3 "$FRESH" "SELECT value FROM meta WHERE key = 'moved_to'")"
sed -e "s#^database = $SRC\$#database = $FRESH#" -e "s#^listen = .*#listen = $CG_DIR/fresh.sock#" "$CG_DIR/old.ini" >"$CG_DIR/fresh.ini"
"$CG_BUILD/consentgated" -c "$CG_DIR/fresh.ini" 2>>"$CG_DIR/fresh.log" &
fresh=$!
cg_wait_for 10 test -S "$CG_DIR/fresh.sock"
out=$("$CG_BUILD/consentctl" -c "$CG_DIR/fresh.ini" migrate --to "$OTHER" 2>&1); rc=$?
kill "$fresh"; wait "$fresh"
expect_eq "a daemon serving the source: exit 1" 1 "$rc"
expect_match "says to stop it" 'consentgated answers on .*fresh.sock: stop it first' "$out"

echo "# a copy killed half-way"
BIG="$CG_DIR/big.db"
# (ThreadSanitizer copies several times slower: a fifth of the rows still
# keeps the copy under way when it is killed, and the rerun within the timeout)
BIG_ROWS=150000
[ -n "${CG_TSAN:-}" ] && BIG_ROWS=30000
"$CG_BUILD/tests/bench_store" "$BIG" "$BIG_ROWS" >/dev/null || exit 1
B=$(ini big "database = $BIG")
BIGURL=$(cg_pg_createdb cg_move_big)
"$CG_BUILD/consentctl" -c "$B" migrate --to "$BIGURL" >"$CG_DIR/big.out" 2>&1 &
mover=$!
# killed once the copy is streaming rows in, however fast the machine
copying() { [ "$(pgsql cg_move_big "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY cg_imp%'")" -ge 1 ]; }
cg_wait_for 60 copying
expect_eq "the copy was under way" 0 $?
kill -KILL "$mover"; wait "$mover" 2>/dev/null; mover=
cg_wait_for 10 sql_eq 0 "SELECT count(*) FROM pg_stat_activity WHERE datname = 'cg_move_big' AND query LIKE 'COPY%'"
expect_eq "nothing of it is in the target" "0|0|0" \
	"$(pgsql cg_move_big "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM pruned), (SELECT count(*) FROM outbox_rows)")"
expect_eq "the source is not sealed" "" "$(sqlite3 "$BIG" "SELECT value FROM meta WHERE key = 'moved_to'")"
out=$("$CG_BUILD/consentctl" -c "$B" migrate --to "$BIGURL" 2>&1); rc=$?
expect_eq "run again: exit 0" 0 "$rc"
expect_match "run again: everything copied" "copied: $BIG_ROWS events" "$out"
expect_match "run again: same head on both" "target \\(PostgreSQL\\): OK: $BIG_ROWS rows verified" "$out"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
