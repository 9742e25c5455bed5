/*
 * Rendering of metrics in the Prometheus text exposition format 0.0.4
 * and in OpenMetrics 1.0.0 (docs/monitoring/README.md lists sluice's
 * metrics). A renderer appends to a caller's sl_buf_t:
 *
 *   # HELP sluice_broker_puts_total Messages stored, by protocol.
 *   # TYPE sluice_broker_puts_total counter
 *   sluice_broker_puts_total{protocol="text"} 42
 *
 * In OpenMetrics the HELP and TYPE lines name a counter's family without
 * its "_total" suffix, and the text ends with "# EOF". Label values are
 * escaped (backslash, double quote and newline), HELP texts likewise
 * (backslash and newline). A family is declared once, before its
 * samples; the caller keeps the samples of one family together.
 *
 * A histogram (sl_metrics_hist_t) is observed from any thread with
 * relaxed atomic additions and no lock: its buckets are not cumulative in
 * memory (one addition per observation) and are summed when rendered, so
 * a scrape may see an observation in _count a moment before its bucket,
 * which Prometheus tolerates as it does any scrape between two updates.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include "buf.h"

#include <stdint.h>

typedef enum {
    SL_METRICS_COUNTER = 0,
    SL_METRICS_GAUGE = 1,
    SL_METRICS_HISTOGRAM = 2,
} sl_metrics_type_t;

/* A renderer: out is the caller's buffer (appended to, never freed
 * here); openmetrics selects OpenMetrics 1.0.0 over text format 0.0.4. */
typedef struct sl_metrics_s {
    sl_buf_t *out;
    int openmetrics;
} sl_metrics_t;

/* The content types of the two formats. */
#define SL_METRICS_CTYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define SL_METRICS_CTYPE_OPENMETRICS                                           \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Writes the HELP and TYPE lines of a family. name is the sample name for
 * gauges, the full name with "_total" for counters, and the base name for
 * histograms. */
void sl_metrics_family(sl_metrics_t *m, const char *name,
                       sl_metrics_type_t type, const char *help);

/* Writes one sample. labels is NULL or a NULL-terminated list of name,
 * value pairs ({"topic", t, "partition", p, NULL}); the values are
 * escaped here. */
void sl_metrics_u64(sl_metrics_t *m, const char *name,
                    const char *const *labels, uint64_t value);
void sl_metrics_i64(sl_metrics_t *m, const char *name,
                    const char *const *labels, int64_t value);
void sl_metrics_f64(sl_metrics_t *m, const char *name,
                    const char *const *labels, double value);

/* A family with one unlabelled sample: the common case. */
void sl_metrics_one(sl_metrics_t *m, const char *name, sl_metrics_type_t type,
                    const char *help, double value);

/* Ends the text ("# EOF" in OpenMetrics, nothing in 0.0.4). */
void sl_metrics_end(sl_metrics_t *m);

/* Histogram buckets: SL_METRICS_MAX_BUCKETS upper bounds at most, in
 * seconds (or the family's base unit), ascending; +Inf is implied. */
#define SL_METRICS_MAX_BUCKETS 16
typedef struct {
    /* Not owned: a static array of nbounds; NULL (a zeroed histogram)
     * stands for sl_metrics_latency_bounds. */
    const double *bounds;
    unsigned nbounds;
    uint64_t counts[SL_METRICS_MAX_BUCKETS + 1]; /* Per bucket, +Inf last. */
    uint64_t count;
    uint64_t sum_ns; /* Sum of observations in nanoseconds. */
} sl_metrics_hist_t;

/* The bounds sluice's latency histograms use: 100 us to 10 s. */
extern const double sl_metrics_latency_bounds[];
extern const unsigned sl_metrics_latency_nbounds;

/* Zeroes h and sets its bounds (static storage, nbounds at most
 * SL_METRICS_MAX_BUCKETS). Not thread-safe; call before observing. */
void sl_metrics_hist_init(sl_metrics_hist_t *h, const double *bounds,
                          unsigned nbounds);

/* Counts one observation of ns nanoseconds (relaxed atomics, any
 * thread, no lock). */
void sl_metrics_hist_observe_ns(sl_metrics_hist_t *h, uint64_t ns);

/* Adds src's counts to dst (both with the same bounds); dst is the
 * caller's, not shared. */
void sl_metrics_hist_add(sl_metrics_hist_t *dst, const sl_metrics_hist_t *src);

/* Writes the _bucket, _sum (seconds) and _count samples of h under name
 * with the labels (as sl_metrics_u64), after sl_metrics_family(). */
void sl_metrics_hist(sl_metrics_t *m, const char *name,
                     const char *const *labels, const sl_metrics_hist_t *h);

#endif
