/* libFuzzer: whole requests through the handler with fake services: routing,
 * the query string, cookies, every body parser, every route. The input is
 * split at NUL bytes into: method, path, query, content type, cookie, remote
 * address, Sec-Fetch-Site, Origin, Sec-GPC, Host, If-None-Match, body. The
 * site declares vendors: GET /consent/vendors and a withdrawal's expiries. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "consentgate/handler.h"

static struct cg_event last;
static int have_last;

static int f_country(void *c, const struct cg_ip *ip, char cc[3])
{
	(void)c;
	cc[0] = ip->a[0] & 1 ? 'N' : '\0';
	cc[1] = 'O';
	cc[2] = '\0';
	return 0;
}
static int f_load(void *c, const char *s, struct cg_state *st)
{
	(void)c;
	memset(st, 0, sizeof *st);
	if (have_last && strcmp(last.subject, s) == 0) {
		st->present = 1;
		st->action = last.action;
		memcpy(st->choice, last.choice, sizeof st->choice);
		st->objections = last.objections;
		st->choice_at_ms = 1;
	}
	return 0;
}
static int f_random(void *c, void *b, size_t n)
{
	(void)c;
	memset(b, 0x5a, n);
	return 0;
}
static int f_keys(void *c, int64_t now, uint8_t k[32], uint8_t s[32])
{
	(void)c;
	(void)now;
	memset(k, 1, 32);
	memset(s, 2, 32);
	return 0;
}
static int f_events(void *c, const char *s, struct cg_event **evs, size_t *n)
{
	(void)c;
	*n = 0;
	*evs = NULL;
	if (have_last && strcmp(last.subject, s) == 0) {
		*evs = malloc(sizeof last);
		if (*evs) {
			**evs = last;
			*n = 1;
		}
	}
	return 0;
}
static int f_report(void *c, int period, const char *since, struct cg_report *out)
{
	struct cg_report_row row;
	(void)c;
	(void)since;
	memset(&row, 0, sizeof row);
	strcpy(row.period, "2026-11-21");
	row.visitors = 7;
	out->period = period;
	return cg_report_add(out, &row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cg_config cfg;
	static int ready;
	const struct cg_ops ops = {.country = f_country, .load_state = f_load, .random = f_random,
	                           .keys = f_keys, .subject_events = f_events, .report = f_report};
	const char *field[12] = {0};
	struct cg_request req;
	struct cg_response res;
	char *buf = malloc(size + 1);
	size_t at = 0;

	if (!buf)
		return 0;
	if (!ready) {
		char err[256];
		cg_config_parse("[server]\nsite = fuzz\n[policy]\nversion = 1\nallowed_origins = https://a.b\n"
		                "[destination.g]\ntype = ga4\nurl = http://x/\nmeasurement_id = G\napi_secret = s\n"
		                "purpose = statistics\n[destination.w]\ntype = webhook\nurl = http://x/\n"
		                "purpose = statistics\nbasis = legitimate_interest\nvendor = sv\n"
		                "[vendor.sv]\ncategory = statistics\nhosts = sv.example\ncookies = _sv_* sv_http\n"
		                "storage = _sv*\nrecipient = SV AS\ncountry = NO\nsource = https://sv.example/\n",
		                "f", &cfg, err, sizeof err);
		cg_config_vendors(&cfg, NULL, "f", err, sizeof err);
		ready = 1;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (int i = 0; i < 12; i++) {
		field[i] = buf + at;
		if (i == 11)
			break;
		at += strlen(buf + at);
		if (at < size)
			at++;
	}
	memset(&req, 0, sizeof req);
	req.method = field[0];
	req.path = field[1];
	req.query = field[2];
	req.content_type = field[3];
	req.cookie = field[4];
	req.remote_addr = field[5];
	req.sec_fetch_site = *field[6] ? field[6] : NULL;
	req.origin = *field[7] ? field[7] : NULL;
	req.sec_gpc = field[8];
	req.host = *field[9] ? field[9] : NULL;
	req.if_none_match = *field[10] ? field[10] : NULL;
	req.body = field[11];
	req.body_len = size - (size_t)(field[11] - buf);
	req.now_ms = 1795303718006;
	cg_response_init(&res);
	cg_handle(&cfg, &ops, &req, &res);
	/* the plan as the daemon carries it out: stored, or failed */
	if (cg_response_needs_store(&res)) {
		if (res.plan.has_event)
			last = res.plan.event;
		have_last |= res.plan.has_event;
		if (size % 2)
			cg_response_store_failed(&res);
	}
	cg_response_free(&res);
	free(buf);
	return 0;
}
