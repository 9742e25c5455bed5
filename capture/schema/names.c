/*
 * The tables a DDL statement may affect, found without the grammar (see
 * sl_schema_ddl_tables in schema.h).
 *
 * When the parser (ddl.c) cannot read a statement, capture must still
 * know which tables it touches: a statement about tables it does not
 * capture is passed over, one about a captured table stops it. The parser
 * may have stopped before the table name, or before a second table later
 * in the statement (ALTER ... EXCHANGE PARTITION p WITH TABLE t2), so this
 * file reads only the skeleton of the statements that change tables, with
 * the same tokenizer (lexer.h) and therefore the same rules for comments,
 * executable comments, quotes and sql_mode:
 *
 *   [SET STATEMENT ... FOR]
 *   CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t ...
 *   CREATE [OR REPLACE] SEQUENCE [IF NOT EXISTS] t ...
 *   CREATE [OR REPLACE] [ONLINE|OFFLINE] [UNIQUE|FULLTEXT|SPATIAL|VECTOR]
 *          INDEX [IF NOT EXISTS] i [USING x|TYPE x] ON t ...
 *   ALTER [ONLINE|OFFLINE] [IGNORE] TABLE [IF EXISTS] t ...
 *   ALTER SEQUENCE [IF EXISTS] t ...
 *   RENAME TABLE[S] [IF EXISTS] a [WAIT n|NOWAIT] TO b [, c TO d ...]
 *   DROP [TEMPORARY] TABLE[S]|SEQUENCE [IF EXISTS] a [, b ...]
 *        [WAIT n|NOWAIT] [RESTRICT|CASCADE] [FORCE]
 *   DROP INDEX [ONLINE|OFFLINE] [IF EXISTS] i ON t ...
 *   TRUNCATE [TABLE] t ...
 *
 * where a name is [db.]t, .t, bare or quoted. Inside the rest of ALTER
 * TABLE the clauses that name another table are found anywhere:
 * RENAME [TO|AS|=] t2 (not RENAME COLUMN/INDEX/KEY/CONSTRAINT),
 * EXCHANGE PARTITION p WITH TABLE t2, CONVERT TABLE t2 TO PARTITION p and
 * CONVERT PARTITION p TO TABLE t2. Tables a statement only reads (LIKE,
 * SELECT, REFERENCES, UNION=) are not affected and not listed.
 *
 * Anything else is "cannot be determined": another verb (databases,
 * IMPORT TABLE), a statement that does not tokenize, a missing name, an
 * unqualified name without a default database, text after a DROP or
 * RENAME list, or a second statement after ';'. The caller then stops
 * rather than guess.
 *
 * Bounds: every step consumes a token, tokens never read past sql + len,
 * and nothing recurses, so hostile input cannot crash, hang or overflow
 * the stack (tests/fuzz/fuzz_capture_ddl_names.c).
 */
#include "internal.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok; /* The current token. */
    int rc;           /* Sticky: the first failure. */
    const char *default_db;
    sl_ddl_effect_t *out;
    char *err;
    size_t errlen;
} finder_t;

static int fail(finder_t *f, int rc, const char *what) {
    if (f->rc != 0)
        return f->rc;
    f->rc = rc;
    if (f->err == NULL || f->errlen == 0)
        return rc;
    if (rc == SL_ENOMEM) {
        snprintf(f->err, f->errlen, "out of memory");
        return rc;
    }
    size_t off = f->tok.off, n = f->lx.len - off;
    char near[25];
    if (n > sizeof near - 1)
        n = sizeof near - 1;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)f->lx.sql[off + k];
        near[k] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    near[n] = '\0';
    if (f->tok.type == SL_DDL_TOK_END)
        snprintf(f->err, f->errlen, "%s at offset %zu (end of statement)", what,
                 off);
    else
        snprintf(f->err, f->errlen, "%s at offset %zu near '%s'", what, off,
                 near);
    return rc;
}

static void advance(finder_t *f) {
    if (f->rc != 0) {
        f->tok.type = SL_DDL_TOK_END;
        return;
    }
    if (sl_ddl_lex_next(&f->lx, &f->tok) != 0)
        fail(f, SL_EUNSUPPORTED, "unterminated quote or comment");
}

static int at_end(const finder_t *f) {
    return f->rc != 0 || f->tok.type == SL_DDL_TOK_END;
}

static int kw(const finder_t *f, const char *word) {
    return f->tok.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(f->lx.sql + f->tok.off, f->tok.len, word);
}

static int accept_kw(finder_t *f, const char *word) {
    if (!kw(f, word))
        return 0;
    advance(f);
    return 1;
}

static int punct(const finder_t *f, char c) {
    return f->tok.type == SL_DDL_TOK_PUNCT && f->tok.len == 1 &&
           f->lx.sql[f->tok.off] == c;
}

static int accept_punct(finder_t *f, char c) {
    if (!punct(f, c))
        return 0;
    advance(f);
    return 1;
}

/* The word after the current token is `word` (one token of look-ahead,
 * on a copy of the lexer). */
static int peek_kw(const finder_t *f, const char *word) {
    sl_ddl_lexer_t lx = f->lx;
    sl_ddl_tok_t t;
    return sl_ddl_lex_next(&lx, &t) == 0 && t.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(lx.sql + t.off, t.len, word);
}

static void accept_if_exists(finder_t *f) {
    if (kw(f, "IF") && peek_kw(f, "EXISTS")) {
        advance(f);
        advance(f);
    }
}

static void accept_if_not_exists(finder_t *f) {
    if (kw(f, "IF") && peek_kw(f, "NOT")) {
        advance(f);
        advance(f);
        accept_kw(f, "EXISTS");
    }
}

/* MariaDB's WAIT n / NOWAIT after a table name. */
static void accept_wait(finder_t *f) {
    if (kw(f, "WAIT")) {
        advance(f);
        if (f->tok.type == SL_DDL_TOK_NUMBER)
            advance(f);
    } else {
        accept_kw(f, "NOWAIT");
    }
}

static int is_name_tok(const finder_t *f) {
    return f->tok.type == SL_DDL_TOK_IDENT || f->tok.type == SL_DDL_TOK_QIDENT;
}

/* Adds db.table to the effect unless it is there already. Takes
 * ownership of both strings. */
static int add_owned(sl_ddl_effect_t *e, char *db, char *table) {
    for (size_t i = 0; i < e->ntables; i++) {
        if (strcmp(e->tables[i].db, db) == 0 &&
            strcmp(e->tables[i].table, table) == 0) {
            free(db);
            free(table);
            return 0;
        }
    }
    sl_ddl_effect_table_t *a = realloc(e->tables, (e->ntables + 1) * sizeof *a);
    if (a == NULL) {
        free(db);
        free(table);
        return SL_ENOMEM;
    }
    e->tables = a;
    a[e->ntables].db = db;
    a[e->ntables].table = table;
    e->ntables++;
    return 0;
}

/* Reads a table name ([db.]t or .t) and adds it to the effect, with the
 * statement's default database when it has no qualifier. */
static int table_name(finder_t *f) {
    char *first = NULL, *second = NULL;
    int leading_dot = accept_punct(f, '.');
    if (!is_name_tok(f))
        return fail(f, SL_EUNSUPPORTED, "expected a table name");
    if (sl_ddl_tok_value(&f->lx, &f->tok, &first, NULL) != 0)
        return fail(f, SL_ENOMEM, "");
    advance(f);
    if (!leading_dot && punct(f, '.')) {
        advance(f);
        if (!is_name_tok(f)) {
            free(first);
            return fail(f, SL_EUNSUPPORTED, "expected a table name");
        }
        if (sl_ddl_tok_value(&f->lx, &f->tok, &second, NULL) != 0) {
            free(first);
            return fail(f, SL_ENOMEM, "");
        }
        advance(f);
        if (punct(f, '.')) {
            free(first);
            free(second);
            return fail(f, SL_EUNSUPPORTED, "a name of more than two parts");
        }
    }
    char *db = second ? first : NULL, *table = second ? second : first;
    if (db == NULL) {
        if (f->default_db == NULL) {
            free(table);
            return fail(f, SL_EUNSUPPORTED,
                        "a table name without a database and no default "
                        "database");
        }
        db = strdup(f->default_db);
    }
    if (db == NULL || table[0] == '\0' || db[0] == '\0') {
        int oom = db == NULL;
        free(db);
        free(table);
        return oom ? fail(f, SL_ENOMEM, "")
                   : fail(f, SL_EUNSUPPORTED, "an empty name");
    }
    if (add_owned(f->out, db, table) != 0)
        return fail(f, SL_ENOMEM, "");
    return f->rc;
}

/* The end of a statement whose whole shape was read: nothing, or ';'. */
static int expect_end(finder_t *f) {
    accept_punct(f, ';');
    if (!at_end(f))
        return fail(f, SL_EUNSUPPORTED, "unexpected text");
    return f->rc;
}

/* Reads the rest of a statement whose names are all known from its head,
 * only to make sure it is one statement that tokenizes. */
static int skip_rest(finder_t *f) {
    while (!at_end(f)) {
        if (punct(f, ';')) {
            advance(f);
            return expect_end(f);
        }
        advance(f);
    }
    return f->rc;
}

/* The rest of ALTER TABLE t: every clause that names another table. */
static int alter_rest(finder_t *f) {
    while (!at_end(f)) {
        if (punct(f, ';')) {
            advance(f);
            return expect_end(f);
        }
        if (accept_kw(f, "RENAME")) {
            if (kw(f, "COLUMN") || kw(f, "INDEX") || kw(f, "KEY") ||
                kw(f, "CONSTRAINT"))
                continue;
            if (!accept_kw(f, "TO") && !accept_kw(f, "AS"))
                accept_punct(f, '=');
            if (table_name(f) != 0)
                return f->rc;
        } else if (kw(f, "EXCHANGE") && peek_kw(f, "PARTITION")) {
            /* EXCHANGE PARTITION p WITH TABLE t2 */
            advance(f);
            advance(f);
            if (!is_name_tok(f))
                return fail(f, SL_EUNSUPPORTED, "expected a partition name");
            advance(f);
            if (!accept_kw(f, "WITH") || !accept_kw(f, "TABLE"))
                return fail(f, SL_EUNSUPPORTED, "expected WITH TABLE");
            if (table_name(f) != 0)
                return f->rc;
        } else if (accept_kw(f, "CONVERT")) {
            if (accept_kw(f, "TABLE")) {
                /* CONVERT TABLE t2 TO PARTITION p */
                if (table_name(f) != 0)
                    return f->rc;
            } else if (accept_kw(f, "PARTITION")) {
                /* CONVERT PARTITION p TO TABLE t2 */
                if (!is_name_tok(f))
                    return fail(f, SL_EUNSUPPORTED,
                                "expected a partition name");
                advance(f);
                if (!accept_kw(f, "TO") || !accept_kw(f, "TABLE"))
                    return fail(f, SL_EUNSUPPORTED, "expected TO TABLE");
                if (table_name(f) != 0)
                    return f->rc;
            }
        } else {
            advance(f);
        }
    }
    return f->rc;
}

/* A comma-separated list of names (DROP TABLE/SEQUENCE). */
static int name_list(finder_t *f) {
    do {
        if (table_name(f) != 0)
            return f->rc;
    } while (accept_punct(f, ','));
    return f->rc;
}

/* CREATE/DROP INDEX from the index name on: i [USING x|TYPE x] ON t ... */
static int index_on(finder_t *f) {
    if (!is_name_tok(f))
        return fail(f, SL_EUNSUPPORTED, "expected an index name");
    advance(f);
    if (accept_kw(f, "USING") || accept_kw(f, "TYPE"))
        advance(f);
    if (!accept_kw(f, "ON"))
        return fail(f, SL_EUNSUPPORTED, "expected ON");
    if (table_name(f) != 0)
        return f->rc;
    return skip_rest(f);
}

static int stmt_create(finder_t *f) {
    if (kw(f, "OR") && peek_kw(f, "REPLACE")) {
        advance(f);
        advance(f);
    }
    int index_like = 0;
    for (int guard = 0; guard < 8; guard++) {
        if (accept_kw(f, "TEMPORARY")) {
            f->out->temporary = 1;
        } else if (accept_kw(f, "ONLINE") || accept_kw(f, "OFFLINE") ||
                   accept_kw(f, "UNIQUE") || accept_kw(f, "FULLTEXT") ||
                   accept_kw(f, "SPATIAL") || accept_kw(f, "VECTOR")) {
            index_like = 1;
        } else {
            break;
        }
    }
    if (!index_like && (kw(f, "TABLE") || kw(f, "SEQUENCE"))) {
        f->out->kind =
            kw(f, "TABLE") ? SL_DDL_CREATE_TABLE : SL_DDL_OTHER_TABLE;
        advance(f);
        accept_if_not_exists(f);
        if (table_name(f) != 0)
            return f->rc;
        return skip_rest(f);
    }
    if (!f->out->temporary && accept_kw(f, "INDEX")) {
        f->out->kind = SL_DDL_CREATE_INDEX;
        accept_if_not_exists(f);
        return index_on(f);
    }
    return fail(f, SL_EUNSUPPORTED, "not a CREATE TABLE, SEQUENCE or INDEX");
}

static int stmt_alter(finder_t *f) {
    for (int guard = 0; guard < 8; guard++)
        if (!accept_kw(f, "ONLINE") && !accept_kw(f, "OFFLINE") &&
            !accept_kw(f, "IGNORE"))
            break;
    int table = kw(f, "TABLE");
    if (!table && !kw(f, "SEQUENCE"))
        return fail(f, SL_EUNSUPPORTED, "not an ALTER TABLE or SEQUENCE");
    f->out->kind = table ? SL_DDL_ALTER_TABLE : SL_DDL_OTHER_TABLE;
    advance(f);
    accept_if_exists(f);
    if (table_name(f) != 0)
        return f->rc;
    return table ? alter_rest(f) : skip_rest(f);
}

static int stmt_drop(finder_t *f) {
    if (accept_kw(f, "TEMPORARY")) {
        f->out->temporary = 1;
        if (!kw(f, "TABLE") && !kw(f, "TABLES") && !kw(f, "SEQUENCE"))
            return fail(f, SL_EUNSUPPORTED, "expected TABLE or SEQUENCE");
    }
    if (accept_kw(f, "TABLE") || accept_kw(f, "TABLES") ||
        accept_kw(f, "SEQUENCE")) {
        f->out->kind = SL_DDL_DROP_TABLE;
        accept_if_exists(f);
        if (name_list(f) != 0)
            return f->rc;
        accept_wait(f);
        if (!accept_kw(f, "RESTRICT"))
            accept_kw(f, "CASCADE");
        accept_kw(f, "FORCE");
        return expect_end(f);
    }
    if (accept_kw(f, "INDEX")) {
        f->out->kind = SL_DDL_DROP_INDEX;
        if (!accept_kw(f, "ONLINE"))
            accept_kw(f, "OFFLINE");
        accept_if_exists(f);
        return index_on(f);
    }
    return fail(f, SL_EUNSUPPORTED, "not a DROP TABLE, SEQUENCE or INDEX");
}

static int stmt_rename(finder_t *f) {
    if (!accept_kw(f, "TABLE") && !accept_kw(f, "TABLES"))
        return fail(f, SL_EUNSUPPORTED, "not a RENAME TABLE");
    f->out->kind = SL_DDL_RENAME_TABLE;
    do {
        accept_if_exists(f);
        if (table_name(f) != 0)
            return f->rc;
        accept_wait(f);
        if (!accept_kw(f, "TO"))
            return fail(f, SL_EUNSUPPORTED, "expected TO");
        if (table_name(f) != 0)
            return f->rc;
    } while (accept_punct(f, ','));
    return expect_end(f);
}

static int stmt_truncate(finder_t *f) {
    accept_kw(f, "TABLE");
    f->out->kind = SL_DDL_TRUNCATE_TABLE;
    if (table_name(f) != 0)
        return f->rc;
    return skip_rest(f); /* WAIT n, PARTITION (...): one table only. */
}

/* MariaDB's SET STATEMENT var = value [, ...] FOR statement: the
 * statement is what follows the first FOR outside parentheses. */
static int skip_set_statement(finder_t *f) {
    int depth = 0;
    while (!at_end(f)) {
        if (punct(f, '('))
            depth++;
        else if (punct(f, ')') && depth > 0)
            depth--;
        else if (depth == 0 && kw(f, "FOR")) {
            advance(f);
            return f->rc;
        }
        advance(f);
    }
    return fail(f, SL_EUNSUPPORTED, "SET STATEMENT without FOR");
}

int sl_schema_ddl_tables(const char *default_db, const char *sql, size_t len,
                         const sl_ddl_opts_t *opts, sl_ddl_effect_t *out,
                         char *err, size_t errlen) {
    finder_t f;
    memset(&f, 0, sizeof f);
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    f.default_db = default_db && default_db[0] ? default_db : NULL;
    f.out = out;
    f.err = err;
    f.errlen = errlen;
    sl_ddl_lex_init(&f.lx, sql, len, opts);
    advance(&f);
    if (kw(&f, "SET") && peek_kw(&f, "STATEMENT")) {
        advance(&f);
        advance(&f);
        skip_set_statement(&f);
    }
    if (f.rc != 0)
        ;
    else if (accept_kw(&f, "CREATE"))
        stmt_create(&f);
    else if (accept_kw(&f, "ALTER"))
        stmt_alter(&f);
    else if (accept_kw(&f, "DROP"))
        stmt_drop(&f);
    else if (accept_kw(&f, "RENAME"))
        stmt_rename(&f);
    else if (accept_kw(&f, "TRUNCATE"))
        stmt_truncate(&f);
    else
        fail(&f, SL_EUNSUPPORTED, "not a statement about named tables");
    if (f.rc == 0 && out->ntables == 0)
        fail(&f, SL_EUNSUPPORTED, "no table name");
    return f.rc;
}

size_t sl_schema_ddl_body(const sl_schema_t *s, const char *sql, size_t len) {
    finder_t f;
    memset(&f, 0, sizeof f);
    sl_ddl_lex_init(&f.lx, sql, len, &s->opts);
    advance(&f);
    if (!kw(&f, "SET") || !peek_kw(&f, "STATEMENT"))
        return 0;
    advance(&f);
    advance(&f);
    /* The current token is the statement's first. An executable comment
     * open there would be lost by starting over, so the prefix is then
     * kept (the parser fails closed on it). */
    if (skip_set_statement(&f) != 0 || at_end(&f) || f.lx.exec_depth != 0)
        return 0;
    return f.tok.off;
}

int sl_schema_ddl_unreadable(sl_schema_t *s, const char *default_db,
                             const char *sql, size_t len,
                             sl_ddl_effect_t *effect, char *err,
                             size_t errlen) {
    sl_ddl_effect_t found;
    if (default_db && default_db[0] == '\0')
        default_db = NULL;
    int rc = sl_schema_ddl_tables(default_db, sql, len, &s->opts, &found, err,
                                  errlen);
    if (rc == SL_EUNSUPPORTED) {
        /* The parser may still have read the whole statement (it failed
         * on the history, not the grammar): then its names are all. */
        sl_ddl_stmt_t st;
        int prc = sl_ddl_parse(sql, len, &s->opts, &st, NULL, 0);
        sl_ddl_stmt_free(&st);
        if (prc == 0)
            rc = 0;
    }
    /* The statement's effect on these tables is unknown: forget them, as
     * sl_schema_apply_ddl does with those it named. */
    for (size_t i = 0; i < found.ntables && rc != SL_ENOMEM; i++) {
        sl_schema_drop(s, found.tables[i].db, found.tables[i].table);
        if (effect == NULL)
            continue;
        char *db = strdup(found.tables[i].db);
        char *table = strdup(found.tables[i].table);
        if (db == NULL || table == NULL) {
            free(db);
            free(table);
            rc = SL_ENOMEM;
        } else if (add_owned(effect, db, table) != 0) {
            rc = SL_ENOMEM;
        }
    }
    if (rc == SL_ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory");
    sl_ddl_effect_free(&found);
    return rc;
}
