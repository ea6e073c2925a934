/* What was shown: banner builds and notices, their files stored once per
 * content hash (shown.h). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "internal.h"

/* schema 3 (with proof.c's tables) */
const char cg_schema_v3_shown[] =
"CREATE TABLE shown(id TEXT PRIMARY KEY, kind INTEGER NOT NULL CHECK (kind IN (0, 1)), label TEXT,\n"
"  first_ms INTEGER NOT NULL, retired_ms INTEGER) WITHOUT ROWID;\n"
"CREATE TABLE shown_files(shown_id TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,\n"
"  PRIMARY KEY (shown_id, name)) WITHOUT ROWID;\n"
"CREATE TABLE artefacts(hash TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID;\n";

struct put_job {
	const struct cg_shown *s;
	int64_t now_ms;
};

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	return sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

static int put_file(sqlite3 *db, const char *id, const struct cg_shown_file *f)
{
	sqlite3_stmt *st = prep(db, "INSERT INTO artefacts(hash, bytes) VALUES(?, ?) ON CONFLICT(hash) DO NOTHING");
	int rc;

	if (st) {
		sqlite3_bind_text(st, 1, f->hash, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, f->len ? (const void *)f->bytes : "", (int)f->len, SQLITE_STATIC);
	}
	if ((rc = cgs_step_final(st)) != CG_OK)
		return rc;
	st = prep(db, "INSERT INTO shown_files(shown_id, name, hash) VALUES(?, ?, ?) ON CONFLICT DO NOTHING");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, f->hash, -1, SQLITE_STATIC);
	}
	return cgs_step_final(st);
}

static int put_fn(sqlite3 *db, void *arg)
{
	const struct put_job *j = arg;
	const struct cg_shown *s = j->s;
	sqlite3_stmt *st = prep(db, "INSERT INTO shown(id, kind, label, first_ms) VALUES(?, ?, ?, ?)"
	                            " ON CONFLICT(id) DO UPDATE SET retired_ms = NULL");
	int rc;

	if (st) {
		sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, s->kind);
		sqlite3_bind_text(st, 3, s->label, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, j->now_ms);
	}
	rc = cgs_step_final(st);
	for (size_t i = 0; rc == CG_OK && i < s->nfiles; i++)
		rc = put_file(db, s->id, &s->files[i]);
	if (rc == CG_OK) { /* the others of its kind are retired */
		st = prep(db, "UPDATE shown SET retired_ms = ? WHERE kind = ? AND id <> ? AND retired_ms IS NULL");
		if (st) {
			sqlite3_bind_int64(st, 1, j->now_ms);
			sqlite3_bind_int(st, 2, s->kind);
			sqlite3_bind_text(st, 3, s->id, -1, SQLITE_STATIC);
		}
		rc = cgs_step_final(st);
	}
	return rc;
}

int cgs_shown_put(void *ctx, const struct cg_shown *sh, int64_t now_ms)
{
	struct cgs *s = ctx;
	struct put_job j = {sh, now_ms};

	return cgs_run(s, 1, put_fn, &j);
}

static void col(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	snprintf(out, size, "%s", v ? v : "");
}

int cgs_each_shown(struct cg_store_reader *r, const char *id, cg_store_shown_fn fn, void *ctx)
{
	sqlite3_stmt *st = prep(r->db,
		"SELECT s.id, s.kind, s.label, s.first_ms, s.retired_ms, f.name, f.hash FROM shown s"
		" LEFT JOIN shown_files f ON f.shown_id = s.id WHERE ?1 IS NULL OR s.id = ?1"
		" ORDER BY s.first_ms, s.id, f.name");
	struct cg_shown_row row;
	int rc = CG_OK, step, have = 0;

	if (!st)
		return CG_ERR_STORAGE;
	if (id)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (rc == CG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *this_id = (const char *)sqlite3_column_text(st, 0);
		if (have && strcmp(row.id, this_id) != 0) {
			rc = fn(ctx, &row);
			have = 0;
		}
		if (rc == CG_OK && !have) {
			memset(&row, 0, sizeof row);
			col(st, 0, row.id, sizeof row.id);
			row.kind = sqlite3_column_int(st, 1);
			col(st, 2, row.label, sizeof row.label);
			row.first_ms = sqlite3_column_int64(st, 3);
			row.retired_ms = sqlite3_column_int64(st, 4);
			have = 1;
		}
		if (rc == CG_OK && sqlite3_column_type(st, 5) != SQLITE_NULL && row.nfiles < 4) {
			col(st, 5, row.names[row.nfiles], sizeof row.names[0]);
			col(st, 6, row.hashes[row.nfiles], sizeof row.hashes[0]);
			row.nfiles++;
		}
	}
	if (rc == CG_OK && have)
		rc = fn(ctx, &row);
	if (rc == CG_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = CG_ERR_STORAGE;
	sqlite3_finalize(st);
	return rc;
}

int cgs_artefact(struct cg_store_reader *r, const char *hash, struct cg_buf *out)
{
	sqlite3_stmt *st = prep(r->db, "SELECT bytes FROM artefacts WHERE hash = ?");
	int rc = CG_ERR_STORAGE;

	if (!st)
		return rc;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = cg_buf_add(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		break;
	case SQLITE_DONE:
		rc = CG_ERR_NOT_FOUND;
		break;
	}
	sqlite3_finalize(st);
	return rc;
}
