/*
 * The tokenizer of the DDL parser (ddl.h): MySQL's lexical rules for
 * quotes, escapes, comments and executable comments, as MySQL 5.5-9.x and
 * MariaDB 10.x/11.x apply them to a binlog's Query events. The schema
 * history's live loader also uses it to read ENUM/SET members from
 * COLUMN_TYPE.
 *
 * Bounds: every call advances through the input or stops at its end, and
 * no token reads past sql + len (tests/fuzz/).
 */
#ifndef SL_CAPTURE_SCHEMA_LEXER_H
#define SL_CAPTURE_SCHEMA_LEXER_H

#include <stddef.h>
#include <stdint.h>

/* sql_mode bits that change how a statement is tokenized or typed; the
 * values are the server's own (the Query event's Q_SQL_MODE_CODE). */
#define SL_DDL_MODE_REAL_AS_FLOAT 0x1ULL
#define SL_DDL_MODE_ANSI_QUOTES 0x4ULL
#define SL_DDL_MODE_NO_BACKSLASH_ESCAPES 0x100000ULL

/* What wrote the statement: decides version comments, display widths in
 * column_type, JSON's type, and the default charset. version is the
 * server's numeric version (100611 for 10.6.11, 80036 for 8.0.36); 0 when
 * unknown (then every executable comment is executed). */
typedef struct {
    int is_mariadb;
    unsigned long version;
    uint64_t sql_mode;
} sl_ddl_opts_t;

typedef enum {
    SL_DDL_TOK_END = 0,
    SL_DDL_TOK_IDENT,  /* A bare word: keyword or identifier. */
    SL_DDL_TOK_QIDENT, /* `quoted` identifier (or "x" under ANSI_QUOTES). */
    SL_DDL_TOK_STRING, /* '...' or "..." (with optional _charset / N). */
    SL_DDL_TOK_NUMBER, /* 12, 1.5, 1e3, .5 */
    SL_DDL_TOK_HEX,    /* X'0A', 0x0A */
    SL_DDL_TOK_BIT,    /* B'01', 0b01 */
    SL_DDL_TOK_PUNCT,  /* One operator or punctuation mark (1-3 bytes). */
    SL_DDL_TOK_ERROR   /* Unterminated quote or comment. */
} sl_ddl_tok_type_t;

typedef struct {
    sl_ddl_tok_type_t type;
    size_t off, len;             /* The token's bytes in the statement. */
    size_t body_off, body_len;   /* Inside the quotes (quoted kinds only). */
    char quote;                  /* ' " or ` for quoted kinds, else 0. */
    size_t intro_off, intro_len; /* _charset introducer (len 0: none). */
} sl_ddl_tok_t;

typedef struct {
    const char *sql;
    size_t len;
    size_t pos;
    int exec_depth; /* Open executable comments whose "* /" ends nothing. */
    sl_ddl_opts_t opts;
} sl_ddl_lexer_t;

/* Starts tokenizing sql[0..len) (not copied: it must outlive the lexer).
 * opts may be NULL (unknown server, default sql_mode). */
void sl_ddl_lex_init(sl_ddl_lexer_t *lx, const char *sql, size_t len,
                     const sl_ddl_opts_t *opts);
/* Reads the next token into *tok, skipping whitespace and comments and
 * entering executable comments. Returns 0, or SL_ECORRUPT for an
 * unterminated quote or comment (tok->type is then SL_DDL_TOK_ERROR and
 * tok->off where it starts). At the end it keeps returning END. */
int sl_ddl_lex_next(sl_ddl_lexer_t *lx, sl_ddl_tok_t *tok);
/* The value of a quoted token (escapes and doubled quotes resolved) or the
 * bytes of any other token, as a NUL-terminated malloc'd string the caller
 * frees. *outlen (optional) excludes the NUL. Returns 0 or SL_ENOMEM. */
int sl_ddl_tok_value(const sl_ddl_lexer_t *lx, const sl_ddl_tok_t *tok,
                     char **out, size_t *outlen);

/* ASCII case-insensitive comparison of a NUL-terminated word with n bytes
 * (as MySQL compares keywords and column names). */
int sl_ddl_word_eq(const char *a, size_t alen, const char *word);

#endif
