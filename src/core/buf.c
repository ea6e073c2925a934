#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/buf.h"
#include "consentgate/err.h"

#ifdef CG_BUF_TINY
/* the truncation test's build: every cap clamped to what the test sets
 * (tests/unit/test_truncation.c) */
extern size_t CG_BUF_TINY;
#endif

void cg_buf_init(struct cg_buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
#ifdef CG_BUF_TINY
	if (b->max > CG_BUF_TINY)
		b->max = CG_BUF_TINY;
#endif
}

static int cg_buf_reserve(struct cg_buf *b, size_t extra)
{
	size_t need, ncap;
	char *np;

	if (extra > b->max || b->len > b->max - extra)
		return CG_ERR_TOO_LONG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return CG_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np)
		return CG_ERR_NOMEM;
	b->p = np;
	b->cap = ncap;
	return CG_OK;
}

int cg_buf_add(struct cg_buf *b, const void *data, size_t n)
{
	int rc = cg_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return CG_OK;
}

int cg_buf_adds(struct cg_buf *b, const char *s)
{
	return cg_buf_add(b, s, strlen(s));
}

/* One pass when the text fits what is allocated (the common case), a
 * second once the buffer has grown to its length. */
int cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (b->p)
			b->p[b->len] = '\0';
		return CG_ERR_INVALID;
	}
	if ((size_t)n < room && b->len + (size_t)n <= b->max) {
		b->len += (size_t)n;
		return CG_OK;
	}
	rc = cg_buf_reserve(b, (size_t)n);
	if (rc) {
		if (b->p)
			b->p[b->len] = '\0'; /* as it was */
		return rc;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CG_OK;
}

void cg_buf_reset(struct cg_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

char *cg_buf_take(struct cg_buf *b)
{
	char *p = b->p;

	cg_buf_init(b, b->max);
	return p;
}

void cg_buf_free(struct cg_buf *b)
{
	if (!b)
		return;
	free(b->p);
	cg_buf_init(b, b->max);
}

/* ---- JSON text, as jansson's compact output writes it ---------------------- */

int cg_buf_json_str(struct cg_buf *b, const char *s, size_t n)
{
	size_t run = 0;
	int bad = cg_buf_add(b, "\"", 1);

	for (size_t i = 0; i < n && !bad; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c != '"' && c != '\\' && c >= 0x20) {
			run++;
			continue;
		}
		bad |= cg_buf_add(b, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default: snprintf(esc, sizeof esc, "\\u%04x", c);
		}
		bad |= cg_buf_adds(b, esc);
	}
	return bad || cg_buf_add(b, s + n - run, run) || cg_buf_add(b, "\"", 1);
}

int cg_buf_json_key(struct cg_buf *b, int first, const char *key)
{
	return (!first && cg_buf_add(b, ",", 1)) || cg_buf_json_str(b, key, strlen(key)) || cg_buf_add(b, ":", 1);
}
