/*
 * The DDL parser (see ddl.h for the contract and docs/schema-history.md
 * for the statements understood): its state and token helpers, the pieces
 * of grammar the statements share (names, skipping, keys, table options),
 * CREATE TABLE and the other statements. Column definitions are in
 * ddl_column.c, ALTER TABLE in ddl_alter.c, the tokenizer in lexer.c.
 */
#include "ddl_int.h"

#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- Parser state ------------------------------------------------------- */

int sl__ddl_fail(sl__ddl_parser_t *p, int rc, const char *fmt, ...) {
    if (p->rc != 0)
        return p->rc;
    p->rc = rc;
    if (p->err && p->errlen) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (rc == SL_ENOMEM) {
            snprintf(p->err, p->errlen, "out of memory");
        } else {
            size_t off = p->tok.off, n = p->lx.len - off;
            if (n > 24)
                n = 24;
            char near[25];
            size_t k;
            for (k = 0; k < n; k++) {
                unsigned char c = (unsigned char)p->lx.sql[off + k];
                near[k] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
            }
            near[k] = '\0';
            if (p->tok.type == SL_DDL_TOK_END)
                snprintf(p->err, p->errlen,
                         "%s at offset %zu (end of "
                         "statement)",
                         what, off);
            else
                snprintf(p->err, p->errlen, "%s at offset %zu near '%s'", what,
                         off, near);
        }
    }
    return rc;
}

int sl__ddl_at_end(const sl__ddl_parser_t *p) {
    return p->rc != 0 || p->tok.type == SL_DDL_TOK_END ||
           p->tok.type == SL_DDL_TOK_ERROR;
}

void sl__ddl_advance(sl__ddl_parser_t *p) {
    if (p->tok.type == SL_DDL_TOK_ERROR)
        return;
    if (sl_ddl_lex_next(&p->lx, &p->tok) != 0)
        sl__ddl_fail(p, SL_EUNSUPPORTED, "unterminated quote or comment");
}

int sl__ddl_kw(const sl__ddl_parser_t *p, const char *word) {
    return p->tok.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(p->lx.sql + p->tok.off, p->tok.len, word);
}

int sl__ddl_accept_kw(sl__ddl_parser_t *p, const char *word) {
    if (!sl__ddl_kw(p, word))
        return 0;
    sl__ddl_advance(p);
    return 1;
}

int sl__ddl_punct(const sl__ddl_parser_t *p, char c) {
    return p->tok.type == SL_DDL_TOK_PUNCT && p->tok.len == 1 &&
           p->lx.sql[p->tok.off] == c;
}

int sl__ddl_accept_punct(sl__ddl_parser_t *p, char c) {
    if (!sl__ddl_punct(p, c))
        return 0;
    sl__ddl_advance(p);
    return 1;
}

int sl__ddl_expect_kw(sl__ddl_parser_t *p, const char *word) {
    if (sl__ddl_accept_kw(p, word))
        return 0;
    return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected %s", word);
}

int sl__ddl_expect_punct(sl__ddl_parser_t *p, char c) {
    if (sl__ddl_accept_punct(p, c))
        return 0;
    return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected '%c'", c);
}

sl_ddl_tok_t sl__ddl_peek(const sl__ddl_parser_t *p) {
    sl_ddl_lexer_t copy = p->lx;
    sl_ddl_tok_t t;
    if (sl_ddl_lex_next(&copy, &t) != 0)
        t.type = SL_DDL_TOK_ERROR;
    return t;
}

int sl__ddl_peek_kw(const sl__ddl_parser_t *p, const char *word) {
    sl_ddl_tok_t t = sl__ddl_peek(p);
    return t.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(p->lx.sql + t.off, t.len, word);
}

static char *tok_dup(sl__ddl_parser_t *p) {
    char *v = NULL;
    if (sl_ddl_tok_value(&p->lx, &p->tok, &v, NULL) != 0) {
        sl__ddl_fail(p, SL_ENOMEM, "out of memory");
        return NULL;
    }
    return v;
}

void sl__ddl_lower_str(char *s) {
    for (; s && *s; s++)
        *s = (char)lower((unsigned char)*s);
}

char *sl__ddl_parse_ident(sl__ddl_parser_t *p) {
    if (p->tok.type != SL_DDL_TOK_IDENT && p->tok.type != SL_DDL_TOK_QIDENT) {
        sl__ddl_fail(p, SL_EUNSUPPORTED, "expected a name");
        return NULL;
    }
    char *v = tok_dup(p);
    if (v)
        sl__ddl_advance(p);
    return v;
}

char *sl__ddl_parse_cs_name(sl__ddl_parser_t *p) {
    sl__ddl_accept_punct(p, '=');
    if (p->tok.type != SL_DDL_TOK_IDENT && p->tok.type != SL_DDL_TOK_QIDENT &&
        p->tok.type != SL_DDL_TOK_STRING) {
        sl__ddl_fail(p, SL_EUNSUPPORTED,
                     "expected a charset or collation name");
        return NULL;
    }
    char *v = tok_dup(p);
    if (v) {
        sl__ddl_lower_str(v);
        sl__ddl_advance(p);
    }
    return v;
}

int sl__ddl_parse_table_name(sl__ddl_parser_t *p, char **db, char **table) {
    *db = NULL;
    *table = sl__ddl_parse_ident(p);
    if (*table == NULL)
        return p->rc;
    if (sl__ddl_punct(p, '.')) {
        sl__ddl_advance(p);
        *db = *table;
        *table = sl__ddl_parse_ident(p);
        if (*table == NULL)
            return p->rc;
    }
    return 0;
}

int sl__ddl_push_name(sl__ddl_parser_t *p, char *db, char *table) {
    sl_ddl_stmt_t *st = p->st;
    sl_ddl_name_t *n = realloc(st->tables, (st->ntables + 1) * sizeof *n);
    if (n == NULL) {
        free(db);
        free(table);
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    }
    st->tables = n;
    n[st->ntables].db = db;
    n[st->ntables].table = table;
    n[st->ntables].if_exists = 0;
    st->ntables++;
    return 0;
}

int sl__ddl_table_ref(sl__ddl_parser_t *p) {
    char *db = NULL, *table = NULL;
    if (sl__ddl_parse_table_name(p, &db, &table) != 0) {
        free(db);
        free(table);
        return p->rc;
    }
    return sl__ddl_push_name(p, db, table);
}

int sl__ddl_push_str(sl__ddl_parser_t *p, char ***arr, size_t *n, char *s) {
    if (s == NULL)
        return p->rc ? p->rc : sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (a == NULL) {
        free(s);
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    }
    a[(*n)++] = s;
    *arr = a;
    return 0;
}

int sl__ddl_skip_parens(sl__ddl_parser_t *p) {
    if (sl__ddl_expect_punct(p, '(') != 0)
        return p->rc;
    size_t depth = 1;
    while (!sl__ddl_at_end(p) && depth > 0) {
        if (sl__ddl_punct(p, '('))
            depth++;
        else if (sl__ddl_punct(p, ')'))
            depth--;
        sl__ddl_advance(p);
    }
    if (depth > 0)
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "unbalanced parentheses");
    return p->rc;
}

int sl__ddl_skip_element(sl__ddl_parser_t *p) {
    while (!sl__ddl_at_end(p) && !sl__ddl_punct(p, ',') &&
           !sl__ddl_punct(p, ')')) {
        if (sl__ddl_punct(p, '(')) {
            if (sl__ddl_skip_parens(p) != 0)
                return p->rc;
        } else {
            sl__ddl_advance(p);
        }
    }
    return p->rc;
}

void sl__ddl_skip_wait(sl__ddl_parser_t *p) {
    if (sl__ddl_accept_kw(p, "WAIT"))
        sl__ddl_advance(p);
    else
        sl__ddl_accept_kw(p, "NOWAIT");
}

void sl__ddl_skip_to_end(sl__ddl_parser_t *p) {
    while (!sl__ddl_at_end(p))
        sl__ddl_advance(p);
}

static int is_operator(const sl__ddl_parser_t *p) {
    if (p->tok.type == SL_DDL_TOK_PUNCT) {
        char c = p->lx.sql[p->tok.off];
        if (p->tok.len > 1)
            return 1;
        return strchr("+-*/%|&^<>=", c) != NULL;
    }
    return sl__ddl_kw(p, "DIV") || sl__ddl_kw(p, "MOD");
}

int sl__ddl_skip_value_expr(sl__ddl_parser_t *p) {
    for (int guard = 0; guard < 10000 && !sl__ddl_at_end(p); guard++) {
        while (sl__ddl_punct(p, '-') || sl__ddl_punct(p, '+') ||
               sl__ddl_punct(p, '~') || sl__ddl_punct(p, '!'))
            sl__ddl_advance(p);
        if (sl__ddl_punct(p, '(')) {
            if (sl__ddl_skip_parens(p) != 0)
                return p->rc;
        } else if (sl__ddl_kw(p, "NEXT") && sl__ddl_peek_kw(p, "VALUE")) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            if (sl__ddl_expect_kw(p, "FOR") != 0)
                return p->rc;
            char *db = NULL, *t = NULL;
            sl__ddl_parse_table_name(p, &db, &t);
            free(db);
            free(t);
        } else if (p->tok.type == SL_DDL_TOK_STRING) {
            while (p->tok.type == SL_DDL_TOK_STRING) /* 'a' 'b' concatenate. */
                sl__ddl_advance(p);
        } else if (p->tok.type == SL_DDL_TOK_NUMBER ||
                   p->tok.type == SL_DDL_TOK_HEX ||
                   p->tok.type == SL_DDL_TOK_BIT) {
            sl__ddl_advance(p);
        } else if (p->tok.type == SL_DDL_TOK_IDENT ||
                   p->tok.type == SL_DDL_TOK_QIDENT) {
            sl__ddl_advance(p);
            if (p->tok.type == SL_DDL_TOK_STRING) /* DATE '2020-01-01' */
                sl__ddl_advance(p);
            else if (sl__ddl_punct(p, '(') && sl__ddl_skip_parens(p) != 0)
                return p->rc;
        } else {
            return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected a value");
        }
        if (!is_operator(p))
            return p->rc;
        sl__ddl_advance(p);
    }
    return p->rc;
}

/* (part, ...) of an index: names are appended to *names when given. */
static int parse_key_parts(sl__ddl_parser_t *p, char ***names, size_t *n) {
    if (sl__ddl_expect_punct(p, '(') != 0)
        return p->rc;
    for (;;) {
        if (sl__ddl_punct(p, '(')) { /* Functional key part: no column. */
            if (sl__ddl_skip_parens(p) != 0)
                return p->rc;
            if (names)
                return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                    "expression in a primary key");
        } else {
            char *name = sl__ddl_parse_ident(p);
            if (name == NULL)
                return p->rc;
            if (names) {
                if (sl__ddl_push_str(p, names, n, name) != 0)
                    return p->rc;
            } else {
                free(name);
            }
            if (sl__ddl_punct(p, '(') && sl__ddl_skip_parens(p) != 0)
                return p->rc;
        }
        if (!sl__ddl_accept_kw(p, "ASC"))
            sl__ddl_accept_kw(p, "DESC");
        if (!sl__ddl_accept_punct(p, ','))
            break;
    }
    return sl__ddl_expect_punct(p, ')');
}

int sl__ddl_parse_if_exists(sl__ddl_parser_t *p) {
    if (sl__ddl_kw(p, "IF") && sl__ddl_peek_kw(p, "EXISTS")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        return 1;
    }
    return 0;
}

int sl__ddl_parse_if_not_exists(sl__ddl_parser_t *p) {
    if (sl__ddl_kw(p, "IF") && sl__ddl_peek_kw(p, "NOT")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        sl__ddl_expect_kw(p, "EXISTS");
        return 1;
    }
    return 0;
}

/* PRIMARY KEY [IF NOT EXISTS] [name] [USING x] (parts) [options]; *ine
 * tells whether IF NOT EXISTS (MariaDB) was given. */
static int parse_pk_def(sl__ddl_parser_t *p, char ***names, size_t *n,
                        int *ine) {
    if (sl__ddl_expect_kw(p, "KEY") != 0)
        return p->rc;
    *ine = sl__ddl_parse_if_not_exists(p);
    if (p->tok.type == SL_DDL_TOK_IDENT && !sl__ddl_kw(p, "USING"))
        sl__ddl_advance(
            p); /* A name, which MySQL ignores for the primary key. */
    else if (p->tok.type == SL_DDL_TOK_QIDENT)
        sl__ddl_advance(p);
    if (sl__ddl_accept_kw(p, "USING"))
        sl__ddl_advance(p);
    if (parse_key_parts(p, names, n) != 0)
        return p->rc;
    return sl__ddl_skip_element(p);
}

/* PERIOD [IF NOT EXISTS] FOR name (start, end), after PERIOD: an
 * application-time period makes its columns NOT NULL (MariaDB). */
static int parse_period(sl__ddl_parser_t *p) {
    int ine = sl__ddl_parse_if_not_exists(p);
    if (sl__ddl_expect_kw(p, "FOR") != 0)
        return p->rc;
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_PERIOD);
    if (a == NULL)
        return p->rc;
    a->if_exists = ine;
    a->name = sl__ddl_parse_ident(p);
    if (sl__ddl_expect_punct(p, '(') != 0)
        return p->rc;
    for (int i = 0; i < 2 && p->rc == 0; i++) {
        if (i == 1 && sl__ddl_expect_punct(p, ',') != 0)
            break;
        sl__ddl_push_str(p, &a->names, &a->nnames, sl__ddl_parse_ident(p));
    }
    return sl__ddl_expect_punct(p, ')');
}

void sl_ddl_index_free(sl_ddl_index_t *idx) {
    free(idx->name);
    for (size_t i = 0; i < idx->nparts; i++)
        free(idx->parts[i]);
    free(idx->parts);
    free(idx->prefix);
    memset(idx, 0, sizeof *idx);
}

/* USING|TYPE HASH|BTREE|RTREE, if current; records HASH. */
static int accept_index_type(sl__ddl_parser_t *p, sl_ddl_index_t *idx) {
    if (!sl__ddl_kw(p, "USING") && !sl__ddl_kw(p, "TYPE"))
        return 0;
    sl_ddl_tok_t next = sl__ddl_peek(p);
    if (next.type != SL_DDL_TOK_IDENT ||
        !(sl_ddl_word_eq(p->lx.sql + next.off, next.len, "HASH") ||
          sl_ddl_word_eq(p->lx.sql + next.off, next.len, "BTREE") ||
          sl_ddl_word_eq(p->lx.sql + next.off, next.len, "RTREE")))
        return 0;
    sl__ddl_advance(p);
    if (sl__ddl_kw(p, "HASH"))
        idx->using_hash = 1;
    else
        idx->using_hash = 0; /* The last one written counts. */
    sl__ddl_advance(p);
    return 1;
}

int sl__ddl_parse_index_body(sl__ddl_parser_t *p, sl_ddl_index_t *idx) {
    if (p->tok.type == SL_DDL_TOK_QIDENT ||
        (p->tok.type == SL_DDL_TOK_IDENT && !sl__ddl_kw(p, "USING") &&
         !sl__ddl_kw(p, "TYPE"))) {
        free(idx->name);
        idx->name = sl__ddl_parse_ident(p);
    } else if (sl__ddl_kw(p, "TYPE") && !sl__ddl_peek_kw(p, "HASH") &&
               !sl__ddl_peek_kw(p, "BTREE") && !sl__ddl_peek_kw(p, "RTREE")) {
        free(idx->name);
        idx->name = sl__ddl_parse_ident(p); /* An index named type. */
    }
    accept_index_type(p, idx);
    if (sl__ddl_expect_punct(p, '(') != 0)
        return p->rc;
    for (int guard = 0; guard < 4096 && p->rc == 0; guard++) {
        int named = !sl__ddl_punct(p, '(');
        if (!named) { /* Functional key part: no column. */
            idx->expr = 1;
            if (sl__ddl_skip_parens(p) != 0)
                return p->rc;
        } else {
            char *name = sl__ddl_parse_ident(p);
            if (name == NULL)
                return p->rc;
            long long *pre =
                realloc(idx->prefix, (idx->nparts + 1) * sizeof *pre);
            if (pre == NULL) {
                free(name);
                return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
            }
            idx->prefix = pre;
            pre[idx->nparts] = -1;
            if (sl__ddl_push_str(p, &idx->parts, &idx->nparts, name) != 0)
                return p->rc;
            if (sl__ddl_accept_punct(p, '(')) {
                if (p->tok.type != SL_DDL_TOK_NUMBER)
                    return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                        "expected a key part length");
                /* The statement is not NUL-terminated: read the digits
                 * of the token only (a length past 2^32 is no key's). */
                long long v = 0;
                for (size_t i = 0; i < p->tok.len; i++) {
                    char ch = p->lx.sql[p->tok.off + i];
                    if (ch < '0' || ch > '9')
                        break;
                    if (v < 4294967296LL)
                        v = v * 10 + (ch - '0');
                }
                pre[idx->nparts - 1] = v;
                sl__ddl_advance(p);
                if (sl__ddl_expect_punct(p, ')') != 0)
                    return p->rc;
            }
        }
        if (!sl__ddl_accept_kw(p, "ASC"))
            sl__ddl_accept_kw(p, "DESC");
        if (sl__ddl_kw(p, "WITHOUT") && sl__ddl_peek_kw(p, "OVERLAPS")) {
            /* MariaDB's period key: the part names a PERIOD, whose two
             * date columns the key holds; not a column for the rules. */
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            if (named)
                free(idx->parts[--idx->nparts]);
        }
        if (!sl__ddl_accept_punct(p, ','))
            break;
    }
    if (sl__ddl_expect_punct(p, ')') != 0)
        return p->rc;
    /* Index options: USING may come here too; the rest (COMMENT,
     * KEY_BLOCK_SIZE, WITH PARSER, [IN]VISIBLE, IGNORED, CLUSTERING=...)
     * changes no column. */
    for (int guard = 0; guard < 100000 && !sl__ddl_at_end(p); guard++) {
        if (sl__ddl_punct(p, ',') || sl__ddl_punct(p, ')') ||
            sl__ddl_punct(p, ';'))
            break;
        if (accept_index_type(p, idx))
            continue;
        if (sl__ddl_punct(p, '(')) {
            if (sl__ddl_skip_parens(p) != 0)
                return p->rc;
            continue;
        }
        sl__ddl_advance(p);
    }
    return p->rc;
}

/* The rest of an index element after its CONSTRAINT symbol (may be NULL):
 * [UNIQUE|FULLTEXT|SPATIAL|VECTOR] [INDEX|KEY] [IF NOT EXISTS] [name]
 * [USING x] (parts) [options], recorded as an ADD_INDEX action. */
static int parse_index_def(sl__ddl_parser_t *p, const char *symbol) {
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_INDEX);
    if (a == NULL)
        return p->rc;
    a->idx.unique = sl__ddl_accept_kw(p, "UNIQUE");
    if (!a->idx.unique && !sl__ddl_accept_kw(p, "FULLTEXT") &&
        !sl__ddl_accept_kw(p, "SPATIAL"))
        sl__ddl_accept_kw(p, "VECTOR");
    if (!sl__ddl_accept_kw(p, "INDEX"))
        sl__ddl_accept_kw(p, "KEY");
    a->if_exists = sl__ddl_parse_if_not_exists(p);
    if (symbol && (a->idx.name = strdup(symbol)) == NULL)
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    return sl__ddl_parse_index_body(p, &a->idx);
}

int sl__ddl_parse_index_elem(sl__ddl_parser_t *p, char ***pk, size_t *npk,
                             int *has_pk) {
    char *symbol = NULL;
    if (sl__ddl_kw(p, "CONSTRAINT")) {
        sl__ddl_advance(p);
        if (!sl__ddl_kw(p, "PRIMARY") && !sl__ddl_kw(p, "UNIQUE") &&
            !sl__ddl_kw(p, "FOREIGN") && !sl__ddl_kw(p, "CHECK"))
            symbol = sl__ddl_parse_ident(p); /* The symbol. */
        if (p->rc)
            return free(symbol), 1;
    } else if (!(sl__ddl_kw(p, "PRIMARY") || sl__ddl_kw(p, "UNIQUE") ||
                 sl__ddl_kw(p, "INDEX") || sl__ddl_kw(p, "KEY") ||
                 sl__ddl_kw(p, "FULLTEXT") || sl__ddl_kw(p, "SPATIAL") ||
                 sl__ddl_kw(p, "FOREIGN") || sl__ddl_kw(p, "CHECK") ||
                 (sl__ddl_kw(p, "VECTOR") &&
                  (sl__ddl_peek_kw(p, "INDEX") || sl__ddl_peek_kw(p, "KEY"))) ||
                 (sl__ddl_kw(p, "PERIOD") &&
                  (sl__ddl_peek_kw(p, "FOR") || sl__ddl_peek_kw(p, "IF"))))) {
        return 0;
    }
    if (!sl__ddl_kw(p, "UNIQUE")) {
        free(symbol); /* Only a UNIQUE key is named by its constraint. */
        symbol = NULL;
    }
    if (sl__ddl_accept_kw(p, "PERIOD"))
        return parse_period(p), 1;
    if (sl__ddl_accept_kw(p, "PRIMARY")) {
        for (size_t i = 0; i < *npk; i++)
            free((*pk)[i]);
        *npk = 0;
        int ine = 0;
        parse_pk_def(p, pk, npk, &ine);
        *has_pk = ine ? 2 : 1;
        return 1;
    }
    if (sl__ddl_accept_kw(p, "CHECK")) {
        sl__ddl_skip_check(p);
        return 1;
    }
    if (sl__ddl_kw(p, "FOREIGN")) {
        /* The index InnoDB may add for a foreign key is not modelled; its
         * name can only matter to a later unnamed UNIQUE key's. */
        sl__ddl_skip_element(p);
        return 1;
    }
    parse_index_def(p, symbol);
    free(symbol);
    return 1;
}

/* ---- CREATE TABLE ------------------------------------------------------- */

static int push_col(sl__ddl_parser_t *p, sl_ddl_col_t **cols, size_t *n,
                    sl_ddl_col_t *col) {
    sl_ddl_col_t *a = realloc(*cols, (*n + 1) * sizeof *a);
    if (a == NULL) {
        sl_ddl_col_free(col);
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    }
    a[(*n)++] = *col;
    *cols = a;
    return 0;
}

int sl__ddl_is_table_option(const sl__ddl_parser_t *p) {
    static const char *const opts[] = {"ENGINE",
                                       "TYPE",
                                       "AUTO_INCREMENT",
                                       "AVG_ROW_LENGTH",
                                       "CHECKSUM",
                                       "TABLE_CHECKSUM",
                                       "COMMENT",
                                       "COMPRESSION",
                                       "CONNECTION",
                                       "DELAY_KEY_WRITE",
                                       "ENCRYPTION",
                                       "ENGINE_ATTRIBUTE",
                                       "SECONDARY_ENGINE_ATTRIBUTE",
                                       "SECONDARY_ENGINE",
                                       "INSERT_METHOD",
                                       "KEY_BLOCK_SIZE",
                                       "MAX_ROWS",
                                       "MIN_ROWS",
                                       "PACK_KEYS",
                                       "PASSWORD",
                                       "ROW_FORMAT",
                                       "STATS_AUTO_RECALC",
                                       "STATS_PERSISTENT",
                                       "STATS_SAMPLE_PAGES",
                                       "AUTOEXTEND_SIZE",
                                       "PAGE_CHECKSUM",
                                       "TRANSACTIONAL",
                                       "PAGE_COMPRESSED",
                                       "PAGE_COMPRESSION_LEVEL",
                                       "ENCRYPTED",
                                       "ENCRYPTION_KEY_ID",
                                       "IETF_QUOTES",
                                       "ALGORITHM",
                                       "LOCK",
                                       "START_TRANSACTION",
                                       "TABLESPACE"};
    /* The server reads an option name as an identifier, so it may be
     * backquoted (`ENCRYPTED`=NO, as MariaDB's own dumps write some). */
    const char *name = p->lx.sql + p->tok.off;
    size_t len = p->tok.len;
    if (p->tok.type == SL_DDL_TOK_QIDENT && p->tok.quote == '`') {
        name = p->lx.sql + p->tok.body_off;
        len = p->tok.body_len;
    } else if (p->tok.type != SL_DDL_TOK_IDENT) {
        return 0;
    }
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (sl_ddl_word_eq(name, len, opts[i]))
            return 1;
    return 0;
}

int sl__ddl_skip_table_option(sl__ddl_parser_t *p) {
    if (sl__ddl_kw(p, "DATA") || sl__ddl_kw(p, "INDEX")) {
        if (!sl__ddl_peek_kw(p, "DIRECTORY"))
            return 0;
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        sl__ddl_accept_punct(p, '=');
        sl__ddl_advance(p);
        return 1;
    }
    if (sl__ddl_kw(p, "UNION")) {
        sl__ddl_advance(p);
        sl__ddl_accept_punct(p, '=');
        sl__ddl_skip_parens(p);
        return 1;
    }
    if (sl__ddl_kw(p, "STORAGE")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        return 1;
    }
    if (sl__ddl_kw(p, "WITH") && sl__ddl_peek_kw(p, "SYSTEM")) {
        /* MariaDB: the table gets hidden row_start/row_end columns
         * unless it defines its own (apply.c). */
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        if (sl__ddl_expect_kw(p, "VERSIONING") == 0)
            p->st->versioning = 1;
        return 1;
    }
    if (sl__ddl_kw(p, "SEQUENCE") && !sl__ddl_peek_kw(p, "FOR")) {
        /* MariaDB: SEQUENCE=1 makes the table a sequence, whose columns
         * the history does not model; SEQUENCE=0 is an ordinary table. */
        sl__ddl_advance(p);
        sl__ddl_accept_punct(p, '=');
        int zero = p->tok.type == SL_DDL_TOK_NUMBER && p->tok.len == 1 &&
                   p->lx.sql[p->tok.off] == '0';
        if (!zero && !sl__ddl_kw(p, "NO") && !sl__ddl_kw(p, "DEFAULT"))
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "SEQUENCE=1: sequences are not modelled "
                                "by the schema history"),
                   1;
        sl__ddl_advance(p);
        return 1;
    }
    if (sl__ddl_kw(p, "START") && sl__ddl_peek_kw(p, "TRANSACTION")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        return 1;
    }
    if (sl__ddl_kw(p, "FORCE")) {
        sl__ddl_advance(p);
        return 1;
    }
    if (!sl__ddl_is_table_option(p)) {
        /* MariaDB's engine-defined table options (CONNECT's
         * TABLE_TYPE=CSV, FILE_NAME='x'...) are name = value; no such
         * option changes a column. */
        sl_ddl_tok_t next = sl__ddl_peek(p);
        int named = p->tok.type == SL_DDL_TOK_IDENT ||
                    (p->tok.type == SL_DDL_TOK_QIDENT && p->tok.quote == '`');
        if (!named || next.type != SL_DDL_TOK_PUNCT || next.len != 1 ||
            p->lx.sql[next.off] != '=')
            return 0;
    }
    int engine = sl__ddl_kw(p, "ENGINE") || sl__ddl_kw(p, "TYPE");
    sl__ddl_advance(p);
    sl__ddl_accept_punct(p, '=');
    if (sl__ddl_at_end(p))
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected an option value"), 1;
    if (engine) {
        /* The engine decides which UNIQUE keys MariaDB keeps as a hash
         * (hashkey.c). */
        free(p->st->engine);
        p->st->engine = sl__ddl_parse_cs_name(p);
        if (p->st->engine == NULL)
            return sl__ddl_fail(p, SL_ENOMEM, "out of memory"), 1;
        return 1;
    }
    sl__ddl_advance(p);
    return 1;
}

int sl__ddl_parse_charset_option(sl__ddl_parser_t *p, char **charset,
                                 char **collation) {
    if (sl__ddl_kw(p, "DEFAULT") &&
        (sl__ddl_peek_kw(p, "CHARACTER") || sl__ddl_peek_kw(p, "CHARSET") ||
         sl__ddl_peek_kw(p, "COLLATE") || sl__ddl_peek_kw(p, "CHAR")))
        sl__ddl_advance(p);
    if (sl__ddl_kw(p, "CHARACTER") || sl__ddl_kw(p, "CHAR")) {
        if (!sl__ddl_peek_kw(p, "SET"))
            return 0;
        sl__ddl_advance(p);
        sl__ddl_advance(p);
    } else if (!sl__ddl_accept_kw(p, "CHARSET")) {
        if (!sl__ddl_accept_kw(p, "COLLATE"))
            return 0;
        free(*collation);
        *collation = sl__ddl_parse_cs_name(p);
        if (*collation && strcmp(*collation, "default") == 0) {
            /* COLLATE DEFAULT: the charset's default collation, which
             * says nothing about the charset. */
            free(*collation);
            *collation = NULL;
        }
        return 1;
    }
    free(*charset);
    *charset = sl__ddl_parse_cs_name(p);
    return 1;
}

static int parse_create_table(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    st->kind = SL_DDL_CREATE_TABLE;
    if (sl__ddl_kw(p, "IF")) {
        sl__ddl_advance(p);
        if (sl__ddl_expect_kw(p, "NOT") != 0 ||
            sl__ddl_expect_kw(p, "EXISTS") != 0)
            return p->rc;
        st->if_not_exists = 1;
    }
    if (sl__ddl_table_ref(p) != 0)
        return p->rc;
    int paren_like = 0;
    if (sl__ddl_punct(p, '(') && sl__ddl_peek_kw(p, "LIKE")) {
        sl__ddl_advance(p);
        paren_like = 1;
    }
    if (sl__ddl_accept_kw(p, "LIKE")) {
        st->kind = SL_DDL_CREATE_TABLE_LIKE;
        if (sl__ddl_table_ref(p) != 0)
            return p->rc;
        if (paren_like && sl__ddl_expect_punct(p, ')') != 0)
            return p->rc;
        sl__ddl_accept_punct(p, ';');
        if (!sl__ddl_at_end(p))
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "unexpected text after LIKE");
        return p->rc;
    }
    int has_list = 0;
    if (sl__ddl_punct(p, '(')) {
        sl_ddl_tok_t t = sl__ddl_peek(p);
        int sel = t.type == SL_DDL_TOK_PUNCT && p->lx.sql[t.off] == '(';
        if (t.type == SL_DDL_TOK_IDENT) {
            const char *w = p->lx.sql + t.off;
            sel = sl_ddl_word_eq(w, t.len, "SELECT") ||
                  sl_ddl_word_eq(w, t.len, "WITH") ||
                  sl_ddl_word_eq(w, t.len, "VALUES") ||
                  sl_ddl_word_eq(w, t.len, "TABLE");
        }
        if (sel)
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "CREATE TABLE ... SELECT: the "
                                "columns come from a query");
        has_list = 1;
        sl__ddl_advance(p);
        for (;;) {
            if (sl__ddl_parse_index_elem(p, &st->pk, &st->npk, &st->has_pk) ==
                0) {
                sl_ddl_col_t col;
                if (sl__ddl_parse_coldef(p, &col) != 0 ||
                    push_col(p, &st->cols, &st->ncols, &col) != 0) {
                    sl_ddl_col_free(&col);
                    return p->rc;
                }
                if (st->cols[st->ncols - 1].unique &&
                    sl__ddl_push_col_unique(p, st->cols[st->ncols - 1].name))
                    return p->rc;
            }
            if (p->rc)
                return p->rc;
            if (!sl__ddl_accept_punct(p, ','))
                break;
        }
        if (sl__ddl_expect_punct(p, ')') != 0)
            return p->rc;
    }
    for (int guard = 0; guard < 1000 && !sl__ddl_at_end(p); guard++) {
        sl__ddl_accept_punct(p, ',');
        if (sl__ddl_at_end(p) || sl__ddl_accept_punct(p, ';'))
            break;
        if (sl__ddl_parse_charset_option(p, &st->charset, &st->collation) ||
            sl__ddl_skip_table_option(p)) {
            if (p->rc)
                return p->rc;
            continue;
        }
        if (sl__ddl_kw(p, "PARTITION") && sl__ddl_peek_kw(p, "BY")) {
            sl__ddl_skip_to_end(p); /* Partitioning changes no column. */
            break;
        }
        if (sl__ddl_kw(p, "SELECT") || sl__ddl_kw(p, "AS") ||
            sl__ddl_kw(p, "IGNORE") || sl__ddl_kw(p, "REPLACE") ||
            sl__ddl_kw(p, "WITH") || sl__ddl_kw(p, "VALUES") ||
            sl__ddl_kw(p, "TABLE") || sl__ddl_punct(p, '('))
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "CREATE TABLE ... SELECT: the "
                                "columns come from a query");
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "unknown table option");
    }
    if (!has_list)
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "CREATE TABLE without columns");
    return p->rc;
}

/* ---- Other statements --------------------------------------------------- */

static int parse_rename_table(sl__ddl_parser_t *p) {
    p->st->kind = SL_DDL_RENAME_TABLE;
    /* MariaDB's IF EXISTS comes once and covers every pair. */
    int ie = sl__ddl_parse_if_exists(p);
    for (int guard = 0; guard < 100000; guard++) {
        if (sl__ddl_table_ref(p) != 0)
            return p->rc;
        p->st->tables[p->st->ntables - 1].if_exists = ie;
        sl__ddl_skip_wait(p);
        if (sl__ddl_expect_kw(p, "TO") != 0 || sl__ddl_table_ref(p) != 0)
            return p->rc;
        if (!sl__ddl_accept_punct(p, ','))
            break;
    }
    sl__ddl_accept_punct(p, ';');
    if (!sl__ddl_at_end(p))
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}

static int parse_drop_table(sl__ddl_parser_t *p) {
    p->st->kind = SL_DDL_DROP_TABLE;
    sl__ddl_parse_if_exists(p);
    for (int guard = 0; guard < 100000; guard++) {
        if (sl__ddl_table_ref(p) != 0)
            return p->rc;
        if (!sl__ddl_accept_punct(p, ','))
            break;
    }
    sl__ddl_skip_wait(p);
    if (!sl__ddl_accept_kw(p, "RESTRICT"))
        sl__ddl_accept_kw(p, "CASCADE");
    sl__ddl_accept_kw(p, "FORCE");
    sl__ddl_accept_punct(p, ';');
    if (!sl__ddl_at_end(p))
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}

static int parse_database_opts(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    for (int guard = 0; guard < 1000 && !sl__ddl_at_end(p); guard++) {
        if (sl__ddl_accept_punct(p, ';'))
            continue;
        if (sl__ddl_parse_charset_option(p, &st->charset, &st->collation))
            continue;
        sl__ddl_advance(
            p); /* ENCRYPTION, COMMENT, READ ONLY: no column change. */
    }
    return p->rc;
}

/* CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX name [USING x] ON t (...) ... */
static int parse_create_index(sl__ddl_parser_t *p, int unique) {
    p->st->kind = SL_DDL_CREATE_INDEX;
    p->st->rebuild = 1; /* The server runs it as an ALTER TABLE. */
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_INDEX);
    if (a == NULL)
        return p->rc;
    a->idx.unique = unique;
    a->if_exists = sl__ddl_parse_if_not_exists(p);
    a->idx.name = sl__ddl_parse_ident(p);
    if (a->idx.name == NULL)
        return p->rc;
    if (sl__ddl_kw(p, "USING") || sl__ddl_kw(p, "TYPE")) {
        sl__ddl_advance(p);
        a->idx.using_hash = sl__ddl_kw(p, "HASH");
        sl__ddl_advance(p);
    }
    if (sl__ddl_expect_kw(p, "ON") != 0 || sl__ddl_table_ref(p) != 0)
        return p->rc;
    /* The parts and options follow the table (the token is '(', so the
     * body reads no second name). */
    if (sl__ddl_parse_index_body(p, &a->idx) != 0)
        return p->rc;
    sl__ddl_skip_to_end(p); /* ALGORITHM=, LOCK=. */
    return p->rc;
}

static int parse_drop_index(sl__ddl_parser_t *p) {
    p->st->kind = SL_DDL_DROP_INDEX;
    p->st->rebuild = 1; /* The server runs it as an ALTER TABLE. */
    if (!sl__ddl_accept_kw(p, "ONLINE"))
        sl__ddl_accept_kw(p, "OFFLINE");
    int ie = sl__ddl_parse_if_exists(p);
    char *name = sl__ddl_parse_ident(p);
    if (name == NULL)
        return p->rc;
    int primary = sl_ddl_word_eq(name, strlen(name), "PRIMARY");
    if (sl__ddl_expect_kw(p, "ON") != 0 || sl__ddl_table_ref(p) != 0) {
        free(name);
        return p->rc;
    }
    sl_ddl_action_t *a = sl__ddl_new_act(p, primary ? SL_DDL_ACT_DROP_PK
                                                    : SL_DDL_ACT_DROP_INDEX);
    if (a) {
        a->if_exists = ie;
        a->name = name;
    } else {
        free(name);
    }
    sl__ddl_skip_to_end(p); /* ALGORITHM=, LOCK=, WAIT n. */
    return p->rc;
}

static int parse_create(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    /* Modifiers before the object word, bounded: OR REPLACE, TEMPORARY,
     * UNIQUE, DEFINER = x, ALGORITHM = x, SQL SECURITY x, ... */
    int unique_like = 0, unique = 0;
    for (int guard = 0; guard < 32 && !sl__ddl_at_end(p); guard++) {
        if (sl__ddl_kw(p, "OR") && sl__ddl_peek_kw(p, "REPLACE")) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            st->or_replace = 1;
        } else if (sl__ddl_accept_kw(p, "TEMPORARY")) {
            st->temporary = 1;
        } else if (sl__ddl_kw(p, "TABLE")) {
            sl__ddl_advance(p);
            return parse_create_table(p);
        } else if (sl__ddl_kw(p, "DATABASE") || sl__ddl_kw(p, "SCHEMA")) {
            sl__ddl_advance(p);
            st->kind = SL_DDL_CREATE_DATABASE;
            if (sl__ddl_parse_if_not_exists(p))
                st->if_not_exists = 1;
            st->database = sl__ddl_parse_ident(p);
            if (st->database == NULL)
                return p->rc;
            return parse_database_opts(p);
        } else if (sl__ddl_kw(p, "INDEX")) {
            sl__ddl_advance(p);
            return parse_create_index(p, unique);
        } else if ((unique = unique || sl__ddl_kw(p, "UNIQUE")),
                   sl__ddl_accept_kw(p, "UNIQUE") ||
                       sl__ddl_accept_kw(p, "FULLTEXT") ||
                       sl__ddl_accept_kw(p, "SPATIAL") ||
                       sl__ddl_accept_kw(p, "ONLINE") ||
                       sl__ddl_accept_kw(p, "OFFLINE") ||
                       sl__ddl_accept_kw(p, "VECTOR")) {
            unique_like = 1;
        } else if (sl__ddl_kw(p, "SEQUENCE")) {
            sl__ddl_advance(p);
            sl__ddl_parse_if_not_exists(p);
            sl__ddl_table_ref(p);
            st->kind = SL_DDL_OTHER_TABLE;
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "CREATE SEQUENCE: sequences "
                                "are not modelled by the schema history");
        } else if (p->tok.type == SL_DDL_TOK_PUNCT) {
            sl__ddl_advance(p); /* DEFINER = `u`@`h` */
        } else if (sl__ddl_kw(p, "REFERENCE") && unique_like) {
            return 0; /* CREATE SPATIAL REFERENCE SYSTEM */
        } else if (p->tok.type == SL_DDL_TOK_IDENT && unique_like) {
            break;
        } else if (sl__ddl_kw(p, "VIEW") || sl__ddl_kw(p, "PROCEDURE") ||
                   sl__ddl_kw(p, "FUNCTION") || sl__ddl_kw(p, "TRIGGER") ||
                   sl__ddl_kw(p, "EVENT") || sl__ddl_kw(p, "USER") ||
                   sl__ddl_kw(p, "ROLE") || sl__ddl_kw(p, "SERVER") ||
                   sl__ddl_kw(p, "TABLESPACE") || sl__ddl_kw(p, "LOGFILE") ||
                   sl__ddl_kw(p, "PACKAGE") || sl__ddl_kw(p, "SPATIAL") ||
                   sl__ddl_kw(p, "RESOURCE") || sl__ddl_kw(p, "AGGREGATE") ||
                   sl__ddl_kw(p, "SYNONYM")) {
            return 0;
        } else {
            sl__ddl_advance(p);
        }
    }
    if (unique_like)
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected INDEX");
    return 0;
}

static int parse_statement(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    if (sl__ddl_accept_kw(p, "CREATE"))
        return parse_create(p);
    if (sl__ddl_accept_kw(p, "ALTER")) {
        for (int guard = 0; guard < 8; guard++) {
            if (!sl__ddl_accept_kw(p, "ONLINE") &&
                !sl__ddl_accept_kw(p, "OFFLINE") &&
                !sl__ddl_accept_kw(p, "IGNORE"))
                break;
        }
        if (sl__ddl_accept_kw(p, "TABLE"))
            return sl__ddl_parse_alter_table(p);
        if (sl__ddl_accept_kw(p, "DATABASE") ||
            sl__ddl_accept_kw(p, "SCHEMA")) {
            st->kind = SL_DDL_ALTER_DATABASE;
            if (p->tok.type == SL_DDL_TOK_QIDENT ||
                (p->tok.type == SL_DDL_TOK_IDENT && !sl__ddl_kw(p, "DEFAULT") &&
                 !sl__ddl_kw(p, "CHARACTER") && !sl__ddl_kw(p, "CHARSET") &&
                 !sl__ddl_kw(p, "COLLATE") && !sl__ddl_kw(p, "ENCRYPTION") &&
                 !sl__ddl_kw(p, "READ") && !sl__ddl_kw(p, "COMMENT")))
                st->database = sl__ddl_parse_ident(p);
            return parse_database_opts(p);
        }
        return 0; /* VIEW, USER, EVENT, PROCEDURE, SEQUENCE, SERVER... */
    }
    if (sl__ddl_accept_kw(p, "DROP")) {
        if (sl__ddl_accept_kw(p, "TEMPORARY")) {
            st->temporary = 1;
            if (!sl__ddl_accept_kw(p, "TABLE") &&
                !sl__ddl_accept_kw(p, "TABLES"))
                return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected TABLE");
            return parse_drop_table(p);
        }
        if (sl__ddl_accept_kw(p, "TABLE") || sl__ddl_accept_kw(p, "TABLES") ||
            sl__ddl_accept_kw(p, "SEQUENCE"))
            return parse_drop_table(p);
        if (sl__ddl_accept_kw(p, "DATABASE") ||
            sl__ddl_accept_kw(p, "SCHEMA")) {
            st->kind = SL_DDL_DROP_DATABASE;
            sl__ddl_parse_if_exists(p);
            st->database = sl__ddl_parse_ident(p);
            return p->rc;
        }
        if (sl__ddl_accept_kw(p, "INDEX"))
            return parse_drop_index(p);
        return 0;
    }
    if (sl__ddl_accept_kw(p, "RENAME")) {
        if (sl__ddl_accept_kw(p, "TABLE") || sl__ddl_accept_kw(p, "TABLES"))
            return parse_rename_table(p);
        return 0; /* RENAME USER */
    }
    if (sl__ddl_accept_kw(p, "TRUNCATE")) {
        sl__ddl_accept_kw(p, "TABLE");
        st->kind = SL_DDL_TRUNCATE_TABLE;
        return sl__ddl_table_ref(p);
    }
    if (sl__ddl_kw(p, "IMPORT") && sl__ddl_peek_kw(p, "TABLE")) {
        st->kind = SL_DDL_OTHER_TABLE;
        return sl__ddl_fail(p, SL_EUNSUPPORTED,
                            "IMPORT TABLE creates tables from "
                            "files");
    }
    return 0;
}

int sl_ddl_parse(const char *sql, size_t len, const sl_ddl_opts_t *opts,
                 sl_ddl_stmt_t *stmt, char *err, size_t errlen) {
    sl__ddl_parser_t p;
    memset(stmt, 0, sizeof *stmt);
    memset(&p, 0, sizeof p);
    if (err && errlen)
        err[0] = '\0';
    sl_ddl_lex_init(&p.lx, sql, len, opts);
    p.err = err;
    p.errlen = errlen;
    p.st = stmt;
    sl__ddl_advance(&p);
    int rc = parse_statement(&p);
    if (rc == 0)
        rc = p.rc;
    if (rc != 0 && rc != SL_ENOMEM)
        rc = SL_EUNSUPPORTED;
    return rc;
}

void sl_ddl_stmt_free(sl_ddl_stmt_t *st) {
    for (size_t i = 0; i < st->ntables; i++) {
        free(st->tables[i].db);
        free(st->tables[i].table);
    }
    free(st->tables);
    free(st->database);
    for (size_t i = 0; i < st->ncols; i++)
        sl_ddl_col_free(&st->cols[i]);
    free(st->cols);
    for (size_t i = 0; i < st->npk; i++)
        free(st->pk[i]);
    free(st->pk);
    free(st->charset);
    free(st->collation);
    for (size_t i = 0; i < st->nacts; i++) {
        sl_ddl_action_t *a = &st->acts[i];
        sl_ddl_col_free(&a->col);
        sl_ddl_index_free(&a->idx);
        free(a->name);
        free(a->name2);
        free(a->after);
        for (size_t k = 0; k < a->nnames; k++)
            free(a->names[k]);
        free(a->names);
        free(a->charset);
        free(a->collation);
        free(a->db);
        free(a->table);
    }
    free(st->acts);
    free(st->engine);
    memset(st, 0, sizeof *st);
}
