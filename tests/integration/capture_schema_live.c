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

/* Describes every difference between the two histories' test tables
 * (sl_schema_diff) into msg; returns 0 when they are equal. */
static int compare(const sl_schema_t *hist, const sl_schema_t *live, char *msg,
                   size_t msglen) {
    sl_buf_t report = SL_BUF_INIT;
    sl_schema_diff_t d;
    SL_CHECK_OK(sl_schema_diff(hist, live, want_test_dbs, NULL, &report, &d));
    int differ = d.differ + d.only_history + d.only_server > 0;
    const char *text = "";
    SL_CHECK_OK(sl_buf_cstr(&report, &text));
    snprintf(msg, msglen, "%s", text);
    sl_buf_free(&report);
    return differ;
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
    char msg[4096];
    int diff = compare(hist, live, msg, sizeof msg);
    sl_schema_free(live);
    if (diff)
        sl_test_fail(__FILE__, line, "after \"%s\":\n%s", sql, msg);
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
    char msg[4096];
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
