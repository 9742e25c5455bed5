/*
 * The name bijection between sluice's (topic T, partition name P) and
 * Kafka's (topic K, partition number n); docs/kafka.md has the same rules
 * with examples.
 *
 * Sluice names are 1..255 bytes 0x21..0x7E; Kafka topic names are
 * [A-Za-z0-9._-], 1..249 characters, not "." or "..". Every sluice topic
 * character is allowed in sluice topic names, '.' included, so a naive
 * "T.P" is not a bijection ((src, shop.users) and (src.shop, users) would
 * both be src.shop.users). The rules:
 *
 *   enc(T)   each byte of T in [A-Za-z0-9_] stands for itself; every other
 *            byte b becomes '-' and b as two lowercase hex digits
 *            ("src.shop" -> "src-2eshop", "my-app" -> "my-2dapp"). The
 *            same escape capture uses in partition names (capture/
 *            partname.h). enc(T) never contains '.'.
 *   P        splits into a base B and an optional suffix "#k", k a decimal
 *            0..65535 without leading zeros: "shop.users#3" is B
 *            "shop.users", k 3; "shop.users" is B "shop.users", no suffix.
 *
 *   Split form (B not empty, B of [A-Za-z0-9._-] only):
 *       K = enc(T) "." B, and n = k (n = 0 without a suffix).
 *       (src, shop.users) -> src.shop.users / 0;
 *       (src, shop.users#3) -> src.shop.users / 3;
 *       (src.shop, users) -> src-2eshop.users / 0.
 *   Direct form (P is "#k" alone: B empty), for T of Kafka characters
 *   that the split form would not parse (below):
 *       K = T, n = k.  (orders, #2) -> orders / 2.
 *
 * Reading a Kafka name K: when K holds a '.', the part before the first
 * '.' is not empty and is a canonical enc() of some T (only '-' escapes,
 * each of a byte outside [A-Za-z0-9_] and within 0x21..0x7E, in lowercase
 * hex), and the rest is not empty, K is in split form: T is that decoding
 * and B the rest. Otherwise K is in direct form: T = K, P = "#n".
 * Because enc() output has no '.', the first '.' of a split-form name is
 * always the separator, and a split-form name never reads as direct or
 * the other way round: each direction undoes the other.
 *
 * The one pair that shares a Kafka name is B and B#0 of one topic (both
 * partition 0 of enc(T).B). Capture makes one or the other (table mode or
 * key:N), never both for one topic unless its partitioning changes; if
 * both exist, the Kafka topic shows the "#k" partitions and the bare B
 * stays readable through the text protocol only. Topics created through
 * Kafka with N partitions become B#0..B#(N-1) (split form, N > 1), bare B
 * (split form, N = 1) or #0..#(N-1) (direct form).
 *
 * Not visible through Kafka: partitions whose base holds a character
 * outside [A-Za-z0-9._-], whose suffix is not a canonical k, whose Kafka
 * name would exceed 249 characters, and "#k" partitions of a topic whose
 * name is not a Kafka name or would read as split form.
 */
#include "broker/kafka/internal.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_NAME_MAX 249
#define SLUICE_NAME_MAX 255
/* Partition numbers a "#k" suffix may carry (capture's key:N uses k <
 * 65536). */
#define MAX_K 65535

static const char hexdig[] = "0123456789abcdef";

static int plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int kafka_char(unsigned char c) {
    return plain(c) || c == '.' || c == '-';
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int sl__kafka_valid_topic(const char *name, size_t len) {
    if (len == 0 || len > KAFKA_NAME_MAX)
        return 0;
    if ((len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!kafka_char((unsigned char)name[i]))
            return 0;
    return 1;
}

/* Decodes a canonical enc() of a sluice topic into out[cap]; returns its
 * length, or -1 when s is not canonical (or empty, or too long). */
static int dec_topic(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned char b;
        if (plain(c)) {
            b = c;
        } else if (c == '-' && i + 2 < n) {
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            b = (unsigned char)(hi * 16 + lo);
            if (plain(b) || b <= ' ' || b >= 0x7F)
                return -1;
            i += 2;
        } else {
            return -1;
        }
        if (o + 1 >= cap || o >= SLUICE_NAME_MAX)
            return -1;
        out[o++] = (char)b;
    }
    out[o] = '\0';
    return (int)o;
}

/* Whether Kafka name K reads in split form; *dot is its first '.'. */
static int split_form(const char *k, size_t len, size_t *dot) {
    const char *d = memchr(k, '.', len);
    if (d == NULL || d == k || (size_t)(d - k) + 1 >= len)
        return 0;
    char t[SLUICE_NAME_MAX + 1];
    if (dec_topic(k, (size_t)(d - k), t, sizeof t) < 0)
        return 0;
    *dot = (size_t)(d - k);
    return 1;
}

/* Parses a canonical "#k" suffix value; -1 when not canonical. */
static int32_t parse_k(const char *s, size_t n) {
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    int32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= MAX_K ? v : -1;
}

int sl__kafka_name_of(const char *topic, size_t tlen, const char *name,
                      size_t nlen, char *out, size_t cap, int32_t *partition) {
    const char *hash = NULL;
    for (size_t i = nlen; i > 0; i--)
        if (name[i - 1] == '#') {
            hash = name + i - 1;
            break;
        }
    size_t blen = nlen;
    int32_t k = 0;
    if (hash != NULL) {
        blen = (size_t)(hash - name);
        k = parse_k(hash + 1, nlen - blen - 1);
        if (k < 0)
            return SL_ENOTFOUND;
    }
    for (size_t i = 0; i < blen; i++)
        if (!kafka_char((unsigned char)name[i]))
            return SL_ENOTFOUND;
    size_t o = 0;
    if (blen == 0) {
        /* Direct form: T itself, when it would not read as split form. */
        size_t dot;
        if (hash == NULL || !sl__kafka_valid_topic(topic, tlen) ||
            split_form(topic, tlen, &dot))
            return SL_ENOTFOUND;
        if (tlen + 1 > cap)
            return SL_ETOOBIG;
        memcpy(out, topic, tlen);
        o = tlen;
    } else {
        for (size_t i = 0; i < tlen; i++) {
            unsigned char c = (unsigned char)topic[i];
            if (o + 4 > cap)
                return SL_ETOOBIG;
            if (plain(c)) {
                out[o++] = (char)c;
            } else {
                out[o++] = '-';
                out[o++] = hexdig[c >> 4];
                out[o++] = hexdig[c & 15];
            }
        }
        if (tlen == 0 || o + 1 + blen + 1 > cap)
            return tlen == 0 ? SL_ENOTFOUND : SL_ETOOBIG;
        out[o++] = '.';
        memcpy(out + o, name, blen);
        o += blen;
    }
    if (o > KAFKA_NAME_MAX)
        return SL_ENOTFOUND;
    out[o] = '\0';
    *partition = k;
    return 0;
}

int sl__kafka_name(const sl_part_t *part, char *topic, size_t cap,
                   int32_t *partition) {
    return sl__kafka_name_of(part->topic, strlen(part->topic), part->name,
                             strlen(part->name), topic, cap, partition);
}

int sl__kafka_sluice_name(const char *topic, size_t tlen, int32_t partition,
                          int bare, char *t, size_t tcap, char *p,
                          size_t pcap) {
    if (!sl__kafka_valid_topic(topic, tlen) || partition < 0 ||
        partition > MAX_K)
        return SL_EINVAL;
    size_t dot;
    char suffix[16];
    int slen = 0;
    if (split_form(topic, tlen, &dot)) {
        if (dec_topic(topic, dot, t, tcap) < 0)
            return SL_EINVAL;
        size_t blen = tlen - dot - 1;
        if (!(bare && partition == 0))
            slen = snprintf(suffix, sizeof suffix, "#%d", (int)partition);
        if (blen + (size_t)slen + 1 > pcap ||
            blen + (size_t)slen > SLUICE_NAME_MAX)
            return SL_EINVAL;
        memcpy(p, topic + dot + 1, blen);
        memcpy(p + blen, suffix, (size_t)slen);
        p[blen + (size_t)slen] = '\0';
        return 0;
    }
    if (tlen + 1 > tcap)
        return SL_EINVAL;
    memcpy(t, topic, tlen);
    t[tlen] = '\0';
    slen = snprintf(suffix, sizeof suffix, "#%d", (int)partition);
    if ((size_t)slen + 1 > pcap)
        return SL_EINVAL;
    memcpy(p, suffix, (size_t)slen + 1);
    return 0;
}

/* ---- the index of Kafka topics ---------------------------------------- */

static sl_ktopic_t *topic_get(sl_kafka_t *k, const char *name, size_t len,
                              int make) {
    sl_ktopic_t *t = sl_strmap_get(&k->topics, name, len);
    if (t != NULL || !make)
        return t;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->name = malloc(len + 1);
    if (t->name == NULL || sl_strmap_put(&k->topics, name, len, t) != 0) {
        free(t->name);
        free(t);
        return NULL;
    }
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->len = len;
    return t;
}

/* Files part in the index under its Kafka name (if it has one). */
static int index_part(sl_kafka_t *k, sl_part_t *part) {
    char name[KAFKA_NAME_MAX + 1];
    int32_t n;
    if (sl__kafka_name(part, name, sizeof name, &n) != 0)
        return 0;
    sl_ktopic_t *t = topic_get(k, name, strlen(name), 1);
    if (t == NULL)
        return SL_ENOMEM;
    if (strchr(part->name, '#') == NULL) {
        t->bare = part;
        return 0;
    }
    if (n >= t->cap) {
        int32_t cap = t->cap ? t->cap : 4;
        while (cap <= n)
            cap *= 2;
        sl_part_t **parts = realloc(t->parts, (size_t)cap * sizeof *parts);
        if (parts == NULL)
            return SL_ENOMEM;
        memset(parts + t->cap, 0, (size_t)(cap - t->cap) * sizeof *parts);
        t->parts = parts;
        t->cap = cap;
    }
    t->parts[n] = part;
    if (n >= t->nparts)
        t->nparts = n + 1;
    return 0;
}

/* Indexes the partitions the store created since the last call. A
 * partition that cannot be indexed for lack of memory is tried again
 * next time. */
static void names_sync(sl_kafka_t *k) {
    uint32_t n = sl_store_nparts(k->store);
    while (k->names_scanned < n) {
        sl_part_t *part = sl_store_part_by_id(k->store, k->names_scanned + 1);
        if (part != NULL && index_part(k, part) != 0)
            return;
        k->names_scanned++;
    }
}

sl_ktopic_t *sl__kafka_topic(sl_kafka_t *k, const char *name, size_t len) {
    names_sync(k);
    sl_ktopic_t *t = sl_strmap_get(&k->topics, name, len);
    return t && sl__kafka_topic_nparts(t) > 0 ? t : NULL;
}

void sl__kafka_topics_each(sl_kafka_t *k,
                           void (*cb)(void *arg, const sl_ktopic_t *t),
                           void *arg) {
    names_sync(k);
    for (size_t b = 0; b < k->topics.nbuckets; b++)
        for (sl_strmap_node_t *nd = k->topics.buckets[b]; nd; nd = nd->next)
            if (sl__kafka_topic_nparts(nd->value) > 0)
                cb(arg, nd->value);
}

/* Creates the sluice partition behind Kafka (name, n). */
static int create_one(sl_kafka_t *k, const char *name, size_t len, int32_t n,
                      int bare, sl_part_t **out) {
    char t[SLUICE_NAME_MAX + 1], p[SLUICE_NAME_MAX + 1];
    int err =
        sl__kafka_sluice_name(name, len, n, bare, t, sizeof t, p, sizeof p);
    if (err != 0)
        return err;
    err = sl_store_part(k->store, t, strlen(t), p, strlen(p), 1, out);
    if (err == 0)
        names_sync(k);
    return err;
}

int sl__kafka_create_topic(sl_kafka_t *k, const char *name, size_t len,
                           int32_t n) {
    if (!sl__kafka_valid_topic(name, len) || n <= 0 || n > MAX_K + 1)
        return SL_EINVAL;
    char t[SLUICE_NAME_MAX + 1], p[SLUICE_NAME_MAX + 1];
    if (sl__kafka_sluice_name(name, len, n - 1, 0, t, sizeof t, p, sizeof p) !=
        0)
        return SL_EINVAL;
    if (sl__kafka_topic(k, name, len) != NULL)
        return SL_EEXIST;
    const sl_store_opts_t *so = sl_store_options(k->store);
    if (!so->auto_create)
        return SL_ENOTFOUND;
    if (so->max_partitions &&
        (uint64_t)sl_store_nparts(k->store) + (uint64_t)n > so->max_partitions)
        return SL_ELIMIT;
    size_t dot;
    int bare = n == 1 && split_form(name, len, &dot);
    for (int32_t i = 0; i < n; i++) {
        sl_part_t *part;
        int err = create_one(k, name, len, i, bare, &part);
        if (err != 0)
            return err;
    }
    return 0;
}

int sl__kafka_part(sl_kafka_t *k, const char *topic, size_t tlen,
                   int32_t partition, int create, sl_part_t **out) {
    *out = NULL;
    if (!sl__kafka_valid_topic(topic, tlen))
        return SL_EINVAL;
    sl_ktopic_t *t = sl__kafka_topic(k, topic, tlen);
    if (t == NULL) {
        if (!create || partition != 0)
            return SL_ENOTFOUND;
        int err = sl__kafka_create_topic(k, topic, tlen, 1);
        if (err == SL_EEXIST)
            err = 0;
        if (err != 0)
            return err;
        t = sl__kafka_topic(k, topic, tlen);
        if (t == NULL)
            return SL_ENOTFOUND;
    }
    if (partition < 0 || partition >= sl__kafka_topic_nparts(t))
        return SL_ENOTFOUND;
    *out = sl__kafka_topic_part(t, partition);
    if (*out != NULL || !create)
        return 0;
    return create_one(k, topic, tlen, partition, 0, out);
}

void sl__kafka_names_free(sl_kafka_t *k) {
    for (size_t b = 0; b < k->topics.nbuckets; b++)
        for (sl_strmap_node_t *nd = k->topics.buckets[b]; nd; nd = nd->next) {
            sl_ktopic_t *t = nd->value;
            free(t->name);
            free(t->parts);
            free(t);
        }
    sl_strmap_free(&k->topics);
}

int sl_kafka_name_of(const char *topic, size_t tlen, const char *name,
                     size_t nlen, char *out, size_t cap, int32_t *partition) {
    return sl__kafka_name_of(topic, tlen, name, nlen, out, cap, partition);
}

int sl_kafka_sluice_name(const char *topic, size_t tlen, int32_t partition,
                         int bare, char *t, size_t tcap, char *p, size_t pcap) {
    return sl__kafka_sluice_name(topic, tlen, partition, bare, t, tcap, p,
                                 pcap);
}
