/* /consent/metrics: Prometheus text from the daemon's counters and its
 * components' statistics. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentgate/err.h"
#include "daemon.h"

static const int metric_statuses[CGD_NSTATUSES] = {200, 204, 400, 403, 404, 405, 409, 413, 415, 429, 500, 503};
#define STATUS_500_INDEX 10

/* route: the handler's index of it (handler.h), so no name is compared */
void cgd_count_request(struct daemon *d, int route, int status)
{
	size_t r = route >= 0 && route < CGD_NROUTES ? (size_t)route : CG_ROUTE_OTHER, s;

	for (s = 0; s < CGD_NSTATUSES && metric_statuses[s] != status; s++)
		;
	if (s == CGD_NSTATUSES)
		s = STATUS_500_INDEX;
	atomic_fetch_add(&d->requests[r][s], 1);
}

static int family(struct cg_buf *out, const char *name, const char *type, const char *help)
{
	return cg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

static int requests_and_decisions(struct daemon *d, struct cg_buf *out)
{
	int rc = family(out, "consentgate_requests_total", "counter", "Requests by route and status.");

	for (size_t r = 0; r < CGD_NROUTES; r++)
		for (size_t s = 0; s < CGD_NSTATUSES; s++) {
			uint64_t v = atomic_load(&d->requests[r][s]);
			if (v)
				rc |= cg_buf_printf(out, "consentgate_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				                    cg_route_name((int)r), metric_statuses[s], ull(v));
		}
	rc |= family(out, "consentgate_decisions_total", "counter",
	             "Gatekeeper decisions by destination and result.");
	for (int i = 0; i < d->cfg.n_dest; i++)
		for (int k = 0; k < CG_NDECISIONS; k++)
			rc |= cg_buf_printf(out, "consentgate_decisions_total{destination=\"%s\",result=\"%s\"} %llu\n",
			                    d->cfg.dest[i].name, cg_decision_name(k),
			                    ull(atomic_load(&d->decisions[i][k])));
	return rc;
}

/* what each [limits] bound on rows counts, and the bound: /collect's
 * events (outbox_max_rows) and the erasure notices, each against its own */
static int bounds(struct cg_buf *out, long long events, long long notices, const struct cg_config *cfg)
{
	int rc = family(out, "consentgate_limits_pending_rows", "gauge",
	                "Pending outbox rows as each [limits] bound counts them: analytics events, erasure notices.");

	rc |= cg_buf_printf(out, "consentgate_limits_pending_rows{key=\"outbox_max_rows\"} %lld\n"
	                         "consentgate_limits_pending_rows{key=\"erasure_notices_max_rows\"} %lld\n",
	                    events, notices);
	rc |= family(out, "consentgate_limits_max_rows", "gauge", "The [limits] bounds on pending outbox rows.");
	rc |= cg_buf_printf(out, "consentgate_limits_max_rows{key=\"outbox_max_rows\"} %d\n"
	                         "consentgate_limits_max_rows{key=\"erasure_notices_max_rows\"} %d\n",
	                    cfg->outbox_max_rows, cfg->erasure_notices_max_rows);
	return rc;
}

static int outbox_and_delivery(struct daemon *d, struct cg_buf *out)
{
	long long counts[CG_OB_NSTATES], events = 0, notices = 0;
	struct cg_forwarder_stats fs;
	struct cg_store_reader *r = cgd_borrow(d);
	int orc = r ? d->store.outbox_counts(r, counts) : CG_ERR_STORAGE, rc = 0;
	int prc = orc == CG_OK ? d->store.outbox_pending(r, &events, &notices) : orc;

	cgd_give_back(d, r);
	if (orc == CG_OK) {
		rc |= family(out, "consentgate_outbox_rows", "gauge", "Outbox rows by state.");
		for (int k = 0; k < CG_OB_NSTATES; k++)
			rc |= cg_buf_printf(out, "consentgate_outbox_rows{state=\"%s\"} %lld\n",
			                    cg_outbox_state_name(k), counts[k]);
	}
	if (prc == CG_OK)
		rc |= bounds(out, events, notices, &d->cfg);
	rc |= family(out, "consentgate_erasure_notices_refused_total", "counter",
	             "Erasure notices not queued because erasure_notices_max_rows were waiting (the erasures were recorded).");
	rc |= cg_buf_printf(out, "consentgate_erasure_notices_refused_total %llu\n",
	                    ull(atomic_load(&d->notices_refused)));
	cg_forwarder_stats(d->forwarder, &fs);
	rc |= family(out, "consentgate_delivery_attempts_total", "counter", "HTTP requests to destinations.");
	rc |= cg_buf_printf(out, "consentgate_delivery_attempts_total %llu\n", ull(fs.attempts));
	rc |= family(out, "consentgate_delivery_rows_total", "counter", "Outbox rows by delivery outcome.");
	rc |= cg_buf_printf(out,
		"consentgate_delivery_rows_total{outcome=\"delivered\"} %llu\n"
		"consentgate_delivery_rows_total{outcome=\"retried\"} %llu\n"
		"consentgate_delivery_rows_total{outcome=\"dead\"} %llu\n"
		"consentgate_delivery_rows_total{outcome=\"dropped\"} %llu\n",
		ull(fs.delivered), ull(fs.retried), ull(fs.dead), ull(fs.dropped));
	rc |= family(out, "consentgate_delivery_seconds_total", "counter", "Time spent in requests to destinations.");
	rc |= cg_buf_printf(out, "consentgate_delivery_seconds_total %.6f\n", fs.latency_seconds);
	return rc;
}

/* ---- the outbox by destination: backlog, dead letters, the oldest wait ---- */

#define BACKLOG_MAX (CG_MAX_DESTINATIONS * 4) /* configured ones and others the outbox still names */
struct backlog_row {
	char dest[64];
	long long pending, dead;
	int64_t oldest_ms;
};
struct backlog {
	struct backlog_row row[BACKLOG_MAX];
	size_t n;
};

static int backlog_add(void *ctx, const char *dest, long long pending, long long dead, int64_t oldest_ms)
{
	struct backlog *b = ctx;
	size_t i;

	for (i = 0; i < b->n && strcmp(b->row[i].dest, dest ? dest : "") != 0; i++)
		;
	if (i == BACKLOG_MAX)
		return 1; /* the rest stay out of the metrics; consentctl outbox summary lists them */
	if (i == b->n)
		snprintf(b->row[b->n++].dest, sizeof b->row[0].dest, "%s", dest ? dest : "");
	b->row[i].pending = pending;
	b->row[i].dead = dead;
	b->row[i].oldest_ms = oldest_ms;
	return 0;
}

/* a label value as Prometheus' text format wants it: \\, \" and \n escaped */
static void label_value(const char *v, char *out, size_t len)
{
	size_t o = 0;

	for (; *v && o + 3 < len; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			out[o++] = '\\';
		out[o++] = *v == '\n' ? 'n' : *v;
	}
	out[o] = '\0';
}

static int outbox_by_destination(struct daemon *d, struct cg_buf *out)
{
	static const char *const names[3] = {"consentgate_outbox_pending_rows", "consentgate_outbox_dead_rows",
	                                     "consentgate_outbox_oldest_pending_seconds"};
	static const char *const helps[3] = {
		"Outbox rows waiting for delivery, by destination.",
		"Dead letters by destination: rows given up (consentctl outbox dead lists them).",
		"Age of the oldest row waiting for delivery, by destination (0: none waits)."};
	struct backlog b = {.n = 0};
	struct cg_store_reader *r = cgd_borrow(d);
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	int rc = 0, orc;

	for (int i = 0; i < d->cfg.n_dest; i++) /* every configured one, 0 when idle */
		backlog_add(&b, d->cfg.dest[i].name, 0, 0, 0);
	orc = r ? d->store.outbox_backlog(r, backlog_add, &b) : CG_ERR_STORAGE;
	cgd_give_back(d, r);
	if (orc != CG_OK)
		return 0;
	for (int k = 0; k < 3; k++) {
		rc |= family(out, names[k], "gauge", helps[k]);
		for (size_t i = 0; i < b.n; i++) {
			const struct backlog_row *w = &b.row[i];
			long long v = k == 0 ? w->pending : k == 1 ? w->dead
			            : w->oldest_ms > 0 && now_ms > w->oldest_ms ? (now_ms - w->oldest_ms) / 1000 : 0;
			char dest[2 * sizeof w->dest];

			label_value(w->dest, dest, sizeof dest);
			rc |= cg_buf_printf(out, "%s{destination=\"%s\"} %lld\n", names[k], dest, v);
		}
	}
	return rc;
}

static int limits_and_connections(struct daemon *d, struct cg_buf *out)
{
	struct cg_intake_stats is;
	int rc = family(out, "consentgate_collect_refused_total", "counter",
	                "/collect requests refused by a [limits] bound.");

	rc |= cg_buf_printf(out,
		"consentgate_collect_refused_total{bound=\"visitor\"} %llu\n"
		"consentgate_collect_refused_total{bound=\"prefix\"} %llu\n"
		"consentgate_collect_refused_total{bound=\"outbox\"} %llu\n",
		ull(atomic_load(&d->refused[CG_ADMIT_VISITOR])), ull(atomic_load(&d->refused[CG_ADMIT_PREFIX])),
		ull(atomic_load(&d->refused[CG_ADMIT_OUTBOX])));
	cg_intake_stats(d->intake, &is);
	rc |= family(out, "consentgate_connections_total", "counter", "FastCGI connections by what became of them.");
	rc |= cg_buf_printf(out,
		"consentgate_connections_total{outcome=\"accepted\"} %llu\n"
		"consentgate_connections_total{outcome=\"timed_out\"} %llu\n"
		"consentgate_connections_total{outcome=\"oversize\"} %llu\n"
		"consentgate_connections_total{outcome=\"invalid\"} %llu\n"
		"consentgate_connections_total{outcome=\"evicted\"} %llu\n"
		"consentgate_connections_total{outcome=\"closed_idle_cap\"} %llu\n",
		ull(is.accepted), ull(is.timed_out), ull(is.oversize), ull(is.invalid), ull(is.evicted),
		ull(is.evicted_idle));
	rc |= family(out, "consentgate_requests_received_total", "counter",
	             "Requests that arrived whole and went to a worker.");
	rc |= cg_buf_printf(out, "consentgate_requests_received_total %llu\n", ull(is.handed));
	rc |= family(out, "consentgate_connections_pending", "gauge", "Connections whose request is still arriving.");
	rc |= cg_buf_printf(out, "consentgate_connections_pending %d\n", is.pending);
	rc |= family(out, "consentgate_connections_idle", "gauge",
	             "Kept connections (fastcgi_keep_conn) waiting for their next request: no thread holds them.");
	rc |= cg_buf_printf(out, "consentgate_connections_idle %d\n", is.idle);
	rc |= family(out, "consentgate_inflight_bytes", "gauge",
	             "Bytes held by requests whose answer waits for a commit ([server] max_inflight_bytes).");
	rc |= cg_buf_printf(out, "consentgate_inflight_bytes %zu\n", atomic_load(&d->inflight_bytes));
	rc |= family(out, "consentgate_busy_total", "counter",
	             "Requests answered 503 busy: too much was waiting for the store.");
	rc |= cg_buf_printf(out, "consentgate_busy_total %llu\n", ull(atomic_load(&d->busy_refusals)));
	return rc;
}

static int writer(struct daemon *d, struct cg_buf *out)
{
	struct cg_store_stats st;
	int rc = 0;

	d->store.stats(d->store.ctx, &st);
	rc |= family(out, "consentgate_writer_commits_total", "counter", "Group commits (transactions) by the writer.");
	rc |= cg_buf_printf(out, "consentgate_writer_commits_total %llu\n", ull(st.commits));
	rc |= family(out, "consentgate_writer_rows_total", "counter", "Rows committed.");
	rc |= cg_buf_printf(out, "consentgate_writer_rows_total %llu\n", ull(st.rows));
	rc |= family(out, "consentgate_writer_failures_total", "counter", "Failed group commits.");
	rc |= cg_buf_printf(out, "consentgate_writer_failures_total %llu\n", ull(st.failures));
	rc |= family(out, "consentgate_writer_batch_max", "gauge", "Largest batch committed at once.");
	rc |= cg_buf_printf(out, "consentgate_writer_batch_max %llu\n", ull(st.batch_max));
	rc |= family(out, "consentgate_writer_commit_seconds_total", "counter", "Time spent in group commits.");
	rc |= cg_buf_printf(out, "consentgate_writer_commit_seconds_total %.6f\n", st.commit_seconds_total);
	rc |= family(out, "consentgate_checkpoints_total", "counter", "WAL checkpoints run.");
	rc |= cg_buf_printf(out, "consentgate_checkpoints_total %llu\n", ull(st.checkpoints));
	rc |= family(out, "consentgate_wal_frames", "gauge", "Frames in the WAL at the last checkpoint.");
	rc |= cg_buf_printf(out, "consentgate_wal_frames %llu\n", ull(st.wal_frames));
	return rc;
}

static int storage(struct daemon *d, struct cg_buf *out)
{
	struct cg_store_stats st;
	int rc = 0;

	d->store.stats(d->store.ctx, &st);
	rc |= family(out, "consentgate_storage_info", "gauge", "The storage backend in use.");
	rc |= cg_buf_printf(out, "consentgate_storage_info{backend=\"%s\"} 1\n", d->store.name);
	rc |= family(out, "consentgate_storage_connected", "gauge", "Whether the writer holds a database connection.");
	rc |= cg_buf_printf(out, "consentgate_storage_connected %d\n", st.connected);
	rc |= family(out, "consentgate_storage_reconnects_total", "counter",
	             "Database connections made again after one was lost (PostgreSQL).");
	rc |= cg_buf_printf(out, "consentgate_storage_reconnects_total %llu\n", ull(st.reconnects));
	rc |= family(out, "consentgate_storage_unknown_commits_total", "counter",
	             "COMMITs whose connection dropped in flight, resolved afterwards (PostgreSQL).");
	rc |= cg_buf_printf(out, "consentgate_storage_unknown_commits_total %llu\n", ull(st.unknown_commits));
	return rc;
}

int cgd_metrics(struct daemon *d, struct cg_buf *out)
{
	int rc = requests_and_decisions(d, out);

	rc |= outbox_and_delivery(d, out);
	rc |= outbox_by_destination(d, out);
	rc |= limits_and_connections(d, out);
	rc |= writer(d, out);
	rc |= storage(d, out);
	rc |= cgd_leaks_metrics(d, out);
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}
