/*
 * Target transactions of the MySQL/MariaDB sink (apply/mysql/internal.h):
 * each group of source transactions runs in one target transaction that
 * also moves the partition's row of sluice_offsets (the table below,
 * schemas/sluice_offsets.sql), so rows and offset commit together; resume
 * and claim read and create that row, and DDL replay moves it after the
 * statement.
 */
#include "internal.h"

#include "clock.h"
#include "error.h"
#include "log.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>

const char sl_mysql_offsets_ddl[] =
    "CREATE TABLE IF NOT EXISTS sluice_offsets (\n"
    "  group_name VARCHAR(128) NOT NULL,\n"
    "  topic VARCHAR(128) NOT NULL,\n"
    "  part VARCHAR(255) NOT NULL,\n"
    "  next_offset BIGINT UNSIGNED NOT NULL,\n"
    "  trx_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,\n"
    "  rows_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,\n"
    "  last_trx VARCHAR(255) NOT NULL DEFAULT '',\n"
    "  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n"
    "  PRIMARY KEY (group_name, topic, part)\n"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/* Appends the WHERE clause that selects this partition's offsets row. */
static void put_offsets_where(sl_mysql_sink_t *s, sl_buf_t *b) {
    sl_buf_append_str(b, " WHERE group_name=");
    sl__mysql_lit(s, b, s->group);
    sl_buf_append_str(b, " AND topic=");
    sl__mysql_lit(s, b, s->topic);
    sl_buf_append_str(b, " AND part=");
    sl__mysql_lit(s, b, s->part);
}

/* Reads the offsets row; *found = 0 when absent. Transient errors
 * disconnect and return SL_EAGAIN. */
static int read_offset(sl_mysql_sink_t *s, const char *suffix, uint64_t *next,
                       int *found) {
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SELECT next_offset FROM sluice_offsets");
    put_offsets_where(s, &q);
    sl_buf_append_str(&q, suffix);
    sl_buf_append_u8(&q, 0);
    int rc = sl_buf_error(&q);
    if (rc != 0) {
        sl_buf_free(&q);
        return rc;
    }
    *found = 0;
    if (mysql_real_query(s->mysql, (const char *)q.data, q.len - 1) != 0) {
        rc = sl__mysql_query_failed(s, "reading sluice_offsets:");
        sl_buf_free(&q);
        return rc;
    }
    sl_buf_free(&q);
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res == NULL) {
        rc = sl__mysql_query_failed(s, "reading sluice_offsets:");
        return rc;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row != NULL && row[0] != NULL) {
        *found = 1;
        rc = sl_parse_u64(row[0], next) == 0 ? 0 : SL_ECORRUPT;
    }
    mysql_free_result(res);
    return rc;
}

/*
 * Writes the partition's row of sluice_offsets: the one place that builds
 * this statement. With claim, the row is created with next_offset = next
 * unless it exists (INSERT IGNORE; the counters keep their defaults);
 * otherwise it is created or updated: next_offset becomes next, the
 * counters grow by ntrx and nrows, last_trx is replaced. Runs in the open
 * transaction, if any.
 */
static int write_offset(sl_mysql_sink_t *s, int claim, uint64_t next,
                        uint64_t ntrx, uint64_t nrows, const char *last_trx) {
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, claim ? "INSERT IGNORE INTO" : "INSERT INTO");
    sl_buf_append_str(&q, " sluice_offsets (group_name, topic, part, "
                          "next_offset");
    sl_buf_append_str(&q, claim ? ") VALUES ("
                                : ", trx_applied, rows_applied, last_trx) "
                                  "VALUES (");
    sl__mysql_lit(s, &q, s->group);
    sl_buf_append_u8(&q, ',');
    sl__mysql_lit(s, &q, s->topic);
    sl_buf_append_u8(&q, ',');
    sl__mysql_lit(s, &q, s->part);
    sl_buf_printf(&q, ",%llu", (unsigned long long)next);
    if (claim) {
        sl_buf_append_u8(&q, ')');
    } else {
        sl_buf_printf(&q, ",%llu,%llu,", (unsigned long long)ntrx,
                      (unsigned long long)nrows);
        char trx[256];
        snprintf(trx, sizeof trx, "%s", last_trx ? last_trx : "");
        sl__mysql_lit(s, &q, trx);
        sl_buf_append_str(&q, ") ON DUPLICATE KEY UPDATE "
                              "next_offset=VALUES(next_offset), "
                              "trx_applied=trx_applied+VALUES(trx_applied), "
                              "rows_applied=rows_applied+VALUES(rows_applied), "
                              "last_trx=VALUES(last_trx), "
                              "updated_at=CURRENT_TIMESTAMP(6)");
    }
    sl_buf_append_u8(&q, 0);
    int rc = sl_buf_error(&q);
    if (rc == 0)
        rc = sl__mysql_exec(s, (const char *)q.data);
    sl_buf_free(&q);
    return rc;
}

int sl_mysql_sink_resume(sl_mysql_sink_t *s, uint64_t *next, int *found,
                         volatile int *stop) {
    for (;;) {
        int rc = sl__mysql_ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        rc = sl__mysql_exec(s, sl_mysql_offsets_ddl);
        if (rc == 0)
            rc = read_offset(s, "", next, found);
        if (rc == 0)
            rc = sl__mysql_windows_load(s);
        if (rc == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_mysql_sink_wait(s, stop))
            return SL_ESTOPPED;
    }
}

int sl_mysql_sink_claim(sl_mysql_sink_t *s, uint64_t start, uint64_t *next,
                        volatile int *stop) {
    for (;;) {
        int rc = sl__mysql_ensure_conn(s, stop);
        if (rc != 0)
            return rc;
        rc = write_offset(s, 1, start, 0, 0, NULL);
        int found = 0;
        if (rc == 0)
            rc = read_offset(s, "", next, &found);
        if (rc == 0 && !found)
            rc = sl__mysql_seterr(s, SL_EDB, "sluice_offsets row vanished");
        if (rc == 0) {
            sl_backoff_reset(&s->bo);
            return 0;
        }
        if (rc != SL_EAGAIN)
            return rc;
        if (sl_mysql_sink_wait(s, stop))
            return SL_ESTOPPED;
    }
}

void sl_mysql_sink_abort(sl_mysql_sink_t *s) {
    if (s->inflight) {
        /* Results still on the wire: closing the connection rolls the
         * transaction back without reading them. */
        sl__mysql_disconnect(s);
    }
    if (s->mysql != NULL && s->in_group &&
        mysql_real_query(s->mysql, "ROLLBACK", 8) != 0)
        sl__mysql_disconnect(s);
    s->in_group = 0;
    sl_buf_reset(&s->sql);
    sl__mysql_bulk_reset(&s->bk);
    s->nstmts = 0;
    s->open_kind = -1;
}

int sl_mysql_sink_begin(sl_mysql_sink_t *s, uint64_t start_offset,
                        int start_found, volatile int *stop) {
    sl_buf_reset(&s->sql);
    sl__mysql_bulk_reset(&s->bk);
    s->nstmts = 0;
    s->open_kind = -1;
    s->failed_offset = UINT64_MAX;
    s->failed_drift = 0;
    s->group_rows = s->group_ins = s->group_upd = s->group_del = 0;
    s->group_drift = s->group_reads = s->group_tolerated = 0;
    s->careful = s->want_careful;
    s->want_careful = 0;
    int rc = sl__mysql_windows_restore(s);
    if (rc == 0)
        rc = sl__mysql_ensure_conn(s, stop);
    if (rc != 0)
        return rc;
    rc = sl__mysql_exec(s, "START TRANSACTION");
    if (rc != 0)
        return rc;
    s->in_group = 1;
    uint64_t cur = 0;
    int found = 0;
    /* Locks the offsets row (or its gap) until COMMIT, so a second apply
     * process on the same partition waits here and then sees the moved
     * offset instead of applying the same rows again. */
    rc = read_offset(s, " FOR UPDATE", &cur, &found);
    if (rc != 0) {
        sl_mysql_sink_abort(s);
        return rc;
    }
    if (found != start_found || (found && cur != start_offset)) {
        sl_mysql_sink_abort(s);
        return sl__mysql_seterr(
            s, SL_EDB,
            "partition %s: sluice_offsets says %s%llu but this "
            "worker expected %s%llu; another apply process is "
            "writing this partition",
            s->part, found ? "" : "nothing, not ", (unsigned long long)cur,
            start_found ? "" : "nothing, not ",
            (unsigned long long)start_offset);
    }
    return 0;
}

/* Builds "USE `db`" as a C string in b. */
static int put_use(sl_buf_t *b, const char *db) {
    sl_buf_append_str(b, "USE ");
    sl__mysql_put_ident(b, db);
    sl_buf_append_u8(b, 0);
    return sl_buf_error(b);
}

int sl_mysql_sink_ddl(sl_mysql_sink_t *s, const sl_jr_doc_t *doc,
                      uint64_t offset, volatile int *stop) {
    if (s->in_group)
        return sl__mysql_seterr(s, SL_EINVAL, "DDL inside an open group");
    s->failed_offset = UINT64_MAX;
    s->failed_drift = 0;
    uint32_t sqlt = sl_jr_get(doc, 0, "sql");
    uint32_t db = sl_jr_get(doc, 0, "db");
    sl_buf_t sql = SL_BUF_INIT, dbname = SL_BUF_INIT, use = SL_BUF_INIT;
    int rc = 0;
    if (sqlt == SL_JR_NONE || sl_jr_type(doc, sqlt) != SL_JR_STRING ||
        sl_jr_unescape(doc, sqlt, &sql) != 0 || sl_buf_append_u8(&sql, 0)) {
        s->failed_offset = offset;
        rc = sl__mysql_seterr(s, SL_EDB,
                              "partition %s offset %llu: DDL event without "
                              "sql",
                              s->part, (unsigned long long)offset);
        goto out;
    }
    if (db != SL_JR_NONE && sl_jr_type(doc, db) == SL_JR_STRING) {
        if (sl_jr_unescape(doc, db, &dbname) != 0 ||
            sl_buf_append_u8(&dbname, 0) != 0) {
            rc = SL_ENOMEM;
            goto out;
        }
        rc = put_use(&use, sl__mysql_dst_db(s, (const char *)dbname.data));
        if (rc != 0)
            goto out;
    }
    rc = sl__mysql_ensure_conn(s, stop);
    if (rc != 0)
        goto out;
    if (use.len > 0 && (rc = sl__mysql_exec(s, (const char *)use.data)) != 0) {
        if (rc == SL_EDB)
            s->failed_offset = offset;
        goto out;
    }
    if (mysql_real_query(s->mysql, (const char *)sql.data, sql.len - 1) != 0) {
        unsigned e = mysql_errno(s->mysql);
        int transient = sl_mysql_error_transient(e, mysql_error(s->mysql));
        if (!transient)
            s->failed_offset = offset;
        rc = sl__mysql_seterr(
            s, transient ? SL_EAGAIN : SL_EDB,
            "partition %s offset %llu: DDL replay failed: error %u: "
            "%s",
            s->part, (unsigned long long)offset, e, mysql_error(s->mysql));
        if (transient)
            sl__mysql_disconnect(s);
        else {
            sl_buf_t back = SL_BUF_INIT;
            if (put_use(&back, s->opts.url.db) == 0)
                (void)sl__mysql_exec(s, (const char *)back.data);
            sl_buf_free(&back);
        }
        goto out;
    }
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res)
        mysql_free_result(res);
    /* Columns may have changed. */
    sl__mysql_free_tables(s);
    sl_buf_reset(&use);
    rc = put_use(&use, s->opts.url.db);
    if (rc == 0)
        rc = sl__mysql_exec(s, (const char *)use.data);
    if (rc == 0)
        rc = write_offset(s, 0, offset + 1, 1, 0, "ddl");
    if (rc == 0) {
        s->stats.ddl_replayed++;
        sl_log_info("DDL replayed", "part=%s offset=%llu", s->part,
                    (unsigned long long)offset);
    }
out:
    sl_buf_free(&sql);
    sl_buf_free(&dbname);
    sl_buf_free(&use);
    return rc;
}

int sl_mysql_sink_commit(sl_mysql_sink_t *s, uint64_t next_offset,
                         uint64_t ntrx, const char *last_trx,
                         volatile int *stop) {
    if (!s->in_group || s->mysql == NULL)
        return sl__mysql_seterr(s, SL_EAGAIN, "no open group");
    int rc = sl__mysql_flush(s);
    if (rc != 0)
        return rc;
    rc = write_offset(s, 0, next_offset, ntrx, s->group_rows, last_trx);
    if (rc == 0)
        rc = sl__mysql_windows_stage(s);
    if (rc != 0) {
        if (rc != SL_EAGAIN)
            sl_mysql_sink_abort(s);
        return rc;
    }
    uint64_t t0 = sl_mono_ns();
    int cq = mysql_real_query(s->mysql, "COMMIT", 6);
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (cq != 0) {
        unsigned e = mysql_errno(s->mysql);
        if (!sl_mysql_error_transient(e, mysql_error(s->mysql))) {
            rc = sl__mysql_seterr(s, SL_EDB, "COMMIT failed: error %u: %s", e,
                                  mysql_error(s->mysql));
            sl_mysql_sink_abort(s);
            return rc;
        }
        /* The outcome is unknown: the server may have committed before
         * the connection broke. The offsets row tells. */
        sl__mysql_disconnect(s);
        for (;;) {
            uint64_t cur;
            int found;
            rc = sl__mysql_ensure_conn(s, stop);
            if (rc == 0)
                rc = read_offset(s, "", &cur, &found);
            if (rc == 0) {
                if (found && cur == next_offset)
                    break; /* It did commit. */
                return sl__mysql_seterr(s, SL_EAGAIN,
                                        "COMMIT lost (error %u); the "
                                        "group was not applied and is redone",
                                        e);
            }
            if (rc != SL_EAGAIN)
                return rc;
            if (sl_mysql_sink_wait(s, stop))
                return SL_ESTOPPED;
        }
    }
    s->in_group = 0;
    sl_backoff_reset(&s->bo);
    s->stats.groups++;
    s->stats.trx += ntrx;
    s->stats.rows += s->group_rows;
    s->stats.inserts += s->group_ins;
    s->stats.updates += s->group_upd;
    s->stats.deletes += s->group_del;
    s->stats.drift += s->group_drift;
    s->stats.reads += s->group_reads;
    s->stats.tolerated += s->group_tolerated;
    sl__mysql_windows_committed(s);
    return 0;
}
