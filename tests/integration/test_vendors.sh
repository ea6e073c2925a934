#!/usr/bin/env bash
# The vendor list a choice names, in the chain and kept: a choice records
# the list's id beside build and notice (the one named, or the one in
# service marked asserted); the list's exact bytes are kept (consentctl
# notice show writes them back); a changed list retires the old one, which
# a granting choice may no longer name (409 stale_vendors) while a refusal
# still may; the bundle holds every recorded list and verify.py checks it;
# an edited list id in a row fails consentctl verify, an edited list in
# the bundle fails verify.py. Both backends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PY=/usr/bin/python3
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
trap stack_stop EXIT
export CG_INI_EXTRA="
[vendors]
catalogue = $CG_SRC/conf/vendors.ini

[vendor.standin-stats]
title = Stand-in Statistics
category = statistics
hosts = vendor.test
cookies = _sv_*
storage =
recipient = Standin Analytics AS
country = NO
source = https://vendor.example/cookies
"
stack_start || exit 1
CTL=("$CG_BUILD/consentctl" -c "$CG_INI")
BUILD=$(cat "$CG_DIR/build-id")
NONE=$(printf -- '-%.0s' $(seq 64))
post() { # JAR BODY-REST: the status; the answer in $CG_DIR/answer.json
	curl -s -o "$CG_DIR/answer.json" -w '%{http_code}' -c "$1" -b "$1" -H 'Content-Type: application/json' \
		-d "{\"choices\":{\"preferences\":false,\"statistics\":$2,\"marketing\":false},\"policy_version\":\"2023-12\"$3}" \
		"$CG_URL/consent"
}
answer() { "$PY" -c "import json,sys; a = json.load(sys.stdin); print(' '.join(str(a.get(k)) for k in sys.argv[1:]))" "$@" <"$CG_DIR/answer.json"; }
banner_of_last() { sql "SELECT banner FROM consent_events ORDER BY id DESC LIMIT 1"; }
# the list's exact bytes: GET /consent/vendors is {"id":ID,"vendors":LIST}
list_bytes() { curl -s "$CG_URL/consent/vendors" | "$PY" -c 'import sys; b = sys.stdin.buffer.read(); sys.stdout.buffer.write(b[len(b"{\"id\":\"") + 64 + len(b"\",\"vendors\":"):-1])'; }
list_bytes >"$CG_DIR/list1.json"
L1=$(sha256sum <"$CG_DIR/list1.json" | cut -c1-64)
expect_eq "the list's id is the SHA-256 of its bytes" "$L1" "$(curl -s "$CG_URL/consent/vendors" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

echo "# the list in the record"
expect_eq "a choice naming build and list" 200 "$(post "$CG_DIR/a" true ",\"banner\":\"$BUILD\",\"vendors\":\"$L1\"")"
expect_eq "... records the list's id beside build and notice" "build=$BUILD;notice=$NONE;vendors=$L1" "$(banner_of_last)"
expect_eq "a choice naming the build, no list" 200 "$(post "$CG_DIR/b" true ",\"banner\":\"$BUILD\"")"
expect_eq "... records the list in service, asserted" "build=$BUILD;notice=$NONE;vendors=$L1;asserted" "$(banner_of_last)"
expect_eq "a list never served: 400 naming the field" "400 bad_field vendors" \
	"$(post "$CG_DIR/c" true ",\"vendors\":\"$(printf '0%.0s' $(seq 64))\"") $(answer error field)"
expect_eq "consentctl notice list: the list, in service" "vendors $L1 in service" \
	"$("${CTL[@]}" notice list | "$PY" -c 'import json,sys
print("|".join("%s %s %s" % (s["kind"], s["id"], "retired" if s["retired"] else "in service") for s in json.load(sys.stdin)["shown"] if s["kind"] == "vendors"))')"
mkdir "$CG_DIR/out1"
"${CTL[@]}" notice show "$L1" -o "$CG_DIR/out1" >/dev/null
expect_eq "notice show: the list's exact bytes, as served" same "$(cmp -s "$CG_DIR/list1.json" "$CG_DIR/out1/vendors.json" && echo same)"

echo "# a changed list retires the old one"
cg_stop_daemon
cat >>"$CG_INI" <<'INI'

[vendor.standin-ads]
category = marketing
hosts = ads.vendor.test
cookies = _sa
storage =
recipient = Standin Ads Ltd
country = NO
source = https://vendor.example/ads
INI
cg_start_daemon || exit 1
list_bytes >"$CG_DIR/list2.json"
L2=$(sha256sum <"$CG_DIR/list2.json" | cut -c1-64)
expect_eq "a new list in service" 1 "$([ "$L2" != "$L1" ] && echo 1)"
expect_eq "a grant naming the retired list: 409 stale_vendors, naming the list in service" "409 stale_vendors $L2" \
	"$(post "$CG_DIR/a" true ",\"banner\":\"$BUILD\",\"vendors\":\"$L1\"") $(answer error current_vendors)"
expect_eq "... nothing recorded" "build=$BUILD;notice=$NONE;vendors=$L1;asserted" "$(banner_of_last)"
expect_eq "a choice granting nothing, naming the retired list, is never refused" 200 \
	"$(post "$CG_DIR/a" false ",\"banner\":\"$BUILD\",\"vendors\":\"$L1\"")"
expect_eq "... and records the list the visitor saw" "build=$BUILD;notice=$NONE;vendors=$L1" "$(banner_of_last)"
expect_eq "a withdrawal is never refused" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -b "$CG_DIR/a" "$CG_URL/consent")"
expect_eq "the new list records" 200 "$(post "$CG_DIR/d" true ",\"banner\":\"$BUILD\",\"vendors\":\"$L2\"")"
expect_eq "... with its id" "build=$BUILD;notice=$NONE;vendors=$L2" "$(banner_of_last)"
expect_eq "consentctl notice list: the old list retired, the new one in service" \
	"$(printf '%s\n' "vendors $L1 retired" "vendors $L2 in service" | sort | paste -sd'|')" \
	"$("${CTL[@]}" notice list | "$PY" -c 'import json,sys
print("|".join(sorted("%s %s %s" % (s["kind"], s["id"], "retired" if s["retired"] else "in service") for s in json.load(sys.stdin)["shown"] if s["kind"] == "vendors")))')"
"${CTL[@]}" purge >/dev/null
expect_eq "the purge keeps a retired list while rows name it" 1 "$(sql "SELECT count(*) FROM shown WHERE id = '$L1'")"
out=$("${CTL[@]}" verify); rc=$?
expect_match "consentctl verify: the log with its lists" "^0 OK: 5 rows verified" "$rc $out"

echo "# the lists in the bundle"
today=$(date -u +%F)
"${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/bundle.tar.gz" >/dev/null
mkdir "$CG_DIR/u" && tar -xzf "$CG_DIR/bundle.tar.gz" -C "$CG_DIR/u"
B="$CG_DIR/u/consentgate-bundle-$today-$today"
expect_eq "the bundle holds both lists, byte for byte" "same same" \
	"$(cmp -s "$B/artefacts/$L1" "$CG_DIR/list1.json" && echo same) $(cmp -s "$B/artefacts/$L2" "$CG_DIR/list2.json" && echo same)"
expect_eq "... indexed as vendor lists" "$(printf '%s\n' "vendors $L1 vendors.json" "vendors $L2 vendors.json" | sort | paste -sd'|')" \
	"$("$PY" -c 'import json,sys
print("|".join(sorted("%s %s %s" % (s["kind"], s["id"], s["files"][0]["name"]) for s in json.load(open(sys.argv[1])) if s["kind"] == "vendors")))' "$B/artefacts/index.json")"
out=$(cd "$B" && "$PY" verify.py 2>&1); rc=$?
expect_match "verify.py: OK" "^0 .*OK$" "$rc $(echo $out)"
cp -r "$B" "$CG_DIR/edited"
printf ' ' >>"$CG_DIR/edited/artefacts/$L1"
out=$(cd "$CG_DIR/edited" && "$PY" verify.py 2>&1); rc=$?
expect_match "verify.py: a kept list edited in the bundle fails, naming it" "^1 .*artefacts/$L1 is not the file of that SHA-256" "$rc $(echo $out)"
cp -r "$B" "$CG_DIR/dropped"
"$PY" - "$CG_DIR/dropped/artefacts/index.json" "$L1" <<'PY'
import json, sys
p, drop = sys.argv[1], sys.argv[2]
json.dump([s for s in json.load(open(p)) if s["id"] != drop], open(p, "w"))
PY
out=$(cd "$CG_DIR/dropped" && "$PY" verify.py 2>&1); rc=$?
expect_match "verify.py: a recorded list missing from the bundle fails, naming it" "^1 .*names $L1, which the bundle does not hold" "$rc $(echo $out)"

echo "# an edited list id in a row"
cg_stop_daemon
OTHER=$(printf 'f%.0s' $(seq 64))   # (an id no row names: SQLite keeps each record once)
ID=$(sql "SELECT id FROM consent_events WHERE banner = 'build=$BUILD;notice=$NONE;vendors=$L1' ORDER BY id LIMIT 1")
if [ "$CG_BACKEND" = postgresql ]; then
	pgsql "$CG_PG_DB" "ALTER TABLE events DISABLE TRIGGER USER;
		UPDATE events SET banner = replace(banner, '$L1', '$OTHER') WHERE id = $ID" >/dev/null
	out=$("${CTL[@]}" verify); rc=$?
	pgsql "$CG_PG_DB" "UPDATE events SET banner = replace(banner, '$OTHER', '$L1') WHERE id = $ID;
		ALTER TABLE events ENABLE TRIGGER USER" >/dev/null
else
	cp "$CG_DB" "$CG_DIR/t.db"
	sqlite3 "$CG_DIR/t.db" "UPDATE contexts SET banner = replace(banner, '$L1', '$OTHER')
		WHERE cid = (SELECT cid FROM events WHERE id = $ID)"
	out=$("${CTL[@]}" verify --database "$CG_DIR/t.db"); rc=$?
fi
expect_match "consentctl verify fails at the row whose list id was changed" "^1 BROKEN: row $ID" "$rc $out"
out=$("${CTL[@]}" verify); rc=$?
expect_eq "the log itself still verifies" 0 "$rc"

echo "# a site that stops declaring vendors"
sed -i '/^\[vendors\]/,$d' "$CG_INI"
cg_start_daemon || exit 1
expect_eq "the list its pages showed is retired: a grant naming it is a 409" "409 stale_vendors" \
	"$(post "$CG_DIR/e" true ",\"banner\":\"$BUILD\",\"vendors\":\"$L2\"") $(answer error)"
expect_eq "without vendors a choice records no list" "200 build=$BUILD;notice=$NONE" \
	"$(post "$CG_DIR/e" true ",\"banner\":\"$BUILD\"") $(banner_of_last)"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
