/*
 * libFuzzer target for the replay's reader of binlog files
 * (capture/replay_source.c): the event framing, the transaction state
 * machine (QUERY texts, GTID events, ROTATE names) and the filters, over
 * a file of hostile bytes.
 *
 * The first input byte picks the filters (bit 0: --include-gtids 0-*-1-5,
 * bit 1: --exclude-gtids of a MySQL uuid, bit 2: --stop-datetime, bit 3:
 * --start-datetime, bit 4: --stop-position 300); the rest is the file
 * after its magic. Besides ASan/UBSan's checks it asserts the contract:
 * every event handed over lies inside the file and is at least a header
 * long, at a position of 0 (artificial) or at least 4; the reader ends
 * with SL_ESTOPPED or one of its errors, within one call per byte.
 */
#include "capture/replay.h"
#include "capture/replay_int.h"

#include "error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_replay.%d.000001", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite("\xfe"
           "bin",
           1, 4, f);
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);

    sl_replay_file_t file = {path, strrchr(path, '/') + 1, size + 3};
    sl_replay_gtid_range_t inc = {
        .domain = 0, .any_server = 1, .lo = 1, .hi = 5};
    sl_replay_gtid_range_t exc = {
        .mysql = 1, .uuid = {1, 2, 3}, .lo = 1, .hi = 100};
    sl_replay_t rp;
    memset(&rp, 0, sizeof rp);
    rp.files = &file;
    rp.nfiles = 1;
    rp.start_pos = 4;
    rp.start_ms = data[0] & 8 ? 1000000000000LL : -1;
    rp.stop_ms = data[0] & 4 ? 1500000000000LL : -1;
    rp.stop_pos = data[0] & 16 ? 300 : 0;
    if (data[0] & 1) {
        rp.include = &inc;
        rp.ninclude = 1;
    }
    if (data[0] & 2) {
        rp.exclude = &exc;
        rp.nexclude = 1;
    }
    sl__replay_set(&rp);
    sl_replay_src_t *src;
    char err[512];
    int rc = sl_replay_src_open(&src, NULL, 0, err, sizeof err);
    if (rc == 0) {
        for (size_t calls = 0;; calls++) {
            if (calls > size + 2)
                abort(); /* Each call consumes an event or ends. */
            const uint8_t *ev;
            size_t len;
            const char *name;
            uint64_t pos;
            rc = sl_replay_src_next(src, &ev, &len, &name, &pos, err,
                                    sizeof err);
            if (rc != 0)
                break;
            if (len < 19 || len > size + 3 || (pos != 0 && pos < 4) ||
                pos + len > size + 3)
                abort();
            /* Touch the event's bytes: ASan checks they are mapped. */
            volatile uint8_t sink = ev[0] ^ ev[len - 1];
            (void)sink;
        }
        sl_replay_src_close(src);
    }
    if (rc != SL_ESTOPPED && rc != SL_ETRUNC && rc != SL_ECORRUPT &&
        rc != SL_EIO && rc != SL_EINVAL && rc != SL_EUNSUPPORTED)
        abort();
    sl__replay_set(NULL);
    unlink(path);
    return 0;
}
