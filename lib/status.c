/*
 * Mapping between the protocol's status codes and SL_E* errors; the
 * table is in status.h.
 */
#include "status.h"

#include <stddef.h>

static const struct {
    int code, to_err, from_err;
} status_table[] = {
#define SL_STATUS_ROW_(code, name, to_err, from_err) {code, to_err, from_err},
    SL_STATUS_MAP(SL_STATUS_ROW_)
#undef SL_STATUS_ROW_
};

#define STATUS_COUNT (sizeof status_table / sizeof status_table[0])

int sl_status_error(int code) {
    for (size_t i = 0; i < STATUS_COUNT; i++)
        if (status_table[i].code == code)
            return status_table[i].to_err;
    return SL_EIO;
}

int sl_status_of_error(int err) {
    /* A range error from the store (a sequence or an offset no request may
     * carry) is the request's fault; 416 answers only a get, whose reply
     * carries the partition's bounds. */
    if (err == SL_ERANGE)
        return SL_STATUS_BAD_REQUEST;
    for (size_t i = 0; i < STATUS_COUNT; i++)
        if (err != 0 && status_table[i].from_err == err)
            return status_table[i].code;
    return SL_STATUS_INTERNAL;
}
