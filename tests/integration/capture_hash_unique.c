/*
 * MariaDB's hash UNIQUE keys against the harness MariaDB (10.4+): each
 * step runs DDL that makes, keeps, renumbers or ends hidden DB_ROW_HASH_n
 * columns (UNIQUE on a BLOB, on varchar(2000) utf8mb4, USING HASH,
 * several keys, system versioning, ALTER ADD UNIQUE / DROP INDEX / ADD
 * COLUMN / RENAME INDEX / MODIFY / ENGINE, CREATE/DROP INDEX, CREATE
 * TABLE LIKE, keys over several columns, InnoDB, MyISAM, Aria, and
 * tables without ENGINE= whose key length only the engine decides) on
 * the server and through a schema history, as live capture does.
 *
 * After each step every table it touched gets the same row twice: once
 * logged with binlog_row_metadata=FULL (the table map names every column,
 * DB_ROW_HASH_n included) and once with MINIMAL (the names come from the
 * history); each is deleted again before the next, so the hash keys
 * accept the second. The two decoded insert events, and the two delete
 * events, must have the same columns in the same order with the same
 * values (row_start/row_end aside, which differ by design): the history
 * decodes the MINIMAL row exactly as the server's own metadata does.
 * Also after each step: the history loaded afresh from information_schema
 * (sl_schema_load_live) has the same columns as the DDL-built one, and
 * the history survives its JSON document.
 */
#include "../unit/test_capture_lib.h"
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "harness.h"
#include "json.h"
#include "sl_test.h"

#include <stdlib.h>

#define DB "sl_capture_hash_unique"

/* Steps: the statements, then the tables to write (space-separated). */
static const struct {
    const char *sql;
    const char *tables;
} steps[] = {
    {"CREATE TABLE t1 (id INT PRIMARY KEY, b BLOB, UNIQUE(b))", "t1"},
    {"CREATE TABLE t2 (a VARCHAR(2000), UNIQUE(a)) ENGINE=InnoDB", "t2"},
    {"CREATE TABLE t3 (a INT, b INT, c VARCHAR(10), UNIQUE(a) USING HASH, "
     "UNIQUE KEY(b) USING BTREE, KEY(a) USING HASH, CONSTRAINT cc UNIQUE "
     "KEY (c) USING HASH) ENGINE=InnoDB",
     "t3"},
    {"CREATE TABLE t4 (a INT, b BLOB, c TEXT, d VARCHAR(769), UNIQUE KEY "
     "k1(b), UNIQUE KEY k2(a,b), UNIQUE(c), UNIQUE(d), UNIQUE(c(10)))",
     "t4"},
    {"CREATE TABLE t5 (a INT, b BLOB, UNIQUE(b), UNIQUE(a) USING HASH) "
     "WITH SYSTEM VERSIONING",
     "t5"},
    /* No ENGINE=: 1020 bytes is a B-tree in InnoDB (the default) and a
     * hash in MyISAM; the row event's column count decides. */
    {"CREATE TABLE t6 (a VARCHAR(255), b VARCHAR(300), c TEXT, UNIQUE(a), "
     "UNIQUE(b), UNIQUE(c))",
     "t6"},
    {"CREATE TABLE t7 (a VARCHAR(255), b VARCHAR(251), c VARCHAR(250), "
     "UNIQUE(a), UNIQUE(b,c), UNIQUE(c)) ENGINE=MyISAM",
     "t7"},
    /* Aria indexes 2300 bytes and refuses hash keys (8 KiB blocks). */
    {"CREATE TABLE t8 (a VARCHAR(575), b VARCHAR(10), UNIQUE(a), UNIQUE(b)) "
     "ENGINE=Aria",
     "t8"},
    {"CREATE TABLE t9 (a VARCHAR(400), b VARCHAR(400), c VARCHAR(384), "
     "d VARCHAR(384), UNIQUE(a,b), UNIQUE(c,d)) ENGINE=InnoDB",
     "t9"},
    {"ALTER TABLE t4 DROP INDEX k1", "t4"},
    {"ALTER TABLE t4 ADD COLUMN z INT, ADD UNIQUE (z) USING HASH", "t4"},
    {"ALTER TABLE t4 RENAME INDEX c TO cc", "t4"},
    {"ALTER TABLE t4 DROP INDEX cc, ADD COLUMN y TEXT, ADD UNIQUE (y)", "t4"},
    {"ALTER TABLE t4 ADD UNIQUE (b), ADD UNIQUE(b(5))", "t4"},
    {"ALTER TABLE t4 DROP INDEX b_2", "t4"},
    {"ALTER TABLE t4 DROP INDEX b", "t4"},
    {"ALTER TABLE t4 CHANGE d dd VARCHAR(10)", "t4"},
    {"ALTER TABLE t3 ADD COLUMN d INT", "t3"},
    {"CREATE UNIQUE INDEX ix USING HASH ON t3 (d)", "t3"},
    {"CREATE INDEX ix2 ON t3 (a)", "t3"},
    {"DROP INDEX ix2 ON t3", "t3"},
    {"ALTER TABLE t6 ENGINE=MyISAM", "t6"},
    {"ALTER TABLE t6 ENGINE=InnoDB", "t6"},
    {"ALTER TABLE t2 CONVERT TO CHARACTER SET latin1", "t2"},
    {"ALTER TABLE t2 MODIFY a VARCHAR(3072)", "t2"},
    {"ALTER TABLE t5 ADD COLUMN c INT", "t5"},
    {"ALTER TABLE t5 DROP SYSTEM VERSIONING", "t5"},
    {"CREATE TABLE t10 LIKE t3", "t10"},
    {"CREATE TABLE t11 LIKE t4", "t11"},
    {"ALTER TABLE t1 RENAME TO t12, DISABLE KEYS", "t12"},
    {"ALTER TABLE t7 ALTER COLUMN a SET DEFAULT 'x', DROP CONSTRAINT c", "t7"},
    {"ALTER TABLE t8 ADD UNIQUE (a(10))", "t8"},
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static int collect_cb(void *ctx, const sl_change_t *chg) {
    if (chg->kind == SL_CHANGE_ROW && chg->db_len == strlen(DB) &&
        memcmp(chg->db, DB, chg->db_len) == 0)
        ct_lines_add(ctx, chg->json, chg->json_len);
    return 0;
}

static const struct sl_schema_table_s *lookup_cb(void *ctx, const char *db,
                                                 size_t db_len,
                                                 const char *table,
                                                 size_t table_len) {
    return sl_schema_find(ctx, db, db_len, table, table_len);
}

/* Decodes every file from file0:pos0 up to (not including) file1. */
static void decode(const char *file0, uint64_t pos0, const char *file1,
                   sl_schema_t *hist, ct_lines_t *ls) {
    const char *datadir = getenv("SL_SOURCE_DATADIR");
    sl_binlog_t *dec;
    sl_binlog_opts_t bo = {.schema_lookup = lookup_cb, .schema_ctx = hist};
    SL_CHECK_OK(sl_binlog_new(&dec, &bo, collect_cb, ls));
    const char *dot = strrchr(file0, '.');
    SL_CHECK(dot != NULL);
    int n0 = atoi(dot + 1), n1 = atoi(strrchr(file1, '.') + 1);
    SL_CHECK(n1 > n0);
    for (int k = n0; k < n1; k++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%.*s.%06d", datadir,
                 (int)(dot - file0), file0, k);
        if (sl_binlog_read_file(dec, path, k == n0 ? pos0 : 4, 0) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s", sl_binlog_errmsg(dec));
    }
    sl_binlog_free(dec);
}

/* INSERT of one distinctive row into table: every column the server
 * lists (the hidden ones are not), by type. */
static char *insert_sql(MYSQL *my, const char *table) {
    char q[512];
    snprintf(q, sizeof q,
             "SELECT GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`') ORDER BY "
             "ORDINAL_POSITION), GROUP_CONCAT(IF(DATA_TYPE IN ('int', "
             "'bigint'), ORDINAL_POSITION * 7, CONCAT('''v', COLUMN_NAME, "
             "'-é''')) ORDER BY ORDINAL_POSITION) FROM "
             "information_schema.COLUMNS WHERE TABLE_SCHEMA = '" DB
             "' AND TABLE_NAME = '%s' AND COLUMN_NAME NOT IN ('row_start', "
             "'row_end')",
             table);
    if (mysql_query(my, q) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s", mysql_error(my));
    MYSQL_RES *res = mysql_store_result(my);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    SL_CHECK(row != NULL && row[0] != NULL && row[1] != NULL);
    size_t n = strlen(row[0]) + strlen(row[1]) + 128;
    char *sql = malloc(n);
    snprintf(sql, n, "INSERT INTO %s (%s) VALUES (%s)", table, row[0], row[1]);
    mysql_free_result(res);
    return sql;
}

/* The same column names in the same order, the same values but the
 * versioning timestamps; the count of DB_ROW_HASH_n columns in *nhash. */
static void same_image(const ct_node_t *full, const ct_node_t *min,
                       const char *what, size_t *nhash) {
    SL_CHECK(full != NULL && min != NULL);
    SL_CHECK(full->type == CT_OBJ && min->type == CT_OBJ);
    if (full->n != min->n)
        sl_test_fail(__FILE__, __LINE__,
                     "%s: %zu columns with FULL metadata, %zu from the "
                     "history",
                     what, full->n, min->n);
    *nhash = 0;
    for (size_t i = 0; i < full->n; i++) {
        if (strcmp(full->keys[i], min->keys[i]) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "%s: column %zu is %s, the "
                         "history says %s",
                         what, i + 1, full->keys[i], min->keys[i]);
        if (strncmp(full->keys[i], "DB_ROW_HASH_", 12) == 0)
            ++*nhash;
        if (strcmp(full->keys[i], "row_start") == 0 ||
            strcmp(full->keys[i], "row_end") == 0)
            continue;
        if (!ct_equal(full->kids[i], min->kids[i]))
            sl_test_fail(__FILE__, __LINE__, "%s: column %s differs", what,
                         full->keys[i]);
    }
}

/* Column names of a table, comma-separated; hash columns that may be
 * absent marked with '?'. */
static void col_list(const sl_schema_t *s, const char *table, char *out,
                     size_t n) {
    const sl_schema_table_t *t =
        sl_schema_find(s, DB, strlen(DB), table, strlen(table));
    size_t o = 0;
    out[0] = '\0';
    if (t == NULL) {
        snprintf(out, n, "(missing)");
        return;
    }
    for (size_t i = 0; i < t->ncols && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s%s", i ? "," : "",
                              t->cols[i].name,
                              i >= t->ncols - t->hash_maybe ? "?" : "");
}

static int want_db(void *ctx, const char *db, const char *table) {
    (void)ctx;
    (void)table;
    return strcmp(db, DB) == 0;
}

/* The history read from the server now agrees with hist on table: the
 * same columns, where hist's "maybe" ones are there or not. */
static void check_loader(MYSQL *my, const sl_schema_t *hist,
                         const char *table) {
    sl_schema_t *live = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&live));
    if (sl_schema_load_live(live, my, want_db, NULL, err, sizeof err) != 0)
        sl_test_fail(__FILE__, __LINE__, "load_live: %s", err);
    char a[2048], b[2048];
    col_list(hist, table, a, sizeof a);
    col_list(live, table, b, sizeof b);
    const sl_schema_table_t *lt =
        sl_schema_find(live, DB, strlen(DB), table, strlen(table));
    SL_CHECK(lt != NULL && lt->hash_maybe == 0);
    /* Strip hist's '?' columns the server does not have. */
    char c[2048];
    size_t o = 0;
    const char *p = a;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int maybe = len > 0 && p[len - 1] == '?';
        size_t keep = maybe ? len - 1 : len;
        char item[256];
        snprintf(item, sizeof item, "%.*s", (int)keep, p);
        int in_live = strstr(b, item) != NULL;
        if (!maybe || in_live)
            o += (size_t)snprintf(c + o, sizeof c - o, "%s%s", o ? "," : "",
                                  item);
        p += len + (e ? 1 : 0);
    }
    if (strcmp(c, b) != 0)
        sl_test_fail(__FILE__, __LINE__,
                     "%s: history %s, information_schema %s", table, a, b);
    sl_schema_free(live);
}

static void check_json(sl_schema_t *hist) {
    sl_buf_t b = SL_BUF_INIT, b2 = SL_BUF_INIT;
    SL_CHECK_OK(sl_schema_to_json(hist, &b));
    sl_schema_t *r = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&r));
    if (sl_schema_from_json(r, (const char *)b.data, b.len, err, sizeof err))
        sl_test_fail(__FILE__, __LINE__, "from_json: %s", err);
    SL_CHECK_OK(sl_schema_to_json(r, &b2));
    SL_CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    for (size_t i = 0; i < sl_schema_count(hist); i++) {
        const sl_schema_table_t *t = sl_schema_at(hist, i), *u;
        u = sl_schema_find(r, t->db, strlen(t->db), t->name, strlen(t->name));
        SL_CHECK(u != NULL && u->ncols == t->ncols &&
                 u->hash_maybe == t->hash_maybe);
        for (size_t k = 0; k < t->ncols; k++)
            SL_CHECK_STR(u->cols[k].name, t->cols[k].name);
    }
    sl_schema_free(r);
    sl_buf_free(&b);
    sl_buf_free(&b2);
}

SL_TEST(capture_hash_unique_rows_match_full_metadata) {
    if (getenv("SL_SOURCE_DATADIR") == NULL)
        SL_SKIP("SL_SOURCE_DATADIR not set");
    MYSQL *my = sl_harness_mysql("SOURCE", NULL);
    char *version = sl_harness_query_value(my, "SELECT VERSION()");
    int maria = version && strstr(version, "MariaDB") != NULL;
    free(version);
    if (!maria)
        SL_SKIP("the source is not MariaDB");
    sl_harness_exec(my, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(my, "CREATE DATABASE " DB " CHARACTER SET utf8mb4");
    sl_harness_exec(my, "USE " DB);
    sl_harness_exec(my, "SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
    sl_harness_exec(my, "SET SESSION default_storage_engine = InnoDB, "
                        "system_versioning_alter_history = KEEP");

    sl_schema_t *hist = NULL;
    char err[512];
    SL_CHECK_OK(sl_schema_new(&hist));
    if (sl_schema_load_live(hist, my, want_db, NULL, err, sizeof err) != 0)
        sl_test_fail(__FILE__, __LINE__, "load_live: %s", err);

    ct_node_t *schema = ct_load_schema();
    SL_CHECK(schema != NULL);
    size_t events = 0, hashes = 0, maybe_seen = 0;
    for (size_t s = 0; s < NSTEPS; s++) {
        sl_harness_exec(my, steps[s].sql);
        int rc =
            sl_schema_apply_ddl(hist, DB, steps[s].sql, strlen(steps[s].sql),
                                NULL, err, sizeof err);
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", steps[s].sql, err);
        char tables[256];
        snprintf(tables, sizeof tables, "%s", steps[s].tables);
        for (char *save = NULL, *table = strtok_r(tables, " ", &save);
             table != NULL; table = strtok_r(NULL, " ", &save)) {
            const sl_schema_table_t *ht =
                sl_schema_find(hist, DB, strlen(DB), table, strlen(table));
            SL_CHECK(ht != NULL);
            maybe_seen += ht->hash_maybe > 0;
            char *ins = insert_sql(my, table);
            char del[128];
            snprintf(del, sizeof del, "DELETE FROM %s", table);
            char file0[256], file1[256];
            uint64_t pos0, pos1;
            sl_harness_master_status(my, file0, sizeof file0, &pos0);
            sl_harness_exec(my, ins);
            sl_harness_exec(my, del);
            /* Global; set back before anything can fail. */
            sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = MINIMAL");
            sl_harness_exec(my, ins);
            sl_harness_exec(my, del);
            sl_harness_exec(my, "SET GLOBAL binlog_row_metadata = FULL");
            sl_harness_exec(my, "FLUSH BINARY LOGS");
            sl_harness_master_status(my, file1, sizeof file1, &pos1);
            free(ins);
            ct_lines_t ls = {0};
            decode(file0, pos0, file1, hist, &ls);
            /* Versioned tables log the delete as an update (the row is
             * kept as history): still two events per metadata setting. */
            if (ls.n != 4)
                sl_test_fail(__FILE__, __LINE__, "%s: %zu row events",
                             steps[s].sql, ls.n);
            ct_node_t *ev[4];
            for (int i = 0; i < 4; i++) {
                ev[i] = ct_parse(ls.lines[i], strlen(ls.lines[i]));
                SL_CHECK(ev[i] != NULL);
                char why[300];
                if (!ct_validate(schema, ev[i], why, sizeof(why), "$"))
                    sl_test_fail(__FILE__, __LINE__, "event schema: %s", why);
            }
            char what[512];
            size_t nh;
            snprintf(what, sizeof what, "%s (insert into %s)", steps[s].sql,
                     table);
            same_image(ct_get(ev[0], "after"), ct_get(ev[2], "after"), what,
                       &nh);
            hashes += nh;
            snprintf(what, sizeof what, "%s (delete from %s)", steps[s].sql,
                     table);
            same_image(ct_get(ev[1], "before"), ct_get(ev[3], "before"), what,
                       &nh);
            for (int i = 0; i < 4; i++)
                ct_free(ev[i]);
            ct_lines_free(&ls);
            events += 4;
            check_loader(my, hist, table);
        }
        check_json(hist);
    }
    printf("  %zu steps, %zu row events compared, %zu hash columns seen, "
           "%zu tables with a key only the engine decides\n",
           NSTEPS, events, hashes, maybe_seen);
    SL_CHECK(hashes > 20);
    SL_CHECK(maybe_seen > 0);
    ct_free(schema);
    sl_schema_free(hist);
    sl_harness_exec(my, "DROP DATABASE " DB);
    mysql_close(my);
}
