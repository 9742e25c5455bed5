/*
 * libFuzzer target for broker/index: index entry decoding and the binary
 * searches over an index file.
 *
 * Input: byte 0 holds flags (bit 0: recompute each entry's CRC, so
 * mutations reach the fields behind it), bytes 1..8 a search key (one
 * u64, also read as an i64 timestamp) and bytes 9..10 a sub-range; the
 * rest is the content of an index file, written to an in-memory file
 * (memfd) so the real pread-based readers run on it.
 *
 * Besides ASan/UBSan's checks it asserts: an entry decodes only when its
 * CRC matches, and then encodes back to the same 40 bytes; reading past
 * the end is SL_ETRUNC; every search returns 0 or the error of an entry it
 * read, with a slot inside its range; and on a file whose entries all
 * decode and are sorted, each search gives the answer of a linear scan.
 */
#include "broker/index.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 11 || size > 11 + 4096 * SL_INDEX_ENTRY)
        return 0;
    if (memfd < 0) {
        memfd = memfd_create("fuzz-index", MFD_CLOEXEC);
        if (memfd < 0)
            abort();
    }
    uint8_t flags = data[0];
    uint64_t key = sl_get_u64be(data + 1);
    uint64_t n = (size - 11) / SL_INDEX_ENTRY;
    uint64_t lo = data[9] % (n + 1), hi = lo + data[10] % (n + 1 - lo + 1);
    if (hi > n)
        hi = n;
    size_t flen = size - 11;
    uint8_t *file = malloc(flen ? flen : 1);
    sl_index_entry_t *ents = calloc(n ? n : 1, sizeof *ents);
    if (file == NULL || ents == NULL)
        abort();
    memcpy(file, data + 11, flen);
    int all_ok = 1;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t *raw = file + i * SL_INDEX_ENTRY;
        if (flags & 1)
            sl_put_u32be(raw + 36, sl_crc32c(0, raw, 36));
        int rc = sl_index_decode(raw, &ents[i]);
        int crc_ok = sl_crc32c(0, raw, 36) == sl_get_u32be(raw + 36);
        if (rc != (crc_ok ? 0 : SL_ECHECKSUM))
            abort();
        if (rc != 0) {
            all_ok = 0;
            continue;
        }
        uint8_t back[SL_INDEX_ENTRY];
        sl_index_encode(back, &ents[i]);
        if (memcmp(back, raw, SL_INDEX_ENTRY) != 0)
            abort();
    }
    if (ftruncate(memfd, 0) != 0 ||
        (flen > 0 && pwrite(memfd, file, flen, 0) != (ssize_t)flen))
        abort();
    sl_index_entry_t ie;
    if (sl_index_read(memfd, n, &ie) != SL_ETRUNC)
        abort();
    if (n > 0) {
        int rc = sl_index_read(memfd, key % n, &ie);
        if ((all_ok && rc != 0) || (rc != 0 && rc != SL_ECHECKSUM))
            abort();
        const sl_index_entry_t *w = &ents[key % n];
        if (rc == 0 && (ie.base_offset != w->base_offset || ie.pos != w->pos ||
                        ie.len != w->len || ie.count != w->count ||
                        ie.max_ts != w->max_ts || ie.part_id != w->part_id))
            abort();
    }

    uint64_t s_off = UINT64_MAX, s_pos = UINT64_MAX, s_ts = UINT64_MAX;
    int r1 =
        sl_index_find_offset(sl_index_read_fd, &memfd, lo, hi, key, &s_off);
    int r2 = sl_index_find_pos(sl_index_read_fd, &memfd, lo, hi, key, &s_pos);
    int r3 =
        sl_index_find_ts(sl_index_read_fd, &memfd, lo, hi, (int64_t)key, &s_ts);
    int rs[3] = {r1, r2, r3};
    for (int i = 0; i < 3; i++)
        if (rs[i] != 0 && (all_ok || rs[i] != SL_ECHECKSUM))
            abort();
    if (r1 == 0 && (s_off < lo || (s_off >= hi && s_off != lo)))
        abort();
    if (r2 == 0 && (s_pos < lo || s_pos > hi))
        abort();
    if (r3 == 0 && (s_ts < lo || s_ts > hi))
        abort();

    /* Sorted and valid: the searches must agree with a linear scan. */
    int sorted_off = 1, sorted_pos = 1, sorted_ts = 1;
    for (uint64_t i = lo; all_ok && i + 1 < hi; i++) {
        sorted_off &= ents[i].base_offset <= ents[i + 1].base_offset;
        sorted_pos &= ents[i].pos <= ents[i + 1].pos;
        sorted_ts &= ents[i].max_ts <= ents[i + 1].max_ts;
    }
    if (all_ok) {
        uint64_t want = lo;
        for (uint64_t i = lo; i < hi; i++)
            if (ents[i].base_offset <= key)
                want = i;
        if (sorted_off && s_off != want)
            abort();
        want = hi;
        for (uint64_t i = hi; i > lo; i--)
            if (ents[i - 1].pos >= key)
                want = i - 1;
        if (sorted_pos && s_pos != want)
            abort();
        want = hi;
        for (uint64_t i = hi; i > lo; i--)
            if (ents[i - 1].max_ts >= (int64_t)key)
                want = i - 1;
        if (sorted_ts && s_ts != want)
            abort();
    }
    free(file);
    free(ents);
    return 0;
}
