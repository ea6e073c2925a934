/* Start-up of the daemon, as one set of checks: `consentgated -t` runs the
 * same ones the real start runs, so "configuration OK" means it will start.
 * Every error names the file, the [section] key and the path. I/O shell. */
#ifndef CONSENTGATE_STARTUP_H
#define CONSENTGATE_STARTUP_H

#include <stddef.h>
#include <sys/types.h>
#include "consentgate/config.h"

struct cg_listener {
	int fd;
	dev_t dev;       /* the socket file this process bound (unix sockets) */
	ino_t ino;
};

/* The database's directory (or file) is writable, the country database
 * opens, the socket's directory exists and is writable, its group exists,
 * the signing key loads or its directory takes new files (keyfile.h).
 * Changes nothing. Needs sodium_init(). */
int cg_startup_check(const struct cg_config *cfg, const char *file, char *err, size_t errlen);
/* Logs a warning for each destination that does not declare its recipient
 * and country (it still runs; visitors read "not declared"). */
void cg_startup_warn(const struct cg_config *cfg, const char *file);

/* Opens [server] listen: a unix socket (mode 0660, group socket_group), or
 * HOST:PORT. Refuses while another process serves the socket path; removes a
 * stale socket file left by a crash. */
int cg_startup_listen(const struct cg_config *cfg, const char *file, struct cg_listener *out,
                      char *err, size_t errlen);
/* Closes; removes the socket file only if it is still the one we bound (a
 * second daemon refused at start must not take the first one's socket). */
void cg_startup_unlisten(const struct cg_config *cfg, struct cg_listener *l);

#endif
