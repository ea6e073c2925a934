/* consentctl's store and clock, for every command's file (cli.h): kept
 * apart from the commands so that no two files of src/cli need each other. */
#include <stdio.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/storage.h"
#include "cli.h"

int64_t cg_cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cg_cli_open(const struct cg_config *cfg, const char *database, int mode, struct cg_store_port *st,
                struct cg_store_reader **rd)
{
	struct cg_config c = *cfg;
	char err[512];

	if (database)
		snprintf(c.database, sizeof c.database, "%s", database);
	if (cg_store_port_open(&c, mode, st, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	if (rd && st->reader_open(st->ctx, rd) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read %s\n", c.backend == CG_BACKEND_SQLITE ? c.database : "the store");
		cg_store_port_close(st);
		return 1;
	}
	return 0;
}

void cg_cli_close(struct cg_store_port *st, struct cg_store_reader *rd)
{
	if (st->reader_free && rd)
		st->reader_free(rd);
	cg_store_port_close(st);
}
