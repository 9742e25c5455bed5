/*
 * libFuzzer target for the broker client's reply parsing (lib/client.c and
 * lib/client_request.c), through sl_client_parse_reply(): the same
 * status-line, get, ack, number and listing code the connected calls run,
 * fed from a buffer.
 *
 * Input layout: byte 0 picks the request kind (modulo the kinds), byte 1
 * the get's MAXBYTES (0: the default 1 MiB, else byte * 8), byte 2 the
 * offset asked for; the rest is the broker's reply. Besides ASan/UBSan's
 * checks it asserts the client's contract: a get's records lie in memory
 * the client owns (every byte is read), are no more than MAXBYTES / 16 + 1,
 * come in offset order from the offset asked for, and NEXT is above the
 * last; their payloads fit in the reply; a failed listing leaves the
 * caller's buffer as it was; a protocol error always says what broke. For
 * a get with meta=1 (SL_CLIENT_REPLY_GET_META) also: every record has its
 * meta, the header iterator yields exactly NHEADERS headers, and keys,
 * headers and values together fit in the reply (every byte is read).
 */
#include "client.h"

#include "buf.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    sl_client_reply_kind_t kind =
        (sl_client_reply_kind_t)(data[0] % (SL_CLIENT_REPLY_GET_META + 1));
    uint64_t max_bytes = (uint64_t)data[1] * 8;
    uint64_t offset = data[2];
    data += 3;
    size -= 3;
    sl_client_t *cl;
    if (sl_client_new_detached(&cl) != 0)
        return 0;
    sl_buf_t lines = SL_BUF_INIT;
    sl_client_reply_t r;
    memset(&r, 0, sizeof r);
    r.lines = &lines;
    int rc = sl_client_parse_reply(cl, kind, offset, max_bytes, data, size, &r);
    if (rc == SL_EPROTO && sl_client_error(cl)[0] == '\0')
        abort();
    if (r.used > size)
        abort();
    if (kind == SL_CLIENT_REPLY_GET || kind == SL_CLIENT_REPLY_GET_META) {
        const sl_client_fetch_t *f = &r.fetch;
        int meta = kind == SL_CLIENT_REPLY_GET_META;
        if (f->count > 0 && (f->meta != NULL) != meta)
            abort();
        uint64_t mb = max_bytes ? max_bytes : 1u << 20;
        if (rc != 0 && f->count != 0)
            abort();
        if (f->count > mb / 16 + 1)
            abort();
        uint64_t total = 0, prev = 0;
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < f->count; i++) {
            const sl_client_rec_t *rec = &f->recs[i];
            if (i == 0 ? rec->offset < offset : rec->offset <= prev)
                abort();
            if (rec->ts < 0)
                abort();
            for (size_t k = 0; k < rec->len; k++)
                sink ^= rec->data[k];
            total += rec->len;
            if (meta) {
                const sl_client_meta_t *m = &f->meta[i];
                if (m->has_key != (m->key != NULL) ||
                    (!m->has_value && rec->len != 0))
                    abort();
                for (size_t k = 0; k < m->key_len; k++)
                    sink ^= m->key[k];
                size_t pos = 0, n = 0;
                sl_client_header_t h;
                while (sl_client_header_next(m, &pos, &h)) {
                    for (size_t k = 0; k < h.name_len; k++)
                        sink ^= h.name[k];
                    for (size_t k = 0; h.value && k < h.value_len; k++)
                        sink ^= h.value[k];
                    if (pos > m->headers_len)
                        abort();
                    n++;
                }
                if (n != m->nheaders || pos != m->headers_len)
                    abort();
                total += m->key_len + m->headers_len;
            }
            prev = rec->offset;
        }
        (void)sink;
        if (total > size)
            abort();
        if (rc == 0 && f->count > 0 && f->next <= prev)
            abort();
        if (rc == 0 && f->count == 0 && f->next != offset)
            abort();
        /* A 422 moves NEXT past the damaged records, never back. */
        if (rc == SL_EDAMAGED && f->next <= offset)
            abort();
    } else if (kind == SL_CLIENT_REPLY_PARTITIONS ||
               kind == SL_CLIENT_REPLY_STATS) {
        if (rc != 0 && lines.len != 0)
            abort();
        if (lines.len > size ||
            (lines.len > 0 && lines.data[lines.len - 1] != '\n'))
            abort();
    } else if (kind == SL_CLIENT_REPLY_OFFSETS) {
        if (rc == 0 && r.v[0] > r.v[1])
            abort();
    } else if (kind == SL_CLIENT_REPLY_PUT) {
        if (rc == 0 && r.v[0] == UINT64_MAX && !r.dup)
            abort();
    } else if (kind == SL_CLIENT_REPLY_VERSION) {
        if (strlen(r.version) >= sizeof r.version)
            abort();
    }
    sl_buf_free(&lines);
    sl_client_close(cl);
    return 0;
}
