/*
 * The broker's text protocol parser (the grammar is in docs/protocol.md).
 * sl_proto_parse() is a pure function over a byte buffer: it never
 * allocates, never reads past len, and points the parsed command's
 * strings and payloads into the caller's buffer (valid as long as it is).
 */
#ifndef SL_BROKER_PROTO_H
#define SL_BROKER_PROTO_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_CMD_PUT = 1,
    SL_CMD_MPUT,
    SL_CMD_GET,
    SL_CMD_OFFSETS,
    SL_CMD_COMMIT,
    SL_CMD_COMMITTED,
    SL_CMD_PARTITIONS,
    SL_CMD_STATS,
    SL_CMD_VERSION,
    SL_CMD_QUIT,
    SL_CMD_AUTH,
    SL_CMD_GROUPS, /* server_groups.c */
    SL_CMD_GRESET,
} sl_cmd_type_t;

typedef struct {
    const char *p;
    size_t len;
} sl_span_t;

typedef struct {
    sl_cmd_type_t type;
    uint64_t reqid;
    sl_span_t topic, part, group, secret;
    uint64_t offset;    /* get, commit */
    uint64_t max_bytes; /* get */
    uint64_t wait_ms;   /* get wait= */
    int meta;           /* get meta=1: keys and headers too */
    uint64_t count;     /* mput */
    int has_ts;
    int64_t ts; /* offsets ts= */
    int has_producer;
    int64_t producer; /* pid= */
    uint64_t seq;     /* seq= */
    int has_crc;
    uint32_t crc;           /* crc= */
    const uint8_t *payload; /* put: the message; mput: the item list */
    size_t payload_len;
    int has_key;        /* put: klen= was given; mput: an item has a key
                           (iterate with sl_proto_mput_next_keyed()). */
    const uint8_t *key; /* put klen=: the record key; NULL for none (a
                           null key). */
    size_t key_len;
} sl_cmd_t;

/* Longest topic, partition or group name (the store's rule). */
#define SL_PROTO_MAX_NAME 255

/* Longest command line a connection may send before auth succeeds (the
 * auth line with the longest secret the broker accepts fits in it). */
#define SL_PROTO_MAX_LINE_PREAUTH 1024

typedef struct {
    size_t max_line;    /* Longest command line (default 4096). */
    size_t max_msg;     /* Largest message, its key included (default 16
                           MiB). */
    size_t max_request; /* Largest mput item list (default 16 MiB). */
    uint64_t max_count; /* Most messages in one mput. */
    int no_payload;     /* Refuse put/mput at the header (401, fatal): set
                           for a connection that has not authenticated. */
} sl_proto_limits_t;

typedef struct {
    int code;        /* An SL_STATUS_* code (lib/status.h). */
    const char *msg; /* Static text. */
    int has_reqid;
    uint64_t reqid;
    int fatal; /* The stream cannot be resynchronised: close. */
} sl_proto_err_t;

void sl_proto_default_limits(sl_proto_limits_t *lim);

/* Parses one request at buf[0..len).
 *   0          *cmd is filled and *consumed bytes form the request;
 *   SL_EAGAIN  incomplete: *need is a length the request needs at least,
 *              always above len and never beyond the request (a caller
 *              may wait until that many bytes are buffered);
 *   SL_EPROTO  *err says why; when not fatal, *consumed bytes (the bad
 *              line) should be skipped and parsing can go on. A refused
 *              put or mput (its first token is "put" or "mput") is always
 *              fatal unless its payload was consumed with it (a CRC
 *              mismatch): the caller must then close the connection,
 *              since the bytes that follow are a payload, not commands. */
int sl_proto_parse(const uint8_t *buf, size_t len, const sl_proto_limits_t *lim,
                   sl_cmd_t *cmd, size_t *consumed, size_t *need,
                   sl_proto_err_t *err);

/* Iterates the items of a parsed mput without keys (cmd.has_key 0):
 * returns 1 with *data and *dlen set, or 0 at the end. Only valid on a
 * payload sl_proto_parse() accepted. */
int sl_proto_mput_next(const uint8_t **cursor, const uint8_t *end,
                       const uint8_t **data, size_t *dlen);
/* The same for any mput, cmd.has_key 1 included: *key and *klen are the
 * item's record key (*key NULL for an item without one: a null key). The
 * broker takes sl_proto_mput_next() for a batch without keys, its usual
 * one: the put path is hot. */
int sl_proto_mput_next_keyed(const uint8_t **cursor, const uint8_t *end,
                             const uint8_t **data, size_t *dlen,
                             const uint8_t **key, size_t *klen);

#endif
