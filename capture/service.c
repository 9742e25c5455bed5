/* The live capture service; see service.h. */
#include "service.h"

#include "bytes.h"
#include "capture/decoder/binlog.h"
#include "capture/metrics.h"
#include "capture/schema/history.h"
#include "capture/schema/lexer.h"
#include "capture/snapshot/snapshot.h"
#include "clock.h"
#include "config.h"
#include "driftcheck.h"
#include "error.h"
#include "filter.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "parse.h"
#include "preflight.h"
#include "publish.h"
#include "replay.h"
#include "route.h"
#include "secret.h"
#include "source.h"
#include "stats.h"
#include "strmap.h"
#include "tls.h"

#include <ctype.h>
#include <mysqld_error.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const sl_opt_t opts_table[] = {
    {"source", NULL, 0, "mysql://USER@HOST:PORT of the server to replicate"},
    {"password-file", NULL, 0,
     "file holding the source password (else $SLUICE_SOURCE_PASSWORD)"},
    {"server-id", "54321", 0, "replica server id, unique in the topology"},
    {"broker", "127.0.0.1:8123", 0,
     "sluice-broker HOST:PORT, or kafka://HOST:PORT[,...] (docs/kafka.md)"},
    {"broker-secret-file", NULL, 0,
     "file holding the broker's shared secret (else $SLUICE_BROKER_SECRET)"},
    SL_TLS_BROKER_OPTIONS,
    {"kafka-opt", NULL, SL_OPT_MULTI,
     "KEY=VALUE librdkafka property (or sluice.*) for kafka:// brokers"},
    {"topic", "sluice", 0, "topic the change events go to"},
    {"name", NULL, 0,
     "this capture's name: its checkpoint and producer id (default: topic)"},
    {"include", NULL, SL_OPT_MULTI, "capture only db.table matching REGEX"},
    {"exclude", NULL, SL_OPT_MULTI, "never capture db.table matching REGEX"},
    {"exclude-column", NULL, SL_OPT_MULTI,
     "drop columns db.table.column matching REGEX"},
    {"partition-by", "table", 0, "table, database, server or key:N"},
    {"start", "end", 0,
     "where to start without a checkpoint: end, FILE:POS or a GTID"},
    {"heartbeat", "1s", 0, "source heartbeat period"},
    {"timeout", "10s", 0, "silence (no event, no heartbeat) before reconnect"},
    {"checkpoint-interval", "200ms", 0, "how often the resume point is saved"},
    {"max-inflight", "64MiB", 0, "unacknowledged bytes before pausing"},
    {"tls", "no", SL_OPT_FLAG,
     "require TLS to the source, verifying its certificate and name"},
    {"tls-ca", NULL, 0,
     "CA file to verify the source's certificate (default: the system's)"},
    {"tls-insecure", "no", SL_OPT_FLAG,
     "TLS to the source WITHOUT verifying its certificate (implies --tls)"},
    {"preflight", "yes", 0, "check the source's settings before starting"},
    {"schema-check", "yes", 0,
     "compare the schema history with the source's information_schema "
     "when caught up; a difference stops capture"},
    {"schema-check-interval", "60s", 0,
     "how often the schema check runs besides at start and after DDL (0: "
     "only then)"},
    {"report-interval", "5s", 0, "how often progress is logged"},
    {"stats-listen", NULL, 0,
     "serve `stats` (memcached-style) on this HOST:PORT, e.g. 127.0.0.1:8124"},
    {"stats-allow-remote", "no", SL_OPT_FLAG,
     "let --stats-listen bind a non-loopback address (it has no auth)"},
    SL_HTTP_OPTS,
    {"skip-event-type", NULL, SL_OPT_MULTI,
     "event type number to skip deliberately instead of failing on it"},
    {"from-file", NULL, SL_OPT_MULTI,
     "decode binlog files offline instead (`sluice-capture --from-file F "
     "--help` lists that mode's options)"},
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
    {"snapshot", "initial", 0,
     "initial (first start: snapshot every captured table, then stream), "
     "never, or when_needed (also when the checkpoint's position was "
     "purged); docs/snapshot.md"},
    {"snapshot-chunk", "4096", 0, "rows of the first snapshot chunk"},
    {"snapshot-chunk-min", "256", 0, "fewest rows per snapshot chunk"},
    {"snapshot-chunk-max", "65536", 0, "most rows per snapshot chunk"},
    {"snapshot-chunk-time", "250ms", 0,
     "target read time of a chunk; its size adapts (0: fixed size)"},
    {"snapshot-rate", "0", 0,
     "most snapshot rows read per second (0: no limit)"},
    {"snapshot-max-threads-running", "0", 0,
     "pause the snapshot while the source's Threads_running is above this "
     "(0: never)"},
    {"snapshot-copy", "no", 0,
     "copy tables in one consistent read instead of chunks (MariaDB): no, "
     "keyless (tables without a primary key) or all (no watermark writes)"},
    {"snapshot-max-replica-lag", "0", 0,
     "pause the snapshot while the source (a replica) lags more than this "
     "(0: never)"},
    {NULL, NULL, 0, NULL},
};

static volatile sig_atomic_t stop_signals;
static volatile int stop_requested;

static void on_signal(int signum) {
    (void)signum;
    stop_signals++;
    stop_requested = 1;
    if (stop_signals >= 2)
        _exit(1); /* A second signal: the checkpoint is safe as it is. */
}

typedef struct {
    sl_config_t cfg;
    sl_source_opts_t src_opts;
    char host[256];
    char user[128];
    char *password;
    char *broker_secret;
    sl_tls_opts_t broker_tls; /* Used when broker_tls_on. */
    int broker_tls_on;
    char *start_file;
    uint64_t start_pos;
    char *start_gtid;
    sl_filter_t *filter;
    sl_route_t route;
    sl_schema_t *schema;           /* The schema history in force. */
    const sl_checkpoint_t *resume; /* The checkpoint started from, or NULL. */
    char schema_part[300];         /* "<name>.schema" in the internal topic. */
    sl_buf_t record;               /* Scratch: a schema history record. */
    sl_publish_t *pub;
    sl_binlog_t *dec;
    sl_driftcheck_t *drift; /* The schema check, or NULL when off. */
    sl_snap_t *snap;        /* Snapshots (capture/snapshot/). */
    sl_snap_mode_t snap_mode;
    /* Tables entering the include filters (capture/snapshot/join.h): the
     * rules the snapshot covers, and the tables joining at a restart. */
    sl_buf_t snap_cov;
    sl_snap_join_t sjoin;
    /* While early snapshot starts go out at a restart or a first start:
     * the resume point their boundaries name (snap_resume). */
    const sl_checkpoint_t *snap_at;
    int drift_on; /* --schema-check. */
    uint64_t drift_interval_ms;
    uint8_t skip[256];
    size_t nskip;

    /* Transaction state. */
    sl_strmap_t touched; /* Partitions that got rows in this transaction. */
    int in_trx;
    sl_buf_t part; /* Scratch: partition name. */
    sl_buf_t sql;  /* Scratch: a DDL statement as a C string. */

    /* Where the current event ends (the resume point after a commit). */
    const char *cur_file;
    uint64_t cur_end;
    uint32_t cur_ts;
    int boundary_done;   /* The current event already marked a boundary. */
    char last_gtid[192]; /* GTID of the last transaction ended. */

    /* Report. */
    sl_capstats_t *stats;  /* The stats endpoint, or NULL. */
    int stats_remote;      /* --stats-allow-remote. */
    sl_strmap_t part_rows; /* Partition -> uint64_t rows published. */
    sl_buf_t stats_text;
    uint64_t last_stats_ns;
    uint64_t start_ns;
    uint64_t sessions; /* Replication connections opened. */
    uint64_t rows, events, bytes, last_rows, last_events, last_bytes;
    uint64_t last_report_ns;
    int64_t last_event_ts;
    uint64_t filtered;
    uint64_t ddl_skipped; /* Unreadable DDL on tables not captured. */
    char err[1024];
} svc_t;

static int snap_step(svc_t *svc);
static int snap_join_find(svc_t *svc);

/* Parses mysql://USER@HOST:PORT. A password in the URL is refused: it
 * would show in `ps`. */
static int parse_source(svc_t *svc, const char *url) {
    const char *p = url;
    if (strncmp(p, "mysql://", 8) == 0)
        p += 8;
    else if (strncmp(p, "mariadb://", 10) == 0)
        p += 10;
    const char *at = strchr(p, '@');
    if (at == NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--source must be mysql://USER@HOST:PORT");
        return SL_EUSAGE;
    }
    size_t ulen = (size_t)(at - p);
    if (memchr(p, ':', ulen) != NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--source must not contain a password (it would be visible "
                 "in ps); use --password-file or $SLUICE_SOURCE_PASSWORD");
        return SL_EUSAGE;
    }
    if (ulen == 0 || ulen >= sizeof svc->user) {
        snprintf(svc->err, sizeof svc->err, "--source: bad user name");
        return SL_EUSAGE;
    }
    memcpy(svc->user, p, ulen);
    svc->user[ulen] = '\0';
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s", at + 1);
    char *slash = strchr(hostport, '/');
    if (slash != NULL)
        *slash = '\0';
    if (strchr(hostport, ':') == NULL)
        strncat(hostport, ":3306", sizeof hostport - strlen(hostport) - 1);
    if (sl_parse_hostport(hostport, svc->host, sizeof svc->host,
                          &svc->src_opts.port) != 0) {
        snprintf(svc->err, sizeof svc->err, "--source: bad HOST:PORT '%s'",
                 hostport);
        return SL_EUSAGE;
    }
    return 0;
}

static int all_of(const char *p, size_t n, const char *set) {
    for (size_t i = 0; i < n; i++)
        if (strchr(set, p[i]) == NULL)
            return 0;
    return n > 0;
}

/* --start: "end", "FILE:POS", a MariaDB GTID list "D-S-N[,D-S-N]" or a
 * MySQL GTID set "uuid:1-5[:tag:1-3][,...]". */
static int parse_start(svc_t *svc, const char *text) {
    if (strcmp(text, "end") == 0)
        return 0;
    size_t len = strlen(text);
    if (all_of(text, len, "0123456789-,") && strchr(text, '-') != NULL) {
        svc->start_gtid = strdup(text);
        return svc->start_gtid ? 0 : SL_ENOMEM;
    }
    const char *colon = strrchr(text, ':');
    if (len > 36 && text[8] == '-' && text[13] == '-' && text[36] == ':') {
        svc->start_gtid = strdup(text);
        return svc->start_gtid ? 0 : SL_ENOMEM;
    }
    if (colon != NULL && colon != text &&
        all_of(colon + 1, strlen(colon + 1), "0123456789")) {
        svc->start_file = strndup(text, (size_t)(colon - text));
        if (svc->start_file == NULL)
            return SL_ENOMEM;
        return sl_parse_u64(colon + 1, &svc->start_pos);
    }
    snprintf(svc->err, sizeof svc->err,
             "--start '%s' is not end, FILE:POS or a GTID position", text);
    return SL_EUSAGE;
}

/* The producer id: a hash of the capture name and of every setting that
 * decides which messages exist and where they go, so a replay after a
 * configuration change is a new producer instead of a false duplicate. */
static int64_t producer_id(svc_t *svc, const char *name) {
    sl_buf_t buf = SL_BUF_INIT;
    static const char *keys[] = {"include", "exclude", "exclude-column"};
    sl_buf_printf(&buf, "%s\n%s\n%s\n", name, sl_config_get(&svc->cfg, "topic"),
                  sl_config_get(&svc->cfg, "partition-by"));
    sl_buf_printf(&buf, "%s", sl_replay_identity()); /* replay.h */
    for (size_t k = 0; k < 3; k++) {
        const sl_strlist_t *list = sl_config_get_list(&svc->cfg, keys[k]);
        for (size_t i = 0; i < list->count; i++)
            sl_buf_printf(&buf, "%s=%s\n", keys[k], list->items[i]);
    }
    /* The broker takes producer ids below 2^48. */
    int64_t id =
        (int64_t)(sl_hash_fnv1a(buf.data, buf.len) & ((UINT64_C(1) << 48) - 1));
    sl_buf_free(&buf);
    return id;
}

/* Publishes one message (json) to the partition of db.table. */
static int publish_to(svc_t *svc, const char *db, size_t db_len,
                      const char *table, size_t table_len, uint64_t key_hash,
                      const char *json, size_t json_len, int mark_touched,
                      const char *key, size_t key_len) {
    sl_buf_reset(&svc->part);
    int err = sl_route_partition(&svc->route, db, db_len, table, table_len,
                                 key_hash, &svc->part);
    if (err != 0)
        return err;
    if (mark_touched &&
        sl_strmap_get(&svc->touched, svc->part.data, svc->part.len) == NULL &&
        (err = sl_strmap_put(&svc->touched, svc->part.data, svc->part.len,
                             &svc->touched)) != 0)
        return err;
    return sl_publish_keyed(svc->pub, (const char *)svc->part.data,
                            svc->part.len, json, json_len, key, key_len);
}

/* The decoder asks once per table map which columns to keep. Rows of a
 * table that is not captured are never published, so their columns are
 * all kept (an excluded primary-key column there is no error). */
static int keep_column(void *ctx, const char *db, size_t db_len,
                       const char *table, size_t table_len, const char *column,
                       size_t len) {
    svc_t *svc = ctx;
    if (!sl_filter_table(svc->filter, db, db_len, table, table_len))
        return 1;
    return sl_filter_column(svc->filter, db, db_len, table, table_len, column,
                            len);
}

/* A row, rendered without its excluded columns and with its routing hash
 * by the decoder. */
static int publish_row(svc_t *svc, const sl_change_t *chg) {
    int err;
    if (chg->pk_excluded) {
        snprintf(svc->err, sizeof svc->err,
                 "%s:%llu: cannot drop excluded columns of %.*s.%.*s: a "
                 "primary-key column is excluded",
                 chg->file, (unsigned long long)chg->pos, (int)chg->db_len,
                 chg->db, (int)chg->table_len, chg->table);
        return SL_EINVAL;
    }
    uint64_t key_hash = svc->route.mode == SL_ROUTE_KEY ? chg->key_hash : 0;
    if ((err = publish_to(svc, chg->db, chg->db_len, chg->table, chg->table_len,
                          key_hash, chg->json, chg->json_len, 1, chg->key,
                          chg->key_len)) != 0)
        return err;
    uint64_t *count =
        sl_strmap_get(&svc->part_rows, svc->part.data, svc->part.len);
    if (count == NULL) {
        if ((count = calloc(1, sizeof *count)) == NULL ||
            sl_strmap_put(&svc->part_rows, svc->part.data, svc->part.len,
                          count) != 0) {
            free(count);
            return SL_ENOMEM;
        }
    }
    (*count)++;
    return 0;
}

/* Marks the end of the current event as a resume point. */
static int boundary_here(svc_t *svc) {
    sl_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "%s", svc->cur_file);
    cp.pos = svc->cur_end;
    cp.ts = svc->cur_ts;
    snprintf(cp.gtid, sizeof cp.gtid, "%s", svc->last_gtid);
    cp.snap = svc->snap ? sl_snap_cursor(svc->snap) : NULL;
    svc->boundary_done = 1;
    return sl_publish_boundary(svc->pub, &cp);
}

/* A transaction (or a statement outside one) ended with this change. */
static int boundary(svc_t *svc, const sl_change_t *chg) {
    if (chg->gtid[0] != '\0')
        snprintf(svc->last_gtid, sizeof svc->last_gtid, "%s", chg->gtid);
    return boundary_here(svc);
}

static void clear_touched(svc_t *svc) {
    sl_strmap_free(&svc->touched);
    sl_strmap_init(&svc->touched);
}

/* The commit event goes to every partition the transaction touched. */
static int publish_commit(svc_t *svc, const sl_change_t *chg) {
    int err = 0;
    if (chg->json_len == 0) /* A format without commit events. */
        clear_touched(svc);
    for (size_t b = 0; b < svc->touched.nbuckets && err == 0; b++)
        for (sl_strmap_node_t *n = svc->touched.buckets[b]; n && err == 0;
             n = n->next)
            err = sl_publish_message(svc->pub, n->key, n->klen, chg->json,
                                     chg->json_len);
    clear_touched(svc);
    return err;
}

static const char *const dml_verbs[] = {"insert",  "update", "delete",
                                        "replace", "load",   "with"};

/* The plain test: the first word after blanks and '('. */
static int starts_with_dml_verb(const char *sql, size_t len) {
    while (len > 0 && (isspace((unsigned char)*sql) || *sql == '(')) {
        sql++;
        len--;
    }
    for (size_t i = 0; i < sizeof dml_verbs / sizeof dml_verbs[0]; i++) {
        size_t n = strlen(dml_verbs[i]);
        if (len > n && strncasecmp(sql, dml_verbs[i], n) == 0 &&
            !isalnum((unsigned char)sql[n]))
            return 1;
    }
    return 0;
}

/* Whether a Query event that is no DDL changes rows (statement-based
 * DML, which carries no rows). Its first word is read with the DDL lexer,
 * so that comments, executable comments and MariaDB's "SET STATEMENT ...
 * FOR" prefix (all logged as written) cannot hide the verb; WITH counts,
 * since a statement starting with it reaches the binlog only when it
 * writes. Text the lexer cannot read falls back to the plain test. */
static int is_dml_statement(const svc_t *svc, const char *sql, size_t len) {
    size_t body = svc->schema ? sl_schema_ddl_body(svc->schema, sql, len) : 0;
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    sl_ddl_lex_init(&lx, sql + body, len - body, NULL);
    do {
        if (sl_ddl_lex_next(&lx, &tok) != 0)
            return starts_with_dml_verb(sql + body, len - body);
    } while (tok.type == SL_DDL_TOK_PUNCT && tok.len == 1 &&
             sql[body + tok.off] == '(');
    if (tok.type != SL_DDL_TOK_IDENT)
        return 0;
    for (size_t i = 0; i < sizeof dml_verbs / sizeof dml_verbs[0]; i++)
        if (tok.len == strlen(dml_verbs[i]) &&
            strncasecmp(sql + body + tok.off, dml_verbs[i], tok.len) == 0)
            return 1;
    return 0;
}

static int want_table(void *ctx, const char *db, const char *table) {
    svc_t *svc = ctx;
    return sl_filter_table(svc->filter, db, strlen(db), table, strlen(table));
}

/* Writes "db.t, db.u" (the tables of effect, with " (captured)" after
 * those capture takes) into out, truncated to fit; returns how many are
 * captured. */
static int ddl_table_list(svc_t *svc, const sl_ddl_effect_t *effect, char *out,
                          size_t outlen) {
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
static int ddl_stop(svc_t *svc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ddl_stop(svc_t *svc, const char *fmt, ...) {
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
static int ddl_unreadable(svc_t *svc, const sl_change_t *chg, const char *db,
                          const char *sql, size_t body, size_t sql_len,
                          sl_ddl_effect_t *effect, const char *why) {
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
static int on_ddl(svc_t *svc, const sl_change_t *chg) {
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

static int on_change(void *ctx, const sl_change_t *chg) {
    svc_t *svc = ctx;
    int err = 0;
    switch (chg->kind) {
    case SL_CHANGE_UNKNOWN:
    case SL_CHANGE_SNAPSHOT_START: /* Never decoded from a binlog. */
    case SL_CHANGE_SNAPSHOT_DONE: return 0;
    case SL_CHANGE_BEGIN:
        svc->in_trx = 1;
        clear_touched(svc);
        return 0;
    case SL_CHANGE_ROW: {
        int consumed = 0;
        if (svc->snap != NULL &&
            ((err = sl_snap_on_row(svc->snap, chg, &consumed, svc->err,
                                   sizeof svc->err)) != 0 ||
             consumed))
            return err;
        if (!sl_filter_table(svc->filter, chg->db, chg->db_len, chg->table,
                             chg->table_len)) {
            svc->filtered++;
            return 0;
        }
        if (chg->positional) {
            /* Publishing "@1", "@2" ... for a captured table would hand
             * consumers rows they cannot map to columns (apply would
             * write them to the wrong ones): stop instead. */
            snprintf(svc->err, sizeof svc->err,
                     "%s:%llu: rows of %.*s.%.*s, which the schema history "
                     "does not know, and the binlog does not name their "
                     "columns (binlog_row_metadata=MINIMAL); refusing to "
                     "publish them with positional names: set "
                     "binlog_row_metadata=FULL on the source, or start "
                     "capture anew (a new --name) so the history loads "
                     "the table",
                     chg->file, (unsigned long long)chg->pos, (int)chg->db_len,
                     chg->db, (int)chg->table_len, chg->table);
            sl_replay_hint(svc->err, sizeof svc->err);
            return SL_EUNSUPPORTED;
        }
        svc->rows++;
        sl_capture_metrics_row(chg);
        return publish_row(svc, chg);
    }
    case SL_CHANGE_COMMIT:
    case SL_CHANGE_ROLLBACK:
    case SL_CHANGE_XA_PREPARE:
        svc->in_trx = 0;
        if ((err = publish_commit(svc, chg)) != 0 ||
            (err = boundary(svc, chg)) != 0)
            return err;
        return svc->snap
                   ? sl_snap_on_commit(svc->snap, svc->schema, svc->cur_file,
                                       svc->cur_end, svc->err, sizeof svc->err)
                   : 0;
    case SL_CHANGE_DDL:
        if ((err = on_ddl(svc, chg)) != 0)
            return err;
        if (svc->drift != NULL)
            sl_driftcheck_ddl(svc->drift, svc->cur_file, svc->cur_end);
        if (!svc->in_trx)
            return boundary(svc, chg);
        return 0;
    case SL_CHANGE_STATEMENT: {
        /* Statement-based DML carries no rows: capturing it would lose
         * them silently, so it stops capture. */
        if (chg->sql != NULL && is_dml_statement(svc, chg->sql, chg->sql_len)) {
            snprintf(svc->err, sizeof svc->err,
                     "%s:%llu: statement-based DML (%.*s); capture needs "
                     "binlog_format=ROW for every change, or rows would be "
                     "lost",
                     chg->file, (unsigned long long)chg->pos,
                     (int)(chg->sql_len < 80 ? chg->sql_len : 80), chg->sql);
            return SL_EUNSUPPORTED;
        }
        if (!svc->in_trx)
            return boundary(svc, chg);
        return 0;
    }
    }
    return 0;
}

/* The text the stats endpoint serves. */
static void update_stats(svc_t *svc) {
    sl_publish_stats_t st;
    sl_publish_stats(svc->pub, &st);
    sl_buf_t *b = &svc->stats_text;
    uint64_t now = sl_mono_ns();
    int64_t behind = svc->last_event_ts
                         ? (int64_t)(sl_wall_ms() / 1000) - svc->last_event_ts
                         : -1;
    sl_buf_reset(b);
    sl_buf_printf(b, "STAT uptime %llu\r\n",
                  (unsigned long long)((now - svc->start_ns) / 1000000000u));
    sl_buf_printf(b, "STAT file %s\r\n", svc->cur_file ? svc->cur_file : "-");
    sl_buf_printf(b, "STAT pos %llu\r\n", (unsigned long long)svc->cur_end);
    sl_buf_printf(b, "STAT seconds_behind %lld\r\n", (long long)behind);
    sl_buf_printf(b, "STAT events %llu\r\n", (unsigned long long)svc->events);
    sl_buf_printf(b, "STAT bytes %llu\r\n", (unsigned long long)svc->bytes);
    sl_buf_printf(b, "STAT rows %llu\r\n", (unsigned long long)svc->rows);
    sl_buf_printf(b, "STAT rows_filtered %llu\r\n",
                  (unsigned long long)svc->filtered);
    sl_buf_printf(b, "STAT ddl_skipped_uncaptured %llu\r\n",
                  (unsigned long long)svc->ddl_skipped);
    sl_buf_printf(b, "STAT messages_acked %llu\r\n",
                  (unsigned long long)st.messages);
    sl_buf_printf(b, "STAT messages_duplicate %llu\r\n",
                  (unsigned long long)st.duplicates);
    sl_buf_printf(b, "STAT checkpoints %llu\r\n",
                  (unsigned long long)st.checkpoints);
    sl_buf_printf(b, "STAT broker_reconnects %llu\r\n",
                  (unsigned long long)st.reconnects);
    sl_buf_printf(b, "STAT source_sessions %llu\r\n",
                  (unsigned long long)svc->sessions);
    sl_buf_printf(b, "STAT unacked_bytes %zu\r\n", st.inflight_bytes);
    sl_buf_printf(b, "STAT partitions %zu\r\n", svc->part_rows.count);
    if (svc->drift != NULL)
        sl_driftcheck_put_stats(svc->drift, b);
    if (svc->snap != NULL)
        sl_snap_put_stats(svc->snap, b);
    for (size_t i = 0; i < svc->part_rows.nbuckets; i++)
        for (sl_strmap_node_t *n = svc->part_rows.buckets[i]; n; n = n->next)
            sl_buf_printf(b, "STAT rows:%.*s %llu\r\n", (int)n->klen, n->key,
                          (unsigned long long)*(uint64_t *)n->value);
    if (svc->stats != NULL)
        sl_capstats_set(svc->stats, (const char *)b->data, b->len);
    svc->last_stats_ns = now;
}

static void report(svc_t *svc, int force) {
    uint64_t now = sl_mono_ns();
    uint64_t interval_ms = 5000;
    sl_config_get_ms(&svc->cfg, "report-interval", &interval_ms);
    uint64_t elapsed = now - svc->last_report_ns;
    if (!force && elapsed < interval_ms * 1000000ull)
        return;
    double secs = elapsed / 1e9;
    sl_publish_stats_t st;
    sl_publish_stats(svc->pub, &st);
    int64_t behind = svc->last_event_ts
                         ? (int64_t)(sl_wall_ms() / 1000) - svc->last_event_ts
                         : 0;
    sl_log_info("capture progress",
                "file=%s pos=%llu behind_s=%lld events_per_s=%.0f "
                "bytes_per_s=%.0f rows=%llu rows_per_s=%.0f published=%llu "
                "duplicates=%llu filtered=%llu unacked_bytes=%zu "
                "partitions=%zu",
                svc->cur_file ? svc->cur_file : "-",
                (unsigned long long)svc->cur_end, (long long)behind,
                (svc->events - svc->last_events) / (secs > 0 ? secs : 1),
                (svc->bytes - svc->last_bytes) / (secs > 0 ? secs : 1),
                (unsigned long long)svc->rows,
                (svc->rows - svc->last_rows) / (secs > 0 ? secs : 1),
                (unsigned long long)st.messages,
                (unsigned long long)st.duplicates,
                (unsigned long long)svc->filtered, st.inflight_bytes,
                svc->part_rows.count);
    if (svc->snap != NULL)
        sl_snap_report(svc->snap, force);
    svc->last_report_ns = now;
    svc->last_events = svc->events;
    svc->last_bytes = svc->bytes;
    svc->last_rows = svc->rows;
}

/* Events that belong to no transaction. */
static int standalone_event(uint8_t type) {
    switch (type) {
    case SL_EV_STOP:
    case SL_EV_ROTATE:
    case SL_EV_FORMAT_DESCRIPTION:
    case SL_EV_PREVIOUS_GTIDS:
    case SL_EV_MARIA_BINLOG_CHECKPOINT:
    case SL_EV_MARIA_GTID_LIST: return 1;
    default: return 0;
    }
}

static const struct sl_schema_table_s *lookup_table(void *ctx, const char *db,
                                                    size_t db_len,
                                                    const char *table,
                                                    size_t table_len) {
    svc_t *svc = ctx;
    return sl_schema_find(svc->schema, db, db_len, table, table_len);
}

static int new_decoder(svc_t *svc) {
    sl_binlog_free(svc->dec);
    svc->dec = NULL;
    sl_binlog_opts_t dopts;
    memset(&dopts, 0, sizeof dopts);
    dopts.skip_types = svc->skip;
    dopts.nskip_types = svc->nskip;
    dopts.schema_lookup = lookup_table;
    dopts.schema_ctx = svc;
    if (sl_filter_has_column_rules(svc->filter)) {
        dopts.column_keep = keep_column;
        dopts.column_ctx = svc;
    }
    dopts.key_hash = svc->route.mode == SL_ROUTE_KEY;
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &dopts.format) != 0)
        return SL_EUSAGE; /* Checked with the other options at start. */
    dopts.format_name = sl_config_get(&svc->cfg, "topic");
    if (sl_config_get_bool(&svc->cfg, "debezium-schemas",
                           &dopts.format_schemas) != 0 ||
        sl_config_get_bool(&svc->cfg, "debezium-include-query",
                           &dopts.format_query) != 0)
        return SL_EUSAGE;
    svc->in_trx = 0;
    clear_touched(svc);
    return sl_binlog_new(&svc->dec, &dopts, on_change, svc);
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One replication session from cp. Returns 0 on a clean stop, SL_EAGAIN
 * when the stream broke and replication should resume from the last
 * boundary, or a fatal error. */
static int run_session(svc_t *svc, const sl_checkpoint_t *cp, int have_cp,
                       uint64_t checkpoint_ms) {
    sl_source_opts_t so = svc->src_opts;
    if (have_cp) {
        so.file = cp->file;
        so.pos = cp->pos;
        so.gtid = NULL;
    } else {
        so.file = svc->start_file;
        so.pos = svc->start_pos;
        so.gtid = svc->start_gtid;
    }
    sl_source_t *src;
    char err[1024];
    int rc = sl_source_open(&src, &so, err, sizeof err);
    if (rc != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", err);
        return rc == SL_ECONN ? SL_EAGAIN : rc;
    }
    const char *file;
    uint64_t pos;
    sl_source_position(src, &file, &pos);
    svc->sessions++;
    sl_log_info("replicating", "source=%s:%u version=\"%s\" file=%s pos=%llu",
                so.host, so.port, sl_source_version(src), file,
                (unsigned long long)pos);
    if ((rc = new_decoder(svc)) != 0) {
        sl_source_close(src);
        return rc;
    }
    if (svc->drift != NULL)
        sl_driftcheck_session(svc->drift);
    char cur_name[512] = "";
    for (;;) {
        if (stop_requested && !svc->in_trx) {
            rc = 0;
            break;
        }
        const uint8_t *ev;
        size_t len;
        rc = sl_source_next(src, &ev, &len, &file, &pos, err, sizeof err);
        if (rc != 0) {
            snprintf(svc->err, sizeof svc->err, "%s", err);
            if (rc == SL_ECONN || rc == SL_ECLOSED || rc == SL_ETIMEDOUT ||
                rc == SL_EPROTO)
                rc = SL_EAGAIN;
            break;
        }
        if (strcmp(cur_name, file) != 0) {
            snprintf(cur_name, sizeof cur_name, "%s", file);
            if ((rc = sl_binlog_set_file(svc->dec, file)) != 0)
                break;
        }
        uint64_t end;
        /* The connection's next position is where replication resumes
         * after this event: the same file for an ordinary event, the new
         * one after a ROTATE, unchanged after an artificial event. */
        sl_source_position(src, &svc->cur_file, &end);
        svc->cur_end = end;
        svc->cur_ts = sl_get_u32le(ev);
        if (ev[4] == 27 /* HEARTBEAT */ && !svc->in_trx)
            svc->last_event_ts = sl_wall_ms() / 1000; /* Caught up. */
        else if (svc->cur_ts != 0)
            svc->last_event_ts = svc->cur_ts;
        svc->events++;
        svc->bytes += len;
        /* A change callback that fails leaves its own message in
         * svc->err; otherwise the decoder's says what was wrong. */
        svc->err[0] = '\0';
        svc->boundary_done = 0;
        rc = sl_binlog_feed(svc->dec, ev, len, pos, 1);
        if (rc != 0) {
            if (svc->err[0] == '\0')
                snprintf(svc->err, sizeof svc->err, "%s",
                         sl_binlog_errmsg(svc->dec));
            break;
        }
        /* Between transactions, an event that stands alone (a binlog
         * checkpoint, a GTID list, a rotation) still moves the resume
         * point past it, so capture's checkpoint can reach the server's
         * end position. Events that open a transaction (GTIDs, ...) do
         * not: resuming after them would lose the transaction's GTID. */
        if (!svc->in_trx && !svc->boundary_done && pos != 0 &&
            standalone_event(ev[4]) && (rc = boundary_here(svc)) != 0)
            break;
        /* No batch spans two events, so a replay batches alike. */
        if ((rc = sl_publish_cut(svc->pub)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            break;
        }
        /* Between transactions, or on a heartbeat, flush what is queued
         * and save the resume point now and then. */
        if (!svc->in_trx &&
            (rc = sl_publish_sync(svc->pub, ev[4] == 27 /* HEARTBEAT */,
                                  checkpoint_ms)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            break;
        }
        /* Between transactions the history is that of capture's position:
         * compare it with the source when a check is due. */
        if (!svc->in_trx && svc->drift != NULL &&
            (rc = sl_driftcheck_step(svc->drift, svc->schema, svc->cur_file,
                                     svc->cur_end, svc->err,
                                     sizeof svc->err)) != 0) {
            const char *text = sl_driftcheck_report(svc->drift);
            if (text[0] != '\0')
                fprintf(stderr, "sluice-capture schema check:\n%s", text);
            break;
        }
        if (!svc->in_trx && svc->snap != NULL && (rc = snap_step(svc)) != 0)
            break;
        report(svc, 0);
        sl_replay_tick(svc->rows);
        if (svc->stats != NULL &&
            sl_mono_ns() - svc->last_stats_ns > 500000000u)
            update_stats(svc);
        sl_capture_metrics_tick(svc->pub, svc->last_event_ts, svc->events,
                                svc->bytes, svc->rows, svc->filtered,
                                svc->sessions, &svc->part_rows);
    }
    sl_source_close(src);
    return rc;
}

static int setup(svc_t *svc, int argc, char **argv) {
    int rc;
    if ((rc = sl_config_init(&svc->cfg, "sluice-capture",
                             "sluice-capture --source mysql://USER@HOST:PORT "
                             "[OPTIONS]\n       sluice-capture --from-file "
                             "FILE... (offline decoding)",
                             opts_table)) != 0)
        return rc;
    rc = sl_config_parse_args(&svc->cfg, argc, argv);
    if (rc != 0) {
        if (rc != SL_CONFIG_EXIT)
            snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return rc;
    }
    sl_log_level_t level;
    if (sl_log_parse_level(sl_config_get(&svc->cfg, "log-level"), &level) !=
        0) {
        snprintf(svc->err, sizeof svc->err, "--log-level: unknown level");
        return SL_EUSAGE;
    }
    sl_log_set_level(level);
    sl_log_format_t format;
    if (sl_log_parse_format(sl_config_get(&svc->cfg, "log-format"), &format) !=
        0) {
        snprintf(svc->err, sizeof svc->err, "--log-format: text or json");
        return SL_EUSAGE;
    }
    sl_log_set_format(format);
    if ((rc = sl_capture_metrics_start(&svc->cfg, svc->err, sizeof svc->err)) !=
        0)
        return rc;
    const char *source = sl_config_get(&svc->cfg, "source");
    if (source == NULL) {
        snprintf(svc->err, sizeof svc->err, "--source is required");
        return SL_EUSAGE;
    }
    if ((rc = parse_source(svc, source)) != 0)
        return rc;
    if ((rc = parse_start(svc, sl_config_get(&svc->cfg, "start"))) != 0)
        return rc;
    uint64_t server_id, heartbeat, timeout;
    if ((rc = sl_config_get_u64(&svc->cfg, "server-id", &server_id)) != 0 ||
        (rc = sl_config_get_ms(&svc->cfg, "heartbeat", &heartbeat)) != 0 ||
        (rc = sl_config_get_ms(&svc->cfg, "timeout", &timeout)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "tls", &svc->src_opts.tls)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "stats-allow-remote",
                                 &svc->stats_remote)) != 0 ||
        (rc = sl_config_get_bool(&svc->cfg, "schema-check", &svc->drift_on)) !=
            0 ||
        (rc = sl_config_get_ms(&svc->cfg, "schema-check-interval",
                               &svc->drift_interval_ms)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return SL_EUSAGE;
    }
    if (server_id == 0 || server_id > UINT32_MAX) {
        snprintf(svc->err, sizeof svc->err,
                 "--server-id must be between 1 and 4294967295");
        return SL_EUSAGE;
    }
    if (timeout <= heartbeat) {
        snprintf(svc->err, sizeof svc->err,
                 "--timeout must be longer than --heartbeat");
        return SL_EUSAGE;
    }
    char errbuf[512];
    if ((rc = sl_secret_load(sl_config_get(&svc->cfg, "password-file"),
                             "SLUICE_SOURCE_PASSWORD", &svc->password, errbuf,
                             sizeof errbuf)) != 0 ||
        (rc = sl_secret_load(sl_config_get(&svc->cfg, "broker-secret-file"),
                             "SLUICE_BROKER_SECRET", &svc->broker_secret,
                             errbuf, sizeof errbuf)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", errbuf);
        return SL_EUSAGE;
    }
    /* A secret the auth line cannot carry would only be found when the
     * broker refuses it, after the source connection: refuse it now. */
    if (svc->broker_secret != NULL &&
        sl_secret_check_token(svc->broker_secret,
                              "the broker secret (--broker-secret-file or "
                              "SLUICE_BROKER_SECRET)",
                              errbuf, sizeof errbuf) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", errbuf);
        return SL_EUSAGE;
    }
    if (sl_tls_broker_config(&svc->cfg, &svc->broker_tls, &svc->broker_tls_on,
                             svc->err, sizeof svc->err) != 0)
        return SL_EUSAGE;
    svc->src_opts.host = svc->host;
    svc->src_opts.user = svc->user;
    svc->src_opts.password = svc->password;
    svc->src_opts.server_id = (uint32_t)server_id;
    svc->src_opts.heartbeat_ms = (uint32_t)heartbeat;
    svc->src_opts.timeout_ms = (uint32_t)timeout;
    svc->src_opts.tls_ca = sl_config_get(&svc->cfg, "tls-ca");
    if (sl_config_get_bool(&svc->cfg, "tls-insecure",
                           &svc->src_opts.tls_insecure) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return SL_EUSAGE;
    }
    if (svc->src_opts.tls_insecure && svc->src_opts.tls_ca != NULL) {
        snprintf(svc->err, sizeof svc->err,
                 "--tls-insecure skips the check --tls-ca is for: give one "
                 "of them");
        return SL_EUSAGE;
    }
    if (svc->src_opts.tls_ca != NULL || svc->src_opts.tls_insecure)
        svc->src_opts.tls = 1;
    if (sl_route_parse(sl_config_get(&svc->cfg, "partition-by"), &svc->route) !=
        0) {
        snprintf(svc->err, sizeof svc->err,
                 "--partition-by must be table, database, server or key:N");
        return SL_EUSAGE;
    }
    sl_binlog_format_t event_format;
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &event_format)) {
        snprintf(svc->err, sizeof svc->err,
                 "--format must be sluice, debezium, maxwell or canal");
        return SL_EUSAGE;
    }
    const sl_strlist_t *inc = sl_config_get_list(&svc->cfg, "include");
    const sl_strlist_t *exc = sl_config_get_list(&svc->cfg, "exclude");
    const sl_strlist_t *col = sl_config_get_list(&svc->cfg, "exclude-column");
    if ((rc = sl_filter_new(&svc->filter, (const char *const *)inc->items,
                            inc->count, (const char *const *)exc->items,
                            exc->count, (const char *const *)col->items,
                            col->count, svc->err, sizeof svc->err)) != 0)
        return SL_EUSAGE;
    if (sl_snap_mode_parse(sl_config_get(&svc->cfg, "snapshot"),
                           &svc->snap_mode) != 0) {
        snprintf(svc->err, sizeof svc->err,
                 "--snapshot must be initial, never or when_needed");
        return SL_EUSAGE;
    }
    const sl_strlist_t *skip = sl_config_get_list(&svc->cfg, "skip-event-type");
    for (size_t i = 0; i < skip->count; i++) {
        uint64_t type;
        if (sl_parse_u64(skip->items[i], &type) != 0 || type > 255) {
            snprintf(svc->err, sizeof svc->err,
                     "--skip-event-type '%s' is not an event type number",
                     skip->items[i]);
            return SL_EUSAGE;
        }
        svc->skip[svc->nskip++] = (uint8_t)type;
    }
    return 0;
}

/* Checks the source's settings (see preflight.h); problems stop capture
 * with the report on stderr. */
static int run_preflight(svc_t *svc) {
    int rc;
    sl_buf_t report_buf = SL_BUF_INIT;
    sl_preflight_result_t result;
    char err[1024];
    rc =
        sl_preflight_run(&svc->src_opts, &report_buf, &result, err, sizeof err);
    const char *text = "";
    sl_buf_cstr(&report_buf, &text);
    if (rc == 0 && (result.errors || result.warnings))
        fprintf(stderr, "sluice-capture preflight:\n%s", text);
    sl_buf_free(&report_buf);
    if (rc != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", err);
        return rc;
    }
    if (result.errors > 0) {
        snprintf(svc->err, sizeof svc->err,
                 "preflight found %d problem(s) on the source; fix them "
                 "and start again",
                 result.errors);
        return SL_ECONFIG;
    }
    return 0;
}

/* Runs fn, retrying with backoff while the source cannot be reached (it
 * may be restarting): only a stop request or another error ends it. */
static int with_source_retry(svc_t *svc, int (*fn)(svc_t *svc)) {
    unsigned backoff = 200;
    for (unsigned attempt = 0;; attempt++) {
        int rc = fn(svc);
        if (rc != SL_ECONN || stop_requested)
            return rc;
        if (attempt % 10 == 0)
            sl_log_warn("source unreachable; retrying", "error=\"%s\"",
                        svc->err);
        sleep_ms(backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
}

static int load_history_cb(void *ctx, const uint8_t *data, size_t len) {
    return sl_history_loader_feed(ctx, data, len);
}

/* The schema history at the resume point: rebuilt from the records in the
 * broker when resuming, else read from the source now (after fixing the
 * start position, so a DDL in between is replayed, not missed). Either
 * way a fresh snapshot is recorded at the resume point, so the history
 * survives the broker's retention. */
static int init_schema(svc_t *svc) {
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
            rc = sl_schema_load_live(svc->schema, mysql, want_table, svc, err,
                                     sizeof err);
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
    if (cp != NULL && (rc = snap_join_find(svc)) != 0)
        return rc;
    sl_buf_reset(&svc->record);
    rc = sl_history_snapshot_record(svc->schema, file, pos, &svc->record);
    if (rc == 0)
        rc = sl_publish_internal(svc->pub, svc->schema_part, svc->record.data,
                                 svc->record.len);
    return rc;
}

/* Snapshot hooks (capture/snapshot/snapshot.h). */
static int snap_publish_cb(void *ctx, const char *db, const char *table,
                           uint64_t key_hash, int all_parts, const char *json,
                           size_t len) {
    svc_t *svc = ctx;
    uint32_t n =
        all_parts && svc->route.mode == SL_ROUTE_KEY ? svc->route.buckets : 1;
    int err = 0;
    for (uint32_t b = 0; b < n && err == 0; b++)
        err = publish_to(svc, db, strlen(db), table, strlen(table),
                         n > 1 ? b : key_hash, json, len, 0, NULL, 0);
    return err;
}

static int snap_publish_key_cb(void *ctx, const char *db, const char *table,
                               uint64_t key_hash, const char *json, size_t len,
                               const char *key, size_t key_len) {
    svc_t *svc = ctx;
    return publish_to(svc, db, strlen(db), table, strlen(table), key_hash, json,
                      len, 0, key, key_len);
}

static int snap_boundary_cb(void *ctx, int force) {
    svc_t *svc = ctx;
    sl_checkpoint_t at;
    int err;
    if (svc->snap_at != NULL) {
        at = *svc->snap_at;
        at.snap = sl_snap_cursor(svc->snap);
        err = sl_publish_boundary(svc->pub, &at);
    } else {
        err = boundary_here(svc);
    }
    if (err == 0 && force && (err = sl_publish_sync(svc->pub, 1, 0)) != 0)
        snprintf(svc->err, sizeof svc->err, "%s", sl_publish_error(svc->pub));
    return err;
}

static int snap_want_column_cb(void *ctx, const char *db, const char *table,
                               const char *column) {
    svc_t *svc = ctx;
    return sl_filter_column(svc->filter, db, strlen(db), table, strlen(table),
                            column, strlen(column));
}

/* Before the stream, at the resume point at: the snapshot starts the
 * cursor owes go out (capture/snapshot/snapshot.h, early starts). */
static int snap_resume(svc_t *svc, const sl_checkpoint_t *at) {
    svc->snap_at = at;
    int rc = sl_snap_flush_starts(svc->snap, svc->schema, at->file, at->pos,
                                  svc->err, sizeof svc->err);
    svc->snap_at = NULL;
    return rc;
}

static int snap_step(svc_t *svc) {
    sl_checkpoint_t written;
    const char *w =
        sl_publish_last_checkpoint(svc->pub, &written) ? written.snap : NULL;
    return sl_snap_step(svc->snap, svc->schema, w, svc->err, sizeof svc->err);
}

static int snap_render_cover(svc_t *svc) {
    const sl_strlist_t *inc = sl_config_get_list(&svc->cfg, "include");
    const sl_strlist_t *exc = sl_config_get_list(&svc->cfg, "exclude");
    int rc = sl_snap_cover_render((const char *const *)inc->items, inc->count,
                                  (const char *const *)exc->items, exc->count,
                                  &svc->snap_cov);
    return rc ? rc : sl_buf_append_u8(&svc->snap_cov, '\0');
}

/* At a restart: the tables that entered the include filters since the
 * checkpoint's snapshot cursor was written (capture/snapshot/join.h);
 * their definitions join the history before its record is written. */
static int snap_join_find(svc_t *svc) {
    sl_snap_join_free(&svc->sjoin);
    if (svc->snap_mode == SL_SNAP_NEVER)
        return 0;
    int rc = snap_render_cover(svc);
    if (rc == 0)
        rc = sl_snap_join_find(&svc->sjoin, svc->resume->snap,
                               (const char *)svc->snap_cov.data, &svc->src_opts,
                               svc->schema, want_table, svc, svc->err,
                               sizeof svc->err);
    return rc;
}

/* Starts the snapshot module: the cursor of the checkpoint resumed from,
 * or on a first start (snapshot=initial/when_needed) every captured table. */
static int snap_start(svc_t *svc, const char *name, sl_checkpoint_t *cp) {
    uint64_t chunk = 4096, cmin = 256, cmax = 65536, ctime = 250, rate = 0,
             threads = 0, lag_ms = 0;
    if (sl_config_get_u64(&svc->cfg, "snapshot-chunk", &chunk) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-chunk-min", &cmin) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-chunk-max", &cmax) != 0 ||
        sl_config_get_ms(&svc->cfg, "snapshot-chunk-time", &ctime) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-rate", &rate) != 0 ||
        sl_config_get_u64(&svc->cfg, "snapshot-max-threads-running",
                          &threads) != 0 ||
        sl_config_get_ms(&svc->cfg, "snapshot-max-replica-lag", &lag_ms) != 0 ||
        chunk == 0 || chunk > 1000000 || cmin == 0 || cmax < cmin ||
        cmax > 1000000) {
        snprintf(svc->err, sizeof svc->err,
                 "the --snapshot-* options are out of range (chunk sizes "
                 "1..1000000, min <= max): %s",
                 svc->cfg.err);
        return SL_EUSAGE;
    }
    if (svc->snap_mode != SL_SNAP_NEVER && svc->snap_cov.len == 0 &&
        snap_render_cover(svc) != 0)
        return SL_ENOMEM;
    sl_snap_copy_mode_t copy_mode;
    if (sl_snap_copy_mode_parse(sl_config_get(&svc->cfg, "snapshot-copy"),
                                &copy_mode) != 0) {
        snprintf(svc->err, sizeof svc->err,
                 "--snapshot-copy must be no, keyless or all");
        return SL_EUSAGE;
    }
    if (chunk < cmin)
        cmin = chunk;
    if (chunk > cmax)
        cmax = chunk;
    sl_snap_opts_t so = {
        .host = svc->host,
        .user = svc->user,
        .password = svc->password,
        .tls_ca = svc->src_opts.tls_ca,
        .port = svc->src_opts.port,
        .tls = svc->src_opts.tls,
        .tls_insecure = svc->src_opts.tls_insecure,
        .name = name,
        .cover = svc->snap_mode != SL_SNAP_NEVER
                     ? (const char *)svc->snap_cov.data
                     : NULL,
        .chunk_rows = chunk,
        .copy_mode = copy_mode,
        .chunk_min = cmin,
        .chunk_max = cmax,
        .chunk_time_ms = ctime,
        .rate = rate,
        .max_threads_running = threads,
        .max_lag_s = (lag_ms + 999) / 1000,
        .publish = snap_publish_cb,
        .publish_key = snap_publish_key_cb,
        .format_name = sl_config_get(&svc->cfg, "topic"),
        .boundary = snap_boundary_cb,
        .want_table = want_table,
        .want_column = snap_want_column_cb,
        .ctx = svc,
    };
    /* Read rows in the stream's format (capture/snapshot/render_fmt.c). */
    if (sl_binlog_format_parse(sl_config_get(&svc->cfg, "format"),
                               &so.format) != 0 ||
        sl_config_get_bool(&svc->cfg, "debezium-schemas", &so.format_schemas))
        return SL_EUSAGE;
    int rc = sl_snap_new(&svc->snap, &so);
    if (rc != 0)
        return rc;
    uint64_t skip = 0;
    if (cp != NULL) {
        if ((rc = sl_snap_restore(svc->snap, cp->snap, &skip, svc->err,
                                  sizeof svc->err)) != 0)
            return rc;
        sl_publish_set_seq(svc->pub, cp->next_seq + skip);
        if (svc->sjoin.file[0] == '\0')
            return snap_resume(svc, cp);
        /* Tables joined: the queue is the checkpoint before anything is
         * published, so no restart or reconnect can drop it. */
        sl_checkpoint_t at = *cp;
        if ((rc = sl_snap_join(svc->snap, &svc->sjoin)) != 0)
            return rc;
        at.snap = sl_snap_cursor(svc->snap);
        if ((rc = sl_publish_boundary(svc->pub, &at)) != 0 ||
            (rc = sl_publish_sync(svc->pub, 1, 0)) != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            return rc;
        }
        return snap_resume(svc, &at);
    }
    if (svc->snap_mode == SL_SNAP_NEVER)
        return 0;
    if ((rc = sl_snap_queue_all(svc->snap, svc->schema)) != 0 ||
        svc->start_file == NULL)
        return rc; /* A GTID start: the starts go out at the first commit. */
    sl_checkpoint_t first;
    memset(&first, 0, sizeof first);
    snprintf(first.file, sizeof first.file, "%s", svc->start_file);
    first.pos = svc->start_pos;
    return snap_resume(svc, &first);
}

/* --snapshot when_needed, and the checkpoint's position was purged from
 * the source: capture starts over at the source's current end with a
 * fresh schema history and a snapshot of every captured table. The new
 * position becomes the checkpoint before anything is published from it,
 * so a restart never replays the old sequences with other messages. */
static int snap_start_over(svc_t *svc, sl_checkpoint_t *cp, int *have_cp) {
    sl_log_warn("the checkpoint's position was purged from the source; "
                "starting over at the end with a snapshot (--snapshot "
                "when_needed)",
                "file=%s pos=%llu error=\"%s\"", cp->file,
                (unsigned long long)cp->pos, svc->err);
    free(svc->start_file);
    free(svc->start_gtid);
    svc->start_file = NULL;
    svc->start_gtid = NULL;
    svc->resume = NULL;
    int rc = with_source_retry(svc, init_schema);
    uint64_t skip = 0;
    if (rc == 0)
        rc = sl_snap_restore(svc->snap, NULL, &skip, svc->err, sizeof svc->err);
    if (rc == 0)
        rc = sl_snap_queue_all(svc->snap, svc->schema);
    if (rc != 0)
        return rc;
    sl_checkpoint_t fresh;
    memset(&fresh, 0, sizeof fresh);
    snprintf(fresh.file, sizeof fresh.file, "%s",
             svc->start_file ? svc->start_file : "");
    fresh.pos = svc->start_pos;
    fresh.snap = sl_snap_cursor(svc->snap);
    if ((rc = sl_publish_boundary(svc->pub, &fresh)) != 0 ||
        (rc = sl_publish_sync(svc->pub, 1, 0)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", sl_publish_error(svc->pub));
        return rc;
    }
    if (sl_publish_last_checkpoint(svc->pub, cp)) {
        *have_cp = 1;
    }
    svc->err[0] = '\0';
    return SL_EAGAIN;
}

static int run(svc_t *svc) {
    int rc;
    if (strcmp(sl_config_get(&svc->cfg, "preflight"), "no") != 0 &&
        (rc = with_source_retry(svc, run_preflight)) != 0)
        return rc;
    const char *name = sl_config_get(&svc->cfg, "name");
    if (name == NULL)
        name = sl_config_get(&svc->cfg, "topic");
    uint64_t max_inflight, checkpoint_ms;
    if ((rc = sl_config_get_size(&svc->cfg, "max-inflight", &max_inflight)) !=
            0 ||
        (rc = sl_config_get_ms(&svc->cfg, "checkpoint-interval",
                               &checkpoint_ms)) != 0) {
        snprintf(svc->err, sizeof svc->err, "%s", svc->cfg.err);
        return rc;
    }
    sl_publish_opts_t popts = {
        .broker = sl_config_get(&svc->cfg, "broker"),
        .secret = svc->broker_secret,
        .broker_tls = svc->broker_tls_on ? &svc->broker_tls : NULL,
        .topic = sl_config_get(&svc->cfg, "topic"),
        .checkpoint_partition = name,
        .producer = producer_id(svc, name),
        .max_inflight = max_inflight,
        .props = (const char *const *)sl_config_get_list(&svc->cfg, "kafka-opt")
                     ->items,
        .nparts = svc->route.buckets,
    };
    sl_checkpoint_t cp;
    int have_cp = 0;
    if ((rc = sl_publish_open(&svc->pub, &popts, &stop_requested, &cp, &have_cp,
                              svc->err, sizeof svc->err)) != 0)
        return rc;
    if (have_cp) {
        sl_log_info("resuming from checkpoint",
                    "file=%s pos=%llu gtid=%s seq=%llu", cp.file,
                    (unsigned long long)cp.pos, cp.gtid[0] ? cp.gtid : "-",
                    (unsigned long long)cp.next_seq);
        sl_publish_set_seq(svc->pub, cp.next_seq);
    }
    const char *listen = sl_config_get(&svc->cfg, "stats-listen");
    if (listen != NULL &&
        (rc = sl_capstats_start(&svc->stats, listen, svc->stats_remote,
                                svc->err, sizeof svc->err)) != 0)
        return rc;
    snprintf(svc->schema_part, sizeof svc->schema_part, "%s.schema", name);
    svc->resume = have_cp ? &cp : NULL;
    if ((rc = with_source_retry(svc, init_schema)) != 0)
        return rc;
    if ((rc = snap_start(svc, name, have_cp ? &cp : NULL)) != 0)
        return rc;
    if (svc->drift_on) {
        sl_driftcheck_opts_t dopts = {
            .source = &svc->src_opts,
            .interval_ms = svc->drift_interval_ms,
            .want = want_table,
            .want_ctx = svc,
        };
        if ((rc = sl_driftcheck_new(&svc->drift, &dopts)) != 0)
            return rc;
    }
    svc->last_report_ns = sl_mono_ns();
    uint64_t first_seq = sl_publish_seq(svc->pub);
    unsigned backoff = 100;
    for (;;) {
        rc = run_session(svc, &cp, have_cp, checkpoint_ms);
        if (rc == SL_ESTOPPED && sl_replay_active())
            rc = 0; /* A replay reached the end of its files. */
        if (rc == SL_EGONE && have_cp && svc->snap_mode == SL_SNAP_WHEN_NEEDED)
            rc = snap_start_over(svc, &cp, &have_cp);
        sl_capture_metrics_down(rc != 0 ? svc->err : "stopping");
        if (rc != 0 && rc != SL_EAGAIN)
            return rc;
        /* Everything published must be acknowledged before the resume
         * point is trusted, whether stopping or reconnecting. */
        int prc = sl_publish_sync(svc->pub, 1, 0);
        if (prc != 0) {
            snprintf(svc->err, sizeof svc->err, "%s",
                     sl_publish_error(svc->pub));
            return prc;
        }
        report(svc, 1);
        if (rc == 0)
            return 0;
        if (stop_requested)
            return 0;
        /* Resume at the last boundary with the sequence it had there:
         * what was published after it is published again with the same
         * sequences, and the broker recognises it. */
        sl_log_warn("replication stream broke; resuming", "error=\"%s\"",
                    svc->err);
        if (sl_publish_last_checkpoint(svc->pub, &cp)) {
            have_cp = 1;
            uint64_t skip = 0;
            if (svc->snap != NULL &&
                (rc = sl_snap_restore(svc->snap, cp.snap, &skip, svc->err,
                                      sizeof svc->err)) != 0)
                return rc;
            sl_publish_set_seq(svc->pub, cp.next_seq + skip);
            if (svc->snap != NULL && (rc = snap_resume(svc, &cp)) != 0)
                return rc;
        } else {
            /* No checkpoint yet: replay from the start position with the
             * sequence the first run began with. */
            sl_publish_set_seq(svc->pub, first_seq);
        }
        svc->err[0] = '\0';
        sleep_ms(backoff);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
    }
}

int sl_capture_service_main(int argc, char **argv) {
    svc_t *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return 1;
    sl_strmap_init(&svc->touched);
    sl_strmap_init(&svc->part_rows);
    svc->start_ns = sl_mono_ns();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int status = 0;
    int rc = setup(svc, argc, argv);
    if (rc == SL_CONFIG_EXIT) {
        status = 0;
    } else if (rc != 0) {
        fprintf(stderr, "sluice-capture: %s\n", svc->err);
        status = 2;
    } else {
        rc = run(svc);
        if (rc != 0) {
            sl_log_error("capture stopped", "error=%s reason=\"%s\"",
                         sl_errname(rc), svc->err);
            status = 1;
        } else {
            sl_log_info("capture stopped cleanly", NULL);
        }
    }
    sl_binlog_free(svc->dec);
    sl_driftcheck_free(svc->drift);
    sl_snap_free(svc->snap);
    sl_snap_join_free(&svc->sjoin);
    sl_buf_free(&svc->snap_cov);
    sl_publish_free(svc->pub);
    sl_filter_free(svc->filter);
    sl_schema_free(svc->schema);
    sl_buf_free(&svc->record);
    sl_capstats_stop(svc->stats);
    sl_capture_metrics_stop();
    sl_strmap_free(&svc->touched);
    for (size_t i = 0; i < svc->part_rows.nbuckets; i++)
        for (sl_strmap_node_t *n = svc->part_rows.buckets[i]; n; n = n->next)
            free(n->value);
    sl_strmap_free(&svc->part_rows);
    sl_buf_free(&svc->stats_text);
    sl_buf_free(&svc->part);
    sl_buf_free(&svc->sql);
    sl_secret_free(svc->password);
    sl_secret_free(svc->broker_secret);
    free(svc->start_file);
    free(svc->start_gtid);
    sl_config_free(&svc->cfg);
    free(svc);
    return status;
}
