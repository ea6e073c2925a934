# shellcheck shell=bash
# A private PostgreSQL cluster for the tests: initdb in a temporary directory
# as the unprivileged user "postgres" (PostgreSQL refuses to run as root),
# listening on a unix socket in that directory only, trust authentication
# for its one role "cg". The packaged cluster is never touched.
#
#   cg_pg_start            starts one (unless CG_PG_HOST names a running one)
#   cg_pg_stop             stops and removes the one cg_pg_start made
#   cg_pg_createdb NAME    a fresh database; prints its libpq URL
#   cg_pg_dropdb NAME
#   pgsql DB QUERY         psql, unaligned, '|' between columns (as sqlite3)
# Out: CG_PG_HOST (the socket directory), CG_PG_PORT, CG_PG_BIN

CG_PG_BIN=${CG_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

cg_pg_start() {
	[ -n "${CG_PG_HOST:-}" ] && [ -S "$CG_PG_HOST/.s.PGSQL.${CG_PG_PORT:-5432}" ] && return 0
	CG_PG_HOST=$(mktemp -d /tmp/cg-pg.XXXXXX)
	CG_PG_PORT=5432
	CG_PG_OWNED=1
	chown postgres "$CG_PG_HOST"
	chmod 755 "$CG_PG_HOST"
	runuser -u postgres -- "$CG_PG_BIN/initdb" -D "$CG_PG_HOST/data" -A trust -U cg -E UTF8 --locale=C.UTF-8 \
		>"$CG_PG_HOST/initdb.log" 2>&1 || { cat "$CG_PG_HOST/initdb.log" >&2; return 1; }
	# small and quick: the tests' load is bounded; fsync stays on (durability is under test)
	runuser -u postgres -- "$CG_PG_BIN/pg_ctl" -D "$CG_PG_HOST/data" -l "$CG_PG_HOST/log" -w -t 60 \
		-o "-c listen_addresses='' -k $CG_PG_HOST -p $CG_PG_PORT -c max_connections=300 -c shared_buffers=64MB" \
		start >/dev/null || { cat "$CG_PG_HOST/log" >&2; return 1; }
	export CG_PG_HOST CG_PG_PORT CG_PG_OWNED
}

cg_pg_stop() {
	[ -n "${CG_PG_OWNED:-}" ] || return 0
	runuser -u postgres -- "$CG_PG_BIN/pg_ctl" -D "$CG_PG_HOST/data" -m fast -w stop >/dev/null 2>&1
	rm -rf "$CG_PG_HOST"
	CG_PG_OWNED=
}

# the server process's own pg_ctl (tests stop and start it)
cg_pg_ctl() { runuser -u postgres -- "$CG_PG_BIN/pg_ctl" -D "$CG_PG_HOST/data" -l "$CG_PG_HOST/log" -w -t 60 \
	-o "-c listen_addresses='' -k $CG_PG_HOST -p $CG_PG_PORT -c max_connections=300 -c shared_buffers=64MB" "$@"; }

pgsql() { # pgsql DB QUERY
	psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -h "$CG_PG_HOST" -p "$CG_PG_PORT" -U cg -d "$1" -c "$2"
}

cg_pg_createdb() {
	psql -X -q -v ON_ERROR_STOP=1 -h "$CG_PG_HOST" -p "$CG_PG_PORT" -U cg -d postgres \
		-c "CREATE DATABASE \"$1\"" >/dev/null || return 1
	echo "postgresql:///$1?host=$CG_PG_HOST&port=$CG_PG_PORT&user=cg"
}

cg_pg_dropdb() {
	psql -X -q -h "$CG_PG_HOST" -p "$CG_PG_PORT" -U cg -d postgres \
		-c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1
}
