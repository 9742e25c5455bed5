/*
 * The broker client against a hostile broker: a fake broker (a small TCP
 * server in this process) answers requests from a script of replies, and
 * the real client library, the real capture publisher and the real
 * `sluice` CLI binary are pointed at it.
 *
 * What must hold: a malformed reply (a count or length beyond the
 * protocol's limits, a bad number, records out of order, a reply to
 * another request) is SL_EPROTO, nothing of it is returned as data, the
 * client closes the connection and the next call reconnects; the CLI
 * exits 1 with a clear message and never crashes; sluice-apply fetching
 * through such a reply reconnects and resumes (Redis from the harness;
 * skipped without it); capture treats a
 * malformed ack and a 507 (insufficient storage) as broker failures and
 * ends with every message stored once, in order; `sluice tail --follow`
 * writes each message as it arrives when its stdout is a pipe.
 */
#include "buf.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "log.h"
#include "sl_test.h"

#include "capture/publish.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the fake broker ----------------------------------------------------- */

/* One request as read: its tokens and, for put/mput, its messages. */
typedef struct {
    char tok[8][300];
    int ntok;
    char *msgs[64];
    size_t lens[64];
    size_t nmsgs;
} req_t;

typedef struct fake_s fake_t;

/* Answers one request on fd. */
typedef void (*fake_fn)(fake_t *fb, int fd, const req_t *req);

/* A stored message (the put mode). */
typedef struct {
    char part[64];
    char data[64];
} stored_t;

struct fake_s {
    int lfd;
    char addr[64];
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    int conns; /* Connections accepted. */
    int eofs;  /* Connections the client closed. */
    int requests;
    fake_fn fn;
    /* Script mode: the replies to requests 1, 2, ... (the last one
     * repeats; NULL means no answer at all: a long poll held for ever).
     * "{id}" is replaced by the request id. */
    const char *const *script;
    size_t nscript, next;
    /* Put mode: puts are refused with 507 while refuse > 0 (counting
     * down; the connection is closed after the refusal, so that no later
     * pipelined put is stored ahead of it), and the first bad_acks acks
     * are malformed (after storing). Producer sequences are checked as
     * the broker does. */
    int refuse, refused, bad_acks;
    int close_now;  /* Set by a handler: serve no more on this connection. */
    int keep_open;  /* Refusals keep serving the connection. */
    int concurrent; /* A thread per connection. */
    int active;     /* Connection threads running. */
    /* Apply mode: the first get is answered with a hostile reply; commits
     * are recorded. */
    int hostile_gets, gets, commits;
    uint64_t committed;
    int have_last;
    uint64_t last_seq;
    stored_t stored[4096];
    size_t nstored;
};

static void fake_send(int fd, const char *data, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t w = send(fd, data + done, len - done, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* The client went away: fine for a hostile peer. */
        done += (size_t)w;
    }
}

/* Sends text with every "{id}" replaced by id. */
static void fake_reply(int fd, const char *text, const char *id) {
    sl_buf_t out = SL_BUF_INIT;
    for (const char *p = text; *p;) {
        if (strncmp(p, "{id}", 4) == 0) {
            sl_buf_append_str(&out, id);
            p += 4;
        } else {
            sl_buf_append_u8(&out, (uint8_t)*p++);
        }
    }
    fake_send(fd, (const char *)out.data, out.len);
    sl_buf_free(&out);
}

static void script_fn(fake_t *fb, int fd, const req_t *req) {
    pthread_mutex_lock(&fb->mu);
    size_t k = fb->next < fb->nscript ? fb->next++ : fb->nscript - 1;
    pthread_mutex_unlock(&fb->mu);
    if (fb->script[k] != NULL)
        fake_reply(fd, fb->script[k], req->tok[1]);
}

/* A byte-at-a-time reader with a stop check, good enough for tests. */
typedef struct {
    fake_t *fb;
    int fd;
    uint8_t buf[65536];
    size_t len, off;
} rd_t;

/* Returns 1 with a byte, 0 at EOF or stop. */
static int rd_byte(rd_t *r, uint8_t *b) {
    while (r->off == r->len) {
        if (r->fb->stop)
            return 0;
        struct pollfd pfd = {r->fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = recv(r->fd, r->buf, sizeof r->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* A client that closes with replies unread in its receive
             * buffer makes the kernel send a reset, not a FIN: that is
             * the client closing too. */
            if (n == 0 || errno == ECONNRESET) {
                pthread_mutex_lock(&r->fb->mu);
                r->fb->eofs++;
                pthread_mutex_unlock(&r->fb->mu);
            }
            return 0;
        }
        r->len = (size_t)n;
        r->off = 0;
    }
    *b = r->buf[r->off++];
    return 1;
}

static int rd_line(rd_t *r, char *line, size_t cap) {
    size_t n = 0;
    uint8_t b;
    for (;;) {
        if (!rd_byte(r, &b))
            return 0;
        if (b == '\n')
            break;
        if (b != '\r' && n + 1 < cap)
            line[n++] = (char)b;
    }
    line[n] = '\0';
    return 1;
}

static int rd_payload(rd_t *r, size_t len, char **out) {
    char *p = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        uint8_t b;
        if (!rd_byte(r, &b)) {
            free(p);
            return 0;
        }
        p[i] = (char)b;
    }
    p[len] = '\0';
    char end[8];
    if (!rd_line(r, end, sizeof end)) {
        free(p);
        return 0;
    }
    *out = p;
    return 1;
}

/* Serves one connection until the client closes it or the test stops. */
static void fake_serve(fake_t *fb, int fd) {
    rd_t *r = calloc(1, sizeof *r);
    r->fb = fb;
    r->fd = fd;
    char line[4096];
    while (rd_line(r, line, sizeof line)) {
        req_t req;
        memset(&req, 0, sizeof req);
        char *save = NULL;
        for (char *t = strtok_r(line, " ", &save); t && req.ntok < 8;
             t = strtok_r(NULL, " ", &save))
            snprintf(req.tok[req.ntok++], sizeof req.tok[0], "%s", t);
        if (req.ntok < 2)
            continue;
        int ok = 1;
        if (strcmp(req.tok[0], "put") == 0 && req.ntok >= 5) {
            req.lens[0] = strtoull(req.tok[4], NULL, 10);
            ok = rd_payload(r, req.lens[0], &req.msgs[0]);
            req.nmsgs = ok;
        } else if (strcmp(req.tok[0], "mput") == 0 && req.ntok >= 5) {
            size_t n = strtoull(req.tok[4], NULL, 10);
            for (size_t i = 0; ok && i < n && i < 64; i++) {
                char l[32];
                ok = rd_line(r, l, sizeof l);
                if (ok) {
                    req.lens[i] = strtoull(l, NULL, 10);
                    ok = rd_payload(r, req.lens[i], &req.msgs[i]);
                    req.nmsgs += ok;
                }
            }
        }
        if (ok) {
            pthread_mutex_lock(&fb->mu);
            fb->requests++;
            pthread_mutex_unlock(&fb->mu);
            fb->fn(fb, fd, &req);
        }
        for (size_t i = 0; i < req.nmsgs; i++)
            free(req.msgs[i]);
        if (!ok || fb->close_now)
            break;
    }
    free(r);
}

static int fake_get(fake_t *fb, const int *field);

typedef struct {
    fake_t *fb;
    int fd;
} conn_arg_t;

static void *fake_conn_main(void *arg) {
    conn_arg_t *ca = arg;
    fake_serve(ca->fb, ca->fd);
    close(ca->fd);
    pthread_mutex_lock(&ca->fb->mu);
    ca->fb->active--;
    pthread_mutex_unlock(&ca->fb->mu);
    free(ca);
    return NULL;
}

/* Accepts connections; each is served by its own thread when the fake is
 * concurrent (sluice-apply holds several), else one after the other. */
static void *fake_main(void *arg) {
    fake_t *fb = arg;
    while (!fb->stop) {
        struct pollfd pfd = {fb->lfd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept(fb->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&fb->mu);
        fb->conns++;
        pthread_mutex_unlock(&fb->mu);
        if (fb->concurrent) {
            conn_arg_t *ca = malloc(sizeof *ca);
            ca->fb = fb;
            ca->fd = fd;
            pthread_mutex_lock(&fb->mu);
            fb->active++;
            pthread_mutex_unlock(&fb->mu);
            pthread_t th;
            if (pthread_create(&th, NULL, fake_conn_main, ca) == 0) {
                pthread_detach(th);
                continue;
            }
            pthread_mutex_lock(&fb->mu);
            fb->active--;
            pthread_mutex_unlock(&fb->mu);
            free(ca);
            close(fd);
            continue;
        }
        fb->close_now = 0;
        fake_serve(fb, fd);
        close(fd);
    }
    while (fake_get(fb, &fb->active) > 0)
        sl_harness_sleep_ms(10);
    return NULL;
}

static void fake_start(fake_t *fb, fake_fn fn) {
    fb->fn = fn;
    pthread_mutex_init(&fb->mu, NULL);
    fb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SL_CHECK(fb->lfd >= 0);
    int one = 1;
    setsockopt(fb->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    SL_CHECK(bind(fb->lfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    SL_CHECK(listen(fb->lfd, 8) == 0);
    socklen_t sl = sizeof sa;
    SL_CHECK(getsockname(fb->lfd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(fb->addr, sizeof fb->addr, "127.0.0.1:%u", ntohs(sa.sin_port));
    SL_CHECK(pthread_create(&fb->th, NULL, fake_main, fb) == 0);
}

static void fake_stop(fake_t *fb) {
    fb->stop = 1;
    pthread_join(fb->th, NULL);
    close(fb->lfd);
    pthread_mutex_destroy(&fb->mu);
}

static int fake_get(fake_t *fb, const int *field) {
    pthread_mutex_lock(&fb->mu);
    int v = *field;
    pthread_mutex_unlock(&fb->mu);
    return v;
}

/* Waits (generously, only against a hang) until the client closed as many
 * connections as want. */
static int wait_eofs(fake_t *fb, int want) {
    for (int i = 0; i < 1000 && fake_get(fb, &fb->eofs) < want; i++)
        sl_harness_sleep_ms(10);
    return fake_get(fb, &fb->eofs) >= want;
}

/* The put mode: stores puts (checking producer sequences as the broker
 * does), refuses the first ones with 507, answers 404 to offsets and
 * anything else with 400. */
static void put_fn(fake_t *fb, int fd, const req_t *req) {
    const char *id = req->tok[1];
    char out[256];
    if (strcmp(req->tok[0], "offsets") == 0) {
        fake_reply(fd, "404 {id} unknown partition\r\n", id);
        return;
    }
    if (strcmp(req->tok[0], "put") != 0 && strcmp(req->tok[0], "mput") != 0) {
        fake_reply(fd, "400 {id} unknown command\r\n", id);
        return;
    }
    pthread_mutex_lock(&fb->mu);
    if (fb->refuse > 0) {
        fb->refuse--;
        fb->refused++;
        pthread_mutex_unlock(&fb->mu);
        fake_reply(fd, "507 {id} insufficient storage\r\n", id);
        /* Closing makes sure no put pipelined behind the refused one is
         * stored ahead of it. */
        fb->close_now = !fb->keep_open;
        return;
    }
    int64_t pid = -1;
    uint64_t seq = 0;
    for (int i = 5; i < req->ntok; i++) {
        if (strncmp(req->tok[i], "pid=", 4) == 0)
            pid = strtoll(req->tok[i] + 4, NULL, 10);
        if (strncmp(req->tok[i], "seq=", 4) == 0)
            seq = strtoull(req->tok[i] + 4, NULL, 10);
    }
    int dup = 0;
    /* Only the data partition "p" is checked for sequences; checkpoint
     * puts carry no producer id. */
    if (pid >= 0 && strcmp(req->tok[3], "p") == 0) {
        if (fb->have_last && seq <= fb->last_seq) {
            dup = 1;
        } else {
            fb->have_last = 1;
            fb->last_seq = seq + req->nmsgs - 1;
        }
    }
    size_t base = fb->nstored;
    if (!dup) {
        for (size_t i = 0; i < req->nmsgs && fb->nstored < 4096; i++) {
            stored_t *st = &fb->stored[fb->nstored++];
            snprintf(st->part, sizeof st->part, "%.63s", req->tok[3]);
            snprintf(st->data, sizeof st->data, "%.*s", (int)req->lens[i],
                     req->msgs[i]);
        }
    }
    if (getenv("FAKE_DEBUG"))
        fprintf(stderr, "fake: %s %s %s seq=%llu n=%zu dup=%d refuse=%d\n",
                req->tok[0], req->tok[1], req->tok[3], (unsigned long long)seq,
                req->nmsgs, dup, fb->refuse);
    int bad = fb->bad_acks > 0;
    if (bad)
        fb->bad_acks--;
    pthread_mutex_unlock(&fb->mu);
    if (bad)
        snprintf(out, sizeof out, "200 {id} 18446744073709551616\r\n");
    else if (dup)
        snprintf(out, sizeof out, "200 {id} unknown dup\r\n");
    else
        snprintf(out, sizeof out, "200 {id} %zu\r\n", base);
    fake_reply(fd, out, id);
}

static sl_client_t *fake_client(const fake_t *fb) {
    sl_client_opts_t o = {.io_timeout_ms = 10000, .retry_ms = 10000};
    sl_client_t *cl = NULL;
    SL_CHECK_OK(sl_client_connect(fb->addr, &o, &cl));
    return cl;
}

/* ---- the client library ------------------------------------------------- */

enum { K_GET, K_OFFSETS, K_COMMITTED, K_PARTITIONS, K_STATS, K_PUT, K_COMMIT };

/* Runs one call of kind k; fills what it returned as data into got. */
static int call(sl_client_t *cl, int k, sl_buf_t *got) {
    sl_buf_reset(got);
    int rc;
    switch (k) {
    case K_GET: {
        sl_client_fetch_t f;
        rc = sl_client_get(cl, "t", "p", 5, 0, 0, &f);
        for (size_t i = 0; i < f.count; i++)
            sl_buf_printf(got, "%llu:%.*s;",
                          (unsigned long long)f.recs[i].offset,
                          (int)f.recs[i].len, (const char *)f.recs[i].data);
        if (f.count != 0 && rc != 0)
            sl_buf_append_str(got, "DATA-WITH-ERROR");
        return rc;
    }
    case K_OFFSETS: {
        uint64_t a = 77, b = 77;
        rc = sl_client_offsets(cl, "t", "p", &a, &b);
        if (a != 77 || b != 77)
            sl_buf_printf(got, "%llu %llu", (unsigned long long)a,
                          (unsigned long long)b);
        return rc;
    }
    case K_COMMITTED: {
        uint64_t a = 77;
        rc = sl_client_committed(cl, "g", "t", "p", &a);
        if (a != 77)
            sl_buf_printf(got, "%llu", (unsigned long long)a);
        return rc;
    }
    case K_PARTITIONS: return sl_client_partitions(cl, NULL, got);
    case K_STATS: return sl_client_stats(cl, got);
    case K_PUT: {
        uint64_t off = 77;
        int dup = 0;
        rc = sl_client_put(cl, "t", "p", "x", 1, 3, 1, &off, &dup);
        if (off != 77)
            sl_buf_printf(got, "%llu", (unsigned long long)off);
        return rc;
    }
    default: {
        rc = sl_client_commit(cl, "g", "t", "p", 9);
        return rc;
    }
    }
}

/* Every hostile reply is SL_EPROTO with no data, the client closes the
 * connection, and the next call (answered properly) reconnects and works.
 * The first case is the one found: a reply announcing 576460752303423489
 * records overflowed a size computation into a heap overflow. */
SL_TEST(client_hostile_replies_are_protocol_errors) {
    static const struct {
        int kind;
        const char *bad;
        const char *good;
        const char *want; /* What the good reply returns as data. */
    } cases[] = {
        {K_GET, "200 {id} 576460752303423489 9 9\r\n5 1 3\r\nabc\r\n",
         "200 {id} 1 6 6\r\n5 1 3\r\nabc\r\n", "5:abc;"},
        {K_GET, "200 {id} 65538 9 9\r\n5 1 3\r\nabc\r\n", "200 {id} 0 5 5\r\n",
         ""},
        {K_GET, "200 {id} 18446744073709551616 9 9\r\n", "200 {id} 0 5 5\r\n",
         ""},
        {K_GET, "200 {id} -1 9 9\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 1 6 6\r\n5 1 1073741825\r\nabc", "200 {id} 0 5 5\r\n",
         ""},
        {K_GET, "200 {id} 1 6 6\r\n5 1 18446744073709551615\r\nabc",
         "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 1 6 6\r\n5 1 3\r\nabcdef\r\n", "200 {id} 0 5 5\r\n",
         ""},
        {K_GET, "200 {id} 2 7 7\r\n5 1 1\r\na\r\n5 1 1\r\nb\r\n",
         "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 1 6 6\r\n4 1 1\r\na\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 1 5 6\r\n5 1 1\r\na\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 0 900 900\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 {id} 1 6 6\r\n5 9223372036854775808 1\r\na\r\n",
         "200 {id} 0 5 5\r\n", ""},
        {K_GET, "416 {id} 0 10 offset beyond the end\r\n", "200 {id} 0 5 5\r\n",
         ""},
        {K_GET, "416 {id} zz\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 999999 0 5 5\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "200 - 0 5 5\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "2x0 {id} 0 5 5\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_GET, "999 {id} 0 5 5\r\n", "200 {id} 0 5 5\r\n", ""},
        {K_OFFSETS, "200 {id} 9 3\r\n", "200 {id} 0 4\r\n", "0 4"},
        {K_OFFSETS, "200 {id} -1 3\r\n", "200 {id} 0 4\r\n", "0 4"},
        {K_OFFSETS, "200 {id} 1 99999999999999999999\r\n", "200 {id} 0 4\r\n",
         "0 4"},
        {K_OFFSETS, "200 {id} 1\r\n", "200 {id} 0 4\r\n", "0 4"},
        {K_OFFSETS, "200 {id} 1 2 3\r\n", "200 {id} 0 4\r\n", "0 4"},
        {K_COMMITTED, "200 {id} +4\r\n", "200 {id} 4\r\n", "4"},
        {K_COMMITTED, "200 {id} 4x\r\n", "200 {id} 4\r\n", "4"},
        {K_COMMIT, "200 {id} 8\r\n", "200 {id} 9\r\n", ""},
        {K_PUT, "200 {id} 18446744073709551616\r\n", "200 {id} 3\r\n", "3"},
        {K_PUT, "200 {id} unknown\r\n", "200 {id} 3\r\n", "3"},
        {K_PUT, "200 {id} 3 garbage\r\n", "200 {id} 3\r\n", "3"},
        {K_PARTITIONS, "200 {id} 2\r\nt p 0 4\r\nEND\r\n",
         "200 {id} 1\r\nt p 0 4\r\nEND\r\n", "t p 0 4\n"},
        {K_PARTITIONS, "200 {id} 1\r\nt p 0 4\r\nt q 0 4\r\nEND\r\n",
         "200 {id} 1\r\nt p 0 4\r\nEND\r\n", "t p 0 4\n"},
        {K_PARTITIONS, "200 {id} 1\r\nt p 9 4\r\nEND\r\n",
         "200 {id} 1\r\nt p 0 4\r\nEND\r\n", "t p 0 4\n"},
        {K_PARTITIONS, "200 {id} 1\r\nt p\x01 0 4\r\nEND\r\n",
         "200 {id} 1\r\nt p 0 4\r\nEND\r\n", "t p 0 4\n"},
        {K_PARTITIONS, "200 {id} many\r\nEND\r\n", "200 {id} 0\r\nEND\r\n", ""},
        {K_STATS, "200 {id}\r\nSTAT a 1\r\nnot a stat\r\nEND\r\n",
         "200 {id}\r\nSTAT a 1\r\nEND\r\n", "STAT a 1\n"},
        {K_STATS, "200 {id}\r\nSTAT a \x1b[2J\r\nEND\r\n",
         "200 {id}\r\nSTAT a 1\r\nEND\r\n", "STAT a 1\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fake_t fb;
        memset(&fb, 0, sizeof fb);
        const char *script[2] = {cases[k].bad, cases[k].good};
        fb.script = script;
        fb.nscript = 2;
        fake_start(&fb, script_fn);
        sl_client_t *cl = fake_client(&fb);
        sl_buf_t got = SL_BUF_INIT;
        int rc = call(cl, cases[k].kind, &got);
        if (rc != SL_EPROTO || got.len != 0)
            sl_test_fail(__FILE__, __LINE__, "case %zu: %s, data '%.*s'", k,
                         sl_errname(rc), (int)got.len, (const char *)got.data);
        if (strstr(sl_client_error(cl), "malformed reply") == NULL)
            sl_test_fail(__FILE__, __LINE__, "case %zu: message '%s'", k,
                         sl_client_error(cl));
        /* The client closed the connection. */
        if (!wait_eofs(&fb, 1))
            sl_test_fail(__FILE__, __LINE__, "case %zu: connection kept", k);
        /* The next call reconnects and gets the good reply. */
        rc = call(cl, cases[k].kind, &got);
        if (rc != 0 || got.len != strlen(cases[k].want) ||
            (got.len > 0 && memcmp(got.data, cases[k].want, got.len) != 0))
            sl_test_fail(__FILE__, __LINE__,
                         "case %zu: after reconnect %s, "
                         "data '%.*s'",
                         k, sl_errname(rc), (int)got.len,
                         (const char *)got.data);
        SL_CHECK_INT(fake_get(&fb, &fb.conns), 2);
        sl_buf_free(&got);
        sl_client_close(cl);
        fake_stop(&fb);
    }
}

/* A reply line without an end is refused at the line limit, not buffered
 * for ever; a pipelined ack stream with a malformed ack drops the
 * connection and every ack still due. */
SL_TEST(client_hostile_long_line_and_pipelined_acks) {
    static char longline[80 * 1024];
    memset(longline, 'a', sizeof longline - 1);
    memcpy(longline, "200 {id} ", 9);
    const char *script[1] = {longline};
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.script = script;
    fb.nscript = 1;
    fake_start(&fb, script_fn);
    sl_client_t *cl = fake_client(&fb);
    uint64_t a, b;
    SL_CHECK_INT(sl_client_offsets(cl, "t", "p", &a, &b), SL_EPROTO);
    SL_CHECK(strstr(sl_client_error(cl), "longer than") != NULL);
    SL_CHECK(wait_eofs(&fb, 1));
    sl_client_close(cl);
    fake_stop(&fb);

    /* Three pipelined puts: the first ack is fine, the second malformed. */
    memset(&fb, 0, sizeof fb);
    const char *acks[3] = {"200 {id} 0\r\n", "200 {id} zero\r\n",
                           "200 {id} 2\r\n"};
    fb.script = acks;
    fb.nscript = 3;
    fake_start(&fb, script_fn);
    cl = fake_client(&fb);
    sl_client_msg_t m = {"x", 1};
    for (int i = 0; i < 3; i++)
        SL_CHECK_OK(
            sl_client_put_send(cl, "t", "p", &m, 1, 1, (uint64_t)i, NULL));
    sl_client_ack_t ack;
    SL_CHECK_OK(sl_client_put_ack(cl, &ack));
    SL_CHECK_UINT(ack.offset, 0);
    SL_CHECK_INT(sl_client_put_ack(cl, &ack), SL_EPROTO);
    SL_CHECK_UINT(sl_client_inflight(cl), 0);
    SL_CHECK(wait_eofs(&fb, 1));
    sl_client_close(cl);
    fake_stop(&fb);
}

/* ---- the CLI ------------------------------------------------------------- */

/* Runs `sluice --broker ADDR args` with stdout and stderr to files; returns
 * the wait status and the two outputs. */
static int run_cli(const char *addr, const char *args, char *out, size_t outlen,
                   char *err, size_t errlen) {
    char o[600], e[600], cmd[2048];
    snprintf(o, sizeof o, "%s/cli.out", sl_test_tmpdir());
    snprintf(e, sizeof e, "%s/cli.err", sl_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s --broker %s --timeout 20s %s >%s 2>%s",
             sl_harness_bin("sluice"), addr, args, o, e);
    int rc = system(cmd);
    const char *paths[2] = {o, e};
    char *bufs[2] = {out, err};
    size_t lens[2] = {outlen, errlen};
    for (int i = 0; i < 2; i++) {
        FILE *fp = fopen(paths[i], "r");
        size_t n = fp ? fread(bufs[i], 1, lens[i] - 1, fp) : 0;
        bufs[i][n] = '\0';
        if (fp)
            fclose(fp);
    }
    return rc;
}

/* The real CLI against hostile replies: exit 1, a message naming the
 * malformed reply, nothing printed as data, no crash. */
SL_TEST(client_hostile_cli) {
    static const struct {
        const char *args;
        const char *script[2];
    } cases[] = {
        {"tail t p",
         {"200 {id} 0 5\r\n",
          "200 {id} 576460752303423489 5 5\r\n0 1 3\r\nabc\r\n"}},
        {"tail t p",
         {"200 {id} 0 5\r\n", "200 {id} 1 1 5\r\n0 1 1073741825\r\nabc"}},
        {"tail t p", {"200 {id} 0 5\r\n", "200 {id} 1 1 5\r\n0 1 3\r\nabcX\n"}},
        {"tail t p --follow", {"200 {id} 0 5\r\n", "200 {id} 0 9 5\r\n"}},
        {"tail t p", {"200 {id} 18446744073709551616 5\r\n", NULL}},
        {"offsets t p", {"200 {id} 9 3\r\n", NULL}},
        {"offsets t p", {"200 {id} -1 3\r\n", NULL}},
        {"offsets t p", {"200 77 0 3\r\n", NULL}},
        {"offsets t p --group g", {"200 {id} 0 3\r\n", "200 {id} 3 dup\r\n"}},
        {"partitions", {"200 {id} 1\r\n\x1b[2J t p 0 1\r\nEND\r\n", NULL}},
        {"stats", {"200 {id}\r\nSTAT x \x07\r\nEND\r\n", NULL}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fake_t fb;
        memset(&fb, 0, sizeof fb);
        fb.script = cases[k].script;
        fb.nscript = cases[k].script[1] ? 2 : 1;
        fake_start(&fb, script_fn);
        char out[4096], err[4096];
        int rc =
            run_cli(fb.addr, cases[k].args, out, sizeof out, err, sizeof err);
        int lines_ok = strncmp(cases[k].args, "offsets", 7) == 0
                           ? strncmp(out, "earliest 0\nlatest 3\n", 20) == 0 ||
                                 out[0] == '\0'
                           : out[0] == '\0';
        if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 1 ||
            strstr(err, "malformed reply from broker") == NULL || !lines_ok)
            sl_test_fail(__FILE__, __LINE__,
                         "case %zu (%s): status %d, "
                         "stdout '%s', stderr '%s'",
                         k, cases[k].args, rc, out, err);
        fake_stop(&fb);
    }
}

/* ---- capture's publisher ------------------------------------------------ */

/* Publishes n messages "m0".."m{n-1}" to partition p, one batch of two per
 * cut, and waits until all are acknowledged. */
static int publish_all(fake_t *fb, int n, char *errbuf, size_t errlen) {
    sl_publish_opts_t po = {.broker = fb->addr,
                            .topic = "t",
                            .checkpoint_partition = "cap",
                            .producer = 7};
    volatile int stop = 0;
    sl_checkpoint_t cp;
    int found = 0;
    sl_publish_t *pub = NULL;
    int rc = sl_publish_open(&pub, &po, &stop, &cp, &found, errbuf, errlen);
    if (rc != 0)
        return rc;
    sl_publish_set_seq(pub, 1);
    for (int i = 0; i < n && rc == 0; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "m%d", i);
        rc = sl_publish_message(pub, "p", 1, msg, strlen(msg));
        if (rc == 0 && i % 2 == 1)
            rc = sl_publish_cut(pub);
    }
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "binlog.000001");
    cp.pos = 4;
    if (rc == 0)
        rc = sl_publish_boundary(pub, &cp);
    if (rc == 0)
        rc = sl_publish_sync(pub, 1, 0);
    if (rc != 0)
        snprintf(errbuf, errlen, "%s", sl_publish_error(pub));
    sl_publish_free(pub);
    return rc;
}

/* Every message is stored once, in order, in partition p. */
static void check_stored_once(fake_t *fb, int n) {
    int k = 0;
    for (size_t i = 0; i < fb->nstored; i++) {
        if (strcmp(fb->stored[i].part, "p") != 0)
            continue;
        char want[32];
        snprintf(want, sizeof want, "m%d", k);
        if (strcmp(fb->stored[i].data, want) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "stored #%d is '%s', expected "
                         "'%s'",
                         k, fb->stored[i].data, want);
        k++;
    }
    SL_CHECK_INT(k, n);
}

/* A malformed ack (an offset that overflows) is a broker failure to
 * capture: it reconnects and sends the unacknowledged batches again; the
 * broker's sequence check drops the one it had stored; every message ends
 * up stored once. */
SL_TEST(client_hostile_capture_malformed_ack_resumes) {
    sl_log_set_level(SL_LOG_ERROR);
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.bad_acks = 2;
    fake_start(&fb, put_fn);
    char err[600] = "";
    int rc = publish_all(&fb, 40, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "publish: %s (%s)", sl_errname(rc),
                     err);
    SL_CHECK(fake_get(&fb, &fb.conns) >= 2);
    check_stored_once(&fb, 40);
    fake_stop(&fb);
}

/* 507 insufficient storage: the client reports SL_ENOSPC (with the
 * broker's text); an idempotent put is retried on a new connection; capture
 * backs off and sends again until the broker takes the puts, and every
 * message is stored once, in order. */
SL_TEST(client_hostile_507_is_transient) {
    sl_log_set_level(SL_LOG_ERROR);
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.refuse = 1;
    fake_start(&fb, put_fn);
    sl_client_t *cl = fake_client(&fb);
    uint64_t off;
    int dup;
    SL_CHECK_INT(sl_client_put(cl, "t", "q", "x", 1, 5, 1, &off, &dup),
                 SL_ENOSPC);
    SL_CHECK(strstr(sl_client_error(cl), "507") != NULL);
    /* The fake closed after the refusal; the next put reconnects. */
    SL_CHECK_OK(sl_client_put(cl, "t", "q", "x", 1, 5, 1, &off, &dup));
    SL_CHECK_UINT(off, 0);
    sl_client_close(cl);
    fake_stop(&fb);

    memset(&fb, 0, sizeof fb);
    fb.refuse = 3;
    fake_start(&fb, put_fn);
    char err[600] = "";
    int rc = publish_all(&fb, 40, err, sizeof err);
    if (rc != 0)
        sl_test_fail(__FILE__, __LINE__, "publish: %s (%s)", sl_errname(rc),
                     err);
    SL_CHECK_INT(fake_get(&fb, &fb.refused), 3);
    check_stored_once(&fb, 40);
    fake_stop(&fb);
}

/* A broker that refuses a batch with 507 but goes on storing the batches
 * pipelined behind it breaks the partition's order; the refused batch,
 * sent again, then counts as a duplicate. Capture stops with an error
 * saying so instead of losing the batch silently. */
SL_TEST(client_hostile_capture_refused_then_dup_stops) {
    sl_log_set_level(SL_LOG_ERROR);
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.refuse = 1;
    fb.keep_open = 1;
    fake_start(&fb, put_fn);
    char err[600] = "";
    int rc = publish_all(&fb, 40, err, sizeof err);
    SL_CHECK_INT(rc, SL_ECORRUPT);
    if (strstr(err, "stored a later one first") == NULL)
        sl_test_fail(__FILE__, __LINE__, "message: %s", err);
    fake_stop(&fb);
}

static int collect_cb(void *ctx, const uint8_t *data, size_t len) {
    sl_buf_t *got = ctx;
    sl_buf_append(got, data, len);
    sl_buf_append_u8(got, ';');
    return 0;
}

/* Capture reading its schema history through malformed replies (an
 * offsets reply with EARLIEST above LATEST, a get announcing
 * 576460752303423489 records): it reconnects and reads every record once. */
SL_TEST(client_hostile_capture_history_read_resumes) {
    sl_log_set_level(SL_LOG_ERROR);
    const char *script[] = {"404 {id} unknown partition\r\n",
                            "200 {id} 9 1\r\n",
                            "200 {id} 0 2\r\n",
                            "200 {id} 576460752303423489 1 2\r\n",
                            "200 {id} 1 1 2\r\n0 1 5\r\nhello\r\n",
                            "200 {id} 1 2 2\r\n1 1 5\r\nworld\r\n"};
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.script = script;
    fb.nscript = sizeof script / sizeof script[0];
    fake_start(&fb, script_fn);
    sl_publish_opts_t po = {.broker = fb.addr,
                            .topic = "t",
                            .checkpoint_partition = "cap",
                            .producer = 7};
    volatile int stop = 0;
    sl_checkpoint_t cp;
    int found = 1;
    char err[600] = "";
    sl_publish_t *pub = NULL;
    SL_CHECK_OK(
        sl_publish_open(&pub, &po, &stop, &cp, &found, err, sizeof err));
    SL_CHECK_INT(found, 0);
    sl_buf_t got = SL_BUF_INIT;
    SL_CHECK_OK(sl_publish_read_internal(pub, "schema", collect_cb, &got));
    SL_CHECK_MEM(got.data, got.len, "hello;world;", 12);
    SL_CHECK_INT(fake_get(&fb, &fb.conns), 3);
    sl_buf_free(&got);
    sl_publish_free(pub);
    fake_stop(&fb);
}

/* ---- apply --------------------------------------------------------------- */

/* One transaction of partition ch.users: an update of user 1. */
static const char *const apply_events[3] = {
    "{\"kind\":\"begin\",\"src\":{\"file\":\"b.1\",\"pos\":1,\"end_pos\":1,"
    "\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":1,\"id\":\"0-1-1\"}}",
    "{\"kind\":\"row\",\"op\":\"update\",\"before\":{\"id\":1},\"after\":"
    "{\"id\":1},\"db\":\"ch\",\"table\":\"users\",\"row\":0,\"pk\":[\"id\"],"
    "\"src\":{\"file\":\"b.1\",\"pos\":1,\"end_pos\":1,\"server_id\":1,"
    "\"ts\":1},\"trx\":{\"seq\":1,\"id\":\"0-1-1\"}}",
    "{\"kind\":\"commit\",\"rows\":1,\"src\":{\"file\":\"b.1\",\"pos\":1,"
    "\"end_pos\":1,\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":1,\"id\":"
    "\"0-1-1\"}}"};

/* The apply mode: a broker holding apply_events in shop/ch.users, whose
 * first answers to gets are hostile. */
static void apply_fn(fake_t *fb, int fd, const req_t *req) {
    const char *verb = req->tok[0], *id = req->tok[1];
    char line[256];
    if (strcmp(verb, "partitions") == 0) {
        fake_reply(fd, "200 {id} 1\r\nshop ch.users 0 3\r\nEND\r\n", id);
    } else if (strcmp(verb, "offsets") == 0) {
        fake_reply(fd, "200 {id} 0 3\r\n", id);
    } else if (strcmp(verb, "committed") == 0) {
        pthread_mutex_lock(&fb->mu);
        int have = fb->commits > 0;
        snprintf(line, sizeof line, "200 {id} %llu\r\n",
                 (unsigned long long)fb->committed);
        pthread_mutex_unlock(&fb->mu);
        fake_reply(fd, have ? line : "404 {id} no committed offset\r\n", id);
    } else if (strcmp(verb, "commit") == 0 && req->ntok >= 6) {
        pthread_mutex_lock(&fb->mu);
        fb->commits++;
        fb->committed = strtoull(req->tok[5], NULL, 10);
        pthread_mutex_unlock(&fb->mu);
        snprintf(line, sizeof line, "200 {id} %.40s\r\n", req->tok[5]);
        fake_reply(fd, line, id);
    } else if (strcmp(verb, "get") == 0 && req->ntok >= 5) {
        pthread_mutex_lock(&fb->mu);
        fb->gets++;
        int hostile = fb->hostile_gets > 0;
        if (hostile)
            fb->hostile_gets--;
        pthread_mutex_unlock(&fb->mu);
        if (hostile) {
            fake_reply(fd,
                       "200 {id} 576460752303423489 3 3\r\n0 1 5\r\n"
                       "hello\r\n",
                       id);
            return;
        }
        uint64_t off = strtoull(req->tok[4], NULL, 10);
        if (off >= 3) {
            /* Caught up: hold the long poll a little, as the broker
             * would, so that the consumer does not spin. */
            sl_harness_sleep_ms(100);
            snprintf(line, sizeof line, "200 {id} 0 %llu 3\r\n",
                     (unsigned long long)off);
            fake_reply(fd, line, id);
            return;
        }
        sl_buf_t out = SL_BUF_INIT;
        sl_buf_printf(&out, "200 %s %llu 3 3\r\n", id,
                      (unsigned long long)(3 - off));
        for (uint64_t i = off; i < 3; i++)
            sl_buf_printf(&out, "%llu 1 %zu\r\n%s\r\n", (unsigned long long)i,
                          strlen(apply_events[i]), apply_events[i]);
        fake_send(fd, (const char *)out.data, out.len);
        sl_buf_free(&out);
    } else {
        fake_reply(fd, "400 {id} unknown command\r\n", id);
    }
}

/* sluice-apply whose broker answers its first gets with a reply announcing
 * 576460752303423489 records: the fetch fails as a protocol error, apply
 * reconnects and resumes from its position, applies the transaction (the
 * Redis key is deleted), commits its offset, and exits cleanly. */
SL_TEST(client_hostile_apply_resumes) {
    uint16_t rport = sl_harness_port("REDIS");
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.concurrent = 1;
    fb.hostile_gets = 2;
    fake_start(&fb, apply_fn);
    char keys[600], logp[600], redis[64], cmd[800];
    snprintf(keys, sizeof keys, "%s/keys", sl_test_tmpdir());
    snprintf(logp, sizeof logp, "%s/apply.log", sl_test_tmpdir());
    snprintf(redis, sizeof redis, "127.0.0.1:%u", rport);
    FILE *kf = fopen(keys, "w");
    SL_CHECK(kf != NULL);
    fputs("ch.users hostile:user:{id}\n", kf);
    fclose(kf);
    redisContext *rc = redisConnect("127.0.0.1", rport);
    SL_CHECK(rc != NULL && rc->err == 0);
    redisReply *r = redisCommand(rc, "SET hostile:user:1 v");
    SL_CHECK(r != NULL);
    freeReplyObject(r);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    fb.addr,
                    "--topic",
                    "shop",
                    "--group",
                    "g",
                    "--redis",
                    redis,
                    "--keys",
                    keys,
                    "--poll",
                    "200ms",
                    NULL};
    int pid = sl_harness_spawn(argv, logp);
    int done = 0;
    for (int i = 0; i < 600 && !done; i++) {
        pthread_mutex_lock(&fb.mu);
        done = fb.committed >= 3;
        pthread_mutex_unlock(&fb.mu);
        if (!done)
            sl_harness_sleep_ms(100);
    }
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    r = redisCommand(rc, "EXISTS hostile:user:1");
    int gone = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    freeReplyObject(r);
    redisFree(rc);
    snprintf(cmd, sizeof cmd,
             "grep -q 'fetch failed; retrying.*protocol "
             "error' %s",
             logp);
    int logged = system(cmd) == 0;
    int hostile_left = fake_get(&fb, &fb.hostile_gets);
    fake_stop(&fb);
    if (!done || !gone || !logged || hostile_left != 0)
        sl_test_fail(__FILE__, __LINE__,
                     "committed %d, key gone %d, logged "
                     "%d, hostile gets left %d (see %s)",
                     done, gone, logged, hostile_left, logp);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- tail --follow ------------------------------------------------------- */

/* Starts `sluice --broker addr tail t p ARGS --follow` with stdout to a
 * pipe; returns the pid and the pipe's read end in *rfd. */
static int spawn_tail(const char *addr, const char *from, int *rfd) {
    int p[2];
    SL_CHECK(pipe(p) == 0);
    char log[600];
    snprintf(log, sizeof log, "%s/tail.err", sl_test_tmpdir());
    int pid = fork();
    SL_CHECK(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        close(p[0]);
        close(p[1]);
        execl(sl_harness_bin("sluice"), "sluice", "--broker", addr, "--timeout",
              "300s", "tail", "t", "p", "--from", from, "--follow",
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

/* Reads from fd until want was read, for at most 60 s (only against a
 * hang). Returns 1 when it came. */
static int read_until(int fd, const char *want) {
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 600; i++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, want) != NULL)
            return 1;
    }
    return 0;
}

/* The message reaches the pipe while the CLI waits in its next long poll:
 * here the fake broker never answers that poll, so a message left in the
 * stdio buffer would never come (it used to, up to 10 s late, only when the
 * poll ended). */
SL_TEST(client_tail_follow_flushes_each_batch) {
    const char *script[3] = {"200 {id} 0 1\r\n",
                             "200 {id} 1 1 1\r\n0 1 5\r\nhello\r\n", NULL};
    fake_t fb;
    memset(&fb, 0, sizeof fb);
    fb.script = script;
    fb.nscript = 3;
    fake_start(&fb, script_fn);
    int rfd;
    int pid = spawn_tail(fb.addr, "earliest", &rfd);
    int came = read_until(rfd, "hello\n");
    sl_harness_stop(pid, SIGTERM, 10000);
    close(rfd);
    fake_stop(&fb);
    SL_CHECK(came);
}

/* The same end to end with the real broker: a message put by another
 * client while `sluice tail --follow` waits is read from its pipe. */
SL_TEST(client_tail_follow_real_broker) {
    char addr[64];
    int bpid = sl_harness_start_broker(sl_test_tmpdir(), addr, sizeof addr);
    sl_client_t *cl = NULL;
    sl_client_opts_t o = {.io_timeout_ms = 10000};
    SL_CHECK_OK(sl_client_connect(addr, &o, &cl));
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "t", "p", "first", 5, -1, 0, &off, &dup));
    int rfd;
    int pid = spawn_tail(addr, "earliest", &rfd);
    SL_CHECK(read_until(rfd, "first\n"));
    SL_CHECK_OK(sl_client_put(cl, "t", "p", "second", 6, -1, 0, &off, &dup));
    int came = read_until(rfd, "second\n");
    sl_harness_stop(pid, SIGTERM, 10000);
    close(rfd);
    sl_client_close(cl);
    sl_harness_stop(bpid, SIGTERM, 10000);
    SL_CHECK(came);
}
