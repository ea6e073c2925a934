/* Written out by hand rather than with gmtime_r/snprintf and sscanf/timegm:
 * every consent formats and parses a few of these, and the libc route was
 * ~6 % of the daemon's CPU per request. The calendar arithmetic counts
 * years from March, so that the leap day is the last day of a year and a
 * month's first day follows from a linear formula (the days-from-civil
 * method); out-of-range days and seconds (31 June, :60) roll over as
 * timegm's do. tests/unit/test_chain.c compares both with libc over a
 * sweep of instants. */
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/timefmt.h"

/* floor division, for instants before 1970 */
static int64_t fdiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = fdiv(y, 400);
	yoe = y - era * 400;                                 /* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* from 1 March */
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = fdiv(z, 146097);
	doe = z - era * 146097;                                       /* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  /* [0, 399] */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = era * 400 + yoe + (*m <= 2);
}

static void put_digits(char *p, int64_t v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void cg_time_format(int64_t ms, char out[CG_TIME_LEN + 1])
{
	int64_t days = fdiv(ms, CG_MS_PER_DAY), in_day = ms - days * CG_MS_PER_DAY, y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	memcpy(out, "0000-00-00T00:00:00.000Z", CG_TIME_LEN + 1);
	put_digits(out, ((y % 10000) + 10000) % 10000, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, in_day / 3600000, 2);
	put_digits(out + 14, in_day / 60000 % 60, 2);
	put_digits(out + 17, in_day / 1000 % 60, 2);
	put_digits(out + 20, in_day % 1000, 3);
}

/* n decimal digits at p, or -1 */
static int digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int cg_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, milli;

	if (!s || strlen(s) != CG_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return CG_ERR_INVALID;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	milli = digits(s + 20, 3);
	if (y < 0 || milli < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return CG_ERR_INVALID;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * INT64_C(60000) + sec * 1000 + milli;
	return CG_OK;
}

int cg_day_parse(const char *s, int64_t *ms)
{
	int64_t days, y2;
	int y, mo, d, m2, d2;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return CG_ERR_INVALID;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return CG_ERR_INVALID;
	/* the day exists when it comes back from its day number unchanged */
	days = days_from_civil(y, mo, d);
	civil_from_days(days, &y2, &m2, &d2);
	if (y2 != y || m2 != mo || d2 != d)
		return CG_ERR_INVALID;
	*ms = days * CG_MS_PER_DAY;
	return CG_OK;
}
