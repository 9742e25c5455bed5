/*
 * The strict JSON tokenizer behind lib/jsonread.h.
 *
 * It is an explicit-stack parser (no recursion, so a hostile document
 * cannot exhaust the C stack): the stack holds the indexes of the open
 * containers, bounded by max_depth. Each container's `next` and `len` are
 * filled in when its closing bracket is seen.
 */
#include "jsonread.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_jr_init(sl_jr_doc_t *doc) { memset(doc, 0, sizeof *doc); }

void sl_jr_free(sl_jr_doc_t *doc) {
    free(doc->toks);
    doc->toks = NULL;
    doc->ntoks = doc->cap = 0;
}

static int fail(sl_jr_doc_t *doc, int rc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(sl_jr_doc_t *doc, int rc, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(doc->err, sizeof doc->err, fmt, ap);
    va_end(ap);
    doc->err_pos = pos;
    return rc;
}

static int grow_toks(sl_jr_doc_t *doc, size_t start) {
    if (doc->cap >= (UINT32_MAX >> 2))
        return fail(doc, SL_ETOOBIG, start, "too many values");
    uint32_t ncap = doc->cap ? doc->cap * 2 : 64;
    sl_jr_tok_t *t = realloc(doc->toks, (size_t)ncap * sizeof *t);
    if (t == NULL)
        return fail(doc, SL_ENOMEM, start, "out of memory");
    doc->toks = t;
    doc->cap = ncap;
    return 0;
}

static inline int push_tok(sl_jr_doc_t *doc, uint8_t type, size_t start,
                           uint32_t *idx) {
    if (doc->max_toks != 0 && doc->ntoks >= doc->max_toks)
        return fail(doc, SL_ETOOBIG, start, "more than %u values",
                    doc->max_toks);
    if (doc->ntoks == doc->cap) {
        int rc = grow_toks(doc, start);
        if (rc != 0)
            return rc;
    }
    sl_jr_tok_t *tok = &doc->toks[doc->ntoks];
    tok->type = type;
    tok->escaped = 0;
    tok->start = (uint32_t)start;
    tok->len = 0;
    tok->next = 0;
    tok->count = 0;
    *idx = doc->ntoks++;
    return 0;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u4(const unsigned char *p, size_t left, unsigned *v) {
    if (left < 4)
        return -1;
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        r = (r << 4) | (unsigned)h;
    }
    *v = r;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid:
 * overlong forms, surrogates and values above U+10FFFF are rejected. */
static size_t utf8_len(const unsigned char *p, size_t left) {
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A mask with the high bit set in each of the 8 bytes of x (little-endian
 * load) that is a quote, a backslash, a control byte or not ASCII, i.e.
 * needs the byte-by-byte path (SWAR: "has a byte less than n" and "has a
 * zero byte" from Bit Twiddling Hacks). Borrows can only set bits above a
 * true match, so the lowest set bit is always exact. */
/* The 8 bytes as loaded from memory, first byte lowest. */
static inline uint64_t sl_jr_le64(uint64_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(x);
#else
    return x;
#endif
}

static inline uint64_t care_mask(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
            ((b - ones) & ~b) | x) & highs;
}

/* The common case of scan_string() without a call: a string that ends
 * within the next 16 bytes with plain ASCII before its closing quote. Sets
 * *end to the quote and returns 1; 0 sends the caller to scan_string(). */
static inline int quick_string(const unsigned char *s, size_t len, size_t i,
                               size_t *end) {
    for (int k = 0; k < 2 && i + 8 <= len; k++, i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t m = care_mask(sl_jr_le64(x));
        if (m != 0) {
            size_t at = i + (size_t)__builtin_ctzll(m) / 8;
            if (s[at] != '"')
                return 0;
            *end = at;
            return 1;
        }
    }
    return 0;
}

/* Scans the string starting after its opening quote at s[*pos]. */
static int scan_string(sl_jr_doc_t *doc, const unsigned char *s, size_t len,
                       size_t *pos, int *escaped) {
    size_t i = *pos;
    *escaped = 0;
    while (i < len) {
        /* Plain ASCII runs, 8 bytes at a time, then straight to the first
         * byte that needs a look. */
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            x = sl_jr_le64(x);
            uint64_t m = care_mask(x);
            if (m != 0) {
                i += (size_t)__builtin_ctzll(m) / 8;
                break;
            }
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c == '"') {
            *pos = i;
            return 0;
        }
        if (c < 0x20)
            return fail(doc, SL_ECORRUPT, i,
                        "control byte 0x%02x inside a string", c);
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= len)
                break;
            unsigned char e = s[i + 1];
            switch (e) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                i += 2;
                continue;
            case 'u': {
                unsigned u;
                if (read_u4(s + i + 2, len - i - 2, &u) != 0)
                    return fail(doc, SL_ECORRUPT, i, "bad \\u escape");
                i += 6;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return fail(doc, SL_ECORRUPT, i - 6,
                                "lone low surrogate \\u%04x", u);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (i + 1 >= len || s[i] != '\\' || s[i + 1] != 'u' ||
                        read_u4(s + i + 2, len - i - 2, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(doc, SL_ECORRUPT, i - 6,
                                    "high surrogate \\u%04x without its "
                                    "low half", u);
                    i += 6;
                }
                continue;
            }
            default:
                return fail(doc, SL_ECORRUPT, i, "bad escape \\%c",
                            e >= 0x20 && e < 0x7F ? e : '?');
            }
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_len(s + i, len - i);
        if (n == 0)
            return fail(doc, SL_ECORRUPT, i, "invalid UTF-8 in a string");
        i += n;
    }
    return fail(doc, SL_ECORRUPT, len, "unterminated string");
}

static int scan_number(sl_jr_doc_t *doc, const unsigned char *s, size_t len,
                       size_t *pos) {
    size_t i = *pos;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return fail(doc, SL_ECORRUPT, *pos, "bad number");
    if (s[i] == '0') {
        i++;
        if (i < len && s[i] >= '0' && s[i] <= '9')
            return fail(doc, SL_ECORRUPT, *pos, "number with a leading zero");
    } else {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return fail(doc, SL_ECORRUPT, i, "number without fraction digits");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return fail(doc, SL_ECORRUPT, i, "number without exponent digits");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *pos = i;
    return 0;
}

static inline size_t skip_ws(const unsigned char *s, size_t len, size_t i) {
    /* Compact documents (all we produce) have no whitespace at all. */
    if (__builtin_expect(i < len && s[i] > ' ', 1))
        return i;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
                       s[i] == '\r'))
        i++;
    return i;
}

/* The string (key or value) whose opening quote is at s[*pos]: scanned,
 * pushed as a token, *pos moved past its closing quote. Always inlined:
 * as a call it costs the parser a fifth more instructions. */
static inline __attribute__((always_inline)) int
string_token(sl_jr_doc_t *doc, const unsigned char *s, size_t len,
             size_t *pos) {
    size_t i = *pos, end = i + 1;
    int esc = 0, rc;
    uint32_t idx = 0; /* Set by push_tok(); GCC cannot see that. */
    if (!quick_string(s, len, i + 1, &end) &&
        (rc = scan_string(doc, s, len, &end, &esc)) != 0)
        return rc;
    if ((rc = push_tok(doc, SL_JR_STRING, i + 1, &idx)) != 0)
        return rc;
    doc->toks[idx].len = (uint32_t)(end - i - 1);
    doc->toks[idx].escaped = (uint8_t)esc;
    doc->toks[idx].next = idx + 1;
    *pos = end + 1;
    return 0;
}

/* Parser states: what may come next. */
enum {
    ST_VALUE,     /* A value (document start, after ':' or ','). */
    ST_FIRST,     /* After '[': a value or ']'. */
    ST_KEY_FIRST, /* After '{': a key or '}'. */
    ST_KEY,       /* After ',' in an object: a key. */
    ST_COLON,     /* After a key. */
    ST_AFTER,     /* After a value: ',' or the closing bracket, or end. */
};

int sl_jr_parse(sl_jr_doc_t *doc, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    doc->text = text;
    doc->text_len = len;
    doc->ntoks = 0;
    doc->err[0] = '\0';
    doc->err_pos = 0;
    if (len >= UINT32_MAX)
        return fail(doc, SL_ETOOBIG, 0, "document of %zu bytes", len);
    uint32_t max_depth = doc->max_depth ? doc->max_depth : SL_JR_DEFAULT_DEPTH;
    uint32_t stack_small[SL_JR_DEFAULT_DEPTH];
    uint32_t *stack = stack_small;
    if (max_depth > SL_JR_DEFAULT_DEPTH) {
        stack = malloc((size_t)max_depth * sizeof *stack);
        if (stack == NULL)
            return fail(doc, SL_ENOMEM, 0, "out of memory");
    }
    uint32_t depth = 0;
    int state = ST_VALUE;
    size_t i = skip_ws(s, len, 0);
    int rc = 0;
    int done = 0;
    while (!done) {
        i = skip_ws(s, len, i);
        if (i >= len) {
            if (state == ST_AFTER && depth == 0)
                break;
            rc = fail(doc, SL_ECORRUPT, i, "unexpected end of input");
            break;
        }
        unsigned char c = s[i];
        uint32_t idx = 0; /* Set by push_tok(); GCC cannot see that. */
        if (state == ST_AFTER) {
            if (depth == 0) {
                rc = fail(doc, SL_ECORRUPT, i, "trailing bytes after the "
                          "document");
                break;
            }
            sl_jr_tok_t *top = &doc->toks[stack[depth - 1]];
            if (c == ',') {
                state = top->type == SL_JR_OBJECT ? ST_KEY : ST_VALUE;
                i++;
                continue;
            }
            if ((c == '}' && top->type == SL_JR_OBJECT) ||
                (c == ']' && top->type == SL_JR_ARRAY)) {
                goto close;
            }
            rc = fail(doc, SL_ECORRUPT, i, "expected ',' or '%c'",
                      top->type == SL_JR_OBJECT ? '}' : ']');
            break;
        }
        if (state == ST_COLON) {
            if (c != ':') {
                rc = fail(doc, SL_ECORRUPT, i, "expected ':'");
                break;
            }
            state = ST_VALUE;
            i++;
            continue;
        }
        if (state == ST_KEY_FIRST && c == '}')
            goto close;
        if (state == ST_FIRST && c == ']')
            goto close;
        if (state == ST_KEY_FIRST || state == ST_KEY) {
            if (c != '"') {
                rc = fail(doc, SL_ECORRUPT, i, "expected a string key");
                break;
            }
            if ((rc = string_token(doc, s, len, &i)) != 0)
                break;
            /* The colon right after the key, without a round through the
             * loop: keys are half the tokens of an object. */
            i = skip_ws(s, len, i);
            if (i < len && s[i] == ':') {
                i++;
                state = ST_VALUE;
            } else {
                state = ST_COLON;
            }
            continue;
        }
        /* A value. */
        if (depth > 0)
            doc->toks[stack[depth - 1]].count++;
        if (c == '{' || c == '[') {
            if (depth >= max_depth) {
                rc = fail(doc, SL_ETOOBIG, i, "nesting deeper than %u",
                          max_depth);
                break;
            }
            if ((rc = push_tok(doc, c == '{' ? SL_JR_OBJECT : SL_JR_ARRAY, i,
                               &idx)) != 0)
                break;
            stack[depth++] = idx;
            state = c == '{' ? ST_KEY_FIRST : ST_FIRST;
            i++;
            continue;
        }
        if (c == '"') {
            if ((rc = string_token(doc, s, len, &i)) != 0)
                break;
            state = ST_AFTER;
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t end = i;
            if ((rc = scan_number(doc, s, len, &end)) != 0)
                break;
            if ((rc = push_tok(doc, SL_JR_NUMBER, i, &idx)) != 0)
                break;
            doc->toks[idx].len = (uint32_t)(end - i);
            doc->toks[idx].next = idx + 1;
            i = end;
            state = ST_AFTER;
            continue;
        }
        {
            static const struct {
                const char *word;
                size_t n;
                uint8_t type;
            } words[] = {{"null", 4, SL_JR_NULL},
                         {"true", 4, SL_JR_TRUE},
                         {"false", 5, SL_JR_FALSE}};
            int found = 0;
            for (size_t w = 0; w < 3; w++) {
                if (len - i >= words[w].n &&
                    memcmp(s + i, words[w].word, words[w].n) == 0) {
                    if ((rc = push_tok(doc, words[w].type, i, &idx)) != 0)
                        break;
                    doc->toks[idx].len = (uint32_t)words[w].n;
                    doc->toks[idx].next = idx + 1;
                    i += words[w].n;
                    found = 1;
                    break;
                }
            }
            if (rc != 0)
                break;
            if (!found) {
                rc = fail(doc, SL_ECORRUPT, i,
                          c >= 0x20 && c < 0x7F ? "unexpected '%c'"
                                                : "unexpected byte 0x%02x",
                          c);
                break;
            }
            state = ST_AFTER;
            continue;
        }
    close:
        idx = stack[--depth];
        doc->toks[idx].next = doc->ntoks;
        doc->toks[idx].len = (uint32_t)(i + 1 - doc->toks[idx].start);
        i++;
        state = ST_AFTER;
    }
    if (stack != stack_small)
        free(stack);
    return rc;
}

/* Decodes one escape at p (after the backslash is p[0] == '\\'); writes
 * the UTF-8 bytes to out (up to 4) and returns how many input bytes it
 * used. The tokenizer already validated the escape. */
static size_t unescape_one(const unsigned char *p, unsigned char *out,
                           size_t *outn) {
    unsigned char e = p[1];
    switch (e) {
    case 'b': out[0] = '\b'; *outn = 1; return 2;
    case 'f': out[0] = '\f'; *outn = 1; return 2;
    case 'n': out[0] = '\n'; *outn = 1; return 2;
    case 'r': out[0] = '\r'; *outn = 1; return 2;
    case 't': out[0] = '\t'; *outn = 1; return 2;
    case 'u': break;
    default: out[0] = e; *outn = 1; return 2;
    }
    unsigned u = 0, lo = 0;
    size_t used = 6;
    read_u4(p + 2, 4, &u);
    uint32_t cp = u;
    if (u >= 0xD800 && u <= 0xDBFF) {
        read_u4(p + 8, 4, &lo);
        cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        *outn = 1;
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        *outn = 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        *outn = 3;
    } else {
        out[0] = (unsigned char)(0xF0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (unsigned char)(0x80 | (cp & 0x3F));
        *outn = 4;
    }
    return used;
}

/* sl_jr_str_eq() of an escaped string: compared escape by escape. */
int sl_jr_str_eq_escaped(const sl_jr_doc_t *doc, uint32_t i, const char *str,
                         size_t n) {
    const sl_jr_tok_t *t = &doc->toks[i];
    const unsigned char *p = (const unsigned char *)doc->text + t->start;
    const unsigned char *end = p + t->len;
    size_t k = 0;
    while (p < end) {
        if (*p != '\\') {
            if (k >= n || (unsigned char)str[k] != *p)
                return 0;
            k++;
            p++;
            continue;
        }
        unsigned char tmp[4];
        size_t m;
        p += unescape_one(p, tmp, &m);
        if (k + m > n || memcmp(str + k, tmp, m) != 0)
            return 0;
        k += m;
    }
    return k == n;
}

int sl_jr_unescape(const sl_jr_doc_t *doc, uint32_t i, sl_buf_t *out) {
    /* SL_JR_NONE is what sl_jr_get() returns for a missing member: callers
     * may pass its answer straight in. */
    if (i >= doc->ntoks)
        return SL_EINVAL;
    const sl_jr_tok_t *t = &doc->toks[i];
    if (t->type != SL_JR_STRING)
        return SL_EINVAL;
    const unsigned char *p = (const unsigned char *)doc->text + t->start;
    if (!t->escaped)
        return sl_buf_append(out, p, t->len);
    const unsigned char *end = p + t->len;
    if (sl_buf_reserve(out, t->len) != 0)
        return SL_ENOMEM;
    while (p < end) {
        const unsigned char *q = p;
        while (q < end && *q != '\\')
            q++;
        if (q > p && sl_buf_append(out, p, (size_t)(q - p)) != 0)
            return SL_ENOMEM;
        p = q;
        if (p >= end)
            break;
        unsigned char tmp[4];
        size_t m;
        p += unescape_one(p, tmp, &m);
        if (sl_buf_append(out, tmp, m) != 0)
            return SL_ENOMEM;
    }
    return 0;
}

uint32_t sl_jr_getn(const sl_jr_doc_t *doc, uint32_t obj, const char *name,
                    size_t name_len) {
    if (obj >= doc->ntoks || doc->toks[obj].type != SL_JR_OBJECT)
        return SL_JR_NONE;
    /* A direct walk (key, value subtree, key, ...): member lookups are the
     * hot path of every consumer, so plain keys are compared inline, first
     * by length and first byte. */
    uint32_t end = doc->toks[obj].next;
    const sl_jr_tok_t *toks = doc->toks;
    for (uint32_t k = obj + 1; k < end; k = toks[k + 1].next) {
        const sl_jr_tok_t *key = &toks[k];
        if (!key->escaped) {
            const char *kt = doc->text + key->start;
            if (key->len == name_len &&
                (name_len == 0 ||
                 (kt[0] == name[0] && memcmp(kt, name, name_len) == 0)))
                return k + 1;
        } else if (sl_jr_str_eq(doc, k, name, name_len)) {
            return k + 1;
        }
    }
    return SL_JR_NONE;
}

uint32_t sl_jr_get(const sl_jr_doc_t *doc, uint32_t obj, const char *name) {
    return sl_jr_getn(doc, obj, name, strlen(name));
}

int sl_jr_u64(const sl_jr_doc_t *doc, uint32_t i, uint64_t *v) {
    /* SL_JR_NONE is what sl_jr_get() returns for a missing member: callers
     * may pass its answer straight in. */
    if (i >= doc->ntoks)
        return SL_EINVAL;
    const sl_jr_tok_t *t = &doc->toks[i];
    if (t->type != SL_JR_NUMBER)
        return SL_EINVAL;
    const char *p = doc->text + t->start;
    if (p[0] == '-') {
        /* "-0" is zero; any other negative does not fit. */
        if (t->len == 2 && p[1] == '0') {
            *v = 0;
            return 0;
        }
        for (uint32_t k = 1; k < t->len; k++)
            if (p[k] < '0' || p[k] > '9')
                return SL_EINVAL;
        return SL_ERANGE;
    }
    uint64_t r = 0;
    for (uint32_t k = 0; k < t->len; k++) {
        if (p[k] < '0' || p[k] > '9')
            return SL_EINVAL;
        unsigned d = (unsigned)(p[k] - '0');
        if (r > (UINT64_MAX - d) / 10)
            return SL_ERANGE;
        r = r * 10 + d;
    }
    *v = r;
    return 0;
}

int sl_jr_i64(const sl_jr_doc_t *doc, uint32_t i, int64_t *v) {
    /* SL_JR_NONE is what sl_jr_get() returns for a missing member: callers
     * may pass its answer straight in. */
    if (i >= doc->ntoks)
        return SL_EINVAL;
    const sl_jr_tok_t *t = &doc->toks[i];
    if (t->type != SL_JR_NUMBER)
        return SL_EINVAL;
    const char *p = doc->text + t->start;
    int neg = p[0] == '-';
    uint64_t r = 0;
    /* Up to 19 digits cannot overflow 64 bits: no check per digit. */
    uint32_t k = (uint32_t)neg, quick = t->len < k + 19 ? t->len : k + 19;
    for (; k < quick; k++) {
        unsigned d = (unsigned)(unsigned char)p[k] - '0';
        if (d > 9)
            return SL_EINVAL;
        r = r * 10 + d;
    }
    for (; k < t->len; k++) {
        if (p[k] < '0' || p[k] > '9')
            return SL_EINVAL;
        unsigned d = (unsigned)(p[k] - '0');
        if (r > (UINT64_MAX - d) / 10)
            return SL_ERANGE;
        r = r * 10 + d;
    }
    if (neg) {
        if (r > (uint64_t)INT64_MAX + 1)
            return SL_ERANGE;
        *v = r == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)r;
    } else {
        if (r > (uint64_t)INT64_MAX)
            return SL_ERANGE;
        *v = (int64_t)r;
    }
    return 0;
}

const char *sl_jr_type_name(sl_jr_type_t type) {
    switch (type) {
    case SL_JR_NULL: return "null";
    case SL_JR_FALSE: return "false";
    case SL_JR_TRUE: return "true";
    case SL_JR_NUMBER: return "number";
    case SL_JR_STRING: return "string";
    case SL_JR_ARRAY: return "array";
    case SL_JR_OBJECT: return "object";
    }
    return "unknown";
}

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int sl_jr_base64_decode(sl_buf_t *out, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    if (len % 4 != 0)
        return SL_ECORRUPT;
    size_t mark = out->len;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = b64val(s[i + k])) < 0) {
                out->len = mark;
                return SL_ECORRUPT;
            }
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
                     ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        /* Canonical form only: the bits dropped by padding must be 0. */
        if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0)) {
            out->len = mark;
            return SL_ECORRUPT;
        }
        if (sl_buf_append(out, b, (size_t)(3 - pad)) != 0) {
            out->len = mark;
            return SL_ENOMEM;
        }
    }
    return 0;
}

int sl_jr_copy_str(const sl_jr_doc_t *doc, uint32_t i, char *out,
                   size_t outlen) {
    if (outlen == 0)
        return SL_EINVAL;
    out[0] = '\0';
    if (i == SL_JR_NONE || sl_jr_type(doc, i) != SL_JR_STRING)
        return SL_EINVAL;
    sl_buf_t buf = SL_BUF_INIT;
    int err = sl_jr_unescape(doc, i, &buf);
    if (err == 0 && buf.len >= outlen)
        err = SL_ETOOBIG;
    if (err == 0) {
        if (buf.len > 0)
            memcpy(out, buf.data, buf.len);
        out[buf.len] = '\0';
    }
    sl_buf_free(&buf);
    return err;
}
