/* What the SQLite backend's files share (internal.h): connections, the
 * statements' small steps, schema 2's encodings, and the writer's queue —
 * here, not in store.c, so that every file needs this one and none needs
 * another's. */
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/logevent.h"
#include "consentgate/timefmt.h"
#include "internal.h"

int cgs_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		cg_error("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
	}
	return rc;
}

static int map_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return CG_OK;
	case SQLITE_NOMEM: return CG_ERR_NOMEM;
	case SQLITE_CONSTRAINT: return CG_ERR_INVALID;
	default: return CG_ERR_STORAGE;
	}
}

int cgs_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? CG_OK : map_sqlite(rc);
}

int cgs_subject_key(const char *hex, uint8_t key[CG_SUBJECT_BYTES])
{
	size_t got = 0;

	if (!hex || strlen(hex) != CG_SUBJECT_LEN ||
	    sodium_hex2bin(key, CG_SUBJECT_BYTES, hex, CG_SUBJECT_LEN, NULL, &got, NULL) != 0 ||
	    got != CG_SUBJECT_BYTES)
		return CG_ERR_INVALID;
	return CG_OK;
}

int cgs_sid_find(sqlite3_stmt *st, const uint8_t key[CG_SUBJECT_BYTES], int64_t *sid)
{
	int rc, found = 0;

	sqlite3_bind_blob(st, 1, key, 8, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 1) == CG_SUBJECT_BYTES &&
		    sodium_memcmp(sqlite3_column_blob(st, 1), key, CG_SUBJECT_BYTES) == 0) {
			*sid = sqlite3_column_int64(st, 0);
			found = 1;
		}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return CG_ERR_STORAGE;
	return found ? CG_OK : CG_ERR_NOT_FOUND;
}

int cgs_bind_hex(sqlite3_stmt *st, int i, const char *hex, size_t nbytes)
{
	uint8_t b[64];
	size_t got = 0;

	if (!hex || !*hex)
		return sqlite3_bind_null(st, i) == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
	if (nbytes > sizeof b || strlen(hex) != 2 * nbytes ||
	    sodium_hex2bin(b, nbytes, hex, 2 * nbytes, NULL, &got, NULL) != 0 || got != nbytes)
		return CG_ERR_INVALID;
	return sqlite3_bind_blob(st, i, b, (int)nbytes, SQLITE_TRANSIENT) == SQLITE_OK ? CG_OK : CG_ERR_STORAGE;
}

void cgs_column_hex(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const void *b = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	out[0] = '\0';
	if (b && n && 2 * n < size)
		sodium_bin2hex(out, size, b, n);
}

static int64_t day_bound(sqlite3 *db, const char *sql, int64_t day, int64_t none)
{
	sqlite3_stmt *st = NULL;
	int64_t id = none;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, day);
		if (sqlite3_step(st) == SQLITE_ROW)
			id = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return id;
}

int64_t cgs_first_id(sqlite3 *db, int64_t ms)
{
	return day_bound(db, "SELECT first_id FROM event_days WHERE day <= ?1 ORDER BY day DESC LIMIT 1",
	                 ms / CG_MS_PER_DAY - 1, 0);
}

int64_t cgs_after_id(sqlite3 *db, int64_t ms)
{
	return day_bound(db, "SELECT first_id FROM event_days WHERE day >= ?1 ORDER BY day LIMIT 1",
	                 ms / CG_MS_PER_DAY + 2, INT64_MAX);
}

int cgs_open_conn(const char *path, int flags, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		cg_error("sqlite: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		*out = NULL;
		return CG_ERR_STORAGE;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	*out = db;
	return CG_OK;
}

int cgs_step_final(sqlite3_stmt *st)
{
	int rc = st && sqlite3_step(st) == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;

	sqlite3_finalize(st);
	return rc;
}

int cgs_submit(struct cgs *s, const struct job *jp)
{
	struct job *j;

	if (s->mode != CG_STORE_WRITER)
		return CG_ERR_STORAGE;
	j = malloc(sizeof *j);
	if (!j)
		return CG_ERR_NOMEM;
	*j = *jp;
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return CG_ERR_STOPPING;
	}
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return CG_OK;
}

int cgs_run(struct cgs *s, int alone, cgs_fn fn, void *arg)
{
	struct cg_store_waiter w;
	struct job j = {.kind = alone ? JOB_ALONE : JOB_FN, .fn = fn, .arg = arg,
	                .done = cg_store_waiter_done, .done_arg = &w};
	int rc;

	cg_store_waiter_init(&w);
	rc = cgs_submit(s, &j);
	if (rc != CG_OK) {
		sem_destroy(&w.sem);
		return rc;
	}
	return cg_store_waiter_wait(&w);
}

/* the digest of the ids a query's first column lists, in its order (a log
 * event's account of the rows it concerns) */
int cgs_ids_of(sqlite3 *db, const char *sql, struct cg_ids_digest *d)
{
	sqlite3_stmt *st = NULL;
	int step;

	cg_ids_init(d);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return CG_ERR_STORAGE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		cg_ids_add(d, sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? CG_OK : CG_ERR_STORAGE;
}
