/*
 * libFuzzer target for apply's --keys file parser (apply/keytpl.c): the
 * file is read from outside the process, and its table names may be
 * backquoted (`my db`.`my table`, `` for a backtick).
 *
 * Input: the bytes of a keys file. Oracle, besides ASan/UBSan: parsing
 * either succeeds or fails with SL_ECONFIG, a message and no set; and a
 * parsed set written back with every name backquoted (the wildcard as a
 * plain `*`) parses to the same tables with the same decoded names, each
 * found again by sl_keytpl_find(), so quoting is unambiguous and loses
 * nothing.
 */
#include "apply/keytpl.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_quoted(sl_buf_t *out, const char *name) {
    sl_buf_append_u8(out, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            sl_buf_append_u8(out, '`');
        sl_buf_append_u8(out, (uint8_t)*p);
    }
    sl_buf_append_u8(out, '`');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_keytpl_set_t *set = NULL;
    char err[512] = "";
    int rc = sl_keytpl_parse((const char *)data, size, &set, err, sizeof err);
    if (rc != 0) {
        if ((rc != SL_ECONFIG && rc != SL_ENOMEM) || set != NULL ||
            err[0] == '\0')
            abort();
        return 0;
    }
    sl_buf_t file = SL_BUF_INIT;
    size_t n = sl_keytpl_count(set);
    for (size_t i = 0; i < n; i++) {
        const char *db, *table;
        int wild = sl_keytpl_names(set, i, &db, &table);
        if (db[0] == '\0' || table[0] == '\0' ||
            strlen(db) > SL_KEYTPL_NAME_MAX ||
            strlen(table) > SL_KEYTPL_NAME_MAX)
            abort();
        put_quoted(&file, db);
        sl_buf_append_u8(&file, '.');
        if (wild)
            sl_buf_append_u8(&file, '*');
        else
            put_quoted(&file, table);
        sl_buf_append(&file, " k:{id}\n", 8);
        /* The set finds each exact line by its decoded names. */
        const sl_keytpl_table_t *tt =
            sl_keytpl_find(set, db, strlen(db), table, strlen(table));
        if (!wild && tt != sl_keytpl_at(set, i))
            abort();
    }
    sl_keytpl_set_t *again = NULL;
    if (sl_keytpl_parse((const char *)file.data, file.len, &again, err,
                        sizeof err) != 0 ||
        sl_keytpl_count(again) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *db1, *t1, *db2, *t2;
        int w1 = sl_keytpl_names(set, i, &db1, &t1);
        int w2 = sl_keytpl_names(again, i, &db2, &t2);
        if (w1 != w2 || strcmp(db1, db2) != 0 || strcmp(t1, t2) != 0)
            abort();
    }
    sl_keytpl_free(again);
    sl_keytpl_free(set);
    sl_buf_free(&file);
    return 0;
}
