#!/usr/bin/env bash
# The demo command: installs what is missing, builds, creates the test
# country database and starts consentgated behind nginx on 127.0.0.1:8080.
#   bash conf/demo.sh        start (or restart)
#   bash conf/demo.sh stop   stop it
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export CG_SRC=$src CG_BUILD=$src/build
export CG_DIR=/var/lib/consentgate-demo CG_PORT=${CG_PORT:-8080} CG_DETACH=1
# the demo forwards to stand-ins behind the same nginx proxy paths a real site uses
export CG_INI_EXTRA="
[report]
; a demo has few visitors: show every cell (production default: 5)
min_visitors = 1

[destination.ga4]
type = ga4
url = http://127.0.0.1:$CG_PORT/_ga/mp/collect
measurement_id = G-DEMO000000
api_secret = demo-placeholder
purpose = statistics
basis = consent

[destination.audience]
type = webhook
url = http://127.0.0.1:$CG_PORT/_hotjar/events
purpose = statistics
basis = legitimate_interest
"

stop() {
	[ -f "$CG_DIR/nginx.pid" ] && kill -QUIT "$(cat "$CG_DIR/nginx.pid")" 2>/dev/null || true
	[ -f "$CG_DIR/daemon.pid" ] && kill -TERM "$(cat "$CG_DIR/daemon.pid")" 2>/dev/null || true
	rm -f "$CG_DIR/nginx.pid" "$CG_DIR/daemon.pid"
	sleep 0.5
}
if [ "${1:-}" = stop ]; then
	stop
	echo "consentgate demo stopped (data kept in $CG_DIR)"
	exit 0
fi

bash "$src/conf/install-deps.sh"
cmake -S "$src" -B "$CG_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$CG_BUILD" -j "$(nproc)" >/dev/null
stop
mkdir -p "$CG_DIR"
rm -f "$CG_DIR/country.mmdb"
# shellcheck source=../tests/lib/stack.sh
source "$src/tests/lib/stack.sh"
stack_start
cat <<TXT

consentgate demo is running.
  Open:        http://127.0.0.1:$CG_PORT/     (the demo shop: record a choice, see the table)
  Your state:  curl -s http://127.0.0.1:$CG_PORT/consent
  Your data:   curl -s -b 'cg_id=<the cg_id cookie of your browser>' http://127.0.0.1:$CG_PORT/consent/export
  Export:      $CG_BUILD/consentctl -c $CG_INI export --consent-id <the cg_id cookie>
  Receipt:     $CG_BUILD/consentctl -c $CG_INI receipt --consent-id <the cg_id cookie>
  Erase:       $CG_BUILD/consentctl -c $CG_INI erase --consent-id <the cg_id cookie>
  Report:      $CG_BUILD/consentctl -c $CG_INI report
  Chain check: $CG_BUILD/consentctl -c $CG_INI verify
  Database:    sqlite3 -readonly $CG_DB 'SELECT * FROM consent_daily'
  Outbox:      sqlite3 -readonly $CG_DB 'SELECT id, destination, mode, state FROM outbox'
  Logs:        $CG_DIR/daemon.log, $CG_DIR/nginx-access.log
  Stop:        bash $src/conf/demo.sh stop
TXT
