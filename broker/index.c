/*
 * Per-partition index files.
 *
 * File idx/<id>.idx (id in decimal) is an array of 40-byte entries; entry
 * k (the partition's k-th stored batch) is at byte 40*k. Big-endian:
 *   0  u64  base offset of the batch
 *   8  u64  commit-log position of the entry (its sluice header)
 *   16 u32  entry length, sluice header included
 *   20 u32  record count
 *   24 i64  max timestamp of the batch (ms)
 *   32 u32  partition id (guards against a misplaced file)
 *   36 u32  CRC-32C of bytes 0..35
 * An entry is valid when its CRC matches and its partition id is the
 * file's. Two lengths no batch can have mark offsets base .. base +
 * count - 1 without a batch (see recover.c): 0, quarantined (damaged or
 * possibly lost; reads of them get SL_EDAMAGED), and 1, skipped by
 * recovery so that no offset is reused (nothing was stored there; reads
 * pass over them). Index files are a cache of the commit log: they are written
 * without fsync and recovery rebuilds whatever the last checkpoint does
 * not cover (see recover.c).
 */
#include "broker/index.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sl_index_encode(uint8_t out[SL_INDEX_ENTRY], const sl_index_entry_t *ie) {
    sl_put_u64be(out, ie->base_offset);
    sl_put_u64be(out + 8, ie->pos);
    sl_put_u32be(out + 16, ie->len);
    sl_put_u32be(out + 20, ie->count);
    sl_put_u64be(out + 24, (uint64_t)ie->max_ts);
    sl_put_u32be(out + 32, ie->part_id);
    sl_put_u32be(out + 36, sl_crc32c(0, out, 36));
}

int sl_index_decode(const uint8_t in[SL_INDEX_ENTRY], sl_index_entry_t *ie) {
    if (sl_crc32c(0, in, 36) != sl_get_u32be(in + 36))
        return SL_ECHECKSUM;
    ie->base_offset = sl_get_u64be(in);
    ie->pos = sl_get_u64be(in + 8);
    ie->len = sl_get_u32be(in + 16);
    ie->count = sl_get_u32be(in + 20);
    ie->max_ts = (int64_t)sl_get_u64be(in + 24);
    ie->part_id = sl_get_u32be(in + 32);
    return 0;
}

void sl_index_path(char *out, size_t outlen, const char *dir, uint32_t id) {
    snprintf(out, outlen, "%s/%u.idx", dir, id);
}

int sl_fdcache_init(sl_fdcache_t *fc, const char *dir, int writable,
                    size_t size) {
    memset(fc, 0, sizeof *fc);
    if (size == 0)
        size = 1;
    fc->dir = strdup(dir);
    fc->ids = calloc(size, sizeof *fc->ids);
    fc->fds = malloc(size * sizeof *fc->fds);
    if (fc->dir == NULL || fc->ids == NULL || fc->fds == NULL) {
        sl_fdcache_free(fc);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < size; i++)
        fc->fds[i] = -1;
    fc->size = size;
    fc->writable = writable;
    return 0;
}

void sl_fdcache_free(sl_fdcache_t *fc) {
    if (fc->fds != NULL)
        for (size_t i = 0; i < fc->size; i++)
            if (fc->fds[i] >= 0)
                close(fc->fds[i]);
    free(fc->dir);
    free(fc->ids);
    free(fc->fds);
    memset(fc, 0, sizeof *fc);
}

int sl_fdcache_get(sl_fdcache_t *fc, uint32_t id) {
    size_t h = id % fc->size;
    if (fc->fds[h] >= 0 && fc->ids[h] == id)
        return fc->fds[h];
    if (fc->fds[h] >= 0) {
        close(fc->fds[h]);
        fc->fds[h] = -1;
    }
    char path[4096];
    sl_index_path(path, sizeof path, fc->dir, id);
    int fd = fc->writable ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)
                          : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SL_ENOTFOUND : sl_err_from_errno(errno);
    fc->opens++;
    fc->fds[h] = fd;
    fc->ids[h] = id;
    return fd;
}

void sl_fdcache_drop(sl_fdcache_t *fc, uint32_t id) {
    size_t h = id % fc->size;
    if (fc->fds[h] >= 0 && fc->ids[h] == id) {
        close(fc->fds[h]);
        fc->fds[h] = -1;
    }
}

int sl_index_read(int fd, uint64_t slot, sl_index_entry_t *ie) {
    uint8_t raw[SL_INDEX_ENTRY];
    ssize_t n = pread(fd, raw, sizeof raw, (off_t)(slot * SL_INDEX_ENTRY));
    if (n < 0)
        return sl_err_from_errno(errno);
    if (n != SL_INDEX_ENTRY)
        return SL_ETRUNC;
    return sl_index_decode(raw, ie);
}

int sl_index_read_fd(void *ctx, uint64_t slot, sl_index_entry_t *ie) {
    return sl_index_read(*(const int *)ctx, slot, ie);
}

/* The three searches share one shape: find the first slot in [lo, hi)
 * for which pred holds, pred being monotonic (false...false true...true). */
typedef int (*pred_fn)(const sl_index_entry_t *ie, uint64_t u, int64_t s);

static int first_true(sl_index_reader_fn rd, void *ctx, uint64_t lo,
                      uint64_t hi, pred_fn pred, uint64_t u, int64_t s,
                      uint64_t *slot) {
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        sl_index_entry_t ie;
        int err = rd(ctx, mid, &ie);
        if (err != 0)
            return err;
        if (pred(&ie, u, s))
            hi = mid;
        else
            lo = mid + 1;
    }
    *slot = lo;
    return 0;
}

static int above_offset(const sl_index_entry_t *ie, uint64_t u, int64_t s) {
    (void)s;
    return ie->base_offset > u;
}
static int at_pos(const sl_index_entry_t *ie, uint64_t u, int64_t s) {
    (void)s;
    return ie->pos >= u;
}
static int at_ts(const sl_index_entry_t *ie, uint64_t u, int64_t s) {
    (void)u;
    return ie->max_ts >= s;
}

int sl_index_find_offset(sl_index_reader_fn rd, void *ctx, uint64_t lo,
                         uint64_t hi, uint64_t offset, uint64_t *slot) {
    uint64_t first_above;
    int err =
        first_true(rd, ctx, lo, hi, above_offset, offset, 0, &first_above);
    if (err != 0)
        return err;
    *slot = first_above > lo ? first_above - 1 : lo;
    return 0;
}

int sl_index_find_pos(sl_index_reader_fn rd, void *ctx, uint64_t lo,
                      uint64_t hi, uint64_t pos, uint64_t *slot) {
    return first_true(rd, ctx, lo, hi, at_pos, pos, 0, slot);
}

int sl_index_find_ts(sl_index_reader_fn rd, void *ctx, uint64_t lo, uint64_t hi,
                     int64_t ts, uint64_t *slot) {
    return first_true(rd, ctx, lo, hi, at_ts, 0, ts, slot);
}
