/*
 * sluice-capture --from-file FILE... --broker HOST:PORT: replays archived
 * binlog files into the broker, exactly once, with the live capture's
 * routing, filters, column exclusion, schema history and formats (see
 * docs/replay.md).
 *
 * The replay is the live capture service (service.c) with its replication
 * connection replaced by a reader of files (replay_source.c): source.c
 * hands sl_source_open() to that reader while a replay is active, so the
 * decoding, publishing, checkpoints and idempotent producer are the live
 * code paths, not copies of them. What differs is kept here:
 *
 *   - The replay's name is "<--name or --topic>.replay": its checkpoint
 *     partition and schema history in __sluice_capture never collide with
 *     a live capture's, and its producer id hashes that name and the word
 *     "replay", so the broker's de-duplication never confuses the two.
 *     Running the same files again, or after kill -9, resumes from the
 *     replay's checkpoint with the capture sequence saved there: nothing
 *     is published twice.
 *   - The table definitions: the binlog's own column metadata
 *     (binlog_row_metadata=FULL), a schema-history partition of an earlier
 *     capture (--schema-history NAME), or a live server's tables taken as
 *     those of the replay's start point (--schema-from mysql://...).
 *   - The end: the replay stops cleanly after the last file, at
 *     --stop-position in the last file or at --stop-datetime.
 *   - Whole transactions are skipped by --start-datetime, --include-gtids
 *     and --exclude-gtids (see replay_source.c).
 *
 * One replay per process: the state is a process-wide singleton, set up by
 * sl_capture_replay_main() and read by the hooks below.
 */
#ifndef SL_CAPTURE_REPLAY_H
#define SL_CAPTURE_REPLAY_H

#include "source.h"

#include <stddef.h>
#include <stdint.h>

struct sl_publish_s;
struct sl_schema_s;

/* 1 when the command line asks for a replay into the broker: --from-file
 * together with --broker (before any "--"). */
int sl_capture_replay_wanted(int argc, char **argv);

/* Runs the replay. Returns the process exit status: 0 when every file was
 * replayed (or the stop point reached), 1 on failure, 2 on bad usage. */
int sl_capture_replay_main(int argc, char **argv);

/* 1 while a replay runs in this process. */
int sl_replay_active(void);

/* Text the producer id hashes besides the capture's settings: "" for a
 * live capture, "replay\n" for a replay. */
const char *sl_replay_identity(void);

/* The schema history at the replay's start when it did not come from a
 * checkpoint of the replay itself. Returns 0 when the caller should read
 * the live server's tables as usual (--schema-from, or no replay), else 1
 * with *rc set: 0 with *schema (owned by the caller) and the start point
 * in file/pos, or an error with err set. */
int sl_replay_schema(struct sl_publish_s *pub, struct sl_schema_s **schema,
                     char *file, size_t filelen, uint64_t *pos, int *rc,
                     char *err, size_t errlen);

/* A replay resumed from its checkpoint with --schema-from or
 * --schema-history takes from them the tables its own history (schema,
 * rebuilt at file:pos) lacks, so rows the first run refused for want of
 * their definitions can be replayed by running it again with them. Tables
 * the history has are kept as they are (their DDL is in it). Returns 0
 * (also outside a replay or without those options) or an error with err
 * set. */
int sl_replay_fill_schema(struct sl_publish_s *pub,
                          const sl_source_opts_t *source,
                          struct sl_schema_s *schema, const char *file,
                          uint64_t pos, char *err, size_t errlen);

/* Called by the service after each event with its row count: draws the
 * progress line when it is due. */
void sl_replay_tick(uint64_t rows);

/* Appends to err (a message about rows whose columns are unknown) what a
 * replay can do about it; does nothing outside a replay. */
void sl_replay_hint(char *err, size_t errlen);

/* The reader of files behind sl_source_open() (see replay_source.c). The
 * calls mirror sl_source_open/next/position/close. */
typedef struct sl_replay_src_s sl_replay_src_t;
int sl_replay_src_open(sl_replay_src_t **out, const char *file, uint64_t pos,
                       char *err, size_t errlen);
int sl_replay_src_next(sl_replay_src_t *src, const uint8_t **ev, size_t *len,
                       const char **file, uint64_t *pos, char *err,
                       size_t errlen);
void sl_replay_src_position(const sl_replay_src_t *src, const char **file,
                            uint64_t *pos);
void sl_replay_src_close(sl_replay_src_t *src);

#endif
