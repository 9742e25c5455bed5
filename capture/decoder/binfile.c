/*
 * Reading binlog files into the decoder.
 *
 * A binlog file is the 4-byte magic 0xFE 'b' 'i' 'n' followed by events
 * back to back; each event's size is the u32le at offset 9 of its header
 * (the same offset in binlog v1, v3 and v4). The file is read with
 * read(2) in 4 MiB chunks; complete events are handed to the decoder
 * straight from the chunk (no copy), and the tail of a chunk is moved to
 * the front before the next read. An event larger than the buffer grows
 * it to the event's size, and the buffer shrinks back afterwards, so
 * memory stays near the chunk size plus the largest event.
 *
 * Regular files are mapped instead (see walk_mem): the same checks, no
 * copy, and the decoded part of the mapping released every 16 MiB.
 *
 * A file is valid when it starts with the magic and ends exactly at the
 * end of an event: a partial event (or garbage) at the end is an error
 * naming its position, as is a size field smaller than the header or
 * larger than SL_BINLOG_MAX_EVENT.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (4u << 20)

static int walk_mem(sl_binlog_t *dec, const char *name, const uint8_t *data,
                    size_t len, uint64_t start, uint64_t stop, int release);

static int read_full(int fd, uint8_t *p, size_t n, size_t *got) {
    size_t k = 0;
    while (k < n) {
        ssize_t r = read(fd, p + k, n - k);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return SL_EIO;
        }
        if (r == 0)
            break;
        k += (size_t)r;
    }
    *got = k;
    return 0;
}

int sl_binlog_read_file(sl_binlog_t *dec, const char *path, uint64_t start,
                        uint64_t stop) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int rc = sl_binlog_set_file(dec, base);
    if (rc != 0)
        return rc;
    dec->pos = 0;
    dec->type = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(dec->err, sizeof(dec->err), "binlog %s: cannot open: %s", path,
                 strerror(errno));
        return SL_EIO;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    /* A regular file is mapped and decoded in place: no copy into a read
     * buffer, and decoded pages are released as the walk goes. Anything
     * that cannot be mapped (a pipe, a device) is read in chunks. */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < ((uint64_t)1 << 40)) {
        size_t flen = (size_t)st.st_size;
        void *map = mmap(NULL, flen, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            (void)madvise(map, flen, MADV_SEQUENTIAL);
            close(fd);
            int mrc = walk_mem(dec, base, map, flen, start, stop, 1);
            munmap(map, flen);
            return mrc;
        }
    }
    size_t cap = CHUNK;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return SL_ENOMEM;
    }
    size_t have = 0, got;
    uint64_t pos = 0; /* File offset of buf[0]. */
    int eof = 0;
    rc = read_full(fd, buf, cap, &got);
    if (rc != 0)
        goto io;
    have = got;
    eof = got < cap;
    if (have < 4 || memcmp(buf, SL_BINLOG_MAGIC, 4) != 0) {
        snprintf(dec->err, sizeof(dec->err),
                 "binlog %s:0: not a binlog file (magic bytes missing)", base);
        rc = SL_ECORRUPT;
        goto out;
    }
    size_t off = 4;
    for (;;) {
        /* Decode every complete event in the buffer. */
        while (have - off >= 13) {
            uint64_t epos = pos + off;
            if (stop != 0 && epos >= stop)
                goto done;
            uint32_t esz = sl_binlog_event_size(buf + off);
            if (esz < 13 || esz > SL_BINLOG_MAX_EVENT) {
                dec->pos = epos;
                dec->type = buf[off + 4];
                rc = sl__dec_fail(dec, SL_ECORRUPT,
                                  "event size %u is impossible (corrupt "
                                  "or not a binlog)",
                                  esz);
                goto out;
            }
            if (have - off < esz)
                break;
            if (start > epos && start < epos + esz) {
                dec->pos = epos;
                dec->type = buf[off + 4];
                rc = sl__dec_fail(dec, SL_EINVAL,
                                  "start position %llu is inside this "
                                  "event (%u bytes); use an event "
                                  "boundary",
                                  (unsigned long long)start, esz);
                goto out;
            }
            rc = sl_binlog_feed(dec, buf + off, esz, epos, epos >= start);
            if (rc != 0)
                goto out;
            off += esz;
        }
        if (eof) {
            if (have - off != 0) {
                dec->pos = pos + off;
                dec->type = have - off > 4 ? buf[off + 4] : 0;
                uint32_t esz =
                    have - off >= 13 ? sl_binlog_event_size(buf + off) : 0;
                if (esz)
                    rc = sl__dec_fail(dec, SL_ETRUNC,
                                      "truncated event: the header "
                                      "announces %u bytes, the file ends "
                                      "after %zu",
                                      esz, have - off);
                else
                    rc = sl__dec_fail(dec, SL_ETRUNC,
                                      "%zu stray bytes at the end of the "
                                      "file (a partial event header)",
                                      have - off);
                goto out;
            }
            break;
        }
        /* Keep the partial event, grow for a large one, read more. */
        size_t left = have - off;
        size_t need = CHUNK;
        if (left >= 13) {
            uint32_t esz = sl_binlog_event_size(buf + off);
            if (esz > need)
                need = esz;
        }
        if (need != cap) {
            uint8_t *nb = malloc(need);
            if (nb == NULL) {
                rc = SL_ENOMEM;
                goto out;
            }
            memcpy(nb, buf + off, left);
            free(buf);
            buf = nb;
            cap = need;
        } else {
            memmove(buf, buf + off, left);
        }
        pos += off;
        off = 0;
        have = left;
        rc = read_full(fd, buf + have, cap - have, &got);
        if (rc != 0)
            goto io;
        eof = got < cap - have;
        have += got;
    }
done:
    rc = 0;
    goto out;
io:
    snprintf(dec->err, sizeof(dec->err), "binlog %s:%llu: read error: %s", base,
             (unsigned long long)pos, strerror(errno));
out:
    free(buf);
    close(fd);
    return rc;
}

/* Walks the events of a binlog held in memory. With release set, data is
 * a private file mapping and the pages already decoded are dropped from
 * it every RELEASE_STEP bytes, so resident memory stays bounded however
 * large the file (the page cache keeps them; this process does not). */
#define RELEASE_STEP ((size_t)16 << 20)

int sl_binlog_read_mem(sl_binlog_t *dec, const char *name, const uint8_t *data,
                       size_t len, uint64_t start, uint64_t stop) {
    return walk_mem(dec, name, data, len, start, stop, 0);
}

static int walk_mem(sl_binlog_t *dec, const char *name, const uint8_t *data,
                    size_t len, uint64_t start, uint64_t stop, int release) {
    size_t released = 0;
    long page = sysconf(_SC_PAGESIZE);
    int rc = sl_binlog_set_file(dec, name);
    if (rc != 0)
        return rc;
    dec->pos = 0;
    dec->type = 0;
    if (len < 4 || memcmp(data, SL_BINLOG_MAGIC, 4) != 0) {
        snprintf(dec->err, sizeof(dec->err),
                 "binlog %s:0: not a binlog file (magic bytes missing)", name);
        return SL_ECORRUPT;
    }
    size_t off = 4;
    while (off < len) {
        if (stop != 0 && off >= stop)
            return 0;
        dec->pos = off;
        dec->type = len - off > 4 ? data[off + 4] : 0;
        if (len - off < 13)
            return sl__dec_fail(dec, SL_ETRUNC,
                                "%zu stray bytes at the end of the file "
                                "(a partial event header)",
                                len - off);
        uint32_t esz = sl_binlog_event_size(data + off);
        if (esz < 13 || esz > SL_BINLOG_MAX_EVENT)
            return sl__dec_fail(dec, SL_ECORRUPT,
                                "event size %u is impossible (corrupt or "
                                "not a binlog)",
                                esz);
        if (len - off < esz)
            return sl__dec_fail(dec, SL_ETRUNC,
                                "truncated event: the header announces "
                                "%u bytes, the file ends after %zu",
                                esz, len - off);
        if (start > off && start < off + esz)
            return sl__dec_fail(dec, SL_EINVAL,
                                "start position %llu is inside this event "
                                "(%u bytes); use an event boundary",
                                (unsigned long long)start, esz);
        rc = sl_binlog_feed(dec, data + off, esz, off, off >= start);
        if (rc != 0)
            return rc;
        off += esz;
        if (release && page > 0 && off - released >= RELEASE_STEP) {
            size_t upto = off & ~((size_t)page - 1);
            (void)madvise((void *)(uintptr_t)(data + released), upto - released,
                          MADV_DONTNEED);
            released = upto;
        }
    }
    return 0;
}
