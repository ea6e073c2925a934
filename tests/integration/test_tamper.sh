#!/usr/bin/env bash
# The tamper suite (row format 2): a real log written by the daemon over
# four years of (faked) time — choices naming the build, notice and vendor list, a
# refusal, a withdrawal last week, an objection, an erasure, rows whose IP
# prefix retention cleared, visitors pruned by an honest purge, a key
# rotation — verifies with consentctl verify, verify --head (a head signed
# last) and the bundle's verify.py. Then, on copies of it, every column of
# every kind of row (as the database lists them: generated, not listed),
# changed the way someone with write access to the database would, and
# with what they can recompute without the key (digests, hashes, the rest
# of the chain), must fail all three, naming the row (tests/lib/tamper.py);
# so must the attacks: a current row pruned, last week's withdrawal pruned,
# a salt nulled and the fields rewritten, two rows' personal fields
# swapped, a purge with retention lowered in the configuration. Both
# backends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PY=/usr/bin/python3
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
trap stack_stop EXIT
printf '<!doctype html><title>Personvern 2023-12</title>\n' >"$CG_DIR/notice.html"
# a vendor declared: the choices record the vendor list's id too
export CG_INI_EXTRA="
[policy]
notice_file = $CG_DIR/notice.html

[vendors]
catalogue = $CG_SRC/conf/vendors.ini

[vendor.youtube]
"
CG_DAEMON_AT=-1500d stack_start || exit 1
CTL=("$CG_BUILD/consentctl" -c "$CG_INI")
BUILD=$(cat "$CG_DIR/build-id")
choose() { # JAR P S M [BANNER]: a choice; the jar keeps the visitor
	local b=""
	[ -n "${5:-}" ] && b=",\"banner\":\"$5\""
	curl -s -o /dev/null -w '%{http_code}' -c "$1" -b "$1" -H 'Content-Type: application/json' \
		-H "X-Forwarded-For: 203.0.113.$((RANDOM % 200 + 1))" \
		--data "{\"choices\":{\"preferences\":$2,\"statistics\":$3,\"marketing\":$4},\"policy_version\":\"2023-12\",\"lang\":\"nb\",\"page\":\"https://shop.example/p?q=1\"$b}" \
		"$CG_URL/consent"
}
at() { # OFFSET: the daemon from now on runs OFFSET from today (faketime)
	cg_stop_daemon
	if [ -n "$1" ]; then CG_DAEMON_AT=$1 cg_start_daemon; else cg_start_daemon; fi
}
withdraw() { curl -s -o /dev/null -X DELETE -b "$1" "$CG_URL/consent"; }

echo "# four years of a log"
choose "$CG_DIR/old1" false false false >/dev/null          # pruned later: a refusal
choose "$CG_DIR/old2" true true true "$BUILD" >/dev/null     # pruned later: a withdrawal
withdraw "$CG_DIR/old2"
at -800d || exit 1
choose "$CG_DIR/mid" true true false "$BUILD" >/dev/null     # kept, its IP prefix cleared
at -7d || exit 1
choose "$CG_DIR/week" true true true "$BUILD" >/dev/null     # last week's withdrawal
withdraw "$CG_DIR/week"
at "" || exit 1
choose "$CG_DIR/a" true true true "$BUILD" >/dev/null        # current
choose "$CG_DIR/b" false false false >/dev/null              # a refusal (the build asserted)
choose "$CG_DIR/c" true true true "$BUILD" >/dev/null
curl -s -o /dev/null -H 'Content-Type: application/json' -b "$CG_DIR/c" --data '{"purpose":"marketing"}' \
	"$CG_URL/consent/objection"
choose "$CG_DIR/e" true false true "$BUILD" >/dev/null
curl -s -o /dev/null -X POST -b "$CG_DIR/e" "$CG_URL/consent/erase"
choose "$CG_DIR/f" true false false "$BUILD" >/dev/null
# (on PostgreSQL the daemon's daily purge, at its start, may have done it already)
"${CTL[@]}" purge >/dev/null
expect_eq "an honest purge: the old visitors pruned, the IP prefixes past 730 days cleared" "3 1" \
	"$(sql "SELECT (SELECT count(*) FROM consent_pruned), (SELECT count(*) FROM consent_events WHERE ip_digest IS NOT NULL)" | tr '|' ' ')"
# a key rotation: the head is signed by the new key, the old one stays listed
cg_stop_daemon
if [ "$CG_BACKEND" = postgresql ]; then KEY=$CG_DIR/signing.key; else KEY=$CG_DB.signing-key; fi
mv "$KEY" "$KEY.old"
cg_start_daemon || exit 1
"${CTL[@]}" head sign >/dev/null 2>&1
curl -s "$CG_URL/consent/chain-head" >"$CG_DIR/head.json"
cg_stop_daemon

echo "# the honest log verifies"
out=$("${CTL[@]}" verify); rc=$?
expect_match "consentctl verify" "^0 OK: .*1 purges" "$rc $(echo $out)"
out=$("${CTL[@]}" verify --head "$CG_DIR/head.json"); rc=$?
expect_match "consentctl verify --head (the head signed last, by the rotated key)" "^0 OK" "$rc $out"
FROM=$(date -u -d '-1600 days' +%F) TO=$(date -u +%F)
"${CTL[@]}" bundle --from "$FROM" --to "$TO" -o "$CG_DIR/bundle.tar.gz" >/dev/null
mkdir "$CG_DIR/b0" && tar -xzf "$CG_DIR/bundle.tar.gz" -C "$CG_DIR/b0"
out=$("$PY" "$CG_DIR"/b0/*/verify.py); rc=$?
expect_match "verify.py on the bundle of the four years" "^0 .*checked [1-9][0-9]* pruned links and [1-9][0-9]* log events.*OK$" \
	"$rc $(echo $out)"
expect_eq "every kind of row is there to tamper with: choice, withdraw, objection, erase, erased, IP-cleared, pruned, purge" \
	"1 1 1 1 1 1 1 1" \
	"$(sql "SELECT (SELECT count(*) > 0 FROM consent_events WHERE action = 'choice' AND row_format = 2 AND ip_prefix IS NOT NULL),
	               (SELECT count(*) > 0 FROM consent_events WHERE action = 'withdraw'),
	               (SELECT count(*) > 0 FROM consent_events WHERE action = 'objection'),
	               (SELECT count(*) > 0 FROM consent_events WHERE action = 'erase'),
	               (SELECT count(*) > 0 FROM consent_events WHERE salt IS NULL AND action <> 'erase'),
	               (SELECT count(*) > 0 FROM consent_events WHERE ip_digest IS NOT NULL),
	               (SELECT count(*) > 0 FROM consent_pruned WHERE row_format = 2),
	               (SELECT count(*) > 0 FROM consent_log WHERE kind = 'purge')" | tr '|' ' ' | sed 's/t/1/g; s/f/0/g')"

expect_ge "the choices' records name the vendor list (so changing them is tampering with it)" 3 \
	"$(sql "SELECT count(*) FROM consent_events WHERE banner LIKE '%;vendors=%'")"

echo "# every column of every kind of row, and the attacks"
if [ "$CG_BACKEND" = postgresql ]; then
	src=(--pg "$CG_PG_DB" --pg-host "$CG_PG_HOST" --pg-port "$CG_PG_PORT")
else
	src=(--sqlite "$CG_DB")
fi
sed '/^\[storage\]/,/^\[/{/^database = \|^url = \|^backend = /d}' "$CG_INI" >"$CG_DIR/template.ini"
"$PY" "$here/../lib/tamper.py" "${src[@]}" --build "$CG_BUILD" --ini "$CG_DIR/template.ini" \
	--head "$CG_DIR/head.json" --from "$FROM" --to "$TO" --work "$CG_DIR/tamper" \
	--week-subject "$(subject_of "$(awk '$6 == "cg_id" {print $7}' "$CG_DIR/week")")" \
	--current-subject "$(subject_of "$(awk '$6 == "cg_id" {print $7}' "$CG_DIR/a")")" >"$CG_DIR/tamper.out" 2>&1
rc=$?
cat "$CG_DIR/tamper.out"
expect_eq "tamper.py: every change and attack failed all three verifiers, naming the row" 0 "$rc"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
