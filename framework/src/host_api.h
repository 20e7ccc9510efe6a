/* host_api.h - what stands behind the opaque handles of the plugin ABI:
 * seam_ctx (one per consumer instance) and seam_msg (one per handle() call,
 * on the worker's stack), and the host API table given to plugins. */
#ifndef SEAM_HOST_API_H
#define SEAM_HOST_API_H

#include <avro.h>
#include <librdkafka/rdkafka.h>

#include "plugin_config.h"
#include "seam/plugin.h"

struct seam_ctx {
        const char *consumer_name;
        const char *plugin_name;
        const char *correlation_header; /* logged as correlation_id */
        struct seam_metrics *metrics;   /* custom metrics; NULL: none kept */
        const struct seam_plugin_config *plugin_config;
};

struct seam_inbox_tx;

/* A message as the plugin sees it: from Kafka (rkm) or from the offline
 * harness (no rkm; headers given). */
struct seam_msg_data {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp; /* ms, -1: none */
        const void *key;
        size_t key_len;
        const void *payload;
        size_t len;
};

struct seam_msg {
        rd_kafka_message_t *rkm; /* NULL for offline messages */
        struct seam_msg_data d;
        const struct seam_ctx *ctx;
        uint32_t attempt;
        /* Filled on demand by the accessors (hence mutable through a const
         * pointer: the plugin sees the message as read-only). */
        char *error; /* msg_set_error, malloc'ed, freed by the host */
        rd_kafka_headers_t *headers;
        int headers_read;
        char idempotency_key[1025]; /* SEAM_IDEM_KEY_MAX + 1 */
        int correlation_read;
        char correlation_id[128]; /* printable copy of the header value */
        avro_value_t *value;      /* decoded record (format avro) or NULL */
        int64_t schema_id;        /* writer schema id, -1: none */
        char *json;               /* msg_value_json, malloc'ed by Avro C */
        struct seam_inbox_tx *inbox_tx; /* during handle() with an inbox */
};

extern const struct seam_host_api seam_host_api_v1;

/* Initialise a message for one handle() call; seam_msg_release frees what
 * the accessors allocated. */
void seam_msg_init(struct seam_msg *m, rd_kafka_message_t *rkm,
                   const struct seam_ctx *ctx, uint32_t attempt);
/* An offline message (the plugin test harness); `headers` (may be NULL) is
 * borrowed. */
void seam_msg_init_data(struct seam_msg *m, const struct seam_msg_data *d,
                        rd_kafka_headers_t *headers, const struct seam_ctx *ctx,
                        uint32_t attempt);
void seam_msg_release(struct seam_msg *m);

/* The log context of a message (consumer, topic, partition, offset). */
struct seam_log_ctx seam_msg_log_ctx(const struct seam_msg *m);

#endif
