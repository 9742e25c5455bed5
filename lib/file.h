/*
 * Writing files durably: a whole buffer, a directory's fsync, and the
 * atomic replacement of a file. These functions report errors and never
 * die; whether a failed fsync is fatal is the caller's policy (the broker
 * never acknowledges anything after one).
 */
#ifndef SL_FILE_H
#define SL_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Writes all of p[0..n) to fd at its file position, retrying short writes
 * and EINTR. Returns 0 or the SL_E* code of the failed write: SL_ENOSPC
 * when the file system is out of space or quota, or when a write stores
 * nothing (errno is then ENOSPC). errno tells the cause; some bytes may
 * have been written. */
int sl_file_write_all(int fd, const void *p, size_t n);
/* Likewise at file offset off (pwrite(2)); the file position is unused. */
int sl_file_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* fsyncs the directory dir, making the creation, removal and renaming of
 * its entries durable. 0, the SL_E* code of a failed open, or SL_EIO when
 * the fsync failed (errno tells the cause). */
int sl_file_fsync_dir(const char *dir);

/* The step of sl_file_replace() that failed. */
typedef enum {
    SL_FILE_STEP_NONE = 0,
    SL_FILE_STEP_CREATE,    /* Creating tmp. */
    SL_FILE_STEP_WRITE,     /* Writing the data to tmp. */
    SL_FILE_STEP_FSYNC,     /* fsync of tmp (SL_EIO). */
    SL_FILE_STEP_RENAME,    /* Renaming tmp over path. */
    SL_FILE_STEP_FSYNC_DIR, /* fsync of path's directory (SL_EIO). */
} sl_file_step_t;

/* Replaces the file path atomically with data[0..len): writes it to tmp
 * (created, or truncated, with mode 0644), fsyncs tmp when sync is set,
 * renames it over path and, when sync is set, fsyncs path's directory.
 * Readers of path see the old content or the new, never a mix, and with
 * sync the new content survives a crash once this returns 0. On failure
 * returns the SL_E* code (SL_ENOSPC for lack of space), sets *failed
 * (when not NULL) to the step, removes tmp when it was created and not
 * renamed, and leaves errno as the failed call set it. */
int sl_file_replace(const char *path, const char *tmp, const void *data,
                    size_t len, int sync, sl_file_step_t *failed);

#endif
