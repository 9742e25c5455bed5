/*
 * Retry pacing (contract in lib/backoff.h).
 */
#include "backoff.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* The fields both kinds share; the seed only matters with jitter. */
static void init(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms,
                 uint32_t hold, uint32_t factor, int jitter) {
    bo->min_ms = min_ms ? min_ms : 1;
    bo->max_ms = max_ms < bo->min_ms ? bo->min_ms : max_ms;
    bo->hold = hold ? hold : 1;
    bo->factor = factor < 2 ? 2 : factor;
    bo->jitter = jitter;
    bo->cur_ms = 0;
    bo->attempts = 0;
    bo->seed = 1;
}

void sl_backoff_init(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms) {
    init(bo, min_ms, max_ms, 1, 2, 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    bo->seed = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^
               (uint32_t)(uintptr_t)bo;
    if (bo->seed == 0)
        bo->seed = 1;
}

void sl_backoff_init_exact(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms,
                           uint32_t hold, uint32_t factor) {
    init(bo, min_ms, max_ms, hold, factor, 0);
}

void sl_backoff_reset(sl_backoff_t *bo) {
    bo->cur_ms = 0;
    bo->attempts = 0;
}

uint32_t sl_backoff_next(sl_backoff_t *bo) {
    if (bo->cur_ms == 0 || bo->attempts < bo->hold)
        bo->cur_ms = bo->min_ms;
    else if (bo->cur_ms >= bo->max_ms / bo->factor)
        bo->cur_ms = bo->max_ms;
    else
        bo->cur_ms *= bo->factor;
    bo->attempts++;
    if (!bo->jitter)
        return bo->cur_ms;
    /* xorshift32: good enough to de-synchronise retries. */
    uint32_t x = bo->seed;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    bo->seed = x;
    uint32_t half = bo->cur_ms / 2;
    return half + (half ? x % (bo->cur_ms - half + 1) : 0);
}

int sl_sleep_ms(uint32_t ms, volatile int *stop) {
    while (ms > 0) {
        if (stop != NULL && *stop)
            return 1;
        uint32_t slice = ms > 50 ? 50 : ms;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return stop != NULL && *stop;
}

static uint64_t sleeps_total, last_sleep_ms;

uint64_t sl_backoff_sleeps_total(void) {
    return __atomic_load_n(&sleeps_total, __ATOMIC_RELAXED);
}

uint64_t sl_backoff_last_sleep_ms(void) {
    return __atomic_load_n(&last_sleep_ms, __ATOMIC_RELAXED);
}

int sl_backoff_sleep(sl_backoff_t *bo, volatile int *stop) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    __atomic_fetch_add(&sleeps_total, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&last_sleep_ms,
                     (uint64_t)now.tv_sec * 1000u +
                         (uint64_t)now.tv_nsec / 1000000u,
                     __ATOMIC_RELAXED);
    return sl_sleep_ms(sl_backoff_next(bo), stop);
}
