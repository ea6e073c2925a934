#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "consentgate/collect.h"
#include "consentgate/decision.h"
#include "consentgate/err.h"

static struct cg_field_error fe;

static int parse(const char *body)
{
	json_t *ev = NULL;
	int rc = cg_collect_parse(body, strlen(body), &ev, &fe);

	json_decref(ev);
	return rc;
}

static void bad(const char *body, const char *field)
{
	assert_int_equal(parse(body), CG_ERR_INVALID);
	if (strcmp(fe.field, field) != 0)
		fail_msg("%s: field [%s], want [%s] (%s)", body, fe.field, field, fe.detail);
}

static void test_parse(void **state)
{
	char big[8192];
	int n;

	(void)state;
	assert_int_equal(parse("{\"events\":[{\"name\":\"page_view\"}]}"), CG_OK);
	assert_int_equal(parse("{\"events\":[{\"name\":\"a\",\"params\":{\"x\":1.5,\"y\":\"z\",\"Long_Name_0123456789012345678901234567\":2}}]}"), CG_OK);
	bad("", "");
	bad("[]", "");
	bad("{}", "events");
	bad("{\"events\":[]}", "events");
	bad("{\"events\":{}}", "events");
	bad("{\"events\":[1]}", "events[0]");
	bad("{\"events\":[{}]}", "events[0].name");
	bad("{\"events\":[{\"name\":\"ok\"},{\"name\":\"1x\"}]}", "events[1].name");
	bad("{\"events\":[{\"name\":\"bad-name\"}]}", "events[0].name");
	bad("{\"events\":[{\"name\":\"google_x\"}]}", "events[0].name");
	bad("{\"events\":[{\"name\":\"a12345678901234567890123456789012345678901\"}]}", "events[0].name");
	bad("{\"events\":[{\"name\":\"a\",\"extra\":1}]}", "events[0].extra");
	bad("{\"events\":[{\"name\":\"a\",\"params\":[]}]}", "events[0].params");
	bad("{\"events\":[{\"name\":\"a\",\"params\":{\"ok\":true}}]}", "events[0].params.ok");
	bad("{\"events\":[{\"name\":\"a\",\"params\":{\"ok\":null}}]}", "events[0].params.ok");
	bad("{\"events\":[{\"name\":\"a\",\"params\":{\"o\":{}}}]}", "events[0].params.o");
	bad("{\"events\":[{\"name\":\"a\",\"params\":{\"_x\":1}}]}", "events[0].params._x");
	bad("{\"events\":[{\"name\":\"a\"}],\"user_id\":\"u\"}", "user_id");
	/* 100 characters are fine, 101 are not; characters, not bytes */
	n = snprintf(big, sizeof big, "{\"events\":[{\"name\":\"a\",\"params\":{\"v\":\"");
	for (int i = 0; i < 100; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "\xc3\xa6");
	snprintf(big + n, sizeof big - (size_t)n, "\"}}]}");
	assert_int_equal(parse(big), CG_OK);
	n = snprintf(big, sizeof big, "{\"events\":[{\"name\":\"a\",\"params\":{\"v\":\"%0101d\"}}]}", 0);
	bad(big, "events[0].params.v");
	/* 25 events / 25 params */
	n = snprintf(big, sizeof big, "{\"events\":[");
	for (int i = 0; i < 26; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"name\":\"e\"}", i ? "," : "");
	snprintf(big + n, sizeof big - (size_t)n, "]}");
	bad(big, "events");
	n = snprintf(big, sizeof big, "{\"events\":[{\"name\":\"e\",\"params\":{");
	for (int i = 0; i < 26; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "%s\"p%d\":1", i ? "," : "", i);
	snprintf(big + n, sizeof big - (size_t)n, "}}]}");
	bad(big, "events[0].params");
}

static void test_client_ids(void **state)
{
	uint8_t k1[32], k2[32];
	char a[CG_CLIENT_ID_MAX], b[CG_CLIENT_ID_MAX];

	(void)state;
	memset(k1, 1, 32);
	memset(k2, 2, 32);
	cg_client_id_full(k1, "ga4", "subjectA", a);
	cg_client_id_full(k1, "ga4", "subjectA", b);
	assert_string_equal(a, b);                     /* stable per visitor */
	cg_client_id_full(k1, "ga4", "subjectB", b);
	assert_string_not_equal(a, b);
	cg_client_id_full(k2, "ga4", "subjectA", b);
	assert_string_not_equal(a, b);                 /* keyed */
	cg_client_id_full(k1, "hotjar", "subjectA", b);
	assert_string_not_equal(a, b);                 /* one pseudonym per vendor */
	cg_client_id_full(k1, "ga", "4subjectA", b);
	assert_string_not_equal(a, b);                 /* the two parts cannot be shifted */
	assert_non_null(strchr(a, '.'));
	cg_client_id_minimised(k1, "ga4", "shop", "192.0.2.0/24", a);
	cg_client_id_minimised(k2, "ga4", "shop", "192.0.2.0/24", b);
	assert_string_not_equal(a, b);                 /* the salt rotates daily */
	cg_client_id_minimised(k1, "ga4", "shop", "192.0.3.0/24", b);
	assert_string_not_equal(a, b);
	cg_client_id_minimised(k1, "audience", "shop", "192.0.2.0/24", b);
	assert_string_not_equal(a, b);
}

/* A payload input for one destination (cfg and d belong to the caller). */
static void payload_in(struct cg_payload_in *in, struct cg_config *cfg, struct cg_destination *d, int type,
                       int mode, const char *client_id, const char *country)
{
	cg_config_defaults(cfg);
	strcpy(cfg->site, "shop.example");
	memset(d, 0, sizeof *d);
	strcpy(d->name, "dest");
	d->type = type;
	memset(in, 0, sizeof *in);
	in->cfg = cfg;
	in->dest = d;
	in->mode = mode;
	in->client_id = client_id;
	in->country = country;
}

static void build(int type, int mode, const int choice[3], const char *events_json, char *out, size_t outlen)
{
	struct cg_config cfg;
	struct cg_destination d;
	struct cg_payload_in in;
	struct cg_buf buf;
	json_error_t e;
	json_t *ev = json_loads(events_json, 0, &e);

	assert_non_null(ev);
	payload_in(&in, &cfg, &d, type, mode, "123.456", "NO");
	memcpy(in.choice, choice, sizeof in.choice);
	in.timestamp_micros = 1700000000000000LL;
	cg_buf_init(&buf, CG_PAYLOAD_MAX);
	assert_int_equal(cg_payload_build(&in, ev, &buf), CG_OK);
	snprintf(out, outlen, "%s", buf.p);
	cg_buf_free(&buf);
	json_decref(ev);
}

#define EV "[{\"name\":\"page_view\",\"params\":{\"page_location\":\"https://shop.example/p?id=7#x\"," \
	"\"page_referrer\":\"https://other.example/q?s=1\",\"page_title\":\"P\",\"value\":9.5}}]"

static void test_ga4_payload(void **state)
{
	const int mkt[3] = {1, 1, 1}, nomkt[3] = {0, 1, 0};
	char out[4096];

	(void)state;
	build(CG_DEST_GA4, CG_FORWARD_FULL, mkt, EV, out, sizeof out);
	assert_string_equal(out,
		"{\"client_id\":\"123.456\",\"timestamp_micros\":1700000000000000,"
		"\"consent\":{\"ad_user_data\":\"GRANTED\",\"ad_personalization\":\"GRANTED\"},"
		"\"user_location\":{\"country_id\":\"NO\"},"
		"\"events\":[{\"timestamp_micros\":1700000000000000,\"name\":\"page_view\",\"params\":{\"page_location\":\"https://shop.example/p?id=7#x\","
		"\"page_referrer\":\"https://other.example/q?s=1\",\"page_title\":\"P\",\"value\":9.5}}]}");
	build(CG_DEST_GA4, CG_FORWARD_FULL, nomkt, EV, out, sizeof out);
	assert_non_null(strstr(out, "\"ad_user_data\":\"DENIED\",\"ad_personalization\":\"DENIED\""));
	/* minimised: no query, no fragment, no referrer, ads denied */
	build(CG_DEST_GA4, CG_FORWARD_MINIMISED, mkt, EV, out, sizeof out);
	assert_non_null(strstr(out, "\"page_location\":\"https://shop.example/p\""));
	assert_null(strstr(out, "referrer"));
	assert_null(strstr(out, "id=7"));
	assert_non_null(strstr(out, "\"ad_user_data\":\"DENIED\""));
	assert_null(strstr(out, "ip_override"));
}

/* every URL-valued param loses its query when minimised, whatever its name */
static void test_minimised_urls(void **state)
{
	static const char ev[] =
		"[{\"name\":\"click\",\"params\":{"
		"\"url\":\"https://shop.example/a?u=1\",\"link\":\"https://x.example/b?l=2#f\","
		"\"outbound\":\"https://y.example/c?o=3\",\"next_page\":\"/d?n=4\","
		"\"href\":\"mailto:a@b.example?subject=5\",\"referer\":\"https://r.example/\","
		"\"Referrer_Host\":\"r.example\",\"Page_Path\":\"d/e?p=6\",\"title\":\"Why? Because.\"}}]";
	const int mkt[3] = {1, 1, 1};
	char out[4096];

	(void)state;
	build(CG_DEST_WEBHOOK, CG_FORWARD_MINIMISED, mkt, ev, out, sizeof out);
	assert_non_null(strstr(out, "\"url\":\"https://shop.example/a\""));
	assert_non_null(strstr(out, "\"link\":\"https://x.example/b\""));
	assert_non_null(strstr(out, "\"outbound\":\"https://y.example/c\""));
	assert_non_null(strstr(out, "\"next_page\":\"/d\""));
	assert_non_null(strstr(out, "\"href\":\"mailto:a@b.example\""));
	assert_non_null(strstr(out, "\"Page_Path\":\"d/e\"")); /* by its name, any case */
	for (int i = 1; i <= 6; i++) {
		char q[8];
		snprintf(q, sizeof q, "=%d", i);
		assert_null(strstr(out, q));
	}
	assert_null(strstr(out, "r.example"));        /* referrers, any spelling, go */
	assert_non_null(strstr(out, "\"title\":\"Why? Because.\"")); /* not a URL: kept */
	/* full consent: sent as the page sent them */
	build(CG_DEST_WEBHOOK, CG_FORWARD_FULL, mkt, ev, out, sizeof out);
	assert_non_null(strstr(out, "\"url\":\"https://shop.example/a?u=1\""));
}

static void test_webhook_payload(void **state)
{
	const int none[3] = {-1, -1, -1};
	char out[4096];

	(void)state;
	build(CG_DEST_WEBHOOK, CG_FORWARD_MINIMISED, none, EV, out, sizeof out);
	assert_non_null(strstr(out, "\"destination\":\"dest\",\"site\":\"shop.example\",\"mode\":\"minimised\","
	                            "\"client_id\":\"123.456\",\"country\":\"NO\","
	                            "\"consent\":{\"preferences\":null,\"statistics\":null,\"marketing\":null}"));
	assert_null(strstr(out, "referrer"));
}

static void test_size_limit(void **state)
{
	struct cg_config cfg;
	struct cg_destination d;
	struct cg_payload_in in;
	struct cg_buf buf;
	json_t *events = json_array();

	(void)state;
	/* 25 events x 25 parameters of 100 control characters: escaped as
	 * \u00XX they are far beyond 130 kB */
	for (int i = 0; i < 25; i++) {
		json_t *p = json_object();
		char v[101];
		memset(v, 1, 100);
		v[100] = '\0';
		for (int k = 0; k < 25; k++) {
			char name[8];
			snprintf(name, sizeof name, "p%d", k);
			json_object_set_new(p, name, json_string(v));
		}
		json_array_append_new(events, json_pack("{s:s, s:o}", "name", "e", "params", p));
	}
	payload_in(&in, &cfg, &d, CG_DEST_GA4, CG_FORWARD_FULL, "1.2", "");
	cg_buf_init(&buf, CG_PAYLOAD_MAX);
	assert_int_equal(cg_payload_build(&in, events, &buf), CG_ERR_TOO_LONG);
	cg_buf_free(&buf);
	json_decref(events);
}

/* cg_ga4_merge: rows of one client become one request, each event keeps its
 * row's time; another client, a different consent, the 25-event cap and the
 * size bound each end the run. */
static char *ga4_row(const char *cid, int marketing, long long ts, int nev, size_t pad)
{
	struct cg_config cfg;
	struct cg_destination d;
	struct cg_payload_in in;
	struct cg_buf b, evs;
	char *padding = calloc(pad + 1, 1);
	json_t *ev;

	memset(padding, 'x', pad);
	cg_buf_init(&evs, 1 << 20);
	assert_int_equal(cg_buf_adds(&evs, "["), CG_OK);
	for (int i = 0; i < nev; i++)
		assert_int_equal(cg_buf_printf(&evs, "%s{\"name\":\"e%d\",\"params\":{\"p\":\"%s\\\"}{\"}}",
		                               i ? "," : "", i, padding), CG_OK);
	assert_int_equal(cg_buf_adds(&evs, "]"), CG_OK);
	ev = json_loads(evs.p, 0, NULL);
	assert_non_null(ev);
	payload_in(&in, &cfg, &d, CG_DEST_GA4, CG_FORWARD_FULL, cid, "NO");
	in.choice[CG_MARKETING] = marketing;
	in.timestamp_micros = ts;
	cg_buf_init(&b, 1 << 20);
	assert_int_equal(cg_payload_build(&in, ev, &b), CG_OK);
	json_decref(ev);
	cg_buf_free(&evs);
	free(padding);
	return cg_buf_take(&b);
}

static void test_ga4_merge(void **state)
{
	char *rows[30];
	const char *p[30];
	struct cg_buf out;
	size_t taken;
	json_t *j, *evs;

	(void)state;
	rows[0] = ga4_row("1.1", 0, 1000, 2, 1);
	rows[1] = ga4_row("1.1", 0, 2000, 1, 1);
	rows[2] = ga4_row("1.2", 0, 3000, 1, 1);
	for (int i = 0; i < 3; i++)
		p[i] = rows[i];
	cg_buf_init(&out, CG_PAYLOAD_MAX);
	assert_int_equal(cg_ga4_merge(p, 3, &out, &taken), CG_OK);
	assert_int_equal(taken, 2);
	j = json_loads(out.p, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "client_id")), "1.1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "user_location"), "country_id")), "NO");
	evs = json_object_get(j, "events");
	assert_int_equal(json_array_size(evs), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 0), "timestamp_micros")), 1000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 1), "timestamp_micros")), 1000);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(evs, 2), "timestamp_micros")), 2000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 1), "name")), "e1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 2), "name")), "e0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(evs, 2), "params"), "p")),
	                    "x\"}{");
	json_decref(j);

	/* another client first: alone, byte for byte */
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p + 1, 2, &out, &taken), CG_OK);
	assert_int_equal(taken, 1);
	assert_string_equal(out.p, rows[1]);
	free(rows[2]);

	/* another consent ends the run */
	rows[2] = ga4_row("1.1", 1, 3000, 1, 1);
	p[2] = rows[2];
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p, 3, &out, &taken), CG_OK);
	assert_int_equal(taken, 2);
	for (int i = 0; i < 3; i++)
		free(rows[i]);

	/* 25 events at most: 30 one-event rows go as 25 */
	for (int i = 0; i < 30; i++)
		p[i] = rows[i] = ga4_row("1.1", 0, 1000 + i, 1, 1);
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p, 30, &out, &taken), CG_OK);
	assert_int_equal(taken, 25);
	j = json_loads(out.p, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 25);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "events"), 24),
	                                                    "timestamp_micros")), 1024);
	json_decref(j);
	for (int i = 0; i < 30; i++)
		free(rows[i]);

	/* the size bound: rows of 40 kB each, three fit under 130 kB */
	for (int i = 0; i < 5; i++)
		p[i] = rows[i] = ga4_row("1.1", 0, 1000 + i, 1, 40000);
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p, 5, &out, &taken), CG_OK);
	assert_int_equal(taken, 3);
	assert_true(out.len < CG_PAYLOAD_MAX);
	j = json_loads(out.p, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 3);
	json_decref(j);
	for (int i = 0; i < 5; i++)
		free(rows[i]);

	/* rows of another shape go alone, as they are: not JSON, and a row
	 * queued before events carried their own time */
	p[0] = "not json";
	p[1] = "not json";
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p, 2, &out, &taken), CG_OK);
	assert_int_equal(taken, 1);
	assert_string_equal(out.p, "not json");
	p[0] = p[1] = "{\"client_id\":\"1.1\",\"timestamp_micros\":1,\"consent\":{},\"events\":[{\"name\":\"a\"}]}";
	cg_buf_reset(&out);
	assert_int_equal(cg_ga4_merge(p, 2, &out, &taken), CG_OK);
	assert_int_equal(taken, 1);
	assert_string_equal(out.p, p[0]);
	cg_buf_free(&out);
}

/* the payload is the JSON jansson wrote before (its escapes, its reals) */
static void test_payload_escapes(void **state)
{
	const int ch[3] = {1, 1, 0};
	char out[4096];
	json_t *j;

	(void)state;
	build(CG_DEST_WEBHOOK, CG_FORWARD_FULL, ch,
	      "[{\"name\":\"e\",\"params\":{\"t\":\"a\\\"b\\\\c\\n\\u0001\\u00e6\\u2028/\",\"i\":-7,\"r\":0.25,\"big\":1e300}}]",
	      out, sizeof out);
	assert_string_equal(out,
		"{\"destination\":\"dest\",\"site\":\"shop.example\",\"mode\":\"full\",\"client_id\":\"123.456\","
		"\"country\":\"NO\",\"consent\":{\"preferences\":true,\"statistics\":true,\"marketing\":false},"
		"\"timestamp_micros\":1700000000000000,\"events\":[{\"name\":\"e\",\"params\":{\"t\":\"a\\\"b\\\\c\\n\\u0001"
		"\xc3\xa6\xe2\x80\xa8/\",\"i\":-7,\"r\":0.25,\"big\":1.0000000000000001e300}}]}");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	json_decref(j);
}

/* cg_buf_printf: in place while it fits, grown when not, refused past the
 * cap with the buffer as it was */
static void test_buf_printf(void **state)
{
	struct cg_buf b;
	char want[600];

	(void)state;
	cg_buf_init(&b, 300);
	assert_int_equal(cg_buf_printf(&b, "%s-%d", "ab", 7), CG_OK);
	assert_string_equal(b.p, "ab-7");
	memset(want, 'x', 251);
	want[251] = '\0';
	assert_int_equal(cg_buf_printf(&b, "%s", want), CG_OK); /* exactly fills 256 */
	assert_int_equal(b.len, 255);
	assert_int_equal(cg_buf_printf(&b, "%d", 12), CG_OK);    /* grows */
	assert_int_equal(b.len, 257);
	assert_int_equal(strcmp(b.p + 255, "12"), 0);
	memset(want, 'y', 50);
	want[50] = '\0';
	assert_int_equal(cg_buf_printf(&b, "%s", want), CG_ERR_TOO_LONG); /* past 300 */
	assert_int_equal(b.len, 257);
	assert_int_equal(strlen(b.p), 257);
	assert_int_equal(cg_buf_printf(&b, "%.43s", want), CG_OK);         /* up to 300 */
	assert_int_equal(b.len, 300);
	cg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_client_ids),
		cmocka_unit_test(test_ga4_payload),
		cmocka_unit_test(test_webhook_payload),
		cmocka_unit_test(test_minimised_urls),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_ga4_merge),
		cmocka_unit_test(test_payload_escapes),
		cmocka_unit_test(test_buf_printf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
