#!/usr/bin/env bash
# Proof an outsider can check without trusting the operator: the instance's
# key (a 0600 file, never in the database), receipts signed over their exact
# bytes that verify with consentctl, with the keys saved from GET
# /consent/keys, with Python's PyNaCl and with OpenSSL 3; signed chain heads
# handed to the anchor command; a head fetched before new traffic still
# verifies after it and after retention pruned rows before it, and fails
# naming the row once a row or a pruned link before it is altered; a new key
# after a rotation, with the old one still listed. Both backends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/tsa.sh"
PY=/usr/bin/python3   # Debian's, with python3-nacl (not a virtualenv's)
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
TSA_PID=
trap '[ -n "$TSA_PID" ] && kill "$TSA_PID"; stack_stop' EXIT
mkdir "$CG_DIR/anchored"
# the anchor command: keeps what it was handed and prints a token for it
cat >"$CG_DIR/anchor.sh" <<SH
#!/bin/sh
set -e
n=\$(ls "$CG_DIR/anchored" | wc -l)
cat >"$CG_DIR/anchored/\$n.json"
printf 'test-anchor %s' "\$(sha256sum <"$CG_DIR/anchored/\$n.json" | cut -c1-64)"
SH
chmod 755 "$CG_DIR/anchor.sh"
printf '<!doctype html><title>Personvernerkl\xc3\xa6ring 2023-12</title><p>Vi lagrer ...\n' >"$CG_DIR/notice.html"
export CG_INI_EXTRA="
[signing]
anchor_command = $CG_DIR/anchor.sh

[policy]
notice_file = $CG_DIR/notice.html
"
stack_start || exit 1
CTL=("$CG_BUILD/consentctl" -c "$CG_INI")
if [ "$CG_BACKEND" = postgresql ]; then KEY=$CG_DIR/signing.key; else KEY=$CG_DB.signing-key; fi

choose() { # choose JAR: a visitor's choice
	curl -s -o /dev/null -w '%{http_code}' -c "$1" -H 'Content-Type: application/json' \
		-d '{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"}' \
		"$CG_URL/consent"
}
# nacl_verify ENVELOPE.json KEYS.json: PyNaCl checks the DSSE signature over
# PAE(type, payload) with the listed key of that id; prints the payload
nacl_verify() {
	"$PY" - "$1" "$2" <<'PY'
import base64, json, sys
from nacl.signing import VerifyKey
doc = json.load(open(sys.argv[1]))
env = doc.get("signed_receipt", doc)
sig = env["signatures"][0]
key = next(k for k in json.load(open(sys.argv[2]))["keys"] if k["key_id"] == sig["keyid"])
vk = VerifyKey(base64.urlsafe_b64decode(key["public_key"] + "=" * (-len(key["public_key"]) % 4)))
t, body = env["payloadType"].encode(), base64.b64decode(env["payload"])
vk.verify(b"DSSEv1 %d %s %d " % (len(t), t, len(body)) + body, base64.b64decode(sig["sig"]))
sys.stdout.write(body.decode())
PY
}

# ---- the key and the first head ---------------------------------------------
head_anchored() { curl -s "$CG_URL/consent/chain-head" | grep -q '"anchor":"test-anchor '; }
if cg_wait_for 15 head_anchored; then ok "the head signed at start-up was handed to the anchor command"; else
	not_ok "the head signed at start-up was handed to the anchor command" "$(curl -s "$CG_URL/consent/chain-head")"; fi
expect_eq "the key file is 0600" "600" "$(stat -c %a "$KEY" 2>&1)"
curl -s "$CG_URL/consent/keys" >"$CG_DIR/keys.json"
expect_eq "one public key is listed" "1" "$("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))' <"$CG_DIR/keys.json")"
expect_eq "what the anchor command was handed verifies" \
	'"last_id":0' "$(nacl_verify "$CG_DIR/anchored/0.json" "$CG_DIR/keys.json" 2>&1 | grep -o '"last_id":0')"
if [ "$CG_BACKEND" = sqlite ]; then
	# the secret (seed) never reaches the database or its WAL
	seed_hits=$("$PY" - "$KEY" "$CG_DB" "$CG_DB-wal" <<'PY'
import base64, sys
line = open(sys.argv[1]).read().strip()
seed = base64.b64decode(line)
hits = 0
for f in sys.argv[2:]:
    try: data = open(f, "rb").read()
    except FileNotFoundError: continue
    hits += sum(data.count(x) for x in (seed, line.encode(), seed.hex().encode()))
print(hits)
PY
)
	expect_eq "the secret key is in neither the database nor the WAL" "0" "$seed_hits"
fi

# ---- receipts -------------------------------------------------------------------
for i in 1 2 3; do expect_eq "visitor $i chooses" 200 "$(choose "$CG_DIR/jar$i")"; done
curl -s -b "$CG_DIR/jar1" "$CG_URL/consent/export" >"$CG_DIR/export.json"
out=$("${CTL[@]}" receipt verify "$CG_DIR/export.json"); rc=$?
expect_eq "consentctl receipt verify: an export's receipt" "0 OK" "$rc ${out%%:*}"
out=$("${CTL[@]}" receipt verify --keys "$CG_DIR/keys.json" "$CG_DIR/export.json"); rc=$?
expect_eq "... offline, against the keys saved from GET /consent/keys" "0 OK" "$rc ${out%%:*}"
receipt=$(nacl_verify "$CG_DIR/export.json" "$CG_DIR/keys.json" 2>&1)
last=$(sql "SELECT hash FROM consent_events WHERE id = 1")
expect_match "PyNaCl verifies the receipt, bound to the row's chain hash" "\"recordHash\":\"$last\"" "$receipt"
# OpenSSL 3, with nothing of ours: the PEM, the payload's bytes, the signature
"$PY" - "$CG_DIR/export.json" "$CG_DIR/keys.json" "$CG_DIR" <<'PY'
import json, sys
import base64
env = json.load(open(sys.argv[1]))["signed_receipt"]
key = next(k for k in json.load(open(sys.argv[2]))["keys"] if k["key_id"] == env["signatures"][0]["keyid"])
open(sys.argv[3] + "/key.pem", "w").write(key["spki_pem"])
t, body = env["payloadType"].encode(), base64.b64decode(env["payload"])
open(sys.argv[3] + "/payload.bin", "wb").write(b"DSSEv1 %d %s %d " % (len(t), t, len(body)) + body)
open(sys.argv[3] + "/sig.b64", "w").write(env["signatures"][0]["sig"])
PY
base64 -d "$CG_DIR/sig.b64" >"$CG_DIR/sig.bin"
expect_eq "OpenSSL verifies the receipt" "Signature Verified Successfully" \
	"$(openssl pkeyutl -verify -pubin -inkey "$CG_DIR/key.pem" -rawin -in "$CG_DIR/payload.bin" \
		-sigfile "$CG_DIR/sig.bin" 2>&1)"
ID1=$(awk '$6 == "cg_id" {print $7}' "$CG_DIR/jar1")
"${CTL[@]}" export --consent-id "$ID1" >"$CG_DIR/cli-export.json" 2>/dev/null
out=$("${CTL[@]}" receipt verify "$CG_DIR/cli-export.json"); rc=$?
expect_eq "consentctl export (an e-mailed request) signs the receipt too" "0 OK" "$rc ${out%%:*}"
# one changed word in the signed bytes
"$PY" - "$CG_DIR/export.json" "$CG_DIR/forged.json" <<'PY'
import base64, json, sys
doc = json.load(open(sys.argv[1]))
env = doc["signed_receipt"]
env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b'"refused"', b'"given"')).decode()
json.dump(doc, open(sys.argv[2], "w"))
PY
out=$("${CTL[@]}" receipt verify "$CG_DIR/forged.json"); rc=$?
expect_eq "a receipt with one changed word fails" "1 FAILED" "$rc ${out%%:*}"
expect_match "... and PyNaCl refuses it too" "BadSignatureError" "$(nacl_verify "$CG_DIR/forged.json" "$CG_DIR/keys.json" 2>&1)"

# ---- chain heads ------------------------------------------------------------------
anchors_before=$(ls "$CG_DIR/anchored" | wc -l)
"${CTL[@]}" head sign >/dev/null 2>"$CG_DIR/sign.log"; rc=$?
expect_eq "consentctl head sign" 0 "$rc"
expect_eq "the head it signed was anchored" "$((anchors_before + 1))" "$(ls "$CG_DIR/anchored" | wc -l)"
curl -s "$CG_URL/consent/chain-head" >"$CG_DIR/head.json"
head=$(nacl_verify "$CG_DIR/head.json" "$CG_DIR/keys.json" 2>&1)
expect_match "GET /consent/chain-head: signed, row 3 and its hash" \
	"\"last_id\":3,\"hash\":\"$(sql "SELECT hash FROM consent_events WHERE id = 3")\".*\"links\":3" "$head"
for i in 4 5; do choose "$CG_DIR/jar$i" >/dev/null; done
out=$("${CTL[@]}" verify --head "$CG_DIR/head.json"); rc=$?
expect_eq "a head fetched before new traffic still verifies after it" "0 OK" "$rc ${out%%:*}"
page=$(sql "SELECT page FROM events WHERE id = 2")
sql "UPDATE events SET page = 'https://altered.example/' WHERE id = 2" >/dev/null
out=$("${CTL[@]}" verify --head "$CG_DIR/head.json"); rc=$?
expect_eq "a row before the head altered: the head no longer verifies" 1 "$rc"
expect_match "... naming that row" "^DIVERGES .*: row 2: " "$out"
if [ -n "$page" ]; then sql "UPDATE events SET page = '$page' WHERE id = 2" >/dev/null;
else sql "UPDATE events SET page = NULL WHERE id = 2" >/dev/null; fi

# the anchor example of docs/chain-heads.md#anchoring, conf/anchor-rfc3161.sh, against a local
# timestamp authority: what it prints is an RFC 3161 stamp of the head
cg_start_tsa "$CG_DIR/tsa" || not_ok "a local timestamp authority starts"
TSA_URL="$TSA_URL" sh "$CG_SRC/conf/anchor-rfc3161.sh" <"$CG_DIR/head.json" >"$CG_DIR/head.tsr.b64"; rc=$?
base64 -d <"$CG_DIR/head.tsr.b64" >"$CG_DIR/head.tsr" 2>/dev/null
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["payload"])' "$CG_DIR/head.json" | base64 -d >"$CG_DIR/head.bin"
expect_match "conf/anchor-rfc3161.sh: a timestamp of the head that openssl ts -verify accepts" "^0 .*Verification: OK" \
	"$rc $(openssl ts -verify -in "$CG_DIR/head.tsr" -data "$CG_DIR/head.bin" -CAfile "$TSA_CA" 2>&1 | tr '\n' ' ')"
printf 'x' >>"$CG_DIR/head.bin"
expect_no_match "... and not of any other bytes" "Verification: OK" \
	"$(openssl ts -verify -in "$CG_DIR/head.tsr" -data "$CG_DIR/head.bin" -CAfile "$TSA_CA" 2>&1 | tr '\n' ' ')"

# ---- the regulator bundle -------------------------------------------------------
today=$(date -u +%F)
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/bundle.tar.gz" 2>&1); rc=$?
expect_match "consentctl bundle writes the period's archive" "^0 wrote .*: 5 events, [0-9]+ signed heads, 1 keys" "$rc $out"
out=$("${CTL[@]}" bundle --from "$today" --to "$today" -o "$CG_DIR/bundle.tar.gz" 2>&1); rc=$?
expect_match "... and never overwrites a file" "^1 .*exists already" "$rc $out"
mkdir "$CG_DIR/unpacked" && tar -xzf "$CG_DIR/bundle.tar.gz" -C "$CG_DIR/unpacked"
B="$CG_DIR/unpacked/consentgate-bundle-$today-$today"
expect_eq "it holds the events, what they need from the rest of the log, transcript, heads, keys, history, recipients, README, verify.py, sums and their signature" \
	"README.txt SHA256SUMS SHA256SUMS.dsse.json artefacts chain.txt erasures.json events.csv events.json heads keys.json log_events.json policy_versions.json pruned.json recipients.json verification.txt verify.py" \
	"$(ls "$B" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "events.csv: a header and the 5 events" 6 "$(wc -l <"$B/events.csv")"
expect_match "the transcript: the chain, and each head of the period against the log" \
	"^the whole chain: OK: 5 rows verified.*head [0-9]+, signed .*: OK, the log still holds it" "$(tr '\n' ' ' <"$B/verification.txt")"
# the README's steps, as written there
(cd "$B" && sha256sum -c --quiet SHA256SUMS) >/dev/null 2>&1; expect_eq "README step 1: sha256sum -c SHA256SUMS" 0 $?
out=$(cd "$B" && "$PY" verify.py 2>&1); rc=$?
expect_match "README step 2: python3 verify.py" "^0 .*verified the signatures of [1-9][0-9]* chain heads.*recomputed the hashes of 5 events.*matched [1-9][0-9]* signed heads.*checked 2 banner builds and notices.*OK$" "$rc $(echo $out)"
n_sum=$(sha256sum <"$CG_DIR/notice.html" | cut -c1-64) js_sum=$(sha256sum <"$CG_DIR/web/banner.js" | cut -c1-64)
expect_eq "the bundle holds the build and the notice the events name, byte for byte" "same same" \
	"$(cmp -s "$B/artefacts/$n_sum" "$CG_DIR/notice.html" && echo same) $(cmp -s "$B/artefacts/$js_sum" "$CG_DIR/web/banner.js" && echo same)"
N=$(cd "$B/heads" && ls | tail -1 | sed 's/\.json$//')
step3=$(sed -n '/^3\. One head with OpenSSL/,/^   head.bin is/p' "$B/README.txt" | grep -E '^     (python3|openssl)' | sed "s#heads/N\.json#heads/$N.json#g")
out=$(cd "$B" && PATH="$(dirname "$PY"):$PATH" bash -e -c "$step3" 2>&1); rc=$?
expect_match "README step 3: OpenSSL verifies a head" "^0 Signature Verified Successfully" "$rc $out"
sed -i 's/"action": "choice"/"action": "withdraw"/' "$B/events.json"
out=$(cd "$B" && "$PY" verify.py 2>&1); rc=$?
expect_match "an altered event in the bundle fails verify.py" "^1 .*FAIL" "$rc $(echo $out)"

# eight years on (a purge is recorded with its time: it runs then)
cg_at +3000d "${CTL[@]}" purge >/dev/null
expect_ge "retention pruned the rows before the head" 3 "$(sql "SELECT count(*) FROM consent_pruned")"
out=$(cg_at +3000d "${CTL[@]}" verify --head "$CG_DIR/head.json"); rc=$?
expect_eq "the head verifies over the pruned links" "0 OK" "$rc ${out%%:*}"
expect_ge "the signed heads survive the purge" 2 "$(sql "SELECT count(*) FROM chain_heads")"
[ "$CG_BACKEND" = postgresql ] && sql "ALTER TABLE pruned DISABLE TRIGGER pruned_append_only" >/dev/null
[ "$CG_BACKEND" = sqlite ] && sql "DROP TRIGGER pruned_append_only" >/dev/null
sql "UPDATE pruned SET core_digest = hash WHERE id = 1" >/dev/null
out=$(cg_at +3000d "${CTL[@]}" verify --head "$CG_DIR/head.json"); rc=$?
expect_match "a pruned link altered: the head fails at that link" "^1 DIVERGES .*: row 1: " "$rc $out"

# ---- a new key: the old one stays listed, its receipts still verify ---------------
cg_stop_daemon
chmod 644 "$KEY"
out=$("$CG_BUILD/consentgated" -c "$CG_INI" 2>&1); rc=$?
expect_match "a key file others can read is refused" "^1 .*chmod 600" "$rc $out"
mv "$KEY" "$KEY.old"
cg_start_daemon || exit 1
curl -s "$CG_URL/consent/keys" >"$CG_DIR/keys2.json"
expect_eq "after a rotation both keys are listed" "2" "$("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))' <"$CG_DIR/keys2.json")"
out=$("${CTL[@]}" receipt verify "$CG_DIR/export.json"); rc=$?
expect_eq "a receipt signed with the old key still verifies" "0 OK" "$rc ${out%%:*}"
# ---- what was shown ------------------------------------------------------------------
BUILD=$(cat "$CG_DIR/build-id") NOTICE=$(sha256sum <"$CG_DIR/notice.html" | cut -c1-64)
post() { # post JAR BODY: the status; the answer in $CG_DIR/answer.json
	curl -s -o "$CG_DIR/answer.json" -w '%{http_code}' -c "$1" -b "$1" -H 'Content-Type: application/json' \
		-d "$2" "$CG_URL/consent"
}
grant() { printf '{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"%s}' "$1"; }
refuse() { printf '{"choices":{"preferences":false,"statistics":false,"marketing":false},"policy_version":"2023-12"%s}' "$1"; }
banner_of_last() { sql "SELECT banner FROM consent_events ORDER BY id DESC LIMIT 1"; }
expect_eq "a choice naming the served build" 200 "$(post "$CG_DIR/s1" "$(grant ",\"banner\":\"$BUILD\"")")"
expect_eq "... records that build and the notice's SHA-256 in the chain" "build=$BUILD;notice=$NOTICE" "$(banner_of_last)"
expect_eq "a choice naming no build (an API client)" 200 "$(post "$CG_DIR/s2" "$(grant "")")"
expect_eq "... records the build served then, asserted by the server" "build=$BUILD;notice=$NOTICE;asserted" "$(banner_of_last)"
expect_eq "a build never served: 400" "400 banner" \
	"$(post "$CG_DIR/s3" "$(grant ',"banner":"0123456789abcdef0123456789abcdef"')") $("$PY" -c 'import json,sys; print(json.load(sys.stdin)["field"])' <"$CG_DIR/answer.json")"
# a new build and a corrected notice: the old ones are retired
mkdir "$CG_DIR/old-build" && cp "$CG_DIR/web/banner.js" "$CG_DIR/web/banner.css" "$CG_DIR/old-build/"
printf '\n.cg-b { border-width: 3px; }\n' >>"$CG_DIR/web/banner.css"
NEW=$("$CG_BUILD/consentctl" banner stamp "$CG_DIR/web")
printf '<p>Rettet.\n' >>"$CG_DIR/notice.html"
NOTICE2=$(sha256sum <"$CG_DIR/notice.html" | cut -c1-64)
cg_stop_daemon
out=$("$CG_BUILD/consentgated" -t -c "$CG_INI" 2>&1)
expect_match "-t: the new build is stamped" "configuration OK" "$out"
cg_start_daemon || exit 1
expect_eq "a choice granting with the retired build: 409 stale_banner, naming the current build" "409 stale_banner $NEW" \
	"$(post "$CG_DIR/s1" "$(grant ",\"banner\":\"$BUILD\"")") $("$PY" -c 'import json,sys; a = json.load(sys.stdin); print(a["error"], a["current_build"])' <"$CG_DIR/answer.json")"
expect_eq "a refusal with the retired build is never refused" 200 "$(post "$CG_DIR/s1" "$(refuse ",\"banner\":\"$BUILD\"")")"
expect_eq "... and records the build the visitor saw, with the notice of its time" "build=$BUILD;notice=$NOTICE" \
	"$(banner_of_last)"
expect_eq "a withdrawal is never refused" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -b "$CG_DIR/s1" "$CG_URL/consent")"
expect_eq "the new build records" 200 "$(post "$CG_DIR/s4" "$(grant ",\"banner\":\"$NEW\"")")"
expect_eq "... with today's notice" "build=$NEW;notice=$NOTICE2" "$(banner_of_last)"
"${CTL[@]}" notice list >"$CG_DIR/shown.json"
expect_eq "consentctl notice list: two builds and two notices (the old ones retired)" \
	"$(printf '%s\n' "banner $BUILD retired" "banner $NEW in service" "notice $NOTICE retired" "notice $NOTICE2 in service" | sort | paste -sd'|')" \
	"$("$PY" -c 'import json,sys
print("|".join(sorted("%s %s %s" % (s["kind"], s["id"], "retired" if s["retired"] else "in service") for s in json.load(sys.stdin)["shown"])))' <"$CG_DIR/shown.json")"
mkdir "$CG_DIR/out-build" "$CG_DIR/out-notice"
"${CTL[@]}" notice show "$BUILD" -o "$CG_DIR/out-build" >/dev/null
"${CTL[@]}" notice show "$NOTICE" -o "$CG_DIR/out-notice" >/dev/null
expect_eq "notice show: the retired build's files, byte for byte" "same same" \
	"$(cmp -s "$CG_DIR/old-build/banner.js" "$CG_DIR/out-build/banner.js" && echo same) $(cmp -s "$CG_DIR/old-build/banner.css" "$CG_DIR/out-build/banner.css" && echo same)"
expect_eq "notice show: the notice, byte for byte (same SHA-256)" "$NOTICE" "$(sha256sum <"$CG_DIR/out-notice/notice.html" | cut -c1-64)"
"${CTL[@]}" purge >/dev/null
expect_eq "the purge keeps a retired build while rows name it" 1 \
	"$(sql "SELECT count(*) FROM shown WHERE id = '$BUILD' AND retired_ms IS NOT NULL")"
cg_at +3000d "${CTL[@]}" purge >/dev/null
expect_eq "... and deletes it, and the files only it held, once no row names it (the old notice too)" "0|0|1|1|0" \
	"$(sql "SELECT (SELECT count(*) FROM shown WHERE id = '$BUILD') || '|' ||
	               (SELECT count(*) FROM artefacts WHERE hash = '$(sha256sum <"$CG_DIR/old-build/banner.css" | cut -c1-64)') || '|' ||
	               (SELECT count(*) FROM shown WHERE id = '$NEW') || '|' || (SELECT count(*) FROM shown WHERE id = '$NOTICE2') || '|' ||
	               (SELECT count(*) FROM shown WHERE id = '$NOTICE')")"
printf 'x' >>"$CG_DIR/web/banner.js"
out=$("$CG_BUILD/consentgated" -t -c "$CG_INI" 2>&1); rc=$?
expect_match "-t: a build edited after stamping is refused, naming the fix" "^1 .*consentctl banner stamp" "$rc $out"

# SIGTERM while an anchor command hangs: the daemon still stops at once
cg_stop_daemon
sql "INSERT INTO chain_heads(last_id, signed_ms, key_id, envelope)
     SELECT last_id, signed_ms + 1, key_id, envelope FROM chain_heads ORDER BY id DESC LIMIT 1" >/dev/null
sed -i "s#^anchor_command = .*#anchor_command = touch $CG_DIR/anchoring; exec sleep 60#" "$CG_INI"
sed -i 's/cg-build:[0-9a-f]*/cg-build:00000000000000000000000000000000/' "$CG_DIR/web/banner.js"
"$CG_BUILD/consentctl" banner stamp "$CG_DIR/web" >/dev/null
cg_start_daemon || exit 1
cg_wait_for 20 test -e "$CG_DIR/anchoring" || not_ok "the anchor command was started"
t0=$SECONDS
cg_stop_daemon
expect_ge "SIGTERM during a hanging anchor command: stopped within 5 s (seconds left of 5)" 0 $((5 - (SECONDS - t0)))

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
