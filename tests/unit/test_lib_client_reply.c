/* Unit tests for the broker client's reply parsing (lib/client.h,
 * sl_client_parse_reply): the replies the broker sends are read exactly,
 * and replies breaking the protocol's limits are SL_EPROTO with nothing
 * returned as data. */
#include "buf.h"
#include "client.h"
#include "error.h"
#include "sl_test.h"

#include <string.h>

static int parse(sl_client_t *cl, sl_client_reply_kind_t kind, uint64_t offset,
                 uint64_t max_bytes, const char *text, sl_client_reply_t *r) {
    return sl_client_parse_reply(cl, kind, offset, max_bytes, text,
                                 strlen(text), r);
}

SL_TEST(client_reply_get_good) {
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    sl_client_reply_t r = {0};
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_GET, 0, 0,
                      "200 1 3 3 3\r\n0 1795311966902 5\r\nhello\r\n"
                      "1 1795311966950 3\r\nabc\r\n2 1795311966950 0\r\n\r\n",
                      &r));
    SL_CHECK_UINT(r.fetch.count, 3);
    SL_CHECK_UINT(r.fetch.next, 3);
    SL_CHECK_UINT(r.fetch.latest, 3);
    SL_CHECK_MEM(r.fetch.recs[0].data, r.fetch.recs[0].len, "hello", 5);
    SL_CHECK_MEM(r.fetch.recs[1].data, r.fetch.recs[1].len, "abc", 3);
    SL_CHECK_UINT(r.fetch.recs[2].len, 0);
    SL_CHECK(r.fetch.recs[1].ts == 1795311966950);
    /* Bare line ends, and a payload holding line ends itself. */
    SL_CHECK_OK(
        parse(cl, SL_CLIENT_REPLY_GET, 7, 0, "200 1 1 8\n7 1 4\na\r\nb\n", &r));
    SL_CHECK_MEM(r.fetch.recs[0].data, r.fetch.recs[0].len, "a\r\nb", 4);
    /* 416 below the earliest offset is SL_EGONE with the range. */
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_GET, 3, 0,
                       "416 1 10 20 offset no longer stored (retention)\r\n",
                       &r),
                 SL_EGONE);
    SL_CHECK_UINT(r.fetch.earliest, 10);
    SL_CHECK_UINT(r.fetch.latest, 20);
    /* Data ending early is a closed connection. */
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_GET, 0, 0,
                       "200 1 2 2 2\r\n0 1 1\r\na\r\n1 1 1\r\n", &r),
                 SL_ECLOSED);
    SL_CHECK_UINT(r.fetch.count, 0);
    sl_client_close(cl);
}

SL_TEST(client_reply_get_hostile) {
    static const struct {
        uint64_t offset, max_bytes;
        const char *text;
    } cases[] = {
        /* The reply found to overflow a size computation. */
        {0, 0, "200 1 576460752303423489 5 5\r\n0 1 3\r\nabc\r\n"},
        /* MAXBYTES 32 allows 3 records (32 / 16 + 1). */
        {0, 32,
         "200 1 4 4 4\r\n0 1 0\r\n\r\n1 1 0\r\n\r\n2 1 0\r\n\r\n"
         "3 1 0\r\n\r\n"},
        /* A second record after the first used up MAXBYTES. */
        {0, 32,
         "200 1 2 2 2\r\n0 1 20\r\n01234567890123456789\r\n"
         "1 1 1\r\nx\r\n"},
        {0, 0, "200 1 1 1 1\r\n0 1 1073741825\r\n"},
        {0, 0, "200 1 1 1 1\r\n0 -1 1\r\nx\r\n"},
        {0, 0, "200 1 1 1 1\r\n0 1 1 7\r\nx\r\n"},
        {5, 0, "200 1 1 5 5\r\n4 1 1\r\nx\r\n"},
        {0, 0, "200 1 2 2 2\r\n1 1 1\r\nx\r\n0 1 1\r\ny\r\n"},
        {0, 0, "200 1 1 0 1\r\n0 1 1\r\nx\r\n"},
        {0, 0, "200 1 0 3 3\r\n"},
        {0, 0, "200 1 1 1 1\r\n0 1 1\r\nxy\r\n"},
        {0, 0, "416 1 0 10 beyond\r\n"},
        {0, 0, "416 1 10 5 gone\r\n"},
        {0, 0, "200 2 0 0 0\r\n"},
        {0, 0, "200 - 0 0 0\r\n"},
        {0, 0, "20 1 0 0 0\r\n"},
        {0, 0, "600 1 0 0 0\r\n"},
        {0, 0, "200 1 00000000000000000000001 1\r\n"},
    };
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sl_client_reply_t r = {0};
        int rc = parse(cl, SL_CLIENT_REPLY_GET, cases[k].offset,
                       cases[k].max_bytes, cases[k].text, &r);
        if (rc != SL_EPROTO || r.fetch.count != 0 || r.fetch.recs != NULL)
            sl_test_fail(__FILE__, __LINE__, "case %zu: %s, %zu records", k,
                         sl_errname(rc), r.fetch.count);
        SL_CHECK(strstr(sl_client_error(cl), "malformed reply") != NULL);
    }
    sl_client_close(cl);
}

SL_TEST(client_reply_other_kinds) {
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    sl_client_reply_t r = {0};
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_PUT, 0, 0, "200 1 17\r\n", &r));
    SL_CHECK_UINT(r.v[0], 17);
    SL_CHECK_INT(r.dup, 0);
    SL_CHECK_OK(
        parse(cl, SL_CLIENT_REPLY_PUT, 0, 0, "200 1 unknown dup\r\n", &r));
    SL_CHECK(r.v[0] == UINT64_MAX && r.dup);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_PUT, 0, 0,
                       "507 1 insufficient storage\r\n", &r),
                 SL_ENOSPC);
    SL_CHECK_INT(r.code, 507);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_PUT, 0, 0, "400 - bad\r\n", &r),
                 SL_EINVAL);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_PUT, 0, 0, "200 1 unknown\r\n", &r),
                 SL_EPROTO);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_PUT, 0, 0, "200 1 5 dupe\r\n", &r),
                 SL_EPROTO);
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_OFFSETS, 0, 0, "200 1 2 9\r\n", &r));
    SL_CHECK(r.v[0] == 2 && r.v[1] == 9);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_OFFSETS, 0, 0, "200 1 9 2\r\n", &r),
                 SL_EPROTO);
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_COMMITTED, 0, 0, "200 1 4\r\n", &r));
    SL_CHECK_UINT(r.v[0], 4);
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_COMMITTED, 0, 0,
                       "404 1 no committed offset\r\n", &r),
                 SL_ENOTFOUND);
    sl_buf_t lines = SL_BUF_INIT;
    r.lines = &lines;
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_PARTITIONS, 0, 0,
                      "200 1 2\r\nshop shop.users 0 4\r\nshop shop.orders 3 9"
                      "\r\nEND\r\n",
                      &r));
    SL_CHECK_MEM(lines.data, lines.len,
                 "shop shop.users 0 4\nshop shop.orders 3 9\n", 41);
    sl_buf_reset(&lines);
    r.lines = &lines;
    SL_CHECK_INT(parse(cl, SL_CLIENT_REPLY_PARTITIONS, 0, 0,
                       "200 1 3\r\nshop a 0 4\r\nshop b 3 9\r\nEND\r\n", &r),
                 SL_EPROTO);
    SL_CHECK_UINT(lines.len, 0);
    r.lines = &lines;
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_STATS, 0, 0,
                      "200 1\r\nSTAT uptime 3\r\nEND\r\n", &r));
    SL_CHECK_MEM(lines.data, lines.len, "STAT uptime 3\n", 14);
    sl_buf_free(&lines);
    SL_CHECK_OK(parse(cl, SL_CLIENT_REPLY_VERSION, 0, 0,
                      "200 1 sluice-broker \x1b"
                      "0.1\r\n",
                      &r));
    SL_CHECK_STR(r.version, "sluice-broker ?0.1");
    sl_client_close(cl);
}
