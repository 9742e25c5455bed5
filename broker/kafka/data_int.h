/*
 * The Kafka listener's data path, shared by its files (produce.c,
 * fetch.c, offsets.c): its state in k->data, created on first use, and its
 * counters. The wire formats of the requests are at the top of each file.
 */
#ifndef SL_BROKER_KAFKA_DATA_INT_H
#define SL_BROKER_KAFKA_DATA_INT_H

#include "broker/kafka/internal.h"
#include "broker/store.h"

#include <stdint.h>
#include <uv.h>

typedef struct sl_kfetch_s sl_kfetch_t;

typedef struct {
    uint64_t produce_requests, produce_batches, produce_records;
    uint64_t produce_dups;    /* Retries answered with the original. */
    uint64_t produce_refused; /* Partition results with an error. */
    uint64_t produce_corrupt; /* CRC or framing (CORRUPT_MESSAGE). */
    uint64_t produce_out_of_order, produce_fenced;
    uint64_t fetch_requests, fetch_parked, fetch_batches, fetch_bytes;
    uint64_t fetch_out_of_range;
    uint64_t list_offsets, producer_ids;
} sl_kdata_stats_t;

/* The log start offset a Produce reply (v5+) gives, as looked up at
 * at_ms: the store reads it from the partition's index file, one pread,
 * so Produce looks it up at most once a second per partition (it only
 * moves forward, with retention; a reply may lag that by up to a
 * second, as any reply raced with retention does). Direct-mapped by the
 * partition's address. */
#define SL_KSTART_CACHE 4096
typedef struct {
    const sl_part_t *part;
    uint64_t earliest, at_ms;
} sl_kstart_t;

typedef struct {
    sl_buf_t scratch; /* Decompressed records while checking a batch. */
    sl_kstart_t start[SL_KSTART_CACHE];
    sl_kfetch_t *parked; /* Fetches waiting for data (max_wait_ms). */
    uv_timer_t *timer;   /* Fires at the earliest parked deadline. */
    int stopping;
    sl_kdata_stats_t st;
} sl_kdata_t;

/* k->data, created on first use; NULL when out of memory. */
sl_kdata_t *sl__kafka_data(sl_kafka_t *k);

/* The sluice partition behind Kafka (topic, partition) for reading:
 * SL_ENOTFOUND when there is none; 0 with *out NULL for a partition within
 * the topic's count that holds nothing yet (read as empty at offset 0). */
int sl__kafka_read_part(sl_kafka_t *k, const char *topic, size_t tlen,
                        int32_t partition, sl_part_t **out);

/* Releases the parked fetches (fetch.c) when the listener stops. */
void sl__kafka_fetch_stop(sl_kafka_t *k, sl_kdata_t *d);

#endif
