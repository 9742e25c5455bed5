/*
 * libFuzzer target for capture/json_bin.
 *
 * Input: the first byte picks the function. Even: the rest is one binary
 * JSON value for sl_jsonb_to_json(). Odd: the next two bytes (little-
 * endian) are the before-image length, then the before-image, then the
 * diff list for sl_jsondiff_apply().
 *
 * Besides ASan/UBSan's checks, it asserts the documented contract: on
 * error out is left exactly as it was, and on success the text is bounded
 * by a small multiple of the input (the decoder's defence against shared
 * values built to blow up the output).
 */
#include "capture/decoder/json_bin.h"

#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    sl_buf_t out = SL_BUF_INIT;
    if (sl_buf_append(&out, "PRE", 3) != 0)
        return 0;
    int err;
    size_t in_len;
    if ((data[0] & 1) == 0) {
        in_len = size - 1;
        err = sl_jsonb_to_json(data + 1, size - 1, &out);
    } else {
        if (size < 3) {
            sl_buf_free(&out);
            return 0;
        }
        size_t blen = (size_t)data[1] | ((size_t)data[2] << 8);
        if (blen > size - 3)
            blen = size - 3;
        const uint8_t *before = data + 3;
        const uint8_t *diff = before + blen;
        size_t dlen = size - 3 - blen;
        in_len = blen + dlen;
        err = sl_jsondiff_apply(before, blen, diff, dlen, &out);
    }
    if (err != 0 && (out.len != 3 || memcmp(out.data, "PRE", 3) != 0))
        abort(); /* Partial output left behind on error. */
    if (err == 0 && out.len - 3 > 8 * in_len + 64)
        abort(); /* Output not bounded by the input. */
    sl_buf_free(&out);
    return 0;
}
