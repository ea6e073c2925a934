/* The PostgreSQL backend: open, close, and the port's table. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "internal.h"

static void pgs_close(void *ctx)
{
	struct pgs *s = ctx;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	if (s->running)
		pthread_join(s->thread, NULL); /* drains the queue first */
	/* then the doctor, which vacuums after the writer's last erasure */
	pthread_mutex_lock(&s->mu);
	s->doctor_stop = 1;
	pthread_cond_broadcast(&s->doctor_wake);
	pthread_mutex_unlock(&s->mu);
	if (s->doctor_running)
		pthread_join(s->doctor, NULL);
	if (s->mode == CG_STORE_DAEMON && s->running)
		pgs_unregister(s);
	PQfinish(s->wconn);
	PQfinish(s->wspare);
	sodium_memzero(s->client_key, sizeof s->client_key);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->doctor_wake);
	pthread_mutex_destroy(&s->readers_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int pgs_client_key(void *ctx, uint8_t key[32])
{
	struct pgs *s = ctx;

	memcpy(key, s->client_key, sizeof s->client_key);
	return s->mode == CG_STORE_READONLY ? CG_ERR_NOT_FOUND : CG_OK;
}

static void pgs_stats(void *ctx, struct cg_store_stats *out)
{
	struct pgs *s = ctx;

	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}

/* Schema, key, meta (and in the daemon this instance's registration) on
 * the connection that then becomes the writer's. */
static int open_writer(struct pgs *s, PGconn *c, char *err, size_t errlen)
{
	int64_t deadline = pgs_mono_ms() + s->cfg.write_timeout_ms;
	int rc = pgs_schema(c, &s->cfg, deadline, err, errlen);

	if (rc == CG_OK && (rc = pgs_load_client_key(c, deadline, s->client_key)) != CG_OK)
		snprintf(err, errlen, "cannot read or create the client_id key");
	if (rc == CG_OK && s->mode == CG_STORE_DAEMON)
		rc = pgs_register(s, c, err, errlen);
	else if (rc == CG_OK && (rc = pgs_write_meta(c, &s->cfg, deadline)) != CG_OK)
		snprintf(err, errlen, "cannot write the settings the views read");
	if (rc != CG_OK)
		return rc;
	s->wconn = c;
	s->stats.connected = 1;
	if (pthread_create(&s->thread, NULL, pgs_writer_main, s) != 0)
		return CG_ERR_IO;
	s->running = 1;
	if (pthread_create(&s->doctor, NULL, pgs_doctor_main, s) != 0)
		return CG_ERR_IO;
	s->doctor_running = 1;
	return CG_OK;
}

static struct pgs *pgs_new(const struct cg_config *cfg, int mode)
{
	struct pgs *s = calloc(1, sizeof *s);
	uint8_t id[16];

	if (!s)
		return NULL;
	s->mode = mode;
	s->cfg = *cfg;
	randombytes_buf(id, sizeof id);
	sodium_bin2hex(s->instance, sizeof s->instance, id, sizeof id);
	cg_config_fingerprint(cfg, s->fingerprint);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->readers_mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->doctor_wake, NULL);
	atomic_init(&s->fenced, 0);
	atomic_init(&s->diverged, 0);
	atomic_init(&s->wcheck, 0);
	atomic_init(&s->acked, NULL);
	return s;
}

static const struct cg_store_port pg_port = {
	.version = CG_STORE_PORT_VERSION,
	.name = "postgresql",
	.submit = pgs_submit,
	.outbox_set = pgs_outbox_set,
	.purge = pgs_purge,
	.client_key = pgs_client_key,
	.stats = pgs_stats,
	.close = pgs_close,
	.import = pgs_import,
	.track_acked = pgs_track_acked,
	.reader_open = pgs_reader_open,
	.reader_free = pgs_reader_free,
	.load_state = pgs_load_state,
	.each_event = pgs_each_event,
	.each_link = pgs_each_link,
	.snapshot = pgs_snapshot,
	.report = pgs_report,
	.claim_outbox = pgs_claim_outbox,
	.outbox_pending = pgs_outbox_pending,
	.each_recipient = pgs_each_recipient,
	.recipients_since = pgs_recipients_since,
	.outbox_counts = pgs_outbox_counts,
	.outbox_backlog = pgs_outbox_backlog,
	.outbox_rows = pgs_outbox_rows,
	.each_outbox = pgs_each_outbox,
	.key_put = pgs_key_put,
	.sign_head = pgs_sign_head,
	.head_anchor = pgs_head_anchor,
	.each_key = pgs_each_key,
	.each_head = pgs_each_head,
	.shown_put = pgs_shown_put,
	.each_shown = pgs_each_shown,
	.leaks_put = pgs_leaks_put,
	.each_leak = pgs_each_leak,
	.artefact = pgs_artefact,
};

int cg_pg_open(const struct cg_config *cfg, int mode, struct cg_store_port *out, char *err, size_t errlen)
{
	struct pgs *s = pgs_new(cfg, mode);
	PGconn *c = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	err[0] = '\0';
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return CG_ERR_NOMEM;
	}
	rc = pgs_connect(&s->cfg, mode == CG_STORE_DAEMON ? "consentgated" : "consentctl",
	                 pgs_mono_ms() + s->cfg.connect_timeout_ms, &c, err, errlen);
	if (rc == CG_OK && mode == CG_STORE_READONLY) {
		rc = pgs_schema_check(c, pgs_mono_ms() + s->cfg.write_timeout_ms, err, errlen);
		PQfinish(c);
	} else if (rc == CG_OK && (rc = open_writer(s, c, err, errlen)) != CG_OK && !s->wconn) {
		PQfinish(c);
	}
	if (rc != CG_OK) {
		if (!err[0])
			snprintf(err, errlen, "PostgreSQL: %s", cg_strerror(rc));
		pgs_close(s);
		return rc;
	}
	*out = pg_port;
	out->ctx = s;
	return CG_OK;
}
