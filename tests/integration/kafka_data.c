/*
 * Integration tests of the Kafka listener's data path (Produce, Fetch,
 * ListOffsets, InitProducerId) against real Kafka clients nobody here
 * wrote: kcat (librdkafka 2.0) and librdkafka itself, plus raw requests
 * for what a well-behaved client never sends (a resent duplicate, an
 * out-of-order sequence, a sequence about to wrap, a bad CRC).
 *
 * Checked: every message kcat produced with idempotence and acks=all comes
 * back through kcat with its key, headers and timestamp; what the text
 * protocol writes kcat reads and the reverse, for every codec (the batch
 * is checked to be stored compressed); Kafka's idempotence rules, also
 * after a kill -9; and kill -9 under a librdkafka idempotent producer with
 * acks=all: every message whose delivery was reported is stored exactly
 * once, in order.
 */
#include "broker/record.h"
#include "bytes.h"
#include "client.h"
#include "crc32c.h"
#include "error.h"
#include "harness.h"
#include "kbatch.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the broker, with its Kafka listener on a free port ------------------ */

typedef struct {
    sl_harness_broker_t b;
    uint16_t kport;
    char kaddr[64];
    char kflag[64];
} kbroker_t;

static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    SL_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SL_CHECK_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
    socklen_t len = sizeof a;
    SL_CHECK_OK(getsockname(fd, (struct sockaddr *)&a, &len));
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts (or restarts, on the same ports) the broker. */
static void kb_start(kbroker_t *kb) {
    if (kb->kport == 0) {
        kb->kport = free_port();
        snprintf(kb->kaddr, sizeof kb->kaddr, "127.0.0.1:%u", kb->kport);
        snprintf(kb->kflag, sizeof kb->kflag, "127.0.0.1:%u", kb->kport);
    }
    const char *const flags[] = {"--kafka-listen", kb->kflag,
                                 "--checkpoint-interval", "300ms", NULL};
    kb->b.same_port = kb->b.port != 0;
    sl_harness_broker_start(&kb->b, flags, 10000);
    /* The Kafka listener comes up with the broker; make sure it is there
     * (a busy port would be fatal, so it is). */
    for (int i = 0; i < 200; i++) {
        int fd = sl_harness_tcp_connect(kb->kport, 0, 1000, 1000);
        if (fd >= 0) {
            close(fd);
            return;
        }
        sl_harness_sleep_ms(20);
    }
    SL_CHECK(!"the Kafka listener did not come up");
}

static int have_kcat(void) {
    return system("command -v kcat > /dev/null 2>&1") == 0;
}

/* Runs a shell command, its output (stdout) into out (NUL-terminated,
 * truncated at cap); returns its exit status. */
static int run(const char *cmd, char *out, size_t cap) {
    FILE *f = popen(cmd, "r");
    SL_CHECK(f != NULL);
    size_t n = 0;
    if (out != NULL) {
        size_t r;
        while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
            n += r;
        out[n] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, f) > 0) {
    }
    return pclose(f);
}

/* The text protocol's view of a partition: its values, one a line. */
static void text_values(const kbroker_t *kb, const char *topic,
                        const char *part, char *out, size_t cap) {
    sl_client_t *cl = sl_harness_broker_client(&kb->b, NULL);
    size_t n = 0;
    uint64_t off = 0;
    out[0] = '\0';
    for (;;) {
        sl_client_fetch_t f;
        SL_CHECK_OK(sl_client_get(cl, topic, part, off, 1 << 20, 0, &f));
        if (f.count == 0)
            break;
        for (size_t i = 0; i < f.count; i++) {
            int w = snprintf(out + n, cap - n, "%.*s\n", (int)f.recs[i].len,
                             (const char *)f.recs[i].data);
            SL_CHECK(w > 0 && (size_t)w < cap - n);
            n += (size_t)w;
        }
        off = f.next;
    }
    sl_client_close(cl);
}

/* ---- kcat ------------------------------------------------------------------
 */

SL_TEST(kafka_data_kcat_idempotent_roundtrip) {
    if (!have_kcat())
        SL_SKIP("kcat not installed (Debian package kcat)");
    kbroker_t kb = {0};
    kb_start(&kb);
    char in[1024], cmd[2048];
    snprintf(in, sizeof in, "%s/in.txt", sl_test_tmpdir());
    FILE *f = fopen(in, "w");
    SL_CHECK(f != NULL);
    for (int i = 0; i < 300; i++)
        fprintf(f, "key%d:value%d\n", i, i);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "kcat -b %s -P -t rt -K: -H h1=v1 -H h2=v2 -X "
             "enable.idempotence=true -X acks=all -l %s 2>&1",
             kb.kaddr, in);
    char *out = malloc(1 << 20);
    SL_CHECK_INT(run(cmd, out, 1 << 20), 0);
    snprintf(cmd, sizeof cmd,
             "kcat -b %s -C -t rt -o beginning -e -J 2>/dev/null", kb.kaddr);
    SL_CHECK_INT(run(cmd, out, 1 << 20), 0);
    /* One JSON object a line, offsets 0..299 in order, with key,
     * headers and a CreateTime timestamp. */
    char *line = out;
    for (int i = 0; i < 300; i++) {
        char *nl = strchr(line, '\n');
        SL_CHECK(nl != NULL);
        *nl = '\0';
        char want[128];
        snprintf(want, sizeof want, "\"offset\":%d,", i);
        SL_CHECK(strstr(line, want) != NULL);
        snprintf(want, sizeof want, "\"key\":\"key%d\"", i);
        SL_CHECK(strstr(line, want) != NULL);
        snprintf(want, sizeof want, "\"payload\":\"value%d\"", i);
        SL_CHECK(strstr(line, want) != NULL);
        SL_CHECK(strstr(line, "\"headers\":[\"h1\",\"v1\",\"h2\",\"v2\"]"));
        SL_CHECK(strstr(line, "\"tstype\":\"create\""));
        const char *ts = strstr(line, "\"ts\":");
        SL_CHECK(ts != NULL && atoll(ts + 5) > 1600000000000LL);
        line = nl + 1;
    }
    SL_CHECK_STR(line, "");
    /* The text protocol reads the values (topic "rt", partition "#0"). */
    text_values(&kb, "rt", "#0", out, 1 << 20);
    SL_CHECK(strncmp(out, "value0\nvalue1\nvalue2\n", 21) == 0);
    SL_CHECK(strstr(out, "\nvalue299\n") != NULL);
    free(out);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

SL_TEST(kafka_data_text_put_read_by_kcat) {
    if (!have_kcat())
        SL_SKIP("kcat not installed (Debian package kcat)");
    kbroker_t kb = {0};
    kb_start(&kb);
    sl_client_t *cl = sl_harness_broker_client(&kb.b, NULL);
    char text[100][16];
    sl_client_msg_t msgs[100];
    for (int i = 0; i < 100; i++) {
        snprintf(text[i], sizeof text[i], "put%d", i);
        msgs[i].data = text[i];
        msgs[i].len = strlen(text[i]);
    }
    uint64_t base;
    int dup;
    /* One put, then an mput of 99, then an idempotent mput (sluice's own
     * producer fields in the batch must not confuse the consumer). */
    SL_CHECK_OK(sl_client_put(cl, "native", "p1", msgs[0].data, msgs[0].len, -1,
                              0, &base, &dup));
    SL_CHECK_OK(sl_client_put_batch(cl, "native", "p1", &msgs[1], 49, -1, 0,
                                    &base, &dup));
    SL_CHECK_OK(sl_client_put_batch(cl, "native", "p1", &msgs[50], 50, 12345,
                                    (1ull << 40) + 7, &base, &dup));
    sl_client_close(cl);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "kcat -b %s -C -t native.p1 -o beginning -e -f '%%o %%s\\n' "
             "2>/dev/null",
             kb.kaddr);
    char *out = malloc(1 << 16);
    SL_CHECK_INT(run(cmd, out, 1 << 16), 0);
    char *line = out;
    for (int i = 0; i < 100; i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "%d put%d\n", i, i);
        SL_CHECK(strncmp(line, want, (size_t)n) == 0);
        line += n;
    }
    SL_CHECK_STR(line, "");
    free(out);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

/* ---- raw Kafka requests ----------------------------------------------------
 */

/* Sends one request (header v1, client id "t"); returns its correlation
 * id. */
static int32_t ksend(int fd, int16_t key, int16_t ver, const sl_buf_t *body) {
    static int32_t corr = 1;
    sl_buf_t req = SL_BUF_INIT;
    uint8_t h[4 + 2 + 2 + 4 + 2 + 1];
    sl_put_u16be(h + 4, (uint16_t)key);
    sl_put_u16be(h + 6, (uint16_t)ver);
    sl_put_u32be(h + 8, (uint32_t)corr);
    sl_put_u16be(h + 12, 1);
    h[14] = 't';
    sl_put_u32be(h, (uint32_t)(sizeof h - 4 + body->len));
    sl_buf_append(&req, h, sizeof h);
    sl_buf_append(&req, body->data, body->len);
    SL_CHECK_INT(write(fd, req.data, req.len), (ssize_t)req.len);
    sl_buf_free(&req);
    return corr++;
}

static void read_exact(int fd, uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        SL_CHECK(r > 0);
        got += (size_t)r;
    }
}

/* Reads the response to request corr: its body (after the correlation
 * id) into resp; returns its length. */
static size_t krecv(int fd, int32_t corr, uint8_t *resp, size_t cap) {
    uint8_t h[8];
    read_exact(fd, h, 8);
    size_t len = sl_get_u32be(h);
    SL_CHECK(len >= 4 && len - 4 <= cap);
    SL_CHECK_INT((int32_t)sl_get_u32be(h + 4), corr);
    read_exact(fd, resp, len - 4);
    return len - 4;
}

static size_t kcall(int fd, int16_t key, int16_t ver, const sl_buf_t *body,
                    uint8_t *resp, size_t cap) {
    return krecv(fd, ksend(fd, key, ver, body), resp, cap);
}

static void w16(sl_buf_t *b, int16_t v) {
    uint8_t x[2];
    sl_put_u16be(x, (uint16_t)v);
    sl_buf_append(b, x, 2);
}
static void w32(sl_buf_t *b, int32_t v) {
    uint8_t x[4];
    sl_put_u32be(x, (uint32_t)v);
    sl_buf_append(b, x, 4);
}
static void w64(sl_buf_t *b, int64_t v) {
    uint8_t x[8];
    sl_put_u64be(x, (uint64_t)v);
    sl_buf_append(b, x, 8);
}
static void wstr(sl_buf_t *b, const char *s) {
    w16(b, (int16_t)strlen(s));
    sl_buf_append(b, s, strlen(s));
}

/* Produce v7 of one batch to (topic, 0), acks=all: the partition's error
 * code, and its base offset in *base. */
static int16_t produce(int fd, const char *topic, const sl_buf_t *batch,
                       int64_t *base) {
    sl_buf_t b = SL_BUF_INIT;
    w16(&b, -1); /* transactional_id */
    w16(&b, -1); /* acks = all */
    w32(&b, 10000);
    w32(&b, 1);
    wstr(&b, topic);
    w32(&b, 1);
    w32(&b, 0);
    w32(&b, (int32_t)batch->len);
    sl_buf_append(&b, batch->data, batch->len);
    uint8_t r[512];
    size_t n = kcall(fd, 0, 7, &b, r, sizeof r);
    sl_buf_free(&b);
    /* [topics 1] name, [parts 1] index, error, base, append time, lso;
     * throttle. */
    size_t tl = sl_get_u16be(r + 4);
    const uint8_t *p = r + 4 + 2 + tl + 4;
    SL_CHECK(n == (size_t)(p - r) + 4 + 2 + 8 + 8 + 8 + 4);
    SL_CHECK_INT((int32_t)sl_get_u32be(p), 0);
    *base = (int64_t)sl_get_u64be(p + 6);
    return (int16_t)sl_get_u16be(p + 4);
}

/* ListOffsets v1 latest of (topic, 0). */
static int64_t latest(int fd, const char *topic) {
    sl_buf_t b = SL_BUF_INIT;
    w32(&b, -1);
    w32(&b, 1);
    wstr(&b, topic);
    w32(&b, 1);
    w32(&b, 0);
    w64(&b, -1);
    uint8_t r[256];
    kcall(fd, 2, 1, &b, r, sizeof r);
    sl_buf_free(&b);
    size_t tl = sl_get_u16be(r + 4);
    const uint8_t *p = r + 4 + 2 + tl + 4;
    SL_CHECK_INT((int16_t)sl_get_u16be(p + 4), 0);
    return (int64_t)sl_get_u64be(p + 6 + 8);
}

/* Sends Fetch v4 of (topic, 0) from offset, waiting up to max_wait_ms
 * for a byte; returns the correlation id. */
static int32_t fetch_send(int fd, const char *topic, int64_t offset,
                          int32_t max_wait_ms) {
    sl_buf_t b = SL_BUF_INIT;
    w32(&b, -1);
    w32(&b, max_wait_ms);
    w32(&b, 1);       /* min_bytes */
    w32(&b, 1 << 20); /* max_bytes */
    sl_buf_append_u8(&b, 0);
    w32(&b, 1);
    wstr(&b, topic);
    w32(&b, 1);
    w32(&b, 0);
    w64(&b, offset);
    w32(&b, 1 << 20);
    int32_t corr = ksend(fd, 1, 4, &b);
    sl_buf_free(&b);
    return corr;
}

/* Reads a Fetch v4 response: the records bytes into out (cap); returns
 * their length, and the error code in *err. */
static size_t fetch_recv(int fd, int32_t corr, int16_t *err, uint8_t *out,
                         size_t cap) {
    uint8_t *r = malloc(2 << 20);
    krecv(fd, corr, r, 2 << 20);
    /* throttle, [topics] name, [parts] index, error, hw, lso,
     * [aborted], records. */
    size_t tl = sl_get_u16be(r + 8);
    const uint8_t *p = r + 8 + 2 + tl + 4;
    *err = (int16_t)sl_get_u16be(p + 4);
    p += 4 + 2 + 8 + 8;
    int32_t na = (int32_t)sl_get_u32be(p);
    p += 4 + (na > 0 ? (size_t)na * 16 : 0);
    int32_t len = (int32_t)sl_get_u32be(p);
    size_t n = len > 0 ? (size_t)len : 0;
    SL_CHECK(n <= cap);
    memcpy(out, p + 4, n);
    free(r);
    return n;
}

static size_t fetch(int fd, const char *topic, int64_t offset, int16_t *err,
                    uint8_t *out, size_t cap) {
    return fetch_recv(fd, fetch_send(fd, topic, offset, 0), err, out, cap);
}

static void kbatch(sl_buf_t *out, int64_t pid, int16_t epoch, int32_t seq,
                   uint32_t n, const char *tag) {
    sl_buf_reset(out);
    sl_test_kbatch_t b = {pid, epoch, seq, n, 0, 0, 1700000000000, tag};
    sl_test_kbatch(out, &b);
}

SL_TEST(kafka_data_raw_idempotence) {
    kbroker_t kb = {0};
    kb_start(&kb);
    int fd = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
    SL_CHECK(fd >= 0);
    sl_buf_t b = SL_BUF_INIT;
    int64_t base;
    /* InitProducerId v1: a producer id, epoch 0. */
    sl_buf_t ip = SL_BUF_INIT;
    w16(&ip, -1);
    w32(&ip, 60000);
    uint8_t r[64];
    SL_CHECK_UINT(kcall(fd, 22, 1, &ip, r, sizeof r), 4 + 2 + 8 + 2);
    SL_CHECK_INT((int16_t)sl_get_u16be(r + 4), 0);
    int64_t pid = (int64_t)sl_get_u64be(r + 6);
    SL_CHECK(pid >= 0);
    SL_CHECK_INT((int16_t)sl_get_u16be(r + 14), 0);
    /* The topic exists once created through Metadata or CreateTopics;
     * a kcat-less test creates it with a first plain batch. */
    kbatch(&b, -1, -1, -1, 1, "plain");
    int16_t code = produce(fd, "idem", &b, &base);
    if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        /* Metadata v4 with auto-creation of "idem". */
        sl_buf_t m = SL_BUF_INIT;
        w32(&m, 1);
        wstr(&m, "idem");
        sl_buf_append_u8(&m, 1);
        uint8_t mr[1024];
        kcall(fd, 3, 4, &m, mr, sizeof mr);
        sl_buf_free(&m);
        code = produce(fd, "idem", &b, &base);
    }
    SL_CHECK_INT(code, 0);
    SL_CHECK_INT(base, 0);
    /* seq 0..2 stored at 1; resent: the original offset, stored once. */
    kbatch(&b, pid, 0, 0, 3, "a");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 1);
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 1);
    SL_CHECK_INT(latest(fd, "idem"), 4);
    /* A gap: seq 5 after 2. */
    kbatch(&b, pid, 0, 5, 1, "gap");
    SL_CHECK_INT(produce(fd, "idem", &b, &base),
                 RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    SL_CHECK_INT(latest(fd, "idem"), 4);
    /* In order: 3..4 at 4. */
    kbatch(&b, pid, 0, 3, 2, "b");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 4);
    /* A bad CRC: refused, nothing stored. */
    kbatch(&b, pid, 0, 5, 1, "crc");
    b.data[b.len - 1] ^= 0x55;
    SL_CHECK_INT(produce(fd, "idem", &b, &base), RD_KAFKA_RESP_ERR_INVALID_MSG);
    /* Sequence wrap: a producer at 2^31 - 2 sends 3 records (..., 0),
     * then seq 1 follows; seq 0 again is a duplicate. */
    int64_t wpid = pid + 1000000;
    kbatch(&b, wpid, 0, 0x7FFFFFFE, 3, "w");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 6);
    kbatch(&b, wpid, 0, 1, 1, "w1");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 9);
    kbatch(&b, wpid, 0, 0, 1, "w0");
    SL_CHECK_INT(produce(fd, "idem", &b, &base),
                 RD_KAFKA_RESP_ERR_DUPLICATE_SEQUENCE_NUMBER);
    /* A newer epoch starts at 0; the old one is then fenced. */
    kbatch(&b, pid, 1, 0, 1, "e1");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 10);
    kbatch(&b, pid, 0, 5, 1, "e0");
    SL_CHECK_INT(produce(fd, "idem", &b, &base),
                 RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
    SL_CHECK_INT(latest(fd, "idem"), 11);
    close(fd);
    /* kill -9 and restart: the state comes back from the log. */
    sl_harness_broker_stop(&kb.b, SIGKILL, 5000);
    kb_start(&kb);
    fd = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
    SL_CHECK(fd >= 0);
    kbatch(&b, wpid, 0, 1, 1, "w1");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 9);
    kbatch(&b, pid, 1, 0, 1, "e1");
    SL_CHECK_INT(produce(fd, "idem", &b, &base), 0);
    SL_CHECK_INT(base, 10);
    kbatch(&b, pid, 1, 2, 1, "gap");
    SL_CHECK_INT(produce(fd, "idem", &b, &base),
                 RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    SL_CHECK_INT(latest(fd, "idem"), 11);
    /* Producer ids are not handed out again after the restart. */
    SL_CHECK_UINT(kcall(fd, 22, 0, &ip, r, sizeof r), 4 + 2 + 8 + 2);
    SL_CHECK(sl_get_u64be(r + 6) > (uint64_t)pid);
    /* Fetch serves the stored batches: from offset 2 the batch at 1. */
    int16_t err;
    uint8_t *recs = malloc(1 << 20);
    size_t n = fetch(fd, "idem", 2, &err, recs, 1 << 20);
    SL_CHECK_INT(err, 0);
    SL_CHECK(n > SL_BATCH_HDR);
    SL_CHECK_UINT(sl_get_u64be(recs), 1);
    SL_CHECK_UINT(sl_get_u32be(recs + 17),
                  sl_crc32c(0, recs + 21, sl_get_u32be(recs + 8) - 9));
    n = fetch(fd, "idem", 12, &err, recs, 1 << 20);
    SL_CHECK_INT(err, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
    free(recs);
    close(fd);
    sl_buf_free(&b);
    sl_buf_free(&ip);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

/* A Fetch at the end waits (max_wait_ms) and is answered with the batch
 * another connection produces meanwhile, woken by the store. */
SL_TEST(kafka_data_fetch_long_poll) {
    kbroker_t kb = {0};
    kb_start(&kb);
    int fd1 = sl_harness_tcp_connect(kb.kport, 0, 60000, 10000);
    int fd2 = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
    SL_CHECK(fd1 >= 0 && fd2 >= 0);
    sl_buf_t m = SL_BUF_INIT;
    w32(&m, 1);
    wstr(&m, "lp");
    sl_buf_append_u8(&m, 1);
    uint8_t mr[1024];
    kcall(fd2, 3, 4, &m, mr, sizeof mr);
    sl_buf_free(&m);
    sl_buf_t b = SL_BUF_INIT;
    int64_t base;
    kbatch(&b, -1, -1, -1, 2, "first");
    SL_CHECK_INT(produce(fd2, "lp", &b, &base), 0);
    SL_CHECK_INT(base, 0);
    /* Parked at offset 2 for up to 10 minutes (so only the wake-up can
     * answer it before fd1's 60 s read timeout fails the test): wait
     * until the broker says it is parked (stats), then produce. */
    int32_t corr = fetch_send(fd1, "lp", 2, 600000);
    sl_client_t *cl = sl_harness_broker_client(&kb.b, NULL);
    for (int i = 0; i < 1000; i++) {
        if (sl_harness_broker_stat(cl, "kafka_fetch_parked") >= 1)
            break;
        sl_harness_sleep_ms(10);
    }
    SL_CHECK_UINT(sl_harness_broker_stat(cl, "kafka_fetch_parked"), 1);
    sl_client_close(cl);
    kbatch(&b, -1, -1, -1, 3, "second");
    SL_CHECK_INT(produce(fd2, "lp", &b, &base), 0);
    SL_CHECK_INT(base, 2);
    int16_t err;
    uint8_t *recs = malloc(1 << 20);
    size_t n = fetch_recv(fd1, corr, &err, recs, 1 << 20);
    SL_CHECK_INT(err, 0);
    SL_CHECK(n > SL_BATCH_HDR);
    SL_CHECK_UINT(sl_get_u64be(recs), 2);
    SL_CHECK_UINT(sl_get_u32be(recs + 57), 3);
    free(recs);
    sl_buf_free(&b);
    close(fd1);
    close(fd2);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

/* ---- codecs ----------------------------------------------------------------
 */

/* Whether ApiVersions v0 lists API key. */
static int advertises(int fd, int16_t key) {
    sl_buf_t b = SL_BUF_INIT;
    uint8_t r[2048];
    size_t n = kcall(fd, 18, 0, &b, r, sizeof r);
    SL_CHECK(n >= 6);
    SL_CHECK_INT((int16_t)sl_get_u16be(r), 0);
    uint32_t cnt = sl_get_u32be(r + 2);
    SL_CHECK(6 + (size_t)cnt * 6 <= n);
    for (uint32_t i = 0; i < cnt; i++)
        if ((int16_t)sl_get_u16be(r + 6 + i * 6) == key)
            return 1;
    return 0;
}

/* Batches any producer could send, with every codec (snappy also in
 * xerial's framing, as the Java client writes it), produced raw: kcat and
 * the text protocol read keys, values and headers back. */
SL_TEST(kafka_data_raw_codecs_read_by_kcat) {
    if (!have_kcat())
        SL_SKIP("kcat not installed (Debian package kcat)");
    kbroker_t kb = {0};
    kb_start(&kb);
    int fd = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
    SL_CHECK(fd >= 0);
    /* Create the topic through Metadata (auto-creation). */
    sl_buf_t m = SL_BUF_INIT;
    w32(&m, 1);
    wstr(&m, "rawz");
    sl_buf_append_u8(&m, 1);
    uint8_t mr[1024];
    kcall(fd, 3, 4, &m, mr, sizeof mr);
    sl_buf_free(&m);
    sl_buf_t b = SL_BUF_INIT;
    int64_t base;
    for (int c = 0; c <= 5; c++) {
        char tag[16];
        snprintf(tag, sizeof tag, "c%d", c);
        sl_buf_reset(&b);
        sl_test_kbatch_t kbt = {
            -1, -1, -1, 10, c == 5 ? SL_CODEC_SNAPPY : c, c == 5, 1700000000000,
            tag};
        sl_test_kbatch(&b, &kbt);
        SL_CHECK_INT(produce(fd, "rawz", &b, &base), 0);
        SL_CHECK_INT(base, c * 10);
    }
    close(fd);
    sl_buf_free(&b);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "kcat -b %s -C -t rawz -o beginning -e -f '%%k=%%s %%h %%T\n' "
             "2>/dev/null",
             kb.kaddr);
    char *out = malloc(1 << 16), *text = malloc(1 << 16);
    SL_CHECK_INT(run(cmd, out, 1 << 16), 0);
    text_values(&kb, "rawz", "#0", text, 1 << 16);
    const char *line = out, *tl = text;
    for (int c = 0; c <= 5; c++)
        for (int i = 0; i < 10; i++) {
            char want[128];
            long long ts = 1700000000000LL + 7 * i - 3 * (i % 2);
            int n = snprintf(want, sizeof want, "k%d=c%d-%d h=x%d %lld\n", i, c,
                             i, i, ts);
            SL_CHECK(strncmp(line, want, (size_t)n) == 0);
            line += n;
            n = snprintf(want, sizeof want, "c%d-%d\n", c, i);
            SL_CHECK(strncmp(tl, want, (size_t)n) == 0);
            tl += n;
        }
    SL_CHECK_STR(line, "");
    SL_CHECK_STR(tl, "");
    free(out);
    free(text);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

#define PAD "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

SL_TEST(kafka_data_codecs_both_protocols) {
    if (!have_kcat())
        SL_SKIP("kcat not installed (Debian package kcat)");
    kbroker_t kb = {0};
    kb_start(&kb);
    static const char *const codecs[] = {"gzip", "snappy", "lz4", "zstd"};
    char *out = malloc(1 << 16);
    uint8_t *recs = malloc(1 << 20);
    int afd = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
    SL_CHECK(afd >= 0);
    int lz4_ok = advertises(afd, 10);
    close(afd);
    for (int c = 0; c < 4; c++) {
        char cmd[512], topic[32];
        snprintf(topic, sizeof topic, "z%s", codecs[c]);
        /* Compressible values: librdkafka sends a batch uncompressed
         * when compression would not make it smaller. */
        snprintf(cmd, sizeof cmd,
                 "seq 1 200 | sed 's/^/%s-/; s/$/-%s/' | kcat -b %s -P -t %s "
                 "-z %s -X enable.idempotence=true -X acks=all 2>&1",
                 codecs[c], PAD, kb.kaddr, topic, codecs[c]);
        SL_CHECK_INT(run(cmd, out, 1 << 16), 0);
        /* Stored as produced: compressed with that codec. */
        int fd = sl_harness_tcp_connect(kb.kport, 0, 10000, 10000);
        SL_CHECK(fd >= 0);
        int16_t err;
        size_t n = fetch(fd, topic, 0, &err, recs, 1 << 20);
        close(fd);
        SL_CHECK_INT(err, 0);
        SL_CHECK(n > SL_BATCH_HDR);
        /* librdkafka sends a batch uncompressed when compressing would
         * not make it smaller, and lz4 only to a broker that advertises
         * FindCoordinator (rdkafka_feature.c): at least one is compressed,
         * none with another codec. */
        int compressed = c == 2 && !lz4_ok;
        for (size_t at = 0; at + SL_BATCH_HDR <= n;
             at += sl_get_u32be(recs + at + 8) + 12) {
            unsigned codec = sl_get_u16be(recs + at + 21) & 7;
            SL_CHECK(codec == 0 || codec == (unsigned)c + 1);
            compressed += codec != 0;
        }
        SL_CHECK(compressed > 0);
        /* kcat reads them back. */
        snprintf(cmd, sizeof cmd,
                 "kcat -b %s -C -t %s -o beginning -e -f '%%s\\n' 2>/dev/null",
                 kb.kaddr, topic);
        SL_CHECK_INT(run(cmd, out, 1 << 16), 0);
        char want[256];
        snprintf(want, sizeof want, "%s-1-%s\n%s-2-%s\n", codecs[c], PAD,
                 codecs[c], PAD);
        SL_CHECK(strncmp(out, want, strlen(want)) == 0);
        snprintf(want, sizeof want, "\n%s-200-%s\n", codecs[c], PAD);
        SL_CHECK(strstr(out, want) != NULL);
        /* So does the text protocol: the same values, decompressed. */
        char *text = malloc(1 << 16);
        text_values(&kb, topic, "#0", text, 1 << 16);
        SL_CHECK_STR(text, out);
        free(text);
    }
    free(recs);
    free(out);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}

/* ---- kill -9 under a librdkafka idempotent producer ------------------------
 */

#define K9_MSGS 200000

static volatile int k9_delivered[K9_MSGS];
static volatile long k9_ok, k9_failed;

static void k9_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    long i = (long)(intptr_t)m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k9_delivered[i] = 1;
        k9_ok++;
    } else {
        k9_failed++;
    }
}

SL_TEST(kafka_data_kill9_idempotent_librdkafka) {
    kbroker_t kb = {0};
    kb_start(&kb);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const kv[][2] = {
        {"bootstrap.servers", kb.kaddr},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "120000"},
        {"retry.backoff.ms", "50"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "500"},
        {"queue.buffering.max.messages", "1000000"},
        {"log_level", "0"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        SL_CHECK_INT(
            rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr),
            RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, k9_dr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    SL_CHECK(rk != NULL);
    int kills = 0;
    for (long i = 0; i < K9_MSGS; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "m%ld", i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC("k9"), RD_KAFKA_V_PARTITION(0),
                RD_KAFKA_V_VALUE(v, (size_t)n),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            SL_CHECK_INT(e, RD_KAFKA_RESP_ERR__QUEUE_FULL);
            rd_kafka_poll(rk, 10);
        }
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
        /* Two kills in the middle of the load, each after deliveries
         * were reported, with produce requests in flight. */
        if (kills < 2 && i == (kills + 1) * (K9_MSGS / 3)) {
            for (int w = 0; w < 500 && k9_ok < i / 2; w++)
                rd_kafka_poll(rk, 10);
            SL_CHECK(k9_ok > 0);
            sl_harness_broker_stop(&kb.b, SIGKILL, 5000);
            rd_kafka_poll(rk, 100);
            kb_start(&kb);
            kills++;
        }
    }
    SL_CHECK_INT(rd_kafka_flush(rk, 120000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    SL_CHECK_INT(kills, 2);
    /* Read the partition through the text protocol: every delivered
     * message once, all in order (ascending, no repeat). */
    sl_client_t *cl = sl_harness_broker_client(&kb.b, NULL);
    uint64_t off = 0;
    long last = -1, seen = 0, delivered_seen = 0;
    for (;;) {
        sl_client_fetch_t f;
        SL_CHECK_OK(sl_client_get(cl, "k9", "#0", off, 4 << 20, 0, &f));
        if (f.count == 0)
            break;
        for (size_t i = 0; i < f.count; i++) {
            SL_CHECK(f.recs[i].len > 1 && f.recs[i].data[0] == 'm');
            long v = strtol((const char *)f.recs[i].data + 1, NULL, 10);
            SL_CHECK(v > last); /* In order, never twice. */
            last = v;
            seen++;
            if (k9_delivered[v])
                delivered_seen++;
        }
        off = f.next;
    }
    sl_client_close(cl);
    SL_CHECK_INT(delivered_seen, k9_ok);
    SL_CHECK_INT(k9_failed, 0);
    SL_CHECK_INT(k9_ok, K9_MSGS);
    SL_CHECK_INT(seen, K9_MSGS);
    sl_harness_broker_stop(&kb.b, SIGTERM, 10000);
}
