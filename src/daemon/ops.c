/* The shell's services to the pure handler (struct cg_ops) over the real
 * handles: country lookups, state reads on the shared read connections,
 * keys, randomness, admission, metrics. Nothing here writes: what must be
 * stored comes back from the handler as a plan (serve.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#include "consentgate/err.h"
#include "consentgate/geo.h"
#include "consentgate/handler.h"
#include "consentgate/quota.h"
#include "consentgate/storage.h"
#include "daemon.h"

static int op_metrics(void *ctx, struct cg_buf *out)
{
	return cgd_metrics(((struct worker *)ctx)->d, out);
}

static int op_country(void *ctx, const struct cg_ip *ip, char cc[3])
{
	struct worker *w = ctx;

	cc[0] = '\0';
	return w->d->geo ? cg_geo_country(w->d->geo, ip, cc) : CG_ERR_NOT_FOUND;
}

static int op_load_state(void *ctx, const char *subject, struct cg_state *st)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? d->store.load_state(r, subject, st) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static int op_keys(void *ctx, int64_t now_ms, uint8_t key[32], uint8_t day_salt[32])
{
	struct daemon *d = ((struct worker *)ctx)->d;
	int64_t day = now_ms / CG_MS_PER_DAY;

	pthread_mutex_lock(&d->salt_mu);
	if (day != d->salt_day) {
		randombytes_buf(d->day_salt, sizeof d->day_salt);
		d->salt_day = day;
	}
	memcpy(key, d->client_key, CG_KEY_BYTES);
	memcpy(day_salt, d->day_salt, CG_KEY_BYTES);
	pthread_mutex_unlock(&d->salt_mu);
	return CG_OK;
}

/* Under admit_mu: the pending rows counted again once a second (a database
 * round trip, outside the lock: one request a second does it, the others
 * use the last count plus what was admitted since). */
static void recount_pending(struct daemon *d, int64_t now_ms)
{
	struct cg_store_reader *r;
	long long events, notices;
	int ok;

	if (now_ms - d->pending_at_ms < 1000)
		return;
	d->pending_at_ms = now_ms;
	pthread_mutex_unlock(&d->admit_mu);
	r = cgd_borrow(d);
	ok = r && d->store.outbox_pending(r, &events, &notices) == CG_OK;
	cgd_give_back(d, r);
	pthread_mutex_lock(&d->admit_mu);
	if (ok) {
		d->pending_rows = events;
		d->pending_notices = notices;
	}
}

static int op_admit(void *ctx, const char *subject, const char *prefix, size_t bytes, size_t rows,
                    int64_t now_ms, int *retry_s)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t vkey = 0, pkey;
	int why = CG_ADMIT_OK, rv = 0, rp = 0;

	pthread_mutex_lock(&d->admit_mu);
	recount_pending(d, now_ms);
	if (subject[0]) {
		crypto_shorthash(h, (const unsigned char *)subject, strlen(subject), d->quota_key);
		memcpy(&vkey, h, sizeof vkey);
	}
	crypto_shorthash(h, (const unsigned char *)prefix, strlen(prefix), d->quota_key);
	memcpy(&pkey, h, sizeof pkey);
	if (d->pending_rows + (long long)rows > d->cfg.outbox_max_rows) {
		why = CG_ADMIT_OUTBOX;
		*retry_s = 60;
	} else if (subject[0] && !cg_quota_fits(&d->visitors, vkey, now_ms, bytes,
	                                        (uint64_t)d->cfg.visitor_bytes_per_hour, 0, &rv)) {
		why = CG_ADMIT_VISITOR;
		*retry_s = rv;
	} else if (!cg_quota_fits(&d->prefixes, pkey, now_ms, bytes,
	                          (uint64_t)d->cfg.prefix_bytes_per_hour, 0, &rp)) {
		why = CG_ADMIT_PREFIX;
		*retry_s = rp;
	} else { /* both fit: count them in both */
		if (subject[0])
			cg_quota_fits(&d->visitors, vkey, now_ms, bytes, (uint64_t)d->cfg.visitor_bytes_per_hour, 1, NULL);
		cg_quota_fits(&d->prefixes, pkey, now_ms, bytes, (uint64_t)d->cfg.prefix_bytes_per_hour, 1, NULL);
		d->pending_rows += (long long)rows;
	}
	pthread_mutex_unlock(&d->admit_mu);
	if (why != CG_ADMIT_OK)
		atomic_fetch_add(&d->refused[why], 1);
	return why;
}

/* Erasure notices have a bound of their own: an erasure is never refused,
 * only the notices past [limits] erasure_notices_max_rows are (counted). */
static size_t op_admit_notices(void *ctx, size_t want, int64_t now_ms)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	long long room;
	size_t got;

	pthread_mutex_lock(&d->admit_mu);
	recount_pending(d, now_ms);
	room = d->cfg.erasure_notices_max_rows - d->pending_notices;
	got = room <= 0 ? 0 : (size_t)room < want ? (size_t)room : want;
	d->pending_notices += (long long)got;
	pthread_mutex_unlock(&d->admit_mu);
	if (got < want)
		atomic_fetch_add(&d->notices_refused, want - got);
	return got;
}

static int op_recipients(void *ctx, const char *subject, uint32_t *mask, int64_t *since_ms)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? cg_store_recipients(&d->store, r, &d->cfg, subject, mask, since_ms) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static void op_decided(void *ctx, int dest, int decision)
{
	struct daemon *d = ((struct worker *)ctx)->d;

	if (dest >= 0 && dest < CG_MAX_DESTINATIONS && decision >= 0 && decision < CG_NDECISIONS)
		atomic_fetch_add(&d->decisions[dest][decision], 1);
}

static int op_subject_events(void *ctx, const char *subject, struct cg_event **evs, size_t *n)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? cg_store_subject_events(&d->store, r, subject, evs, n) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static int op_report(void *ctx, int period, const char *since_day, struct cg_report *out)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? d->store.report(r, period, since_day, out) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static const struct cg_signer *op_signer(void *ctx)
{
	return &((struct worker *)ctx)->d->signer;
}

static int op_public_keys(void *ctx, struct cg_pubkey **keys, size_t *n)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? cg_store_keys(&d->store, r, keys, n) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static int op_latest_head(void *ctx, struct cg_signed_head *out)
{
	struct daemon *d = ((struct worker *)ctx)->d;
	struct cg_store_reader *r = cgd_borrow(d);
	int rc = r ? cg_store_latest_head(&d->store, r, out) : CG_ERR_STORAGE;

	cgd_give_back(d, r);
	return rc;
}

static void op_shown_now(void *ctx, char build[33], char notice[65])
{
	struct daemon *d = ((struct worker *)ctx)->d;

	memcpy(build, d->build, sizeof d->build);
	memcpy(notice, d->notice, sizeof d->notice);
}

static int op_build_status(void *ctx, const char *build, char notice_then[65])
{
	return cgd_build_status(((struct worker *)ctx)->d, build, notice_then);
}

static int op_vendors_status(void *ctx, const char *id)
{
	return cgd_vendors_status(((struct worker *)ctx)->d, id);
}

/* getrandom(2), to the last byte asked for */
static int fill_random(void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0 && errno != EINTR)
			return CG_ERR_IO;
		if (r > 0)
			got += (size_t)r;
	}
	return CG_OK;
}

/* A request takes a few dozen random bytes (an id, a salt): from the
 * worker's own pool, refilled by the kernel a pool at a time, rather than a
 * system call each (a system call costs more than the rest of the id). Bytes
 * handed out are wiped from the pool. */
static int op_random(void *ctx, void *buf, size_t n)
{
	struct worker *w = ctx;

	if (n > sizeof w->random)
		return fill_random(buf, n);
	if (w->random_left < n) {
		if (fill_random(w->random, sizeof w->random) != CG_OK)
			return CG_ERR_IO;
		w->random_left = sizeof w->random;
	}
	w->random_left -= n;
	memcpy(buf, w->random + w->random_left, n);
	sodium_memzero(w->random + w->random_left, n);
	return CG_OK;
}

static const struct cg_csp *op_csp(void *ctx)
{
	return &((struct worker *)ctx)->d->csp;
}

static void op_leaks(void *ctx, const struct cg_leak *l, size_t n, int64_t now_ms)
{
	cgd_leaks_count(((struct worker *)ctx)->d, l, n, now_ms);
}

void cgd_ops_init(struct worker *w, struct cg_ops *ops)
{
	const struct cg_ops o = {
		.ctx = w, .country = op_country, .load_state = op_load_state, .random = op_random,
		.keys = op_keys, .decided = op_decided, .subject_events = op_subject_events,
		.report = op_report, .metrics = op_metrics, .admit = op_admit,
		.admit_notices = op_admit_notices, .recipients = op_recipients,
		.signer = op_signer, .public_keys = op_public_keys, .latest_head = op_latest_head,
		.shown_now = op_shown_now, .build_status = op_build_status, .vendors_status = op_vendors_status,
		.csp = op_csp, .leaks = op_leaks,
	};

	*ops = o;
}
