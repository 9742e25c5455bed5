/*
 * libFuzzer target for broker/record: the entry header, full and quick
 * verification, and record iteration, over the bytes of a commit-log
 * segment.
 *
 * Input: byte 0 holds flags, the rest is a fragment of a segment (entries
 * back to back) walked the way recovery walks a segment:
 * sl_record_header(), then sl_record_verify() on the whole entry.
 *   bit 0: recompute each entry's header CRC before reading it;
 *   bit 1: recompute each entry's batch CRC;
 * so mutations get past the CRCs to the checks behind them.
 *
 * Besides ASan/UBSan's checks it asserts the contract: results are 0 or a
 * documented code; a verified entry also passes the quick check; every
 * record of a checked entry lies inside its batch; a verified entry
 * iterates exactly `count` records with offsets base, base+1, ...; the
 * base offset is outside every CRC (rewriting it keeps the entry valid);
 * and re-encoding the records read (sl_record_encode) gives an entry that
 * verifies and reads back the same partition, offsets, producer, sequence
 * and values and keys. A Kafka batch (bit 31 of the length word) is iterated
 * after decompression when compressed (bounded), and stored again
 * (sl_record_encode_kafka) it verifies with the same fields.
 */
#include "broker/record.h"

#include "buf.h"
#include "bytes.h"
#include "crc32c.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BATCH (1u << 20)

static int known(int rc) {
    return rc == 0 || rc == SL_ETRUNC || rc == SL_ECHECKSUM ||
           rc == SL_ECORRUPT || rc == SL_EUNSUPPORTED;
}

/* Iterates a checked entry; returns the records seen, or -1 on an error
 * (after checking every record read lies inside the batch). */
static sl_buf_t scratch;

static long walk(const sl_entry_t *e, sl_msg_t *vals, size_t nvals,
                 int *offsets_ok) {
    sl_record_iter_t it;
    *offsets_ok = 1;
    int rc = sl_record_iter_open(&it, e, &scratch, 1u << 22);
    if (rc != 0) {
        if (rc != SL_ECORRUPT && rc != SL_ETOOBIG && rc != SL_ENOMEM)
            abort();
        return -1;
    }
    /* Records lie in the batch, or in the decompressed bytes. */
    const uint8_t *lo = it.p, *hi = it.end;
    sl_record_t rec;
    long n = 0;
    while ((rc = sl_record_next(&it, &rec)) == 1) {
        if (rec.key != NULL && (rec.key < lo || rec.key + rec.key_len > hi))
            abort();
        if (rec.value != NULL &&
            (rec.value < lo || rec.value + rec.value_len > hi))
            abort();
        if (rec.offset != e->base_offset + (uint64_t)n)
            *offsets_ok = 0;
        if ((size_t)n < nvals) {
            vals[n].data = rec.value;
            vals[n].len = rec.value_len;
            vals[n].key = rec.key;
            vals[n].key_len = rec.key_len;
        }
        n++;
    }
    if (rc < 0) {
        if (rc != SL_ECORRUPT)
            abort();
        return -1;
    }
    return n;
}

/* A Kafka batch stored again at another offset verifies with the same
 * fields. */
static void restore_kafka(const uint8_t *p, size_t elen, const sl_entry_t *e) {
    sl_buf_t out = SL_BUF_INIT;
    if (sl_record_encode_kafka(&out, e->part_id, e->base_offset + 1,
                               p + SL_ENTRY_HDR, elen - SL_ENTRY_HDR) != 0)
        abort();
    sl_entry_t e2;
    if (sl_record_verify(out.data, out.len, &e2) != 0 || !e2.kafka ||
        e2.base_offset != e->base_offset + 1 || e2.count != e->count ||
        e2.producer_id != e->producer_id || e2.base_seq != e->base_seq ||
        e2.producer_epoch != e->producer_epoch)
        abort();
    sl_buf_free(&out);
}

static void reencode(const sl_entry_t *e, const sl_msg_t *vals) {
    sl_buf_t out = SL_BUF_INIT;
    int rc = sl_record_encode(&out, e->part_id, e->base_offset, e->max_ts,
                              e->producer_id, e->producer_id < 0 ? 0 : e->seq,
                              vals, e->count);
    if (rc == SL_ENOMEM || rc == SL_ETOOBIG) {
        sl_buf_free(&out);
        return;
    }
    if (rc != 0)
        abort(); /* Fields read from a valid entry must encode. */
    sl_entry_t e2;
    if (sl_record_verify(out.data, out.len, &e2) != 0)
        abort();
    if (e2.part_id != e->part_id || e2.base_offset != e->base_offset ||
        e2.count != e->count || e2.producer_id != e->producer_id ||
        e2.seq != e->seq || e2.max_ts != e->max_ts)
        abort();
    sl_record_iter_t it;
    sl_record_iter_init(&it, &e2);
    sl_record_t rec;
    for (uint32_t i = 0; i < e2.count; i++) {
        /* Keys round-trip: null stays null, bytes stay the bytes. */
        if (sl_record_next(&it, &rec) != 1 ||
            (rec.key == NULL) != (vals[i].key == NULL) ||
            rec.key_len != vals[i].key_len ||
            (rec.key_len > 0 &&
             memcmp(rec.key, vals[i].key, rec.key_len) != 0) ||
            rec.value_len != vals[i].len ||
            (vals[i].len > 0 &&
             memcmp(rec.value, vals[i].data, vals[i].len) != 0))
            abort();
    }
    if (sl_record_next(&it, &rec) != 0)
        abort();
    sl_buf_free(&out);
}

static void one_entry(uint8_t *p, size_t elen) {
    sl_entry_t ev, ec;
    int v = sl_record_verify(p, elen, &ev);
    int c = sl_record_check(p, elen, &ec);
    if (!known(v) || !known(c))
        abort();
    if (v == 0 && c != 0)
        abort();
    if (c != 0)
        return;
    if (ec.records != p + SL_ENTRY_MIN || ec.end != p + elen || ec.count == 0 ||
        ec.batch_len + SL_ENTRY_HDR != elen)
        abort();
    /* Every record takes at least 7 bytes, so this bounds the array. */
    size_t nvals = ec.count < elen / 7 + 1 ? ec.count : elen / 7 + 1;
    sl_msg_t *vals = calloc(nvals ? nvals : 1, sizeof *vals);
    if (vals == NULL)
        return;
    int offsets_ok;
    long n = walk(&ec, vals, nvals, &offsets_ok);
    if (v == 0) {
        /* A compressed Kafka batch's records are checked when it is
         * produced, not by verification (the CRC vouches for them). */
        int compressed = ev.kafka && (ev.attributes & SL_BATCH_ATTR_CODEC);
        if (n != (long)ec.count && !compressed)
            abort();
        if (ev.base_offset != ec.base_offset || ev.count != ec.count)
            abort();
        /* The base offset is outside every CRC: the broker stamps it. */
        uint64_t old = ev.base_offset;
        sl_record_set_base_offset(p, old ^ 0x5A5A5A5Au);
        sl_entry_t e3;
        if (sl_record_verify(p, elen, &e3) != 0 ||
            e3.base_offset != (old ^ 0x5A5A5A5Au))
            abort();
        sl_record_set_base_offset(p, old);
        if (ev.kafka)
            restore_kafka(p, elen, &ev);
        else if (ev.count <= nvals)
            reencode(&ev, vals);
    } else if (n == (long)ec.count && offsets_ok) {
        /* The quick check passed and the records read fine: the full
         * verification has no reason left to refuse the entry. */
        abort();
    }
    free(vals);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    /* A private, exact-size copy: ASan catches any read past the end. */
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, len);
    size_t pos = 0;
    while (pos < len) {
        uint8_t *p = buf + pos;
        size_t left = len - pos;
        if ((flags & 1) && left >= SL_ENTRY_HDR)
            sl_put_u32be(p + 8, sl_crc32c(0, p, 8));
        uint32_t part_id, elen;
        int rc = sl_record_header(p, left, MAX_BATCH, &part_id, &elen);
        if (!known(rc))
            abort();
        if (rc != 0)
            break;
        if (elen < SL_ENTRY_MIN || elen > MAX_BATCH + SL_ENTRY_HDR ||
            part_id != sl_get_u32be(p))
            abort();
        if (elen > left)
            break; /* Torn: the fragment ends inside the entry. */
        if ((flags & 2) && elen >= SL_ENTRY_MIN) {
            uint8_t *b = p + SL_ENTRY_HDR;
            uint32_t blen = elen - SL_ENTRY_HDR;
            sl_put_u32be(b + 17, sl_crc32c(0, b + 21, blen - 21));
        }
        one_entry(p, elen);
        pos += elen;
    }
    free(buf);
    return 0;
}
