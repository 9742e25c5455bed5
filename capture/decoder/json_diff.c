/*
 * Partial JSON diffs: MySQL 8's PARTIAL_JSON updates applied to a
 * before-image (the API is in json_bin.h).
 *
 * Format (MySQL Json_diff_vector::write_binary(), the bytes
 * after the uint32le length that replaces a JSON column's value in a
 * PARTIAL_UPDATE_ROWS after-image when its partial bit is set):
 *
 *   diff*     until the list's bytes are used up
 *   diff   := op(1: 0 REPLACE, 1 INSERT, 2 REMOVE)
 *             lenenc path-length, path text ("$.a[1].\"b c\"")
 *             [op != REMOVE] lenenc value-length, binary JSON doc
 *   lenenc := MySQL net_field_length: < 0xFB itself; 0xFC, 0xFD, 0xFE
 *             followed by 2, 3, 8 little-endian bytes (0xFB, 0xFF invalid)
 *
 * A list is valid when every length stays inside it, every op is known,
 * every path parses (no wildcards, ellipses or ranges) and every value is
 * a valid binary JSON doc of at least one byte. Diffs are applied to a
 * small tree: containers on the diff paths are expanded one level at a
 * time, everything else stays a reference into the binary and is printed
 * by the same streaming printer.
 */
#include "json_bin_int.h"

#include "bytes.h"
#include "error.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { N_REF, N_OBJ, N_ARR };

typedef struct jnode jnode_t;
struct jnode {
    int kind;
    /* N_REF: a binary value, printed by sl__jsonb_emit_value(). */
    uint8_t type;
    const uint8_t *data;
    size_t avail;
    int short_err;
    /* N_OBJ and N_ARR: children (and keys for objects). */
    size_t n, cap;
    jnode_t **kids;
    const uint8_t **keys;
    size_t *klens;
};

/* Every allocation of one sl_jsondiff_apply() call, freed together. */
typedef struct arena_blk {
    struct arena_blk *next;
    max_align_t data[];
} arena_blk_t;

typedef struct {
    arena_blk_t *blocks;
    sl_jsonb_ctx_t cx;
} dctx_t;

static void *arena_alloc(dctx_t *dc, size_t n) {
    arena_blk_t *b = malloc(sizeof *b + n);
    if (b == NULL)
        return NULL;
    b->next = dc->blocks;
    dc->blocks = b;
    return b->data;
}

static void arena_free(dctx_t *dc) {
    while (dc->blocks) {
        arena_blk_t *b = dc->blocks;
        dc->blocks = b->next;
        free(b);
    }
}

static jnode_t *node_ref(dctx_t *dc, uint8_t type, const uint8_t *data,
                         size_t avail, int short_err) {
    jnode_t *nd = arena_alloc(dc, sizeof *nd);
    if (nd == NULL)
        return NULL;
    memset(nd, 0, sizeof *nd);
    nd->kind = N_REF;
    nd->type = type;
    nd->data = data;
    nd->avail = avail;
    nd->short_err = short_err;
    return nd;
}

/* Makes room for one more child. */
static int node_grow(dctx_t *dc, jnode_t *nd) {
    if (nd->n < nd->cap)
        return 0;
    size_t cap = nd->cap ? nd->cap * 2 : 4;
    jnode_t **kids = arena_alloc(dc, cap * sizeof *kids);
    const uint8_t **keys = arena_alloc(dc, cap * sizeof *keys);
    size_t *klens = arena_alloc(dc, cap * sizeof *klens);
    if (kids == NULL || keys == NULL || klens == NULL)
        return SL_ENOMEM;
    if (nd->n) {
        memcpy(kids, nd->kids, nd->n * sizeof *kids);
        memcpy(keys, nd->keys, nd->n * sizeof *keys);
        memcpy(klens, nd->klens, nd->n * sizeof *klens);
    }
    nd->kids = kids;
    nd->keys = keys;
    nd->klens = klens;
    nd->cap = cap;
    return 0;
}

/* Turns a binary container into an N_OBJ/N_ARR whose children are binary
 * references. Scalars stay N_REF (a path into one is "not found"). */
static int node_expand(dctx_t *dc, jnode_t *nd, int depth) {
    if (nd->kind != N_REF || !sl__jsonb_is_container(nd->type))
        return 0;
    sl_jsonb_cont_t c;
    int err =
        sl__jsonb_cont_open(nd->type, nd->data, nd->avail, nd->short_err, &c);
    if (err)
        return err;
    if (depth + 1 > SL_JSONB_MAX_DEPTH)
        return SL_ECORRUPT;
    nd->kind = c.is_obj ? N_OBJ : N_ARR;
    nd->n = nd->cap = 0;
    for (uint32_t i = 0; i < c.count; i++) {
        uint8_t t;
        const uint8_t *vp;
        size_t vn;
        if ((err = sl__jsonb_visit(&dc->cx)) || (err = node_grow(dc, nd)) ||
            (err = sl__jsonb_cont_value(&c, i, &t, &vp, &vn)))
            return err;
        if (c.is_obj && (err = sl__jsonb_cont_key(&c, i, &nd->keys[nd->n],
                                                  &nd->klens[nd->n])))
            return err;
        if ((nd->kids[nd->n] = node_ref(dc, t, vp, vn, SL_ECORRUPT)) == NULL)
            return SL_ENOMEM;
        nd->n++;
    }
    return 0;
}

static int emit_node(sl_jsonb_ctx_t *cx, const jnode_t *nd, int depth) {
    int err;
    if (nd->kind == N_REF)
        return sl__jsonb_emit_value(cx, nd->type, nd->data, nd->avail, depth,
                                    nd->short_err);
    if (depth + 1 > SL_JSONB_MAX_DEPTH)
        return SL_ECORRUPT;
    int obj = nd->kind == N_OBJ;
    if ((err = sl__jsonb_put(cx, obj ? "{" : "[", 1)))
        return err;
    for (size_t i = 0; i < nd->n; i++) {
        if (i > 0 && (err = sl__jsonb_put(cx, ", ", 2)))
            return err;
        if (obj &&
            ((err = sl__jsonb_put_string(cx, nd->keys[i], nd->klens[i])) ||
             (err = sl__jsonb_put(cx, ": ", 2))))
            return err;
        if ((err = emit_node(cx, nd->kids[i], depth + 1)))
            return err;
    }
    return sl__jsonb_put(cx, obj ? "}" : "]", 1);
}

/* One path leg: a member name (unescaped) or an array index. */
typedef struct {
    int member;
    const uint8_t *name;
    size_t nlen;
    uint64_t index;
    int from_end; /* [last] or [last-N]: index counts from the end. */
} jleg_t;

static int is_ws(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_hex4(const uint8_t *p, size_t left, uint32_t *v) {
    if (left < 4)
        return SL_ECORRUPT;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return SL_ECORRUPT;
        x = (x << 4) | (uint32_t)h;
    }
    *v = x;
    return 0;
}

/* Unescapes the JSON string body at p[0..n) (p[0] is past the opening
 * quote) into dst, which has room for n bytes; sets *consumed to the bytes
 * read including the closing quote. */
static int unquote(const uint8_t *p, size_t n, uint8_t *dst, size_t *dlen,
                   size_t *consumed) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '"') {
            *dlen = o;
            *consumed = i + 1;
            return 0;
        }
        if (c != '\\') {
            dst[o++] = c;
            i++;
            continue;
        }
        if (++i >= n)
            return SL_ECORRUPT;
        c = p[i++];
        switch (c) {
        case '"':
        case '\\':
        case '/': dst[o++] = c; break;
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (read_hex4(p + i, n - i, &cp))
                return SL_ECORRUPT;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u' ||
                    read_hex4(p + i + 2, n - i - 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return SL_ECORRUPT;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return SL_ECORRUPT;
            }
            /* At most 4 output bytes for 6 or 12 input bytes: fits. */
            if (cp < 0x80) {
                dst[o++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                dst[o++] = (uint8_t)(0xC0 | (cp >> 6));
                dst[o++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                dst[o++] = (uint8_t)(0xE0 | (cp >> 12));
                dst[o++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                dst[o++] = (uint8_t)(0x80 | (cp & 0x3F));
            } else {
                dst[o++] = (uint8_t)(0xF0 | (cp >> 18));
                dst[o++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
                dst[o++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                dst[o++] = (uint8_t)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return SL_ECORRUPT;
        }
    }
    return SL_ECORRUPT; /* No closing quote. */
}

static int parse_uint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
    size_t start = *i;
    uint64_t x = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        x = x * 10 + (uint64_t)(p[*i] - '0');
        if (x > UINT32_MAX)
            return SL_ECORRUPT;
        (*i)++;
    }
    if (*i == start)
        return SL_ECORRUPT;
    *v = x;
    return 0;
}

/* Parses a MySQL JSON path without wildcards, ellipses or ranges, as
 * Json_path::to_string() writes it: "$", then ".name", ."quoted name",
 * "[N]", "[last]" or "[last-N]", with optional blanks between tokens.
 * The legs array is arena-allocated. */
static int parse_path(dctx_t *dc, const uint8_t *p, size_t n, jleg_t **legs_out,
                      size_t *nlegs) {
    size_t i = 0, count = 0;
    /* Every leg takes at least two bytes. */
    jleg_t *legs = arena_alloc(dc, (n / 2 + 1) * sizeof *legs);
    uint8_t *names = arena_alloc(dc, n + 1);
    size_t names_used = 0;
    if (legs == NULL || names == NULL)
        return SL_ENOMEM;
    while (i < n && is_ws(p[i]))
        i++;
    if (i >= n || p[i] != '$')
        return SL_ECORRUPT;
    i++;
    for (;;) {
        while (i < n && is_ws(p[i]))
            i++;
        if (i >= n)
            break;
        jleg_t *leg = &legs[count];
        memset(leg, 0, sizeof *leg);
        if (p[i] == '.') {
            i++;
            while (i < n && is_ws(p[i]))
                i++;
            if (i >= n)
                return SL_ECORRUPT;
            leg->member = 1;
            leg->name = names + names_used;
            if (p[i] == '"') {
                size_t used;
                if (unquote(p + i + 1, n - i - 1, names + names_used,
                            &leg->nlen, &used))
                    return SL_ECORRUPT;
                i += 1 + used;
            } else {
                size_t start = i;
                while (i < n && !is_ws(p[i]) && p[i] != '.' && p[i] != '[' &&
                       p[i] != '*' && p[i] != '"')
                    i++;
                if (i == start || (p[start] >= '0' && p[start] <= '9'))
                    return SL_ECORRUPT; /* Empty, wildcard or not a name. */
                leg->nlen = i - start;
                memcpy(names + names_used, p + start, leg->nlen);
            }
            names_used += leg->nlen;
        } else if (p[i] == '[') {
            i++;
            while (i < n && is_ws(p[i]))
                i++;
            if (n - i >= 4 && memcmp(p + i, "last", 4) == 0) {
                i += 4;
                leg->from_end = 1;
                while (i < n && is_ws(p[i]))
                    i++;
                if (i < n && p[i] == '-') {
                    i++;
                    while (i < n && is_ws(p[i]))
                        i++;
                    if (parse_uint(p, n, &i, &leg->index))
                        return SL_ECORRUPT;
                }
            } else if (parse_uint(p, n, &i, &leg->index)) {
                return SL_ECORRUPT; /* "[*]" and the like. */
            }
            while (i < n && is_ws(p[i]))
                i++;
            if (i >= n || p[i] != ']')
                return SL_ECORRUPT; /* Ranges ("to") end up here too. */
            i++;
        } else {
            return SL_ECORRUPT;
        }
        count++;
    }
    *legs_out = legs;
    *nlegs = count;
    return 0;
}

/* MySQL's Json_array_index: the position an index designates in an array
 * of size elements (clamped to size), and whether it is inside. */
static size_t leg_position(const jleg_t *leg, size_t size, int *within) {
    *within = leg->index < size;
    if (leg->from_end)
        return leg->index < size ? size - (size_t)leg->index - 1 : 0;
    return leg->index < size ? (size_t)leg->index : size;
}

static int find_member(const jnode_t *nd, const jleg_t *leg, size_t *at) {
    for (size_t i = 0; i < nd->n; i++)
        if (nd->klens[i] == leg->nlen &&
            memcmp(nd->keys[i], leg->name, leg->nlen) == 0) {
            *at = i;
            return 1;
        }
    return 0;
}

/* Follows legs[0..nlegs) from root, expanding containers on the way.
 * Sets *found to NULL when the path does not exist (no auto-wrapping). */
static int seek(dctx_t *dc, jnode_t *root, const jleg_t *legs, size_t nlegs,
                jnode_t **found, int *depth) {
    jnode_t *nd = root;
    int err;
    *found = NULL;
    *depth = 0;
    for (size_t k = 0; k < nlegs; k++) {
        if ((err = node_expand(dc, nd, (int)k)))
            return err;
        size_t at;
        int within;
        if (nd->kind == N_ARR && !legs[k].member) {
            at = leg_position(&legs[k], nd->n, &within);
            if (!within)
                return 0;
        } else if (nd->kind == N_OBJ && legs[k].member) {
            if (!find_member(nd, &legs[k], &at))
                return 0;
        } else {
            return 0;
        }
        nd = nd->kids[at];
    }
    *found = nd;
    *depth = (int)nlegs;
    return 0;
}

/* MySQL's Json_key_comparator: shorter keys first, then bytewise. */
static int key_before(const uint8_t *a, size_t alen, const uint8_t *b,
                      size_t blen) {
    if (alen != blen)
        return alen < blen;
    return memcmp(a, b, alen) < 0;
}

static int node_insert_at(dctx_t *dc, jnode_t *nd, size_t at, jnode_t *kid,
                          const uint8_t *key, size_t klen) {
    int err = node_grow(dc, nd);
    if (err)
        return err;
    size_t tail = nd->n - at;
    memmove(&nd->kids[at + 1], &nd->kids[at], tail * sizeof *nd->kids);
    memmove(&nd->keys[at + 1], &nd->keys[at], tail * sizeof *nd->keys);
    memmove(&nd->klens[at + 1], &nd->klens[at], tail * sizeof *nd->klens);
    nd->kids[at] = kid;
    nd->keys[at] = key;
    nd->klens[at] = klen;
    nd->n++;
    return 0;
}

static void node_remove_at(jnode_t *nd, size_t at) {
    size_t tail = nd->n - at - 1;
    memmove(&nd->kids[at], &nd->kids[at + 1], tail * sizeof *nd->kids);
    memmove(&nd->keys[at], &nd->keys[at + 1], tail * sizeof *nd->keys);
    memmove(&nd->klens[at], &nd->klens[at + 1], tail * sizeof *nd->klens);
    nd->n--;
}

/* Applies one diff; SL_ECORRUPT where MySQL returns REJECTED. */
static int apply_one(dctx_t *dc, jnode_t *root, int op, const jleg_t *legs,
                     size_t nlegs, jnode_t *val) {
    jnode_t *parent;
    int depth, err;
    if (nlegs == 0)
        return SL_ECORRUPT; /* MySQL never diffs the root: rejected. */
    if ((err = seek(dc, root, legs, nlegs - 1, &parent, &depth)))
        return err;
    if (parent == NULL)
        return SL_ECORRUPT;
    if ((err = node_expand(dc, parent, depth)))
        return err;
    const jleg_t *last = &legs[nlegs - 1];
    size_t at;
    int within;
    if (parent->kind == N_OBJ && last->member) {
        int exists = find_member(parent, last, &at);
        switch (op) {
        case SL_JSONDIFF_REPLACE:
            if (!exists)
                return SL_ECORRUPT;
            parent->kids[at] = val;
            return 0;
        case SL_JSONDIFF_INSERT:
            if (exists)
                return SL_ECORRUPT;
            for (at = 0; at < parent->n; at++)
                if (key_before(last->name, last->nlen, parent->keys[at],
                               parent->klens[at]))
                    break;
            return node_insert_at(dc, parent, at, val, last->name, last->nlen);
        default:
            if (!exists)
                return SL_ECORRUPT;
            node_remove_at(parent, at);
            return 0;
        }
    }
    if (parent->kind == N_ARR && !last->member) {
        at = leg_position(last, parent->n, &within);
        switch (op) {
        case SL_JSONDIFF_REPLACE:
            if (!within)
                return SL_ECORRUPT;
            parent->kids[at] = val;
            return 0;
        case SL_JSONDIFF_INSERT:
            return node_insert_at(dc, parent, at, val, NULL, 0);
        default:
            if (!within)
                return SL_ECORRUPT;
            node_remove_at(parent, at);
            return 0;
        }
    }
    return SL_ECORRUPT;
}

static int diff_apply(dctx_t *dc, const uint8_t *before, size_t before_len,
                      const uint8_t *diff, size_t diff_len) {
    static const uint8_t null_literal[1] = {0};
    jnode_t *root;
    int err;
    if (before_len == 0)
        root = node_ref(dc, SL_JT_LITERAL, null_literal, 1, SL_ETRUNC);
    else
        root = node_ref(dc, before[0], before + 1, before_len - 1, SL_ETRUNC);
    if (root == NULL)
        return SL_ENOMEM;
    sl_reader_t rd;
    sl_reader_init(&rd, diff, diff_len);
    while (sl_reader_left(&rd) > 0) {
        uint8_t op;
        uint64_t plen, vlen;
        const uint8_t *path, *vbytes = NULL;
        if ((err = sl_rd_u8(&rd, &op)))
            return err;
        if (op > SL_JSONDIFF_REMOVE)
            return SL_ECORRUPT;
        if ((err = sl_rd_lenenc(&rd, &plen)))
            return err;
        if (plen > sl_reader_left(&rd))
            return SL_ETRUNC;
        if ((err = sl_rd_bytes(&rd, (size_t)plen, &path)))
            return err;
        if (op != SL_JSONDIFF_REMOVE) {
            if ((err = sl_rd_lenenc(&rd, &vlen)))
                return err;
            if (vlen > sl_reader_left(&rd))
                return SL_ETRUNC;
            if (vlen == 0)
                return SL_ECORRUPT; /* parse_binary() rejects it. */
            if ((err = sl_rd_bytes(&rd, (size_t)vlen, &vbytes)))
                return err;
        }
        jleg_t *legs;
        size_t nlegs;
        if ((err = parse_path(dc, path, (size_t)plen, &legs, &nlegs)))
            return err;
        jnode_t *val = NULL;
        if (vbytes != NULL &&
            (val = node_ref(dc, vbytes[0], vbytes + 1, (size_t)vlen - 1,
                            SL_ECORRUPT)) == NULL)
            return SL_ENOMEM;
        if ((err = apply_one(dc, root, op, legs, nlegs, val)))
            return err;
    }
    return emit_node(&dc->cx, root, 0);
}

int sl_jsondiff_apply(const uint8_t *before, size_t before_len,
                      const uint8_t *diff, size_t diff_len, sl_buf_t *out) {
    size_t mark = out->len;
    dctx_t dc;
    dc.blocks = NULL;
    /* Expanded children are visited twice (expanded, then printed), so the
     * node budget is doubled; values from diffs add their own bytes. */
    sl__jsonb_ctx_init(&dc.cx, out, before_len + diff_len);
    dc.cx.nodes_left = 2 * (before_len + diff_len) + 2;
    int err = diff_apply(&dc, before, before_len, diff, diff_len);
    arena_free(&dc);
    if (err)
        out->len = mark;
    return err;
}
