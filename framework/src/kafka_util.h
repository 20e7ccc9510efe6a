/* kafka_util.h - small, blocking librdkafka helpers for the CLI tools and
 * the demo: committed offsets of a group, watermarks of a topic. Each call
 * uses a short-lived handle and never joins the group. */
#ifndef SEAM_KAFKA_UTIL_H
#define SEAM_KAFKA_UTIL_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* Partition count of `topic`, or a negative error. */
int seam_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);

/* Committed offsets of `group` for partitions 0..n-1 of `topic` into out[]
 * (-1 where nothing is committed). Uses `bootstrap` and extra properties
 * `props` (NULL-terminated key, value pairs; may be NULL). */
int seam_kafka_committed(const char *bootstrap, const char *const *props, const char *group,
                         const char *topic, int n, int64_t *out, int timeout_ms,
                         char *errstr, size_t errstr_size);

/* High watermarks of partitions 0..n-1 of `topic` (queried from the broker,
 * never the client's cache). */
int seam_kafka_high_watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *out,
                               int timeout_ms, char *errstr, size_t errstr_size);

/* A plain client handle of `type` for tools; NULL with errstr on failure. */
rd_kafka_t *seam_kafka_tool_handle(rd_kafka_type_t type, const char *bootstrap,
                                   const char *const *props, const char *group,
                                   char *errstr, size_t errstr_size);

#endif
