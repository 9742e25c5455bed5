/* Prometheus and OpenMetrics text rendering; see metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const double sl_metrics_latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
const unsigned sl_metrics_latency_nbounds =
    sizeof sl_metrics_latency_bounds / sizeof sl_metrics_latency_bounds[0];

static const char *type_name(sl_metrics_type_t type) {
    switch (type) {
    case SL_METRICS_COUNTER: return "counter";
    case SL_METRICS_GAUGE: return "gauge";
    case SL_METRICS_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

/* Appends text escaped: backslash and newline always, the double quote
 * too in label values (quote). */
static void escape(sl_buf_t *out, const char *text, int quote) {
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            sl_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            sl_buf_append(out, "\\n", 2);
        else if (*p == '"' && quote)
            sl_buf_append(out, "\\\"", 2);
        else
            sl_buf_append_u8(out, (uint8_t)*p);
    }
}

void sl_metrics_family(sl_metrics_t *m, const char *name,
                       sl_metrics_type_t type, const char *help) {
    size_t len = strlen(name);
    /* OpenMetrics names a counter's family without the sample suffix. */
    if (m->openmetrics && type == SL_METRICS_COUNTER && len > 6 &&
        strcmp(name + len - 6, "_total") == 0)
        len -= 6;
    sl_buf_printf(m->out, "# HELP %.*s ", (int)len, name);
    escape(m->out, help, 0);
    sl_buf_printf(m->out, "\n# TYPE %.*s %s\n", (int)len, name,
                  type_name(type));
}

static void sample_start(sl_metrics_t *m, const char *name, const char *suffix,
                         const char *const *labels, const char *le) {
    sl_buf_append_str(m->out, name);
    if (suffix != NULL)
        sl_buf_append_str(m->out, suffix);
    if ((labels == NULL || labels[0] == NULL) && le == NULL) {
        sl_buf_append_u8(m->out, ' ');
        return;
    }
    sl_buf_append_u8(m->out, '{');
    int first = 1;
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
        sl_buf_printf(m->out, "%s%s=\"", first ? "" : ",", labels[i]);
        escape(m->out, labels[i + 1] != NULL ? labels[i + 1] : "", 1);
        sl_buf_append_u8(m->out, '"');
        first = 0;
    }
    if (le != NULL)
        sl_buf_printf(m->out, "%sle=\"%s\"", first ? "" : ",", le);
    sl_buf_append(m->out, "} ", 2);
}

void sl_metrics_u64(sl_metrics_t *m, const char *name,
                    const char *const *labels, uint64_t value) {
    sample_start(m, name, NULL, labels, NULL);
    sl_buf_printf(m->out, "%" PRIu64 "\n", value);
}

void sl_metrics_i64(sl_metrics_t *m, const char *name,
                    const char *const *labels, int64_t value) {
    sample_start(m, name, NULL, labels, NULL);
    sl_buf_printf(m->out, "%" PRId64 "\n", value);
}

static void put_f64(sl_buf_t *out, double value) {
    if (isnan(value))
        sl_buf_append_str(out, "NaN");
    else if (isinf(value))
        sl_buf_append_str(out, value > 0 ? "+Inf" : "-Inf");
    else
        sl_buf_printf(out, "%.15g", value);
}

void sl_metrics_f64(sl_metrics_t *m, const char *name,
                    const char *const *labels, double value) {
    sample_start(m, name, NULL, labels, NULL);
    put_f64(m->out, value);
    sl_buf_append_u8(m->out, '\n');
}

void sl_metrics_one(sl_metrics_t *m, const char *name, sl_metrics_type_t type,
                    const char *help, double value) {
    sl_metrics_family(m, name, type, help);
    sl_metrics_f64(m, name, NULL, value);
}

void sl_metrics_end(sl_metrics_t *m) {
    if (m->openmetrics)
        sl_buf_append_str(m->out, "# EOF\n");
}

void sl_metrics_hist_init(sl_metrics_hist_t *h, const double *bounds,
                          unsigned nbounds) {
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds =
        nbounds < SL_METRICS_MAX_BUCKETS ? nbounds : SL_METRICS_MAX_BUCKETS;
}

/* The bounds of h (the latency bounds for a zeroed histogram). */
static const double *bounds_of(const sl_metrics_hist_t *h, unsigned *n) {
    if (h->bounds == NULL) {
        *n = sl_metrics_latency_nbounds;
        return sl_metrics_latency_bounds;
    }
    *n = h->nbounds;
    return h->bounds;
}

void sl_metrics_hist_observe_ns(sl_metrics_hist_t *h, uint64_t ns) {
    double s = (double)ns / 1e9;
    unsigned nb, i = 0;
    const double *bounds = bounds_of(h, &nb);
    while (i < nb && s > bounds[i])
        i++;
    __atomic_fetch_add(&h->counts[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void sl_metrics_hist_add(sl_metrics_hist_t *dst, const sl_metrics_hist_t *src) {
    if (dst->bounds == NULL && dst->count == 0) {
        dst->bounds = src->bounds;
        dst->nbounds = src->nbounds;
    }
    for (unsigned i = 0; i <= SL_METRICS_MAX_BUCKETS; i++)
        dst->counts[i] += __atomic_load_n(&src->counts[i], __ATOMIC_RELAXED);
    dst->count += __atomic_load_n(&src->count, __ATOMIC_RELAXED);
    dst->sum_ns += __atomic_load_n(&src->sum_ns, __ATOMIC_RELAXED);
}

void sl_metrics_hist(sl_metrics_t *m, const char *name,
                     const char *const *labels, const sl_metrics_hist_t *h) {
    uint64_t cum = 0;
    char le[32];
    unsigned nb;
    const double *bounds = bounds_of(h, &nb);
    for (unsigned i = 0; i <= nb; i++) {
        cum += __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
        if (i < nb)
            snprintf(le, sizeof le, "%g", bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        sample_start(m, name, "_bucket", labels, le);
        sl_buf_printf(m->out, "%" PRIu64 "\n", cum);
    }
    /* The buckets are read one by one while observations go on: _count is
     * the +Inf bucket's sum, so the two always agree. */
    sample_start(m, name, "_sum", labels, NULL);
    put_f64(m->out,
            (double)__atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED) / 1e9);
    sl_buf_append_u8(m->out, '\n');
    sample_start(m, name, "_count", labels, NULL);
    sl_buf_printf(m->out, "%" PRIu64 "\n", cum);
}
