/* The command table's machinery (cmd.h): options, the parser, --help and
 * the manual page's COMMANDS section, all from cg_cmds[]. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/id.h"
#include "consentgate/report.h"
#include "consentgate/timefmt.h"
#include "cli.h"
#include "cmd.h"

/* Every option consentctl knows: its long name, its short one (or 0) and
 * whether it takes a value. Which command takes which is the table's. */
static const struct {
	const char *name;
	char short_name;
	int has_arg;
} opt_defs[CG_NOPTS] = {
	[CG_OPT_CONSENT_ID] = {"consent-id", 0, 1}, [CG_OPT_SUBJECT] = {"subject", 0, 1},
	[CG_OPT_DATABASE] = {"database", 0, 1},     [CG_OPT_SINCE] = {"since", 0, 1},
	[CG_OPT_NOW] = {"now", 0, 1},               [CG_OPT_FORMAT] = {"format", 0, 1},
	[CG_OPT_BY] = {"by", 0, 1},                 [CG_OPT_K] = {"k", 0, 1},
	[CG_OPT_OUTPUT] = {"output", 'o', 1},       [CG_OPT_DRY_RUN] = {"dry-run", 0, 0},
	[CG_OPT_TO] = {"to", 0, 1},                 [CG_OPT_KEYS] = {"keys", 0, 1},
	[CG_OPT_HEAD] = {"head", 0, 1},             [CG_OPT_FROM] = {"from", 0, 1},
	[CG_OPT_MIN_RETENTION_DAYS] = {"min-retention-days", 0, 1}, [CG_OPT_LEAKS] = {"leaks", 0, 0},
};
#define HELP_VAL 1000 /* getopt's value for --help; option ids are below it */

const struct cg_cmd *cg_cmd_find(int argc, char **argv, int *words)
{
	const struct cg_cmd *best = NULL;

	for (size_t i = 0; i < cg_ncmds; i++) {
		const char *n = cg_cmds[i].name, *sp = strchr(n, ' ');
		int w = sp ? 2 : 1;
		if (argc < w || strncmp(argv[0], n, sp ? (size_t)(sp - n) : strlen(n) + 1) != 0 ||
		    (sp && (strlen(argv[0]) != (size_t)(sp - n) || strcmp(argv[1], sp + 1) != 0)))
			continue;
		if (!best || w > *words) {
			best = &cg_cmds[i];
			*words = w;
		}
	}
	return best;
}

static const struct cg_cmd_opt *takes(const struct cg_cmd *c, enum cg_opt_id id)
{
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++)
		if (d->id == id)
			return d;
	return NULL;
}

/* "consentctl verify: --since is not an option of verify (it takes:
 * --database, --head)" */
static int not_an_option(const struct cg_cmd *c, const char *given)
{
	char shown[64];
	size_t n = strcspn(given, "=");

	snprintf(shown, sizeof shown, "%.*s", (int)(n < 60 ? n : 60), given);
	fprintf(stderr, "consentctl %s: %s is not an option of %s (it takes:", c->name, shown, c->name);
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++)
		fprintf(stderr, "%s --%s", d == c->opts ? "" : ",", opt_defs[d->id].name);
	fputs(c->opts[0].id == CG_OPT_END ? " no options)\n" : ")\n", stderr);
	return 2;
}

/* a day that exists (2026-02-30 does not) */
static int valid_day(const char *s)
{
	int64_t ms;

	return cg_day_parse(s, &ms) == CG_OK;
}

/* 1 if v is one of "a|b|c" */
static int in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; *p; p += strcspn(p, "|"), p += *p == '|')
		if (strcspn(p, "|") == n && strncmp(p, v, n) == 0)
			return 1;
	return 0;
}

static int bad(const struct cg_cmd *c, const char *opt, const char *arg, const char *what)
{
	fprintf(stderr, "consentctl %s: --%s: '%s' is not %s\n", c->name, opt, arg, what);
	return 2;
}

/* a whole number from lo to hi into *out: 0, or -1 */
static int whole(const char *arg, long lo, long hi, int *out)
{
	char *end = NULL;
	long k = strtol(arg, &end, 10);

	if (!*arg || *end || k < lo || k > hi)
		return -1;
	*out = (int)k;
	return 0;
}

/* One option's value; 0, or 2 (usage) with the reason printed. */
static int set_opt(const struct cg_cmd *c, struct cg_opts *o, const struct cg_cmd_opt *d, const char *arg)
{
	const char *name = opt_defs[d->id].name;

	/* a value the table shows as a day is one */
	if (d->arg && strcmp(d->arg, "YYYY-MM-DD") == 0 && !valid_day(arg))
		return bad(c, name, arg, "a day (YYYY-MM-DD)");
	switch (d->id) {
	case CG_OPT_CONSENT_ID: o->consent_id = arg; return 0;
	case CG_OPT_DATABASE: o->database = arg; return 0;
	case CG_OPT_OUTPUT: o->output = arg; return 0;
	case CG_OPT_TO: o->to = arg; return 0;
	case CG_OPT_KEYS: o->keys = arg; return 0;
	case CG_OPT_HEAD: o->head = arg; return 0;
	case CG_OPT_DRY_RUN: o->dry_run = 1; return 0;
	case CG_OPT_LEAKS: o->leaks = 1; return 0;
	case CG_OPT_FROM: o->from = arg; return 0;
	case CG_OPT_SINCE: o->since = arg; return 0;
	case CG_OPT_SUBJECT:
		if (strlen(arg) != CG_SUBJECT_LEN || strspn(arg, "0123456789abcdef") != CG_SUBJECT_LEN)
			return fprintf(stderr, "consentctl %s: --subject: 64 lower-case hex digits, as in consent_events\n",
			               c->name), 2;
		o->subject = arg;
		return 0;
	case CG_OPT_NOW: {
		char day[11];
		snprintf(day, sizeof day, "%s", arg);
		if (cg_time_parse(arg, &o->now_ms) != CG_OK || !valid_day(day))
			return bad(c, name, arg, "a time like 2026-01-31T12:00:00.000Z");
		o->now = arg;
		return 0;
	}
	case CG_OPT_FORMAT: /* one of the values the command's entry shows */
		o->format = cg_format_parse(arg);
		if (o->format < 0 || !in_choices(d->arg, arg)) {
			fprintf(stderr, "consentctl %s: --format: '%s' is not one of ", c->name, arg);
			for (const char *p = d->arg; *p; p++)
				fputs(*p == '|' ? ", " : (char[2]){*p, 0}, stderr);
			fputc('\n', stderr);
			return 2;
		}
		return 0;
	case CG_OPT_BY:
		o->period = cg_period_parse(arg);
		return o->period < 0 ? bad(c, name, arg, "one of day, week, month") : 0;
	case CG_OPT_K:
		return whole(arg, 1, 1000000, &o->k) ? bad(c, name, arg, "a whole number from 1 to 1000000") : 0;
	case CG_OPT_MIN_RETENTION_DAYS:
		return whole(arg, 0, 36500, &o->min_retention_days)
		           ? bad(c, name, arg, "a whole number of days from 0 to 36500") : 0;
	default:
		return 2;
	}
}

static void opt_text(const struct cg_cmd_opt *d, int both, char *out, size_t n);

static int check_given(const struct cg_cmd *c, const int given[CG_NOPTS])
{
	int n_one_of = 0, one_of = 0;
	char t[128];

	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++) {
		if ((d->flags & CG_OPT_REQUIRED) && !given[d->id]) { /* "-o DIR is required" */
			opt_text(d, 0, t, sizeof t);
			return fprintf(stderr, "consentctl %s: %s is required\n", c->name, t), 2;
		}
		n_one_of += (d->flags & CG_OPT_ONE_OF) != 0;
		one_of += (d->flags & CG_OPT_ONE_OF) && given[d->id];
	}
	if (n_one_of && one_of != 1) { /* "--consent-id or --subject, not both" */
		fprintf(stderr, "consentctl %s:", c->name);
		for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++)
			if (d->flags & CG_OPT_ONE_OF)
				fprintf(stderr, " %s--%s", n_one_of-- == 1 ? "or " : "", opt_defs[d->id].name);
		fputs(one_of ? ", not both\n" : " is required\n", stderr);
		return 2;
	}
	return 0;
}

/* getopt_long takes "--k" for "--keys"; an option is what the table names,
 * so only a name written out in full is one. The option just parsed is
 * argv[optind - 1], or argv[optind - 2] when its value was the next word. */
static int spelled_out(char **argv, int opt, const struct option *lo)
{
	const char *t = argv[optind - (optarg && optarg == argv[optind - 1] ? 2 : 1)];
	size_t n;

	if (t[0] != '-' || t[1] != '-')
		return 1;
	n = strcspn(t + 2, "=");
	for (; lo->name; lo++)
		if (lo->val == opt)
			return strlen(lo->name) == n && strncmp(lo->name, t + 2, n) == 0;
	return 0;
}

int cg_cmd_parse(const struct cg_cmd *c, int argc, char **argv, struct cg_opts *o)
{
	struct option lo[CG_CMD_MAX_OPTS + 2];
	const struct cg_cmd_opt *d;
	int given[CG_NOPTS] = {0}, n = 0, opt;

	memset(o, 0, sizeof *o);
	o->format = CG_FMT_TABLE;
	o->now_ms = cg_cli_now_ms();
	o->k = -1;
	o->min_retention_days = -1;
	for (d = c->opts; d->id != CG_OPT_END; d++)
		lo[n++] = (struct option){opt_defs[d->id].name, opt_defs[d->id].has_arg ? required_argument : no_argument,
		                          NULL, (int)d->id};
	lo[n++] = (struct option){"help", no_argument, NULL, HELP_VAL};
	lo[n] = (struct option){NULL, 0, NULL, 0};
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, takes(c, CG_OPT_OUTPUT) ? ":ho:" : ":h", lo, NULL)) != -1) {
		if (opt != '?' && opt != ':' && !spelled_out(argv, opt, lo))
			return not_an_option(c, argv[optind - (optarg && optarg == argv[optind - 1] ? 2 : 1)]);
		if (opt == 'h' || opt == HELP_VAL) {
			cg_cmd_help(c, stdout);
			return 1;
		}
		if (opt == ':')
			return fprintf(stderr, "consentctl %s: %s needs a value\n", c->name, argv[optind - 1]), 2;
		if (opt == '?')
			return not_an_option(c, optopt ? (char[3]){'-', (char)optopt, 0} : argv[optind - 1]);
		d = takes(c, opt == 'o' ? CG_OPT_OUTPUT : (enum cg_opt_id)opt);
		if (!d)
			return not_an_option(c, argv[optind - 1]);
		given[d->id] = 1;
		if (optarg && !*optarg) /* -o '' is no file and --to '' no database, not a default */
			return fprintf(stderr, "consentctl %s: --%s%s is empty\n", c->name, opt_defs[d->id].name,
			               opt_defs[d->id].short_name ? " (-o)" : ""), 2;
		if (set_opt(c, o, d, optarg) != 0)
			return 2;
	}
	o->rest = argv + optind;
	o->nrest = argc - optind;
	return check_given(c, given);
}

/* ---- help ------------------------------------------------------------------- */

/* "--by day|week|month", "-o FILE", "--dry-run" */
static void opt_text(const struct cg_cmd_opt *d, int both, char *out, size_t n)
{
	char s = opt_defs[d->id].short_name;

	if (s && both)
		snprintf(out, n, "-%c, --%s%s%s", s, opt_defs[d->id].name, d->arg ? " " : "", d->arg ? d->arg : "");
	else if (s)
		snprintf(out, n, "-%c%s%s", s, d->arg ? " " : "", d->arg ? d->arg : "");
	else
		snprintf(out, n, "--%s%s%s", opt_defs[d->id].name, d->arg ? " " : "", d->arg ? d->arg : "");
}

void cg_cmd_help(const struct cg_cmd *c, FILE *f)
{
	char t[128];

	fprintf(f, "usage: consentctl %s%s%s%s", c->needs == CG_NEEDS_CONFIG ? "-c FILE " : "", c->name,
	        c->args ? " " : "", c->args ? c->args : "");
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++) {
		opt_text(d, 0, t, sizeof t);
		if (d->flags & CG_OPT_ONE_OF)
			fprintf(f, "%s%s", d > c->opts && (d[-1].flags & CG_OPT_ONE_OF) ? " | " : " ", t);
		else if (d->flags & CG_OPT_REQUIRED)
			fprintf(f, " %s", t);
		else
			fprintf(f, " [%s]", t);
	}
	fputc('\n', f);
	for (const char *p = c->help; *p; p += strcspn(p, "\n"), p += *p == '\n')
		fprintf(f, "  %.*s\n", (int)strcspn(p, "\n"), p);
	if (c->opts[0].id != CG_OPT_END)
		fputs("options:\n", f);
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++) {
		opt_text(d, 1, t, sizeof t);
		if (strlen(t) > 22)
			fprintf(f, "  %s\n%26s%s\n", t, "", d->help);
		else
			fprintf(f, "  %-22s  %s\n", t, d->help);
	}
	if (c->needs == CG_NEEDS_NOTHING)
		fputs("needs no configuration (-c FILE)\n", f);
}

void cg_cmd_list(FILE *f)
{
	fprintf(f, "usage: consentctl -c FILE <subcommand> [options] [arguments]\n\nsubcommands:\n");
	for (size_t i = 0; i < cg_ncmds; i++)
		fprintf(f, "  %-15s %s\n", cg_cmds[i].name, cg_cmds[i].summary);
	fprintf(f, "\n'consentctl <subcommand> --help' describes one; -c FILE may stand anywhere.\n");
}

/* ---- the manual page's COMMANDS section (mdoc) ------------------------------ */

/* A value as usage shows it, in mdoc: "day|week|month" -> "Cm day | Cm week |
 * Cm month"; upper-case words are metavariables: "ID" -> "Ar id",
 * "FILE.tar.gz" -> "Ar file.tar.gz", "YYYY-MM-DD" stays. */
static void mdoc_value(FILE *f, const char *v, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = strcspn(v + i, "|");
		size_t caps = 0;
		n = n < len - i ? n : len - i;
		while (caps < n && isupper((unsigned char)v[i + caps]))
			caps++;
		fprintf(f, "%s%s ", i ? " | " : "", isupper((unsigned char)v[i]) ? "Ar" : "Cm");
		for (size_t k = 0; k < n; k++)
			fputc(k < caps && (caps == n || v[i + caps] == '.') ? tolower((unsigned char)v[i + k]) : v[i + k], f);
		i += n + (i + n < len);
	}
}

/* positional arguments: "[summary|dead]" -> .Op Cm summary | Cm dead */
static void mdoc_args(FILE *f, const char *a)
{
	while (a && *a) {
		size_t n = strcspn(a, " ");
		int opt = a[0] == '[' && a[n - 1] == ']';
		fputs(opt ? ".Op " : ".", f);
		mdoc_value(f, a + opt, n - 2 * (size_t)opt);
		fputc('\n', f);
		a += n + (a[n] == ' ');
	}
}

/* ".Fl -by Cm day | Cm week | Cm month" (synopsis: -o FILE; list: both) */
static void mdoc_opt(FILE *f, const struct cg_cmd_opt *d, int both)
{
	char s = opt_defs[d->id].short_name;

	if (s && both)
		fprintf(f, "Fl %c , Fl -%s", s, opt_defs[d->id].name);
	else if (s)
		fprintf(f, "Fl %c", s);
	else
		fprintf(f, "Fl -%s", opt_defs[d->id].name);
	if (d->arg) {
		fputc(' ', f);
		mdoc_value(f, d->arg, strlen(d->arg));
	}
}

/* Text lines: the help's own lines, each new sentence on a new line
 * (mandoc's style), no line starting with a control character, backslashes
 * escaped. */
static void mdoc_text(FILE *f, const char *t)
{
	int at_start = 1;

	for (const char *p = t; *p; p++) {
		char ch = *p;
		if (ch == '\n' && !at_start) {
			fputc('\n', f);
			at_start = 1;
		}
		if (at_start && (ch == ' ' || ch == '\n'))
			continue;
		if (at_start && (ch == '.' || ch == '\''))
			fputs("\\&", f);
		at_start = 0;
		if (ch == '\\')
			fputs("\\e", f);
		else if (ch == ' ' && p > t && strchr(".?!", p[-1]) && p[1] && p[1] != '\n') {
			fputc('\n', f);
			at_start = 1;
		} else
			fputc(ch, f);
	}
	fputc('\n', f);
}

static void mdoc_cmd(FILE *f, const struct cg_cmd *c)
{
	fprintf(f, ".It Xo\n.Cm %s\n", c->name);
	mdoc_args(f, c->args);
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++) {
		int group = d->flags & CG_OPT_ONE_OF, next = d[1].id != CG_OPT_END && (d[1].flags & CG_OPT_ONE_OF);
		int prev = d > c->opts && (d[-1].flags & CG_OPT_ONE_OF);
		if (group && prev)
			fputs(" | ", f);
		else
			fputs(!(d->flags & (CG_OPT_REQUIRED | CG_OPT_ONE_OF)) ? ".Op " : ".", f);
		mdoc_opt(f, d, 0);
		if (!(group && next))
			fputc('\n', f);
	}
	fputs(".Xc\n", f);
	mdoc_text(f, c->help);
	if (c->needs == CG_NEEDS_NOTHING)
		fputs("Needs no configuration.\n", f);
	if (c->opts[0].id == CG_OPT_END)
		return;
	fputs(".Bl -tag -width Ds\n", f);
	for (const struct cg_cmd_opt *d = c->opts; d->id != CG_OPT_END; d++) {
		fputs(".It ", f);
		mdoc_opt(f, d, 1);
		fputc('\n', f);
		mdoc_text(f, d->help);
	}
	fputs(".El\n", f);
}

void cg_cmd_mdoc(FILE *f)
{
	fputs(".Sh COMMANDS\n"
	      ".\\\" Generated from consentctl's command table (src/cli/consentctl.c) by\n"
	      ".\\\" consentctl_mdoc: edit the table, then cmake --build BUILD --target consentctl_page.\n"
	      ".Bl -tag -width Ds\n", f);
	for (size_t i = 0; i < cg_ncmds; i++)
		mdoc_cmd(f, &cg_cmds[i]);
	fputs(".El\n", f);
}
