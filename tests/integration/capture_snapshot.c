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

/* Replays one partition's events into the model. */
static void replay(model_t *m, const char *text) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    sl_buf_t key = SL_BUF_INIT, row = SL_BUF_INIT;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        SL_CHECK_OK(sl_jr_parse(&doc, p, len));
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

static void random_change(MYSQL *mysql, long nrows) {
    char sql[512];
    long id = 1 + (long)(rnd() % (unsigned)(nrows * 2));
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
        for (int i = 0; i < 20; i++, changes++)
            random_change(w, nrows);
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
