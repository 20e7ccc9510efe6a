/* dead_letter.c - routing a poison message of a lane to the DLQ: the write
 * (by the worker that holds the lane), and the delivery report that
 * completes it (on the DLQ writer's thread). The source offset is complete
 * only once the broker acknowledged the DLQ record; a failed write pauses
 * the partition and is retried with backoff, never skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "consumer_internal.h"
#include "dlq.h"
#include "err.h"
#include "log.h"

struct dlq_token {
        struct seam_instance *inst;
        char *topic;
        int32_t partition;
        int64_t offset;
        const char *error_class;
};

void seam_lane_dead_letter(struct seam_instance *inst, struct lane *lane, const char *error_class,
                           const char *message, int64_t schema_id)
{
        rd_kafka_message_t *rkm = seam_lane_head(lane);
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        lc.consumer = inst->cc->name;
        lc.plugin = inst->plugin->def->name;
        lc.topic = lane->topic;
        lc.partition = lane->partition;
        lc.offset = rkm ? rkm->offset : -1;
        seam_log(SEAM_LOG_ERROR, &lc, "poison message (%s): %s; writing it to the DLQ",
                 error_class, message);
        free(lane->dlq_message);
        lane->dlq_message = strdup(message);
        lane->dlq_class = error_class;
        lane->dlq_schema_id = schema_id;
        lane->dlq_state = DLQ_WRITE_DUE;
        lane->dlq_failures = 0;
        atomic_store(&inst->housekeeping, 1); /* pause the partition meanwhile */
}

static void dlq_done(void *opaque, rd_kafka_resp_err_t err, const char *errstr)
{
        struct dlq_token *t = opaque;
        struct seam_instance *inst = t->inst;
        rd_kafka_message_t *finished = NULL;
        pthread_mutex_lock(&inst->lock);
        struct lane *lane = seam_lane_table_find(&inst->lanes, t->topic, t->partition);
        rd_kafka_message_t *head = lane ? seam_lane_head(lane) : NULL;
        /* The lane may have been revoked and recreated meanwhile: only the
         * same message, still waiting for this very write, is completed. */
        if (head && head->offset == t->offset && lane->dlq_state == DLQ_IN_FLIGHT) {
                struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
                lc.consumer = inst->cc->name;
                lc.topic = t->topic;
                lc.partition = t->partition;
                lc.offset = t->offset;
                if (!err) {
                        finished = seam_lane_finish_head(inst, lane);
                        atomic_fetch_add(&inst->dead_lettered, 1);
                        seam_counter_inc(inst->m.dead_lettered);
                        seam_counter_inc(seam_metric_get(inst->m.dlq_family, 2,
                                                         (const char *[]){inst->cc->name, t->error_class}));
                        seam_log(SEAM_LOG_INFO, &lc, "dead-lettered (%s)", t->error_class);
                        seam_lane_schedule(inst, lane);
                } else {
                        lane->dlq_state = DLQ_WRITE_DUE;
                        lane->dlq_failures++;
                        unsigned seed = (unsigned)t->offset ^ lane->dlq_failures;
                        int64_t delay = seam_retry_delay(inst->cc, lane->dlq_failures, &seed);
                        lane->retry_at = seam_mono_ms() + delay;
                        seam_counter_inc(inst->m.dlq_write_failures);
                        seam_log(SEAM_LOG_WARN, &lc,
                                 "DLQ write failed (%s); partition paused, writing again in "
                                 "%lld ms (nothing is committed past this message)",
                                 errstr ? errstr : rd_kafka_err2str(err), (long long)delay);
                }
                atomic_store(&inst->housekeeping, 1);
                pthread_cond_broadcast(&inst->idle_cv);
        }
        pthread_mutex_unlock(&inst->lock);
        if (finished)
                rd_kafka_message_destroy(finished);
        free(t->topic);
        free(t);
}

void seam_lane_dlq_send(struct seam_instance *inst, struct lane *lane)
{
        const struct seam_consumer_config *cc = inst->cc;
        const struct seam_plugin *def = inst->plugin->def;
        rd_kafka_message_t *rkm = seam_lane_head(lane);
        char dlq_topic[512];
        if (cc->dlq_topic)
                snprintf(dlq_topic, sizeof(dlq_topic), "%s", cc->dlq_topic);
        else
                snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", lane->topic);
        struct seam_dlq_record r = {
                .original = rkm,
                .dlq_topic = dlq_topic,
                .consumer = cc->name,
                .group = cc->group_id,
                .plugin_name = def->name,
                .plugin_version = def->version ? def->version : "",
                .error_class = lane->dlq_class,
                .error_message = lane->dlq_message ? lane->dlq_message : "",
                .attempts = lane->attempts,
                .first_failure_ms = lane->first_failure_ms,
                .last_failure_ms = lane->last_failure_ms,
                .schema_id = lane->dlq_schema_id,
        };
        struct dlq_token *t = calloc(1, sizeof(*t));
        char err[512] = "out of memory";
        int rc = SEAM_ERR_NOMEM;
        if (t && (t->topic = strdup(lane->topic))) {
                t->inst = inst;
                t->partition = lane->partition;
                t->offset = rkm->offset;
                t->error_class = lane->dlq_class;
                lane->dlq_state = DLQ_IN_FLIGHT;
                /* The worker holds the lane (running), so the message and the
                 * strings in `r` stay put while unlocked; the producer copies
                 * them. */
                pthread_mutex_unlock(&inst->lock);
                rc = inst->dlq ? seam_dlq_write(inst->dlq, &r, dlq_done, t, err, sizeof(err))
                               : SEAM_ERR_INVALID;
                if (!inst->dlq)
                        snprintf(err, sizeof(err), "no DLQ writer");
                pthread_mutex_lock(&inst->lock);
        }
        if (rc) {
                if (t)
                        free(t->topic);
                free(t);
                if (lane->dlq_state == DLQ_IN_FLIGHT)
                        lane->dlq_state = DLQ_WRITE_DUE;
                lane->dlq_failures++;
                unsigned seed = (unsigned)rkm->offset ^ lane->dlq_failures;
                lane->retry_at = seam_mono_ms() + seam_retry_delay(cc, lane->dlq_failures, &seed);
                seam_counter_inc(inst->m.dlq_write_failures);
                struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
                lc.consumer = cc->name;
                lc.topic = lane->topic;
                lc.partition = lane->partition;
                lc.offset = rkm->offset;
                char key[128];
                snprintf(key, sizeof(key), "dlq-send:%s", cc->name);
                seam_log_limited(key, 10000, SEAM_LOG_WARN, &lc,
                                 "DLQ write could not be queued: %s; retrying", err);
                atomic_store(&inst->housekeeping, 1);
        }
}
