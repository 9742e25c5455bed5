/*
 * libFuzzer target for the broker's protocol parser: parses the input as
 * a stream of pipelined requests, the way the server does (skipping bad
 * lines, stopping on fatal errors or an incomplete request), walks every
 * accepted mput's items, and checks the parser's promises: consumed bytes
 * within the input, payloads inside the buffer, "need" beyond what it had.
 */
#include "broker/proto.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_proto_limits_t lim;
    sl_proto_default_limits(&lim);
    lim.max_msg = 4096;
    lim.max_request = 8192;
    lim.max_count = 64;
    /* A private copy so reads past the end are caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    size_t off = 0;
    for (int guard = 0; guard < 100000 && off < size; guard++) {
        sl_cmd_t cmd;
        sl_proto_err_t err;
        size_t used = 0, need = 0;
        int rc = sl_proto_parse(buf + off, size - off, &lim, &cmd, &used, &need,
                                &err);
        if (rc == SL_EAGAIN) {
            if (need <= size - off)
                abort();
            break;
        }
        if (rc == SL_EPROTO) {
            if (err.code < 400 || err.code > 599 || err.msg == NULL)
                abort();
            if (err.fatal)
                break;
            if (used == 0 || used > size - off)
                abort();
            off += used;
            continue;
        }
        if (rc != 0 || used == 0 || used > size - off)
            abort();
        if (cmd.payload != NULL &&
            (cmd.payload < buf + off ||
             cmd.payload + cmd.payload_len > buf + off + used))
            abort();
        if (cmd.type == SL_CMD_MPUT) {
            const uint8_t *cur = cmd.payload, *end = cmd.payload + cmd.payload_len;
            const uint8_t *item;
            size_t ilen;
            uint64_t n = 0;
            while (sl_proto_mput_next(&cur, end, &item, &ilen)) {
                if (item < cmd.payload || item + ilen > end)
                    abort();
                n++;
            }
            if (n != cmd.count || cur != end)
                abort();
        }
        off += used;
    }
    free(buf);
    return 0;
}
