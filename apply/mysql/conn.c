/*
 * The MySQL/MariaDB sink's connection (apply/mysql/internal.h) and the
 * classification of target errors as transient or permanent.
 *
 * The session runs with sql_mode STRICT_ALL_TABLES (no silent truncation)
 * plus NO_AUTO_VALUE_ON_ZERO (an id of 0 stays 0), time_zone '+00:00'
 * (capture renders TIMESTAMP values in UTC), utf8mb4, and
 * foreign_key_checks=0: partitions are applied independently, so a child
 * row may legitimately arrive before its parent.
 */
#include "internal.h"

#include "clock.h"
#include "error.h"
#include "log.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <string.h>

/* The operating-system errno a server message carries, for the errors
 * that wrap one: 3 "Error writing file '...' (Errcode: 28 ...)", 1026 and
 * 1004/1005 "... (errno: 28 ...)", 1030 "Got error 28 \"No space left on
 * device\" from storage engine InnoDB", 1180/1181 "Got error 28 ... during
 * COMMIT". The last marker counts: a file name quoted before it cannot
 * pose as the errno. -1 when there is none. */
static long msg_errno(const char *msg) {
    static const char *const marks[] = {"Errcode: ", "errno: ", "Got error "};
    if (msg == NULL)
        return -1;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *p = NULL;
        for (const char *q = strstr(msg, marks[i]); q != NULL;
             q = strstr(q + 1, marks[i]))
            p = q;
        if (p == NULL)
            continue;
        p += strlen(marks[i]);
        if (*p < '0' || *p > '9')
            continue;
        long v = 0;
        while (*p >= '0' && *p <= '9' && v < 100000)
            v = v * 10 + (*p++ - '0');
        return v;
    }
    return -1;
}

/* Errnos inside a wrapped error that say the target lacks room or memory,
 * or holds a damaged table an operator repairs: 28 ENOSPC, 122 EDQUOT,
 * 12 ENOMEM, and the storage engines' 126 (index crashed), 127 (record
 * file crashed), 134 (record deleted), 135/136 (record or index file
 * full). */
static int errno_transient(long en) {
    return en == 28 || en == 122 || en == 12 || en == 126 || en == 127 ||
           en == 134 || en == 135 || en == 136;
}

/*
 * Whether error e (with the server's message msg, which may be NULL) is
 * transient: the group is rolled back and redone after a backoff, for as
 * long as it takes, and the event is never dead-lettered or skipped.
 *
 * Besides lost connections, lock conflicts and a read-only or stopping
 * server, this covers a target that is out of space or memory (1021 disk
 * full, 1114 table full, 1041/1037/1038 out of memory, 1135 no thread,
 * 1034 "incorrect key file", which is also how a full tmpdir shows, and 3,
 * 1004, 1005, 1026, 1030, 1180, 1181 wrapping errno 28 ENOSPC or 122
 * EDQUOT: creating sluice_offsets on a full disk is one) and a
 * table marked crashed (1194, 1195): the fault is the target's, not the
 * event's, and once an operator frees space or repairs the table the
 * same statement succeeds. Dead-lettering such an event would make the
 * target silently diverge from the stream.
 */
int sl_mysql_error_transient(unsigned e, const char *msg) {
    switch (e) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_OPTION_PREVENTS_STATEMENT:
    case 1836: /* ER_READ_ONLY_MODE */
    case ER_SERVER_SHUTDOWN:
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_QUERY_INTERRUPTED:
    case 1927: /* ER_CONNECTION_KILLED */
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_DISK_FULL:
    case ER_RECORD_FILE_FULL:
    case ER_OUTOFMEMORY:
    case ER_OUT_OF_SORTMEMORY:
    case ER_OUT_OF_RESOURCES:
    case ER_CANT_CREATE_THREAD:
    case ER_NOT_KEYFILE:
    case ER_CRASHED_ON_USAGE:
    case ER_CRASHED_ON_REPAIR:
    case 0: return 1;
    case 3: /* EE_WRITE, mysys's "Error writing file" */
    case ER_CANT_CREATE_FILE:
    case ER_CANT_CREATE_TABLE:
    case ER_ERROR_ON_WRITE:
    case ER_GET_ERRNO:
    case ER_ERROR_DURING_COMMIT:
    case ER_ERROR_DURING_ROLLBACK: return errno_transient(msg_errno(msg));
    default: return 0;
    }
}

void sl__mysql_disconnect(sl_mysql_sink_t *s) {
    if (s->mysql != NULL)
        mysql_close(s->mysql);
    s->mysql = NULL;
    sl__mysql_pstmts_close(s);
    sl__mysql_bulk_reset(&s->bk);
    s->in_group = 0;
    s->inflight = 0;
}

void sl_mysql_set_tls(MYSQL *m, const sl_mysql_opts_t *o) {
    if (!o->tls)
        return;
    /* Verified by default, as capture's source connection: skipping the
     * check is asked for by name (--target-tls-insecure). */
    my_bool enforce = 1, verify = !o->tls_insecure;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    if (o->tls_ca != NULL)
        mysql_options(m, MYSQL_OPT_SSL_CA, o->tls_ca);
}

static int connect_once(sl_mysql_sink_t *s) {
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return sl__mysql_seterr(s, SL_ENOMEM, "out of memory");
    unsigned int timeout = 5, rw = 60;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND,
                  "SET SESSION sql_mode='STRICT_ALL_TABLES,"
                  "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',"
                  "time_zone='+00:00',foreign_key_checks=0,"
                  "autocommit=1");
    /* The non-blocking API lets a bulk execution run on the server while
     * the next batch is built; blocking calls work as before. */
    mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
    sl_mysql_set_tls(m, &s->opts);
    if (mysql_real_connect(m, s->opts.url.host, s->opts.url.user, s->password,
                           s->opts.url.db, s->opts.url.port, NULL,
                           CLIENT_MULTI_STATEMENTS) == NULL) {
        unsigned e = mysql_errno(m);
        sl__mysql_seterr(
            s, sl_mysql_error_transient(e, mysql_error(m)) ? SL_EAGAIN : SL_EDB,
            "cannot connect to the target %s:%u as %s: %s (error %u)",
            s->opts.url.host, s->opts.url.port, s->opts.url.user,
            mysql_error(m), e);
        mysql_close(m);
        /* A wrong password or an unknown database will not heal by
         * retrying quickly, but an operator may fix it: it is retried
         * like any other connection failure, and logged each time. */
        return SL_EAGAIN;
    }
    s->mysql = m;
    /* COM_STMT_BULK_EXECUTE is MariaDB's, from 10.2.7 (for other servers
     * Connector/C would send one execution per row: slower than text). */
    const char *info = mysql_get_server_info(m);
    s->mariadb = info != NULL && strstr(info, "MariaDB") != NULL;
    s->bulk_server = !s->opts.text_only && s->mariadb &&
                     mysql_get_server_version(m) >= 100207;
    return 0;
}

int sl__mysql_query_failed(sl_mysql_sink_t *s, const char *context) {
    unsigned e = mysql_errno(s->mysql);
    int rc = sl__mysql_seterr(
        s,
        sl_mysql_error_transient(e, mysql_error(s->mysql)) ? SL_EAGAIN : SL_EDB,
        "%s error %u: %s", context, e, mysql_error(s->mysql));
    if (rc == SL_EAGAIN)
        sl__mysql_disconnect(s);
    return rc;
}

/* Runs one statement without a result set (or discards it). */
int sl__mysql_exec(sl_mysql_sink_t *s, const char *sql) {
    uint64_t t0 = sl_mono_ns();
    int q = mysql_real_query(s->mysql, sql, strlen(sql));
    s->stats.wait_ns += sl_mono_ns() - t0;
    if (q != 0)
        return sl__mysql_query_failed(s, "target");
    MYSQL_RES *res = mysql_store_result(s->mysql);
    if (res)
        mysql_free_result(res);
    return 0;
}

int sl__mysql_ensure_conn(sl_mysql_sink_t *s, volatile int *stop) {
    while (s->mysql == NULL) {
        int rc = connect_once(s);
        if (rc == 0)
            break;
        if (rc != SL_EAGAIN)
            return rc;
        s->stats.retries++;
        if (s->bo.attempts == 0 || s->bo.attempts % 10 == 0) {
            char q[1100];
            sl_log_warn("target unavailable; retrying", "part=%s error=%s",
                        s->part, sl_log_quote(s->err, q, sizeof q));
        }
        if (sl_backoff_sleep(&s->bo, stop))
            return SL_ESTOPPED;
    }
    return 0;
}
