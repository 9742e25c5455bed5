/*
 * The retry loop of the cache sinks (apply/sink_cache_int.h): a delete
 * call returns only once every server acknowledged its share of the keys,
 * or when asked to stop (the contract in apply/sink_cache.h).
 */
#include "apply/sink_cache_int.h"

#include "error.h"
#include "log.h"

#include <stdio.h>

int sl__cache_retry(const sl__cache_ops_t *ops, void *sink, size_t ntargets,
                    sl_backoff_t *bo, sl_cache_stats_t *stats,
                    const sl_keylist_t *kl, volatile int *stop) {
    uint64_t existed_all = 0, published_all = 0;
    char again[64], failed[64];
    snprintf(again, sizeof again, "%s reachable again", ops->name);
    snprintf(failed, sizeof failed, "%s delete failed; retrying", ops->name);
    for (;;) {
        int left = 0;
        for (size_t t = 0; t < ntargets; t++) {
            sl__cache_target_t *tg = ops->target(sink, t);
            if (!tg->pending)
                continue;
            char why[256] = "";
            uint64_t existed = 0, published = 0;
            int rc = ops->attempt(sink, t, kl, why, sizeof why, &existed,
                                  &published);
            if (rc == SL_ENOMEM)
                return rc;
            if (rc == 0) {
                if (tg->failures > 0)
                    sl_log_info(again, "%s=%s:%u retries=%llu", ops->name,
                                tg->host, tg->port,
                                (unsigned long long)tg->failures);
                tg->failures = 0;
                tg->pending = 0;
                existed_all += existed;
                published_all += published;
                continue;
            }
            left = 1;
            char q[300];
            if (tg->failures % 20 == 0)
                sl_log_warn(failed, "%s=%s:%u error=%s keys=%zu attempt=%llu",
                            ops->name, tg->host, tg->port,
                            sl_log_quote(why, q, sizeof q), tg->nkeys,
                            (unsigned long long)tg->failures + 1);
            tg->failures++;
        }
        if (!left) {
            sl_backoff_reset(bo);
            stats->batches++;
            stats->keys += kl->count;
            stats->existed += existed_all;
            stats->published += published_all;
            return 0;
        }
        stats->retries++;
        if (sl_backoff_sleep(bo, stop))
            return SL_ESTOPPED;
    }
}
