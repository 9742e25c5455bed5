/*
 * sluice-capture as a service: replicate from a live MySQL/MariaDB server,
 * decode, filter, route and publish every row change in commit order to
 * the broker, exactly once (see publish.h), resuming from the checkpoint
 * kept in the broker after any crash.
 *
 * Flow, one thread:
 *   source (replication connection) -> decoder -> filter -> route ->
 *   publisher (pipelined idempotent puts) -> checkpoint after acks.
 *
 * Per transaction, each partition that received rows also receives the
 * transaction's commit event, so a consumer of any one partition knows
 * where the transaction's rows end in it. DDL goes to the partitions of the
 * tables it names.
 *
 * Any break of the replication stream (dropped connection, killed dump
 * thread, source restart, silence past the timeout) is handled as a
 * restart: the publisher is drained, and replication resumes from the last
 * transaction boundary with the capture sequence it had there, so the
 * messages published again are recognised by the broker as duplicates.
 */
#ifndef SL_CAPTURE_SERVICE_H
#define SL_CAPTURE_SERVICE_H

/* Runs `sluice-capture --source ...`. Returns the process exit status:
 * 0 after a clean stop (SIGTERM/SIGINT), 1 on failure, 2 on bad usage. */
int sl_capture_service_main(int argc, char **argv);

#endif
