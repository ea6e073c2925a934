/* libFuzzer: configuration text (operators make typos too), read both as
 * the daemon's file and as a vendor catalogue, and the site's vendors
 * completed from that catalogue. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/config.h"
#include "consentgate/err.h"
#include "consentgate/vendor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cg_config cfg;
	static struct cg_catalogue cat;
	char err[512];
	int cat_ok;
	char *t = malloc(size + 1);

	if (!t)
		return 0;
	memcpy(t, data, size);
	t[size] = '\0';
	cat_ok = cg_catalogue_parse(t, "vendors.ini", &cat, err, sizeof err) == CG_OK;
	if (cg_config_parse(t, "fuzz.ini", &cfg, err, sizeof err) == CG_OK)
		cg_config_vendors(&cfg, cat_ok ? &cat : NULL, "fuzz.ini", err, sizeof err);
	free(t);
	return 0;
}
