/* ISO-8601 UTC timestamps with milliseconds: "2026-11-21T23:18:34.123Z".
 * Pure: time is always passed in as milliseconds since the Unix epoch. */
#ifndef CONSENTGATE_TIMEFMT_H
#define CONSENTGATE_TIMEFMT_H

#include <stdint.h>

#define CG_TIME_LEN 24 /* without NUL */
#define CG_MS_PER_DAY INT64_C(86400000)

void cg_time_format(int64_t ms, char out[CG_TIME_LEN + 1]);
/* Accepts exactly the format cg_time_format writes. Out-of-range days and
 * seconds (31 June, :60) roll over, as timegm's do. */
int cg_time_parse(const char *s, int64_t *ms);
/* A calendar day "YYYY-MM-DD" (proleptic Gregorian, UTC): *ms its first
 * millisecond. Unlike cg_time_parse, a day that does not exist (2026-02-30,
 * 2025-02-29, 2026-13-01) is CG_ERR_INVALID, never rolled over. */
int cg_day_parse(const char *s, int64_t *ms);

#endif
