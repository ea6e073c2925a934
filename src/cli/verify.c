/* Chain verification for consentctl verify, verify --head, bundle and
 * migrate --to: the core's audit (audit.h) fed through the port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/audit.h"
#include "consentgate/err.h"
#include "consentgate/sign.h"
#include "consentgate/timefmt.h"
#include "cli.h"

struct heads_ctx {
	struct cg_audit *a;
	const struct cg_pubkey *keys;
	size_t nkeys;
};

/* a head of the log whose signature holds bounds the purges before it */
static int take_head(void *arg, const struct cg_signed_head *h)
{
	struct heads_ctx *k = arg;
	struct cg_envelope e;
	struct cg_head head;
	char why[200];
	int64_t ms;
	int rc = CG_OK;

	if (cg_envelope_parse(h->envelope, strlen(h->envelope), &e, why, sizeof why) != CG_OK)
		return CG_OK;
	if (cg_head_open(&e, k->keys, k->nkeys, &head, why, sizeof why) == CG_OK && cg_time_parse(head.signed_at, &ms) == CG_OK)
		rc = cg_audit_head(k->a, head.last_id, ms, head.hash, head.links);
	cg_envelope_free(&e);
	return rc;
}

struct scan {
	struct cg_audit *a;
	cg_store_event_fn also;
	void *arg;
};

static int scan_row(void *arg, const struct cg_event *ev)
{
	struct scan *s = arg;

	cg_audit_scan(s->a, ev);
	return s->also ? s->also(s->arg, ev) : 0;
}

int cg_cli_verify_begin(const struct cg_store_port *p, struct cg_store_reader *r, int min_retention_days,
                        struct cg_verify *v, cg_store_event_fn also, void *also_arg)
{
	struct scan sc = {NULL, also, also_arg};
	struct cg_audit_opts o = {.now_ms = cg_cli_now_ms(), .min_retention_days = min_retention_days};
	struct heads_ctx k = {0};
	struct cg_pubkey *keys = NULL;
	size_t nkeys = 0;
	int rc;

	memset(v, 0, sizeof *v);
	if ((rc = cg_audit_new(&o, &v->a)) != CG_OK)
		return rc;
	/* both walks must see one log: a purge between them is no fault of it */
	if (p->snapshot && (rc = p->snapshot(r, 1)) != CG_OK)
		return rc;
	v->p = p;
	v->r = r;
	k.a = v->a;
	if (cg_store_keys(p, r, &keys, &nkeys) == CG_OK) {
		k.keys = keys;
		k.nkeys = nkeys;
		rc = p->each_head(r, 0, INT64_MAX, 0, take_head, &k);
	}
	free(keys);
	sc.a = v->a;
	if (rc == CG_OK) /* the audit's first walk needs no kept row */
		rc = also || !p->each_link ? p->each_event(r, NULL, scan_row, &sc) : p->each_link(r, scan_row, &sc);
	return rc;
}

void cg_cli_verify_release(struct cg_verify *v)
{
	if (v->p && v->p->snapshot)
		v->p->snapshot(v->r, 0);
	v->p = NULL;
	v->r = NULL;
}

void cg_cli_verify_row(struct cg_verify *v, const struct cg_event *ev)
{
	cg_audit_row(v->a, ev);
}

void cg_cli_verify_end(struct cg_verify *v)
{
	cg_cli_verify_release(v);
	cg_audit_finish(v->a);
	v->done = 1;
}

static int verify_row(void *arg, const struct cg_event *ev)
{
	cg_cli_verify_row(arg, ev);
	return 0;
}

int cg_cli_verify(const struct cg_store_port *p, struct cg_store_reader *r, int min_retention_days,
                  struct cg_verify *v)
{
	int rc = cg_cli_verify_begin(p, r, min_retention_days, v, NULL, NULL);

	if (rc == CG_OK)
		rc = p->each_event(r, NULL, verify_row, v);
	if (rc == CG_OK)
		cg_cli_verify_end(v);
	cg_cli_verify_release(v);
	return rc;
}

void cg_cli_verify_free(struct cg_verify *v)
{
	cg_audit_free(v->a);
	memset(v, 0, sizeof *v);
}

int cg_cli_verify_text(const char *label, const struct cg_verify *v, struct cg_buf *out)
{
	const struct cg_audit_result *r = cg_audit_result(v->a);
	const struct cg_audit_counts *n = &r->n;
	int cut;

	if (r->bad_id)
		return cg_buf_printf(out, "%sBROKEN: %s\n", label, r->why);
	cut = cg_buf_printf(out, "%sOK: %lld rows verified (%lld redacted, %lld pruned by retention), chain head %s\n",
	                    label, n->links, n->redacted, n->pruned + n->pruned_v1, r->head);
	if (!cut && (n->purges || n->formats || n->ip_cleared || n->rows_v1))
		cut = cg_buf_printf(out, "  of them: %lld purges, %lld format events; %lld rows with their IP prefix "
		                    "cleared; %lld rows and %lld pruned links of row format 1\n", n->purges, n->formats,
		                    n->ip_cleared, n->rows_v1, n->pruned_v1);
	for (const char *p = r->notes; *p && !cut;) {
		size_t len = strcspn(p, "\n");
		cut = cg_buf_printf(out, "  note: %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	return cut;
}

int cg_cli_verify_print(const char *label, const struct cg_verify *v)
{
	struct cg_buf b;
	int cut;

	cg_buf_init(&b, 1 << 16);
	/* the verdict is the first line; notes that did not fit are said to be
	 * missing, not dropped in silence */
	cut = cg_cli_verify_text(label, v, &b);
	fputs(b.p ? b.p : "", stdout);
	if (cut)
		fputs("  note: (the report stops here: more notes than it holds)\n", stdout);
	cg_buf_free(&b);
	return cg_audit_result(v->a)->bad_id ? 1 : 0;
}
