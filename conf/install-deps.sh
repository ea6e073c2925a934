#!/usr/bin/env bash
# Installs what consentgate needs from Debian 12's packages, and nothing when
# everything is already there. Run as root.
set -euo pipefail

# build + runtime
PKGS=(build-essential cmake pkg-config
      libfcgi-dev libsqlite3-dev libmaxminddb-dev libcmocka-dev libcurl4-openssl-dev
      libjansson-dev libinih-dev libsodium-dev
      nginx sqlite3 curl
      libmaxmind-db-writer-perl   # builds the test country database
      python3)                     # test helpers (free ports, sinks)
# tests and benchmarks
if [ "${1:-}" = "--test" ]; then
	PKGS+=(wrk clang libclang-rt-14-dev chromium fonts-dejavu-core)
	# the browser tests run on Node (playwright-core): Debian's nodejs + npm,
	# unless a node is already installed some other way
	command -v npm >/dev/null || PKGS+=(nodejs npm)
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
# Debian starts the packaged nginx on port 80; consentgate runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
	systemctl disable --now nginx >/dev/null 2>&1 || true
fi
