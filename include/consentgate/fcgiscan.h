/* Is a whole FastCGI request in these bytes? Pure; owns nothing. The daemon
 * peeks at a new connection's socket buffer with it and hands the
 * connection to a worker only once the request has arrived in full, so a
 * slow or stalled peer never holds a worker (libfcgi reads with no
 * timeout). */
#ifndef CONSENTGATE_FCGISCAN_H
#define CONSENTGATE_FCGISCAN_H

#include <stddef.h>
#include <stdint.h>

enum cg_fcgi_scan {
	CG_FCGI_INCOMPLETE = 0, /* a valid beginning: more bytes are needed */
	CG_FCGI_COMPLETE,       /* BEGIN_REQUEST, PARAMS through its empty record, STDIN through its empty record */
	CG_FCGI_INVALID,        /* not FastCGI version 1, or records out of order */
};

/* Scans buf[0..len). On CG_FCGI_COMPLETE, *used (if not NULL) is the size
 * of the request's records. */
int cg_fcgi_scan(const uint8_t *buf, size_t len, size_t *used);

#endif
