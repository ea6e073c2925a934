/* The storage port's front door: [storage] backend chooses the backend. */
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/storage.h"
#include "consentgate/store_pg.h"
#include "consentgate/store_sqlite.h"

int cg_store_port_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                       char *err, size_t errlen)
{
	if (cfg->backend == CG_BACKEND_POSTGRESQL)
		return cg_pg_open(cfg, mode, out, err, errlen);
	return cg_sqlite_open(cfg, mode, out, err, errlen);
}

void cg_store_port_close(struct cg_store_port *p)
{
	if (p && p->close && p->ctx)
		p->close(p->ctx);
	if (p)
		memset(p, 0, sizeof *p);
}
