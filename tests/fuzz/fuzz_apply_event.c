/*
 * libFuzzer target for apply's reading of change events: the one-walk
 * member index (apply/event.c), transaction boundary tracking
 * (sl_trxtrack_feed) and cache-key templates evaluated on the images
 * (sl_keytpl_eval), on events as apply parses them (lib/jsonread).
 *
 * Input: events separated by newlines, fed in order to one tracker.
 *
 * Besides ASan/UBSan's checks it asserts: the index agrees with
 * sl_jr_get() for every member (first occurrence wins; nothing when the
 * root is not an object); the tracker answers a combination of its
 * boundary bits (a DDL can end the previous transaction and its own) and
 * keeps its transaction id NUL-terminated; key evaluation returns 0,
 * SL_ECORRUPT (with a message) or SL_ENOMEM, and every key it produced is
 * non-empty and free of bytes memcached refuses (controls, space, DEL).
 */
#include "apply/consume.h"
#include "apply/event.h"
#include "apply/keytpl.h"

#include "buf.h"
#include "error.h"
#include "jsonread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"kind",  "op",  "db",         "table",
                                    "row",   "pk",  "positional", "before",
                                    "after", "src", "trx"};

static sl_keytpl_set_t *templates;

static void check_index(const sl_jr_doc_t *doc) {
    sl_event_t ev;
    sl_event_index(doc, &ev);
    const uint32_t got[] = {ev.kind,  ev.op,  ev.db,         ev.table,
                            ev.row,   ev.pk,  ev.positional, ev.before,
                            ev.after, ev.src, ev.trx};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint32_t want = sl_jr_type(doc, 0) == SL_JR_OBJECT
                            ? sl_jr_get(doc, 0, names[i])
                            : SL_JR_NONE;
        if (got[i] != want)
            abort();
    }
}

static void check_keys(const sl_jr_doc_t *doc) {
    sl_event_t ev;
    sl_event_index(doc, &ev);
    if (ev.db == SL_JR_NONE || ev.table == SL_JR_NONE ||
        sl_jr_type(doc, ev.db) != SL_JR_STRING ||
        sl_jr_type(doc, ev.table) != SL_JR_STRING)
        return;
    sl_buf_t db = SL_BUF_INIT, table = SL_BUF_INIT;
    if (sl_jr_unescape(doc, ev.db, &db) == 0 &&
        sl_jr_unescape(doc, ev.table, &table) == 0) {
        const sl_keytpl_table_t *tt =
            sl_keytpl_find(templates, (const char *)db.data, db.len,
                           (const char *)table.data, table.len);
        if (tt != NULL) {
            sl_keylist_t kl;
            sl_keylist_init(&kl);
            char err[256] = "";
            int rc = sl_keytpl_eval(
                tt, doc, ev.before, ev.after, (const char *)db.data, db.len,
                (const char *)table.data, table.len, &kl, err, sizeof err);
            if (rc != 0 && rc != SL_ECORRUPT && rc != SL_ENOMEM)
                abort();
            if (rc == SL_ECORRUPT && err[0] == '\0')
                abort();
            for (size_t i = 0; rc == 0 && i < kl.count; i++) {
                size_t klen;
                const char *k = sl_keylist_key(&kl, i, &klen);
                if (klen == 0)
                    abort();
                for (size_t j = 0; j < klen; j++)
                    if ((unsigned char)k[j] <= 0x20 ||
                        (unsigned char)k[j] == 0x7F)
                        abort();
            }
            sl_keylist_free(&kl);
        }
    }
    sl_buf_free(&db);
    sl_buf_free(&table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (templates == NULL) {
        static const char keys[] = "d.t k:{id} e:{email}:{_db}.{_table}\n"
                                   "shop.* t:{_table}:{id}\n"
                                   "test.* {_table}:{a}:{b}\n"
                                   "sakila.* {_table}:{id}\n"
                                   "auth.* a:{@1}:{_table}\n";
        char err[256];
        if (sl_keytpl_parse(keys, sizeof keys - 1, &templates, err,
                            sizeof err) != 0)
            abort();
    }
    sl_trxtrack_t tt;
    memset(&tt, 0, sizeof tt);
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    doc.max_toks = 100000;
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *text = malloc(len ? len : 1);
        if (text == NULL)
            break;
        memcpy(text, p, len);
        if (sl_jr_parse(&doc, text, len) == 0) {
            check_index(&doc);
            int r = sl_trxtrack_feed(&tt, &doc);
            if ((r & ~(SL_TRX_ENDS_BEFORE | SL_TRX_ENDS_HERE)) != 0)
                abort();
            if (memchr(tt.trx, '\0', sizeof tt.trx) == NULL)
                abort();
            check_keys(&doc);
        }
        free(text);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    sl_jr_free(&doc);
    return 0;
}
