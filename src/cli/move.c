/* consentctl migrate --to URL: moving a site's log from its SQLite file to
 * PostgreSQL, so several daemons can share it. The copy runs while the
 * SQLite file refuses every other writer (retire), in one PostgreSQL
 * transaction (import); afterwards the file takes no writes and its pending
 * outbox rows are the new store's alone, so none is sent from both. Both
 * chains are verified and their heads compared. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "consentgate/err.h"
#include "consentgate/storage.h"
#include "consentgate/store_pg.h"
#include "cli.h"

struct move {
	const struct cg_store_port *src, *dst;
	struct cg_store_reader *src_reader;
	struct cg_import_counts counts;
	char err[512];
	int rc;
};

static int copy(void *arg)
{
	struct move *m = arg;

	m->rc = m->dst->import(m->dst->ctx, m->src, m->src_reader, &m->counts, m->err, sizeof m->err);
	/* a finished copy found again: the source is sealed now, as it should
	 * have been when the copy committed */
	return m->rc == CG_OK || m->rc == CG_ERR_DUPLICATE ? CG_OK : m->rc;
}

static int connects(int fd, const struct sockaddr *a, socklen_t len)
{
	int ok = fd >= 0 && connect(fd, a, len) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A daemon still serving this configuration would keep writing to (and
 * sending from) the file being moved. */
static int daemon_answers(const struct cg_config *cfg)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct sockaddr_in in = {.sin_family = AF_INET};
	char host[64] = "";
	int port = 0;

	if (cfg->listen[0] == '/') {
		if (strlen(cfg->listen) >= sizeof un.sun_path)
			return 0;
		memcpy(un.sun_path, cfg->listen, strlen(cfg->listen) + 1);
		return connects(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&un, sizeof un);
	}
	if (sscanf(cfg->listen, "%63[^:]:%d", host, &port) != 2 || inet_pton(AF_INET, host, &in.sin_addr) != 1)
		return 0;
	in.sin_port = htons((uint16_t)port);
	return connects(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), (struct sockaddr *)&in, sizeof in);
}

static int open_both(const struct cg_config *cfg, const char *database, const char *url,
                     struct cg_store_port *src, struct cg_store_reader **rd, struct cg_store_port *dst)
{
	struct cg_config s = *cfg, d = *cfg;
	char err[512];

	if (database)
		snprintf(s.database, sizeof s.database, "%s", database);
	d.backend = CG_BACKEND_POSTGRESQL;
	snprintf(d.url, sizeof d.url, "%s", url);
	if (cg_store_port_open(&s, CG_STORE_WRITER, src, err, sizeof err) != CG_OK ||
	    src->reader_open(src->ctx, rd) != CG_OK) {
		fprintf(stderr, "consentctl migrate: the source %s: %s\n", s.database, err);
		return 1;
	}
	if (cg_store_port_open(&d, CG_STORE_WRITER, dst, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl migrate: the target: %s\n", err);
		return 1;
	}
	return 0;
}

/* Verifies the target through a reader of its own; prints both results. */
static int verify_both(struct cg_store_port *src, struct cg_store_reader *src_rd, struct cg_store_port *dst)
{
	struct cg_store_reader *rd = NULL;
	struct cg_verify a = {0}, b = {0};
	int rc = 1;

	if (cg_cli_verify(src, src_rd, -1, &a) != CG_OK || dst->reader_open(dst->ctx, &rd) != CG_OK ||
	    cg_cli_verify(dst, rd, -1, &b) != CG_OK) {
		fprintf(stderr, "consentctl migrate: cannot read the chains back to verify them\n");
	} else {
		const struct cg_audit_result *x = cg_audit_result(a.a), *y = cg_audit_result(b.a);
		int ra = cg_cli_verify_print("  source (SQLite):     ", &a);
		int rb = cg_cli_verify_print("  target (PostgreSQL): ", &b);
		rc = ra || rb || x->n.links != y->n.links || strcmp(x->head, y->head) != 0;
		if (!ra && !rb && rc)
			printf("  the two chains differ\n");
	}
	cg_cli_verify_free(&a);
	cg_cli_verify_free(&b);
	if (rd)
		dst->reader_free(rd);
	return rc;
}

int cg_cli_move(const struct cg_config *cfg, const char *database, const char *url)
{
	struct cg_store_port src = {0}, dst = {0};
	struct move m = {.src = &src, .dst = &dst};
	char why[512];
	int rc = 1;

	/* before anything is opened: the source is sealed by a move, so the
	 * target must be the database the operator named, not libpq's guess */
	if (cg_pg_url_check(url, why, sizeof why) != CG_OK) {
		fprintf(stderr, "consentctl migrate --to: %s\n", why);
		return 2;
	}
	if (cfg->backend != CG_BACKEND_SQLITE) {
		fprintf(stderr, "consentctl migrate --to: the source is the configuration's SQLite database, but its "
		                "[storage] backend is already postgresql\n");
		return 2;
	}
	if (daemon_answers(cfg)) {
		fprintf(stderr, "consentctl migrate --to: consentgated answers on %s: stop it first (it would go on "
		                "writing to and sending from the file being moved)\n", cfg->listen);
		return 1;
	}
	if (open_both(cfg, database, url, &src, &m.src_reader, &dst) == 0) {
		rc = src.retire(src.ctx, "postgresql", copy, &m);
		if (m.rc == CG_ERR_DUPLICATE)
			printf("the target already holds this log (a finished copy); the source is sealed now\n");
		else if (rc == CG_OK)
			printf("copied: %lld events, %lld pruned links, %lld log events, %lld outbox rows and the client_id "
			       "key\n", m.counts.events, m.counts.pruned, m.counts.log_events, m.counts.outbox);
		else
			fprintf(stderr, "consentctl migrate --to: %s\n",
			        m.err[0] ? m.err : "the copy failed; nothing was changed on either side");
		rc = rc == CG_OK ? verify_both(&src, m.src_reader, &dst) : 1;
		if (rc == 0)
			printf("done: set [storage] backend = postgresql and url = <the URL> and start the daemons\n");
	}
	if (m.src_reader)
		src.reader_free(m.src_reader);
	cg_store_port_close(&src);
	cg_store_port_close(&dst);
	return rc;
}
