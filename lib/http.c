/* The HTTP endpoint on libmicrohttpd; see http.h. */
#include "http.h"

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "metrics.h"
#include "parse.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* At most this many connections at once; each is answered from a copy, so
 * the bound is only about file descriptors and memory. */
#define HTTP_MAX_CONNS 32
#define HTTP_TIMEOUT_S 10

struct sl_http_s {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    /* Guarded by lock. */
    sl_buf_t text, om;
    sl_buf_t scratch[2]; /* The program thread's, for sl_http_render. */
    int ready;
    char reason[256];
    uint64_t last_ms; /* Monotonic ms of the last sl_http_set_ready. */
    uint64_t stale_ms;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
                              const char *ctype, const char *body, size_t len) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Whether the Accept header asks for OpenMetrics (Prometheus sends
 * "application/openmetrics-text;version=1.0.0,...;q=0.5,text/plain..."
 * when it prefers it). */
static int wants_openmetrics(struct MHD_Connection *conn) {
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_ACCEPT);
    return accept != NULL &&
           strstr(accept, "application/openmetrics-text") != NULL;
}

static enum MHD_Result serve_metrics(sl_http_t *h,
                                     struct MHD_Connection *conn) {
    int om = wants_openmetrics(conn);
    pthread_mutex_lock(&h->lock);
    const sl_buf_t *b = om ? &h->om : &h->text;
    /* MHD copies the body (MHD_RESPMEM_MUST_COPY) before the lock is
     * released, so the program may replace it right after. */
    enum MHD_Result r =
        answer(conn, MHD_HTTP_OK,
               om ? SL_METRICS_CTYPE_OPENMETRICS : SL_METRICS_CTYPE_TEXT,
               b->len ? (const char *)b->data : "", b->len);
    pthread_mutex_unlock(&h->lock);
    return r;
}

static enum MHD_Result serve_ready(sl_http_t *h, struct MHD_Connection *conn) {
    char body[320];
    pthread_mutex_lock(&h->lock);
    uint64_t age = sl_mono_ns() / 1000000u - h->last_ms;
    int ok = h->ready && (h->stale_ms == 0 || age <= h->stale_ms);
    if (ok)
        snprintf(body, sizeof body, "ready\n");
    else if (!h->ready)
        snprintf(body, sizeof body, "not ready: %s\n",
                 h->reason[0] ? h->reason : "starting");
    else
        snprintf(body, sizeof body,
                 "not ready: no progress reported for %llu ms\n",
                 (unsigned long long)age);
    pthread_mutex_unlock(&h->lock);
    return answer(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                  "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result handle_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_len, void **req_cls) {
    (void)version;
    (void)upload;
    (void)req_cls;
    sl_http_t *h = cls;
    static const char notfound[] = "not found: try /metrics, /healthz or "
                                   "/readyz\n";
    static const char badmethod[] = "method not allowed\n";
    if (*upload_len != 0) {
        *upload_len = 0; /* A body is never read; the request is refused. */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                      badmethod, sizeof badmethod - 1);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, conn);
    if (strcmp(url, "/healthz") == 0)
        return answer(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n",
                      3);
    if (strcmp(url, "/readyz") == 0)
        return serve_ready(h, conn);
    return answer(conn, MHD_HTTP_NOT_FOUND, "text/plain", notfound,
                  sizeof notfound - 1);
}

int sl_http_start(sl_http_t **out, const char *hostport, int allow_remote,
                  uint64_t stale_ms, char *err, size_t errlen) {
    *out = NULL;
    char host[256];
    uint16_t port;
    if (sl_parse_hostport(hostport, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "http-listen '%s' is not HOST:PORT", hostport);
        return SL_EINVAL;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(err, errlen, "http-listen %s: %s", hostport,
                 gai_strerror(gai));
        return SL_EINVAL;
    }
    if (!allow_remote && !sl_sockaddr_is_loopback(res->ai_addr)) {
        snprintf(err, errlen,
                 "refusing to serve HTTP on %s without http-allow-remote: "
                 "the endpoint has no authentication",
                 hostport);
        freeaddrinfo(res);
        return SL_EINVAL;
    }
    sl_http_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        freeaddrinfo(res);
        return SL_ENOMEM;
    }
    pthread_mutex_init(&h->lock, NULL);
    sl_buf_init(&h->text);
    sl_buf_init(&h->om);
    sl_buf_init(&h->scratch[0]);
    sl_buf_init(&h->scratch[1]);
    h->stale_ms = stale_ms;
    h->last_ms = sl_mono_ns() / 1000000u;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, handle_cb, h, MHD_OPTION_SOCK_ADDR,
        res->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNS,
        MHD_OPTION_END);
    freeaddrinfo(res);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "http-listen %s: cannot listen (in use?)",
                 hostport);
        sl_http_stop(h);
        return SL_EIO;
    }
    *out = h;
    return 0;
}

int sl_http_start_config(sl_http_t **out, sl_config_t *cfg, uint64_t stale_ms,
                         char *err, size_t errlen) {
    const char *listen = sl_config_get(cfg, "http-listen");
    int remote = 0;
    *out = NULL;
    if (listen == NULL)
        return 0;
    if (sl_config_get_bool(cfg, "http-allow-remote", &remote) != 0) {
        snprintf(err, errlen, "%s", cfg->err);
        return SL_EUSAGE;
    }
    return sl_http_start(out, listen, remote, stale_ms, err, errlen);
}

void sl_http_set_metrics(sl_http_t *h, const char *text, size_t len,
                         const char *om, size_t omlen) {
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    sl_buf_reset(&h->text);
    sl_buf_append(&h->text, text, len);
    sl_buf_reset(&h->om);
    sl_buf_append(&h->om, om, omlen);
    pthread_mutex_unlock(&h->lock);
}

void sl_http_render(sl_http_t *h, sl_http_render_cb render, void *ctx) {
    if (h == NULL)
        return;
    for (int om = 0; om < 2; om++) {
        sl_buf_reset(&h->scratch[om]);
        sl_metrics_t m = {&h->scratch[om], om};
        render(&m, ctx);
        sl_metrics_end(&m);
    }
    /* A render that ran out of memory hands over nothing: the last good
     * text stays. */
    if (sl_buf_error(&h->scratch[0]) || sl_buf_error(&h->scratch[1]))
        return;
    sl_http_set_metrics(h, (const char *)h->scratch[0].data, h->scratch[0].len,
                        (const char *)h->scratch[1].data, h->scratch[1].len);
}

void sl_http_set_ready(sl_http_t *h, int ready, const char *reason) {
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->ready = ready;
    snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "");
    h->last_ms = sl_mono_ns() / 1000000u;
    pthread_mutex_unlock(&h->lock);
}

void sl_http_stop(sl_http_t *h) {
    if (h == NULL)
        return;
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    sl_buf_free(&h->text);
    sl_buf_free(&h->om);
    sl_buf_free(&h->scratch[0]);
    sl_buf_free(&h->scratch[1]);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
