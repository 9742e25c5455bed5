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
 * Besides ASan/UBSan's checks it asserts what issue 12 promises for a
 * missing or damaged checkpoint (one that fails its magic, version, length
 * or CRC) and for missing or short index files: the open succeeds, the
 * commit log is left byte for byte as it was (recovery never cuts
 * acknowledged records for them), every partition's next offset and index
 * slot count are the log's, and the index files are the ones the log
 * implies.
 *
 * A checkpoint that passes its CRC is trusted by design (that is what
 * makes recovery time bounded), so for it the target asserts only that
 * the open succeeds and that the log is at most cut, never changed or
 * extended. Such a checkpoint that lies still makes today's recovery cut
 * the log: one whose position falls inside an entry (seed
 * pos-inside-entry) cuts every record from there on. Set TRUST_CHECKPOINT
 * to 0 once recovery refuses to cut below a checkpoint (issue 12, item 10)
 * to assert the full promise for those too.
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

#define TRUST_CHECKPOINT 1
#define CKPT_MAGIC 0x534C434Bu

/* Whether recover.c's load_ckpt() accepts the file (its rules, see the
 * format comment at the top of recover.c). */
static int ckpt_valid(const uint8_t *b, size_t len) {
    if (len < 28 || sl_get_u32be(b) != CKPT_MAGIC || sl_get_u32be(b + 4) != 1 ||
        sl_crc32c(0, b, len - 4) != sl_get_u32be(b + len - 4))
        return 0;
    uint64_t n = sl_get_u32be(b + 16), m = sl_get_u32be(b + 20);
    return 24 + n * 28 + m * 36 + 4 == len;
}

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

    int trusted = TRUST_CHECKPOINT && ckpt_valid(ckpt, len);
    sl_store_t *store = NULL;
    if (fz_open(&store) != 0)
        abort(); /* A checkpoint must never stop the broker. */
    if (store->nparts != FZ_NPARTS || store->log_end > log_end)
        abort();
    if (!trusted) {
        if (store->log_end != log_end)
            abort(); /* The log was cut, or its end misread. */
        for (uint32_t id = 1; id <= FZ_NPARTS; id++)
            if (store->parts[id]->next_offset != next_off[id] ||
                store->parts[id]->slots != slots[id])
                abort(); /* Offsets lost or to be reused. */
    }
    sl_store_free(store);

    sl_buf_t got = SL_BUF_INIT;
    if (fz_read(FZ_SEGMENT, &got) != 0 || got.len > seg.len ||
        (got.len > 0 && memcmp(got.data, seg.data, got.len) != 0))
        abort(); /* Records changed, or the log extended. */
    if (trusted) {
        sl_buf_free(&got);
        free(ckpt);
        return 0;
    }
    if (got.len != seg.len)
        abort(); /* Acknowledged records cut. */
    for (uint32_t id = 1; id <= FZ_NPARTS; id++) {
        char name[64];
        idx_name(name, sizeof name, id);
        if (fz_read(name, &got) != 0 || got.len != idx[id].len ||
            memcmp(got.data, idx[id].data, got.len) != 0)
            abort(); /* An index that disagrees with the log. */
    }
    sl_buf_free(&got);
    free(ckpt);
    return 0;
}
