/*
 * Helpers shared by the schema history's unit tests
 * (test_capture_schema.c, test_capture_ddl_grammar.c): a table rendered
 * as one comparable line, and statements applied or expected to fail.
 * Everything is static inline so each test file includes its own copy.
 */
#ifndef SL_TEST_CAPTURE_SCHEMA_H
#define SL_TEST_CAPTURE_SCHEMA_H

#include "capture/schema/schema.h"
#include "error.h"
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

/* Renders a table as "name:column_type[/data_type][:cs=x][:v=a|b][:nn]
 * [:pk=N]" per column, comma-separated; data_type is shown only when it
 * is not column_type's first word; unsigned must agree with column_type. */
static inline const char *render(const sl_schema_t *s, const char *db,
                                 const char *table) {
    static char out[4096];
    const sl_schema_table_t *t =
        sl_schema_find(s, db, strlen(db), table, strlen(table));
    if (t == NULL)
        return "(missing)";
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->ncols; i++) {
        const sl_schema_col_t *c = &t->cols[i];
        size_t w = strcspn(c->column_type, "( ");
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s", i ? "," : "",
                              c->name, c->column_type);
        if (strlen(c->data_type) != w ||
            strncmp(c->data_type, c->column_type, w) != 0)
            o += (size_t)snprintf(out + o, sizeof out - o, "/%s", c->data_type);
        if (c->is_unsigned != (strstr(c->column_type, "unsigned") != NULL))
            o += (size_t)snprintf(out + o, sizeof out - o, ":BADUNSIGNED");
        if (c->is_pk != (c->pk_seq > 0))
            o += (size_t)snprintf(out + o, sizeof out - o, ":BADPK");
        if (c->charset)
            o +=
                (size_t)snprintf(out + o, sizeof out - o, ":cs=%s", c->charset);
        for (size_t v = 0; v < c->nvalues; v++)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s",
                                  v ? "|" : ":v=", c->values[v]);
        if (!c->nullable)
            o += (size_t)snprintf(out + o, sizeof out - o, ":nn");
        if (c->pk_seq)
            o += (size_t)snprintf(out + o, sizeof out - o, ":pk=%d", c->pk_seq);
        if (o >= sizeof out)
            break;
    }
    return out;
}

static inline void apply_ok(sl_schema_t *s, const char *db, const char *sql,
                            int line) {
    char err[256];
    sl_ddl_effect_t eff;
    int rc =
        sl_schema_apply_ddl(s, db, sql, strlen(sql), &eff, err, sizeof err);
    sl_ddl_effect_free(&eff);
    if (rc != 0)
        sl_test_fail(__FILE__, line, "%s: %s (%s)", sql, sl_errname(rc), err);
}
#define APPLY(s, db, sql) apply_ok(s, db, sql, __LINE__)

static inline sl_schema_t *new_schema(void) {
    sl_schema_t *s = NULL;
    SL_CHECK_OK(sl_schema_new(&s));
    /* MariaDB 10.11 with the harness's character_set_server. */
    SL_CHECK_OK(sl_schema_set_server(s, 1, 101119, "latin1"));
    return s;
}

static inline void expect_fail(sl_schema_t *s, const char *db, const char *sql,
                               int want_rc, const char *tables,
                               const char *errpart, int line) {
    char err[256];
    char names[512] = "";
    size_t o = 0;
    sl_ddl_effect_t eff;
    int rc =
        sl_schema_apply_ddl(s, db, sql, strlen(sql), &eff, err, sizeof err);
    for (size_t i = 0; i < eff.ntables; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s.%s",
                              i ? "," : "", eff.tables[i].db,
                              eff.tables[i].table);
    sl_ddl_effect_free(&eff);
    if (rc != want_rc || strcmp(names, tables) != 0 ||
        strstr(err, errpart) == NULL)
        sl_test_fail(__FILE__, line, "%s: rc %s tables '%s' err '%s'", sql,
                     sl_errname(rc), names, err);
}
#define FAILS(s, db, sql, rc, tables, errpart)                                 \
    expect_fail(s, db, sql, rc, tables, errpart, __LINE__)

#endif
