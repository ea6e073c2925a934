/* libFuzzer: configuration text (operators make typos too). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cg_config cfg;
	char err[512];
	char *t = malloc(size + 1);

	if (!t)
		return 0;
	memcpy(t, data, size);
	t[size] = '\0';
	cg_config_parse(t, "fuzz.ini", &cfg, err, sizeof err);
	free(t);
	return 0;
}
