/*
 * TABLE_MAP_EVENT (19): which table a table id means, with the column
 * types and their metadata.
 *
 * Layout: post-header table_id (u48, or u32 when the post-header length is
 * 6), flags u16. Body: db_len u8, db, NUL, table_len u8, table, NUL,
 * column count (lenenc), one type byte per column, metadata length
 * (lenenc), metadata (per type: FLOAT/DOUBLE/BLOB/GEOMETRY/JSON/VECTOR/
 * TIME2/DATETIME2/TIMESTAMP2 1 byte; VARCHAR/VAR_STRING u16le max bytes;
 * MariaDB's BLOB_COMPRESSED (140) 1 byte, the length prefix size as for
 * BLOB; VARCHAR_COMPRESSED (141) u16le, the column's maximum bytes plus
 * one for the compression header byte;
 * NEWDECIMAL precision u8, scale u8; STRING real type u8 and length u8
 * (bits 4-5 of the real type, inverted, extend the length); BIT bits%8 u8,
 * bytes u8; others none), nullability bitmap (ceil(n/8) bytes, bit i =
 * column i, LSB first), then optional metadata (binlog_row_metadata) as
 * TLVs: type u8, length lenenc, value:
 *   1 signedness: 1 bit per numeric column, MSB first (1 = unsigned)
 *   2 default charset: lenenc collation, then (lenenc index among the
 *     character columns, lenenc collation) pairs for the exceptions
 *   3 column charset: lenenc collation per character column
 *   4 column name: (lenenc length, bytes) per column
 *   5 SET values, 6 ENUM values: per such column lenenc count, then
 *     (lenenc length, bytes) per value
 *   7 geometry type: lenenc per GEOMETRY column
 *   8 simple primary key: lenenc column indexes
 *   9 primary key with prefix: (lenenc index, lenenc prefix) pairs
 *   10 ENUM/SET default charset, 11 ENUM/SET column charset (as 2, 3)
 *   12 column visibility: 1 bit per column, MSB first
 *   13 vector dimensionality: lenenc per VECTOR column (MySQL 9)
 * Unknown optional fields are skipped by their length (servers add
 * informational ones); a field that overruns the event is an error.
 *
 * Table maps live until the end of the statement (the rows event with
 * STMT_END_F) or transaction, like a replica's; slots are reused so a
 * busy stream does not allocate per statement.
 */
#include "capture/schema/schema.h"
#include "internal.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

static sl_tablemap_t *slot_get(sl_binlog_t *dec, uint64_t table_id) {
    for (uint32_t i = 0; i < dec->nmaps; i++)
        if (dec->maps[i].in_use && dec->maps[i].table_id == table_id)
            return &dec->maps[i];
    for (uint32_t i = 0; i < dec->nmaps; i++)
        if (!dec->maps[i].in_use)
            return &dec->maps[i];
    if (dec->nmaps == dec->maps_cap) {
        if (dec->maps_cap >= SL_MAX_TABLEMAPS)
            return NULL;
        uint32_t ncap = dec->maps_cap ? dec->maps_cap * 2 : 8;
        sl_tablemap_t *n = realloc(dec->maps, ncap * sizeof(*n));
        if (n == NULL)
            return NULL;
        memset(n + dec->maps_cap, 0, (ncap - dec->maps_cap) * sizeof(*n));
        dec->maps = n;
        dec->maps_cap = ncap;
    }
    return &dec->maps[dec->nmaps++];
}

sl_tablemap_t *sl__dec_tablemap_find(sl_binlog_t *dec, uint64_t table_id) {
    for (uint32_t i = 0; i < dec->nmaps; i++)
        if (dec->maps[i].in_use && dec->maps[i].table_id == table_id)
            return &dec->maps[i];
    return NULL;
}

void sl__dec_tablemap_release_all(sl_binlog_t *dec) {
    for (uint32_t i = 0; i < dec->nmaps; i++)
        dec->maps[i].in_use = 0;
}

void sl__dec_tablemap_free_all(sl_binlog_t *dec) {
    for (uint32_t i = 0; i < dec->nmaps; i++) {
        sl_tablemap_t *tm = &dec->maps[i];
        sl_buf_free(&tm->raw);
        sl_buf_free(&tm->keys);
        for (int j = 0; j < 3; j++)
            sl_buf_free(&tm->rowhead[j]);
        sl_buf_free(&tm->rowmid);
        sl_buf_free(&tm->fmtmeta);
        free(tm->cols);
        free(tm->strv);
        free(tm->pk);
    }
    free(dec->maps);
    dec->maps = NULL;
    dec->nmaps = dec->maps_cap = 0;
}

/* The columns that have a bit in the signedness field. MySQL decides by
 * binlog type; MariaDB by field class, and its YEAR is a TINYINT, so a
 * YEAR column has a bit there (seen on MariaDB 10.11: without it every
 * later numeric column took its neighbour's sign). */
static int is_numeric(const sl_binlog_t *dec, const sl_column_t *c) {
    switch (c->type) {
    case SL_T_TINY:
    case SL_T_SHORT:
    case SL_T_INT24:
    case SL_T_LONG:
    case SL_T_LONGLONG:
    case SL_T_NEWDECIMAL:
    case SL_T_FLOAT:
    case SL_T_DOUBLE: return 1;
    case SL_T_YEAR: return dec->mariadb;
    default: return 0;
    }
}

/* The columns that have an entry in the charset fields. GEOMETRY is a BLOB
 * underneath and has one on both servers, so text columns after it would
 * otherwise take the wrong charset. */
static int is_character(const sl_column_t *c) {
    switch (c->real_type) {
    case SL_T_STRING:
    case SL_T_VAR_STRING:
    case SL_T_VARCHAR:
    case SL_T_BLOB:
    case SL_T_VARCHAR_COMPRESSED: /* MariaDB counts compressed columns */
    case SL_T_BLOB_COMPRESSED:    /* here (seen on 10.11). */
    case SL_T_VECTOR:             /* MySQL 9 counts VECTOR here. */
    case SL_T_GEOMETRY: return 1;
    default: return 0;
    }
}

static int is_enum_set(const sl_column_t *c) {
    return c->real_type == SL_T_ENUM || c->real_type == SL_T_SET;
}

#define TM_FAIL(...) sl__dec_fail(dec, SL_ECORRUPT, __VA_ARGS__)

/* Applies a charset field (types 2/3 or 10/11) to the columns chosen by
 * pick. */
static int apply_charsets(sl_binlog_t *dec, sl_tablemap_t *tm, sl_reader_t *rd,
                          int is_default, int (*pick)(const sl_column_t *)) {
    uint64_t coll;
    if (is_default) {
        if (sl_rd_lenenc(rd, &coll) != 0)
            return TM_FAIL("table map default charset truncated");
        for (uint32_t i = 0; i < tm->ncols; i++)
            if (pick(&tm->cols[i]))
                tm->cols[i].collation = (uint32_t)coll;
        while (sl_reader_left(rd) > 0) {
            uint64_t idx;
            if (sl_rd_lenenc(rd, &idx) != 0 || sl_rd_lenenc(rd, &coll) != 0)
                return TM_FAIL("table map charset exception truncated");
            uint64_t k = 0;
            int found = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (!pick(&tm->cols[i]))
                    continue;
                if (k++ == idx) {
                    tm->cols[i].collation = (uint32_t)coll;
                    found = 1;
                    break;
                }
            }
            if (!found)
                return TM_FAIL("table map charset for column %llu of %u",
                               (unsigned long long)idx, tm->ncols);
        }
    } else {
        for (uint32_t i = 0; i < tm->ncols; i++) {
            if (!pick(&tm->cols[i]))
                continue;
            if (sl_rd_lenenc(rd, &coll) != 0)
                return TM_FAIL("table map column charsets truncated");
            tm->cols[i].collation = (uint32_t)coll;
        }
    }
    return 0;
}

static int add_strv(sl_tablemap_t *tm, uint32_t off, uint32_t len) {
    if (tm->nstrv == tm->strv_cap) {
        uint32_t ncap = tm->strv_cap ? tm->strv_cap * 2 : 32;
        sl_strref_t *n = realloc(tm->strv, ncap * sizeof(*n));
        if (n == NULL)
            return SL_ENOMEM;
        tm->strv = n;
        tm->strv_cap = ncap;
    }
    tm->strv[tm->nstrv].off = off;
    tm->strv[tm->nstrv].len = len;
    tm->nstrv++;
    return 0;
}

static int add_pk(sl_tablemap_t *tm, uint32_t idx) {
    if (tm->npk == tm->pk_cap) {
        uint32_t ncap = tm->pk_cap ? tm->pk_cap * 2 : 4;
        uint32_t *n = realloc(tm->pk, ncap * sizeof(*n));
        if (n == NULL)
            return SL_ENOMEM;
        tm->pk = n;
        tm->pk_cap = ncap;
    }
    tm->pk[tm->npk++] = idx;
    return 0;
}

static int parse_optional(sl_binlog_t *dec, sl_tablemap_t *tm,
                          sl_reader_t *rd) {
    const uint8_t *base = tm->raw.data;
    while (sl_reader_left(rd) > 0) {
        uint8_t ftype = 0;
        uint64_t flen;
        sl_rd_u8(rd, &ftype);
        if (sl_rd_lenenc(rd, &flen) != 0 || flen > sl_reader_left(rd))
            return TM_FAIL("table map optional metadata field %u "
                           "overruns the event",
                           ftype);
        sl_reader_t f;
        sl_reader_init(&f, rd->p, flen);
        rd->p += flen;
        int rc = 0;
        switch (ftype) {
        case 1: { /* Signedness. */
            uint32_t k = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (!is_numeric(dec, &tm->cols[i]))
                    continue;
                if (k / 8 >= flen)
                    return TM_FAIL("table map signedness bitmap short");
                tm->cols[i].is_unsigned = (f.p[k / 8] >> (7 - k % 8)) & 1;
                k++;
            }
            tm->has_signedness = 1;
            break;
        }
        case 2:
            rc = apply_charsets(dec, tm, &f, 1, is_character);
            tm->has_charsets = 1;
            break;
        case 3:
            rc = apply_charsets(dec, tm, &f, 0, is_character);
            tm->has_charsets = 1;
            break;
        case 10: rc = apply_charsets(dec, tm, &f, 1, is_enum_set); break;
        case 11: rc = apply_charsets(dec, tm, &f, 0, is_enum_set); break;
        case 4: /* Column names. */
            for (uint32_t i = 0; i < tm->ncols; i++) {
                uint64_t nl;
                if (sl_rd_lenenc(&f, &nl) != 0 || nl > sl_reader_left(&f))
                    return TM_FAIL("table map column names truncated");
                tm->cols[i].name_off = (uint32_t)(f.p - base);
                tm->cols[i].name_len = (uint32_t)nl;
                f.p += nl;
            }
            tm->has_names = 1;
            break;
        case 5:
        case 6: { /* SET / ENUM value names. */
            uint8_t want = ftype == 5 ? SL_T_SET : SL_T_ENUM;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (tm->cols[i].real_type != want)
                    continue;
                uint64_t cnt;
                if (sl_rd_lenenc(&f, &cnt) != 0 || cnt > flen)
                    return TM_FAIL("table map ENUM/SET values truncated");
                tm->cols[i].strv_first = tm->nstrv;
                tm->cols[i].strv_count = (uint32_t)cnt;
                for (uint64_t j = 0; j < cnt; j++) {
                    uint64_t sl;
                    if (sl_rd_lenenc(&f, &sl) != 0 || sl > sl_reader_left(&f))
                        return TM_FAIL("table map ENUM/SET value "
                                       "truncated");
                    if (add_strv(tm, (uint32_t)(f.p - base), (uint32_t)sl) != 0)
                        return sl__dec_fail(dec, SL_ENOMEM, "no memory");
                    f.p += sl;
                }
            }
            break;
        }
        case 7:
        case 13: { /* Geometry type / vector dimensions. */
            uint8_t want = ftype == 7 ? SL_T_GEOMETRY : SL_T_VECTOR;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (tm->cols[i].type != want)
                    continue;
                uint64_t v;
                if (sl_rd_lenenc(&f, &v) != 0)
                    return TM_FAIL("table map field %u truncated", ftype);
                if (ftype == 7)
                    tm->cols[i].geom_type = (uint32_t)v;
                else
                    tm->cols[i].vec_dim = (uint32_t)v;
            }
            break;
        }
        case 8:
        case 9: /* Primary key. */
            while (sl_reader_left(&f) > 0) {
                uint64_t idx, prefix;
                if (sl_rd_lenenc(&f, &idx) != 0)
                    return TM_FAIL("table map primary key truncated");
                if (ftype == 9 && sl_rd_lenenc(&f, &prefix) != 0)
                    return TM_FAIL("table map primary key truncated");
                if (idx >= tm->ncols)
                    return TM_FAIL("primary key column %llu of %u",
                                   (unsigned long long)idx, tm->ncols);
                tm->cols[idx].is_pk = 1;
                if (add_pk(tm, (uint32_t)idx) != 0)
                    return sl__dec_fail(dec, SL_ENOMEM, "no memory");
            }
            tm->has_pk = 1;
            break;
        case 12: /* Visibility. */
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (i / 8 >= flen)
                    return TM_FAIL("table map visibility bitmap short");
                tm->cols[i].visible = (f.p[i / 8] >> (7 - i % 8)) & 1;
            }
            break;
        default: break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The default collation id of a MySQL/MariaDB charset name: columns known
 * only from the schema history carry a charset name, and the value
 * decoder works from collation ids. 0 when the name is unknown. */
static uint32_t default_collation(const char *charset) {
    static const struct {
        const char *name;
        uint32_t id;
    } map[] = {
        {"big5", 1},      {"dec8", 3},      {"cp850", 4},    {"hp8", 6},
        {"koi8r", 7},     {"latin1", 8},    {"latin2", 9},   {"swe7", 10},
        {"ascii", 11},    {"ujis", 12},     {"sjis", 13},    {"hebrew", 16},
        {"tis620", 18},   {"euckr", 19},    {"koi8u", 22},   {"gb2312", 24},
        {"greek", 25},    {"cp1250", 26},   {"gbk", 28},     {"latin5", 30},
        {"armscii8", 32}, {"utf8mb3", 33},  {"utf8", 33},    {"ucs2", 35},
        {"cp866", 36},    {"keybcs2", 37},  {"macce", 38},   {"macroman", 39},
        {"cp852", 40},    {"latin7", 41},   {"utf8mb4", 45}, {"cp1251", 51},
        {"utf16", 54},    {"utf16le", 56},  {"cp1256", 57},  {"cp1257", 59},
        {"utf32", 60},    {"binary", 63},   {"geostd8", 92}, {"cp932", 95},
        {"eucjpms", 97},  {"gb18030", 248},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, charset) == 0)
            return map[i].id;
    return 0;
}

/* Appends bytes to the table map's raw copy and returns their offset, so
 * names and values from the schema history live where the table map's own
 * do. */
static int raw_add(sl_tablemap_t *tm, const char *p, size_t n, uint32_t *off) {
    *off = (uint32_t)tm->raw.len;
    return sl_buf_append(&tm->raw, p, n);
}

/* Fills what the table map lacks from the schema history (see
 * sl_binlog_opts_t.schema_lookup). A history whose column count differs
 * from the binlog's is out of step with the source: decoding with it
 * would mislabel columns, so that is an error. */
static int apply_schema(sl_binlog_t *dec, sl_tablemap_t *tm) {
    if (tm->has_names && tm->has_signedness && tm->has_charsets && tm->has_pk)
        return 0;
    const char *db = (const char *)tm->raw.data + tm->db_off;
    const char *table = (const char *)tm->raw.data + tm->table_off;
    const struct sl_schema_table_s *st = dec->opts.schema_lookup(
        dec->opts.schema_ctx, db, tm->db_len, table, tm->table_len);
    if (st == NULL)
        return 0;
    /* The last hash_maybe columns (MariaDB hash keys whose existence
     * depends on the engine) may be absent: the binlog's count decides. */
    if (st->ncols != tm->ncols &&
        (tm->ncols > st->ncols || st->ncols - tm->ncols > st->hash_maybe))
        return sl__dec_fail(dec, SL_ECORRUPT,
                            "table %.*s.%.*s has %u columns in the binlog "
                            "but %zu in the schema history; the history "
                            "missed a schema change",
                            (int)tm->db_len, db, (int)tm->table_len, table,
                            tm->ncols, st->ncols);
    int names = !tm->has_names, pk = !tm->has_pk;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        sl_column_t *c = &tm->cols[i];
        const sl_schema_col_t *sc = &st->cols[i];
        uint32_t off;
        if (names) {
            if (raw_add(tm, sc->name, strlen(sc->name), &off) != 0)
                return sl__dec_fail(dec, SL_ENOMEM, "no memory");
            c->name_off = off;
            c->name_len = (uint32_t)strlen(sc->name);
        }
        if (!tm->has_signedness && is_numeric(dec, c))
            c->is_unsigned = (int8_t)(sc->is_unsigned != 0);
        if (!tm->has_charsets && c->collation == 0 && sc->charset != NULL &&
            (is_character(c) || is_enum_set(c))) {
            c->collation = default_collation(sc->charset);
            if (c->collation == 0)
                return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                    "table %.*s.%.*s column %s: unknown "
                                    "charset %s in the schema history",
                                    (int)tm->db_len, db, (int)tm->table_len,
                                    table, sc->name, sc->charset);
        }
        if (is_enum_set(c) && c->strv_count == 0 && sc->nvalues > 0) {
            c->strv_first = tm->nstrv;
            for (size_t j = 0; j < sc->nvalues; j++) {
                if (raw_add(tm, sc->values[j], strlen(sc->values[j]), &off) !=
                        0 ||
                    add_strv(tm, off, (uint32_t)strlen(sc->values[j])) != 0)
                    return sl__dec_fail(dec, SL_ENOMEM, "no memory");
            }
            c->strv_count = (uint32_t)sc->nvalues;
        }
        /* raw may have moved; names were taken before any append. */
        db = (const char *)tm->raw.data + tm->db_off;
        table = (const char *)tm->raw.data + tm->table_off;
    }
    if (pk) {
        for (int seq = 1; seq <= (int)tm->ncols; seq++) {
            uint32_t i = 0;
            while (i < tm->ncols && st->cols[i].pk_seq != seq)
                i++;
            if (i == tm->ncols)
                break;
            tm->cols[i].is_pk = 1;
            if (add_pk(tm, i) != 0)
                return sl__dec_fail(dec, SL_ENOMEM, "no memory");
        }
        tm->has_pk = tm->npk > 0;
    }
    if (names)
        tm->has_names = 1;
    return 0;
}

static int render_keys(sl_binlog_t *dec, sl_tablemap_t *tm) {
    sl_buf_reset(&tm->keys);
    for (int i = 0; i < 3; i++)
        sl_buf_reset(&tm->rowhead[i]);
    sl_buf_reset(&tm->rowmid);
    sl_buf_reset(&tm->fmtmeta);
    for (uint32_t i = 0; i < tm->ncols; i++) {
        sl_column_t *c = &tm->cols[i];
        c->key_off = (uint32_t)tm->keys.len;
        sl_buf_append_u8(&tm->keys, '"');
        if (tm->has_names) {
            sl_json_escape(&tm->keys, tm->raw.data + c->name_off, c->name_len,
                           NULL);
        } else {
            sl_buf_append_u8(&tm->keys, '@');
            sl__dec_out_u64(&tm->keys, i + 1);
        }
        sl_buf_append(&tm->keys, "\":", 2);
        if (sl_buf_error(&tm->keys) != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "no memory for keys");
        c->key_len = (uint32_t)tm->keys.len - c->key_off;
        c->key_escaped =
            memchr(tm->keys.data + c->key_off, '\\', c->key_len) != NULL;
    }
    return 0;
}

/* Asks opts.column_keep about every column once per table map, so rows
 * only test a flag. The callback gets the name a consumer reads in the
 * row's JSON: the column name as UTF-8 (bytes that are not become U+FFFD,
 * as in the key), or "@N" without names. */
static int ask_keep(sl_binlog_t *dec, sl_tablemap_t *tm) {
    const char *db = (const char *)tm->raw.data + tm->db_off;
    const char *table = (const char *)tm->raw.data + tm->table_off;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        sl_column_t *c = &tm->cols[i];
        sl_buf_t *name = &dec->tmp;
        sl_buf_reset(name);
        if (tm->has_names)
            sl__dec_utf8_sanitize(tm->raw.data + c->name_off, c->name_len,
                                  name);
        else
            sl_buf_printf(name, "@%u", i + 1);
        if (sl_buf_error(name) != 0)
            return sl__dec_fail(dec, SL_ENOMEM, "no memory for names");
        if (dec->opts.column_keep(
                dec->opts.column_ctx, db, tm->db_len, table, tm->table_len,
                name->len ? (const char *)name->data : "", name->len))
            continue;
        c->dropped = 1;
        tm->ndropped++;
    }
    for (uint32_t j = 0; j < tm->npk; j++)
        if (tm->cols[tm->pk[j]].dropped)
            tm->pk_dropped = 1;
    return 0;
}

int sl__dec_tablemap_decode(sl_binlog_t *dec, const uint8_t *body, size_t len) {
    unsigned ph = sl__dec_post_header(dec, SL_EV_TABLE_MAP);
    if (ph != 6 && ph != 8)
        return TM_FAIL("table map post-header length %u", ph);
    if (len < ph)
        return TM_FAIL("table map of %zu bytes", len);
    uint64_t table_id = ph == 6 ? sl_get_u32le(body) : sl_get_u48le(body);
    /* Servers write the same table map before every statement on a
     * table: when the bytes equal a map decoded earlier (still in its
     * slot, in use or released), reuse that decoding. */
    for (uint32_t i = 0; i < dec->nmaps; i++) {
        sl_tablemap_t *old = &dec->maps[i];
        if (old->table_id == table_id && old->raw.len == len &&
            old->keys.len > 0 && memcmp(old->raw.data, body, len) == 0) {
            for (uint32_t j = 0; j < dec->nmaps; j++)
                if (j != i && dec->maps[j].in_use &&
                    dec->maps[j].table_id == table_id)
                    dec->maps[j].in_use = 0;
            old->in_use = 1;
            return 0;
        }
    }
    sl_tablemap_t *tm = slot_get(dec, table_id);
    if (tm == NULL)
        return sl__dec_fail(dec, SL_ETOOBIG,
                            "more than %u table maps in one statement",
                            SL_MAX_TABLEMAPS);
    tm->in_use = 0;
    sl_buf_reset(&tm->keys); /* Not reusable until fully decoded. */
    sl_buf_reset(&tm->raw);
    if (sl_buf_append(&tm->raw, body, len) != 0)
        return sl__dec_fail(dec, SL_ENOMEM, "no memory for table map");
    const uint8_t *b = tm->raw.data;
    tm->table_id = table_id;
    tm->flags = sl_get_u16le(b + ph - 2);
    tm->has_names = tm->has_signedness = tm->has_charsets = tm->has_pk = 0;
    tm->nstrv = 0;
    tm->npk = 0;
    tm->ndropped = 0;
    tm->pk_dropped = 0;
    sl_reader_t rd;
    sl_reader_init(&rd, b + ph, len - ph);
    uint8_t l;
    if (sl_rd_u8(&rd, &l) != 0 || sl_reader_left(&rd) < (size_t)l + 1 ||
        rd.p[l] != 0)
        return TM_FAIL("table map database name malformed");
    tm->db_off = (uint32_t)(rd.p - b);
    tm->db_len = l;
    rd.p += l + 1;
    if (sl_rd_u8(&rd, &l) != 0 || sl_reader_left(&rd) < (size_t)l + 1 ||
        rd.p[l] != 0)
        return TM_FAIL("table map table name malformed");
    tm->table_off = (uint32_t)(rd.p - b);
    tm->table_len = l;
    rd.p += l + 1;
    uint64_t ncols;
    if (sl_rd_lenenc(&rd, &ncols) != 0 || ncols == 0 || ncols > 4096 ||
        ncols > sl_reader_left(&rd))
        return TM_FAIL("table map column count %llu impossible",
                       (unsigned long long)ncols);
    if (ncols > tm->cols_cap) {
        sl_column_t *n = realloc(tm->cols, ncols * sizeof(*n));
        if (n == NULL)
            return sl__dec_fail(dec, SL_ENOMEM, "no memory");
        tm->cols = n;
        tm->cols_cap = (uint32_t)ncols;
    }
    tm->ncols = (uint32_t)ncols;
    memset(tm->cols, 0, ncols * sizeof(sl_column_t));
    const uint8_t *types = rd.p;
    rd.p += ncols;
    uint64_t mlen = 0;
    /* MySQL 5.1 before 5.1.15 wrote no metadata block at all. */
    int no_meta = sl_reader_left(&rd) == 0;
    if (!no_meta &&
        (sl_rd_lenenc(&rd, &mlen) != 0 || mlen > sl_reader_left(&rd)))
        return TM_FAIL("table map metadata length %llu overruns the event",
                       (unsigned long long)mlen);
    sl_reader_t m;
    sl_reader_init(&m, rd.p, mlen);
    rd.p += mlen;
    for (uint32_t i = 0; i < ncols; i++) {
        sl_column_t *c = &tm->cols[i];
        c->type = types[i];
        c->real_type = types[i];
        c->is_unsigned = -1;
        c->visible = 1;
        uint8_t b0 = 0, b1 = 0;
        int need = 0;
        switch (c->type) {
        case SL_T_FLOAT:
        case SL_T_DOUBLE:
        case SL_T_BLOB:
        case SL_T_TINY_BLOB:
        case SL_T_MEDIUM_BLOB:
        case SL_T_LONG_BLOB:
        case SL_T_GEOMETRY:
        case SL_T_JSON:
        case SL_T_VECTOR:
        case SL_T_TIMESTAMP2:
        case SL_T_DATETIME2:
        case SL_T_TIME2:
        case SL_T_BLOB_COMPRESSED: need = 1; break;
        case SL_T_VARCHAR:
        case SL_T_VARCHAR_COMPRESSED:
        case SL_T_VAR_STRING:
        case SL_T_BIT:
        case SL_T_NEWDECIMAL:
        case SL_T_STRING:
        case SL_T_ENUM:
        case SL_T_SET: need = 2; break;
        case SL_T_DECIMAL:
        case SL_T_TINY:
        case SL_T_SHORT:
        case SL_T_LONG:
        case SL_T_NULL:
        case SL_T_TIMESTAMP:
        case SL_T_LONGLONG:
        case SL_T_INT24:
        case SL_T_DATE:
        case SL_T_TIME:
        case SL_T_DATETIME:
        case SL_T_YEAR:
        case SL_T_NEWDATE: need = 0; break;
        default:
            return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                "table %.*s.%.*s column %u has type %u, "
                                "which sluice cannot decode",
                                (int)tm->db_len, b + tm->db_off,
                                (int)tm->table_len, b + tm->table_off, i + 1,
                                c->type);
        }
        if (need >= 1 && no_meta)
            return TM_FAIL("column %u (type %u) needs metadata, and this "
                           "pre-5.1.15 table map has none",
                           i + 1, c->type);
        if (need >= 1 && sl_rd_u8(&m, &b0) != 0)
            return TM_FAIL("table map metadata short at column %u", i + 1);
        if (need == 2 && sl_rd_u8(&m, &b1) != 0)
            return TM_FAIL("table map metadata short at column %u", i + 1);
        switch (c->type) {
        case SL_T_VARCHAR:
        case SL_T_VAR_STRING:
            c->meta = (uint16_t)(b0 | (b1 << 8));
            c->max_len = c->meta;
            break;
        case SL_T_VARCHAR_COMPRESSED:
            /* The maximum counts the header byte, so it is at least 1. */
            c->meta = (uint16_t)(b0 | (b1 << 8));
            c->max_len = c->meta;
            if (c->max_len < 1)
                return TM_FAIL("column %u: compressed VARCHAR of %u bytes",
                               i + 1, c->max_len);
            break;
        case SL_T_BLOB_COMPRESSED:
            c->meta = b0;
            if (b0 < 1 || b0 > 4)
                return TM_FAIL("column %u: compressed BLOB with a %u-byte "
                               "length",
                               i + 1, b0);
            break;
        case SL_T_STRING:
        case SL_T_ENUM:
        case SL_T_SET:
            if (b0 == SL_T_ENUM || b0 == SL_T_SET) {
                c->real_type = b0;
                c->max_len = b1;
            } else {
                /* Long CHAR: bits 4-5 of the real type, inverted, are
                 * bits 8-9 of the length. */
                c->real_type = (uint8_t)(b0 | 0x30);
                c->max_len = (uint32_t)((((b0 & 0x30) ^ 0x30) << 4) | b1);
                if (c->real_type != SL_T_STRING)
                    return TM_FAIL("column %u: CHAR real type %u", i + 1,
                                   c->real_type);
            }
            c->meta = (uint16_t)((b0 << 8) | b1);
            break;
        default: c->meta = need == 2 ? (uint16_t)((b0 << 8) | b1) : b0; break;
        }
        if (c->type == SL_T_TINY_BLOB || c->type == SL_T_MEDIUM_BLOB ||
            c->type == SL_T_LONG_BLOB)
            c->real_type = SL_T_BLOB;
    }
    if (sl_reader_left(&m) != 0)
        return TM_FAIL("table map metadata has %zu bytes left over",
                       sl_reader_left(&m));
    size_t nb = (ncols + 7) / 8;
    if (no_meta)
        nb = 0; /* No null bitmap either: every column is nullable. */
    for (uint32_t i = 0; no_meta && i < ncols; i++)
        tm->cols[i].nullable = 1;
    if (sl_reader_left(&rd) < nb)
        return TM_FAIL("table map null bitmap truncated");
    for (uint32_t i = 0; !no_meta && i < ncols; i++)
        tm->cols[i].nullable = (rd.p[i / 8] >> (i % 8)) & 1;
    rd.p += nb;
    int rc = parse_optional(dec, tm, &rd);
    if (rc == 0 && dec->opts.schema_lookup != NULL)
        rc = apply_schema(dec, tm);
    if (rc != 0)
        return rc;
    b = tm->raw.data; /* The schema history may have grown the copy. */
    for (uint32_t i = 0; i < ncols; i++) {
        sl_column_t *c = &tm->cols[i];
        if (c->collation != 0) {
            c->cs = sl__dec_charset_by_collation(c->collation);
            if (c->cs == NULL)
                return sl__dec_fail(dec, SL_EUNSUPPORTED,
                                    "table %.*s.%.*s column %u: unknown "
                                    "collation id %u",
                                    (int)tm->db_len, b + tm->db_off,
                                    (int)tm->table_len, b + tm->table_off,
                                    i + 1, c->collation);
        } else if (c->real_type == SL_T_ENUM || c->real_type == SL_T_SET) {
            c->cs = sl__dec_charset_by_collation(33);
        }
    }
    rc = render_keys(dec, tm);
    if (rc == 0 && dec->opts.column_keep != NULL)
        rc = ask_keep(dec, tm);
    if (rc != 0)
        return rc;
    tm->in_use = 1;
    return 0;
}

static void put_values(const sl_tablemap_t *tm, const sl_column_t *c,
                       sl_buf_t *out) {
    sl_buf_append_u8(out, '(');
    for (uint32_t j = 0; j < c->strv_count; j++) {
        const sl_strref_t *s = &tm->strv[c->strv_first + j];
        if (j > 0)
            sl_buf_append_u8(out, ',');
        sl_buf_append_u8(out, '\'');
        sl_buf_append(out, tm->raw.data + s->off, s->len);
        sl_buf_append_u8(out, '\'');
    }
    sl_buf_append_u8(out, ')');
}

void sl__dec_column_type_name(const sl_tablemap_t *tm, const sl_column_t *c,
                              sl_buf_t *out) {
    const char *u = c->is_unsigned == 1 ? " unsigned" : "";
    int compressed = c->real_type == SL_T_VARCHAR_COMPRESSED ||
                     c->real_type == SL_T_BLOB_COMPRESSED;
    switch (c->real_type) {
    case SL_T_TINY: sl_buf_printf(out, "tinyint%s", u); return;
    case SL_T_SHORT: sl_buf_printf(out, "smallint%s", u); return;
    case SL_T_INT24: sl_buf_printf(out, "mediumint%s", u); return;
    case SL_T_LONG: sl_buf_printf(out, "int%s", u); return;
    case SL_T_LONGLONG: sl_buf_printf(out, "bigint%s", u); return;
    case SL_T_FLOAT: sl_buf_printf(out, "float%s", u); return;
    case SL_T_DOUBLE: sl_buf_printf(out, "double%s", u); return;
    case SL_T_NEWDECIMAL:
        sl_buf_printf(out, "decimal(%u,%u)%s", c->meta >> 8, c->meta & 255, u);
        return;
    case SL_T_DECIMAL: sl_buf_printf(out, "decimal_old"); return;
    case SL_T_YEAR: sl_buf_printf(out, "year"); return;
    case SL_T_DATE:
    case SL_T_NEWDATE: sl_buf_printf(out, "date"); return;
    case SL_T_TIME: sl_buf_printf(out, "time"); return;
    case SL_T_TIME2: sl_buf_printf(out, "time(%u)", c->meta); return;
    case SL_T_DATETIME: sl_buf_printf(out, "datetime"); return;
    case SL_T_DATETIME2: sl_buf_printf(out, "datetime(%u)", c->meta); return;
    case SL_T_TIMESTAMP: sl_buf_printf(out, "timestamp"); return;
    case SL_T_TIMESTAMP2: sl_buf_printf(out, "timestamp(%u)", c->meta); return;
    case SL_T_BIT:
        sl_buf_printf(out, "bit(%u)", (c->meta & 255) * 8 + (c->meta >> 8));
        return;
    case SL_T_ENUM:
    case SL_T_SET:
        sl_buf_append_str(out, c->real_type == SL_T_ENUM ? "enum" : "set");
        if (c->strv_count)
            put_values(tm, c, out);
        return;
    case SL_T_STRING:
        sl_buf_printf(out, "%s(%u)",
                      c->cs && c->cs->cls == SL_CS_BINARY ? "binary" : "char",
                      c->max_len);
        return;
    case SL_T_VARCHAR:
    case SL_T_VAR_STRING:
    case SL_T_VARCHAR_COMPRESSED:
        /* A compressed column's maximum counts its header byte. */
        sl_buf_printf(
            out, "%s(%u)%s",
            c->cs && c->cs->cls == SL_CS_BINARY ? "varbinary" : "varchar",
            c->max_len - (compressed ? 1 : 0), compressed ? " compressed" : "");
        return;
    case SL_T_BLOB:
    case SL_T_BLOB_COMPRESSED: {
        static const char *const sz[] = {"", "tiny", "", "medium", "long"};
        sl_buf_printf(out, "%s%s%s", c->meta <= 4 ? sz[c->meta] : "",
                      c->cs == NULL                ? "blob_or_text"
                      : c->cs->cls == SL_CS_BINARY ? "blob"
                                                   : "text",
                      compressed ? " compressed" : "");
        return;
    }
    case SL_T_JSON: sl_buf_printf(out, "json"); return;
    case SL_T_GEOMETRY: sl_buf_printf(out, "geometry"); return;
    case SL_T_VECTOR: sl_buf_printf(out, "vector"); return;
    default: sl_buf_printf(out, "type%u", c->real_type); return;
    }
}
