#!/usr/bin/env bash
# kill -9 of consentgated, several times, while POST /consent load runs
# through nginx: every request that got 200 must have its row after restart,
# the database must pass integrity_check and the hash chain must verify.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
SINK_PORT=$(cg_free_port) # the sink starts only after the crashes
export CG_PORT=$(cg_free_port) CG_INI_EXTRA="
[forwarder]
retry_cap_seconds = 1
timeout_ms = 1000
; (PostgreSQL: rows a killed daemon had claimed wait for their lease)
lease_seconds = 3

[destination.hook]
type = webhook
url = http://127.0.0.1:$SINK_PORT/hook
purpose = statistics
basis = legitimate_interest
"
trap 'cg_stop_sink; stack_stop' EXIT
CG_RATE_KEY='$http_x_no_limit' stack_start || exit 1
# events queued for a destination that is down while the daemon crashes
for i in $(seq 1 20); do
	curl -s -o /dev/null -H 'Content-Type: text/plain' -H "X-Forwarded-For: 192.0.2.$i" \
		--data "{\"events\":[{\"name\":\"crash_$i\"}]}" "$CG_URL/collect"
done
queued=$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")

BODY='{"choices":{"preferences":true,"statistics":false,"marketing":true},"policy_version":"2023-12","lang":"nn"}'
# Load runs until the kills are done, however fast the machine is: bursts of
# POSTs (one curl process, 32 in flight, one "status cookie" line per answer)
# follow each other, and the daemon is killed each time another STEP
# requests have been acknowledged since the last kill (and restarted at once,
# while the burst goes on). Bounded: at most 12 bursts, 180 s.
KILLS=${CG_CRASH_KILLS:-3} STEP=${CG_CRASH_STEP:-200} BURST=${CG_CRASH_BURST:-4000}
acked_so_far() { cat "$CG_DIR"/answers.*.txt 2>/dev/null | grep -c '^200 '; }
kills=0 bursts=0 load= last=0 deadline=$((SECONDS + 180))
while [ "$kills" -lt "$KILLS" ] && [ "$SECONDS" -lt "$deadline" ]; do
	if [ -z "$load" ] || ! kill -0 "$load" 2>/dev/null; then
		[ "$bursts" -ge 12 ] && break
		bursts=$((bursts + 1))
		cg_burst "$BURST" 32 '%{http_code} %header{set-cookie}\n' "$CG_DIR/answers.$bursts.txt" \
			-H 'X-Forwarded-For: 198.51.100.20' --data-binary "$BODY" &
		load=$!
	fi
	now=$(acked_so_far)
	if [ "$now" -ge $((last + STEP)) ]; then
		kill -KILL "$CG_DAEMON_PID"
		wait "$CG_DAEMON_PID" 2>/dev/null
		kills=$((kills + 1)) last=$now
		echo "# kill $kills after $now acknowledged (burst $bursts)"
		cg_start_daemon || exit 1
	else
		sleep 0.02
	fi
done
[ -n "$load" ] && wait "$load"
cat "$CG_DIR"/answers.*.txt >"$CG_DIR/answers.txt"

acked=$(grep -c '^200 ' "$CG_DIR/answers.txt")
failed=$(grep -Ec '^[0-9]{3} ' "$CG_DIR/answers.txt"); failed=$((failed - acked))
echo "# $bursts bursts of $BURST requests, $kills kills: $acked answered 200, $failed did not"
expect_eq "the daemon was killed $KILLS times under load" "$KILLS" "$kills"
expect_ge "requests succeeded" $((KILLS * STEP)) "$acked"
expect_ge "some requests failed while it was down" 1 "$failed"

# the outbox resumes: the sink comes up, every queued event arrives
cg_start_sink "$SINK_PORT" || exit 1
cg_wait_for 20 sql_ge 20 "SELECT count(*) FROM outbox WHERE state = 'delivered'"
expect_eq "20 events were queued before the crashes" 20 "$queued"
expect_eq "the outbox resumes after the crashes: all delivered" 20 "$(sql "SELECT count(*) FROM outbox WHERE state = 'delivered'")"
expect_eq "every queued event reached the sink" 20 "$(grep -o 'crash_[0-9]*' "$SINK_REC" | sort -u | wc -l)"

cg_stop_daemon
missing=$(cg_unstored_acks "$CG_DIR/answers.txt")
expect_match "every 200 carried an id" "^[0-9]+ $acked\$" "$missing"
expect_eq "no acknowledged choice lost" 0 "${missing%% *}"
expect_eq "integrity_check" ok "$(db_integrity)"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
expect_eq "hash chain verifies after the crashes" 0 "$rc"
echo "# $out"
expect_clean_daemon_log "$CG_DIR/daemon.log"

echo "# a crash leaves its stack in the daemon's log"
if ldd "$CG_BUILD/consentgated" | grep -q libasan; then
	echo "# (the sanitizer build reports crashes itself: no handler of ours in it)"
else
	cg_start_daemon || exit 1
	kill -SEGV "$CG_DAEMON_PID"
	wait "$CG_DAEMON_PID" 2>/dev/null
	rc=$?
	CG_DAEMON_PID=
	expect_eq "it still dies of its signal (status 128 + 11)" 139 "$rc"
	expect_match "its log names the signal" "fatal signal 11" "$(cat "$CG_DIR/daemon.log")"
	expect_match "and the stack, as binary+offset" 'consentgated\(' "$(grep -A4 'fatal signal 11' "$CG_DIR/daemon.log")"
fi
cg_summary
