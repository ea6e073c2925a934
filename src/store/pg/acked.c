/* A diverged old primary refused. libpq takes the first listed host that
 * accepts writes (target_session_attrs=read-write), so an old primary
 * restarted writable after its standby was promoted would be chosen again,
 * and rows written there would fork the log: the rows acknowledged on the
 * promoted standby are missing from it, and the commits that were in
 * flight on it at the crash (flushed locally, never acknowledged) hold the
 * same ids with other hashes. Every new connection of the daemon is
 * therefore checked first: the database must hold the last row this
 * daemon acknowledged, with that hash. One round trip per connection, none
 * per request. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

/* the hash stored under the id (as a row, a pruned link or a log event),
 * and the chain's tip, for the message */
static const char check_sql[] =
	"SELECT (SELECT hash FROM (SELECT hash FROM events WHERE id = $1 UNION ALL"
	" SELECT hash FROM pruned WHERE id = $1 UNION ALL SELECT hash FROM log_events WHERE id = $1) h LIMIT 1),"
	" t.id, t.hash FROM (SELECT 0::bigint, NULL::bytea UNION ALL (%s)) t(id, hash) ORDER BY t.id DESC LIMIT 1";

static void refused(struct pgs *s, PGconn *c, const PGresult *r, int64_t id, const char *hash, char *err,
                    size_t errlen)
{
	char held[CG_HEX_HASH_LEN + 1], tip[CG_HEX_HASH_LEN + 1], at[CG_HEX_HASH_LEN + 32], msg[768];

	pgs_col_hex(r, 0, 0, held, sizeof held);
	pgs_col_hex(r, 0, 2, tip, sizeof tip);
	snprintf(at, sizeof at, held[0] ? "hash %s" : "no row", held);
	snprintf(msg, sizeof msg, "the database at %s (port %s) does not hold the last row this instance acknowledged "
	         "(id %" PRId64 ", hash %s): it has %s under that id, its chain ends at id %" PRId64 " (hash %.16s...); "
	         "an old primary back in service after its standby was promoted? nothing is written to it (503)",
	         PQhost(c) ? PQhost(c) : "?", PQport(c) ? PQport(c) : "?", id, hash, at, pgs_col_i64(r, 0, 1),
	         tip[0] ? tip : "-");
	/* the callers' buffers may be short: the whole message is logged here */
	snprintf(err, errlen, "%s", msg);
	if (!atomic_exchange(&s->diverged, 1))
		cg_error("postgresql: %s", msg);
}

int pgs_acked_check(struct pgs *s, PGconn *c, char *err, size_t errlen)
{
	char sql[sizeof check_sql + 512], id_s[24], hash[CG_HEX_HASH_LEN + 1], held[CG_HEX_HASH_LEN + 1];
	const char *v[] = {id_s};
	struct cg_acked *a = atomic_load(&s->acked);
	PGresult *r = NULL;
	int64_t id;
	int rc;

	if (!a)
		return CG_OK;
	pthread_mutex_lock(&a->mu);
	id = a->id;
	snprintf(hash, sizeof hash, "%s", a->hash);
	pthread_mutex_unlock(&a->mu);
	if (id <= 0)
		return CG_OK; /* nothing acknowledged yet: nothing to miss */
	snprintf(id_s, sizeof id_s, "%" PRId64, id);
	snprintf(sql, sizeof sql, check_sql, pgs_tip_sql);
	rc = pgs_query(c, sql, 1, v, pgs_mono_ms() + s->cfg.write_timeout_ms, &r);
	if (rc != CG_OK) {
		snprintf(err, errlen, "checking the database holds the last acknowledged row failed: %.*s",
		         (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
		PQclear(r);
		return rc;
	}
	pgs_col_hex(r, 0, 0, held, sizeof held);
	if (strcmp(held, hash) != 0) {
		refused(s, c, r, id, hash, err, errlen);
		PQclear(r);
		return CG_ERR_CONFIG;
	}
	PQclear(r);
	if (atomic_exchange(&s->diverged, 0))
		cg_info("postgresql: the database at %s holds this instance's last acknowledged row (id %" PRId64
		        ") again: writes resume", PQhost(c) ? PQhost(c) : "?", id);
	return CG_OK;
}

int pgs_connect_checked(struct pgs *s, const char *app, int64_t deadline, PGconn **out, char *err,
                        size_t errlen)
{
	int rc = pgs_connect(&s->cfg, app, deadline, out, err, errlen);

	if (rc == CG_OK && (rc = pgs_acked_check(s, *out, err, errlen)) != CG_OK) {
		PQfinish(*out);
		*out = NULL;
	}
	return rc;
}

void pgs_acked_commit(struct pgs *s, int64_t id, const char *hash)
{
	struct cg_acked *a = atomic_load(&s->acked);

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->id = id;
	snprintf(a->hash, sizeof a->hash, "%s", hash);
	pthread_mutex_unlock(&a->mu);
}

int pgs_track_acked(void *ctx, struct cg_acked *a, char *err, size_t errlen)
{
	struct pgs *s = ctx;
	PGconn *c = NULL;
	int rc;

	atomic_store(&s->acked, a);
	/* the writer's connection was made before: it checks it before its next
	 * transaction; this start checks a fresh one now */
	atomic_store(&s->wcheck, 1);
	rc = pgs_connect_checked(s, "consentgated", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, errlen);
	PQfinish(c);
	return rc == CG_ERR_CONFIG ? rc : CG_OK; /* a database away now is the doctor's to wait for */
}
