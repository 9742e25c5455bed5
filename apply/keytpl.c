/*
 * Cache-key templates (the file format and rendering rules are in
 * apply/keytpl.h and docs/apply.md).
 *
 * A template is compiled at load time into parts: literal runs (with the
 * doubled braces already collapsed) and column references, so evaluating
 * one is a walk over its parts and one lookup per column.
 */
#include "apply/keytpl.h"

#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a template part stands for: is_col is PART_TEXT for literal
 * bytes, else the kind of value (decided once, at compile time, instead
 * of comparing names for every row). */
enum { PART_TEXT, PART_COL, PART_DB, PART_TABLE };

typedef struct {
    int is_col;
    char *text; /* Literal bytes or column name; owned. */
    size_t len;
} part_t;

typedef struct {
    char *src; /* The template as written, for messages. */
    part_t *parts;
    size_t nparts;
} tpl_t;

struct sl_keytpl_table_s {
    char *name;  /* The table as the file writes it, for messages. */
    char *db;    /* Decoded database name (quotes removed). */
    char *table; /* Decoded table name; "*" for a wildcard line. */
    size_t db_len, table_len;
    int wildcard; /* 1 for an unquoted `db.*`. */
    tpl_t *tpls;
    size_t ntpls;
};

struct sl_keytpl_set_s {
    sl_keytpl_table_t *tables;
    size_t count;
};

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, int rc, const char *fmt, ...) {
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void tpl_free(tpl_t *tpl) {
    for (size_t i = 0; i < tpl->nparts; i++)
        free(tpl->parts[i].text);
    free(tpl->parts);
    free(tpl->src);
}

void sl_keytpl_free(sl_keytpl_set_t *set) {
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->count; i++) {
        for (size_t j = 0; j < set->tables[i].ntpls; j++)
            tpl_free(&set->tables[i].tpls[j]);
        free(set->tables[i].tpls);
        free(set->tables[i].name);
        free(set->tables[i].db);
        free(set->tables[i].table);
    }
    free(set->tables);
    free(set);
}

static int add_part(tpl_t *tpl, int is_col, const char *text, size_t len) {
    part_t *p = realloc(tpl->parts, (tpl->nparts + 1) * sizeof *p);
    if (p == NULL)
        return SL_ENOMEM;
    tpl->parts = p;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return SL_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    p[tpl->nparts].is_col = !is_col                       ? PART_TEXT
                            : strcmp(copy, "_db") == 0    ? PART_DB
                            : strcmp(copy, "_table") == 0 ? PART_TABLE
                                                          : PART_COL;
    p[tpl->nparts].text = copy;
    p[tpl->nparts].len = len;
    tpl->nparts++;
    return 0;
}

/* Compiles one template word. */
static int compile(tpl_t *tpl, const char *w, size_t n, int line, char *err,
                   size_t errlen) {
    memset(tpl, 0, sizeof *tpl);
    tpl->src = strndup(w, n);
    if (tpl->src == NULL)
        return SL_ENOMEM;
    sl_buf_t lit = SL_BUF_INIT;
    int rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        char c = w[i];
        if (c == '{' && i + 1 < n && w[i + 1] == '{') {
            rc = sl_buf_append_u8(&lit, '{');
            i += 2;
        } else if (c == '}' && i + 1 < n && w[i + 1] == '}') {
            rc = sl_buf_append_u8(&lit, '}');
            i += 2;
        } else if (c == '}') {
            rc = errf(err, errlen, SL_ECONFIG,
                      "line %d: template %s: '}' without '{' (write '}}' "
                      "for a literal brace)",
                      line, tpl->src);
        } else if (c == '{') {
            const char *end = memchr(w + i + 1, '}', n - i - 1);
            if (end == NULL) {
                rc = errf(err, errlen, SL_ECONFIG,
                          "line %d: template %s: unterminated '{'", line,
                          tpl->src);
                break;
            }
            size_t cl = (size_t)(end - (w + i + 1));
            if (cl == 0 || memchr(w + i + 1, '{', cl) != NULL) {
                rc = errf(err, errlen, SL_ECONFIG,
                          "line %d: template %s: empty or nested column "
                          "reference",
                          line, tpl->src);
                break;
            }
            if (lit.len > 0) {
                rc = add_part(tpl, 0, (const char *)lit.data, lit.len);
                sl_buf_reset(&lit);
                if (rc != 0)
                    break;
            }
            rc = add_part(tpl, 1, w + i + 1, cl);
            i += cl + 2;
        } else {
            rc = sl_buf_append_u8(&lit, (uint8_t)c);
            i++;
        }
    }
    if (rc == 0 && lit.len > 0)
        rc = add_part(tpl, 0, (const char *)lit.data, lit.len);
    sl_buf_free(&lit);
    if (rc == 0) {
        int cols = 0;
        for (size_t k = 0; k < tpl->nparts; k++)
            cols += tpl->parts[k].is_col != PART_TEXT;
        if (cols == 0)
            rc = errf(err, errlen, SL_ECONFIG,
                      "line %d: template %s names no column, so every row "
                      "would invalidate the same key",
                      line, tpl->src);
    }
    return rc;
}

/* Reads one part of a table name at ls[*i] into out: backquoted
 * (`my db`, where `` stands for one backtick; any byte but a control byte
 * may appear) or plain (up to a blank, and for the database part also up
 * to the first '.', exactly as before quoting existed). *quoted tells
 * which. A plain part that is not at a backtick keeps backticks inside it
 * as ordinary bytes, so every file that loaded before loads the same. */
static int read_name_part(const char *ls, size_t ll, size_t *i, int is_db,
                          sl_buf_t *out, int *quoted, int line, char *err,
                          size_t errlen) {
    size_t k = *i;
    int rc = 0;
    *quoted = k < ll && ls[k] == '`';
    if (*quoted) {
        k++;
        for (;;) {
            if (k >= ll)
                return errf(err, errlen, SL_ECONFIG,
                            "line %d: unterminated ` in the %s name (write "
                            "`` for a backtick inside a quoted name)",
                            line, is_db ? "database" : "table");
            if (ls[k] == '`') {
                if (k + 1 < ll && ls[k + 1] == '`') {
                    rc = sl_buf_append_u8(out, '`');
                    k += 2;
                } else {
                    k++;
                    break;
                }
            } else {
                rc = sl_buf_append_u8(out, (uint8_t)ls[k]);
                k++;
            }
            if (rc != 0)
                return rc;
        }
    } else {
        size_t st = k;
        while (k < ll && ls[k] != ' ' && ls[k] != '\t' &&
               !(is_db && ls[k] == '.'))
            k++;
        rc = sl_buf_append(out, ls + st, k - st);
        if (rc != 0)
            return rc;
    }
    if (out->len == 0)
        return errf(err, errlen, SL_ECONFIG, "line %d: empty %s name", line,
                    is_db ? "database" : "table");
    /* MariaDB names have at most 64 characters, 256 bytes in any charset
     * it allows; a longer one cannot name a table and would only grow
     * buffers that quote names for the target. */
    if (out->len > SL_KEYTPL_NAME_MAX)
        return errf(err, errlen, SL_ECONFIG,
                    "line %d: %s name longer than %d bytes", line,
                    is_db ? "database" : "table", SL_KEYTPL_NAME_MAX);
    *i = k;
    return 0;
}

/* Parses the table at the start of a line (after leading blanks, at *i):
 * db.table, db.*, each part plain or backquoted. Fills tt's names and
 * moves *i past the name. */
static int read_table(const char *ls, size_t ll, size_t *i,
                      sl_keytpl_table_t *tt, int line, char *err,
                      size_t errlen) {
    size_t st = *i, k = *i;
    sl_buf_t db = SL_BUF_INIT, table = SL_BUF_INIT;
    int qdb = 0, qtable = 0;
    int rc = read_name_part(ls, ll, &k, 1, &db, &qdb, line, err, errlen);
    if (rc == 0 && (k >= ll || ls[k] != '.')) {
        size_t end = k;
        while (end < ll && ls[end] != ' ' && ls[end] != '\t')
            end++;
        rc = errf(err, errlen, SL_ECONFIG,
                  "line %d: \"%.*s\" is not db.table (quote names with "
                  "spaces or dots as `my db`.`my table`)",
                  line, (int)(end - st), ls + st);
    }
    if (rc == 0) {
        k++;
        rc = read_name_part(ls, ll, &k, 0, &table, &qtable, line, err, errlen);
    }
    if (rc == 0 && k < ll && ls[k] != ' ' && ls[k] != '\t')
        rc = errf(err, errlen, SL_ECONFIG,
                  "line %d: \"%.*s\": a space must follow the quoted table "
                  "name",
                  line, (int)(k + 1 - st), ls + st);
    if (rc == 0) {
        tt->wildcard = !qtable && table.len == 1 && table.data[0] == '*';
        tt->db_len = db.len;
        tt->table_len = table.len;
        tt->name = strndup(ls + st, k - st);
        tt->db = strndup((const char *)db.data, db.len);
        tt->table = strndup((const char *)table.data, table.len);
        if (tt->name == NULL || tt->db == NULL || tt->table == NULL)
            rc = SL_ENOMEM;
    }
    sl_buf_free(&db);
    sl_buf_free(&table);
    *i = k;
    return rc;
}

int sl_keytpl_parse(const char *text, size_t len, sl_keytpl_set_t **out,
                    char *err, size_t errlen) {
    sl_keytpl_set_t *set = calloc(1, sizeof *set);
    if (set == NULL)
        return SL_ENOMEM;
    int rc = 0, line = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        line++;
        const char *ls = text + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - ls) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll > 0 && ls[ll - 1] == '\r')
            ll--;
        size_t i = 0;
        while (i < ll && (ls[i] == ' ' || ls[i] == '\t'))
            i++;
        if (i >= ll || ls[i] == '#')
            continue;
        for (size_t k = 0; k < ll; k++)
            if ((unsigned char)ls[k] < 0x20 && ls[k] != '\t') {
                rc = errf(err, errlen, SL_ECONFIG,
                          "line %d: control byte 0x%02x", line,
                          (unsigned char)ls[k]);
                break;
            }
        if (rc != 0)
            break;
        sl_keytpl_table_t tab;
        memset(&tab, 0, sizeof tab);
        rc = read_table(ls, ll, &i, &tab, line, err, errlen);
        /* The templates: words separated by blanks. */
        const char *words[256];
        size_t wlen[256], nw = 0;
        while (rc == 0 && i < ll) {
            while (i < ll && (ls[i] == ' ' || ls[i] == '\t'))
                i++;
            if (i >= ll)
                break;
            size_t st = i;
            while (i < ll && ls[i] != ' ' && ls[i] != '\t')
                i++;
            if (nw == 255) {
                rc = errf(err, errlen, SL_ECONFIG,
                          "line %d: more than 255 templates", line);
                break;
            }
            words[nw] = ls + st;
            wlen[nw++] = i - st;
        }
        if (rc == 0 && nw == 0)
            rc = errf(err, errlen, SL_ECONFIG,
                      "line %d: table %s has no key template", line, tab.name);
        for (size_t t = 0; t < set->count && rc == 0; t++) {
            const sl_keytpl_table_t *o = &set->tables[t];
            if (o->wildcard == tab.wildcard && o->db_len == tab.db_len &&
                o->table_len == tab.table_len &&
                memcmp(o->db, tab.db, tab.db_len) == 0 &&
                memcmp(o->table, tab.table, tab.table_len) == 0)
                rc = errf(err, errlen, SL_ECONFIG,
                          "line %d: table %s listed twice (first as %s)", line,
                          tab.name, o->name);
        }
        sl_keytpl_table_t *tabs = NULL;
        if (rc == 0) {
            tabs = realloc(set->tables, (set->count + 1) * sizeof *tabs);
            if (tabs == NULL)
                rc = SL_ENOMEM;
        }
        if (rc != 0) {
            free(tab.name);
            free(tab.db);
            free(tab.table);
            break;
        }
        set->tables = tabs;
        sl_keytpl_table_t *tt = &tabs[set->count++];
        *tt = tab;
        tt->tpls = calloc(nw, sizeof *tt->tpls);
        if (tt->tpls == NULL) {
            rc = SL_ENOMEM;
            break;
        }
        for (size_t k = 0; k < nw && rc == 0; k++) {
            rc = compile(&tt->tpls[k], words[k], wlen[k], line, err, errlen);
            tt->ntpls++;
        }
    }
    if (rc == 0 && set->count == 0)
        rc = errf(err, errlen, SL_ECONFIG, "no table has key templates");
    if (rc != 0) {
        if (rc == SL_ENOMEM)
            errf(err, errlen, rc, "out of memory");
        sl_keytpl_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int sl_keytpl_load(const char *path, sl_keytpl_set_t **out, char *err,
                   size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errf(err, errlen, SL_ECONFIG, "keys file %s: cannot open: %s",
                    path, strerror(errno));
    sl_buf_t buf = SL_BUF_INIT;
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && rc == 0) {
        rc = sl_buf_append(&buf, chunk, n);
        if (buf.len > (16u << 20))
            rc = errf(err, errlen, SL_ECONFIG, "keys file %s: over 16 MiB",
                      path);
    }
    if (rc == 0 && ferror(f))
        rc = errf(err, errlen, SL_ECONFIG, "keys file %s: read error", path);
    fclose(f);
    if (rc == 0) {
        char inner[400];
        rc = sl_keytpl_parse((const char *)buf.data, buf.len, out, inner,
                             sizeof inner);
        if (rc != 0)
            errf(err, errlen, rc, "keys file %s: %s", path, inner);
    }
    sl_buf_free(&buf);
    return rc;
}

const sl_keytpl_table_t *sl_keytpl_find(const sl_keytpl_set_t *set,
                                        const char *db, size_t db_len,
                                        const char *table, size_t table_len) {
    const sl_keytpl_table_t *wild = NULL;
    for (size_t i = 0; i < set->count; i++) {
        const sl_keytpl_table_t *tt = &set->tables[i];
        if (tt->db_len != db_len || memcmp(tt->db, db, db_len) != 0)
            continue;
        if (tt->wildcard) {
            wild = tt;
            continue;
        }
        if (tt->table_len == table_len &&
            memcmp(tt->table, table, table_len) == 0)
            return tt;
    }
    return wild;
}

size_t sl_keytpl_count(const sl_keytpl_set_t *set) { return set->count; }
const char *sl_keytpl_name(const sl_keytpl_set_t *set, size_t i) {
    return set->tables[i].name;
}
const sl_keytpl_table_t *sl_keytpl_at(const sl_keytpl_set_t *set, size_t i) {
    return &set->tables[i];
}
int sl_keytpl_names(const sl_keytpl_set_t *set, size_t i, const char **db,
                    const char **table) {
    *db = set->tables[i].db;
    *table = set->tables[i].table;
    return set->tables[i].wildcard;
}

static int is_pseudo(const part_t *p) { return p->is_col >= PART_DB; }

int sl_keytpl_validate(const sl_keytpl_table_t *tt, const char *const *cols,
                       size_t ncols, char *err, size_t errlen) {
    for (size_t t = 0; t < tt->ntpls; t++) {
        const tpl_t *tpl = &tt->tpls[t];
        for (size_t k = 0; k < tpl->nparts; k++) {
            const part_t *p = &tpl->parts[k];
            if (!p->is_col || is_pseudo(p))
                continue;
            size_t c = 0;
            while (c < ncols && strcmp(cols[c], p->text) != 0)
                c++;
            if (c == ncols)
                return errf(err, errlen, SL_ECONFIG,
                            "keys for %s: template %s names column \"%s\", "
                            "which the table does not have",
                            tt->name, tpl->src, p->text);
        }
    }
    return 0;
}

void sl_keylist_init(sl_keylist_t *kl) { memset(kl, 0, sizeof *kl); }

void sl_keylist_reset(sl_keylist_t *kl) {
    sl_buf_reset(&kl->bytes);
    kl->count = 0;
    if (kl->off != NULL)
        kl->off[0] = 0;
}

void sl_keylist_free(sl_keylist_t *kl) {
    sl_buf_free(&kl->bytes);
    free(kl->off);
    memset(kl, 0, sizeof *kl);
}

/* Appends bytes with the %XX escaping of the header comment. */
/* 1 for the bytes a key cannot hold as they are (space, control bytes,
 * DEL) and for '%', which starts an escape. */
static inline int key_escaped(unsigned char c) {
    return c < 0x21 || c == 0x7F || c == '%';
}

static int put_escaped(sl_buf_t *out, const void *data, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = data;
    /* Nothing to add: out->data may still be NULL, and NULL + 0 is
     * undefined (an empty table name; found by fuzz_apply_event). */
    if (n == 0)
        return 0;
    /* The exact room once, then plain stores: this runs for every key of
     * every row, and a key may come from a large column. */
    size_t esc = 0;
    for (size_t i = 0; i < n; i++)
        esc += key_escaped(p[i]);
    if (esc > (SIZE_MAX - n) / 2 || sl_buf_reserve(out, n + 2 * esc) != 0)
        return SL_ENOMEM;
    uint8_t *w = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (key_escaped(c)) {
            *w++ = '%';
            *w++ = (uint8_t)hex[c >> 4];
            *w++ = (uint8_t)hex[c & 15];
        } else {
            *w++ = c;
        }
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

/* Renders one value; returns 1 when it is NULL (no key), 0, or < 0. */
static int render(const sl_jr_doc_t *doc, uint32_t v, sl_buf_t *out,
                  sl_buf_t *tmp) {
    size_t n;
    const char *raw;
    switch (sl_jr_type(doc, v)) {
    case SL_JR_NULL: return 1;
    case SL_JR_TRUE: return put_escaped(out, "1", 1);
    case SL_JR_FALSE: return put_escaped(out, "0", 1);
    case SL_JR_NUMBER:
        raw = sl_jr_raw(doc, v, &n);
        return put_escaped(out, raw, n);
    case SL_JR_STRING:
        sl_buf_reset(tmp);
        if (sl_jr_unescape(doc, v, tmp) != 0)
            return SL_ENOMEM;
        return put_escaped(out, tmp->data, tmp->len);
    case SL_JR_OBJECT: {
        uint32_t b = sl_jr_get(doc, v, "base64");
        if (b != SL_JR_NONE && sl_jr_tok(doc, v)->count == 1 &&
            sl_jr_type(doc, b) == SL_JR_STRING) {
            raw = sl_jr_raw(doc, b, &n);
            sl_buf_reset(tmp);
            int rc = sl_jr_base64_decode(tmp, raw, n);
            if (rc != 0)
                return rc;
            return put_escaped(out, tmp->data, tmp->len);
        }
        /* A JSON document is keyed by its text. */
        raw = sl_jr_raw(doc, v, &n);
        return put_escaped(out, raw, n);
    }
    case SL_JR_ARRAY:
        raw = sl_jr_raw(doc, v, &n);
        return put_escaped(out, raw, n);
    }
    return SL_EINVAL;
}

static int has_key(const sl_keylist_t *kl, size_t from, const void *k,
                   size_t n) {
    for (size_t i = from; i < kl->count; i++) {
        size_t l;
        const char *p = sl_keylist_key(kl, i, &l);
        if (l == n && memcmp(p, k, n) == 0)
            return 1;
    }
    return 0;
}

int sl_keytpl_eval(const sl_keytpl_table_t *tt, const sl_jr_doc_t *doc,
                   uint32_t before, uint32_t after, const char *db,
                   size_t db_len, const char *table, size_t table_len,
                   sl_keylist_t *kl, char *err, size_t errlen) {
    if (kl->off == NULL) {
        kl->off = malloc(16 * sizeof *kl->off);
        if (kl->off == NULL)
            return SL_ENOMEM;
        kl->cap = 16;
        kl->off[0] = 0;
        kl->count = 0;
    }
    size_t first = kl->count;
    sl_buf_t tmp = SL_BUF_INIT;
    int rc = 0;
    uint32_t imgs[2] = {before, after};
    for (int im = 0; im < 2 && rc == 0; im++) {
        uint32_t img = imgs[im];
        if (img == SL_JR_NONE || sl_jr_type(doc, img) == SL_JR_NULL)
            continue;
        if (sl_jr_type(doc, img) != SL_JR_OBJECT) {
            rc = errf(err, errlen, SL_ECORRUPT,
                      "%s image is a %s, not an "
                      "object",
                      im ? "after" : "before",
                      sl_jr_type_name(sl_jr_type(doc, img)));
            break;
        }
        for (size_t t = 0; t < tt->ntpls && rc == 0; t++) {
            const tpl_t *tpl = &tt->tpls[t];
            size_t mark = kl->bytes.len;
            int null = 0;
            for (size_t k = 0; k < tpl->nparts && rc == 0 && !null; k++) {
                const part_t *p = &tpl->parts[k];
                if (!p->is_col) {
                    rc = sl_buf_append(&kl->bytes, p->text, p->len);
                    continue;
                }
                if (p->is_col == PART_DB) {
                    rc = put_escaped(&kl->bytes, db, db_len);
                    continue;
                }
                if (p->is_col == PART_TABLE) {
                    rc = put_escaped(&kl->bytes, table, table_len);
                    continue;
                }
                uint32_t v = sl_jr_getn(doc, img, p->text, p->len);
                if (v == SL_JR_NONE) {
                    rc = errf(err, errlen, SL_ECORRUPT,
                              "keys for %s: template %s: column \"%s\" is "
                              "not in the %s image (partial row images "
                              "cannot name the keys to invalidate)",
                              tt->name, tpl->src, p->text,
                              im ? "after" : "before");
                    break;
                }
                int r = render(doc, v, &kl->bytes, &tmp);
                if (r == 1)
                    null = 1;
                else if (r < 0)
                    rc = errf(err, errlen, r,
                              "keys for %s: template %s: column \"%s\": %s",
                              tt->name, tpl->src, p->text, sl_strerror(r));
            }
            if (rc != 0 || null) {
                kl->bytes.len = mark;
                continue;
            }
            size_t klen = kl->bytes.len - mark;
            if (has_key(kl, first, kl->bytes.data + mark, klen)) {
                kl->bytes.len = mark;
                continue;
            }
            if (kl->count + 2 > kl->cap) {
                size_t ncap = kl->cap * 2;
                size_t *no = realloc(kl->off, ncap * sizeof *no);
                if (no == NULL) {
                    rc = SL_ENOMEM;
                    break;
                }
                kl->off = no;
                kl->cap = ncap;
            }
            kl->count++;
            kl->off[kl->count] = kl->bytes.len;
        }
    }
    sl_buf_free(&tmp);
    if (rc != 0) {
        /* Leave the list as it was before this row. */
        kl->count = first;
        kl->bytes.len = kl->off[first];
    }
    return rc;
}
