/* consentctl banner stamp|id DIR, notice list|show ID -o DIR: what was
 * shown (shown.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/outfile.h"
#include "consentgate/shownfile.h"
#include "consentgate/timefmt.h"
#include "cli.h"
#include "rows.h"

int cg_cli_banner(const char *action, const char *dir)
{
	struct cg_shown b;
	char id[CG_BUILD_ID_LEN + 1], err[512];

	if (strcmp(action, "stamp") == 0) {
		if (cg_shown_stamp(dir, id, err, sizeof err) != CG_OK) {
			fprintf(stderr, "consentctl banner stamp: %s\n", err);
			return 1;
		}
		printf("%s\n", id);
		return 0;
	}
	if (strcmp(action, "id") != 0) {
		fprintf(stderr, "consentctl banner: '%s' is not one of stamp, id\n", action);
		return 2;
	}
	if (cg_shown_load_banner(dir, &b, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl banner id: %s\n", err);
		return 1;
	}
	printf("%s\n", b.id);
	cg_shown_release(&b);
	return 0;
}

static int list_one(void *arg, const struct cg_shown_row *s)
{
	json_t *a = arg, *files = json_array();
	char first[CG_TIME_LEN + 1], retired[CG_TIME_LEN + 1];

	cg_time_format(s->first_ms, first);
	cg_time_format(s->retired_ms, retired);
	for (size_t i = 0; i < s->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s, s:s}", "name", s->names[i], "sha256", s->hashes[i]));
	json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:s, s:o, s:o}", "id", s->id,
		"kind", cg_shown_kind_name(s->kind),
		"policy_version", s->label[0] ? json_string(s->label) : json_null(), "first_served", first,
		"retired", s->retired_ms ? json_string(retired) : json_null(), "files", files));
	return CG_OK;
}

int cg_cli_shown_row_ok(const char *me, const struct cg_shown_row *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		/* read from the database, so checked as hostile: never echoed */
		const char *why = !cg_shown_name_valid(s->names[i]) ? "a name that is not a plain file name"
		                  : !cg_shown_hash_valid(s->hashes[i]) ? "a hash that is not a SHA-256" : NULL;
		if (why) {
			fprintf(stderr, "consentctl %s: the store gives file %zu of %s %s; nothing is written from it "
			        "(names: 1-%d of A-Z a-z 0-9 . _ + -; hashes: 64 hex digits)\n", me, i + 1,
			        cg_shown_hash_valid(s->id) || cg_build_id_valid(s->id) ? s->id : "a build or notice", why,
			        CG_SHOWN_NAME_MAX);
			return 0;
		}
	}
	return 1;
}

/* each file of a build or notice, byte for byte, into dir: created there
 * (outfile.h), never over a file or through a link */
static int write_out(struct cg_store_port *st, struct cg_store_reader *rd, const struct cg_shown_row *s,
                     int dfd, const char *dir)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		struct cg_buf b;
		char err[512];
		int fd = -1, ok = 0;
		cg_buf_init(&b, CG_SHOWN_FILE_MAX + 1);
		if (st->artefact(rd, s->hashes[i], &b) != CG_OK) {
			fprintf(stderr, "consentctl notice show: the bytes of %s (%s) are not in the store\n", s->names[i],
			        s->hashes[i]);
			cg_buf_free(&b);
			return 1;
		}
		if (cg_out_create(dfd, s->names[i], 0644, &fd, err, sizeof err) == CG_OK) {
			ok = cg_out_write(fd, b.p ? b.p : "", b.len) == 0;
			ok = close(fd) == 0 && ok;
			if (!ok) { /* a file cut short is no copy: it goes (it is ours, made just now) */
				snprintf(err, sizeof err, "%s: %s", s->names[i], strerror(errno));
				unlinkat(dfd, s->names[i], 0);
			}
		}
		cg_buf_free(&b);
		if (!ok) {
			fprintf(stderr, "consentctl notice show: %s/%s\n", dir, err);
			return 1;
		}
		printf("%s  %s/%s\n", s->hashes[i], dir, s->names[i]);
	}
	return 0;
}

static int take_row(void *arg, const struct cg_shown_row *s)
{
	*(struct cg_shown_row *)arg = *s;
	return CG_OK;
}

int cg_cli_notice(const struct cg_config *cfg, const char *action, const char *id, const char *dir)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	struct cg_shown_row row = {0};
	json_t *a;
	int rc;

	if (strcmp(action, "list") != 0 && (strcmp(action, "show") != 0 || !id || !dir)) {
		fprintf(stderr, "consentctl notice: list, or show ID -o DIR\n");
		return 2;
	}
	if (cg_cli_open(cfg, NULL, CG_STORE_READONLY, &st, &rd))
		return 1;
	if (strcmp(action, "list") == 0) {
		a = json_array();
		rc = st.each_shown(rd, NULL, list_one, a) == CG_OK ? cg_print_json(json_pack("{s:o}", "shown", a)) : 1;
	} else if (st.each_shown(rd, id, take_row, &row) != CG_OK || !row.id[0]) {
		fprintf(stderr, "consentctl notice show: no banner build, notice or vendor list %s\n", id);
		rc = 3;
	} else if (!cg_cli_shown_row_ok("notice show", &row)) {
		rc = 1;
	} else {
		int dfd = -1;
		char err[512];
		if (cg_out_dir(dir, &dfd, err, sizeof err) != CG_OK)
			fprintf(stderr, "consentctl notice show: -o %s\n", err);
		rc = dfd < 0 ? 1 : write_out(&st, rd, &row, dfd, dir);
		if (dfd >= 0)
			close(dfd);
	}
	cg_cli_close(&st, rd);
	return rc;
}
