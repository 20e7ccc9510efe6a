/* registry.h - writer schemas by id: the repo's schemas/ folder (local) or a
 * Confluent-compatible Schema Registry (http), behind one interface.
 *
 * Thread-safety: every function taking a `struct seam_registry *` may be
 * called concurrently from any thread, except seam_registry_destroy, which
 * must be the last call.
 *
 * Ownership: a `const struct seam_schema *` handed out by the registry is
 * owned by it and stays valid until seam_registry_destroy (cache entries are
 * never freed while the registry lives, so a worker may keep the pointer).
 *
 * Results: 0, or a negative seam_err. The ones a caller must tell apart:
 *   SEAM_ERR_NOTFOUND   the registry answered: no such id/subject/version.
 *                       For a message this is POISON (class `schema`).
 *   SEAM_ERR_INVALID    the registry answered with something that can never
 *                       be used (not an Avro schema, a schema that does not
 *                       parse, references): also POISON.
 *   SEAM_ERR_TRANSIENT  the registry could not be asked (unreachable, 5xx,
 *                       timeout, auth refused) and nothing is cached: pause
 *                       and retry later; never POISON.
 */
#ifndef SEAM_REGISTRY_H
#define SEAM_REGISTRY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>

struct seam_avro_schema;

enum seam_registry_type {
        SEAM_REGISTRY_LOCAL = 1, /* a schemas/ folder with manifest.yaml */
        SEAM_REGISTRY_HTTP = 2   /* Confluent-compatible REST */
};

/* Strings are copied by seam_registry_new; the struct may be freed after.
 * Fill with seam_registry_options_init() first: it sets the defaults. */
struct seam_registry_options {
        enum seam_registry_type type;

        /* local */
        const char *dir; /* the schemas/ folder */

        /* http */
        const char *url;      /* base, e.g. http://host:8081 or
                                 http://host:8080/apis/ccompat/v7 */
        const char *username; /* basic auth; NULL: none */
        const char *password;
        const char *ca_file;      /* PEM bundle; NULL: system default */
        int insecure_skip_verify; /* 1: do not verify the server (tests) */
        const char *client_cert;  /* PEM, for mutual TLS */
        const char *client_key;
        int64_t connect_timeout_ms; /* default 2000 */
        int64_t timeout_ms;         /* whole request; default 5000 */
        int retries;                /* extra attempts on a transient
                                       failure; default 2 */
        int64_t backoff_ms;         /* first retry delay, doubled each time
                                       (with jitter); default 100 */
        int64_t negative_ttl_ms;    /* how long a 404 is remembered;
                                       default 30000, 0: not at all */
        const char *cache_dir;      /* on-disk last-known-good cache, read
                                       only when the registry cannot be
                                       reached; NULL: none. One directory per
                                       registry: files name the URL and are
                                       ignored for another one. */
};

void seam_registry_options_init(struct seam_registry_options *opts);

/* One (subject, version) pair a schema is registered under. */
struct seam_schema_ref {
        const char *subject;
        int version;
};

struct seam_schema {
        uint32_t id;
        /* The first of refs, for messages; NULL / -1 when unknown. */
        const char *subject;
        int version;
        /* Every (subject, version) the schema is registered under, as far
         * as known. refs_complete is 0 when the registry could not list them
         * (no GET /schemas/ids/{id}/versions) or when the entry came from a
         * subject lookup; ask seam_registry_schema_in_subject() then. */
        const struct seam_schema_ref *refs;
        size_t ref_count;
        int refs_complete;
        const char *json; /* as registered, NUL-terminated */
        size_t json_len;
        /* Parsed once with seam_avro_schema_parse (avro_decode.h): give it
         * to seam_avro_plan_new. Owned by the registry. */
        const struct seam_avro_schema *parsed;
        avro_schema_t avro; /* Avro C's view of `parsed`, borrowed from it */
};

/* Plain counters for metrics; read them with atomic_load. */
struct seam_registry_stats {
        _Atomic uint64_t lookups;       /* by_id/by_subject calls */
        _Atomic uint64_t cache_hits;    /* answered from memory */
        _Atomic uint64_t negative_hits; /* answered from the 404 cache */
        _Atomic uint64_t fetches;       /* HTTP requests sent (each attempt) */
        _Atomic uint64_t failures;      /* HTTP attempts that failed
                                           transiently */
        _Atomic uint64_t not_found;     /* definitive 404s received */
        _Atomic uint64_t disk_hits;     /* answered from the last-known-good
                                           disk cache during an outage */
};

/* Last contact with the registry, for /readyz and logs. A local registry is
 * always reachable. An http registry is contacted only on a cache miss, so
 * before its first contact (last_contact_ms == 0) reachable is 0 without
 * meaning "down"; and while the disk cache serves known ids during an
 * outage, reachable stays 0 and consecutive_failures grows. */
struct seam_registry_health {
        int reachable;       /* the last contact got an answer */
        int last_result;     /* 0 or the seam_err of the last contact */
        int64_t last_contact_ms;       /* wall clock; 0: never */
        int64_t last_success_ms;       /* wall clock; 0: never */
        uint32_t consecutive_failures; /* contacts without an answer */
        char last_error[256];
};

struct seam_registry;

/* Open a registry. A local one is loaded and validated completely here
 * (every error names the file); an http one does not contact the server.
 * On failure returns a negative seam_err (SEAM_ERR_CONFIG for a bad folder
 * or options) with a message in err. */
int seam_registry_new(const struct seam_registry_options *opts,
                      struct seam_registry **out, char *err, size_t errlen);
void seam_registry_destroy(struct seam_registry *reg); /* accepts NULL */

enum seam_registry_type seam_registry_type(const struct seam_registry *reg);

/* The writer schema of a message. 0, SEAM_ERR_NOTFOUND, SEAM_ERR_INVALID or
 * SEAM_ERR_TRANSIENT (see the top of this file). */
int seam_registry_by_id(struct seam_registry *reg, uint32_t id,
                        const struct seam_schema **out, char *err,
                        size_t errlen);

/* A subject's version (version >= 1) or its latest (version == -1). An http
 * registry asks the server for "latest" every time and falls back to the last
 * answer it had (memory, then disk) when the server cannot be reached. */
int seam_registry_by_subject(struct seam_registry *reg, const char *subject,
                             int version, const struct seam_schema **out,
                             char *err, size_t errlen);

/* The versions of `subject`, ascending, in a malloc'ed array (free() it).
 * 0, SEAM_ERR_NOTFOUND (no such subject) or SEAM_ERR_TRANSIENT. */
int seam_registry_subject_versions(struct seam_registry *reg, const char *subject,
                                   int **versions, size_t *count, char *err,
                                   size_t errlen);

/* Is `schema` registered under `subject`? 1 yes, 0 no, or a negative
 * seam_err (SEAM_ERR_TRANSIENT: could not ask). Answers from refs when they
 * are complete; otherwise asks the registry (POST /subjects/{subject}) once
 * and remembers the answer. */
int seam_registry_schema_in_subject(struct seam_registry *reg,
                                    const struct seam_schema *schema,
                                    const char *subject, char *err,
                                    size_t errlen);

/* Register `schema_json` (Avro) under `subject` (http only). Idempotent on
 * the server side: the same schema again returns the existing id. Returns 0,
 * SEAM_ERR_INVALID (the registry refused it: incompatible, invalid), or
 * SEAM_ERR_TRANSIENT. */
int seam_registry_register(struct seam_registry *reg, const char *subject,
                           const char *schema_json, uint32_t *id_out,
                           char *err, size_t errlen);

/* Every schema of a local registry, sorted by subject then version; NULL
 * and *count = 0 for an http registry. */
const struct seam_schema *const *
seam_registry_local_schemas(struct seam_registry *reg, size_t *count);

void seam_registry_health(struct seam_registry *reg,
                          struct seam_registry_health *out);
struct seam_registry_stats *seam_registry_stats(struct seam_registry *reg);

/* The manifest of a local registry (schemas/manifest.yaml):
 *
 *   schemas:
 *     - {subject: demo.orders-value, version: 1, id: 1}
 *
 * Parsed and checked on its own (ids and subject/version pairs unique,
 * subject names usable as folder names); seam_registry_new then checks it
 * against the files. Exposed for the fuzz target. */
struct seam_manifest_entry {
        char *subject;
        int version;
        uint32_t id;
        int line;
};

struct seam_manifest {
        struct seam_manifest_entry *entries;
        size_t count;
};

/* `name` stands for the file in messages ("NAME:LINE: ..."). Returns 0 or
 * SEAM_ERR_CONFIG. */
int seam_manifest_parse(const char *yaml, size_t len, const char *name,
                        struct seam_manifest **out, char *err, size_t errlen);
void seam_manifest_destroy(struct seam_manifest *m); /* accepts NULL */

#ifdef SEAM_REGISTRY_BACKEND
/* ---- Between registry.c and the backends (registry_local.c,
 * registry_http.c); nothing else includes this part. ---- */

/* What a backend does when the memory caches of registry.c miss. Each
 * returns 0 with a new schema in *out (ownership passes to registry.c), or
 * a negative seam_err with a message. A NULL entry means "not supported". */
struct seam_registry_ops {
        int (*fetch_id)(void *impl, struct seam_registry *reg, uint32_t id,
                        struct seam_schema **out, char *err, size_t errlen);
        int (*fetch_subject)(void *impl, struct seam_registry *reg,
                             const char *subject, int version,
                             struct seam_schema **out, char *err,
                             size_t errlen);
        /* 1, 0 or a negative seam_err. */
        int (*in_subject)(void *impl, struct seam_registry *reg,
                          const struct seam_schema *schema,
                          const char *subject, char *err, size_t errlen);
        int (*register_schema)(void *impl, struct seam_registry *reg,
                               const char *subject, const char *json,
                               uint32_t *id_out, char *err, size_t errlen);
        int (*list_versions)(void *impl, struct seam_registry *reg,
                             const char *subject, int **versions,
                             size_t *count, char *err, size_t errlen);
        void (*destroy)(void *impl);
};

int seam_registry_local_open(struct seam_registry *reg,
                             const struct seam_registry_options *opts,
                             char *err, size_t errlen);
int seam_registry_http_open(struct seam_registry *reg,
                            const struct seam_registry_options *opts,
                            char *err, size_t errlen);

void seam_registry_set_backend(struct seam_registry *reg,
                               const struct seam_registry_ops *ops,
                               void *impl);

/* Build a schema: copies json and refs, parses json with
 * seam_avro_schema_parse. Returns 0, SEAM_ERR_INVALID (does not parse; err
 * says why) or SEAM_ERR_NOMEM. */
int seam_schema_new(uint32_t id, const char *json, size_t json_len,
                    const struct seam_schema_ref *refs, size_t ref_count,
                    int refs_complete, struct seam_schema **out, char *err,
                    size_t errlen);
void seam_schema_free(struct seam_schema *s); /* accepts NULL */

/* Hand a complete schema to the caches at open time (local registry):
 * indexed by id and by every (subject, version), and as its subjects' latest
 * when it has the highest version. Takes ownership, also on failure
 * (SEAM_ERR_INVALID: the id is already there). */
int seam_registry_preload(struct seam_registry *reg, struct seam_schema *s);

/* Record the outcome of one contact with the server (after retries):
 * rc 0 or SEAM_ERR_NOTFOUND/INVALID = it answered. */
void seam_registry_note_contact(struct seam_registry *reg, int rc,
                                const char *msg);
#endif

#endif
