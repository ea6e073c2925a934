/* What was shown: banner builds and notices, their files stored once per
 * content hash (shown.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

/* schema 2 (with proof.c's tables) */
const char pgs_shown_sql[] =
"CREATE TABLE shown(id text PRIMARY KEY, kind smallint NOT NULL CHECK (kind IN (0, 1)), label text,\n"
"  first_ms bigint NOT NULL, retired_ms bigint);\n"
"CREATE TABLE shown_files(shown_id text NOT NULL, name text NOT NULL, hash text NOT NULL,\n"
"  PRIMARY KEY (shown_id, name));\n"
"CREATE TABLE artefacts(hash text PRIMARY KEY, bytes bytea NOT NULL);\n";

/* one transaction on a connection of its own */
int pgs_shown_put(void *ctx, const struct cg_shown *sh, int64_t now_ms)
{
	struct pgs *s = ctx;
	PGconn *c = NULL;
	char err[256], ms[24], kind[4];
	int64_t deadline = pgs_mono_ms() + s->cfg.write_timeout_ms;
	int rc = pgs_connect_checked(s, "consentgated", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, sizeof err);

	if (rc != CG_OK) {
		cg_error("%s", err);
		return CG_ERR_STORAGE;
	}
	snprintf(ms, sizeof ms, "%" PRId64, now_ms);
	snprintf(kind, sizeof kind, "%d", sh->kind);
	rc = pgs_exec(c, "BEGIN", deadline);
	if (rc == CG_OK) {
		const char *v[] = {sh->id, kind, sh->label, ms};
		rc = pgs_query(c, "INSERT INTO shown(id, kind, label, first_ms) VALUES($1, $2::smallint, $3, $4::bigint)"
		                  " ON CONFLICT (id) DO UPDATE SET retired_ms = NULL", 4, v, deadline, NULL);
	}
	for (size_t i = 0; rc == CG_OK && i < sh->nfiles; i++) {
		const struct cg_shown_file *f = &sh->files[i];
		char *hex = malloc(2 * f->len + 3);
		const char *v[] = {f->hash, hex};
		if (!hex) {
			rc = CG_ERR_NOMEM;
			break;
		}
		memcpy(hex, "\\x", 2);
		sodium_bin2hex(hex + 2, 2 * f->len + 1, f->bytes, f->len);
		rc = pgs_query(c, "INSERT INTO artefacts(hash, bytes) VALUES($1, $2::bytea) ON CONFLICT (hash) DO NOTHING",
		               2, v, deadline, NULL);
		if (rc == CG_OK)
			rc = pgs_query(c, "INSERT INTO shown_files(shown_id, name, hash) VALUES($1, $2, $3)"
			                  " ON CONFLICT DO NOTHING", 3, (const char *const[]){sh->id, f->name, f->hash},
			               deadline, NULL);
		free(hex);
	}
	if (rc == CG_OK) { /* the others of its kind are retired */
		const char *v[] = {ms, sh->id, kind};
		rc = pgs_query(c, "UPDATE shown SET retired_ms = $1::bigint WHERE kind = $3::smallint AND id <> $2"
		                  " AND retired_ms IS NULL", 3, v, deadline, NULL);
	}
	if (rc != CG_ERR_IO)
		pgs_exec(c, rc == CG_OK ? "COMMIT" : "ROLLBACK", deadline);
	PQfinish(c);
	return rc == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

int pgs_each_shown(struct cg_store_reader *r, const char *id, cg_store_shown_fn fn, void *ctx)
{
	const char *v[] = {id};
	struct cg_shown_row row;
	PGresult *res = NULL;
	int have = 0, rc = pgs_reader_query(r,
		"SELECT s.id, s.kind, s.label, s.first_ms, s.retired_ms, f.name, f.hash FROM shown s"
		" LEFT JOIN shown_files f ON f.shown_id = s.id WHERE $1::text IS NULL OR s.id = $1"
		" ORDER BY s.first_ms, s.id, f.name", 1, v, &res);

	for (int i = 0; rc == CG_OK && i < PQntuples(res); i++) {
		if (have && strcmp(row.id, PQgetvalue(res, i, 0)) != 0) {
			rc = fn(ctx, &row);
			have = 0;
		}
		if (rc == CG_OK && !have) {
			memset(&row, 0, sizeof row);
			pgs_col(res, i, 0, row.id, sizeof row.id);
			row.kind = (int)pgs_col_i64(res, i, 1);
			pgs_col(res, i, 2, row.label, sizeof row.label);
			row.first_ms = pgs_col_i64(res, i, 3);
			row.retired_ms = pgs_col_i64(res, i, 4);
			have = 1;
		}
		if (rc == CG_OK && !PQgetisnull(res, i, 5) && row.nfiles < 4) {
			pgs_col(res, i, 5, row.names[row.nfiles], sizeof row.names[0]);
			pgs_col(res, i, 6, row.hashes[row.nfiles], sizeof row.hashes[0]);
			row.nfiles++;
		}
	}
	if (rc == CG_OK && have)
		rc = fn(ctx, &row);
	PQclear(res);
	return rc;
}

int pgs_artefact(struct cg_store_reader *r, const char *hash, struct cg_buf *out)
{
	const char *v[] = {hash};
	PGresult *res = NULL;
	int rc = pgs_reader_query(r, "SELECT encode(bytes, 'hex') FROM artefacts WHERE hash = $1", 1, v, &res);

	if (rc == CG_OK && PQntuples(res) == 0)
		rc = CG_ERR_NOT_FOUND;
	if (rc == CG_OK) {
		const char *hex = PQgetvalue(res, 0, 0);
		size_t n = strlen(hex) / 2, got = 0;
		char *b = malloc(n + 1);
		if (!b || sodium_hex2bin((unsigned char *)b, n + 1, hex, 2 * n, NULL, &got, NULL) != 0)
			rc = CG_ERR_NOMEM;
		else
			rc = cg_buf_add(out, b, got);
		free(b);
	}
	PQclear(res);
	return rc;
}
