/* The storage port's front door: [storage] backend chooses the backend. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/anchor.h"
#include "consentgate/log.h"

#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/storage.h"
#include "consentgate/store_pg.h"
#include "consentgate/store_sqlite.h"

/* A backend left out of the build (cmake -DCG_SQLITE=OFF or
 * -DCG_POSTGRESQL=OFF): its entry points refuse with the reason, so that
 * the daemon, consentctl and their configuration checks stay one code. */
#if !defined(CG_WITH_SQLITE) || !defined(CG_WITH_POSTGRESQL)
static int not_built(const char *name, const char *option, char *err, size_t errlen)
{
	snprintf(err, errlen, "this build of consentgate has no %s backend (cmake -D%s=ON)", name, option);
	return CG_ERR_CONFIG;
}
#endif
#ifndef CG_WITH_SQLITE
int cg_sqlite_open(const struct cg_config *cfg, int mode, struct cg_store_port *out, char *err, size_t errlen)
{
	(void)cfg;
	(void)mode;
	memset(out, 0, sizeof *out);
	return not_built("SQLite", "CG_SQLITE", err, errlen);
}
#endif
#ifndef CG_WITH_POSTGRESQL
int cg_pg_open(const struct cg_config *cfg, int mode, struct cg_store_port *out, char *err, size_t errlen)
{
	(void)cfg;
	(void)mode;
	memset(out, 0, sizeof *out);
	return not_built("PostgreSQL", "CG_POSTGRESQL", err, errlen);
}

int cg_pg_url_check(const char *url, char *err, size_t errlen)
{
	(void)url;
	return not_built("PostgreSQL", "CG_POSTGRESQL", err, errlen);
}
#endif

int cg_store_port_open(const struct cg_config *cfg, int mode, struct cg_store_port *out,
                       char *err, size_t errlen)
{
	if (cfg->backend == CG_BACKEND_POSTGRESQL)
		return cg_pg_open(cfg, mode, out, err, errlen);
	return cg_sqlite_open(cfg, mode, out, err, errlen);
}

void cg_store_port_close(struct cg_store_port *p)
{
	if (p && p->close && p->ctx)
		p->close(p->ctx);
	if (p)
		memset(p, 0, sizeof *p);
}

struct signing {
	const struct cg_signer *signer;
	const char *site;
};

static int sign_cb(void *arg, struct cg_head *h, struct cg_buf *env)
{
	const struct signing *g = arg;

	return cg_head_sign(g->signer, g->site, h, env);
}

struct recipient_set {
	const struct cg_config *cfg;
	uint32_t mask;
};

static int add_recipient(void *ctx, const char *subject, const char *destination)
{
	struct recipient_set *set = ctx;

	(void)subject;
	set->mask |= cg_dest_bit(set->cfg, destination);
	return CG_OK;
}

int cg_store_recipients(const struct cg_store_port *p, struct cg_store_reader *r, const struct cg_config *cfg,
                        const char *subject, uint32_t *mask, int64_t *since_ms)
{
	struct recipient_set set = {cfg, 0};
	int rc = p->each_recipient(r, subject, add_recipient, &set);

	if (rc == CG_OK)
		rc = p->recipients_since(r, since_ms);
	*mask = rc == CG_OK ? set.mask : 0;
	return rc;
}

struct key_list {
	struct cg_pubkey *k;
	size_t n, cap;
};

static int add_key(void *ctx, const struct cg_pubkey *k)
{
	struct key_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct cg_pubkey *p = cap <= 4096 ? realloc(l->k, cap * sizeof *p) : NULL;
		if (!p)
			return CG_ERR_NOMEM;
		l->k = p;
		l->cap = cap;
	}
	l->k[l->n++] = *k;
	return CG_OK;
}

int cg_store_keys(const struct cg_store_port *p, struct cg_store_reader *r, struct cg_pubkey **keys, size_t *n)
{
	struct key_list l = {0};
	int rc = p->each_key(r, add_key, &l);

	if (rc != CG_OK) {
		free(l.k);
		l.k = NULL;
		l.n = 0;
	}
	*keys = l.k;
	*n = l.n;
	return rc;
}

static int take_head(void *ctx, const struct cg_signed_head *h)
{
	struct cg_signed_head *out = ctx;

	*out = *h;
	out->envelope = strdup(h->envelope);
	out->anchor = h->anchor ? strdup(h->anchor) : NULL;
	return out->envelope && (out->anchor || !h->anchor) ? CG_OK : CG_ERR_NOMEM;
}

int cg_store_latest_head(const struct cg_store_port *p, struct cg_store_reader *r, struct cg_signed_head *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = p->each_head(r, 0, INT64_MAX, 1, take_head, out);
	if (rc != CG_OK)
		cg_signed_head_clear(out);
	return rc == CG_OK && !out->envelope ? CG_ERR_NOT_FOUND : rc;
}

/* the newest head, if it has no anchor yet */
static void anchor_latest(const struct cg_store_port *p, struct cg_store_reader *r, const struct cg_config *cfg,
                          int64_t now_ms, const atomic_int *cancel)
{
	struct cg_signed_head h;
	struct cg_buf out;
	char err[256];

	if (cg_store_latest_head(p, r, &h) != CG_OK || h.anchor) {
		cg_signed_head_clear(&h);
		return;
	}
	if (cg_anchor_run(cfg->anchor_command, h.envelope, 60000, cancel, &out, err, sizeof err) != CG_OK)
		cg_warn("signing: head %lld (row %lld) is not anchored yet: %s", (long long)h.id, (long long)h.last_id, err);
	else if (p->head_anchor(p->ctx, h.id, out.p ? out.p : "", now_ms) != CG_OK)
		cg_warn("signing: the anchor of head %lld could not be stored", (long long)h.id);
	else
		cg_info("signing: head %lld (row %lld) anchored", (long long)h.id, (long long)h.last_id);
	cg_buf_free(&out);
	cg_signed_head_clear(&h);
}

int cg_store_sign_and_anchor(const struct cg_store_port *p, struct cg_store_reader *r,
                             const struct cg_config *cfg, const struct cg_signer *signer, int force,
                             int64_t now_ms, const atomic_int *cancel, int64_t *head_id)
{
	struct signing g = {signer, cfg->site};
	int rc = p->sign_head(p->ctx, now_ms, (int64_t)cfg->head_interval_minutes * 60000, force, sign_cb, &g,
	                      head_id);

	if (rc == CG_OK && *head_id)
		cg_info("signing: chain head %lld signed with key %s", (long long)*head_id, signer->key_id);
	if (cfg->anchor_command[0])
		anchor_latest(p, r, cfg, now_ms, cancel);
	return rc;
}
