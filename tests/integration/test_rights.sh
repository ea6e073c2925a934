#!/usr/bin/env bash
# Data-subject rights and analyst tooling through the real nginx and daemon:
# export and erase over HTTP (also while events are queued for a dead
# destination), and every consentctl subcommand against the database the
# running daemon produced; purge with a clock set from the command line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

cleanup() { cg_stop_sink; stack_stop; }
trap cleanup EXIT
cg_start_sink || exit 1
DEAD_PORT=$(cg_free_port) # nothing listens there
export CG_INI_EXTRA="
[report]
min_visitors = 2

[forwarder]
retry_cap_seconds = 1
timeout_ms = 1000

[destination.down]
type = webhook
url = http://127.0.0.1:$DEAD_PORT/never
purpose = statistics
basis = consent

[destination.hook]
type = webhook
url = http://127.0.0.1:$SINK_PORT/hook
purpose = statistics
basis = consent

[destination.ga]
type = ga4
url = http://127.0.0.1:$SINK_PORT/mp/collect
measurement_id = G-RIGHTS
api_secret = s3cret
purpose = statistics
basis = consent
property_id = 123456789
deletion_url = http://127.0.0.1:$SINK_PORT/userDeletion/userDeletionRequests:upsert
deletion_token_file = $SINK_DIR/ga-token
"
printf 'ya29.test-token\n' >"$SINK_DIR/ga-token"
stack_start || exit 1
CTL() { "$CG_BUILD/consentctl" -c "$CG_INI" "$@"; }
choose() { # IP LANG P S M -> id
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "X-Forwarded-For: $1" \
		--data "{\"choices\":{\"preferences\":$3,\"statistics\":$4,\"marketing\":$5},\"policy_version\":\"2023-12\",\"lang\":\"$2\",\"page\":\"https://shop.example/x?q=1\"}" \
		"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p'
}

A=$(choose 203.0.113.10 nb true true false)
B=$(choose 198.51.100.10 sv true true true)
C=$(choose 203.0.113.11 nb false false false)
D=$(choose 203.0.113.12 nb true true true)
curl -s -o /dev/null -X DELETE -H "Cookie: cg_id=$D" "$CG_URL/consent"
SA=$(subject_of "$A"); SB=$(subject_of "$B")
for id in "$A" "$B"; do
	# A's events carry a marker that must be gone from every file after A's erasure
	curl -s -o /dev/null -H 'Content-Type: text/plain' -H "Cookie: cg_id=$id" \
		--data "{\"events\":[{\"name\":\"page_view\",\"params\":{\"page_title\":\"T-${id: -6}\",\"page_location\":\"https://shop.example/p?erasemark=$([ "$id" = "$A" ] && echo A7Qz || echo B)\"}}]}" "$CG_URL/collect"
done
cg_wait_for 10 sql_ge 2 "SELECT count(*) FROM outbox WHERE destination = 'down' AND attempts >= 1"
cg_wait_for 10 sql_ge 2 "SELECT count(*) FROM outbox WHERE destination = 'hook' AND state = 'delivered'"
A_ROWS=$(sql "SELECT group_concat(id) FROM outbox WHERE subject = '$SA'")

echo "# GET /consent/export"
out=$(curl -s -D "$CG_DIR/h" -H "Cookie: cg_id=$A" "$CG_URL/consent/export")
expect_match "export: 200 with no-store" 'HTTP/1.1 200.*Cache-Control: no-store' "$(tr -d '\r' <"$CG_DIR/h" | tr '\n' ' ')"
expect_match "export: every event" '"events":\[\{"id":[0-9]+,"recorded_at":"[^"]+","action":"choice"' "$out"
expect_match "export: purposes with recipients and legal basis" '"purpose":"statistics".*"recipients":\[\{"name":"down".*"lawful_basis":"consent \(GDPR Art. 6\(1\)\(a\)\)"' "$out"
expect_match "export: retention periods" '"retention":\{"consent_validity":"P365D"' "$out"
expect_match "export: the controller's contact" '"contact":"personvern@shop.example"' "$out"
expect_match "export: receipt (Kantara/ISO 27560 names)" '"receipt":\{.*"consentReceiptID":"[0-9a-f]{64}".*"piiPrincipalId":"'"$SA"'"' "$out"
expect_match "export: stored page has no query" '"page":"https://shop.example/x"' "$out"
n1=$(curl -s -w '%{http_code}' "$CG_URL/consent/export")
n2=$(curl -s -w '%{http_code}' -H 'Cookie: cg_id=bogus' "$CG_URL/consent/export")
n3=$(curl -s -w '%{http_code}' -H 'Cookie: cg_id=AAAAAAAAAAAAAAAAAAAAAA' "$CG_URL/consent/export")
expect_match "no record → 404 no_record" '"error":"no_record".*404$' "$n1"
expect_eq "one uniform 404 for every case without a record" "$n1$n1" "$n2$n3"

echo "# POST /consent/erase while events are queued for a dead destination"
cg_wait_for 10 sql_ge 2 "SELECT count(*) FROM outbox WHERE destination = 'ga' AND state = 'delivered'"
# the pseudonyms A's events reached the recipients under
cid_of() { # PATH-PREFIX: the client_id of A's delivered event there
	python3 - "$SINK_REC" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith(sys.argv[2]) and "erasemark=A7Qz" in r["body"]:
        b = json.loads(r["body"])
        print((b[0] if isinstance(b, list) else b)["client_id"]); break
PY
}
CID_HOOK=$(cid_of /hook) CID_GA=$(cid_of /mp/collect)
sink_mode 500   # the first notices fail: they are retried like deliveries
# (PostgreSQL: how often its tables have been vacuumed so far)
vacuums() { sql "SELECT coalesce(sum(vacuum_count), 0) FROM pg_stat_user_tables WHERE relname IN ('events', 'outbox_rows')"; }
[ "$CG_BACKEND" = postgresql ] && vacuums_before=$(vacuums)
expect_eq "A's event is queued for the dead destination" 1 "$(sql "SELECT count(*) FROM outbox WHERE subject = '$SA' AND destination = 'down' AND state = 'pending'")"
out=$(curl -s -D "$CG_DIR/h" -X POST -H "Cookie: cg_id=$A" -H 'X-Forwarded-For: 203.0.113.10' "$CG_URL/consent/erase")
hdr=$(tr -d '\r' <"$CG_DIR/h")
expect_match "erase: 200" '"erased":true' "$out"
expect_match "erase: the recipients told are those that acknowledged A's events (hook, ga; not down)" \
	'"recipients_notified":2}$' "$out"
expect_match "erase: id cookie cleared" 'Set-Cookie: cg_id=; Max-Age=0; Path=/' "$hdr"
expect_match "erase: state cookie cleared" 'Set-Cookie: cg_state=; Max-Age=0; Path=/' "$hdr"
expect_eq "erase: personal fields gone from every event" "0" "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$SA' AND (ip_prefix IS NOT NULL OR country IS NOT NULL OR page IS NOT NULL OR lang IS NOT NULL OR gpc IS NOT NULL OR salt IS NOT NULL)")"
expect_eq "erase: a non-personal tombstone" "erase|||" "$(sql "SELECT action || '|' || coalesce(ip_prefix,'') || '|' || coalesce(CAST(preferences AS TEXT),'') || '|' || coalesce(policy_version,'') FROM consent_events WHERE subject = '$SA' ORDER BY id DESC LIMIT 1")"
expect_eq "erase: queued events dropped" "dropped|erased before delivery" "$(sql "SELECT DISTINCT state || '|' || last_error FROM outbox WHERE id IN ($A_ROWS) AND destination = 'down'")"
expect_eq "erase: delivered rows keep their state, lose the rest" "delivered|erased" "$(sql "SELECT DISTINCT state || '|' || last_error FROM outbox WHERE id IN ($A_ROWS) AND destination = 'hook'")"
expect_eq "erase: no outbox row keeps the subject or a payload" "0|0" "$(sql "SELECT count(*) FILTER (WHERE subject IS NOT NULL), count(*) FILTER (WHERE payload <> '') FROM outbox WHERE id IN ($A_ROWS)")"
expect_eq "erase: no outbox row of A is left with its subject" 0 "$(sql "SELECT count(*) FROM outbox WHERE subject = '$SA'")"
echo "# the erasure reaches the recipients (Art. 17(2), 19)"
notices() { sql "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination = '$1' AND state = '$2' AND attempts >= $3"; }
cg_wait_for 20 sql_ge 1 "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination = 'hook' AND attempts >= 1"
expect_eq "a notice per recipient that received A's pseudonym (not down: it never did), none tied to A" "ga|1 hook|1" \
	"$(sql "SELECT destination || '|' || count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND subject IS NULL GROUP BY destination ORDER BY destination" | tr '\n' ' ' | sed 's/ $//')"
sink_mode ok
cg_wait_for 20 sql_ge 1 "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination = 'ga' AND state = 'delivered'"
cg_wait_for 20 sql_ge 1 "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination = 'hook' AND state = 'delivered'"
expect_eq "after a failed attempt both were retried and delivered" "1 1" "$(notices hook delivered 2) $(notices ga delivered 2)"
hook_notice=$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/hook" and r["mode"] == "ok" and "\"erasure\"" in r["body"]: print(r["body"]); break' "$SINK_REC")
expect_match "the webhook got an erasure notice naming the pseudonym A's events had there" \
	"^\\[\\{\"type\":\"erasure\",\"destination\":\"hook\",\"client_id\":\"$CID_HOOK\"" "$hook_notice"
ga_req=$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"].startswith("/userDeletion") and r["mode"] == "ok": print(r["headers"].get("authorization"), r["body"]); break' "$SINK_REC")
expect_eq "GA4's User Deletion API: A's client_id there, the property, the operator's token" \
	"Bearer ya29.test-token {\"kind\":\"analytics#userDeletionRequest\",\"id\":{\"type\":\"CLIENT_ID\",\"userId\":\"$CID_GA\"},\"propertyId\":\"123456789\"}" "$ga_req"
expect_eq "no notice where A's events never arrived" 0 \
	"$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination = 'down'")"

if [ "$CG_BACKEND" = sqlite ]; then
	# within one checkpoint interval (1 s) the WAL is emptied: old frames held
	# the erased values; free pages are zeroed (secure_delete)
	gone() { ! grep -aqF -e erasemark=A7Qz -e "T-${A: -6}" "$CG_DB" "$CG_DB-wal" 2>/dev/null; }
	cg_wait_for 3 gone
	expect_eq "erase: A's marker is in neither the database nor the WAL" "" \
		"$(grep -aloF -e erasemark=A7Qz -e "T-${A: -6}" "$CG_DB" "$CG_DB-wal" 2>/dev/null | sort -u | tr '\n' ' ')"
	expect_ge "erase: B's marker is still stored (the search would find one)" 1 "$(grep -acF erasemark=B "$CG_DB" "$CG_DB-wal" 2>/dev/null | awk -F: '{s += $NF} END {print s + 0}')"
else
	# PostgreSQL keeps the old version of an updated row until VACUUM, which
	# the daemon runs right after an erasure: then no row version, live or
	# dead, of the tables holds A's values (pageinspect reads the pages as
	# the server does). docs/postgresql.md#erasure-on-postgresql says what
	# remains: free space not yet overwritten, WAL segments not yet
	# recycled, backups.
	sql "CREATE EXTENSION IF NOT EXISTS pageinspect" >/dev/null
	versions_with() { sql "SELECT count(*) FROM (VALUES ('events'), ('outbox_rows')) r(rel),
		generate_series(0, (pg_relation_size(r.rel) / 8192)::int - 1) AS blk,
		LATERAL heap_page_items(get_raw_page(r.rel, blk)) h
		WHERE h.t_data IS NOT NULL AND position(convert_to('$1', 'UTF8') IN h.t_data) > 0"; }
	# (PostgreSQL may also prune a nearly full page on its own: the VACUUM
	# is what makes it so for every page)
	vacuumed() { [ "$(vacuums)" -ge $((vacuums_before + 2)) ]; }
	cg_wait_for 10 vacuumed
	expect_ge "erase: the daemon vacuumed both tables after the erasure (vacuum runs)" $((vacuums_before + 2)) "$(vacuums)"
	gone() { [ "$(versions_with erasemark=A7Qz)" = 0 ] && [ "$(versions_with "T-${A: -6}")" = 0 ]; }
	cg_wait_for 10 gone
	expect_eq "erase: no row version (live or dead) holds A's marker after the VACUUM" "0|0" \
		"$(versions_with erasemark=A7Qz)|$(versions_with "T-${A: -6}")"
	expect_ge "erase: B's marker is still stored (the search would find one)" 1 "$(versions_with erasemark=B)"
fi
expect_eq "another visitor's queue untouched" 1 "$(sql "SELECT count(*) FROM outbox WHERE subject = '$SB' AND destination = 'down' AND state = 'pending'")"
out=$(CTL verify); expect_eq "chain verifies after erasure" 0 $?
expect_match "verify counts redacted rows" 'redacted' "$out"
expect_eq "erase without a record: 200, nothing to erase" '{"erased":false,"detail":"there was nothing to erase","recipients_notified":0}' "$(curl -s -X POST "$CG_URL/consent/erase")"
expect_eq "cross-site erase refused" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Sec-Fetch-Site: cross-site' -H "Cookie: cg_id=$B" "$CG_URL/consent/erase")"
# a client that still sends the erased ID (the erasure's Set-Cookie
# ignored) gets a new one: under A's its choice would join A's erased
# record and the destinations would get the pseudonym they were told to erase
again=$(curl -s -D - -o /dev/null -H "Cookie: cg_id=$A" -H 'Content-Type: application/json' \
	--data '{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
expect_match "a choice sent with the erased ID: recorded under a new one" '^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}$' "$again"
expect_eq "... not A's (was: $again)" 1 "$([ "$again" != "$A" ] && echo 1)"
expect_eq "A's record still ends with its tombstone" erase \
	"$(sql "SELECT action FROM consent_events WHERE subject = '$SA' ORDER BY id DESC LIMIT 1")"
expect_match "GET /consent with the erased ID: no ID present" '"consent_id_present":false' \
	"$(curl -s -H "Cookie: cg_id=$A" "$CG_URL/consent")"

echo "# consentctl"
for c in report export receipt erase verify purge outbox; do
	CTL "$c" --help >/dev/null; expect_eq "consentctl $c --help" 0 $?
done
CTL receipt --help | grep -q 'Kantara'; expect_eq "receipt --help explains itself" 0 $?
out=$("$CG_BUILD/consentctl" --version); expect_match "consentctl --version" '^consentctl [0-9]+\.[0-9]+' "$out"
out=$("$CG_BUILD/consentctl" verify -c "$CG_INI"); expect_eq "-c FILE after the subcommand" 0 $?
out=$(CTL outbox --format xml 2>&1); rc=$?
expect_eq "--format xml: exit 2" 2 "$rc"
expect_eq "--format names the allowed values" "consentctl outbox: --format: 'xml' is not one of table, csv, json" "$out"
out=$(CTL outbox frobnicate 2>&1); rc=$?
expect_eq "outbox frobnicate: exit 2 and says why" "2 consentctl outbox: 'frobnicate' is not one of summary, dead, retry, drop" "$rc $out"
out=$(CTL verify --format json 2>&1); expect_match "an option the subcommand does not take is named" '--format is not an option of verify \(it takes: --database, --head, --min-retention-days\)' "$out"
out=$(CTL frob 2>&1); expect_match "unknown subcommand named" "'frob' is not a subcommand" "$out"
out=$(CTL outbox --format json); expect_match "JSON counts are numbers" '"rows": [0-9]+' "$out"
out=$(CTL outbox)
expect_eq "table columns line up (the state column starts at the same place in every line)" 1 \
	"$(awk '{print index($0, $2)}' <<<"$out" | sort -u | wc -l)"
out=$(CTL export --consent-id "$B"); expect_match "export --consent-id" '"subject": "'"$SB"'"' "$out"
out=$(CTL receipt --consent-id "$B"); expect_match "receipt --consent-id" '"version": "KI-CR-v1.1.0"' "$out"
CTL export --consent-id AAAAAAAAAAAAAAAAAAAAAA >/dev/null 2>&1; expect_eq "export of an unknown id exits 3" 3 $?
CTL export --consent-id nope >/dev/null 2>&1; expect_eq "export of a malformed id exits 2" 2 $?
out=$(CTL report --k 1 --format csv)
expect_match "report csv: header" '^day,country,policy_version,lang,visitors,accept_all' "$out"
expect_match "report csv: a Swedish accept-all" "$(date -u +%F),SE,2023-12,sv,1,1,0,0,0,1,1.0000,1.0000,1.0000,0" "$out"
out=$(CTL report --format csv)
expect_match "report: cells under k=2 suppressed" "$(date -u +%F),SE,2023-12,sv,,,,,,,,,,1" "$out"
expect_match "report: cells at k shown" "$(date -u +%F),DK,2023-12,nb,[2-9]," "$out"
out=$(CTL report --by month --format json --k 1); expect_match "report by month, json" '"period":"month".*"period":"[0-9]{4}-[0-9]{2}"' "$out"
out=$(CTL report --by week --k 1); expect_match "report by week, table" '^week +country' "$out"
CTL report --format html --k 1 --output "$CG_DIR/report.html"; expect_eq "report html written" 0 $?
expect_match "report html: charts, offline" '<svg role="img".*Grant rate per category' "$(cat "$CG_DIR/report.html")"
expect_eq "report html loads nothing" "" "$(grep -oE '(src|href)="http' "$CG_DIR/report.html")"
html=$(cat "$CG_DIR/report.html")
expect_match "report html: a single day is drawn as points" '<circle cx="[0-9.]+" cy="[0-9.]+" r="4"' "$html"
expect_match "report html: the heading names the site and the period" "<h1>.*test\.example.*$(date -u -d '-30 days' +%F).*$(date -u +%F).*</h1>" "$html"
expect_no_match "report html: no 'fewer than 1 distinct visitors'" 'fewer than 1 distinct' "$html"
expect_match "report html: cells do not wrap" 'white-space:nowrap' "$html"
cp "$CG_DIR/report.html" "$CG_BUILD/consent-report.html" 2>/dev/null

echo "# consentctl erase while the daemon writes"
out=$(CTL erase --consent-id "$B"); expect_match "erase --consent-id" 'erased: .*tombstone' "$out"
# re-applying an erasure by subject key (after a restore from an older backup)
R=$(choose 192.0.2.49 nb true true false)
SR=$(subject_of "$R")
out=$(CTL erase --subject "$SR"); expect_match "erase --subject" 'erased: .*tombstone' "$out"
expect_eq "erase --subject: the visitor's rows redacted, a tombstone" "erase|0" \
	"$(sql "SELECT max(action), count(ip_prefix) FROM consent_events WHERE subject = '$SR'")"
out=$(CTL erase --subject "$SR"); expect_match "erase --subject again: nothing to erase" 'already erased' "$out"
out=$(CTL erase --subject nothex 2>&1); expect_eq "erase --subject checks the key" 2 $?
out=$(CTL erase --subject "$SR" --consent-id "$R" 2>&1); expect_match "one or the other" 'not both' "$out"
E=$(choose 192.0.2.50 en true false false)
expect_match "the daemon keeps recording after a CLI write" '^[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}$' "$E"
out=$(CTL verify); expect_eq "chain verifies with CLI and daemon rows interleaved" 0 $?

echo "# consentctl outbox"
# the CLI's erasures queued notices too: delivered before the sink refuses
cg_wait_for 20 sql_eq 0 "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination <> 'down' AND state = 'pending'"
expect_ge "consentctl erase passes the erasure on as well" 4 \
	"$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '{\"erasure\":%' AND destination <> 'down' AND state = 'delivered'")"
sink_mode 400
F=$(choose 192.0.2.51 nb false true false)
curl -s -o /dev/null -H 'Content-Type: text/plain' -H "Cookie: cg_id=$F" --data '{"events":[{"name":"x"}]}' "$CG_URL/collect"
cg_wait_for 10 sql_ge 1 "SELECT count(*) FROM outbox WHERE state = 'dead'"
out=$(CTL outbox); expect_match "outbox summary" 'hook +event +dead +1' "$out"
out=$(CTL outbox dead --format json); expect_match "outbox dead letters with their error" '"last_error": "HTTP 400' "$out"
dead_id=$(sql "SELECT id FROM outbox WHERE state = 'dead' LIMIT 1")
sink_mode ok
out=$(CTL outbox retry "$dead_id"); expect_eq "outbox retry" "1 row(s) queued again" "$out"
cg_wait_for 10 sql_eq delivered "SELECT state FROM outbox WHERE id = $dead_id"
expect_eq "a retried dead letter is delivered" delivered "$(sql "SELECT state FROM outbox WHERE id = $dead_id")"
down_id=$(sql "SELECT id FROM outbox WHERE destination = 'down' AND state = 'pending' AND payload NOT LIKE '{\"erasure\":%' LIMIT 1")
out=$(CTL outbox drop "$down_id"); expect_eq "outbox drop" "1 row(s) dropped" "$out"
out=$(CTL outbox csv 2>&1); expect_eq "outbox with a bad action exits 2" 2 $?

echo "# consentctl purge, time passing (a purge is recorded in the chain with its time)"
before=$(sql "SELECT count(*) FROM consent_events")
out=$(CTL purge --dry-run --now "$(date -u -d '+800 days' +%Y-%m-%dT%H:%M:%S.000Z)")
expect_match "dry run counts the prefixes to clear" 'ip prefixes cleared.*: +[1-9]' "$out"
expect_eq "dry run changes nothing" "$before|0" "$(sql "SELECT count(*), sum(CASE WHEN ip_prefix IS NULL AND salt IS NOT NULL THEN 1 ELSE 0 END) FROM consent_events")"
out=$(CTL purge --now "$(date -u -d '+800 days' +%Y-%m-%dT%H:%M:%S.000Z)" 2>&1); rc=$?
expect_match "a purge dated later than now is refused (only a dry run may look ahead)" "^2 .*later than now" "$rc $out"
expect_eq "nothing cleared yet" 0 "$(sql "SELECT count(*) FROM consent_events WHERE ip_prefix IS NULL AND action = 'choice' AND subject NOT IN ('$SA', '$SB', '$SR')")"
out=$(cg_at +800d "$CG_BUILD/consentctl" -c "$CG_INI" purge)
expect_eq "after 730 days: every IP prefix cleared" 0 "$(sql "SELECT count(*) FROM consent_events WHERE ip_prefix IS NOT NULL")"
expect_eq "... each kept as its digest, with the row's personal salt" 0 \
	"$(sql "SELECT count(*) FROM consent_events WHERE action = 'choice' AND subject NOT IN ('$SA', '$SB', '$SR') AND (ip_digest IS NULL OR salt IS NULL)")"
expect_eq "after 730 days: the events themselves kept" "$before" "$(sql "SELECT count(*) FROM consent_events")"
out=$(CTL verify); expect_eq "chain verifies after clearing prefixes" 0 $?
out=$(cg_at +1300d "$CG_BUILD/consentctl" -c "$CG_INI" purge)
expect_match "withdrawn/erased subjects pruned after events_days_after_end" 'subjects whose records ended.*: +[1-9]' "$out"
expect_eq "D (withdrawn) pruned" 0 "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$(subject_of "$D")'")"
expect_eq "E (consent still running then) kept" 1 "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$(subject_of "$E")'")"
expect_eq "links of pruned rows kept" 1 "$(sql "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM consent_pruned")"
expect_match "the purge is in the chain: the retention in force, the rows it removed" \
	"^purge\|purge;ip_prefix_days=730;events_days_after_end=1095;consent_max_age_days=365;refusal_max_age_days=180;rows=$(sql "SELECT count(*) FROM consent_pruned WHERE row_format = 2");ids=[0-9a-f]{64}\$" \
	"$(sql "SELECT kind, record FROM consent_log WHERE kind = 'purge'")"
out=$(cg_at +1300d "$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "chain verifies across pruned rows" 0 "$rc"
expect_match "verify counts pruned links" 'pruned by retention' "$out"
out=$(CTL verify 2>&1); rc=$?
expect_match "... but not by a clock before the purge's time" "^1 .*in the future" "$rc $out"
expect_eq "old delivered outbox rows deleted" 0 "$(sql "SELECT count(*) FROM outbox WHERE state = 'delivered'")"
cg_stop_daemon
CG_DAEMON_AT=+1300d cg_start_daemon || exit 1
G=$(choose 192.0.2.52 nb true true true)
out=$(cg_at +1300d "$CG_BUILD/consentctl" -c "$CG_INI" verify); expect_eq "the daemon continues the chain after a prune" 0 $?

cg_stop_daemon
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
