/*
 * The DDL parser (see ddl.h for the contract and docs/schema-history.md
 * for the statements understood); its tokenizer is lexer.c.
 */
#include "ddl.h"

#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ---- Parser state ------------------------------------------------------- */

typedef struct {
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    int rc;
    char *err;
    size_t errlen;
    sl_ddl_stmt_t *st;
} parser_t;

static int fail(parser_t *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parser_t *p, int rc, const char *fmt, ...) {
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

static int at_end(const parser_t *p) {
    return p->rc != 0 || p->tok.type == SL_DDL_TOK_END ||
           p->tok.type == SL_DDL_TOK_ERROR;
}

static void advance(parser_t *p) {
    if (p->tok.type == SL_DDL_TOK_ERROR)
        return;
    if (sl_ddl_lex_next(&p->lx, &p->tok) != 0)
        fail(p, SL_EUNSUPPORTED, "unterminated quote or comment");
}

static int kw(const parser_t *p, const char *word) {
    return p->tok.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(p->lx.sql + p->tok.off, p->tok.len, word);
}

static int accept_kw(parser_t *p, const char *word) {
    if (!kw(p, word))
        return 0;
    advance(p);
    return 1;
}

static int punct(const parser_t *p, char c) {
    return p->tok.type == SL_DDL_TOK_PUNCT && p->tok.len == 1 &&
           p->lx.sql[p->tok.off] == c;
}

static int accept_punct(parser_t *p, char c) {
    if (!punct(p, c))
        return 0;
    advance(p);
    return 1;
}

static int expect_kw(parser_t *p, const char *word) {
    if (accept_kw(p, word))
        return 0;
    return fail(p, SL_EUNSUPPORTED, "expected %s", word);
}

static int expect_punct(parser_t *p, char c) {
    if (accept_punct(p, c))
        return 0;
    return fail(p, SL_EUNSUPPORTED, "expected '%c'", c);
}

/* Looks at the token after the current one without consuming anything. */
static sl_ddl_tok_t peek(const parser_t *p) {
    sl_ddl_lexer_t copy = p->lx;
    sl_ddl_tok_t t;
    if (sl_ddl_lex_next(&copy, &t) != 0)
        t.type = SL_DDL_TOK_ERROR;
    return t;
}

static int peek_kw(const parser_t *p, const char *word) {
    sl_ddl_tok_t t = peek(p);
    return t.type == SL_DDL_TOK_IDENT &&
           sl_ddl_word_eq(p->lx.sql + t.off, t.len, word);
}

static char *tok_dup(parser_t *p) {
    char *v = NULL;
    if (sl_ddl_tok_value(&p->lx, &p->tok, &v, NULL) != 0) {
        fail(p, SL_ENOMEM, "out of memory");
        return NULL;
    }
    return v;
}

static void lower_str(char *s) {
    for (; s && *s; s++)
        *s = (char)lower((unsigned char)*s);
}

/* An identifier: a bare word or a quoted name. */
static char *parse_ident(parser_t *p) {
    if (p->tok.type != SL_DDL_TOK_IDENT && p->tok.type != SL_DDL_TOK_QIDENT) {
        fail(p, SL_EUNSUPPORTED, "expected a name");
        return NULL;
    }
    char *v = tok_dup(p);
    if (v)
        advance(p);
    return v;
}

/* A charset or collation name: a word, quoted name or string. */
static char *parse_cs_name(parser_t *p) {
    accept_punct(p, '=');
    if (p->tok.type != SL_DDL_TOK_IDENT && p->tok.type != SL_DDL_TOK_QIDENT &&
        p->tok.type != SL_DDL_TOK_STRING) {
        fail(p, SL_EUNSUPPORTED, "expected a charset or collation name");
        return NULL;
    }
    char *v = tok_dup(p);
    if (v) {
        lower_str(v);
        advance(p);
    }
    return v;
}

/* [db.]table into *db (NULL when unqualified) and *table. */
static int parse_table_name(parser_t *p, char **db, char **table) {
    *db = NULL;
    *table = parse_ident(p);
    if (*table == NULL)
        return p->rc;
    if (punct(p, '.')) {
        advance(p);
        *db = *table;
        *table = parse_ident(p);
        if (*table == NULL)
            return p->rc;
    }
    return 0;
}

static int push_name(parser_t *p, char *db, char *table) {
    sl_ddl_stmt_t *st = p->st;
    sl_ddl_name_t *n = realloc(st->tables, (st->ntables + 1) * sizeof *n);
    if (n == NULL) {
        free(db);
        free(table);
        return fail(p, SL_ENOMEM, "out of memory");
    }
    st->tables = n;
    n[st->ntables].db = db;
    n[st->ntables].table = table;
    st->ntables++;
    return 0;
}

/* Reads a table name and records it in stmt->tables. */
static int table_ref(parser_t *p) {
    char *db = NULL, *table = NULL;
    if (parse_table_name(p, &db, &table) != 0) {
        free(db);
        free(table);
        return p->rc;
    }
    return push_name(p, db, table);
}

static int push_str(parser_t *p, char ***arr, size_t *n, char *s) {
    if (s == NULL)
        return p->rc ? p->rc : fail(p, SL_ENOMEM, "out of memory");
    char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (a == NULL) {
        free(s);
        return fail(p, SL_ENOMEM, "out of memory");
    }
    a[(*n)++] = s;
    *arr = a;
    return 0;
}

/* Skips a parenthesised group starting at the current '('. Iterative, so
 * deep nesting cannot exhaust the stack. */
static int skip_parens(parser_t *p) {
    if (expect_punct(p, '(') != 0)
        return p->rc;
    size_t depth = 1;
    while (!at_end(p) && depth > 0) {
        if (punct(p, '('))
            depth++;
        else if (punct(p, ')'))
            depth--;
        advance(p);
    }
    if (depth > 0)
        return fail(p, SL_EUNSUPPORTED, "unbalanced parentheses");
    return p->rc;
}

/* Skips to the next ',' or ')' at this nesting level (not consumed) or
 * the end of the statement. */
static int skip_element(parser_t *p) {
    while (!at_end(p) && !punct(p, ',') && !punct(p, ')')) {
        if (punct(p, '(')) {
            if (skip_parens(p) != 0)
                return p->rc;
        } else {
            advance(p);
        }
    }
    return p->rc;
}

static void skip_to_end(parser_t *p) {
    while (!at_end(p))
        advance(p);
}

static int is_operator(const parser_t *p) {
    if (p->tok.type == SL_DDL_TOK_PUNCT) {
        char c = p->lx.sql[p->tok.off];
        if (p->tok.len > 1)
            return 1;
        return strchr("+-*/%|&^<>=", c) != NULL;
    }
    return kw(p, "DIV") || kw(p, "MOD");
}

/* A DEFAULT / ON UPDATE / SET DEFAULT value: a literal, a name, a
 * function call or a parenthesised expression, possibly joined by
 * arithmetic operators (MariaDB accepts unparenthesised expressions). */
static int skip_value_expr(parser_t *p) {
    for (int guard = 0; guard < 10000 && !at_end(p); guard++) {
        while (punct(p, '-') || punct(p, '+') || punct(p, '~') || punct(p, '!'))
            advance(p);
        if (punct(p, '(')) {
            if (skip_parens(p) != 0)
                return p->rc;
        } else if (kw(p, "NEXT") && peek_kw(p, "VALUE")) {
            advance(p);
            advance(p);
            if (expect_kw(p, "FOR") != 0)
                return p->rc;
            char *db = NULL, *t = NULL;
            parse_table_name(p, &db, &t);
            free(db);
            free(t);
        } else if (p->tok.type == SL_DDL_TOK_STRING) {
            while (p->tok.type == SL_DDL_TOK_STRING) /* 'a' 'b' concatenate. */
                advance(p);
        } else if (p->tok.type == SL_DDL_TOK_NUMBER ||
                   p->tok.type == SL_DDL_TOK_HEX ||
                   p->tok.type == SL_DDL_TOK_BIT) {
            advance(p);
        } else if (p->tok.type == SL_DDL_TOK_IDENT ||
                   p->tok.type == SL_DDL_TOK_QIDENT) {
            advance(p);
            if (p->tok.type == SL_DDL_TOK_STRING) /* DATE '2020-01-01' */
                advance(p);
            else if (punct(p, '(') && skip_parens(p) != 0)
                return p->rc;
        } else {
            return fail(p, SL_EUNSUPPORTED, "expected a value");
        }
        if (!is_operator(p))
            return p->rc;
        advance(p);
    }
    return p->rc;
}

/* ---- Column definitions ------------------------------------------------- */

void sl_ddl_col_free(sl_ddl_col_t *col) {
    free(col->name);
    free(col->data_type);
    free(col->column_type);
    free(col->charset);
    free(col->collation);
    for (size_t i = 0; i < col->nvalues; i++)
        free(col->values[i]);
    free(col->values);
    memset(col, 0, sizeof *col);
}

/* (n) or (n,m); *a and *b stay untouched when absent. Returns 1 if
 * present, 0 if absent, -1 on error. A lone length may be written as a
 * decimal, FLOAT(7.4): the server takes its integer part (strtoul), so
 * that is what it stands for; (7.5,2) and (.5) it refuses. */
static int parse_len(parser_t *p, long long *a, long long *b) {
    if (!punct(p, '('))
        return 0;
    advance(p);
    for (int i = 0; i < 2; i++) {
        if (p->tok.type != SL_DDL_TOK_NUMBER) {
            fail(p, SL_EUNSUPPORTED, "expected a length");
            return -1;
        }
        long long v = 0;
        int frac = 0;
        for (size_t k = 0; k < p->tok.len; k++) {
            char c = p->lx.sql[p->tok.off + k];
            if (frac) {
                if (!is_digit((unsigned char)c)) {
                    fail(p, SL_EUNSUPPORTED, "expected a length");
                    return -1;
                }
                continue;
            }
            if (c == '.' && k > 0 && i == 0) {
                frac = 1;
                continue;
            }
            if (!is_digit((unsigned char)c)) {
                fail(p, SL_EUNSUPPORTED, "expected an integer length");
                return -1;
            }
            if (v > 1000000000000LL) {
                fail(p, SL_EUNSUPPORTED, "length out of range");
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        *(i == 0 ? a : b) = v;
        advance(p);
        if (frac)
            break;
        if (i == 0 && b != NULL && accept_punct(p, ','))
            continue;
        break;
    }
    if (expect_punct(p, ')') != 0)
        return -1;
    return 1;
}

static int set_type(parser_t *p, sl_ddl_col_t *col, const char *data_type,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int set_type(parser_t *p, sl_ddl_col_t *col, const char *data_type,
                    const char *fmt, ...) {
    char buf[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(col->data_type);
    free(col->column_type);
    col->data_type = strdup(data_type);
    col->column_type = strdup(buf);
    if (col->data_type == NULL || col->column_type == NULL)
        return fail(p, SL_ENOMEM, "out of memory");
    return 0;
}

/* UNSIGNED / SIGNED / ZEROFILL after a numeric type. */
static void parse_sign(parser_t *p, int *uns, int *zf) {
    for (;;) {
        if (accept_kw(p, "UNSIGNED"))
            *uns = 1;
        else if (accept_kw(p, "SIGNED"))
            ;
        else if (accept_kw(p, "ZEROFILL"))
            *zf = *uns = 1;
        else
            return;
    }
}

static const char *sign_suffix(int uns, int zf) {
    return zf ? " unsigned zerofill" : uns ? " unsigned" : "";
}

/* Display widths are shown unless the server is MySQL 8.0.19 or later,
 * which drops them except for ZEROFILL and TINYINT(1). */
static int mysql_no_widths(const parser_t *p) {
    return !p->lx.opts.is_mariadb && p->lx.opts.version >= 80019;
}

static int parse_int_type(parser_t *p, sl_ddl_col_t *col, const char *name,
                          int wsigned, int wunsigned) {
    long long w = -1;
    if (parse_len(p, &w, NULL) < 0)
        return p->rc;
    int uns = 0, zf = 0;
    parse_sign(p, &uns, &zf);
    col->is_unsigned = uns;
    long long shown = w >= 0 ? w : (uns ? wunsigned : wsigned);
    if (mysql_no_widths(p) && !zf && !(strcmp(name, "tinyint") == 0 && w == 1))
        return set_type(p, col, name, "%s%s", name, sign_suffix(uns, zf));
    return set_type(p, col, name, "%s(%lld)%s", name, shown,
                    sign_suffix(uns, zf));
}

static int parse_enum_values(parser_t *p, sl_ddl_col_t *col, const char *name) {
    sl_buf_t ct = SL_BUF_INIT;
    if (expect_punct(p, '(') != 0)
        return p->rc;
    int rc = sl_buf_printf(&ct, "%s(", name);
    for (;;) {
        if (p->tok.type != SL_DDL_TOK_STRING) {
            sl_buf_free(&ct);
            return fail(p, SL_EUNSUPPORTED, "expected an %s value", name);
        }
        size_t vlen = 0;
        char *v = NULL;
        if (sl_ddl_tok_value(&p->lx, &p->tok, &v, &vlen) != 0 ||
            push_str(p, &col->values, &col->nvalues, v) != 0) {
            sl_buf_free(&ct);
            return fail(p, SL_ENOMEM, "out of memory");
        }
        /* COLUMN_TYPE doubles quotes and backslashes. */
        rc |= sl_buf_append_u8(&ct, '\'');
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] == '\'' || v[i] == '\\')
                rc |= sl_buf_append_u8(&ct, (uint8_t)v[i]);
            rc |= sl_buf_append_u8(&ct, (uint8_t)v[i]);
        }
        rc |= sl_buf_append_u8(&ct, '\'');
        advance(p);
        if (accept_punct(p, ',')) {
            rc |= sl_buf_append_u8(&ct, ',');
            continue;
        }
        break;
    }
    rc |= sl_buf_append_u8(&ct, ')');
    const char *cstr;
    if (rc != 0 || sl_buf_cstr(&ct, &cstr) != 0 || expect_punct(p, ')') != 0) {
        sl_buf_free(&ct);
        return p->rc ? p->rc : fail(p, SL_ENOMEM, "out of memory");
    }
    rc = set_type(p, col, name, "%s", "");
    if (rc == 0) {
        free(col->column_type);
        col->column_type = (char *)sl_buf_detach(&ct, NULL);
    }
    sl_buf_free(&ct);
    col->is_text = 1;
    return p->rc;
}

static int set_charset(parser_t *p, sl_ddl_col_t *col, const char *cs) {
    free(col->charset);
    col->charset = strdup(cs);
    return col->charset ? 0 : fail(p, SL_ENOMEM, "out of memory");
}

static int text_type(parser_t *p, sl_ddl_col_t *col, const char *name,
                     long long def_len, int binary) {
    long long n = def_len;
    if (parse_len(p, &n, NULL) < 0)
        return p->rc;
    if (n < 0 &&
        (strcmp(name, "varchar") == 0 || strcmp(name, "varbinary") == 0))
        return fail(p, SL_EUNSUPPORTED, "%s needs a length", name);
    col->length = n;
    col->is_text = !binary;
    col->is_binary = binary;
    return set_type(p, col, name, "%s(%lld)", name, n);
}

/* Reads a type name with its parameters into col. */
static int parse_type(parser_t *p, sl_ddl_col_t *col) {
    if (p->tok.type != SL_DDL_TOK_IDENT)
        return fail(p, SL_EUNSUPPORTED, "expected a column type");
    const char *w = p->lx.sql + p->tok.off;
    size_t n = p->tok.len;
#define IS(word) sl_ddl_word_eq(w, n, word)
    col->length = -1;
    if (IS("TINYINT") || IS("INT1")) {
        advance(p);
        return parse_int_type(p, col, "tinyint", 4, 3);
    }
    if (IS("SMALLINT") || IS("INT2")) {
        advance(p);
        return parse_int_type(p, col, "smallint", 6, 5);
    }
    if (IS("MEDIUMINT") || IS("INT3") || IS("MIDDLEINT")) {
        advance(p);
        return parse_int_type(p, col, "mediumint", 9, 8);
    }
    if (IS("INT") || IS("INTEGER") || IS("INT4")) {
        advance(p);
        return parse_int_type(p, col, "int", 11, 10);
    }
    if (IS("BIGINT") || IS("INT8")) {
        advance(p);
        return parse_int_type(p, col, "bigint", 20, 20);
    }
    if (IS("BOOL") || IS("BOOLEAN")) {
        advance(p);
        return set_type(p, col, "tinyint", "tinyint(1)");
    }
    if (IS("SERIAL")) {
        advance(p);
        col->is_unsigned = 1;
        col->not_null = 1;
        return set_type(p, col, "bigint",
                        mysql_no_widths(p) ? "bigint unsigned"
                                           : "bigint(20) unsigned");
    }
    if (IS("DECIMAL") || IS("DEC") || IS("NUMERIC") || IS("FIXED")) {
        advance(p);
        long long m = 10, d = 0;
        if (parse_len(p, &m, &d) < 0)
            return p->rc;
        if (m == 0 && d == 0)
            m = 10; /* The servers' my_decimal_trim(): DECIMAL(0) is (10,0). */
        int uns = 0, zf = 0;
        parse_sign(p, &uns, &zf);
        col->is_unsigned = uns;
        return set_type(p, col, "decimal", "decimal(%lld,%lld)%s", m, d,
                        sign_suffix(uns, zf));
    }
    if (IS("FLOAT") || IS("FLOAT4") || IS("FLOAT8") || IS("DOUBLE") ||
        IS("REAL")) {
        const char *t = (IS("FLOAT") || IS("FLOAT4")) ? "float" : "double";
        if (IS("REAL") && (p->lx.opts.sql_mode & SL_DDL_MODE_REAL_AS_FLOAT))
            t = "float";
        int is_double_kw = IS("DOUBLE");
        advance(p);
        if (is_double_kw)
            accept_kw(p, "PRECISION");
        long long m = -1, d = -1;
        if (parse_len(p, &m, &d) < 0)
            return p->rc;
        if (strcmp(t, "float") == 0 && m > 24 && d < 0)
            t = "double";
        int uns = 0, zf = 0;
        parse_sign(p, &uns, &zf);
        col->is_unsigned = uns;
        if (d >= 0)
            return set_type(p, col, t, "%s(%lld,%lld)%s", t, m, d,
                            sign_suffix(uns, zf));
        return set_type(p, col, t, "%s%s", t, sign_suffix(uns, zf));
    }
    if (IS("BIT")) {
        advance(p);
        long long m = 1;
        if (parse_len(p, &m, NULL) < 0)
            return p->rc;
        return set_type(p, col, "bit", "bit(%lld)", m);
    }
    if (IS("DATE")) {
        advance(p);
        return set_type(p, col, "date", "date");
    }
    if (IS("TIME") || IS("DATETIME") || IS("TIMESTAMP")) {
        const char *t = IS("TIME")       ? "time"
                        : IS("DATETIME") ? "datetime"
                                         : "timestamp";
        advance(p);
        long long fsp = 0;
        if (parse_len(p, &fsp, NULL) < 0)
            return p->rc;
        if (fsp > 0)
            return set_type(p, col, t, "%s(%lld)", t, fsp);
        return set_type(p, col, t, "%s", t);
    }
    if (IS("YEAR")) {
        advance(p);
        long long m = 4;
        if (parse_len(p, &m, NULL) < 0)
            return p->rc;
        int uns = 0, zf = 0;
        parse_sign(p, &uns, &zf);
        if (mysql_no_widths(p))
            return set_type(p, col, "year", "year");
        return set_type(p, col, "year", "year(4)");
    }
    if (IS("NATIONAL") || IS("NCHAR") || IS("NVARCHAR")) {
        int varying = IS("NVARCHAR");
        int national = IS("NATIONAL");
        advance(p);
        if (national) {
            if (accept_kw(p, "VARCHAR"))
                varying = 1;
            else if (accept_kw(p, "CHAR") || accept_kw(p, "CHARACTER"))
                varying = accept_kw(p, "VARYING");
            else
                return fail(p, SL_EUNSUPPORTED, "expected CHAR or VARCHAR");
        } else if (!varying &&
                   (accept_kw(p, "VARCHAR") || accept_kw(p, "VARYING"))) {
            varying = 1;
        }
        if (text_type(p, col, varying ? "varchar" : "char", varying ? -1 : 1,
                      0) != 0)
            return p->rc;
        return set_charset(p, col, "utf8mb3");
    }
    if (IS("CHAR") || IS("CHARACTER")) {
        advance(p);
        if (accept_kw(p, "VARYING"))
            return text_type(p, col, "varchar", -1, 0);
        if (text_type(p, col, "char", 1, 0) != 0)
            return p->rc;
        if (accept_kw(p, "BYTE"))
            return text_type(p, col, "binary", col->length, 1);
        return 0;
    }
    if (IS("VARCHAR") || IS("VARCHARACTER")) {
        advance(p);
        return text_type(p, col, "varchar", -1, 0);
    }
    if (IS("BINARY")) {
        advance(p);
        return text_type(p, col, "binary", 1, 1);
    }
    if (IS("VARBINARY")) {
        advance(p);
        return text_type(p, col, "varbinary", -1, 1);
    }
    if (IS("TINYTEXT") || IS("TEXT") || IS("MEDIUMTEXT") || IS("LONGTEXT")) {
        char t[16];
        snprintf(t, sizeof t, "%.*s", (int)n, w);
        lower_str(t);
        advance(p);
        long long len = -1;
        if (strcmp(t, "text") == 0 && parse_len(p, &len, NULL) < 0)
            return p->rc;
        col->length = len;
        col->is_text = 1;
        return set_type(p, col, t, "%s", t);
    }
    if (IS("TINYBLOB") || IS("BLOB") || IS("MEDIUMBLOB") || IS("LONGBLOB")) {
        char t[16];
        snprintf(t, sizeof t, "%.*s", (int)n, w);
        lower_str(t);
        advance(p);
        long long len = -1;
        if (strcmp(t, "blob") == 0 && parse_len(p, &len, NULL) < 0)
            return p->rc;
        if (len >= 0)
            snprintf(t, sizeof t, "%s",
                     len < 256        ? "tinyblob"
                     : len < 65536    ? "blob"
                     : len < 16777216 ? "mediumblob"
                                      : "longblob");
        col->is_binary = 1;
        return set_type(p, col, t, "%s", t);
    }
    if (IS("LONG")) {
        advance(p);
        if (accept_kw(p, "VARBINARY")) {
            col->is_binary = 1;
            return set_type(p, col, "mediumblob", "mediumblob");
        }
        if (accept_kw(p, "VARCHAR") || accept_kw(p, "VARCHARACTER")) {
        } else if (accept_kw(p, "CHAR") || accept_kw(p, "CHARACTER")) {
            if (expect_kw(p, "VARYING") != 0)
                return p->rc;
        }
        col->is_text = 1;
        return set_type(p, col, "mediumtext", "mediumtext");
    }
    if (IS("ENUM") || IS("SET")) {
        const char *t = IS("ENUM") ? "enum" : "set";
        advance(p);
        return parse_enum_values(p, col, t);
    }
    if (IS("JSON")) {
        advance(p);
        if (p->lx.opts.is_mariadb) {
            /* MariaDB's JSON is LONGTEXT in utf8mb4_bin with a check. */
            col->is_text = 1;
            if (set_charset(p, col, "utf8mb4") != 0)
                return p->rc;
            return set_type(p, col, "longtext", "longtext");
        }
        return set_type(p, col, "json", "json");
    }
    static const char *const plain[] = {"GEOMETRY",       "POINT",
                                        "LINESTRING",     "POLYGON",
                                        "MULTIPOINT",     "MULTILINESTRING",
                                        "MULTIPOLYGON",   "GEOMETRYCOLLECTION",
                                        "GEOMCOLLECTION", "INET4",
                                        "INET6",          "UUID"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (IS(plain[i])) {
            char t[24];
            snprintf(t, sizeof t, "%s", plain[i]);
            lower_str(t);
            advance(p);
            return set_type(p, col, t, "%s", t);
        }
    }
    if (IS("VECTOR")) {
        advance(p);
        long long d = 2048;
        if (parse_len(p, &d, NULL) < 0)
            return p->rc;
        return set_type(p, col, "vector", "vector(%lld)", d);
    }
#undef IS
    return fail(p, SL_EUNSUPPORTED, "unknown column type");
}

/* REFERENCES tbl (cols) [MATCH x] [ON DELETE|UPDATE action]... */
static int skip_references(parser_t *p) {
    char *db = NULL, *t = NULL;
    parse_table_name(p, &db, &t);
    free(db);
    free(t);
    if (punct(p, '(') && skip_parens(p) != 0)
        return p->rc;
    for (int guard = 0; guard < 16 && !at_end(p); guard++) {
        if (accept_kw(p, "MATCH")) {
            advance(p);
        } else if (kw(p, "ON") &&
                   (peek_kw(p, "DELETE") || peek_kw(p, "UPDATE"))) {
            advance(p);
            advance(p);
            if (accept_kw(p, "SET") || accept_kw(p, "NO"))
                advance(p); /* NULL, DEFAULT, ACTION */
            else
                advance(p); /* RESTRICT, CASCADE */
        } else {
            break;
        }
    }
    return p->rc;
}

/* CHECK (expr) [[NOT] ENFORCED] */
static int skip_check(parser_t *p) {
    if (skip_parens(p) != 0)
        return p->rc;
    if (kw(p, "NOT") && peek_kw(p, "ENFORCED")) {
        advance(p);
        advance(p);
    } else {
        accept_kw(p, "ENFORCED");
    }
    return p->rc;
}

/* Column attributes after the type, up to the ',' or ')' that ends the
 * definition, or FIRST/AFTER in ALTER TABLE. Unknown words are an error:
 * guessing past them could hide a change of nullability or charset. */
static int parse_col_attrs(parser_t *p, sl_ddl_col_t *col) {
    for (int guard = 0; guard < 10000; guard++) {
        if (at_end(p) || punct(p, ',') || punct(p, ')') || punct(p, ';') ||
            kw(p, "FIRST") || kw(p, "AFTER"))
            return p->rc;
        if (kw(p, "NOT") && peek_kw(p, "NULL")) {
            advance(p);
            advance(p);
            col->not_null = 1;
        } else if (accept_kw(p, "NULL")) {
            col->not_null = 0;
        } else if (accept_kw(p, "DEFAULT")) {
            skip_value_expr(p);
        } else if (accept_kw(p, "AUTO_INCREMENT")) {
        } else if (accept_kw(p, "UNIQUE")) {
            accept_kw(p, "KEY");
        } else if (accept_kw(p, "PRIMARY")) {
            if (expect_kw(p, "KEY") == 0)
                col->pk = col->not_null = 1;
        } else if (accept_kw(p, "KEY")) {
            col->pk = col->not_null = 1;
        } else if (accept_kw(p, "COMMENT")) {
            accept_punct(p, '=');
            if (p->tok.type != SL_DDL_TOK_STRING)
                return fail(p, SL_EUNSUPPORTED, "expected a comment string");
            advance(p);
        } else if (accept_kw(p, "COLLATE")) {
            free(col->collation);
            col->collation = parse_cs_name(p);
        } else if (kw(p, "CHARACTER") || kw(p, "CHARSET") || kw(p, "CHAR")) {
            if (!accept_kw(p, "CHARSET")) {
                advance(p);
                if (expect_kw(p, "SET") != 0)
                    return p->rc;
            }
            free(col->charset);
            col->charset = parse_cs_name(p);
        } else if (accept_kw(p, "BINARY")) {
            /* The charset's _bin collation: no change of charset. */
        } else if (accept_kw(p, "ASCII")) {
            set_charset(p, col, "latin1");
        } else if (accept_kw(p, "UNICODE")) {
            set_charset(p, col, "ucs2");
        } else if (accept_kw(p, "BYTE")) {
            set_charset(p, col, "binary");
        } else if (kw(p, "UNSIGNED") || kw(p, "SIGNED") || kw(p, "ZEROFILL")) {
            return fail(p, SL_EUNSUPPORTED, "UNSIGNED/ZEROFILL out of place");
        } else if (accept_kw(p, "COLUMN_FORMAT") || accept_kw(p, "STORAGE")) {
            advance(p);
        } else if (accept_kw(p, "ENGINE_ATTRIBUTE") ||
                   accept_kw(p, "SECONDARY_ENGINE_ATTRIBUTE")) {
            accept_punct(p, '=');
            advance(p);
        } else if (kw(p, "GENERATED") || kw(p, "AS")) {
            /* [GENERATED ALWAYS] AS (expr) | AS ROW START | AS ROW END:
             * an explicit row start/end column of system versioning. */
            if (accept_kw(p, "GENERATED") && expect_kw(p, "ALWAYS") != 0)
                return p->rc;
            if (expect_kw(p, "AS") != 0)
                return p->rc;
            if (accept_kw(p, "ROW")) {
                if (!accept_kw(p, "START") && !accept_kw(p, "END"))
                    return fail(p, SL_EUNSUPPORTED, "expected START or END");
                col->row_period = 1;
                col->not_null = 1; /* As the server makes them. */
            } else if (skip_parens(p) != 0) {
                return p->rc;
            }
        } else if (accept_kw(p, "VIRTUAL") || accept_kw(p, "STORED") ||
                   accept_kw(p, "PERSISTENT") || accept_kw(p, "INVISIBLE") ||
                   accept_kw(p, "VISIBLE")) {
        } else if (kw(p, "ON") && peek_kw(p, "UPDATE")) {
            advance(p);
            advance(p);
            skip_value_expr(p);
        } else if (accept_kw(p, "REFERENCES")) {
            skip_references(p);
        } else if (accept_kw(p, "CONSTRAINT")) {
            if (!kw(p, "CHECK"))
                advance(p); /* The constraint's name. */
            if (expect_kw(p, "CHECK") != 0)
                return p->rc;
            skip_check(p);
        } else if (accept_kw(p, "CHECK")) {
            skip_check(p);
        } else if (accept_kw(p, "SRID")) {
            if (p->tok.type != SL_DDL_TOK_NUMBER)
                return fail(p, SL_EUNSUPPORTED, "expected an SRID");
            advance(p);
        } else if (kw(p, "WITH") || kw(p, "WITHOUT")) {
            /* A versioned column makes CREATE TABLE's table versioned
             * (hidden row_start/row_end); in ALTER TABLE the table must
             * already be. */
            int with = kw(p, "WITH");
            advance(p);
            if (expect_kw(p, "SYSTEM") != 0 || expect_kw(p, "VERSIONING") != 0)
                return p->rc;
            if (with && p->st->kind == SL_DDL_CREATE_TABLE)
                p->st->versioning = 1;
        } else if (accept_kw(p, "COMPRESSED")) {
            /* MariaDB 10.3+: stored zlib-compressed (binlog types 140 and
             * 141); [= zlib] names the only method there is. */
            col->compressed = 1;
            if (accept_punct(p, '='))
                advance(p);
        } else if (kw(p, "SERIAL") && peek_kw(p, "DEFAULT")) {
            advance(p);
            advance(p);
            if (expect_kw(p, "VALUE") != 0)
                return p->rc;
            col->not_null = 1;
        } else if ((p->tok.type == SL_DDL_TOK_IDENT ||
                    p->tok.type == SL_DDL_TOK_QIDENT) &&
                   peek(p).type == SL_DDL_TOK_PUNCT &&
                   p->lx.sql[peek(p).off] == '=') {
            /* MariaDB engine-defined attribute: name = value. */
            advance(p);
            advance(p);
            advance(p);
        } else {
            return fail(p, SL_EUNSUPPORTED, "unknown column attribute");
        }
        if (p->rc)
            return p->rc;
    }
    return fail(p, SL_EUNSUPPORTED, "too many column attributes");
}

/* A column name as the server's field_ident reads it: a, t.a, db.t.a or
 * .a. The server refuses a qualifier that does not name the table being
 * defined, so one that names another table is refused here too. */
static char *parse_field_ident(parser_t *p) {
    if (accept_punct(p, '.'))
        return parse_ident(p);
    char *a = parse_ident(p);
    if (a == NULL || !punct(p, '.'))
        return a;
    advance(p);
    char *b = parse_ident(p), *db = NULL, *table = a;
    if (b == NULL) {
        free(a);
        return NULL;
    }
    char *name = b;
    if (punct(p, '.')) {
        advance(p);
        name = parse_ident(p);
        db = a;
        table = b;
        if (name == NULL) {
            free(a);
            free(b);
            return NULL;
        }
    }
    const sl_ddl_name_t *t = p->st->ntables ? &p->st->tables[0] : NULL;
    int ok =
        t != NULL && sl_ddl_word_eq(table, strlen(table), t->table) &&
        (db == NULL || t->db == NULL || sl_ddl_word_eq(db, strlen(db), t->db));
    free(a);
    free(b == name ? NULL : b);
    if (!ok) {
        free(name);
        fail(p, SL_EUNSUPPORTED,
             "column name qualified by another table than the one altered");
        return NULL;
    }
    return name;
}

/* name type attributes... */
static int parse_coldef(parser_t *p, sl_ddl_col_t *col) {
    memset(col, 0, sizeof *col);
    col->length = -1;
    col->name = parse_field_ident(p);
    if (col->name == NULL)
        return p->rc;
    if (parse_type(p, col) != 0)
        return p->rc;
    return parse_col_attrs(p, col);
}

/* (part, ...) of an index: names are appended to *names when given. */
static int parse_key_parts(parser_t *p, char ***names, size_t *n) {
    if (expect_punct(p, '(') != 0)
        return p->rc;
    for (;;) {
        if (punct(p, '(')) { /* Functional key part: no column. */
            if (skip_parens(p) != 0)
                return p->rc;
            if (names)
                return fail(p, SL_EUNSUPPORTED, "expression in a primary key");
        } else {
            char *name = parse_ident(p);
            if (name == NULL)
                return p->rc;
            if (names) {
                if (push_str(p, names, n, name) != 0)
                    return p->rc;
            } else {
                free(name);
            }
            if (punct(p, '(') && skip_parens(p) != 0)
                return p->rc;
        }
        if (!accept_kw(p, "ASC"))
            accept_kw(p, "DESC");
        if (!accept_punct(p, ','))
            break;
    }
    return expect_punct(p, ')');
}

static int parse_if_exists(parser_t *p) {
    if (kw(p, "IF") && peek_kw(p, "EXISTS")) {
        advance(p);
        advance(p);
        return 1;
    }
    return 0;
}

static int parse_if_not_exists(parser_t *p) {
    if (kw(p, "IF") && peek_kw(p, "NOT")) {
        advance(p);
        advance(p);
        expect_kw(p, "EXISTS");
        return 1;
    }
    return 0;
}

/* PRIMARY KEY [IF NOT EXISTS] [name] [USING x] (parts) [options]; *ine
 * tells whether IF NOT EXISTS (MariaDB) was given. */
static int parse_pk_def(parser_t *p, char ***names, size_t *n, int *ine) {
    if (expect_kw(p, "KEY") != 0)
        return p->rc;
    *ine = parse_if_not_exists(p);
    if (p->tok.type == SL_DDL_TOK_IDENT && !kw(p, "USING"))
        advance(p); /* A name, which MySQL ignores for the primary key. */
    else if (p->tok.type == SL_DDL_TOK_QIDENT)
        advance(p);
    if (accept_kw(p, "USING"))
        advance(p);
    if (parse_key_parts(p, names, n) != 0)
        return p->rc;
    return skip_element(p);
}

/* One element of a CREATE TABLE list or an ALTER ADD that is an index or
 * constraint. Returns 1 if it was one (handled), 0 if it is a column.
 * *has_pk becomes 1 for a primary key, 2 for one with IF NOT EXISTS. */
static int parse_index_elem(parser_t *p, char ***pk, size_t *npk, int *has_pk) {
    if (kw(p, "CONSTRAINT")) {
        advance(p);
        if (!kw(p, "PRIMARY") && !kw(p, "UNIQUE") && !kw(p, "FOREIGN") &&
            !kw(p, "CHECK"))
            advance(p); /* The symbol. */
    } else if (!(kw(p, "PRIMARY") || kw(p, "UNIQUE") || kw(p, "INDEX") ||
                 kw(p, "KEY") || kw(p, "FULLTEXT") || kw(p, "SPATIAL") ||
                 kw(p, "FOREIGN") || kw(p, "CHECK") ||
                 (kw(p, "VECTOR") &&
                  (peek_kw(p, "INDEX") || peek_kw(p, "KEY"))) ||
                 (kw(p, "PERIOD") && peek_kw(p, "FOR")))) {
        return 0;
    }
    if (accept_kw(p, "PRIMARY")) {
        for (size_t i = 0; i < *npk; i++)
            free((*pk)[i]);
        *npk = 0;
        int ine = 0;
        parse_pk_def(p, pk, npk, &ine);
        *has_pk = ine ? 2 : 1;
        return 1;
    }
    if (accept_kw(p, "CHECK")) {
        skip_check(p);
        return 1;
    }
    skip_element(p);
    return 1;
}

/* ---- CREATE TABLE ------------------------------------------------------- */

static int push_col(parser_t *p, sl_ddl_col_t **cols, size_t *n,
                    sl_ddl_col_t *col) {
    sl_ddl_col_t *a = realloc(*cols, (*n + 1) * sizeof *a);
    if (a == NULL) {
        sl_ddl_col_free(col);
        return fail(p, SL_ENOMEM, "out of memory");
    }
    a[(*n)++] = *col;
    *cols = a;
    return 0;
}

/* A table option name that takes one value ([=] value). */
static int is_table_option(const parser_t *p) {
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

/* Consumes one table option (not charset/collation) if the current token
 * starts one. Returns 1 if consumed. */
static int skip_table_option(parser_t *p) {
    if (kw(p, "DATA") || kw(p, "INDEX")) {
        if (!peek_kw(p, "DIRECTORY"))
            return 0;
        advance(p);
        advance(p);
        accept_punct(p, '=');
        advance(p);
        return 1;
    }
    if (kw(p, "UNION")) {
        advance(p);
        accept_punct(p, '=');
        skip_parens(p);
        return 1;
    }
    if (kw(p, "STORAGE")) {
        advance(p);
        advance(p);
        return 1;
    }
    if (kw(p, "WITH") && peek_kw(p, "SYSTEM")) {
        /* MariaDB: the table gets hidden row_start/row_end columns
         * unless it defines its own (apply.c). */
        advance(p);
        advance(p);
        if (expect_kw(p, "VERSIONING") == 0)
            p->st->versioning = 1;
        return 1;
    }
    if (kw(p, "START") && peek_kw(p, "TRANSACTION")) {
        advance(p);
        advance(p);
        return 1;
    }
    if (kw(p, "FORCE")) {
        advance(p);
        return 1;
    }
    if (!is_table_option(p))
        return 0;
    advance(p);
    accept_punct(p, '=');
    if (at_end(p))
        return fail(p, SL_EUNSUPPORTED, "expected an option value"), 1;
    advance(p);
    return 1;
}

/* [DEFAULT] CHARACTER SET / CHARSET / COLLATE with its value. Returns 1 if
 * consumed. */
static int parse_charset_option(parser_t *p, char **charset, char **collation) {
    if (kw(p, "DEFAULT") && (peek_kw(p, "CHARACTER") || peek_kw(p, "CHARSET") ||
                             peek_kw(p, "COLLATE") || peek_kw(p, "CHAR")))
        advance(p);
    if (kw(p, "CHARACTER") || kw(p, "CHAR")) {
        if (!peek_kw(p, "SET"))
            return 0;
        advance(p);
        advance(p);
    } else if (!accept_kw(p, "CHARSET")) {
        if (!accept_kw(p, "COLLATE"))
            return 0;
        free(*collation);
        *collation = parse_cs_name(p);
        return 1;
    }
    free(*charset);
    *charset = parse_cs_name(p);
    return 1;
}

static int parse_create_table(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    st->kind = SL_DDL_CREATE_TABLE;
    if (kw(p, "IF")) {
        advance(p);
        if (expect_kw(p, "NOT") != 0 || expect_kw(p, "EXISTS") != 0)
            return p->rc;
        st->if_not_exists = 1;
    }
    if (table_ref(p) != 0)
        return p->rc;
    int paren_like = 0;
    if (punct(p, '(') && peek_kw(p, "LIKE")) {
        advance(p);
        paren_like = 1;
    }
    if (accept_kw(p, "LIKE")) {
        st->kind = SL_DDL_CREATE_TABLE_LIKE;
        if (table_ref(p) != 0)
            return p->rc;
        if (paren_like && expect_punct(p, ')') != 0)
            return p->rc;
        accept_punct(p, ';');
        if (!at_end(p))
            return fail(p, SL_EUNSUPPORTED, "unexpected text after LIKE");
        return p->rc;
    }
    int has_list = 0;
    if (punct(p, '(')) {
        sl_ddl_tok_t t = peek(p);
        int sel = t.type == SL_DDL_TOK_PUNCT && p->lx.sql[t.off] == '(';
        if (t.type == SL_DDL_TOK_IDENT) {
            const char *w = p->lx.sql + t.off;
            sel = sl_ddl_word_eq(w, t.len, "SELECT") ||
                  sl_ddl_word_eq(w, t.len, "WITH") ||
                  sl_ddl_word_eq(w, t.len, "VALUES") ||
                  sl_ddl_word_eq(w, t.len, "TABLE");
        }
        if (sel)
            return fail(p, SL_EUNSUPPORTED,
                        "CREATE TABLE ... SELECT: the "
                        "columns come from a query");
        has_list = 1;
        advance(p);
        for (;;) {
            if (parse_index_elem(p, &st->pk, &st->npk, &st->has_pk) == 0) {
                sl_ddl_col_t col;
                if (parse_coldef(p, &col) != 0 ||
                    push_col(p, &st->cols, &st->ncols, &col) != 0) {
                    sl_ddl_col_free(&col);
                    return p->rc;
                }
            }
            if (p->rc)
                return p->rc;
            if (!accept_punct(p, ','))
                break;
        }
        if (expect_punct(p, ')') != 0)
            return p->rc;
    }
    for (int guard = 0; guard < 1000 && !at_end(p); guard++) {
        accept_punct(p, ',');
        if (at_end(p) || accept_punct(p, ';'))
            break;
        if (parse_charset_option(p, &st->charset, &st->collation) ||
            skip_table_option(p)) {
            if (p->rc)
                return p->rc;
            continue;
        }
        if (kw(p, "PARTITION") && peek_kw(p, "BY")) {
            skip_to_end(p); /* Partitioning changes no column. */
            break;
        }
        if (kw(p, "SELECT") || kw(p, "AS") || kw(p, "IGNORE") ||
            kw(p, "REPLACE") || kw(p, "WITH") || kw(p, "VALUES") ||
            kw(p, "TABLE") || punct(p, '('))
            return fail(p, SL_EUNSUPPORTED,
                        "CREATE TABLE ... SELECT: the "
                        "columns come from a query");
        return fail(p, SL_EUNSUPPORTED, "unknown table option");
    }
    if (!has_list)
        return fail(p, SL_EUNSUPPORTED, "CREATE TABLE without columns");
    return p->rc;
}

/* ---- ALTER TABLE -------------------------------------------------------- */

static sl_ddl_action_t *new_act(parser_t *p, sl_ddl_act_kind_t kind) {
    sl_ddl_stmt_t *st = p->st;
    sl_ddl_action_t *a = realloc(st->acts, (st->nacts + 1) * sizeof *a);
    if (a == NULL) {
        fail(p, SL_ENOMEM, "out of memory");
        return NULL;
    }
    st->acts = a;
    a = &st->acts[st->nacts++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->col.length = -1;
    return a;
}

static int parse_position(parser_t *p, sl_ddl_action_t *a) {
    if (accept_kw(p, "FIRST")) {
        a->pos = SL_DDL_POS_FIRST;
    } else if (accept_kw(p, "AFTER")) {
        a->pos = SL_DDL_POS_AFTER;
        a->after = parse_ident(p);
    }
    return p->rc;
}

static int is_partition_op(const parser_t *p) {
    static const char *const ops[] = {
        "COALESCE", "REORGANIZE", "EXCHANGE", "ANALYZE", "CHECK", "OPTIMIZE",
        "REBUILD",  "REPAIR",     "TRUNCATE", "DISCARD", "IMPORT"};
    if ((kw(p, "PARTITION") && peek_kw(p, "BY")) || kw(p, "REMOVE") ||
        kw(p, "UPGRADE"))
        return 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (kw(p, ops[i]) && peek_kw(p, "PARTITION"))
            return 1;
    return 0;
}

/* ALTER TABLE ADD of an index definition, if one follows: a PRIMARY KEY
 * becomes an ADD_PK action, other indexes are skipped. Returns 1 when an
 * index was read (p->rc tells whether it parsed), else 0. */
static int parse_add_index(parser_t *p) {
    char **pk = NULL;
    size_t npk = 0;
    int has_pk = 0;
    int r = parse_index_elem(p, &pk, &npk, &has_pk);
    if (has_pk && p->rc == 0) {
        sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_ADD_PK);
        if (a) {
            a->if_exists = has_pk == 2;
            a->names = pk;
            a->nnames = npk;
            pk = NULL;
            npk = 0;
        }
    }
    for (size_t i = 0; i < npk; i++)
        free(pk[i]);
    free(pk);
    return r;
}

static int parse_alter_add(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    if (kw(p, "PARTITION")) {
        skip_to_end(p);
        return p->rc;
    }
    if (kw(p, "SYSTEM") && peek_kw(p, "VERSIONING")) {
        advance(p);
        advance(p);
        new_act(p, SL_DDL_ACT_ADD_VERSIONING);
        return p->rc;
    }
    int explicit_column = accept_kw(p, "COLUMN");
    int ine = parse_if_not_exists(p);
    if (!explicit_column && !ine) {
        if (parse_add_index(p))
            return p->rc;
    } else if (kw(p, "PRIMARY") || kw(p, "UNIQUE") || kw(p, "INDEX") ||
               kw(p, "KEY") || kw(p, "FULLTEXT") || kw(p, "SPATIAL") ||
               kw(p, "FOREIGN") || kw(p, "CONSTRAINT")) {
        /* ADD INDEX IF NOT EXISTS is parsed as an index (MariaDB). */
        parse_add_index(p);
        return p->rc;
    }
    (void)st;
    if (accept_punct(p, '(')) {
        for (;;) {
            /* (a INT, INDEX (a)) is allowed too. */
            if (!parse_add_index(p)) {
                sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_ADD_COLUMN);
                if (a == NULL)
                    return p->rc;
                a->if_exists = ine;
                if (parse_coldef(p, &a->col) != 0)
                    return p->rc;
            }
            if (p->rc || !accept_punct(p, ','))
                break;
        }
        return expect_punct(p, ')');
    }
    sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_ADD_COLUMN);
    if (a == NULL)
        return p->rc;
    a->if_exists = ine;
    if (parse_coldef(p, &a->col) != 0)
        return p->rc;
    return parse_position(p, a);
}

static int parse_alter_drop(parser_t *p) {
    if (kw(p, "PRIMARY")) {
        advance(p);
        if (expect_kw(p, "KEY") == 0)
            new_act(p, SL_DDL_ACT_DROP_PK);
        return p->rc;
    }
    if (kw(p, "PARTITION")) {
        skip_to_end(p);
        return p->rc;
    }
    if (kw(p, "SYSTEM") && peek_kw(p, "VERSIONING")) {
        advance(p);
        advance(p);
        new_act(p, SL_DDL_ACT_DROP_VERSIONING);
        return p->rc;
    }
    if (kw(p, "INDEX") || kw(p, "KEY") || kw(p, "CONSTRAINT") ||
        kw(p, "CHECK") || (kw(p, "FOREIGN") && peek_kw(p, "KEY"))) {
        int is_index = kw(p, "INDEX") || kw(p, "KEY") || kw(p, "CONSTRAINT");
        if (accept_kw(p, "FOREIGN"))
            is_index = 0;
        advance(p);
        int ie = parse_if_exists(p);
        char *name = parse_ident(p);
        if (name && is_index && sl_ddl_word_eq(name, strlen(name), "PRIMARY")) {
            sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_DROP_PK);
            if (a)
                a->if_exists = ie;
        }
        free(name);
        return p->rc;
    }
    if (kw(p, "PERIOD") && peek_kw(p, "FOR")) {
        skip_element(p);
        return p->rc;
    }
    accept_kw(p, "COLUMN");
    sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_DROP_COLUMN);
    if (a == NULL)
        return p->rc;
    a->if_exists = parse_if_exists(p);
    a->name = parse_field_ident(p);
    if (!accept_kw(p, "RESTRICT"))
        accept_kw(p, "CASCADE");
    return p->rc;
}

/* ALTER [COLUMN] c SET DEFAULT ... / DROP DEFAULT / SET [IN]VISIBLE, and
 * ALTER INDEX / CHECK / CONSTRAINT: none changes the row image. */
static int parse_alter_alter(parser_t *p) {
    if (accept_kw(p, "INDEX") || accept_kw(p, "KEY")) {
        free(parse_ident(p));
        if (kw(p, "NOT"))
            advance(p);
        advance(p); /* VISIBLE, INVISIBLE, IGNORED */
        return p->rc;
    }
    if (accept_kw(p, "CHECK") || accept_kw(p, "CONSTRAINT")) {
        free(parse_ident(p));
        if (kw(p, "NOT"))
            advance(p);
        return expect_kw(p, "ENFORCED");
    }
    accept_kw(p, "COLUMN");
    parse_if_exists(p);
    free(parse_ident(p));
    if (p->rc)
        return p->rc;
    if (accept_kw(p, "SET")) {
        if (accept_kw(p, "DEFAULT"))
            return skip_value_expr(p);
        if (accept_kw(p, "VISIBLE") || accept_kw(p, "INVISIBLE"))
            return p->rc;
        return fail(p, SL_EUNSUPPORTED, "expected DEFAULT or VISIBLE");
    }
    if (accept_kw(p, "DROP"))
        return expect_kw(p, "DEFAULT");
    return fail(p, SL_EUNSUPPORTED, "expected SET or DROP");
}

static int is_spec_head(const parser_t *p) {
    static const char *const heads[] = {
        "ADD",     "DROP",    "MODIFY",    "CHANGE",  "RENAME",  "ALTER",
        "CONVERT", "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "ENABLE",
        "DISABLE", "ORDER",   "WITH",      "WITHOUT", "FORCE"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (kw(p, heads[i]))
            return 1;
    return is_table_option(p);
}

static int parse_alter_spec(parser_t *p) {
    if (is_partition_op(p)) {
        skip_to_end(p);
        return p->rc;
    }
    if (accept_kw(p, "ADD"))
        return parse_alter_add(p);
    if (accept_kw(p, "DROP"))
        return parse_alter_drop(p);
    if (kw(p, "MODIFY") || kw(p, "CHANGE")) {
        int change = kw(p, "CHANGE");
        advance(p);
        accept_kw(p, "COLUMN");
        sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_MODIFY_COLUMN);
        if (a == NULL)
            return p->rc;
        a->if_exists = parse_if_exists(p);
        if (change) {
            a->name = parse_field_ident(p);
            if (a->name == NULL)
                return p->rc;
        }
        if (parse_coldef(p, &a->col) != 0)
            return p->rc;
        if (!change) {
            a->name = strdup(a->col.name);
            if (a->name == NULL)
                return fail(p, SL_ENOMEM, "out of memory");
        }
        return parse_position(p, a);
    }
    if (accept_kw(p, "RENAME")) {
        if (accept_kw(p, "COLUMN")) {
            sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_RENAME_COLUMN);
            if (a == NULL)
                return p->rc;
            a->if_exists = parse_if_exists(p);
            a->name = parse_ident(p);
            if (expect_kw(p, "TO") != 0)
                return p->rc;
            a->name2 = parse_ident(p);
            return p->rc;
        }
        if (accept_kw(p, "INDEX") || accept_kw(p, "KEY")) {
            parse_if_exists(p);
            free(parse_ident(p));
            if (expect_kw(p, "TO") == 0)
                free(parse_ident(p));
            return p->rc;
        }
        if (!accept_kw(p, "TO"))
            accept_kw(p, "AS");
        sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_RENAME_TABLE);
        if (a == NULL)
            return p->rc;
        if (parse_table_name(p, &a->db, &a->table) != 0)
            return p->rc;
        char *db = a->db ? strdup(a->db) : NULL, *t = strdup(a->table);
        if ((a->db && db == NULL) || t == NULL) {
            free(db);
            free(t);
            return fail(p, SL_ENOMEM, "out of memory");
        }
        return push_name(p, db, t);
    }
    if (accept_kw(p, "ALTER"))
        return parse_alter_alter(p);
    if (accept_kw(p, "CONVERT")) {
        if (kw(p, "PARTITION") || kw(p, "TABLE"))
            return fail(p, SL_EUNSUPPORTED,
                        "CONVERT PARTITION/TABLE creates "
                        "or drops a table");
        if (expect_kw(p, "TO") != 0)
            return p->rc;
        sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_CONVERT_CHARSET);
        if (a == NULL)
            return p->rc;
        if (!parse_charset_option(p, &a->charset, &a->collation))
            return fail(p, SL_EUNSUPPORTED, "expected CHARACTER SET");
        if (p->rc == 0 && kw(p, "COLLATE"))
            parse_charset_option(p, &a->charset, &a->collation);
        if (a->charset && strcmp(a->charset, "default") == 0)
            return fail(p, SL_EUNSUPPORTED, "CONVERT TO CHARACTER SET DEFAULT");
        return p->rc;
    }
    {
        char *cs = NULL, *coll = NULL;
        if (parse_charset_option(p, &cs, &coll)) {
            sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_TABLE_CHARSET);
            if (a == NULL) {
                free(cs);
                free(coll);
                return p->rc;
            }
            a->charset = cs;
            a->collation = coll;
            return p->rc;
        }
    }
    if (accept_kw(p, "ENABLE") || accept_kw(p, "DISABLE"))
        return expect_kw(p, "KEYS");
    if ((kw(p, "DISCARD") || kw(p, "IMPORT")) && peek_kw(p, "TABLESPACE")) {
        advance(p);
        advance(p);
        return p->rc;
    }
    if (accept_kw(p, "ORDER")) {
        if (expect_kw(p, "BY") != 0)
            return p->rc;
        for (int guard = 0; guard < 4096; guard++) {
            free(parse_ident(p));
            if (!accept_kw(p, "ASC"))
                accept_kw(p, "DESC");
            if (!punct(p, ','))
                break;
            sl_ddl_lexer_t save = p->lx;
            sl_ddl_tok_t savetok = p->tok;
            advance(p);
            if (p->tok.type == SL_DDL_TOK_QIDENT ||
                (p->tok.type == SL_DDL_TOK_IDENT && !is_spec_head(p) &&
                 !is_partition_op(p)))
                continue;
            p->lx = save;
            p->tok = savetok;
            break;
        }
        return p->rc;
    }
    if ((kw(p, "WITH") || kw(p, "WITHOUT")) && peek_kw(p, "VALIDATION")) {
        advance(p);
        advance(p);
        return p->rc;
    }
    if (kw(p, "WITH") && peek_kw(p, "SYSTEM")) {
        /* ALTER TABLE t WITH SYSTEM VERSIONING = ADD SYSTEM VERSIONING. */
        advance(p);
        advance(p);
        if (expect_kw(p, "VERSIONING") == 0)
            new_act(p, SL_DDL_ACT_ADD_VERSIONING);
        return p->rc;
    }
    if (accept_kw(p, "SECONDARY_LOAD") || accept_kw(p, "SECONDARY_UNLOAD"))
        return p->rc;
    if (skip_table_option(p))
        return p->rc;
    return fail(p, SL_EUNSUPPORTED, "unknown ALTER TABLE specification");
}

static int parse_alter_table(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    st->kind = SL_DDL_ALTER_TABLE;
    parse_if_exists(p);
    if (table_ref(p) != 0)
        return p->rc;
    if (accept_kw(p, "WAIT"))
        advance(p);
    else
        accept_kw(p, "NOWAIT");
    for (int guard = 0; guard < 100000 && !at_end(p); guard++) {
        while (accept_punct(p, ','))
            ;
        if (at_end(p) || accept_punct(p, ';'))
            break;
        if (parse_alter_spec(p) != 0)
            return p->rc;
    }
    if (!at_end(p))
        return fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}

/* ---- Other statements --------------------------------------------------- */

static int parse_rename_table(parser_t *p) {
    p->st->kind = SL_DDL_RENAME_TABLE;
    for (int guard = 0; guard < 100000; guard++) {
        parse_if_exists(p);
        if (table_ref(p) != 0)
            return p->rc;
        if (accept_kw(p, "WAIT"))
            advance(p);
        else
            accept_kw(p, "NOWAIT");
        if (expect_kw(p, "TO") != 0 || table_ref(p) != 0)
            return p->rc;
        if (!accept_punct(p, ','))
            break;
    }
    accept_punct(p, ';');
    if (!at_end(p))
        return fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}

static int parse_drop_table(parser_t *p) {
    p->st->kind = SL_DDL_DROP_TABLE;
    parse_if_exists(p);
    for (int guard = 0; guard < 100000; guard++) {
        if (table_ref(p) != 0)
            return p->rc;
        if (!accept_punct(p, ','))
            break;
    }
    if (accept_kw(p, "WAIT"))
        advance(p);
    else
        accept_kw(p, "NOWAIT");
    if (!accept_kw(p, "RESTRICT"))
        accept_kw(p, "CASCADE");
    accept_kw(p, "FORCE");
    accept_punct(p, ';');
    if (!at_end(p))
        return fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}

static int parse_database_opts(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    for (int guard = 0; guard < 1000 && !at_end(p); guard++) {
        if (accept_punct(p, ';'))
            continue;
        if (parse_charset_option(p, &st->charset, &st->collation))
            continue;
        advance(p); /* ENCRYPTION, COMMENT, READ ONLY: no column change. */
    }
    return p->rc;
}

/* CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX name [USING x] ON t (...) ... */
static int parse_create_index(parser_t *p) {
    p->st->kind = SL_DDL_CREATE_INDEX;
    parse_if_not_exists(p);
    free(parse_ident(p));
    if (accept_kw(p, "USING"))
        advance(p);
    if (expect_kw(p, "ON") != 0)
        return p->rc;
    table_ref(p);
    skip_to_end(p);
    return p->rc;
}

static int parse_drop_index(parser_t *p) {
    p->st->kind = SL_DDL_DROP_INDEX;
    if (!accept_kw(p, "ONLINE"))
        accept_kw(p, "OFFLINE");
    int ie = parse_if_exists(p);
    char *name = parse_ident(p);
    if (name == NULL)
        return p->rc;
    int primary = sl_ddl_word_eq(name, strlen(name), "PRIMARY");
    free(name);
    if (expect_kw(p, "ON") != 0 || table_ref(p) != 0)
        return p->rc;
    if (primary) {
        sl_ddl_action_t *a = new_act(p, SL_DDL_ACT_DROP_PK);
        if (a)
            a->if_exists = ie;
    }
    skip_to_end(p); /* ALGORITHM=, LOCK=, WAIT n. */
    return p->rc;
}

static int parse_create(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    /* Modifiers before the object word, bounded: OR REPLACE, TEMPORARY,
     * UNIQUE, DEFINER = x, ALGORITHM = x, SQL SECURITY x, ... */
    int unique_like = 0;
    for (int guard = 0; guard < 32 && !at_end(p); guard++) {
        if (kw(p, "OR") && peek_kw(p, "REPLACE")) {
            advance(p);
            advance(p);
            st->or_replace = 1;
        } else if (accept_kw(p, "TEMPORARY")) {
            st->temporary = 1;
        } else if (kw(p, "TABLE")) {
            advance(p);
            return parse_create_table(p);
        } else if (kw(p, "DATABASE") || kw(p, "SCHEMA")) {
            advance(p);
            st->kind = SL_DDL_CREATE_DATABASE;
            if (parse_if_not_exists(p))
                st->if_not_exists = 1;
            st->database = parse_ident(p);
            if (st->database == NULL)
                return p->rc;
            return parse_database_opts(p);
        } else if (kw(p, "INDEX")) {
            advance(p);
            return parse_create_index(p);
        } else if (accept_kw(p, "UNIQUE") || accept_kw(p, "FULLTEXT") ||
                   accept_kw(p, "SPATIAL") || accept_kw(p, "ONLINE") ||
                   accept_kw(p, "OFFLINE") || accept_kw(p, "VECTOR")) {
            unique_like = 1;
        } else if (kw(p, "SEQUENCE")) {
            advance(p);
            parse_if_not_exists(p);
            table_ref(p);
            st->kind = SL_DDL_OTHER_TABLE;
            return fail(p, SL_EUNSUPPORTED,
                        "CREATE SEQUENCE: sequences "
                        "are not modelled by the schema history");
        } else if (p->tok.type == SL_DDL_TOK_PUNCT) {
            advance(p); /* DEFINER = `u`@`h` */
        } else if (kw(p, "REFERENCE") && unique_like) {
            return 0; /* CREATE SPATIAL REFERENCE SYSTEM */
        } else if (p->tok.type == SL_DDL_TOK_IDENT && unique_like) {
            break;
        } else if (kw(p, "VIEW") || kw(p, "PROCEDURE") || kw(p, "FUNCTION") ||
                   kw(p, "TRIGGER") || kw(p, "EVENT") || kw(p, "USER") ||
                   kw(p, "ROLE") || kw(p, "SERVER") || kw(p, "TABLESPACE") ||
                   kw(p, "LOGFILE") || kw(p, "PACKAGE") || kw(p, "SPATIAL") ||
                   kw(p, "RESOURCE") || kw(p, "AGGREGATE") ||
                   kw(p, "SYNONYM")) {
            return 0;
        } else {
            advance(p);
        }
    }
    if (unique_like)
        return fail(p, SL_EUNSUPPORTED, "expected INDEX");
    return 0;
}

static int parse_statement(parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    if (accept_kw(p, "CREATE"))
        return parse_create(p);
    if (accept_kw(p, "ALTER")) {
        for (int guard = 0; guard < 8; guard++) {
            if (!accept_kw(p, "ONLINE") && !accept_kw(p, "OFFLINE") &&
                !accept_kw(p, "IGNORE"))
                break;
        }
        if (accept_kw(p, "TABLE"))
            return parse_alter_table(p);
        if (accept_kw(p, "DATABASE") || accept_kw(p, "SCHEMA")) {
            st->kind = SL_DDL_ALTER_DATABASE;
            if (p->tok.type == SL_DDL_TOK_QIDENT ||
                (p->tok.type == SL_DDL_TOK_IDENT && !kw(p, "DEFAULT") &&
                 !kw(p, "CHARACTER") && !kw(p, "CHARSET") &&
                 !kw(p, "COLLATE") && !kw(p, "ENCRYPTION") && !kw(p, "READ") &&
                 !kw(p, "COMMENT")))
                st->database = parse_ident(p);
            return parse_database_opts(p);
        }
        return 0; /* VIEW, USER, EVENT, PROCEDURE, SEQUENCE, SERVER... */
    }
    if (accept_kw(p, "DROP")) {
        if (accept_kw(p, "TEMPORARY")) {
            st->temporary = 1;
            if (!accept_kw(p, "TABLE") && !accept_kw(p, "TABLES"))
                return fail(p, SL_EUNSUPPORTED, "expected TABLE");
            return parse_drop_table(p);
        }
        if (accept_kw(p, "TABLE") || accept_kw(p, "TABLES") ||
            accept_kw(p, "SEQUENCE"))
            return parse_drop_table(p);
        if (accept_kw(p, "DATABASE") || accept_kw(p, "SCHEMA")) {
            st->kind = SL_DDL_DROP_DATABASE;
            parse_if_exists(p);
            st->database = parse_ident(p);
            return p->rc;
        }
        if (accept_kw(p, "INDEX"))
            return parse_drop_index(p);
        return 0;
    }
    if (accept_kw(p, "RENAME")) {
        if (accept_kw(p, "TABLE") || accept_kw(p, "TABLES"))
            return parse_rename_table(p);
        return 0; /* RENAME USER */
    }
    if (accept_kw(p, "TRUNCATE")) {
        accept_kw(p, "TABLE");
        st->kind = SL_DDL_TRUNCATE_TABLE;
        return table_ref(p);
    }
    if (kw(p, "IMPORT") && peek_kw(p, "TABLE")) {
        st->kind = SL_DDL_OTHER_TABLE;
        return fail(p, SL_EUNSUPPORTED,
                    "IMPORT TABLE creates tables from "
                    "files");
    }
    return 0;
}

int sl_ddl_parse(const char *sql, size_t len, const sl_ddl_opts_t *opts,
                 sl_ddl_stmt_t *stmt, char *err, size_t errlen) {
    parser_t p;
    memset(stmt, 0, sizeof *stmt);
    memset(&p, 0, sizeof p);
    if (err && errlen)
        err[0] = '\0';
    sl_ddl_lex_init(&p.lx, sql, len, opts);
    p.err = err;
    p.errlen = errlen;
    p.st = stmt;
    advance(&p);
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
    memset(st, 0, sizeof *st);
}
