/*
 * Metadata log, DIR/meta.log. A sequence of records, big-endian:
 *   0  u32  length N of the body (type byte included), 1 <= N <= 65536
 *   4  u32  CRC-32C of the N body bytes
 *   8       body: u8 type, then
 *     type 1, partition:  u32 id, u16 topic length, topic, u16 name
 *                         length, name (ids are dense, from 1)
 *     type 2, group offset: u32 partition id, u64 offset, u16 group
 *                         length, group
 *     type 3, high-water mark: u32 partition id, u64 offset H: no offset
 *                         at or above H was ever assigned (the store
 *                         reserves offsets in blocks, so this record is
 *                         written, and synced before the data, only once
 *                         per block; recovery never lets the partition's
 *                         next offset fall below a tail it cannot vouch
 *                         for, see recover.c)
 *     type 5, hole:       u32 partition id, u64 from, u64 to: recovery
 *                         skipped offsets from..to-1 of the partition (to
 *                         its high-water mark); nothing is stored there
 *     type 6, Kafka producer ids: u32 0, u64 H: no Kafka producer id at or
 *                         above H was handed out (InitProducerId reserves
 *                         ids in blocks; the record is synced before the
 *                         reply, so ids never repeat across restarts)
 *     type 4, segment:    u64 start position of the newest commit-log
 *                         segment, written once it exists durably, so that
 *                         recovery notices when the newest segment files
 *                         are lost
 * A record is valid when its CRC matches, its body parses exactly, its
 * names are within what the encoder writes (1024 bytes), no high-water
 * mark or hole in it exceeds 2^48 (beyond that is impossible, and obeying
 * it would hang recovery) and no group offset is 2^64-1 (the mark of a
 * group without an offset, which the encoder never writes). An
 * invalid record with no valid record after it is a torn write and is
 * truncated at start-up (unless start-up stops for damage); one with valid
 * records after it is damage: it is skipped and reported (start-up stops unless
 * damaged data is quarantined, see recover.c), and partitions whose records
 * were lost get their names back from the checkpoint, or else placeholder
 * names. Later records win (a group's offset is the last one written). When the
 * file grows past 16 MiB it is rewritten at start-up with one record per
 * partition and per group offset (written to meta.tmp, fsynced, renamed over,
 * directory fsynced).
 */
#include "broker/meta.h"

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
#include <time.h>
#include <unistd.h>

#define META_COMPACT_AT (16u << 20)
/* No offset reaches 2^48 (nine years of a million messages a second in
 * one partition). A high-water mark or hole beyond it is damage: obeyed,
 * it would make recovery write up to 2^32 index entries of 2^32 offsets
 * each, hanging start-up (found by fuzz_broker_meta). */
#define META_MAX_OFFSET (UINT64_C(1) << 48)

static int finish(sl_buf_t *out, size_t at) {
    size_t n = out->len - at - 8;
    sl_put_u32be(out->data + at, (uint32_t)n);
    sl_put_u32be(out->data + at + 4, sl_crc32c(0, out->data + at + 8, n));
    return 0;
}

int sl_meta_encode_part(sl_buf_t *out, uint32_t id, const char *topic,
                        size_t tlen, const char *name, size_t nlen) {
    if (tlen > 1024 || nlen > 1024)
        return SL_ETOOBIG;
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 4 + 2 + tlen + 2 + nlen);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 1;
    sl_put_u32be(p + 9, id);
    sl_put_u16be(p + 13, (uint16_t)tlen);
    memcpy(p + 15, topic, tlen);
    sl_put_u16be(p + 15 + tlen, (uint16_t)nlen);
    memcpy(p + 17 + tlen, name, nlen);
    return finish(out, at);
}

int sl_meta_encode_offset(sl_buf_t *out, const char *group, size_t glen,
                          uint32_t part_id, uint64_t offset) {
    if (glen > 1024)
        return SL_ETOOBIG;
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 4 + 8 + 2 + glen);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 2;
    sl_put_u32be(p + 9, part_id);
    sl_put_u64be(p + 13, offset);
    sl_put_u16be(p + 21, (uint16_t)glen);
    memcpy(p + 23, group, glen);
    return finish(out, at);
}

int sl_meta_encode_hwm(sl_buf_t *out, uint32_t part_id, uint64_t hwm) {
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 4 + 8);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 3;
    sl_put_u32be(p + 9, part_id);
    sl_put_u64be(p + 13, hwm);
    return finish(out, at);
}

int sl_meta_encode_pid_hwm(sl_buf_t *out, uint64_t hwm) {
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 4 + 8);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 6;
    sl_put_u32be(p + 9, 0);
    sl_put_u64be(p + 13, hwm);
    return finish(out, at);
}

int sl_meta_encode_seg(sl_buf_t *out, uint64_t start) {
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 8);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 4;
    sl_put_u64be(p + 9, start);
    return finish(out, at);
}

int sl_meta_encode_hole(sl_buf_t *out, uint32_t part_id, uint64_t from,
                        uint64_t to) {
    size_t at = out->len;
    uint8_t *p = sl_buf_extend(out, 8 + 1 + 4 + 8 + 8);
    if (p == NULL)
        return SL_ENOMEM;
    p[8] = 5;
    sl_put_u32be(p + 9, part_id);
    sl_put_u64be(p + 13, from);
    sl_put_u64be(p + 21, to);
    return finish(out, at);
}

int sl__store_note_hole(sl_store_t *store, uint32_t part_id, uint64_t from,
                        uint64_t to) {
    if (store->nholes == store->capholes) {
        size_t cap = store->capholes ? store->capholes * 2 : 8;
        sl_hole_t *h = realloc(store->holes, cap * sizeof *h);
        if (h == NULL)
            return SL_ENOMEM;
        store->holes = h;
        store->capholes = cap;
    }
    store->holes[store->nholes++] = (sl_hole_t){part_id, from, to};
    return 0;
}

/* Applies one body; SL_ECORRUPT when it does not parse. */
static int apply(sl_store_t *store, const uint8_t *b, size_t n) {
    sl_reader_t rd;
    sl_reader_init(&rd, b, n);
    uint8_t type;
    uint32_t id;
    uint16_t l1, l2;
    const uint8_t *s1, *s2;
    if (sl_rd_u8(&rd, &type) != 0)
        return SL_ECORRUPT;
    if (type == 4) {
        uint64_t start;
        if (sl_rd_u64be(&rd, &start) != 0 || sl_reader_left(&rd) != 0)
            return SL_ECORRUPT;
        if (!store->have_seg_hwm || start > store->seg_hwm)
            store->seg_hwm = start;
        store->have_seg_hwm = 1;
        return 0;
    }
    if (sl_rd_u32be(&rd, &id) != 0)
        return SL_ECORRUPT;
    if (type == 6) {
        uint64_t hwm;
        if (sl_rd_u64be(&rd, &hwm) != 0 || sl_reader_left(&rd) != 0 ||
            id != 0 || hwm > META_MAX_OFFSET)
            return SL_ECORRUPT;
        if ((int64_t)hwm > store->kpid_next)
            store->kpid_next = (int64_t)hwm;
        return 0;
    }
    if (type == 1) {
        if (sl_rd_u16be(&rd, &l1) != 0 || sl_rd_bytes(&rd, l1, &s1) != 0 ||
            sl_rd_u16be(&rd, &l2) != 0 || sl_rd_bytes(&rd, l2, &s2) != 0 ||
            sl_reader_left(&rd) != 0)
            return SL_ECORRUPT;
        if (id == 0 || id != store->nparts + 1)
            return SL_ECORRUPT;
        return sl__store_add_part(store, id, (const char *)s1, l1,
                                  (const char *)s2, l2, NULL);
    }
    if (type == 2) {
        uint64_t off;
        if (sl_rd_u64be(&rd, &off) != 0 || sl_rd_u16be(&rd, &l1) != 0 ||
            sl_rd_bytes(&rd, l1, &s1) != 0 || sl_reader_left(&rd) != 0)
            return SL_ECORRUPT;
        /* The encoder never writes 2^64-1: it marks a slot with no offset
         * (sl_store_commit_offset refuses it), so served it would read as
         * no offset at all (found by fuzz_broker_meta). */
        if (id == 0 || id > store->nparts || off == SL__GROUP_NONE)
            return SL_ECORRUPT;
        /* A group name longer than the encoder writes is a bad record,
         * not a reason to refuse to start (found by fuzz_broker_meta). */
        int err = sl__store_set_group(store, (const char *)s1, l1, id, off);
        return err == SL_ETOOBIG ? SL_ECORRUPT : err;
    }
    if (type == 5) {
        uint64_t from, to;
        if (sl_rd_u64be(&rd, &from) != 0 || sl_rd_u64be(&rd, &to) != 0 ||
            sl_reader_left(&rd) != 0 || id == 0 || id > store->nparts ||
            to <= from || to > META_MAX_OFFSET)
            return SL_ECORRUPT;
        return sl__store_note_hole(store, id, from, to);
    }
    if (type == 3) {
        uint64_t hwm;
        if (sl_rd_u64be(&rd, &hwm) != 0 || sl_reader_left(&rd) != 0 ||
            id == 0 || id > store->nparts || hwm > META_MAX_OFFSET)
            return SL_ECORRUPT;
        if (hwm > store->parts[id]->reserved)
            store->parts[id]->reserved = hwm;
        return 0;
    }
    return SL_ECORRUPT;
}

static int compact(sl_store_t *store, const char *path) {
    sl_buf_t out = SL_BUF_INIT;
    int err = 0;
    for (uint32_t id = 1; id <= store->nparts && err == 0; id++) {
        sl_part_t *part = store->parts[id];
        err = sl_meta_encode_part(&out, id, part->topic, strlen(part->topic),
                                  part->name, strlen(part->name));
        if (err == 0 && part->reserved > 0)
            err = sl_meta_encode_hwm(&out, id, part->reserved);
    }
    for (size_t b = 0; b < store->groups.nbuckets && err == 0; b++)
        for (sl_strmap_node_t *n = store->groups.buckets[b]; n && err == 0;
             n = n->next) {
            /* Key: group bytes, NUL, u32be partition id. */
            size_t glen = n->klen - 5;
            uint32_t id = sl_get_u32be((const uint8_t *)n->key + glen + 1);
            err = sl_meta_encode_offset(&out, n->key, glen, id,
                                        *(uint64_t *)n->value);
        }
    if (err == 0 && store->have_seg_hwm)
        err = sl_meta_encode_seg(&out, store->seg_hwm);
    if (err == 0 && store->kpid_next > 0)
        err = sl_meta_encode_pid_hwm(&out, (uint64_t)store->kpid_next);
    for (size_t i = 0; i < store->nholes && err == 0; i++)
        err = sl_meta_encode_hole(&out, store->holes[i].part_id,
                                  store->holes[i].from, store->holes[i].to);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/meta.tmp", store->dir);
    sl_file_step_t step = SL_FILE_STEP_NONE;
    if (err == 0)
        err = sl_file_replace(path, tmp, out.data, out.len, 1, &step);
    if (err != 0 && step == SL_FILE_STEP_FSYNC)
        sl_fatal("fsync failed", "file=%s errno=%d", tmp, errno);
    sl_buf_free(&out);
    return err;
}

int sl__store_meta_append_now(sl_store_t *store, const sl_buf_t *recs) {
    if (recs->len == 0)
        return 0;
    int err = sl_file_write_all(store->meta_fd, recs->data, recs->len);
    if (err != 0)
        return err;
    if (store->opts.fsync_mode != SL_FSYNC_NEVER && fsync(store->meta_fd) != 0)
        sl_fatal("fsync failed", "file=meta.log errno=%d", errno);
    store->meta_size += recs->len;
    return 0;
}

/* Makes sure partitions 1..upto exist: names the checkpoint still has
 * (checkpoint.c), else placeholders "_lost/partition-<id>" whose data is
 * served but whose real name is lost (damage, reported). */
int sl__store_fill_parts(sl_store_t *store, uint32_t upto) {
    if (upto <= store->nparts)
        return 0;
    if (upto - store->nparts > 1000000u)
        return SL_ECORRUPT;
    int err = sl__store_ckpt_names(store, upto);
    if (err != 0)
        return err;
    while (store->nparts < upto) {
        uint32_t id = store->nparts + 1;
        char name[32];
        int nl = snprintf(name, sizeof name, "partition-%u", id);
        err = sl__store_add_part(store, id, "_lost", 5, name, (size_t)nl, NULL);
        if (err != 0)
            return err;
        sl_log_error("partition name lost (meta.log damaged or missing, "
                     "and not in the checkpoint); its data is served as "
                     "_lost/partition-<id>",
                     "id=%u", id);
        store->lost_names++;
    }
    store->meta_dirty = 1;
    return 0;
}

/* The partition id a record refers to, and the highest id that must
 * exist before it applies; 0 when it names none. */
static uint32_t needs_parts(const uint8_t *b, size_t n) {
    if (n < 5 || b[0] == 4)
        return 0;
    uint32_t id = sl_get_u32be(b + 1);
    return b[0] == 1 ? (id > 0 ? id - 1 : 0) : id;
}

/* Whether a valid record (length in bounds, CRC matching) starts at pos. */
static int record_at(const uint8_t *all, size_t got, size_t pos) {
    if (pos + 8 > got)
        return 0;
    uint32_t n = sl_get_u32be(all + pos);
    return n >= 1 && n <= 65536 && pos + 8 + n <= got &&
           sl_crc32c(0, all + pos + 8, n) == sl_get_u32be(all + pos + 4);
}

int sl__store_meta_rewrite(sl_store_t *store) {
    char path[4096], keep[4200];
    snprintf(path, sizeof path, "%s/meta.log", store->dir);
    /* The damaged file is kept for the operator, under a new name. */
    snprintf(keep, sizeof keep, "%s/meta.log.damaged-%lld", store->dir,
             (long long)time(NULL));
    if (link(path, keep) != 0 && errno != ENOENT)
        sl_log_warn("cannot keep a copy of the damaged meta.log",
                    "file=%s errno=%d", keep, errno);
    else
        sl_log_warn("meta.log rewritten from what was recovered; the old "
                    "file is kept",
                    "copy=%s", keep);
    if (store->meta_fd >= 0) {
        close(store->meta_fd);
        store->meta_fd = -1;
    }
    int err = compact(store, path);
    if (err != 0)
        return err;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return sl_err_from_errno(errno);
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        close(fd);
        return sl_err_from_errno(errno);
    }
    store->meta_fd = fd;
    store->meta_size = (uint64_t)end;
    store->meta_dirty = 0;
    return 0;
}

int sl__store_meta_load(sl_store_t *store) {
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.log", store->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return sl_err_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return sl_err_from_errno(errno);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *all = malloc(size ? size : 1);
    if (all == NULL) {
        close(fd);
        return SL_ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, all + got, size - got, (off_t)got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    /* A record that fails is a torn tail only when no valid record
     * follows it; otherwise it is damage: skipped, reported, never cut. */
    size_t pos = 0, end = 0;
    int err = 0;
    while (pos + 8 <= got && err == 0) {
        if (!record_at(all, got, pos)) {
            size_t q = pos + 1;
            while (q + 8 <= got && !record_at(all, got, q))
                q++;
            if (q + 8 > got)
                break; /* Torn tail. */
            sl_log_error("meta.log damaged; skipping the damaged bytes",
                         "file=%s at=%zu length=%zu", path, pos, q - pos);
            store->meta_damage++;
            pos = q;
            continue;
        }
        uint32_t n = sl_get_u32be(all + pos);
        const uint8_t *body = all + pos + 8;
        uint32_t need = needs_parts(body, n);
        if (need > store->nparts) {
            /* Partition records before this one were lost. */
            if (store->meta_damage == 0)
                store->meta_damage++;
            err = sl__store_fill_parts(store, need);
        }
        if (err == 0)
            err = apply(store, body, n);
        if (err == SL_ECORRUPT) {
            /* A record whose CRC matches but that does not fit (a
             * partition id out of order): damage too. */
            sl_log_error("meta.log record does not fit; skipping it",
                         "file=%s at=%zu", path, pos);
            store->meta_damage++;
            err = 0;
        }
        pos += 8 + n;
        end = pos;
    }
    free(all);
    if (err == 0) {
        /* Partitions the checkpoint knows and meta.log does not: its tail
         * or the whole file was lost. */
        uint32_t before = store->nparts;
        err = sl__store_ckpt_names(store, UINT32_MAX);
        if (err == 0 && store->nparts > before) {
            sl_log_error("meta.log lacks partitions the checkpoint names; "
                         "restored their names from it (group offsets and "
                         "high-water marks in the lost part are gone)",
                         "file=%s restored=%u", path, store->nparts - before);
            store->meta_damage++;
            store->meta_dirty = 1;
        }
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    /* A torn tail is cut by recovery (recover.c, cut_meta_tail()) once it
     * knows that start-up goes on: a stop for damage, in meta.log or in
     * the log, leaves the file as it was; the quarantine rewrites it
     * whole (found by fuzz_broker_meta). */
    if (end > META_COMPACT_AT && store->meta_damage == 0) {
        close(fd);
        err = compact(store, path);
        if (err != 0)
            return err;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return sl_err_from_errno(errno);
        end = (size_t)lseek(fd, 0, SEEK_END);
    }
    if (lseek(fd, (off_t)end, SEEK_SET) < 0) {
        close(fd);
        return sl_err_from_errno(errno);
    }
    store->meta_fd = fd;
    store->meta_size = end;
    return 0;
}
