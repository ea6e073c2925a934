/* consentctl's commands, declared once (after tmux's cmd_entry): each entry
 * names the command, its positional arguments, the options it takes (with
 * how usage shows their values and whether they are required), what it
 * needs (a configuration or nothing), its help text and the function that
 * runs it. One table drives the parser (an option a command does not
 * declare is refused, naming those it takes), `consentctl CMD --help`, and
 * the COMMANDS section of consentctl(1) (consentctl_mdoc writes it). */
#ifndef CONSENTGATE_CLI_CMD_H
#define CONSENTGATE_CLI_CMD_H

#include <stdint.h>
#include <stdio.h>
#include "consentgate/config.h"

enum cg_opt_id {
	CG_OPT_END = 0,   /* ends a command's list */
	CG_OPT_CONSENT_ID, CG_OPT_SUBJECT, CG_OPT_DATABASE, CG_OPT_SINCE, CG_OPT_NOW, CG_OPT_FORMAT,
	CG_OPT_BY, CG_OPT_K, CG_OPT_OUTPUT, CG_OPT_DRY_RUN, CG_OPT_TO, CG_OPT_KEYS, CG_OPT_HEAD, CG_OPT_FROM,
	CG_OPT_MIN_RETENTION_DAYS, CG_OPT_LEAKS,
	CG_NOPTS
};

#define CG_OPT_REQUIRED 1  /* must be given */
#define CG_OPT_ONE_OF 2    /* exactly one of the options so marked must be given */

struct cg_cmd_opt {
	enum cg_opt_id id;
	const char *arg;   /* the value as usage shows it: "YYYY-MM-DD", "table|csv|json"; NULL: a flag */
	int flags;         /* CG_OPT_REQUIRED, CG_OPT_ONE_OF */
	const char *help;  /* one line */
};

/* The values parsed (what a command's function reads). */
struct cg_opts {
	const char *consent_id, *subject, *database, *since, *now, *output, *to, *keys, *head, *from;
	int format, period, k, dry_run, leaks;
	int min_retention_days;   /* -1: not given */
	int64_t now_ms;
	char **rest;       /* the positional arguments */
	int nrest;
};

enum cg_needs { CG_NEEDS_CONFIG = 0, CG_NEEDS_NOTHING };

struct cg_cmd;
typedef int (*cg_cmd_fn)(const struct cg_cmd *self, const struct cg_config *cfg, const struct cg_opts *o);

#define CG_CMD_MAX_OPTS 10 /* with the zero entry that ends the list */
struct cg_cmd {
	const char *name;     /* one word, or two: "receipt verify" */
	const char *args;     /* the positional arguments as usage shows them, or NULL */
	const char *summary;  /* one line, for consentctl --help */
	const char *help;     /* what it does: lines of at most 76 characters */
	enum cg_needs needs;
	cg_cmd_fn fn;
	struct cg_cmd_opt opts[CG_CMD_MAX_OPTS];
};

/* consentctl.c: the table */
extern const struct cg_cmd cg_cmds[];
extern const size_t cg_ncmds;

/* The entry whose name is the longest match of argv[0], argv[0] argv[1];
 * *words: how many it took. NULL when none. */
const struct cg_cmd *cg_cmd_find(int argc, char **argv, int *words);
/* Parses argv (argv[0] is the command's last word) against c's options:
 * 0 when the command may run; 2 after printing why not (an option c does
 * not take, a bad value, a required one missing); 1 when --help was asked
 * for and printed (exit 0). */
int cg_cmd_parse(const struct cg_cmd *c, int argc, char **argv, struct cg_opts *o);
/* consentctl CMD --help */
void cg_cmd_help(const struct cg_cmd *c, FILE *f);
/* consentctl --help: every command's summary */
void cg_cmd_list(FILE *f);
/* the COMMANDS section of consentctl(1), in mdoc */
void cg_cmd_mdoc(FILE *f);

#endif
