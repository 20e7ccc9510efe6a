/* config.h - the seam YAML config: parsed, type-checked, ${ENV} substituted.
 *
 * The file (see README "Config reference"):
 *
 *   seam:                       # process settings, all optional
 *     plugin_path: [dir, ...]   # where `plugin: NAME` is looked up
 *     embedded_broker: false    # run against librdkafka's in-process mock
 *     embedded_broker_count: 1  # brokers in the embedded cluster
 *     embedded_topics:          # topics the embedded broker creates at start
 *       - {name: orders, partitions: 4}
 *     shutdown_timeout_ms: 30000
 *     log_format: json          # json | logfmt
 *     log_level: info           # debug | info | warn | error
 *   kafka:                      # librdkafka properties shared by all consumers
 *     bootstrap.servers: ${KAFKA_BOOTSTRAP}
 *   consumers:
 *     - name: audit             # unique, [A-Za-z0-9_.-]+
 *       plugin: audit_log       # a name on plugin_path, or a path to a .so
 *       topics: [orders]        # one or more
 *       group_id: audit         # the Kafka consumer group
 *       workers: 4              # worker threads of this instance
 *       commit_interval_ms: 1000
 *       retry_backoff_ms: 1000      # first RETRY delay
 *       retry_backoff_max_ms: 30000 # cap of the doubling delay
 *       max_buffered_per_partition: 20000 # partition paused above this
 *       kafka: { ... }          # per-consumer librdkafka properties (override)
 *       config: { ... }         # the plugin's own config block
 *
 * Every error names the file, line, key path and what was expected.
 */
#ifndef SEAM_CONFIG_H
#define SEAM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* One `key: value` pair with the line it came from (for error messages). */
struct seam_kv {
        char *key;
        char *value; /* after ${ENV} substitution */
        int line;
};

struct seam_kv_list {
        struct seam_kv *items;
        size_t count;
};

struct seam_topic_spec {
        char *name;
        int partitions;
};

struct seam_consumer_config {
        char *name;
        char *plugin; /* as written: a path (contains '/') or a name */
        char **topics;
        size_t topic_count;
        char *group_id;
        int workers;
        int64_t commit_interval_ms;
        int64_t retry_backoff_ms;
        int64_t retry_backoff_max_ms;
        int retry_max_attempts; /* handle() calls before dead-lettering */
        double retry_multiplier;
        double retry_jitter;    /* 0..1: +- fraction of each delay */
        char *dlq_topic;        /* NULL: <source topic>.dlq */
        int max_buffered_per_partition;
        char *correlation_header; /* header logged as correlation_id */
        char *format;             /* "avro" or "raw" */
        char **subjects;          /* schema.subjects */
        size_t subject_count;
        char *reader_subject;     /* schema.reader.subject */
        int reader_version;       /* schema.reader.version */
        char *reader_file;        /* schema.reader_file */
        /* idempotency */
        char *key_field;          /* idempotency.key.field */
        char *key_header;         /* idempotency.key.header */
        char *dedup_store;        /* "none" "embedded" "postgres" */
        int inbox;                /* idempotency.inbox */
        int inbox_store_offsets;  /* idempotency.store_offsets */
        /* Process-level `kafka:` first, then this consumer's `kafka:`; a key
         * in both appears once with the consumer's value. */
        struct seam_kv_list kafka;
        /* The plugin's `config:` block; nested maps are flattened with '.'
         * ("db: {host: x}" gives key "db.host"). Scalars only. */
        struct seam_kv_list plugin_config;
        int line; /* line of this consumer's entry */
};

struct seam_config {
        char *path; /* the file it was loaded from, for messages */
        char **plugin_path;
        size_t plugin_path_count;
        int embedded_broker;
        int embedded_broker_count;
        struct seam_topic_spec *embedded_topics;
        size_t embedded_topic_count;
        int64_t shutdown_timeout_ms;
        char *log_format; /* "json" or "logfmt" */
        char *log_level;  /* "debug" "info" "warn" "error" */
        char *http_bind;  /* seam.http.bind */
        int http_port;    /* seam.http.port; 0: no HTTP server */
        int64_t health_poll_stall_ms;    /* seam.health.poll_stall_ms */
        int64_t health_handler_stall_ms; /* seam.health.handler_stall_ms */
        int64_t lag_refresh_ms;          /* seam.lag_refresh_ms */
        /* seam.registry */
        char *registry_type; /* "local" or "http" */
        char *registry_dir, *registry_url, *registry_username, *registry_password;
        char *registry_ca_file, *registry_client_cert, *registry_client_key;
        char *registry_cache_dir;
        int registry_insecure, registry_retries;
        int64_t registry_connect_timeout_ms, registry_timeout_ms, registry_backoff_ms;
        int64_t registry_negative_ttl_ms;
        /* seam.dedup */
        char *dedup_embedded_path, *dedup_postgres_dsn, *dedup_table;
        int64_t dedup_retention_ms;
        int dedup_pool_size;
        struct seam_consumer_config *consumers;
        size_t consumer_count;
        /* The process-level `kafka:` map as written (already merged into
         * every consumer's list); for clients that belong to no consumer,
         * such as the DLQ producer. */
        struct seam_kv_list kafka;
};

/* Load and validate `path`. On success returns 0 and sets *out (free with
 * seam_config_destroy). On failure returns SEAM_ERR_CONFIG and writes one
 * message to errstr: "FILE:LINE: KEY.PATH: what was expected, what was found".
 */
int seam_config_load(const char *path, struct seam_config **out, char *errstr,
                     size_t errstr_size);

/* Same, from memory; `name` stands for the file name in messages. */
int seam_config_parse(const char *yaml, size_t len, const char *name,
                      struct seam_config **out, char *errstr,
                      size_t errstr_size);

void seam_config_destroy(struct seam_config *cfg); /* accepts NULL */

/* Look a key up in a list; NULL if absent. */
const struct seam_kv *seam_kv_find(const struct seam_kv_list *list,
                                   const char *key);

/* Substitute ${NAME} (and ${NAME:-default}) from the environment in `in`.
 * "$$" is a literal '$'. An unset variable without default is an error that
 * names the variable. Returns a malloc'ed string, or NULL with errstr set. */
char *seam_config_expand_env(const char *in, char *errstr, size_t errstr_size);

#endif
