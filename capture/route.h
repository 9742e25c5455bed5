/*
 * Routing: which partition of the capture topic a change goes to.
 *
 *   table     "db.table" (the default): each table's changes in commit
 *             order; different tables are independent streams.
 *   database  "db": a database's changes in commit order, across its
 *             tables.
 *   server    "all": one partition holding every change in the server's
 *             total commit order (one consumer; the slowest mode).
 *   key:N     "db.table#k" with k = hash(primary key) mod N: each row's
 *             history in order, spread over N partitions per table. A row
 *             whose primary key changes moves partition, so its old and
 *             new keys are ordered separately. DDL goes to all N.
 *
 * The db and table parts are encoded by partname.h (plain names
 * [A-Za-z0-9_] stay as they are; anything else is escaped reversibly, or
 * hashed when too long), so every name the servers allow gives a name the
 * broker and Kafka accept. Events keep the real names.
 *
 * Transaction markers go to every partition the transaction touched, so
 * a consumer of any partition knows where the transaction's rows end.
 */
#ifndef SL_CAPTURE_ROUTE_H
#define SL_CAPTURE_ROUTE_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_ROUTE_TABLE = 0,
    SL_ROUTE_DATABASE = 1,
    SL_ROUTE_SERVER = 2,
    SL_ROUTE_KEY = 3,
} sl_route_mode_t;

typedef struct {
    sl_route_mode_t mode;
    uint32_t buckets; /* N for key:N. */
} sl_route_t;

/* Parses "table", "database", "server" or "key:N" (1 <= N <= 65536). */
int sl_route_parse(const char *text, sl_route_t *route);

/* Appends the partition name for a change of db.table to out (encoded as
 * partname.h says; SL_EINVAL for an empty db or table). For key
 * mode, key_hash is the hash of the row's primary-key values and
 * selects one of the N partitions (the decoder computes it while it
 * renders the row: sl_change_t.key_hash with sl_binlog_opts_t.key_hash). */
int sl_route_partition(const sl_route_t *route, const char *db, size_t db_len,
                       const char *table, size_t table_len, uint64_t key_hash,
                       sl_buf_t *out);

#endif
