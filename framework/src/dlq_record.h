/* dlq_record.h - the reading side of the DLQ header contract (docs/dlq.md,
 * version 1): the seam.* headers of a dead-letter record parsed into a
 * struct, for the DLQ tools and for tests that audit a DLQ. The writing side
 * is dlq.c. Parsing never fails on content: a record that is not a seam
 * dead-letter record, or one with a malformed header, comes back with
 * `version` 0 or `problem` set, so a tool can show it instead of stopping. */
#ifndef SEAM_DLQ_RECORD_H
#define SEAM_DLQ_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* Bits of seam_dlq_info.present, one per numeric header. */
enum {
        SEAM_DLQ_HAS_PARTITION = 1 << 0,  /* seam.original.partition */
        SEAM_DLQ_HAS_OFFSET = 1 << 1,     /* seam.original.offset */
        SEAM_DLQ_HAS_TIMESTAMP = 1 << 2,  /* seam.original.timestamp */
        SEAM_DLQ_HAS_ATTEMPTS = 1 << 3,   /* seam.attempts */
        SEAM_DLQ_HAS_FIRST = 1 << 4,      /* seam.failure.first */
        SEAM_DLQ_HAS_LAST = 1 << 5,       /* seam.failure.last */
        SEAM_DLQ_HAS_SCHEMA_ID = 1 << 6,  /* seam.schema.id */
        SEAM_DLQ_HAS_REPLAY = 1 << 7,     /* seam.replay.count */
};

struct seam_dlq_info {
        /* seam.dlq.version: 0 when the header is absent (not a seam
         * dead-letter record), -1 when it is not a decimal number. */
        int version;
        /* Text headers, malloc'ed and NUL-terminated; NULL when absent. */
        char *original_topic;
        char *consumer, *group, *plugin_name, *plugin_version;
        char *error_class, *error_message;
        /* Numeric headers; valid only where `present` has the bit. */
        int32_t original_partition;
        int64_t original_offset, original_timestamp;
        int64_t attempts, failure_first, failure_last, schema_id;
        /* seam_dlq_replay_count() of the record: the loop guard reads the
         * count exactly as the writer carries it over (0 when absent or
         * malformed); a malformed one is also named in `problem`. */
        int replay_count;
        unsigned present;
        /* The first required header found missing or malformed, as text;
         * "" when the record follows the contract. */
        char problem[160];
};

/* Parses the seam.* headers of `m` (the last one of each name, as written
 * by dlq.c). Returns 0, or SEAM_ERR_NOMEM (then `out` is cleared). Free
 * with seam_dlq_info_clear. */
int seam_dlq_info_parse(const rd_kafka_message_t *m, struct seam_dlq_info *out);

/* Frees the strings and zeroes `i`. */
void seam_dlq_info_clear(struct seam_dlq_info *i);

#endif
