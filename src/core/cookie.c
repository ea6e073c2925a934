#include <string.h>

#include "consentgate/cookie.h"
#include "consentgate/err.h"

/* cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static int cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

const char *cg_cookie_pick(const char *const *headers, size_t n, const char *name, int *dup)
{
	const char *pick = n ? headers[0] : NULL;
	int seen = 0;

	for (size_t i = 0; i < n; i++) {
		const char *v;
		size_t len;
		int rc = cg_cookie_find(headers[i], name, &v, &len);
		if (rc == CG_ERR_NOT_FOUND || rc == CG_ERR_TOO_LONG)
			continue; /* (a line too long to parse is never used for the id either) */
		seen += rc == CG_ERR_DUPLICATE ? 2 : 1;
		pick = headers[i];
	}
	*dup = seen > 1;
	return pick;
}

int cg_cookie_find(const char *header, const char *name,
                   const char **val, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = header;
	int found = 0;

	*val = NULL;
	*len = 0;
	if (!header)
		return CG_ERR_NOT_FOUND;
	if (strnlen(header, CG_COOKIE_HEADER_MAX + 1) > CG_COOKIE_HEADER_MAX)
		return CG_ERR_TOO_LONG;

	while (*p) {
		const char *k, *v, *end;
		size_t klen, vlen;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (!*p)
			break;
		k = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		klen = (size_t)(p - k);
		while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		if (*p != '=') /* a pair without '=' is ignored (RFC 6265 §5.2) */
			continue;
		v = ++p;
		while (*p && *p != ';')
			p++;
		end = p;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (klen != nlen || memcmp(k, name, nlen) != 0)
			continue;
		if (found)
			return CG_ERR_DUPLICATE;
		found = 1;
		vlen = (size_t)(end - v);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		for (size_t i = 0; i < vlen; i++)
			if (!cookie_octet((unsigned char)v[i]))
				return CG_ERR_INVALID;
		*val = v;
		*len = vlen;
	}
	return found ? CG_OK : CG_ERR_NOT_FOUND;
}
