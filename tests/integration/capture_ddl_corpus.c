/*
 * The live DDL corpus (issue 14): real DDL statements, taken at test time
 * from the fixture binlogs and MariaDB's own test suite by
 * scripts/ddl-corpus.py, run on the harness's source MariaDB with
 * binlog_row_metadata=MINIMAL while sluice-capture follows it. The binlog
 * then names no columns, so every row comes out through the schema
 * history.
 *
 * After each statement, every table it touched (its columns changed, it is
 * new, or the statement names it) gets rows with distinctive values in
 * every column that is not generated (integers at their limits, decimals
 * full of digits, dates at the ends of their ranges, the last ENUM member
 * and every SET member, text with characters of the column's charset,
 * bytes 0x00 and 0xff, geometry, NULL): the rows already there are
 * deleted, one is inserted, updated and deleted, and each image is read
 * back with SELECT. The events capture published (one broker partition,
 * --partition-by server, so they come in commit order) must hold the same
 * column names in the same order and the same values. A marker row
 * written after each statement says where its events end.
 *
 * A capture that stops is recorded with the statement and its log line,
 * and started again from the server's current position under a new
 * --name (a fresh history read from information_schema), so one stop
 * hides nothing after it. The test fails on any stop, any positional or
 * wrong row and any missing event (two stops on what the source server
 * itself wrote are reported, not failures: see capture_stopped()), and prints
 * its counts and the stops by reason; the details (statement, what went wrong,
 * SHOW CREATE TABLE) go to build/ddl-corpus/report.md.
 *
 * Environment: SL_DDL_CORPUS_MAX caps the statements extracted (default
 * 2000); SL_DDL_CORPUS_FILE runs a corpus file of the same format instead
 * (to replay a failure); SL_DDL_CORPUS_TRACE=1 prints every event read.
 */
#include "ddl_corpus/values.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOPIC "corpus"
#define MARK_DB "sl_corpus_mark"
#define OUT_DIR "build/ddl-corpus"
#define MAX_PRE_ROWS 50
#define MAX_TOUCHED 8

typedef struct {
    char *db, *name, *sig, *engine, *type;
    dc_col_t *cols;
    size_t ncols;
    int virtual_text; /* A VIRTUAL generated column of a text type. */
} tbl_t;

typedef struct {
    tbl_t *v;
    size_t n;
} tset_t;

enum { OP_INSERT = 1, OP_UPDATE, OP_DELETE };

typedef struct {
    char *db, *table;
    int op, pre; /* pre: a delete of a row the test did not write. */
    dc_img_t before, after;
} expect_t;

/* What the test counts. */
typedef struct {
    long groups, stmts, accepted, rejected, tables_written, rows_refused,
        checked, extra, stops, source_stops, hash_rows, positional, wrong,
        missing, unchecked;
} counts_t;

typedef struct {
    MYSQL *a, *b; /* a runs the corpus, b writes and reads the rows. */
    char dir[512], log[700];
    sl_harness_broker_t broker;
    int capture_pid, runs;
    sl_client_t *cl;
    uint64_t offset, mark;
    /* A start marker (row id 2, n = the coming end marker) was written
     * before the test's own rows: events before it are the statement's. */
    int start_marked;
    char **baseline;
    size_t nbaseline;
    tset_t snap;
    expect_t *exp;
    size_t nexp, capexp;
    FILE *report;
    /* Counts. */
    counts_t n;
    const char *group, *sql;
    long stmt_no;
    /* Distinct reasons of stops: the reason without positions, numbers
     * and statement text, how often, and the first statement. */
    struct {
        char key[160], first[200];
        long n;
    } reasons[128];
    size_t nreasons;
} ctx_t;

static char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    SL_CHECK(d != NULL);
    return d;
}

/* ---- SQL helpers ------------------------------------------------------ */

static void drain(MYSQL *m) {
    do {
        MYSQL_RES *res = mysql_store_result(m);
        if (res != NULL)
            mysql_free_result(res);
    } while (mysql_next_result(m) == 0);
}

/* The rows the last statement run() ran changed (its result is drained,
 * which resets mysql_affected_rows()). */
static long long affected;

/* Runs sql; returns 0 or the server's error number (message in err). */
static unsigned run(MYSQL *m, const char *sql, size_t len, char *err,
                    size_t errlen) {
    affected = -1;
    if (mysql_real_query(m, sql, len) != 0) {
        if (err)
            snprintf(err, errlen, "%s", mysql_error(m));
        return mysql_errno(m);
    }
    affected = (long long)mysql_affected_rows(m);
    drain(m);
    return 0;
}

static MYSQL_RES *query(MYSQL *m, const char *sql) {
    if (mysql_query(m, sql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    if (res == NULL)
        sl_test_fail(__FILE__, __LINE__, "%s: no result: %s", sql,
                     mysql_error(m));
    return res;
}

/* Appends `name` with backquotes doubled. */
static void put_table(sl_buf_t *b, const tbl_t *t) {
    dc_put_ident(b, t->db);
    sl_buf_append_u8(b, '.');
    dc_put_ident(b, t->name);
}

static const char *cstr(sl_buf_t *b) {
    const char *s;
    SL_CHECK(sl_buf_cstr(b, &s) == 0);
    return s;
}

/* ---- the report -------------------------------------------------------- */

static void show_create(ctx_t *c, const char *db, const char *table) {
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SHOW CREATE TABLE ");
    dc_put_ident(&q, db);
    sl_buf_append_u8(&q, '.');
    dc_put_ident(&q, table);
    if (mysql_query(c->b, cstr(&q)) == 0) {
        MYSQL_RES *res = mysql_store_result(c->b);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        if (row && mysql_num_fields(res) >= 2 && row[1])
            fprintf(c->report, "\n```sql\n%s\n```\n", row[1]);
        if (res)
            mysql_free_result(res);
    } else {
        fprintf(c->report, "\n(SHOW CREATE TABLE %s.%s: %s)\n", db, table,
                mysql_error(c->b));
    }
    sl_buf_free(&q);
}

/* One failure: what, the statement, the table's definition now. */
static void failure(ctx_t *c, const char *what, const char *db,
                    const char *table, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The first ones on stdout (the stops by reason sum up the rest), all
     * in the report. */
    static int printed;
    if (printed++ < 40)
        printf("# %s after statement %ld (%s): %.200s: %.300s\n", what,
               c->stmt_no, c->group, c->sql ? c->sql : "(group reset)", msg);
    else if (printed == 42)
        printf("# (more failures in " OUT_DIR "/report.md)\n");
    fprintf(c->report,
            "\n## %s: %s #%ld\n\nStatement:\n\n```sql\n%.2000s\n"
            "```\n\n%s\n",
            what, c->group, c->stmt_no, c->sql ? c->sql : "(group reset)", msg);
    if (db && table)
        show_create(c, db, table);
    fflush(c->report);
}

/* ---- what the server says: tables and columns --------------------------- */

static void free_tbl(tbl_t *t) {
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].data_type);
        free(t->cols[i].column_type);
        free(t->cols[i].charset);
    }
    free(t->cols);
    free(t->db);
    free(t->name);
    free(t->sig);
    free(t->engine);
    free(t->type);
    memset(t, 0, sizeof *t);
}

static void free_tset(tset_t *s) {
    for (size_t i = 0; i < s->n; i++)
        free_tbl(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int in_list(char **list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* The databases that are not in the baseline: the corpus's. */
static size_t test_dbs(ctx_t *c, char ***out) {
    MYSQL_RES *res = query(c->b, "SHOW DATABASES");
    MYSQL_ROW row;
    size_t n = 0;
    char **v = calloc(mysql_num_rows(res) + 1, sizeof *v);
    SL_CHECK(v != NULL);
    while ((row = mysql_fetch_row(res)) != NULL)
        if (!in_list(c->baseline, c->nbaseline, row[0]))
            v[n++] = xstrdup(row[0]);
    mysql_free_result(res);
    *out = v;
    return n;
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static tbl_t *find_tbl(tset_t *s, const char *db, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].db, db) == 0 && strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

/* A system-versioned table without explicit AS ROW START/END columns has
 * the implicit row_start and row_end, which information_schema does not
 * list but the binlog's rows carry: added as hidden columns (read with
 * SELECT row_start, row_end; never written). */
static void add_implicit_period(ctx_t *c, tbl_t *t) {
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SHOW CREATE TABLE ");
    put_table(&q, t);
    MYSQL_RES *res = query(c->b, cstr(&q));
    MYSQL_ROW row = mysql_fetch_row(res);
    int explicit = row && row[1] && strcasestr(row[1], "AS ROW START");
    mysql_free_result(res);
    sl_buf_free(&q);
    if (explicit)
        return;
    t->cols = realloc(t->cols, (t->ncols + 2) * sizeof *t->cols);
    SL_CHECK(t->cols != NULL);
    for (int k = 0; k < 2; k++) {
        dc_col_t *col = &t->cols[t->ncols++];
        memset(col, 0, sizeof *col);
        col->name = xstrdup(k ? "row_end" : "row_start");
        col->data_type = xstrdup("timestamp");
        col->column_type = xstrdup("timestamp(6)");
        col->generated = 1;
        col->cls = DC_EXACT | DC_HIDDEN;
    }
}

/* A UNIQUE key MariaDB (10.4+) keeps as a hash (over a BLOB/TEXT without
 * prefix, longer than the engine indexes, or USING HASH) adds a hidden
 * DB_ROW_HASH_n column after every other, which the binlog's rows carry
 * and information_schema.STATISTICS shows as INDEX_TYPE 'HASH' (MEMORY's
 * own hash indexes aside): added as hidden columns whose value is not
 * compared (no SELECT can read it) and never written. */
static void add_hash_columns(ctx_t *c, tbl_t *t) {
    if (strcasecmp(t->engine, "MEMORY") == 0)
        return;
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SELECT COUNT(DISTINCT INDEX_NAME) FROM "
                          "information_schema.STATISTICS WHERE NON_UNIQUE = 0 "
                          "AND INDEX_TYPE = 'HASH' AND TABLE_SCHEMA = ");
    dc_put_string(&q, c->b, t->db, strlen(t->db));
    sl_buf_append_str(&q, " AND TABLE_NAME = ");
    dc_put_string(&q, c->b, t->name, strlen(t->name));
    MYSQL_RES *res = query(c->b, cstr(&q));
    MYSQL_ROW row = mysql_fetch_row(res);
    int n = row && row[0] ? atoi(row[0]) : 0;
    mysql_free_result(res);
    sl_buf_free(&q);
    if (n == 0)
        return;
    t->cols = realloc(t->cols, (t->ncols + (size_t)n) * sizeof *t->cols);
    SL_CHECK(t->cols != NULL);
    /* Numbered from 1, skipping a number a user column's name takes. */
    for (int k = 0, num = 1; k < n; k++) {
        char name[32];
        int taken;
        do {
            snprintf(name, sizeof name, "DB_ROW_HASH_%d", num++);
            taken = 0;
            for (size_t i = 0; i < t->ncols; i++)
                taken |= strcasecmp(t->cols[i].name, name) == 0;
        } while (taken);
        dc_col_t *col = &t->cols[t->ncols++];
        memset(col, 0, sizeof *col);
        col->name = xstrdup(name);
        col->data_type = xstrdup("bigint");
        col->column_type = xstrdup("bigint(20) unsigned");
        col->nullable = 1;
        col->generated = 1;
        col->cls = DC_NAME | DC_HIDDEN;
    }
    size_t siglen = strlen(t->sig ? t->sig : "") + 32;
    char *sig = malloc(siglen);
    SL_CHECK(sig != NULL);
    snprintf(sig, siglen, "%s hash=%d", t->sig ? t->sig : "", n);
    free(t->sig);
    t->sig = sig;
}

/* Reads every base table of the corpus databases with its columns, in
 * ordinal order, and a signature of each (to see which ones a statement
 * changed). */
static void snapshot(ctx_t *c, tset_t *s) {
    char **dbs;
    size_t ndbs = test_dbs(c, &dbs);
    memset(s, 0, sizeof *s);
    if (ndbs == 0) {
        free(dbs);
        return;
    }
    sl_buf_t in = SL_BUF_INIT, q = SL_BUF_INIT;
    for (size_t i = 0; i < ndbs; i++) {
        if (i)
            sl_buf_append_u8(&in, ',');
        dc_put_string(&in, c->b, dbs[i], strlen(dbs[i]));
    }
    sl_buf_printf(&q,
                  "SELECT TABLE_SCHEMA, TABLE_NAME, IFNULL(ENGINE, ''), "
                  "TABLE_TYPE FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA IN (%s) AND TABLE_TYPE <> 'VIEW' "
                  "AND TABLE_TYPE <> 'TEMPORARY'",
                  cstr(&in));
    MYSQL_RES *res = query(c->b, cstr(&q));
    MYSQL_ROW row;
    s->v = calloc(mysql_num_rows(res) + 1, sizeof *s->v);
    SL_CHECK(s->v != NULL);
    while ((row = mysql_fetch_row(res)) != NULL) {
        tbl_t *t = &s->v[s->n++];
        t->db = xstrdup(row[0]);
        t->name = xstrdup(row[1]);
        t->engine = xstrdup(row[2]);
        t->type = xstrdup(row[3]);
    }
    mysql_free_result(res);
    sl_buf_reset(&q);
    sl_buf_printf(
        &q,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, "
        "COLUMN_TYPE, IS_NULLABLE, IFNULL(CHARACTER_MAXIMUM_LENGTH,"
        " 0), IFNULL(NUMERIC_PRECISION, 0), IFNULL(NUMERIC_SCALE, "
        "0), CHARACTER_SET_NAME, IS_GENERATED, COLUMN_KEY, "
        "IFNULL(COLLATION_NAME, ''), EXTRA, IFNULL(GENERATION_EXPRESSION, '')"
        " FROM "
        "information_schema.COLUMNS WHERE TABLE_SCHEMA IN (%s) "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
        cstr(&in));
    res = query(c->b, cstr(&q));
    sl_buf_t sig = SL_BUF_INIT;
    tbl_t *cur = NULL;
    size_t cap = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        tbl_t *t = find_tbl(s, row[0], row[1]);
        if (t == NULL)
            continue; /* A view's columns. */
        if (t != cur) {
            cur = t;
            cap = 0;
        }
        if (t->ncols == cap) {
            cap = cap ? 2 * cap : 16;
            t->cols = realloc(t->cols, cap * sizeof *t->cols);
            SL_CHECK(t->cols != NULL);
        }
        dc_col_t *col = &t->cols[t->ncols++];
        memset(col, 0, sizeof *col);
        col->name = xstrdup(row[2]);
        col->data_type = xstrdup(row[3]);
        col->column_type = xstrdup(row[4]);
        col->nullable = strcmp(row[5], "YES") == 0;
        col->maxlen = atoll(row[6]);
        col->prec = atoi(row[7]);
        col->scale = atoi(row[8]);
        col->charset = row[9] ? xstrdup(row[9]) : NULL;
        col->generated = row[10] && strcmp(row[10], "ALWAYS") == 0;
        col->cls = dc_col_class(col->data_type);
        col->zerofill = strstr(col->column_type, "zerofill") != NULL;
        if (col->generated && strstr(row[13], "VIRTUAL") != NULL &&
            dc_nondeterministic(row[14]))
            col->cls = DC_NAME;
        if (col->generated && strstr(row[13], "VIRTUAL") != NULL &&
            col->charset != NULL)
            t->virtual_text = 1;
        sl_buf_reset(&sig);
        if (t->sig)
            sl_buf_append_str(&sig, t->sig);
        sl_buf_printf(&sig, "%s %s %s %s %s %s|", row[2], row[4], row[5],
                      row[11], row[12], row[13]);
        free(t->sig);
        t->sig = xstrdup(cstr(&sig));
    }
    mysql_free_result(res);
    for (size_t i = 0; i < s->n; i++) {
        sl_buf_reset(&sig);
        sl_buf_printf(&sig, "%s %s %s", s->v[i].sig ? s->v[i].sig : "",
                      s->v[i].engine, s->v[i].type);
        free(s->v[i].sig);
        s->v[i].sig = xstrdup(cstr(&sig));
    }
    sl_buf_free(&sig);
    sl_buf_free(&in);
    sl_buf_free(&q);
    free_list(dbs, ndbs);
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].type, "SYSTEM VERSIONED") == 0)
            add_implicit_period(c, &s->v[i]);
        add_hash_columns(c, &s->v[i]);
    }
}

/* 1 when name appears in sql as a word (ASCII case-insensitively). */
static int names(const char *sql, const char *name) {
    size_t n = strlen(name);
    if (n == 0)
        return 0;
    for (const char *p = sql; (p = strcasestr(p, name)) != NULL; p++) {
        int before = p == sql || !(isalnum((unsigned char)p[-1]) ||
                                   p[-1] == '_' || p[-1] == '$');
        unsigned char after = (unsigned char)p[n];
        if (before && !(isalnum(after) || after == '_' || after == '$'))
            return 1;
    }
    return 0;
}

/* ---- row images ------------------------------------------------------------
 */

/* Reads up to max rows of t as canonical images into *out (caller frees
 * each); returns the row count, or -1 when the SELECT fails. */
static long read_rows(ctx_t *c, const tbl_t *t, dc_img_t *out, long max) {
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_append_str(&q, "SELECT ");
    for (size_t i = 0; i < t->ncols; i++) {
        if (i)
            sl_buf_append_str(&q, ", ");
        if (t->cols[i].cls == (DC_NAME | DC_HIDDEN))
            sl_buf_append_str(&q, "NULL"); /* A hash column: unreadable. */
        else
            dc_put_select_expr(&q, &t->cols[i]);
    }
    sl_buf_append_str(&q, " FROM ");
    put_table(&q, t);
    sl_buf_printf(&q, " LIMIT %ld", max + 1);
    long n = -1;
    if (mysql_query(c->b, cstr(&q)) == 0) {
        MYSQL_RES *res = mysql_store_result(c->b);
        MYSQL_ROW row;
        n = 0;
        while (res && (row = mysql_fetch_row(res)) != NULL) {
            if (n < max) {
                unsigned long *lens = mysql_fetch_lengths(res);
                dc_img_t src = {t->ncols, NULL, row, NULL, NULL};
                size_t l[t->ncols + 1];
                char *names[t->ncols + 1];
                int cls[t->ncols + 1];
                for (size_t i = 0; i < t->ncols; i++) {
                    l[i] = lens[i];
                    names[i] = t->cols[i].name;
                    cls[i] = t->cols[i].cls;
                }
                src.names = names;
                src.lens = l;
                src.cls = cls;
                dc_copy_img(&out[n], &src);
            }
            n++;
        }
        if (res)
            mysql_free_result(res);
    }
    sl_buf_free(&q);
    return n;
}

static void expect(ctx_t *c, const tbl_t *t, int op, int pre,
                   const dc_img_t *before, const dc_img_t *after) {
    if (c->nexp == c->capexp) {
        c->capexp = c->capexp ? 2 * c->capexp : 32;
        c->exp = realloc(c->exp, c->capexp * sizeof *c->exp);
        SL_CHECK(c->exp != NULL);
    }
    expect_t *e = &c->exp[c->nexp++];
    memset(e, 0, sizeof *e);
    e->db = xstrdup(t->db);
    e->table = xstrdup(t->name);
    e->op = op;
    e->pre = pre;
    if (before)
        dc_copy_img(&e->before, before);
    if (after)
        dc_copy_img(&e->after, after);
}

static void clear_expectations(ctx_t *c) {
    for (size_t i = 0; i < c->nexp; i++) {
        free(c->exp[i].db);
        free(c->exp[i].table);
        dc_free_img(&c->exp[i].before);
        dc_free_img(&c->exp[i].after);
    }
    c->nexp = 0;
}

/* INSERT of variant v (update 0), or UPDATE ... SET of variant v (update
 * 1), of t's writable columns into q. */
static void build_write(ctx_t *c, const tbl_t *t, int v, int update,
                        sl_buf_t *q) {
    sl_buf_reset(q);
    sl_buf_append_str(q, update ? "UPDATE " : "INSERT INTO ");
    put_table(q, t);
    sl_buf_append_str(q, update ? " SET " : " (");
    size_t k = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (k++)
            sl_buf_append_str(q, ", ");
        dc_put_ident(q, t->cols[i].name);
        if (update) {
            sl_buf_append_str(q, " = ");
            dc_put_value(q, c->b, &t->cols[i], v, i);
        }
    }
    if (update) {
        if (k == 0)
            sl_buf_reset(q);
        return;
    }
    sl_buf_append_str(q, ") VALUES (");
    k = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (k++)
            sl_buf_append_str(q, ", ");
        dc_put_value(q, c->b, &t->cols[i], v, i);
    }
    sl_buf_append_u8(q, ')');
}

/* Deletes what t holds, then inserts, updates and deletes one row with
 * distinctive values, recording the events each step must produce. */
static void write_rows(ctx_t *c, const tbl_t *t) {
    if (strcmp(t->type, "SEQUENCE") == 0 || t->ncols == 0)
        return;
    int versioned = strcmp(t->type, "SYSTEM VERSIONED") == 0;
    dc_img_t pre[MAX_PRE_ROWS], ins, upd;
    memset(&ins, 0, sizeof ins);
    memset(&upd, 0, sizeof upd);
    long npre = read_rows(c, t, pre, MAX_PRE_ROWS);
    if (npre < 0 || npre > MAX_PRE_ROWS) {
        for (long i = 0; i < npre && i < MAX_PRE_ROWS; i++)
            dc_free_img(&pre[i]);
        return;
    }
    sl_buf_t q = SL_BUF_INIT;
    char err[512];
    sl_buf_append_str(&q, "DELETE FROM ");
    put_table(&q, t);
    unsigned rc = run(c->b, (const char *)q.data, q.len, err, sizeof err);
    if (getenv("SL_DDL_CORPUS_TRACE"))
        printf("# write %s.%s: %ld rows there, delete: %u, %lld\n", t->db,
               t->name, npre, rc, affected);
    if (rc == 0 && !versioned && affected == npre)
        for (long i = 0; i < npre; i++)
            expect(c, t, OP_DELETE, 1, &pre[i], NULL);
    for (long i = 0; i < npre; i++)
        dc_free_img(&pre[i]);
    if (rc != 0)
        goto out;
    c->n.tables_written++;
    /* The limits first; then the other values (a partition or a CHECK may
     * refuse the limits); then the defaults. */
    int used = 0;
    build_write(c, t, 0, 0, &q);
    unsigned rc0 = run(c->b, (const char *)q.data, q.len, err, sizeof err);
    if (rc0 != 0) {
        used = 1;
        build_write(c, t, 1, 0, &q);
        rc0 = run(c->b, (const char *)q.data, q.len, NULL, 0);
    }
    if (rc0 != 0) {
        sl_buf_reset(&q);
        sl_buf_append_str(&q, "INSERT INTO ");
        put_table(&q, t);
        sl_buf_append_str(&q, " () VALUES ()");
        char err2[512];
        if (run(c->b, (const char *)q.data, q.len, err2, sizeof err2) != 0) {
            c->n.rows_refused++;
            fprintf(c->report, "\n- row refused in %s.%s after %s #%ld: %s\n",
                    t->db, t->name, c->group, c->stmt_no, err);
            goto out;
        }
    }
    if (read_rows(c, t, &ins, 1) != 1)
        goto out; /* BLACKHOLE keeps nothing: its events are extras. */
    expect(c, t, OP_INSERT, 0, NULL, &ins);
    build_write(c, t, !used, 1, &q);
    if (q.len > 0 &&
        run(c->b, (const char *)q.data, q.len, err, sizeof err) == 0 &&
        affected == 1 && read_rows(c, t, &upd, 1) == 1) {
        expect(c, t, OP_UPDATE, 0, &ins, &upd);
        dc_free_img(&ins);
        ins = upd;
        memset(&upd, 0, sizeof upd);
    }
    sl_buf_reset(&q);
    sl_buf_append_str(&q, "DELETE FROM ");
    put_table(&q, t);
    if (run(c->b, (const char *)q.data, q.len, err, sizeof err) == 0 &&
        !versioned && affected == 1)
        expect(c, t, OP_DELETE, 0, &ins, NULL);
out:
    dc_free_img(&ins);
    dc_free_img(&upd);
    sl_buf_free(&q);
}

/* ---- events
 * ------------------------------------------------------------------ */

static int str_is(const sl_jr_doc_t *d, uint32_t i, const char *s) {
    return i != SL_JR_NONE && sl_jr_str_eq(d, i, s, strlen(s));
}

/* One row event: when ours (after the start marker) and of the table and
 * operation of the next expectation, checked against it; else an extra (a
 * row the corpus statement wrote, a history row of a versioned table),
 * which must still not be positional. */
static void on_row(ctx_t *c, const sl_jr_doc_t *d, size_t *ptr, int ours) {
    char db[256] = "", table[256] = "", msg[1024];
    sl_jr_copy_str(d, sl_jr_get(d, 0, "db"), db, sizeof db);
    sl_jr_copy_str(d, sl_jr_get(d, 0, "table"), table, sizeof table);
    uint32_t op_tok = sl_jr_get(d, 0, "op");
    int op = str_is(d, op_tok, "insert")   ? OP_INSERT
             : str_is(d, op_tok, "update") ? OP_UPDATE
                                           : OP_DELETE;
    uint32_t pos = sl_jr_get(d, 0, "positional");
    if (pos != SL_JR_NONE && sl_jr_type(d, pos) == SL_JR_TRUE) {
        c->n.positional++;
        failure(c, "positional row", db, table,
                "a %s of %s.%s was published with positional keys",
                op == OP_INSERT   ? "insert"
                : op == OP_UPDATE ? "update"
                                  : "delete",
                db, table);
        return;
    }
    expect_t *e = *ptr < c->nexp && ours ? &c->exp[*ptr] : NULL;
    if (e == NULL || e->op != op || strcmp(e->db, db) != 0 ||
        strcmp(e->table, table) != 0) {
        c->n.extra++;
        return;
    }
    uint32_t before = sl_jr_get(d, 0, "before");
    uint32_t after = sl_jr_get(d, 0, "after");
    if (e->pre) {
        /* The rows already there are deleted in the server's order: find
         * the one this event deletes. */
        for (size_t j = *ptr;
             j < c->nexp && c->exp[j].pre && strcmp(c->exp[j].db, db) == 0 &&
             strcmp(c->exp[j].table, table) == 0;
             j++)
            if (!dc_diff_image(d, before, &c->exp[j].before, msg, sizeof msg)) {
                expect_t tmp = *e;
                *e = c->exp[j];
                c->exp[j] = tmp;
                break;
            }
    }
    int bad = 0;
    if (op != OP_INSERT &&
        dc_diff_image(d, before, &e->before, msg, sizeof msg)) {
        bad = 1;
        failure(c, "wrong row", db, table, "%s before image: %s",
                op == OP_UPDATE ? "update" : "delete", msg);
    }
    if (!bad && op != OP_DELETE &&
        dc_diff_image(d, after, &e->after, msg, sizeof msg)) {
        bad = 1;
        failure(c, "wrong row", db, table, "%s after image: %s",
                op == OP_UPDATE ? "update" : "insert", msg);
    }
    c->n.checked++;
    const dc_img_t *img = op == OP_DELETE ? &e->before : &e->after;
    for (size_t j = 0; j < img->n; j++)
        if (img->cls[j] == (DC_NAME | DC_HIDDEN)) {
            c->n.hash_rows++; /* Rows with DB_ROW_HASH_n columns. */
            break;
        }
    c->n.wrong += bad;
    (*ptr)++;
}

/* ---- capture
 * ------------------------------------------------------------------ */

/* Starts capture at the server's current end, under a new --name (a new
 * history, read from information_schema when it starts), excluding the
 * databases that were there before the test. */
static void start_capture(ctx_t *c) {
    char file[128], start[200], name[64], sid[16];
    uint64_t pos;
    sl_harness_master_status(c->b, file, sizeof file, &pos);
    snprintf(start, sizeof start, "%s:%llu", file, (unsigned long long)pos);
    snprintf(name, sizeof name, TOPIC "-%d", ++c->runs);
    snprintf(sid, sizeof sid, "%d", 3050 + c->runs % 100);
    snprintf(c->log, sizeof c->log, "%s/capture-%d.log", c->dir, c->runs);
    sl_buf_t ex = SL_BUF_INIT;
    sl_buf_append_str(&ex, "(");
    for (size_t i = 0, k = 0; i < c->nbaseline; i++) {
        if (strcmp(c->baseline[i], MARK_DB) == 0)
            continue;
        sl_buf_printf(&ex, "%s\\Q%s\\E", k++ ? "|" : "", c->baseline[i]);
    }
    sl_buf_append_str(&ex, ")\\..*");
    const char *const flags[] = {"--topic",
                                 TOPIC,
                                 "--name",
                                 name,
                                 "--server-id",
                                 sid,
                                 "--start",
                                 start,
                                 "--partition-by",
                                 "server",
                                 "--exclude",
                                 cstr(&ex),
                                 "--heartbeat",
                                 "200ms",
                                 "--checkpoint-interval",
                                 "50ms",
                                 "--report-interval",
                                 "60s",
                                 NULL};
    c->capture_pid = sl_harness_start_capture(c->broker.addr, flags, c->log);
    sl_buf_free(&ex);
    /* Capture takes the tables' definitions from the server as they are
     * when it reads them, as the schema at --start: the next statement
     * must come after that read (once, a group's reset DDL ran first and
     * capture, replaying it onto tables that already had it, stopped).
     * A capture that stops before the read is found by the next sync. */
    sl_harness_wait_file_text(c->log, "schema history read from the source",
                              30000);
}

/* The line of the capture log that says why it stopped (its last
 * "error" or "stopped" line). */
static void stop_reason(ctx_t *c, char *out, size_t outlen) {
    snprintf(out, outlen, "capture exited; no reason in %s", c->log);
    FILE *f = fopen(c->log, "r");
    if (f == NULL)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, "error") || strstr(line, "stopped") ||
            strstr(line, "fatal"))
            snprintf(out, outlen, "%s", line);
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

static void sync_events(ctx_t *c);

/* Counts reason (a capture log line) under its distinct key. */
static void count_reason(ctx_t *c, const char *reason) {
    char key[160];
    size_t k = 0;
    const char *p = strstr(reason, "reason=\"");
    p = p ? p + 8 : reason;
    if (strncmp(p, "binlog ", 7) == 0)
        p += 7;
    while (*p && *p != '"' && k + 1 < sizeof key) {
        if (strncmp(p, " at offset ", 11) == 0 ||
            (strncmp(p, "): ", 3) == 0 && memmem(key, k, "DDL", 3) != NULL))
            break;
        if (strncmp(p, "binlog.", 7) == 0) {
            p += strcspn(p, " ");
            p += *p == ' ';
            continue;
        }
        if (isdigit((unsigned char)*p)) {
            key[k++] = 'N';
            while (isdigit((unsigned char)*p))
                p++;
            continue;
        }
        key[k++] = *p++;
    }
    key[k] = '\0';
    for (size_t i = 0; i < c->nreasons; i++)
        if (strcmp(c->reasons[i].key, key) == 0) {
            c->reasons[i].n++;
            return;
        }
    if (c->nreasons == sizeof c->reasons / sizeof c->reasons[0])
        return;
    snprintf(c->reasons[c->nreasons].key, sizeof c->reasons[0].key, "%s", key);
    snprintf(c->reasons[c->nreasons].first, sizeof c->reasons[0].first,
             "%s #%ld: %.120s", c->group, c->stmt_no,
             c->sql ? c->sql : "(group reset)");
    c->reasons[c->nreasons++].n = 1;
}

/* Capture exited (or went silent): record why, with the tables the
 * statement named, and start a new one after what was written so far. */
static void capture_stopped(ctx_t *c, const char *why) {
    char reason[4096];
    if (c->capture_pid > 0)
        sl_harness_stop(c->capture_pid, SIGTERM, 10000);
    c->capture_pid = 0;
    stop_reason(c, reason, sizeof reason);
    int virtual_text = 0;
    for (size_t i = 0; i < c->snap.n; i++)
        virtual_text |= c->snap.v[i].virtual_text;
    /* Two stops are capture refusing what the source server wrote, by
     * design (docs/capture.md), not the schema history's doing: MariaDB
     * logs a DELETE on a table versioned by transaction id as a statement,
     * and writes an indexed VIRTUAL text column's image cut inside a
     * character. They are reported, not failures. */
    int source = strstr(reason, "statement-based DML") != NULL ||
                 (strstr(reason, "invalid UTF-8") != NULL && virtual_text);
    if (source)
        c->n.source_stops++;
    else
        c->n.stops++;
    count_reason(c, reason);
    const tbl_t *named = NULL;
    for (size_t i = 0; c->sql && i < c->snap.n && named == NULL; i++)
        if (names(c->sql, c->snap.v[i].name))
            named = &c->snap.v[i];
    failure(c,
            source ? "capture stopped on what the source wrote"
                   : "capture stopped",
            named ? named->db : NULL, named ? named->name : NULL, "%s: %s", why,
            reason);
    start_capture(c);
}

/* Writes the next marker and reads the events up to it, checking each row
 * event against the expectations; expectations left are missing events. */
static void sync_events(ctx_t *c) {
    char q[128];
    snprintf(q, sizeof q, "UPDATE " MARK_DB ".m SET n = %llu WHERE id = 1",
             (unsigned long long)++c->mark);
    sl_harness_exec(c->b, q);
    size_t ptr = 0;
    int done = 0, idle = 0, ours = !c->start_marked;
    c->start_marked = 0;
    sl_jr_doc_t d;
    sl_jr_init(&d);
    while (!done) {
        sl_client_fetch_t f;
        int rc =
            sl_client_get(c->cl, TOPIC, "all", c->offset, 4 << 20, 250, &f);
        if (rc != 0 && rc != SL_ENOTFOUND)
            sl_test_fail(__FILE__, __LINE__, "get: %s", sl_strerror(rc));
        if (rc != 0 || f.count == 0) {
            int status;
            if (rc != 0) /* No partition yet: the get did not wait. */
                sl_harness_sleep_ms(250);
            if (waitpid(c->capture_pid, &status, WNOHANG) == c->capture_pid) {
                c->capture_pid = 0;
                c->n.unchecked += (long)(c->nexp - ptr);
                ptr = c->nexp;
                capture_stopped(c, "capture exited");
                sl_jr_free(&d);
                clear_expectations(c);
                /* The new capture is running once it publishes a marker. */
                sync_events(c);
                return;
            }
            if (++idle > 240) { /* 60 s without a marker. */
                c->n.unchecked += (long)(c->nexp - ptr);
                ptr = c->nexp;
                capture_stopped(c, "no marker in 60 s");
                sl_jr_free(&d);
                clear_expectations(c);
                sync_events(c);
                return;
            }
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < f.count && !done; i++) {
            const sl_client_rec_t *r = &f.recs[i];
            c->offset = r->offset + 1;
            if (sl_jr_parse(&d, (const char *)r->data, r->len) != 0)
                sl_test_fail(__FILE__, __LINE__, "event %llu is not JSON: %s",
                             (unsigned long long)r->offset, d.err);
            if (getenv("SL_DDL_CORPUS_TRACE"))
                printf("# event %.*s\n", (int)(r->len < 300 ? r->len : 300),
                       (const char *)r->data);
            if (!str_is(&d, sl_jr_get(&d, 0, "kind"), "row"))
                continue;
            if (str_is(&d, sl_jr_get(&d, 0, "db"), MARK_DB)) {
                uint32_t a = sl_jr_get(&d, 0, "after");
                uint64_t n = 0, id = 0;
                if (a != SL_JR_NONE &&
                    sl_jr_u64(&d, sl_jr_get(&d, a, "n"), &n) == 0 &&
                    sl_jr_u64(&d, sl_jr_get(&d, a, "id"), &id) == 0 &&
                    n == c->mark) {
                    if (id == 1)
                        done = 1;
                    else
                        ours = 1;
                }
                continue;
            }
            on_row(c, &d, &ptr, ours);
        }
    }
    sl_jr_free(&d);
    for (; ptr < c->nexp; ptr++) {
        expect_t *e = &c->exp[ptr];
        c->n.missing++;
        failure(c, "missing event", e->db, e->table,
                "no %s event of %s.%s%s (or it did not match: see above)",
                e->op == OP_INSERT   ? "insert"
                : e->op == OP_UPDATE ? "update"
                                     : "delete",
                e->db, e->table, e->pre ? " (a row already there)" : "");
    }
    clear_expectations(c);
}

/* ---- the corpus
 * --------------------------------------------------------------- */

/* Drops the corpus databases, creates an empty `test` and resets the
 * corpus session (its temporary tables go). */
static void reset_group(ctx_t *c) {
    c->sql = NULL;
    SL_CHECK(mysql_reset_connection(c->a) == 0);
    char **dbs;
    size_t n = test_dbs(c, &dbs);
    for (size_t i = 0; i < n; i++) {
        sl_buf_t q = SL_BUF_INIT;
        sl_buf_append_str(&q, "DROP DATABASE ");
        dc_put_ident(&q, dbs[i]);
        sl_harness_exec(c->a, cstr(&q));
        sl_buf_free(&q);
    }
    free_list(dbs, n);
    sl_harness_exec(c->a, "CREATE DATABASE test");
    free_tset(&c->snap);
    sync_events(c);
}

static void run_statement(ctx_t *c, const char *db, const char *sql,
                          size_t len) {
    char err[512];
    c->sql = sql;
    c->stmt_no++;
    c->n.stmts++;
    if (mysql_select_db(c->a, db) != 0) {
        sl_buf_t q = SL_BUF_INIT;
        sl_buf_append_str(&q, "CREATE DATABASE IF NOT EXISTS ");
        dc_put_ident(&q, db);
        sl_harness_exec(c->a, cstr(&q));
        sl_buf_free(&q);
        SL_CHECK(mysql_select_db(c->a, db) == 0);
    }
    if (run(c->a, sql, len, err, sizeof err) != 0) {
        c->n.rejected++;
    } else {
        c->n.accepted++;
        tset_t now;
        snapshot(c, &now);
        /* Rows the statement itself wrote (CREATE ... SELECT) come before
         * this marker, the test's after it. */
        char q[128];
        snprintf(q, sizeof q, "UPDATE " MARK_DB ".m SET n = %llu WHERE id = 2",
                 (unsigned long long)c->mark + 1);
        sl_harness_exec(c->b, q);
        c->start_marked = 1;
        int touched = 0;
        for (size_t i = 0; i < now.n && touched < MAX_TOUCHED; i++) {
            const tbl_t *t = &now.v[i];
            const tbl_t *old = find_tbl(&c->snap, t->db, t->name);
            if (old == NULL || strcmp(old->sig, t->sig) != 0 ||
                names(sql, t->name)) {
                write_rows(c, t);
                touched++;
            }
        }
        free_tset(&c->snap);
        c->snap = now;
    }
    sync_events(c);
}

/* Runs the corpus file: "G label" lines start a group, "S db len" lines
 * are followed by len bytes of SQL and a newline. */
static void run_corpus(ctx_t *c, char *text, size_t len) {
    char *p = text, *end = text + len;
    char label[512] = "";
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        SL_CHECK(nl != NULL);
        *nl = '\0';
        if (p[0] == 'G' && p[1] == ' ') {
            snprintf(label, sizeof label, "%s", p + 2);
            c->group = label;
            c->n.groups++;
            c->stmt_no = 0;
            reset_group(c);
            p = nl + 1;
        } else if (p[0] == 'S' && p[1] == ' ') {
            char db[256];
            size_t n;
            SL_CHECK(sscanf(p + 2, "%255s %zu", db, &n) == 2);
            char *sql = nl + 1;
            SL_CHECK(sql + n < end && sql[n] == '\n');
            sql[n] = '\0';
            run_statement(c, db, sql, n);
            p = sql + n + 1;
        } else {
            p = nl + 1; /* A comment. */
        }
    }
}

/* Before the corpus, one table with a column of every type the harness
 * MariaDB has (and text in many charsets), so that each value path is
 * checked whatever the corpus holds; counted with the corpus. */
static void every_type(ctx_t *c) {
    static char *const stmts[] = {
        "CREATE TABLE t (id int unsigned PRIMARY KEY, a tinyint, b smallint "
        "unsigned, c mediumint, d bigint unsigned, e bit(64), f decimal(65,30),"
        " g float, h double, i date, j time(6), k datetime(6), l timestamp(6) "
        "NULL, m year, n char(10) CHARSET latin1, o varchar(300) CHARSET "
        "utf8mb4, p text CHARSET ucs2, q varchar(20) CHARSET cp1251, r "
        "varchar(20) CHARSET sjis, s enum('x','y''z','\xc3\xbc'), t "
        "set('a','b','c'), u binary(5), v blob, w geometry, x json, y inet6, "
        "z uuid, aa int zerofill, ab decimal(10,2) zerofill, ac varchar(10) "
        "CHARSET big5, ad varchar(10) CHARSET gbk, ae varchar(10) CHARSET "
        "euckr, af varchar(10) CHARSET greek, ag tinytext CHARSET latin2, ah "
        "polygon, ai float(7,3) unsigned, aj mediumblob, ak longtext CHARSET "
        "utf16, al varbinary(300), am time, an datetime, ao decimal(5,5), ap "
        "bit(1), aq char(255) CHARSET utf8mb3, ar multipolygon)",
        "ALTER TABLE t MODIFY n varchar(20) CHARSET utf8mb4, ADD COLUMN as1 "
        "double FIRST, DROP COLUMN b, CHANGE c c2 bigint AFTER as1",
        "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4",
    };
    c->group = "(every type)";
    c->stmt_no = 0;
    reset_group(c);
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        run_statement(c, "test", stmts[i], strlen(stmts[i]));
}

/* Proves the test sees a wrong row: an ALTER the binlog never carries
 * (sql_log_bin=0) renames a column, so the history keeps the old name and
 * the next rows must come out as a wrong row (or, with a drift check, as a
 * stop). What it finds is reported under "(canary)" and not counted. */
static void canary(ctx_t *c) {
    static char create[] = "CREATE TABLE canary (a int, b varchar(10))";
    static char alter[] = "ALTER TABLE canary CHANGE a c int";
    counts_t saved = c->n;
    c->group = "(canary)";
    reset_group(c);
    run_statement(c, "test", create, strlen(create));
    sl_harness_exec(c->a, "SET SESSION sql_log_bin = 0");
    counts_t before = c->n;
    run_statement(c, "test", alter, strlen(alter));
    sl_harness_exec(c->a, "SET SESSION sql_log_bin = 1");
    long caught = c->n.wrong + c->n.stops + c->n.missing -
                  (before.wrong + before.stops + before.missing);
    if (caught == 0)
        sl_test_fail(__FILE__, __LINE__,
                     "an ALTER the binlog never carried went unnoticed: "
                     "the test does not see wrong rows");
    printf("# canary: a column renamed behind capture's back was caught\n");
    c->n = saved;
    c->nreasons = 0;
}

static void restore_full_metadata(void) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "SET GLOBAL binlog_row_metadata = 'FULL'");
    mysql_close(mysql);
}

/* Extracts the corpus with scripts/ddl-corpus.py into OUT_DIR/corpus.txt
 * and returns its text (the caller frees it). */
static char *extract(size_t *len) {
    const char *given = getenv("SL_DDL_CORPUS_FILE");
    if (given != NULL && *given) {
        printf("# corpus from SL_DDL_CORPUS_FILE=%s\n", given);
        return (char *)sl_harness_slurp(given, len);
    }
    const char *fx = sl_test_fixtures();
    const char *max = getenv("SL_DDL_CORPUS_MAX");
    char cmd[2048];
    mkdir("build", 0755);
    mkdir(OUT_DIR, 0755);
    snprintf(cmd, sizeof cmd,
             "python3 scripts/ddl-corpus.py --capture %s%s%s --max %s " OUT_DIR
             "/corpus.txt",
             sl_harness_bin("sluice-capture"), fx ? " --fixtures " : "",
             fx ? fx : "", max ? max : "2000");
    printf("# %s\n", cmd);
    fflush(stdout);
    if (system(cmd) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s failed", cmd);
    if (fx == NULL)
        printf("# no fixture binlogs (SLUICE_FIXTURES): the corpus comes "
               "from MariaDB's test suite only\n");
    char *text = (char *)sl_harness_slurp(OUT_DIR "/corpus.txt", len);
    long groups = 0, stmts = 0;
    if (*len < 64 ||
        sscanf(text,
               "# DDL corpus from scripts/ddl-corpus.py: "
               "%ld groups, %ld statements",
               &groups, &stmts) != 2 ||
        stmts < 400)
        sl_test_fail(__FILE__, __LINE__,
                     "the corpus has %ld statements, not 400: is "
                     "mariadb-test installed (docker/packages.txt, "
                     "/usr/share/mysql/mysql-test)?",
                     stmts);
    return text;
}

SL_TEST(capture_ddl_corpus_rows_match_the_server) {
    ctx_t c;
    memset(&c, 0, sizeof c);
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    atexit(restore_full_metadata);
    sl_harness_exec(m, "SET GLOBAL binlog_row_metadata = 'MINIMAL'");
    sl_harness_exec(m, "DROP DATABASE IF EXISTS " MARK_DB);
    sl_harness_exec(m, "CREATE DATABASE " MARK_DB);
    sl_harness_exec(m, "CREATE TABLE " MARK_DB ".m (id int PRIMARY KEY, "
                       "n bigint unsigned)");
    sl_harness_exec(m, "INSERT INTO " MARK_DB ".m VALUES (1, 0), (2, 0)");
    mysql_close(m);
    size_t len;
    char *text = extract(&len);

    /* Sessions opened after the change log MINIMAL metadata. */
    c.a = sl_harness_mysql("SOURCE", NULL);
    c.b = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(c.a, "SET SESSION lock_wait_timeout = 20");
    sl_harness_exec(c.b, "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', "
                         "time_zone = '+00:00', foreign_key_checks = 0, "
                         "lock_wait_timeout = 20");
    MYSQL_RES *res = query(c.b, "SHOW DATABASES");
    MYSQL_ROW row;
    c.baseline = calloc(mysql_num_rows(res) + 1, sizeof *c.baseline);
    SL_CHECK(c.baseline != NULL);
    while ((row = mysql_fetch_row(res)) != NULL)
        if (strcmp(row[0], "test") != 0)
            c.baseline[c.nbaseline++] = xstrdup(row[0]);
    mysql_free_result(res);
    c.report = fopen(OUT_DIR "/report.md", "w");
    SL_CHECK(c.report != NULL);
    fprintf(c.report, "# DDL corpus report\n");

    snprintf(c.dir, sizeof c.dir, "%s", sl_test_tmpdir());
    /* Every statement waits for its events: a broker that does not fsync
     * each batch keeps the run short (durability is not tested here). */
    const char *const nosync[] = {"--fsync", "never", NULL};
    sl_harness_broker_start(&c.broker, nosync, 20000);
    c.cl = sl_harness_broker_client(&c.broker, NULL);
    start_capture(&c);
    c.group = "(start)";
    sync_events(&c);
    canary(&c);
    every_type(&c);
    run_corpus(&c, text, len);
    free(text);

    c.group = "(end)";
    c.sql = NULL;
    char **dbs;
    size_t n = test_dbs(&c, &dbs);
    for (size_t i = 0; i < n; i++) {
        sl_buf_t q = SL_BUF_INIT;
        sl_buf_append_str(&q, "DROP DATABASE ");
        dc_put_ident(&q, dbs[i]);
        sl_harness_exec(c.a, cstr(&q));
        sl_buf_free(&q);
    }
    free_list(dbs, n);
    sl_harness_exec(c.a, "DROP DATABASE " MARK_DB);
    free_tset(&c.snap);
    if (c.capture_pid > 0)
        sl_harness_stop(c.capture_pid, SIGTERM, 20000);
    sl_client_close(c.cl);
    sl_harness_broker_stop(&c.broker, SIGTERM, 20000);

    char sum[1024];
    snprintf(sum, sizeof sum,
             "groups %ld, statements run %ld, accepted %ld, rejected %ld; "
             "tables written %ld, rows the server refused %ld; row events "
             "checked %ld, extra %ld; failures: capture stops %ld, "
             "positional rows %ld, wrong rows %ld, missing events %ld "
             "(unchecked after a stop %ld); not failures: stops on what "
             "the source wrote %ld; row events checked with hidden "
             "hash columns (MariaDB hash UNIQUE keys) %ld",
             c.n.groups, c.n.stmts, c.n.accepted, c.n.rejected,
             c.n.tables_written, c.n.rows_refused, c.n.checked, c.n.extra,
             c.n.stops, c.n.positional, c.n.wrong, c.n.missing, c.n.unchecked,
             c.n.source_stops, c.n.hash_rows);
    printf("# ddl corpus: %s\n# details: " OUT_DIR "/report.md\n", sum);
    fprintf(c.report, "\n# Summary\n\n%s\n\nStops by reason:\n\n", sum);
    for (size_t i = 0; i < c.nreasons; i++) {
        printf("# stops: %ld x %s (first: %s)\n", c.reasons[i].n,
               c.reasons[i].key, c.reasons[i].first);
        fprintf(c.report, "- %ld x %s (first: %s)\n", c.reasons[i].n,
                c.reasons[i].key, c.reasons[i].first);
    }
    fclose(c.report);
    free(c.exp);
    free_list(c.baseline, c.nbaseline);
    mysql_close(c.a);
    mysql_close(c.b);
    if (c.n.stops || c.n.positional || c.n.wrong || c.n.missing)
        sl_test_fail(__FILE__, __LINE__, "%s", sum);
    SL_CHECK(c.n.accepted >= 400);
    SL_CHECK(c.n.checked >= 1000);
}
