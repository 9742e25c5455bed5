/* The stats endpoint; see stats.h. */
#include "stats.h"

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    sl_capstats_parser_t parser;
    sl_buf_t out; /* Answers not yet sent, from out_off on. */
    size_t out_off;
    char in[4096]; /* Bytes read and not yet parsed: in[in_off..in_len). */
    size_t in_off, in_len;
    int closing;      /* Close once out is sent (quit, a too-long line). */
    uint64_t last_ns; /* Last time a byte moved either way. */
} client_t;

struct sl_capstats_s {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    sl_buf_t text; /* Guarded by lock. */
    volatile int stop;
    client_t *clients[SL_CAPSTATS_MAX_CLIENTS];
    size_t nclients;
    uint64_t dropped;      /* Clients closed for their unread output. */
    uint64_t last_warn_ns; /* Drop warnings are rate-limited. */
};

size_t sl_capstats_parse(sl_capstats_parser_t *parser, const char *data,
                         size_t len, sl_capstats_cmd_t *cmd) {
    *cmd = SL_CAPSTATS_NONE;
    if (parser->dead)
        return 0;
    const char *nl = memchr(data, '\n', len);
    size_t take = nl != NULL ? (size_t)(nl - data) + 1 : len;
    /* The stored part of a line plus its "\n" must fit the bound. */
    if (parser->have + take > sizeof parser->line ||
        (nl == NULL && parser->have + take == sizeof parser->line)) {
        parser->dead = 1;
        parser->have = 0;
        *cmd = SL_CAPSTATS_TOOLONG;
        return take;
    }
    memcpy(parser->line + parser->have, data, take);
    parser->have += take;
    if (nl == NULL)
        return take;
    size_t n = parser->have - 1; /* Without the "\n". */
    if (n > 0 && parser->line[n - 1] == '\r')
        n--;
    if (n == 5 && memcmp(parser->line, "stats", 5) == 0)
        *cmd = SL_CAPSTATS_STATS;
    else if (n == 4 && memcmp(parser->line, "quit", 4) == 0)
        *cmd = SL_CAPSTATS_QUIT;
    else
        *cmd = SL_CAPSTATS_UNKNOWN;
    parser->have = 0;
    return take;
}

static void client_close(sl_capstats_t *st, size_t i) {
    client_t *cl = st->clients[i];
    close(cl->fd);
    sl_buf_free(&cl->out);
    free(cl);
    st->clients[i] = st->clients[--st->nclients];
}

static size_t pending(const client_t *cl) { return cl->out.len - cl->out_off; }

/* Sends what the socket takes now; returns -1 when the client is gone. */
static int flush_out(client_t *cl, uint64_t now) {
    while (pending(cl) > 0) {
        ssize_t n = send(cl->fd, cl->out.data + cl->out_off, pending(cl),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return -1;
        cl->out_off += (size_t)n;
        cl->last_ns = now;
    }
    if (pending(cl) == 0) {
        sl_buf_reset(&cl->out);
        cl->out_off = 0;
    } else if (cl->out_off > cl->out.len / 2) {
        sl_buf_consume(&cl->out, cl->out_off);
        cl->out_off = 0;
    }
    return 0;
}

/* Runs the complete lines in cl->in. Returns -1 when the client must be
 * closed now (its unread output passed the bound, or memory ran out). */
static int run_lines(sl_capstats_t *st, client_t *cl) {
    while (cl->in_off < cl->in_len && !cl->closing) {
        if (pending(cl) >= SL_CAPSTATS_MAX_OUTPUT) {
            st->dropped++;
            return -1; /* Asking for more while not reading what it has. */
        }
        sl_capstats_cmd_t cmd;
        cl->in_off += sl_capstats_parse(&cl->parser, cl->in + cl->in_off,
                                        cl->in_len - cl->in_off, &cmd);
        int err = 0;
        switch (cmd) {
        case SL_CAPSTATS_NONE: break;
        case SL_CAPSTATS_STATS:
            pthread_mutex_lock(&st->lock);
            err = sl_buf_append(&cl->out, st->text.data, st->text.len);
            pthread_mutex_unlock(&st->lock);
            if (err == 0)
                err = sl_buf_append(&cl->out, "END\r\n", 5);
            break;
        case SL_CAPSTATS_QUIT: cl->closing = 1; break;
        case SL_CAPSTATS_UNKNOWN:
            err = sl_buf_append(&cl->out, "ERROR\r\n", 7);
            break;
        case SL_CAPSTATS_TOOLONG:
            err = sl_buf_append_str(&cl->out, "ERROR line too long\r\n");
            cl->closing = 1;
            break;
        }
        if (err != 0)
            return -1;
    }
    if (cl->in_off == cl->in_len || cl->closing)
        cl->in_off = cl->in_len = 0;
    return 0;
}

/* Reads and answers what cl sent. Returns -1 when cl is to be closed. */
static int serve(sl_capstats_t *st, client_t *cl, short revents, uint64_t now) {
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && cl->in_len == 0 &&
        !cl->closing) {
        ssize_t n = recv(cl->fd, cl->in, sizeof cl->in, MSG_DONTWAIT);
        if (n == 0) {
            /* End of its requests (a half-close, as `printf stats | nc`
             * does): the answers already asked for are still sent. */
            cl->closing = 1;
            cl->last_ns = now;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (n > 0) {
            cl->in_len = (size_t)n;
            cl->last_ns = now;
        }
    }
    if (run_lines(st, cl) != 0 || flush_out(cl, now) != 0)
        return -1;
    if (cl->closing && pending(cl) == 0)
        return -1;
    return 0;
}

static void accept_clients(sl_capstats_t *st, uint64_t now) {
    for (;;) {
        int fd = accept4(st->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error retried next turn. */
        client_t *cl = NULL;
        if (st->nclients == SL_CAPSTATS_MAX_CLIENTS ||
            (cl = calloc(1, sizeof *cl)) == NULL) {
            static const char busy[] = "ERROR too many clients\r\n";
            ssize_t n =
                send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n; /* Best effort: the client is refused either way. */
            close(fd);
            continue;
        }
        cl->fd = fd;
        sl_buf_init(&cl->out);
        cl->last_ns = now;
        st->clients[st->nclients++] = cl;
    }
}

static void *run(void *arg) {
    sl_capstats_t *st = arg;
    struct pollfd pfd[1 + SL_CAPSTATS_MAX_CLIENTS];
    while (!st->stop) {
        size_t n = st->nclients;
        pfd[0] = (struct pollfd){st->fd, POLLIN, 0};
        for (size_t i = 0; i < n; i++) {
            client_t *cl = st->clients[i];
            short ev = 0;
            if (cl->in_len == 0 && !cl->closing)
                ev |= POLLIN;
            if (pending(cl) > 0)
                ev |= POLLOUT;
            pfd[1 + i] = (struct pollfd){cl->fd, ev, 0};
        }
        if (poll(pfd, 1 + n, 200) < 0 && errno != EINTR)
            break;
        uint64_t now = sl_mono_ns();
        uint64_t dropped = st->dropped;
        /* Backwards, so closing client i (which moves the last one into
         * its slot) never skips a client. */
        for (size_t i = n; i-- > 0;) {
            client_t *cl = st->clients[i];
            if (serve(st, cl, pfd[1 + i].revents, now) != 0 ||
                now - cl->last_ns > (uint64_t)SL_CAPSTATS_IDLE_MS * 1000000)
                client_close(st, i);
        }
        if (st->dropped != dropped &&
            now - st->last_warn_ns > UINT64_C(10000000000)) {
            st->last_warn_ns = now;
            sl_log_warn("stats client closed: it asked for more while its "
                        "unread answers passed the limit",
                        "limit=%u dropped_total=%llu",
                        (unsigned)SL_CAPSTATS_MAX_OUTPUT,
                        (unsigned long long)st->dropped);
        }
        if (pfd[0].revents & POLLIN)
            accept_clients(st, now);
    }
    while (st->nclients > 0)
        client_close(st, st->nclients - 1);
    return NULL;
}

int sl_capstats_start(sl_capstats_t **out, const char *hostport,
                      int allow_remote, char *err, size_t errlen) {
    char host[256];
    uint16_t port;
    *out = NULL;
    if (sl_parse_hostport(hostport, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "--stats-listen '%s' is not HOST:PORT", hostport);
        return SL_EINVAL;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0) {
        snprintf(err, errlen, "--stats-listen: '%s' is not an IP address",
                 host);
        return SL_EINVAL;
    }
    if (!allow_remote && !sl_sockaddr_is_loopback(ai->ai_addr)) {
        snprintf(err, errlen,
                 "--stats-listen %s is not a loopback address and the stats "
                 "endpoint has no authentication; refusing it without "
                 "--stats-allow-remote",
                 hostport);
        freeaddrinfo(ai);
        return SL_EINVAL;
    }
    sl_capstats_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        freeaddrinfo(ai);
        return SL_ENOMEM;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (st->fd >= 0)
        setsockopt(st->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (st->fd < 0 || bind(st->fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(st->fd, 64) != 0) {
        snprintf(err, errlen, "--stats-listen %s: %s", hostport,
                 strerror(errno));
        freeaddrinfo(ai);
        if (st->fd >= 0)
            close(st->fd);
        pthread_mutex_destroy(&st->lock);
        free(st);
        return SL_EIO;
    }
    freeaddrinfo(ai);
    if (pthread_create(&st->thread, NULL, run, st) != 0) {
        close(st->fd);
        pthread_mutex_destroy(&st->lock);
        free(st);
        return SL_ESYS;
    }
    *out = st;
    return 0;
}

void sl_capstats_set(sl_capstats_t *st, const char *text, size_t len) {
    pthread_mutex_lock(&st->lock);
    sl_buf_reset(&st->text);
    sl_buf_append(&st->text, text, len);
    pthread_mutex_unlock(&st->lock);
}

void sl_capstats_stop(sl_capstats_t *st) {
    if (st == NULL)
        return;
    st->stop = 1;
    pthread_join(st->thread, NULL);
    close(st->fd);
    sl_buf_free(&st->text);
    pthread_mutex_destroy(&st->lock);
    free(st);
}
