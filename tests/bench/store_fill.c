/* Fills a fresh store with N generated events through the storage port and
 * reports what they cost: bytes per event on disk (tables and indexes) and
 * the writer's time per row. The same generator for every schema, so two
 * builds compare row for row (tests/bench/store-size runs both):
 *
 *   bench_store DB N     e.g. bench_store /tmp/x.db 1000000
 *   bench_store URL N    PostgreSQL: a libpq URI (postgresql://...) of an
 *                        empty database; the caller measures its size
 *
 * The visitors: 80 % of events come from a new visitor, 20 % from one seen
 * before (a changed choice, 1 in 10 of them a withdrawal), over 30 days;
 * realistic pages, languages, prefixes. Up to 256 batches are in flight, so
 * the writer group-commits as it does under load. Not a test. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/id.h"
#include "consentgate/storage.h"
#include "consentgate/timefmt.h"

#define INFLIGHT 256

#ifndef CG_ID_RANDOM_BYTES /* a schema-1 build: the ID is 16 random bytes */
#define CG_ID_RANDOM_BYTES CG_ID_BYTES
#define cg_id_make(raw, now_ms, id) ((void)(now_ms), cg_id_encode(raw, id))
#endif

struct slot {
	struct cg_event ev;
	struct cg_store_batch b;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct slot *free_slots[INFLIGHT];
static int nfree, failures;

static void done(void *arg, int status)
{
	pthread_mutex_lock(&mu);
	free_slots[nfree++] = arg;
	failures += status != CG_OK;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}
/* two streams: the IDs' bytes (their length differs between schemas) apart
 * from the events, so every build stores the very same events */
static uint64_t rng = 88172645463325252ull, id_rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	return xorshift(&rng);
}

/* A new visitor's consent ID, as the handler of this build makes it. */
static void new_id(int64_t now_ms, char id[CG_ID_LEN + 1])
{
	uint8_t raw[CG_ID_RANDOM_BYTES];

	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)xorshift(&id_rng);
	cg_id_make(raw, now_ms, id);
}

static void fill(struct cg_event *ev, const char *id, int64_t at, int withdraw)
{
	static const char *const langs[] = {"nb", "nb", "nb", "sv", "en", "da"};
	static const char *const countries[] = {"NO", "NO", "SE", "DK", "FI", "DE"};
	uint64_t r = next_rand();

	memset(ev, 0, sizeof *ev);
	cg_id_subject(id, ev->subject);
	cg_time_format(at, ev->recorded_at);
	ev->action = withdraw ? CG_ACT_WITHDRAW : CG_ACT_CHOICE;
	strcpy(ev->policy_version, "2026-01");
	for (int p = 0; p < CG_NPURPOSES; p++)
		ev->choice[p] = withdraw ? 0 : (int)((r >> p) & 1);
	ev->objection_purpose = -1;
	strcpy(ev->choice_at, ev->recorded_at);
	for (int i = 0; i < CG_SALT_LEN; i++)
		ev->salt[i] = "0123456789abcdef"[(r >> (i % 60)) & 15];
	ev->gpc = (r >> 8) % 20 == 0;
	ev->dnt = (r >> 9) % 10 == 0;
	strcpy(ev->lang, langs[(r >> 12) % 6]);
	/* what was shown, as a choice records it (shown.h) */
	strcpy(ev->banner, "build=79c60a93689838a5ba7217b6e331a89d;notice="
	                   "1e26109fe534052e8e4938209526a56658519fe8bf41d4aab4b41e29063d1ba6");
	snprintf(ev->page, sizeof ev->page, "https://www.example.no/artikler/%u-%s",
	         (unsigned)((r >> 16) % 5000), "nyheter-fra-byen");
	snprintf(ev->ip_prefix, sizeof ev->ip_prefix, "%u.%u.%u.0/24", (unsigned)((r >> 32) % 200 + 20),
	         (unsigned)((r >> 40) % 256), (unsigned)((r >> 48) % 256));
	strcpy(ev->country, countries[(r >> 56) % 6]);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct cg_config cfg;
	struct cg_store_port port;
	struct cg_store_stats st;
	struct stat sb;
	char err[256], (*ids)[CG_ID_LEN + 1];
	long n = argc > 2 ? atol(argv[2]) : 0, nids = 0;
	const int64_t t0 = 1767225600000LL; /* 2026-01-01 */
	double w0, w1;
	off_t bytes;

	if (argc != 3 || n <= 0 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_store DB N\n");
		return 2;
	}
	ids = malloc((size_t)n * sizeof *ids);
	cg_config_defaults(&cfg);
	strcpy(cfg.site, "bench");
	strcpy(cfg.policy_version, "2026-01");
	snprintf(cfg.database, sizeof cfg.database, "%s", argv[1]);
#ifdef CG_URL_MAX /* a build with the PostgreSQL backend */
	if (strncmp(argv[1], "postgres", 8) == 0) {
		cfg.backend = CG_BACKEND_POSTGRESQL;
		snprintf(cfg.url, sizeof cfg.url, "%s", argv[1]);
	}
#endif
	if (!ids || cg_store_port_open(&cfg, CG_STORE_WRITER, &port, err, sizeof err) != CG_OK) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	for (int i = 0; i < INFLIGHT; i++)
		free_slots[nfree++] = calloc(1, sizeof(struct slot));
	w0 = now_s();
	for (long i = 0; i < n; i++) {
		int64_t at = t0 + i * (30LL * 86400 * 1000 / n);
		uint64_t r = next_rand();
		const char *id;
		struct slot *s;
		if (nids == 0 || r % 100 < 80) {
			new_id(at, ids[nids]);
			id = ids[nids++];
		} else {
			id = ids[(r >> 8) % (uint64_t)nids];
		}
		pthread_mutex_lock(&mu);
		while (nfree == 0)
			pthread_cond_wait(&cv, &mu);
		s = free_slots[--nfree];
		pthread_mutex_unlock(&mu);
		fill(&s->ev, id, at, r % 100 >= 98);
		s->b = (struct cg_store_batch){.event = &s->ev};
		if (port.submit(port.ctx, &s->b, done, s) != CG_OK)
			return 1;
	}
	pthread_mutex_lock(&mu);
	while (nfree < INFLIGHT)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	w1 = now_s();
	port.stats(port.ctx, &st);
	cg_store_port_close(&port);   /* checkpoints and truncates the WAL */
	for (int i = 0; i < INFLIGHT; i++)
		free(free_slots[i]);
	free(ids);
	bytes = stat(argv[1], &sb) == 0 ? sb.st_size : 0;
	printf("events %ld visitors %ld failures %d\n", n, nids, failures);
	printf("bytes %lld bytes_per_event %.1f\n", (long long)bytes, (double)bytes / (double)n);
	printf("commits %llu writer_us_per_row %.2f wall_us_per_row %.2f\n",
	       (unsigned long long)st.commits, st.commit_seconds_total * 1e6 / (double)st.rows,
	       (w1 - w0) * 1e6 / (double)n);
	return failures != 0;
}
