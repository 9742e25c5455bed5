/*
 * Checkpoints.
 *
 * DIR/checkpoint (replaced atomically: written to checkpoint.tmp, fsynced,
 * renamed, directory fsynced), big-endian:
 *   0  u32  magic 0x534C434B ("SLCK")
 *   4  u32  version 3 (1: without the names, 2: without the Kafka
 *           producer state)
 *   8  u64  commit-log position P the checkpoint describes
 *   16 u32  partition count N
 *   20 u32  producer-state count M
 *   24      N x { u32 id, u64 next offset, u64 index slots, i64 last ts }
 *           M x { u32 partition id, i64 producer, u64 first seq,
 *                 u64 last seq, u64 base offset }
 *           N x { u16 topic length, topic, u16 name length, name }, for
 *                 ids 1..N in order: a second copy of meta.log's names, so
 *                 that a damaged or lost meta.log loses no name the last
 *                 checkpoint knew (and so no offset is reused under it)
 *           u64 next Kafka producer id to hand out
 *           u32 Kafka producer-state count K
 *           K x { u32 partition id, i64 producer id, i16 epoch, u8 n
 *                 (1..5), n x { i32 first seq, i32 last seq, u64 base
 *                 offset }, oldest first }: Kafka's idempotence state
 *                 (catalog.c), which recovery goes on from
 *   end     u32 CRC-32C of every byte before it
 * It is valid when the magic, version and CRC match, the length is
 * exact, the partitions are listed as ids 1..N in order, P is not more
 * than 2^40 bytes past the end of the log files and no next
 * offset exceeds P + 2^40 (every offset below it is a record stored below
 * P or a skip of at most one reservation). An index file whose last
 * checkpointed batch ends beyond P, and a P that is not where the last
 * checkpointed batch ends (nor the newest segment's start), make recovery
 * rebuild those indexes from the whole log: scanning from such a P would
 * take the rest of an entry for a torn tail. Before it is written, the index
 * entries of every batch below P were written and the file system synced
 * (syncfs), so they are on disk.
 */
#include "broker/checkpoint.h"

#include "broker/store_int.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "file.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC 0x534C434Bu

int sl_ckpt_encode(const sl_store_t *store, uint64_t pos, sl_buf_t *out) {
    uint32_t nprod = 0, nkprod = 0;
    size_t names = 0, kbytes = 0;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        nprod += store->parts[id]->nprods;
        for (uint32_t i = 0; i < store->parts[id]->nkprods; i++) {
            const sl_kprod_t *kp = &store->parts[id]->kprods[i];
            if (kp->nbatches == 0)
                continue;
            nkprod++;
            kbytes += 15 + (size_t)kp->nbatches * 16;
        }
        names += 4 + strlen(store->parts[id]->topic) +
                 strlen(store->parts[id]->name);
    }
    size_t need = 24 + (size_t)store->nparts * 28 + (size_t)nprod * 36 + names +
                  12 + kbytes + 4;
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, need);
    if (p == NULL)
        return SL_ENOMEM;
    sl_put_u32be(p, CKPT_MAGIC);
    sl_put_u32be(p + 4, 3);
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
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        size_t tl = strlen(part->topic), nl = strlen(part->name);
        sl_put_u16be(w, (uint16_t)tl);
        memcpy(w + 2, part->topic, tl);
        sl_put_u16be(w + 2 + tl, (uint16_t)nl);
        memcpy(w + 4 + tl, part->name, nl);
        w += 4 + tl + nl;
    }
    sl_put_u64be(w, (uint64_t)store->kpid_next);
    sl_put_u32be(w + 8, nkprod);
    w += 12;
    for (uint32_t id = 1; id <= store->nparts; id++) {
        const sl_part_t *part = store->parts[id];
        for (uint32_t i = 0; i < part->nkprods; i++) {
            const sl_kprod_t *kp = &part->kprods[i];
            if (kp->nbatches == 0)
                continue;
            sl_put_u32be(w, id);
            sl_put_u64be(w + 4, (uint64_t)kp->pid);
            sl_put_u16be(w + 12, (uint16_t)kp->epoch);
            w[14] = kp->nbatches;
            w += 15;
            for (uint32_t k = 0; k < kp->nbatches; k++) {
                const sl_kbatch_t *kb =
                    &kp->batches[(kp->head + SL_KPROD_BATCHES - kp->nbatches +
                                  k) %
                                 SL_KPROD_BATCHES];
                sl_put_u32be(w, (uint32_t)kb->first_seq);
                sl_put_u32be(w + 4, (uint32_t)kb->last_seq);
                sl_put_u64be(w + 8, kb->base_offset);
                w += 16;
            }
        }
    }
    sl_put_u32be(w, sl_crc32c(0, p, (size_t)(w - p)));
    SL_ASSERT(w + 4 == out->data + at + need);
    return 0;
}

/* Reads and checks the checkpoint file: *b (owned by the caller) holds
 * *size bytes; *names_at is where the names start (0 for version 1),
 * *kafka_at where the Kafka producer state starts (0 before version 3). */
static int ckpt_read(const sl_store_t *store, uint8_t **out, size_t *outsize,
                     size_t *names_at, size_t *kafka_at) {
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
    uint32_t version = r == (ssize_t)size ? sl_get_u32be(b + 4) : 0;
    if (r != (ssize_t)size || sl_get_u32be(b) != CKPT_MAGIC ||
        (version < 1 || version > 3) ||
        sl_crc32c(0, b, size - 4) != sl_get_u32be(b + size - 4))
        goto bad;
    uint32_t n = sl_get_u32be(b + 16), m = sl_get_u32be(b + 20);
    uint64_t fixed = 24 + (uint64_t)n * 28 + (uint64_t)m * 36;
    if (fixed + 4 > size)
        goto bad;
    *kafka_at = 0;
    if (version == 1) {
        if (fixed + 4 != size)
            goto bad;
        *names_at = 0;
    } else {
        size_t at = (size_t)fixed;
        for (uint32_t i = 0; i < n; i++) {
            for (int k = 0; k < 2; k++) {
                if (at + 2 > size - 4)
                    goto bad;
                size_t l = sl_get_u16be(b + at);
                if (l == 0 || l > 255 || at + 2 + l > size - 4)
                    goto bad;
                at += 2 + l;
            }
        }
        if (version == 3) {
            *kafka_at = at;
            if (at + 12 > size - 4)
                goto bad;
            uint32_t k = sl_get_u32be(b + at + 8);
            at += 12;
            for (uint32_t i = 0; i < k; i++) {
                if (at + 15 > size - 4)
                    goto bad;
                uint8_t nb = b[at + 14];
                if (nb == 0 || nb > SL_KPROD_BATCHES ||
                    at + 15 + (size_t)nb * 16 > size - 4)
                    goto bad;
                at += 15 + (size_t)nb * 16;
            }
        }
        if (at != size - 4)
            goto bad;
        *names_at = (size_t)fixed;
    }
    *out = b;
    *outsize = size;
    return 0;
bad:
    free(b);
    return SL_ECORRUPT;
}

int sl__store_ckpt_names(sl_store_t *store, uint32_t upto) {
    uint8_t *b;
    size_t size, at, kafka_at;
    if (ckpt_read(store, &b, &size, &at, &kafka_at) != 0)
        return 0; /* No names to offer. */
    uint32_t n = sl_get_u32be(b + 16);
    int err = 0;
    for (uint32_t id = 1; at != 0 && id <= n && id <= upto && err == 0; id++) {
        size_t tl = sl_get_u16be(b + at);
        const char *topic = (const char *)b + at + 2;
        size_t nl = sl_get_u16be(b + at + 2 + tl);
        const char *name = (const char *)b + at + 4 + tl;
        at += 4 + tl + nl;
        if (id <= store->nparts)
            continue;
        err = sl__store_add_part(store, id, topic, tl, name, nl, NULL);
        if (err == 0) {
            store->meta_dirty = 1;
            sl_log_warn("partition name restored from the checkpoint",
                        "id=%u topic=%.*s partition=%.*s", id, (int)tl, topic,
                        (int)nl, name);
        }
    }
    free(b);
    return err;
}

/* Applies a checkpoint file; SL_ECORRUPT when it is not valid. log_end is
 * where the commit-log files on disk end. */
int sl__store_ckpt_load(sl_store_t *store, uint64_t log_end, uint64_t *pos) {
    uint8_t *b;
    size_t size, names_at, kafka_at;
    int err = ckpt_read(store, &b, &size, &names_at, &kafka_at);
    if (err != 0)
        return err;
    err = SL_ECORRUPT;
    uint32_t n = sl_get_u32be(b + 16), m = sl_get_u32be(b + 20);
    const uint8_t *p = b + 24;
    uint64_t ckpt_pos = sl_get_u64be(b + 8);
    /* P far beyond the log files is a lie too: the bound below on next
     * offsets is only as good as P (a P near 2^62 let a forged checkpoint
     * quarantine 2^62 offsets; found by fuzz_broker_checkpoint). Lost
     * newest segments can leave P past the files, but not by 2^40 bytes. */
    if (ckpt_pos > log_end + (UINT64_C(1) << 40))
        goto out;
    for (uint32_t i = 0; i < n; i++, p += 28) {
        uint32_t id = sl_get_u32be(p);
        /* The writer lists ids 1..N in order; one listed twice leaves
         * another at zero, which would then reuse its offsets (found by
         * fuzz_broker_checkpoint). */
        if (id != i + 1 || id > store->nparts)
            goto out;
        /* Every offset below a genuine checkpoint's next offset is a
         * record at a log position below P (a byte at least) or in a
         * skip of at most one reservation per recovery, so one beyond
         * P + 2^40 is a lie, and obeying it would quarantine up to 2^64
         * offsets at 2^32 per index entry, hanging start-up (found by
         * fuzz_broker_checkpoint). It is a damaged checkpoint: rebuilt
         * from a scan of the log. */
        if (sl_get_u64be(p + 4) > ckpt_pos + (UINT64_C(1) << 40) ||
            ckpt_pos > UINT64_MAX - (UINT64_C(1) << 40))
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
        err = sl__store_note_producer(
            store->parts[id], (int64_t)sl_get_u64be(p + 4),
            sl_get_u64be(p + 12), sl_get_u64be(p + 20), sl_get_u64be(p + 28));
        if (err != 0)
            goto out;
    }
    if (kafka_at != 0) {
        const uint8_t *k = b + kafka_at;
        int64_t next = (int64_t)sl_get_u64be(k);
        if (next < 0)
            goto out;
        if (next > store->kpid_next)
            store->kpid_next = next;
        uint32_t nk = sl_get_u32be(k + 8);
        k += 12;
        for (uint32_t i = 0; i < nk; i++) {
            uint32_t id = sl_get_u32be(k);
            int64_t pid = (int64_t)sl_get_u64be(k + 4);
            int16_t epoch = (int16_t)sl_get_u16be(k + 12);
            uint8_t nb = k[14];
            if (id == 0 || id > store->nparts || pid < 0)
                goto out;
            k += 15;
            for (uint8_t j = 0; j < nb; j++, k += 16) {
                int32_t first = (int32_t)sl_get_u32be(k);
                int32_t last = (int32_t)sl_get_u32be(k + 4);
                if (first < 0 || last < 0)
                    goto out;
                /* The count that gives last from first (wrapping). */
                uint32_t count =
                    (((uint32_t)last - (uint32_t)first) & SL_KSEQ_MAX) + 1;
                err = sl__store_kprod_note(store->parts[id], pid, epoch, first,
                                           count, sl_get_u64be(k + 8));
                if (err != 0)
                    goto out;
            }
            if (pid >= store->kpid_next)
                store->kpid_next = pid + 1;
        }
        err = SL_ECORRUPT;
    }
    *pos = sl_get_u64be(b + 8);
    err = 0;
out:
    free(b);
    return err;
}

/*
 * Writes the first checkpoint of a new data directory synchronously,
 * before the broker serves anything. Without it, the first checkpoint is
 * the asynchronous start-up one, whose syncfs waits for every dirty page
 * of the file system: on a busy machine it can take seconds, and a kill -9
 * after acknowledged puts (fsync = always, nothing in flight) then found
 * no checkpoint. Recovery cannot tell "never written" from "lost" (a lost
 * checkpoint means nothing vouches that no file was lost), so it skipped
 * every partition to its high-water mark: offsets jumped by ~4100 although
 * nothing was at risk. With this file there from the start, a missing
 * checkpoint always means a lost one. The store is empty, so no index
 * entry or log byte has to be synced first. A full disk is not fatal
 * (start-up serves reads; the asynchronous checkpoint tries again); a
 * failed fsync is.
 */
void sl__store_ckpt_first(sl_store_t *store) {
    sl_buf_t b = SL_BUF_INIT;
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", store->dir);
    snprintf(path, sizeof path, "%s/checkpoint", store->dir);
    int sync = store->opts.fsync_mode != SL_FSYNC_NEVER;
    sl_file_step_t step = SL_FILE_STEP_NONE;
    int err = sl_ckpt_encode(store, 0, &b);
    if (err == 0)
        err = sl_file_replace(path, tmp, b.data, b.len, sync, &step);
    if (step == SL_FILE_STEP_FSYNC)
        sl_fatal("fsync failed", "file=%s errno=%d", tmp, errno);
    if (step == SL_FILE_STEP_FSYNC_DIR)
        sl_fatal("fsync failed", "dir=%s errno=%d", store->dir, errno);
    if (err != 0)
        sl_log_warn("cannot write the first checkpoint now; the start-up "
                    "checkpoint will",
                    "file=%s errno=%d", path,
                    step != SL_FILE_STEP_NONE ? errno : 0);
    sl_buf_free(&b);
}

/* Runs on the checkpointer thread. Returns SL_ENOSPC when the checkpoint
 * could not be written for lack of space (it is skipped and retried at
 * the next interval; the previous one stays valid). Any other failure is
 * fatal. */
int sl__store_ckpt_write(sl_store_t *store, const sl_buf_t *ckpt) {
    /* Every index entry below the checkpoint was written before the job
     * was handed over and must be on disk first. With fsync = never
     * nothing is synced (a power loss may lose anything; a crash of the
     * process loses nothing, the page cache has it). */
    int sync = store->opts.fsync_mode != SL_FSYNC_NEVER;
    if (sync && syncfs(store->dirfd) != 0)
        sl_fatal("syncfs failed", "errno=%d", errno);
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", store->dir);
    snprintf(path, sizeof path, "%s/checkpoint", store->dir);
    sl_file_step_t step;
    int err = sl_file_replace(path, tmp, ckpt->data, ckpt->len, sync, &step);
    if (err == 0)
        return 0;
    switch (step) {
    case SL_FILE_STEP_FSYNC:
        sl_fatal("fsync failed", "file=%s errno=%d", tmp, errno);
    case SL_FILE_STEP_FSYNC_DIR:
        sl_fatal("cannot fsync directory", "dir=%s errno=%d", store->dir,
                 errno);
    case SL_FILE_STEP_WRITE:
        if (err != SL_ENOSPC)
            sl_fatal("write failed; refusing to acknowledge anything more",
                     "file=%s errno=%d", tmp, errno);
        break;
    case SL_FILE_STEP_RENAME:
        if (err != SL_ENOSPC)
            sl_fatal("cannot rename checkpoint", "file=%s errno=%d", path,
                     errno);
        break;
    default:
        if (err != SL_ENOSPC)
            sl_fatal("cannot write checkpoint", "file=%s errno=%d", tmp, errno);
        break;
    }
    sl_log_warn("disk full: checkpoint skipped, retried at the next "
                "interval (recovery scans from the previous one)",
                "file=%s", path);
    return err;
}
