/* Files consentctl writes (outfile.h): openat relative to the directory,
 * O_CREAT | O_EXCL | O_NOFOLLOW, renameat for replacements, O_TMPFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/outfile.h"

/* one path component: not empty, no '/', not "." or ".." */
static int name_ok(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int cg_out_dir(const char *dir, int *dfd, char *err, size_t errlen)
{
	*dfd = -1;
	if (!dir[0]) {
		snprintf(err, errlen, "an empty path names no directory");
		return CG_ERR_INVALID;
	}
	*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return CG_ERR_IO;
	}
	return CG_OK;
}

int cg_out_path(const char *path, int *dfd, char name[CG_OUT_NAME_MAX + 1], char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	char dir[4096];

	*dfd = -1;
	if (!name_ok(base) || strlen(base) > CG_OUT_NAME_MAX) {
		snprintf(err, errlen, "'%.200s' names no file", path);
		return CG_ERR_INVALID;
	}
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else {
		snprintf(err, errlen, "%.200s...: the path is too long", path);
		return CG_ERR_INVALID;
	}
	memcpy(name, base, strlen(base) + 1);
	return cg_out_dir(dir, dfd, err, errlen);
}

/* O_EXCL with O_CREAT fails on any existing entry, a symbolic link
 * (dangling or not) included; O_NOFOLLOW says so once more */
static int create_at(int dfd, const char *name, int access, mode_t mode, int *fd, char *err, size_t errlen)
{
	*fd = -1;
	if (!name_ok(name)) {
		snprintf(err, errlen, "'%.200s' is not a file name", name);
		return CG_ERR_INVALID;
	}
	*fd = openat(dfd, name, access | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (*fd < 0) {
		int exists = errno == EEXIST;
		snprintf(err, errlen, "%s: %s", name, exists ? "exists already" : strerror(errno));
		return exists ? CG_ERR_DUPLICATE : CG_ERR_IO;
	}
	return CG_OK;
}

int cg_out_create(int dfd, const char *name, mode_t mode, int *fd, char *err, size_t errlen)
{
	return create_at(dfd, name, O_WRONLY, mode, fd, err, errlen);
}

int cg_out_scratch(int dfd, int *fd, char *err, size_t errlen)
{
	char name[64];
	int rc;

	*fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd >= 0)
		return CG_OK;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		snprintf(err, errlen, "a temporary file: %s", strerror(errno));
		return CG_ERR_IO;
	}
	/* the descriptor is all that is needed: the name goes at once (the
	 * entry was created just now, so it is this file's) */
	snprintf(name, sizeof name, ".consentctl-scratch.%ld", (long)getpid());
	if ((rc = create_at(dfd, name, O_RDWR, 0600, fd, err, errlen)) == CG_OK)
		unlinkat(dfd, name, 0);
	return rc;
}

int cg_out_write(int fd, const void *p, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

int cg_out_replace(int dfd, const char *name, mode_t mode, const void *p, size_t len, char *err, size_t errlen)
{
	char tmp[CG_OUT_NAME_MAX + 7];
	int fd = -1, rc, ok;

	if (!name_ok(name) || strlen(name) > CG_OUT_NAME_MAX) {
		snprintf(err, errlen, "'%.200s' is not a file name", name);
		return CG_ERR_INVALID;
	}
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	if ((rc = cg_out_create(dfd, tmp, mode, &fd, err, errlen)) != CG_OK) {
		if (rc == CG_ERR_DUPLICATE) /* not ours: never removed */
			snprintf(err, errlen, "%s exists already (left by an interrupted run, or put there: it is not "
			         "written through; remove it and run again)", tmp);
		return rc;
	}
	ok = cg_out_write(fd, p, len) == 0 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || renameat(dfd, tmp, dfd, name) != 0) {
		snprintf(err, errlen, "%s: %s", ok ? name : tmp, strerror(errno));
		unlinkat(dfd, tmp, 0);
		return CG_ERR_IO;
	}
	fsync(dfd); /* the new entry, durable */
	return CG_OK;
}
