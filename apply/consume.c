/*
 * The apply consumer (contract in apply/consume.h).
 *
 * One worker thread per --workers, each with its own broker connection and
 * its own sinks. A worker visits its partitions in turn; for each it
 * fetches from the partition's position, classifies every event (where
 * source transactions end) and feeds the sinks:
 *
 *   MySQL   rows go into an open target transaction (a "group"); at a
 *           source-transaction boundary the group is committed together
 *           with its offsets row when it holds group_rows rows, when the
 *           partition is caught up (the fetch reached the broker's end),
 *           or when stopping. A group
 *           never ends inside a source transaction.
 *   caches  the keys of each row are collected; they are deleted after the
 *           target commit covering them (or, without a target, after each
 *           fetch), then the broker group offset is committed.
 *
 * A transient sink failure rolls the group back and rewinds the partition
 * to its last committed position; a permanent one stops the partition
 * (logged with the sink's message naming offset and row).
 *
 * The main thread runs sl_consume_run() below; its partition discovery
 * is in apply/assign.c and its stats report in apply/report.c (the files
 * of this module are listed in apply/internal.h).
 */
#include "apply/consume.h"

#include "apply/internal.h"
#include "apply/metrics.h"
#include "config.h"
#include "error.h"
#include "json.h"
#include "jsonread.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void part_fail(sl__part_t *p, const char *why) {
    char q[1100];
    snprintf(p->error, sizeof p->error, "%s", why);
    p->stopped = 1;
    if (p->sink != NULL)
        sl_mysql_sink_abort(p->sink);
    p->group_open = 0;
    sl_log_error("partition stopped", "part=%s error=%s", p->name,
                 sl_log_quote(why, q, sizeof q));
}

static int skipped(const sl__part_t *p, uint64_t off) {
    for (size_t i = 0; i < p->nskip; i++)
        if (p->skip[i] == off)
            return 1;
    return 0;
}

static void rewind_part(sl__worker_t *w, sl__part_t *p, int wait);

/* Broker failures that pass (a broken connection, a malformed reply, an
 * overloaded broker, a full disk: 507): retried, never a reason to stop
 * a partition or drop an event. */
static int broker_transient(int rc) {
    return rc == SL_ECLOSED || rc == SL_ETIMEDOUT || rc == SL_ECONN ||
           rc == SL_EIO || rc == SL_ESYS || rc == SL_EAGAIN ||
           rc == SL_EPROTO || rc == SL_ENOSPC;
}

/* The dead-letter topic cannot take the event now: the partition rolls
 * back and the event is tried again after a pause (1 s), as often as it
 * takes; it is never skipped. Returns 1 (handled). */
static int dead_letter_later(sl__worker_t *w, sl__part_t *p, uint64_t off) {
    sl_log_warn("dead-letter put must wait; retrying",
                "part=%s offset=%llu error=\"%s\"", p->name,
                (unsigned long long)off, sl_stream_error(w->cl));
    rewind_part(w, p, 0);
    sl_sleep_ms(1000, w->c->hard);
    return 1;
}

/*
 * Moves the message at off to the dead-letter topic (when configured) and
 * marks it skipped; the caller then rewinds the partition so the group is
 * redone without it. The put is idempotent (producer = the group and
 * topic, below 2^48 as the protocol requires; sequence = offset + 1), so
 * a crash before the group commits and the same failure after the restart
 * store it once. Returns 1 when the
 * event was dead-lettered, 0 when the partition must stop instead.
 */
static int dead_letter(sl__worker_t *w, sl__part_t *p, uint64_t off,
                       const char *why) {
    sl__consume_t *c = w->c;
    if (c->o.dead_letter == NULL || off == UINT64_MAX)
        return 0;
    sl_stream_fetch_t f;
    memset(&f, 0, sizeof f);
    int rc = sl_stream_get(w->cl, c->o.topic, p->name, off, 1, 0, &f);
    if (rc != 0 && broker_transient(rc))
        return dead_letter_later(w, p, off);
    if (rc != 0 || f.count < 1 || f.recs[0].offset != off)
        return 0;
    sl_buf_t out = SL_BUF_INIT;
    sl_json_t js;
    sl_json_init(&js, &out);
    sl_json_obj_begin(&js);
    sl_json_key(&js, "topic");
    sl_json_str(&js, c->o.topic);
    sl_json_key(&js, "partition");
    sl_json_str(&js, p->name);
    sl_json_key(&js, "offset");
    sl_json_uint(&js, off);
    sl_json_key(&js, "group");
    sl_json_str(&js, c->o.group);
    sl_json_key(&js, "error");
    sl_json_str(&js, why);
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    if (sl_jr_parse(&doc, (const char *)f.recs[0].data, f.recs[0].len) == 0) {
        sl_json_key(&js, "event");
        sl_json_raw(&js, (const char *)f.recs[0].data, f.recs[0].len);
    } else {
        sl_json_key(&js, "event_base64");
        sl_json_base64(&js, f.recs[0].data, f.recs[0].len);
    }
    sl_jr_free(&doc);
    sl_json_obj_end(&js);
    uint64_t h = 1469598103934665603ull;
    for (const char *q = c->o.group; *q; q++)
        h = (h ^ (uint8_t)*q) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
    for (const char *q = c->o.topic; *q; q++)
        h = (h ^ (uint8_t)*q) * 1099511628211ull;
    uint64_t doff;
    int dup = 0;
    rc = sl_json_error(&js);
    if (rc == 0)
        rc = sl_stream_put(w->cl, c->o.dead_letter, p->name, out.data, out.len,
                           (int64_t)(h & 0xFFFFFFFFFFFFull), off + 1, &doff,
                           &dup);
    sl_buf_free(&out);
    if (rc != 0 && broker_transient(rc))
        return dead_letter_later(w, p, off);
    if (rc != 0) {
        sl_log_error("dead-letter put failed", "part=%s offset=%llu error=%s",
                     p->name, (unsigned long long)off, sl_strerror(rc));
        return 0;
    }
    if (p->nskip == p->capskip) {
        size_t nc = p->capskip ? p->capskip * 2 : 16;
        uint64_t *ns = realloc(p->skip, nc * sizeof *ns);
        if (ns == NULL)
            return 0;
        p->skip = ns;
        p->capskip = nc;
    }
    p->skip[p->nskip++] = off;
    p->dead_lettered++;
    char q[1100];
    sl_log_warn("event moved to the dead-letter topic",
                "part=%s offset=%llu dead_letter=%s error=%s", p->name,
                (unsigned long long)off, c->o.dead_letter,
                sl_log_quote(why, q, sizeof q));
    rewind_part(w, p, 0);
    return 1;
}

/* A permanent failure of the message at off: dead-letter it, or stop. */
static void fail_at(sl__worker_t *w, sl__part_t *p, uint64_t off,
                    const char *why) {
    if (!dead_letter(w, p, off, why))
        part_fail(p, why);
}

/* A worker's broker connection (commits or fetches), with the worker
 * timeouts. */
static int broker_connect(const sl__consume_t *c, sl_stream_t **out) {
    sl_stream_opts_t co = {.secret = c->o.secret,
                           .connect_timeout_ms = 3000,
                           .io_timeout_ms = 30000,
                           .retry_ms = 3000,
                           .props = c->o.props,
                           .tls = c->o.broker_tls};
    return sl_stream_open(c->o.broker, &co, out);
}

/* Connects the worker's broker client, retrying until hard stop. */
static int worker_connect(sl__worker_t *w) {
    sl__consume_t *c = w->c;
    while (w->cl == NULL) {
        int rc = broker_connect(c, &w->cl);
        if (rc == 0)
            break;
        w->cl = NULL;
        if (w->bo.attempts % 10 == 0)
            sl_log_warn("broker unavailable; retrying", "broker=%s error=%s",
                        c->o.broker, sl_strerror(rc));
        if (sl_backoff_sleep(&w->bo, c->hard))
            return SL_ESTOPPED;
    }
    sl_backoff_reset(&w->bo);
    return 0;
}

static int start_offset(sl__worker_t *w, sl__part_t *p, uint64_t *off) {
    uint64_t earliest, latest;
    int rc =
        sl_stream_offsets(w->cl, w->c->o.topic, p->name, &earliest, &latest);
    if (rc != 0)
        return rc;
    *off = w->c->o.start_latest ? latest : earliest;
    return 0;
}

/* Connects fetch connection k when it is not. */
static int fetch_client(sl__worker_t *w, int k) {
    if (w->fcl[k] != NULL)
        return 0;
    int rc = broker_connect(w->c, &w->fcl[k]);
    if (rc != 0)
        w->fcl[k] = NULL;
    return rc;
}

/* Reads (and drops) the reply of the get sent ahead. */
static void drop_pending(sl__worker_t *w) {
    sl_stream_fetch_t junk;
    if (w->pend_p != NULL)
        (void)sl_stream_get_recv(w->fcl[w->pend_k], &junk);
    w->pend_p = NULL;
}

/* Fetches p from p->pos: the reply of the get sent ahead when it is for
 * exactly that, else a new get on a connection that is not busy. The data
 * stays valid until the next fetch_part(). */
static int fetch_part(sl__worker_t *w, sl__part_t *p, uint64_t wait,
                      sl_stream_fetch_t *f) {
    sl__consume_t *c = w->c;
    if (w->pend_p != NULL && w->pend_p->stopped)
        drop_pending(w);
    if (w->pend_p == p) {
        if (w->pend_off == p->pos) {
            int k = w->pend_k;
            w->pend_p = NULL;
            int rc = sl_stream_get_recv(w->fcl[k], f);
            w->fcur = k;
            if (rc != SL_ECLOSED && rc != SL_ETIMEDOUT && rc != SL_ECONN &&
                rc != SL_EIO && rc != SL_ESYS)
                return rc;
            /* The connection broke: fetch again below. */
        } else {
            drop_pending(w); /* The partition was rewound. */
        }
    }
    int k = w->pend_p != NULL ? w->pend_k ^ 1 : w->fcur;
    int rc = fetch_client(w, k);
    if (rc != 0)
        return rc;
    w->fcur = k;
    memset(f, 0, sizeof *f);
    return sl_stream_get(w->fcl[k], c->o.topic, p->name, p->pos,
                         c->o.fetch_bytes, wait, f);
}

/* When the broker holds more of p than f brought, asks for the next part
 * on the other connection before f is applied. */
static void prefetch(sl__worker_t *w, sl__part_t *p,
                     const sl_stream_fetch_t *f) {
    if (w->pend_p != NULL || f->count == 0 || f->latest <= f->next ||
        *w->c->soft ||
        (w->fcl[w->fcur] != NULL &&
         (sl_stream_caps(w->fcl[w->fcur]) & SL_STREAM_CAP_PREFETCH)))
        return;
    int k = w->fcur ^ 1;
    if (fetch_client(w, k) != 0)
        return;
    if (sl_stream_get_send(w->fcl[k], w->c->o.topic, p->name, f->next,
                           w->c->o.fetch_bytes) == 0) {
        w->pend_p = p;
        w->pend_k = k;
        w->pend_off = f->next;
    }
}

/* Finds where the partition stands. */
static int resume(sl__worker_t *w, sl__part_t *p) {
    sl__consume_t *c = w->c;
    int rc;
    if (c->o.mysql != NULL) {
        if (p->sink == NULL) {
            rc = sl_mysql_sink_new(c->o.mysql, p->name, &p->sink);
            if (rc != 0)
                return rc;
        }
        rc = sl_mysql_sink_resume(p->sink, &p->db_next, &p->db_found, c->hard);
        if (rc != 0) {
            if (rc != SL_ESTOPPED)
                part_fail(p, sl_mysql_sink_error(p->sink));
            return rc;
        }
        if (!p->db_found) {
            uint64_t start;
            rc = start_offset(w, p, &start);
            if (rc != 0)
                return rc;
            rc = sl_mysql_sink_claim(p->sink, start, &p->db_next, c->hard);
            if (rc != 0) {
                if (rc != SL_ESTOPPED)
                    part_fail(p, sl_mysql_sink_error(p->sink));
                return rc;
            }
            p->db_found = 1;
        }
    }
    if (c->o.redis != NULL || c->o.memcached != NULL) {
        rc = sl_stream_committed(w->cl, c->o.group, c->o.topic, p->name,
                                 &p->cache_next);
        if (rc == SL_ENOTFOUND) {
            if (c->o.mysql != NULL)
                p->cache_next = p->db_next;
            else if ((rc = start_offset(w, p, &p->cache_next)) != 0)
                return rc;
        } else if (rc != 0) {
            return rc;
        }
        if (c->o.mysql != NULL && p->cache_next > p->db_next)
            p->cache_next = p->db_next;
    }
    if (c->o.mysql != NULL && (c->o.redis == NULL && c->o.memcached == NULL))
        p->pos = p->db_next;
    else if (c->o.mysql == NULL)
        p->pos = p->cache_next;
    else
        p->pos = p->cache_next < p->db_next ? p->cache_next : p->db_next;
    p->applied_next = p->pos;
    p->resumed = 1;
    sl_log_info("partition resumed", "part=%s worker=%u offset=%llu%s", p->name,
                w->idx, (unsigned long long)p->pos,
                c->o.mysql && p->db_found ? " from=sluice_offsets" : "");
    return 0;
}

/* Deletes the collected keys and commits the broker group offset. */
static int flush_keys(sl__worker_t *w, sl__part_t *p, uint64_t upto) {
    sl__consume_t *c = w->c;
    int rc = 0;
    if (p->keys.count > 0) {
        /* A cache that is down is retried until it is back, but not past
         * a stop request: the broker offset is then not committed and the
         * keys are deleted by the next run (at least once). */
        if (w->rs != NULL)
            rc = sl_redis_sink_delete(w->rs, &p->keys, c->soft);
        if (rc == 0 && w->mc != NULL)
            rc = sl_mc_sink_delete(w->mc, &p->keys, c->soft);
        if (rc == SL_EINVAL) {
            part_fail(p, "a key cannot be sent to memcached (see the "
                         "previous log line)");
            return rc;
        }
        if (rc != 0)
            return rc;
        p->invalidated += p->keys.count;
        sl_keylist_reset(&p->keys);
    }
    if (upto > p->cache_next) {
        rc = sl_stream_commit(w->cl, c->o.group, c->o.topic, p->name, upto);
        if (rc != 0)
            return rc;
        p->cache_next = upto;
        p->last_broker_commit_ms = sl__consume_now_ms();
    }
    return 0;
}

/* After a transient failure: roll back and start again from the last
 * committed position. */
static void rewind_part(sl__worker_t *w, sl__part_t *p, int wait) {
    if (p->sink != NULL) {
        sl_mysql_sink_abort(p->sink);
        if (wait && !sl_mysql_sink_careful(p->sink))
            sl_mysql_sink_wait(p->sink, w->c->hard);
    }
    p->group_open = 0;
    p->group_trx = p->group_rows = p->group_outside = 0;
    p->group_kind = 0;
    memset(&p->tt, 0, sizeof p->tt);
    sl_keylist_reset(&p->keys);
    uint64_t pos = p->db_next;
    if (w->c->o.mysql == NULL ||
        ((w->c->o.redis || w->c->o.memcached) && p->cache_next < pos))
        pos = p->cache_next;
    p->pos = pos;
}

/* Handles a sink result; returns 1 when processing of the fetch must stop. */
static int sink_result(sl__worker_t *w, sl__part_t *p, int rc) {
    if (rc == 0)
        return 0;
    if (rc == SL_EAGAIN) {
        char q[1100];
        sl_log_warn("target transaction redone", "part=%s reason=%s", p->name,
                    sl_log_quote(sl_mysql_sink_error(p->sink), q, sizeof q));
        rewind_part(w, p, 1);
        return 1;
    }
    if (rc == SL_ESTOPPED) {
        rewind_part(w, p, 0);
        return 1;
    }
    if (p->sink != NULL && rc == SL_EDB &&
        !sl_mysql_sink_failed_drift(p->sink)) {
        char why[1024];
        snprintf(why, sizeof why, "%s", sl_mysql_sink_error(p->sink));
        sl_mysql_sink_abort(p->sink);
        fail_at(w, p, sl_mysql_sink_failed_offset(p->sink), why);
        return 1;
    }
    part_fail(p, p->sink ? sl_mysql_sink_error(p->sink) : sl_strerror(rc));
    if (p->sink != NULL)
        sl_mysql_sink_abort(p->sink);
    return 1;
}

static int commit_group(sl__worker_t *w, sl__part_t *p, uint64_t end) {
    sl__consume_t *c = w->c;
    /* Snapshot rows and markers are units, not source transactions. */
    uint64_t ntrx = p->group_trx - p->group_outside;
    int rc = sl_mysql_sink_commit(p->sink, end, ntrx, p->last_trx, c->hard);
    if (sink_result(w, p, rc))
        return 1;
    p->trx += ntrx;
    p->group_open = 0;
    p->group_trx = p->group_rows = p->group_outside = 0;
    p->group_kind = 0;
    p->db_next = end;
    p->db_found = 1;
    p->applied_next = end;
    if (c->o.redis != NULL || c->o.memcached != NULL) {
        rc = flush_keys(w, p, end);
        if (rc != 0) {
            if (!p->stopped)
                rewind_part(w, p, 0);
            return 1;
        }
    } else if (sl__consume_now_ms() - p->last_broker_commit_ms >= 1000) {
        /* For `sluice offsets --group` and lag tools only: the target's
         * sluice_offsets row is the position of record. */
        if (sl_stream_commit(w->cl, c->o.group, c->o.topic, p->name, end) == 0)
            p->last_broker_commit_ms = sl__consume_now_ms();
    }
    return 0;
}

/* Notes the event's transaction id (token id) and source timestamp. */
static void copy_trx_id(sl__part_t *p, const sl_jr_doc_t *doc, uint32_t id,
                        const sl_event_t *ev) {
    if (id == SL_JR_NONE || sl_jr_type(doc, id) != SL_JR_STRING)
        return;
    size_t n;
    const char *raw = sl_jr_raw(doc, id, &n);
    if (n >= sizeof p->last_trx)
        n = sizeof p->last_trx - 1;
    memcpy(p->last_trx, raw, n);
    p->last_trx[n] = '\0';
    uint32_t src = ev->src;
    uint32_t ts = src != SL_JR_NONE ? sl_jr_get(doc, src, "ts") : SL_JR_NONE;
    int64_t t;
    if (ts != SL_JR_NONE && sl_jr_i64(doc, ts, &t) == 0)
        p->src_ts = t;
}

/* Follows the source transaction left open by the event at off (b: its
 * boundary class, was_open: whether one was open before it), for the
 * open-transaction warning and stats. */
static void note_open_trx(sl__part_t *p, uint64_t off, int was_open, int b,
                          sl_change_kind_t kind, size_t len) {
    if (!p->tt.open) {
        p->otrx_first = UINT64_MAX;
        return;
    }
    if (!was_open || (b & SL_TRX_ENDS_BEFORE)) {
        /* A transaction starts here. The same first offset again is the
         * redo after a rewind: the wait goes on. */
        if (off != p->otrx_first) {
            p->otrx_since_ms = sl__consume_now_ms();
            p->otrx_warned_ms = 0;
        }
        p->otrx_first = off;
        p->otrx_rows = 0;
        p->otrx_bytes = 0;
        snprintf(p->otrx_id, sizeof p->otrx_id, "%s", p->tt.trx);
    }
    if (kind == SL_CHANGE_ROW)
        p->otrx_rows++;
    p->otrx_bytes += len;
}

/* The open source transaction passed --open-trx-max: its events are held
 * (in the open target transaction, and their cache keys in memory) until
 * its end, so the partition stops instead of holding more. Nothing of it
 * was applied; a restart with a larger bound reads it again. Returns 1
 * when the partition stopped. */
static int open_trx_too_big(sl__worker_t *w, sl__part_t *p) {
    uint64_t max = w->c->o.open_trx_max_bytes;
    if (max == 0 || p->otrx_first == UINT64_MAX || p->otrx_bytes <= max)
        return 0;
    char why[700];
    snprintf(why, sizeof why,
             "source transaction %s (first offset %llu) has %llu rows in "
             "%llu bytes of change events and no end yet, more than "
             "--open-trx-max %llu bytes allows to hold; stopping rather "
             "than hold more (nothing of it was applied): raise "
             "--open-trx-max if the transaction is real, else publish its "
             "end",
             p->otrx_id[0] ? p->otrx_id : "-",
             (unsigned long long)p->otrx_first,
             (unsigned long long)p->otrx_rows,
             (unsigned long long)p->otrx_bytes, (unsigned long long)max);
    part_fail(p, why);
    return 1;
}

/* Warns, every open_trx_warn_ms, about a source transaction that has
 * waited that long for its end: its changes are held (rightly: applying
 * part of a transaction would break atomicity), but an operator must
 * hear of it (a producer that died mid-transaction, a capture bug). */
static void check_open_trx(sl__worker_t *w, sl__part_t *p) {
    const sl__consume_t *c = w->c;
    uint64_t warn = c->o.open_trx_warn_ms;
    if (warn == 0 || p->otrx_first == UINT64_MAX)
        return;
    uint64_t t = sl__consume_now_ms();
    if (t - p->otrx_since_ms < warn ||
        (p->otrx_warned_ms != 0 && t - p->otrx_warned_ms < warn))
        return;
    p->otrx_warned_ms = t;
    p->otrx_warnings++;
    char q[600];
    sl_log_warn(
        "source transaction not ended; its changes are held",
        "part=%s trx=%s first_offset=%llu rows=%llu bytes=%llu waited_s=%llu "
        "next=%llu latest=%llu",
        p->name, sl_log_quote(p->otrx_id[0] ? p->otrx_id : "-", q, sizeof q),
        (unsigned long long)p->otrx_first, (unsigned long long)p->otrx_rows,
        (unsigned long long)p->otrx_bytes,
        (unsigned long long)((t - p->otrx_since_ms) / 1000),
        (unsigned long long)p->applied_next, (unsigned long long)p->latest);
    if (p->group_open && p->group_trx > 0 && p->otrx_first > p->db_next &&
        p->commit_at == UINT64_MAX) {
        /* Source transactions that did end share the target transaction
         * of the open one (a group commits at a boundary once caught up,
         * and the boundary after the open one never comes). Redo the
         * group and commit it where the open transaction starts, so they
         * do not wait with it. */
        sl_log_info("committing the transactions before the open one",
                    "part=%s upto=%llu", p->name,
                    (unsigned long long)p->otrx_first);
        p->commit_at = p->otrx_first;
        rewind_part(w, p, 0);
    }
}

/* Processes one fetched batch of part p. */
static void process(sl__worker_t *w, sl__part_t *p,
                    const sl_stream_fetch_t *f) {
    sl__consume_t *c = w->c;
    int cache = c->o.redis != NULL || c->o.memcached != NULL;
    for (size_t i = 0; i < f->count; i++) {
        const sl_stream_rec_t *rec = &f->recs[i];
        uint64_t off = rec->offset;
        if (off < p->pos)
            continue;
        if (*c->hard)
            return;
        int rc = sl_jr_parse(&w->doc, (const char *)rec->data, rec->len);
        if (rc != 0) {
            char why[400];
            snprintf(why, sizeof why,
                     "offset %llu: not a change event: "
                     "byte %zu: %s",
                     (unsigned long long)off, w->doc.err_pos, w->doc.err);
            if (skipped(p, off)) {
                p->pos = off + 1;
                continue;
            }
            fail_at(w, p, off, why);
            return;
        }
        sl_event_t ev;
        sl_event_index(&w->doc, &ev);
        if (ev.kind == SL_JR_NONE) {
            fail_at(w, p, off,
                    "not a sluice change event (no \"kind\"): sluice-apply "
                    "reads capture's --format sluice only, not debezium, "
                    "maxwell or canal events");
            return;
        }
        /* The transaction id, for the boundaries and the offsets row. */
        uint32_t trx_id = sl__trx_id_of(&w->doc, ev.trx);
        int was_open = p->tt.open;
        int b = sl__trxtrack_at(&p->tt, &w->doc, &ev, trx_id);
        note_open_trx(p, off, was_open, b, ev.kind_id, rec->len);
        if (open_trx_too_big(w, p))
            return;
        int row = ev.kind_id == SL_CHANGE_ROW;
        int replay = c->o.mysql != NULL && c->o.ddl_replay &&
                     off >= p->db_next && ev.kind_id == SL_CHANGE_DDL &&
                     !skipped(p, off);
        int cut = off == p->commit_at;
        if (cut)
            p->commit_at = UINT64_MAX;
        /* Snapshot rows and stream transactions are committed in groups
         * of their own: where one kind of unit follows the other, the
         * group ends (at a boundary, as always). */
        int unit = (b & SL_TRX_OUTSIDE) ? 2 : 1;
        int sw = p->group_open && p->group_kind != 0 && p->group_kind != unit;
        if ((b & SL_TRX_ENDS_BEFORE) && p->group_open) {
            p->group_trx++;
            if ((p->group_rows >= c->o.group_rows || *c->soft || replay ||
                 cut || sw) &&
                commit_group(w, p, off))
                return;
        } else if ((cut || (sw && !was_open)) && p->group_open &&
                   p->group_trx > 0) {
            /* The previous transaction ended with its marker; this event
             * starts the open one (cut), or a unit of the other kind. */
            if (commit_group(w, p, off))
                return;
        }
        if (replay) {
            /* Rows before it are committed; the DDL runs on its own. */
            if (p->group_open && commit_group(w, p, off))
                return;
            rc = sl_mysql_sink_ddl(p->sink, &w->doc, off, c->hard);
            if (sink_result(w, p, rc))
                return;
            p->db_next = off + 1;
            p->db_found = 1;
            p->applied_next = off + 1;
            p->trx++;
            p->pos = off + 1;
            continue;
        }
        if (*c->soft && !p->group_open && (b & SL_TRX_ENDS_BEFORE))
            return;
        int skip = p->nskip > 0 && skipped(p, off);
        if (c->o.mysql != NULL && off >= p->db_next && !skip) {
            if (!p->group_open) {
                /* Stopping: no new target transaction. */
                if (*c->soft)
                    return;
                rc = sl_mysql_sink_begin(p->sink, p->db_next, p->db_found,
                                         c->hard);
                if (sink_result(w, p, rc))
                    return;
                p->group_open = 1;
            }
            rc = sl_mysql_sink_row_ev(p->sink, &w->doc, &ev, off);
            if (sink_result(w, p, rc))
                return;
            p->group_kind = unit;
            if (row) {
                p->group_rows++;
                p->rows++;
            }
            copy_trx_id(p, &w->doc, trx_id, &ev);
        }
        /* Snapshot rows reach the caches only when asked (--warm). */
        if (cache && c->o.keys != NULL && off >= p->cache_next && !skip &&
            (ev.op_id != SL_OP_READ || c->o.warm)) {
            uint32_t db = ev.db;
            uint32_t tb = ev.table;
            if (row && db != SL_JR_NONE && tb != SL_JR_NONE &&
                sl_jr_type(&w->doc, db) == SL_JR_STRING &&
                sl_jr_type(&w->doc, tb) == SL_JR_STRING) {
                size_t dl, tl;
                const char *dr = sl_jr_raw(&w->doc, db, &dl);
                const char *tr = sl_jr_raw(&w->doc, tb, &tl);
                /* Keys use the real names: a name with a '"' or '\\' is
                 * escaped in the event's JSON. */
                sl_buf_t names = SL_BUF_INIT;
                if (sl_jr_tok(&w->doc, db)->escaped ||
                    sl_jr_tok(&w->doc, tb)->escaped) {
                    if (sl_jr_unescape(&w->doc, db, &names) != 0 ||
                        (dl = names.len,
                         sl_jr_unescape(&w->doc, tb, &names) != 0)) {
                        sl_buf_free(&names);
                        part_fail(p, "out of memory");
                        return;
                    }
                    dr = (const char *)names.data;
                    tr = dr + dl;
                    tl = names.len - dl;
                }
                const sl_keytpl_table_t *tt =
                    sl_keytpl_find(c->o.keys, dr, dl, tr, tl);
                if (tt != NULL) {
                    char err[512];
                    rc = sl_keytpl_eval(tt, &w->doc, ev.before, ev.after, dr,
                                        dl, tr, tl, &p->keys, err, sizeof err);
                    sl_buf_free(&names);
                    if (rc != 0) {
                        char why[700];
                        snprintf(why, sizeof why, "offset %llu: %s",
                                 (unsigned long long)off, err);
                        if (p->sink)
                            sl_mysql_sink_abort(p->sink);
                        fail_at(w, p, off, why);
                        return;
                    }
                }
                sl_buf_free(&names);
            }
            if (c->o.mysql == NULL) {
                copy_trx_id(p, &w->doc, trx_id, &ev);
                if (row)
                    p->rows++;
            }
        }
        p->pos = off + 1;
        if ((b & SL_TRX_ENDS_HERE) && p->group_open) {
            p->group_trx++;
            p->group_outside += (b & SL_TRX_OUTSIDE) != 0;
            /* The end of this fetch ends the group only when it is the
             * end of the partition too (caught up); a fetch cut by
             * --fetch-bytes leaves the group open for the next one. */
            int last =
                i + 1 == f->count && (f->latest == 0 || f->next >= f->latest);
            if ((p->group_rows >= c->o.group_rows || last || *c->soft) &&
                commit_group(w, p, off + 1))
                return;
        }
    }
    if (f->next > p->pos && !p->group_open)
        p->pos = f->next;
    if (cache && !p->group_open && !p->stopped) {
        /* Without an open target transaction every processed row is
         * committed (or there is no target): its keys can go. */
        uint64_t upto = p->pos;
        if (c->o.mysql != NULL && upto > p->db_next)
            upto = p->db_next;
        int rc = flush_keys(w, p, upto);
        if (rc != 0 && !p->stopped)
            rewind_part(w, p, 0);
    }
    if (c->o.mysql == NULL)
        p->applied_next = p->cache_next;
}

/* The group took p back (apply/assign.c): its open target transaction is
 * rolled back (the next owner redoes it from sluice_offsets; the keys not
 * yet deleted are deleted again by the next owner, from the group's
 * committed offset), and the worker reads it no more. */
static void release_part(sl__worker_t *w, sl__part_t *p) {
    if (w->pend_p == p)
        drop_pending(w);
    rewind_part(w, p, 0);
    p->resumed = 0;
    pthread_mutex_lock(&w->mu);
    p->owned = 0;
    p->release = 0;
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg) {
    sl__worker_t *w = arg;
    sl__consume_t *c = w->c;
    sl_jr_init(&w->doc);
    sl_backoff_init(&w->bo, 100, 5000);
    if (c->o.redis != NULL &&
        sl_redis_sink_new(c->o.redis, c->o.redis_channel, c->o.redis_password,
                          &w->rs) != 0)
        sl_fatal("bad --redis address", "redis=%s", c->o.redis);
    if (c->o.memcached != NULL &&
        sl_mc_sink_new(c->o.memcached, c->o.nmemcached, &w->mc) != 0)
        sl_fatal("bad --memcached address", "memcached=%s", c->o.memcached[0]);
    if (worker_connect(w) != 0)
        goto out;
    int idle = 0;
    while (!*c->hard) {
        pthread_mutex_lock(&w->mu);
        size_t n = w->nparts;
        pthread_mutex_unlock(&w->mu);
        int any_open = 0;
        for (size_t i = 0; i < n; i++) {
            pthread_mutex_lock(&w->mu);
            sl__part_t *p = w->parts[i];
            pthread_mutex_unlock(&w->mu);
            any_open |= p->group_open;
        }
        if (*c->soft && !any_open)
            break;
        int got = 0;
        for (size_t i = 0; i < n && !*c->hard; i++) {
            pthread_mutex_lock(&w->mu);
            sl__part_t *p = w->parts[i];
            int owned = p->owned;
            pthread_mutex_unlock(&w->mu);
            if (p->release) {
                release_part(w, p);
                continue;
            }
            if (!owned || p->stopped || (*c->soft && !p->group_open))
                continue;
            if (!p->resumed) {
                int rc = resume(w, p);
                if (rc != 0) {
                    if (rc == SL_ECLOSED || rc == SL_ETIMEDOUT ||
                        rc == SL_ECONN)
                        sl_stream_reconnect(w->cl);
                    sl_backoff_sleep(&w->bo, c->hard);
                    continue;
                }
            }
            uint64_t wait = 0;
            if (idle) {
                wait = c->o.poll_ms / (n ? n : 1);
                if (wait < 50)
                    wait = 50;
            }
            /* The target gets what is built before the worker turns to
             * the broker, instead of idling through the fetch. */
            if (p->group_open && p->sink != NULL &&
                sink_result(w, p, sl_mysql_sink_kick(p->sink)))
                continue;
            sl_stream_fetch_t f;
            uint64_t t0 = sl_mono_ns();
            int rc = fetch_part(w, p, wait, &f);
            p->fetch_ns += sl_mono_ns() - t0;
            if (rc == SL_ENOTFOUND)
                continue;
            if (rc == SL_EGONE) {
                char why[300];
                snprintf(why, sizeof why,
                         "offset %llu was deleted by the "
                         "broker's retention (earliest now %llu); changes "
                         "are missing, refusing to skip them",
                         (unsigned long long)p->pos,
                         (unsigned long long)f.earliest);
                part_fail(p, why);
                continue;
            }
            if (rc == SL_ERANGE) {
                char why[300];
                snprintf(why, sizeof why,
                         "offset %llu is beyond the end of "
                         "the partition (latest %llu): the broker lost "
                         "messages this consumer had seen",
                         (unsigned long long)p->pos,
                         (unsigned long long)f.latest);
                part_fail(p, why);
                continue;
            }
            if (rc == SL_EDAMAGED) {
                /* The broker quarantined damaged records here (422): they
                 * are never served and asking again will not bring them
                 * back. Skipping them silently would diverge the target,
                 * so the partition stops and says which offsets; the
                 * operator restores the broker's data or accepts the loss
                 * (sets the position past them). */
                /* The source transactions that ended before the damage
                 * are applied first: at once when the group ends at a
                 * boundary, else by redoing the group up to where the
                 * open (damaged) transaction starts, as for the
                 * open-transaction warning. The 422 comes back after. */
                if (p->group_open && p->group_trx > 0 && p->sink != NULL) {
                    if (!p->tt.open) {
                        if (commit_group(w, p, p->pos))
                            continue;
                    } else if (p->otrx_first != UINT64_MAX &&
                               p->otrx_first > p->db_next &&
                               p->commit_at == UINT64_MAX) {
                        p->commit_at = p->otrx_first;
                        rewind_part(w, p, 0);
                        continue;
                    }
                }
                char why[400];
                snprintf(
                    why, sizeof why,
                    "topic %s partition %s offsets "
                    "%llu-%llu are damaged on the broker (quarantined, "
                    "422) and cannot be read; changes are missing, "
                    "refusing to skip them (the next readable offset "
                    "is %llu)",
                    c->o.topic, p->name, (unsigned long long)p->pos,
                    (unsigned long long)(f.next > p->pos ? f.next - 1 : p->pos),
                    (unsigned long long)f.next);
                part_fail(p, why);
                continue;
            }
            if (rc != 0) {
                sl_log_warn("fetch failed; retrying", "part=%s error=%s",
                            p->name, sl_strerror(rc));
                if (w->fcl[w->fcur] != NULL)
                    sl_stream_reconnect(w->fcl[w->fcur]);
                sl_backoff_sleep(&w->bo, c->hard);
                continue;
            }
            sl_backoff_reset(&w->bo);
            if (f.count > 0)
                got = 1;
            if (f.count == 0 && p->group_open && p->group_trx > 0 &&
                !p->tt.open && p->sink != NULL) {
                /* Nothing at or after p->pos: caught up, although the
                 * last fetch saw latest above its end. That happens when
                 * recovery skipped the partition's next offset ahead (a
                 * hole at the end, docs/broker.md): the group that ended
                 * at a transaction boundary commits now instead of
                 * waiting for the next event. */
                if (commit_group(w, p, p->pos))
                    continue;
            }
            prefetch(w, p, &f);
            process(w, p, &f);
            check_open_trx(w, p);
        }
        idle = !got;
        if (n == 0)
            sl_sleep_ms(200, c->hard);
    }
out:
    /* Open groups are rolled back (hard stop); their rows are redone by
     * the next run from sluice_offsets. */
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i]->sink != NULL && w->parts[i]->group_open)
            sl_mysql_sink_abort(w->parts[i]->sink);
    pthread_mutex_unlock(&w->mu);
    sl_jr_free(&w->doc);
    w->done = 1;
    return NULL;
}

int sl_consume_run(const sl_consume_opts_t *opts, volatile int *soft_stop,
                   volatile int *hard_stop) {
    if (opts->workers == 0 || opts->topic == NULL ||
        (opts->mysql == NULL && opts->redis == NULL && opts->memcached == NULL))
        return SL_EINVAL;
    sl__consume_t c;
    memset(&c, 0, sizeof c);
    c.o = *opts;
    if (c.o.fetch_bytes == 0)
        c.o.fetch_bytes = 1u << 20;
    if (c.o.poll_ms == 0)
        c.o.poll_ms = 1000;
    if (c.o.group_rows == 0)
        c.o.group_rows = 20000;
    if (c.o.stats_ms == 0)
        c.o.stats_ms = 10000;
    if (c.o.discover_ms == 0)
        c.o.discover_ms = 2000;
    c.soft = soft_stop;
    c.hard = hard_stop;
    c.workers = calloc(c.o.workers, sizeof *c.workers);
    if (c.workers == NULL)
        return SL_ENOMEM;
    sl_stream_t *cl = NULL;
    sl_backoff_t bo;
    sl_backoff_init(&bo, 100, 5000);
    while (cl == NULL && !*soft_stop) {
        sl_stream_opts_t co = {.secret = c.o.secret,
                               .retry_ms = 3000,
                               .props = c.o.props,
                               .tls = c.o.broker_tls};
        int rc = sl_stream_open(c.o.broker, &co, &cl);
        if (rc == 0)
            break;
        cl = NULL;
        if (bo.attempts % 10 == 0)
            sl_log_warn("broker unavailable; retrying", "broker=%s error=%s",
                        c.o.broker, sl_strerror(rc));
        if (sl_backoff_sleep(&bo, soft_stop))
            break;
    }
    if (cl != NULL)
        sl__consume_discover(&c, cl);
    for (unsigned i = 0; i < c.o.workers; i++) {
        sl__worker_t *w = &c.workers[i];
        w->idx = i;
        w->c = &c;
        pthread_mutex_init(&w->mu, NULL);
        if (cl != NULL && pthread_create(&w->th, NULL, worker_main, w) == 0)
            w->started = 1;
    }
    uint64_t last_disc = sl__consume_now_ms(),
             last_stats = sl__consume_now_ms();
    while (cl != NULL && !*soft_stop && !*hard_stop) {
        sl_sleep_ms(100, soft_stop);
        uint64_t t = sl__consume_now_ms();
        if (t - last_disc >= c.o.discover_ms) {
            sl__consume_discover(&c, cl);
            last_disc = t;
        }
        sl_apply_metrics_tick(&c, 1);
        if (t - last_stats >= c.o.stats_ms) {
            sl__consume_report(&c, t - last_stats, 0);
            last_stats = t;
        }
    }
    /* Stopping: workers finish their open target transactions, for at
     * most grace_ms (a source transaction whose end never arrives must not
     * hold the exit); a second signal (hard stop) cuts that short. */
    uint64_t t0 = sl__consume_now_ms();
    for (;;) {
        int alive = 0;
        for (unsigned i = 0; i < c.o.workers; i++)
            alive |= c.workers[i].started && !c.workers[i].done;
        if (!alive || *hard_stop)
            break;
        if (sl__consume_now_ms() - t0 >=
            (c.o.grace_ms ? c.o.grace_ms : 30000)) {
            sl_log_warn("open transactions did not finish in time; rolling "
                        "them back",
                        NULL);
            *hard_stop = 1;
            break;
        }
        sl_sleep_ms(50, NULL);
    }
    for (unsigned i = 0; i < c.o.workers; i++)
        if (c.workers[i].started)
            pthread_join(c.workers[i].th, NULL);
    sl__consume_report(&c, sl__consume_now_ms() - last_stats, 1);
    for (unsigned i = 0; i < c.o.workers; i++) {
        sl__worker_t *w = &c.workers[i];
        for (size_t k = 0; k < w->nparts; k++) {
            sl__part_t *p = w->parts[k];
            sl_mysql_sink_free(p->sink);
            sl_keylist_free(&p->keys);
            free(p->skip);
            free(p->name);
            free(p);
        }
        free(w->parts);
        if (w->cl)
            sl_stream_close(w->cl);
        for (int k = 0; k < 2; k++)
            if (w->fcl[k])
                sl_stream_close(w->fcl[k]);
        sl_redis_sink_free(w->rs);
        sl_mc_sink_free(w->mc);
        pthread_mutex_destroy(&w->mu);
    }
    free(c.workers);
    if (cl != NULL)
        sl_stream_close(cl);
    return 0;
}
