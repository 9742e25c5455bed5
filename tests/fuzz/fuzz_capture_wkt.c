/*
 * libFuzzer target for capture/decoder/format_wkt.c: the input is one
 * MySQL geometry value (a 4-byte SRID, then WKB) for sl__fmt_wkt().
 *
 * Besides ASan/UBSan's checks (and the stack: nesting is bounded), it
 * asserts the documented contract: an error comes with a reason and is
 * SL_ECORRUPT, and the text is bounded by a multiple of the input (a
 * coordinate's 8 bytes become at most ~330 characters, plain notation of
 * the largest double).
 */
#include "capture/decoder/format_int.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_buf_t out = SL_BUF_INIT;
    const char *why = NULL;
    int err = sl__fmt_wkt(data, size, &out, &why);
    if (err != 0 && (err != SL_ECORRUPT || why == NULL))
        abort();
    if (err == 0 && out.len > 64 + 48 * size)
        abort();
    sl_buf_free(&out);
    return 0;
}
