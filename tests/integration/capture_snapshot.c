/*
 * Snapshots against a real MariaDB source (docs/snapshot.md): tables that
 * already hold rows are read in chunks while a workload changes them, and
 * what the table's partition carries, replayed into a model the way apply
 * does it (read rows and stream rows as upserts, deletes as deletes, a
 * primary-key change as a delete of the old key), must equal the source
 * row for row at the end. Capture is killed with SIGKILL again and again
 * during the snapshot.
 *
 * Scale: SL_SNAPSHOT_ROWS rows (default 50,000 here; the issue's
 * 1,000,000 run is SL_SNAPSHOT_ROWS=1000000, or bench/snapshot.sh).
 */
#include "client.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"
#include "strmap.h"
/* The schema validator of the unit tests; its error paths may be cut. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "../unit/test_capture_lib.h"
#pragma GCC diagnostic pop

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define DB "snap_it"

static unsigned rnd_state = 12345;
static unsigned rnd(void) {
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xffffff;
}

static int log_has(const char *path, const char *want) {
    size_t len;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    fclose(f);
    char *log = (char *)sl_harness_slurp(path, &len);
    log = realloc(log, len + 1);
    log[len] = '\0';
    int hit = strstr(log, want) != NULL;
    free(log);
    return hit;
}

static int count_in_log(const char *path, const char *want) {
    size_t len;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0; /* Not written yet. */
    fclose(f);
    char *log = (char *)sl_harness_slurp(path, &len);
    log = realloc(log, len + 1);
    log[len] = '\0';
    int n = 0;
    for (char *p = log; (p = strstr(p, want)) != NULL; p++)
        n++;
    free(log);
    return n;
}

/* The text of a JSON value as SQL prints it: a string unescaped, a number
 * as it is, null as "\N". */
static void value_text(const sl_jr_doc_t *doc, uint32_t v, sl_buf_t *out) {
    if (v == SL_JR_NONE || sl_jr_type(doc, v) == SL_JR_NULL) {
        sl_buf_append_str(out, "\\N");
        return;
    }
    if (sl_jr_type(doc, v) == SL_JR_STRING) {
        sl_jr_unescape(doc, v, out);
        return;
    }
    size_t n;
    const char *raw = sl_jr_raw(doc, v, &n);
    sl_buf_append(out, raw, n);
}

/* The model of the target: key text -> row text (malloc'd), both the
 * columns joined with '|'. */
typedef struct {
    sl_strmap_t rows;
    const char *const *cols;
    size_t ncols, npk;
    uint64_t reads, starts, dones, stream;
} model_t;

static void image_text(const sl_jr_doc_t *doc, uint32_t img, const model_t *m,
                       size_t ncols, sl_buf_t *out) {
    sl_buf_reset(out);
    for (size_t i = 0; i < ncols; i++) {
        if (i)
            sl_buf_append_u8(out, '|');
        value_text(doc, sl_jr_get(doc, img, m->cols[i]), out);
    }
}

static void model_del(model_t *m, const char *key, size_t len) {
    free(sl_strmap_del(&m->rows, key, len));
}

static void model_put(model_t *m, sl_buf_t *key, sl_buf_t *row) {
    model_del(m, (const char *)key->data, key->len);
    char *v = strndup((const char *)row->data, row->len);
    SL_CHECK(v != NULL);
    SL_CHECK_OK(sl_strmap_put(&m->rows, key->data, key->len, v));
}

/* Replays one partition's events into the model; every event must also
 * validate against schemas/change-event.schema.json. */
static void replay(model_t *m, const char *text) {
    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    sl_buf_t key = SL_BUF_INIT, row = SL_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        SL_CHECK_OK(sl_jr_parse(&doc, p, len));
        ct_node_t *ev = ct_parse(p, len);
        char verr[256];
        if (!ct_validate(schema, ev, verr, sizeof verr, "$"))
            sl_test_fail(__FILE__, __LINE__, "%s: %.*s", verr, (int)len, p);
        ct_free(ev);
        uint32_t kind = sl_jr_get(&doc, 0, "kind");
        if (sl_jr_str_eq(&doc, kind, "snapshot_start", 14))
            m->starts++;
        if (sl_jr_str_eq(&doc, kind, "snapshot_done", 13))
            m->dones++;
        if (sl_jr_str_eq(&doc, kind, "row", 3)) {
            uint32_t op = sl_jr_get(&doc, 0, "op");
            uint32_t before = sl_jr_get(&doc, 0, "before");
            uint32_t after = sl_jr_get(&doc, 0, "after");
            if (sl_jr_str_eq(&doc, op, "read", 4))
                m->reads++;
            else
                m->stream++;
            if (sl_jr_type(&doc, before) == SL_JR_OBJECT) {
                image_text(&doc, before, m, m->npk, &key);
                model_del(m, (const char *)key.data, key.len);
            }
            if (sl_jr_type(&doc, after) == SL_JR_OBJECT) {
                image_text(&doc, after, m, m->npk, &key);
                image_text(&doc, after, m, m->ncols, &row);
                model_put(m, &key, &row);
            }
        }
        p += len + (nl ? 1 : 0);
    }
    sl_jr_free(&doc);
    sl_buf_free(&key);
    sl_buf_free(&row);
    ct_free(schema);
}

/* Compares the model with the source's rows (select lists the columns in
 * model order, primary key first); returns the differences, printing the
 * first few. */
static long compare(model_t *m, MYSQL *mysql, const char *select) {
    SL_CHECK(mysql_query(mysql, select) == 0);
    MYSQL_RES *res = mysql_use_result(mysql);
    SL_CHECK(res != NULL);
    long bad = 0, n = 0;
    sl_buf_t key = SL_BUF_INIT, row = SL_BUF_INIT;
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL) {
        n++;
        unsigned long *lens = mysql_fetch_lengths(res);
        sl_buf_reset(&key);
        sl_buf_reset(&row);
        for (size_t i = 0; i < m->ncols; i++) {
            sl_buf_t *b = &row;
            if (i)
                sl_buf_append_u8(b, '|');
            if (r[i] == NULL)
                sl_buf_append_str(b, "\\N");
            else
                sl_buf_append(b, r[i], lens[i]);
            if (i + 1 == m->npk)
                sl_buf_append(&key, row.data, row.len);
        }
        char *got = sl_strmap_del(&m->rows, key.data, key.len);
        if (got == NULL || strlen(got) != row.len ||
            memcmp(got, row.data, row.len) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "source row %.*s: target has %s\n",
                        (int)row.len, (const char *)row.data,
                        got ? got : "nothing");
        }
        free(got);
    }
    mysql_free_result(res);
    for (size_t b = 0; b < m->rows.nbuckets; b++)
        for (sl_strmap_node_t *nd = m->rows.buckets[b]; nd; nd = nd->next) {
            if (bad++ < 10)
                fprintf(stderr, "target has %s, the source has no such row\n",
                        (const char *)nd->value);
            free(nd->value);
        }
    sl_strmap_free(&m->rows);
    sl_buf_free(&key);
    sl_buf_free(&row);
    printf("# compared %ld source rows: %ld differences\n", n, bad);
    return bad;
}

/* Where the snapshot reads now: the chunk number in capture's watermark
 * times the chunk size (the seed keys are dense), or -1. */
static long reading_at(MYSQL *mysql, const char *name, long chunk) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT mark FROM sluice.watermark WHERE name = '%s'", name);
    if (mysql_query(mysql, sql) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    long at = -1;
    const char *colon = row && row[0] ? strchr(row[0], ':') : NULL;
    if (colon != NULL)
        at = atol(colon + 1) * chunk;
    if (res != NULL)
        mysql_free_result(res);
    return at;
}

/* A random change; half of them aim at the keys the snapshot reads now
 * (at, when known). */
static void random_change(MYSQL *mysql, long nrows, long at) {
    char sql[512];
    long id = 1 + (long)(rnd() % (unsigned)(nrows * 2));
    if (at >= 0 && rnd() % 2)
        id = at + 1 + (long)(rnd() % 1400);
    switch (rnd() % 6) {
    case 0:
        snprintf(sql, sizeof sql,
                 "INSERT IGNORE INTO " DB ".t VALUES (%ld, %u, 'ins')", id,
                 rnd());
        break;
    case 1:
        snprintf(sql, sizeof sql,
                 "UPDATE " DB ".t SET v = %u, pad = 'upd' WHERE id = %ld",
                 rnd(), id);
        break;
    case 2:
        snprintf(sql, sizeof sql, "DELETE FROM " DB ".t WHERE id = %ld", id);
        break;
    case 3: /* A primary-key change, often across chunks. */
        snprintf(sql, sizeof sql,
                 "UPDATE IGNORE " DB ".t SET id = %ld, pad = 'moved' WHERE "
                 "id = %ld",
                 1 + (long)(rnd() % (unsigned)(nrows * 2)), id);
        break;
    case 4: /* Range updates over what a chunk may be reading. */
        snprintf(sql, sizeof sql,
                 "UPDATE " DB ".t SET v = v + 1 WHERE id BETWEEN %ld AND %ld",
                 id, id + 20);
        break;
    default: /* The visibility race: insert then update in one trx. */
        sl_harness_exec(mysql, "BEGIN");
        snprintf(sql, sizeof sql,
                 "INSERT IGNORE INTO " DB ".t VALUES (%ld, 0, 'race')",
                 id + nrows);
        mysql_query(mysql, sql);
        snprintf(sql, sizeof sql, "UPDATE " DB ".t SET v = %u WHERE id = %ld",
                 rnd(), id + nrows);
        mysql_query(mysql, sql);
        snprintf(sql, sizeof sql, "COMMIT");
        break;
    }
    if (mysql_query(mysql, sql) != 0)
        fprintf(stderr, "# %s: %s\n", sql, mysql_error(mysql));
}

SL_TEST(capture_snapshot_joins_the_stream_under_writes_and_kills) {
    long nrows = 50000;
    /* Each chunk's window stays open 20 ms after its read, so that the
     * changes aimed at it land there: a window that failed to drop them
     * would publish stale rows, and the comparison would fail. */
    setenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS", "20", 1);
    const char *env = getenv("SL_SNAPSHOT_ROWS");
    if (env != NULL && atol(env) > 0)
        nrows = atol(env);
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    MYSQL *w = sl_harness_mysql("SOURCE", NULL);
    char sql[512];
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(mysql, "CREATE DATABASE " DB);
    sl_harness_exec(mysql, "USE " DB);
    sl_harness_exec(mysql, "CREATE TABLE " DB ".t (id BIGINT PRIMARY KEY, "
                           "v BIGINT, pad VARCHAR(40))");
    snprintf(sql, sizeof sql,
             "INSERT INTO " DB ".t SELECT seq, seq * 7, CONCAT('seed-', seq) "
             "FROM seq_1_to_%ld",
             nrows);
    sl_harness_exec(mysql, sql);
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture.log", sl_test_tmpdir());
    const char *const flags[] = {"--topic",
                                 "snap",
                                 "--name",
                                 "snap1",
                                 "--server-id",
                                 "3071",
                                 "--include",
                                 DB "\\.t",
                                 "--snapshot",
                                 "initial",
                                 "--snapshot-chunk",
                                 "700",
                                 "--snapshot-chunk-time",
                                 "0",
                                 "--checkpoint-interval",
                                 "50ms",
                                 "--heartbeat",
                                 "200ms",
                                 NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    int kills = 0;
    long changes = 0;
    /* Writes run all along; capture is killed whenever it has published
     * another stretch of the snapshot, until it has been killed 5 times
     * and the snapshot is complete. */
    for (int round = 0; round < 100000; round++) {
        long at = reading_at(w, "snap1", 700);
        for (int i = 0; i < 20; i++, changes++)
            random_change(w, nrows, at);
        int status;
        if (waitpid(cap, &status, WNOHANG) == cap) {
            char cmd[800];
            snprintf(cmd, sizeof cmd, "tail -n 20 %s >&2", logpath);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
            sl_test_fail(__FILE__, __LINE__, "capture exited");
        }
        int done = log_has(logpath, "snapshot complete");
        if (done && kills >= 5)
            break;
        if (!done && kills < 5 && round % 10 == 9 &&
            count_in_log(logpath, "replicating") > kills) {
            kill(cap, SIGKILL);
            waitpid(cap, &status, 0);
            kills++;
            cap = sl_harness_start_capture(b.addr, flags, logpath);
        }
        if (done && kills < 5) {
            /* Finished before the kills: kill it in the stream anyway,
             * the resume must not read again nor lose anything. */
            kill(cap, SIGKILL);
            waitpid(cap, &status, 0);
            kills++;
            cap = sl_harness_start_capture(b.addr, flags, logpath);
        }
        sl_harness_sleep_ms(5);
    }
    printf("# %d kills, %ld changes during the snapshot\n", kills, changes);
    SL_CHECK(kills >= 5);
    SL_CHECK(log_has(logpath, "snapshot complete"));
    /* A last change that capture must reach: then everything before it
     * is published. */
    sl_harness_exec(w, "INSERT INTO " DB ".t VALUES (0, 0, 'the-end')");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snap", DB ".t", "the-end", logpath);
    char *text = sl_harness_partition_text(cl, "snap", DB ".t");
    static const char *const cols[] = {"id", "v", "pad"};
    model_t m = {.cols = cols, .ncols = 3, .npk = 1};
    SL_CHECK_OK(sl_strmap_init(&m.rows));
    replay(&m, text);
    free(text);
    printf("# partition: %llu read rows, %llu stream rows, %llu starts, "
           "%llu dones\n",
           (unsigned long long)m.reads, (unsigned long long)m.stream,
           (unsigned long long)m.starts, (unsigned long long)m.dones);
    SL_CHECK(m.starts >= 1);
    SL_CHECK(m.dones >= 1);
    SL_CHECK(m.reads > 0);
    SL_CHECK_INT(compare(&m, mysql, "SELECT id, v, pad FROM " DB ".t"), 0);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE " DB);
    mysql_close(w);
    mysql_close(mysql);
}

static void wait_log(const char *path, const char *want, int count) {
    for (int i = 0; i < 1200; i++) {
        if (count_in_log(path, want) >= count)
            return;
        sl_harness_sleep_ms(50);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
    sl_test_fail(__FILE__, __LINE__, "no \"%s\" x%d in the log", want, count);
}

static long check_table(sl_client_t *cl, MYSQL *mysql, const char *topic,
                        const char *part, const char *const *cols, size_t ncols,
                        size_t npk, const char *select, model_t *out) {
    char *text = sl_harness_partition_text(cl, topic, part);
    model_t m = {.cols = cols, .ncols = ncols, .npk = npk};
    SL_CHECK_OK(sl_strmap_init(&m.rows));
    replay(&m, text);
    free(text);
    printf("# %s: %llu read rows, %llu stream rows, %llu starts\n", part,
           (unsigned long long)m.reads, (unsigned long long)m.stream,
           (unsigned long long)m.starts);
    long bad = compare(&m, mysql, select);
    *out = m;
    return bad;
}

/* Composite and string keys (a case-insensitive collation, quotes,
 * backslashes, non-ASCII), a skewed key distribution, DDL on a table
 * while its snapshot runs, and an ad-hoc snapshot (with a WHERE
 * condition) of a table that already streams, asked for with
 * `sluice-capture snapshot`. */
SL_TEST(capture_snapshot_keys_ddl_and_adhoc) {
    setenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS", "10", 1);
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_k");
    sl_harness_exec(mysql, "CREATE DATABASE snap_k");
    sl_harness_exec(mysql, "USE snap_k");
    sl_harness_exec(mysql,
                    "CREATE TABLE c (a VARCHAR(30) COLLATE utf8mb4_general_ci, "
                    "b INT, v VARCHAR(30), PRIMARY KEY (a, b)) "
                    "CHARSET utf8mb4");
    /* Skewed: most rows share a = 'hot'. */
    sl_harness_exec(mysql, "INSERT INTO c SELECT 'hot', seq, CONCAT('v', seq) "
                           "FROM seq_1_to_2500");
    sl_harness_exec(mysql,
                    "INSERT INTO c VALUES ('Ärger', 1, 'x'), ('it''s', 2, "
                    "'q'), ('back\\\\slash', 3, 'b'), ('zz top', 4, 'z'), "
                    "('a', 5, 'a'), ('日本', 6, 'j'), ('', 7, 'empty')");
    sl_harness_exec(mysql, "INSERT INTO c SELECT CONCAT('k', seq % 37), seq, "
                           "'cold' FROM seq_1_to_500");
    sl_harness_exec(mysql, "CREATE TABLE s (id VARCHAR(40) PRIMARY KEY, n INT) "
                           "CHARSET utf8mb4");
    sl_harness_exec(mysql, "INSERT INTO s SELECT CONCAT('key-', LPAD(seq, 6, "
                           "'0')), seq FROM seq_1_to_2000");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-k.log", sl_test_tmpdir());
    char stats[64];
    snprintf(stats, sizeof stats, "127.0.0.1:%u", sl_harness_free_port());
    const char *const flags[] = {
        "--topic",     "snapk",   "--name",           "snapk",
        "--server-id", "3072",    "--include",        "snap_k\\.(c|s)",
        "--snapshot",  "initial", "--snapshot-chunk", "97",
        "--heartbeat", "200ms",   "--stats-listen",   stats,
        NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    MYSQL *w = sl_harness_mysql("SOURCE", "snap_k");
    /* Writes on c while it is read, then DDL on s while s is read. */
    wait_log(logpath, "table=snap_k.c id=", 1);
    for (int i = 0; i < 300; i++) {
        char sql[256];
        int k = 1 + (int)(rnd() % 2500);
        snprintf(sql, sizeof sql,
                 i % 3 == 0   ? "UPDATE c SET v = 'chg' WHERE a = 'hot' AND "
                                "b = %d"
                 : i % 3 == 1 ? "UPDATE IGNORE c SET a = 'moved', b = %d "
                                "WHERE a = 'hot' AND b = %d"
                              : "DELETE FROM c WHERE a = 'hot' AND b = %d",
                 k, k + 1);
        mysql_query(w, sql);
    }
    wait_log(logpath, "table=snap_k.s id=", 1);
    sl_harness_exec(w, "UPDATE s SET n = -n WHERE id < 'key-000500'");
    sl_harness_exec(w, "ALTER TABLE s ADD COLUMN extra INT DEFAULT 7");
    sl_harness_exec(w, "UPDATE s SET n = n + 1000000 WHERE id > 'key-001900'");
    wait_log(logpath, "snapshot complete", 1);
    /* An ad-hoc snapshot of c, which streams now, with a condition. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s snapshot --source mysql://%s@127.0.0.1:%u --password-file %s "
             "--name snapk --where \"b <= 100\" --stats %s snap_k.c "
             ">> %s 2>&1",
             sl_harness_bin("sluice-capture"), getenv("SL_SOURCE_USER"),
             sl_harness_port("SOURCE"), sl_harness_password_file("SOURCE"),
             stats, logpath);
    SL_CHECK_INT(system(cmd), 0);
    wait_log(logpath, "snapshot complete", 2);
    wait_log(logpath, "snapshot done", 1); /* The terminal line's end. */
    sl_harness_exec(w, "INSERT INTO c VALUES ('the-end', 0, 'end')");
    sl_harness_exec(w, "INSERT INTO s (id, n) VALUES ('the-end', 0)");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snapk", "snap_k.c", "the-end", logpath);
    sl_harness_wait_partition_text(cl, "snapk", "snap_k.s", "the-end", logpath);
    static const char *const ccols[] = {"a", "b", "v"};
    static const char *const scols[] = {"id", "n"};
    model_t mc, ms;
    SL_CHECK_INT(check_table(cl, mysql, "snapk", "snap_k.c", ccols, 3, 2,
                             "SELECT a, b, v FROM snap_k.c", &mc),
                 0);
    SL_CHECK_INT(check_table(cl, mysql, "snapk", "snap_k.s", scols, 2, 1,
                             "SELECT id, n FROM snap_k.s", &ms),
                 0);
    /* c was read twice: the initial snapshot and the ad-hoc one (rows with
     * b <= 100 only, about 100 of the 'hot' ones and a few others). */
    SL_CHECK_INT((long)mc.starts, 2);
    SL_CHECK(mc.reads > 3000 && mc.reads < 3000 + 300);
    SL_CHECK_INT((long)ms.starts, 1);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_k");
    mysql_close(w);
    mysql_close(mysql);
}

/* A table without a primary key is refused with a message that says why
 * and what to do; nothing of it is published. */
SL_TEST(capture_snapshot_refuses_a_keyless_table) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_nk");
    sl_harness_exec(mysql, "CREATE DATABASE snap_nk");
    sl_harness_exec(mysql, "CREATE TABLE snap_nk.t (v INT)");
    sl_harness_exec(mysql, "INSERT INTO snap_nk.t VALUES (1), (2)");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-nk.log", sl_test_tmpdir());
    const char *const flags[] = {
        "--topic",     "snapnk",  "--name",    "snapnk",
        "--server-id", "3073",    "--include", "snap_nk\\..*",
        "--snapshot",  "initial", NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    int status = 0;
    SL_CHECK(sl_harness_wait_exit(cap, 30000, &status));
    SL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    SL_CHECK(log_has(logpath, "snapshot of snap_nk.t refused: the table has "
                              "no primary key"));
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    char *text = sl_harness_partition_text(cl, "snapnk", "snap_nk.t");
    SL_CHECK_STR(text, "");
    free(text);
    sl_client_close(cl);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_nk");
    mysql_close(mysql);
}

/* --snapshot when_needed: the checkpoint's position was purged from the
 * source while capture was down; capture starts over at the end with a
 * snapshot, and the partition still replays to the source's rows. */
SL_TEST(capture_snapshot_when_needed_after_a_purge) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_wn");
    sl_harness_exec(mysql, "CREATE DATABASE snap_wn");
    sl_harness_exec(mysql, "USE snap_wn");
    sl_harness_exec(mysql, "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, "
                           "pad VARCHAR(40))");
    sl_harness_exec(mysql, "INSERT INTO t SELECT seq, seq, 'a' FROM "
                           "seq_1_to_3000");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-wn.log", sl_test_tmpdir());
    const char *const flags[] = {
        "--topic",     "snapwn",    "--name",      "snapwn",     "--server-id",
        "3074",        "--include", "snap_wn\\.t", "--snapshot", "when_needed",
        "--heartbeat", "200ms",     NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    wait_log(logpath, "snapshot complete", 1);
    sl_harness_exec(mysql, "UPDATE t SET v = v + 1 WHERE id <= 100");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_exec(mysql, "INSERT INTO t VALUES (0, 0, 'first-end')");
    sl_harness_wait_partition_text(cl, "snapwn", "snap_wn.t", "first-end",
                                   logpath);
    char before_file[128];
    uint64_t before_pos;
    sl_harness_master_status(mysql, before_file, sizeof before_file,
                             &before_pos);
    sl_harness_stop(cap, SIGTERM, 20000);
    /* While capture is down: changes, then their binlog purged. (Rows
     * deleted in such a gap cannot be known to a new snapshot; see
     * docs/snapshot.md.) */
    sl_harness_exec(mysql, "UPDATE t SET pad = 'gap' WHERE id > 2900");
    sl_harness_exec(mysql, "INSERT INTO t SELECT seq, 1, 'gap' FROM "
                           "seq_5000_to_5100");
    /* The server keeps a log a dump thread still reads or its binlog
     * checkpoint still needs: flush and purge until the log of capture's
     * checkpoint is gone. */
    int purged = 0;
    for (int i = 0; i < 100 && !purged; i++) {
        sl_harness_exec(mysql, "FLUSH BINARY LOGS");
        char cur[128], sql[256];
        uint64_t pos;
        sl_harness_master_status(mysql, cur, sizeof cur, &pos);
        snprintf(sql, sizeof sql, "PURGE BINARY LOGS TO '%s'", cur);
        sl_harness_exec(mysql, sql);
        char *oldest = sl_harness_query_value(mysql, "SHOW BINARY LOGS");
        purged = oldest != NULL && strcmp(oldest, before_file) > 0;
        free(oldest);
        if (!purged)
            sl_harness_sleep_ms(200);
    }
    SL_CHECK(purged);
    cap = sl_harness_start_capture(b.addr, flags, logpath);
    wait_log(logpath, "starting over at the end with a snapshot", 1);
    wait_log(logpath, "snapshot complete", 2);
    sl_harness_exec(mysql, "INSERT INTO t VALUES (-1, 0, 'the-end')");
    sl_harness_wait_partition_text(cl, "snapwn", "snap_wn.t", "the-end",
                                   logpath);
    static const char *const cols[] = {"id", "v", "pad"};
    model_t m;
    SL_CHECK_INT(check_table(cl, mysql, "snapwn", "snap_wn.t", cols, 3, 1,
                             "SELECT id, v, pad FROM snap_wn.t", &m),
                 0);
    SL_CHECK_INT((long)m.starts, 2);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_wn");
    mysql_close(mysql);
}

/* How many different snapshot ids the partition's snapshot_start events
 * carry (a chunk read again after a kill repeats its id). */
static int snapshot_ids(sl_client_t *cl, const char *topic, const char *part) {
    char *text = sl_harness_partition_text(cl, topic, part);
    char ids[32][64];
    int n = 0;
    for (char *p = text; (p = strstr(p, "\"kind\":\"snapshot_start\"")); p++) {
        char *id = strstr(p, "\"id\":\"");
        SL_CHECK(id != NULL);
        id += 6;
        size_t len = strcspn(id, "\"");
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen |= strlen(ids[i]) == len && memcmp(ids[i], id, len) == 0;
        if (!seen && n < 32)
            snprintf(ids[n++], sizeof ids[0], "%.*s", (int)len, id);
    }
    free(text);
    return n;
}

/* Tables that enter the include filters later: a, captured from the first
 * start, is snapshotted once; c1, created while capture streams under
 * rules that capture it, never (its rows all come through the binlog, and
 * later restarts know the rules covered it); b, which existed all along,
 * and d, created while capture was down, enter the filters at a restart
 * and are snapshotted while capture streams, under writes, with capture
 * killed with SIGKILL right after the restart and during the snapshot:
 * each gets exactly one snapshot id, and every partition replays to the
 * source's rows. A further restart snapshots nothing. */
SL_TEST(capture_snapshot_tables_entering_the_filters) {
    setenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS", "10", 1);
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_j");
    sl_harness_exec(mysql, "CREATE DATABASE snap_j");
    sl_harness_exec(mysql, "USE snap_j");
    const char *def = "(id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(40))";
    char sql[512];
    const char *seed[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, "CREATE TABLE %s %s", seed[i], def);
        sl_harness_exec(mysql, sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s SELECT seq, seq, 'seed' FROM seq_1_to_3000",
                 seed[i]);
        sl_harness_exec(mysql, sql);
    }
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-j.log", sl_test_tmpdir());
    const char *flags1[] = {"--topic",
                            "snapj",
                            "--name",
                            "snapj",
                            "--server-id",
                            "3075",
                            "--include",
                            "snap_j\\.(a|c.*)",
                            "--snapshot",
                            "initial",
                            "--snapshot-chunk",
                            "300",
                            "--heartbeat",
                            "200ms",
                            "--checkpoint-interval",
                            "50ms",
                            NULL};
    int cap = sl_harness_start_capture(b.addr, flags1, logpath);
    wait_log(logpath, "snapshot complete", 1);
    sl_harness_exec(mysql, "CREATE TABLE c1 (id BIGINT PRIMARY KEY, v BIGINT, "
                           "pad VARCHAR(40))");
    sl_harness_exec(mysql, "INSERT INTO c1 SELECT seq, seq, 'live' FROM "
                           "seq_1_to_500");
    sl_harness_exec(mysql, "UPDATE b SET v = -v WHERE id <= 100");
    sl_harness_exec(mysql, "INSERT INTO a VALUES (0, 0, 'first-end')");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snapj", "snap_j.a", "first-end",
                                   logpath);
    sl_harness_stop(cap, SIGTERM, 20000);
    /* While capture is down: d is created and filled, b changes. */
    sl_harness_exec(mysql, "CREATE TABLE d (id BIGINT PRIMARY KEY, v BIGINT, "
                           "pad VARCHAR(40))");
    sl_harness_exec(mysql, "INSERT INTO d SELECT seq, seq, 'down' FROM "
                           "seq_1_to_1000");
    sl_harness_exec(mysql, "DELETE FROM b WHERE id BETWEEN 200 AND 300");
    const char *flags2[] = {"--topic",
                            "snapj",
                            "--name",
                            "snapj",
                            "--server-id",
                            "3075",
                            "--include",
                            "snap_j\\.(a|b|c.*|d)",
                            "--snapshot",
                            "initial",
                            "--snapshot-chunk",
                            "300",
                            "--heartbeat",
                            "200ms",
                            "--checkpoint-interval",
                            "50ms",
                            NULL};
    cap = sl_harness_start_capture(b.addr, flags2, logpath);
    wait_log(logpath, "snapshot queued", 1);
    int status;
    kill(cap, SIGKILL);
    waitpid(cap, &status, 0);
    MYSQL *w = sl_harness_mysql("SOURCE", "snap_j");
    for (int round = 0; round < 3; round++) {
        cap = sl_harness_start_capture(b.addr, flags2, logpath);
        wait_log(logpath, "table=snap_j.b id=", 1);
        for (int i = 0; i < 150; i++) {
            long id = 1 + (long)(rnd() % 3300);
            snprintf(sql, sizeof sql,
                     i % 3 == 0   ? "UPDATE b SET v = v + 1 WHERE id = %ld"
                     : i % 3 == 1 ? "DELETE FROM d WHERE id = %ld"
                                  : "REPLACE INTO b VALUES (%ld, 1, 'w')",
                     id);
            mysql_query(w, sql);
        }
        kill(cap, SIGKILL);
        waitpid(cap, &status, 0);
    }
    cap = sl_harness_start_capture(b.addr, flags2, logpath);
    sl_harness_wait_partition_text(cl, "snapj", "snap_j.b", "snapshot_done",
                                   logpath);
    sl_harness_wait_partition_text(cl, "snapj", "snap_j.d", "snapshot_done",
                                   logpath);
    /* A clean restart with the same rules: nothing more to snapshot. */
    sl_harness_stop(cap, SIGTERM, 20000);
    int starts = count_in_log(logpath, "snapshot of a table starts");
    cap = sl_harness_start_capture(b.addr, flags2, logpath);
    const char *tables[] = {"a", "b", "c1", "d"};
    for (int i = 0; i < 4; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES (-1, 0, 'the-end')",
                 tables[i]);
        sl_harness_exec(w, sql);
    }
    static const char *const cols[] = {"id", "v", "pad"};
    const int want_ids[] = {1, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        char part[64], select[128];
        snprintf(part, sizeof part, "snap_j.%s", tables[i]);
        snprintf(select, sizeof select, "SELECT id, v, pad FROM snap_j.%s",
                 tables[i]);
        sl_harness_wait_partition_text(cl, "snapj", part, "the-end", logpath);
        model_t m;
        SL_CHECK_INT(
            check_table(cl, mysql, "snapj", part, cols, 3, 1, select, &m), 0);
        printf("# %s: %d snapshot ids\n", part,
               snapshot_ids(cl, "snapj", part));
        SL_CHECK_INT(snapshot_ids(cl, "snapj", part), want_ids[i]);
    }
    SL_CHECK_INT(count_in_log(logpath, "snapshot of a table starts"), starts);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_j");
    mysql_close(w);
    mysql_close(mysql);
}

/* A keyless table's partition replayed into a multiset of rows (the
 * columns joined with '|' -> count), the way a consumer without a key
 * applies it: a snapshot_start that says "reset" empties it, read rows
 * and inserts add a row, deletes remove one, updates both. Returns how
 * many events after the first reset removed a row that was not there. */
static long replay_bag(sl_strmap_t *bag, const char *text,
                       const char *const *cols, size_t ncols, long *resets) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    model_t m = {.cols = cols, .ncols = ncols, .npk = ncols};
    sl_buf_t key = SL_BUF_INIT;
    long bad = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        SL_CHECK_OK(sl_jr_parse(&doc, p, len));
        uint32_t kind = sl_jr_get(&doc, 0, "kind");
        uint32_t snap = sl_jr_get(&doc, 0, "snapshot");
        uint32_t reset = sl_jr_get(&doc, snap, "reset");
        if (sl_jr_str_eq(&doc, kind, "snapshot_start", 14) &&
            reset != SL_JR_NONE && sl_jr_type(&doc, reset) == SL_JR_TRUE) {
            (*resets)++;
            for (size_t b = 0; b < bag->nbuckets; b++)
                for (sl_strmap_node_t *nd = bag->buckets[b]; nd; nd = nd->next)
                    free(nd->value);
            sl_strmap_free(bag);
            SL_CHECK_OK(sl_strmap_init(bag));
        }
        uint32_t img[2] = {sl_jr_get(&doc, 0, "before"),
                           sl_jr_get(&doc, 0, "after")};
        for (int i = 0; i < 2 && sl_jr_str_eq(&doc, kind, "row", 3); i++) {
            if (sl_jr_type(&doc, img[i]) != SL_JR_OBJECT)
                continue;
            image_text(&doc, img[i], &m, ncols, &key);
            long *n = sl_strmap_get(bag, key.data, key.len);
            if (n == NULL) {
                n = calloc(1, sizeof *n);
                SL_CHECK_OK(sl_strmap_put(bag, key.data, key.len, n));
            }
            if (i == 0 && *n == 0 && *resets > 0)
                bad++; /* (Before the copy the target was empty.) */
            *n += i == 0 ? -1 : 1;
        }
        p += len + (nl ? 1 : 0);
    }
    sl_jr_free(&doc);
    sl_buf_free(&key);
    return bad;
}

/* Compares the bag with the source's rows grouped (select gives the
 * columns, then COUNT(*)); returns the differences. */
static long compare_bag(sl_strmap_t *bag, MYSQL *mysql, const char *select,
                        size_t ncols) {
    SL_CHECK(mysql_query(mysql, select) == 0);
    MYSQL_RES *res = mysql_store_result(mysql);
    SL_CHECK(res != NULL);
    long bad = 0, rows = 0;
    sl_buf_t key = SL_BUF_INIT;
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL) {
        sl_buf_reset(&key);
        for (size_t i = 0; i < ncols; i++) {
            if (i)
                sl_buf_append_u8(&key, '|');
            sl_buf_append_str(&key, r[i] ? r[i] : "\\N");
        }
        long want = atol(r[ncols]);
        rows += want;
        long *n = sl_strmap_get(bag, key.data, key.len);
        long got = n ? *n : 0;
        if (got != want && bad++ < 5)
            fprintf(stderr, "row %.*s: source %ld, target %ld\n", (int)key.len,
                    (const char *)key.data, want, got);
        if (n != NULL)
            *n = 0;
    }
    mysql_free_result(res);
    for (size_t b = 0; b < bag->nbuckets; b++)
        for (sl_strmap_node_t *nd = bag->buckets[b]; nd; nd = nd->next) {
            if (*(long *)nd->value != 0 && bad++ < 10)
                fprintf(stderr, "target has %ld x %s, the source none\n",
                        *(long *)nd->value, (const char *)nd->key);
            free(nd->value);
        }
    sl_strmap_free(bag);
    sl_buf_free(&key);
    printf("# compared %ld source rows: %ld differences\n", rows, bad);
    return bad;
}

/* --snapshot-copy keyless: a table without a primary key (duplicate rows
 * included) is copied in one consistent read (MariaDB's
 * Binlog_snapshot_file/position) and joined with the stream at that
 * position, while writers insert, update and delete rows of it all along
 * and capture is killed with SIGKILL when the copy is decided and when
 * its view is open; a keyed table beside it is read in chunks as usual.
 * The keyless partition, replayed as a consumer without a key does,
 * equals the source row for row (duplicates counted). */
SL_TEST(capture_snapshot_copies_a_keyless_table) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_c");
    sl_harness_exec(mysql, "CREATE DATABASE snap_c");
    sl_harness_exec(mysql, "USE snap_c");
    sl_harness_exec(mysql, "CREATE TABLE k (a INT, b VARCHAR(20))");
    sl_harness_exec(mysql, "INSERT INTO k SELECT seq % 700, 'seed' FROM "
                           "seq_1_to_4000");
    sl_harness_exec(mysql, "CREATE TABLE p (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(mysql, "INSERT INTO p SELECT seq, seq FROM seq_1_to_2000");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-c.log", sl_test_tmpdir());
    const char *const flags[] = {"--topic",
                                 "snapc",
                                 "--name",
                                 "snapc",
                                 "--server-id",
                                 "3076",
                                 "--include",
                                 "snap_c\\.(k|p)",
                                 "--snapshot",
                                 "initial",
                                 "--snapshot-copy",
                                 "keyless",
                                 "--snapshot-chunk",
                                 "200",
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    MYSQL *w = sl_harness_mysql("SOURCE", "snap_c");
    const char *kill_at[] = {"snapshot copy decided", "read view open"};
    int kills = 0;
    long changes = 0;
    for (int round = 0; round < 20000; round++) {
        char sql[256];
        for (int i = 0; i < 10; i++, changes++) {
            unsigned r = rnd() % 800;
            snprintf(sql, sizeof sql,
                     i % 3 == 0   ? "INSERT INTO k VALUES (%u, 'ins')"
                     : i % 3 == 1 ? "UPDATE k SET b = 'upd' WHERE a = %u "
                                    "LIMIT 1"
                                  : "DELETE FROM k WHERE a = %u LIMIT 1",
                     r);
            if (mysql_query(w, sql) != 0)
                fprintf(stderr, "# %s: %s\n", sql, mysql_error(w));
        }
        int status;
        if (waitpid(cap, &status, WNOHANG) == cap) {
            char cmd[800];
            snprintf(cmd, sizeof cmd, "tail -n 20 %s >&2", logpath);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
            sl_test_fail(__FILE__, __LINE__, "capture exited");
        }
        if (kills < 2 && count_in_log(logpath, kill_at[kills]) > 0) {
            kill(cap, SIGKILL);
            waitpid(cap, &status, 0);
            kills++;
            cap = sl_harness_start_capture(b.addr, flags, logpath);
        }
        if (kills == 2 && log_has(logpath, "snapshot complete"))
            break;
        sl_harness_sleep_ms(5);
    }
    printf("# %d kills, %ld changes\n", kills, changes);
    SL_CHECK_INT(kills, 2);
    SL_CHECK(log_has(logpath, "snapshot complete"));
    /* Changes after the copy, then the end. */
    sl_harness_exec(w, "UPDATE k SET b = 'late' WHERE a < 50");
    sl_harness_exec(w, "DELETE FROM k WHERE a BETWEEN 50 AND 60");
    sl_harness_exec(w, "INSERT INTO k VALUES (-1, 'the-end')");
    sl_harness_exec(w, "INSERT INTO p VALUES (0, 0)");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snapc", "snap_c.k", "the-end", logpath);
    char *text = sl_harness_partition_text(cl, "snapc", "snap_c.k");
    static const char *const kcols[] = {"a", "b"};
    sl_strmap_t bag;
    SL_CHECK_OK(sl_strmap_init(&bag));
    long resets = 0;
    SL_CHECK_INT(replay_bag(&bag, text, kcols, 2, &resets), 0);
    free(text);
    SL_CHECK(resets >= 1);
    SL_CHECK_INT(
        compare_bag(&bag, mysql,
                    "SELECT a, b, COUNT(*) FROM snap_c.k GROUP BY a, b", 2),
        0);
    SL_CHECK_INT(snapshot_ids(cl, "snapc", "snap_c.k"), 1);
    /* The keyed table went by chunks, beside it. */
    sl_harness_wait_partition_text(cl, "snapc", "snap_c.p", "snapshot_done",
                                   logpath);
    static const char *const pcols[] = {"id", "v"};
    model_t m;
    SL_CHECK_INT(check_table(cl, mysql, "snapc", "snap_c.p", pcols, 2, 1,
                             "SELECT id, v FROM snap_c.p", &m),
                 0);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_c");
    mysql_close(w);
    mysql_close(mysql);
}

/* --snapshot-max-threads-running: while more source threads run than the
 * limit (sessions held in SELECT SLEEP), the snapshot waits before its
 * first chunk, says so in the log, and publishes nothing; when they end
 * it resumes and the table replays to the source's rows. */
SL_TEST(capture_snapshot_pauses_while_the_source_is_busy) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_b");
    sl_harness_exec(mysql, "CREATE DATABASE snap_b");
    sl_harness_exec(mysql, "USE snap_b");
    sl_harness_exec(mysql, "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(mysql, "INSERT INTO t SELECT seq, seq FROM seq_1_to_1500");
    /* Four sessions running a long query: Threads_running >= 5. */
    MYSQL *busy[4];
    unsigned long ids[4];
    for (int i = 0; i < 4; i++) {
        busy[i] = sl_harness_mysql("SOURCE", NULL);
        ids[i] = mysql_thread_id(busy[i]);
        SL_CHECK(mysql_send_query(busy[i], "SELECT SLEEP(600)", 17) == 0);
    }
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-b.log", sl_test_tmpdir());
    const char *const flags[] = {"--topic",
                                 "snapb",
                                 "--name",
                                 "snapb",
                                 "--server-id",
                                 "3077",
                                 "--include",
                                 "snap_b\\.t",
                                 "--snapshot",
                                 "initial",
                                 "--snapshot-chunk",
                                 "100",
                                 "--snapshot-max-threads-running",
                                 "3",
                                 "--heartbeat",
                                 "200ms",
                                 NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    wait_log(logpath, "snapshot paused: the source is busy", 1);
    /* Still busy: the stream goes on, the snapshot has read nothing (its
     * window opened at its start, before the stream's first change). */
    sl_harness_exec(mysql, "INSERT INTO t VALUES (0, 0)");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snapb", "snap_b.t", "\"id\":0",
                                   logpath);
    char *text = sl_harness_partition_text(cl, "snapb", "snap_b.t");
    const char *start = strstr(text, "snapshot_start");
    SL_CHECK(start != NULL && start < strstr(text, "\"id\":0"));
    SL_CHECK(strstr(text, "\"op\":\"read\"") == NULL);
    free(text);
    SL_CHECK_INT(count_in_log(logpath, "snapshot resumed"), 0);
    /* The sessions end: the snapshot resumes and completes. */
    for (int i = 0; i < 4; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "KILL QUERY %lu", ids[i]);
        sl_harness_exec(mysql, sql);
        mysql_read_query_result(busy[i]);
        MYSQL_RES *res = mysql_store_result(busy[i]);
        if (res != NULL)
            mysql_free_result(res);
        mysql_close(busy[i]);
    }
    wait_log(logpath, "snapshot resumed", 1);
    wait_log(logpath, "snapshot complete", 1);
    sl_harness_exec(mysql, "INSERT INTO t VALUES (-1, 0)");
    sl_harness_wait_partition_text(cl, "snapb", "snap_b.t", "\"id\":-1",
                                   logpath);
    static const char *const cols[] = {"id", "v"};
    model_t m;
    SL_CHECK_INT(check_table(cl, mysql, "snapb", "snap_b.t", cols, 2, 1,
                             "SELECT id, v FROM snap_b.t", &m),
                 0);
    SL_CHECK_INT((long)m.starts, 1);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_b");
    mysql_close(mysql);
}

/* --snapshot-copy all (the route for a source capture cannot write to):
 * a keyed table is copied in one read view instead of chunks, under
 * writes aimed at it and a SIGKILL at the log line kill_at; no watermark
 * is ever written, and the partition replays to the source's rows. With
 * partial, the kill comes while the copy is being published (after its
 * first 2,048 rows, capture's test hook), and the restart copies again
 * under a later view: the partition must hold both copies' starts. */
static void copy_all_under_kill(const char *kill_at, int partial) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "DROP DATABASE IF EXISTS snap_a");
    sl_harness_exec(mysql, "CREATE DATABASE snap_a");
    sl_harness_exec(mysql, "USE snap_a");
    sl_harness_exec(mysql, "CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(mysql, "INSERT INTO t SELECT seq, seq FROM seq_1_to_3000");
    /* The watermark table as capture makes it, without this capture's row:
     * a copy never writes one. */
    sl_harness_exec(mysql, "CREATE DATABASE IF NOT EXISTS sluice");
    sl_harness_exec(mysql, "CREATE TABLE IF NOT EXISTS sluice.watermark ("
                           "name VARCHAR(191) NOT NULL PRIMARY KEY, "
                           "mark VARCHAR(96) NOT NULL) ENGINE=InnoDB");
    sl_harness_exec(mysql, "DELETE FROM sluice.watermark WHERE name = 'snapa'");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/capture-a.log", sl_test_tmpdir());
    const char *const flags[] = {"--topic",
                                 "snapa",
                                 "--name",
                                 "snapa",
                                 "--server-id",
                                 "3078",
                                 "--include",
                                 "snap_a\\.t",
                                 "--snapshot",
                                 "initial",
                                 "--snapshot-copy",
                                 "all",
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    MYSQL *w = sl_harness_mysql("SOURCE", "snap_a");
    int killed = 0;
    for (int round = 0; round < 20000; round++) {
        char sql[256];
        for (int i = 0; i < 10; i++) {
            int id = 1 + (int)(rnd() % 3200);
            snprintf(sql, sizeof sql,
                     i % 3 == 0   ? "UPDATE t SET v = v + 1 WHERE id = %d"
                     : i % 3 == 1 ? "DELETE FROM t WHERE id = %d"
                                  : "REPLACE INTO t VALUES (%d, -1)",
                     id);
            mysql_query(w, sql);
        }
        int status;
        SL_CHECK(waitpid(cap, &status, WNOHANG) == 0);
        if (!killed && log_has(logpath, kill_at)) {
            kill(cap, SIGKILL);
            waitpid(cap, &status, 0);
            killed = 1;
            cap = sl_harness_start_capture(b.addr, flags, logpath);
        }
        if (killed && log_has(logpath, "snapshot complete"))
            break;
        sl_harness_sleep_ms(5);
    }
    SL_CHECK(log_has(logpath, "snapshot complete"));
    sl_harness_exec(w, "INSERT INTO t VALUES (0, 0)");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, "snapa", "snap_a.t", "\"id\":0",
                                   logpath);
    static const char *const cols[] = {"id", "v"};
    model_t m;
    SL_CHECK_INT(check_table(cl, mysql, "snapa", "snap_a.t", cols, 2, 1,
                             "SELECT id, v FROM snap_a.t", &m),
                 0);
    if (partial)
        SL_CHECK(m.starts >= 3); /* The early start and both copies'. */
    SL_CHECK_INT(snapshot_ids(cl, "snapa", "snap_a.t"), 1);
    char *none = sl_harness_query_value(
        mysql, "SELECT COUNT(*) FROM sluice.watermark WHERE name = 'snapa'");
    SL_CHECK_STR(none, "0");
    free(none);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
    sl_harness_exec(mysql, "DROP DATABASE snap_a");
    mysql_close(w);
    mysql_close(mysql);
}

SL_TEST(capture_snapshot_copies_every_table_without_watermarks) {
    copy_all_under_kill("read view open", 0);
}

/* A keyed table's copy killed while it is being published: the restart
 * copies it again under a later view, and the keys the first copy
 * published and that were deleted between the two views must be deleted
 * (the stream's events of a keyed copy are published, not dropped). */
SL_TEST(capture_snapshot_copy_killed_while_published) {
    setenv("SLUICE_SNAPSHOT_TEST_COPY_PAUSE_MS", "1500", 1);
    copy_all_under_kill("snapshot copy: test pause", 1);
    unsetenv("SLUICE_SNAPSHOT_TEST_COPY_PAUSE_MS");
}
