/*
 * A small chained hash map from byte-string keys to pointers: partition
 * names and consumer-group offsets in the broker, the partitions a
 * transaction touched in capture. The map copies keys; values are owned
 * by the caller.
 */
#ifndef SL_STRMAP_H
#define SL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_strmap_node_s {
    struct sl_strmap_node_s *next;
    uint64_t hash;
    void *value;
    size_t klen;
    char key[]; /* klen bytes, then a NUL. */
} sl_strmap_node_t;

typedef struct {
    sl_strmap_node_t **buckets;
    size_t nbuckets;
    size_t count;
} sl_strmap_t;

int sl_strmap_init(sl_strmap_t *map);
/* Frees the nodes, not the values. */
void sl_strmap_free(sl_strmap_t *map);
void *sl_strmap_get(const sl_strmap_t *map, const void *key, size_t klen);
/* Inserts or replaces. */
int sl_strmap_put(sl_strmap_t *map, const void *key, size_t klen, void *value);
/* Removes key; returns its value (the caller's to free), NULL when none. */
void *sl_strmap_del(sl_strmap_t *map, const void *key, size_t klen);
uint64_t sl_strmap_hash(const void *key, size_t klen);

#endif
