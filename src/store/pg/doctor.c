/* The doctor: a thread per store that does what request threads must never
 * wait for. It makes new connections for the writer and for readers whose
 * connection was dropped (so a request fails at once while the database is
 * away, and service comes back by itself); in the daemon it also keeps this
 * instance's heartbeat and checks the shared configuration fingerprint,
 * runs the daily retention purge when no other instance has, and VACUUMs
 * after erasures so the old row versions holding erased values become free
 * space soon (docs/postgresql.md#erasure-on-postgresql). Its own connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

/* ---- this instance among the others (DAEMON mode) ----------------------------- */

static const char register_sql[] =
	"INSERT INTO instances(id, host, pid, listen, fingerprint, policy_version, started_ms, heartbeat_ms)"
	" VALUES($1, $2, $3::int, $4, $5, $6, cg_now_ms(), cg_now_ms())";

/* Under the instances lock: instances whose heartbeat stopped are
 * forgotten; a live one with another configuration refuses this start. */
int pgs_register(struct pgs *s, PGconn *c, char *err, size_t errlen)
{
	char lock[64], host[128] = "", pid[16], alive[24];
	const char *reg[] = {s->instance, host, pid, s->cfg.listen, s->fingerprint, s->cfg.policy_version};
	const char *fp[] = {s->fingerprint, alive};
	int64_t deadline = pgs_mono_ms() + s->cfg.write_timeout_ms;
	PGresult *other = NULL;
	int rc;

	gethostname(host, sizeof host - 1);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(alive, sizeof alive, "%d", PGS_ALIVE_MS);
	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", PGS_LOCK_INSTANCES);
	if ((rc = pgs_exec(c, "BEGIN", deadline)) || (rc = pgs_exec(c, lock, deadline)) ||
	    (rc = pgs_query(c, "DELETE FROM instances WHERE heartbeat_ms < cg_now_ms() - $1::bigint", 1, fp + 1,
	                    deadline, NULL)) ||
	    (rc = pgs_query(c, "SELECT host, pid, listen, policy_version FROM instances WHERE fingerprint <> $1"
	                       " AND heartbeat_ms >= cg_now_ms() - $2::bigint LIMIT 1", 2, fp, deadline, &other)))
		goto out;
	if (PQntuples(other) == 1) {
		snprintf(err, errlen, "another instance runs on this database with a different configuration "
		         "(host %s, pid %s, listen %s, policy version %s; this one: %s): instances sharing a database "
		         "must agree on [policy], [retention], [geoip] prefixes, [controller], site and the destinations "
		         "(stop them all to change those)", PQgetvalue(other, 0, 0), PQgetvalue(other, 0, 1),
		         PQgetvalue(other, 0, 2), PQgetvalue(other, 0, 3), s->cfg.policy_version);
		rc = CG_ERR_CONFIG;
		goto out;
	}
	if ((rc = pgs_query(c, register_sql, 6, reg, deadline, NULL)) ||
	    (rc = pgs_query(c, "INSERT INTO meta(key, value) VALUES('config_fingerprint', $1)"
	                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", 1, fp, deadline, NULL)) ||
	    (rc = pgs_write_meta(c, &s->cfg, deadline)) || (rc = pgs_exec(c, "COMMIT", deadline)))
		goto out;
	PQclear(other);
	return CG_OK;
out:
	PQclear(other);
	pgs_exec(c, "ROLLBACK", deadline);
	if (rc != CG_ERR_CONFIG)
		snprintf(err, errlen, "registering this instance failed: %s", PQerrorMessage(c));
	return rc;
}

/* Leaving (the forwarder has stopped): this instance's row goes, and its
 * claims on outbox rows it did not finish (stopped mid-round) are let go.
 * The next start is a new instance: it would wait a lease for them. */
void pgs_unregister(struct pgs *s)
{
	const char *v[] = {s->instance};
	char err[256];
	PGconn *c = NULL;

	if (pgs_connect(&s->cfg, "consentgated", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, sizeof err) ==
	    CG_OK) {
		pgs_query(c, "UPDATE outbox_rows SET claimed_by = NULL, claimed_until_ms = NULL"
		             " WHERE claimed_by = $1 AND state = 0", 1, v, pgs_mono_ms() + s->cfg.write_timeout_ms, NULL);
		pgs_query(c, "DELETE FROM instances WHERE id = $1", 1, v, pgs_mono_ms() + s->cfg.write_timeout_ms, NULL);
	}
	PQfinish(c);
}

/* The heartbeat, and the fence: when this instance was forgotten (its
 * heartbeat stopped for PGS_ALIVE_MS, e.g. cut off from the database) and a
 * differently configured instance started meanwhile, it must not write. */
static void heartbeat(struct pgs *s, PGconn *c)
{
	const char *v[] = {s->instance};
	PGresult *r = NULL;
	char err[512];
	int fenced = 0;

	if (pgs_query(c, "UPDATE instances SET heartbeat_ms = cg_now_ms() WHERE id = $1"
	                 " RETURNING (SELECT value FROM meta WHERE key = 'config_fingerprint')",
	              1, v, pgs_mono_ms() + s->cfg.write_timeout_ms, &r) != CG_OK) {
		PQclear(r);
		return; /* the database is away: nothing to decide */
	}
	if (PQntuples(r) == 1)
		fenced = strcmp(PQgetvalue(r, 0, 0), s->fingerprint) != 0;
	else if (pgs_register(s, c, err, sizeof err) != CG_OK) {
		fenced = 1;
		cg_error("postgresql: %s", err);
	}
	PQclear(r);
	if (fenced && !atomic_exchange(&s->fenced, 1))
		cg_error("postgresql: a differently configured instance took over this database: this instance "
		         "refuses every write from now on (503); stop it");
	else if (!fenced && atomic_exchange(&s->fenced, 0))
		cg_info("postgresql: this instance's configuration is the database's again: writes resume");
}

/* ---- connections --------------------------------------------------------------- */

static PGconn *new_conn(struct pgs *s, int reader)
{
	int64_t deadline = pgs_mono_ms() + s->cfg.connect_timeout_ms;
	char err[256];
	PGconn *c = NULL;

	if (pgs_connect_checked(s, "consentgated", deadline, &c, err, sizeof err) != CG_OK ||
	    (reader && pgs_reader_prepare(c, deadline) != CG_OK)) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void count_reconnect(struct pgs *s)
{
	pthread_mutex_lock(&s->mu);
	s->stats.reconnects++;
	pthread_mutex_unlock(&s->mu);
}

/* The writer's and the readers' missing connections; returns how many are
 * still missing. Connecting happens outside every lock. */
static int heal(struct pgs *s)
{
	int missing = 0, want;
	PGconn *c;

	pthread_mutex_lock(&s->mu);
	want = s->want_wconn && !s->wspare;
	pthread_mutex_unlock(&s->mu);
	if (want) {
		c = new_conn(s, 0);
		pthread_mutex_lock(&s->mu);
		s->wspare = c;
		s->want_wconn = !c;
		pthread_mutex_unlock(&s->mu);
		if (c)
			count_reconnect(s);
		missing += !c;
	}
	pthread_mutex_lock(&s->readers_mu);
	for (struct cg_store_reader *r = s->readers; r; r = r->next) {
		int broken;
		pthread_mutex_lock(&r->mu);
		broken = !r->conn;
		pthread_mutex_unlock(&r->mu);
		if (!broken)
			continue;
		c = new_conn(s, 1);
		pthread_mutex_lock(&r->mu);
		if (!r->conn && c) {
			r->conn = c;
			c = NULL;
			count_reconnect(s);
		}
		missing += r->conn == NULL;
		pthread_mutex_unlock(&r->mu);
		PQfinish(c);
	}
	pthread_mutex_unlock(&s->readers_mu);
	return missing;
}

/* ---- the thread ------------------------------------------------------------------- */

struct schedule {
	int64_t next_beat, next_purge;
	int said_skip;
};

/* One round; returns the ms until the next. */
static int64_t round_once(struct pgs *s, PGconn **own, struct schedule *t)
{
	int64_t now = pgs_mono_ms();
	int missing = heal(s), want_vacuum;

	if (!*own)
		*own = new_conn(s, 0);
	if (*own && PQstatus(*own) == CONNECTION_BAD) {
		PQfinish(*own);
		*own = NULL;
	}
	pthread_mutex_lock(&s->mu);
	want_vacuum = s->vacuum_wanted && *own;
	s->vacuum_wanted &= !want_vacuum;
	pthread_mutex_unlock(&s->mu);
	if (want_vacuum)
		pgs_vacuum(*own);
	if (s->mode == CG_STORE_DAEMON && *own && now >= t->next_beat) {
		heartbeat(s, *own);
		t->next_beat = now + PGS_HEARTBEAT_MS;
	}
	if (s->mode == CG_STORE_DAEMON && *own && now >= t->next_purge) {
		pgs_daily_purge(s, *own, &t->said_skip);
		t->next_purge = now + 3600 * 1000; /* every hour: has anyone purged today? */
	}
	return missing || !*own ? 200 : 1000;
}

void *pgs_doctor_main(void *arg)
{
	struct pgs *s = arg;
	PGconn *own = NULL;
	/* the purge at once when it is due (no instance purged in the last day) */
	struct schedule t = {.next_beat = pgs_mono_ms() + PGS_HEARTBEAT_MS, .next_purge = pgs_mono_ms()};

	pthread_mutex_lock(&s->mu);
	while (!s->doctor_stop) {
		int64_t wait_ms;
		struct timespec until;
		pthread_mutex_unlock(&s->mu);
		wait_ms = round_once(s, &own, &t);
		pthread_mutex_lock(&s->mu);
		if (s->doctor_stop)
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		until.tv_sec += wait_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->doctor_wake, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
	if (s->vacuum_wanted && own) /* an erasure just before the end (consentctl erase) */
		pgs_vacuum(own);
	PQfinish(own);
	return NULL;
}
