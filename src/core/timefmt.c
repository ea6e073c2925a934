#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consentgate/err.h"
#include "consentgate/timefmt.h"

void cg_time_format(int64_t ms, char out[CG_TIME_LEN + 1])
{
	time_t secs = (time_t)(ms / 1000);
	int milli = (int)(ms % 1000);
	struct tm tm;
	char tmp[64];

	if (milli < 0) {
		milli += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
	memcpy(out, tmp, CG_TIME_LEN);
	out[CG_TIME_LEN] = '\0';
}

int cg_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, milli, n = 0;
	struct tm tm;

	if (!s || strlen(s) != CG_TIME_LEN)
		return CG_ERR_INVALID;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi,
	           &sec, &milli, &n) != 7 || n != CG_TIME_LEN)
		return CG_ERR_INVALID;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return CG_ERR_INVALID;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + milli;
	return CG_OK;
}
