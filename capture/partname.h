/*
 * Partition names for database and table names: one reversible encoding
 * from (db, table) to a name that satisfies both the broker's name rules
 * (bytes 0x21..0x7E, at most 255) and Kafka's topic-name rules
 * ([A-Za-z0-9._-], at most 249 characters, not "." or ".."), because
 * partitions are meant to be served as Kafka topics. Events always carry
 * the real names; the partition name is only where they are stored.
 *
 * The encoding, byte by byte (docs/change-events.md has the same text):
 *
 *   enc(s)  each byte of s in [A-Za-z0-9_] stands for itself; every other
 *           byte b (a UTF-8 byte, a space, '.', '-', a quote, a backtick,
 *           ...) becomes '-' followed by b as two lowercase hex digits:
 *           "café" -> "caf-c3-a9", "my table" -> "my-20table",
 *           "a.b" -> "a-2eb", "x-y" -> "x-2dy".
 *   table   enc(db) "." enc(table): "shop.users", "caf-c3-a9.my-20table".
 *   db      enc(db).
 *
 * Names that are already plain ([A-Za-z0-9_]) thus map to exactly what
 * they mapped to before the encoding existed ("shop.users").
 *
 * Short form: when the encoded name has at most SL_PARTNAME_MAX (249)
 * characters it is the name, and it is reversible: '.' appears only as
 * the separator, '-' only as an escape, so sl_partname_decode() recovers
 * db and table exactly, and no two pairs share a name.
 *
 * Long form: a longer encoding E (a database and table name of 64
 * characters each can take 2 x 64 x 3 x 3 + 1 = 1153 characters for BMP
 * text, 1537 for the brief's 4-byte worst case) cannot fit 249 characters
 * by any reversible encoding: 65^249 < 2^1500 names exist, but a pair of
 * 64-character BMP identifiers carries about 2^2048 possibilities. Such a
 * name is
 *
 *   prefix(E) "--" hex(SHA-256(E))
 *
 * where prefix(E) is the longest start of E of at most 183 characters
 * that does not cut an escape, and the hash is 64 lowercase hex digits:
 * at most 183 + 2 + 64 = 249 characters. A short form never contains
 * "--" (every '-' is followed by a hex digit), so a long form can never
 * equal a short form; two long forms are equal only if SHA-256 collides.
 * The long form is not reversible; its readable prefix tells an operator
 * which tables it holds, and the events inside carry the full names.
 *
 * Routing by key appends "#k" (k < 65536) after either form, which keeps
 * the broker name within 255 bytes; as a Kafka topic the suffix is the
 * Kafka partition number of topic "db.table".
 */
#ifndef SL_CAPTURE_PARTNAME_H
#define SL_CAPTURE_PARTNAME_H

#include "buf.h"

#include <stddef.h>

/* Kafka's topic-name limit; every name this module makes fits it. */
#define SL_PARTNAME_MAX 249
/* The longest readable prefix kept in a long form (249 - 2 - 64). */
#define SL_PARTNAME_PREFIX_MAX 183

/* Appends the partition name of db.table (table != NULL) or of db alone
 * (table == NULL, for routing by database) to out. Returns SL_EINVAL for an
 * empty db or table (the servers allow neither) and SL_ENOMEM. */
int sl_partname_encode(const char *db, size_t db_len, const char *table,
                       size_t table_len, sl_buf_t *out);

/* Decodes a short-form name into db and, when the name has a '.', table
 * (*has_table says which; both buffers are reset first and owned by the
 * caller). Returns SL_ETRUNC for a long form (hashed, not reversible),
 * SL_EINVAL for a name the encoder never makes (a bad escape, an escaped
 * plain byte, uppercase hex, an empty part, a second '.', a '#k' suffix:
 * strip it first), and SL_ENOMEM. */
int sl_partname_decode(const char *name, size_t len, sl_buf_t *db,
                       sl_buf_t *table, int *has_table);

/* 1 when name is a long form (has the "--" marker), else 0. */
int sl_partname_is_long(const char *name, size_t len);

#endif
