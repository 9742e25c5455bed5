/*
 * Column definitions of the DDL parser (ddl_int.h): a column's name,
 * its type with the parameters that decide COLUMN_TYPE, and the
 * attributes after it (nullability, charset, keys, versioning,
 * compression), skipping those that change nothing in a row image.
 */
#include "ddl_int.h"

#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* ---- Column definitions ------------------------------------------------- */

int sl__ddl_push_col_unique(sl__ddl_parser_t *p, const char *name) {
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_INDEX);
    if (a == NULL)
        return p->rc;
    a->idx.unique = 1;
    char *n = strdup(name);
    long long *pre = malloc(sizeof *pre);
    if (n == NULL || pre == NULL) {
        free(n);
        free(pre);
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    }
    a->idx.prefix = pre;
    pre[0] = -1;
    return sl__ddl_push_str(p, &a->idx.parts, &a->idx.nparts, n);
}

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
static int parse_len(sl__ddl_parser_t *p, long long *a, long long *b) {
    if (!sl__ddl_punct(p, '('))
        return 0;
    sl__ddl_advance(p);
    for (int i = 0; i < 2; i++) {
        if (p->tok.type != SL_DDL_TOK_NUMBER) {
            sl__ddl_fail(p, SL_EUNSUPPORTED, "expected a length");
            return -1;
        }
        long long v = 0;
        int frac = 0;
        for (size_t k = 0; k < p->tok.len; k++) {
            char c = p->lx.sql[p->tok.off + k];
            if (frac) {
                if (!is_digit((unsigned char)c)) {
                    sl__ddl_fail(p, SL_EUNSUPPORTED, "expected a length");
                    return -1;
                }
                continue;
            }
            if (c == '.' && k > 0 && i == 0) {
                frac = 1;
                continue;
            }
            if (!is_digit((unsigned char)c)) {
                sl__ddl_fail(p, SL_EUNSUPPORTED, "expected an integer length");
                return -1;
            }
            if (v > 1000000000000LL) {
                sl__ddl_fail(p, SL_EUNSUPPORTED, "length out of range");
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        *(i == 0 ? a : b) = v;
        sl__ddl_advance(p);
        if (frac)
            break;
        if (i == 0 && b != NULL && sl__ddl_accept_punct(p, ','))
            continue;
        break;
    }
    if (sl__ddl_expect_punct(p, ')') != 0)
        return -1;
    return 1;
}

static int set_type(sl__ddl_parser_t *p, sl_ddl_col_t *col,
                    const char *data_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_type(sl__ddl_parser_t *p, sl_ddl_col_t *col,
                    const char *data_type, const char *fmt, ...) {
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
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    return 0;
}

/* UNSIGNED / SIGNED / ZEROFILL after a numeric type. */
static void parse_sign(sl__ddl_parser_t *p, int *uns, int *zf) {
    for (;;) {
        if (sl__ddl_accept_kw(p, "UNSIGNED"))
            *uns = 1;
        else if (sl__ddl_accept_kw(p, "SIGNED"))
            ;
        else if (sl__ddl_accept_kw(p, "ZEROFILL"))
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
static int mysql_no_widths(const sl__ddl_parser_t *p) {
    return !p->lx.opts.is_mariadb && p->lx.opts.version >= 80019;
}

static int parse_int_type(sl__ddl_parser_t *p, sl_ddl_col_t *col,
                          const char *name, int wsigned, int wunsigned) {
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

static int parse_enum_values(sl__ddl_parser_t *p, sl_ddl_col_t *col,
                             const char *name) {
    sl_buf_t ct = SL_BUF_INIT;
    if (sl__ddl_expect_punct(p, '(') != 0)
        return p->rc;
    int rc = sl_buf_printf(&ct, "%s(", name);
    for (;;) {
        if (p->tok.type != SL_DDL_TOK_STRING) {
            sl_buf_free(&ct);
            return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected an %s value",
                                name);
        }
        size_t vlen = 0;
        char *v = NULL;
        if (sl_ddl_tok_value(&p->lx, &p->tok, &v, &vlen) != 0 ||
            sl__ddl_push_str(p, &col->values, &col->nvalues, v) != 0) {
            sl_buf_free(&ct);
            return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
        }
        /* COLUMN_TYPE doubles quotes and backslashes. */
        rc |= sl_buf_append_u8(&ct, '\'');
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] == '\'' || v[i] == '\\')
                rc |= sl_buf_append_u8(&ct, (uint8_t)v[i]);
            rc |= sl_buf_append_u8(&ct, (uint8_t)v[i]);
        }
        rc |= sl_buf_append_u8(&ct, '\'');
        sl__ddl_advance(p);
        if (sl__ddl_accept_punct(p, ',')) {
            rc |= sl_buf_append_u8(&ct, ',');
            continue;
        }
        break;
    }
    rc |= sl_buf_append_u8(&ct, ')');
    const char *cstr;
    if (rc != 0 || sl_buf_cstr(&ct, &cstr) != 0 ||
        sl__ddl_expect_punct(p, ')') != 0) {
        sl_buf_free(&ct);
        return p->rc ? p->rc : sl__ddl_fail(p, SL_ENOMEM, "out of memory");
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

static int set_charset(sl__ddl_parser_t *p, sl_ddl_col_t *col, const char *cs) {
    free(col->charset);
    col->charset = strdup(cs);
    return col->charset ? 0 : sl__ddl_fail(p, SL_ENOMEM, "out of memory");
}

static int text_type(sl__ddl_parser_t *p, sl_ddl_col_t *col, const char *name,
                     long long def_len, int binary) {
    long long n = def_len;
    if (parse_len(p, &n, NULL) < 0)
        return p->rc;
    if (n < 0 &&
        (strcmp(name, "varchar") == 0 || strcmp(name, "varbinary") == 0))
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "%s needs a length", name);
    col->length = n;
    col->is_text = !binary;
    col->is_binary = binary;
    return set_type(p, col, name, "%s(%lld)", name, n);
}

/* Reads a type name with its parameters into col. */
static int parse_type(sl__ddl_parser_t *p, sl_ddl_col_t *col) {
    if (p->tok.type != SL_DDL_TOK_IDENT)
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected a column type");
    const char *w = p->lx.sql + p->tok.off;
    size_t n = p->tok.len;
#define IS(word) sl_ddl_word_eq(w, n, word)
    col->length = -1;
    if (IS("TINYINT") || IS("INT1")) {
        sl__ddl_advance(p);
        return parse_int_type(p, col, "tinyint", 4, 3);
    }
    if (IS("SMALLINT") || IS("INT2")) {
        sl__ddl_advance(p);
        return parse_int_type(p, col, "smallint", 6, 5);
    }
    if (IS("MEDIUMINT") || IS("INT3") || IS("MIDDLEINT")) {
        sl__ddl_advance(p);
        return parse_int_type(p, col, "mediumint", 9, 8);
    }
    if (IS("INT") || IS("INTEGER") || IS("INT4")) {
        sl__ddl_advance(p);
        return parse_int_type(p, col, "int", 11, 10);
    }
    if (IS("BIGINT") || IS("INT8")) {
        sl__ddl_advance(p);
        return parse_int_type(p, col, "bigint", 20, 20);
    }
    if (IS("BOOL") || IS("BOOLEAN")) {
        sl__ddl_advance(p);
        return set_type(p, col, "tinyint", "tinyint(1)");
    }
    if (IS("SERIAL")) {
        sl__ddl_advance(p);
        col->is_unsigned = 1;
        col->not_null = 1;
        col->unique = 1;
        return set_type(p, col, "bigint",
                        mysql_no_widths(p) ? "bigint unsigned"
                                           : "bigint(20) unsigned");
    }
    if (IS("DECIMAL") || IS("DEC") || IS("NUMERIC") || IS("FIXED")) {
        sl__ddl_advance(p);
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
        sl__ddl_advance(p);
        if (is_double_kw)
            sl__ddl_accept_kw(p, "PRECISION");
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
        sl__ddl_advance(p);
        long long m = 1;
        if (parse_len(p, &m, NULL) < 0)
            return p->rc;
        return set_type(p, col, "bit", "bit(%lld)", m);
    }
    if (IS("DATE")) {
        sl__ddl_advance(p);
        return set_type(p, col, "date", "date");
    }
    if (IS("TIME") || IS("DATETIME") || IS("TIMESTAMP")) {
        const char *t = IS("TIME")       ? "time"
                        : IS("DATETIME") ? "datetime"
                                         : "timestamp";
        sl__ddl_advance(p);
        long long fsp = 0;
        if (parse_len(p, &fsp, NULL) < 0)
            return p->rc;
        if (fsp > 0)
            return set_type(p, col, t, "%s(%lld)", t, fsp);
        return set_type(p, col, t, "%s", t);
    }
    if (IS("YEAR")) {
        sl__ddl_advance(p);
        long long m = 4;
        if (parse_len(p, &m, NULL) < 0)
            return p->rc;
        int uns = 0, zf = 0;
        parse_sign(p, &uns, &zf);
        if (mysql_no_widths(p))
            return set_type(p, col, "year", "year");
        /* MariaDB keeps YEAR(2), as MySQL did before 5.7.5; every other
         * width is YEAR(4). */
        if (m == 2 && (p->lx.opts.is_mariadb || p->lx.opts.version == 0 ||
                       p->lx.opts.version < 50705))
            return set_type(p, col, "year", "year(2)");
        return set_type(p, col, "year", "year(4)");
    }
    if (IS("NATIONAL") || IS("NCHAR") || IS("NVARCHAR")) {
        int varying = IS("NVARCHAR");
        int national = IS("NATIONAL");
        sl__ddl_advance(p);
        if (national) {
            if (sl__ddl_accept_kw(p, "VARCHAR"))
                varying = 1;
            else if (sl__ddl_accept_kw(p, "CHAR") ||
                     sl__ddl_accept_kw(p, "CHARACTER"))
                varying = sl__ddl_accept_kw(p, "VARYING");
            else
                return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                    "expected CHAR or VARCHAR");
        } else if (!varying && (sl__ddl_accept_kw(p, "VARCHAR") ||
                                sl__ddl_accept_kw(p, "VARYING"))) {
            varying = 1;
        }
        if (text_type(p, col, varying ? "varchar" : "char", varying ? -1 : 1,
                      0) != 0)
            return p->rc;
        return set_charset(p, col, "utf8mb3");
    }
    if (IS("CHAR") || IS("CHARACTER")) {
        sl__ddl_advance(p);
        if (sl__ddl_accept_kw(p, "VARYING"))
            return text_type(p, col, "varchar", -1, 0);
        if (text_type(p, col, "char", 1, 0) != 0)
            return p->rc;
        if (sl__ddl_accept_kw(p, "BYTE"))
            return text_type(p, col, "binary", col->length, 1);
        return 0;
    }
    if (IS("VARCHAR") || IS("VARCHARACTER")) {
        sl__ddl_advance(p);
        return text_type(p, col, "varchar", -1, 0);
    }
    if (IS("BINARY")) {
        sl__ddl_advance(p);
        return text_type(p, col, "binary", 1, 1);
    }
    if (IS("VARBINARY")) {
        sl__ddl_advance(p);
        return text_type(p, col, "varbinary", -1, 1);
    }
    if (IS("TINYTEXT") || IS("TEXT") || IS("MEDIUMTEXT") || IS("LONGTEXT")) {
        char t[16];
        snprintf(t, sizeof t, "%.*s", (int)n, w);
        sl__ddl_lower_str(t);
        sl__ddl_advance(p);
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
        sl__ddl_lower_str(t);
        sl__ddl_advance(p);
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
        sl__ddl_advance(p);
        if (sl__ddl_accept_kw(p, "VARBINARY")) {
            col->is_binary = 1;
            return set_type(p, col, "mediumblob", "mediumblob");
        }
        if (sl__ddl_accept_kw(p, "VARCHAR") ||
            sl__ddl_accept_kw(p, "VARCHARACTER")) {
        } else if (sl__ddl_accept_kw(p, "CHAR") ||
                   sl__ddl_accept_kw(p, "CHARACTER")) {
            if (sl__ddl_expect_kw(p, "VARYING") != 0)
                return p->rc;
        }
        col->is_text = 1;
        return set_type(p, col, "mediumtext", "mediumtext");
    }
    if (IS("ENUM") || IS("SET")) {
        const char *t = IS("ENUM") ? "enum" : "set";
        sl__ddl_advance(p);
        return parse_enum_values(p, col, t);
    }
    if (IS("JSON")) {
        sl__ddl_advance(p);
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
            sl__ddl_lower_str(t);
            sl__ddl_advance(p);
            return set_type(p, col, t, "%s", t);
        }
    }
    if (IS("VECTOR")) {
        sl__ddl_advance(p);
        long long d = 2048;
        if (parse_len(p, &d, NULL) < 0)
            return p->rc;
        return set_type(p, col, "vector", "vector(%lld)", d);
    }
#undef IS
    return sl__ddl_fail(p, SL_EUNSUPPORTED, "unknown column type");
}

/* REFERENCES tbl (cols) [MATCH x] [ON DELETE|UPDATE action]... */
static int skip_references(sl__ddl_parser_t *p) {
    char *db = NULL, *t = NULL;
    sl__ddl_parse_table_name(p, &db, &t);
    free(db);
    free(t);
    if (sl__ddl_punct(p, '(') && sl__ddl_skip_parens(p) != 0)
        return p->rc;
    for (int guard = 0; guard < 16 && !sl__ddl_at_end(p); guard++) {
        if (sl__ddl_accept_kw(p, "MATCH")) {
            sl__ddl_advance(p);
        } else if (sl__ddl_kw(p, "ON") && (sl__ddl_peek_kw(p, "DELETE") ||
                                           sl__ddl_peek_kw(p, "UPDATE"))) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            if (sl__ddl_accept_kw(p, "SET") || sl__ddl_accept_kw(p, "NO"))
                sl__ddl_advance(p); /* NULL, DEFAULT, ACTION */
            else
                sl__ddl_advance(p); /* RESTRICT, CASCADE */
        } else {
            break;
        }
    }
    return p->rc;
}

int sl__ddl_skip_check(sl__ddl_parser_t *p) {
    if (sl__ddl_skip_parens(p) != 0)
        return p->rc;
    if (sl__ddl_kw(p, "NOT") && sl__ddl_peek_kw(p, "ENFORCED")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
    } else {
        sl__ddl_accept_kw(p, "ENFORCED");
    }
    return p->rc;
}

/* Column attributes after the type, up to the ',' or ')' that ends the
 * definition, or FIRST/AFTER in ALTER TABLE. Unknown words are an error:
 * guessing past them could hide a change of nullability or charset. */
static int parse_col_attrs(sl__ddl_parser_t *p, sl_ddl_col_t *col) {
    for (int guard = 0; guard < 10000; guard++) {
        if (sl__ddl_at_end(p) || sl__ddl_punct(p, ',') ||
            sl__ddl_punct(p, ')') || sl__ddl_punct(p, ';') ||
            sl__ddl_kw(p, "FIRST") || sl__ddl_kw(p, "AFTER") ||
            (sl__ddl_kw(p, "PARTITION") && sl__ddl_peek_kw(p, "BY")))
            return p->rc; /* ALTER ... ADD c INT PARTITION BY needs no ','. */
        if (sl__ddl_kw(p, "NOT") && sl__ddl_peek_kw(p, "NULL")) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            col->not_null = 1;
        } else if (sl__ddl_accept_kw(p, "NULL")) {
            col->not_null = 0;
        } else if (sl__ddl_accept_kw(p, "DEFAULT")) {
            sl__ddl_skip_value_expr(p);
        } else if (sl__ddl_accept_kw(p, "AUTO_INCREMENT")) {
        } else if (sl__ddl_accept_kw(p, "UNIQUE")) {
            sl__ddl_accept_kw(p, "KEY");
            col->unique = 1;
        } else if (sl__ddl_accept_kw(p, "PRIMARY")) {
            if (sl__ddl_expect_kw(p, "KEY") == 0)
                col->pk = col->not_null = 1;
        } else if (sl__ddl_accept_kw(p, "KEY")) {
            col->pk = col->not_null = 1;
        } else if (sl__ddl_accept_kw(p, "COMMENT")) {
            sl__ddl_accept_punct(p, '=');
            if (p->tok.type != SL_DDL_TOK_STRING)
                return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                    "expected a comment string");
            sl__ddl_advance(p);
        } else if (sl__ddl_accept_kw(p, "COLLATE")) {
            free(col->collation);
            col->collation = sl__ddl_parse_cs_name(p);
            if (col->collation && strcmp(col->collation, "default") == 0) {
                free(col->collation); /* COLLATE DEFAULT: no charset. */
                col->collation = NULL;
            }
        } else if (sl__ddl_kw(p, "CHARACTER") || sl__ddl_kw(p, "CHARSET") ||
                   sl__ddl_kw(p, "CHAR")) {
            if (!sl__ddl_accept_kw(p, "CHARSET")) {
                sl__ddl_advance(p);
                if (sl__ddl_expect_kw(p, "SET") != 0)
                    return p->rc;
            }
            free(col->charset);
            col->charset = sl__ddl_parse_cs_name(p);
        } else if (sl__ddl_accept_kw(p, "BINARY")) {
            /* The charset's _bin collation: no change of charset. */
        } else if (sl__ddl_accept_kw(p, "ASCII")) {
            set_charset(p, col, "latin1");
        } else if (sl__ddl_accept_kw(p, "UNICODE")) {
            set_charset(p, col, "ucs2");
        } else if (sl__ddl_accept_kw(p, "BYTE")) {
            set_charset(p, col, "binary");
        } else if (sl__ddl_kw(p, "UNSIGNED") || sl__ddl_kw(p, "SIGNED") ||
                   sl__ddl_kw(p, "ZEROFILL")) {
            return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                "UNSIGNED/ZEROFILL out of place");
        } else if (sl__ddl_accept_kw(p, "COLUMN_FORMAT") ||
                   sl__ddl_accept_kw(p, "STORAGE")) {
            sl__ddl_advance(p);
        } else if (sl__ddl_accept_kw(p, "ENGINE_ATTRIBUTE") ||
                   sl__ddl_accept_kw(p, "SECONDARY_ENGINE_ATTRIBUTE")) {
            sl__ddl_accept_punct(p, '=');
            sl__ddl_advance(p);
        } else if (sl__ddl_kw(p, "GENERATED") || sl__ddl_kw(p, "AS")) {
            /* [GENERATED ALWAYS] AS (expr) | AS ROW START | AS ROW END:
             * an explicit row start/end column of system versioning. */
            if (sl__ddl_accept_kw(p, "GENERATED") &&
                sl__ddl_expect_kw(p, "ALWAYS") != 0)
                return p->rc;
            if (sl__ddl_expect_kw(p, "AS") != 0)
                return p->rc;
            if (sl__ddl_accept_kw(p, "ROW")) {
                if (!sl__ddl_accept_kw(p, "START") &&
                    !sl__ddl_accept_kw(p, "END"))
                    return sl__ddl_fail(p, SL_EUNSUPPORTED,
                                        "expected START or END");
                col->row_period = 1;
                col->not_null = 1; /* As the server makes them. */
            } else if (sl__ddl_skip_parens(p) != 0) {
                return p->rc;
            }
        } else if (sl__ddl_accept_kw(p, "VIRTUAL") ||
                   sl__ddl_accept_kw(p, "STORED") ||
                   sl__ddl_accept_kw(p, "PERSISTENT") ||
                   sl__ddl_accept_kw(p, "INVISIBLE") ||
                   sl__ddl_accept_kw(p, "VISIBLE")) {
        } else if (sl__ddl_kw(p, "ON") && sl__ddl_peek_kw(p, "UPDATE")) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            sl__ddl_skip_value_expr(p);
        } else if (sl__ddl_accept_kw(p, "REFERENCES")) {
            skip_references(p);
        } else if (sl__ddl_accept_kw(p, "CONSTRAINT")) {
            if (!sl__ddl_kw(p, "CHECK"))
                sl__ddl_advance(p); /* The constraint's name. */
            if (sl__ddl_expect_kw(p, "CHECK") != 0)
                return p->rc;
            sl__ddl_skip_check(p);
        } else if (sl__ddl_accept_kw(p, "CHECK")) {
            sl__ddl_skip_check(p);
        } else if (sl__ddl_accept_kw(p, "SRID")) {
            if (p->tok.type != SL_DDL_TOK_NUMBER)
                return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected an SRID");
            sl__ddl_advance(p);
        } else if (sl__ddl_kw(p, "WITH") || sl__ddl_kw(p, "WITHOUT")) {
            /* A versioned column makes CREATE TABLE's table versioned
             * (hidden row_start/row_end); in ALTER TABLE the table must
             * already be. */
            int with = sl__ddl_kw(p, "WITH");
            sl__ddl_advance(p);
            if (sl__ddl_expect_kw(p, "SYSTEM") != 0 ||
                sl__ddl_expect_kw(p, "VERSIONING") != 0)
                return p->rc;
            if (with && p->st->kind == SL_DDL_CREATE_TABLE)
                p->st->versioning = 1;
        } else if (sl__ddl_accept_kw(p, "COMPRESSED")) {
            /* MariaDB 10.3+: stored zlib-compressed (binlog types 140 and
             * 141); [= zlib] names the only method there is. */
            col->compressed = 1;
            if (sl__ddl_accept_punct(p, '='))
                sl__ddl_advance(p);
        } else if (sl__ddl_kw(p, "SERIAL") && sl__ddl_peek_kw(p, "DEFAULT")) {
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            if (sl__ddl_expect_kw(p, "VALUE") != 0)
                return p->rc;
            col->not_null = col->unique = 1;
        } else if ((p->tok.type == SL_DDL_TOK_IDENT ||
                    p->tok.type == SL_DDL_TOK_QIDENT) &&
                   sl__ddl_peek(p).type == SL_DDL_TOK_PUNCT &&
                   p->lx.sql[sl__ddl_peek(p).off] == '=') {
            /* MariaDB engine-defined attribute: name = value. */
            sl__ddl_advance(p);
            sl__ddl_advance(p);
            sl__ddl_advance(p);
        } else {
            return sl__ddl_fail(p, SL_EUNSUPPORTED, "unknown column attribute");
        }
        if (p->rc)
            return p->rc;
    }
    return sl__ddl_fail(p, SL_EUNSUPPORTED, "too many column attributes");
}

char *sl__ddl_parse_field_ident(sl__ddl_parser_t *p) {
    if (sl__ddl_accept_punct(p, '.'))
        return sl__ddl_parse_ident(p);
    char *a = sl__ddl_parse_ident(p);
    if (a == NULL || !sl__ddl_punct(p, '.'))
        return a;
    sl__ddl_advance(p);
    char *b = sl__ddl_parse_ident(p), *db = NULL, *table = a;
    if (b == NULL) {
        free(a);
        return NULL;
    }
    char *name = b;
    if (sl__ddl_punct(p, '.')) {
        sl__ddl_advance(p);
        name = sl__ddl_parse_ident(p);
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
        sl__ddl_fail(
            p, SL_EUNSUPPORTED,
            "column name qualified by another table than the one altered");
        return NULL;
    }
    return name;
}

int sl__ddl_parse_coldef(sl__ddl_parser_t *p, sl_ddl_col_t *col) {
    memset(col, 0, sizeof *col);
    col->length = -1;
    col->name = sl__ddl_parse_field_ident(p);
    if (col->name == NULL)
        return p->rc;
    if (parse_type(p, col) != 0)
        return p->rc;
    return parse_col_attrs(p, col);
}
