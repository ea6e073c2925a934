/* Leak reports (storage.h struct cg_leak_row): counts per day, added to
 * once a minute by the daemon, read by consentctl report --leaks. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "internal.h"

/* schema 7 */
const char cg_schema_v7_leaks[] =
"CREATE TABLE csp_leaks(day TEXT NOT NULL, vendor TEXT NOT NULL, host TEXT NOT NULL,\n"
"  directive TEXT NOT NULL, path TEXT NOT NULL, count INTEGER NOT NULL CHECK (count > 0),\n"
"  PRIMARY KEY (day, vendor, host, directive, path)) WITHOUT ROWID;\n";

struct put_job {
	const struct cg_leak_row *rows;
	size_t n;
};

static int put_fn(sqlite3 *db, void *arg)
{
	const struct put_job *j = arg;
	sqlite3_stmt *st = NULL;
	int rc = CG_OK;

	if (sqlite3_prepare_v2(db, "INSERT INTO csp_leaks(day, vendor, host, directive, path, count)"
	                           " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < j->n && rc == CG_OK; i++) {
		const struct cg_leak_row *r = &j->rows[i];
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, r->day, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->vendor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->host, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->directive, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, r->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, r->count);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = CG_ERR_STORAGE;
	}
	sqlite3_finalize(st);
	return rc;
}

int cgs_leaks_put(void *ctx, const struct cg_leak_row *rows, size_t n)
{
	struct put_job j = {rows, n};

	return cgs_run(ctx, 1, put_fn, &j);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(out, size, "%s", v ? v : "");
}

int cgs_each_leak(struct cg_store_reader *r, const char *since_day, cg_store_leak_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct cg_leak_row row;
	int rc = CG_OK, step;

	if (sqlite3_prepare_v2(r->db, "SELECT day, vendor, host, directive, path, count FROM csp_leaks WHERE day >= ?"
	                              " ORDER BY day, vendor, host, directive, path", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, since_day, -1, SQLITE_STATIC);
	while (rc == CG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof row);
		col(st, 0, row.day, sizeof row.day);
		col(st, 1, row.vendor, sizeof row.vendor);
		col(st, 2, row.host, sizeof row.host);
		col(st, 3, row.directive, sizeof row.directive);
		col(st, 4, row.path, sizeof row.path);
		row.count = sqlite3_column_int64(st, 5);
		rc = fn(ctx, &row);
	}
	if (rc == CG_OK && step != SQLITE_DONE)
		rc = CG_ERR_STORAGE;
	sqlite3_finalize(st);
	return rc;
}
