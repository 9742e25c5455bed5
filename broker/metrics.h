/*
 * sluice-broker's metrics and health endpoint (http-listen; lib/http.h,
 * docs/monitoring/README.md). A timer on the broker's loop renders the
 * figures once a second from the server's, the store's and the Kafka
 * listener's counters (the loop thread owns them, so nothing is locked
 * and no request waits) and hands the text to the HTTP thread. One broker
 * per process: the state is this module's.
 */
#ifndef SL_BROKER_METRICS_H
#define SL_BROKER_METRICS_H

#include "broker/kafka/kafka.h"
#include "broker/server.h"
#include "broker/store.h"
#include "config.h"

#include <stddef.h>

/* Starts the endpoint and the timer when the options name one (nothing to
 * do otherwise). *kafka is read at each render (NULL: no Kafka listener);
 * srv, store and kafka must outlive sl_broker_metrics_stop(). Returns 0,
 * or an SL_E* code with err set. */
int sl_broker_metrics_start(sl_config_t *cfg, uv_loop_t *loop, sl_server_t *srv,
                            sl_store_t *store, sl_kafka_t *const *kafka,
                            char *err, size_t errlen);

/* Marks the broker not ready and closes the timer (on the loop thread,
 * before the loop ends). */
void sl_broker_metrics_close(void);

/* Stops the HTTP thread (after the loop ended). */
void sl_broker_metrics_stop(void);

#endif
