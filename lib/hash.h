/* Non-cryptographic hashing for tables and routing. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a: stable across runs and machines, so it may decide where
 * data goes (routing), not only where it sits in memory. */
static inline uint64_t sl_hash_fnv1a(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
