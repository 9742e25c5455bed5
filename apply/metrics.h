/*
 * sluice-apply's metrics and health endpoint (http-listen; lib/http.h,
 * docs/monitoring/README.md). The consumer's main thread calls
 * sl_apply_metrics_tick() in its loop; once a second it reads the
 * partitions' counters the way the stats report does (without a lock,
 * apply/internal.h), renders them and hands the text to the HTTP thread.
 * One consumer per process: the state is this module's.
 */
#ifndef SL_APPLY_METRICS_H
#define SL_APPLY_METRICS_H

#include "config.h"

#include <stddef.h>

struct sl__consume_s;

/* Starts the endpoint when the options name one (nothing to do
 * otherwise). Returns 0, or an SL_E* code with err set. */
int sl_apply_metrics_start(sl_config_t *cfg, char *err, size_t errlen);

/* Renders when due (main thread). connected: the consumer has its broker
 * session. */
void sl_apply_metrics_tick(struct sl__consume_s *c, int connected);

/* Stops the endpoint. */
void sl_apply_metrics_stop(void);

#endif
