/* consentctl's proof commands: keys, head (sign, show), receipt verify,
 * verify --head. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/cfgfile.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/keyfile.h"
#include "consentgate/sign.h"
#include "consentgate/timefmt.h"
#include "cli.h"
#include "rows.h"

#define FILE_MAX (4 * 1024 * 1024)

/* the whole file (malloc'd, NUL-terminated), or NULL with the reason printed */
static char *slurp(const char *path, size_t *len)
{
	char *b, err[CG_CFG_STR + 64];

	if (cg_file_read(strcmp(path, "-") == 0 ? "/dev/stdin" : path, FILE_MAX, &b, len, err, sizeof err) != CG_OK)
		fprintf(stderr, "consentctl: %s\n", err);
	return b;
}

json_t *cg_cli_signed_export(const struct cg_config *cfg, json_t *doc)
{
	struct cg_signer signer;
	char path[CG_CFG_STR + 32], err[512];
	json_t *env;

	cg_keyfile_path(cfg, path, sizeof path);
	if (!doc || cg_keyfile_load(path, 0, &signer, err, sizeof err) != CG_OK) {
		if (doc)
			fprintf(stderr, "consentctl export: the receipt goes unsigned: %s\n", err);
		return doc;
	}
	env = cg_receipt_envelope(&signer, json_object_get(doc, "receipt"));
	cg_signer_wipe(&signer);
	if (env)
		json_object_set_new(doc, "signed_receipt", env);
	return doc;
}

int cg_cli_keys(const struct cg_config *cfg)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	struct cg_pubkey *keys = NULL;
	size_t n = 0;
	int rc;

	if (cg_cli_open(cfg, NULL, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_store_keys(&st, rd, &keys, &n);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl keys: cannot read the keys\n");
		return 1;
	}
	rc = cg_print_json(cg_keys_json(keys, n));
	free(keys);
	return rc;
}

/* head sign: now, whatever the interval, then anchored; head show: the newest */
int cg_cli_head(const struct cg_config *cfg, const char *action)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	struct cg_signed_head h;
	struct cg_signer signer;
	char path[CG_CFG_STR + 32], err[512];
	int64_t id = 0;
	int rc = CG_OK, sign = strcmp(action, "sign") == 0;

	if (!sign && strcmp(action, "show") != 0) {
		fprintf(stderr, "consentctl head: '%s' is not one of show, sign\n", action);
		return 2;
	}
	memset(&signer, 0, sizeof signer);
	cg_keyfile_path(cfg, path, sizeof path);
	if (sign && cg_keyfile_load(path, 0, &signer, err, sizeof err) != CG_OK) {
		fprintf(stderr, "consentctl head sign: %s (run it as the daemon's user, after its first start)\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN); /* an anchor command that ignores its input */
	if (cg_cli_open(cfg, NULL, sign ? CG_STORE_WRITER : CG_STORE_READONLY, &st, &rd)) {
		cg_signer_wipe(&signer);
		return 1;
	}
	if (sign)
		rc = cg_store_sign_and_anchor(&st, rd, cfg, &signer, 1, cg_cli_now_ms(), NULL, &id);
	cg_signer_wipe(&signer);
	if (rc == CG_OK)
		rc = cg_store_latest_head(&st, rd, &h);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl head: %s\n", rc == CG_ERR_NOT_FOUND ? "no head has been signed yet"
		                                                               : "the store failed");
		return rc == CG_ERR_NOT_FOUND ? 3 : 1;
	}
	printf("%s\n", h.envelope);
	if (h.anchor)
		fprintf(stderr, "consentctl head: anchored: %.200s\n", h.anchor);
	cg_signed_head_clear(&h);
	return 0;
}

/* The public keys: from a saved GET /consent/keys (offline), or the log's. */
static int load_keys(const struct cg_config *cfg, const char *keys_file, struct cg_pubkey **keys, size_t *n)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	size_t len;
	char *text;
	int rc;

	if (keys_file) {
		if (!(text = slurp(keys_file, &len)))
			return 1;
		rc = cg_keys_parse(text, len, keys, n);
		free(text);
		if (rc != CG_OK)
			fprintf(stderr, "consentctl: %s: not a key list (GET /consent/keys)\n", keys_file);
		return rc != CG_OK;
	}
	if (cg_cli_open(cfg, NULL, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_store_keys(&st, rd, keys, n);
	cg_cli_close(&st, rd);
	if (rc != CG_OK)
		fprintf(stderr, "consentctl: cannot read the keys\n");
	return rc != CG_OK;
}

/* An envelope of the given type from FILE, checked against the keys:
 * 0 (e filled), or the exit status with the reason printed. */
static int open_signed(const struct cg_config *cfg, const char *file, const char *keys_file, const char *type,
                       struct cg_envelope *e)
{
	struct cg_pubkey *keys = NULL;
	const struct cg_pubkey *k;
	size_t len, n = 0;
	char *text, why[200];
	int rc;

	if (!(text = slurp(file, &len)))
		return 1;
	rc = cg_envelope_parse(text, len, e, why, sizeof why);
	free(text);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: %s: %s\n", file, why);
		return 1;
	}
	if (load_keys(cfg, keys_file, &keys, &n)) {
		cg_envelope_free(e);
		return 1;
	}
	k = cg_keys_find(keys, n, e->key_id);
	rc = !k ? 1 : cg_envelope_verify(e, k->pk) != CG_OK ? 2 : 0;
	free(keys);
	/* the kind the signature covers, not the label beside it */
	if (!rc && (!cg_envelope_kind(e) || strcmp(cg_envelope_kind(e), type) != 0))
		rc = 3;
	if (rc) {
		printf("FAILED: %s: %s\n", file, rc == 1 ? "signed by a key this log does not list"
		                                 : rc == 2 ? "the signature does not match the signed bytes"
		                                           : "the signed payload is not of this kind");
		cg_envelope_free(e);
		return 1;
	}
	return 0;
}

/* the export around the envelope against what was signed: 0, or 1 with
 * the field that differs printed */
static int check_export(const char *file, const struct cg_envelope *e, json_t *r, struct cg_buf *covered)
{
	char *text, why[400] = "what the signature covers does not fit in the report";
	size_t len;
	json_t *doc;
	int rc = 0;

	if (!(text = slurp(file, &len)))
		return 1;
	doc = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_object_get(doc, "signed_receipt")) {
		if (cg_buf_adds(covered, "  a bare envelope: the signature covers the receipt it carries\n") != CG_OK)
			rc = 1;
	} else if (cg_receipt_check(doc, r, covered, why, sizeof why) != CG_OK) {
		printf("FAILED: %s: %s\n", file, why);
		rc = 1;
	}
	(void)e;
	json_decref(doc);
	return rc;
}

int cg_cli_receipt_verify(const struct cg_config *cfg, const char *file, const char *keys_file)
{
	struct cg_envelope e;
	struct cg_buf covered;
	json_t *r;
	int rc;

	if (open_signed(cfg, file, keys_file, "receipt", &e))
		return 1;
	r = json_loadb(e.payload, e.len, 0, NULL);
	cg_buf_init(&covered, 1 << 16);
	rc = !json_is_object(r) ? (printf("FAILED: %s: the signed receipt is not a JSON object\n", file), 1)
	                        : check_export(file, &e, r, &covered);
	/* what the signature covers, never the fields beside it */
	if (!rc)
		printf("OK: a receipt signed by key %s%s: record %lld of %s for visitor %s, %s, chain hash %s\n%s",
		       e.key_id, e.legacy ? " (signed before DSSE)" : "",
		       (long long)json_integer_value(json_object_get(r, "recordId")),
		       json_string_value(json_object_get(r, "eventTime")) ? json_string_value(json_object_get(r, "eventTime")) : "?",
		       json_string_value(json_object_get(r, "piiPrincipalId")) ? json_string_value(json_object_get(r, "piiPrincipalId")) : "?",
		       json_string_value(json_object_get(r, "eventType")) ? json_string_value(json_object_get(r, "eventType")) : "?",
		       json_string_value(json_object_get(r, "recordHash")) ? json_string_value(json_object_get(r, "recordHash")) : "?",
		       covered.p ? covered.p : "");
	cg_buf_free(&covered);
	json_decref(r);
	cg_envelope_free(&e);
	return rc;
}

/* one walk: the head's prefix of the log, and every rule over the whole
 * log (a removal or erasure before the head is explained after it) */
struct head_walk {
	struct cg_head_check c;
	struct cg_verify v;
};

static int head_row(void *arg, const struct cg_event *ev)
{
	struct head_walk *w = arg;

	if (!w->c.reached && !w->c.failed)
		cg_head_check_row(&w->c, ev);
	cg_cli_verify_row(&w->v, ev);
	return 0;
}

/* the walk over the log for a head read from FILE: 0, or the exit status */
static int walk_head(const struct cg_config *cfg, const struct cg_head *head, int min_retention_days,
                     struct head_walk *w)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	int64_t signed_ms = 0;
	int rc;

	if (cg_cli_open(cfg, NULL, CG_STORE_READONLY, &st, &rd))
		return 1;
	cg_head_check_init(&w->c, head);
	rc = cg_cli_verify_begin(&st, rd, min_retention_days, &w->v, NULL, NULL);
	/* the head itself, checked: the log's rows up to it existed then */
	if (rc == CG_OK && cg_time_parse(head->signed_at, &signed_ms) == CG_OK)
		rc = cg_audit_head(w->v.a, head->last_id, signed_ms, head->hash, head->links);
	if (rc == CG_OK)
		rc = st.each_event(rd, NULL, head_row, w);
	cg_cli_verify_release(&w->v);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl verify: cannot read the log\n");
		return 1;
	}
	cg_cli_verify_end(&w->v);
	return 0;
}

/* the head in FILE, opened against the log's keys and checked to be this
 * log's (its site and chain): 0, or the exit status with why printed */
static int open_head(const struct cg_config *cfg, const char *file, struct cg_head *head)
{
	struct cg_pubkey *keys = NULL;
	struct cg_envelope e;
	size_t len, n = 0;
	char *text, why[400];
	int rc;

	if (!(text = slurp(file, &len)))
		return 1;
	rc = cg_envelope_parse(text, len, &e, why, sizeof why);
	free(text);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: %s: %s\n", file, why);
		return 1;
	}
	if (load_keys(cfg, NULL, &keys, &n)) {
		cg_envelope_free(&e);
		return 1;
	}
	rc = cg_head_open(&e, keys, n, head, why, sizeof why);
	free(keys);
	cg_envelope_free(&e);
	if (rc == CG_OK && strcmp(head->site, cfg->site) != 0)
		snprintf(why, sizeof why, "site: the head is signed for site '%.100s', this log's is '%.60s'", head->site,
		         cfg->site);
	else if (rc == CG_OK && strcmp(head->chain, "consent_events") != 0)
		snprintf(why, sizeof why, "chain: the head is signed for chain '%.30s', not this log's consent_events",
		         head->chain);
	else if (rc == CG_OK)
		return 0;
	printf("FAILED: %s: %s\n", file, why);
	return 1;
}

int cg_cli_verify_head(const struct cg_config *cfg, const char *file, int min_retention_days)
{
	static struct head_walk w; /* large */
	const struct cg_audit_result *r;
	struct cg_head head;
	int rc;

	if (open_head(cfg, file, &head))
		return 1;
	memset(&w, 0, sizeof w);
	if ((rc = walk_head(cfg, &head, min_retention_days, &w)) != 0) {
		cg_cli_verify_free(&w.v);
		return rc;
	}
	/* the audit's fault first: it checks every link the head does, by name */
	r = cg_audit_result(w.v.a);
	rc = cg_head_check_finish(&w.c) != CG_OK || r->bad_id;
	if (r->bad_id)
		printf("%s the head signed at %s (row %lld): %s\n", r->bad_id <= head.last_id ? "DIVERGES from" : "BROKEN after",
		       head.signed_at, (long long)head.last_id, r->why);
	else if (rc)
		printf("DIVERGES from the head signed at %s (row %lld): %s\n", head.signed_at, (long long)head.last_id,
		       w.c.why);
	else
		printf("OK: the log still holds the head signed at %s by key %s: row %lld, hash %s, %lld links\n",
		       head.signed_at, head.key_id, (long long)head.last_id, head.hash, (long long)head.links);
	if (!rc && r->notes[0])
		cg_cli_verify_print("  the whole log: ", &w.v);
	cg_cli_verify_free(&w.v);
	return rc;
}

int cg_cli_verify_cmd(const struct cg_config *cfg, const char *database, const char *head_file,
                      int min_retention_days)
{
	struct cg_store_port st = {0};
	struct cg_store_reader *rd = NULL;
	struct cg_verify v = {0};
	int rc;

	if (head_file)
		return cg_cli_verify_head(cfg, head_file, min_retention_days);
	if (cg_cli_open(cfg, database, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_cli_verify(&st, rd, min_retention_days, &v);
	cg_cli_close(&st, rd);
	if (rc != CG_OK) {
		fprintf(stderr, "consentctl: cannot read the database\n");
		cg_cli_verify_free(&v);
		return 1;
	}
	rc = cg_cli_verify_print("", &v);
	cg_cli_verify_free(&v);
	return rc;
}
