/* A growable byte buffer with a hard cap (after curl's dynbuf): appends past
 * `max` fail with CG_ERR_TOO_LONG and leave the buffer as it was. The buffer
 * owns `p`; it is always NUL-terminated when non-NULL. */
#ifndef CONSENTGATE_BUF_H
#define CONSENTGATE_BUF_H

#include <stddef.h>

struct cg_buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
};

/* Every append says whether it fit: a caller that drops the answer would
 * send or store a truncated text as if whole (curl's dynbuf marks its
 * appends the same way). */
#define CG_BUF_CHECK __attribute__((warn_unused_result))

void cg_buf_init(struct cg_buf *b, size_t max);
CG_BUF_CHECK int cg_buf_add(struct cg_buf *b, const void *data, size_t n);
CG_BUF_CHECK int cg_buf_adds(struct cg_buf *b, const char *s);
CG_BUF_CHECK int cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cg_buf_reset(struct cg_buf *b);
/* Hands the storage to the caller (who frees it) and resets the buffer. */
char *cg_buf_take(struct cg_buf *b);
void cg_buf_free(struct cg_buf *b);

/* JSON written straight into the buffer, byte for byte as jansson's compact
 * output would be (but for lower-case hex in \u escapes — the same JSON
 * string): cheaper than a tree and json_dumps on the hot paths (the
 * state answer, forwarded payloads). Each returns non-zero once the buffer
 * refused an append (past its cap). A string of n bytes, quoted and escaped: */
CG_BUF_CHECK int cg_buf_json_str(struct cg_buf *b, const char *s, size_t n);
/* ,"key": (without the comma when first) */
CG_BUF_CHECK int cg_buf_json_key(struct cg_buf *b, int first, const char *key);

#endif
