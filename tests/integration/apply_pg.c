/*
 * sluice-apply into a real PostgreSQL 15 (started by the harness,
 * tests/harness/pg.sh): capture from the source MariaDB, the broker, and
 * apply with --target postgresql://.
 *
 * - apply_pg_types: every MariaDB column type with its edge values (the
 *   set of apply_mysql and apply_e2e: integer extremes signed and unsigned,
 *   DECIMAL(65,30), FLOAT/DOUBLE extremes, zero and extreme dates, TIME
 *   beyond 24 h and negative, YEAR 0, text with quotes, backslashes and
 *   4-byte UTF-8, binary with zero bytes, BIT(64), ENUM, SET, JSON,
 *   geometry, all-NULL rows), inserted, updated (a primary-key change
 *   included) and deleted, compared row by row in a canonical text form
 *   computed on both sides (floats and JSON normalized by PostgreSQL from
 *   MariaDB's exact text).
 * - apply_pg_kill9_and_restart: the mixed workload of apply_e2e
 *   (multi-table transactions, key changes, deletes, a keyless table),
 *   scaled down, with sluice-apply killed with -9 at least 10 times and
 *   PostgreSQL restarted mid-load, under --drift stop (a transaction
 *   applied twice would stop its partition): the target equals the source
 *   and sluice_offsets counts every transaction and row of each partition
 *   exactly once (against the partition's messages in the broker).
 * - apply_pg_drift_overwrite: a target that differs from the source (a key
 *   that exists, rows that are missing for an update, a key change and a
 *   delete, a keyless update) converges under --drift overwrite, each
 *   case logged.
 * - apply_pg_dead_letter: with --dead-letter the refused row's event is
 *   moved to the dead-letter topic (naming its column) and the rows
 *   around it are applied.
 * - apply_pg_url: the --target and --create-tables-from URLs (no server).
 * - apply_pg_permanent_errors: a value PostgreSQL refuses and a dropped
 *   target table stop their partitions with the documented message; the
 *   other partition goes on.
 */
#include "apply/pg/sink.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "pgserver.h"
#include "sl_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static sl_harness_pg_t pg;

static void pg_remove_at_exit(void) { sl_harness_pg_remove(&pg); }

/* Starts the PostgreSQL server once for all tests of this program. */
static void pg_up(void) {
    if (pg.pid != 0)
        return;
    int first = pg.dir[0] == '\0';
    sl_harness_pg_start(&pg);
    if (first)
        atexit(pg_remove_at_exit);
}

/* "schema ... does not exist, skipping": not worth the test's output. */
static void quiet_cb(void *arg, const char *msg) { (void)arg, (void)msg; }

static PGconn *pg_conn(void) {
    char ci[600];
    snprintf(ci, sizeof ci, "host=%s port=%u user=sluice dbname=sluice", pg.dir,
             (unsigned)pg.port);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        sl_test_fail(__FILE__, __LINE__, "PostgreSQL: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_cb, NULL);
    return c;
}

static void pg_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first column of every row, each followed by a record separator
 * (0x1E: values may hold newlines) (malloc'd);
 * NULL when the query fails. */
static char *pg_rows(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        const char *v = PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0);
        size_t n = strlen(v);
        while (len + n + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, v, n);
        len += n;
        out[len++] = '\x1e';
        out[len] = '\0';
    }
    PQclear(r);
    return out;
}

static char *my_rows(MYSQL *m, const char *sql) {
    if (mysql_query(m, sql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        const char *v = row[0] ? row[0] : "NULL";
        size_t n = strlen(v);
        while (len + n + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, v, n);
        len += n;
        out[len++] = '\x1e';
        out[len] = '\0';
    }
    mysql_free_result(res);
    return out;
}

static __attribute__((unused)) void exec_fmt(MYSQL *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void exec_fmt(MYSQL *m, const char *fmt, ...) {
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sl_harness_exec(m, sql);
}

/* The pipeline: broker, capture of database db into topic, apply into
 * PostgreSQL with the given extra apply flags. */
typedef struct {
    char dir[512];
    char broker[64];
    char start[200];
    char topic[64];
    char db[64];
    const char *const *apply_flags;
    int bpid, cpid, apid;
    int napply;
} pipe_t;

static void pipe_dir(pipe_t *p, const char *name) {
    snprintf(p->dir, sizeof p->dir, "%s/%s-%d",
             getenv("SL_HARNESS_ROOT") ? getenv("SL_HARNESS_ROOT") : "/tmp",
             name, (int)getpid());
    mkdir(p->dir, 0700);
}

static void mark_start(pipe_t *p, MYSQL *src) {
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char file[128];
    uint64_t pos;
    sl_harness_master_status(src, file, sizeof file, &pos);
    snprintf(p->start, sizeof p->start, "%s:%llu", file,
             (unsigned long long)pos);
}

static void start_apply(pipe_t *p) {
    char target[200], log[600];
    snprintf(target, sizeof target, "postgresql://sluice@127.0.0.1:%u/sluice",
             (unsigned)pg.port);
    snprintf(log, sizeof log, "%s/apply.log", p->dir);
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)sl_harness_bin("sluice-apply");
    argv[n++] = "--broker";
    argv[n++] = p->broker;
    argv[n++] = "--topic";
    argv[n++] = p->topic;
    argv[n++] = "--workers";
    argv[n++] = "3";
    argv[n++] = "--target";
    argv[n++] = target;
    argv[n++] = "--target-password-file";
    argv[n++] = pg.password_file;
    argv[n++] = "--poll";
    argv[n++] = "200ms";
    argv[n++] = "--stats-interval";
    argv[n++] = "1s";
    for (size_t i = 0; p->apply_flags && p->apply_flags[i] && n < 38; i++)
        argv[n++] = (char *)p->apply_flags[i];
    argv[n] = NULL;
    p->apid = sl_harness_spawn(argv, log);
    p->napply++;
}

static void pipe_start(pipe_t *p) {
    char data[600], log[600], inc[100], source[128], spw[512];
    uint16_t bport = sl_harness_free_port();
    snprintf(p->broker, sizeof p->broker, "127.0.0.1:%u", bport);
    snprintf(data, sizeof data, "%s/broker", p->dir);
    mkdir(data, 0700);
    snprintf(log, sizeof log, "%s/broker.log", p->dir);
    char *bargv[] = {(char *)sl_harness_bin("sluice-broker"),
                     "--listen",
                     p->broker,
                     "--data",
                     data,
                     "--fsync",
                     "never",
                     NULL};
    p->bpid = sl_harness_spawn(bargv, log);
    SL_CHECK_OK(sl_harness_wait_port(bport, 10000));
    snprintf(source, sizeof source, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    snprintf(spw, sizeof spw, "%s", getenv("SL_SOURCE_PASSWORD_FILE"));
    snprintf(log, sizeof log, "%s/capture.log", p->dir);
    snprintf(inc, sizeof inc, "%s\\..*", p->db);
    char sid[16];
    snprintf(sid, sizeof sid, "%d", 4200 + (int)(getpid() % 500));
    char *cargv[] = {(char *)sl_harness_bin("sluice-capture"), "--source",
                     source, "--password-file", spw, "--broker", p->broker,
                     "--topic", p->topic, "--server-id", sid, "--start",
                     p->start, "--include", inc, "--heartbeat", "200ms",
                     "--checkpoint-interval", "50ms",
                     /* The tables' rows are on both sides before capture
                      * starts (as sl_harness_start_capture does). */
                     "--snapshot", "never", NULL};
    p->cpid = sl_harness_spawn(cargv, log);
    start_apply(p);
}

static void pipe_stop(pipe_t *p) {
    if (p->apid > 0)
        sl_harness_stop(p->apid, SIGTERM, 20000);
    sl_harness_stop(p->cpid, SIGTERM, 20000);
    sl_harness_stop(p->bpid, SIGTERM, 20000);
}

/* Waits (bounded) until the PostgreSQL query's rows equal want. */
static void wait_equal(PGconn **c, const char *sql, const char *want,
                       const char *what) {
    char *got = NULL;
    for (int tries = 0; tries < 900; tries++) {
        free(got);
        if (PQstatus(*c) != CONNECTION_OK) {
            PQfinish(*c);
            *c = pg_conn();
        }
        got = pg_rows(*c, sql);
        if (got != NULL && strcmp(got, want) == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    if (got == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "%s differs.\nsource:\n%s\ntarget:\n%s\n", what, want,
                got ? got : "(query failed)");
    }
    SL_CHECK_STR(got ? got : "(query failed)", want);
    free(got);
}

/* ---- every type ---- */

static const char types_src[] =
    "CREATE TABLE pgt.types (id INT PRIMARY KEY, ti TINYINT, tu TINYINT "
    "UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu "
    "MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT "
    "UNSIGNED, d1 DECIMAL(65,30), d2 DECIMAL(5,2), f FLOAT, db DOUBLE, dd "
    "DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), y YEAR, c "
    "CHAR(5), vc VARCHAR(64) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET "
    "utf8mb4, lt VARCHAR(20) CHARACTER SET latin1, bn BINARY(4), vb "
    "VARBINARY(16), bl BLOB, b1 BIT(1), b64 BIT(64), e ENUM('a','b','c d'), "
    "st SET('x','y','z'), j JSON, g GEOMETRY)";

/* The mapping of docs/postgresql.md. */
static const char types_dst[] =
    "CREATE TABLE pgt_dst.types (id integer PRIMARY KEY, ti smallint, tu "
    "smallint, si smallint, su integer, mi integer, mu integer, i integer, "
    "iu bigint, bi bigint, bu numeric(20,0), d1 numeric(65,30), d2 "
    "numeric(5,2), f real, db double precision, dd date, dt timestamp(6), "
    "ts timestamptz(6), tm interval, y smallint, c text, vc text, tx text, "
    "lt text, bn bytea, vb bytea, bl bytea, b1 bit(1), b64 bit(64), e text, "
    "st text[], j jsonb, g bytea)";

/* Canonical text of a row, MariaDB side: floats as DOUBLE text and JSON
 * as text (both normalized by PostgreSQL below), zero dates as NULL (the
 * --zero-dates null policy). */
static const char my_canon[] =
    "SELECT CONCAT_WS('|', id, IFNULL(ti,'N'), IFNULL(tu,'N'), IFNULL(si,'N'),"
    " IFNULL(su,'N'), IFNULL(mi,'N'), IFNULL(mu,'N'), IFNULL(i,'N'), "
    "IFNULL(iu,'N'), IFNULL(bi,'N'), IFNULL(bu,'N'), IFNULL(d1,'N'), "
    "IFNULL(d2,'N'), IFNULL(CAST(f AS DOUBLE),'N'), IFNULL(db,'N'), "
    "IFNULL(NULLIF(CAST(dd AS CHAR),'0000-00-00'),'N'), "
    "IFNULL(NULLIF(DATE_FORMAT(dt,'%Y-%m-%d %H:%i:%s.%f'),'0000-00-00 "
    "00:00:00.000000'),'N'), IFNULL(NULLIF(DATE_FORMAT(ts,'%Y-%m-%d "
    "%H:%i:%s.%f'),'0000-00-00 00:00:00.000000'),'N'), "
    "IFNULL(CAST(TIME_TO_SEC(tm) AS DECIMAL(20,6)),'N'), IFNULL(y+0,'N'), "
    "IFNULL(c,'N'), IFNULL(vc,'N'), IFNULL(tx,'N'), IFNULL(lt,'N'), "
    "IFNULL(HEX(bn),'N'), IFNULL(HEX(vb),'N'), IFNULL(HEX(bl),'N'), "
    "IFNULL(LPAD(BIN(b1),1,'0'),'N'), IFNULL(LPAD(BIN(b64),64,'0'),'N'), "
    "IFNULL(e,'N'), IFNULL(st,'N'), IFNULL(j,'N'), "
    "IFNULL(HEX(ST_AsWKB(g)),'N')) FROM pgt.types ORDER BY id";

static const char pg_canon[] =
    "SELECT concat_ws('|', id, coalesce(ti::text,'N'), coalesce(tu::text,'N'),"
    " coalesce(si::text,'N'), coalesce(su::text,'N'), coalesce(mi::text,'N'),"
    " coalesce(mu::text,'N'), coalesce(i::text,'N'), coalesce(iu::text,'N'),"
    " coalesce(bi::text,'N'), coalesce(bu::text,'N'), coalesce(d1::text,'N'),"
    " coalesce(d2::text,'N'), coalesce(f::float8::text,'N'), "
    "coalesce(db::text,'N'), coalesce(dd::text,'N'), "
    "coalesce(to_char(dt,'YYYY-MM-DD HH24:MI:SS.US'),'N'), "
    "coalesce(to_char(ts AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI:SS.US'),'N'),"
    " coalesce(extract(epoch FROM tm)::numeric(20,6)::text,'N'), "
    "coalesce(y::text,'N'), coalesce(c,'N'), coalesce(vc,'N'), "
    "coalesce(tx,'N'), coalesce(lt,'N'), coalesce(upper(encode(bn,'hex')),"
    "'N'), coalesce(upper(encode(vb,'hex')),'N'), "
    "coalesce(upper(encode(bl,'hex')),'N'), coalesce(b1::text,'N'), "
    "coalesce(b64::text,'N'), coalesce(e,'N'), "
    "coalesce(array_to_string(st,','),'N'), coalesce(j::text,'N'), "
    "coalesce(upper(encode(g,'hex')),'N')) FROM pgt_dst.types ORDER BY id";

/* MariaDB's canonical rows with the float and JSON fields rewritten by
 * PostgreSQL (float8 and jsonb text of MariaDB's exact values). */
static char *normalize(PGconn *c, const char *rows) {
    size_t cap = strlen(rows) * 2 + 64, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    char *copy = strdup(rows), *save = NULL;
    for (char *line = strtok_r(copy, "\x1e", &save); line != NULL;
         line = strtok_r(NULL, "\x1e", &save)) {
        /* Fields 13 and 14 (f, db) and 31 (j); j may hold '|': it is
         * taken as everything between field 31's start and the last '|'
         * (before the geometry's hex). */
        char *f[40];
        int n = 0;
        char *p = line;
        f[n++] = p;
        while (n < 32 && (p = strchr(p, '|')) != NULL) {
            *p++ = '\0';
            f[n++] = p;
        }
        if (n < 32)
            sl_test_fail(__FILE__, __LINE__, "short row: %s", line);
        char *last = strrchr(f[31], '|');
        if (last != NULL)
            *last = '\0';
        char *geom = last ? last + 1 : (char *)"";
        const char *idx[3] = {f[13], f[14], f[31]};
        const char *cast[3] = {"float8", "float8", "jsonb"};
        char norm[3][4096];
        for (int k = 0; k < 3; k++) {
            if (strcmp(idx[k], "N") == 0) {
                snprintf(norm[k], sizeof norm[k], "N");
                continue;
            }
            char sql[64];
            snprintf(sql, sizeof sql, "SELECT $1::%s::text", cast[k]);
            PGresult *r = PQexecParams(c, sql, 1, NULL, &idx[k], NULL, NULL, 0);
            snprintf(norm[k], sizeof norm[k], "%s",
                     PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0)
                                                          : "?");
            PQclear(r);
        }
        char row[16384];
        int w = 0;
        for (int k = 0; k < 32; k++) {
            const char *v = k == 13   ? norm[0]
                            : k == 14 ? norm[1]
                            : k == 31 ? norm[2]
                                      : f[k];
            w += snprintf(row + w, sizeof row - (size_t)w, "%s%s", k ? "|" : "",
                          v);
        }
        w += snprintf(row + w, sizeof row - (size_t)w, "|%s\x1e", geom);
        while (len + (size_t)w + 1 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, row, (size_t)w + 1);
        len += (size_t)w;
    }
    free(copy);
    return out;
}

SL_TEST(apply_pg_types) {
    pg_up();
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    PGconn *c = pg_conn();
    pg_exec(c, "DROP SCHEMA IF EXISTS pgt_dst CASCADE");
    pg_exec(c, "CREATE SCHEMA pgt_dst");
    pg_exec(c, types_dst);
    sl_harness_exec(src, "DROP DATABASE IF EXISTS pgt");
    sl_harness_exec(src, "CREATE DATABASE pgt");
    sl_harness_exec(src, types_src);
    pipe_t p;
    memset(&p, 0, sizeof p);
    pipe_dir(&p, "apply-pg-types");
    snprintf(p.topic, sizeof p.topic, "pgt");
    snprintf(p.db, sizeof p.db, "pgt");
    /* pgt.created is not on PostgreSQL: --create-tables-from makes it. */
    char from[128];
    snprintf(from, sizeof from, "mysql://sluice@127.0.0.1:%u",
             (unsigned)sl_harness_port("SOURCE"));
    const char *const flags[] = {"--map",
                                 "pgt.*=pgt_dst.*",
                                 "--create-tables-from",
                                 from,
                                 "--create-tables-password-file",
                                 getenv("SL_SOURCE_PASSWORD_FILE"),
                                 NULL};
    sl_harness_exec(src, "CREATE TABLE pgt.created (a INT NOT NULL, b "
                         "BIGINT UNSIGNED, d DECIMAL(10,3), ts "
                         "TIMESTAMP(3) NULL, tm TIME, st SET('p','q'), j "
                         "JSON, bn VARBINARY(4), bt BIT(3), PRIMARY KEY (b, "
                         "a))");
    p.apply_flags = flags;
    mark_start(&p, src);
    pipe_start(&p);
    sl_harness_exec(src, "SET SESSION time_zone = '+00:00'");
    sl_harness_exec(src, "SET SESSION sql_mode = ''");
    /* Minimums. */
    sl_harness_exec(
        src, "INSERT INTO pgt.types VALUES (1, -128, 0, -32768, 0, -8388608, "
             "0, -2147483648, 0, -9223372036854775808, 0, "
             "'-99999999999999999999999999999999999.99999999999999999999999"
             "9999999', -999.99, -3.40282e38, -1.7976931348623157e308, "
             "'1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 "
             "00:00:01.000000', '-838:59:59.000000', 1901, '', '', '', '', "
             "X'00000000', X'', X'', b'0', b'0', 'a', '', '[]', "
             "ST_GeomFromText('POINT(0 0)'))");
    /* Maximums, and text that needs care. */
    sl_harness_exec(
        src, "INSERT INTO pgt.types VALUES (2, 127, 255, 32767, 65535, "
             "8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,"
             " 18446744073709551615, "
             "'99999999999999999999999999999999999.999999999999999999999999"
             "999999', 999.99, 3.40282e38, 1.7976931348623157e308, "
             "'9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 "
             "03:14:07.999999', '838:59:59.000000', 2155, 'abcde', "
             "'it''s \"q\" \\\\ \xc3\xa9\xf0\x9f\x98\x80', "
             "'line1\\nline2\\ttab\\r', 'caf\xc3\xa9', X'FF00FF00', X'00FF', "
             "REPEAT(X'AB', 40), b'1', "
             "b'1111111111111111111111111111111111111111111111111111111111111"
             "111', 'c d', 'x,y,z', "
             "'{\"a\": [1, 2.5, \"x\"], \"b\": null, \"c\": {\"d\": "
             "\"\xc3\xa9\"}}', ST_GeomFromText('LINESTRING(1 2,3 4)'))");
    /* Zero dates (NULL on PostgreSQL), YEAR 0, small fractions. */
    sl_harness_exec(
        src, "INSERT INTO pgt.types VALUES (3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, "
             "'0.000000000000000000000000000001', 0.01, 1.5, 0.1, "
             "'0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', "
             "'00:00:00.000001', 0, 'a', 'x', 'y', 'z', X'01', X'00', X'00', "
             "b'1', b'1000000000000000000000000000000000000000000000000000000"
             "000000001', 'b', 'y', '\"str\"', "
             "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'))");
    /* All NULL. */
    sl_harness_exec(src, "INSERT INTO pgt.types (id) VALUES (4)");
    /* Updates, a key change, a delete, in one transaction. */
    sl_harness_exec(src, "BEGIN");
    sl_harness_exec(src, "UPDATE pgt.types SET vc = 'upd\\'\\\\', ti = -1, "
                         "j = '{\"k\": 1}', st = '', tm = '-00:00:01.5' "
                         "WHERE id = 2");
    sl_harness_exec(src, "UPDATE pgt.types SET id = 30 WHERE id = 3");
    sl_harness_exec(src, "DELETE FROM pgt.types WHERE id = 1");
    sl_harness_exec(src, "INSERT INTO pgt.types (id, tm, dd) VALUES (5, "
                         "'-12:00:00', '2024-02-29')");
    sl_harness_exec(src, "COMMIT");
    sl_harness_exec(src, "INSERT INTO pgt.created VALUES (1, "
                         "18446744073709551615, -1.5, '2001-02-03 "
                         "04:05:06.789', '-100:00:00', 'p,q', '[1]', "
                         "X'0001', b'101')");
    wait_equal(&c,
               "SELECT concat_ws('|', a, b, d, to_char(ts AT TIME ZONE "
               "'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), tm, "
               "array_to_string(st, ','), j, encode(bn, 'hex'), bt) FROM "
               "pgt_dst.created",
               "1|18446744073709551615|-1.500|2001-02-03 "
               "04:05:06.789|-100:00:00|p,q|[1]|0001|101\x1e",
               "pgt_dst.created");
    /* The types of docs/postgresql.md, NOT NULL and the primary key. */
    wait_equal(&c,
               "SELECT string_agg(attname || ' ' || format_type(atttypid, "
               "atttypmod) || CASE WHEN attnotnull THEN ' nn' ELSE '' END, "
               "', ' ORDER BY attnum) || ' / ' || (SELECT "
               "pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid "
               "= 'pgt_dst.created'::regclass AND contype = 'p') FROM "
               "pg_attribute WHERE attrelid = 'pgt_dst.created'::regclass "
               "AND attnum > 0",
               "a integer nn, b numeric(20,0) nn, d numeric(10,3), ts "
               "timestamp(3) with time zone, tm interval, st text[], j "
               "jsonb, bn bytea, bt bit(3) / PRIMARY KEY (b, a)\x1e",
               "created table");
    char *raw = my_rows(src, my_canon);
    char *want = normalize(c, raw);
    wait_equal(&c, pg_canon, want, "pgt.types");
    free(raw);
    free(want);
    pipe_stop(&p);
    PQfinish(c);
    mysql_close(src);
}

/* ---- kill -9 and a PostgreSQL restart under load ---- */

static const char *const e2e_src[] = {
    "CREATE TABLE pge.users (id INT PRIMARY KEY, email VARCHAR(64) UNIQUE, "
    "name VARCHAR(64) CHARACTER SET utf8mb4, bal DECIMAL(30,10), big BIGINT "
    "UNSIGNED, bin VARBINARY(16), doc JSON, dt DATETIME(6), e "
    "ENUM('a','b','c'), s SET('x','y','z'))",
    "CREATE TABLE pge.orders (id BIGINT PRIMARY KEY, user_id INT, amount "
    "DECIMAL(12,2), note VARCHAR(100))",
    "CREATE TABLE pge.nokey (a INT, b VARCHAR(10))",
};
static const char *const e2e_dst[] = {
    "CREATE TABLE pge_dst.users (id integer PRIMARY KEY, email text UNIQUE, "
    "name text, bal numeric(30,10), big numeric(20,0), bin bytea, doc jsonb, "
    "dt timestamp(6), e text, s text[])",
    "CREATE TABLE pge_dst.orders (id bigint PRIMARY KEY, user_id integer, "
    "amount numeric(12,2), note text)",
    "CREATE TABLE pge_dst.nokey (a integer, b text)",
};
static const char *const e2e_my[] = {
    "SELECT CONCAT_WS('|', id, IFNULL(email,'N'), IFNULL(name,'N'), "
    "IFNULL(bal,'N'), IFNULL(big,'N'), IFNULL(HEX(bin),'N'), IFNULL(doc,'N'),"
    " IFNULL(DATE_FORMAT(dt,'%Y-%m-%d %H:%i:%s.%f'),'N'), IFNULL(e,'N'), "
    "IFNULL(s,'N')) FROM pge.users ORDER BY id",
    "SELECT CONCAT_WS('|', id, IFNULL(user_id,'N'), IFNULL(amount,'N'), "
    "IFNULL(note,'N')) FROM pge.orders ORDER BY id",
    "SELECT CONCAT_WS('|', IFNULL(a,'N'), IFNULL(b,'N')) FROM pge.nokey "
    "ORDER BY a, b",
};
static const char *const e2e_pg[] = {
    "SELECT concat_ws('|', id, coalesce(email,'N'), coalesce(name,'N'), "
    "coalesce(bal::text,'N'), coalesce(big::text,'N'), "
    "coalesce(upper(encode(bin,'hex')),'N'), coalesce(doc::text,'N'), "
    "coalesce(to_char(dt,'YYYY-MM-DD HH24:MI:SS.US'),'N'), coalesce(e,'N'), "
    "coalesce(array_to_string(s,','),'N')) FROM pge_dst.users ORDER BY id",
    "SELECT concat_ws('|', id, coalesce(user_id::text,'N'), "
    "coalesce(amount::text,'N'), coalesce(note,'N')) FROM pge_dst.orders "
    "ORDER BY id",
    "SELECT concat_ws('|', coalesce(a::text,'N'), coalesce(b,'N')) FROM "
    "pge_dst.nokey ORDER BY a, b COLLATE \"C\"",
};

/* Scaled down from apply_e2e's 240 users to keep the test under a minute;
 * bench/apply_pg.sh runs the full size. */
#define PGE_USERS 150

static volatile int load_done;

static void *load_cb(void *arg) {
    (void)arg;
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    for (int i = 0; i < PGE_USERS; i++) {
        exec_fmt(m,
                 "BEGIN;"
                 "INSERT INTO pge.users VALUES (%d, 'u%d@x', 'n\\'%d "
                 "\xc3\xa9\xf0\x9f\x98\x80 \\\\', %d.%04d, %llu, "
                 "UNHEX('00FF%02X27'), '{\"k\": [%d, \"v\"]}', "
                 "'2024-01-02 03:04:05.%06d', '%c', 'x,%c');"
                 "INSERT INTO pge.orders VALUES (%d, %d, %d.%02d, 'o%d');"
                 "INSERT INTO pge.nokey VALUES (%d, 'k%d');"
                 "COMMIT",
                 i, i, i, i, i % 10000, 18446744073709551615ull - (unsigned)i,
                 i % 256, i, i, 'a' + i % 3, 'y' + i % 2, i, i, i, i % 100, i,
                 i % 7, i);
        if (i % 3 == 2)
            exec_fmt(m,
                     "UPDATE pge.users SET email='changed%d@x', bal=-bal "
                     "WHERE id=%d",
                     i - 1, i - 1);
        if (i % 5 == 4)
            exec_fmt(m, "UPDATE pge.users SET id=id+100000 WHERE id=%d", i - 2);
        if (i % 7 == 6)
            exec_fmt(m,
                     "BEGIN; DELETE FROM pge.orders WHERE id=%d;"
                     "DELETE FROM pge.nokey WHERE a=%d LIMIT 1;"
                     "UPDATE pge.users SET name=NULL, bin=NULL WHERE id=%d;"
                     "UPDATE pge.nokey SET b='m%d' WHERE a=%d LIMIT 1;"
                     "COMMIT",
                     i - 3, i % 7, i, i, (i + 1) % 7);
        if (i % 11 == 10)
            exec_fmt(m, "DELETE FROM pge.users WHERE id=%d", i - 5);
        /* Spread over the kills. */
        sl_harness_sleep_ms(15);
    }
    mysql_close(m);
    load_done = 1;
    return NULL;
}

static int count_text(const char *text, const char *what) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

SL_TEST(apply_pg_kill9_and_restart) {
    pg_up();
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    PGconn *c = pg_conn();
    pg_exec(c, "DROP SCHEMA IF EXISTS pge_dst CASCADE");
    pg_exec(c, "CREATE SCHEMA pge_dst");
    pg_exec(c, "DELETE FROM sluice_offsets WHERE topic = 'pge'");
    sl_harness_exec(src, "DROP DATABASE IF EXISTS pge");
    sl_harness_exec(src, "CREATE DATABASE pge");
    for (int t = 0; t < 3; t++) {
        sl_harness_exec(src, e2e_src[t]);
        pg_exec(c, e2e_dst[t]);
    }
    pipe_t p;
    memset(&p, 0, sizeof p);
    pipe_dir(&p, "apply-pg-kill");
    snprintf(p.topic, sizeof p.topic, "pge");
    snprintf(p.db, sizeof p.db, "pge");
    static const char *const flags[] = {
        "--map", "pge=pge_dst",   "--drift", "stop", "--group-rows",
        "50",    "--fetch-bytes", "8KiB",    NULL};
    p.apply_flags = flags;
    mark_start(&p, src);
    pipe_start(&p);
    load_done = 0;
    pthread_t th;
    SL_CHECK(pthread_create(&th, NULL, load_cb, NULL) == 0);
    int kills = 0, restarted = 0;
    unsigned seed = 20;
    while (!load_done || kills < 10) {
        sl_harness_sleep_ms(150 + (int)(rand_r(&seed) % 250));
        kill(p.apid, SIGKILL);
        int st;
        waitpid(p.apid, &st, 0);
        kills++;
        if (kills == 5) {
            /* PostgreSQL restarted while apply is down and back up. */
            sl_harness_pg_stop(&pg);
            start_apply(&p);
            sl_harness_sleep_ms(300);
            sl_harness_pg_start(&pg);
            restarted = 1;
            continue;
        }
        start_apply(&p);
    }
    pthread_join(th, NULL);
    SL_CHECK(kills >= 10 && restarted);
    PQfinish(c);
    c = pg_conn();
    for (int t = 0; t < 3; t++) {
        char *want = my_rows(src, e2e_my[t]);
        wait_equal(&c, e2e_pg[t], want, e2e_pg[t]);
        free(want);
    }
    /* Every transaction and row of each partition counted once. */
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    snprintf(b.addr, sizeof b.addr, "%s", p.broker);
    b.port = (uint16_t)atoi(strchr(p.broker, ':') + 1);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    const char *parts[] = {"pge.nokey", "pge.orders", "pge.users"};
    char want[400] = "", one[120];
    for (int k = 0; k < 3; k++) {
        char *text = sl_harness_partition_text(cl, "pge", parts[k]);
        snprintf(one, sizeof one, "%s:%d:%d\x1e", parts[k],
                 count_text(text, "\"kind\":\"commit\""),
                 count_text(text, "\"kind\":\"row\""));
        strncat(want, one, sizeof want - strlen(want) - 1);
        free(text);
    }
    sl_client_close(cl);
    wait_equal(&c,
               "SELECT part || ':' || trx_applied || ':' || rows_applied "
               "FROM sluice_offsets WHERE topic = 'pge' ORDER BY part",
               want, "sluice_offsets");
    fprintf(stderr, "apply killed %d times, PostgreSQL restarted once\n",
            kills);
    pipe_stop(&p);
    PQfinish(c);
    mysql_close(src);
}

/* ---- permanent errors stop their partition only ---- */

static void wait_log(const char *path, const char *want) {
    sl_harness_wait_file_text(path, want, 30000);
}

SL_TEST(apply_pg_permanent_errors) {
    pg_up();
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    PGconn *c = pg_conn();
    pg_exec(c, "DROP SCHEMA IF EXISTS pgp_dst CASCADE");
    pg_exec(c, "CREATE SCHEMA pgp_dst");
    pg_exec(c, "CREATE TABLE pgp_dst.ok (id integer PRIMARY KEY, v integer)");
    /* smallint: 100000 is refused. */
    pg_exec(c, "CREATE TABLE pgp_dst.bad (id integer PRIMARY KEY, v "
               "smallint)");
    pg_exec(c, "CREATE TABLE pgp_dst.gone (id integer PRIMARY KEY)");
    pg_exec(c, "CREATE TABLE pgp_dst.nul (id integer PRIMARY KEY, t text)");
    sl_harness_exec(src, "DROP DATABASE IF EXISTS pgp");
    sl_harness_exec(src, "CREATE DATABASE pgp");
    sl_harness_exec(src, "CREATE TABLE pgp.ok (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(src, "CREATE TABLE pgp.bad (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(src, "CREATE TABLE pgp.gone (id INT PRIMARY KEY)");
    sl_harness_exec(src, "CREATE TABLE pgp.nul (id INT PRIMARY KEY, t "
                         "VARCHAR(10))");
    pipe_t p;
    memset(&p, 0, sizeof p);
    pipe_dir(&p, "apply-pg-perm");
    snprintf(p.topic, sizeof p.topic, "pgp");
    snprintf(p.db, sizeof p.db, "pgp");
    static const char *const flags[] = {"--map", "pgp=pgp_dst", NULL};
    p.apply_flags = flags;
    mark_start(&p, src);
    pipe_start(&p);
    sl_harness_exec(src, "INSERT INTO pgp.ok VALUES (1, 1)");
    wait_equal(&c, "SELECT count(*)::text FROM pgp_dst.ok", "1\x1e", "ok");
    pg_exec(c, "DROP TABLE pgp_dst.gone");
    sl_harness_exec(src, "INSERT INTO pgp.bad VALUES (1, 7), (2, 100000)");
    sl_harness_exec(src, "INSERT INTO pgp.gone VALUES (1)");
    sl_harness_exec(src, "INSERT INTO pgp.nul VALUES (1, CONCAT('a', "
                         "CHAR(0), 'b'))");
    sl_harness_exec(src, "INSERT INTO pgp.ok VALUES (2, 2), (3, 3)");
    char log[600];
    snprintf(log, sizeof log, "%s/apply.log", p.dir);
    wait_log(log, "row 1: insert on \\\"pgp_dst\\\".\\\"bad\\\" failed: "
                  "SQLSTATE 22003: value \\\"100000\\\" is out of range for "
                  "type smallint (column v)");
    wait_log(log, "target table \\\"pgp_dst\\\".\\\"gone\\\" does not exist");
    wait_log(log, "column t: the value holds a NUL byte");
    /* The other partition goes on. */
    wait_equal(&c,
               "SELECT string_agg(id::text, ',' ORDER BY id) FROM "
               "pgp_dst.ok",
               "1,2,3\x1e", "ok");
    /* Nothing of the failed transaction is there. */
    wait_equal(&c, "SELECT count(*)::text FROM pgp_dst.bad", "0\x1e", "bad");
    pipe_stop(&p);
    PQfinish(c);
    mysql_close(src);
}

/* ---- drift, policy overwrite ---- */

static int count_file(const char *path, const char *what) {
    size_t len;
    uint8_t *data = sl_harness_slurp(path, &len);
    char *text = malloc(len + 1);
    memcpy(text, data, len);
    text[len] = '\0';
    int n = count_text(text, what);
    free(text);
    free(data);
    return n;
}

SL_TEST(apply_pg_drift_overwrite) {
    pg_up();
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    PGconn *c = pg_conn();
    pg_exec(c, "DROP SCHEMA IF EXISTS pgx_dst CASCADE");
    pg_exec(c, "CREATE SCHEMA pgx_dst");
    pg_exec(c, "CREATE TABLE pgx_dst.t (id integer PRIMARY KEY, v text)");
    pg_exec(c, "CREATE TABLE pgx_dst.k (a integer, b text)");
    /* The target differs from the source before anything is applied: a
     * row the source will insert, none of the rows it will update or
     * delete, and a row only the target has. */
    pg_exec(c, "INSERT INTO pgx_dst.t VALUES (1, 'stale'), (99, 'extra')");
    sl_harness_exec(src, "DROP DATABASE IF EXISTS pgx");
    sl_harness_exec(src, "CREATE DATABASE pgx");
    sl_harness_exec(src, "CREATE TABLE pgx.t (id INT PRIMARY KEY, v "
                         "VARCHAR(20))");
    sl_harness_exec(src, "CREATE TABLE pgx.k (a INT, b VARCHAR(20))");
    sl_harness_exec(src, "SET SESSION sql_log_bin = 0");
    sl_harness_exec(src, "INSERT INTO pgx.t VALUES (2, 'two'), (3, 'three'), "
                         "(4, 'four')");
    sl_harness_exec(src, "INSERT INTO pgx.k VALUES (1, 'x')");
    sl_harness_exec(src, "SET SESSION sql_log_bin = 1");
    pipe_t p;
    memset(&p, 0, sizeof p);
    pipe_dir(&p, "apply-pg-drift");
    snprintf(p.topic, sizeof p.topic, "pgx");
    snprintf(p.db, sizeof p.db, "pgx");
    static const char *const flags[] = {"--map", "pgx=pgx_dst", NULL};
    p.apply_flags = flags;
    mark_start(&p, src);
    pipe_start(&p);
    sl_harness_exec(src, "INSERT INTO pgx.t VALUES (1, 'one')"); /* exists */
    sl_harness_exec(src,
                    "UPDATE pgx.t SET v = 'TWO' WHERE id = 2");    /* missing */
    sl_harness_exec(src, "UPDATE pgx.t SET id = 30 WHERE id = 3"); /* missing */
    sl_harness_exec(src, "DELETE FROM pgx.t WHERE id = 4");        /* missing */
    sl_harness_exec(src, "INSERT INTO pgx.t VALUES (5, 'five')");  /* fine */
    sl_harness_exec(src, "UPDATE pgx.t SET id = 50 WHERE id = 5"); /* fine */
    sl_harness_exec(src, "UPDATE pgx.k SET b = 'y' WHERE a = 1");  /* missing */
    wait_equal(&c,
               "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM "
               "pgx_dst.t",
               "1:one,2:TWO,30:three,50:five,99:extra\x1e", "pgx_dst.t");
    wait_equal(&c, "SELECT string_agg(a || ':' || b, ',') FROM pgx_dst.k",
               "1:y\x1e", "pgx_dst.k");
    char log[600];
    snprintf(log, sizeof log, "%s/apply.log", p.dir);
    /* Each drift case logged once; the fine rows not at all. */
    SL_CHECK_INT(count_file(log, "msg=\"target drift\""), 5);
    SL_CHECK_INT(
        count_file(log, "op=insert table=\"\\\"pgx_dst\\\".\\\"t\\\"\""), 1);
    pipe_stop(&p);
    PQfinish(c);
    mysql_close(src);
}

/* ---- dead letters ---- */

SL_TEST(apply_pg_dead_letter) {
    pg_up();
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    PGconn *c = pg_conn();
    pg_exec(c, "DROP SCHEMA IF EXISTS pgd_dst CASCADE");
    pg_exec(c, "CREATE SCHEMA pgd_dst");
    pg_exec(c, "CREATE TABLE pgd_dst.t (id integer PRIMARY KEY, v smallint)");
    sl_harness_exec(src, "DROP DATABASE IF EXISTS pgd");
    sl_harness_exec(src, "CREATE DATABASE pgd");
    sl_harness_exec(src, "CREATE TABLE pgd.t (id INT PRIMARY KEY, v INT)");
    pipe_t p;
    memset(&p, 0, sizeof p);
    pipe_dir(&p, "apply-pg-dead");
    snprintf(p.topic, sizeof p.topic, "pgd");
    snprintf(p.db, sizeof p.db, "pgd");
    static const char *const flags[] = {"--map", "pgd=pgd_dst", "--dead-letter",
                                        "pgd_dead", NULL};
    p.apply_flags = flags;
    mark_start(&p, src);
    pipe_start(&p);
    sl_harness_exec(src, "INSERT INTO pgd.t VALUES (1, 1)");
    sl_harness_exec(src, "INSERT INTO pgd.t VALUES (2, 100000)");
    sl_harness_exec(src, "INSERT INTO pgd.t VALUES (3, 3)");
    /* The refused row moved aside, the others applied, in order. */
    wait_equal(&c,
               "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM "
               "pgd_dst.t",
               "1:1,3:3\x1e", "pgd_dst.t");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    snprintf(b.addr, sizeof b.addr, "%s", p.broker);
    b.port = (uint16_t)atoi(strchr(p.broker, ':') + 1);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    char log[600];
    snprintf(log, sizeof log, "%s/apply.log", p.dir);
    sl_harness_wait_partition_text(cl, "pgd_dead", "pgd.t", "100000", log);
    char *text = sl_harness_partition_text(cl, "pgd_dead", "pgd.t");
    SL_CHECK(strstr(text, "out of range for type smallint (column v)") != NULL);
    SL_CHECK_INT(count_text(text, "\"offset\":"), 1);
    free(text);
    sl_client_close(cl);
    pipe_stop(&p);
    PQfinish(c);
    mysql_close(src);
}

/* ---- the URLs ---- */

SL_TEST(apply_pg_url) {
    sl_pg_url_t u;
    SL_CHECK_OK(sl_pg_url_parse("postgresql://app@db.x:6432/shop", &u));
    SL_CHECK_STR(u.user, "app");
    SL_CHECK_STR(u.host, "db.x");
    SL_CHECK_INT(u.port, 6432);
    SL_CHECK_STR(u.db, "shop");
    SL_CHECK_STR(u.sslmode, "");
    SL_CHECK_OK(sl_pg_url_parse("postgres://app@%2Ftmp%2Fpg/d?sslmode=verify-"
                                "full&sslrootcert=%2Fetc%2Fca.pem",
                                &u));
    SL_CHECK_STR(u.host, "/tmp/pg");
    SL_CHECK_INT(u.port, 5432);
    SL_CHECK_STR(u.sslmode, "verify-full");
    SL_CHECK_STR(u.sslrootcert, "/etc/ca.pem");
    /* No password in the URL; bad ports, modes, keys; no database. */
    static const char *const bad[] = {
        "postgresql://app:pw@h/d",    "postgresql://app@h:0/d",
        "postgresql://app@h:99999/d", "postgresql://app@h/d?sslmode=maybe",
        "postgresql://app@h/d?x=1",   "postgresql://app@h/",
        "postgresql://@h/d",          "mysql://app@h:3306/d",
        "postgresql://app@h/d/e",     "postgresql://app@h/d?sslmode",
        "postgresql://app@%zz/d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SL_CHECK_INT(sl_pg_url_parse(bad[i], &u), SL_EINVAL);
    SL_CHECK(sl_pg_url_is_pg("postgres://a@b/c"));
    SL_CHECK(!sl_pg_url_is_pg("mysql://a@b/c"));
    sl_pg_source_t src;
    SL_CHECK_OK(sl_pg_source_parse("mysql://repl@10.0.0.1:3307", &src));
    SL_CHECK_STR(src.user, "repl");
    SL_CHECK_STR(src.host, "10.0.0.1");
    SL_CHECK_INT(src.port, 3307);
    SL_CHECK_OK(sl_pg_source_parse("mysql://repl@h/ignored", &src));
    SL_CHECK_INT(src.port, 3306);
    SL_CHECK_INT(sl_pg_source_parse("mysql://repl:pw@h", &src), SL_EINVAL);
    SL_CHECK_INT(sl_pg_source_parse("postgresql://repl@h", &src), SL_EINVAL);
}

/* The body of a schema file: its lines but comments, without the final
 * semicolon. */
static int schema_body(const char *path, char *body, size_t cap) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[512];
    body[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "--", 2) != 0)
            strncat(body, line, cap - strlen(body) - 1);
    fclose(f);
    size_t n = strlen(body);
    while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == ';'))
        body[--n] = '\0';
    return 0;
}

SL_TEST(apply_pg_offsets_schema_file_matches) {
    /* schemas/sluice_offsets_pg.sql and sluice_snapshots_pg.sql are what
     * sluice-apply runs at start. */
    char body[4096];
    if (schema_body("schemas/sluice_offsets_pg.sql", body, sizeof body) != 0)
        SL_SKIP("run from the repository root");
    SL_CHECK_STR(body, sl_pg_offsets_ddl);
    SL_CHECK_INT(
        schema_body("schemas/sluice_snapshots_pg.sql", body, sizeof body), 0);
    SL_CHECK_STR(body, sl_pg_snapshots_ddl);
}
