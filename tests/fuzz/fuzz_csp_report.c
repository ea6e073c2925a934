/* libFuzzer: CSP violation reports (POST /consent/csp-report) of both
 * kinds, against a configuration with vendors whose hosts the blocked
 * URLs are matched with; every leak read must hold a plain host name or a
 * vendor, a directive of the policy and a plain first path segment. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/config.h"
#include "consentgate/cspreport.h"
#include "consentgate/err.h"

#define VENDOR(n, c, h) \
	"[vendor." n "]\ncategory = " c "\nhosts = " h "\ncookies = c\nstorage = s\nrecipient = R\n" \
	"country = NO\nsource = https://r.example/\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cg_config cfg;
	static int ready;
	struct cg_leak out[CG_LEAKS_PER_BODY];
	char err[256];
	size_t n;

	if (!ready) {
		const char *ini = "[server]\nsite = f.example\n[policy]\nversion = 1\n"
			VENDOR("stats", "statistics", "https://*.stats.example https://cdn.shared.example/x/")
			VENDOR("ads", "marketing", "ads.example wss://*.ads.example:8443");
		if (cg_config_parse(ini, "f.ini", &cfg, err, sizeof err) != CG_OK ||
		    cg_config_vendors(&cfg, NULL, "f.ini", err, sizeof err) != CG_OK)
			abort();
		ready = 1;
	}
	for (int kind = CG_REPORT_URI; kind <= CG_REPORT_TO; kind++) {
		if (cg_leak_parse(&cfg, kind, (const char *)data, size, out, CG_LEAKS_PER_BODY, &n) != CG_OK)
			continue;
		if (n > CG_LEAKS_PER_BODY)
			abort();
		for (size_t i = 0; i < n; i++) {
			const struct cg_leak *l = &out[i];
			if (l->vendor >= cfg.n_vendors || (l->vendor < 0 && !cg_leak_host_valid(l->host)) ||
			    l->directive < 0 || l->directive >= CG_NLD || l->path[0] != '/' ||
			    strspn(l->path + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-") !=
			        strlen(l->path + 1))
				abort();
		}
	}
	return 0;
}
