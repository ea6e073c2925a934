#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/anchor.h"
#include "consentgate/err.h"

extern char **environ;

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the child's stdout until EOF, the cap or the deadline */
static int read_output(int fd, long long deadline, const atomic_int *cancel, struct cg_buf *out)
{
	char chunk[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - mono_ms();
		ssize_t n;
		int r;
		if (left <= 0 || (cancel && atomic_load(cancel)))
			return CG_ERR_IO;
		r = poll(&p, 1, left < 100 ? (int)left : 100);   /* a look at *cancel every 100 ms */
		if (r < 0 && errno != EINTR)
			return CG_ERR_IO;
		if (r <= 0)
			continue;
		n = read(fd, chunk, sizeof chunk);
		if (n == 0)
			return CG_OK;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return CG_ERR_IO;
		if (n > 0 && (memchr(chunk, '\0', (size_t)n) || cg_buf_add(out, chunk, (size_t)n) != CG_OK))
			return CG_ERR_INVALID;
	}
}

static int wait_child(pid_t pid, long long deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return CG_OK;
		if (r < 0 && errno != EINTR)
			return CG_ERR_IO;
		if (mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return CG_ERR_IO;
		}
		usleep(10000);
	}
}

int cg_anchor_run(const char *command, const char *envelope, int timeout_ms, const atomic_int *cancel,
                  struct cg_buf *out, char *err, size_t errlen)
{
	int in[2] = {-1, -1}, outp[2] = {-1, -1}, status = 0, rc = CG_ERR_IO;
	char *const argv[] = {"sh", "-c", (char *)(uintptr_t)command, NULL};
	long long deadline = mono_ms() + timeout_ms;
	posix_spawn_file_actions_t fa;
	size_t len = strlen(envelope);
	pid_t pid;

	cg_buf_init(out, CG_ANCHOR_MAX);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "anchor: pipe: %s", strerror(errno));
		goto out_close;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		snprintf(err, errlen, "anchor: cannot run /bin/sh: %s", strerror(errno));
		goto out_close;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	/* a head's envelope is a few hundred bytes: within the pipe's buffer */
	if (write(in[1], envelope, len) != (ssize_t)len)
		snprintf(err, errlen, "anchor: the command did not take the head on stdin");
	close(in[1]);
	in[1] = -1;
	rc = read_output(outp[0], deadline, cancel, out);
	if (wait_child(pid, rc == CG_OK ? deadline : 0, &status) != CG_OK)
		rc = CG_ERR_IO;
	if (rc == CG_ERR_INVALID)
		snprintf(err, errlen, "anchor: the command printed more than %d bytes, or a NUL byte", CG_ANCHOR_MAX);
	else if (rc != CG_OK)
		snprintf(err, errlen, "anchor: the command did not finish within %d ms", timeout_ms);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "anchor: the command failed (%s %d)", WIFEXITED(status) ? "exit status" : "signal",
		         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = CG_ERR_IO;
	}
out_close:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	if (rc != CG_OK)
		cg_buf_free(out);
	return rc;
}
