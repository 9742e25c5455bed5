/* Early snapshot starts (capture/snapshot/snapshot.h) with no server: a
 * snapshot of several tables owes every table's snapshot_start at once;
 * they go out between two forced checkpoints, the first listing them with
 * their position, and a restart from that checkpoint publishes them again
 * byte for byte (the same capture sequences then hold the same messages),
 * while a restart from the one after publishes nothing. Queued tables keep
 * the id their start went out under; a cursor written before early starts
 * resumes as before. The worker thread never gets a chunk, so it never
 * connects. */
#include "capture/schema/history.h"
#include "capture/snapshot/snapshot.h"
#include "capture/snapshot/state_int.h"
#include "error.h"
#include "sl_test.h"
#include "test_capture_snapshot_lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the snapshot module handed to capture (test_capture_snapshot_lib.h). */
static snaptest_rec_t rec;

static sl_snap_t *new_snap(void) { return snaptest_new(&rec, NULL); }

static sl_change_t signal_row(const char *json) {
    return snaptest_row("sluice", "signal", SL_OP_INSERT, "bin.000001", 600,
                        json);
}

static void cp(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The snapshot id of the start published for table (in rec.log[i]). */
static void start_id(int i, char *id, size_t cap) {
    const char *at = strstr(rec.log[i], "\"snapshot\":{\"id\":\"");
    id[0] = '\0';
    if (at != NULL)
        snprintf(id, cap, "%.*s", (int)strcspn(at + 18, "\""), at + 18);
}

SL_TEST(snapshot_early_starts_go_out_between_two_checkpoints) {
    sl_snap_t *snap = new_snap();
    char err[512];
    uint64_t skip;
    SL_CHECK_OK(sl_snap_restore(snap, NULL, &skip, err, sizeof err));
    /* A signal naming three tables: all three starts are owed. */
    int consumed = 0;
    sl_change_t chg = signal_row(
        "{\"kind\":\"row\",\"op\":\"insert\",\"after\":{\"id\":2,"
        "\"name\":\"cap1\",\"type\":\"snapshot\",\"data\":\"{"
        "\\\"tables\\\":[[\\\"d\\\",\\\"t1\\\"],[\\\"d\\\",\\\"t2\\\"],"
        "[\\\"e\\\",\\\"t3\\\"]],\\\"where\\\":null}\"}}");
    SL_CHECK_OK(sl_snap_on_row(snap, &chg, &consumed, err, sizeof err));
    SL_CHECK_INT(consumed, 1);
    SL_CHECK(strstr(sl_snap_cursor(snap), "\"started\":true") != NULL);
    SL_CHECK(strstr(sl_snap_cursor(snap), "\"starts\":{\"src\":null,") != NULL);
    SL_CHECK_INT(rec.n, 0); /* Nothing before the transaction's commit. */
    /* At the commit: a forced boundary listing them with their position,
     * the three starts (every partition of each table), a forced boundary
     * without them. */
    SL_CHECK_OK(
        sl_snap_on_commit(snap, NULL, "bin.000001", 700, err, sizeof err));
    SL_CHECK_INT(rec.n, 5);
    SL_CHECK(strncmp(rec.log[0], "B1 ", 3) == 0);
    SL_CHECK(strstr(rec.log[0], "\"starts\":{\"src\":{\"file\":\"bin.000001\","
                                "\"pos\":700,") != NULL);
    static const char *const tables[] = {"d.t1", "d.t2", "e.t3"};
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        char head[64];
        snprintf(head, sizeof head, "P %s 1 {\"kind\":\"snapshot_start\"",
                 tables[i]);
        SL_CHECK(strncmp(rec.log[1 + i], head, strlen(head)) == 0);
        SL_CHECK(strstr(rec.log[1 + i], "\"estimate\":0") != NULL);
        SL_CHECK(strstr(rec.log[1 + i], "\"reset\"") == NULL);
        SL_CHECK(strstr(rec.log[1 + i],
                        "\"src\":{\"file\":\"bin.000001\",\"pos\":700,") !=
                 NULL);
        start_id(1 + i, ids[i], sizeof ids[i]);
        SL_CHECK(ids[i][0] != '\0');
        /* The checkpoint before them names each with its id. */
        char ent[512];
        snprintf(ent, sizeof ent, "[\"%.1s\",\"%s\",\"%s\"]", tables[i],
                 tables[i] + 2, ids[i]);
        SL_CHECK(strstr(rec.log[0], ent) != NULL);
    }
    SL_CHECK(strncmp(rec.log[4], "B1 ", 3) == 0);
    SL_CHECK(strstr(rec.log[4], "\"starts\"") == NULL);
    /* The current table is d.t1 under its early id; the queue keeps the
     * others' ids. */
    SL_CHECK_STR(snap->id, ids[0]);
    SL_CHECK_INT(snap->started, 1);
    char q[200];
    snprintf(q, sizeof q,
             "\"queue\":[[\"d\",\"t2\",null,\"%s\"],[\"e\",\"t3\",null,"
             "\"%s\"]]",
             ids[1], ids[2]);
    SL_CHECK(strstr(rec.log[4], q) != NULL);

    /* kill -9 after the first checkpoint: a restart from it publishes the
     * same starts again, byte for byte, whatever its own position. */
    char c1[1024], c2[1024], first[3][1024];
    cp(c1, sizeof c1, rec.log[0] + 3);
    cp(c2, sizeof c2, rec.log[4] + 3);
    for (int i = 0; i < 3; i++)
        cp(first[i], sizeof first[i], rec.log[1 + i]);
    rec.n = 0;
    SL_CHECK_OK(sl_snap_restore(snap, c1, &skip, err, sizeof err));
    SL_CHECK_UINT(skip, 0);
    SL_CHECK_OK(
        sl_snap_flush_starts(snap, NULL, "bin.000009", 4, err, sizeof err));
    SL_CHECK_INT(rec.n, 5);
    SL_CHECK_STR(rec.log[0] + 3, c1);
    for (int i = 0; i < 3; i++)
        SL_CHECK_STR(rec.log[1 + i], first[i]);
    SL_CHECK_STR(rec.log[4] + 3, c2);
    /* A restart from the checkpoint after them owes nothing. */
    rec.n = 0;
    SL_CHECK_OK(sl_snap_restore(snap, c2, &skip, err, sizeof err));
    SL_CHECK_OK(
        sl_snap_flush_starts(snap, NULL, "bin.000009", 4, err, sizeof err));
    SL_CHECK_OK(
        sl_snap_on_commit(snap, NULL, "bin.000009", 9, err, sizeof err));
    SL_CHECK_INT(rec.n, 0);
    SL_CHECK_STR(sl_snap_cursor(snap), c2);
    /* The next tables take the ids their starts went out under. */
    SL_CHECK_OK(sl__snap_next_table(snap, NULL));
    SL_CHECK_STR(snap->table, "t2");
    SL_CHECK_STR(snap->id, ids[1]);
    SL_CHECK_INT(snap->started, 1);
    SL_CHECK_OK(sl__snap_next_table(snap, NULL));
    SL_CHECK_STR(snap->table, "t3");
    SL_CHECK_STR(snap->id, ids[2]);
    SL_CHECK_OK(sl__snap_next_table(snap, NULL));
    SL_CHECK_INT(sl_snap_active(snap), 0);
    sl_snap_free(snap);
}

SL_TEST(snapshot_cursor_without_early_starts_resumes_as_written) {
    sl_snap_t *snap = new_snap();
    char err[512];
    uint64_t skip;
    /* Written before early starts: 3-element queue entries, no
     * "started": the start of each table goes out with its first chunk,
     * under a new id. */
    const char *old = "{\"id\":\"old-1\",\"db\":\"d\",\"table\":\"t\","
                      "\"where\":null,\"last\":null,\"chunk\":0,\"rows\":0,"
                      "\"reserve\":0,\"all\":false,"
                      "\"queue\":[[\"d\",\"u\",null]]}";
    SL_CHECK_OK(sl_snap_restore(snap, old, &skip, err, sizeof err));
    SL_CHECK_STR(sl_snap_cursor(snap), old);
    SL_CHECK_INT(snap->started, 0);
    SL_CHECK_OK(
        sl_snap_flush_starts(snap, NULL, "bin.000001", 4, err, sizeof err));
    SL_CHECK_INT(rec.n, 0);
    SL_CHECK_OK(sl__snap_next_table(snap, NULL));
    SL_CHECK_STR(snap->table, "u");
    SL_CHECK_INT(snap->started, 0);
    SL_CHECK(strcmp(snap->id, "old-1") != 0 && snap->id[0] != '\0');
    /* Damaged early-start members are refused. */
    static const char *const bad[] = {
        "{\"id\":\"a\",\"db\":\"d\",\"table\":\"t\",\"chunk\":0,\"rows\":0,"
        "\"reserve\":0,\"queue\":[],\"starts\":{\"src\":null,\"tables\":[["
        "\"d\",\"t\"]]}}",
        "{\"id\":\"a\",\"db\":\"d\",\"table\":\"t\",\"chunk\":0,\"rows\":0,"
        "\"reserve\":0,\"queue\":[],\"starts\":{\"tables\":[]}}",
        "{\"id\":\"a\",\"db\":\"d\",\"table\":\"t\",\"chunk\":0,\"rows\":0,"
        "\"reserve\":0,\"queue\":[[\"d\",\"u\",null,7]]}",
        "{\"id\":\"a\",\"db\":\"d\",\"table\":\"t\",\"chunk\":0,\"rows\":0,"
        "\"reserve\":0,\"all_id\":3,\"queue\":[]}"};
    snaptest_refuse_cursors(snap, bad, sizeof bad / sizeof bad[0]);
    sl_snap_free(snap);
}

SL_TEST(snapshot_initial_owes_every_table_under_one_id) {
    sl_snap_t *snap = new_snap();
    char err[512];
    uint64_t skip;
    static const char *const ddl[] = {"CREATE DATABASE d", "CREATE DATABASE e",
                                      "CREATE TABLE d.b (id INT PRIMARY KEY)",
                                      "CREATE TABLE d.a (id INT PRIMARY KEY)",
                                      "CREATE TABLE e.c (id INT PRIMARY KEY)"};
    sl_schema_t *schema = snaptest_schema(ddl, sizeof ddl / sizeof ddl[0]);
    SL_CHECK_OK(sl_snap_restore(snap, NULL, &skip, err, sizeof err));
    SL_CHECK_OK(sl_snap_queue_all(snap, schema));
    SL_CHECK_STR(snap->table, "a");
    SL_CHECK_STR(snap->id, snap->all_id);
    char all_id[64];
    cp(all_id, sizeof all_id, snap->all_id);
    /* The first start: every table's start, in (db, table) order, under the
     * one id, between two checkpoints. */
    SL_CHECK_OK(
        sl_snap_flush_starts(snap, schema, "bin.000001", 4, err, sizeof err));
    SL_CHECK_INT(rec.n, 5);
    static const char *const tables[] = {"d.a", "d.b", "e.c"};
    for (int i = 0; i < 3; i++) {
        char id[64];
        SL_CHECK(strncmp(rec.log[1 + i] + 2, tables[i], 3) == 0);
        start_id(1 + i, id, sizeof id);
        SL_CHECK_STR(id, all_id);
    }
    char want[256];
    snprintf(want, sizeof want,
             "\"all\":true,\"all_id\":\"%s\",\"started\":true", all_id);
    SL_CHECK(strstr(rec.log[4], want) != NULL);
    /* "all" reaches the others under that id, their starts published. */
    SL_CHECK_OK(sl__snap_next_table(snap, schema));
    SL_CHECK_STR(snap->table, "b");
    SL_CHECK_STR(snap->id, all_id);
    SL_CHECK_INT(snap->started, 1);
    /* A table entering the filters that the running snapshot reaches owes
     * its start under the same id. */
    sl_snap_join_table_t tabs[] = {{"e", "d"}};
    sl_snap_join_t j = {.pos = 500, .tables = tabs, .ntables = 1, .nnew = 1};
    strcpy(j.file, "bin.000002");
    SL_CHECK_OK(sl_snap_join(snap, &j));
    snprintf(want, sizeof want, "\"tables\":[[\"e\",\"d\",\"%s\"]]", all_id);
    SL_CHECK(strstr(sl_snap_cursor(snap), want) != NULL);
    SL_CHECK_INT(snap->nqueue, 0);
    /* d.b is dropped before it is read: its early window is closed by a
     * snapshot_done at the next commit, its sequence reserved first. */
    SL_CHECK_OK(
        sl_snap_flush_starts(snap, schema, "bin.000002", 500, err, sizeof err));
    sl_schema_t *gone = NULL;
    SL_CHECK_OK(sl_schema_new(&gone));
    rec.n = 0;
    SL_CHECK_OK(sl_snap_step(snap, gone, NULL, err, sizeof err));
    SL_CHECK_INT(rec.n, 0);
    SL_CHECK_OK(
        sl_snap_on_commit(snap, gone, "bin.000002", 900, err, sizeof err));
    SL_CHECK_INT(rec.n, 3);
    SL_CHECK(strncmp(rec.log[0], "B1 ", 3) == 0 &&
             strstr(rec.log[0], "\"table\":\"b\"") != NULL &&
             strstr(rec.log[0], "\"reserve\":1") != NULL);
    snprintf(want, sizeof want,
             "P d.b 1 {\"kind\":\"snapshot_done\",\"db\":\"d\",\"table\":"
             "\"b\",\"snapshot\":{\"id\":\"%s\"",
             all_id);
    SL_CHECK(strncmp(rec.log[1], want, strlen(want)) == 0);
    SL_CHECK(strncmp(rec.log[2], "B0 ", 3) == 0 &&
             strstr(rec.log[2], "\"table\":\"b\"") == NULL);
    sl_schema_free(gone);
    sl_schema_free(schema);
    sl_snap_free(snap);
}

SL_TEST(snapshot_early_starts_refuse_an_unreadable_table_first) {
    sl_snap_t *snap = new_snap();
    char err[512];
    uint64_t skip;
    static const char *const ddl[] = {"CREATE DATABASE d",
                                      "CREATE TABLE d.a (id INT PRIMARY KEY)",
                                      "CREATE TABLE d.n (v INT)"};
    sl_schema_t *schema = snaptest_schema(ddl, sizeof ddl / sizeof ddl[0]);
    SL_CHECK_OK(sl_snap_restore(snap, NULL, &skip, err, sizeof err));
    SL_CHECK_OK(sl_snap_queue_all(snap, schema));
    /* d.n has no key (and no --snapshot-copy): refused before any start,
     * so no window opens for a table that would never be read. */
    SL_CHECK_INT(
        sl_snap_flush_starts(snap, schema, "bin.000001", 4, err, sizeof err),
        SL_EUNSUPPORTED);
    SL_CHECK(strstr(err, "snapshot of d.n refused: the table has no primary "
                         "key") != NULL);
    SL_CHECK_INT(rec.n, 0);
    sl_schema_free(schema);
    sl_snap_free(snap);
}

/* A first start's early starts are checkpointed at the start position
 * itself, where the schema history's first snapshot record is: a restart
 * from there rebuilds the history from that record (a DDL record at the
 * position is still left to the replay). */
SL_TEST(snapshot_history_at_the_first_start_position_loads) {
    sl_schema_t *schema = NULL;
    char err[256];
    SL_CHECK_OK(sl_schema_new(&schema));
    SL_CHECK_OK(sl_schema_apply_ddl(schema, NULL, "CREATE DATABASE d", 17, NULL,
                                    err, sizeof err));
    sl_buf_t hrec = SL_BUF_INIT;
    SL_CHECK_OK(sl_history_snapshot_record(schema, "bin.000003", 378, &hrec));
    sl_history_loader_t ld;
    SL_CHECK_OK(sl_history_loader_init(&ld, "bin.000003", 378));
    SL_CHECK_OK(sl_history_loader_feed(&ld, hrec.data, hrec.len));
    SL_CHECK_INT(ld.have_snapshot, 1);
    const char *ddl = "{\"type\":\"ddl\",\"file\":\"bin.000003\",\"pos\":378,"
                      "\"db\":\"d\",\"sql\":\"CREATE TABLE t (id INT)\"}";
    SL_CHECK_OK(sl_history_loader_feed(&ld, (const uint8_t *)ddl, strlen(ddl)));
    SL_CHECK(sl_schema_find(ld.schema, "d", 1, "t", 1) == NULL);
    sl_history_loader_free(&ld);
    sl_buf_free(&hrec);
    sl_schema_free(schema);
}
