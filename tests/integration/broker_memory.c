/*
 * Integration tests of the broker's memory budget and fairness (issue 12,
 * items 2 and 4), against the real bin/sluice-broker:
 *
 * - many connections each sending all but the last byte of a 16 MiB put,
 *   and many connections pipelining big gets without ever reading, keep
 *   the broker's peak resident memory (VmHWM from /proc) within
 *   --max-memory plus a fixed slack; it stays alive, and once those
 *   clients are gone a normal client is served correctly;
 * - a client pipelining gets without reading is bounded by --max-output
 *   and does not stop a second client from being served;
 * - a partitions listing over 50,000 partitions to a client that does not
 *   read is written in slices (the broker holds only a slice of it) while
 *   another client is served, and is complete and correct when read.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024L)

typedef sl_harness_broker_t broker_t;

static int alive(int pid) {
    return kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

static sl_client_t *client(const broker_t *b) {
    /* Generous timeouts: they only keep a broken broker from hanging the
     * test. */
    static const sl_client_opts_t o = {NULL, 10000, 60000, 10000};
    return sl_harness_broker_client(b, &o);
}

/* A raw connection; rcvbuf > 0 makes its receive buffer small (before
 * connecting, so the window stays small), for clients that never read. */
static int raw_connect(uint16_t port, int rcvbuf) {
    int fd = sl_harness_tcp_connect(port, rcvbuf, 30000, 30000);
    SL_CHECK(fd >= 0);
    return fd;
}

/* Closes with a reset, as a client that dies does: the peer learns at
 * once (a plain close would queue its FIN behind the bytes the broker
 * does not read). */
static void abort_conn(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void send_all(int fd, const void *p, size_t n) {
    SL_CHECK(send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

/* Sends what[i][0..len[i]) on the non-blocking fds[i] as far as the
 * broker takes it: rounds over all connections until everything is sent
 * or 40 rounds in a row (2 s) moved nothing (the broker stopped reading).
 * Returns the bytes sent. */
static size_t pump(int *fds, int n, const uint8_t *const *what,
                   const size_t *len, size_t *sent) {
    size_t total = 0;
    int idle_rounds = 0;
    while (idle_rounds < 40) {
        int progress = 0, left = 0;
        for (int i = 0; i < n; i++) {
            if (sent[i] == len[i])
                continue;
            left = 1;
            ssize_t w = send(fds[i], what[i] + sent[i], len[i] - sent[i],
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                sent[i] += (size_t)w;
                total += (size_t)w;
                progress = 1;
            } else {
                SL_CHECK(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            }
        }
        if (!left)
            break;
        if (progress) {
            idle_rounds = 0;
        } else {
            idle_rounds++;
            sl_harness_sleep_ms(50);
        }
    }
    return total;
}

/* The broker's peak resident memory in MiB, sampled a few times over a
 * second (the peak is what /proc keeps; sampling only lets the broker
 * settle). */
static long peak_mib(int pid) {
    long kb = 0;
    for (int i = 0; i < 10; i++) {
        sl_harness_sleep_ms(100);
        long k = sl_harness_peak_rss_kb(pid);
        SL_CHECK(k > 0);
        if (k > kb)
            kb = k;
    }
    return kb / 1024;
}

/* A normal client is served correctly: a small and a 4 MiB put, read back
 * byte for byte. */
static void check_served(const broker_t *b, const char *part) {
    sl_client_t *cl = client(b);
    uint64_t off0, off1;
    int dup;
    SL_CHECK_OK(
        sl_client_put(cl, "after", part, "hello", 5, -1, 0, &off0, &dup));
    size_t big = 4 * MIB;
    uint8_t *data = malloc(big);
    SL_CHECK(data != NULL);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    SL_CHECK_OK(
        sl_client_put(cl, "after", part, data, big, -1, 0, &off1, &dup));
    SL_CHECK_UINT(off1, off0 + 1);
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "after", part, off0, 16 * MIB, 0, &f));
    SL_CHECK_UINT(f.count, 2);
    SL_CHECK(f.recs[0].len == 5 && memcmp(f.recs[0].data, "hello", 5) == 0);
    SL_CHECK(f.recs[1].len == big && memcmp(f.recs[1].data, data, big) == 0);
    free(data);
    sl_client_close(cl);
}

/* Puts n messages of size bytes into topic/part, for the get tests. */
static void fill(const broker_t *b, const char *topic, const char *part, int n,
                 size_t size) {
    sl_client_t *cl = client(b);
    uint8_t *data = malloc(size);
    SL_CHECK(data != NULL);
    memset(data, 'g', size);
    for (int i = 0; i < n; i++) {
        uint64_t off;
        int dup;
        SL_CHECK_OK(
            sl_client_put(cl, topic, part, data, size, -1, 0, &off, &dup));
        SL_CHECK_UINT(off, (uint64_t)i);
    }
    free(data);
    sl_client_close(cl);
}

SL_TEST(broker_memory_unfinished_big_puts_stay_within_budget) {
    broker_t b = {0};
    const char *flags[] = {"--max-memory", "64MiB", "--fsync", "never", NULL};
    sl_harness_broker_start(&b, flags, 10000);
    enum { NCONN = 100 };
    const size_t len = 16 * MIB; /* max-message */
    int fds[NCONN];
    uint8_t *bufs[NCONN];
    size_t lens[NCONN], sent[NCONN];
    uint8_t *payload = malloc(len);
    SL_CHECK(payload != NULL);
    memset(payload, 'p', len);
    for (int i = 0; i < NCONN; i++) {
        fds[i] = raw_connect(b.port, 0);
        char hdr[128];
        int h = snprintf(hdr, sizeof hdr, "put %d big p%d %zu\r\n", i, i, len);
        /* Each request stops one byte short of its payload. */
        bufs[i] = malloc((size_t)h + len - 1);
        SL_CHECK(bufs[i] != NULL);
        memcpy(bufs[i], hdr, (size_t)h);
        memcpy(bufs[i] + h, payload, len - 1);
        lens[i] = (size_t)h + len - 1;
        sent[i] = 0;
    }
    size_t total = pump(fds, NCONN, (const uint8_t *const *)bufs, lens, sent);
    /* The broker stopped taking bytes long before 1.6 GB. */
    SL_CHECK(total < (size_t)NCONN * (len - 1));
    long peak = peak_mib(b.pid);
    fprintf(stderr, "  unfinished puts: sent %zu MiB, broker peak %ld MiB\n",
            total / (size_t)MIB, peak);
    SL_CHECK(peak < 64 + 48);
    SL_CHECK(alive(b.pid));
    for (int i = 0; i < NCONN; i++) {
        abort_conn(fds[i]);
        free(bufs[i]);
    }
    free(payload);
    check_served(&b, "p");
    sl_client_t *cl = client(&b);
    SL_CHECK(sl_harness_broker_stat(cl, "memory_full_events") >= 1);
    /* Back under the mark where reading resumes (buffers below half the
     * budget are kept for reuse). */
    SL_CHECK(sl_harness_broker_stat(cl, "memory_used") < 32u * MIB);
    SL_CHECK(sl_harness_broker_stat(cl, "err_truncated_request") >= NCONN);
    sl_client_close(cl);
    SL_CHECK(peak_mib(b.pid) < 64 + 48);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(broker_memory_pipelined_big_gets_stay_within_budget) {
    broker_t b = {0};
    const char *flags[] = {"--max-memory", "64MiB", "--fsync", "never", NULL};
    sl_harness_broker_start(&b, flags, 10000);
    fill(&b, "t", "p", 4, 4 * MIB);
    long before = sl_harness_peak_rss_kb(b.pid) / 1024;
    enum { NCONN = 20, NGET = 50 };
    int fds[NCONN];
    char req[NGET * 64];
    size_t rlen = 0;
    for (int g = 0; g < NGET; g++)
        rlen += (size_t)snprintf(req + rlen, sizeof req - rlen,
                                 "get %d t p 0 16777216\r\n", g);
    for (int i = 0; i < NCONN; i++) {
        fds[i] = raw_connect(b.port, 4096);
        send_all(fds[i], req, rlen);
    }
    /* Without the budget these would be 16 GB of replies. */
    long peak = peak_mib(b.pid);
    fprintf(stderr, "  pipelined gets: broker peak %ld MiB (%ld before)\n",
            peak, before);
    SL_CHECK(peak < 64 + 48);
    SL_CHECK(alive(b.pid));
    for (int i = 0; i < NCONN; i++)
        abort_conn(fds[i]);
    check_served(&b, "p");
    sl_client_t *cl = client(&b);
    SL_CHECK(sl_harness_broker_stat(cl, "memory_full_events") >= 1);
    /* Back under the mark where reading resumes (buffers below half the
     * budget are kept for reuse). */
    SL_CHECK(sl_harness_broker_stat(cl, "memory_used") < 32u * MIB);
    sl_client_close(cl);
    SL_CHECK(peak_mib(b.pid) < 64 + 48);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(broker_memory_nonreading_client_does_not_stop_others) {
    broker_t b = {0};
    const char *flags[] = {"--fsync", "never", NULL}; /* max-memory 1 GiB */
    sl_harness_broker_start(&b, flags, 10000);
    fill(&b, "t", "p", 4, 4 * MIB);
    /* 200 gets of 16 MiB each (3.2 GB of replies), never read. */
    int fd = raw_connect(b.port, 4096);
    for (int g = 0; g < 200; g++) {
        char line[64];
        int n = snprintf(line, sizeof line, "get %d t p 0 16777216\r\n", g);
        send_all(fd, line, (size_t)n);
    }
    sl_harness_sleep_ms(500);
    /* A second client is served meanwhile: its requests complete. */
    sl_client_t *cl = client(&b);
    char ver[64];
    SL_CHECK_OK(sl_client_version(cl, ver, sizeof ver));
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "t", "p", 3, 16 * MIB, 0, &f));
    SL_CHECK_UINT(f.count, 1);
    SL_CHECK_UINT(f.recs[0].len, 4 * MIB);
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "t", "q", "x", 1, -1, 0, &off, &dup));
    SL_CHECK_UINT(off, 0);
    /* The non-reader holds at most about max-output (64 MiB) of replies. */
    uint64_t used = sl_harness_broker_stat(cl, "memory_used");
    fprintf(stderr, "  non-reader: memory_used %" PRIu64 " MiB\n",
            used / (uint64_t)MIB);
    SL_CHECK(used < 160u * MIB);
    SL_CHECK(used > 32u * MIB); /* It did get replies queued. */
    sl_client_close(cl);
    long peak = peak_mib(b.pid);
    SL_CHECK(peak < 256);
    SL_CHECK(alive(b.pid));
    abort_conn(fd);
    check_served(&b, "p");
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

#define LTOPIC "a_topic_name_long_enough_to_make_the_listing_big"

SL_TEST(broker_memory_partitions_listing_is_streamed) {
    broker_t b = {0};
    const char *flags[] = {
        "--fsync", "never", "--max-output", "64KiB", "--checkpoint-interval",
        "1h",      NULL};
    sl_harness_broker_start(&b, flags, 10000);
    enum { NPART = 50000, CHUNK = 1000 };
    /* Creates the partitions with pipelined puts, 1000 at a time. */
    int fd = raw_connect(b.port, 0);
    char *req = malloc((size_t)CHUNK * 128);
    char *rep = malloc(1 << 20);
    SL_CHECK(req != NULL && rep != NULL);
    for (int base = 0; base < NPART; base += CHUNK) {
        size_t len = 0;
        for (int i = base; i < base + CHUNK; i++)
            len += (size_t)sprintf(
                req + len, "put %d " LTOPIC " partition_%05d 1\r\nx\r\n", i, i);
        send_all(fd, req, len);
        int lines = 0;
        size_t got = 0;
        while (lines < CHUNK) {
            ssize_t r = recv(fd, rep + got, (1 << 20) - 1 - got, 0);
            SL_CHECK(r > 0);
            for (ssize_t k = 0; k < r; k++)
                if (rep[got + (size_t)k] == '\n')
                    lines++;
            got += (size_t)r;
        }
        rep[got] = '\0';
        SL_CHECK(strncmp(rep, "200 ", 4) == 0 && strstr(rep, "\n4") == NULL &&
                 strstr(rep, "\n5") == NULL);
    }
    close(fd);

    /* A listing (about 3.5 MB) to a client that does not read yet. */
    int lfd = raw_connect(b.port, 4096);
    send_all(lfd, "partitions 7 " LTOPIC "\r\n", strlen(LTOPIC) + 15);
    sl_harness_sleep_ms(500);
    sl_client_t *cl = client(&b);
    char ver[64];
    SL_CHECK_OK(sl_client_version(cl, ver, sizeof ver));
    uint64_t off;
    int dup;
    SL_CHECK_OK(sl_client_put(cl, "other", "x", "y", 1, -1, 0, &off, &dup));
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, LTOPIC, "partition_00042", 0, 1024, 0, &f));
    SL_CHECK(f.count == 1 && f.recs[0].len == 1 && f.recs[0].data[0] == 'x');
    /* The broker holds a slice of the listing, not all of it. */
    uint64_t used = sl_harness_broker_stat(cl, "memory_used");
    fprintf(stderr, "  listing paused: memory_used %" PRIu64 " KiB\n",
            used / 1024);
    SL_CHECK(used < 1024u * 1024u);
    sl_client_close(cl);

    /* Now the listing is read: complete and correct. */
    size_t cap = 8u << 20, got = 0;
    char *text = malloc(cap);
    SL_CHECK(text != NULL);
    while (got < 5 || memcmp(text + got - 5, "END\r\n", 5) != 0) {
        SL_CHECK(got + 1 < cap);
        ssize_t r = recv(lfd, text + got, cap - 1 - got, 0);
        SL_CHECK(r > 0);
        got += (size_t)r;
    }
    text[got] = '\0';
    close(lfd);
    SL_CHECK(strncmp(text, "200 7 50000\r\n", 13) == 0);
    char *seen = calloc(NPART, 1);
    SL_CHECK(seen != NULL);
    int nlines = 0;
    for (char *line = strstr(text, "\r\n") + 2; strncmp(line, "END\r\n", 5);) {
        int id;
        char rest[32];
        SL_CHECK(sscanf(line, LTOPIC " partition_%05d %31[0-9 ]", &id, rest) ==
                 2);
        SL_CHECK(id >= 0 && id < NPART && !seen[id]);
        SL_CHECK(strcmp(rest, "0 1") == 0);
        seen[id] = 1;
        nlines++;
        line = strstr(line, "\r\n");
        SL_CHECK(line != NULL);
        line += 2;
    }
    SL_CHECK_INT(nlines, NPART);
    free(seen);
    free(text);
    free(req);
    free(rep);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(broker_memory_budget_below_minimum_is_refused) {
    /* Less than 4 x max-message could not hold one largest request while
     * it is received, staged and answered: refused at start (exit 2). */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", sl_harness_free_port());
    char data[600], log[600];
    snprintf(data, sizeof data, "%s/data", sl_test_tmpdir());
    snprintf(log, sizeof log, "%s/broker.log", sl_test_tmpdir());
    const char *argv[] = {sl_harness_bin("sluice-broker"),
                          "--listen",
                          addr,
                          "--data",
                          data,
                          "--max-memory",
                          "32MiB",
                          NULL};
    int pid = sl_harness_spawn((char *const *)argv, log);
    int status = sl_harness_stop(pid, 0, 10000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    FILE *f = fopen(log, "r");
    SL_CHECK(f != NULL);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    SL_CHECK(strstr(text, "max-memory must be at least") != NULL);
}
