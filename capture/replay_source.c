/*
 * The replay's reader of binlog files: hands the events of the files, in
 * order, to the capture service as the replication connection would
 * (replay.h). Each file is mapped read-only and walked event by event.
 *
 * Binlog file format (both MySQL and MariaDB): the magic 0xFE 'b' 'i' 'n',
 * then events, each a 19-byte header (timestamp u32le, type u8, server_id
 * u32le, event_size u32le, log_pos u32le, flags u16le), a body, and a CRC32
 * trailer when the file's FORMAT_DESCRIPTION says so. The first event (at
 * position 4) is the FORMAT_DESCRIPTION; a rotated file ends with a ROTATE
 * naming the next file.
 *
 * Positions are the live ones: "name:offset" with the file's base name.
 * Starting past position 4, the file's FORMAT_DESCRIPTION is handed over
 * first as an artificial event (position 0), as a server does when a
 * replica starts mid-file, so the decoder knows the file's format.
 *
 * Transactions: the filters (--start-datetime, --stop-datetime,
 * --stop-position, --include-gtids, --exclude-gtids) act on whole
 * transactions, never on single events, so no transaction is published
 * in part. A transaction starts at a GTID event (or, in files without
 * GTIDs, at the first event outside one) and ends with XID, XA_PREPARE,
 * a COMMIT or ROLLBACK query, a compressed TRANSACTION_PAYLOAD, or, when
 * no BEGIN opened it, with its one statement (DDL). Its time is the
 * timestamp of its first event. Events outside transactions (format
 * descriptions, rotations, GTID lists, binlog checkpoints) always pass.
 * As mysqlbinlog does, a stop point ends the replay at the first
 * transaction at or after it; unlike mysqlbinlog, the start datetime is
 * applied to every transaction (a transaction older than it is skipped
 * even after a newer one), which keeps a resumed replay's choice the same.
 */
#include "replay.h"
#include "replay_int.h"

#include "bytes.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_replay_src_s {
    sl_replay_t *rp;
    size_t fi; /* The file being read. */
    int fd;
    const uint8_t *map;
    size_t maplen;
    uint64_t off;        /* The next event's offset in the file. */
    int fde_due;         /* Hand over the file's FDE (artificial) first. */
    unsigned qpost;      /* QUERY post-header length: 13, 11 before v4. */
    int crc;             /* Events end with a CRC32. */
    char rotate_to[256]; /* The next file named by a ROTATE, or "". */
    int in_trx, began, skipping;
    int done;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static void unmap(sl_replay_src_t *s) {
    if (s->map != NULL && s->map != MAP_FAILED)
        munmap((void *)s->map, s->maplen);
    if (s->fd >= 0)
        close(s->fd);
    s->map = NULL;
    s->fd = -1;
}

/* Maps file fi (its size as it is now: a file still being written is read
 * up to here). */
static int map_file(sl_replay_src_t *s, size_t fi, char *err, size_t errlen) {
    unmap(s);
    const sl_replay_file_t *f = &s->rp->files[fi];
    s->fi = fi;
    s->rp->file_index = fi;
    s->rotate_to[0] = '\0';
    s->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) != 0)
        return fail(err, errlen, SL_EIO, "%s: %s", f->path, strerror(errno));
    s->maplen = (size_t)st.st_size;
    if (s->maplen < 4)
        return fail(err, errlen, SL_ETRUNC, "%s: not a binlog file (%zu bytes)",
                    f->path, s->maplen);
    s->map = mmap(NULL, s->maplen, PROT_READ, MAP_PRIVATE, s->fd, 0);
    if (s->map == MAP_FAILED)
        return fail(err, errlen, SL_EIO, "%s: mmap: %s", f->path,
                    strerror(errno));
    madvise((void *)s->map, s->maplen, MADV_SEQUENTIAL);
    if (memcmp(s->map,
               "\xfe"
               "bin",
               4) != 0)
        return fail(err, errlen, SL_ECORRUPT,
                    "%s: not a binlog file (no 0xFE 'bin' magic)", f->path);
    s->qpost = 13;
    s->crc = 0;
    return 0;
}

/* Learns the checksum setting from a FORMAT_DESCRIPTION (as the decoder
 * does: servers from MySQL 5.6.1 and MariaDB 5.3 end it with the
 * algorithm byte and a checksum slot). */
static void learn_fde(sl_replay_src_t *s, const uint8_t *ev, size_t len) {
    s->qpost = 13;
    s->crc = 0;
    if (len < 19 + 57 + 5)
        return;
    char sv[51];
    memcpy(sv, ev + 19 + 2, 50);
    sv[50] = '\0';
    unsigned a = 0, b = 0, c = 0;
    sscanf(sv, "%u.%u.%u", &a, &b, &c);
    unsigned v = a * 10000 + b * 100 + c;
    int has_alg = strstr(sv, "MariaDB") ? v >= 50300 : v >= 50601;
    s->crc = has_alg && ev[len - 5] == 1;
}

static int is_gtid(uint8_t type) {
    return type == 33 || type == 34 || type == 42 || type == 162;
}

/* Events outside any transaction. */
static int is_standalone(uint8_t type) {
    switch (type) {
    case 1:   /* START_V3 */
    case 3:   /* STOP */
    case 4:   /* ROTATE */
    case 15:  /* FORMAT_DESCRIPTION */
    case 27:  /* HEARTBEAT */
    case 35:  /* PREVIOUS_GTIDS */
    case 161: /* MariaDB BINLOG_CHECKPOINT */
    case 163: /* MariaDB GTID_LIST */ return 1;
    default: return 0;
    }
}

static int query_is(const uint8_t *q, size_t n, const char *word) {
    size_t w = strlen(word);
    return n >= w && strncasecmp((const char *)q, word, w) == 0 &&
           (n == w || q[w] == ' ' || q[w] == '\t' || q[w] == '\n');
}

/* Moves the transaction state past a QUERY event. */
static void after_query(sl_replay_src_t *s, const uint8_t *ev, size_t len) {
    size_t tail = s->crc ? 4 : 0;
    size_t fixed = 19 + s->qpost;
    if (len < fixed + tail)
        return;
    uint8_t dblen = ev[19 + 8];
    size_t svlen = s->qpost >= 13 ? sl_get_u16le(ev + 19 + 11) : 0;
    size_t qoff = fixed + svlen + dblen + 1;
    if (qoff > len - tail)
        return;
    const uint8_t *q = ev + qoff;
    size_t n = len - tail - qoff;
    if (query_is(q, n, "BEGIN") || query_is(q, n, "XA START") ||
        query_is(q, n, "XA BEGIN")) {
        s->began = 1;
        return;
    }
    /* ROLLBACK TO SAVEPOINT stays inside the transaction. */
    int rollback = query_is(q, n, "ROLLBACK") &&
                   !(n > 11 && strncasecmp((const char *)q + 9, "TO", 2) == 0);
    if (!s->began || query_is(q, n, "COMMIT") || rollback)
        s->in_trx = 0;
}

int sl_replay_src_open(sl_replay_src_t **out, const char *file, uint64_t pos,
                       char *err, size_t errlen) {
    sl_replay_t *rp = sl__replay_get();
    *out = NULL;
    sl_replay_src_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SL_ENOMEM;
    s->rp = rp;
    s->fd = -1;
    size_t fi = 0;
    uint64_t off = rp->start_pos;
    if (file != NULL && file[0] != '\0') {
        size_t i;
        for (i = 0; i < rp->nfiles; i++)
            if (strcmp(rp->files[i].name, file) == 0)
                break;
        if (i < rp->nfiles) {
            fi = i;
            off = pos < 4 ? 4 : pos;
        } else if (strcmp(file, rp->files[rp->nfiles - 1].name) > 0) {
            /* A checkpoint past the last file: all of it was replayed. */
            fi = rp->nfiles - 1;
            off = UINT64_MAX;
        } else if (strcmp(file, rp->files[0].name) > 0) {
            free(s);
            return fail(err, errlen, SL_ENOTFOUND,
                        "the replay's checkpoint is at %s:%llu, a file that "
                        "is not among the files given; give it too, or "
                        "replay under another --name",
                        file, (unsigned long long)pos);
        }
    }
    int rc = map_file(s, fi, err, errlen);
    if (rc != 0) {
        sl_replay_src_close(s);
        return rc;
    }
    if (off == UINT64_MAX || off > s->maplen)
        off = s->maplen;
    rp->bytes_done = 0; /* Counted anew when the service reopens. */
    for (size_t i = 0; i < fi; i++)
        rp->bytes_done += rp->files[i].size;
    rp->bytes_done += off;
    s->off = off;
    s->fde_due = off > 4 && off < s->maplen;
    *out = s;
    return 0;
}

/* The event at s->off, checked against the file's end. */
static int frame(sl_replay_src_t *s, uint64_t off, size_t *len, char *err,
                 size_t errlen) {
    const char *path = s->rp->files[s->fi].path;
    if (off + 19 > s->maplen)
        return fail(err, errlen, SL_ETRUNC,
                    "%s:%llu: the file ends inside an event header (a file "
                    "still being written, or cut short)",
                    path, (unsigned long long)off);
    uint32_t size = sl_get_u32le(s->map + off + 9);
    if (size < 19 || off + size > s->maplen)
        return fail(err, errlen, size < 19 ? SL_ECORRUPT : SL_ETRUNC,
                    "%s:%llu: event of %u bytes does not fit in the file "
                    "(%zu bytes)",
                    path, (unsigned long long)off, size, s->maplen);
    *len = size;
    return 0;
}

/* Past the end of the current file: on to the next one, or the end. */
static int next_file(sl_replay_src_t *s, char *err, size_t errlen) {
    sl_replay_t *rp = s->rp;
    const char *name = rp->files[s->fi].name;
    if (s->in_trx && s->began)
        return fail(err, errlen, SL_ETRUNC,
                    "%s ends inside a transaction: the rest of it is "
                    "missing (a file still being written, or cut short); "
                    "nothing of that transaction is acknowledged as "
                    "replayed",
                    rp->files[s->fi].path);
    if (s->fi + 1 >= rp->nfiles) {
        s->done = 1;
        rp->finished = 1;
        return SL_ESTOPPED;
    }
    const char *next = rp->files[s->fi + 1].name;
    if (s->rotate_to[0] != '\0' && strcmp(s->rotate_to, next) != 0)
        return fail(err, errlen, SL_EINVAL,
                    "%s rotates to %s, but the next file given is %s: a "
                    "file is missing or out of order, and its rows would be "
                    "lost",
                    name, s->rotate_to, next);
    s->in_trx = 0;
    int rc = map_file(s, s->fi + 1, err, errlen);
    if (rc != 0)
        return rc;
    s->off = 4;
    return 0;
}

int sl_replay_src_next(sl_replay_src_t *s, const uint8_t **ev, size_t *len,
                       const char **file, uint64_t *pos, char *err,
                       size_t errlen) {
    sl_replay_t *rp = s->rp;
    int rc;
    for (;;) {
        if (s->done)
            return fail(err, errlen, SL_ESTOPPED, "the replay ended");
        int last = s->fi + 1 == rp->nfiles;
        if (s->off >= s->maplen) {
            if ((rc = next_file(s, err, errlen)) != 0) {
                if (rc == SL_ESTOPPED)
                    snprintf(err, errlen, "the replay ended");
                return rc;
            }
            continue;
        }
        if (s->fde_due) {
            size_t n;
            if ((rc = frame(s, 4, &n, err, errlen)) != 0)
                return rc;
            s->fde_due = 0;
            learn_fde(s, s->map + 4, n);
            *ev = s->map + 4;
            *len = n;
            *file = rp->files[s->fi].name;
            *pos = 0;
            return 0;
        }
        if (!s->in_trx && last && rp->stop_pos != 0 && s->off >= rp->stop_pos) {
            s->done = 1;
            rp->finished = 1;
            return fail(err, errlen, SL_ESTOPPED, "the replay ended");
        }
        size_t n;
        if ((rc = frame(s, s->off, &n, err, errlen)) != 0)
            return rc;
        const uint8_t *e = s->map + s->off;
        uint8_t type = e[4];
        int64_t ts_ms = (int64_t)sl_get_u32le(e) * 1000;
        if (is_standalone(type)) {
            if (type == 15)
                learn_fde(s, e, n);
            if (type == 1)
                s->qpost = 11;
            if (type == 4 && n > 19 + 8) {
                size_t nl = n - 19 - 8 - (s->crc ? 4 : 0);
                if (nl > n - 19 - 8)
                    nl = 0;
                snprintf(s->rotate_to, sizeof s->rotate_to, "%.*s", (int)nl,
                         (const char *)e + 19 + 8);
            }
            s->in_trx = 0;
            s->skipping = 0;
        } else if (is_gtid(type) || !s->in_trx) {
            /* A transaction starts: the stop points and filters decide. */
            if ((last && rp->stop_pos != 0 && s->off >= rp->stop_pos) ||
                (rp->stop_ms >= 0 && ts_ms >= rp->stop_ms)) {
                rp->stopped_at_datetime =
                    rp->stop_ms >= 0 && ts_ms >= rp->stop_ms;
                s->done = 1;
                rp->finished = 1;
                return fail(err, errlen, SL_ESTOPPED, "the replay ended");
            }
            s->in_trx = 1;
            s->began = 0;
            int want = 1;
            if (rp->start_ms >= 0 && ts_ms < rp->start_ms)
                want = 0;
            else if (rp->ninclude + rp->nexclude > 0) {
                want = sl__replay_gtid_wanted(rp, e, n);
                if (want < 0)
                    return fail(err, errlen, SL_EUNSUPPORTED,
                                "%s:%llu: a tagged GTID (MySQL 8.4) cannot be "
                                "matched against --include-gtids or "
                                "--exclude-gtids",
                                rp->files[s->fi].name,
                                (unsigned long long)s->off);
            }
            s->skipping = !want;
            if (s->skipping)
                rp->trx_skipped++;
        }
        if (type == 2)
            after_query(s, e, n);
        else if (type == 16 || type == 38 || type == 40)
            s->in_trx = 0; /* XID, XA_PREPARE, TRANSACTION_PAYLOAD. */
        uint64_t at = s->off;
        s->off += n;
        rp->bytes_done += n;
        if (s->skipping)
            continue;
        rp->events++;
        *ev = e;
        *len = n;
        *file = rp->files[s->fi].name;
        *pos = at;
        return 0;
    }
}

void sl_replay_src_position(const sl_replay_src_t *s, const char **file,
                            uint64_t *pos) {
    *file = s->rp->files[s->fi].name;
    *pos = s->off;
}

void sl_replay_src_close(sl_replay_src_t *s) {
    if (s == NULL)
        return;
    unmap(s);
    free(s);
}
