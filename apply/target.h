/*
 * Another target behind the MySQL sink's interface.
 *
 * The consumer (apply/consume.c) drives one sink per partition through
 * the sl_mysql_sink_ calls. A target that is not MySQL/MariaDB
 * (PostgreSQL, apply/pg/) provides the same entry points as this table;
 * sluice-apply's main() puts the table and the target's own options into
 * sl_mysql_opts_t (ops, ops_arg), and each sl_mysql_sink_ call then
 * forwards to it. The table is passed in rather than referenced here, so
 * that only the programs that choose such a target link its client
 * library (libpq is linked into sluice-apply and its tests, not into
 * every program that links the consumer).
 *
 * Every entry point has the meaning, the return codes and the ownership
 * of the sl_mysql_sink_ function of the same name (apply/mysql/sink.h);
 * impl is what new_cb made.
 */
#ifndef SL_APPLY_TARGET_H
#define SL_APPLY_TARGET_H

#include "apply/mysql/sink.h"

typedef struct sl_target_ops_s {
    const char *name; /* "postgresql", for messages. */
    /* common: the consumer's options (maps, drift, group, topic, ...);
     * arg: ops_arg, the target's own options. */
    int (*new_cb)(const sl_mysql_opts_t *common, const void *arg,
                  const char *part, void **impl);
    void (*free_cb)(void *impl);
    int (*resume_cb)(void *impl, uint64_t *next, int *found,
                     volatile int *stop);
    int (*claim_cb)(void *impl, uint64_t start, uint64_t *next,
                    volatile int *stop);
    int (*begin_cb)(void *impl, uint64_t start_offset, int start_found,
                    volatile int *stop);
    int (*row_cb)(void *impl, const sl_jr_doc_t *doc, const sl_event_t *ev,
                  uint64_t offset);
    int (*kick_cb)(void *impl);
    int (*commit_cb)(void *impl, uint64_t next_offset, uint64_t ntrx,
                     const char *last_trx, volatile int *stop);
    int (*ddl_cb)(void *impl, const sl_jr_doc_t *doc, uint64_t offset,
                  volatile int *stop);
    void (*abort_cb)(void *impl);
    int (*wait_cb)(void *impl, volatile int *stop);
    int (*careful_cb)(const void *impl);
    const char *(*error_cb)(const void *impl);
    uint64_t (*failed_offset_cb)(const void *impl);
    int (*failed_drift_cb)(const void *impl);
    void (*stats_cb)(const void *impl, sl_mysql_stats_t *st);
} sl_target_ops_t;

#endif
