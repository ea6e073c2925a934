/* consentctl's commands over the same core and store, and the table that
 * declares them (cmd.h): options, arguments, help and what each needs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentgate/cfgfile.h"
#include "consentgate/chain.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/id.h"
#include "consentgate/outfile.h"
#include "consentgate/report.h"
#include "consentgate/storage.h"
#include "consentgate/timefmt.h"
#include "cli.h"
#include "cmd.h"
#include "rows.h"

/* the visitor the options name (the table makes one of them required) */
static int subject_of(const struct cg_cmd *self, const struct cg_opts *o, char subject[CG_SUBJECT_LEN + 1])
{
	if (o->subject) { /* erase --subject: the key itself */
		memcpy(subject, o->subject, CG_SUBJECT_LEN + 1);
		return 0;
	}
	if (!cg_id_valid(o->consent_id, strlen(o->consent_id))) {
		fprintf(stderr, "consentctl %s: that is not a consent ID (22 characters of base64url)\n", self->name);
		return 2;
	}
	cg_id_subject(o->consent_id, subject);
	return 0;
}

/* ---- report ---------------------------------------------------------------- */

struct leak_rows {
	struct cg_leak_row *r;
	size_t n, cap;
};

static int leak_row(void *ctx, const struct cg_leak_row *row)
{
	struct leak_rows *L = ctx;

	if (L->n == L->cap) {
		size_t cap = L->cap ? 2 * L->cap : 256;
		struct cg_leak_row *r = realloc(L->r, cap * sizeof *r);
		if (!r)
			return CG_ERR_NOMEM;
		L->r = r;
		L->cap = cap;
	}
	L->r[L->n++] = *row;
	return CG_OK;
}

/* report --leaks: the vendors (or hosts) that tried to load before consent, where */
static int render_leaks(const struct cg_store_port *st, struct cg_store_reader *rd, const struct cg_config *cfg,
                        const char *since, const struct cg_opts *o, struct cg_buf *out)
{
	struct leak_rows L = {0};
	char title[CG_CFG_STR + 96], today[CG_TIME_LEN + 1];
	int rc;

	if (!st->each_leak || st->each_leak(rd, since, leak_row, &L) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the leak reports\n");
		free(L.r);
		return 1;
	}
	cg_time_format(o->now_ms, today);
	today[10] = '\0';
	snprintf(title, sizeof title, "Leak reports: %s, %s to %s", cfg->site, since, today);
	rc = cg_leak_render(L.r, L.n, o->format, title, out);
	free(L.r);
	if (rc != CG_OK)
		fprintf(stderr, "consentctl: the report is too large\n");
	return rc != CG_OK;
}

/* report: outcomes and grant rates, k-suppressed */
static int render_consent(const struct cg_store_port *st, struct cg_store_reader *rd, const struct cg_config *cfg,
                          const char *since, const struct cg_opts *o, struct cg_report *rep, struct cg_buf *out)
{
	char title[CG_CFG_STR + 96], today[CG_TIME_LEN + 1];

	if (st->report(rd, o->period, since, rep) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the report\n");
		return 1;
	}
	cg_report_suppress(rep, o->k > 0 ? o->k : cfg->report_min_visitors);
	cg_time_format(o->now_ms, today);
	today[10] = '\0';
	snprintf(title, sizeof title, "Consent report: %s, %s to %s", cfg->site, since, today);
	if (cg_report_render(rep, o->format, title, out) != CG_OK) {
		fprintf(stderr, "consentctl: the report is too large\n");
		return 1;
	}
	return 0;
}

static int cmd_report(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_report rep = {0};
	struct cg_buf out;
	char since[CG_TIME_LEN + 1];
	int rc;

	(void)self;
	if (o->since)
		snprintf(since, sizeof since, "%s", o->since);
	else {
		cg_time_format(o->now_ms - 30 * CG_MS_PER_DAY, since);
		since[10] = '\0';
	}
	if (cg_cli_open(cfg, o->database, CG_STORE_READONLY, &st, &rd))
		return 1;
	cg_buf_init(&out, (size_t)256 << 20);
	rc = o->leaks ? render_leaks(&st, rd, cfg, since, o, &out) : render_consent(&st, rd, cfg, since, o, &rep, &out);
	if (rc)
		goto out;
	if (o->output) { /* replaced in one step (outfile.h): a link there is replaced, not followed */
		char name[CG_OUT_NAME_MAX + 1], err[512];
		int dfd = -1;
		if ((rc = cg_out_path(o->output, &dfd, name, err, sizeof err)) == CG_OK)
			rc = cg_out_replace(dfd, name, 0666, out.p, out.len, err, sizeof err);
		if (rc != CG_OK)
			fprintf(stderr, "consentctl report: --output %s: %s\n", o->output, err);
		if (dfd >= 0)
			close(dfd);
		rc = rc != CG_OK;
	} else {
		rc = fwrite(out.p, 1, out.len, stdout) != out.len;
	}
out:
	cg_buf_free(&out);
	cg_report_free(&rep);
	cg_cli_close(&st, rd);
	return rc;
}

/* ---- export, receipt --------------------------------------------------------- */

static int export_like(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o,
                       int receipt)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_event *evs = NULL;
	struct cg_export_in in;
	char subject[CG_SUBJECT_LEN + 1];
	size_t n = 0;
	int rc;

	if ((rc = subject_of(self, o, subject)))
		return rc;
	if (cg_cli_open(cfg, o->database, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_store_subject_events(&st, rd, subject, &evs, &n);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the events\n");
		return 1;
	}
	if (!n) {
		free(evs);
		fprintf(stderr, "consentctl %s: no record for that consent ID\n", self->name);
		return 3;
	}
	in.cfg = cfg;
	in.subject = subject;
	in.events = evs;
	in.n = n;
	in.now_ms = o->now_ms;
	rc = cg_print_json(receipt ? cg_receipt_build(&in) : cg_cli_signed_export(cfg, cg_export_build(&in)));
	free(evs);
	return rc;
}

static int cmd_export(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	return export_like(self, cfg, o, 0);
}

static int cmd_receipt(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	return export_like(self, cfg, o, 1);
}

static int cmd_receipt_verify(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	(void)self;
	if (o->nrest != 1)
		return fprintf(stderr, "consentctl receipt verify: one FILE (a receipt envelope or an export)\n"), 2;
	return cg_cli_receipt_verify(cfg, o->rest[0], o->keys);
}

static int cmd_keys(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	(void)self;
	(void)o;
	return cg_cli_keys(cfg);
}

static int cmd_bundle(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	char subject[CG_SUBJECT_LEN + 1];
	int rc;

	if (o->consent_id && (rc = subject_of(self, o, subject)))
		return rc;
	if (o->nrest)
		return fprintf(stderr, "consentctl bundle: '%s' is not an argument of bundle\n", o->rest[0]), 2;
	if (strcmp(o->from, o->to) > 0)
		return fprintf(stderr, "consentctl bundle: --to: a day not before --from\n"), 2;
	return cg_cli_bundle(&(struct cg_cli_bundle_opts){o->from, o->to, o->consent_id ? subject : NULL, o->output}, cfg);
}

static int cmd_banner(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	(void)self;
	(void)cfg;
	if (o->nrest != 2)
		return fprintf(stderr, "consentctl banner: stamp DIR or id DIR\n"), 2;
	return cg_cli_banner(o->rest[0], o->rest[1]);
}

/* notice [list], notice show ID -o DIR */
static int cmd_notice(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	if (strcmp(self->name, "notice show") == 0)
		return o->nrest == 1 ? cg_cli_notice(cfg, "show", o->rest[0], o->output)
		                     : (fprintf(stderr, "consentctl notice show: one ID\n"), 2);
	return cg_cli_notice(cfg, o->nrest ? o->rest[0] : "list", o->nrest > 1 ? o->rest[1] : NULL, NULL);
}

static int cmd_head(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	(void)self;
	return cg_cli_head(cfg, o->nrest ? o->rest[0] : "show");
}

/* ---- erase --------------------------------------------------------------------- */

static int cmd_erase(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	char subject[CG_SUBJECT_LEN + 1];
	int rc;

	if ((rc = subject_of(self, o, subject)))
		return rc;
	return cg_cli_erase(cfg, o->database, subject);
}

/* ---- verify ----------------------------------------------------------------------- */

static int cmd_verify(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	(void)self;
	return cg_cli_verify_cmd(cfg, o->database, o->head, o->min_retention_days);
}

/* ---- purge ------------------------------------------------------------------------- */

static int cmd_purge(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	struct cg_store_port st = {0};
	struct cg_purge_counts c;
	int rc;

	(void)self;
	/* the purge's log event carries this time: the verifiers refuse one
	 * dated after the rows that follow it or their own clock */
	if (!o->dry_run && o->now_ms > cg_cli_now_ms() + 60000)
		return fprintf(stderr, "consentctl purge: --now %s is later than now: a purge is recorded in the chain "
		               "with its time (--dry-run shows what a later one would do)\n", o->now), 2;
	if (cg_cli_open(cfg, o->database, CG_STORE_WRITER, &st, NULL))
		return 1;
	rc = st.purge(st.ctx, cfg, o->now_ms, o->dry_run, &c);
	cg_store_port_close(&st);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: the purge failed: %s\n", cg_strerror(rc));
		return 1;
	}
	printf("%s\n"
	       "  ip prefixes cleared (older than %d days):          %lld\n"
	       "  subjects whose records ended > %d days ago:      %lld (%lld events; links kept)\n"
	       "  outbox rows deleted (delivered/dropped > %d days, dead > 30 days): %lld\n"
	       "  outbox rows older than 72 h dropped:               %lld\n"
	       "  retired banner builds and notices no row names:   %lld\n",
	       o->dry_run ? "dry run: nothing changed; a purge now would change:" : "purged:",
	       cfg->ip_prefix_days, c.ip_prefixes_cleared, cfg->events_days_after_end, c.subjects_pruned,
	       c.events_pruned, cfg->outbox_delivered_days, c.outbox_deleted, c.outbox_expired, c.shown_deleted);
	return 0;
}

/* ---- migrate ---------------------------------------------------------------------------- */

/* Opening for writing creates the database or brings it to this build's
 * schema; doing it here lets an operator migrate (and time it) before
 * starting the new daemon. */
static int cmd_migrate(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	struct cg_store_port st = {0};

	(void)self;
	if (o->to)
		return cg_cli_move(cfg, o->database, o->to);
	if (cg_cli_open(cfg, o->database, CG_STORE_WRITER, &st, NULL))
		return 1;
	cg_store_port_close(&st);
	printf("%s: the schema is this build's\n", o->database ? o->database
	       : cfg->backend == CG_BACKEND_SQLITE ? cfg->database : "[storage] url");
	return 0;
}

/* ---- outbox ---------------------------------------------------------------------------- */

static int cmd_outbox(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	static const char *const summary_h[] = {"destination", "kind", "state", "rows", "oldest", "newest"};
	static const char *const dead_h[] = {"id", "destination", "kind", "created_at", "attempts", "last_error"};
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	const char *action = o->nrest ? o->rest[0] : "summary";
	int dead = strcmp(action, "dead") == 0, rc;
	struct rows r = {o->format, dead ? dead_h : summary_h, 6, dead ? "n   n " : "   n  ", 0, NULL};

	(void)self;
	if (!dead && strcmp(action, "summary") != 0) {
		fprintf(stderr, "consentctl outbox: '%s' is not one of summary, dead, retry, drop\n", action);
		return 2;
	}
	if (cg_cli_open(cfg, o->database, CG_STORE_READONLY, &st, &rd))
		return 1;
	cg_rows_begin(&r);
	rc = st.outbox_rows(rd, action, cg_rows_add, &r);
	cg_rows_end(&r);
	cg_cli_close(&st, rd);
	return rc == CG_OK ? 0 : 1;
}

/* outbox retry ID|all, outbox drop ID|all */
static int cmd_outbox_set(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o)
{
	struct cg_store_port st = {0};
	int retry = strcmp(self->name, "outbox retry") == 0, rc;
	long long changed = 0;
	int64_t id = 0;

	if (o->nrest != 1) {
		cg_cmd_help(self, stderr);
		return 2;
	}
	if (strcmp(o->rest[0], "all") != 0) {
		char *end = NULL;
		id = strtoll(o->rest[0], &end, 10);
		if (!*o->rest[0] || *end || id <= 0) {
			fprintf(stderr, "consentctl %s: ID is a row id or 'all'\n", self->name);
			return 2;
		}
	}
	if (cg_cli_open(cfg, o->database, CG_STORE_WRITER, &st, NULL))
		return 1;
	rc = st.outbox_set(st.ctx, id, retry, cg_cli_now_ms(), &changed);
	cg_store_port_close(&st);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: %s\n", cg_strerror(rc));
		return 1;
	}
	printf("%lld row(s) %s\n", changed, retry ? "queued again" : "dropped");
	return changed ? 0 : 3;
}

/* ---- the table ------------------------------------------------------------------------ */

#define DATABASE_OPT {CG_OPT_DATABASE, "PATH", 0, "another SQLite file than [storage] database (a copy, a backup)"}
#define NOW_OPT {CG_OPT_NOW, "TIME", 0, "the clock, as 2026-01-31T12:00:00.000Z (tests, back-fills)"}
#define CONSENT_ID_OPT(f) {CG_OPT_CONSENT_ID, "ID", f, "the value of the visitor's consent cookie"}

const struct cg_cmd cg_cmds[] = {
	{"report", NULL, "consent outcomes and grant rates, k-suppressed",
	 "Outcomes (accept_all, reject_all, custom, withdraw) and the share of choices\n"
	 "granting each category, per period x country x policy version x language.\n"
	 "Cells with fewer than k distinct visitors ([report] min_visitors, default 5)\n"
	 "are suppressed. Default: the last 30 days, by day, as a table. --output FILE\n"
	 "is replaced in one step (written to .FILE.tmp beside it, then renamed; a link\n"
	 "at FILE is replaced, never written through). --leaks: the browsers' CSP\n"
	 "violation reports instead, per day: the vendor (or, for none, the host) that\n"
	 "tried to load before consent, the directive and the page's first path segment.",
	 CG_NEEDS_CONFIG, cmd_report,
	 {{CG_OPT_BY, "day|week|month", 0, "the period of a row (default: day)"},
	  {CG_OPT_SINCE, "YYYY-MM-DD", 0, "the first day (default: 30 days ago)"},
	  {CG_OPT_K, "N", 0, "suppress cells of fewer than N distinct visitors"},
	  {CG_OPT_FORMAT, "table|csv|json|html", 0, "html: one self-contained page with SVG charts"},
	  {CG_OPT_OUTPUT, "FILE", 0, "write to FILE instead of standard output"}, DATABASE_OPT, NOW_OPT,
	  {CG_OPT_LEAKS, NULL, 0, "leak reports instead: vendors that tried to load before consent, where"}}},
	{"export", NULL, "a visitor's register copy (access, portability), as JSON",
	 "For requests that arrive by e-mail: the same answer as GET /consent/export,\n"
	 "with the receipt signed when this instance's key is readable. Exit 3: no record.",
	 CG_NEEDS_CONFIG, cmd_export, {CONSENT_ID_OPT(CG_OPT_REQUIRED), DATABASE_OPT, NOW_OPT}},
	{"receipt", NULL, "a visitor's consent receipt (ISO/IEC TS 27560, Kantara names)",
	 "The receipt part of the export alone: the visitor's current consent per\n"
	 "purpose with its legal basis, recipients, retention and the record's chain\n"
	 "hash, under ISO/IEC TS 27560 and Kantara Consent Receipt field names, as\n"
	 "JSON. Exit 3: no record.",
	 CG_NEEDS_CONFIG, cmd_receipt, {CONSENT_ID_OPT(CG_OPT_REQUIRED), DATABASE_OPT, NOW_OPT}},
	{"receipt verify", "FILE", "check a signed receipt",
	 "Checks a signed receipt (its DSSE envelope, or an export holding one)\n"
	 "against the log's public keys, or those of a saved GET /consent/keys, and\n"
	 "that everything the export restates of it (the receipt, subject,\n"
	 "current_state, events, purposes, controller, policy, retention) is what was\n"
	 "signed; prints what the signature covers and what it does not. Exit 0, or 1\n"
	 "naming the field that differs (subject: the receipt is another visitor's).",
	 CG_NEEDS_CONFIG, cmd_receipt_verify,
	 {{CG_OPT_KEYS, "KEYS.json", 0, "the keys as GET /consent/keys listed them (offline)"}}},
	{"keys", NULL, "every public key that signed receipts or heads in this log",
	 "The same JSON as GET /consent/keys: every key that signed in this log, with\n"
	 "its id, the raw key (base64url) and its SPKI PEM (for openssl pkeyutl).",
	 CG_NEEDS_CONFIG, cmd_keys, {{0}}},
	{"head", "[show|sign]", "the newest signed chain head; sign one now",
	 "show (the default): the newest signed head's envelope, as GET\n"
	 "/consent/chain-head. sign: signs the head now with this instance's key\n"
	 "([signing] key_file; run as the daemon's user) and runs [signing]\n"
	 "anchor_command. Exit 3: no head yet.",
	 CG_NEEDS_CONFIG, cmd_head, {{0}}},
	{"bundle", NULL, "one archive of the proof of a period, for a regulator",
	 "One archive for a regulator: the events of the period (CSV and JSON, personal\n"
	 "fields as stored; one visitor's with --consent-id), the chain verification\n"
	 "transcript, the heads signed in the period with their anchors, the public\n"
	 "keys, the policy-version history, the recipients and transfer bases, and a\n"
	 "README with verify.py that check it offline; SHA256SUMS is signed when this\n"
	 "user can read the key (SHA256SUMS.dsse.json). Never overwrites FILE (nor\n"
	 "writes through a link there). Days are UTC calendar days that exist.\n"
	 "Memory stays flat however many events: they pass through two unnamed\n"
	 "scratch files in FILE's directory (about 1.5 kB per event, until done).",
	 CG_NEEDS_CONFIG, cmd_bundle,
	 {{CG_OPT_FROM, "YYYY-MM-DD", CG_OPT_REQUIRED, "the first day of the period"},
	  {CG_OPT_TO, "YYYY-MM-DD", CG_OPT_REQUIRED, "the last day of the period"},
	  CONSENT_ID_OPT(0), {CG_OPT_OUTPUT, "FILE.tar.gz", CG_OPT_REQUIRED, "the archive to write"}}},
	{"banner", "stamp|id DIR", "stamp a banner build with its id (no configuration needed)",
	 "stamp: computes the build id of the banner in DIR (banner.js and banner.css)\n"
	 "and writes it into banner.js, which carries it in every choice; run it after\n"
	 "any change to the banner's files (the daemon refuses a build whose files do\n"
	 "not hash to the id it carries). The new banner.js is written as\n"
	 ".banner.js.tmp and renamed over the old (one left there by an interrupted\n"
	 "run is refused, never written through: remove it). id: prints the id.",
	 CG_NEEDS_NOTHING, cmd_banner, {{0}}},
	{"notice", "[list]", "the banner builds, privacy notices and vendor lists shown",
	 "What was shown: every banner build, privacy notice and vendor list this log\n"
	 "refers to (kind banner, notice or vendors), with when it was first served and\n"
	 "retired, as JSON.",
	 CG_NEEDS_CONFIG, cmd_notice, {{0}}},
	{"notice show", "ID", "the files of one banner build, notice or vendor list",
	 "Writes the byte-identical files of one banner build, notice or vendor list\n"
	 "(vendors.json: the list as GET /consent/vendors served it) into DIR; their\n"
	 "SHA-256 is printed beside each. Never over a file, never through a link,\n"
	 "never a name from the store that is not a plain file name. Exit 3: no such\n"
	 "build, notice or list.",
	 CG_NEEDS_CONFIG, cmd_notice, {{CG_OPT_OUTPUT, "DIR", CG_OPT_REQUIRED, "the directory to write into"}}},
	{"erase", NULL, "erase a visitor's personal data (keeps the chain verifiable)",
	 "The same as POST /consent/erase: clears the personal fields of every event\n"
	 "of the visitor, drops their queued analytics, appends a tombstone and\n"
	 "queues an erasure notice for each destination that acknowledged their\n"
	 "pseudonym (past [limits] erasure_notices_max_rows it says how many it could\n"
	 "not; the erasure is carried out all the same). Safe while the daemon runs.\n"
	 "--subject names the visitor by the subject key of consent_events: how\n"
	 "erasures are applied again to a database restored from a backup older than\n"
	 "them.",
	 CG_NEEDS_CONFIG, cmd_erase,
	 {CONSENT_ID_OPT(CG_OPT_ONE_OF),
	  {CG_OPT_SUBJECT, "HEX", CG_OPT_ONE_OF, "the subject key of consent_events (docs/backups.md#erasure-and-backups)"},
	  DATABASE_OPT}},
	{"verify", NULL, "check the hash chain of consent_events",
	 "Walks the chain in id order (rows, the links of rows pruned by retention,\n"
	 "the purges' log events) and checks every digest and link, the signed heads\n"
	 "the log holds, and the rules of row format 2: no row without its salt keeps\n"
	 "a personal value or lacks its visitor's erasure; every removal was one\n"
	 "retention allowed when its purge ran. A purge that recorded a lower\n"
	 "retention than an earlier one fails where it removed what the earlier one\n"
	 "protected. Exit 0 when intact; otherwise 1, naming the first bad row\n"
	 "(docs/auditors.md).",
	 CG_NEEDS_CONFIG, cmd_verify,
	 {DATABASE_OPT, {CG_OPT_HEAD, "HEAD.json", 0,
	                 "check that the log still holds this signed head, nothing before it changed"},
	  {CG_OPT_MIN_RETENTION_DAYS, "N", 0,
	   "accept a purge that kept rows N days after consent ended (lowerings noted)"}}},
	{"purge", NULL, "apply [retention] now (the daemon does it daily)",
	 "Clears IP prefixes older than ip_prefix_days, deletes the events of visitors\n"
	 "whose consent ended more than events_days_after_end ago (their chain links are\n"
	 "kept), deletes delivered and dropped outbox rows after outbox_delivered_days\n"
	 "and dead ones after 30 days, drops pending rows older than 72 h. A removal\n"
	 "is recorded in the chain with the settings in force and its time: --now may\n"
	 "be earlier than now (it purges less), later only with --dry-run.",
	 CG_NEEDS_CONFIG, cmd_purge,
	 {{CG_OPT_DRY_RUN, NULL, 0, "print what would change, change nothing"}, NOW_OPT, DATABASE_OPT}},
	{"migrate", NULL, "bring the database to this build's schema, or move it to PostgreSQL",
	 "The daemon brings the database to its schema at start-up; run this first to\n"
	 "migrate ahead of a restart (schema 1 to 2 rewrites every row in one\n"
	 "transaction, then vacuums; stop the older daemon first). With --to, copies\n"
	 "the SQLite log (events, pruned links, outbox rows, recipients of erasure\n"
	 "notices, the client_id key) into an empty PostgreSQL database in one\n"
	 "transaction and verifies both chains; the SQLite file takes no writes\n"
	 "afterwards. The database is named outright: postgresql://HOST/DATABASE (or\n"
	 "postgres://), or a conninfo with dbname=DATABASE; anything else is refused\n"
	 "before anything is touched (exit 2). Then set [storage] backend =\n"
	 "postgresql and url.",
	 CG_NEEDS_CONFIG, cmd_migrate,
	 {DATABASE_OPT, {CG_OPT_TO, "URL", 0, "the PostgreSQL database to move to (a libpq URI or conninfo)"}}},
	{"outbox", "[summary|dead]", "inspect the outbox; retry or drop dead letters",
	 "summary (the default): rows per destination, kind (event, or erasure for\n"
	 "erasure notices) and state, oldest and newest; dead: the dead letters with\n"
	 "their kind and last error.",
	 CG_NEEDS_CONFIG, cmd_outbox, {{CG_OPT_FORMAT, "table|csv|json", 0, "how rows are printed"}, DATABASE_OPT}},
	{"outbox retry", "ID|all", "dead letters back to pending",
	 "Queues a dead letter (or all of them) for delivery again now. Safe while the\n"
	 "daemon runs. Exit 3: no row matched.",
	 CG_NEEDS_CONFIG, cmd_outbox_set, {DATABASE_OPT}},
	{"outbox drop", "ID|all", "dead or pending rows to dropped",
	 "Marks a dead or pending row (or all of them) dropped: it is never sent. Safe\n"
	 "while the daemon runs. Exit 3: no row matched.",
	 CG_NEEDS_CONFIG, cmd_outbox_set, {DATABASE_OPT}},
};
const size_t cg_ncmds = sizeof cg_cmds / sizeof cg_cmds[0];
