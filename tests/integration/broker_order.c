/*
 * Reply order with refusals (issue 12, desync class): the real
 * bin/sluice-broker gets, on one connection and in one write, many good
 * puts with refused puts, mputs and commits among them (a CRC mismatch, a
 * partition beyond --max-partitions, an overlapping sequence range, a
 * commit to an unknown partition or with a bad group name). The replies
 * are read raw and compared line by line with what each request must get,
 * in request order: a refusal must not overtake the acks of the puts
 * before it, and every good put must get its right offset. Also checked:
 * after a refused idempotent put, the producer's later pipelined batches
 * in that partition are refused until the refused one is resent (the
 * fence), so the resend is stored and not taken for a duplicate.
 */
#include "harness.h"
#include "sl_test.h"

#include "crc32c.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A raw connection; the receive timeout is generous, only there to turn
 * a hang into a failure. */
static int raw_connect(uint16_t port) {
    int fd = sl_harness_tcp_connect(port, 0, 30000, 0);
    SL_CHECK(fd >= 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n) {
    SL_CHECK(send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

/* A pipeline: the requests to send in one write, and the exact reply line
 * each must get, in order. */
typedef struct {
    char *req;
    size_t len, cap;
    char **want;
    size_t n, capn;
} pipe_t;

static void pipe_req(pipe_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void pipe_req(pipe_t *p, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(p->req + p->len, p->cap - p->len, fmt, ap);
        va_end(ap);
        SL_CHECK(k >= 0);
        if ((size_t)k < p->cap - p->len) {
            p->len += (size_t)k;
            return;
        }
        p->cap = p->cap * 2 + (size_t)k + 64;
        p->req = realloc(p->req, p->cap);
        SL_CHECK(p->req != NULL);
    }
}

static void pipe_want(pipe_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void pipe_want(pipe_t *p, const char *fmt, ...) {
    if (p->n == p->capn) {
        p->capn = p->capn ? p->capn * 2 : 64;
        p->want = realloc(p->want, p->capn * sizeof *p->want);
        SL_CHECK(p->want != NULL);
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->want[p->n++] = strdup(line);
}

/* A put of payload to topic/part with extra options (may be ""). */
static void pipe_put(pipe_t *p, uint64_t id, const char *part, const char *opts,
                     const char *payload) {
    pipe_req(p, "put %" PRIu64 " t %s %zu%s%s\r\n%s\r\n", id, part,
             strlen(payload), *opts ? " " : "", opts, payload);
}

/* Sends the pipeline in one write and compares every reply line, in
 * order, with what was wanted. The connection stays open (returned). */
static int pipe_run(pipe_t *p, uint16_t port) {
    int fd = raw_connect(port);
    send_all(fd, p->req, p->len);
    size_t cap = 1 << 20, got = 0, at = 0;
    char *in = malloc(cap);
    SL_CHECK(in != NULL);
    for (size_t i = 0; i < p->n; i++) {
        char *nl;
        while ((nl = memchr(in + at, '\n', got - at)) == NULL) {
            SL_CHECK(got < cap);
            ssize_t r = recv(fd, in + got, cap - got, 0);
            if (r <= 0)
                sl_test_fail(__FILE__, __LINE__,
                             "connection ended (or timed out) before reply "
                             "%zu of %zu; wanted: %s",
                             i + 1, p->n, p->want[i]);
            got += (size_t)r;
        }
        *nl = '\0';
        if (nl > in + at && nl[-1] == '\r')
            nl[-1] = '\0';
        if (strcmp(in + at, p->want[i]) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "reply %zu: got \"%s\", "
                         "wanted \"%s\"",
                         i + 1, in + at, p->want[i]);
        at = (size_t)(nl - in) + 1;
    }
    SL_CHECK_INT((int)(got - at), 0); /* Nothing more than was asked. */
    free(in);
    for (size_t i = 0; i < p->n; i++)
        free(p->want[i]);
    free(p->want);
    free(p->req);
    memset(p, 0, sizeof *p);
    return fd;
}

/* One request on fd; its reply's first line in out. */
static void ask(int fd, const char *req, char *out, size_t outlen) {
    send_all(fd, req, strlen(req));
    size_t got = 0;
    while (got + 1 < outlen) {
        ssize_t r = recv(fd, out + got, 1, 0);
        SL_CHECK(r == 1);
        got++;
        if (out[got - 1] == '\n')
            break;
    }
    out[got] = '\0';
}

/* The payloads stored at partition t/part from offset 0, joined by ','. */
static void stored(int fd, const char *part, char *out, size_t outlen) {
    char req[128], line[256];
    snprintf(req, sizeof req, "get 999 t %s 0\r\n", part);
    ask(fd, req, line, sizeof line);
    unsigned count = 0;
    SL_CHECK(sscanf(line, "200 999 %u", &count) == 1);
    out[0] = '\0';
    for (unsigned i = 0; i < count; i++) {
        uint64_t off, ts;
        size_t len;
        ask(fd, "", line, sizeof line);
        SL_CHECK(sscanf(line, "%" SCNu64 " %" SCNu64 " %zu", &off, &ts, &len) ==
                 3);
        SL_CHECK_INT((int)off, (int)i);
        char data[256];
        SL_CHECK(len + 2 <= sizeof data);
        size_t got = 0;
        while (got < len + 2) {
            ssize_t r = recv(fd, data + got, len + 2 - got, 0);
            SL_CHECK(r > 0);
            got += (size_t)r;
        }
        data[len] = '\0';
        if (i)
            strncat(out, ",", outlen - strlen(out) - 1);
        strncat(out, data, outlen - strlen(out) - 1);
    }
}

/* A CRC-32C no payload of these tests has (a mismatch by construction). */
static uint32_t bad_crc(const char *payload) {
    return sl_crc32c(0, payload, strlen(payload)) ^ 1u;
}

#define OVERLAP_TEXT                                                           \
    "sequence range overlaps the last stored batch of this producer; "         \
    "resend with the same batch boundaries"
#define FENCED_TEXT                                                            \
    "an earlier batch of this producer in this partition was refused; "        \
    "resend from it"

SL_TEST(broker_order_refusals_keep_request_order) {
    sl_harness_broker_t b = {0};
    const char *flags[] = {"--max-partitions", "3", NULL};
    sl_harness_broker_start(&b, flags, 10000);
    pipe_t p = {0};
    char opts[128], payload[64];
    uint64_t id = 1, off0 = 0;
    /* 50 good puts, so acks are pending when the refusals come. */
    for (int i = 0; i < 50; i++, id++) {
        snprintf(payload, sizeof payload, "m%" PRIu64, off0);
        pipe_put(&p, id, "p0", "", payload);
        pipe_want(&p, "200 %" PRIu64 " %" PRIu64, id, off0++);
    }
    /* A CRC mismatch: refused, the connection stays open. */
    snprintf(opts, sizeof opts, "crc=%u", bad_crc("bad"));
    pipe_put(&p, id, "p0", opts, "bad");
    pipe_want(&p, "400 %" PRIu64 " crc mismatch", id++);
    for (int i = 0; i < 10; i++, id++) {
        snprintf(payload, sizeof payload, "m%" PRIu64, off0);
        pipe_put(&p, id, "p0", "", payload);
        pipe_want(&p, "200 %" PRIu64 " %" PRIu64, id, off0++);
    }
    /* p1 and p2 reach --max-partitions 3; p3 is one too many. */
    pipe_put(&p, id, "p1", "", "one");
    pipe_want(&p, "200 %" PRIu64 " 0", id++);
    pipe_put(&p, id, "p2", "", "two");
    pipe_want(&p, "200 %" PRIu64 " 0", id++);
    pipe_put(&p, id, "p3", "", "three");
    pipe_want(&p,
              "429 %" PRIu64 " partition limit reached "
              "(max-partitions 3)",
              id++);
    for (int i = 0; i < 10; i++, id++) {
        snprintf(payload, sizeof payload, "m%" PRIu64, off0);
        pipe_put(&p, id, "p0", "", payload);
        pipe_want(&p, "200 %" PRIu64 " %" PRIu64, id, off0++);
    }
    /* Commits: to an unknown partition, with a group name over 255
     * bytes, and a good one. */
    pipe_req(&p, "commit %" PRIu64 " g t nosuch 1\r\n", id);
    pipe_want(&p, "404 %" PRIu64 " unknown partition", id++);
    char group[301];
    memset(group, 'g', 300);
    group[300] = '\0';
    pipe_req(&p, "commit %" PRIu64 " %s t p0 5\r\n", id, group);
    pipe_want(&p, "400 %" PRIu64 " bad group name", id++);
    pipe_req(&p, "commit %" PRIu64 " g t p0 5\r\n", id);
    pipe_want(&p, "200 %" PRIu64 " 5", id++);
    /* An idempotent producer in p1: sequences 0-1 at offsets 1-2; 1-2
     * overlaps (409); the pipelined 3 must not be stored before 2 (it is
     * fenced); resending 0-1 is a duplicate, then 2 and 3 are stored. */
    pipe_req(&p, "mput %" PRIu64 " t p1 2 pid=3 seq=0\r\n1\r\na\r\n1\r\nb\r\n",
             id);
    pipe_want(&p, "200 %" PRIu64 " 1", id++);
    pipe_req(&p, "mput %" PRIu64 " t p1 2 pid=3 seq=1\r\n1\r\nb\r\n1\r\nc\r\n",
             id);
    pipe_want(&p, "409 %" PRIu64 " " OVERLAP_TEXT, id++);
    pipe_put(&p, id, "p1", "pid=3 seq=3", "d");
    pipe_want(&p, "409 %" PRIu64 " " FENCED_TEXT, id++);
    pipe_req(&p, "mput %" PRIu64 " t p1 2 pid=3 seq=0\r\n1\r\na\r\n1\r\nb\r\n",
             id);
    pipe_want(&p, "200 %" PRIu64 " 1 dup", id++);
    pipe_put(&p, id, "p1", "pid=3 seq=2", "c");
    pipe_want(&p, "200 %" PRIu64 " 3", id++);
    pipe_put(&p, id, "p1", "pid=3 seq=3", "d");
    pipe_want(&p, "200 %" PRIu64 " 4", id++);
    for (int i = 0; i < 20; i++, id++) {
        snprintf(payload, sizeof payload, "m%" PRIu64, off0);
        pipe_put(&p, id, "p0", "", payload);
        pipe_want(&p, "200 %" PRIu64 " %" PRIu64, id, off0++);
    }
    pipe_req(&p, "offsets %" PRIu64 " t p0\r\n", id);
    pipe_want(&p, "200 %" PRIu64 " 0 %" PRIu64, id++, off0);
    int fd = pipe_run(&p, b.port);
    /* The connection still works, and what is stored is exactly the good
     * puts, each at the offset its ack named. */
    char got[4096], want[4096] = "";
    stored(fd, "p0", got, sizeof got);
    for (uint64_t o = 0; o < off0; o++) {
        char m[32];
        snprintf(m, sizeof m, "%sm%" PRIu64, o ? "," : "", o);
        strncat(want, m, sizeof want - strlen(want) - 1);
    }
    SL_CHECK_STR(got, want);
    stored(fd, "p1", got, sizeof got);
    SL_CHECK_STR(got, "one,a,b,c,d");
    char line[256];
    ask(fd, "offsets 1 t p3\r\n", line, sizeof line);
    SL_CHECK_STR(line, "404 1 unknown partition\r\n");
    close(fd);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}

SL_TEST(broker_order_crc_refusal_fences_the_producer) {
    sl_harness_broker_t b = {0};
    sl_harness_broker_start(&b, NULL, 10000);
    pipe_t p = {0};
    char opts[128], payload[64];
    uint64_t id = 1;
    for (int i = 0; i < 30; i++, id++) {
        snprintf(payload, sizeof payload, "x%d", i);
        pipe_put(&p, id, "other", "", payload);
        pipe_want(&p, "200 %" PRIu64 " %d", id, i);
    }
    /* Partition f exists: sequence 1 arrives damaged; 2, pipelined behind
     * it, must wait for its resend. */
    pipe_put(&p, id, "f", "pid=5 seq=0", "a0");
    pipe_want(&p, "200 %" PRIu64 " 0", id++);
    snprintf(opts, sizeof opts, "pid=5 seq=1 crc=%u", bad_crc("a1"));
    pipe_put(&p, id, "f", opts, "a1");
    pipe_want(&p, "400 %" PRIu64 " crc mismatch", id++);
    pipe_put(&p, id, "f", "pid=5 seq=2", "a2");
    pipe_want(&p, "400 %" PRIu64 " " FENCED_TEXT, id++);
    /* Another producer in the same partition is not held back. */
    pipe_put(&p, id, "f", "pid=9 seq=7", "z");
    pipe_want(&p, "200 %" PRIu64 " 1", id++);
    pipe_put(&p, id, "f", "pid=5 seq=1", "a1");
    pipe_want(&p, "200 %" PRIu64 " 2", id++);
    pipe_put(&p, id, "f", "pid=5 seq=2", "a2");
    pipe_want(&p, "200 %" PRIu64 " 3", id++);
    /* Partition g does not exist yet when its first batch arrives
     * damaged: the next one must not create it and be stored first. */
    snprintf(opts, sizeof opts, "pid=6 seq=0 crc=%u", bad_crc("b0"));
    pipe_put(&p, id, "g", opts, "b0");
    pipe_want(&p, "400 %" PRIu64 " crc mismatch", id++);
    pipe_put(&p, id, "g", "pid=6 seq=1", "b1");
    pipe_want(&p, "400 %" PRIu64 " " FENCED_TEXT, id++);
    pipe_put(&p, id, "g", "pid=6 seq=0", "b0");
    pipe_want(&p, "200 %" PRIu64 " 0", id++);
    pipe_put(&p, id, "g", "pid=6 seq=1", "b1");
    pipe_want(&p, "200 %" PRIu64 " 1", id++);
    /* The same batch resent is a duplicate, acknowledged with its
     * offset: it was stored, once. */
    pipe_put(&p, id, "g", "pid=6 seq=0", "b0");
    pipe_want(&p, "200 %" PRIu64 " 0 dup", id++);
    /* Without pid/seq a damaged put fences nothing and creates nothing. */
    snprintf(opts, sizeof opts, "crc=%u", bad_crc("c"));
    pipe_put(&p, id, "h", opts, "c");
    pipe_want(&p, "400 %" PRIu64 " crc mismatch", id++);
    int fd = pipe_run(&p, b.port);
    char got[1024], line[256];
    stored(fd, "f", got, sizeof got);
    SL_CHECK_STR(got, "a0,z,a1,a2");
    stored(fd, "g", got, sizeof got);
    SL_CHECK_STR(got, "b0,b1");
    ask(fd, "offsets 1 t h\r\n", line, sizeof line);
    SL_CHECK_STR(line, "404 1 unknown partition\r\n");
    close(fd);
    sl_harness_broker_stop(&b, SIGTERM, 10000);
}
