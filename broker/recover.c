/*
 * Recovery and checkpoints.
 *
 * DIR/checkpoint (replaced atomically: written to checkpoint.tmp, fsynced,
 * renamed, directory fsynced), big-endian:
 *   0  u32  magic 0x534C434B ("SLCK")
 *   4  u32  version 1
 *   8  u64  commit-log position P the checkpoint describes
 *   16 u32  partition count N
 *   20 u32  producer-state count M
 *   24      N x { u32 id, u64 next offset, u64 index slots, i64 last ts }
 *           M x { u32 partition id, i64 producer, u64 first seq,
 *                 u64 last seq, u64 base offset }
 *   end     u32 CRC-32C of every byte before it
 * It is valid when the magic, version and CRC match and the length is
 * exact. Before it is written, the index entries of every batch below P
 * were written and the file system synced (syncfs), so they are on disk.
 *
 * Recovery: with a valid checkpoint, partitions start from its state,
 * index files are cut back to the checkpointed slot counts, and the commit
 * log is scanned from P only, so recovery time is bounded by what was
 * written after the last checkpoint. An index file shorter than the
 * checkpoint says, or whose last entry does not match, is damaged: that
 * partition is rebuilt from a scan of the whole log. Without a valid
 * checkpoint everything is rebuilt. The scan verifies every entry (see
 * record.c) and that its base offset is its partition's next offset; the
 * first entry that fails ends the log: its segment is truncated there and
 * later segments are deleted. Segments must be contiguous (one ends where
 * the next starts); a gap also ends the log.
 */
#include "broker/recover.h"

#include "broker/meta.h"
#include "bytes.h"
#include "clock.h"
#include "crc32c.h"
#include "error.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC 0x534C434Bu
/* The largest batch any configuration can write (max-request <= 1 GiB). */
#define SL_RECOVER_MAX_BATCH ((1u << 30) + (1u << 27) + 4096u)

int sl_ckpt_encode(const sl_store_t *store, uint64_t pos, sl_buf_t *out) {
    uint32_t nprod = 0;
    for (uint32_t id = 1; id <= store->nparts; id++)
        nprod += store->parts[id]->nprods;
    size_t need = 24 + (size_t)store->nparts * 28 + (size_t)nprod * 36 + 4;
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, need);
    if (p == NULL)
        return SL_ENOMEM;
    sl_put_u32be(p, CKPT_MAGIC);
    sl_put_u32be(p + 4, 1);
    sl_put_u64be(p + 8, pos);
    sl_put_u32be(p + 16, store->nparts);
    sl_put_u32be(p + 20, nprod);
    uint8_t *w = p + 24;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        sl_put_u32be(w, id);
        sl_put_u64be(w + 4, part->next_offset);
        sl_put_u64be(w + 12, part->slots);
        sl_put_u64be(w + 20, (uint64_t)part->last_ts);
        w += 28;
    }
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        for (uint32_t i = 0; i < part->nprods; i++) {
            const sl_prod_t *pr = &part->prods[i];
            sl_put_u32be(w, id);
            sl_put_u64be(w + 4, (uint64_t)pr->producer);
            sl_put_u64be(w + 12, pr->first_seq);
            sl_put_u64be(w + 20, pr->last_seq);
            sl_put_u64be(w + 28, pr->base_offset);
            w += 36;
        }
    }
    sl_put_u32be(w, sl_crc32c(0, p, (size_t)(w - p)));
    SL_ASSERT(w + 4 == out->data + at + need);
    return 0;
}

/* Applies a checkpoint file; SL_ECORRUPT when it is not valid. */
static int load_ckpt(sl_store_t *store, uint64_t *pos) {
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint", store->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SL_ENOTFOUND;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 28 || st.st_size > (1 << 30)) {
        close(fd);
        return SL_ECORRUPT;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *b = malloc(size);
    if (b == NULL) {
        close(fd);
        return SL_ENOMEM;
    }
    ssize_t r = pread(fd, b, size, 0);
    close(fd);
    int err = SL_ECORRUPT;
    if (r != (ssize_t)size || sl_get_u32be(b) != CKPT_MAGIC ||
        sl_get_u32be(b + 4) != 1 ||
        sl_crc32c(0, b, size - 4) != sl_get_u32be(b + size - 4))
        goto out;
    uint32_t n = sl_get_u32be(b + 16), m = sl_get_u32be(b + 20);
    if (24 + (uint64_t)n * 28 + (uint64_t)m * 36 + 4 != size)
        goto out;
    const uint8_t *p = b + 24;
    for (uint32_t i = 0; i < n; i++, p += 28) {
        uint32_t id = sl_get_u32be(p);
        if (id == 0 || id > store->nparts)
            goto out;
        sl_part_t *part = store->parts[id];
        part->next_offset = sl_get_u64be(p + 4);
        part->slots = sl_get_u64be(p + 12);
        part->last_ts = (int64_t)sl_get_u64be(p + 20);
    }
    for (uint32_t i = 0; i < m; i++, p += 36) {
        uint32_t id = sl_get_u32be(p);
        if (id == 0 || id > store->nparts)
            goto out;
        err = sl_store_note_producer(store->parts[id],
                                     (int64_t)sl_get_u64be(p + 4),
                                     sl_get_u64be(p + 12),
                                     sl_get_u64be(p + 20),
                                     sl_get_u64be(p + 28));
        if (err != 0)
            goto out;
    }
    *pos = sl_get_u64be(b + 8);
    err = 0;
out:
    free(b);
    return err;
}

static int seg_cmp(const void *a, const void *b) {
    const sl_segment_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int list_segments(sl_store_t *store) {
    DIR *dir = opendir(store->logdir);
    if (dir == NULL)
        return sl_err_from_errno(errno);
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL) {
        const char *n = ent->d_name;
        if (strlen(n) != 24 || strcmp(n + 20, ".log") != 0)
            continue;
        uint64_t start = 0;
        int ok = 1;
        for (int i = 0; i < 20; i++) {
            if (n[i] < '0' || n[i] > '9') {
                ok = 0;
                break;
            }
            start = start * 10 + (uint64_t)(n[i] - '0');
        }
        if (!ok)
            continue;
        if (store->nsegs == store->capsegs) {
            size_t cap = store->capsegs ? store->capsegs * 2 : 16;
            sl_segment_t *s = realloc(store->segs, cap * sizeof *s);
            if (s == NULL) {
                closedir(dir);
                return SL_ENOMEM;
            }
            store->segs = s;
            store->capsegs = cap;
        }
        store->segs[store->nsegs].start = start;
        store->segs[store->nsegs].rfd = -1;
        store->nsegs++;
    }
    closedir(dir);
    if (store->nsegs > 1)
        qsort(store->segs, store->nsegs, sizeof *store->segs, seg_cmp);
    return 0;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void fsync_dir_or_die(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        sl_fatal("cannot fsync directory", "dir=%s errno=%d", dir, errno);
    close(fd);
}

/* Cuts the log at pos: truncates segment i there and deletes later ones. */
static void cut_log(sl_store_t *store, size_t i, uint64_t pos) {
    char path[4096];
    sl_store_seg_path(store, store->segs[i].start, path, sizeof path);
    uint64_t size = file_size(path);
    uint64_t keep = pos - store->segs[i].start;
    if (size > keep) {
        sl_log_warn("recovery: truncating commit log", "segment=%s at=%" PRIu64
                    " dropped_bytes=%" PRIu64, path, keep, size - keep);
        store->stats.truncated_bytes += size - keep;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)keep) != 0 ||
            (store->opts.fsync_mode != SL_FSYNC_NEVER && fsync(fd) != 0))
            sl_fatal("cannot truncate segment", "segment=%s errno=%d", path,
                     errno);
        close(fd);
    }
    for (size_t j = i + 1; j < store->nsegs; j++) {
        sl_store_seg_path(store, store->segs[j].start, path, sizeof path);
        store->stats.truncated_bytes += file_size(path);
        sl_log_warn("recovery: deleting segment after the end of the log",
                    "segment=%s", path);
        if (unlink(path) != 0)
            sl_fatal("cannot delete segment", "segment=%s errno=%d", path,
                     errno);
    }
    if (i + 1 < store->nsegs && store->opts.fsync_mode != SL_FSYNC_NEVER)
        fsync_dir_or_die(store->logdir);
    store->nsegs = i + 1;
}

typedef struct {
    sl_store_t *store;
    uint64_t ckpt_pos;
    uint8_t *damaged; /* By partition id. */
} scan_t;

/* Checks and indexes one verified entry; SL_ECORRUPT ends the log. */
static int take_entry(scan_t *sc, uint64_t pos, const uint8_t *p,
                      uint32_t len) {
    sl_store_t *store = sc->store;
    sl_entry_t e;
    int err = sl_record_verify(p, len, &e);
    if (err != 0) {
        if (err == SL_ECHECKSUM)
            store->stats.crc_errors++;
        return SL_ECORRUPT;
    }
    if (e.part_id == 0 || e.part_id > store->nparts)
        return SL_ECORRUPT;
    sl_part_t *part = store->parts[e.part_id];
    int redo = sc->damaged[e.part_id];
    if (pos < sc->ckpt_pos && !redo)
        return 0; /* Already indexed before the checkpoint. */
    /* When retention trimmed the front of the log, a rebuilt partition
     * starts at whatever offset its first surviving batch has. */
    if (redo && part->slots == 0 && part->next_offset == 0 &&
        store->nsegs > 0 && store->segs[0].start > 0)
        part->next_offset = e.base_offset;
    if (e.base_offset != part->next_offset)
        return SL_ECORRUPT;
    sl_index_entry_t ie = {e.base_offset, pos, len, e.count, e.max_ts,
                           e.part_id};
    uint8_t raw[SL_INDEX_ENTRY];
    sl_index_encode(raw, &ie);
    int fd = sl_fdcache_get(&store->wcache, e.part_id);
    if (fd < 0)
        return fd;
    if (pwrite(fd, raw, sizeof raw, (off_t)(part->slots * SL_INDEX_ENTRY)) !=
        (ssize_t)sizeof raw)
        sl_fatal("cannot write index", "partition=%u errno=%d", e.part_id,
                 errno);
    part->slots++;
    part->next_offset += e.count;
    if (e.max_ts > part->last_ts)
        part->last_ts = e.max_ts;
    if (e.producer_id >= 0)
        sl_store_note_producer(part, e.producer_id, e.seq,
                               e.seq + e.count - 1, e.base_offset);
    store->stats.recovered_entries++;
    return 0;
}

/* Scans segment i from position from; returns the end of its valid data
 * in *end and 1 when it ended cleanly at end of file. */
static int scan_segment(scan_t *sc, size_t i, uint64_t from, uint64_t *end,
                        int *clean) {
    sl_store_t *store = sc->store;
    char path[4096];
    sl_store_seg_path(store, store->segs[i].start, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_from_errno(errno);
    size_t cap = 4u << 20;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return SL_ENOMEM;
    }
    struct stat st;
    uint64_t seg_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t base = from; /* Log position of buf[0]. */
    size_t have = 0, at = 0;
    int eof = 0, err = 0;
    *clean = 0;
    for (;;) {
        /* Make sure a header, then the whole entry, is buffered. */
        size_t need = SL_ENTRY_HDR;
        uint32_t pid = 0, elen = 0;
        for (int pass = 0; pass < 2; pass++) {
            while (have - at < need && !eof) {
                if (at > 0) {
                    memmove(buf, buf + at, have - at);
                    have -= at;
                    base += at;
                    at = 0;
                }
                if (need > cap) {
                    uint8_t *nb = realloc(buf, need);
                    if (nb == NULL) {
                        err = SL_ENOMEM;
                        goto done;
                    }
                    buf = nb;
                    cap = need;
                }
                ssize_t r = pread(fd, buf + have, cap - have,
                                  (off_t)(base + have - store->segs[i].start));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0) {
                    err = sl_err_from_errno(errno);
                    goto done;
                }
                if (r == 0)
                    eof = 1;
                have += (size_t)r;
            }
            if (pass == 0) {
                if (have == at && eof) {
                    *clean = 1;
                    goto done;
                }
                /* Entries written under a larger --max-request stay valid:
                 * the bound here is the format's, not today's setting. */
                int herr = sl_record_header(buf + at, have - at,
                                            SL_RECOVER_MAX_BATCH, &pid, &elen);
                if (herr != 0) {
                    if (herr == SL_ECHECKSUM)
                        store->stats.crc_errors++;
                    goto done;
                }
                /* A length past the end of the file is a torn write; never
                 * allocate for it. */
                if (base + at + elen - store->segs[i].start > seg_size)
                    goto done;
                need = elen;
            }
        }
        if (have - at < elen)
            goto done; /* Torn: the file ends inside the entry. */
        if (take_entry(sc, base + at, buf + at, elen) != 0)
            goto done;
        at += elen;
    }
done:
    *end = base + at;
    free(buf);
    close(fd);
    return err;
}

static int check_last_entry(sl_store_t *store, sl_part_t *part) {
    int fd = sl_fdcache_get(&store->wcache, part->id);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return SL_EIO;
    uint64_t want = part->slots * SL_INDEX_ENTRY;
    if ((uint64_t)st.st_size < want)
        return SL_ECORRUPT;
    if ((uint64_t)st.st_size > want && ftruncate(fd, (off_t)want) != 0)
        return sl_err_from_errno(errno);
    if (part->slots == 0)
        return part->next_offset == 0 ? 0 : SL_ECORRUPT;
    sl_index_entry_t ie;
    if (sl_index_read(fd, part->slots - 1, &ie) != 0 ||
        ie.part_id != part->id ||
        ie.base_offset + ie.count != part->next_offset)
        return SL_ECORRUPT;
    return 0;
}

static void reset_part(sl_part_t *part) {
    part->next_offset = 0;
    part->slots = 0;
    part->last_ts = 0;
    part->nprods = 0;
}

int sl_recover(sl_store_t *store) {
    uint64_t t0 = sl_mono_ns();
    int err = list_segments(store);
    if (err != 0)
        return err;
    uint64_t first = store->nsegs ? store->segs[0].start : 0;
    uint64_t ckpt = 0;
    int have_ckpt = load_ckpt(store, &ckpt) == 0;
    if (have_ckpt && store->nsegs > 0) {
        char path[4096];
        size_t last = store->nsegs - 1;
        sl_store_seg_path(store, store->segs[last].start, path, sizeof path);
        uint64_t end = store->segs[last].start + file_size(path);
        if (ckpt < first || ckpt > end) {
            sl_log_warn("recovery: checkpoint outside the log, ignoring it",
                        "checkpoint=%" PRIu64 " log_start=%" PRIu64
                        " log_end=%" PRIu64, ckpt, first, end);
            have_ckpt = 0;
        }
    }
    if (!have_ckpt) {
        for (uint32_t id = 1; id <= store->nparts; id++)
            reset_part(store->parts[id]);
        ckpt = first;
    }
    scan_t sc = {store, ckpt, calloc(store->nparts + 1, 1)};
    if (sc.damaged == NULL)
        return SL_ENOMEM;
    int any_damaged = 0;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        if (!have_ckpt || check_last_entry(store, part) != 0) {
            if (have_ckpt)
                sl_log_warn("recovery: index damaged, rebuilding it",
                            "topic=%s partition=%s", part->topic, part->name);
            sc.damaged[id] = 1;
            any_damaged = 1;
            reset_part(part);
            /* Unlink rather than truncate to zero: ext4 flushes a file
             * truncated to zero on close (auto_da_alloc), which is slow. */
            char path[4096];
            sl_fdcache_drop(&store->wcache, id);
            sl_index_path(path, sizeof path, store->idxdir, id);
            if (unlink(path) != 0 && errno != ENOENT) {
                free(sc.damaged);
                return sl_err_from_errno(errno);
            }
        }
    }
    uint64_t from = any_damaged ? first : ckpt;
    uint64_t end = from;
    for (size_t i = 0; i < store->nsegs; i++) {
        char path[4096];
        sl_store_seg_path(store, store->segs[i].start, path, sizeof path);
        uint64_t seg_end = store->segs[i].start + file_size(path);
        if (seg_end <= from && i + 1 < store->nsegs &&
            store->segs[i + 1].start <= from) {
            end = seg_end;
            continue;
        }
        uint64_t scan_from = from > store->segs[i].start ? from
                                                         : store->segs[i].start;
        if (i > 0 && store->segs[i].start != end && scan_from == store->segs[i].start) {
            sl_log_warn("recovery: gap between segments", "expected=%" PRIu64
                        " found=%" PRIu64, end, store->segs[i].start);
            cut_log(store, i - 1, end);
            break;
        }
        int clean = 0;
        err = scan_segment(&sc, i, scan_from, &end, &clean);
        if (err != 0) {
            free(sc.damaged);
            return err;
        }
        if (!clean) {
            cut_log(store, i, end);
            break;
        }
    }
    free(sc.damaged);
    if (store->nsegs == 0)
        end = have_ckpt ? ckpt : 0;
    store->log_end = end;
    store->durable_end = end;
    store->ckpt_done = have_ckpt && !any_damaged ? ckpt : first;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        part->durable_offset = part->next_offset;
        part->durable_slots = part->slots;
        part->file_slots = part->slots;
    }
    store->stats.recovery_ms = (sl_mono_ns() - t0) / 1000000;
    sl_log_info("recovery done", "log_start=%" PRIu64 " log_end=%" PRIu64
                " checkpoint=%" PRIu64 " scanned_entries=%" PRIu64
                " partitions=%u ms=%" PRIu64, first, end, ckpt,
                store->stats.recovered_entries, store->nparts,
                store->stats.recovery_ms);
    return 0;
}
