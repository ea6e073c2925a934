/* consentctl banner stamp|id DIR, notice list|show ID -o DIR: what was
 * shown (shown.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentgate/err.h"
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
		"kind", s->kind == CG_SHOWN_BANNER ? "banner" : "notice",
		"policy_version", s->label[0] ? json_string(s->label) : json_null(), "first_served", first,
		"retired", s->retired_ms ? json_string(retired) : json_null(), "files", files));
	return CG_OK;
}

/* each file of a build or notice, byte for byte, into dir (never over one) */
static int write_out(struct cg_store_port *st, struct cg_store_reader *rd, const struct cg_shown_row *s,
                     const char *dir)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		struct cg_buf b;
		char path[CG_CFG_STR + 80];
		int fd, ok;
		cg_buf_init(&b, CG_SHOWN_FILE_MAX + 1);
		if (st->artefact(rd, s->hashes[i], &b) != CG_OK) {
			fprintf(stderr, "consentctl notice show: the bytes of %s (%s) are not in the store\n", s->names[i],
			        s->hashes[i]);
			cg_buf_free(&b);
			return 1;
		}
		snprintf(path, sizeof path, "%s/%s", dir, s->names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ok = fd >= 0 && write(fd, b.p ? b.p : "", b.len) == (ssize_t)b.len;
		if (fd >= 0)
			close(fd);
		cg_buf_free(&b);
		if (!ok) {
			fprintf(stderr, "consentctl notice show: %s: %s\n", path, strerror(errno));
			return 1;
		}
		printf("%s  %s\n", s->hashes[i], path);
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
		fprintf(stderr, "consentctl notice show: no banner build or notice %s\n", id);
		rc = 3;
	} else {
		rc = write_out(&st, rd, &row, dir);
	}
	cg_cli_close(&st, rd);
	return rc;
}
