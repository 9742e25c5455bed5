/*
 * The Redis invalidation sink (contract in apply/sink_cache.h).
 *
 * Each round sends up to SL_CACHE_PIPELINE keys as one multi-key DEL
 * (plus one PUBLISH per key when broadcasting) and reads every reply
 * before the next round. Any failure (connect, I/O, an error reply such as
 * -LOADING or -READONLY during a failover) drops the connection and
 * restarts the whole list after a backoff: a partial success is never
 * reported as success.
 */
#include "apply/sink_cache_int.h"

#include "backoff.h"
#include "error.h"
#include "parse.h"

#include <hiredis.h>
#include <stdlib.h>
#include <string.h>

struct sl_redis_sink_s {
    char host[256];
    uint16_t port;
    char *channel;
    char *password;
    redisContext *ctx;
    sl__cache_target_t target; /* The one server, for the retry loop. */
    sl_backoff_t bo;
    sl_cache_stats_t stats;
    const char **argv; /* Scratch for DEL arguments. */
    size_t *argvlen;
};

int sl_redis_sink_new(const char *hostport, const char *channel,
                      const char *password, sl_redis_sink_t **out) {
    sl_redis_sink_t *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return SL_ENOMEM;
    if (sl_parse_hostport(hostport, rs->host, sizeof rs->host, &rs->port) !=
        0) {
        free(rs);
        return SL_EINVAL;
    }
    rs->channel = channel ? strdup(channel) : NULL;
    rs->password = password ? strdup(password) : NULL;
    rs->argv = malloc((SL_CACHE_PIPELINE + 1) * sizeof *rs->argv);
    rs->argvlen = malloc((SL_CACHE_PIPELINE + 1) * sizeof *rs->argvlen);
    if ((channel && !rs->channel) || (password && !rs->password) || !rs->argv ||
        !rs->argvlen) {
        sl_redis_sink_free(rs);
        return SL_ENOMEM;
    }
    rs->target.host = rs->host;
    rs->target.port = rs->port;
    sl_backoff_init(&rs->bo, 50, 5000);
    *out = rs;
    return 0;
}

static void drop(sl_redis_sink_t *rs) {
    if (rs->ctx != NULL)
        redisFree(rs->ctx);
    rs->ctx = NULL;
}

void sl_redis_sink_free(sl_redis_sink_t *rs) {
    if (rs == NULL)
        return;
    drop(rs);
    free(rs->channel);
    if (rs->password != NULL) {
        memset(rs->password, 0, strlen(rs->password));
        free(rs->password);
    }
    free(rs->argv);
    free(rs->argvlen);
    free(rs);
}

void sl_redis_sink_stats(const sl_redis_sink_t *rs, sl_cache_stats_t *st) {
    *st = rs->stats;
}

/* Connects when needed. 0 or SL_ECONN with why filled in. */
static int ensure(sl_redis_sink_t *rs, char *why, size_t whylen) {
    if (rs->ctx != NULL)
        return 0;
    struct timeval tv = {2, 0};
    rs->ctx = redisConnectWithTimeout(rs->host, rs->port, tv);
    if (rs->ctx == NULL || rs->ctx->err) {
        snprintf(why, whylen, "%s", rs->ctx ? rs->ctx->errstr : "no memory");
        drop(rs);
        return SL_ECONN;
    }
    struct timeval io = {10, 0};
    redisSetTimeout(rs->ctx, io);
    if (rs->password != NULL) {
        redisReply *r = redisCommand(rs->ctx, "AUTH %s", rs->password);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        snprintf(why, whylen, "AUTH failed: %s",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
        if (r)
            freeReplyObject(r);
        if (!ok) {
            drop(rs);
            return SL_ECONN;
        }
    }
    return 0;
}

/* One attempt at the whole list (sl__cache_ops_t.attempt; t is 0). */
static int attempt(void *sink, size_t t, const sl_keylist_t *kl, char *why,
                   size_t whylen, uint64_t *existed, uint64_t *published) {
    sl_redis_sink_t *rs = sink;
    (void)t;
    int rc = ensure(rs, why, whylen);
    if (rc != 0)
        return rc;
    *existed = *published = 0;
    for (size_t i = 0; i < kl->count; i += SL_CACHE_PIPELINE) {
        size_t n = kl->count - i < SL_CACHE_PIPELINE ? kl->count - i
                                                     : SL_CACHE_PIPELINE;
        rs->argv[0] = "DEL";
        rs->argvlen[0] = 3;
        for (size_t k = 0; k < n; k++)
            rs->argv[k + 1] = sl_keylist_key(kl, i + k, &rs->argvlen[k + 1]);
        size_t cmds = 1;
        if (redisAppendCommandArgv(rs->ctx, (int)n + 1, rs->argv,
                                   rs->argvlen) != REDIS_OK)
            goto io_error;
        if (rs->channel != NULL) {
            for (size_t k = 0; k < n; k++) {
                size_t kn;
                const char *key = sl_keylist_key(kl, i + k, &kn);
                if (redisAppendCommand(rs->ctx, "PUBLISH %s %b", rs->channel,
                                       key, kn) != REDIS_OK)
                    goto io_error;
                cmds++;
            }
        }
        for (size_t c = 0; c < cmds; c++) {
            redisReply *r = NULL;
            if (redisGetReply(rs->ctx, (void **)&r) != REDIS_OK || r == NULL)
                goto io_error;
            int ok = r->type == REDIS_REPLY_INTEGER;
            if (ok && c == 0)
                *existed += (uint64_t)r->integer;
            else if (ok)
                (*published)++;
            else
                snprintf(why, whylen, "unexpected reply to %s: %s",
                         c == 0 ? "DEL" : "PUBLISH",
                         r->type == REDIS_REPLY_ERROR ? r->str : "non-integer");
            freeReplyObject(r);
            if (!ok) {
                /* The rest of the pipeline is unread; the connection is
                 * dropped so that no stale reply is read later. */
                drop(rs);
                return SL_EPROTO;
            }
        }
    }
    return 0;
io_error:
    snprintf(why, whylen, "%s",
             rs->ctx->errstr[0] ? rs->ctx->errstr : "I/O error");
    drop(rs);
    return SL_ECONN;
}

static sl__cache_target_t *target(void *sink, size_t t) {
    (void)t;
    return &((sl_redis_sink_t *)sink)->target;
}

static const sl__cache_ops_t ops = {"redis", target, attempt};

int sl_redis_sink_delete(sl_redis_sink_t *rs, const sl_keylist_t *kl,
                         volatile int *stop) {
    if (kl->count == 0)
        return 0;
    rs->target.nkeys = kl->count;
    rs->target.pending = 1;
    return sl__cache_retry(&ops, rs, 1, &rs->bo, &rs->stats, kl, stop);
}
