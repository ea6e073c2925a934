#!/usr/bin/env bash
# The banner in headless Chromium (Debian's chromium + playwright-core) against
# the real nginx and consentgated: tests/browser/banner.test.mjs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
trap stack_stop EXIT

[ -d "$CG_SRC/tests/browser/node_modules/playwright-core" ] ||
	(cd "$CG_SRC/tests/browser" && npm ci --no-audit --no-fund --silent) || exit 1

export CG_PORT=$(cg_free_port)
export CG_INI_EXTRA="
[destination.ga4]
type = ga4
url = http://127.0.0.1:$CG_PORT/_ga/mp/collect
measurement_id = G-DEMO
api_secret = demo
purpose = statistics
basis = consent
"
stack_start || exit 1
# the demo page (lang="nb", the one-tag embed) and variants of it: without a
# page language (the browser's decides), and with the site's own stylesheet link
sed 's/<html lang="nb">/<html>/' "$CG_DIR/web/demo/index.html" >"$CG_DIR/web/demo/nolang.html"
sed 's#<script src="/consent/banner.js"#<link rel="stylesheet" href="/consent/banner.css">\n&#' \
	"$CG_DIR/web/demo/nolang.html" >"$CG_DIR/web/demo/linked.html"
cp "$CG_DIR/web/demo/nolang.html" "$CG_DIR/web/demo/old.html"
# a page whose own CSS hides and restyles everything banner-like
hostile='.cg, .cg-b, .cg-a, [role="dialog"], consent-gate, div, button, h2 { display: none !important; visibility: hidden !important; color: red !important; font-size: 2px !important; background: lime !important }'
sed "s#</head>#<style>$hostile</style></head>#" "$CG_DIR/web/demo/nolang.html" >"$CG_DIR/web/demo/hostile.html"
# for the layout-shift check, both embeds on pages without the demo's own
# script: its table and state box fill in after a fetch, a shift of the
# page's own making that comes or not with the machine's speed
for f in index linked; do
	sed '/^<script>$/,/^<\/script>$/d' "$CG_DIR/web/demo/$f.html" >"$CG_DIR/web/demo/static-$f.html"
done

# what an operator does on a material policy change: new version in the
# daemon's configuration and in the banner embed
export CG_BUMP_POLICY="
sed -i 's/^version = 2023-12/version = 2024-06/' '$CG_INI'
kill -TERM \$(cat '$CG_DIR/daemon.pid'); while kill -0 \$(cat '$CG_DIR/daemon.pid') 2>/dev/null; do sleep 0.05; done
setsid '$CG_BUILD/consentgated' -c '$CG_INI' </dev/null >/dev/null 2>>'$CG_DIR/daemon.log' & echo \$! > '$CG_DIR/daemon.pid'
for i in \$(seq 100); do [ -S '$CG_SOCKET' ] && break; sleep 0.05; done
sed -i 's/data-policy-version=\"2023-12\"/data-policy-version=\"2024-06\"/' '$CG_DIR/web/demo/index.html'
"
export CG_SHOTS="$CG_BUILD/screenshots" CG_URL CG_DB CG_SRC CG_BUILD_ID=$(cat "$CG_DIR/build-id")
[ "$CG_BACKEND" = postgresql ] && export CG_PG_URL
node "$CG_SRC/tests/browser/banner.test.mjs"
rc=$?
CG_DAEMON_PID=$(cat "$CG_DIR/daemon.pid")
cg_stop_daemon
expect_eq "browser tests" 0 "$rc"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
