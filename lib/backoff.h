/*
 * Retry pacing shared by the sinks: exponential backoff with jitter, and a
 * sleep that wakes early when the program is asked to stop.
 *
 * Each failed attempt doubles the delay from min_ms up to max_ms; the
 * actual sleep is drawn uniformly from [delay/2, delay] so that workers
 * retrying against the same server spread out instead of arriving in
 * step. A success resets the delay.
 */
#ifndef SL_BACKOFF_H
#define SL_BACKOFF_H

#include <stdint.h>

typedef struct {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t cur_ms;    /* 0 until the first failure. */
    uint64_t attempts;  /* Failures since the last success. */
    uint32_t seed;      /* Per-instance PRNG state for the jitter. */
} sl_backoff_t;

void sl_backoff_init(sl_backoff_t *bo, uint32_t min_ms, uint32_t max_ms);
void sl_backoff_reset(sl_backoff_t *bo);
/* The next delay in ms (with jitter), advancing the state. */
uint32_t sl_backoff_next(sl_backoff_t *bo);
/* Sleeps for the next delay in slices of at most 50 ms; returns non-zero
 * (without finishing the sleep) as soon as *stop is non-zero. stop may be
 * NULL. */
int sl_backoff_sleep(sl_backoff_t *bo, volatile int *stop);
/* Sleeps ms milliseconds, waking early on *stop; returns *stop. */
int sl_sleep_ms(uint32_t ms, volatile int *stop);

#endif
