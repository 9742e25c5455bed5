/*
 * ALTER TABLE for the DDL parser (ddl_int.h): each specification in
 * order becomes an action of sl_ddl_stmt_t (ddl.h); capture/schema/alter.c
 * then applies them with the servers' name resolution.
 */
#include "ddl_int.h"

#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ALTER TABLE -------------------------------------------------------- */

sl_ddl_action_t *sl__ddl_new_act(sl__ddl_parser_t *p, sl_ddl_act_kind_t kind) {
    sl_ddl_stmt_t *st = p->st;
    sl_ddl_action_t *a = realloc(st->acts, (st->nacts + 1) * sizeof *a);
    if (a == NULL) {
        sl__ddl_fail(p, SL_ENOMEM, "out of memory");
        return NULL;
    }
    st->acts = a;
    a = &st->acts[st->nacts++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->col.length = -1;
    return a;
}

static int parse_position(sl__ddl_parser_t *p, sl_ddl_action_t *a) {
    if (sl__ddl_accept_kw(p, "FIRST")) {
        a->pos = SL_DDL_POS_FIRST;
    } else if (sl__ddl_accept_kw(p, "AFTER")) {
        a->pos = SL_DDL_POS_AFTER;
        a->after = sl__ddl_parse_ident(p);
    }
    return p->rc;
}

/* A column definition's inline UNIQUE: a unique key on the column as
 * named after the specification, added after it. a is the last action
 * (moved by the push, so read first). */
static int col_unique(sl__ddl_parser_t *p, const sl_ddl_action_t *a) {
    if (!a->col.unique || a->col.name == NULL)
        return p->rc;
    char *name = strdup(a->col.name);
    if (name == NULL)
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    int rc = sl__ddl_push_col_unique(p, name);
    free(name);
    return rc;
}

static int is_partition_op(const sl__ddl_parser_t *p) {
    static const char *const ops[] = {
        "COALESCE", "REORGANIZE", "EXCHANGE", "ANALYZE", "CHECK", "OPTIMIZE",
        "REBUILD",  "REPAIR",     "TRUNCATE", "DISCARD", "IMPORT"};
    if ((sl__ddl_kw(p, "PARTITION") && sl__ddl_peek_kw(p, "BY")) ||
        sl__ddl_kw(p, "REMOVE") || sl__ddl_kw(p, "UPGRADE"))
        return 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (sl__ddl_kw(p, ops[i]) && sl__ddl_peek_kw(p, "PARTITION"))
            return 1;
    return 0;
}

/* ALTER TABLE ADD of an index definition, if one follows: a PRIMARY KEY
 * becomes an ADD_PK action, other indexes are skipped. Returns 1 when an
 * index was read (p->rc tells whether it parsed), else 0. */
static int parse_add_index(sl__ddl_parser_t *p) {
    char **pk = NULL;
    size_t npk = 0;
    int has_pk = 0;
    int r = sl__ddl_parse_index_elem(p, &pk, &npk, &has_pk);
    if (has_pk && p->rc == 0) {
        sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_PK);
        if (a) {
            a->if_exists = has_pk == 2;
            a->names = pk;
            a->nnames = npk;
            pk = NULL;
            npk = 0;
        }
    }
    for (size_t i = 0; i < npk; i++)
        free(pk[i]);
    free(pk);
    return r;
}

/* SYSTEM VERSIONING after ADD or DROP (MariaDB): the action kind.
 * Returns 1 when consumed. */
static int accept_system_versioning(sl__ddl_parser_t *p,
                                    sl_ddl_act_kind_t kind) {
    if (!sl__ddl_kw(p, "SYSTEM") || !sl__ddl_peek_kw(p, "VERSIONING"))
        return 0;
    sl__ddl_advance(p);
    sl__ddl_advance(p);
    sl__ddl_new_act(p, kind);
    return 1;
}

static int parse_alter_add(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    if (sl__ddl_kw(p, "PARTITION")) {
        sl__ddl_skip_to_end(p);
        return p->rc;
    }
    if (accept_system_versioning(p, SL_DDL_ACT_ADD_VERSIONING))
        return p->rc;
    int explicit_column = sl__ddl_accept_kw(p, "COLUMN");
    int ine = sl__ddl_parse_if_not_exists(p);
    if (!explicit_column && !ine) {
        if (parse_add_index(p))
            return p->rc;
    } else if (sl__ddl_kw(p, "PRIMARY") || sl__ddl_kw(p, "UNIQUE") ||
               sl__ddl_kw(p, "INDEX") || sl__ddl_kw(p, "KEY") ||
               sl__ddl_kw(p, "FULLTEXT") || sl__ddl_kw(p, "SPATIAL") ||
               sl__ddl_kw(p, "FOREIGN") || sl__ddl_kw(p, "CONSTRAINT")) {
        /* ADD INDEX IF NOT EXISTS is parsed as an index (MariaDB). */
        parse_add_index(p);
        return p->rc;
    }
    (void)st;
    if (sl__ddl_accept_punct(p, '(')) {
        for (;;) {
            /* (a INT, INDEX (a)) is allowed too. */
            if (!parse_add_index(p)) {
                sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_COLUMN);
                if (a == NULL)
                    return p->rc;
                a->if_exists = ine;
                if (sl__ddl_parse_coldef(p, &a->col) != 0 ||
                    col_unique(p, a) != 0)
                    return p->rc;
            }
            if (p->rc || !sl__ddl_accept_punct(p, ','))
                break;
        }
        return sl__ddl_expect_punct(p, ')');
    }
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_ADD_COLUMN);
    if (a == NULL)
        return p->rc;
    a->if_exists = ine;
    if (sl__ddl_parse_coldef(p, &a->col) != 0 || parse_position(p, a) != 0)
        return p->rc;
    return col_unique(p, a);
}

static int parse_alter_drop(sl__ddl_parser_t *p) {
    if (sl__ddl_kw(p, "PRIMARY")) {
        sl__ddl_advance(p);
        if (sl__ddl_expect_kw(p, "KEY") == 0)
            sl__ddl_new_act(p, SL_DDL_ACT_DROP_PK);
        return p->rc;
    }
    if (sl__ddl_kw(p, "PARTITION")) {
        sl__ddl_skip_to_end(p);
        return p->rc;
    }
    if (accept_system_versioning(p, SL_DDL_ACT_DROP_VERSIONING))
        return p->rc;
    if (sl__ddl_kw(p, "INDEX") || sl__ddl_kw(p, "KEY") ||
        sl__ddl_kw(p, "CONSTRAINT") || sl__ddl_kw(p, "CHECK") ||
        (sl__ddl_kw(p, "FOREIGN") && sl__ddl_peek_kw(p, "KEY"))) {
        int is_index = sl__ddl_kw(p, "INDEX") || sl__ddl_kw(p, "KEY") ||
                       sl__ddl_kw(p, "CONSTRAINT");
        if (sl__ddl_accept_kw(p, "FOREIGN"))
            is_index = 0;
        sl__ddl_advance(p);
        int ie = sl__ddl_parse_if_exists(p);
        char *name = sl__ddl_parse_ident(p);
        if (name && is_index && sl_ddl_word_eq(name, strlen(name), "PRIMARY")) {
            sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_DROP_PK);
            if (a)
                a->if_exists = ie;
        } else if (name && is_index) {
            /* DROP CONSTRAINT c drops a UNIQUE key named c as well. */
            sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_DROP_INDEX);
            if (a) {
                a->if_exists = ie;
                a->name = name;
                name = NULL;
            }
        }
        free(name);
        return p->rc;
    }
    if (sl__ddl_kw(p, "PERIOD") &&
        (sl__ddl_peek_kw(p, "FOR") || sl__ddl_peek_kw(p, "IF"))) {
        sl__ddl_advance(p);
        sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_DROP_PERIOD);
        if (a == NULL)
            return p->rc;
        a->if_exists = sl__ddl_parse_if_exists(p);
        if (sl__ddl_expect_kw(p, "FOR") == 0)
            a->name = sl__ddl_parse_ident(p);
        return p->rc;
    }
    sl__ddl_accept_kw(p, "COLUMN");
    sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_DROP_COLUMN);
    if (a == NULL)
        return p->rc;
    a->if_exists = sl__ddl_parse_if_exists(p);
    a->name = sl__ddl_parse_field_ident(p);
    if (!sl__ddl_accept_kw(p, "RESTRICT"))
        sl__ddl_accept_kw(p, "CASCADE");
    return p->rc;
}

/* ALTER [COLUMN] c SET DEFAULT ... / DROP DEFAULT / SET [IN]VISIBLE, and
 * ALTER INDEX / CHECK / CONSTRAINT: none changes the row image. */
static int parse_alter_alter(sl__ddl_parser_t *p) {
    if (sl__ddl_accept_kw(p, "INDEX") || sl__ddl_accept_kw(p, "KEY")) {
        free(sl__ddl_parse_ident(p));
        if (sl__ddl_kw(p, "NOT"))
            sl__ddl_advance(p);
        sl__ddl_advance(p); /* VISIBLE, INVISIBLE, IGNORED */
        return p->rc;
    }
    if (sl__ddl_accept_kw(p, "CHECK") || sl__ddl_accept_kw(p, "CONSTRAINT")) {
        free(sl__ddl_parse_ident(p));
        if (sl__ddl_kw(p, "NOT"))
            sl__ddl_advance(p);
        return sl__ddl_expect_kw(p, "ENFORCED");
    }
    sl__ddl_accept_kw(p, "COLUMN");
    sl__ddl_parse_if_exists(p);
    free(sl__ddl_parse_ident(p));
    if (p->rc)
        return p->rc;
    if (sl__ddl_accept_kw(p, "SET")) {
        if (sl__ddl_accept_kw(p, "DEFAULT"))
            return sl__ddl_skip_value_expr(p);
        if (sl__ddl_accept_kw(p, "VISIBLE") ||
            sl__ddl_accept_kw(p, "INVISIBLE"))
            return p->rc;
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected DEFAULT or VISIBLE");
    }
    if (sl__ddl_accept_kw(p, "DROP"))
        return sl__ddl_expect_kw(p, "DEFAULT");
    return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected SET or DROP");
}

/* Reads the other table an action names (RENAME TO, CONVERT) into
 * a->db/a->table and records a copy in stmt->tables. */
static int act_table_name(sl__ddl_parser_t *p, sl_ddl_action_t *a) {
    if (sl__ddl_parse_table_name(p, &a->db, &a->table) != 0)
        return p->rc;
    char *db = a->db ? strdup(a->db) : NULL, *t = strdup(a->table);
    if ((a->db && db == NULL) || t == NULL) {
        free(db);
        free(t);
        return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
    }
    return sl__ddl_push_name(p, db, t);
}

/* MariaDB 10.7+, after CONVERT: PARTITION p TO TABLE t makes table t of
 * the partition (the table's definition); TABLE t TO PARTITION p ...
 * makes table t a partition (t is gone). Both record t in stmt->tables
 * after the altered table. */
static int parse_convert_partition(sl__ddl_parser_t *p) {
    int to_table = sl__ddl_accept_kw(p, "PARTITION");
    sl_ddl_action_t *a =
        sl__ddl_new_act(p, to_table ? SL_DDL_ACT_PARTITION_TO_TABLE
                                    : SL_DDL_ACT_TABLE_TO_PARTITION);
    if (a == NULL)
        return p->rc;
    if (to_table) {
        sl__ddl_parse_if_not_exists(p);
        free(sl__ddl_parse_ident(p)); /* The partition. */
        if (sl__ddl_expect_kw(p, "TO") != 0 ||
            sl__ddl_expect_kw(p, "TABLE") != 0)
            return p->rc;
    } else {
        sl__ddl_expect_kw(p, "TABLE");
    }
    if (act_table_name(p, a) != 0 || to_table)
        return p->rc;
    /* TO PARTITION p VALUES ... [WITH|WITHOUT VALIDATION]: no column. */
    sl__ddl_skip_to_end(p);
    return p->rc;
}

static int is_spec_head(const sl__ddl_parser_t *p) {
    static const char *const heads[] = {
        "ADD",     "DROP",    "MODIFY",    "CHANGE",  "RENAME",  "ALTER",
        "CONVERT", "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "ENABLE",
        "DISABLE", "ORDER",   "WITH",      "WITHOUT", "FORCE"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (sl__ddl_kw(p, heads[i]))
            return 1;
    return sl__ddl_is_table_option(p);
}

/* Whether the specification at hand makes the server rebuild the
 * table's definition (sl_ddl_stmt_t.rebuild): not RENAME [TO|AS] t nor
 * ENABLE/DISABLE KEYS; not known for partition and tablespace
 * operations (2). */
static int spec_rebuild(const sl__ddl_parser_t *p) {
    if (sl__ddl_kw(p, "RENAME"))
        return sl__ddl_peek_kw(p, "COLUMN") || sl__ddl_peek_kw(p, "INDEX") ||
               sl__ddl_peek_kw(p, "KEY");
    if (sl__ddl_kw(p, "ENABLE") || sl__ddl_kw(p, "DISABLE"))
        return 0;
    if (is_partition_op(p) || sl__ddl_kw(p, "DISCARD") ||
        sl__ddl_kw(p, "IMPORT") ||
        (sl__ddl_kw(p, "CONVERT") && !sl__ddl_peek_kw(p, "TO")) ||
        (sl__ddl_kw(p, "ADD") && sl__ddl_peek_kw(p, "PARTITION")) ||
        (sl__ddl_kw(p, "DROP") && sl__ddl_peek_kw(p, "PARTITION")))
        return 2;
    return 1;
}

static int parse_alter_spec(sl__ddl_parser_t *p) {
    if (is_partition_op(p)) {
        sl__ddl_skip_to_end(p);
        return p->rc;
    }
    if (sl__ddl_accept_kw(p, "ADD"))
        return parse_alter_add(p);
    if (sl__ddl_accept_kw(p, "DROP"))
        return parse_alter_drop(p);
    if (sl__ddl_kw(p, "MODIFY") || sl__ddl_kw(p, "CHANGE")) {
        int change = sl__ddl_kw(p, "CHANGE");
        sl__ddl_advance(p);
        sl__ddl_accept_kw(p, "COLUMN");
        sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_MODIFY_COLUMN);
        if (a == NULL)
            return p->rc;
        a->if_exists = sl__ddl_parse_if_exists(p);
        if (change) {
            a->name = sl__ddl_parse_field_ident(p);
            if (a->name == NULL)
                return p->rc;
        }
        if (sl__ddl_parse_coldef(p, &a->col) != 0)
            return p->rc;
        if (!change) {
            a->name = strdup(a->col.name);
            if (a->name == NULL)
                return sl__ddl_fail(p, SL_ENOMEM, "out of memory");
        }
        if (parse_position(p, a) != 0)
            return p->rc;
        return col_unique(p, a);
    }
    if (sl__ddl_accept_kw(p, "RENAME")) {
        if (sl__ddl_accept_kw(p, "COLUMN")) {
            sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_RENAME_COLUMN);
            if (a == NULL)
                return p->rc;
            a->if_exists = sl__ddl_parse_if_exists(p);
            a->name = sl__ddl_parse_ident(p);
            if (sl__ddl_expect_kw(p, "TO") != 0)
                return p->rc;
            a->name2 = sl__ddl_parse_ident(p);
            return p->rc;
        }
        if (sl__ddl_accept_kw(p, "INDEX") || sl__ddl_accept_kw(p, "KEY")) {
            sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_RENAME_INDEX);
            if (a == NULL)
                return p->rc;
            a->if_exists = sl__ddl_parse_if_exists(p);
            a->name = sl__ddl_parse_ident(p);
            if (sl__ddl_expect_kw(p, "TO") == 0)
                a->name2 = sl__ddl_parse_ident(p);
            return p->rc;
        }
        if (!sl__ddl_accept_kw(p, "TO"))
            sl__ddl_accept_kw(p, "AS");
        sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_RENAME_TABLE);
        if (a == NULL)
            return p->rc;
        return act_table_name(p, a);
    }
    if (sl__ddl_accept_kw(p, "ALTER"))
        return parse_alter_alter(p);
    if (sl__ddl_accept_kw(p, "CONVERT")) {
        if (sl__ddl_kw(p, "PARTITION") || sl__ddl_kw(p, "TABLE"))
            return parse_convert_partition(p);
        if (sl__ddl_expect_kw(p, "TO") != 0)
            return p->rc;
        sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_CONVERT_CHARSET);
        if (a == NULL)
            return p->rc;
        if (!sl__ddl_parse_charset_option(p, &a->charset, &a->collation))
            return sl__ddl_fail(p, SL_EUNSUPPORTED, "expected CHARACTER SET");
        if (p->rc == 0 && sl__ddl_kw(p, "COLLATE"))
            sl__ddl_parse_charset_option(p, &a->charset, &a->collation);
        return p->rc;
    }
    {
        char *cs = NULL, *coll = NULL;
        if (sl__ddl_parse_charset_option(p, &cs, &coll)) {
            sl_ddl_action_t *a = sl__ddl_new_act(p, SL_DDL_ACT_TABLE_CHARSET);
            if (a == NULL) {
                free(cs);
                free(coll);
                return p->rc;
            }
            a->charset = cs;
            a->collation = coll;
            return p->rc;
        }
    }
    if (sl__ddl_accept_kw(p, "ENABLE") || sl__ddl_accept_kw(p, "DISABLE"))
        return sl__ddl_expect_kw(p, "KEYS");
    if ((sl__ddl_kw(p, "DISCARD") || sl__ddl_kw(p, "IMPORT")) &&
        sl__ddl_peek_kw(p, "TABLESPACE")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        return p->rc;
    }
    if (sl__ddl_accept_kw(p, "ORDER")) {
        if (sl__ddl_expect_kw(p, "BY") != 0)
            return p->rc;
        for (int guard = 0; guard < 4096; guard++) {
            free(sl__ddl_parse_field_ident(p)); /* t.a as well */
            if (!sl__ddl_accept_kw(p, "ASC"))
                sl__ddl_accept_kw(p, "DESC");
            if (!sl__ddl_punct(p, ','))
                break;
            sl_ddl_lexer_t save = p->lx;
            sl_ddl_tok_t savetok = p->tok;
            sl__ddl_advance(p);
            if (p->tok.type == SL_DDL_TOK_QIDENT ||
                (p->tok.type == SL_DDL_TOK_IDENT && !is_spec_head(p) &&
                 !is_partition_op(p)))
                continue;
            p->lx = save;
            p->tok = savetok;
            break;
        }
        return p->rc;
    }
    if ((sl__ddl_kw(p, "WITH") || sl__ddl_kw(p, "WITHOUT")) &&
        sl__ddl_peek_kw(p, "VALIDATION")) {
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        return p->rc;
    }
    if (sl__ddl_kw(p, "WITH") && sl__ddl_peek_kw(p, "SYSTEM")) {
        /* ALTER TABLE t WITH SYSTEM VERSIONING = ADD SYSTEM VERSIONING. */
        sl__ddl_advance(p);
        sl__ddl_advance(p);
        if (sl__ddl_expect_kw(p, "VERSIONING") == 0)
            sl__ddl_new_act(p, SL_DDL_ACT_ADD_VERSIONING);
        return p->rc;
    }
    if (sl__ddl_accept_kw(p, "SECONDARY_LOAD") ||
        sl__ddl_accept_kw(p, "SECONDARY_UNLOAD"))
        return p->rc;
    if (sl__ddl_skip_table_option(p))
        return p->rc;
    return sl__ddl_fail(p, SL_EUNSUPPORTED,
                        "unknown ALTER TABLE specification");
}

int sl__ddl_parse_alter_table(sl__ddl_parser_t *p) {
    sl_ddl_stmt_t *st = p->st;
    st->kind = SL_DDL_ALTER_TABLE;
    int ie = sl__ddl_parse_if_exists(p);
    if (sl__ddl_table_ref(p) != 0)
        return p->rc;
    st->tables[0].if_exists = ie;
    sl__ddl_skip_wait(p);
    for (int guard = 0; guard < 100000 && !sl__ddl_at_end(p); guard++) {
        while (sl__ddl_accept_punct(p, ','))
            ;
        if (sl__ddl_at_end(p) || sl__ddl_accept_punct(p, ';'))
            break;
        int r = spec_rebuild(p);
        st->rebuild = r == 1 || st->rebuild == 1 ? 1
                      : r > st->rebuild          ? r
                                                 : st->rebuild;
        if (parse_alter_spec(p) != 0)
            return p->rc;
    }
    if (!sl__ddl_at_end(p))
        return sl__ddl_fail(p, SL_EUNSUPPORTED, "unexpected text");
    return p->rc;
}
