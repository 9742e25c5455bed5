/*
 * The strict JSON tokenizer behind lib/jsonread.h.
 *
 * It is an explicit-stack parser (no recursion, so a hostile document
 * cannot exhaust the C stack): the stack holds the indexes of the open
 * containers, bounded by max_depth. Each container's `next`, `len` and
 * `count` are filled in when its closing bracket is seen.
 *
 * It is the largest CPU cost of the apply process, so sl_jr_parse() is
 * written for speed: each place in the grammar is a label (no state
 * variable tested per token), the innermost container's member count and
 * the token count live in locals, the check before each token is one
 * compare, and strings and digit runs are scanned 16 bytes at a time with
 * SSE2 (8 at a time, portably, elsewhere). Malformed input leaves the
 * fast paths for out-of-line code that alone formats the messages.
 */
#include "jsonread.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void sl_jr_init(sl_jr_doc_t *doc) { memset(doc, 0, sizeof *doc); }

void sl_jr_free(sl_jr_doc_t *doc) {
    free(doc->toks);
    doc->toks = NULL;
    doc->ntoks = doc->cap = 0;
}

static void set_err(sl_jr_doc_t *doc, size_t pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void set_err(sl_jr_doc_t *doc, size_t pos, const char *fmt, va_list ap) {
    vsnprintf(doc->err, sizeof doc->err, fmt, ap);
    doc->err_pos = pos;
}

static int fail(sl_jr_doc_t *doc, int rc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(sl_jr_doc_t *doc, int rc, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_err(doc, pos, fmt, ap);
    va_end(ap);
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

/* The 8 bytes as loaded from memory, first byte lowest. */
static inline uint64_t sl_jr_le64(uint64_t x) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(x);
#else
    return x;
#endif
}

/* A mask with the high bit set in each of the 8 bytes of x (little-endian
 * load) that is a quote, a backslash, a control byte or not ASCII, i.e.
 * needs the byte-by-byte path (SWAR: "has a byte less than n" and "has a
 * zero byte" from Bit Twiddling Hacks). Borrows can only set bits above a
 * true match, so the lowest set bit is always exact. */
static inline uint64_t care_mask(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) |
            x) &
           highs;
}

#if defined(__SSE2__)
/* The quotes, backslashes, control bytes and bytes >= 0x80 among the 16
 * bytes at p, one bit each. A signed compare with 0x20 catches the control
 * bytes and the bytes >= 0x80 at once. */
static inline unsigned care_bits(const unsigned char *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i care =
        _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v),
                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(care);
}
#endif

/* Where the string body from s[i] stops being plain ASCII: the position of
 * its first quote, backslash, control byte or byte >= 0x80 (the common
 * string ends right there, at its closing quote). Without SSE2 it may
 * stop short within the last 8 bytes of the text, and it returns len
 * when there is nothing but plain bytes up to the end; either way
 * scan_string() carries on from there. */
static inline size_t plain_end(const unsigned char *s, size_t len, size_t i) {
#if defined(__SSE2__)
    /* Sixteen bytes at a time (every x86-64 has SSE2). */
    for (; len - i >= 16; i += 16) {
        unsigned mask = care_bits(s + i);
        if (mask != 0)
            return i + (size_t)__builtin_ctz(mask);
    }
    if (len >= 16 && i < len) {
        /* The last 16 bytes of the text, without those before i: no byte
         * loop, and no read past the end. */
        unsigned mask = care_bits(s + len - 16) >> (i - (len - 16));
        return mask != 0 ? i + (size_t)__builtin_ctz(mask) : len;
    }
#endif
    for (; len - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t m = care_mask(sl_jr_le64(x));
        if (m != 0)
            return i + (size_t)__builtin_ctzll(m) / 8;
    }
    return i;
}

/* Where the run of digits from s[i] ends. */
static inline size_t digits_end(const unsigned char *s, size_t len, size_t i) {
#if defined(__SSE2__)
    /* Signed compares: the bytes >= 0x80 are below '0' too. */
    const __m128i below = _mm_set1_epi8('0' - 1);
    const __m128i above = _mm_set1_epi8('9' + 1);
    for (; len - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i digit =
            _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, above));
        unsigned other = ~(unsigned)_mm_movemask_epi8(digit) & 0xFFFF;
        if (other != 0)
            return i + (size_t)__builtin_ctz(other);
    }
#endif
    while (i < len && (unsigned)(s[i] - '0') < 10)
        i++;
    return i;
}

/* What scan_string() and scan_number() return for a malformed string or
 * number, once scan_fail() has said why (never a position: the text is
 * shorter than UINT32_MAX). */
#define SCAN_FAILED SIZE_MAX

static size_t scan_fail(sl_jr_doc_t *doc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold));
static size_t scan_fail(sl_jr_doc_t *doc, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_err(doc, pos, fmt, ap);
    va_end(ap);
    return SCAN_FAILED;
}

/* Scans a string body from s[i] (after the opening quote or after plain
 * ASCII bytes of it) and returns the position of its closing quote; sets
 * *escaped when it meets a backslash. */
static size_t scan_string(sl_jr_doc_t *doc, const unsigned char *s, size_t len,
                          size_t i, int *escaped) {
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
        if (c == '"')
            return i;
        if (c < 0x20)
            return scan_fail(doc, i, "control byte 0x%02x inside a string", c);
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= len)
                break;
            unsigned char e = s[i + 1];
            switch (e) {
            /* Not formatted: the escapes JSON allows, as one list. */
            /* clang-format off */
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                /* clang-format on */
                i += 2;
                continue;
            case 'u': {
                unsigned u;
                if (read_u4(s + i + 2, len - i - 2, &u) != 0)
                    return scan_fail(doc, i, "bad \\u escape");
                i += 6;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return scan_fail(doc, i - 6, "lone low surrogate \\u%04x",
                                     u);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (i + 1 >= len || s[i] != '\\' || s[i + 1] != 'u' ||
                        read_u4(s + i + 2, len - i - 2, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return scan_fail(doc, i - 6,
                                         "high surrogate \\u%04x without its "
                                         "low half",
                                         u);
                    i += 6;
                }
                continue;
            }
            default:
                return scan_fail(doc, i, "bad escape \\%c",
                                 e >= 0x20 && e < 0x7F ? e : '?');
            }
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_len(s + i, len - i);
        if (n == 0)
            return scan_fail(doc, i, "invalid UTF-8 in a string");
        i += n;
    }
    return scan_fail(doc, len, "unterminated string");
}

/* Scans the number at s[i] and returns where it ends. */
static size_t scan_number(sl_jr_doc_t *doc, const unsigned char *s, size_t len,
                          size_t i) {
    size_t at = i;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return scan_fail(doc, at, "bad number");
    if (s[i] == '0') {
        i++;
        if (i < len && s[i] >= '0' && s[i] <= '9')
            return scan_fail(doc, at, "number with a leading zero");
    } else {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return scan_fail(doc, i, "number without fraction digits");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return scan_fail(doc, i, "number without exponent digits");
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i;
}

/* The position of the first byte from s[i] that is not whitespace (len at
 * the end). Out of line: peek() rarely needs it. */
static __attribute__((noinline)) size_t skip_ws(const unsigned char *s,
                                                size_t len, size_t i) {
    while (i < len &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Moves *i past whitespace and returns the byte there, or -1 at the end of
 * the text. Compact documents (all we produce) have no whitespace at all,
 * so the first test nearly always settles it. */
static inline int peek(const unsigned char *s, size_t len, size_t *i) {
    size_t k = *i;
    if (__builtin_expect(k < len && s[k] > ' ', 1))
        return s[k];
    *i = k = skip_ws(s, len, k);
    return k < len ? s[k] : -1;
}

/* How many tokens the array takes before the parser must stop and look:
 * its capacity, or max_toks when that comes first. */
static inline uint32_t tok_limit(const sl_jr_doc_t *doc) {
    return doc->max_toks != 0 && doc->max_toks < doc->cap ? doc->max_toks
                                                          : doc->cap;
}

/* Token n has reached tok_limit(): fails when it would be one more than
 * max_toks, else grows the array (doubling, as it always did, so memory
 * runs out at the same token). Out of line, so that the parser's check
 * before each token is a single compare. */
static int make_room(sl_jr_doc_t *doc, uint32_t n, size_t start) {
    if (doc->max_toks != 0 && n >= doc->max_toks)
        return fail(doc, SL_ETOOBIG, start, "more than %u values",
                    doc->max_toks);
    if (n == doc->cap)
        return grow_toks(doc, start);
    return 0;
}

/* Writes every field of a token (scalars are complete when pushed; a
 * container's len, next and count come at its close). */
static inline void set_tok(sl_jr_tok_t *t, sl_jr_type_t type, int escaped,
                           size_t start, size_t len, uint32_t next) {
    t->type = (uint8_t)type;
    t->escaped = (uint8_t)escaped;
    t->start = (uint32_t)start;
    t->len = (uint32_t)len;
    t->next = next;
    t->count = 0;
}

/* The position of the closing quote of the string whose body starts at
 * s[i], or SCAN_FAILED; *esc tells whether it holds a backslash. */
static inline __attribute__((always_inline)) size_t
string_end(sl_jr_doc_t *doc, const unsigned char *s, size_t len, size_t i,
           int *esc) {
    size_t end = plain_end(s, len, i);
    *esc = 0;
    if (__builtin_expect(end < len && s[end] == '"', 1))
        return end;
    int slow_esc = 0;
    end = scan_string(doc, s, len, end, &slow_esc);
    *esc = slow_esc;
    return end;
}

/* Where the number at s[i] ends, or SCAN_FAILED. Plain integers (ids,
 * counts, positions: nearly every number we read) are settled here; a
 * leading zero, a fraction, an exponent or an error sends the whole number
 * through scan_number(), which alone knows the messages. */
static inline __attribute__((always_inline)) size_t
number_end(sl_jr_doc_t *doc, const unsigned char *s, size_t len, size_t i) {
    size_t k = i + (s[i] == '-');
    if (k < len && (unsigned)(s[k] - '1') < 9) {
        k = digits_end(s, len, k + 1);
        if (k >= len || (s[k] != '.' && (s[k] | 0x20) != 'e'))
            return k;
    }
    return scan_number(doc, s, len, i);
}

/* Room for token n, or out to `failed` with rc set. */
#define NEED_TOK(start)                                                        \
    do {                                                                       \
        if (__builtin_expect(n >= limit, 0)) {                                 \
            if ((rc = make_room(doc, n, (start))) != 0)                        \
                goto failed;                                                   \
            toks = doc->toks;                                                  \
            limit = tok_limit(doc);                                            \
        }                                                                      \
    } while (0)

/*
 * Each place in the grammar is a label and the parser jumps between them,
 * so nothing is dispatched on a state per token:
 *
 *   value       a value (document start, after ':' or after ',' in an
 *               array); value_c when c = s[i] is already read
 *   first_elem  after '[': a value or ']'
 *   first_key   after '{': a key or '}'
 *   key         after ',' in an object: a key, then ':', then a value
 *   after       after a value: ',', the closing bracket, or the end
 *   close       the bracket at s[i] closes the innermost container
 *
 * The innermost open container lives in locals (top, count, closer): its
 * member count is written to its token when it closes, when a child
 * container opens (and read back at the child's close) and when parsing
 * fails, so the tokens always read as if every value had been counted in
 * place. The token count is a local too, stored in doc->ntoks on the way
 * out.
 */
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
    sl_jr_tok_t *toks = doc->toks;
    uint32_t n = 0, limit = tok_limit(doc);
    uint32_t depth = 0;
    uint32_t top = 0;   /* The innermost open container's token, */
    uint32_t count = 0; /* its members or elements so far */
    int closer = -1;    /* and its closing bracket (-1: none open). */
    size_t i = 0, end;
    int rc = 0, esc, c;

value:
    if ((c = peek(s, len, &i)) < 0)
        goto eof;
value_c:
    count++;
    if (c == '"') {
        if ((end = string_end(doc, s, len, i + 1, &esc)) == SCAN_FAILED)
            goto corrupt;
        NEED_TOK(i + 1);
        set_tok(&toks[n], SL_JR_STRING, esc, i + 1, end - i - 1, n + 1);
        n++;
        i = end + 1;
        goto after;
    }
    if ((unsigned)(c - '0') < 10 || c == '-') {
        if ((end = number_end(doc, s, len, i)) == SCAN_FAILED)
            goto corrupt;
        NEED_TOK(i);
        set_tok(&toks[n], SL_JR_NUMBER, 0, i, end - i, n + 1);
        n++;
        i = end;
        goto after;
    }
    if (c == '{' || c == '[') {
        if (depth >= max_depth) {
            rc = fail(doc, SL_ETOOBIG, i, "nesting deeper than %u", max_depth);
            goto failed;
        }
        NEED_TOK(i);
        if (depth > 0)
            toks[top].count = count;
        set_tok(&toks[n], c == '{' ? SL_JR_OBJECT : SL_JR_ARRAY, 0, i, 0, 0);
        top = n++;
        stack[depth++] = top;
        count = 0;
        closer = c + 2; /* '{' + 2 is '}', '[' + 2 is ']'. */
        i++;
        if (c == '{')
            goto first_key;
        goto first_elem;
    }
    {
        sl_jr_type_t type;
        size_t wlen;
        if (c == 'n' && len - i >= 4 && memcmp(s + i, "null", 4) == 0)
            type = SL_JR_NULL, wlen = 4;
        else if (c == 't' && len - i >= 4 && memcmp(s + i, "true", 4) == 0)
            type = SL_JR_TRUE, wlen = 4;
        else if (c == 'f' && len - i >= 5 && memcmp(s + i, "false", 5) == 0)
            type = SL_JR_FALSE, wlen = 5;
        else {
            rc = fail(doc, SL_ECORRUPT, i,
                      c >= 0x20 && c < 0x7F ? "unexpected '%c'"
                                            : "unexpected byte 0x%02x",
                      c);
            goto failed;
        }
        NEED_TOK(i);
        set_tok(&toks[n], type, 0, i, wlen, n + 1);
        n++;
        i += wlen;
    }

after:
    if ((c = peek(s, len, &i)) < 0) {
        if (depth == 0)
            goto done;
        goto eof;
    }
    if (c == ',' && closer > 0) {
        i++;
        if (closer == '}')
            goto key;
        goto value;
    }
    if (c == closer)
        goto close;
    if (depth == 0)
        rc = fail(doc, SL_ECORRUPT, i, "trailing bytes after the document");
    else
        rc = fail(doc, SL_ECORRUPT, i, "expected ',' or '%c'", closer);
    goto failed;

first_elem:
    if ((c = peek(s, len, &i)) < 0)
        goto eof;
    if (c == ']')
        goto close;
    goto value_c;

first_key:
    if ((c = peek(s, len, &i)) < 0)
        goto eof;
    if (c == '}')
        goto close;
    goto key_c;

key:
    if ((c = peek(s, len, &i)) < 0)
        goto eof;
key_c:
    if (c != '"') {
        rc = fail(doc, SL_ECORRUPT, i, "expected a string key");
        goto failed;
    }
    if ((end = string_end(doc, s, len, i + 1, &esc)) == SCAN_FAILED)
        goto corrupt;
    NEED_TOK(i + 1);
    set_tok(&toks[n], SL_JR_STRING, esc, i + 1, end - i - 1, n + 1);
    n++;
    i = end + 1;
    if ((c = peek(s, len, &i)) < 0)
        goto eof;
    if (c != ':') {
        rc = fail(doc, SL_ECORRUPT, i, "expected ':'");
        goto failed;
    }
    i++;
    goto value;

close:
    toks[top].next = n;
    toks[top].len = (uint32_t)(i + 1 - toks[top].start);
    toks[top].count = count;
    i++;
    if (--depth > 0) {
        top = stack[depth - 1];
        count = toks[top].count;
        closer = toks[top].type == SL_JR_OBJECT ? '}' : ']';
    } else {
        closer = -1;
    }
    goto after;

corrupt:
    /* scan_string() or scan_number() has said why. */
    rc = SL_ECORRUPT;
    goto failed;
eof:
    rc = fail(doc, SL_ECORRUPT, i, "unexpected end of input");
failed:
    if (depth > 0)
        toks[top].count = count;
done:
    doc->ntoks = n;
    if (stack != stack_small)
        free(stack);
    return rc;
}

#undef NEED_TOK

/* Decodes one escape at p (after the backslash is p[0] == '\\'); writes
 * the UTF-8 bytes to out (up to 4) and returns how many input bytes it
 * used. The tokenizer already validated the escape. */
static size_t unescape_one(const unsigned char *p, unsigned char *out,
                           size_t *outn) {
    unsigned char e = p[1];
    switch (e) {
    /* Not formatted: one escape per line reads as a table. */
    /* clang-format off */
    case 'b': out[0] = '\b'; *outn = 1; return 2;
    case 'f': out[0] = '\f'; *outn = 1; return 2;
    case 'n': out[0] = '\n'; *outn = 1; return 2;
    case 'r': out[0] = '\r'; *outn = 1; return 2;
    case 't': out[0] = '\t'; *outn = 1; return 2;
    case 'u': break;
    /* clang-format on */
    default:
        out[0] = e;
        *outn = 1;
        return 2;
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

int sl_jr_strdup(const sl_jr_doc_t *doc, uint32_t i, char **out,
                 size_t *outlen) {
    *out = NULL;
    if (i == SL_JR_NONE || sl_jr_type(doc, i) != SL_JR_STRING)
        return SL_EINVAL;
    sl_buf_t buf = SL_BUF_INIT;
    const char *cs;
    int err = sl_jr_unescape(doc, i, &buf);
    if (err == 0)
        err = sl_buf_cstr(&buf, &cs);
    if (err != 0) {
        sl_buf_free(&buf);
        return err;
    }
    *out = (char *)sl_buf_detach(&buf, outlen);
    return 0;
}
