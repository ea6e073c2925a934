/* consentctl: the analyst/operator CLI over the same core and store. The
 * command table (cmd.h) says what each command takes; here: -c FILE, the
 * global options, and which command runs. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/cfgfile.h"
#include "consentgate/err.h"
#include "cmd.h"

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

/* the options before the command: 0 to go on, else the exit status + 1 */
static int global_options(int argc, char **argv, int *i)
{
	for (*i = 1; *i < argc && argv[*i][0] == '-'; (*i)++) {
		if (strcmp(argv[*i], "-h") == 0 || strcmp(argv[*i], "--help") == 0) {
			cg_cmd_list(stdout);
			return 1;
		}
		if (strcmp(argv[*i], "-V") == 0 || strcmp(argv[*i], "--version") == 0) {
			printf("consentctl %s\n", CONSENTGATE_VERSION);
			return 1;
		}
		fprintf(stderr, "consentctl: %s is not an option before the subcommand (-c FILE, --help, --version)\n",
		        argv[*i]);
		return 3;
	}
	if (*i >= argc) {
		cg_cmd_list(stderr);
		return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct cg_cmd *c;
	struct cg_config cfg;
	struct cg_opts o;
	const char *cfg_path = NULL;
	char err[512];
	int i, words = 0, rc;

	argc = take_config(argc, argv, &cfg_path);
	if ((rc = global_options(argc, argv, &i)) != 0)
		return rc - 1;
	if (!(c = cg_cmd_find(argc - i, argv + i, &words))) {
		fprintf(stderr, "consentctl: '%s' is not a subcommand\n", argv[i]);
		cg_cmd_list(stderr);
		return 2;
	}
	/* the options first: --help and a bad option need no configuration */
	if ((rc = cg_cmd_parse(c, argc - i - words + 1, argv + i + words - 1, &o)) != 0)
		return rc == 1 ? 0 : rc;
	if (c->needs == CG_NEEDS_NOTHING)
		return c->fn(c, NULL, &o);
	if (!cfg_path) {
		fprintf(stderr, "consentctl %s: -c FILE is required (the daemon's configuration)\n", c->name);
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
	return c->fn(c, &cfg, &o);
}
