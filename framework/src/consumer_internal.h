/* consumer_internal.h - the state shared by consumer.c (poll thread,
 * rebalance, commit) and worker.c (the worker pool). Not for other files. */
#ifndef SEAM_CONSUMER_INTERNAL_H
#define SEAM_CONSUMER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "consumer.h"
#include "dlq.h"
#include "host_api.h"
#include "lane.h"
#include "metrics.h"
#include "plugin_config.h"
#include "schema_stage.h"

/* The instance's series, created once at start so the hot path only does
 * atomic adds. All may be NULL (no metrics registry): the metric calls
 * accept NULL. */
struct seam_instance_metrics {
        struct seam_metric *handled, *duplicate, *dead_lettered, *poison;
        struct seam_metric *retries, *rebalances, *assigned, *up;
        struct seam_metric *handler_duration;
        struct seam_metric_family *dlq_family; /* by class */
        struct seam_metric *dedup_check, *dedup_mark; /* latency histograms */
        struct seam_metric *dlq_write_failures;
};

/* What one worker is doing, for the liveness check. */
struct worker_state {
        atomic_llong busy_since_ms; /* 0: idle */
        /* The message it handles, copied: the lane may go away. */
        atomic_int partition;
        atomic_llong offset;
        struct seam_decode_slot slot; /* this worker's reader value */
};

struct seam_instance {
        const char *log_name; /* FIRST: read by librdkafka's log callbacks */
        const struct seam_config *cfg;
        const struct seam_consumer_config *cc;
        const struct seam_loaded_plugin *plugin;
        struct seam_plugin_config plugin_config;
        struct seam_ctx ctx;
        void *plugin_state;
        int plugin_initialised;

        rd_kafka_t *rk;
        pthread_t poll_thread;
        int poll_started;
        pthread_t *workers;
        struct worker_state *worker_states;
        int worker_count;

        struct seam_metrics *metrics; /* borrowed, may be NULL */
        struct seam_dlq *dlq;         /* borrowed, shared by the process */
        struct seam_schema_stage *schema_stage; /* NULL: format raw */
        struct seam_dedup *dedup;     /* borrowed; NULL: store none */

        struct seam_instance_metrics m;

        /* The lag thread: queries watermarks and committed offsets. */
        pthread_t lag_thread;
        int lag_started;
        int lag_stop;     /* under lag_lock */
        atomic_int lag_stopping; /* read by a refresh in progress */
        int lag_wake;     /* under lag_lock */
        pthread_mutex_t lag_lock;
        pthread_cond_t lag_cv;
        atomic_llong last_poll_ms;
        int joined; /* a rebalance assigned partitions at least once */
        int64_t commit_hold_until; /* periodic commits wait (rebalance) */

        pthread_mutex_t lock;
        pthread_cond_t work_cv; /* workers: a lane became ready / stop */
        pthread_cond_t idle_cv; /* poll thread: a lane stopped running */
        struct lane_table lanes;
        struct lane_table orphans; /* revoked while a handler hung */
        struct lane *ready_head, *ready_tail;
        int workers_stop;
        int draining;
        int fatal;              /* a handler returned FATAL */
        int abandoned;          /* a handler hung past the drain deadline */

        atomic_int stop_requested;
        atomic_int housekeeping; /* a worker changed a lane's state */
        atomic_int finished;
        int result; /* seam_instance_join's return value */

        atomic_uint_fast64_t handled, retried, poisoned, dead_lettered, duplicates, rebalances;
        atomic_int assigned;
};

/* consumer_observe.c */
int seam_lag_start(struct seam_instance *inst);
void seam_lag_stop(struct seam_instance *inst);
/* Makes the lag thread refresh now (after an assignment). */
void seam_lag_wake(struct seam_instance *inst);

/* worker.c */
int seam_workers_start(struct seam_instance *inst);
/* Stops and joins the workers; with `abandon`, a worker stuck in handle()
 * is detached instead of joined. */
void seam_workers_stop(struct seam_instance *inst, int abandon);
/* Puts a lane on the ready list if it has work and may run (lock held). */
void seam_lane_schedule(struct seam_instance *inst, struct lane *lane);
/* Takes a lane off the ready list (lock held). */
void seam_lane_unschedule(struct seam_instance *inst, struct lane *lane);
/* Completes the head message (lock held); the caller destroys the returned
 * message outside the lock. */
rd_kafka_message_t *seam_lane_finish_head(struct seam_instance *inst, struct lane *lane);
/* Exponential backoff with jitter for attempt number `attempt` (1-based). */
int64_t seam_retry_delay(const struct seam_consumer_config *cc, uint32_t attempt, unsigned *seed);

/* dead_letter.c (lock held): decide to dead-letter the head message, and
 * send it (only by the worker holding the lane). */
void seam_lane_dead_letter(struct seam_instance *inst, struct lane *lane, const char *error_class,
                           const char *message, int64_t schema_id);
void seam_lane_dlq_send(struct seam_instance *inst, struct lane *lane);

#endif
