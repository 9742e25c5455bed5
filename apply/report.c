/*
 * The consumer's periodic report (main thread): one log line per
 * partition, and the same figures as STAT lines in the stats file
 * (--stats-file), which is replaced atomically each period so a reader
 * never sees half of it.
 */
#include "apply/internal.h"

#include "file.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

void sl__consume_report(sl__consume_t *c, uint64_t elapsed_ms, int final) {
    sl_buf_t stats = SL_BUF_INIT;
    int64_t now_s = sl_wall_ms() / 1000;
    uint64_t total_rows = 0;
    for (unsigned i = 0; i < c->o.workers; i++) {
        sl__worker_t *w = &c->workers[i];
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->nparts; k++) {
            sl__part_t *p = w->parts[k];
            uint64_t rows = p->rows, next = p->applied_next;
            uint64_t lag = p->latest > next ? p->latest - next : 0;
            double rate = elapsed_ms ? (double)(rows - p->prev_rows) * 1000.0 /
                                           (double)elapsed_ms
                                     : 0;
            p->prev_rows = rows;
            total_rows += rows;
            long long behind =
                p->src_ts > 0 && lag > 0 ? (long long)(now_s - p->src_ts) : 0;
            const char *state = p->stopped   ? "stopped"
                                : !p->owned  ? "released"
                                : p->resumed ? "running"
                                             : "starting";
            /* Where the worker's time went: waiting for the target and
             * for the broker; the rest is its own CPU. */
            sl_mysql_stats_t ms;
            memset(&ms, 0, sizeof ms);
            if (p->sink != NULL)
                sl_mysql_sink_stats(p->sink, &ms);
            uint64_t ofirst = p->otrx_first;
            unsigned long long owait =
                ofirst != UINT64_MAX
                    ? (sl__consume_now_ms() - p->otrx_since_ms) / 1000
                    : 0;
            sl_log_info(final ? "partition final" : "partition stats",
                        "part=%s worker=%u state=%s next=%llu latest=%llu "
                        "lag=%llu behind_s=%lld rows=%llu trx=%llu "
                        "invalidated=%llu dead_lettered=%llu rate=%.0f "
                        "target_commits=%llu wait_target_ms=%llu "
                        "wait_broker_ms=%llu open_trx_wait_s=%llu",
                        p->name, p->worker, state, (unsigned long long)next,
                        (unsigned long long)p->latest, (unsigned long long)lag,
                        behind, (unsigned long long)rows,
                        (unsigned long long)p->trx,
                        (unsigned long long)p->invalidated,
                        (unsigned long long)p->dead_lettered, rate,
                        (unsigned long long)ms.groups,
                        (unsigned long long)(ms.wait_ns / 1000000u),
                        (unsigned long long)(p->fetch_ns / 1000000u), owait);
            sl_buf_printf(&stats,
                          "STAT part:%s:state %s\nSTAT part:%s:next %llu\n"
                          "STAT part:%s:lag %llu\nSTAT part:%s:behind_s %lld\n"
                          "STAT part:%s:rows %llu\nSTAT part:%s:trx %llu\n"
                          "STAT part:%s:invalidated %llu\n"
                          "STAT part:%s:dead_lettered %llu\n"
                          "STAT part:%s:rate %.0f\n"
                          "STAT part:%s:target_commits %llu\n",
                          p->name, state, p->name, (unsigned long long)next,
                          p->name, (unsigned long long)lag, p->name, behind,
                          p->name, (unsigned long long)rows, p->name,
                          (unsigned long long)p->trx, p->name,
                          (unsigned long long)p->invalidated, p->name,
                          (unsigned long long)p->dead_lettered, p->name, rate,
                          p->name, (unsigned long long)ms.groups);
            sl_buf_printf(&stats,
                          "STAT part:%s:open_trx_wait_s %llu\n"
                          "STAT part:%s:open_trx_warnings %llu\n"
                          "STAT part:%s:read_rows %llu\n"
                          "STAT part:%s:snapshot_windows %llu\n"
                          "STAT part:%s:snapshot_tolerated %llu\n",
                          p->name, owait, p->name,
                          (unsigned long long)p->otrx_warnings, p->name,
                          (unsigned long long)ms.reads, p->name,
                          (unsigned long long)ms.windows, p->name,
                          (unsigned long long)ms.tolerated);
            if (ofirst != UINT64_MAX)
                sl_buf_printf(&stats,
                              "STAT part:%s:open_trx %s\n"
                              "STAT part:%s:open_trx_first %llu\n"
                              "STAT part:%s:open_trx_rows %llu\n"
                              "STAT part:%s:open_trx_bytes %llu\n",
                              p->name, p->otrx_id[0] ? p->otrx_id : "-",
                              p->name, (unsigned long long)ofirst, p->name,
                              (unsigned long long)p->otrx_rows, p->name,
                              (unsigned long long)p->otrx_bytes);
            if (p->stopped)
                sl_buf_printf(&stats, "STAT part:%s:error %s\n", p->name,
                              p->error);
        }
        pthread_mutex_unlock(&w->mu);
    }
    sl_buf_printf(&stats, "STAT rows %llu\nEND\n",
                  (unsigned long long)total_rows);
    if (c->o.stats_file != NULL) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s.tmp", c->o.stats_file);
        sl_file_replace(c->o.stats_file, tmp, stats.data, stats.len, 0, NULL);
    }
    sl_buf_free(&stats);
}
