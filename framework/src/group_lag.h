/* group_lag.h - the lag of any consumer group as the brokers see it, for
 * `seam lag` and `seam lag-exporter`. It reads the group's committed offsets
 * (Admin API ListConsumerGroupOffsets, no membership) and each partition's
 * watermarks (queried, never the client's cache), and fetches the first
 * unconsumed message of each lagging partition for its timestamp. It never
 * joins the inspected group and never commits, so it works while every
 * consumer of the group is down and cannot disturb it.
 *
 * The numbers follow docs/metrics.md "Lag, exactly":
 *   start       = committed, or the low watermark when nothing is committed
 *                 or the committed offset is below it (retention deleted
 *                 those messages: they cannot be consumed any more)
 *   lag         = high watermark - start (0 if negative)
 *   lag_seconds = now - timestamp of the first message at or after start;
 *                 0 when lag is 0
 */
#ifndef SEAM_GROUP_LAG_H
#define SEAM_GROUP_LAG_H

#include <stddef.h>
#include <stdint.h>

#define SEAM_LAG_ERRSTR_MAX 256

struct seam_lag_partition {
        char *topic;
        int32_t partition;
        int64_t committed;  /* -1: nothing committed; -2: unknown (err) */
        int64_t low;        /* low watermark (log start offset); -1: unknown */
        int64_t high;       /* high watermark (end offset); -1: unknown */
        int64_t lag;        /* messages; -1: unknown (err says why) */
        double lag_seconds; /* < 0: unknown (err says why, or the message
                               carries no timestamp: then err is 0) */
        int err;            /* 0, or a negative seam_err for what is unknown */
        char errstr[SEAM_LAG_ERRSTR_MAX];
};

struct seam_group_lag {
        char *group;
        /* 0 when the group's offsets were read; then parts[] lists every
         * partition of the inspected topics, sorted by topic and partition.
         * Otherwise a negative seam_err (SEAM_ERR_TIMEOUT: the brokers could
         * not be reached in time) and parts is empty. */
        int err;
        int unreachable; /* no broker answered at all (bootstrap, network) */
        char errstr[SEAM_LAG_ERRSTR_MAX];
        struct seam_lag_partition *parts;
        size_t count;
};

/* The lag in messages of one partition (see above); committed < 0 means
 * nothing is committed. Pure arithmetic, for the tests and the tools. */
int64_t seam_lag_messages(int64_t committed, int64_t low, int64_t high);

struct seam_lag_client;

/* A client for `bootstrap` with extra librdkafka properties `props`
 * (NULL-terminated key, value pairs, e.g. SASL/TLS; may be NULL). group.id,
 * enable.auto.commit and enable.auto.offset.store are set by the client and
 * must not be in props. Nothing connects yet. Returns 0 and sets *out, or a
 * negative seam_err with librdkafka's reason in errstr. */
int seam_lag_client_new(const char *bootstrap, const char *const *props,
                        struct seam_lag_client **out, char *errstr,
                        size_t errstr_size);
void seam_lag_client_destroy(struct seam_lag_client *c); /* accepts NULL */

/* Reads the lag of `group` into *out (cleared first; free it with
 * seam_group_lag_clear), within about timeout_ms in all.
 *
 * topics (topic_count of them): inspect exactly these, listing every
 * partition whether or not the group committed on it. NULL/0: every topic on
 * which the group has a committed offset, again with all its partitions.
 *
 * Returns out->err. A partition whose numbers are incomplete (a watermark
 * query or the message fetch failed, the topic was deleted) has its own
 * err/errstr; the others are still exact. Blocking; one thread at a time per
 * client (the exporter's refresh thread, or the CLI). */
int seam_lag_client_read(struct seam_lag_client *c, const char *group,
                         const char *const *topics, size_t topic_count,
                         int timeout_ms, struct seam_group_lag *out);

/* True when out->err is 0 and every partition is complete. */
int seam_group_lag_complete(const struct seam_group_lag *g);

/* Frees what a read put into *g and zeroes it. Accepts a zeroed struct. */
void seam_group_lag_clear(struct seam_group_lag *g);

#endif
