/*
 * Proves the harness: the source writes row events to its binlog (seen
 * through libmysqlclient with SHOW BINLOG EVENTS), the target is a distinct
 * server, and Redis and memcached round-trip a key.
 */
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

SL_TEST(source_writes_row_events) {
    MYSQL *mysql = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(mysql, "CREATE DATABASE IF NOT EXISTS harness_proof");
    sl_harness_exec(mysql, "DROP TABLE IF EXISTS harness_proof.t");
    /* Start a fresh binlog so the events checked are this test's. */
    sl_harness_exec(mysql, "FLUSH BINARY LOGS");
    sl_harness_exec(mysql, "CREATE TABLE harness_proof.t "
                           "(id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB");
    sl_harness_exec(mysql, "INSERT INTO harness_proof.t VALUES "
                           "(1,'one'),(2,'two'),(3,'three')");
    SL_CHECK_OK(mysql_query(mysql, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(mysql);
    SL_CHECK(res != NULL);
    MYSQL_ROW row = mysql_fetch_row(res);
    SL_CHECK(row != NULL && row[0] != NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "SHOW BINLOG EVENTS IN '%s'", row[0]);
    mysql_free_result(res);

    SL_CHECK_OK(mysql_query(mysql, sql));
    res = mysql_store_result(mysql);
    SL_CHECK(res != NULL);
    int write_rows = 0, table_map = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        /* Columns: Log_name, Pos, Event_type, Server_id, End_log_pos, Info;
         * a table map's Info reads "table_id: N (db.table)". */
        if (strncmp(row[2], "Write_rows", 10) == 0)
            write_rows++;
        if (strcmp(row[2], "Table_map") == 0 && row[5] != NULL &&
            strstr(row[5], "(harness_proof.t)") != NULL)
            table_map++;
        SL_CHECK_STR(row[3], "1");
    }
    mysql_free_result(res);
    SL_CHECK(write_rows >= 1);
    SL_CHECK(table_map >= 1);
    char *format = sl_harness_query_value(mysql, "SELECT @@binlog_format");
    SL_CHECK_STR(format, "ROW");
    free(format);
    sl_harness_exec(mysql, "DROP DATABASE harness_proof");
    mysql_close(mysql);
}

SL_TEST(target_is_a_second_server) {
    MYSQL *source = sl_harness_mysql("SOURCE", NULL);
    MYSQL *target = sl_harness_mysql("TARGET", NULL);
    char *a = sl_harness_query_value(source, "SELECT @@server_id");
    char *b = sl_harness_query_value(target, "SELECT @@server_id");
    SL_CHECK_STR(a, "1");
    SL_CHECK_STR(b, "2");
    SL_CHECK(sl_harness_port("SOURCE") != sl_harness_port("TARGET"));
    free(a);
    free(b);
    mysql_close(source);
    mysql_close(target);
}

SL_TEST(redis_round_trip) {
    uint16_t port = sl_harness_port("REDIS");
    struct timeval tv = {5, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
    SL_CHECK(ctx != NULL && ctx->err == 0);
    redisReply *reply = redisCommand(ctx, "SET sluice:harness %s", "v\x01\xff");
    SL_CHECK(reply != NULL && reply->type == REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    reply = redisCommand(ctx, "GET sluice:harness");
    SL_CHECK(reply != NULL && reply->type == REDIS_REPLY_STRING);
    SL_CHECK_MEM(reply->str, reply->len, "v\x01\xff", 3);
    freeReplyObject(reply);
    reply = redisCommand(ctx, "DEL sluice:harness");
    SL_CHECK(reply != NULL && reply->integer == 1);
    freeReplyObject(reply);
    redisFree(ctx);
}

/* Sends req and reads until the reply ends with end (bounded by a timeout). */
static void mc_roundtrip(int fd, const char *req, const char *end, char *out,
                         size_t outlen) {
    SL_CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    size_t got = 0;
    out[0] = '\0';
    while (got + 1 < outlen) {
        ssize_t n = read(fd, out + got, outlen - 1 - got);
        SL_CHECK(n > 0);
        got += (size_t)n;
        out[got] = '\0';
        size_t elen = strlen(end);
        if (got >= elen && strcmp(out + got - elen, end) == 0)
            return;
    }
    sl_test_fail(__FILE__, __LINE__, "memcached reply too long: %s", out);
}

SL_TEST(memcached_round_trip) {
    uint16_t port = sl_harness_port("MEMCACHED");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SL_CHECK_OK(connect(fd, (struct sockaddr *)&addr, sizeof addr));
    char reply[256];
    mc_roundtrip(fd, "set sluice:harness 0 0 5\r\nhello\r\n", "\r\n", reply,
                 sizeof reply);
    SL_CHECK_STR(reply, "STORED\r\n");
    mc_roundtrip(fd, "get sluice:harness\r\n", "END\r\n", reply, sizeof reply);
    SL_CHECK_STR(reply, "VALUE sluice:harness 0 5\r\nhello\r\nEND\r\n");
    mc_roundtrip(fd, "delete sluice:harness\r\n", "\r\n", reply, sizeof reply);
    SL_CHECK_STR(reply, "DELETED\r\n");
    close(fd);
}
