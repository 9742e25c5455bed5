/*
 * Points in time given on command lines (--start-datetime, --stop-datetime,
 * `sluice groups reset --to TIME`, `sluice-apply --reset-to TIME`).
 *
 * Accepted forms:
 *   "2026-12-05 14:30:00"   local time, as mysqlbinlog reads its datetimes
 *   "2026-12-05T14:30:00"   the same with ISO 8601's T
 *   "2026-12-05 14:30"      seconds 0; "2026-12-05" is midnight
 *   any of the above + "Z"  UTC instead of local time
 *   "@1733409000"           seconds since the epoch
 *   "@1733409000123ms"      milliseconds since the epoch
 */
#ifndef SL_TIMEPARSE_H
#define SL_TIMEPARSE_H

#include <stdint.h>

/* Parses text into milliseconds since the epoch. Returns 0, or SL_EINVAL
 * for text in none of the forms above. */
int sl_parse_time_ms(const char *text, int64_t *ms);

#endif
