/*
 * Partition discovery and assignment (apply/consume.h, "Assignment"):
 * the main thread lists the topic's partitions and gives each new one to
 * the worker that owns the fewest, where it stays.
 *
 * On a transport with group membership (SL_STREAM_CAP_GROUPS: Kafka) the
 * listing is the partitions the group gave this process; one taken back
 * (SL_STREAM_REVOKED) is released by its worker, which rolls back the
 * partition's open target transaction, before the listing returns and
 * the group hands it on, so that two processes never apply one partition
 * at once. A partition given again later is resumed from the offset its
 * target holds (sluice_offsets, or the group's committed offset for the
 * cache sinks), as at start.
 */
#include "apply/internal.h"

#include "error.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The worker owning the fewest partitions (the first among equals). */
static unsigned least_loaded(sl__consume_t *c) {
    unsigned best = 0;
    size_t best_n = SIZE_MAX;
    for (unsigned i = 0; i < c->o.workers; i++) {
        sl__worker_t *w = &c->workers[i];
        pthread_mutex_lock(&w->mu);
        size_t n = w->nparts;
        pthread_mutex_unlock(&w->mu);
        if (n < best_n) {
            best = i;
            best_n = n;
        }
    }
    return best;
}

static sl__part_t *find_part(sl__consume_t *c, const char *name) {
    for (unsigned i = 0; i < c->o.workers; i++) {
        sl__worker_t *w = &c->workers[i];
        for (size_t k = 0; k < w->nparts; k++)
            if (strcmp(w->parts[k]->name, name) == 0)
                return w->parts[k];
    }
    return NULL;
}

static int wanted(const sl__consume_t *c, const char *name) {
    if (c->o.only == NULL || c->o.only->count == 0)
        return 1;
    for (size_t i = 0; i < c->o.only->count; i++)
        if (strcmp(c->o.only->items[i], name) == 0)
            return 1;
    return 0;
}

/* A partition the group takes back: its worker gives it up (rolls back
 * its open target transaction) and this returns once it did, or at once
 * when the worker does not run (nothing reads the partition then). */
static void release(sl__consume_t *c, sl__part_t *p) {
    sl__worker_t *w = &c->workers[p->worker];
    pthread_mutex_lock(&w->mu);
    int owned = p->owned;
    if (owned && (!w->started || w->done))
        p->owned = 0;
    else if (owned)
        p->release = 1;
    pthread_mutex_unlock(&w->mu);
    if (!owned)
        return;
    while (!w->done && !*c->hard) {
        pthread_mutex_lock(&w->mu);
        int left = p->owned;
        pthread_mutex_unlock(&w->mu);
        if (!left)
            break;
        sl_sleep_ms(10, NULL);
    }
    sl_log_info("partition released", "part=%s worker=%u", p->name, p->worker);
}

/* One partition of the listing (sl_stream_partitions()): assigned to the
 * least loaded worker when it is new and wanted; its end noted for the
 * lag. Always 0: a partition that cannot be taken now (out of memory) is
 * tried again at the next discovery. */
static int discovered_cb(void *ctx, const char *name, size_t name_len,
                         uint64_t latest) {
    sl__consume_t *c = ctx;
    (void)name_len;
    if (!wanted(c, name))
        return 0;
    sl__part_t *p = find_part(c, name);
    if (latest == SL_STREAM_REVOKED) {
        if (p != NULL)
            release(c, p);
        return 0;
    }
    if (p != NULL && !p->owned) {
        sl__worker_t *w = &c->workers[p->worker];
        pthread_mutex_lock(&w->mu);
        p->resumed = 0;
        p->owned = 1;
        pthread_mutex_unlock(&w->mu);
        sl_log_info("partition assigned again", "part=%s worker=%u", name,
                    p->worker);
    }
    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL || (p->name = strdup(name)) == NULL) {
            free(p);
            return 0;
        }
        sl_keylist_init(&p->keys);
        p->otrx_first = UINT64_MAX;
        p->commit_at = UINT64_MAX;
        p->owned = 1;
        p->worker = least_loaded(c);
        sl__worker_t *w = &c->workers[p->worker];
        pthread_mutex_lock(&w->mu);
        if (w->nparts == w->cap) {
            size_t ncap = w->cap ? w->cap * 2 : 16;
            sl__part_t **np = realloc(w->parts, ncap * sizeof *np);
            if (np == NULL) {
                pthread_mutex_unlock(&w->mu);
                free(p->name);
                free(p);
                return 0;
            }
            w->parts = np;
            w->cap = ncap;
        }
        w->parts[w->nparts++] = p;
        pthread_mutex_unlock(&w->mu);
        sl_log_info("partition assigned", "part=%s worker=%u", name, p->worker);
    }
    p->latest = latest;
    return 0;
}

void sl__consume_discover(sl__consume_t *c, sl_stream_t *st) {
    /* A --partition list is a manual assignment, as Kafka's assign() is
     * beside subscribe(): such a process does not join the group (it would
     * hold partitions it never applies). */
    const char *group =
        c->o.only != NULL && c->o.only->count > 0 ? NULL : c->o.group;
    int rc = sl_stream_partitions(st, c->o.topic, group, discovered_cb, c);
    if (rc != 0) {
        if (rc != SL_ENOTFOUND)
            sl_log_warn("cannot list partitions", "topic=%s error=%s",
                        c->o.topic, sl_strerror(rc));
        sl_stream_reconnect(st);
    }
}
