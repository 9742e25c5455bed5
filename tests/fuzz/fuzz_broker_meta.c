/*
 * libFuzzer target for broker/meta: loading DIR/meta.log at start-up.
 *
 * Input: byte 0 holds flags (bit 0: recompute the CRC of every record
 * whose length field fits, so mutations reach the record bodies), the
 * rest is the content of meta.log. It is written into a private data
 * directory (with an empty commit log) and the store is opened offline,
 * which runs sl_meta_load() and recovery as the broker does at start-up.
 *
 * Besides ASan/UBSan's checks it asserts: the open succeeds (a damaged
 * metadata log is cut at its first bad record, never fatal); the file left
 * behind is a prefix of what was written (only a tail is ever cut);
 * partitions are dense from id 1 with names; and a second open of what
 * the first one left changes nothing (same file, partitions and group
 * offsets): loading is idempotent.
 */
#include "fuzz_store_dir.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t ngroups(const sl_store_t *store) {
    size_t n = 0;
    for (size_t b = 0; b < store->groups.nbuckets; b++)
        for (sl_strmap_node_t *node = store->groups.buckets[b]; node;
             node = node->next)
            n++;
    return n;
}

static void check_parts(const sl_store_t *store) {
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        if (part == NULL || part->id != id || part->topic == NULL ||
            part->name == NULL || part->next_offset != 0)
            abort();
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
    fz_dir();
    fz_clear();
    fz_write("meta.log", meta, len);

    sl_store_t *store = NULL;
    int rc = fz_open(&store);
    if (rc != 0)
        abort(); /* A bad metadata log must not stop the broker. */
    check_parts(store);
    uint32_t nparts = store->nparts;
    size_t ngr = ngroups(store);
    uint64_t kept = store->meta_size;
    sl_store_free(store);

    sl_buf_t after = SL_BUF_INIT;
    if (fz_read("meta.log", &after) != 0 || after.len != kept ||
        after.len > len || (after.len > 0 && memcmp(after.data, meta,
                                                     after.len) != 0))
        abort();

    store = NULL;
    if (fz_open(&store) != 0)
        abort();
    check_parts(store);
    if (store->nparts != nparts || ngroups(store) != ngr ||
        store->meta_size != kept)
        abort();
    sl_store_free(store);
    sl_buf_t again = SL_BUF_INIT;
    if (fz_read("meta.log", &again) != 0 || again.len != after.len ||
        (after.len > 0 && memcmp(again.data, after.data, after.len) != 0))
        abort();
    sl_buf_free(&after);
    sl_buf_free(&again);
    free(meta);
    return 0;
}
