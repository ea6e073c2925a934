/* consentctl: the analyst/operator CLI over the same core and store.
 * Subcommands live in one table (after tmux's cmd-*.c); each has --help. */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/cfgfile.h"
#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/erasure.h"
#include "consentgate/export.h"
#include "consentgate/id.h"
#include "consentgate/outfile.h"
#include "consentgate/report.h"
#include "consentgate/storage.h"
#include "consentgate/timefmt.h"
#include "cli.h"
#include "rows.h"

struct cmd;
typedef int (*cmd_fn)(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv);

struct cmd {
	const char *name;
	const char *summary;
	const char *usage;
	cmd_fn fn;
};

/* Options every subcommand may take; each says which it accepts. */
struct opts {
	const char *consent_id;
	const char *database;
	const char *since;
	const char *now;
	const char *output;
	const char *to;
	const char *subject;
	const char *keys, *head, *from;
	int format, period, k, dry_run;
	int64_t now_ms;
	char **rest;
	int nrest;
};

int64_t cg_cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a day that exists (2026-02-30 does not) */
static int valid_day(const char *s)
{
	int64_t ms;

	return cg_day_parse(s, &ms) == CG_OK;
}

static const struct option all_options[] = {
	{"consent-id", required_argument, NULL, 'i'},
	{"database", required_argument, NULL, 'd'},
	{"since", required_argument, NULL, 's'},
	{"now", required_argument, NULL, 'n'},
	{"format", required_argument, NULL, 'f'},
	{"by", required_argument, NULL, 'b'},
	{"k", required_argument, NULL, 'k'},
	{"output", required_argument, NULL, 'o'},
	{"dry-run", no_argument, NULL, 'r'},
	{"to", required_argument, NULL, 't'},
	{"subject", required_argument, NULL, 'S'},
	{"keys", required_argument, NULL, 'K'},
	{"head", required_argument, NULL, 'H'},
	{"from", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* "--since is not an option of verify (it takes: --database)" */
static int not_an_option(const struct cmd *self, const char *name, const char *given, const char *allowed)
{
	char shown[64];

	snprintf(shown, sizeof shown, "%s%s", name ? "--" : "", name ? name : given);
	fprintf(stderr, "consentctl %s: %s is not an option of %s (it takes:", self->name, shown, self->name);
	for (const char *p = allowed; *p; p += strcspn(p, ","), p += *p == ',')
		fprintf(stderr, "%s --%.*s", p == allowed ? "" : ",", (int)strcspn(p, ","), p);
	fputs(")\n", stderr);
	return 2;
}

/* One option's value; 0, or 2 (usage) with the reason printed. */
static int set_opt(const struct cmd *self, struct opts *o, int opt, const char *arg)
{
	const char *me = self->name;
	char *end = NULL;
	long k;

	switch (opt) {
	case 'i': o->consent_id = arg; return 0;
	case 'd': o->database = arg; return 0;
	case 'o': o->output = arg; return 0;
	case 't': o->to = arg; return 0;
	case 'K': o->keys = arg; return 0;
	case 'H': o->head = arg; return 0;
	case 'F':
		if (!valid_day(arg))
			return fprintf(stderr, "consentctl %s: --from: '%s' is not a day (YYYY-MM-DD)\n", me, arg), 2;
		o->from = arg;
		return 0;
	case 'S':
		if (strlen(arg) != CG_SUBJECT_LEN || strspn(arg, "0123456789abcdef") != CG_SUBJECT_LEN)
			return fprintf(stderr, "consentctl %s: --subject: 64 lower-case hex digits, as in consent_events\n", me), 2;
		o->subject = arg;
		return 0;
	case 'r': o->dry_run = 1; return 0;
	case 's':
		if (!valid_day(arg))
			return fprintf(stderr, "consentctl %s: --since: '%s' is not a day (YYYY-MM-DD)\n", me, arg), 2;
		o->since = arg;
		return 0;
	case 'n': {
		char day[11];
		snprintf(day, sizeof day, "%s", arg);
		if (cg_time_parse(arg, &o->now_ms) != CG_OK || !valid_day(day))
			return fprintf(stderr, "consentctl %s: --now: '%s' is not a time like 2026-01-31T12:00:00.000Z\n",
			               me, arg), 2;
		o->now = arg;
		return 0;
	}
	case 'f':
		o->format = cg_format_parse(arg);
		if (o->format < 0 || (o->format == CG_FMT_HTML && strcmp(me, "report") != 0))
			return fprintf(stderr, "consentctl %s: --format: '%s' is not one of table, csv, json%s\n",
			               me, arg, strcmp(me, "report") == 0 ? ", html" : ""), 2;
		return 0;
	case 'b':
		o->period = cg_period_parse(arg);
		if (o->period < 0)
			return fprintf(stderr, "consentctl %s: --by: '%s' is not one of day, week, month\n", me, arg), 2;
		return 0;
	case 'k':
		k = strtol(arg, &end, 10);
		if (!*arg || *end || k < 1 || k > 1000000)
			return fprintf(stderr, "consentctl %s: --k: '%s' is not a whole number from 1 to 1000000\n",
			               me, arg), 2;
		o->k = (int)k;
		return 0;
	}
	return 2;
}

/* Parses the options named in `allowed` (long names, comma-separated). */
static int parse_opts(const struct cmd *self, int argc, char **argv, const char *allowed,
                      struct opts *o, int default_format)
{
	int opt, idx = 0;

	memset(o, 0, sizeof *o);
	o->format = default_format;
	o->now_ms = cg_cli_now_ms();
	o->k = -1;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:", all_options, &idx)) != -1) {
		const char *name = NULL;
		for (size_t i = 0; opt != '?' && all_options[i].name && !name; i++) /* -o is --output */
			name = all_options[i].val == opt ? all_options[i].name : NULL;
		if (opt == 'h') {
			fputs(self->usage, stdout);
			exit(0);
		}
		if (opt == '?' || !strstr(allowed, name))
			return not_an_option(self, name, argv[optind - 1], allowed);
		if (optarg && !*optarg) /* -o '' is no file and --to '' no database, not a default */
			return fprintf(stderr, "consentctl %s: --%s%s is empty\n", self->name, name, opt == 'o' ? " (-o)" : ""),
			       2;
		if (set_opt(self, o, opt, optarg) != 0)
			return 2;
	}
	o->rest = argv + optind;
	o->nrest = argc - optind;
	return 0;
}

int cg_cli_open(const struct cg_config *cfg, const char *database, int mode, struct cg_store_port *st,
                struct cg_store_reader **rd)
{
	struct cg_config c = *cfg;
	char err[512];

	if (database)
		snprintf(c.database, sizeof c.database, "%s", database);
	if (cg_store_port_open(&c, mode, st, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	if (rd && st->reader_open(st->ctx, rd) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read %s\n", c.backend == CG_BACKEND_SQLITE ? c.database : "the store");
		cg_store_port_close(st);
		return 1;
	}
	return 0;
}

void cg_cli_close(struct cg_store_port *st, struct cg_store_reader *rd)
{
	if (st->reader_free && rd)
		st->reader_free(rd);
	cg_store_port_close(st);
}

static int subject_of(const struct cmd *self, const struct opts *o, char subject[CG_SUBJECT_LEN + 1])
{
	if (o->subject && o->consent_id) {
		fprintf(stderr, "consentctl %s: --consent-id or --subject, not both\n", self->name);
		return 2;
	}
	if (o->subject) { /* erase --subject: the key itself */
		memcpy(subject, o->subject, CG_SUBJECT_LEN + 1);
		return 0;
	}
	if (!o->consent_id) {
		fprintf(stderr, "consentctl %s: --consent-id is required\n", self->name);
		return 2;
	}
	if (!cg_id_valid(o->consent_id, strlen(o->consent_id))) {
		fprintf(stderr, "consentctl %s: that is not a consent ID (22 characters of base64url)\n", self->name);
		return 2;
	}
	cg_id_subject(o->consent_id, subject);
	return 0;
}

/* ---- report ---------------------------------------------------------------- */

static int cmd_report(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_report rep = {0};
	struct cg_buf out;
	struct opts o;
	char since[CG_TIME_LEN + 1];
	int rc;

	if ((rc = parse_opts(self, argc, argv, "since,format,by,k,database,output,now", &o, CG_FMT_TABLE)))
		return rc;
	if (o.since)
		snprintf(since, sizeof since, "%s", o.since);
	else {
		cg_time_format(o.now_ms - 30 * CG_MS_PER_DAY, since);
		since[10] = '\0';
	}
	if (cg_cli_open(cfg, o.database, CG_STORE_READONLY, &st, &rd))
		return 1;
	cg_buf_init(&out, (size_t)256 << 20);
	rc = 1;
	if (st.report(rd, o.period, since, &rep) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the report\n");
		goto out;
	}
	cg_report_suppress(&rep, o.k > 0 ? o.k : cfg->report_min_visitors);
	{
		char title[CG_CFG_STR + 96], today[CG_TIME_LEN + 1];
		cg_time_format(o.now_ms, today);
		today[10] = '\0';
		snprintf(title, sizeof title, "Consent report: %s, %s to %s", cfg->site, since, today);
		rc = cg_report_render(&rep, o.format, title, &out);
	}
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: the report is too large\n");
		rc = 1;
		goto out;
	}
	if (o.output) { /* replaced in one step (outfile.h): a link there is replaced, not followed */
		char name[CG_OUT_NAME_MAX + 1], err[512];
		int dfd = -1;
		if ((rc = cg_out_path(o.output, &dfd, name, err, sizeof err)) == CG_OK)
			rc = cg_out_replace(dfd, name, 0666, out.p, out.len, err, sizeof err);
		if (rc != CG_OK)
			fprintf(stderr, "consentctl report: --output %s: %s\n", o.output, err);
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

static int export_like(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv,
                       int receipt)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_event *evs = NULL;
	struct cg_export_in in;
	struct opts o;
	char subject[CG_SUBJECT_LEN + 1];
	size_t n = 0;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "consent-id,database,now", &o, CG_FMT_JSON)) ||
	    (rc = subject_of(self, &o, subject)))
		return rc;
	if (cg_cli_open(cfg, o.database, CG_STORE_READONLY, &st, &rd))
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
	in.now_ms = o.now_ms;
	rc = cg_print_json(receipt ? cg_receipt_build(&in) : cg_cli_signed_export(cfg, cg_export_build(&in)));
	free(evs);
	return rc;
}

static int cmd_export(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	return export_like(self, cfg, argc, argv, 0);
}

static int cmd_receipt(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct opts o;
	int rc;

	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		return export_like(self, cfg, argc, argv, 1);
	if ((rc = parse_opts(self, argc - 1, argv + 1, "keys", &o, CG_FMT_TABLE)))
		return rc;
	if (o.nrest != 1)
		return fprintf(stderr, "consentctl receipt verify: one FILE (a receipt envelope or an export)\n"), 2;
	return cg_cli_receipt_verify(cfg, o.rest[0], o.keys);
}

static int cmd_keys(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(self, argc, argv, "", &o, CG_FMT_JSON);

	return rc ? rc : cg_cli_keys(cfg);
}

static int cmd_bundle(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	char subject[CG_SUBJECT_LEN + 1];
	struct opts o;
	int rc = parse_opts(self, argc, argv, "from,to,consent-id,output", &o, CG_FMT_JSON);

	if (rc || (o.consent_id && (rc = subject_of(self, &o, subject))))
		return rc;
	if (!o.from || !o.to || !o.output || o.nrest)
		return fprintf(stderr, "consentctl bundle: --from DAY --to DAY -o FILE.tar.gz are required\n"), 2;
	if (!valid_day(o.to))
		return fprintf(stderr, "consentctl bundle: --to: '%s' is not a day (YYYY-MM-DD)\n", o.to), 2;
	if (strcmp(o.from, o.to) > 0)
		return fprintf(stderr, "consentctl bundle: --to: a day not before --from\n"), 2;
	return cg_cli_bundle(&(struct cg_cli_bundle_opts){o.from, o.to, o.consent_id ? subject : NULL, o.output}, cfg);
}

static int cmd_banner(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	(void)self;
	(void)cfg;
	if (argc != 3)
		return fprintf(stderr, "consentctl banner: stamp DIR or id DIR\n"), 2;
	return cg_cli_banner(argv[1], argv[2]);
}

static int cmd_notice(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(self, argc, argv, "output", &o, CG_FMT_JSON);

	if (!rc && o.nrest && strcmp(o.rest[0], "show") == 0 && !o.output)
		return fprintf(stderr, "consentctl notice show: -o DIR is required (the directory to write the files "
		               "into)\n"), 2;
	return rc ? rc : cg_cli_notice(cfg, o.nrest ? o.rest[0] : "list", o.nrest > 1 ? o.rest[1] : NULL, o.output);
}

static int cmd_head(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(self, argc, argv, "", &o, CG_FMT_JSON);

	return rc ? rc : cg_cli_head(cfg, o.nrest ? o.rest[0] : "show");
}

/* ---- erase --------------------------------------------------------------------- */

static int cmd_erase(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_event ev, *evs = NULL;
	struct cg_outbox_row rows[CG_MAX_DESTINATIONS];
	struct cg_buf payloads[CG_MAX_DESTINATIONS];
	uint8_t key[CG_KEY_BYTES];
	struct opts o;
	char subject[CG_SUBJECT_LEN + 1];
	size_t n = 0, nrows = 0;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "consent-id,subject,database", &o, CG_FMT_TABLE)) ||
	    (rc = subject_of(self, &o, subject)))
		return rc;
	if (cg_cli_open(cfg, o.database, CG_STORE_WRITER, &st, &rd))
		return 1;
	rc = cg_store_subject_events(&st, rd, subject, &evs, &n);
	if (rc == CG_OK && n && evs[n - 1].action != CG_ACT_ERASE && (rc = st.client_key(st.ctx, key)) == CG_OK) {
		/* as POST /consent/erase: the tombstone, and a notice to each recipient */
		cg_event_tombstone(subject, cg_cli_now_ms(), &ev);
		nrows = cg_erasure_rows(cfg, key, subject, evs, n, cg_cli_now_ms(), rows, payloads, CG_MAX_DESTINATIONS);
		sodium_memzero(key, sizeof key);
		rc = cg_store_submit_wait(&st, &(struct cg_store_batch){.event = &ev, .rows = rows, .nrows = nrows});
		if (rc == CG_OK)
			printf("erased: personal fields of the subject's events cleared, queued analytics dropped, "
			       "tombstone consent_events.id = %lld, erasure notices queued for %zu recipients\n",
			       (long long)ev.id, nrows);
		for (size_t i = 0; i < nrows; i++)
			cg_buf_free(&payloads[i]);
	} else if (rc == CG_OK) {
		printf("nothing to erase: %s\n", n ? "already erased" : "no record for that consent ID");
	}
	free(evs);
	cg_cli_close(&st, rd);
	if (rc != CG_OK)
		fprintf(stderr, "consentctl: the erasure failed: %s\n", cg_strerror(rc));
	return rc == CG_OK ? 0 : 1;
}

/* ---- verify ----------------------------------------------------------------------- */

static int cmd_verify(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_verify v;
	struct opts o;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "database,head", &o, CG_FMT_TABLE)))
		return rc;
	if (o.head)
		return cg_cli_verify_head(cfg, o.head);
	if (cg_cli_open(cfg, o.database, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_cli_verify(&st, rd, &v);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the database\n");
		return 1;
	}
	return cg_cli_verify_print("", &v);
}

/* ---- purge ------------------------------------------------------------------------- */

static int cmd_purge(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct cg_store_port st = {0};
	struct cg_purge_counts c;
	struct opts o;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "dry-run,now,database", &o, CG_FMT_TABLE)))
		return rc;
	if (cg_cli_open(cfg, o.database, CG_STORE_WRITER, &st, NULL))
		return 1;
	rc = st.purge(st.ctx, cfg, o.now_ms, o.dry_run, &c);
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
	       o.dry_run ? "dry run: nothing changed; a purge now would change:" : "purged:",
	       cfg->ip_prefix_days, c.ip_prefixes_cleared, cfg->events_days_after_end, c.subjects_pruned,
	       c.events_pruned, cfg->outbox_delivered_days, c.outbox_deleted, c.outbox_expired, c.shown_deleted);
	return 0;
}

/* ---- migrate ---------------------------------------------------------------------------- */

/* Opening for writing creates the database or brings it to this build's
 * schema; doing it here lets an operator migrate (and time it) before
 * starting the new daemon. */
static int cmd_migrate(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	struct cg_store_port st = {0};
	struct opts o;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "database,to", &o, CG_FMT_TABLE)))
		return rc;
	if (o.to)
		return cg_cli_move(cfg, o.database, o.to);
	if (cg_cli_open(cfg, o.database, CG_STORE_WRITER, &st, NULL))
		return 1;
	cg_store_port_close(&st);
	printf("%s: the schema is this build's\n", o.database ? o.database
	       : cfg->backend == CG_BACKEND_SQLITE ? cfg->database : "[storage] url");
	return 0;
}

/* ---- outbox ---------------------------------------------------------------------------- */

static int cmd_outbox(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	static const char *const summary_h[] = {"destination", "state", "rows", "oldest", "newest"};
	static const char *const dead_h[] = {"id", "destination", "created_at", "attempts", "last_error"};
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct opts o;
	const char *action;
	int rc;

	if ((rc = parse_opts(self, argc, argv, "format,database", &o, CG_FMT_TABLE)))
		return rc;
	action = o.nrest ? o.rest[0] : "summary";
	if (strcmp(action, "summary") == 0 || strcmp(action, "dead") == 0) {
		int dead = strcmp(action, "dead") == 0;
		struct rows r = {o.format, dead ? dead_h : summary_h, 5, dead ? "n  n " : "  n  ", 0, NULL};
		if (cg_cli_open(cfg, o.database, CG_STORE_READONLY, &st, &rd))
			return 1;
		cg_rows_begin(&r);
		rc = st.outbox_rows(rd, action, cg_rows_add, &r);
		cg_rows_end(&r);
		cg_cli_close(&st, rd);
		return rc == CG_OK ? 0 : 1;
	}
	if (strcmp(action, "retry") == 0 || strcmp(action, "drop") == 0) {
		long long changed = 0;
		int64_t id = 0;
		if (o.nrest != 2) {
			fputs(self->usage, stderr);
			return 2;
		}
		if (strcmp(o.rest[1], "all") != 0) {
			char *end = NULL;
			id = strtoll(o.rest[1], &end, 10);
			if (!*o.rest[1] || *end || id <= 0) {
				fprintf(stderr, "consentctl outbox %s: ID is a row id or 'all'\n", action);
				return 2;
			}
		}
		if (cg_cli_open(cfg, o.database, CG_STORE_WRITER, &st, NULL))
			return 1;
		rc = st.outbox_set(st.ctx, id, strcmp(action, "retry") == 0, cg_cli_now_ms(), &changed);
		cg_store_port_close(&st);
		if (rc != CG_OK) {
			fprintf(stderr, "consentctl: %s\n", cg_strerror(rc));
			return 1;
		}
		printf("%lld row(s) %s\n", changed, strcmp(action, "retry") == 0 ? "queued again" : "dropped");
		return changed ? 0 : 3;
	}
	fprintf(stderr, "consentctl outbox: '%s' is not one of summary, dead, retry, drop\n", action);
	return 2;
}

static const struct cmd cmds[] = {
	{"report", "consent outcomes and grant rates, k-suppressed", cg_usage_report, cmd_report},
	{"export", "a visitor's register copy (access, portability), as JSON", cg_usage_export, cmd_export},
	{"receipt", "a visitor's consent receipt (ISO/IEC TS 27560, Kantara names)", cg_usage_receipt, cmd_receipt},
	{"keys", "every public key that signed receipts or heads in this log", cg_usage_keys, cmd_keys},
	{"head", "the newest signed chain head; sign one now", cg_usage_head, cmd_head},
	{"bundle", "one archive of the proof of a period, for a regulator", cg_usage_bundle, cmd_bundle},
	{"banner", "stamp a banner build with its id (no configuration needed)", cg_usage_banner, cmd_banner},
	{"notice", "the banner builds and privacy notices shown; their files", cg_usage_notice, cmd_notice},
	{"erase", "erase a visitor's personal data (keeps the chain verifiable)", cg_usage_erase, cmd_erase},
	{"verify", "check the hash chain of consent_events", cg_usage_verify, cmd_verify},
	{"purge", "apply [retention] now (the daemon does it daily)", cg_usage_purge, cmd_purge},
	{"migrate", "bring the database to this build's schema, or move it to PostgreSQL", cg_usage_migrate, cmd_migrate},
	{"outbox", "inspect the outbox; retry or drop dead letters", cg_usage_outbox, cmd_outbox},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: consentctl -c FILE <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'consentctl <subcommand> --help' describes one.\n");
}

/* -c FILE (or --config FILE) may stand anywhere: takes it out of argv and
 * returns the new argc */
static int take_config(int argc, char **argv, const char **cfg_path)
{
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			*cfg_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			*cfg_path = argv[i] + 9;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	struct cg_config cfg;
	const char *cfg_path = NULL;
	char err[512];
	int i;

	argc = take_config(argc, argv, &cfg_path);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("consentctl %s\n", CONSENTGATE_VERSION);
			return 0;
		}
		fprintf(stderr, "consentctl: %s is not an option before the subcommand (-c FILE, --help, --version)\n",
		        argv[i]);
		return 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < NCMDS; k++) {
		if (strcmp(cmds[k].name, argv[i]) != 0)
			continue;
		/* --help works without a configuration */
		for (int j = i + 1; j < argc; j++)
			if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
				fputs(cmds[k].usage, stdout);
				return 0;
			}
		if (!cfg_path && cmds[k].fn == cmd_banner) /* works on files alone */
			return cmd_banner(&cmds[k], NULL, argc - i, argv + i);
		if (!cfg_path) {
			fprintf(stderr, "consentctl %s: -c FILE is required (the daemon's configuration)\n", argv[i]);
			return 2;
		}
		if (cg_config_load(cfg_path, &cfg, err, sizeof err) != CG_OK) {
			fprintf(stderr, "consentctl: %s\n", err);
			return 1;
		}
		if (sodium_init() < 0) {
			fprintf(stderr, "consentctl: libsodium cannot start\n");
			return 1;
		}
		return cmds[k].fn(&cmds[k], &cfg, argc - i, argv + i);
	}
	fprintf(stderr, "consentctl: '%s' is not a subcommand\n", argv[i]);
	usage(stderr);
	return 2;
}
