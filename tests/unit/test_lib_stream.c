/* Unit tests for the log interface's address handling (lib/stream.c):
 * "HOST:PORT" and "sluice://HOST:PORT" reach the text transport, which
 * dials them; anything else is refused as a bad address before any
 * connection, with nothing handed out. */
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
    static const char *bad[] = {"", "nohost", "kafka://127.0.0.1:9092",
                                "sluice://", "127.0.0.1:notaport"};
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
