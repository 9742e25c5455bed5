/*
 * libFuzzer target for the broker's Kafka listener: request framing, the
 * request header, dispatch and every handler behind it (ApiVersions,
 * SASL, Metadata, CreateTopics, and whatever the data path and the group
 * coordinator add), over a real TCP connection to a real listener on a
 * real store (in a private directory, fsync off).
 *
 * Input: byte 0 holds flags (bit 0: the broker has a secret, so SASL is
 * required first); the rest is sent as the client's bytes, then the
 * client half-closes. The loop runs until the broker closes the
 * connection or stops making progress; a connection still open then
 * (a long poll, say) is closed by the harness, which cancels its
 * deferred replies.
 *
 * Besides ASan/UBSan's checks it asserts that what the broker sent before
 * a clean end of stream is a sequence of whole frames (int32 size, then that
 * many bytes; a response carries at least its correlation id unless it is a raw
 * SASL token), so a reply is never cut or malformed at the framing level, and
 * that every handle closes (no leak of connections across inputs).
 */
#include "broker/kafka/internal.h"
#include "fuzz_store_dir.h"

#include "bytes.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static sl_store_t *store;
static sl_server_t *srv;
static sl_kafka_t *kafka;
static uint16_t kport;

static void setup(void) {
    sl_store_opts_t so;
    memset(&so, 0, sizeof so);
    so.dir = fz_dir();
    so.segment_size = 1u << 20;
    so.fsync_mode = SL_FSYNC_NEVER;
    so.max_batch = 1u << 20;
    so.auto_create = 1;
    so.max_partitions = 2000;
    so.checkpoint_ms = 3600000;
    if (uv_loop_init(&loop) != 0 ||
        sl_store_open(&store, &so, &loop, sl_server_acks_cb,
                      sl_server_advance_cb, NULL) != 0)
        abort();
    sl_server_opts_t sv;
    memset(&sv, 0, sizeof sv);
    sv.host = "127.0.0.1";
    sv.port = 0;
    sv.max_conns = 100;
    sv.max_output = 64u << 20;
    sv.max_memory = 256u << 20;
    sl_proto_default_limits(&sv.limits);
    if (sl_server_start(&loop, store, &sv, &srv) != 0)
        abort();
    sl_kafka_opts_t ko;
    memset(&ko, 0, sizeof ko);
    ko.host = "127.0.0.1";
    ko.port = 0;
    ko.max_request = 1u << 20;
    ko.max_output = 64u << 20;
    if (sl_kafka_start(&loop, srv, store, &ko, &kafka) != 0)
        abort();
    struct sockaddr_in sa;
    int len = sizeof sa;
    if (uv_tcp_getsockname(&kafka->listener, (struct sockaddr *)&sa, &len) != 0)
        abort();
    kport = ntohs(sa.sin_port);
    kafka->adv_port = kport;
}

/* Checks that out holds whole frames only; prints what it got first. */
static void check_frames(const uint8_t *out, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        int32_t n = len - pos < 4 ? -1 : (int32_t)sl_get_u32be(out + pos);
        if (n < 0 || (size_t)n > len - pos - 4 || (n > 0 && n < 4)) {
            fprintf(stderr, "not whole frames at %zu of %zu:", pos, len);
            for (size_t i = 0; i < len && i < 256; i++)
                fprintf(stderr, " %02x", out[i]);
            fprintf(stderr, "\n");
            abort();
        }
        pos += 4 + (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 16))
        return 0;
    if (kafka == NULL)
        setup();
    kafka->opts.secret = (data[0] & 1) ? "fuzz-secret" : NULL;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kport);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Hundreds of connections a second, each half-closed by us first, so
     * each leaves a TIME_WAIT on our side: they come from a rotating
     * loopback address (127.0.0.0/8 is all loopback), each with its own
     * ephemeral ports, and a connect that finds none free waits. */
    static uint32_t nconn;
    int fd = -1, last_errno = 0;
    for (int tries = 0; fd < 0 && tries < 500; tries++) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            abort();
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002u + (nconn++ % 4096));
        /* The port is picked at connect(), for this destination. */
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
            connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
            usleep(10000);
        }
    }
    if (fd < 0) {
        fprintf(stderr, "cannot connect to the listener: %s\n",
                strerror(last_errno));
        abort();
    }
    struct linger lg = {1, 0}; /* No TIME_WAIT when the broker has not
                                  closed first. */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    sl_buf_t got = SL_BUF_INIT;
    int shut = 0, eof = 0, reset = 0;
    unsigned idle = 0;
    /* Until the broker closes, or nothing moves for a while. */
    while (!eof && idle < 200) {
        int moved = 0;
        if (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w > 0) {
                p += w;
                left -= (size_t)w;
                moved = 1;
            } else if (w < 0 && errno != EAGAIN) {
                left = 0; /* The broker closed: fine. */
            }
        }
        if (left == 0 && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        uint8_t tmp[65536];
        ssize_t r;
        while ((r = read(fd, tmp, sizeof tmp)) > 0) {
            if (sl_buf_append(&got, tmp, (size_t)r) != 0)
                abort();
            moved = 1;
        }
        if (r == 0)
            eof = 1;
        else if (r < 0 && errno != EAGAIN)
            eof = reset = 1;
        idle = moved ? 0 : idle + 1;
    }
    /* After a reset (the broker closed with input of ours unread, e.g.
     * after refusing a frame) the kernel drops what was not read yet, so
     * only a clean end of stream vouches for whole frames. */
    if (eof && !reset)
        check_frames(got.data, got.len);
    /* Whatever is still open (a long poll, a held reply) goes now. */
    while (kafka->conns)
        sl__kafka_conn_close(kafka->conns);
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (kafka->nconns != 0 || kafka->open_handles != 2)
        abort();
    close(fd);
    sl_buf_free(&got);
    return 0;
}
