/* Files consentctl writes, safe against what may already lie in the
 * directory: every file is created relative to a directory opened once
 * (openat), under a name of one path component, never through a symbolic
 * link and never over a file it did not create itself (O_CREAT | O_EXCL |
 * O_NOFOLLOW). A replacement is written under a temporary name and renamed
 * over the old file, so a link at the target is replaced, not followed.
 * The directory itself, as the operator names it, may be reached through
 * links: that path is theirs.
 *
 * Every call returns CG_OK or an error (CG_ERR_INVALID, CG_ERR_IO, ...)
 * with err naming the file and the reason. The caller owns dfd and every
 * fd handed out (and closes them). */
#ifndef CONSENTGATE_OUTFILE_H
#define CONSENTGATE_OUTFILE_H

#include <stddef.h>
#include <sys/types.h>

#define CG_OUT_NAME_MAX 255 /* one path component, as Linux allows */

/* dir, opened for the calls below; "" is refused (it is no directory). */
int cg_out_dir(const char *dir, int *dfd, char *err, size_t errlen);
/* A path's directory, opened, and its last component in name: "" and
 * paths ending in '/', "." or ".." are refused (they name no file). */
int cg_out_path(const char *path, int *dfd, char name[CG_OUT_NAME_MAX + 1], char *err, size_t errlen);
/* A new file name in dfd, opened for writing: CG_ERR_DUPLICATE (err:
 * "exists already") whatever lies there, a symbolic link or a dangling one
 * too. */
int cg_out_create(int dfd, const char *name, mode_t mode, int *fd, char *err, size_t errlen);
/* A file with no name in dfd, read-write, gone once closed (O_TMPFILE; on a
 * file system without it, a new name made with cg_out_create and removed at
 * once). For data too large to hold in memory. */
int cg_out_scratch(int dfd, int *fd, char *err, size_t errlen);

/* All len bytes to fd: 0, or -1 with errno saying why (a short write is
 * followed by another, which tells: ENOSPC for a full disk). */
int cg_out_write(int fd, const void *p, size_t len);

/* name in dfd replaced by the len bytes at p, as one step: written to
 * ".NAME.tmp" (created as by cg_out_create: one left by an interrupted run,
 * or planted, is refused, naming it, so two runs never mix), fsync'd, then
 * renamed over name (a link there is replaced, never followed). On failure
 * name is left as it was and the temporary file is gone. */
int cg_out_replace(int dfd, const char *name, mode_t mode, const void *p, size_t len, char *err, size_t errlen);

#endif
