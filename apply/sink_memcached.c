/*
 * The memcached invalidation sink (contract in apply/sink_cache.h), over
 * memcached's text protocol:
 *
 *   request:  "delete <key>\r\n"          (key: 1..250 bytes, no space or
 *                                           control byte; no "noreply", so
 *                                           every delete is acknowledged)
 *   reply:    "DELETED\r\n" | "NOT_FOUND\r\n"           success
 *             "ERROR\r\n" | "CLIENT_ERROR ...\r\n" |
 *             "SERVER_ERROR ...\r\n"                    failure
 *
 * A round writes up to SL_CACHE_PIPELINE deletes in one buffer, then reads
 * exactly as many reply lines; replies are small (at most 11 bytes for a
 * success), so a round's replies fit in the socket buffer and the
 * write-then-read order cannot deadlock. Any failure drops the connection
 * and restarts the whole list after a backoff.
 */
#include "apply/sink_cache.h"

#include "apply/backoff.h"
#include "buf.h"
#include "error.h"
#include "log.h"
#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct sl_mc_sink_s {
    char host[256];
    uint16_t port;
    int fd;
    sl_buf_t out;
    char in[8192];
    size_t inpos; /* Start of the unread replies in in[]. */
    size_t inlen; /* End of them. */
    sl_backoff_t bo;
    sl_cache_stats_t stats;
};

int sl_mc_sink_new(const char *hostport, sl_mc_sink_t **out) {
    sl_mc_sink_t *mc = calloc(1, sizeof *mc);
    if (mc == NULL)
        return SL_ENOMEM;
    if (sl_parse_hostport(hostport, mc->host, sizeof mc->host, &mc->port) !=
        0) {
        free(mc);
        return SL_EINVAL;
    }
    mc->fd = -1;
    sl_backoff_init(&mc->bo, 50, 5000);
    *out = mc;
    return 0;
}

static void drop(sl_mc_sink_t *mc) {
    if (mc->fd >= 0)
        close(mc->fd);
    mc->fd = -1;
    mc->inpos = mc->inlen = 0;
}

void sl_mc_sink_free(sl_mc_sink_t *mc) {
    if (mc == NULL)
        return;
    drop(mc);
    sl_buf_free(&mc->out);
    free(mc);
}

void sl_mc_sink_stats(const sl_mc_sink_t *mc, sl_cache_stats_t *st) {
    *st = mc->stats;
}

static int ensure(sl_mc_sink_t *mc, char *why, size_t whylen) {
    if (mc->fd >= 0)
        return 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%u", mc->port);
    int gai = getaddrinfo(mc->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, whylen, "resolve %.64s: %s", mc->host, gai_strerror(gai));
        return SL_ECONN;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return SL_ECONN;
    }
    /* Non-blocking connect bounded by 2 s, then blocking I/O with
     * timeouts. */
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (poll(&pfd, 1, 2000) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
            soerr == 0)
            rc = 0;
        else
            errno = soerr ? soerr : ETIMEDOUT;
    }
    if (rc != 0) {
        snprintf(why, whylen, "connect: %s", strerror(errno));
        close(fd);
        return SL_ECONN;
    }
    fcntl(fd, F_SETFL, fl);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mc->fd = fd;
    mc->inpos = mc->inlen = 0;
    return 0;
}

static int write_all(sl_mc_sink_t *mc, const uint8_t *p, size_t n, char *why,
                     size_t whylen) {
    while (n > 0) {
        ssize_t w = send(mc->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(why, whylen, "write: %s",
                     w < 0 ? strerror(errno) : "closed");
            return SL_ECONN;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one reply line (without CRLF) into line. Replies are consumed
 * by moving a cursor; the buffer is compacted only when it must read
 * more. */
static int read_line(sl_mc_sink_t *mc, char *line, size_t cap, char *why,
                     size_t whylen) {
    for (;;) {
        char *start = mc->in + mc->inpos;
        char *nl = memchr(start, '\n', mc->inlen - mc->inpos);
        if (nl != NULL) {
            size_t n = (size_t)(nl - start) + 1;
            size_t l = n >= 2 && nl[-1] == '\r' ? n - 2 : n - 1;
            if (l >= cap)
                l = cap - 1;
            memcpy(line, start, l);
            line[l] = '\0';
            mc->inpos += n;
            return 0;
        }
        if (mc->inpos > 0) {
            memmove(mc->in, mc->in + mc->inpos, mc->inlen - mc->inpos);
            mc->inlen -= mc->inpos;
            mc->inpos = 0;
        }
        if (mc->inlen == sizeof mc->in) {
            snprintf(why, whylen, "reply line over %zu bytes", sizeof mc->in);
            return SL_EPROTO;
        }
        ssize_t r = recv(mc->fd, mc->in + mc->inlen, sizeof mc->in - mc->inlen,
                         0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(why, whylen, "read: %s",
                     r < 0 ? strerror(errno) : "connection closed");
            return SL_ECONN;
        }
        mc->inlen += (size_t)r;
    }
}

static int key_ok(const char *k, size_t n) {
    if (n == 0 || n > SL_MC_MAX_KEY)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] == 0x7F)
            return 0;
    return 1;
}

static int attempt(sl_mc_sink_t *mc, const sl_keylist_t *kl, char *why,
                   size_t whylen, uint64_t *existed) {
    int rc = ensure(mc, why, whylen);
    if (rc != 0)
        return rc;
    *existed = 0;
    for (size_t i = 0; i < kl->count; i += SL_CACHE_PIPELINE) {
        size_t n = kl->count - i < SL_CACHE_PIPELINE ? kl->count - i
                                                     : SL_CACHE_PIPELINE;
        sl_buf_reset(&mc->out);
        for (size_t k = 0; k < n; k++) {
            size_t kn;
            const char *key = sl_keylist_key(kl, i + k, &kn);
            if (sl_buf_append(&mc->out, "delete ", 7) != 0 ||
                sl_buf_append(&mc->out, key, kn) != 0 ||
                sl_buf_append(&mc->out, "\r\n", 2) != 0)
                return SL_ENOMEM;
        }
        rc = write_all(mc, mc->out.data, mc->out.len, why, whylen);
        for (size_t k = 0; k < n && rc == 0; k++) {
            char line[256];
            rc = read_line(mc, line, sizeof line, why, whylen);
            if (rc != 0)
                break;
            if (strcmp(line, "DELETED") == 0) {
                (*existed)++;
            } else if (strcmp(line, "NOT_FOUND") != 0) {
                snprintf(why, whylen, "unexpected reply: %.200s", line);
                rc = SL_EPROTO;
            }
        }
        if (rc != 0) {
            drop(mc);
            return rc;
        }
    }
    return 0;
}

int sl_mc_sink_delete(sl_mc_sink_t *mc, const sl_keylist_t *kl,
                      volatile int *stop) {
    for (size_t i = 0; i < kl->count; i++) {
        size_t kn;
        const char *key = sl_keylist_key(kl, i, &kn);
        if (!key_ok(key, kn)) {
            char q[300], raw[260];
            snprintf(raw, sizeof raw, "%.*s", (int)(kn > 250 ? 250 : kn), key);
            sl_log_error("key cannot be sent to memcached",
                         "key=%s length=%zu reason=\"over 250 bytes or "
                         "holds a space or control byte\"",
                         sl_log_quote(raw, q, sizeof q), kn);
            return SL_EINVAL;
        }
    }
    if (kl->count == 0)
        return 0;
    for (;;) {
        char why[256] = "";
        uint64_t existed = 0;
        int rc = attempt(mc, kl, why, sizeof why, &existed);
        if (rc == SL_ENOMEM)
            return rc;
        if (rc == 0) {
            if (mc->bo.attempts > 0)
                sl_log_info("memcached reachable again",
                            "memcached=%s:%u retries=%llu", mc->host, mc->port,
                            (unsigned long long)mc->bo.attempts);
            sl_backoff_reset(&mc->bo);
            mc->stats.batches++;
            mc->stats.keys += kl->count;
            mc->stats.existed += existed;
            return 0;
        }
        mc->stats.retries++;
        char q[300];
        if (mc->bo.attempts == 0 || mc->bo.attempts % 20 == 0)
            sl_log_warn("memcached delete failed; retrying",
                        "memcached=%s:%u error=%s keys=%zu attempt=%llu",
                        mc->host, mc->port, sl_log_quote(why, q, sizeof q),
                        kl->count, (unsigned long long)mc->bo.attempts + 1);
        if (sl_backoff_sleep(&mc->bo, stop))
            return SL_ESTOPPED;
    }
}
