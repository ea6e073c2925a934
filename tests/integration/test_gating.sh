#!/usr/bin/env bash
# Page gating in headless Chromium against the real nginx and consentgated:
# held scripts, embeds behind placeholders, vendor cookies cleared, every
# vendor's consent signal, the vendor list recorded (tests/browser/gating.test.mjs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT

[ -d "$CG_SRC/tests/browser/node_modules/playwright-core" ] ||
	(cd "$CG_SRC/tests/browser" && npm ci --no-audit --no-fund --silent) || exit 1

export CG_PORT=$(cg_free_port)
# a vendor the catalogue does not know (every key), a catalogue one as it
# is, and one as the test's second origin sets its cookies
export CG_INI_EXTRA="
[vendors]
catalogue = $CG_SRC/conf/vendors.ini

[vendor.standin-stats]
title = Stand-in Statistics
category = statistics
hosts = vendor.test
cookies = _sv_* sv_http
storage = _sv*
recipient = Standin Analytics AS
country = NO
source = https://vendor.example/cookies

[vendor.youtube]
[vendor.hotjar]
"
# Chromium sends no Sec-Fetch-Site to a plain-http host other than localhost
export CG_ORIGINS_EXTRA="http://www.shop.test:$CG_PORT"
stack_start || exit 1
export CG_DIR CG_URL CG_DB CG_SRC CG_PORT CG_SHOTS="$CG_BUILD/screenshots"
[ "$CG_BACKEND" = postgresql ] && export CG_PG_URL
node "$CG_SRC/tests/browser/gating.test.mjs"
rc=$?
[ "$rc" = 0 ] || tail -20 "$CG_DIR/daemon.log" "$CG_DIR/nginx-error.log"
CG_DAEMON_PID=$(cat "$CG_DIR/daemon.pid")
cg_stop_daemon
expect_eq "browser tests" 0 "$rc"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
