/* Partition names for database and table names; the encoding is specified
 * in partname.h. */
#include "partname.h"

#include "error.h"

#include <stdint.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

static int plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* Uppercase is not canonical, so it is refused too. */
}

/* SHA-256 as specified in FIPS 180-4, written here for the one digest the
 * long form needs (capture links no crypto library). */
typedef struct {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;
    uint64_t total;
} sha256_t;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(sha256_t *s, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
                      ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
                      ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha_init(sha256_t *s) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->fill = 0;
    s->total = 0;
}

static void sha_update(sha256_t *s, const void *data, size_t len) {
    const uint8_t *p = data;
    s->total += len;
    while (len > 0) {
        size_t n = 64 - s->fill;
        if (n > len)
            n = len;
        memcpy(s->block + s->fill, p, n);
        s->fill += n;
        p += n;
        len -= n;
        if (s->fill == 64) {
            sha_block(s, s->block);
            s->fill = 0;
        }
    }
}

static void sha_final(sha256_t *s, uint8_t out[32]) {
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80;
    sha_update(s, &pad, 1);
    pad = 0;
    while (s->fill != 56)
        sha_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static int encode_part(sl_buf_t *out, const char *s, size_t n) {
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c)) {
            err = sl_buf_append_u8(out, c);
        } else {
            char esc[3] = {'-', hexdig[c >> 4], hexdig[c & 15]};
            err = sl_buf_append(out, esc, 3);
        }
    }
    return err;
}

int sl_partname_encode(const char *db, size_t db_len, const char *table,
                       size_t table_len, sl_buf_t *out) {
    if (db_len == 0 || (table != NULL && table_len == 0))
        return SL_EINVAL;
    size_t start = out->len;
    int err = encode_part(out, db, db_len);
    if (err == 0 && table != NULL &&
        ((err = sl_buf_append_u8(out, '.')) != 0 ||
         (err = encode_part(out, table, table_len)) != 0))
        return err;
    if (err != 0 || out->len - start <= SL_PARTNAME_MAX)
        return err;
    /* The long form: a prefix that cuts no escape, "--", the digest of the
     * whole encoding. */
    const char *enc = (const char *)out->data + start;
    size_t enc_len = out->len - start;
    uint8_t digest[32];
    sha256_t sha;
    sha_init(&sha);
    sha_update(&sha, enc, enc_len);
    sha_final(&sha, digest);
    size_t keep = SL_PARTNAME_PREFIX_MAX;
    /* An escape is 3 characters; a cut inside one backs up to its '-'. */
    for (size_t k = keep > 2 ? keep - 2 : 0; k < keep; k++)
        if (enc[k] == '-') {
            keep = k;
            break;
        }
    out->len = start + keep;
    char tail[2 + 64];
    tail[0] = tail[1] = '-';
    for (int i = 0; i < 32; i++) {
        tail[2 + 2 * i] = hexdig[digest[i] >> 4];
        tail[3 + 2 * i] = hexdig[digest[i] & 15];
    }
    return sl_buf_append(out, tail, sizeof tail);
}

int sl_partname_is_long(const char *name, size_t len) {
    for (size_t i = 0; i + 1 < len; i++)
        if (name[i] == '-' && name[i + 1] == '-')
            return 1;
    return 0;
}

int sl_partname_decode(const char *name, size_t len, sl_buf_t *db,
                       sl_buf_t *table, int *has_table) {
    sl_buf_reset(db);
    sl_buf_reset(table);
    *has_table = 0;
    if (len > SL_PARTNAME_MAX)
        return SL_EINVAL;
    if (sl_partname_is_long(name, len))
        return SL_ETRUNC;
    sl_buf_t *cur = db;
    int err = 0;
    for (size_t i = 0; i < len && err == 0; i++) {
        unsigned char c = (unsigned char)name[i];
        if (plain(c)) {
            err = sl_buf_append_u8(cur, c);
        } else if (c == '.') {
            if (cur == table || db->len == 0)
                return SL_EINVAL;
            cur = table;
            *has_table = 1;
        } else if (c == '-') {
            int hi = i + 2 < len ? hexval((unsigned char)name[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)name[i + 2]) : -1;
            if (hi < 0 || lo < 0 || plain((unsigned char)(hi << 4 | lo)))
                return SL_EINVAL;
            err = sl_buf_append_u8(cur, (uint8_t)(hi << 4 | lo));
            i += 2;
        } else {
            return SL_EINVAL;
        }
    }
    if (err == 0 && (db->len == 0 || (*has_table && table->len == 0)))
        err = SL_EINVAL;
    return err;
}
