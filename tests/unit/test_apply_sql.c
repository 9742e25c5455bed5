/* Unit tests for the SQL the MySQL sink builds (apply/mysql/sink.h). */
#include "apply/mysql/sink.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const cols[] = {"id",  "email", "bal", "bin",
                                   "doc", "g",     "f",   "o`dd"};
static const char *const types[] = {"bigint", "varchar", "decimal", "varbinary",
                                    "json",   "point",   "double",  "int"};

static char *build(const char *ev, sl_drift_t drift, const char *const *ukey,
                   size_t nukey, int *rc) {
    char *sql = NULL, err[300] = "";
    *rc = sl_mysql_build_sql(ev, strlen(ev), "dst", cols, types, 8, ukey, nukey,
                             drift, &sql, err, sizeof err);
    if (*rc != 0)
        return strdup(err);
    return sql;
}

SL_TEST(apply_sql_insert_values) {
    int rc;
    char *sql = build(
        "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"shop\",\"table\":\"u\","
        "\"pk\":[\"id\"],\"before\":null,\"after\":{\"id\":"
        "18446744073709551615,"
        "\"email\":\"o'neil\\\\\\n\\u00e9\",\"bal\":\"-12345678901234567890."
        "0000000001\","
        "\"bin\":{\"base64\":\"AP8n\"},\"doc\":{\"a\":[1,\"x\"]},"
        "\"g\":{\"srid\":4326,\"wkb\":\"0101\"},\"f\":1.5e-7,\"o`dd\":null}}",
        SL_DRIFT_OVERWRITE, NULL, 0, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(
        sql,
        "INSERT INTO `dst`.`u` (`id`,`email`,`bal`,`bin`,`doc`,`g`,`f`,`o``dd`)"
        " VALUES (18446744073709551615,'o\\'neil\\\\\\n\xc3\xa9',"
        "'-12345678901234567890.0000000001',X'00FF27','{\\\"a\\\":[1,\\\"x\\\"]"
        "}',"
        "ST_GeomFromWKB(X'0101',4326),1.5e-7,NULL) ON DUPLICATE KEY UPDATE "
        "`id`=VALUES(`id`),`email`=VALUES(`email`),`bal`=VALUES(`bal`),"
        "`bin`=VALUES(`bin`),`doc`=VALUES(`doc`),`g`=VALUES(`g`),"
        "`f`=VALUES(`f`),`o``dd`=VALUES(`o``dd`)");
    free(sql);
    /* skip and stop only detect the duplicate (a no-op update). A JSON
     * column holding a JSON string keeps its quotes. */
    sql = build(
        "{\"kind\":\"row\",\"op\":\"insert\",\"db\":\"s\",\"table\":\"u\","
        "\"pk\":[\"id\"],\"before\":null,\"after\":{\"id\":1,"
        "\"doc\":\"str\"}}",
        SL_DRIFT_SKIP, NULL, 0, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "INSERT INTO `dst`.`u` (`id`,`doc`) VALUES "
                      "(1,'\\\"str\\\"') ON DUPLICATE KEY UPDATE `id`=`id`");
    free(sql);
}

/* A snapshot row is an upsert of every column whatever the drift policy
 * (the stream may have inserted the row first); without an after image it
 * is refused. */
SL_TEST(apply_sql_read_row_upserts) {
    int rc;
    char *sql =
        build("{\"kind\":\"row\",\"op\":\"read\",\"db\":\"s\",\"table\":\"u\","
              "\"pk\":[\"id\"],\"before\":null,\"after\":{\"id\":1,"
              "\"email\":\"a\"},\"snapshot\":{\"id\":\"x\",\"chunk\":0}}",
              SL_DRIFT_SKIP, NULL, 0, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "INSERT INTO `dst`.`u` (`id`,`email`) VALUES (1,'a') ON "
                      "DUPLICATE KEY UPDATE `id`=VALUES(`id`),"
                      "`email`=VALUES(`email`)");
    free(sql);
    sql = build("{\"kind\":\"row\",\"op\":\"read\",\"db\":\"s\","
                "\"table\":\"u\",\"pk\":[\"id\"],\"before\":null,"
                "\"after\":null}",
                SL_DRIFT_STOP, NULL, 0, &rc);
    SL_CHECK(rc != 0);
    SL_CHECK(strstr(sql, "read without an after image") != NULL);
    free(sql);
}

SL_TEST(apply_sql_update_delete_keys) {
    int rc;
    /* By the event's primary key (a changed key: SET has the new value,
     * WHERE the old). */
    char *sql = build("{\"kind\":\"row\",\"op\":\"update\",\"db\":\"s\","
                      "\"table\":\"u\",\"pk\":[\"id\"],\"before\":{\"id\":1,"
                      "\"email\":\"a\"},\"after\":{\"id\":2,\"email\":\"b\"}}",
                      SL_DRIFT_STOP, NULL, 0, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "UPDATE `dst`.`u` SET `id`=2,`email`='b' WHERE `id`=1 "
                      "LIMIT 1");
    free(sql);
    /* No primary key: the target's unique key. */
    const char *const uk[] = {"email"};
    sql = build(
        "{\"kind\":\"row\",\"op\":\"delete\",\"db\":\"s\",\"table\":\"u\","
        "\"pk\":null,\"before\":{\"id\":1,\"email\":\"a\"},"
        "\"after\":null}",
        SL_DRIFT_STOP, uk, 1, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "DELETE FROM `dst`.`u` WHERE `email`='a' LIMIT 1");
    free(sql);
    /* The unique key is NULL in this row: every column, NULL-safe, except
     * the double. */
    sql = build(
        "{\"kind\":\"row\",\"op\":\"delete\",\"db\":\"s\",\"table\":\"u\","
        "\"pk\":null,\"before\":{\"id\":1,\"email\":null,\"f\":0.1},"
        "\"after\":null}",
        SL_DRIFT_STOP, uk, 1, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "DELETE FROM `dst`.`u` WHERE `id`<=>1 AND "
                      "`email`<=>NULL LIMIT 1");
    free(sql);
    /* A NULL primary-key part (impossible in InnoDB, but well formed). */
    sql = build(
        "{\"kind\":\"row\",\"op\":\"delete\",\"db\":\"s\",\"table\":\"u\","
        "\"pk\":[\"id\",\"email\"],\"before\":{\"id\":1,\"email\":null},"
        "\"after\":null}",
        SL_DRIFT_STOP, NULL, 0, &rc);
    SL_CHECK_OK(rc);
    SL_CHECK_STR(sql, "DELETE FROM `dst`.`u` WHERE `id`=1 AND `email` IS NULL "
                      "LIMIT 1");
    free(sql);
}

SL_TEST(apply_sql_rejects_what_it_cannot_apply) {
    static const struct {
        const char *ev, *msg;
    } bad[] = {
        {"{\"kind\":\"row\",\"op\":\"insert\",\"table\":\"u\",\"pk\":null,"
         "\"before\":null,\"after\":{\"nope\":1}}",
         "\"nope\" is not in"},
        {"{\"kind\":\"row\",\"op\":\"update\",\"table\":\"u\",\"pk\":[\"id\"],"
         "\"before\":{\"email\":\"a\"},\"after\":{\"id\":1}}",
         "not in the before image"},
        {"{\"kind\":\"row\",\"op\":\"insert\",\"table\":\"u\",\"pk\":null,"
         "\"before\":null,\"after\":{\"bin\":{\"base64\":\"A\"}}}",
         "bad base64"},
        {"{\"kind\":\"row\",\"op\":\"insert\",\"table\":\"u\",\"pk\":null,"
         "\"positional\":true,\"before\":null,\"after\":{\"@1\":1}}",
         "binlog_row_metadata=FULL"},
        {"{\"kind\":\"row\",\"op\":\"upsert\",\"table\":\"u\",\"pk\":null,"
         "\"before\":null,\"after\":{\"id\":1}}",
         "unknown op"},
        {"{\"kind\":\"row\",\"op\":\"delete\",\"table\":\"u\",\"pk\":null,"
         "\"before\":null,\"after\":null}",
         "without a before image"},
        {"{\"kind\":\"row\",\"op\":\"insert\",\"table\":\"u\",\"pk\":null,"
         "\"before\":null,\"after\":{\"g\":{\"srid\":1,\"wkb\":\"0x'\"}}}",
         "wkb"},
        {"{\"kind\":\"row\"", "bad JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        char *msg = build(bad[i].ev, SL_DRIFT_STOP, NULL, 0, &rc);
        if (rc == 0 || strstr(msg, bad[i].msg) == NULL)
            sl_test_fail(__FILE__, __LINE__, "bad[%zu]: rc %d, \"%s\"", i, rc,
                         msg);
        free(msg);
    }
}

SL_TEST(apply_sql_url_map_and_policy) {
    sl_mysql_url_t u;
    SL_CHECK_OK(sl_mysql_url_parse("mysql://repl@127.0.0.1:3307/sluice", &u));
    SL_CHECK_STR(u.user, "repl");
    SL_CHECK_STR(u.host, "127.0.0.1");
    SL_CHECK_INT(u.port, 3307);
    SL_CHECK_STR(u.db, "sluice");
    SL_CHECK_OK(sl_mysql_url_parse("mysql://a@db.example/x", &u));
    SL_CHECK_INT(u.port, 3306);
    const char *bad[] = {
        "mysql://a:pw@h:1/x",  "mysql://h:1/x",  "http://a@h/x",
        "mysql://a@h:1",       "mysql://a@h:1/", "mysql://a@h:0/x",
        "mysql://a@h:99999/x", "mysql://a@/x",   "mysql://a@h:1/x/y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sl_mysql_url_parse(bad[i], &u) == 0)
            sl_test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
    sl_drift_t d;
    SL_CHECK_OK(sl_drift_parse("skip", &d));
    SL_CHECK_INT(d, SL_DRIFT_SKIP);
    SL_CHECK_INT(sl_drift_parse("ignore", &d), SL_EINVAL);
}

/* The body of schema file path without its comments and final ';', in
 * body (size n). 0, or 1 when the file is not there. */
static int schema_body(const char *path, char *body, size_t n) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    char line[512];
    body[0] = '\0';
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "--", 2) != 0)
            strncat(body, line, n - strlen(body) - 1);
    fclose(f);
    size_t len = strlen(body);
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == ';'))
        body[--len] = '\0';
    return 0;
}

SL_TEST(apply_sql_offsets_schema_file_matches) {
    /* schemas/sluice_offsets.sql and schemas/sluice_snapshots.sql are what
     * sluice-apply runs at start. */
    char body[4096];
    if (schema_body("schemas/sluice_offsets.sql", body, sizeof body) != 0)
        SL_SKIP("run from the repository root");
    SL_CHECK_STR(body, sl_mysql_offsets_ddl);
    SL_CHECK_INT(schema_body("schemas/sluice_snapshots.sql", body, sizeof body),
                 0);
    SL_CHECK_STR(body, sl_mysql_snapshots_ddl);
}
