#!/usr/bin/env bash
# Two consentgated instances behind one nginx upstream on one PostgreSQL
# database: their commits interleave on one chain that verifies; one is
# killed with -9 in the middle of a burst and every 200 keeps its row; the
# outbox rows it had claimed are taken over by the survivor when its lease
# ends, every queued event reaches the sink, and a repeat carries the same
# event id; a visitor has one pseudonym whichever instance served them; the
# daily purge runs on one of them; an instance with another policy refuses
# to start beside them.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
export CG_BACKEND=postgresql
CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
chmod 755 "$CG_DIR"
export CG_DIR
B_PID=
cleanup() { [ -n "$B_PID" ] && kill "$B_PID" 2>/dev/null; cg_stop_sink; stack_stop; }
trap cleanup EXIT
cg_start_sink || exit 1
SOCK_B="$CG_DIR/fcgi2.sock"
direct() { # the API of one instance, bypassing the upstream's choice
	printf 'location ^~ /_%s/ {\n rewrite ^/_%s(/.*)$ $1 break;\n fastcgi_param DOCUMENT_URI $uri;\n' "$1" "$1"
	printf ' include /etc/nginx/fastcgi_params;\n fastcgi_pass unix:%s;\n}\n' "$2"
}
export CG_PORT=$(cg_free_port) CG_RATE_KEY='$http_x_no_limit'
export CG_NGINX_UPSTREAM_EXTRA="server unix:$SOCK_B;"
export CG_NGINX_EXTRA="$(direct a "$CG_DIR/fcgi.sock")
$(direct b "$SOCK_B")"
export CG_INI_EXTRA="
[forwarder]
retry_cap_seconds = 1
timeout_ms = 1000
lease_seconds = 3
concurrency = 4

[destination.hook]
type = webhook
url = http://127.0.0.1:$SINK_PORT/hook
purpose = statistics
basis = legitimate_interest

[destination.full]
type = webhook
url = http://127.0.0.1:$SINK_PORT/full
purpose = statistics
basis = consent
"
stack_start || exit 1
# the second instance: the same configuration but for listen
sed "s#^listen = .*#listen = $SOCK_B#" "$CG_INI" >"$CG_DIR/b.ini"
instance_of() { sql "SELECT id FROM instances WHERE pid = $1"; }
registered() { [ -n "$(instance_of "$1")" ]; }
# (the socket comes up before the database: wait for the registration)
mkdir -p "$CG_DIR/b-state"
start_b() { # its own state directory: its own signing key
	STATE_DIRECTORY="$CG_DIR/b-state" "$CG_BUILD/consentgated" -c "$CG_DIR/b.ini" 2>>"$CG_DIR/daemon-b.log" &
	B_PID=$!
	cg_wait_for 20 registered "$B_PID" || { cat "$CG_DIR/daemon-b.log"; exit 1; }
}
cg_wait_for 20 registered "$CG_DAEMON_PID"
start_b
expect_eq "two instances registered" 2 "$(sql "SELECT count(*) FROM instances")"
IA=$(instance_of "$CG_DAEMON_PID") IB=$(instance_of "$B_PID")

echo "# the daily purge: one instance runs it, the other finds it done"
cg_wait_for 20 grep -q 'retention:' "$CG_DIR/daemon.log"
cg_wait_for 20 grep -q 'retention:' "$CG_DIR/daemon-b.log"
expect_eq "exactly one instance purged" 1 "$(cat "$CG_DIR/daemon.log" "$CG_DIR/daemon-b.log" | grep -c 'retention: .* cleared')"
expect_eq "the other says it found it done" 1 "$(cat "$CG_DIR/daemon.log" "$CG_DIR/daemon-b.log" | grep -c 'retention: done today by another instance')"

echo "# one pseudonym per visitor, whichever instance served them"
V=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	--data '{"choices":{"preferences":true,"statistics":true,"marketing":false},"policy_version":"2023-12"}' \
	"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p')
for via in a b; do
	curl -s -o /dev/null -H 'Content-Type: text/plain' -H "Cookie: cg_id=$V" \
		--data "{\"events\":[{\"name\":\"via_$via\"}]}" "$CG_URL/_$via/collect"
done
cg_wait_for 10 sql_ge 2 "SELECT count(*) FROM outbox WHERE destination = 'full' AND (payload LIKE '%via_a%' OR payload LIKE '%via_b%')"
expect_eq "both instances queued the visitor's event" 2 "$(sql "SELECT count(*) FROM outbox WHERE destination = 'full' AND (payload LIKE '%via_a%' OR payload LIKE '%via_b%')")"
expect_eq "with the same client_id" 1 "$(sql "SELECT count(DISTINCT substring(payload FROM '\"client_id\":\"[^\"]*\"')) FROM outbox WHERE destination = 'full' AND (payload LIKE '%via_a%' OR payload LIKE '%via_b%')")"

echo "# each instance signs with its own key; every instance lists every key"
key_id_of() { # KEYFILE: the id of its public key (SHA-256 of it, 8 bytes, hex), with PyNaCl
	/usr/bin/python3 -c 'import base64, hashlib, sys; from nacl.signing import SigningKey
print(hashlib.sha256(bytes(SigningKey(base64.b64decode(open(sys.argv[1]).read())).verify_key)).hexdigest()[:16])' "$1"
}
KA=$(key_id_of "$CG_DIR/signing.key") KB=$(key_id_of "$CG_DIR/b-state/signing.key")
curl -s "$CG_URL/_b/consent/keys" >"$CG_DIR/keys-b.json"
expect_eq "instance b lists both instances' keys" "$(printf '%s\n' "$KA" "$KB" | sort | tr '\n' ' ')" \
	"$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(k["key_id"] for k in json.load(sys.stdin)["keys"])), end=" ")' <"$CG_DIR/keys-b.json")"
curl -s -H "Cookie: cg_id=$V" "$CG_URL/_a/consent/export" >"$CG_DIR/export-a.json"
expect_eq "a receipt from instance a is signed with a's key" "$KA" \
	"$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["signed_receipt"]["signatures"][0]["keyid"])' <"$CG_DIR/export-a.json")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" receipt verify --keys "$CG_DIR/keys-b.json" "$CG_DIR/export-a.json"); rc=$?
expect_eq "it verifies against the keys instance b lists" "0 OK" "$rc ${out%%:*}"
expect_eq "one head was signed at start-up, by one instance (the lease)" 1 "$(sql "SELECT count(*) FROM chain_heads")"

echo "# a burst through both; one instance killed with -9 in the middle"
BODY='{"choices":{"preferences":true,"statistics":false,"marketing":true},"policy_version":"2023-12","lang":"nb"}'
cg_burst 3000 32 '%{http_code} %header{set-cookie}\n' "$CG_DIR/answers.txt" -H 'X-Forwarded-For: 198.51.100.20' \
	--data-binary "$BODY" &
load=$!
acked() { grep -c '^200 ' "$CG_DIR/answers.txt" 2>/dev/null; }
cg_wait_for 60 sh -c "[ \$(grep -c '^200 ' '$CG_DIR/answers.txt' 2>/dev/null) -ge 600 ]"
kill -KILL "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=
echo "# killed the second instance after $(acked) acknowledged"
wait "$load"
acked=$(acked)
echo "# $acked of 3000 answered 200; the rest: $(grep -v '^200 ' "$CG_DIR/answers.txt" | cut -d' ' -f1 | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
# the only failures: requests the killed instance held (nginx's 502); the
# instances never refuse each other (a 503 would be a lost race for the chain)
expect_eq "every request not acknowledged was in flight at the killed instance (502)" "" \
	"$(grep -v '^200 ' "$CG_DIR/answers.txt" | grep -v '^502 ' | cut -c1-3 | sort | uniq -c)"
expect_ge "requests acknowledged" $((3000 - 64)) "$acked"
expect_match "every acknowledged choice is stored" "^0 $acked\$" "$(cg_unstored_acks "$CG_DIR/answers.txt")"
switches=$(sql "SELECT count(*) FROM (SELECT instance, lag(instance) OVER (ORDER BY committed_ms, id) AS prev FROM batches) x
               WHERE prev IS NOT NULL AND prev <> instance")
expect_ge "the two instances' commits interleave (switches between them, in commit order)" 20 "$switches"
expect_eq "both instances committed batches" 2 "$(sql "SELECT count(DISTINCT instance) FROM batches WHERE instance IN ('$IA', '$IB')")"
out=$("$CG_BUILD/consentctl" -c "$CG_INI" verify); rc=$?
echo "# $out"
expect_eq "the chain both wrote verifies: no fork, no gap" 0 "$rc"
expect_eq "ids are consecutive" "$(sql "SELECT count(*) FROM consent_events")" "$(sql "SELECT max(id) FROM consent_events")"

echo "# the outbox: claims of a dead instance are taken over when their lease ends"
start_b
IB=$(instance_of "$B_PID")
sink_mode hang
for i in $(seq 1 40); do
	curl -s -o /dev/null -H 'Content-Type: text/plain' --data "{\"events\":[{\"name\":\"lease_$i\"}]}" \
		"$CG_URL/_$([ $((i % 2)) = 0 ] && echo a || echo b)/collect"
done
# both forwarders claim rows (SKIP LOCKED splits them); B is killed while it
# holds some: frozen (SIGSTOP) once it holds claims, so they cannot end
# between looking and killing, then killed
held_by_b() { sql "SELECT group_concat(id) FROM outbox_rows WHERE claimed_by = '$IB' AND state = 0 AND payload LIKE '%lease_%'"; }
held=
for _ in $(seq 1 5); do
	cg_wait_for 20 sql_ge 1 "SELECT count(*) FROM outbox_rows WHERE claimed_by = '$IB' AND state = 0 AND payload LIKE '%lease_%'"
	kill -STOP "$B_PID"
	held=$(held_by_b)
	[ -n "$held" ] && break
	kill -CONT "$B_PID" # its claims ended in between: again
done
kill -KILL "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=
echo "# B held rows $held when it died"
expect_match "B held claims when it died" '^[0-9]+(,[0-9]+)*$' "$held"
expect_ge "A claimed rows too" 1 "$(sql "SELECT count(*) FROM outbox_rows WHERE payload LIKE '%lease_%' AND (claimed_by = '$IA' OR attempts > 0)")"
sink_mode ok
cg_wait_for 30 sql_eq 40 "SELECT count(*) FROM outbox WHERE payload LIKE '%lease_%' AND state = 'delivered'"
expect_eq "every queued event delivered" 40 "$(sql "SELECT count(*) FROM outbox WHERE payload LIKE '%lease_%' AND state = 'delivered'")"
expect_eq "the rows B held were delivered (by A, after their lease)" 0 \
	"$(sql "SELECT count(*) FROM outbox_rows WHERE id IN ($held) AND state <> 1")"
python3 - "$SINK_REC" "$held" >"$CG_DIR/arrivals.txt" <<'PY'
import json, re, sys
held = {int(x) for x in sys.argv[2].split(",")}
ok, ids = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    names = re.findall(r'"lease_(\d+)"', r["body"])
    if not names:
        continue
    hdr = [int(x) for x in r["headers"].get("x-consentgate-event-ids", "").split(",") if x]
    if len(hdr) != len(names):
        print("header", r["headers"].get("x-consentgate-event-ids"), "names", names)
    for name, i in zip(names, hdr):
        ids.setdefault(name, set()).add(i)  # the same event always under one id
        if r["mode"] == "ok":
            ok[name] = ok.get(name, 0) + 1
print("arrived", len(ok))
print("ids_per_event", max((len(v) for v in ids.values()), default=0))
dups = {ids[n].copy().pop() for n, c in ok.items() if c > 1}
print("duplicates_outside_held", len(dups - held))
PY
cat "$CG_DIR/arrivals.txt" | sed 's/^/# /'
expect_eq "every event arrived (none lost)" "arrived 40" "$(grep '^arrived' "$CG_DIR/arrivals.txt")"
expect_eq "every delivery names its event ids, one per event in body order" "" "$(grep '^header' "$CG_DIR/arrivals.txt")"
expect_eq "a resent event carries the same id" "ids_per_event 1" "$(grep '^ids_per_event' "$CG_DIR/arrivals.txt")"
expect_eq "sent twice only if its sender died holding it" "duplicates_outside_held 0" "$(grep '^duplicates' "$CG_DIR/arrivals.txt")"

echo "# a differently configured instance refuses to start beside a running one"
sed -e "s#^listen = .*#listen = $CG_DIR/fcgi3.sock#" -e 's/^version = 2023-12/version = 2024-06/' "$CG_INI" >"$CG_DIR/c.ini"
out=$("$CG_BUILD/consentgated" -c "$CG_DIR/c.ini" 2>&1); rc=$?
expect_eq "another policy version: exit 1" 1 "$rc"
expect_match "names the running instance and what must agree" 'another instance runs on this database with a different configuration.*policy version 2023-12; this one: 2024-06' "$out"
expect_eq "the database keeps the running policy" 2023-12 "$(sql "SELECT value FROM meta WHERE key = 'policy_version'")"
sed "s#^listen = .*#listen = $CG_DIR/fcgi3.sock#" "$CG_INI" >"$CG_DIR/d.ini"
sed -i "s#^workers = .*#workers = 4#" "$CG_DIR/d.ini"
"$CG_BUILD/consentgated" -c "$CG_DIR/d.ini" 2>>"$CG_DIR/daemon-d.log" &
D_PID=$!
cg_wait_for 10 test -S "$CG_DIR/fcgi3.sock"
expect_eq "differing only in listen and workers: it starts" 1 "$(kill -0 "$D_PID" 2>/dev/null && echo 1 || echo 0)"
kill -TERM "$D_PID"; wait "$D_PID"

cg_stop_daemon
expect_clean_daemon_log "$CG_DIR/daemon.log"
expect_clean_daemon_log "$CG_DIR/daemon-b.log"
cg_summary
