#!/usr/bin/env bash
# The verifiers check every byte they print: on one small real log, a
# mutation harness (tests/lib/mutate.py) changes every field and every file
# of each signed artefact — an export and its receipt, a chain head, a
# regulator bundle (SHA256SUMS rewritten to match) — and checks that the
# verifier concerned fails and names what changed, that the untouched ones
# pass and that envelopes of the format before DSSE still verify. Heads are
# anchored with RFC 3161 timestamps from a local authority, which verify.py
# checks. SQLite only: what is verified (envelopes, exports, bundles) is
# written by the same code on either backend; the PostgreSQL path differs
# only in reading the log, which integration_proof_pg and
# integration_tamper_pg cover.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/tsa.sh"
PY=/usr/bin/python3   # Debian's, with python3-nacl
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
TSA_PID=
trap '[ -n "$TSA_PID" ] && kill "$TSA_PID"; stack_stop' EXIT
cg_start_tsa "$CG_DIR/tsa" || { not_ok "a local timestamp authority starts"; exit 1; }
cat >"$CG_DIR/anchor.sh" <<SH
#!/bin/sh
TSA_URL=$TSA_URL exec sh "$CG_SRC/conf/anchor-rfc3161.sh"
SH
chmod 755 "$CG_DIR/anchor.sh"
export CG_INI_EXTRA="
[signing]
anchor_command = $CG_DIR/anchor.sh
"
stack_start || exit 1
CTL=("$CG_BUILD/consentctl" -c "$CG_INI")
W=$CG_DIR/work
mkdir -p "$W"

choose() { # JAR GRANT
	curl -s -o /dev/null -w '%{http_code}' -c "$1" -b "$1" -H 'Content-Type: application/json' \
		-d "{\"choices\":{\"preferences\":true,\"statistics\":$2,\"marketing\":false},\"policy_version\":\"2023-12\"}" \
		"$CG_URL/consent"
}
expect_eq "visitor 1 chooses, then changes their mind" "200 200" "$(choose "$CG_DIR/jar1" true) $(choose "$CG_DIR/jar1" false)"
expect_eq "visitor 2 chooses" 200 "$(choose "$CG_DIR/jar2" true)"
curl -s -b "$CG_DIR/jar1" "$CG_URL/consent/export" >"$W/export.json"
curl -s -b "$CG_DIR/jar2" "$CG_URL/consent/export" >"$W/export2.json"
curl -s "$CG_URL/consent/keys" >"$W/keys.json"
"${CTL[@]}" head sign >/dev/null 2>&1
"${CTL[@]}" head show >"$W/head.json" 2>/dev/null
expect_match "the head is anchored with an RFC 3161 timestamp" '"anchor":"' "$(curl -s "$CG_URL/consent/chain-head")"
today=$(date -u +%F)
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/bundle.tar.gz" 2>&1); rc=$?
expect_match "consentctl bundle" "^0 wrote " "$rc $out"
tar -xzf "$CG_DIR/bundle.tar.gz" -C "$CG_DIR" && mv "$CG_DIR/consentgate-bundle-$today-$today" "$W/bundle"
ID1=$(awk '$6 == "cg_id" {print $7}' "$CG_DIR/jar1")
out=$("${CTL[@]}" bundle --from "$today" --to "$today" --consent-id "$ID1" -o "$CG_DIR/one.tar.gz" 2>&1); rc=$?
expect_match "consentctl bundle --consent-id" "^0 wrote .*: 2 events" "$rc $out"
mkdir "$CG_DIR/one" && tar -xzf "$CG_DIR/one.tar.gz" -C "$CG_DIR/one" && mv "$CG_DIR/one/consentgate-bundle-$today-$today" "$W/bundle1"
expect_eq "... it carries every link of the period in chain.txt, other visitors' rows without their fields" \
	"$(grep -c ' r ' "$W/bundle/chain.txt") 2" "$(grep -c ' r ' "$W/bundle1/chain.txt") $("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/bundle1/events.json")"
expect_match "the genesis head (row 0) verifies in verification.txt as in verify --head" \
	"row 0: OK" "$(grep '^head ' "$W/bundle/verification.txt" | head -1)"
out=$("$PY" "$CG_SRC/src/cli/bundle/verify.py" --keys "$W/keys.json" --head "$W/head.json" --tsa-cert "$TSA_CA" "$W/bundle" 2>&1); rc=$?
expect_match "verify.py from outside the bundle, with the site's keys, a head and the TSA's certificate" \
	"^0 .*checked [0-9]+ files against the signed SHA256SUMS.*verified [1-9][0-9]* RFC 3161 anchors.*OK$" "$rc $(echo $out)"
out=$(cd "$W/bundle" && "$PY" verify.py 2>&1); rc=$?
expect_match "verify.py alone, inside the bundle: passes, saying loudly what it trusts from inside" \
	"^0 WARNING: this verify.py came inside the bundle.*WARNING: no --keys given.*WARNING: no --head given.*OK$" "$rc $(echo $out)"
cp -r "$W/bundle" "$CG_DIR/anchored-bad"
"$PY" - "$CG_DIR/anchored-bad" <<'PY'
import base64, glob, json, sys
for p in glob.glob(sys.argv[1] + "/heads/*.json"):
    j = json.load(open(p))
    if j.get("anchor"):
        a = bytearray(base64.b64decode(j["anchor"])); a[-10] ^= 1
        j["anchor"] = base64.b64encode(bytes(a)).decode()
        json.dump(j, open(p, "w"))
PY
out=$("$PY" "$CG_SRC/src/cli/bundle/verify.py" --keys "$W/keys.json" --tsa-cert "$TSA_CA" "$CG_DIR/anchored-bad" 2>&1); rc=$?
expect_match "an altered anchor fails verify.py" "^1 .*RFC 3161 anchor does not verify" "$rc $(echo $out)"

out=$("$PY" "$here/../lib/mutate.py" "$W" "$CG_BUILD/consentctl" "$CG_INI" "$CG_SRC/src/cli/bundle/verify.py" \
	"$CG_DB.signing-key" 2>&1); rc=$?
echo "$out" | grep -E '^(FAIL|#|  )' | head -60
expect_match "mutate.py: every change fails its verifier, naming what changed" "^0 .* 0 failed$" "$rc $(echo "$out" | tail -1)"
expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
