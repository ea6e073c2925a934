# shellcheck shell=bash
# A PostgreSQL primary and a streaming standby as private clusters on unix
# sockets (initdb as "postgres" in temporary directories, trust for the one
# role "cg"), for the failover test and the standby bench.
#
#   pgpair_start        PA (the primary's directory) and PB (the standby's),
#                       the standby streaming and synchronous
#   pgpair_sync on|off  synchronous_standby_names '*' or '' (asynchronous)
#   pgpair_stop         both stopped (immediate) and removed
#   pgc DIR ARGS...     pg_ctl of the cluster in DIR (PGC_EXTRA: more -c)
#   psqlat DIR QUERY [DB]
# Needs CG_PG_BIN (tests/lib/pg.sh).

# wal_retrieve_retry_interval: a standby whose primary died retries its WAL
# sources every 5 s by default, and a promotion requested meanwhile waited
# out that pause (measured here: promoted 5.4 s after the kill instead of
# 0.4 s in one run of three)
pgc() {
	local d=$1
	shift
	runuser -u postgres -- "$CG_PG_BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 \
		-o "-c listen_addresses='' -k $d -p 5432 -c max_connections=300 -c shared_buffers=64MB -c wal_retrieve_retry_interval=200ms ${PGC_EXTRA:-}" "$@"
}
psqlat() { psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -h "$1" -p 5432 -U cg -d "${3:-postgres}" -c "$2"; }

pgpair_sync() {
	local names=
	[ "$1" = on ] && names='*'
	psqlat "$PA" "ALTER SYSTEM SET synchronous_standby_names = '$names'" && psqlat "$PA" "SELECT pg_reload_conf()" >/dev/null
	cg_wait_for 30 sh -c "[ \"\$(psql -X -At -h $PA -U cg -d postgres -c 'SELECT sync_state FROM pg_stat_replication')\" = $([ "$1" = on ] && echo sync || echo async) ]"
}

pgpair_start() {
	PA=$(mktemp -d /tmp/cg-pga.XXXXXX) PB=$(mktemp -d /tmp/cg-pgb.XXXXXX)
	chown postgres "$PA" "$PB"
	chmod 755 "$PA" "$PB"
	runuser -u postgres -- "$CG_PG_BIN/initdb" -D "$PA/data" -A trust -U cg -E UTF8 --locale=C.UTF-8 \
		>"$PA/initdb.log" 2>&1 || { cat "$PA/initdb.log" >&2; return 1; }
	pgc "$PA" start >/dev/null || { cat "$PA/log" >&2; return 1; }
	# -c fast: no wait for a spread checkpoint; -R: primary_conninfo and standby.signal
	runuser -u postgres -- "$CG_PG_BIN/pg_basebackup" -h "$PA" -p 5432 -U cg -D "$PB/data" -R -X stream -c fast \
		>"$PB/basebackup.log" 2>&1 || { cat "$PB/basebackup.log" >&2; return 1; }
	pgc "$PB" start >/dev/null || { cat "$PB/log" >&2; return 1; }
	cg_wait_for 30 sh -c "[ \"\$(psql -X -At -h $PA -U cg -d postgres -c 'SELECT count(*) FROM pg_stat_replication')\" = 1 ]" ||
		{ echo "the standby did not connect" >&2; cat "$PB/log" >&2; return 1; }
	# synchronous only once the standby streams (before, every commit waits)
	pgpair_sync on
}

pgpair_stop() {
	local d
	for d in ${PA:-} ${PB:-}; do
		runuser -u postgres -- "$CG_PG_BIN/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1
		rm -rf "$d"
	done
}
