/* The last row this instance acknowledged, kept across restarts in the
 * state directory beside the signing key (last-acknowledged: "ID HASH").
 * The backend keeps the pair in memory and checks it on every new
 * connection (storage.h, track_acked); this file carries it over a
 * restart. It is written when it changed, at most once a second
 * (ACK_SAVE_MS), and at a clean stop after the writer drained: one small
 * fsync'd file a second, never one per request. After a crash the file may
 * name a row up to a second older than the last one acknowledged: still a
 * row of the true log, so the check after such a restart is only blind to
 * a database that diverged within that second
 * (docs/postgresql.md#a-diverged-old-primary). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/keyfile.h"
#include "consentgate/log.h"
#include "consentgate/outfile.h"
#include "daemon.h"

#define ACK_SAVE_MS 1000
#define ACK_FILE "last-acknowledged"

/* "ID HASH\n": a positive id and 64 lowercase hex digits */
static int parse(const char *line, int64_t *id, char hash[CG_HEX_HASH_LEN + 1])
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(line, &end, 10);
	if (errno || v <= 0 || *end != ' ' || strspn(end + 1, "0123456789abcdef") != CG_HEX_HASH_LEN ||
	    strcmp(end + 1 + CG_HEX_HASH_LEN, "\n") != 0)
		return CG_ERR_INVALID;
	*id = v;
	memcpy(hash, end + 1, CG_HEX_HASH_LEN);
	hash[CG_HEX_HASH_LEN] = '\0';
	return CG_OK;
}

/* the file's pair, or none (no file yet); a file that is not one refuses
 * the start: it names the operator's state, not something to guess */
static int load(struct daemon *d)
{
	char line[128] = "";
	ssize_t n;
	int fd = openat(d->acked_dfd, ACK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	unlinkat(d->acked_dfd, "." ACK_FILE ".tmp", 0); /* ours, left by a crash mid-save */
	if (fd < 0 && errno == ENOENT)
		return CG_OK;
	if (fd < 0) {
		cg_error("%s/%s: %s", d->acked_dir, ACK_FILE, strerror(errno));
		return CG_ERR_IO;
	}
	n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n < 0 || parse(line, &d->acked.id, d->acked.hash) != CG_OK) {
		cg_error("%s/%s: not \"ID HASH\" (the last row this instance acknowledged); remove it only if this "
		         "instance is meant to write to a log that lacks that row", d->acked_dir, ACK_FILE);
		return CG_ERR_INVALID;
	}
	return CG_OK;
}

static void save(struct daemon *d, int64_t *saved)
{
	char line[128], err[512];
	int64_t id;
	int n;

	pthread_mutex_lock(&d->acked.mu);
	id = d->acked.id;
	n = snprintf(line, sizeof line, "%" PRId64 " %s\n", id, d->acked.hash);
	pthread_mutex_unlock(&d->acked.mu);
	if (id == *saved || id <= 0)
		return;
	if (cg_out_replace(d->acked_dfd, ACK_FILE, 0600, line, (size_t)n, err, sizeof err) != CG_OK)
		cg_warn("%s: %s (tried again within a second)", d->acked_dir, err);
	else
		*saved = id;
}

static void *acked_main(void *arg)
{
	struct daemon *d = arg;
	struct timespec until;

	pthread_mutex_lock(&d->acked_mu);
	while (!d->acked_stop) {
		pthread_mutex_unlock(&d->acked_mu);
		save(d, &d->acked_saved);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ACK_SAVE_MS / 1000;
		pthread_mutex_lock(&d->acked_mu);
		while (!d->acked_stop && pthread_cond_timedwait(&d->acked_wake, &d->acked_mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&d->acked_mu);
	return NULL;
}

int cgd_acked_start(struct daemon *d)
{
	char path[CG_CFG_STR + 32], name[CG_OUT_NAME_MAX + 1], err[1024];
	char *slash;

	d->acked_dfd = -1;
	if (!d->store.track_acked)
		return CG_OK; /* a backend without replicas */
	/* the key's directory: the state directory, unless key_file names another */
	cg_keyfile_path(&d->cfg, path, sizeof path);
	if (cg_out_path(path, &d->acked_dfd, name, err, sizeof err) != CG_OK) {
		cg_error("[signing] key_file's directory: %s", err);
		return CG_ERR_IO;
	}
	slash = strrchr(path, '/');
	snprintf(d->acked_dir, sizeof d->acked_dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	pthread_mutex_init(&d->acked.mu, NULL);
	if (load(d) != CG_OK)
		return CG_ERR_CONFIG;
	d->acked_saved = d->acked.id;
	if (d->store.track_acked(d->store.ctx, &d->acked, err, sizeof err) != CG_OK) {
		cg_error("storage: %s", err);
		return CG_ERR_CONFIG;
	}
	if (d->acked.id)
		cg_info("storage: the database holds the last row acknowledged before (id %" PRId64 ")", d->acked.id);
	pthread_mutex_init(&d->acked_mu, NULL);
	pthread_cond_init(&d->acked_wake, NULL);
	if (pthread_create(&d->acked_thread, NULL, acked_main, d) != 0)
		return CG_ERR_IO;
	d->acked_running = 1;
	return CG_OK;
}

/* after the store closed: its writer drained, the pair is final */
void cgd_acked_stop(struct daemon *d)
{
	if (d->acked_running) {
		pthread_mutex_lock(&d->acked_mu);
		d->acked_stop = 1;
		pthread_cond_signal(&d->acked_wake);
		pthread_mutex_unlock(&d->acked_mu);
		pthread_join(d->acked_thread, NULL);
		d->acked_running = 0;
		save(d, &d->acked_saved);
	}
	if (d->acked_dfd >= 0)
		close(d->acked_dfd);
	d->acked_dfd = -1;
}
