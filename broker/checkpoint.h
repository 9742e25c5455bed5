/*
 * The checkpoint, DIR/checkpoint: the state recovery starts from (format
 * at the top of checkpoint.c). The store writes one every checkpoint
 * interval; the encoder is public for tests and seed generators.
 */
#ifndef SL_BROKER_CHECKPOINT_H
#define SL_BROKER_CHECKPOINT_H

#include "broker/store.h"
#include "buf.h"

#include <stdint.h>

/* Appends a checkpoint of the store's current state, valid for commit-log
 * position pos (every staged byte is below pos), to out. */
int sl_ckpt_encode(const sl_store_t *store, uint64_t pos, sl_buf_t *out);

#endif
