/* Unit tests for the client's reading of 422 (damaged, quarantined
 * records): SL_EDAMAGED with the broker's NEXT kept in fetch.next, so a
 * caller can name the damaged range; a 422 whose NEXT does not move past
 * the offset asked for is a broken reply (SL_EPROTO), never a loop. */
#include "client.h"
#include "error.h"
#include "sl_test.h"

#include <string.h>

static int parse(sl_client_t *cl, uint64_t offset, const char *text,
                 sl_client_reply_t *r) {
    return sl_client_parse_reply(cl, SL_CLIENT_REPLY_GET, offset, 0, text,
                                 strlen(text), r);
}

SL_TEST(client_reply_get_damaged) {
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_new_detached(&cl));
    sl_client_reply_t r = {0};
    SL_CHECK_INT(parse(cl, 40,
                       "422 1 57 offsets 40-56 damaged "
                       "(quarantined)\r\n",
                       &r),
                 SL_EDAMAGED);
    SL_CHECK_UINT(r.fetch.next, 57);
    SL_CHECK_UINT(r.fetch.count, 0);
    SL_CHECK(r.fetch.recs == NULL);
    /* NEXT not above the offset asked for, missing or not a number. */
    static const char *bad[] = {
        "422 1 40 offsets 40-39 damaged (quarantined)\r\n",
        "422 1 7 offsets 40-6 damaged (quarantined)\r\n",
        "422 1\r\n",
        "422 1 x57 offsets damaged\r\n",
        "422 1 99999999999999999999999 offsets damaged\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SL_CHECK_INT(parse(cl, 40, bad[i], &r), SL_EPROTO);
        SL_CHECK_UINT(r.fetch.count, 0);
        SL_CHECK_UINT(r.fetch.next, 40);
    }
    /* A 422 to another request is an error reply like any other. */
    SL_CHECK_INT(sl_client_parse_reply(cl, SL_CLIENT_REPLY_OFFSETS, 0, 0,
                                       "422 1 damaged\r\n", 15, &r),
                 SL_EDAMAGED);
    sl_client_close(cl);
}
