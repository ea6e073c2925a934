#!/usr/bin/env bash
# Installs a real, openly licensed country database: ip-location-db's
# "geo-whois-asn-country" (CC0-1.0, public domain dedication), from the npm
# package @ip-location-db/geo-whois-asn-country-mmdb. Its records keep the
# code at `country_code`, so set  [geoip] country_path = country_code.
#
#   bash geoip/install-country-db.sh [TARGET]   (default /var/lib/consentgate/country.mmdb)
#
# The file is replaced by rename (the daemon mmaps it); then run
#   systemctl reload consentgated     (SIGHUP: reopen the country database)
# Run it monthly (e.g. a systemd timer) to keep the data fresh.
set -euo pipefail
target=${1:-/var/lib/consentgate/country.mmdb}
pkg=@ip-location-db/geo-whois-asn-country-mmdb
command -v npm >/dev/null || { echo "install-country-db: needs npm (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg" >/dev/null && tar -xzf ./*.tgz)
src=$(find "$work/package" -name '*.mmdb' | head -1)
[ -n "$src" ] || { echo "install-country-db: no .mmdb in $pkg" >&2; exit 1; }
mkdir -p "$(dirname "$target")"
cp "$src" "$target.new"
mv -f "$target.new" "$target"
echo "installed $(basename "$src") from $pkg (CC0-1.0) as $target"
