/* consumer.c - a consumer instance's lifecycle and its poll thread: fetch
 * and dispatch to lanes, pause/resume, rebalance, commit, drain. */
#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "consumer_internal.h"
#include "err.h"
#include "inbox.h"
#include "kafka_conf.h"
#include "log.h"

/* Messages taken from librdkafka per lock round trip. */
#define POLL_BATCH 256
/* How often the poll thread looks at lane states when nothing changed. */
#define HOUSEKEEPING_MS 10
/* Handled-but-uncommitted messages a partition may hold (commits failing
 * for a long time): pausing there bounds memory and the redelivery a crash
 * would cause. */
#define SEAM_MAX_UNCOMMITTED 200000
/* How long periodic commits pause after the group said it is rebalancing. */
#define COMMIT_HOLD_MS 10000

static struct seam_log_ctx inst_log_ctx(const struct seam_instance *inst)
{
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        lc.consumer = inst->cc->name;
        lc.plugin = inst->plugin->def->name;
        return lc;
}

static struct seam_log_ctx lane_log_ctx(const struct seam_instance *inst,
                                        const struct lane *lane, int64_t offset)
{
        struct seam_log_ctx lc = inst_log_ctx(inst);
        lc.topic = lane->topic;
        lc.partition = lane->partition;
        lc.offset = offset;
        return lc;
}

/* ---- commit ---------------------------------------------------------- */

static struct lane *find_lane(struct seam_instance *inst, const char *topic,
                              int32_t partition)
{
        return seam_lane_table_find(&inst->lanes, topic, partition);
}

/* Records the broker's answer to a commit (lock held). */
static void commit_result(struct seam_instance *inst,
                          const rd_kafka_topic_partition_list_t *offsets,
                          rd_kafka_resp_err_t err)
{
        for (int i = 0; offsets && i < offsets->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &offsets->elems[i];
                struct lane *lane = find_lane(inst, p->topic, p->partition);
                if (!lane)
                        continue;
                rd_kafka_resp_err_t perr = err ? err : p->err;
                /* The group is rebalancing: more periodic commits now would
                 * only fail too, and with librdkafka 2.0.2 one answered
                 * ILLEGAL_GENERATION can make it drop the assignment
                 * (upstream #4059), redelivering everything uncommitted.
                 * Hold them until the next assignment, or a while if none
                 * comes (the error was not about a rebalance of ours). */
                if (perr == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                    perr == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION)
                        inst->commit_hold_until = seam_mono_ms() + COMMIT_HOLD_MS;
                if (perr == RD_KAFKA_RESP_ERR_NO_ERROR) {
                        if (p->offset > lane->committed) {
                                lane->committed = p->offset;
                                seam_tracker_release(lane->tracker, p->offset);
                                if (lane->committed >= lane->high_watermark)
                                        lane->caught_up_wall_ms = seam_wall_ms();
                        }
                } else {
                        /* Send it again on the next round. */
                        lane->commit_sent = lane->committed;
                        struct seam_log_ctx lc = lane_log_ctx(inst, lane, p->offset);
                        char key[128];
                        snprintf(key, sizeof(key), "commit:%s", inst->cc->name);
                        seam_log_limited(key, 10000, SEAM_LOG_WARN, &lc,
                                         "offset commit failed: %s (will retry)",
                                         rd_kafka_err2str(perr));
                }
        }
}

static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
        (void)rk;
        struct seam_instance *inst = opaque;
        if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return; /* nothing new to commit: harmless */
        pthread_mutex_lock(&inst->lock);
        commit_result(inst, offsets, err);
        pthread_mutex_unlock(&inst->lock);
}

/* The retry state of the message at the commit point, as commit metadata
 * (text: librdkafka 2.0.2 reads metadata back with strndup), so the next
 * owner of the partition, after a restart or a rebalance, continues the
 * attempt count instead of starting over. Lock held. NULL: none. */
static char *commit_metadata(const struct lane *lane, int64_t cp)
{
        rd_kafka_message_t *head = seam_lane_head(lane);
        uint32_t attempts = lane->attempts + (lane->retry_commit ? 1 : 0);
        int retry = head && head->offset == cp && attempts > 0;
        int rp = cp < lane->reprocess_until;
        if (!retry && !rp)
                return NULL;
        char buf[200];
        int n = snprintf(buf, sizeof(buf), "{\"v\":1");
        if (retry)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                              ",\"o\":%lld,\"a\":%u,\"f\":%lld,\"l\":%lld", (long long)cp,
                              attempts, (long long)lane->first_failure_ms,
                              (long long)lane->last_failure_ms);
        if (rp)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",\"rp\":%lld",
                              (long long)lane->reprocess_until);
        snprintf(buf + n, sizeof(buf) - (size_t)n, "}");
        return strdup(buf);
}

/* Restores the retry state written by commit_metadata (lock held). */
static void restore_metadata(struct lane *lane, int64_t committed, const char *md, size_t len)
{
        json_error_t jerr;
        json_t *j = json_loadb(md, len, 0, &jerr);
        json_int_t v = 0, o = -1, a = 0, f = 0, l = 0, rp = -1;
        /* A replay with --reprocess leaves {"v":1,"rp":X}: offsets below X
         * are applied again even though the dedup store has them. */
        if (j && json_unpack(j, "{s:I,s:I}", "v", &v, "rp", &rp) == 0 && v == 1 && rp > committed)
                lane->reprocess_until = rp;
        if (j && json_unpack(j, "{s:I,s:I,s:I,s:I,s:I}", "v", &v, "o", &o, "a", &a, "f", &f,
                             "l", &l) == 0 &&
            v == 1 && o == committed && a > 0 && a <= UINT32_MAX) {
                lane->restore_offset = o;
                lane->restore_attempts = (uint32_t)a;
                lane->restore_first_ms = f;
                lane->restore_last_ms = l;
        }
        json_decref(j);
}

/* Returns 1 when every pending idempotency mark is durable. */
static int flush_marks(struct seam_instance *inst)
{
        char err[512];
        int64_t t0 = seam_mono_ns();
        int rc = seam_dedup_flush(inst->dedup, seam_wall_ms(), err, sizeof(err));
        seam_histogram_observe(inst->m.dedup_mark, (double)(seam_mono_ns() - t0) / 1e9);
        if (rc) {
                struct seam_log_ctx lc = inst_log_ctx(inst);
                char key[128];
                snprintf(key, sizeof(key), "dedup-flush:%s", inst->cc->name);
                seam_log_limited(key, 10000, SEAM_LOG_WARN, &lc,
                                 "idempotency marks not durable (%s): offsets not committed, "
                                 "retrying",
                                 err);
                return 0;
        }
        return 1;
}

/* Commits the commit point of every lane that moved since the last commit,
 * or whose retry state changed (or of `only` lanes when given). Sync commits
 * wait for the broker. */
static void commit_lanes(struct seam_instance *inst, struct lane **only,
                         size_t only_count, int sync)
{
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
        pthread_mutex_lock(&inst->lock);
        size_t n = only ? only_count : inst->lanes.count;
        for (size_t i = 0; i < n; i++) {
                struct lane *lane = only ? only[i] : inst->lanes.items[i];
                int64_t cp = seam_tracker_commit_point(lane->tracker);
                if (cp < 0 || (cp <= lane->commit_sent && !lane->retry_commit))
                        continue;
                rd_kafka_topic_partition_t *p =
                    rd_kafka_topic_partition_list_add(list, lane->topic, lane->partition);
                p->offset = cp;
                char *md = commit_metadata(lane, cp);
                if (md) {
                        p->metadata = md; /* freed with the list */
                        p->metadata_size = strlen(md);
                }
                lane->commit_sent = cp;
        }
        pthread_mutex_unlock(&inst->lock);
        /* Idempotency marks of everything in this list were released before
         * its offsets completed: make them durable first, or commit nothing. */
        if (list->cnt > 0 && inst->dedup && !inst->cc->inbox && !flush_marks(inst)) {
                pthread_mutex_lock(&inst->lock);
                commit_result(inst, list, RD_KAFKA_RESP_ERR__FAIL);
                pthread_mutex_unlock(&inst->lock);
                rd_kafka_topic_partition_list_destroy(list);
                return;
        }
        if (list->cnt > 0) {
                rd_kafka_resp_err_t err = rd_kafka_commit(inst->rk, list, !sync);
                if (sync || err) {
                        pthread_mutex_lock(&inst->lock);
                        commit_result(inst, list, err);
                        pthread_mutex_unlock(&inst->lock);
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
}

/* ---- pause / resume ------------------------------------------------------ */

static void set_paused(struct seam_instance *inst,
                       rd_kafka_topic_partition_list_t *list, int pause)
{
        if (!list->cnt)
                return;
        rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(inst->rk, list)
                                        : rd_kafka_resume_partitions(inst->rk, list);
        for (int i = 0; i < list->cnt; i++) {
                if (err || list->elems[i].err) {
                        struct seam_log_ctx lc = inst_log_ctx(inst);
                        lc.topic = list->elems[i].topic;
                        lc.partition = list->elems[i].partition;
                        seam_log(SEAM_LOG_WARN, &lc, "%s failed: %s",
                                 pause ? "pause" : "resume",
                                 rd_kafka_err2str(err ? err : list->elems[i].err));
                }
        }
}

/* Brings lane states and librdkafka's pause flags in line: a partition is
 * paused while its lane is full (backpressure), waits for a retry or a DLQ
 * write, is stopped, or the instance drains. Due retries run again, after
 * their attempt count is committed (so a crash during the attempt cannot
 * make a message retry forever). Runs on the poll thread. */
static void housekeeping(struct seam_instance *inst)
{
        rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(8);
        struct lane **due = NULL;
        size_t ndue = 0;
        int64_t now = seam_mono_ms();
        size_t high = (size_t)inst->cc->max_buffered_per_partition;

        atomic_store(&inst->housekeeping, 0);
        pthread_mutex_lock(&inst->lock);
        for (size_t i = 0; i < inst->lanes.count; i++) {
                struct lane *lane = inst->lanes.items[i];
                if (lane->retry_at && now >= lane->retry_at && !lane->running) {
                        lane->retry_at = 0;
                        if (lane->dlq_state == DLQ_NONE && !lane->revoked && !inst->draining) {
                                struct lane **n = realloc(due, (ndue + 1) * sizeof(*due));
                                if (n) {
                                        due = n;
                                        due[ndue++] = lane;
                                        lane->retry_commit = 1;
                                }
                        }
                        seam_lane_schedule(inst, lane);
                }
                /* Hysteresis: resume a full lane only once it is half empty,
                 * so a busy partition does not flap every message. */
                int full = lane->qcount >= high || (lane->paused && lane->qcount > high / 2) ||
                           seam_tracker_size(lane->tracker) >= SEAM_MAX_UNCOMMITTED;
                int want = full || lane->retry_at || lane->retry_commit || lane->stopped ||
                           lane->dlq_state != DLQ_NONE || inst->draining;
                if (want != lane->paused) {
                        rd_kafka_topic_partition_list_add(want ? pause : resume,
                                                          lane->topic, lane->partition);
                        lane->paused = want;
                }
        }
        pthread_mutex_unlock(&inst->lock);
        set_paused(inst, pause, 1);
        set_paused(inst, resume, 0);
        rd_kafka_topic_partition_list_destroy(pause);
        rd_kafka_topic_partition_list_destroy(resume);
        if (ndue) {
                /* Lanes stay in the table: only the poll thread removes
                 * them, and this is the poll thread. */
                commit_lanes(inst, due, ndue, 1);
                pthread_mutex_lock(&inst->lock);
                for (size_t i = 0; i < ndue; i++) {
                        due[i]->retry_commit = 0;
                        seam_lane_schedule(inst, due[i]);
                }
                pthread_mutex_unlock(&inst->lock);
        }
        free(due);
}

/* ---- rebalance ----------------------------------------------------------- */

static void destroy_messages(rd_kafka_message_t **msgs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                rd_kafka_message_destroy(msgs[i]);
        free(msgs);
}

/* Waits (bounded) until no worker holds any of the lanes; returns 0 when
 * idle, -1 on timeout. Lock held. */
static int wait_lanes_idle(struct seam_instance *inst, struct lane **lanes,
                           size_t n, int64_t deadline)
{
        for (;;) {
                int busy = 0;
                for (size_t i = 0; i < n; i++)
                        busy |= lanes[i]->running || lanes[i]->dlq_state == DLQ_IN_FLIGHT;
                if (!busy)
                        return 0;
                int64_t left = deadline - seam_mono_ms();
                if (left <= 0)
                        return -1;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t step = left < 100 ? left : 100;
                ts.tv_nsec += (long)(step * 1000000);
                ts.tv_sec += ts.tv_nsec / 1000000000L;
                ts.tv_nsec %= 1000000000L;
                pthread_cond_timedwait(&inst->idle_cv, &inst->lock, &ts);
        }
}

/* Stops work on `lanes`: drops what was fetched but not started, lets a
 * running handler finish (until the drain deadline), and returns with the
 * lanes idle or, on timeout, still held by a hung handler. */
static int quiesce_lanes(struct seam_instance *inst, struct lane **lanes, size_t n,
                         int64_t deadline)
{
        pthread_mutex_lock(&inst->lock);
        for (size_t i = 0; i < n; i++) {
                struct lane *lane = lanes[i];
                size_t dropped;
                seam_lane_unschedule(inst, lane);
                lane->revoked = 1;
                lane->retry_at = 0;
                /* A head being handled, or whose DLQ write is in flight, stays
                 * until it completes (or the deadline passes). */
                int keep = lane->running || lane->dlq_state == DLQ_IN_FLIGHT;
                rd_kafka_message_t **msgs = seam_lane_drop(lane, keep, &dropped);
                pthread_mutex_unlock(&inst->lock);
                destroy_messages(msgs, dropped);
                pthread_mutex_lock(&inst->lock);
        }
        int rc = wait_lanes_idle(inst, lanes, n, deadline);
        if (rc < 0) {
                for (size_t i = 0; i < n; i++) {
                        if (!lanes[i]->running && lanes[i]->dlq_state != DLQ_IN_FLIGHT)
                                continue;
                        struct seam_log_ctx lc = lane_log_ctx(
                            inst, lanes[i], seam_tracker_oldest_pending(lanes[i]->tracker));
                        seam_log(SEAM_LOG_ERROR, &lc,
                                 "%s at the drain deadline (%lld ms); "
                                 "its offset is not committed",
                                 lanes[i]->running ? "handler still running"
                                                   : "DLQ write still unacknowledged",
                                 (long long)inst->cfg->shutdown_timeout_ms);
                }
        }
        pthread_mutex_unlock(&inst->lock);
        return rc;
}

static void revoke(struct seam_instance *inst,
                   const rd_kafka_topic_partition_list_t *parts, int lost)
{
        struct lane **lanes = calloc((size_t)parts->cnt + 1, sizeof(*lanes));
        size_t n = 0;
        pthread_mutex_lock(&inst->lock);
        for (int i = 0; i < parts->cnt; i++) {
                struct lane *lane = find_lane(inst, parts->elems[i].topic,
                                              parts->elems[i].partition);
                if (lane && lanes)
                        lanes[n++] = lane;
        }
        pthread_mutex_unlock(&inst->lock);
        if (!lanes)
                return;

        /* After a drain already timed out (close() revokes too), do not
         * wait for the hung handler a second time. */
        int64_t deadline = seam_mono_ms() + (inst->abandoned ? 0 : inst->cfg->shutdown_timeout_ms);
        int idle = quiesce_lanes(inst, lanes, n, deadline) == 0;
        if (!idle)
                inst->abandoned = 1;
        /* A lost assignment belongs to someone else already: committing
         * would fail or, worse, move their offsets. */
        if (!lost)
                commit_lanes(inst, lanes, n, 1);

        pthread_mutex_lock(&inst->lock);
        for (size_t i = 0; i < n; i++) {
                seam_lane_table_remove(&inst->lanes, lanes[i]);
                struct seam_log_ctx lc = lane_log_ctx(inst, lanes[i], lanes[i]->committed);
                seam_log(SEAM_LOG_INFO, &lc, "partition %s (handled %llu, committed offset %lld)",
                         lost ? "lost" : "revoked", (unsigned long long)lanes[i]->handled,
                         (long long)lanes[i]->committed);
                if (lanes[i]->running || lanes[i]->dlq_state == DLQ_IN_FLIGHT)
                        seam_lane_table_add(&inst->orphans, lanes[i]);
                else
                        seam_lane_destroy(lanes[i]);
        }
        atomic_store(&inst->assigned, (int)inst->lanes.count);
        pthread_mutex_unlock(&inst->lock);
        seam_gauge_set(inst->m.assigned, atomic_load(&inst->assigned));
        free(lanes);
}

/* The group's committed offsets of newly assigned partitions, with their
 * metadata (the retry state of the message there). Bounded; on failure the
 * attempt counts start over, which is logged. */
static rd_kafka_topic_partition_list_t *fetch_committed(struct seam_instance *inst,
                                                        const rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t err = rd_kafka_committed(inst->rk, c, 10000);
        if (err) {
                struct seam_log_ctx lc = inst_log_ctx(inst);
                seam_log(SEAM_LOG_WARN, &lc,
                         "could not read committed offsets at assignment (%s): retry attempt "
                         "counts of earlier owners are not restored",
                         rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(c);
                return NULL;
        }
        return c;
}

static void assign(struct seam_instance *inst, const rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *committed = parts->cnt ? fetch_committed(inst, parts) : NULL;
        pthread_mutex_lock(&inst->lock);
        for (int i = 0; i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &parts->elems[i];
                if (find_lane(inst, p->topic, p->partition))
                        continue;
                struct lane *lane = seam_lane_new(p->topic, p->partition);
                if (!lane || seam_lane_table_add(&inst->lanes, lane) < 0) {
                        seam_lane_destroy(lane);
                        seam_log(SEAM_LOG_ERROR, NULL, "out of memory creating a lane");
                        continue;
                }
                lane->caught_up_wall_ms = seam_wall_ms();
                const rd_kafka_topic_partition_t *c =
                    committed ? rd_kafka_topic_partition_list_find(committed, p->topic, p->partition)
                              : NULL;
                if (c && !c->err) {
                        lane->committed_checked = 1;
                        if (c->offset >= 0) {
                                lane->committed = c->offset;
                                lane->commit_sent = c->offset;
                        }
                        if (c->metadata && c->metadata_size)
                                restore_metadata(lane, c->offset, c->metadata, c->metadata_size);
                }
        }
        if (committed)
                rd_kafka_topic_partition_list_destroy(committed);
        atomic_store(&inst->assigned, (int)inst->lanes.count);
        inst->joined = 1;
        inst->commit_hold_until = 0;
        pthread_mutex_unlock(&inst->lock);
        seam_gauge_set(inst->m.assigned, atomic_load(&inst->assigned));
        seam_lag_wake(inst); /* watermarks of the new partitions now */
}

struct db_offsets {
        struct seam_instance *inst;
        rd_kafka_topic_partition_list_t *parts;
        int applied;
};

static void db_offset(void *arg, const char *topic, int32_t partition, int64_t next_offset)
{
        struct db_offsets *d = arg;
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(d->parts, topic, partition);
        struct lane *lane = seam_lane_table_find(&d->inst->lanes, topic, partition);
        /* Only ahead of Kafka's commit: a lower database offset would re-run
         * messages that were dead-lettered (the inbox never saw them). */
        if (p && lane && next_offset > lane->committed) {
                p->offset = next_offset;
                /* The database's offset is durable: bring Kafka's commit up to
                 * it, or a partition with nothing left to read would keep its
                 * old commit (and lag) for good. */
                seam_tracker_start_at(lane->tracker, next_offset);
                d->applied++;
        }
}

/* With the inbox storing offsets, the database is the truth: an effect and
 * its offset commit together there, while the Kafka commit may lag. Start
 * each partition from the database's offset when it has one. */
static void apply_db_offsets(struct seam_instance *inst, rd_kafka_topic_partition_list_t *parts)
{
        struct db_offsets d = {inst, parts, 0};
        /* Lanes are only touched by the poll thread (this one) and workers,
         * which do not look at `committed`: read it under the lock. */
        pthread_mutex_lock(&inst->lock);
        char err[512];
        struct seam_log_ctx lc = inst_log_ctx(inst);
        int rc = seam_inbox_load_offsets(inst->dedup, inst->cc->group_id, db_offset, &d, err,
                                         sizeof(err));
        pthread_mutex_unlock(&inst->lock);
        if (rc) {
                seam_log(SEAM_LOG_WARN, &lc,
                         "could not read offsets stored by the inbox (%s); starting from the "
                         "group's committed offsets (the inbox still skips what was applied)",
                         err);
                return;
        }
        seam_log(SEAM_LOG_INFO, &lc, "resuming %d of %d partition(s) from offsets stored in the "
                                     "database",
                 d.applied, parts->cnt);
}

static void log_rebalance_error(struct seam_instance *inst, const char *what,
                                rd_kafka_error_t *error, rd_kafka_resp_err_t err)
{
        if (!error && !err)
                return;
        struct seam_log_ctx lc = inst_log_ctx(inst);
        seam_log(SEAM_LOG_ERROR, &lc, "%s failed: %s", what,
                 error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        if (error)
                rd_kafka_error_destroy(error);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        struct seam_instance *inst = opaque;
        int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        struct seam_log_ctx lc = inst_log_ctx(inst);
        atomic_fetch_add(&inst->rebalances, 1);
        seam_counter_inc(inst->m.rebalances);

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                seam_log(SEAM_LOG_INFO, &lc, "rebalance (%s): assigned %d partition(s)",
                         cooperative ? "cooperative" : "eager", parts->cnt);
                assign(inst, parts);
                if (inst->cc->inbox_store_offsets && inst->dedup && parts->cnt)
                        apply_db_offsets(inst, parts);
                if (cooperative)
                        log_rebalance_error(inst, "incremental_assign",
                                            rd_kafka_incremental_assign(rk, parts), 0);
                else
                        log_rebalance_error(inst, "assign", NULL, rd_kafka_assign(rk, parts));
                /* A partition we paused before it was revoked may come back
                 * still flagged paused; a new lane starts unpaused. */
                rd_kafka_resume_partitions(rk, parts);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                int lost = rd_kafka_assignment_lost(rk);
                seam_log(SEAM_LOG_INFO, &lc, "rebalance (%s): %s %d partition(s)",
                         cooperative ? "cooperative" : "eager", lost ? "lost" : "revoking",
                         parts->cnt);
                revoke(inst, parts, lost);
                if (cooperative)
                        log_rebalance_error(inst, "incremental_unassign",
                                            rd_kafka_incremental_unassign(rk, parts), 0);
                else
                        log_rebalance_error(inst, "unassign", NULL, rd_kafka_assign(rk, NULL));
        } else {
                seam_log(SEAM_LOG_ERROR, &lc, "rebalance error: %s", rd_kafka_err2str(err));
                revoke(inst, parts, 1);
                log_rebalance_error(inst, "unassign", NULL, rd_kafka_assign(rk, NULL));
        }
}

/* ---- the poll thread ----------------------------------------------------- */

static void consume_error(struct seam_instance *inst, rd_kafka_message_t *rkm)
{
        struct seam_log_ctx lc = inst_log_ctx(inst);
        if (rkm->rkt) {
                lc.topic = rd_kafka_topic_name(rkm->rkt);
                lc.partition = rkm->partition;
        }
        char key[128];
        snprintf(key, sizeof(key), "consume:%s:%d", inst->cc->name, (int)rkm->err);
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                return;
        seam_log_limited(key, 10000, SEAM_LOG_WARN, &lc, "consume error: %s",
                         rd_kafka_message_errstr(rkm));
        if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                char reason[512];
                rd_kafka_fatal_error(inst->rk, reason, sizeof(reason));
                seam_log(SEAM_LOG_ERROR, &lc, "fatal kafka error, stopping instance: %s", reason);
                pthread_mutex_lock(&inst->lock);
                inst->fatal = 1;
                pthread_mutex_unlock(&inst->lock);
        }
}

/* Hands fetched messages to their lanes (one lock round trip per batch). */
static void dispatch(struct seam_instance *inst, rd_kafka_message_t **batch, size_t n)
{
        rd_kafka_message_t *drop[POLL_BATCH];
        size_t ndrop = 0;
        struct lane *lane = NULL;
        int full = 0;
        pthread_mutex_lock(&inst->lock);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_message_t *rkm = batch[i];
                const char *topic = rd_kafka_topic_name(rkm->rkt);
                if (!lane || lane->partition != rkm->partition || strcmp(lane->topic, topic))
                        lane = find_lane(inst, topic, rkm->partition);
                /* Not ours (any more), or halted: do not track it; it is
                 * fetched again by whoever handles this partition next. */
                rd_kafka_timestamp_type_t tstype;
                int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
                if (!lane || lane->revoked || lane->stopped ||
                    seam_tracker_add(lane->tracker, rkm->offset, ts) < 0) {
                        if (lane && !lane->revoked && !lane->stopped) {
                                struct seam_log_ctx lc = lane_log_ctx(inst, lane, rkm->offset);
                                seam_log(SEAM_LOG_ERROR, &lc,
                                         "offset went backwards; message ignored");
                        }
                        drop[ndrop++] = rkm;
                        continue;
                }
                if (seam_lane_push(lane, rkm) < 0) {
                        /* Tracked but not queued: it stays pending, so the
                         * partition is not committed past it; stop it. */
                        lane->stopped = 1;
                        drop[ndrop++] = rkm;
                        continue;
                }
                if (lane->first_fetched < 0)
                        lane->first_fetched = rkm->offset;
                /* A fetched message proves the end is at least past it:
                 * fresher than the last watermark query. */
                if (rkm->offset + 1 > lane->high_watermark)
                        lane->high_watermark = rkm->offset + 1;
                seam_lane_schedule(inst, lane);
                if (lane->qcount >= (size_t)inst->cc->max_buffered_per_partition)
                        full = 1;
        }
        pthread_mutex_unlock(&inst->lock);
        for (size_t i = 0; i < ndrop; i++)
                rd_kafka_message_destroy(drop[i]);
        if (full)
                atomic_store(&inst->housekeeping, 1);
}

/* Shutdown: stop fetching, drop what was not started, let running handlers
 * finish (bounded), commit, close. */
static void drain_and_close(struct seam_instance *inst)
{
        struct seam_log_ctx lc = inst_log_ctx(inst);
        int64_t started = seam_mono_ms();
        int64_t deadline = started + inst->cfg->shutdown_timeout_ms;
        seam_log(SEAM_LOG_INFO, &lc, "draining: %s",
                 inst->fatal ? "plugin returned FATAL" : "stop requested");

        pthread_mutex_lock(&inst->lock);
        inst->draining = 1;
        size_t n = inst->lanes.count;
        struct lane **lanes = malloc((n + 1) * sizeof(*lanes));
        if (lanes && n) /* items is NULL before the first assignment */
                memcpy(lanes, inst->lanes.items, n * sizeof(*lanes));
        pthread_mutex_unlock(&inst->lock);
        housekeeping(inst); /* pauses every partition: stop fetching */

        int idle = lanes ? quiesce_lanes(inst, lanes, n, deadline) == 0 : 0;
        free(lanes);
        if (!idle)
                inst->abandoned = 1;
        /* After the lanes: a refresh in progress must not delay them. */
        seam_lag_stop(inst);
        commit_lanes(inst, NULL, 0, 1);

        /* close() runs the final revoke through rebalance_cb: it finds the
         * lanes idle and commits nothing new. */
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(inst->rk);
        if (err)
                seam_log(SEAM_LOG_WARN, &lc, "consumer close: %s", rd_kafka_err2str(err));

        seam_workers_stop(inst, inst->abandoned);
        if (inst->plugin_initialised && !inst->abandoned && inst->plugin->def->close)
                inst->plugin->def->close(inst->plugin_state);
        inst->plugin_initialised = 0;
        seam_log(SEAM_LOG_INFO, &lc, "stopped after %lld ms drain (handled %llu)",
                 (long long)(seam_mono_ms() - started),
                 (unsigned long long)atomic_load(&inst->handled));
        inst->result = inst->abandoned ? SEAM_ERR_DRAIN : inst->fatal ? SEAM_ERR_FATAL : 0;
        seam_gauge_set(inst->m.up, 0);
}

static void *poll_main(void *arg)
{
        struct seam_instance *inst = arg;
        rd_kafka_message_t *batch[POLL_BATCH];
        int64_t next_commit = seam_mono_ms() + inst->cc->commit_interval_ms;
        int64_t next_housekeeping = 0;

        while (!atomic_load(&inst->stop_requested)) {
                size_t n = 0;
                atomic_store(&inst->last_poll_ms, seam_mono_ms());
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(inst->rk, HOUSEKEEPING_MS);
                while (rkm) {
                        if (rkm->err) {
                                consume_error(inst, rkm);
                                rd_kafka_message_destroy(rkm);
                        } else {
                                batch[n++] = rkm;
                        }
                        rkm = n < POLL_BATCH ? rd_kafka_consumer_poll(inst->rk, 0) : NULL;
                }
                if (n)
                        dispatch(inst, batch, n);

                int64_t now = seam_mono_ms();
                if (atomic_load(&inst->housekeeping) || now >= next_housekeeping) {
                        housekeeping(inst);
                        next_housekeeping = now + HOUSEKEEPING_MS;
                }
                if (now >= next_commit && now >= inst->commit_hold_until) {
                        commit_lanes(inst, NULL, 0, 0);
                        next_commit = now + inst->cc->commit_interval_ms;
                }
                pthread_mutex_lock(&inst->lock);
                int fatal = inst->fatal;
                pthread_mutex_unlock(&inst->lock);
                if (fatal)
                        break;
        }
        drain_and_close(inst);
        atomic_store(&inst->finished, 1);
        return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void create_series(struct seam_instance *inst)
{
        struct seam_metrics *mx = inst->metrics;
        if (!mx)
                return;
        const char *name = inst->cc->name;
        struct seam_metric_family *msgs = seam_metrics_counter(
            mx, "seam_consumer_messages_total", "Messages by final outcome.",
            SEAM_METRIC_LABELS("consumer", "outcome"));
        inst->m.handled = seam_metric_get(msgs, 2, (const char *[]){name, "handled"});
        inst->m.duplicate = seam_metric_get(msgs, 2, (const char *[]){name, "duplicate"});
        inst->m.dead_lettered = seam_metric_get(msgs, 2, (const char *[]){name, "dead_lettered"});
        inst->m.retries = seam_metric_get(
            seam_metrics_counter(mx, "seam_consumer_retries_total",
                                 "Handler RETRY results (each attempt).",
                                 SEAM_METRIC_LABELS("consumer")),
            1, (const char *[]){name});
        inst->m.rebalances = seam_metric_get(
            seam_metrics_counter(mx, "seam_consumer_rebalances_total",
                                 "Rebalance callbacks (assign and revoke).",
                                 SEAM_METRIC_LABELS("consumer")),
            1, (const char *[]){name});
        inst->m.assigned = seam_metric_get(
            seam_metrics_gauge(mx, "seam_consumer_assigned_partitions",
                               "Partitions currently assigned.", SEAM_METRIC_LABELS("consumer")),
            1, (const char *[]){name});
        inst->m.up = seam_metric_get(
            seam_metrics_gauge(mx, "seam_consumer_up",
                               "1 while the consumer instance runs, 0 after it stopped.",
                               SEAM_METRIC_LABELS("consumer")),
            1, (const char *[]){name});
        inst->m.dlq_family = seam_metrics_counter(mx, "seam_dlq_messages_total",
                                                  "Records written to the DLQ by error class.",
                                                  SEAM_METRIC_LABELS("consumer", "class"));
        inst->m.dlq_write_failures = seam_metric_get(
            seam_metrics_counter(mx, "seam_dlq_write_failures_total",
                                 "DLQ writes that failed and will be retried.",
                                 SEAM_METRIC_LABELS("consumer")),
            1, (const char *[]){name});
        struct seam_metric_family *dd = seam_metrics_histogram(
            mx, "seam_dedup_duration_seconds", "Idempotency store latency.",
            SEAM_METRIC_LABELS("consumer", "op"), NULL, 0);
        inst->m.dedup_check = seam_metric_get(dd, 2, (const char *[]){name, "check"});
        inst->m.dedup_mark = seam_metric_get(dd, 2, (const char *[]){name, "mark"});
        inst->m.handler_duration = seam_metric_get(
            seam_metrics_histogram(mx, "seam_consumer_handler_duration_seconds",
                                   "Time inside the plugin's handle().",
                                   SEAM_METRIC_LABELS("consumer"), NULL, 0),
            1, (const char *[]){name});
}

int seam_instance_new(const struct seam_config *cfg, size_t idx,
                      const struct seam_loaded_plugin *plugin,
                      const struct seam_instance_deps *deps,
                      struct seam_instance **out, char *errstr,
                      size_t errstr_size)
{
        const char *bootstrap_override = deps->bootstrap_override;
        const struct seam_consumer_config *cc = &cfg->consumers[idx];
        struct seam_instance *inst = calloc(1, sizeof(*inst));
        if (!inst)
                return SEAM_ERR_NOMEM;
        inst->cfg = cfg;
        inst->cc = cc;
        inst->plugin = plugin;
        pthread_mutex_init(&inst->lock, NULL);
        pthread_cond_init(&inst->work_cv, NULL);
        pthread_cond_init(&inst->idle_cv, NULL);
        pthread_mutex_init(&inst->lag_lock, NULL);
        pthread_cond_init(&inst->lag_cv, NULL);
        inst->metrics = deps->metrics;
        inst->dlq = deps->dlq;
        if (!strcmp(cc->dedup_store, "embedded"))
                inst->dedup = deps->dedup_embedded;
        else if (!strcmp(cc->dedup_store, "postgres"))
                inst->dedup = deps->dedup_postgres;
        if (strcmp(cc->dedup_store, "none") && !inst->dedup) {
                snprintf(errstr, errstr_size,
                         "%s:%d: consumers[%zu].idempotency.store: %s store not configured "
                         "(seam.dedup)",
                         cfg->path, cc->line, idx, cc->dedup_store);
                seam_instance_destroy(inst);
                return SEAM_ERR_CONFIG;
        }
        create_series(inst);
        if (!strcmp(cc->format, "avro")) {
                char inner[1024];
                int serr = deps->registry
                               ? seam_schema_stage_new(cc, deps->registry, &inst->schema_stage,
                                                       inner, sizeof(inner))
                               : SEAM_ERR_CONFIG;
                if (serr) {
                        snprintf(errstr, errstr_size, "%s:%d: consumers[%zu].schema: %s", cfg->path,
                                 cc->line, idx, deps->registry ? inner : "no schema registry");
                        seam_instance_destroy(inst);
                        return SEAM_ERR_CONFIG;
                }
        }

        char where[64];
        snprintf(where, sizeof(where), "consumers[%zu].config", idx);
        int err = seam_plugin_config_build(plugin->def, &cc->plugin_config, cfg->path,
                                           where, cc->line, &inst->plugin_config, errstr,
                                           errstr_size);
        if (err) {
                seam_instance_destroy(inst);
                return err;
        }
        inst->ctx.consumer_name = cc->name;
        inst->ctx.plugin_name = plugin->def->name;
        inst->ctx.plugin_config = &inst->plugin_config;
        inst->ctx.correlation_header = cc->correlation_header;
        inst->ctx.metrics = deps->metrics;

        rd_kafka_conf_t *conf;
        err = seam_kafka_consumer_conf(cfg, idx, bootstrap_override, &conf, errstr,
                                       errstr_size);
        if (err) {
                seam_instance_destroy(inst);
                return err;
        }
        seam_kafka_conf_route_logs(conf);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
        /* The logger reads the name through the opaque: log_name is the
         * first member of the instance (see seam_kafka_conf_route_logs). */
        inst->log_name = cc->name;
        rd_kafka_conf_set_opaque(conf, inst);
        char rderr[512];
        inst->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
        if (!inst->rk) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "%s:%d: consumers[%zu].kafka: librdkafka: %s",
                         cfg->path, cc->line, idx, rderr);
                seam_instance_destroy(inst);
                return SEAM_ERR_CONFIG;
        }
        rd_kafka_poll_set_consumer(inst->rk);
        *out = inst;
        return 0;
}

int seam_instance_start(struct seam_instance *inst, char *errstr, size_t errstr_size)
{
        const struct seam_consumer_config *cc = inst->cc;
        const struct seam_plugin *def = inst->plugin->def;
        struct seam_log_ctx lc = inst_log_ctx(inst);

        if (def->init(&inst->ctx, &seam_host_api_v1, &inst->plugin_state) != 0) {
                snprintf(errstr, errstr_size,
                         "plugin %s (%s): init failed for consumer '%s' (see the "
                         "plugin's log lines above)",
                         inst->plugin->path, def->name, cc->name);
                return SEAM_ERR_PLUGIN;
        }
        inst->plugin_initialised = 1;

        int err = seam_workers_start(inst);
        if (err) {
                snprintf(errstr, errstr_size, "consumer '%s': cannot start workers", cc->name);
                return err;
        }
        rd_kafka_topic_partition_list_t *topics =
            rd_kafka_topic_partition_list_new((int)cc->topic_count);
        for (size_t i = 0; i < cc->topic_count; i++)
                rd_kafka_topic_partition_list_add(topics, cc->topics[i], RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t rerr = rd_kafka_subscribe(inst->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (rerr) {
                snprintf(errstr, errstr_size, "consumer '%s': subscribe failed: %s", cc->name,
                         rd_kafka_err2str(rerr));
                return SEAM_ERR_KAFKA;
        }
        if (pthread_create(&inst->poll_thread, NULL, poll_main, inst)) {
                snprintf(errstr, errstr_size, "consumer '%s': cannot start poll thread",
                         cc->name);
                return SEAM_ERR_NOMEM;
        }
        inst->poll_started = 1;
        seam_gauge_set(inst->m.up, 1);
        atomic_store(&inst->last_poll_ms, seam_mono_ms());
        if (seam_lag_start(inst)) {
                snprintf(errstr, errstr_size, "consumer '%s': cannot start lag thread", cc->name);
                return SEAM_ERR_NOMEM;
        }
        seam_log(SEAM_LOG_INFO, &lc, "started: plugin %s %s, group %s, %zu topic(s), %d workers",
                 def->name, def->version ? def->version : "", cc->group_id, cc->topic_count,
                 cc->workers);
        return 0;
}

void seam_instance_request_stop(struct seam_instance *inst)
{
        atomic_store(&inst->stop_requested, 1);
}

int seam_instance_finished(struct seam_instance *inst)
{
        return !inst->poll_started || atomic_load(&inst->finished);
}

int seam_instance_join(struct seam_instance *inst)
{
        if (!inst->poll_started)
                return 0;
        pthread_join(inst->poll_thread, NULL);
        inst->poll_started = 0;
        return inst->result;
}

void seam_instance_destroy(struct seam_instance *inst)
{
        if (!inst)
                return;
        if (inst->poll_started) {
                seam_instance_request_stop(inst);
                seam_instance_join(inst);
        }
        if (inst->abandoned) {
                /* A handler is still running inside the plugin and holds a
                 * message of this handle: freeing anything it may touch, or
                 * rd_kafka_destroy() (which waits for every message), would
                 * crash or hang. The process is about to exit. */
                return;
        }
        seam_lag_stop(inst);
        if (inst->worker_count)
                seam_workers_stop(inst, 0);
        free(inst->worker_states);
        if (inst->plugin_initialised && inst->plugin->def->close)
                inst->plugin->def->close(inst->plugin_state);
        for (size_t i = 0; i < inst->lanes.count; i++)
                seam_lane_destroy(inst->lanes.items[i]);
        for (size_t i = 0; i < inst->orphans.count; i++)
                seam_lane_destroy(inst->orphans.items[i]);
        seam_lane_table_free(&inst->lanes);
        seam_lane_table_free(&inst->orphans);
        if (inst->rk)
                rd_kafka_destroy(inst->rk);
        seam_plugin_config_free(&inst->plugin_config);
        seam_schema_stage_destroy(inst->schema_stage);
        pthread_cond_destroy(&inst->work_cv);
        pthread_cond_destroy(&inst->idle_cv);
        pthread_mutex_destroy(&inst->lock);
        pthread_cond_destroy(&inst->lag_cv);
        pthread_mutex_destroy(&inst->lag_lock);
        free(inst);
}

const char *seam_instance_name(const struct seam_instance *inst)
{
        return inst->cc->name;
}

void seam_instance_counters(struct seam_instance *inst, struct seam_instance_counters *out)
{
        out->handled = atomic_load(&inst->handled);
        out->retried = atomic_load(&inst->retried);
        out->poisoned = atomic_load(&inst->poisoned);
        out->dead_lettered = atomic_load(&inst->dead_lettered);
        out->duplicates = atomic_load(&inst->duplicates);
        out->rebalances = atomic_load(&inst->rebalances);
        out->assigned_partitions = atomic_load(&inst->assigned);
}
