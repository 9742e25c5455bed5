/*
 * A parser for the DDL that changes table definitions, as MySQL 5.5-9.x
 * and MariaDB 10.x/11.x write it into a binlog's Query events (its
 * tokenizer is lexer.h). It is the front half of the schema history
 * (apply.c applies what this file parses); see docs/schema-history.md for the
 * statements understood and how each one changes the history.
 *
 * The parser is deliberately not a SQL grammar: it recognises the
 * statements that create, alter, rename or drop tables and databases,
 * reads exactly the parts that decide a row image's meaning (column names,
 * order, types, signedness, charsets, ENUM/SET members, the primary key),
 * and skips the rest by rules that cannot swallow a column definition
 * (balanced parentheses, known option names). Anything else that touches a
 * table is SL_EUNSUPPORTED with the offset where understanding stopped:
 * capture fails closed rather than decode rows with a guessed definition.
 *
 * Bounds: every loop advances through the input or stops, tokens never
 * read past sql + len, and recursion (parentheses) is iterative, so hostile
 * input cannot crash, hang or overflow the stack (tests/fuzz/).
 */
#ifndef SL_CAPTURE_DDL_H
#define SL_CAPTURE_DDL_H

#include "lexer.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Parsed statements -------------------------------------------------- */

/* Statement kinds (also sl_ddl_effect_t.kind in schema.h). */
typedef enum {
    SL_DDL_NONE = 0, /* Changes no table definition. */
    SL_DDL_CREATE_TABLE,
    SL_DDL_CREATE_TABLE_LIKE,
    SL_DDL_ALTER_TABLE,
    SL_DDL_RENAME_TABLE,
    SL_DDL_DROP_TABLE,
    SL_DDL_TRUNCATE_TABLE,
    SL_DDL_CREATE_INDEX,
    SL_DDL_DROP_INDEX,
    SL_DDL_CREATE_DATABASE,
    SL_DDL_ALTER_DATABASE,
    SL_DDL_DROP_DATABASE,
    SL_DDL_OTHER_TABLE /* Touches tables in a way not interpreted. */
} sl_ddl_kind_t;

/* One column definition as written. */
typedef struct {
    char *name;
    char *data_type;   /* Lower-case base type ("int", "varchar"). */
    char *column_type; /* As SHOW COLUMNS prints it, before charset rules. */
    int is_unsigned;
    int is_text;      /* Takes a charset (char, varchar, text, enum, set). */
    int is_binary;    /* charset binary by type (binary, varbinary, blob). */
    long long length; /* (n) of char/varchar/binary/varbinary/text/blob,
                         -1 when not given. */
    char *charset;    /* Explicit CHARACTER SET, lower-case, or NULL. */
    char *collation;  /* Explicit COLLATE, lower-case, or NULL. */
    char **values;    /* ENUM/SET members, unescaped. */
    size_t nvalues;
    int compressed; /* MariaDB COMPRESSED[=zlib] (apply.c appends the
                       server's versioned COMPRESSED comment to
                       column_type, as information_schema shows it). */
    int not_null;   /* NOT NULL, SERIAL, or PRIMARY KEY. */
    int pk;         /* Inline PRIMARY KEY (or KEY). */
    int row_period; /* AS ROW START / AS ROW END (system versioning). */
    int unique;     /* Inline UNIQUE [KEY] or SERIAL: a unique key on the
                       column, named by the server. */
} sl_ddl_col_t;

/* An index other than the primary key, as written: a CREATE TABLE
 * element, an ALTER TABLE ADD, CREATE INDEX, or a column's inline UNIQUE.
 * MariaDB keeps some UNIQUE keys as a hidden hash column (hashkey.c). */
typedef struct {
    char *name;        /* NULL: unnamed (the server names it). */
    int unique;        /* UNIQUE (FULLTEXT, SPATIAL, FOREIGN: 0). */
    int using_hash;    /* USING HASH or TYPE HASH was written. */
    char **parts;      /* Key part columns, in key order. */
    long long *prefix; /* Per part: the prefix length, -1 for none. */
    size_t nparts;
    int expr; /* A part is an expression (MySQL's functional keys). */
} sl_ddl_index_t;

typedef enum {
    SL_DDL_ACT_ADD_COLUMN = 1,  /* col, pos/after, if_exists = IF NOT EXISTS */
    SL_DDL_ACT_DROP_COLUMN,     /* name, if_exists */
    SL_DDL_ACT_MODIFY_COLUMN,   /* name (old) and col (new), pos/after */
    SL_DDL_ACT_RENAME_COLUMN,   /* name -> name2 */
    SL_DDL_ACT_ADD_PK,          /* names, if_exists = IF NOT EXISTS */
    SL_DDL_ACT_DROP_PK,         /* if_exists (DROP INDEX IF EXISTS `PRIMARY`) */
    SL_DDL_ACT_TABLE_CHARSET,   /* charset and/or collation */
    SL_DDL_ACT_CONVERT_CHARSET, /* charset and/or collation */
    SL_DDL_ACT_RENAME_TABLE,    /* db, table: the new name */
    SL_DDL_ACT_ADD_VERSIONING,  /* ADD SYSTEM VERSIONING (MariaDB) */
    SL_DDL_ACT_DROP_VERSIONING, /* DROP SYSTEM VERSIONING */
    SL_DDL_ACT_ADD_PERIOD,      /* PERIOD FOR name (names[0], names[1]),
                                   also in CREATE TABLE; if_exists = IF NOT
                                   EXISTS */
    SL_DDL_ACT_DROP_PERIOD,     /* DROP PERIOD FOR name, if_exists */
    SL_DDL_ACT_PARTITION_TO_TABLE, /* CONVERT PARTITION p TO TABLE db.table */
    SL_DDL_ACT_TABLE_TO_PARTITION, /* CONVERT TABLE db.table TO PARTITION */
    SL_DDL_ACT_ADD_INDEX,          /* idx; if_exists = IF NOT EXISTS. Also in
                                      CREATE TABLE and CREATE INDEX. */
    SL_DDL_ACT_DROP_INDEX,         /* name, if_exists (not PRIMARY) */
    SL_DDL_ACT_RENAME_INDEX        /* name -> name2 */
} sl_ddl_act_kind_t;

#define SL_DDL_POS_LAST 0
#define SL_DDL_POS_FIRST 1
#define SL_DDL_POS_AFTER 2

typedef struct {
    sl_ddl_act_kind_t kind;
    sl_ddl_col_t col;
    char *name, *name2;
    int if_exists;
    int pos;      /* SL_DDL_POS_*. */
    char *after;  /* Column name for SL_DDL_POS_AFTER. */
    char **names; /* ADD PRIMARY KEY columns, in key order. */
    size_t nnames;
    char *charset, *collation;
    char *db, *table;   /* RENAME TO: db NULL means the table's own db. */
    sl_ddl_index_t idx; /* SL_DDL_ACT_ADD_INDEX */
} sl_ddl_action_t;

typedef struct {
    char *db; /* NULL: the statement's default database. */
    char *table;
    int if_exists; /* ALTER TABLE IF EXISTS t, RENAME TABLE IF EXISTS t. */
} sl_ddl_name_t;

typedef struct {
    sl_ddl_kind_t kind;
    int temporary;     /* CREATE/DROP TEMPORARY TABLE. */
    int if_not_exists; /* CREATE ... IF NOT EXISTS. */
    int or_replace;    /* CREATE OR REPLACE. */
    int versioning;    /* CREATE TABLE ... WITH SYSTEM VERSIONING (on the
                          table or a column). */
    /* Tables named, in order. CREATE/ALTER/TRUNCATE/INDEX: [0] is the
     * table; LIKE: [0] new, [1] source; RENAME: pairs (from, to); DROP: the
     * list. */
    sl_ddl_name_t *tables;
    size_t ntables;
    char *database; /* CREATE/ALTER/DROP DATABASE: its name (NULL for
                       ALTER DATABASE without a name). */
    /* CREATE TABLE body. */
    sl_ddl_col_t *cols;
    size_t ncols;
    char **pk; /* PRIMARY KEY (...) columns, in key order. */
    size_t npk;
    int has_pk;
    char *charset, *collation; /* Table or database default, as written. */
    /* ALTER TABLE specifications, in order (CREATE TABLE: its PERIOD FOR
     * definitions). */
    sl_ddl_action_t *acts;
    size_t nacts;
    char *engine; /* ENGINE= / TYPE= of CREATE or ALTER TABLE, lower-case,
                     or NULL. */
    /* ALTER TABLE (also CREATE/DROP INDEX): 1 when the server rebuilds
     * the table's definition (any specification but RENAME TO and
     * ENABLE/DISABLE KEYS), 2 when that is not known (partition
     * operations). A rebuild drops the hash of a UNIQUE key kept as one
     * only because USING HASH was written (hashkey.c). */
    int rebuild;
} sl_ddl_stmt_t;

/* Parses one statement. Returns 0 with *stmt filled (kind SL_DDL_NONE for
 * statements that change no table definition), or SL_EUNSUPPORTED when the
 * statement touches tables but cannot be interpreted (stmt->tables still
 * names those it could read, and err says what and at which offset), or
 * SL_ENOMEM. In every case the caller releases *stmt with
 * sl_ddl_stmt_free(). opts may be NULL. */
int sl_ddl_parse(const char *sql, size_t len, const sl_ddl_opts_t *opts,
                 sl_ddl_stmt_t *stmt, char *err, size_t errlen);
void sl_ddl_stmt_free(sl_ddl_stmt_t *stmt);
void sl_ddl_col_free(sl_ddl_col_t *col);
void sl_ddl_index_free(sl_ddl_index_t *idx);

#endif
