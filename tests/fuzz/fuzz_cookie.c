/* libFuzzer: the Cookie header and consent IDs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/cookie.h"
#include "consentgate/id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = malloc(size + 1);
	const char *v;
	size_t n;

	if (!h)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';
	if (cg_cookie_find(h, "__Host-cg_id", &v, &n) == 0)
		cg_id_valid(v, n);
	cg_cookie_find(h, "cg_id", &v, &n);
	free(h);
	return 0;
}
