/*
 * The reply to a stats request: "200 ID", then "STAT NAME VALUE" lines of
 * the server's and the store's counters, then "END" (docs/protocol.md
 * lists the names).
 */
#include "broker/server_int.h"

#include "clock.h"
#include "status.h"
#include "version.h"

#include <inttypes.h>

void sl__server_stats(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_server_t *srv = conn->srv;
    sl_store_t *store = srv->store;
    const sl_store_stats_t *ss = sl_store_get_stats(store);
    srv_stats_t *st = &srv->st;
    sl_buf_t *o = &conn->out;
    sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1, NULL);
#define STAT(name, fmt, v) sl_buf_printf(o, "STAT " name " " fmt "\r\n", v)
    STAT("version", "%s", SL_VERSION);
    STAT("uptime", "%" PRId64, (sl_wall_ms() - srv->started_ms) / 1000);
    STAT("curr_connections", "%" PRIu64, srv->nconns);
    STAT("total_connections", "%" PRIu64, st->conns_total);
    STAT("rejected_connections", "%" PRIu64, st->conns_rejected);
    STAT("idle_closed", "%" PRIu64, st->idle_closed);
    STAT("timeout_closed", "%" PRIu64, st->timeouts);
    STAT("cmd_put", "%" PRIu64, st->cmd_put);
    STAT("cmd_mput", "%" PRIu64, st->cmd_mput);
    STAT("cmd_get", "%" PRIu64, st->cmd_get);
    STAT("cmd_offsets", "%" PRIu64, st->cmd_offsets);
    STAT("cmd_commit", "%" PRIu64, st->cmd_commit);
    STAT("cmd_committed", "%" PRIu64, st->cmd_committed);
    STAT("cmd_other", "%" PRIu64, st->cmd_other);
    STAT("puts", "%" PRIu64, ss->puts);
    STAT("put_batches", "%" PRIu64, ss->put_batches);
    STAT("dup_batches", "%" PRIu64, ss->dup_batches);
    STAT("get_messages", "%" PRIu64, st->get_messages);
    STAT("get_bytes", "%" PRIu64, st->get_bytes);
    STAT("long_polls", "%" PRIu64, st->long_polls);
    STAT("bytes_read", "%" PRIu64, st->bytes_read);
    STAT("bytes_written", "%" PRIu64, st->bytes_sent);
    STAT("max_memory", "%" PRIu64, srv->opts.max_memory);
    STAT("memory_used", "%zu", sl__server_mem_used(srv));
    STAT("memory_peak", "%zu", st->mem_peak);
    STAT("memory_full_events", "%" PRIu64, st->mem_full_events);
    STAT("memory_deferred", "%" PRIu64, st->mem_deferred);
    STAT("turn_yields", "%" PRIu64, st->turn_yields);
    STAT("log_bytes_written", "%" PRIu64, ss->bytes_written);
    STAT("group_commits", "%" PRIu64, ss->groups);
    STAT("fsyncs", "%" PRIu64, ss->fsyncs);
    STAT("fsync_avg_us", "%" PRIu64,
         ss->fsyncs ? ss->fsync_ns / ss->fsyncs / 1000 : 0);
    STAT("fsync_max_us", "%" PRIu64, ss->fsync_max_ns / 1000);
    STAT("fsync_p99_us", "%" PRIu64, sl_store_fsync_p99_us(store, 0));
    STAT("fsync_p99_time_us", "%" PRIu64, sl_store_fsync_p99_us(store, 1));
    STAT("checkpoints", "%" PRIu64, ss->checkpoints);
    STAT("partitions", "%u", sl_store_nparts(store));
    STAT("max_partitions", "%u", sl_store_options(store)->max_partitions);
    uint64_t ifiles, ibytes, idisk;
    sl_store_index_usage(store, &ifiles, &ibytes, &idisk);
    STAT("index_files", "%" PRIu64, ifiles);
    STAT("index_bytes", "%" PRIu64, ibytes);
    STAT("index_disk_bytes", "%" PRIu64, idisk);
    STAT("index_disk_bytes_per_partition", "%" PRIu64,
         sl_store_nparts(store) ? idisk / sl_store_nparts(store) : 0);
    STAT("disk_full", "%d", ss->disk_full);
    STAT("nospace_groups", "%" PRIu64, ss->nospace_groups);
    STAT("nospace_refused", "%" PRIu64, ss->nospace_refused);
    STAT("checkpoints_skipped", "%" PRIu64, ss->checkpoints_skipped);
    STAT("segments", "%zu", sl_store_nsegments(store));
    STAT("segments_deleted", "%" PRIu64, ss->segments_deleted);
    STAT("disk_used", "%" PRIu64, sl_store_disk_used(store));
    STAT("log_end", "%" PRIu64, sl_store_durable_end(store));
    STAT("recovery_ms", "%" PRIu64, ss->recovery_ms);
    STAT("recovered_entries", "%" PRIu64, ss->recovered_entries);
    STAT("recovery_truncated_bytes", "%" PRIu64, ss->truncated_bytes);
    STAT("recovery_quarantined_ranges", "%" PRIu64, ss->damaged_ranges);
    STAT("crc_errors", "%" PRIu64, ss->crc_errors);
    STAT("index_opens", "%" PRIu64, sl_store_index_opens(store));
    STAT("err_protocol", "%" PRIu64, st->err_protocol);
    STAT("err_unknown_command", "%" PRIu64, st->err_unknown_cmd);
    STAT("err_too_large", "%" PRIu64, st->err_too_large);
    STAT("err_crc_mismatch", "%" PRIu64, st->err_crc);
    STAT("err_auth", "%" PRIu64, st->err_auth);
    STAT("tls_failed", "%" PRIu64, st->tls_failed);
    STAT("tls_plaintext", "%" PRIu64, st->tls_plaintext);
    STAT("err_not_found", "%" PRIu64, st->err_not_found);
    STAT("err_offset_range", "%" PRIu64, st->err_range);
    STAT("err_truncated_request", "%" PRIu64, st->err_truncated);
    STAT("err_store", "%" PRIu64, st->err_store);
#undef STAT
    if (srv->ext.stats)
        srv->ext.stats(srv->ext.arg, o);
    sl_buf_append(o, "END\r\n", 5);
}
