/* consentctl bundle: one archive for a regulator (libarchive, tar.gz) —
 * the events of a period, the verification transcript, the signed heads of
 * the period with their anchors, the public keys, the policy-version
 * history, the recipients, a README and verify.py that check it offline,
 * and SHA256SUMS. Never overwrites a file.
 *
 * Memory stays flat in the number of events: each event is written, as a
 * CSV line and as JSON, to a scratch file with no name in the output's
 * directory while the log is read (one read, so one consistent walk of the
 * chain), and each scratch file is copied into the archive afterwards. A
 * tar member's size precedes its bytes, which is why they are not written
 * to the archive directly; a second pass counting sizes would read the log
 * twice, and an erasure or a purge between the passes would change the
 * bytes. The cost is disk: the period's events uncompressed, beside the
 * archive, until it is written. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentgate/chain.h"
#include "consentgate/err.h"
#include "consentgate/export.h"
#include "consentgate/id.h"
#include "consentgate/keyfile.h"
#include "consentgate/outfile.h"
#include "consentgate/shown.h"
#include "consentgate/sign.h"
#include "consentgate/timefmt.h"
#include "bundle.h"
#include "bundle_files.h"
#include "cli.h"

static const char *const csv_cols[] = {
	"id", "subject", "recorded_at", "action", "policy_version", "preferences", "statistics", "marketing",
	"objection_purpose", "objections", "choice_at", "gpc", "dnt", "lang", "banner", "page", "ip_prefix",
	"country", "salt", "core_digest", "personal_digest", "prev_hash", "hash", "ip_digest", "row_format",
};
#define NCOLS (sizeof csv_cols / sizeof csv_cols[0])

static void csv_cell(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putc('"', f);
		for (; *s; s++) {
			putc(*s, f);
			if (*s == '"')
				putc('"', f);
		}
		putc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

static void note_shown(struct bundle *b, const char *id)
{
	for (int i = 0; i < b->nshown; i++)
		if (strcmp(b->shown_ids[i], id) == 0)
			return;
	if (id[0] && b->nshown < MAX_SHOWN)
		snprintf(b->shown_ids[b->nshown++], sizeof b->shown_ids[0], "%s", id);
}

static void add_event(struct bundle *b, const struct cg_event *ev)
{
	json_t *row = cg_bundle_row(ev);
	struct version_seen *vs = NULL;
	struct cg_what_shown w;

	cg_shown_parse(ev->banner, &w);
	note_shown(b, w.build);
	note_shown(b, w.notice);
	note_shown(b, w.vendors);
	for (size_t i = 0; i < NCOLS; i++) {
		json_t *v = json_object_get(row, csv_cols[i]);
		char num[24];
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			s = num;
		}
		csv_cell(b->csv.f, s, i == NCOLS - 1);
	}
	cg_bundle_element(b, &b->events, row);
	json_decref(row);
	b->nevents++;
	for (int i = 0; i < b->nversions && !vs; i++)
		if (strcmp(b->versions[i].version, ev->policy_version) == 0)
			vs = &b->versions[i];
	if (!vs && ev->policy_version[0] && b->nversions < MAX_VERSIONS) {
		vs = &b->versions[b->nversions++];
		snprintf(vs->version, sizeof vs->version, "%s", ev->policy_version);
		memcpy(vs->first, ev->recorded_at, sizeof vs->first);
	}
	if (vs) {
		memcpy(vs->last, ev->recorded_at, sizeof vs->last);
		vs->n++;
	}
}

/* one walk over the log: the chain check, the events of the period with
 * what they need from the rest of the log (bundle_links.c), and each
 * signed head of the period against its row */
static int walk_row(void *arg, const struct cg_event *ev)
{
	struct bundle *b = arg;
	int64_t bad;
	int added = 0;

	cg_cli_verify_row(&b->v, ev);
	bad = cg_audit_result(b->v.a)->bad_id;
	for (; b->next_head < b->nheads && b->parsed[b->next_head].last_id <= ev->id; b->next_head++) {
		const struct cg_head *h = &b->parsed[b->next_head];
		/* the genesis head (row 0, signed at first start) names the empty log, as verify --head reads it */
		int same = h->last_id == 0 ? strcmp(h->hash, CG_CHAIN_GENESIS) == 0 && h->links == 0
		                           : h->last_id == ev->id && strcmp(h->hash, ev->hash) == 0;
		/* a transcript cut short would read as complete: no bundle then */
		if (cg_buf_printf(&b->transcript, "head %lld, signed %s by key %s, row %lld: %s\n",
		                  (long long)b->heads[b->next_head].id, h->signed_at, h->key_id, (long long)h->last_id,
		                  bad && bad <= h->last_id ? "DIVERGES: the chain is broken before it"
		                  : same ? "OK, the log still holds it" : "DIVERGES: the log no longer holds this row's hash"))
			b->failed = 1;
	}
	if (ev->link == CG_LINK_ROW && cg_bundle_of_period(b, ev)) {
		add_event(b, ev);
		added = 1;
	}
	cg_bundle_context(b, ev, added);
	return 0;
}

/* a build or notice the events name: its index entry and its files' bytes */
struct shown_ctx {
	struct bundle *b;
	const struct cg_store_port *st;
	struct cg_store_reader *rd;
};

static int take_shown(void *arg, const struct cg_shown_row *row)
{
	struct shown_ctx *k = arg;
	struct bundle *b = k->b;
	json_t *files = json_array();
	char first[CG_TIME_LEN + 1], retired[CG_TIME_LEN + 1];
	int rc = CG_OK;

	if (!cg_cli_shown_row_ok("bundle", row)) { /* its hashes name members */
		json_decref(files);
		b->refused = 1;
		return CG_ERR_INVALID;
	}
	cg_time_format(row->first_ms, first);
	cg_time_format(row->retired_ms, retired);
	for (size_t i = 0; rc == CG_OK && i < row->nfiles; i++) {
		void *p = realloc(b->files, (b->nfiles + 1) * sizeof *b->files);
		if (!p) {
			rc = CG_ERR_NOMEM;
			break;
		}
		b->files = p;
		snprintf(b->files[b->nfiles].hash, sizeof b->files[0].hash, "%s", row->hashes[i]);
		cg_buf_init(&b->files[b->nfiles].bytes, CG_ENVELOPE_MAX * 16);
		rc = k->st->artefact(k->rd, row->hashes[i], &b->files[b->nfiles].bytes);
		b->nfiles++;
		json_array_append_new(files, json_pack("{s:s, s:s}", "name", row->names[i], "sha256", row->hashes[i]));
	}
	json_array_append_new(b->shown_index, json_pack("{s:s, s:s, s:o, s:s, s:o, s:o}", "id", row->id,
		"kind", cg_shown_kind_name(row->kind),
		"policy_version", row->label[0] ? json_string(row->label) : json_null(), "first_served", first,
		"retired", row->retired_ms ? json_string(retired) : json_null(), "files", files));
	return rc;
}

static int gather_shown(struct bundle *b, const struct cg_store_port *st, struct cg_store_reader *rd)
{
	struct shown_ctx k = {b, st, rd};
	int rc = CG_OK;

	for (int i = 0; rc == CG_OK && i < b->nshown; i++)
		rc = st->each_shown(rd, b->shown_ids[i], take_shown, &k);
	return rc;
}

static int take_head(void *arg, const struct cg_signed_head *h)
{
	struct bundle *b = arg;
	struct cg_signed_head *p;

	if (b->nheads >= MAX_HEADS || !(p = realloc(b->heads, (b->nheads + 1) * sizeof *p)))
		return CG_ERR_NOMEM;
	b->heads = p;
	p[b->nheads] = *h;
	p[b->nheads].envelope = strdup(h->envelope);
	p[b->nheads].anchor = h->anchor ? strdup(h->anchor) : NULL;
	b->nheads++;
	return p[b->nheads - 1].envelope ? CG_OK : CG_ERR_NOMEM;
}

/* the heads' payloads, and whether their signatures hold */
static void check_heads(struct bundle *b, const struct cg_pubkey *keys, size_t nkeys)
{
	b->parsed = calloc(b->nheads + 1, sizeof *b->parsed);
	for (size_t i = 0; b->parsed && i < b->nheads; i++) {
		struct cg_envelope e;
		char why[200];
		if (cg_envelope_parse(b->heads[i].envelope, strlen(b->heads[i].envelope), &e, why, sizeof why) != CG_OK)
			continue;
		if (cg_head_open(&e, keys, nkeys, &b->parsed[i], why, sizeof why) != CG_OK) {
			if (cg_buf_printf(&b->transcript, "head %lld: does not verify: %s\n", (long long)b->heads[i].id, why))
				b->failed = 1;
			memset(&b->parsed[i], 0, sizeof b->parsed[i]);
			b->parsed[i].last_id = INT64_MAX; /* never matched */
		}
		cg_envelope_free(&e);
	}
}

/* a member's header (its size comes first), then its bytes in pieces */
static void member_begin(struct bundle *b, const char *name, int64_t len, crypto_hash_sha256_state *h)
{
	struct archive_entry *e = archive_entry_new();
	char path[256];

	snprintf(path, sizeof path, "%s/%s", b->dir, name);
	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, strcmp(name, "verify.py") == 0 ? 0755 : 0644);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (!e || archive_write_header(b->a, e) != ARCHIVE_OK)
		b->failed = 1;
	archive_entry_free(e);
	crypto_hash_sha256_init(h);
}

static void member_data(struct bundle *b, const void *data, size_t len, crypto_hash_sha256_state *h)
{
	if (len && archive_write_data(b->a, data, len) != (la_ssize_t)len)
		b->failed = 1;
	crypto_hash_sha256_update(h, data, len);
}

static void member_end(struct bundle *b, const char *name, crypto_hash_sha256_state *h)
{
	uint8_t d[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof d + 1];

	crypto_hash_sha256_final(h, d);
	sodium_bin2hex(hex, sizeof hex, d, sizeof d);
	/* the sums of every member but their own */
	if (strcmp(name, "SHA256SUMS") != 0 && cg_buf_printf(&b->sums, "%s  %s\n", hex, name))
		b->failed = 1;
}

static void add_file(struct bundle *b, const char *name, const void *data, size_t len)
{
	crypto_hash_sha256_state h;

	member_begin(b, name, (int64_t)len, &h);
	member_data(b, data, len, &h);
	member_end(b, name, &h);
}

/* a scratch file's bytes as a member: the first `keep` (-1: all) */
static void add_scratch(struct bundle *b, const char *name, const struct scratch *sc, off_t keep)
{
	crypto_hash_sha256_state h;
	char buf[64 * 1024];
	FILE *f = sc->f;
	off_t len = fflush(f) == 0 ? ftello(f) : -1, done = 0;
	size_t n;

	if (keep >= 0 && keep < len)
		len = keep;
	if (len < 0 || fseeko(f, 0, SEEK_SET) != 0) {
		b->failed = 1;
		return;
	}
	member_begin(b, name, (int64_t)len, &h);
	while (!b->failed && done < len && (n = fread(buf, 1, (size_t)(len - done) < sizeof buf ? (size_t)(len - done)
	                                                                                      : sizeof buf, f)) > 0) {
		member_data(b, buf, n, &h);
		done += (off_t)n;
	}
	if (ferror(f) || done != len)
		b->failed = 1;
	member_end(b, name, &h);
}

static void add_json(struct bundle *b, const char *name, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	if (!s)
		b->failed = 1;
	else
		add_file(b, name, s, strlen(s));
	free(s);
	json_decref(j);
}

static void add_heads(struct bundle *b)
{
	for (size_t i = 0; i < b->nheads; i++) {
		json_t *o = json_loads(b->heads[i].envelope, 0, NULL);
		char name[48];
		if (!o)
			continue;
		json_object_set_new(o, "head_id", json_integer(b->heads[i].id));
		json_object_set_new(o, "anchor", b->heads[i].anchor ? json_string(b->heads[i].anchor) : json_null());
		snprintf(name, sizeof name, "heads/%06lld.json", (long long)b->heads[i].id);
		add_json(b, name, o);
	}
}

static json_t *versions_json(const struct bundle *b)
{
	json_t *a = json_array();

	for (int i = 0; i < b->nversions; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "policy_version", b->versions[i].version,
		                                   "first_seen", b->versions[i].first, "last_seen", b->versions[i].last,
		                                   "events", (json_int_t)b->versions[i].n));
	return json_pack("{s:s, s:o}", "in_force", b->cfg->policy_version, "seen_in_events", a);
}

static void add_all(struct bundle *b, const struct cg_pubkey *keys, size_t nkeys)
{
	struct cg_buf readme;
	char when[CG_TIME_LEN + 1];

	cg_time_format((int64_t)time(NULL) * 1000, when);
	cg_buf_init(&readme, 1 << 20);
	if (cg_buf_printf(&readme, "site: %s\nperiod: %s to %s (UTC days, inclusive)%s%s\nwritten: %s\n\n",
	                  b->cfg->site, b->from, b->to, b->subject ? "\nvisitor (subject key): " : "",
	                  b->subject ? b->subject : "", when) ||
	    cg_buf_add(&readme, cg_bundle_readme, cg_bundle_readme_len))
		b->failed = 1;
	add_file(b, "README.txt", readme.p, readme.len);
	cg_buf_free(&readme);
	add_scratch(b, "events.csv", &b->csv, -1);
	add_scratch(b, "events.json", &b->events, -1);
	add_scratch(b, "log_events.json", &b->log_events, -1);
	add_scratch(b, "pruned.json", &b->pruned, -1);
	add_scratch(b, "erasures.json", &b->erasures, -1);
	add_scratch(b, "chain.txt", &b->chain, b->chain_keep);
	if (b->subject)
		add_scratch(b, "others.json", &b->others, -1);
	add_file(b, "verification.txt", b->transcript.p ? b->transcript.p : "", b->transcript.len);
	add_heads(b);
	add_json(b, "keys.json", cg_keys_json(keys, nkeys));
	add_json(b, "policy_versions.json", versions_json(b));
	add_json(b, "recipients.json", cg_export_recipients(b->cfg));
	for (size_t i = 0; i < b->nfiles; i++) {
		char name[96];
		snprintf(name, sizeof name, "artefacts/%s", b->files[i].hash);
		add_file(b, name, b->files[i].bytes.p ? b->files[i].bytes.p : "", b->files[i].bytes.len);
	}
	add_json(b, "artefacts/index.json", json_incref(b->shown_index));
	add_file(b, "verify.py", cg_bundle_verify_py, cg_bundle_verify_py_len);
	/* last: the sums of everything above */
	add_file(b, "SHA256SUMS", b->sums.p ? b->sums.p : "", b->sums.len);
	/* the sums signed: a file replaced with SHA256SUMS rewritten to match
	 * no longer passes for the site's */
	if (b->has_signer) {
		struct cg_buf env;
		cg_buf_init(&env, CG_ENVELOPE_MAX * 2);
		if (cg_envelope_make(&b->signer, CG_TYPE_SUMS, b->sums.p ? b->sums.p : "", b->sums.len, &env) != CG_OK ||
		    cg_buf_adds(&env, "\n") != CG_OK)
			b->failed = 1;
		else
			add_file(b, "SHA256SUMS.dsse.json", env.p, env.len);
		cg_buf_free(&env);
	}
}

/* the key that signs the sums, when this user can read it (else said) */
static void load_signer(struct bundle *b)
{
	char path[CG_CFG_STR + 32], err[512];

	cg_keyfile_path(b->cfg, path, sizeof path);
	b->has_signer = cg_keyfile_load(path, 0, &b->signer, err, sizeof err) == CG_OK;
	if (!b->has_signer)
		fprintf(stderr, "consentctl bundle: SHA256SUMS goes unsigned: %s (run it as the daemon's user)\n", err);
}

/* the archive into fd, the new output file; 0, or 1 */
static int write_archive(struct bundle *b, int fd, const struct cg_pubkey *keys, size_t nkeys)
{
	b->a = archive_write_new();
	if (!b->a || archive_write_add_filter_gzip(b->a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(b->a) != ARCHIVE_OK || archive_write_open_fd(b->a, fd) != ARCHIVE_OK)
		b->failed = 1;
	if (!b->failed)
		add_all(b, keys, nkeys);
	if (b->a && archive_write_close(b->a) != ARCHIVE_OK)
		b->failed = 1;
	archive_write_free(b->a);
	if (fsync(fd) != 0)
		b->failed = 1;
	return b->failed;
}

/* reads the log into b (the events into the scratch files); 0 or the exit
 * status */
static int gather(struct bundle *b, struct cg_pubkey **keys, size_t *nkeys)
{
	struct cg_store_port st;
	struct cg_store_reader *rd = NULL;
	int64_t from_ms = 0, to_ms = 0;
	int rc;

	cg_day_parse(b->from, &from_ms); /* checked by the caller */
	cg_day_parse(b->to, &to_ms);
	if (cg_cli_open(b->cfg, NULL, CG_STORE_READONLY, &st, &rd))
		return 1;
	rc = cg_cli_verify_begin(&st, rd, -1, &b->v, cg_bundle_note_groups, b);
	if (rc == CG_OK)
		rc = cg_store_keys(&st, rd, keys, nkeys);
	if (rc == CG_OK)
		rc = st.each_head(rd, from_ms, to_ms + CG_MS_PER_DAY, 0, take_head, b);
	if (rc == CG_OK) {
		check_heads(b, *keys, *nkeys);
		for (size_t i = 0; b->parsed && i < b->nheads; i++)
			if (b->parsed[i].last_id != INT64_MAX && b->parsed[i].last_id > b->heads_max)
				b->heads_max = b->parsed[i].last_id;
		rc = b->parsed ? st.each_event(rd, NULL, walk_row, b) : CG_ERR_NOMEM;
	}
	if (rc == CG_OK)
		cg_cli_verify_end(&b->v);
	cg_cli_verify_release(&b->v);
	if (rc == CG_OK)
		rc = gather_shown(b, &st, rd);
	cg_cli_close(&st, rd);
	if (rc == CG_OK && (b->failed || cg_bundle_scratch_failed(b)))
		rc = CG_ERR_IO;
	if (rc != CG_OK) {
		if (rc == CG_ERR_IO)
			fprintf(stderr, "consentctl bundle: cannot write the events to the scratch files beside the output "
			        "(is its file system full?)\n");
		else if (!b->refused)
			fprintf(stderr, "consentctl bundle: cannot read the log: %s\n", cg_strerror(rc));
		return 1;
	}
	cg_bundle_close_arrays(b);
	for (; b->next_head < b->nheads; b->next_head++)
		if (cg_buf_printf(&b->transcript, "head %lld: DIVERGES: row %lld is not in the log\n",
		                  (long long)b->heads[b->next_head].id, (long long)b->parsed[b->next_head].last_id))
			b->failed = 1;
	return 0;
}

/* The output, created new (outfile.h), and the scratch files beside
 * it: the output's file system holds the archive anyway, where /tmp may be
 * small or in memory. 0, or 1 with the reason printed. */
static int open_outputs(struct bundle *b, const char *out, int *dfd, char name[CG_OUT_NAME_MAX + 1], int *fd)
{
	FILE **scratch[] = {&b->csv.f, &b->events.f, &b->log_events.f, &b->pruned.f, &b->erasures.f, &b->chain.f,
	                    &b->others.f};
	char err[512];
	int rc = cg_out_path(out, dfd, name, err, sizeof err), sfd = -1;

	if (rc == CG_OK && (rc = cg_out_create(*dfd, name, 0640, fd, err, sizeof err)) == CG_ERR_DUPLICATE) {
		fprintf(stderr, "consentctl bundle: %s: exists already; the bundle never overwrites a file\n", out);
		return 1;
	}
	for (size_t i = 0; rc == CG_OK && i < sizeof scratch / sizeof scratch[0]; i++)
		if ((rc = cg_out_scratch(*dfd, &sfd, err, sizeof err)) == CG_OK && !(*scratch[i] = fdopen(sfd, "w+"))) {
			snprintf(err, sizeof err, "%s", strerror(errno));
			close(sfd);
			rc = CG_ERR_NOMEM;
		}
	if (rc != CG_OK)
		fprintf(stderr, "consentctl bundle: -o %s: %s\n", out, err);
	return rc != CG_OK;
}

static void bundle_free(struct bundle *b)
{
	for (size_t i = 0; i < b->nheads; i++)
		cg_signed_head_clear(&b->heads[i]);
	free(b->heads);
	free(b->parsed);
	cg_bundle_links_free(b);
	cg_cli_verify_free(&b->v);
	cg_buf_free(&b->transcript);
	cg_buf_free(&b->sums);
	json_decref(b->shown_index);
	for (size_t i = 0; i < b->nfiles; i++)
		cg_buf_free(&b->files[i].bytes);
	free(b->files);
}

int cg_cli_bundle(struct cg_cli_bundle_opts *o, const struct cg_config *cfg)
{
	static struct bundle b; /* large */
	struct cg_pubkey *keys = NULL;
	struct cg_buf head;
	char name[CG_OUT_NAME_MAX + 1];
	size_t nkeys = 0;
	int rc, dfd = -1, fd = -1;

	memset(&b, 0, sizeof b);
	b.cfg = cfg;
	snprintf(b.from, sizeof b.from, "%s", o->from);
	snprintf(b.to, sizeof b.to, "%s", o->to);
	b.subject = o->subject;
	snprintf(b.dir, sizeof b.dir, "consentgate-bundle-%s-%s", b.from, b.to);
	cg_buf_init(&b.transcript, (size_t)1 << 26);
	cg_buf_init(&b.sums, (size_t)1 << 24);
	b.shown_index = json_array();
	cg_bundle_links_init(&b);
	rc = open_outputs(&b, o->output, &dfd, name, &fd);
	for (size_t i = 0; rc == 0 && i < NCOLS; i++)
		csv_cell(b.csv.f, csv_cols[i], i == NCOLS - 1);
	rc = rc ? rc : gather(&b, &keys, &nkeys);
	if (rc == 0)
		load_signer(&b);
	if (rc == 0) {
		/* the whole chain's verdict first, then the heads' */
		/* room for the heads' transcript after the verdict (a 4 KiB cap
		 * here once dropped it whole past some sixty heads) */
		cg_buf_init(&head, b.transcript.max + 4096);
		if (cg_cli_verify_text("the whole chain: ", &b.v, &head) ||
		    cg_buf_add(&head, b.transcript.p ? b.transcript.p : "", b.transcript.len))
			b.failed = 1;
		cg_buf_free(&b.transcript);
		b.transcript = head;
		if ((rc = write_archive(&b, fd, keys, nkeys)) != 0)
			fprintf(stderr, "consentctl bundle: writing %s failed; it was removed\n", o->output);
	}
	if (fd >= 0 && close(fd) != 0)
		rc = 1;
	if (rc != 0 && fd >= 0)
		unlinkat(dfd, name, 0); /* the file made above, never another */
	if (rc == 0)
		printf("wrote %s: %lld events, %zu signed heads, %zu keys\n", o->output, b.nevents, b.nheads, nkeys);
	if (dfd >= 0)
		close(dfd);
	free(keys);
	cg_signer_wipe(&b.signer);
	bundle_free(&b);
	return rc;
}
