/* Reading the configuration file (I/O shell around cg_config_parse). */
#ifndef CONSENTGATE_CFGFILE_H
#define CONSENTGATE_CFGFILE_H

#include <stddef.h>
#include "consentgate/config.h"

#define CG_CONFIG_FILE_MAX (256 * 1024)

int cg_config_load(const char *path, struct cg_config *cfg, char *err, size_t errlen);

/* A whole file of at most max bytes: *out malloc'd (caller frees),
 * NUL-terminated after *len bytes. CG_ERR_CONFIG with err naming the path
 * when it cannot be read or is larger. */
int cg_file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

#endif
