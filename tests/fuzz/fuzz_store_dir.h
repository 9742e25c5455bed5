/*
 * Helpers shared by the broker storage fuzz targets (meta.log and
 * checkpoint loading) and tests/fuzz/seedgen.c: a private data directory
 * (on /dev/shm when there is one, so the loaders' fsyncs cost nothing),
 * file writes, and a small store written by the real encoders.
 *
 * Every function is static inline: each program links its own copy, and
 * one that uses only some of them gets no unused-function warning.
 */
#ifndef SL_FUZZ_STORE_DIR_H
#define SL_FUZZ_STORE_DIR_H

#include "broker/checkpoint.h"
#include "broker/meta.h"
#include "broker/store.h"
#include "broker/store_int.h"
#include "buf.h"
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fz_root[256];

static inline void fz_rm_dir_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *ent;
    char path[512];
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) <
            (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* Empties the data directory (files, log/ and idx/), keeping the dirs. */
static inline void fz_clear(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/log", fz_root);
    fz_rm_dir_files(path);
    snprintf(path, sizeof path, "%s/idx", fz_root);
    fz_rm_dir_files(path);
    fz_rm_dir_files(fz_root);
}

static inline void fz_cleanup(void) {
    char path[512];
    fz_clear();
    snprintf(path, sizeof path, "%s/log", fz_root);
    rmdir(path);
    snprintf(path, sizeof path, "%s/idx", fz_root);
    rmdir(path);
    rmdir(fz_root);
}

/* The data directory, created on first use and removed at exit. */
static inline const char *fz_dir(void) {
    if (fz_root[0] != '\0')
        return fz_root;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
                           ? "/dev/shm"
                           : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(fz_root, sizeof fz_root, "%s/sluice-fuzz-XXXXXX", base);
    if (mkdtemp(fz_root) == NULL)
        abort();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/log", fz_root);
    if (mkdir(sub, 0755) != 0)
        abort();
    snprintf(sub, sizeof sub, "%s/idx", fz_root);
    if (mkdir(sub, 0755) != 0)
        abort();
    atexit(fz_cleanup);
    /* Recovery's warnings on damaged input are expected by the thousand. */
    sl_log_set_level(getenv("FZ_LOG") ? SL_LOG_INFO : SL_LOG_FATAL);
    return fz_root;
}

/* Writes rel (relative to the data directory) with exactly len bytes. */
static inline void fz_write(const char *rel, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_dir(), rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    if (len > 0 && write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
}

/* Reads rel into out (reset first); -1 when it does not exist. */
static inline int fz_read(const char *rel, sl_buf_t *out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_dir(), rel);
    sl_buf_reset(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint8_t tmp[65536];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof tmp)) > 0)
        if (sl_buf_append(out, tmp, (size_t)r) != 0)
            abort();
    close(fd);
    return r < 0 ? -1 : 0;
}

/* Opens the store offline as the broker does at start-up, with or without
 * the operator's --quarantine-damaged. */
static inline int fz_open_q(sl_store_t **out, int quarantine) {
    sl_store_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.dir = fz_dir();
    opts.segment_size = 1u << 20;
    opts.fsync_mode = SL_FSYNC_NEVER;
    opts.max_batch = 1u << 20;
    opts.quarantine_damaged = quarantine;
    return sl_store_open_offline(out, &opts);
}

static inline int fz_open(sl_store_t **out) { return fz_open_q(out, 0); }

/* Whether rel exists with exactly the len bytes of data. */
static inline int fz_same(const char *rel, const void *data, size_t len) {
    sl_buf_t got = SL_BUF_INIT;
    int same = fz_read(rel, &got) == 0 && got.len == len &&
               (len == 0 || memcmp(got.data, data, len) == 0);
    sl_buf_free(&got);
    return same;
}

/* Whether rel is absent. */
static inline int fz_absent(const char *rel) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", fz_dir(), rel);
    return stat(path, &st) != 0;
}

/* The small store of the checkpoint target: partitions 1..FZ_NPARTS and
 * entries written by the real encoders, with and without producers. */
#define FZ_NPARTS 3
#define FZ_SEGMENT "log/00000000000000000000.log"

static inline void fz_make_store(sl_buf_t *meta, sl_buf_t *seg) {
    static const char *const names[FZ_NPARTS][2] = {
        {"orders", "shop.orders"}, {"orders", "shop.users"}, {"_sluice", "c1"}};
    uint64_t next[FZ_NPARTS + 1] = {0};
    sl_buf_reset(meta);
    sl_buf_reset(seg);
    for (uint32_t id = 1; id <= FZ_NPARTS; id++)
        if (sl_meta_encode_part(meta, id, names[id - 1][0],
                                strlen(names[id - 1][0]), names[id - 1][1],
                                strlen(names[id - 1][1])) != 0)
            abort();
    if (sl_meta_encode_offset(meta, "apply", 5, 1, 2) != 0)
        abort();
    static const char *const vals[] = {
        "{\"op\":\"insert\",\"id\":1}", "", "{\"op\":\"delete\"}",
        "{\"file\":\"binlog.000001\",\"pos\":4}", "x"};
    for (int i = 0; i < 9; i++) {
        uint32_t id = (uint32_t)(i % FZ_NPARTS) + 1;
        sl_msg_t msgs[3] = {0};
        size_t n = (size_t)(i % 3) + 1;
        for (size_t k = 0; k < n; k++) {
            msgs[k].data = (const uint8_t *)vals[(i + (int)k) % 5];
            msgs[k].len = strlen(vals[(i + (int)k) % 5]);
        }
        int64_t producer = id == 1 ? 7 : -1;
        uint64_t seq = producer >= 0 ? next[id] + 100 : 0;
        if (sl_record_encode(seg, id, next[id], 1700000000000 + i, producer,
                             seq, msgs, n) != 0)
            abort();
        next[id] += n;
    }
}

#endif
