/* Leak reports (docs/operators.md#leaks): what the browsers' CSP violation
 * reports are reduced to before anything is counted. Pure.
 *
 * A report names the page's full URL, the blocked URL, the source file and
 * more; what is kept is only the vendor the blocked host belongs to (or the
 * host, validated, when it belongs to none), the directive, and the page's
 * path cut to its first segment. Never an address, a query, a full URL or a
 * visitor's state. */
#ifndef CONSENTGATE_CSPREPORT_H
#define CONSENTGATE_CSPREPORT_H

#include <stddef.h>

#define CG_LEAK_HOST_MAX 253      /* a DNS name */
#define CG_LEAK_PATH_MAX 64       /* "/" and the first segment */
#define CG_LEAKS_PER_BODY 32      /* violations read from one body; the rest are ignored */
#define CG_LEAK_BODY_MAX 65536    /* nginx's cap for the location, and the daemon's */

enum cg_report_kind { CG_REPORT_URI = 0, CG_REPORT_TO };

/* the directives a policy has (csp.h); another is counted as none */
enum cg_leak_directive { CG_LD_SCRIPT = 0, CG_LD_CONNECT, CG_LD_IMG, CG_LD_FRAME, CG_NLD };

struct cg_config;
struct cg_buf;

/* Leaks as counted per day (and stored): the vendor in use, or ("" vendor)
 * the blocked host; the directive; the page's first path segment. */
struct cg_leak_row {
	char day[11];                          /* YYYY-MM-DD, UTC */
	char vendor[48];                       /* CG_VENDOR_NAME_MAX + 1 */
	char host[CG_LEAK_HOST_MAX + 1];
	char directive[16];
	char path[CG_LEAK_PATH_MAX + 1];
	long long count;
};

/* consentctl report --leaks: rows (by day) as enum cg_format (report.h);
 * html: one self-contained page with a bar chart per vendor or host,
 * every value escaped. CG_ERR_TOO_LONG from the buffer. */
int cg_leak_render(const struct cg_leak_row *rows, size_t n, int format, const char *title, struct cg_buf *out);

struct cg_leak {
	int vendor;                          /* index in cfg->vendors, or -1: host */
	char host[CG_LEAK_HOST_MAX + 1];     /* vendor -1: the blocked host, lower case */
	int directive;                       /* enum cg_leak_directive */
	char path[CG_LEAK_PATH_MAX + 1];     /* "/" or "/segment"; "/-" when the segment is not plain */
};

/* Reads one body: kind CG_REPORT_URI ({"csp-report": {...}}) or
 * CG_REPORT_TO (a JSON array of reports; only type "csp-violation" is
 * read). Writes the leaks (at most max) to out, *n of them. Violations that
 * are not a vendor's load are skipped: no host (inline, eval, data:,
 * blob:), a host of the page's own (site_host), a directive the policy does
 * not have, and loads started by a script that is not the page (the
 * banner's releases, a vendor's script loading more of itself; see the
 * documentation). CG_ERR_INVALID when the body is not such a report. */
int cg_leak_parse(const struct cg_config *cfg, int kind, const char *body, size_t len,
                  struct cg_leak *out, size_t max, size_t *n);
const char *cg_leak_directive_name(int d);
/* the vendor index of a host name (lower case) by the vendors' hosts, or -1 */
int cg_leak_vendor_of(const struct cg_config *cfg, const char *host);
/* 1 if s is a host name as kept: a-z 0-9 - . , labels 1-63, at most 253 */
int cg_leak_host_valid(const char *s);

#endif
