/*
 * Placeholders for the data path's hooks (internal.h), so the listener
 * links before the data path lands; the data path's owner deletes this
 * file when adding the real ones.
 */
#include "broker/kafka/internal.h"

void sl__kafka_advance(sl_kafka_t *k, sl_part_t *part) {
    (void)k;
    (void)part;
}

void sl__kafka_data_stop(sl_kafka_t *k) { (void)k; }

void sl__kafka_data_free(sl_kafka_t *k) { (void)k; }

void sl__kafka_data_stats(sl_kafka_t *k, sl_buf_t *out) {
    (void)k;
    (void)out;
}
