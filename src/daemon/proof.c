/* The instance's signing key, and the thread that signs the chain head
 * when it is due ([signing] head_interval_minutes; checked every minute,
 * the lease keeps it to one instance) and anchors it; the same minute's
 * tick writes the leak reports counted (leaks.c). */
#include <string.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/keyfile.h"
#include "consentgate/log.h"
#include "daemon.h"

#define TICK_MS 60000

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *proof_main(void *arg)
{
	struct daemon *d = arg;
	struct cg_store_reader *r = NULL;
	struct timespec until;
	int64_t head_id;

	pthread_mutex_lock(&d->proof_mu);
	while (!d->proof_stop) {
		pthread_mutex_unlock(&d->proof_mu);
		if (!r && d->store.reader_open(d->store.ctx, &r) != CG_OK)
			r = NULL;
		/* a stop cuts a running anchor command short (SIGTERM exits at once) */
		if (r && cg_store_sign_and_anchor(&d->store, r, &d->cfg, &d->signer, 0, wall_ms(), &d->proof_stop,
		                                  &head_id) != CG_OK)
			cg_warn("signing: the chain head could not be signed; tried again within a minute");
		cgd_leaks_flush(d); /* the leak reports counted this minute */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += TICK_MS / 1000;
		pthread_mutex_lock(&d->proof_mu);
		while (!d->proof_stop && pthread_cond_timedwait(&d->proof_wake, &d->proof_mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&d->proof_mu);
	if (r)
		d->store.reader_free(r);
	return NULL;
}

int cgd_proof_start(struct daemon *d)
{
	struct cg_pubkey k;
	char path[CG_CFG_STR + 32], err[512];

	cg_keyfile_path(&d->cfg, path, sizeof path);
	if (cg_keyfile_load(path, 1, &d->signer, err, sizeof err) != CG_OK) {
		cg_error("[signing] key_file: %s", err);
		return CG_ERR_CONFIG;
	}
	memset(&k, 0, sizeof k);
	memcpy(k.key_id, d->signer.key_id, sizeof k.key_id);
	memcpy(k.pk, d->signer.pk, sizeof k.pk);
	k.created_ms = wall_ms();
	if (d->store.key_put(d->store.ctx, &k) != CG_OK) {
		cg_error("signing: the public key could not be stored");
		return CG_ERR_STORAGE;
	}
	pthread_mutex_init(&d->proof_mu, NULL);
	pthread_cond_init(&d->proof_wake, NULL);
	if (pthread_create(&d->proof_thread, NULL, proof_main, d) != 0)
		return CG_ERR_IO;
	d->proof_running = 1;
	cg_info("signing: key %s (%s)", d->signer.key_id, path);
	return CG_OK;
}

void cgd_proof_stop(struct daemon *d)
{
	if (d->proof_running) {
		pthread_mutex_lock(&d->proof_mu);
		d->proof_stop = 1;
		pthread_cond_signal(&d->proof_wake);
		pthread_mutex_unlock(&d->proof_mu);
		pthread_join(d->proof_thread, NULL);
		d->proof_running = 0;
		cgd_leaks_flush(d); /* what was counted since the last tick */
	}
	cg_signer_wipe(&d->signer);
}
