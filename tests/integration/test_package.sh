#!/usr/bin/env bash
# Installing for real: `cpack -G DEB` builds a Debian package from this build
# that declares its Debian dependencies, ships the config as a conffile,
# creates the system user and starts nothing; its unpacked consentgated runs
# -t on a copy of the unpacked config. `cmake --install` never overwrites an
# edited config.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
T=$(mktemp -d /tmp/cg-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

cpack -G DEB --config "$CG_BUILD/CPackConfig.cmake" -B "$T/out" >"$T/cpack.log" 2>&1
deb=$(ls "$T"/out/consentgate_*.deb 2>/dev/null | head -1)
expect_match "cpack -G DEB builds a package" '/consentgate_[0-9.]+_[a-z0-9]+\.deb$' "$deb"
[ -n "$deb" ] || { cat "$T/cpack.log"; cg_summary; exit 1; }

deps=$(dpkg-deb -f "$deb" Depends)
for p in libfcgi0ldbl libsqlite3-0 libpq5 libmaxminddb0 libcurl4 libjansson4 libinih1 libsodium23 libarchive13 adduser; do
	expect_match "Depends: $p" "(^|, )$p( |,|$)" "$deps"
done
expect_eq "Recommends: nginx" nginx "$(dpkg-deb -f "$deb" Recommends)"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/consentgated ./usr/bin/consentctl ./lib/systemd/system/consentgated.service \
	./etc/consentgate/consentgate.ini ./etc/consentgate/nginx/consentgate-locations.conf \
	./usr/share/consentgate/web/banner.js ./usr/share/consentgate/web/banner.css \
	./usr/share/consentgate/analyst-role.sql \
	./usr/share/doc/consentgate/examples/nginx-site.conf; do
	expect_match "ships $f" "(^|$(printf '\n'))$f($(printf '\n')|$)" "$files"
done
expect_eq "nothing outside the FHS places" "" "$(grep -vE '^\./(etc|lib/systemd|usr/(s?bin|share))(/|$)' <<<"$files" | grep -v '^\./$' | grep -v '^\./lib/$' | grep -v '^\./usr/$')"
dpkg-deb -e "$deb" "$T/ctl"
expect_match "the config is a conffile" '^/etc/consentgate/consentgate\.ini$' "$(grep consentgate.ini "$T/ctl/conffiles")"
expect_match "postinst creates the consentgate system user" 'adduser --system --group' "$(cat "$T/ctl/postinst")"
expect_eq "postinst starts and enables nothing" "" "$(grep -v '^#' "$T/ctl/postinst" | grep -E 'systemctl +(start|enable|restart)|deb-systemd-invoke')"

dpkg -x "$deb" "$T/root"
expect_match "the unit runs the packaged binary" 'ExecStart=/usr/sbin/consentgated -c /etc/consentgate/consentgate.ini' \
	"$(cat "$T/root/lib/systemd/system/consentgated.service")"
mkdir -p "$T/run" "$T/lib"
perl "$CG_SRC/geoip/build-test-mmdb.pl" "$CG_SRC/geoip/test-networks.csv" "$T/lib/country.mmdb" >/dev/null
sed -e "s#/run/consentgate/#$T/run/#" -e "s#/var/lib/consentgate/#$T/lib/#" \
	-e "s#/usr/share/consentgate/web#$T/root/usr/share/consentgate/web#" \
	"$T/root/etc/consentgate/consentgate.ini" >"$T/t.ini"
out=$("$T/root/usr/bin/consentctl" banner id "$T/root/usr/share/consentgate/web" 2>&1); rc=$?
expect_match "the packaged banner build carries its id (stamped at install)" "^0 [0-9a-f]{32}$" "$rc $out"
out=$("$T/root/usr/sbin/consentgated" -t -c "$T/t.ini" 2>&1); rc=$?
expect_eq "the unpacked consentgated -t on the unpacked config: exit 0 [$out]" 0 "$rc"
expect_match "... says OK" 'configuration OK' "$out"
out=$("$T/root/usr/bin/consentctl" --version); expect_match "the unpacked consentctl runs" '^consentctl ' "$out"

# cmake --install: the edited config stays
DESTDIR="$T/inst" cmake --install "$CG_BUILD" >/dev/null 2>&1
ini=$(find "$T/inst" -name consentgate.ini -path '*etc/consentgate*' | head -1)
expect_match "cmake --install puts the config under etc/consentgate" 'etc/consentgate/consentgate\.ini$' "$ini"
echo "; edited by the operator" >>"$ini"
DESTDIR="$T/inst" cmake --install "$CG_BUILD" >"$T/inst.log" 2>&1
expect_match "a second cmake --install keeps the edited config" 'edited by the operator' "$(tail -1 "$ini")"
expect_match "... and says so" 'Kept: ' "$(cat "$T/inst.log")"
cg_summary
