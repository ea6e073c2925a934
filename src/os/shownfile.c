#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentgate/cfgfile.h"
#include "consentgate/config.h"
#include "consentgate/err.h"
#include "consentgate/outfile.h"
#include "consentgate/shownfile.h"

static const char *const build_files[] = {"banner.css", "banner.js"};

static int read_build(const char *dir, struct cg_shown *out, char embedded[CG_BUILD_ID_LEN + 1], char *err,
                      size_t errlen)
{
	char path[CG_CFG_STR + 64];
	char *b;
	int rc;

	memset(out, 0, sizeof *out);
	out->kind = CG_SHOWN_BANNER;
	for (size_t i = 0; i < sizeof build_files / sizeof build_files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, build_files[i]);
		if ((rc = cg_file_read(path, CG_SHOWN_FILE_MAX, &b, &out->files[i].len, err, errlen)) != CG_OK) {
			cg_shown_release(out);
			return rc;
		}
		out->files[i].bytes = (const uint8_t *)b;
		snprintf(out->files[i].name, sizeof out->files[i].name, "%s", build_files[i]);
		out->nfiles++;
	}
	if (cg_banner_build_id(out->files, out->nfiles, out->id, embedded) != CG_OK || !embedded[0]) {
		snprintf(err, errlen, "%s/banner.js: has no build id field (\"" CG_BUILD_FIELD "...\")", dir);
		cg_shown_release(out);
		return CG_ERR_CONFIG;
	}
	return CG_OK;
}

int cg_shown_load_banner(const char *dir, struct cg_shown *out, char *err, size_t errlen)
{
	char embedded[CG_BUILD_ID_LEN + 1];
	int rc = read_build(dir, out, embedded, err, errlen);

	if (rc == CG_OK && strcmp(embedded, out->id) != 0) {
		snprintf(err, errlen, "%s/banner.js carries build id %s, but the build's files hash to %s (edited, or "
		         "not stamped): run consentctl banner stamp %s", dir, embedded, out->id, dir);
		cg_shown_release(out);
		return CG_ERR_CONFIG;
	}
	return rc;
}

int cg_shown_load_notice(const char *path, const char *policy_version, struct cg_shown *out, char *err,
                         size_t errlen)
{
	const char *base = strrchr(path, '/');
	char *b;
	int rc;

	memset(out, 0, sizeof *out);
	out->kind = CG_SHOWN_NOTICE;
	base = base ? base + 1 : path;
	if (!cg_shown_name_valid(base)) { /* the name consentctl notice show writes it under */
		snprintf(err, errlen, "%s: the file's name must be 1-%d of A-Z a-z 0-9 . _ + - (not starting with . or -)",
		         path, CG_SHOWN_NAME_MAX);
		return CG_ERR_CONFIG;
	}
	if ((rc = cg_file_read(path, CG_SHOWN_FILE_MAX, &b, &out->files[0].len, err, errlen)) != CG_OK)
		return rc;
	out->files[0].bytes = (const uint8_t *)b;
	out->nfiles = 1;
	snprintf(out->files[0].name, sizeof out->files[0].name, "%s", base);
	snprintf(out->label, sizeof out->label, "%s", policy_version);
	cg_notice_id(&out->files[0], out->id);
	return CG_OK;
}

void cg_shown_release(struct cg_shown *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		free((void *)(uintptr_t)s->files[i].bytes);
	s->nfiles = 0;
}

int cg_shown_stamp(const char *dir, char id[CG_BUILD_ID_LEN + 1], char *err, size_t errlen)
{
	struct cg_shown b;
	char embedded[CG_BUILD_ID_LEN + 1], why[512];
	struct stat st = {0};
	int rc = read_build(dir, &b, embedded, err, errlen), dfd = -1;
	const struct cg_shown_file *js = NULL;

	if (rc != CG_OK)
		return rc;
	for (size_t i = 0; i < b.nfiles; i++)
		js = strcmp(b.files[i].name, "banner.js") == 0 ? &b.files[i] : js;
	if (!js) { /* read_build always reads it */
		cg_shown_release(&b);
		return CG_ERR_INVALID;
	}
	memcpy(id, b.id, CG_BUILD_ID_LEN + 1);
	cg_banner_stamp((uint8_t *)(uintptr_t)js->bytes, js->len, id);
	/* the new banner.js is written beside the old and renamed over it: a
	 * link at either name is replaced or refused, never written through */
	rc = cg_out_dir(dir, &dfd, why, sizeof why);
	if (rc == CG_OK && fstatat(dfd, "banner.js", &st, 0) != 0) {
		snprintf(why, sizeof why, "banner.js: %s", strerror(errno));
		rc = CG_ERR_IO;
	}
	if (rc == CG_OK)
		rc = cg_out_replace(dfd, "banner.js", st.st_mode & 0777, js->bytes, js->len, why, sizeof why);
	if (rc != CG_OK)
		snprintf(err, errlen, "%s: cannot write: %s", dir, why);
	if (dfd >= 0)
		close(dfd);
	cg_shown_release(&b);
	return rc;
}
