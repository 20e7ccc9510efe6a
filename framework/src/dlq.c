#include "dlq.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kafka_conf.h"
#include "log.h"

/* Long enough that librdkafka rides out a broker outage of minutes by
 * itself (retrying with the idempotent producer, so without duplicates);
 * only then does a write count as failed and get retried by seam. */
#define DLQ_DEFAULT_MESSAGE_TIMEOUT_MS "300000"
#define DLQ_ERROR_MESSAGE_MAX 1024

struct seam_dlq {
        const char *log_name; /* FIRST: see seam_kafka_conf_route_logs */
        rd_kafka_t *rk;
        pthread_t thread;
        atomic_int stop;
};

struct pending {
        seam_dlq_done_fn done;
        void *opaque;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        struct pending *p = m->_private;
        if (!p)
                return;
        p->done(p->opaque, m->err, m->err ? rd_kafka_err2str(m->err) : NULL);
        free(p);
}

static void *dlq_main(void *arg)
{
        struct seam_dlq *d = arg;
        while (!atomic_load(&d->stop))
                rd_kafka_poll(d->rk, 100);
        return NULL;
}

static const char *const forced[] = {
        "enable.idempotence", "true",
        "acks", "all",
        NULL,
};

int seam_dlq_new(const struct seam_config *cfg, const char *bootstrap_override,
                 struct seam_dlq **out, char *errstr, size_t errstr_size)
{
        struct seam_dlq *d = calloc(1, sizeof(*d));
        if (!d)
                return SEAM_ERR_NOMEM;
        d->log_name = "dlq-producer";
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char rderr[512];
        int ok = 1;
        seam_kafka_conf_route_logs(conf);
        rd_kafka_conf_set_opaque(conf, d);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        /* Consumer-only properties of the shared `kafka:` map would make the
         * producer log a warning per key; they are simply not its business. */
        static const char *const consumer_only[] = {
                "auto.offset.reset", "session.timeout.ms", "heartbeat.interval.ms",
                "partition.assignment.strategy", "max.poll.interval.ms", "group.instance.id",
                "isolation.level", "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes",
                "max.partition.fetch.bytes", "queued.min.messages", "queued.max.messages.kbytes",
                "enable.partition.eof", "check.crcs", "allow.auto.create.topics", NULL};
        for (size_t i = 0; ok && i < cfg->kafka.count; i++) {
                const struct seam_kv *kv = &cfg->kafka.items[i];
                int skip = 0;
                for (int k = 0; consumer_only[k]; k++)
                        skip |= !strcmp(kv->key, consumer_only[k]);
                if (!skip && rd_kafka_conf_set(conf, kv->key, kv->value, rderr, sizeof(rderr))) {
                        snprintf(errstr, errstr_size, "%s:%d: kafka.%s: librdkafka (dlq producer): %s",
                                 cfg->path, kv->line, kv->key, rderr);
                        ok = 0;
                }
        }
        if (ok && bootstrap_override &&
            rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_override, rderr, sizeof(rderr))) {
                snprintf(errstr, errstr_size, "dlq producer: %s", rderr);
                ok = 0;
        }
        if (ok && !seam_kv_find(&cfg->kafka, "message.timeout.ms") &&
            rd_kafka_conf_set(conf, "message.timeout.ms", DLQ_DEFAULT_MESSAGE_TIMEOUT_MS, rderr,
                              sizeof(rderr))) {
                snprintf(errstr, errstr_size, "dlq producer: %s", rderr);
                ok = 0;
        }
        for (int i = 0; ok && forced[i]; i += 2) {
                if (rd_kafka_conf_set(conf, forced[i], forced[i + 1], rderr, sizeof(rderr))) {
                        snprintf(errstr, errstr_size, "dlq producer: %s: %s", forced[i], rderr);
                        ok = 0;
                }
        }
        if (ok && !(d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr)))) {
                snprintf(errstr, errstr_size, "dlq producer: %s", rderr);
                ok = 0;
        }
        if (!ok) {
                rd_kafka_conf_destroy(conf);
                free(d);
                return SEAM_ERR_CONFIG;
        }
        if (pthread_create(&d->thread, NULL, dlq_main, d)) {
                rd_kafka_destroy(d->rk);
                free(d);
                return SEAM_ERR_NOMEM;
        }
        *out = d;
        return 0;
}

int seam_dlq_replay_count(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, "seam.replay.count", &v, &len) || !v || len == 0 || len > 9)
                return 0;
        int n = 0;
        for (size_t i = 0; i < len; i++) {
                char c = ((const char *)v)[i];
                if (c < '0' || c > '9')
                        return 0;
                n = n * 10 + (c - '0');
        }
        return n;
}

static void add_text(rd_kafka_headers_t *h, const char *name, const char *value)
{
        rd_kafka_header_add(h, name, -1, value ? value : "", -1);
}

static void add_int(rd_kafka_headers_t *h, const char *name, int64_t value)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, value);
        rd_kafka_header_add(h, name, -1, buf, -1);
}

/* Original headers, minus seam.* (docs/dlq.md), then the provenance. */
static rd_kafka_headers_t *build_headers(const struct seam_dlq_record *r)
{
        rd_kafka_headers_t *orig = NULL, *h;
        size_t n = 0;
        if (!rd_kafka_message_headers(r->original, &orig))
                n = rd_kafka_header_cnt(orig);
        h = rd_kafka_headers_new(n + 16);
        for (size_t i = 0; i < n; i++) {
                const char *name;
                const void *v;
                size_t len;
                if (!rd_kafka_header_get_all(orig, i, &name, &v, &len) &&
                    strncmp(name, "seam.", 5) != 0)
                        rd_kafka_header_add(h, name, -1, v, v ? (ssize_t)len : 0);
        }
        rd_kafka_timestamp_type_t tstype;
        char msg[DLQ_ERROR_MESSAGE_MAX + 1];
        snprintf(msg, sizeof(msg), "%s", r->error_message ? r->error_message : "");
        add_text(h, "seam.dlq.version", SEAM_DLQ_VERSION);
        add_text(h, "seam.original.topic", rd_kafka_topic_name(r->original->rkt));
        add_int(h, "seam.original.partition", r->original->partition);
        add_int(h, "seam.original.offset", r->original->offset);
        add_int(h, "seam.original.timestamp", rd_kafka_message_timestamp(r->original, &tstype));
        add_text(h, "seam.consumer", r->consumer);
        add_text(h, "seam.group", r->group);
        add_text(h, "seam.plugin.name", r->plugin_name);
        add_text(h, "seam.plugin.version", r->plugin_version);
        add_text(h, "seam.error.class", r->error_class);
        add_text(h, "seam.error.message", msg);
        add_int(h, "seam.attempts", r->attempts);
        add_int(h, "seam.failure.first", r->first_failure_ms);
        add_int(h, "seam.failure.last", r->last_failure_ms);
        if (r->schema_id >= 0)
                add_int(h, "seam.schema.id", r->schema_id);
        add_int(h, "seam.replay.count", seam_dlq_replay_count(r->original));
        return h;
}

int seam_dlq_write(struct seam_dlq *d, const struct seam_dlq_record *r, seam_dlq_done_fn done,
                   void *opaque, char *errstr, size_t errstr_size)
{
        struct pending *p = malloc(sizeof(*p));
        if (!p)
                return SEAM_ERR_NOMEM;
        p->done = done;
        p->opaque = opaque;
        rd_kafka_headers_t *h = build_headers(r);
        const rd_kafka_message_t *o = r->original;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            d->rk, RD_KAFKA_V_TOPIC(r->dlq_topic), RD_KAFKA_V_KEY(o->key, o->key_len),
            RD_KAFKA_V_VALUE(o->payload, o->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (err) {
                /* On failure the headers were not taken over. */
                rd_kafka_headers_destroy(h);
                free(p);
                snprintf(errstr, errstr_size, "dlq write to %s: %s", r->dlq_topic,
                         rd_kafka_err2str(err));
                return SEAM_ERR_TRANSIENT;
        }
        return 0;
}

void seam_dlq_destroy(struct seam_dlq *d, int timeout_ms)
{
        if (!d)
                return;
        atomic_store(&d->stop, 1);
        pthread_join(d->thread, NULL);
        if (rd_kafka_flush(d->rk, timeout_ms))
                seam_log_warn("dlq producer: records still queued at shutdown; their sources "
                              "stay uncommitted and are dead-lettered again after restart");
        /* Destroy purges what is left, calling dr_cb with a failure. */
        rd_kafka_purge(d->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(d->rk, 0);
        rd_kafka_destroy(d->rk);
        free(d);
}
