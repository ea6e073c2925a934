/* consentctl_mdoc: writes the COMMANDS section of consentctl(1) from the
 * command table, the same one consentctl parses and prints --help from.
 * Run by the build target consentctl_page (which puts it into
 * docs/man/consentctl.1) and by the test that the page in the repository is
 * what the table says. */
#include <stdio.h>

#include "cmd.h"

int main(void)
{
	cg_cmd_mdoc(stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
