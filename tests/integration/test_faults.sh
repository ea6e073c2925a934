#!/usr/bin/env bash
# Fault injection, loopback only and bounded: hostile FastCGI records on the
# socket, stalled peers, the storage failing (SQLite: a full disk, a
# read-only disk; PostgreSQL: the server stopped mid-burst, and a database
# host that goes silent behind a TCP proxy), the country database replaced
# under load, and SIGTERM under load. CG_BACKEND chooses the backend.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
proxy=
cleanup() {
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null
	chattr -i "$CG_DIR"/ro/* 2>/dev/null
	stack_stop_keep
	umount "$CG_DIR/dbfs" 2>/dev/null
	rm -rf "$CG_DIR"
}
stack_stop_keep() { CG_KEEP=1 stack_stop; [ "$CG_BACKEND" = postgresql ] && cg_pg_dropdb "$CG_PG_DB"; }
trap cleanup EXIT
export CG_DIR CG_RATE_KEY='$http_x_no_limit'
# a whole request must arrive within 2 s of accept (the stalled-peer case below)
export CG_INI_EXTRA="
[server]
request_timeout_ms = 2000
"
if [ "$CG_BACKEND" = sqlite ]; then
	# the database lives on its own small tmpfs, so the test can fill it up
	mkdir -p "$CG_DIR/dbfs"
	mount -t tmpfs -o size=2m,mode=0755 tmpfs "$CG_DIR/dbfs" || { echo "cannot mount a tmpfs (needs root)"; exit 1; }
	export CG_DB_PATH="$CG_DIR/dbfs/consent.db"
else
	# the daemon reaches PostgreSQL through a proxy the test can silence
	cg_pg_start || exit 1
	PROXY_PORT=$(cg_free_port)
	python3 "$here/../lib/pg_proxy.py" "$PROXY_PORT" "$CG_PG_HOST/.s.PGSQL.$CG_PG_PORT" >"$CG_DIR/proxy.log" 2>&1 &
	proxy=$!
	cg_wait_for 10 grep -q ready "$CG_DIR/proxy.log" || { echo "the proxy did not start"; exit 1; }
	# (read_timeout_ms keeps its default, 50 ms)
	export CG_PG_VIA="127.0.0.1:$PROXY_PORT" CG_STORAGE_EXTRA="write_timeout_ms = 1000
connect_timeout_ms = 1000"
fi
stack_start || exit 1

BODY='{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12","lang":"nb","page":"https://shop.example/a-rather-long-path/to/fill/pages/faster"}'
post() { curl -s -D "$CG_DIR/h" -o "$CG_DIR/b" -w '%{http_code}' -H 'Content-Type: application/json' \
	-H "X-Forwarded-For: ${1:-192.0.2.7}" --data "$BODY" "$CG_URL/consent"; }

echo "# local peers that stall or trickle cannot pin the workers"
# 100 send one byte and stall, 100 send one byte every T/2 (T = 2 s): more
# than the (2, the default) workers. Meanwhile GET /consent through nginx (a worker and a
# read; POSTs would fill this test's small disk) must keep answering; the
# daemon closes every such peer once its deadline passes.
python3 "$here/../lib/stall_peers.py" "$CG_SOCKET" 100 100 1.0 30 >"$CG_DIR/stall.txt" &
stall=$!
cg_wait_for 10 grep -q 'peers connected' "$CG_DIR/stall.txt"
cg_burst 400 16 '%{http_code} %{time_total}\n' "$CG_DIR/under.txt" -m 10 -H 'X-Forwarded-For: 192.0.2.70'
wait "$stall"; stall_rc=$?
cg_burst 400 16 '%{http_code} %{time_total}\n' "$CG_DIR/calm.txt" -m 10 -H 'X-Forwarded-For: 192.0.2.71'
p99() { sort -n -k2 "$1" | awk '{t[NR] = $2} END {printf "%.1f ms", t[int(NR * 0.99)] * 1000}'; }
echo "# p99 of GET /consent: $(p99 "$CG_DIR/under.txt") with the peers, $(p99 "$CG_DIR/calm.txt") without; $(tail -1 "$CG_DIR/stall.txt")"
expect_eq "every GET /consent answered 200 while 200 peers stalled" "400 200" "$(cut -d' ' -f1 "$CG_DIR/under.txt" | sort | uniq -c | tr -s ' ' | sed 's/^ //')"
expect_eq "the daemon closed every stalling and trickling peer" 0 "$stall_rc"
expect_match "deadline closes counted in metrics" 'consentgate_connections_total\{outcome="timed_out"\} ([2-9][0-9][0-9]|1[0-9][0-9][0-9])' "$(curl -s "$CG_URL/consent/metrics")"

echo "# hostile FastCGI records straight to the socket"
pid=$CG_DAEMON_PID
for c in oversized_param lying_length plus_length space_length negative_length truncated_header truncated_params dup_cookie many_params garbage \
	other_request abort_in_params; do
	ans=$(timeout 20 python3 "$here/../lib/fcgi_raw.py" "$CG_SOCKET" "$c")
	case $c in
		lying_length|dup_cookie|*_length) expect_eq "$c: answered 400" "Status: 400" "$ans" ;;
		many_params) expect_eq "$c: answered" "Status: 200" "$ans" ;;
		*) expect_eq "$c: connection closed without an answer" "no answer" "$ans" ;;
	esac
	expect_eq "$c: the next request succeeds" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent/healthz")"
done
expect_eq "the daemon survived every record (same process)" "$pid" "$(pgrep -f "consentgated -c $CG_INI" | head -1)"

if [ "$CG_BACKEND" = sqlite ]; then
	echo "# a full disk"
	# the rest of the tmpfs taken by another file but 64 kB, so the database
	# meets the full disk within a few hundred writes however fast the
	# checkpoints keep its WAL small (how many depends on the machine)
	ok=0; full=0
	for i in $(seq 1 20); do [ "$(post)" = 200 ] && ok=$((ok + 1)); done
	dd if=/dev/zero of="$CG_DIR/dbfs/filler" bs=4k count=$(( ($(df --output=avail -k "$CG_DIR/dbfs" | tail -1) - 64) / 4 )) 2>/dev/null
	for i in $(seq 1 4000); do
		code=$(post)
		if [ "$code" = 200 ]; then ok=$((ok + 1)); else full=1; break; fi
	done
	echo "# $ok choices stored before the disk filled up"
	expect_eq "a full disk answers 503" 503 "$code"
	hdr=$(tr -d '\r' <"$CG_DIR/h")
	expect_match "503 carries Retry-After" 'Retry-After: 5' "$hdr"
	expect_match "503 names the storage" '"error":"storage"' "$(cat "$CG_DIR/b")"
	expect_no_match "no success cookie for an unstored choice" 'Set-Cookie' "$hdr"
	expect_eq "still alive" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent/healthz")"
	# (a nearly full disk may still take a small write now and then: count them)
	for i in 1 2 3; do [ "$(post)" = 200 ] && ok=$((ok + 1)); done
	mount -o remount,size=64m "$CG_DIR/dbfs"
	expect_eq "recovers once space is freed" 200 "$(post)"
	expect_eq "every 200 has its row" "$((ok + 1))" "$(sql "SELECT count(*) FROM consent_events")"

	echo "# a read-only database"
	# A mounted filesystem with open files cannot be remounted read-only, so the
	# database moves to the ordinary disk and its files are made immutable
	# (chattr +i): writes then fail even through descriptors already open.
	cg_stop_daemon
	mkdir -p "$CG_DIR/ro"
	sql ".backup '$CG_DIR/ro/consent.db'"
	sed -i "s#^database = $CG_DB\$#database = $CG_DIR/ro/consent.db#" "$CG_INI"
	CG_DB="$CG_DIR/ro/consent.db"
	cg_start_daemon || exit 1
	pid=$CG_DAEMON_PID
	expect_eq "a fresh start on the copy" 200 "$(post)"
	chattr +i "$CG_DB" "$CG_DB-wal" # not -shm: SQLite maps it into memory
	expect_eq "a read-only database answers 503" 503 "$(post)"
	expect_match "503 carries Retry-After (read-only)" 'Retry-After: 5' "$(tr -d '\r' <"$CG_DIR/h")"
	expect_no_match "no success cookie (read-only)" 'Set-Cookie' "$(tr -d '\r' <"$CG_DIR/h")"
	expect_eq "/consent/check still answers on a read-only database" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent/check?purpose=statistics")"
	chattr -i "$CG_DB" "$CG_DB-wal"
	expect_eq "recovers once writable" 200 "$(post)"
	expect_eq "integrity_check after the faults" ok "$(sql 'PRAGMA integrity_check')"
	out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); expect_eq "chain verifies after the faults" 0 $?

else
	# a visitor whose check allows: a deny during the outage is the outage's
	V=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H 'X-Forwarded-For: 192.0.2.80' \
		--data '{"choices":{"preferences":true,"statistics":true,"marketing":true},"policy_version":"2023-12"}' \
		"$CG_URL/consent" | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
	check() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Cookie: cg_id=$V" "$CG_URL/consent/check?purpose=statistics"; }
	expect_eq "the visitor's check allows while the database answers" 204 "$(check | cut -d' ' -f1)"
	post_is() { [ "$(post)" = "$1" ]; }
	# twenty checks while the database is away: every one a deny within 100 ms
	# (500 under ThreadSanitizer, which runs the daemon several times slower:
	# still half the connect and write timeouts a check must not wait for)
	fast_ms=100
	[ -n "${CG_TSAN:-}" ] && fast_ms=500
	checks_deny_fast() {
		for _ in $(seq 1 20); do check; done >"$CG_DIR/checks.txt"
		echo "# checks while $1: $(sort -k2 -n "$CG_DIR/checks.txt" | tail -1 | cut -d' ' -f2) s the slowest"
		expect_eq "$1: every check denies (403, never 5xx)" "20 403" "$(cut -d' ' -f1 "$CG_DIR/checks.txt" | sort | uniq -c | tr -s ' ' | sed 's/^ //')"
		expect_eq "$1: every check answered within $fast_ms ms" "" "$(awk -v l="$fast_ms" '$2 * 1000 >= l' "$CG_DIR/checks.txt")"
	}
	outage_answers() { # NAME: a POST while it lasts is a 503 with Retry-After and no cookie
		local code
		code=$(post)
		expect_eq "$1: POST /consent answers 503" 503 "$code"
		expect_match "$1: 503 carries Retry-After" 'Retry-After: 5' "$(tr -d '\r' <"$CG_DIR/h")"
		expect_no_match "$1: no success cookie" 'Set-Cookie' "$(tr -d '\r' <"$CG_DIR/h")"
		expect_match "$1: 503 names the storage" '"error":"storage"' "$(cat "$CG_DIR/b")"
	}

	# outage NAME FILE IP BEGIN END: a burst of POSTs through an outage that
	# BEGIN starts once rows are being committed, and END ends
	outage() {
		local before load acked
		before=$(sql "SELECT count(*) FROM consent_events")
		cg_burst 3000 8 '%{http_code} %header{set-cookie}\n' "$CG_DIR/$2" -m 20 -H "X-Forwarded-For: $3" \
			--data "$BODY" &
		load=$!
		cg_wait_for 60 sql_ge $((before + 100)) 'SELECT count(*) FROM consent_events'
		$4 >/dev/null
		# (a batch in flight may wait out write_timeout_ms, 1 s; after it, no wait)
		cg_wait_for 10 post_is 503
		outage_answers "$1"
		checks_deny_fast "$1"
		$5 >/dev/null
		cg_wait_for 30 post_is 200
		expect_eq "$1: back by itself once it is over" 200 "$(post)"
		wait "$load"
		acked=$(grep -c '^200 ' "$CG_DIR/$2")
		echo "# $acked of 3000 acknowledged, $(grep -c '^503 ' "$CG_DIR/$2") answered 503, around the outage"
		expect_match "$1: every acknowledged choice is stored" "^0 $acked\$" "$(cg_unstored_acks "$CG_DIR/$2")"
	}
	echo "# PostgreSQL stopped (pg_ctl stop -m fast) in the middle of a burst, then started again"
	outage "server stopped" stopped.txt 198.51.100.30 "cg_pg_ctl stop -m fast" "cg_pg_ctl start"
	echo "# the database host goes silent (a proxy that forwards nothing and closes nothing)"
	outage "silent database" silent.txt 198.51.100.31 "kill -USR1 $proxy" "kill -USR2 $proxy"
	expect_match "reconnections counted in metrics" 'consentgate_storage_reconnects_total [1-9]' "$(curl -s "$CG_URL/consent/metrics")"
	expect_eq "the check allows again" 204 "$(check | cut -d' ' -f1)"

	echo "# a COMMIT whose answer is lost (the connection cut once the server has committed)"
	before=$(sql "SELECT count(*) FROM consent_events")
	kill -HUP "$proxy"
	code=$(post 192.0.2.90)
	expect_eq "resolved as committed before answering: 200" 200 "$code"
	C=$(tr -d '\r' <"$CG_DIR/h" | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
	expect_eq "its row is stored once" 1 "$(sql "SELECT count(*) FROM consent_events WHERE subject = '$(subject_of "$C")'")"
	expect_match "the daemon says how it resolved it" 'dropped during COMMIT of batch [0-9]+: resolved as committed' "$(cat "$CG_DIR/daemon.log")"
	echo "# a COMMIT that never reaches the server (the connection cut instead)"
	before=$(sql "SELECT count(*) FROM consent_events")
	kill -WINCH "$proxy"
	code=$(post 192.0.2.91)
	expect_eq "resolved as not committed before answering: 503" 503 "$code"
	expect_no_match "no success cookie" 'Set-Cookie' "$(tr -d '\r' <"$CG_DIR/h")"
	expect_eq "nothing stored" "$before" "$(sql "SELECT count(*) FROM consent_events")"
	expect_match "the daemon says so" 'resolved as not committed' "$(cat "$CG_DIR/daemon.log")"
	expect_match "both counted in metrics" 'consentgate_storage_unknown_commits_total [2-9]' "$(curl -s "$CG_URL/consent/metrics")"
	expect_eq "the next request is served as usual" 200 "$(post)"
	out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); expect_eq "chain verifies after the outages [$out]" 0 $?
	pid=$CG_DAEMON_PID
fi

echo "# country database replaced by rename under load, with SIGHUP"
cg_burst 1500 16 '%{http_code}\n' "$CG_DIR/codes" -H 'X-Forwarded-For: 203.0.113.40' --data "$BODY" &
load=$!
for cc in SE FI IS NO SE; do
	sed "s#^203.0.113.0/24,.*#203.0.113.0/24,$cc#" "$CG_SRC/geoip/test-networks.csv" >"$CG_DIR/nets.csv"
	perl "$CG_SRC/geoip/build-test-mmdb.pl" "$CG_DIR/nets.csv" "$CG_DIR/country.mmdb" >/dev/null
	kill -HUP "$CG_DAEMON_PID"
	sleep 0.2
done
wait "$load"
expect_eq "every request under the reloads answered 200" "1500 200" "$(sort "$CG_DIR/codes" | uniq -c | tr -s ' ' | sed 's/^ //')"
post 203.0.113.41 >/dev/null
expect_eq "the last country file is used" SE "$(sql "SELECT country FROM consent_events ORDER BY id DESC LIMIT 1")"
expect_eq "still the same process" "$pid" "$(pgrep -f "consentgated -c $CG_INI" | head -1)"

echo "# SIGTERM under load"
before=$(sql "SELECT count(*) FROM consent_events")
cg_burst 3000 32 '%{http_code}\n' "$CG_DIR/codes" -H 'X-Forwarded-For: 198.51.100.40' --data "$BODY" &
load=$!
# stop once the load is being served (rows committed), however fast the machine
cg_wait_for 60 sql_ge $((before + 100)) 'SELECT count(*) FROM consent_events'
t0=$(date +%s.%N)
kill -TERM "$CG_DAEMON_PID"
wait "$CG_DAEMON_PID"; rc=$?
t1=$(date +%s.%N)
CG_DAEMON_PID=
wait "$load"
acked=$(grep -c '^200$' "$CG_DIR/codes")
expect_eq "SIGTERM under load: exit 0" 0 "$rc"
expect_eq "SIGTERM under load: gone within 5 s" 1 "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a < 5) ? 1 : 0}')"
expect_ge "requests answered before the stop" 100 "$acked"
expect_eq "after the stop only 502s (nginx finds no daemon), never a 5xx from a half-done request" "" \
	"$(grep -v '^200$' "$CG_DIR/codes" | grep -v '^502$' | sort -u | tr '\n' ' ')"
expect_eq "every accepted request completed: rows = 200s" "$acked" "$(( $(sql "SELECT count(*) FROM consent_events") - before ))"
echo "# $acked answered 200 before the daemon stopped, in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
