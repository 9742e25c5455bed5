/* The replication connection; the protocol is described in source.h. */
#include "source.h"

#include "bytes.h"
#include "clock.h"
#include "error.h"
#include "log.h"
#include "replay.h"

#include <ctype.h>
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* COM_BINLOG_DUMP flags. */
#define DUMP_SEND_ANNOTATE_ROWS 0x02 /* MariaDB: send ANNOTATE_ROWS events. */
#define DUMP_THROUGH_GTID 0x04       /* MySQL COM_BINLOG_DUMP_GTID. */
#define COM_BINLOG_DUMP_GTID_ 0x1e

/* MariaDB replica capability 4 = understands GTID events, so the server
 * sends them as they are instead of rewriting them as BEGIN queries. */
#define MARIA_SLAVE_CAPABILITY_GTID 4

#define EV_ROTATE 4
#define EV_HEARTBEAT 27
#define EV_HEARTBEAT_V2 41
#define LOG_EVENT_ARTIFICIAL_F 0x20

struct sl_source_s {
    MYSQL *mysql;
    sl_source_flavor_t flavor;
    int crc; /* Events carry a 4-byte CRC32 trailer. */
    uint32_t timeout_ms;
    char file[512]; /* The file of the next event. */
    uint64_t pos;   /* The position of the next event. */
    char version[128];
    sl_replay_src_t *replay; /* A replay's reader of files (replay.h). */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Maps a client or server error code to the SL_E* the caller acts on. */
static int classify(unsigned int code, const char *msg) {
    switch (code) {
    case CR_SSL_CONNECTION_ERROR:
        /* A certificate that does not verify, or TLS the server lacks, is
         * a setting to fix, not an outage to wait out. */
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR: return SL_EAUTH;
    case ER_MASTER_FATAL_ERROR_READING_BINLOG:
        /* 1236 covers purged files, a position past the end and a GTID
         * position the server no longer has; all mean "cannot resume
         * here", which only the user can resolve. */
        if (msg != NULL &&
            (strstr(msg, "purged") || strstr(msg, "Could not find") ||
             strstr(msg, "not find GTID") || strstr(msg, "could not find")))
            return SL_EGONE;
        return SL_EPROTO;
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:
    case ER_CON_COUNT_ERROR: return SL_ECONN;
    default: return code >= 2000 && code < 3000 ? SL_ECONN : SL_EDB;
    }
}

static int query(sl_source_t *src, const char *sql, char *err, size_t errlen) {
    if (mysql_query(src->mysql, sql) != 0) {
        unsigned int code = mysql_errno(src->mysql);
        set_err(err, errlen, "source query failed (%s): %u %s", sql, code,
                mysql_error(src->mysql));
        return classify(code, mysql_error(src->mysql));
    }
    MYSQL_RES *res = mysql_store_result(src->mysql);
    if (res != NULL)
        mysql_free_result(res);
    return 0;
}

/* Runs a query returning one row; copies up to ncols columns. */
static int query_row(sl_source_t *src, const char *sql, char **cols,
                     size_t ncols, size_t colsize, char *err, size_t errlen) {
    if (mysql_query(src->mysql, sql) != 0) {
        unsigned int code = mysql_errno(src->mysql);
        set_err(err, errlen, "source query failed (%s): %u %s", sql, code,
                mysql_error(src->mysql));
        return classify(code, mysql_error(src->mysql));
    }
    MYSQL_RES *res = mysql_store_result(src->mysql);
    if (res == NULL) {
        set_err(err, errlen, "source query returned nothing (%s)", sql);
        return SL_EDB;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL || mysql_num_fields(res) < ncols) {
        mysql_free_result(res);
        set_err(err, errlen, "source query returned no row (%s)", sql);
        return SL_ENOTFOUND;
    }
    for (size_t i = 0; i < ncols; i++)
        snprintf(cols[i], colsize, "%s", row[i] ? row[i] : "");
    mysql_free_result(res);
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* 1 when the set names a tag anywhere: a ':' followed by a letter or an
 * underscore (an interval starts with a digit, and a uuid has no ':'). */
static int has_tag(const char *text) {
    for (const char *p = text; (p = strchr(p, ':')) != NULL; p++)
        if (isalpha((unsigned char)p[1]) || p[1] == '_')
            return 1;
    return 0;
}

/* The length of the tag at p (MySQL's rule: a letter or an underscore,
 * then letters, digits or underscores, 32 at most), or 0. */
static size_t tag_len(const char *p) {
    if (!isalpha((unsigned char)*p) && *p != '_')
        return 0;
    size_t n = 1;
    while (isalnum((unsigned char)p[n]) || p[n] == '_')
        n++;
    return n <= 32 ? n : 0;
}

int sl_source_encode_gtid_set(const char *text, sl_buf_t *out) {
    /* The tagged format (MySQL 8.3+) only when a tag is named, so that
     * older servers get the format they know. */
    int tagged = has_tag(text);
    size_t start = out->len;
    uint8_t *count_at = sl_buf_extend(out, 8);
    if (count_at == NULL)
        return SL_ENOMEM;
    uint64_t nsids = 0;
    const char *p = text;
    while (*p != '\0') {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        uint8_t uuid[16];
        int nibbles = 0;
        while (*p != '\0' && *p != ':') {
            if (*p == '-') {
                p++;
                continue;
            }
            int v = hexval((unsigned char)*p);
            if (v < 0 || nibbles >= 32)
                goto bad;
            if (nibbles % 2 == 0)
                uuid[nibbles / 2] = (uint8_t)(v << 4);
            else
                uuid[nibbles / 2] |= (uint8_t)v;
            nibbles++;
            p++;
        }
        if (nibbles != 32 || *p != ':')
            goto bad;
        /* One entry per (uuid, tag): opened by its first interval, so a
         * tag must be followed by at least one. */
        const char *tag = "";
        size_t tlen = 0, nint_at = 0;
        uint64_t nint = 0;
        int open = 0;
        while (*p == ':') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                size_t n = tag_len(p);
                if (n == 0 || p[n] != ':' || !isdigit((unsigned char)p[n + 1]))
                    goto bad;
                if (open) {
                    sl_put_u64le(out->data + nint_at, nint);
                    nsids++;
                    open = 0;
                }
                tag = p;
                tlen = n;
                p += n;
                continue;
            }
            char *endp;
            unsigned long long lo = strtoull(p, &endp, 10), hi = lo;
            p = endp;
            if (*p == '-') {
                p++;
                if (!isdigit((unsigned char)*p))
                    goto bad;
                hi = strtoull(p, &endp, 10);
                p = endp;
            }
            if (lo == 0 || hi < lo || hi == UINT64_MAX)
                goto bad;
            if (!open) {
                if (sl_buf_append(out, uuid, 16) != 0)
                    return SL_ENOMEM;
                if (tagged) {
                    /* The tag's length as a mysql::serialization
                     * unsigned integer (one byte up to 127: value << 1),
                     * then the tag in lower case, as MySQL stores it. */
                    uint8_t *t = sl_buf_extend(out, 1 + tlen);
                    if (t == NULL)
                        return SL_ENOMEM;
                    t[0] = (uint8_t)(tlen << 1);
                    for (size_t k = 0; k < tlen; k++)
                        t[1 + k] = (uint8_t)tolower((unsigned char)tag[k]);
                }
                nint_at = out->len;
                if (sl_buf_extend(out, 8) == NULL)
                    return SL_ENOMEM;
                nint = 0;
                open = 1;
            }
            uint8_t pair[16];
            sl_put_u64le(pair, lo);
            sl_put_u64le(pair + 8, hi + 1); /* The end is exclusive. */
            if (sl_buf_append(out, pair, 16) != 0)
                return SL_ENOMEM;
            nint++;
        }
        if (!open)
            goto bad;
        sl_put_u64le(out->data + nint_at, nint);
        nsids++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ',' && *p != '\0')
            goto bad;
    }
    if (tagged) {
        /* Tagged format: 1 in the first and the last byte, the count in
         * the six between. */
        if (nsids >> 48)
            goto bad;
        sl_put_u64le(out->data + start, 1 | (nsids << 8) | (1ull << 56));
    } else {
        sl_put_u64le(out->data + start, nsids);
    }
    return 0;
bad:
    out->len = start;
    return SL_EINVAL;
}

/* Reads the current end of the binlog: SHOW MASTER STATUS, or its MySQL
 * 8.4+ name SHOW BINARY LOG STATUS. */
static int current_end(sl_source_t *src, char *err, size_t errlen) {
    char file[512], pos[32];
    char *cols[] = {file, pos};
    int rc =
        query_row(src, "SHOW MASTER STATUS", cols, 2, sizeof file, err, errlen);
    if (rc != 0 && rc != SL_EAUTH)
        rc = query_row(src, "SHOW BINARY LOG STATUS", cols, 2, sizeof file, err,
                       errlen);
    if (rc == SL_ENOTFOUND) {
        set_err(err, errlen,
                "the source has no binary log (log_bin is OFF): "
                "enable it with log_bin=ON and restart the server");
        return SL_ECONFIG;
    }
    if (rc != 0)
        return rc;
    snprintf(src->file, sizeof src->file, "%s", file);
    src->pos = strtoull(pos, NULL, 10);
    return 0;
}

static int register_replica(sl_source_t *src, const sl_source_opts_t *opts,
                            char *err, size_t errlen) {
    /* server_id, then empty host, user and password (length-prefixed),
     * port, replication rank and master id. */
    uint8_t pkt[18];
    memset(pkt, 0, sizeof pkt);
    sl_put_u32le(pkt, opts->server_id);
    /* pkt[4..6]: three empty strings. */
    sl_put_u16le(pkt + 7, 0);
    MYSQL *mysql = src->mysql;
    if (mysql->methods->db_command(mysql, COM_REGISTER_SLAVE, (const char *)pkt,
                                   17, 0, NULL) != 0) {
        unsigned int code = mysql_errno(mysql);
        set_err(err, errlen, "registering as replica %u failed: %u %s",
                opts->server_id, code, mysql_error(mysql));
        return classify(code, mysql_error(mysql));
    }
    return 0;
}

static int start_dump(sl_source_t *src, const sl_source_opts_t *opts, char *err,
                      size_t errlen) {
    MYSQL *mysql = src->mysql;
    sl_buf_t pkt = SL_BUF_INIT;
    int rc;
    enum enum_server_command cmd = COM_BINLOG_DUMP;
    if (opts->gtid != NULL && src->flavor == SL_SOURCE_MYSQL) {
        /* flags, server_id, name length + name (empty), pos 4, then the
         * encoded GTID set with its size. */
        uint8_t head[22];
        sl_put_u16le(head, DUMP_THROUGH_GTID);
        sl_put_u32le(head + 2, opts->server_id);
        sl_put_u32le(head + 6, 0);
        sl_put_u64le(head + 10, 4);
        if ((rc = sl_buf_append(&pkt, head, 18)) != 0)
            goto out;
        size_t size_at = pkt.len;
        if (sl_buf_extend(&pkt, 4) == NULL) {
            rc = SL_ENOMEM;
            goto out;
        }
        if ((rc = sl_source_encode_gtid_set(opts->gtid, &pkt)) != 0) {
            set_err(err, errlen,
                    "'%s' is not a MySQL GTID set "
                    "(uuid:1-5:7,uuid:tag:1-3)",
                    opts->gtid);
            goto out;
        }
        sl_put_u32le(pkt.data + size_at, (uint32_t)(pkt.len - size_at - 4));
        cmd = (enum enum_server_command)COM_BINLOG_DUMP_GTID_;
    } else {
        uint8_t head[10];
        uint16_t flags =
            src->flavor == SL_SOURCE_MARIADB ? DUMP_SEND_ANNOTATE_ROWS : 0;
        uint64_t pos = src->pos;
        const char *file = src->file;
        if (opts->gtid != NULL) {
            file = ""; /* MariaDB: @slave_connect_state says where. */
            pos = 4;
        }
        if (pos > UINT32_MAX) {
            set_err(err, errlen, "position %llu does not fit the protocol",
                    (unsigned long long)pos);
            rc = SL_EINVAL;
            goto out;
        }
        sl_put_u32le(head, (uint32_t)pos);
        sl_put_u16le(head + 4, flags);
        sl_put_u32le(head + 6, opts->server_id);
        if ((rc = sl_buf_append(&pkt, head, 10)) != 0 ||
            (rc = sl_buf_append_str(&pkt, file)) != 0)
            goto out;
    }
    if (mysql->methods->db_command(mysql, cmd, (const char *)pkt.data, pkt.len,
                                   1, NULL) != 0) {
        unsigned int code = mysql_errno(mysql);
        set_err(err, errlen, "starting the binlog dump failed: %u %s", code,
                mysql_error(mysql));
        rc = classify(code, mysql_error(mysql));
        goto out;
    }
    rc = 0;
out:
    sl_buf_free(&pkt);
    return rc;
}

int sl_source_connect(MYSQL **out, const sl_source_opts_t *opts, char *err,
                      size_t errlen) {
    MYSQL *mysql = mysql_init(NULL);
    *out = NULL;
    if (mysql == NULL)
        return SL_ENOMEM;
    unsigned int connect_s =
        opts->connect_timeout_ms ? (opts->connect_timeout_ms + 999) / 1000 : 10;
    /* Reads may be silent for a heartbeat period; the read timeout is the
     * silence limit, so a dead connection is noticed, not waited on. */
    unsigned int read_s =
        opts->timeout_ms ? (opts->timeout_ms + 999) / 1000 : 60;
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
    mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &read_s);
    mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &read_s);
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (opts->tls) {
        /* Verified by default (chain and name), against the CA given or
         * the system's trust store; skipping it is asked for by name. */
        my_bool enforce = 1, verify = !opts->tls_insecure;
        mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
        mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        if (opts->tls_ca != NULL)
            mysql_options(mysql, MYSQL_OPT_SSL_CA, opts->tls_ca);
    }
    if (mysql_real_connect(mysql, opts->host, opts->user, opts->password, NULL,
                           opts->port, NULL, 0) == NULL) {
        unsigned int code = mysql_errno(mysql);
        set_err(err, errlen, "cannot connect to the source %s:%u as %s: %u %s",
                opts->host, opts->port, opts->user ? opts->user : "", code,
                mysql_error(mysql));
        mysql_close(mysql);
        return classify(code, NULL);
    }
    *out = mysql;
    return 0;
}

int sl_source_errkind(MYSQL *mysql) {
    return classify(mysql_errno(mysql), mysql_error(mysql));
}

int sl_source_binlog_end(MYSQL *mysql, char *file, size_t filelen,
                         uint64_t *pos, char *err, size_t errlen) {
    /* MySQL 8.4 removed SHOW MASTER STATUS (a syntax error there); 8.2+
     * and MariaDB 10.5+ have other spellings, but the old one is tried
     * first because every other server knows it. */
    const char *sql = "SHOW MASTER STATUS";
    if (mysql_query(mysql, sql) != 0 && mysql_errno(mysql) == ER_PARSE_ERROR) {
        sql = "SHOW BINARY LOG STATUS";
        mysql_query(mysql, sql);
    }
    MYSQL_RES *res = mysql_errno(mysql) ? NULL : mysql_store_result(mysql);
    if (res == NULL) {
        set_err(err, errlen, "%s on the source failed: %u %s", sql,
                mysql_errno(mysql), mysql_error(mysql));
        return sl_source_errkind(mysql);
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    int rc = 0;
    if (row == NULL || row[0] == NULL || row[1] == NULL || row[0][0] == '\0' ||
        strlen(row[0]) >= filelen) {
        set_err(err, errlen, "%s on the source shows no binary log", sql);
        rc = SL_ENOTFOUND;
    } else {
        snprintf(file, filelen, "%s", row[0]);
        *pos = strtoull(row[1], NULL, 10);
    }
    mysql_free_result(res);
    return rc;
}

/* The replay's reader stands in for the replication connection. */
static int open_replay(sl_source_t *src, sl_source_t **out,
                       const sl_source_opts_t *opts, char *err, size_t errlen) {
    snprintf(src->version, sizeof src->version, "binlog files (replay)");
    src->flavor = SL_SOURCE_MARIADB;
    int rc =
        sl_replay_src_open(&src->replay, opts->file, opts->pos, err, errlen);
    if (rc != 0) {
        free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int sl_source_open(sl_source_t **out, const sl_source_opts_t *opts, char *err,
                   size_t errlen) {
    *out = NULL;
    if (opts->server_id == 0) {
        set_err(err, errlen, "server id 0 is not allowed for a replica");
        return SL_EINVAL;
    }
    sl_source_t *src = calloc(1, sizeof *src);
    if (src == NULL)
        return SL_ENOMEM;
    if (sl_replay_active()) /* Files instead of a server: replay.h. */
        return open_replay(src, out, opts, err, errlen);
    src->timeout_ms = opts->timeout_ms;
    int rc = sl_source_connect(&src->mysql, opts, err, errlen);
    if (rc != 0)
        goto fail;
    snprintf(src->version, sizeof src->version, "%s",
             mysql_get_server_info(src->mysql));
    src->flavor =
        strstr(src->version, "MariaDB") ? SL_SOURCE_MARIADB : SL_SOURCE_MYSQL;

    char checksum[32];
    char *cols[] = {checksum};
    rc = query_row(src, "SELECT @@global.binlog_checksum", cols, 1,
                   sizeof checksum, err, errlen);
    if (rc != 0)
        goto fail;
    src->crc = strcmp(checksum, "CRC32") == 0;
    if (!src->crc && strcmp(checksum, "NONE") != 0) {
        set_err(err, errlen, "unknown binlog_checksum '%s' on the source",
                checksum);
        rc = SL_EUNSUPPORTED;
        goto fail;
    }
    if ((rc = query(src,
                    "SET @master_binlog_checksum = "
                    "@@global.binlog_checksum",
                    err, errlen)) != 0)
        goto fail;
    char sql[1024];
    snprintf(sql, sizeof sql, "SET @master_heartbeat_period = %llu",
             (unsigned long long)opts->heartbeat_ms * 1000000ull);
    if ((rc = query(src, sql, err, errlen)) != 0)
        goto fail;
    if (src->flavor == SL_SOURCE_MARIADB) {
        snprintf(sql, sizeof sql, "SET @mariadb_slave_capability = %d",
                 MARIA_SLAVE_CAPABILITY_GTID);
        if ((rc = query(src, sql, err, errlen)) != 0)
            goto fail;
    }

    if (opts->gtid != NULL) {
        src->file[0] = '\0';
        src->pos = 4;
        if (src->flavor == SL_SOURCE_MARIADB) {
            /* The GTID position goes through a user variable; escape it
             * even though it should only hold digits, dashes and commas. */
            char escaped[600];
            mysql_real_escape_string(src->mysql, escaped, opts->gtid,
                                     strnlen(opts->gtid, 290));
            snprintf(sql, sizeof sql, "SET @slave_connect_state = '%s'",
                     escaped);
            if ((rc = query(src, sql, err, errlen)) != 0 ||
                (rc = query(src, "SET @slave_gtid_strict_mode = 1", err,
                            errlen)) != 0 ||
                (rc = query(src, "SET @slave_gtid_ignore_duplicates = 0", err,
                            errlen)) != 0)
                goto fail;
        }
    } else if (opts->file != NULL) {
        snprintf(src->file, sizeof src->file, "%s", opts->file);
        src->pos = opts->pos ? opts->pos : 4;
    } else if ((rc = current_end(src, err, errlen)) != 0) {
        goto fail;
    }
    if ((rc = register_replica(src, opts, err, errlen)) != 0 ||
        (rc = start_dump(src, opts, err, errlen)) != 0)
        goto fail;
    *out = src;
    return 0;
fail:
    sl_source_close(src);
    return rc;
}

int sl_source_next(sl_source_t *src, const uint8_t **ev, size_t *len,
                   const char **file, uint64_t *pos, char *err, size_t errlen) {
    if (src->replay != NULL)
        return sl_replay_src_next(src->replay, ev, len, file, pos, err, errlen);
    uint64_t started = sl_mono_ns();
    unsigned long n = mysql_net_read_packet(src->mysql);
    /* Connector/C signals errors with packet_error, (unsigned int)-1. */
    if (n == (unsigned long)(unsigned int)-1 || n == ~0ul) {
        unsigned int code = mysql_errno(src->mysql);
        const char *msg = mysql_error(src->mysql);
        uint64_t waited_ms = (sl_mono_ns() - started) / 1000000u;
        if (src->timeout_ms && (code == CR_SERVER_LOST || code == 0) &&
            waited_ms + 500 >= src->timeout_ms) {
            set_err(err, errlen,
                    "no event and no heartbeat from the source "
                    "for %llu ms at %s:%llu",
                    (unsigned long long)waited_ms, src->file,
                    (unsigned long long)src->pos);
            return SL_ETIMEDOUT;
        }
        int rc = classify(code, msg);
        if (rc == SL_EGONE)
            set_err(err, errlen,
                    "the source no longer has the binlog position %s:%llu "
                    "(%u %s); it was purged or never existed. Restart "
                    "capture from a position the source still has "
                    "(--start end, or a later FILE:POS/GTID) and re-sync "
                    "what was missed",
                    src->file, (unsigned long long)src->pos, code, msg);
        else
            set_err(err, errlen,
                    "replication stream from the source broke "
                    "at %s:%llu: %u %s",
                    src->file, (unsigned long long)src->pos, code, msg);
        return rc == SL_EDB ? SL_EPROTO : rc;
    }
    const uint8_t *p = src->mysql->net.read_pos;
    if (n == 0) {
        set_err(err, errlen, "empty packet in the replication stream");
        return SL_EPROTO;
    }
    if (p[0] == 0xFE && n < 8) {
        set_err(err, errlen, "the source ended the replication stream");
        return SL_ECLOSED;
    }
    if (p[0] != 0x00) {
        set_err(err, errlen,
                "unexpected packet 0x%02x in the replication "
                "stream",
                p[0]);
        return SL_EPROTO;
    }
    p++;
    n--;
    if (n < 19) {
        set_err(err, errlen, "event of %lu bytes is shorter than its header",
                n);
        return SL_EPROTO;
    }
    uint32_t size = sl_get_u32le(p + 9);
    uint32_t log_pos = sl_get_u32le(p + 13);
    uint16_t flags = sl_get_u16le(p + 17);
    uint8_t type = p[4];
    if (size != n) {
        set_err(err, errlen,
                "event at %s:%llu says %u bytes but its packet "
                "holds %lu",
                src->file, (unsigned long long)src->pos, size, n);
        return SL_EPROTO;
    }
    *ev = p;
    *len = n;
    *file = src->file;
    int artificial = log_pos == 0 || (flags & LOG_EVENT_ARTIFICIAL_F) ||
                     type == EV_HEARTBEAT || type == EV_HEARTBEAT_V2;
    if (type == EV_ROTATE) {
        /* Body: position u64le, then the next file's name (up to the CRC). */
        size_t name_len = n - 19 - 8 - (src->crc ? 4 : 0);
        if (n < 19 + 8 + (src->crc ? 4u : 0u) || name_len >= sizeof src->file) {
            set_err(err, errlen, "malformed ROTATE event (%lu bytes)", n);
            return SL_EPROTO;
        }
        *pos = artificial ? 0 : log_pos - size;
        memcpy(src->file, p + 19 + 8, name_len);
        src->file[name_len] = '\0';
        src->pos = sl_get_u64le(p + 19);
        return 0;
    }
    if (artificial) {
        *pos = 0;
        return 0;
    }
    if (log_pos < size) {
        set_err(err, errlen, "event ending at %u cannot be %u bytes long",
                log_pos, size);
        return SL_EPROTO;
    }
    *pos = log_pos - size;
    src->pos = log_pos;
    return 0;
}

void sl_source_position(const sl_source_t *src, const char **file,
                        uint64_t *pos) {
    if (src->replay != NULL) {
        sl_replay_src_position(src->replay, file, pos);
        return;
    }
    *file = src->file;
    *pos = src->pos;
}

sl_source_flavor_t sl_source_flavor(const sl_source_t *src) {
    return src->flavor;
}

const char *sl_source_version(const sl_source_t *src) { return src->version; }

void sl_source_close(sl_source_t *src) {
    if (src == NULL)
        return;
    sl_replay_src_close(src->replay);
    if (src->mysql != NULL)
        mysql_close(src->mysql);
    free(src);
}
