/*
 * The binlog decoder: a push API over complete binlog events.
 *
 * The caller hands the decoder one complete event at a time (header, body
 * and, when the format description says so, the 4-byte CRC32 trailer), in
 * the order they appear in a binlog file or a replication stream, with the
 * event's position in its file. The decoder keeps the state that spans
 * events (format description, checksum algorithm, table maps, the current
 * transaction) and renders every change as one JSON object (see
 * docs/change-events.md and schemas/change-event.schema.json), which it
 * hands to the change callback.
 *
 * Memory: the decoder never keeps an event after sl_binlog_feed() returns.
 * Its own memory is a handful of reused buffers: the table maps of the
 * current statement, the output buffer, and for TRANSACTION_PAYLOAD and
 * MariaDB compressed events a decompression buffer as large as the largest
 * inner event. Nothing grows with the number of rows in a transaction.
 *
 * Errors: every function returns 0 or a negative SL_E* code. On error
 * sl_binlog_errmsg() holds one line naming the file, the position, the
 * event type and what was wrong; the decoder must then be freed (it does
 * not resynchronise).
 */
#ifndef SL_CAPTURE_BINLOG_H
#define SL_CAPTURE_BINLOG_H

#include "buf.h"
#include "change.h"

#include <stddef.h>
#include <stdint.h>

/* Event type codes, MySQL's and MariaDB's. */
enum {
    SL_EV_UNKNOWN = 0,
    SL_EV_START_V3 = 1,
    SL_EV_QUERY = 2,
    SL_EV_STOP = 3,
    SL_EV_ROTATE = 4,
    SL_EV_INTVAR = 5,
    SL_EV_LOAD = 6,
    SL_EV_SLAVE = 7,
    SL_EV_CREATE_FILE = 8,
    SL_EV_APPEND_BLOCK = 9,
    SL_EV_EXEC_LOAD = 10,
    SL_EV_DELETE_FILE = 11,
    SL_EV_NEW_LOAD = 12,
    SL_EV_RAND = 13,
    SL_EV_USER_VAR = 14,
    SL_EV_FORMAT_DESCRIPTION = 15,
    SL_EV_XID = 16,
    SL_EV_BEGIN_LOAD_QUERY = 17,
    SL_EV_EXECUTE_LOAD_QUERY = 18,
    SL_EV_TABLE_MAP = 19,
    SL_EV_PRE_GA_WRITE_ROWS = 20,
    SL_EV_PRE_GA_UPDATE_ROWS = 21,
    SL_EV_PRE_GA_DELETE_ROWS = 22,
    SL_EV_WRITE_ROWS_V1 = 23,
    SL_EV_UPDATE_ROWS_V1 = 24,
    SL_EV_DELETE_ROWS_V1 = 25,
    SL_EV_INCIDENT = 26,
    SL_EV_HEARTBEAT = 27,
    SL_EV_IGNORABLE = 28,
    SL_EV_ROWS_QUERY = 29,
    SL_EV_WRITE_ROWS = 30,
    SL_EV_UPDATE_ROWS = 31,
    SL_EV_DELETE_ROWS = 32,
    SL_EV_GTID = 33,
    SL_EV_ANONYMOUS_GTID = 34,
    SL_EV_PREVIOUS_GTIDS = 35,
    SL_EV_TRANSACTION_CONTEXT = 36,
    SL_EV_VIEW_CHANGE = 37,
    SL_EV_XA_PREPARE = 38,
    SL_EV_PARTIAL_UPDATE_ROWS = 39,
    SL_EV_TRANSACTION_PAYLOAD = 40,
    SL_EV_HEARTBEAT_V2 = 41,
    SL_EV_GTID_TAGGED = 42,
    SL_EV_MARIA_ANNOTATE_ROWS = 160,
    SL_EV_MARIA_BINLOG_CHECKPOINT = 161,
    SL_EV_MARIA_GTID = 162,
    SL_EV_MARIA_GTID_LIST = 163,
    SL_EV_MARIA_START_ENCRYPTION = 164,
    SL_EV_MARIA_QUERY_COMPRESSED = 165,
    SL_EV_MARIA_WRITE_ROWS_COMPRESSED_V1 = 166,
    SL_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1 = 167,
    SL_EV_MARIA_DELETE_ROWS_COMPRESSED_V1 = 168,
    SL_EV_MARIA_WRITE_ROWS_COMPRESSED = 169,
    SL_EV_MARIA_UPDATE_ROWS_COMPRESSED = 170,
    SL_EV_MARIA_DELETE_ROWS_COMPRESSED = 171,
};

#define SL_BINLOG_MAGIC                                                        \
    "\xfe"                                                                     \
    "bin"
#define SL_BINLOG_HEADER_LEN 19
/* The largest event accepted: MySQL's max_allowed_packet ceiling. */
#define SL_BINLOG_MAX_EVENT (1024u * 1024u * 1024u + 4096u)

/* One change as the decoder knows it: what it is, where it comes from and
 * its transaction, the SQL of a statement, and the rendered JSON. Every
 * pointer is valid during the callback only. */
typedef struct {
    sl_change_kind_t kind;
    sl_change_op_t op; /* Rows: insert, update or delete. */
    const char *db;    /* Database (may be NULL), not NUL-terminated. */
    size_t db_len;
    const char *table; /* Table for rows (NULL otherwise). */
    size_t table_len;
    const char *file; /* Binlog file name (NUL-terminated). */
    uint64_t pos;     /* Position of the event in its file. */
    uint64_t trx_seq; /* Transactions completed before this one. */
    uint64_t row;     /* Row index in its transaction (rows only). */
    /* The transaction, as its "trx" member says: the GTID ("" when the
     * server wrote none, NUL-terminated), the position where it began,
     * and MySQL's logical clock and original commit timestamp (0 when
     * absent). */
    const char *gtid;
    uint64_t trx_pos;
    int has_logical_clock;
    uint64_t last_committed, sequence_number;
    uint64_t commit_ts_us;
    /* DDL and statements: the text of "sql" unescaped (UTF-8, sql_len
     * bytes, not NUL-terminated), and the session's sql_mode when the
     * event carried one. NULL for other kinds. */
    const char *sql;
    size_t sql_len;
    int has_sql_mode;
    uint64_t sql_mode;
    /* Rows: the images as rendered in json (NULL when the image is null),
     * the routing hash when opts.key_hash asked for it, and pk_excluded
     * when opts.column_keep excluded a primary-key column that this row
     * has: consumers could then no longer tell which row changed. */
    const char *before, *after;
    size_t before_len, after_len;
    uint64_t key_hash;
    int pk_excluded;
    /* Rows: neither the binlog (binlog_row_metadata=MINIMAL) nor the
     * schema history named the columns, so the keys are positions ("@1")
     * and the JSON says "positional": true. */
    int positional;
    /* Rows in the debezium format: the record key, {pk columns} as JSON
     * (the Kafka key Debezium writes); NULL otherwise. */
    const char *key;
    size_t key_len;
    /* The JSON object, without a newline; it is followed in the buffer
     * by a '\n' that json_len does not count. */
    const char *json;
    size_t json_len;
} sl_change_t;

/* Receives each change in order. Returning non-zero stops the decoder;
 * sl_binlog_feed() then returns that value. */
typedef int (*sl_change_cb)(void *ctx, const sl_change_t *chg);

/* The event formats (docs/change-events.md, "Formats"). Every format
 * but SL_FORMAT_SLUICE leaves begin/commit markers without JSON: their
 * change is still handed out (json_len 0, nothing in the output buffer)
 * so consumers keep their transaction boundaries. */
typedef enum {
    SL_FORMAT_SLUICE = 0, /* sluice's own (the default). */
    SL_FORMAT_DEBEZIUM,   /* Debezium's MySQL connector, schemas off. */
    SL_FORMAT_MAXWELL,    /* Maxwell's daemon. */
    SL_FORMAT_CANAL       /* Canal's FlatMessage. */
} sl_binlog_format_t;

/* Parses "sluice", "debezium", "maxwell" or "canal"; SL_EINVAL else. */
int sl_binlog_format_parse(const char *name, sl_binlog_format_t *fmt);

typedef struct {
    /* Event types to skip without decoding (--skip-event-type); a type
     * listed here is consumed after framing and checksum checks only. */
    const uint8_t *skip_types;
    size_t nskip_types;
    /* Adds a "types" object (column name -> SQL type) to row events. */
    int column_types;
    /* Verify CRC32 checksums (default on; the fuzzer turns it off so it
     * can reach the decoders behind the checksum). */
    int no_verify_checksum;
    /* Leave each change in the output buffer (see sl_binlog_out()) for
     * the caller to flush in large writes; otherwise the buffer holds one
     * change at a time. */
    int accumulate;
    /* The schema history: when a TABLE_MAP lacks optional metadata (no
     * binlog_row_metadata=FULL), the decoder asks for the table's
     * definition in force at this point of the stream and takes what the
     * table map lacks from it (names, signedness, charsets, ENUM/SET
     * values, primary key). NULL when there is none; a table it does not
     * know keeps positional names ("@1"). The table returned belongs to
     * the callee and must stay valid until the next decoder call. */
    const struct sl_schema_table_s *(*schema_lookup)(void *ctx, const char *db,
                                                     size_t db_len,
                                                     const char *table,
                                                     size_t table_len);
    void *schema_ctx;
    /* Column exclusion: asked once per column when a table map is
     * decoded (the answer is kept with the map), with the column's name
     * ("@N" without names); returning 0 leaves the column out of the
     * row images and "types". NULL keeps every column. */
    int (*column_keep)(void *ctx, const char *db, size_t db_len,
                       const char *table, size_t table_len, const char *column,
                       size_t column_len);
    void *column_ctx;
    /* Computes each row's routing hash (sl_change_t.key_hash): FNV-1a over
     * the JSON text of its primary-key values in the after image (the
     * before image for a delete), in "pk" order, each followed by a NUL
     * byte ("null" for a value the image lacks; strings without their
     * quotes), so every change of one key hashes alike; for a table
     * without a primary key, over the whole image object. The image is
     * taken as rendered, after column exclusion. */
    int key_hash;
    /* The event format, and for debezium the logical server name of
     * "source.name" (NULL: "sluice"; not copied, must outlive the
     * decoder). */
    sl_binlog_format_t format;
    const char *format_name;
    /* debezium: wrap value and key in the JSON converter's schemas
     * ({"schema":...,"payload":...}, schemas.enable=true). */
    int format_schemas;
    /* debezium: source.query holds the statement where the binlog has it
     * (Rows_query / Annotate_rows events; Debezium's include.query). */
    int format_query;
} sl_binlog_opts_t;

typedef struct sl_binlog_s sl_binlog_t;

/* Creates a decoder; *out is owned by the caller, freed with
 * sl_binlog_free(). opts is copied (skip_types is copied too). */
int sl_binlog_new(sl_binlog_t **out, const sl_binlog_opts_t *opts,
                  sl_change_cb cb, void *ctx);
void sl_binlog_free(sl_binlog_t *dec);

/* Names the file the following events come from (copied). A new file does
 * not reset the format description: a file's own FDE replaces it. */
int sl_binlog_set_file(sl_binlog_t *dec, const char *name);

/* The size of the event whose header starts at hdr (at least 13 bytes),
 * or 0 when not yet known. Lets readers frame events. */
uint32_t sl_binlog_event_size(const uint8_t *hdr);
/* The common header length in force (19, or 13 for binlog v1). */
unsigned sl_binlog_header_len(const sl_binlog_t *dec);

/* Decodes one complete event of len bytes found at pos in the current
 * file. emit is 0 to decode only for state (events before a start
 * position): nothing is emitted, and rows events are not decoded. */
int sl_binlog_feed(sl_binlog_t *dec, const uint8_t *ev, size_t len,
                   uint64_t pos, int emit);

/* The decoder's output buffer. Each change is appended as its JSON and a
 * newline. With opts.accumulate the caller empties it (sl_buf_reset) when
 * it has written the contents out, in or after the callback; otherwise
 * the decoder empties it before each change. Owned by the decoder. */
sl_buf_t *sl_binlog_out(sl_binlog_t *dec);

/* Overrides the checksum state (1: events end with CRC32) for streams
 * whose first events arrive before their format description (the fake
 * ROTATE of a replication stream after checksum negotiation). */
void sl_binlog_set_checksum(sl_binlog_t *dec, int crc32_on);

/* The last error message (empty when none). */
const char *sl_binlog_errmsg(const sl_binlog_t *dec);

/* Counters for reports and benchmarks. */
typedef struct {
    uint64_t events;
    uint64_t rows;
    uint64_t bytes;
    uint64_t transactions;
} sl_binlog_stats_t;
void sl_binlog_stats(const sl_binlog_t *dec, sl_binlog_stats_t *stats);

/* Reads a binlog file from start (4 = the first event; events before it
 * are decoded for state only) up to stop (0: the end; events starting at
 * or after stop are not decoded), feeding every event to dec. The file
 * is read in large chunks; an event larger than the chunk grows the
 * buffer to its size (up to SL_BINLOG_MAX_EVENT), then the buffer shrinks
 * back. A truncated event, trailing bytes, or a start position that is
 * not an event boundary are errors. */
int sl_binlog_read_file(sl_binlog_t *dec, const char *path, uint64_t start,
                        uint64_t stop);

/* The same over a binlog held in memory (data is not kept); name is the
 * file name used in coordinates and messages. */
int sl_binlog_read_mem(sl_binlog_t *dec, const char *name, const uint8_t *data,
                       size_t len, uint64_t start, uint64_t stop);

/* The event type's name ("WRITE_ROWS_V2"), or NULL when unknown. */
const char *sl_binlog_type_name(unsigned type);

#endif
