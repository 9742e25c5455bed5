/* Preflight checks of the source; see preflight.h. */
#include "preflight.h"

#include "error.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    sl_buf_t *report;
    sl_preflight_result_t *result;
} ctx_t;

static void finding(ctx_t *ctx, int error, const char *what, const char *fix) {
    if (error)
        ctx->result->errors++;
    else
        ctx->result->warnings++;
    sl_buf_printf(ctx->report, "%s: %s\n  To fix: %s\n",
                  error ? "error" : "warning", what, fix);
}

/* The value of a server variable, or NULL when the server lacks it. The
 * caller frees it. */
static char *variable(MYSQL *mysql, const char *name) {
    char sql[128];
    snprintf(sql, sizeof sql, "SHOW GLOBAL VARIABLES LIKE '%s'", name);
    if (mysql_query(mysql, sql) != 0)
        return NULL;
    MYSQL_RES *res = mysql_store_result(mysql);
    if (res == NULL)
        return NULL;
    MYSQL_ROW row = mysql_fetch_row(res);
    char *value = row != NULL && row[1] != NULL ? strdup(row[1]) : NULL;
    mysql_free_result(res);
    return value;
}

static void check_binlog_settings(ctx_t *ctx, MYSQL *mysql) {
    char what[512];
    char *log_bin = variable(mysql, "log_bin");
    if (log_bin == NULL ||
        (strcasecmp(log_bin, "ON") != 0 && strcmp(log_bin, "1") != 0)) {
        finding(ctx, 1,
                "the binary log is off (log_bin), so there is nothing to "
                "capture.",
                "add log_bin (MariaDB: log-bin=mysql-bin) and a unique "
                "server_id under [mysqld] in my.cnf and restart the server.");
    }
    free(log_bin);

    char *format = variable(mysql, "binlog_format");
    if (format == NULL || strcasecmp(format, "ROW") != 0) {
        snprintf(what, sizeof what,
                 "binlog_format is %s; capture needs ROW, because only row "
                 "events carry the changed rows themselves.",
                 format ? format : "unknown");
        finding(ctx, 1, what,
                "SET GLOBAL binlog_format = 'ROW'; and binlog_format = ROW "
                "in my.cnf. Sessions already open keep their old format "
                "until they reconnect.");
    }
    free(format);

    char *image = variable(mysql, "binlog_row_image");
    if (image != NULL && strcasecmp(image, "FULL") != 0) {
        snprintf(what, sizeof what,
                 "binlog_row_image is %s; capture needs FULL, so that every "
                 "change event carries whole before and after images and "
                 "downstream copies can be kept exact.",
                 image);
        finding(ctx, 1, what,
                "SET GLOBAL binlog_row_image = 'FULL'; and binlog_row_image "
                "= FULL in my.cnf.");
    }
    free(image);

    char *metadata = variable(mysql, "binlog_row_metadata");
    if (metadata == NULL) {
        finding(ctx, 0,
                "this server cannot write column names into the binlog "
                "(no binlog_row_metadata); capture takes them from its schema "
                "history instead, which must see every DDL statement.",
                "nothing to change; upgrading to MySQL 8.0 or MariaDB 10.5 "
                "or later makes the binlog self-describing.");
    } else if (strcasecmp(metadata, "FULL") != 0) {
        snprintf(what, sizeof what,
                 "binlog_row_metadata is %s; with FULL the binlog itself "
                 "names every column, its signedness, charset and ENUM/SET "
                 "values, and capture does not depend on its schema history.",
                 metadata);
        finding(ctx, 0, what,
                "SET GLOBAL binlog_row_metadata = 'FULL'; and "
                "binlog_row_metadata = FULL in my.cnf.");
    }
    free(metadata);

    char *checksum = variable(mysql, "binlog_checksum");
    if (checksum != NULL && strcasecmp(checksum, "CRC32") != 0 &&
        strcasecmp(checksum, "NONE") != 0) {
        snprintf(what, sizeof what,
                 "binlog_checksum is %s, which capture "
                 "does not know.",
                 checksum);
        finding(ctx, 1, what, "SET GLOBAL binlog_checksum = 'CRC32';");
    }
    free(checksum);
}

/* Looks for a privilege in the user's grants (case-insensitive). */
static int granted(const char *grants, const char *priv) {
    return strcasestr(grants, priv) != NULL;
}

static void check_privileges(ctx_t *ctx, MYSQL *mysql) {
    if (mysql_query(mysql, "SHOW GRANTS FOR CURRENT_USER()") != 0) {
        finding(ctx, 0, "could not read this user's grants (SHOW GRANTS).",
                "check the privileges listed in docs/ by hand.");
        return;
    }
    MYSQL_RES *res = mysql_store_result(mysql);
    sl_buf_t all = SL_BUF_INIT;
    MYSQL_ROW row;
    while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
        /* Grants on one schema do not give global privileges. */
        if (row[0] != NULL && strstr(row[0], " ON *.* ") != NULL) {
            sl_buf_append_str(&all, row[0]);
            sl_buf_append_u8(&all, '\n');
        }
    }
    if (res != NULL)
        mysql_free_result(res);
    const char *grants = "";
    if (sl_buf_cstr(&all, &grants) != 0)
        grants = "";
    int everything = granted(grants, "ALL PRIVILEGES");
    if (!everything && !granted(grants, "REPLICATION SLAVE") &&
        !granted(grants, "REPLICATION REPLICA"))
        finding(ctx, 1,
                "this user lacks REPLICATION SLAVE, which the server "
                "requires to stream its binlog.",
                "GRANT REPLICATION SLAVE ON *.* TO the capture user;");
    if (!everything && !granted(grants, "REPLICATION CLIENT") &&
        !granted(grants, "BINLOG MONITOR") && !granted(grants, "SUPER"))
        finding(ctx, 1,
                "this user lacks REPLICATION CLIENT (MariaDB 10.5+: BINLOG "
                "MONITOR), needed to read the binlog position.",
                "GRANT REPLICATION CLIENT ON *.* TO the capture user; "
                "(MariaDB 10.5 and later: GRANT BINLOG MONITOR ON *.* ...)");
    if (!everything && !granted(grants, "SELECT"))
        finding(ctx, 0,
                "this user has no global SELECT, so capture cannot read "
                "table definitions for its schema history.",
                "GRANT SELECT ON *.* TO the capture user; (or SELECT on "
                "each captured database).");
    sl_buf_free(&all);
}

static void check_server_id(ctx_t *ctx, MYSQL *mysql, uint32_t server_id) {
    char what[512];
    char *own = variable(mysql, "server_id");
    if (own != NULL && strtoul(own, NULL, 10) == server_id) {
        snprintf(what, sizeof what,
                 "--server-id %u is the source's own server_id; the server "
                 "would refuse the replica or drop its own events.",
                 server_id);
        finding(ctx, 1, what,
                "choose a --server-id no server or replica in the topology "
                "uses.");
    }
    free(own);
    /* MySQL 8.0.22+ calls it SHOW REPLICAS; MariaDB and older MySQL SHOW
     * SLAVE HOSTS. Column 0 is the replica's server id in both. */
    if (mysql_query(mysql, "SHOW SLAVE HOSTS") != 0 &&
        mysql_query(mysql, "SHOW REPLICAS") != 0)
        return;
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row;
    while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
        if (row[0] != NULL && strtoul(row[0], NULL, 10) == server_id) {
            snprintf(what, sizeof what,
                     "a replica with server id %u is connected (host '%s', "
                     "port %s); two replicas with one id make the server "
                     "drop one of them again and again.",
                     server_id, row[1] ? row[1] : "", row[2] ? row[2] : "");
            finding(ctx, 0, what,
                    "if that is not a sluice-capture that just stopped, give "
                    "this one another --server-id.");
        }
    }
    if (res != NULL)
        mysql_free_result(res);
}

int sl_preflight_run(const sl_source_opts_t *opts, sl_buf_t *report,
                     sl_preflight_result_t *result, char *err, size_t errlen) {
    MYSQL *mysql;
    memset(result, 0, sizeof *result);
    int rc = sl_source_connect(&mysql, opts, err, errlen);
    if (rc != 0)
        return rc;
    ctx_t ctx = {report, result};
    check_binlog_settings(&ctx, mysql);
    check_privileges(&ctx, mysql);
    check_server_id(&ctx, mysql, opts->server_id);
    if (opts->gtid != NULL &&
        strstr(mysql_get_server_info(mysql), "MariaDB") == NULL) {
        char *mode = variable(mysql, "gtid_mode");
        if (mode == NULL || strcasecmp(mode, "ON") != 0)
            finding(&ctx, 1,
                    "starting from a GTID set needs gtid_mode=ON on the "
                    "source.",
                    "start from a FILE:POS instead, or enable GTIDs "
                    "(gtid_mode=ON, enforce_gtid_consistency=ON).");
        free(mode);
    }
    /* A server that went away during the checks (restarting) made them
     * read nothing: that is an outage to retry, not a list of problems. */
    if (mysql_ping(mysql) != 0) {
        snprintf(err, errlen, "the source went away during preflight: %s",
                 mysql_error(mysql));
        mysql_close(mysql);
        memset(result, 0, sizeof *result);
        sl_buf_reset(report);
        return SL_ECONN;
    }
    mysql_close(mysql);
    return 0;
}
