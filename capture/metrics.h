/*
 * sluice-capture's metrics and health endpoint (http-listen; lib/http.h,
 * docs/monitoring/README.md). The capture loop is single-threaded and
 * calls in here: sl_capture_metrics_row() per row (a counter per table
 * and op, only while the endpoint is on), sl_capture_metrics_tick() after
 * each event (it renders at most twice a second, from values it is given,
 * so the HTTP thread never reads capture's state), and
 * sl_capture_metrics_down() when the source session ends. One capture per
 * process: the state is this module's.
 */
#ifndef SL_CAPTURE_METRICS_H
#define SL_CAPTURE_METRICS_H

#include "capture/decoder/binlog.h"
#include "capture/publish.h"
#include "config.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

/* Starts the endpoint when the options name one (nothing to do
 * otherwise). Returns 0, or an SL_E* code with err set. */
int sl_capture_metrics_start(sl_config_t *cfg, char *err, size_t errlen);

/* Counts one published row of chg's table. */
void sl_capture_metrics_row(const sl_change_t *chg);

/* The figures of the capture loop: last_event_ts is the source time of
 * the last event (seconds, 0 before the first), part_rows maps partition
 * names to uint64_t rows. Renders when due and marks capture ready. */
void sl_capture_metrics_tick(const sl_publish_t *pub, int64_t last_event_ts,
                             uint64_t events, uint64_t bytes, uint64_t rows,
                             uint64_t filtered, uint64_t sessions,
                             const sl_strmap_t *part_rows);

/* The source session ended: /readyz answers 503 with reason until the
 * next tick. */
void sl_capture_metrics_down(const char *reason);

/* Stops the endpoint and frees the counters. */
void sl_capture_metrics_stop(void);

#endif
