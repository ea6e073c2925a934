/* Leak reports counted in memory and written once a minute (never a
 * commit per report: a report costs a lock and a lookup), and the metric
 * consentgate_csp_reports_total{vendor}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/log.h"
#include "consentgate/timefmt.h"
#include "daemon.h"

static struct cg_leak_row *find(struct cgd_leaks *L, const struct cg_leak_row *k)
{
	for (size_t i = 0; i < L->n; i++) {
		struct cg_leak_row *r = &L->rows[i];
		if (strcmp(r->day, k->day) == 0 && strcmp(r->vendor, k->vendor) == 0 && strcmp(r->host, k->host) == 0 &&
		    strcmp(r->directive, k->directive) == 0 && strcmp(r->path, k->path) == 0)
			return r;
	}
	return NULL;
}

/* a host matching no vendor: only the first CGD_LEAK_HOSTS of a day are
 * kept, so a flood of made-up names grows nothing */
static int host_admitted(struct cgd_leaks *L, const char *day, const char *host)
{
	if (strcmp(L->hosts_day, day) != 0) {
		snprintf(L->hosts_day, sizeof L->hosts_day, "%s", day);
		L->nhosts = 0;
	}
	for (int i = 0; i < L->nhosts; i++)
		if (strcmp(L->hosts[i], host) == 0)
			return 1;
	if (L->nhosts == CGD_LEAK_HOSTS)
		return 0;
	snprintf(L->hosts[L->nhosts++], sizeof L->hosts[0], "%s", host);
	return 1;
}

/* adds count to a row (under the lock); 0 when the table is full */
static int add(struct cgd_leaks *L, const struct cg_leak_row *k, long long count)
{
	struct cg_leak_row *r = find(L, k);

	if (!r) {
		if (L->n == CGD_LEAK_ROWS)
			return 0;
		r = &L->rows[L->n++];
		*r = *k;
		r->count = 0;
	}
	r->count += count;
	return 1;
}

void cgd_leaks_count(struct daemon *d, const struct cg_leak *l, size_t n, int64_t now_ms)
{
	struct cgd_leaks *L = &d->leaks;
	char t[CG_TIME_LEN + 1];
	struct cg_leak_row k;

	cg_time_format(now_ms, t);
	pthread_mutex_lock(&L->mu);
	for (size_t i = 0; i < n; i++) {
		memset(&k, 0, sizeof k);
		memcpy(k.day, t, 10);
		atomic_fetch_add(&L->reports[l[i].vendor >= 0 ? l[i].vendor : CG_MAX_VENDORS], 1);
		if (l[i].vendor >= 0)
			snprintf(k.vendor, sizeof k.vendor, "%s", d->cfg.vendors[l[i].vendor].name);
		else if (!host_admitted(L, k.day, l[i].host))
			continue;
		else
			snprintf(k.host, sizeof k.host, "%s", l[i].host);
		snprintf(k.directive, sizeof k.directive, "%s", cg_leak_directive_name(l[i].directive));
		snprintf(k.path, sizeof k.path, "%s", l[i].path);
		if (!add(L, &k, 1))
			L->dropped++;
	}
	pthread_mutex_unlock(&L->mu);
}

/* Writes what was counted since the last time; what the store refused is
 * counted again for the next try (as far as the table holds it). */
void cgd_leaks_flush(struct daemon *d)
{
	struct cgd_leaks *L = &d->leaks;
	struct cg_leak_row *rows;
	size_t n;

	if (!d->store.leaks_put)
		return;
	pthread_mutex_lock(&L->mu);
	n = L->n;
	rows = n ? malloc(n * sizeof *rows) : NULL;
	if (rows) {
		memcpy(rows, L->rows, n * sizeof *rows);
		L->n = 0;
	}
	pthread_mutex_unlock(&L->mu);
	if (!rows)
		return;
	if (d->store.leaks_put(d->store.ctx, rows, n) != CG_OK) {
		cg_warn("leak reports: %zu rows could not be written; tried again within a minute", n);
		pthread_mutex_lock(&L->mu);
		for (size_t i = 0; i < n; i++)
			if (!add(L, &rows[i], rows[i].count))
				L->dropped++;
		pthread_mutex_unlock(&L->mu);
	}
	free(rows);
}

int cgd_leaks_metrics(struct daemon *d, struct cg_buf *out)
{
	int rc = cg_buf_printf(out, "# HELP consentgate_csp_reports_total CSP violation reports counted as leaks, by "
	                            "the vendor in use the blocked host belongs to (unknown: none).\n"
	                            "# TYPE consentgate_csp_reports_total counter\n");

	for (int i = 0; i <= d->cfg.n_vendors; i++) {
		int k = i < d->cfg.n_vendors ? i : CG_MAX_VENDORS;
		rc |= cg_buf_printf(out, "consentgate_csp_reports_total{vendor=\"%s\"} %llu\n",
		                    k < CG_MAX_VENDORS ? d->cfg.vendors[k].name : "unknown",
		                    (unsigned long long)atomic_load(&d->leaks.reports[k]));
	}
	return rc;
}
