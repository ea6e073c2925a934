#!/usr/bin/env bash
# The WAL is checkpointed while the daemon runs: under POST /consent load
# with concurrent readers (GET /consent through the daemon's read pool, and
# an analyst's sqlite3 on the views) the -wal file stays under a bound in
# every sample while consent.db grows; once writes stop the WAL is emptied.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap 'kill $loads 2>/dev/null; stack_stop' EXIT
loads=
CG_RATE_KEY='$http_x_no_limit' stack_start || exit 1

SECONDS_LOAD=${CG_LOAD_SECONDS:-120}
# bytes: the writer restarts the WAL at 2048 frames (8.4 MB); readers can
# delay a restart (it waits for them), so the bound leaves room for that:
# the WAL grew without bound before (495 MB in 20 s)
BOUND=$((40 * 1024 * 1024))
BODY='{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12","lang":"sv","page":"https://shop.example/wal"}'
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
db0=$(size "$CG_DB")
id=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' --data "$BODY" "$CG_URL/consent" |
	tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')

end=$((SECONDS + SECONDS_LOAD))
( while [ "$SECONDS" -lt "$end" ]; do # writers: bursts of 2000 POSTs, 32 in flight
	cg_burst 2000 32 '%{http_code}\n' /dev/null -H 'X-Forwarded-For: 198.51.100.9' --data-binary "$BODY"
done ) &
loads="$loads $!"
( while [ "$SECONDS" -lt "$end" ]; do # readers through the daemon
	curl -s -o /dev/null -H "Cookie: cg_id=$id" "$CG_URL/consent"
done ) &
loads="$loads $!"
( while [ "$SECONDS" -lt "$end" ]; do # an analyst
	sqlite3 -readonly "$CG_DB" 'SELECT count(*) FROM consent_daily; SELECT count(*) FROM consent_current;' >/dev/null 2>&1
done ) &
loads="$loads $!"

max=0 samples=0
while [ "$SECONDS" -lt "$end" ]; do
	w=$(size "$CG_DB-wal")
	[ "$w" -gt "$max" ] && max=$w
	samples=$((samples + 1))
	sleep 0.2
done
wait $loads # (not the daemon, which is a child of this shell too)
rows=$(sql 'SELECT count(*) FROM consent_events')
echo "# $SECONDS_LOAD s of load: $rows rows, $samples samples, largest -wal $max bytes, consent.db $(size "$CG_DB") bytes"
expect_ge "load was served" 1000 "$rows"
expect_ge "-wal stayed under $BOUND bytes in every sample (bound - largest)" 0 $((BOUND - max))
expect_ge "consent.db grew (bytes added)" $((rows * 100)) $(( $(size "$CG_DB") - db0 ))
expect_match "checkpoints counted in metrics" 'consentgate_checkpoints_total [1-9]' "$(curl -s "$CG_URL/consent/metrics")"
# idle: the WAL is truncated within a checkpoint interval or two
cg_wait_for 5 sh -c "[ \$(stat -c %s '$CG_DB-wal') -eq 0 ]"
expect_eq "-wal emptied once writes stop" 0 "$(size "$CG_DB-wal")"
expect_eq "integrity_check" ok "$(sql 'PRAGMA integrity_check')"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
