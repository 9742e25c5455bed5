/*
 * The one error table of sluice.
 *
 * Every function that can fail returns int: 0 on success or one of the
 * negative SL_E* codes below. The table is an X-macro, as in libuv's
 * UV_ERRNO_MAP, so the enum and sl_strerror() can never drift apart.
 */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#define SL_ERRNO_MAP(X)                                                        \
    X(ENOMEM, 1, "out of memory")                                              \
    X(EINVAL, 2, "invalid argument")                                           \
    X(EIO, 3, "input/output error")                                            \
    X(ECORRUPT, 4, "corrupt data")                                             \
    X(ETRUNC, 5, "truncated input")                                            \
    X(ECHECKSUM, 6, "checksum mismatch")                                       \
    X(ERANGE, 7, "value out of range")                                         \
    X(ENOTFOUND, 8, "not found")                                               \
    X(EEXIST, 9, "already exists")                                             \
    X(EPROTO, 10, "protocol error")                                            \
    X(ETOOBIG, 11, "too large")                                                \
    X(EUNSUPPORTED, 12, "unsupported")                                         \
    X(EAGAIN, 13, "try again")                                                 \
    X(ECLOSED, 14, "connection closed")                                        \
    X(ETIMEDOUT, 15, "timed out")                                              \
    X(ECONFIG, 16, "bad configuration")                                        \
    X(EUSAGE, 17, "bad usage")                                                 \
    X(ECONN, 18, "connection failed")                                          \
    X(EAUTH, 19, "authentication failed")                                      \
    X(EDB, 20, "database error")                                               \
    X(ESTOPPED, 21, "stopped")                                                 \
    X(EGONE, 22, "no longer available")                                        \
    X(EENCRYPTED, 23, "encrypted input")                                       \
    X(ESYS, 24, "system call failed")                                          \
    X(ENOSPC, 25, "insufficient storage")                                      \
    X(EDAMAGED, 26, "stored data damaged (quarantined)")                       \
    X(ELIMIT, 27, "limit reached")

typedef enum {
    SL_OK = 0,
#define SL_ERR_ENUM_(name, num, text) SL_##name = -(num),
    SL_ERRNO_MAP(SL_ERR_ENUM_)
#undef SL_ERR_ENUM_
} sl_errno_t;

/* Returns a static, human-readable description of err (0 or a SL_E* code).
 * Unknown codes yield "unknown error"; the string is never NULL. */
const char *sl_strerror(int err);

/* Returns the symbolic name of err ("SL_ECORRUPT"), or "SL_UNKNOWN". */
const char *sl_errname(int err);

/* Maps a positive errno value to the closest SL_E* code. */
int sl_err_from_errno(int errnum);

#endif
