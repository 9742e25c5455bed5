/*
 * One walk over a change event's top-level members (apply/event.h).
 */
#include "apply/event.h"

#include <stddef.h>
#include <string.h>

/* Every member sl_event_t knows, with its slot's offset. */
static const struct {
    const char *name;
    size_t len;
    size_t off;
} members[] = {
    {"kind", 4, offsetof(sl_event_t, kind)},
    {"op", 2, offsetof(sl_event_t, op)},
    {"db", 2, offsetof(sl_event_t, db)},
    {"table", 5, offsetof(sl_event_t, table)},
    {"row", 3, offsetof(sl_event_t, row)},
    {"pk", 2, offsetof(sl_event_t, pk)},
    {"positional", 10, offsetof(sl_event_t, positional)},
    {"before", 6, offsetof(sl_event_t, before)},
    {"after", 5, offsetof(sl_event_t, after)},
    {"src", 3, offsetof(sl_event_t, src)},
    {"trx", 3, offsetof(sl_event_t, trx)},
    {"snapshot", 8, offsetof(sl_event_t, snapshot)},
};

#define NMEMBERS (sizeof members / sizeof members[0])

/* The slot for an unescaped key of n bytes, or NULL: the length and the
 * first byte pick the one candidate, which is then compared in full. */
static inline uint32_t *slot_for(sl_event_t *ev, const char *key, size_t n) {
    switch (n) {
    case 2:
        if (key[0] == 'o' && key[1] == 'p')
            return &ev->op;
        if (key[0] == 'd' && key[1] == 'b')
            return &ev->db;
        if (key[0] == 'p' && key[1] == 'k')
            return &ev->pk;
        return NULL;
    case 3:
        if (memcmp(key, "row", 3) == 0)
            return &ev->row;
        if (memcmp(key, "src", 3) == 0)
            return &ev->src;
        if (memcmp(key, "trx", 3) == 0)
            return &ev->trx;
        return NULL;
    case 4: return memcmp(key, "kind", 4) == 0 ? &ev->kind : NULL;
    case 5:
        if (key[0] == 't')
            return memcmp(key, "table", 5) == 0 ? &ev->table : NULL;
        return memcmp(key, "after", 5) == 0 ? &ev->after : NULL;
    case 6: return memcmp(key, "before", 6) == 0 ? &ev->before : NULL;
    case 8: return memcmp(key, "snapshot", 8) == 0 ? &ev->snapshot : NULL;
    case 10: return memcmp(key, "positional", 10) == 0 ? &ev->positional : NULL;
    default: return NULL;
    }
}

static const char *kind_name(int v) {
    return sl_change_kind_name((sl_change_kind_t)v);
}

static const char *op_name(int v) {
    return sl_change_op_name((sl_change_op_t)v);
}

/* The value in [lo, hi] whose name string token tok holds, or 0 (unknown,
 * absent, or not a string). An escaped string is compared exactly. */
static int name_of(const sl_jr_doc_t *doc, uint32_t tok, int lo, int hi,
                   const char *(*name)(int)) {
    if (tok == SL_JR_NONE || sl_jr_type(doc, tok) != SL_JR_STRING)
        return 0;
    const sl_jr_tok_t *t = &doc->toks[tok];
    for (int v = lo; v <= hi; v++) {
        const char *n = name(v);
        size_t len = strlen(n);
        if (!t->escaped
                ? t->len == len && memcmp(doc->text + t->start, n, len) == 0
                : sl_jr_str_eq(doc, tok, n, len))
            return v;
    }
    return 0;
}

void sl_event_index(const sl_jr_doc_t *doc, sl_event_t *ev) {
    ev->kind_id = SL_CHANGE_UNKNOWN;
    ev->op_id = SL_OP_NONE;
    ev->snap = SL_EVENT_SNAP_NONE;
    for (size_t i = 0; i < NMEMBERS; i++)
        *(uint32_t *)((char *)ev + members[i].off) = SL_JR_NONE;
    if (doc->ntoks == 0 || sl_jr_type(doc, 0) != SL_JR_OBJECT)
        return; /* Valid JSON but no event: every member is missing. */
    const sl_jr_tok_t *toks = doc->toks;
    uint32_t end = toks[0].next;
    for (uint32_t k = 1; k < end; k = toks[k + 1].next) {
        uint32_t *slot = NULL;
        if (!toks[k].escaped) {
            slot = slot_for(ev, doc->text + toks[k].start, toks[k].len);
        } else {
            /* Rare: let the exact comparison decide. */
            for (size_t i = 0; i < NMEMBERS && slot == NULL; i++)
                if (sl_jr_str_eq(doc, k, members[i].name, members[i].len))
                    slot = (uint32_t *)((char *)ev + members[i].off);
        }
        if (slot != NULL && *slot == SL_JR_NONE)
            *slot = k + 1;
    }
    ev->kind_id = (sl_change_kind_t)name_of(doc, ev->kind, SL_CHANGE_ROW,
                                            SL_CHANGE_SNAPSHOT_DONE, kind_name);
    ev->op_id =
        (sl_change_op_t)name_of(doc, ev->op, SL_OP_INSERT, SL_OP_READ, op_name);
    ev->snap = ev->kind_id == SL_CHANGE_SNAPSHOT_START  ? SL_EVENT_SNAP_START
               : ev->kind_id == SL_CHANGE_SNAPSHOT_DONE ? SL_EVENT_SNAP_DONE
                                                        : SL_EVENT_SNAP_NONE;
}
