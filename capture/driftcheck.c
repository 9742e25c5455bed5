/* The drift check of live capture; see driftcheck.h. */
#include "driftcheck.h"

#include "buf.h"
#include "capture/schema/history.h"
#include "clock.h"
#include "error.h"
#include "log.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A due check is tried at most this often, so a busy stream (where DDL
 * keeps dropping snapshots) or an unreachable server costs at most one
 * information_schema read a second. */
#define RETRY_MS 1000
/* After attempts that could not read the server (a restart, or a query
 * longer than --timeout on a server with very many tables), the wait
 * doubles up to this, so capture is not held up by checks that fail. */
#define MAX_BACKOFF_MS 60000
/* The pause before the second check that confirms a difference. */
#define CONFIRM_PAUSE_MS 100

typedef enum {
    ST_IDLE,    /* Nothing due. */
    ST_PENDING, /* A check is due: read the server at the next chance. */
    ST_WAITING, /* A snapshot is read; waiting for capture to reach e2. */
} state_t;

struct sl_driftcheck_s {
    sl_driftcheck_opts_t opts;
    MYSQL *mysql; /* The second session, opened when first needed. */
    state_t state;
    int confirming; /* The last comparison found a difference. */
    int dirty;      /* A DDL event ended after e1 while waiting. */
    uint64_t next_try_ns, last_done_ns;
    char e1_file[256], e2_file[256];
    uint64_t e1_pos, e2_pos;
    sl_schema_t *snap; /* The server's tables read between e1 and e2. */
    sl_buf_t report;
    size_t warned_only_server; /* Tables the last warning was about. */
    unsigned failures; /* Attempts in a row that could not read the server. */
    struct {
        uint64_t checks, retries, errors, mismatches;
    } stats;
};

int sl_driftcheck_new(sl_driftcheck_t **out, const sl_driftcheck_opts_t *opts) {
    sl_driftcheck_t *chk = calloc(1, sizeof *chk);
    *out = NULL;
    if (chk == NULL)
        return SL_ENOMEM;
    chk->opts = *opts;
    chk->state = ST_PENDING;
    chk->last_done_ns = sl_mono_ns();
    sl_buf_init(&chk->report);
    *out = chk;
    return 0;
}

static void drop_snapshot(sl_driftcheck_t *chk) {
    sl_schema_free(chk->snap);
    chk->snap = NULL;
}

void sl_driftcheck_free(sl_driftcheck_t *chk) {
    if (chk == NULL)
        return;
    drop_snapshot(chk);
    if (chk->mysql != NULL)
        mysql_close(chk->mysql);
    sl_buf_free(&chk->report);
    free(chk);
}

void sl_driftcheck_session(sl_driftcheck_t *chk) {
    drop_snapshot(chk);
    chk->state = ST_PENDING;
    chk->next_try_ns = 0;
}

void sl_driftcheck_ddl(sl_driftcheck_t *chk, const char *file, uint64_t end) {
    /* The snapshot was read at some instant after e1: a DDL event ending
     * after e1 may or may not be in it, so it cannot be compared. */
    if (chk->state == ST_WAITING &&
        sl_history_cmp(file, end, chk->e1_file, chk->e1_pos) > 0)
        chk->dirty = 1;
    if (chk->state == ST_IDLE)
        chk->state = ST_PENDING;
}

const char *sl_driftcheck_report(sl_driftcheck_t *chk) {
    const char *text = "";
    if (sl_buf_cstr(&chk->report, &text) != 0)
        return "";
    return text;
}

void sl_driftcheck_put_stats(const sl_driftcheck_t *chk, sl_buf_t *out) {
    sl_buf_printf(out,
                  "STAT schema_checks %llu\r\n"
                  "STAT schema_check_retries %llu\r\n"
                  "STAT schema_check_errors %llu\r\n"
                  "STAT schema_mismatches %llu\r\n",
                  (unsigned long long)chk->stats.checks,
                  (unsigned long long)chk->stats.retries,
                  (unsigned long long)chk->stats.errors,
                  (unsigned long long)chk->stats.mismatches);
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first line of the report without its end, for a one-line message. */
static const char *first_line(sl_driftcheck_t *chk, char *out, size_t len) {
    const char *text = sl_driftcheck_report(chk);
    size_t n = strcspn(text, "\n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), text);
    return out;
}

/* Reads e1, the server's tables, then e2. Returns 0 (chk->state is then
 * ST_WAITING, or still ST_PENDING when the server could not be read for
 * now) or an error that stops capture, with err set. */
static int take_snapshot(sl_driftcheck_t *chk, const char *file, uint64_t pos,
                         char *err, size_t errlen) {
    char why[512] = "";
    int rc = 0;
    drop_snapshot(chk);
    if (chk->mysql == NULL)
        rc = sl_source_connect(&chk->mysql, chk->opts.source, why, sizeof why);
    if (rc == 0)
        rc = sl_source_binlog_end(chk->mysql, chk->e1_file, sizeof chk->e1_file,
                                  &chk->e1_pos, why, sizeof why);
    if (rc == 0 && (rc = sl_schema_new(&chk->snap)) == 0) {
        rc = sl_schema_load_live(chk->snap, chk->mysql, chk->opts.want,
                                 chk->opts.want_ctx, why, sizeof why);
        if (rc == SL_EDB)
            rc = sl_source_errkind(chk->mysql);
    }
    if (rc == 0)
        rc = sl_source_binlog_end(chk->mysql, chk->e2_file, sizeof chk->e2_file,
                                  &chk->e2_pos, why, sizeof why);
    if (rc == SL_ECONN) {
        /* An outage (the source restarting): try again later, on a new
         * session. */
        chk->stats.errors++;
        if (chk->failures == 0)
            sl_log_warn("schema check cannot read the source; retrying",
                        "error=\"%s\"", why);
        uint64_t wait_ms = (uint64_t)RETRY_MS
                           << (chk->failures < 6 ? chk->failures : 6);
        if (wait_ms > MAX_BACKOFF_MS)
            wait_ms = MAX_BACKOFF_MS;
        chk->next_try_ns = sl_mono_ns() + wait_ms * 1000000ull;
        chk->failures++;
        drop_snapshot(chk);
        if (chk->mysql != NULL)
            mysql_close(chk->mysql);
        chk->mysql = NULL;
        return 0;
    }
    if (rc != 0) {
        drop_snapshot(chk);
        snprintf(err, errlen,
                 "the schema check cannot read the source: %s; grant the "
                 "capture user REPLICATION CLIENT (BINLOG MONITOR on "
                 "MariaDB 10.5+) and SELECT, or set schema-check = no",
                 why);
        return rc;
    }
    chk->failures = 0;
    if (sl_history_cmp(file, pos, chk->e1_file, chk->e1_pos) > 0) {
        /* The server's end is behind capture (its binlog was reset, or
         * this is another server): the positions say nothing. */
        sl_log_debug("schema check: the source's binlog end is behind "
                     "capture; retrying",
                     "end=%s:%llu", chk->e1_file,
                     (unsigned long long)chk->e1_pos);
        drop_snapshot(chk);
        return 0;
    }
    chk->state = ST_WAITING;
    chk->dirty = 0;
    return 0;
}

/* Compares the snapshot with the history at the snapshot's instant. */
static int compare(sl_driftcheck_t *chk, const sl_schema_t *hist, char *err,
                   size_t errlen) {
    sl_schema_diff_t d;
    sl_buf_reset(&chk->report);
    int rc = sl_schema_diff(hist, chk->snap, chk->opts.want, chk->opts.want_ctx,
                            &chk->report, &d);
    drop_snapshot(chk);
    chk->state = ST_IDLE;
    if (rc != 0) {
        snprintf(err, errlen, "the schema check ran out of memory");
        return rc;
    }
    chk->stats.checks++;
    char first[300];
    if (d.differ > 0 || d.only_history > 0) {
        chk->stats.mismatches++;
        if (!chk->confirming) {
            chk->confirming = 1;
            chk->state = ST_PENDING;
            chk->next_try_ns = 0;
            sl_log_info("schema check found a difference; checking again",
                        "tables=%zu", d.differ + d.only_history);
            return 0;
        }
        snprintf(err, errlen,
                 "schema check: the schema history differs from the "
                 "source's information_schema for %zu captured table(s), "
                 "first %s (both definitions, column by column, are printed "
                 "above). The history missed or misread a schema change "
                 "(DDL run with sql_log_bin=0, or a statement sluice did "
                 "not parse right), so rows could be decoded with the wrong "
                 "columns: start a new capture (a new --name) so the "
                 "history is read from the server, or exclude the table",
                 d.differ + d.only_history,
                 first_line(chk, first, sizeof first));
        return SL_ECORRUPT;
    }
    /* The first agreement is worth a line: it says the check works. */
    if (chk->stats.checks == 1 || chk->confirming)
        sl_log_info("schema check: the history agrees with the source",
                    "tables_compared=%zu checks=%llu", d.compared,
                    (unsigned long long)chk->stats.checks);
    else
        sl_log_debug("schema check: the history agrees with the source",
                     "tables_compared=%zu checks=%llu", d.compared,
                     (unsigned long long)chk->stats.checks);
    chk->confirming = 0;
    chk->last_done_ns = sl_mono_ns();
    if (d.only_server > 0 && d.only_server != chk->warned_only_server) {
        char q[400];
        sl_log_warn(
            "schema check: captured tables on the source that the "
            "schema history does not know; their rows stop capture "
            "unless the binlog names their columns",
            "tables=%zu first=%s", d.only_server,
            sl_log_quote(first_line(chk, first, sizeof first), q, sizeof q));
    }
    chk->warned_only_server = d.only_server;
    sl_buf_reset(&chk->report);
    return 0;
}

int sl_driftcheck_step(sl_driftcheck_t *chk, const sl_schema_t *hist,
                       const char *file, uint64_t pos, char *err,
                       size_t errlen) {
    if (file == NULL)
        return 0;
    if (chk->state == ST_IDLE) {
        if (chk->opts.interval_ms == 0 ||
            sl_mono_ns() - chk->last_done_ns <
                chk->opts.interval_ms * 1000000ull)
            return 0;
        chk->state = ST_PENDING;
    }
    /* Two rounds at most: a difference found in the first is confirmed in
     * the second at once when capture is idle. */
    for (int round = 0; round < 2; round++) {
        if (chk->state == ST_PENDING) {
            uint64_t now = sl_mono_ns();
            if (now < chk->next_try_ns)
                return 0;
            uint64_t gap =
                chk->opts.interval_ms && chk->opts.interval_ms < RETRY_MS
                    ? chk->opts.interval_ms
                    : RETRY_MS;
            chk->next_try_ns = now + gap * 1000000ull;
            if (chk->confirming)
                sleep_ms(CONFIRM_PAUSE_MS);
            int rc = take_snapshot(chk, file, pos, err, errlen);
            if (rc != 0 || chk->state != ST_WAITING)
                return rc;
        }
        if (chk->state != ST_WAITING)
            return 0;
        if (chk->dirty) {
            chk->stats.retries++;
            drop_snapshot(chk);
            chk->state = ST_PENDING;
            return 0;
        }
        if (sl_history_cmp(file, pos, chk->e2_file, chk->e2_pos) < 0)
            return 0;
        int rc = compare(chk, hist, err, errlen);
        if (rc != 0 || chk->state != ST_PENDING)
            return rc;
    }
    return 0;
}
