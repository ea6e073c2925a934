#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/geo.h"
#include "consentgate/keyfile.h"
#include "consentgate/shownfile.h"
#include "consentgate/startup.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return CG_ERR_CONFIG; } while (0)

/* The directory a path lives in must exist and take new files. */
static int dir_ok(const char *path, const char *file, const char *what, char *err, size_t errlen)
{
	char copy[CG_CFG_STR];
	struct stat st;
	const char *dir;

	snprintf(copy, sizeof copy, "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) != 0)
		FAIL("%s: %s: directory %s: %s", file, what, dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		FAIL("%s: %s: %s is not a directory", file, what, dir);
	if (access(dir, W_OK | X_OK) != 0)
		FAIL("%s: %s: directory %s is not writable: %s", file, what, dir, strerror(errno));
	return CG_OK;
}

static int is_unix(const struct cg_config *cfg)
{
	return cfg->listen[0] == '/';
}

/* "host:port" or "[v6]:port" */
static int split_hostport(const char *l, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon = strrchr(l, ':');
	size_t n;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	n = (size_t)(colon - l);
	if (n >= 2 && l[0] == '[' && l[n - 1] == ']') {
		l++;
		n -= 2;
	}
	if (n == 0 || n >= hl || strlen(colon + 1) >= pl)
		return -1;
	memcpy(host, l, n);
	host[n] = '\0';
	snprintf(port, pl, "%s", colon + 1);
	return 0;
}

/* the banner build is stamped with its id; the notice is readable */
static int shown_ok(const struct cg_config *cfg, const char *file, char *err, size_t errlen)
{
	struct cg_shown s;
	char why[512];

	if (cfg->banner_dir[0]) {
		if (cg_shown_load_banner(cfg->banner_dir, &s, why, sizeof why) != CG_OK)
			FAIL("%s: [banner] dir: %s", file, why);
		cg_shown_release(&s);
	}
	if (cfg->notice_file[0]) {
		if (cg_shown_load_notice(cfg->notice_file, cfg->policy_version, &s, why, sizeof why) != CG_OK)
			FAIL("%s: [policy] notice_file: %s", file, why);
		cg_shown_release(&s);
	}
	return CG_OK;
}

/* The signing key: one that exists must load (a regular file, not a
 * symlink, this user's alone, one base64 line); a missing one is created
 * at start, so its directory must take new files. On PostgreSQL the
 * default place is the state directory, which exists under the package's
 * unit but may not elsewhere. */
static int key_ok(const struct cg_config *cfg, const char *file, char *err, size_t errlen)
{
	const char *what = cfg->key_file[0] ? "[signing] key_file" : "[signing] key_file (not set: its default)";
	char path[CG_CFG_STR + 32], why[512];
	struct cg_signer s;
	struct stat st;

	cg_keyfile_path(cfg, path, sizeof path);
	if (lstat(path, &st) != 0 && errno == ENOENT)
		return dir_ok(path, file, what, err, errlen);
	if (cg_keyfile_load(path, 0, &s, why, sizeof why) != CG_OK)
		FAIL("%s: %s: %s", file, what, why);
	cg_signer_wipe(&s);
	return CG_OK;
}

int cg_startup_check(const struct cg_config *cfg, const char *file, char *err, size_t errlen)
{
	struct cg_geo *geo = NULL;
	char host[256], port[16];
	int rc;

	err[0] = '\0';
	if (is_unix(cfg)) {
		if (strlen(cfg->listen) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			FAIL("%s: [server] listen: %s is longer than a unix socket path may be", file, cfg->listen);
		if ((rc = dir_ok(cfg->listen, file, "[server] listen", err, errlen)) != CG_OK)
			return rc;
	} else if (split_hostport(cfg->listen, host, sizeof host, port, sizeof port) != 0) {
		FAIL("%s: [server] listen: '%s' is neither a socket path nor HOST:PORT", file, cfg->listen);
	}
	if (cfg->socket_group[0] && !getgrnam(cfg->socket_group))
		FAIL("%s: [server] socket_group: no group named %s", file, cfg->socket_group);
	/* (PostgreSQL: the daemon connects at start and names what failed) */
	if (cfg->backend == CG_BACKEND_SQLITE && access(cfg->database, F_OK) == 0) {
		if (access(cfg->database, R_OK | W_OK) != 0)
			FAIL("%s: [storage] database: %s: %s", file, cfg->database, strerror(errno));
		/* SQLite writes its -wal and -shm files beside the database */
		if ((rc = dir_ok(cfg->database, file, "[storage] database", err, errlen)) != CG_OK)
			return rc;
	} else if (cfg->backend == CG_BACKEND_SQLITE &&
	           (rc = dir_ok(cfg->database, file, "[storage] database", err, errlen)) != CG_OK) {
		return rc;
	}
	if (cfg->geo_database[0]) {
		if (access(cfg->geo_database, R_OK) != 0)
			FAIL("%s: [geoip] database: %s: %s", file, cfg->geo_database, strerror(errno));
		if (cg_geo_open(cfg->geo_database, cfg->country_path, &geo) != CG_OK)
			FAIL("%s: [geoip] database: %s is not a MaxMind DB file this build can read",
			     file, cfg->geo_database);
		cg_geo_free(geo);
	}
	if ((rc = key_ok(cfg, file, err, errlen)) != CG_OK)
		return rc;
	return shown_ok(cfg, file, err, errlen);
}

static int listen_unix(const struct cg_config *cfg, const char *file, struct cg_listener *out,
                       char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(cfg->listen) >= sizeof sa.sun_path) /* checked by cg_startup_check too */
		FAIL("%s: [server] listen: %s is too long for a socket path", file, cfg->listen);
	memcpy(sa.sun_path, cfg->listen, strlen(cfg->listen) + 1);
	if (lstat(cfg->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			FAIL("%s: [server] listen: %s exists and is not a socket", file, cfg->listen);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		rc = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof sa) : -1;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			FAIL("%s: [server] listen: another process is serving %s (is consentgated already "
			     "running?); refusing to take its socket over", file, cfg->listen);
		unlink(cfg->listen); /* nobody answers: a stale socket from a crash */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		FAIL("%s: [server] listen: socket: %s", file, strerror(errno));
	old = umask(0117); /* never a moment with a wider mode than 0660 */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc != 0 || listen(fd, 1024) != 0 || stat(cfg->listen, &st) != 0) {
		snprintf(err, errlen, "%s: [server] listen: %s: %s", file, cfg->listen, strerror(errno));
		close(fd);
		return CG_ERR_IO;
	}
	out->fd = fd;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	if (chmod(cfg->listen, 0660) != 0) {
		snprintf(err, errlen, "%s: [server] listen: chmod %s: %s", file, cfg->listen, strerror(errno));
		goto out_fail;
	}
	if (cfg->socket_group[0]) {
		struct group *g = getgrnam(cfg->socket_group);
		if (!g || chown(cfg->listen, (uid_t)-1, g->gr_gid) != 0) {
			snprintf(err, errlen, "%s: [server] socket_group: %s: %s", file, cfg->socket_group,
			         g ? strerror(errno) : "no such group");
			goto out_fail;
		}
	}
	return CG_OK;
out_fail:
	cg_startup_unlisten(cfg, out);
	return CG_ERR_IO;
}

static int listen_tcp(const struct cg_config *cfg, const char *file, struct cg_listener *out,
                      char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char host[256], port[16];
	int fd = -1, one = 1, rc;

	if (split_hostport(cfg->listen, host, sizeof host, port, sizeof port) != 0)
		FAIL("%s: [server] listen: '%s' is neither a socket path nor HOST:PORT", file, cfg->listen);
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		FAIL("%s: [server] listen: %s: %s", file, cfg->listen, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		snprintf(err, errlen, "%s: [server] listen: %s: %s", file, cfg->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return CG_ERR_IO;
	}
	freeaddrinfo(ai);
	out->fd = fd;
	return CG_OK;
}

int cg_startup_listen(const struct cg_config *cfg, const char *file, struct cg_listener *out,
                      char *err, size_t errlen)
{
	int rc = cg_startup_check(cfg, file, err, errlen);

	memset(out, 0, sizeof *out);
	out->fd = -1;
	if (rc != CG_OK)
		return rc;
	return is_unix(cfg) ? listen_unix(cfg, file, out, err, errlen)
	                    : listen_tcp(cfg, file, out, err, errlen);
}

void cg_startup_unlisten(const struct cg_config *cfg, struct cg_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (is_unix(cfg) && l->ino && stat(cfg->listen, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlink(cfg->listen);
	l->ino = 0;
}

void cg_startup_warn(const struct cg_config *cfg, const char *file)
{
	if (!cfg->banner_dir[0])
		cg_warn("%s: [banner] dir is not set: choices record no banner build (docs/auditors.md#what-was-shown)", file);
	if (!cfg->notice_file[0])
		cg_warn("%s: [policy] notice_file is not set: choices record no privacy notice (docs/auditors.md#what-was-shown)",
		        file);
	for (int i = 0; i < cfg->n_dest; i++)
		if (!cg_destination_declared(&cfg->dest[i]))
			cg_warn("%s: [destination.%s] declares no recipient and country: visitors and their "
			        "receipts read \"not declared\" (docs/auditors.md#recipients-and-third-country-transfers)", file,
			        cfg->dest[i].name);
}
