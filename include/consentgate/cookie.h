/* Cookie request header parsing (RFC 6265 section 4.2). Pure. */
#ifndef CONSENTGATE_COOKIE_H
#define CONSENTGATE_COOKIE_H

#include <stddef.h>

#define CG_COOKIE_HEADER_MAX 8192

/* Finds cookie `name` in `header`. On CG_OK, *val and *len point into header
 * (quotes removed). CG_ERR_NOT_FOUND if absent, CG_ERR_DUPLICATE if the name
 * appears twice, CG_ERR_TOO_LONG if header exceeds CG_COOKIE_HEADER_MAX,
 * CG_ERR_INVALID if that cookie's value has characters outside cookie-octet. */
int cg_cookie_find(const char *header, const char *name,
                   const char **val, size_t *len);

/* Of n Cookie header lines (nginx 1.22 passes each as its own param), the
 * one that holds cookie `name` (else the first; NULL if n is 0), and whether
 * `name` appears more than once across all of them: only a repeated cookie
 * of that name is a conflict, other cookies in other lines are not. */
const char *cg_cookie_pick(const char *const *headers, size_t n, const char *name, int *dup);

#endif
