/*
 * Fault test: damage the tail of the last commit-log segment after a
 * kill -9 (truncation at random byte positions, random bit flips), restart
 * the real broker, and check what recovery does. A truncation, or flips
 * with no intact entry after them, look like a torn write: exactly the
 * records before the damage are kept, nothing after it is served, and new
 * puts get offsets above every acknowledged one (the cut records may have
 * been acknowledged). Flips with intact entries after them are damage:
 * start-up stops without changing the segment; with --quarantine-damaged
 * every untouched record is served and the damaged ones are not.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef sl_harness_broker_t broker_t;

/* Starts the broker; returns 0 when it listens, or -1 when it exited
 * (its wait status in *status). */
static int broker_run(broker_t *b, const char *data, int quarantine,
                      int *status) {
    snprintf(b->data, sizeof b->data, "%s", data);
    snprintf(b->log, sizeof b->log, "%s/broker.log", sl_test_tmpdir());
    /* No periodic checkpoint: the damaged tail lies after the last one. */
    const char *const flags[] = {"--checkpoint-interval", "1h",
                                 quarantine ? "--quarantine-damaged" : NULL,
                                 NULL};
    return sl_harness_broker_run(b, flags, 20000, status);
}

static void broker_start(broker_t *b, const char *data) {
    int status;
    if (broker_run(b, data, 0, &status) != 0)
        sl_test_fail(__FILE__, __LINE__, "broker did not start (see %s)",
                     b->log);
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

/* Index of the entry holding byte pos. */
static size_t entry_at(const uint8_t *log, size_t len, size_t pos) {
    size_t k = 0;
    for (size_t at = 0; at + 12 <= len; k++) {
        size_t end = at + 12 + sl_get_u32be(log + at + 4);
        if (pos < end)
            return k;
        at = end;
    }
    return k;
}

/* First message offset of entry k, and its count. */
static void entry_msgs(const uint8_t *log, size_t len, size_t k,
                       uint64_t *first, uint64_t *count) {
    uint64_t n = 0;
    size_t at = 0;
    for (size_t i = 0; at + 12 <= len; i++) {
        uint64_t c = sl_get_u32be(log + at + 12 + 57);
        if (i == k) {
            *first = n;
            *count = c;
            return;
        }
        n += c;
        at += 12 + sl_get_u32be(log + at + 4);
    }
    *first = n;
    *count = 0;
}

SL_TEST(broker_damaged_tail_recovery) {
    char pristine[700], work[700], cmd[2400];
    snprintf(pristine, sizeof pristine, "%s/pristine", sl_test_tmpdir());
    snprintf(work, sizeof work, "%s/work", sl_test_tmpdir());
    broker_t b = {0};
    broker_start(&b, pristine);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
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
    uint8_t *log = sl_harness_slurp(seg, &len);
    uint8_t *cp = sl_harness_slurp(ckpt, &clen);
    size_t ckpt_pos = clen >= 16 ? (size_t)sl_get_u64be(cp + 8) : 0;
    free(cp);
    SL_CHECK(ckpt_pos < len / 2);
    SL_CHECK_UINT(msgs_before(log, len, len), total);

    static char hit[4096];
    int damaged_rounds = 0;
    SL_CHECK(entry_at(log, len, len) < sizeof hit);
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
            memset(hit, 0, sizeof hit);
            for (int k = 0; k < flips; k++) {
                size_t at =
                    k == 0 ? damage : damage + (size_t)rand() % (len - damage);
                fseek(f, (long)at, SEEK_SET);
                int c = fgetc(f);
                fseek(f, (long)at, SEEK_SET);
                fputc(c ^ (1 << (rand() % 8)), f);
                hit[entry_at(log, len, at)] = 1;
            }
            fclose(f);
        }
        /* A flip followed by an intact entry is damage, not a torn
         * write. */
        size_t first_hit = entry_at(log, len, damage),
               nent = entry_at(log, len, len);
        int torn = 1;
        for (size_t k = first_hit + 1; round % 2 == 1 && k < nent; k++)
            if (!hit[k])
                torn = 0;
        if (!torn) {
            damaged_rounds++;
            int status = 0;
            if (broker_run(&b, work, 0, &status) == 0)
                sl_test_fail(__FILE__, __LINE__,
                             "round %d: broker started "
                             "on damaged data (see %s)",
                             round, b.log);
            SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
            size_t now_len;
            free(sl_harness_slurp(wseg, &now_len));
            SL_CHECK_UINT(now_len, len); /* Nothing truncated. */
            SL_CHECK_OK(broker_run(&b, work, 1, &status));
            cl = sl_harness_broker_client(&b, NULL);
            uint64_t off = 0, got = 0, skipped = 0;
            for (int guard = 0; guard < 10000; guard++) {
                sl_client_fetch_t f;
                int err = sl_client_get(cl, "t", "p", off, 1 << 16, 0, &f);
                if (err != 0) {
                    unsigned long long next;
                    if (sscanf(sl_client_error(cl), "broker: 422 %llu",
                               &next) != 1 ||
                        next <= off)
                        sl_test_fail(__FILE__, __LINE__, "round %d: %s", round,
                                     sl_client_error(cl));
                    skipped += next - off;
                    off = next;
                    continue;
                }
                if (f.count == 0)
                    break;
                for (size_t i = 0; i < f.count; i++) {
                    uint64_t o = f.recs[i].offset, first, cnt;
                    /* Served records are intact and not in a hit entry. */
                    size_t k = 0;
                    for (; k < nent; k++) {
                        entry_msgs(log, len, k, &first, &cnt);
                        if (o >= first && o < first + cnt)
                            break;
                    }
                    char exp[32];
                    snprintf(exp, sizeof exp, "v%llu", (unsigned long long)o);
                    if (k == nent || hit[k] || f.recs[i].len != strlen(exp) ||
                        memcmp(f.recs[i].data, exp, f.recs[i].len) != 0)
                        sl_test_fail(__FILE__, __LINE__,
                                     "round %d: record "
                                     "%llu served wrongly",
                                     round, (unsigned long long)o);
                    got++;
                }
                off = f.next;
            }
            uint64_t want = 0;
            for (size_t k = 0; k < nent; k++) {
                uint64_t first, cnt;
                entry_msgs(log, len, k, &first, &cnt);
                if (!hit[k])
                    want += cnt;
            }
            if (got != want)
                sl_test_fail(__FILE__, __LINE__,
                             "round %d: served %llu "
                             "records of %llu untouched",
                             round, (unsigned long long)got,
                             (unsigned long long)want);
            SL_CHECK(skipped > 0);
            uint64_t noff;
            int dup;
            SL_CHECK_OK(
                sl_client_put(cl, "t", "p", "after", 5, -1, 0, &noff, &dup));
            SL_CHECK(noff >= total);
            sl_client_close(cl);
            sl_harness_stop(b.pid, SIGKILL, 5000);
            continue;
        }
        /* Kept: exactly the entries that end at or before the damage (for
         * a flip, the entry holding the flipped byte is lost). */
        uint64_t want = msgs_before(log, len, damage);
        broker_start(&b, work);
        cl = sl_harness_broker_client(&b, NULL);
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
                    sl_test_fail(__FILE__, __LINE__,
                                 "round %d: record %llu "
                                 "wrong",
                                 round, (unsigned long long)got);
                got++;
            }
            off = f.next;
        }
        if (got != want)
            sl_test_fail(__FILE__, __LINE__,
                         "round %d (%s at %zu): kept %llu "
                         "records, expected %llu",
                         round, round % 2 ? "bit flip" : "truncation", damage,
                         (unsigned long long)got, (unsigned long long)want);
        /* The cut records were acknowledged: their offsets are not handed
         * out again. */
        uint64_t noff;
        int dup;
        SL_CHECK_OK(
            sl_client_put(cl, "t", "p", "after", 5, -1, 0, &noff, &dup));
        SL_CHECK(noff >= total);
        sl_client_close(cl);
        sl_harness_stop(b.pid, SIGKILL, 5000);
    }
    /* Flips with intact entries after them ran (truncations are the
     * torn tails). */
    SL_CHECK(damaged_rounds > 0);
    free(log);
}
