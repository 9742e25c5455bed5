/*
 * libFuzzer target for capture/ddl and capture/schema.
 *
 * Input: the first byte picks the server (bit 0 MariaDB, bit 1 a known
 * version) and sql_mode bits (bit 2 ANSI_QUOTES, bit 3
 * NO_BACKSLASH_ESCAPES, bit 4 REAL_AS_FLOAT); the rest is up to eight
 * statements separated by NUL bytes, applied in order to a history that
 * starts with a few tables, so ALTER, RENAME and LIKE reach real
 * definitions.
 *
 * Besides ASan/UBSan's checks it asserts the contract: every result is 0
 * or a documented error code, an error leaves a message, every table
 * named in an effect has a non-NULL db and name, and the history always
 * survives a JSON round trip byte for byte.
 */
#include "capture/schema/schema.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const seed_tables[] = {
    ("CREATE TABLE t (id int unsigned NOT NULL, a varchar(10), b text, "
     "e enum('x','y'), PRIMARY KEY (id, a)) DEFAULT CHARSET=latin1"),
    ("CREATE TABLE u (k bigint PRIMARY KEY, s set('p','q') CHARSET "
     "utf8mb4)"),
    "CREATE DATABASE o CHARACTER SET ucs2",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    sl_schema_t *s = NULL;
    if (sl_schema_new(&s) != 0)
        return 0;
    uint8_t flags = data[0];
    sl_schema_set_server(
        s, flags & 1, (flags & 2) ? ((flags & 1) ? 101106 : 80036) : 0, NULL);
    uint64_t mode = 0;
    if (flags & 4)
        mode |= SL_DDL_MODE_ANSI_QUOTES;
    if (flags & 8)
        mode |= SL_DDL_MODE_NO_BACKSLASH_ESCAPES;
    if (flags & 16)
        mode |= SL_DDL_MODE_REAL_AS_FLOAT;
    char err[256];
    for (size_t i = 0; i < sizeof seed_tables / sizeof seed_tables[0]; i++)
        if (sl_schema_apply_ddl(s, "d", seed_tables[i], strlen(seed_tables[i]),
                                NULL, err, sizeof err) != 0)
            abort();
    sl_schema_set_sql_mode(s, mode);

    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    for (int n = 0; n < 8 && p <= end; n++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
        /* A copy of exactly len bytes, so ASan sees any over-read. */
        char *sql = malloc(len ? len : 1);
        if (sql == NULL)
            break;
        memcpy(sql, p, len);
        sl_ddl_effect_t eff;
        err[0] = '\0';
        int rc = sl_schema_apply_ddl(s, (n & 1) ? "d" : NULL, sql, len, &eff,
                                     err, sizeof err);
        free(sql);
        if (rc != 0 && rc != SL_EUNSUPPORTED && rc != SL_ENOMEM)
            abort();
        if (rc != 0 && err[0] == '\0')
            abort();
        for (size_t i = 0; i < eff.ntables; i++)
            if (eff.tables[i].db == NULL || eff.tables[i].table == NULL)
                abort();
        sl_ddl_effect_free(&eff);
        if (nul == NULL)
            break;
        p = nul + 1;
    }

    sl_buf_t j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
    sl_schema_t *r = NULL;
    if (sl_schema_to_json(s, &j1) == 0 && sl_schema_new(&r) == 0) {
        int rc = sl_schema_from_json(r, (const char *)j1.data, j1.len, err,
                                     sizeof err);
        if (rc != 0 && rc != SL_ENOMEM)
            abort();
        if (rc == 0 && sl_schema_to_json(r, &j2) == 0 &&
            (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0)) {
            /* Invalid UTF-8 is replaced on the first write, so compare a
             * second generation when the first differs. */
            sl_buf_t j3 = SL_BUF_INIT;
            sl_schema_t *r2 = NULL;
            if (sl_schema_new(&r2) == 0 &&
                sl_schema_from_json(r2, (const char *)j2.data, j2.len, err,
                                    sizeof err) == 0 &&
                sl_schema_to_json(r2, &j3) == 0 &&
                (j2.len != j3.len || memcmp(j2.data, j3.data, j2.len) != 0))
                abort();
            sl_schema_free(r2);
            sl_buf_free(&j3);
        }
    }
    sl_schema_free(r);
    sl_buf_free(&j1);
    sl_buf_free(&j2);
    sl_schema_free(s);
    return 0;
}
