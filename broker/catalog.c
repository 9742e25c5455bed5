/*
 * The store's catalogue: partitions (by id and by "topic\0name"), the
 * idempotence state of producers, producer fences and consumer-group
 * offsets. It only keeps them in memory; meta.c makes names and group
 * offsets durable, the checkpoint (checkpoint.c) producer state, and
 * recovery (recover.c) fills the catalogue back in at start-up.
 */
#include "broker/store_int.h"

#include "bytes.h"
#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int sl__store_catalog_init(sl_store_t *store) {
    int err;
    if ((err = sl_strmap_init(&store->byname)) != 0 ||
        (err = sl_strmap_init(&store->groups)) != 0 ||
        (err = sl_strmap_init(&store->fences)) != 0)
        return err;
    return 0;
}

static void free_values(sl_strmap_t *map) {
    if (map->buckets)
        for (size_t b = 0; b < map->nbuckets; b++)
            for (sl_strmap_node_t *n = map->buckets[b]; n; n = n->next)
                free(n->value);
    sl_strmap_free(map);
}

void sl__store_catalog_free(sl_store_t *store) {
    for (uint32_t id = 1; id <= store->nparts; id++) {
        sl_part_t *part = store->parts[id];
        free(part->topic);
        free(part->name);
        free(part->prods);
        free(part->kprods);
        free(part->itail);
        free(part);
    }
    free(store->parts);
    store->parts = NULL;
    store->nparts = 0;
    sl_strmap_free(&store->byname);
    free_values(&store->groups);
    free_values(&store->fences);
}

sl_part_t *sl__store_find_part(const sl_store_t *store, const char *topic,
                               size_t tlen, const char *name, size_t nlen) {
    char key[600];
    if (tlen + 1 + nlen > sizeof key)
        return NULL;
    memcpy(key, topic, tlen);
    key[tlen] = '\0';
    memcpy(key + tlen + 1, name, nlen);
    return sl_strmap_get(&store->byname, key, tlen + 1 + nlen);
}

uint32_t sl_store_nparts(const sl_store_t *store) { return store->nparts; }

sl_part_t *sl_store_part_by_id(const sl_store_t *store, uint32_t id) {
    return id >= 1 && id <= store->nparts ? store->parts[id] : NULL;
}

int sl__store_add_part(sl_store_t *store, uint32_t id, const char *topic,
                       size_t tlen, const char *name, size_t nlen,
                       sl_part_t **out) {
    if (id != store->nparts + 1)
        return SL_EINVAL;
    if (id >= store->capparts) {
        uint32_t cap = store->capparts ? store->capparts * 2 : 64;
        sl_part_t **p = realloc(store->parts, cap * sizeof *p);
        if (p == NULL)
            return SL_ENOMEM;
        store->parts = p;
        store->capparts = cap;
    }
    sl_part_t *part = calloc(1, sizeof *part);
    char *key = malloc(tlen + 1 + nlen);
    if (part == NULL || key == NULL)
        goto nomem;
    part->topic = strndup(topic, tlen);
    part->name = strndup(name, nlen);
    if (part->topic == NULL || part->name == NULL)
        goto nomem;
    part->id = id;
    memcpy(key, topic, tlen);
    key[tlen] = '\0';
    memcpy(key + tlen + 1, name, nlen);
    if (sl_strmap_put(&store->byname, key, tlen + 1 + nlen, part) != 0)
        goto nomem;
    free(key);
    store->parts[id] = part;
    store->nparts = id;
    if (out)
        *out = part;
    return 0;
nomem:
    free(key);
    if (part) {
        free(part->topic);
        free(part->name);
        free(part);
    }
    return SL_ENOMEM;
}

static size_t group_key(char *key, const char *group, size_t glen,
                        uint32_t id) {
    memcpy(key, group, glen);
    key[glen] = '\0';
    sl_put_u32be((uint8_t *)key + glen + 1, id);
    return glen + 5;
}

uint64_t *sl__store_group_slot(const sl_store_t *store, const char *group,
                               size_t glen, uint32_t part_id) {
    char key[1100];
    if (glen > 1024)
        return NULL;
    size_t klen = group_key(key, group, glen, part_id);
    return sl_strmap_get(&store->groups, key, klen);
}

int sl__store_set_group(sl_store_t *store, const char *group, size_t glen,
                        uint32_t part_id, uint64_t offset) {
    char key[1100];
    if (glen > 1024)
        return SL_ETOOBIG;
    size_t klen = group_key(key, group, glen, part_id);
    uint64_t *v = sl_strmap_get(&store->groups, key, klen);
    if (v == NULL) {
        v = malloc(sizeof *v);
        if (v == NULL || sl_strmap_put(&store->groups, key, klen, v) != 0) {
            free(v);
            return SL_ENOMEM;
        }
    }
    *v = offset;
    return 0;
}

int sl__store_note_producer(sl_part_t *part, int64_t producer,
                            uint64_t first_seq, uint64_t last_seq,
                            uint64_t base_offset) {
    sl_prod_t *pr = NULL;
    for (uint32_t i = 0; i < part->nprods; i++)
        if (part->prods[i].producer == producer)
            pr = &part->prods[i];
    if (pr == NULL) {
        if (part->nprods == part->capprods) {
            uint32_t cap = part->capprods ? part->capprods * 2 : 2;
            sl_prod_t *p = realloc(part->prods, cap * sizeof *p);
            if (p == NULL)
                return SL_ENOMEM;
            part->prods = p;
            part->capprods = cap;
        }
        pr = &part->prods[part->nprods++];
        memset(pr, 0, sizeof *pr);
        pr->producer = producer;
    } else {
        pr->recent[pr->head] =
            (sl_prod_batch_t){pr->first_seq, pr->last_seq, pr->base_offset};
        pr->head = (pr->head + 1) % SL_PROD_RECENT;
        if (pr->nrecent < SL_PROD_RECENT)
            pr->nrecent++;
    }
    pr->first_seq = first_seq;
    pr->last_seq = last_seq;
    pr->base_offset = base_offset;
    return 0;
}

/* Kafka producer state, by Kafka's rules (ProducerStateManager and
 * ProducerAppendInfo.checkSequence, Kafka 2.x and later):
 *   - a batch without a producer id (-1) is never checked;
 *   - a producer id the partition does not know accepts any sequence
 *     (its batches may have gone with retention, as in Kafka);
 *   - an epoch below the producer's current one is STALE_EPOCH
 *     (INVALID_PRODUCER_EPOCH); a higher one must start at sequence 0
 *     (else OUT_OF_ORDER) and forgets the old epoch's batches;
 *   - in the current epoch, a batch whose first and last sequence equal
 *     one of the last 5 batches is DUP (Kafka answers such a retry with
 *     success and the original offsets, storing nothing);
 *   - otherwise the batch must follow the newest one: first_seq ==
 *     last_seq + 1, or 0 after 2^31 - 1 (else OUT_OF_ORDER), except that
 *     a batch lying wholly at or below the newest last sequence (within
 *     2^30, so a wrap is never mistaken for the past) is DUP_OLD: stored
 *     before, in a batch no longer remembered. Kafka 2.x answers that with
 *     OUT_OF_ORDER_SEQUENCE_NUMBER, which is fatal to an idempotent
 *     librdkafka producer; DUPLICATE_SEQUENCE_NUMBER, which librdkafka
 *     counts as delivered, is the truth here since the sequences of one
 *     epoch are stored once and in order.
 * Linear search: a partition has few producers writing to it. */
static sl_kprod_t *find_kprod(const sl_part_t *part, int64_t pid) {
    for (uint32_t i = 0; i < part->nkprods; i++)
        if (part->kprods[i].pid == pid)
            return &part->kprods[i];
    return NULL;
}

int32_t sl__store_kseq_last(int32_t first_seq, uint32_t count) {
    uint64_t last = (uint64_t)(uint32_t)first_seq + count - 1;
    return (int32_t)(last > SL_KSEQ_MAX ? last - SL_KSEQ_MAX - 1 : last);
}

/* How far seq a lies behind seq b, modulo 2^31. */
static uint32_t kseq_behind(int32_t a, int32_t b) {
    return ((uint32_t)b - (uint32_t)a) & SL_KSEQ_MAX;
}

int sl__store_kprod_check(const sl_part_t *part, int64_t pid, int16_t epoch,
                          int32_t first_seq, uint32_t count, uint64_t *orig) {
    *orig = UINT64_MAX;
    if (pid < 0)
        return SL_KPROD_OK;
    const sl_kprod_t *kp = find_kprod(part, pid);
    if (kp == NULL)
        return SL_KPROD_OK;
    if (epoch < kp->epoch)
        return SL_KPROD_STALE_EPOCH;
    if (epoch > kp->epoch || kp->nbatches == 0)
        return first_seq == 0 || kp->nbatches == 0 ? SL_KPROD_OK
                                                   : SL_KPROD_OUT_OF_ORDER;
    int32_t last = sl__store_kseq_last(first_seq, count);
    for (uint32_t k = 0; k < kp->nbatches; k++) {
        const sl_kbatch_t *b = &kp->batches[k];
        if (b->first_seq == first_seq && b->last_seq == last) {
            *orig = b->base_offset;
            return SL_KPROD_DUP;
        }
    }
    const sl_kbatch_t *newest =
        &kp->batches[(kp->head + SL_KPROD_BATCHES - 1) % SL_KPROD_BATCHES];
    if ((newest->last_seq == SL_KSEQ_MAX && first_seq == 0) ||
        (int64_t)first_seq == (int64_t)newest->last_seq + 1)
        return SL_KPROD_OK;
    uint32_t back = kseq_behind(first_seq, newest->last_seq);
    if (back < (1u << 30) && back >= count - 1)
        return SL_KPROD_DUP_OLD;
    return SL_KPROD_OUT_OF_ORDER;
}

int sl__store_kprod_note(sl_part_t *part, int64_t pid, int16_t epoch,
                         int32_t first_seq, uint32_t count,
                         uint64_t base_offset) {
    if (pid < 0 || first_seq < 0)
        return 0;
    sl_kprod_t *kp = find_kprod(part, pid);
    if (kp == NULL) {
        if (part->nkprods == part->capkprods) {
            uint32_t cap = part->capkprods ? part->capkprods * 2 : 2;
            sl_kprod_t *p = realloc(part->kprods, cap * sizeof *p);
            if (p == NULL)
                return SL_ENOMEM;
            part->kprods = p;
            part->capkprods = cap;
        }
        kp = &part->kprods[part->nkprods++];
        memset(kp, 0, sizeof *kp);
        kp->pid = pid;
        kp->epoch = epoch;
    }
    if (epoch != kp->epoch) {
        kp->epoch = epoch;
        kp->nbatches = kp->head = 0;
    }
    kp->batches[kp->head] = (sl_kbatch_t){
        first_seq, sl__store_kseq_last(first_seq, count), base_offset};
    kp->head = (uint8_t)((kp->head + 1) % SL_KPROD_BATCHES);
    if (kp->nbatches < SL_KPROD_BATCHES)
        kp->nbatches++;
    return 0;
}

/* Fences: an idempotent producer whose batch from sequence S was refused
 * may have later batches in flight (pipelined) that would otherwise be
 * stored after it; resending S would then look like a duplicate of an
 * older sequence and be dropped, acknowledged as "dup" although it was
 * never stored. So, until the producer stores a batch starting at or
 * below S again, its batches above S in that partition are refused too,
 * with the error that set the fence. Fences are set for lack of space
 * (SL_ENOSPC, writer.c's undo_group), for every refusal of sl_store_append once
 * the partition exists (too large, group full, out of memory; for an
 * overlapping range, SL_EEXIST, at the first sequence not stored, so that
 * the documented recovery, resending the original batches, passes) and
 * by the server through sl_store_fence (a CRC mismatch). Keyed by u32be
 * partition id and u64be producer; the value is a fence_t whose seq is S,
 * or SL__FENCE_NONE once cleared. */
typedef struct {
    uint64_t seq;
    int err;
} fence_t;

static size_t fence_key(uint8_t *key, const sl_part_t *part, int64_t producer) {
    sl_put_u32be(key, part->id);
    sl_put_u64be(key + 4, (uint64_t)producer);
    return 12;
}

void sl__store_fence_set(sl_store_t *store, const sl_part_t *part,
                         int64_t producer, uint64_t seq, int err) {
    uint8_t key[12];
    size_t klen = fence_key(key, part, producer);
    fence_t *v = sl_strmap_get(&store->fences, key, klen);
    if (v == NULL) {
        v = malloc(sizeof *v);
        if (v == NULL || sl_strmap_put(&store->fences, key, klen, v) != 0)
            sl_fatal("out of memory fencing a producer", NULL);
        v->seq = SL__FENCE_NONE;
    }
    if (v->seq == SL__FENCE_NONE)
        store->nfences++;
    if (v->seq == SL__FENCE_NONE || seq < v->seq) {
        v->seq = seq;
        v->err = err;
    }
}

void sl_store_fence(sl_store_t *store, const sl_part_t *part, int64_t producer,
                    uint64_t seq, int err) {
    if (producer >= 0 && (uint64_t)producer <= SL_PRODUCER_MAX &&
        seq <= SL_SEQ_MAX)
        sl__store_fence_set(store, part, producer, seq, err);
}

/* The fence's error when the batch must wait for the refused one before
 * it, else 0. With clear set (the batch is being stored, not a
 * duplicate), a batch at or below the fence lifts it. */
int sl__store_fence_check(sl_store_t *store, const sl_part_t *part,
                          int64_t producer, uint64_t seq, int clear) {
    if (store->nfences == 0)
        return 0;
    uint8_t key[12];
    size_t klen = fence_key(key, part, producer);
    fence_t *v = sl_strmap_get(&store->fences, key, klen);
    if (v == NULL || v->seq == SL__FENCE_NONE)
        return 0;
    if (seq > v->seq)
        return v->err;
    if (clear) {
        v->seq = SL__FENCE_NONE;
        store->nfences--;
    }
    return 0;
}
