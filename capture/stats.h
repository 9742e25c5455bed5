/*
 * The stats endpoint of sluice-capture: a listener that answers `stats`
 * with memcached-style lines, as the broker does:
 *
 *   stats\r\n  ->  STAT name value\r\n ... END\r\n
 *   quit\r\n   ->  (closes once the answers before it are sent)
 *   other      ->  ERROR\r\n
 *
 * A line ends at "\n" (a "\r" before it is dropped) and may be at most
 * SL_CAPSTATS_MAX_LINE bytes with its end; a longer one is answered
 * "ERROR line too long\r\n" and the connection closed. So
 * `printf 'stats\r\n' | nc 127.0.0.1 PORT` works.
 *
 * The capture loop builds the STAT text and hands over a copy now and then
 * (sl_capstats_set, a memcpy under a lock the listener holds only for its
 * own memcpy); the listener thread serves the latest copy and never
 * touches capture's state, so no client can slow capture down. The thread
 * serves up to SL_CAPSTATS_MAX_CLIENTS connections at once with
 * non-blocking sockets and poll(): a client that does not read its
 * answers only fills its own output buffer, and when that holds more than
 * SL_CAPSTATS_MAX_OUTPUT unsent bytes while the client asks for more, the
 * client is closed (Redis's client-output-buffer-limit). A connection
 * beyond the limit gets "ERROR too many clients\r\n" and is closed; one
 * silent (nothing read, nothing written) for SL_CAPSTATS_IDLE_MS is
 * closed. The listener binds loopback addresses only, unless the caller
 * allows others (--stats-allow-remote): the endpoint has no
 * authentication.
 */
#ifndef SL_CAPTURE_STATS_H
#define SL_CAPTURE_STATS_H

#include <stddef.h>

#define SL_CAPSTATS_MAX_LINE 256
#define SL_CAPSTATS_MAX_CLIENTS 64
#define SL_CAPSTATS_MAX_OUTPUT (1024 * 1024)
#define SL_CAPSTATS_IDLE_MS 30000

typedef struct sl_capstats_s sl_capstats_t;

/* The commands of one line. */
typedef enum {
    SL_CAPSTATS_NONE = 0,    /* No complete line yet. */
    SL_CAPSTATS_STATS = 1,   /* "stats". */
    SL_CAPSTATS_QUIT = 2,    /* "quit". */
    SL_CAPSTATS_UNKNOWN = 3, /* Any other line. */
    SL_CAPSTATS_TOOLONG = 4, /* A line over SL_CAPSTATS_MAX_LINE; final. */
} sl_capstats_cmd_t;

/* The line splitter of one connection, fed bytes as they arrive. Zero it
 * to start (no allocation, nothing to free). */
typedef struct {
    char line[SL_CAPSTATS_MAX_LINE];
    size_t have;
    int dead; /* Set after SL_CAPSTATS_TOOLONG: nothing more is parsed. */
} sl_capstats_parser_t;

/* Takes bytes from data up to and including the end of the first complete
 * line, sets *cmd to its command (SL_CAPSTATS_NONE when data ends without
 * completing one; the bytes are kept for the next call) and returns how
 * many bytes it took. Never takes more than len, never stores more than
 * SL_CAPSTATS_MAX_LINE bytes; after SL_CAPSTATS_TOOLONG it takes nothing. */
size_t sl_capstats_parse(sl_capstats_parser_t *parser, const char *data,
                         size_t len, sl_capstats_cmd_t *cmd);

/* Listens on hostport ("127.0.0.1:8124") and starts the thread. A
 * non-loopback address is refused (SL_EINVAL, err says why) unless
 * allow_remote. *out is owned by the caller (sl_capstats_stop). */
int sl_capstats_start(sl_capstats_t **out, const char *hostport,
                      int allow_remote, char *err, size_t errlen);

/* Replaces the text served (copied). Never waits for a client. */
void sl_capstats_set(sl_capstats_t *st, const char *text, size_t len);

/* Stops the thread, closes the listener and every client and frees st
 * (NULL is fine). */
void sl_capstats_stop(sl_capstats_t *st);

#endif
