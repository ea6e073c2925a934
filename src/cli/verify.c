/* Chain verification for consentctl verify and migrate --to. */
#include <stdio.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "cli.h"

void cg_cli_verify_row(struct cg_verify *v, const struct cg_event *ev)
{
	int fault = ev->action < 0 ? cg_chain_check_link(ev, v->head) : cg_chain_check(ev, v->head);

	if (fault != CG_CHAIN_OK && !v->bad_id) {
		v->bad_id = ev->id;
		v->fault = fault;
	}
	if (!v->bad_id) { /* counted up to the first fault */
		v->rows++;
		if (ev->action < 0)
			v->pruned++;
		else if (!ev->salt[0])
			v->redacted++;
	}
	memcpy(v->head, ev->hash, sizeof v->head);
}

static int verify_row(void *arg, const struct cg_event *ev)
{
	struct cg_verify *v = arg;

	cg_cli_verify_row(v, ev);
	return v->bad_id != 0;
}

int cg_cli_verify(const struct cg_store_port *p, struct cg_store_reader *r, struct cg_verify *v)
{
	int rc;

	memset(v, 0, sizeof *v);
	strcpy(v->head, CG_CHAIN_GENESIS);
	rc = p->each_event(r, NULL, verify_row, v);
	return rc == 1 ? CG_OK : rc;
}

void cg_cli_verify_text(const char *label, const struct cg_verify *v, struct cg_buf *out)
{
	if (v->bad_id)
		cg_buf_printf(out, "%sBROKEN at consent_events.id = %lld: %s (%lld rows before it verified)\n", label,
		              (long long)v->bad_id, cg_chain_fault_name(v->fault), v->rows);
	else
		cg_buf_printf(out, "%sOK: %lld rows verified (%lld redacted, %lld pruned by retention), chain head %s\n",
		              label, v->rows, v->redacted, v->pruned, v->head);
}

int cg_cli_verify_print(const char *label, const struct cg_verify *v)
{
	struct cg_buf b;

	cg_buf_init(&b, 4096);
	cg_cli_verify_text(label, v, &b);
	fputs(b.p ? b.p : "", stdout);
	cg_buf_free(&b);
	return v->bad_id ? 1 : 0;
}
