#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dlq.h"
#include "err.h"
#include "kafka_conf.h"
#include "loader.h"
#include "log.h"
#include "observe.h"
#include "plugin_config.h"
#include "dedup.h"
#include "registry.h"
#include "schema_stage.h"

/* Partitions of an embedded topic that the config does not list. */
#define EMBEDDED_DEFAULT_PARTITIONS 4

struct seam_runtime {
        const struct seam_config *cfg;
        struct seam_plugin_set *plugins;
        struct seam_embedded *embedded;
        struct seam_instance **instances;
        size_t instance_count;
        struct seam_metrics *metrics;
        struct seam_observer *observer;
        struct seam_dlq *dlq;
        struct seam_registry *registry;
        struct seam_dedup *dedup_embedded, *dedup_postgres;
        int timed_out; /* wait gave up on a drain: instances still running */
};

void seam_signals_block(void)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int load_plugin(struct seam_plugin_set *set, const struct seam_config *cfg, size_t i,
                       const struct seam_loaded_plugin **out, char *errstr, size_t errstr_size)
{
        const struct seam_consumer_config *cc = &cfg->consumers[i];
        char inner[1024];
        int err = seam_plugin_set_load(set, cc->plugin, cfg->plugin_path,
                                       cfg->plugin_path_count, out, inner, sizeof(inner));
        if (err)
                snprintf(errstr, errstr_size, "%s:%d: consumers[%zu].plugin: %s", cfg->path,
                         cc->line, i, inner);
        return err;
}

static int needs_registry(const struct seam_config *cfg)
{
        for (size_t i = 0; i < cfg->consumer_count; i++)
                if (!strcmp(cfg->consumers[i].format, "avro"))
                        return 1;
        return 0;
}

/* The registry of seam.registry; a local one is loaded and checked
 * completely here, an http one is not contacted. */
static int open_registry(const struct seam_config *cfg, struct seam_registry **out, char *errstr,
                         size_t errstr_size)
{
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = !strcmp(cfg->registry_type, "http") ? SEAM_REGISTRY_HTTP : SEAM_REGISTRY_LOCAL;
        o.dir = cfg->registry_dir;
        o.url = cfg->registry_url;
        o.username = cfg->registry_username;
        o.password = cfg->registry_password;
        o.ca_file = cfg->registry_ca_file;
        o.insecure_skip_verify = cfg->registry_insecure;
        o.client_cert = cfg->registry_client_cert;
        o.client_key = cfg->registry_client_key;
        o.connect_timeout_ms = cfg->registry_connect_timeout_ms;
        o.timeout_ms = cfg->registry_timeout_ms;
        o.retries = cfg->registry_retries;
        o.backoff_ms = cfg->registry_backoff_ms;
        o.negative_ttl_ms = cfg->registry_negative_ttl_ms;
        o.cache_dir = cfg->registry_cache_dir;
        if (o.type == SEAM_REGISTRY_HTTP && !o.url) {
                snprintf(errstr, errstr_size,
                         "%s: seam.registry.url: required with type http, missing", cfg->path);
                return SEAM_ERR_CONFIG;
        }
        char inner[1024];
        int err = seam_registry_new(&o, out, inner, sizeof(inner));
        if (err) {
                snprintf(errstr, errstr_size, "%s: seam.registry: %s", cfg->path, inner);
                return SEAM_ERR_CONFIG;
        }
        return 0;
}

static int uses_store(const struct seam_config *cfg, const char *store)
{
        for (size_t i = 0; i < cfg->consumer_count; i++)
                if (!strcmp(cfg->consumers[i].dedup_store, store))
                        return 1;
        return 0;
}

/* The idempotency stores the consumers use: one embedded (LMDB) and one
 * PostgreSQL store per process, shared by the instances (scoped by group).
 * `open` 0 only checks that their settings are there. */
static int open_dedup(const struct seam_config *cfg, int open, struct seam_dedup **emb,
                      struct seam_dedup **pg, char *errstr, size_t errstr_size)
{
        struct seam_dedup_options o = {0};
        char inner[512];
        o.table = cfg->dedup_table;
        o.retention_ms = cfg->dedup_retention_ms;
        o.pool_size = cfg->dedup_pool_size;
        if (uses_store(cfg, "embedded")) {
                if (!cfg->dedup_embedded_path) {
                        snprintf(errstr, errstr_size,
                                 "%s: seam.dedup.embedded_path: required when a consumer uses "
                                 "idempotency store embedded, missing",
                                 cfg->path);
                        return SEAM_ERR_CONFIG;
                }
                o.type = SEAM_DEDUP_EMBEDDED;
                o.path = cfg->dedup_embedded_path;
                if (open && seam_dedup_open(&o, emb, inner, sizeof(inner))) {
                        snprintf(errstr, errstr_size, "%s: seam.dedup.embedded_path: %s", cfg->path,
                                 inner);
                        return SEAM_ERR_CONFIG;
                }
        }
        if (uses_store(cfg, "postgres")) {
                if (!cfg->dedup_postgres_dsn) {
                        snprintf(errstr, errstr_size,
                                 "%s: seam.dedup.postgres_dsn: required when a consumer uses "
                                 "idempotency store postgres, missing",
                                 cfg->path);
                        return SEAM_ERR_CONFIG;
                }
                o.type = SEAM_DEDUP_POSTGRES;
                o.path = NULL;
                o.dsn = cfg->dedup_postgres_dsn;
                /* Never print the DSN: it may hold a password. */
                if (open && seam_dedup_open(&o, pg, inner, sizeof(inner))) {
                        snprintf(errstr, errstr_size, "%s: seam.dedup: PostgreSQL store: %s",
                                 cfg->path, inner);
                        return SEAM_ERR_TRANSIENT;
                }
        }
        return 0;
}

int seam_runtime_check(const struct seam_config *cfg, int embedded, char *errstr,
                       size_t errstr_size)
{
        int derr = open_dedup(cfg, 0, NULL, NULL, errstr, errstr_size);
        if (derr)
                return derr;
        if (needs_registry(cfg)) {
                struct seam_registry *reg = NULL;
                int rerr = open_registry(cfg, &reg, errstr, errstr_size);
                for (size_t i = 0; !rerr && i < cfg->consumer_count; i++) {
                        if (strcmp(cfg->consumers[i].format, "avro"))
                                continue;
                        struct seam_schema_stage *st = NULL;
                        char inner[1024];
                        rerr = seam_schema_stage_new(&cfg->consumers[i], reg, &st, inner,
                                                     sizeof(inner));
                        if (rerr)
                                snprintf(errstr, errstr_size, "%s:%d: consumers[%zu].schema: %s",
                                         cfg->path, cfg->consumers[i].line, i, inner);
                        seam_schema_stage_destroy(st);
                }
                seam_registry_destroy(reg);
                if (rerr)
                        return rerr;
        }
        struct seam_plugin_set *set = seam_plugin_set_new();
        if (!set)
                return SEAM_ERR_NOMEM;
        int err = 0;
        for (size_t i = 0; i < cfg->consumer_count && !err; i++) {
                const struct seam_consumer_config *cc = &cfg->consumers[i];
                const struct seam_loaded_plugin *lp;
                if ((err = load_plugin(set, cfg, i, &lp, errstr, errstr_size)))
                        break;
                struct seam_plugin_config pc;
                char where[64];
                snprintf(where, sizeof(where), "consumers[%zu].config", i);
                err = seam_plugin_config_build(lp->def, &cc->plugin_config, cfg->path, where,
                                               cc->line, &pc, errstr, errstr_size);
                seam_plugin_config_free(&pc);
                if (err)
                        break;
                rd_kafka_conf_t *conf;
                /* The address is a placeholder: only the properties are
                 * checked here, nothing connects. */
                err = seam_kafka_consumer_conf(cfg, i, embedded ? "127.0.0.1:9" : NULL, &conf,
                                               errstr, errstr_size);
                if (!err)
                        rd_kafka_conf_destroy(conf);
        }
        seam_plugin_set_destroy(set);
        return err;
}

static int start_embedded(struct seam_runtime *rt, char *errstr, size_t errstr_size)
{
        const struct seam_config *cfg = rt->cfg;
        int err = seam_embedded_start(cfg->embedded_broker_count, &rt->embedded, errstr,
                                      errstr_size);
        for (size_t i = 0; !err && i < cfg->embedded_topic_count; i++)
                err = seam_embedded_create_topic(rt->embedded, cfg->embedded_topics[i].name,
                                                 cfg->embedded_topics[i].partitions, errstr,
                                                 errstr_size);
        /* Topics the consumers read but the config does not list. */
        for (size_t c = 0; !err && c < cfg->consumer_count; c++) {
                for (size_t t = 0; !err && t < cfg->consumers[c].topic_count; t++) {
                        const char *topic = cfg->consumers[c].topics[t];
                        int listed = 0;
                        for (size_t i = 0; i < cfg->embedded_topic_count; i++)
                                listed |= !strcmp(cfg->embedded_topics[i].name, topic);
                        if (!listed)
                                err = seam_embedded_create_topic(rt->embedded, topic,
                                                                 EMBEDDED_DEFAULT_PARTITIONS,
                                                                 errstr, errstr_size);
                }
        }
        if (!err)
                seam_log_info("embedded broker running at %s (%d broker(s))",
                              seam_embedded_bootstraps(rt->embedded),
                              cfg->embedded_broker_count);
        return err;
}

int seam_runtime_open(const struct seam_config *cfg, int embedded, struct seam_runtime **out,
                      char *errstr, size_t errstr_size)
{
        embedded = embedded || cfg->embedded_broker;
        int err = seam_runtime_check(cfg, embedded, errstr, errstr_size);
        if (err)
                return err;
        struct seam_runtime *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return SEAM_ERR_NOMEM;
        rt->cfg = cfg;
        rt->plugins = seam_plugin_set_new();
        rt->instances = calloc(cfg->consumer_count, sizeof(*rt->instances));
        rt->metrics = seam_metrics_new();
        if (!rt->plugins || !rt->instances || !rt->metrics) {
                seam_runtime_destroy(rt);
                return SEAM_ERR_NOMEM;
        }
        if (embedded && (err = start_embedded(rt, errstr, errstr_size))) {
                seam_runtime_destroy(rt);
                return err;
        }
        const char *bootstrap = rt->embedded ? seam_embedded_bootstraps(rt->embedded) : NULL;
        if ((err = open_dedup(cfg, 1, &rt->dedup_embedded, &rt->dedup_postgres, errstr,
                              errstr_size)) ||
            (err = seam_dlq_new(cfg, bootstrap, &rt->dlq, errstr, errstr_size)) ||
            (needs_registry(cfg) &&
             (err = open_registry(cfg, &rt->registry, errstr, errstr_size)))) {
                seam_runtime_destroy(rt);
                return err;
        }
        struct seam_instance_deps deps = {
                .bootstrap_override = bootstrap,
                .metrics = rt->metrics,
                .dlq = rt->dlq,
                .registry = rt->registry,
                .dedup_embedded = rt->dedup_embedded,
                .dedup_postgres = rt->dedup_postgres,
        };
        for (size_t i = 0; i < cfg->consumer_count; i++) {
                const struct seam_loaded_plugin *lp;
                err = load_plugin(rt->plugins, cfg, i, &lp, errstr, errstr_size);
                if (!err)
                        err = seam_instance_new(cfg, i, lp, &deps, &rt->instances[i], errstr,
                                                errstr_size);
                if (err) {
                        seam_runtime_destroy(rt);
                        return err;
                }
                rt->instance_count++;
        }
        if ((err = seam_observer_new(cfg, rt, rt->metrics, &rt->observer, errstr, errstr_size))) {
                seam_runtime_destroy(rt);
                return err;
        }
        *out = rt;
        return 0;
}

int seam_runtime_start(struct seam_runtime *rt, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < rt->instance_count; i++) {
                int err = seam_instance_start(rt->instances[i], errstr, errstr_size);
                if (err)
                        return err;
        }
        return 0;
}

static int all_finished(struct seam_runtime *rt)
{
        for (size_t i = 0; i < rt->instance_count; i++)
                if (!seam_instance_finished(rt->instances[i]))
                        return 0;
        return 1;
}

int seam_runtime_wait(struct seam_runtime *rt, int (*done)(void *arg), void *arg)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        struct timespec tick = {0, 100 * 1000000L};
        const char *why = NULL;
        char sigwhy[32];

        while (!why) {
                int sig = sigtimedwait(&set, NULL, &tick);
                if (sig > 0) {
                        snprintf(sigwhy, sizeof(sigwhy), "signal %s",
                                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
                        why = sigwhy;
                } else if (done && done(arg)) {
                        why = "run complete";
                } else if (all_finished(rt)) {
                        why = "every consumer instance stopped";
                }
        }
        seam_log_info("shutting down (%s): draining %zu consumer instance(s)", why,
                      rt->instance_count);
        for (size_t i = 0; i < rt->instance_count; i++)
                seam_instance_request_stop(rt->instances[i]);

        /* Each instance bounds its own drain; this outer deadline also covers
         * a consumer close that hangs on an unreachable coordinator. */
        int64_t deadline = seam_mono_ms() + rt->cfg->shutdown_timeout_ms + 15000;
        while (!all_finished(rt)) {
                int sig = sigtimedwait(&set, NULL, &tick);
                if (sig > 0) {
                        seam_log_error("second signal during drain: exiting now; offsets "
                                       "of unfinished messages are not committed");
                        rt->timed_out = 1;
                        return SEAM_EXIT_DRAIN_TIMEOUT;
                }
                if (seam_mono_ms() > deadline) {
                        seam_log_error("drain did not finish within %lld ms: exiting",
                                       (long long)(rt->cfg->shutdown_timeout_ms + 15000));
                        rt->timed_out = 1;
                        return SEAM_EXIT_DRAIN_TIMEOUT;
                }
        }
        int code = SEAM_EXIT_OK, fatal = 0;
        for (size_t i = 0; i < rt->instance_count; i++) {
                int r = seam_instance_join(rt->instances[i]);
                if (r == SEAM_ERR_DRAIN)
                        code = SEAM_EXIT_DRAIN_TIMEOUT;
                else if (r == SEAM_ERR_FATAL)
                        fatal++;
        }
        if (code == SEAM_EXIT_OK && fatal)
                code = SEAM_EXIT_FATAL;
        return code;
}

void seam_runtime_destroy(struct seam_runtime *rt)
{
        if (!rt)
                return;
        if (rt->timed_out)
                return; /* instances still draining: the process exits without freeing */
        /* The server reads the instances: stop it first. The DLQ writer's
         * last delivery reports still reach the instances: stop it next. */
        seam_observer_destroy(rt->observer);
        seam_dlq_destroy(rt->dlq, 5000);
        for (size_t i = 0; i < rt->instance_count; i++)
                seam_instance_destroy(rt->instances[i]);
        free(rt->instances);
        seam_registry_destroy(rt->registry);
        seam_dedup_close(rt->dedup_embedded);
        seam_dedup_close(rt->dedup_postgres);
        seam_metrics_destroy(rt->metrics);
        seam_embedded_stop(rt->embedded);
        seam_plugin_set_destroy(rt->plugins);
        free(rt);
}

struct seam_embedded *seam_runtime_embedded(struct seam_runtime *rt)
{
        return rt->embedded;
}

size_t seam_runtime_instance_count(const struct seam_runtime *rt)
{
        return rt->instance_count;
}

struct seam_instance *seam_runtime_instance(struct seam_runtime *rt, size_t i)
{
        return rt->instances[i];
}

struct seam_metrics *seam_runtime_metrics(struct seam_runtime *rt)
{
        return rt->metrics;
}

struct seam_registry *seam_runtime_registry(struct seam_runtime *rt)
{
        return rt->registry;
}

int seam_runtime_http_port(const struct seam_runtime *rt)
{
        return seam_observer_port(rt->observer);
}
