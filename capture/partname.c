/* Partition names for database and table names; the encoding is specified
 * in partname.h. */
#include "partname.h"

#include "error.h"

#include <openssl/evp.h>
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
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    if (EVP_Digest(enc, enc_len, digest, &digest_len, EVP_sha256(), NULL) !=
            1 ||
        digest_len != 32)
        return SL_ENOMEM; /* OpenSSL fails here only when it cannot allocate. */
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
