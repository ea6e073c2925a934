/* The PostgreSQL backend of the storage port (storage.h, docs/postgresql.md):
 * several daemons on one database. Each instance group-commits its own
 * batches; one global hash chain, appended under a transaction-scoped
 * advisory lock, so it never forks or gaps; the outbox claimed with FOR
 * UPDATE SKIP LOCKED and a lease; the daily purge on one instance at a time;
 * the client_id key in the database; a shared configuration fingerprint.
 * Every call has a deadline ([storage] *_timeout_ms): a database that stops
 * answering fails requests quickly. Names no libpq type. */
#ifndef CONSENTGATE_STORE_PG_H
#define CONSENTGATE_STORE_PG_H

#include <stddef.h>
#include "consentgate/config.h"
#include "consentgate/storage.h"

#define CG_PG_SCHEMA_VERSION 6

/* Connects to [storage] url as a port: creating or migrating the schema in
 * the writer modes (one instance at a time; the others wait), and in DAEMON
 * mode registering this instance, which refuses to start beside a live
 * instance whose configuration fingerprint differs. */
int cg_pg_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
               char *err, size_t errlen);

/* CG_OK if url is a PostgreSQL URL (postgresql:// or postgres://) or a
 * key=value conninfo, readable by libpq, that names its database;
 * CG_ERR_INVALID with err saying why otherwise (echoing nothing of the
 * string, which may hold a password, but libpq's reason for a syntax
 * error). Touches nothing. */
int cg_pg_url_check(const char *url, char *err, size_t errlen);

#endif
