/* What is shown, read from disk (I/O shell around shown.h): the banner
 * build in a directory (banner.js and banner.css, as nginx serves them) and
 * the privacy notice of a policy version. The files' bytes are malloc'd and
 * owned by the struct cg_shown (cg_shown_release). */
#ifndef CONSENTGATE_SHOWNFILE_H
#define CONSENTGATE_SHOWNFILE_H

#include <stddef.h>
#include "consentgate/shown.h"

#define CG_SHOWN_FILE_MAX (1024 * 1024)

/* The build in dir, its id computed; CG_ERR_CONFIG with err when a file is
 * missing, or when banner.js carries another id than its files hash to
 * (edited or not stamped: consentctl banner stamp DIR). */
int cg_shown_load_banner(const char *dir, struct cg_shown *out, char *err, size_t errlen);
/* The notice at path, registered under the file's name, which must be one
 * cg_shown_name_valid takes (CG_ERR_CONFIG naming the rule otherwise). */
int cg_shown_load_notice(const char *path, const char *policy_version, struct cg_shown *out, char *err,
                         size_t errlen);
void cg_shown_release(struct cg_shown *s);
/* Writes the build's id into dir/banner.js (atomically: a new file,
 * .banner.js.tmp, renamed over it; outfile.h); *id: the id. */
int cg_shown_stamp(const char *dir, char id[CG_BUILD_ID_LEN + 1], char *err, size_t errlen);

#endif
