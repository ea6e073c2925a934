/* Reading the configuration file (I/O shell around cg_config_parse). */
#ifndef CONSENTGATE_CFGFILE_H
#define CONSENTGATE_CFGFILE_H

#include <stddef.h>
#include "consentgate/config.h"

#define CG_CONFIG_FILE_MAX (256 * 1024)

int cg_config_load(const char *path, struct cg_config *cfg, char *err, size_t errlen);

#endif
