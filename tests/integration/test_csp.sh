#!/usr/bin/env bash
# The per-visitor Content-Security-Policy through the real nginx and
# consentgated: the policy for every state, the largest one through nginx's
# buffer, the shipped page snippet (both headers, Reporting-Endpoints,
# Cache-Control: private, HSTS re-added), and the page served while the
# daemon is stopped (the fallback under enforce, no policy under report).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

trap stack_stop EXIT
export CG_PORT=$(cg_free_port)
export CG_DIR=$(mktemp -d /tmp/cg-test.XXXXXX)
FALLBACK="script-src 'self' 'unsafe-inline'; report-uri /consent/csp-report"
# pages with the policy, as a site wires them (docs/nginx.md#content-security-policy)
export CG_NGINX_EXTRA="
        location /shop/ {
            set \$cg_csp_fallback \"$FALLBACK\";
            include $CG_DIR/nginx/consentgate-csp.conf;
            alias $CG_DIR/web/demo/;
        }
        location /blog/ {
            include $CG_DIR/nginx/consentgate-csp.conf;
            alias $CG_DIR/web/demo/;
        }"
# every catalogue vendor, and custom ones up to the largest policy the daemon allows
vendors=$(sed -n 's/^\[\(.*\)\]$/[vendor.\1]/p' "$CG_SRC/conf/vendors.ini")
for v in $(seq 1 11); do
	hosts=""
	for h in $(seq 1 5); do hosts="$hosts https://h$h.v$v.big-vendor.example"; done
	vendors="$vendors
[vendor.big$v]
category = preferences
hosts =$hosts
cookies = big$v
storage = big$v
recipient = Big $v AS
country = NO
source = https://big.example/$v"
done
ini_csp() { # MODE: the [csp] section and the vendors
	CG_INI_EXTRA="
[vendors]
catalogue = $CG_SRC/conf/vendors.ini
$vendors
[csp]
mode = $1
base = 'self' 'unsafe-inline' https://cdn.shop.example"
}
ini_csp enforce
export CG_INI_EXTRA
stack_start || exit 1

choose() { # choose PREFS STATS MKT -> the consent id
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		--data "{\"choices\":{\"preferences\":$1,\"statistics\":$2,\"marketing\":$3},\"policy_version\":\"2023-12\"}" \
		"$CG_URL/consent" | tr -d '\r' | sed -n 's/^Set-Cookie: cg_id=\([^;]*\);.*/\1/p'
}
# header NAME [curl args]: the page's header of that name ("" when none)
page_header() {
	local name=$1
	shift
	curl -s -D - -o /dev/null "$@" "$CG_URL/shop/" | tr -d '\r' |
		awk -v n="$(tr 'A-Z' 'a-z' <<<"$name")" 'BEGIN{IGNORECASE=1} { k=tolower(substr($0,1,index($0,":")-1)); if (k==n) print substr($0,index($0,":")+2) }'
}
directive() { # directive NAME POLICY: its sources
	tr ';' '\n' <<<"$2" | sed -n "s/^ *$1 //p"
}

echo "# a visitor without a choice: the base, frames for every vendor in use"
base=$(page_header Content-Security-Policy)
expect_match "the page carries Content-Security-Policy" "^script-src 'self' 'unsafe-inline' https://cdn.shop.example; " "$base"
expect_eq "... and no Report-Only one (nginx omits an empty header)" "" "$(page_header Content-Security-Policy-Report-Only)"
expect_eq "scripts: the base alone" "'self' 'unsafe-inline' https://cdn.shop.example" "$(directive script-src "$base")"
expect_eq "images: the base, without 'unsafe-inline'" "'self' https://cdn.shop.example" "$(directive img-src "$base")"
expect_match "frames: every vendor in use (placeholders gate them)" "https://www.youtube.com .*https://player.vimeo.com" \
	"$(directive frame-src "$base")"
expect_match "... the analytics ones too" "https://\*.hotjar.com" "$(directive frame-src "$base")"
expect_match "reports: report-uri and report-to" "report-uri /consent/csp-report; report-to consentgate-csp$" "$base"
expect_eq "Reporting-Endpoints names report-to's group" 'consentgate-csp="/consent/csp-report"' \
	"$(page_header Reporting-Endpoints)"
expect_eq "Cache-Control: private" private "$(page_header Cache-Control)"
expect_eq "HSTS re-added in the page's location" "max-age=31536000" "$(page_header Strict-Transport-Security)"
expect_eq "the page itself is served" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/shop/")"
expect_match "the state answer names the mode (the banner reloads after a grant)" '"csp":"enforce"' \
	"$(curl -s "$CG_URL/consent")"

echo "# the policy for every state"
declare -A host=([preferences]=https://maps.googleapis.com [statistics]=https://static.hotjar.com
	[marketing]=https://connect.facebook.net)
host[statistics]='https://\*.hotjar.com'
for combo in "false false false" "true false false" "false true false" "false false true" \
	"true true false" "false true true" "true false true" "true true true"; do
	read -r p s m <<<"$combo"
	id=$(choose "$p" "$s" "$m")
	pol=$(page_header Content-Security-Policy -H "Cookie: cg_id=$id")
	for dir in script-src connect-src img-src; do
		src=$(directive "$dir" "$pol")
		for cat in preferences statistics marketing; do
			want=false
			{ [ $cat = preferences ] && [ "$p" = true ]; } || { [ $cat = statistics ] && [ "$s" = true ]; } ||
				{ [ $cat = marketing ] && [ "$m" = true ]; } && want=true
			got=false
			grep -Eq "(^| )${host[$cat]}( |$)" <<<"$src" && got=true
			expect_eq "p=$p s=$s m=$m: $dir allows $cat's vendors: $want" "$want" "$got"
		done
	done
	expect_eq "p=$p s=$s m=$m: frames as for everyone" "$(directive frame-src "$base")" "$(directive frame-src "$pol")"
	# the same through /consent/csp itself
	direct=$(curl -s -D - -o /dev/null -H "Cookie: cg_id=$id" "$CG_URL/consent/csp" | tr -d '\r' |
		sed -n 's/^X-Consentgate-CSP: //p')
	expect_eq "p=$p s=$s m=$m: /consent/csp answers the same policy" "$pol" "$direct"
done
echo "# every vendor granted: the largest policy fits through nginx"
all=$(choose true true true)
pol=$(page_header Content-Security-Policy -H "Cookie: cg_id=$all")
expect_ge "the policy is over 8 kB (nginx's default buffer would refuse it: a 500)" 8192 "${#pol}"
expect_match "... and carries the last vendor's hosts" "https://h5.v11.big-vendor.example" "$(directive script-src "$pol")"
expect_eq "... and the page is served" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: cg_id=$all" "$CG_URL/shop/")"

echo "# a withdrawal, a bad or repeated cookie: the base"
curl -s -o /dev/null -X DELETE -H "Cookie: cg_id=$all" -H "Origin: $CG_URL" "$CG_URL/consent"
expect_eq "withdrawn: the base policy" "$base" "$(page_header Content-Security-Policy -H "Cookie: cg_id=$all")"
expect_eq "a forged cookie: the base policy" "$base" \
	"$(page_header Content-Security-Policy -H "Cookie: cg_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")"
stats=$(choose false true false)
expect_eq "the consent cookie twice: the base policy" "$base" \
	"$(page_header Content-Security-Policy -H "Cookie: cg_id=$stats; cg_id=$stats")"
expect_eq "a method other than GET is refused" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$CG_URL/consent/csp")"

echo "# the daemon stopped: pages still served, with the fallback (enforce)"
cg_stop_daemon
expect_eq "the page is served" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: cg_id=$stats" "$CG_URL/shop/")"
expect_eq "... with the base policy nginx was given" "$FALLBACK" \
	"$(page_header Content-Security-Policy -H "Cookie: cg_id=$stats")"
expect_eq "... a location without a fallback: served" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/blog/")"
expect_eq "... without a policy" "" "$(curl -s -D - -o /dev/null "$CG_URL/blog/" | tr -d '\r' | grep -i '^content-security-policy')"

echo "# report mode: the Report-Only header; stopped: no policy at all"
ini_csp report
cg_write_ini
cg_start_daemon || exit 1
ro=$(page_header Content-Security-Policy-Report-Only -H "Cookie: cg_id=$stats")
expect_match "Content-Security-Policy-Report-Only with the visitor's grants" "^script-src 'self' 'unsafe-inline' https://cdn.shop.example.*https://\*.hotjar.com" "$ro"
expect_eq "... and no enforced policy" "" "$(page_header Content-Security-Policy -H "Cookie: cg_id=$stats")"
expect_match "the state answer says report" '"csp":"report"' "$(curl -s "$CG_URL/consent")"

echo "# leak reports"
metric() { # metric VENDOR: consentgate_csp_reports_total of it
	curl -s "$CG_URL/consent/metrics" | sed -n "s/^consentgate_csp_reports_total{vendor=\"$1\"} //p"
}
uri_report() { # uri_report PAGE BLOCKED DIRECTIVE [SOURCE] [curl args]: the status
	local src=${4:+,\"source-file\":\"$4\"}
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/csp-report' "${@:5}" \
		--data "{\"csp-report\":{\"document-uri\":\"$1\",\"blocked-uri\":\"$2\",\"effective-directive\":\"$3\",\"disposition\":\"report\",\"original-policy\":\"x\"$src}}" \
		"$CG_URL/consent/csp-report"
}
to_body() { # to_body PAGE BLOCKED DIRECTIVE...: a reports+json batch
	python3 - "$@" <<'PY'
import json, sys
page = sys.argv[1]
a = sys.argv[2:]
print(json.dumps([{"type": "csp-violation", "age": 3, "url": page, "user_agent": "x",
                   "body": {"documentURL": page, "blockedURL": a[i], "effectiveDirective": a[i + 1],
                            "disposition": "report", "statusCode": 200}} for i in range(0, len(a), 2)]))
PY
}
h0=$(metric hotjar); m0=$(metric meta-pixel); u0=$(metric unknown)
expect_eq "a report-uri report: 204" 204 "$(uri_report "$CG_URL/shop/product/42?email=a@b.example" \
	"https://static.hotjar.com/c/hotjar-1.js?sv=6" script-src-elem)"
expect_eq "... counted for its vendor" "$((h0 + 1))" "$(metric hotjar)"
expect_eq "with a cookie granting statistics: a load after a grant, not counted" 204 \
	"$(uri_report "$CG_URL/shop/" "https://static.hotjar.com/c/hotjar-1.js" script-src-elem "" -H "Cookie: cg_id=$stats")"
expect_eq "... the count stays" "$((h0 + 1))" "$(metric hotjar)"
expect_eq "the banner's release (its source file), not counted" 204 \
	"$(uri_report "$CG_URL/shop/" "https://connect.facebook.net/en_US/fbevents.js" script-src-elem "$CG_URL/consent/banner.js")"
expect_eq "a vendor's script loading more of itself, not counted" 204 \
	"$(uri_report "$CG_URL/shop/" "https://www.facebook.com/tr?id=1" img-src "https://connect.facebook.net/en_US/fbevents.js")"
expect_eq "... meta-pixel unchanged" "$m0" "$(metric meta-pixel)"
expect_eq "inline: no host, not counted" 204 "$(uri_report "$CG_URL/shop/" inline script-src-elem)"
body=$(to_body "$CG_URL/blog/post?x=1" "https://connect.facebook.net/en_US/fbevents.js" script-src-elem \
	"https://leak.tracker.example/t.js" script-src-elem "data:image/png;base64,AAAA" img-src)
expect_eq "a reports+json batch: 204" 204 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/reports+json' --data "$body" "$CG_URL/consent/csp-report")"
expect_eq "... its vendor counted" "$((m0 + 1))" "$(metric meta-pixel)"
expect_eq "... a host of no vendor counted as unknown" "$((u0 + 1))" "$(metric unknown)"

echo "# hostile reports: refused or neutralised, nothing personal kept"
expect_eq "another media type: 415" 415 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
	--data '{"csp-report":{}}' "$CG_URL/consent/csp-report")"
expect_eq "not JSON: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/csp-report' \
	--data 'csp-report=1' "$CG_URL/consent/csp-report")"
expect_eq "the wrong shape (an array for report-uri): 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/csp-report' --data '[1,2]' "$CG_URL/consent/csp-report")"
expect_eq "wrong types inside: counted as nothing" 204 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/csp-report' \
	--data '{"csp-report":{"document-uri":7,"blocked-uri":["https://x.example"],"effective-directive":null}}' \
	"$CG_URL/consent/csp-report")"
python3 -c 'print("{\"csp-report\":" + "[" * 5000 + "]" * 5000 + "}")' >"$CG_DIR/deep.json"
expect_eq "deeply nested: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/csp-report' \
	--data-binary @"$CG_DIR/deep.json" "$CG_URL/consent/csp-report")"
python3 -c 'print("{\"csp-report\":{\"x\":\"" + "a" * 70000 + "\"}}")' >"$CG_DIR/huge.json"
expect_eq "over 64 kB: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/csp-report' \
	--data-binary @"$CG_DIR/huge.json" "$CG_URL/consent/csp-report")"
long=$(python3 -c 'print("a" * 10000)')
expect_eq "a host name of 10 kB: 204" 204 "$(uri_report "$CG_URL/shop/" "https://$long.example/x.js" script-src-elem)"
expect_eq "HTML in the host: 204" 204 "$(uri_report "$CG_URL/shop/" "https://<img src=x onerror=alert(1)>.example/x.js" script-src-elem)"
expect_eq "... neither counted" "$((u0 + 1))" "$(metric unknown)"
for b in 1 2 3 4 5; do # 160 made-up hosts in five batches: only the first 100 of the day are kept
	args=()
	for i in $(seq 1 32); do args+=("https://made-up-$b-$i.example/x.js" script-src-elem); done
	curl -s -o /dev/null -H 'Content-Type: application/reports+json' --data "$(to_body "$CG_URL/shop/" "${args[@]}")" \
		"$CG_URL/consent/csp-report"
done
before=$(metric unknown)
python3 - "$CG_PORT" >"$CG_DIR/flood" <<'PY'
import http.client, sys, threading
out = []
def run(t):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
    for i in range(250):
        body = '{"csp-report":{"document-uri":"http://127.0.0.1/f","blocked-uri":"https://flood%d-%d.example/x.js","effective-directive":"script-src"}}' % (t, i)
        c.request("POST", "/consent/csp-report", body, {"Content-Type": "application/csp-report"})
        r = c.getresponse(); r.read()
        out.append(r.status)
ts = [threading.Thread(target=run, args=(t,)) for t in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("\n".join(map(str, out)))
PY
admitted=$(grep -c '^204$' "$CG_DIR/flood")
expect_ge "a flood of 2000: refused (429)" 1000 "$(grep -c '^429$' "$CG_DIR/flood")"
expect_eq "... only the admitted ones counted" "$((before + admitted))" "$(metric unknown)"
expect_eq "... the visitor's own budget untouched (/consent answers)" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/consent")"
cg_stop_daemon # writes what it counted (else once a minute)

echo "# consentctl report --leaks: the real ones, nothing personal"
today=$(date -u +%F)
csv=$("$CG_BUILD/consentctl" -c "$CG_INI" report --leaks --format csv)
expect_match "hotjar on /shop, script-src" "$today,\"hotjar\",\"\",script-src,\"/shop\",1" "$csv"
expect_match "meta-pixel on /blog" "$today,\"meta-pixel\",\"\",script-src,\"/blog\",1" "$csv"
expect_match "a host of no vendor, by name" "$today,\"\",\"leak.tracker.example\",script-src,\"/blog\",1" "$csv"
expect_no_match "no query, address or cookie" "email|42|secret|127\.0\.0\.1|cg_id" "$csv"
expect_no_match "no 10 kB host, no HTML" "aaaaaaaaaa|<|>" "$csv"
expect_eq "the hosts of no vendor: at most 100 a day" 100 \
	"$(sql "SELECT count(DISTINCT host) FROM csp_leaks WHERE vendor = ''")"
expect_eq "the stored columns" "day vendor host directive path count" \
	"$(if [ "$CG_BACKEND" = postgresql ]; then sql "SELECT string_agg(column_name, ' ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'csp_leaks'"; else sql "SELECT group_concat(name, ' ') FROM pragma_table_info('csp_leaks')"; fi)"
expect_match "table" "hotjar +script-src +/shop +1" "$("$CG_BUILD/consentctl" -c "$CG_INI" report --leaks)"
expect_match "json" '"vendor":"meta-pixel","host":null,"directive":"script-src","page":"/blog","reports":1' \
	"$("$CG_BUILD/consentctl" -c "$CG_INI" report --leaks --format json)"
expect_match "html: a chart" "<svg role=\"img\"" "$("$CG_BUILD/consentctl" -c "$CG_INI" report --leaks --format html)"
FALLBACK_RO=$FALLBACK
# under report the site leaves $cg_csp_fallback out: /blog/ is that site
expect_eq "stopped: the page is served" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$CG_URL/blog/")"
expect_eq "... without a policy" "" "$(curl -s -D - -o /dev/null "$CG_URL/blog/" | tr -d '\r' | grep -i '^content-security-policy')"
: "$FALLBACK_RO"

echo "# mode off: nothing added"
ini_csp off
cg_write_ini
cg_start_daemon || exit 1
expect_eq "no policy header" "" "$(curl -s -D - -o /dev/null -H "Cookie: cg_id=$stats" "$CG_URL/shop/" | tr -d '\r' | grep -i '^content-security-policy')"
expect_no_match "the state answer has no mode" '"csp"' "$(curl -s "$CG_URL/consent")"

expect_clean_daemon_log "$CG_DIR/daemon.log"
cg_summary
