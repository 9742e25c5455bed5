/*
 * libFuzzer target for capture's partition-name encoding
 * (capture/partname.c), whose decoder reads names from the broker.
 *
 * Input: bytes up to the first NUL are a database name, the rest a table
 * name (none: routing by database). Oracle, besides ASan/UBSan: the name
 * is within Kafka's topic rules ([A-Za-z0-9._-], at most 249); a short
 * form decodes back to exactly the input and a long form reports
 * SL_ETRUNC; and the whole input read as a name either fails to decode
 * or re-encodes to itself byte for byte (decoding is injective).
 */
#include "capture/partname.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int kafka_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    size_t db_len = nul ? (size_t)(nul - in) : size;
    const char *table = nul ? nul + 1 : NULL;
    size_t table_len = nul ? size - db_len - 1 : 0;
    sl_buf_t name = SL_BUF_INIT, db = SL_BUF_INIT, tb = SL_BUF_INIT;
    int has_table;
    int rc = sl_partname_encode(in, db_len, table, table_len, &name);
    if (rc == 0) {
        if (name.len == 0 || name.len > SL_PARTNAME_MAX)
            abort();
        for (size_t i = 0; i < name.len; i++)
            if (!kafka_char((char)name.data[i]))
                abort();
        rc = sl_partname_decode((const char *)name.data, name.len, &db, &tb,
                                &has_table);
        if (sl_partname_is_long((const char *)name.data, name.len)) {
            if (rc != SL_ETRUNC)
                abort();
        } else if (rc != 0 || has_table != (table != NULL) ||
                   db.len != db_len || memcmp(db.data, in, db_len) != 0 ||
                   (table != NULL &&
                    (tb.len != table_len || memcmp(tb.data, table, table_len))))
            abort();
    } else if (rc != SL_EINVAL || (db_len != 0 && (!nul || table_len != 0))) {
        abort(); /* Only empty names are refused. */
    }
    if (sl_partname_decode(in, size, &db, &tb, &has_table) == 0) {
        sl_buf_reset(&name);
        if (sl_partname_encode((const char *)db.data, db.len,
                               has_table ? (const char *)tb.data : NULL, tb.len,
                               &name) != 0 ||
            name.len != size || memcmp(name.data, in, size) != 0)
            abort();
    }
    sl_buf_free(&name);
    sl_buf_free(&db);
    sl_buf_free(&tb);
    return 0;
}
