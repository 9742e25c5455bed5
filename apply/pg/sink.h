/*
 * The PostgreSQL sink: applies the row changes of one partition to a
 * PostgreSQL database through libpq, exactly once (docs/postgresql.md).
 *
 * It is reached through the MySQL sink's interface (apply/target.h):
 * sluice-apply's main() sets sl_mysql_opts_t.ops to sl_pg_target_ops and
 * ops_arg to an sl_pg_opts_t, and the consumer's sl_mysql_sink_ calls
 * forward here, with the meaning apply/mysql/sink.h gives them:
 *
 *   exactly once   the rows of a group of whole source transactions and
 *                  the partition's row of sluice_offsets
 *                  (schemas/sluice_offsets_pg.sql) commit in one
 *                  PostgreSQL transaction; resume reads that row.
 *   statements     one prepared statement per table, kind and column set,
 *                  executed in libpq's pipeline mode: rows are sent
 *                  without waiting, results read back a batch behind.
 *   values         bound as parameters (text, bytea in binary), cast to
 *                  the target column's type: never spliced into SQL.
 *   errors         SQLSTATE 40001, 40P01, 55P03, class 08, class 53,
 *                  57P01-57P03, 25006, 57014 and a lost connection are
 *                  transient
 *                  (SL_EAGAIN: the group is redone after a backoff); any
 *                  other is permanent (SL_EDB) and names the partition,
 *                  offset, row, table and, for a refused value, the
 *                  column.
 *
 * Ownership: the sink owns its connection; sl_pg_opts_t is copied.
 */
#ifndef SL_APPLY_PG_SINK_H
#define SL_APPLY_PG_SINK_H

#include "apply/target.h"

#include <stdint.h>

typedef enum {
    SL_PG_ZERO_NULL = 0, /* A zero date or datetime becomes NULL. */
    SL_PG_ZERO_STOP = 1, /* It stops the partition (permanent error). */
} sl_pg_zero_t;

typedef struct {
    char user[128];
    char host[256];
    uint16_t port;
    char db[128];
    char sslmode[32];      /* libpq sslmode ("" = libpq's default). */
    char sslrootcert[512]; /* CA file for verify-ca / verify-full. */
} sl_pg_url_t;

/* Parses postgresql://USER@HOST:PORT/DB[?sslmode=M&sslrootcert=FILE]
 * (also postgres://; the port defaults to 5432; HOST may be a directory,
 * percent-encoded, for a unix socket). No password in the URL: it comes
 * from a file or the environment. Returns 0 or SL_EINVAL. */
int sl_pg_url_parse(const char *text, sl_pg_url_t *url);

/* 1 when text names a PostgreSQL target (postgresql:// or postgres://). */
int sl_pg_url_is_pg(const char *text);

/* Where --create-tables-from reads table definitions:
 * mysql://USER@HOST[:PORT][/...] (the path, if any, is ignored). */
typedef struct {
    char user[128];
    char host[256];
    uint16_t port;
} sl_pg_source_t;

int sl_pg_source_parse(const char *text, sl_pg_source_t *src);

typedef struct {
    sl_pg_url_t url;
    const char *password; /* May be NULL. Borrowed for the sink's life. */
    sl_pg_zero_t zero_dates;
    /* Create a missing target table from the source's definition, read
     * from source's information_schema (apply/pg/create.c). */
    int create_tables;
    sl_pg_source_t source;
    const char *source_password; /* May be NULL. Borrowed. */
} sl_pg_opts_t;

/* The CREATE TABLE of schemas/sluice_offsets_pg.sql, run at start. */
extern const char sl_pg_offsets_ddl[];
/* The CREATE TABLE of schemas/sluice_snapshots_pg.sql, run at start. */
extern const char sl_pg_snapshots_ddl[];

extern const sl_target_ops_t sl_pg_target_ops;

#endif
