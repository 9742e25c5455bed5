/*
 * Replay of archived binlog files into the broker (sluice-capture
 * --from-file ... --broker, docs/replay.md), against real servers:
 *
 *   - binlogs written by the harness MariaDB while nothing captured them,
 *     replayed and applied by sluice-apply into an empty target: the
 *     target equals the source by row hash; the same replay run again
 *     publishes nothing more, and a replay killed with SIGKILL five times
 *     (then completed) leaves every partition exactly as a clean run did;
 *   - point in time: a replay up to a --stop-datetime between two known
 *     transactions equals the source as it was at that moment;
 *   - the fixture binlogs with row events publish the rows the offline
 *     decoder prints (or are refused with a precise error);
 *   - group reset by time, and refused while the group has a live member.
 *
 * Sizes are scaled for CI (20,000 rows); bench/replay.sh replays 1 GiB.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void exec_fmt(MYSQL *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void exec_fmt(MYSQL *m, const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sl_harness_exec(m, sql);
}

static char *hash_of(MYSQL *m, const char *db, int t) {
    char sql[1024];
    if (t == 0)
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|',"
                 "id, v, n, IFNULL(d, 'null')) ORDER BY id))) FROM %s.items",
                 db);
    else
        snprintf(sql, sizeof sql,
                 "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|',"
                 "id, txt) ORDER BY id))) FROM %s.notes",
                 db);
    return sl_harness_query_value(m, sql);
}

static void create_tables(MYSQL *m, const char *db) {
    exec_fmt(m, "DROP DATABASE IF EXISTS %s", db);
    exec_fmt(m, "CREATE DATABASE %s", db);
    exec_fmt(m,
             "CREATE TABLE %s.items (id INT PRIMARY KEY, v VARCHAR(40), "
             "n BIGINT, d DECIMAL(12,2) NULL)",
             db);
    exec_fmt(m, "CREATE TABLE %s.notes (id INT PRIMARY KEY, txt TEXT)", db);
}

/* Transactions from..to on the source: inserts of 100 rows each, with
 * updates and deletes of earlier rows. */
static void workload(MYSQL *m, int from, int to) {
    for (int i = from; i < to; i++) {
        exec_fmt(m,
                 "INSERT INTO rp.items SELECT seq, CONCAT('v', seq), seq * 7, "
                 "IF(seq %% 3 = 0, NULL, seq / 4) FROM rp.seq_%d_to_%d",
                 i * 100, i * 100 + 99);
        exec_fmt(m,
                 "BEGIN; INSERT INTO rp.notes VALUES (%d, REPEAT('x', %d));"
                 "UPDATE rp.items SET v = CONCAT(v, '+') WHERE id %% 10 = %d "
                 "AND id >= %d; COMMIT",
                 i, i % 50, i % 10, (i - 1) * 100);
        if (i % 4 == 3)
            exec_fmt(m, "DELETE FROM rp.items WHERE id BETWEEN %d AND %d",
                     (i - 2) * 100, (i - 2) * 100 + 9);
    }
}

/* The binlog files from first (a name) to the one before the current, as
 * paths in the source's data directory; returns how many. */
static int binlog_paths(MYSQL *src, const char *first, char paths[][600],
                        int max) {
    const char *dd = getenv("SL_SOURCE_DATADIR");
    SL_CHECK(dd != NULL);
    char cur[256];
    uint64_t pos;
    sl_harness_master_status(src, cur, sizeof cur, &pos);
    SL_CHECK_OK(mysql_query(src, "SHOW BINARY LOGS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row;
    int n = 0, on = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (strcmp(row[0], first) == 0)
            on = 1;
        if (strcmp(row[0], cur) == 0)
            break;
        if (on && n < max)
            snprintf(paths[n++], 600, "%s/%s", dd, row[0]);
    }
    mysql_free_result(res);
    return n;
}

typedef struct {
    sl_harness_broker_t b;
    char dir[600];
} env_t;

static void env_start(env_t *e) {
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "%.500s", sl_test_tmpdir());
    snprintf(e->b.data, sizeof e->b.data, "%.500s/broker", e->dir);
    const char *extra[] = {"--fsync", "never", "--kafka-listen", "off", NULL};
    sl_harness_broker_start(&e->b, extra, 20000);
}

/* Runs sluice-capture --from-file paths... --broker with extra flags and
 * returns its exit status; its output goes to dir/replay.log. With
 * kill_after_msgs > 0, kills it with SIGKILL as soon as topic holds more
 * than that many messages (polled), and returns -1 then. */
static int replay(env_t *e, char paths[][600], int npaths,
                  const char *const *extra, const char *topic,
                  uint64_t kill_after_msgs) {
    char *argv[64];
    int k = 0;
    argv[k++] = (char *)sl_harness_bin("sluice-capture");
    for (int i = 0; i < npaths; i++) {
        argv[k++] = "--from-file";
        argv[k++] = paths[i];
    }
    argv[k++] = "--broker";
    argv[k++] = e->b.addr;
    argv[k++] = "--topic";
    argv[k++] = (char *)topic;
    argv[k++] = "--progress";
    argv[k++] = "no";
    argv[k++] = "--checkpoint-interval";
    argv[k++] = "20ms";
    for (int i = 0; extra && extra[i] && k < 62; i++)
        argv[k++] = (char *)extra[i];
    argv[k] = NULL;
    char log[700];
    snprintf(log, sizeof log, "%s/replay.log", e->dir);
    int pid = sl_harness_spawn(argv, log);
    int status = -1;
    if (kill_after_msgs > 0) {
        sl_client_t *cl = sl_harness_broker_client(&e->b, NULL);
        for (;;) {
            if (sl_harness_wait_exit(pid, 2, &status)) {
                sl_client_close(cl);
                return status;
            }
            sl_buf_t text = SL_BUF_INIT;
            uint64_t total = 0;
            if (sl_client_partitions(cl, topic, &text) == 0) {
                char *p = (char *)text.data;
                for (size_t off = 0; off < text.len;) {
                    char t[256], part[256];
                    unsigned long long a, b;
                    if (sscanf(p + off, "%255s %255s %llu %llu", t, part, &a,
                               &b) == 4)
                        total += b;
                    char *nl = memchr(p + off, '\n', text.len - off);
                    off = nl ? (size_t)(nl - p) + 1 : text.len;
                }
            }
            sl_buf_free(&text);
            if (total > kill_after_msgs) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                sl_client_close(cl);
                return -1;
            }
        }
    }
    SL_CHECK(sl_harness_wait_exit(pid, 300000, &status));
    return status;
}

/* Every partition of topic as text, "trx.seq" removed (the decoder counts
 * transactions from where it started, so a resumed replay numbers them
 * differently; everything else must be identical). */
static char *topic_text(env_t *e, const char *topic) {
    sl_client_t *cl = sl_harness_broker_client(&e->b, NULL);
    sl_buf_t list = SL_BUF_INIT, all = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_partitions(cl, topic, &list));
    SL_CHECK_OK(sl_buf_append_u8(&list, '\0'));
    char *save = NULL;
    for (char *line = strtok_r((char *)list.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char t[256], part[256];
        SL_CHECK(sscanf(line, "%255s %255s", t, part) == 2);
        char *text = sl_harness_partition_text(cl, topic, part);
        sl_buf_printf(&all, "== %s\n", part);
        for (char *p = text; *p;) {
            char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            char *seq = memmem(p, len, "\"trx\":{\"seq\":", 13);
            if (seq == NULL) {
                sl_buf_append(&all, p, len);
            } else {
                char *d = seq + 13;
                while (*d >= '0' && *d <= '9')
                    d++;
                sl_buf_append(&all, p, (size_t)(seq + 13 - p));
                sl_buf_append(&all, p + len > d ? d : p + len,
                              (size_t)(p + len - d));
            }
            sl_buf_append_u8(&all, '\n');
            p = nl ? nl + 1 : p + len;
        }
        free(text);
    }
    sl_buf_append_u8(&all, '\0');
    sl_buf_free(&list);
    sl_client_close(cl);
    return (char *)all.data;
}

static size_t count_lines(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Runs sluice-apply from topic into database dst_db of the target until
 * each table's hash equals want[] (bounded), then stops it. */
static void apply_until(env_t *e, const char *topic, const char *dst_db,
                        char *want[2], const char *drift) {
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    exec_fmt(dst, "CREATE DATABASE IF NOT EXISTS %s_meta", dst_db);
    char target[256], tpw[512], map[128], log[700];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/%s_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"), dst_db);
    snprintf(tpw, sizeof tpw, "%s", getenv("SL_TARGET_PASSWORD_FILE"));
    snprintf(map, sizeof map, "rp=%s", dst_db);
    snprintf(log, sizeof log, "%s/apply-%s.log", e->dir, dst_db);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    e->b.addr,
                    "--topic",
                    (char *)topic,
                    "--target",
                    target,
                    "--target-password-file",
                    tpw,
                    "--map",
                    map,
                    "--poll",
                    "100ms",
                    "--drift",
                    (char *)drift,
                    NULL};
    int pid = sl_harness_spawn(argv, log);
    int equal = 0;
    for (int tries = 0; tries < 1200 && !equal; tries++) {
        equal = 1;
        for (int t = 0; t < 2 && equal; t++) {
            char *got = hash_of(dst, dst_db, t);
            equal = got != NULL && strcmp(got, want[t]) == 0;
            free(got);
        }
        if (!equal)
            sl_harness_sleep_ms(100);
    }
    for (int t = 0; t < 2; t++) {
        char *got = hash_of(dst, dst_db, t);
        SL_CHECK_STR(got, want[t]);
        free(got);
    }
    int st = sl_harness_stop(pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    mysql_close(dst);
}

/* The files, replayed: into an empty target equal to the source; the same
 * replay again publishes nothing; a replay killed five times publishes
 * every row once. */
SL_TEST(capture_replay_exactly_once_into_target) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    create_tables(src, "rp");
    create_tables(dst, "rp_dst");
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char first[256];
    uint64_t pos;
    sl_harness_master_status(src, first, sizeof first, &pos);
    workload(src, 1, 100);
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    workload(src, 100, 200);
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    static char paths[16][600];
    int n = binlog_paths(src, first, paths, 16);
    SL_CHECK_INT(n, 2);
    char *want[2];
    for (int t = 0; t < 2; t++)
        want[t] = hash_of(src, "rp", t);

    env_t e;
    env_start(&e);
    const char *inc[] = {"--include", "rp\\..*", NULL};
    SL_CHECK_INT(replay(&e, paths, n, inc, "clean", 0), 0);
    char *clean = topic_text(&e, "clean");
    SL_CHECK(count_lines(clean, "\"kind\":\"row\"") > 19000);
    /* Run twice: nothing more. */
    SL_CHECK_INT(replay(&e, paths, n, inc, "clean", 0), 0);
    char *again = topic_text(&e, "clean");
    SL_CHECK_STR(again, clean);
    free(again);

    /* Killed with SIGKILL five times, each time after more was
     * published, then run to the end. */
    uint64_t step = count_lines(clean, "\n") / 7;
    int killed = 0;
    for (int i = 1; i <= 5; i++)
        killed += replay(&e, paths, n, inc, "killed", step * i) == -1;
    SL_CHECK(killed >= 3);
    SL_CHECK_INT(replay(&e, paths, n, inc, "killed", 0), 0);
    char *killed_text = topic_text(&e, "killed");
    SL_CHECK_STR(killed_text, clean);
    free(killed_text);
    free(clean);

    apply_until(&e, "killed", "rp_dst", want, "stop");
    for (int t = 0; t < 2; t++)
        free(want[t]);
    mysql_close(src);
    mysql_close(dst);
}

/* Replay to --stop-datetime between two known transactions: the target
 * equals the source as it was then. */
SL_TEST(capture_replay_point_in_time) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    MYSQL *dst = sl_harness_mysql("TARGET", NULL);
    create_tables(src, "rp");
    create_tables(dst, "rp_pit");
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char first[256];
    uint64_t pos;
    sl_harness_master_status(src, first, sizeof first, &pos);
    workload(src, 1, 30);
    char mid_file[256];
    uint64_t mid;
    sl_harness_master_status(src, mid_file, sizeof mid_file, &mid);
    char *want[2];
    for (int t = 0; t < 2; t++)
        want[t] = hash_of(src, "rp", t);
    /* The point: a second after the last transaction of the first part;
     * the second part starts once the source's clock reached it. */
    char *now = sl_harness_query_value(src, "SELECT UNIX_TIMESTAMP()");
    long long point = atoll(now) + 1;
    free(now);
    for (;;) {
        now = sl_harness_query_value(src, "SELECT UNIX_TIMESTAMP()");
        long long t = atoll(now);
        free(now);
        if (t >= point)
            break;
        sl_harness_sleep_ms(50);
    }
    workload(src, 30, 60);
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    static char paths[16][600];
    int n = binlog_paths(src, first, paths, 16);
    SL_CHECK_INT(n, 1);
    char *after = hash_of(src, "rp", 0);
    SL_CHECK(strcmp(after, want[0]) != 0); /* The second part changed it. */
    free(after);

    env_t e;
    env_start(&e);
    char at[64];
    snprintf(at, sizeof at, "@%lld", point);
    const char *extra[] = {"--include", "rp\\..*", "--stop-datetime", at, NULL};
    SL_CHECK_INT(replay(&e, paths, n, extra, "pit", 0), 0);
    char log[700];
    snprintf(log, sizeof log, "%s/replay.log", e.dir);
    sl_harness_wait_file_text(log, "stopped at --stop-datetime", 1000);
    /* --stop-position at the same point publishes the same; and
     * --start-datetime there publishes only the second part. */
    char midpos[32];
    snprintf(midpos, sizeof midpos, "%llu", (unsigned long long)mid);
    const char *bypos[] = {"--include", "rp\\..*", "--stop-position", midpos,
                           NULL};
    SL_CHECK_INT(replay(&e, paths, n, bypos, "pitpos", 0), 0);
    char *a = topic_text(&e, "pit"), *b = topic_text(&e, "pitpos");
    SL_CHECK_STR(b, a);
    free(b);
    const char *later[] = {"--include", "rp\\..*", "--start-datetime", at,
                           NULL};
    SL_CHECK_INT(replay(&e, paths, n, later, "later", 0), 0);
    b = topic_text(&e, "later");
    SL_CHECK(strstr(a, "\"id\":2999,") != NULL);
    SL_CHECK(strstr(b, "\"id\":2999,") == NULL);
    SL_CHECK(strstr(a, "\"id\":3000,") == NULL);
    SL_CHECK(strstr(b, "\"id\":3000,") != NULL);
    free(a);
    free(b);
    apply_until(&e, "pit", "rp_pit", want, "stop");

    /* sluice-apply --reset-to: shown without the confirmation, moved
     * with it; applied again with the idempotent drift policy, the
     * target ends as it was. */
    char target[256];
    snprintf(target, sizeof target, "mysql://%s@127.0.0.1:%u/rp_pit_meta",
             getenv("SL_TARGET_USER"), sl_harness_port("TARGET"));
    char *rargv[] = {(char *)sl_harness_bin("sluice-apply"),
                     "--broker",
                     e.b.addr,
                     "--topic",
                     "pit",
                     "--target",
                     target,
                     "--target-password-file",
                     getenv("SL_TARGET_PASSWORD_FILE"),
                     "--reset-to",
                     "@0",
                     NULL,
                     NULL};
    snprintf(log, sizeof log, "%s/reset.log", e.dir);
    int st, pid = sl_harness_spawn(rargv, log);
    SL_CHECK(sl_harness_wait_exit(pid, 30000, &st));
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    sl_harness_wait_file_text(log, "nothing changed", 1000);
    char *moved = sl_harness_query_value(
        dst, "SELECT COUNT(*) FROM rp_pit_meta.sluice_offsets WHERE "
             "next_offset = 0");
    SL_CHECK_STR(moved, "0");
    free(moved);
    /* The target damaged: only applying the stream again repairs it. */
    sl_harness_exec(dst, "UPDATE rp_pit.items SET v = 'damaged'");
    sl_harness_exec(dst, "DELETE FROM rp_pit.notes");
    rargv[11] = "--reset-confirm";
    pid = sl_harness_spawn(rargv, log);
    SL_CHECK(sl_harness_wait_exit(pid, 30000, &st));
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_wait_file_text(log, "idempotent drift policy", 1000);
    moved = sl_harness_query_value(
        dst, "SELECT SUM(next_offset) FROM rp_pit_meta.sluice_offsets");
    SL_CHECK_STR(moved, "0");
    free(moved);
    apply_until(&e, "pit", "rp_pit", want, "overwrite");
    for (int t = 0; t < 2; t++)
        free(want[t]);
    mysql_close(src);
    mysql_close(dst);
}

/* The file at path as a NUL-terminated string (sl_harness_slurp's buffer
 * is not terminated). */
static char *slurp_text(const char *path, size_t *len) {
    uint8_t *raw = sl_harness_slurp(path, len);
    char *text = malloc(*len + 1);
    SL_CHECK(text != NULL);
    memcpy(text, raw, *len);
    text[*len] = '\0';
    free(raw);
    return text;
}

/* Collects fixture binlogs (files with a companion .mariadb-binlog.txt). */
static void find_fixtures(const char *dir, char (*out)[600], int *n, int max) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *n < max) {
        if (de->d_name[0] == '.')
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            find_fixtures(path, out, n, max);
            continue;
        }
        size_t len = strlen(path);
        if (len > 3 && (strcmp(path + len - 3, ".gz") == 0 ||
                        strcmp(path + len - 4, ".txt") == 0 ||
                        strcmp(path + len - 4, ".sql") == 0 ||
                        strcmp(path + len - 3, ".md") == 0))
            continue;
        char txt[1300];
        snprintf(txt, sizeof txt, "%s.mariadb-binlog.txt", path);
        if (access(txt, R_OK) == 0 && strlen(path) < 600)
            snprintf(out[(*n)++], 600, "%s", path);
    }
    closedir(d);
}

/* The offline decoder's row lines of path (trx.seq removed), or NULL when
 * it fails on the file. */
static char *offline_rows(const char *path, const char *dir, int *nrows) {
    char out[700];
    snprintf(out, sizeof out, "%s/offline.jsonl", dir);
    unlink(out); /* sl_harness_spawn() appends. */
    char *argv[] = {(char *)sl_harness_bin("sluice-capture"), "--from-file",
                    (char *)path, NULL};
    int pid = sl_harness_spawn(argv, out);
    int st;
    SL_CHECK(sl_harness_wait_exit(pid, 60000, &st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return NULL;
    size_t len;
    char *text = slurp_text(out, &len);
    sl_buf_t rows = SL_BUF_INIT;
    *nrows = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(p, "{\"kind\":\"row\"", 13) == 0) {
            sl_buf_printf(&rows, "%s\n", p);
            (*nrows)++;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    sl_buf_append_u8(&rows, '\0');
    return (char *)rows.data;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The identity of a row event: its op, row number and source
 * coordinates (file, positions, server, time), without the images. */
static void row_key(const char *line, sl_buf_t *out) {
    const char *op = strstr(line, "\"op\":");
    const char *row = strstr(line, "\"row\":");
    const char *src = strstr(line, "\"src\":{");
    const char *end = src ? strchr(src, '}') : NULL;
    if (op)
        sl_buf_append(out, op, strcspn(op, ","));
    if (row)
        sl_buf_append(out, row, strcspn(row, ","));
    if (src && end)
        sl_buf_append(out, src, (size_t)(end - src) + 1);
}

/* The row lines of text (modified), "trx.seq" removed, sorted (a
 * partition holds one table's rows in order; across tables the order is
 * the partition layout's); with keys_only, each line's row_key(). */
static char *sorted_rows(char *text, int keys_only) {
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    char **lines = calloc(cap, sizeof *lines);
    SL_CHECK(lines != NULL);
    size_t n = 0;
    for (char *p = strtok(text, "\n"); p && n < cap; p = strtok(NULL, "\n"))
        if (strncmp(p, "{\"kind\":\"row\"", 13) == 0) {
            char *seq = strstr(p, "\"trx\":{\"seq\":");
            if (seq != NULL) {
                char *d = seq + 13;
                while (*d >= '0' && *d <= '9')
                    d++;
                memmove(seq + 13, d, strlen(d) + 1);
            }
            lines[n++] = p;
        }
    sl_buf_t keys = SL_BUF_INIT;
    if (keys_only) {
        char **k = calloc(n + 1, sizeof *k);
        SL_CHECK(k != NULL);
        for (size_t i = 0; i < n; i++) {
            sl_buf_reset(&keys);
            row_key(lines[i], &keys);
            sl_buf_append_u8(&keys, '\0');
            k[i] = strdup((const char *)keys.data);
        }
        free(lines);
        lines = k;
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    sl_buf_t b = SL_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        sl_buf_printf(&b, "%s\n", lines[i]);
        if (keys_only)
            free(lines[i]);
    }
    sl_buf_append_u8(&b, '\0');
    sl_buf_free(&keys);
    free(lines);
    return (char *)b.data;
}

/* The fixture binlogs with row events: replayed, the broker holds the
 * rows the offline decoder prints; a file the replay refuses (columns it
 * cannot name, statement-based DML) is refused with the reason. */
SL_TEST(capture_replay_fixtures) {
    const char *fx = sl_test_fixtures();
    if (fx == NULL)
        SL_SKIP("fixture binlogs absent ($SLUICE_FIXTURES or ../shared)");
    static char files[400][600];
    int nfiles = 0;
    find_fixtures(fx, files, &nfiles, 400);
    env_t e;
    env_start(&e);
    int same = 0, refused = 0, named = 0;
    for (int i = 0; i < nfiles; i++) {
        int nrows = 0;
        char *off = offline_rows(files[i], e.dir, &nrows);
        if (off == NULL || nrows == 0) {
            free(off);
            continue;
        }
        char topic[32];
        snprintf(topic, sizeof topic, "fx%d", i);
        int st = replay(&e, &files[i], 1, NULL, topic, 0);
        char log[700];
        snprintf(log, sizeof log, "%s/replay.log", e.dir);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            size_t len;
            char *text = slurp_text(log, &len);
            /* A refusal: a clean exit 1 with the reason logged (no
             * crash, nothing half-done). */
            char *why = strstr(text, "msg=\"capture stopped\" error=");
            int known = WIFEXITED(st) && WEXITSTATUS(st) == 1 && why != NULL;
            if (!known)
                printf("# %s: replay failed:\n%s\n", files[i], text);
            else
                printf("# %s: refused: %.300s\n", files[i], why + 23);
            SL_CHECK(known);
            free(text);
            refused++;
            free(off);
            unlink(log);
            continue;
        }
        unlink(log);
        /* Positional names offline ("@1"), which the replay took from the
         * file's own CREATE TABLE: the same events, compared by identity;
         * otherwise compared whole. */
        int positional = strstr(off, "\"@1\"") != NULL;
        char *got = topic_text(&e, topic);
        char *a = sorted_rows(got, positional),
             *b = sorted_rows(off, positional);
        if (strcmp(a, b) != 0)
            printf("# %s: the broker's rows differ from the offline "
                   "decoder's\n",
                   files[i]);
        SL_CHECK_STR(a, b);
        same++;
        named += positional;
        free(a);
        free(b);
        free(got);
        free(off);
    }
    printf("# fixtures: %d replayed with the offline decoder's rows (%d of "
           "them named from the file's own DDL, compared by event), %d "
           "refused with a reason\n",
           same, named, refused);
    SL_CHECK(same >= 25);
}

/* Group reset: by time, the next fetch starts at the first message at or
 * after it; refused while the group has a live member. */
SL_TEST(capture_replay_group_reset) {
    env_t e;
    env_start(&e);
    sl_client_t *cl = sl_harness_broker_client(&e.b, NULL);
    char msg[32];
    for (int i = 0; i < 5; i++) {
        snprintf(msg, sizeof msg, "early%d", i);
        SL_CHECK_OK(
            sl_client_put(cl, "g", "p0", msg, strlen(msg), -1, 0, NULL, NULL));
    }
    sl_harness_sleep_ms(30);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long at = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    sl_harness_sleep_ms(30);
    for (int i = 0; i < 5; i++) {
        snprintf(msg, sizeof msg, "late%d", i);
        SL_CHECK_OK(
            sl_client_put(cl, "g", "p0", msg, strlen(msg), -1, 0, NULL, NULL));
    }
    /* A consumer that read everything; it is a live member while its
     * connection is open. */
    SL_CHECK_OK(sl_client_commit(cl, "readers", "g", "p0", 10));
    char to[64], log[700];
    snprintf(to, sizeof to, "@%lldms", at);
    snprintf(log, sizeof log, "%s/groups.log", e.dir);
    char *argv[] = {(char *)sl_harness_bin("sluice"),
                    "--broker",
                    e.b.addr,
                    "groups",
                    "reset",
                    "readers",
                    "--to",
                    to,
                    NULL};
    int st;
    int pid = sl_harness_spawn(argv, log);
    SL_CHECK(sl_harness_wait_exit(pid, 30000, &st));
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    sl_harness_wait_file_text(log, "live member", 1000);
    uint64_t c;
    SL_CHECK_OK(sl_client_committed(cl, "readers", "g", "p0", &c));
    SL_CHECK_UINT(c, 10);
    sl_client_close(cl);

    /* The member gone, the reset goes through. */
    cl = sl_harness_broker_client(&e.b, NULL);
    unlink(log);
    pid = sl_harness_spawn(argv, log);
    SL_CHECK(sl_harness_wait_exit(pid, 30000, &st));
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sl_harness_wait_file_text(log, "idempotent", 1000);
    SL_CHECK_OK(sl_client_committed(cl, "readers", "g", "p0", &c));
    SL_CHECK_UINT(c, 5);
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "g", "p0", c, 1 << 20, 0, &f));
    SL_CHECK(f.count >= 1);
    SL_CHECK_MEM(f.recs[0].data, f.recs[0].len, "late0", 5);
    sl_client_close(cl);
}

/* Files written with binlog_row_metadata=MINIMAL: refused without table
 * definitions (nothing of the table published), replayed with
 * --schema-from (a live server's tables) or --schema-history (an earlier
 * capture's history); --exclude-gtids leaves one transaction out. */
SL_TEST(capture_replay_minimal_metadata) {
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    env_t e;
    env_start(&e);
    sl_harness_exec(src, "SET GLOBAL binlog_row_metadata = MINIMAL");
    sl_harness_exec(src, "DROP DATABASE IF EXISTS rpm");
    sl_harness_exec(src, "CREATE DATABASE rpm");
    sl_harness_exec(src, "CREATE TABLE rpm.m (id INT PRIMARY KEY, "
                         "name VARCHAR(20), qty INT UNSIGNED)");
    /* An earlier capture whose history holds the table. */
    char log[700];
    snprintf(log, sizeof log, "%s/hist.log", e.dir);
    const char *flags[] = {"--name",         "hist",        "--topic",
                           "histtopic",      "--server-id", "4177",
                           "--schema-check", "no",          NULL};
    int cpid = sl_harness_start_capture(e.b.addr, flags, log);
    sl_client_t *cl = sl_harness_broker_client(&e.b, NULL);
    for (int i = 0; i < 300; i++) {
        uint64_t a, b;
        if (sl_client_offsets(cl, "__sluice_capture", "hist.schema", &a, &b) ==
                0 &&
            b > 0)
            break;
        sl_harness_sleep_ms(100);
    }
    int st = sl_harness_stop(cpid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    sl_harness_exec(src, "FLUSH BINARY LOGS");
    char first[256];
    uint64_t pos;
    sl_harness_master_status(src, first, sizeof first, &pos);
    sl_harness_exec(src, "INSERT INTO rpm.m VALUES (1, 'one', 10)");
    char *gtid = sl_harness_query_value(src, "SELECT @@gtid_binlog_pos");
    sl_harness_exec(src, "INSERT INTO rpm.m VALUES (2, 'two', 20)");
    sl_harness_exec(src, "UPDATE rpm.m SET qty = 4000000000 WHERE id = 2");
    sl_harness_exec(src, "FLUSH BINARY LOGS");
    sl_harness_exec(src, "SET GLOBAL binlog_row_metadata = FULL");
    static char paths[4][600];
    int n = binlog_paths(src, first, paths, 4);
    SL_CHECK_INT(n, 1);

    /* Without definitions: refused, naming the remedies. */
    SL_CHECK_INT(replay(&e, paths, n, NULL, "none", 0), 1 << 8);
    snprintf(log, sizeof log, "%s/replay.log", e.dir);
    sl_harness_wait_file_text(log, "binlog_row_metadata=MINIMAL", 1000);
    sl_harness_wait_file_text(log, "--schema-from", 1000);
    char *none = sl_harness_partition_text(cl, "none", "rpm.m");
    SL_CHECK_STR(none, "");
    free(none);
    unlink(log);

    /* From a live server: the same replay run again with them names the
     * rows. */
    char url[200];
    snprintf(url, sizeof url, "mysql://%s@127.0.0.1:%u",
             getenv("SL_SOURCE_REPL_USER"), sl_harness_port("SOURCE"));
    const char *from[] = {"--schema-from", url, "--password-file",
                          getenv("SL_SOURCE_PASSWORD_FILE"), NULL};
    SL_CHECK_INT(replay(&e, paths, n, from, "none", 0), 0);
    char *text = sl_harness_partition_text(cl, "none", "rpm.m");
    SL_CHECK(strstr(text, "\"after\":{\"id\":1,\"name\":\"one\",\"qty\":10}"));
    SL_CHECK(strstr(text, "\"qty\":4000000000}") != NULL);
    free(text);

    /* A replay that stopped (with its checkpoint) before the rows, run
     * again with the definitions: resumed, it takes the tables its own
     * history lacks from them. */
    char at[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)pos);
    const char *stop[] = {"--stop-position", at, NULL};
    SL_CHECK_INT(replay(&e, paths, n, stop, "resume", 0), 0);
    unlink(log);
    SL_CHECK_INT(replay(&e, paths, n, from, "resume", 0), 0);
    sl_harness_wait_file_text(log, "resuming from checkpoint", 1000);
    sl_harness_wait_file_text(log, "tables_added=", 1000);
    text = sl_harness_partition_text(cl, "resume", "rpm.m");
    SL_CHECK(strstr(text, "\"after\":{\"id\":1,\"name\":\"one\",\"qty\":10}"));
    free(text);

    /* From the earlier capture's history, leaving the first insert out. */
    const char *hist[] = {"--schema-history", "hist", "--exclude-gtids", gtid,
                          NULL};
    SL_CHECK_INT(replay(&e, paths, n, hist, "hist", 0), 0);
    text = sl_harness_partition_text(cl, "hist", "rpm.m");
    SL_CHECK(strstr(text, "\"name\":\"one\"") == NULL);
    SL_CHECK(strstr(text, "\"after\":{\"id\":2,\"name\":\"two\",\"qty\":20}"));
    free(text);
    free(gtid);
    sl_client_close(cl);
    mysql_close(src);
}
