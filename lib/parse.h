/*
 * Strict parsers for the values users type: numbers, sizes, durations and
 * HOST:PORT addresses. Each rejects trailing garbage, signs where none is
 * allowed and overflow with SL_EINVAL or SL_ERANGE, never silently clamping.
 */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer, no sign, no spaces. */
int sl_parse_u64(const char *text, uint64_t *v);
/* Decimal signed integer. */
int sl_parse_i64(const char *text, int64_t *v);
/* A byte size: digits with an optional suffix k, m, g, t (powers of 1024,
 * case-insensitive, optional trailing "b" or "ib": "16MiB", "1g", "512"). */
int sl_parse_size(const char *text, uint64_t *bytes);
/* A duration in milliseconds: digits with a unit ms, s, m, h or d; a bare
 * number is milliseconds. "500ms", "5s", "7d". */
int sl_parse_duration_ms(const char *text, uint64_t *ms);
/* "yes/no", "true/false", "on/off", "1/0". */
int sl_parse_bool(const char *text, int *v);
/* "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated) and port (1..65535). */
/* 1 when sa (AF_INET or AF_INET6) is a loopback address: 127.0.0.0/8,
 * ::1 or an IPv4-mapped 127.x; what the listeners without authentication
 * (capture's stats endpoint, the HTTP endpoint) accept without an explicit
 * allow-remote option. */
struct sockaddr;
int sl_sockaddr_is_loopback(const struct sockaddr *sa);
int sl_parse_hostport(const char *text, char *host, size_t hostlen,
                      uint16_t *port);

#endif
