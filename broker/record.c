/*
 * Commit-log entry codec.
 *
 * An entry is a 12-byte sluice header followed by one Kafka RecordBatch v2:
 * a sluice batch, which the broker encoded for a text-protocol put, or a
 * Kafka batch, stored as a Kafka producer sent it. Every integer is
 * big-endian, as in Kafka. Varints are Kafka's zig-zag varints (protobuf
 * style, at most 10 bytes).
 *
 * Sluice header:
 *   0  u32  partition id (the catalogue maps it to topic and name)
 *   4  u32  bit 31: 1 for a Kafka batch, 0 for a sluice batch; bits 0-30:
 *           length L of the RecordBatch that follows (61 <= L <= max)
 *   8  u32  CRC-32C of bytes 0..7 of this header (so the kind is covered)
 * (Brokers before the Kafka listener read a Kafka batch's length word as
 * a length above the maximum, that is as damage: they refuse to start on
 * a log holding one instead of misreading it.)
 *
 * A sluice batch, RecordBatch v2 (offsets relative to its start):
 *   0  i64  baseOffset: logical offset of the first record in its partition.
 *           Stamped by the broker; outside every CRC, as in Kafka.
 *   8  i32  batchLength: bytes after this field, always L - 12
 *   12 i32  partitionLeaderEpoch: 0
 *   16 i8   magic: 2
 *   17 u32  CRC-32C of bytes 21..L-1 (attributes to the end)
 *   21 i16  attributes: bits 0-2 compression (0, none; the only one
 *           written so far), bit 3 timestamp type (1, log-append time),
 *           bits 4 and 5 (transactional, control) always 0
 *   23 i32  lastOffsetDelta: record count - 1
 *   27 i64  baseTimestamp (ms since the epoch)
 *   35 i64  maxTimestamp
 *   43 i64  producerId, -1 when the put carried none; otherwise bits 0..47
 *           are the producer id and bits 48..62 hold bits 48..62 of the
 *           sluice sequence (producer ids are below 2^48)
 *   51 i16  producerEpoch: bits 32..47 of the sluice sequence, -1 if none
 *   53 i32  baseSequence: bits 0..31 of the sluice sequence, -1 if none
 *   57 i32  records count (>= 1)
 *   61      records
 *
 * Record (Kafka v2):
 *   varint length of the rest of the record
 *   i8     attributes (0)
 *   varint timestampDelta (from baseTimestamp)
 *   varint offsetDelta (0, 1, 2, ...)
 *   varint keyLength (-1 for null), key bytes (a sluice batch: the key a
 *          put gave with klen=, or an mput item with "LEN KLEN"; else null)
 *   varint valueLength (-1 for null), value bytes
 *   varint header count (0), headers
 *
 * A Kafka batch has the same layout, with the producer's bytes from
 * offset 8 on; the broker stamps only baseOffset and sets
 * partitionLeaderEpoch to 0 (both outside the CRC, as Kafka's brokers
 * stamp them). What differs from a sluice batch:
 *   attributes  bits 0-2 any codec Kafka defines (1 gzip, 2 snappy, 3 lz4,
 *               4 zstd): then everything after the records count is the
 *               compressed records; bit 3 usually 0 (CreateTime: the
 *               timestamps are the producer's and need not grow); bits 4
 *               and 5 (transactional, control) are refused when produced
 *   producer    producerId, producerEpoch and baseSequence are Kafka's
 *               (-1, -1, -1 without idempotence); the last sequence is
 *               baseSequence + lastOffsetDelta, wrapping to 0 after
 *               2^31 - 1
 *   records     keys, headers and timestamp deltas as the producer wrote
 *               them
 * Recovery rebuilds the Kafka producer state (catalog.c) from these
 * fields, as Kafka rebuilds it from its log.
 *
 * An entry is valid when the header CRC matches, L is within bounds, the
 * batch CRC matches, magic is 2, batchLength is L - 12, the leader epoch is
 * 0 (sluice has no leaders; the field is outside the CRC, so anything else
 * is damage), the count is at
 * least 1 and equals lastOffsetDelta + 1, and the records parse to exactly
 * the end of the batch with offset deltas 0, 1, 2, ... (for a compressed
 * Kafka batch the records are checked when it is produced; afterwards the
 * CRC vouches for them). Recovery adds one more rule: baseOffset must be
 * the partition's next offset.
 */
#include "broker/record.h"

#include "bytes.h"
#include "crc32c.h"
#include "error.h"
#include "log.h"

#include <string.h>

static size_t uvarint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t zz_len(int64_t v) {
    return uvarint_len(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* The bytes of record i after its length varint: attributes, timestamp
 * delta 0, offset delta i, a null key (one byte), the value and a header
 * count of 0; key_extra() more with a key. */
static inline size_t body_len(const sl_msg_t *m, size_t i) {
    return 1 + 1 + zz_len((int64_t)i) + 1 + zz_len((int64_t)m->len) + m->len +
           1;
}

static inline size_t key_extra(const sl_msg_t *m) {
    return zz_len((int64_t)m->key_len) + m->key_len - 1;
}

/* Writes the records of msgs[0..n) at w; returns the end. keyed: some
 * message has a key (a batch without keys, the text protocol's usual one,
 * takes the loop without the key's branch: the put path is hot). */
static inline __attribute__((always_inline)) uint8_t *
put_records(uint8_t *w, const sl_msg_t *msgs, size_t n, int keyed) {
    for (size_t i = 0; i < n; i++) {
        const sl_msg_t *m = &msgs[i];
        size_t body = body_len(m, i);
        if (keyed && m->key != NULL)
            body += key_extra(m);
        w += sl_put_varint(w, (int64_t)body);
        *w++ = 0;                          /* attributes */
        *w++ = 0;                          /* timestampDelta 0 */
        w += sl_put_varint(w, (int64_t)i); /* offsetDelta */
        if (!keyed || m->key == NULL) {
            *w++ = 1; /* keyLength -1 */
        } else {
            w += sl_put_varint(w, (int64_t)m->key_len);
            if (m->key_len > 0)
                memcpy(w, m->key, m->key_len);
            w += m->key_len;
        }
        w += sl_put_varint(w, (int64_t)m->len);
        if (m->len > 0)
            memcpy(w, m->data, m->len);
        w += m->len;
        *w++ = 0; /* no headers */
    }
    return w;
}

int sl_record_encode(sl_buf_t *out, uint32_t part_id, uint64_t base_offset,
                     int64_t ts, int64_t producer_id, uint64_t seq,
                     const sl_msg_t *msgs, size_t n) {
    if (n == 0 || n > 0x7FFFFFFF)
        return SL_EINVAL;
    if (producer_id >= 0 &&
        (seq > SL_SEQ_MAX || (uint64_t)producer_id > SL_PRODUCER_MAX))
        return SL_ERANGE;
    size_t total = SL_ENTRY_HDR + SL_BATCH_HDR;
    int keyed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t body = body_len(&msgs[i], i);
        if (msgs[i].key != NULL) {
            keyed = 1;
            body += key_extra(&msgs[i]);
        }
        total += zz_len((int64_t)body) + body;
    }
    if (total - SL_ENTRY_HDR > 0x7FFFFFFF)
        return SL_ETOOBIG;
    uint8_t *p = sl_buf_extend(out, total);
    if (p == NULL)
        return SL_ENOMEM;
    uint32_t blen = (uint32_t)(total - SL_ENTRY_HDR);
    sl_put_u32be(p, part_id);
    sl_put_u32be(p + 4, blen);
    sl_put_u32be(p + 8, sl_crc32c(0, p, 8));
    uint8_t *b = p + SL_ENTRY_HDR;
    sl_put_u64be(b, base_offset);
    sl_put_u32be(b + 8, blen - 12);
    sl_put_u32be(b + 12, 0);
    b[16] = 2;
    sl_put_u16be(b + 21, SL_BATCH_ATTR_LOG_APPEND_TIME);
    sl_put_u32be(b + 23, (uint32_t)(n - 1));
    sl_put_u64be(b + 27, (uint64_t)ts);
    sl_put_u64be(b + 35, (uint64_t)ts);
    if (producer_id >= 0) {
        sl_put_u64be(b + 43, (uint64_t)producer_id | (seq >> 48) << 48);
        sl_put_u16be(b + 51, (uint16_t)(seq >> 32));
        sl_put_u32be(b + 53, (uint32_t)seq);
    } else {
        sl_put_u64be(b + 43, UINT64_MAX);
        sl_put_u16be(b + 51, 0xFFFF);
        sl_put_u32be(b + 53, 0xFFFFFFFF);
    }
    sl_put_u32be(b + 57, (uint32_t)n);
    uint8_t *w = b + SL_BATCH_HDR;
    w = keyed ? put_records(w, msgs, n, 1) : put_records(w, msgs, n, 0);
    SL_ASSERT(w == p + total);
    sl_put_u32be(b + 17, sl_crc32c(0, b + 21, blen - 21));
    return 0;
}

int sl_record_header(const uint8_t *p, size_t len, uint32_t max_batch,
                     uint32_t *part_id, uint32_t *entry_len) {
    if (len < SL_ENTRY_HDR)
        return SL_ETRUNC;
    if (sl_crc32c(0, p, 8) != sl_get_u32be(p + 8))
        return SL_ECHECKSUM;
    uint32_t blen = sl_get_u32be(p + 4) & ~SL_ENTRY_KAFKA;
    if (blen < SL_BATCH_HDR || blen > max_batch)
        return SL_ECORRUPT;
    *part_id = sl_get_u32be(p);
    *entry_len = blen + SL_ENTRY_HDR;
    return 0;
}

/* Checks the RecordBatch at b (blen bytes, blen >= SL_BATCH_HDR) and fills
 * *e, without walking the records. kafka: a Kafka batch (its producer
 * fields are Kafka's; any known codec). */
static int check_batch(const uint8_t *b, uint32_t blen, int kafka,
                       sl_entry_t *e) {
    if (sl_get_u32be(b + 8) != blen - 12 || b[16] != 2)
        return SL_ECORRUPT;
    if (sl_crc32c(0, b + 21, blen - 21) != sl_get_u32be(b + 17))
        return SL_ECHECKSUM;
    e->batch_len = blen;
    e->base_offset = sl_get_u64be(b);
    e->attributes = sl_get_u16be(b + 21);
    uint32_t last_delta = sl_get_u32be(b + 23);
    e->base_ts = (int64_t)sl_get_u64be(b + 27);
    e->max_ts = (int64_t)sl_get_u64be(b + 35);
    uint64_t pid_field = sl_get_u64be(b + 43);
    e->kafka = kafka;
    e->seq = 0;
    e->producer_epoch = (int16_t)sl_get_u16be(b + 51);
    e->base_seq = (int32_t)sl_get_u32be(b + 53);
    if (kafka) {
        e->producer_id = (int64_t)pid_field;
    } else if ((int64_t)pid_field < 0) {
        e->producer_id = SL_NO_PRODUCER;
    } else {
        e->producer_id = (int64_t)(pid_field & SL_PRODUCER_MAX);
        e->seq = (pid_field >> 48) << 48 |
                 (uint64_t)sl_get_u16be(b + 51) << 32 | sl_get_u32be(b + 53);
    }
    e->count = sl_get_u32be(b + 57);
    int codec = e->attributes & SL_BATCH_ATTR_CODEC;
    if (kafka ? codec > SL_CODEC_ZSTD : codec != SL_CODEC_NONE)
        return SL_EUNSUPPORTED;
    if (e->count == 0 || e->count > 0x7FFFFFFF || last_delta + 1 != e->count)
        return SL_ECORRUPT;
    e->records = b + SL_BATCH_HDR;
    e->end = b + blen;
    return 0;
}

/* Walks the records of a checked entry: they must parse to the end with
 * offset deltas 0, 1, ..., count - 1. */
static int walk(const sl_entry_t *e, sl_buf_t *scratch, size_t max) {
    sl_record_iter_t it;
    int rc = sl_record_iter_open(&it, e, scratch, max);
    if (rc != 0)
        return rc;
    sl_record_t rec;
    uint32_t seen = 0;
    while ((rc = sl_record_next(&it, &rec)) == 1) {
        if (rec.offset != e->base_offset + seen)
            return SL_ECORRUPT;
        seen++;
    }
    if (rc < 0)
        return rc;
    return seen == e->count ? 0 : SL_ECORRUPT;
}

/* Checks an entry whose 12-byte header is at h and whose batch is at b
 * (contiguous or not). */
static int check(const uint8_t *h, const uint8_t *b, size_t entry_len,
                 sl_entry_t *e, int walk_records) {
    if (entry_len < SL_ENTRY_MIN)
        return SL_ETRUNC;
    if (sl_crc32c(0, h, 8) != sl_get_u32be(h + 8))
        return SL_ECHECKSUM;
    uint32_t word = sl_get_u32be(h + 4);
    uint32_t blen = word & ~SL_ENTRY_KAFKA;
    if ((size_t)blen + SL_ENTRY_HDR != entry_len)
        return SL_ECORRUPT;
    if (sl_get_u32be(b + 12) != 0)
        return SL_ECORRUPT;
    int err = check_batch(b, blen, (word & SL_ENTRY_KAFKA) != 0, e);
    if (err != 0)
        return err;
    e->part_id = sl_get_u32be(h);
    if (!walk_records || (e->attributes & SL_BATCH_ATTR_CODEC) != 0)
        return 0;
    return walk(e, NULL, 0);
}

int sl_record_check_split(const uint8_t *hdr, const uint8_t *batch,
                          size_t entry_len, sl_entry_t *e) {
    return check(hdr, batch, entry_len, e, 0);
}

int sl_record_kafka_check(const uint8_t *batch, size_t len, sl_buf_t *scratch,
                          size_t max_inflated, sl_entry_t *e) {
    if (len < SL_BATCH_HDR || len > 0x7FFFFFFF)
        return SL_ECORRUPT;
    int err = check_batch(batch, (uint32_t)len, 1, e);
    if (err != 0)
        return err;
    if (e->attributes & (SL_BATCH_ATTR_TRANSACTIONAL | SL_BATCH_ATTR_CONTROL))
        return SL_EPROTO;
    e->part_id = 0;
    err = walk(e, scratch, max_inflated);
    return err == SL_ECORRUPT ? SL_EINVAL : err;
}

int sl_record_encode_kafka(sl_buf_t *out, uint32_t part_id,
                           uint64_t base_offset, const uint8_t *batch,
                           size_t len) {
    if (len < SL_BATCH_HDR || len > 0x7FFFFFFF)
        return SL_EINVAL;
    uint8_t *p = sl_buf_extend(out, SL_ENTRY_HDR + len);
    if (p == NULL)
        return SL_ENOMEM;
    sl_put_u32be(p, part_id);
    sl_put_u32be(p + 4, (uint32_t)len | SL_ENTRY_KAFKA);
    sl_put_u32be(p + 8, sl_crc32c(0, p, 8));
    memcpy(p + SL_ENTRY_HDR, batch, len);
    sl_put_u64be(p + SL_ENTRY_HDR, base_offset);
    sl_put_u32be(p + SL_ENTRY_HDR + 12, 0);
    return 0;
}

int sl_record_verify(const uint8_t *p, size_t entry_len, sl_entry_t *e) {
    return check(p, p + SL_ENTRY_HDR, entry_len, e, 1);
}

int sl_record_check(const uint8_t *p, size_t entry_len, sl_entry_t *e) {
    return check(p, p + SL_ENTRY_HDR, entry_len, e, 0);
}

void sl_record_iter_init(sl_record_iter_t *it, const sl_entry_t *e) {
    it->p = e->records;
    it->end = e->end;
    it->base_offset = e->base_offset;
    it->base_ts = e->base_ts;
}

int sl_record_iter_open(sl_record_iter_t *it, const sl_entry_t *e,
                        sl_buf_t *scratch, size_t max) {
    sl_record_iter_init(it, e);
    int codec = e->attributes & SL_BATCH_ATTR_CODEC;
    if (codec == SL_CODEC_NONE)
        return 0;
    if (scratch == NULL)
        return SL_EUNSUPPORTED;
    sl_buf_reset(scratch);
    int err = sl_record_inflate(codec, e->records,
                                (size_t)(e->end - e->records), scratch, max);
    if (err != 0)
        return err;
    it->p = scratch->data;
    it->end = scratch->data + scratch->len;
    return 0;
}

/* Reads a zig-zag varint at rd as sl_rd_varint does: values of up to
 * three bytes inline (every field of a record up to about 8 KiB in a
 * batch of up to about a million records), longer ones through
 * sl_rd_varint. sl_record_next runs once per record a Kafka producer
 * sends, and a call per field was a quarter of the broker's CPU on the
 * produce path (docs/performance.md, session 10). */
static inline int rd_zz(sl_reader_t *rd, int64_t *v) {
    const uint8_t *p = rd->p;
    uint64_t u;
    if (rd->end - p >= 3) {
        if (p[0] < 0x80) {
            u = p[0];
            rd->p = p + 1;
        } else if (p[1] < 0x80) {
            u = (uint64_t)(p[0] & 0x7F) | (uint64_t)p[1] << 7;
            rd->p = p + 2;
        } else if (p[2] < 0x80) {
            u = (uint64_t)(p[0] & 0x7F) | (uint64_t)(p[1] & 0x7F) << 7 |
                (uint64_t)p[2] << 14;
            rd->p = p + 3;
        } else {
            return sl_rd_varint(rd, v);
        }
    } else {
        return sl_rd_varint(rd, v);
    }
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int sl_record_next(sl_record_iter_t *it, sl_record_t *rec) {
    if (it->p >= it->end)
        return 0;
    sl_reader_t rd;
    sl_reader_init(&rd, it->p, (size_t)(it->end - it->p));
    int64_t len, tsd, offd, klen, vlen, nh;
    uint8_t attr;
    if (rd_zz(&rd, &len) != 0 || len < 6 || (uint64_t)len > sl_reader_left(&rd))
        return SL_ECORRUPT;
    const uint8_t *rend = rd.p + len;
    rd.end = rend;
    if (sl_rd_u8(&rd, &attr) != 0 || rd_zz(&rd, &tsd) != 0 ||
        rd_zz(&rd, &offd) != 0 || rd_zz(&rd, &klen) != 0)
        return SL_ECORRUPT;
    if (offd < 0 || offd > 0x7FFFFFFF)
        return SL_ECORRUPT;
    rec->key = NULL;
    rec->key_len = 0;
    if (klen >= 0) {
        if ((uint64_t)klen > sl_reader_left(&rd))
            return SL_ECORRUPT;
        rec->key = rd.p;
        rec->key_len = (size_t)klen;
        rd.p += klen;
    } else if (klen != -1) {
        return SL_ECORRUPT;
    }
    if (rd_zz(&rd, &vlen) != 0)
        return SL_ECORRUPT;
    rec->value = NULL;
    rec->value_len = 0;
    if (vlen >= 0) {
        if ((uint64_t)vlen > sl_reader_left(&rd))
            return SL_ECORRUPT;
        rec->value = rd.p;
        rec->value_len = (size_t)vlen;
        rd.p += vlen;
    } else if (vlen != -1) {
        return SL_ECORRUPT;
    }
    /* Headers are checked and handed over encoded: sluice writes none, a
     * Kafka producer may. */
    if (rd_zz(&rd, &nh) != 0 || nh < 0 || nh > 0x7FFFFFFF)
        return SL_ECORRUPT;
    rec->headers = rd.p;
    rec->nheaders = (uint32_t)nh;
    for (int64_t h = 0; h < nh; h++) {
        int64_t hk, hv;
        if (rd_zz(&rd, &hk) != 0 || hk < 0 ||
            (uint64_t)hk > sl_reader_left(&rd))
            return SL_ECORRUPT;
        rd.p += hk;
        if (rd_zz(&rd, &hv) != 0)
            return SL_ECORRUPT;
        if (hv >= 0) {
            if ((uint64_t)hv > sl_reader_left(&rd))
                return SL_ECORRUPT;
            rd.p += hv;
        } else if (hv != -1) {
            return SL_ECORRUPT;
        }
    }
    if (rd.p != rend)
        return SL_ECORRUPT;
    rec->headers_len = (size_t)(rend - rec->headers);
    rec->offset = it->base_offset + (uint64_t)offd;
    /* Wraps as Kafka's Java longs do: the delta is stored data, and an
     * overflow must not be undefined behaviour (found by
     * fuzz_broker_record). */
    rec->ts = (int64_t)((uint64_t)it->base_ts + (uint64_t)tsd);
    it->p = rend;
    return 1;
}

void sl_record_set_base_offset(uint8_t *entry, uint64_t base_offset) {
    sl_put_u64be(entry + SL_ENTRY_HDR, base_offset);
}
