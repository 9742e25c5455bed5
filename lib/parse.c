#include "parse.h"

#include "error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int sl_parse_u64(const char *text, uint64_t *v) {
    if (text == NULL || !isdigit((unsigned char)*text))
        return SL_EINVAL;
    uint64_t out = 0;
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return SL_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (out > (UINT64_MAX - d) / 10)
            return SL_ERANGE;
        out = out * 10 + d;
    }
    *v = out;
    return 0;
}

int sl_parse_i64(const char *text, int64_t *v) {
    if (text == NULL)
        return SL_EINVAL;
    int neg = *text == '-';
    uint64_t mag;
    int err = sl_parse_u64(text + neg, &mag);
    if (err != 0)
        return err;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return SL_ERANGE;
        *v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return SL_ERANGE;
        *v = (int64_t)mag;
    }
    return 0;
}

/* Splits text into its leading digits and a unit suffix. */
static int split_unit(const char *text, uint64_t *num, const char **unit) {
    char digits[32];
    size_t n = 0;
    if (text == NULL)
        return SL_EINVAL;
    while (isdigit((unsigned char)text[n])) {
        if (n + 1 >= sizeof digits)
            return SL_ERANGE;
        digits[n] = text[n];
        n++;
    }
    if (n == 0)
        return SL_EINVAL;
    digits[n] = '\0';
    *unit = text + n;
    return sl_parse_u64(digits, num);
}

int sl_parse_size(const char *text, uint64_t *bytes) {
    uint64_t num;
    const char *unit;
    int err = split_unit(text, &num, &unit);
    if (err != 0)
        return err;
    unsigned shift = 0;
    char c = (char)tolower((unsigned char)*unit);
    switch (c) {
    case '\0': break;
    case 'b': shift = 0; break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return SL_EINVAL;
    }
    if (c != '\0' && c != 'b') {
        const char *rest = unit + 1;
        if (*rest != '\0' && strcasecmp(rest, "b") != 0 &&
            strcasecmp(rest, "ib") != 0)
            return SL_EINVAL;
    } else if (c == 'b' && unit[1] != '\0') {
        return SL_EINVAL;
    }
    if (shift && num > (UINT64_MAX >> shift))
        return SL_ERANGE;
    *bytes = num << shift;
    return 0;
}

int sl_parse_duration_ms(const char *text, uint64_t *ms) {
    uint64_t num;
    const char *unit;
    int err = split_unit(text, &num, &unit);
    if (err != 0)
        return err;
    uint64_t mul;
    if (*unit == '\0' || strcmp(unit, "ms") == 0)
        mul = 1;
    else if (strcmp(unit, "s") == 0)
        mul = 1000;
    else if (strcmp(unit, "m") == 0)
        mul = 60000;
    else if (strcmp(unit, "h") == 0)
        mul = 3600000;
    else if (strcmp(unit, "d") == 0)
        mul = 86400000;
    else
        return SL_EINVAL;
    if (num > UINT64_MAX / mul)
        return SL_ERANGE;
    *ms = num * mul;
    return 0;
}

int sl_parse_bool(const char *text, int *v) {
    static const char *yes[] = {"1", "yes", "true", "on"};
    static const char *no[] = {"0", "no", "false", "off"};
    if (text == NULL)
        return SL_EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *v = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *v = 0;
            return 0;
        }
    }
    return SL_EINVAL;
}

int sl_parse_hostport(const char *text, char *host, size_t hostlen,
                      uint16_t *port) {
    if (text == NULL || hostlen == 0)
        return SL_EINVAL;
    const char *colon;
    const char *hstart = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return SL_EINVAL;
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon)
            return SL_EINVAL;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= hostlen)
        return SL_EINVAL;
    uint64_t p;
    if (sl_parse_u64(colon + 1, &p) != 0 || p == 0 || p > 65535)
        return SL_EINVAL;
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int sl_sockaddr_is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}
