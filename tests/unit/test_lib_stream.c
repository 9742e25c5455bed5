/* Unit tests for the log interface's address handling (lib/stream.c):
 * "HOST:PORT" and "sluice://HOST:PORT" reach the text transport, which
 * dials them; "kafka://HOST:PORT[,...]" the Kafka transport, whose
 * settings are checked at open; anything else is refused as a bad address
 * before any connection, with nothing handed out. */
#include "config.h"
#include "error.h"
#include "sl_test.h"
#include "stream.h"

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port that nothing listens on: bound, then closed. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

SL_TEST(stream_open_addresses) {
    sl_stream_opts_t o = {.connect_timeout_ms = 2000, .retry_ms = -1};
    sl_stream_t *s = (sl_stream_t *)&o; /* Must come back NULL. */
    static const char *bad[] = {"", "nohost", "kafka://", "sluice://",
                                "127.0.0.1:notaport"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SL_CHECK_INT(sl_stream_open(bad[i], &o, &s), SL_EINVAL);
        SL_CHECK(s == NULL);
    }
    SL_CHECK_INT(sl_stream_open(NULL, &o, &s), SL_EINVAL);
    /* Well-formed addresses are dialled: nothing listens, so the
     * connection fails, which a bad address never gets to. */
    int port = closed_port();
    SL_CHECK(port > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    SL_CHECK_INT(sl_stream_open(addr, &o, &s), SL_ECONN);
    SL_CHECK(s == NULL);
    snprintf(addr, sizeof addr, "sluice://127.0.0.1:%d", port);
    SL_CHECK_INT(sl_stream_open(addr, &o, &s), SL_ECONN);
    SL_CHECK(s == NULL);
}

/* kafka:// opens without dialling (librdkafka connects on first use),
 * with the Kafka capabilities; settings that do not parse, or that would
 * weaken the guarantees, are refused at open with nothing handed out. */
SL_TEST(stream_kafka_open_settings) {
    int port = closed_port();
    SL_CHECK(port > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "kafka://127.0.0.1:%d", port);
    sl_stream_t *s = NULL;
    static const char *const good[] = {"client.id=unit", "linger.ms=5",
                                       "sluice.replication.factor=3",
                                       "acks=all", NULL};
    sl_stream_opts_t o = {.io_timeout_ms = 1000, .props = good};
    SL_CHECK_OK(sl_stream_open(addr, &o, &s));
    SL_CHECK(s != NULL);
    unsigned caps = sl_stream_caps(s);
    SL_CHECK(!(caps & SL_STREAM_CAP_DEDUP));
    SL_CHECK(caps & SL_STREAM_CAP_HEADERS);
    SL_CHECK(caps & SL_STREAM_CAP_KEYS);
    SL_CHECK(caps & SL_STREAM_CAP_CREATE);
    /* Nothing listens: a read fails within the timeouts, as a transport
     * failure to retry, never as "no such partition". */
    uint64_t lo, hi;
    int rc = sl_stream_offsets(s, "t", "db.table", &lo, &hi);
    SL_CHECK(rc == SL_ETIMEDOUT || rc == SL_ECLOSED || rc == SL_EIO ||
             rc == SL_EAGAIN);
    SL_CHECK(sl_stream_error(s)[0] != '\0');
    sl_stream_close(s);

    static const char *const bad[] = {
        "enable.idempotence=false",
        "acks=1",
        "enable.auto.commit=true",
        "no.such.property=1",
        "noequals",
        "sluice.no.such=1",
        "sluice.replication.factor=x",
        "sasl.password=@env:SL_UNIT_NOT_SET",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const one[] = {bad[i], NULL};
        o.props = one;
        s = (sl_stream_t *)&o;
        SL_CHECK_INT(sl_stream_open(addr, &o, &s), SL_ECONFIG);
        SL_CHECK(s == NULL);
    }
}

/* `kafka.KEY = VALUE` in a config file is `--kafka-opt KEY=VALUE` (after
 * the file's, flags' values follow), and the list reaches lib/stream.h as
 * a NULL-terminated array. */
SL_TEST(stream_kafka_config_lines) {
    static const sl_opt_t opts[] = {
        {"broker", NULL, 0, "b"},
        {"kafka-opt", NULL, SL_OPT_MULTI, "k"},
        {NULL, NULL, 0, NULL},
    };
    char path[600];
    snprintf(path, sizeof path, "%s/k.conf", sl_test_tmpdir());
    FILE *f = fopen(path, "w");
    SL_CHECK(f != NULL);
    fputs("broker = kafka://h:9092\nkafka.client.id = unit\n"
          "kafka.sasl.password = @env:X\n",
          f);
    fclose(f);
    sl_config_t cfg;
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", opts));
    char *argv[] = {"t", "--config", path, "--kafka-opt", "linger.ms=1", NULL};
    SL_CHECK_OK(sl_config_parse_args(&cfg, 5, argv));
    const sl_strlist_t *l = sl_config_get_list(&cfg, "kafka-opt");
    SL_CHECK_INT((int)l->count, 3);
    SL_CHECK_STR(l->items[0], "client.id=unit");
    SL_CHECK_STR(l->items[1], "sasl.password=@env:X");
    SL_CHECK_STR(l->items[2], "linger.ms=1");
    SL_CHECK(l->items[3] == NULL);
    sl_config_free(&cfg);
    /* Without a kafka-opt key in the table, kafka.* stays unknown. */
    static const sl_opt_t plain[] = {{"broker", NULL, 0, "b"},
                                     {NULL, NULL, 0, NULL}};
    SL_CHECK_OK(sl_config_init(&cfg, "t", "t", plain));
    SL_CHECK_INT(sl_config_load_file(&cfg, path), SL_ECONFIG);
    sl_config_free(&cfg);
}
