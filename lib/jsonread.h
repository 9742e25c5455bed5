/*
 * A small strict JSON reader: a zero-copy tokenizer that turns one JSON
 * document (RFC 8259) into a flat array of tokens pointing into the
 * caller's buffer.
 *
 * Tokens are stored in document order. A container token (object or
 * array) is followed by its children; an object's children alternate key
 * (a string token) and value. Every token records where its subtree ends
 * (`next`), so a caller skips a whole value in O(1) and walks an object's
 * members without recursion.
 *
 * Numbers are kept as their text: a 64-bit unsigned id or a DECIMAL(65,30)
 * survives untouched, and sl_jr_u64()/sl_jr_i64() convert on demand with
 * overflow checks. Strings are validated (escapes, surrogate pairs, UTF-8)
 * while tokenizing and unescaped only when asked for.
 *
 * Strictness: exactly one value, optional surrounding whitespace (space,
 * tab, CR, LF), no trailing bytes, no comments, no trailing commas, no
 * leading zeros or '+', no control bytes inside strings, no lone
 * surrogates, no invalid or overlong UTF-8, nesting bounded by max_depth.
 * Duplicate object keys are accepted by the tokenizer; sl_jr_get() returns
 * the first.
 *
 * Ownership: sl_jr_doc_t owns its token array (sl_jr_free() releases it)
 * and borrows the text, which must outlive every use of the tokens. A doc
 * is reused across documents without reallocating.
 */
#ifndef SL_JSONREAD_H
#define SL_JSONREAD_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    SL_JR_NULL = 0,
    SL_JR_FALSE = 1,
    SL_JR_TRUE = 2,
    SL_JR_NUMBER = 3,
    SL_JR_STRING = 4,
    SL_JR_ARRAY = 5,
    SL_JR_OBJECT = 6,
} sl_jr_type_t;

typedef struct {
    uint8_t type;    /* sl_jr_type_t. */
    uint8_t escaped; /* Strings: the text holds at least one backslash. */
    uint32_t start;  /* Offset of the value's text (strings: after '"'). */
    uint32_t len;    /* Text length (strings: without the quotes;
                        containers: from the bracket to its match). */
    uint32_t next;   /* Index of the first token after this subtree. */
    uint32_t count;  /* Containers: members (objects) or elements. */
} sl_jr_tok_t;

#define SL_JR_DEFAULT_DEPTH 64
#define SL_JR_NONE UINT32_MAX

typedef struct {
    const char *text; /* The document (borrowed). */
    size_t text_len;
    sl_jr_tok_t *toks; /* Owned. */
    uint32_t ntoks;
    uint32_t cap;
    uint32_t max_depth; /* 0 means SL_JR_DEFAULT_DEPTH. */
    uint32_t max_toks;  /* 0 means no limit besides memory and 2^31. */
    size_t err_pos;     /* Byte offset of the first error. */
    char err[128];      /* What was wrong there (empty on success). */
} sl_jr_doc_t;

void sl_jr_init(sl_jr_doc_t *doc);
void sl_jr_free(sl_jr_doc_t *doc);

/* Tokenizes text[0..len). Returns 0, SL_ECORRUPT (malformed, with err and
 * err_pos set), SL_ETOOBIG (deeper than max_depth, more tokens than
 * max_toks, or a document of 4 GiB or more) or SL_ENOMEM. On error the
 * tokens are unusable. The root is token 0. */
int sl_jr_parse(sl_jr_doc_t *doc, const char *text, size_t len);

static inline const sl_jr_tok_t *sl_jr_tok(const sl_jr_doc_t *doc, uint32_t i) {
    return &doc->toks[i];
}
static inline sl_jr_type_t sl_jr_type(const sl_jr_doc_t *doc, uint32_t i) {
    return (sl_jr_type_t)doc->toks[i].type;
}
/* Raw text of a token (strings: the escaped body without quotes). */
static inline const char *sl_jr_raw(const sl_jr_doc_t *doc, uint32_t i,
                                    size_t *len) {
    *len = doc->toks[i].len;
    return doc->text + doc->toks[i].start;
}

/* The value of member name in object obj, or SL_JR_NONE when obj is not
 * an object or has no such member. Keys are compared after unescaping. */
uint32_t sl_jr_get(const sl_jr_doc_t *doc, uint32_t obj, const char *name);
uint32_t sl_jr_getn(const sl_jr_doc_t *doc, uint32_t obj, const char *name,
                    size_t name_len);

/* Iterates an object's members: start with *it = 0; each call sets *key and
 * *val and returns 1, or returns 0 at the end. Arrays: *key is SL_JR_NONE. */
static inline int sl_jr_next(const sl_jr_doc_t *doc, uint32_t container,
                             uint32_t *it, uint32_t *key, uint32_t *val) {
    const sl_jr_tok_t *c = &doc->toks[container];
    if (c->type != SL_JR_OBJECT && c->type != SL_JR_ARRAY)
        return 0;
    uint32_t i = *it == 0 ? container + 1 : *it;
    if (i >= c->next)
        return 0;
    if (c->type == SL_JR_OBJECT) {
        *key = i;
        *val = i + 1;
    } else {
        *key = SL_JR_NONE;
        *val = i;
    }
    *it = doc->toks[*val].next;
    return 1;
}

/* 1 when string token i, unescaped, equals s[0..n). */
int sl_jr_str_eq_escaped(const sl_jr_doc_t *doc, uint32_t i, const char *s,
                         size_t n);
/* Inline: it is called several times for every event, mostly on short
 * unescaped strings against constants, where memcmp() is inlined too. */
static inline int sl_jr_str_eq(const sl_jr_doc_t *doc, uint32_t i,
                               const char *s, size_t n) {
    const sl_jr_tok_t *t = &doc->toks[i];
    if (t->type != SL_JR_STRING)
        return 0;
    if (t->escaped)
        return sl_jr_str_eq_escaped(doc, i, s, n);
    return t->len == n && memcmp(doc->text + t->start, s, n) == 0;
}

/* Appends the unescaped bytes of string token i to out. SL_EINVAL when i
 * is not a string (or is SL_JR_NONE); SL_ENOMEM. */
int sl_jr_unescape(const sl_jr_doc_t *doc, uint32_t i, sl_buf_t *out);

/* Copies string token i, unescaped, into out (outlen bytes, NUL-terminated).
 * SL_EINVAL when i is SL_JR_NONE or not a string, SL_ETOOBIG when it does
 * not fit (out is then ""), SL_ENOMEM. */
int sl_jr_copy_str(const sl_jr_doc_t *doc, uint32_t i, char *out,
                   size_t outlen);

/* Returns string token i, unescaped, as a malloc'd NUL-terminated string
 * in *out (the caller frees it) and its length without the NUL in *outlen
 * (optional; it differs from strlen(*out) when the string holds "\u0000").
 * SL_EINVAL when i is SL_JR_NONE or not a string, SL_ENOMEM. */
int sl_jr_strdup(const sl_jr_doc_t *doc, uint32_t i, char **out,
                 size_t *outlen);

/* Converts a number token written as an integer (no fraction, no
 * exponent). SL_EINVAL when not a number (or SL_JR_NONE) or not an
 * integer, SL_ERANGE when it does not fit. */
int sl_jr_u64(const sl_jr_doc_t *doc, uint32_t i, uint64_t *v);
int sl_jr_i64(const sl_jr_doc_t *doc, uint32_t i, int64_t *v);

/* The type's name ("object"), for messages. */
const char *sl_jr_type_name(sl_jr_type_t type);

/* Decodes standard padded base64 (RFC 4648; whitespace not allowed) and
 * appends the bytes to out. SL_ECORRUPT on a bad character or padding. */
int sl_jr_base64_decode(sl_buf_t *out, const char *text, size_t len);

#endif
