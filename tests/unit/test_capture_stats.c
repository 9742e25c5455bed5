/* Unit tests for the line splitter of capture's stats endpoint. */
#include "capture/stats.h"
#include "sl_test.h"

/* Feeds text in chunks of step bytes; returns the commands as letters
 * (s stats, q quit, u unknown, L too long). */
static const char *run(const char *text, size_t len, size_t step) {
    static char out[64];
    size_t n = 0;
    sl_capstats_parser_t p;
    memset(&p, 0, sizeof p);
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < step ? len - off : step;
        size_t took = 0;
        while (took < chunk) {
            sl_capstats_cmd_t cmd;
            size_t t =
                sl_capstats_parse(&p, text + off + took, chunk - took, &cmd);
            if (cmd != SL_CAPSTATS_NONE && n + 1 < sizeof out)
                out[n++] = "-squL"[cmd];
            if (t == 0)
                goto done;
            took += t;
        }
        off += chunk;
    }
done:
    out[n] = '\0';
    return out;
}

SL_TEST(capstats_lines_split_anywhere) {
    const char *in = "stats\r\nquit\nnope\r\n\r\nstats\n";
    for (size_t step = 1; step <= strlen(in); step++)
        SL_CHECK_STR(run(in, strlen(in), step), "squus");
    /* Only one "\r" is dropped; a bare "\r" does not end a line. */
    SL_CHECK_STR(run("stats\r\r\nstats\rstats\n", 20, 3), "uu");
}

SL_TEST(capstats_line_bound_is_exact) {
    char buf[600];
    /* 255 bytes and "\n" fit; 256 and "\n" do not. */
    memset(buf, 'x', 255);
    buf[255] = '\n';
    memcpy(buf + 256, "stats\n", 6);
    SL_CHECK_STR(run(buf, 262, 7), "us");
    memset(buf, 'x', 256);
    buf[256] = '\n';
    memcpy(buf + 257, "stats\n", 6);
    SL_CHECK_STR(run(buf, 263, 7), "L");
    /* Without any "\n" the bound ends it too, whatever the chunking. */
    memset(buf, 'y', sizeof buf);
    SL_CHECK_STR(run(buf, sizeof buf, 1), "L");
    SL_CHECK_STR(run(buf, sizeof buf, 600), "L");
}
