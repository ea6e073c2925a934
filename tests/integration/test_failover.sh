#!/usr/bin/env bash
# Failover to a streaming standby (PostgreSQL; the plain build only).
# A primary and a synchronous standby as private clusters on unix sockets,
# the daemon on a URL listing both with target_session_attrs=read-write:
#  * kill -9 of the primary's postmaster in the middle of a burst of
#    POST /consent, then the standby promoted: every answer in between is a
#    200 or a 503 with Retry-After (never a 502), every acknowledged choice
#    is on the new primary (a COMMIT in flight at the kill is never
#    acknowledged and missing), the chain verifies, the outbox rows queued
#    before the kill are claimed and delivered from the new primary; the
#    time from the kill to the first 200 is printed
#  * a diverged old primary refused: libpq takes the first listed host
#    that accepts writes, so the old primary back writable would be chosen
#    again; the daemon checks every new connection holds the last row it
#    acknowledged and writes nothing to one that does not (503, the log
#    names both), once with the daemon running through the failover and
#    once with the daemon restarted between the promotion and the old
#    primary's return (the pair kept in its state directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/pg_pair.sh"
export CG_BACKEND=postgresql
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
orphans=
cleanup() {
	cg_stop_sink
	CG_KEEP=1 stack_stop
	pgpair_stop
	for p in $orphans; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${CG_FO_KEEP:-}" ] && cp "$CG_DIR/daemon.log" "$CG_FO_KEEP"
	rm -rf "$CG_DIR"
}
trap cleanup EXIT

pgpair_start || exit 1
expect_eq "the standby is synchronous" sync "$(psqlat "$PA" "SELECT sync_state FROM pg_stat_replication")"

# the stack's database on the primary (replicated), the daemon on both hosts
export CG_PG_HOST=$PA CG_PG_PORT=5432 CG_PG_HOSTS="$PA,$PB" CG_RATE_KEY='$http_x_no_limit'
cg_start_sink || exit 1
export CG_STORAGE_EXTRA="write_timeout_ms = 2000
connect_timeout_ms = 1000"
export CG_INI_EXTRA="
[forwarder]
retry_cap_seconds = 1
timeout_ms = 1000
lease_seconds = 3

[destination.hook]
type = webhook
url = http://127.0.0.1:$SINK_PORT/hook
purpose = statistics
basis = legitimate_interest
"
stack_start || exit 1
sqlat() { psqlat "$1" "$2" "$CG_PG_DB"; }

BODY='{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"}'
post() { curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Content-Type: application/json' --data "$BODY" "$CG_URL/consent"; }
expect_eq "a choice through the primary" 200 "$(post)"

echo "# outbox rows queued before the kill, held back by a failing sink"
sink_mode 500
for i in $(seq 1 20); do
	curl -s -o /dev/null -H 'Content-Type: text/plain' --data "{\"events\":[{\"name\":\"fo_$i\"}]}" "$CG_URL/collect"
done
expect_eq "20 outbox rows queued" 20 "$(sqlat "$PA" "SELECT count(*) FROM outbox WHERE payload LIKE '%fo_%'")"
cg_wait_for 20 sh -c "[ \"\$(psql -X -At -h $PA -U cg -d $CG_PG_DB -c \"SELECT count(*) FROM outbox_rows WHERE attempts > 0\")\" -ge 1 ]"
expect_ge "the forwarder claimed and tried them" 1 "$(sqlat "$PA" "SELECT count(*) FROM outbox_rows WHERE attempts > 0")"

echo "# kill -9 of the primary's postmaster in the middle of a burst; the standby promoted"
master=$(head -1 "$PA/data/postmaster.pid")
cg_burst 6000 16 '%{http_code} %header{retry-after} %header{set-cookie}\n' "$CG_DIR/burst.txt" -m 20 --data "$BODY" &
burst=$!
cg_wait_for 30 sh -c "[ \"\$(psql -X -At -h $PA -U cg -d $CG_PG_DB -c \"SELECT count(*) FROM consent_events\")\" -ge 500 ]"
orphans=$(ps -o pid= --ppid "$master")
t0=$(date +%s%N)
kill -KILL "$master"
pgc "$PB" promote >/dev/null || { echo "promotion failed"; cat "$PB/log"; }
echo "# the standby was promoted $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
until [ "$(post)" = 200 ]; do
	[ $(($(date +%s%N) - t0)) -gt 60000000000 ] && break
	sleep 0.02
done
t1=$(date +%s%N)
echo "# the first 200 came $(( (t1 - t0) / 1000000 )) ms after the kill"
expect_eq "served again after the promotion" 200 "$(post)"
wait "$burst"
# the primary's orphaned backends exit once they notice their postmaster died
for p in $orphans; do cg_wait_for 30 sh -c "! kill -0 $p"; done
codes=$(cut -d' ' -f1 "$CG_DIR/burst.txt" | sort | uniq -c | tr '\n' ' ')
echo "# answers of the burst: $codes"
expect_eq "every answer a 200 or a 503" "" "$(cut -d' ' -f1 "$CG_DIR/burst.txt" | grep -v -x -e 200 -e 503 | sort -u | tr '\n' ' ')"
expect_eq "every 503 carries Retry-After" 0 "$(awk '$1 == 503 && $2 == ""' "$CG_DIR/burst.txt" | wc -l)"
expect_ge "choices acknowledged" 500 "$(grep -c '^200 ' "$CG_DIR/burst.txt")"
CG_PG_HOST=$PB
read -r unstored acked < <(cg_unstored_acks "$CG_DIR/burst.txt")
expect_eq "every one of the $acked acknowledged choices is on the new primary" 0 "$unstored"
expect_eq "ids are consecutive on the new primary" "$(sql "SELECT count(*) FROM consent_events")" "$(sql "SELECT max(id) FROM consent_events")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify 2>&1); rc=$?
echo "# $out" | head -3
expect_eq "the chain verifies on the new primary" 0 "$rc"
echo "# $(grep -c 'dropped during COMMIT' "$CG_DIR/daemon.log") COMMIT(s) lost at the kill, resolved before answering"

echo "# the outbox resumes on the new primary: claims and leases"
sink_mode ok
cg_wait_for 40 sql_eq 20 "SELECT count(*) FROM outbox WHERE payload LIKE '%fo_%' AND state = 'delivered'"
expect_eq "every row queued before the kill delivered" 20 "$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '%fo_%' AND state = 'delivered'")"

# the daemon's connections break (as after a network cut): it reconnects,
# and libpq takes the first listed host that accepts writes
reconnect() { psqlat "$PB" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'consentgated%'" >/dev/null; }
# the old primary, writable as it was (no standby to wait for any more)
old_back() { rm -f "$PA/data/postmaster.pid"; PGC_EXTRA="-c synchronous_standby_names=''" pgc "$PA" start >/dev/null; }
refused_once() { [ "$(post)" = 503 ]; }
diverged() { # NAME: the old primary back, the daemon reconnects, refused
	local before after logged from
	from=$(wc -l <"$CG_DIR/daemon.log")
	before=$(sqlat "$PA" "SELECT count(*) FROM consent_events")
	reconnect
	cg_wait_for 20 refused_once
	for _ in 1 2 3 4 5; do post >/dev/null; done
	expect_eq "$1: a choice is refused (503)" 503 "$(post)"
	expect_eq "$1: by the daemon, which runs on" 0 "$(kill -0 "$CG_DAEMON_PID"; echo $?)"
	after=$(sqlat "$PA" "SELECT count(*) FROM consent_events")
	expect_eq "$1: nothing written to the old primary" "$before" "$after"
	logged=$(tail -n +$((from + 1)) "$CG_DIR/daemon.log" | grep 'does not hold the last row this instance acknowledged' | tail -1)
	expect_match "$1: the log names both (ours, and what the database holds)" \
		'acknowledged \(id [0-9]+, hash [0-9a-f]{64}\): it has (hash [0-9a-f]{64}|no row) under that id, its chain ends at id [0-9]+' "$logged"
	# the old primary goes away: the daemon finds the new one and writes again
	pgc "$PA" -m fast stop >/dev/null
	cg_wait_for 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '$BODY' $CG_URL/consent)\" = 200 ]"
	expect_eq "$1: once it is gone, writes resume on the new primary" 200 "$(post)"
}

echo "# a diverged old primary back writable, the daemon running"
expect_eq "a choice on the new primary" 200 "$(post)"
old_back || { cat "$PA/log"; exit 1; }
diverged "daemon running"

echo "# the same with the daemon restarted between the promotion and its return"
expect_eq "a choice on the new primary" 200 "$(post)"
cg_stop_daemon
expect_match "the last acknowledged row is kept in the state directory" '^[0-9]+ [0-9a-f]{64}$' "$(cat "$CG_DIR/last-acknowledged")"
cg_start_daemon || exit 1
listening() { [ "$(grep -c 'listening on' "$CG_DIR/daemon.log")" -ge 2 ]; }
cg_wait_for 30 listening
expect_match "it checked the kept row on the new primary" 'holds the last row acknowledged before' "$(cat "$CG_DIR/daemon.log")"
# nothing acknowledged since the restart: only the kept pair can tell
old_back || { cat "$PA/log"; exit 1; }
diverged "daemon restarted"

echo "# a start on the diverged old primary alone is refused, naming both"
cg_stop_daemon
old_back
pgc "$PB" -m fast stop >/dev/null
: >"$CG_DIR/start.log"
timeout 30 "$CG_BUILD/consentgated" -c "$CG_INI" 2>"$CG_DIR/start.log"; rc=$?
expect_eq "the daemon does not start on it" 1 "$rc"
expect_match "... and says why" 'does not hold the last row this instance acknowledged \(id [0-9]+' "$(cat "$CG_DIR/start.log")"
pgc "$PA" -m fast stop >/dev/null
pgc "$PB" start >/dev/null
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
