/*
 * Snapshot rows in the formats other tools read (--format debezium,
 * maxwell, canal; docs/snapshot.md, "Events in the other formats"),
 * against a real MariaDB source, with the binlog path as the truth: a
 * table with a column of every type the formats encode holds rows (one
 * of ordinary values, one of edge values, one of NULLs); capture with
 * --snapshot initial publishes them as read rows; then the same rows are
 * inserted again under other keys (INSERT ... SELECT), so the stream
 * carries them as inserts decoded from the binlog. Every column value of
 * each read row must equal, byte for byte, the stream row's value (and
 * for canal mysqlType and sqlType, for debezium with schemas the whole
 * schema). The envelopes are checked against each project's docs:
 * Debezium's op "r" with before null and source.snapshot "incremental",
 * Maxwell's bootstrap-start / bootstrap-insert / bootstrap-complete
 * (docs/bootstrapping.md: "data":{} on the brackets), Canal's
 * FlatMessage with type INSERT, isDdl false, old null.
 *
 * Debugging: SNAPSHOT_FORMATS_DUMP=1 prints the partition (and, under
 * writes, the events of the first differing key); SNAPSHOT_FORMATS_SLUICE=1
 * also compares the sluice format's read rows, printing differences only.
 */
#include "client.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB "snap_fmt"

static const char *const cols[] = {
    "ti",   "tiu",  "si",  "miu", "i",   "bi", "biu", "f",    "d",
    "dec1", "dec2", "y",   "dt",  "tm3", "tm", "dtm", "dtm3", "dtm6",
    "ts",   "b1",   "b10", "e",   "st",  "c",  "vc",  "tx",   "l1",
    "bn",   "vb",   "bl",  "j",   "zd",  "g",  "pt"};
#define NCOLS (sizeof cols / sizeof cols[0])

static void setup(MYSQL *m) {
    sl_harness_exec(m, "DROP DATABASE IF EXISTS " DB);
    sl_harness_exec(m, "CREATE DATABASE " DB " CHARSET utf8mb4");
    sl_harness_exec(
        m, "CREATE TABLE " DB ".t (id INT PRIMARY KEY, ti TINYINT, tiu "
           "TINYINT UNSIGNED, si SMALLINT, miu MEDIUMINT UNSIGNED, i INT, "
           "bi BIGINT, biu BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 "
           "DECIMAL(10,2), dec2 DECIMAL(30,10), y YEAR, dt DATE, tm3 "
           "TIME(3), tm TIME, dtm DATETIME, dtm3 DATETIME(3), dtm6 "
           "DATETIME(6), ts TIMESTAMP(2) NULL DEFAULT NULL, b1 BIT(1), b10 "
           "BIT(10), e ENUM('a','b','c'), st SET('x','y','z'), c CHAR(5), "
           "vc VARCHAR(40), tx TEXT, l1 VARCHAR(20) CHARSET latin1, bn "
           "BINARY(4), vb VARBINARY(10), bl BLOB, j JSON, zd DATE, g GEOMETRY, "
           "pt POINT) "
           "CHARSET utf8mb4");
    sl_harness_exec(m, "SET SESSION sql_mode = '', time_zone = '+00:00'");
    sl_harness_exec(
        m,
        "INSERT INTO " DB ".t (id, ti, tiu, si, miu, i, bi, biu, f, d, dec1, "
        "dec2, y, dt, tm3, tm, dtm, dtm3, dtm6, ts, b1, b10, e, st, c, vc, "
        "tx, l1, bn, vb, bl, j, zd) VALUES (1, -5, 250, -300, 16000000, "
        "-2000000000, -9000000000000000000, 18446744073709551615, 1.5, "
        "2.25, 12.34, -12345678901234567890.1234567890, 2024, "
        "'2020-01-02', '-01:02:03.5', '12:00:00', '2020-01-02 03:04:05', "
        "'2020-01-02 03:04:05.25', '1999-12-31 23:59:59.000001', "
        "'2020-01-02 03:04:05.25', b'1', b'1000000001', 'b', 'x,z', 'ab', "
        "'héllo \"q\" \\\\ \\n tab\\t 日本', 'some text', 'café', "
        "x'0102', x'00ff10', x'deadbeef00', '{\"a\": [1, 2.5, \"x\"]}', "
        "'0000-00-00')");
    sl_harness_exec(
        m,
        "INSERT INTO " DB ".t (id, ti, tiu, si, miu, i, bi, biu, f, d, dec1, "
        "dec2, y, dt, tm3, tm, dtm, dtm3, dtm6, ts, b1, b10, e, st, c, vc, "
        "tx, l1, bn, vb, bl, j, zd) VALUES (2, 0, 0, 32767, 0, 2147483647, "
        "9223372036854775807, 0, 0.1, 1e-7, 0, 0.0000000001, 1901, "
        "'1000-01-01', '838:59:59.999', '-838:59:59', "
        "'9999-12-31 23:59:59', '1970-01-01 00:00:00.001', "
        "'2038-01-19 03:14:07.999999', '1970-01-01 00:00:01.01', b'0', "
        "b'0', 'a', '', '', '', '', '', x'', x'', x'', '[]', "
        "'1970-01-01')");
    sl_harness_exec(m, "INSERT INTO " DB ".t (id) VALUES (3)");
    /* Values whose text is easy to get wrong: floats that need all their
     * digits, extremes, zero dates and times, 4-byte UTF-8. */
    sl_harness_exec(
        m,
        "INSERT INTO " DB ".t (id, ti, tiu, si, miu, i, bi, biu, f, d, dec1, "
        "dec2, y, dt, tm3, tm, dtm, dtm3, dtm6, ts, b1, b10, e, st, c, vc, "
        "tx, l1, bn, vb, bl, j, zd) VALUES (4, 127, 255, -32768, 16777215, "
        "-2147483648, -9223372036854775808, 9223372036854775808, "
        "1.2345678, 0.1 + 0.2, -99999999.99, 0, 2155, '2020-00-00', "
        "'00:00:00.001', '-00:00:01', '0000-00-00 00:00:00', "
        "'2000-01-01 00:00:00.999', '1970-01-01 00:00:00.000000', "
        "'0000-00-00 00:00:00', 1, b'1111111111', 'c', 'x,y,z', "
        "'abcde', '😀 emoji', REPEAT('x', 300), 'ÿ', "
        "x'ffffffff', x'00', x'00', '{\"k\":\"v\",\"n\":null}', "
        "'0000-00-00')");
    sl_harness_exec(m, "UPDATE " DB ".t SET f = 3.4028234e38, "
                       "d = 1.7976931348623157e308 WHERE id = 2");
    /* Spatial values: the server sends their stored bytes (SRID, WKB). */
    sl_harness_exec(m, "UPDATE " DB ".t SET g = ST_GeomFromText('POLYGON((0 "
                       "0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))'), pt = "
                       "ST_GeomFromText('POINT(1.5 -2)', 4326) WHERE id = 1");
    sl_harness_exec(m, "UPDATE " DB ".t SET g = ST_GeomFromText("
                       "'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1e20 "
                       "3))'), pt = ST_GeomFromText('POINT(0 0)') WHERE id = "
                       "2");
    sl_harness_exec(m, "UPDATE " DB ".t SET g = ST_GeomFromText('MULTIPOINT("
                       "(1 2), (3 4))'), pt = ST_GeomFromText('POINT(0.1 "
                       "0.2)') WHERE id = 4");
}

typedef struct {
    sl_jr_doc_t doc;
    uint32_t img;  /* The row image: after / data / data[0]. */
    uint32_t root; /* The envelope (debezium with schemas: the payload). */
} ev_t;

/* The row image and envelope of one event; 0 when it has no row. */
static int event_of(const char *fmt, ev_t *ev, const char *line, size_t n) {
    if (sl_jr_parse(&ev->doc, line, n) != 0)
        return 0;
    sl_jr_doc_t *d = &ev->doc;
    ev->root = 0;
    uint32_t p = sl_jr_get(d, 0, "payload");
    if (p != SL_JR_NONE)
        ev->root = p;
    if (strcmp(fmt, "debezium") == 0 || strcmp(fmt, "sluice") == 0)
        ev->img = sl_jr_get(d, ev->root, "after");
    else if (strcmp(fmt, "maxwell") == 0)
        ev->img = sl_jr_get(d, 0, "data");
    else {
        uint32_t a = sl_jr_get(d, 0, "data");
        ev->img = a != SL_JR_NONE && sl_jr_type(d, a) == SL_JR_ARRAY &&
                          sl_jr_tok(d, a)->count == 1
                      ? a + 1
                      : SL_JR_NONE;
    }
    return ev->img != SL_JR_NONE && sl_jr_type(d, ev->img) == SL_JR_OBJECT;
}

/* The raw JSON text of member name of obj (strings with their quotes). */
static void raw_of(const sl_jr_doc_t *d, uint32_t obj, const char *name,
                   char *out, size_t cap) {
    uint32_t v = obj != SL_JR_NONE ? sl_jr_get(d, obj, name) : SL_JR_NONE;
    if (v == SL_JR_NONE) {
        snprintf(out, cap, "(absent)");
        return;
    }
    size_t n;
    const char *raw = sl_jr_raw(d, v, &n);
    int q = sl_jr_type(d, v) == SL_JR_STRING;
    snprintf(out, cap, "%s%.*s%s", q ? "\"" : "", (int)n, raw, q ? "\"" : "");
}

/* The member names of an object, in order, comma-separated. */
static void member_names(const sl_jr_doc_t *d, uint32_t obj, char *out,
                         size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    if (obj == SL_JR_NONE || sl_jr_type(d, obj) != SL_JR_OBJECT)
        return;
    uint32_t it = 0, key, val;
    while (sl_jr_next(d, obj, &it, &key, &val)) {
        size_t len;
        const char *raw = sl_jr_raw(d, key, &len);
        n += (size_t)snprintf(out + n, cap - n, "%.*s,", (int)len, raw);
        if (n >= cap)
            break;
    }
}

static long id_of(const char *fmt, ev_t *ev) {
    char t[64];
    raw_of(&ev->doc, ev->img, "id", t, sizeof t);
    (void)fmt;
    return strtol(t[0] == '"' ? t + 1 : t, NULL, 10);
}

/* Whether the event is a snapshot read row (else a stream insert). */
static int is_read(const char *fmt, ev_t *ev) {
    char t[64];
    if (strcmp(fmt, "debezium") == 0 || strcmp(fmt, "sluice") == 0) {
        raw_of(&ev->doc, ev->root, "op", t, sizeof t);
        return strcmp(t, "\"r\"") == 0 || strcmp(t, "\"read\"") == 0;
    }
    if (strcmp(fmt, "maxwell") == 0) {
        raw_of(&ev->doc, 0, "type", t, sizeof t);
        return strcmp(t, "\"bootstrap-insert\"") == 0;
    }
    raw_of(&ev->doc, 0, "id", t, sizeof t);
    return strcmp(t, "0") == 0;
}

static void wait_log(const char *path, const char *want) {
    for (int i = 0; i < 600; i++) {
        size_t len = 0;
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            fclose(f);
            char *log = (char *)sl_harness_slurp(path, &len);
            log = realloc(log, len + 1);
            log[len] = '\0';
            int hit = strstr(log, want) != NULL;
            free(log);
            if (hit)
                return;
        }
        sl_harness_sleep_ms(50);
    }
    sl_test_fail(__FILE__, __LINE__, "no \"%s\" in %s", want, path);
}

static void check_format(MYSQL *m, const char *fmt, int schemas,
                         unsigned server_id) {
    char topic[64], logpath[700];
    snprintf(topic, sizeof topic, "sf%s%s", fmt, schemas ? "s" : "");
    snprintf(logpath, sizeof logpath, "%s/capture-%s.log", sl_test_tmpdir(),
             topic);
    printf("# format %s%s\n", fmt, schemas ? " with schemas" : "");
    setup(m);
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    char sid[16];
    snprintf(sid, sizeof sid, "%u", server_id);
    const char *const flags[] = {
        "--topic",     topic,         "--name",
        topic,         "--server-id", sid,
        "--include",   DB "\\.t",     "--format",
        fmt,           "--snapshot",  "initial",
        "--heartbeat", "200ms",       schemas ? "--debezium-schemas" : NULL,
        NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    /* The read rows first, then the same rows through the stream. */
    const char *mark = strcmp(fmt, "maxwell") == 0  ? "bootstrap-complete"
                       : strcmp(fmt, "canal") == 0  ? "\"id\":\"4\""
                       : strcmp(fmt, "sluice") == 0 ? "\"op\":\"read\""
                                                    : "\"op\":\"r\"";
    sl_harness_wait_partition_text(cl, topic, DB ".t", mark, logpath);
    wait_log(logpath, "snapshot complete");
    sl_harness_exec(m, "INSERT INTO " DB ".t SELECT id + 100, ti, tiu, si, "
                       "miu, i, bi, biu, f, d, dec1, dec2, y, dt, tm3, tm, "
                       "dtm, dtm3, dtm6, ts, b1, b10, e, st, c, vc, tx, l1, "
                       "bn, vb, bl, j, zd, g, pt FROM " DB ".t ORDER BY id");
    sl_harness_exec(m, "INSERT INTO " DB ".t (id) VALUES (999)");
    sl_harness_wait_partition_text(
        cl, topic, DB ".t",
        strcmp(fmt, "canal") == 0 ? "\"id\":\"999\"" : "\"id\":999", logpath);
    char *text = sl_harness_partition_text(cl, topic, DB ".t");
    if (getenv("SNAPSHOT_FORMATS_DUMP") != NULL)
        printf("%s", text);
    /* Split into events; index the read and stream rows by id. */
    size_t nlines = 0;
    char *lines[64];
    for (char *p = text, *e; *p && nlines < 64; p = e + 1) {
        e = strchr(p, '\n');
        if (e == NULL)
            break;
        *e = '\0';
        lines[nlines++] = p;
    }
    ev_t reads[5], stream[5];
    int have_r[5] = {0}, have_s[5] = {0};
    for (int k = 0; k < 5; k++) {
        sl_jr_init(&reads[k].doc);
        sl_jr_init(&stream[k].doc);
    }
    int starts = 0, completes = 0, first_read = -1, last_read = -1;
    for (size_t l = 0; l < nlines; l++) {
        ev_t ev;
        sl_jr_init(&ev.doc);
        int row = event_of(fmt, &ev, lines[l], strlen(lines[l]));
        char t[64];
        raw_of(&ev.doc, 0, "type", t, sizeof t);
        if (strcmp(t, "\"bootstrap-start\"") == 0) {
            starts++;
            SL_CHECK(first_read < 0); /* Before the rows. */
            raw_of(&ev.doc, 0, "data", t, sizeof t);
            SL_CHECK_STR(t, "{}");
            row = 0;
        }
        if (strcmp(t, "\"bootstrap-complete\"") == 0) {
            completes++;
            SL_CHECK(last_read >= 0 && (size_t)last_read < l);
            raw_of(&ev.doc, 0, "data", t, sizeof t);
            SL_CHECK_STR(t, "{}");
            row = 0;
        }
        if (!row) {
            sl_jr_free(&ev.doc);
            continue;
        }
        long id = id_of(fmt, &ev);
        int r = is_read(fmt, &ev);
        int slot = (int)(r ? id : id - 100);
        if (slot >= 1 && slot <= 4 && (r ? !have_r[slot] : !have_s[slot])) {
            ev_t *dst = r ? &reads[slot] : &stream[slot];
            sl_jr_free(&dst->doc);
            sl_jr_init(&dst->doc);
            SL_CHECK(event_of(fmt, dst, lines[l], strlen(lines[l])));
            (r ? have_r : have_s)[slot] = 1;
            if (r) {
                if (first_read < 0)
                    first_read = (int)l;
                last_read = (int)l;
            }
        }
        sl_jr_free(&ev.doc);
    }
    char a[4096], s[4096];
    for (int k = 1; k <= 4; k++) {
        SL_CHECK(have_r[k] && have_s[k]);
        if (!have_r[k] || !have_s[k])
            continue;
        for (size_t c = 0; c < NCOLS; c++) {
            raw_of(&reads[k].doc, reads[k].img, cols[c], a, sizeof a);
            raw_of(&stream[k].doc, stream[k].img, cols[c], s, sizeof s);
            if (strcmp(a, s) != 0)
                printf("# %s row %d column %s: read %s, stream %s\n", fmt, k,
                       cols[c], a, s);
            if (strcmp(fmt, "sluice") != 0)
                SL_CHECK_STR(a, s);
        }
        if (strcmp(fmt, "sluice") == 0)
            continue; /* Values only, printed (SNAPSHOT_FORMATS_SLUICE). */
        const ev_t *rd = &reads[k], *st = &stream[k];
        if (strcmp(fmt, "maxwell") != 0) {
            /* The envelope's members, in order, are the stream's. */
            char ra[512], sa[512];
            member_names(&rd->doc, rd->root, ra, sizeof ra);
            member_names(&st->doc, st->root, sa, sizeof sa);
            SL_CHECK_STR(ra, sa);
            uint32_t rs = sl_jr_get(&rd->doc, rd->root, "source");
            uint32_t ss = sl_jr_get(&st->doc, st->root, "source");
            member_names(&rd->doc, rs, ra, sizeof ra);
            member_names(&st->doc, ss, sa, sizeof sa);
            SL_CHECK_STR(ra, sa);
        }
        if (strcmp(fmt, "canal") == 0) {
            static const char *const meta[] = {
                "mysqlType", "sqlType", "pkNames", "database",
                "table",     "isDdl",   "type"};
            for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
                raw_of(&rd->doc, 0, meta[i], a, sizeof a);
                raw_of(&st->doc, 0, meta[i], s, sizeof s);
                SL_CHECK_STR(a, s);
            }
            raw_of(&rd->doc, 0, "old", a, sizeof a);
            SL_CHECK_STR(a, "null");
        } else if (strcmp(fmt, "maxwell") == 0) {
            raw_of(&rd->doc, 0, "database", a, sizeof a);
            SL_CHECK_STR(a, "\"" DB "\"");
            raw_of(&rd->doc, 0, "primary_key_columns", a, sizeof a);
            SL_CHECK_STR(a, "[\"id\"]");
            raw_of(&rd->doc, 0, "primary_key", a, sizeof a);
            char want[32];
            snprintf(want, sizeof want, "[%d]", k);
            SL_CHECK_STR(a, want);
            raw_of(&rd->doc, 0, "xid", a, sizeof a);
            SL_CHECK_STR(a, "(absent)");
        } else {
            raw_of(&rd->doc, rd->root, "before", a, sizeof a);
            SL_CHECK_STR(a, "null");
            uint32_t src = sl_jr_get(&rd->doc, rd->root, "source");
            raw_of(&rd->doc, src, "snapshot", a, sizeof a);
            SL_CHECK_STR(a, "\"incremental\"");
            raw_of(&rd->doc, src, "db", a, sizeof a);
            SL_CHECK_STR(a, "\"" DB "\"");
            raw_of(&rd->doc, src, "table", a, sizeof a);
            SL_CHECK_STR(a, "\"t\"");
            raw_of(&rd->doc, src, "connector", a, sizeof a);
            SL_CHECK_STR(a, "\"mysql\"");
            raw_of(&rd->doc, src, "file", a, sizeof a);
            SL_CHECK(strncmp(a, "\"-\"", 3) != 0 && a[0] == '"');
            if (schemas) {
                raw_of(&rd->doc, 0, "schema", a, sizeof a);
                raw_of(&st->doc, 0, "schema", s, sizeof s);
                SL_CHECK_STR(a, s);
            }
        }
    }
    if (strcmp(fmt, "maxwell") == 0) {
        SL_CHECK_INT(starts, 1);
        SL_CHECK_INT(completes, 1);
    }
    for (int k = 0; k < 5; k++) {
        sl_jr_free(&reads[k].doc);
        sl_jr_free(&stream[k].doc);
    }
    free(text);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(snapshot_formats_equal_the_binlog_path) {
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    if (getenv("SNAPSHOT_FORMATS_SLUICE"))
        check_format(m, "sluice", 0, 3305);
    check_format(m, "debezium", 0, 3301);
    check_format(m, "debezium", 1, 3302);
    check_format(m, "maxwell", 0, 3303);
    check_format(m, "canal", 0, 3304);
    sl_harness_exec(m, "DROP DATABASE " DB);
    mysql_close(m);
}

/* ---- The window in the formats, under writes ---------------------------
 * The same join as capture_snapshot.c checks in the sluice format, in each
 * other format: a table of NW rows read in small chunks (with a pause that
 * widens each window) while a writer updates, deletes, inserts and moves
 * primary keys; the partition, replayed as a consumer of that format does
 * it (read rows and inserts as upserts, a key change as a delete of the
 * old key, deletes by the before image's key), equals the source. */

#define NW 3000
#define MAXID 200000

typedef struct {
    int have[MAXID];
    long v[MAXID];
} wmodel_t;

/* The number at member name of obj (Canal's values are strings). */
static long num_at(const sl_jr_doc_t *d, uint32_t obj, const char *name,
                   int *ok) {
    uint32_t v = obj != SL_JR_NONE ? sl_jr_get(d, obj, name) : SL_JR_NONE;
    *ok = v != SL_JR_NONE && (sl_jr_type(d, v) == SL_JR_NUMBER ||
                              sl_jr_type(d, v) == SL_JR_STRING);
    if (!*ok)
        return 0;
    size_t n;
    const char *raw = sl_jr_raw(d, v, &n);
    char t[32];
    snprintf(t, sizeof t, "%.*s", (int)(n < 31 ? n : 31), raw);
    return strtol(t, NULL, 10);
}

static void wput(wmodel_t *m, const sl_jr_doc_t *d, uint32_t img) {
    int ok1, ok2;
    long id = num_at(d, img, "id", &ok1), v = num_at(d, img, "v", &ok2);
    SL_CHECK(ok1 && ok2 && id > 0 && id < MAXID);
    if (ok1 && ok2 && id > 0 && id < MAXID) {
        m->have[id] = 1;
        m->v[id] = v;
    }
}

static void wdel(wmodel_t *m, const sl_jr_doc_t *d, uint32_t img) {
    int ok;
    long id = num_at(d, img, "id", &ok);
    SL_CHECK(ok && id > 0 && id < MAXID);
    if (ok && id > 0 && id < MAXID)
        m->have[id] = 0;
}

/* Applies one event of the format to the model; counts read rows. */
static void wreplay(wmodel_t *m, const char *fmt, const char *line,
                    long *reads) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    SL_CHECK(sl_jr_parse(&doc, line, strlen(line)) == 0);
    char t[64];
    if (strcmp(fmt, "debezium") == 0) {
        raw_of(&doc, 0, "op", t, sizeof t);
        uint32_t b = sl_jr_get(&doc, 0, "before"),
                 a = sl_jr_get(&doc, 0, "after");
        if (strcmp(t, "\"d\"") == 0) {
            wdel(m, &doc, b);
        } else {
            if (strcmp(t, "\"u\"") == 0)
                wdel(m, &doc, b); /* A key change leaves the old key. */
            wput(m, &doc, a);
            *reads += strcmp(t, "\"r\"") == 0;
        }
    } else if (strcmp(fmt, "maxwell") == 0) {
        raw_of(&doc, 0, "type", t, sizeof t);
        uint32_t data = sl_jr_get(&doc, 0, "data");
        if (strcmp(t, "\"delete\"") == 0) {
            wdel(m, &doc, data);
        } else if (strcmp(t, "\"update\"") == 0) {
            uint32_t old = sl_jr_get(&doc, 0, "old");
            if (old != SL_JR_NONE && sl_jr_get(&doc, old, "id") != SL_JR_NONE)
                wdel(m, &doc, old);
            wput(m, &doc, data);
        } else if (strcmp(t, "\"insert\"") == 0 ||
                   strcmp(t, "\"bootstrap-insert\"") == 0) {
            wput(m, &doc, data);
            *reads += strcmp(t, "\"bootstrap-insert\"") == 0;
        }
    } else {
        raw_of(&doc, 0, "type", t, sizeof t);
        uint32_t data = sl_jr_get(&doc, 0, "data");
        uint32_t row = data != SL_JR_NONE ? data + 1 : SL_JR_NONE;
        char id[32];
        raw_of(&doc, 0, "id", id, sizeof id);
        if (strcmp(t, "\"DELETE\"") == 0) {
            wdel(m, &doc, row);
        } else {
            uint32_t old = sl_jr_get(&doc, 0, "old");
            if (strcmp(t, "\"UPDATE\"") == 0 && old != SL_JR_NONE &&
                sl_jr_type(&doc, old) == SL_JR_ARRAY &&
                sl_jr_get(&doc, old + 1, "id") != SL_JR_NONE)
                wdel(m, &doc, old + 1);
            wput(m, &doc, row);
            *reads += strcmp(id, "0") == 0;
        }
    }
    sl_jr_free(&doc);
}

static void check_under_writes(MYSQL *m, const char *fmt, unsigned server_id) {
    char topic[64], logpath[700], sid[16];
    snprintf(topic, sizeof topic, "sfw%s", fmt);
    snprintf(logpath, sizeof logpath, "%s/capture-%s.log", sl_test_tmpdir(),
             topic);
    snprintf(sid, sizeof sid, "%u", server_id);
    printf("# under writes: %s\n", fmt);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS snap_fw");
    sl_harness_exec(m, "CREATE DATABASE snap_fw");
    sl_harness_exec(m, "CREATE TABLE snap_fw.w (id INT PRIMARY KEY, v INT)");
    sl_harness_exec(m, "USE snap_fw");
    sl_harness_exec(m, "INSERT INTO snap_fw.w SELECT seq, seq FROM "
                       "seq_1_to_3000");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    const char *const flags[] = {"--topic",
                                 topic,
                                 "--name",
                                 topic,
                                 "--server-id",
                                 sid,
                                 "--include",
                                 "snap_fw\\.w",
                                 "--format",
                                 fmt,
                                 "--snapshot",
                                 "initial",
                                 "--heartbeat",
                                 "200ms",
                                 "--snapshot-chunk",
                                 "97",
                                 "--snapshot-chunk-time",
                                 "0",
                                 NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    MYSQL *w = sl_harness_mysql("SOURCE", "snap_fw");
    unsigned r = 7;
    long next = NW + 1, changes = 0;
    /* Writes until the snapshot ends, at most 4000 (inserts grow the
     * table ahead of the cursor); then the snapshot finishes alone. */
    for (int i = 0; i < 4000; i++) {
        if (i % 50 == 0) {
            size_t len = 0;
            FILE *f = fopen(logpath, "r");
            char *log = NULL;
            if (f != NULL) {
                fclose(f);
                log = (char *)sl_harness_slurp(logpath, &len);
                log = realloc(log, len + 1);
                log[len] = '\0';
            }
            int done = log != NULL && strstr(log, "snapshot complete") != NULL;
            free(log);
            if (done)
                break;
        }
        r = r * 1103515245u + 12345u;
        long k = 1 + (long)((r >> 8) % NW);
        char sql[160];
        switch ((r >> 4) % 4) {
        case 0:
            snprintf(sql, sizeof sql, "UPDATE w SET v = v + 1 WHERE id = %ld",
                     k);
            break;
        case 1:
            snprintf(sql, sizeof sql, "DELETE FROM w WHERE id = %ld", k);
            break;
        case 2:
            snprintf(sql, sizeof sql, "INSERT INTO w VALUES (%ld, %ld)", next,
                     next);
            next++;
            break;
        default:
            snprintf(sql, sizeof sql,
                     "UPDATE IGNORE w SET id = id + 100000 WHERE id = %ld", k);
            break;
        }
        if (mysql_query(w, sql) == 0)
            changes++;
    }
    wait_log(logpath, "snapshot complete");
    sl_harness_exec(w, "INSERT INTO w VALUES (199999, -1)");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(
        cl, topic, "snap_fw.w",
        strcmp(fmt, "canal") == 0 ? "\"id\":\"199999\"" : "\"id\":199999",
        logpath);
    char *text = sl_harness_partition_text(cl, topic, "snap_fw.w");
    wmodel_t *model = calloc(1, sizeof *model);
    long reads = 0;
    char *copy = strdup(text);
    for (char *p = text, *e; (e = strchr(p, '\n')) != NULL; p = e + 1) {
        *e = '\0';
        wreplay(model, fmt, p, &reads);
    }
    free(text);
    text = copy;
    SL_CHECK(mysql_query(m, "SELECT id, v FROM snap_fw.w") == 0);
    MYSQL_RES *res = mysql_store_result(m);
    SL_CHECK(res != NULL);
    long bad = 0, n = 0;
    MYSQL_ROW row;
    while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
        long id = strtol(row[0], NULL, 10), v = strtol(row[1], NULL, 10);
        n++;
        if (id <= 0 || id >= MAXID || !model->have[id] || model->v[id] != v) {
            if (bad++ < 5)
                printf("# source row %ld=%ld: replay has %s%ld\n", id, v,
                       id > 0 && id < MAXID && model->have[id] ? "" : "none ",
                       id > 0 && id < MAXID ? model->v[id] : 0);
            if (bad == 1 && getenv("SNAPSHOT_FORMATS_DUMP") != NULL) {
                char pat[32], pat2[32];
                snprintf(pat, sizeof pat, "\"id\":%s%ld",
                         strcmp(fmt, "canal") == 0 ? "\"" : "", id);
                snprintf(pat2, sizeof pat2, "\"id\":%s%ld",
                         strcmp(fmt, "canal") == 0 ? "\"" : "", id - 100000);
                for (char *p = text, *e; (e = strchr(p, '\n')) != NULL;
                     p = e + 1) {
                    *e = '\0';
                    if (strstr(p, pat) || strstr(p, pat2))
                        printf("#   %s\n", p);
                    *e = '\n';
                }
            }
        } else {
            model->have[id] = 0;
        }
    }
    if (res != NULL)
        mysql_free_result(res);
    for (long id = 1; id < MAXID; id++)
        if (model->have[id] && bad++ < 10)
            printf("# replay has %ld, the source has no such row\n", id);
    printf("# %s: %ld changes during the snapshot, %ld read rows, %ld source "
           "rows, %ld differences\n",
           fmt, changes, reads, n, bad);
    SL_CHECK_INT(bad, 0);
    SL_CHECK(changes > 0 && reads > 0);
    free(text);
    free(model);
    sl_client_close(cl);
    mysql_close(w);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(snapshot_formats_join_the_stream_under_writes) {
    setenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS", "10", 1);
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    if (getenv("SNAPSHOT_FORMATS_ONLY") == NULL)
        check_under_writes(m, "debezium", 3311);
    check_under_writes(m, "maxwell", 3312);
    check_under_writes(m, "canal", 3313);
    sl_harness_exec(m, "DROP DATABASE snap_fw");
    mysql_close(m);
    unsetenv("SLUICE_SNAPSHOT_TEST_PAUSE_MS");
}

/* A keyless table copied in one consistent read (--snapshot-copy keyless)
 * in maxwell and debezium: the copy's rows are read rows of the format
 * (no key: a debezium record without a key), bracketed in maxwell. */
static void check_copy(MYSQL *m, const char *fmt, unsigned server_id) {
    char topic[64], logpath[700], sid[16];
    snprintf(topic, sizeof topic, "sfc%s", fmt);
    snprintf(logpath, sizeof logpath, "%s/capture-%s.log", sl_test_tmpdir(),
             topic);
    snprintf(sid, sizeof sid, "%u", server_id);
    sl_harness_exec(m, "DROP DATABASE IF EXISTS snap_fc");
    sl_harness_exec(m, "CREATE DATABASE snap_fc");
    sl_harness_exec(m, "CREATE TABLE snap_fc.k (a INT, b VARCHAR(10))");
    sl_harness_exec(m, "CREATE TABLE snap_fc.tick (id INT PRIMARY KEY)");
    sl_harness_exec(m, "INSERT INTO snap_fc.k VALUES (1, 'x'), (1, 'x'), "
                       "(2, NULL)");
    sl_harness_broker_t b;
    memset(&b, 0, sizeof b);
    sl_harness_broker_start(&b, NULL, 20000);
    const char *const flags[] = {
        "--topic",    topic,       "--name",      topic,      "--server-id",
        sid,          "--include", "snap_fc\\.k", "--format", fmt,
        "--snapshot", "initial",   "--heartbeat", "200ms",    "--snapshot-copy",
        "keyless",    NULL};
    int cap = sl_harness_start_capture(b.addr, flags, logpath);
    /* The copy joins the stream at commits: give it some. */
    for (int i = 1; i <= 600; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO snap_fc.tick VALUES (%d)", i);
        sl_harness_exec(m, sql);
        size_t len = 0;
        FILE *f = fopen(logpath, "r");
        if (f == NULL)
            continue;
        fclose(f);
        char *log = (char *)sl_harness_slurp(logpath, &len);
        log = realloc(log, len + 1);
        log[len] = '\0';
        int done = strstr(log, "snapshot complete") != NULL;
        free(log);
        if (done)
            break;
        sl_harness_sleep_ms(50);
    }
    wait_log(logpath, "snapshot complete");
    sl_harness_exec(m, "INSERT INTO snap_fc.k VALUES (3, 'end')");
    sl_client_t *cl = sl_harness_broker_client(&b, NULL);
    sl_harness_wait_partition_text(cl, topic, "snap_fc.k", "\"end\"", logpath);
    char *text = sl_harness_partition_text(cl, topic, "snap_fc.k");
    long rows = 0;
    const char *want = strcmp(fmt, "maxwell") == 0
                           ? "\"type\":\"bootstrap-insert\""
                           : "\"op\":\"r\"";
    for (const char *p = text; (p = strstr(p, want)) != NULL; p++)
        rows++;
    SL_CHECK_INT(rows, 3);
    SL_CHECK(strstr(text, "\"data\":{\"a\":2,\"b\":null}") != NULL ||
             strstr(text, "\"after\":{\"a\":2,\"b\":null}") != NULL);
    if (strcmp(fmt, "maxwell") == 0) {
        SL_CHECK(strstr(text, "bootstrap-start") != NULL);
        SL_CHECK(strstr(text, "bootstrap-complete") != NULL);
        SL_CHECK(strstr(text, "primary_key") == NULL);
    }
    free(text);
    sl_client_close(cl);
    sl_harness_stop(cap, SIGTERM, 20000);
    sl_harness_broker_stop(&b, SIGTERM, 20000);
}

SL_TEST(snapshot_formats_copy_a_keyless_table) {
    MYSQL *m = sl_harness_mysql("SOURCE", NULL);
    check_copy(m, "maxwell", 3321);
    check_copy(m, "debezium", 3322);
    sl_harness_exec(m, "DROP DATABASE snap_fc");
    mysql_close(m);
}
