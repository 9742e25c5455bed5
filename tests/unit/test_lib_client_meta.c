/* Unit tests for the client's reading of a get with meta=1 (lib/client.h,
 * sl_client_get_meta; the form is in docs/protocol.md): keys, headers and
 * nulls are read exactly, and replies whose lengths do not add up are
 * SL_EPROTO with nothing returned as data. */
#include "client.h"
#include "error.h"
#include "sl_test.h"

#include <string.h>

static int parse(sl_client_t *cl, uint64_t max_bytes, const char *text,
                 sl_client_reply_t *r) {
    return sl_client_parse_reply(cl, SL_CLIENT_REPLY_GET_META, 0, max_bytes,
                                 text, strlen(text), r);
}

SL_TEST(client_meta_good) {
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    sl_client_reply_t r = {0};
    /* A key, a header "a"="b", a header "n" with a null value, a header
     * whose value holds a line end; then a null key and a null value; then
     * a text-protocol put (no key, no headers) with bare line ends. */
    SL_CHECK_OK(parse(cl, 0,
                      "200 1 3 3 3\r\n"
                      "0 5 2 2 3\r\nk1\r\n1 1\r\nab\r\n1 -1\r\nn\r\n"
                      "1 4\r\nxy\r\nz\r\nv1\r\n"
                      "1 6 -1 -1 0\r\n"
                      "2 7 3 -1 0\nabc\n",
                      &r));
    SL_CHECK_UINT(r.fetch.count, 3);
    SL_CHECK(r.fetch.meta != NULL);
    const sl_client_meta_t *m = &r.fetch.meta[0];
    SL_CHECK(m->has_key && m->has_value);
    SL_CHECK_MEM(m->key, m->key_len, "k1", 2);
    SL_CHECK_MEM(r.fetch.recs[0].data, r.fetch.recs[0].len, "v1", 2);
    SL_CHECK_UINT(m->nheaders, 3);
    size_t pos = 0;
    sl_client_header_t h;
    SL_CHECK(sl_client_header_next(m, &pos, &h) == 1);
    SL_CHECK_MEM(h.name, h.name_len, "a", 1);
    SL_CHECK_MEM(h.value, h.value_len, "b", 1);
    SL_CHECK(sl_client_header_next(m, &pos, &h) == 1);
    SL_CHECK_MEM(h.name, h.name_len, "n", 1);
    SL_CHECK(h.value == NULL);
    SL_CHECK(sl_client_header_next(m, &pos, &h) == 1);
    SL_CHECK_MEM(h.name, h.name_len, "x", 1);
    SL_CHECK_MEM(h.value, h.value_len, "y\r\nz", 4);
    SL_CHECK(sl_client_header_next(m, &pos, &h) == 0);
    m = &r.fetch.meta[1];
    SL_CHECK(!m->has_key && m->key == NULL && !m->has_value);
    SL_CHECK_UINT(r.fetch.recs[1].len, 0);
    SL_CHECK_UINT(m->nheaders, 0);
    pos = 0;
    SL_CHECK(sl_client_header_next(m, &pos, &h) == 0);
    m = &r.fetch.meta[2];
    SL_CHECK(!m->has_key && m->has_value);
    SL_CHECK_MEM(r.fetch.recs[2].data, r.fetch.recs[2].len, "abc", 3);
    /* The same bytes read as a plain get are a protocol error: its record
     * lines have three fields. */
    static const char plain[] = "200 1 1 1 1\r\n0 1 1 -1 0\r\nx\r\n";
    SL_CHECK_INT(sl_client_parse_reply(cl, SL_CLIENT_REPLY_GET, 0, 0, plain,
                                       strlen(plain), &r),
                 SL_EPROTO);
    /* Key and header bytes count against MAXBYTES: 16 + 1 + 1 + (2 + 8) =
     * 28 uses up MAXBYTES 28, so a second record is refused... */
    SL_CHECK_INT(parse(cl, 28,
                       "200 1 2 2 2\r\n0 1 1 1 1\r\nk\r\n1 1\r\nab\r\nv\r\n"
                       "1 1 0 -1 0\r\n\r\n",
                       &r),
                 SL_EPROTO);
    /* ...and allowed with MAXBYTES 29. */
    SL_CHECK_OK(parse(cl, 29,
                      "200 1 2 2 2\r\n0 1 1 1 1\r\nk\r\n1 1\r\nab\r\nv\r\n"
                      "1 1 0 -1 0\r\n\r\n",
                      &r));
    SL_CHECK_UINT(r.fetch.count, 2);
    sl_client_close(cl);
}

SL_TEST(client_meta_hostile) {
    static const char *const cases[] = {
        /* Three fields where five are due. */
        "200 1 1 1 1\r\n0 1 1\r\nx\r\n",
        /* Six fields. */
        "200 1 1 1 1\r\n0 1 1 -1 0 0\r\nx\r\n",
        /* Negative lengths other than -1, and NHEADERS -1. */
        "200 1 1 1 1\r\n0 1 -2 -1 0\r\n",
        "200 1 1 1 1\r\n0 1 1 -5 0\r\nx\r\n",
        "200 1 1 1 1\r\n0 1 1 -1 -1\r\nx\r\n",
        "200 1 1 1 1\r\n0 1 1 -1 2147483648\r\nx\r\n",
        /* A key longer than 1 GiB, a key longer than KEYLEN. */
        "200 1 1 1 1\r\n0 1 1 1073741825 0\r\n",
        "200 1 1 1 1\r\n0 1 1 1 0\r\nkk\r\nx\r\n",
        /* A header line that is not NAMELEN VALUELEN, a null name, a header
         * longer than its lengths, one VALUELEN over 1 GiB. */
        "200 1 1 1 1\r\n0 1 1 -1 1\r\n1\r\na\r\nx\r\n",
        "200 1 1 1 1\r\n0 1 1 -1 1\r\n-1 1\r\na\r\nx\r\n",
        "200 1 1 1 1\r\n0 1 1 -1 1\r\n1 1\r\nabc\r\nx\r\n",
        "200 1 1 1 1\r\n0 1 1 -1 1\r\n1 1073741825\r\n",
        /* Fewer headers than NHEADERS before the value: the value line is
         * read as a header line. */
        "200 1 1 1 1\r\n0 1 1 -1 2\r\n1 1\r\nab\r\nx\r\n",
        /* A value longer than LENGTH. */
        "200 1 1 1 1\r\n0 1 1 -1 0\r\nxy\r\n",
    };
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sl_client_reply_t r = {0};
        int rc = parse(cl, 0, cases[k], &r);
        if (rc != SL_EPROTO || r.fetch.count != 0 || r.fetch.recs != NULL ||
            r.fetch.meta != NULL)
            sl_test_fail(__FILE__, __LINE__, "case %zu: %s, %zu records", k,
                         sl_errname(rc), r.fetch.count);
        SL_CHECK(strstr(sl_client_error(cl), "malformed reply") != NULL);
    }
    sl_client_close(cl);
}
