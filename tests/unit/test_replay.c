/* Unit tests of what replay (issue 18) adds outside the capture service:
 * the time forms of lib/timeparse.h and the parsing of the broker's groups
 * and greset commands. */
#include "broker/proto.h"
#include "error.h"
#include "sl_test.h"
#include "timeparse.h"

#include <stdlib.h>
#include <string.h>

SL_TEST(replay_time_forms) {
    int64_t ms;
    SL_CHECK_OK(sl_parse_time_ms("@1733409000", &ms));
    SL_CHECK_INT(ms, 1733409000000LL);
    SL_CHECK_OK(sl_parse_time_ms("@1733409000123ms", &ms));
    SL_CHECK_INT(ms, 1733409000123LL);
    SL_CHECK_OK(sl_parse_time_ms("2024-12-05 14:30:00Z", &ms));
    SL_CHECK_INT(ms, 1733409000000LL);
    SL_CHECK_OK(sl_parse_time_ms("2024-12-05T14:30:00Z", &ms));
    SL_CHECK_INT(ms, 1733409000000LL);
    SL_CHECK_OK(sl_parse_time_ms("2024-12-05 14:30Z", &ms));
    SL_CHECK_INT(ms, 1733409000000LL);
    SL_CHECK_OK(sl_parse_time_ms("2024-12-05Z", &ms));
    SL_CHECK_INT(ms, 1733356800000LL);
    /* Local time, as mysqlbinlog reads it. */
    setenv("TZ", "UTC-2", 1);
    SL_CHECK_OK(sl_parse_time_ms("2024-12-05 16:30:00", &ms));
    SL_CHECK_INT(ms, 1733409000000LL);
    unsetenv("TZ");
    const char *bad[] = {"",
                         "yesterday",
                         "@",
                         "@12x",
                         "2024-13-01 00:00:00",
                         "2024-12-05 25:00",
                         "2024-12-05 10:00:00 +02",
                         "1960-01-01",
                         "@-5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SL_CHECK_INT(sl_parse_time_ms(bad[i], &ms), SL_EINVAL);
}

static int parse(const char *s, sl_cmd_t *cmd, sl_proto_err_t *err) {
    sl_proto_limits_t l;
    sl_proto_default_limits(&l);
    size_t used, need;
    return sl_proto_parse((const uint8_t *)s, strlen(s), &l, cmd, &used, &need,
                          err);
}

SL_TEST(replay_groups_commands_parse) {
    sl_cmd_t cmd;
    sl_proto_err_t err;
    SL_CHECK_OK(parse("groups 4\r\n", &cmd, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_GROUPS);
    SL_CHECK_UINT(cmd.group.len, 0);
    SL_CHECK_OK(parse("groups 5 readers\r\n", &cmd, &err));
    SL_CHECK_MEM(cmd.group.p, cmd.group.len, "readers", 7);
    SL_CHECK_OK(parse("greset 6 readers shop shop.users 42\r\n", &cmd, &err));
    SL_CHECK_INT(cmd.type, SL_CMD_GRESET);
    SL_CHECK_MEM(cmd.group.p, cmd.group.len, "readers", 7);
    SL_CHECK_MEM(cmd.topic.p, cmd.topic.len, "shop", 4);
    SL_CHECK_MEM(cmd.part.p, cmd.part.len, "shop.users", 10);
    SL_CHECK_UINT(cmd.offset, 42);
    SL_CHECK(parse("groups 7 a b\r\n", &cmd, &err) != 0);
    SL_CHECK_INT(err.code, 400);
    SL_CHECK(parse("greset 8 g t p\r\n", &cmd, &err) != 0);
    SL_CHECK(parse("greset 9 g t p x\r\n", &cmd, &err) != 0);
}
