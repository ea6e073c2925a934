/* libpq with deadlines. Every connection is non-blocking and every wait is a
 * poll() bounded by the caller's deadline: a database that stops answering
 * (a dead host, a proxy that swallows bytes) fails the call on time instead
 * of hanging a thread. statement_timeout alone could not do this: it runs on
 * the server, which may never see the statement. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/event.h"
#include "consentgate/log.h"
#include "internal.h"

int64_t pgs_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pgs_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the socket is ready for `events` or the deadline passes. */
static int wait_socket(PGconn *c, short events, int64_t deadline)
{
	struct pollfd p = {.fd = PQsocket(c), .events = events};
	int64_t left = deadline - pgs_mono_ms();
	int rc;

	if (p.fd < 0 || left <= 0)
		return CG_ERR_IO;
	do
		rc = poll(&p, 1, (int)left);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? CG_OK : CG_ERR_IO;
}

/* Until everything sent is flushed and a result can be read without
 * blocking. */
static int wait_result(PGconn *c, int64_t deadline)
{
	for (;;) {
		int f = PQflush(c);
		if (f < 0)
			return CG_ERR_IO;
		if (f == 0 && !PQisBusy(c))
			return CG_OK;
		if (wait_socket(c, f ? POLLIN | POLLOUT : POLLIN, deadline) != CG_OK)
			return CG_ERR_IO;
		if (!PQconsumeInput(c))
			return CG_ERR_IO;
	}
}

static int connect_poll(PGconn *c, int64_t deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			return CG_ERR_IO;
		if (wait_socket(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline) != CG_OK)
			return CG_ERR_IO;
		st = PQconnectPoll(c);
	}
	return PQsetnonblocking(c, 1) == 0 ? CG_OK : CG_ERR_IO;
}

int pgs_exec_script(PGconn *c, const char *sql, int64_t deadline)
{
	PGresult *r;
	int rc = CG_OK;

	if (!PQsendQuery(c, sql))
		return CG_ERR_IO;
	for (;;) {
		if (wait_result(c, deadline) != CG_OK)
			return CG_ERR_IO;
		if (!(r = PQgetResult(c)))
			return rc;
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			cg_error("postgresql: %.*s", (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
			rc = CG_ERR_STORAGE;
		}
		PQclear(r);
	}
}

/* Only what names a PostgreSQL database outright: libpq reads any other
 * string too (a bare word as a database name, "" as all its defaults:
 * PGHOST, the local socket, a database named after the user), and a move
 * would then copy the log wherever those lead and seal the source. Nothing
 * of the string is echoed but libpq's reason for a syntax error. */
int cg_pg_url_check(const char *url, char *err, size_t errlen)
{
	PQconninfoOption *opts = NULL;
	char *why = NULL;
	const char *scheme = strstr(url, "://");
	int uri = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0, named = 0;

	if (!url[0] || (!uri && (!strchr(url, '=') || (scheme && scheme < strchr(url, '='))))) {
		snprintf(err, errlen, "%s: give a PostgreSQL URL (postgresql://HOST/DATABASE) or a conninfo naming "
		         "its database (dbname=DATABASE host=...)", url[0] ? "not a PostgreSQL URL or conninfo" : "empty");
		return CG_ERR_INVALID;
	}
	opts = PQconninfoParse(url, &why);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		named |= strcmp(o->keyword, "dbname") == 0 && o->val && o->val[0];
	if (!opts)
		snprintf(err, errlen, "libpq cannot read it: %.*s", (int)strcspn(why ? why : "", "\n"), why ? why : "");
	else if (!named)
		snprintf(err, errlen, "names no database (postgresql://HOST/DATABASE, or dbname=DATABASE): libpq "
		         "would choose one from its defaults");
	named = opts && named;
	PQconninfoFree(opts);
	PQfreemem(why);
	return named ? CG_OK : CG_ERR_INVALID;
}

/* libpq's own timeouts are defaults the operator's url may override
 * (keywords after "dbname" win, so the url comes last). The session
 * settings bound what the server does for us: a statement, a lock wait, a
 * transaction left idle by a client that vanished (its locks must not
 * block the other instances for long). A commit must be durable before a
 * request is acknowledged: synchronous_commit = off is raised to on. */
int pgs_connect(const struct cg_config *cfg, const char *app, int64_t deadline, PGconn **out,
                char *err, size_t errlen)
{
	char cto[16], tuto[16], setup[512];
	const char *keys[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
	                      "fallback_application_name", "dbname", NULL};
	const char *vals[] = {cto, tuto, "10", "5", app, cfg->url, NULL};
	int wt = cfg->write_timeout_ms;
	PGconn *c;

	*out = NULL;
	snprintf(cto, sizeof cto, "%d", (cfg->connect_timeout_ms + 999) / 1000);
	snprintf(tuto, sizeof tuto, "%d", wt);
	c = PQconnectStartParams(keys, vals, 1);
	if (!c || PQstatus(c) == CONNECTION_BAD || connect_poll(c, deadline) != CG_OK) {
		const char *why = c ? PQerrorMessage(c) : "";
		snprintf(err, errlen, "cannot connect to PostgreSQL: %.*s", (int)strcspn(why, "\n"),
		         *why ? why : "no answer within the deadline");
		PQfinish(c);
		return CG_ERR_IO;
	}
	snprintf(setup, sizeof setup,
	         "SET statement_timeout = %d; SET lock_timeout = %d; SET idle_in_transaction_session_timeout = %d;"
	         " SET TIME ZONE 'UTC'; SELECT set_config('synchronous_commit', CASE current_setting('synchronous_commit')"
	         " WHEN 'off' THEN 'on' ELSE current_setting('synchronous_commit') END, false)",
	         wt, wt, wt + 5000);
	if (pgs_exec_script(c, setup, deadline) != CG_OK) {
		snprintf(err, errlen, "PostgreSQL: the session settings failed: %.*s",
		         (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
		PQfinish(c);
		return CG_ERR_IO;
	}
	*out = c;
	return CG_OK;
}

/* The server's primary message only: DETAIL lines can quote key values. */
static void log_result(const char *what, const PGresult *r)
{
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	cg_error("postgresql: %.48s...: %s (%s)", what, msg ? msg : "no result", state ? state : "-");
}

static int status_ok(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Reads the one result of a statement and the NULL after it. */
static int finish_one(PGconn *c, const char *what, int64_t deadline, PGresult **res)
{
	PGresult *r, *extra;
	int rc;

	if (wait_result(c, deadline) != CG_OK)
		return CG_ERR_IO;
	r = PQgetResult(c);
	rc = r && status_ok(r) ? CG_OK : PQstatus(c) == CONNECTION_BAD ? CG_ERR_IO : CG_ERR_STORAGE;
	if (rc == CG_ERR_STORAGE)
		log_result(what, r);
	while (wait_result(c, deadline) == CG_OK && (extra = PQgetResult(c)))
		PQclear(extra);
	if (PQisBusy(c))
		rc = CG_ERR_IO;
	if (res && rc == CG_OK)
		*res = r;
	else
		PQclear(r);
	return rc;
}

int pgs_query(PGconn *c, const char *sql, int n, const char *const *vals, int64_t deadline, PGresult **res)
{
	if (res)
		*res = NULL;
	if (!c || !PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0))
		return CG_ERR_IO;
	return finish_one(c, sql, deadline, res);
}

int pgs_exec(PGconn *c, const char *sql, int64_t deadline)
{
	return pgs_query(c, sql, 0, NULL, deadline, NULL);
}

int pgs_query_prepared(PGconn *c, const char *name, int n, const char *const *vals, int64_t deadline,
                       PGresult **res)
{
	if (res)
		*res = NULL;
	if (!c || !PQsendQueryPrepared(c, name, n, vals, NULL, NULL, 0))
		return CG_ERR_IO;
	return finish_one(c, name, deadline, res);
}

/* One result per statement (then a NULL), PIPELINE_ABORTED for those after
 * a failure, and a PIPELINE_SYNC at the end. */
static int pipeline_results(PGconn *c, const struct pgs_stmt *st, int n, int64_t deadline,
                            PGresult **res, int *failed_at)
{
	int rc = CG_OK;

	for (int i = 0; i < n; i++) {
		PGresult *r;
		if (wait_result(c, deadline) != CG_OK || !(r = PQgetResult(c)))
			return CG_ERR_IO;
		if (!status_ok(r) && rc == CG_OK) {
			rc = PQstatus(c) == CONNECTION_BAD ? CG_ERR_IO : CG_ERR_STORAGE;
			*failed_at = i;
			/* CG001: the writer's expected tip moved, which it handles */
			if (PQresultStatus(r) != PGRES_PIPELINE_ABORTED &&
			    strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "", "CG001"))
				log_result(st[i].sql, r);
		}
		if (res && status_ok(r))
			res[i] = r;
		else
			PQclear(r);
		if (wait_result(c, deadline) != CG_OK || PQgetResult(c) != NULL)
			return CG_ERR_IO;
	}
	return rc;
}

int pgs_pipeline(PGconn *c, const struct pgs_stmt *st, int n, int64_t deadline, PGresult **res,
                 int *failed_at)
{
	PGresult *sync = NULL;
	int rc;

	*failed_at = n;
	if (res)
		memset(res, 0, sizeof *res * (size_t)n);
	if (!c || !PQenterPipelineMode(c))
		return CG_ERR_IO;
	for (int i = 0; i < n; i++)
		if (!PQsendQueryParams(c, st[i].sql, st[i].n, NULL, st[i].vals, NULL, NULL, 0))
			return CG_ERR_IO;
	if (!PQpipelineSync(c))
		return CG_ERR_IO;
	rc = pipeline_results(c, st, n, deadline, res, failed_at);
	if (rc != CG_ERR_IO) {
		if (wait_result(c, deadline) != CG_OK || !(sync = PQgetResult(c)) ||
		    PQresultStatus(sync) != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(c))
			rc = CG_ERR_IO;
		PQclear(sync);
	}
	if (rc != CG_OK && res)
		for (int i = 0; i < n; i++) {
			PQclear(res[i]);
			res[i] = NULL;
		}
	return rc;
}

/* ---- array literals ---------------------------------------------------------- */

void pgs_arr_init(struct pgs_arr *a)
{
	cg_buf_init(&a->b, (size_t)256 << 20);
	a->n = 0;
	a->failed = cg_buf_adds(&a->b, "{") != CG_OK;
}

static void sep(struct pgs_arr *a)
{
	if (a->n++ && cg_buf_adds(&a->b, ",") != CG_OK)
		a->failed = 1;
}

void pgs_arr_null(struct pgs_arr *a)
{
	sep(a);
	if (cg_buf_adds(&a->b, "NULL") != CG_OK)
		a->failed = 1;
}

void pgs_arr_text(struct pgs_arr *a, const char *s)
{
	if (!s) {
		pgs_arr_null(a);
		return;
	}
	sep(a);
	if (cg_buf_adds(&a->b, "\"") != CG_OK)
		a->failed = 1;
	for (; *s && !a->failed; s++) {
		size_t run = strcspn(s, "\"\\");
		if (run) {
			a->failed |= cg_buf_add(&a->b, s, run) != CG_OK;
			s += run;
			if (!*s)
				break;
		}
		a->failed |= cg_buf_add(&a->b, "\\", 1) != CG_OK || cg_buf_add(&a->b, s, 1) != CG_OK;
	}
	if (cg_buf_adds(&a->b, "\"") != CG_OK)
		a->failed = 1;
}

void pgs_arr_int(struct pgs_arr *a, long long v)
{
	sep(a);
	if (cg_buf_printf(&a->b, "%lld", v) != CG_OK)
		a->failed = 1;
}

void pgs_arr_hex(struct pgs_arr *a, const char *hex)
{
	if (!hex || !*hex) {
		pgs_arr_null(a);
		return;
	}
	sep(a);
	/* "\\x..." in the literal is the bytea input \x... */
	if (cg_buf_printf(&a->b, "\"\\\\x%s\"", hex) != CG_OK)
		a->failed = 1;
}

const char *pgs_arr_end(struct pgs_arr *a)
{
	if (cg_buf_adds(&a->b, "}") != CG_OK)
		a->failed = 1;
	return a->failed ? NULL : a->b.p;
}

void pgs_arr_free(struct pgs_arr *a)
{
	cg_buf_free(&a->b);
}

/* ---- result columns ---------------------------------------------------------------- */

void pgs_col(const PGresult *r, int row, int col, char *out, size_t size)
{
	snprintf(out, size, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t pgs_col_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pgs_col_tri(const PGresult *r, int row, int col)
{
	int v = PQgetisnull(r, row, col) ? CG_TRI_NULL : atoi(PQgetvalue(r, row, col));

	return v == CG_TRI_NULL || v == 0 || v == 1 ? v : CG_TRI_BAD;
}

int pgs_col_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

void pgs_col_hex(const PGresult *r, int row, int col, char *out, size_t size)
{
	const char *v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);

	if (v[0] == '\\' && v[1] == 'x')
		v += 2;
	snprintf(out, size, "%s", strlen(v) < size ? v : "");
}

void pgs_bytea_param(const char *hex, char *out, size_t size)
{
	snprintf(out, size, "\\x%s", hex);
}
