/* What this instance shows (shown.h): its banner build, the notice of the
 * policy version and the vendor list, registered in the store at start-up,
 * and the status of the build and list ids choices name, cached for a
 * minute. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/shownfile.h"
#include "consentgate/vendor.h"
#include "daemon.h"

#define CACHE_MS 60000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int put(struct daemon *d, struct cg_shown *s, const char *what)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	rc = d->store.shown_put(d->store.ctx, s, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (rc != CG_OK)
		cg_error("the %s could not be registered in the store", what);
	cg_shown_release(s);
	return rc;
}

static int find_list_in_service(void *ctx, const struct cg_shown_row *row)
{
	*(int *)ctx |= row->kind == CG_SHOWN_VENDORS && !row->retired_ms;
	return CG_OK;
}

/* Whether the store holds a vendor list in service: a site that stopped
 * declaring vendors still retires the list its pages showed. */
static int list_in_service(struct daemon *d, int *yes)
{
	struct cg_store_reader *r = NULL;
	int rc = d->store.reader_open(d->store.ctx, &r);

	*yes = 0;
	if (rc == CG_OK)
		rc = d->store.each_shown(r, NULL, find_list_in_service, yes);
	if (r)
		d->store.reader_free(r);
	return rc;
}

/* The vendor list's exact bytes, as GET /consent/vendors serves them, kept
 * under its id (the SHA-256 of those bytes) as one file, vendors.json: once
 * the site declares vendors (choices record the list then), or to retire
 * the one in service when it no longer does. */
static int put_vendor_list(struct daemon *d)
{
	struct cg_shown s = {.kind = CG_SHOWN_VENDORS, .nfiles = 1};
	struct cg_buf b;
	int in_service = 0;

	if (!d->cfg.n_vendors && list_in_service(d, &in_service) != CG_OK) {
		cg_error("the vendor lists in the store could not be read");
		return CG_ERR_STORAGE;
	}
	if (!d->cfg.n_vendors && !in_service)
		return CG_OK;
	cg_buf_init(&b, CG_VENDOR_LIST_MAX);
	if (cg_vendor_list(d->cfg.vendors, d->cfg.n_vendors, d->cfg.controller_name, &b, s.id) != CG_OK) {
		cg_buf_free(&b);
		return CG_ERR_NOMEM;
	}
	strcpy(s.files[0].name, "vendors.json");
	memcpy(s.files[0].hash, s.id, sizeof s.files[0].hash);
	s.files[0].len = b.len;
	s.files[0].bytes = (const uint8_t *)cg_buf_take(&b);
	if (!s.files[0].bytes)
		return CG_ERR_NOMEM;
	if (put(d, &s, "vendor list") != CG_OK)
		return CG_ERR_STORAGE;
	cg_info("vendors: list %s in service (%d vendors)", d->cfg.vendors_id, d->cfg.n_vendors);
	return CG_OK;
}

int cgd_shown_start(struct daemon *d)
{
	struct cg_shown s;
	char err[512];

	pthread_mutex_init(&d->builds_mu, NULL);
	if (d->cfg.banner_dir[0]) {
		if (cg_shown_load_banner(d->cfg.banner_dir, &s, err, sizeof err) != CG_OK) {
			cg_error("[banner] dir: %s", err);
			return CG_ERR_CONFIG;
		}
		memcpy(d->build, s.id, sizeof d->build);
		if (put(d, &s, "banner build") != CG_OK)
			return CG_ERR_STORAGE;
		cg_info("banner: build %s in service", d->build);
	}
	if (d->cfg.notice_file[0]) {
		if (cg_shown_load_notice(d->cfg.notice_file, d->cfg.policy_version, &s, err, sizeof err) != CG_OK) {
			cg_error("[policy] notice_file: %s", err);
			return CG_ERR_CONFIG;
		}
		memcpy(d->notice, s.id, sizeof d->notice);
		if (put(d, &s, "privacy notice") != CG_OK)
			return CG_ERR_STORAGE;
		cg_info("notice: %s is policy %s's notice", d->notice, d->cfg.policy_version);
	}
	return put_vendor_list(d);
}

struct lookup {
	const char *build;                  /* or vendor list */
	int kind;
	struct cg_shown_row row;            /* the build's */
	int status;
	struct cg_notice_pick pick;
};

static int find_build(void *ctx, const struct cg_shown_row *row)
{
	struct lookup *l = ctx;

	if (row->kind == l->kind && strcmp(row->id, l->build) == 0) {
		l->row = *row;
		l->status = row->retired_ms ? CG_BUILD_RETIRED : CG_BUILD_CURRENT;
	}
	return CG_OK;
}

static int pick_notice(void *ctx, const struct cg_shown_row *row)
{
	struct lookup *l = ctx;

	cg_shown_notice_of(&l->row, row, &l->pick);
	return CG_OK;
}

/* the build's (or list's) status in the store, and for a retired build
 * the notice in service with it (shown.h) */
static int lookup(struct daemon *d, int kind, const char *build, char notice_then[65])
{
	struct cg_store_reader *r = cgd_borrow(d);
	struct lookup l = {.build = build, .kind = kind, .status = CG_BUILD_UNKNOWN, .pick = {.first_ms = -1}};

	if (!r || d->store.each_shown(r, build, find_build, &l) != CG_OK)
		l.status = CG_BUILD_UNKNOWN;
	else if (kind == CG_SHOWN_BANNER && l.status == CG_BUILD_RETIRED &&
	         d->store.each_shown(r, NULL, pick_notice, &l) != CG_OK)
		l.status = CG_BUILD_UNKNOWN;
	cgd_give_back(d, r);
	memcpy(notice_then, l.pick.notice, 65);
	return l.status;
}

/* A build's or vendor list's status (ids of the two differ in length, so
 * they share the cache). */
static int status_of(struct daemon *d, int kind, const char *build, char notice_then[65])
{
	int64_t now = mono_ms();
	int status = CG_BUILD_UNKNOWN, slot = 0;

	pthread_mutex_lock(&d->builds_mu);
	for (int i = 0; i < CGD_BUILD_CACHE; i++) {
		if (strcmp(d->builds[i].id, build) == 0 && now - d->builds[i].at_ms < CACHE_MS) {
			status = d->builds[i].status;
			memcpy(notice_then, d->builds[i].notice, 65);
		}
		if (d->builds[i].at_ms < d->builds[slot].at_ms)
			slot = i;
	}
	pthread_mutex_unlock(&d->builds_mu);
	if (status != CG_BUILD_UNKNOWN)
		return status;
	status = lookup(d, kind, build, notice_then);
	if (status != CG_BUILD_UNKNOWN) { /* never cache unknown ids: anyone can send those */
		pthread_mutex_lock(&d->builds_mu);
		snprintf(d->builds[slot].id, sizeof d->builds[slot].id, "%s", build);
		d->builds[slot].status = status;
		memcpy(d->builds[slot].notice, notice_then, sizeof d->builds[slot].notice);
		d->builds[slot].at_ms = now;
		pthread_mutex_unlock(&d->builds_mu);
	}
	return status;
}

/* this instance's build is always in service here (during a rolling
 * deploy another instance may have put a newer one in service) */
int cgd_build_status(struct daemon *d, const char *build, char notice_then[65])
{
	notice_then[0] = '\0';
	if (d->build[0] && strcmp(build, d->build) == 0)
		return CG_BUILD_CURRENT;
	return status_of(d, CG_SHOWN_BANNER, build, notice_then);
}

/* a vendor list other than this instance's (which the core accepts
 * itself): retired ones are kept, so a list is unknown only if never
 * served, or deleted by the purge once no row named it */
int cgd_vendors_status(struct daemon *d, const char *id)
{
	char unused[65];

	return status_of(d, CG_SHOWN_VENDORS, id, unused);
}
