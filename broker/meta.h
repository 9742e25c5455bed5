/*
 * The metadata log, DIR/meta.log: partition names and consumer-group
 * offsets (format at the top of meta.c). Records are staged into a group
 * by the store and written and fsynced by the writer thread before the
 * group's commit-log bytes, so a partition's name is durable before any
 * of its data and a committed offset before its ack. These encoders are
 * the format; loading and rewriting the file are the store's internals
 * (store_int.h).
 */
#ifndef SL_BROKER_META_H
#define SL_BROKER_META_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

int sl_meta_encode_part(sl_buf_t *out, uint32_t id, const char *topic,
                        size_t tlen, const char *name, size_t nlen);
/* A partition's high-water mark (type 3): offsets at or above hwm were
 * never assigned. */
int sl_meta_encode_hwm(sl_buf_t *out, uint32_t part_id, uint64_t hwm);
/* Offsets [from, to) of a partition skipped by recovery (type 5). */
int sl_meta_encode_hole(sl_buf_t *out, uint32_t part_id, uint64_t from,
                        uint64_t to);
/* A new segment starting at log position start (type 4). */
int sl_meta_encode_seg(sl_buf_t *out, uint64_t start);
/* The Kafka producer-id high-water mark (type 6): no producer id at or
 * above hwm was handed out. */
int sl_meta_encode_pid_hwm(sl_buf_t *out, uint64_t hwm);
int sl_meta_encode_offset(sl_buf_t *out, const char *group, size_t glen,
                          uint32_t part_id, uint64_t offset);

#endif
