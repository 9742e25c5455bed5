/*
 * The store's writer: the writer thread, which writes and syncs each
 * group, the checkpointer thread, and on the loop thread the hand-over of
 * groups, their completion, and the undo of a group refused for lack of
 * space.
 *
 * Write path: the loop thread encodes each put straight into the filling
 * group's buffer, assigning its position and offsets at once; its index
 * entry goes to the partition's in-memory index tail. At the end of every
 * loop turn (uv_check) the filling group is sealed and queued for the
 * writer thread (handed[]), which is woken only if it waits. The writer
 * takes every group sealed since it last looked, in order, as one batch
 * (group commit: one fsync covers everything that arrived while the
 * previous one ran), appends the metadata records (fsync), the log bytes
 * (write, then one fdatasync for the batch per the fsync mode), index
 * chunks (pwrite, no fsync) and, every checkpoint interval, a checkpoint;
 * then uv_async_send wakes the loop, which makes the data readable and
 * delivers the acks of all the batch's groups with one callback. The
 * writer does not wait for that: it takes the next batch at once, so the
 * loop's completion and the next sync overlap, and a put meets at most
 * the sync in progress and its own. The pool has SL__GROUPS groups; when
 * all are sealed, the filling group keeps filling.
 *
 * Disk full: a write that fails with ENOSPC or EDQUOT (a short write, a
 * segment that cannot be created, an index file that cannot grow) is
 * undone by the writer (files cut back to where the group started, its
 * new segments deleted, meta.log cut back to its last whole record), which
 * then takes nothing more (halted); the groups of its batch before it are
 * synced and complete. The loop thread rolls the group and every group
 * staged behind it (the rest of the batch, those still queued, and the
 * filling one) back in memory from their undo records and refuses their
 * writes (507). The next group tries again, so writes resume by
 * themselves. See rollback().
 */
#include "broker/store_int.h"

#include "broker/checkpoint.h"
#include "broker/meta.h"
#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "file.h"
#include "lib/metrics.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the writer thread --------------------------------------------------- */

static void fsync_dir_or_die(const char *dir) {
    if (sl_file_fsync_dir(dir) != 0)
        sl_fatal("cannot fsync directory", "dir=%s errno=%d", dir, errno);
}

/* Whether errno says the file system is out of space or quota. */
static int errno_nospace(int e) { return sl_err_from_errno(e) == SL_ENOSPC; }

/* Writes all of p[0..n) at the file offset (appending when at < 0).
 * Returns 0, or SL_ENOSPC when the file system is full (some bytes may
 * have been written: the caller undoes them). Any other error is fatal:
 * nothing more may be acknowledged. */
static int write_or_die(int fd, const uint8_t *p, size_t n, int64_t at,
                        const char *what) {
    int err = at < 0 ? sl_file_write_all(fd, p, n)
                     : sl_file_pwrite_all(fd, p, n, (uint64_t)at);
    if (err != 0 && err != SL_ENOSPC)
        sl_fatal("write failed; refusing to acknowledge anything more",
                 "file=%s errno=%d", what, errno);
    return err;
}

static void timed_sync(sl_store_t *store, sl_group_t *g, int fd,
                       const char *what) {
    uint64_t t0 = sl_mono_ns();
    if (fdatasync(fd) != 0)
        sl_fatal("fsync failed; refusing to acknowledge anything more",
                 "file=%s errno=%d", what, errno);
    uint64_t ns = sl_mono_ns() - t0;
    __atomic_store_n(&store->last_sync_ns, sl_mono_ns(), __ATOMIC_RELAXED);
    sl_metrics_hist_observe_ns(&store->stats.fsync_hist, ns);
    if (g) {
        if (g->fsyncs < SL__GROUP_FSYNCS)
            g->fsync_us[g->fsyncs] =
                ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
        g->fsyncs++;
        g->fsync_ns += ns;
        if (ns > g->fsync_max_ns)
            g->fsync_max_ns = ns;
    }
}

/* Starts the segment at start. SL_ENOSPC when it cannot be created. */
static int roll_segment(sl_store_t *store, sl_group_t *g, uint64_t start) {
    if (store->wfd >= 0) {
        if (store->opts.fsync_mode != SL_FSYNC_NEVER)
            timed_sync(store, g, store->wfd, "segment");
        close(store->wfd);
        store->wfd = -1;
    }
    char path[4096];
    sl__store_seg_path(store, start, path, sizeof path);
    store->wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (store->wfd < 0) {
        if (errno_nospace(errno))
            return SL_ENOSPC;
        sl_fatal("cannot create segment", "segment=%s errno=%d", path, errno);
    }
    if (store->opts.fsync_mode != SL_FSYNC_NEVER)
        fsync_dir_or_die(store->logdir);
    store->wseg_start = start;
    store->wpos = start;
    return 0;
}

/* SL_ENOSPC when an index file cannot be created or grown. */
static int write_index(sl_store_t *store, sl_group_t *g) {
    const uint8_t *p = g->ichunks.data, *end = p + g->ichunks.len;
    while (p < end) {
        uint32_t id = sl_get_u32be(p);
        uint64_t slot = sl_get_u64be(p + 4);
        size_t len = (size_t)sl_get_u32be(p + 12) * SL_INDEX_ENTRY;
        int fd = sl_fdcache_get(&store->wcache, id);
        if (fd == SL_ENOSPC)
            return fd;
        if (fd < 0)
            sl_fatal("cannot open index", "partition=%u err=%s", id,
                     sl_strerror(fd));
        int err = write_or_die(fd, p + 16, len,
                               (int64_t)(slot * SL_INDEX_ENTRY), "index");
        if (err != 0)
            return err;
        p += 16 + len;
    }
    return 0;
}

/* Undoes a group's log bytes after a write failed for lack of space: the
 * segments the group created are deleted, and the one it started in is
 * cut back to where the group started. Nothing of it was acknowledged. */
static void undo_data(sl_store_t *store, sl_group_t *g, int had_seg,
                      uint64_t seg0, size_t created) {
    if (created > 0) {
        if (store->wfd >= 0)
            close(store->wfd);
        store->wfd = -1;
        for (size_t i = 0; i < created; i++) {
            char path[4096];
            sl__store_seg_path(store, sl_get_u64be(g->rolls.data + i * 8), path,
                               sizeof path);
            if (unlink(path) != 0 && errno != ENOENT)
                sl_fatal("cannot delete a segment that could not be written",
                         "segment=%s errno=%d", path, errno);
        }
        if (had_seg) {
            char path[4096];
            sl__store_seg_path(store, seg0, path, sizeof path);
            store->wfd = open(path, O_WRONLY | O_CLOEXEC);
            if (store->wfd < 0)
                sl_fatal("cannot reopen segment", "segment=%s errno=%d", path,
                         errno);
            store->wseg_start = seg0;
        }
    }
    if (store->wfd >= 0) {
        off_t keep = (off_t)(g->start - store->wseg_start);
        if (ftruncate(store->wfd, keep) != 0 ||
            lseek(store->wfd, keep, SEEK_SET) != keep)
            sl_fatal("cannot cut back a segment after a failed write",
                     "segment_start=%" PRIu64 " errno=%d", store->wseg_start,
                     errno);
    }
    store->wpos = g->start;
}

/* Writes the group's log bytes (starting segments where it rolls) and its
 * index chunks. SL_ENOSPC after undoing what was written. */
static int write_data(sl_store_t *store, sl_group_t *g) {
    int had_seg = store->wfd >= 0;
    uint64_t seg0 = store->wseg_start;
    size_t created = 0;
    int err = 0;
    if (g->data.len > 0) {
        uint64_t pos = g->start;
        const uint8_t *p = g->data.data;
        size_t nrolls = g->rolls.len / 8;
        for (size_t r = 0; r <= nrolls && err == 0; r++) {
            uint64_t until = r < nrolls ? sl_get_u64be(g->rolls.data + r * 8)
                                        : g->start + g->data.len;
            if (until > pos) {
                SL_ASSERT(store->wfd >= 0 && store->wpos == pos);
                err = write_or_die(store->wfd, p, (size_t)(until - pos), -1,
                                   "segment");
                if (err != 0)
                    break;
                p += until - pos;
                store->wpos = until;
                pos = until;
            }
            if (r < nrolls) {
                /* Counted even when the open failed: the undo then finds
                 * no file to delete, and reopens the previous segment. */
                err = roll_segment(store, g, until);
                created++;
            }
        }
        SL_ASSERT(err != 0 || p == g->data.data + g->data.len);
    }
    /* Index entries may reach their files before the log bytes are
     * synced: readers and recovery use only entries below what is durable
     * and checkpointed. Writing them before the sync lets a full disk
     * here undo the group as a whole. */
    if (err == 0 && g->ichunks.len > 0)
        err = write_index(store, g);
    if (err != 0 && g->data.len > 0)
        undo_data(store, g, had_seg, seg0, created);
    return err;
}

/* Writes one group's metadata bytes (synced at once: partition names and
 * offset marks must be durable before log bytes that use them) and its log
 * bytes and index chunks (synced by the caller). 0, or SL_ENOSPC after
 * undoing what it wrote (g->err_meta and g->err_data say what failed). */
static int write_group(sl_store_t *store, sl_group_t *g) {
    if (g->meta.len > 0) {
        int err = write_or_die(store->meta_fd, g->meta.data, g->meta.len, -1,
                               "meta.log");
        if (err != 0) {
            /* Cut the metadata log back to its last whole record. */
            if (ftruncate(store->meta_fd, (off_t)store->meta_size) != 0 ||
                lseek(store->meta_fd, (off_t)store->meta_size, SEEK_SET) !=
                    (off_t)store->meta_size)
                sl_fatal("cannot cut back meta.log after a failed write",
                         "errno=%d", errno);
            g->err_meta = g->err_data = err;
            return err;
        }
        store->meta_size += g->meta.len;
        if (store->opts.fsync_mode != SL_FSYNC_NEVER)
            timed_sync(store, g, store->meta_fd, "meta.log");
    }
    if (g->data.len > 0 || g->ichunks.len > 0) {
        int err = write_data(store, g);
        if (err != 0) {
            g->err_data = err;
            return err;
        }
    }
    return 0;
}

/* Writes the batch g[0..n) (group commit: every group the loop sealed
 * while the previous batch was being synced) and syncs the log once for
 * all of them, per the fsync mode. Only g[0] may hold metadata bytes (see
 * take()), so metadata is always durable before the log bytes that need
 * it, and a group refused for lack of space never leaves metadata of the
 * groups behind it on disk. The groups after one that failed are marked
 * skipped, and those before it are synced and complete normally. Returns
 * whether a group failed. */
static int process_batch(sl_store_t *store, sl_group_t **g, size_t n) {
    int mode = store->opts.fsync_mode;
    int failed = 0, sync_only = 0;
    sl_group_t *last = NULL; /* The last group written: it reports the
                                batch's sync. */
    for (size_t i = 0; i < n; i++) {
        g[i]->err_meta = g[i]->err_data = 0;
        g[i]->skipped = failed;
        if (failed)
            continue;
        sync_only |= g[i]->sync_only;
        if (write_group(store, g[i]) != 0) {
            failed = 1;
            continue;
        }
        if (g[i]->data.len > 0) {
            last = g[i];
            store->dirty = 1;
        }
    }
    if (store->wfd >= 0 && store->dirty &&
        (mode == SL_FSYNC_ALWAYS ||
         (mode == SL_FSYNC_INTERVAL &&
          (sync_only || sl_mono_ns() - __atomic_load_n(&store->last_sync_ns,
                                                       __ATOMIC_RELAXED) >=
                            store->opts.fsync_interval_ms * 1000000u)))) {
        /* Interval mode's timer sends a group with sync_only set: sync
         * what earlier groups wrote. */
        timed_sync(store, last ? last : g[0], store->wfd, "segment");
        store->dirty = 0;
    }
    if (mode == SL_FSYNC_NEVER)
        store->dirty = 0;
    /* The newest checkpoint of the groups written; an older one in the
     * same batch is superseded by it. */
    sl_group_t *ck = NULL;
    for (size_t i = 0; i < n; i++)
        if (!g[i]->skipped && g[i]->err_data == 0 && g[i]->ckpt.len > 0)
            ck = g[i];
    if (ck != NULL) {
        /* One checkpoint at a time; they are seconds apart, so waiting
         * here is rare. */
        pthread_mutex_lock(&store->ckmu);
        while (store->ck_busy)
            pthread_cond_wait(&store->ckcv, &store->ckmu);
        sl_buf_t t = store->ckjob;
        store->ckjob = ck->ckpt;
        ck->ckpt = t;
        sl_buf_reset(&ck->ckpt);
        store->ckjob_pos = ck->ckpt_pos;
        store->ck_busy = 1;
        pthread_cond_broadcast(&store->ckcv);
        pthread_mutex_unlock(&store->ckmu);
    }
    return failed;
}

static void *ckpt_main(void *arg) {
    sl_store_t *store = arg;
    pthread_mutex_lock(&store->ckmu);
    for (;;) {
        while (!store->ck_busy && !store->ck_stop)
            pthread_cond_wait(&store->ckcv, &store->ckmu);
        if (!store->ck_busy)
            break;
        pthread_mutex_unlock(&store->ckmu);
        int err = sl__store_ckpt_write(store, &store->ckjob);
        pthread_mutex_lock(&store->ckmu);
        store->ck_result_pos = store->ckjob_pos;
        store->ck_result = err == 0 ? 1 : 2;
        store->ck_busy = 0;
        pthread_cond_broadcast(&store->ckcv);
        uv_async_send(&store->async);
    }
    pthread_mutex_unlock(&store->ckmu);
    return NULL;
}

/* Takes the groups to write next (with mu held): every sealed group not
 * yet taken, in order, except that a group with metadata bytes starts a
 * batch of its own (process_batch()). */
static size_t take(sl_store_t *store, sl_group_t **batch) {
    size_t n = 0;
    while (store->wtaken < store->nhanded &&
           (n == 0 || store->handed[store->wtaken]->meta.len == 0))
        batch[n++] = store->handed[store->wtaken++];
    return n;
}

static void *writer_main(void *arg) {
    sl_store_t *store = arg;
    sl_group_t *batch[SL__GROUPS];
    pthread_mutex_lock(&store->mu);
    for (;;) {
        while ((store->wtaken == store->nhanded || store->halted) &&
               !store->stopping) {
            store->wwaiting = 1;
            pthread_cond_wait(&store->cv, &store->mu);
            store->wwaiting = 0;
        }
        if (store->wtaken == store->nhanded || store->halted)
            break; /* Stopping, and nothing more to write. */
        size_t n = take(store, batch);
        pthread_mutex_unlock(&store->mu);
        int failed = process_batch(store, batch, n);
        pthread_mutex_lock(&store->mu);
        store->wdone += n;
        /* The groups sealed behind a refused one were built on it: the
         * loop rolls them back, so nothing more is written until then. */
        if (failed)
            store->halted = 1;
        uv_async_send(&store->async);
    }
    pthread_mutex_unlock(&store->mu);
    return NULL;
}

void sl__store_group_free(sl_group_t *g) {
    sl_buf_free(&g->data);
    sl_buf_free(&g->rolls);
    sl_buf_free(&g->index);
    sl_buf_free(&g->ichunks);
    sl_buf_free(&g->meta);
    sl_buf_free(&g->ckpt);
    sl_buf_free(&g->undo);
    free(g->acks);
    free(g->wkinds);
    memset(g, 0, sizeof *g);
}

int sl__store_add_ack(sl_group_t *g, const sl_ack_t *ack, uint32_t wkind) {
    if (g->nacks == g->capacks) {
        size_t cap = g->capacks ? g->capacks * 2 : 1024;
        sl_ack_t *a = realloc(g->acks, cap * sizeof *a);
        if (a == NULL)
            return SL_ENOMEM;
        g->acks = a;
        uint8_t *k = realloc(g->wkinds, cap);
        if (k == NULL)
            return SL_ENOMEM;
        g->wkinds = k;
        g->capacks = cap;
    }
    g->acks[g->nacks] = *ack;
    g->wkinds[g->nacks] = (uint8_t)wkind;
    g->nacks++;
    return 0;
}

static void add_ack_or_die(sl_group_t *g, const sl_ack_t *ack, uint32_t wkind) {
    if (sl__store_add_ack(g, ack, wkind) != 0)
        sl_fatal("out of memory refusing acks", NULL);
}

static int group_has_work(const sl_group_t *g) {
    return g->data.len || g->meta.len || g->nacks || g->index.len ||
           g->ichunks.len || g->ckpt.len || g->sync_only;
}

/* Moves the part of a partition's index tail not yet handed over into the
 * group's index writes. */
int sl__store_hand_tail(sl_group_t *g, sl_part_t *part) {
    uint32_t n = part->ntail - part->handed;
    if (n == 0)
        return 0;
    uint8_t *c = sl_buf_extend(&g->ichunks, 16 + (size_t)n * SL_INDEX_ENTRY);
    if (c == NULL)
        return SL_ENOMEM;
    sl_put_u32be(c, part->id);
    sl_put_u64be(c + 4, part->file_slots + part->handed);
    sl_put_u32be(c + 12, n);
    memcpy(c + 16, part->itail + (size_t)part->handed * SL_INDEX_ENTRY,
           (size_t)n * SL_INDEX_ENTRY);
    part->handed += n;
    return 0;
}

static size_t group_bytes(const sl_group_t *g) {
    return g->data.len + g->meta.len + g->index.len + g->ichunks.len;
}

/* Seals the filling group and hands it to the writer, at the end of every
 * loop turn (and after completions), whether or not the writer is busy: a
 * busy writer takes every group sealed meanwhile as one batch when its
 * sync is done, without waiting for the loop to complete the previous
 * batch. The writer is woken only when it waits. With every group of the
 * pool in use, the filling group just keeps filling. */
static void kick(sl_store_t *store) {
    if (store->nfree == 0 || store->closing > 1)
        return;
    sl_group_t *g = store->filling;
    if (store->want_ckpt) {
        /* Every index entry below the checkpoint must reach its file. */
        for (uint32_t id = 1; id <= store->nparts; id++)
            if (sl__store_hand_tail(g, store->parts[id]) != 0)
                return;
        store->want_ckpt = 0;
        g->ckpt_pos = store->log_end;
        if (sl_ckpt_encode(store, store->log_end, &g->ckpt) != 0)
            sl_buf_reset(&g->ckpt);
        store->last_ckpt_ns = sl_mono_ns();
    }
    if (!group_has_work(g))
        return;
    /* After a write failed for lack of space, a group holding only
     * carried-over metadata (no client waiting, no checkpoint, no interval
     * fsync due) waits a second: retrying it at once would spin on a full
     * disk. */
    if (store->stats.disk_full && g->nacks == 0 && g->ckpt.len == 0 &&
        !g->sync_only && sl_mono_ns() - store->nospace_ns < 1000000000u)
        return;
    g->nparts_hi = store->nparts;
    store->filling = store->gfree[--store->nfree];
    store->filling->start = store->log_end;
    store->handed_bytes += group_bytes(g);
    pthread_mutex_lock(&store->mu);
    store->handed[store->nhanded++] = g;
    if (store->wwaiting)
        pthread_cond_signal(&store->cv);
    pthread_mutex_unlock(&store->mu);
}

void sl_store_kick(sl_store_t *store) { kick(store); }

static void reset_group(sl_group_t *g) {
    /* Keep the storage for the next turn, unless one burst made it huge
     * (the pool's SL__GROUPS groups keep at most 128 MiB between them). */
    if (g->data.cap > (16u << 20))
        sl_buf_free(&g->data);
    sl_buf_reset(&g->data);
    sl_buf_reset(&g->rolls);
    sl_buf_reset(&g->index);
    sl_buf_reset(&g->ichunks);
    sl_buf_reset(&g->meta);
    sl_buf_reset(&g->ckpt);
    sl_buf_reset(&g->undo);
    g->nacks = 0;
    g->sync_only = 0;
    g->err_meta = g->err_data = g->skipped = 0;
    g->fsyncs = g->fsync_ns = g->fsync_max_ns = 0;
}

/* ---- undoing a group refused for lack of space (loop thread) ------------- */

/* Undo records, appended to a group's undo buffer as it is staged and
 * walked backwards: a body followed by its u32 length.
 *   'P' u32 part id, u32 producer index, u8 was new, sl_prod_t before
 *   'K' u32 part id, u32 Kafka producer index, u8 was new, sl_kprod_t
 *       before
 *   'C' u32 part id, u8 had an offset, u64 offset before, group name */
int sl__store_undo_push(sl_group_t *g, const uint8_t *body, size_t n) {
    uint8_t *p = sl_buf_extend(&g->undo, n + 4);
    if (p == NULL)
        return SL_ENOMEM;
    memcpy(p, body, n);
    sl_put_u32be(p + n, (uint32_t)n);
    return 0;
}

int sl__store_undo_note_producer(sl_group_t *g, const sl_part_t *part,
                                 int64_t producer, uint64_t seq) {
    uint8_t b[24 + sizeof(sl_prod_t)];
    uint32_t i = 0;
    while (i < part->nprods && part->prods[i].producer != producer)
        i++;
    b[0] = 'P';
    sl_put_u32be(b + 1, part->id);
    sl_put_u32be(b + 5, i);
    b[9] = i == part->nprods;
    if (i < part->nprods)
        memcpy(b + 10, &part->prods[i], sizeof(sl_prod_t));
    else
        memset(b + 10, 0, sizeof(sl_prod_t));
    sl_put_u64be(b + 10 + sizeof(sl_prod_t), seq);
    return sl__store_undo_push(g, b, 18 + sizeof(sl_prod_t));
}

int sl__store_undo_note_kprod(sl_group_t *g, const sl_part_t *part,
                              int64_t pid) {
    uint8_t b[10 + sizeof(sl_kprod_t)];
    uint32_t i = 0;
    while (i < part->nkprods && part->kprods[i].pid != pid)
        i++;
    b[0] = 'K';
    sl_put_u32be(b + 1, part->id);
    sl_put_u32be(b + 5, i);
    b[9] = i == part->nkprods;
    if (i < part->nkprods)
        memcpy(b + 10, &part->kprods[i], sizeof(sl_kprod_t));
    else
        memset(b + 10, 0, sizeof(sl_kprod_t));
    return sl__store_undo_push(g, b, sizeof b);
}

/* Restores producer state (and, when commits_too, group offsets) changed
 * by the group, newest first. A Kafka producer's state simply goes back:
 * its batches after the refused one then fail as out of order, which
 * Kafka's clients expect after a failed batch. */
static void undo_group(sl_store_t *store, sl_group_t *g, int commits_too) {
    size_t end = g->undo.len;
    while (end > 0) {
        uint32_t n = sl_get_u32be(g->undo.data + end - 4);
        const uint8_t *b = g->undo.data + end - 4 - n;
        end -= 4 + (size_t)n;
        sl_part_t *part = store->parts[sl_get_u32be(b + 1)];
        if (b[0] == 'K') {
            uint32_t i = sl_get_u32be(b + 5);
            if (b[9]) {
                SL_ASSERT(i + 1 == part->nkprods);
                part->nkprods--;
            } else {
                memcpy(&part->kprods[i], b + 10, sizeof(sl_kprod_t));
            }
        } else if (b[0] == 'P') {
            uint32_t i = sl_get_u32be(b + 5);
            int64_t producer = part->prods[i].producer;
            if (b[9]) {
                SL_ASSERT(i + 1 == part->nprods);
                part->nprods--;
            } else {
                memcpy(&part->prods[i], b + 10, sizeof(sl_prod_t));
            }
            sl__store_fence_set(store, part, producer,
                                sl_get_u64be(b + 10 + sizeof(sl_prod_t)),
                                SL_ENOSPC);
        } else if (commits_too) {
            uint64_t *v = sl__store_group_slot(store, (const char *)b + 14,
                                               n - 14, part->id);
            if (v != NULL)
                *v = b[5] ? sl_get_u64be(b + 6) : SL__GROUP_NONE;
        }
    }
}

/* Rewinds a partition to what is durable. */
static void rewind_part(sl_store_t *store, uint32_t id) {
    sl_part_t *part = store->parts[id];
    part->next_offset = part->durable_offset;
    part->slots = part->durable_slots;
    part->ntail = (uint32_t)(part->durable_slots - part->file_slots);
    part->handed = 0;
    /* The group's high-water-mark record may have been undone with it:
     * the next append writes a new one (recovery keeps the largest). */
    part->reserved = 0;
}

static void rewind_parts(sl_store_t *store, sl_group_t *g) {
    size_t n = g->index.len / SL__INDEX_REC;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = g->index.data + i * SL__INDEX_REC;
        rewind_part(store, sl_get_u32be(r));
        store->stats.puts -= sl_get_u32be(r + 12 + 20);
        store->stats.put_batches--;
    }
    for (const uint8_t *c = g->ichunks.data, *ce = c + g->ichunks.len; c < ce;
         c += 16 + (size_t)sl_get_u32be(c + 12) * SL_INDEX_ENTRY)
        rewind_part(store, sl_get_u32be(c));
}

/* Marks the acks of g whose write failed and appends them to out. */
static void refuse_acks(sl_store_t *store, sl_group_t *out, sl_group_t *g,
                        int meta_failed) {
    for (size_t i = 0; i < g->nacks; i++) {
        sl_ack_t a = g->acks[i];
        uint8_t wk = g->wkinds[i];
        if (wk == SL__WK_DATA || (wk == SL__WK_META && meta_failed)) {
            a.extra = SL_ACK_NOSPACE;
            store->stats.nospace_refused++;
        }
        if (out != g)
            add_ack_or_die(out, &a, wk);
        else
            g->acks[i] = a;
    }
}

/* The writer could not store group g = handed[0] for lack of space and
 * undid its files. Everything staged after it (the groups sealed behind
 * it, which the writer did not write, and the filling group) was built on
 * it, so all are rolled back to what is durable: offsets, index tails,
 * producer state, group offsets whose records were not written, and
 * segments they started. Their puts and commits are refused (err =
 * SL_ENOSPC, a 507 reply); names of partitions they created stay in
 * memory and are staged again, so later data never lacks its name.
 * Reads need no new space and go on; so does the next write attempt. */
static void rollback(sl_store_t *store) {
    sl_group_t *g = store->handed[0];
    sl_group_t *f = store->filling;
    size_t nh = store->nhanded;
    int meta_failed = g->err_meta != 0;
    if (!meta_failed)
        store->meta_parts = g->nparts_hi;
    /* Newest first: each undo record restores the state before it. */
    undo_group(store, f, 1);
    for (size_t i = nh; i-- > 1;)
        undo_group(store, store->handed[i], 1);
    undo_group(store, g, meta_failed);
    size_t drop = f->rolls.len / 8;
    rewind_parts(store, f);
    for (size_t i = 0; i < nh; i++) {
        rewind_parts(store, store->handed[i]);
        drop += store->handed[i]->rolls.len / 8;
    }
    SL_ASSERT(drop <= store->nsegs);
    for (size_t i = store->nsegs - drop; i < store->nsegs; i++)
        if (store->segs[i].rfd >= 0)
            close(store->segs[i].rfd);
    store->nsegs -= drop;
    store->log_end = store->durable_end;
    /* Likewise a segment-name record: name the newest segment again; and
     * the producer-id mark may have been refused: the next id writes one
     * (ids already handed out are never handed out again). */
    store->have_seg_hwm = 0;
    store->kpid_reserved = store->kpid_next;
    uint64_t before = store->stats.nospace_refused;
    refuse_acks(store, g, g, meta_failed);
    for (size_t i = 1; i < nh; i++)
        refuse_acks(store, g, store->handed[i], 1);
    refuse_acks(store, g, f, 1);
    store->stats.nospace_groups++;
    if (!store->stats.disk_full)
        sl_log_error("disk full: write undone, puts and commits refused "
                     "with 507 until space returns (reads go on; writes are "
                     "retried with every new group)",
                     "refused=%" PRIu64 " log_end=%" PRIu64,
                     store->stats.nospace_refused - before, store->log_end);
    store->stats.disk_full = 1;
    store->nospace_ns = sl_mono_ns();
    reset_group(f);
    f->start = store->log_end;
    for (uint32_t id = store->meta_parts + 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        if (sl_meta_encode_part(&f->meta, id, part->topic, strlen(part->topic),
                                part->name, strlen(part->name)) != 0)
            sl_fatal("out of memory staging partition names again", NULL);
    }
    /* The groups behind g go back to the pool, and the writer may go on
     * (it took nothing after g: halted). */
    for (size_t i = 1; i < nh; i++) {
        reset_group(store->handed[i]);
        store->gfree[store->nfree++] = store->handed[i];
    }
    pthread_mutex_lock(&store->mu);
    SL_ASSERT(store->halted && store->wtaken == store->wdone);
    store->nhanded = store->wtaken = store->wdone = 0;
    store->halted = 0;
    pthread_mutex_unlock(&store->mu);
    store->handed_bytes = 0;
    /* The acks go out last: the callback may stage new work into f. */
    if (g->nacks && store->acks_cb)
        store->acks_cb(store, g->acks, g->nacks);
    reset_group(g);
    store->gfree[store->nfree++] = g;
}

/* Before part's tail entries [file_slots, file_slots + k) leave it for
 * the index file: when first_slot is among them, its base offset is
 * noted for sl_store_bounds, which then never reads the file for it (with
 * 10,000 partitions, each Produce reply's log start offset cost an open,
 * a pread and a close of an index file on the loop thread). */
static void note_first_base(sl_part_t *part, uint32_t k) {
    uint64_t at = part->first_slot - part->file_slots;
    if (part->first_slot < part->file_slots || at >= k ||
        part->first_base_at == part->first_slot + 1)
        return;
    sl_index_entry_t ie;
    if (sl_index_decode(part->itail + at * SL_INDEX_ENTRY, &ie) != 0 ||
        ie.part_id != part->id)
        return; /* sl_store_bounds reads it, and reports the damage. */
    part->first_base = ie.base_offset;
    part->first_base_at = part->first_slot + 1;
}

/* Makes the written group g readable: durable positions, the index
 * entries written leave their partitions' tails, and its acks join those
 * to deliver this turn. */
static void finish(sl_store_t *store, sl_group_t *g) {
    store->meta_parts = g->nparts_hi;
    if (store->stats.disk_full && (g->data.len > 0 || g->meta.len > 0)) {
        store->stats.disk_full = 0;
        sl_log_info("disk space available again: puts are stored", NULL);
    }
    store->stats.groups++;
    store->stats.bytes_written += g->data.len;
    if (g->data.len)
        store->durable_end = g->start + g->data.len;
    size_t n = g->index.len / SL__INDEX_REC;
    sl_part_t *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = g->index.data + i * SL__INDEX_REC;
        uint32_t id = sl_get_u32be(r);
        sl_part_t *part = last && last->id == id ? last : store->parts[id];
        part->durable_slots = sl_get_u64be(r + 4) + 1;
        part->durable_offset = sl_get_u64be(r + 12) + sl_get_u32be(r + 12 + 20);
        part->advanced = 1;
        last = part;
    }
    /* The index entries written leave the front of their partition's
     * tail. A group holds one chunk per SL__INDEX_CHUNK entries, so the
     * chunks of a partition are summed first and its tail is moved once:
     * moving it per chunk cost the whole tail per chunk (quadratic in the
     * puts of a turn: the single-put profile was 60 % memmove). An empty
     * buffer's data is NULL, and NULL + 0 is undefined. */
    const uint8_t *cbeg = g->ichunks.data;
    const uint8_t *cend = cbeg ? cbeg + g->ichunks.len : cbeg;
    for (const uint8_t *c = cbeg; c < cend;) {
        sl_part_t *part = store->parts[sl_get_u32be(c)];
        uint32_t k = sl_get_u32be(c + 12);
        /* Chunks are written in order, so they are the tail's front. */
        SL_ASSERT(sl_get_u64be(c + 4) == part->file_slots + part->idrop &&
                  part->handed >= part->idrop + k);
        part->idrop += k;
        c += 16 + (size_t)k * SL_INDEX_ENTRY;
    }
    for (const uint8_t *c = cbeg; c < cend;) {
        sl_part_t *part = store->parts[sl_get_u32be(c)];
        uint32_t k = part->idrop;
        c += 16 + (size_t)sl_get_u32be(c + 12) * SL_INDEX_ENTRY;
        if (k == 0)
            continue;
        note_first_base(part, k);
        memmove(part->itail, part->itail + (size_t)k * SL_INDEX_ENTRY,
                (size_t)(part->ntail - k) * SL_INDEX_ENTRY);
        part->ntail -= k;
        part->handed -= k;
        part->file_slots += k;
        part->idrop = 0;
    }
    if (g->nacks == 0)
        return;
    if (store->nacks_out + g->nacks > store->capacks_out) {
        size_t cap = store->capacks_out ? store->capacks_out : 1024;
        while (cap < store->nacks_out + g->nacks)
            cap *= 2;
        sl_ack_t *a = realloc(store->acks_out, cap * sizeof *a);
        if (a == NULL)
            sl_fatal("out of memory delivering acks", NULL);
        store->acks_out = a;
        store->capacks_out = cap;
    }
    memcpy(store->acks_out + store->nacks_out, g->acks,
           g->nacks * sizeof *g->acks);
    store->nacks_out += g->nacks;
}

/* On the loop thread, when the writer has written groups: completes them
 * in order (one acks callback for all of them), rolls back from a group
 * refused for lack of space, and seals the next group. */
static void complete(sl_store_t *store) {
    if (store->ck_started) {
        pthread_mutex_lock(&store->ckmu);
        if (store->ck_result == 1) {
            store->ckpt_done = store->ck_result_pos;
            store->stats.checkpoints++;
        } else if (store->ck_result == 2) {
            store->stats.checkpoints_skipped++;
        }
        store->ck_result = 0;
        pthread_mutex_unlock(&store->ckmu);
    }
    pthread_mutex_lock(&store->mu);
    size_t k = store->wdone;
    pthread_mutex_unlock(&store->mu);
    if (k == 0)
        return;
    sl_group_t *done[SL__GROUPS];
    memcpy(done, store->handed, k * sizeof *done);
    size_t nok = 0;
    for (size_t i = 0; i < k; i++) {
        sl_group_t *g = done[i];
        for (uint64_t j = 0; j < g->fsyncs && j < SL__GROUP_FSYNCS; j++)
            store->fsync_ring[(store->stats.fsyncs + j) % SL__FSYNC_RING] =
                g->fsync_us[j];
        store->stats.fsyncs += g->fsyncs;
        store->stats.fsync_ns += g->fsync_ns;
        if (g->fsync_max_ns > store->stats.fsync_max_ns)
            store->stats.fsync_max_ns = g->fsync_max_ns;
        if (nok == i && g->err_data == 0 && !g->skipped)
            nok++;
    }
    for (size_t i = 0; i < nok; i++)
        finish(store, done[i]);
    /* Out of the queue before any callback, which may seal a new group. */
    pthread_mutex_lock(&store->mu);
    memmove(store->handed, store->handed + nok,
            (store->nhanded - nok) * sizeof *store->handed);
    store->nhanded -= nok;
    store->wtaken -= nok;
    store->wdone -= nok;
    pthread_mutex_unlock(&store->mu);
    for (size_t i = 0; i < nok; i++)
        store->handed_bytes -= group_bytes(done[i]);
    if (store->nacks_out > 0 && store->acks_cb) {
        size_t n = store->nacks_out;
        store->nacks_out = 0;
        store->acks_cb(store, store->acks_out, n);
    }
    store->nacks_out = 0;
    for (size_t i = 0; i < nok; i++) {
        sl_group_t *g = done[i];
        size_t n = g->index.len / SL__INDEX_REC;
        for (size_t j = 0; j < n; j++) {
            sl_part_t *part =
                store->parts[sl_get_u32be(g->index.data + j * SL__INDEX_REC)];
            if (part->advanced) {
                part->advanced = 0;
                if ((part->waiters || part->kwaiters) && store->advance_cb)
                    store->advance_cb(store, part);
            }
        }
        reset_group(g);
        store->gfree[store->nfree++] = g;
    }
    if (nok < k)
        rollback(store);
    kick(store);
}

static void async_cb(uv_async_t *h) { complete(h->data); }

static void check_cb(uv_check_t *h) { kick(h->data); }

int sl__store_writer_start(sl_store_t *store) {
    if (store->nsegs > 0) {
        uint64_t start = store->segs[store->nsegs - 1].start;
        char path[4096];
        sl__store_seg_path(store, start, path, sizeof path);
        store->wfd = open(path, O_WRONLY | O_CLOEXEC);
        if (store->wfd < 0 ||
            lseek(store->wfd, (off_t)(store->log_end - start), SEEK_SET) < 0)
            return SL_EIO;
        store->wseg_start = start;
        store->wpos = store->log_end;
    }
    pthread_mutex_init(&store->mu, NULL);
    pthread_cond_init(&store->cv, NULL);
    pthread_mutex_init(&store->ckmu, NULL);
    pthread_cond_init(&store->ckcv, NULL);
    store->dirfd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->dirfd < 0)
        return SL_EIO;
    if (pthread_create(&store->thread, NULL, writer_main, store) != 0)
        return SL_ESYS;
    store->thread_started = 1;
    if (pthread_create(&store->ckthread, NULL, ckpt_main, store) != 0)
        sl_fatal("cannot start the checkpoint thread", NULL);
    store->ck_started = 1;
    uv_async_init(store->loop, &store->async, async_cb);
    store->async.data = store;
    uv_check_init(store->loop, &store->check);
    store->check.data = store;
    uv_check_start(&store->check, check_cb);
    return 0;
}

/* Waits (blocking) until the writer wrote every sealed group (or stopped
 * at one refused for lack of space), then completes them. */
static void wait_writer(sl_store_t *store) {
    for (;;) {
        pthread_mutex_lock(&store->mu);
        int busy = store->wdone < store->nhanded && !store->halted;
        pthread_mutex_unlock(&store->mu);
        if (!busy)
            break;
        usleep(500);
    }
    complete(store);
}

void sl__store_writer_stop(sl_store_t *store) {
    /* Drain what is staged and write a final checkpoint. Blocking here is
     * fine: the server stopped accepting work. */
    store->closing = 1;
    wait_writer(store);
    store->want_ckpt = 1;
    kick(store);
    wait_writer(store);
    kick(store);
    wait_writer(store);
    store->closing = 2;
    pthread_mutex_lock(&store->mu);
    store->stopping = 1;
    pthread_cond_signal(&store->cv);
    pthread_mutex_unlock(&store->mu);
    pthread_join(store->thread, NULL);
    store->thread_started = 0;
    /* Let the final checkpoint finish, then stop its thread. */
    pthread_mutex_lock(&store->ckmu);
    while (store->ck_busy)
        pthread_cond_wait(&store->ckcv, &store->ckmu);
    store->ck_stop = 1;
    pthread_cond_broadcast(&store->ckcv);
    pthread_mutex_unlock(&store->ckmu);
    pthread_join(store->ckthread, NULL);
    store->ck_started = 0;
}
