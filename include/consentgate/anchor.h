/* Handing a signed chain head to the operator's anchor command (I/O shell):
 * `/bin/sh -c COMMAND` with the head's envelope on stdin; what it prints
 * on stdout (text, at most CG_ANCHOR_MAX bytes: e.g. an RFC 3161
 * timestamp token in base64, or the URL the head was published at) is kept
 * with the head as the anchor. Exit status 0 = anchored. */
#ifndef CONSENTGATE_ANCHOR_H
#define CONSENTGATE_ANCHOR_H

#include <stdatomic.h>
#include <stddef.h>
#include "consentgate/buf.h"

#define CG_ANCHOR_MAX (64 * 1024)

/* Gives up (killing the command) after timeout_ms, or soon after *cancel
 * turns non-zero (NULL: never), e.g. when the daemon is told to stop. */
int cg_anchor_run(const char *command, const char *envelope, int timeout_ms, const atomic_int *cancel,
                  struct cg_buf *out, char *err, size_t errlen);

#endif
