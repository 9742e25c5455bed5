/*
 * Fault test: damage anywhere in a multi-segment commit log, and lost or
 * corrupted index, checkpoint and meta.log files, against the real broker.
 *
 * One pristine data directory is written once: three partitions, 1 MiB
 * segments, phase A (about 3.5 MiB, then a clean stop, so the checkpoint
 * lies at its end) and phase B (a few hundred kB after the checkpoint,
 * then kill -9). Every scenario damages a fresh copy of it and restarts
 * the broker. After each: every acknowledged record the damage did not
 * touch is served, in order; no damaged record is served (reads of it get
 * 422); no offset is reused (a put after the restart gets an offset above
 * every acknowledged one). Damage that is not a torn tail stops start-up
 * (exit status non-zero, the log names the segment) without changing any
 * segment file; --quarantine-damaged then serves everything else.
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
#include <unistd.h>

#define NPARTS 3
#define VALUE_LEN 20000
#define PHASE_A 175
#define PHASE_B 15
#define MAX_ENTRIES 512

static const char *pnames[NPARTS] = {"a", "b", "c"};

typedef sl_harness_broker_t broker_t;

/* Starts the broker on data; returns 0 when it listens, or -1 when it
 * exited instead (its wait status in *status). */
static int broker_run(broker_t *b, const char *data, int quarantine,
                      int *status) {
    static int n;
    snprintf(b->data, sizeof b->data, "%s", data);
    snprintf(b->log, sizeof b->log, "%s/broker-%d.log", sl_test_tmpdir(), ++n);
    const char *const flags[] = {"--segment-size",
                                 "1MiB",
                                 "--checkpoint-interval",
                                 "1h",
                                 "--fsync",
                                 "always",
                                 quarantine ? "--quarantine-damaged" : NULL,
                                 NULL};
    return sl_harness_broker_run(b, flags, 20000, status);
}

static void broker_start(broker_t *b, const char *data, int quarantine) {
    int st = 0;
    if (broker_run(b, data, quarantine, &st) != 0)
        sl_test_fail(__FILE__, __LINE__, "broker did not start (see %s)",
                     b->log);
}

static void value_for(char *v, int p, uint64_t off) {
    memset(v, 'x', VALUE_LEN);
    int n = snprintf(v, 64, "%s:%llu:", pnames[p], (unsigned long long)off);
    v[n] = 'x';
}

static uint64_t acked[NPARTS]; /* Acknowledged: offsets 0..acked-1. */

static void put_phase(const broker_t *b, int count, int *rr) {
    sl_client_t *cl = sl_harness_broker_client(b, NULL);
    static char v[VALUE_LEN];
    for (int i = 0; i < count; i++) {
        int p = (*rr)++ % NPARTS;
        value_for(v, p, acked[p]);
        uint64_t off;
        int dup;
        SL_CHECK_OK(
            sl_client_put(cl, "t", pnames[p], v, VALUE_LEN, -1, 0, &off, &dup));
        SL_CHECK_UINT(off, acked[p]);
        acked[p]++;
    }
    sl_client_close(cl);
}

/* One commit-log entry of the pristine log. */
typedef struct {
    int seg;
    uint64_t at;  /* Byte position in its segment file. */
    uint64_t pos; /* Log position. */
    uint32_t part_id;
    uint64_t base;
} ent_t;

static ent_t ents[MAX_ENTRIES];
static size_t nents;
static uint64_t seg_start[32];
static int nsegs;
static uint64_t ckpt_pos;

static void seg_file(char *out, size_t len, const char *data, int seg) {
    snprintf(out, len, "%s/log/%020llu.log", data,
             (unsigned long long)seg_start[seg]);
}

static void map_log(const char *data) {
    nsegs = 0;
    uint64_t pos = 0;
    nents = 0;
    for (;;) {
        char path[1024];
        seg_start[nsegs] = pos;
        seg_file(path, sizeof path, data, nsegs);
        struct stat st;
        if (stat(path, &st) != 0)
            break;
        size_t len;
        uint8_t *b = sl_harness_slurp(path, &len);
        for (size_t at = 0; at + 12 <= len;) {
            SL_CHECK(nents < MAX_ENTRIES);
            ent_t *e = &ents[nents++];
            e->seg = nsegs;
            e->at = at;
            e->pos = pos + at;
            e->part_id = sl_get_u32be(b + at);
            e->base = sl_get_u64be(b + at + 12);
            at += 12 + sl_get_u32be(b + at + 4);
        }
        free(b);
        pos += len;
        nsegs++;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", data);
    size_t clen;
    uint8_t *cp = sl_harness_slurp(path, &clen);
    ckpt_pos = sl_get_u64be(cp + 8);
    free(cp);
}

static void flip(const char *data, const ent_t *e) {
    char path[1024];
    seg_file(path, sizeof path, data, e->seg);
    FILE *f = fopen(path, "r+b");
    SL_CHECK(f != NULL);
    long at = (long)(e->at + 12 + 61 + 40); /* Inside the first value. */
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void copy_dir(const char *from, const char *to) {
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    SL_CHECK_INT(system(cmd), 0);
}

static void must_not_start(broker_t *b, const char *work, const ent_t *hit) {
    /* Start-up stops: exit status non-zero, the log names the damage,
     * and no segment file changed size or went away. */
    uint64_t sizes[32];
    for (int i = 0; i < nsegs; i++) {
        char path[1024];
        struct stat st;
        seg_file(path, sizeof path, work, i);
        sizes[i] = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    int status = 0;
    if (broker_run(b, work, 0, &status) == 0)
        sl_test_fail(__FILE__, __LINE__,
                     "broker started on damaged data "
                     "(see %s)",
                     b->log);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    size_t len;
    uint8_t *log = sl_harness_slurp(b->log, &len);
    char *text = malloc(len + 1);
    memcpy(text, log, len);
    text[len] = '\0';
    char name[64];
    snprintf(name, sizeof name, "%020llu.log",
             (unsigned long long)seg_start[hit->seg]);
    if (strstr(text, "damaged") == NULL || strstr(text, name) == NULL ||
        strstr(text, "--quarantine-damaged") == NULL)
        sl_test_fail(__FILE__, __LINE__,
                     "the log (%s) does not name the "
                     "damaged segment %s",
                     b->log, name);
    free(text);
    free(log);
    for (int i = 0; i < nsegs; i++) {
        char path[1024];
        struct stat st;
        seg_file(path, sizeof path, work, i);
        SL_CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == sizes[i]);
    }
}

/* Reads every partition; checks what is served against what was acked.
 * hit: the damaged entry (its offsets must not be served), or NULL. */
static void check_served(const broker_t *b, const ent_t *hit) {
    sl_client_t *cl = sl_harness_broker_client(b, NULL);
    static char want[VALUE_LEN];
    for (int p = 0; p < NPARTS; p++) {
        uint64_t off = 0, served = 0, last = 0;
        int any = 0;
        uint64_t hit_off =
            hit && hit->part_id == (uint32_t)p + 1 ? hit->base : UINT64_MAX;
        for (int guard = 0; guard < 100000; guard++) {
            sl_client_fetch_t f;
            int err = sl_client_get(cl, "t", pnames[p], off, 1 << 20, 0, &f);
            if (err != 0) {
                unsigned long long next;
                if (sscanf(sl_client_error(cl), "broker: 422 %llu", &next) != 1)
                    sl_test_fail(__FILE__, __LINE__, "t/%s at %llu: %s",
                                 pnames[p], (unsigned long long)off,
                                 sl_client_error(cl));
                SL_CHECK(next > off);
                off = next;
                continue;
            }
            if (f.count == 0)
                break;
            for (size_t i = 0; i < f.count; i++) {
                uint64_t o = f.recs[i].offset;
                if (any && o <= last)
                    sl_test_fail(__FILE__, __LINE__,
                                 "t/%s: offset %llu after "
                                 "%llu",
                                 pnames[p], (unsigned long long)o,
                                 (unsigned long long)last);
                if (o >= acked[p] || o == hit_off)
                    sl_test_fail(__FILE__, __LINE__,
                                 "t/%s: served offset "
                                 "%llu (acked %llu, damaged %llu)",
                                 pnames[p], (unsigned long long)o,
                                 (unsigned long long)acked[p],
                                 (unsigned long long)hit_off);
                value_for(want, p, o);
                if (f.recs[i].len != VALUE_LEN ||
                    memcmp(f.recs[i].data, want, VALUE_LEN) != 0)
                    sl_test_fail(__FILE__, __LINE__,
                                 "t/%s: record %llu "
                                 "wrong",
                                 pnames[p], (unsigned long long)o);
                last = o;
                any = 1;
                served++;
            }
            off = f.next;
        }
        uint64_t want_served = acked[p] - (hit_off != UINT64_MAX ? 1 : 0);
        if (served != want_served)
            sl_test_fail(__FILE__, __LINE__,
                         "t/%s: served %llu records, "
                         "want %llu",
                         pnames[p], (unsigned long long)served,
                         (unsigned long long)want_served);
    }
    /* No offset is reused. */
    for (int p = 0; p < NPARTS; p++) {
        uint64_t off;
        int dup;
        SL_CHECK_OK(
            sl_client_put(cl, "t", pnames[p], "new", 3, -1, 0, &off, &dup));
        if (off < acked[p])
            sl_test_fail(__FILE__, __LINE__,
                         "t/%s: put got offset %llu, "
                         "acknowledged before: 0..%llu",
                         pnames[p], (unsigned long long)off,
                         (unsigned long long)acked[p] - 1);
    }
    sl_client_close(cl);
}

/* Start-up on work stops (a non-zero exit) without --quarantine-damaged
 * (what says what is wrong with the data); with it the broker starts. */
static void refused_then_quarantined(broker_t *b, const char *work,
                                     const char *what) {
    int status = 0;
    if (broker_run(b, work, 0, &status) == 0)
        sl_test_fail(__FILE__, __LINE__, "broker started %s (see %s)", what,
                     b->log);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    broker_start(b, work, 1);
}

/* refused_then_quarantined(), then every partition is served; the
 * broker is killed. */
static void refused_then_served(broker_t *b, const char *work,
                                const char *what) {
    refused_then_quarantined(b, work, what);
    check_served(b, NULL);
    sl_harness_stop(b->pid, SIGKILL, 5000);
}

/* The entry index matching a predicate: the k-th entry of segment seg,
 * below (0) or above (1) the checkpoint, or -1 for any. */
static const ent_t *pick(int seg, int above, int k) {
    for (size_t i = 0; i < nents; i++) {
        const ent_t *e = &ents[i];
        if (e->seg != seg || (above >= 0 && (e->pos >= ckpt_pos) != above))
            continue;
        if (k-- == 0)
            return e;
    }
    sl_test_fail(__FILE__, __LINE__, "no entry %d in segment %d", k, seg);
    return NULL;
}

static void rm_f(const char *work, const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", work, rel);
    SL_CHECK_OK(unlink(path));
}

static void garble(const char *work, const char *rel, long at) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", work, rel);
    FILE *f = fopen(path, "r+b");
    SL_CHECK(f != NULL);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
}

SL_TEST(broker_recovery_damage_anywhere) {
    char pristine[700], work[700], idx[64];
    snprintf(pristine, sizeof pristine, "%s/pristine", sl_test_tmpdir());
    snprintf(work, sizeof work, "%s/work", sl_test_tmpdir());
    broker_t b = {0};
    int rr = 0;
    broker_start(&b, pristine, 0);
    put_phase(&b, PHASE_A, &rr);
    SL_CHECK_INT(sl_harness_stop(b.pid, SIGTERM, 20000), 0);
    broker_start(&b, pristine, 0);
    put_phase(&b, PHASE_B, &rr);
    sl_harness_stop(b.pid, SIGKILL, 5000);
    map_log(pristine);
    SL_CHECK(nsegs >= 4);
    int newest = nsegs - 1;
    /* The checkpoint lies inside the newest segment, so it has entries
     * below and above it. */
    SL_CHECK(ckpt_pos > seg_start[newest]);
    SL_CHECK(ckpt_pos < ents[nents - 1].pos);
    for (size_t i = 0; i < nents; i++)
        SL_CHECK(ents[i].part_id >= 1 && ents[i].part_id <= NPARTS);

    /* Nothing damaged: a kill -9 loses nothing acknowledged. */
    copy_dir(pristine, work);
    broker_start(&b, work, 0);
    check_served(&b, NULL);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* Oldest segment, below the checkpoint, indexes intact: start-up does
     * not look there; the read finds the damage and answers 422. */
    const ent_t *e = pick(0, 0, 4);
    copy_dir(pristine, work);
    flip(work, e);
    broker_start(&b, work, 0);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* Oldest segment plus a lost index (the reported case): stop, delete
     * nothing; quarantined, everything else is served. */
    copy_dir(pristine, work);
    flip(work, e);
    snprintf(idx, sizeof idx, "idx/%u.idx", e->part_id);
    rm_f(work, idx);
    must_not_start(&b, work, e);
    must_not_start(&b, work, e); /* And again: nothing hides it. */
    broker_start(&b, work, 1);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* A middle segment, checkpoint deleted. */
    e = pick(1, 0, 10);
    copy_dir(pristine, work);
    flip(work, e);
    rm_f(work, "checkpoint");
    must_not_start(&b, work, e);
    broker_start(&b, work, 1);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* The newest segment below the checkpoint, its index corrupted. */
    e = pick(newest, 0, 1);
    copy_dir(pristine, work);
    flip(work, e);
    snprintf(idx, sizeof idx, "idx/%u.idx", e->part_id);
    garble(work, idx, 40 * 2 + 5);
    must_not_start(&b, work, e);
    broker_start(&b, work, 1);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* The newest segment above the checkpoint, intact entries after it. */
    e = pick(newest, 1, 2);
    SL_CHECK(e != &ents[nents - 1]);
    copy_dir(pristine, work);
    flip(work, e);
    must_not_start(&b, work, e);
    broker_start(&b, work, 1);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* The last entry: a torn write looks the same; it is cut, and its
     * partition continues above its high-water mark. */
    e = &ents[nents - 1];
    copy_dir(pristine, work);
    flip(work, e);
    broker_start(&b, work, 0);
    check_served(&b, e);
    sl_harness_stop(b.pid, SIGKILL, 5000);
}

SL_TEST(broker_recovery_lost_and_corrupted_files) {
    char pristine[700], work[700];
    snprintf(pristine, sizeof pristine, "%s/pristine", sl_test_tmpdir());
    snprintf(work, sizeof work, "%s/work", sl_test_tmpdir());
    broker_t b = {0};
    int rr = 0;
    memset(acked, 0, sizeof acked);
    broker_start(&b, pristine, 0);
    put_phase(&b, PHASE_A, &rr);
    SL_CHECK_INT(sl_harness_stop(b.pid, SIGTERM, 20000), 0);
    broker_start(&b, pristine, 0);
    put_phase(&b, PHASE_B, &rr);
    sl_harness_stop(b.pid, SIGKILL, 5000);
    map_log(pristine);

    /* Every index file deleted: rebuilt from the log. */
    copy_dir(pristine, work);
    for (int p = 1; p <= NPARTS; p++) {
        char idx[64];
        snprintf(idx, sizeof idx, "idx/%d.idx", p);
        rm_f(work, idx);
    }
    broker_start(&b, work, 0);
    check_served(&b, NULL);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* An index entry corrupted. */
    copy_dir(pristine, work);
    garble(work, "idx/2.idx", 40 * 7 + 9);
    broker_start(&b, work, 0);
    check_served(&b, NULL);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* The checkpoint deleted, then corrupted. */
    copy_dir(pristine, work);
    rm_f(work, "checkpoint");
    broker_start(&b, work, 0);
    check_served(&b, NULL);
    sl_harness_stop(b.pid, SIGKILL, 5000);
    copy_dir(pristine, work);
    garble(work, "checkpoint", 30);
    broker_start(&b, work, 0);
    check_served(&b, NULL);
    sl_harness_stop(b.pid, SIGKILL, 5000);

    /* meta.log damaged in the middle (partition b's name record): start-up
     * stops; quarantined, the name comes back from the checkpoint and
     * everything is served. */
    copy_dir(pristine, work);
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.log", work);
    size_t mlen;
    uint8_t *m = sl_harness_slurp(path, &mlen);
    long at = -1;
    for (size_t q = 0; q + 13 <= mlen; q += 8 + sl_get_u32be(m + q))
        if (m[q + 8] == 1 && sl_get_u32be(m + q + 9) == 2)
            at = (long)q + 14;
    free(m);
    SL_CHECK(at > 0);
    garble(work, "meta.log", at);
    refused_then_served(&b, work, "with a damaged meta.log");

    /* meta.log deleted: the same, names from the checkpoint. */
    copy_dir(pristine, work);
    rm_f(work, "meta.log");
    refused_then_served(&b, work, "without meta.log");

    /* The newest segment file and the checkpoint lost: meta.log says the
     * segment existed; start-up stops; quarantined, the rest is served
     * and offsets continue above the high-water marks. */
    copy_dir(pristine, work);
    seg_file(path, sizeof path, work, nsegs - 1);
    SL_CHECK_OK(unlink(path));
    rm_f(work, "checkpoint");
    refused_then_quarantined(&b, work, "without its newest segment");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    for (int p = 0; p < NPARTS; p++) {
        uint64_t off;
        int dup;
        SL_CHECK_OK(
            sl_client_put(cl, "t", pnames[p], "new", 3, -1, 0, &off, &dup));
        SL_CHECK(off >= acked[p]);
    }
    sl_client_close(cl);
    sl_harness_stop(b.pid, SIGKILL, 5000);
}
