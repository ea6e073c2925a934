/* libFuzzer: REMOTE_ADDR text, truncation and formatting. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = malloc(size + 1);
	struct cg_ip ip;
	char out[CG_IP_PREFIX_MAX];

	if (!t)
		return 0;
	memcpy(t, data, size);
	t[size] = '\0';
	if (cg_ip_parse(t, &ip) == 0)
		for (unsigned b = 0; b <= 130; b += 13)
			cg_ip_prefix(&ip, b, b, out);
	free(t);
	return 0;
}
