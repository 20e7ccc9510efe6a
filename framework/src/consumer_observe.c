/* consumer_observe.c - what an instance shows the outside: the lag thread
 * (watermarks and committed offsets queried from the broker, so lag stays
 * right while a partition is paused), partition views for the metrics, and
 * the liveness and readiness checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "consumer_internal.h"
#include "dedup.h"
#include "err.h"
#include "log.h"

/* Bound of one broker query, so stopping the lag thread is quick. */
#define LAG_QUERY_TIMEOUT_MS 2000
#define DEDUP_EXPIRE_EVERY_MS (10 * 60 * 1000)

struct lane_key {
        char *topic;
        int32_t partition;
        int need_committed;
};

/* Snapshot of the lanes to query, taken under the lock; the queries run
 * without it. */
static struct lane_key *snapshot(struct seam_instance *inst, size_t *n)
{
        pthread_mutex_lock(&inst->lock);
        struct lane_key *keys = calloc(inst->lanes.count + 1, sizeof(*keys));
        *n = 0;
        for (size_t i = 0; keys && i < inst->lanes.count; i++) {
                struct lane *l = inst->lanes.items[i];
                keys[*n].topic = strdup(l->topic);
                keys[*n].partition = l->partition;
                keys[*n].need_committed = !l->committed_checked && l->committed < 0;
                if (keys[*n].topic)
                        (*n)++;
        }
        pthread_mutex_unlock(&inst->lock);
        return keys;
}

static void refresh(struct seam_instance *inst)
{
        size_t n;
        struct lane_key *keys = snapshot(inst, &n);
        if (!keys)
                return;
        rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new((int)n + 1);
        for (size_t i = 0; i < n && !atomic_load(&inst->lag_stopping); i++) {
                int64_t lo, hi;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                    inst->rk, keys[i].topic, keys[i].partition, &lo, &hi, LAG_QUERY_TIMEOUT_MS);
                if (keys[i].need_committed)
                        rd_kafka_topic_partition_list_add(ask, keys[i].topic, keys[i].partition);
                pthread_mutex_lock(&inst->lock);
                struct lane *l = seam_lane_table_find(&inst->lanes, keys[i].topic, keys[i].partition);
                if (l && !err) {
                        l->low_watermark = lo;
                        /* Never go below what was already fetched. */
                        if (hi > l->high_watermark || l->high_watermark < 0)
                                l->high_watermark = hi;
                        if (l->committed >= l->high_watermark)
                                l->caught_up_wall_ms = seam_wall_ms();
                }
                pthread_mutex_unlock(&inst->lock);
                if (err) {
                        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
                        lc.consumer = inst->cc->name;
                        lc.topic = keys[i].topic;
                        lc.partition = keys[i].partition;
                        char key[128];
                        snprintf(key, sizeof(key), "watermarks:%s", inst->cc->name);
                        seam_log_limited(key, 30000, SEAM_LOG_WARN, &lc,
                                         "querying watermarks for lag failed: %s",
                                         rd_kafka_err2str(err));
                }
        }
        /* The committed offset at assignment is the broker's; until the
         * first commit of ours it is the base of the lag. */
        if (ask->cnt && !atomic_load(&inst->lag_stopping) &&
            !rd_kafka_committed(inst->rk, ask, LAG_QUERY_TIMEOUT_MS)) {
                pthread_mutex_lock(&inst->lock);
                for (int i = 0; i < ask->cnt; i++) {
                        const rd_kafka_topic_partition_t *p = &ask->elems[i];
                        struct lane *l = seam_lane_table_find(&inst->lanes, p->topic, p->partition);
                        if (!l || p->err)
                                continue;
                        l->committed_checked = 1;
                        if (p->offset >= 0 && l->committed < p->offset)
                                l->committed = p->offset;
                }
                pthread_mutex_unlock(&inst->lock);
        }
        rd_kafka_topic_partition_list_destroy(ask);
        for (size_t i = 0; i < n; i++)
                free(keys[i].topic);
        free(keys);
}

/* Marks older than the retention go, from this background thread: a
 * store shared by instances is expired by each, which is harmless. */
static void expire_marks(struct seam_instance *inst, int64_t *next)
{
        int64_t now = seam_mono_ms();
        if (!inst->dedup || now < *next)
                return;
        *next = now + DEDUP_EXPIRE_EVERY_MS;
        char err[256];
        long n = seam_dedup_expire(inst->dedup, seam_wall_ms(), err, sizeof(err));
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        lc.consumer = inst->cc->name;
        if (n < 0)
                seam_log(SEAM_LOG_WARN, &lc, "expiring idempotency marks failed: %s", err);
        else if (n > 0)
                seam_log(SEAM_LOG_INFO, &lc, "expired %ld idempotency mark(s)", n);
}

static void *lag_main(void *arg)
{
        struct seam_instance *inst = arg;
        int64_t next_expire = 0;
        pthread_mutex_lock(&inst->lag_lock);
        while (!inst->lag_stop) {
                pthread_mutex_unlock(&inst->lag_lock);
                refresh(inst);
                expire_marks(inst, &next_expire);
                pthread_mutex_lock(&inst->lag_lock);
                if (inst->lag_stop)
                        break;
                if (!inst->lag_wake) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        int64_t ms = inst->cfg->lag_refresh_ms;
                        ts.tv_sec += ms / 1000;
                        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&inst->lag_cv, &inst->lag_lock, &ts);
                }
                inst->lag_wake = 0;
        }
        pthread_mutex_unlock(&inst->lag_lock);
        return NULL;
}

int seam_lag_start(struct seam_instance *inst)
{
        if (pthread_create(&inst->lag_thread, NULL, lag_main, inst))
                return SEAM_ERR_NOMEM;
        inst->lag_started = 1;
        return 0;
}

void seam_lag_stop(struct seam_instance *inst)
{
        if (!inst->lag_started)
                return;
        atomic_store(&inst->lag_stopping, 1);
        pthread_mutex_lock(&inst->lag_lock);
        inst->lag_stop = 1;
        pthread_cond_signal(&inst->lag_cv);
        pthread_mutex_unlock(&inst->lag_lock);
        pthread_join(inst->lag_thread, NULL);
        inst->lag_started = 0;
}

void seam_lag_wake(struct seam_instance *inst)
{
        pthread_mutex_lock(&inst->lag_lock);
        inst->lag_wake = 1;
        pthread_cond_signal(&inst->lag_cv);
        pthread_mutex_unlock(&inst->lag_lock);
}

/* See docs/metrics.md, "Lag, exactly". Lock held. */
static void view_of(struct seam_instance *inst, struct lane *l, int64_t now_wall,
                    struct seam_partition_view *v)
{
        v->topic = l->topic;
        v->partition = l->partition;
        v->committed = l->committed;
        v->high_watermark = l->high_watermark;
        v->paused = l->paused;
        v->lag_messages = -1;
        v->lag_seconds = 0;
        if (l->high_watermark < 0)
                return;
        int64_t base = l->committed;
        if (base < 0) {
                /* Nothing committed: where the consumer starts. */
                const struct seam_kv *reset = seam_kv_find(&inst->cc->kafka, "auto.offset.reset");
                int latest = !reset || !strcmp(reset->value, "latest") ||
                             !strcmp(reset->value, "largest") || !strcmp(reset->value, "end");
                base = l->first_fetched >= 0 ? l->first_fetched
                       : latest              ? l->high_watermark
                                             : l->low_watermark;
        }
        if (l->low_watermark >= 0 && base < l->low_watermark)
                base = l->low_watermark; /* retention deleted them */
        v->lag_messages = base < 0 ? -1 : l->high_watermark > base ? l->high_watermark - base : 0;
        if (v->lag_messages <= 0)
                return;
        int64_t off, ts;
        if (seam_tracker_first_from(l->tracker, base, &off, &ts) == 0 && ts >= 0)
                v->lag_seconds = (double)(now_wall - ts) / 1000.0;
        else
                v->lag_seconds = (double)(now_wall - l->caught_up_wall_ms) / 1000.0;
        if (v->lag_seconds < 0)
                v->lag_seconds = 0; /* producer clock ahead of ours */
}

void seam_instance_visit_partitions(struct seam_instance *inst,
                                    void (*fn)(void *arg, const struct seam_partition_view *v),
                                    void *arg)
{
        int64_t now = seam_wall_ms();
        pthread_mutex_lock(&inst->lock);
        for (size_t i = 0; i < inst->lanes.count; i++) {
                struct seam_partition_view v;
                view_of(inst, inst->lanes.items[i], now, &v);
                fn(arg, &v);
        }
        pthread_mutex_unlock(&inst->lock);
}

int seam_instance_up(struct seam_instance *inst)
{
        return inst->poll_started && !atomic_load(&inst->finished);
}

int seam_instance_alive(struct seam_instance *inst, char *why, size_t whylen)
{
        if (!inst->poll_started || atomic_load(&inst->finished))
                return 0; /* stopped instances are readiness's business */
        int64_t now = seam_mono_ms();
        int64_t last = atomic_load(&inst->last_poll_ms);
        if (last && now - last > inst->cfg->health_poll_stall_ms) {
                snprintf(why, whylen, "consumer %s: poll loop stalled for %lld ms", inst->cc->name,
                         (long long)(now - last));
                return -1;
        }
        for (int i = 0; i < inst->worker_count; i++) {
                int64_t since = atomic_load(&inst->worker_states[i].busy_since_ms);
                if (since && now - since > inst->cfg->health_handler_stall_ms) {
                        snprintf(why, whylen,
                                 "consumer %s: handler stuck for %lld ms on partition %d offset %lld",
                                 inst->cc->name, (long long)(now - since),
                                 atomic_load(&inst->worker_states[i].partition),
                                 (long long)atomic_load(&inst->worker_states[i].offset));
                        return -1;
                }
        }
        return 0;
}

int seam_instance_ready(struct seam_instance *inst, char *why, size_t whylen)
{
        if (!inst->plugin_initialised && !atomic_load(&inst->finished)) {
                snprintf(why, whylen, "consumer %s: plugin not initialised", inst->cc->name);
                return -1;
        }
        pthread_mutex_lock(&inst->lock);
        int fatal = inst->fatal, joined = inst->joined;
        pthread_mutex_unlock(&inst->lock);
        if (fatal || atomic_load(&inst->finished)) {
                snprintf(why, whylen, "consumer %s: stopped%s", inst->cc->name,
                         fatal ? " (FATAL)" : "");
                return -1;
        }
        if (!joined) {
                snprintf(why, whylen, "consumer %s: not joined its group yet", inst->cc->name);
                return -1;
        }
        pthread_mutex_lock(&inst->lock);
        int waiting = 0;
        for (size_t i = 0; i < inst->lanes.count && !waiting; i++)
                waiting = inst->lanes.items[i]->waiting_registry;
        pthread_mutex_unlock(&inst->lock);
        if (waiting) {
                snprintf(why, whylen,
                         "consumer %s: schema registry unreachable and a schema id is not cached",
                         inst->cc->name);
                return -1;
        }
        return 0;
}
