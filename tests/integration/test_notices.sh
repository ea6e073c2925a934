#!/usr/bin/env bash
# Erasure notices (GDPR Art. 17(2), 19) through the real nginx and daemon:
# a notice goes only to destinations that acknowledged the visitor's events
# (also when the acknowledgement comes after the erasure), and a
# destination that received many visitors' events and then died holds
# their notices under a bound of their own: every erasure is recorded,
# /collect keeps its room under outbox_max_rows, the notices show in the
# metrics and in consentctl outbox, past their bound they are refused (the
# erasure is not), they never expire, and they go in batches once the
# destination is back. On PostgreSQL: the analyst role sees no subject in
# the outbox view.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

cleanup() { cg_stop_sink; stack_stop; }
trap cleanup EXIT
cg_start_sink || exit 1
NEVER_PORT=$(cg_free_port) # nothing listens there: it never acknowledges anything
N=200
export CG_RATE_KEY='$http_x_no_limit' CG_INI_EXTRA="
[limits]
outbox_max_rows = 100
erasure_notices_max_rows = $N

[forwarder]
retry_cap_seconds = 1

[destination.hook]
type = webhook
url = http://127.0.0.1:$SINK_PORT/hook
purpose = statistics
basis = consent

[destination.never]
type = webhook
url = http://127.0.0.1:$NEVER_PORT/never
purpose = marketing
basis = consent

[destination.ga]
type = ga4
url = http://127.0.0.1:$SINK_PORT/mp/collect
measurement_id = G-NOTICES
api_secret = s3cret
purpose = marketing
basis = consent
property_id = 123456789
deletion_url = http://127.0.0.1:$SINK_PORT/userDeletion/userDeletionRequests:upsert
deletion_token_file = $SINK_DIR/ga-token
"
printf 'ya29.test-token\n' >"$SINK_DIR/ga-token"
stack_start || exit 1
CTL() { "$CG_BUILD/consentctl" -c "$CG_INI" "$@"; }
choose() { # STATISTICS MARKETING -> consent id
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		--data "{\"choices\":{\"preferences\":false,\"statistics\":$1,\"marketing\":$2},\"policy_version\":\"2023-12\"}" \
		"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p'
}
collect() { # ID [TITLE] -> status
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -H "Cookie: cg_id=$1" \
		--data "{\"events\":[{\"name\":\"page_view\",\"params\":{\"page_title\":\"${2:-x}\"}}]}" "$CG_URL/collect"
}
collected() { [ "$(collect "$1")" = 204 ]; }
erase() { curl -s -X POST -H "Cookie: cg_id=$1" "$CG_URL/consent/erase"; }
metric() { curl -s "$CG_URL/consent/metrics" | sed -n "s/^$1 //p"; }
notices() { sql "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND destination = '$1' AND state = '$2'"; }
per_destination() { sql "SELECT destination || '|' || count(*) FROM outbox WHERE kind = 'erasure'
	GROUP BY destination ORDER BY destination" | tr '\n' ' ' | sed 's/ $//'; }
# the client_id a marked event of the visitor had at PATH
cid_of() { python3 - "$SINK_REC" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith(sys.argv[2]) and sys.argv[3] in r["body"]:
        b = json.loads(r["body"])
        print((b[0] if isinstance(b, list) else b)["client_id"]); break
PY
}

echo "# a notice goes only where the visitor's events were acknowledged"
V=$(choose true true)
expect_eq "V's event queued for hook, ga and never" 204 "$(collect "$V" mark-V)"
cg_wait_for 10 sql_eq 2 "SELECT count(*) FROM outbox WHERE subject = '$(subject_of "$V")' AND state = 'delivered'"
cg_wait_for 10 sql_ge 1 "SELECT count(*) FROM outbox WHERE destination = 'never' AND attempts >= 1"
out=$(erase "$V")
expect_eq "V's erasure tells the two destinations that acknowledged its event" \
	'{"erased":true,"detail":"your personal data was erased","recipients_notified":2}' "$out"
expect_eq "a notice each to hook and ga, none to never (V's event never got there)" "ga|1 hook|1" "$(per_destination)"
cg_wait_for 10 sql_eq 2 "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND state = 'delivered'"
expect_match "hook's notice names V's pseudonym there" "\"client_id\":\"$(cid_of /hook mark-V)\"" \
	"$(sql "SELECT payload FROM outbox WHERE kind = 'erasure' AND destination = 'hook'")"

echo "# GA4: one client_id per User Deletion API request"
G=()
for i in 1 2 3; do G+=("$(choose false true)"); collect "${G[-1]}" "mark-G$i" >/dev/null; done
cg_wait_for 10 sql_eq 4 "SELECT count(*) FROM outbox WHERE destination = 'ga' AND kind = 'event' AND state = 'delivered'"
for g in "${G[@]}"; do erase "$g" >/dev/null; done
cg_wait_for 20 sql_eq 4 "SELECT count(*) FROM outbox WHERE destination = 'ga' AND kind = 'erasure' AND state = 'delivered'"
expect_eq "four deletion requests (V's and three), one id each" "4 4" "$(python3 - "$SINK_REC" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
dels = [r for r in reqs if r["path"].startswith("/userDeletion")]
print(len(dels), sum(json.loads(r["body"])["id"]["type"] == "CLIENT_ID" for r in dels))
PY
)"

echo "# GA4 without its token: the notice waits, saying why, and goes once the token is back"
mv "$SINK_DIR/ga-token" "$SINK_DIR/ga-token.away"
T=$(choose false true)
expect_eq "T's event queued" 204 "$(collect "$T" mark-T)"
cg_wait_for 10 sql_eq 5 "SELECT count(*) FROM outbox WHERE destination = 'ga' AND kind = 'event' AND state = 'delivered'"
erase "$T" >/dev/null
waits="SELECT count(*) FROM outbox WHERE kind = 'erasure' AND destination = 'ga' AND state = 'pending'
	AND attempts >= 1 AND last_error LIKE '%deletion_token_file%'"
cg_wait_for 20 sql_eq 1 "$waits"
expect_eq "T's notice pending, tried, the token file named (not silently claimed again and again)" 1 "$(sql "$waits")"
mv "$SINK_DIR/ga-token.away" "$SINK_DIR/ga-token"
cg_wait_for 20 sql_eq 5 "SELECT count(*) FROM outbox WHERE destination = 'ga' AND kind = 'erasure' AND state = 'delivered'"
expect_eq "delivered once the token is back" 5 \
	"$(sql "SELECT count(*) FROM outbox WHERE destination = 'ga' AND kind = 'erasure' AND state = 'delivered'")"

echo "# a delivery acknowledged after the visitor's erasure still gets its notice"
R=$(choose true false)
sink_mode hold
expect_eq "R's event queued" 204 "$(collect "$R" mark-R)"
on_its_way() { grep -q mark-R "$SINK_REC"; }
cg_wait_for 10 on_its_way
out=$(erase "$R")
expect_match "R erased while its event is on its way: no destination had acknowledged it" \
	'"recipients_notified":0}$' "$out"
sink_mode ok
cg_wait_for 10 sql_eq 2 "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND destination = 'hook' AND state = 'delivered'"
expect_match "hook got a notice for R's pseudonym once it acknowledged R's event" \
	"\"client_id\":\"$(cid_of /hook mark-R)\"" \
	"$(sql "SELECT payload FROM outbox WHERE kind = 'erasure' AND destination = 'hook' ORDER BY id DESC LIMIT 1")"

echo "# $N visitors' events reach hook, then hook dies and they all erase"
ids=()
for _ in $(seq 1 $((N + 2))); do ids+=("$(choose true false)"); done
for id in "${ids[@]}"; do cg_wait_for 20 collected "$id" || break; done
cg_wait_for 60 sql_eq $((N + 2)) "SELECT count(*) FROM outbox WHERE destination = 'hook' AND kind = 'event'
	AND state = 'delivered' AND subject IS NOT NULL"
expect_eq "every one of them acknowledged by hook" $((N + 2)) \
	"$(sql "SELECT count(*) FROM outbox WHERE destination = 'hook' AND kind = 'event' AND state = 'delivered' AND subject IS NOT NULL")"
if [ "$CG_BACKEND" = postgresql ]; then
	echo "# the analyst role: the outbox view without its subject"
	psql -X -q -v ON_ERROR_STOP=1 "$CG_PG_URL" -f "$CG_SRC/conf/postgresql/analyst-role.sql" >/dev/null
	ANALYST=$(tr A-Z a-z <<<"${CG_PG_DB}_ann")
	sql "CREATE ROLE $ANALYST LOGIN; GRANT consentgate_analyst TO $ANALYST" >/dev/null
	as_analyst() { psql -X -q -At -F '|' "postgresql:///$CG_PG_DB?host=$CG_PG_HOST&port=$CG_PG_PORT&user=$ANALYST" -c "$1" 2>&1; }
	expect_ge "the daemon's role sees the rows' subjects" $((N + 2)) "$(sql "SELECT count(subject) FROM outbox")"
	expect_eq "the analyst reads every outbox row, none with a subject" "$(sql "SELECT count(*) FROM outbox")|0" \
		"$(as_analyst "SELECT count(*), count(subject) FROM outbox")"
	expect_eq "so no view row pairs a subject with a pseudonym" 0 \
		"$(as_analyst "SELECT count(*) FROM outbox WHERE subject IS NOT NULL AND payload LIKE '%client_id%'")"
	expect_match "the recipients table is not the analyst's either" 'permission denied for table recipients' \
		"$(as_analyst "SELECT count(*) FROM recipients")"
	sql "DROP OWNED BY $ANALYST; DROP ROLE $ANALYST" >/dev/null
fi
sink_mode 500
events_before=$(metric 'consentgate_limits_pending_rows{key="outbox_max_rows"}')
expect_eq "nothing of /collect's waits" 0 "$events_before"
told=0
for id in "${ids[@]:0:N}"; do
	[ "$(erase "$id")" = '{"erased":true,"detail":"your personal data was erased","recipients_notified":1}' ] &&
		told=$((told + 1))
done
expect_eq "every erasure recorded and hook told, though hook is down" $N "$told"
expect_eq "their tombstones" $((N + 6)) "$(sql "SELECT count(*) FROM consent_events WHERE action = 'erase'")"
cg_wait_for 20 sql_eq $N "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND destination = 'hook'
	AND state = 'pending' AND attempts >= 1"
expect_eq "$N notices wait for hook, each tried" $N "$(notices hook pending)"
expect_eq "metric: the notices under their own bound" $N "$(metric 'consentgate_limits_pending_rows{key="erasure_notices_max_rows"}')"
expect_eq "metric: what outbox_max_rows counts is unchanged" "$events_before" \
	"$(metric 'consentgate_limits_pending_rows{key="outbox_max_rows"}')"
expect_eq "metric: both bounds" "100 $N" \
	"$(metric 'consentgate_limits_max_rows{key="outbox_max_rows"}') $(metric 'consentgate_limits_max_rows{key="erasure_notices_max_rows"}')"
expect_match "consentctl outbox lists them" "hook +erasure +pending +$N " "$(CTL outbox)"
F=$(choose true false)
expect_eq "/collect still answers 204" 204 "$(collect "$F")"

echo "# past the notices' bound: the erasure is recorded, its notice refused"
out=$(erase "${ids[N]}")
expect_eq "the answer says whom it could not tell" \
	'{"erased":true,"detail":"your personal data was erased","recipients_notified":0,"recipients_not_notified":1}' "$out"
out=$(CTL erase --consent-id "${ids[N + 1]}")
expect_match "consentctl erase says so too" 'notices queued for 0 recipients.*not told: 1 recipients' "$(tr '\n' ' ' <<<"$out")"
expect_eq "both erasures recorded" $((N + 8)) "$(sql "SELECT count(*) FROM consent_events WHERE action = 'erase'")"
expect_eq "no notice queued past the bound" $N "$(notices hook pending)"
expect_eq "metric: the refused notice" 1 "$(metric consentgate_erasure_notices_refused_total)"

echo "# notices never expire; when hook is back they go in batches"
cg_stop_daemon
expect_clean_daemon_log "$CG_DIR/daemon.log"
# (five days on: a purge runs at its own time, consentctl purge refuses a
# --now later than the clock)
cg_at +5d "$CG_BUILD/consentctl" -c "$CG_INI" purge >/dev/null
expect_eq "after 72 h they still wait (F's event was dropped)" "$N dropped" \
	"$(notices hook pending) $(sql "SELECT state FROM outbox WHERE subject = '$(subject_of "$F")'")"
sink_mode ok
all_due() { sql_eq 0 "SELECT count(*) FROM outbox WHERE state = 'pending' AND next_attempt_at > '$(date -u +%FT%T.%3NZ)'"; }
cg_wait_for 5 all_due
seen=$(wc -l <"$SINK_REC")
cg_start_daemon || exit 1
cg_wait_for 20 sql_eq 0 "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND state = 'pending'"
expect_eq "all $N delivered, and the two before" $((N + 2)) "$(notices hook delivered)"
expect_eq "in two requests of 100, each naming its rows" "100:100 100:100" "$(tail -n +$((seen + 1)) "$SINK_REC" | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["path"] == "/hook":
        b = json.loads(r["body"])
        print("%d:%d" % (sum(n.get("type") == "erasure" for n in b), len(r["headers"]["x-consentgate-event-ids"].split(","))))
' | tr '\n' ' ' | sed 's/ $//')"
echo "# a notice that spoils its batch goes alone: the rest of the batch still goes"
P=("$(choose true false)" "$(choose true false)")
for p in "${P[@]}"; do expect_eq "P's event queued" 204 "$(collect "$p")"; done
cg_wait_for 10 sql_eq 2 "SELECT count(*) FROM outbox WHERE destination = 'hook' AND state = 'delivered'
	AND subject IN ('$(subject_of "${P[0]}")', '$(subject_of "${P[1]}")')"
cg_stop_daemon
# queued by hand (the view lets an operator) between the two erasures'
# notices: one batch, and not JSON
CTL erase --consent-id "${P[0]}" >/dev/null
sql "INSERT INTO outbox(subject, destination, purpose, mode, payload, created_at)
	VALUES(NULL, 'hook', 'statistics', 'full', '{\"erasure\":not json', '$(date -u +%FT%T.%3NZ)')" >/dev/null
CTL erase --consent-id "${P[1]}" >/dev/null
cg_start_daemon || exit 1
bad="payload LIKE '%not json'"
after="id >= (SELECT max(id) FROM outbox WHERE kind = 'erasure' AND id < (SELECT id FROM outbox WHERE $bad))"
cg_wait_for 20 sql_eq 2 "SELECT count(*) FROM outbox WHERE kind = 'erasure' AND state = 'delivered' AND NOT $bad AND $after"
expect_eq "P's two notices delivered at their first attempt; the spoilt one waits, tried, saying why" \
	"1|1 pending|the request cannot be built from this row" \
	"$(sql "SELECT group_concat(attempts, '|') FROM outbox WHERE NOT $bad AND $after") $(
	  sql "SELECT state || '|' || last_error FROM outbox WHERE $bad AND attempts >= 1")"

if [ "$CG_BACKEND" = postgresql ]; then
	echo "# a stop lets go of the rows the daemon claimed and did not finish"
	# (else the next start, a new instance, waits a lease - 5 minutes - for them)
	H=$(choose true false)
	sink_mode hold
	expect_eq "H's event queued" 204 "$(collect "$H" mark-H)"
	held() { grep -q mark-H "$SINK_REC"; }
	cg_wait_for 10 held
	cg_stop_daemon
	expect_eq "no pending row left claimed by the stopped daemon" 0 \
		"$(sql "SELECT count(*) FROM outbox WHERE state = 'pending' AND claimed_by IS NOT NULL")"
	sink_mode ok
	cg_start_daemon || exit 1
	cg_wait_for 20 sql_eq 1 "SELECT count(*) FROM outbox WHERE subject = '$(subject_of "$H")' AND state = 'delivered'"
	expect_eq "H's event delivered after the restart" delivered \
		"$(sql "SELECT state FROM outbox WHERE subject = '$(subject_of "$H")'")"
fi

cg_summary
