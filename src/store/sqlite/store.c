#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/store_sqlite.h"
#include "consentgate/timefmt.h"
#include "internal.h"


static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else
		rc = SQLITE_ERROR;
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
}

/* Fresh: schema 2, then every step after it. Schema 1: rewritten in place
 * (migrate.c), in the same transaction, then vacuumed so the file shrinks
 * to the lean rows. */
static int create_v2(sqlite3 *db)
{
	return cgs_exec(db, cg_schema_v2_tables) == SQLITE_OK && cgs_exec(db, cg_schema_v2_views) == SQLITE_OK
	               ? CG_OK : CG_ERR_STORAGE;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int v = 0, rc = CG_OK;

	if (cgs_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK || user_version(db, &v)) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		cgs_exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	if (v > CG_SCHEMA_VERSION) {
		snprintf(err, errlen, "the database has schema version %d; this build knows up to %d",
		         v, CG_SCHEMA_VERSION);
		cgs_exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	if (v == 0)
		rc = create_v2(db);
	else if (v == 1 && (rc = cgs_migrate_v1(db, err, errlen)) == CG_OK)
		cg_info("database migrated from schema 1 to 2");
	/* 2 -> 3: the signing keys and signed chain heads */
	if (rc == CG_OK && v < 3 && (cgs_exec(db, cg_schema_v3_proof) != SQLITE_OK ||
	                             cgs_exec(db, cg_schema_v3_shown) != SQLITE_OK))
		rc = CG_ERR_STORAGE;
	/* 3 -> 4: erasure notices bounded on their own, recipients */
	if (rc == CG_OK && v < 4)
		rc = cgs_migrate_v4(db, v > 0, err, errlen);
	if (rc == CG_OK && v < 4 && cgs_exec(db, "PRAGMA user_version = 4") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	/* 4 -> 5: row format 2 (logev.c) */
	if (rc == CG_OK && v < 5 && (rc = cgs_migrate_v5(db)) == CG_OK && v > 0)
		cg_info("database migrated from schema %d to 5: rows from now on are of row format 2", v);
	if (rc == CG_OK && v < 5 && cgs_exec(db, "PRAGMA user_version = 5") != SQLITE_OK)
		rc = CG_ERR_STORAGE;
	/* 5 -> 6: vendor lists kept, the outbox's subject index whole (schema.c) */
	if (rc == CG_OK && v < 6 && (cgs_exec(db, cg_schema_v6) != SQLITE_OK ||
	                             cgs_exec(db, "PRAGMA user_version = 6") != SQLITE_OK))
		rc = CG_ERR_STORAGE;
	/* 6 -> 7: leak reports (leaks.c) */
	if (rc == CG_OK && v < 7 && (cgs_exec(db, cg_schema_v7_leaks) != SQLITE_OK ||
	                             cgs_exec(db, "PRAGMA user_version = 7") != SQLITE_OK))
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK) {
		if (!err[0])
			snprintf(err, errlen, "migration to schema %d failed: %s", CG_SCHEMA_VERSION, sqlite3_errmsg(db));
		cgs_exec(db, "ROLLBACK");
		return rc;
	}
	if (cgs_exec(db, "COMMIT") != SQLITE_OK) {
		snprintf(err, errlen, "migration commit failed: %s", sqlite3_errmsg(db));
		cgs_exec(db, "ROLLBACK");
		return CG_ERR_STORAGE;
	}
	if (v == 1 && cgs_exec(db, "VACUUM") != SQLITE_OK)
		cg_warn("after the migration: VACUUM failed; the file keeps its old size");
	return CG_OK;
}

/* The views compute expiry and staleness against the running configuration. */
static int write_meta(sqlite3 *db, const struct cg_config *cfg)
{
	sqlite3_stmt *st = NULL;
	char num[2][16];
	const char *kv[][2] = {
		{"policy_version", cfg->policy_version},
		{"consent_max_age_days", num[0]},
		{"refusal_max_age_days", num[1]},
	};
	int rc = CG_OK;

	snprintf(num[0], sizeof num[0], "%d", cfg->consent_max_age_days);
	snprintf(num[1], sizeof num[1], "%d", cfg->refusal_max_age_days);
	if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?, ?)"
	                           " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	for (size_t i = 0; i < sizeof kv / sizeof kv[0] && rc == CG_OK; i++) {
		sqlite3_bind_text(st, 1, kv[i][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, kv[i][1], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = CG_ERR_STORAGE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The key of full client_ids: random at first start, then stable, so a
 * visitor keeps one pseudonymous id at the destination across restarts. */
static int load_client_key(struct cgs *s)
{
	sqlite3_stmt *st = NULL;
	const char *hex = NULL;
	char fresh[65];
	size_t got = 0;
	int rc = CG_ERR_STORAGE;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'client_id_key'", -1,
	                       &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	if (sqlite3_step(st) == SQLITE_ROW)
		hex = (const char *)sqlite3_column_text(st, 0);
	if (hex && sodium_hex2bin(s->client_key, sizeof s->client_key, hex, strlen(hex), NULL,
	                          &got, NULL) == 0 && got == sizeof s->client_key)
		rc = CG_OK;
	sqlite3_finalize(st);
	if (rc == CG_OK)
		return rc;
	randombytes_buf(s->client_key, sizeof s->client_key);
	sodium_bin2hex(fresh, sizeof fresh, s->client_key, sizeof s->client_key);
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES('client_id_key', ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	sqlite3_bind_text(st, 1, fresh, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
	sqlite3_finalize(st);
	sodium_memzero(fresh, sizeof fresh);
	return rc;
}
/* A file whose log was moved to another store (consentctl migrate --to)
 * takes no writer: its visitors' records live on elsewhere. */
static int check_moved(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int moved = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'moved_to'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *to = (const char *)sqlite3_column_text(st, 0);
		/* the target's URL may hold a user name: name only its kind */
		snprintf(err, errlen, "%s: this database was moved to %s by consentctl migrate --to and takes no "
		         "more writes; set [storage] backend and url to the new store", path,
		         to && strncmp(to, "postgres", 8) == 0 ? "PostgreSQL" : "another store");
		moved = 1;
	}
	sqlite3_finalize(st);
	return moved ? CG_ERR_STORAGE : CG_OK;
}

/* The writer's connection: WAL + FULL (a commit is on disk when COMMIT
 * returns, even on power loss), schema, meta, statements, keys, threads. */
static int open_writer(struct cgs *s, const struct cg_config *cfg, char *err, size_t errlen)
{
	int rc;

	if (cgs_exec(s->db, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
	    cgs_exec(s->db, "PRAGMA synchronous=FULL") != SQLITE_OK ||
	    cgs_exec(s->db, "PRAGMA journal_size_limit=16777216") != SQLITE_OK ||
	    /* freed space is zeroed, so an erased value is not left in a free page */
	    cgs_exec(s->db, "PRAGMA secure_delete=ON") != SQLITE_OK ||
	    cgs_exec(s->db, "PRAGMA wal_autocheckpoint=0") != SQLITE_OK ||
	    cgs_exec(s->db, "PRAGMA foreign_keys=ON") != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot set WAL mode: %s", s->path, sqlite3_errmsg(s->db));
		return CG_ERR_STORAGE;
	}
	rc = migrate(s->db, err, errlen);
	if (rc == CG_OK)
		rc = check_moved(s->db, s->path, err, errlen);
	if (rc)
		return rc;
	rc = write_meta(s->db, cfg);
	if (rc == CG_OK)
		rc = cgs_writer_prepare(s);
	if (rc == CG_OK)
		rc = load_client_key(s);
	if (rc) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
		return rc;
	}
	if (pthread_create(&s->thread, NULL, cgs_writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		return CG_ERR_IO;
	}
	s->running = 1;
	sqlite3_wal_hook(s->db, cgs_wal_hook, s);
	if (pthread_create(&s->ckpt_thread, NULL, cgs_checkpoint_main, s) == 0)
		s->ckpt_running = 1;
	return CG_OK;
}

int cgs_open(const struct cg_config *cfg, int mode, struct cgs **out,
             char *err, size_t errlen)
{
	struct cgs *s = NULL;
	int rc = CG_ERR_NOMEM, v = 0;

	*out = NULL;
	err[0] = '\0';
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return CG_ERR_NOMEM;
	}
	s->mode = mode == CG_STORE_DAEMON ? CG_STORE_WRITER : mode;
	s->cfg = mode == CG_STORE_DAEMON ? cfg : NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	pthread_mutex_init(&s->ckpt_mu, NULL);
	snprintf(s->path, sizeof s->path, "%s", cfg->database);

	rc = cgs_open_conn(s->path, s->mode == CG_STORE_READONLY ? SQLITE_OPEN_READONLY
	                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s->db);
	if (rc) {
		snprintf(err, errlen, "cannot open database %s", s->path);
		goto out_fail;
	}
	if (s->mode == CG_STORE_READONLY && (user_version(s->db, &v) || v != CG_SCHEMA_VERSION)) {
		snprintf(err, errlen, "%s: not a consentgate database of schema %d", s->path, CG_SCHEMA_VERSION);
		rc = CG_ERR_STORAGE;
		goto out_fail;
	}
	if (s->mode != CG_STORE_READONLY && (rc = open_writer(s, cfg, err, errlen)) != CG_OK)
		goto out_fail;
	*out = s;
	return CG_OK;
out_fail:
	cgs_close(s);
	return rc;
}

void cgs_close(void *ctx)
{
	struct cgs *s = ctx;
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_signal(&s->work);
		pthread_cond_signal(&s->ckpt_wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		if (s->ckpt_running)
			pthread_join(s->ckpt_thread, NULL);
	}
	cgs_writer_finalize(s);
	sodium_memzero(s->client_key, sizeof s->client_key);
	if (s->db && s->mode == CG_STORE_WRITER)
		sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->ckpt_wake);
	pthread_mutex_destroy(&s->ckpt_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int submit_batch(void *ctx, struct cg_store_batch *b, cg_store_done done, void *arg)
{
	struct job j = {.kind = JOB_BATCH, .b = b, .done = done, .done_arg = arg};

	return cgs_submit(ctx, &j);
}

int cgs_client_key(void *ctx, uint8_t key[32])
{
	struct cgs *s = ctx;
	memcpy(key, s->client_key, sizeof s->client_key);
	return s->mode == CG_STORE_WRITER ? CG_OK : CG_ERR_NOT_FOUND;
}


void cgs_stats(void *ctx, struct cg_store_stats *out)
{
	struct cgs *s = ctx;
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
	out->connected = 1;
}


/* ---- the port: the backend's own functions, each taking the port's context ---- */

int cg_sqlite_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                   char *err, size_t errlen)
{
	static const struct cg_store_port sqlite_port = {
		.version = CG_STORE_PORT_VERSION,
		.name = "sqlite",
		.submit = submit_batch,
		.outbox_set = cgs_outbox_set,
		.purge = cgs_purge,
		.client_key = cgs_client_key,
		.stats = cgs_stats,
		.close = cgs_close,
		.retire = cgs_retire,
		.reader_open = cgs_reader_open,
		.reader_free = cgs_reader_free,
		.load_state = cgs_load_state,
		.each_event = cgs_each_event,
		.each_link = cgs_each_link,
		.snapshot = cgs_snapshot,
		.report = cgs_report,
		.claim_outbox = cgs_claim_outbox,
		.each_outbox = cgs_each_outbox,
		.outbox_pending = cgs_outbox_pending,
		.each_recipient = cgs_each_recipient,
		.recipients_since = cgs_recipients_since,
		.outbox_counts = cgs_outbox_counts,
		.outbox_backlog = cgs_outbox_backlog,
		.outbox_rows = cgs_outbox_rows,
		.key_put = cgs_key_put,
		.sign_head = cgs_sign_head,
		.head_anchor = cgs_head_anchor,
		.each_key = cgs_each_key,
		.each_head = cgs_each_head,
		.shown_put = cgs_shown_put,
		.each_shown = cgs_each_shown,
		.artefact = cgs_artefact,
		.leaks_put = cgs_leaks_put,
		.each_leak = cgs_each_leak,
	};
	struct cgs *s = NULL;
	int rc = cgs_open(cfg, mode, &s, err, errlen);

	memset(out, 0, sizeof *out);
	if (rc != CG_OK)
		return rc;
	*out = sqlite_port;
	out->ctx = s;
	return CG_OK;
}
