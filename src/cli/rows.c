#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/report.h"
#include "rows.h"



static void csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
}

static void csv_row(int ncols, const char *const *cols)
{
	for (int i = 0; i < ncols; i++) {
		fputs(i ? "," : "", stdout);
		csv_field(cols[i]);
	}
	fputs("\r\n", stdout);
}

void cg_rows_begin(struct rows *r)
{
	r->json = json_array();
	if (r->format == CG_FMT_CSV)
		csv_row(r->ncols, r->headers);
}

int cg_rows_add(void *arg, int ncols, const char *const *cols)
{
	struct rows *r = arg;
	json_t *row = r->format == CG_FMT_JSON ? json_object() : json_array();

	r->n++;
	if (r->format == CG_FMT_CSV) {
		csv_row(ncols < r->ncols ? ncols : r->ncols, cols);
		json_decref(row);
		return 0;
	}
	for (int i = 0; i < ncols && i < r->ncols; i++) {
		char *end = NULL;
		long long v = strtoll(cols[i], &end, 10);
		if (r->format == CG_FMT_JSON)
			json_object_set_new(row, r->headers[i], r->numeric[i] == 'n' && *cols[i] && !*end
			                                                ? json_integer(v) : json_string(cols[i]));
		else
			json_array_append_new(row, json_string(cols[i]));
	}
	json_array_append_new(r->json, row);
	return 0;
}

/* A table: every column as wide as its widest cell (numbers to the right). */
static void print_table(const struct rows *r)
{
	size_t w[16] = {0}, i;
	json_t *row;

	for (int c = 0; c < r->ncols && c < 16; c++)
		w[c] = strlen(r->headers[c]);
	json_array_foreach(r->json, i, row)
		for (int c = 0; c < r->ncols && c < 16; c++) {
			size_t l = strlen(json_string_value(json_array_get(row, (size_t)c)));
			if (l > w[c])
				w[c] = l;
		}
	for (int c = 0; c < r->ncols && c < 16; c++)
		printf("%s%-*s", c ? "  " : "", c == r->ncols - 1 ? 0 : (int)w[c], r->headers[c]);
	putchar('\n');
	json_array_foreach(r->json, i, row) {
		for (int c = 0; c < r->ncols && c < 16; c++) {
			const char *v = json_string_value(json_array_get(row, (size_t)c));
			if (r->numeric[c] == 'n')
				printf("%s%*s", c ? "  " : "", (int)w[c], v);
			else
				printf("%s%-*s", c ? "  " : "", c == r->ncols - 1 ? 0 : (int)w[c], v);
		}
		putchar('\n');
	}
}

void cg_rows_end(struct rows *r)
{
	if (r->format == CG_FMT_JSON) {
		json_dumpf(r->json, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (r->format == CG_FMT_TABLE) {
		print_table(r);
	}
	json_decref(r->json);
}

int cg_print_json(json_t *j)
{
	int rc = json_dumpf(j, stdout, JSON_INDENT(2));

	putchar('\n');
	json_decref(j);
	return rc ? 1 : 0;
}

