/*
 * Internals shared by the two cache sinks (apply/sink_cache.h): the loop
 * that retries a delete call until every server acknowledged it, in
 * apply/sink_cache.c. The sinks supply what differs (how one attempt
 * talks to one server) as callbacks.
 */
#ifndef SL_APPLY_SINK_CACHE_INT_H
#define SL_APPLY_SINK_CACHE_INT_H

#include "apply/sink_cache.h"
#include "backoff.h"

#include <stddef.h>
#include <stdint.h>

/* One server a call's keys go to, as the retry loop sees it. */
typedef struct {
    const char *host; /* For the log, with port; owned by the sink. */
    unsigned port;
    size_t nkeys;      /* Keys of the current call that go here. */
    int pending;       /* Its share of the current call is not acknowledged. */
    uint64_t failures; /* Consecutive failed attempts (for the log). */
} sl__cache_target_t;

typedef struct {
    const char *name; /* "redis", "memcached": names the sink in the log. */
    /* Target t of the sink (t < the ntargets given to sl__cache_retry()). */
    sl__cache_target_t *(*target)(void *sink, size_t t);
    /* One attempt at target t's share of kl: 0 when every delete of it was
     * acknowledged, adding to *existed and *published; otherwise an error
     * with why filled in, the connection dropped so that the next attempt
     * starts clean. SL_ENOMEM ends the call instead of being retried. */
    int (*attempt)(void *sink, size_t t, const sl_keylist_t *kl, char *why,
                   size_t whylen, uint64_t *existed, uint64_t *published);
} sl__cache_ops_t;

/* Runs attempts at every pending target (the caller sets pending and
 * nkeys) until all acknowledged, sleeping bo between rounds; a target that
 * was acknowledged is not sent again. Logs the first failure of a target
 * and every 20th after, and its return. Returns 0 (stats updated),
 * SL_ESTOPPED when *stop became non-zero first, or SL_ENOMEM. */
int sl__cache_retry(const sl__cache_ops_t *ops, void *sink, size_t ntargets,
                    sl_backoff_t *bo, sl_cache_stats_t *stats,
                    const sl_keylist_t *kl, volatile int *stop);

#endif
