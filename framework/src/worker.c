/* worker.c - the worker pool of one consumer instance. A worker takes a
 * ready lane, runs handle() on its head message outside the lock, and
 * records the outcome; it keeps the lane for a short batch of messages so
 * a busy partition costs one lock round trip per message, not two. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "consumer_internal.h"
#include "err.h"
#include "log.h"

/* Messages a worker handles from one lane before giving others a turn. */
#define LANE_BATCH 64

void seam_lane_schedule(struct seam_instance *inst, struct lane *lane)
{
        if (lane->running || lane->in_ready || lane->revoked || lane->stopped ||
            lane->retry_at || !lane->qcount || inst->draining)
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

/* Exponential backoff with +-20% jitter, so partitions that failed together
 * do not retry in lockstep. */
static int64_t retry_delay(const struct seam_consumer_config *cc, uint32_t attempt,
                           unsigned *seed)
{
        int64_t d = cc->retry_backoff_ms;
        for (uint32_t i = 1; i < attempt && d < cc->retry_backoff_max_ms; i++)
                d *= 2;
        if (d > cc->retry_backoff_max_ms)
                d = cc->retry_backoff_max_ms;
        double jitter = 0.8 + 0.4 * ((double)rand_r(seed) / RAND_MAX);
        return (int64_t)((double)d * jitter);
}

static const char *reason_of(const struct seam_msg *m)
{
        return m->error ? m->error : "no reason given";
}

/* Applies one outcome (lock held). Returns 1 if the head was finished. */
static int apply_result(struct seam_instance *inst, struct lane *lane,
                        struct seam_msg *m, seam_result res, unsigned *seed)
{
        struct seam_log_ctx lc = seam_msg_log_ctx(m);
        switch (res) {
        case SEAM_OK:
                seam_tracker_complete(lane->tracker, m->rkm->offset);
                seam_lane_pop(lane);
                lane->attempt = 0;
                lane->handled++;
                atomic_fetch_add(&inst->handled, 1);
                seam_counter_inc(inst->m.handled);
                return 1;
        case SEAM_RETRY: {
                lane->attempt++;
                int64_t delay = retry_delay(inst->cc, lane->attempt, seed);
                lane->retry_at = seam_mono_ms() + delay;
                atomic_fetch_add(&inst->retried, 1);
                seam_counter_inc(inst->m.retries);
                seam_log(SEAM_LOG_WARN, &lc,
                         "handler asked to retry (attempt %u): %s; partition paused, "
                         "retrying the same message in %lld ms",
                         lane->attempt, reason_of(m), (long long)delay);
                break;
        }
        case SEAM_POISON:
                /* Until the dead-letter queue exists the message is not
                 * skipped: the partition stops here, nothing past it is
                 * committed, and an operator decides. */
                lane->stopped = 1;
                atomic_fetch_add(&inst->poisoned, 1);
                seam_counter_inc(inst->m.poison);
                seam_log(SEAM_LOG_ERROR, &lc,
                         "handler rejected the message as POISON: %s; partition "
                         "stopped at this offset (not skipped, not committed)",
                         reason_of(m));
                break;
        case SEAM_FATAL:
        default:
                lane->stopped = 1;
                inst->fatal = 1;
                if (res == SEAM_FATAL)
                        seam_log(SEAM_LOG_ERROR, &lc,
                                 "handler returned FATAL: %s; stopping consumer instance",
                                 reason_of(m));
                else
                        seam_log(SEAM_LOG_ERROR, &lc,
                                 "handler returned an invalid result %d; treated as "
                                 "FATAL, stopping consumer instance",
                                 (int)res);
                break;
        }
        atomic_store(&inst->housekeeping, 1);
        return 0;
}

struct worker_arg {
        struct seam_instance *inst;
        struct worker_state *state;
};

static void *worker_main(void *arg)
{
        struct worker_arg wa = *(struct worker_arg *)arg;
        free(arg);
        struct seam_instance *inst = wa.inst;
        struct worker_state *ws = wa.state;
        const struct seam_plugin *def = inst->plugin->def;
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
                        rd_kafka_message_t *rkm = seam_lane_head(lane);
                        struct seam_msg m;
                        seam_msg_init(&m, rkm, &inst->ctx, lane->attempt);
                        pthread_mutex_unlock(&inst->lock);

                        int64_t t0 = seam_mono_ns();
                        atomic_store(&ws->partition, lane->partition);
                        atomic_store(&ws->offset, rkm->offset);
                        atomic_store(&ws->busy_since_ms, t0 / 1000000);
                        seam_result res = def->handle(inst->plugin_state, &m);
                        atomic_store(&ws->busy_since_ms, 0);
                        seam_histogram_observe(inst->m.handler_duration,
                                               (double)(seam_mono_ns() - t0) / 1e9);

                        pthread_mutex_lock(&inst->lock);
                        int finished = apply_result(inst, lane, &m, res, &seed);
                        seam_msg_release(&m);
                        if (finished) {
                                /* Destroying a message takes librdkafka locks of
                                 * its own: do it outside ours. */
                                pthread_mutex_unlock(&inst->lock);
                                rd_kafka_message_destroy(rkm);
                                pthread_mutex_lock(&inst->lock);
                        }
                        if (!finished || !lane->qcount || lane->revoked || inst->draining ||
                            inst->fatal)
                                break;
                }
                lane->running = 0;
                seam_lane_schedule(inst, lane);
                pthread_cond_broadcast(&inst->idle_cv);
        }
        pthread_mutex_unlock(&inst->lock);
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
