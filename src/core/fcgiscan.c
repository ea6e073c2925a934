#include "consentgate/fcgiscan.h"

#include <string.h>

/* record types (FastCGI 1.0 spec §8) */
enum { BEGIN_REQUEST = 1, ABORT_REQUEST = 2, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6, DATA = 8,
       GET_VALUES = 9 };
enum { HEADER = 8, KEEP_CONN = 1, MAX_CONTENT = 65535 };

/* COMPLETE must mean that libfcgi, reading these bytes, gets to the
 * request's end without waiting for more: the connection is then served
 * on the loop's thread, and libfcgi reads with no timeout. So a record of
 * another request (libfcgi skips it and reads on) and an ABORT_REQUEST
 * (libfcgi reads on past it, or takes it for the end of the params and
 * then waits for the body) are invalid; nginx sends neither. */
int cg_fcgi_scan(const uint8_t *buf, size_t len, size_t *used)
{
	int begun = 0, params_done = 0;
	unsigned req = 0;
	size_t off = 0;

	while (len - off >= 8) {
		const uint8_t *h = buf + off;
		unsigned type = h[1], id = (unsigned)h[2] << 8 | h[3];
		size_t rec = 8 + ((size_t)h[4] << 8 | h[5]) + h[6];
		int empty = h[4] == 0 && h[5] == 0;

		if (h[0] != 1)
			return CG_FCGI_INVALID;
		if (id == 0) {
			/* management records (GET_VALUES) come before a request */
			if (type != GET_VALUES || begun)
				return CG_FCGI_INVALID;
		} else if (type == BEGIN_REQUEST) {
			if (begun)
				return CG_FCGI_INVALID;
			begun = 1;
			req = id;
		} else if (!begun || id != req) {
			return CG_FCGI_INVALID;
		} else if (type == PARAMS) {
			if (params_done)
				return CG_FCGI_INVALID;
			params_done = empty;
		} else if (type == STDIN) {
			if (!params_done)
				return CG_FCGI_INVALID;
			if (empty && len - off >= rec) {
				if (used)
					*used = off + rec;
				return CG_FCGI_COMPLETE;
			}
		} else if (type != DATA) {
			return CG_FCGI_INVALID;
		}
		if (len - off < rec)
			return CG_FCGI_INCOMPLETE;
		off += rec;
	}
	return CG_FCGI_INCOMPLETE;
}

int cg_fcgi_begin(const uint8_t *buf, size_t len, unsigned *id, int *keep)
{
	size_t off = 0;

	while (len - off >= HEADER) {
		const uint8_t *h = buf + off;
		size_t clen = (size_t)h[4] << 8 | h[5];

		if (h[0] != 1)
			return -1;
		if (h[1] == BEGIN_REQUEST) {
			if (clen < 8 || len - off < HEADER + 8)
				return -1;
			*id = (unsigned)h[2] << 8 | h[3];
			*keep = (h[HEADER + 2] & KEEP_CONN) != 0;
			return 0;
		}
		off += HEADER + clen + h[6];
		if (off > len)
			return -1;
	}
	return -1;
}

static void header(uint8_t *p, int type, unsigned id, size_t clen)
{
	p[0] = 1;
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(id >> 8);
	p[3] = (uint8_t)id;
	p[4] = (uint8_t)(clen >> 8);
	p[5] = (uint8_t)clen;
	p[6] = 0; /* no padding */
	p[7] = 0;
}

size_t cg_fcgi_answer(unsigned id, const char *text, size_t len, uint8_t *out, size_t cap)
{
	size_t records = (len + MAX_CONTENT - 1) / MAX_CONTENT, need = len + (records + 2) * HEADER + 8, off = 0;

	if (need > cap || need < len)
		return 0;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < MAX_CONTENT ? len - done : MAX_CONTENT;
		header(out + off, STDOUT, id, n);
		memcpy(out + off + HEADER, text + done, n);
		off += HEADER + n;
		done += n;
	}
	header(out + off, STDOUT, id, 0);
	off += HEADER;
	header(out + off, END_REQUEST, id, 8);
	memset(out + off + HEADER, 0, 8); /* appStatus 0, FCGI_REQUEST_COMPLETE */
	return off + HEADER + 8;
}

size_t cg_fcgi_skip_want(const struct cg_fcgi_skip *s)
{
	return s->have < HEADER ? HEADER - s->have : s->left;
}

int cg_fcgi_skip(struct cg_fcgi_skip *s, size_t n, const uint8_t *p)
{
	if (s->have < HEADER) {
		memcpy(s->head + s->have, p, n);
		s->have += n;
		if (s->have < HEADER)
			return CG_FCGI_INCOMPLETE;
		if (s->head[0] != 1)
			return CG_FCGI_INVALID;
		s->left = ((size_t)s->head[4] << 8 | s->head[5]) + s->head[6];
		s->last = (s->head[1] == STDIN && s->head[4] == 0 && s->head[5] == 0) || s->head[1] == ABORT_REQUEST;
	} else {
		s->left -= n;
	}
	if (s->left > 0)
		return CG_FCGI_INCOMPLETE;
	s->have = 0; /* the next record's header */
	return s->last ? CG_FCGI_COMPLETE : CG_FCGI_INCOMPLETE;
}
