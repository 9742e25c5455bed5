/*
 * Tables that enter the include filters later (docs/snapshot.md, "Tables
 * added later"): which captured tables a restarted capture has neither
 * snapshotted nor streamed from their start, so that they are snapshotted
 * while it streams.
 *
 * The checkpoint's snapshot cursor records the filters the snapshot
 * bookkeeping covers ("cover", the --include and --exclude rules). A table
 * that the current rules capture and the covered rules did not is new:
 * its rows so far never went out. A table created while capture streams
 * under rules that capture it needs nothing (its rows all come through the
 * binlog) and is covered by those rules at every later restart, so it is
 * never snapshotted.
 *
 * Cover (the "cover" member of the cursor), one JSON object:
 *   {"include":["rule",...],"exclude":["rule",...]}
 * rendered canonically (the rules in the order given), so equal rules
 * give equal text.
 *
 * Join (the "join" member of the cursor, while pending), one JSON object:
 *   {"file":"mariadb-bin.000012","pos":4711,"tables":[["db","t"],...]}
 * the source's binlog end when the new tables were found, and the tables:
 * row events of those tables before that position are not published (the
 * snapshot, whose first read is later, holds their effect; their
 * definitions were read after it). Kept in the cursor until the stream
 * passes the position, so that a replay after a restart skips exactly the
 * same events and every message keeps its capture sequence.
 */
#ifndef SL_CAPTURE_SNAPSHOT_JOIN_H
#define SL_CAPTURE_SNAPSHOT_JOIN_H

#include "buf.h"
#include "capture/schema/schema.h"
#include "capture/source.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char db[256], table[256];
} sl_snap_join_table_t;

typedef struct {
    char file[256]; /* "" when nothing joins. */
    uint64_t pos;
    sl_snap_join_table_t *tables; /* Owned; in (db, table) byte order. */
    size_t ntables;
    size_t nnew; /* The first nnew tables are new now (to be queued); the
                  * others were queued by an earlier start. */
} sl_snap_join_t;

void sl_snap_join_free(sl_snap_join_t *j);

/* Renders the cover of the rules into out (reset first). */
int sl_snap_cover_render(const char *const *include, size_t ninclude,
                         const char *const *exclude, size_t nexclude,
                         sl_buf_t *out);

/* At a restart from a checkpoint whose snapshot cursor is cursor (NULL:
 * none): finds the tables want (the current rules) captures and the
 * cursor's cover did not, and those of the cursor's pending join; reads
 * the definitions of those missing from schema (the history at the
 * resume point) from the source, after its binlog end, and adds them.
 * A cursor without a cover (older checkpoints, --snapshot never) finds
 * nothing. *out is owned by the caller (sl_snap_join_free). Returns 0,
 * SL_ECONN (retry later), or another error with err set. */
int sl_snap_join_find(sl_snap_join_t *out, const char *cursor,
                      const char *cover, const sl_source_opts_t *src,
                      sl_schema_t *schema,
                      int (*want)(void *ctx, const char *db, const char *table),
                      void *ctx, char *err, size_t errlen);

#endif
