/*
 * The metadata log, DIR/meta.log: partition names and consumer-group
 * offsets (format at the top of meta.c). Records are staged into a group
 * by the store and written and fsynced by the writer thread before the
 * group's commit-log bytes, so a partition's name is durable before any
 * of its data and a committed offset before its ack.
 */
#ifndef SL_BROKER_META_H
#define SL_BROKER_META_H

#include "broker/store.h"
#include "buf.h"

int sl_meta_encode_part(sl_buf_t *out, uint32_t id, const char *topic,
                        size_t tlen, const char *name, size_t nlen);
/* A partition's high-water mark (type 3): offsets at or above hwm were
 * never assigned. */
int sl_meta_encode_hwm(sl_buf_t *out, uint32_t part_id, uint64_t hwm);
/* Offsets [from, to) of a partition skipped by recovery (type 5). */
int sl_meta_encode_hole(sl_buf_t *out, uint32_t part_id, uint64_t from,
                        uint64_t to);
/* Remembers a hole in store->holes. */
int sl_meta_note_hole(sl_store_t *store, uint32_t part_id, uint64_t from,
                      uint64_t to);
/* Appends encoded records to meta.log now and syncs them (recovery, before
 * the writer thread runs). */
int sl_meta_append_now(sl_store_t *store, const sl_buf_t *recs);
/* A new segment starting at log position start (type 4). */
int sl_meta_encode_seg(sl_buf_t *out, uint64_t start);
int sl_meta_encode_offset(sl_buf_t *out, const char *group, size_t glen,
                          uint32_t part_id, uint64_t offset);

/* Makes sure partitions 1..upto exist (names from the checkpoint, else
 * placeholders counted in store->lost_names). */
int sl_meta_fill_parts(sl_store_t *store, uint32_t upto);
/* Rewrites meta.log from the store's state (after damage), keeping the old
 * file as meta.log.damaged-<time>. */
int sl_meta_rewrite(sl_store_t *store);

/* Reads DIR/meta.log into the store (partitions and group offsets),
 * truncating a torn tail, skipping (and counting in store->meta_damage)
 * damaged records, compacting the file when it grew large, and leaves
 * store->meta_fd open for appending. */
int sl_meta_load(sl_store_t *store);

#endif
