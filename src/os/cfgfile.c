#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/cfgfile.h"
#include "consentgate/err.h"

#ifndef CG_VENDOR_CATALOGUE
#define CG_VENDOR_CATALOGUE "/usr/share/consentgate/vendors.ini"
#endif

/* The vendor catalogue, read only when the file declares vendors. Its
 * installed path is the default in effect (consentgated -t -v prints it). */
static int config_vendors(const char *path, struct cg_config *cfg, char *err, size_t errlen)
{
	const char *cpath = cfg->vendor_catalogue;
	struct cg_catalogue *cat = NULL;
	char *text = NULL;
	size_t len;
	int rc;

	if (!cpath[0])
		snprintf(cfg->vendor_catalogue, sizeof cfg->vendor_catalogue, "%s", CG_VENDOR_CATALOGUE);
	if (cfg->n_vendors) {
		rc = cg_file_read(cpath, CG_CONFIG_FILE_MAX, &text, &len, err, errlen);
		if (rc == CG_OK && strlen(text) != len) {
			snprintf(err, errlen, "%s: contains a NUL byte", cpath);
			rc = CG_ERR_CONFIG;
		}
		if (rc == CG_OK && !(cat = malloc(sizeof *cat))) {
			snprintf(err, errlen, "%s: out of memory", cpath);
			rc = CG_ERR_CONFIG;
		}
		if (rc == CG_OK)
			rc = cg_catalogue_parse(text, cpath, cat, err, errlen);
		if (rc != CG_OK) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, " (the vendor catalogue: [vendors] catalogue)");
			goto out;
		}
	}
	rc = cg_config_vendors(cfg, cat, path, err, errlen);
out:
	free(cat);
	free(text);
	return rc;
}

int cg_config_load(const char *path, struct cg_config *cfg, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *text = NULL;
	size_t n;
	int rc = CG_ERR_CONFIG;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	text = malloc(CG_CONFIG_FILE_MAX + 1);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(text, 1, CG_CONFIG_FILE_MAX + 1, f);
	if (ferror(f) || n > CG_CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? "read error" : "file too large");
		goto out;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		goto out;
	}
	rc = cg_config_parse(text, path, cfg, err, errlen);
	if (rc == CG_OK)
		rc = config_vendors(path, cfg, err, errlen);
out:
	free(text);
	if (f)
		fclose(f);
	return rc;
}

int cg_file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");
	char *b = f ? malloc(max + 1) : NULL;

	*out = NULL;
	*len = b ? fread(b, 1, max + 1, f) : 0;
	if (f)
		fclose(f);
	if (!b || *len > max) {
		snprintf(err, errlen, "%s: %s", path, !f ? strerror(errno) : b ? "too large" : "out of memory");
		free(b);
		return CG_ERR_CONFIG;
	}
	b[*len] = '\0';
	*out = b;
	return CG_OK;
}
