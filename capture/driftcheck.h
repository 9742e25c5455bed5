/*
 * The drift check of live capture: the schema history's definition of
 * every captured table must equal what the source's information_schema
 * says, whenever capture has caught up with the source's DDL. A
 * difference is a schema change the history missed or misread (a parser
 * gap, or DDL run with sql_log_bin=0), which would make rows decode with
 * the wrong columns; capture stops instead. docs/schema-history.md ("The
 * drift check") describes it for users.
 *
 * A check reads the server's binlog end E1, then the captured tables'
 * definitions from information_schema (sl_schema_load_live, over a second
 * client session), then the end again, E2. What it read is the schema of
 * some instant between E1 and E2. Capture goes on replicating; when its
 * position reaches E2 and no DDL event ended after E1 on the way, its
 * history is the schema at that same instant and the two are compared.
 * A DDL event after E1 (the server moved on during the read) drops the
 * snapshot and the check is tried again later. When capture is idle
 * (position = E1 = E2) the comparison happens at once.
 *
 * A difference is confirmed by a second, complete check, started after a
 * short pause, before capture stops: a DDL statement the server has made
 * visible but not yet written to its binlog (or the reverse) can show as
 * a difference for an instant and must never stop capture.
 *
 * Checks are due at start-up, after every DDL event, and every interval;
 * a due check is tried at the next transaction boundary, at most once a
 * second; after attempts that could not read the server, with a wait that
 * doubles up to a minute. Tables on the server that the history lacks are
 * reported as a warning, not a stop: no row of them is decoded with a wrong
 * definition (rows of a table the history lacks stop capture themselves when
 * the binlog does not name their columns).
 *
 * Not thread-safe: it belongs to the capture loop.
 */
#ifndef SL_CAPTURE_DRIFTCHECK_H
#define SL_CAPTURE_DRIFTCHECK_H

#include "buf.h"
#include "capture/schema/schema.h"
#include "source.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sl_driftcheck_s sl_driftcheck_t;

typedef struct {
    /* Connection options for the second session; the struct and its
     * strings must outlive the check. */
    const sl_source_opts_t *source;
    uint64_t interval_ms; /* A check every interval; 0: no timer. */
    /* Which tables are captured (the filter). */
    int (*want)(void *ctx, const char *db, const char *table);
    void *want_ctx;
} sl_driftcheck_opts_t;

/* Creates a check with a check due now. *out is owned by the caller (free
 * with sl_driftcheck_free). Returns 0 or SL_ENOMEM. */
int sl_driftcheck_new(sl_driftcheck_t **out, const sl_driftcheck_opts_t *opts);
void sl_driftcheck_free(sl_driftcheck_t *chk);

/* A replication session starts: capture's position may have gone back, so
 * a snapshot waiting for a position is dropped and a check is due. */
void sl_driftcheck_session(sl_driftcheck_t *chk);

/* A DDL event ending at file:end has been applied to the history. */
void sl_driftcheck_ddl(sl_driftcheck_t *chk, const char *file, uint64_t end);

/* Runs what is due, outside a transaction, with capture's position (the
 * end of the last event processed) and its history. Returns 0 (nothing
 * due, not yet comparable, passed, or the server could not be read and the
 * check will be tried again), SL_ECORRUPT when a confirmed difference
 * stops capture (err says so in one line; sl_driftcheck_report() has both
 * definitions), or SL_EAUTH/SL_EDB/SL_ENOTFOUND/SL_ENOMEM when the check
 * cannot run at all (err says why and how to fix or turn it off). */
int sl_driftcheck_step(sl_driftcheck_t *chk, const sl_schema_t *hist,
                       const char *file, uint64_t pos, char *err,
                       size_t errlen);

/* The report of the last difference found (both definitions, column by
 * column; see capture/schema/drift.c), "" when none. Valid until the next
 * call on chk. */
const char *sl_driftcheck_report(sl_driftcheck_t *chk);

/* Appends the check's counters to out as stats lines
 * ("STAT schema_checks N\r\n"): schema_checks (comparisons made),
 * schema_check_retries (snapshots dropped because DDL came in between),
 * schema_check_errors (attempts that could not read the source) and
 * schema_mismatches (comparisons that found a difference, confirmed or
 * not). */
void sl_driftcheck_put_stats(const sl_driftcheck_t *chk, sl_buf_t *out);

#endif
