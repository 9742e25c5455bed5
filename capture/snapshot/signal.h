/*
 * `sluice-capture snapshot DB.TABLE... [--where COND]`: asks a running
 * capture for ad-hoc snapshots through the signal table (signal.c).
 */
#ifndef SL_CAPTURE_SNAPSHOT_SIGNAL_H
#define SL_CAPTURE_SNAPSHOT_SIGNAL_H

/* Whether argv asks for this command (argv[1] is "snapshot"). */
int sl_snap_signal_wanted(int argc, char **argv);
/* Runs it: 0 when the request is written, 1 on failure, 2 on bad usage. */
int sl_snap_signal_main(int argc, char **argv);

/* Shared with snapshot.c. */
#include "jsonread.h"
#include "snapshot.h"

/* A row of sluice.signal (parsed into d): an insert for the capture named
 * capture_name queues the tables it names that want captures. */
int sl__snap_signal_row(sl_snap_t *snap, sl_jr_doc_t *d, const sl_change_t *chg,
                        const char *capture_name,
                        int (*want)(void *ctx, const char *db,
                                    const char *table),
                        void *ctx);
/* A malloc'd copy of string token i, or NULL (not a string, no memory). */
char *sl__snap_jr_strdup(const sl_jr_doc_t *doc, uint32_t i);
/* Member name of obj, else member pos (a positional image's "@N"). */
uint32_t sl__snap_member(const sl_jr_doc_t *d, uint32_t obj, const char *name,
                         const char *pos);

#endif
