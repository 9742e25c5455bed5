/*
 * The stats endpoint of sluice-capture: a listener on a loopback address
 * that answers `stats` with memcached-style lines, as the broker does:
 *
 *   stats\r\n  ->  STAT name value\r\n ... END\r\n
 *   quit\r\n   ->  (closes)
 *   other      ->  ERROR\r\n
 *
 * so `printf 'stats\r\n' | nc 127.0.0.1 PORT` works. The capture loop
 * builds the STAT text and hands over a copy now and then; the listener
 * thread serves the latest copy and never touches capture's state. One
 * connection is served at a time, each read bounded by a timeout.
 */
#ifndef SL_CAPTURE_STATS_H
#define SL_CAPTURE_STATS_H

#include <stddef.h>

typedef struct sl_capstats_s sl_capstats_t;

/* Listens on hostport ("127.0.0.1:8124") and starts the thread. *out is
 * owned by the caller (sl_capstats_stop). */
int sl_capstats_start(sl_capstats_t **out, const char *hostport, char *err,
                      size_t errlen);

/* Replaces the text served (copied). */
void sl_capstats_set(sl_capstats_t *st, const char *text, size_t len);

/* Stops the thread, closes the listener and frees st (NULL is fine). */
void sl_capstats_stop(sl_capstats_t *st);

#endif
