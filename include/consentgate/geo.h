/* Country lookup over a MaxMind DB file: only the country is ever read
 * (docs/architecture.md#privacy-invariants, 2). Thread-safe; cg_geo_reopen
 * swaps in a file replaced by rename. */
#ifndef CONSENTGATE_GEO_H
#define CONSENTGATE_GEO_H

#include "consentgate/ip.h"

struct cg_geo;

/* country_path: dotted path in the data, e.g. "country.iso_code". */
int cg_geo_open(const char *path, const char *country_path, struct cg_geo **out);
int cg_geo_reopen(struct cg_geo *g);
/* cc = "NO", or "" if the address is not in the database. */
int cg_geo_country(struct cg_geo *g, const struct cg_ip *ip, char cc[3]);
void cg_geo_free(struct cg_geo *g);

#endif
