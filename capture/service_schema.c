/* The live capture service's schema history: built at the resume point
 * (from the broker's records or the source), and DDL applied to it,
 * recorded and published; see service.h and docs/schema-history.md. */
#include "service_int.h"

#include "capture/schema/history.h"
#include "error.h"
#include "log.h"
#include "replay.h"

#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes "db.t, db.u" (the tables of effect, with " (captured)" after
 * those capture takes) into out, truncated to fit; returns how many are
 * captured. */
static int ddl_table_list(sl__svc_t *svc, const sl_ddl_effect_t *effect,
                          char *out, size_t outlen) {
    int captured = 0;
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < effect->ntables; i++) {
        const char *tdb = effect->tables[i].db, *t = effect->tables[i].table;
        int c = sl_filter_table(svc->filter, tdb, strlen(tdb), t, strlen(t));
        captured += c;
        if (o < outlen) {
            int n = snprintf(out + o, outlen - o, "%s%s.%s%s", i ? ", " : "",
                             tdb, t, c ? " (captured)" : "");
            o += n > 0 ? (size_t)n : 0;
        }
    }
    return captured;
}

/* Sets svc->err and returns SL_EUNSUPPORTED. The callers cut the parts
 * of unbounded length (statement, reasons, tables) so that the remedy at
 * the end always fits. */
static int ddl_stop(sl__svc_t *svc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ddl_stop(sl__svc_t *svc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(svc->err, sizeof svc->err, fmt, ap);
    va_end(ap);
    return SL_EUNSUPPORTED;
}

/* A statement the schema history could not interpret (why): capture can
 * pass over it only when the tables it may affect are known and none is
 * captured; then it warns once and counts it. Otherwise it stops with an
 * error naming the statement, its position, the tables and the remedy:
 * excluding them (the history then passes over the statement again after
 * a restart, replaying it from the broker), or column names from the
 * binlog itself. */
static int ddl_unreadable(sl__svc_t *svc, const sl_change_t *chg,
                          const char *db, const char *sql, size_t body,
                          size_t sql_len, sl_ddl_effect_t *effect,
                          const char *why) {
    char names_why[256] = "", tables[400];
    int rc =
        sl_schema_ddl_unreadable(svc->schema, db, sql + body, sql_len - body,
                                 effect, names_why, sizeof names_why);
    int captured = ddl_table_list(svc, effect, tables, sizeof tables);
    unsigned long long pos = (unsigned long long)chg->pos;
    if (rc == SL_ENOMEM) {
        snprintf(svc->err, sizeof svc->err, "%s:%llu: out of memory", chg->file,
                 pos);
        return rc;
    }
    if (rc != 0)
        return ddl_stop(
            svc,
            "%s:%llu: the schema history cannot interpret this DDL (%.160s), "
            "and which tables it changes cannot be determined (%.160s): "
            "%.200s; excluding tables cannot help here: set "
            "binlog_row_metadata=FULL on the source and start capture "
            "anew (a new --name)",
            chg->file, pos, why, names_why, sql);
    if (captured)
        return ddl_stop(
            svc,
            "%s:%llu: the schema history cannot interpret this DDL (%.160s): "
            "%.200s; it may change %.300s: exclude the captured ones "
            "(--exclude) and restart capture, or set "
            "binlog_row_metadata=FULL on the source and start capture "
            "anew (a new --name)",
            chg->file, pos, why, sql, tables);
    char qt[420], qs[300];
    sl_log_warn("DDL on tables not captured passed over, unread",
                "file=%s pos=%llu tables=%s statement=%s", chg->file, pos,
                sl_log_quote(tables, qt, sizeof qt),
                sl_log_quote(sql, qs, sizeof qs));
    svc->ddl_skipped++;
    return 0;
}

/* A DDL statement: applied to the schema history at its position (an
 * unreadable one is fatal unless every table it may affect is known and
 * filtered out: ddl_unreadable), recorded in the broker, and published to
 * the partitions of the tables it names. */
int sl__svc_on_ddl(sl__svc_t *svc, const sl_change_t *chg) {
    sl_buf_reset(&svc->sql);
    if (chg->sql == NULL ||
        sl_buf_append(&svc->sql, chg->sql, chg->sql_len) != 0 ||
        sl_buf_append_u8(&svc->sql, '\0') != 0)
        return SL_ECORRUPT;
    const char *sql = (const char *)svc->sql.data;
    size_t sql_len = chg->sql_len;
    uint64_t sql_mode = chg->has_sql_mode ? chg->sql_mode : 0;
    char db[256] = "";
    if (chg->db != NULL)
        snprintf(db, sizeof db, "%.*s", (int)chg->db_len, chg->db);
    sl_schema_set_sql_mode(svc->schema, sql_mode);
    sl_ddl_effect_t effect;
    memset(&effect, 0, sizeof effect);
    char why[512] = "";
    /* MariaDB logs "SET STATEMENT ... FOR ALTER TABLE ..." as written. */
    size_t body = sl_schema_ddl_body(svc->schema, sql, sql_len);
    int err = sl_schema_apply_ddl(svc->schema, chg->db ? db : NULL, sql + body,
                                  sql_len - body, &effect, why, sizeof why);
    if (err == SL_EUNSUPPORTED &&
        (err = ddl_unreadable(svc, chg, chg->db ? db : NULL, sql, body, sql_len,
                              &effect, why)) != 0) {
        sl_ddl_effect_free(&effect);
        return err;
    }
    if (err != 0) {
        snprintf(svc->err, sizeof svc->err,
                 "%s:%llu: applying DDL to the schema history failed (%s): "
                 "%.200s",
                 chg->file, (unsigned long long)chg->pos, why, sql);
        sl_ddl_effect_free(&effect);
        return err;
    }
    sl_buf_reset(&svc->record);
    err = sl_history_ddl_record(chg->file, chg->pos, chg->db, chg->db_len, sql,
                                sql_len, sql_mode, &svc->record);
    if (err == 0 && effect.ntables > 0)
        err = sl_publish_internal(svc->pub, svc->schema_part, svc->record.data,
                                  svc->record.len);
    /* The statement goes once to each partition of a captured table it
     * names (all N partitions of a table under key:N): a statement naming
     * several tables of one partition (DROP TABLE a, b under
     * --partition-by database), or one table twice (RENAME TABLE a TO t,
     * b TO a), is published there once. */
    sl_strmap_t sent;
    if (err == 0)
        err = sl_strmap_init(&sent);
    else
        memset(&sent, 0, sizeof sent);
    for (size_t i = 0; i < effect.ntables && err == 0; i++) {
        const char *tdb = effect.tables[i].db, *tname = effect.tables[i].table;
        if (svc->snap != NULL)
            sl_snap_on_ddl(svc->snap, tdb, tname);
        if (!sl_filter_table(svc->filter, tdb, strlen(tdb), tname,
                             strlen(tname)))
            continue;
        uint32_t n = svc->route.mode == SL_ROUTE_KEY ? svc->route.buckets : 1;
        for (uint32_t b = 0; b < n && err == 0; b++) {
            sl_buf_reset(&svc->part);
            err = sl_route_partition(&svc->route, tdb, strlen(tdb), tname,
                                     strlen(tname), b, &svc->part);
            if (err != 0 ||
                sl_strmap_get(&sent, svc->part.data, svc->part.len) != NULL)
                continue;
            err = sl_strmap_put(&sent, svc->part.data, svc->part.len, &sent);
            if (err == 0)
                err =
                    sl_publish_message(svc->pub, (const char *)svc->part.data,
                                       svc->part.len, chg->json, chg->json_len);
        }
    }
    sl_strmap_free(&sent);
    sl_ddl_effect_free(&effect);
    return err;
}

static int load_history_cb(void *ctx, const uint8_t *data, size_t len) {
    return sl_history_loader_feed(ctx, data, len);
}

/* The schema history at the resume point: rebuilt from the records in the
 * broker when resuming, else read from the source now (after fixing the
 * start position, so a DDL in between is replayed, not missed). Either
 * way a fresh snapshot is recorded at the resume point, so the history
 * survives the broker's retention. */
int sl__svc_init_schema(sl__svc_t *svc) {
    const sl_checkpoint_t *cp = svc->resume;
    int rc;
    sl_schema_free(svc->schema); /* From an attempt that was retried. */
    svc->schema = NULL;
    char file[256];
    uint64_t pos;
    if (cp != NULL) {
        sl_history_loader_t ld;
        if ((rc = sl_history_loader_init(&ld, cp->file, cp->pos)) != 0)
            return rc;
        rc = sl_publish_read_internal(svc->pub, svc->schema_part,
                                      load_history_cb, &ld);
        if (rc == 0 && !ld.have_snapshot) {
            snprintf(ld.err, sizeof ld.err,
                     "no snapshot before %.200s:%llu in %s/%.200s", cp->file,
                     (unsigned long long)cp->pos, SL_PUBLISH_INTERNAL_TOPIC,
                     svc->schema_part);
            rc = SL_ENOTFOUND;
        }
        if (rc != 0) {
            snprintf(svc->err, sizeof svc->err,
                     "the schema history could not be rebuilt: %s", ld.err);
            sl_history_loader_free(&ld);
            return rc;
        }
        sl_log_info("schema history rebuilt", "tables=%zu ddl_applied=%llu",
                    sl_schema_count(ld.schema), (unsigned long long)ld.applied);
        svc->schema = ld.schema;
        ld.schema = NULL;
        sl_history_loader_free(&ld);
        if ((rc = sl_replay_fill_schema(svc->pub, &svc->src_opts, svc->schema,
                                        cp->file, cp->pos, svc->err,
                                        sizeof svc->err)) != 0)
            return rc; /* A resumed replay: replay.h. */
        snprintf(file, sizeof file, "%.255s", cp->file);
        pos = cp->pos;
    } else if (sl_replay_schema(svc->pub, &svc->schema, file, sizeof file, &pos,
                                &rc, svc->err, sizeof svc->err)) {
        if (rc != 0) /* A replay's table definitions: replay.h. */
            return rc;
    } else {
        MYSQL *mysql;
        char err[512];
        if ((rc = sl_source_connect(&mysql, &svc->src_opts, err, sizeof err)) !=
            0) {
            snprintf(svc->err, sizeof svc->err, "%s", err);
            return rc;
        }
        file[0] = '\0';
        pos = 4;
        if (svc->start_file != NULL) {
            snprintf(file, sizeof file, "%s", svc->start_file);
            pos = svc->start_pos;
        } else if (mysql_query(mysql, "SHOW MASTER STATUS") == 0) {
            MYSQL_RES *res = mysql_store_result(mysql);
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            if (row != NULL && row[0] != NULL && row[1] != NULL) {
                snprintf(file, sizeof file, "%s", row[0]);
                pos = strtoull(row[1], NULL, 10);
                if (svc->start_gtid == NULL) {
                    /* "end" becomes this position, so the schema read
                     * next is the one in force there (or later: then a
                     * DDL is replayed and fails loudly, never missed). */
                    svc->start_file = strdup(file);
                    svc->start_pos = pos;
                }
            }
            if (res != NULL)
                mysql_free_result(res);
        }
        if ((rc = sl_schema_new(&svc->schema)) == 0)
            rc = sl_schema_load_live(svc->schema, mysql, sl__svc_want_table,
                                     svc, err, sizeof err);
        /* A connection lost during the read (the source restarting) is an
         * outage to wait out, like a failed connect, not a schema error. */
        unsigned int code = mysql_errno(mysql);
        if (rc != 0 &&
            ((code >= 2000 && code < 3000) || code == ER_SERVER_SHUTDOWN ||
             code == ER_CONNECTION_KILLED))
            rc = SL_ECONN;
        mysql_close(mysql);
        if (rc != 0) {
            snprintf(svc->err, sizeof svc->err,
                     "reading the source's tables for the schema history "
                     "failed: %s",
                     err);
            return rc;
        }
        sl_log_info("schema history read from the source", "tables=%zu",
                    sl_schema_count(svc->schema));
    }
    if (cp != NULL && (rc = sl__svc_snap_join_find(svc)) != 0)
        return rc;
    sl_buf_reset(&svc->record);
    rc = sl_history_snapshot_record(svc->schema, file, pos, &svc->record);
    if (rc == 0)
        rc = sl_publish_internal(svc->pub, svc->schema_part, svc->record.data,
                                 svc->record.len);
    return rc;
}
