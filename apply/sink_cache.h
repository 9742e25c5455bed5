/*
 * Cache-invalidation sinks: Redis (hiredis) and memcached (text protocol).
 *
 * Both take a list of keys (apply/keytpl.h) and delete them all, pipelined,
 * returning only when every delete was acknowledged by the server: Redis
 * answers each DEL with an integer, memcached each `delete` with DELETED
 * or NOT_FOUND (both success: the key is gone either way). When the server
 * is down or the connection breaks mid-pipeline, the sink reconnects with
 * exponential backoff and jitter and sends the whole list again (for a
 * memcached pool, the share of each server not yet acknowledged; deleting
 * twice is harmless), forever, until it succeeds or *stop is set. So the
 * caller may commit the broker offset as soon as a call returns 0: the
 * invalidation is at least once and never lost. Both sinks share that
 * loop (apply/sink_cache.c); only one attempt at one server is theirs.
 *
 * Redis can also PUBLISH each invalidated key on a channel (MetaQ's
 * broadcast cache invalidation), for processes that keep local caches;
 * the publish is part of the same pipeline and acknowledged likewise.
 *
 * Ownership: a sink is created by *_new and freed by *_free; the key list
 * stays owned by the caller. A sink is used by one thread at a time.
 */
#ifndef SL_APPLY_SINK_CACHE_H
#define SL_APPLY_SINK_CACHE_H

#include "apply/keytpl.h"

#include <stdint.h>

typedef struct {
    uint64_t batches;   /* Calls that succeeded. */
    uint64_t keys;      /* Keys acknowledged. */
    uint64_t existed;   /* Keys the server had (Redis DEL count, DELETED). */
    uint64_t published; /* Redis: PUBLISH messages acknowledged. */
    uint64_t retries;   /* Failed attempts that were retried. */
} sl_cache_stats_t;

typedef struct sl_redis_sink_s sl_redis_sink_t;

/* hostport is "HOST:PORT"; channel (may be NULL) enables PUBLISH of each
 * key; password (may be NULL) is sent with AUTH after each connect and
 * never logged. Connecting is lazy: a server that is down at start-up is
 * retried by the first delete. SL_EINVAL for a bad address. */
int sl_redis_sink_new(const char *hostport, const char *channel,
                      const char *password, sl_redis_sink_t **out);
void sl_redis_sink_free(sl_redis_sink_t *rs);
/* Deletes every key of kl. 0 when all were acknowledged, SL_ESTOPPED when
 * *stop became non-zero first (nothing may be assumed deleted). */
int sl_redis_sink_delete(sl_redis_sink_t *rs, const sl_keylist_t *kl,
                         volatile int *stop);
void sl_redis_sink_stats(const sl_redis_sink_t *rs, sl_cache_stats_t *st);

typedef struct sl_mc_sink_s sl_mc_sink_t;

/* A memcached key is at most 250 bytes without spaces or control bytes;
 * sl_mc_sink_delete() refuses a list holding another key (SL_EINVAL,
 * with the key named in the log) rather than send a broken command. */
#define SL_MC_MAX_KEY 250

/* hostports: n >= 1 "HOST:PORT" strings (copied). Several servers form a
 * pool: each key goes to the server libmemcached's libketama-compatible
 * consistent hashing picks (see apply/sink_memcached.c), and a delete call
 * returns 0 once every server acknowledged its share. SL_EINVAL for a bad
 * address or the same server twice. */
int sl_mc_sink_new(const char *const *hostports, size_t n, sl_mc_sink_t **out);
void sl_mc_sink_free(sl_mc_sink_t *mc);
int sl_mc_sink_delete(sl_mc_sink_t *mc, const sl_keylist_t *kl,
                      volatile int *stop);
void sl_mc_sink_stats(const sl_mc_sink_t *mc, sl_cache_stats_t *st);
/* The index (in the order given to sl_mc_sink_new) of the server key
 * goes to. */
size_t sl_mc_sink_server_of(const sl_mc_sink_t *mc, const char *key, size_t n);

/* Keys per pipelined round trip; bounded so that the replies of one round
 * fit in the socket buffers and neither side blocks writing. */
#define SL_CACHE_PIPELINE 512

#endif
