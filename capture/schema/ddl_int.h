/*
 * Internals of the DDL parser (ddl.h), shared by its files and not meant
 * for other modules: the parser's state and token helpers and the
 * grammar's shared pieces (ddl.c), column definitions (ddl_column.c) and
 * ALTER TABLE (ddl_alter.c). Every function records the first error in
 * the parser (p->rc, see sl__ddl_fail) and is a no-op returning it once
 * one is recorded, so callers may chain calls and check p->rc once.
 */
#ifndef SL_CAPTURE_DDL_INT_H
#define SL_CAPTURE_DDL_INT_H

#include "ddl.h"

#include <stddef.h>

/* One statement being parsed: the tokenizer, the current token, the first
 * error and where the parsed statement goes. */
typedef struct {
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    int rc;
    char *err;
    size_t errlen;
    sl_ddl_stmt_t *st;
} sl__ddl_parser_t;

/* Records the first error: rc, and in err what went wrong with the offset
 * and text where understanding stopped. Returns the recorded rc. */
int sl__ddl_fail(sl__ddl_parser_t *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether parsing is over: an error, or the end of the statement. */
int sl__ddl_at_end(const sl__ddl_parser_t *p);

/* Moves to the next token (an unterminated quote or comment fails). */
void sl__ddl_advance(sl__ddl_parser_t *p);

/* Whether the current token is the bare word (ASCII case-insensitive). */
int sl__ddl_kw(const sl__ddl_parser_t *p, const char *word);

/* Consumes the word if it is the current token; returns 1 if so. */
int sl__ddl_accept_kw(sl__ddl_parser_t *p, const char *word);

/* Whether the current token is the one-byte punctuation c. */
int sl__ddl_punct(const sl__ddl_parser_t *p, char c);

/* Consumes punctuation c if current; returns 1 if so. */
int sl__ddl_accept_punct(sl__ddl_parser_t *p, char c);

/* Consumes the word or fails; returns 0 or the error. */
int sl__ddl_expect_kw(sl__ddl_parser_t *p, const char *word);

/* Consumes punctuation c or fails; returns 0 or the error. */
int sl__ddl_expect_punct(sl__ddl_parser_t *p, char c);

/* Looks at the token after the current one without consuming anything. */
sl_ddl_tok_t sl__ddl_peek(const sl__ddl_parser_t *p);

/* Whether the token after the current one is the word. */
int sl__ddl_peek_kw(const sl__ddl_parser_t *p, const char *word);

/* ASCII lower-cases s in place (NULL is allowed). */
void sl__ddl_lower_str(char *s);

/* An identifier: a bare word or a quoted name. */
char *sl__ddl_parse_ident(sl__ddl_parser_t *p);

/* A charset or collation name: a word, quoted name or string. */
char *sl__ddl_parse_cs_name(sl__ddl_parser_t *p);

/* [db.]table into *db (NULL when unqualified) and *table. */
int sl__ddl_parse_table_name(sl__ddl_parser_t *p, char **db, char **table);

/* Appends db.table (both taken over) to stmt->tables. */
int sl__ddl_push_name(sl__ddl_parser_t *p, char *db, char *table);

/* Reads a table name and records it in stmt->tables. */
int sl__ddl_table_ref(sl__ddl_parser_t *p);

/* Appends s (taken over; NULL means out of memory) to *arr. */
int sl__ddl_push_str(sl__ddl_parser_t *p, char ***arr, size_t *n, char *s);

/* Skips a parenthesised group starting at the current '('. Iterative, so
 * deep nesting cannot exhaust the stack. */
int sl__ddl_skip_parens(sl__ddl_parser_t *p);

/* Skips to the next ',' or ')' at this nesting level (not consumed) or
 * the end of the statement. */
int sl__ddl_skip_element(sl__ddl_parser_t *p);

/* Skips MariaDB's WAIT n | NOWAIT (lock timeout) if present. */
void sl__ddl_skip_wait(sl__ddl_parser_t *p);

/* Skips the rest of the statement. */
void sl__ddl_skip_to_end(sl__ddl_parser_t *p);

/* A DEFAULT / ON UPDATE / SET DEFAULT value: a literal, a name, a
 * function call or a parenthesised expression, possibly joined by
 * arithmetic operators (MariaDB accepts unparenthesised expressions). */
int sl__ddl_skip_value_expr(sl__ddl_parser_t *p);

/* Consumes IF EXISTS; returns 1 if it was there. */
int sl__ddl_parse_if_exists(sl__ddl_parser_t *p);

/* Consumes IF NOT EXISTS; returns 1 if it was there. */
int sl__ddl_parse_if_not_exists(sl__ddl_parser_t *p);

/* One element of a CREATE TABLE list or an ALTER ADD that is an index or
 * constraint. Returns 1 if it was one (handled), 0 if it is a column.
 * *has_pk becomes 1 for a primary key, 2 for one with IF NOT EXISTS. */
int sl__ddl_parse_index_elem(sl__ddl_parser_t *p, char ***pk, size_t *npk,
                             int *has_pk);

/* An index's [name] [USING x] (parts) [options] into idx, after its
 * UNIQUE/INDEX/KEY words. */
int sl__ddl_parse_index_body(sl__ddl_parser_t *p, sl_ddl_index_t *idx);

/* Records a unique key on column name (inline UNIQUE or SERIAL) as an
 * ADD_INDEX action. */
int sl__ddl_push_col_unique(sl__ddl_parser_t *p, const char *name);

/* A table option name that takes one value ([=] value). */
int sl__ddl_is_table_option(const sl__ddl_parser_t *p);

/* Consumes one table option (not charset/collation) if the current token
 * starts one. Returns 1 if consumed. */
int sl__ddl_skip_table_option(sl__ddl_parser_t *p);

/* [DEFAULT] CHARACTER SET / CHARSET / COLLATE with its value. Returns 1 if
 * consumed. */
int sl__ddl_parse_charset_option(sl__ddl_parser_t *p, char **charset,
                                 char **collation);

/* CHECK (expr) [[NOT] ENFORCED] */
int sl__ddl_skip_check(sl__ddl_parser_t *p);

/* A column name as the server's field_ident reads it: a, t.a, db.t.a or
 * .a. The server refuses a qualifier that does not name the table being
 * defined, so one that names another table is refused here too. */
char *sl__ddl_parse_field_ident(sl__ddl_parser_t *p);

/* name type attributes... */
int sl__ddl_parse_coldef(sl__ddl_parser_t *p, sl_ddl_col_t *col);

/* Appends an ALTER TABLE action of kind to the statement (ddl_alter.c);
 * NULL when out of memory. */
sl_ddl_action_t *sl__ddl_new_act(sl__ddl_parser_t *p, sl_ddl_act_kind_t kind);

/* ALTER TABLE after its TABLE keyword (ddl_alter.c). */
int sl__ddl_parse_alter_table(sl__ddl_parser_t *p);

#endif
