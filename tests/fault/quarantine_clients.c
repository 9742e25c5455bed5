/*
 * Fault test: what the clients do with records the broker quarantined as
 * damaged (422, docs/protocol.md), against the real programs.
 *
 * One partition of change events (transactions of begin, one insert, and
 * commit, each its own batch) is written and the broker stopped cleanly.
 * A byte of one row event in the segment file is flipped and the index
 * files are deleted, so start-up scans the whole log and finds the damage:
 * without --quarantine-damaged it refuses to start; with it, the broker
 * serves everything else and answers reads of the damaged offset with 422.
 * Then:
 *   - `sluice tail` prints every record before the damage, then a clear
 *     error naming the offsets and where to go on, and exits 1; `tail
 *     --from NEXT` reads the rest;
 *   - sluice-apply commits the transactions before the damage into a real
 *     MariaDB target, then stops the partition with an error naming the
 *     topic, partition and damaged offsets: it neither retries (spins) nor
 *     skips the damaged transaction.
 * A second test gives apply a hole at the end of its partition (offsets
 * recovery skipped after a kill -9 without a checkpoint file): the last
 * fetch with records sees the partition's latest above its end, so the
 * target transaction used to stay open until a new event came; a fetch
 * that finds nothing now commits it.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTRX 60
#define BAD_TRX 30 /* Its row event is damaged. */
#define TOPIC "qd"
#define PART "qd_src.t"

typedef sl_harness_broker_t broker_t;

static char root[512], data[600];

/* Starts the broker on data; 0 when it listens, -1 when it exited (its
 * wait status in *status). */
static int broker_run(broker_t *b, int quarantine, int *status) {
    static int n;
    snprintf(b->data, sizeof b->data, "%s", data);
    snprintf(b->log, sizeof b->log, "%s/broker-%d.log", root, ++n);
    const char *const flags[] = {
        "--fsync", "always", quarantine ? "--quarantine-damaged" : NULL, NULL};
    return sl_harness_broker_run(b, flags, 30000, status);
}

static void put(sl_client_t *cl, const char *json, uint64_t want) {
    uint64_t off;
    int dup;
    SL_CHECK_OK(
        sl_client_put(cl, TOPIC, PART, json, strlen(json), -1, 0, &off, &dup));
    SL_CHECK_UINT(off, want);
}

/* Transaction k (1-based) at offsets 3(k-1) .. 3(k-1)+2. */
static void write_events(sl_client_t *cl) {
    char ev[1024];
    uint64_t off = 0;
    for (int k = 1; k <= NTRX; k++) {
        const char *src = "\"src\":{\"file\":\"b.1\",\"pos\":%d,\"end_pos\":"
                          "%d,\"server_id\":1,\"ts\":1},\"trx\":{\"seq\":%d,"
                          "\"id\":\"0-1-%d\"}";
        char s[300];
        snprintf(s, sizeof s, src, k, k, k, k);
        snprintf(ev, sizeof ev, "{\"kind\":\"begin\",%s}", s);
        put(cl, ev, off++);
        snprintf(ev, sizeof ev,
                 "{\"kind\":\"row\",\"op\":\"insert\","
                 "\"db\":\"qd_src\",\"table\":\"t\",\"row\":0,\"pk\":"
                 "[\"id\"],\"before\":null,\"after\":{\"id\":%d,\"v\":"
                 "\"%s-%03d\"},%s}",
                 k, k == BAD_TRX ? "DAMAGE" : "value", k, s);
        put(cl, ev, off++);
        snprintf(ev, sizeof ev, "{\"kind\":\"commit\",\"rows\":1,%s}", s);
        put(cl, ev, off++);
    }
}

/* Flips one byte of the damaged row's value in the (only) segment. */
static void damage(void) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/log", data);
    DIR *d = opendir(dir);
    SL_CHECK(d != NULL);
    struct dirent *e;
    int flipped = 0;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".log") == NULL)
            continue;
        char path[1000];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r+b");
        SL_CHECK(f != NULL);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        char *at = memmem(buf, n, "DAMAGE-030", 10);
        if (at != NULL) {
            fseek(f, at - buf, SEEK_SET);
            fputc('d', f); /* 'D' -> 'd': the batch CRC fails. */
            flipped++;
        }
        fclose(f);
    }
    closedir(d);
    SL_CHECK_INT(flipped, 1);
    /* Without index files start-up scans the whole log and finds it. */
    snprintf(dir, sizeof dir, "%s/idx", data);
    d = opendir(dir);
    SL_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1000];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        SL_CHECK_INT(unlink(path), 0);
    }
    closedir(d);
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static int file_count(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* Runs `sluice tail` with extra arguments; returns its exit status. */
static int tail(const broker_t *b, const char *extra, const char *out,
                const char *err) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s --broker %s tail %s %s %s > %s 2> %s",
             sl_harness_bin("sluice"), b->addr, TOPIC, PART, extra, out, err);
    int rc = system(cmd);
    SL_CHECK(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

/* A fresh target for the events of write_events(). */
static MYSQL *fresh_target(void) {
    MYSQL *m = sl_harness_mysql("TARGET", NULL);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS qd_dst");
    sl_harness_exec(m, "DROP DATABASE IF EXISTS qd_meta");
    sl_harness_exec(m, "CREATE DATABASE qd_dst");
    sl_harness_exec(m, "CREATE DATABASE qd_meta");
    sl_harness_exec(m, "CREATE TABLE qd_dst.t (id INT PRIMARY KEY, "
                       "v VARCHAR(40))");
    return m;
}

static int spawn_apply(const broker_t *b, const char *log) {
    char target[200], pwf[600], logp[700];
    sl_harness_mysql_url("TARGET", "USER", "qd_meta", target, sizeof target);
    snprintf(pwf, sizeof pwf, "%s", sl_harness_password_file("TARGET"));
    snprintf(logp, sizeof logp, "%s/%s", root, log);
    char *argv[] = {(char *)sl_harness_bin("sluice-apply"),
                    "--broker",
                    (char *)b->addr,
                    "--topic",
                    TOPIC,
                    "--group",
                    "g",
                    "--workers",
                    "1",
                    "--target",
                    target,
                    "--target-password-file",
                    pwf,
                    "--map",
                    "qd_src=qd_dst",
                    "--poll",
                    "200ms",
                    NULL};
    return sl_harness_spawn(argv, logp);
}

/* Makes root (TMPDIR/name) and the broker's data directory in it, starts
 * the broker there and writes the events. */
static void start_with_events(broker_t *b, const char *name) {
    snprintf(root, sizeof root, "%s/%s", sl_test_tmpdir(), name);
    mkdir(root, 0700);
    snprintf(data, sizeof data, "%s/broker", root);
    mkdir(data, 0700);
    int st = 0;
    SL_CHECK_INT(broker_run(b, 0, &st), 0);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(b->addr, NULL, &cl));
    write_events(cl);
    sl_client_close(cl);
}

SL_TEST(apply_commits_before_a_hole_at_the_end) {
    broker_t b = {0};
    int st = 0;
    start_with_events(&b, "hole");
    sl_client_t *cl;
    /* No checkpoint: recovery skips the partition to its high-water mark. */
    sl_harness_stop(b.pid, SIGKILL, 10000);
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoint", data);
    SL_CHECK_INT(unlink(path), 0);
    SL_CHECK_INT(broker_run(&b, 0, &st), 0);
    SL_CHECK_INT(file_count(b.log, "offsets skipped to the high-water mark"),
                 1);
    SL_CHECK_OK(sl_client_connect(b.addr, NULL, &cl));
    uint64_t earliest, latest;
    SL_CHECK_OK(sl_client_offsets(cl, TOPIC, PART, &earliest, &latest));
    SL_CHECK(latest > 4000); /* 3 * NTRX records, then the hole. */
    sl_client_close(cl);
    MYSQL *m = fresh_target();
    int apply = spawn_apply(&b, "apply-hole.log");
    char all[16];
    snprintf(all, sizeof all, "%d", NTRX);
    char *v = NULL;
    for (int i = 0; i < 600; i++) {
        free(v);
        v = sl_harness_query_value(m, "SELECT COUNT(*) FROM qd_dst.t");
        if (v != NULL && strcmp(v, all) == 0)
            break;
        sl_harness_sleep_ms(100);
    }
    SL_CHECK_STR(v, all);
    free(v);
    int status = sl_harness_stop(apply, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mysql_close(m);
    sl_harness_stop(b.pid, SIGTERM, 20000);
}

SL_TEST(quarantined_records_stop_tail_and_apply) {
    broker_t b = {0};
    int st = 0;
    start_with_events(&b, "quarantine");
    sl_client_t *cl;
    st = sl_harness_stop(b.pid, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    damage();

    /* Without the option start-up stops; with it the broker serves. */
    SL_CHECK_INT(broker_run(&b, 0, &st), -1);
    SL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    SL_CHECK_INT(broker_run(&b, 1, &st), 0);
    const uint64_t bad = 3 * (BAD_TRX - 1) + 1; /* The row's offset. */
    SL_CHECK_OK(sl_client_connect(b.addr, NULL, &cl));
    sl_client_fetch_t f;
    SL_CHECK_INT(sl_client_get(cl, TOPIC, PART, bad, 1 << 20, 0, &f),
                 SL_EDAMAGED);
    SL_CHECK_UINT(f.next, bad + 1);
    SL_CHECK_UINT(f.count, 0);
    sl_client_close(cl);

    /* sluice tail: the records before, a clear error, exit 1. */
    char out[700], err[700];
    snprintf(out, sizeof out, "%s/tail.out", root);
    snprintf(err, sizeof err, "%s/tail.err", root);
    SL_CHECK_INT(tail(&b, "", out, err), 1);
    SL_CHECK_INT(count_lines(out), (int)bad);
    char want[300];
    snprintf(want, sizeof want,
             "sluice: %s/%s offsets %llu-%llu are "
             "damaged on the broker (quarantined)",
             TOPIC, PART, (unsigned long long)bad, (unsigned long long)bad);
    SL_CHECK_INT(file_count(err, want), 1);
    snprintf(want, sizeof want, "--from %llu", (unsigned long long)bad + 1);
    SL_CHECK_INT(file_count(err, want), 1);
    /* The operator may skip them deliberately. */
    snprintf(want, sizeof want, "--from %llu", (unsigned long long)bad + 1);
    SL_CHECK_INT(tail(&b, want, out, err), 0);
    SL_CHECK_INT(count_lines(out), 3 * NTRX - (int)bad - 1);
    SL_CHECK_INT(file_count(out, "DAMAGE"), 0);

    /* sluice-apply into a real target. */
    MYSQL *m = fresh_target();
    char logp[700];
    snprintf(logp, sizeof logp, "%s/apply.log", root);
    int apply = spawn_apply(&b, "apply.log");
    for (int i = 0; i < 600 && file_count(logp, "partition stopped") == 0; i++)
        sl_harness_sleep_ms(100);
    snprintf(want, sizeof want,
             "topic %s partition %s offsets %llu-%llu "
             "are damaged on the broker",
             TOPIC, PART, (unsigned long long)bad, (unsigned long long)bad);
    SL_CHECK_INT(file_count(logp, want), 1);
    /* Stopped for good: a second look later finds no retry either. */
    sl_harness_sleep_ms(1000);
    SL_CHECK_INT(file_count(logp, "partition stopped"), 1);
    SL_CHECK_INT(file_count(logp, "fetch failed"), 0);
    /* The transactions before the damage are in the target; neither the
     * damaged one nor any after it. */
    char before[16];
    snprintf(before, sizeof before, "%d", BAD_TRX - 1);
    char *v = sl_harness_query_value(m, "SELECT COUNT(*) FROM qd_dst.t");
    SL_CHECK_STR(v, before);
    free(v);
    v = sl_harness_query_value(m, "SELECT MAX(id) FROM qd_dst.t");
    SL_CHECK_STR(v, before);
    free(v);
    sl_harness_stop(apply, SIGTERM, 20000);
    mysql_close(m);
    sl_harness_stop(b.pid, SIGTERM, 20000);
}
