#!/usr/bin/env bash
# The per-visitor Content-Security-Policy in headless Chromium against the
# real nginx and consentgated, in enforce mode, with the daemon stopped, and
# in report mode
# (tests/browser/csp.test.mjs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT

[ -d "$CG_SRC/tests/browser/node_modules/playwright-core" ] ||
	(cd "$CG_SRC/tests/browser" && npm ci --no-audit --no-fund --silent) || exit 1

export CG_PORT=$(cg_free_port) VPORT=$(cg_free_port)
export CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
export CG_NGINX_EXTRA="
        location /shop/ {
            set \$cg_csp_fallback \"script-src 'self' 'unsafe-inline'\";
            include $CG_DIR/nginx/consentgate-csp.conf;
            alias $CG_DIR/web/demo/;
        }"
ini() {
	CG_INI_EXTRA="
[vendors]
catalogue = $CG_SRC/conf/vendors.ini

[vendor.standin-stats]
category = statistics
hosts = 127.0.0.2:$VPORT
cookies = _sv_*
storage = _sv*
recipient = Standin Analytics AS
country = NO
source = https://vendor.example/cookies

[csp]
mode = $1
base = 'self' 'unsafe-inline'
# Chromium sends report-to reports only from HTTPS pages: report-uri here
report_to = false"
}
ini enforce
export CG_INI_EXTRA
stack_start || exit 1
export CG_DIR CG_PORT
for mode in enforce stopped report; do
	[ "$mode" = stopped ] && cg_stop_daemon # the pages are still served, with the fallback
	if [ "$mode" = report ]; then
		ini report
		cg_write_ini
		cg_start_daemon || exit 1
	fi
	CSP_MODE=$mode node "$CG_SRC/tests/browser/csp.test.mjs"
	rc=$?
	[ "$rc" = 0 ] || { tail -n 20 "$CG_DIR/daemon.log"; grep -h "csp-report" "$CG_DIR/nginx-access.log" | tail -n 5; }
	expect_eq "browser tests ($mode)" 0 "$rc"
done
cg_stop_daemon
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
