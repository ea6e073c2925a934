#include "consentgate/fcgiscan.h"

/* record types (FastCGI 1.0 spec §8) */
enum { BEGIN_REQUEST = 1, ABORT_REQUEST = 2, PARAMS = 4, STDIN = 5, DATA = 8, GET_VALUES = 9 };

int cg_fcgi_scan(const uint8_t *buf, size_t len, size_t *used)
{
	int begun = 0, params_done = 0;
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
		} else if (!begun) {
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
		} else if (type == ABORT_REQUEST) {
			if (len - off >= rec) { /* the peer gave up: libfcgi handles it */
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
