#!/usr/bin/env bash
# Installs what consentgate needs from Debian 12's packages, and nothing when
# everything is already there. Run as root.
set -euo pipefail

# build + runtime
PKGS=(build-essential cmake pkg-config
      libfcgi-dev libsqlite3-dev libmaxminddb-dev libcmocka-dev libcurl4-openssl-dev
      libjansson-dev libinih-dev libsodium-dev libpq-dev libarchive-dev
      nginx sqlite3 curl
      libmaxmind-db-writer-perl   # builds the test country database
      python3)                     # test helpers (free ports, sinks)
# tests (--test) and benchmarks (--bench: also the PHP-FPM and c15t peers)
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--bench" ]; then
	PKGS+=(wrk clang libclang-rt-14-dev chromium fonts-dejavu-core procps e2fsprogs util-linux
	       postgresql    # the tests' private cluster (tests/lib/pg.sh), never the packaged one
	       python3-nacl openssl   # independent verifiers of signed receipts and heads
	       debhelper lintian git  # the Debian package: built, checked, installed and purged
	       systemd man-db         # ... its unit's exposure (systemd-analyze), its man pages
	       prometheus python3-yaml   # promtool checks the alert rules; the rules' names checked
	       mandoc                 # the manual pages' lint (mandoc -T lint; man-db: man --warnings)
	       libfaketime)           # time passing for retention: purges years on (tests/lib/stack.sh cg_at)
	# the browser tests run on Node (playwright-core): Debian's nodejs + npm,
	# unless a node is already installed some other way
	command -v npm >/dev/null || PKGS+=(nodejs npm)
fi
if [ "${1:-}" = "--bench" ]; then
	PKGS+=(php-fpm php-sqlite3)
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged nginx (php-fpm, postgresql) services; consentgate's
# demo, tests and benchmarks run their own instances.
if command -v systemctl >/dev/null; then
	for unit in nginx php8.2-fpm postgresql prometheus prometheus-node-exporter; do
		systemctl is-active --quiet "$unit" 2>/dev/null && systemctl disable --now "$unit" >/dev/null 2>&1
	done
fi
# without systemd, invoke-rc.d may have started prometheus (it brings promtool)
if [ ! -d /run/systemd/system ] && [ -x /etc/init.d/prometheus ] && [[ " ${missing[*]} " == *" prometheus "* ]]; then
	/etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi
# without systemd the package may have started its cluster itself
if command -v pg_lsclusters >/dev/null; then
	pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' |
		while read -r ver name; do pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1; done
fi
true
