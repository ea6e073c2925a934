/* Country lookups per second on one core, through cg_geo_country (the
 * daemon's own path: sockaddr lookup under the reload lock). Not a test.
 *   geo_bench FILE.mmdb [SECONDS [COUNTRY_PATH]] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "consentgate/geo.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct cg_geo *g = NULL;
	double secs = argc > 2 ? atof(argv[2]) : 2.0, t0, t;
	unsigned long long n = 0, found = 0;
	unsigned x = 2463534242u;
	char cc[3];

	if (argc < 2 || cg_geo_open(argv[1], argc > 3 ? argv[3] : "country.iso_code", &g) != 0) {
		fprintf(stderr, "usage: geo_bench FILE.mmdb [SECONDS [COUNTRY_PATH]]\n");
		return 2;
	}
	t0 = now();
	do {
		for (int i = 0; i < 4096; i++) {
			struct cg_ip ip = {.family = 4};
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			ip.a[0] = (unsigned char)(x >> 24);
			ip.a[1] = (unsigned char)(x >> 16);
			ip.a[2] = (unsigned char)(x >> 8);
			ip.a[3] = (unsigned char)x;
			found += cg_geo_country(g, &ip, cc) == 0;
			n++;
		}
		t = now();
	} while (t - t0 < secs);
	printf("%.0f lookups/s (%llu lookups, %llu found)\n", (double)n / (t - t0), n, found);
	cg_geo_free(g);
	return 0;
}
