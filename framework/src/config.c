/* config.c - the seam YAML config.
 *
 * libyaml's document API builds the node tree; the tree is then walked with
 * one static table per map (key, type, field offset, required, default,
 * description). A later issue adds a key by adding a row: parsing, type and
 * range checks, defaults, the "valid keys" list of the unknown-key message
 * and freeing all follow from the row.
 *
 * ${ENV} substitution runs on each scalar value after parsing, so a secret
 * that contains YAML syntax can never change the structure of the file.
 *
 * The first error stops the walk. Every allocation is stored in the config
 * struct as soon as it is made, so one seam_config_destroy() unwinds any
 * partial result. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "err.h"

/* A config is hand-written; anything larger is a mistake, not a config. */
#define CONFIG_MAX_BYTES (16 * 1024 * 1024)
/* Bounds for the plugin `config:` block, whose nesting is free-form and
 * whose aliases (`*a`) can repeat a subtree: keep the walk linear. */
#define FLAT_MAX_DEPTH 16
#define KV_MAX_ENTRIES 4096
#define LIST_MAX_ITEMS 4096 /* consumers, topics: keeps uniqueness checks cheap */
#define MAX_VISITS 100000
#define MAX_KEYS 64 /* keys of one table; see the static asserts */
#define PATH_MAX_LEN 512

enum cfg_type {
        CT_INT,         /* int, min..max */
        CT_INT64,       /* int64_t, min..max */
        CT_DOUBLE,      /* double, dmin..dmax */
        CT_BOOL,        /* int, true or false only */
        CT_STRING,      /* char *, non-empty */
        CT_NAME,        /* char *, [A-Za-z0-9_.-]+ */
        CT_CHOICE,      /* char *, one of `choices` */
        CT_STRING_LIST, /* char **, count at count_offset */
        CT_KAFKA,       /* struct seam_kv_list, scalar values only */
        CT_FLAT_MAP,    /* struct seam_kv_list, nested maps joined with '.' */
        CT_MAP,         /* a nested map whose keys (`sub`) fill the same struct */
        CT_LIST         /* array of `sub` structs, count at count_offset */
};

struct parse_ctx;
struct cfg_table;

struct cfg_key {
        const char *name;
        enum cfg_type type;
        size_t offset;
        size_t count_offset; /* CT_STRING_LIST, CT_LIST */
        int required;        /* must be present; a list must be non-empty */
        const char *def;     /* default of a scalar key, as YAML text */
        int64_t min, max;    /* CT_INT, CT_INT64 */
        double dmin, dmax;   /* CT_DOUBLE */
        const char *const *choices; /* CT_CHOICE, NULL-terminated */
        const struct cfg_table *sub; /* CT_MAP, CT_LIST */
        const char *desc;    /* shown when a required key is missing */
};

struct cfg_table {
        const struct cfg_key *keys;
        size_t count;
        size_t elem_size;         /* as a CT_LIST element */
        const char *unique_key;   /* as a CT_LIST element: unique string key */
        size_t unique_offset;
        /* Cross-key checks and derived values, after keys and defaults. */
        int (*finish)(struct parse_ctx *c, void *obj, yaml_node_t *node,
                      int line, const char *path);
};

struct parse_ctx {
        yaml_document_t *doc;
        const char *name;
        char *err;
        size_t err_size;
        long visits;
};

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static int finish_consumer(struct parse_ctx *c, void *obj, yaml_node_t *node,
                           int line, const char *path);
static int finish_top(struct parse_ctx *c, void *obj, yaml_node_t *node,
                      int line, const char *path);

static const char *const log_formats[] = {"json", "logfmt", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error",
                                         NULL};

static const struct cfg_key topic_keys[] = {
        {.name = "name", .type = CT_NAME, .required = 1,
         .offset = offsetof(struct seam_topic_spec, name),
         .desc = "the topic to create"},
        {.name = "partitions", .type = CT_INT, .def = "1", .min = 1,
         .max = 1000, .offset = offsetof(struct seam_topic_spec, partitions),
         .desc = "partitions of the topic"},
};

static const struct cfg_table topic_table = {
        .keys = topic_keys,
        .count = NKEYS(topic_keys),
        .elem_size = sizeof(struct seam_topic_spec),
        .unique_key = "name",
        .unique_offset = offsetof(struct seam_topic_spec, name),
};

static const struct cfg_key http_keys[] = {
        {.name = "bind", .type = CT_STRING, .def = "127.0.0.1",
         .offset = offsetof(struct seam_config, http_bind),
         .desc = "address of the /metrics, /healthz, /readyz server"},
        {.name = "port", .type = CT_INT, .def = "0", .min = 0, .max = 65535,
         .offset = offsetof(struct seam_config, http_port),
         .desc = "port of the HTTP server; 0: no server"},
};

static const struct cfg_table http_table = {
        .keys = http_keys,
        .count = NKEYS(http_keys),
};

static const struct cfg_key health_keys[] = {
        {.name = "poll_stall_ms", .type = CT_INT64, .def = "30000",
         .min = 1000, .max = INT32_MAX,
         .offset = offsetof(struct seam_config, health_poll_stall_ms),
         .desc = "liveness fails when a poll loop is stuck this long"},
        {.name = "handler_stall_ms", .type = CT_INT64, .def = "300000",
         .min = 1000, .max = INT32_MAX,
         .offset = offsetof(struct seam_config, health_handler_stall_ms),
         .desc = "liveness fails when one handle() call runs this long"},
};

static const struct cfg_table health_table = {
        .keys = health_keys,
        .count = NKEYS(health_keys),
};

static const char *const registry_types[] = {"local", "http", NULL};

static const struct cfg_key registry_keys[] = {
        {.name = "type", .type = CT_CHOICE, .def = "local", .choices = registry_types,
         .offset = offsetof(struct seam_config, registry_type),
         .desc = "local (the schemas/ folder) or http (Confluent-compatible REST)"},
        {.name = "dir", .type = CT_STRING, .def = "schemas",
         .offset = offsetof(struct seam_config, registry_dir),
         .desc = "the schemas folder of a local registry"},
        {.name = "url", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_url),
         .desc = "base URL of an http registry"},
        {.name = "username", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_username),
         .desc = "basic auth user"},
        {.name = "password", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_password),
         .desc = "basic auth password (use ${ENV})"},
        {.name = "ca_file", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_ca_file),
         .desc = "PEM CA bundle for TLS"},
        {.name = "client_cert", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_client_cert),
         .desc = "PEM client certificate for mutual TLS"},
        {.name = "client_key", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_client_key),
         .desc = "PEM client key for mutual TLS"},
        {.name = "insecure_skip_verify", .type = CT_BOOL, .def = "false",
         .offset = offsetof(struct seam_config, registry_insecure),
         .desc = "do not verify the server certificate (tests only)"},
        {.name = "connect_timeout_ms", .type = CT_INT64, .def = "2000", .min = 1,
         .max = INT32_MAX, .offset = offsetof(struct seam_config, registry_connect_timeout_ms),
         .desc = "TCP/TLS connect timeout"},
        {.name = "timeout_ms", .type = CT_INT64, .def = "5000", .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_config, registry_timeout_ms),
         .desc = "whole request timeout"},
        {.name = "retries", .type = CT_INT, .def = "2", .min = 0, .max = 100,
         .offset = offsetof(struct seam_config, registry_retries),
         .desc = "extra attempts of a failed request"},
        {.name = "backoff_ms", .type = CT_INT64, .def = "200", .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_config, registry_backoff_ms),
         .desc = "first delay between attempts"},
        {.name = "negative_ttl_ms", .type = CT_INT64, .def = "30000", .min = 0,
         .max = INT32_MAX, .offset = offsetof(struct seam_config, registry_negative_ttl_ms),
         .desc = "how long an unknown id is remembered"},
        {.name = "cache_dir", .type = CT_STRING,
         .offset = offsetof(struct seam_config, registry_cache_dir),
         .desc = "on-disk last-known-good schema cache"},
};

static const struct cfg_table registry_table = {
        .keys = registry_keys,
        .count = NKEYS(registry_keys),
};

static const struct cfg_key dedup_keys[] = {
        {.name = "embedded_path", .type = CT_STRING,
         .offset = offsetof(struct seam_config, dedup_embedded_path),
         .desc = "file of the embedded (LMDB) idempotency store"},
        {.name = "postgres_dsn", .type = CT_STRING,
         .offset = offsetof(struct seam_config, dedup_postgres_dsn),
         .desc = "libpq conninfo of the shared PostgreSQL store (use ${ENV})"},
        {.name = "table", .type = CT_STRING, .def = "seam_dedup",
         .offset = offsetof(struct seam_config, dedup_table),
         .desc = "table (postgres) or sub-database (embedded) of the marks"},
        {.name = "retention_ms", .type = CT_INT64, .def = "604800000", .min = 60000,
         .max = INT64_MAX / 2, .offset = offsetof(struct seam_config, dedup_retention_ms),
         .desc = "how long a mark is kept"},
        {.name = "pool_size", .type = CT_INT, .def = "4", .min = 1, .max = 256,
         .offset = offsetof(struct seam_config, dedup_pool_size),
         .desc = "PostgreSQL connections held at most"},
};

static const struct cfg_table dedup_table = {
        .keys = dedup_keys,
        .count = NKEYS(dedup_keys),
};

static const struct cfg_key seam_keys[] = {
        {.name = "plugin_path", .type = CT_STRING_LIST,
         .offset = offsetof(struct seam_config, plugin_path),
         .count_offset = offsetof(struct seam_config, plugin_path_count),
         .desc = "directories where `plugin: NAME` is looked up"},
        {.name = "embedded_broker", .type = CT_BOOL, .def = "false",
         .offset = offsetof(struct seam_config, embedded_broker),
         .desc = "run against librdkafka's in-process mock cluster"},
        {.name = "embedded_broker_count", .type = CT_INT, .def = "1",
         .min = 1, .max = 8,
         .offset = offsetof(struct seam_config, embedded_broker_count),
         .desc = "brokers in the embedded cluster"},
        {.name = "embedded_topics", .type = CT_LIST, .sub = &topic_table,
         .offset = offsetof(struct seam_config, embedded_topics),
         .count_offset = offsetof(struct seam_config, embedded_topic_count),
         .desc = "topics the embedded broker creates at start"},
        {.name = "shutdown_timeout_ms", .type = CT_INT64, .def = "30000",
         .min = 1000, .max = 600000,
         .offset = offsetof(struct seam_config, shutdown_timeout_ms),
         .desc = "how long a shutdown may drain"},
        {.name = "log_format", .type = CT_CHOICE, .def = "json",
         .choices = log_formats,
         .offset = offsetof(struct seam_config, log_format),
         .desc = "format of the log lines"},
        {.name = "log_level", .type = CT_CHOICE, .def = "info",
         .choices = log_levels,
         .offset = offsetof(struct seam_config, log_level),
         .desc = "lowest level logged"},
        {.name = "http", .type = CT_MAP, .sub = &http_table, .offset = 0,
         .desc = "the metrics and health HTTP server"},
        {.name = "health", .type = CT_MAP, .sub = &health_table, .offset = 0,
         .desc = "liveness thresholds"},
        {.name = "registry", .type = CT_MAP, .sub = &registry_table, .offset = 0,
         .desc = "where writer and reader schemas come from"},
        {.name = "dedup", .type = CT_MAP, .sub = &dedup_table, .offset = 0,
         .desc = "idempotency stores"},
        {.name = "lag_refresh_ms", .type = CT_INT64, .def = "5000",
         .min = 100, .max = INT32_MAX,
         .offset = offsetof(struct seam_config, lag_refresh_ms),
         .desc = "how often high watermarks are queried for lag"},
};

static const struct cfg_table seam_table = {
        .keys = seam_keys,
        .count = NKEYS(seam_keys),
};

static const char *const formats[] = {"avro", "raw", NULL};

static const struct cfg_key reader_keys[] = {
        {.name = "subject", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, reader_subject),
         .desc = "subject of the plugin's reader schema"},
        {.name = "version", .type = CT_INT, .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_consumer_config, reader_version),
         .desc = "pinned version of the reader schema"},
};

static const struct cfg_table reader_table = {
        .keys = reader_keys,
        .count = NKEYS(reader_keys),
};

static const struct cfg_key schema_keys[] = {
        {.name = "subjects", .type = CT_STRING_LIST,
         .offset = offsetof(struct seam_consumer_config, subjects),
         .count_offset = offsetof(struct seam_consumer_config, subject_count),
         .desc = "subjects whose writer schemas this consumer accepts"},
        {.name = "reader", .type = CT_MAP, .sub = &reader_table, .offset = 0,
         .desc = "the plugin's reader schema: {subject, version}"},
        {.name = "reader_file", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, reader_file),
         .desc = "the plugin's reader schema as an .avsc file"},
};

static const struct cfg_table schema_table = {
        .keys = schema_keys,
        .count = NKEYS(schema_keys),
};

static const char *const dedup_stores[] = {"none", "embedded", "postgres", NULL};

static const struct cfg_key key_keys[] = {
        {.name = "field", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, key_field),
         .desc = "field path in the decoded record, e.g. event_id or payment.id"},
        {.name = "header", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, key_header),
         .desc = "message header holding the key"},
};

static const struct cfg_table key_table = {
        .keys = key_keys,
        .count = NKEYS(key_keys),
};

static const struct cfg_key idempotency_keys[] = {
        {.name = "key", .type = CT_MAP, .sub = &key_table, .offset = 0,
         .desc = "where the idempotency key comes from; default topic/partition/offset"},
        {.name = "store", .type = CT_CHOICE, .def = "none", .choices = dedup_stores,
         .offset = offsetof(struct seam_consumer_config, dedup_store),
         .desc = "none, embedded (single instance) or postgres (shared by all pods)"},
        {.name = "inbox", .type = CT_BOOL, .def = "false",
         .offset = offsetof(struct seam_consumer_config, inbox),
         .desc = "postgres: run the plugin's SQL in the mark's transaction"},
        {.name = "store_offsets", .type = CT_BOOL, .def = "false",
         .offset = offsetof(struct seam_consumer_config, inbox_store_offsets),
         .desc = "inbox: store consumed offsets in the database and resume from them"},
};

static const struct cfg_table idempotency_table = {
        .keys = idempotency_keys,
        .count = NKEYS(idempotency_keys),
};

static const struct cfg_key consumer_keys[] = {
        {.name = "name", .type = CT_NAME, .required = 1,
         .offset = offsetof(struct seam_consumer_config, name),
         .desc = "the unique name of this consumer instance"},
        {.name = "plugin", .type = CT_STRING, .required = 1,
         .offset = offsetof(struct seam_consumer_config, plugin),
         .desc = "a plugin name on plugin_path or a path to a .so"},
        {.name = "topics", .type = CT_STRING_LIST, .required = 1,
         .offset = offsetof(struct seam_consumer_config, topics),
         .count_offset = offsetof(struct seam_consumer_config, topic_count),
         .desc = "the topics to consume"},
        {.name = "group_id", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, group_id),
         .desc = "the Kafka consumer group; default: the consumer name"},
        {.name = "workers", .type = CT_INT, .def = "4", .min = 1, .max = 256,
         .offset = offsetof(struct seam_consumer_config, workers),
         .desc = "worker threads of this instance"},
        {.name = "commit_interval_ms", .type = CT_INT64, .def = "1000",
         .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_consumer_config, commit_interval_ms),
         .desc = "how often offsets are committed"},
        {.name = "retry_backoff_ms", .type = CT_INT64, .def = "1000",
         .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_consumer_config, retry_backoff_ms),
         .desc = "first RETRY delay"},
        {.name = "retry_backoff_max_ms", .type = CT_INT64, .def = "30000",
         .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_consumer_config, retry_backoff_max_ms),
         .desc = "cap of the doubling RETRY delay"},
        {.name = "retry_max_attempts", .type = CT_INT, .def = "5", .min = 1,
         .max = 1000000,
         .offset = offsetof(struct seam_consumer_config, retry_max_attempts),
         .desc = "handle() calls for one message before it is dead-lettered"},
        {.name = "retry_multiplier", .type = CT_DOUBLE, .def = "2", .dmin = 1,
         .dmax = 100,
         .offset = offsetof(struct seam_consumer_config, retry_multiplier),
         .desc = "factor between consecutive RETRY delays"},
        {.name = "retry_jitter", .type = CT_DOUBLE, .def = "0.2", .dmin = 0,
         .dmax = 1,
         .offset = offsetof(struct seam_consumer_config, retry_jitter),
         .desc = "random +- fraction applied to each RETRY delay"},
        {.name = "dlq_topic", .type = CT_STRING,
         .offset = offsetof(struct seam_consumer_config, dlq_topic),
         .desc = "dead-letter topic; default: <source topic>.dlq"},
        {.name = "max_buffered_per_partition", .type = CT_INT, .def = "20000",
         .min = 1, .max = INT32_MAX,
         .offset = offsetof(struct seam_consumer_config,
                            max_buffered_per_partition),
         .desc = "messages buffered before the partition is paused"},
        {.name = "format", .type = CT_CHOICE, .choices = formats,
         .offset = offsetof(struct seam_consumer_config, format),
         .desc = "avro: Confluent-framed, registered, decoded; raw: bytes as they are"},
        {.name = "schema", .type = CT_MAP, .sub = &schema_table, .offset = 0,
         .desc = "accepted subjects and the reader schema (format avro)"},
        {.name = "idempotency", .type = CT_MAP, .sub = &idempotency_table, .offset = 0,
         .desc = "idempotency key and dedup store"},
        {.name = "correlation_header", .type = CT_STRING, .def = "traceparent",
         .offset = offsetof(struct seam_consumer_config, correlation_header),
         .desc = "message header whose value is logged as correlation_id"},
        {.name = "kafka", .type = CT_KAFKA,
         .offset = offsetof(struct seam_consumer_config, kafka),
         .desc = "librdkafka properties of this consumer"},
        {.name = "config", .type = CT_FLAT_MAP,
         .offset = offsetof(struct seam_consumer_config, plugin_config),
         .desc = "the plugin's own config block"},
};

static const struct cfg_table consumer_table = {
        .keys = consumer_keys,
        .count = NKEYS(consumer_keys),
        .elem_size = sizeof(struct seam_consumer_config),
        .unique_key = "name",
        .unique_offset = offsetof(struct seam_consumer_config, name),
        .finish = finish_consumer,
};

static const struct cfg_key top_keys[] = {
        {.name = "seam", .type = CT_MAP, .sub = &seam_table, .offset = 0,
         .desc = "process settings"},
        {.name = "kafka", .type = CT_KAFKA,
         .offset = offsetof(struct seam_config, kafka),
         .desc = "librdkafka properties shared by all consumers"},
        {.name = "consumers", .type = CT_LIST, .required = 1,
         .sub = &consumer_table,
         .offset = offsetof(struct seam_config, consumers),
         .count_offset = offsetof(struct seam_config, consumer_count),
         .desc = "the consumer instances"},
};

static const struct cfg_table top_table = {
        .keys = top_keys,
        .count = NKEYS(top_keys),
        .finish = finish_top,
};

_Static_assert(NKEYS(topic_keys) <= MAX_KEYS, "topic_keys");
_Static_assert(NKEYS(seam_keys) <= MAX_KEYS, "seam_keys");
_Static_assert(NKEYS(http_keys) <= MAX_KEYS, "http_keys");
_Static_assert(NKEYS(registry_keys) <= MAX_KEYS, "registry_keys");
_Static_assert(NKEYS(schema_keys) <= MAX_KEYS, "schema_keys");
_Static_assert(NKEYS(idempotency_keys) <= MAX_KEYS, "idempotency_keys");
_Static_assert(NKEYS(dedup_keys) <= MAX_KEYS, "dedup_keys");
_Static_assert(NKEYS(health_keys) <= MAX_KEYS, "health_keys");
_Static_assert(NKEYS(consumer_keys) <= MAX_KEYS, "consumer_keys");
_Static_assert(NKEYS(top_keys) <= MAX_KEYS, "top_keys");

/* ---- messages ---- */

static int fail(struct parse_ctx *c, int line, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct parse_ctx *c, int line, const char *path,
                const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (!c->err || c->err_size == 0)
                return SEAM_ERR_CONFIG;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (path && *path)
                snprintf(c->err, c->err_size, "%s:%d: %s: %s", c->name, line,
                         path, msg);
        else
                snprintf(c->err, c->err_size, "%s:%d: %s", c->name, line, msg);
        return SEAM_ERR_CONFIG;
}

static int oom(struct parse_ctx *c)
{
        if (c->err && c->err_size)
                snprintf(c->err, c->err_size, "%s: out of memory", c->name);
        return SEAM_ERR_NOMEM;
}

/* A value for "got ...": quoted, shortened, control bytes masked. */
static const char *describe_bytes(const char *s, size_t len, char *buf,
                                  size_t size)
{
        size_t n = 0, i;

        if (len == 0)
                return "an empty value";
        buf[n++] = '"';
        for (i = 0; i < len && i < 60 && n + 6 < size; i++) {
                unsigned char ch = (unsigned char)s[i];
                buf[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
        }
        if (i < len) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n++] = '"';
        buf[n] = '\0';
        return buf;
}

static const char *describe_text(const char *s, char *buf, size_t size)
{
        return describe_bytes(s, strlen(s), buf, size);
}

static const char *describe_node(const yaml_node_t *n, char *buf, size_t size)
{
        switch (n->type) {
        case YAML_MAPPING_NODE:
                return "a map";
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_SCALAR_NODE:
                return describe_bytes((const char *)n->data.scalar.value,
                                      n->data.scalar.length, buf, size);
        default:
                return "nothing";
        }
}

static const char *expected(const struct cfg_key *k, char *buf, size_t size)
{
        size_t n;

        switch (k->type) {
        case CT_INT:
        case CT_INT64:
                snprintf(buf, size, "an integer between %lld and %lld",
                         (long long)k->min, (long long)k->max);
                return buf;
        case CT_DOUBLE:
                snprintf(buf, size, "a number between %g and %g", k->dmin, k->dmax);
                return buf;
        case CT_BOOL:
                return "true or false";
        case CT_STRING:
                return "a non-empty string";
        case CT_NAME:
                return "a name of letters, digits, '_', '.' and '-'";
        case CT_CHOICE:
                n = (size_t)snprintf(buf, size, "one of");
                for (size_t i = 0; k->choices[i] && n < size; i++)
                        n += (size_t)snprintf(buf + n, size - n, "%s %s",
                                              i ? "," : "", k->choices[i]);
                return buf;
        case CT_STRING_LIST:
                return k->required ? "a non-empty list of strings"
                                   : "a list of strings";
        case CT_KAFKA:
                return "a map of librdkafka properties";
        case CT_FLAT_MAP:
        case CT_MAP:
                return "a map";
        case CT_LIST:
                return k->required ? "a non-empty list of maps"
                                   : "a list of maps";
        }
        return "a value";
}

static void key_list(const struct cfg_table *t, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < t->count && n < size; i++)
                n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
                                      t->keys[i].name);
}

/* snprintf for text that may be cut (paths and messages): 0 if it fit. */
static int bprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return n >= 0 && (size_t)n < size ? 0 : -1;
}

static int path_key(char *out, const char *path, const char *key)
{
        if (path && *path)
                return bprintf(out, PATH_MAX_LEN, "%s.%s", path, key);
        return bprintf(out, PATH_MAX_LEN, "%s", key);
}

/* ---- ${ENV} substitution ---- */

struct strbuf {
        char *s;
        size_t len, cap;
        int oom;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->s, cap);
                if (!p) {
                        b->oom = 1;
                        return;
                }
                b->s = p;
                b->cap = cap;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static int valid_env_name(const char *s, size_t n)
{
        if (n == 0 || isdigit((unsigned char)s[0]))
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_')
                        return 0;
        return 1;
}

/* 0 and *out (malloc'ed), or SEAM_ERR_CONFIG / SEAM_ERR_NOMEM and `err`. */
static int expand_env(const char *in, char **out, char *err, size_t err_size)
{
        struct strbuf b = {0};
        const char *p = in;

        *out = NULL;
        sb_add(&b, "", 0);
        while (*p && !b.oom) {
                const char *dollar = strchr(p, '$');
                const char *end, *inner, *sep, *value;
                char name[256];
                size_t name_len;

                if (!dollar) {
                        sb_add(&b, p, strlen(p));
                        break;
                }
                sb_add(&b, p, (size_t)(dollar - p));
                if (dollar[1] == '$') {
                        sb_add(&b, "$", 1);
                        p = dollar + 2;
                        continue;
                }
                if (dollar[1] != '{') {
                        /* A lone '$' (as in a password) is kept as written. */
                        sb_add(&b, "$", 1);
                        p = dollar + 1;
                        continue;
                }
                inner = dollar + 2;
                end = strchr(inner, '}');
                if (!end) {
                        snprintf(err, err_size,
                                 "expected '}' to close \"${\", got the end "
                                 "of the value (write $$ for a literal '$')");
                        free(b.s);
                        return SEAM_ERR_CONFIG;
                }
                sep = strstr(inner, ":-");
                if (sep && sep > end)
                        sep = NULL;
                name_len = (size_t)((sep ? sep : end) - inner);
                if (!valid_env_name(inner, name_len) ||
                    name_len >= sizeof(name)) {
                        snprintf(err, err_size,
                                 "expected an environment variable name of "
                                 "letters, digits and '_' in ${...}, got "
                                 "\"%.*s\"",
                                 (int)(name_len > 64 ? 64 : name_len), inner);
                        free(b.s);
                        return SEAM_ERR_CONFIG;
                }
                memcpy(name, inner, name_len);
                name[name_len] = '\0';
                value = getenv(name);
                /* As in the shell, ":-" also replaces an empty value. */
                if (sep && (!value || !*value)) {
                        sb_add(&b, sep + 2, (size_t)(end - (sep + 2)));
                } else if (!value) {
                        bprintf(err, err_size,
                                 "expected environment variable %s to be set "
                                 "(or a default: ${%s:-value}), it is not set",
                                 name, name);
                        free(b.s);
                        return SEAM_ERR_CONFIG;
                } else {
                        sb_add(&b, value, strlen(value));
                }
                p = end + 1;
        }
        if (b.oom) {
                free(b.s);
                snprintf(err, err_size, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        *out = b.s;
        return 0;
}

char *seam_config_expand_env(const char *in, char *errstr, size_t errstr_size)
{
        char buf[512], *out;

        if (!in) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "no input");
                return NULL;
        }
        if (expand_env(in, &out, buf, sizeof(buf)) != 0) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "%s", buf);
                return NULL;
        }
        return out;
}

/* ---- key/value lists ---- */

static void kv_list_free(struct seam_kv_list *l)
{
        for (size_t i = 0; i < l->count; i++) {
                free(l->items[i].key);
                free(l->items[i].value);
        }
        free(l->items);
        l->items = NULL;
        l->count = 0;
}

/* Takes ownership of key and value on success only. */
static int kv_append(struct seam_kv_list *l, char *key, char *value, int line)
{
        struct seam_kv *items;

        items = realloc(l->items, (l->count + 1) * sizeof(*items));
        if (!items)
                return SEAM_ERR_NOMEM;
        l->items = items;
        items[l->count++] = (struct seam_kv){key, value, line};
        return 0;
}

const struct seam_kv *seam_kv_find(const struct seam_kv_list *list,
                                   const char *key)
{
        if (!list || !key)
                return NULL;
        for (size_t i = 0; i < list->count; i++)
                if (strcmp(list->items[i].key, key) == 0)
                        return &list->items[i];
        return NULL;
}

/* ---- nodes ---- */

static yaml_node_t *node_at(struct parse_ctx *c, int index)
{
        return yaml_document_get_node(c->doc, index);
}

static int line_of(const yaml_node_t *n)
{
        return (int)n->start_mark.line + 1;
}

/* An empty `key:` (or ~ / null) where a map or list is expected means an
 * empty one. */
static int is_null(const yaml_node_t *n)
{
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
        const char *s = (const char *)n->data.scalar.value;

        if (n->type != YAML_SCALAR_NODE ||
            n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return 0;
        for (size_t i = 0; i < NKEYS(nulls); i++)
                if (n->data.scalar.length == strlen(nulls[i]) &&
                    memcmp(s, nulls[i], n->data.scalar.length) == 0)
                        return 1;
        return 0;
}

static int scalar_eq(const yaml_node_t *n, const char *s)
{
        return n->type == YAML_SCALAR_NODE &&
               n->data.scalar.length == strlen(s) &&
               memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static int has_nul(const yaml_node_t *n)
{
        return memchr(n->data.scalar.value, '\0', n->data.scalar.length) !=
               NULL;
}

/* The value node of `key` in map `n`, or NULL. */
static yaml_node_t *map_get(struct parse_ctx *c, yaml_node_t *n,
                            const char *key)
{
        if (!n || n->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node_at(c, p->key);

                if (k && scalar_eq(k, key))
                        return node_at(c, p->value);
        }
        return NULL;
}

/* A key's text, for paths; keys with NUL are refused before this. */
static int key_text(struct parse_ctx *c, yaml_node_t *k, const char *path,
                    char *out, size_t size)
{
        char got[96];

        if (k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0 ||
            has_nul(k))
                return fail(c, line_of(k), path, "expected a key name, got %s",
                            describe_node(k, got, sizeof(got)));
        if (k->data.scalar.length >= size)
                return fail(c, line_of(k), path,
                            "expected a key of at most %zu characters, got "
                            "%s",
                            size - 1, describe_node(k, got, sizeof(got)));
        snprintf(out, size, "%.*s", (int)k->data.scalar.length,
                 (const char *)k->data.scalar.value);
        return 0;
}

/* The text of a scalar value after ${ENV} substitution; malloc'ed. */
static int scalar_value(struct parse_ctx *c, yaml_node_t *n, const char *path,
                        const char *what, char **out)
{
        char got[96], err[512], *raw;
        int rc;

        *out = NULL;
        if (n->type != YAML_SCALAR_NODE)
                return fail(c, line_of(n), path, "expected %s, got %s", what,
                            describe_node(n, got, sizeof(got)));
        if (has_nul(n))
                return fail(c, line_of(n), path,
                            "expected %s, got text with a NUL character", what);
        raw = strndup((const char *)n->data.scalar.value,
                      n->data.scalar.length);
        if (!raw)
                return oom(c);
        rc = expand_env(raw, out, err, sizeof(err));
        free(raw);
        if (rc == SEAM_ERR_NOMEM)
                return oom(c);
        if (rc != 0)
                return fail(c, line_of(n), path, "%s", err);
        return 0;
}

/* ---- typed values ---- */

static int parse_int(const char *s, int64_t *out)
{
        char *end;
        long long v;

        if (!(*s == '-' || *s == '+' || isdigit((unsigned char)*s)))
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return -1;
        *out = v;
        return 0;
}

static int valid_name(const char *s)
{
        if (!*s)
                return 0;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
                    *s != '-')
                        return 0;
        return 1;
}

/* Stores a scalar key's value; takes ownership of `text` in every case. */
static int set_scalar(struct parse_ctx *c, const struct cfg_key *k,
                      void *base, char *text, int line, const char *path)
{
        char exp[256], got[96];
        int ok = 1;
        int64_t v = 0;
        double d = 0;
        char *end;

        switch (k->type) {
        case CT_INT:
        case CT_INT64:
                ok = parse_int(text, &v) == 0 && v >= k->min && v <= k->max;
                break;
        case CT_DOUBLE:
                errno = 0;
                d = strtod(text, &end);
                ok = !errno && end != text && !*end && d >= k->dmin && d <= k->dmax;
                break;
        case CT_BOOL:
                ok = !strcmp(text, "true") || !strcmp(text, "false");
                break;
        case CT_STRING:
                ok = *text != '\0';
                break;
        case CT_NAME:
                ok = valid_name(text);
                break;
        case CT_CHOICE:
                ok = 0;
                for (size_t i = 0; k->choices[i]; i++)
                        if (!strcmp(text, k->choices[i]))
                                ok = 1;
                break;
        default:
                ok = 0;
                break;
        }
        if (!ok) {
                int rc = fail(c, line, path, "expected %s, got %s",
                              expected(k, exp, sizeof(exp)),
                              describe_text(text, got, sizeof(got)));
                free(text);
                return rc;
        }
        switch (k->type) {
        case CT_INT:
                *FIELD(base, k->offset, int) = (int)v;
                free(text);
                break;
        case CT_INT64:
                *FIELD(base, k->offset, int64_t) = v;
                free(text);
                break;
        case CT_DOUBLE:
                *FIELD(base, k->offset, double) = d;
                free(text);
                break;
        case CT_BOOL:
                *FIELD(base, k->offset, int) = !strcmp(text, "true");
                free(text);
                break;
        default:
                free(*FIELD(base, k->offset, char *));
                *FIELD(base, k->offset, char *) = text;
                break;
        }
        return 0;
}

static int parse_string_list(struct parse_ctx *c, const struct cfg_key *k,
                             void *base, yaml_node_t *n, const char *path)
{
        char got[96], exp[256], item_path[PATH_MAX_LEN];
        char ***arr = FIELD(base, k->offset, char **);
        size_t *count = FIELD(base, k->count_offset, size_t);
        size_t len = 0;
        int rc;

        if (!is_null(n)) {
                if (n->type != YAML_SEQUENCE_NODE)
                        return fail(c, line_of(n), path, "expected %s, got %s",
                                    expected(k, exp, sizeof(exp)),
                                    describe_node(n, got, sizeof(got)));
                len = (size_t)(n->data.sequence.items.top -
                               n->data.sequence.items.start);
        }
        if (len == 0) {
                if (k->required)
                        return fail(c, line_of(n), path,
                                    "expected %s, got an empty list",
                                    expected(k, exp, sizeof(exp)));
                return 0;
        }
        *arr = calloc(len, sizeof(char *));
        if (!*arr)
                return oom(c);
        *count = len;
        for (size_t i = 0; i < len; i++) {
                yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);
                char *text;

                bprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
                rc = scalar_value(c, item, item_path, "a non-empty string",
                                  &text);
                if (rc)
                        return rc;
                if (!*text) {
                        free(text);
                        return fail(c, line_of(item), item_path,
                                    "expected a non-empty string, got an "
                                    "empty value");
                }
                (*arr)[i] = text;
        }
        return 0;
}

/* A map of scalars into `list`; with `flatten`, nested maps add their keys
 * as "outer.inner". */
static int parse_kv_map(struct parse_ctx *c, struct seam_kv_list *list,
                        yaml_node_t *n, const char *path, const char *prefix,
                        int flatten, int depth)
{
        const char *scalar_only =
            flatten ? "expected a scalar or a map, got a list (a plugin "
                      "config block has no lists)"
                    : "expected a scalar value (librdkafka properties are "
                      "text), got %s";
        char got[96];

        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return fail(c, line_of(n), path, "expected %s, got %s",
                            flatten ? "a map" : "a map of librdkafka properties",
                            describe_node(n, got, sizeof(got)));
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = node_at(c, p->key);
                yaml_node_t *v = node_at(c, p->value);
                char key[256], full[PATH_MAX_LEN], kpath[PATH_MAX_LEN];
                const struct seam_kv *seen;
                char *fullkey, *text;
                int rc;

                if (++c->visits > MAX_VISITS)
                        return fail(c, line_of(k), path,
                                    "expected at most %d keys in all, got "
                                    "more",
                                    MAX_VISITS);
                rc = key_text(c, k, path, key, sizeof(key));
                if (rc)
                        return rc;
                if (path_key(full, prefix, key) != 0)
                        return fail(c, line_of(k), path,
                                    "expected nested keys of at most %d "
                                    "characters in all, got a longer one",
                                    PATH_MAX_LEN - 1);
                path_key(kpath, path, full);
                if (v->type == YAML_MAPPING_NODE && flatten) {
                        if (depth >= FLAT_MAX_DEPTH)
                                return fail(c, line_of(v), kpath,
                                            "expected at most %d levels of "
                                            "nested maps, got more",
                                            FLAT_MAX_DEPTH);
                        rc = parse_kv_map(c, list, v, path, full, 1,
                                          depth + 1);
                        if (rc)
                                return rc;
                        continue;
                }
                if (v->type == YAML_SEQUENCE_NODE && flatten)
                        return fail(c, line_of(v), kpath, "%s", scalar_only);
                if (v->type != YAML_SCALAR_NODE)
                        return fail(c, line_of(v), kpath, scalar_only,
                                    describe_node(v, got, sizeof(got)));
                seen = seam_kv_find(list, full);
                if (seen)
                        return fail(c, line_of(k), kpath,
                                    "expected each key once, got it again "
                                    "(first at line %d)",
                                    seen->line);
                if (list->count >= KV_MAX_ENTRIES)
                        return fail(c, line_of(k), kpath,
                                    "expected at most %d keys, got more",
                                    KV_MAX_ENTRIES);
                rc = scalar_value(c, v, kpath, "a scalar value", &text);
                if (rc)
                        return rc;
                fullkey = strdup(full);
                if (!fullkey ||
                    kv_append(list, fullkey, text, line_of(k)) != 0) {
                        free(fullkey);
                        free(text);
                        return oom(c);
                }
        }
        return 0;
}

static int parse_map(struct parse_ctx *c, const struct cfg_table *t,
                     void *base, yaml_node_t *n, int line, const char *path);

static int parse_list(struct parse_ctx *c, const struct cfg_key *k,
                      void *base, yaml_node_t *n, const char *path)
{
        const struct cfg_table *sub = k->sub;
        char got[96], exp[256], item_path[PATH_MAX_LEN];
        char **arr = FIELD(base, k->offset, char *);
        size_t *count = FIELD(base, k->count_offset, size_t);
        size_t len = 0;
        int rc;

        if (!is_null(n)) {
                if (n->type != YAML_SEQUENCE_NODE)
                        return fail(c, line_of(n), path, "expected %s, got %s",
                                    expected(k, exp, sizeof(exp)),
                                    describe_node(n, got, sizeof(got)));
                len = (size_t)(n->data.sequence.items.top -
                               n->data.sequence.items.start);
        }
        if (len == 0) {
                if (k->required)
                        return fail(c, line_of(n), path,
                                    "expected %s (%s), got an empty list",
                                    expected(k, exp, sizeof(exp)), k->desc);
                return 0;
        }
        if (len > LIST_MAX_ITEMS)
                return fail(c, line_of(n), path,
                            "expected at most %d entries, got %zu",
                            LIST_MAX_ITEMS, len);
        *arr = calloc(len, sub->elem_size);
        if (!*arr)
                return oom(c);
        *count = len;
        for (size_t i = 0; i < len; i++) {
                yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);

                bprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
                rc = parse_map(c, sub, *arr + i * sub->elem_size, item,
                               line_of(item), item_path);
                if (rc)
                        return rc;
        }
        if (!sub->unique_key)
                return 0;
        for (size_t i = 1; i < len; i++) {
                const char *a = *FIELD(*arr + i * sub->elem_size,
                                       sub->unique_offset, char *);

                for (size_t j = 0; j < i; j++) {
                        const char *b = *FIELD(*arr + j * sub->elem_size,
                                               sub->unique_offset, char *);
                        yaml_node_t *ni, *nj;

                        if (strcmp(a, b) != 0)
                                continue;
                        ni = map_get(c, node_at(c, n->data.sequence.items.start[i]),
                                     sub->unique_key);
                        nj = map_get(c, node_at(c, n->data.sequence.items.start[j]),
                                     sub->unique_key);
                        bprintf(item_path, sizeof(item_path), "%s[%zu].%s",
                                 path, i, sub->unique_key);
                        return fail(c, ni ? line_of(ni) : line_of(n), item_path,
                                    "expected a unique %s, got %s which is "
                                    "also used at line %d (%s[%zu])",
                                    sub->unique_key,
                                    describe_text(a, got, sizeof(got)),
                                    nj ? line_of(nj) : line_of(n), path, j);
                }
        }
        return 0;
}

static int parse_value(struct parse_ctx *c, const struct cfg_key *k,
                       void *base, yaml_node_t *v, const char *path)
{
        char exp[256], *text;
        int rc;

        switch (k->type) {
        case CT_INT:
        case CT_INT64:
        case CT_DOUBLE:
        case CT_BOOL:
        case CT_STRING:
        case CT_NAME:
        case CT_CHOICE:
                rc = scalar_value(c, v, path, expected(k, exp, sizeof(exp)),
                                  &text);
                if (rc)
                        return rc;
                return set_scalar(c, k, base, text, line_of(v), path);
        case CT_STRING_LIST:
                return parse_string_list(c, k, base, v, path);
        case CT_KAFKA:
                return parse_kv_map(c, FIELD(base, k->offset,
                                             struct seam_kv_list),
                                    v, path, NULL, 0, 0);
        case CT_FLAT_MAP:
                return parse_kv_map(c, FIELD(base, k->offset,
                                             struct seam_kv_list),
                                    v, path, NULL, 1, 0);
        case CT_MAP:
                return parse_map(c, k->sub, (char *)base + k->offset, v,
                                 line_of(v), path);
        case CT_LIST:
                return parse_list(c, k, base, v, path);
        }
        return SEAM_ERR_INVALID;
}

/* `n` NULL stands for an absent map: only defaults apply. */
static int parse_map(struct parse_ctx *c, const struct cfg_table *t,
                     void *base, yaml_node_t *n, int line, const char *path)
{
        unsigned char seen[MAX_KEYS] = {0};
        char names[1024], got[96], kpath[PATH_MAX_LEN], key[256], exp[256];
        int rc;

        if (n && !is_null(n)) {
                if (n->type != YAML_MAPPING_NODE) {
                        key_list(t, names, sizeof(names));
                        return fail(c, line_of(n), path,
                                    "expected a map with the keys %s, got %s",
                                    names, describe_node(n, got, sizeof(got)));
                }
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
                     p < n->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = node_at(c, p->key);
                        size_t row;

                        rc = key_text(c, k, path, key, sizeof(key));
                        if (rc)
                                return rc;
                        path_key(kpath, path, key);
                        for (yaml_node_pair_t *q = n->data.mapping.pairs.start;
                             q < p; q++) {
                                yaml_node_t *prev = node_at(c, q->key);

                                if (scalar_eq(prev, key))
                                        return fail(c, line_of(k), kpath,
                                                    "expected each key once, "
                                                    "got it again (first at "
                                                    "line %d)",
                                                    line_of(prev));
                        }
                        for (row = 0; row < t->count; row++)
                                if (!strcmp(t->keys[row].name, key))
                                        break;
                        if (row == t->count) {
                                key_list(t, names, sizeof(names));
                                return fail(c, line_of(k), kpath,
                                            "expected one of the keys %s, got "
                                            "an unknown key \"%s\"",
                                            names, key);
                        }
                        seen[row] = 1;
                        rc = parse_value(c, &t->keys[row], base,
                                         node_at(c, p->value), kpath);
                        if (rc)
                                return rc;
                }
        }
        for (size_t row = 0; row < t->count; row++) {
                const struct cfg_key *k = &t->keys[row];

                if (seen[row])
                        continue;
                path_key(kpath, path, k->name);
                if (k->required)
                        return fail(c, line, kpath,
                                    "expected %s (%s), got no such key",
                                    expected(k, exp, sizeof(exp)), k->desc);
                if (k->type == CT_MAP) {
                        rc = parse_map(c, k->sub, (char *)base + k->offset,
                                       NULL, line, kpath);
                        if (rc)
                                return rc;
                } else if (k->def) {
                        char *text = strdup(k->def);

                        if (!text)
                                return oom(c);
                        rc = set_scalar(c, k, base, text, line, kpath);
                        if (rc)
                                return rc;
                }
        }
        if (t->finish)
                return t->finish(c, base, n, line, path);
        return 0;
}

static int finish_consumer(struct parse_ctx *c, void *obj, yaml_node_t *node,
                           int line, const char *path)
{
        struct seam_consumer_config *cc = obj;
        char kpath[PATH_MAX_LEN];

        cc->line = line;
        if (!cc->format) {
                /* Default: avro when a schema is declared, raw otherwise. */
                cc->format = strdup(map_get(c, node, "schema") ? "avro" : "raw");
                if (!cc->format)
                        return oom(c);
        }
        if (!strcmp(cc->format, "avro")) {
                yaml_node_t *schema = map_get(c, node, "schema");
                path_key(kpath, path, "schema");
                if (!schema || !cc->subject_count)
                        return fail(c, line, kpath,
                                    "expected {subjects: [...], reader: {subject, version}} "
                                    "or reader_file (format is avro; set format: raw to "
                                    "receive undecoded bytes), got nothing");
                if (!!cc->reader_subject == !!cc->reader_file)
                        return fail(c, line_of(schema), kpath,
                                    "expected exactly one of reader: {subject, version} and "
                                    "reader_file, got %s",
                                    cc->reader_file ? "both" : "neither");
                if (cc->reader_subject && cc->reader_version < 1) {
                        path_key(kpath, path, "schema.reader.version");
                        return fail(c, line_of(schema), kpath,
                                    "expected the pinned version (an integer >= 1) of the "
                                    "reader schema, got nothing");
                }
        } else if (map_get(c, node, "schema")) {
                path_key(kpath, path, "schema");
                return fail(c, line_of(map_get(c, node, "schema")), kpath,
                            "expected no schema block with format: raw, got one");
        }
        if (cc->key_field && cc->key_header) {
                path_key(kpath, path, "idempotency.key");
                return fail(c, line, kpath, "expected one of field and header, got both");
        }
        if (cc->key_field && strcmp(cc->format, "avro")) {
                path_key(kpath, path, "idempotency.key.field");
                return fail(c, line, kpath,
                            "expected format avro (a field needs a decoded record), got format %s",
                            cc->format);
        }
        if (cc->inbox && strcmp(cc->dedup_store, "postgres")) {
                path_key(kpath, path, "idempotency.inbox");
                return fail(c, line, kpath, "expected store: postgres with inbox, got store: %s",
                            cc->dedup_store);
        }
        if (cc->inbox_store_offsets && !cc->inbox) {
                path_key(kpath, path, "idempotency.store_offsets");
                return fail(c, line, kpath, "expected inbox: true with store_offsets, got no inbox");
        }
        if (!cc->group_id) {
                cc->group_id = strdup(cc->name);
                if (!cc->group_id)
                        return oom(c);
        }
        if (cc->retry_backoff_max_ms < cc->retry_backoff_ms) {
                yaml_node_t *max = map_get(c, node, "retry_backoff_max_ms");
                yaml_node_t *min = map_get(c, node, "retry_backoff_ms");

                if (max) {
                        path_key(kpath, path, "retry_backoff_max_ms");
                        return fail(c, line_of(max), kpath,
                                    "expected at least retry_backoff_ms "
                                    "(%lld), got %lld",
                                    (long long)cc->retry_backoff_ms,
                                    (long long)cc->retry_backoff_max_ms);
                }
                path_key(kpath, path, "retry_backoff_ms");
                return fail(c, min ? line_of(min) : line, kpath,
                            "expected at most retry_backoff_max_ms (%lld), "
                            "got %lld",
                            (long long)cc->retry_backoff_max_ms,
                            (long long)cc->retry_backoff_ms);
        }
        return 0;
}

/* Process-level `kafka:` first, then the consumer's, whose value wins. */
static int merge_kafka(struct parse_ctx *c, const struct seam_kv_list *proc,
                       struct seam_kv_list *own)
{
        struct seam_kv_list merged = {0};

        for (size_t i = 0; i < proc->count; i++) {
                char *key = strdup(proc->items[i].key);
                char *value = strdup(proc->items[i].value);

                if (!key || !value ||
                    kv_append(&merged, key, value, proc->items[i].line) != 0) {
                        free(key);
                        free(value);
                        kv_list_free(&merged);
                        return oom(c);
                }
        }
        for (size_t i = 0; i < own->count; i++) {
                struct seam_kv *kv = &own->items[i];
                struct seam_kv *have =
                    (struct seam_kv *)seam_kv_find(&merged, kv->key);

                if (have) {
                        free(have->value);
                        have->value = kv->value;
                        have->line = kv->line;
                        kv->value = NULL;
                } else if (kv_append(&merged, kv->key, kv->value, kv->line) ==
                           0) {
                        kv->key = NULL;
                        kv->value = NULL;
                } else {
                        /* Moved strings are NULL in `own`: both lists can
                         * be freed without double frees. */
                        kv_list_free(&merged);
                        return oom(c);
                }
        }
        kv_list_free(own);
        *own = merged;
        return 0;
}

static int finish_top(struct parse_ctx *c, void *obj, yaml_node_t *node,
                      int line, const char *path)
{
        struct seam_config *cfg = obj;

        for (size_t i = 0; i < cfg->consumer_count; i++) {
                int rc = merge_kafka(c, &cfg->kafka, &cfg->consumers[i].kafka);

                if (rc)
                        return rc;
        }
        return 0;
}

/* ---- freeing, driven by the same tables ---- */

static void free_obj(const struct cfg_table *t, void *base)
{
        for (size_t row = 0; row < t->count; row++) {
                const struct cfg_key *k = &t->keys[row];

                switch (k->type) {
                case CT_STRING:
                case CT_NAME:
                case CT_CHOICE:
                        free(*FIELD(base, k->offset, char *));
                        break;
                case CT_STRING_LIST: {
                        char **arr = *FIELD(base, k->offset, char **);
                        size_t n = *FIELD(base, k->count_offset, size_t);

                        for (size_t i = 0; arr && i < n; i++)
                                free(arr[i]);
                        free(arr);
                        break;
                }
                case CT_KAFKA:
                case CT_FLAT_MAP:
                        kv_list_free(FIELD(base, k->offset,
                                           struct seam_kv_list));
                        break;
                case CT_MAP:
                        free_obj(k->sub, (char *)base + k->offset);
                        break;
                case CT_LIST: {
                        char *arr = *FIELD(base, k->offset, char *);
                        size_t n = *FIELD(base, k->count_offset, size_t);

                        for (size_t i = 0; arr && i < n; i++)
                                free_obj(k->sub, arr + i * k->sub->elem_size);
                        free(arr);
                        break;
                }
                default:
                        break;
                }
        }
}

void seam_config_destroy(struct seam_config *cfg)
{
        if (!cfg)
                return;
        free_obj(&top_table, cfg);
        free(cfg->path);
        free(cfg);
}

/* ---- entry points ---- */

static int syntax_error(struct parse_ctx *c, const yaml_parser_t *parser,
                        const char *yaml, size_t len)
{
        char where[128] = "";
        int line;

        if (parser->error == YAML_MEMORY_ERROR)
                return oom(c);
        if (parser->error == YAML_READER_ERROR) {
                /* The reader reports a byte offset, not a mark. */
                line = 1;
                for (size_t i = 0; i < parser->problem_offset && i < len; i++)
                        if (yaml[i] == '\n')
                                line++;
                if (parser->problem_value != -1)
                        snprintf(where, sizeof(where), " (byte 0x%02X)",
                                 (unsigned)parser->problem_value & 0xffu);
                return fail(c, line, NULL, "expected valid YAML, got: %s%s",
                            parser->problem ? parser->problem : "bad input",
                            where);
        }
        line = (int)parser->problem_mark.line + 1;
        if (parser->context)
                snprintf(where, sizeof(where), " (%s at line %d)",
                         parser->context, (int)parser->context_mark.line + 1);
        return fail(c, line, NULL,
                    "expected valid YAML, got: %s at column %d%s",
                    parser->problem ? parser->problem : "a syntax error",
                    (int)parser->problem_mark.column + 1, where);
}

int seam_config_parse(const char *yaml, size_t len, const char *name,
                      struct seam_config **out, char *errstr,
                      size_t errstr_size)
{
        struct parse_ctx c = {.name = name ? name : "(config)",
                              .err = errstr,
                              .err_size = errstr_size};
        yaml_parser_t parser;
        yaml_document_t doc, extra;
        struct seam_config *cfg;
        yaml_node_t *root, *extra_root;
        int rc;

        if (errstr && errstr_size)
                errstr[0] = '\0';
        if (!out || (!yaml && len))
                return SEAM_ERR_INVALID;
        *out = NULL;
        cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return oom(&c);
        cfg->path = strdup(c.name);
        if (!cfg->path) {
                free(cfg);
                return oom(&c);
        }
        if (!yaml_parser_initialize(&parser)) {
                seam_config_destroy(cfg);
                return oom(&c);
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)(yaml ? yaml : ""),
                                     len);
        if (!yaml_parser_load(&parser, &doc)) {
                rc = syntax_error(&c, &parser, yaml, len);
                yaml_parser_delete(&parser);
                seam_config_destroy(cfg);
                return rc;
        }
        c.doc = &doc;
        root = yaml_document_get_root_node(&doc);
        if (!root) {
                rc = fail(&c, 1, "consumers",
                          "expected a non-empty list of consumers, got an "
                          "empty file");
                goto out;
        }
        /* A second document would be silently ignored: refuse it. */
        if (!yaml_parser_load(&parser, &extra)) {
                rc = syntax_error(&c, &parser, yaml, len);
                goto out;
        }
        extra_root = yaml_document_get_root_node(&extra);
        if (extra_root) {
                int line = (int)extra.start_mark.line + 1;

                yaml_document_delete(&extra);
                rc = fail(&c, line, NULL,
                          "expected one YAML document, got a second one");
                goto out;
        }
        yaml_document_delete(&extra);
        rc = parse_map(&c, &top_table, cfg, root, line_of(root), "");
out:
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (rc) {
                seam_config_destroy(cfg);
                return rc;
        }
        *out = cfg;
        return 0;
}

int seam_config_load(const char *path, struct seam_config **out, char *errstr,
                     size_t errstr_size)
{
        struct stat st;
        FILE *f;
        char *buf = NULL;
        size_t len = 0, cap;
        int rc, err = 0;

        if (errstr && errstr_size)
                errstr[0] = '\0';
        if (!path || !out)
                return SEAM_ERR_INVALID;
        *out = NULL;
        f = fopen(path, "rb");
        if (!f) {
                err = errno;
                goto io_error;
        }
        if (fstat(fileno(f), &st) != 0) {
                err = errno;
                goto io_error;
        }
        if (S_ISDIR(st.st_mode)) {
                err = EISDIR;
                goto io_error;
        }
        /* st_size is only a hint (0 for pipes and /proc files): read to EOF
         * in a growing buffer, up to the limit. */
        cap = st.st_size > 0 && st.st_size < CONFIG_MAX_BYTES
                  ? (size_t)st.st_size + 1
                  : 4096;
        buf = malloc(cap);
        if (!buf)
                goto nomem;
        for (;;) {
                size_t n;

                if (len > CONFIG_MAX_BYTES) {
                        if (errstr && errstr_size)
                                snprintf(errstr, errstr_size,
                                         "%s: expected a config file of at "
                                         "most %d bytes, got more",
                                         path, CONFIG_MAX_BYTES);
                        rc = SEAM_ERR_CONFIG;
                        goto done;
                }
                if (len == cap) {
                        char *p = realloc(buf, cap * 2);

                        if (!p)
                                goto nomem;
                        buf = p;
                        cap *= 2;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0) {
                        if (ferror(f)) {
                                err = errno ? errno : EIO;
                                goto io_error;
                        }
                        break;
                }
        }
        fclose(f);
        f = NULL;
        rc = seam_config_parse(buf, len, path, out, errstr, errstr_size);
        goto done;

nomem:
        if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s: out of memory", path);
        rc = SEAM_ERR_NOMEM;
        goto done;
io_error:
        if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s: cannot read the config: %s",
                         path, strerror(err ? err : EIO));
        rc = SEAM_ERR_CONFIG;
done:
        if (f)
                fclose(f);
        free(buf);
        return rc;
}
