/* The daemon half of the destination kinds' table (src/daemon/fwd_kind.h):
 * every kind of CG_DEST_KINDS has its row with all its operations, none
 * outside the table; each builds its URL, body and headers (GA4's
 * credentials in the query, its notices to deletion_url with a token that
 * must be readable; a webhook's JSON array and the ids it carries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/dest.h"
#include "consentgate/erasure.h"
#include "consentgate/err.h"
#include "fwd_kind.h"

static struct cg_destination dest(int type)
{
	struct cg_destination d;

	memset(&d, 0, sizeof d);
	d.type = type;
	strcpy(d.name, "d");
	strcpy(d.url, "http://127.0.0.1/mp");
	strcpy(d.measurement_id, "G-X");
	strcpy(d.api_secret, "a&b");
	strcpy(d.deletion_url, "http://127.0.0.1/del");
	strcpy(d.deletion_token_file, "/nonexistent/token");
	return d;
}

static void request(struct cg_fwd_request *r, size_t n)
{
	memset(r, 0, sizeof *r);
	cg_buf_init(&r->body, 1 << 20);
	r->n = n;
}

static void done(struct cg_fwd_request *r)
{
	cg_buf_free(&r->body);
	curl_slist_free_all(r->headers);
}

static int has_header(const struct cg_fwd_request *r, const char *h)
{
	for (const struct curl_slist *l = r->headers; l; l = l->next)
		if (strcmp(l->data, h) == 0)
			return 1;
	return 0;
}

static void test_each_kind_has_a_row(void **state)
{
	(void)state;
	for (int i = 0; i < CG_DEST_NKINDS; i++) {
		const struct cg_fwdkind *k = cg_fwdkind_of(i);
		assert_non_null(k);
		assert_true(k->batch > 0 && k->notice_batch > 0);
		assert_non_null(k->events);
		assert_non_null(k->notices);
		assert_non_null(k->url);
	}
	assert_null(cg_fwdkind_of(-1));
	assert_null(cg_fwdkind_of(CG_DEST_NKINDS));
	assert_int_equal(cg_fwdkind_of(CG_DEST_GA4)->notice_batch, 1);
	assert_true(cg_fwdkind_of(CG_DEST_GA4)->metered);
	assert_false(cg_fwdkind_of(CG_DEST_WEBHOOK)->metered);
	assert_int_equal(cg_fwdkind_of(CG_DEST_WEBHOOK)->batch, 100);
}

static void test_urls(void **state)
{
	struct cg_destination g = dest(CG_DEST_GA4), w = dest(CG_DEST_WEBHOOK);
	CURL *easy = curl_easy_init();
	char url[1024];

	(void)state;
	assert_non_null(easy);
	assert_int_equal(cg_fwdkind_of(CG_DEST_GA4)->url(easy, &g, 0, url, sizeof url), CG_OK);
	assert_string_equal(url, "http://127.0.0.1/mp?measurement_id=G-X&api_secret=a%26b");
	assert_int_equal(cg_fwdkind_of(CG_DEST_GA4)->url(easy, &g, 1, url, sizeof url), CG_OK);
	assert_string_equal(url, "http://127.0.0.1/del");
	assert_int_equal(cg_fwdkind_of(CG_DEST_GA4)->url(easy, &g, 0, url, 20), CG_ERR_TOO_LONG);
	assert_int_equal(cg_fwdkind_of(CG_DEST_WEBHOOK)->url(easy, &w, 0, url, sizeof url), CG_OK);
	assert_string_equal(url, "http://127.0.0.1/mp");
	curl_easy_cleanup(easy);
}

static void test_webhook_bodies(void **state)
{
	struct cg_destination w = dest(CG_DEST_WEBHOOK);
	struct cg_outbox_item items[3];
	struct cg_fwd_request r;

	(void)state;
	memset(items, 0, sizeof items);
	items[0].id = 7, items[0].payload = "{\"a\":1}";
	items[1].id = 8, items[1].payload = "{\"b\":2}";
	request(&r, 2);
	assert_int_equal(cg_fwdkind_of(CG_DEST_WEBHOOK)->events(&r, &w, items, 0), CG_OK);
	assert_string_equal(r.body.p, "[{\"a\":1},{\"b\":2}]");
	assert_true(has_header(&r, "X-Consentgate-Delivery: 7-8"));
	assert_true(has_header(&r, "X-Consentgate-Event-Ids: 7,8"));
	done(&r);
	items[1].payload = CG_ERASURE_PREFIX "{\"type\":\"erasure\"}}";
	items[2].id = 9, items[2].payload = CG_ERASURE_PREFIX "{\"type\":\"erasure\",\"n\":2}}";
	request(&r, 2);
	assert_int_equal(cg_fwdkind_of(CG_DEST_WEBHOOK)->notices(&r, &w, items, 1), CG_OK);
	assert_string_equal(r.body.p, "[{\"type\":\"erasure\"},{\"type\":\"erasure\",\"n\":2}]");
	assert_true(has_header(&r, "X-Consentgate-Event-Ids: 8,9"));
	done(&r);
}

/* a GA4 notice needs the operator's token: none readable, no request */
static void test_ga4_notice_needs_its_token(void **state)
{
	struct cg_destination g = dest(CG_DEST_GA4);
	struct cg_outbox_item item;
	struct cg_fwd_request r;

	(void)state;
	memset(&item, 0, sizeof item);
	item.id = 3, item.payload = CG_ERASURE_PREFIX "{\"kind\":\"analytics#userDeletionRequest\"}}";
	request(&r, 1);
	assert_int_equal(cg_fwdkind_of(CG_DEST_GA4)->notices(&r, &g, &item, 0), CG_ERR_IO);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_kind_has_a_row),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_webhook_bodies),
		cmocka_unit_test(test_ga4_notice_needs_its_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
