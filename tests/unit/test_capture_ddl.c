/* Unit tests for capture/ddl: the tokenizer (every comment, quote and
 * escape form) and the statement parser's raw output. */
#include "capture/schema/ddl.h"
#include "error.h"
#include "sl_test.h"

#include <stdlib.h>

/* Tokenizes sql and renders each token as TYPE:value separated by
 * spaces, for exact comparison. */
static char *lex_all(const char *sql, const sl_ddl_opts_t *opts) {
    static char out[2048];
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    size_t o = 0;
    out[0] = '\0';
    sl_ddl_lex_init(&lx, sql, strlen(sql), opts);
    for (int i = 0; i < 200; i++) {
        int rc = sl_ddl_lex_next(&lx, &tok);
        if (rc != 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%sERR@%zu",
                                  o ? " " : "", tok.off);
            break;
        }
        if (tok.type == SL_DDL_TOK_END)
            break;
        static const char *const names[] = {"END", "ID",  "QID", "STR", "NUM",
                                            "HEX", "BIT", "P",   "ERR"};
        char *v = NULL;
        if (sl_ddl_tok_value(&lx, &tok, &v, NULL) != 0)
            return NULL;
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s", o ? " " : "",
                              names[tok.type], v);
        if (tok.intro_len)
            o += (size_t)snprintf(out + o, sizeof out - o, "/%.*s",
                                  (int)tok.intro_len, sql + tok.intro_off);
        free(v);
    }
    return out;
}

SL_TEST(ddl_lex_words_numbers_punct) {
    SL_CHECK_STR(lex_all("CREATE table t1(a int,b.c)", NULL),
                 "ID:CREATE ID:table ID:t1 P:( ID:a ID:int P:, ID:b P:. ID:c "
                 "P:)");
    SL_CHECK_STR(
        lex_all("12 1.5 1e5 1e+5 .5 1abc 0x1F 0b01 $x caf\xc3\xa9", NULL),
        "NUM:12 NUM:1.5 NUM:1e5 NUM:1e+5 NUM:.5 ID:1abc HEX:0x1F "
        "BIT:0b01 ID:$x ID:caf\xc3\xa9");
    SL_CHECK_STR(lex_all("a<=>b<=c>=d<>e!=f:=g||h->>i->j", NULL),
                 "ID:a P:<=> ID:b P:<= ID:c P:>= ID:d P:<> ID:e P:!= ID:f "
                 "P::= ID:g P:|| ID:h P:->> ID:i P:-> ID:j");
}

SL_TEST(ddl_lex_quotes_and_escapes) {
    SL_CHECK_STR(lex_all("`a``b` 'it''s' 'a\\'b\\\\c\\n' \"dq\"", NULL),
                 "QID:a`b STR:it's STR:a'b\\c\n STR:dq");
    /* \% and \_ keep their backslash, as in MySQL. */
    SL_CHECK_STR(lex_all("'\\%\\_\\x'", NULL), "STR:\\%\\_x");
    SL_CHECK_STR(lex_all("_utf8mb4'x' _latin1 'y' N'z' X'41' b'01'", NULL),
                 "STR:x/utf8mb4 STR:y/latin1 STR:z HEX:41 BIT:01");
    /* A backquoted name never treats backslash as an escape. */
    SL_CHECK_STR(lex_all("`a\\` x", NULL), "QID:a\\ ID:x");
    sl_ddl_opts_t ansi = {0, 0, SL_DDL_MODE_ANSI_QUOTES};
    SL_CHECK_STR(lex_all("\"a\"\"b\" 'c'", &ansi), "QID:a\"b STR:c");
    sl_ddl_opts_t nobs = {0, 0, SL_DDL_MODE_NO_BACKSLASH_ESCAPES};
    SL_CHECK_STR(lex_all("'a\\' 'b'", &nobs), "STR:a\\ STR:b");
}

SL_TEST(ddl_lex_comments) {
    SL_CHECK_STR(lex_all("a /* x */ b -- c\nd #e\nf --g", NULL),
                 "ID:a ID:b ID:d ID:f P:- P:- ID:g");
    SL_CHECK_STR(lex_all("a --\tc\nb --", NULL), "ID:a ID:b");
    SL_CHECK_STR(lex_all("a/**/b", NULL), "ID:a ID:b");
}

SL_TEST(ddl_lex_versioned_comments) {
    sl_ddl_opts_t my57 = {0, 50744, 0}, maria = {1, 101106, 0};
    const char *sql = "a /*!50100 b */ c /*!80023 d */ e /*M!100100 f */ g "
                      "/*!*/ h";
    SL_CHECK_STR(lex_all(sql, NULL), "ID:a ID:b ID:c ID:d ID:e ID:f ID:g ID:h");
    SL_CHECK_STR(lex_all(sql, &my57), "ID:a ID:b ID:c ID:e ID:g ID:h");
    SL_CHECK_STR(lex_all(sql, &maria), "ID:a ID:b ID:c ID:d ID:e ID:f ID:g "
                                       "ID:h");
    SL_CHECK_STR(lex_all("DROP /*!40005 TEMPORARY */ TABLE", &my57),
                 "ID:DROP ID:TEMPORARY ID:TABLE");
}

SL_TEST(ddl_lex_unterminated_is_error) {
    SL_CHECK_STR(lex_all("a 'bc", NULL), "ID:a ERR@2");
    SL_CHECK_STR(lex_all("a `bc", NULL), "ID:a ERR@2");
    SL_CHECK_STR(lex_all("a /* bc", NULL), "ID:a ERR@2");
    SL_CHECK_STR(lex_all("'a\\", NULL), "ERR@0");
}

SL_TEST(ddl_parse_create_table_raw) {
    sl_ddl_stmt_t st;
    char err[256];
    const char *sql =
        "CREATE TABLE IF NOT EXISTS `shop`.`t` (id INT UNSIGNED NOT NULL "
        "AUTO_INCREMENT, name VARCHAR(20) CHARACTER SET latin1 COLLATE "
        "latin1_bin DEFAULT 'x' COMMENT 'c', PRIMARY KEY (id), KEY k (name)) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
    SL_CHECK_OK(sl_ddl_parse(sql, strlen(sql), NULL, &st, err, sizeof err));
    SL_CHECK_INT(st.kind, SL_DDL_CREATE_TABLE);
    SL_CHECK_INT(st.if_not_exists, 1);
    SL_CHECK_INT(st.ntables, 1);
    SL_CHECK_STR(st.tables[0].db, "shop");
    SL_CHECK_STR(st.tables[0].table, "t");
    SL_CHECK_INT(st.ncols, 2);
    SL_CHECK_STR(st.cols[0].column_type, "int(10) unsigned");
    SL_CHECK_INT(st.cols[0].not_null, 1);
    SL_CHECK_STR(st.cols[1].charset, "latin1");
    SL_CHECK_STR(st.cols[1].collation, "latin1_bin");
    SL_CHECK_INT(st.npk, 1);
    SL_CHECK_STR(st.pk[0], "id");
    SL_CHECK_STR(st.charset, "utf8mb4");
    sl_ddl_stmt_free(&st);
}

SL_TEST(ddl_parse_alter_actions_raw) {
    sl_ddl_stmt_t st;
    char err[256];
    const char *sql =
        "ALTER TABLE t ADD COLUMN c INT FIRST, DROP COLUMN IF EXISTS d, "
        "MODIFY e TEXT AFTER c, CHANGE f g BIGINT, RENAME COLUMN h TO i, "
        "ADD PRIMARY KEY (a, b), DROP PRIMARY KEY, ALGORITHM=INPLACE, "
        "LOCK=NONE, RENAME TO db2.t2";
    SL_CHECK_OK(sl_ddl_parse(sql, strlen(sql), NULL, &st, err, sizeof err));
    SL_CHECK_INT(st.kind, SL_DDL_ALTER_TABLE);
    SL_CHECK_INT(st.nacts, 8);
    SL_CHECK_INT(st.acts[0].kind, SL_DDL_ACT_ADD_COLUMN);
    SL_CHECK_INT(st.acts[0].pos, SL_DDL_POS_FIRST);
    SL_CHECK_INT(st.acts[1].kind, SL_DDL_ACT_DROP_COLUMN);
    SL_CHECK_INT(st.acts[1].if_exists, 1);
    SL_CHECK_INT(st.acts[2].kind, SL_DDL_ACT_MODIFY_COLUMN);
    SL_CHECK_STR(st.acts[2].after, "c");
    SL_CHECK_STR(st.acts[3].name, "f");
    SL_CHECK_STR(st.acts[3].col.name, "g");
    SL_CHECK_STR(st.acts[4].name2, "i");
    SL_CHECK_INT(st.acts[5].nnames, 2);
    SL_CHECK_INT(st.acts[6].kind, SL_DDL_ACT_DROP_PK);
    SL_CHECK_INT(st.acts[7].kind, SL_DDL_ACT_RENAME_TABLE);
    SL_CHECK_STR(st.acts[7].db, "db2");
    /* The renamed-to table is named too. */
    SL_CHECK_INT(st.ntables, 2);
    SL_CHECK_STR(st.tables[1].table, "t2");
    sl_ddl_stmt_free(&st);
}

SL_TEST(ddl_parse_errors_name_offset) {
    sl_ddl_stmt_t st;
    char err[256];
    const char *sql = "ALTER TABLE d.t ADD COLUMN x FROBNICATE(3)";
    SL_CHECK_INT(sl_ddl_parse(sql, strlen(sql), NULL, &st, err, sizeof err),
                 SL_EUNSUPPORTED);
    SL_CHECK(strstr(err, "unknown column type at offset 29") != NULL);
    SL_CHECK_INT(st.ntables, 1);
    SL_CHECK_STR(st.tables[0].table, "t");
    sl_ddl_stmt_free(&st);
    sql = "CREATE TABLE t (a INT";
    SL_CHECK_INT(sl_ddl_parse(sql, strlen(sql), NULL, &st, err, sizeof err),
                 SL_EUNSUPPORTED);
    SL_CHECK(strstr(err, "end of statement") != NULL);
    sl_ddl_stmt_free(&st);
}

SL_TEST(ddl_parse_non_ddl_is_none) {
    const char *stmts[] = {
        "BEGIN",
        "COMMIT",
        "INSERT INTO t VALUES (1)",
        "GRANT ALL ON *.* TO x",
        "CREATE VIEW v AS SELECT 1",
        "CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR "
        "EACH ROW SET NEW.a = 1",
        "CREATE OR REPLACE ALGORITHM=MERGE VIEW v AS SELECT * FROM t",
        "CREATE PROCEDURE p() BEGIN CREATE TABLE x (a int); END",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
        "ALTER VIEW v AS SELECT 2",
        "DROP VIEW v",
        "DROP PROCEDURE IF EXISTS p",
        "RENAME USER a TO b",
        "ANALYZE TABLE t",
        "OPTIMIZE TABLE t",
        "FLUSH TABLES",
        "SET @a = 1",
        "SAVEPOINT s",
        "",
        "   ",
        "/* only a comment */",
        "CREATE SPATIAL REFERENCE SYSTEM 1 NAME 'x'"};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sl_ddl_stmt_t st;
        char err[256];
        int rc = sl_ddl_parse(stmts[i], strlen(stmts[i]), NULL, &st, err,
                              sizeof err);
        if (rc != 0 || st.kind != SL_DDL_NONE)
            sl_test_fail(__FILE__, __LINE__, "%s: rc %d kind %d (%s)", stmts[i],
                         rc, st.kind, err);
        sl_ddl_stmt_free(&st);
    }
}
