/*
 * The commit log: opening and closing the store, staging appends and
 * group offsets, reads and retention.
 *
 * Layout on disk, under the data directory DIR:
 *   DIR/log/<20-digit start position>.log  commit-log segments
 *   DIR/idx/<partition id>.idx             per-partition indexes (index.c)
 *   DIR/meta.log                           names and group offsets (meta.c)
 *   DIR/checkpoint                         recovery checkpoint (checkpoint.c)
 *
 * The commit log is one sequence of entries (record.c) for all partitions,
 * addressed by a 64-bit byte position that starts at 0 and only grows. It
 * is split into segment files; a segment is named by the position of its
 * first byte, holds whole entries only, and the next one starts exactly
 * where it ends. A new segment starts when the next entry would make the
 * current one exceed the configured segment size (a larger entry gets a
 * segment of its own). Retention deletes whole segments from the front.
 *
 * Write path: appends are staged here, into the filling group, and the
 * writer thread writes them (writer.c, which also tells how a full disk
 * is handled).
 *
 * Index tails: a partition's newest index entries stay in memory and are
 * handed to the writer in chunks of SL__INDEX_CHUNK entries (and all of them
 * at each checkpoint), so the writer opens an index file once per chunk,
 * not once per batch, and only a small bounded cache of index descriptors
 * is ever open even with 10,000+ partitions. Readers look entries up in
 * the tail or, for older ones, in the file. A crash loses only tails,
 * which recovery rebuilds from the commit log after the checkpoint.
 */
#include "broker/store_int.h"

#include "broker/meta.h"
#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#define GROUP_MAX_BYTES (512u << 20)

/* ---- opening ----------------------------------------------------------- */

static int mkdir_p(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return sl_err_from_errno(errno);
}

static size_t nofile_budget(size_t div, size_t cap) {
    struct rlimit rl;
    size_t n = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        n = (size_t)rl.rlim_cur;
    n /= div;
    if (n > cap)
        n = cap;
    return n < 16 ? 16 : n;
}

static int open_common(sl_store_t **out, const sl_store_opts_t *opts) {
    sl_store_t *store = calloc(1, sizeof *store);
    if (store == NULL)
        return SL_ENOMEM;
    store->opts = *opts;
    store->meta_fd = -1;
    store->wfd = -1;
    store->dirfd = -1;
    store->retention_gen = 1; /* Every partition computes first_slot once. */
    size_t dl = strlen(opts->dir);
    store->dir = strdup(opts->dir);
    store->logdir = malloc(dl + 5);
    store->idxdir = malloc(dl + 5);
    int err = SL_ENOMEM;
    if (store->dir == NULL || store->logdir == NULL || store->idxdir == NULL)
        goto fail;
    snprintf(store->logdir, dl + 5, "%s/log", opts->dir);
    snprintf(store->idxdir, dl + 5, "%s/idx", opts->dir);
    if ((err = mkdir_p(store->dir)) != 0 ||
        (err = mkdir_p(store->logdir)) != 0 ||
        (err = mkdir_p(store->idxdir)) != 0)
        goto fail;
    if ((err = sl__store_catalog_init(store)) != 0)
        goto fail;
    if ((err = sl_fdcache_init(&store->wcache, store->idxdir, 1,
                               nofile_budget(4, 1024))) != 0 ||
        (err = sl_fdcache_init(&store->rcache, store->idxdir, 0,
                               nofile_budget(8, 512))) != 0)
        goto fail;
    for (size_t i = SL__GROUPS; i-- > 1;)
        store->gfree[store->nfree++] = &store->groups_buf[i];
    store->filling = &store->groups_buf[0];
    struct statvfs vfs;
    store->idx_block = statvfs(store->idxdir, &vfs) == 0 && vfs.f_bsize > 0
                           ? (uint64_t)vfs.f_bsize
                           : 4096;
    if ((err = sl__store_meta_load(store)) != 0)
        goto fail;
    if ((err = sl__store_recover(store)) != 0)
        goto fail;
    *out = store;
    return 0;
fail:
    sl_store_free(store);
    return err;
}

int sl_store_open_offline(sl_store_t **out, const sl_store_opts_t *opts) {
    return open_common(out, opts);
}

void sl_store_free(sl_store_t *store) {
    if (store == NULL)
        return;
    sl__store_catalog_free(store);
    for (size_t i = 0; i < store->nsegs; i++)
        if (store->segs[i].rfd >= 0)
            close(store->segs[i].rfd);
    free(store->segs);
    free(store->holes);
    if (store->meta_fd >= 0)
        close(store->meta_fd);
    if (store->wfd >= 0)
        close(store->wfd);
    if (store->dirfd >= 0)
        close(store->dirfd);
    sl_buf_free(&store->ckjob);
    if (store->wcache.fds)
        sl_fdcache_free(&store->wcache);
    if (store->rcache.fds)
        sl_fdcache_free(&store->rcache);
    sl_buf_free(&store->scratch);
    sl_buf_free(&store->inflated);
    for (size_t i = 0; i < SL__GROUPS; i++)
        sl__store_group_free(&store->groups_buf[i]);
    free(store->acks_out);
    free(store->dir);
    free(store->logdir);
    free(store->idxdir);
    free(store);
}

static void timer_cb(uv_timer_t *h) {
    sl_store_t *store = h->data;
    uint64_t now = sl_mono_ns();
    if (store->opts.checkpoint_ms &&
        now - store->last_ckpt_ns >= store->opts.checkpoint_ms * 1000000u &&
        store->durable_end != store->ckpt_done)
        store->want_ckpt = 1;
    if (store->opts.fsync_mode == SL_FSYNC_INTERVAL && store->nhanded == 0 &&
        now - __atomic_load_n(&store->last_sync_ns, __ATOMIC_RELAXED) >=
            store->opts.fsync_interval_ms * 1000000u)
        store->filling->sync_only = store->filling->data.len == 0;
    sl_store_retain(store, sl_wall_ms());
    sl_store_kick(store);
}

int sl_store_open(sl_store_t **out, const sl_store_opts_t *opts,
                  uv_loop_t *loop, sl_store_acks_cb acks_cb,
                  sl_store_advance_cb advance_cb, void *data) {
    sl_store_t *store;
    int err = open_common(&store, opts);
    if (err != 0)
        return err;
    store->loop = loop;
    store->acks_cb = acks_cb;
    store->advance_cb = advance_cb;
    store->data = data;
    store->filling->start = store->log_end;
    store->meta_parts = store->nparts;
    store->last_sync_ns = store->last_ckpt_ns = sl_mono_ns();
    store->want_ckpt = 1;
    err = sl__store_writer_start(store);
    if (err != 0) {
        sl_store_free(store);
        return err;
    }
    uv_timer_init(loop, &store->timer);
    store->timer.data = store;
    uv_timer_start(&store->timer, timer_cb, 100, 100);
    *out = store;
    return 0;
}

static void closed_one(uv_handle_t *h) {
    sl_store_t *store = h->data;
    if (--store->close_open > 0)
        return;
    void (*cb)(void *) = store->close_cb;
    void *data = store->data;
    sl_store_free(store);
    if (cb)
        cb(data);
}

void sl_store_close(sl_store_t *store, void (*cb)(void *data)) {
    sl__store_writer_stop(store);
    store->close_cb = cb;
    store->close_open = 3;
    uv_close((uv_handle_t *)&store->async, closed_one);
    uv_close((uv_handle_t *)&store->timer, closed_one);
    uv_close((uv_handle_t *)&store->check, closed_one);
}

/* ---- staging (loop thread) ------------------------------------------------
 */

int sl_store_ack_after(sl_store_t *store, const sl_ack_t *ack) {
    return sl__store_add_ack(store->filling, ack, SL__WK_NONE);
}

static int valid_name(const char *s, size_t n) {
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7F)
            return 0;
    return 1;
}

int sl_store_part(sl_store_t *store, const char *topic, size_t tlen,
                  const char *name, size_t nlen, int create, sl_part_t **out) {
    if (!valid_name(topic, tlen) || !valid_name(name, nlen))
        return SL_EINVAL;
    sl_part_t *part = sl__store_find_part(store, topic, tlen, name, nlen);
    if (part != NULL) {
        *out = part;
        return 0;
    }
    if (!create || !store->opts.auto_create || store->loop == NULL)
        return SL_ENOTFOUND;
    if (store->opts.max_partitions &&
        store->nparts >= store->opts.max_partitions)
        return SL_ELIMIT;
    uint32_t id = store->nparts + 1;
    int err =
        sl_meta_encode_part(&store->filling->meta, id, topic, tlen, name, nlen);
    if (err != 0)
        return err;
    err = sl__store_add_part(store, id, topic, tlen, name, nlen, out);
    if (err != 0)
        return err;
    /* A fresh index file: nothing from an older incarnation survives. */
    char path[4096];
    sl_index_path(path, sizeof path, store->idxdir, id);
    unlink(path);
    return 0;
}

/* Offsets are reserved in blocks by a high-water-mark record in meta.log,
 * which the writer syncs before the group's log bytes: recovery then
 * knows a bound above every offset ever acknowledged even when the log's
 * tail is damaged (recover.c). One record per block keeps it off the
 * common path. */
#define OFFSET_RESERVE_BLOCK 4096u

static int reserve_offsets(sl_group_t *g, sl_part_t *part, size_t n) {
    if (part->next_offset + n <= part->reserved)
        return 0;
    uint64_t hwm = part->next_offset + n + OFFSET_RESERVE_BLOCK + 4 * n;
    int err = sl_meta_encode_hwm(&g->meta, part->id, hwm);
    if (err == 0)
        part->reserved = hwm;
    return err;
}

/* Names the newest segment in meta.log once it exists durably (the group
 * that created it completed), so that recovery can tell when it is lost:
 * a crash before that leaves it unnamed, never named and absent. */
static int note_segment(sl_store_t *store, sl_group_t *g) {
    if (store->nsegs == 0)
        return 0;
    uint64_t start = store->segs[store->nsegs - 1].start;
    if ((store->have_seg_hwm && start <= store->seg_hwm) ||
        store->durable_end <= start)
        return 0;
    int err = sl_meta_encode_seg(&g->meta, start);
    if (err == 0) {
        store->seg_hwm = start;
        store->have_seg_hwm = 1;
    }
    return err;
}

/* Refuses an append with err; an idempotent producer's later batches in
 * the partition then wait for this one (see the fences in catalog.c). */
static int refused(sl_store_t *store, const sl_part_t *part, int64_t producer,
                   uint64_t seq, int err) {
    if (producer >= 0)
        sl__store_fence_set(store, part, producer, seq, err);
    return err;
}

/* Puts the entry just encoded at g->data[at..) (n records, timestamp ts for
 * the index) in the log: a new segment when it does not fit the current
 * one, and an index entry. On an error the entry is taken back out. */
static int stage_entry(sl_store_t *store, sl_group_t *g, sl_part_t *part,
                       size_t at, uint32_t len, size_t n, int64_t ts) {
    uint64_t pos = store->log_end;
    uint64_t seg_start = store->nsegs ? store->segs[store->nsegs - 1].start : 0;
    if (store->nsegs == 0 ||
        (pos > seg_start && pos + len > seg_start + store->opts.segment_size)) {
        if (store->nsegs == store->capsegs) {
            size_t cap = store->capsegs ? store->capsegs * 2 : 16;
            sl_segment_t *s = realloc(store->segs, cap * sizeof *s);
            if (s == NULL) {
                g->data.len = at;
                return SL_ENOMEM;
            }
            store->segs = s;
            store->capsegs = cap;
        }
        uint8_t *r = sl_buf_extend(&g->rolls, 8);
        if (r == NULL) {
            g->data.len = at;
            return SL_ENOMEM;
        }
        sl_put_u64be(r, pos);
        store->segs[store->nsegs].start = pos;
        store->segs[store->nsegs].rfd = -1;
        store->nsegs++;
    }
    uint8_t *ir = sl_buf_extend(&g->index, SL__INDEX_REC);
    if (ir == NULL) {
        g->data.len = at;
        return SL_ENOMEM;
    }
    sl_index_entry_t ie = {part->next_offset, pos, len,
                           (uint32_t)n,       ts,  part->id};
    if (part->ntail == part->captail) {
        uint32_t cap = part->captail ? part->captail * 2 : SL__INDEX_CHUNK;
        uint8_t *t = realloc(part->itail, (size_t)cap * SL_INDEX_ENTRY);
        if (t == NULL) {
            g->data.len = at;
            g->index.len -= SL__INDEX_REC;
            return SL_ENOMEM;
        }
        part->itail = t;
        part->captail = cap;
    }
    sl_put_u32be(ir, part->id);
    sl_put_u64be(ir + 4, part->slots);
    sl_index_encode(ir + 12, &ie);
    memcpy(part->itail + (size_t)part->ntail * SL_INDEX_ENTRY, ir + 12,
           SL_INDEX_ENTRY);
    part->ntail++;
    if (part->ntail - part->handed >= SL__INDEX_CHUNK &&
        sl__store_hand_tail(g, part) != 0)
        sl_fatal("out of memory staging an index chunk", NULL);
    return 0;
}

int sl_store_append(sl_store_t *store, sl_part_t *part, const sl_msg_t *msgs,
                    size_t n, int64_t producer, uint64_t seq,
                    const sl_ack_t *ack, uint64_t *base_offset, int *dup) {
    sl_group_t *g = store->filling;
    *dup = 0;
    if (n == 0)
        return SL_EINVAL;
    if (producer >= 0) {
        if ((uint64_t)producer > SL_PRODUCER_MAX || seq > SL_SEQ_MAX ||
            n - 1 > SL_SEQ_MAX - seq)
            return SL_ERANGE;
        int err = sl__store_fence_check(store, part, producer, seq, 0);
        if (err != 0) {
            /* Refused in order with the acks before it, so the refusal
             * never overtakes the ack of an earlier put. */
            if (ack == NULL)
                return err;
            sl_ack_t a = *ack;
            if (err == SL_ENOSPC) {
                a.value = 0;
                a.extra = SL_ACK_NOSPACE;
                store->stats.nospace_refused++;
            } else {
                a.value = (uint64_t) - (int64_t)err;
                a.extra = SL_ACK_FENCED;
            }
            return sl__store_add_ack(g, &a, SL__WK_NONE);
        }
        for (uint32_t i = 0; i < part->nprods; i++) {
            sl_prod_t *pr = &part->prods[i];
            if (pr->producer != producer || seq > pr->last_seq)
                continue;
            /* Part old, part new: storing it would duplicate the old part,
             * dropping it would lose the new one. Refuse, loudly. */
            if (n - 1 > pr->last_seq - seq) {
                sl__store_fence_set(store, part, producer, pr->last_seq + 1,
                                    SL_EEXIST);
                return SL_EEXIST;
            }
            *dup = 1;
            *base_offset = UINT64_MAX;
            if (seq >= pr->first_seq) {
                *base_offset = pr->base_offset + (seq - pr->first_seq);
            } else {
                /* An older batch that holds seq gives its offset; a seq in
                 * a gap between batches was never stored (unknown). */
                for (uint32_t k = 1; k <= pr->nrecent; k++) {
                    const sl_prod_batch_t *b =
                        &pr->recent[(pr->head + SL_PROD_RECENT - k) %
                                    SL_PROD_RECENT];
                    if (b->first_seq <= seq && seq <= b->last_seq) {
                        *base_offset = b->base_offset + (seq - b->first_seq);
                        break;
                    }
                }
            }
            store->stats.dup_batches++;
            if (ack) {
                sl_ack_t a = *ack;
                a.value = *base_offset;
                a.extra = SL_ACK_DUP;
                return sl__store_add_ack(g, &a, SL__WK_DATA);
            }
            return 0;
        }
    }
    if (g->data.len > GROUP_MAX_BYTES)
        return refused(store, part, producer, seq, SL_EAGAIN);
    if (producer >= 0)
        sl__store_fence_check(store, part, producer, seq, 1);
    int err = reserve_offsets(g, part, n);
    if (err == 0)
        err = note_segment(store, g);
    if (err != 0)
        return refused(store, part, producer, seq, err);
    int64_t ts = sl_wall_ms();
    if (ts < part->last_ts)
        ts = part->last_ts; /* Timestamps never go back in a partition. */
    size_t at = g->data.len;
    err = sl_record_encode(&g->data, part->id, part->next_offset, ts, producer,
                           seq, msgs, n);
    if (err != 0)
        return refused(store, part, producer, seq, err);
    uint32_t len = (uint32_t)(g->data.len - at);
    if (len - SL_ENTRY_HDR > store->opts.max_batch) {
        g->data.len = at;
        return refused(store, part, producer, seq, SL_ETOOBIG);
    }
    err = stage_entry(store, g, part, at, len, n, ts);
    if (err != 0)
        return refused(store, part, producer, seq, err);
    *base_offset = part->next_offset;
    if (producer >= 0) {
        if (sl__store_undo_note_producer(g, part, producer, seq) != 0 ||
            sl__store_note_producer(part, producer, seq, seq + n - 1,
                                    part->next_offset) != 0)
            sl_fatal("out of memory staging producer state", NULL);
    }
    part->slots++;
    part->next_offset += n;
    part->last_ts = ts;
    store->log_end += len;
    store->stats.puts += n;
    store->stats.put_batches++;
    if (ack) {
        sl_ack_t a = *ack;
        a.value = *base_offset;
        a.extra = 0;
        return sl__store_add_ack(g, &a, SL__WK_DATA);
    }
    return 0;
}

int sl_store_append_batch(sl_store_t *store, sl_part_t *part,
                          const uint8_t *batch, size_t len, const sl_entry_t *e,
                          const sl_ack_t *ack, uint64_t *base, int *verdict) {
    sl_group_t *g = store->filling;
    *verdict = SL_KPROD_OK;
    *base = UINT64_MAX;
    if (e->producer_id >= 0 && (e->base_seq < 0 || e->producer_epoch < 0))
        return SL_EINVAL;
    if (len > store->opts.max_batch)
        return SL_ETOOBIG;
    uint64_t orig;
    int v = sl__store_kprod_check(part, e->producer_id, e->producer_epoch,
                                  e->base_seq, e->count, &orig);
    if (v != SL_KPROD_OK) {
        *verdict = v;
        if (v != SL_KPROD_DUP && v != SL_KPROD_DUP_OLD)
            return 0;
        /* Acknowledged after the group holding the original (this one or
         * an earlier one) is durable, as for sluice's duplicates. */
        *base = orig;
        store->stats.dup_batches++;
        if (ack == NULL)
            return 0;
        sl_ack_t a = *ack;
        a.value = orig;
        a.extra = SL_ACK_DUP;
        return sl__store_add_ack(g, &a, SL__WK_DATA);
    }
    if (g->data.len > GROUP_MAX_BYTES)
        return SL_EAGAIN;
    int err = reserve_offsets(g, part, e->count);
    if (err == 0)
        err = note_segment(store, g);
    if (err != 0)
        return err;
    size_t at = g->data.len;
    err = sl_record_encode_kafka(&g->data, part->id, part->next_offset, batch,
                                 len);
    if (err != 0)
        return err;
    /* The index holds the largest timestamp so far, as Kafka's time index
     * does: producers' CreateTime timestamps need not grow. */
    int64_t ts = e->max_ts > part->last_ts ? e->max_ts : part->last_ts;
    err = stage_entry(store, g, part, at, (uint32_t)(g->data.len - at),
                      e->count, ts);
    if (err != 0)
        return err;
    *base = part->next_offset;
    /* An id no InitProducerId handed out (a client's own): never hand it
     * out later (recovery does the same from the log). */
    if (e->producer_id >= store->kpid_next)
        store->kpid_next = e->producer_id + 1;
    if (e->producer_id >= 0 &&
        (sl__store_undo_note_kprod(g, part, e->producer_id) != 0 ||
         sl__store_kprod_note(part, e->producer_id, e->producer_epoch,
                              e->base_seq, e->count, part->next_offset) != 0))
        sl_fatal("out of memory staging producer state", NULL);
    part->slots++;
    part->next_offset += e->count;
    part->last_ts = ts;
    store->log_end += SL_ENTRY_HDR + len;
    store->stats.puts += e->count;
    store->stats.put_batches++;
    if (ack) {
        sl_ack_t a = *ack;
        a.value = *base;
        a.extra = 0;
        return sl__store_add_ack(g, &a, SL__WK_DATA);
    }
    return 0;
}

/* Producer ids are reserved in blocks, like offsets: one meta.log record
 * per block. */
#define PID_RESERVE_BLOCK 1024

int sl_store_new_producer_id(sl_store_t *store, const sl_ack_t *ack,
                             int64_t *pid) {
    sl_group_t *g = store->filling;
    if (store->kpid_next >= store->kpid_reserved) {
        int64_t hwm = store->kpid_next + PID_RESERVE_BLOCK;
        int err = sl_meta_encode_pid_hwm(&g->meta, (uint64_t)hwm);
        if (err != 0)
            return err;
        store->kpid_reserved = hwm;
    }
    *pid = store->kpid_next++;
    sl_ack_t a = *ack;
    a.value = (uint64_t)*pid;
    a.extra = 0;
    /* Waiting for metadata: if the record reserving the id (in this group
     * or the one in flight) is refused for lack of space, so is the id
     * (writer.c then makes the next id write a new record). */
    return sl__store_add_ack(g, &a, SL__WK_META);
}

int sl_store_commit_offset(sl_store_t *store, const char *group, size_t glen,
                           sl_part_t *part, uint64_t offset,
                           const sl_ack_t *ack) {
    if (!valid_name(group, glen))
        return SL_EINVAL;
    if (offset == SL__GROUP_NONE)
        return SL_ERANGE;
    /* Remember the offset before, to restore it if the record cannot be
     * written for lack of space. */
    uint8_t b[14 + 255];
    const uint64_t *old = sl__store_group_slot(store, group, glen, part->id);
    b[0] = 'C';
    sl_put_u32be(b + 1, part->id);
    b[5] = old != NULL && *old != SL__GROUP_NONE;
    sl_put_u64be(b + 6, b[5] ? *old : 0);
    memcpy(b + 14, group, glen);
    int err = sl__store_undo_push(store->filling, b, 14 + glen);
    if (err == 0)
        err = sl_meta_encode_offset(&store->filling->meta, group, glen,
                                    part->id, offset);
    if (err == 0)
        err = sl__store_set_group(store, group, glen, part->id, offset);
    if (err == 0 && ack)
        err = sl__store_add_ack(store->filling, ack, SL__WK_META);
    return err;
}

int sl_store_committed(sl_store_t *store, const char *group, size_t glen,
                       sl_part_t *part, uint64_t *offset) {
    const uint64_t *v = sl__store_group_slot(store, group, glen, part->id);
    if (v == NULL || *v == SL__GROUP_NONE)
        return SL_ENOTFOUND;
    *offset = *v;
    return 0;
}

/* ---- reading (loop thread) ------------------------------------------------
 */

uint64_t sl_store_disk_used(const sl_store_t *store) {
    uint64_t start = store->nsegs ? store->segs[0].start : store->durable_end;
    return store->durable_end - start;
}

void sl_store_index_usage(const sl_store_t *store, uint64_t *files,
                          uint64_t *bytes, uint64_t *disk_bytes) {
    uint64_t bs = store->idx_block ? store->idx_block : 4096;
    *files = *bytes = *disk_bytes = 0;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        uint64_t b = store->parts[id]->file_slots * SL_INDEX_ENTRY;
        if (b == 0)
            continue;
        (*files)++;
        *bytes += b;
        *disk_bytes += (b + bs - 1) / bs * bs;
    }
}

size_t sl_store_staged_bytes(const sl_store_t *store) {
    /* The loop thread alone seals groups and takes them back, and counts
     * the sealed ones' bytes in handed_bytes, so this needs no lock. */
    const sl_group_t *g = store->filling;
    return g->data.len + g->meta.len + g->index.len + g->ichunks.len +
           store->handed_bytes;
}

/* Reads index entries [slot, slot + n) of part (all below durable_slots)
 * from its file and its in-memory tail. */
static int read_slots(sl_store_t *store, sl_part_t *part, uint64_t slot,
                      size_t n, sl_index_entry_t *out) {
    size_t done = 0;
    if (slot < part->file_slots) {
        uint8_t raw[64 * SL_INDEX_ENTRY];
        size_t k = n;
        if (k > part->file_slots - slot)
            k = (size_t)(part->file_slots - slot);
        if (k > 64)
            k = 64;
        int fd = sl_fdcache_get(&store->rcache, part->id);
        if (fd < 0)
            return fd;
        ssize_t r =
            pread(fd, raw, k * SL_INDEX_ENTRY, (off_t)(slot * SL_INDEX_ENTRY));
        if (r != (ssize_t)(k * SL_INDEX_ENTRY))
            return SL_EIO;
        for (; done < k; done++)
            if (sl_index_decode(raw + done * SL_INDEX_ENTRY, &out[done]) != 0)
                goto bad;
    }
    for (; done < n; done++) {
        uint64_t t = slot + done - part->file_slots;
        if (t >= part->ntail)
            return SL_EIO;
        if (sl_index_decode(part->itail + t * SL_INDEX_ENTRY, &out[done]) != 0)
            goto bad;
    }
    for (size_t i = 0; i < n; i++)
        if (out[i].part_id != part->id)
            goto bad;
    return 0;
bad:
    store->stats.crc_errors++;
    sl_log_error("index entry damaged", "topic=%s partition=%s slot=%" PRIu64,
                 part->topic, part->name, slot);
    return SL_ECHECKSUM;
}

/* The store's view of a partition's index for sl_index_find_*: entries
 * from its file and its in-memory tail. */
typedef struct {
    sl_store_t *store;
    sl_part_t *part;
} slot_reader_t;

static int read_slot(void *ctx, uint64_t slot, sl_index_entry_t *ie) {
    slot_reader_t *r = ctx;
    return read_slots(r->store, r->part, slot, 1, ie);
}

/* Moves part->first_slot past index entries whose data was deleted. While
 * the log still starts at position 0 nothing was deleted and first_slot
 * stands without reading the index (a partition's first call used to cost
 * an open and a pread of its index file). */
static int refresh_first(sl_store_t *store, sl_part_t *part) {
    if (part->first_slot_gen == store->retention_gen)
        return 0;
    uint64_t log_start = store->nsegs ? store->segs[0].start : 0;
    if (log_start == 0) {
        part->first_slot_gen = store->retention_gen;
        return 0;
    }
    uint64_t slot;
    slot_reader_t rd = {store, part};
    int err = sl_index_find_pos(read_slot, &rd, part->first_slot,
                                part->durable_slots, log_start, &slot);
    if (err != 0)
        return err;
    part->first_slot = slot;
    part->first_slot_gen = store->retention_gen;
    return 0;
}

int sl_store_bounds(sl_store_t *store, sl_part_t *part, uint64_t *earliest,
                    uint64_t *latest) {
    *latest = part->durable_offset;
    if (part->durable_slots == 0) {
        *earliest = part->durable_offset;
        return 0;
    }
    int err = refresh_first(store, part);
    if (err != 0)
        return err;
    if (part->first_slot >= part->durable_slots) {
        *earliest = part->durable_offset;
        return 0;
    }
    /* A durable index entry never changes, so first_slot's base offset is
     * read once per first_slot: with thousands of partitions the file
     * descriptor cache cannot hold them all, and each Produce reply's log
     * start offset cost an open, a pread and a close of the partition's
     * index file on the loop thread. */
    if (part->first_base_at == part->first_slot + 1) {
        *earliest = part->first_base;
        return 0;
    }
    sl_index_entry_t ie;
    err = read_slots(store, part, part->first_slot, 1, &ie);
    if (err != 0)
        return err;
    part->first_base = ie.base_offset;
    part->first_base_at = part->first_slot + 1;
    *earliest = ie.base_offset;
    return 0;
}

int sl_store_offset_for_ts(sl_store_t *store, sl_part_t *part, int64_t ts,
                           uint64_t *offset) {
    uint64_t earliest, latest;
    int err = sl_store_bounds(store, part, &earliest, &latest);
    if (err != 0 || part->durable_slots == 0) {
        *offset = latest;
        return err;
    }
    uint64_t slot;
    slot_reader_t rd = {store, part};
    err = sl_index_find_ts(read_slot, &rd, part->first_slot,
                           part->durable_slots, ts, &slot);
    if (err != 0)
        return err;
    if (slot >= part->durable_slots) {
        *offset = latest;
        return 0;
    }
    sl_index_entry_t ie;
    err = read_slots(store, part, slot, 1, &ie);
    if (err == 0)
        *offset = ie.base_offset;
    return err;
}

static sl_segment_t *seg_for(sl_store_t *store, uint64_t pos) {
    size_t lo = 0, hi = store->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (store->segs[mid].start <= pos)
            lo = mid;
        else
            hi = mid;
    }
    if (store->nsegs == 0 || store->segs[lo].start > pos)
        return NULL;
    sl_segment_t *seg = &store->segs[lo];
    if (seg->rfd < 0) {
        char path[4096];
        sl__store_seg_path(store, seg->start, path, sizeof path);
        seg->rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (seg->rfd < 0)
            return NULL;
    }
    return seg;
}

/* Where a read of part from offset starts, for sl_store_read and
 * sl_store_read_batches: SL_EGONE below the earliest offset still stored,
 * SL_ERANGE above the latest; *at_end set when offset is the latest
 * (nothing to read yet); otherwise *slot is the index entry holding
 * offset. */
static int read_begin(sl_store_t *store, sl_part_t *part, uint64_t offset,
                      uint64_t *slot, int *at_end) {
    uint64_t earliest, latest;
    *at_end = 0;
    int err = sl_store_bounds(store, part, &earliest, &latest);
    if (err != 0)
        return err;
    if (offset < earliest)
        return SL_EGONE;
    if (offset > latest)
        return SL_ERANGE;
    if (offset == latest) {
        *at_end = 1;
        return 0;
    }
    slot_reader_t rd = {store, part};
    return sl_index_find_offset(read_slot, &rd, part->first_slot,
                                part->durable_slots, offset, slot);
}

int sl_store_read(sl_store_t *store, sl_part_t *part, uint64_t offset,
                  uint64_t max_bytes, sl_store_emit_cb emit, void *ctx,
                  uint64_t *next, uint64_t *count) {
    *count = 0;
    *next = offset;
    uint64_t slot;
    int at_end;
    int err = read_begin(store, part, offset, &slot, &at_end);
    if (err != 0 || at_end)
        return err;
    uint64_t emitted = 0;
    sl_index_entry_t ies[64];
    while (slot < part->durable_slots && (emitted < max_bytes || *count == 0)) {
        uint64_t want = part->durable_slots - slot;
        if (want > 64)
            want = 64;
        if (slot < part->file_slots && want > part->file_slots - slot)
            want = part->file_slots - slot;
        err = read_slots(store, part, slot, (size_t)want, ies);
        if (err != 0)
            return err;
        size_t have = (size_t)want;
        size_t k = 0;
        while (k < have && (emitted < max_bytes || *count == 0)) {
            if (ies[k].len == SL_INDEX_HOLE) {
                k++; /* Offsets recovery skipped: nothing to read. */
                continue;
            }
            if (ies[k].len == SL_INDEX_QUARANTINED) {
                /* Quarantined offsets (recover.c): what came before them
                 * is served first; a read that starts in them gets
                 * SL_EDAMAGED and, in *next, the first offset after. */
                if (*count > 0)
                    return 0;
                *next = ies[k].base_offset + ies[k].count;
                return SL_EDAMAGED;
            }
            /* Coalesce entries adjacent in the same segment into one read. */
            sl_segment_t *seg = seg_for(store, ies[k].pos);
            if (seg == NULL)
                return SL_EIO;
            uint64_t seg_end = seg + 1 < store->segs + store->nsegs
                                   ? seg[1].start
                                   : UINT64_MAX;
            size_t j = k + 1;
            uint64_t span = ies[k].len,
                     budget = max_bytes -
                              (emitted < max_bytes ? emitted : max_bytes);
            while (j < have && ies[j].len > SL_INDEX_HOLE &&
                   ies[j].pos == ies[k].pos + span &&
                   ies[j].pos + ies[j].len <= seg_end &&
                   span + ies[j].len <= budget + 4096 && span < (8u << 20)) {
                span += ies[j].len;
                j++;
            }
            sl_buf_reset(&store->scratch);
            uint8_t *buf = sl_buf_extend(&store->scratch, (size_t)span);
            if (buf == NULL)
                return SL_ENOMEM;
            ssize_t got = pread(seg->rfd, buf, (size_t)span,
                                (off_t)(ies[k].pos - seg->start));
            if (got >= 0 && got < (ssize_t)span) {
                /* The bytes are gone (a segment file lost or cut short
                 * below the checkpoint): damage, as for a failed CRC. */
                sl_log_error("commit-log bytes missing; not serving them",
                             "topic=%s partition=%s pos=%" PRIu64, part->topic,
                             part->name, ies[k].pos);
                if (*count > 0)
                    return 0;
                *next = ies[k].base_offset + ies[k].count;
                return SL_EDAMAGED;
            }
            if (got != (ssize_t)span)
                return SL_EIO;
            const uint8_t *p = buf;
            for (size_t e = k; e < j; e++) {
                sl_entry_t ent;
                err = sl_record_check(p, ies[e].len, &ent);
                if (err == 0 && (ent.part_id != part->id ||
                                 ent.base_offset != ies[e].base_offset))
                    err = SL_ECORRUPT;
                if (err != 0) {
                    /* Damage found by a read (below the checkpoint, where
                     * start-up does not look): never served; the records
                     * before it are, and the caller learns where the
                     * next intact batch starts. */
                    store->stats.crc_errors++;
                    sl_log_error("commit-log entry failed verification; not "
                                 "serving it",
                                 "topic=%s partition=%s pos=%" PRIu64
                                 " offsets=%" PRIu64 "-%" PRIu64 " err=%s",
                                 part->topic, part->name, ies[e].pos,
                                 ies[e].base_offset,
                                 ies[e].base_offset + ies[e].count - 1,
                                 sl_strerror(err));
                    if (*count > 0)
                        return 0;
                    *next = ies[e].base_offset + ies[e].count;
                    return SL_EDAMAGED;
                }
                sl_record_iter_t it;
                sl_record_t rec;
                /* A compressed Kafka batch is decompressed first (it was
                 * when produced, so a failure now is damage). */
                int rc = sl_record_iter_open(&it, &ent, &store->inflated,
                                             SL_INFLATE_MAX);
                while (rc == 0 || rc == 1) {
                    rc = sl_record_next(&it, &rec);
                    if (rc != 1)
                        break;
                    if (rec.offset < offset)
                        continue;
                    if (emitted >= max_bytes && *count > 0)
                        return 0;
                    err = emit(ctx, &rec);
                    if (err != 0)
                        return err;
                    emitted += rec.value_len + 16;
                    (*count)++;
                    *next = rec.offset + 1;
                }
                if (rc < 0) {
                    if (*count > 0)
                        return 0;
                    *next = ies[e].base_offset + ies[e].count;
                    return SL_EDAMAGED;
                }
                p += ies[e].len;
            }
            k = j;
        }
        slot += k;
    }
    return 0;
}

/* Logs damage found by a Kafka read (see sl_store_read). */
static void batch_damage(sl_store_t *store, const sl_part_t *part,
                         const sl_index_entry_t *ie, int err) {
    store->stats.crc_errors++;
    sl_log_error("commit-log entry failed verification; not serving it",
                 "topic=%s partition=%s pos=%" PRIu64 " err=%s", part->topic,
                 part->name, ie->pos, sl_strerror(err));
}

int sl_store_read_batches(sl_store_t *store, sl_part_t *part, uint64_t offset,
                          uint64_t max_bytes, sl_buf_t *out, uint64_t *next,
                          uint64_t *count) {
    *count = 0;
    *next = offset;
    uint64_t slot;
    int at_end;
    int err = read_begin(store, part, offset, &slot, &at_end);
    if (err != 0 || at_end)
        return err;
    uint64_t copied = 0, nbatches = 0;
    sl_index_entry_t ies[64];
    while (slot < part->durable_slots) {
        uint64_t want = part->durable_slots - slot;
        if (want > 64)
            want = 64;
        if (slot < part->file_slots && want > part->file_slots - slot)
            want = part->file_slots - slot;
        err = read_slots(store, part, slot, (size_t)want, ies);
        if (err != 0)
            return err;
        size_t k = 0;
        while (k < (size_t)want) {
            if (ies[k].len == SL_INDEX_HOLE) {
                k++;
                continue;
            }
            /* Whole batches only, and at least one. */
            uint64_t blen = ies[k].len - SL_ENTRY_HDR;
            if (nbatches > 0 && copied + blen > max_bytes)
                return 0;
            sl_segment_t *seg = ies[k].len == SL_INDEX_QUARANTINED
                                    ? NULL
                                    : seg_for(store, ies[k].pos);
            if (seg == NULL) {
                /* Quarantined offsets, or a segment gone: never served;
                 * what came before is (see sl_store_read). */
                if (nbatches > 0)
                    return 0;
                *next = ies[k].base_offset + ies[k].count;
                return SL_EDAMAGED;
            }
            /* Entries adjacent in the segment are read together, within
             * the byte budget. */
            uint64_t seg_end = seg + 1 < store->segs + store->nsegs
                                   ? seg[1].start
                                   : UINT64_MAX;
            size_t j = k + 1;
            uint64_t span = ies[k].len, run = blen;
            while (j < (size_t)want && ies[j].len > SL_INDEX_HOLE &&
                   ies[j].pos == ies[k].pos + span &&
                   ies[j].pos + ies[j].len <= seg_end && span < (8u << 20) &&
                   copied + run + ies[j].len - SL_ENTRY_HDR <= max_bytes) {
                span += ies[j].len;
                run += ies[j].len - SL_ENTRY_HDR;
                j++;
            }
            /* One preadv for the run: each sluice header into hdrs, each
             * RecordBatch straight to its place in out, so nothing is
             * moved afterwards. */
            size_t at = out->len;
            if (sl_buf_extend(out, (size_t)run) == NULL)
                return SL_ENOMEM;
            uint8_t hdrs[64][SL_ENTRY_HDR];
            struct iovec iov[128];
            size_t wpos = at;
            for (size_t e = k; e < j; e++) {
                iov[2 * (e - k)].iov_base = hdrs[e - k];
                iov[2 * (e - k)].iov_len = SL_ENTRY_HDR;
                iov[2 * (e - k) + 1].iov_base = out->data + wpos;
                iov[2 * (e - k) + 1].iov_len = ies[e].len - SL_ENTRY_HDR;
                wpos += ies[e].len - SL_ENTRY_HDR;
            }
            ssize_t got = preadv(seg->rfd, iov, (int)(2 * (j - k)),
                                 (off_t)(ies[k].pos - seg->start));
            if (got < 0) {
                out->len = at;
                return SL_EIO;
            }
            /* Verify each entry. */
            size_t rpos = 0;
            wpos = at;
            for (size_t e = k; e < j; e++) {
                const sl_index_entry_t *ie = &ies[e];
                sl_entry_t ent;
                err = rpos + ie->len <= (size_t)got
                          ? sl_record_check_split(hdrs[e - k], out->data + wpos,
                                                  ie->len, &ent)
                          : SL_EDAMAGED; /* Bytes missing from the file. */
                if (err == 0 && (ent.part_id != part->id ||
                                 ent.base_offset != ie->base_offset))
                    err = SL_ECORRUPT;
                if (err != 0) {
                    out->len = wpos;
                    batch_damage(store, part, ie, err);
                    if (nbatches > 0)
                        return 0;
                    *next = ie->base_offset + ie->count;
                    return SL_EDAMAGED;
                }
                size_t bl = ie->len - SL_ENTRY_HDR;
                wpos += bl;
                rpos += ie->len;
                copied += bl;
                nbatches++;
                if (ie->base_offset + ie->count > offset)
                    *count +=
                        ie->base_offset + ie->count -
                        (ie->base_offset > offset ? ie->base_offset : offset);
                *next = ie->base_offset + ie->count;
            }
            out->len = wpos;
            k = j;
        }
        slot += k;
    }
    return 0;
}

/* ---- retention ------------------------------------------------------------
 */

int sl_store_retain(sl_store_t *store, int64_t now_ms) {
    int deleted = 0;
    while (store->nsegs > 1) {
        uint64_t end = store->segs[1].start;
        if (end > store->ckpt_done || end > store->durable_end)
            break;
        char path[4096];
        sl__store_seg_path(store, store->segs[0].start, path, sizeof path);
        int drop = 0;
        if (store->opts.retention_bytes &&
            store->durable_end - store->segs[0].start >
                store->opts.retention_bytes)
            drop = 1;
        if (!drop && store->opts.retention_ms) {
            struct stat st;
            if (stat(path, &st) == 0 &&
                (int64_t)st.st_mtime * 1000 <
                    now_ms - (int64_t)store->opts.retention_ms)
                drop = 1;
        }
        if (!drop)
            break;
        if (store->segs[0].rfd >= 0)
            close(store->segs[0].rfd);
        if (unlink(path) != 0)
            sl_log_error("cannot delete segment", "segment=%s errno=%d", path,
                         errno);
        else
            sl_log_info("retention: deleted segment", "segment=%s", path);
        memmove(store->segs, store->segs + 1,
                (store->nsegs - 1) * sizeof *store->segs);
        store->nsegs--;
        store->retention_gen++;
        store->stats.segments_deleted++;
        deleted++;
    }
    return deleted;
}

const sl_store_opts_t *sl_store_options(const sl_store_t *store) {
    return &store->opts;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t sl_store_fsync_p99_us(const sl_store_t *store, int by_time) {
    size_t n = store->stats.fsyncs < SL__FSYNC_RING ? store->stats.fsyncs
                                                    : SL__FSYNC_RING;
    if (n == 0)
        return 0;
    uint32_t *v = malloc(n * sizeof *v);
    if (v == NULL)
        return 0;
    memcpy(v, store->fsync_ring, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_u32);
    uint64_t p = v[n * 99 / 100];
    if (by_time) {
        /* The shortest duration d such that fsyncs of at most d fill 99 %
         * of the time spent in fsync. */
        uint64_t total = 0, sum = 0;
        for (size_t i = 0; i < n; i++)
            total += v[i];
        size_t i = 0;
        while (i + 1 < n && (sum + v[i]) * 100 < total * 99)
            sum += v[i++];
        p = v[i];
    }
    free(v);
    return p;
}

const sl_store_stats_t *sl_store_get_stats(const sl_store_t *store) {
    return &store->stats;
}

size_t sl_store_nsegments(const sl_store_t *store) { return store->nsegs; }

uint64_t sl_store_durable_end(const sl_store_t *store) {
    return store->durable_end;
}

uint64_t sl_store_index_opens(const sl_store_t *store) {
    return store->rcache.opens;
}

size_t sl_store_filling_bytes(const sl_store_t *store) {
    return store->filling->data.len;
}

void *sl_store_get_data(const sl_store_t *store) { return store->data; }

void sl_store_set_data(sl_store_t *store, void *data) { store->data = data; }
