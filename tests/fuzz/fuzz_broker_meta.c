/*
 * libFuzzer target for broker/meta: loading DIR/meta.log at start-up.
 *
 * Input: byte 0 holds flags (bit 0: recompute the CRC of every record
 * whose length field fits, so mutations reach the record bodies), the
 * rest is the content of meta.log. It is written into a private data
 * directory (with an empty commit log) and the store is opened offline,
 * which runs sl__store_meta_load() and recovery as the broker does at
 * start-up, first without and then with the operator's quarantine option.
 *
 * The oracle is the recovery contract of docs/broker.md ("Checkpoints and
 * crash recovery"), checked against an independent reading of the file
 * (a model of the format at the top of broker/meta.c):
 *   - without quarantine the open either succeeds or answers SL_EDAMAGED;
 *     on SL_EDAMAGED meta.log is byte for byte as it was and no other
 *     file (checkpoint, copy) was written; on success every byte up to
 *     the end of the last CRC-valid record is kept (only a torn tail, an
 *     invalid run with no valid record after it, may be cut; recovery may
 *     append records after it);
 *   - with quarantine the open always succeeds;
 *   - after either successful open every record that applies (CRC valid,
 *     parses, names within 1024 bytes, partition ids in sequence) is
 *     served: its partition with its names, the group offset last
 *     written (2^64-1, the mark of no offset, is never valid), and a next
 * offset at or above every high-water mark (with no checkpoint nothing vouches
 * for the tail, so none is reused);
 *   - partitions are dense from id 1 with names.
 */
#include "fuzz_store_dir.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether a CRC-valid record (length 1..65536) starts at pos. */
static int rec_at(const uint8_t *b, size_t len, size_t pos) {
    if (pos + 8 > len)
        return 0;
    uint32_t n = sl_get_u32be(b + pos);
    return n >= 1 && n <= 65536 && n <= len - pos - 8 &&
           sl_crc32c(0, b + pos + 8, n) == sl_get_u32be(b + pos + 4);
}

/* The end of the last CRC-valid record: where records are found by
 * their lengths, and after an invalid run at the next valid record. */
static size_t valid_end(const uint8_t *b, size_t len) {
    size_t pos = 0, end = 0;
    while (pos + 8 <= len) {
        if (!rec_at(b, len, pos)) {
            pos++;
            continue;
        }
        pos += 8 + sl_get_u32be(b + pos);
        end = pos;
    }
    return end;
}

/* Whether some record makes recovery create more than 4096 placeholder
 * partitions (a valid path, up to a million, but at a few seconds per
 * input it would starve the fuzzer; 4096 reach every branch). */
static int too_many_parts(const uint8_t *b, size_t len) {
    uint32_t nparts = 0;
    size_t pos = 0;
    while (pos + 8 <= len) {
        if (!rec_at(b, len, pos)) {
            pos++;
            continue;
        }
        uint32_t n = sl_get_u32be(b + pos);
        const uint8_t *p = b + pos + 8;
        pos += 8 + n;
        if (p[0] == 4 || n < 5)
            continue;
        uint32_t id = sl_get_u32be(p + 1);
        uint32_t need = p[0] == 1 ? (id > 0 ? id - 1 : 0) : id;
        if (need > 4096 && need - nparts <= 1000000u)
            return 1;
        if (need > nparts && need - nparts <= 1000000u)
            nparts = need;
    }
    return 0;
}

static int same_str(const char *have, const uint8_t *want, size_t n) {
    size_t l = strnlen((const char *)want, n); /* strndup stops at NUL. */
    return strlen(have) == l && memcmp(have, want, l) == 0;
}

/* Replays every record that applies and checks that the open store
 * serves it. */
static void check_served(sl_store_t *store, const uint8_t *b, size_t len) {
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        if (part == NULL || part->id != id || part->topic == NULL ||
            part->name == NULL)
            abort();
    }
    uint32_t nparts = 0; /* Partitions the model knows so far. */
    size_t pos = 0;
    while (pos + 8 <= len) {
        if (!rec_at(b, len, pos)) {
            pos++;
            continue;
        }
        uint32_t n = sl_get_u32be(b + pos);
        const uint8_t *p = b + pos + 8;
        pos += 8 + n;
        if (p[0] == 4 || n < 5)
            continue;
        uint32_t id = sl_get_u32be(p + 1);
        /* A record naming a partition the model lacks first fills the
         * ids before it with placeholders (meta.c, needs_parts()). */
        uint32_t need = p[0] == 1 ? (id > 0 ? id - 1 : 0) : id;
        if (need > nparts) {
            if (need - nparts > 1000000u)
                continue; /* Refused as a gap too wide to fill. */
            nparts = need;
        }
        if (p[0] == 1 && n >= 7) {
            size_t tl = sl_get_u16be(p + 5);
            if (7 + tl + 2 > n)
                continue;
            size_t nl = sl_get_u16be(p + 7 + tl);
            if (9 + tl + nl != n || id <= nparts || tl > 1024 || nl > 1024)
                continue;
            nparts = id;
            if (id > store->nparts ||
                !same_str(store->parts[id]->topic, p + 7, tl) ||
                !same_str(store->parts[id]->name, p + 9 + tl, nl))
                abort(); /* A valid partition record not served. */
        } else if (p[0] == 3 && n == 13) {
            uint64_t hwm = sl_get_u64be(p + 5);
            if (id == 0 || id > nparts || hwm > (UINT64_C(1) << 48))
                continue; /* Beyond any offset: damage (meta.c). */
            if (id > store->nparts || store->parts[id]->reserved < hwm ||
                store->parts[id]->next_offset < hwm)
                abort(); /* An offset that may have been acked reused. */
        } else if (p[0] == 2 && n >= 15) {
            size_t gl = sl_get_u16be(p + 13);
            if (15 + gl != n || id == 0 || id > nparts || gl > 1024 ||
                sl_get_u64be(p + 5) == UINT64_MAX)
                continue; /* 2^64-1 marks "no offset": never written. */
            /* The last valid record for the pair is the one served. */
            uint64_t want = sl_get_u64be(p + 5), got;
            size_t q = pos;
            while (q + 8 <= len) {
                if (!rec_at(b, len, q)) {
                    q++;
                    continue;
                }
                uint32_t m = sl_get_u32be(b + q);
                const uint8_t *r = b + q + 8;
                q += 8 + m;
                if (m == n && r[0] == 2 && sl_get_u32be(r + 1) == id &&
                    memcmp(r + 13, p + 13, 2 + gl) == 0 &&
                    sl_get_u64be(r + 5) != UINT64_MAX)
                    want = sl_get_u64be(r + 5);
            }
            if (id > store->nparts ||
                sl_store_committed(store, (const char *)p + 15, gl,
                                   store->parts[id], &got) != 0 ||
                got != want)
                abort(); /* A valid group offset lost or changed. */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *meta = malloc(len ? len : 1);
    if (meta == NULL)
        return 0;
    memcpy(meta, data + 1, len);
    if (flags & 1) {
        size_t pos = 0;
        while (pos + 8 <= len) {
            uint32_t n = sl_get_u32be(meta + pos);
            if (n == 0 || n > len - pos - 8)
                break;
            sl_put_u32be(meta + pos + 4, sl_crc32c(0, meta + pos + 8, n));
            pos += 8 + n;
        }
    }
    if (too_many_parts(meta, len)) {
        free(meta);
        return 0;
    }
    size_t vend = valid_end(meta, len);
    fz_dir();
    fz_clear();
    fz_write("meta.log", meta, len);

    sl_store_t *store = NULL;
    int rc = fz_open(&store);
    if (rc == SL_EDAMAGED) {
        /* Stopped: nothing changed, nothing written. */
        if (!fz_same("meta.log", meta, len) || !fz_absent("checkpoint") ||
            !fz_absent("meta.tmp"))
            abort();
    } else if (rc == 0) {
        sl_buf_t after = SL_BUF_INIT;
        if (fz_read("meta.log", &after) != 0 || after.len < vend ||
            after.len != store->meta_size ||
            (vend > 0 && memcmp(after.data, meta, vend) != 0))
            abort(); /* A valid record cut or changed. */
        sl_buf_free(&after);
        check_served(store, meta, len);
        sl_store_free(store);
    } else {
        abort(); /* Neither served nor a clear stop for damage. */
    }

    fz_clear();
    fz_write("meta.log", meta, len);
    store = NULL;
    if (fz_open_q(&store, 1) != 0)
        abort(); /* With quarantine a damaged meta.log must not stop it. */
    check_served(store, meta, len);
    sl_store_free(store);
    free(meta);
    return 0;
}
