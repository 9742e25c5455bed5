/*
 * The broker's Kafka listener: a second listener on the broker's loop,
 * serving the same store as the text protocol to Kafka clients (kcat,
 * librdkafka, kafka-python, kafkajs). docs/kafka.md lists the APIs,
 * versions and names it serves.
 *
 * It shares the text server's memory budget, connection limit and store
 * callbacks (through sl_server_set_ext()), so the text server must be
 * started first and stopped after it.
 *
 * Ownership: the listener owns its connections and handles; the caller
 * owns the loop, the store and the text server, which must outlive it.
 * Everything runs on the loop thread.
 */
#ifndef SL_BROKER_KAFKA_H
#define SL_BROKER_KAFKA_H

#include "broker/server.h"
#include "broker/store.h"

#include <stdint.h>
#include <uv.h>

typedef struct {
    const char *host; /* Listen address. Not copied. */
    uint16_t port;
    /* The address Metadata names as this broker's (clients connect to it,
     * not to their bootstrap address): adv_host (NULL: host) and adv_port
     * (0: port). Not copied. */
    const char *adv_host;
    uint16_t adv_port;
    uint64_t max_request; /* Largest request frame accepted (bytes). */
    uint64_t idle_ms;     /* As in sl_server_opts_t (0: never). */
    uint64_t request_ms;
    uint64_t auth_ms;
    uint64_t max_output; /* Per-connection pending output before reading
                            pauses. */
    const char *secret;  /* SASL/PLAIN password, or NULL. Not copied. */
} sl_kafka_opts_t;

typedef struct sl_kafka_s sl_kafka_t;

/* Binds and starts accepting on the loop of srv, serving srv's store.
 * SL_ECONN when the address cannot be bound (errno-like detail in the
 * log), SL_EINVAL for a bad address; on error nothing is left running. */
int sl_kafka_start(uv_loop_t *loop, sl_server_t *srv, sl_store_t *store,
                   const sl_kafka_opts_t *opts, sl_kafka_t **out);

/* Stops listening and closes every connection (deferred replies are
 * cancelled); cb (may be NULL) fires when every handle is closed. Call it
 * before sl_server_stop(). */
void sl_kafka_stop(sl_kafka_t *k, void (*cb)(void *data), void *data);

/* Frees the listener after the loop finished (after sl_store_close(), as
 * the store may deliver acks until then). */
void sl_kafka_free(sl_kafka_t *k);

/* The name bijection of docs/kafka.md ("Names"), for the Kafka transport
 * of capture and apply (lib/stream_kafka.c), so that both sides of
 * sluice-broker and any cluster use one mapping (names.c). The Kafka name
 * of sluice partition (topic, name): the topic into out[cap], the number
 * into *partition; SL_ENOTFOUND when it has none. */
int sl_kafka_name_of(const char *topic, size_t tlen, const char *name,
                     size_t nlen, char *out, size_t cap, int32_t *partition);
/* The sluice name of Kafka (topic, partition); bare: no "#0" on partition
 * 0 of a split-form topic. SL_EINVAL when there is none. */
int sl_kafka_sluice_name(const char *topic, size_t tlen, int32_t partition,
                         int bare, char *t, size_t tcap, char *p, size_t pcap);

#endif
