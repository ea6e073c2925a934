/* consentctl's output: rows as an aligned table, CSV (RFC 4180) or JSON
 * (counts and ids as numbers), and whole JSON documents. */
#ifndef CONSENTGATE_CLI_ROWS_H
#define CONSENTGATE_CLI_ROWS_H

#include <jansson.h>

struct rows {
	int format;
	const char *const *headers;
	int ncols;
	const char *numeric;       /* per column: 'n' = a count or id (a JSON number) */
	int n;
	json_t *json;              /* JSON: the array; table: rows kept to align them */
};

void cg_rows_begin(struct rows *r);
/* a row of ncols cells; the signature of the store's row callbacks */
int cg_rows_add(void *arg, int ncols, const char *const *cols);
void cg_rows_end(struct rows *r);
/* prints j indented and releases it; 0 or 1 */
int cg_print_json(json_t *j);

#endif
