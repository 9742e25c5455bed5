/* Points in time on command lines; see timeparse.h. */
#include "timeparse.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sl_parse_time_ms(const char *text, int64_t *ms) {
    if (text == NULL || text[0] == '\0')
        return SL_EINVAL;
    if (text[0] == '@') {
        char *end;
        long long v = strtoll(text + 1, &end, 10);
        if (end == text + 1 || v < 0)
            return SL_EINVAL;
        if (strcmp(end, "ms") == 0) {
            *ms = v;
            return 0;
        }
        if (*end != '\0' || v > INT64_MAX / 1000)
            return SL_EINVAL;
        *ms = (int64_t)v * 1000;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    int y, mo, d, h = 0, mi = 0, s = 0;
    char sep;
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return SL_EINVAL;
    const char *p = text + n;
    if ((*p == ' ' || *p == 'T') &&
        sscanf(p, "%c%2d:%2d%n", &sep, &h, &mi, &n) == 3) {
        p += n;
        if (*p == ':') {
            if (sscanf(p, ":%2d%n", &s, &n) != 1)
                return SL_EINVAL;
            p += n;
        }
    }
    int utc = 0;
    if (strcmp(p, "Z") == 0 || strcmp(p, " UTC") == 0)
        utc = 1;
    else if (*p != '\0')
        return SL_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
        h < 0 || mi < 0 || s < 0 || y < 1970)
        return SL_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    time_t t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1)
        return SL_EINVAL;
    *ms = (int64_t)t * 1000;
    return 0;
}
