/*
 * The schema history: the definition of every captured table as it stood
 * at the current position of the binlog stream.
 *
 * capture decodes a row event with the columns in force when it was
 * written. When the TABLE_MAP carries full optional metadata
 * (binlog_row_metadata=FULL) the decoder needs none of this; otherwise
 * (MySQL 5.7, MariaDB < 10.5, MINIMAL metadata) names, signedness,
 * charsets, ENUM/SET members and the primary key come from here. The
 * history starts from information_schema (sl_schema_load_live), is changed
 * by each DDL statement at its position (sl_schema_apply_ddl), and is
 * saved and restored as one JSON document (sl_schema_to_json /
 * sl_schema_from_json). docs/schema-history.md describes the rules.
 *
 * Names: databases and tables compare byte for byte (as MySQL does with
 * lower_case_table_names=0); column names compare ASCII case-insensitively
 * (MySQL's column names are case-insensitive).
 *
 * Ownership: an sl_schema_t owns every table, column and string in it.
 * Pointers returned by sl_schema_find()/sl_schema_at() stay valid until the
 * next call that changes the history (put, drop, apply_ddl, load_live,
 * from_json) or sl_schema_free().
 *
 * Not thread-safe: one history belongs to one capture thread.
 */
#ifndef SL_CAPTURE_SCHEMA_H
#define SL_CAPTURE_SCHEMA_H

#include "buf.h"
#include "ddl.h"

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    char *data_type;   /* Lower-case base type: "int", "varchar", "enum". */
    char *column_type; /* As SHOW COLUMNS prints it: "int(10) unsigned",
                          "enum('a','b')", "varchar(20)". */
    int is_unsigned;
    char *charset; /* MySQL charset name for text columns ("utf8mb4",
                      "latin1"), "binary" for BINARY/VARBINARY/BLOB,
                      NULL for non-text columns. "utf8" is always
                      written "utf8mb3". */
    char **values; /* ENUM/SET member names, unescaped. */
    size_t nvalues;
    int nullable;
    int is_pk;  /* Part of the PRIMARY KEY. */
    int pk_seq; /* 1-based position in the PRIMARY KEY, 0 if not. */
    /* MariaDB's implicit row_start/row_end of a table WITH SYSTEM
     * VERSIONING: in every row image (after all other columns), but not
     * in information_schema.COLUMNS and not nameable by DDL. */
    int hidden;
    /* Start or end of MariaDB's application-time PERIOD FOR: the server
     * keeps it NOT NULL whatever a later MODIFY says, as for a key. */
    int in_period;
} sl_schema_col_t;

/* sl_schema_col_t.hidden: 1 for row_start/row_end above, SL_SCHEMA_HASH_COL
 * for the hidden DB_ROW_HASH_n of a MariaDB hash UNIQUE key (bigint
 * unsigned, nullable, after every other column; see sl_schema_key_t). */
#define SL_SCHEMA_HASH_COL 2

/* sl_schema_key_t.hash. MAYBE: decided by the engine's limit, which the
 * history does not know. */
#define SL_SCHEMA_HASH_NO 0
#define SL_SCHEMA_HASH_YES 1
#define SL_SCHEMA_HASH_MAYBE 2

/* An index other than the PRIMARY KEY. MariaDB 10.4+ keeps a UNIQUE key
 * over a BLOB/TEXT column without a prefix, one longer than the engine
 * can index, or one declared USING HASH, as a hash: each such key adds a
 * hidden DB_ROW_HASH_n column to the row images (capture/schema/hashkey.c
 * has the rules). */
typedef struct {
    char *name;
    int unique;
    int hash;          /* SL_SCHEMA_HASH_*; 0 for a key that is not unique. */
    int using_hash;    /* 1: USING HASH in force (until the server rebuilds
                          the definition), 2: may be. */
    char **parts;      /* Key part columns. */
    long long *prefix; /* Prefix length per part, -1 for none. */
    size_t nparts;
} sl_schema_key_t;

typedef struct sl_schema_table_s {
    char *db;
    char *name;
    sl_schema_col_t *cols;
    size_t ncols;
    char *charset; /* Table default charset (never NULL in the history). */
    char *engine;  /* Lower-case storage engine, NULL when not known. */
    sl_schema_key_t *keys; /* Indexes but the PRIMARY KEY. */
    size_t nkeys;
    /* The last hash_maybe columns are DB_ROW_HASH_n of keys whose hash
     * is SL_SCHEMA_HASH_MAYBE: a row image may lack them, and the binlog's
     * column count tells (the decoder accepts ncols - hash_maybe to
     * ncols columns). */
    size_t hash_maybe;
} sl_schema_table_t;

typedef struct sl_schema_s sl_schema_t;

/* Creates an empty history (server unknown: MySQL-5.7/MariaDB column_type
 * conventions, default charset latin1). Free with sl_schema_free(). */
int sl_schema_new(sl_schema_t **out);
void sl_schema_free(sl_schema_t *s);

/* Describes the server whose binlog is read: MariaDB or MySQL, its numeric
 * version (100611, 80036; 0 = unknown) and its character_set_server (NULL:
 * utf8mb4 for MySQL 8+, latin1 otherwise). These decide executable
 * comments, column_type display widths, JSON's type, and the charset of
 * databases created without one. Returns 0 or SL_ENOMEM. */
int sl_schema_set_server(sl_schema_t *s, int is_mariadb, unsigned long version,
                         const char *charset);
/* The sql_mode of the statements applied next (the Query event's
 * Q_SQL_MODE_CODE): ANSI_QUOTES, NO_BACKSLASH_ESCAPES and REAL_AS_FLOAT
 * change how DDL reads. */
void sl_schema_set_sql_mode(sl_schema_t *s, uint64_t sql_mode);
/* Records a database's default charset (from CREATE DATABASE, or read at
 * start). Returns 0 or SL_ENOMEM. */
int sl_schema_set_db_charset(sl_schema_t *s, const char *db,
                             const char *charset);
/* The default charset of tables created in db: the recorded one, else the
 * server's (see sl_schema_set_server). Never NULL. */
const char *sl_schema_db_charset(const sl_schema_t *s, const char *db);

/* The definition of db.table, or NULL. Names need not be NUL-terminated. */
const sl_schema_table_t *sl_schema_find(const sl_schema_t *s, const char *db,
                                        size_t db_len, const char *table,
                                        size_t table_len);
/* Number of tables, and the i-th in (db, name) byte order. */
size_t sl_schema_count(const sl_schema_t *s);
const sl_schema_table_t *sl_schema_at(const sl_schema_t *s, size_t i);

/* Stores a deep copy of table, replacing any table of the same name. The
 * caller keeps ownership of table. Returns 0, SL_EINVAL (no db or name) or
 * SL_ENOMEM (the history is then unchanged). */
int sl_schema_put(sl_schema_t *s, const sl_schema_table_t *table);
/* Removes db.table. Returns 0 or SL_ENOTFOUND. */
int sl_schema_drop(sl_schema_t *s, const char *db, const char *table);

/* Reads every table's columns from a live server with one query over
 * information_schema.COLUMNS (joined with TABLES for the default charset
 * and engine and STATISTICS for the PRIMARY KEY), ordered by
 * ORDINAL_POSITION, one over STATISTICS for the other keys (and MariaDB's
 * hash-key columns), plus the server's version and charsets. Skips the
 * system databases (mysql, information_schema, performance_schema, sys)
 * and views; want (NULL: all) selects tables, and is asked first over the
 * table names so that the server reads the definitions of the selected
 * tables only. Tables read replace those of the same name. Returns 0,
 * SL_EDB with the server's message in err, or SL_ENOMEM. */
int sl_schema_load_live(sl_schema_t *s, MYSQL *mysql,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx, char *err, size_t errlen);

/* What one DDL statement did. */
typedef struct {
    char *db;
    char *table;
} sl_ddl_effect_table_t;

typedef struct {
    int kind; /* SL_DDL_* from capture/schema/ddl.h (SL_DDL_NONE: nothing). */
    size_t ntables;
    /* Every table the statement touches, even when the rest could not be
     * parsed: CREATE/ALTER/TRUNCATE/INDEX name theirs, LIKE names the new
     * table then its source, RENAME (and ALTER ... RENAME) the old then
     * the new name of each pair, DROP TABLE each table, DROP DATABASE the
     * tables of the history it removed. db is never NULL. */
    sl_ddl_effect_table_t *tables;
    int temporary; /* A TEMPORARY table: the history was not changed. */
} sl_ddl_effect_t;

/* Applies one statement (a Query event's text) executed with default_db
 * (the event's database; NULL or "" for none).
 *
 * Returns 0 when applied, or when the statement changes no table
 * definition (DML, GRANT, CREATE VIEW/PROCEDURE/TRIGGER/EVENT/USER,
 * CREATE/DROP INDEX not touching the PK, TRUNCATE, ANALYZE, SET, BEGIN...).
 * Otherwise:
 *   SL_EUNSUPPORTED  the statement touches tables but cannot be
 *                    interpreted (CREATE TABLE ... SELECT, ADD SYSTEM
 *                    VERSIONING, unknown syntax, a statement that
 *                    contradicts the history), or it alters, renames or
 *                    copies (LIKE) a table the history does not hold
 *                    (filtered out at start, or never seen: err then says
 *                    "not in the schema history");
 *   SL_ENOMEM.
 * On any error err says what and where (offset in the statement), and
 * effect->tables still names the tables the statement touches (when the
 * names could be read), so a caller can carry on if all are filtered out.
 * Tables an uninterpretable statement names are removed from the history
 * (their definition is no longer known), so a later statement or row
 * event about them fails instead of using a stale definition.
 *
 * effect may be NULL; otherwise the caller frees it with
 * sl_ddl_effect_free() whatever the result. */
int sl_schema_apply_ddl(sl_schema_t *s, const char *default_db, const char *sql,
                        size_t len, sl_ddl_effect_t *effect, char *err,
                        size_t errlen);
void sl_ddl_effect_free(sl_ddl_effect_t *effect);

/* Appends the whole history (server, database charsets, tables in (db,
 * name) order) to out as one JSON document. The layout is specified at
 * the top of capture/schema/document.c. Returns 0 or SL_ENOMEM. */
int sl_schema_to_json(const sl_schema_t *s, sl_buf_t *out);
/* Replaces the history's content with the document json[0..len) written
 * by sl_schema_to_json(). Returns 0, SL_ECORRUPT (err says where; the
 * history is then unchanged) or SL_ENOMEM. */
int sl_schema_from_json(sl_schema_t *s, const char *json, size_t len, char *err,
                        size_t errlen);

/* The tables a DDL statement may affect, found from its skeleton only
 * (capture/schema/names.c lists the forms), for statements the parser
 * cannot read: the table of CREATE/ALTER/TRUNCATE/CREATE INDEX/DROP
 * INDEX, every table of DROP TABLE and RENAME TABLE, and the other tables
 * an ALTER TABLE names (RENAME TO, EXCHANGE PARTITION ... WITH TABLE,
 * CONVERT TABLE/PARTITION). Unqualified names take default_db (NULL or
 * "" for none); opts (may be NULL) gives the server and sql_mode, which
 * decide executable comments and ANSI_QUOTES.
 *
 * Returns 0 with out->tables naming at least one table (each once, db
 * never NULL), SL_EUNSUPPORTED when the tables cannot be determined (any
 * other statement, text that does not tokenize, a missing name; err says
 * what and at which offset; out may hold the names read before), or
 * SL_ENOMEM. out is cleared first; the caller frees it with
 * sl_ddl_effect_free() whatever the result. Does not depend on, or
 * change, any history. */
int sl_schema_ddl_tables(const char *default_db, const char *sql, size_t len,
                         const sl_ddl_opts_t *opts, sl_ddl_effect_t *out,
                         char *err, size_t errlen);

/* Where the statement proper starts in sql: after MariaDB's prefix
 * "SET STATEMENT var = value [, ...] FOR", which the server logs as
 * written and which would otherwise hide the statement from the parser;
 * 0 when there is none. Callers give sl_schema_apply_ddl() the text from
 * there (with s's sql_mode already set). */
size_t sl_schema_ddl_body(const sl_schema_t *s, const char *sql, size_t len);

/* For a statement sl_schema_apply_ddl() just refused with SL_EUNSUPPORTED
 * (same s, default_db and sql): adds to effect (may be NULL) the tables
 * sl_schema_ddl_tables() finds, each once, and removes them from the
 * history, since the statement's effect on them is unknown. Returns 0
 * when effect now names every table the statement may affect (the names
 * were found, or the parser read the whole statement and failed only on
 * the history), SL_EUNSUPPORTED when they cannot be determined (err says
 * why), or SL_ENOMEM. So a caller may carry on past the statement only
 * when this returns 0 and no table of effect is one it captures. */
int sl_schema_ddl_unreadable(sl_schema_t *s, const char *default_db,
                             const char *sql, size_t len,
                             sl_ddl_effect_t *effect, char *err, size_t errlen);

/* How two histories differ (sl_schema_diff). */
typedef struct {
    size_t compared;     /* Tables both hold. */
    size_t differ;       /* Tables both hold, with different definitions. */
    size_t only_history; /* Tables hist holds and live lacks. */
    size_t only_server;  /* Tables live holds and hist lacks. */
} sl_schema_diff_t;

/* Compares the tables that want (NULL: all) selects in hist (the history)
 * and live (read from the server with sl_schema_load_live): per table its
 * default charset and, column by column, name, data_type, column_type,
 * signedness, charset, ENUM/SET members, nullability and primary-key
 * position. Fills *out with the counts, and appends to report, for each
 * table that differs or that one side lacks, both definitions column by
 * column (the layout is at the top of capture/schema/drift.c). Nothing
 * is appended when the two agree. Neither history is changed; the caller
 * owns report. Returns 0 or SL_ENOMEM (report's error). */
int sl_schema_diff(const sl_schema_t *hist, const sl_schema_t *live,
                   int (*want)(void *ctx, const char *db, const char *table),
                   void *ctx, sl_buf_t *report, sl_schema_diff_t *out);

#endif
