/*
 * Live capture end to end: a real MariaDB source, a real sluice-broker and
 * sluice-capture as a process. The oracle is the offline decoder: what the
 * broker holds in each partition must be exactly what
 * `sluice-capture --from-file` decodes from the same binlog files, grouped
 * by partition (rows, then the transaction's commit event in every
 * partition it touched) — every committed row once, in commit order, even
 * when capture is killed with SIGKILL again and again during the load.
 */
#include "capture/publish.h"
#include "capture/schema/history.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char **items;
    size_t n, cap;
} lines_t;

typedef struct {
    char name[128];
    lines_t lines;
} part_t;

typedef struct {
    part_t parts[16];
    size_t n;
} parts_t;

static void lines_add(lines_t *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = strndup(s, len);
}

static void lines_free(lines_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static part_t *part_get(parts_t *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->parts[i].name, name) == 0)
            return &p->parts[i];
    SL_CHECK(p->n < 16);
    part_t *part = &p->parts[p->n++];
    snprintf(part->name, sizeof part->name, "%s", name);
    return part;
}

/* The decoder counts transactions from where it started, so "trx.seq"
 * differs between a live run that restarted and one offline pass; it is
 * removed before comparing. */
static void strip_seq(char *s) {
    char *p = strstr(s, "\"trx\":{\"seq\":");
    if (p == NULL)
        return;
    char *digits = p + strlen("\"trx\":{\"seq\":");
    char *end = digits;
    while (*end >= '0' && *end <= '9')
        end++;
    if (*end == ',')
        end++;
    memmove(digits - strlen("\"seq\":"), end, strlen(end) + 1);
}

static void str_member(sl_jr_doc_t *doc, const char *name, char *out,
                       size_t outlen) {
    uint32_t tok = sl_jr_get(doc, 0, name);
    size_t len = 0;
    const char *raw = "";
    if (tok != SL_JR_NONE && sl_jr_type(doc, tok) == SL_JR_STRING)
        raw = sl_jr_raw(doc, tok, &len);
    snprintf(out, outlen, "%.*s", (int)len, raw);
}

/* Decodes the source's binlogs from file:pos with the offline decoder and
 * groups the change events the way capture routes them (by table). */
static void oracle(const char *datadir, const char *file, uint64_t pos,
                   parts_t *out) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && ls binlog.[0-9]* | awk '$0 >= \"%s\"' | "
             "xargs %s --start-position %llu --from-file",
             datadir, file, sl_harness_bin("sluice-capture"),
             (unsigned long long)pos);
    FILE *pipe = popen(cmd, "r");
    SL_CHECK(pipe != NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    char touched[16][128];
    size_t ntouched = 0;
    while ((n = getline(&line, &cap, pipe)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        SL_CHECK_OK(sl_jr_parse(&doc, line, (size_t)n));
        char kind[32], db[64], table[64];
        str_member(&doc, "kind", kind, sizeof kind);
        if (strcmp(kind, "begin") == 0) {
            ntouched = 0;
        } else if (strcmp(kind, "row") == 0) {
            str_member(&doc, "db", db, sizeof db);
            str_member(&doc, "table", table, sizeof table);
            if (strcmp(db, "live") != 0)
                continue;
            char name[128];
            snprintf(name, sizeof name, "%s.%s", db, table);
            strip_seq(line);
            lines_add(&part_get(out, name)->lines, line, strlen(line));
            size_t i = 0;
            while (i < ntouched && strcmp(touched[i], name) != 0)
                i++;
            if (i == ntouched)
                snprintf(touched[ntouched++], 128, "%s", name);
        } else if (strcmp(kind, "commit") == 0) {
            strip_seq(line);
            for (size_t i = 0; i < ntouched; i++)
                lines_add(&part_get(out, touched[i])->lines, line,
                          strlen(line));
            ntouched = 0;
        }
    }
    free(line);
    sl_jr_free(&doc);
    SL_CHECK_INT(pclose(pipe), 0);
}

static void read_partition(sl_client_t *cl, const char *topic, const char *part,
                           lines_t *out) {
    uint64_t offset = 0;
    for (int guard = 0; guard < 100000; guard++) {
        sl_client_fetch_t fetch;
        int rc = sl_client_get(cl, topic, part, offset, 1 << 20, 0, &fetch);
        if (rc == SL_ERANGE || (rc == 0 && fetch.count == 0))
            return;
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "get %s: %s", part,
                         sl_client_error(cl));
        for (size_t i = 0; i < fetch.count; i++) {
            lines_add(out, (const char *)fetch.recs[i].data, fetch.recs[i].len);
            strip_seq(out->items[out->n - 1]);
        }
        offset = fetch.next;
    }
}

typedef struct {
    int broker_pid;
    char dir[512];
    char start_file[128];
    uint64_t start_pos;
    char broker_addr[64];
} env_t;

static int start_capture_args(env_t *env, const char *log, char **extra);

static int start_capture(env_t *env, const char *log) {
    return start_capture_args(env, log, NULL);
}

static int start_capture_args(env_t *env, const char *log, char **extra) {
    char start[200];
    snprintf(start, sizeof start, "%s:%llu", env->start_file,
             (unsigned long long)env->start_pos);
    const char *flags[] = {"--topic",
                           "live",
                           "--server-id",
                           "3001",
                           "--start",
                           start,
                           "--include",
                           "live\\..*",
                           "--heartbeat",
                           "200ms",
                           "--checkpoint-interval",
                           "50ms",
                           "--report-interval",
                           "60s",
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL};
    size_t argc = 0;
    while (flags[argc] != NULL)
        argc++;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 6; i++)
        flags[argc++] = extra[i];
    char path[600];
    snprintf(path, sizeof path, "%s/%s", env->dir, log);
    return sl_harness_start_capture(env->broker_addr, flags, path);
}

static void setup(env_t *env, MYSQL *mysql) {
    snprintf(env->dir, sizeof env->dir, "%s", sl_test_tmpdir());
    env->broker_pid = sl_harness_start_broker(env->dir, env->broker_addr,
                                              sizeof env->broker_addr);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS live");
    sl_harness_exec(mysql, "CREATE DATABASE live");
    sl_harness_exec(mysql, "CREATE TABLE live.a (id INT PRIMARY KEY, "
                           "v VARCHAR(40), n BIGINT UNSIGNED)");
    sl_harness_exec(mysql, "CREATE TABLE live.b (id INT PRIMARY KEY, "
                           "d DECIMAL(12,3), t DATETIME(6))");
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    sl_harness_master_status(mysql, env->start_file, sizeof env->start_file,
                             &env->start_pos);
}

/* Transactions over both tables: inserts, updates, deletes, and a
 * transaction touching both. */
static void workload(MYSQL *mysql, int from, int count) {
    char sql[512];
    for (int i = from; i < from + count; i++) {
        snprintf(sql, sizeof sql,
                 "BEGIN; INSERT INTO live.a VALUES (%d, 'v%d', %llu);"
                 "INSERT INTO live.b VALUES (%d, %d.125, NOW(6)); COMMIT",
                 i, i, 18446744073709551615ull - (unsigned)i, i, i);
        sl_harness_exec(mysql, sql);
        if (i % 3 == 0) {
            snprintf(sql, sizeof sql,
                     "UPDATE live.a SET v = CONCAT(v, 'x') WHERE id = %d", i);
            sl_harness_exec(mysql, sql);
        }
        if (i % 5 == 0) {
            snprintf(sql, sizeof sql, "DELETE FROM live.b WHERE id = %d", i);
            sl_harness_exec(mysql, sql);
        }
    }
}

/* Waits until capture's checkpoint reaches the source's current end (or
 * passes it: after a rotation MariaDB may append its binlog checkpoint
 * event after we read the end). */
static void wait_caught_up(env_t *env, MYSQL *mysql, sl_client_t *cl) {
    char file[128];
    uint64_t end;
    sl_harness_master_status(mysql, file, sizeof file, &end);
    for (int i = 0; i < 600; i++) {
        uint64_t earliest, latest;
        sl_checkpoint_t cp;
        sl_client_fetch_t fetch;
        if (sl_client_offsets(cl, "__sluice_capture", "live", &earliest,
                              &latest) == 0 &&
            latest > 0 &&
            sl_client_get(cl, "__sluice_capture", "live", latest - 1, 4096, 0,
                          &fetch) == 0 &&
            fetch.count == 1 &&
            sl_checkpoint_decode(fetch.recs[0].data, fetch.recs[0].len, &cp) ==
                0 &&
            sl_history_cmp(cp.file, cp.pos, file, end) >= 0)
            return;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s/capture.log", env->dir);
    if (system(cmd) != 0)
        printf("# no capture log\n");
    sl_test_fail(__FILE__, __LINE__, "capture did not catch up in 60 s");
}

static void compare(env_t *env, sl_client_t *cl) {
    parts_t want;
    memset(&want, 0, sizeof want);
    oracle(getenv("SL_SOURCE_DATADIR"), env->start_file, env->start_pos, &want);
    SL_CHECK_INT(want.n, 2);
    for (size_t i = 0; i < want.n; i++) {
        lines_t got;
        memset(&got, 0, sizeof got);
        read_partition(cl, "live", want.parts[i].name, &got);
        lines_t *exp = &want.parts[i].lines;
        size_t n = got.n < exp->n ? got.n : exp->n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(got.items[j], exp->items[j]) != 0)
                sl_test_fail(__FILE__, __LINE__,
                             "%s message %zu differs:\n got  %s\n want %s",
                             want.parts[i].name, j, got.items[j],
                             exp->items[j]);
        if (got.n != exp->n)
            sl_test_fail(__FILE__, __LINE__,
                         "%s holds %zu messages, the binlog has %zu",
                         want.parts[i].name, got.n, exp->n);
        lines_free(&got);
        lines_free(exp);
    }
}

SL_TEST(capture_live_matches_the_binlog) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    uint16_t stats_port = sl_harness_free_port();
    char stats_addr[64];
    snprintf(stats_addr, sizeof stats_addr, "127.0.0.1:%u", stats_port);
    char *extra[] = {"--stats-listen", stats_addr, NULL};
    int cap = start_capture_args(&env, "capture.log", extra);
    workload(mysql, 1, 60);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    compare(&env, cl);
    /* 60 inserts and 20 updates in live.a, 60 inserts and 12 deletes in
     * live.b; the endpoint catches up within its refresh period. */
    static char reply[8192];
    const char *text = sl_harness_tcp_poll(stats_port, "stats\r\n", "END\r\n",
                                           "STAT rows 152\r\n", 100, 5000,
                                           reply, sizeof reply);
    SL_CHECK(strstr(text, "STAT rows 152\r\n") != NULL);
    SL_CHECK(strstr(text, "STAT rows:live.a 80\r\n") != NULL);
    SL_CHECK(strstr(text, "STAT rows:live.b 72\r\n") != NULL);
    SL_CHECK(strstr(text, "STAT seconds_behind ") != NULL);
    SL_CHECK(strstr(text, "END\r\n") != NULL);
    /* SIGTERM is a clean stop. */
    int status = sl_harness_stop(cap, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}

SL_TEST(capture_killed_repeatedly_loses_and_duplicates_nothing) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    fflush(stdout);
    pid_t writer = fork();
    if (writer == 0) {
        /* The load runs in its own process, on its own connection, while
         * the parent kills capture at random moments. */
        MYSQL *own = sl_harness_mysql("SOURCE", NULL);
        workload(own, 1, 400);
        mysql_close(own);
        _exit(0);
    }
    unsigned seed = 20261122;
    int kills = 0;
    int cap = start_capture(&env, "capture.log");
    for (int round = 0; round < 200; round++) {
        struct timespec ts = {0, (long)(50 + rand_r(&seed) % 250) * 1000000L};
        nanosleep(&ts, NULL);
        sl_harness_stop(cap, SIGKILL, 5000);
        kills++;
        cap = start_capture(&env, "capture.log");
        int status;
        if (waitpid(writer, &status, WNOHANG) == writer) {
            SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            writer = 0;
            if (kills >= 10)
                break;
            /* Keep killing until at least 10 kills happened during load. */
            writer = fork();
            if (writer == 0) {
                MYSQL *own = sl_harness_mysql("SOURCE", NULL);
                workload(own, 1000 + round * 100, 50);
                mysql_close(own);
                _exit(0);
            }
        }
    }
    if (writer > 0)
        waitpid(writer, NULL, 0);
    SL_CHECK(kills >= 10);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    compare(&env, cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    printf("# %d kills of capture during the load\n", kills);
    mysql_close(mysql);
}

/* key:N spreads each table over N partitions by primary key, keeping every
 * change of one key in one partition; excluded columns never leave. */
SL_TEST(capture_key_routing_and_column_exclusion) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    char *extra[] = {"--partition-by", "key:4", "--exclude-column",
                     "live\\.a\\.v", NULL};
    int cap = start_capture_args(&env, "capture.log", extra);
    workload(mysql, 1, 80);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    parts_t want;
    memset(&want, 0, sizeof want);
    oracle(getenv("SL_SOURCE_DATADIR"), env.start_file, env.start_pos, &want);
    size_t want_rows[2] = {0, 0};
    for (size_t i = 0; i < want.n; i++) {
        for (size_t j = 0; j < want.parts[i].lines.n; j++)
            if (strstr(want.parts[i].lines.items[j], "\"kind\":\"row\""))
                want_rows[strcmp(want.parts[i].name, "live.b") == 0]++;
        lines_free(&want.parts[i].lines);
    }
    /* Which partition each id was seen in, per table. */
    int seen[2][2000];
    memset(seen, -1, sizeof seen);
    size_t got_rows[2] = {0, 0};
    int used[2][4] = {{0}};
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 4; k++) {
            char name[64];
            snprintf(name, sizeof name, "live.%c#%d", "ab"[t], k);
            lines_t got;
            memset(&got, 0, sizeof got);
            read_partition(cl, "live", name, &got);
            for (size_t j = 0; j < got.n; j++) {
                if (!strstr(got.items[j], "\"kind\":\"row\""))
                    continue;
                got_rows[t]++;
                used[t][k] = 1;
                SL_CHECK_OK(
                    sl_jr_parse(&doc, got.items[j], strlen(got.items[j])));
                uint32_t img = sl_jr_get(&doc, 0, "after");
                if (sl_jr_type(&doc, img) != SL_JR_OBJECT)
                    img = sl_jr_get(&doc, 0, "before");
                /* The excluded column v is in no image (the event's own
                 * "v" is the format version). */
                if (t == 0)
                    SL_CHECK(sl_jr_get(&doc, img, "v") == SL_JR_NONE);
                uint64_t id;
                SL_CHECK_OK(sl_jr_u64(&doc, sl_jr_get(&doc, img, "id"), &id));
                SL_CHECK(id < 2000);
                if (seen[t][id] == -1)
                    seen[t][id] = k;
                SL_CHECK_INT(seen[t][id], k);
            }
            lines_free(&got);
        }
    }
    sl_jr_free(&doc);
    SL_CHECK_UINT(got_rows[0], want_rows[0]);
    SL_CHECK_UINT(got_rows[1], want_rows[1]);
    SL_CHECK(want_rows[0] > 80);
    /* 80 keys over 4 buckets use every bucket. */
    for (int k = 0; k < 4; k++)
        SL_CHECK(used[0][k] && used[1][k]);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}

/* The replication connection killed on the server, and the source
 * restarted, both during the load: capture reconnects and resumes, and the
 * partitions still equal the binlog. */
SL_TEST(capture_survives_killed_dump_thread_and_source_restart) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    int cap = start_capture(&env, "capture.log");
    workload(mysql, 1, 40);
    /* KILL the dump thread, as a DBA or a failover tool would. */
    for (int i = 0; i < 3; i++) {
        char *id = sl_harness_query_value(
            mysql, "SELECT ID FROM information_schema.PROCESSLIST "
                   "WHERE COMMAND = 'Binlog Dump' LIMIT 1");
        if (id != NULL) {
            char sql[64];
            snprintf(sql, sizeof sql, "KILL %s", id);
            mysql_query(mysql, sql);
            free(id);
        }
        workload(mysql, 100 + i * 50, 30);
    }
    mysql_close(mysql);
    sl_harness_restart("SOURCE");
    mysql = sl_harness_mysql("SOURCE", NULL);
    workload(mysql, 400, 40);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    compare(&env, cl);
    int status = sl_harness_stop(cap, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}

/* One transaction of 1,000,000 rows streams through capture in bounded
 * memory: it is never held whole. */
SL_TEST(capture_streams_a_million_row_transaction) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    sl_harness_exec(mysql, "CREATE TABLE live.big (id INT PRIMARY KEY, "
                           "pad CHAR(40))");
    int cap = start_capture(&env, "capture.log");
    /* MariaDB's sequence engine makes the rows in one statement. */
    sl_harness_exec(mysql, "INSERT INTO live.big SELECT seq, REPEAT('x', 40) "
                           "FROM live.seq_1_to_1000000");
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    uint64_t earliest, latest;
    SL_CHECK_OK(sl_client_offsets(cl, "live", "live.big", &earliest, &latest));
    /* The table's CREATE (replayed from the start position), a million
     * rows and the transaction's commit event. */
    SL_CHECK_UINT(latest, 1000002);
    sl_client_fetch_t fetch;
    SL_CHECK_OK(sl_client_get(cl, "live", "live.big", 0, 4096, 0, &fetch));
    SL_CHECK(fetch.count >= 1);
    SL_CHECK(memmem(fetch.recs[0].data, fetch.recs[0].len, "\"kind\":\"ddl\"",
                    12) != NULL);
    SL_CHECK_OK(
        sl_client_get(cl, "live", "live.big", 1000001, 4096, 0, &fetch));
    SL_CHECK(fetch.count == 1);
    SL_CHECK(memmem(fetch.recs[0].data, fetch.recs[0].len,
                    "\"kind\":\"commit\",\"rows\":1000000", 30) != NULL);
    long rss_kb = sl_harness_peak_rss_kb(cap);
    printf("# capture peak RSS %ld KiB for a 1,000,000-row transaction\n",
           rss_kb);
    /* The transaction is ~100 MB of JSON; capture must not hold it. */
    SL_CHECK(rss_kb > 0 && rss_kb < 200 * 1024);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}

/* The column names of a row event's image, in order, joined by commas. */
static void image_columns(const char *json, const char *which, char *out,
                          size_t outlen) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    out[0] = '\0';
    SL_CHECK_OK(sl_jr_parse(&doc, json, strlen(json)));
    uint32_t img = sl_jr_get(&doc, 0, which);
    uint32_t it = 0, key, val;
    while (img != SL_JR_NONE && sl_jr_next(&doc, img, &it, &key, &val)) {
        size_t len;
        const char *raw = sl_jr_raw(&doc, key, &len);
        snprintf(out + strlen(out), outlen - strlen(out), "%s%.*s",
                 out[0] ? "," : "", (int)len, raw);
    }
    sl_jr_free(&doc);
}

/* Rows of partition part whose id is id: the first one's after image. */
static void row_columns(sl_client_t *cl, const char *part, int id, char *out,
                        size_t outlen) {
    lines_t got;
    memset(&got, 0, sizeof got);
    read_partition(cl, "live", part, &got);
    char want[32];
    snprintf(want, sizeof want, "\"after\":{\"id\":%d,", id);
    out[0] = '\0';
    for (size_t i = 0; i < got.n; i++)
        if (strstr(got.items[i], want) != NULL) {
            image_columns(got.items[i], "after", out, outlen);
            SL_CHECK(strstr(got.items[i], "\"pk\":[\"id\"]") != NULL);
            break;
        }
    lines_free(&got);
}

/* Without column names in the binlog (binlog_row_metadata=MINIMAL), every
 * row is decoded with the columns in force when it was written, across
 * ADD/DROP/MODIFY/RENAME COLUMN, RENAME TABLE, CREATE TABLE ... LIKE and
 * DROP TABLE, and across a kill -9 of capture that makes it rebuild the
 * schema history from the broker. */
SL_TEST(capture_schema_history_without_binlog_metadata) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_metadata = 'MINIMAL'");
    mysql_close(mysql);
    /* The setting applies to sessions opened after it. */
    mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    int cap = start_capture(&env, "capture.log");
    /* Capture reads the tables' definitions when it first starts; the
     * history takes over from there. */
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    for (int i = 0; i < 300; i++) {
        uint64_t earliest, latest = 0;
        if (sl_client_offsets(cl, "__sluice_capture", "live.schema", &earliest,
                              &latest) == 0 &&
            latest > 0)
            break;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    sl_harness_exec(mysql, "INSERT INTO live.a VALUES (1, 'one', 1)");
    sl_harness_exec(mysql, "ALTER TABLE live.a ADD COLUMN z INT AFTER id");
    sl_harness_exec(mysql, "INSERT INTO live.a VALUES (2, 22, 'two', 2)");
    sl_harness_exec(mysql, "ALTER TABLE live.a DROP COLUMN v, "
                           "MODIFY n INT NOT NULL DEFAULT 0");
    /* Capture dies here and must rebuild its history from the broker. */
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    sl_harness_stop(cap, SIGKILL, 5000);
    sl_harness_exec(mysql, "INSERT INTO live.a VALUES (3, 33, 3)");
    sl_harness_exec(mysql, "ALTER TABLE live.a RENAME COLUMN z TO zz");
    sl_harness_exec(mysql, "INSERT INTO live.a VALUES (4, 44, 4)");
    cap = start_capture(&env, "capture.log");
    sl_harness_exec(mysql, "RENAME TABLE live.a TO live.a2");
    sl_harness_exec(mysql, "INSERT INTO live.a2 VALUES (5, 55, 5)");
    sl_harness_exec(mysql, "CREATE TABLE live.c LIKE live.b");
    sl_harness_exec(mysql, "INSERT INTO live.c VALUES (6, 6.5, NOW())");
    sl_harness_exec(mysql, "DROP TABLE live.b");
    sl_harness_exec(mysql, "CREATE TABLE live.b (id INT PRIMARY KEY, "
                           "w VARCHAR(5))");
    sl_harness_exec(mysql, "INSERT INTO live.b VALUES (7, 'w')");
    wait_caught_up(&env, mysql, cl);
    char cols[256];
    row_columns(cl, "live.a", 1, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,v,n");
    row_columns(cl, "live.a", 2, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,z,v,n");
    row_columns(cl, "live.a", 3, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,z,n");
    row_columns(cl, "live.a", 4, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,zz,n");
    row_columns(cl, "live.a2", 5, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,zz,n");
    row_columns(cl, "live.c", 6, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,d,t");
    row_columns(cl, "live.b", 7, cols, sizeof cols);
    SL_CHECK_STR(cols, "id,w");
    /* The DDL statements went to the partitions of the tables they name. */
    lines_t got;
    memset(&got, 0, sizeof got);
    read_partition(cl, "live", "live.a", &got);
    int ddl = 0;
    for (size_t i = 0; i < got.n; i++)
        ddl += strstr(got.items[i], "\"kind\":\"ddl\"") != NULL;
    SL_CHECK_INT(ddl, 4); /* ADD, DROP+MODIFY, RENAME COLUMN, RENAME TABLE */
    lines_free(&got);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_metadata = 'FULL'");
    mysql_close(mysql);
}

/* Regression: a stream break inside a transaction, before capture wrote
 * any checkpoint. Capture used to (1) re-batch the replayed rows
 * differently, so the broker refused a half-duplicate batch (409) and
 * capture stopped, (2) leave a hole where later pipelined batches had been
 * stored, and (3) with no checkpoint, replay from the start with new
 * sequences, duplicating everything. Capture is paused (SIGSTOP) while its
 * dump thread is killed, so the break lands mid-transaction for sure. */
SL_TEST(capture_stream_break_inside_first_transaction) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    int cap = start_capture(&env, "capture.log");
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    fflush(stdout);
    pid_t writer = fork();
    if (writer == 0) {
        MYSQL *own = sl_harness_mysql("SOURCE", NULL);
        sl_harness_exec(own, "INSERT INTO live.a SELECT seq, CONCAT('r', seq), "
                             "seq FROM live.seq_1_to_300000");
        sl_harness_exec(own, "INSERT INTO live.b VALUES (1, 1.5, NOW())");
        mysql_close(own);
        _exit(0);
    }
    uint64_t earliest, latest = 0;
    for (int i = 0; i < 3000 && latest <= 50000; i++) {
        sl_client_offsets(cl, "live", "live.a", &earliest, &latest);
        struct timespec pause = {0, 5 * 1000000L};
        nanosleep(&pause, NULL);
    }
    SL_CHECK(latest > 50000 && latest < 300000);
    kill(cap, SIGSTOP);
    char *id = sl_harness_query_value(
        mysql, "SELECT ID FROM information_schema.PROCESSLIST "
               "WHERE COMMAND = 'Binlog Dump' LIMIT 1");
    SL_CHECK(id != NULL);
    char sql[64];
    snprintf(sql, sizeof sql, "KILL %s", id);
    free(id);
    sl_harness_exec(mysql, sql);
    kill(cap, SIGCONT);
    int status;
    SL_CHECK(waitpid(writer, &status, 0) == writer && WIFEXITED(status) &&
             WEXITSTATUS(status) == 0);
    wait_caught_up(&env, mysql, cl);
    compare(&env, cl);
    /* Capture resumed by itself: it is still running. */
    SL_CHECK(waitpid(cap, &status, WNOHANG) == 0);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}

/* Regression: the checkpoint moved only at transaction ends, so after a
 * rotation (or a restart) whose new file holds only standalone events
 * (format description, GTID list, binlog checkpoint) capture never
 * reported the server's end position as reached. */
SL_TEST(capture_checkpoint_follows_rotations) {
    env_t env;
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    setup(&env, mysql);
    int cap = start_capture(&env, "capture.log");
    workload(mysql, 1, 5);
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker_addr, NULL, &cl));
    wait_caught_up(&env, mysql, cl);
    compare(&env, cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_client_close(cl);
    sl_harness_stop(env.broker_pid, SIGTERM, 20000);
    mysql_close(mysql);
}
