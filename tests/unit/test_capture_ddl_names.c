/* Unit tests for capture/schema/names.c: the tables a DDL statement may
 * affect, found without the grammar, for statements the parser cannot
 * read (issue 14). The name finder is called directly, so these tests do
 * not depend on what the parser understands. */
#include "capture/decoder/binlog.h"
#include "capture/schema/history.h"
#include "capture/schema/schema.h"
#include "error.h"
#include "sl_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_ddl_opts_t mariadb = {1, 101106, 0};
static const sl_ddl_opts_t mysql57 = {0, 50744, 0};
static const sl_ddl_opts_t ansi = {1, 101106, SL_DDL_MODE_ANSI_QUOTES};

/* The tables found in sql, "db.t db.u" in the order found, or "!" when
 * they cannot be determined (which must come with a message). */
static const char *names(const char *default_db, const char *sql,
                         const sl_ddl_opts_t *opts) {
    static char out[1024];
    char err[256] = "";
    sl_ddl_effect_t e;
    size_t len = strlen(sql);
    /* A copy of exactly len bytes, so ASan (make asan) sees an over-read. */
    char *copy = malloc(len ? len : 1);
    SL_CHECK(copy != NULL);
    memcpy(copy, sql, len);
    int rc =
        sl_schema_ddl_tables(default_db, copy, len, opts, &e, err, sizeof err);
    free(copy);
    size_t o = 0;
    out[0] = '\0';
    if (rc == SL_EUNSUPPORTED) {
        SL_CHECK(err[0] != '\0');
        snprintf(out, sizeof out, "!");
    } else {
        SL_CHECK_INT(rc, 0);
        SL_CHECK(e.ntables > 0);
        for (size_t i = 0; i < e.ntables && o < sizeof out; i++)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s.%s",
                                  i ? " " : "", e.tables[i].db,
                                  e.tables[i].table);
    }
    sl_ddl_effect_free(&e);
    return out;
}

#define N(sql) names("d", sql, &mariadb)

SL_TEST(ddl_names_create) {
    SL_CHECK_STR(N("CREATE TABLE t (a int)"), "d.t");
    SL_CHECK_STR(N("create or replace temporary table if not exists "
                   "`x`.`y` (a int)"),
                 "x.y");
    SL_CHECK_STR(N("CREATE TABLE IF NOT EXISTS db1.t1 LIKE db2.src"), "db1.t1");
    SL_CHECK_STR(N("CREATE TABLE t2 (LIKE src)"), "d.t2");
    /* Tables read by SELECT or REFERENCES are not changed. */
    SL_CHECK_STR(N("CREATE TABLE t2 AS SELECT * FROM captured JOIN c2"),
                 "d.t2");
    SL_CHECK_STR(N("CREATE TABLE c (id int REFERENCES p(id)) "
                   "ENGINE=MRG_MyISAM UNION=(m1,m2)"),
                 "d.c");
    SL_CHECK_STR(N("CREATE TABLE `we``ird` (a int)"), "d.we`ird");
    SL_CHECK_STR(N("CREATE TABLE shard_1.20151214 (a int)"),
                 "shard_1.20151214");
    SL_CHECK_STR(N("CREATE TABLE caf\xc3\xa9.t\xc3\xa9 (a int)"),
                 "caf\xc3\xa9.t\xc3\xa9");
    SL_CHECK_STR(N("CREATE TABLE t (a int);"), "d.t");
    SL_CHECK_STR(N("CREATE SEQUENCE IF NOT EXISTS s START WITH 10"), "d.s");
    SL_CHECK_STR(N("CREATE OR REPLACE SEQUENCE x.s"), "x.s");
    SL_CHECK_STR(N("CREATE UNIQUE INDEX i ON t (a)"), "d.t");
    SL_CHECK_STR(N("CREATE OR REPLACE ONLINE FULLTEXT INDEX IF NOT EXISTS "
                   "i USING BTREE ON x.t (a)"),
                 "x.t");
    SL_CHECK_STR(N("CREATE INDEX `on` ON `on` (a)"), "d.on");
}

SL_TEST(ddl_names_alter) {
    SL_CHECK_STR(N("ALTER TABLE t ADD COLUMN c FROBTYPE(3)"), "d.t");
    SL_CHECK_STR(N("ALTER ONLINE IGNORE TABLE IF EXISTS t WAIT 5 FROB 3"),
                 "d.t");
    /* An unqualified new name goes to the statement's default database,
     * not the table's. */
    SL_CHECK_STR(N("ALTER TABLE db1.t RENAME TO t2"), "db1.t d.t2");
    SL_CHECK_STR(N("ALTER TABLE t RENAME AS x.y"), "d.t x.y");
    SL_CHECK_STR(N("ALTER TABLE t RENAME u"), "d.t d.u");
    SL_CHECK_STR(N("ALTER TABLE t RENAME = `u`"), "d.t d.u");
    SL_CHECK_STR(N("ALTER TABLE t ADD x int, RENAME TO u, ENGINE=InnoDB"),
                 "d.t d.u");
    SL_CHECK_STR(N("ALTER TABLE t ENGINE=InnoDB RENAME TO u"), "d.t d.u");
    SL_CHECK_STR(N("ALTER TABLE t RENAME TO t"), "d.t");
    SL_CHECK_STR(N("ALTER TABLE t RENAME COLUMN a TO b, RENAME INDEX i TO j, "
                   "RENAME KEY k TO l, RENAME CONSTRAINT c1 TO c2"),
                 "d.t");
    SL_CHECK_STR(N("ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE "
                   "other.t2 WITHOUT VALIDATION"),
                 "d.t other.t2");
    SL_CHECK_STR(N("alter table t exchange partition `p0` with table t2"),
                 "d.t d.t2");
    SL_CHECK_STR(N("ALTER TABLE t CONVERT PARTITION p1 TO TABLE t_p1"),
                 "d.t d.t_p1");
    SL_CHECK_STR(N("ALTER TABLE t CONVERT TABLE x.t_new TO PARTITION p2 "
                   "VALUES LESS THAN (100)"),
                 "d.t x.t_new");
    SL_CHECK_STR(N("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4"), "d.t");
    /* Words in strings, quoted names and comments are not clauses. */
    SL_CHECK_STR(N("ALTER TABLE t COMMENT 'rename to x', ADD `rename` int, "
                   "ADD exchange int /* RENAME TO y */"),
                 "d.t");
    SL_CHECK_STR(N("ALTER TABLE t ADD c int -- RENAME TO z\n, ADD d int"),
                 "d.t");
    SL_CHECK_STR(N("ALTER SEQUENCE IF EXISTS x.s RESTART 5"), "x.s");
    /* Odd spacing and case, a qualifier with spaces, the ODBC ".t". */
    SL_CHECK_STR(N("  alter\n\tTABLE   db . t1   ADD COLUMN c int"), "db.t1");
    SL_CHECK_STR(N("ALTER TABLE .t ADD c int"), "d.t");
}

SL_TEST(ddl_names_rename_drop_truncate_index) {
    SL_CHECK_STR(N("RENAME TABLE a TO b, c TO d2"), "d.a d.b d.c d.d2");
    SL_CHECK_STR(N("RENAME TABLES IF EXISTS x.a WAIT 3 TO y.b"), "x.a y.b");
    SL_CHECK_STR(N("RENAME TABLE a TO b, b TO a"), "d.a d.b");
    SL_CHECK_STR(N("DROP TABLE a, b"), "d.a d.b");
    SL_CHECK_STR(N("DROP TEMPORARY TABLE IF EXISTS `x`.a, b /* generated by "
                   "server */"),
                 "x.a d.b");
    SL_CHECK_STR(N("DROP TABLE IF EXISTS a NOWAIT RESTRICT"), "d.a");
    SL_CHECK_STR(N("DROP TABLES a CASCADE FORCE;"), "d.a");
    SL_CHECK_STR(N("DROP SEQUENCE IF EXISTS s1, x.s2"), "d.s1 x.s2");
    SL_CHECK_STR(N("DROP TEMPORARY SEQUENCE s"), "d.s");
    SL_CHECK_STR(N("TRUNCATE t"), "d.t");
    SL_CHECK_STR(N("TRUNCATE TABLE x.t WAIT 1"), "x.t");
    SL_CHECK_STR(N("TRUNCATE TABLE t PARTITION (p1, p2)"), "d.t");
    SL_CHECK_STR(N("DROP INDEX i ON t ALGORITHM=INPLACE LOCK=NONE"), "d.t");
    SL_CHECK_STR(N("DROP INDEX IF EXISTS `PRIMARY` ON x.t"), "x.t");
    SL_CHECK_STR(N("SET STATEMENT max_statement_time=60, a=(1) FOR "
                   "ALTER TABLE t ADD c int"),
                 "d.t");
}

SL_TEST(ddl_names_comments_quotes_modes) {
    SL_CHECK_STR(N("CREATE /*!32312 TEMPORARY*/ TABLE /*!32312 IF NOT "
                   "EXISTS*/ t (a int)"),
                 "d.t");
    SL_CHECK_STR(N("/* lead */ # line\n-- dash\nDROP TABLE a"), "d.a");
    /* A MariaDB-only executable comment: read by MariaDB, skipped when a
     * MySQL server wrote the statement. */
    SL_CHECK_STR(N("ALTER TABLE t /*M!100700 CONVERT PARTITION p TO TABLE "
                   "u */"),
                 "d.t d.u");
    SL_CHECK_STR(names("d",
                       "ALTER TABLE t /*M!100700 CONVERT PARTITION p TO "
                       "TABLE u */",
                       &mysql57),
                 "d.t");
    /* A version comment newer than the writing server is a comment. */
    SL_CHECK_STR(names("d", "ALTER TABLE t /*!80013 RENAME TO u */", &mysql57),
                 "d.t");
    SL_CHECK_STR(names("d", "ALTER TABLE t /*!50700 RENAME TO u */", &mysql57),
                 "d.t d.u");
    /* Unknown server (NULL opts): every executable comment is read. */
    SL_CHECK_STR(names("d", "ALTER TABLE t /*!80013 RENAME TO u */", NULL),
                 "d.t d.u");
    /* ANSI_QUOTES: "x" is a name; otherwise a string, so no name. */
    SL_CHECK_STR(names("d", "CREATE TABLE \"q\".\"t\"\"x\" (a int)", &ansi),
                 "q.t\"x");
    SL_CHECK_STR(N("CREATE TABLE \"q\".\"t\" (a int)"), "!");
    SL_CHECK_STR(names("d", "ALTER TABLE \"t\" RENAME TO \"u\"", &ansi),
                 "d.t d.u");
    /* Without a default database a qualified name still works. */
    SL_CHECK_STR(names(NULL, "CREATE TABLE x.t (a int)", &mariadb), "x.t");
    SL_CHECK_STR(names("", "DROP TABLE x.t, y.u", &mariadb), "x.t y.u");
}

SL_TEST(ddl_names_cannot_be_determined) {
    static const char *const bad[] = {
        "",
        "   ",
        "/* only a comment */",
        "CREATE DATABASE x",
        "DROP DATABASE x",
        "ALTER DATABASE x CHARACTER SET utf8",
        "IMPORT TABLE FROM 'a.sdi'",
        "CREATE VIEW v AS SELECT 1",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE",
        "CREATE TABLE 'str' (a int)",
        "CREATE TABLE ``.t (a int)",
        "CREATE TABLE x.`` (a int)",
        "CREATE TABLE t (a varchar(10) default 'x",
        "CREATE TABLE t (a int) /* unterminated",
        "CREATE TABLE t (a int); DROP TABLE u",
        "ALTER TABLE t RENAME",
        "ALTER TABLE t RENAME TO",
        "ALTER TABLE t RENAME TO x.",
        "ALTER TABLE t EXCHANGE PARTITION p WITH t2",
        "ALTER TABLE t CONVERT PARTITION p TO t2",
        "ALTER TABLE t ADD c int; RENAME TABLE t TO u",
        "ALTER VIEW v AS SELECT 1",
        "RENAME TABLE a TO b garbage",
        "RENAME TABLE a",
        "RENAME USER a TO b",
        "DROP TABLE a b",
        "DROP TABLE a,",
        "DROP INDEX i",
        "CREATE INDEX i (a)",
        "CREATE TEMPORARY INDEX i ON t (a)",
        "TRUNCATE TABLE t; DROP TABLE u",
        "SET STATEMENT a=1 ALTER TABLE t ADD c int",
        "SET STATEMENT a=1 FOR CREATE DATABASE x",
        "CREATE TABLE a.b.c (x int)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = N(bad[i]);
        if (strcmp(got, "!") != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: found %s", bad[i], got);
    }
    /* An unqualified name without a default database. */
    SL_CHECK_STR(names(NULL, "ALTER TABLE t ADD c int", &mariadb), "!");
    SL_CHECK_STR(names("", "DROP TABLE x.t, u", &mariadb), "!");
}

/* Every prefix of these statements, and bytes from a fixed generator:
 * never a crash, an over-read (under ASan) or a result outside the
 * contract (checked by names()). */
SL_TEST(ddl_names_hostile_input) {
    static const char *const stmts[] = {
        "ALTER TABLE `a``b`.\"c\" RENAME TO /*!50000 x.*/y, EXCHANGE "
        "PARTITION p WITH TABLE z.w",
        "SET STATEMENT a=(1,(2)) FOR DROP TEMPORARY TABLE IF EXISTS a, b.c "
        "WAIT 3 RESTRICT;",
        "RENAME TABLE a TO b, c TO d",
        "CREATE /*M!100000 OR REPLACE*/ INDEX i USING HASH ON t(a) -- x",
        "CREATE TABLE t (a enum('x''y','\\'')) COMMENT \"q\"",
    };
    const sl_ddl_opts_t *modes[] = {&mariadb, &mysql57, &ansi, NULL};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        size_t len = strlen(stmts[i]);
        for (size_t n = 0; n <= len; n++) {
            char buf[256];
            memcpy(buf, stmts[i], n);
            buf[n] = '\0';
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
                names((n & 1) ? "d" : NULL, buf, modes[m]);
        }
    }
    static const char alphabet[] = "`'\"./*!-#\n ;,()=TtOoRrAaEeNnWwIi1M\\";
    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        char buf[64];
        size_t n = (size_t)(round % 63);
        static const char *const heads[] = {"ALTER TABLE ",  "DROP TABLE ",
                                            "RENAME TABLE ", "CREATE TABLE ",
                                            "TRUNCATE ",     "",
                                            "SET STATEMENT "};
        const char *head = heads[round % 7];
        size_t h = strlen(head);
        memcpy(buf, head, h);
        for (size_t k = h; k < n + h && k < sizeof buf - 1; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        buf[n + h < sizeof buf - 1 ? n + h : sizeof buf - 1] = '\0';
        names((round & 1) ? "d" : NULL, buf, modes[round % 4]);
    }
}

/* After the parser refused a statement, the history forgets every table
 * the name finder found, and the effect lists them. */
SL_TEST(ddl_names_unreadable_forgets_tables) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 1, 101106, "latin1"));
    char err[256];
    static const char *const setup[] = {"CREATE TABLE t (id int)",
                                        "CREATE TABLE u (id int)",
                                        "CREATE TABLE v (id int)"};
    for (size_t i = 0; i < 3; i++)
        SL_CHECK_OK(sl_schema_apply_ddl(s, "d", setup[i], strlen(setup[i]),
                                        NULL, err, sizeof err));
    const char *sql = "ALTER TABLE t ADD c FROBTYPE(3), EXCHANGE PARTITION p "
                      "WITH TABLE u";
    sl_ddl_effect_t e;
    SL_CHECK_INT(
        sl_schema_apply_ddl(s, "d", sql, strlen(sql), &e, err, sizeof err),
        SL_EUNSUPPORTED);
    SL_CHECK_OK(sl_schema_ddl_unreadable(s, "d", sql, strlen(sql), &e, err,
                                         sizeof err));
    SL_CHECK_UINT(e.ntables, 2);
    SL_CHECK_STR(e.tables[0].table, "t");
    SL_CHECK_STR(e.tables[1].db, "d");
    SL_CHECK_STR(e.tables[1].table, "u");
    sl_ddl_effect_free(&e);
    SL_CHECK(sl_schema_find(s, "d", 1, "t", 1) == NULL);
    SL_CHECK(sl_schema_find(s, "d", 1, "u", 1) == NULL);
    SL_CHECK(sl_schema_find(s, "d", 1, "v", 1) != NULL);

    /* Names that cannot be determined: SL_EUNSUPPORTED with a reason. */
    sql = "CREATE TABLE w (a FROBTYPE); DROP TABLE v";
    SL_CHECK_INT(
        sl_schema_apply_ddl(s, "d", sql, strlen(sql), &e, err, sizeof err),
        SL_EUNSUPPORTED);
    err[0] = '\0';
    SL_CHECK_INT(
        sl_schema_ddl_unreadable(s, "d", sql, strlen(sql), &e, err, sizeof err),
        SL_EUNSUPPORTED);
    SL_CHECK(strstr(err, "unexpected text") != NULL);
    sl_ddl_effect_free(&e);

    /* A statement the parser read whole but that names a table the
     * history lacks: the parser's names stand. */
    sql = "ALTER TABLE missing ADD c int";
    SL_CHECK_INT(
        sl_schema_apply_ddl(s, "d", sql, strlen(sql), &e, err, sizeof err),
        SL_EUNSUPPORTED);
    SL_CHECK_OK(sl_schema_ddl_unreadable(s, "d", sql, strlen(sql), &e, err,
                                         sizeof err));
    SL_CHECK_UINT(e.ntables, 1);
    SL_CHECK_STR(e.tables[0].table, "missing");
    sl_ddl_effect_free(&e);
    sl_schema_free(s);
}

/* Replaying the history from the broker forgets the same tables as
 * capture did live. */
SL_TEST(ddl_names_history_replay_forgets_tables) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    char err[256];
    static const char *const setup[] = {"CREATE TABLE t (id int)",
                                        "CREATE TABLE u (id int)",
                                        "CREATE TABLE v (id int)"};
    for (size_t i = 0; i < 3; i++)
        SL_CHECK_OK(sl_schema_apply_ddl(s, "d", setup[i], strlen(setup[i]),
                                        NULL, err, sizeof err));
    sl_buf_t rec = SL_BUF_INIT;
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000002", 4));
    SL_CHECK_OK(sl_history_snapshot_record(s, "bin.000001", 100, &rec));
    SL_CHECK_OK(sl_history_loader_feed(&ld, rec.data, rec.len));
    const char *sql = "ALTER TABLE t ADD c FROBTYPE(3), EXCHANGE PARTITION p "
                      "WITH TABLE u";
    sl_buf_reset(&rec);
    SL_CHECK_OK(sl_history_ddl_record("bin.000001", 200, "d", 1, sql,
                                      strlen(sql), 0, &rec));
    SL_CHECK_OK(sl_history_loader_feed(&ld, rec.data, rec.len));
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "t", 1) == NULL);
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "u", 1) == NULL);
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "v", 1) != NULL);
    sl_history_loader_free(&ld);
    sl_buf_free(&rec);
    sl_schema_free(s);
}

/* MariaDB logs "SET STATEMENT ... FOR stmt" as written: the statement
 * proper starts after FOR, and live capture and the history replay both
 * apply it from there (before, the parser took it for a SET and the
 * ALTER was lost without an error). */
SL_TEST(ddl_names_set_statement_body) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    SL_CHECK_OK(sl_schema_set_server(s, 1, 101119, "latin1"));
    const char *sql =
        "SET STATEMENT max_statement_time=100, sql_mode=(SELECT 'a') FOR "
        "/* c */ ALTER TABLE x ADD COLUMN z2 INT";
    size_t body = sl_schema_ddl_body(s, sql, strlen(sql));
    SL_CHECK_STR(sql + body, "ALTER TABLE x ADD COLUMN z2 INT");
    static const char *const none[] = {
        "SET @a = 1",
        "SET STATEMENT a=1",
        "ALTER TABLE x ADD c int",
        "",
        "SET STATEMENT a=1 FOR",
        "SET STATEMENT a=1 FOR /*!50000 ALTER */"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        SL_CHECK_UINT(sl_schema_ddl_body(s, none[i], strlen(none[i])), 0);

    char err[256];
    const char *create = "CREATE TABLE x (id int)";
    SL_CHECK_OK(sl_schema_apply_ddl(s, "d", create, strlen(create), NULL, err,
                                    sizeof err));
    sl_buf_t rec = SL_BUF_INIT;
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000002", 4));
    SL_CHECK_OK(sl_history_snapshot_record(s, "bin.000001", 100, &rec));
    SL_CHECK_OK(sl_history_loader_feed(&ld, rec.data, rec.len));
    sl_buf_reset(&rec);
    SL_CHECK_OK(sl_history_ddl_record("bin.000001", 200, "d", 1, sql,
                                      strlen(sql), 0, &rec));
    SL_CHECK_OK(sl_history_loader_feed(&ld, rec.data, rec.len));
    const sl_schema_table_t *t = sl_schema_find(ld.schema, "d", 1, "x", 1);
    SL_CHECK(t != NULL);
    SL_CHECK_UINT(t->ncols, 2);
    SL_CHECK_STR(t->cols[1].name, "z2");
    sl_history_loader_free(&ld);
    sl_buf_free(&rec);
    sl_schema_free(s);
}

/* ---- The parser as the oracle, on every DDL of the fixture binlogs ------ */

typedef struct {
    size_t parsed, compared, unread, unread_found;
    char failure[2048];
} cross_t;

static cross_t *cross;

/* Whenever the parser reads a table statement whole, the name finder must
 * find every table the parser names (the source of LIKE excepted: it is
 * read, not changed), with the same default database. */
static int cross_cb(void *arg, const sl_change_t *chg) {
    cross_t *c = arg;
    if (chg->kind != SL_CHANGE_DDL || chg->sql == NULL)
        return 0;
    char db[256] = "";
    if (chg->db != NULL)
        snprintf(db, sizeof db, "%.*s", (int)chg->db_len, chg->db);
    const char *dflt = db[0] ? db : NULL;
    sl_ddl_stmt_t st;
    int prc = sl_ddl_parse(chg->sql, chg->sql_len, NULL, &st, NULL, 0);
    sl_ddl_effect_t e;
    char err[256];
    int frc = sl_schema_ddl_tables(dflt, chg->sql, chg->sql_len, NULL, &e, err,
                                   sizeof err);
    if (prc != 0) {
        c->unread++;
        c->unread_found += frc == 0;
    } else if (st.kind != SL_DDL_NONE && st.ntables > 0 &&
               (dflt != NULL || st.tables[0].db != NULL)) {
        c->parsed++;
        size_t want = st.kind == SL_DDL_CREATE_TABLE_LIKE ? 1 : st.ntables;
        for (size_t i = 0; i < want && c->failure[0] == '\0'; i++) {
            const char *tdb = st.tables[i].db ? st.tables[i].db : dflt;
            int hit = 0;
            for (size_t k = 0; frc == 0 && k < e.ntables; k++)
                hit |= strcmp(e.tables[k].db, tdb ? tdb : "") == 0 &&
                       strcmp(e.tables[k].table, st.tables[i].table) == 0;
            if (!hit)
                snprintf(c->failure, sizeof c->failure,
                         "%s:%llu: %.300s: the finder misses %s.%s (%s)",
                         chg->file, (unsigned long long)chg->pos, chg->sql,
                         tdb ? tdb : "", st.tables[i].table,
                         frc ? err : "not in its list");
        }
        c->compared += want;
    }
    sl_ddl_effect_free(&e);
    sl_ddl_stmt_free(&st);
    return 0;
}

static int cross_walk_cb(const char *path, const struct stat *sb, int type,
                         struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    sl_binlog_t *dec = NULL;
    if (sl_binlog_new(&dec, NULL, cross_cb, cross) != 0)
        return 1;
    /* Another file (no binlog magic), an encrypted or a cut binlog ends
     * with a decoder error; the statements before it were compared. */
    (void)sl_binlog_read_file(dec, path, 4, 0);
    sl_binlog_free(dec);
    return 0;
}

SL_TEST(ddl_names_agree_with_the_parser_on_fixture_binlogs) {
    const char *root = sl_test_fixtures();
    if (root == NULL)
        SL_SKIP("fixtures directory absent");
    cross_t c;
    memset(&c, 0, sizeof c);
    cross = &c;
    SL_CHECK_INT(nftw(root, cross_walk_cb, 16, FTW_PHYS), 0);
    printf("  fixtures: %zu table statements the parser reads, %zu names "
           "compared; %zu the parser cannot read, names found for %zu\n",
           c.parsed, c.compared, c.unread, c.unread_found);
    if (c.failure[0])
        sl_test_fail(__FILE__, __LINE__, "%s", c.failure);
    SL_CHECK(c.compared >= 100);
}
