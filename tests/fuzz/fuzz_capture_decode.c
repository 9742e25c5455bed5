/*
 * libFuzzer target over the binlog decoder.
 *
 * The first input byte picks how the rest is framed:
 *   0: a whole binlog file (the magic is prepended), so framing, the
 *      format description and every length check are exercised;
 *   1: events after a synthetic MySQL 8.0 format description;
 *   2: events after a synthetic MariaDB 10.11 format description.
 * When (byte / 3) is odd, rows are also rendered with column exclusion
 * (columns whose name starts with an odd byte are dropped) and with the
 * routing hash, as the live service asks for them.
 * Checksums are not verified, so mutations reach the event decoders
 * behind them. Any crash, sanitizer report, leak or hang is a bug: the
 * decoder must answer every input with 0 or an error.
 */
#include "bytes.h"
#include "capture/decoder/binlog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every byte so ASan checks it. */
static void touch(const char *p, size_t n) {
    volatile uint8_t x = 0;
    for (size_t i = 0; p != NULL && i < n; i++)
        x ^= (uint8_t)p[i];
    (void)x;
}

static int sink_cb(void *ctx, const sl_change_t *chg) {
    (void)ctx;
    touch(chg->json, chg->json_len);
    touch(chg->sql, chg->sql_len);
    touch(chg->before, chg->before_len);
    touch(chg->after, chg->after_len);
    touch(chg->gtid, strlen(chg->gtid));
    return 0;
}

static int keep_cb(void *ctx, const char *db, size_t db_len, const char *table,
                   size_t table_len, const char *column, size_t len) {
    (void)ctx, (void)db, (void)db_len, (void)table, (void)table_len;
    return len == 0 || (column[0] & 1) == 0;
}

static size_t make_fde(uint8_t *p, int maria) {
    /* Post-header lengths per type, as MySQL 8.0 / MariaDB 10.11 write. */
    uint8_t ph[171];
    memset(ph, 0, sizeof(ph));
    ph[1 - 1] = 56;
    ph[2 - 1] = 13;
    ph[4 - 1] = 8;
    ph[6 - 1] = 18;
    ph[8 - 1] = 4;
    ph[9 - 1] = 4;
    ph[10 - 1] = 4;
    ph[11 - 1] = 4;
    ph[12 - 1] = 18;
    ph[15 - 1] = 84;
    ph[17 - 1] = 4;
    ph[18 - 1] = 26;
    ph[19 - 1] = 8;
    ph[20 - 1] = 8;
    ph[21 - 1] = 8;
    ph[22 - 1] = 8;
    ph[23 - 1] = 8;
    ph[24 - 1] = 8;
    ph[25 - 1] = 8;
    ph[26 - 1] = 2;
    ph[30 - 1] = 10;
    ph[31 - 1] = 10;
    ph[32 - 1] = 10;
    ph[33 - 1] = 42;
    ph[34 - 1] = 42;
    ph[39 - 1] = 10;
    ph[161 - 1] = 4;
    ph[162 - 1] = 19;
    ph[163 - 1] = 4;
    ph[165 - 1] = 13;
    for (int t = 166; t <= 168; t++)
        ph[t - 1] = 8;
    for (int t = 169; t <= 171; t++)
        ph[t - 1] = 10;
    size_t npost = maria ? 171 : 42;
    size_t len = 19 + 2 + 50 + 4 + 1 + npost + 5;
    memset(p, 0, len);
    p[4] = 15;
    sl_put_u32le(p + 5, 1);
    sl_put_u32le(p + 9, (uint32_t)len);
    sl_put_u32le(p + 13, (uint32_t)(4 + len));
    sl_put_u16le(p + 19, 4);
    const char *ver = maria ? "10.11.6-MariaDB-log" : "8.0.40";
    memcpy(p + 21, ver, strlen(ver));
    p[75] = 19;
    memcpy(p + 76, ph, npost);
    p[76 + npost] = 0; /* Checksum algorithm: none. */
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    int mode = data[0] % 3;
    int routed = (data[0] / 3) % 2;
    /* The event format (sluice, debezium, maxwell, canal). */
    int format = (data[0] / 6) % 4;
    data++;
    size--;
    uint8_t *buf = malloc(size + 512);
    if (buf == NULL)
        return 0;
    size_t len = 0;
    memcpy(buf,
           "\xfe"
           "bin",
           4);
    len = 4;
    if (mode != 0)
        len += make_fde(buf + len, mode == 2);
    memcpy(buf + len, data, size);
    len += size;
    sl_binlog_t *dec;
    sl_binlog_opts_t opts = {.no_verify_checksum = 1, .column_types = 1};
    if (routed) {
        opts.column_keep = keep_cb;
        opts.key_hash = 1;
    }
    opts.format = (sl_binlog_format_t)format;
    if (sl_binlog_new(&dec, &opts, sink_cb, NULL) == 0) {
        (void)sl_binlog_read_mem(dec, "fuzz", buf, len, 4, 0);
        sl_binlog_free(dec);
    }
    free(buf);
    return 0;
}
