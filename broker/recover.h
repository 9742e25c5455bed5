/*
 * Start-up recovery and checkpoints (format at the top of recover.c).
 */
#ifndef SL_BROKER_RECOVER_H
#define SL_BROKER_RECOVER_H

#include "broker/store.h"
#include "buf.h"

/* Appends a checkpoint of the store's current state, valid for commit-log
 * position pos (every staged byte is below pos), to out. */
int sl_ckpt_encode(const sl_store_t *store, uint64_t pos, sl_buf_t *out);

/* Adds partitions nparts+1..upto with the names the checkpoint holds
 * (for a damaged or lost meta.log); none when it has none. */
int sl_recover_names(sl_store_t *store, uint32_t upto);

/* Recovers the commit log after the metadata log was loaded: lists the
 * segments, applies the checkpoint, scans and indexes everything after it
 * (or everything, when the checkpoint or an index is missing or damaged),
 * truncates a torn or corrupt tail and deletes segments after it. */
int sl_recover(sl_store_t *store);

#endif
