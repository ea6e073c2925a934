#include <stdarg.h>
#include <stdio.h>

#include "consentgate/log.h"

void cg_log(const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* one fprintf per line so concurrent threads do not interleave */
	fprintf(stderr, "consentgate[%s]: %s\n", level, line);
}
