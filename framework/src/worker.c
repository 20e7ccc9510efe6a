/* worker.c - the worker pool of one consumer instance. A worker takes a
 * ready lane, runs the head message through the pipeline outside the lock,
 * and routes the outcome (complete, retry later, dead-letter, stop). It
 * keeps the lane for a short batch of messages so a busy partition costs
 * one lock round trip per message, not two. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "consumer_internal.h"
#include "err.h"
#include "log.h"
#include "pipeline.h"

/* Messages a worker handles from one lane before giving others a turn. */
#define LANE_BATCH 64

void seam_lane_schedule(struct seam_instance *inst, struct lane *lane)
{
        if (lane->running || lane->in_ready || lane->revoked || lane->stopped ||
            lane->retry_at || lane->retry_commit || lane->dlq_state == DLQ_IN_FLIGHT ||
            !lane->qcount || inst->draining)
                return;
        lane->in_ready = 1;
        lane->ready_next = NULL;
        if (inst->ready_tail)
                inst->ready_tail->ready_next = lane;
        else
                inst->ready_head = lane;
        inst->ready_tail = lane;
        pthread_cond_signal(&inst->work_cv);
}

void seam_lane_unschedule(struct seam_instance *inst, struct lane *lane)
{
        if (!lane->in_ready)
                return;
        struct lane **pp = &inst->ready_head, *prev = NULL;
        while (*pp && *pp != lane) {
                prev = *pp;
                pp = &(*pp)->ready_next;
        }
        if (*pp) {
                *pp = lane->ready_next;
                if (inst->ready_tail == lane)
                        inst->ready_tail = prev;
        }
        lane->in_ready = 0;
        lane->ready_next = NULL;
}

static struct lane *pop_ready(struct seam_instance *inst)
{
        struct lane *lane = inst->ready_head;
        if (!lane)
                return NULL;
        inst->ready_head = lane->ready_next;
        if (!inst->ready_head)
                inst->ready_tail = NULL;
        lane->in_ready = 0;
        return lane;
}

int64_t seam_retry_delay(const struct seam_consumer_config *cc, uint32_t attempt, unsigned *seed)
{
        double d = (double)cc->retry_backoff_ms;
        for (uint32_t i = 1; i < attempt && d < (double)cc->retry_backoff_max_ms; i++)
                d *= cc->retry_multiplier;
        if (d > (double)cc->retry_backoff_max_ms)
                d = (double)cc->retry_backoff_max_ms;
        /* Jitter, so partitions that failed together do not retry in
         * lockstep against a recovering sink. */
        double r = (double)rand_r(seed) / RAND_MAX;
        d *= 1.0 - cc->retry_jitter + 2.0 * cc->retry_jitter * r;
        return d < 1 ? 1 : (int64_t)d;
}

/* Completes the head message (lock held); returns it for the caller to
 * destroy outside the lock. */
rd_kafka_message_t *seam_lane_finish_head(struct seam_instance *inst, struct lane *lane)
{
        rd_kafka_message_t *rkm = seam_lane_pop(lane);
        seam_tracker_complete(lane->tracker, rkm->offset);
        lane->attempts = 0;
        lane->first_failure_ms = lane->last_failure_ms = 0;
        lane->dlq_state = DLQ_NONE;
        lane->dlq_failures = 0;
        lane->dlq_schema_id = -1;
        free(lane->dlq_message);
        lane->dlq_message = NULL;
        lane->handled++;
        (void)inst;
        return rkm;
}

static void run_pipeline(struct seam_instance *inst, struct seam_msg *m,
                         struct worker_state *ws, int reprocess, struct seam_outcome *out)
{
        struct seam_pipeline p = {
                .def = inst->plugin->def,
                .plugin_state = inst->plugin_state,
                .cc = inst->cc,
                .schema_stage = inst->schema_stage,
                .dedup = inst->dedup,
                .scope = inst->cc->group_id,
                .check_latency = inst->m.dedup_check,
        };
        seam_pipeline_run(&p, m, &ws->slot, reprocess, out);
}

/* Applies one outcome (lock held). Returns 1 if the head was finished. */
static int apply_outcome(struct seam_instance *inst, struct lane *lane, struct seam_msg *m,
                         struct seam_outcome *o, unsigned *seed)
{
        /* Readiness: is this partition held by the registry? */
        lane->waiting_registry = o->result == SEAM_TRANSIENT && o->transient_cause &&
                                 !strcmp(o->transient_cause, "registry");
        switch ((int)o->result) {
        case SEAM_OK:
                atomic_fetch_add(&inst->handled, 1);
                seam_counter_inc(inst->m.handled);
                return 1;
        case SEAM_DUPLICATE:
                /* Not an attempt: the plugin was not called. */
                atomic_fetch_add(&inst->duplicates, 1);
                seam_counter_inc(inst->m.duplicate);
                return 1;
        default:
                break;
        }
        /* Failures only from here: they may log and need the time. */
        struct seam_log_ctx lc = seam_msg_log_ctx(m);
        int64_t now = seam_wall_ms();
        switch ((int)o->result) {
        case SEAM_RETRY:
                if (!lane->first_failure_ms)
                        lane->first_failure_ms = now;
                lane->last_failure_ms = now;
                atomic_fetch_add(&inst->retried, 1);
                seam_counter_inc(inst->m.retries);
                if (lane->attempts >= (uint32_t)inst->cc->retry_max_attempts) {
                        char reason[sizeof(o->message) + 64];
                        snprintf(reason, sizeof(reason), "gave up after %u attempts: %s",
                                 lane->attempts, o->message);
                        seam_lane_dead_letter(inst, lane, "retries_exhausted", reason, o->schema_id);
                        return 0;
                }
                int64_t delay = seam_retry_delay(inst->cc, lane->attempts, seed);
                /* The attempt count is committed (with the offset's
                 * metadata) when the retry is due, before it starts. */
                lane->retry_at = seam_mono_ms() + delay;
                seam_log(SEAM_LOG_WARN, &lc,
                         "handler asked to retry (attempt %u of %d): %s; partition paused, "
                         "retrying the same message in %lld ms",
                         lane->attempts, inst->cc->retry_max_attempts, o->message,
                         (long long)delay);
                break;
        case SEAM_TRANSIENT: {
                /* Not the message's fault: the attempt does not count. */
                lane->attempts--;
                lane->dlq_failures++;
                int64_t wait = seam_retry_delay(inst->cc, lane->dlq_failures, seed);
                lane->retry_at = seam_mono_ms() + wait;
                char key[128];
                snprintf(key, sizeof(key), "transient:%s", inst->cc->name);
                seam_log_limited(key, 10000, SEAM_LOG_WARN, &lc,
                                 "%s; partition paused, trying the same message again in %lld ms "
                                 "(not dead-lettered)",
                                 o->message, (long long)wait);
                break;
        }
        case SEAM_POISON:
                atomic_fetch_add(&inst->poisoned, 1);
                if (!lane->first_failure_ms)
                        lane->first_failure_ms = now;
                lane->last_failure_ms = now;
                if (strcmp(o->poison_class, "handler"))
                        lane->attempts--; /* the handler never saw it */
                seam_lane_dead_letter(inst, lane, o->poison_class, o->message, o->schema_id);
                break;
        case SEAM_FATAL:
        default:
                lane->stopped = 1;
                inst->fatal = 1;
                if (o->result == SEAM_FATAL)
                        seam_log(SEAM_LOG_ERROR, &lc,
                                 "handler returned FATAL: %s; stopping consumer instance",
                                 o->message);
                else
                        seam_log(SEAM_LOG_ERROR, &lc,
                                 "handler returned an invalid result %d; treated as "
                                 "FATAL, stopping consumer instance",
                                 (int)o->result);
                break;
        }
        atomic_store(&inst->housekeeping, 1);
        return 0;
}

struct worker_arg {
        struct seam_instance *inst;
        struct worker_state *state;
};

/* Runs the head message of a lane the worker holds (lock held on entry and
 * exit). Returns 1 if the head was finished and the worker may go on with
 * the next message of the lane. */
static int run_head(struct seam_instance *inst, struct lane *lane, struct worker_state *ws,
                    unsigned *seed)
{
        rd_kafka_message_t *rkm = seam_lane_head(lane);
        if (lane->dlq_state == DLQ_WRITE_DUE) {
                seam_lane_dlq_send(inst, lane);
                return 0;
        }
        if (lane->restore_offset >= 0 && lane->restore_offset == rkm->offset) {
                /* Attempts of an earlier owner of this partition count. */
                lane->attempts = lane->restore_attempts;
                lane->first_failure_ms = lane->restore_first_ms;
                lane->last_failure_ms = lane->restore_last_ms;
                lane->restore_offset = -1;
        }
        lane->attempts++;
        if (lane->attempts > (uint32_t)inst->cc->retry_max_attempts) {
                /* Started that many times already (a crash or a kill
                 * interrupted the earlier attempts): do not try again. */
                char reason[256];
                snprintf(reason, sizeof(reason),
                         "attempt %u exceeds retry_max_attempts %d (earlier attempts were "
                         "interrupted by a restart or rebalance)",
                         lane->attempts, inst->cc->retry_max_attempts);
                lane->attempts--;
                seam_lane_dead_letter(inst, lane, "retries_exhausted", reason, -1);
                seam_lane_dlq_send(inst, lane);
                return 0;
        }

        struct seam_msg m;
        struct seam_outcome o;
        seam_msg_init(&m, rkm, &inst->ctx, lane->attempts - 1);
        int reprocess = rkm->offset < lane->reprocess_until;
        pthread_mutex_unlock(&inst->lock);

        int64_t t0 = seam_mono_ns();
        atomic_store(&ws->partition, lane->partition);
        atomic_store(&ws->offset, rkm->offset);
        atomic_store(&ws->busy_since_ms, t0 / 1000000);
        run_pipeline(inst, &m, ws, reprocess, &o);
        atomic_store(&ws->busy_since_ms, 0);
        seam_histogram_observe(inst->m.handler_duration, (double)(seam_mono_ns() - t0) / 1e9);

        pthread_mutex_lock(&inst->lock);
        int finished = apply_outcome(inst, lane, &m, &o, seed);
        seam_msg_release(&m);
        if (finished) {
                seam_lane_finish_head(inst, lane);
                /* Destroying a message takes librdkafka locks of its own: do
                 * it outside ours. */
                pthread_mutex_unlock(&inst->lock);
                rd_kafka_message_destroy(rkm);
                pthread_mutex_lock(&inst->lock);
        } else if (lane->dlq_state == DLQ_WRITE_DUE) {
                seam_lane_dlq_send(inst, lane);
        }
        return finished;
}

static void *worker_main(void *arg)
{
        struct worker_arg wa = *(struct worker_arg *)arg;
        free(arg);
        struct seam_instance *inst = wa.inst;
        unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;

        pthread_mutex_lock(&inst->lock);
        for (;;) {
                struct lane *lane;
                while (!(lane = pop_ready(inst)) && !inst->workers_stop)
                        pthread_cond_wait(&inst->work_cv, &inst->lock);
                if (!lane)
                        break;
                lane->running = 1;
                for (int n = 0; n < LANE_BATCH; n++) {
                        if (!run_head(inst, lane, wa.state, &seed) || !lane->qcount ||
                            lane->revoked || inst->draining || inst->fatal)
                                break;
                }
                lane->running = 0;
                seam_lane_schedule(inst, lane);
                pthread_cond_broadcast(&inst->idle_cv);
        }
        pthread_mutex_unlock(&inst->lock);
        seam_decode_slot_release(&wa.state->slot);
        return NULL;
}

int seam_workers_start(struct seam_instance *inst)
{
        inst->workers = calloc((size_t)inst->cc->workers, sizeof(pthread_t));
        inst->worker_states = calloc((size_t)inst->cc->workers, sizeof(struct worker_state));
        if (!inst->workers || !inst->worker_states)
                return SEAM_ERR_NOMEM;
        for (int i = 0; i < inst->cc->workers; i++) {
                struct worker_arg *wa = malloc(sizeof(*wa));
                if (!wa)
                        return SEAM_ERR_NOMEM;
                *wa = (struct worker_arg){inst, &inst->worker_states[i]};
                if (pthread_create(&inst->workers[i], NULL, worker_main, wa)) {
                        free(wa);
                        return SEAM_ERR_NOMEM;
                }
                inst->worker_count++;
        }
        return 0;
}

void seam_workers_stop(struct seam_instance *inst, int abandon)
{
        pthread_mutex_lock(&inst->lock);
        inst->workers_stop = 1;
        pthread_cond_broadcast(&inst->work_cv);
        pthread_mutex_unlock(&inst->lock);
        for (int i = 0; i < inst->worker_count; i++) {
                if (abandon)
                        pthread_detach(inst->workers[i]);
                else
                        pthread_join(inst->workers[i], NULL);
        }
        inst->worker_count = 0;
        free(inst->workers);
        inst->workers = NULL;
        if (!abandon) {
                free(inst->worker_states);
                inst->worker_states = NULL;
        }
}
