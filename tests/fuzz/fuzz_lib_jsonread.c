/*
 * libFuzzer target for lib/jsonread.
 *
 * The input is one JSON document. Besides ASan/UBSan's checks it asserts
 * the reader's contract: on success every token lies inside the input,
 * every subtree ends after its start and inside the token array, walking
 * any container visits exactly `count` children, strings unescape, and
 * integer conversions never read outside their token; on failure the error
 * position is inside the input and a message is set.
 */
#include "jsonread.h"

#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    doc.max_toks = 100000;
    /* A copy with no slack after it, so reads past the end are caught. */
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    int rc = sl_jr_parse(&doc, text, size);
    if (rc != 0) {
        if (doc.err_pos > size || doc.err[0] == '\0')
            abort();
    } else {
        if (doc.ntoks == 0 || doc.toks[0].next != doc.ntoks)
            abort();
        sl_buf_t buf = SL_BUF_INIT;
        for (uint32_t i = 0; i < doc.ntoks; i++) {
            const sl_jr_tok_t *t = &doc.toks[i];
            if ((size_t)t->start + t->len > size || t->next <= i ||
                t->next > doc.ntoks)
                abort();
            if (t->type == SL_JR_STRING) {
                sl_buf_reset(&buf);
                /* An empty string leaves buf.data NULL; memcmp() must
                 * not get NULL even for 0 bytes. */
                if (sl_jr_unescape(&doc, i, &buf) == 0 &&
                    !sl_jr_str_eq(&doc, i,
                                  buf.data ? (const char *)buf.data : "",
                                  buf.len))
                    abort();
            } else if (t->type == SL_JR_NUMBER) {
                uint64_t u;
                int64_t s;
                (void)sl_jr_u64(&doc, i, &u);
                (void)sl_jr_i64(&doc, i, &s);
            } else if (t->type == SL_JR_OBJECT || t->type == SL_JR_ARRAY) {
                uint32_t it = 0, key, val, n = 0;
                while (sl_jr_next(&doc, i, &it, &key, &val)) {
                    if (t->type == SL_JR_OBJECT &&
                        doc.toks[key].type != SL_JR_STRING)
                        abort();
                    n++;
                }
                if (n != t->count)
                    abort();
                (void)sl_jr_get(&doc, i, "id");
            }
        }
        sl_buf_free(&buf);
    }
    sl_jr_free(&doc);
    free(text);
    return 0;
}
