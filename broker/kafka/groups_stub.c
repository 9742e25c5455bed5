/*
 * Placeholders for the group coordinator's hooks (internal.h), so the
 * listener links before the coordinator lands; the coordinator's owner
 * deletes this file when adding the real ones.
 */
#include "broker/kafka/internal.h"

void sl__kafka_groups_stop(sl_kafka_t *k) { (void)k; }

void sl__kafka_groups_free(sl_kafka_t *k) { (void)k; }

void sl__kafka_groups_stats(sl_kafka_t *k, sl_buf_t *out) {
    (void)k;
    (void)out;
}
