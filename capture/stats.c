/* The stats endpoint; see stats.h. */
#include "stats.h"

#include "buf.h"
#include "error.h"
#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sl_capstats_s {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    sl_buf_t text; /* Guarded by lock. */
    volatile int stop;
};

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Serves one connection until quit, EOF, an error or 30 s of silence. */
static void serve(sl_capstats_t *st, int fd) {
    char line[256];
    size_t have = 0;
    while (!st->stop) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, 30000);
        if (r <= 0)
            return;
        ssize_t n = recv(fd, line + have, sizeof line - 1 - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
        char *nl;
        while ((nl = memchr(line, '\n', have)) != NULL) {
            size_t len = (size_t)(nl - line);
            if (len > 0 && line[len - 1] == '\r')
                len--;
            int rc = 0;
            if (len == 5 && memcmp(line, "stats", 5) == 0) {
                pthread_mutex_lock(&st->lock);
                rc = write_all(fd, st->text.data ? (char *)st->text.data : "",
                               st->text.len);
                pthread_mutex_unlock(&st->lock);
                if (rc == 0)
                    rc = write_all(fd, "END\r\n", 5);
            } else if (len == 4 && memcmp(line, "quit", 4) == 0) {
                return;
            } else {
                rc = write_all(fd, "ERROR\r\n", 7);
            }
            if (rc != 0)
                return;
            have -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, have);
        }
        if (have == sizeof line - 1) {
            write_all(fd, "ERROR line too long\r\n", 21);
            return;
        }
    }
}

static void *run(void *arg) {
    sl_capstats_t *st = arg;
    while (!st->stop) {
        struct pollfd pfd = {st->fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        int fd = accept(st->fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(st, fd);
        close(fd);
    }
    return NULL;
}

int sl_capstats_start(sl_capstats_t **out, const char *hostport, char *err,
                      size_t errlen) {
    char host[256];
    uint16_t port;
    *out = NULL;
    if (sl_parse_hostport(hostport, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "--stats-listen '%s' is not HOST:PORT",
                 hostport);
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
    sl_capstats_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        freeaddrinfo(ai);
        return SL_ENOMEM;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (st->fd >= 0)
        setsockopt(st->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (st->fd < 0 || bind(st->fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(st->fd, 8) != 0) {
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
