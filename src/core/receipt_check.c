/* What a signed receipt binds in its export, and the check that everything
 * an export restates of it is what was signed (export.h). Pure. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/export.h"

/* the export's fields a receipt binds, by their digest (arrays: per element) */
static const char *const bound[] = {"controller", "policy", "current_state", "purposes", "retention", "events",
                                    "what_we_keep"};
#define NBOUND (sizeof bound / sizeof bound[0])

/* SHA-256 of a value's compact, key-sorted JSON text, in hex */
static json_t *digest(json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	uint8_t d[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	if (!text)
		return NULL;
	crypto_hash_sha256(d, (const unsigned char *)text, strlen(text));
	free(text);
	sodium_bin2hex(hex, sizeof hex, d, sizeof d);
	return json_string(hex);
}

static json_t *digests(json_t *v)
{
	json_t *a, *e;
	size_t i;

	if (!json_is_array(v))
		return digest(v);
	a = json_array();
	json_array_foreach(v, i, e)
		json_array_append_new(a, digest(e));
	return a;
}

json_t *cg_receipt_binding(json_t *doc)
{
	json_t *sums = json_object();

	for (size_t i = 0; i < NBOUND; i++)
		if (json_object_get(doc, bound[i]))
			json_object_set_new(sums, bound[i], digests(json_object_get(doc, bound[i])));
	return json_pack("{s:s, s:O, s:o}", "subject", json_string_value(json_object_get(doc, "subject")),
	                 "current_state", json_object_get(doc, "current_state"), "sha256", sums);
}

/* the path of the first place a and b differ, appended to path; 0 if equal */
static int first_diff(json_t *a, json_t *b, char *path, size_t size)
{
	size_t len = strlen(path), i;
	const char *k;
	json_t *v;

	if (json_equal(a, b))
		return 0;
	if (json_is_object(a) && json_is_object(b)) {
		json_object_foreach(a, k, v) {
			snprintf(path + len, size - len, ".%s", k);
			if (first_diff(v, json_object_get(b, k), path, size))
				return 1;
		}
		json_object_foreach(b, k, v) {
			snprintf(path + len, size - len, ".%s", k);
			if (!json_object_get(a, k))
				return 1;
		}
		path[len] = '\0';
		return 1;
	}
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		json_array_foreach(a, i, v) {
			snprintf(path + len, size - len, "[%zu]", i);
			if (first_diff(v, json_array_get(b, i), path, size))
				return 1;
		}
	}
	path[len] = '\0';
	return 1;
}

static int differs(const char *field, json_t *file, json_t *signed_v, char *why, size_t whylen)
{
	char path[256];

	snprintf(path, sizeof path, "%s", field);
	if (!first_diff(file, signed_v, path, sizeof path))
		return 0;
	snprintf(why, whylen, "%s: %s", path, file ? "differs from what was signed" : "missing (it was signed)");
	return 1;
}

/* a bound field against its signed digest(s), naming the element */
static int bound_differs(const char *field, json_t *file, json_t *sum, char *why, size_t whylen)
{
	json_t *d;
	size_t i;
	int bad;

	if (!file) {
		snprintf(why, whylen, "%s: missing (it was signed)", field);
		return 1;
	}
	if (!json_is_array(sum)) {
		d = digest(file);
		bad = !json_equal(d, sum);
		json_decref(d);
		if (bad)
			snprintf(why, whylen, "%s: differs from what was signed", field);
		return bad;
	}
	if (!json_is_array(file) || json_array_size(file) != json_array_size(sum)) {
		snprintf(why, whylen, "%s: holds %zu entries, %zu were signed", field, json_array_size(file),
		         json_array_size(sum));
		return 1;
	}
	for (i = 0; i < json_array_size(sum); i++) {
		d = digest(json_array_get(file, i));
		bad = !json_equal(d, json_array_get(sum, i));
		json_decref(d);
		if (bad) {
			json_int_t id = json_integer_value(json_object_get(json_array_get(file, i), "id"));
			if (id)
				snprintf(why, whylen, "%s[%zu] (row %lld): differs from what was signed", field, i, (long long)id);
			else
				snprintf(why, whylen, "%s[%zu]: differs from what was signed", field, i);
			return 1;
		}
	}
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* a receipt signed before exports were bound: what it does restate */
static int legacy_differs(json_t *doc, json_t *r, char *why, size_t whylen)
{
	json_t *ev = json_array_get(json_object_get(doc, "events"),
	                                  json_array_size(json_object_get(doc, "events")) - 1);
	json_t *cur = json_object_get(doc, "current_state"), *ctl = json_array_get(json_object_get(r, "piiControllers"), 0);
	struct {
		const char *field;
		json_t *file, *signed_v;
	} same[] = {
		{"events[last].id", json_object_get(ev, "id"), json_object_get(r, "recordId")},
		{"events[last].hash", json_object_get(ev, "hash"), json_object_get(r, "recordHash")},
		{"events[last].recorded_at", json_object_get(ev, "recorded_at"), json_object_get(r, "eventTime")},
		{"events[last].action", json_object_get(ev, "action"), json_object_get(r, "eventType")},
		{"current_state.last_action", json_object_get(cur, "last_action"), json_object_get(r, "eventType")},
		{"current_state.policy_version", json_object_get(cur, "policy_version"), json_object_get(r, "noticeVersion")},
		{"controller.name", json_object_get(json_object_get(doc, "controller"), "name"),
		 json_object_get(ctl, "piiController")},
		{"controller.contact", json_object_get(json_object_get(doc, "controller"), "contact"),
		 json_object_get(ctl, "contact")},
		{"policy.url", json_object_get(json_object_get(doc, "policy"), "url"), json_object_get(r, "policyUrl")},
	};

	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
		if (differs(same[i].field, same[i].file, same[i].signed_v, why, whylen))
			return 1;
	return 0;
}

/* what the signature covers and what it does not, as receipt verify prints it */
static int covered_text(json_t *doc, json_t *b, json_t *sums, struct cg_buf *covered)
{
	const char *k;
	json_t *v;
	int rc = cg_buf_adds(covered, "  the signature covers: the receipt, subject");

	json_object_foreach(sums, k, v)
		rc |= cg_buf_printf(covered, ", %s", k);
	if (!b)
		rc |= cg_buf_adds(covered, " (signed before exports were bound: of the rest, only the last event's id, "
		                           "hash, time and action, current_state.last_action and policy_version, "
		                           "controller and policy.url)");
	rc |= cg_buf_adds(covered, "\n  not covered by the signature:");
	json_object_foreach(doc, k, v)
		if (strcmp(k, "receipt") != 0 && strcmp(k, "subject") != 0 && strcmp(k, "signed_receipt") != 0 &&
		    !json_object_get(sums, k))
			rc |= cg_buf_printf(covered, " %s", k);
	rc |= cg_buf_adds(covered, "\n");
	/* a list cut short would claim less than is there: no verdict then */
	return rc ? CG_ERR_TOO_LONG : CG_OK;
}

int cg_receipt_check(json_t *doc, json_t *r, struct cg_buf *covered, char *why, size_t whylen)
{
	json_t *b = json_object_get(r, "exportBinding"), *sums = json_object_get(b, "sha256");
	const char *subject = str(doc, "subject"), *k;
	json_t *v;

	if (!subject || !str(r, "piiPrincipalId") || strcmp(subject, str(r, "piiPrincipalId")) != 0) {
		snprintf(why, whylen, "subject: the signed receipt is another visitor's (piiPrincipalId %.80s)",
		         str(r, "piiPrincipalId") ? str(r, "piiPrincipalId") : "missing");
		return CG_ERR_INVALID;
	}
	if (differs("receipt", json_object_get(doc, "receipt"), r, why, whylen))
		return CG_ERR_INVALID;
	if (b) {
		if (differs("current_state", json_object_get(doc, "current_state"), json_object_get(b, "current_state"),
		            why, whylen))
			return CG_ERR_INVALID;
		json_object_foreach(sums, k, v)
			if (bound_differs(k, json_object_get(doc, k), v, why, whylen))
				return CG_ERR_INVALID;
	} else if (legacy_differs(doc, r, why, whylen)) {
		return CG_ERR_INVALID;
	}
	return covered_text(doc, b, sums, covered);
}
