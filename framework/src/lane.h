/* lane.h - one assigned partition's FIFO of fetched messages, its commit
 * tracker and its state (running, waiting for a retry, stopped, revoked).
 * Guarded by the owning instance's mutex; see consumer_internal.h. */
#ifndef SEAM_LANE_H
#define SEAM_LANE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

struct lane {
        char *topic;
        int32_t partition;
        struct seam_tracker *tracker;

        /* FIFO ring of fetched, not yet finished messages; q[qhead] is the
         * one being handled (running) or next to handle. */
        rd_kafka_message_t **q;
        size_t qhead, qcount, qcap;

        int running;      /* a worker holds the lane */
        int in_ready;     /* queued on the instance's ready list */
        int revoked;      /* being revoked: start nothing new */
        int stopped;      /* halted (POISON/FATAL): nothing after the head */
        int64_t retry_at; /* monotonic ms when the head may run again; 0 */

        /* The head message's attempts: handle() calls started for it, here
         * and (restored from the commit metadata) by earlier owners. */
        uint32_t attempts;
        int64_t first_failure_ms, last_failure_ms; /* wall ms; 0: none */
        int retry_commit;  /* poll thread: record attempts, then schedule */
        /* Restored from the committed offset's metadata at assignment:
         * applies when the head is that offset. */
        int64_t restore_offset; /* -1: nothing to restore */
        uint32_t restore_attempts;
        int64_t restore_first_ms, restore_last_ms;

        /* Dead-lettering of the head message. */
        enum { DLQ_NONE = 0, DLQ_WRITE_DUE, DLQ_IN_FLIGHT } dlq_state;
        const char *dlq_class; /* static string */
        char *dlq_message;
        int64_t dlq_schema_id;
        uint32_t dlq_failures; /* failed writes of this record */
        int waiting_registry;  /* the head waits for an unreachable registry */
        /* A replay with --reprocess: offsets below this skip the dedup
         * check (from the commit metadata; kept in ours until passed). */
        int64_t reprocess_until;

        int paused;           /* paused in librdkafka (poll thread only) */
        int64_t committed;    /* last offset the broker acknowledged; -1 */
        int64_t commit_sent;  /* last offset sent in a commit; -1 */
        uint64_t handled;

        /* For lag (see docs/metrics.md): watermarks queried by the lag
         * thread, the first offset fetched, and since when the partition
         * has had no lag (for the lower bound of lag seconds). */
        int64_t low_watermark, high_watermark; /* -1: not known yet */
        int64_t first_fetched;                 /* -1: nothing fetched */
        int committed_checked; /* asked the broker for the committed offset */
        int64_t caught_up_wall_ms;

        struct lane *ready_next;
};

struct lane *seam_lane_new(const char *topic, int32_t partition);
/* Destroys the queued messages too. Accepts NULL. */
void seam_lane_destroy(struct lane *lane);

int seam_lane_push(struct lane *lane, rd_kafka_message_t *rkm);
rd_kafka_message_t *seam_lane_head(const struct lane *lane);
rd_kafka_message_t *seam_lane_pop(struct lane *lane);
/* Removes every queued message except the head when `keep_head`; returns
 * them for the caller to destroy outside the lock (count in *n; free the
 * array). Their offsets stay pending in the tracker, so nothing past them
 * is committed; they are fetched again by the partition's next owner. */
rd_kafka_message_t **seam_lane_drop(struct lane *lane, int keep_head, size_t *n);

/* A small table of lanes by (topic, partition). */
struct lane_table {
        struct lane **items;
        size_t count, cap;
};

struct lane *seam_lane_table_find(const struct lane_table *t, const char *topic,
                                  int32_t partition);
int seam_lane_table_add(struct lane_table *t, struct lane *lane);
/* Removes (does not destroy) the lane. */
void seam_lane_table_remove(struct lane_table *t, struct lane *lane);
void seam_lane_table_free(struct lane_table *t);

#endif
