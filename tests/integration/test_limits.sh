#!/usr/bin/env bash
# [limits]: what /collect may queue is bounded per visitor and per client
# prefix (bytes per hour, 429 with Retry-After), and for the whole outbox
# (pending rows, 503 outbox_full), so a flood of events cannot fill the disk
# that consent records need. The destination is down, so rows stay pending.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT
DEAD_PORT=$(cg_free_port) # nothing listens there
export CG_RATE_KEY='$http_x_no_limit' CG_INI_EXTRA="
[limits]
visitor_bytes_per_hour = 4096
prefix_bytes_per_hour = 16384
outbox_max_rows = 100

[forwarder]
retry_cap_seconds = 60

[destination.down]
type = webhook
url = http://127.0.0.1:$DEAD_PORT/never
purpose = statistics
basis = legitimate_interest
"
stack_start || exit 1

PARAMS=$(printf '"p%d":"%090d",' $(seq 1 6 | sed 's/$/ 0/') | sed 's/,$//')
EVENTS="{\"events\":[{\"name\":\"big\",\"params\":{$PARAMS}}]}"
choose() { # IP -> consent id
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "X-Forwarded-For: $1" \
		--data '{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"}' \
		"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p'
}
collect() { # IP [curl args] -> status; headers in $CG_DIR/h, body in $CG_DIR/b
	curl -s -D "$CG_DIR/h" -o "$CG_DIR/b" -w '%{http_code}' -H 'Content-Type: text/plain' \
		-H "X-Forwarded-For: $1" --data "$EVENTS" "${@:2}" "$CG_URL/collect"
}

echo "# one visitor: 4096 bytes an hour"
A=$(choose 192.0.2.10)
n=0 code=204
while [ "$code" = 204 ] && [ "$n" -lt 40 ]; do n=$((n + 1)); code=$(collect 192.0.2.10 -H "Cookie: cg_id=$A"); done
echo "# refused after $n requests ($(sql "SELECT coalesce(sum(length(payload)), 0) FROM outbox WHERE subject = '$(subject_of "$A")'") bytes queued)"
expect_eq "over the visitor's budget: 429" 429 "$code"
expect_ge "several requests fit first" 3 "$n"
expect_match "429 names the reason" '"error":"rate_limited".*visitor' "$(cat "$CG_DIR/b")"
expect_match "429 says when to come back" 'Retry-After: [1-9][0-9]*' "$(tr -d '\r' <"$CG_DIR/h")"
expect_ge "what was queued stays within the budget (4096 - bytes)" 0 \
	$((4096 - $(sql "SELECT coalesce(sum(length(payload)), 0) FROM outbox WHERE subject = '$(subject_of "$A")'")))
B=$(choose 198.51.100.10)
expect_eq "another visitor is not affected" 204 "$(collect 198.51.100.10 -H "Cookie: cg_id=$B")"

echo "# one client prefix (/24): 16384 bytes an hour, whatever its cookies"
n=0 code=204
while [ "$code" = 204 ] && [ "$n" -lt 100 ]; do n=$((n + 1)); code=$(collect "203.0.113.$n"); done
echo "# refused after $n requests from 203.0.113.0/24"
expect_eq "over the prefix's budget: 429" 429 "$code"
expect_match "429 names the network" '"error":"rate_limited".*network' "$(cat "$CG_DIR/b")"
expect_eq "another prefix is not affected" 204 "$(collect 203.0.114.1)"

echo "# the whole outbox: 100 pending rows"
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
     INSERT INTO outbox(subject, destination, purpose, mode, payload, created_at, next_attempt_at)
     SELECT NULL, 'down', 'statistics', 'minimised', '{}', '$(date -u +%FT%T.000Z)',
            '$(date -u -d '+1 hour' +%FT%T.000Z)' FROM n"
# the daemon counts pending rows at most once a second: wait for it to see them
outbox_full() { [ "$(collect "2001:db8:50:$((RANDOM % 200))::1")" = 503 ]; }
cg_wait_for 10 outbox_full
expect_eq "a full outbox: 503" 503 "$(collect 2001:db8:51::9)"
expect_match "503 outbox_full with Retry-After" '"error":"outbox_full"' "$(cat "$CG_DIR/b")"
expect_match "503 says when to come back" 'Retry-After: [1-9]' "$(tr -d '\r' <"$CG_DIR/h")"
expect_eq "consent is still recorded while the outbox is full" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"}' "$CG_URL/consent")"
m=$(curl -s "$CG_URL/consent/metrics")
for b in visitor prefix outbox; do
	expect_match "refusals by $b in metrics" "consentgate_collect_refused_total\\{bound=\"$b\"\\} [1-9]" "$m"
done
expect_match "429s counted as such" 'consentgate_requests_total\{route="collect",status="429"\} [1-9]' "$m"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
