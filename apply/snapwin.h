/*
 * Snapshot windows of one partition, as the SQL sinks keep them (user view
 * in docs/apply.md "Snapshots").
 *
 * Between a table's snapshot_start and snapshot_done events the target
 * table is incomplete, so the sink treats it as tolerant (inserts upsert,
 * an update of a missing row inserts, a delete of a missing row does
 * nothing, none of it drift). A sink keeps the open windows in a table of
 * its target (sluice_snapshots) written in the same transaction as the
 * rows and the offsets, and this list mirrors it in three versions: the
 * working list as the open group sees it, the list staged for the
 * group's COMMIT, and the committed list, which a group that rolls back
 * returns to. The sink's SQL is its own; the list and the reading of the
 * marker events are shared here.
 */
#ifndef SL_APPLY_SNAPWIN_H
#define SL_APPLY_SNAPWIN_H

#include "apply/event.h"
#include "buf.h"
#include "jsonread.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *db, *table, *id; /* Owned. */
} sl_snapwin_entry_t;

typedef struct {
    sl_snapwin_entry_t *work, *done, *staged; /* done: committed. */
    size_t nwork, ndone, nstaged;
    int dirty; /* work may differ from done. */
} sl_snapwin_t;

#define SL_SNAPWIN_INIT                                                        \
    { NULL, NULL, NULL, 0, 0, 0, 0 }

/* Frees every list; w is empty (SL_SNAPWIN_INIT) afterwards. */
void sl_snapwin_free(sl_snapwin_t *w);

/* 1 when db.table has an open window in the working list. */
int sl_snapwin_open(const sl_snapwin_t *w, const char *db, const char *table);

/* Loading from the target at resume: adds a committed window (copies the
 * strings). Call sl_snapwin_reset() after the last one. */
int sl_snapwin_load(sl_snapwin_t *w, const char *db, const char *table,
                    const char *id);

/* A group begins (or rolls back): the working list becomes the committed
 * one again. Returns 0 or SL_ENOMEM. */
int sl_snapwin_reset(sl_snapwin_t *w);

/* The group is about to commit: its working list is staged. Returns 0 or
 * SL_ENOMEM. */
int sl_snapwin_stage(sl_snapwin_t *w);

/* The group committed: the staged list becomes the committed one. */
void sl_snapwin_committed(sl_snapwin_t *w);

/* Opens (start = 1) or closes the working window of db.table for snapshot
 * id. Closing a window of another snapshot id leaves it open and sets
 * *mismatch; closing one that is not open does nothing. Returns 0 or
 * SL_ENOMEM. */
int sl_snapwin_change(sl_snapwin_t *w, int start, const char *db,
                      const char *table, const char *id, int *mismatch);

/* sl_snapwin_change() for the marker at offset of partition part, logged
 * as the sinks log it (opened, closed, or a done of another snapshot).
 * A start of the snapshot whose window is open already changes nothing
 * and returns 1 (the sink writes nothing for it but a copy's reset);
 * otherwise 0 or SL_ENOMEM. */
int sl_snapwin_event(sl_snapwin_t *w, const char *part, uint64_t offset,
                     int start, const char *db, const char *table,
                     const char *id);

/* Reads a marker event's db, table and snapshot.id into NUL-terminated
 * buffers (reset first; the caller frees them). Returns 0, 1 when one of
 * them is missing or not a string, or SL_ENOMEM. */
int sl_snapwin_marker(const sl_jr_doc_t *doc, const sl_event_t *ev,
                      sl_buf_t *db, sl_buf_t *table, sl_buf_t *id);

#endif
