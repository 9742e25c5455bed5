/*
 * The HTTP endpoint of every sluice program (http-listen), served by
 * libmicrohttpd on its own thread:
 *
 *   GET /metrics  the latest metrics text (lib/metrics.h): Prometheus text
 *                 format 0.0.4, or OpenMetrics 1.0.0 when the Accept
 *                 header names application/openmetrics-text
 *   GET /healthz  200 "ok": the process is alive and serving
 *   GET /readyz   200 "ready", or 503 and the reason: the program is not
 *                 connected or makes no progress (it said so, or it has
 *                 not reported for longer than stale_ms)
 *   other paths   404; other methods 405
 *
 * The program's own thread renders both texts now and then and hands over
 * copies (sl_http_set_metrics, a memcpy under a lock the HTTP thread holds
 * only for its own copy), so a scrape never touches the program's state
 * and never slows it down. The listener binds loopback addresses only,
 * unless the caller allows others (http-allow-remote): the endpoint has no
 * authentication.
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_http_s sl_http_t;

/* The two options every program adds to its table (one line there), so
 * they read alike everywhere. */
#define SL_HTTP_OPTS                                                           \
    {"http-listen", NULL, 0,                                                   \
     "serve /metrics, /healthz and /readyz on this HOST:PORT "                 \
     "(docs/monitoring/README.md); off by default"},                           \
    {                                                                          \
        "http-allow-remote", "no", SL_OPT_FLAG,                                \
            "let http-listen bind a non-loopback address (it has no auth)"     \
    }

struct sl_metrics_s;
/* Renders the program's metrics into m (called once per format). */
typedef void (*sl_http_render_cb)(struct sl_metrics_s *m, void *ctx);

/* Listens on hostport ("127.0.0.1:9100") and starts the thread. A
 * non-loopback address is refused (SL_EINVAL, err says why) unless
 * allow_remote. stale_ms: /readyz answers 503 when the program has not
 * called sl_http_set_ready for this long (0: never stale). *out is owned
 * by the caller (sl_http_stop). */
int sl_http_start(sl_http_t **out, const char *hostport, int allow_remote,
                  uint64_t stale_ms, char *err, size_t errlen);

/* sl_http_start() with the options of SL_HTTP_OPTS from cfg: *out stays
 * NULL (and 0 is returned) when http-listen is not set. */
int sl_http_start_config(sl_http_t **out, sl_config_t *cfg, uint64_t stale_ms,
                         char *err, size_t errlen);

/* Replaces the metrics served (both copied). Never waits for a client. */
void sl_http_set_metrics(sl_http_t *h, const char *text, size_t len,
                         const char *om, size_t omlen);

/* Renders both formats with render (ctx passed on) into scratch buffers
 * of h and hands them over (sl_http_set_metrics). Only the program's
 * thread calls this. */
void sl_http_render(sl_http_t *h, sl_http_render_cb render, void *ctx);

/* Sets readiness: ready non-zero, or 0 with reason (copied, may be NULL)
 * for the 503 body. Also marks the program as alive for stale_ms. */
void sl_http_set_ready(sl_http_t *h, int ready, const char *reason);

/* Stops the thread, closes the listener and frees h (NULL is fine). */
void sl_http_stop(sl_http_t *h);

#endif
