/*
 * libFuzzer target for capture/schema/names.c: the tables a DDL statement
 * may affect, found without the grammar.
 *
 * Input: as fuzz_capture_ddl.c (whose corpus serves as seeds): the first
 * byte picks the server (bit 0 MariaDB, bit 1 a known version), the
 * sql_mode bits (bit 2 ANSI_QUOTES, bit 3 NO_BACKSLASH_ESCAPES) and the
 * default database (bit 5: none); the rest is up to eight statements
 * separated by NUL bytes. Each is given to sl_schema_ddl_tables() alone,
 * then applied to a small history and, when the parser refuses it, to
 * sl_schema_ddl_unreadable(), as capture does.
 *
 * Besides ASan/UBSan's checks it asserts the contract: every result is 0,
 * SL_EUNSUPPORTED or SL_ENOMEM, a refusal leaves a message, success names
 * at least one table, every name is non-empty with a non-NULL database,
 * the finder lists no table twice, and a table the finder names is gone from
 * the history after sl_schema_ddl_unreadable().
 */
#include "capture/schema/schema.h"

#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const seed_tables[] = {
    "CREATE TABLE t (id int unsigned NOT NULL PRIMARY KEY, a varchar(10))",
    "CREATE TABLE u (k bigint PRIMARY KEY)",
    "CREATE TABLE o.v (k bigint PRIMARY KEY)",
};

/* Every table has a db and a name; when unique, none is listed twice. */
static void check_effect(const sl_ddl_effect_t *e, int unique) {
    for (size_t i = 0; i < e->ntables; i++) {
        if (e->tables[i].db == NULL || e->tables[i].table == NULL)
            abort();
        for (size_t k = 0; unique && k < i; k++)
            if (strcmp(e->tables[i].db, e->tables[k].db) == 0 &&
                strcmp(e->tables[i].table, e->tables[k].table) == 0)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    sl_ddl_opts_t opts = {flags & 1,
                          (flags & 2) ? ((flags & 1) ? 101106 : 80036) : 0, 0};
    if (flags & 4)
        opts.sql_mode |= SL_DDL_MODE_ANSI_QUOTES;
    if (flags & 8)
        opts.sql_mode |= SL_DDL_MODE_NO_BACKSLASH_ESCAPES;
    const char *dflt = (flags & 32) ? NULL : "d";
    sl_schema_t *s = NULL;
    if (sl_schema_new(&s) != 0)
        return 0;
    sl_schema_set_server(s, opts.is_mariadb, opts.version, NULL);
    char err[256];
    for (size_t i = 0; i < sizeof seed_tables / sizeof seed_tables[0]; i++)
        if (sl_schema_apply_ddl(s, "d", seed_tables[i], strlen(seed_tables[i]),
                                NULL, err, sizeof err) != 0)
            abort();
    sl_schema_set_sql_mode(s, opts.sql_mode);

    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    for (int n = 0; n < 8 && p <= end; n++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
        /* A copy of exactly len bytes, so ASan sees any over-read. */
        char *sql = malloc(len ? len : 1);
        if (sql == NULL)
            break;
        memcpy(sql, p, len);

        sl_ddl_effect_t found;
        err[0] = '\0';
        int rc = sl_schema_ddl_tables(dflt, sql, len, &opts, &found, err,
                                      sizeof err);
        if (rc != 0 && rc != SL_EUNSUPPORTED && rc != SL_ENOMEM)
            abort();
        if (rc != 0 && err[0] == '\0')
            abort();
        if (rc == 0 && found.ntables == 0)
            abort();
        check_effect(&found, 1);
        for (size_t i = 0; i < found.ntables; i++)
            if (found.tables[i].db[0] == '\0' ||
                found.tables[i].table[0] == '\0')
                abort();

        sl_ddl_effect_t eff;
        int arc = sl_schema_apply_ddl(s, dflt, sql, len, &eff, err, sizeof err);
        if (arc == SL_EUNSUPPORTED) {
            err[0] = '\0';
            int urc = sl_schema_ddl_unreadable(s, dflt, sql, len, &eff, err,
                                               sizeof err);
            if (urc != 0 && urc != SL_EUNSUPPORTED && urc != SL_ENOMEM)
                abort();
            if (urc != 0 && err[0] == '\0')
                abort();
            check_effect(&eff, 0);
            /* What the finder named is no longer in the history. */
            for (size_t i = 0; urc != SL_ENOMEM && i < found.ntables; i++) {
                const char *db = found.tables[i].db, *t = found.tables[i].table;
                if (sl_schema_find(s, db, strlen(db), t, strlen(t)) != NULL)
                    abort();
            }
        }
        sl_ddl_effect_free(&eff);
        sl_ddl_effect_free(&found);
        free(sql);
        if (nul == NULL)
            break;
        p = nul + 1;
    }
    sl_schema_free(s);
    return 0;
}
