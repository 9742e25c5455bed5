/*
 * Regression tests for what the fuzz targets (tests/fuzz/) found, one per
 * defect, named for what broke. Each feeds the input that reproduced it to
 * the real code; the same input is also kept in the target's seed corpus.
 */
#include "broker/meta.h"
#include "broker/store.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "log.h"
#include "sl_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_record(sl_buf_t *out, const uint8_t *body, size_t n) {
    uint8_t *p = sl_buf_extend(out, 8 + n);
    SL_CHECK(p != NULL);
    sl_put_u32be(p, (uint32_t)n);
    sl_put_u32be(p + 4, sl_crc32c(0, body, n));
    memcpy(p + 8, body, n);
}

/* fuzz_broker_meta: a meta.log group-offset record whose group name is
 * longer than the encoder writes (1100 bytes, CRC valid) made
 * sl_meta_load() fail with SL_ETOOBIG, so the broker refused to start.
 * It is now a bad record: the log ends before it, as for any other. */
SL_TEST(fuzz_meta_long_group_name_does_not_stop_startup) {
    sl_log_set_level(SL_LOG_FATAL);
    const char *dir = sl_test_tmpdir();
    sl_buf_t meta = SL_BUF_INIT;
    SL_CHECK_OK(sl_meta_encode_part(&meta, 1, "t", 1, "p", 1));
    size_t first = meta.len;
    SL_CHECK_OK(sl_meta_encode_offset(&meta, "apply", 5, 1, 3));
    size_t good = meta.len;
    uint8_t body[1 + 4 + 8 + 2 + 1100];
    body[0] = 2;
    sl_put_u32be(body + 1, 1);
    sl_put_u64be(body + 5, 5);
    sl_put_u16be(body + 13, 1100);
    memset(body + 15, 'g', 1100);
    put_record(&meta, body, sizeof body);
    SL_CHECK(first < good);

    char path[1024];
    snprintf(path, sizeof path, "%s/meta.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    SL_CHECK(write(fd, meta.data, meta.len) == (ssize_t)meta.len);
    close(fd);

    sl_store_opts_t o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.segment_size = 1u << 20;
    o.fsync_mode = SL_FSYNC_NEVER;
    o.max_batch = 1u << 20;
    sl_store_t *store = NULL;
    SL_CHECK_OK(sl_store_open_offline(&store, &o));
    SL_CHECK_UINT(store->nparts, 1);
    uint64_t off = 0;
    SL_CHECK_OK(sl_store_committed(store, "apply", 5, store->parts[1], &off));
    SL_CHECK_UINT(off, 3);
    SL_CHECK_UINT(store->meta_size, good);
    sl_store_free(store);
    struct stat st;
    SL_CHECK(stat(path, &st) == 0);
    SL_CHECK_UINT((uint64_t)st.st_size, good);
    sl_buf_free(&meta);
}
