/* Unit tests for capture/schema: each DDL form's resulting columns
 * asserted exactly (names, order, types, signedness, charsets, ENUM/SET
 * members, nullability, primary key), sequences of statements, failures
 * that name their tables, and the JSON round trip. */
#include "test_capture_schema.h"
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "error.h"
#include "jsonread.h"
#include "sl_test.h"

#include <ftw.h>
#include <stdlib.h>
#include <strings.h>

SL_TEST(schema_create_integer_and_numeric_types) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE t (a TINYINT, b SMALLINT UNSIGNED, c MEDIUMINT(5), "
          "d INT(4) ZEROFILL, e INTEGER UNSIGNED NOT NULL, f BIGINT SIGNED, "
          "g BOOL, h BOOLEAN DEFAULT TRUE, i SERIAL, j DECIMAL(12,3) UNSIGNED,"
          " k NUMERIC(5), l DEC, m FLOAT, n FLOAT(30), o FLOAT(7,3), "
          "p DOUBLE PRECISION, q REAL, r BIT(3), s BIT, t INT1, u INT8 "
          "UNSIGNED ZEROFILL, v FIXED(4,2), w DOUBLE(10,2) UNSIGNED)");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:tinyint(4),b:smallint(5) unsigned,c:mediumint(5),"
                 "d:int(4) unsigned zerofill,e:int(10) unsigned:nn,"
                 "f:bigint(20),g:tinyint(1),h:tinyint(1),"
                 "i:bigint(20) unsigned:nn,j:decimal(12,3) unsigned,"
                 "k:decimal(5,0),l:decimal(10,0),m:float,n:double,"
                 "o:float(7,3),p:double,q:double,r:bit(3),s:bit(1),"
                 "t:tinyint(4),u:bigint(20) unsigned zerofill,"
                 "v:decimal(4,2),w:double(10,2) unsigned");
    sl_schema_free(s);
}

SL_TEST(schema_create_mysql8_drops_display_widths) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 0, 80036, NULL));
    APPLY(s, "d",
          "CREATE TABLE t (a INT(11), b TINYINT(1), c INT ZEROFILL, "
          "d BIGINT UNSIGNED, e YEAR, f JSON, g TEXT, h SERIAL)");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:int,b:tinyint(1),c:int(10) unsigned zerofill,"
                 "d:bigint unsigned,e:year,f:json,g:text:cs=utf8mb4,"
                 "h:bigint unsigned:nn");
    /* With MySQL 8 the default charset is utf8mb4. */
    SL_CHECK_STR(sl_schema_db_charset(s, "d"), "utf8mb4");
    sl_schema_free(s);
}

SL_TEST(schema_create_text_types_and_charsets) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE DATABASE d2 CHARACTER SET utf8mb4");
    APPLY(s, "d2",
          "CREATE TABLE t (a CHAR, b VARCHAR(20), c VARCHAR(5) CHARACTER SET "
          "latin1 COLLATE latin1_bin, d TEXT COLLATE utf8mb3_general_ci, "
          "e NATIONAL CHAR(3), f NVARCHAR(4), g BINARY, h VARBINARY(9), "
          "i BLOB, j TINYTEXT, k LONGBLOB, l TEXT(100), m BLOB(300), "
          "n CHAR(4) CHARACTER SET binary, o VARCHAR(3) CHARSET utf8, "
          "p MEDIUMTEXT BINARY, q LONG VARCHAR, r LONG VARBINARY, "
          "s CHAR(2) ASCII, t CHAR(2) BYTE, u TEXT CHARACTER SET binary, "
          "v CHARACTER VARYING(7), w JSON)");
    SL_CHECK_STR(render(s, "d2", "t"),
                 "a:char(1):cs=utf8mb4,b:varchar(20):cs=utf8mb4,"
                 "c:varchar(5):cs=latin1,d:text:cs=utf8mb3,"
                 "e:char(3):cs=utf8mb3,f:varchar(4):cs=utf8mb3,"
                 "g:binary(1):cs=binary,h:varbinary(9):cs=binary,"
                 "i:blob:cs=binary,j:tinytext:cs=utf8mb4,"
                 "k:longblob:cs=binary,l:text:cs=utf8mb4,m:blob:cs=binary,"
                 "n:binary(4):cs=binary,o:varchar(3):cs=utf8mb3,"
                 "p:mediumtext:cs=utf8mb4,q:mediumtext:cs=utf8mb4,"
                 "r:mediumblob:cs=binary,s:char(2):cs=latin1,"
                 "t:binary(2):cs=binary,u:blob:cs=binary,"
                 "v:varchar(7):cs=utf8mb4,w:longtext:cs=utf8mb4");
    /* TEXT(100) in latin1 fits a TINYTEXT. */
    APPLY(s, "d", "CREATE TABLE x (a TEXT(100)) DEFAULT CHARSET=latin1");
    SL_CHECK_STR(render(s, "d", "x"), "a:tinytext:cs=latin1");
    /* A table COLLATE alone sets the charset. */
    APPLY(s, "d", "CREATE TABLE y (a CHAR(1)) COLLATE=ucs2_general_ci");
    SL_CHECK_STR(render(s, "d", "y"), "a:char(1):cs=ucs2");
    sl_schema_free(s);
}

SL_TEST(schema_create_enum_set_and_other_types) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE t (a ENUM('x','it''s','b\\\\c',\"dq\") NOT NULL, "
          "b SET('1','2') CHARACTER SET utf8mb4, c DATE, d TIME(3), "
          "e DATETIME(6), f TIMESTAMP, g YEAR, h GEOMETRY, i POINT SRID 4326, "
          "j MULTIPOLYGON, k INET6, l UUID, m VECTOR(3), "
          "n ENUM(_utf8mb4'\xc3\xa9', 'b'))");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:enum('x','it''s','b\\\\c','dq'):cs=latin1:v=x|it's|b\\c|dq"
                 ":nn,"
                 "b:set('1','2'):cs=utf8mb4:v=1|2,c:date,d:time(3),"
                 "e:datetime(6),f:timestamp,g:year(4),h:geometry,i:point,"
                 "j:multipolygon,k:inet6,l:uuid,m:vector(3),"
                 "n:enum('\xc3\xa9','b'):cs=latin1:v=\xc3\xa9|b");
    sl_schema_free(s);
}

SL_TEST(schema_create_keys_attributes_and_options) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "/*!40101 SET NAMES utf8 */");
    APPLY(s, "d",
          "CREATE TABLE IF NOT EXISTS `my db`.`T``1` (\n"
          "  `Id` int NOT NULL AUTO_INCREMENT COMMENT 'the id',\n"
          "  b varchar(10) DEFAULT NULL,\n"
          "  c int GENERATED ALWAYS AS (`Id` + 1) VIRTUAL,\n"
          "  d int AS ((c * 2)) STORED INVISIBLE,\n"
          "  e timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
          "CURRENT_TIMESTAMP(),\n"
          "  f int DEFAULT (abs(-3) + 1) CHECK (f > 0),\n"
          "  g int REFERENCES o (x) ON DELETE SET NULL ON UPDATE CASCADE,\n"
          "  h double DEFAULT -1.5e3 COLUMN_FORMAT FIXED STORAGE DISK,\n"
          "  i varchar(3) DEFAULT _utf8mb4'x' COLLATE utf8mb4_bin,\n"
          "  j char(1) UNIQUE KEY,\n"
          "  k int PERSISTENT,\n"
          "  PRIMARY KEY (b, `id`) USING BTREE,\n"
          "  CONSTRAINT fk FOREIGN KEY (g) REFERENCES o (x),\n"
          "  CONSTRAINT chk CHECK (g <> 0),\n"
          "  UNIQUE KEY u (j(1)),\n"
          "  KEY k1 (c, d DESC),\n"
          "  FULLTEXT KEY ft (b),\n"
          "  INDEX ((f + 1))\n"
          ") ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 "
          "COLLATE=utf8mb4_unicode_ci ROW_FORMAT=DYNAMIC COMMENT='x, y' "
          "/*!50100 PARTITION BY HASH (`Id`) PARTITIONS 4 */");
    SL_CHECK_STR(render(s, "my db", "T`1"),
                 "Id:int(11):nn:pk=2,b:varchar(10):cs=utf8mb4:nn:pk=1,"
                 "c:int(11),d:int(11),e:timestamp:nn,f:int(11),g:int(11),"
                 "h:double,i:varchar(3):cs=utf8mb4,j:char(1):cs=utf8mb4,"
                 "k:int(11)");
    /* IF NOT EXISTS on an existing table changes nothing. */
    APPLY(s, "my db", "CREATE TABLE IF NOT EXISTS `T``1` (z int)");
    SL_CHECK_STR(render(s, "my db", "T`1") + 0, render(s, "my db", "T`1"));
    SL_CHECK(strncmp(render(s, "my db", "T`1"), "Id:", 3) == 0);
    /* Inline PRIMARY KEY; MariaDB's CREATE OR REPLACE replaces. */
    APPLY(s, "d",
          "CREATE OR REPLACE TABLE `T``1` (a bigint primary key, "
          "b int key)");
    SL_CHECK_STR(render(s, "d", "T`1"), "a:bigint(20):nn:pk=1,b:int(11):nn:"
                                        "pk=1");
    APPLY(s, "d", "CREATE OR REPLACE TABLE `T``1` (a bigint primary key)");
    SL_CHECK_STR(render(s, "d", "T`1"), "a:bigint(20):nn:pk=1");
    sl_schema_free(s);
}

SL_TEST(schema_alter_columns_in_sequence) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE t (id int NOT NULL, a varchar(5), b int, "
          "PRIMARY KEY (id)) DEFAULT CHARSET=latin1");
    APPLY(s, "d",
          "ALTER TABLE t ADD COLUMN c int UNSIGNED AFTER id, "
          "ADD d text FIRST");
    SL_CHECK_STR(render(s, "d", "t"),
                 "d:text:cs=latin1,id:int(11):nn:pk=1,c:int(10) unsigned,"
                 "a:varchar(5):cs=latin1,b:int(11)");
    APPLY(s, "d",
          "ALTER TABLE t DROP COLUMN d, DROP b, "
          "MODIFY a varchar(50) CHARACTER SET utf8mb4 NOT NULL FIRST");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn,id:int(11):nn:pk=1,"
                 "c:int(10) unsigned");
    APPLY(s, "d",
          "ALTER TABLE d.t CHANGE COLUMN c cc bigint, "
          "CHANGE id ID int(5) unsigned NOT NULL AFTER cc");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn,cc:bigint(20),"
                 "ID:int(5) unsigned:nn:pk=1");
    APPLY(s, "d",
          "ALTER TABLE t RENAME COLUMN cc TO c2, "
          "ALTER COLUMN c2 SET DEFAULT 5, ALTER a DROP DEFAULT, "
          "ALTER COLUMN c2 SET INVISIBLE, ENGINE=InnoDB, "
          "ROW_FORMAT=COMPACT, AUTO_INCREMENT=10, COMMENT 'x', "
          "KEY_BLOCK_SIZE=8, ALGORITHM=INPLACE, LOCK=NONE, FORCE");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn,c2:bigint(20),"
                 "ID:int(5) unsigned:nn:pk=1");
    /* Keys: the PK changes, secondary indexes change nothing. */
    APPLY(s, "d",
          "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (c2, a), "
          "ADD UNIQUE INDEX u (ID), ADD INDEX (a), ADD FULLTEXT KEY "
          "f (a), ADD CONSTRAINT c1 CHECK (c2 > 0), ADD CONSTRAINT fk "
          "FOREIGN KEY (ID) REFERENCES o (x)");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn:pk=2,c2:bigint(20):nn:pk=1,"
                 "ID:int(5) unsigned:nn");
    APPLY(s, "d",
          "ALTER TABLE t DROP INDEX u, DROP KEY a, DROP FOREIGN KEY "
          "fk, DROP CONSTRAINT c1, RENAME INDEX f TO g, RENAME KEY g "
          "TO h");
    /* Dropping a PK column closes the gap in the numbering. */
    APPLY(s, "d", "ALTER TABLE t DROP COLUMN c2");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn:pk=1,ID:int(5) unsigned:nn");
    /* ADD (a, b) and MariaDB IF [NOT] EXISTS. */
    APPLY(s, "d",
          "ALTER TABLE t ADD COLUMN (x int, y char(2)), "
          "ADD COLUMN IF NOT EXISTS x bigint, DROP COLUMN IF EXISTS "
          "nope, MODIFY COLUMN IF EXISTS nope int");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn:pk=1,ID:int(5) unsigned:nn,"
                 "x:int(11),y:char(2):cs=latin1");
    /* Column names are case-insensitive. */
    APPLY(s, "d", "ALTER TABLE t MODIFY COLUMN X smallint, DROP COLUMN Y");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn:pk=1,ID:int(5) unsigned:nn,"
                 "X:smallint(6)");
    /* Old names refer to the table before the statement: swaps work. */
    APPLY(s, "d",
          "ALTER TABLE t CHANGE a X varchar(50) NOT NULL, "
          "CHANGE X a smallint");
    SL_CHECK_STR(render(s, "d", "t"),
                 "X:varchar(50):cs=latin1:nn:pk=1,ID:int(5) unsigned:nn,"
                 "a:smallint(6)");
    APPLY(s, "d", "ALTER TABLE t RENAME COLUMN X TO a, RENAME COLUMN a TO X");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=latin1:nn:pk=1,ID:int(5) unsigned:nn,"
                 "X:smallint(6)");
    APPLY(s, "d",
          "ALTER TABLE t MODIFY a varchar(50) CHARSET utf8mb4 NOT "
          "NULL");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn:pk=1,ID:int(5) unsigned:nn,"
                 "X:smallint(6)");
    /* DROP INDEX `PRIMARY` is DROP PRIMARY KEY. */
    APPLY(s, "d", "ALTER TABLE t DROP INDEX `PRIMARY`");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:varchar(50):cs=utf8mb4:nn,ID:int(5) unsigned:nn,"
                 "X:smallint(6)");
    sl_schema_free(s);
}

SL_TEST(schema_alter_charsets) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE t (a tinytext, b text, c mediumtext, "
          "d varchar(10), e enum('a'), f blob, g longtext, h int) "
          "DEFAULT CHARSET=latin1");
    /* The table default changes; existing columns keep theirs, new ones
     * take it. */
    APPLY(s, "d", "ALTER TABLE t DEFAULT CHARACTER SET = utf8mb4");
    APPLY(s, "d", "ALTER TABLE t ADD i char(1)");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:tinytext:cs=latin1,b:text:cs=latin1,"
                 "c:mediumtext:cs=latin1,d:varchar(10):cs=latin1,"
                 "e:enum('a'):cs=latin1:v=a,f:blob:cs=binary,"
                 "g:longtext:cs=latin1,h:int(11),i:char(1):cs=utf8mb4");
    /* CONVERT TO grows text types to keep their length in characters. */
    APPLY(s, "d",
          "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE "
          "utf8mb4_unicode_ci");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:text:cs=utf8mb4,b:mediumtext:cs=utf8mb4,"
                 "c:longtext:cs=utf8mb4,d:varchar(10):cs=utf8mb4,"
                 "e:enum('a'):cs=utf8mb4:v=a,f:blob:cs=binary,"
                 "g:longtext:cs=utf8mb4,h:int(11),i:char(1):cs=utf8mb4");
    /* ... and never shrinks them. */
    APPLY(s, "d", "ALTER TABLE t CONVERT TO CHARSET latin1");
    SL_CHECK_STR(render(s, "d", "t"),
                 "a:text:cs=latin1,b:mediumtext:cs=latin1,"
                 "c:longtext:cs=latin1,d:varchar(10):cs=latin1,"
                 "e:enum('a'):cs=latin1:v=a,f:blob:cs=binary,"
                 "g:longtext:cs=latin1,h:int(11),i:char(1):cs=latin1");
    /* MODIFY without a charset takes the table's, not the old column's. */
    APPLY(s, "d", "ALTER TABLE t CHARSET utf8mb3, MODIFY d varchar(11)");
    SL_CHECK_STR(render(s, "d", "t") + 0, render(s, "d", "t"));
    SL_CHECK(strstr(render(s, "d", "t"), "d:varchar(11):cs=utf8mb3") != NULL);
    /* Table options apply first: a column added by the same statement
     * takes the new charset without the CONVERT growth. */
    APPLY(s, "d", "CREATE TABLE w (a text) CHARSET latin1");
    APPLY(s, "d",
          "ALTER TABLE w ADD b text, CONVERT TO CHARACTER SET "
          "utf8mb4");
    SL_CHECK_STR(render(s, "d", "w"),
                 "a:mediumtext:cs=utf8mb4,b:text:cs=utf8mb4");
    /* Database charsets: CREATE and ALTER DATABASE. */
    APPLY(s, NULL,
          "CREATE DATABASE IF NOT EXISTS `x` /*!40100 DEFAULT "
          "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin */");
    APPLY(s, "x", "CREATE TABLE t (a char(1))");
    SL_CHECK_STR(render(s, "x", "t"), "a:char(1):cs=utf8mb4");
    APPLY(s, "x", "ALTER DATABASE CHARACTER SET ucs2");
    APPLY(s, "x", "CREATE TABLE u (a char(1))");
    SL_CHECK_STR(render(s, "x", "u"), "a:char(1):cs=ucs2");
    APPLY(s, NULL, "ALTER SCHEMA x DEFAULT COLLATE = cp1251_bin");
    SL_CHECK_STR(sl_schema_db_charset(s, "x"), "cp1251");
    /* Unknown databases fall back to the server's charset. */
    SL_CHECK_STR(sl_schema_db_charset(s, "nope"), "latin1");
    sl_schema_free(s);
}

/* ALTER TABLE ... RENAME TO with an unqualified new name moves the table
 * into the statement's default database, not the table's own (as MySQL
 * and MariaDB do); RENAME TABLE likewise. */
SL_TEST(schema_alter_rename_unqualified_goes_to_default_db) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE db1.t (x int)");
    APPLY(s, "d", "ALTER TABLE db1.t RENAME TO t2");
    SL_CHECK_STR(render(s, "d", "t2"), "x:int(11)");
    SL_CHECK_STR(render(s, "db1", "t2"), "(missing)");
    SL_CHECK_STR(render(s, "db1", "t"), "(missing)");
    APPLY(s, "d", "CREATE TABLE db1.u (y int)");
    APPLY(s, "e", "ALTER TABLE db1.u ADD z int, RENAME AS u2");
    SL_CHECK_STR(render(s, "e", "u2"), "y:int(11),z:int(11)");
    SL_CHECK_STR(render(s, "db1", "u2"), "(missing)");
    APPLY(s, "d", "CREATE TABLE db1.v (w int)");
    APPLY(s, "f", "RENAME TABLE db1.v TO v2");
    SL_CHECK_STR(render(s, "f", "v2"), "w:int(11)");
    SL_CHECK_STR(render(s, "db1", "v2"), "(missing)");
    /* A rename of an unknown table forgets a stale entry under the new
     * name, in the default database too. */
    APPLY(s, "d", "CREATE TABLE d.n2 (q int)");
    char err[256];
    sl_ddl_effect_t eff;
    const char *sql = "ALTER TABLE db1.nope RENAME TO n2";
    SL_CHECK(sl_schema_apply_ddl(s, "d", sql, strlen(sql), &eff, err,
                                 sizeof err) != 0);
    sl_ddl_effect_free(&eff);
    SL_CHECK_STR(render(s, "d", "n2"), "(missing)");
    sl_schema_free(s);
}

SL_TEST(schema_rename_drop_like_and_databases) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE a (x int)");
    APPLY(s, "d", "CREATE TABLE b (y int)");
    /* Sequential semantics: swap through a temporary name. */
    APPLY(s, "d", "RENAME TABLE a TO tmp, b TO a, tmp TO b");
    SL_CHECK_STR(render(s, "d", "a"), "y:int(11)");
    SL_CHECK_STR(render(s, "d", "b"), "x:int(11)");
    APPLY(s, "d", "RENAME TABLE d.a TO e.a2");
    SL_CHECK_STR(render(s, "e", "a2"), "y:int(11)");
    SL_CHECK_STR(render(s, "d", "a"), "(missing)");
    APPLY(s, "e", "ALTER TABLE a2 RENAME TO d.c, ADD z int");
    SL_CHECK_STR(render(s, "d", "c"), "y:int(11),z:int(11)");
    SL_CHECK_STR(render(s, "e", "a2"), "(missing)");
    APPLY(s, "d", "ALTER TABLE c RENAME AS c2");
    APPLY(s, "d", "CREATE TABLE l LIKE c2");
    APPLY(s, "d", "CREATE TABLE IF NOT EXISTS l2 (LIKE d.c2)");
    SL_CHECK_STR(render(s, "d", "l"), "y:int(11),z:int(11)");
    SL_CHECK_STR(render(s, "d", "l2"), "y:int(11),z:int(11)");
    APPLY(s, "d",
          "DROP TABLE IF EXISTS `l`, d.l2, nope /* generated by "
          "server */");
    SL_CHECK_STR(render(s, "d", "l"), "(missing)");
    SL_CHECK_STR(render(s, "d", "l2"), "(missing)");
    /* Temporary tables never enter the history. */
    APPLY(s, "d", "CREATE TEMPORARY TABLE tt (a int)");
    SL_CHECK_STR(render(s, "d", "tt"), "(missing)");
    APPLY(s, "d", "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS c2");
    SL_CHECK_STR(render(s, "d", "c2"), "y:int(11),z:int(11)");
    /* Statements that change no definition. */
    APPLY(s, "d", "CREATE UNIQUE INDEX ui ON c2 (y)");
    APPLY(s, "d", "DROP INDEX ui ON c2");
    APPLY(s, "d", "TRUNCATE TABLE c2");
    SL_CHECK_STR(render(s, "d", "c2"), "y:int(11),z:int(11)");
    APPLY(s, "d", "ALTER TABLE c2 ADD PRIMARY KEY (z)");
    APPLY(s, "d", "DROP INDEX `PRIMARY` ON c2");
    SL_CHECK_STR(render(s, "d", "c2"), "y:int(11),z:int(11):nn");
    /* Non-reserved words are column names: vector, comment, first. */
    APPLY(s, "d",
          "CREATE TABLE nr (vector int, comment text, status int, "
          "VECTOR INDEX (vector))");
    SL_CHECK_STR(render(s, "d", "nr"),
                 "vector:int(11),comment:text:cs=latin1,status:int(11)");
    /* DROP DATABASE drops its tables and names them. */
    APPLY(s, "e", "CREATE TABLE e1 (a int)");
    sl_ddl_effect_t eff;
    char err[256];
    const char *sql = "DROP DATABASE IF EXISTS d";
    SL_CHECK_OK(
        sl_schema_apply_ddl(s, NULL, sql, strlen(sql), &eff, err, sizeof err));
    SL_CHECK_INT(eff.kind, SL_DDL_DROP_DATABASE);
    SL_CHECK_INT(eff.ntables, 3);
    SL_CHECK_STR(eff.tables[0].db, "d");
    SL_CHECK_STR(eff.tables[0].table, "nr");
    SL_CHECK_STR(eff.tables[1].table, "c2");
    SL_CHECK_STR(eff.tables[2].table, "b");
    sl_ddl_effect_free(&eff);
    SL_CHECK_INT(sl_schema_count(s), 1);
    SL_CHECK_STR(sl_schema_at(s, 0)->name, "e1");
    sl_schema_free(s);
}

SL_TEST(schema_names_case_rules) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE T (a int)");
    APPLY(s, "d", "CREATE TABLE t (b int)");
    SL_CHECK_STR(render(s, "d", "T"), "a:int(11)");
    SL_CHECK_STR(render(s, "d", "t"), "b:int(11)");
    SL_CHECK_STR(render(s, "D", "t"), "(missing)");
    /* sl_schema_find takes lengths: names need not be NUL-terminated. */
    SL_CHECK(sl_schema_find(s, "dx", 1, "tx", 1) != NULL);
    sl_schema_free(s);
}

SL_TEST(schema_unsupported_ddl_names_tables) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d", "CREATE TABLE t (a int)");
    APPLY(s, "d", "CREATE TABLE u (a int)");
    FAILS(s, "d", "CREATE TABLE c AS SELECT * FROM t", SL_EUNSUPPORTED, "d.c",
          "SELECT");
    FAILS(s, "d", "CREATE TABLE x.c (a int) SELECT 1 AS b", SL_EUNSUPPORTED,
          "x.c", "SELECT");
    FAILS(s, "d", "CREATE TABLE c SELECT 1", SL_EUNSUPPORTED, "d.c", "SELECT");
    FAILS(s, "d", "ALTER TABLE t ADD SYSTEM VERSIONING, ADD z FROB",
          SL_EUNSUPPORTED, "d.t", "offset");
    /* The table whose definition became unknown left the history. */
    SL_CHECK_STR(render(s, "d", "t"), "(missing)");
    FAILS(s, "d", "ALTER TABLE t ADD b int", SL_EUNSUPPORTED, "d.t",
          "not in the schema history");
    FAILS(s, "d", "ALTER TABLE u ADD b FROB", SL_EUNSUPPORTED, "d.u",
          "unknown column type at offset 20");
    FAILS(s, "d", "ALTER TABLE nope RENAME TO d.n2", SL_EUNSUPPORTED,
          "d.nope,d.n2", "not in the schema history");
    FAILS(s, "d", "RENAME TABLE nope TO x", SL_EUNSUPPORTED, "d.nope,d.x",
          "nope");
    FAILS(s, "d", "CREATE TABLE n LIKE nope", SL_EUNSUPPORTED, "d.n,d.nope",
          "source");
    FAILS(s, "d", "CREATE SEQUENCE s1", SL_EUNSUPPORTED, "d.s1", "SEQUENCE");
    FAILS(s, "d", "ALTER TABLE t2 CONVERT PARTITION p TO TABLE x",
          SL_EUNSUPPORTED, "d.t2,d.x", "not in the schema history");
    FAILS(s, "d", "CREATE TABLE k (a int) FROB 1", SL_EUNSUPPORTED, "d.k",
          "unknown table option");
    FAILS(s, "d", "CREATE TABLE 'k' (a int)", SL_EUNSUPPORTED, "",
          "expected a name at offset 13");
    FAILS(s, NULL, "CREATE TABLE k (a int)", SL_EUNSUPPORTED, ".k",
          "no default database");
    /* An ALTER of a column the history lacks: history and server
     * disagree, so the table is dropped from the history. */
    APPLY(s, "d", "CREATE TABLE v (a int)");
    FAILS(s, "d", "ALTER TABLE v DROP COLUMN zz", SL_EUNSUPPORTED, "d.v", "zz");
    SL_CHECK_STR(render(s, "d", "v"), "(missing)");
    sl_schema_free(s);
}

SL_TEST(schema_partition_and_option_specs_change_nothing) {
    sl_schema_t *s = new_schema();
    APPLY(s, "d",
          "CREATE TABLE t (a int, b int) PARTITION BY RANGE (a) "
          "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES "
          "LESS THAN MAXVALUE)");
    const char *stmts[] = {
        "ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (20))",
        "ALTER TABLE t DROP PARTITION p0, p1",
        "ALTER TABLE t REORGANIZE PARTITION p0, p1 INTO (PARTITION p VALUES "
        "LESS THAN (5))",
        "ALTER TABLE t TRUNCATE PARTITION p0",
        "ALTER TABLE t COALESCE PARTITION 2",
        "ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE t2 WITHOUT VALIDATION",
        "ALTER TABLE t REMOVE PARTITIONING",
        "ALTER TABLE t PARTITION BY KEY (a) PARTITIONS 2",
        "ALTER TABLE t ENGINE = InnoDB, ROW_FORMAT=DYNAMIC",
        "ALTER TABLE t ENGINE=InnoDB ROW_FORMAT=DYNAMIC",
        "ALTER ONLINE IGNORE TABLE t FORCE",
        "ALTER TABLE t ORDER BY a, b, ALGORITHM=COPY",
        "ALTER TABLE t DISABLE KEYS",
        "ALTER TABLE t ENABLE KEYS",
        "ALTER TABLE t DISCARD TABLESPACE",
        "ALTER TABLE t IMPORT TABLESPACE",
        "ALTER TABLE t ALTER INDEX i INVISIBLE",
        "ALTER TABLE t ALTER CHECK c NOT ENFORCED",
        "ALTER TABLE t WAIT 5 COMMENT = 'x'",
        "ALTER TABLE t STATS_PERSISTENT=0, STATS_AUTO_RECALC=1",
        "ALTER TABLE t ADD INDEX IF NOT EXISTS ix (a)",
        "ALTER TABLE t DROP INDEX IF EXISTS ix",
        "CREATE INDEX i2 ON t (a) ALGORITHM=INPLACE LOCK=NONE",
        "CREATE OR REPLACE UNIQUE INDEX i3 ON t (b)",
        "OPTIMIZE TABLE t",
        "ANALYZE TABLE t"};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        APPLY(s, "d", stmts[i]);
        SL_CHECK_STR(render(s, "d", "t"), "a:int(11),b:int(11)");
    }
    sl_schema_free(s);
}

SL_TEST(schema_ddl_the_servers_accept) {
    sl_schema_t *s = new_schema();
    /* Column names qualified by the table being defined (field_ident). */
    APPLY(s, "d", "CREATE TABLE foo (foo.id INT, d.foo.b INT, .c INT)");
    APPLY(s, "d", "ALTER TABLE foo ADD COLUMN foo.a VARCHAR(255)");
    APPLY(s, "d",
          "ALTER TABLE d.foo CHANGE d.foo.b foo.b2 BIGINT, "
          "MODIFY foo.c SMALLINT, DROP COLUMN foo.id");
    SL_CHECK_STR(render(s, "d", "foo"),
                 "b2:bigint(20),c:smallint(6),a:varchar(255):cs=latin1");
    sl_ddl_effect_t eff = {0};
    char err[256];
    SL_CHECK(sl_schema_apply_ddl(s, "d", "ALTER TABLE foo ADD bar.z INT", 29,
                                 &eff, err, sizeof err) != 0);
    sl_ddl_effect_free(&eff);

    /* Table options with backquoted names are skipped like bare ones. */
    APPLY(s, "d",
          "CREATE TABLE o (a INT) ENGINE=InnoDB `ENCRYPTED`=NO "
          "`page_compressed`=1 `page_compression_level`=3");
    APPLY(s, "d",
          "ALTER TABLE o `ENCRYPTED`=NO, `page_compressed`=1, "
          "ADD b INT, `page_compression_level`=5");
    SL_CHECK_STR(render(s, "d", "o"), "a:int(11),b:int(11)");

    /* A name of digits after a qualifier is a name, not a number. */
    APPLY(s, "d", "CREATE DATABASE shard_1");
    APPLY(s, "d", "CREATE TABLE shard_1.20151214 (a int)");
    APPLY(s, "d", "ALTER TABLE shard_1.20151214 ADD shard_1.20151214.1e5 INT");
    APPLY(s, "d", "RENAME TABLE shard_1.20151214 TO shard_1.20151215");
    SL_CHECK_STR(render(s, "shard_1", "20151215"), "a:int(11),1e5:int(11)");

    /* ADD PRIMARY KEY IF NOT EXISTS sets the key unless one exists. */
    APPLY(s, "d", "CREATE TABLE p (a int, b int)");
    APPLY(s, "d", "ALTER TABLE p ADD PRIMARY KEY IF NOT EXISTS (a)");
    APPLY(s, "d", "ALTER TABLE p ADD PRIMARY KEY IF NOT EXISTS (b)");
    APPLY(s, "d",
          "ALTER TABLE p ADD CONSTRAINT c PRIMARY KEY IF NOT EXISTS (b)");
    SL_CHECK_STR(render(s, "d", "p"), "a:int(11):nn:pk=1,b:int(11)");
    APPLY(s, "d", "CREATE TABLE q (a int, b int)");
    APPLY(s, "d",
          "ALTER TABLE q ADD CONSTRAINT c PRIMARY KEY IF NOT EXISTS "
          "USING BTREE (b, a)");
    APPLY(s, "d", "ALTER TABLE q ADD PRIMARY KEY IF NOT EXISTS pk (a)");
    SL_CHECK_STR(render(s, "d", "q"), "a:int(11):nn:pk=2,b:int(11):nn:pk=1");

    /* A length written as a decimal stands for its integer part, as
     * information_schema.COLUMNS.COLUMN_TYPE of MariaDB 10.11 shows. */
    APPLY(s, "d",
          "CREATE TABLE f (a FLOAT(7.4), b DECIMAL(19.5), c DECIMAL(0.2), "
          "d FLOAT(24.6), e FLOAT(25.1), g VARCHAR(10.7), h INT(3.6), "
          "l CHAR(2.5), m BIT(3.5), q TIMESTAMP(3.7), r FLOAT(0.4), "
          "s TEXT(300.5), t DATETIME(6.9), u VARCHAR(10.), v DECIMAL(010.3))");
    SL_CHECK_STR(render(s, "d", "f"),
                 "a:float,b:decimal(19,0),c:decimal(10,0),d:float,e:double,"
                 "g:varchar(10):cs=latin1,h:int(3),l:char(2):cs=latin1,"
                 "m:bit(3),q:timestamp(3),r:float,s:text:cs=latin1,"
                 "t:datetime(6),u:varchar(10):cs=latin1,v:decimal(10,0)");
    APPLY(s, "d", "ALTER TABLE f MODIFY a FLOAT(7.4) UNSIGNED");
    SL_CHECK(strncmp(render(s, "d", "f"), "a:float unsigned,", 17) == 0);
    const char *bad[] = {"CREATE TABLE z (a DECIMAL(7.5,2))",
                         "CREATE TABLE z (a DECIMAL(7,2.5))",
                         "CREATE TABLE z (a FLOAT(.5))"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SL_CHECK(sl_schema_apply_ddl(s, "d", bad[i], strlen(bad[i]), &eff, err,
                                     sizeof err) != 0);
        sl_ddl_effect_free(&eff);
    }
    sl_schema_free(s);
}

SL_TEST(schema_sql_mode_changes_reading) {
    sl_schema_t *s = new_schema();
    sl_schema_set_sql_mode(s,
                           SL_DDL_MODE_ANSI_QUOTES | SL_DDL_MODE_REAL_AS_FLOAT);
    APPLY(s, "d", "CREATE TABLE \"q t\" (\"a\" REAL, b ENUM('x'))");
    SL_CHECK_STR(render(s, "d", "q t"), "a:float,b:enum('x'):cs=latin1:v=x");
    sl_schema_set_sql_mode(s, SL_DDL_MODE_NO_BACKSLASH_ESCAPES);
    APPLY(s, "d", "CREATE TABLE e (b ENUM('x\\','y'))");
    SL_CHECK_STR(render(s, "d", "e"), "b:enum('x\\\\','y'):cs=latin1:v=x\\|y");
    sl_schema_free(s);
}

SL_TEST(schema_put_find_drop) {
    sl_schema_t *s = new_schema();
    sl_schema_col_t cols[2];
    memset(cols, 0, sizeof cols);
    char *vals[] = {"a", "b"};
    cols[0].name = "id";
    cols[0].data_type = "int";
    cols[0].column_type = "int(11)";
    cols[0].is_pk = 1;
    cols[0].pk_seq = 1;
    cols[1].name = "e";
    cols[1].data_type = "enum";
    cols[1].column_type = "enum('a','b')";
    cols[1].charset = "latin1";
    cols[1].values = vals;
    cols[1].nvalues = 2;
    cols[1].nullable = 1;
    sl_schema_table_t t = {.db = "db",
                           .name = "tb",
                           .cols = cols,
                           .ncols = 2,
                           .charset = "latin1"};
    SL_CHECK_OK(sl_schema_put(s, &t));
    SL_CHECK_STR(render(s, "db", "tb"),
                 "id:int(11):nn:pk=1,e:enum('a','b'):cs=latin1:v=a|b");
    const sl_schema_table_t *f = sl_schema_find(s, "db", 2, "tb", 2);
    SL_CHECK(f != NULL && f->cols[1].values != vals);
    SL_CHECK_INT(sl_schema_drop(s, "db", "tb"), 0);
    SL_CHECK_INT(sl_schema_drop(s, "db", "tb"), SL_ENOTFOUND);
    t.db = NULL;
    SL_CHECK_INT(sl_schema_put(s, &t), SL_EINVAL);
    sl_schema_free(s);
}

SL_TEST(schema_json_round_trip) {
    sl_schema_t *s = new_schema();
    APPLY(s, NULL, "CREATE DATABASE z CHARACTER SET utf8mb4");
    APPLY(s, NULL, "CREATE DATABASE a CHARACTER SET ucs2");
    APPLY(s, "z",
          "CREATE TABLE t (id bigint unsigned NOT NULL, "
          "e enum('q\"x','b\\\\s','\xc3\xa9','') , n varchar(3), "
          "PRIMARY KEY (n, id))");
    APPLY(s, "a", "CREATE TABLE `we\"ird\\` (x int)");
    sl_buf_t j1 = SL_BUF_INIT, j2 = SL_BUF_INIT;
    SL_CHECK_OK(sl_schema_to_json(s, &j1));
    sl_schema_t *r = NULL;
    char err[256];
    SL_CHECK_OK(sl_schema_new(&r));
    APPLY(r, "q", "CREATE TABLE gone (a int)");
    SL_CHECK_OK(
        sl_schema_from_json(r, (const char *)j1.data, j1.len, err, sizeof err));
    SL_CHECK_OK(sl_schema_to_json(r, &j2));
    SL_CHECK_MEM(j1.data, j1.len, j2.data, j2.len);
    SL_CHECK_STR(render(r, "q", "gone"), "(missing)");
    SL_CHECK_STR(render(r, "z", "t"), render(s, "z", "t"));
    SL_CHECK_STR(render(r, "z", "t"),
                 "id:bigint(20) unsigned:nn:pk=2,"
                 "e:enum('q\"x','b\\\\s','\xc3\xa9',''):cs=utf8mb4:"
                 "v=q\"x|b\\s|\xc3\xa9|,n:varchar(3):cs=utf8mb4:nn:pk=1");
    SL_CHECK_STR(sl_schema_db_charset(r, "a"), "ucs2");
    SL_CHECK_STR(render(r, "a", "we\"ird\\"), "x:int(11)");
    /* The server description survives: MariaDB still maps JSON. */
    APPLY(r, "a", "CREATE TABLE j (x json)");
    SL_CHECK_STR(render(r, "a", "j"), "x:longtext:cs=utf8mb4");
    /* Stable order: databases and tables sorted. */
    const char *doc = (const char *)j1.data;
    SL_CHECK(strstr(doc, "\"name\":\"a\"") < strstr(doc, "\"name\":\"z\""));
    /* Corrupt documents are refused and leave the history unchanged. */
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"format\":\"x\",\"version\":1}",
                         "{\"format\":\"sluice-schema-history\",\"version\":2,"
                         "\"server\":{},\"databases\":[],\"tables\":[]}",
                         "{\"format\":\"sluice-schema-history\",\"version\":1,"
                         "\"server\":{\"flavor\":\"mysql\",\"version\":1,"
                         "\"charset\":null},\"databases\":[],\"tables\":"
                         "[{\"db\":\"a\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc =
            sl_schema_from_json(r, bad[i], strlen(bad[i]), err, sizeof err);
        SL_CHECK_INT(rc, SL_ECORRUPT);
        SL_CHECK(strstr(err, "schema history JSON") != NULL);
    }
    for (size_t cut = 0; cut < j1.len; cut += 7)
        SL_CHECK_INT(sl_schema_from_json(r, doc, cut, err, sizeof err),
                     SL_ECORRUPT);
    SL_CHECK_STR(render(r, "z", "t"), render(s, "z", "t"));
    sl_buf_free(&j1);
    sl_buf_free(&j2);
    sl_schema_free(r);
    sl_schema_free(s);
}

/* ---- Every DDL statement of the real-server fixture binlogs ------------- */

typedef struct {
    sl_schema_t *hist;
    sl_jr_doc_t doc;
    sl_buf_t sql, db;
    size_t statements, applied, notfound;
    char failure[512];
} fixture_ctx_t;

static fixture_ctx_t *fixture_ctx;

static int fixture_change_cb(void *arg, const sl_change_t *chg) {
    fixture_ctx_t *fc = arg;
    if (chg->kind != SL_CHANGE_DDL && chg->kind != SL_CHANGE_STATEMENT)
        return 0;
    if (sl_jr_parse(&fc->doc, chg->json, chg->json_len) != 0)
        return 0;
    uint32_t sql = sl_jr_get(&fc->doc, 0, "sql");
    uint32_t db = sl_jr_get(&fc->doc, 0, "db");
    sl_buf_reset(&fc->sql);
    sl_buf_reset(&fc->db);
    if (sql == SL_JR_NONE || sl_jr_unescape(&fc->doc, sql, &fc->sql) != 0)
        return 0;
    const char *dbs = NULL, *text = NULL;
    if (db != SL_JR_NONE && sl_jr_type(&fc->doc, db) == SL_JR_STRING &&
        sl_jr_unescape(&fc->doc, db, &fc->db) == 0)
        sl_buf_cstr(&fc->db, &dbs);
    if (sl_buf_cstr(&fc->sql, &text) != 0)
        return 0;
    char err[256];
    sl_ddl_effect_t eff;
    int rc = sl_schema_apply_ddl(fc->hist, dbs, text, fc->sql.len, &eff, err,
                                 sizeof err);
    fc->statements++;
    if (rc == 0 && eff.kind != SL_DDL_NONE)
        fc->applied++;
    int notfound = rc == SL_EUNSUPPORTED &&
                   strstr(err, "not in the schema history") != NULL;
    fc->notfound += notfound;
    /* Sequences are refused by design; anything else must be understood. */
    if (rc != 0 && !notfound && strcasestr(text, "SEQUENCE") == NULL &&
        fc->failure[0] == '\0')
        snprintf(fc->failure, sizeof fc->failure, "%s: %.200s: %s", chg->file,
                 text, err);
    sl_ddl_effect_free(&eff);
    return 0;
}

static int fixture_walk_cb(const char *path, const struct stat *st, int type,
                           struct FTW *ftw) {
    (void)ftw;
    if (type != FTW_F || st->st_size < 4)
        return 0;
    FILE *f = fopen(path, "rb");
    unsigned char magic[4] = {0};
    if (f == NULL)
        return 0;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    if (n != 4 || memcmp(magic,
                         "\xfe"
                         "bin",
                         4) != 0)
        return 0;
    fixture_ctx_t *fc = fixture_ctx;
    sl_binlog_t *dec = NULL;
    if (sl_schema_new(&fc->hist) != 0 ||
        sl_binlog_new(&dec, NULL, fixture_change_cb, fc) != 0)
        return 1;
    /* Decoder errors (encrypted or truncated fixtures) end the file; the
     * statements before them were still applied. */
    (void)sl_binlog_read_file(dec, path, 4, 0);
    sl_binlog_free(dec);
    sl_schema_free(fc->hist);
    fc->hist = NULL;
    return 0;
}

SL_TEST(schema_fixture_binlogs_every_ddl_understood) {
    const char *root = sl_test_fixtures();
    if (root == NULL)
        SL_SKIP("fixtures directory absent");
    fixture_ctx_t fc;
    memset(&fc, 0, sizeof fc);
    sl_jr_init(&fc.doc);
    fixture_ctx = &fc;
    SL_CHECK_INT(nftw(root, fixture_walk_cb, 16, FTW_PHYS), 0);
    sl_jr_free(&fc.doc);
    sl_buf_free(&fc.sql);
    sl_buf_free(&fc.db);
    printf("  fixtures: %zu statements, %zu changed the history, %zu on "
           "tables created before the file\n",
           fc.statements, fc.applied, fc.notfound);
    if (fc.failure[0])
        sl_test_fail(__FILE__, __LINE__, "%s", fc.failure);
    SL_CHECK(fc.applied >= 100);
}

SL_TEST(schema_online_schema_change_tools) {
    /* gh-ost's and pt-online-schema-change's statements, as they reach
     * the binlog: shadow table LIKE the original, ALTER on the shadow,
     * atomic swap by RENAME, DROP of the old table. */
    sl_schema_t *s = new_schema();
    APPLY(s, "shop",
          "CREATE TABLE `shop`.`orders` (id bigint NOT NULL, "
          "total decimal(10,2), PRIMARY KEY (id)) ENGINE=InnoDB");
    APPLY(s, "shop",
          "create /* gh-ost */ table `shop`.`_orders_gho` like "
          "`shop`.`orders`");
    APPLY(s, "shop",
          "alter /* gh-ost */ table `shop`.`_orders_gho` add "
          "column note varchar(20) character set utf8mb4 after "
          "id, modify total decimal(12,2) not null");
    APPLY(s, "shop",
          "create /* gh-ost */ table `shop`.`_orders_ghc` (id "
          "bigint auto_increment, last_update timestamp not null "
          "DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,"
          " hint varchar(64) charset ascii not null, value "
          "varchar(4096) charset ascii not null, primary "
          "key(id), unique key hint_uidx(hint)) auto_increment=256"
          " comment='gh-ost changelog'");
    APPLY(s, "shop",
          "rename /* gh-ost */ table `shop`.`orders` to "
          "`shop`.`_orders_del`, `shop`.`_orders_gho` to "
          "`shop`.`orders`");
    APPLY(s, "shop",
          "drop /* gh-ost */ table if exists "
          "`shop`.`_orders_del`");
    APPLY(s, "shop",
          "DROP TABLE IF EXISTS `shop`.`_orders_ghc` /* "
          "generated by server */");
    SL_CHECK_STR(render(s, "shop", "orders"),
                 "id:bigint(20):nn:pk=1,note:varchar(20):cs=utf8mb4,"
                 "total:decimal(12,2):nn");
    SL_CHECK_INT(sl_schema_count(s), 1);
    /* MySQL 8 logs CREATE TABLE ... SELECT (atomic DDL) as the created
     * table's definition followed by START TRANSACTION. */
    APPLY(s, "shop",
          "CREATE TABLE `copy` (\n  `id` bigint NOT NULL\n) "
          "START TRANSACTION");
    SL_CHECK_STR(render(s, "shop", "copy"), "id:bigint(20):nn");
    sl_schema_free(s);
}
