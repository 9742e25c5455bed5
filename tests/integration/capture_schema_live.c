/*
 * The schema history against the server as oracle: every statement runs
 * on the harness's source MariaDB and through sl_schema_apply_ddl, and
 * after each one the history's tables must equal what sl_schema_load_live
 * reads back from information_schema: same tables, and per column the
 * name, order, data_type, column_type, signedness, charset, ENUM/SET
 * members, nullability and primary-key position, plus each table's
 * default charset.
 */
#include "capture/schema/schema.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <stdlib.h>

#define DB "sl_schema_it"
#define DB2 "sl_schema_it2"

static int want_test_dbs(void *ctx, const char *db, const char *table) {
    (void)ctx;
    (void)table;
    return strcmp(db, DB) == 0 || strcmp(db, DB2) == 0;
}

static int want_not_skipped(void *ctx, const char *db, const char *table) {
    int *calls = ctx;
    (*calls)++;
    return want_test_dbs(NULL, db, table) && strcmp(table, "skipped") != 0;
}

static int str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The columns information_schema shows: all but MariaDB's hidden
 * row_start/row_end of a system-versioned table (checked apart, by
 * check_hidden). */
static size_t shown_cols(const sl_schema_table_t *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->ncols; i++)
        n += !t->cols[i].hidden;
    return n;
}

/* Describes the first difference between the two histories' test tables
 * into msg; returns 0 when they are equal. */
static int compare(const sl_schema_t *hist, const sl_schema_t *live, char *msg,
                   size_t msglen) {
    size_t nh = sl_schema_count(hist), nl = sl_schema_count(live);
    size_t ih = 0, il = 0;
    for (;;) {
        const sl_schema_table_t *th = NULL, *tl = NULL;
        while (ih < nh && !want_test_dbs(NULL, sl_schema_at(hist, ih)->db, ""))
            ih++;
        while (il < nl && !want_test_dbs(NULL, sl_schema_at(live, il)->db, ""))
            il++;
        if (ih < nh)
            th = sl_schema_at(hist, ih);
        if (il < nl)
            tl = sl_schema_at(live, il);
        if (th == NULL && tl == NULL)
            return 0;
        if (th == NULL || tl == NULL || strcmp(th->db, tl->db) != 0 ||
            strcmp(th->name, tl->name) != 0) {
            snprintf(msg, msglen, "tables differ: history %s.%s, server %s.%s",
                     th ? th->db : "-", th ? th->name : "-", tl ? tl->db : "-",
                     tl ? tl->name : "-");
            return 1;
        }
        if (!str_eq(th->charset, tl->charset)) {
            snprintf(msg, msglen, "%s.%s: table charset %s, server %s", th->db,
                     th->name, th->charset, tl->charset);
            return 1;
        }
        if (shown_cols(th) != tl->ncols) {
            snprintf(msg, msglen, "%s.%s: %zu columns, server %zu", th->db,
                     th->name, shown_cols(th), tl->ncols);
            return 1;
        }
        for (size_t i = 0; i < tl->ncols; i++) {
            const sl_schema_col_t *a = &th->cols[i], *b = &tl->cols[i];
            int same = str_eq(a->name, b->name) &&
                       str_eq(a->data_type, b->data_type) &&
                       str_eq(a->column_type, b->column_type) &&
                       a->is_unsigned == b->is_unsigned &&
                       str_eq(a->charset, b->charset) &&
                       a->nullable == b->nullable && a->pk_seq == b->pk_seq &&
                       a->is_pk == b->is_pk && a->nvalues == b->nvalues;
            for (size_t v = 0; same && v < a->nvalues; v++)
                same = str_eq(a->values[v], b->values[v]);
            if (!same) {
                snprintf(msg, msglen,
                         "%s.%s column %zu: history %s %s/%s u=%d cs=%s "
                         "null=%d pk=%d nv=%zu; server %s %s/%s u=%d cs=%s "
                         "null=%d pk=%d nv=%zu",
                         th->db, th->name, i, a->name, a->data_type,
                         a->column_type, a->is_unsigned,
                         a->charset ? a->charset : "-", a->nullable, a->pk_seq,
                         a->nvalues, b->name, b->data_type, b->column_type,
                         b->is_unsigned, b->charset ? b->charset : "-",
                         b->nullable, b->pk_seq, b->nvalues);
                return 1;
            }
        }
        ih++;
        il++;
    }
}

/* The hidden columns of the history's system-versioned tables, against
 * the server: only the last two, row_start and row_end, exactly when
 * information_schema.TABLES says SYSTEM VERSIONED and the server has no
 * visible column of those names; and what SELECT row_start, row_end
 * returns is TIMESTAMP(6). (That row images carry them after every other
 * column is MariaDB's binlog format; the capture tests decode them.) */
static void check_hidden(MYSQL *mysql, const sl_schema_t *hist, int line) {
    for (size_t k = 0; k < sl_schema_count(hist); k++) {
        const sl_schema_table_t *t = sl_schema_at(hist, k);
        if (!want_test_dbs(NULL, t->db, t->name))
            continue;
        size_t hidden = t->ncols - shown_cols(t);
        if (hidden != 0 &&
            (hidden != 2 || !t->cols[t->ncols - 2].hidden ||
             !t->cols[t->ncols - 1].hidden ||
             strcmp(t->cols[t->ncols - 2].name, "row_start") != 0 ||
             strcmp(t->cols[t->ncols - 1].name, "row_end") != 0))
            sl_test_fail(__FILE__, line, "%s.%s: hidden columns misplaced",
                         t->db, t->name);
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT TABLE_TYPE = 'SYSTEM VERSIONED' AND NOT EXISTS "
                 "(SELECT 1 FROM information_schema.COLUMNS c WHERE "
                 "c.TABLE_SCHEMA = '%s' AND c.TABLE_NAME = '%s' AND "
                 "c.COLUMN_NAME IN ('row_start', 'row_end')) FROM "
                 "information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND "
                 "TABLE_NAME = '%s'",
                 t->db, t->name, t->db, t->name);
        char *v = sl_harness_query_value(mysql, sql);
        int versioned = v && strcmp(v, "1") == 0;
        free(v);
        /* Versioned by explicit AS ROW START/END columns of other names,
         * the table has no row_start/row_end at all. */
        int ok = 0;
        if (versioned) {
            snprintf(sql, sizeof sql,
                     "SELECT row_start, row_end FROM `%s`.`%s` LIMIT 0", t->db,
                     t->name);
            MYSQL_RES *res = NULL;
            if (mysql_query(mysql, sql) == 0 &&
                (res = mysql_store_result(mysql)) != NULL) {
                MYSQL_FIELD *f = mysql_fetch_fields(res);
                ok = mysql_num_fields(res) == 2 &&
                     f[0].type == MYSQL_TYPE_TIMESTAMP && f[0].decimals == 6 &&
                     f[1].type == MYSQL_TYPE_TIMESTAMP && f[1].decimals == 6;
                mysql_free_result(res);
            }
        }
        if (ok != (hidden == 2))
            sl_test_fail(__FILE__, line,
                         "%s.%s: history has %zu hidden columns, the server "
                         "%s hidden row_start/row_end TIMESTAMP(6)",
                         t->db, t->name, hidden, ok ? "has" : "has no");
    }
}

/* Runs sql on the server and through the history, then compares. */
static void step(MYSQL *mysql, sl_schema_t *hist, const char *db,
                 const char *sql, int line) {
    if (mysql_select_db(mysql, db) != 0)
        sl_test_fail(__FILE__, line, "USE %s: %s", db, mysql_error(mysql));
    sl_harness_exec(mysql, sql);
    char err[512];
    sl_ddl_effect_t eff;
    int rc =
        sl_schema_apply_ddl(hist, db, sql, strlen(sql), &eff, err, sizeof err);
    sl_ddl_effect_free(&eff);
    if (rc != 0)
        sl_test_fail(__FILE__, line, "apply %s: %s (%s)", sql, sl_errname(rc),
                     err);
    sl_schema_t *live = NULL;
    SL_CHECK_OK(sl_schema_new(&live));
    rc = sl_schema_load_live(live, mysql, want_test_dbs, NULL, err, sizeof err);
    if (rc != 0) {
        sl_schema_free(live);
        sl_test_fail(__FILE__, line, "load_live: %s", err);
    }
    char msg[1024];
    int diff = compare(hist, live, msg, sizeof msg);
    sl_schema_free(live);
    if (diff)
        sl_test_fail(__FILE__, line, "after \"%s\": %s", sql, msg);
    check_hidden(mysql, hist, line);
}
#define STEP(db, sql) step(mysql, hist, db, sql, __LINE__)

static sl_schema_t *start(MYSQL *mysql) {
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB2);
    sl_harness_exec(mysql, "SET SESSION sql_mode = DEFAULT");
    sl_schema_t *hist = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&hist));
    /* The history starts from the live server (its version and charsets);
     * the test databases are created below, through both. */
    if (sl_schema_load_live(hist, mysql, want_test_dbs, NULL, err,
                            sizeof err) != 0)
        sl_test_fail(__FILE__, __LINE__, "load_live: %s", err);
    return hist;
}

SL_TEST(schema_live_create_every_type) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    STEP("mysql", "CREATE DATABASE IF NOT EXISTS " DB2
                  " /*!40100 DEFAULT CHARACTER SET utf8mb4 */");
    STEP(DB, "CREATE TABLE nums (a TINYINT, b SMALLINT UNSIGNED, "
             "c MEDIUMINT(5), d INT(4) ZEROFILL, e INTEGER UNSIGNED NOT NULL, "
             "f BIGINT SIGNED, g BOOL, h BOOLEAN DEFAULT TRUE, i SERIAL, "
             "j DECIMAL(12,3) UNSIGNED, k NUMERIC(5), l DEC, m FLOAT, "
             "n FLOAT(30), o FLOAT(7,3), p DOUBLE PRECISION, q REAL, "
             "r BIT(3), s BIT, t INT1, u INT8 UNSIGNED ZEROFILL, "
             "v FIXED(4,2), w DOUBLE(10,2) UNSIGNED, x MIDDLEINT, "
             "y FLOAT UNSIGNED, z TINYINT(1) UNSIGNED)");
    STEP(DB, "CREATE TABLE texts (a CHAR, b VARCHAR(20), c VARCHAR(5) "
             "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, "
             "d TEXT COLLATE utf8mb3_general_ci, e NATIONAL CHAR(3), "
             "f NVARCHAR(4), g BINARY, h VARBINARY(9), i BLOB, j TINYTEXT, "
             "k LONGBLOB, l TEXT(100), m BLOB(300), "
             "n CHAR(4) CHARACTER SET binary, o VARCHAR(3) CHARSET utf8, "
             "p MEDIUMTEXT BINARY, q LONG VARCHAR, r LONG VARBINARY, "
             "s CHAR(2) ASCII, t CHAR(2) BYTE, u TEXT CHARACTER SET binary, "
             "v CHARACTER VARYING(7), w JSON, x TEXT(1000) CHARSET utf8mb4, "
             "y TINYBLOB, z MEDIUMBLOB)");
    STEP(DB2, "CREATE TABLE misc (a ENUM('x','it''s','b\\\\c',\"dq\") NOT "
              "NULL, b SET('1','2') CHARACTER SET latin1, c DATE, d TIME(3), "
              "e DATETIME(6), f TIMESTAMP, g YEAR, h GEOMETRY, i POINT, "
              "j MULTIPOLYGON, k INET6, l UUID, m LINESTRING, n POLYGON, "
              "o MULTIPOINT, p MULTILINESTRING, q GEOMETRYCOLLECTION, "
              "r ENUM('\xc3\xa9', 'b'), s TIMESTAMP(2) NULL, "
              "t DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
              "CURRENT_TIMESTAMP)");
    STEP(DB2, "CREATE TABLE `Keys` (\n"
              "  `Id` int NOT NULL AUTO_INCREMENT COMMENT 'the id',\n"
              "  b varchar(10) DEFAULT NULL,\n"
              "  c int GENERATED ALWAYS AS (f + 1) VIRTUAL,\n"
              "  d int AS ((c * 2)) PERSISTENT INVISIBLE,\n"
              "  f int DEFAULT (abs(-3) + 1) CHECK (f > 0),\n"
              "  h double DEFAULT -1.5e3,\n"
              "  i varchar(3) DEFAULT _utf8mb4'x' COLLATE utf8mb4_bin,\n"
              "  j char(1) UNIQUE KEY,\n"
              "  PRIMARY KEY (b, `id`) USING BTREE,\n"
              "  CONSTRAINT chk CHECK (f <> 0),\n"
              "  UNIQUE KEY u (j(1)),\n"
              "  KEY ai (`Id`),\n"
              "  KEY k1 (c, d DESC),\n"
              "  FULLTEXT KEY ft (b)\n"
              ") ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=latin1 "
              "COLLATE=latin1_general_ci ROW_FORMAT=DYNAMIC COMMENT='x, y'");
    STEP(DB, "CREATE TABLE part (a int NOT NULL, b varchar(3), PRIMARY KEY "
             "(a)) /*!50100 PARTITION BY RANGE (a) (PARTITION p0 VALUES LESS "
             "THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE) */");
    STEP(DB, "CREATE TABLE inl (a bigint primary key, b int unique)");
    STEP(DB, "CREATE OR REPLACE TABLE inl (a bigint, b int, c char(2), "
             "PRIMARY KEY (c, a))");
    STEP(DB, "CREATE TABLE IF NOT EXISTS inl (z int)");
    STEP(DB, "CREATE TABLE lk LIKE " DB2 ".`Keys`");
    STEP(DB, "CREATE TABLE IF NOT EXISTS lk2 (LIKE nums)");
    sl_schema_free(hist);
    sl_harness_exec(mysql, "DROP DATABASE " DB);
    sl_harness_exec(mysql, "DROP DATABASE " DB2);
    mysql_close(mysql);
}

SL_TEST(schema_live_alter_sequence) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    STEP("mysql", "CREATE DATABASE " DB2 " CHARACTER SET utf8mb4");
    STEP(DB, "CREATE TABLE t (id int NOT NULL, a varchar(5), b int, "
             "PRIMARY KEY (id))");
    STEP(DB, "ALTER TABLE t ADD COLUMN c int UNSIGNED AFTER id, ADD d text "
             "FIRST");
    STEP(DB, "ALTER TABLE t DROP COLUMN d, DROP b, MODIFY a varchar(50) "
             "CHARACTER SET utf8mb4 NOT NULL FIRST");
    STEP(DB, "ALTER TABLE " DB ".t CHANGE COLUMN c cc bigint, CHANGE id ID "
             "int(5) unsigned NOT NULL AFTER cc");
    STEP(DB, "ALTER TABLE t RENAME COLUMN cc TO c2, "
             "ALTER a DROP DEFAULT, ENGINE=InnoDB, "
             "ROW_FORMAT=COMPACT, AUTO_INCREMENT=10, COMMENT 'x'");
    /* (SET [IN]VISIBLE is MySQL's; the unit tests cover it.) */
    STEP(DB, "ALTER TABLE t ALTER COLUMN c2 SET DEFAULT 5");
    STEP(DB, "ALTER TABLE t ALTER c2 DROP DEFAULT");
    STEP(DB, "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (c2, a), ADD "
             "UNIQUE INDEX u (ID), ADD INDEX (a), ADD CONSTRAINT c1 CHECK "
             "(c2 > 0)");
    STEP(DB, "ALTER TABLE t DROP INDEX u, DROP KEY a, DROP CONSTRAINT c1, "
             "ALGORITHM=COPY");
    /* MariaDB refuses to drop one column of a multi-column key. */
    STEP(DB, "ALTER TABLE t DROP PRIMARY KEY, DROP COLUMN c2, ADD PRIMARY "
             "KEY (a)");
    STEP(DB, "CREATE TABLE sk (k int PRIMARY KEY, v int)");
    STEP(DB, "ALTER TABLE sk DROP COLUMN k");

    STEP(DB, "ALTER TABLE t ADD COLUMN (x int, y char(2)), ADD COLUMN IF "
             "NOT EXISTS x bigint, DROP COLUMN IF EXISTS nope");
    STEP(DB, "ALTER TABLE t MODIFY COLUMN X smallint, DROP COLUMN Y");
    STEP(DB, "ALTER TABLE t DROP INDEX `PRIMARY`");
    STEP(DB, "ALTER TABLE t ADD PRIMARY KEY (ID, a)");
    STEP(DB, "CREATE TABLE cs (a tinytext, b text, c mediumtext, "
             "d varchar(10), e enum('a','b'), f blob, g longtext, h int, "
             "i set('x') CHARACTER SET cp1251)");
    STEP(DB, "ALTER TABLE cs DEFAULT CHARACTER SET = utf8mb4");
    STEP(DB, "ALTER TABLE cs ADD j char(1)");
    STEP(DB, "ALTER TABLE cs CONVERT TO CHARACTER SET utf8mb4 COLLATE "
             "utf8mb4_unicode_ci");
    STEP(DB, "ALTER TABLE cs CONVERT TO CHARSET latin1");
    STEP(DB, "ALTER TABLE cs CHARSET utf8mb3, MODIFY d varchar(11)");
    STEP(DB, "ALTER TABLE cs MODIFY e ENUM('a','b','c''d') CHARSET utf8mb4 "
             "NOT NULL DEFAULT 'a'");
    STEP(DB, "ALTER DATABASE " DB " CHARACTER SET ucs2");
    STEP(DB, "CREATE TABLE u2 (a char(1), b varchar(2) COLLATE "
             "latin1_swedish_ci)");
    STEP(DB, "ALTER TABLE u2 ADD c text, CONVERT TO CHARACTER SET utf8mb4");
    STEP(DB, "CREATE UNIQUE INDEX ui ON u2 (a)");
    STEP(DB, "DROP INDEX ui ON u2");
    STEP(DB, "TRUNCATE TABLE u2");
    STEP(DB, "RENAME TABLE t TO tmp, u2 TO t, tmp TO u2");
    STEP(DB, "RENAME TABLE t TO " DB2 ".moved");
    STEP(DB2, "ALTER TABLE moved RENAME TO " DB ".back, ADD z int");
    STEP(DB, "ALTER TABLE back RENAME AS back2");
    STEP(DB, "ALTER TABLE back2 ADD COLUMN p int FIRST, ADD COLUMN q int "
             "AFTER p, MODIFY COLUMN a varchar(9) AFTER q");
    /* References inside one ALTER: FIRST/AFTER see the columns as the
     * earlier specifications left them. */
    STEP(DB, "CREATE TABLE ord (a int, b int, c int, d int)");
    STEP(DB, "ALTER TABLE ord CHANGE a a2 int, ADD e int AFTER a2");
    STEP(DB, "ALTER TABLE ord DROP COLUMN b, ADD COLUMN b bigint FIRST");
    STEP(DB, "ALTER TABLE ord MODIFY d int FIRST, MODIFY c int AFTER d");
    STEP(DB, "ALTER TABLE ord MODIFY a2 int AFTER e, MODIFY e int FIRST");
    STEP(DB, "ALTER TABLE ord CHANGE a2 d bigint, CHANGE d a2 char(3)");
    STEP(DB, "ALTER TABLE ord RENAME COLUMN b TO c, RENAME COLUMN c TO b");
    STEP(DB, "ALTER TABLE ord CHANGE e e9 int, ADD f int AFTER e9, "
             "DROP COLUMN b");
    STEP(DB, "CREATE TABLE lk LIKE back2");
    STEP(DB, "ALTER TABLE lk ADD COLUMN IF NOT EXISTS p int, MODIFY COLUMN "
             "IF EXISTS nope int, CHANGE COLUMN IF EXISTS q q2 double");
    STEP(DB, "DROP TABLE IF EXISTS lk, nope");
    STEP(DB, "CREATE TEMPORARY TABLE tt (a int)");
    STEP(DB, "DROP TEMPORARY TABLE tt");
    STEP(DB, "CREATE TABLE p (a int NOT NULL, b int) PARTITION BY RANGE (a) "
             "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS "
             "THAN (20))");
    STEP(DB, "ALTER TABLE p ADD PARTITION (PARTITION p2 VALUES LESS THAN "
             "(30))");
    STEP(DB, "ALTER TABLE p REORGANIZE PARTITION p0, p1 INTO (PARTITION p01 "
             "VALUES LESS THAN (20))");
    STEP(DB, "ALTER TABLE p DROP PARTITION p2");
    STEP(DB, "ALTER TABLE p REMOVE PARTITIONING");
    STEP(DB, "ALTER TABLE p ENGINE=InnoDB ROW_FORMAT=DYNAMIC");
    STEP(DB, "ALTER TABLE p ORDER BY a, b");
    STEP(DB, "DROP DATABASE " DB2);
    STEP(DB, "DROP DATABASE " DB);
    sl_schema_free(hist);
    mysql_close(mysql);
}

SL_TEST(schema_live_load_then_alter) {
    /* Tables created directly on the server are read by load_live, and
     * the history then follows ALTERs from there. */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB2);
    sl_harness_exec(mysql, "CREATE DATABASE " DB " CHARACTER SET utf8mb4");
    sl_harness_exec(mysql, "CREATE TABLE " DB ".a (id int unsigned NOT NULL, "
                           "e enum('x''y','b\\\\c','') , s varchar(3) "
                           "CHARSET latin1, PRIMARY KEY (s, id))");
    sl_harness_exec(mysql, "CREATE TABLE " DB ".skipped (x int)");
    sl_schema_t *hist = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&hist));
    SL_CHECK_OK(
        sl_schema_load_live(hist, mysql, want_test_dbs, NULL, err, sizeof err));
    const sl_schema_table_t *t = sl_schema_find(hist, DB, strlen(DB), "a", 1);
    SL_CHECK(t != NULL);
    SL_CHECK_INT(t->ncols, 3);
    SL_CHECK_INT(t->cols[1].nvalues, 3);
    SL_CHECK_STR(t->cols[1].values[0], "x'y");
    SL_CHECK_STR(t->cols[1].values[1], "b\\c");
    SL_CHECK_STR(t->cols[1].values[2], "");
    SL_CHECK_INT(t->cols[0].pk_seq, 2);
    SL_CHECK_INT(t->cols[2].pk_seq, 1);
    SL_CHECK_STR(t->charset, "utf8mb4");
    /* The persisted form restores the same history. */
    sl_buf_t j = SL_BUF_INIT;
    SL_CHECK_OK(sl_schema_to_json(hist, &j));
    sl_schema_t *back = NULL;
    SL_CHECK_OK(sl_schema_new(&back));
    SL_CHECK_OK(sl_schema_from_json(back, (const char *)j.data, j.len, err,
                                    sizeof err));
    char msg[1024];
    if (compare(back, hist, msg, sizeof msg) != 0)
        sl_test_fail(__FILE__, __LINE__, "JSON round trip: %s", msg);
    sl_schema_free(back);
    sl_buf_free(&j);
    STEP(DB, "ALTER TABLE a ADD b text, MODIFY e set('p','q')");
    STEP(DB, "ALTER TABLE a CONVERT TO CHARACTER SET latin1");
    /* The want callback selects tables, once per table. */
    sl_schema_t *one = NULL;
    int calls = 0;
    SL_CHECK_OK(sl_schema_new(&one));
    SL_CHECK_OK(sl_schema_load_live(one, mysql, want_not_skipped, &calls, err,
                                    sizeof err));
    SL_CHECK(sl_schema_find(one, DB, strlen(DB), "skipped", 7) == NULL);
    SL_CHECK(sl_schema_find(one, DB, strlen(DB), "a", 1) != NULL);
    SL_CHECK_INT(sl_schema_count(one), 1);
    SL_CHECK(calls >= 2);
    sl_schema_free(one);
    sl_schema_free(hist);
    sl_harness_exec(mysql, "DROP DATABASE " DB);
    mysql_close(mysql);
}

SL_TEST(schema_live_sql_modes) {
    /* The same statement text means different things under ANSI_QUOTES,
     * NO_BACKSLASH_ESCAPES and REAL_AS_FLOAT; the history reads it with
     * the mode the statement ran with (the Query event's sql_mode). */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    sl_harness_exec(mysql, "SET SESSION sql_mode = 'ANSI_QUOTES,"
                           "NO_BACKSLASH_ESCAPES,REAL_AS_FLOAT'");
    sl_schema_set_sql_mode(hist, SL_DDL_MODE_ANSI_QUOTES |
                                     SL_DDL_MODE_NO_BACKSLASH_ESCAPES |
                                     SL_DDL_MODE_REAL_AS_FLOAT);
    STEP(DB, "CREATE TABLE \"q t\" (\"a b\" REAL, e ENUM('x\\','it''s'), "
             "\"c\"\"d\" int)");
    STEP(DB, "ALTER TABLE \"q t\" ADD \"x\" DOUBLE, CHANGE \"a b\" \"a\" "
             "REAL UNSIGNED");
    sl_harness_exec(mysql, "SET SESSION sql_mode = DEFAULT");
    sl_schema_set_sql_mode(hist, 0);
    STEP(DB, "ALTER TABLE `q t` ADD y REAL, ADD z ENUM('a\\\\b', 'c\\'d', "
             "\"e\")");
    STEP(DB, "DROP DATABASE " DB);
    sl_schema_free(hist);
    mysql_close(mysql);
}

/* The server refuses sql (so the statement never reaches a binlog and
 * what the history would make of it does not matter). */
static void refused(MYSQL *mysql, const char *db, const char *sql, int line) {
    if (mysql_select_db(mysql, db) != 0)
        sl_test_fail(__FILE__, line, "USE %s: %s", db, mysql_error(mysql));
    if (mysql_query(mysql, sql) == 0)
        sl_test_fail(__FILE__, line, "the server accepted \"%s\"", sql);
}
#define REFUSED(db, sql) refused(mysql, db, sql, __LINE__)

SL_TEST(schema_live_alter_name_resolution) {
    /* Names inside one ALTER TABLE: DROP/CHANGE/MODIFY/RENAME COLUMN name
     * the columns as they were, FIRST/AFTER and new keys as they are when
     * that specification is placed (capture/schema/alter.c). Each table is
     * recreated so that every statement starts from a known shape. */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    static const char *const forms[] = {
        "CHANGE a a INT AFTER b2, CHANGE b b2 VARCHAR(255)",
        "CHANGE b b2 VARCHAR(255), CHANGE a a INT AFTER b2",
        "ADD f int, ADD e int AFTER f",
        "DROP b, ADD b bigint, ADD e int AFTER b",
        "ADD b bigint, DROP b",
        "DROP b, ADD b bigint FIRST",
        "RENAME COLUMN a TO x, RENAME COLUMN b TO a",
        "RENAME COLUMN a TO b, RENAME COLUMN b TO a",
        "ADD x int, MODIFY x bigint",
        "ADD x int, MODIFY x bigint FIRST",
        "ADD x int FIRST, MODIFY x bigint",
        "ADD x int FIRST, CHANGE x x bigint AFTER c",
        "ADD x int, ADD y int, MODIFY x bigint AFTER y",
        "ADD e int AFTER a2, CHANGE a a2 int",
        "CHANGE a x int, ADD a int AFTER x",
        "MODIFY c int FIRST, MODIFY d int FIRST",
        "MODIFY b int AFTER d, MODIFY d int AFTER a",
        "MODIFY d int AFTER c, MODIFY c int AFTER d",
        "ADD (e int, f int), ADD g int AFTER e",
        "ADD COLUMN (e int, f int), ADD COLUMN h int FIRST",
        "RENAME COLUMN a TO x, ADD e int AFTER x",
        "CHANGE a b int, CHANGE b a int",
        "CHANGE a b int AFTER c, CHANGE b a int FIRST",
        "ADD e int AFTER d, ADD f int AFTER d",
        "DROP b, CHANGE a b int",
        "DROP a, DROP b, DROP c",
        "ADD COLUMN IF NOT EXISTS e int, ADD COLUMN IF NOT EXISTS e bigint",
        "ADD COLUMN IF NOT EXISTS a bigint, ADD e int AFTER a",
        "DROP COLUMN IF EXISTS a, DROP COLUMN IF EXISTS a",
        "DROP b, ADD COLUMN IF NOT EXISTS b bigint",
        "MODIFY COLUMN IF EXISTS x int, ADD x int",
        "ADD x int, MODIFY COLUMN IF EXISTS x bigint",
        "CHANGE a x int, ADD COLUMN IF NOT EXISTS x int",
        "RENAME COLUMN IF EXISTS zz TO x, ADD zz int",
        "CHANGE COLUMN IF EXISTS zz y int, RENAME COLUMN IF EXISTS a TO zz",
        "ADD PRIMARY KEY (c)",
        "ADD c2 int PRIMARY KEY FIRST",
        "ADD x int, ADD PRIMARY KEY (x, a)",
        "CHANGE a x int, ADD PRIMARY KEY (x)",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        STEP(DB, "CREATE OR REPLACE TABLE t (a int, b int, c int, d int)");
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE t %s", forms[i]);
        step(mysql, hist, DB, sql, __LINE__ * 1000 + (int)i);
    }
    /* With a two-column primary key. */
    static const char *const keyed[] = {
        "DROP PRIMARY KEY, ADD PRIMARY KEY (c)",
        "ADD PRIMARY KEY (c), DROP PRIMARY KEY",
        "DROP PRIMARY KEY, ADD PRIMARY KEY IF NOT EXISTS (c)",
        "ADD PRIMARY KEY IF NOT EXISTS (c)",
        "DROP a, DROP b",
        "DROP b, ADD b int",
        "DROP b, ADD b int NOT NULL FIRST",
        "CHANGE b x int",
        "RENAME COLUMN b TO x",
        "CHANGE a b int, CHANGE b a int",
        "RENAME COLUMN b TO b2, ADD b int",
        "CHANGE b b2 int, ADD b int FIRST",
        "MODIFY b int NULL",
        "DROP PRIMARY KEY, ADD c2 int PRIMARY KEY",
        "DROP PRIMARY KEY, MODIFY c int PRIMARY KEY",
        "DROP PRIMARY KEY, ADD PRIMARY KEY (x), CHANGE c x int",
        "DROP INDEX `PRIMARY`, ADD PRIMARY KEY (d)",
        "DROP CONSTRAINT `PRIMARY`",
        "DROP KEY IF EXISTS `PRIMARY`, DROP INDEX IF EXISTS `PRIMARY`",
        "MODIFY a bigint AFTER d, CHANGE b b int FIRST",
    };
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        STEP(DB, "CREATE OR REPLACE TABLE t (a int NOT NULL, b int NOT NULL, "
                 "c int, d int, PRIMARY KEY (a, b))");
        char sql[256];
        snprintf(sql, sizeof sql, "ALTER TABLE t %s", keyed[i]);
        step(mysql, hist, DB, sql, __LINE__ * 1000 + (int)i);
    }
    /* What the server refuses: a name that exists only after the
     * statement, a column dropped or added twice, two primary keys. */
    STEP(DB, "CREATE OR REPLACE TABLE t (a int NOT NULL, b int NOT NULL, "
             "c int, d int, PRIMARY KEY (a, b))");
    static const char *const bad[] = {
        "ALTER TABLE t ADD e int AFTER f, ADD f int",
        "ALTER TABLE t ADD e int AFTER c, DROP c",
        "ALTER TABLE t DROP c, ADD e int AFTER c",
        "ALTER TABLE t ADD x int, DROP x",
        "ALTER TABLE t RENAME COLUMN a TO b2, RENAME COLUMN b2 TO c2",
        "ALTER TABLE t RENAME COLUMN a TO x, MODIFY a bigint",
        "ALTER TABLE t RENAME COLUMN a TO x, MODIFY x bigint",
        "ALTER TABLE t CHANGE a x int, MODIFY x bigint",
        "ALTER TABLE t ADD x int, CHANGE x y bigint",
        "ALTER TABLE t MODIFY x bigint, ADD x int",
        "ALTER TABLE t CHANGE a a2 int AFTER a2",
        "ALTER TABLE t CHANGE a x int, ADD e int AFTER a",
        "ALTER TABLE t DROP c, DROP c",
        "ALTER TABLE t MODIFY c int FIRST, MODIFY c bigint",
        "ALTER TABLE t ADD PRIMARY KEY (c)",
        "ALTER TABLE t DROP PRIMARY KEY, DROP PRIMARY KEY",
        "ALTER TABLE t DROP a, DROP b, DROP c, DROP d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(mysql, DB, bad[i], __LINE__ * 1000 + (int)i);
    STEP(DB, "DROP DATABASE " DB);
    sl_schema_free(hist);
    mysql_close(mysql);
}

SL_TEST(schema_live_compressed_columns) {
    /* MariaDB COMPRESSED: COLUMN_TYPE gains the versioned comment
     * information_schema shows ("varchar(100) /" "*M!100301 COMPRESSED*" "/"),
     * kept through CONVERT TO and charset binary. */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    STEP(DB, "CREATE TABLE c (a VARCHAR(100) COMPRESSED, b BLOB COMPRESSED, "
             "c TEXT COMPRESSED=zlib, d VARCHAR(10) /*M!100301 COMPRESSED*/, "
             "e TINYBLOB compressed, f VARBINARY(20) COMPRESSED = zlib, "
             "g LONGTEXT COMPRESSED NOT NULL, h CHAR(1), "
             "i VARCHAR(5) COMPRESSED CHARACTER SET binary, "
             "j TEXT(10) COMPRESSED, k JSON COMPRESSED, "
             "l VARCHAR(5) CHARSET utf8mb4 COLLATE utf8mb4_bin COMPRESSED, "
             "m LONG VARCHAR COMPRESSED, n NVARCHAR(4) COMPRESSED, "
             "o VARCHAR(5) COMPRESSED DEFAULT 'x' COMMENT 'y', "
             "p TEXT COMPRESSED CHARSET binary, q BLOB(70000) COMPRESSED)");
    STEP(DB, "ALTER TABLE c MODIFY h VARCHAR(3) COMPRESSED, ADD r MEDIUMBLOB "
             "/*M!100301 COMPRESSED*/ FIRST, MODIFY a VARCHAR(100)");
    STEP(DB, "ALTER TABLE c CONVERT TO CHARACTER SET utf8mb4");
    STEP(DB, "ALTER TABLE c CHANGE c c2 TEXT COMPRESSED CHARACTER SET latin1 "
             "NOT NULL AFTER r");
    STEP(DB, "DROP DATABASE " DB);
    sl_schema_free(hist);
    mysql_close(mysql);
}

SL_TEST(schema_live_system_versioning) {
    /* MariaDB system versioning: implicit row_start/row_end are hidden
     * columns of the history (check_hidden), explicit AS ROW START/END
     * columns are ordinary ones. Changing a versioned table's columns
     * needs system_versioning_alter_history=KEEP. */
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_schema_t *hist = start(mysql);
    sl_harness_exec(mysql, "SET SESSION system_versioning_alter_history=KEEP");
    STEP("mysql", "CREATE DATABASE " DB " CHARACTER SET latin1");
    STEP(DB, "CREATE TABLE v (id int PRIMARY KEY, b int INVISIBLE) WITH "
             "SYSTEM VERSIONING");
    STEP(DB, "ALTER TABLE v ADD c int FIRST, ADD d int AFTER id, DROP b");
    STEP(DB, "ALTER TABLE v DROP SYSTEM VERSIONING, ADD e int");
    STEP(DB, "ALTER TABLE v ADD SYSTEM VERSIONING, MODIFY e bigint FIRST");
    STEP(DB, "CREATE TABLE w (a int WITH SYSTEM VERSIONING, b int WITHOUT "
             "SYSTEM VERSIONING)");
    STEP(DB, "CREATE TABLE w2 LIKE w");
    STEP(DB, "CREATE TABLE w3 (a int) /*!100301 WITH SYSTEM VERSIONING*/ "
             "PARTITION BY SYSTEM_TIME INTERVAL 1 DAY PARTITIONS 3");
    STEP(DB, "CREATE TABLE u (a int)");
    STEP(DB, "ALTER TABLE u WITH SYSTEM VERSIONING");
    STEP(DB, "ALTER TABLE u ADD x int AFTER a, MODIFY a bigint");
    STEP(DB, "CREATE TABLE e (a int, s TIMESTAMP(6) GENERATED ALWAYS AS ROW "
             "START, e TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE, "
             "PERIOD FOR SYSTEM_TIME(s, e), b int) WITH SYSTEM VERSIONING");
    STEP(DB, "ALTER TABLE e DROP SYSTEM VERSIONING, DROP COLUMN s, "
             "DROP COLUMN e");
    STEP(DB, "CREATE TABLE f (a int)");
    STEP(DB, "ALTER TABLE f ADD COLUMN ts TIMESTAMP(6) AS ROW START, ADD "
             "COLUMN te TIMESTAMP(6) AS ROW END, ADD PERIOD FOR "
             "SYSTEM_TIME(ts, te), ADD SYSTEM VERSIONING");
    STEP(DB, "CREATE TABLE g (id bigint UNSIGNED, x bigint UNSIGNED "
             "GENERATED ALWAYS AS ROW START, y bigint UNSIGNED GENERATED "
             "ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (x, y)) "
             "ENGINE=InnoDB WITH SYSTEM VERSIONING");
    REFUSED(DB, "ALTER TABLE v ADD x int AFTER row_end");
    REFUSED(DB, "ALTER TABLE v ADD SYSTEM VERSIONING");
    REFUSED(DB, "ALTER TABLE v ADD row_start int");
    STEP(DB, "DROP DATABASE " DB);
    sl_schema_free(hist);
    mysql_close(mysql);
}
