/*
 * The top-level members of a change event (docs/change-events.md), found
 * in one walk over a parsed document instead of one lookup each: every
 * consumer of an event reads most of them, and a lookup walks all the
 * members.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include "change.h"
#include "jsonread.h"

#include <stdint.h>

/* Token indexes into the document, SL_JR_NONE for a member that is
 * absent. With a repeated name the first one counts, as sl_jr_get()
 * finds it. */
typedef struct {
    uint32_t kind, op, db, table, row, pk, positional, before, after, src, trx;
    uint32_t snapshot;
    /* The "kind" and "op" strings as enums, found once here so that the
     * consumer and the sinks switch on them: SL_CHANGE_UNKNOWN and
     * SL_OP_NONE when absent, not a string, or a name this build does not
     * know. */
    sl_change_kind_t kind_id;
    sl_change_op_t op_id;
    /* A snapshot marker (kind_id SL_CHANGE_SNAPSHOT_START or _DONE), or
     * SL_EVENT_SNAP_NONE: what the sinks switch on. */
    int snap;
} sl_event_t;

enum {
    SL_EVENT_SNAP_NONE = 0,
    SL_EVENT_SNAP_START = 1,
    SL_EVENT_SNAP_DONE = 2
};

/* 1 when the event belongs to no source transaction: a snapshot row
 * ("op":"read") or a snapshot marker. Such an event is a unit of its own
 * for the consumer: it never waits for a commit. */
static inline int sl_event_outside_trx(const sl_event_t *ev) {
    return ev->snap != SL_EVENT_SNAP_NONE ||
           (ev->kind_id == SL_CHANGE_ROW && ev->op_id == SL_OP_READ);
}

/* Fills ev from doc (root token 0). A document that is not an object
 * leaves every member absent. doc is only read during the call. */
void sl_event_index(const sl_jr_doc_t *doc, sl_event_t *ev);

#endif
