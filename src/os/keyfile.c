#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/keyfile.h"
#include "consentgate/log.h"

#define SEED64_LEN sodium_base64_ENCODED_LEN(CG_SIGN_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL)

void cg_keyfile_path(const struct cg_config *cfg, char *out, size_t n)
{
	const char *state = getenv("STATE_DIRECTORY");
	size_t dirlen;

	if (cfg->key_file[0]) {
		snprintf(out, n, "%s", cfg->key_file);
	} else if (cfg->backend == CG_BACKEND_SQLITE) {
		snprintf(out, n, "%s.signing-key", cfg->database);
	} else if (state && *state == '/') {
		dirlen = strcspn(state, ":"); /* systemd lists several as a:b */
		snprintf(out, n, "%.*s/signing.key", (int)dirlen, state);
	} else {
		snprintf(out, n, "/var/lib/consentgate/signing.key");
	}
}

/* the new file and its directory entry are on disk before the key signs */
static int create_key(const char *path, char *err, size_t errlen)
{
	uint8_t seed[CG_SIGN_SEED_BYTES];
	char line[SEED64_LEN + 1], dir[CG_CFG_STR];
	int fd, dfd, ok;
	size_t len;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST) /* another process made it first: use theirs */
			return CG_OK;
		snprintf(err, errlen, "%s: cannot create the signing key: %s", path, strerror(errno));
		return CG_ERR_IO;
	}
	randombytes_buf(seed, sizeof seed);
	sodium_bin2base64(line, sizeof line - 1, seed, sizeof seed, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(seed, sizeof seed);
	len = strlen(line);
	line[len++] = '\n';
	ok = write(fd, line, len) == (ssize_t)len && fsync(fd) == 0;
	sodium_memzero(line, sizeof line);
	close(fd);
	snprintf(dir, sizeof dir, "%s", path);
	if (ok && (dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (!ok) {
		unlink(path);
		snprintf(err, errlen, "%s: cannot write the signing key", path);
		return CG_ERR_IO;
	}
	cg_info("signing: a new Ed25519 key was created in %s", path);
	return CG_OK;
}

static int read_key(int fd, const char *path, struct cg_signer *out, char *err, size_t errlen)
{
	uint8_t seed[CG_SIGN_SEED_BYTES];
	char line[SEED64_LEN + 8];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int rc = CG_ERR_CONFIG;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: the signing key is not a regular file", path);
		return CG_ERR_CONFIG;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: the signing key may be read or changed by others (mode %03o); "
		         "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		return CG_ERR_CONFIG;
	}
	n = read(fd, line, sizeof line - 1);
	if (n > 0) {
		line[n] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (sodium_base642bin(seed, sizeof seed, line, strlen(line), NULL, &got, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) == 0 && got == sizeof seed) {
			cg_signer_from_seed(seed, out);
			rc = CG_OK;
		}
	}
	if (rc != CG_OK)
		snprintf(err, errlen, "%s: not a signing key (one line: 32 bytes in base64)", path);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(line, sizeof line);
	return rc;
}

int cg_keyfile_load(const char *path, int create, struct cg_signer *out, char *err, size_t errlen)
{
	int fd, rc;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if ((rc = create_key(path, err, errlen)) != CG_OK)
			return rc;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot read the signing key: %s", path, strerror(errno));
		return CG_ERR_IO;
	}
	rc = read_key(fd, path, out, err, errlen);
	close(fd);
	return rc;
}
