/*
 * MySQL geometry values as Well-Known Text, the form Maxwell writes
 * (docs/change-events.md, "maxwell"): Maxwell reads the value with JTS
 * 1.13's WKBReader after dropping the 4-byte SRID and writes JTS's
 * Geometry.toText(), so this renders what that WKTWriter renders.
 *
 * Input: a MySQL geometry value, a u32 SRID (little-endian) followed by
 * one OGC Well-Known Binary geometry:
 *
 *   u8   byte order: 0 big-endian (XDR), 1 little-endian (NDR); it applies
 *        to this geometry's own integers and doubles (each nested one
 *        carries its own)
 *   u32  type: 1 Point, 2 LineString, 3 Polygon, 4 MultiPoint,
 *        5 MultiLineString, 6 MultiPolygon, 7 GeometryCollection
 *        (2D only: Z/M variants are refused, MySQL never writes them)
 *   Point               f64 x, f64 y
 *   LineString          u32 n, n points (x, y)
 *   Polygon             u32 rings, per ring u32 n and n points
 *   Multi* / Collection u32 n, n whole WKB geometries (each with byte
 *                       order and type; a Multi* only of its own kind)
 *
 * The value is valid when it is consumed exactly, every count fits the
 * bytes that remain (checked before any loop), nesting is at most
 * SL_WKT_MAX_DEPTH deep, and every coordinate is finite.
 *
 * Output (JTS WKTWriter): "POINT (1 2)", "LINESTRING (0 0, 1 1)",
 * "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
 * "MULTIPOINT ((1 2), (3 4))", "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
 * "MULTIPOLYGON (((...)), ((...)))", "GEOMETRYCOLLECTION (POINT (1 2),
 * LINESTRING (0 0, 1 1))", "X EMPTY" for no points or members. Numbers as
 * Java's DecimalFormat("0.################") writes a double: plain
 * decimal notation (no exponent), the shortest digits that read back as
 * the same double, at most 16 after the point (rounded half-even), no
 * trailing zeros or point, "-0" for negative zero.
 */
#include "format_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than MySQL's own geometry collections reach in
 * practice; it bounds the recursion on hostile input. */
#define SL_WKT_MAX_DEPTH 32

typedef struct {
    const uint8_t *p, *end;
    sl_buf_t *out;
    const char *why; /* What was wrong, for the caller's error. */
} wkt_t;

static int get_u32(wkt_t *w, int le, uint32_t *v) {
    if (w->end - w->p < 4) {
        w->why = "truncated";
        return -1;
    }
    *v = le ? sl_get_u32le(w->p)
            : (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 |
                  (uint32_t)w->p[2] << 8 | w->p[3];
    w->p += 4;
    return 0;
}

/* Appends d as DecimalFormat("0.################") does. */
static void put_number(sl_buf_t *out, double d) {
    char e[40];
    int prec = 15;
    /* The shortest digits that read back as d: a value whose shortest
     * form has fewer than 15 digits rounds to it at 15 with trailing
     * zeros, stripped below. */
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e is "[-]D.DDDe[+-]XX": split into sign, digits and exponent. */
    const char *s = e;
    int neg = *s == '-';
    if (neg)
        s++;
    char dig[24];
    int nd = 0;
    for (; *s != 'e'; s++)
        if (*s != '.')
            dig[nd++] = *s;
    int exp10 = atoi(s + 1);
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    /* Plain notation: integer digits, then fraction digits (at most
     * 16, rounded half-even on the shortest digits). */
    char txt[400];
    int n = 0, point;
    if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            txt[n++] = i < nd ? dig[i] : '0';
        point = n;
        for (int i = exp10 + 1; i < nd; i++)
            txt[n++] = dig[i];
    } else {
        txt[n++] = '0';
        point = n;
        for (int i = 0; i < -exp10 - 1 && n - point <= 16; i++)
            txt[n++] = '0';
        for (int i = 0; i < nd; i++) /* Past the cut when zeros were. */
            txt[n++] = dig[i];
    }
    if (n - point > 16) {
        int cut = point + 16;
        int up = txt[cut] > '5';
        if (txt[cut] == '5') {
            int rest = 0;
            for (int i = cut + 1; i < n; i++)
                rest |= txt[i] != '0';
            up = rest || (txt[cut - 1] - '0') % 2 == 1;
        }
        n = cut;
        for (int i = n - 1; up && i >= 0; i--) {
            if (txt[i] == '9') {
                txt[i] = '0';
            } else {
                txt[i]++;
                up = 0;
            }
        }
        if (up) { /* 9.99... carried into a new leading digit. */
            memmove(txt + 1, txt, (size_t)n);
            txt[0] = '1';
            n++;
            point++;
        }
    }
    while (n > point && txt[n - 1] == '0')
        n--;
    if (neg)
        sl__dec_out_c(out, '-');
    sl__dec_out_raw(out, txt, (size_t)point);
    if (n > point) {
        sl__dec_out_c(out, '.');
        sl__dec_out_raw(out, txt + point, (size_t)(n - point));
    }
}

/* Reads one point's x and y and appends "X Y". */
static int put_coord(wkt_t *w, int le) {
    if (w->end - w->p < 16) {
        w->why = "truncated";
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        uint64_t bits = 0;
        for (int b = 0; b < 8; b++)
            bits |= (uint64_t)w->p[le ? b : 7 - b] << (8 * b);
        w->p += 8;
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) {
            w->why = "a coordinate is not a finite number";
            return -1;
        }
        if (i == 1)
            sl__dec_out_c(w->out, ' ');
        put_number(w->out, d);
    }
    return 0;
}

/* Reads a count of items of at least min_size bytes each: it must fit
 * the bytes that remain, which bounds every loop by the input's size. */
static int get_count(wkt_t *w, int le, size_t min_size, uint32_t *n) {
    if (get_u32(w, le, n) != 0)
        return -1;
    if ((size_t)(w->end - w->p) / min_size < *n) {
        w->why = "a count is larger than the value";
        return -1;
    }
    return 0;
}

static const char *const type_names[8] = {
    NULL,         "POINT",           "LINESTRING",   "POLYGON",
    "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION",
};

static int put_geometry(wkt_t *w, int depth, uint32_t want, int tagged);

/* What a list holds: points (a LineString, a ring), rings (a Polygon),
 * or whole geometries (a Multi* or collection). */
typedef enum { L_POINTS, L_RINGS, L_MEMBERS } list_t;

/* "(item, item, ...)" or "EMPTY": a u32 count, then the items; members
 * must be of type member (0: any, in a collection). */
static int put_list(wkt_t *w, int le, int depth, list_t kind, uint32_t member) {
    /* An item's least size: a point's 16 bytes, a ring's count, a
     * member's byte order and type and at least a count. */
    static const size_t least[] = {16, 4, 9};
    uint32_t n;
    if (get_count(w, le, least[kind], &n) != 0)
        return -1;
    if (n == 0) {
        SL__DEC_OUT_LIT(w->out, "EMPTY");
        return 0;
    }
    sl__dec_out_c(w->out, '(');
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0)
            SL__DEC_OUT_LIT(w->out, ", ");
        int rc = kind == L_POINTS ? put_coord(w, le)
                 : kind == L_RINGS
                     ? put_list(w, le, depth, L_POINTS, 0)
                     : put_geometry(w, depth + 1, member, member == 0);
        if (rc != 0)
            return -1;
    }
    sl__dec_out_c(w->out, ')');
    return 0;
}

/* One WKB geometry; want: the type it must have (0: any); tagged: with
 * its type name (members of Multi* are written without, as JTS does). */
static int put_geometry(wkt_t *w, int depth, uint32_t want, int tagged) {
    if (depth > SL_WKT_MAX_DEPTH) {
        w->why = "geometry collections nested too deep";
        return -1;
    }
    if (w->p == w->end || *w->p > 1) {
        w->why = w->p == w->end ? "truncated" : "bad byte order";
        return -1;
    }
    int le = *w->p++ == 1;
    uint32_t type;
    if (get_u32(w, le, &type) != 0)
        return -1;
    if (type < 1 || type > 7 || (want != 0 && type != want)) {
        w->why = type < 1 || type > 7 ? "unknown geometry type"
                                      : "a member of the wrong type";
        return -1;
    }
    if (tagged) {
        sl_buf_append_str(w->out, type_names[type]);
        sl__dec_out_c(w->out, ' ');
    }
    switch (type) {
    case 1: /* Tagged "POINT (x y)"; a MultiPoint's member "(x y)". */
        sl__dec_out_c(w->out, '(');
        if (put_coord(w, le) != 0)
            return -1;
        sl__dec_out_c(w->out, ')');
        return 0;
    case 2: return put_list(w, le, depth, L_POINTS, 0);
    case 3: return put_list(w, le, depth, L_RINGS, 0);
    case 7: return put_list(w, le, depth, L_MEMBERS, 0);
    default: /* A Multi*: members of the type it is a collection of. */
        return put_list(w, le, depth, L_MEMBERS, type - 3);
    }
}

int sl__fmt_wkt(const uint8_t *p, size_t n, sl_buf_t *out, const char **why) {
    wkt_t w = {.p = p + 4, .end = p + n, .out = out, .why = NULL};
    if (n < 4 || put_geometry(&w, 0, 0, 1) != 0) {
        *why = w.why != NULL ? w.why : "truncated";
        return SL_ECORRUPT;
    }
    if (w.p != w.end) {
        *why = "bytes after the geometry";
        return SL_ECORRUPT;
    }
    return 0;
}
