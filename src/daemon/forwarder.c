#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentgate/buf.h"
#include "consentgate/collect.h"
#include "consentgate/decision.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/forwarder.h"
#include "consentgate/rules.h"
#include "consentgate/log.h"
#include "fwd_kind.h"

#define ROUND_MAX 512          /* outbox rows looked at per round */
#define IDLE_POLL_MS 500
/* GA4's User Deletion API takes one client_id per request, 1.5 requests a
 * second and 500 a day per property: its notices go one a second per
 * destination (and instance), the others of a round wait their turn */
#define DELETION_PACE_MS 1000

/* One HTTP request: a batch of one destination's rows (fwd_kind.h). */
struct transfer {
	CURL *easy;
	struct cg_fwd_request r;   /* body, headers, r.n: the rows it carries, items[first .. first+r.n) */
	struct cg_buf reply;
	size_t first;
	double started;
	int done;
	int metered;               /* notices to a metered API (fwd_kind.h) */
};

struct cg_forwarder {
	const struct cg_config *cfg;
	const struct cg_store_port *store;
	struct cg_store_reader *reader;
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping, woken;
	size_t claim_max;                   /* rows the last round could claim */
	int64_t deletion_sent_ms[CG_MAX_DESTINATIONS];  /* the last metered notice (GA4 deletion), per destination */
	struct cg_forwarder_stats stats;    /* under mu */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_reply(char *data, size_t size, size_t n, void *arg)
{
	struct cg_buf *b = arg;
	size_t len = size * n;

	/* the start of the answer for last_error (none if memory fails) */
	if (b->len < 200 && cg_buf_add(b, data, len > 200 - b->len ? 200 - b->len : len) != CG_OK)
		cg_buf_reset(b);
	return len;
}

static const struct cg_destination *find_dest(const struct cg_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_dest; i++)
		if (strcmp(cfg->dest[i].name, name) == 0)
			return &cfg->dest[i];
	return NULL;
}

/* NULL when the request cannot be built, *rc saying why */
static struct transfer *new_transfer(struct cg_forwarder *f, const struct cg_destination *d,
                                     const struct cg_outbox_item *items, size_t first, size_t n, int *rc)
{
	const struct cg_fwdkind *kind = cg_fwdkind_of(d->type);
	struct transfer *t = calloc(1, sizeof *t);
	char url[1024];
	int notice;

	*rc = CG_ERR_NOMEM;
	if (!t)
		return NULL;
	t->first = first;
	t->r.n = n;
	cg_buf_init(&t->r.body, (size_t)16 << 20);
	cg_buf_init(&t->reply, 256);
	t->easy = curl_easy_init();
	if (!t->easy)
		goto out_fail;
	notice = cg_erasure_is(items[first].payload);
	*rc = notice ? kind->notices(&t->r, d, items, first) : kind->events(&t->r, d, items, first);
	if (*rc != CG_OK)
		goto out_fail;
	*rc = CG_ERR_INVALID;
	t->r.headers = curl_slist_append(t->r.headers, "Content-Type: application/json");
	t->r.headers = curl_slist_append(t->r.headers, "Expect:");
	t->metered = notice && kind->metered;
	if (kind->url(t->easy, d, notice, url, sizeof url))
		goto out_fail;
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	sodium_memzero(url, sizeof url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->r.headers);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->r.body.p);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->r.body.len);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, &t->reply);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* never a proxy from the environment (httpoxy), only http(s) */
	curl_easy_setopt(t->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(f->cfg->forward_timeout_ms < 3000 ? f->cfg->forward_timeout_ms : 3000));
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)f->cfg->forward_timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "consentgate/0.1");
	t->started = mono();
	return t;
out_fail:
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->r.headers);
	cg_buf_free(&t->r.body);
	cg_buf_free(&t->reply);
	free(t);
	return NULL;
}

static void free_transfer(struct transfer *t)
{
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->r.headers);
	cg_buf_free(&t->r.body);
	cg_buf_free(&t->reply);
	free(t);
}

static void set_update(struct cg_outbox_update *u, const struct cg_outbox_item *it, int state,
                       int attempts, int64_t next, const char *err)
{
	u->id = it->id;
	u->state = state;
	u->attempts = attempts;
	u->next_attempt_ms = next;
	snprintf(u->last_error, sizeof u->last_error, "%s", err ? err : "");
}

/* An attempt that failed: tried again after a backoff (under f->mu) */
static void retry_later(struct cg_forwarder *f, const struct cg_outbox_item *it, struct cg_outbox_update *u,
                        int64_t now, const char *why)
{
	double jitter = (double)randombytes_random() / 4294967296.0;
	int64_t delay = cg_backoff_ms(it->attempts + 1, jitter, (int64_t)f->cfg->retry_cap_seconds * 1000);

	set_update(u, it, CG_OB_PENDING, it->attempts + 1, now + delay, why);
	f->stats.retried++;
}

/* Turns a finished request into outbox updates for the rows it carried. */
static void finish(struct cg_forwarder *f, struct transfer *t, CURLcode cc,
                   const struct cg_outbox_item *items, struct cg_outbox_update *ups, size_t *nups,
                   int64_t now)
{
	long status = 0;
	char why[160];
	int state;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
		state = -1; /* retry */
	} else if (status >= 200 && status < 300) {
		why[0] = '\0';
		state = CG_OB_DELIVERED;
	} else if (status == 429 || status >= 500 || status == 408) {
		snprintf(why, sizeof why, "HTTP %ld", status);
		state = -1;
	} else if (status == 403 && t->metered) {
		/* Google's answer to a spent quota (500 a day per property): try
		 * again later; a token without the right scope shows here too */
		snprintf(why, sizeof why, "HTTP %ld: %.120s", status, t->reply.p ? t->reply.p : "");
		state = -1;
	} else {
		/* a 4xx will not get better by retrying; a 3xx is not followed */
		snprintf(why, sizeof why, "HTTP %ld: %.120s", status, t->reply.p ? t->reply.p : "");
		state = CG_OB_DEAD;
	}
	pthread_mutex_lock(&f->mu);
	f->stats.attempts++;
	f->stats.latency_seconds += mono() - t->started;
	for (size_t i = t->first; i < t->first + t->r.n; i++) {
		const struct cg_outbox_item *it = &items[i];
		struct cg_outbox_update *u = &ups[(*nups)++];
		if (state >= 0) {
			set_update(u, it, state, it->attempts + 1, now, why);
			if (state == CG_OB_DELIVERED)
				f->stats.delivered++;
			else
				f->stats.dead++;
		} else {
			retry_later(f, it, u, now, why);
		}
	}
	pthread_mutex_unlock(&f->mu);
}

/* Runs the requests with at most `concurrency` in flight. */
static void run_transfers(struct cg_forwarder *f, struct transfer **ts, size_t nts,
                          const struct cg_outbox_item *items, struct cg_outbox_update *ups,
                          size_t *nups, double last_start)
{
	size_t next = 0, active = 0;
	int running = 0;

	while (next < nts || active) {
		CURLMsg *msg;
		int left;
		if (__atomic_load_n(&f->stopping, __ATOMIC_RELAXED))
			break; /* shutting down: unfinished rows stay pending */
		/* a request started later could outlive the lease: those rows
		 * stay claimed until it ends, then any instance takes them */
		if (mono() > last_start)
			nts = next;
		while (next < nts && active < (size_t)f->cfg->forward_concurrency) {
			curl_multi_add_handle(f->multi, ts[next++]->easy);
			active++;
		}
		curl_multi_perform(f->multi, &running);
		while ((msg = curl_multi_info_read(f->multi, &left))) {
			struct transfer *t = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			curl_multi_remove_handle(f->multi, msg->easy_handle);
			finish(f, t, msg->data.result, items, ups, nups, wall_ms());
			t->done = 1;
			active--;
		}
		if (active)
			curl_multi_poll(f->multi, NULL, 0, 200, NULL);
	}
	for (size_t i = 0; i < next; i++)
		if (!ts[i]->done)
			curl_multi_remove_handle(f->multi, ts[i]->easy);
}

/* The re-check at delivery: what may no longer be sent becomes an update
 * (dropped, dead) instead; send[i] marks the rows that go. */
static void recheck(struct cg_forwarder *f, const struct cg_outbox_item *items, size_t n, int64_t now,
                    char *send, struct cg_outbox_update *ups, size_t *nups)
{
	const struct cg_config *cfg = f->cfg;

	for (size_t i = 0; i < n; i++) {
		const struct cg_outbox_item *it = &items[i];
		const struct cg_destination *d = find_dest(cfg, it->destination);
		struct cg_state st;

		memset(&st, 0, sizeof st);
		if (cg_erasure_is(it->payload) && d) { /* never expires; the visitor is gone */
			send[i] = 1;
			continue;
		}
		if (!cg_rules_deliverable(it->created_ms, now)) {
			set_update(&ups[(*nups)++], it, CG_OB_DROPPED, it->attempts, now, "older than 72 h");
			continue;
		}
		if (!d) {
			set_update(&ups[(*nups)++], it, CG_OB_DEAD, it->attempts, now, "destination not configured");
			continue;
		}
		if (it->subject[0] && f->store->load_state(f->reader, it->subject, &st) != CG_OK)
			continue; /* the store is busy: next round */
		if (it->subject[0] &&
		    !cg_decision_still_allows(it->mode, cg_decide(cfg, d, &st, 0, now))) {
			set_update(&ups[(*nups)++], it, CG_OB_DROPPED, it->attempts, now,
			           st.action == CG_ACT_ERASE ? "erased before delivery"
			           : st.action == CG_ACT_WITHDRAW ? "withdrawn before delivery"
			           : "consent no longer valid at delivery");
			continue;
		}
		send[i] = 1;
	}
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < *nups; i++)
		if (ups[i].state == CG_OB_DROPPED)
			f->stats.dropped++;
		else if (ups[i].state == CG_OB_DEAD)
			f->stats.dead++;
	pthread_mutex_unlock(&f->mu);
}

/* Notices to a metered API (GA4's deletion requests, fwd_kind.h) go one a
 * second per destination (DELETION_PACE_MS): the first one due is sent,
 * the others of the round wait their turn — still pending, attempts and last error as they were,
 * each due a pace after the one before. */
static void pace_deletions(struct cg_forwarder *f, const struct cg_outbox_item *items, size_t n, int64_t now,
                           char *send, struct cg_outbox_update *ups, size_t *nups)
{
	int64_t slot[CG_MAX_DESTINATIONS];

	for (int k = 0; k < f->cfg->n_dest; k++)
		slot[k] = f->deletion_sent_ms[k] + DELETION_PACE_MS;
	for (size_t i = 0; i < n; i++) {
		const struct cg_destination *d = send[i] ? find_dest(f->cfg, items[i].destination) : NULL;
		int k = d ? (int)(d - f->cfg->dest) : 0;
		if (!d || !cg_fwdkind_of(d->type)->metered || !cg_erasure_is(items[i].payload))
			continue;
		if (slot[k] <= now) {
			f->deletion_sent_ms[k] = now;
			slot[k] = now + DELETION_PACE_MS;
			continue;
		}
		send[i] = 0;
		set_update(&ups[(*nups)++], &items[i], CG_OB_PENDING, items[i].attempts, slot[k], items[i].last_error);
		slot[k] += DELETION_PACE_MS;
	}
}

/* Consecutive rows for the same destination (the round is in destination
 * order, events before notices) travel together, as many as its kind's
 * batch or notice_batch (fwd_kind.h: a webhook up to 100 events or
 * notices, GA4 up to 25 events of one client, its kind saying how many of
 * the offered rows went, and a notice alone). Returns how many transfers. */
static size_t make_transfers(struct cg_forwarder *f, const struct cg_outbox_item *items, size_t n,
                             const char *send, struct transfer **ts, struct cg_outbox_update *ups, size_t *nups,
                             int64_t now)
{
	size_t nts = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cg_destination *d;
		size_t k = 1, max;
		int notice, rc;
		if (!send[i])
			continue;
		d = find_dest(f->cfg, items[i].destination);
		if (!d)
			continue; /* checked by recheck; keeps the compiler sure */
		notice = cg_erasure_is(items[i].payload);
		max = notice ? cg_fwdkind_of(d->type)->notice_batch : cg_fwdkind_of(d->type)->batch;
		while (i + k < n && k < max && send[i + k] && cg_erasure_is(items[i + k].payload) == notice &&
		       strcmp(items[i + k].destination, items[i].destination) == 0)
			k++;
		/* A request that cannot be built (a GA4 deletion token file gone,
		 * a notice queued by hand that is not JSON) is an attempt that
		 * failed, said so on the row: left as it was, it would be claimed
		 * again every round, silently, forever. A row that spoils its batch
		 * goes alone, so the rest of the batch still goes. */
		if (!(ts[nts] = new_transfer(f, d, items, i, k, &rc)) && k > 1)
			ts[nts] = new_transfer(f, d, items, i, k = 1, &rc);
		if (ts[nts]) {
			k = ts[nts++]->r.n;
		} else {
			pthread_mutex_lock(&f->mu);
			retry_later(f, &items[i], &ups[(*nups)++], now,
			            rc == CG_ERR_IO ? "cannot read a token from deletion_token_file"
			                            : "the request cannot be built from this row");
			pthread_mutex_unlock(&f->mu);
		}
		i += k - 1;
	}
	return nts;
}

/* A round's rows by destination, each destination's events then its
 * erasure notices, each in id (queueing) order, so that rows for one
 * destination can share a request. */
static int by_destination(const void *a, const void *b)
{
	const struct cg_outbox_item *x = a, *y = b;
	int c = strcmp(x->destination, y->destination);

	if (!c)
		c = cg_erasure_is(x->payload) - cg_erasure_is(y->payload);
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* A delivery acknowledged after its visitor's erasure committed: the
 * erasure dropped the row while it was on its way (so the outcome did not
 * take effect and recorded no recipient), but the destination holds the
 * pseudonym. Its notice is queued now, as it is: the destination did
 * receive it. */
static void late_notice(struct cg_forwarder *f, const struct cg_outbox_item *it)
{
	struct cg_erasure_plan p = {.rows = cg_dest_bit(f->cfg, it->destination)};
	struct cg_outbox_row row;
	struct cg_buf payload;
	uint8_t key[CG_KEY_BYTES];
	size_t n;

	p.certain = p.rows;
	if (!p.rows || f->store->client_key(f->store->ctx, key) != CG_OK)
		return;
	n = cg_erasure_rows(f->cfg, key, it->subject, &p, wall_ms(), &row, &payload, 1);
	sodium_memzero(key, sizeof key);
	if (n && cg_store_submit_wait(f->store, &(struct cg_store_batch){.rows = &row, .nrows = 1}) == CG_OK)
		cg_info("forwarder: %s acknowledged a delivery after the visitor's erasure: erasure notice queued",
		        it->destination);
	if (n)
		cg_buf_free(&payload);
}

static const struct cg_outbox_item *item_of(const struct cg_outbox_item *items, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].id == id)
			return &items[i];
	return NULL;
}

/* Each delivery acknowledged whose outcome did not take effect, of a
 * visitor erased by now: one notice per visitor and destination. */
static void late_notices(struct cg_forwarder *f, const struct cg_outbox_item *items, size_t n,
                         const struct cg_outbox_update *ups, const unsigned char *applied, size_t nups)
{
	for (size_t u = 0; u < nups; u++) {
		const struct cg_outbox_item *it = applied[u] || ups[u].state != CG_OB_DELIVERED
		                                  ? NULL : item_of(items, n, ups[u].id), *prev;
		struct cg_state st;
		int seen = 0;
		if (!it || !it->subject[0] || it->mode != CG_FORWARD_FULL || cg_erasure_is(it->payload) ||
		    f->store->load_state(f->reader, it->subject, &st) != CG_OK || st.action != CG_ACT_ERASE)
			continue;
		for (size_t v = 0; v < u && !seen; v++) {
			prev = applied[v] || ups[v].state != CG_OB_DELIVERED ? NULL : item_of(items, n, ups[v].id);
			seen = prev && strcmp(prev->subject, it->subject) == 0 && strcmp(prev->destination, it->destination) == 0;
		}
		if (!seen)
			late_notice(f, it);
	}
}

/* The outcomes of a round, in one durable batch; applied: which took effect */
static int record_outcomes(struct cg_forwarder *f, const struct cg_outbox_update *ups, size_t n,
                           unsigned char *applied)
{
	struct cg_store_batch b = {.updates = ups, .nupdates = n, .applied = applied};

	return cg_store_submit_wait(f->store, &b);
}

/* One round: due rows → re-check → send → record the outcomes. Returns the
 * number of rows looked at. */
static size_t round_once(struct cg_forwarder *f)
{
	struct cg_outbox_item *items = NULL;
	struct cg_outbox_update *ups = NULL;
	struct transfer **ts = NULL;
	size_t n = 0, nups = 0, nts = 0;
	int64_t now = wall_ms(), lease_ms = (int64_t)f->cfg->lease_seconds * 1000;
	/* the claimed rows must be sent within the lease: as many as the
	 * concurrency can carry in (lease - 2 timeouts), each row its own
	 * request at worst, and no request starts later than that */
	int64_t waves = lease_ms / f->cfg->forward_timeout_ms - 2;
	size_t max = (size_t)(waves > 0 ? waves : 1) * (size_t)f->cfg->forward_concurrency;
	double last_start = mono() + (double)(lease_ms - 2 * (int64_t)f->cfg->forward_timeout_ms) / 1000.0;
	char *send = NULL;
	unsigned char *applied = NULL;

	f->claim_max = max < ROUND_MAX ? max : ROUND_MAX;
	if (f->store->claim_outbox(f->reader, now, f->claim_max, lease_ms, &items, &n) != CG_OK || n == 0)
		goto out;
	ups = calloc(n, sizeof *ups);
	ts = calloc(n, sizeof *ts);
	send = calloc(n, 1);
	applied = calloc(n, 1);
	if (!ups || !ts || !send || !applied)
		goto out;
	qsort(items, n, sizeof *items, by_destination);
	recheck(f, items, n, now, send, ups, &nups);
	pace_deletions(f, items, n, now, send, ups, &nups);
	nts = make_transfers(f, items, n, send, ts, ups, &nups, now);
	run_transfers(f, ts, nts, items, ups, &nups, last_start);
	if (nups && record_outcomes(f, ups, nups, applied) != CG_OK)
		cg_warn("forwarder: could not record %zu delivery outcomes; they will be retried", nups);
	else if (nups)
		late_notices(f, items, n, ups, applied, nups);
out:
	for (size_t i = 0; ts && i < nts; i++)
		free_transfer(ts[i]);
	free(ts);
	free(send);
	free(applied);
	free(ups);
	cg_store_outbox_items_free(items, n);
	return n;
}

static void *forwarder_main(void *arg)
{
	struct cg_forwarder *f = arg;

	for (;;) {
		size_t n;
		pthread_mutex_lock(&f->mu);
		if (f->stopping) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		f->woken = 0;
		pthread_mutex_unlock(&f->mu);

		n = round_once(f);

		pthread_mutex_lock(&f->mu);
		if (n < f->claim_max && !f->woken && !f->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)IDLE_POLL_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&f->cv, &f->mu, &until);
		}
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

int cg_forwarder_start(const struct cg_config *cfg, const struct cg_store_port *st, struct cg_forwarder **out)
{
	struct cg_forwarder *f = calloc(1, sizeof *f);

	*out = NULL;
	if (!f)
		return CG_ERR_NOMEM;
	f->cfg = cfg;
	f->store = st;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->multi = curl_multi_init();
	if (!f->multi || st->reader_open(st->ctx, &f->reader) != CG_OK)
		goto out_fail;
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->forward_concurrency);
	if (pthread_create(&f->thread, NULL, forwarder_main, f) != 0)
		goto out_fail;
	*out = f;
	return CG_OK;
out_fail:
	f->store->reader_free(f->reader);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return CG_ERR_IO;
}

void cg_forwarder_wake(struct cg_forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->woken = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void cg_forwarder_stop(struct cg_forwarder *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	__atomic_store_n(&f->stopping, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	f->store->reader_free(f->reader);
	curl_multi_cleanup(f->multi);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void cg_forwarder_stats(struct cg_forwarder *f, struct cg_forwarder_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	*out = f->stats;
	pthread_mutex_unlock(&f->mu);
}
