/*
 * Retry pacing, one for every program: the apply sinks and consumer, the
 * broker client's reconnect (lib/client.c) and capture's publisher
 * (capture/publish.c). A sleep that wakes early when the program is asked
 * to stop goes with it.
 *
 * The delay starts at min_ms and stays there for the first `hold`
 * failures; each failure after that multiplies it by `factor`, up to
 * max_ms. With jitter the actual sleep is drawn uniformly from
 * [delay/2, delay], so that workers retrying against the same server
 * spread out instead of arriving in step; without it the sleep is the
 * delay. A success resets the delay.
 *
 * sl_backoff_init() is the jittered doubling the apply sinks use (hold 1,
 * factor 2); sl_backoff_init_exact() gives callers whose pauses are fixed
 * steps (the client's 100 ms doubling to 2 s, capture's ten pauses of
 * 200 ms and then 1 s) their schedule without jitter.
 */
#ifndef SL_BACKOFF_H
#define SL_BACKOFF_H

#include <stdint.h>

typedef struct {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t hold;     /* Failures that wait min_ms before it grows. */
    uint32_t factor;   /* Growth per failure after those. */
    int jitter;        /* Non-zero: sleep within [delay/2, delay]. */
    uint32_t cur_ms;   /* 0 until the first failure. */
    uint64_t attempts; /* Failures since the last success. */
    uint32_t seed;     /* Per-instance PRNG state for the jitter. */
} sl_backoff_t;

/* Jittered doubling from min_ms to max_ms. */
void sl_backoff_init(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms);
/* Exact delays: min_ms for the first hold failures (at least 1), then
 * times factor (at least 2) per failure up to max_ms; no jitter. */
void sl_backoff_init_exact(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms,
                           uint32_t hold, uint32_t factor);
void sl_backoff_reset(sl_backoff_t *bo);
/* The next delay in ms (with jitter when enabled), advancing the state. */
uint32_t sl_backoff_next(sl_backoff_t *bo);
/* Sleeps for the next delay in slices of at most 50 ms; returns non-zero
 * (without finishing the sleep) as soon as *stop is non-zero. stop may be
 * NULL. */
int sl_backoff_sleep(sl_backoff_t *bo, volatile int *stop);
/* Process-wide, for the metrics and /readyz (lib/http.h): how many
 * sl_backoff_sleep() calls began, and when the last one began (monotonic
 * ms, 0 for never). Relaxed atomics: retries are never a hot path. */
uint64_t sl_backoff_sleeps_total(void);
uint64_t sl_backoff_last_sleep_ms(void);
/* Sleeps ms milliseconds, waking early on *stop; returns *stop. */
int sl_sleep_ms(uint32_t ms, volatile int *stop);

#endif
