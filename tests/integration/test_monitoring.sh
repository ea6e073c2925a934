#!/usr/bin/env bash
# The shipped Grafana dashboard and Prometheus alert rules
# (conf/monitoring/) against a running daemon: every metric and label they
# name is in its /consent/metrics, and `promtool check rules` passes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT
MON="$CG_SRC/conf/monitoring"

out=$(promtool check rules "$MON/prometheus-alerts.yml" 2>&1); rc=$?
expect_eq "promtool check rules prometheus-alerts.yml [$(tail -1 <<<"$out")]" 0 "$rc"

# a destination, so that the per-destination series exist
export CG_PORT=$(cg_free_port)
export CG_INI_EXTRA="
[destination.ga4]
type = ga4
url = http://127.0.0.1:$CG_PORT/_ga/mp/collect
measurement_id = G-TEST123
api_secret = test-secret
purpose = statistics
basis = consent
"
stack_start || exit 1
# traffic on the routes the dashboard names: a choice, a state, events
id=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	--data '{"choices":{"preferences":false,"statistics":true,"marketing":false},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
expect_match "a choice is recorded" '.' "$id"
curl -s -o /dev/null -H "Cookie: cg_id=$id" "$CG_URL/consent"
expect_eq "events are taken" 204 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -H "Cookie: cg_id=$id" \
	--data '{"events":[{"name":"page_view","params":{"page_title":"M"}}]}' "$CG_URL/collect")"
curl -s "$CG_URL/consent/metrics" >"$CG_DIR/metrics.txt"

problems=$(/usr/bin/python3 "$CG_SRC/tests/lib/monitoring_check.py" "$CG_DIR/metrics.txt" \
	"$MON/grafana-dashboard.json" "$MON/prometheus-alerts.yml" 2>"$CG_DIR/check.log"); rc=$?
expect_eq "the checker ran" 0 "$rc"
echo "# $(cat "$CG_DIR/check.log")"
expect_match "... over the dashboard and the rules" 'checked [1-9][0-9]+ queries naming [1-9][0-9]+ metrics' "$(cat "$CG_DIR/check.log")"
expect_eq "every metric and label the dashboard and the rules name is exported" "" "$problems"
cg_summary
