/*
 * Per-partition index: one file per partition, idx/<partition id>.idx, of
 * fixed-size entries, one per stored batch, in offset order (layout at
 * the top of index.c). Fetching offset N is a binary search over it, never
 * a scan of the commit log.
 *
 * Index files are not held open for appending: the writer thread and the
 * loop thread each keep a bounded, direct-mapped cache of descriptors
 * (sl_fdcache_t), so 10,000+ partitions never mean 10,000 open files.
 */
#ifndef SL_BROKER_INDEX_H
#define SL_BROKER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define SL_INDEX_ENTRY 40
/* Entry lengths no batch can have (index.c): offsets quarantined by
 * recovery, and offsets it skipped (nothing stored there). */
#define SL_INDEX_QUARANTINED 0u
#define SL_INDEX_HOLE 1u

typedef struct {
    uint64_t base_offset;
    uint64_t pos;   /* Commit-log position of the entry. */
    uint32_t len;   /* Entry length, sluice header included. */
    uint32_t count; /* Records in the batch. */
    int64_t max_ts;
    uint32_t part_id;
} sl_index_entry_t;

void sl_index_encode(uint8_t out[SL_INDEX_ENTRY], const sl_index_entry_t *ie);
/* SL_ECHECKSUM when the entry's CRC does not match. */
int sl_index_decode(const uint8_t in[SL_INDEX_ENTRY], sl_index_entry_t *ie);

/* A direct-mapped cache of index-file descriptors. Owned by one thread. */
typedef struct {
    char *dir; /* Owned copy of the index directory. */
    int writable;
    size_t size;
    uint32_t *ids;
    int *fds;       /* -1 when empty. */
    uint64_t opens; /* Statistics: how many open(2) calls. */
} sl_fdcache_t;

int sl_fdcache_init(sl_fdcache_t *fc, const char *dir, int writable,
                    size_t size);
void sl_fdcache_free(sl_fdcache_t *fc);
/* Returns a descriptor for partition id's index (creating the file when
 * writable), or a negative SL_E* code. The cache owns the descriptor. */
int sl_fdcache_get(sl_fdcache_t *fc, uint32_t id);
/* Closes the cached descriptor of id, if any. */
void sl_fdcache_drop(sl_fdcache_t *fc, uint32_t id);

/* Path of partition id's index file into out. */
void sl_index_path(char *out, size_t outlen, const char *dir, uint32_t id);

/* Reads entry number slot. SL_ETRUNC when the file is too short. */
int sl_index_read(int fd, uint64_t slot, sl_index_entry_t *ie);

/* The binary searches read entries through a reader, so that one search
 * serves an index file (sl_index_read_fd) and the store's view of a
 * partition's index (its file plus the entries still in memory). A reader
 * fills *ie with entry number slot and returns 0 or an SL_E* code. */
typedef int (*sl_index_reader_fn)(void *ctx, uint64_t slot,
                                  sl_index_entry_t *ie);
/* A reader over an index file; ctx points to its descriptor (an int). */
int sl_index_read_fd(void *ctx, uint64_t slot, sl_index_entry_t *ie);

/* Binary search over slots [lo, hi) for the last entry whose base offset
 * is <= offset; *slot receives it (lo when offset is below every entry). */
int sl_index_find_offset(sl_index_reader_fn rd, void *ctx, uint64_t lo,
                         uint64_t hi, uint64_t offset, uint64_t *slot);
/* First slot in [lo, hi) whose position is >= pos (hi when none). */
int sl_index_find_pos(sl_index_reader_fn rd, void *ctx, uint64_t lo,
                      uint64_t hi, uint64_t pos, uint64_t *slot);
/* First slot in [lo, hi) whose max timestamp is >= ts (hi when none). */
int sl_index_find_ts(sl_index_reader_fn rd, void *ctx, uint64_t lo, uint64_t hi,
                     int64_t ts, uint64_t *slot);

#endif
