#!/usr/bin/env bash
# with_pg.sh CMD...: runs CMD with a private PostgreSQL cluster (the run's,
# when CG_PG_HOST names a running one; else one started and stopped here).
: "${CG_SRC:?}"
source "$CG_SRC/tests/lib/pg.sh"
cg_pg_start || exit 1
trap cg_pg_stop EXIT
"$@"
