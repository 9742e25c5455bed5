/*
 * Writing files durably (see file.h).
 */
#include "file.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Writes p[0..n), at off when off >= 0, else at the file position. */
static int write_loop(int fd, const uint8_t *p, size_t n, int64_t off) {
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return sl_err_from_errno(errno);
        }
        if (w == 0) {
            /* A regular file only returns 0 for a full disk in practice;
             * treat it as one rather than spinning. */
            errno = ENOSPC;
            return SL_ENOSPC;
        }
        p += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int sl_file_write_all(int fd, const void *p, size_t n) {
    return write_loop(fd, p, n, -1);
}

int sl_file_pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
    return write_loop(fd, p, n, (int64_t)off);
}

int sl_file_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_from_errno(errno);
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? 0 : SL_EIO;
}

/* The directory part of path ("." when it has none) into out. */
static void dir_of(const char *path, char *out, size_t outlen) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, outlen, ".");
    else if (slash == path)
        snprintf(out, outlen, "/");
    else
        snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

int sl_file_replace(const char *path, const char *tmp, const void *data,
                    size_t len, int sync, sl_file_step_t *failed) {
    sl_file_step_t step = SL_FILE_STEP_CREATE;
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = sl_err_from_errno(errno);
        goto out;
    }
    step = SL_FILE_STEP_WRITE;
    err = sl_file_write_all(fd, data, len);
    if (err == 0 && sync) {
        step = SL_FILE_STEP_FSYNC;
        if (fsync(fd) != 0)
            err = SL_EIO;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (err != 0)
        goto out;
    step = SL_FILE_STEP_RENAME;
    if (rename(tmp, path) != 0) {
        err = sl_err_from_errno(errno);
        goto out;
    }
    if (sync) {
        char dir[4096];
        dir_of(path, dir, sizeof dir);
        step = SL_FILE_STEP_FSYNC_DIR;
        err = sl_file_fsync_dir(dir);
    }
out:
    if (err != 0 && step != SL_FILE_STEP_FSYNC_DIR &&
        step != SL_FILE_STEP_CREATE) {
        int saved_errno = errno;
        unlink(tmp);
        errno = saved_errno;
    }
    if (failed != NULL)
        *failed = err != 0 ? step : SL_FILE_STEP_NONE;
    return err;
}
