/*
 * Capture over a broker whose recovery skipped offsets (a "hole",
 * docs/broker.md "Checkpoints and crash recovery"): a real MariaDB
 * source, a real sluice-broker and sluice-capture as a process.
 *
 * Capture publishes and checkpoints, stops cleanly; the broker is killed
 * with SIGKILL and its checkpoint file deleted, so recovery cannot vouch
 * for the partitions' newest batches and skips every partition's next
 * offset to its high-water mark: the last offset of capture's checkpoint
 * partition (and of its schema-history and data partitions) then holds
 * nothing. Capture, started again, must find its checkpoint below the
 * hole (it used to read only `latest - 1` and refuse to start), resume
 * from it and publish every row once: nothing twice, nothing lost, in
 * order, across the hole.
 */
#include "capture/publish.h"
#include "capture/schema/history.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "holes"
#define ROWS1 40
#define ROWS2 40

typedef struct {
    char dir[512];
    sl_harness_broker_t broker;
    char start_file[128];
    uint64_t start_pos;
} env_t;

static void start_broker(env_t *env, int n) {
    static const char *const flags[] = {"--fsync", "always", NULL};
    snprintf(env->broker.log, sizeof env->broker.log, "%s/broker%d.log",
             env->dir, n);
    sl_harness_broker_start(&env->broker, flags, 20000);
}

static int start_capture(env_t *env, const char *log) {
    char start[200], path[700];
    snprintf(start, sizeof start, "%s:%llu", env->start_file,
             (unsigned long long)env->start_pos);
    const char *const flags[] = {"--topic",
                                 TOPIC,
                                 "--server-id",
                                 "3011",
                                 "--start",
                                 start,
                                 "--include",
                                 "holes\\..*",
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 "--report-interval",
                                 "60s",
                                 NULL};
    snprintf(path, sizeof path, "%s/%s", env->dir, log);
    return sl_harness_start_capture(env->broker.addr, flags, path);
}

static void workload(MYSQL *mysql, int from, int count) {
    char sql[256];
    for (int i = from; i < from + count; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO holes.t VALUES (%d, 'v%d')", i,
                 i);
        sl_harness_exec(mysql, sql);
    }
}

/* The newest record of a partition, read forward from earliest (reads
 * pass over holes): *found 0 when there is none. */
static void newest(sl_client_t *cl, const char *topic, const char *part,
                   char *out, size_t outlen, int *found) {
    uint64_t earliest, latest;
    *found = 0;
    if (sl_client_offsets(cl, topic, part, &earliest, &latest) != 0)
        return;
    uint64_t at = earliest;
    while (at < latest) {
        sl_client_fetch_t f;
        if (sl_client_get(cl, topic, part, at, 1 << 20, 0, &f) != 0 ||
            f.count == 0)
            return;
        const sl_client_rec_t *r = &f.recs[f.count - 1];
        snprintf(out, outlen, "%.*s", (int)r->len, (const char *)r->data);
        *found = 1;
        at = f.next;
    }
}

/* Waits until capture's checkpoint reaches the source's current end. */
static void wait_caught_up(env_t *env, MYSQL *mysql, const char *log) {
    char file[128];
    uint64_t end;
    sl_harness_master_status(mysql, file, sizeof file, &end);
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env->broker.addr, NULL, &cl));
    for (int i = 0; i < 600; i++) {
        char rec[1024];
        int found;
        sl_checkpoint_t cp;
        newest(cl, "__sluice_capture", TOPIC, rec, sizeof rec, &found);
        if (found &&
            sl_checkpoint_decode((const uint8_t *)rec, strlen(rec), &cp) == 0 &&
            sl_history_cmp(cp.file, cp.pos, file, end) >= 0) {
            sl_client_close(cl);
            return;
        }
        sl_harness_sleep_ms(100);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s/%s", env->dir, log);
    if (system(cmd) != 0)
        printf("# no capture log\n");
    sl_test_fail(__FILE__, __LINE__, "capture did not catch up in 60 s");
}

static int file_has(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int hit = 0;
    while (!hit && fgets(line, sizeof line, f) != NULL)
        hit = strstr(line, text) != NULL;
    fclose(f);
    return hit;
}

SL_TEST(capture_resumes_below_a_hole_at_the_end) {
    env_t env;
    memset(&env, 0, sizeof env);
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    snprintf(env.dir, sizeof env.dir, "%s", sl_test_tmpdir());
    snprintf(env.broker.data, sizeof env.broker.data, "%s/broker", env.dir);
    start_broker(&env, 1);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS holes");
    sl_harness_exec(mysql, "CREATE DATABASE holes");
    sl_harness_exec(mysql, "CREATE TABLE holes.t (id INT PRIMARY KEY, "
                           "v VARCHAR(20))");
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    sl_harness_master_status(mysql, env.start_file, sizeof env.start_file,
                             &env.start_pos);

    int cap = start_capture(&env, "capture1.log");
    workload(mysql, 1, ROWS1);
    wait_caught_up(&env, mysql, "capture1.log");
    int status = sl_harness_stop(cap, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Without its checkpoint file, recovery cannot vouch for the newest
     * batches (recover.c): every partition skips to its high-water mark. */
    sl_harness_stop(env.broker.pid, SIGKILL, 10000);
    char path[700];
    snprintf(path, sizeof path, "%s/checkpoint", env.broker.data);
    SL_CHECK_INT(unlink(path), 0);
    start_broker(&env, 2);
    snprintf(path, sizeof path, "%s/broker2.log", env.dir);
    SL_CHECK(file_has(path, "offsets skipped to the high-water mark"));
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(env.broker.addr, NULL, &cl));
    uint64_t earliest, latest;
    SL_CHECK_OK(
        sl_client_offsets(cl, "__sluice_capture", TOPIC, &earliest, &latest));
    SL_CHECK(latest > 4096); /* Only a few checkpoints were written. */
    sl_client_fetch_t f;
    SL_CHECK_OK(sl_client_get(cl, "__sluice_capture", TOPIC, latest - 1,
                              1 << 20, 0, &f));
    SL_CHECK_UINT(f.count, 0); /* The last offset is in the hole. */

    /* Rows written while capture is down, then capture again. */
    workload(mysql, ROWS1 + 1, ROWS2);
    cap = start_capture(&env, "capture2.log");
    wait_caught_up(&env, mysql, "capture2.log");
    snprintf(path, sizeof path, "%s/capture2.log", env.dir);
    SL_CHECK(!file_has(path, "could not be read"));

    /* Every row once, in order, the hole in between. */
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    int next_id = 1;
    uint64_t at = 0, hole_from = 0, hole_to = 0;
    SL_CHECK_OK(sl_client_offsets(cl, TOPIC, "holes.t", &earliest, &latest));
    while (at < latest) {
        SL_CHECK_OK(sl_client_get(cl, TOPIC, "holes.t", at, 1 << 20, 0, &f));
        if (f.count == 0)
            break;
        for (size_t i = 0; i < f.count; i++) {
            if (f.recs[i].offset != at && hole_to == 0) {
                hole_from = at;
                hole_to = f.recs[i].offset;
            }
            at = f.recs[i].offset + 1;
            SL_CHECK_OK(
                sl_jr_parse(&doc, (const char *)f.recs[i].data, f.recs[i].len));
            uint32_t kind = sl_jr_get(&doc, 0, "kind");
            if (kind == SL_JR_NONE || !sl_jr_str_eq(&doc, kind, "row", 3))
                continue;
            uint32_t after = sl_jr_get(&doc, 0, "after");
            SL_CHECK(after != SL_JR_NONE);
            int64_t id = 0;
            SL_CHECK_OK(sl_jr_i64(&doc, sl_jr_get(&doc, after, "id"), &id));
            if (id != next_id)
                sl_test_fail(__FILE__, __LINE__,
                             "row id %lld at offset "
                             "%llu, expected %d",
                             (long long)id,
                             (unsigned long long)f.recs[i].offset, next_id);
            next_id++;
        }
        at = f.next;
    }
    sl_jr_free(&doc);
    SL_CHECK_INT(next_id, ROWS1 + ROWS2 + 1);
    /* The data partition skipped too: the rows after the restart lie
     * above the hole. */
    SL_CHECK(hole_to > hole_from + 4000);
    printf("# data partition hole %llu-%llu\n", (unsigned long long)hole_from,
           (unsigned long long)(hole_to - 1));

    status = sl_harness_stop(cap, SIGTERM, 20000);
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sl_client_close(cl);
    sl_harness_stop(env.broker.pid, SIGTERM, 20000);
    mysql_close(mysql);
}
