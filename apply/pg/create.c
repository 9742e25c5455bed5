/*
 * --create-tables-from: a target table that is missing is created from
 * the source's own definition. Change events carry no column types (the
 * live capture does not publish them), so the definition is read from the
 * source MariaDB/MySQL's information_schema (COLUMNS, STATISTICS for the
 * primary key, CHECK_CONSTRAINTS for MariaDB's JSON columns) over a
 * connection given by that option, at the moment the first event of the
 * table arrives. The CREATE SCHEMA IF NOT EXISTS and CREATE TABLE run in
 * the group's transaction (PostgreSQL DDL is transactional): a group that
 * is rolled back takes the table with it and creates it again when redone.
 *
 * The mapping (docs/postgresql.md has the table):
 *   TINYINT -> smallint; SMALLINT -> smallint (UNSIGNED: integer);
 *   MEDIUMINT -> integer; INT -> integer (UNSIGNED: bigint); BIGINT ->
 *   bigint (UNSIGNED: numeric(20,0)); DECIMAL(p,s) -> numeric(p,s); FLOAT
 *   -> real; DOUBLE -> double precision; DATE -> date; DATETIME(n) ->
 *   timestamp(n); TIMESTAMP(n) -> timestamptz(n); TIME(n) -> interval;
 *   YEAR -> smallint; CHAR, VARCHAR, TEXT types -> text; BINARY,
 *   VARBINARY, BLOB types -> bytea; BIT(n) -> bit(n); ENUM -> text; SET ->
 *   text[]; JSON (MySQL type, or MariaDB LONGTEXT with a json_valid check)
 *   -> jsonb; spatial types -> bytea (WKB); VECTOR -> real[]; UUID -> uuid;
 *   INET4/INET6 -> inet; anything else -> text. NOT NULL and the primary
 *   key are kept; defaults, other indexes and constraints are not.
 */
#include "internal.h"

#include "error.h"
#include "log.h"
#include "parse.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_pg_source_parse(const char *text, sl_pg_source_t *src) {
    memset(src, 0, sizeof *src);
    if (strncmp(text, "mysql://", 8) != 0)
        return SL_EINVAL;
    const char *p = text + 8, *at = strchr(p, '@');
    if (at == NULL || at == p || (size_t)(at - p) >= sizeof src->user ||
        memchr(p, ':', (size_t)(at - p)) != NULL)
        return SL_EINVAL;
    memcpy(src->user, p, (size_t)(at - p));
    char hp[300];
    size_t n = strcspn(at + 1, "/");
    if (n == 0 || n >= sizeof hp)
        return SL_EINVAL;
    memcpy(hp, at + 1, n);
    hp[n] = '\0';
    if (strchr(hp, ':') == NULL) {
        if (n >= sizeof src->host)
            return SL_EINVAL;
        memcpy(src->host, hp, n + 1);
        src->port = 3306;
        return 0;
    }
    return sl_parse_hostport(hp, src->host, sizeof src->host, &src->port);
}

/* The PostgreSQL type for one source column. */
static void pg_type(const char *dt, const char *ct, const char *prec,
                    const char *scale, const char *dtp, int json, char *out,
                    size_t cap) {
    int uns = strstr(ct, "unsigned") != NULL;
    if (json) {
        snprintf(out, cap, "jsonb");
    } else if (!strcmp(dt, "tinyint")) {
        snprintf(out, cap, "smallint");
    } else if (!strcmp(dt, "smallint")) {
        snprintf(out, cap, uns ? "integer" : "smallint");
    } else if (!strcmp(dt, "mediumint")) {
        snprintf(out, cap, "integer");
    } else if (!strcmp(dt, "int")) {
        snprintf(out, cap, uns ? "bigint" : "integer");
    } else if (!strcmp(dt, "bigint")) {
        snprintf(out, cap, uns ? "numeric(20,0)" : "bigint");
    } else if (!strcmp(dt, "decimal")) {
        snprintf(out, cap, "numeric(%s,%s)", prec, scale);
    } else if (!strcmp(dt, "float")) {
        snprintf(out, cap, "real");
    } else if (!strcmp(dt, "double")) {
        snprintf(out, cap, "double precision");
    } else if (!strcmp(dt, "date")) {
        snprintf(out, cap, "date");
    } else if (!strcmp(dt, "datetime")) {
        snprintf(out, cap, "timestamp(%s)", dtp[0] ? dtp : "0");
    } else if (!strcmp(dt, "timestamp")) {
        snprintf(out, cap, "timestamptz(%s)", dtp[0] ? dtp : "0");
    } else if (!strcmp(dt, "time")) {
        snprintf(out, cap, "interval");
    } else if (!strcmp(dt, "year")) {
        snprintf(out, cap, "smallint");
    } else if (strstr(dt, "char") || strstr(dt, "text")) {
        snprintf(out, cap, "text");
    } else if (strstr(dt, "binary") || strstr(dt, "blob")) {
        snprintf(out, cap, "bytea");
    } else if (!strcmp(dt, "bit")) {
        snprintf(out, cap, "bit(%s)", prec[0] ? prec : "1");
    } else if (!strcmp(dt, "enum")) {
        snprintf(out, cap, "text");
    } else if (!strcmp(dt, "set")) {
        snprintf(out, cap, "text[]");
    } else if (!strcmp(dt, "json")) {
        snprintf(out, cap, "jsonb");
    } else if (!strcmp(dt, "geometry") || !strcmp(dt, "point") ||
               !strcmp(dt, "linestring") || !strcmp(dt, "polygon") ||
               !strncmp(dt, "multi", 5) || !strcmp(dt, "geomcollection") ||
               !strcmp(dt, "geometrycollection")) {
        snprintf(out, cap, "bytea");
    } else if (!strcmp(dt, "vector")) {
        snprintf(out, cap, "real[]");
    } else if (!strcmp(dt, "uuid")) {
        snprintf(out, cap, "uuid");
    } else if (!strcmp(dt, "inet4") || !strcmp(dt, "inet6")) {
        snprintf(out, cap, "inet");
    } else {
        snprintf(out, cap, "text");
    }
}

/* Builds the CREATE SCHEMA (into sch) and the CREATE TABLE (into q) from
 * the source's information_schema. */
static int definition(sl_pg_sink_t *s, const pgtable_t *tm, sl_buf_t *sch,
                      sl_buf_t *q, char *err, size_t errlen) {
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 10;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (mysql_real_connect(m, s->o.source.host, s->o.source.user,
                           s->o.source_password, NULL, s->o.source.port, NULL,
                           0) == NULL) {
        snprintf(err, errlen, "--create-tables-from: %s", mysql_error(m));
        mysql_close(m);
        return SL_EAGAIN;
    }
    mysql_set_character_set(m, "utf8mb4");
    char edb[600], etb[600], sql[3000];
    mysql_real_escape_string(m, edb, tm->src_db, strlen(tm->src_db));
    mysql_real_escape_string(m, etb, tm->table, strlen(tm->table));
    snprintf(sql, sizeof sql,
             "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, "
             "IFNULL(c.NUMERIC_PRECISION,''), IFNULL(c.NUMERIC_SCALE,''), "
             "IFNULL(c.DATETIME_PRECISION,''), c.IS_NULLABLE, "
             "(SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS k "
             "WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = "
             "c.TABLE_NAME AND k.CHECK_CLAUSE = CONCAT('json_valid(`', "
             "c.COLUMN_NAME, '`)')) FROM information_schema.COLUMNS c WHERE "
             "c.TABLE_SCHEMA = '%s' AND c.TABLE_NAME = '%s' ORDER BY "
             "c.ORDINAL_POSITION",
             edb, etb);
    MYSQL_RES *res = NULL;
    if (mysql_query(m, sql) != 0 || (res = mysql_store_result(m)) == NULL) {
        snprintf(err, errlen, "--create-tables-from: %s", mysql_error(m));
        mysql_close(m);
        return SL_EAGAIN;
    }
    if (mysql_num_rows(res) == 0) {
        snprintf(err, errlen,
                 "target table %s does not exist and the source has no "
                 "table %s.%s to create it from",
                 tm->qname, tm->src_db, tm->table);
        mysql_free_result(res);
        mysql_close(m);
        return SL_EDB;
    }
    sl_buf_append_str(sch, "CREATE SCHEMA IF NOT EXISTS ");
    sl__pg_put_ident(sch, tm->schema);
    sl_buf_append_u8(sch, 0);
    sl_buf_printf(q, "CREATE TABLE IF NOT EXISTS %s (", tm->qname);
    MYSQL_ROW row;
    int first = 1;
    while ((row = mysql_fetch_row(res)) != NULL) {
        char ty[64];
        pg_type(row[1], row[2], row[3], row[4], row[5], atoi(row[7]) > 0, ty,
                sizeof ty);
        if (!first)
            sl_buf_append_str(q, ", ");
        first = 0;
        sl__pg_put_ident(q, row[0]);
        sl_buf_printf(q, " %s%s", ty,
                      strcmp(row[6], "NO") == 0 ? " NOT NULL" : "");
    }
    mysql_free_result(res);
    snprintf(sql, sizeof sql,
             "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE "
             "TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' AND INDEX_NAME = "
             "'PRIMARY' ORDER BY SEQ_IN_INDEX",
             edb, etb);
    if (mysql_query(m, sql) == 0 && (res = mysql_store_result(m)) != NULL) {
        first = 1;
        while ((row = mysql_fetch_row(res)) != NULL) {
            sl_buf_append_str(q, first ? ", PRIMARY KEY (" : ", ");
            first = 0;
            sl__pg_put_ident(q, row[0]);
        }
        if (!first)
            sl_buf_append_u8(q, ')');
        mysql_free_result(res);
    }
    sl_buf_append_str(q, ")");
    sl_buf_append_u8(q, 0);
    mysql_close(m);
    return sl_buf_error(q) ? sl_buf_error(q) : sl_buf_error(sch);
}

int sl__pg_create_table(sl_pg_sink_t *s, pgtable_t *tm, char *err,
                        size_t errlen) {
    sl_buf_t sch = SL_BUF_INIT, q = SL_BUF_INIT;
    int rc = definition(s, tm, &sch, &q, err, errlen);
    if (rc == 0)
        rc = sl__pg_sync(s, 1);
    const char *stmts[2] = {(const char *)sch.data, (const char *)q.data};
    for (int i = 0; i < 2 && rc == 0; i++)
        if (PQsendQueryParams(s->conn, stmts[i], 0, NULL, NULL, NULL, NULL,
                              0) != 1)
            rc = sl__pg_fail(s, NULL, "creating a table");
    if (rc == 0 && PQpipelineSync(s->conn) != 1)
        rc = sl__pg_fail(s, NULL, "creating a table");
    for (int i = 0; i < 2 && rc == 0; i++) {
        PGresult *r = PQgetResult(s->conn);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = sl__pg_fail(s, r, "creating a table");
        PQclear(r);
        while (rc == 0 && (r = PQgetResult(s->conn)) != NULL)
            PQclear(r);
    }
    if (rc == 0) {
        PGresult *r = PQgetResult(s->conn);
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            rc = sl__pg_fail(s, r, "creating a table");
        PQclear(r);
    }
    if (rc == 0) {
        char qn[300];
        sl_log_info("target table created", "table=%s",
                    sl_log_quote(tm->qname, qn, sizeof qn));
    }
    sl_buf_free(&sch);
    sl_buf_free(&q);
    return rc;
}
