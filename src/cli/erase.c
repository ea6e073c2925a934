/* consentctl erase: what POST /consent/erase does, for requests that come
 * by other ways (e-mail, a letter) and to apply erasures again after a
 * restore: the tombstone, and a notice to each recipient the store records
 * (erasure.h), as far as [limits] erasure_notices_max_rows has room. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "cli.h"

/* who is told: the recipients recorded, and room under the bound */
static int plan(const struct cg_store_port *st, struct cg_store_reader *rd, const struct cg_config *cfg,
                const char *subject, const struct cg_event *evs, size_t n, struct cg_erasure_plan *ep)
{
	long long events, notices;
	uint32_t recorded;
	int64_t since;
	int rc = cg_store_recipients(st, rd, cfg, subject, &recorded, &since);

	if (rc == CG_OK)
		rc = st->outbox_pending(rd, &events, &notices);
	if (rc != CG_OK)
		return rc;
	cg_erasure_plan_init(cfg, evs, n, recorded, since, ep);
	cg_erasure_plan_room(ep, notices < cfg->erasure_notices_max_rows
	                             ? (size_t)(cfg->erasure_notices_max_rows - notices) : 0);
	return CG_OK;
}

static int erase(const struct cg_store_port *st, const struct cg_config *cfg, const char *subject,
                 const struct cg_erasure_plan *ep)
{
	struct cg_outbox_row rows[CG_MAX_DESTINATIONS];
	struct cg_buf payloads[CG_MAX_DESTINATIONS];
	struct cg_event ev;
	uint8_t key[CG_KEY_BYTES];
	size_t nrows;
	int rc = st->client_key(st->ctx, key);

	if (rc != CG_OK)
		return rc;
	cg_event_tombstone(subject, cg_cli_now_ms(), &ev);
	nrows = cg_erasure_rows(cfg, key, subject, ep, cg_cli_now_ms(), rows, payloads, CG_MAX_DESTINATIONS);
	sodium_memzero(key, sizeof key);
	rc = cg_store_submit_wait(st, &(struct cg_store_batch){.event = &ev, .rows = rows, .nrows = nrows});
	if (rc == CG_OK)
		printf("erased: personal fields of the subject's events cleared, queued analytics dropped, "
		       "tombstone consent_events.id = %lld, erasure notices queued for %zu recipients\n",
		       (long long)ev.id, ep->notified);
	if (rc == CG_OK && ep->refused)
		printf("not told: %zu recipients; the erasure notices waiting reached [limits] erasure_notices_max_rows "
		       "(see consentctl outbox)\n", ep->refused);
	for (size_t i = 0; i < nrows; i++)
		cg_buf_free(&payloads[i]);
	return rc;
}

int cg_cli_erase(const struct cg_config *cfg, const char *database, const char *subject)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_erasure_plan ep;
	struct cg_event *evs = NULL;
	size_t n = 0;
	int rc;

	if (cg_cli_open(cfg, database, CG_STORE_WRITER, &st, &rd))
		return 1;
	rc = cg_store_subject_events(&st, rd, subject, &evs, &n);
	if (rc == CG_OK && n && evs[n - 1].action != CG_ACT_ERASE) {
		rc = plan(&st, rd, cfg, subject, evs, n, &ep);
		if (rc == CG_OK)
			rc = erase(&st, cfg, subject, &ep);
	} else if (rc == CG_OK) {
		printf("nothing to erase: %s\n", n ? "already erased" : "no record for that consent ID");
	}
	free(evs);
	cg_cli_close(&st, rd);
	if (rc != CG_OK)
		fprintf(stderr, "consentctl: the erasure failed: %s\n", cg_strerror(rc));
	return rc == CG_OK ? 0 : 1;
}
