/* Proof: the instances' public keys and the signed chain heads. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/timefmt.h"
#include "internal.h"

/* Schema 3's additions (also created by schema 2 -> 3). The heads are
 * append-only: only their anchor may be filled in later. */
const char cg_schema_v3_proof[] =
"CREATE TABLE signing_keys(key_id TEXT PRIMARY KEY, public_key BLOB NOT NULL,\n"
"  created_ms INTEGER NOT NULL) WITHOUT ROWID;\n"
"CREATE TABLE chain_heads(id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL, signed_ms INTEGER NOT NULL,\n"
"  key_id TEXT NOT NULL, envelope TEXT NOT NULL, anchor TEXT, anchored_ms INTEGER);\n"
"CREATE TRIGGER chain_heads_append_only BEFORE UPDATE OF id, last_id, signed_ms, key_id, envelope\n"
"  ON chain_heads BEGIN SELECT RAISE(ABORT, 'chain_heads is append-only'); END;\n"
"CREATE TRIGGER chain_heads_kept BEFORE DELETE ON chain_heads\n"
"BEGIN SELECT RAISE(ABORT, 'signed chain heads are kept'); END;\n";

static int key_put_fn(sqlite3 *db, void *arg)
{
	const struct cg_pubkey *k = arg;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "INSERT INTO signing_keys(key_id, public_key, created_ms) VALUES(?, ?, ?)"
	                           " ON CONFLICT(key_id) DO NOTHING", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, k->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, k->pk, sizeof k->pk, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, k->created_ms);
	return cgs_step_final(st);
}

int cgs_key_put(void *ctx, const struct cg_pubkey *k)
{
	struct cgs *s = ctx;
	struct cg_pubkey copy = *k;

	return cgs_run(s, 1, key_put_fn, &copy);
}

struct sign_job {
	int64_t now_ms, min_interval_ms;
	int force;
	cg_head_sign_fn sign;
	void *arg;
	int64_t head_id;
	struct cg_head head;   /* read before the writer's transaction */
};

/* the log's side of the head: its tip (a row, a pruned link or a log
 * event), that link's time, and how many links lead to it */
static int read_tip(sqlite3 *db, struct cg_head *h)
{
	sqlite3_stmt *st = NULL;
	int rc = CG_ERR_STORAGE;
	int64_t ms = 0;

	strcpy(h->hash, CG_CHAIN_GENESIS);
	if (sqlite3_prepare_v2(db,
	        "SELECT id, hash, t, (SELECT count(*) FROM events) + (SELECT count(*) FROM pruned) +"
	        " (SELECT count(*) FROM log_events) FROM ("
	        " SELECT id, hash, recorded_ms AS t FROM (SELECT * FROM events ORDER BY id DESC LIMIT 1)"
	        " UNION ALL SELECT id, hash, pruned_ms FROM (SELECT * FROM pruned ORDER BY id DESC LIMIT 1)"
	        " UNION ALL SELECT id, hash, recorded_ms FROM (SELECT * FROM log_events ORDER BY id DESC LIMIT 1))"
	        " ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		h->last_id = sqlite3_column_int64(st, 0);
		cgs_column_hex(st, 1, h->hash, sizeof h->hash);
		ms = sqlite3_column_int64(st, 2);
		h->links = sqlite3_column_int64(st, 3);
		cg_time_format(ms, h->last_recorded_at);
		rc = CG_OK;
		break;
	case SQLITE_DONE: /* the empty log */
		rc = CG_OK;
		break;
	}
	sqlite3_finalize(st);
	return rc;
}

/* 1 when a head is due: none yet, or the last one is old enough and the
 * log moved since */
static int head_due(sqlite3 *db, const struct sign_job *j, int64_t last_id)
{
	sqlite3_stmt *st = NULL;
	int due = 1;

	if (j->force)
		return 1;
	if (sqlite3_prepare_v2(db, "SELECT last_id, signed_ms FROM chain_heads ORDER BY id DESC LIMIT 1", -1, &st,
	                       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		due = sqlite3_column_int64(st, 0) != last_id &&
		      sqlite3_column_int64(st, 1) <= j->now_ms - j->min_interval_ms;
	sqlite3_finalize(st);
	return due;
}

/* In the writer's transaction: the head read before, signed and kept if a
 * head is still due (another signer may have kept one meanwhile). */
static int sign_fn(sqlite3 *db, void *arg)
{
	struct sign_job *j = arg;
	struct cg_head *h = &j->head;
	struct cg_buf env;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!head_due(db, j, h->last_id))
		return CG_OK;
	cg_time_format(j->now_ms, h->signed_at);
	cg_buf_init(&env, CG_ENVELOPE_MAX + 1024);
	rc = j->sign(j->arg, h, &env);
	if (rc == CG_OK && sqlite3_prepare_v2(db, "INSERT INTO chain_heads(last_id, signed_ms, key_id, envelope)"
	                                          " VALUES(?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	if (rc == CG_OK) {
		sqlite3_bind_int64(st, 1, h->last_id);
		sqlite3_bind_int64(st, 2, j->now_ms);
		sqlite3_bind_text(st, 3, h->key_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, env.p, (int)env.len, SQLITE_STATIC);
		if ((rc = cgs_step_final(st)) == CG_OK)
			j->head_id = sqlite3_last_insert_rowid(db);
	}
	cg_buf_free(&env);
	return rc;
}

/* The head is read on a connection of its own, in one read transaction (a
 * snapshot: the tip and the count of links agree), beside the writer:
 * counting the links reads every row (tens of ms per million), and the
 * writer only waits for the INSERT of the signed head. */
int cgs_sign_head(void *ctx, int64_t now_ms, int64_t min_interval_ms, int force,
                  cg_head_sign_fn sign, void *arg, int64_t *head_id)
{
	struct cgs *s = ctx;
	struct sign_job j = {now_ms, min_interval_ms, force, sign, arg, 0, {0}};
	sqlite3 *db = NULL;
	int rc = CG_ERR_STORAGE, due = 0;

	*head_id = 0;
	if (cgs_open_conn(s->path, SQLITE_OPEN_READONLY, &db) == CG_OK && cgs_exec(db, "BEGIN") == SQLITE_OK &&
	    (rc = read_tip(db, &j.head)) == CG_OK)
		due = head_due(db, &j, j.head.last_id);
	sqlite3_close(db);
	if (rc != CG_OK || !due)
		return rc;
	rc = cgs_run(s, 1, sign_fn, &j);
	*head_id = rc == CG_OK ? j.head_id : 0;
	return rc;
}

struct anchor_job {
	int64_t id, now_ms;
	const char *anchor;
};

static int anchor_fn(sqlite3 *db, void *arg)
{
	struct anchor_job *j = arg;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "UPDATE chain_heads SET anchor = ?, anchored_ms = ? WHERE id = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, j->anchor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, j->now_ms);
	sqlite3_bind_int64(st, 3, j->id);
	return cgs_step_final(st);
}

int cgs_head_anchor(void *ctx, int64_t head_id, const char *anchor, int64_t now_ms)
{
	struct cgs *s = ctx;
	struct anchor_job j = {head_id, now_ms, anchor};

	return cgs_run(s, 1, anchor_fn, &j);
}

int cgs_each_key(struct cg_store_reader *r, cg_store_key_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct cg_pubkey k;
	int rc, step;

	if (sqlite3_prepare_v2(r->db, "SELECT key_id, public_key, created_ms FROM signing_keys ORDER BY created_ms, key_id",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	rc = CG_OK;
	while (rc == CG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&k, 0, sizeof k);
		snprintf(k.key_id, sizeof k.key_id, "%s", (const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_bytes(st, 1) != sizeof k.pk)
			continue;
		memcpy(k.pk, sqlite3_column_blob(st, 1), sizeof k.pk);
		k.created_ms = sqlite3_column_int64(st, 2);
		rc = fn(ctx, &k);
	}
	if (rc == CG_OK && step != SQLITE_DONE)
		rc = CG_ERR_STORAGE;
	sqlite3_finalize(st);
	return rc;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? strdup(v) : NULL;
}

int cgs_each_head(struct cg_store_reader *r, int64_t from_ms, int64_t to_ms, int latest,
                  cg_store_head_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct cg_signed_head h;
	int rc = CG_OK, step;

	if (sqlite3_prepare_v2(r->db, latest
	        ? "SELECT * FROM (SELECT id, last_id, signed_ms, key_id, envelope, anchor FROM chain_heads"
	          " WHERE signed_ms >= ?1 AND signed_ms < ?2 ORDER BY id DESC LIMIT 1)"
	        : "SELECT id, last_id, signed_ms, key_id, envelope, anchor FROM chain_heads"
	          " WHERE signed_ms >= ?1 AND signed_ms < ?2 ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while (rc == CG_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&h, 0, sizeof h);
		h.id = sqlite3_column_int64(st, 0);
		h.last_id = sqlite3_column_int64(st, 1);
		h.signed_ms = sqlite3_column_int64(st, 2);
		snprintf(h.key_id, sizeof h.key_id, "%s", (const char *)sqlite3_column_text(st, 3));
		h.envelope = column_dup(st, 4);
		h.anchor = column_dup(st, 5);
		rc = h.envelope ? fn(ctx, &h) : CG_ERR_NOMEM;
		cg_signed_head_clear(&h);
	}
	if (rc == CG_OK && step != SQLITE_DONE)
		rc = CG_ERR_STORAGE;
	sqlite3_finalize(st);
	return rc;
}
