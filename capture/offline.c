/*
 * sluice-capture --from-file: decodes binlog files to stdout (see
 * offline.h). Given --broker too, capture/main.c runs the replay into the
 * broker instead (capture/replay.c).
 */
#include "offline.h"

#include "capture/decoder/binlog.h"
#include "config.h"
#include "error.h"
#include "file.h"
#include "log.h"
#include "parse.h"
#include "program.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sl_opt_t opts[] = {
    {"from-file", NULL, SL_OPT_MULTI,
     "binlog file to decode (repeatable; more files may follow as "
     "arguments), in order"},
    {"start-position", "4", 0,
     "position in the first file where output starts (an event boundary)"},
    {"stop-position", "0", 0,
     "position in the last file where decoding stops (0: the end)"},
    {"skip-event-type", NULL, SL_OPT_MULTI,
     "event type number to skip deliberately instead of failing on it"},
    {"column-types", "no", SL_OPT_FLAG,
     "add a \"types\" object (column -> SQL type) to every row event"},
    {"format", "sluice", 0,
     "event format: sluice, debezium, maxwell or canal "
     "(docs/change-events.md)"},
    {"debezium-schemas", "no", SL_OPT_FLAG,
     "debezium format: wrap events and keys in their schemas"},
    {"debezium-include-query", "no", SL_OPT_FLAG,
     "debezium format: source.query holds the statement where the binlog "
     "has it"},
    {"log-level", "info", 0, "debug, info, warn or error"},
    {"log-format", "text", 0, "text (logfmt) or json (one object a line)"},
    {NULL, NULL, 0, NULL},
};

static const char synopsis[] =
    "sluice-capture --from-file FILE... "
    "[--start-position N] [--stop-position N]\n"
    "       (with --broker HOST:PORT the files are replayed into the broker: "
    "capture/replay.c, docs/replay.md)";

typedef struct {
    sl_binlog_t *dec;
    sl_buf_t *out; /* The decoder's output buffer. */
    int fd;
    int err;
} sink_t;

/* The decoder appends each change (and its newline) to its output
 * buffer; flushing in 1 MiB writes keeps output cheap. */
static int on_change(void *ctx, const sl_change_t *chg) {
    sink_t *sink = ctx;
    sl_buf_t *out = sink->out;
    (void)chg;
    if (out->len >= (1u << 20)) {
        if (sl_file_write_all(sink->fd, out->data, out->len) != 0) {
            sink->err = errno;
            return SL_EIO;
        }
        sl_buf_reset(out);
    }
    return 0;
}

int sl_capture_offline_wanted(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--from-file") == 0 ||
            strncmp(argv[i], "--from-file=", 12) == 0 ||
            strcmp(argv[i], "--from_file") == 0 ||
            strncmp(argv[i], "--from_file=", 12) == 0)
            return 1;
    }
    return 0;
}

int sl_capture_offline_main(int argc, char **argv) {
    sl_config_t cfg;
    int status =
        sl_program_args(&cfg, "sluice-capture", synopsis, opts, argc, argv);
    if (status != SL_PROGRAM_RUN)
        return status;
    status = 2;
    int err;
    sl_binlog_t *dec = NULL;
    uint8_t skip[256];
    size_t nskip = 0;
    uint64_t start, stop;
    int coltypes = 0, schemas = 0, dbz_query = 0;
    if (sl_program_log_level(&cfg) != 0) {
        fprintf(stderr, "sluice-capture: bad --log-level or --log-format\n");
        goto done;
    }
    if (sl_config_get_u64(&cfg, "start-position", &start) != 0 ||
        sl_config_get_u64(&cfg, "stop-position", &stop) != 0 ||
        sl_config_get_bool(&cfg, "column-types", &coltypes) != 0 ||
        sl_config_get_bool(&cfg, "debezium-schemas", &schemas) != 0 ||
        sl_config_get_bool(&cfg, "debezium-include-query", &dbz_query) != 0) {
        fprintf(stderr, "sluice-capture: %s\n", cfg.err);
        goto done;
    }
    sl_binlog_format_t format;
    if (sl_binlog_format_parse(sl_config_get(&cfg, "format"), &format) != 0) {
        fprintf(stderr,
                "sluice-capture: --format %s: want sluice, debezium, "
                "maxwell or canal\n",
                sl_config_get(&cfg, "format"));
        goto done;
    }
    if (start < 4) {
        fprintf(stderr, "sluice-capture: --start-position must be >= 4\n");
        goto done;
    }
    const sl_strlist_t *sk = sl_config_get_list(&cfg, "skip-event-type");
    for (size_t i = 0; sk != NULL && i < sk->count; i++) {
        uint64_t t;
        if (sl_parse_u64(sk->items[i], &t) != 0 || t > 255) {
            fprintf(stderr,
                    "sluice-capture: --skip-event-type %s: want a "
                    "number 0-255\n",
                    sk->items[i]);
            goto done;
        }
        if (t == 15 || t == 1) {
            fprintf(stderr, "sluice-capture: the format description "
                            "cannot be skipped\n");
            goto done;
        }
        skip[nskip++] = (uint8_t)t;
    }
    const sl_strlist_t *ff = sl_config_get_list(&cfg, "from-file");
    size_t nfiles = (ff ? ff->count : 0) + cfg.args.count;
    if (nfiles == 0 || ff == NULL || ff->count == 0) {
        fprintf(stderr, "sluice-capture: give --from-file FILE...\n");
        goto done;
    }
    char **files = calloc(nfiles, sizeof(char *));
    if (files == NULL) {
        status = 1;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < ff->count; i++)
        files[k++] = ff->items[i];
    for (size_t i = 0; i < cfg.args.count; i++)
        files[k++] = cfg.args.items[i];

    sink_t sink = {.fd = STDOUT_FILENO};
    sl_binlog_opts_t bo = {.skip_types = skip,
                           .nskip_types = nskip,
                           .column_types = coltypes,
                           .accumulate = 1,
                           .format = format,
                           .format_schemas = schemas,
                           .format_query = dbz_query};
    status = 1;
    if (sl_binlog_new(&dec, &bo, on_change, &sink) != 0) {
        free(files);
        goto done;
    }
    sink.dec = dec;
    sink.out = sl_binlog_out(dec);
    sl_buf_t *out_buf = sink.out;
    for (size_t i = 0; i < nfiles; i++) {
        err = sl_binlog_read_file(dec, files[i], i == 0 ? start : 4,
                                  i + 1 == nfiles ? stop : 0);
        /* Flush what was decoded before reporting an error, so the
         * output ends exactly before the failing event. */
        if (out_buf->len > 0 && sl_file_write_all(STDOUT_FILENO, out_buf->data,
                                                  out_buf->len) != 0) {
            fprintf(stderr, "sluice-capture: writing stdout: %s\n",
                    strerror(errno));
            free(files);
            goto done;
        }
        sl_buf_reset(out_buf);
        if (err != 0) {
            fprintf(stderr, "sluice-capture: %s\n", sl_binlog_errmsg(dec));
            free(files);
            goto done;
        }
    }
    free(files);
    status = 0;
done:
    sl_binlog_free(dec);
    sl_config_free(&cfg);
    return status;
}
