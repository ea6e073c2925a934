/* libFuzzer: the FastCGI record scanner the daemon runs on peeked bytes,
 * and what it runs on a request too large to take (its BEGIN_REQUEST, the
 * skipper fed the bytes in the pieces it asks for). The input is copied
 * to a buffer of its exact size, so ASan catches any read past the end; a
 * complete request is at least two records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/fcgiscan.h"

/* A request called whole is one libfcgi reads to its end without waiting
 * for more: from its BEGIN_REQUEST on, every record is of that request and
 * none is an ABORT_REQUEST (libfcgi would read past either). */
static void check_whole(const uint8_t *b, size_t used)
{
	unsigned req = 0;

	for (size_t off = 0; off + 8 <= used; off += 8 + ((size_t)b[off + 4] << 8 | b[off + 5]) + b[off + 6]) {
		unsigned id = (unsigned)b[off + 2] << 8 | b[off + 3];
		if (b[off + 1] == 1)
			req = id;
		else if (req && (id != req || b[off + 1] == 2))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	size_t used = 0;
	struct cg_fcgi_skip skip;
	unsigned id;
	int keep;

	if (!b)
		return 0;
	memcpy(b, data, size);
	if (cg_fcgi_scan(b, size, &used) == CG_FCGI_COMPLETE) {
		if (used > size || used < 16)
			abort();
		check_whole(b, used);
	}
	if (cg_fcgi_begin(b, size, &id, &keep) == 0 && (id > 0xffff || (keep != 0 && keep != 1)))
		abort();
	memset(&skip, 0, sizeof skip);
	for (size_t off = 0; off < size;) {
		size_t want = cg_fcgi_skip_want(&skip), n = want < size - off ? want : size - off;
		int r;

		if (want == 0)
			abort(); /* it would never get to the end */
		r = cg_fcgi_skip(&skip, n, b + off);
		off += n;
		if (r != CG_FCGI_INCOMPLETE)
			break;
	}
	free(b);
	return 0;
}
