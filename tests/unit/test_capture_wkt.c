/*
 * Tests for capture/decoder/format_wkt.c: MySQL geometry values (SRID +
 * WKB) rendered as the WKT Maxwell writes (JTS 1.13's WKTWriter), built
 * by hand from the OGC layout in both byte orders, and hostile values
 * (truncated, counts beyond the value, nesting past the limit, members of
 * the wrong type, Z/M types, non-finite coordinates, trailing bytes)
 * refused with a reason. The real server's values are checked by the
 * capture_formats integration test.
 */
#include "capture/decoder/format_int.h"

#include "sl_test.h"

#include <math.h>
#include <string.h>

/* ---- A small WKB writer -------------------------------------------------- */

typedef struct {
    uint8_t b[4096];
    size_t n;
    int be; /* Big-endian (XDR) geometries. */
} wkb_t;

static void u8(wkb_t *w, uint8_t v) { w->b[w->n++] = v; }

static void u32(wkb_t *w, uint32_t v) {
    for (int i = 0; i < 4; i++)
        w->b[w->n++] = (uint8_t)(v >> (8 * (w->be ? 3 - i : i)));
}

static void f64(wkb_t *w, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++)
        w->b[w->n++] = (uint8_t)(v >> (8 * (w->be ? 7 - i : i)));
}

static void head(wkb_t *w, uint32_t type) {
    u8(w, w->be ? 0 : 1);
    u32(w, type);
}

static void point(wkb_t *w, double x, double y) {
    head(w, 1);
    f64(w, x);
    f64(w, y);
}

/* A value: the SRID (always little-endian, as MySQL stores it). */
static void srid(wkb_t *w, uint32_t s) {
    int be = w->be;
    w->be = 0;
    u32(w, s);
    w->be = be;
}

static char text[1 << 14];

/* Renders w; returns the text, or "ERR: why". */
static const char *wkt(const wkb_t *w) {
    sl_buf_t out = SL_BUF_INIT;
    const char *why = NULL;
    int rc = sl__fmt_wkt(w->b, w->n, &out, &why);
    if (rc != 0) {
        SL_CHECK(rc == SL_ECORRUPT && why != NULL);
        snprintf(text, sizeof text, "ERR: %s", why);
    } else {
        SL_CHECK(out.len < sizeof text);
        memcpy(text, out.data, out.len);
        text[out.len] = 0;
    }
    sl_buf_free(&out);
    return text;
}

static const char *point_text(double x, double y) {
    static wkb_t w;
    memset(&w, 0, sizeof w);
    srid(&w, 0);
    point(&w, x, y);
    return wkt(&w);
}

/* ---- Geometry types -------------------------------------------------------
 */

SL_TEST(wkt_every_type) {
    for (int be = 0; be < 2; be++) {
        wkb_t w = {.be = be};
        srid(&w, 4326); /* Dropped, as Maxwell drops it. */
        point(&w, 1, 2);
        SL_CHECK_STR(wkt(&w), "POINT (1 2)");

        w.n = 0;
        srid(&w, 0);
        head(&w, 2);
        u32(&w, 3);
        f64(&w, 0), f64(&w, 0), f64(&w, 1.5), f64(&w, -2), f64(&w, 3),
            f64(&w, 4);
        SL_CHECK_STR(wkt(&w), "LINESTRING (0 0, 1.5 -2, 3 4)");

        w.n = 0;
        srid(&w, 0);
        head(&w, 3);
        u32(&w, 2);
        u32(&w, 4);
        f64(&w, 0), f64(&w, 0), f64(&w, 4), f64(&w, 0), f64(&w, 4), f64(&w, 4),
            f64(&w, 0), f64(&w, 0);
        u32(&w, 4);
        f64(&w, 1), f64(&w, 1), f64(&w, 2), f64(&w, 1), f64(&w, 2), f64(&w, 2),
            f64(&w, 1), f64(&w, 1);
        SL_CHECK_STR(wkt(&w),
                     "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))");

        w.n = 0;
        srid(&w, 0);
        head(&w, 4);
        u32(&w, 2);
        point(&w, 1, 2);
        point(&w, 3, 4);
        SL_CHECK_STR(wkt(&w), "MULTIPOINT ((1 2), (3 4))");

        w.n = 0;
        srid(&w, 0);
        head(&w, 5);
        u32(&w, 2);
        for (int i = 0; i < 2; i++) {
            head(&w, 2);
            u32(&w, 2);
            f64(&w, i), f64(&w, i), f64(&w, i + 1), f64(&w, i + 1);
        }
        SL_CHECK_STR(wkt(&w), "MULTILINESTRING ((0 0, 1 1), (1 1, 2 2))");

        w.n = 0;
        srid(&w, 0);
        head(&w, 6);
        u32(&w, 2);
        for (int i = 0; i < 2; i++) {
            head(&w, 3);
            u32(&w, 1);
            u32(&w, 4);
            f64(&w, i), f64(&w, 0), f64(&w, i + 1), f64(&w, 0), f64(&w, i + 1),
                f64(&w, 1), f64(&w, i), f64(&w, 0);
        }
        SL_CHECK_STR(wkt(&w), "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), "
                              "((1 0, 2 0, 2 1, 1 0)))");

        /* A collection of a point, a line and a nested collection. */
        w.n = 0;
        srid(&w, 0);
        head(&w, 7);
        u32(&w, 3);
        point(&w, 1, 2);
        head(&w, 2);
        u32(&w, 2);
        f64(&w, 0), f64(&w, 0), f64(&w, 1), f64(&w, 1);
        head(&w, 7);
        u32(&w, 1);
        point(&w, 5, 6);
        SL_CHECK_STR(wkt(&w), "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING "
                              "(0 0, 1 1), GEOMETRYCOLLECTION (POINT (5 6)))");
    }
}

SL_TEST(wkt_empty) {
    static const struct {
        uint32_t type;
        const char *want;
    } e[] = {{2, "LINESTRING EMPTY"},   {3, "POLYGON EMPTY"},
             {4, "MULTIPOINT EMPTY"},   {5, "MULTILINESTRING EMPTY"},
             {6, "MULTIPOLYGON EMPTY"}, {7, "GEOMETRYCOLLECTION EMPTY"}};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        wkb_t w = {0};
        srid(&w, 0);
        head(&w, e[i].type);
        u32(&w, 0);
        SL_CHECK_STR(wkt(&w), e[i].want);
    }
}

/* Numbers as Java's DecimalFormat("0.################"): the shortest
 * digits of the double, plain notation, at most 16 after the point
 * rounded half-even, no trailing zeros. */
SL_TEST(wkt_numbers) {
    SL_CHECK_STR(point_text(0.1, -0.5), "POINT (0.1 -0.5)");
    SL_CHECK_STR(point_text(1.0 / 3, 2.0 / 3),
                 "POINT (0.3333333333333333 0.6666666666666666)");
    SL_CHECK_STR(point_text(1e20, 1e-7), "POINT (100000000000000000000 "
                                         "0.0000001)");
    SL_CHECK_STR(point_text(0.1 + 0.2, 123456789.123456789),
                 "POINT (0.3 123456789.12345679)");
    SL_CHECK_STR(point_text(0.01234567890123456789, 1.5e-17),
                 "POINT (0.0123456789012346 0)");
    SL_CHECK_STR(point_text(-1.5e-17, -0.0), "POINT (-0 -0)");
    SL_CHECK_STR(point_text(-122.4194155, 37.7749295),
                 "POINT (-122.4194155 37.7749295)");
    /* Rounding at the 16th digit carries into the integer part. */
    SL_CHECK_STR(point_text(0.09999999999999999, 9.99999999999999999e-1),
                 "POINT (0.1 1)");
    /* The largest double: 309 digits, no exponent; the smallest: 0. */
    const char *got = point_text(1.7976931348623157e308, 5e-324);
    SL_CHECK(strncmp(got, "POINT (17976931348623157000", 27) == 0);
    SL_CHECK(strlen(got) == strlen("POINT ( 0)") + 309);
    SL_CHECK_STR(got + strlen(got) - 3, " 0)");
}

/* ---- Hostile values ------------------------------------------------------ */

SL_TEST(wkt_refuses_bad_values) {
    wkb_t w = {0};
    /* Shorter than the SRID, an SRID alone, a truncated point. */
    w.n = 3;
    SL_CHECK_STR(wkt(&w), "ERR: truncated");
    w.n = 0;
    srid(&w, 0);
    SL_CHECK_STR(wkt(&w), "ERR: truncated");
    point(&w, 1, 2);
    w.n -= 1;
    SL_CHECK_STR(wkt(&w), "ERR: truncated");
    /* Trailing bytes. */
    w.n = 0;
    srid(&w, 0);
    point(&w, 1, 2);
    u8(&w, 0);
    SL_CHECK_STR(wkt(&w), "ERR: bytes after the geometry");
    /* A bad byte order, an unknown type, a Z type (1001). */
    w.n = 0;
    srid(&w, 0);
    u8(&w, 2);
    u32(&w, 1);
    SL_CHECK_STR(wkt(&w), "ERR: bad byte order");
    uint32_t types[] = {0, 8, 1001, 0x80000001u};
    for (size_t i = 0; i < 4; i++) {
        w.n = 0;
        srid(&w, 0);
        head(&w, types[i]);
        f64(&w, 1), f64(&w, 2), f64(&w, 3);
        SL_CHECK_STR(wkt(&w), "ERR: unknown geometry type");
    }
    /* Counts beyond the value: refused before any loop runs. */
    uint32_t kinds[] = {2, 3, 4, 5, 6, 7};
    for (size_t i = 0; i < 6; i++) {
        w.n = 0;
        srid(&w, 0);
        head(&w, kinds[i]);
        u32(&w, 0xFFFFFFFFu);
        f64(&w, 1), f64(&w, 2);
        SL_CHECK_STR(wkt(&w), "ERR: a count is larger than the value");
    }
    /* A MultiPoint holding a LineString. */
    w.n = 0;
    srid(&w, 0);
    head(&w, 4);
    u32(&w, 1);
    head(&w, 2);
    u32(&w, 0);
    SL_CHECK_STR(wkt(&w), "ERR: a member of the wrong type");
    /* NaN and infinity. */
    SL_CHECK_STR(point_text(NAN, 1), "ERR: a coordinate is not a finite "
                                     "number");
    SL_CHECK_STR(point_text(1, -INFINITY), "ERR: a coordinate is not a "
                                           "finite number");
}

SL_TEST(wkt_refuses_deep_nesting) {
    /* 32 nested collections around a point render; 33 are refused. */
    for (int depth = 32; depth <= 33; depth++) {
        wkb_t w = {0};
        srid(&w, 0);
        for (int i = 0; i < depth; i++) {
            head(&w, 7);
            u32(&w, 1);
        }
        point(&w, 1, 2);
        const char *got = wkt(&w);
        if (depth == 32)
            SL_CHECK(strncmp(got, "GEOMETRYCOLLECTION (GEOMETRYCOLLECTION",
                             38) == 0 &&
                     strstr(got, "POINT (1 2)") != NULL);
        else
            SL_CHECK_STR(got, "ERR: geometry collections nested too deep");
    }
    /* Thousands of levels (a value of 100 KiB) fail the same way, without
     * recursing past the limit. */
    static uint8_t deep[100000];
    for (size_t i = 0; i + 9 <= sizeof deep - 4; i += 9) {
        deep[4 + i] = 1;
        deep[4 + i + 1] = 7;
        deep[4 + i + 5] = 1;
    }
    sl_buf_t out = SL_BUF_INIT;
    const char *why = NULL;
    SL_CHECK(sl__fmt_wkt(deep, sizeof deep, &out, &why) == SL_ECORRUPT);
    SL_CHECK_STR(why, "geometry collections nested too deep");
    sl_buf_free(&out);
}
