/* consumer.h - one consumer instance: a librdkafka high-level consumer, its
 * poll thread, per-partition FIFO lanes and a worker pool running the
 * plugin, and the commit tracker that commits only handled offsets.
 *
 * Threads: the poll thread owns the rd_kafka handle (poll, rebalance,
 * pause/resume, commit). Workers take a lane, run handle() on its head
 * message, and record the outcome. One mutex per instance guards lanes and
 * trackers. */
#ifndef SEAM_CONSUMER_H
#define SEAM_CONSUMER_H

#include <stdint.h>

#include "config.h"
#include "loader.h"
#include "metrics.h"

struct seam_instance;

struct seam_instance_counters {
        uint64_t handled;   /* handle() returned OK */
        uint64_t retried;   /* handle() returned RETRY */
        uint64_t poisoned;  /* handle() returned POISON */
        uint64_t dead_lettered; /* acknowledged by the DLQ topic */
        uint64_t duplicates;    /* skipped: idempotency key already recorded */
        uint64_t rebalances;
        int assigned_partitions;
};

struct seam_dlq;

/* What an instance uses from the process; all borrowed, all may be NULL
 * except where said. They must outlive the instance. */
struct seam_instance_deps {
        const char *bootstrap_override; /* the embedded broker's address */
        struct seam_metrics *metrics;
        struct seam_dlq *dlq; /* required to dead-letter; without it a poison
                                 message waits, retried, never skipped */
        struct seam_registry *registry; /* required for format avro */
        struct seam_dedup *dedup_embedded; /* required for store: embedded */
        struct seam_dedup *dedup_postgres; /* required for store: postgres */
};

/* Creates the instance of cfg->consumers[idx]: checks the plugin's config
 * block, builds the librdkafka conf and handle (no network I/O is waited
 * for). `cfg` and `plugin` are borrowed and must outlive the instance. */
int seam_instance_new(const struct seam_config *cfg, size_t idx,
                      const struct seam_loaded_plugin *plugin,
                      const struct seam_instance_deps *deps,
                      struct seam_instance **out, char *errstr,
                      size_t errstr_size);

/* Runs the plugin's init(), subscribes and starts the threads. */
int seam_instance_start(struct seam_instance *inst, char *errstr,
                        size_t errstr_size);

/* Asks the instance to drain and stop; returns at once. Async-signal-safe
 * is NOT required: call it from a normal thread. */
void seam_instance_request_stop(struct seam_instance *inst);

/* True once the poll thread has finished (after a stop request or FATAL). */
int seam_instance_finished(struct seam_instance *inst);

/* Waits for the poll thread. Returns 0 after a clean drain, SEAM_ERR_DRAIN
 * if a handler was still running at the deadline, SEAM_ERR_FATAL if the
 * plugin returned FATAL. */
int seam_instance_join(struct seam_instance *inst);

void seam_instance_destroy(struct seam_instance *inst); /* accepts NULL */

const char *seam_instance_name(const struct seam_instance *inst);

/* One assigned partition as the metrics show it (see docs/metrics.md). */
struct seam_partition_view {
        const char *topic;
        int32_t partition;
        int64_t committed;      /* -1: nothing committed */
        int64_t high_watermark; /* -1: not known yet */
        int64_t lag_messages;   /* -1: not known yet */
        double lag_seconds;
        int paused;
};

/* Calls `fn` for every assigned partition, under the instance lock: `fn`
 * must not call back into the instance. */
void seam_instance_visit_partitions(struct seam_instance *inst,
                                    void (*fn)(void *arg,
                                               const struct seam_partition_view *v),
                                    void *arg);

/* Liveness: 0 if the poll loop and the handlers are alive, else -1 with the
 * reason in `why`. */
int seam_instance_alive(struct seam_instance *inst, char *why, size_t whylen);
/* Readiness: plugin initialised, not stopped, group joined. */
int seam_instance_ready(struct seam_instance *inst, char *why, size_t whylen);
/* 1 while running, 0 once stopped. */
int seam_instance_up(struct seam_instance *inst);
void seam_instance_counters(struct seam_instance *inst,
                            struct seam_instance_counters *out);

#endif
