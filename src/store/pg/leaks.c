/* Leak reports (storage.h struct cg_leak_row): counts per day, added to
 * once a minute by each daemon, read by consentctl report --leaks. */
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

/* schema 6 */
const char pgs_leaks_sql[] =
"CREATE TABLE csp_leaks(day date NOT NULL, vendor text NOT NULL, host text NOT NULL,\n"
"  directive text NOT NULL, path text NOT NULL, count bigint NOT NULL CHECK (count > 0),\n"
"  PRIMARY KEY (day, vendor, host, directive, path));\n";

/* one transaction on a connection of its own: instances add to the same rows */
int pgs_leaks_put(void *ctx, const struct cg_leak_row *rows, size_t n)
{
	struct pgs *s = ctx;
	PGconn *c = NULL;
	char err[256], count[24];
	int64_t deadline = pgs_mono_ms() + s->cfg.write_timeout_ms;
	int rc = pgs_connect(&s->cfg, "consentgated", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, sizeof err);

	if (rc != CG_OK) {
		cg_error("%s", err);
		return CG_ERR_STORAGE;
	}
	rc = pgs_exec(c, "BEGIN", deadline);
	for (size_t i = 0; rc == CG_OK && i < n; i++) {
		const struct cg_leak_row *r = &rows[i];
		const char *v[] = {r->day, r->vendor, r->host, r->directive, r->path, count};
		snprintf(count, sizeof count, "%lld", r->count);
		rc = pgs_query(c, "INSERT INTO csp_leaks(day, vendor, host, directive, path, count)"
		                  " VALUES($1::date, $2, $3, $4, $5, $6::bigint)"
		                  " ON CONFLICT (day, vendor, host, directive, path)"
		                  " DO UPDATE SET count = csp_leaks.count + excluded.count", 6, v, deadline, NULL);
	}
	if (rc != CG_ERR_IO)
		pgs_exec(c, rc == CG_OK ? "COMMIT" : "ROLLBACK", deadline);
	PQfinish(c);
	return rc == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

int pgs_each_leak(struct cg_store_reader *r, const char *since_day, cg_store_leak_fn fn, void *ctx)
{
	const char *v[] = {since_day};
	struct cg_leak_row row;
	PGresult *res = NULL;
	int rc = pgs_reader_query(r, "SELECT to_char(day, 'YYYY-MM-DD'), vendor, host, directive, path, count"
	                             " FROM csp_leaks WHERE day >= $1::date ORDER BY day, vendor, host, directive, path",
	                          1, v, &res);

	for (int i = 0; rc == CG_OK && i < PQntuples(res); i++) {
		memset(&row, 0, sizeof row);
		pgs_col(res, i, 0, row.day, sizeof row.day);
		pgs_col(res, i, 1, row.vendor, sizeof row.vendor);
		pgs_col(res, i, 2, row.host, sizeof row.host);
		pgs_col(res, i, 3, row.directive, sizeof row.directive);
		pgs_col(res, i, 4, row.path, sizeof row.path);
		row.count = pgs_col_i64(res, i, 5);
		rc = fn(ctx, &row);
	}
	PQclear(res);
	return rc;
}
