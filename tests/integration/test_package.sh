#!/usr/bin/env bash
# The Debian package, built and installed for real (root): debhelper builds
# it from a copy of the source tree; lintian finds no error and no warning;
# `apt-get install ./consentgate_*.deb` creates the system user, the
# conffiles and the state directory and starts nothing; the installed
# consentgated -t accepts the installed config; the unit's exposure stays at
# or below 1.5; `apt-get purge` leaves only what the package says it keeps.
# cpack refuses to make a package. `cmake --install` never overwrites an
# edited config. The machine is left as it was, even on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
T=$(mktemp -d /tmp/cg-test.XXXXXX)
APT=(apt-get -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive
installed_here=
had_user=$(getent passwd consentgate)
had_state=$([ -e /var/lib/consentgate ] && echo yes)
had_run=$([ -e /run/consentgate ] && echo yes)

cleanup() {
	if [ -n "$installed_here" ]; then
		"${APT[@]}" purge consentgate consentgate-dbgsym >/dev/null 2>&1
		[ -z "$had_state" ] && rm -rf /var/lib/consentgate
		[ -z "$had_run" ] && rm -rf /run/consentgate
		if [ -z "$had_user" ] && getent passwd consentgate >/dev/null; then
			deluser --quiet --system consentgate >/dev/null 2>&1
			getent group consentgate >/dev/null && delgroup --quiet --system consentgate >/dev/null 2>&1
		fi
	fi
	rm -rf "$T"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	not_ok "the package test installs a package: it runs as root"; cg_summary; exit 1
fi
# never touch an operator's real installation
if dpkg-query -W -f='${Status}' consentgate 2>/dev/null | grep -qv 'not-installed'; then
	not_ok "consentgate is already installed on this machine: the test installs and purges its own" \
		"($(dpkg-query -W -f='${Status}' consentgate)); remove it first"
	cg_summary; exit 1
fi

# ---- cpack makes no package, and says how to build one -----------------------
cmake -S "$CG_SRC" -B "$T/usrlocal" -DCG_TESTS=OFF >"$T/usrlocal.log" 2>&1
out=$(cd "$T" && cpack -G DEB --config "$T/usrlocal/CPackConfig.cmake" 2>&1); rc=$?
expect_match "cpack -G DEB from a /usr/local build is refused" '^[1-9]' "$rc"
expect_match "... and says how to build the package" 'dpkg-buildpackage -b' "$out"
expect_eq "... and makes nothing" "" "$(find "$T" -maxdepth 3 -name '*.deb')"

# ---- build with debhelper from a copy of the source tree ---------------------
mkdir "$T/src"
(cd "$CG_SRC" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$T/src")
(cd "$T/src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1; rc=$?
expect_eq "dpkg-buildpackage -b builds the packages" 0 "$rc"
deb=$(ls "$T"/consentgate_*.deb 2>/dev/null | head -1)
dbg=$(ls "$T"/consentgate-dbgsym_*.deb 2>/dev/null | head -1)
expect_match "... consentgate" '/consentgate_[0-9.]+_[a-z0-9]+\.deb$' "$deb"
expect_match "... and its debug symbols, consentgate-dbgsym" '/consentgate-dbgsym_[0-9.]+_[a-z0-9]+\.deb$' "$dbg"
if [ -z "$deb" ] || [ -z "$dbg" ]; then tail -40 "$T/build.log"; cg_summary; exit 1; fi
cmake_version=$(sed -nE 's/^project\(consentgate VERSION ([0-9.]+).*/\1/p' "$CG_SRC/CMakeLists.txt")
expect_eq "the package's version is the project's (debian/changelog, CMakeLists.txt)" \
	"$cmake_version" "$(dpkg-deb -f "$deb" Version)"

# ---- lintian: no error, no warning (no override) ------------------------------
lint=$(lintian --fail-on error,warning "$T"/consentgate_*.changes 2>&1); rc=$?
expect_eq "lintian: no error and no warning [$(grep -E '^[EW]: ' <<<"$lint" | tr '\n' ';')]" 0 "$rc"
expect_eq "... and no lintian override in debian/" "" "$(find "$CG_SRC/debian" -name '*lintian-overrides*')"

# ---- what the package declares and holds --------------------------------------
deps=$(dpkg-deb -f "$deb" Depends)
for p in libfcgi0ldbl libsqlite3-0 libpq5 libmaxminddb0 libcurl4 libjansson4 libinih1 libsodium23 libarchive13 adduser; do
	expect_match "Depends: $p" "(^|, )$p( |,|$)" "$deps"
done
expect_eq "Recommends: nginx" nginx "$(dpkg-deb -f "$deb" Recommends)"
expect_eq "the maintainer is the project's (debian/control)" \
	"$(sed -n 's/^Maintainer: //p' "$CG_SRC/debian/control")" "$(dpkg-deb -f "$deb" Maintainer)"
expect_ge "an extended description of at least 5 lines" 5 "$(dpkg-deb -f "$deb" Description | tail -n +2 | wc -l)"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/consentgated ./usr/bin/consentctl ./lib/systemd/system/consentgated.service \
	./etc/consentgate/consentgate.ini ./etc/consentgate/nginx/consentgate-locations.conf \
	./usr/share/consentgate/web/banner.js ./usr/share/consentgate/web/banner.css \
	./usr/share/consentgate/analyst-role.sql ./usr/lib/tmpfiles.d/consentgate.conf \
	./usr/share/doc/consentgate/copyright \
	./usr/share/doc/consentgate/changelog.gz ./usr/share/doc/consentgate/README.Debian \
	./usr/share/doc/consentgate/examples/nginx-site.conf \
	./usr/share/doc/consentgate/examples/monitoring/grafana-dashboard.json \
	./usr/share/doc/consentgate/examples/monitoring/prometheus-alerts.yml; do
	expect_match "ships $f" "(^|$(printf '\n'))$f($(printf '\n')|$)" "$files"
done
expect_eq "nothing outside the FHS places" "" \
	"$(grep -vE '^\./((etc|lib|usr)/?)?$|^\./(etc/consentgate|lib/systemd|usr/(s?bin|share|lib/tmpfiles\.d))(/|$)|^\./usr/lib/$' <<<"$files")"
dpkg-deb -e "$deb" "$T/ctl"
expect_match "prerm stops the daemon on removal" "deb-systemd-invoke stop 'consentgated.service'" "$(cat "$T/ctl/prerm" 2>&1)"
expect_eq "postinst enables the unit only if it was enabled before (an upgrade)" \
	"if deb-systemd-helper --quiet was-enabled 'consentgated.service'; then" \
	"$(grep -B2 "deb-systemd-helper enable" "$T/ctl/postinst" | sed -n 1p | sed 's/^[[:space:]]*//')"
dpkg-deb -x "$dbg" "$T/dbg"
for b in usr/sbin/consentgated usr/bin/consentctl; do
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$b" >"$T/bin"
	id=$(readelf -n "$T/bin" | sed -n 's/.*Build ID: //p')
	expect_eq "$b is stripped" "" "$(readelf -S "$T/bin" | grep -E '\.symtab|\.debug_info')"
	expect_match "... its debug symbols are in consentgate-dbgsym (build id $id)" '\.debug_info' \
		"$(readelf -S "$T/dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" 2>&1)"
done

# ---- installed for real --------------------------------------------------------
installed_here=1
out=$("${APT[@]}" install "$deb" 2>&1); rc=$?
expect_eq "apt-get install ./consentgate_*.deb" 0 "$rc"
[ "$rc" -eq 0 ] || echo "$out" | tail -20
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd consentgate)"
expect_match "the system user consentgate (uid $uid < 1000)" '^[1-9][0-9]{0,2}$' "$uid"
expect_eq "... home /var/lib/consentgate" /var/lib/consentgate "$home"
expect_match "... no login shell" 'nologin|false' "$shell"
expect_match "... a member of www-data (the socket's group)" '(^| )www-data( |$)' "$(id -nG consentgate)"
expect_eq "/var/lib/consentgate: consentgate's alone" "consentgate consentgate 750" \
	"$(stat -c '%U %G %a' /var/lib/consentgate)"
conff=$(dpkg-query -W -f='${Conffiles}' consentgate)
for f in consentgate.ini nginx/consentgate-http.conf nginx/consentgate-locations.conf \
	nginx/consentgate-fastcgi.conf nginx/consentgate-proxy.conf; do
	expect_match "conffile /etc/consentgate/$f" " /etc/consentgate/$f [0-9a-f]{32}" "$conff"
done
for m in consentctl consentgated consentgate.ini; do
	expect_match "man -w $m" "/usr/share/man/man[158]/$m\.[158]\.gz$" "$(man -w "$m" 2>&1)"
done
expect_eq "the unit is not enabled" "" "$(find /etc/systemd/system -name 'consentgated*' 2>/dev/null)"
expect_eq "... and nothing was started (no socket)" "" "$(ls /run/consentgate 2>/dev/null)"
expect_eq "the socket's directory /run/consentgate exists (tmpfiles.d), consentgate's" "consentgate 755" \
	"$(stat -c '%U %a' /run/consentgate 2>&1)"
doc=$(sed -n 's#^Documentation=file://##p' /lib/systemd/system/consentgated.service)
expect_match "the unit's Documentation= is installed ($doc)" '^/usr/share/doc/consentgate/.+' "$(ls "$doc" 2>&1)"
sec=$(systemd-analyze security --offline=true /lib/systemd/system/consentgated.service 2>&1)
exposure=$(sed -nE 's/.*Overall exposure level for consentgated\.service: ([0-9.]+).*/\1/p' <<<"$sec")
expect_match "systemd-analyze security --offline=true: exposure $exposure <= 1.5" '^(0\.[0-9]|1\.[0-5])$' "$exposure"

perl "$CG_SRC/geoip/build-test-mmdb.pl" "$CG_SRC/geoip/test-networks.csv" /var/lib/consentgate/country.mmdb >/dev/null
chown consentgate:consentgate /var/lib/consentgate/country.mmdb
out=$(runuser -u consentgate -- consentgated -t -c /etc/consentgate/consentgate.ini 2>&1); rc=$?
expect_eq "the installed consentgated -t on the installed config, as consentgate: exit 0 [$out]" 0 "$rc"
expect_match "... says OK" 'configuration OK' "$out"
out=$(consentctl banner id /usr/share/consentgate/web 2>&1); rc=$?
expect_match "the installed banner build carries its id (stamped at install)" "^0 [0-9a-f]{32}$" "$rc $out"
expect_match "consentctl runs" '^consentctl ' "$(consentctl --version 2>&1)"

echo "; edited by the operator" >>/etc/consentgate/consentgate.ini
"${APT[@]}" install --reinstall "$deb" >/dev/null 2>&1
expect_match "a reinstall keeps the edited config" 'edited by the operator' "$(tail -1 /etc/consentgate/consentgate.ini)"

# ---- purge: only what the package says it keeps is left -----------------------
owned=$(dpkg -L consentgate)
out=$("${APT[@]}" purge consentgate 2>&1); rc=$?
expect_eq "apt-get purge consentgate" 0 "$rc"
expect_eq "... leaves no trace in dpkg's database" "" "$(dpkg-query -W -f='${Status}' consentgate 2>/dev/null | grep -v not-installed)"
left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <<<"$owned")
expect_eq "... removes every file it shipped" "" "$left"
expect_eq "... removes its directories and the configuration" "" \
	"$(ls -d /etc/consentgate /usr/share/consentgate /usr/share/doc/consentgate /run/consentgate 2>/dev/null)"
expect_eq "... and the unit's enablement state" "" \
	"$(find /etc/systemd /var/lib/systemd -name '*consentgated*' 2>/dev/null)"
expect_eq "... keeps the consent log in /var/lib/consentgate (it says so)" "country.mmdb" "$(ls /var/lib/consentgate)"
expect_match "... and says why and how to remove it" 'consent log.*rm -r /var/lib/consentgate' "$(tr '\n' ' ' <<<"$out")"
expect_match "... keeps the consentgate user that owns it (README.Debian)" '^consentgate:' "$(getent passwd consentgate)"

# ---- cmake --install: the edited config stays ----------------------------------
DESTDIR="$T/inst" cmake --install "$CG_BUILD" >/dev/null 2>&1
ini=$(find "$T/inst" -name consentgate.ini -path '*etc/consentgate*' | head -1)
expect_match "cmake --install puts the config under etc/consentgate" 'etc/consentgate/consentgate\.ini$' "$ini"
echo "; edited by the operator" >>"$ini"
DESTDIR="$T/inst" cmake --install "$CG_BUILD" >"$T/inst.log" 2>&1
expect_match "a second cmake --install keeps the edited config" 'edited by the operator' "$(tail -1 "$ini")"
expect_match "... and says so" 'Kept: ' "$(cat "$T/inst.log")"
cg_summary
