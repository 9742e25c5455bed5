/*
 * Indexes of the schema history, for MariaDB's hash UNIQUE keys.
 *
 * MariaDB 10.4+ keeps some UNIQUE keys as a hash of the key's columns in
 * a hidden column DB_ROW_HASH_n (bigint unsigned, nullable). Row images
 * carry these columns after every other column (after the hidden
 * row_start/row_end of a system-versioned table too), information_schema
 * .COLUMNS does not list them, and STATISTICS shows the key with
 * INDEX_TYPE 'HASH'. The rules below were checked on MariaDB 10.11 by
 * reading what its binlog carries (tests/integration/capture_hash_unique.c
 * repeats each):
 *
 *  - A UNIQUE key is a hash when a part is a BLOB/TEXT (also JSON and
 *    geometry) column without a prefix length; when a part is longer than
 *    the engine's key part limit or the whole key longer than its key
 *    limit (bytes: characters times the charset's bytes per character;
 *    InnoDB 3072 and 3072, MyISAM 1000 and 1000; varchar(768) utf8mb4 is
 *    a B-tree in InnoDB, varchar(769) a hash); or when it is declared
 *    USING HASH. MEMORY has no hash keys (USING HASH is its own index
 *    type there). Aria, with its default 8 KiB aria_block_size, indexes
 *    2300 bytes and refuses every longer or hash key ("Specified key was
 *    too long; max key length is 2300 bytes", a blob's too), so only a
 *    larger block size lets such a table exist: a longer key there is
 *    MAYBE. Other index kinds never get a hash.
 *  - USING HASH on a key that needs no hash lasts only until the server
 *    next rebuilds the table's definition: any ALTER TABLE but RENAME and
 *    ENABLE/DISABLE KEYS, CREATE INDEX and DROP INDEX (run as ALTERs),
 *    and CREATE TABLE ... LIKE all turn such a key into a B-tree and drop
 *    its column. (OPTIMIZE TABLE on InnoDB does too; the history does not
 *    follow OPTIMIZE, see docs/schema-history.md.)
 *  - The columns are numbered 1, 2, ... in position order, renumbered at
 *    each rebuild (a DROP INDEX of the first leaves DB_ROW_HASH_1), so a
 *    column's name depends only on how many there are; a number taken by
 *    a user column is skipped.
 *  - An unnamed key takes its first column's name, or name_2, name_3...
 *    when an index of that name exists.
 *
 * When the engine is not known (a CREATE TABLE without ENGINE= uses the
 * session's default_storage_engine, which the binlog does not carry) and
 * the decision depends on it, the key's hash is MAYBE: the table then
 * holds its column as one of the last hash_maybe columns, and the row
 * event's own column count decides (the decoder accepts either count;
 * every such column is bigint unsigned and named by position, so either
 * way each decoded column is right). Never a guess: a wrong count stops
 * capture with the decoder's column-count error.
 */
#include "internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HASH_PREFIX "DB_ROW_HASH_"

void sl__schema_key_free(sl_schema_key_t *k) {
    free(k->name);
    for (size_t i = 0; i < k->nparts; i++)
        free(k->parts[i]);
    free(k->parts);
    free(k->prefix);
    memset(k, 0, sizeof *k);
}

int sl__schema_key_copy(sl_schema_key_t *d, const sl_schema_key_t *k) {
    int oom = 0;
    memset(d, 0, sizeof *d);
    d->name = sl__schema_dup_or_null(k->name, &oom);
    d->unique = k->unique;
    d->hash = k->hash;
    d->using_hash = k->using_hash;
    if (k->nparts) {
        d->parts = calloc(k->nparts, sizeof *d->parts);
        d->prefix = calloc(k->nparts, sizeof *d->prefix);
        if (d->parts == NULL || d->prefix == NULL)
            oom = 1;
        for (size_t i = 0; !oom && i < k->nparts; i++) {
            d->parts[i] = sl__schema_dup_or_null(k->parts[i], &oom);
            d->prefix[i] = k->prefix[i];
            d->nparts = i + 1;
        }
    }
    if (oom) {
        sl__schema_key_free(d);
        return SL_ENOMEM;
    }
    return 0;
}

static int name_eq(const char *a, const char *b) {
    return strcasecmp(a, b) == 0;
}

static ssize_t find_key(const sl_schema_table_t *t, const char *name) {
    for (size_t i = 0; i < t->nkeys; i++)
        if (t->keys[i].name && name_eq(t->keys[i].name, name))
            return (ssize_t)i;
    return -1;
}

static const sl_schema_col_t *find_col(const sl_schema_table_t *t,
                                       const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (t->cols[i].hidden != SL_SCHEMA_HASH_COL &&
            name_eq(t->cols[i].name, name))
            return &t->cols[i];
    return NULL;
}

/* The server's make_unique_key_name(): base, else base_2 ... base_99. */
static char *unique_key_name(const sl_schema_table_t *t, const char *base) {
    size_t n = strlen(base) + 8;
    char *name = malloc(n);
    if (name == NULL)
        return NULL;
    snprintf(name, n, "%s", base);
    if (find_key(t, name) < 0 && !name_eq(name, "PRIMARY"))
        return name;
    for (int i = 2; i < 100; i++) {
        snprintf(name, n, "%s_%d", base, i);
        if (find_key(t, name) < 0)
            return name;
    }
    return name; /* The server refuses the statement then. */
}

int sl__schema_key_add(sl_schema_table_t *t, const sl_ddl_index_t *idx) {
    sl_schema_key_t k;
    memset(&k, 0, sizeof k);
    k.unique = idx->unique;
    k.using_hash = idx->using_hash;
    if (idx->name)
        k.name = strdup(idx->name);
    else
        k.name = unique_key_name(t, idx->nparts ? idx->parts[0]
                                                : "functional_index");
    int oom = k.name == NULL;
    if (!oom && idx->nparts) {
        k.parts = calloc(idx->nparts, sizeof *k.parts);
        k.prefix = calloc(idx->nparts, sizeof *k.prefix);
        oom = k.parts == NULL || k.prefix == NULL;
        for (size_t i = 0; !oom && i < idx->nparts; i++) {
            k.parts[i] = sl__schema_dup_or_null(idx->parts[i], &oom);
            k.prefix[i] = idx->prefix[i];
            k.nparts = i + 1;
        }
    }
    sl_schema_key_t *a =
        oom ? NULL : realloc(t->keys, (t->nkeys + 1) * sizeof *a);
    if (a == NULL) {
        sl__schema_key_free(&k);
        return SL_ENOMEM;
    }
    t->keys = a;
    a[t->nkeys++] = k;
    return 0;
}

static void remove_key(sl_schema_table_t *t, size_t i) {
    sl__schema_key_free(&t->keys[i]);
    memmove(&t->keys[i], &t->keys[i + 1],
            (t->nkeys - i - 1) * sizeof t->keys[0]);
    t->nkeys--;
}

unsigned sl__schema_mbmaxlen(const char *cs) {
    static const struct {
        const char *name;
        unsigned n;
    } m[] = {{"utf8mb4", 4},  {"utf8mb3", 3}, {"utf16", 4},  {"utf16le", 4},
             {"utf32", 4},    {"ucs2", 2},    {"gbk", 2},    {"big5", 2},
             {"sjis", 2},     {"cp932", 2},   {"ujis", 3},   {"eucjpms", 3},
             {"gb2312", 2},   {"gb18030", 4}, {"euckr", 2},  {"latin1", 1},
             {"latin2", 1},   {"latin5", 1},  {"latin7", 1}, {"ascii", 1},
             {"binary", 1},   {"cp1250", 1},  {"cp1251", 1}, {"cp1256", 1},
             {"cp1257", 1},   {"cp850", 1},   {"cp852", 1},  {"cp866", 1},
             {"dec8", 1},     {"greek", 1},   {"hebrew", 1}, {"hp8", 1},
             {"keybcs2", 1},  {"koi8r", 1},   {"koi8u", 1},  {"macce", 1},
             {"macroman", 1}, {"swe7", 1},    {"tis620", 1}, {"armscii8", 1},
             {"geostd8", 1}};
    if (cs == NULL)
        return 1; /* Not a text column. */
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(cs, m[i].name) == 0)
            return m[i].n;
    return 0;
}

static int is_blob_like(const char *dt) {
    static const char *const b[] = {"tinyblob",
                                    "blob",
                                    "mediumblob",
                                    "longblob",
                                    "tinytext",
                                    "text",
                                    "mediumtext",
                                    "longtext",
                                    "json",
                                    "geometry",
                                    "point",
                                    "linestring",
                                    "polygon",
                                    "multipoint",
                                    "multilinestring",
                                    "multipolygon",
                                    "geometrycollection",
                                    "geomcollection",
                                    "vector"};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (strcmp(dt, b[i]) == 0)
            return 1;
    return 0;
}

/* The (n) of column_type, or -1. */
static long long type_len(const char *column_type) {
    const char *p = strchr(column_type, '(');
    return p ? strtoll(p + 1, NULL, 10) : -1;
}

/* Whether the engine is one whose limits are modelled: 3072 (InnoDB),
 * 1000 (MyISAM), or -1 for MEMORY (no hash keys); 0 otherwise. */
static long engine_limit(const char *engine) {
    if (engine == NULL)
        return 0;
    if (strcmp(engine, "innodb") == 0)
        return 3072;
    if (strcmp(engine, "myisam") == 0)
        return 1000;
    if (strcmp(engine, "memory") == 0 || strcmp(engine, "heap") == 0)
        return -1;
    return 0;
}

/* Which server wrote the binlog, for the rules. */
enum { SRV_NONE, SRV_MARIADB, SRV_UNKNOWN };

/* MySQL and MariaDB before 10.4 have no hash keys (MySQL refuses a UNIQUE
 * over a BLOB without prefix, and a key too long; it takes USING HASH on
 * InnoDB as a B-tree). A server not known (a history never loaded from
 * one) may be either: then only the BLOB rule is sure. */
static int server_kind(const sl_ddl_opts_t *srv) {
    if (srv == NULL || (!srv->is_mariadb && srv->version == 0))
        return SRV_UNKNOWN;
    if (!srv->is_mariadb || (srv->version != 0 && srv->version < 100400))
        return SRV_NONE;
    return SRV_MARIADB;
}

static int decide_maria(const sl_schema_table_t *t, const sl_schema_key_t *k);

/* The hash of unique key k of t by the rules at the top of this file,
 * using_hash included, for a server of kind srv. */
static int decide(const sl_schema_table_t *t, const sl_schema_key_t *k,
                  int srv) {
    if (srv == SRV_NONE)
        return SL_SCHEMA_HASH_NO;
    int h = decide_maria(t, k);
    if (srv == SRV_UNKNOWN && h == SL_SCHEMA_HASH_YES) {
        /* Sure only when a part is a BLOB without prefix, which MySQL
         * refuses, so only MariaDB can have logged it. */
        for (size_t i = 0; i < k->nparts; i++) {
            const sl_schema_col_t *c = find_col(t, k->parts[i]);
            if (c && c->data_type && is_blob_like(c->data_type) &&
                k->prefix[i] < 0)
                return SL_SCHEMA_HASH_YES;
        }
        return SL_SCHEMA_HASH_MAYBE;
    }
    return h;
}

static int decide_maria(const sl_schema_table_t *t, const sl_schema_key_t *k) {
    long lim = engine_limit(t->engine);
    if (!k->unique || lim < 0)
        return SL_SCHEMA_HASH_NO;
    int unknown = k->nparts == 0; /* Only an expression: not MariaDB's. */
    unsigned long long lo = 0, hi = 0, part_max = 0;
    for (size_t i = 0; i < k->nparts; i++) {
        const sl_schema_col_t *c = find_col(t, k->parts[i]);
        if (c == NULL || c->data_type == NULL) {
            unknown = 1;
            continue;
        }
        unsigned mb = sl__schema_mbmaxlen(c->charset);
        const char *dt = c->data_type;
        unsigned long long bytes;
        if (is_blob_like(dt)) {
            if (k->prefix[i] < 0)
                return SL_SCHEMA_HASH_YES;
            bytes = (unsigned long long)k->prefix[i] * mb;
        } else if (strcmp(dt, "char") == 0 || strcmp(dt, "varchar") == 0 ||
                   strcmp(dt, "binary") == 0 || strcmp(dt, "varbinary") == 0) {
            long long n = type_len(c->column_type);
            if (n < 0) {
                unknown = 1;
                continue;
            }
            if (k->prefix[i] >= 0 && k->prefix[i] < n)
                n = k->prefix[i];
            bytes = (unsigned long long)n * mb;
        } else {
            /* Numbers, dates, ENUM, SET, BIT, INET6, UUID: 1 to 32 bytes. */
            lo += 1;
            hi += 32;
            continue;
        }
        if (mb == 0)
            unknown = 1;
        lo += bytes;
        hi += bytes;
        if (bytes > part_max)
            part_max = bytes;
    }
    int fits; /* 1 fits, 0 does not, -1 not known. */
    if (unknown)
        fits = -1;
    else if (lim > 0)
        fits =
            part_max > (unsigned long long)lim || lo > (unsigned long long)lim
                ? 0
            : hi <= (unsigned long long)lim ? 1
                                            : -1;
    else if (t->engine && strcmp(t->engine, "aria") == 0)
        fits = hi <= 2300 ? 1 : -1; /* Longer: refused, or a hash. */
    else /* No engine indexes less than MyISAM's 1000 bytes. */
        fits = hi <= 1000 ? 1 : -1;
    if (fits == 0)
        return SL_SCHEMA_HASH_YES;
    if (k->using_hash == 1)
        return lim > 0 ? SL_SCHEMA_HASH_YES : SL_SCHEMA_HASH_MAYBE;
    if (fits < 0 || k->using_hash == 2)
        return SL_SCHEMA_HASH_MAYBE;
    return SL_SCHEMA_HASH_NO;
}

void sl__schema_key_loaded(const sl_schema_table_t *t, sl_schema_key_t *k,
                           int is_hash) {
    is_hash = is_hash && k->unique && engine_limit(t->engine) >= 0;
    k->using_hash = 0;
    k->hash = is_hash ? SL_SCHEMA_HASH_YES : SL_SCHEMA_HASH_NO;
    /* A hash the rules do not require may come from USING HASH, which
     * the next rebuild ends. */
    if (is_hash && decide(t, k, SRV_MARIADB) != SL_SCHEMA_HASH_YES)
        k->using_hash = 1;
}

void sl__schema_hash_strip(sl_schema_table_t *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden == SL_SCHEMA_HASH_COL)
            sl__schema_col_free(&t->cols[i]);
        else
            t->cols[n++] = t->cols[i];
    }
    t->ncols = n;
    t->hash_maybe = 0;
}

static int append_hash_col(sl_schema_table_t *t, unsigned *num) {
    char name[32];
    do
        snprintf(name, sizeof name, HASH_PREFIX "%u", (*num)++);
    while (find_col(t, name) != NULL);
    sl_schema_col_t c;
    memset(&c, 0, sizeof c);
    c.name = strdup(name);
    c.data_type = strdup("bigint");
    c.column_type = strdup("bigint(20) unsigned");
    c.is_unsigned = 1;
    c.nullable = 1;
    c.hidden = SL_SCHEMA_HASH_COL;
    if (c.name == NULL || c.data_type == NULL || c.column_type == NULL ||
        sl__schema_insert_col(t, &c, t->ncols) != 0) {
        sl__schema_col_free(&c);
        return SL_ENOMEM;
    }
    return 0;
}

int sl__schema_hash_cols(sl_schema_table_t *t) {
    sl__schema_hash_strip(t);
    unsigned num = 1;
    size_t maybe = 0;
    for (size_t i = 0; i < t->nkeys; i++) {
        if (t->keys[i].hash == SL_SCHEMA_HASH_MAYBE)
            maybe++;
        else if (t->keys[i].hash == SL_SCHEMA_HASH_YES &&
                 append_hash_col(t, &num) != 0)
            return SL_ENOMEM;
    }
    for (size_t i = 0; i < maybe; i++)
        if (append_hash_col(t, &num) != 0)
            return SL_ENOMEM;
    t->hash_maybe = maybe;
    return 0;
}

/* The name column old_name of the table before the statement has after
 * it (NULL: dropped), by the statement's DROP, CHANGE and RENAME COLUMN,
 * which all name columns as they were before it. */
static const char *renamed(const sl_ddl_stmt_t *st, const char *old_name) {
    for (size_t i = 0; i < st->nacts; i++) {
        const sl_ddl_action_t *a = &st->acts[i];
        if (a->name == NULL || !name_eq(a->name, old_name))
            continue;
        if (a->kind == SL_DDL_ACT_DROP_COLUMN)
            return NULL;
        if (a->kind == SL_DDL_ACT_MODIFY_COLUMN && a->col.name)
            return a->col.name;
        if (a->kind == SL_DDL_ACT_RENAME_COLUMN && a->name2)
            return a->name2;
    }
    return old_name;
}

/* Key parts follow renamed columns; parts of dropped columns go, and a
 * key left without parts with them. */
static int follow_columns(sl_schema_table_t *t, const sl_ddl_stmt_t *st) {
    for (size_t i = t->nkeys; i-- > 0;) {
        sl_schema_key_t *k = &t->keys[i];
        size_t n = 0;
        for (size_t j = 0; j < k->nparts; j++) {
            const char *to = renamed(st, k->parts[j]);
            if (to == NULL) {
                free(k->parts[j]);
                continue;
            }
            if (to != k->parts[j]) {
                char *d = strdup(to);
                if (d == NULL)
                    return SL_ENOMEM;
                free(k->parts[j]);
                k->parts[j] = d;
            }
            k->prefix[n] = k->prefix[j];
            k->parts[n++] = k->parts[j];
        }
        int emptied = k->nparts > 0 && n == 0;
        k->nparts = n;
        if (emptied)
            remove_key(t, i);
    }
    return 0;
}

int sl__schema_keys_apply(sl_schema_table_t *t, const sl_schema_table_t *old,
                          const sl_ddl_stmt_t *st, const sl_ddl_opts_t *srv,
                          char *err, size_t errlen) {
    int kind = server_kind(srv);
    int engine_changed = 0;
    if (st->engine) {
        char *e = strdup(st->engine);
        if (e == NULL)
            return SL_ENOMEM;
        engine_changed = t->engine == NULL || strcmp(t->engine, e) != 0;
        free(t->engine);
        t->engine = e;
    }
    /* A rebuild ends USING HASH on the keys it keeps. */
    for (size_t i = 0; old && i < t->nkeys; i++) {
        if (st->rebuild == 1)
            t->keys[i].using_hash = 0;
        else if (st->rebuild == 2 && t->keys[i].using_hash)
            t->keys[i].using_hash = 2;
    }
    int rc = old ? follow_columns(t, st) : 0;
    size_t first_new = t->nkeys;
    for (size_t i = 0; rc == 0 && i < st->nacts; i++) {
        const sl_ddl_action_t *a = &st->acts[i];
        if (a->kind == SL_DDL_ACT_DROP_INDEX && a->name) {
            ssize_t k = find_key(t, a->name);
            /* An unknown name may be a foreign key's or CHECK's, which
             * have no hash. */
            if (k >= 0 && (size_t)k < first_new) {
                remove_key(t, (size_t)k);
                first_new--;
            }
        } else if (a->kind == SL_DDL_ACT_RENAME_INDEX && a->name && a->name2) {
            ssize_t k = find_key(t, a->name);
            if (k >= 0) {
                char *n = strdup(a->name2);
                if (n == NULL)
                    return SL_ENOMEM;
                free(t->keys[k].name);
                t->keys[k].name = n;
            }
        } else if (a->kind == SL_DDL_ACT_ADD_INDEX) {
            if (a->idx.expr && a->idx.unique)
                return sl__schema_errf(
                    err, errlen, SL_EUNSUPPORTED,
                    "UNIQUE key with an expression part on %s.%s: not "
                    "modelled by the schema history",
                    t->db, t->name);
            if (a->if_exists && a->idx.name && find_key(t, a->idx.name) >= 0)
                continue; /* ADD INDEX IF NOT EXISTS of an existing one. */
            rc = sl__schema_key_add(t, &a->idx);
        }
    }
    if (rc != 0)
        return rc;
    /* Keys the statement did not touch keep a decided hash when their
     * columns and the engine did not change: the server decides again by
     * the same rule. Others are decided now. */
    for (size_t i = 0; i < t->nkeys; i++) {
        sl_schema_key_t *k = &t->keys[i];
        int h = decide(t, k, kind);
        if (h == SL_SCHEMA_HASH_MAYBE && old && i < first_new &&
            !engine_changed && k->hash == SL_SCHEMA_HASH_NO &&
            k->using_hash == 0) {
            int same = 1;
            for (size_t j = 0; same && j < k->nparts; j++) {
                const sl_schema_col_t *c = find_col(t, k->parts[j]);
                const sl_schema_col_t *o = NULL;
                for (size_t m = 0; m < old->ncols && !o; m++)
                    if (old->cols[m].hidden != SL_SCHEMA_HASH_COL &&
                        c != NULL && renamed(st, old->cols[m].name) != NULL &&
                        name_eq(renamed(st, old->cols[m].name), c->name))
                        o = &old->cols[m];
                same =
                    c && o && strcmp(c->column_type, o->column_type) == 0 &&
                    (c->charset == NULL) == (o->charset == NULL) &&
                    (c->charset == NULL || strcmp(c->charset, o->charset) == 0);
            }
            if (same)
                h = SL_SCHEMA_HASH_NO;
        }
        k->hash = h;
    }
    return sl__schema_hash_cols(t);
}
