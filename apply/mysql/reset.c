/*
 * Rewinding sluice-apply's offsets in its target; see reset.h.
 *
 * The sluice_offsets rows (schemas/sluice_offsets.sql) are sluice-apply's
 * resume points: next_offset is the broker offset of the next message of
 * the partition to apply. Moving next_offset back makes the next run read
 * and apply the messages from there again. The rows move in one target
 * transaction, so a failure leaves all of them as they were.
 *
 * sluice-apply must not run meanwhile: its workers write these rows with
 * every target commit and would overwrite the reset.
 */
#include "apply/mysql/reset.h"

#include "client.h"
#include "error.h"
#include "parse.h"
#include "timeparse.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char part[256];
    uint64_t next, to;
} row_t;

static int q_exec(MYSQL *m, const char *sql, char *err, size_t errlen) {
    if (mysql_query(m, sql) == 0)
        return 0;
    snprintf(err, errlen, "target: %s", mysql_error(m));
    return 1;
}

/* Reads the rows of group and topic; *out owned by the caller. */
static int read_rows(MYSQL *m, const sl_mysql_opts_t *o, row_t **out, size_t *n,
                     char *err, size_t errlen) {
    char g[300], t[300], sql[1024];
    mysql_real_escape_string(m, g, o->group, strnlen(o->group, 128));
    mysql_real_escape_string(m, t, o->topic, strnlen(o->topic, 128));
    snprintf(sql, sizeof sql,
             "SELECT part, next_offset FROM sluice_offsets WHERE "
             "group_name='%s' AND topic='%s' ORDER BY part FOR UPDATE",
             g, t);
    if (q_exec(m, sql, err, errlen) != 0)
        return 1;
    MYSQL_RES *res = mysql_store_result(m);
    if (res == NULL) {
        snprintf(err, errlen, "target: %s", mysql_error(m));
        return 1;
    }
    *n = 0;
    *out = calloc(mysql_num_rows(res) + 1, sizeof **out);
    if (*out == NULL) {
        mysql_free_result(res);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        row_t *r = &(*out)[*n];
        snprintf(r->part, sizeof r->part, "%s", row[0] ? row[0] : "");
        if (row[1] == NULL || sl_parse_u64(row[1], &r->next) != 0)
            continue;
        (*n)++;
    }
    mysql_free_result(res);
    return 0;
}

int sl_mysql_reset_offsets(const sl_mysql_opts_t *o, const char *broker,
                           const char *secret, const struct sl_tls_opts_s *tls,
                           const char *to, int confirm, char *err,
                           size_t errlen) {
    int64_t ms = 0;
    int earliest = strcmp(to, "earliest") == 0;
    if (!earliest && sl_parse_time_ms(to, &ms) != 0) {
        snprintf(err, errlen,
                 "--reset-to '%s' is not earliest or a time ('YYYY-MM-DD "
                 "HH:MM:SS' local, Z for UTC, @EPOCH)",
                 to);
        return 2;
    }
    MYSQL *m = mysql_init(NULL);
    sl_client_t *cl = NULL;
    row_t *rows = NULL;
    size_t n = 0;
    int status = 1;
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    sl_mysql_set_tls(m, o);
    if (mysql_real_connect(m, o->url.host, o->url.user, o->password, o->url.db,
                           o->url.port, NULL, 0) == NULL) {
        snprintf(err, errlen, "target %s:%u: %s", o->url.host, o->url.port,
                 mysql_error(m));
        goto done;
    }
    if (q_exec(m, "START TRANSACTION", err, errlen) != 0 ||
        read_rows(m, o, &rows, &n, err, errlen) != 0)
        goto done;
    if (n == 0) {
        snprintf(err, errlen,
                 "%s.sluice_offsets has no row for group %s and topic %s: "
                 "nothing to rewind",
                 o->url.db, o->group, o->topic);
        goto done;
    }
    sl_client_opts_t co = {secret, 5000, 30000, 5000};
    int rc = sl_client_connect_tls(broker, &co, tls, &cl);
    if (rc != 0) {
        snprintf(err, errlen, "broker %s: %s", broker, sl_strerror(rc));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t a, b;
        rc = sl_client_offsets(cl, o->topic, rows[i].part, &a, &b);
        if (rc == 0 && !earliest)
            rc = sl_client_offset_for_time(cl, o->topic, rows[i].part, ms,
                                           &rows[i].to);
        if (rc != 0) {
            snprintf(err, errlen, "broker: %s/%s: %s", o->topic, rows[i].part,
                     sl_client_error(cl)[0] ? sl_client_error(cl)
                                            : sl_strerror(rc));
            goto done;
        }
        if (earliest)
            rows[i].to = a;
        printf("%s %s %llu -> %llu%s\n", o->topic, rows[i].part,
               (unsigned long long)rows[i].next, (unsigned long long)rows[i].to,
               rows[i].to > rows[i].next ? " (forward)" : "");
    }
    if (!confirm) {
        fprintf(stderr,
                "sluice-apply: nothing changed; add --reset-confirm to move "
                "these offsets (stop sluice-apply first)\n");
        mysql_query(m, "ROLLBACK");
        status = 2;
        goto done;
    }
    char g[300], t[300];
    mysql_real_escape_string(m, g, o->group, strnlen(o->group, 128));
    mysql_real_escape_string(m, t, o->topic, strnlen(o->topic, 128));
    for (size_t i = 0; i < n; i++) {
        char p[600], sql[1600];
        mysql_real_escape_string(m, p, rows[i].part, strlen(rows[i].part));
        snprintf(sql, sizeof sql,
                 "UPDATE sluice_offsets SET next_offset=%llu, last_trx='', "
                 "updated_at=CURRENT_TIMESTAMP(6) WHERE group_name='%s' AND "
                 "topic='%s' AND part='%s'",
                 (unsigned long long)rows[i].to, g, t, p);
        if (q_exec(m, sql, err, errlen) != 0)
            goto done;
    }
    if (q_exec(m, "COMMIT", err, errlen) != 0)
        goto done;
    fprintf(stderr,
            "sluice-apply: moved %zu partition offset(s) of group %s. "
            "Re-applying rows the target already has is only safe with an "
            "idempotent drift policy (--drift overwrite): with skip or "
            "stop, a target rewound behind newer rows skips or stops on "
            "them\n",
            n, o->group);
    status = 0;
done:
    sl_client_close(cl);
    free(rows);
    mysql_close(m);
    return status;
}
