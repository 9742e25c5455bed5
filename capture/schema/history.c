/* Schema history persistence; the record format is in history.h. */
#include "history.h"

#include "error.h"
#include "json.h"
#include "jsonread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_coords(sl_json_t *json, const char *type, const char *file,
                       uint64_t pos) {
    sl_json_key(json, "type");
    sl_json_str(json, type);
    sl_json_key(json, "file");
    sl_json_str(json, file);
    sl_json_key(json, "pos");
    sl_json_uint(json, pos);
}

int sl_history_snapshot_record(const sl_schema_t *schema, const char *file,
                               uint64_t pos, sl_buf_t *out) {
    sl_buf_t doc = SL_BUF_INIT;
    int err = sl_schema_to_json(schema, &doc);
    if (err == 0) {
        sl_json_t json;
        sl_json_init(&json, out);
        sl_json_obj_begin(&json);
        put_coords(&json, "snapshot", file, pos);
        sl_json_key(&json, "schema");
        sl_json_raw(&json, (const char *)doc.data, doc.len);
        sl_json_obj_end(&json);
        err = sl_json_error(&json);
    }
    sl_buf_free(&doc);
    return err;
}

int sl_history_ddl_record(const char *file, uint64_t pos, const char *db,
                          size_t db_len, const char *sql, size_t sql_len,
                          uint64_t sql_mode, sl_buf_t *out) {
    sl_json_t json;
    sl_json_init(&json, out);
    sl_json_obj_begin(&json);
    put_coords(&json, "ddl", file, pos);
    sl_json_key(&json, "db");
    if (db != NULL)
        sl_json_strn(&json, db, db_len);
    else
        sl_json_null(&json);
    sl_json_key(&json, "sql");
    sl_json_strn(&json, sql, sql_len);
    sl_json_key(&json, "sql_mode");
    sl_json_uint(&json, sql_mode);
    sl_json_obj_end(&json);
    return sl_json_error(&json);
}

int sl_history_cmp(const char *file_a, uint64_t pos_a, const char *file_b,
                   uint64_t pos_b) {
    size_t la = strlen(file_a), lb = strlen(file_b);
    int c = la != lb ? (la < lb ? -1 : 1) : strcmp(file_a, file_b);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return pos_a < pos_b ? -1 : pos_a > pos_b;
}

int sl_history_loader_init(sl_history_loader_t *ld, const char *until_file,
                           uint64_t until_pos) {
    memset(ld, 0, sizeof *ld);
    ld->until_file = until_file;
    ld->until_pos = until_pos;
    return sl_schema_new(&ld->schema);
}

void sl_history_loader_free(sl_history_loader_t *ld) {
    sl_schema_free(ld->schema);
    ld->schema = NULL;
}

static int get_string(sl_jr_doc_t *doc, uint32_t obj, const char *name,
                      sl_buf_t *out) {
    uint32_t tok = sl_jr_get(doc, obj, name);
    if (tok == SL_JR_NONE || sl_jr_type(doc, tok) != SL_JR_STRING)
        return SL_ECORRUPT;
    sl_buf_reset(out);
    int err = sl_jr_unescape(doc, tok, out);
    if (err == 0)
        err = sl_buf_append_u8(out, '\0');
    return err;
}

int sl_history_loader_feed(sl_history_loader_t *ld, const uint8_t *data,
                           size_t len) {
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    sl_buf_t type = SL_BUF_INIT, file = SL_BUF_INIT, text = SL_BUF_INIT,
             db = SL_BUF_INIT;
    uint64_t pos = 0;
    int err = sl_jr_parse(&doc, (const char *)data, len);
    if (err == 0 && sl_jr_type(&doc, 0) != SL_JR_OBJECT)
        err = SL_ECORRUPT;
    if (err == 0)
        err = get_string(&doc, 0, "type", &type);
    if (err == 0)
        err = get_string(&doc, 0, "file", &file);
    if (err == 0)
        err = sl_jr_u64(&doc, sl_jr_get(&doc, 0, "pos"), &pos);
    if (err != 0) {
        snprintf(ld->err, sizeof ld->err, "unreadable schema history record");
        goto out;
    }
    const char *fname = (const char *)file.data;
    /* Past the resume point: the replay will meet it again. A snapshot
     * at the resume point itself is the history there (one written at a
     * first start, whose checkpoint may be that very position). */
    int past = sl_history_cmp(fname, pos, ld->until_file, ld->until_pos);
    if (past > 0 ||
        (past == 0 && strcmp((const char *)type.data, "snapshot") != 0))
        goto out;
    /* Already applied (a record written again after a restart). At one
     * position a snapshot comes before a DDL: the snapshot is the history
     * in force there, before the event that starts there, and the DDL is
     * that event. A restart at a checkpoint where a DDL event starts (no
     * GTID event before it: binlogs without them, or a --start at the
     * statement) records its snapshot there, then the replay the DDL:
     * both apply, in that order. A snapshot after a DDL at its position
     * is older than the DDL (a restart after a crash that came before the
     * checkpoint following the DDL) and is passed over. */
    int is_ddl = strcmp((const char *)type.data, "ddl") == 0;
    if (ld->last_file[0] != '\0') {
        int c = sl_history_cmp(fname, pos, ld->last_file, ld->last_pos);
        if (c < 0 || (c == 0 && (ld->last_ddl || !is_ddl)))
            goto out;
    }
    if (strcmp((const char *)type.data, "snapshot") == 0) {
        uint32_t tok = sl_jr_get(&doc, 0, "schema");
        size_t slen;
        const char *raw =
            tok != SL_JR_NONE ? sl_jr_raw(&doc, tok, &slen) : NULL;
        sl_schema_t *fresh = NULL;
        if (raw == NULL || (err = sl_schema_new(&fresh)) != 0 ||
            (err = sl_schema_from_json(fresh, raw, slen, ld->err,
                                       sizeof ld->err)) != 0) {
            sl_schema_free(fresh);
            if (raw == NULL)
                snprintf(ld->err, sizeof ld->err,
                         "snapshot record without a schema");
            err = err ? err : SL_ECORRUPT;
            goto out;
        }
        sl_schema_free(ld->schema);
        ld->schema = fresh;
        ld->have_snapshot = 1;
    } else if (strcmp((const char *)type.data, "ddl") == 0) {
        uint64_t sql_mode = 0;
        uint32_t dbtok = sl_jr_get(&doc, 0, "db");
        int has_db =
            dbtok != SL_JR_NONE && sl_jr_type(&doc, dbtok) == SL_JR_STRING;
        if ((err = get_string(&doc, 0, "sql", &text)) != 0 ||
            (has_db && (err = get_string(&doc, 0, "db", &db)) != 0) ||
            (err = sl_jr_u64(&doc, sl_jr_get(&doc, 0, "sql_mode"),
                             &sql_mode)) != 0) {
            snprintf(ld->err, sizeof ld->err, "unreadable DDL record");
            goto out;
        }
        sl_schema_set_sql_mode(ld->schema, sql_mode);
        const char *dbname = has_db ? (const char *)db.data : NULL;
        const char *sql = (const char *)text.data;
        size_t body = sl_schema_ddl_body(ld->schema, sql, text.len - 1);
        err = sl_schema_apply_ddl(ld->schema, dbname, sql + body,
                                  text.len - 1 - body, NULL, ld->err,
                                  sizeof ld->err);
        /* A statement capture let through (every table it may affect
         * filtered out) is let through again, and the history forgets the
         * same tables as it did live (sl_schema_ddl_unreadable). */
        if (err == SL_EUNSUPPORTED) {
            err = sl_schema_ddl_unreadable(ld->schema, dbname, sql + body,
                                           text.len - 1 - body, NULL, ld->err,
                                           sizeof ld->err);
            if (err == SL_EUNSUPPORTED)
                err = 0;
        }
        if (err != 0)
            goto out;
        ld->applied++;
    } else {
        snprintf(ld->err, sizeof ld->err, "unknown record type '%s'",
                 (const char *)type.data);
        err = SL_ECORRUPT;
        goto out;
    }
    snprintf(ld->last_file, sizeof ld->last_file, "%s", fname);
    ld->last_pos = pos;
    ld->last_ddl = is_ddl;
out:
    sl_jr_free(&doc);
    sl_buf_free(&type);
    sl_buf_free(&file);
    sl_buf_free(&text);
    sl_buf_free(&db);
    /* One code for every record that cannot be used, as history.h says
     * (a missing sql_mode gave SL_EINVAL; found by fuzz_capture_history). */
    return err == 0 || err == SL_ENOMEM ? err : SL_ECORRUPT;
}
