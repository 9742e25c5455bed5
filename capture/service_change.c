/* The live capture service's changes: rows, commits and statements as
 * the decoder hands them over, published to their partitions with the
 * resume points between transactions; see service.h. */
#include "service_int.h"

#include "capture/metrics.h"
#include "capture/schema/lexer.h"
#include "error.h"
#include "replay.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Publishes one message (json) to the partition of db.table. */
int sl__svc_publish_to(sl__svc_t *svc, const char *db, size_t db_len,
                       const char *table, size_t table_len, uint64_t key_hash,
                       const char *json, size_t json_len, int mark_touched,
                       const char *key, size_t key_len) {
    sl_buf_reset(&svc->part);
    int err = sl_route_partition(&svc->route, db, db_len, table, table_len,
                                 key_hash, &svc->part);
    if (err != 0)
        return err;
    if (mark_touched &&
        sl_strmap_get(&svc->touched, svc->part.data, svc->part.len) == NULL &&
        (err = sl_strmap_put(&svc->touched, svc->part.data, svc->part.len,
                             &svc->touched)) != 0)
        return err;
    return sl_publish_keyed(svc->pub, (const char *)svc->part.data,
                            svc->part.len, json, json_len, key, key_len);
}

/* The decoder asks once per table map which columns to keep. Rows of a
 * table that is not captured are never published, so their columns are
 * all kept (an excluded primary-key column there is no error). */
int sl__svc_keep_column(void *ctx, const char *db, size_t db_len,
                        const char *table, size_t table_len, const char *column,
                        size_t len) {
    sl__svc_t *svc = ctx;
    if (!sl_filter_table(svc->filter, db, db_len, table, table_len))
        return 1;
    return sl_filter_column(svc->filter, db, db_len, table, table_len, column,
                            len);
}

/* A row, rendered without its excluded columns and with its routing hash
 * by the decoder. */
static int publish_row(sl__svc_t *svc, const sl_change_t *chg) {
    int err;
    if (chg->pk_excluded) {
        snprintf(svc->err, sizeof svc->err,
                 "%s:%llu: cannot drop excluded columns of %.*s.%.*s: a "
                 "primary-key column is excluded",
                 chg->file, (unsigned long long)chg->pos, (int)chg->db_len,
                 chg->db, (int)chg->table_len, chg->table);
        return SL_EINVAL;
    }
    uint64_t key_hash = svc->route.mode == SL_ROUTE_KEY ? chg->key_hash : 0;
    if ((err = sl__svc_publish_to(
             svc, chg->db, chg->db_len, chg->table, chg->table_len, key_hash,
             chg->json, chg->json_len, 1, chg->key, chg->key_len)) != 0)
        return err;
    uint64_t *count =
        sl_strmap_get(&svc->part_rows, svc->part.data, svc->part.len);
    if (count == NULL) {
        if ((count = calloc(1, sizeof *count)) == NULL ||
            sl_strmap_put(&svc->part_rows, svc->part.data, svc->part.len,
                          count) != 0) {
            free(count);
            return SL_ENOMEM;
        }
    }
    (*count)++;
    return 0;
}

/* Marks the end of the current event as a resume point. */
int sl__svc_boundary_here(sl__svc_t *svc) {
    sl_checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.file, sizeof cp.file, "%s", svc->cur_file);
    cp.pos = svc->cur_end;
    cp.ts = svc->cur_ts;
    snprintf(cp.gtid, sizeof cp.gtid, "%s", svc->last_gtid);
    cp.snap = svc->snap ? sl_snap_cursor(svc->snap) : NULL;
    svc->boundary_done = 1;
    return sl_publish_boundary(svc->pub, &cp);
}

/* A transaction (or a statement outside one) ended with this change. */
static int boundary(sl__svc_t *svc, const sl_change_t *chg) {
    if (chg->gtid[0] != '\0')
        snprintf(svc->last_gtid, sizeof svc->last_gtid, "%s", chg->gtid);
    return sl__svc_boundary_here(svc);
}

void sl__svc_clear_touched(sl__svc_t *svc) {
    sl_strmap_free(&svc->touched);
    sl_strmap_init(&svc->touched);
}

/* The commit event goes to every partition the transaction touched. */
static int publish_commit(sl__svc_t *svc, const sl_change_t *chg) {
    int err = 0;
    if (chg->json_len == 0) /* A format without commit events. */
        sl__svc_clear_touched(svc);
    for (size_t b = 0; b < svc->touched.nbuckets && err == 0; b++)
        for (sl_strmap_node_t *n = svc->touched.buckets[b]; n && err == 0;
             n = n->next)
            err = sl_publish_message(svc->pub, n->key, n->klen, chg->json,
                                     chg->json_len);
    sl__svc_clear_touched(svc);
    return err;
}

static const char *const dml_verbs[] = {"insert",  "update", "delete",
                                        "replace", "load",   "with"};

/* The plain test: the first word after blanks and '('. */
static int starts_with_dml_verb(const char *sql, size_t len) {
    while (len > 0 && (isspace((unsigned char)*sql) || *sql == '(')) {
        sql++;
        len--;
    }
    for (size_t i = 0; i < sizeof dml_verbs / sizeof dml_verbs[0]; i++) {
        size_t n = strlen(dml_verbs[i]);
        if (len > n && strncasecmp(sql, dml_verbs[i], n) == 0 &&
            !isalnum((unsigned char)sql[n]))
            return 1;
    }
    return 0;
}

/* Whether a Query event that is no DDL changes rows (statement-based
 * DML, which carries no rows). Its first word is read with the DDL lexer,
 * so that comments, executable comments and MariaDB's "SET STATEMENT ...
 * FOR" prefix (all logged as written) cannot hide the verb; WITH counts,
 * since a statement starting with it reaches the binlog only when it
 * writes. Text the lexer cannot read falls back to the plain test. */
static int is_dml_statement(const sl__svc_t *svc, const char *sql, size_t len) {
    size_t body = svc->schema ? sl_schema_ddl_body(svc->schema, sql, len) : 0;
    sl_ddl_lexer_t lx;
    sl_ddl_tok_t tok;
    sl_ddl_lex_init(&lx, sql + body, len - body, NULL);
    do {
        if (sl_ddl_lex_next(&lx, &tok) != 0)
            return starts_with_dml_verb(sql + body, len - body);
    } while (tok.type == SL_DDL_TOK_PUNCT && tok.len == 1 &&
             sql[body + tok.off] == '(');
    if (tok.type != SL_DDL_TOK_IDENT)
        return 0;
    for (size_t i = 0; i < sizeof dml_verbs / sizeof dml_verbs[0]; i++)
        if (tok.len == strlen(dml_verbs[i]) &&
            strncasecmp(sql + body + tok.off, dml_verbs[i], tok.len) == 0)
            return 1;
    return 0;
}

int sl__svc_want_table(void *ctx, const char *db, const char *table) {
    sl__svc_t *svc = ctx;
    return sl_filter_table(svc->filter, db, strlen(db), table, strlen(table));
}

int sl__svc_on_change(void *ctx, const sl_change_t *chg) {
    sl__svc_t *svc = ctx;
    int err = 0;
    switch (chg->kind) {
    case SL_CHANGE_UNKNOWN:
    case SL_CHANGE_SNAPSHOT_START: /* Never decoded from a binlog. */
    case SL_CHANGE_SNAPSHOT_DONE: return 0;
    case SL_CHANGE_BEGIN:
        svc->in_trx = 1;
        sl__svc_clear_touched(svc);
        return 0;
    case SL_CHANGE_ROW: {
        int consumed = 0;
        if (svc->snap != NULL &&
            ((err = sl_snap_on_row(svc->snap, chg, &consumed, svc->err,
                                   sizeof svc->err)) != 0 ||
             consumed))
            return err;
        if (!sl_filter_table(svc->filter, chg->db, chg->db_len, chg->table,
                             chg->table_len)) {
            svc->filtered++;
            return 0;
        }
        if (chg->positional) {
            /* Publishing "@1", "@2" ... for a captured table would hand
             * consumers rows they cannot map to columns (apply would
             * write them to the wrong ones): stop instead. */
            snprintf(svc->err, sizeof svc->err,
                     "%s:%llu: rows of %.*s.%.*s, which the schema history "
                     "does not know, and the binlog does not name their "
                     "columns (binlog_row_metadata=MINIMAL); refusing to "
                     "publish them with positional names: set "
                     "binlog_row_metadata=FULL on the source, or start "
                     "capture anew (a new --name) so the history loads "
                     "the table",
                     chg->file, (unsigned long long)chg->pos, (int)chg->db_len,
                     chg->db, (int)chg->table_len, chg->table);
            sl_replay_hint(svc->err, sizeof svc->err);
            return SL_EUNSUPPORTED;
        }
        svc->rows++;
        sl_capture_metrics_row(chg);
        return publish_row(svc, chg);
    }
    case SL_CHANGE_COMMIT:
    case SL_CHANGE_ROLLBACK:
    case SL_CHANGE_XA_PREPARE:
        svc->in_trx = 0;
        if ((err = publish_commit(svc, chg)) != 0 ||
            (err = boundary(svc, chg)) != 0)
            return err;
        return svc->snap
                   ? sl_snap_on_commit(svc->snap, svc->schema, svc->cur_file,
                                       svc->cur_end, svc->err, sizeof svc->err)
                   : 0;
    case SL_CHANGE_DDL:
        if ((err = sl__svc_on_ddl(svc, chg)) != 0)
            return err;
        if (svc->drift != NULL)
            sl_driftcheck_ddl(svc->drift, svc->cur_file, svc->cur_end);
        if (!svc->in_trx)
            return boundary(svc, chg);
        return 0;
    case SL_CHANGE_STATEMENT: {
        /* Statement-based DML carries no rows: capturing it would lose
         * them silently, so it stops capture. */
        if (chg->sql != NULL && is_dml_statement(svc, chg->sql, chg->sql_len)) {
            snprintf(svc->err, sizeof svc->err,
                     "%s:%llu: statement-based DML (%.*s); capture needs "
                     "binlog_format=ROW for every change, or rows would be "
                     "lost",
                     chg->file, (unsigned long long)chg->pos,
                     (int)(chg->sql_len < 80 ? chg->sql_len : 80), chg->sql);
            return SL_EUNSUPPORTED;
        }
        if (!svc->in_trx)
            return boundary(svc, chg);
        return 0;
    }
    }
    return 0;
}
