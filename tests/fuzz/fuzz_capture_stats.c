/*
 * libFuzzer target for the line handling of capture's stats endpoint
 * (sl_capstats_parse in capture/stats.c).
 *
 * Input: the first byte seeds the chunking; the rest is what a client
 * sends. The bytes are fed once whole and once cut into chunks of 1 to 16
 * bytes (sizes drawn from the seed), as recv() may deliver them.
 *
 * Oracle, besides ASan/UBSan: both feedings give the same commands, equal
 * to an independent model of the rules in capture/stats.h (a line ends at
 * "\n", one "\r" before it is dropped, "stats" and "quit" are commands,
 * anything else is unknown, a line of more than SL_CAPSTATS_MAX_LINE
 * bytes with its "\n" is too long and ends the connection); every call
 * takes at most what it was given, makes progress until the parser is
 * dead, and never holds more than the line bound.
 */
#include "capture/stats.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXCMDS 65536

static size_t feed(const char *in, size_t len, uint8_t seed, int chunked,
                   uint8_t *cmds) {
    sl_capstats_parser_t parser;
    memset(&parser, 0, sizeof parser);
    size_t ncmds = 0, off = 0;
    uint32_t rng = seed * 2654435761u + 1;
    while (off < len) {
        size_t chunk = len - off;
        if (chunked) {
            rng = rng * 1103515245u + 12345u;
            size_t c = 1 + (rng >> 16) % 16;
            if (c < chunk)
                chunk = c;
        }
        size_t coff = 0;
        while (coff < chunk) {
            sl_capstats_cmd_t cmd;
            size_t took =
                sl_capstats_parse(&parser, in + off + coff, chunk - coff, &cmd);
            if (took > chunk - coff || parser.have > SL_CAPSTATS_MAX_LINE)
                abort();
            if (cmd != SL_CAPSTATS_NONE && ncmds < MAXCMDS)
                cmds[ncmds++] = (uint8_t)cmd;
            if (took == 0) {
                if (!parser.dead)
                    abort(); /* No progress on a live parser. */
                return ncmds;
            }
            coff += took;
        }
        off += chunk;
    }
    return ncmds;
}

static size_t model(const char *in, size_t len, uint8_t *cmds) {
    size_t ncmds = 0, start = 0;
    for (;;) {
        const char *nl = memchr(in + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - in) : len; /* Index of the "\n". */
        if (end - start + 1 > SL_CAPSTATS_MAX_LINE) {
            if (ncmds < MAXCMDS)
                cmds[ncmds++] = SL_CAPSTATS_TOOLONG;
            return ncmds;
        }
        if (nl == NULL)
            return ncmds;
        size_t n = end - start;
        if (n > 0 && in[start + n - 1] == '\r')
            n--;
        uint8_t cmd = SL_CAPSTATS_UNKNOWN;
        if (n == 5 && memcmp(in + start, "stats", 5) == 0)
            cmd = SL_CAPSTATS_STATS;
        else if (n == 4 && memcmp(in + start, "quit", 4) == 0)
            cmd = SL_CAPSTATS_QUIT;
        if (ncmds < MAXCMDS)
            cmds[ncmds++] = cmd;
        start = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    static uint8_t whole[MAXCMDS], parts[MAXCMDS], want[MAXCMDS];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t nw = feed(in, len, data[0], 0, whole);
    size_t np = feed(in, len, data[0], 1, parts);
    size_t nm = model(in, len, want);
    if (nw != nm || np != nm || memcmp(whole, want, nm) != 0 ||
        memcmp(parts, want, nm) != 0)
        abort();
    return 0;
}
