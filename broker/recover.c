/*
 * Start-up recovery of the commit log (the checkpoint's format is at the
 * top of checkpoint.c).
 *
 * Recovery: with a valid checkpoint, partitions start from its state,
 * index files are cut back to the checkpointed slot counts and checked
 * entry by entry, and the commit log is scanned from P only, so recovery
 * time is bounded by what was written after the last checkpoint. An index
 * file that does not match the checkpoint is damaged: that partition is
 * rebuilt from a scan of the whole log. Without a valid checkpoint
 * everything is rebuilt. The scan verifies every entry (see record.c) and
 * that its base offset follows its partition's previous batch.
 *
 * Only a torn tail is ever cut: an entry that fails in the newest segment,
 * at or after P (anywhere in it without a checkpoint), with no valid entry
 * after it. Every other failure is damage: the scan goes on after it (at
 * the failed entry's end when its header is intact, else at the next
 * position where a whole entry verifies), nothing is truncated or deleted,
 * and a missing segment (a gap, or a newest segment meta.log names that is
 * gone), a checkpoint beyond the log, or a partition ending below its
 * checkpointed next offset are damage too. With damage, sl__store_recover()
 * logs every damaged byte range (segment, position, partition) and offset range
 * and returns SL_EDAMAGED, having changed nothing but index files (which
 * are a cache), unless opts.quarantine_damaged is set: then the lost
 * offset ranges become index entries of length 0 (index.c), which reads
 * answer with SL_EDAMAGED, and everything else is served.
 *
 * Offsets are never reused: a partition never restarts below its
 * checkpointed next offset, and when its newest batches may have been lost
 * (damage or a torn tail after its last intact batch, or no checkpoint to
 * vouch that no file was lost) it continues at its high-water mark from
 * meta.log, which is written and synced before any offset under it is
 * acknowledged (meta.c, store.c).
 */
#include "broker/store_int.h"

#include "broker/meta.h"
#include "bytes.h"
#include "clock.h"
#include "crc32c.h"
#include "error.h"
#include "file.h"
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

/* The largest batch any configuration can write (max-request <= 1 GiB). */
#define SL_RECOVER_MAX_BATCH ((1u << 30) + (1u << 27) + 4096u)

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

/* Cuts a torn tail: truncates the newest segment at pos. Only ever called
 * for the newest segment, at or after the checkpoint, when no valid entry
 * follows pos (see the rules at the top of this file). */
static void cut_tail(sl_store_t *store, uint64_t pos) {
    char path[4096];
    size_t i = store->nsegs - 1;
    sl__store_seg_path(store, store->segs[i].start, path, sizeof path);
    uint64_t size = file_size(path);
    uint64_t keep = pos - store->segs[i].start;
    if (size <= keep)
        return;
    sl_log_warn("recovery: truncating the torn tail of the commit log",
                "segment=%s at=%" PRIu64 " dropped_bytes=%" PRIu64, path, keep,
                size - keep);
    store->stats.truncated_bytes += size - keep;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)keep) != 0 ||
        (store->opts.fsync_mode != SL_FSYNC_NEVER && fsync(fd) != 0))
        sl_fatal("cannot truncate segment", "segment=%s errno=%d", path, errno);
    close(fd);
}

/* Cuts meta.log's torn tail, the bytes after what sl__store_meta_load() read
 * (store->meta_size). Done only once start-up is sure to go on, so that a
 * stop for damage changes nothing. */
static void cut_meta_tail(sl_store_t *store) {
    struct stat st;
    if (store->meta_fd < 0 || fstat(store->meta_fd, &st) != 0 ||
        (uint64_t)st.st_size <= store->meta_size)
        return;
    sl_log_warn("meta log: truncating torn tail",
                "file=%s/meta.log at=%" PRIu64 " size=%" PRIu64, store->dir,
                store->meta_size, (uint64_t)st.st_size);
    if (ftruncate(store->meta_fd, (off_t)store->meta_size) != 0 ||
        fsync(store->meta_fd) != 0)
        sl_fatal("cannot truncate meta log", "file=%s/meta.log errno=%d",
                 store->dir, errno);
}

/* A damaged byte range of the log, [pos, end). */
typedef struct {
    uint64_t pos, end;
    uint32_t part_id; /* 0 when the damage hides which partition it held. */
} dmg_t;

/* A damaged offset range of one partition, [lo, hi). */
typedef struct {
    uint32_t part_id;
    uint64_t lo, hi;
    int tail; /* Bounded by the high-water mark, not by a later batch. */
} gap_t;

typedef struct {
    sl_store_t *store;
    uint64_t ckpt_pos;
    int have_ckpt;
    uint8_t *damaged;    /* By partition id: index rebuilt from the log. */
    uint64_t *ckpt_next; /* By partition id: the checkpoint's next offset. */
    uint64_t *last_pos;  /* By partition id: last valid entry + 1 (0: none). */
    dmg_t *dmg;
    size_t ndmg, capdmg;
    gap_t *gaps;
    size_t ngaps, capgaps;
    int torn; /* A torn tail starts at torn_pos. */
    uint64_t torn_pos;
    uint32_t torn_part;   /* Its partition, 0 when unknown. */
    size_t nholes_sorted; /* store->holes[0..this) are sorted. */
} scan_t;

static int add_dmg(scan_t *sc, uint64_t pos, uint64_t end, uint32_t part_id) {
    if (end <= pos)
        return 0;
    if (sc->ndmg > 0 && sc->dmg[sc->ndmg - 1].end == pos) {
        /* Adjacent damage is one range; its partition is known only when
         * every piece names the same one. */
        dmg_t *d = &sc->dmg[sc->ndmg - 1];
        d->end = end;
        if (d->part_id != part_id)
            d->part_id = 0;
        return 0;
    }
    if (sc->ndmg == sc->capdmg) {
        size_t cap = sc->capdmg ? sc->capdmg * 2 : 8;
        dmg_t *d = realloc(sc->dmg, cap * sizeof *d);
        if (d == NULL)
            return SL_ENOMEM;
        sc->dmg = d;
        sc->capdmg = cap;
    }
    sc->dmg[sc->ndmg++] = (dmg_t){pos, end, part_id};
    return 0;
}

static int add_gap(scan_t *sc, uint32_t part_id, uint64_t lo, uint64_t hi,
                   int tail) {
    if (sc->ngaps == sc->capgaps) {
        size_t cap = sc->capgaps ? sc->capgaps * 2 : 8;
        gap_t *g = realloc(sc->gaps, cap * sizeof *g);
        if (g == NULL)
            return SL_ENOMEM;
        sc->gaps = g;
        sc->capgaps = cap;
    }
    sc->gaps[sc->ngaps++] = (gap_t){part_id, lo, hi, tail};
    return 0;
}

/* Appends one entry to part's index file. */
static int put_index(sl_store_t *store, sl_part_t *part,
                     const sl_index_entry_t *ie) {
    uint8_t raw[SL_INDEX_ENTRY];
    sl_index_encode(raw, ie);
    int fd = sl_fdcache_get(&store->wcache, part->id);
    if (fd < 0)
        return fd;
    uint64_t at = part->slots * SL_INDEX_ENTRY;
    if (sl_file_pwrite_all(fd, raw, sizeof raw, at) != 0)
        sl_fatal("cannot write index", "partition=%u errno=%d", part->id,
                 errno);
    part->slots++;
    return 0;
}

/* Covers offsets [part->next_offset, hi) of part with index entries of
 * length kind (index.c): SL_INDEX_QUARANTINED, which reads answer with
 * SL_EDAMAGED, or SL_INDEX_HOLE, which reads pass over. */
static int put_virtual(sl_store_t *store, sl_part_t *part, uint64_t hi,
                       uint64_t pos, uint32_t kind) {
    while (part->next_offset < hi) {
        uint64_t n = hi - part->next_offset;
        if (n > UINT32_MAX)
            n = UINT32_MAX;
        sl_index_entry_t ie = {part->next_offset, pos,           kind,
                               (uint32_t)n,       part->last_ts, part->id};
        int err = put_index(store, part, &ie);
        if (err != 0)
            return err;
        part->next_offset += n;
    }
    return 0;
}

/* Whether part's newest batches may lie in damaged or torn bytes: some
 * damage (of part or of an unknown partition) lies after its last intact
 * batch. */
static int tail_exposed(const scan_t *sc, uint32_t id) {
    uint64_t last = sc->last_pos[id];
    for (size_t k = 0; k < sc->ndmg; k++)
        if ((sc->dmg[k].part_id == 0 || sc->dmg[k].part_id == id) &&
            sc->dmg[k].end > last)
            return 1;
    return 0;
}

/* Adds partitions up to id for batches whose partition meta.log lost
 * (placeholder names, see meta.c); they are rebuilt from the scan. */
static int add_unknown_parts(scan_t *sc, uint32_t id) {
    sl_store_t *store = sc->store;
    uint32_t old = store->nparts;
    int err = sl__store_fill_parts(store, id);
    if (err != 0)
        return err;
    uint8_t *d = realloc(sc->damaged, store->nparts + 1);
    if (d != NULL)
        sc->damaged = d;
    uint64_t *c =
        realloc(sc->ckpt_next, (store->nparts + 1) * sizeof *sc->ckpt_next);
    if (c != NULL)
        sc->ckpt_next = c;
    uint64_t *l =
        realloc(sc->last_pos, (store->nparts + 1) * sizeof *sc->last_pos);
    if (l != NULL)
        sc->last_pos = l;
    if (d == NULL || c == NULL || l == NULL)
        return SL_ENOMEM;
    for (uint32_t k = old + 1; k <= store->nparts; k++) {
        sc->damaged[k] = 1;
        sc->ckpt_next[k] = 0;
        sc->last_pos[k] = 0;
        char path[4096];
        sl_fdcache_drop(&store->wcache, k);
        sl_index_path(path, sizeof path, store->idxdir, k);
        if (unlink(path) != 0 && errno != ENOENT)
            return sl_err_from_errno(errno);
    }
    return 0;
}

static int hole_cmp(const void *a, const void *b) {
    const sl_hole_t *x = a, *y = b;
    if (x->part_id != y->part_id)
        return x->part_id < y->part_id ? -1 : 1;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* The hole of partition id starting at from, among the holes meta.log
 * held (sorted at the start of recovery), or NULL. */
static const sl_hole_t *find_hole(const scan_t *sc, uint32_t id,
                                  uint64_t from) {
    if (sc->nholes_sorted == 0)
        return NULL;
    sl_hole_t key = {id, from, 0};
    return bsearch(&key, sc->store->holes, sc->nholes_sorted, sizeof key,
                   hole_cmp);
}

/* Checks and indexes one entry; SL_ECORRUPT when it fails verification or
 * does not fit its partition (damage, handled by the caller). */
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
    if (e.part_id == 0)
        return SL_ECORRUPT;
    if (e.part_id > store->nparts) {
        /* A valid batch of a partition meta.log lost. */
        err = add_unknown_parts(sc, e.part_id);
        if (err != 0)
            return err;
    }
    sl_part_t *part = store->parts[e.part_id];
    int redo = sc->damaged[e.part_id];
    if (pos < sc->ckpt_pos && !redo) {
        sc->last_pos[e.part_id] = pos + 1;
        return 0; /* Already indexed before the checkpoint. */
    }
    /* When retention trimmed the front of the log, a rebuilt partition
     * starts at whatever offset its first surviving batch has. */
    if (redo && part->slots == 0 && part->next_offset == 0 &&
        store->nsegs > 0 && store->segs[0].start > 0)
        part->next_offset = e.base_offset;
    if (e.base_offset < part->next_offset)
        return SL_ECORRUPT; /* Offsets overlap what is already there. */
    const sl_hole_t *hole = e.base_offset > part->next_offset
                                ? find_hole(sc, part->id, part->next_offset)
                                : NULL;
    if (hole != NULL && hole->to == e.base_offset) {
        /* Offsets an earlier recovery skipped: nothing was there. */
        err = put_virtual(store, part, e.base_offset, pos, SL_INDEX_HOLE);
        if (err != 0)
            return err;
    }
    if (e.base_offset > part->next_offset) {
        /* Batches of this partition before this one were lost, which
         * needs damage since its last intact batch; otherwise the base
         * offset itself (outside every CRC) is what is damaged. */
        if (!tail_exposed(sc, part->id))
            return SL_ECORRUPT;
        err = add_gap(sc, part->id, part->next_offset, e.base_offset, 0);
        if (err == 0)
            err = put_virtual(store, part, e.base_offset, pos,
                              SL_INDEX_QUARANTINED);
        if (err != 0)
            return err;
    }
    /* A Kafka batch's index entry holds the largest timestamp so far
     * (store.c): its CreateTime timestamps need not grow. A sluice
     * batch's append time never goes back, so it is its own. */
    int64_t ts = e.kafka && e.max_ts < part->last_ts ? part->last_ts : e.max_ts;
    sl_index_entry_t ie = {e.base_offset, pos, len, e.count, ts, e.part_id};
    err = put_index(store, part, &ie);
    if (err != 0)
        return err;
    part->next_offset += e.count;
    if (ts > part->last_ts)
        part->last_ts = ts;
    if (e.kafka && e.producer_id >= 0) {
        /* Kafka's producer state, rebuilt from the batches' producer
         * fields as Kafka rebuilds it from its log. */
        if (sl__store_kprod_note(part, e.producer_id, e.producer_epoch,
                                 e.base_seq, e.count, e.base_offset) != 0)
            return SL_ENOMEM;
        if (e.producer_id >= store->kpid_next)
            store->kpid_next = e.producer_id + 1;
    } else if (e.producer_id >= 0) {
        sl__store_note_producer(part, e.producer_id, e.seq, e.seq + e.count - 1,
                                e.base_offset);
    }
    sc->last_pos[e.part_id] = pos + 1;
    store->stats.recovered_entries++;
    return 0;
}

/* Scans segment i from position from until its end or the first entry
 * that fails; *end receives where it stopped and *clean is 1 when that is
 * the end of the file. On a failure whose header was intact, *fail_part
 * and *fail_len describe the failed entry (else both are 0). */
static int scan_segment(scan_t *sc, size_t i, uint64_t from, uint64_t *end,
                        int *clean, uint32_t *fail_part, uint32_t *fail_len) {
    sl_store_t *store = sc->store;
    char path[4096];
    sl__store_seg_path(store, store->segs[i].start, path, sizeof path);
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
    *fail_part = 0;
    *fail_len = 0;
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
                *fail_part = pid;
                *fail_len = elen;
                /* A length past the end of the file is a torn write; never
                 * allocate for it. */
                if (base + at + elen - store->segs[i].start > seg_size)
                    goto done;
                need = elen;
            }
        }
        if (have - at < elen)
            goto done; /* Torn: the file ends inside the entry. */
        err = take_entry(sc, base + at, buf + at, elen);
        if (err == SL_ECORRUPT) {
            err = 0;
            goto done;
        }
        if (err != 0)
            goto done;
        *fail_part = 0;
        *fail_len = 0;
        at += elen;
    }
done:
    *end = base + at;
    free(buf);
    close(fd);
    return err;
}

/* Whether a whole valid entry of a known partition starts at segment
 * offset off of fd (seg_size bytes). */
static int valid_at(sl_store_t *store, int fd, uint64_t off, uint64_t seg_size,
                    const uint8_t *hdr) {
    uint32_t pid, elen;
    if (sl_record_header(hdr, SL_ENTRY_HDR, SL_RECOVER_MAX_BATCH, &pid,
                         &elen) != 0 ||
        pid == 0 || pid > store->nparts || off + elen > seg_size)
        return 0;
    uint8_t *b = malloc(elen);
    if (b == NULL)
        return 0;
    sl_entry_t e;
    int ok = pread(fd, b, elen, (off_t)off) == (ssize_t)elen &&
             sl_record_verify(b, elen, &e) == 0;
    free(b);
    return ok;
}

/* Looks for the first valid entry after damage at log position from in
 * segment i, byte by byte (its header is damaged, so its length cannot
 * be trusted). Returns 1 and its position in *found, 0 when none. */
static int resync(sl_store_t *store, size_t i, uint64_t from, uint64_t *found) {
    char path[4096];
    sl__store_seg_path(store, store->segs[i].start, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    uint64_t seg_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap + SL_ENTRY_HDR);
    int hit = 0;
    uint64_t off = from - store->segs[i].start + 1;
    while (buf != NULL && !hit && off + SL_ENTRY_MIN <= seg_size) {
        ssize_t r = pread(fd, buf, cap + SL_ENTRY_HDR, (off_t)off);
        if (r < SL_ENTRY_HDR)
            break;
        size_t n = (size_t)r - SL_ENTRY_HDR + 1;
        if (n > cap)
            n = cap;
        for (size_t k = 0; k < n; k++) {
            /* The header CRC rules out all but one in 2^32 positions
             * before the batch is read and verified. */
            uint32_t pid, elen;
            if (sl_record_header(buf + k, SL_ENTRY_HDR, SL_RECOVER_MAX_BATCH,
                                 &pid, &elen) != 0)
                continue;
            if (valid_at(store, fd, off + k, seg_size, buf + k)) {
                *found = store->segs[i].start + off + k;
                hit = 1;
                break;
            }
        }
        off += n;
    }
    free(buf);
    close(fd);
    return hit;
}

/* Scans segment i from scan_from, recording damage and going on after
 * it, so that nothing valid after a damaged entry is ever lost. */
static int scan_one(scan_t *sc, size_t i, uint64_t scan_from,
                    uint64_t seg_end) {
    sl_store_t *store = sc->store;
    int newest = i + 1 == store->nsegs;
    uint64_t pos = scan_from;
    uint64_t valid_end = scan_from; /* End of the last valid entry. */
    size_t dmg_mark = sc->ndmg;
    for (;;) {
        uint64_t end = pos;
        int clean = 0;
        uint32_t fpart = 0, flen = 0;
        int err = scan_segment(sc, i, pos, &end, &clean, &fpart, &flen);
        if (err != 0)
            return err;
        if (fpart > store->nparts)
            fpart = 0; /* A partition meta.log does not know. */
        if (end > pos || pos == scan_from) {
            valid_end = end;
            dmg_mark = sc->ndmg;
        }
        if (clean)
            return 0;
        uint64_t next = 0;
        int found = 0;
        if (flen > 0) {
            /* The header is intact, so is the length: the entry is
             * [end, end + flen) and whatever follows is looked at next. */
            if (end + flen < seg_end) {
                next = end + flen;
                found = 1;
            }
        } else {
            found = resync(store, i, end, &next);
        }
        if (!found) {
            /* Nothing valid follows up to the end of this segment. In the
             * newest segment after the checkpoint that is a torn write:
             * everything after the last valid entry is cut. Anywhere else
             * it is damage. */
            if (newest && (!sc->have_ckpt || valid_end >= sc->ckpt_pos)) {
                sc->ndmg = dmg_mark;
                sc->torn = 1;
                sc->torn_pos = valid_end;
                sc->torn_part =
                    end == valid_end && flen > 0 && end + flen >= seg_end
                        ? fpart
                        : 0;
                return 0;
            }
            return add_dmg(sc, end, seg_end,
                           flen > 0 && end + flen >= seg_end ? fpart : 0);
        }
        err = add_dmg(sc, end, next, flen > 0 ? fpart : 0);
        if (err != 0)
            return err;
        pos = next;
    }
}

/* Checks part's index file against the checkpoint; *last_pos receives the
 * position of its last entry + 1 (0 when it has none), *last_end where
 * that entry ends (0 when none). */
static int check_last_entry(sl_store_t *store, sl_part_t *part, uint64_t ckpt,
                            uint64_t *last_pos, uint64_t *last_end) {
    *last_pos = 0;
    *last_end = 0;
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
    /* Every entry is checked (40 bytes per batch, read sequentially): its
     * CRC, its partition, offsets that follow on from the previous entry
     * and positions that grow, ending at the checkpoint's next offset. A
     * damaged index is rebuilt at start-up rather than found by reads. */
    uint8_t raw[1024 * SL_INDEX_ENTRY];
    sl_index_entry_t ie, prev = {0, 0, 0, 0, 0, 0};
    for (uint64_t slot = 0; slot < part->slots;) {
        uint64_t n = part->slots - slot;
        if (n > 1024)
            n = 1024;
        if (pread(fd, raw, (size_t)n * SL_INDEX_ENTRY,
                  (off_t)(slot * SL_INDEX_ENTRY)) !=
            (ssize_t)(n * SL_INDEX_ENTRY))
            return SL_ECORRUPT;
        for (uint64_t k = 0; k < n; k++, slot++) {
            if (sl_index_decode(raw + k * SL_INDEX_ENTRY, &ie) != 0 ||
                ie.part_id != part->id ||
                (slot > 0 && (ie.base_offset != prev.base_offset + prev.count ||
                              ie.pos < prev.pos)))
                return SL_ECORRUPT;
            prev = ie;
        }
    }
    /* Every batch the checkpoint counts lies below its position; one that
     * does not would be scanned again from there and, its offsets taken,
     * be cut as a torn tail (found by fuzz_broker_checkpoint). */
    /* A virtual entry (a hole or quarantined range, whose length field is
     * its kind) stands at a position where a batch ended. */
    uint64_t end = ie.len <= SL_INDEX_HOLE ? ie.pos : ie.pos + ie.len;
    if (ie.base_offset + ie.count != part->next_offset || end > ckpt)
        return SL_ECORRUPT;
    *last_pos = ie.pos + 1;
    *last_end = end;
    return 0;
}

static void reset_part(sl_part_t *part) {
    part->next_offset = 0;
    part->slots = 0;
    part->last_ts = 0;
    part->nprods = 0;
    part->nkprods = 0;
}

static const char *part_label(sl_store_t *store, uint32_t id, char *buf,
                              size_t len) {
    if (id == 0 || id > store->nparts)
        snprintf(buf, len, "unknown (the damage hides it)");
    else
        snprintf(buf, len, "%s/%s", store->parts[id]->topic,
                 store->parts[id]->name);
    return buf;
}

/* Logs every damaged range: the segment, the byte position in it, the
 * partitions and the offsets. */
static void report(scan_t *sc, int quarantine) {
    sl_store_t *store = sc->store;
    char label[600], path[4096];
    for (size_t k = 0; k < sc->ndmg; k++) {
        const dmg_t *d = &sc->dmg[k];
        size_t i = 0;
        while (i + 1 < store->nsegs && store->segs[i + 1].start <= d->pos)
            i++;
        uint64_t seg_start = store->nsegs ? store->segs[i].start : 0;
        if (d->pos < seg_start)
            snprintf(path, sizeof path, "(missing segment file)");
        else
            sl__store_seg_path(store, seg_start, path, sizeof path);
        sl_log_error("recovery: damaged commit-log bytes",
                     "segment=%s at=%" PRIu64 " length=%" PRIu64
                     " log_position=%" PRIu64 " partition=%s",
                     path, d->pos - (d->pos >= seg_start ? seg_start : 0),
                     d->end - d->pos, d->pos,
                     part_label(store, d->part_id, label, sizeof label));
    }
    for (size_t k = 0; k < sc->ngaps; k++) {
        const gap_t *g = &sc->gaps[k];
        sl_log_error(g->tail ? "recovery: offsets possibly lost (after the "
                               "partition's last intact batch, up to its "
                               "high-water mark)"
                             : "recovery: offsets lost",
                     "partition=%s offsets=%" PRIu64 "-%" PRIu64
                     " count=%" PRIu64,
                     part_label(store, g->part_id, label, sizeof label), g->lo,
                     g->hi - 1, g->hi - g->lo);
    }
    if (quarantine)
        sl_log_warn("recovery: damaged records quarantined (reads of them "
                    "get 422); everything else is served",
                    "ranges=%zu partition_ranges=%zu", sc->ndmg, sc->ngaps);
    else
        sl_log_error("recovery: stored data damaged; start-up stopped. "
                     "Nothing was truncated or deleted. Restore the data "
                     "directory from a copy, or start with "
                     "--quarantine-damaged to serve everything else",
                     "ranges=%zu partition_ranges=%zu", sc->ndmg, sc->ngaps);
}

static void scan_free(scan_t *sc) {
    free(sc->damaged);
    free(sc->ckpt_next);
    free(sc->last_pos);
    free(sc->dmg);
    free(sc->gaps);
}

int sl__store_recover(sl_store_t *store) {
    uint64_t t0 = sl_mono_ns();
    int err = list_segments(store);
    if (err != 0)
        return err;
    uint64_t first = store->nsegs ? store->segs[0].start : 0;
    uint64_t log_size_end = first;
    if (store->nsegs > 0) {
        char path[4096];
        size_t last = store->nsegs - 1;
        sl__store_seg_path(store, store->segs[last].start, path, sizeof path);
        log_size_end = store->segs[last].start + file_size(path);
    }
    uint64_t ckpt = 0;
    int ckpt_err = sl__store_ckpt_load(store, log_size_end, &ckpt);
    int have_ckpt = ckpt_err == 0;
    /* A new data directory: no log, no partition, no checkpoint file. */
    int fresh =
        ckpt_err == SL_ENOTFOUND && store->nsegs == 0 && store->nparts == 0;
    /* meta.log names every segment once it exists durably: a newer one
     * than the newest file means segment files were lost. */
    int lost_newest = store->have_seg_hwm &&
                      (store->nsegs == 0 ||
                       store->segs[store->nsegs - 1].start < store->seg_hwm);
    scan_t sc;
    memset(&sc, 0, sizeof sc);
    sc.store = store;
    if (store->nholes > 1)
        qsort(store->holes, store->nholes, sizeof *store->holes, hole_cmp);
    sc.nholes_sorted = store->nholes;
    sc.damaged = calloc(store->nparts + 1, 1);
    sc.ckpt_next = calloc(store->nparts + 1, sizeof *sc.ckpt_next);
    sc.last_pos = calloc(store->nparts + 1, sizeof *sc.last_pos);
    if (sc.damaged == NULL || sc.ckpt_next == NULL || sc.last_pos == NULL) {
        scan_free(&sc);
        return SL_ENOMEM;
    }
    /* The checkpoint's next offsets are floors whatever else happens:
     * every offset below them was acknowledged. */
    for (uint32_t id = 1; have_ckpt && id <= store->nparts; id++)
        sc.ckpt_next[id] = store->parts[id]->next_offset;
    if (lost_newest) {
        sl_log_error("recovery: the newest segment files are missing",
                     "newest_named_in_meta=%" PRIu64 " log_end=%" PRIu64,
                     store->seg_hwm, log_size_end);
        err = add_dmg(
            &sc, log_size_end < store->seg_hwm ? log_size_end : store->seg_hwm,
            store->seg_hwm + 1, 0);
        if (err != 0) {
            scan_free(&sc);
            return err;
        }
    }
    if (have_ckpt && (ckpt < first || ckpt > log_size_end)) {
        /* Log bytes the checkpoint describes are gone (files lost or cut
         * by hand): that is damage, never a reason to forget offsets. */
        sl_log_error("recovery: checkpoint outside the log",
                     "checkpoint=%" PRIu64 " log_start=%" PRIu64
                     " log_end=%" PRIu64,
                     ckpt, first, log_size_end);
        if (ckpt > log_size_end)
            err = add_dmg(&sc, log_size_end, ckpt, 0);
        else
            err = add_dmg(&sc, ckpt, first, 0);
        if (err != 0) {
            scan_free(&sc);
            return err;
        }
        have_ckpt = 0;
    }
    if (!have_ckpt) {
        for (uint32_t id = 1; id <= store->nparts; id++)
            reset_part(store->parts[id]);
        ckpt = first;
    }
    sc.ckpt_pos = ckpt;
    sc.have_ckpt = have_ckpt;
    int any_damaged = 0;
    /* Where the last batch below the checkpoint ends: P must be there, or
     * at the start of the newest segment (when no batch is in it). */
    uint64_t below_end = first;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        uint64_t last_end = 0;
        if (!have_ckpt || check_last_entry(store, part, ckpt, &sc.last_pos[id],
                                           &last_end) != 0) {
            if (have_ckpt)
                sl_log_warn("recovery: index damaged, rebuilding it from the "
                            "log",
                            "topic=%s partition=%s", part->topic, part->name);
            sc.damaged[id] = 1;
            sc.last_pos[id] = 0;
            any_damaged = 1;
            reset_part(part);
            /* Unlink rather than truncate to zero: ext4 flushes a file
             * truncated to zero on close (auto_da_alloc), which is slow. */
            char path[4096];
            sl_fdcache_drop(&store->wcache, id);
            sl_index_path(path, sizeof path, store->idxdir, id);
            if (unlink(path) != 0 && errno != ENOENT) {
                scan_free(&sc);
                return sl_err_from_errno(errno);
            }
        } else if (last_end > below_end) {
            below_end = last_end;
        }
    }
    if (have_ckpt && !any_damaged && ckpt != below_end &&
        (store->nsegs == 0 || ckpt != store->segs[store->nsegs - 1].start)) {
        /* A checkpoint whose position is not where its last batch ends
         * (inside an entry, say) would make the scan from it take the
         * rest of that entry for a torn tail and cut valid records (found
         * by fuzz_broker_checkpoint): the whole log is scanned instead. */
        sl_log_warn("recovery: checkpoint position is not an entry boundary; "
                    "rebuilding the indexes from the log",
                    "checkpoint=%" PRIu64 " last_batch_end=%" PRIu64, ckpt,
                    below_end);
        for (uint32_t id = 1; id <= store->nparts; id++) {
            char path[4096];
            sc.damaged[id] = 1;
            sc.last_pos[id] = 0;
            reset_part(store->parts[id]);
            sl_fdcache_drop(&store->wcache, id);
            sl_index_path(path, sizeof path, store->idxdir, id);
            if (unlink(path) != 0 && errno != ENOENT) {
                scan_free(&sc);
                return sl_err_from_errno(errno);
            }
        }
        any_damaged = 1;
    }
    uint64_t from = any_damaged ? first : ckpt;
    uint64_t prev_end = from;
    for (size_t i = 0; i < store->nsegs; i++) {
        char path[4096];
        sl__store_seg_path(store, store->segs[i].start, path, sizeof path);
        uint64_t seg_end = store->segs[i].start + file_size(path);
        if (i > 0 && store->segs[i].start != prev_end) {
            /* A missing segment file (below the checkpoint too): damage;
             * the segments after it are scanned and served all the same. */
            sl_log_error("recovery: gap between segments",
                         "expected=%" PRIu64 " found=%" PRIu64, prev_end,
                         store->segs[i].start);
            err =
                add_dmg(&sc,
                        prev_end < store->segs[i].start ? prev_end
                                                        : store->segs[i].start,
                        prev_end < store->segs[i].start ? store->segs[i].start
                                                        : prev_end,
                        0);
            if (err != 0)
                break;
        }
        if (seg_end <= from && i + 1 < store->nsegs &&
            store->segs[i + 1].start <= from) {
            prev_end = seg_end;
            continue;
        }
        uint64_t scan_from =
            from > store->segs[i].start ? from : store->segs[i].start;
        err = scan_one(&sc, i, scan_from, seg_end);
        if (err != 0)
            break;
        prev_end = seg_end;
    }
    if (err != 0) {
        scan_free(&sc);
        return err;
    }
    uint64_t end = sc.torn ? sc.torn_pos : log_size_end;
    if (store->nsegs == 0)
        end = have_ckpt ? ckpt : 0;
    sl_buf_t holes = SL_BUF_INIT;
    /* Offsets are never reused: a partition below its checkpointed next
     * offset lost acknowledged batches; one whose newest batches may lie
     * in damaged or torn bytes continues above its high-water mark (the
     * reservation in meta.log, written before any ack). */
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        uint64_t floor = sc.ckpt_next[id];
        int lost = 0;
        /* Holes an earlier recovery left at the end of the partition. */
        const sl_hole_t *hole;
        while (err == 0 &&
               (hole = find_hole(&sc, id, part->next_offset)) != NULL)
            err = put_virtual(store, part, hole->to, end, SL_INDEX_HOLE);
        if (part->next_offset < floor && part->slots == 0 && first > 0) {
            /* Retention deleted every batch this partition had. */
            part->next_offset = floor;
        } else if (part->next_offset < floor) {
            lost = 1;
            err = add_gap(&sc, id, part->next_offset, floor, 0);
            if (err == 0)
                err =
                    put_virtual(store, part, floor, end, SL_INDEX_QUARANTINED);
        }
        int exposed = lost || tail_exposed(&sc, id);
        if (err == 0 && exposed && part->reserved > part->next_offset) {
            err = add_gap(&sc, id, part->next_offset, part->reserved, 1);
            if (err == 0)
                err = put_virtual(store, part, part->reserved, end,
                                  SL_INDEX_QUARANTINED);
        }
        if (err == 0 && !exposed &&
            ((sc.torn && (sc.torn_part == 0 || sc.torn_part == id)) ||
             !sc.have_ckpt) &&
            part->reserved > part->next_offset) {
            /* The torn bytes may have held acknowledged batches of this
             * partition (a flipped bit in the last entry looks the same
             * as a torn write), and without a checkpoint nothing vouches
             * that no file was lost: skip to the high-water mark. The
             * skipped offsets hold nothing; reads pass over them. */
            sl_log_warn("recovery: offsets skipped to the high-water mark",
                        "topic=%s partition=%s from=%" PRIu64 " to=%" PRIu64,
                        part->topic, part->name, part->next_offset,
                        part->reserved);
            err = sl_meta_encode_hole(&holes, id, part->next_offset,
                                      part->reserved);
            if (err == 0)
                err = sl__store_note_hole(store, id, part->next_offset,
                                          part->reserved);
            if (err == 0)
                err = put_virtual(store, part, part->reserved, end,
                                  SL_INDEX_HOLE);
        }
        if (err != 0) {
            sl_buf_free(&holes);
            scan_free(&sc);
            return err;
        }
    }
    int meta_bad = store->meta_damage > 0 || store->lost_names > 0;
    if (meta_bad)
        sl_log_error("recovery: meta.log damaged or lost",
                     "damaged_ranges=%u names_lost=%u (see the lines above; "
                     "consumer-group offsets in the damaged part are lost)",
                     store->meta_damage, store->lost_names);
    if (sc.ndmg > 0 || sc.ngaps > 0 || meta_bad) {
        report(&sc, store->opts.quarantine_damaged);
        if (!store->opts.quarantine_damaged) {
            /* Indexes rebuilt by this scan already mark the damage; they
             * are dropped so that the next start-up finds it again and
             * stops again unless the operator chose the quarantine. */
            for (uint32_t id = 1; id <= store->nparts; id++) {
                if (!sc.damaged[id])
                    continue;
                char path[4096];
                sl_fdcache_drop(&store->wcache, id);
                sl_index_path(path, sizeof path, store->idxdir, id);
                unlink(path);
            }
            sl_buf_free(&holes);
            scan_free(&sc);
            return SL_EDAMAGED;
        }
        store->stats.damaged_ranges += sc.ndmg + sc.ngaps + store->meta_damage;
    }
    /* The skips are durable before any new offset is handed out, so a
     * later rebuild of the index accepts them; a damaged or incomplete
     * meta.log is rewritten whole (holes included). */
    if (store->meta_dirty || store->meta_damage > 0) {
        err = sl__store_meta_rewrite(store);
    } else {
        cut_meta_tail(store);
        err = sl__store_meta_append_now(store, &holes);
    }
    sl_buf_free(&holes);
    if (err != 0) {
        scan_free(&sc);
        return err;
    }
    if (sc.torn)
        cut_tail(store, sc.torn_pos);
    scan_free(&sc);
    store->log_end = end;
    store->durable_end = end;
    store->ckpt_done = have_ckpt && !any_damaged ? ckpt : first;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        part->durable_offset = part->next_offset;
        part->durable_slots = part->slots;
        part->file_slots = part->slots;
    }
    if (fresh)
        sl__store_ckpt_first(store);
    store->stats.recovery_ms = (sl_mono_ns() - t0) / 1000000;
    sl_log_info("recovery done",
                "log_start=%" PRIu64 " log_end=%" PRIu64 " checkpoint=%" PRIu64
                " scanned_entries=%" PRIu64 " partitions=%u ms=%" PRIu64,
                first, end, ckpt, store->stats.recovered_entries, store->nparts,
                store->stats.recovery_ms);
    return 0;
}
