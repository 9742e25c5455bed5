/*
 * Helpers shared by the capture tests: a small JSON tree parser (tests
 * only; the decoder never parses JSON) and a validator for the subset of
 * JSON Schema that schemas/change-event.schema.json uses (type, enum,
 * const, required, properties, additionalProperties, items, minimum,
 * allOf, if/then).
 *
 * Everything is static so each test file includes its own copy; the tree
 * lives in an arena freed with ct_free().
 */
#ifndef SL_TEST_CAPTURE_LIB_H
#define SL_TEST_CAPTURE_LIB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CT_NULL, CT_BOOL, CT_NUM, CT_STR, CT_ARR, CT_OBJ } ct_type_t;

typedef struct ct_node_s ct_node_t;
struct ct_node_s {
    ct_type_t type;
    int b;
    char *s; /* Strings (unescaped, NUL-terminated) and numbers. */
    size_t slen;
    size_t n;    /* Children. */
    char **keys; /* Objects. */
    ct_node_t **kids;
};

typedef struct {
    const char *p, *end;
    int err;
} ct_parser_t;

static void ct_ws(ct_parser_t *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' ||
                               *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static void ct_put_utf8(char **o, unsigned c) {
    if (c < 0x80) {
        *(*o)++ = (char)c;
    } else if (c < 0x800) {
        *(*o)++ = (char)(0xC0 | (c >> 6));
        *(*o)++ = (char)(0x80 | (c & 63));
    } else if (c < 0x10000) {
        *(*o)++ = (char)(0xE0 | (c >> 12));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 63));
        *(*o)++ = (char)(0x80 | (c & 63));
    } else {
        *(*o)++ = (char)(0xF0 | (c >> 18));
        *(*o)++ = (char)(0x80 | ((c >> 12) & 63));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 63));
        *(*o)++ = (char)(0x80 | (c & 63));
    }
}

static char *ct_string(ct_parser_t *ps, size_t *len) {
    if (ps->p >= ps->end || *ps->p != '"') {
        ps->err = 1;
        return NULL;
    }
    ps->p++;
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end) {
        ps->err = 1;
        return NULL;
    }
    size_t raw = (size_t)(ps->p - s);
    ps->p++;
    char *out = malloc(raw + 1), *o = out;
    for (size_t i = 0; i < raw; i++) {
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        i++;
        switch (s[i]) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned c = (unsigned)strtoul(
                (char[5]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
            i += 4;
            if (c >= 0xD800 && c < 0xDC00 && i + 6 < raw && s[i + 1] == '\\') {
                unsigned lo = (unsigned)strtoul(
                    (char[5]){s[i + 3], s[i + 4], s[i + 5], s[i + 6], 0}, NULL,
                    16);
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            ct_put_utf8(&o, c);
            break;
        }
        default: *o++ = s[i]; break;
        }
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

static ct_node_t *ct_value(ct_parser_t *ps, int depth) {
    ct_ws(ps);
    if (ps->p >= ps->end || depth > 200) {
        ps->err = 1;
        return NULL;
    }
    ct_node_t *nd = calloc(1, sizeof(*nd));
    char c = *ps->p;
    if (c == '{' || c == '[') {
        nd->type = c == '{' ? CT_OBJ : CT_ARR;
        ps->p++;
        ct_ws(ps);
        size_t cap = 0;
        if (ps->p < ps->end && *ps->p == (c == '{' ? '}' : ']')) {
            ps->p++;
            return nd;
        }
        for (;;) {
            char *key = NULL;
            size_t kl;
            if (c == '{') {
                ct_ws(ps);
                key = ct_string(ps, &kl);
                ct_ws(ps);
                if (ps->err || ps->p >= ps->end || *ps->p != ':') {
                    ps->err = 1;
                    free(key);
                    return nd;
                }
                ps->p++;
            }
            ct_node_t *kid = ct_value(ps, depth + 1);
            if (nd->n == cap) {
                cap = cap ? cap * 2 : 8;
                nd->kids = realloc(nd->kids, cap * sizeof(*nd->kids));
                nd->keys = realloc(nd->keys, cap * sizeof(*nd->keys));
            }
            nd->kids[nd->n] = kid;
            nd->keys[nd->n] = key;
            nd->n++;
            if (ps->err)
                return nd;
            ct_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == (c == '{' ? '}' : ']')) {
                ps->p++;
                return nd;
            }
            ps->err = 1;
            return nd;
        }
    }
    if (c == '"') {
        nd->type = CT_STR;
        nd->s = ct_string(ps, &nd->slen);
        return nd;
    }
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
        ps->p += 4;
        nd->type = CT_NULL;
        return nd;
    }
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0) {
        ps->p += 4;
        nd->type = CT_BOOL;
        nd->b = 1;
        return nd;
    }
    if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0) {
        ps->p += 5;
        nd->type = CT_BOOL;
        return nd;
    }
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9')) {
        ps->err = 1;
        return nd;
    }
    while (ps->p < ps->end && strchr("0123456789.eE+-", *ps->p) != NULL)
        ps->p++;
    nd->type = CT_NUM;
    nd->slen = (size_t)(ps->p - s);
    nd->s = strndup(s, nd->slen);
    return nd;
}

static void ct_free(ct_node_t *nd) {
    if (nd == NULL)
        return;
    for (size_t i = 0; i < nd->n; i++) {
        ct_free(nd->kids[i]);
        if (nd->keys)
            free(nd->keys[i]);
    }
    free(nd->kids);
    free(nd->keys);
    free(nd->s);
    free(nd);
}

/* Parses exactly one JSON value; NULL when malformed. */
static ct_node_t *ct_parse(const char *text, size_t len) {
    ct_parser_t ps = {text, text + len, 0};
    ct_node_t *nd = ct_value(&ps, 0);
    ct_ws(&ps);
    if (ps.err || ps.p != ps.end) {
        ct_free(nd);
        return NULL;
    }
    return nd;
}

static ct_node_t *ct_get(const ct_node_t *obj, const char *key) {
    if (obj == NULL || obj->type != CT_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->kids[i];
    return NULL;
}

static int ct_is_int(const ct_node_t *nd) {
    return nd->type == CT_NUM && strpbrk(nd->s, ".eE") == NULL;
}

static const char *ct_type_name(const ct_node_t *nd) {
    switch (nd->type) {
    case CT_NULL: return "null";
    case CT_BOOL: return "boolean";
    case CT_NUM: return ct_is_int(nd) ? "integer" : "number";
    case CT_STR: return "string";
    case CT_ARR: return "array";
    default: return "object";
    }
}

static int ct_equal(const ct_node_t *a, const ct_node_t *b) {
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case CT_NULL: return 1;
    case CT_BOOL: return a->b == b->b;
    case CT_NUM: return strtod(a->s, NULL) == strtod(b->s, NULL);
    case CT_STR: return a->slen == b->slen && memcmp(a->s, b->s, a->slen) == 0;
    default:
        if (a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++)
            if (!ct_equal(a->kids[i], b->kids[i]))
                return 0;
        return 1;
    }
}

static int ct_type_ok(const ct_node_t *v, const char *t) {
    const char *have = ct_type_name(v);
    if (strcmp(t, have) == 0)
        return 1;
    return strcmp(t, "number") == 0 && strcmp(have, "integer") == 0;
}

/* Validates v against schema sch; on failure writes why into err. */
static int ct_validate(const ct_node_t *sch, const ct_node_t *v, char *err,
                       size_t errlen, const char *path) {
    const ct_node_t *t = ct_get(sch, "type");
    if (t != NULL) {
        int ok = 0;
        if (t->type == CT_STR)
            ok = ct_type_ok(v, t->s);
        for (size_t i = 0; t->type == CT_ARR && i < t->n; i++)
            ok |= ct_type_ok(v, t->kids[i]->s);
        if (!ok) {
            snprintf(err, errlen, "%s: type %s not allowed", path,
                     ct_type_name(v));
            return 0;
        }
    }
    const ct_node_t *e = ct_get(sch, "enum");
    if (e != NULL) {
        int ok = 0;
        for (size_t i = 0; i < e->n; i++)
            ok |= ct_equal(e->kids[i], v);
        if (!ok) {
            snprintf(err, errlen, "%s: value not in enum", path);
            return 0;
        }
    }
    const ct_node_t *c = ct_get(sch, "const");
    if (c != NULL && !ct_equal(c, v)) {
        snprintf(err, errlen, "%s: value differs from const", path);
        return 0;
    }
    const ct_node_t *mn = ct_get(sch, "minimum");
    if (mn != NULL && v->type == CT_NUM &&
        strtod(v->s, NULL) < strtod(mn->s, NULL)) {
        snprintf(err, errlen, "%s: below minimum", path);
        return 0;
    }
    if (v->type == CT_OBJ) {
        const ct_node_t *req = ct_get(sch, "required");
        for (size_t i = 0; req != NULL && i < req->n; i++)
            if (ct_get(v, req->kids[i]->s) == NULL) {
                snprintf(err, errlen, "%s: missing required \"%s\"", path,
                         req->kids[i]->s);
                return 0;
            }
        const ct_node_t *props = ct_get(sch, "properties");
        const ct_node_t *addl = ct_get(sch, "additionalProperties");
        for (size_t i = 0; i < v->n; i++) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", path, v->keys[i]);
            const ct_node_t *ps = ct_get(props, v->keys[i]);
            if (ps == NULL && addl != NULL) {
                if (addl->type == CT_BOOL && !addl->b) {
                    snprintf(err, errlen, "%s: property not allowed", sub);
                    return 0;
                }
                if (addl->type == CT_OBJ)
                    ps = addl;
            }
            if (ps != NULL && !ct_validate(ps, v->kids[i], err, errlen, sub))
                return 0;
        }
    }
    if (v->type == CT_ARR) {
        const ct_node_t *items = ct_get(sch, "items");
        for (size_t i = 0; items != NULL && i < v->n; i++)
            if (!ct_validate(items, v->kids[i], err, errlen, path))
                return 0;
    }
    const ct_node_t *all = ct_get(sch, "allOf");
    for (size_t i = 0; all != NULL && i < all->n; i++) {
        const ct_node_t *sub = all->kids[i];
        const ct_node_t *cond = ct_get(sub, "if");
        if (cond != NULL) {
            char dummy[256];
            if (ct_validate(cond, v, dummy, sizeof(dummy), path)) {
                const ct_node_t *then = ct_get(sub, "then");
                if (then != NULL && !ct_validate(then, v, err, errlen, path))
                    return 0;
            }
        } else if (!ct_validate(sub, v, err, errlen, path)) {
            return 0;
        }
    }
    return 1;
}

/* Loads schemas/change-event.schema.json (tests run from the repo root). */
static ct_node_t *ct_load_schema(void) {
    FILE *f = fopen("schemas/change-event.schema.json", "rb");
    if (f == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return ct_parse(buf, n);
}

/* A list of the decoder's changes as JSON lines, for the tests that
 * collect them (inline: a test that does not is not warned about them). */
typedef struct {
    char **lines;
    size_t n, cap;
} ct_lines_t;

static inline void ct_lines_add(ct_lines_t *ls, const char *json, size_t len) {
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->lines = realloc(ls->lines, ls->cap * sizeof(char *));
    }
    ls->lines[ls->n++] = strndup(json, len);
}

static inline void ct_lines_free(ct_lines_t *ls) {
    for (size_t i = 0; i < ls->n; i++)
        free(ls->lines[i]);
    free(ls->lines);
    memset(ls, 0, sizeof(*ls));
}

#endif
