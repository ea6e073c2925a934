#!/usr/bin/env bash
# The /consent routes through the real nginx and consentgated: stored prefix
# and country, cookies, every error status, nothing stored for bad input,
# withdraw and objection rows, the views, the chain, and no full IP anywhere.
# CG_BACKEND=postgresql runs it all against a PostgreSQL database.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT
stack_start || exit 1

IP4=203.0.113.77
IP6=2001:db8:1:2:3:4:5:6
IP6_UNKNOWN=2001:db8:99:1::42
BUILD=$(cat "$CG_DIR/build-id")   # the banner build the stack serves (stack.sh stamped it)
NOTICE=----------------------------------------------------------------   # none configured here
BODY='{"choices":{"preferences":true,"statistics":false,"marketing":false},"policy_version":"2023-12","lang":"nb","banner":"'$BUILD'","page":"https://shop.example/produkter?id=7#top"}'
ALL='{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12","lang":"sv"}'
NONE='{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12","lang":"en"}'

rows() { sql "SELECT count(*) FROM consent_events"; }
# post METHOD PATH BODY [curl args...] -> sets STATUS, HEADERS, RBODY
req() {
	local m=$1 p=$2 b=$3; shift 3
	local out
	out=$(curl -s -D "$CG_DIR/h.txt" -o "$CG_DIR/b.txt" -w '%{http_code}' -X "$m" \
		${b:+-H "Content-Type: ${CT:-application/json}" --data-binary "$b"} "$@" "$CG_URL$p")
	STATUS=$out
	HEADERS=$(tr -d '\r' <"$CG_DIR/h.txt")
	RBODY=$(cat "$CG_DIR/b.txt")
}
cookie_id() { sed -n 's/^Set-Cookie: cg_id=\([A-Za-z0-9_.-]*\);.*/\1/p' <<<"$HEADERS"; }

echo "# record a choice (IPv4)"
req POST /consent "$BODY" -H "X-Forwarded-For: $IP4" -H 'Sec-GPC: 1' -H 'Sec-Fetch-Site: same-origin'
expect_eq "POST /consent answers 200" 200 "$STATUS"
expect_match "id cookie attributes" 'Set-Cookie: cg_id=[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax' "$HEADERS"
expect_match "state cookie" 'Set-Cookie: cg_state=v=2023-12&p=1&s=0&m=0&t=[0-9]+; Max-Age=31536000; Path=/; SameSite=Lax' "$HEADERS"
expect_match "no-store" 'Cache-Control: no-store' "$HEADERS"
expect_match "state JSON" '"choices":\{"necessary":true,"preferences":true,"statistics":false,"marketing":false\}' "$RBODY"
ID1=$(cookie_id)
S1=$(subject_of "$ID1")
expect_eq "row stored under the hash of the id" 1 "$(sql "SELECT count(*) FROM consent_events WHERE subject='$S1'")"
expect_eq "the id itself is not stored" 0 "$(sql "SELECT count(*) FROM consent_events WHERE subject='$ID1' OR hash LIKE '%$ID1%'")"
expect_eq "stored fields" "choice|2023-12|1|0|0|203.0.113.0/24|DK|https://shop.example/produkter|nb|build=$BUILD;notice=$NOTICE|1|0" \
	"$(sql "SELECT action, policy_version, preferences, statistics, marketing, ip_prefix, country, page, lang, banner, gpc, dnt FROM consent_events WHERE subject='$S1'")"

echo "# IPv6, IPv4-mapped and unknown networks"
req POST /consent "$ALL" -H "X-Forwarded-For: $IP6" -H 'DNT: 1'
S6=$(subject_of "$(cookie_id)")
expect_eq "IPv6 /48 and country" "2001:db8:1::/48|FI|1" "$(sql "SELECT ip_prefix, country, dnt FROM consent_events WHERE subject='$S6'")"
req POST /consent "$NONE" -H "X-Forwarded-For: ::ffff:192.0.2.9"
SM=$(subject_of "$(cookie_id)")
expect_eq "IPv4-mapped treated as IPv4" "192.0.2.0/24|NO" "$(sql "SELECT ip_prefix, country FROM consent_events WHERE subject='$SM'")"
expect_match "refusal cookie lives 180 days" 'cg_id=[^;]*; Max-Age=15552000' "$HEADERS"
req POST /consent "$NONE" -H "X-Forwarded-For: $IP6_UNKNOWN"
SU=$(subject_of "$(cookie_id)")
expect_eq "unknown network: NULL country" "2001:db8:99::/48|1" "$(sql "SELECT ip_prefix, CASE WHEN country IS NULL THEN 1 ELSE 0 END FROM consent_events WHERE subject='$SU'")"

# 6to4 and Teredo carry the client's IPv4 address: stored, looked up and
# logged as that address's /24, never as an IPv6 prefix that holds it whole
req POST /consent "$NONE" -H "X-Forwarded-For: 2002:c633:644d:1234::1"
S64=$(subject_of "$(cookie_id)")
expect_eq "6to4 treated as its IPv4 address" "198.51.100.0/24|SE" "$(sql "SELECT ip_prefix, country FROM consent_events WHERE subject='$S64'")"
req POST /consent "$NONE" -H "X-Forwarded-For: 2001:0:4136:e378:8000:63bf:3fff:fdd2"
STE=$(subject_of "$(cookie_id)")
expect_eq "Teredo treated as its client's IPv4 address" "192.0.2.0/24|NO" "$(sql "SELECT ip_prefix, country FROM consent_events WHERE subject='$STE'")"

echo "# GET /consent"
req GET /consent "" -H "Cookie: cg_id=$ID1"
expect_eq "GET answers 200" 200 "$STATUS"
expect_match "GET shows the choice" '"consent_id_present":true.*"preferences":true' "$RBODY"
expect_match "GET needs no choice" '"needs_choice":false' "$RBODY"
req GET /consent ""
expect_match "GET without cookie needs a choice" '"consent_id_present":false.*"needs_choice":true' "$RBODY"
expect_eq "HEAD answers 200" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' -H "Cookie: cg_id=$ID1" "$CG_URL/consent")"

echo "# errors: nothing stored"
BEFORE=$(rows)
req POST /consent '{"choices":' ; expect_eq "bad JSON → 400" 400 "$STATUS"; expect_match "bad_json code" '"error":"bad_json"' "$RBODY"
req POST /consent '{"choices":{"preferences":true,"statistics":true},"policy_version":"2023-12"}'
expect_eq "missing category → 400" 400 "$STATUS"; expect_match "names the field" '"field":"choices.marketing"' "$RBODY"
req POST /consent '{"choices":{"necessary":false,"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12"}'
expect_match "necessary=false refused" '"field":"choices.necessary"' "$RBODY"
req POST /consent '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12","x":1}'
expect_match "unknown key refused" '"error":"bad_field".*"field":"x"' "$RBODY"
# a page that is no URL of the site is recorded as none: a refusal is never refused over it
req POST /consent '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12","page":"javascript:alert(1)"}'
expect_eq "a page that is no URL: 200" 200 "$STATUS"
expect_eq "... and recorded as none" "" "$(sql "SELECT coalesce(page, '') FROM consent_events ORDER BY id DESC LIMIT 1")"
BEFORE=$((BEFORE + 1))
req POST /consent '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12","page":"https://elsewhere.example/x"}'
expect_eq "a page on another site: 200, recorded as none" "200|" \
	"$STATUS|$(sql "SELECT coalesce(page, '') FROM consent_events ORDER BY id DESC LIMIT 1")"
BEFORE=$((BEFORE + 1))
req POST /consent "$ALL" -H 'Sec-Fetch-Site: cross-site'
expect_eq "cross-site → 403" 403 "$STATUS"; expect_match "cross_site code" '"error":"cross_site"' "$RBODY"
req POST /consent "$ALL" -H 'Origin: https://evil.example'
expect_eq "foreign Origin → 403" 403 "$STATUS"
req POST /consent "$ALL" -H 'Origin: https://shop.example'
expect_eq "allowed Origin → 200" 200 "$STATUS"
BEFORE=$((BEFORE + 1))
req DELETE /consent "" -H 'Sec-Fetch-Site: same-site'
expect_eq "cross-site DELETE → 403" 403 "$STATUS"
req POST /consent '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2019-01"}'
expect_eq "old policy → 409" 409 "$STATUS"; expect_match "409 names the current version" '"error":"stale_policy".*"current":"2023-12"' "$RBODY"
CT=text/plain req POST /consent "$ALL"
expect_eq "text/plain → 415" 415 "$STATUS"
big=$(printf '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12","banner":"%05000d"}' 1)
req POST /consent "$big"
expect_eq "5 kB body → 413 from the daemon" 413 "$STATUS"; expect_match "413 is JSON" '"error":"too_large"' "$RBODY"
huge=$(printf '%020000d' 1)
req POST /consent "$huge"
expect_eq "20 kB body → 413 from nginx" 413 "$STATUS"; expect_match "nginx 413 is JSON too" '"error":"too_large"' "$RBODY"
req PUT /consent "$ALL"
expect_eq "PUT → 405" 405 "$STATUS"; expect_match "Allow header" 'Allow: GET, HEAD, POST, DELETE' "$HEADERS"
req GET /consent/nothing ""
expect_eq "unknown path → 404" 404 "$STATUS"
req POST /consent "$ALL" -H "Cookie: cg_id=$ID1" -H "Cookie: cg_id=AAAAAAAAAAAAAAAAAAAAAA"
expect_eq "the consent cookie in two Cookie headers → 400" 400 "$STATUS"; expect_match "bad_cookie code" '"error":"bad_cookie"' "$RBODY"
req GET /consent "" -H "Cookie: theme=dark; lang=nb" -H "Cookie: cg_id=$ID1"
expect_eq "another cookie in a second Cookie header is no conflict" 200 "$STATUS"
expect_match "... and the consent cookie in it is found" '"consent_id_present":true' "$RBODY"
req POST /consent "$ALL" -H "Cookie: cg_id=$ID1; cg_id=AAAAAAAAAAAAAAAAAAAAAA"
expect_eq "cookie twice in one header → 400" 400 "$STATUS"
expect_eq "no row stored by any bad request" "$BEFORE" "$(rows)"

echo "# withdraw and object"
req POST /consent/objection '{"purpose":"statistics"}' -H "Cookie: cg_id=$ID1" -H "X-Forwarded-For: $IP4"
expect_eq "objection → 200" 200 "$STATUS"
expect_match "objection listed" '"objections":\["statistics"\]' "$RBODY"
req DELETE /consent "" -H "Cookie: cg_id=$ID1" -H "X-Forwarded-For: $IP4"
expect_eq "DELETE → 200" 200 "$STATUS"
expect_match "all false after withdrawal" '"preferences":false,"statistics":false,"marketing":false' "$RBODY"
expect_eq "event rows of the visitor" "choice||,objection|statistics|statistics,withdraw||statistics" \
	"$(sql "SELECT group_concat(action || '|' || coalesce(objection_purpose,'') || '|' || objections, ',') FROM (SELECT * FROM consent_events WHERE subject='$S1' ORDER BY id) x")"
expect_eq "withdraw row is all zeros" "0|0|0" "$(sql "SELECT preferences, statistics, marketing FROM consent_events WHERE subject='$S1' AND action='withdraw'")"

echo "# views"
expect_eq "consent_current: one row per subject" "$(sql "SELECT count(DISTINCT subject) FROM consent_events")" "$(sql "SELECT count(*) FROM consent_current")"
expect_eq "consent_current: latest state" "withdraw|0|0" "$(sql "SELECT action, expired, stale_policy FROM consent_current WHERE subject='$S1'")"
expect_match "consent_current: expires_at" '^20[0-9-]+T[0-9:.]+Z$' "$(sql "SELECT expires_at FROM consent_current WHERE subject='$S6'")"
expect_eq "consent_daily outcomes" "accept_all:2 custom:1 reject_all:6 withdraw:1" \
	"$(sql "SELECT group_concat(outcome || ':' || n, ' ') FROM (SELECT outcome, sum(n) AS n FROM consent_daily GROUP BY outcome ORDER BY outcome) x")"
expect_eq "consent_daily by country" "DK:2" "$(sql "SELECT country || ':' || sum(n) FROM consent_daily WHERE country='DK' GROUP BY country")"
sql "UPDATE meta SET value='2030-01' WHERE key='policy_version'"
expect_eq "stale_policy follows the configured version" 0 "$(sql "SELECT count(*) FROM consent_current WHERE stale_policy = 0")"
sql "UPDATE meta SET value='2023-12' WHERE key='policy_version'"
out=$(sql "UPDATE consent_events SET preferences = 0 WHERE id = 1" 2>&1)
expect_match "consent_events is append-only" 'append-only' "$out"
out=$(sql "UPDATE events SET marketing = 0 WHERE id = 1" 2>&1)
expect_match "its base table is append-only too" 'append-only' "$out"

echo "# chain, report and CLI"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "consentctl verify exits 0" 0 "$rc"; expect_match "verify counts all rows" "OK: $(rows) rows verified" "$out"
expect_eq "chain links row to row" 0 "$(sql "SELECT count(*) FROM consent_events a JOIN consent_events b ON b.id = a.id + 1 WHERE b.prev_hash <> a.hash")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" report --format csv --k 1)
expect_match "report csv: a DK custom choice" "$(date -u +%F),DK,2023-12,nb,1,0,0,1,0,1,1.0000,0.0000,0.0000,0" "$out"
expect_match "report csv: the DK withdrawal (no language)" "$(date -u +%F),DK,2023-12,,1,0,0,0,1,0," "$out"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" report --format json --k 1)
expect_match "report json" '"country":"FI","policy_version":"2023-12","lang":"sv","suppressed":false,"visitors":1,"accept_all":1' "$out"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" report)
expect_match "report table, small cells suppressed by default" 'day +country +policy +lang +visitors.*<k' "$out"
out=$(curl -s "$CG_URL/consent/report")
expect_match "loopback report route" '"rows":\[' "$out"
if [ "$CG_BACKEND" = sqlite ]; then
	cp "$CG_DB" "$CG_DIR/tampered.db"; cp "$CG_DB-wal" "$CG_DIR/tampered.db-wal" 2>/dev/null
	sqlite3 "$CG_DIR/tampered.db" "DROP TRIGGER events_append_only; UPDATE events SET marketing = 0 WHERE id = 2"
	out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify --database "$CG_DIR/tampered.db"); rc=$?
else # tampered in place (by a superuser who disables the trigger), then put back
	was=$(sql "SELECT marketing FROM events WHERE id = 2")
	sql "ALTER TABLE events DISABLE TRIGGER events_append_only; UPDATE events SET marketing = 1 - marketing WHERE id = 2"
	out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
	sql "UPDATE events SET marketing = $was WHERE id = 2; ALTER TABLE events ENABLE TRIGGER events_append_only"
	expect_eq "verify passes again once the row is put back" 0 "$("$CG_BUILD/consentctl" -c "$CG_INI" verify >/dev/null; echo $?)"
fi
expect_eq "verify fails on a tampered log" 1 "$rc"; expect_match "names the first bad row" 'row 2: core fields' "$out"

# the analysts' example queries (docs/analysts.md#example-queries: its SQLite or
# its PostgreSQL set) run against a real database
if [ "$CG_BACKEND" = sqlite ]; then
	queries=$(sed -n '/^-- 1. Consent rate per week/,/^```/p' "$CG_SRC/docs/analysts.md" | grep -v '^```')
	out=$(sqlite3 -readonly "$CG_DB" 2>&1 <<<"$queries"); rc=$?
else
	queries=$(sed -n '/^-- 1. (PostgreSQL) Consent rate per week/,/^```/p' "$CG_SRC/docs/analysts.md" | grep -v '^```')
	expect_match "docs/analysts.md has the PostgreSQL queries" 'consent_daily' "$queries"
	out=$(psql -X -q -v ON_ERROR_STOP=1 "$CG_PG_URL" 2>&1 <<<"$queries"); rc=$?
fi
expect_eq "docs/analysts.md example queries run" 0 "$rc"
expect_no_match "docs/analysts.md example queries: no SQL error" 'Error|error' "$out"

if [ "$CG_BACKEND" = postgresql ]; then
	echo "# a read-only analyst role (conf/postgresql/analyst-role.sql)"
	psql -X -q -v ON_ERROR_STOP=1 "$CG_PG_URL" -f "$CG_SRC/conf/postgresql/analyst-role.sql" >/dev/null
	expect_eq "the role script runs (twice: it is idempotent)" 0 \
		"$(psql -X -q -v ON_ERROR_STOP=1 "$CG_PG_URL" -f "$CG_SRC/conf/postgresql/analyst-role.sql" >/dev/null; echo $?)"
	ANALYST=$(tr A-Z a-z <<<"${CG_PG_DB}_alice")
	sql "CREATE ROLE $ANALYST LOGIN; GRANT consentgate_analyst TO $ANALYST"
	as_analyst() { psql -X -q -At -F '|' "postgresql:///$CG_PG_DB?host=$CG_PG_HOST&port=$CG_PG_PORT&user=$ANALYST" -c "$1" 2>&1; }
	expect_eq "the analyst reads consent_events" "$(rows)" "$(as_analyst "SELECT count(*) FROM consent_events")"
	expect_match "and the other views" '^[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+$' \
		"$(as_analyst "SELECT (SELECT count(*) FROM consent_current), (SELECT count(*) FROM consent_daily),
		  (SELECT count(*) FROM consent_pruned), (SELECT count(*) FROM outbox), (SELECT count(*) FROM consent_events WHERE subject = '$S1')")"
	expect_match "the analyst cannot read the client_id key" 'permission denied for table secrets' "$(as_analyst "SELECT * FROM secrets")"
	expect_match "nor the base tables" 'permission denied for table events' "$(as_analyst "SELECT count(*) FROM events")"
	expect_match "nor write through a view" 'permission denied' "$(as_analyst "DELETE FROM consent_pruned")"
	sql "DROP OWNED BY $ANALYST; DROP ROLE $ANALYST" >/dev/null
fi

echo "# loopback-only routes and rate limit"
expect_eq "healthz from loopback" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent/healthz")"
expect_eq "healthz from outside → 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.51.100.3' "$CG_URL/consent/healthz")"
expect_eq "metrics from outside → 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.51.100.3' "$CG_URL/consent/metrics")"
expect_match "metrics count requests" 'consentgate_requests_total\{route="choice",status="200"\} [0-9]+' "$(curl -s "$CG_URL/consent/metrics")"
expect_match "metrics count commits" 'consentgate_writer_rows_total [1-9]' "$(curl -s "$CG_URL/consent/metrics")"
# one -o per URL: a single -o covers the first URL only, and the other
# bodies then ran into the status lines (the check passed only when the
# first request happened to be the one refused)
urls=() nulls=(); for i in $(seq 1 60); do urls+=("$CG_URL/consent"); nulls+=(-o /dev/null "$CG_URL/consent"); done
codes=$(curl -s -Z --parallel-max 60 -H 'X-Forwarded-For: 198.51.100.99' -w '%{http_code}\n' "${nulls[@]}" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
expect_match "a burst beyond the limit gets 429 [$codes]" '^ [0-9]+ 200 +[0-9]+ 429 $' "$codes"
# IPv6: one /64 is one client, however it varies the low 64 bits
burst_from() { # burst_from ADDRESS... : one GET /consent from each, all at once; the status counts
	local args=() first=1
	for a in "$@"; do
		[ "$first" = 1 ] || args+=(--next)
		first=0
		args+=(-s -o /dev/null -w '%{http_code}\n' -H "X-Forwarded-For: $a" "$CG_URL/consent")
	done
	curl -Z --parallel-max 60 "${args[@]}" | sort | uniq -c | tr -s ' ' | tr '\n' ' '
}
codes=$(burst_from $(for i in $(seq 1 60); do printf '2001:db8:77:1:%x::%x ' $((i * 7919)) "$i"; done))
expect_match "a burst from one IPv6 /64 (60 addresses) gets 429 [$codes]" ' 429' "$codes"
codes=$(burst_from $(for i in $(seq 1 60); do echo "198.51.100.$((100 + i))"; done))
expect_eq "60 IPv4 addresses of one /24 (one request each) are not throttled together" " 60 200 " "$codes"
codes=$(burst_from $(for i in $(seq 1 60); do echo "2001:db8:78:$i::1"; done))
expect_eq "60 IPv6 /64s (one request each) are not throttled together" " 60 200 " "$codes"
out=$(curl -s -Z --parallel-max 60 -i -H 'X-Forwarded-For: 198.51.100.98' "${urls[@]}" | tr -d '\r')
expect_match "429 answer is JSON" '"error":"rate_limited"' "$out"
expect_match "429 answer has Retry-After" 'Retry-After: 1' "$out"

echo "# signals"
cp "$CG_SRC/geoip/test-networks.csv" "$CG_DIR/nets.csv"
sed -i 's#^203.0.113.0/24,DK#203.0.113.0/24,SE#' "$CG_DIR/nets.csv"
perl "$CG_SRC/geoip/build-test-mmdb.pl" "$CG_DIR/nets.csv" "$CG_DIR/country.mmdb" >/dev/null
kill -HUP "$CG_DAEMON_PID"
cg_wait_for 10 grep -q 'country database reopened' "$CG_DIR/daemon.log"
req POST /consent "$ALL" -H "X-Forwarded-For: 203.0.113.5"
expect_eq "SIGHUP: new country data used" SE "$(sql "SELECT country FROM consent_events WHERE subject='$(subject_of "$(cookie_id)")'")"
start=$SECONDS
cg_stop_daemon; rc=$?
expect_eq "SIGTERM: clean exit" 0 "$rc"
expect_match "SIGTERM: quick" '^[0-4]$' "$((SECONDS - start))"
expect_match "SIGTERM: logged" 'stopped' "$(cat "$CG_DIR/daemon.log")"
expect_eq "socket removed" no "$([ -e "$CG_SOCKET" ] && echo yes || echo no)"

echo "# production cookies (Secure, __Host-)"
CG_COOKIE_SECURE=true cg_write_ini
cg_start_daemon
req POST /consent "$ALL"
expect_match "__Host- id cookie" 'Set-Cookie: __Host-cg_id=[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax; Secure' "$HEADERS"
expect_match "Secure state cookie" 'Set-Cookie: cg_state=[^;]*; Max-Age=31536000; Path=/; SameSite=Lax; Secure' "$HEADERS"

echo "# configuration check"
out=$("$CG_BUILD/consentgated" -t -c "$CG_INI"); expect_eq "-t on a good file" 0 $?
# the shipped file, its paths moved into this test's directory
mkdir -p "$CG_DIR/ship/run" "$CG_DIR/ship/lib"
cp "$CG_DIR/country.mmdb" "$CG_DIR/ship/lib/country.mmdb"
sed -e "s#/run/consentgate/#$CG_DIR/ship/run/#" -e "s#/var/lib/consentgate/#$CG_DIR/ship/lib/#" -e "s#/usr/share/consentgate/web#$CG_DIR/web#" \
	"$CG_SRC/conf/consentgate.ini" >"$CG_DIR/ship.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/ship.ini" 2>&1); expect_eq "-t on the shipped conf/consentgate.ini (paths moved): exit 0 [$out]" 0 $?
# ...with its commented vendor example (from "; [vendors]" to the next blank
# line) and the destination's "; vendor =" taken in, against the source's catalogue
sed "s#/usr/share/consentgate/vendors.ini#$CG_SRC/conf/vendors.ini#" "$CG_DIR/ship.ini" |
	awk '/^; \[vendors\]$/ { v = 1 } v && /^$/ { v = 0 } v || /^; vendor = / { sub(/^; /, "") } { print }' >"$CG_DIR/vendors.ini"
expect_eq "the example's four vendor sections and the destination's vendor line taken in" 5 "$(grep -c -E '^(\[vendors\]|\[vendor\.|vendor = google)' "$CG_DIR/vendors.ini")"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/vendors.ini" 2>&1); expect_eq "-t on the shipped file's vendor example: exit 0 [$out]" 0 $?
printf '[server]\nsite = x\nworkers = lots\n' >"$CG_DIR/bad.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/bad.ini" 2>&1); rc=$?
expect_eq "-t on a bad file exits 1" 1 "$rc"
expect_match "-t names file, line and key" 'bad.ini:3: \[server\] workers' "$out"
printf '[server]\nsite = x\n' >"$CG_DIR/nover.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/nover.ini" 2>&1)
expect_match "a missing required key names the section, not line 0" '^consentgated: [^ ]*nover.ini: \[policy\] version: is required' "$out"
# what start-up needs, checked by -t too: each names file, [section] key and path
tcheck() { # NAME REGEX SED-EXPRESSION
	sed -e "$3" "$CG_DIR/ship.ini" >"$CG_DIR/t.ini"
	out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/t.ini" 2>&1); rc=$?
	expect_eq "-t: $1: exit 1" 1 "$rc"
	expect_match "-t: $1: names file, key and path" "t.ini: $2" "$out"
}
tcheck "database in a missing directory" "\\[storage\\] database: directory $CG_DIR/nowhere: No such file" "s#^database = $CG_DIR/ship/lib/consent.db#database = $CG_DIR/nowhere/c.db#"
tcheck "missing country database" "\\[geoip\\] database: $CG_DIR/ship/lib/none.mmdb: No such file" "s#^database = $CG_DIR/ship/lib/country.mmdb#database = $CG_DIR/ship/lib/none.mmdb#"
printf 'not a database' >"$CG_DIR/ship/lib/junk.mmdb"
tcheck "unreadable country database" "\\[geoip\\] database: $CG_DIR/ship/lib/junk.mmdb is not a MaxMind DB" "s#^database = $CG_DIR/ship/lib/country.mmdb#database = $CG_DIR/ship/lib/junk.mmdb#"
tcheck "missing socket directory" "\\[server\\] listen: directory $CG_DIR/gone: No such file" "s#^listen = .*#listen = $CG_DIR/gone/fcgi.sock#"
tcheck "unknown socket group" "\\[server\\] socket_group: no group named nosuchgroup" "s#^socket_group = .*#socket_group = nosuchgroup#"
tcheck "signing key in a missing directory" "\\[signing\\] key_file: directory $CG_DIR/nokeys: No such file" "s#^; key_file = .*#key_file = $CG_DIR/nokeys/k#"
printf 'not a key\n' >"$CG_DIR/ship/lib/junk.key"; chmod 600 "$CG_DIR/ship/lib/junk.key"
tcheck "a signing key that is not one" "\\[signing\\] key_file: $CG_DIR/ship/lib/junk.key: not a signing key" "s#^; key_file = .*#key_file = $CG_DIR/ship/lib/junk.key#"
cp "$CG_DIR/ship/lib/junk.key" "$CG_DIR/ship/lib/open.key"; chmod 644 "$CG_DIR/ship/lib/open.key"
tcheck "a signing key others may read" "\\[signing\\] key_file: $CG_DIR/ship/lib/open.key: the signing key may be read" "s#^; key_file = .*#key_file = $CG_DIR/ship/lib/open.key#"
# the default place: beside the SQLite file; on PostgreSQL the state
# directory (systemd's StateDirectory=), which a start by hand may lack
out=$(STATE_DIRECTORY=$CG_DIR/nostate "$CG_BUILD/consentgated" -t -c "$CG_INI" 2>&1); rc=$?
if [ "$CG_BACKEND" = postgresql ]; then
	expect_eq "-t: no key_file and no state directory (PostgreSQL): exit 1" 1 "$rc"
	expect_match "... names the key's default directory" "\\[signing\\] key_file \\(not set: its default\\): directory $CG_DIR/nostate: No such file" "$out"
	out=$(STATE_DIRECTORY=$CG_DIR/nostate "$CG_BUILD/consentgated" -c "$CG_INI" 2>&1); rc=$?
	expect_eq "... and a start fails the same way: exit 1" 1 "$rc"
	expect_match "... with the same message" "\\[signing\\] key_file \\(not set: its default\\): directory $CG_DIR/nostate" "$out"
else
	expect_eq "-t: no key_file, no state directory (SQLite: the key goes beside the database): exit 0 [$out]" 0 "$rc"
fi
sed -e 's#^country = MT#country = US#' "$CG_DIR/ship.ini" >"$CG_DIR/t.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/t.ini" 2>&1); rc=$?
expect_eq "-t: a destination outside the EU/EEA without a transfer basis: exit 1" 1 "$rc"
expect_match "... naming its section and key" "t.ini:[0-9]+: \\[destination.hotjar\\] transfer_basis: is required: US" "$out"
sed -e '/^recipient = Hotjar Ltd/d' -e '/^country = MT/d' "$CG_DIR/ship.ini" >"$CG_DIR/t.ini"
out=$("$CG_BUILD/consentgated" -t -c "$CG_DIR/t.ini" 2>&1); rc=$?
expect_eq "-t: a destination that declares no recipient still passes" 0 "$rc"
expect_match "... with a warning naming it" "\\[destination.hotjar\\] declares no recipient and country" "$out"
expect_no_match "... and none for ga4, which has its known recipient" "destination.ga4" "$out"
# the same failures stop a real start with exit 1, naming the path
sed -e "s#^listen = .*#listen = $CG_DIR/gone/fcgi.sock#" "$CG_DIR/ship.ini" >"$CG_DIR/t.ini"
out=$("$CG_BUILD/consentgated" -c "$CG_DIR/t.ini" 2>&1); rc=$?
expect_eq "start with a missing socket directory: exit 1" 1 "$rc"
expect_match "start names the socket directory" "listen: directory $CG_DIR/gone" "$out"
out=$("$CG_BUILD/consentgated" --version); expect_match "--version" '^consentgated [0-9]+\.[0-9]+' "$out"
out=$("$CG_BUILD/consentgated" --help); expect_match "--help names the exit codes" 'exit status: 0 ok, 1 ' "$out"
"$CG_BUILD/consentgated" >/dev/null 2>&1; expect_eq "no -c: usage, exit 2" 2 $?

echo "# a second daemon on the same socket is refused and leaves the first serving"
out=$("$CG_BUILD/consentgated" -c "$CG_INI" 2>&1); rc=$?
expect_eq "second instance: exit 1" 1 "$rc"
expect_match "second instance: says why" 'another process is serving .*fcgi.sock' "$out"
expect_eq "the socket file is still there" 1 "$([ -S "$CG_SOCKET" ] && echo 1 || echo 0)"
expect_eq "the first daemon still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent/healthz")"

echo "# privacy: no full address anywhere"
cg_stop_daemon
sync
# (PostgreSQL: every file of the cluster, its WAL and its log included)
[ "$CG_BACKEND" = postgresql ] && pgsql "$CG_PG_DB" "CHECKPOINT" >/dev/null
stored=("$CG_DB"*); [ "$CG_BACKEND" = postgresql ] && stored=("$CG_PG_HOST/data" "$CG_PG_HOST/log")
for ip in "$IP4" "$IP6" "2001:db8:1:2:3:4:5:6" "192.0.2.9" "198.51.100.99" "$IP6_UNKNOWN" "2001:db8:99:1::42" \
	2002:c633:644d 198.51.100.77 192.0.2.45; do
	hits=$(grep -raFl -- "$ip" "${stored[@]}" "$CG_DIR"/*.log 2>/dev/null | tr '\n' ' ')
	expect_eq "full address $ip stored or logged nowhere" "" "$hits"
done
expect_match "access log keeps only prefixes" '^203\.0\.113\.0/24 ' "$(grep -m1 '^203' "$CG_DIR/nginx-access.log")"
expect_match "access log IPv6 prefix" '^2001:db8:1::/48 ' "$(grep -m1 '^2001:db8:1:' "$CG_DIR/nginx-access.log")"
expect_match "access log mapped IPv4 prefix" '^192\.0\.2\.0/24 ' "$(grep -m1 '^192' "$CG_DIR/nginx-access.log")"
expect_match "access log 6to4: the /24 of its IPv4 address (/40)" '^2002:c633:6400::/40 ' "$(grep -m1 '^2002:' "$CG_DIR/nginx-access.log")"
expect_no_match "access log has no query strings" '\?' "$(cat "$CG_DIR/nginx-access.log")"
expect_eq "integrity_check" ok "$(db_integrity)"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
