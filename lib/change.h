/*
 * What a change event is, as numbers: the "kind" and "op" members of the
 * change-event JSON (docs/change-events.md) as enums shared by capture,
 * which produces them, and apply, which consumes them. Capture's decoder
 * hands these to the service directly; apply turns the strings of a parsed
 * event into them once (sl_change_kind_parse(), sl_change_op_parse()) and
 * switches on them afterwards.
 */
#ifndef SL_CHANGE_H
#define SL_CHANGE_H

#include <stddef.h>

/* What a change event describes (the "kind" member of its JSON). */
typedef enum {
    SL_CHANGE_UNKNOWN = 0,        /* A kind this build does not know. */
    SL_CHANGE_ROW = 1,            /* One row: insert, update or delete. */
    SL_CHANGE_BEGIN = 2,          /* A transaction starts. */
    SL_CHANGE_COMMIT = 3,         /* A transaction ends (XID or COMMIT). */
    SL_CHANGE_ROLLBACK = 4,       /* A transaction was rolled back. */
    SL_CHANGE_DDL = 5,            /* A schema change statement. */
    SL_CHANGE_STATEMENT = 6,      /* Statement-based DML (no row images). */
    SL_CHANGE_XA_PREPARE = 7,     /* XA PREPARE: the transaction is prepared. */
    SL_CHANGE_SNAPSHOT_START = 8, /* A table's snapshot starts. */
    SL_CHANGE_SNAPSHOT_DONE = 9   /* A table's snapshot is complete. */
} sl_change_kind_t;

/* What a row change does (the "op" member of a "row" event). */
typedef enum {
    SL_OP_NONE = 0, /* Not a row event, or an op this build does not know. */
    SL_OP_INSERT = 1,
    SL_OP_UPDATE = 2,
    SL_OP_DELETE = 3,
    SL_OP_READ = 4 /* A row read by a snapshot (docs/snapshot.md). */
} sl_change_op_t;

/* The JSON name of a kind or op ("row", "insert"); "" for UNKNOWN/NONE.
 * The strings are static. */
const char *sl_change_kind_name(sl_change_kind_t kind);
const char *sl_change_op_name(sl_change_op_t op);

/* The kind or op named by the len bytes at name (not NUL-terminated, as
 * found in a JSON document); SL_CHANGE_UNKNOWN or SL_OP_NONE when the name
 * is none of them. */
sl_change_kind_t sl_change_kind_parse(const char *name, size_t len);
sl_change_op_t sl_change_op_parse(const char *name, size_t len);

#endif
