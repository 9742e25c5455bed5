/* Unit tests for the DDL grammar the schema history understands, form by
 * form, with the exact columns each leaves (as MariaDB 10.11's
 * information_schema shows them; tests/integration/capture_schema_live.c
 * runs the same statements against the server): names resolved within
 * one ALTER TABLE, COMPRESSED columns, system versioning, periods,
 * partition conversions, charset defaults and the other clauses. */
#include "test_capture_schema.h"

#include <stdlib.h>

/* Names inside one ALTER TABLE, as MariaDB 10.11 resolved each of these
 * (the same statements run against the server in
 * tests/integration/capture_schema_live.c). */
SL_TEST(schema_alter_name_resolution_within_statement) {
    static const struct {
        const char *alter, *want;
    } plain[] = {
        {"CHANGE a a INT AFTER b2, CHANGE b b2 VARCHAR(255)",
         "b2:varchar(255):cs=latin1,a:int(11),c:int(11),d:int(11)"},
        {"CHANGE b b2 VARCHAR(255), CHANGE a a INT AFTER b2",
         "b2:varchar(255):cs=latin1,a:int(11),c:int(11),d:int(11)"},
        {"ADD f int, ADD e int AFTER f",
         "a:int(11),b:int(11),c:int(11),d:int(11),f:int(11),e:int(11)"},
        {"DROP b, ADD b bigint, ADD e int AFTER b",
         "a:int(11),c:int(11),d:int(11),b:bigint(20),e:int(11)"},
        {"ADD b bigint, DROP b", "a:int(11),c:int(11),d:int(11),b:bigint(20)"},
        {"DROP b, ADD b bigint FIRST",
         "b:bigint(20),a:int(11),c:int(11),d:int(11)"},
        {"RENAME COLUMN a TO x, RENAME COLUMN b TO a",
         "x:int(11),a:int(11),c:int(11),d:int(11)"},
        {"ADD x int, MODIFY x bigint",
         "a:int(11),b:int(11),c:int(11),d:int(11),x:bigint(20)"},
        {"ADD x int, MODIFY x bigint FIRST",
         "x:bigint(20),a:int(11),b:int(11),c:int(11),d:int(11)"},
        {"ADD x int FIRST, MODIFY x bigint",
         "a:int(11),b:int(11),c:int(11),d:int(11),x:bigint(20)"},
        {"ADD x int, ADD y int, MODIFY x bigint AFTER y",
         "a:int(11),b:int(11),c:int(11),d:int(11),y:int(11),x:bigint(20)"},
        {"ADD e int AFTER a2, CHANGE a a2 int",
         "a2:int(11),e:int(11),b:int(11),c:int(11),d:int(11)"},
        {"CHANGE a x int, ADD a int AFTER x",
         "x:int(11),a:int(11),b:int(11),c:int(11),d:int(11)"},
        {"MODIFY c int FIRST, MODIFY d int FIRST",
         "d:int(11),c:int(11),a:int(11),b:int(11)"},
        {"MODIFY b int AFTER d, MODIFY d int AFTER a",
         "a:int(11),d:int(11),c:int(11),b:int(11)"},
        {"MODIFY d int AFTER c, MODIFY c int AFTER d",
         "a:int(11),b:int(11),d:int(11),c:int(11)"},
        {"ADD (e int, f int), ADD g int AFTER e",
         "a:int(11),b:int(11),c:int(11),d:int(11),e:int(11),g:int(11),"
         "f:int(11)"},
        {"ADD COLUMN (e int, f int), ADD COLUMN h int FIRST",
         "h:int(11),a:int(11),b:int(11),c:int(11),d:int(11),e:int(11),"
         "f:int(11)"},
        {"RENAME COLUMN a TO x, ADD e int AFTER x",
         "x:int(11),e:int(11),b:int(11),c:int(11),d:int(11)"},
        {"CHANGE a b int AFTER c, CHANGE b a int FIRST",
         "a:int(11),c:int(11),b:int(11),d:int(11)"},
        {"ADD e int AFTER d, ADD f int AFTER d",
         "a:int(11),b:int(11),c:int(11),d:int(11),f:int(11),e:int(11)"},
        {"DROP b, CHANGE a b int", "b:int(11),c:int(11),d:int(11)"},
        {"ADD COLUMN IF NOT EXISTS e int, ADD COLUMN IF NOT EXISTS e bigint",
         "a:int(11),b:int(11),c:int(11),d:int(11),e:int(11)"},
        {"ADD COLUMN IF NOT EXISTS a bigint, ADD e int AFTER a",
         "a:int(11),e:int(11),b:int(11),c:int(11),d:int(11)"},
        {"DROP COLUMN IF EXISTS a, DROP COLUMN IF EXISTS a",
         "b:int(11),c:int(11),d:int(11)"},
        {"ADD x int, MODIFY COLUMN IF EXISTS x bigint",
         "a:int(11),b:int(11),c:int(11),d:int(11),x:int(11)"},
        {"RENAME COLUMN IF EXISTS zz TO x, ADD zz int",
         "a:int(11),b:int(11),c:int(11),d:int(11),zz:int(11)"},
        {"CHANGE a x int, ADD COLUMN IF NOT EXISTS x int",
         "x:int(11),b:int(11),c:int(11),d:int(11)"},
        {"ADD c2 int PRIMARY KEY FIRST",
         "c2:int(11):nn:pk=1,a:int(11),b:int(11),c:int(11),d:int(11)"},
        {"CHANGE a x int, ADD PRIMARY KEY (x)",
         "x:int(11):nn:pk=1,b:int(11),c:int(11),d:int(11)"},
    };
    static const struct {
        const char *alter, *want;
    } keyed[] = {
        {"DROP PRIMARY KEY, ADD PRIMARY KEY (c)",
         "a:int(11):nn,b:int(11):nn,c:int(11):nn:pk=1,d:int(11)"},
        {"ADD PRIMARY KEY (c), DROP PRIMARY KEY",
         "a:int(11):nn,b:int(11):nn,c:int(11):nn:pk=1,d:int(11)"},
        {"DROP PRIMARY KEY, ADD PRIMARY KEY IF NOT EXISTS (c)",
         "a:int(11):nn,b:int(11):nn,c:int(11),d:int(11)"},
        {"DROP a, DROP b", "c:int(11),d:int(11)"},
        {"DROP b, ADD b int",
         "a:int(11):nn:pk=1,c:int(11),d:int(11),b:int(11):nn:pk=2"},
        {"RENAME COLUMN b TO b2, ADD b int",
         "a:int(11):nn:pk=1,b2:int(11):nn:pk=2,c:int(11),d:int(11),b:int(11)"},
        {"CHANGE a b int, CHANGE b a int",
         "b:int(11):nn:pk=1,a:int(11):nn:pk=2,c:int(11),d:int(11)"},
        {"MODIFY b int NULL",
         "a:int(11):nn:pk=1,b:int(11):nn:pk=2,c:int(11),d:int(11)"},
        {"DROP PRIMARY KEY, ADD PRIMARY KEY (x), CHANGE c x int",
         "a:int(11):nn,b:int(11):nn,x:int(11):nn:pk=1,d:int(11)"},
        {"DROP KEY IF EXISTS `PRIMARY`, DROP INDEX IF EXISTS `PRIMARY`",
         "a:int(11):nn,b:int(11):nn,c:int(11),d:int(11)"},
    };
    static const char *const refused[] = {
        "ADD e int AFTER f, ADD f int",
        "ADD e int AFTER c, DROP c",
        "DROP c, ADD e int AFTER c",
        "ADD x int, DROP x",
        "RENAME COLUMN a TO b2, RENAME COLUMN b2 TO c2",
        "RENAME COLUMN a TO x, MODIFY a bigint",
        "CHANGE a x int, MODIFY x bigint",
        "ADD x int, CHANGE x y bigint",
        "MODIFY x bigint, ADD x int",
        "CHANGE a a2 int AFTER a2",
        "DROP c, DROP c",
        "MODIFY c int FIRST, MODIFY c bigint",
        "ADD PRIMARY KEY (c)",
        "DROP PRIMARY KEY, DROP PRIMARY KEY",
        "DROP a, DROP b, DROP c, DROP d",
        "ADD c int",
    };
    sl_schema_t *s = new_schema();
    char sql[256];
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        APPLY(s, "d", "CREATE OR REPLACE TABLE t (a int, b int, c int, d int)");
        snprintf(sql, sizeof sql, "ALTER TABLE t %s", plain[i].alter);
        apply_ok(s, "d", sql, __LINE__ * 1000 + (int)i);
        if (strcmp(render(s, "d", "t"), plain[i].want) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", sql,
                         render(s, "d", "t"));
    }
    const char *pk = "CREATE OR REPLACE TABLE t (a int NOT NULL, b int NOT "
                     "NULL, c int, d int, PRIMARY KEY (a, b))";
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        APPLY(s, "d", pk);
        snprintf(sql, sizeof sql, "ALTER TABLE t %s", keyed[i].alter);
        apply_ok(s, "d", sql, __LINE__ * 1000 + (int)i);
        if (strcmp(render(s, "d", "t"), keyed[i].want) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", sql,
                         render(s, "d", "t"));
    }
    /* What the server refuses fails here too, and the table leaves the
     * history (a later row of it stops capture). */
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        APPLY(s, "d", pk);
        snprintf(sql, sizeof sql, "ALTER TABLE t %s", refused[i]);
        expect_fail(s, "d", sql, SL_EUNSUPPORTED, "d.t", "d.t",
                    __LINE__ * 1000 + (int)i);
        SL_CHECK_STR(render(s, "d", "t"), "(missing)");
    }
    sl_schema_free(s);
}

SL_TEST(schema_mariadb_compressed_columns) {
    /* COLUMN_TYPE as MariaDB 10.11's information_schema shows it. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE c (a VARCHAR(100) COMPRESSED, b BLOB COMPRESSED, "
          "c TEXT COMPRESSED=zlib, d VARCHAR(10) /*M!100301 COMPRESSED*/, "
          "e VARCHAR(5) COMPRESSED CHARACTER SET binary, f TEXT(10) "
          "COMPRESSED NOT NULL, g TEXT COMPRESSED CHARSET binary, h CHAR(1))");
    SL_CHECK_STR(render(s, "d", "c"),
                 "a:varchar(100) /*M!100301 COMPRESSED*/:cs=latin1,"
                 "b:blob /*M!100301 COMPRESSED*/:cs=binary,"
                 "c:text /*M!100301 COMPRESSED*/:cs=latin1,"
                 "d:varchar(10) /*M!100301 COMPRESSED*/:cs=latin1,"
                 "e:varbinary(5) /*M!100301 COMPRESSED*/:cs=binary,"
                 "f:tinytext /*M!100301 COMPRESSED*/:cs=latin1:nn,"
                 "g:blob /*M!100301 COMPRESSED*/:cs=binary,"
                 "h:char(1):cs=latin1");
    APPLY(s, "d",
          "ALTER TABLE c MODIFY a VARCHAR(100), MODIFY h VARCHAR(3) "
          "COMPRESSED, CONVERT TO CHARACTER SET utf8mb4");
    SL_CHECK_STR(render(s, "d", "c"),
                 "a:varchar(100):cs=utf8mb4,"
                 "b:blob /*M!100301 COMPRESSED*/:cs=binary,"
                 "c:mediumtext /*M!100301 COMPRESSED*/:cs=utf8mb4,"
                 "d:varchar(10) /*M!100301 COMPRESSED*/:cs=utf8mb4,"
                 "e:varbinary(5) /*M!100301 COMPRESSED*/:cs=binary,"
                 "f:text /*M!100301 COMPRESSED*/:cs=utf8mb4:nn,"
                 "g:blob /*M!100301 COMPRESSED*/:cs=binary,"
                 "h:varchar(3) /*M!100301 COMPRESSED*/:cs=utf8mb4");
    /* A MySQL server does not run the MariaDB-only comment. */
    SL_CHECK_OK(sl_schema_set_server(s, 0, 80036, "utf8mb4"));
    APPLY(s, "d", "CREATE TABLE m (d VARCHAR(10) /*M!100301 COMPRESSED*/)");
    SL_CHECK_STR(render(s, "d", "m"), "d:varchar(10):cs=utf8mb4");
    sl_schema_free(s);
}

SL_TEST(schema_mariadb_system_versioning_hidden_columns) {
    /* Row images of a table WITH SYSTEM VERSIONING carry row_start and
     * row_end, TIMESTAMP(6) NOT NULL, after every other column (MariaDB
     * 10.11's binlog); information_schema.COLUMNS does not show them. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE v (id int PRIMARY KEY, b int INVISIBLE) WITH SYSTEM "
          "VERSIONING");
    const char *hid = "row_start:timestamp(6):nn,row_end:timestamp(6):nn";
    char want[256];
    snprintf(want, sizeof want, "id:int(11):nn:pk=1,b:int(11),%s", hid);
    SL_CHECK_STR(render(s, "d", "v"), want);
    const sl_schema_table_t *t = sl_schema_find(s, "d", 1, "v", 1);
    SL_CHECK(t && !t->cols[1].hidden && t->cols[2].hidden && t->cols[3].hidden);
    APPLY(s, "d", "ALTER TABLE v ADD c int FIRST, ADD d int AFTER id, DROP b");
    snprintf(want, sizeof want, "c:int(11),id:int(11):nn:pk=1,d:int(11),%s",
             hid);
    SL_CHECK_STR(render(s, "d", "v"), want);
    APPLY(s, "d", "ALTER TABLE v DROP SYSTEM VERSIONING, ADD e int");
    SL_CHECK_STR(render(s, "d", "v"),
                 "c:int(11),id:int(11):nn:pk=1,d:int(11),e:int(11)");
    APPLY(s, "d", "ALTER TABLE v ADD SYSTEM VERSIONING, MODIFY e bigint FIRST");
    snprintf(want, sizeof want,
             "e:bigint(20),c:int(11),id:int(11):nn:pk=1,d:int(11),%s", hid);
    SL_CHECK_STR(render(s, "d", "v"), want);
    /* The hidden columns cannot be named; re-adding versioning fails. */
    FAILS(s, "d", "ALTER TABLE v ADD x int AFTER row_end", SL_EUNSUPPORTED,
          "d.v", "row_end");
    APPLY(s, "d", "CREATE TABLE w (a int) /*!100301 WITH SYSTEM VERSIONING*/");
    FAILS(s, "d", "ALTER TABLE w ADD SYSTEM VERSIONING", SL_EUNSUPPORTED, "d.w",
          "already versioned");
    APPLY(s, "d",
          "CREATE TABLE w (a int WITH SYSTEM VERSIONING, b int "
          "WITHOUT SYSTEM VERSIONING)");
    snprintf(want, sizeof want, "a:int(11),b:int(11),%s", hid);
    SL_CHECK_STR(render(s, "d", "w"), want);
    APPLY(s, "d", "CREATE TABLE w2 LIKE w");
    SL_CHECK_STR(render(s, "d", "w2"), want);
    APPLY(s, "d", "CREATE TABLE u (a int)");
    APPLY(s, "d", "ALTER TABLE u WITH SYSTEM VERSIONING");
    snprintf(want, sizeof want, "a:int(11),%s", hid);
    SL_CHECK_STR(render(s, "d", "u"), want);
    /* Explicit row start/end columns are ordinary NOT NULL columns. */
    APPLY(s, "d",
          "CREATE TABLE e (a int, s TIMESTAMP(6) GENERATED ALWAYS AS ROW "
          "START, e TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE, "
          "PERIOD FOR SYSTEM_TIME(s, e), b int) WITH SYSTEM VERSIONING");
    SL_CHECK_STR(render(s, "d", "e"),
                 "a:int(11),s:timestamp(6):nn,e:timestamp(6):nn,b:int(11)");
    APPLY(s, "d", "CREATE TABLE f (a int)");
    APPLY(s, "d",
          "ALTER TABLE f ADD COLUMN ts TIMESTAMP(6) AS ROW START, ADD COLUMN "
          "te TIMESTAMP(6) AS ROW END, ADD PERIOD FOR SYSTEM_TIME(ts, te), "
          "ADD SYSTEM VERSIONING");
    SL_CHECK_STR(render(s, "d", "f"),
                 "a:int(11),ts:timestamp(6):nn,te:timestamp(6):nn");
    /* The JSON document keeps the flag. */
    sl_buf_t j = SL_BUF_INIT;
    SL_CHECK_OK(sl_schema_to_json(s, &j));
    sl_schema_t *back = NULL;
    char err[256];
    SL_CHECK_OK(sl_schema_new(&back));
    SL_CHECK_OK(sl_schema_from_json(back, (const char *)j.data, j.len, err,
                                    sizeof err));
    t = sl_schema_find(back, "d", 1, "w2", 2);
    SL_CHECK(t && t->ncols == 4 && !t->cols[1].hidden && t->cols[2].hidden &&
             t->cols[3].hidden);
    sl_schema_free(back);
    sl_buf_free(&j);
    sl_schema_free(s);
}

SL_TEST(schema_application_time_periods) {
    /* PERIOD FOR makes its columns NOT NULL, and a later MODIFY keeps
     * them so (as for a key); DROP PERIOD leaves them NOT NULL. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE p (a date, b date, c int, PERIOD FOR p (a, b))");
    SL_CHECK_STR(render(s, "d", "p"), "a:date:nn,b:date:nn,c:int(11)");
    APPLY(s, "d", "ALTER TABLE p MODIFY a date NULL, MODIFY c int NOT NULL");
    SL_CHECK_STR(render(s, "d", "p"), "a:date:nn,b:date:nn,c:int(11):nn");
    APPLY(s, "d", "ALTER TABLE p DROP PERIOD FOR p");
    SL_CHECK_STR(render(s, "d", "p"), "a:date:nn,b:date:nn,c:int(11):nn");
    APPLY(s, "d", "ALTER TABLE p MODIFY a date");
    SL_CHECK_STR(render(s, "d", "p"), "a:date,b:date:nn,c:int(11):nn");
    APPLY(s, "d", "CREATE TABLE q (a int, s date, e date)");
    APPLY(s, "d", "ALTER TABLE q ADD COLUMN x date, ADD PERIOD FOR app (x, e)");
    SL_CHECK_STR(render(s, "d", "q"), "a:int(11),s:date,e:date:nn,x:date:nn");
    /* IF NOT EXISTS: the table has a period already, nothing changes. */
    APPLY(s, "d", "ALTER TABLE q ADD PERIOD IF NOT EXISTS FOR p2 (s, e)");
    SL_CHECK_STR(render(s, "d", "q"), "a:int(11),s:date,e:date:nn,x:date:nn");
    APPLY(s, "d",
          "ALTER TABLE q DROP PERIOD IF EXISTS FOR app, DROP PERIOD IF "
          "EXISTS FOR app2, ADD PERIOD FOR p3 (s, e)");
    SL_CHECK_STR(render(s, "d", "q"),
                 "a:int(11),s:date:nn,e:date:nn,x:date:nn");
    /* Which of these the server does depends on the periods' names. */
    FAILS(s, "d",
          "ALTER TABLE q DROP PERIOD FOR p3, ADD PERIOD IF NOT EXISTS FOR "
          "p3 (a, x)",
          SL_EUNSUPPORTED, "d.q", "period names");
    /* A SYSTEM_TIME period's columns are NOT NULL by themselves. */
    APPLY(s, "d",
          "CREATE TABLE v (a int, rs timestamp(6) AS ROW START, re "
          "timestamp(6) AS ROW END, PERIOD FOR SYSTEM_TIME (rs, re)) WITH "
          "SYSTEM VERSIONING");
    SL_CHECK_STR(render(s, "d", "v"),
                 "a:int(11),rs:timestamp(6):nn,re:timestamp(6):nn");
    FAILS(s, "d", "CREATE TABLE z (a date, PERIOD FOR p (a, nope))",
          SL_EUNSUPPORTED, "d.z", "nope");
    sl_schema_free(s);
}

SL_TEST(schema_partition_conversions_and_clauses) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE r (id int NOT NULL, a varchar(3), PRIMARY KEY (id)) "
          "PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (10), "
          "PARTITION p1 VALUES LESS THAN (100))");
    const char *r = "id:int(11):nn:pk=1,a:varchar(3):cs=latin1";
    /* CONVERT PARTITION makes a table of the partition (MariaDB 10.7+). */
    APPLY(s, "d", "ALTER TABLE r CONVERT PARTITION p0 TO TABLE r2");
    SL_CHECK_STR(render(s, "d", "r2"), r);
    APPLY(s, "d", "ALTER TABLE r CONVERT PARTITION p1 TO TABLE e.r3");
    SL_CHECK_STR(render(s, "e", "r3"), r);
    APPLY(s, "d",
          "ALTER TABLE r CONVERT TABLE r2 TO PARTITION p0 VALUES LESS THAN "
          "(10)");
    SL_CHECK_STR(render(s, "d", "r2"), "(missing)");
    SL_CHECK_STR(render(s, "d", "r"), r);
    /* PARTITION BY may follow a specification without a comma. */
    APPLY(s, "d", "ALTER TABLE r ADD c int PARTITION BY KEY () PARTITIONS 2");
    APPLY(s, "d", "ALTER TABLE r MODIFY c bigint FIRST PARTITION BY HASH (id)");
    SL_CHECK_STR(render(s, "d", "r"),
                 "c:bigint(20),id:int(11):nn:pk=1,a:varchar(3):cs=latin1");
    /* SEQUENCE=0 is an ordinary table, SEQUENCE=1 a sequence. */
    APPLY(s, "d", "CREATE TABLE sq (a int) SEQUENCE=0");
    SL_CHECK_STR(render(s, "d", "sq"), "a:int(11)");
    FAILS(s, "d", "CREATE TABLE sq1 (a int) SEQUENCE=1", SL_EUNSUPPORTED,
          "d.sq1", "SEQUENCE=1");
    sl_schema_free(s);
}

SL_TEST(schema_charset_and_collate_default) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE DATABASE d CHARACTER SET latin1");
    APPLY(s, "d", "CREATE TABLE t (a text) CHARSET utf8mb4");
    /* CHARACTER SET DEFAULT is the database's; COLLATE DEFAULT says
     * nothing about the charset. */
    APPLY(s, "d", "ALTER TABLE t CONVERT TO CHARSET DEFAULT COLLATE DEFAULT");
    SL_CHECK_STR(render(s, "d", "t"), "a:text:cs=latin1");
    APPLY(s, "d", "ALTER TABLE t CHARACTER SET utf8mb4 COLLATE DEFAULT");
    APPLY(s, "d", "ALTER TABLE t COLLATE DEFAULT, ADD b char(1)");
    SL_CHECK_STR(render(s, "d", "t"), "a:text:cs=latin1,b:char(1):cs=utf8mb4");
    APPLY(s, "d", "ALTER TABLE t CONVERT TO CHARACTER SET DEFAULT");
    SL_CHECK_STR(render(s, "d", "t"), "a:text:cs=latin1,b:char(1):cs=latin1");
    APPLY(s, "d", "CREATE TABLE u (a char(1) COLLATE DEFAULT) CHARSET DEFAULT");
    SL_CHECK_STR(render(s, "d", "u"), "a:char(1):cs=latin1");
    sl_schema_free(s);
}

SL_TEST(schema_if_exists_on_missing_tables) {
    /* The server logs ALTER/RENAME TABLE IF EXISTS of a table that does
     * not exist; it changes nothing (a rename target is forgotten). */
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE t (a int)");
    APPLY(s, "d", "ALTER TABLE IF EXISTS nope ADD b int, RENAME TO t2");
    APPLY(s, "d", "RENAME TABLE IF EXISTS nope TO t3, t TO t4");
    SL_CHECK_STR(render(s, "d", "t4"), "a:int(11)");
    SL_CHECK_STR(render(s, "d", "t2"), "(missing)");
    FAILS(s, "d", "ALTER TABLE nope ADD b int", SL_EUNSUPPORTED, "d.nope",
          "not in the schema history");
    sl_schema_free(s);
}

SL_TEST(schema_order_by_qualified_columns) {
    /* main/alter_table.test: ORDER BY names columns like field_ident. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE t1 (id int, status int, body text)");
    APPLY(s, "d", "ALTER TABLE t1 ORDER BY t1.id, t1.status DESC, d.t1.body");
    APPLY(s, "d", "ALTER TABLE t1 ORDER BY id, ADD x int");
    SL_CHECK_STR(render(s, "d", "t1"),
                 "id:int(11),status:int(11),body:text:cs=latin1,x:int(11)");
    FAILS(s, "d", "ALTER TABLE t1 ORDER BY t2.id", SL_EUNSUPPORTED, "d.t1",
          "another table");
    sl_schema_free(s);
}

SL_TEST(schema_mysql84_clauses) {
    /* MySQL 8.4's CREATE/ALTER TABLE clauses (its manual), read with
     * MySQL 8.4 conventions (no display widths, JSON as json). */
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 0, 80400, "utf8mb4"));
    APPLY(s, "d",
          "CREATE TABLE m1 (my_row_id BIGINT UNSIGNED NOT NULL "
          "AUTO_INCREMENT /*!80023 INVISIBLE */, a INT NOT NULL DEFAULT "
          "(1+1) VISIBLE, b VARCHAR(10) COLLATE utf8mb4_0900_ai_ci "
          "ENGINE_ATTRIBUTE='{}' SECONDARY_ENGINE_ATTRIBUTE = '{}', c POINT "
          "NOT NULL /*!80003 SRID 4326 */, d JSON, e INT GENERATED ALWAYS AS "
          "(a+1) VIRTUAL NOT NULL INVISIBLE, f DATETIME(6) DEFAULT "
          "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), g TINYINT(1), "
          "h INT(5) ZEROFILL, i YEAR, j BIT(2) COLUMN_FORMAT FIXED STORAGE "
          "MEMORY, PRIMARY KEY (my_row_id), KEY idx ((a + 1)), CONSTRAINT chk "
          "CHECK (a > 0) /*!80016 NOT ENFORCED */, SPATIAL KEY (c), UNIQUE "
          "KEY u (b(5) DESC) USING BTREE INVISIBLE) ENGINE=InnoDB DEFAULT "
          "CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci AUTOEXTEND_SIZE=4M "
          "SECONDARY_ENGINE=RAPID STATS_PERSISTENT=0 COMPRESSION='zlib' "
          "ENCRYPTION='N' TABLESPACE innodb_system "
          "/*!50100 STORAGE DISK */ START TRANSACTION");
    SL_CHECK_STR(render(s, "d", "m1"),
                 "my_row_id:bigint unsigned:nn:pk=1,a:int:nn,"
                 "b:varchar(10):cs=utf8mb4,c:point:nn,d:json,e:int:nn,"
                 "f:datetime(6),g:tinyint(1),h:int(5) unsigned zerofill,"
                 "i:year,j:bit(2)");
    APPLY(s, "d",
          "ALTER TABLE m1 ALTER COLUMN a SET INVISIBLE, ALTER CHECK chk "
          "ENFORCED, ADD COLUMN k INT AFTER a, ALGORITHM=INSTANT");
    APPLY(s, "d", "ALTER TABLE m1 DROP CHECK chk, DROP CONSTRAINT u");
    APPLY(s, "d",
          "ALTER TABLE m1 RENAME COLUMN k TO k2, SECONDARY_ENGINE=NULL");
    APPLY(s, "d", "ALTER TABLE m1 SECONDARY_LOAD");
    APPLY(s, "d", "ALTER TABLE m1 SECONDARY_UNLOAD");
    APPLY(s, "d",
          "ALTER TABLE m1 ALTER INDEX idx INVISIBLE, ALTER INDEX idx "
          "VISIBLE, RENAME INDEX idx TO idx2");
    APPLY(s, "d",
          "ALTER TABLE m1 CHANGE COLUMN f f2 DATETIME(3) NULL FIRST, FORCE, "
          "ALGORITHM=COPY, LOCK=EXCLUSIVE");
    APPLY(s, "d", "ALTER TABLE m1 ENGINE=InnoDB, AUTOEXTEND_SIZE=8M");
    APPLY(s, "d",
          "ALTER TABLE m1 DROP PRIMARY KEY, ADD PRIMARY KEY (my_row_id, a), "
          "ALTER COLUMN k2 SET DEFAULT (5), ALTER k2 SET VISIBLE");
    SL_CHECK_STR(render(s, "d", "m1"),
                 "f2:datetime(3),my_row_id:bigint unsigned:nn:pk=1,"
                 "a:int:nn:pk=2,k2:int,b:varchar(10):cs=utf8mb4,c:point:nn,"
                 "d:json,e:int:nn,g:tinyint(1),h:int(5) unsigned zerofill,"
                 "i:year,j:bit(2)");
    /* MySQL does not run MariaDB's comments, MariaDB runs MySQL's. */
    APPLY(s, "d",
          "CREATE TABLE m2 (a INT /*M!100301 COMPRESSED*/, b INT "
          "/*!80023 INVISIBLE */) /*M!100301 WITH SYSTEM VERSIONING */");
    SL_CHECK_STR(render(s, "d", "m2"), "a:int,b:int");
    sl_schema_free(s);
}

SL_TEST(schema_case_spacing_comments_and_versions) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "cReAtE\ttAbLe\n`T`(`a`InT,B\tVarChar(3)/*x*/NOT/**/NULL)");
    APPLY(s, "d", "/*!40000 ALTER TABLE `T` DISABLE KEYS */");
    APPLY(s, "d",
          "aLtEr   TaBlE `T`\n\tADD\n`x` InT -- a comment\n, ADD/*c*/y "
          "int # another\n FIRST");
    APPLY(s, "d",
          "ALTER TABLE `T` /*!50100 ADD COLUMN z INT */, /*M!100301 MODIFY "
          "b varchar(3) COMPRESSED NOT NULL */");
    /* MODIFY b renames B to b, as the server does. */
    SL_CHECK_STR(render(s, "d", "T"),
                 "y:int(11),a:int(11),b:varchar(3) /*M!100301 COMPRESSED*/:"
                 "cs=latin1:nn,x:int(11),z:int(11)");
    APPLY(s, "d",
          "ALTER TABLE `T` ADD `Primary` int, ADD `Key` int, ADD "
          "`index` int AFTER `Key`, MODIFY `primary` bigint");
    SL_CHECK_STR(render(s, "d", "T"),
                 "y:int(11),a:int(11),b:varchar(3) /*M!100301 COMPRESSED*/:"
                 "cs=latin1:nn,x:int(11),z:int(11),Key:int(11),index:int(11),"
                 "primary:bigint(20)");
    sl_schema_free(s);
}

SL_TEST(schema_create_or_replace_database) {
    /* MariaDB's CREATE OR REPLACE DATABASE drops the old one first. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE DATABASE e CHARACTER SET utf8mb4");
    APPLY(s, "d", "CREATE TABLE e.t (a text)");
    APPLY(s, "d", "CREATE TABLE d.t (a text)");
    sl_ddl_effect_t eff;
    char err[256];
    const char *sql = "CREATE OR REPLACE DATABASE e CHARACTER SET latin1";
    SL_CHECK_OK(
        sl_schema_apply_ddl(s, "d", sql, strlen(sql), &eff, err, sizeof err));
    SL_CHECK_INT(eff.ntables, 1);
    SL_CHECK_STR(eff.tables[0].table, "t");
    sl_ddl_effect_free(&eff);
    SL_CHECK_STR(render(s, "e", "t"), "(missing)");
    SL_CHECK_STR(render(s, "d", "t"), "a:text:cs=latin1");
    APPLY(s, "d", "CREATE TABLE e.u (a text)");
    SL_CHECK_STR(render(s, "e", "u"), "a:text:cs=latin1");
    sl_schema_free(s);
}

SL_TEST(schema_year_widths) {
    /* MariaDB keeps YEAR(2) (information_schema says year(2)); any other
     * width is year(4). MySQL 5.7.5+ makes YEAR(2) a YEAR(4). */
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE y (a year(2), b year(3), c year(2) unsigned, d "
          "year(1), e year)");
    SL_CHECK_STR(render(s, "d", "y"), "a:year(2),b:year(4),c:year(2),"
                                      "d:year(4),e:year(4)");
    SL_CHECK_OK(sl_schema_set_server(s, 0, 50744, "latin1"));
    APPLY(s, "d", "CREATE TABLE y2 (a year(2))");
    SL_CHECK_STR(render(s, "d", "y2"), "a:year(4)");
    SL_CHECK_OK(sl_schema_set_server(s, 0, 50640, "latin1"));
    APPLY(s, "d", "CREATE TABLE y3 (a year(2))");
    SL_CHECK_STR(render(s, "d", "y3"), "a:year(2)");
    sl_schema_free(s);
}

SL_TEST(schema_engine_defined_table_options) {
    /* MariaDB engines declare their own table options, name = value
     * (CONNECT, Spider, S3...); none changes a column. An unknown word
     * without a value is still refused. */
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE c (a int) ENGINE=CONNECT TABLE_TYPE=CSV "
          "FILE_NAME='/tmp/x.csv' HEADER=1 SEP_CHAR=';' `QUOTED`=1");
    APPLY(s, "d", "ALTER TABLE c HEADER=0, ADD b int, MAPPED=YES");
    SL_CHECK_STR(render(s, "d", "c"), "a:int(11),b:int(11)");
    FAILS(s, "d", "CREATE TABLE k (a int) FROB", SL_EUNSUPPORTED, "d.k",
          "unknown table option");
    sl_schema_free(s);
}

SL_TEST(schema_alter_interleaved_positions) {
    /* ADD and positioned CHANGE/MODIFY interleaved: each is placed in
     * statement order against the list as it stands (MariaDB 10.11 gave
     * the final order h,b,a,e,e2,g,c3,d2,l,j,i,k). */
    sl_schema_t *s = new_schema();
    static const char *const seq[] = {
        "CREATE TABLE t (a int, b int, c int, d int)",
        "ALTER TABLE t ADD e int AFTER b, MODIFY b int FIRST",
        "ALTER TABLE t MODIFY c int FIRST, ADD f int AFTER c, CHANGE d d2 "
        "int AFTER f",
        "ALTER TABLE t ADD g int FIRST, ADD h int FIRST, MODIFY a int AFTER h",
        "ALTER TABLE t CHANGE b b int AFTER a, CHANGE a a int AFTER b",
        "ALTER TABLE t ADD (i int, j int), MODIFY i bigint AFTER j, ADD k int "
        "AFTER i",
        "ALTER TABLE t RENAME COLUMN c TO c3, MODIFY d2 int AFTER c3, ADD l "
        "int AFTER d2",
        "ALTER TABLE t DROP e, ADD e bigint AFTER a, CHANGE f e2 int AFTER e",
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        apply_ok(s, "d", seq[i], __LINE__ * 100 + (int)i);
    SL_CHECK_STR(render(s, "d", "t"),
                 "h:int(11),b:int(11),a:int(11),e:bigint(20),e2:int(11),"
                 "g:int(11),c3:int(11),d2:int(11),l:int(11),j:int(11),"
                 "i:bigint(20),k:int(11)");
    sl_schema_free(s);
}

SL_TEST(schema_diff_ignores_hidden_versioning_columns) {
    /* information_schema does not show row_start/row_end: the drift check
     * compares the other columns, and still sees a real difference. */
    sl_schema_t *h = new_schema(), *l = new_schema();
    APPLY(h, "d", "CREATE TABLE v (a int, b text) WITH SYSTEM VERSIONING");
    APPLY(l, "d", "CREATE TABLE v (a int, b text)");
    sl_buf_t report = SL_BUF_INIT;
    sl_schema_diff_t d;
    SL_CHECK_OK(sl_schema_diff(h, l, NULL, NULL, &report, &d));
    SL_CHECK_INT(d.compared, 1);
    SL_CHECK_INT(d.differ, 0);
    SL_CHECK_INT(report.len, 0);
    APPLY(l, "d", "ALTER TABLE v MODIFY b varchar(3)");
    SL_CHECK_OK(sl_schema_diff(h, l, NULL, NULL, &report, &d));
    SL_CHECK_INT(d.differ, 1);
    sl_buf_free(&report);
    sl_schema_free(h);
    sl_schema_free(l);
}
