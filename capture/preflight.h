/*
 * Preflight: before capturing, check that the source is set up for it and
 * tell the user, in plain sentences, what to change. Each finding is one
 * paragraph in the report: what is wrong, why capture needs it, and the
 * exact statement or setting that fixes it.
 */
#ifndef SL_CAPTURE_PREFLIGHT_H
#define SL_CAPTURE_PREFLIGHT_H

#include "buf.h"
#include "source.h"

typedef struct {
    int errors;   /* Findings that stop capture. */
    int warnings; /* Findings capture can live with (said in the log). */
} sl_preflight_result_t;

/* Connects with opts and checks: log_bin, binlog_format=ROW,
 * binlog_row_image=FULL, binlog_row_metadata=FULL (a warning: without it
 * column names come from the schema history), binlog_checksum, the
 * privileges capture needs (REPLICATION SLAVE, REPLICATION CLIENT or
 * BINLOG MONITOR, SELECT), that opts->server_id differs from the source's
 * own server_id and from every connected replica's, and gtid_mode=ON when
 * starting from a MySQL GTID set. Appends the report to report (owned by
 * the caller) and fills *result. Returns 0 when the checks ran (whatever
 * they found), or the connection error of sl_source_connect(). */
int sl_preflight_run(const sl_source_opts_t *opts, sl_buf_t *report,
                     sl_preflight_result_t *result, char *err, size_t errlen);

#endif
