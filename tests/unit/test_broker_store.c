/*
 * Unit tests for the store: the write path through the writer thread,
 * reads, idempotent puts, group offsets, retention, and recovery from torn
 * tails (a cut at every byte) and bit flips.
 */
#include "broker/store.h"
#include "broker/store_int.h"
#include "clock.h"
#include "error.h"
#include "harness.h"
#include "log.h"
#include "sl_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t acked;

static void count_acks(sl_store_t *store, sl_ack_t *acks, size_t n) {
    (void)store;
    (void)acks;
    acked += n;
}

static void opts_for(sl_store_opts_t *o, const char *dir) {
    sl_log_set_level(SL_LOG_FATAL); /* Recovery warnings are expected. */
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->segment_size = 1u << 20;
    o->fsync_mode = SL_FSYNC_NEVER; /* Unit tests need no durability. */
    o->fsync_interval_ms = 1000;
    o->max_batch = 1u << 20;
    o->checkpoint_ms = 0;
    o->auto_create = 1;
}

typedef struct {
    uv_loop_t loop;
    sl_store_t *store;
} live_t;

static void live_open(live_t *lv, const sl_store_opts_t *o) {
    SL_CHECK_OK(uv_loop_init(&lv->loop));
    SL_CHECK_OK(
        sl_store_open(&lv->store, o, &lv->loop, count_acks, NULL, NULL));
}

/* Runs the loop until every staged ack arrived. */
static void live_sync(live_t *lv, size_t want) {
    sl_store_kick(lv->store);
    for (int i = 0; i < 100000 && acked < want; i++)
        uv_run(&lv->loop, UV_RUN_ONCE);
    SL_CHECK_UINT(acked, want);
}

static void live_close(live_t *lv) {
    sl_store_close(lv->store, NULL);
    uv_run(&lv->loop, UV_RUN_DEFAULT);
    SL_CHECK_OK(uv_loop_close(&lv->loop));
}

/* Writes n messages "m<i>" to shop/users (batches of batch), and one
 * message per batch to shop/orders in between. */
static void write_msgs(const char *dir, size_t n, size_t batch) {
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *users, *orders;
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 1, &users));
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "orders", 6, 1, &orders));
    acked = 0;
    size_t staged = 0;
    char text[64][24]; /* "m" and up to 20 digits. */
    sl_msg_t msgs[64] = {0};
    for (size_t i = 0; i < n; i += batch) {
        size_t k = 0;
        for (; k < batch && i + k < n; k++) {
            snprintf(text[k], sizeof text[k], "m%zu", i + k);
            msgs[k].data = (const uint8_t *)text[k];
            msgs[k].len = strlen(text[k]);
        }
        sl_ack_t ack = {NULL, i, 0, 1, 0};
        uint64_t base;
        int dup;
        SL_CHECK_OK(sl_store_append(lv.store, users, msgs, k, -1, 0, &ack,
                                    &base, &dup));
        SL_CHECK_UINT(base, i);
        sl_msg_t om = {(const uint8_t *)"o", 1, NULL, 0};
        SL_CHECK_OK(sl_store_append(lv.store, orders, &om, 1, -1, 0, &ack,
                                    &base, &dup));
        staged += 2;
        if (i % 7 == 0)
            live_sync(&lv, staged); /* Several group commits. */
    }
    live_sync(&lv, staged);
    live_close(&lv);
}

typedef struct {
    uint64_t count;
    uint64_t expect;
    int bad;
} check_ctx_t;

/* Set where recovery may skip offsets (never reusing them): records
 * must still come in order, each "m<its offset>". */
static int allow_holes;

static int check_emit(void *vctx, const sl_record_t *rec) {
    check_ctx_t *ctx = vctx;
    char want[32];
    if (allow_holes && rec->offset > ctx->expect)
        ctx->expect = rec->offset;
    snprintf(want, sizeof want, "m%llu", (unsigned long long)ctx->expect);
    if (rec->offset != ctx->expect || rec->value_len != strlen(want) ||
        memcmp(rec->value, want, rec->value_len) != 0)
        ctx->bad = 1;
    ctx->expect++;
    ctx->count++;
    return 0;
}

/* Reads the whole users partition offline; returns how many messages
 * there are, failing the test if any is out of order or wrong. Damaged
 * (quarantined) ranges are skipped, counted in *damaged when not NULL. */
static uint64_t read_users_d(sl_store_t *store, uint64_t *damaged) {
    sl_part_t *users;
    if (sl_store_part(store, "shop", 4, "users", 5, 0, &users) != 0)
        return 0;
    check_ctx_t ctx = {0, 0, 0};
    uint64_t off = 0, earliest, latest;
    SL_CHECK_OK(sl_store_bounds(store, users, &earliest, &latest));
    if (off < earliest)
        off = earliest;
    for (int guard = 0; guard < 100000; guard++) {
        uint64_t next, count;
        int err = sl_store_read(store, users, off, 1000, check_emit, &ctx,
                                &next, &count);
        if (err == SL_EDAMAGED) {
            SL_CHECK(next > off);
            if (damaged)
                *damaged += next - off;
            off = next;
            ctx.expect = next;
            continue;
        }
        SL_CHECK_OK(err);
        if (count == 0)
            break;
        off = next;
    }
    SL_CHECK(!ctx.bad);
    return ctx.count;
}

static uint64_t read_users(sl_store_t *store) {
    return read_users_d(store, NULL);
}

static void seg_path(char *out, size_t len, const char *dir) {
    snprintf(out, len, "%s/log/00000000000000000000.log", dir);
}

static void spit(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    SL_CHECK(f != NULL);
    SL_CHECK(fwrite(b, 1, len, f) == len);
    fclose(f);
}

SL_TEST(broker_store_write_read_reopen) {
    const char *dir = sl_test_tmpdir();
    write_msgs(dir, 200, 3);
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 200);
    /* Clean shutdown wrote a checkpoint at the end: nothing to scan. */
    SL_CHECK_UINT(store->stats.recovered_entries, 0);
    sl_part_t *orders;
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "orders", 6, 0, &orders));
    uint64_t a, b;
    SL_CHECK_OK(sl_store_bounds(store, orders, &a, &b));
    SL_CHECK_UINT(a, 0);
    SL_CHECK_UINT(b, 67);
    SL_CHECK_INT(sl_store_part(store, "shop", 4, "nope", 4, 0, &orders),
                 SL_ENOTFOUND);
    sl_store_free(store);
}

/* One group holding several index chunks of two partitions, interleaved
 * (single-message appends, SL__INDEX_CHUNK entries a chunk): completing it
 * drops each partition's written entries from its in-memory tail at once.
 * Every message must read back in order, live (tail and file) and after a
 * reopen (index files alone). */
SL_TEST(broker_store_interleaved_index_chunks_in_one_group) {
    const char *dir = sl_test_tmpdir();
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *users, *orders;
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 1, &users));
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "orders", 6, 1, &orders));
    acked = 0;
    size_t staged = 0;
    uint64_t next = 0;
    for (int round = 0; round < 3; round++) {
        /* 100 + 37 * round a partition: 3 to 5 chunks each, and a
         * remainder left in the tail for the next group. */
        for (int i = 0; i < 100 + 37 * round; i++) {
            char text[24];
            snprintf(text, sizeof text, "m%llu", (unsigned long long)next);
            sl_msg_t m = {(const uint8_t *)text, strlen(text), NULL, 0};
            sl_ack_t ack = {NULL, next, 0, 1, 0};
            uint64_t base;
            int dup;
            SL_CHECK_OK(sl_store_append(lv.store, users, &m, 1, -1, 0, &ack,
                                        &base, &dup));
            SL_CHECK_UINT(base, next);
            sl_msg_t om = {(const uint8_t *)"o", 1, NULL, 0};
            SL_CHECK_OK(sl_store_append(lv.store, orders, &om, 1, -1, 0, &ack,
                                        &base, &dup));
            next++;
            staged += 2;
        }
        live_sync(&lv, staged);
        SL_CHECK_UINT(read_users(lv.store), next);
    }
    SL_CHECK_UINT(next, 100 + 137 + 174);
    SL_CHECK(users->ntail < 2 * 32 && orders->ntail < 2 * 32);
    live_close(&lv);
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), next);
    sl_part_t *op;
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "orders", 6, 0, &op));
    uint64_t a, b;
    SL_CHECK_OK(sl_store_bounds(store, op, &a, &b));
    SL_CHECK_UINT(b - a, next);
    sl_store_free(store);
}

SL_TEST(broker_store_idempotent_and_groups_survive_restart) {
    const char *dir = sl_test_tmpdir();
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *part;
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 1, &part));
    acked = 0;
    sl_msg_t m[2] = {{(const uint8_t *)"a", 1, NULL, 0},
                     {(const uint8_t *)"b", 1, NULL, 0}};
    uint64_t base;
    int dup;
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 2, 77, 10, NULL, &base, &dup));
    SL_CHECK_UINT(base, 0);
    SL_CHECK(!dup);
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 1, 77, 11, NULL, &base, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(base, 1);
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 1, 77, 12, NULL, &base, &dup));
    SL_CHECK(!dup);
    SL_CHECK_UINT(base, 2);
    /* A resent older batch gets its original offset too (10..11 at 0). */
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 1, 77, 11, NULL, &base, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(base, 1);
    /* Sequences 12..13: 12 is stored, 13 is not: refused, not half-kept. */
    SL_CHECK_INT(
        sl_store_append(lv.store, part, m, 2, 77, 12, NULL, &base, &dup),
        SL_EEXIST);
    SL_CHECK_UINT(part->next_offset, 3);
    sl_ack_t ack = {NULL, 1, 0, 2, 0};
    SL_CHECK_OK(sl_store_commit_offset(lv.store, "g1", 2, part, 3, &ack));
    live_sync(&lv, 1);
    live_close(&lv);
    /* Drop the checkpoint: producer state must come from the log. */
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    SL_CHECK_OK(unlink(path));
    live_open(&lv, &o);
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 0, &part));
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 1, 77, 12, NULL, &base, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(base, 2);
    SL_CHECK_OK(
        sl_store_append(lv.store, part, m, 1, 77, 5, NULL, &base, &dup));
    SL_CHECK(dup);
    SL_CHECK_UINT(base, UINT64_MAX);
    uint64_t off;
    SL_CHECK_OK(sl_store_committed(lv.store, "g1", 2, part, &off));
    SL_CHECK_UINT(off, 3);
    SL_CHECK_INT(sl_store_committed(lv.store, "g2", 2, part, &off),
                 SL_ENOTFOUND);
    live_close(&lv);
}

SL_TEST(broker_store_torn_tail_every_byte) {
    const char *dir = sl_test_tmpdir();
    write_msgs(dir, 12, 2);
    char seg[1024], ckpt[1024];
    seg_path(seg, sizeof seg, dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    size_t len;
    uint8_t *orig = sl_harness_slurp(seg, &len);
    /* Entry boundaries, and how many users messages end before each. */
    size_t bounds[64], users_at[64], nb = 0, users = 0;
    for (size_t pos = 0; pos < len;) {
        uint32_t pid = (uint32_t)orig[pos] << 24 |
                       (uint32_t)orig[pos + 1] << 16 |
                       (uint32_t)orig[pos + 2] << 8 | orig[pos + 3];
        uint32_t bl = (uint32_t)orig[pos + 4] << 24 |
                      (uint32_t)orig[pos + 5] << 16 |
                      (uint32_t)orig[pos + 6] << 8 | orig[pos + 7];
        uint32_t cnt = (uint32_t)orig[pos + 12 + 57] << 24 |
                       (uint32_t)orig[pos + 12 + 58] << 16 |
                       (uint32_t)orig[pos + 12 + 59] << 8 | orig[pos + 12 + 60];
        pos += 12 + bl;
        if (pid == 1)
            users += cnt;
        bounds[nb] = pos;
        users_at[nb] = users;
        nb++;
    }
    SL_CHECK_UINT(bounds[nb - 1], len);
    SL_CHECK_UINT(users, 12);
    for (size_t cut = 0; cut <= len; cut++) {
        spit(seg, orig, cut);
        unlink(ckpt); /* Also exercised with a stale checkpoint below. */
        sl_store_opts_t o;
        opts_for(&o, dir);
        sl_store_t *store;
        SL_CHECK_OK(sl_store_open_offline(&store, &o));
        size_t want = 0, end = 0;
        for (size_t i = 0; i < nb && bounds[i] <= cut; i++) {
            want = users_at[i];
            end = bounds[i];
        }
        if (read_users(store) != want || store->log_end != end)
            sl_test_fail(__FILE__, __LINE__,
                         "cut %zu: got %llu messages, "
                         "log_end %llu; want %zu, %zu",
                         cut, (unsigned long long)read_users(store),
                         (unsigned long long)store->log_end, want, end);
        sl_store_free(store);
        /* The torn bytes were truncated away. */
        struct stat st;
        SL_CHECK_OK(stat(seg, &st));
        SL_CHECK_UINT((size_t)st.st_size, end);
    }
    free(orig);
}

SL_TEST(broker_store_checkpoint_then_torn_tail) {
    const char *dir = sl_test_tmpdir();
    write_msgs(dir, 6, 2);
    char seg[1024], ckpt[1024];
    seg_path(seg, sizeof seg, dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    size_t clen, first_len;
    uint8_t *old_ckpt = sl_harness_slurp(ckpt, &clen);
    free(sl_harness_slurp(seg, &first_len));
    write_msgs(dir, 0, 1); /* Reopen and close: nothing new. */
    /* Append more in a second session, then restore the old checkpoint
     * as if the broker died before checkpointing again. */
    {
        sl_store_opts_t o;
        opts_for(&o, dir);
        live_t lv;
        live_open(&lv, &o);
        sl_part_t *users;
        SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 0, &users));
        acked = 0;
        for (int i = 6; i < 20; i++) {
            char t[16];
            snprintf(t, sizeof t, "m%d", i);
            sl_msg_t m = {(const uint8_t *)t, strlen(t), NULL, 0};
            sl_ack_t ack = {NULL, 0, 0, 1, 0};
            uint64_t base;
            int dup;
            SL_CHECK_OK(sl_store_append(lv.store, users, &m, 1, -1, 0, &ack,
                                        &base, &dup));
            SL_CHECK_UINT(base, (uint64_t)i);
        }
        live_sync(&lv, 14);
        live_close(&lv);
    }
    spit(ckpt, old_ckpt, clen);
    size_t len;
    uint8_t *full = sl_harness_slurp(seg, &len);
    /* Cut inside the last entry: 19 messages survive, and the scan only
     * covered what came after the checkpoint. */
    spit(seg, full, len - 3);
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 19);
    SL_CHECK_UINT(store->stats.recovered_entries, 13);
    sl_store_free(store);
    /* Damage the users index: it is rebuilt from the log. */
    char idx[1024];
    snprintf(idx, sizeof idx, "%s/idx/1.idx", dir);
    SL_CHECK_OK(truncate(idx, 40));
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 19);
    sl_store_free(store);
    free(old_ckpt);
    free(full);
}

/* Entry boundaries of a commit-log image: starts[k], ends[k], parts[k]. */
static size_t entries_of(const uint8_t *b, size_t len, size_t *starts,
                         size_t *ends, uint32_t *parts, size_t max) {
    size_t n = 0;
    for (size_t pos = 0; pos + 12 <= len && n < max;) {
        uint32_t bl = (uint32_t)b[pos + 4] << 24 | (uint32_t)b[pos + 5] << 16 |
                      (uint32_t)b[pos + 6] << 8 | b[pos + 7];
        starts[n] = pos;
        parts[n] = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 |
                   (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        pos += 12 + bl;
        ends[n++] = pos;
    }
    return n;
}

SL_TEST(broker_store_bit_flips) {
    const char *dir = sl_test_tmpdir();
    write_msgs(dir, 30, 3);
    char seg[1024], ckpt[1024];
    seg_path(seg, sizeof seg, dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    size_t len;
    uint8_t *orig = sl_harness_slurp(seg, &len);
    size_t starts[64], ends[64];
    uint32_t parts[64];
    size_t n = entries_of(orig, len, starts, ends, parts, 64);
    SL_CHECK_UINT(n, 20);
    SL_CHECK_UINT(ends[n - 1], len);
    size_t clen, mlen;
    uint8_t *saved_ckpt = sl_harness_slurp(ckpt, &clen);
    char meta[1024];
    snprintf(meta, sizeof meta, "%s/meta.log", dir);
    uint8_t *saved_meta = sl_harness_slurp(meta, &mlen);
    srand(12345);
    for (int round = 0; round < 300; round++) {
        size_t at = (size_t)rand() % len;
        int bit = rand() % 8;
        uint8_t *copy = malloc(len);
        memcpy(copy, orig, len);
        copy[at] ^= (uint8_t)(1u << bit);
        spit(seg, copy, len);
        unlink(ckpt);
        size_t k = 0;
        while (ends[k] <= at)
            k++;
        uint64_t lost = parts[k] == 1 ? 3 : 0; /* users batches hold 3 */
        sl_store_opts_t o;
        opts_for(&o, dir);
        sl_store_t *store;
        int err = sl_store_open_offline(&store, &o);
        if (k == n - 1) {
            /* The last entry of the newest segment, no checkpoint: a torn
             * write looks the same. It alone is cut. */
            SL_CHECK_OK(err);
            SL_CHECK_UINT(read_users(store), 30 - lost);
            SL_CHECK_UINT(store->log_end, starts[k]);
            sl_store_free(store);
            free(copy);
            continue;
        }
        /* Damage with intact entries after it: start-up stops and changes
         * nothing in the log. */
        if (err != SL_EDAMAGED)
            sl_test_fail(__FILE__, __LINE__,
                         "flip at %zu (entry %zu) bit "
                         "%d: open returned %d, want SL_EDAMAGED",
                         at, k, bit, err);
        size_t now_len;
        uint8_t *now = sl_harness_slurp(seg, &now_len);
        SL_CHECK(now_len == len && memcmp(now, copy, len) == 0);
        free(now);
        /* Quarantined: every other message is served, the damaged ones
         * are reported, none is served. */
        o.quarantine_damaged = 1;
        SL_CHECK_OK(sl_store_open_offline(&store, &o));
        uint64_t damaged = 0;
        uint64_t got = read_users_d(store, &damaged);
        if (got != 30 - lost || damaged < lost || store->log_end != len)
            sl_test_fail(__FILE__, __LINE__,
                         "flip at %zu bit %d: got %llu "
                         "(want %llu), damaged %llu, log_end %llu (want %zu)",
                         at, bit, (unsigned long long)got,
                         (unsigned long long)(30 - lost),
                         (unsigned long long)damaged,
                         (unsigned long long)store->log_end, len);
        sl_part_t *users;
        SL_CHECK_OK(sl_store_part(store, "shop", 4, "users", 5, 0, &users));
        SL_CHECK(users->next_offset >= 30);
        sl_store_free(store);
        free(copy);
    }
    /* Below the checkpoint start-up does not look: a read finds the
     * damage, never serves it, and everything else is served. */
    /* Back to the files as written (the rounds above recorded skipped
     * offsets in meta.log). */
    spit(seg, orig, len);
    spit(ckpt, saved_ckpt, clen);
    spit(meta, saved_meta, mlen);
    char copy_byte = (char)(orig[len - 5] ^ 0x10);
    FILE *f = fopen(seg, "r+b");
    fseek(f, (long)len - 5, SEEK_SET);
    fputc(copy_byte, f);
    fclose(f);
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *users, *orders;
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "orders", 6, 0, &orders));
    uint64_t a, b;
    SL_CHECK_OK(sl_store_bounds(lv.store, users, &a, &b));
    SL_CHECK_UINT(b, 30); /* The last entry was orders; users intact. */
    check_ctx_t ctx = {0, 0, 0};
    uint64_t next, count;
    SL_CHECK_INT(sl_store_read(lv.store, orders, 9, 1000, check_emit, &ctx,
                               &next, &count),
                 SL_EDAMAGED);
    SL_CHECK_UINT(count, 0);
    SL_CHECK_UINT(next, 10);
    SL_CHECK_OK(sl_store_read(lv.store, orders, 8, 1000, check_emit, &ctx,
                              &next, &count));
    SL_CHECK_UINT(count, 1); /* Offset 8, then it stops before the damage. */
    SL_CHECK_UINT(next, 9);
    acked = 0;
    sl_msg_t m = {(const uint8_t *)"m30", 3, NULL, 0};
    sl_ack_t ack = {NULL, 0, 0, 1, 0};
    uint64_t base;
    int dup;
    SL_CHECK_OK(
        sl_store_append(lv.store, users, &m, 1, -1, 0, &ack, &base, &dup));
    SL_CHECK_UINT(base, 30);
    SL_CHECK_OK(
        sl_store_append(lv.store, orders, &m, 1, -1, 0, &ack, &base, &dup));
    SL_CHECK_UINT(base, 10);
    live_sync(&lv, 2);
    live_close(&lv);
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 31);
    sl_store_free(store);

    /* The same flip without a checkpoint: the last entry may be a torn
     * write and is cut, and since nothing vouches for the offsets, every
     * partition continues above its high-water mark (never reusing an
     * offset that may have been acknowledged). */
    spit(seg, orig, len);
    spit(meta, saved_meta, mlen);
    unlink(ckpt);
    f = fopen(seg, "r+b");
    fseek(f, (long)len - 5, SEEK_SET);
    fputc(copy_byte, f);
    fclose(f);
    live_open(&lv, &o);
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "orders", 6, 0, &orders));
    SL_CHECK_OK(sl_store_bounds(lv.store, users, &a, &b));
    SL_CHECK(b >= 30);
    acked = 0;
    char t[32];
    snprintf(t, sizeof t, "m%llu", (unsigned long long)b);
    m.data = (const uint8_t *)t;
    m.len = strlen(t);
    SL_CHECK_OK(
        sl_store_append(lv.store, users, &m, 1, -1, 0, &ack, &base, &dup));
    SL_CHECK_UINT(base, b);
    SL_CHECK_OK(
        sl_store_append(lv.store, orders, &m, 1, -1, 0, &ack, &base, &dup));
    SL_CHECK(base >= 10);
    live_sync(&lv, 2);
    live_close(&lv);
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    allow_holes = 1;
    SL_CHECK_UINT(read_users(store), 31); /* m<b> at offset b. */
    allow_holes = 0;
    sl_store_free(store);
    free(saved_ckpt);
    free(saved_meta);
    free(orig);
}

SL_TEST(broker_store_segments_and_retention) {
    const char *dir = sl_test_tmpdir();
    sl_store_opts_t o;
    opts_for(&o, dir);
    o.segment_size = 1u << 20;
    o.retention_bytes = 3u << 20;
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *part;
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 1, &part));
    static uint8_t big[100000];
    memset(big, 'x', sizeof big);
    acked = 0;
    for (int i = 0; i < 80; i++) {
        sl_msg_t m = {big, sizeof big, NULL, 0};
        sl_ack_t ack = {NULL, 0, 0, 1, 0};
        uint64_t base;
        int dup;
        SL_CHECK_OK(
            sl_store_append(lv.store, part, &m, 1, -1, 0, &ack, &base, &dup));
        live_sync(&lv, (size_t)i + 1);
    }
    SL_CHECK(lv.store->nsegs >= 8);
    /* Retention waits for a checkpoint covering the segments. */
    lv.store->want_ckpt = 1;
    sl_ack_t ack = {NULL, 0, 0, 1, 0};
    sl_store_ack_after(lv.store, &ack);
    live_sync(&lv, 81);
    /* The checkpoint is written by its own thread, after the acks. */
    for (int i = 0; i < 1000 && lv.store->ckpt_done < lv.store->durable_end;
         i++)
        uv_run(&lv.loop, UV_RUN_ONCE);
    SL_CHECK_UINT(lv.store->ckpt_done, lv.store->durable_end);
    int deleted = sl_store_retain(lv.store, 0);
    SL_CHECK(deleted > 0);
    SL_CHECK(sl_store_disk_used(lv.store) <= (3u << 20) + (1u << 20));
    uint64_t a, b;
    SL_CHECK_OK(sl_store_bounds(lv.store, part, &a, &b));
    SL_CHECK(a > 0);
    SL_CHECK_UINT(b, 80);
    uint64_t next, count;
    check_ctx_t ctx = {0, 0, 0};
    SL_CHECK_INT(
        sl_store_read(lv.store, part, 0, 100, check_emit, &ctx, &next, &count),
        SL_EGONE);
    /* Retention by age: with "now" far ahead, every segment but the
     * active one is old enough. */
    lv.store->opts.retention_bytes = 0;
    lv.store->opts.retention_ms = 1000;
    size_t before = lv.store->nsegs;
    SL_CHECK_INT(sl_store_retain(lv.store, sl_wall_ms() + 3600 * 1000),
                 (int)before - 1);
    SL_CHECK_UINT(lv.store->nsegs, 1);
    SL_CHECK_OK(sl_store_bounds(lv.store, part, &a, &b));
    SL_CHECK_UINT(b, 80);
    SL_CHECK(a > 50 && a < 80);
    live_close(&lv);
    /* After a restart the earliest offset is the same. */
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_OK(sl_store_part(store, "t", 1, "p", 1, 0, &part));
    uint64_t a2, b2;
    SL_CHECK_OK(sl_store_bounds(store, part, &a2, &b2));
    SL_CHECK_UINT(a2, a);
    SL_CHECK_UINT(b2, 80);
    sl_store_free(store);
}

typedef struct {
    uint64_t count, last, bad;
} big_ctx_t;

static int big_emit(void *vctx, const sl_record_t *rec) {
    big_ctx_t *ctx = vctx;
    if (ctx->count > 0 && rec->offset <= ctx->last)
        ctx->bad++;
    if (rec->value_len != 100000 || rec->value[0] != 'b' ||
        rec->value[99999] != 'b')
        ctx->bad++;
    ctx->last = rec->offset;
    ctx->count++;
    return 0;
}

/* Counts the messages of t/p readable offline (checking they come in
 * order and intact), skipping quarantined offsets, counted in *damaged. */
static uint64_t count_big_d(sl_store_t *store, uint64_t *damaged) {
    sl_part_t *part;
    if (sl_store_part(store, "t", 1, "p", 1, 0, &part) != 0)
        return 0;
    uint64_t a, b;
    SL_CHECK_OK(sl_store_bounds(store, part, &a, &b));
    SL_CHECK_UINT(a, 0);
    big_ctx_t ctx = {0, 0, 0};
    uint64_t off = a;
    for (int guard = 0; guard < 100000 && off < b; guard++) {
        uint64_t next, count;
        int err = sl_store_read(store, part, off, 1u << 20, big_emit, &ctx,
                                &next, &count);
        if (err == SL_EDAMAGED) {
            SL_CHECK(next > off);
            if (damaged)
                *damaged += next - off;
            off = next;
            continue;
        }
        SL_CHECK_OK(err);
        if (count == 0)
            break;
        off = next;
    }
    SL_CHECK_UINT(ctx.bad, 0);
    return ctx.count;
}

static uint64_t count_big(sl_store_t *store) {
    return count_big_d(store, NULL);
}

/* Writes 50 messages of 100,000 bytes to t/p in 1 MiB segments; returns
 * the number of segments and their start positions. */
static size_t write_big(const char *dir, uint64_t *seg_start, size_t max) {
    sl_store_opts_t o;
    opts_for(&o, dir);
    o.segment_size = 1u << 20;
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *part;
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 1, &part));
    static uint8_t big[100000];
    memset(big, 'b', sizeof big);
    acked = 0;
    for (int i = 0; i < 50; i++) {
        sl_msg_t m = {big, sizeof big, NULL, 0};
        sl_ack_t ack = {NULL, 0, 0, 1, 0};
        uint64_t base;
        int dup;
        SL_CHECK_OK(
            sl_store_append(lv.store, part, &m, 1, -1, 0, &ack, &base, &dup));
        if (i % 5 == 4)
            live_sync(&lv, (size_t)i + 1);
    }
    live_sync(&lv, 50);
    size_t nsegs = lv.store->nsegs;
    SL_CHECK(nsegs >= 5 && nsegs <= max);
    for (size_t i = 0; i < nsegs; i++)
        seg_start[i] = lv.store->segs[i].start;
    live_close(&lv);
    return nsegs;
}

/* Puts one message to t/p through a live store; returns its offset. */
static uint64_t put_one(const char *dir, int quarantine) {
    sl_store_opts_t o;
    opts_for(&o, dir);
    o.quarantine_damaged = quarantine;
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *part;
    SL_CHECK_OK(sl_store_part(lv.store, "t", 1, "p", 1, 0, &part));
    static uint8_t big[100000];
    memset(big, 'b', sizeof big);
    acked = 0;
    sl_msg_t m = {big, sizeof big, NULL, 0};
    sl_ack_t ack = {NULL, 0, 0, 1, 0};
    uint64_t base;
    int dup;
    SL_CHECK_OK(
        sl_store_append(lv.store, part, &m, 1, -1, 0, &ack, &base, &dup));
    live_sync(&lv, 1);
    live_close(&lv);
    return base;
}

static uint64_t file_len(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

SL_TEST(broker_store_multi_segment_recovery) {
    const char *dir = sl_test_tmpdir();
    uint64_t seg_start[16];
    size_t nsegs = write_big(dir, seg_start, 16);
    sl_store_opts_t o;
    opts_for(&o, dir);
    char ckpt[1024], path[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);

    /* Without a checkpoint every segment is scanned: all 50 are back. */
    SL_CHECK_OK(unlink(ckpt));
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(count_big(store), 50);
    SL_CHECK_UINT(store->nsegs, nsegs);
    sl_store_free(store);

    /* A torn last segment loses only its torn entry. */
    snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
             (unsigned long long)seg_start[nsegs - 1]);
    struct stat st;
    SL_CHECK_OK(stat(path, &st));
    SL_CHECK_OK(truncate(path, st.st_size - 10));
    unlink(ckpt);
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(count_big(store), 49);
    sl_store_free(store);

    /* A missing middle segment is damage: start-up stops and deletes
     * nothing; quarantined, the segments after it are served. */
    uint64_t sizes[16];
    for (size_t i = 0; i < nsegs; i++) {
        snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
                 (unsigned long long)seg_start[i]);
        sizes[i] = file_len(path);
    }
    snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
             (unsigned long long)seg_start[2]);
    SL_CHECK_OK(unlink(path));
    unlink(ckpt);
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    for (size_t i = 0; i < nsegs; i++) {
        snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
                 (unsigned long long)seg_start[i]);
        SL_CHECK_UINT(file_len(path), i == 2 ? UINT64_MAX : sizes[i]);
    }
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(store->nsegs, nsegs - 1);
    uint64_t damaged = 0;
    uint64_t kept = count_big_d(store, &damaged);
    /* Segments hold about 10 messages of 100 kB each. */
    SL_CHECK(kept >= 49 - 11 && kept < 49);
    SL_CHECK_UINT(kept + damaged, 49);
    sl_store_free(store);
    SL_CHECK(put_one(dir, 1) >= 50);
}

SL_TEST(broker_store_flip_in_oldest_segment_and_lost_index) {
    /* The reported case: one flipped bit in the oldest segment plus a
     * missing index file made recovery cut the oldest segment, delete
     * every later one, and hand out acknowledged offsets again. */
    const char *dir = sl_test_tmpdir();
    uint64_t seg_start[16];
    size_t nsegs = write_big(dir, seg_start, 16);
    char path[1024], idx[1024];
    uint64_t sizes[16];
    for (size_t i = 0; i < nsegs; i++) {
        snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
                 (unsigned long long)seg_start[i]);
        sizes[i] = file_len(path);
    }
    snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
             (unsigned long long)seg_start[0]);
    /* Inside the value of the second message (entries are ~100 kB). */
    FILE *f = fopen(path, "r+b");
    SL_CHECK(f != NULL);
    fseek(f, 150000, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 150000, SEEK_SET);
    fputc(c ^ 0x04, f);
    fclose(f);
    snprintf(idx, sizeof idx, "%s/idx/1.idx", dir);
    SL_CHECK_OK(unlink(idx));
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    for (size_t i = 0; i < nsegs; i++) {
        snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
                 (unsigned long long)seg_start[i]);
        SL_CHECK_UINT(file_len(path), sizes[i]);
    }
    /* A second start-up without the option stops again: the stopped one
     * left nothing that hides the damage. */
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    /* Quarantined: 49 served, offset 1 answered as damaged. */
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    uint64_t damaged = 0;
    SL_CHECK_UINT(count_big_d(store, &damaged), 49);
    SL_CHECK_UINT(damaged, 1);
    sl_part_t *part;
    SL_CHECK_OK(sl_store_part(store, "t", 1, "p", 1, 0, &part));
    big_ctx_t ctx = {0, 0, 0};
    uint64_t next, count;
    SL_CHECK_INT(
        sl_store_read(store, part, 1, 1u << 20, big_emit, &ctx, &next, &count),
        SL_EDAMAGED);
    SL_CHECK_UINT(next, 2);
    SL_CHECK_UINT(ctx.count, 0);
    sl_store_free(store);
    /* New puts never reuse an acknowledged offset, and a restart (the
     * quarantine is in the index and checkpoint now) still serves all. */
    SL_CHECK_UINT(put_one(dir, 1), 50);
    o.quarantine_damaged = 0;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    damaged = 0;
    SL_CHECK_UINT(count_big_d(store, &damaged), 50);
    SL_CHECK_UINT(damaged, 1);
    sl_store_free(store);
}

SL_TEST(broker_store_lost_newest_segment_and_checkpoint) {
    /* Whatever files are lost, offsets are not reused: the newest segment
     * and the checkpoint deleted, meta.log's segment record and
     * high-water mark still say what was handed out. */
    const char *dir = sl_test_tmpdir();
    uint64_t seg_start[16];
    size_t nsegs = write_big(dir, seg_start, 16);
    char path[1024];
    snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
             (unsigned long long)seg_start[nsegs - 1]);
    SL_CHECK_OK(unlink(path));
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    SL_CHECK_OK(unlink(path));
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    uint64_t damaged = 0;
    uint64_t kept = count_big_d(store, &damaged);
    SL_CHECK(kept >= 50 - 11 && kept < 50);
    SL_CHECK(kept + damaged >= 50);
    sl_store_free(store);
    SL_CHECK(put_one(dir, 1) >= 50);
}

SL_TEST(broker_store_lost_index_and_checkpoint_rebuilt) {
    /* Missing or damaged index and checkpoint files are rebuilt from the
     * log by scanning; nothing valid is cut and offsets continue. */
    const char *dir = sl_test_tmpdir();
    uint64_t seg_start[16];
    size_t nsegs = write_big(dir, seg_start, 16);
    (void)nsegs;
    char path[1024];
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    /* A corrupted index (garbage in an entry): rebuilt. */
    snprintf(path, sizeof path, "%s/idx/1.idx", dir);
    FILE *f = fopen(path, "r+b");
    SL_CHECK(f != NULL);
    fseek(f, 40 * 49 + 3, SEEK_SET);
    fputc('X', f);
    fclose(f);
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(count_big(store), 50);
    sl_store_free(store);
    /* A corrupted checkpoint (one flipped bit): a full scan. */
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    f = fopen(path, "r+b");
    SL_CHECK(f != NULL);
    fseek(f, 10, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 10, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(count_big(store), 50);
    sl_store_free(store);
    SL_CHECK(put_one(dir, 0) >= 50);
}

SL_TEST(broker_store_skipped_offsets_survive_index_rebuild) {
    /* A recovery without checkpoint skips every partition to its
     * high-water mark (recorded in meta.log); a later rebuild of the
     * index from the log accepts the jump instead of calling it damage. */
    const char *dir = sl_test_tmpdir();
    write_msgs(dir, 12, 3);
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    SL_CHECK_OK(unlink(path));
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *users, *orders;
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "orders", 6, 0, &orders));
    uint64_t skip = users->next_offset;
    SL_CHECK(skip > 12);
    acked = 0;
    char t[32];
    snprintf(t, sizeof t, "m%llu", (unsigned long long)skip);
    sl_msg_t m = {(const uint8_t *)t, strlen(t), NULL, 0};
    sl_ack_t ack = {NULL, 0, 0, 1, 0};
    uint64_t base;
    int dup;
    SL_CHECK_OK(
        sl_store_append(lv.store, users, &m, 1, -1, 0, &ack, &base, &dup));
    SL_CHECK_UINT(base, skip);
    live_sync(&lv, 1);
    uint64_t orders_next = orders->next_offset;
    live_close(&lv);
    /* Lose both indexes: users has data after its hole, orders ends in
     * one. */
    snprintf(path, sizeof path, "%s/idx/1.idx", dir);
    SL_CHECK_OK(unlink(path));
    snprintf(path, sizeof path, "%s/idx/2.idx", dir);
    SL_CHECK_OK(unlink(path));
    sl_store_t *store;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    allow_holes = 1;
    SL_CHECK_UINT(read_users(store), 13);
    allow_holes = 0;
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "orders", 6, 0, &orders));
    SL_CHECK_UINT(users->next_offset, skip + 1);
    SL_CHECK_UINT(orders->next_offset, orders_next);
    SL_CHECK_UINT(store->stats.damaged_ranges, 0);
    sl_store_free(store);
}

/* Writes shop/users (30 messages) and shop/orders, and commits group g1
 * at users offset 5; returns with everything closed cleanly. */
static void write_with_group(const char *dir) {
    write_msgs(dir, 30, 3);
    sl_store_opts_t o;
    opts_for(&o, dir);
    live_t lv;
    live_open(&lv, &o);
    sl_part_t *users;
    SL_CHECK_OK(sl_store_part(lv.store, "shop", 4, "users", 5, 0, &users));
    acked = 0;
    sl_ack_t ack = {NULL, 0, 0, 1, 0};
    SL_CHECK_OK(sl_store_commit_offset(lv.store, "g1", 2, users, 5, &ack));
    live_sync(&lv, 1);
    live_close(&lv);
}

SL_TEST(broker_store_meta_damaged_or_lost) {
    const char *dir = sl_test_tmpdir();
    char meta[1024], ckpt[1024], cmd[3000], copy[1100];
    snprintf(meta, sizeof meta, "%s/meta.log", dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    write_with_group(dir);
    snprintf(copy, sizeof copy, "%s.pristine", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", copy, dir,
             copy);
    SL_CHECK_INT(system(cmd), 0);
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    sl_part_t *users, *orders;
    uint64_t off;

    /* A flipped bit in the orders partition record (the second record,
     * after users' 26 bytes): valid records follow, so it is damage, not
     * a torn tail. Start-up stops and cuts nothing. */
    size_t mlen;
    uint8_t *m = sl_harness_slurp(meta, &mlen);
    SL_CHECK(mlen > 100 && m[8] == 1 && m[26 + 8] == 1);
    m[26 + 12] ^= 0x08;
    spit(meta, m, mlen);
    free(m);
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    free(sl_harness_slurp(meta, &mlen));
    SL_CHECK(mlen > 100);
    /* Quarantined: the orders name comes back from the checkpoint, the
     * group offset after the damage survives, meta.log is rewritten (the
     * damaged one kept) and the next start-up is clean. */
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 30);
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "orders", 6, 0, &orders));
    SL_CHECK_UINT(orders->next_offset, 10);
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK_OK(sl_store_committed(store, "g1", 2, users, &off));
    SL_CHECK_UINT(off, 5);
    sl_store_free(store);
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '^meta.log.damaged-'", dir);
    SL_CHECK_INT(system(cmd), 0);
    o.quarantine_damaged = 0;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 30);
    sl_store_free(store);

    /* meta.log deleted: the names come back from the checkpoint; it is
     * still damage (group offsets are gone). Offsets continue. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir, copy, dir);
    SL_CHECK_INT(system(cmd), 0);
    SL_CHECK_OK(unlink(meta));
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(read_users(store), 30);
    SL_CHECK_OK(sl_store_part(store, "shop", 4, "users", 5, 0, &users));
    SL_CHECK(users->next_offset >= 30);
    SL_CHECK_INT(sl_store_committed(store, "g1", 2, users, &off), SL_ENOTFOUND);
    sl_store_free(store);

    /* meta.log and the checkpoint deleted: no name is left; the data is
     * served under placeholder names, nothing is dropped. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir, copy, dir);
    SL_CHECK_INT(system(cmd), 0);
    SL_CHECK_OK(unlink(meta));
    SL_CHECK_OK(unlink(ckpt));
    o.quarantine_damaged = 0;
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(store->nparts, 2);
    SL_CHECK_INT(sl_store_part(store, "shop", 4, "users", 5, 0, &users),
                 SL_ENOTFOUND);
    SL_CHECK_OK(sl_store_part(store, "_lost", 5, "partition-1", 11, 0, &users));
    SL_CHECK_UINT(users->next_offset, 30);
    SL_CHECK_OK(
        sl_store_part(store, "_lost", 5, "partition-2", 11, 0, &orders));
    SL_CHECK_UINT(orders->next_offset, 10);
    sl_store_free(store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", copy);
    SL_CHECK_INT(system(cmd), 0);
}

SL_TEST(broker_store_missing_segment_below_checkpoint) {
    /* Checkpoint and indexes intact, so start-up does not scan below it;
     * a missing segment there is still found (segments must be
     * contiguous), and quarantined reads of its offsets get SL_EDAMAGED. */
    const char *dir = sl_test_tmpdir();
    uint64_t seg_start[16];
    size_t nsegs = write_big(dir, seg_start, 16);
    SL_CHECK(nsegs >= 4);
    char path[1024];
    snprintf(path, sizeof path, "%s/log/%020llu.log", dir,
             (unsigned long long)seg_start[1]);
    SL_CHECK_OK(unlink(path));
    sl_store_opts_t o;
    opts_for(&o, dir);
    sl_store_t *store;
    SL_CHECK_INT(sl_store_open_offline(&store, &o), SL_EDAMAGED);
    o.quarantine_damaged = 1;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    uint64_t damaged = 0;
    uint64_t kept = count_big_d(store, &damaged);
    SL_CHECK(kept >= 50 - 11 && kept < 50);
    SL_CHECK_UINT(kept + damaged, 50);
    sl_store_free(store);
    SL_CHECK_UINT(put_one(dir, 1), 50);
}
