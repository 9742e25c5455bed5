/*
 * libFuzzer target for broker/recover: loading DIR/checkpoint at start-up,
 * and the recovery decisions that follow from it.
 *
 * A small valid store (fuzz_store_dir.h: three partitions, nine entries
 * written by the real encoders, the index files recovery built for them)
 * is restored into a private data directory for every input, the input
 * becomes DIR/checkpoint, and the store is opened offline as the broker
 * does at start-up.
 *
 * Input: byte 0 holds flags, byte 1 a partition selector, the rest is the
 * checkpoint file.
 *   bit 0: recompute the checkpoint's trailing CRC-32C (so mutations reach
 *          the fields behind it);
 *   bit 1: also delete the selected partition's index file;
 *   bit 2: also cut the selected partition's index file by one byte.
 *
 * The oracle is the recovery contract of docs/broker.md ("Checkpoints and
 * crash recovery"), for every checkpoint, CRC-valid or not. Every entry
 * of the log is valid, so none may ever be cut:
 *   - without quarantine the open either succeeds or answers SL_EDAMAGED
 *     (a CRC-valid checkpoint that contradicts the log is damage); on
 *     SL_EDAMAGED the segment, meta.log and checkpoint are byte for byte
 *     as they were (only index files, a cache, may change);
 *   - with quarantine the open always succeeds;
 *   - after either successful open the segment is unchanged and the log
 *     end is its size, meta.log still begins with every record it had,
 *     partitions 1..3 keep their names, and no partition's next offset is
 *     below the log's (it may skip ahead, never back); one that is exactly
 *     the log's has the index file the log implies.
 * A CRC-valid checkpoint whose position falls inside an entry (seed
 * pos-inside-entry) used to make recovery cut every record from there on;
 * the TRUST_CHECKPOINT switch that exempted CRC-valid checkpoints from
 * the oracle is gone now that recovery checks the position (recover.c).
 */
#include "fuzz_store_dir.h"

#include "broker/index.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_buf_t meta, seg, idx[FZ_NPARTS + 1];
static uint64_t next_off[FZ_NPARTS + 1], slots[FZ_NPARTS + 1], log_end;
static int ready;

static void idx_name(char *out, size_t outlen, uint32_t id) {
    snprintf(out, outlen, "idx/%u.idx", id);
}

static void setup(void) {
    fz_dir();
    fz_make_store(&meta, &seg);
    fz_clear();
    fz_write("meta.log", meta.data, meta.len);
    fz_write(FZ_SEGMENT, seg.data, seg.len);
    sl_store_t *store = NULL;
    if (fz_open(&store) != 0 || store->nparts != FZ_NPARTS ||
        store->log_end != seg.len)
        abort();
    log_end = store->log_end;
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        next_off[id] = store->parts[id]->next_offset;
        slots[id] = store->parts[id]->slots;
    }
    sl_store_free(store);
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        char name[64];
        idx_name(name, sizeof name, id);
        if (fz_read(name, &idx[id]) != 0 ||
            idx[id].len != slots[id] * SL_INDEX_ENTRY)
            abort();
    }
    ready = 1;
}

/* Restores the store with ckpt as its checkpoint and the index files
 * the flags ask for. */
static void restore(const uint8_t *ckpt, size_t len, uint8_t flags,
                    uint32_t sel) {
    fz_clear();
    fz_write("meta.log", meta.data, meta.len);
    fz_write(FZ_SEGMENT, seg.data, seg.len);
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        char name[64];
        idx_name(name, sizeof name, id);
        if (id == sel && (flags & 2))
            continue;
        size_t ilen = idx[id].len;
        if (id == sel && (flags & 4) && ilen > 0)
            ilen--;
        fz_write(name, idx[id].data, ilen);
    }
    fz_write("checkpoint", ckpt, len);
}

/* After an open that succeeded: nothing valid cut, no offset reused. */
static void check_open(sl_store_t *store) {
    static const char *const names[FZ_NPARTS][2] = {
        {"orders", "shop.orders"}, {"orders", "shop.users"}, {"_sluice", "c1"}};
    if (store->nparts < FZ_NPARTS || store->log_end != log_end)
        abort(); /* A partition lost, or the log end misread. */
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        const sl_part_t *part = store->parts[id];
        if (strcmp(part->topic, names[id - 1][0]) != 0 ||
            strcmp(part->name, names[id - 1][1]) != 0)
            abort(); /* A partition's name lost. */
        if (part->next_offset < next_off[id])
            abort(); /* Offsets to be reused. */
        if (part->next_offset == next_off[id] && part->slots != slots[id])
            abort(); /* An index that disagrees with the log. */
    }
    sl_buf_t got = SL_BUF_INIT;
    if (!fz_same(FZ_SEGMENT, seg.data, seg.len))
        abort(); /* Valid records cut or changed. */
    if (fz_read("meta.log", &got) != 0 || got.len < meta.len ||
        memcmp(got.data, meta.data, meta.len) != 0)
        abort(); /* Valid metadata records cut or changed. */
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        char name[64];
        idx_name(name, sizeof name, id);
        if (store->parts[id]->next_offset == next_off[id] &&
            (fz_read(name, &got) != 0 || got.len != idx[id].len ||
             memcmp(got.data, idx[id].data, got.len) != 0))
            abort(); /* An index that disagrees with the log. */
    }
    sl_buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready)
        setup();
    if (size < 2 || size > (1u << 20))
        return 0;
    uint8_t flags = data[0];
    uint32_t sel = (uint32_t)(data[1] % FZ_NPARTS) + 1;
    size_t len = size - 2;
    uint8_t *ckpt = malloc(len ? len : 1);
    if (ckpt == NULL)
        return 0;
    memcpy(ckpt, data + 2, len);
    if ((flags & 1) && len >= 4)
        sl_put_u32be(ckpt + len - 4, sl_crc32c(0, ckpt, len - 4));

    restore(ckpt, len, flags, sel);
    sl_store_t *store = NULL;
    int rc = fz_open(&store);
    if (rc == SL_EDAMAGED) {
        if (!fz_same(FZ_SEGMENT, seg.data, seg.len) ||
            !fz_same("meta.log", meta.data, meta.len) ||
            !fz_same("checkpoint", ckpt, len))
            abort(); /* A stop for damage that changed the data. */
    } else if (rc == 0) {
        check_open(store);
        sl_store_free(store);
    } else {
        abort(); /* Neither served nor a clear stop for damage. */
    }

    restore(ckpt, len, flags, sel);
    store = NULL;
    if (fz_open_q(&store, 1) != 0)
        abort(); /* With quarantine a checkpoint must not stop it. */
    check_open(store);
    sl_store_free(store);
    free(ckpt);
    return 0;
}
