/*
 * Persistence of the schema history in the broker.
 *
 * Records, one JSON object each, in partition "<capture name>.schema" of
 * the internal topic, in binlog order:
 *
 *   {"type":"snapshot","file":F,"pos":P,"schema":{...}}
 *       the whole history (sl_schema_to_json) in force at F:P;
 *   {"type":"ddl","file":F,"pos":P,"db":D|null,"sql":S,"sql_mode":M}
 *       a DDL statement of the binlog event at F:P, with its default
 *       database and sql_mode.
 *
 * A record is written before the checkpoint that follows its event, so a
 * checkpoint never points past a DDL the history lacks. Records at or
 * past the checkpoint may exist (written before a crash, not yet covered
 * by a checkpoint) and are ignored on reload: the replay meets their
 * events again. Repeated records (same position and type) are applied
 * once. At one position a snapshot (the history before the event there)
 * orders before a DDL (that event): a snapshot record after a DDL record
 * at its position is older than it and is passed over.
 */
#ifndef SL_CAPTURE_HISTORY_H
#define SL_CAPTURE_HISTORY_H

#include "buf.h"
#include "schema.h"

#include <stddef.h>
#include <stdint.h>

int sl_history_snapshot_record(const sl_schema_t *schema, const char *file,
                               uint64_t pos, sl_buf_t *out);
int sl_history_ddl_record(const char *file, uint64_t pos, const char *db,
                          size_t db_len, const char *sql, size_t sql_len,
                          uint64_t sql_mode, sl_buf_t *out);

/* Compares binlog coordinates: file names by their numeric order (a
 * longer name sorts later: .999999 < .1000000), then positions. */
int sl_history_cmp(const char *file_a, uint64_t pos_a, const char *file_b,
                   uint64_t pos_b);

/* Rebuilds a history from records up to (not including) file:pos. */
typedef struct {
    sl_schema_t *schema; /* Replaced by each usable snapshot; owned. */
    const char *until_file;
    uint64_t until_pos;
    int have_snapshot;
    char last_file[256]; /* The last record applied, */
    uint64_t last_pos;
    int last_ddl; /* a DDL (else a snapshot). */
    uint64_t applied;
    char err[512];
} sl_history_loader_t;

int sl_history_loader_init(sl_history_loader_t *ld, const char *until_file,
                           uint64_t until_pos);
/* Feeds one record; SL_ECORRUPT (with ld->err) on a record it cannot
 * read or a DDL it cannot apply. */
int sl_history_loader_feed(sl_history_loader_t *ld, const uint8_t *data,
                           size_t len);
void sl_history_loader_free(sl_history_loader_t *ld);

#endif
