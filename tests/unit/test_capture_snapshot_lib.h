/*
 * Fixtures shared by the snapshot unit tests (test_capture_snapshot_*.c):
 * the filter hooks, a row event, a recorder of what the snapshot module
 * hands to capture, and a snapshot module with no server. The worker
 * thread starts but is never given a chunk, so it never connects.
 */
#ifndef SL_TEST_CAPTURE_SNAPSHOT_LIB_H
#define SL_TEST_CAPTURE_SNAPSHOT_LIB_H

#include "capture/schema/schema.h"
#include "capture/snapshot/snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* What the snapshot module handed to capture, in order: "B<force> cursor"
 * for a boundary, "P db.table all_parts json" for a message (the first 16
 * of them). */
typedef struct {
    sl_snap_t *snap;
    char log[16][1024];
    int n;
} snaptest_rec_t;

/* The want_table hook: every table is captured but one named "skip". */
int snaptest_want_table(void *ctx, const char *db, const char *table);
/* The want_column hook: every column is kept. */
int snaptest_want_column(void *ctx, const char *db, const char *table,
                         const char *col);
/* The publish and boundary hooks: append to the recorder ctx. */
int snaptest_publish_cb(void *ctx, const char *db, const char *table,
                        uint64_t key_hash, int all_parts, const char *json,
                        size_t len);
int snaptest_boundary_cb(void *ctx, int force);

/* A row event (op) of db.table at file:pos whose JSON is json; the
 * strings are borrowed. */
sl_change_t snaptest_row(const char *db, const char *table, sl_change_op_t op,
                         const char *file, uint64_t pos, const char *json);

/* A snapshot module of capture "cap1" (source 127.0.0.1:1) with the
 * filter hooks above and cover (may be NULL); with rec (may be NULL), rec
 * is emptied and records its messages and boundaries. The caller frees it
 * with sl_snap_free(). */
sl_snap_t *snaptest_new(snaptest_rec_t *rec, const char *cover);

/* A schema history with the statements ddl[0..n) applied (each must
 * succeed). The caller frees it with sl_schema_free(). */
sl_schema_t *snaptest_schema(const char *const *ddl, size_t n);

/* Checks that snap refuses to restore each of the cursors bad[0..n) as
 * damaged (SL_ECORRUPT). */
void snaptest_refuse_cursors(sl_snap_t *snap, const char *const *bad, size_t n);

#endif
