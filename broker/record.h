/*
 * Commit-log entries: a small sluice header followed by one batch of
 * messages in Kafka's RecordBatch v2 layout, either encoded by the broker
 * (a sluice batch) or stored verbatim as a Kafka producer sent it (a Kafka
 * batch). The byte layout is specified at the top of record.c.
 *
 * Encoding writes into a caller-owned sl_buf_t; decoding works in place
 * over caller-owned bytes and allocates only to decompress a compressed
 * Kafka batch, into a caller-owned sl_buf_t.
 */
#ifndef SL_BROKER_RECORD_H
#define SL_BROKER_RECORD_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define SL_ENTRY_HDR 12 /* The sluice header. */
#define SL_BATCH_HDR 61 /* RecordBatch v2 fixed part. */
#define SL_ENTRY_MIN (SL_ENTRY_HDR + SL_BATCH_HDR)
#define SL_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define SL_NO_PRODUCER (-1)
#define SL_PRODUCER_MAX ((1ull << 48) - 1)
#define SL_SEQ_MAX ((1ull << 63) - 1)
/* Bit 31 of the header's length word: the batch is a Kafka batch. */
#define SL_ENTRY_KAFKA 0x80000000u
/* Compression codecs of attributes bits 0-2, as Kafka numbers them. */
#define SL_CODEC_NONE 0
#define SL_CODEC_GZIP 1
#define SL_CODEC_SNAPPY 2
#define SL_CODEC_LZ4 3
#define SL_CODEC_ZSTD 4
#define SL_BATCH_ATTR_CODEC 0x07
#define SL_BATCH_ATTR_TRANSACTIONAL 0x10
#define SL_BATCH_ATTR_CONTROL 0x20
/* The most a Kafka batch's records may decompress to. */
#define SL_INFLATE_MAX (64u << 20)
/* Kafka sequence numbers are non-negative i32 and wrap to 0. */
#define SL_KSEQ_MAX 0x7FFFFFFF

/* One message handed to the encoder: borrowed bytes, and its record key
 * (key NULL: a null key, as every message had before keys; a key of
 * key_len bytes otherwise, 0 bytes included). */
typedef struct {
    const uint8_t *data;
    size_t len;
    const uint8_t *key;
    size_t key_len;
} sl_msg_t;

/* The decoded fixed fields of one entry. */
typedef struct {
    uint32_t part_id;
    uint32_t batch_len; /* Bytes of the RecordBatch (entry = 12 + this). */
    uint64_t base_offset;
    uint16_t attributes;
    uint32_t count; /* Records in the batch. */
    int64_t base_ts;
    int64_t max_ts;
    int64_t producer_id;    /* SL_NO_PRODUCER when the put carried none. */
    uint64_t seq;           /* Sluice sequence (epoch << 32 | base seq);
                               0 in a Kafka batch. */
    int kafka;              /* 1: a Kafka batch (producer fields Kafka's). */
    int16_t producer_epoch; /* Kafka batch: the producer's epoch. */
    int32_t base_seq;       /* Kafka batch: first sequence, -1 if none. */
    const uint8_t *records; /* Start of the first record. */
    const uint8_t *end;     /* One past the batch. */
} sl_entry_t;

/* Appends one entry holding msgs[0..n) (n >= 1) to out. producer_id < 0
 * means "no producer"; seq must then be 0. A producer id is at most
 * SL_PRODUCER_MAX and a sequence at most SL_SEQ_MAX: the 63-bit sequence
 * is stored split over the producer fields (see record.c). ts is the
 * append time in ms. */
int sl_record_encode(sl_buf_t *out, uint32_t part_id, uint64_t base_offset,
                     int64_t ts, int64_t producer_id, uint64_t seq,
                     const sl_msg_t *msgs, size_t n);

/* Appends one entry holding the Kafka RecordBatch v2 batch[0..len) as it
 * is, except that its base offset is stamped and its partition leader
 * epoch set to 0 (both outside the batch CRC). The batch must have passed
 * sl_record_kafka_check. */
int sl_record_encode_kafka(sl_buf_t *out, uint32_t part_id,
                           uint64_t base_offset, const uint8_t *batch,
                           size_t len);

/* Checks a RecordBatch v2 as a Kafka producer sent it (exactly len bytes)
 * before it is stored: lengths and magic (SL_ECORRUPT), the CRC-32C
 * (SL_ECHECKSUM), a known codec (SL_EUNSUPPORTED), not transactional or
 * a control batch (SL_EPROTO), and that its records parse, decompressed
 * into scratch (caller-owned) when compressed and no larger than
 * max_inflated bytes (SL_ETOOBIG), with offset deltas 0, 1, ..., count - 1
 * (SL_EINVAL). Fills *e (part_id 0, base_offset as sent). */
int sl_record_kafka_check(const uint8_t *batch, size_t len, sl_buf_t *scratch,
                          size_t max_inflated, sl_entry_t *e);

/* Decompresses n bytes at in, compressed with codec (SL_CODEC_*, as
 * Kafka producers write them: gzip, snappy raw or in xerial's framing, lz4
 * frames, zstd frames), appending at most max bytes to out. SL_ETOOBIG
 * beyond max, SL_ECORRUPT when the input does not decode, SL_EUNSUPPORTED
 * for an unknown codec (record_zip.c). */
int sl_record_inflate(int codec, const uint8_t *in, size_t n, sl_buf_t *out,
                      size_t max);

/* Parses and validates the sluice header at p (len bytes available). On
 * success *entry_len is the whole entry's length. SL_ETRUNC when fewer
 * than 12 bytes, SL_ECHECKSUM on a header CRC mismatch, SL_ECORRUPT when
 * the length is below the minimum or above max_batch. */
int sl_record_header(const uint8_t *p, size_t len, uint32_t max_batch,
                     uint32_t *part_id, uint32_t *entry_len);

/* Fully validates the entry at p (exactly entry_len bytes, as reported by
 * sl_record_header): header CRC, batch CRC, magic, lengths, and that every
 * record parses and the count matches (for a compressed Kafka batch the
 * records are not walked: the CRC vouches for them, and they were walked
 * when the batch was produced). Fills *e. */
int sl_record_verify(const uint8_t *p, size_t entry_len, sl_entry_t *e);
/* The same checks without walking the records (the CRC already vouches
 * for them; iteration still reports a malformed record). */
int sl_record_check(const uint8_t *p, size_t entry_len, sl_entry_t *e);
/* sl_record_check over an entry read apart: its 12-byte header at hdr,
 * its batch (entry_len - 12 bytes) at batch. */
int sl_record_check_split(const uint8_t *hdr, const uint8_t *batch,
                          size_t entry_len, sl_entry_t *e);

/* Iterates the records of a verified entry. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    uint64_t base_offset;
    int64_t base_ts;
} sl_record_iter_t;

typedef struct {
    uint64_t offset;
    int64_t ts;
    const uint8_t *key; /* NULL for a null key. */
    size_t key_len;
    const uint8_t *value; /* NULL for a null value. */
    size_t value_len;
    const uint8_t *headers; /* The record's encoded headers (Kafka's
                               varint key length, key, varint value length,
                               value; nheaders times). */
    size_t headers_len;
    uint32_t nheaders;
} sl_record_t;

/* For an uncompressed batch only (sl_record_iter_open handles both). */
void sl_record_iter_init(sl_record_iter_t *it, const sl_entry_t *e);
/* Starts iterating a checked entry; a compressed Kafka batch is first
 * decompressed into scratch (caller-owned; reset here), at most max
 * bytes. The iterator then points into scratch. */
int sl_record_iter_open(sl_record_iter_t *it, const sl_entry_t *e,
                        sl_buf_t *scratch, size_t max);
/* 1 and *rec filled, 0 at the end, or a negative SL_E* code. */
int sl_record_next(sl_record_iter_t *it, sl_record_t *rec);

/* Rewrites the base offset of an encoded entry (outside every CRC). */
void sl_record_set_base_offset(uint8_t *entry, uint64_t base_offset);

#endif
