/* libFuzzer: the FastCGI record scanner the daemon runs on peeked bytes.
 * The input is copied to a buffer of its exact size, so ASan catches any
 * read past the end; a complete request is at least two records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/fcgiscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	size_t used = 0;

	if (!b)
		return 0;
	memcpy(b, data, size);
	if (cg_fcgi_scan(b, size, &used) == CG_FCGI_COMPLETE && (used > size || used < 16))
		abort();
	free(b);
	return 0;
}
