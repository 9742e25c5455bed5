#include "error.h"

#include <errno.h>

const char *sl_strerror(int err) {
    switch (err) {
    case SL_OK: return "success";
#define SL_ERR_TEXT_(name, num, text)                                          \
    case SL_##name: return text;
        SL_ERRNO_MAP(SL_ERR_TEXT_)
#undef SL_ERR_TEXT_
    }
    return "unknown error";
}

const char *sl_errname(int err) {
    switch (err) {
    case SL_OK: return "SL_OK";
#define SL_ERR_NAME_(name, num, text)                                          \
    case SL_##name: return "SL_" #name;
        SL_ERRNO_MAP(SL_ERR_NAME_)
#undef SL_ERR_NAME_
    }
    return "SL_UNKNOWN";
}

int sl_err_from_errno(int errnum) {
    switch (errnum) {
    case 0: return SL_OK;
    case ENOMEM: return SL_ENOMEM;
    case EINVAL: return SL_EINVAL;
    case ENOENT: return SL_ENOTFOUND;
    case EEXIST: return SL_EEXIST;
    case EAGAIN: return SL_EAGAIN;
    case ETIMEDOUT: return SL_ETIMEDOUT;
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH: return SL_ECONN;
    case EPIPE: return SL_ECLOSED;
    case EFBIG:
    case E2BIG: return SL_ETOOBIG;
    case ENOSPC:
    case EDQUOT: return SL_ENOSPC;
    case EIO: return SL_EIO;
    default: return SL_ESYS;
    }
}
