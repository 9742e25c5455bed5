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
    /* The "kind" and "op" strings as enums, found once here so that the
     * consumer and the sinks switch on them: SL_CHANGE_UNKNOWN and
     * SL_OP_NONE when absent, not a string, or a name this build does not
     * know. */
    sl_change_kind_t kind_id;
    sl_change_op_t op_id;
} sl_event_t;

/* Fills ev from doc (root token 0). A document that is not an object
 * leaves every member absent. doc is only read during the call. */
void sl_event_index(const sl_jr_doc_t *doc, sl_event_t *ev);

#endif
