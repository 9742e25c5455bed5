/*
 * The replication connection: sluice-capture registers with a MySQL or
 * MariaDB server as a replica and pulls raw binlog events.
 *
 * Connector/C authenticates (mysql_native_password, caching_sha2_password,
 * ed25519...) and optionally wraps the connection in TLS; on top of that
 * session this module sends COM_REGISTER_SLAVE and COM_BINLOG_DUMP (or
 * COM_BINLOG_DUMP_GTID for a MySQL GTID set) itself and reads the raw event
 * packets, so that sluice's own decoder judges every byte, including event
 * types the library does not know.
 *
 * Packets of the dump stream: each is one event prefixed by a status byte.
 *   0x00 EVENT...  an event: 19-byte header (timestamp u32le, type u8,
 *                  server_id u32le, event_size u32le, log_pos u32le,
 *                  flags u16le), body, and a CRC32 trailer when the
 *                  negotiated checksum is CRC32.
 *   0xFE           end of stream (only with BINLOG_DUMP_NON_BLOCK).
 *   0xFF ...       an error from the server (its code and message are read
 *                  through mysql_errno()/mysql_error()).
 *
 * Positions: log_pos in a header is the position just after the event in
 * the server's file; 0 marks an artificial event (the fake ROTATE that
 * starts every dump, and a format description re-sent when starting past
 * position 4), which occupies no position. ROTATE names the next file.
 *
 * Not thread-safe; one sl_source_t per thread.
 */
#ifndef SL_CAPTURE_SOURCE_H
#define SL_CAPTURE_SOURCE_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *host; /* Not owned; copied by sl_source_open(). */
    uint16_t port;
    const char *user;
    const char *password; /* Never logged. May be NULL. */
    uint32_t server_id;   /* Our replica id: unique among replicas. */
    /* Where to start: a file and position, or a GTID position. With both
     * file NULL and gtid NULL the dump starts at the current end. */
    const char *file;
    uint64_t pos;
    const char *gtid;      /* MariaDB "D-S-N,..." or MySQL "uuid:1-5,...". */
    uint32_t heartbeat_ms; /* Server heartbeat period; 0 disables. */
    uint32_t timeout_ms;   /* Silence longer than this is SL_ETIMEDOUT. */
    uint32_t connect_timeout_ms;
    int tls;            /* 1: require TLS. */
    const char *tls_ca; /* CA file to verify the server, or NULL: the
                           system's trust store. */
    int tls_insecure;   /* With tls: skip verifying the server's
                           certificate and name (verified by default). */
} sl_source_opts_t;

typedef struct sl_source_s sl_source_t;

/* The server's flavour, learnt at connect time. */
typedef enum { SL_SOURCE_MYSQL = 1, SL_SOURCE_MARIADB = 2 } sl_source_flavor_t;

/* Connects, negotiates checksums and heartbeats, registers as a replica
 * and starts the dump. On success *out is owned by the caller (free with
 * sl_source_close()). On failure returns SL_ECONN (cannot connect, retry
 * later), SL_EAUTH (bad credentials or missing privilege), SL_EGONE (the
 * requested position was purged) or SL_EINVAL, with a one-line message in
 * err that never contains the password. */
int sl_source_open(sl_source_t **out, const sl_source_opts_t *opts, char *err,
                   size_t errlen);

/* Waits for the next event. On success *ev points at the event (header,
 * body, checksum), valid until the next call, and *len is its size;
 * *file and *pos say where it starts (pos 0 for an artificial event).
 * Returns SL_ECLOSED when the server ended the stream, SL_ECONN when the
 * connection broke, SL_ETIMEDOUT after opts.timeout_ms of silence (no
 * event, no heartbeat), SL_EGONE when the server reports the position
 * purged, SL_EPROTO on a malformed packet; err says which. After an error
 * the source must be closed and reopened from the last position the
 * caller has safely processed. */
int sl_source_next(sl_source_t *src, const uint8_t **ev, size_t *len,
                   const char **file, uint64_t *pos, char *err, size_t errlen);

/* The position of the next event: where a reconnect resumes. */
void sl_source_position(const sl_source_t *src, const char **file,
                        uint64_t *pos);

sl_source_flavor_t sl_source_flavor(const sl_source_t *src);
/* The server's version string ("10.11.6-MariaDB-0+deb12u1"). */
const char *sl_source_version(const sl_source_t *src);

void sl_source_close(sl_source_t *src);

/* Opens a plain client session with the options' host, credentials,
 * timeouts and TLS settings (used by the replication connection and by
 * preflight and schema queries). *out is owned by the caller (mysql_close).
 * Errors as for sl_source_open(). */
typedef struct st_mysql MYSQL;
int sl_source_connect(MYSQL **out, const sl_source_opts_t *opts, char *err,
                      size_t errlen);

/* The end of the server's binary log, over a client session from
 * sl_source_connect(): SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on
 * servers that removed the former (MySQL 8.4+). *file gets the file name
 * (no directory), *pos the position just after its last event. Returns 0,
 * SL_ENOTFOUND when the server shows none (log_bin off), or the error of a
 * failed query classified as sl_source_errkind() does, with err set. */
int sl_source_binlog_end(MYSQL *mysql, char *file, size_t filelen,
                         uint64_t *pos, char *err, size_t errlen);

/* What the last error on a client session means: SL_ECONN when the
 * connection broke or the server is going away (retry later), SL_EAUTH for
 * a missing privilege, SL_EDB for any other server error. */
int sl_source_errkind(MYSQL *mysql);

/* Encodes a MySQL GTID set ("uuid:1-5:7,uuid2:1-3") in the binary form of
 * COM_BINLOG_DUMP_GTID (n_sids u64le, then per sid: 16-byte uuid,
 * n_intervals u64le, [start u64le, end-exclusive u64le]...). A set that
 * names a tag (MySQL 8.3+: uuid:1-5:tag:1-3) takes MySQL's tagged format
 * instead: the count as 0x01, 6 bytes of count, 0x01; after each uuid the
 * tag's length as a mysql::serialization integer and the tag in lower case
 * (empty for untagged GTIDs). Appends to out; SL_EINVAL on a malformed
 * set. Exposed for tests. */
int sl_source_encode_gtid_set(const char *text, sl_buf_t *out);

#endif
