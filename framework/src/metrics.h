/* metrics.h - a small Prometheus metrics registry: counters, gauges,
 * histograms and scrape-time gauge callbacks, rendered in the text
 * exposition format 0.0.4.
 *
 * Names follow `seam_<subsystem>_<name>_<unit>`; counters end in `_total`.
 * Offsets and keys are never labels (every distinct value is a new series
 * that Prometheus keeps for hours): the registry refuses label names
 * `offset` and `key`.
 *
 * Usage: register a family once, look a child (one label-value set) up once
 * and keep the pointer; incrementing it is then one atomic operation.
 *
 *   struct seam_metric_family *f = seam_metrics_counter(m,
 *       "seam_consumer_messages_total", "Messages by outcome.",
 *       SEAM_METRIC_LABELS("consumer", "outcome"));
 *   struct seam_metric *handled =
 *       seam_metric_get(f, SEAM_METRIC_LABELS("audit", "handled"));
 *   seam_counter_inc(handled);
 *
 * Threading: every function is thread-safe. A child pointer stays valid
 * until that child is removed (seam_metric_remove) or its family
 * unregistered; remove a series only once nothing uses its pointer any more
 * (e.g. after a revoked partition has drained). Operations on a NULL child
 * or family do nothing, so a failed registration costs a series, never the
 * process.
 */
#ifndef SEAM_METRICS_H
#define SEAM_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum seam_metric_type {
        SEAM_METRIC_COUNTER = 0,
        SEAM_METRIC_GAUGE = 1,
        SEAM_METRIC_HISTOGRAM = 2
};

struct seam_metrics;       /* the registry */
struct seam_metric_family; /* one metric name, its help, type and labels */
struct seam_metric;        /* one series (or histogram) of a family */
struct seam_metric_sink;   /* where a collect callback emits its samples */

/* Expands to the (count, array) argument pair the functions below take:
 * SEAM_METRIC_LABELS("consumer", "topic") gives 2, (const char *[]){...}.
 * For no labels pass SEAM_METRIC_NO_LABELS. */
#define SEAM_METRIC_LABELS(...)                                                \
        (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)),   \
            ((const char *const[]){__VA_ARGS__})
#define SEAM_METRIC_NO_LABELS 0, ((const char *const *)NULL)

/* Default histogram buckets for latencies, in seconds: 0.0005 .. 10. */
extern const double seam_metrics_latency_buckets[];
extern const size_t seam_metrics_latency_bucket_count;

/* A new registry, already holding `seam_build_info{version="..."} 1`.
 * NULL if out of memory. */
struct seam_metrics *seam_metrics_new(void);
/* Frees the registry and every family and child in it. Accepts NULL. */
void seam_metrics_destroy(struct seam_metrics *m);

/* Register a family. Label names are copied. Registering a name again with
 * the same type and labels (and buckets) returns the existing family, so
 * several consumer instances can share one; anything else under a taken name
 * is refused. Returns NULL, after logging why, on an invalid name or label
 * name, a counter name not ending in `_total`, or out of memory. */
struct seam_metric_family *seam_metrics_counter(struct seam_metrics *m,
                                                const char *name,
                                                const char *help, size_t nlabels,
                                                const char *const *labels);
struct seam_metric_family *seam_metrics_gauge(struct seam_metrics *m,
                                              const char *name,
                                              const char *help, size_t nlabels,
                                              const char *const *labels);
/* `bounds`: upper bounds, strictly increasing, finite (a trailing +Inf is
 * accepted and implied anyway); NULL for seam_metrics_latency_buckets. */
struct seam_metric_family *
seam_metrics_histogram(struct seam_metrics *m, const char *name,
                       const char *help, size_t nlabels,
                       const char *const *labels, const double *bounds,
                       size_t nbounds);

/* A gauge family whose samples come from `collect(arg, sink)`, called at
 * every render, for values computed elsewhere (lag). The callback calls
 * seam_metric_emit once per label-value set. It runs on the scraping thread
 * with the registry locked: it must be quick, thread-safe with respect to
 * its own data, and must not register or unregister families. Never shared:
 * a second registration of the name is refused. */
typedef void (*seam_metric_collect_fn)(void *arg, struct seam_metric_sink *sink);
struct seam_metric_family *
seam_metrics_gauge_func(struct seam_metrics *m, const char *name,
                        const char *help, size_t nlabels,
                        const char *const *labels, seam_metric_collect_fn collect,
                        void *arg);
/* One sample from a collect callback; a wrong label count or a label value
 * that is not UTF-8 drops the sample. */
void seam_metric_emit(struct seam_metric_sink *sink, double value,
                      size_t nvalues, const char *const *values);

/* A counter whose values come from a callback at scrape time: for counts
 * another subsystem keeps itself (atomics), which must only ever grow. */
struct seam_metric_family *
seam_metrics_counter_func(struct seam_metrics *m, const char *name,
                          const char *help, size_t nlabels,
                          const char *const *labels, seam_metric_collect_fn collect,
                          void *arg);

/* Drop one reference to a family (one per successful registration); the
 * last one removes it with its children. Once it returns, the family's
 * collect callback is not running and will not run again, so its `arg` may
 * be freed. Accepts NULL. */
void seam_metrics_unregister(struct seam_metrics *m,
                             struct seam_metric_family *f);

/* The child for these label values (exactly as many as the family has label
 * names, UTF-8), created at 0 on first use. NULL on a wrong count, invalid
 * UTF-8, a callback family, or out of memory. Takes the family's lock: look
 * up once, keep the pointer. A family without labels has its one child from
 * the start (pass SEAM_METRIC_NO_LABELS). */
struct seam_metric *seam_metric_get(struct seam_metric_family *f,
                                    size_t nvalues, const char *const *values);

/* Remove every child whose FIRST `nvalues` label values equal `values`:
 * all of them gives exact removal, fewer drops a group at once (labels
 * declared consumer, topic, partition, ...: dropping a revoked partition
 * from a family with extra labels is one call). Returns how many were
 * removed. Their pointers are invalid afterwards. */
int seam_metric_remove(struct seam_metric_family *f, size_t nvalues,
                       const char *const *values);

/* Hot path: lock-free, one atomic operation (a CAS loop for doubles). */
void seam_counter_inc(struct seam_metric *c);
void seam_counter_add_int(struct seam_metric *c, uint64_t n);
void seam_counter_add(struct seam_metric *c, double v); /* v < 0, NaN: ignored */
void seam_gauge_set(struct seam_metric *g, double v);
void seam_gauge_add(struct seam_metric *g, double v); /* v may be negative */
void seam_histogram_observe(struct seam_metric *h, double v);

/* Current value of a counter or gauge, or a histogram's sum; 0 for NULL. */
double seam_metric_value(const struct seam_metric *m);
/* Observations of a histogram; 0 for anything else. */
uint64_t seam_histogram_count(const struct seam_metric *h);

/* The whole registry in the text exposition format 0.0.4 (families in
 * registration order, children in creation order). Returns a malloc'ed,
 * NUL-terminated string (length in *len if not NULL), NULL if out of
 * memory. Serve it with Content-Type SEAM_METRICS_CONTENT_TYPE. */
char *seam_metrics_render(struct seam_metrics *m, size_t *len);

#define SEAM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
