/*
 * seam/plugin.h - the Seam plugin ABI.
 *
 * A plugin is a shared object that exports ONE symbol, SEAM_PLUGIN_ENTRY_SYMBOL
 * ("seam_plugin_entry"), a function returning a pointer to a static
 * `struct seam_plugin`. The host loads it with dlopen(), checks the ABI
 * version and the struct size, type-checks the plugin's config block against
 * `config_keys`, then calls init() once per consumer instance.
 *
 * Versioning rules (the contract, read them before changing this file):
 *   - Both structs below are APPEND-ONLY. New entries go at the end, never in
 *     the middle, and no entry is ever removed or retyped.
 *   - SEAM_ABI_MINOR grows when entries are appended. A plugin built against
 *     an older minor runs on a newer host (the host reads `struct_size` and
 *     never touches fields past it). A plugin built against a newer minor runs
 *     on an older host only if it checks `api->struct_size` before calling an
 *     entry the host may not have (use SEAM_API_HAS()).
 *   - SEAM_ABI_MAJOR changes only when compatibility is broken; the loader
 *     refuses a plugin whose major differs from the host's.
 *
 * Ownership: everything the host passes into a callback (ctx, msg, strings,
 * buffers) is borrowed until that callback returns. Copy what you keep.
 *
 * Threading: handle() is called concurrently from several worker threads for
 * DIFFERENT partitions, and never concurrently for the same partition (order
 * within a partition is kept). Plugin state shared across partitions must be
 * protected by the plugin. init() and close() are called from one thread,
 * never concurrently with handle() of the same instance.
 */
#ifndef SEAM_PLUGIN_H
#define SEAM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEAM_ABI_MAJOR 1
#define SEAM_ABI_MINOR 1
#define SEAM_ABI_VERSION ((uint32_t)((SEAM_ABI_MAJOR << 16) | SEAM_ABI_MINOR))
#define SEAM_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define SEAM_ABI_VERSION_MINOR(v) ((uint32_t)(v)&0xffffu)

#define SEAM_PLUGIN_ENTRY_SYMBOL "seam_plugin_entry"

/* What handle() tells the host about one message. */
typedef enum seam_result {
        SEAM_OK = 0,     /* side effect done (durably, as far as the sink
                            allows); the offset may be committed */
        SEAM_RETRY = 1,  /* transient trouble (sink down, timeout): the same
                            message is redelivered after a backoff; nothing
                            after it in the partition is handled meanwhile */
        SEAM_POISON = 2, /* this message can never succeed (invalid business
                            data): it is taken out of the stream, not retried */
        SEAM_FATAL = 3   /* the plugin cannot go on at all (lost its
                            credentials, corrupted state): the instance stops
                            cleanly and the process reports not ready */
} seam_result;

typedef enum seam_log_level {
        SEAM_LOG_DEBUG = 0,
        SEAM_LOG_INFO = 1,
        SEAM_LOG_WARN = 2,
        SEAM_LOG_ERROR = 3
} seam_log_level;

/* Opaque handles: the consumer instance a plugin runs in, and one message. */
typedef struct seam_ctx seam_ctx;
typedef struct seam_msg seam_msg;
/* Avro C's value type (avro.h); include <avro.h> to read one. */
struct avro_value;

/* Declared config keys of a plugin; the host rejects unknown keys, checks
 * types and required keys, and applies defaults before init() runs. */
typedef enum seam_config_type {
        SEAM_CONFIG_STRING = 1,
        SEAM_CONFIG_INT = 2,  /* 64-bit signed integer */
        SEAM_CONFIG_BOOL = 3, /* true/false */
        SEAM_CONFIG_DOUBLE = 4
} seam_config_type;

struct seam_config_key {
        const char *name;
        seam_config_type type;
        const char *default_value; /* NULL: no default */
        int required;              /* non-zero: must be present */
        const char *description;   /* one line, shown by check-config */
};

/*
 * The host API table handed to init(). APPEND-ONLY: new entries go at the end.
 * All message accessors take the `msg` passed to handle() and return borrowed
 * data valid until handle() returns. Config getters read the plugin's own
 * config block (the `config:` map of the consumer) after defaults were applied;
 * they return 0 on success and a negative value if the key is absent.
 */
struct seam_host_api {
        uint32_t abi_version;
        uint32_t struct_size;

        /* Logging: one structured line, prefixed with the consumer and plugin
         * name; `msg` may be NULL, else topic/partition/offset/correlation id
         * are added. Safe from any thread. */
        void (*log)(seam_ctx *ctx, const seam_msg *msg, seam_log_level level,
                    const char *fmt, ...)
#if defined(__GNUC__)
            __attribute__((format(printf, 4, 5)))
#endif
            ;

        int (*config_string)(seam_ctx *ctx, const char *key, const char **out);
        int (*config_int)(seam_ctx *ctx, const char *key, int64_t *out);
        int (*config_bool)(seam_ctx *ctx, const char *key, int *out);
        int (*config_double)(seam_ctx *ctx, const char *key, double *out);

        /* The consumer instance's name (from the config). */
        const char *(*consumer_name)(seam_ctx *ctx);

        const void *(*msg_payload)(const seam_msg *msg, size_t *len);
        const void *(*msg_key)(const seam_msg *msg, size_t *len);
        const char *(*msg_topic)(const seam_msg *msg);
        int32_t (*msg_partition)(const seam_msg *msg);
        int64_t (*msg_offset)(const seam_msg *msg);
        /* Milliseconds since the epoch, -1 if the message has none. */
        int64_t (*msg_timestamp)(const seam_msg *msg);
        /* Number of headers; and the header at `idx` (0-based). A header
         * value may be NULL with len 0 (a null header). */
        size_t (*msg_header_count)(const seam_msg *msg);
        int (*msg_header_at)(const seam_msg *msg, size_t idx,
                             const char **name, const void **value,
                             size_t *len);
        /* Last header named `name`; returns 0 if found, negative if not. */
        int (*msg_header)(const seam_msg *msg, const char *name,
                          const void **value, size_t *len);
        /* A stable idempotency key for this message: the same message (same
         * business event, per the consumer's key config) always yields the
         * same key, across redeliveries, restarts and replays. Pass it to
         * downstream systems (e.g. as an Idempotency-Key HTTP header).
         * NUL-terminated text. */
        const char *(*msg_idempotency_key)(const seam_msg *msg);
        /* Attach a human-readable reason to a RETRY/POISON/FATAL result;
         * it is logged (and later written to the DLQ record). Copied. */
        void (*msg_set_error)(const seam_msg *msg, const char *reason);
        /* How many times this message was handed to handle() before, in
         * this process and (where the host tracks it) in earlier ones. */
        uint32_t (*msg_attempt)(const seam_msg *msg);

        /* --- ABI 1.1 --- */
        /* The record decoded into the consumer's reader schema (format
         * avro: framing, registry and bounded decode already passed), or
         * NULL (format raw). Read it with Avro C's avro_value_get_by_name()
         * and friends; do not modify it. */
        const struct avro_value *(*msg_value)(const seam_msg *msg);
        /* The writer schema id of the Confluent framing, -1 for format raw. */
        int64_t (*msg_schema_id)(const seam_msg *msg);
        /* The decoded record as JSON text (Avro's JSON encoding), or NULL. */
        const char *(*msg_value_json)(const seam_msg *msg);

        /* Transactional inbox (consumer config `idempotency: {store:
         * postgres, inbox: true}`): run one SQL statement, with text
         * parameters $1..$n, inside the message's PostgreSQL transaction,
         * which also holds its idempotency mark (and, with store_offsets, its
         * offset). The host commits it when handle() returns SEAM_OK and
         * rolls it back otherwise, so the side effect happens exactly once.
         * Returns SEAM_SQL_OK, or one of the codes below with the reason
         * already attached to the message (msg_set_error). `rows` (may be
         * NULL) gets the rows affected. */
        int (*sql_exec)(const seam_msg *msg, const char *sql, int nparams,
                        const char *const *params, long *rows);
        /* Like sql_exec for a query: the first column of the first row as
         * text into out (NUL-terminated); *found = 0 when no row. */
        int (*sql_query_value)(const seam_msg *msg, const char *sql, int nparams,
                               const char *const *params, char *out, size_t outlen,
                               int *found);

        /* Custom metrics, exported on /metrics with the label
         * consumer="<instance name>". `name` is the full metric name and
         * must follow seam_plugin_<plugin>_<name>_<unit>; a counter's ends
         * in _total; `help` is one line. The first call registers the
         * metric, later ones only update it (a short lock: fine per
         * message). Returns 0, or a negative value for an invalid name or
         * a name taken by another type. Safe from any thread. */
        int (*metric_counter_add)(seam_ctx *ctx, const char *name, const char *help,
                                  double value);
        int (*metric_gauge_set)(seam_ctx *ctx, const char *name, const char *help,
                                double value);

        /* --- new entries go here, at the end --- */
};

/* True if the host's table has the entry `field` (for plugins built against a
 * newer minor than the host they run on). */
/* Results of sql_exec / sql_query_value. */
#define SEAM_SQL_OK 0
#define SEAM_SQL_TRANSIENT (-1)  /* connection lost, deadlock: return SEAM_RETRY */
#define SEAM_SQL_INVALID (-2)    /* the data was refused (constraint): SEAM_POISON */
#define SEAM_SQL_NO_INBOX (-3)   /* the consumer has no inbox configured */
#define SEAM_SQL_FATAL (-4)      /* wrong whatever the data (syntax, missing table,
                                    permission): SEAM_FATAL */

#define SEAM_API_HAS(api, field)                                               \
        ((api)->struct_size >=                                                 \
         offsetof(struct seam_host_api, field) + sizeof((api)->field))

/*
 * The plugin's registration struct. APPEND-ONLY: new entries go at the end.
 * Fill it with designated initializers and SEAM_PLUGIN_HEADER.
 */
struct seam_plugin {
        uint32_t abi_version; /* SEAM_ABI_VERSION the plugin was built with */
        uint32_t struct_size; /* sizeof(struct seam_plugin) at build time */
        const char *name;     /* unique among loaded plugins */
        const char *version;  /* the plugin's own version, free text */

        /* Config keys the plugin accepts, terminated by an entry with a NULL
         * name; NULL means the plugin takes no config. */
        const struct seam_config_key *config_keys;

        /* Called once per consumer instance before any message. Return 0 and
         * set *state (may be NULL), or a negative value to refuse to start;
         * then log the reason with api->log. `api` and `ctx` stay valid until
         * close() returns, so a plugin may keep them. */
        int (*init)(seam_ctx *ctx, const struct seam_host_api *api,
                    void **state);
        /* Handle one message. See seam_result for what each value means. */
        seam_result (*handle)(void *state, const seam_msg *msg);
        /* Release everything init() allocated. Called once, after the last
         * handle() returned. Optional. */
        void (*close)(void *state);

        /* --- new entries go here, at the end --- */
};

#define SEAM_PLUGIN_HEADER                                                     \
        .abi_version = SEAM_ABI_VERSION,                                       \
        .struct_size = (uint32_t)sizeof(struct seam_plugin)

#if defined(__GNUC__)
#define SEAM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SEAM_PLUGIN_EXPORT
#endif

/* The one entry symbol. Define it with SEAM_PLUGIN_DEFINE(my_plugin). */
typedef const struct seam_plugin *(*seam_plugin_entry_fn)(void);

#define SEAM_PLUGIN_DEFINE(plugin_struct)                                      \
        SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void);  \
        SEAM_PLUGIN_EXPORT const struct seam_plugin *seam_plugin_entry(void)   \
        {                                                                      \
                return &(plugin_struct);                                       \
        }

#ifdef __cplusplus
}
#endif

#endif /* SEAM_PLUGIN_H */
