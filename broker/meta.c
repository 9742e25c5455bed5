/*
 * Metadata log, DIR/meta.log. A sequence of records, big-endian:
 *   0  u32  length N of the body (type byte included), 1 <= N <= 65536
 *   4  u32  CRC-32C of the N body bytes
 *   8       body: u8 type, then
 *     type 1, partition:  u32 id, u16 topic length, topic, u16 name
 *                         length, name (ids are dense, from 1)
 *     type 2, group offset: u32 partition id, u64 offset, u16 group
 *                         length, group
 * A record is valid when its CRC matches, its body parses exactly and its
 * names are within what the encoder writes (1024 bytes). The
 * first invalid record ends the log: it and everything after it are a torn
 * write and are truncated at start-up. Later records win (a group's
 * offset is the last one written). When the file grows past 16 MiB it is
 * rewritten at start-up with one record per partition and per group
 * offset (written to meta.tmp, fsynced, renamed over, directory fsynced).
 */
#include "broker/meta.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_COMPACT_AT (16u << 20)

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

/* Applies one body; SL_ECORRUPT when it does not parse. */
static int apply(sl_store_t *store, const uint8_t *b, size_t n) {
    sl_reader_t rd;
    sl_reader_init(&rd, b, n);
    uint8_t type;
    uint32_t id;
    uint16_t l1, l2;
    const uint8_t *s1, *s2;
    if (sl_rd_u8(&rd, &type) != 0 || sl_rd_u32be(&rd, &id) != 0)
        return SL_ECORRUPT;
    if (type == 1) {
        if (sl_rd_u16be(&rd, &l1) != 0 || sl_rd_bytes(&rd, l1, &s1) != 0 ||
            sl_rd_u16be(&rd, &l2) != 0 || sl_rd_bytes(&rd, l2, &s2) != 0 ||
            sl_reader_left(&rd) != 0)
            return SL_ECORRUPT;
        if (id == 0 || id != store->nparts + 1)
            return SL_ECORRUPT;
        return sl_store_add_part(store, id, (const char *)s1, l1,
                                 (const char *)s2, l2, NULL);
    }
    if (type == 2) {
        uint64_t off;
        if (sl_rd_u64be(&rd, &off) != 0 || sl_rd_u16be(&rd, &l1) != 0 ||
            sl_rd_bytes(&rd, l1, &s1) != 0 || sl_reader_left(&rd) != 0)
            return SL_ECORRUPT;
        if (id == 0 || id > store->nparts)
            return SL_ECORRUPT;
        /* A group name longer than the encoder writes is a bad record,
         * not a reason to refuse to start (found by fuzz_broker_meta). */
        int err = sl_store_set_group(store, (const char *)s1, l1, id, off);
        return err == SL_ETOOBIG ? SL_ECORRUPT : err;
    }
    return SL_ECORRUPT;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_from_errno(errno);
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : SL_EIO;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return sl_err_from_errno(errno);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int compact(sl_store_t *store, const char *path) {
    sl_buf_t out = SL_BUF_INIT;
    int err = 0;
    for (uint32_t id = 1; id <= store->nparts && err == 0; id++) {
        sl_part_t *part = store->parts[id];
        err = sl_meta_encode_part(&out, id, part->topic, strlen(part->topic),
                                  part->name, strlen(part->name));
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
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/meta.tmp", store->dir);
    int fd = -1;
    if (err == 0) {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            err = sl_err_from_errno(errno);
    }
    if (err == 0)
        err = write_all(fd, out.data, out.len);
    if (err == 0 && fsync(fd) != 0)
        sl_fatal("fsync failed", "file=%s errno=%d", tmp, errno);
    if (fd >= 0)
        close(fd);
    if (err == 0 && rename(tmp, path) != 0)
        err = sl_err_from_errno(errno);
    if (err == 0)
        err = fsync_dir(store->dir);
    sl_buf_free(&out);
    return err;
}

int sl_meta_load(sl_store_t *store) {
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
    size_t pos = 0;
    int err = 0;
    while (pos + 8 <= got) {
        uint32_t n = sl_get_u32be(all + pos);
        if (n == 0 || n > 65536 || pos + 8 + n > got)
            break;
        if (sl_crc32c(0, all + pos + 8, n) != sl_get_u32be(all + pos + 4))
            break;
        err = apply(store, all + pos + 8, n);
        if (err == SL_ECORRUPT) {
            err = 0;
            break;
        }
        if (err != 0)
            break;
        pos += 8 + n;
    }
    free(all);
    if (err != 0) {
        close(fd);
        return err;
    }
    if (pos < size) {
        sl_log_warn("meta log: truncating torn tail", "file=%s at=%zu size=%zu",
                    path, pos, size);
        if (ftruncate(fd, (off_t)pos) != 0 || fsync(fd) != 0)
            sl_fatal("cannot truncate meta log", "file=%s errno=%d", path,
                     errno);
    }
    if (pos > META_COMPACT_AT) {
        close(fd);
        err = compact(store, path);
        if (err != 0)
            return err;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return sl_err_from_errno(errno);
        pos = (size_t)lseek(fd, 0, SEEK_END);
    }
    if (lseek(fd, (off_t)pos, SEEK_SET) < 0) {
        close(fd);
        return sl_err_from_errno(errno);
    }
    store->meta_fd = fd;
    store->meta_size = pos;
    return 0;
}
