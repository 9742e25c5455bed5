/*
 * Shared between the files of the live capture service (service.c: the
 * replication loop; service_setup.c: options; service_change.c: rows and
 * commits; service_schema.c: the schema history; service_snap.c:
 * snapshots): its state and the functions one file calls in another.
 */
#ifndef SL_CAPTURE_SERVICE_INT_H
#define SL_CAPTURE_SERVICE_INT_H

#include "buf.h"
#include "capture/decoder/binlog.h"
#include "capture/schema/schema.h"
#include "capture/snapshot/join.h"
#include "capture/snapshot/snapshot.h"
#include "config.h"
#include "driftcheck.h"
#include "filter.h"
#include "publish.h"
#include "route.h"
#include "source.h"
#include "stats.h"
#include "strmap.h"
#include "tls.h"

#include <stddef.h>
#include <stdint.h>

/* The service's state, one per process (sl_capture_service_main). */
typedef struct sl__svc_s {
    sl_config_t cfg;
    sl_source_opts_t src_opts;
    char host[256];
    char user[128];
    char *password;
    char *broker_secret;
    sl_tls_opts_t broker_tls; /* Used when broker_tls_on. */
    int broker_tls_on;
    char *start_file;
    uint64_t start_pos;
    char *start_gtid;
    sl_filter_t *filter;
    sl_route_t route;
    sl_schema_t *schema;           /* The schema history in force. */
    const sl_checkpoint_t *resume; /* The checkpoint started from, or NULL. */
    char schema_part[300];         /* "<name>.schema" in the internal topic. */
    sl_buf_t record;               /* Scratch: a schema history record. */
    sl_publish_t *pub;
    sl_binlog_t *dec;
    sl_driftcheck_t *drift; /* The schema check, or NULL when off. */
    sl_snap_t *snap;        /* Snapshots (capture/snapshot/). */
    sl_snap_mode_t snap_mode;
    /* Tables entering the include filters (capture/snapshot/join.h): the
     * rules the snapshot covers, and the tables joining at a restart. */
    sl_buf_t snap_cov;
    sl_snap_join_t sjoin;
    /* While early snapshot starts go out at a restart or a first start:
     * the resume point their boundaries name (sl__svc_snap_resume). */
    const sl_checkpoint_t *snap_at;
    int drift_on; /* --schema-check. */
    uint64_t drift_interval_ms;
    uint8_t skip[256];
    size_t nskip;

    /* Transaction state. */
    sl_strmap_t touched; /* Partitions that got rows in this transaction. */
    int in_trx;
    sl_buf_t part; /* Scratch: partition name. */
    sl_buf_t sql;  /* Scratch: a DDL statement as a C string. */

    /* Where the current event ends (the resume point after a commit). */
    const char *cur_file;
    uint64_t cur_end;
    uint32_t cur_ts;
    int boundary_done;   /* The current event already marked a boundary. */
    char last_gtid[192]; /* GTID of the last transaction ended. */

    /* Report. */
    sl_capstats_t *stats;  /* The stats endpoint, or NULL. */
    int stats_remote;      /* --stats-allow-remote. */
    sl_strmap_t part_rows; /* Partition -> uint64_t rows published. */
    sl_buf_t stats_text;
    uint64_t last_stats_ns;
    uint64_t start_ns;
    uint64_t sessions; /* Replication connections opened. */
    uint64_t rows, events, bytes, last_rows, last_events, last_bytes;
    uint64_t last_report_ns;
    int64_t last_event_ts;
    uint64_t filtered;
    uint64_t ddl_skipped; /* Unreadable DDL on tables not captured. */
    char err[1024];
} sl__svc_t;

/* service_setup.c: parses the command line into svc (0, SL_CONFIG_EXIT
 * after --help, or an error with svc->err set). */
int sl__svc_setup(sl__svc_t *svc, int argc, char **argv);
/* service_setup.c: the source's preflight check. */
int sl__svc_preflight(sl__svc_t *svc);
/* service_setup.c: the producer id of capture name. */
int64_t sl__svc_producer_id(sl__svc_t *svc, const char *name);

/* service.c: runs fn until the source is reachable or a stop is asked. */
int sl__svc_with_source_retry(sl__svc_t *svc, int (*fn)(sl__svc_t *svc));

/* service_change.c: the decoder's callbacks and the publishing steps. */
int sl__svc_on_change(void *ctx, const sl_change_t *chg);
int sl__svc_keep_column(void *ctx, const char *db, size_t db_len,
                        const char *table, size_t table_len, const char *column,
                        size_t len);
int sl__svc_want_table(void *ctx, const char *db, const char *table);
int sl__svc_publish_to(sl__svc_t *svc, const char *db, size_t db_len,
                       const char *table, size_t table_len, uint64_t key_hash,
                       const char *json, size_t json_len, int mark_touched,
                       const char *key, size_t key_len);
int sl__svc_boundary_here(sl__svc_t *svc);
void sl__svc_clear_touched(sl__svc_t *svc);

/* service_schema.c: DDL, and the schema history at the resume point. */
int sl__svc_on_ddl(sl__svc_t *svc, const sl_change_t *chg);
int sl__svc_init_schema(sl__svc_t *svc);

/* service_snap.c: the snapshot module's start and steps. */
int sl__svc_snap_start(sl__svc_t *svc, const char *name, sl_checkpoint_t *cp);
int sl__svc_snap_start_over(sl__svc_t *svc, sl_checkpoint_t *cp, int *have_cp);
int sl__svc_snap_resume(sl__svc_t *svc, const sl_checkpoint_t *at);
int sl__svc_snap_step(sl__svc_t *svc);
int sl__svc_snap_join_find(sl__svc_t *svc);

#endif
