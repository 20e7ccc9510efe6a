/* dlq.h - the dead-letter writer: one idempotent producer (acks=all,
 * enable.idempotence=true, a long message.timeout.ms) shared by every
 * consumer instance of the process, and the record format of docs/dlq.md
 * (header contract version 1). Writes are asynchronous; the outcome of each
 * arrives through its `done` callback on the writer's own thread. */
#ifndef SEAM_DLQ_H
#define SEAM_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "config.h"

#define SEAM_DLQ_VERSION "1"

struct seam_dlq;

struct seam_dlq_record {
        const rd_kafka_message_t *original; /* key, value, headers, provenance */
        const char *dlq_topic;
        const char *consumer, *group, *plugin_name, *plugin_version;
        const char *error_class;   /* framing schema decode handler retries_exhausted */
        const char *error_message;
        uint32_t attempts;
        int64_t first_failure_ms, last_failure_ms;
        int64_t schema_id; /* -1: unknown */
};

/* Called once per write: err 0 when the broker acknowledged the record. */
typedef void (*seam_dlq_done_fn)(void *opaque, rd_kafka_resp_err_t err, const char *errstr);

/* The producer takes the top-level `kafka:` properties (bootstrap, security)
 * with the delivery guarantees forced; `bootstrap_override` is the embedded
 * broker's address when set. */
int seam_dlq_new(const struct seam_config *cfg, const char *bootstrap_override,
                 struct seam_dlq **out, char *errstr, size_t errstr_size);

/* Queues a record. Returns 0 (then `done` is called exactly once) or a
 * negative error (then it is not). */
int seam_dlq_write(struct seam_dlq *d, const struct seam_dlq_record *r, seam_dlq_done_fn done,
                   void *opaque, char *errstr, size_t errstr_size);

/* Waits up to timeout_ms for queued records, then stops the writer; `done`
 * callbacks of records still queued report a failure. Accepts NULL. */
void seam_dlq_destroy(struct seam_dlq *d, int timeout_ms);

/* The replay count of an original message: its seam.replay.count header,
 * 0 when absent or malformed. */
int seam_dlq_replay_count(const rd_kafka_message_t *m);

#endif
