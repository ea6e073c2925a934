# shellcheck shell=bash
# Starts the real consentgated behind the real nginx on 127.0.0.1 in a
# temporary directory; used by the integration tests, the demo and the
# benchmarks. Source it, then call stack_start; stack_stop cleans up.
#
# In:  CG_SRC (repo root), CG_BUILD (build dir), optional:
#      CG_PORT (default: a free port), CG_DIR (default: mktemp),
#      CG_RATE (limit_req rate, default 50r/s), CG_RATE_KEY (its key), CG_WORKERS (daemon, default 2),
#      CG_NGINX_WORKERS (default 1), CG_INI_EXTRA (lines appended to the ini),
#      CG_DB_PATH (the database file; default CG_DIR/consent.db),
#      CG_GA_UPSTREAM / CG_HOTJAR_UPSTREAM (where /_ga/ and /_hotjar/ proxy to;
#      default: the demo's stand-in scripts),
#      CG_NGINX_EXTRA (lines inside the server block), CG_ORIGINS_EXTRA (more allowed_origins),
#      CG_NGINX_HTTP_EXTRA (lines inside the http block),
#      CG_NGINX_UPSTREAM_EXTRA (more "server ...;" lines in the daemon's upstream),
#      CG_NGINX_BODY_MAX (client_max_body_size of every daemon location, e.g. 1m:
#      an nginx that lets more through than the shipped 8k/64k),
#      CG_UPSTREAM_KEEPALIVE_TIMEOUT (how long nginx keeps an idle connection to the daemon),
#      CG_TCP_LISTEN (set: the daemon listens on 127.0.0.1:PORT, not a unix socket),
#      CG_STORAGE_EXTRA (lines in [storage]), CG_PG_VIA (HOST:PORT of a proxy
#      to PostgreSQL the daemon connects through), CG_PG_HOSTS (socket
#      directories, comma-separated: a URL with target_session_attrs=read-write),
#      CG_BACKEND (sqlite, the default, or postgresql: a fresh database in the
#      private cluster of tests/lib/pg.sh, started here unless CG_PG_HOST
#      names a running one)
# Out: CG_DIR, CG_PORT, CG_URL, CG_DB, CG_INI, CG_SOCKET, CG_DAEMON_PID,
#      CG_PG_DB and CG_PG_URL (postgresql)
# Helpers: sql QUERY (on either backend: same output as sqlite3), sql_ge N
# QUERY, sql_eq V QUERY, subject_of CONSENT_ID, cg_wait_for, cg_free_port, ...

: "${CG_SRC:?}" "${CG_BUILD:?}"
CG_BACKEND=${CG_BACKEND:-sqlite}
# shellcheck source=pg.sh
source "$CG_SRC/tests/lib/pg.sh"

cg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sql QUERY: one query against the stack's database, whichever backend:
# columns joined by '|', NULL as '' (sqlite3's and psql -At's output agree).
# Queries the tests share are written in the SQL both speak; group_concat
# exists on PostgreSQL too (test databases only: see cg_pg_test_helpers).
sql() {
	if [ "$CG_BACKEND" = postgresql ]; then pgsql "$CG_PG_DB" "$1"; else sqlite3 -batch -noheader "$CG_DB" "$1"; fi
}
sql_ge() { local v; v=$(sql "$2") && [ "$v" -ge "$1" ]; }   # sql_ge N QUERY: the count reached N
sql_eq() { [ "$(sql "$2")" = "$1" ]; }                       # sql_eq VALUE QUERY
# SQLite's structural check (PostgreSQL has no cheap equivalent: "ok")
db_integrity() { if [ "$CG_BACKEND" = postgresql ]; then echo ok; else sql 'PRAGMA integrity_check'; fi; }

# SQLite's group_concat for the tests' queries (in the test database only)
cg_pg_test_helpers() {
	pgsql "$CG_PG_DB" "
	CREATE FUNCTION cg_test_gc(acc text, v anyelement, sep text) RETURNS text LANGUAGE sql IMMUTABLE AS
	  \$\$SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text ELSE acc || sep || v::text END\$\$;
	CREATE FUNCTION cg_test_gc(acc text, v anyelement) RETURNS text LANGUAGE sql IMMUTABLE AS
	  \$\$SELECT cg_test_gc(acc, v, ',')\$\$;
	CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = cg_test_gc, STYPE = text);
	CREATE AGGREGATE group_concat(anyelement) (SFUNC = cg_test_gc, STYPE = text);" >/dev/null
}
# subject_of CONSENT_ID: the subject key the daemon stores for a consent ID
# (written out here on purpose: the tests check the C code against it):
# "<selector>.<secret>" -> the selector's 8 bytes, then 24 bytes of
# SHA-256("consentgate/subject/v2:" ID); a schema-1 ID -> SHA-256 of v1:ID
subject_of() {
	case "$1" in
	*.*) printf '%s%s' "$(printf '%s=' "${1%%.*}" | tr '_-' '/+' | base64 -d | od -An -tx1 | tr -d ' \n')" \
		"$(printf 'consentgate/subject/v2:%s' "$1" | sha256sum | cut -c1-48)" ;;
	*) printf 'consentgate/subject/v1:%s' "$1" | sha256sum | cut -d' ' -f1 ;;
	esac
}

# cg_unstored_acks ANSWERS: "UNSTORED ACKED" for the answers of cg_burst
# with '%{http_code} %header{set-cookie}' lines: how many consent IDs
# acknowledged with a 200 have no row in consent_events, of how many
cg_unstored_acks() {
	sql "SELECT subject FROM consent_events" >"$CG_DIR/stored.txt"
	python3 - "$1" "$CG_DIR/stored.txt" <<'PY'
import base64, hashlib, re, sys
ids = [m.group(1) for line in open(sys.argv[1])
       if line.startswith("200 ") and (m := re.search(r"cg_id=([A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{22})", line))]
stored = {line.strip() for line in open(sys.argv[2])}
# the selector's 8 bytes, then 24 bytes of SHA-256 over a fixed prefix and the id
subj = lambda i: (base64.urlsafe_b64decode(i[:11] + "=").hex() +
                  hashlib.sha256(("consentgate/subject/v2:" + i).encode()).hexdigest()[:48])
print(sum(1 for i in ids if subj(i) not in stored), len(ids))
PY
}

cg_wait_for() { # cg_wait_for SECONDS CMD...: poll until CMD succeeds
	local deadline=$((SECONDS + $1)); shift
	until "$@" 2>/dev/null; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

cg_write_ini() {
	cat >"$CG_INI" <<INI
; generated by tests/lib/stack.sh
[server]
listen = $CG_SOCKET
socket_group = www-data
workers = ${CG_WORKERS:-2}
base_path = /consent
site = test.example

[policy]
version = 2023-12
consent_max_age_days = 365
refusal_max_age_days = 180
allowed_origins = http://127.0.0.1:$CG_PORT https://shop.example ${CG_ORIGINS_EXTRA:-}
cookie_secure = ${CG_COOKIE_SECURE:-false}
refusal_is_objection = true
gpc = marketing
url = /personvern

[storage]
$(if [ "$CG_BACKEND" = postgresql ]; then printf 'backend = postgresql\nurl = %s\n' "$CG_PG_URL"; else printf 'database = %s\n' "$CG_DB"; fi)
${CG_STORAGE_EXTRA:-}

[geoip]
database = $CG_DIR/country.mmdb
country_path = country.iso_code
ipv4_prefix = 24
ipv6_prefix = 48

[banner]
dir = $CG_DIR/web

[controller]
name = Testbutikken AS
contact = personvern@shop.example
${CG_INI_EXTRA:-}
INI
}

cg_daemon_listens() {
	case $CG_SOCKET in
	/*) test -S "$CG_SOCKET" ;;
	*) (exec 3<>"/dev/tcp/${CG_SOCKET%:*}/${CG_SOCKET#*:}") 2>/dev/null ;;
	esac
}

# Time passing, for retention: cg_at OFFSET CMD... runs CMD with its wall
# clock moved by OFFSET (libfaketime's syntax: +800d), as the daemon with
# CG_DAEMON_AT=OFFSET. A purge is recorded in the chain with its time, so a
# test that purges "in 800 days" runs the purge, and what follows it, then.
# (libfaketime is preloaded before the sanitizer runtime: ASan is told not
# to mind.)
# In the ThreadSanitizer build its runtime is preloaded first: libfaketime
# wraps pthread_cond_init/timedwait/destroy and calls glibc's own, so TSan,
# behind it, would not see a condition wait release its mutex and would
# report every later lock of it as a double lock and a race; in front, TSan
# sees every call and passes it on to libfaketime. (The monotonic clock is
# left alone: TSan's runtime reads it while it starts.)
CG_FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
CG_TSAN_LIB=$(ldd "$CG_BUILD/consentgated" 2>/dev/null | awk '/libtsan/ {print $3}')
cg_faketime_env() {
	printf '%s\n' "LD_PRELOAD=${CG_TSAN_LIB:+$CG_TSAN_LIB:}$CG_FAKETIME_LIB" "FAKETIME=$1" FAKETIME_DONT_FAKE_MONOTONIC=1 \
		"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}
cg_at() {
	local off=$1
	shift
	[ -n "$CG_FAKETIME_LIB" ] || { echo "cg_at: libfaketime is not installed (conf/install-deps.sh --test)" >&2; return 1; }
	env $(cg_faketime_env "$off") "$@"
}

cg_start_daemon() {
	local at=()
	[ -n "${CG_DAEMON_AT:-}" ] && mapfile -t at < <(cg_faketime_env "$CG_DAEMON_AT")
	if [ -n "${CG_DETACH:-}" ]; then # the demo: outlive this shell
		setsid nohup "$CG_BUILD/consentgated" -c "$CG_INI" </dev/null >/dev/null 2>>"$CG_DIR/daemon.log" &
	else
		env "${at[@]}" "$CG_BUILD/consentgated" -c "$CG_INI" 2>>"$CG_DIR/daemon.log" &
	fi
	CG_DAEMON_PID=$!
	echo "$CG_DAEMON_PID" >"$CG_DIR/daemon.pid"
	if ! cg_wait_for 10 cg_daemon_listens; then
		echo "consentgated did not start; its log:" >&2
		cat "$CG_DIR/daemon.log" >&2
		return 1
	fi
}

cg_stop_daemon() { # SIGTERM and wait
	[ -n "${CG_DAEMON_PID:-}" ] || return 0
	kill -TERM "$CG_DAEMON_PID" 2>/dev/null
	wait "$CG_DAEMON_PID" 2>/dev/null
	local rc=$?
	CG_DAEMON_PID=
	case $rc in # it had crashed (SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGILL): its stack, before the log goes
	134 | 135 | 136 | 139 | 132)
		echo "# consentgated had died of signal $((rc - 128)); the end of its log:" >&2
		tail -n 40 "$CG_DIR/daemon.log" | sed 's/^/#   /' >&2 ;;
	esac
	return $rc
}

stack_start() {
	CG_PORT=${CG_PORT:-$(cg_free_port)}
	CG_DIR=${CG_DIR:-$(mktemp -d /tmp/cg-test.XXXXXX)}
	mkdir -p "$CG_DIR/nginx" "$CG_DIR/nginx-tmp" "$CG_DIR/web"
	chmod 755 "$CG_DIR"
	CG_URL="http://127.0.0.1:$CG_PORT"
	# the daemon's state directory (systemd's StateDirectory=): where the
	# signing key goes on PostgreSQL when [signing] key_file names none
	export STATE_DIRECTORY=$CG_DIR
	CG_DB=${CG_DB_PATH:-$CG_DIR/consent.db}
	CG_INI="$CG_DIR/consentgate.ini"
	# CG_TCP_LISTEN=1: the daemon listens on 127.0.0.1:PORT instead of a unix socket
	CG_SOCKET="$CG_DIR/fcgi.sock"
	[ -n "${CG_TCP_LISTEN:-}" ] && CG_SOCKET="127.0.0.1:$(cg_free_port)"
	if [ "$CG_BACKEND" = postgresql ]; then
		cg_pg_start || return 1
		CG_PG_DB=cg_$(basename "$CG_DIR" | tr -c 'a-zA-Z0-9\n' _)
		CG_PG_URL=$(cg_pg_createdb "$CG_PG_DB") || return 1
		cg_pg_test_helpers || return 1
		# CG_PG_VIA=HOST:PORT: the daemon connects through a TCP proxy there
		[ -n "${CG_PG_VIA:-}" ] && CG_PG_URL="postgresql://cg@${CG_PG_VIA}/$CG_PG_DB"
		# CG_PG_HOSTS=DIR_A,DIR_B: a primary and its standby, the one that takes writes
		[ -n "${CG_PG_HOSTS:-}" ] &&
			CG_PG_URL="postgresql:///$CG_PG_DB?host=$CG_PG_HOSTS&port=$CG_PG_PORT&user=cg&target_session_attrs=read-write"
	fi

	# nginx workers run as www-data: they read the web files from a copy
	cp -r "$CG_SRC/web/." "$CG_DIR/web/"
	# the banner build carries its id (as cmake --install stamps it)
	"$CG_BUILD/consentctl" banner stamp "$CG_DIR/web" >"$CG_DIR/build-id" || return 1
	for f in "$CG_SRC"/conf/nginx/consentgate-*.conf; do
		sed -e "s#/etc/consentgate/nginx#$CG_DIR/nginx#g" \
		    ${CG_NGINX_BODY_MAX:+-e "s#client_max_body_size [0-9]*k;#client_max_body_size $CG_NGINX_BODY_MAX;#"} \
		    "$f" >"$CG_DIR/nginx/$(basename "$f")"
	done
	sed -e "s#@DIR@#$CG_DIR#g" -e "s#@CONF@#$CG_DIR/nginx#g" -e "s#@WEB@#$CG_DIR/web#g" \
	    -e "s#@SOCKET@#$CG_SOCKET#g" -e "s#@PORT@#$CG_PORT#g" \
	    -e "s#@GA_UPSTREAM@#${CG_GA_UPSTREAM:-http://127.0.0.1:$CG_PORT/_standin/ga/}#g" \
	    -e "s#@HOTJAR_UPSTREAM@#${CG_HOTJAR_UPSTREAM:-http://127.0.0.1:$CG_PORT/_standin/hotjar/}#g" \
	    -e "s#@UPSTREAM_EXTRA@#${CG_NGINX_UPSTREAM_EXTRA:-}#g" \
	    -e "s#@UPSTREAM_SERVER@#$(case $CG_SOCKET in /*) echo "unix:$CG_SOCKET" ;; *) echo "$CG_SOCKET" ;; esac)#g" \
	    -e "s#@KEEPALIVE_TIMEOUT@#${CG_UPSTREAM_KEEPALIVE_TIMEOUT:-60s}#g" \
	    -e "s#@RATE@#${CG_RATE:-50r/s}#g" -e "s#@RATE_KEY@#${CG_RATE_KEY:-\$cg_rate_key}#g" -e "s#@NGINX_WORKERS@#${CG_NGINX_WORKERS:-1}#g" \
	    "$CG_SRC/conf/nginx/standalone.conf.in" >"$CG_DIR/nginx.conf"
	python3 - "$CG_DIR/nginx.conf" "${CG_NGINX_EXTRA:-}" "${CG_NGINX_HTTP_EXTRA:-}" <<'PY'
import sys
p, extra, http_extra = sys.argv[1:4]
s = open(p).read().replace("@HTTP_EXTRA@", http_extra).replace("@EXTRA@", extra)
open(p, "w").write(s)
PY
	[ -f "$CG_DIR/country.mmdb" ] ||
		perl "$CG_SRC/geoip/build-test-mmdb.pl" "$CG_SRC/geoip/test-networks.csv" \
			"$CG_DIR/country.mmdb" >/dev/null || return 1
	cg_write_ini
	cg_start_daemon || return 1
	nginx -p "$CG_DIR" -c "$CG_DIR/nginx.conf" -e "$CG_DIR/nginx-error.log" || return 1
	cg_wait_for 10 curl -fsS -o /dev/null "$CG_URL/consent/healthz" || {
		echo "nginx did not come up" >&2; tail -n 20 "$CG_DIR/nginx-error.log" >&2
		echo "# consentgated's log:" >&2; tail -n 40 "$CG_DIR/daemon.log" | sed 's/^/#   /' >&2; return 1; }
}

# cg_sanitizer_reports: the first lines of any sanitizer report in the
# daemon's log (every daemon the test started appends to it); empty if none
cg_sanitizer_reports() {
	grep -E -A12 'ThreadSanitizer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' \
		"$CG_DIR/daemon.log" 2>/dev/null | head -40
}

# Stops nginx and the daemon and removes what the test made; a sanitizer
# report in the daemon's log (its threads' races, leaks found at its exit)
# fails the test that started it, whether or not it looked: the script exits 1.
stack_stop() {
	if [ -f "$CG_DIR/nginx.pid" ]; then
		local npid
		npid=$(cat "$CG_DIR/nginx.pid")
		kill -QUIT "$npid" 2>/dev/null
		cg_wait_for 5 sh -c "! kill -0 $npid" || kill -KILL "$npid" 2>/dev/null
	fi
	cg_stop_daemon
	local reports
	reports=$(cg_sanitizer_reports)
	if [ -z "${CG_KEEP:-}" ] && [ -n "${CG_DIR:-}" ] && [[ $CG_DIR == /tmp/cg-test.* ]]; then
		rm -rf "$CG_DIR"
	fi
	if [ "$CG_BACKEND" = postgresql ]; then
		[ -z "${CG_KEEP:-}" ] && cg_pg_dropdb "$CG_PG_DB"
		cg_pg_stop
	fi
	if [ -n "$reports" ]; then
		echo "FAIL - a sanitizer report in the daemon's log:"
		printf '%s\n' "$reports" | sed 's/^/#   /'
		exit 1
	fi
}

# cg_burst N PARALLEL FORMAT OUTFILE [curl args...]: N POSTs to /consent with
# at most PARALLEL in flight (one curl process), one -w FORMAT line each.
cg_burst() {
	local n=$1 par=$2 fmt=$3 out=$4 args=()
	shift 4
	for _ in $(seq 1 "$n"); do args+=(-o /dev/null "$CG_URL/consent"); done
	curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$par" -H 'Content-Type: application/json' \
		-w "$fmt" "$@" "${args[@]}" >"$out"
}

# cg_start_sink [PORT]: a recording sink standing in for vendors
# (tests/lib/sink.py), on PORT or a free port.
# Out: SINK_PORT, SINK_DIR, SINK_REC (one JSON line per request), SINK_PID.
cg_start_sink() {
	SINK_PORT=${1:-$(cg_free_port)}
	SINK_DIR=$(mktemp -d /tmp/cg-sink.XXXXXX)
	SINK_REC="$SINK_DIR/records.jsonl"
	touch "$SINK_REC"
	python3 "$CG_SRC/tests/lib/sink.py" "$SINK_PORT" "$SINK_REC" &
	SINK_PID=$!
	cg_wait_for 10 curl -fs -o /dev/null "http://127.0.0.1:$SINK_PORT/_control" || {
		echo "the sink did not start" >&2; return 1; }
}
cg_stop_sink() { kill "$SINK_PID" 2>/dev/null; rm -rf "$SINK_DIR"; }
# sink_mode ok|500|429|400|hang|reset|hold
sink_mode() { curl -s -o /dev/null -X POST --data "{\"mode\":\"$1\"}" "http://127.0.0.1:$SINK_PORT/_control"; }
