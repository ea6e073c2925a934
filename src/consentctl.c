/* consentctl: the analyst/operator CLI over the same core and store.
 * Subcommands live in one table; each has --help. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentgate/cfgfile.h"
#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/report.h"
#include "consentgate/store.h"
#include "consentgate/timefmt.h"

struct cmd {
	const char *name;
	const char *summary;
	const char *usage;
	int (*fn)(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv);
};

static int cmd_report(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv);
static int cmd_verify(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv);

static const struct cmd cmds[] = {
	{"report", "consent outcomes per day and country",
	 "usage: consentctl -c FILE report [--since YYYY-MM-DD] [--format table|csv|json]\n"
	 "  Outcomes (accept_all, reject_all, custom, withdraw) per day x country,\n"
	 "  from the consent_daily view. Default: the last 30 days, as a table.\n",
	 cmd_report},
	{"verify", "check the hash chain of consent_events",
	 "usage: consentctl -c FILE verify [--database PATH]\n"
	 "  Walks consent_events in id order and checks every row's digests and its\n"
	 "  link to the row before. Exit 0 when intact; otherwise 1, naming the first\n"
	 "  bad row. --database checks another file (e.g. a backup copy).\n",
	 cmd_verify},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: consentctl -c FILE <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'consentctl -c FILE <subcommand> --help' describes one.\n");
}

static int valid_day(const char *s)
{
	int64_t ms;
	char t[CG_TIME_LEN + 1];

	if (strlen(s) != 10)
		return 0;
	snprintf(t, sizeof t, "%sT00:00:00.000Z", s);
	return cg_time_parse(t, &ms) == CG_OK;
}

static int cmd_report(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cg_store *st = NULL;
	struct cg_store_reader *rd = NULL;
	struct cg_report rep = {0};
	struct cg_buf out;
	char since[CG_TIME_LEN + 1] = "", err[512];
	int format = CG_FMT_TABLE, opt, rc = 1;

	cg_buf_init(&out, (size_t)64 << 20);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!valid_day(optarg)) {
				fprintf(stderr, "consentctl report: --since wants YYYY-MM-DD\n");
				return 2;
			}
			snprintf(since, sizeof since, "%s", optarg);
			break;
		case 'f':
			format = cg_format_parse(optarg);
			if (format < 0) {
				fprintf(stderr, "consentctl report: --format is table, csv or json\n");
				return 2;
			}
			break;
		case 'h':
			fputs(self->usage, stdout);
			return 0;
		default:
			fputs(self->usage, stderr);
			return 2;
		}
	}
	if (!since[0]) {
		cg_time_format((int64_t)time(NULL) * 1000 - 30 * CG_MS_PER_DAY, since);
		since[10] = '\0';
	}
	if (cg_store_open(cfg, CG_STORE_READONLY, &st, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl: %s\n", err);
		goto out;
	}
	if (cg_store_reader_open(st, &rd) != CG_OK ||
	    cg_store_report_daily(rd, since, &rep) != CG_OK ||
	    cg_report_render(&rep, format, &out) != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the report from %s\n", cfg->database);
		goto out;
	}
	fwrite(out.p, 1, out.len, stdout);
	rc = 0;
out:
	cg_buf_free(&out);
	cg_report_free(&rep);
	cg_store_reader_free(rd);
	cg_store_close(st);
	return rc;
}

struct verify_ctx {
	char prev[CG_HEX_HASH_LEN + 1];
	long long rows;
	long long redacted;
	long long pruned;
	int64_t bad_id;
	int fault;
};

static int verify_row(void *arg, const struct cg_event *ev)
{
	struct verify_ctx *v = arg;
	int fault = ev->action < 0 ? cg_chain_check_link(ev, v->prev) : cg_chain_check(ev, v->prev);

	if (fault != CG_CHAIN_OK) {
		v->bad_id = ev->id;
		v->fault = fault;
		return 1;
	}
	v->rows++;
	if (ev->action < 0)
		v->pruned++;
	else if (!ev->salt[0])
		v->redacted++;
	memcpy(v->prev, ev->hash, sizeof v->prev);
	return 0;
}

static int cmd_verify(const struct cmd *self, const struct cg_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"database", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cg_config c = *cfg;
	struct cg_store *st = NULL;
	struct cg_store_reader *rd = NULL;
	struct verify_ctx v;
	char err[512];
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd')
			snprintf(c.database, sizeof c.database, "%s", optarg);
		else {
			fputs(self->usage, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	memset(&v, 0, sizeof v);
	strcpy(v.prev, CG_CHAIN_GENESIS);
	if (cg_store_open(&c, CG_STORE_READONLY, &st, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	rc = cg_store_reader_open(st, &rd);
	if (rc == CG_OK)
		rc = cg_store_each_event(rd, NULL, verify_row, &v);
	cg_store_reader_free(rd);
	cg_store_close(st);
	if (rc == 1) {
		printf("BROKEN at consent_events.id = %lld: %s (%lld rows before it verified)\n",
		       (long long)v.bad_id, cg_chain_fault_name(v.fault), v.rows);
		return 1;
	}
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: cannot read %s\n", c.database);
		return 1;
	}
	printf("OK: %lld rows verified (%lld redacted, %lld pruned by retention), chain head %s\n",
	       v.rows, v.redacted, v.pruned, v.prev);
	return 0;
}

int main(int argc, char **argv)
{
	struct cg_config cfg;
	const char *cfg_path = NULL;
	char err[512];
	int i = 1;

	/* global options come before the subcommand */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfg_path = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
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
			if (strcmp(argv[j], "--help") == 0) {
				fputs(cmds[k].usage, stdout);
				return 0;
			}
		if (!cfg_path) {
			fprintf(stderr, "consentctl: -c FILE is required\n");
			return 2;
		}
		if (cg_config_load(cfg_path, &cfg, err, sizeof err) != CG_OK) {
			fprintf(stderr, "consentctl: %s\n", err);
			return 1;
		}
		return cmds[k].fn(&cmds[k], &cfg, argc - i, argv + i);
	}
	fprintf(stderr, "consentctl: unknown subcommand '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
