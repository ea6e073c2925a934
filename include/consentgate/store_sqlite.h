/* The SQLite backend of the storage port (storage.h,
 * docs/architecture.md#the-storage-port): schema + migrations, one writer
 * thread with group commit, read connections. The only module that talks SQL;
 * this header names no SQLite type (src/store/sqlite/internal.h holds those). */
#ifndef CONSENTGATE_STORE_H
#define CONSENTGATE_STORE_H

#include <stddef.h>
#include "consentgate/config.h"
#include "consentgate/storage.h"

#define CG_SCHEMA_VERSION 7

/* Opens the SQLite file of [storage] database as a port: creating and
 * migrating it and starting the writer in the writer modes, and recording
 * the policy settings the views read. */
int cg_sqlite_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                   char *err, size_t errlen);

#endif
