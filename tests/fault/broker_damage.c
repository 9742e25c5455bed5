/*
 * Fault test: damage the tail of the last commit-log segment after a
 * kill -9 (truncation at random byte positions, random bit flips), restart
 * the real broker, and check that recovery keeps exactly the records
 * before the damage, serves nothing after it, and accepts new puts at the
 * right offset.
 */
#include "bytes.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int pid;
    uint16_t port;
    char addr[64];
    char data[600];
    char log[600];
} broker_t;

static void broker_start(broker_t *b, const char *data) {
    snprintf(b->data, sizeof b->data, "%s", data);
    snprintf(b->log, sizeof b->log, "%s/broker.log", sl_test_tmpdir());
    b->port = sl_harness_free_port();
    snprintf(b->addr, sizeof b->addr, "127.0.0.1:%u", b->port);
    /* No periodic checkpoint: the damaged tail lies after the last one. */
    const char *argv[] = {sl_harness_bin("sluice-broker"), "--listen", b->addr,
                          "--data", b->data, "--checkpoint-interval", "1h",
                          NULL};
    b->pid = sl_harness_spawn((char *const *)argv, b->log);
    if (sl_harness_wait_port(b->port, 10000) != 0)
        sl_test_fail(__FILE__, __LINE__, "broker did not start (see %s)",
                     b->log);
}

static sl_client_t *client(const broker_t *b) {
    sl_client_opts_t o = {NULL, 5000, 10000, 5000};
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(b->addr, &o, &cl));
    return cl;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        sl_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    SL_CHECK(fread(b, 1, *len, f) == *len);
    fclose(f);
    return b;
}

/* Messages in entries that end at or before pos (one partition only). */
static uint64_t msgs_before(const uint8_t *log, size_t len, size_t pos) {
    uint64_t n = 0;
    for (size_t at = 0; at + 12 <= len;) {
        size_t end = at + 12 + sl_get_u32be(log + at + 4);
        if (end > pos)
            break;
        n += sl_get_u32be(log + at + 12 + 57);
        at = end;
    }
    return n;
}

SL_TEST(broker_damaged_tail_recovery) {
    char pristine[700], work[700], cmd[2400];
    snprintf(pristine, sizeof pristine, "%s/pristine", sl_test_tmpdir());
    snprintf(work, sizeof work, "%s/work", sl_test_tmpdir());
    broker_t b;
    broker_start(&b, pristine);
    sl_client_t *cl = client(&b);
    /* Batches of 1..7 messages so entries have different sizes. */
    uint64_t total = 0;
    for (int i = 0; i < 300; i++) {
        sl_client_msg_t msgs[7];
        char text[7][32];
        int n = 1 + i % 7;
        for (int k = 0; k < n; k++) {
            snprintf(text[k], sizeof text[k], "v%llu",
                     (unsigned long long)(total + (uint64_t)k));
            msgs[k].data = text[k];
            msgs[k].len = strlen(text[k]);
        }
        uint64_t off;
        int dup;
        SL_CHECK_OK(sl_client_put_batch(cl, "t", "p", msgs, (size_t)n, -1, 0,
                                        &off, &dup));
        SL_CHECK_UINT(off, total);
        total += (uint64_t)n;
    }
    sl_client_close(cl);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    char seg[800], ckpt[800];
    snprintf(seg, sizeof seg, "%s/log/00000000000000000000.log", pristine);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", pristine);
    size_t len, clen;
    uint8_t *log = slurp(seg, &len);
    uint8_t *cp = slurp(ckpt, &clen);
    size_t ckpt_pos = clen >= 16 ? (size_t)sl_get_u64be(cp + 8) : 0;
    free(cp);
    SL_CHECK(ckpt_pos < len / 2);
    SL_CHECK_UINT(msgs_before(log, len, len), total);

    srand(20261122);
    for (int round = 0; round < 16; round++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", work,
                 pristine, work);
        SL_CHECK_INT(system(cmd), 0);
        char wseg[800];
        snprintf(wseg, sizeof wseg, "%s/log/00000000000000000000.log", work);
        size_t damage = ckpt_pos + (size_t)rand() % (len - ckpt_pos);
        if (round % 2 == 0) {
            SL_CHECK_OK(truncate(wseg, (off_t)damage));
        } else {
            /* One to three flips, the first at `damage`. */
            FILE *f = fopen(wseg, "r+b");
            SL_CHECK(f != NULL);
            int flips = 1 + rand() % 3;
            for (int k = 0; k < flips; k++) {
                size_t at = k == 0 ? damage
                                   : damage + (size_t)rand() % (len - damage);
                fseek(f, (long)at, SEEK_SET);
                int c = fgetc(f);
                fseek(f, (long)at, SEEK_SET);
                fputc(c ^ (1 << (rand() % 8)), f);
            }
            fclose(f);
        }
        /* Kept: exactly the entries that end at or before the damage (for
         * a flip, the entry holding the flipped byte is lost). */
        uint64_t want = msgs_before(log, len, damage);
        broker_start(&b, work);
        cl = client(&b);
        uint64_t off = 0, got = 0;
        for (int guard = 0; guard < 10000; guard++) {
            sl_client_fetch_t f;
            SL_CHECK_OK(sl_client_get(cl, "t", "p", off, 1 << 16, 0, &f));
            if (f.count == 0)
                break;
            for (size_t i = 0; i < f.count; i++) {
                char exp[32];
                snprintf(exp, sizeof exp, "v%llu", (unsigned long long)got);
                if (f.recs[i].offset != got || f.recs[i].len != strlen(exp) ||
                    memcmp(f.recs[i].data, exp, f.recs[i].len) != 0)
                    sl_test_fail(__FILE__, __LINE__, "round %d: record %llu "
                                 "wrong", round, (unsigned long long)got);
                got++;
            }
            off = f.next;
        }
        if (got != want)
            sl_test_fail(__FILE__, __LINE__, "round %d (%s at %zu): kept %llu "
                         "records, expected %llu", round,
                         round % 2 ? "bit flip" : "truncation", damage,
                         (unsigned long long)got, (unsigned long long)want);
        uint64_t noff;
        int dup;
        SL_CHECK_OK(sl_client_put(cl, "t", "p", "after", 5, -1, 0, &noff, &dup));
        SL_CHECK_UINT(noff, got);
        sl_client_close(cl);
        sl_harness_stop(b.pid, SIGKILL, 5000);
    }
    free(log);
}
