/* Chained hash map with FNV-1a hashing; see strmap.h. */
#include "strmap.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

uint64_t sl_strmap_hash(const void *key, size_t klen) {
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int sl_strmap_init(sl_strmap_t *map) {
    map->nbuckets = 64;
    map->count = 0;
    map->buckets = calloc(map->nbuckets, sizeof *map->buckets);
    return map->buckets ? 0 : SL_ENOMEM;
}

void sl_strmap_free(sl_strmap_t *map) {
    if (map->buckets == NULL)
        return;
    for (size_t i = 0; i < map->nbuckets; i++) {
        sl_strmap_node_t *n = map->buckets[i];
        while (n) {
            sl_strmap_node_t *next = n->next;
            free(n);
            n = next;
        }
    }
    free(map->buckets);
    map->buckets = NULL;
    map->count = 0;
}

static sl_strmap_node_t *find(const sl_strmap_t *map, const void *key,
                              size_t klen, uint64_t h) {
    for (sl_strmap_node_t *n = map->buckets[h & (map->nbuckets - 1)]; n;
         n = n->next)
        if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
            return n;
    return NULL;
}

void *sl_strmap_get(const sl_strmap_t *map, const void *key, size_t klen) {
    sl_strmap_node_t *n = find(map, key, klen, sl_strmap_hash(key, klen));
    return n ? n->value : NULL;
}

static int grow(sl_strmap_t *map) {
    size_t nb = map->nbuckets * 2;
    sl_strmap_node_t **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < map->nbuckets; i++) {
        sl_strmap_node_t *n = map->buckets[i];
        while (n) {
            sl_strmap_node_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(map->buckets);
    map->buckets = b;
    map->nbuckets = nb;
    return 0;
}

int sl_strmap_put(sl_strmap_t *map, const void *key, size_t klen, void *value) {
    uint64_t h = sl_strmap_hash(key, klen);
    sl_strmap_node_t *n = find(map, key, klen, h);
    if (n) {
        n->value = value;
        return 0;
    }
    if (map->count + 1 > map->nbuckets && grow(map) != 0)
        return SL_ENOMEM;
    n = malloc(sizeof *n + klen + 1);
    if (n == NULL)
        return SL_ENOMEM;
    n->hash = h;
    n->value = value;
    n->klen = klen;
    memcpy(n->key, key, klen);
    n->key[klen] = '\0';
    size_t b = h & (map->nbuckets - 1);
    n->next = map->buckets[b];
    map->buckets[b] = n;
    map->count++;
    return 0;
}

void *sl_strmap_del(sl_strmap_t *map, const void *key, size_t klen) {
    uint64_t h = sl_strmap_hash(key, klen);
    sl_strmap_node_t **pp = &map->buckets[h & (map->nbuckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        sl_strmap_node_t *n = *pp;
        if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0) {
            void *value = n->value;
            *pp = n->next;
            free(n);
            map->count--;
            return value;
        }
    }
    return NULL;
}
