/* Unit tests for MariaDB's hash UNIQUE keys in the schema history
 * (capture/schema/hashkey.c): which keys get a hidden DB_ROW_HASH_n
 * column, where it goes, how ALTER, DROP/RENAME INDEX, CREATE INDEX,
 * CREATE TABLE LIKE and the engine change it, and the JSON round trip.
 * Each expectation was read from a MariaDB 10.11 binlog (see
 * tests/integration/capture_hash_unique.c for the live check). */
#include "capture/schema/schema.h"
#include "error.h"
#include "sl_test.h"
#include "test_capture_schema.h"

#include <stdlib.h>

/* "a,b,DB_ROW_HASH_1" and, when some may be absent, "~N". */
static const char *cols(const sl_schema_t *s, const char *table) {
    static char out[1024];
    const sl_schema_table_t *t =
        sl_schema_find(s, "d", 1, table, strlen(table));
    if (t == NULL)
        return "(missing)";
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->ncols; i++) {
        const sl_schema_col_t *c = &t->cols[i];
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "," : "",
                              c->name);
        if (c->hidden == SL_SCHEMA_HASH_COL &&
            (strcmp(c->column_type, "bigint(20) unsigned") != 0 ||
             !c->nullable || !c->is_unsigned))
            o += (size_t)snprintf(out + o, sizeof out - o, ":BADHASH");
    }
    if (t->hash_maybe)
        snprintf(out + o, sizeof out - o, "~%zu", t->hash_maybe);
    return out;
}

static sl_schema_t *maria(void) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 1, 101119, "latin1"));
    return s;
}

SL_TEST(schema_hash_unique_blob_and_long_keys) {
    sl_schema_t *s = maria();
    APPLY(s, "d", "CREATE TABLE t1 (id INT PRIMARY KEY, b BLOB, UNIQUE(b))");
    SL_CHECK_STR(cols(s, "t1"), "id,b,DB_ROW_HASH_1");
    /* A prefix makes it a B-tree; TINYBLOB without one is a hash. */
    APPLY(s, "d",
          "CREATE TABLE t2 (a TEXT, b BLOB(10), c TEXT, UNIQUE(b), "
          "UNIQUE(a(100)), UNIQUE(c(1000))) CHARSET utf8mb4 ENGINE=InnoDB");
    SL_CHECK_STR(cols(s, "t2"), "a,b,c,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* InnoDB: 3072 bytes per part and key. */
    APPLY(s, "d",
          "CREATE TABLE t3 (a VARCHAR(768), b VARCHAR(769), UNIQUE(a), "
          "UNIQUE KEY (b)) DEFAULT CHARSET=utf8mb4 ENGINE=InnoDB");
    SL_CHECK_STR(cols(s, "t3"), "a,b,DB_ROW_HASH_1");
    APPLY(s, "d",
          "CREATE TABLE t4 (a VARCHAR(400), b VARCHAR(400), UNIQUE(a,b)) "
          "CHARSET utf8mb4 ENGINE=InnoDB");
    SL_CHECK_STR(cols(s, "t4"), "a,b,DB_ROW_HASH_1");
    /* MyISAM: 1000 bytes. */
    APPLY(s, "d",
          "CREATE TABLE t5 (a VARCHAR(250), b VARCHAR(255) UNIQUE, "
          "UNIQUE(a)) CHARSET utf8mb4 ENGINE=MyISAM");
    SL_CHECK_STR(cols(s, "t5"), "a,b,DB_ROW_HASH_1");
    /* Not unique: never a hash. MEMORY: never. */
    APPLY(s, "d",
          "CREATE TABLE t6 (a VARCHAR(2000), KEY(a(10)), b INT, "
          "UNIQUE(b) USING HASH) ENGINE=MEMORY");
    SL_CHECK_STR(cols(s, "t6"), "a,b");
    sl_schema_free(s);
}

SL_TEST(schema_hash_unique_unknown_engine_is_maybe) {
    sl_schema_t *s = maria();
    /* No ENGINE=: the session's default engine decides a 1020-byte key
     * (a B-tree in InnoDB, a hash in MyISAM), so the column may be there;
     * a blob key is a hash in every engine; a short key in none. */
    APPLY(s, "d",
          "CREATE TABLE t (a VARCHAR(255), b TEXT, c INT, UNIQUE(a), "
          "UNIQUE(b), UNIQUE(c)) CHARSET utf8mb4");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1,DB_ROW_HASH_2~1");
    /* The engine named later decides. */
    APPLY(s, "d", "ALTER TABLE t ENGINE=InnoDB");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1");
    APPLY(s, "d", "ALTER TABLE t ENGINE=MyISAM");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1,DB_ROW_HASH_2");
    sl_schema_free(s);
}

SL_TEST(schema_hash_unique_using_hash_lasts_until_a_rebuild) {
    sl_schema_t *s = maria();
    APPLY(s, "d",
          "CREATE TABLE t (a INT, b INT, c VARCHAR(10), UNIQUE(a) USING "
          "HASH, UNIQUE KEY(b) USING BTREE, KEY(a) USING HASH, "
          "CONSTRAINT cc UNIQUE (c) USING HASH) ENGINE=InnoDB");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* RENAME and DISABLE KEYS keep the definition. */
    APPLY(s, "d", "ALTER TABLE t RENAME TO t2");
    APPLY(s, "d", "ALTER TABLE t2 RENAME TO t, DISABLE KEYS");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* Any other ALTER rebuilds it: both become B-trees. */
    APPLY(s, "d", "ALTER TABLE t COMMENT 'x'");
    SL_CHECK_STR(cols(s, "t"), "a,b,c");
    /* CREATE UNIQUE INDEX ... USING HASH adds one, the next CREATE INDEX
     * (an ALTER inside the server) ends it. */
    APPLY(s, "d", "CREATE UNIQUE INDEX ix USING HASH ON t (a)");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1");
    APPLY(s, "d", "CREATE UNIQUE INDEX ix2 ON t (b) USING HASH");
    SL_CHECK_STR(cols(s, "t"), "a,b,c,DB_ROW_HASH_1");
    APPLY(s, "d", "CREATE INDEX ix3 ON t (c)");
    SL_CHECK_STR(cols(s, "t"), "a,b,c");
    sl_schema_free(s);
}

SL_TEST(schema_hash_unique_alter_drop_rename_and_versioning) {
    sl_schema_t *s = maria();
    APPLY(s, "d",
          "CREATE TABLE t (a INT, b BLOB, UNIQUE KEY k1(b), UNIQUE KEY "
          "k2(a,b), UNIQUE(b)) WITH SYSTEM VERSIONING");
    SL_CHECK_STR(cols(s, "t"), "a,b,row_start,row_end,DB_ROW_HASH_1,"
                               "DB_ROW_HASH_2,DB_ROW_HASH_3");
    APPLY(s, "d", "ALTER TABLE t DROP INDEX k1");
    SL_CHECK_STR(cols(s, "t"),
                 "a,b,row_start,row_end,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* A column added goes before the hidden ones. */
    APPLY(s, "d", "ALTER TABLE t ADD COLUMN z INT");
    SL_CHECK_STR(cols(s, "t"),
                 "a,b,z,row_start,row_end,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* The unnamed UNIQUE(b) was named b; RENAME INDEX follows it. */
    APPLY(s, "d", "ALTER TABLE t RENAME INDEX b TO bb");
    APPLY(s, "d", "DROP INDEX bb ON t");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,row_start,row_end,DB_ROW_HASH_1");
    /* An unknown name (a foreign key's) drops no hash. */
    APPLY(s, "d", "ALTER TABLE t DROP INDEX IF EXISTS nope");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,row_start,row_end,DB_ROW_HASH_1");
    APPLY(s, "d", "ALTER TABLE t DROP SYSTEM VERSIONING");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,DB_ROW_HASH_1");
    /* The name b is free again; a second unnamed key on b is b_2. */
    APPLY(s, "d", "ALTER TABLE t ADD UNIQUE (b), ADD UNIQUE (b(10))");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,DB_ROW_HASH_1,DB_ROW_HASH_2");
    APPLY(s, "d", "ALTER TABLE t DROP INDEX b");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,DB_ROW_HASH_1");
    /* b_2 is the prefix key: dropping it changes nothing. */
    APPLY(s, "d", "ALTER TABLE t DROP INDEX b_2");
    SL_CHECK_STR(cols(s, "t"), "a,b,z,DB_ROW_HASH_1");
    /* A renamed column stays in its key; a MODIFY to INT ends the hash. */
    APPLY(s, "d", "ALTER TABLE t CHANGE b bb BLOB");
    SL_CHECK_STR(cols(s, "t"), "a,bb,z,DB_ROW_HASH_1");
    APPLY(s, "d", "ALTER TABLE t MODIFY bb INT");
    SL_CHECK_STR(cols(s, "t"), "a,bb,z");
    sl_schema_free(s);
}

SL_TEST(schema_hash_unique_like_json_and_user_column_names) {
    sl_schema_t *s = maria();
    APPLY(s, "d",
          "CREATE TABLE t (a INT, b BLOB, DB_ROW_HASH_1 INT, UNIQUE(a) USING "
          "HASH, UNIQUE(b)) ENGINE=InnoDB");
    /* A number a user column holds is skipped. */
    SL_CHECK_STR(cols(s, "t"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2,DB_ROW_HASH_3");
    /* LIKE copies the definition without USING HASH. */
    APPLY(s, "d", "CREATE TABLE u LIKE t");
    SL_CHECK_STR(cols(s, "u"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2");
    sl_buf_t b;
    sl_buf_init(&b);
    SL_CHECK_OK(sl_schema_to_json(s, &b));
    const char *text;
    SL_CHECK_OK(sl_buf_cstr(&b, &text));
    SL_CHECK(strstr(text, "DB_ROW_HASH_2") == NULL);
    sl_schema_t *r = maria();
    char err[256];
    SL_CHECK_OK(
        sl_schema_from_json(r, (const char *)b.data, b.len, err, sizeof err));
    SL_CHECK_STR(cols(r, "t"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2,DB_ROW_HASH_3");
    SL_CHECK_STR(cols(r, "u"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2");
    /* The keys survive the trip: a rebuild still ends USING HASH. */
    APPLY(r, "d", "ALTER TABLE t FORCE");
    SL_CHECK_STR(cols(r, "t"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2");
    sl_buf_t b2;
    sl_buf_init(&b2);
    SL_CHECK_OK(sl_schema_to_json(r, &b2));
    sl_buf_free(&b);
    sl_buf_free(&b2);
    sl_schema_free(r);
    sl_schema_free(s);
}

SL_TEST(schema_hash_unique_drift_compares_hash_columns) {
    sl_schema_t *h = maria(), *l = maria();
    /* The history does not know the engine: 1 or 2 hash columns. */
    APPLY(h, "d",
          "CREATE TABLE t (a VARCHAR(255), b BLOB, UNIQUE(a), UNIQUE(b)) "
          "CHARSET utf8mb4");
    APPLY(l, "d",
          "CREATE TABLE t (a VARCHAR(255), b BLOB, UNIQUE(a), UNIQUE(b)) "
          "CHARSET utf8mb4 ENGINE=InnoDB");
    sl_buf_t rep = SL_BUF_INIT;
    sl_schema_diff_t d;
    SL_CHECK_OK(sl_schema_diff(h, l, NULL, NULL, &rep, &d));
    SL_CHECK_INT(d.differ, 0);
    APPLY(l, "d", "ALTER TABLE t ENGINE=MyISAM");
    SL_CHECK_OK(sl_schema_diff(h, l, NULL, NULL, &rep, &d));
    SL_CHECK_INT(d.differ, 0);
    /* A hash the server does not have: a difference, shown. */
    APPLY(l, "d", "ALTER TABLE t DROP INDEX b, DROP INDEX a");
    SL_CHECK_OK(sl_schema_diff(h, l, NULL, NULL, &rep, &d));
    SL_CHECK_INT(d.differ, 1);
    const char *text;
    sl_buf_cstr(&rep, &text);
    SL_CHECK(strstr(text, "hash UNIQUE key columns (DB_ROW_HASH_n): "
                          "history 2 (1 of them maybe), server 0") != NULL);
    sl_buf_free(&rep);
    sl_schema_free(h);
    sl_schema_free(l);
}

SL_TEST(schema_hash_unique_only_on_mariadb_10_4) {
    /* MySQL takes USING HASH on InnoDB as a B-tree and has no hash keys;
     * nor has MariaDB 10.3. */
    const char *ddl = "CREATE TABLE t (a INT, b VARCHAR(2000), UNIQUE(a) "
                      "USING HASH, UNIQUE(b)) CHARSET utf8mb4 ENGINE=InnoDB";
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 0, 80036, NULL));
    APPLY(s, "d", ddl);
    SL_CHECK_STR(cols(s, "t"), "a,b");
    sl_schema_free(s);
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 1, 100311, NULL));
    APPLY(s, "d", ddl);
    SL_CHECK_STR(cols(s, "t"), "a,b");
    sl_schema_free(s);
    /* A server not known: only a BLOB key is sure (MySQL refuses it). */
    SL_CHECK_OK(sl_schema_new(&s));
    APPLY(s, "d", ddl);
    SL_CHECK_STR(cols(s, "t"), "a,b,DB_ROW_HASH_1,DB_ROW_HASH_2~2");
    APPLY(s, "d", "CREATE TABLE u (a BLOB, UNIQUE(a))");
    SL_CHECK_STR(cols(s, "u"), "a,DB_ROW_HASH_1");
    sl_schema_free(s);
}

/* fuzz_capture_ddl: a key part length at the very end of a statement that
 * is not NUL-terminated (a Query event's text is not) was read with
 * strtoll, past the end of the buffer. It is read from the token's bytes
 * only. */
SL_TEST(fuzz_schema_key_part_length_at_end_of_statement) {
    static const char sql[] = "CREATE TABLE t (a TEXT, UNIQUE (a(10";
    size_t len = sizeof sql - 1;
    char *buf = malloc(len); /* No NUL after the digits. */
    SL_CHECK(buf != NULL);
    memcpy(buf, sql, len);
    sl_schema_t *s = maria();
    char err[256];
    SL_CHECK_INT(sl_schema_apply_ddl(s, "d", buf, len, NULL, err, sizeof err),
                 SL_EUNSUPPORTED);
    free(buf);
    /* Whole, the same length reads right: a B-tree on 40 bytes. */
    APPLY(s, "d", "CREATE TABLE t (a TEXT, UNIQUE (a(10)))");
    SL_CHECK_STR(cols(s, "t"), "a");
    sl_schema_free(s);
}
