#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "registry.h"
#include "runtime.h"

struct seam_observer {
        struct seam_runtime *rt;
        struct seam_metrics *metrics;
        struct seam_http_server *http;
};

enum partition_field { PF_COMMITTED, PF_HIGH_WATERMARK, PF_LAG_MESSAGES, PF_LAG_SECONDS, PF_PAUSED };

struct partition_collect {
        struct seam_observer *o;
        enum partition_field field;
};

struct emit_ctx {
        struct seam_metric_sink *sink;
        enum partition_field field;
        const char *consumer;
};

static void emit_partition(void *arg, const struct seam_partition_view *v)
{
        struct emit_ctx *e = arg;
        double value;
        switch (e->field) {
        case PF_COMMITTED: value = (double)v->committed; break;
        case PF_HIGH_WATERMARK:
                if (v->high_watermark < 0)
                        return; /* not known yet: no sample beats a wrong one */
                value = (double)v->high_watermark;
                break;
        case PF_LAG_MESSAGES:
                if (v->lag_messages < 0)
                        return;
                value = (double)v->lag_messages;
                break;
        case PF_LAG_SECONDS:
                if (v->lag_messages < 0)
                        return;
                value = v->lag_seconds;
                break;
        default: value = v->paused; break;
        }
        char partition[16];
        snprintf(partition, sizeof(partition), "%d", (int)v->partition);
        seam_metric_emit(e->sink, value, 3, (const char *[]){e->consumer, v->topic, partition});
}

static void collect_partitions(void *arg, struct seam_metric_sink *sink)
{
        struct partition_collect *pc = arg;
        struct seam_runtime *rt = pc->o->rt;
        for (size_t i = 0; i < seam_runtime_instance_count(rt); i++) {
                struct seam_instance *inst = seam_runtime_instance(rt, i);
                struct emit_ctx e = {sink, pc->field, seam_instance_name(inst)};
                seam_instance_visit_partitions(inst, emit_partition, &e);
        }
}

int seam_observer_ready(struct seam_observer *o, char *why, size_t whylen)
{
        for (size_t i = 0; i < seam_runtime_instance_count(o->rt); i++)
                if (seam_instance_ready(seam_runtime_instance(o->rt, i), why, whylen))
                        return 0;
        return 1;
}

static void collect_ready(void *arg, struct seam_metric_sink *sink)
{
        char why[256];
        seam_metric_emit(sink, seam_observer_ready(arg, why, sizeof(why)), 0, NULL);
}

/* Health checks: one line per failing instance. */
static int check_all(struct seam_observer *o, int liveness, char *why, size_t whylen)
{
        size_t used = 0;
        int failed = 0;
        why[0] = '\0';
        for (size_t i = 0; i < seam_runtime_instance_count(o->rt); i++) {
                struct seam_instance *inst = seam_runtime_instance(o->rt, i);
                char one[256];
                int rc = liveness ? seam_instance_alive(inst, one, sizeof(one))
                                  : seam_instance_ready(inst, one, sizeof(one));
                if (!rc)
                        continue;
                failed = 1;
                int n = snprintf(why + used, whylen - used, "%s%s", used ? "; " : "", one);
                if (n > 0 && (size_t)n < whylen - used)
                        used += (size_t)n;
        }
        return failed ? -1 : 0;
}

static int check_alive(void *arg, char *why, size_t whylen)
{
        return check_all(arg, 1, why, whylen);
}

static int check_ready(void *arg, char *why, size_t whylen)
{
        return check_all(arg, 0, why, whylen);
}

static const struct {
        const char *name;
        const char *help;
        enum partition_field field;
} partition_families[] = {
        {"seam_partition_committed_offset",
         "Last offset the broker acknowledged for the group (-1: none yet).", PF_COMMITTED},
        {"seam_partition_high_watermark_offset",
         "End offset of the partition, queried from the broker.", PF_HIGH_WATERMARK},
        {"seam_partition_lag_messages", "High watermark minus committed offset.",
         PF_LAG_MESSAGES},
        {"seam_partition_lag_seconds",
         "Age of the oldest message not yet committed; 0 when caught up.", PF_LAG_SECONDS},
        {"seam_partition_paused", "1 while seam holds the partition paused.", PF_PAUSED},
};

static struct partition_collect collects[5];

/* The registry keeps its own counters (atomics); they are read at scrape
 * time. Zero without a registry (no consumer of format avro). */
static struct seam_observer *registry_observer;

static const struct registry_family {
        const char *name;
        const char *help;
        int which;
} registry_families[] = {
        {"seam_registry_fetches_total", "Schema fetches from the registry (HTTP attempts).", 0},
        {"seam_registry_cache_hits_total",
         "Schema lookups served from cache (memory or, during an outage, disk).", 1},
        {"seam_registry_failures_total",
         "Registry requests that failed (unreachable, 5xx, timeout).", 2},
};

static void collect_registry(void *arg, struct seam_metric_sink *sink)
{
        const struct registry_family *rf = arg;
        struct seam_registry *reg =
            registry_observer ? seam_runtime_registry(registry_observer->rt) : NULL;
        struct seam_registry_stats *st = reg ? seam_registry_stats(reg) : NULL;
        uint64_t v = 0;
        if (st) {
                switch (rf->which) {
                case 0: v = atomic_load(&st->fetches); break;
                case 1: v = atomic_load(&st->cache_hits) + atomic_load(&st->disk_hits); break;
                default: v = atomic_load(&st->failures); break;
                }
        }
        seam_metric_emit(sink, (double)v, 0, NULL);
}

int seam_observer_new(const struct seam_config *cfg, struct seam_runtime *rt,
                      struct seam_metrics *metrics, struct seam_observer **out,
                      char *errstr, size_t errstr_size)
{
        struct seam_observer *o = calloc(1, sizeof(*o));
        if (!o)
                return SEAM_ERR_NOMEM;
        o->rt = rt;
        o->metrics = metrics;
        registry_observer = o;
        for (size_t i = 0; i < 5; i++) {
                /* One observer per process: the collect args can be static. */
                collects[i] = (struct partition_collect){o, partition_families[i].field};
                seam_metrics_gauge_func(metrics, partition_families[i].name,
                                        partition_families[i].help,
                                        SEAM_METRIC_LABELS("consumer", "topic", "partition"),
                                        collect_partitions, &collects[i]);
        }
        seam_metrics_gauge_func(metrics, "seam_process_ready",
                                "1 when /readyz would answer 200.", SEAM_METRIC_NO_LABELS,
                                collect_ready, o);
        /* Families of subsystems that report through them; exported even
         * when the subsystem is not configured, so dashboards and alerts see
         * zeros rather than nothing. */
        seam_metrics_counter(metrics, "seam_dlq_messages_total",
                             "Records written to the DLQ by error class.",
                             SEAM_METRIC_LABELS("consumer", "class"));
        seam_metrics_counter(metrics, "seam_dlq_write_failures_total",
                             "DLQ writes that failed and will be retried.",
                             SEAM_METRIC_LABELS("consumer"));
        for (size_t i = 0; i < 3; i++)
                seam_metrics_counter_func(metrics, registry_families[i].name,
                                          registry_families[i].help, SEAM_METRIC_NO_LABELS,
                                          collect_registry, (void *)&registry_families[i]);
        seam_metrics_histogram(metrics, "seam_dedup_duration_seconds",
                               "Idempotency store latency.",
                               SEAM_METRIC_LABELS("consumer", "op"), NULL, 0);

        if (cfg->http_port > 0) {
                int err = seam_http_server_start(cfg->http_bind, cfg->http_port, metrics, &o->http,
                                                 errstr, errstr_size);
                if (err) {
                        seam_observer_destroy(o);
                        return err;
                }
                seam_http_server_add_check(o->http, SEAM_HEALTH_LIVENESS, "consumers", check_alive, o);
                seam_http_server_add_check(o->http, SEAM_HEALTH_READINESS, "consumers", check_ready, o);
                seam_log_info("serving /metrics, /healthz, /readyz on %s:%d",
                              cfg->http_bind ? cfg->http_bind : "127.0.0.1",
                              seam_http_server_port(o->http));
        }
        *out = o;
        return 0;
}

int seam_observer_port(const struct seam_observer *o)
{
        return o && o->http ? seam_http_server_port(o->http) : -1;
}

void seam_observer_destroy(struct seam_observer *o)
{
        if (!o)
                return;
        seam_http_server_stop(o->http);
        if (registry_observer == o)
                registry_observer = NULL;
        free(o);
}
