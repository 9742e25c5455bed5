/* Unit tests for the broker's text protocol parser, including every
 * malformed form the issue lists. */
#include "broker/proto.h"
#include "crc32c.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

static sl_proto_limits_t lim(void) {
    sl_proto_limits_t l;
    sl_proto_default_limits(&l);
    return l;
}

static int parse(const char *s, sl_cmd_t *cmd, size_t *consumed,
                 sl_proto_err_t *err) {
    sl_proto_limits_t l = lim();
    size_t need;
    return sl_proto_parse((const uint8_t *)s, strlen(s), &l, cmd, consumed,
                          &need, err);
}

SL_TEST(broker_proto_put_and_options) {
    sl_cmd_t cmd;
    size_t used;
    sl_proto_err_t err;
    const char *req = "put 7 shop shop.users 5\r\nhello\r\nversion 8\r\n";
    SL_CHECK_OK(parse(req, &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_PUT);
    SL_CHECK_UINT(cmd.reqid, 7);
    SL_CHECK_MEM(cmd.topic.p, cmd.topic.len, "shop", 4);
    SL_CHECK_MEM(cmd.part.p, cmd.part.len, "shop.users", 10);
    SL_CHECK_MEM(cmd.payload, cmd.payload_len, "hello", 5);
    SL_CHECK_UINT(used, strlen("put 7 shop shop.users 5\r\nhello\r\n"));
    SL_CHECK_OK(parse("put 1 t p 3 pid=9 seq=100\nabc\n", &cmd, &used, &err));
    SL_CHECK(cmd.has_producer);
    SL_CHECK_INT(cmd.producer, 9);
    SL_CHECK_UINT(cmd.seq, 100);
    char buf[128];
    snprintf(buf, sizeof buf, "put 1 t p 3 crc=%u\r\nabc\r\n",
             sl_crc32c(0, "abc", 3));
    SL_CHECK_OK(parse(buf, &cmd, &used, &err));
    SL_CHECK(cmd.has_crc);
    /* Binary-safe payload: CR, LF and NUL inside. */
    const char bin[] = "put 2 t p 4\r\n\r\n\0x\r\n";
    sl_proto_limits_t l = lim();
    size_t need;
    SL_CHECK_OK(sl_proto_parse((const uint8_t *)bin, sizeof bin - 1, &l, &cmd,
                               &used, &need, &err));
    SL_CHECK_MEM(cmd.payload, cmd.payload_len, "\r\n\0x", 4);
}

SL_TEST(broker_proto_incomplete_needs_more) {
    const char *req = "mput 3 t p 2\r\n3\r\nabc\r\n2\r\nde\r\n";
    size_t n = strlen(req);
    sl_proto_limits_t l = lim();
    for (size_t cut = 0; cut < n; cut++) {
        sl_cmd_t cmd;
        size_t used, need;
        sl_proto_err_t err;
        int rc = sl_proto_parse((const uint8_t *)req, cut, &l, &cmd, &used,
                                &need, &err);
        SL_CHECK_INT(rc, SL_EAGAIN);
        SL_CHECK(need > cut);
    }
    sl_cmd_t cmd;
    size_t used, need;
    sl_proto_err_t err;
    SL_CHECK_OK(
        sl_proto_parse((const uint8_t *)req, n, &l, &cmd, &used, &need, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_MPUT);
    SL_CHECK_UINT(cmd.count, 2);
    SL_CHECK_UINT(used, n);
    SL_CHECK(!cmd.has_key);
    const uint8_t *cur = cmd.payload, *end = cmd.payload + cmd.payload_len;
    const uint8_t *data, *key;
    size_t dl, kl;
    SL_CHECK_INT(sl_proto_mput_next(&cur, end, &data, &dl), 1);
    SL_CHECK_MEM(data, dl, "abc", 3);
    SL_CHECK_INT(sl_proto_mput_next(&cur, end, &data, &dl), 1);
    SL_CHECK_MEM(data, dl, "de", 2);
    SL_CHECK_INT(sl_proto_mput_next(&cur, end, &data, &dl), 0);
    /* The keyed iteration reads a list without keys the same way. */
    cur = cmd.payload;
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 1);
    SL_CHECK_MEM(data, dl, "abc", 3);
    SL_CHECK(key == NULL);
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 1);
    SL_CHECK_MEM(data, dl, "de", 2);
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 0);
}

/* Record keys: put klen=K carries K key bytes and a line end before the
 * value; an mput item "LEN KLEN" carries its key the same way, beside
 * items without one. Binary-safe, empty keys kept apart from null ones,
 * and crc= covering the key too. */
SL_TEST(broker_proto_keys) {
    sl_cmd_t cmd;
    size_t used;
    sl_proto_err_t err;
    const char *req = "put 7 t p 5 klen=3\r\nk42\r\nhello\r\nversion 8\r\n";
    SL_CHECK_OK(parse(req, &cmd, &used, &err));
    SL_CHECK(cmd.has_key);
    SL_CHECK_MEM(cmd.key, cmd.key_len, "k42", 3);
    SL_CHECK_MEM(cmd.payload, cmd.payload_len, "hello", 5);
    SL_CHECK_UINT(used, strlen(req) - strlen("version 8\r\n"));
    /* Options in any order; LF line ends; an empty key is a key. */
    SL_CHECK_OK(
        parse("put 1 t p 2 pid=4 klen=0 seq=9\n\nab\n", &cmd, &used, &err));
    SL_CHECK(cmd.has_key && cmd.key != NULL && cmd.key_len == 0);
    SL_CHECK_MEM(cmd.payload, cmd.payload_len, "ab", 2);
    SL_CHECK_UINT(cmd.seq, 9);
    /* Without klen: no key (a null one), as before keys existed. */
    SL_CHECK_OK(parse("put 1 t p 2\r\nab\r\n", &cmd, &used, &err));
    SL_CHECK(!cmd.has_key && cmd.key == NULL);
    /* Binary key: CR, LF, NUL and a space inside. */
    const char bin[] = "put 2 t p 1 klen=4\r\n\r\n\0 \r\nv\r\n";
    sl_proto_limits_t l = lim();
    size_t need;
    SL_CHECK_OK(sl_proto_parse((const uint8_t *)bin, sizeof bin - 1, &l, &cmd,
                               &used, &need, &err));
    SL_CHECK_MEM(cmd.key, cmd.key_len, "\r\n\0 ", 4);
    SL_CHECK_MEM(cmd.payload, cmd.payload_len, "v", 1);
    /* crc= covers the key, its line end and the value. */
    char buf[128];
    snprintf(buf, sizeof buf, "put 1 t p 3 klen=2 crc=%u\r\nkk\r\nabc\r\n",
             sl_crc32c(0, "kk\r\nabc", 7));
    SL_CHECK_OK(parse(buf, &cmd, &used, &err));
    snprintf(buf, sizeof buf, "put 1 t p 3 klen=2 crc=%u\r\nkk\r\nabc\r\n",
             sl_crc32c(0, "abc", 3));
    SL_CHECK_INT(parse(buf, &cmd, &used, &err), SL_EPROTO);
    SL_CHECK_STR(err.msg, "crc mismatch");
    SL_CHECK(!err.fatal);

    /* mput: keyed and plain items mixed. */
    const char *m = "mput 3 t p 3\r\n3 2\r\nk1\r\nabc\r\n2\r\nde\r\n"
                    "1 0\n\nf\n";
    SL_CHECK_OK(parse(m, &cmd, &used, &err));
    SL_CHECK_UINT(used, strlen(m));
    SL_CHECK(cmd.has_key);
    const uint8_t *cur = cmd.payload, *end = cmd.payload + cmd.payload_len;
    const uint8_t *data, *key;
    size_t dl, kl;
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 1);
    SL_CHECK_MEM(key, kl, "k1", 2);
    SL_CHECK_MEM(data, dl, "abc", 3);
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 1);
    SL_CHECK(key == NULL);
    SL_CHECK_MEM(data, dl, "de", 2);
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 1);
    SL_CHECK(key != NULL && kl == 0);
    SL_CHECK_MEM(data, dl, "f", 1);
    SL_CHECK_INT(sl_proto_mput_next_keyed(&cur, end, &data, &dl, &key, &kl), 0);

    /* Every cut short of the whole request waits for more, and for no
     * more than the request holds: the broker waits until it has `need`
     * bytes, so a need beyond the request's end would hang it (it did for
     * an mput cut in an item's length line, and with LF line ends). */
    const char *reqs[] = {"put 9 t p 5 klen=3\r\nk42\r\nhello\r\n",
                          m,
                          "put 9 t p 5 klen=3\nk42\nhello\n",
                          "put 9 t p 5\nhello\n",
                          "mput 3 t p 2\n3 2\nk1\nabc\n2\nde\n",
                          "mput 3 t p 2\r\n3\r\nabc\r\n2\r\nde\r\n"};
    for (size_t r = 0; r < sizeof reqs / sizeof reqs[0]; r++) {
        size_t n = strlen(reqs[r]);
        for (size_t cut = 0; cut < n; cut++) {
            SL_CHECK_INT(sl_proto_parse((const uint8_t *)reqs[r], cut, &l, &cmd,
                                        &used, &need, &err),
                         SL_EAGAIN);
            if (need <= cut || need > n)
                sl_test_fail(__FILE__, __LINE__,
                             "request %zu cut at %zu: need %zu of %zu", r, cut,
                             need, n);
        }
        SL_CHECK_OK(sl_proto_parse((const uint8_t *)reqs[r], n, &l, &cmd, &used,
                                   &need, &err));
        SL_CHECK_UINT(used, n);
    }

    /* Limits: key and value together within max-message, per item too;
     * every refusal before the payload is read is fatal. */
    l.max_msg = 10;
    const struct {
        const char *req;
        int code;
        const char *msg;
    } bad[] = {
        {"put 1 t p 5 klen=6\r\n", 413, "message too large"},
        {"put 1 t p 0 klen=11\r\n", 413, "message too large"},
        {"put 1 t p 5 klen=18446744073709551615\r\n", 413, "message too large"},
        {"mput 1 t p 1\r\n5 6\r\n", 413, "message too large"},
        {"put 1 t p 5 klen=x\r\n", 400, "bad klen"},
        {"put 1 t p 5 klen=-1\r\n", 400, "bad klen"},
        {"put 1 t p 1 klen=1 klen=1\r\na\r\nb\r\n", 400, "bad klen"},
        {"put 1 t p 1 klen=\r\n", 400, "bad klen"},
        {"mput 1 t p 1 klen=1\r\n1\r\na\r\n", 400, "unexpected argument"},
        {"put 1 t p 1 klen=1\r\nab\r\nc\r\n", 400, "key longer than its klen"},
        {"put 1 t p 1 klen=1\r\na\r\nbc\r\n", 400,
         "payload longer than its length"},
        {"mput 1 t p 1\r\n1 1\r\nab\r\nc\r\n", 400,
         "item longer than its length"},
        {"mput 1 t p 1\r\n1  1\r\na\r\nb\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n1 \r\na\r\nb\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n1 -1\r\nb\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n1 1 1\r\na\r\nb\r\n", 400, "bad item length"},
        /* Lengths at the 64-bit edge, with and without a key. */
        {"mput 1 t p 1\r\n18446744073709551616\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n000000000000000000001\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n18446744073709551615\r\n", 413, "message too large"},
        {"mput 1 t p 1\r\n1 18446744073709551616\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n18446744073709551616 1\r\n", 400, "bad item length"},
        {"mput 1 t p 1\r\n1 18446744073709551615\r\n", 413,
         "message too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sl_proto_parse((const uint8_t *)bad[i].req, strlen(bad[i].req),
                                &l, &cmd, &used, &need, &err);
        if (rc != SL_EPROTO || err.code != bad[i].code || !err.fatal ||
            strcmp(err.msg, bad[i].msg) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "case %zu (%s): rc=%d code=%d fatal=%d msg=%s", i,
                         bad[i].req, rc, err.code, err.fatal,
                         rc == SL_EPROTO ? err.msg : "-");
    }
    /* Only put takes klen; elsewhere it is a skippable bad line. */
    SL_CHECK_INT(parse("get 1 t p 0 klen=1\r\n", &cmd, &used, &err), SL_EPROTO);
    SL_CHECK(!err.fatal);
    /* At the limit: accepted. */
    const char *at_limit = "put 1 t p 4 klen=6\r\nkkkkkk\r\nvvvv\r\n";
    SL_CHECK_OK(sl_proto_parse((const uint8_t *)at_limit, strlen(at_limit), &l,
                               &cmd, &used, &need, &err));
    /* The longest item line (two 20-digit numbers) is a length line, not
     * "bad item length line": here it waits for its key and value. */
    const char *longest = "mput 1 t p 1\r\n00000000000000000001 "
                          "00000000000000000001\r\n";
    SL_CHECK_INT(sl_proto_parse((const uint8_t *)longest, strlen(longest), &l,
                                &cmd, &used, &need, &err),
                 SL_EAGAIN);
}

SL_TEST(broker_proto_other_commands) {
    sl_cmd_t cmd;
    size_t used;
    sl_proto_err_t err;
    SL_CHECK_OK(parse("get 4 t p 10 2048 wait=500\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_GET);
    SL_CHECK_UINT(cmd.offset, 10);
    SL_CHECK_UINT(cmd.max_bytes, 2048);
    SL_CHECK_UINT(cmd.wait_ms, 500);
    SL_CHECK_OK(parse("get 4 t p 10 wait=5\r\n", &cmd, &used, &err));
    SL_CHECK_UINT(cmd.max_bytes, 1u << 20);
    SL_CHECK_UINT(cmd.wait_ms, 5);
    SL_CHECK_OK(parse("offsets 5 t p ts=1700000000000\r\n", &cmd, &used, &err));
    SL_CHECK(cmd.has_ts);
    SL_CHECK_INT(cmd.ts, 1700000000000);
    SL_CHECK_OK(parse("commit 6 g t p 42\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_COMMIT);
    SL_CHECK_MEM(cmd.group.p, cmd.group.len, "g", 1);
    SL_CHECK_UINT(cmd.offset, 42);
    SL_CHECK_OK(parse("committed 7 g t p\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_COMMITTED);
    SL_CHECK_OK(parse("partitions 8\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_PARTITIONS);
    SL_CHECK_OK(parse("partitions 8 shop\r\n", &cmd, &used, &err));
    SL_CHECK_MEM(cmd.topic.p, cmd.topic.len, "shop", 4);
    SL_CHECK_OK(parse("stats 9\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_STATS);
    SL_CHECK_OK(parse("version   10\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_VERSION);
    SL_CHECK_UINT(cmd.reqid, 10);
    SL_CHECK_OK(parse("quit 11\r\n", &cmd, &used, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_QUIT);
    SL_CHECK_OK(parse("auth 12 s3cret\r\n", &cmd, &used, &err));
    SL_CHECK_MEM(cmd.secret.p, cmd.secret.len, "s3cret", 6);
}

typedef struct {
    const char *req;
    int code;
    int fatal;
} bad_t;

SL_TEST(broker_proto_malformed) {
    char huge[64];
    snprintf(huge, sizeof huge, "put 1 t p %u\r\n", (16u << 20) + 1);
    const bad_t cases[] = {
        {"bogus 1\r\n", 400, 0},                         /* unknown command */
        {"\r\n", 400, 0},                                /* empty line */
        {"version\r\n", 400, 0},                         /* no request id */
        {"version x\r\n", 400, 0},                       /* bad request id */
        {"version -1\r\n", 400, 0},                      /* negative id */
        {"version 99999999999999999999999\r\n", 400, 0}, /* overflow */
        {"version 1 extra\r\n", 400, 0},
        {"get 1 t p abc\r\n", 400, 0}, /* malformed number */
        {"get 1 t p -5\r\n", 400, 0},
        {"get 1 t p 1 0\r\n", 400, 0},
        {"get 1 t p 1 wait=x\r\n", 400, 0},
        {"get 1 t p 1 nope=1\r\n", 400, 0},
        {"get 1 t\r\n", 400, 0},
        {"offsets 1 t p ts=-1\r\n", 400, 0},
        {"commit 1 g t p\r\n", 400, 0},
        {"commit 1 g t p 1x\r\n", 400, 0},
        {"put 1 t p -5\r\n", 400, 1}, /* negative length */
        {"put 1 t p 5x\r\n", 400, 1},
        {"put 1 t p\r\n", 400, 1},
        {"put x t p 3\r\nabc\r\n", 400, 1},
        {huge, 413, 1},                           /* oversized */
        {"put 1 t p 3\r\nabcdef\r\n", 400, 1},    /* longer payload */
        {"put 1 t p 3 pid=1\r\nabc\r\n", 400, 1}, /* pid without seq */
        {"put 1 t p 3 pid=1 seq=9223372036854775808\r\nabc\r\n", 400, 1},
        {"put 1 t p 3 pid=281474976710656 seq=1\r\nabc\r\n", 400, 1},
        {"put 1 t p 3 crc=1\r\nabc\r\n", 400, 0}, /* CRC mismatch */
        {"mput 1 t p 0\r\n", 400, 1},
        {"mput 1 t p 2000000\r\n", 413, 1},
        {"mput 1 t p 1\r\nx\r\nabc\r\n", 400, 1},
        {"mput 1 t p 1\r\n3\r\nabcd\r\n", 400, 1},
        {"version 1\x01\r\n", 400, 0}, /* control byte */
        {"version 1 \xff\r\n", 400, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_cmd_t cmd;
        size_t used;
        sl_proto_err_t err;
        int rc = parse(cases[i].req, &cmd, &used, &err);
        if (rc != SL_EPROTO || err.code != cases[i].code ||
            err.fatal != cases[i].fatal)
            sl_test_fail(__FILE__, __LINE__,
                         "case %zu (%s): rc=%d code=%d "
                         "fatal=%d",
                         i, cases[i].req, rc, err.code, err.fatal);
        if (!err.fatal)
            SL_CHECK(used > 0 && used <= strlen(cases[i].req));
    }
}

SL_TEST(broker_proto_long_line) {
    char line[6000];
    memset(line, 'a', sizeof line);
    sl_proto_limits_t l = lim();
    sl_cmd_t cmd;
    size_t used, need;
    sl_proto_err_t err;
    int rc = sl_proto_parse((const uint8_t *)line, sizeof line, &l, &cmd, &used,
                            &need, &err);
    SL_CHECK_INT(rc, SL_EPROTO);
    SL_CHECK(err.fatal);
    /* Short of the limit it just waits for the line end. */
    rc = sl_proto_parse((const uint8_t *)line, 100, &l, &cmd, &used, &need,
                        &err);
    SL_CHECK_INT(rc, SL_EAGAIN);
}

/* Regression (issue 12, item 1): a put header refused for a UTF-8 byte was
 * not fatal, so its payload, itself a valid put, ran as a second command.
 * Every way of refusing a put or mput header must now be fatal. */
SL_TEST(broker_proto_refused_put_header_is_fatal) {
    const char *cases[] = {
        "put 1 caf\xc3\xa9 p 22\r\nput 2 t p 1\r\nx\r\n\r\n", /* UTF-8 */
        "put 1 t p\x01 5\r\nhello\r\n",                       /* control */
        "put 1 t p 5 \x7f\r\nhello\r\n",                      /* DEL */
        "mput 1 t \xff 1\r\n5\r\nhello\r\n",                  /* non-ASCII */
        "put 1 t p 5 a b c d e f g h\r\nhello\r\n",           /* tokens */
        "put 1 t p 5 crc=x\r\nhello\r\n",                     /* option */
        "put 1 t p 5 bogus=1\r\nhello\r\n",
        "put 1 t p 5 wait=1\r\nhello\r\n",                /* get's option */
        "put 99999999999999999999999 t p 5\r\nhello\r\n", /* bad id */
        "  put 1 t p 5x\r\nhello\r\n",                    /* leading spaces */
        "mput 1 t p 1 seq=1\r\n5\r\nhello\r\n",           /* seq without pid */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_cmd_t cmd;
        size_t used;
        sl_proto_err_t err;
        int rc = parse(cases[i], &cmd, &used, &err);
        if (rc != SL_EPROTO || !err.fatal || err.code != 400)
            sl_test_fail(__FILE__, __LINE__,
                         "case %zu: rc=%d code=%d "
                         "fatal=%d",
                         i, rc, err.code, err.fatal);
    }
    /* A name over the store's 255-byte rule is refused at the header. */
    char longname[400];
    memset(longname, 'n', sizeof longname);
    char req[600];
    snprintf(req, sizeof req, "put 1 t %.*s 1\r\nx\r\n", 256, longname);
    sl_cmd_t cmd;
    size_t used;
    sl_proto_err_t err;
    SL_CHECK_INT(parse(req, &cmd, &used, &err), SL_EPROTO);
    SL_CHECK(err.fatal);
    /* Not a put: a bad byte stays a skippable line error. */
    SL_CHECK_INT(parse("putx 1 t p 5\r\n", &cmd, &used, &err), SL_EPROTO);
    SL_CHECK(!err.fatal);
    SL_CHECK_INT(parse("get 1 caf\xc3\xa9 p 0\r\n", &cmd, &used, &err),
                 SL_EPROTO);
    SL_CHECK(!err.fatal);
    /* A CRC mismatch consumed its payload with it: the stream is intact. */
    SL_CHECK_INT(
        parse("put 1 t p 3 crc=1\r\nabc\r\nversion 2\r\n", &cmd, &used, &err),
        SL_EPROTO);
    SL_CHECK(!err.fatal);
    SL_CHECK_UINT(used, strlen("put 1 t p 3 crc=1\r\nabc\r\n"));
}

/* Before auth (item 3), a put or mput is refused at its header, before any
 * payload byte is needed, and fatally. */
SL_TEST(broker_proto_no_payload_before_auth) {
    sl_proto_limits_t l = lim();
    l.no_payload = 1;
    const char *cases[] = {"put 5 t p 16777216\r\n", "mput 6 t p 3\r\n",
                           "put 7 t p 3\r\nab"};
    for (size_t i = 0; i < 3; i++) {
        sl_cmd_t cmd;
        size_t used, need;
        sl_proto_err_t err;
        int rc = sl_proto_parse((const uint8_t *)cases[i], strlen(cases[i]), &l,
                                &cmd, &used, &need, &err);
        SL_CHECK_INT(rc, SL_EPROTO);
        SL_CHECK_INT(err.code, 401);
        SL_CHECK(err.fatal);
        SL_CHECK(err.has_reqid);
        SL_CHECK_UINT(err.reqid, 5 + i);
    }
    sl_cmd_t cmd;
    size_t used, need;
    sl_proto_err_t err;
    const char *a = "auth 1 s3cret\r\n";
    SL_CHECK_OK(sl_proto_parse((const uint8_t *)a, strlen(a), &l, &cmd, &used,
                               &need, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_AUTH);
}
