/*
 * Ad-hoc snapshots: `sluice-capture snapshot DB.TABLE... [--where COND]`
 * asks a running capture to read tables again while it streams.
 *
 * The request travels through the source itself, as a row of the signal
 * table capture watches in the binlog:
 *   CREATE TABLE sluice.signal (id BIGINT AUTO_INCREMENT PRIMARY KEY,
 *                               name VARCHAR(191) NOT NULL,
 *                               type VARCHAR(32) NOT NULL,
 *                               data TEXT NOT NULL)
 * name is the capture's --name, type "snapshot", data a JSON object
 *   {"tables":[["db","table"],...],"where":"COND"|null}.
 * A signal is therefore ordered with the stream and exactly once like it:
 * a restart replays it only when no checkpoint after it was written, and
 * every checkpoint after it carries the queued tables in its cursor.
 *
 * With --stats HOST:PORT (capture's --stats-listen), the command then
 * shows the snapshot's progress on one updating terminal line until no
 * snapshot is left.
 */
#include "signal.h"

#include "capture/source.h"
#include "error.h"
#include "json.h"
#include "jsonread.h"
#include "log.h"
#include "parse.h"
#include "secret.h"
#include "state_int.h"

#include <arpa/inet.h>
#include <mysql.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr,
            "usage: sluice-capture snapshot --source mysql://USER@HOST:PORT "
            "[--password-file F] [--name CAPTURE] [--where COND] "
            "[--stats HOST:PORT] DB.TABLE...\n"
            "  Asks the capture named CAPTURE (default: sluice) to snapshot "
            "the tables again while it streams (docs/snapshot.md).\n");
}

/* "stats" from capture's endpoint, into buf. */
static int fetch_stats(const char *hostport, char *buf, size_t cap) {
    char host[256];
    uint16_t port;
    if (sl_parse_hostport(hostport, host, sizeof host, &port) != 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, "stats\r\n", 7) == 7) {
        ssize_t n;
        while (len + 1 < cap && (n = read(fd, buf + len, cap - len - 1)) > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            if (strstr(buf, "END\r\n") != NULL)
                break;
        }
    }
    close(fd);
    buf[len] = '\0';
    return len > 0 ? 0 : -1;
}

static const char *stat_value(const char *text, const char *name, char *out,
                              size_t cap) {
    char key[96];
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(text, key);
    out[0] = '\0';
    if (p != NULL)
        sscanf(p + strlen(key), "%255s", out);
    (void)cap;
    return out;
}

/* One updating line until the capture reports no snapshot left. */
static void watch(const char *stats) {
    static char text[65536];
    char table[256], rows[64], est[64], rate[64], active[16], queued[16];
    int seen = 0;
    for (int i = 0; i < 360000; i++) {
        if (fetch_stats(stats, text, sizeof text) != 0) {
            fprintf(stderr, "\nsluice-capture snapshot: no stats from %s\n",
                    stats);
            return;
        }
        stat_value(text, "snapshot_active", active, sizeof active);
        if (strcmp(active, "1") == 0) {
            seen = 1;
            stat_value(text, "snapshot_table", table, sizeof table);
            stat_value(text, "snapshot_rows", rows, sizeof rows);
            stat_value(text, "snapshot_estimate", est, sizeof est);
            stat_value(text, "snapshot_rows_per_s", rate, sizeof rate);
            stat_value(text, "snapshot_tables_queued", queued, sizeof queued);
            double r = atof(rate), left = atof(est) - atof(rows);
            fprintf(stderr,
                    "\r%s: %s of ~%s rows, %s rows/s, ETA %.0f s, %s "
                    "queued   ",
                    table, rows, est, rate, r > 0 && left > 0 ? left / r : 0.0,
                    queued);
        } else if (seen || i > 50) {
            fprintf(stderr, "\nsnapshot done\n");
            return;
        }
        struct timespec ts = {0, 200000000L};
        nanosleep(&ts, NULL);
    }
}

int sl_snap_signal_main(int argc, char **argv) {
    const char *source = NULL, *pwfile = NULL, *name = "sluice", *where = NULL,
               *stats = NULL;
    const char **tables = calloc((size_t)argc, sizeof *tables);
    size_t ntables = 0;
    if (tables == NULL)
        return 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--source") == 0          ? &source
                            : strcmp(a, "--password-file") == 0 ? &pwfile
                            : strcmp(a, "--name") == 0          ? &name
                            : strcmp(a, "--where") == 0         ? &where
                            : strcmp(a, "--stats") == 0         ? &stats
                                                                : NULL;
        if (slot != NULL && i + 1 < argc) {
            *slot = argv[++i];
        } else if (a[0] == '-' || strchr(a, '.') == NULL) {
            usage();
            free(tables);
            return 2;
        } else {
            tables[ntables++] = a;
        }
    }
    if (source == NULL || ntables == 0) {
        usage();
        free(tables);
        return 2;
    }
    char user[128], host[256], err[512];
    sl_source_opts_t so;
    memset(&so, 0, sizeof so);
    const char *p = strstr(source, "://");
    p = p ? p + 3 : source;
    const char *at = strchr(p, '@');
    if (at == NULL || (size_t)(at - p) >= sizeof user ||
        memchr(p, ':', (size_t)(at - p)) != NULL ||
        sl_parse_hostport(at + 1, host, sizeof host, &so.port) != 0) {
        fprintf(stderr, "sluice-capture snapshot: --source must be "
                        "mysql://USER@HOST:PORT (no password)\n");
        free(tables);
        return 2;
    }
    snprintf(user, sizeof user, "%.*s", (int)(at - p), p);
    char *password = NULL;
    if (sl_secret_load(pwfile, "SLUICE_SOURCE_PASSWORD", &password, err,
                       sizeof err) != 0) {
        fprintf(stderr, "sluice-capture snapshot: %s\n", err);
        free(tables);
        return 2;
    }
    so.host = host;
    so.user = user;
    so.password = password;
    so.connect_timeout_ms = 10000;
    MYSQL *mysql = NULL;
    int rc = sl_source_connect(&mysql, &so, err, sizeof err);
    sl_secret_free(password);
    if (rc != 0) {
        fprintf(stderr, "sluice-capture snapshot: %s\n", err);
        free(tables);
        return 1;
    }
    sl_buf_t data = SL_BUF_INIT, sql = SL_BUF_INIT;
    sl_json_t json;
    sl_json_init(&json, &data);
    sl_json_obj_begin(&json);
    sl_json_key(&json, "tables");
    sl_json_arr_begin(&json);
    for (size_t i = 0; i < ntables; i++) {
        const char *dot = strchr(tables[i], '.');
        sl_json_arr_begin(&json);
        sl_json_strn(&json, tables[i], (size_t)(dot - tables[i]));
        sl_json_str(&json, dot + 1);
        sl_json_arr_end(&json);
    }
    sl_json_arr_end(&json);
    sl_json_key(&json, "where");
    if (where)
        sl_json_str(&json, where);
    else
        sl_json_null(&json);
    sl_json_obj_end(&json);
    char *esc_data = malloc(data.len * 2 + 1),
         *esc_name = malloc(strlen(name) * 2 + 1);
    if (esc_data == NULL || esc_name == NULL) {
        rc = SL_ENOMEM;
    } else {
        mysql_real_escape_string(mysql, esc_data, (const char *)data.data,
                                 data.len);
        mysql_real_escape_string(mysql, esc_name, name, strlen(name));
        sl_buf_printf(&sql,
                      "INSERT INTO sluice.signal (name, type, data) VALUES "
                      "('%s', 'snapshot', '%s')",
                      esc_name, esc_data);
        const char *text = NULL;
        if (sl_buf_cstr(&sql, &text) != 0 ||
            mysql_query(mysql, "CREATE DATABASE IF NOT EXISTS sluice") != 0 ||
            mysql_query(mysql,
                        "CREATE TABLE IF NOT EXISTS sluice.signal ("
                        "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                        "name VARCHAR(191) NOT NULL, type VARCHAR(32) NOT "
                        "NULL, data TEXT NOT NULL) ENGINE=InnoDB") != 0 ||
            mysql_query(mysql, text) != 0) {
            fprintf(stderr,
                    "sluice-capture snapshot: writing the signal row "
                    "failed: %s (the user needs CREATE and INSERT on "
                    "sluice.*)\n",
                    mysql_error(mysql));
            rc = SL_EDB;
        }
    }
    free(esc_data);
    free(esc_name);
    sl_buf_free(&data);
    sl_buf_free(&sql);
    mysql_close(mysql);
    free(tables);
    if (rc != 0)
        return 1;
    fprintf(stderr, "snapshot of %zu table(s) requested from capture %s\n",
            ntables, name);
    if (stats != NULL)
        watch(stats);
    return 0;
}

int sl_snap_signal_wanted(int argc, char **argv) {
    return argc > 1 && strcmp(argv[1], "snapshot") == 0;
}

char *sl__snap_jr_strdup(const sl_jr_doc_t *doc, uint32_t i) {
    char *s = NULL;
    if (i == SL_JR_NONE || sl_jr_type(doc, i) != SL_JR_STRING ||
        sl_jr_strdup(doc, i, &s, NULL) != 0)
        return NULL;
    return s;
}

uint32_t sl__snap_member(const sl_jr_doc_t *d, uint32_t obj, const char *name,
                         const char *pos) {
    uint32_t v = sl_jr_get(d, obj, name);
    return v != SL_JR_NONE ? v : sl_jr_get(d, obj, pos);
}

/* A row of sluice.signal (signal.c): an insert for this capture queues
 * the tables it names. */
int sl__snap_signal_row(sl_snap_t *snap, sl_jr_doc_t *d, const sl_change_t *chg,
                        const char *capture_name,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx) {
    if (chg->op != SL_OP_INSERT || sl_jr_parse(d, chg->json, chg->json_len))
        return 0;
    uint32_t after = sl_jr_get(d, 0, "after");
    if (after == SL_JR_NONE || sl_jr_type(d, after) != SL_JR_OBJECT)
        return 0;
    uint32_t name = sl__snap_member(d, after, "name", "@2");
    uint32_t type = sl__snap_member(d, after, "type", "@3");
    uint32_t data = sl__snap_member(d, after, "data", "@4");
    if (name == SL_JR_NONE ||
        !sl_jr_str_eq(d, name, capture_name, strlen(capture_name)))
        return 0;
    sl_buf_t text = SL_BUF_INIT;
    if (type == SL_JR_NONE || !sl_jr_str_eq(d, type, "snapshot", 8) ||
        data == SL_JR_NONE || sl_jr_unescape(d, data, &text) != 0) {
        sl_log_warn("signal row not understood; ignored", "file=%s pos=%llu",
                    chg->file, (unsigned long long)chg->pos);
        sl_buf_free(&text);
        return 0;
    }
    sl_jr_doc_t req;
    sl_jr_init(&req);
    int rc = 0;
    uint32_t tables = SL_JR_NONE;
    if (sl_jr_parse(&req, (const char *)text.data, text.len) == 0)
        tables = sl_jr_get(&req, 0, "tables");
    if (tables == SL_JR_NONE || sl_jr_type(&req, tables) != SL_JR_ARRAY) {
        sl_log_warn("signal row not understood; ignored", "file=%s pos=%llu",
                    chg->file, (unsigned long long)chg->pos);
    } else {
        char *where = sl__snap_jr_strdup(&req, sl_jr_get(&req, 0, "where"));
        uint32_t it = tables + 1;
        for (uint32_t k = 0; k < sl_jr_tok(&req, tables)->count && rc == 0;
             k++) {
            char *db = NULL, *t = NULL;
            if (sl_jr_type(&req, it) == SL_JR_ARRAY &&
                sl_jr_tok(&req, it)->count == 2) {
                db = sl__snap_jr_strdup(&req, it + 1);
                t = sl__snap_jr_strdup(&req, sl_jr_tok(&req, it + 1)->next);
            }
            if (db == NULL || t == NULL)
                sl_log_warn("signal: a table entry is not [db, table]", NULL);
            else if (!want(ctx, db, t))
                sl_log_warn("signal: table not captured; no snapshot",
                            "table=%s.%s", db, t);
            else {
                sl_log_info("snapshot requested", "table=%s.%s where=%s", db, t,
                            where ? where : "-");
                rc = sl_snap_queue(snap, db, t, where);
            }
            free(db);
            free(t);
            it = sl_jr_tok(&req, it)->next;
        }
        free(where);
    }
    sl_jr_free(&req);
    sl_buf_free(&text);
    return rc;
}
