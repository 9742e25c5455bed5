/*
 * The DDL tokenizer (see lexer.h).
 *
 * It follows MySQL's sql_lex.cc rules where they decide what a token is:
 * quotes escape by doubling and (unless NO_BACKSLASH_ESCAPES) by
 * backslash, "x" is a string unless ANSI_QUOTES, `x` doubles its backquote,
 * "-- " needs a space or control byte after the dashes, '#' runs to the end
 * of the line, and executable comments (slash-star-bang NNNNN, and
 * MariaDB's slash-star-M-bang NNNNNN) are read as code when the writing
 * server's version is at least NNNNN.
 */
#include "lexer.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes of an unquoted identifier; MySQL allows any non-ASCII byte. */
static int is_ident_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           c == '_' || c == '$' || c >= 0x80;
}

static unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int sl_ddl_word_eq(const char *a, size_t alen, const char *word) {
    size_t i;
    for (i = 0; i < alen; i++) {
        if (word[i] == '\0' ||
            lower((unsigned char)a[i]) != lower((unsigned char)word[i]))
            return 0;
    }
    return word[i] == '\0';
}

void sl_ddl_lex_init(sl_ddl_lexer_t *lx, const char *sql, size_t len,
                     const sl_ddl_opts_t *opts) {
    memset(lx, 0, sizeof *lx);
    lx->sql = sql;
    lx->len = len;
    if (opts)
        lx->opts = *opts;
}

/* Scans a quoted token starting at the quote at lx->pos. */
static int lex_quoted(sl_ddl_lexer_t *lx, sl_ddl_tok_t *tok, char q,
                      int backslash) {
    size_t i = lx->pos + 1;
    while (i < lx->len) {
        char c = lx->sql[i];
        if (backslash && c == '\\') {
            i += 2;
            continue;
        }
        if (c == q) {
            if (i + 1 < lx->len && lx->sql[i + 1] == q) {
                i += 2;
                continue;
            }
            tok->quote = q;
            tok->body_off = lx->pos + 1;
            tok->body_len = i - lx->pos - 1;
            tok->len = i + 1 - tok->off;
            lx->pos = i + 1;
            return 0;
        }
        i++;
    }
    tok->type = SL_DDL_TOK_ERROR;
    lx->pos = lx->len;
    return SL_ECORRUPT;
}

/* Reads the digits of a version comment; returns the version, 0 if none. */
static unsigned long lex_version(sl_ddl_lexer_t *lx) {
    size_t i = lx->pos, n = 0;
    unsigned long v = 0;
    while (i < lx->len && n < 6 && is_digit((unsigned char)lx->sql[i])) {
        v = v * 10 + (unsigned long)(lx->sql[i] - '0');
        i++;
        n++;
    }
    if (n < 5) /* MySQL needs five digits; fewer are the comment's text. */
        return 0;
    lx->pos = i;
    return v;
}

/* Skips a plain comment whose "/ *" is at lx->pos. */
static int lex_skip_comment(sl_ddl_lexer_t *lx, size_t start) {
    size_t i = start;
    while (i + 1 < lx->len) {
        if (lx->sql[i] == '*' && lx->sql[i + 1] == '/') {
            lx->pos = i + 2;
            return 0;
        }
        i++;
    }
    lx->pos = lx->len;
    return SL_ECORRUPT;
}

static const char *const multi_ops[] = {
    "<=>", "->>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>", "->"};

int sl_ddl_lex_next(sl_ddl_lexer_t *lx, sl_ddl_tok_t *tok) {
    const char *s = lx->sql;
    memset(tok, 0, sizeof *tok);
    for (;;) {
        while (lx->pos < lx->len && is_space((unsigned char)s[lx->pos]))
            lx->pos++;
        tok->off = lx->pos;
        if (lx->pos >= lx->len) {
            tok->type = SL_DDL_TOK_END;
            return 0;
        }
        size_t p = lx->pos, rest = lx->len - p;
        char c = s[p];
        if (c == '#' || (c == '-' && rest >= 2 && s[p + 1] == '-' &&
                         (rest == 2 || (unsigned char)s[p + 2] <= ' '))) {
            while (lx->pos < lx->len && s[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        if (c == '/' && rest >= 2 && s[p + 1] == '*') {
            int mariadb_only = rest >= 4 && s[p + 2] == 'M' && s[p + 3] == '!';
            if ((rest >= 3 && s[p + 2] == '!') || mariadb_only) {
                lx->pos = p + (mariadb_only ? 4 : 3);
                unsigned long v = lex_version(lx);
                int run = lx->opts.version == 0 || v <= lx->opts.version;
                if (mariadb_only && lx->opts.version != 0 &&
                    !lx->opts.is_mariadb)
                    run = 0;
                if (run) {
                    lx->exec_depth++;
                    continue;
                }
            }
            if (lex_skip_comment(lx, p + 2) != 0) {
                tok->type = SL_DDL_TOK_ERROR;
                return SL_ECORRUPT;
            }
            continue;
        }
        if (c == '*' && rest >= 2 && s[p + 1] == '/' && lx->exec_depth > 0) {
            lx->exec_depth--;
            lx->pos += 2;
            continue;
        }
        break;
    }
    size_t p = lx->pos, rest = lx->len - p;
    unsigned char c = (unsigned char)s[p];
    int bs = !(lx->opts.sql_mode & SL_DDL_MODE_NO_BACKSLASH_ESCAPES);
    if (c == '\'' ||
        (c == '"' && !(lx->opts.sql_mode & SL_DDL_MODE_ANSI_QUOTES))) {
        tok->type = SL_DDL_TOK_STRING;
        return lex_quoted(lx, tok, (char)c, bs);
    }
    if (c == '`' || c == '"') {
        tok->type = SL_DDL_TOK_QIDENT;
        return lex_quoted(lx, tok, (char)c, 0);
    }
    /* X'hex', B'bits', N'national': a letter glued to a quote. */
    if (rest >= 2 && s[p + 1] == '\'' &&
        (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' ||
         c == 'N')) {
        tok->type = (c == 'x' || c == 'X')   ? SL_DDL_TOK_HEX
                    : (c == 'b' || c == 'B') ? SL_DDL_TOK_BIT
                                             : SL_DDL_TOK_STRING;
        lx->pos = p + 1;
        return lex_quoted(lx, tok, '\'', tok->type == SL_DDL_TOK_STRING && bs);
    }
    if (is_ident_byte(c) ||
        (c == '.' && rest >= 2 && is_digit((unsigned char)s[p + 1]) &&
         (p == 0 || !is_ident_byte((unsigned char)s[p - 1])) &&
         (p == 0 || s[p - 1] != '`'))) {
        size_t i = p;
        while (i < lx->len && is_ident_byte((unsigned char)s[i]))
            i++;
        size_t n = i - p;
        int all_digits = n > 0;
        for (size_t k = p; k < i; k++)
            if (!is_digit((unsigned char)s[k]))
                all_digits = 0;
        tok->type = SL_DDL_TOK_IDENT;
        if (n >= 3 && s[p] == '0' && (s[p + 1] == 'x' || s[p + 1] == 'b')) {
            int ok = 1;
            for (size_t k = p + 2; k < i; k++) {
                unsigned char d = (unsigned char)s[k];
                if (s[p + 1] == 'x' ? !is_hex(d) : (d != '0' && d != '1'))
                    ok = 0;
            }
            if (ok)
                tok->type = s[p + 1] == 'x' ? SL_DDL_TOK_HEX : SL_DDL_TOK_BIT;
        }
        /* After a bare name and a '.', the server reads the next word as a
         * name even when it is all digits (shard_1.20151214, t.1e5); after
         * a quoted name it reads a number, and refuses the statement. */
        int after_sep = n > 0 && p >= 2 && s[p - 1] == '.' &&
                        is_ident_byte((unsigned char)s[p - 2]);
        if (after_sep) {
            tok->type = SL_DDL_TOK_IDENT;
        } else if (all_digits || n == 0) {
            /* A number: digits [. digits] [e [+-] digits]. */
            tok->type = SL_DDL_TOK_NUMBER;
            if (i < lx->len && s[i] == '.') {
                i++;
                while (i < lx->len && is_digit((unsigned char)s[i]))
                    i++;
            }
            if (i + 1 < lx->len && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1;
                if (j < lx->len && (s[j] == '+' || s[j] == '-'))
                    j++;
                if (j < lx->len && is_digit((unsigned char)s[j])) {
                    while (j < lx->len && is_digit((unsigned char)s[j]))
                        j++;
                    i = j;
                }
            }
        } else if (tok->type == SL_DDL_TOK_IDENT && is_digit(c)) {
            /* 1e5 and 1e+5 are numbers; 1abc is an identifier. */
            size_t k = p;
            while (k < i && is_digit((unsigned char)s[k]))
                k++;
            if (k < i && (s[k] == 'e' || s[k] == 'E')) {
                size_t j = k + 1;
                int exp_digits = j < i;
                for (size_t m = j; m < i; m++)
                    if (!is_digit((unsigned char)s[m]))
                        exp_digits = 0;
                if (exp_digits)
                    tok->type = SL_DDL_TOK_NUMBER;
                else if (j == i && i + 1 < lx->len &&
                         (s[i] == '+' || s[i] == '-') &&
                         is_digit((unsigned char)s[i + 1])) {
                    i++;
                    while (i < lx->len && is_digit((unsigned char)s[i]))
                        i++;
                    tok->type = SL_DDL_TOK_NUMBER;
                }
            }
        }
        /* _charset'text': an introducer glued (or spaced) to a string. */
        if (tok->type == SL_DDL_TOK_IDENT && c == '_' && n > 1) {
            size_t j = i;
            while (j < lx->len && is_space((unsigned char)s[j]))
                j++;
            if (j < lx->len &&
                (s[j] == '\'' || (s[j] == '"' && !(lx->opts.sql_mode &
                                                   SL_DDL_MODE_ANSI_QUOTES)))) {
                tok->type = SL_DDL_TOK_STRING;
                tok->intro_off = p + 1;
                tok->intro_len = n - 1;
                lx->pos = j;
                return lex_quoted(lx, tok, s[j], bs);
            }
        }
        tok->len = i - p;
        lx->pos = i;
        return 0;
    }
    tok->type = SL_DDL_TOK_PUNCT;
    tok->len = 1;
    for (size_t k = 0; k < sizeof multi_ops / sizeof multi_ops[0]; k++) {
        size_t m = strlen(multi_ops[k]);
        if (rest >= m && memcmp(s + p, multi_ops[k], m) == 0) {
            tok->len = m;
            break;
        }
    }
    lx->pos = p + tok->len;
    return 0;
}

int sl_ddl_tok_value(const sl_ddl_lexer_t *lx, const sl_ddl_tok_t *tok,
                     char **out, size_t *outlen) {
    int quoted = tok->quote != 0;
    const char *src = lx->sql + (quoted ? tok->body_off : tok->off);
    size_t n = quoted ? tok->body_len : tok->len;
    char *dst = malloc(n + 1);
    if (dst == NULL)
        return SL_ENOMEM;
    size_t o = 0;
    int bs = tok->quote != '`' &&
             !(tok->quote == '"' && tok->type == SL_DDL_TOK_QIDENT) &&
             !(lx->opts.sql_mode & SL_DDL_MODE_NO_BACKSLASH_ESCAPES) &&
             tok->type == SL_DDL_TOK_STRING;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (quoted && c == tok->quote && i + 1 < n && src[i + 1] == c) {
            dst[o++] = c;
            i++;
        } else if (bs && c == '\\' && i + 1 < n) {
            char e = src[++i];
            switch (e) {
            case '0': dst[o++] = '\0'; break;
            case 'n': dst[o++] = '\n'; break;
            case 'r': dst[o++] = '\r'; break;
            case 't': dst[o++] = '\t'; break;
            case 'b': dst[o++] = '\b'; break;
            case 'Z': dst[o++] = '\032'; break;
            case '%':
            case '_': /* Kept escaped, as MySQL does. */
                dst[o++] = '\\';
                dst[o++] = e;
                break;
            default: dst[o++] = e; break;
            }
        } else {
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    *out = dst;
    if (outlen)
        *outlen = o;
    return 0;
}
