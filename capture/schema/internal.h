/*
 * Internals of the schema history, shared by its files and not meant for
 * other modules: the history's layout and the model's helpers (model.c),
 * used by applying DDL (apply.c, alter.c), the live loader (live.c) and the
 * JSON document (document.c). Unit tests may include it.
 */
#ifndef SL_CAPTURE_SCHEMA_INTERNAL_H
#define SL_CAPTURE_SCHEMA_INTERNAL_H

#include "schema.h"

#include <stddef.h>

typedef struct {
    char *name;
    char *charset;
} sl__schema_db_t;

struct sl_schema_s {
    sl_schema_table_t **tables; /* Sorted by (db, name), byte order. */
    size_t ntables, cap;
    sl__schema_db_t *dbs; /* Unsorted; few entries. */
    size_t ndbs;
    char *server_charset; /* NULL: by flavor. */
    sl_ddl_opts_t opts;
};

/* A copy of s, or NULL for NULL; sets *oom when the copy fails. */
char *sl__schema_dup_or_null(const char *s, int *oom);
void sl__schema_col_free(sl_schema_col_t *c);
void sl__schema_table_free(sl_schema_table_t *t);
/* A deep copy of column c into *d. Returns 0 or SL_ENOMEM (*d is then
 * empty). */
int sl__schema_col_copy(sl_schema_col_t *d, const sl_schema_col_t *c);
/* A deep copy of t, or NULL when out of memory. */
sl_schema_table_t *sl__schema_table_copy(const sl_schema_table_t *t);

/* Stores t, replacing a table of the same name. Takes ownership of t (it
 * is freed on error). Returns 0 or SL_ENOMEM. */
int sl__schema_put_owned(sl_schema_t *s, sl_schema_table_t *t);
/* Removes and returns db.table (the caller owns it), or NULL. */
sl_schema_table_t *sl__schema_take(sl_schema_t *s, const char *db,
                                   const char *table);
/* Inserts column c (its contents are taken over) at position pos of t.
 * Returns 0 or SL_ENOMEM (c is then still the caller's). */
int sl__schema_insert_col(sl_schema_table_t *t, const sl_schema_col_t *c,
                          size_t pos);
/* Appends MariaDB's implicit system-versioning columns to t: row_start
 * and row_end, timestamp(6) NOT NULL, hidden (see sl_schema_col_t). A
 * table WITH SYSTEM VERSIONING that defines no AS ROW START/END column of
 * its own has them after all its other columns in every row image, while
 * information_schema.COLUMNS omits them (information_schema.TABLES says
 * TABLE_TYPE 'SYSTEM VERSIONED'). Returns 0 or SL_ENOMEM. */
int sl__schema_add_hidden_versioning(sl_schema_table_t *t);
/* Bytes per character at most of a charset: 1 for NULL (not a text
 * column), 0 for one not known (hashkey.c). */
unsigned sl__schema_mbmaxlen(const char *cs);

/* Key helpers and MariaDB's hash UNIQUE keys (hashkey.c). */
void sl__schema_key_free(sl_schema_key_t *k);
/* A deep copy of k into *d. Returns 0 or SL_ENOMEM (*d is then empty). */
int sl__schema_key_copy(sl_schema_key_t *d, const sl_schema_key_t *k);
/* Appends a copy of the parsed index as a key of t, named as the server
 * names an unnamed one (its first column, then _2, _3...). Returns 0 or
 * SL_ENOMEM. */
int sl__schema_key_add(sl_schema_table_t *t, const sl_ddl_index_t *idx);
/* Applies the index specifications of st (CREATE TABLE, ALTER TABLE,
 * CREATE/DROP INDEX) to t, whose columns are already the statement's
 * result; old holds t as it was before an ALTER (NULL for CREATE): key
 * parts follow renamed and dropped columns, the engine changes, a rebuild
 * ends USING HASH on the keys it kept, and each unique key's hash is
 * decided again, by the rules of the server srv describes (NULL: not
 * known; MySQL and MariaDB before 10.4 have no hash keys). Then
 * sl__schema_hash_cols(). Returns 0, SL_EUNSUPPORTED or SL_ENOMEM. */
int sl__schema_keys_apply(sl_schema_table_t *t, const sl_schema_table_t *old,
                          const sl_ddl_stmt_t *st, const sl_ddl_opts_t *srv,
                          char *err, size_t errlen);
/* Sets the hash of key k of t as information_schema shows it (is_hash:
 * INDEX_TYPE 'HASH'), and whether only USING HASH can explain it. */
void sl__schema_key_loaded(const sl_schema_table_t *t, sl_schema_key_t *k,
                           int is_hash);
/* Removes t's DB_ROW_HASH_n columns (before its columns are changed). */
void sl__schema_hash_strip(sl_schema_table_t *t);
/* Removes and re-appends t's DB_ROW_HASH_n columns, one per key whose
 * hash is YES then one per MAYBE, numbered as the server numbers them,
 * and sets hash_maybe. Returns 0 or SL_ENOMEM. */
int sl__schema_hash_cols(sl_schema_table_t *t);

/* Empties the history of tables and database charsets; keeps the server
 * description. */
void sl__schema_clear_content(sl_schema_t *s);
/* Forgets a database's recorded charset. */
void sl__schema_forget_db(sl_schema_t *s, const char *db);

/* Builds history column *c from a parsed definition, resolving its
 * charset against the table's default table_cs (apply.c). An inline
 * PRIMARY KEY makes it is_pk with pk_seq 1. Returns 0 or SL_ENOMEM (*c is
 * then empty). */
int sl__schema_resolve_col(sl_schema_col_t *c, const sl_ddl_col_t *d,
                           const char *table_cs);
/* Applies the column and primary-key specifications of ALTER TABLE st to
 * t (alter.c; table charsets are the caller's), resolving names within
 * the statement as the servers do. On error t's columns are unchanged
 * and err says what the server would have refused. Returns 0,
 * SL_EUNSUPPORTED or SL_ENOMEM. */
int sl__schema_alter_columns(sl_schema_table_t *t, const sl_ddl_stmt_t *st,
                             char *err, size_t errlen);

/* The PERIOD FOR actions of st (CREATE or ALTER TABLE) on t's final
 * columns: DROP PERIOD forgets which columns form the application-time
 * period, ADD PERIOD marks its two columns (in_period, NOT NULL); a
 * SYSTEM_TIME period changes nothing (its columns are NOT NULL already).
 * had_period: t had an application-time period before the statement
 * (ADD PERIOD IF NOT EXISTS then does nothing). Returns 0 or
 * SL_EUNSUPPORTED (a column it names does not exist). */
int sl__schema_apply_periods(sl_schema_table_t *t, const sl_ddl_stmt_t *st,
                             int had_period, char *err, size_t errlen);

/* Lower-case, "utf8" spelt "utf8mb3" as MySQL 8.0.30+ and MariaDB 10.6+
 * report it (old_mode UTF8_IS_UTF8MB3, the default). NULL for NULL or when
 * out of memory. */
char *sl__schema_norm_charset(const char *cs);
/* The charset of a collation: its name up to the first '_' ("binary" has
 * none), which holds for every MySQL and MariaDB collation. */
char *sl__schema_collation_charset(const char *coll);

/* Writes the message to err (when err is not NULL) and returns rc. */
int sl__schema_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
