/* consentctl bundle: a link as a row of the bundle, and what the period's
 * events need from the rest of the log so that verify.py can check them
 * alone (bundle/README.txt):
 *
 *   log_events.json  every log event (each purge's retention and count, the
 *                    change of row format)
 *   pruned.json      every removal a link from the period's first on went
 *                    in, whole: its visitor's last removed row decides it
 *   erasures.json    the erasure of each visitor whose rows here are erased,
 *                    when it lies outside the period
 *   chain.txt        every link from the period's first (whoever's, also in
 *                    a bundle of one visitor) to the last one a row or head
 *                    here or the period needs: "prev HASH", then per link
 *                    "ID KIND CORE_DIGEST PERSONAL_DIGEST HASH" (KIND r, p, l)
 *
 * Each is a scratch file while the log is read (bundle.h). */
#include <stdlib.h>
#include <string.h>

#include "consentgate/chain.h"
#include "consentgate/timefmt.h"
#include "bundle.h"

static json_t *str_or_null(const char *s) { return s[0] ? json_string(s) : json_null(); }
static json_t *tri(int v) { return v == CG_TRI_NULL ? json_null() : json_integer(v); }

json_t *cg_bundle_row(const struct cg_event *ev)
{
	char obj[CG_OBJECTIONS_MAX + 1];
	const char *action = cg_action_name(ev->action), *purpose = cg_purpose_name(ev->objection_purpose);
	json_t *o;

	cg_objections_format(ev->objections, obj);
	o = json_pack("{s:I, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	              "s:o, s:s, s:s, s:s, s:s, s:o, s:i}",
		"id", (json_int_t)ev->id, "subject", str_or_null(ev->subject), "recorded_at", ev->recorded_at,
		"action", action ? json_string(action) : json_null(), "policy_version", str_or_null(ev->policy_version),
		"preferences", tri(ev->choice[CG_PREFERENCES]), "statistics", tri(ev->choice[CG_STATISTICS]),
		"marketing", tri(ev->choice[CG_MARKETING]),
		"objection_purpose", purpose ? json_string(purpose) : json_null(),
		"objections", obj, "choice_at", str_or_null(ev->choice_at), "gpc", tri(ev->gpc), "dnt", tri(ev->dnt),
		"lang", str_or_null(ev->lang), "banner", str_or_null(ev->banner), "page", str_or_null(ev->page),
		"ip_prefix", str_or_null(ev->ip_prefix), "country", str_or_null(ev->country),
		"salt", str_or_null(ev->salt), "core_digest", ev->core_digest, "personal_digest", ev->personal_digest,
		"prev_hash", ev->prev_hash, "hash", ev->hash, "ip_digest", str_or_null(ev->ip_digest),
		"row_format", ev->format);
	/* a value the database holds that the bundle cannot show as it is */
	if (o && ev->malformed)
		json_object_set_new(o, "malformed", json_string(ev->malformed));
	if (o && ev->link == CG_LINK_PRUNED)
		json_object_update_new(o, json_pack("{s:o, s:I, s:o}", "subject_digest", str_or_null(ev->subject_digest),
		                                    "purge_id", (json_int_t)ev->purge_id, "pruned_at",
		                                    str_or_null(ev->pruned_at)));
	if (o && ev->link == CG_LINK_LOG)
		json_object_set_new(o, "record", json_string(ev->record));
	return o;
}

void cg_bundle_element(struct bundle *b, struct scratch *s, json_t *row)
{
	char *text = row ? json_dumps(row, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	const char *p = text, *nl;

	if (!text) {
		b->failed = 1;
		return;
	}
	fputs(s->n ? ",\n  " : "[\n  ", s->f);
	for (; (nl = strchr(p, '\n')); p = nl + 1) {
		fwrite(p, 1, (size_t)(nl - p) + 1, s->f);
		fputs("  ", s->f);
	}
	fputs(p, s->f);
	s->n++;
	free(text);
}

static void element(struct bundle *b, struct scratch *s, const struct cg_event *ev)
{
	json_t *row = cg_bundle_row(ev);

	cg_bundle_element(b, s, row);
	json_decref(row);
}

static int in_period(const struct bundle *b, const char *t)
{
	return strncmp(t, b->from, 10) >= 0 && strncmp(t, b->to, 10) <= 0;
}

int cg_bundle_of_period(const struct bundle *b, const struct cg_event *ev)
{
	if (ev->link == CG_LINK_ROW)
		return in_period(b, ev->recorded_at) && (!b->subject || strcmp(ev->subject, b->subject) == 0);
	return ev->link == CG_LINK_PRUNED && ev->format != 1 && in_period(b, ev->recorded_at) &&
	       (!b->subject || strcmp(ev->subject_digest, b->subject_digest) == 0);
}

static void group_key(const struct cg_event *ev, char key[CG_HEX_HASH_LEN + 24])
{
	snprintf(key, CG_HEX_HASH_LEN + 24, "%s/%lld", ev->subject_digest, (long long)ev->purge_id);
}

/* a link of the period, whoever's: a bundle of one visitor carries them
 * all in chain.txt (without personal fields), so no id of the period is
 * unaccounted for */
static int period_link(const struct bundle *b, const struct cg_event *ev)
{
	return (ev->link == CG_LINK_ROW || (ev->link == CG_LINK_PRUNED && ev->format != 1)) &&
	       in_period(b, ev->recorded_at);
}

/* every removal a link from the period's first on went in, so that each
 * comes whole (its visitor's last row decides it) */
int cg_bundle_note_groups(void *arg, const struct cg_event *ev)
{
	struct bundle *b = arg;
	char key[CG_HEX_HASH_LEN + 24];

	if (!b->first && period_link(b, ev))
		b->first = ev->id;
	if (!b->first || ev->link != CG_LINK_PRUNED || ev->format == 1)
		return 0;
	group_key(ev, key);
	json_object_set_new(b->groups, key, json_true());
	return 0;
}

/* 1 when it took a link of the period's (a removal's, an erasure) */
static int take(struct bundle *b, const struct cg_event *ev, int added)
{
	char key[CG_HEX_HASH_LEN + 24];
	int took = 0;

	if (ev->link == CG_LINK_LOG) {
		element(b, &b->log_events, ev);
	} else if (ev->link == CG_LINK_PRUNED) {
		group_key(ev, key);
		if (ev->format != 1 && json_object_get(b->groups, key)) {
			element(b, &b->pruned, ev);
			took = 1;
		}
	} else if (ev->action == CG_ACT_ERASE) {
		took = json_object_get(b->erased, ev->subject) && !added;
		if (took)
			element(b, &b->erasures, ev);
		json_object_del(b->erased, ev->subject);
	} else if (added && !ev->salt[0]) {
		json_object_set_new(b->erased, ev->subject, json_true());
	}
	return took;
}

static void chain_line(struct bundle *b, const struct cg_event *ev, int needed)
{
	if (!b->chain.n && !needed)
		return;
	if (!b->chain.n++)
		fprintf(b->chain.f, "prev %s\n", b->last_hash);
	fprintf(b->chain.f, "%lld %c %s %s %s\n", (long long)ev->id, "rpl"[ev->link % 3], ev->core_digest,
	        ev->personal_digest, ev->hash);
	if (needed || ev->id <= b->heads_max)
		b->chain_keep = ftello(b->chain.f);
}

/* another visitor's row of the period, in a bundle of one visitor: its
 * core fields with its subject's digest, no personal field, so verify.py
 * recomputes its core digest and sees it is not this visitor's */
static void other_row(struct bundle *b, const struct cg_event *ev)
{
	static const char *const personal[] = {"subject", "gpc", "dnt", "lang", "page", "ip_prefix", "country",
	                                       "salt", "ip_digest"};
	char sd[CG_HEX_HASH_LEN + 1];
	json_t *row = cg_bundle_row(ev);

	for (size_t i = 0; row && i < sizeof personal / sizeof personal[0]; i++)
		json_object_del(row, personal[i]);
	cg_chain_subject_digest(ev->subject, sd);
	if (row)
		json_object_set_new(row, "subject_digest", json_string(sd));
	cg_bundle_element(b, &b->others, row);
	json_decref(row);
}

void cg_bundle_context(struct bundle *b, const struct cg_event *ev, int added)
{
	int other = b->subject && !added && ev->link == CG_LINK_ROW && period_link(b, ev);

	if (other)
		other_row(b, ev);
	chain_line(b, ev, take(b, ev, added) || added || (b->subject && period_link(b, ev)));
	snprintf(b->last_hash, sizeof b->last_hash, "%s", ev->hash);
}

void cg_bundle_close_arrays(struct bundle *b)
{
	struct scratch *arrays[] = {&b->events, &b->log_events, &b->pruned, &b->erasures, &b->others};

	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
		fputs(arrays[i]->n ? "\n]" : "[]", arrays[i]->f);
}

int cg_bundle_scratch_failed(const struct bundle *b)
{
	const struct scratch *all[] = {&b->csv, &b->events, &b->log_events, &b->pruned, &b->erasures, &b->chain,
	                               &b->others};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!all[i]->f || ferror(all[i]->f))
			return 1;
	return 0;
}

void cg_bundle_links_init(struct bundle *b)
{
	b->groups = json_object();
	b->erased = json_object();
	if (b->subject)
		cg_chain_subject_digest(b->subject, b->subject_digest);
	strcpy(b->last_hash, CG_CHAIN_GENESIS);
}

void cg_bundle_links_free(struct bundle *b)
{
	struct scratch *all[] = {&b->csv, &b->events, &b->log_events, &b->pruned, &b->erasures, &b->chain,
	                         &b->others};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->f)
			fclose(all[i]->f);
	json_decref(b->groups);
	json_decref(b->erased);
}
