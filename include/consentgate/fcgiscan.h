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
	CG_FCGI_INVALID,        /* not FastCGI version 1, records out of order or of another
	                           request, or an ABORT_REQUEST (libfcgi would wait for more) */
};

/* Scans buf[0..len). On CG_FCGI_COMPLETE, *used (if not NULL) is the size
 * of the request's records. */
int cg_fcgi_scan(const uint8_t *buf, size_t len, size_t *used);

/* A request too large to take is answered without libfcgi (the daemon
 * never holds more of it than its limit) and its bytes thrown away. */

/* The request's id and whether its peer keeps the connection
 * (FCGI_KEEP_CONN), from the BEGIN_REQUEST record in buf[0..len) (after
 * any management records). 0, or -1 when buf does not hold that record
 * whole or the records before it are not FastCGI. */
int cg_fcgi_begin(const uint8_t *buf, size_t len, unsigned *id, int *keep);

/* The answer to request `id` as FastCGI records: text[0..len) (CGI
 * headers, a blank line, the body) as FCGI_STDOUT, the empty FCGI_STDOUT
 * record, FCGI_END_REQUEST (request complete, status 0). Its size, or 0
 * when it does not fit in cap. */
size_t cg_fcgi_answer(unsigned id, const char *text, size_t len, uint8_t *out, size_t cap);

/* A request read from its first byte and thrown away, a piece at a time,
 * never a byte past its end (its empty FCGI_STDIN record, or an
 * FCGI_ABORT_REQUEST): on a kept connection the next request follows.
 * Zero it to start. */
struct cg_fcgi_skip {
	uint8_t head[8];  /* the current record's header */
	size_t have;      /* bytes of head read */
	size_t left;      /* its content and padding still to come */
	int last;         /* the current record ends the request */
};
/* How many bytes to read next: never past the request's end. */
size_t cg_fcgi_skip_want(const struct cg_fcgi_skip *s);
/* Takes the n bytes read (n <= cg_fcgi_skip_want): CG_FCGI_COMPLETE once
 * the request's last byte is in, CG_FCGI_INCOMPLETE before, CG_FCGI_INVALID
 * for a record that is not FastCGI version 1. */
int cg_fcgi_skip(struct cg_fcgi_skip *s, size_t n, const uint8_t *p);

#endif
