/*
 * Where source transactions end in one partition's stream of change
 * events (contract in apply/consume.h): the consumer commits target
 * transactions only at these boundaries.
 */
#include "apply/internal.h"

#include <string.h>

/* The boundary logic of sl_trxtrack_feed() on an indexed event and its
 * transaction id token (id), already looked up. */
int sl__trxtrack_at(sl_trxtrack_t *tt, const sl_jr_doc_t *doc,
                    const sl_event_t *ev, uint32_t id) {
    if (ev->kind == SL_JR_NONE)
        return SL_TRX_NONE;
    int r = SL_TRX_NONE;
    if (sl_event_outside_trx(ev)) {
        /* Snapshot rows and markers: never wait for a commit. */
        r = tt->open ? SL_TRX_ENDS_BEFORE : SL_TRX_NONE;
        tt->open = 0;
        tt->trx[0] = '\0';
        return r | SL_TRX_ENDS_HERE | SL_TRX_OUTSIDE;
    }
    switch (ev->kind_id) {
    case SL_CHANGE_COMMIT:
    case SL_CHANGE_ROLLBACK:
    case SL_CHANGE_XA_PREPARE:
        tt->open = 0;
        tt->trx[0] = '\0';
        return SL_TRX_ENDS_HERE;
    case SL_CHANGE_DDL:
        /* DDL commits implicitly and is a transaction of its own. */
        r = tt->open ? SL_TRX_ENDS_BEFORE : SL_TRX_NONE;
        tt->open = 0;
        tt->trx[0] = '\0';
        return r | SL_TRX_ENDS_HERE;
    default: break;
    }
    const char *idp = "";
    size_t idn = 0;
    if (id != SL_JR_NONE && sl_jr_type(doc, id) == SL_JR_STRING) {
        idp = sl_jr_raw(doc, id, &idn);
        if (idn >= sizeof tt->trx)
            idn = sizeof tt->trx - 1;
    }
    if (ev->kind_id == SL_CHANGE_BEGIN) {
        r = tt->open ? SL_TRX_ENDS_BEFORE : SL_TRX_NONE;
    } else if (tt->open && tt->trx[0] != '\0' &&
               (strlen(tt->trx) != idn || memcmp(tt->trx, idp, idn) != 0)) {
        /* A row, a statement or a kind this build does not know: a
         * different transaction id means the previous transaction ended
         * without a marker in this partition. */
        r = SL_TRX_ENDS_BEFORE;
    }
    tt->open = 1;
    memcpy(tt->trx, idp, idn);
    tt->trx[idn] = '\0';
    return r;
}

int sl_trxtrack_feed(sl_trxtrack_t *tt, const sl_jr_doc_t *doc) {
    sl_event_t ev;
    sl_event_index(doc, &ev);
    return sl__trxtrack_at(tt, doc, &ev, sl__trx_id_of(doc, ev.trx));
}
