/* Moving a log to PostgreSQL (consentctl migrate --to): everything another
 * backend holds — every event with its stored digests and hashes, the links
 * of pruned rows, the log events, every outbox row with its id and state, the
 * recipients of erasure notices, the client_id key,
 * the public signing keys and the signed chain heads
 * — copied in one transaction with COPY, into a database that holds no log
 * yet. Ids and hashes are kept as they are, so the chain verifies on the
 * copy exactly as on the source, and a receiver can still drop a repeated
 * delivery by its id. An interrupted copy leaves nothing (one transaction);
 * a finished one is recognised by its head and never copied twice. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/decision.h"
#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/timefmt.h"
#include "internal.h"

static const char stage_sql[] =
	"CREATE TEMP TABLE cg_imp(id bigint, subject bytea, recorded_ms bigint, choice_back_ms bigint,"
	" action smallint, preferences smallint, statistics smallint, marketing smallint,"
	" objection_purpose smallint, objections smallint, gpc smallint, dnt smallint, policy_version text,"
	" lang text, banner text, country text, page text, ip_prefix text, salt bytea, core_digest bytea,"
	" personal_digest bytea, hash bytea, link smallint, fmt smallint, ip_digest bytea, sdigest bytea,"
	" purge_id bigint, pruned_ms bigint, record text) ON COMMIT DROP;"
	"CREATE TEMP TABLE cg_imp_outbox(id bigint, subject bytea, destination text, purpose smallint,"
	" mode smallint, payload text, created_ms bigint, attempts integer, next_ms bigint, state smallint,"
	" last_error text) ON COMMIT DROP;"
	"CREATE TEMP TABLE cg_imp_recipients(subject bytea, destination text) ON COMMIT DROP";

/* Rows, pruned links and log events as they were (row format 1 included:
 * consentgate.importing lets cg_row_format pass them, logev.c). */
static const char move_sql[] =
	"SET LOCAL consentgate.importing = 'on';"
	"INSERT INTO subjects(digest) SELECT DISTINCT subject FROM (SELECT subject FROM cg_imp UNION ALL"
	" SELECT subject FROM cg_imp_outbox UNION ALL SELECT subject FROM cg_imp_recipients) x"
	" WHERE subject IS NOT NULL ORDER BY 1 ON CONFLICT (digest) DO NOTHING;"
	"INSERT INTO events(id, sid, recorded_ms, choice_back_ms, action, preferences, statistics, marketing,"
	" objection_purpose, objections, gpc, dnt, policy_version, lang, banner, country, page, ip_prefix, salt,"
	" core_digest, personal_digest, hash, ip_digest, fmt) SELECT i.id, s.sid, i.recorded_ms, i.choice_back_ms,"
	" i.action, i.preferences, i.statistics, i.marketing, i.objection_purpose, i.objections, i.gpc, i.dnt,"
	" i.policy_version, i.lang, i.banner, i.country, i.page, i.ip_prefix, i.salt, i.core_digest,"
	" i.personal_digest, i.hash, i.ip_digest, i.fmt FROM cg_imp i JOIN subjects s ON s.digest = i.subject"
	" WHERE i.link = 0;"
	"INSERT INTO pruned(id, pruned_ms, core_digest, personal_digest, hash, sdigest, recorded_ms, choice_back_ms,"
	" action, preferences, statistics, marketing, objection_purpose, objections, policy_version, banner, purge_id,"
	" fmt) SELECT id, coalesce(pruned_ms, 0), core_digest, personal_digest, hash, sdigest,"
	" CASE WHEN fmt = 2 THEN recorded_ms END, CASE WHEN fmt = 2 THEN choice_back_ms END,"
	" CASE WHEN fmt = 2 THEN action END, preferences, statistics, marketing, objection_purpose,"
	" CASE WHEN fmt = 2 THEN objections END, policy_version, banner, purge_id, fmt FROM cg_imp WHERE link = 1;"
	"INSERT INTO log_events(id, recorded_ms, kind, record, core_digest, personal_digest, hash)"
	" SELECT id, recorded_ms, action, record, core_digest, personal_digest, hash FROM cg_imp WHERE link = 2;"
	"INSERT INTO outbox_rows(id, sid, destination, purpose, mode, payload, created_ms, attempts, next_ms, state,"
	" last_error) SELECT o.id, s.sid, o.destination, o.purpose, o.mode, o.payload, o.created_ms, o.attempts,"
	" o.next_ms, o.state, o.last_error FROM cg_imp_outbox o LEFT JOIN subjects s ON s.digest = o.subject;"
	"INSERT INTO recipients(sid, destination) SELECT s.sid, r.destination FROM cg_imp_recipients r"
	" JOIN subjects s ON s.digest = r.subject ON CONFLICT DO NOTHING;"
	"SELECT setval(pg_get_serial_sequence('outbox_rows', 'id'), coalesce((SELECT max(id) FROM outbox_rows), 0) + 1,"
	" false)";

struct copy {
	PGconn *c;
	struct cg_buf line;
	long long rows, pruned, logged;
	int failed;
};

/* COPY's text format: \N is NULL; backslash, tab, newline, CR escaped */
static void field(struct copy *k, const char *v, int last)
{
	if (!v)
		k->failed |= cg_buf_adds(&k->line, "\\N") != CG_OK;
	for (; v && *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '\t' ? "\\t" : *v == '\n' ? "\\n" : *v == '\r' ? "\\r" : NULL;
		k->failed |= (esc ? cg_buf_adds(&k->line, esc) : cg_buf_add(&k->line, v, 1)) != CG_OK;
	}
	k->failed |= cg_buf_adds(&k->line, last ? "\n" : "\t") != CG_OK;
}

static void field_i64(struct copy *k, int64_t v, int is_null)
{
	char b[24];

	snprintf(b, sizeof b, "%" PRId64, v);
	field(k, is_null ? NULL : b, 0);
}

static void field_tri(struct copy *k, int v)
{
	field_i64(k, v, v == -1);
}

static void field_hex(struct copy *k, const char *hex, int last)
{
	char b[2 * 64 + 8];

	snprintf(b, sizeof b, "\\x%s", hex);
	field(k, hex && *hex ? b : NULL, last); /* field() doubles the backslash */
}

static int put_line(struct copy *k)
{
	int rc = !k->failed && PQputCopyData(k->c, k->line.p, (int)k->line.len) == 1 ? 0 : CG_ERR_STORAGE;

	cg_buf_reset(&k->line);
	return rc;
}

static int copy_event(void *arg, const struct cg_event *ev)
{
	struct copy *k = arg;
	int64_t at = 0, choice = 0;
	int has_at = ev->recorded_at[0] && cg_time_parse(ev->recorded_at, &at) == CG_OK;
	int has_choice = ev->choice_at[0] && cg_time_parse(ev->choice_at, &choice) == CG_OK;

	int64_t pruned = 0;
	int has_pruned = ev->pruned_at[0] && cg_time_parse(ev->pruned_at, &pruned) == CG_OK;

	field_i64(k, ev->id, 0);
	field_hex(k, ev->link != CG_LINK_ROW ? "" : ev->subject, 0);
	field_i64(k, at, !has_at);
	field_i64(k, at - choice, !(has_at && has_choice));
	field_i64(k, ev->action, 0);
	for (int i = 0; i < CG_NPURPOSES; i++)
		field_tri(k, ev->choice[i]);
	field_i64(k, ev->objection_purpose, ev->objection_purpose < 0);
	field_i64(k, ev->objections, 0);
	field_tri(k, ev->gpc);
	field_tri(k, ev->dnt);
	field(k, PGS_OPT(ev->policy_version), 0);
	field(k, PGS_OPT(ev->lang), 0);
	field(k, PGS_OPT(ev->banner), 0);
	field(k, PGS_OPT(ev->country), 0);
	field(k, PGS_OPT(ev->page), 0);
	field(k, PGS_OPT(ev->ip_prefix), 0);
	field_hex(k, ev->salt, 0);
	field_hex(k, ev->core_digest, 0);
	field_hex(k, ev->personal_digest, 0);
	field_hex(k, ev->hash, 0);
	field_i64(k, ev->link, 0);
	field_i64(k, ev->format, ev->format == 1);
	field_hex(k, ev->ip_digest, 0);
	field_hex(k, ev->subject_digest, 0);
	field_i64(k, ev->purge_id, !ev->purge_id);
	field_i64(k, pruned, !has_pruned);
	field(k, PGS_OPT(ev->record), 1);
	if (ev->link == CG_LINK_PRUNED)
		k->pruned++;
	else if (ev->link == CG_LINK_LOG)
		k->logged++;
	else
		k->rows++;
	return put_line(k);
}

static int copy_outbox(void *arg, const struct cg_outbox_item *it)
{
	struct copy *k = arg;

	field_i64(k, it->id, 0);
	field_hex(k, it->subject, 0);
	field(k, it->destination, 0);
	field_i64(k, it->purpose, 0);
	field_i64(k, it->mode == CG_FORWARD_FULL ? 0 : 1, 0);
	field(k, it->payload ? it->payload : "", 0);
	field_i64(k, it->created_ms, 0);
	field_i64(k, it->attempts, 0);
	field_i64(k, it->next_ms, 0);
	field_i64(k, it->state, 0);
	field(k, PGS_OPT(it->last_error), 1);
	k->rows++;
	return put_line(k);
}

static int copy_recipient(void *arg, const char *subject, const char *destination)
{
	struct copy *k = arg;

	field_hex(k, subject, 0);
	field(k, destination, 1);
	k->rows++;
	return put_line(k);
}

/* COPY table FROM STDIN, fed by the source's iteration. */
static int copy_in(struct copy *k, const char *sql, int (*feed)(struct copy *k, void *arg), void *arg,
                   long long *count)
{
	PGresult *r = PQexec(k->c, sql);
	int rc = PQresultStatus(r) == PGRES_COPY_IN ? CG_OK : CG_ERR_STORAGE;

	PQclear(r);
	if (rc != CG_OK)
		return rc;
	k->rows = 0;
	rc = feed(k, arg);
	if (PQputCopyEnd(k->c, rc == CG_OK ? NULL : "the source could not be read") != 1)
		rc = CG_ERR_STORAGE;
	while ((r = PQgetResult(k->c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == CG_OK) {
			cg_error("postgresql: COPY: %s", PQresultErrorMessage(r));
			rc = CG_ERR_STORAGE;
		}
		PQclear(r);
	}
	*count = k->rows;
	return rc;
}

struct source {
	const struct cg_store_port *p;
	struct cg_store_reader *r;
};

static int feed_events(struct copy *k, void *arg)
{
	struct source *src = arg;

	return src->p->each_event(src->r, NULL, copy_event, k) == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

static int feed_outbox(struct copy *k, void *arg)
{
	struct source *src = arg;

	return src->p->each_outbox(src->r, copy_outbox, k) == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

static int feed_recipients(struct copy *k, void *arg)
{
	struct source *src = arg;

	return src->p->each_recipient(src->r, NULL, copy_recipient, k) == CG_OK ? CG_OK : CG_ERR_STORAGE;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		cg_error("postgresql: import: %s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* one statement with text parameters: CG_OK or CG_ERR_STORAGE (logged) */
static int params_ok(PGconn *c, const char *sql, int n, const char *const *v)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		cg_error("postgresql: import: %s", PQresultErrorMessage(r));
	PQclear(r);
	return ok ? CG_OK : CG_ERR_STORAGE;
}

/* the source's key replaces the one this store made at its first start:
 * the visitors keep their pseudonyms at the destinations */
static int copy_key(PGconn *c, const struct cg_store_port *src)
{
	uint8_t key[32];
	char hex[80];
	const char *v[] = {hex};
	int rc;

	if (src->client_key(src->ctx, key) != CG_OK)
		return CG_ERR_STORAGE;
	memcpy(hex, "\\x", 2);
	sodium_bin2hex(hex + 2, sizeof hex - 2, key, sizeof key);
	rc = params_ok(c, "INSERT INTO secrets(name, value) VALUES('client_id_key', $1)"
	                  " ON CONFLICT (name) DO UPDATE SET value = excluded.value", 1, v);
	sodium_memzero(key, sizeof key);
	sodium_memzero(hex, sizeof hex);
	return rc;
}

/* the public keys and signed heads: receipts and heads signed on the
 * source keep verifying against the copy */
/* the source's presumption for grants before it recorded recipients
 * (storage.h) holds for the copy too */
static int copy_recipients_since(PGconn *c, struct source *src)
{
	char ms[24];
	const char *v[] = {ms};
	int64_t since = 0;

	if (src->p->recipients_since(src->r, &since) != CG_OK)
		return CG_ERR_STORAGE;
	snprintf(ms, sizeof ms, "%" PRId64, since);
	return since ? params_ok(c, "INSERT INTO meta(key, value) VALUES('" CG_RECIPIENTS_SINCE "', $1)"
	                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", 1, v)
	             : CG_OK;
}

static int copy_signing_key(void *arg, const struct cg_pubkey *k)
{
	char hex[2 * CG_SIGN_PK_BYTES + 1], pk[2 * CG_SIGN_PK_BYTES + 3], ms[24];
	const char *v[] = {k->key_id, pk, ms};

	sodium_bin2hex(hex, sizeof hex, k->pk, sizeof k->pk);
	pgs_bytea_param(hex, pk, sizeof pk);
	snprintf(ms, sizeof ms, "%" PRId64, k->created_ms);
	return params_ok(arg, "INSERT INTO signing_keys(key_id, public_key, created_ms) VALUES($1, $2, $3::bigint)"
	                      " ON CONFLICT (key_id) DO NOTHING", 3, v);
}

static int copy_signed_head(void *arg, const struct cg_signed_head *h)
{
	char a[24], b[24];
	const char *v[] = {a, b, h->key_id, h->envelope, h->anchor};

	snprintf(a, sizeof a, "%" PRId64, h->last_id);
	snprintf(b, sizeof b, "%" PRId64, h->signed_ms);
	return params_ok(arg, "INSERT INTO chain_heads(last_id, signed_ms, key_id, envelope, anchor)"
	                      " VALUES($1::bigint, $2::bigint, $3, $4, $5)", 5, v);
}

static int copy_proof(PGconn *c, struct source *src)
{
	int rc = src->p->each_key(src->r, copy_signing_key, c);

	return rc == CG_OK ? src->p->each_head(src->r, 0, INT64_MAX, 0, copy_signed_head, c) : rc;
}

/* the leak reports' daily counts (cspreport.h): what `consentctl report
 * --leaks` showed before the move it shows after */
static int copy_leak(void *arg, const struct cg_leak_row *l)
{
	char n[24];
	const char *v[] = {l->day, l->vendor, l->host, l->directive, l->path, n};

	snprintf(n, sizeof n, "%lld", l->count);
	return params_ok(arg, "INSERT INTO csp_leaks(day, vendor, host, directive, path, count)"
	                      " VALUES($1::date, $2, $3, $4, $5, $6::bigint)", 6, v);
}

struct head {
	int64_t id;
	long long rows;
	char hash[CG_HEX_HASH_LEN + 1];
};

static int last_of(void *arg, const struct cg_event *ev)
{
	struct head *h = arg;

	h->id = ev->id;
	h->rows++;
	snprintf(h->hash, sizeof h->hash, "%s", ev->hash);
	return 0;
}

/* A target that already holds a log: the finished copy of this source
 * (same head, same number of rows: CG_ERR_DUPLICATE), or something else. */
static int compare_heads(PGconn *c, struct source *src, char *err, size_t errlen)
{
	struct head mine = {0}, theirs = {0};
	PGresult *r = PQexec(c, "SELECT id, encode(hash, 'hex'), (SELECT count(*) FROM events) +"
	                        " (SELECT count(*) FROM pruned) + (SELECT count(*) FROM log_events) FROM (SELECT id,"
	                        " hash FROM events UNION ALL SELECT id, hash FROM pruned UNION ALL SELECT id, hash"
	                        " FROM log_events) x ORDER BY id DESC LIMIT 1");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		theirs.id = pgs_col_i64(r, 0, 0);
		pgs_col(r, 0, 1, theirs.hash, sizeof theirs.hash);
		theirs.rows = pgs_col_i64(r, 0, 2);
	}
	PQclear(r);
	if (src->p->each_event(src->r, NULL, last_of, &mine) != CG_OK)
		return CG_ERR_STORAGE;
	if (theirs.rows == mine.rows && theirs.id == mine.id && strcmp(theirs.hash, mine.hash) == 0)
		return CG_ERR_DUPLICATE;
	snprintf(err, errlen, "the target database already holds a log (%lld rows, head id %" PRId64 ") that is not "
	         "this source's (%lld rows, head id %" PRId64 "): copy only into an empty database",
	         theirs.rows, theirs.id, mine.rows, mine.id);
	return CG_ERR_INVALID;
}

static long long held(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM pruned)"
	                        " + (SELECT count(*) FROM log_events) + (SELECT count(*) FROM outbox_rows)");
	long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? pgs_col_i64(r, 0, 0) : -1;

	PQclear(r);
	return n;
}

static int import_txn(PGconn *c, struct source *src, struct cg_import_counts *out, char *err, size_t errlen)
{
	struct copy k = {.c = c};
	char lock[64];
	long long n;
	int rc;

	snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", PGS_LOCK_CHAIN);
	if (!exec_ok(c, "BEGIN") || !exec_ok(c, lock) || (n = held(c)) < 0)
		return CG_ERR_STORAGE;
	if (n > 0)
		return compare_heads(c, src, err, errlen);
	cg_buf_init(&k.line, (size_t)64 << 20);
	rc = exec_ok(c, stage_sql) ? CG_OK : CG_ERR_STORAGE;
	if (rc == CG_OK)
		rc = copy_in(&k, "COPY cg_imp FROM STDIN", feed_events, src, &out->events);
	out->pruned = k.pruned;
	out->log_events = k.logged;
	if (rc == CG_OK)
		rc = copy_in(&k, "COPY cg_imp_outbox FROM STDIN", feed_outbox, src, &out->outbox);
	if (rc == CG_OK)
		rc = copy_in(&k, "COPY cg_imp_recipients FROM STDIN", feed_recipients, src, &out->recipients);
	cg_buf_free(&k.line);
	if (rc == CG_OK && !exec_ok(c, move_sql))
		rc = CG_ERR_STORAGE;
	if (rc == CG_OK)
		rc = copy_key(c, src->p);
	if (rc == CG_OK)
		rc = copy_recipients_since(c, src);
	if (rc == CG_OK)
		rc = copy_proof(c, src);
	if (rc == CG_OK)
		rc = src->p->each_leak(src->r, "", copy_leak, c);
	if (rc == CG_OK && !exec_ok(c, "COMMIT"))
		rc = CG_ERR_STORAGE;
	if (rc != CG_OK && !err[0])
		snprintf(err, errlen, "the copy failed and was rolled back: %s", PQerrorMessage(c));
	return rc;
}

int pgs_import(void *ctx, const struct cg_store_port *src, struct cg_store_reader *src_reader,
               struct cg_import_counts *out, char *err, size_t errlen)
{
	struct pgs *s = ctx;
	struct source from = {src, src_reader};
	PGconn *c = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	err[0] = '\0';
	rc = pgs_connect(&s->cfg, "consentctl", pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, errlen);
	/* no deadline: a large log takes what it takes */
	if (rc == CG_OK && (PQsetnonblocking(c, 0) != 0 || !exec_ok(c, "SET statement_timeout = 0") ||
	                    !exec_ok(c, "SET idle_in_transaction_session_timeout = 0")))
		rc = CG_ERR_STORAGE;
	if (rc == CG_OK)
		rc = import_txn(c, &from, out, err, errlen);
	if (rc != CG_OK && c && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	PQfinish(c);
	return rc;
}
