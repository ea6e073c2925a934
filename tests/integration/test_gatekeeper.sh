#!/usr/bin/env bash
# The gatekeeper through the real nginx and consentgated, forwarding to local
# sink servers that record every request: decisions per destination, GA4
# payloads, minimisation, withdrawal while a sink is down, retries on 500 /
# 429 / hang / reset, dead letters on 4xx, the 72 h limit, auth_request on
# the first-party proxies, and no address or consent ID in what leaves.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

cleanup() { cg_stop_sink; stack_stop; }
trap cleanup EXIT
cg_start_sink || exit 1
REC=$SINK_REC

export CG_PORT=$(cg_free_port)
export CG_GA_UPSTREAM="http://127.0.0.1:$SINK_PORT/ga/"
export CG_HOTJAR_UPSTREAM="http://127.0.0.1:$SINK_PORT/hotjar/"
export CG_INI_EXTRA="
[forwarder]
retry_cap_seconds = 2
timeout_ms = 1500
concurrency = 8

[destination.ga4]
type = ga4
url = http://127.0.0.1:$CG_PORT/_ga/mp/collect
measurement_id = G-TEST123
api_secret = test-secret-xyz
purpose = statistics
basis = consent

[destination.hotjar]
type = webhook
url = http://127.0.0.1:$CG_PORT/_hotjar/events
purpose = statistics
basis = consent

[destination.audience]
type = webhook
url = http://127.0.0.1:$SINK_PORT/audience
purpose = statistics
basis = legitimate_interest
"
stack_start || exit 1

IP=203.0.113.77
# records whose body contains a marker, as "path" lines
arrived() { python3 - "$REC" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if sys.argv[2] in r["body"] and r["mode"] == "ok":
        print(r["path"].split("?")[0])
PY
}
choose() { # choose IP PREFS STATS MKT -> prints the id
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "X-Forwarded-For: $1" \
		--data "{\"choices\":{\"preferences\":$2,\"statistics\":$3,\"marketing\":$4},\"policy_version\":\"2023-12\"}" \
		"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p'
}
collect() { # collect MARKER [curl args] -> status
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain;charset=UTF-8' -H "X-Forwarded-For: $IP" \
		--data "{\"events\":[{\"name\":\"page_view\",\"params\":{\"page_title\":\"$1\",\"page_location\":\"https://shop.example/p?secret=1#f\",\"page_referrer\":\"https://ref.example/x\",\"engagement_time_msec\":100}}]}" \
		"${@:2}" "$CG_URL/collect"
}
wait_arrived() { cg_wait_for "${3:-10}" sh -c "[ \$(python3 - '$REC' '$1' <<'PY'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if sys.argv[2] in json.loads(l)['body'] and json.loads(l)['mode'] == 'ok'))
PY
) -ge $2 ]"; }

echo "# a consented visitor"
CONSENTED=$(choose "$IP" false true true)
expect_eq "POST /collect answers 204" 204 "$(collect M-CONSENTED -H "Cookie: cg_id=$CONSENTED")"
wait_arrived M-CONSENTED 3
expect_eq "delivered to ga4, hotjar and audience" "/audience /ga/mp/collect /hotjar/events" "$(arrived M-CONSENTED | sort | tr '\n' ' ' | sed 's/ $//')"
ga=$(python3 - "$REC" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "M-CONSENTED" in r["body"] and r["path"].startswith("/ga/mp/collect"):
        print(r["path"]); print(r["body"]); print(json.dumps(r["headers"]))
PY
)
expect_match "GA4 MP query carries the measurement id and secret" 'measurement_id=G-TEST123&api_secret=test-secret-xyz' "$ga"
expect_match "GA4 country from the lookup" '"user_location":\{"country_id":"DK"\}' "$ga"
expect_match "GA4 consent signals from the marketing choice" '"consent":\{"ad_user_data":"GRANTED","ad_personalization":"GRANTED"\}' "$ga"
expect_match "GA4 client_id" '"client_id":"[0-9]+\.[0-9]+"' "$ga"
cids=$(python3 - "$REC" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "M-CONSENTED" in r["body"] and r["mode"] == "ok":
        b = json.loads(r["body"])
        for p in (b if isinstance(b, list) else b.get("events") and [b] or b.get("batch", [b])):
            if isinstance(p, dict) and "client_id" in p:
                print(r["path"].split("?")[0], p["client_id"])
PY
)
echo "# client_ids: $(echo "$cids" | tr '\n' ' ')"
expect_eq "one pseudonym per vendor: three destinations, three distinct client_ids" 3 "$(echo "$cids" | awk '{print $2}' | sort -u | wc -l)"
expect_match "GA4 timestamp_micros" '"timestamp_micros":[0-9]{16}' "$ga"
expect_match "GA4 events as sent (full consent keeps the query)" '"page_location":"https://shop.example/p\?secret=1#f"' "$ga"
expect_no_match "no ip_override" 'ip_override' "$ga"
expect_no_match "no client address in what the vendor gets" '203\.0\.113' "$ga"
expect_no_match "no consent id in what the vendor gets" "$CONSENTED" "$ga"
expect_eq "the visitor's subject never leaves" "" "$(grep -F "$(printf 'consentgate/subject/v1:%s' "$CONSENTED" | sha256sum | cut -d' ' -f1)" "$REC")"

echo "# a refused visitor, and one without a choice"
REFUSED=$(choose 198.51.100.20 true false false)
expect_eq "refused: 204" 204 "$(collect M-REFUSED -H "Cookie: cg_id=$REFUSED")"
expect_eq "no choice: 204" 204 "$(collect M-NOCHOICE)"
wait_arrived M-NOCHOICE 1
# nothing was queued for the refused visitor (checked below), so nothing can
# arrive later: no wait needed before the absence check
expect_eq "refused visitor: nothing sent anywhere" "" "$(arrived M-REFUSED)"
expect_eq "no choice: only the legitimate-interest destination" "/audience" "$(arrived M-NOCHOICE | tr '\n' ' ' | sed 's/ $//')"
mini=$(grep -F M-NOCHOICE "$REC")
expect_match "minimised: URL query and fragment stripped" '\\"page_location\\":\\"https://shop.example/p\\"' "$mini"
expect_no_match "minimised: no referrer" 'ref\.example' "$mini"
expect_match "minimised: country kept" '\\"country\\":\\"DK\\"' "$mini"
expect_match "minimised: marked" '\\"mode\\":\\"minimised\\"' "$mini"
expect_eq "refused visitor: no outbox rows" 0 "$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '%M-REFUSED%'")"
out=$(curl -s -H 'X-Forwarded-For: 198.51.100.21' "$CG_URL/consent/metrics")
# metrics come from loopback only; XFF from outside is refused
expect_match "metrics refused from outside" 'Forbidden|403' "$out"
out=$(curl -s "$CG_URL/consent/metrics")
expect_match "metrics: decisions by destination and result" 'consentgate_decisions_total\{destination="ga4",result="drop"\} [1-9]' "$out"
expect_match "metrics: outbox depth" 'consentgate_outbox_rows\{state="delivered"\} [1-9]' "$out"

echo "# bad /collect bodies: 400, nothing queued"
before=$(sql "SELECT count(*) FROM outbox")
for body in '' 'x' '[]' '{}' '{"events":[]}' '{"events":[{"name":"1x"}]}' '{"events":[{"name":"ok","params":{"v":true}}]}' \
	'{"events":[{"name":"ok"}],"user_id":"u"}' '{"events":[{"name":"ok","params":{"v":"'"$(printf '%0101d' 0)"'"}}]}'; do
	code=$(curl -s -o "$CG_DIR/b.txt" -w '%{http_code}' -H 'Content-Type: application/json' -H "X-Forwarded-For: $IP" --data-binary "$body" "$CG_URL/collect")
	expect_eq "bad body [${body:0:40}] → 400" 400 "$code"
done
expect_match "400 names the field" '"field":"events\[0\]\.params\.v"' "$(cat "$CG_DIR/b.txt")"
expect_eq "nothing queued by bad bodies" "$before" "$(sql "SELECT count(*) FROM outbox")"
head -c 70000 /dev/zero | tr '\0' 'a' >"$CG_DIR/big.txt"
out=$(curl -s -w ' %{http_code}' -H 'Content-Type: text/plain' --data-binary @"$CG_DIR/big.txt" "$CG_URL/collect")
expect_eq "nginx's 413 for /collect names its limit" '{"error":"too_large","detail":"the body is larger than 65536 bytes"} 413' "$out"
expect_eq "cross-site /collect → 403" 403 "$(collect M-X -H 'Sec-Fetch-Site: cross-site')"
expect_eq "text/html → 415" 415 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/html' --data '{}' "$CG_URL/collect")"

echo "# withdraw while the sink is down: never sent; others delivered once it is back"
sink_mode 500
A=$(choose 192.0.2.10 true true true)
B=$(choose 192.0.2.11 true true true)
collect M-WITHDRAWN -H "Cookie: cg_id=$A" >/dev/null
collect M-KEPT -H "Cookie: cg_id=$B" >/dev/null
cg_wait_for 10 sql_ge 2 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-KEPT%' AND attempts >= 1"
expect_eq "queued events are retried while the sink fails" 1 "$(sql "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM outbox WHERE payload LIKE '%M-KEPT%' AND attempts >= 1 AND state = 'pending' AND last_error = 'HTTP 500'")"
curl -s -o /dev/null -X DELETE -H "Cookie: cg_id=$A" -H "X-Forwarded-For: 192.0.2.10" "$CG_URL/consent"
expect_eq "withdrawal drops the visitor's queued events" "dropped|withdrawn before delivery" "$(sql "SELECT DISTINCT state || '|' || last_error FROM outbox WHERE payload LIKE '%M-WITHDRAWN%'")"
sink_mode ok
wait_arrived M-KEPT 3 15
# the withdrawn visitor's rows are final (dropped, above) and were queued
# before M-KEPT, which has arrived: the forwarder has passed them
expect_eq "the other visitor's events arrive once the sink is back" 3 "$(arrived M-KEPT | wc -l)"
expect_eq "the withdrawn visitor's events never arrive" "" "$(arrived M-WITHDRAWN)"
expect_eq "nothing of the withdrawn visitor reached the sink even while failing" "" "$(grep -F M-WITHDRAWN "$REC" | grep -v '"mode": "500"')"

echo "# re-check at delivery: an objection recorded while queued"
sink_mode 500
C=$(choose 192.0.2.12 false true false)
collect M-OBJECTED -H "Cookie: cg_id=$C" >/dev/null
cg_wait_for 10 sql_ge 1 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-OBJECTED%' AND attempts >= 1"
curl -s -o /dev/null -H 'Content-Type: application/json' -H "Cookie: cg_id=$C" --data '{"purpose":"statistics"}' "$CG_URL/consent/objection"
sink_mode ok
pending_of() { sql "SELECT count(*) FROM outbox WHERE payload LIKE '%$1%' AND state = 'pending'"; }
cg_wait_for 15 sql_eq 0 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-OBJECTED%' AND state = 'pending'"
expect_eq "objected visitor's rows have left the queue" 0 "$(pending_of M-OBJECTED)"
expect_eq "objected visitor's events dropped" "" "$(arrived M-OBJECTED)"
expect_eq "objection rows dropped" "dropped" "$(sql "SELECT DISTINCT state FROM outbox WHERE payload LIKE '%M-OBJECTED%'")"

echo "# 429, hang and reset are retried; 4xx is a dead letter"
for mode in 429 hang reset; do
	sink_mode "$mode"
	collect "M-$mode" -H "Cookie: cg_id=$CONSENTED" >/dev/null
	cg_wait_for 10 sql_ge 3 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-$mode%' AND attempts >= 1"
	expect_eq "$mode: rows still pending after failed attempts" 3 "$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '%M-$mode%' AND state = 'pending' AND attempts >= 1")"
	sink_mode ok
	wait_arrived "M-$mode" 3 15
	expect_eq "$mode: delivered once the sink recovers" 3 "$(arrived "M-$mode" | wc -l)"
done
expect_match "retries visible in metrics" 'consentgate_delivery_rows_total\{outcome="retried"\} [1-9]' "$(curl -s "$CG_URL/consent/metrics")"
echo "# queued events of one visitor: one GA4 request, one webhook batch per destination"
# queued while the sink fails, then all made due at once (the daemon
# stopped), so that one round of the forwarder takes them together
sink_mode 500
for i in 1 2 3 4; do collect "M-MERGE$i" -H "Cookie: cg_id=$CONSENTED" >/dev/null; done
cg_wait_for 15 sql_ge 12 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-MERGE%' AND attempts >= 1"
cg_stop_daemon
sql "UPDATE outbox_rows SET next_ms = 0 WHERE payload LIKE '%M-MERGE%'"
sink_mode ok
cg_start_daemon || exit 1
wait_arrived M-MERGE4 3 15
merged=$(python3 - "$REC" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "M-MERGE" in r["body"] and r["mode"] == "ok":
        b = json.loads(r["body"])
        if isinstance(b, list):
            print(r["path"].split("?")[0], len(b), r["headers"]["x-consentgate-event-ids"].count(",") + 1)
        else:
            ev = b["events"]
            print(r["path"].split("?")[0], len(ev), r["headers"]["x-consentgate-event-ids"].count(",") + 1,
                  "titles=" + ",".join(e["params"]["page_title"] for e in ev),
                  "times=%d" % len({e.get("timestamp_micros") for e in ev}))
PY
)
echo "# $(echo "$merged" | tr '\n' ';')"
expect_eq "GA4: the four events in one request, in order, each with its own time" \
	"/ga/mp/collect 4 4 titles=M-MERGE1,M-MERGE2,M-MERGE3,M-MERGE4 times=4" "$(grep '^/ga/' <<<"$merged")"
expect_eq "webhooks: one batch each" "/audience 4 4 /hotjar/events 4 4" "$(grep -v '^/ga/' <<<"$merged" | sort | tr '\n' ' ' | sed 's/ $//')"

sink_mode 400
collect M-DEAD -H "Cookie: cg_id=$CONSENTED" >/dev/null
cg_wait_for 10 sql_ge 3 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-DEAD%' AND state = 'dead'"
expect_match "4xx: dead letter keeps the error" '^HTTP 400: \{"error":"sink says no"\}$' "$(sql "SELECT DISTINCT last_error FROM outbox WHERE payload LIKE '%M-DEAD%'")"
sink_mode ok

echo "# the outbox by destination in the metrics: dead letters, backlog, the oldest wait"
# a row waiting since an hour ago, due tomorrow (the forwarder leaves it alone)
ago=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000Z)
due=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S.000Z)
sql "INSERT INTO outbox(subject, destination, purpose, mode, payload, created_at, next_attempt_at) VALUES(NULL, 'hotjar', 'statistics', 'minimised', '{\"M-AGE\":1}', '$ago', '$due')"
out=$(curl -s "$CG_URL/consent/metrics")
metric() { sed -n "s/^$1{destination=\"$2\"} //p" <<<"$out"; }
for dest in ga4 hotjar audience; do
	expect_eq "metrics: dead letters of $dest" \
		"$(sql "SELECT count(*) FROM outbox WHERE destination = '$dest' AND state = 'dead'")" "$(metric consentgate_outbox_dead_rows "$dest")"
done
expect_eq "metrics: hotjar's backlog" 1 "$(metric consentgate_outbox_pending_rows hotjar)"
age=$(metric consentgate_outbox_oldest_pending_seconds hotjar)
expect_match "metrics: hotjar's oldest row has waited an hour ($age s)" '^3[67][0-9][0-9]$' "$age"
expect_eq "metrics: ga4 waits for nothing" "0 0" "$(metric consentgate_outbox_pending_rows ga4) $(metric consentgate_outbox_oldest_pending_seconds ga4)"
sql "DELETE FROM outbox_rows WHERE payload LIKE '%M-AGE%'"

echo "# the 72 h limit"
old=$(date -u -d '-73 hours' +%Y-%m-%dT%H:%M:%S.000Z)
sql "INSERT INTO outbox(subject, destination, purpose, mode, payload, created_at, next_attempt_at) VALUES(NULL, 'audience', 'statistics', 'minimised', '{\"M-OLD\":1}', '$old', '$old')"
cg_wait_for 5 sql_eq dropped "SELECT state FROM outbox WHERE payload LIKE '%M-OLD%'"
expect_eq "older than 72 h: dropped, never sent" "dropped|older than 72 h|" "$(sql "SELECT state || '|' || last_error || '|' FROM outbox WHERE payload LIKE '%M-OLD%'")$(arrived M-OLD)"

echo "# auth_request on the first-party proxies"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "/_ga/ with consent → proxied" 200 "$(code -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=$CONSENTED" "$CG_URL/_ga/gtag.js?id=G-TEST123")"
expect_eq "/_ga/ without a cookie → 403" 403 "$(code -H "X-Forwarded-For: $IP" "$CG_URL/_ga/gtag.js")"
expect_eq "/_ga/ refused visitor → 403" 403 "$(code -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=$REFUSED" "$CG_URL/_ga/gtag.js")"
expect_eq "/_ga/ bad cookie → 403" 403 "$(code -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=x" "$CG_URL/_ga/gtag.js")"
expect_eq "/_hotjar/ with consent → proxied" 200 "$(code -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=$CONSENTED" "$CG_URL/_hotjar/hotjar-1.js")"
expect_eq "/_hotjar/ withdrawn visitor → 403" 403 "$(code -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=$A" "$CG_URL/_hotjar/hotjar-1.js")"
expect_eq "/_ga/mp/ from outside → 403" 403 "$(code -X POST -H "X-Forwarded-For: $IP" -H "Cookie: cg_id=$CONSENTED" --data '{}' "$CG_URL/_ga/mp/collect")"
expect_eq "GET /consent/check allows" 204 "$(code -H "Cookie: cg_id=$CONSENTED" "$CG_URL/consent/check?purpose=statistics")"
expect_eq "GET /consent/check denies" 403 "$(code -H "Cookie: cg_id=$REFUSED" "$CG_URL/consent/check?purpose=statistics")"
proxied=$(grep -F '"/ga/gtag.js' "$REC" | tail -1)
expect_no_match "proxy passes no cookie upstream" '"cookie"' "$proxied"
expect_no_match "proxy passes no client address upstream" '203\.0\.113|x-forwarded-for|x-real-ip' "$proxied"

echo "# re-check at delivery: the policy version changes while events are queued"
# Only the forwarder's re-check can catch this one: no request of the visitor
# touches the queued rows, the restart with a new policy does not either.
sink_mode 500
D=$(choose 192.0.2.13 true true true)
collect M-STALE -H "Cookie: cg_id=$D" >/dev/null
cg_wait_for 10 sql_ge 3 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-STALE%' AND attempts >= 1"
expect_eq "stale-policy rows queued and retried" 3 "$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '%M-STALE%' AND state = 'pending' AND attempts >= 1")"
cg_stop_daemon
sed -i 's/^version = 2023-12$/version = 2024-06/' "$CG_INI"
cg_start_daemon || exit 1
sink_mode ok
cg_wait_for 20 sql_eq 0 "SELECT count(*) FROM outbox WHERE payload LIKE '%M-STALE%' AND state = 'pending'"
expect_eq "queued under the old policy: dropped at delivery" \
	"dropped|consent no longer valid at delivery" \
	"$(sql "SELECT DISTINCT state || '|' || last_error FROM outbox WHERE payload LIKE '%M-STALE%'")"
expect_eq "queued under the old policy: never sent" "" "$(arrived M-STALE)"

echo "# privacy"
cg_stop_daemon
expect_eq "SIGTERM with a forwarder: clean exit" 0 "$?"
for ip in "$IP" 198.51.100.20 192.0.2.10 192.0.2.11 192.0.2.13; do
	expect_eq "full address $ip in no sink record, database or log" "" \
		"$(grep -aFl -- "$ip" "$REC" "$CG_DB"* "$CG_DIR"/*.log 2>/dev/null | tr '\n' ' ')"
done
expect_eq "api secret not in the access log" "" "$(grep -F test-secret-xyz "$CG_DIR/nginx-access.log")"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
