#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* Properties whose values would break commit-after-effect. */
static const struct {
        const char *key;
        const char *why;
} refused_props[] = {
        {"enable.auto.commit", "seam commits only offsets whose messages are handled; it always sets false"},
        {"enable.auto.offset.store", "seam stores offsets only after handling; it always sets false"},
        {"group.id", "set the consumer's group_id key instead"},
        {NULL, NULL},
};

int seam_kafka_log_level(int syslog_level)
{
        if (syslog_level <= 3)
                return SEAM_LOG_ERROR;
        if (syslog_level == 4)
                return SEAM_LOG_WARN;
        if (syslog_level <= 6)
                return SEAM_LOG_INFO;
        return SEAM_LOG_DEBUG;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        const char *const *name = rd_kafka_opaque(rk);
        lc.consumer = name ? *name : NULL;
        char key[96];
        snprintf(key, sizeof(key), "rdk-log:%s:%s", lc.consumer ? lc.consumer : "", fac);
        seam_log_limited(key, 10000, (seam_log_level)seam_kafka_log_level(level), &lc,
                         "librdkafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        const char *const *name = opaque;
        (void)rk;
        lc.consumer = name ? *name : NULL;
        char key[96];
        snprintf(key, sizeof(key), "rdk-err:%s:%d", lc.consumer ? lc.consumer : "", err);
        /* Broker down, transport failures: librdkafka retries them itself;
         * log them, rate-limited, and let the instance go on. */
        seam_log_limited(key, 10000,
                         err == RD_KAFKA_RESP_ERR__FATAL ? SEAM_LOG_ERROR : SEAM_LOG_WARN,
                         &lc, "kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                         reason);
}

void seam_kafka_conf_route_logs(rd_kafka_conf_t *conf)
{
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rd_kafka_conf_set_error_cb(conf, error_cb);
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value,
               const char *file, int line, const char *where, char *errstr,
               size_t errstr_size)
{
        char rderr[512];
        if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
                snprintf(errstr, errstr_size, "%s:%d: %s.%s: librdkafka: %s", file,
                         line, where, key, rderr);
                return SEAM_ERR_CONFIG;
        }
        return 0;
}

int seam_kafka_consumer_conf(const struct seam_config *cfg, size_t idx,
                             const char *bootstrap_override,
                             rd_kafka_conf_t **out, char *errstr,
                             size_t errstr_size)
{
        const struct seam_consumer_config *cc = &cfg->consumers[idx];
        char where[64];
        snprintf(where, sizeof(where), "consumers[%zu].kafka", idx);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int err = 0;

        for (size_t i = 0; i < cc->kafka.count && !err; i++) {
                const struct seam_kv *kv = &cc->kafka.items[i];
                for (int r = 0; refused_props[r].key; r++) {
                        if (!strcmp(kv->key, refused_props[r].key)) {
                                snprintf(errstr, errstr_size,
                                         "%s:%d: %s.%s: not allowed here: %s",
                                         cfg->path, kv->line, where, kv->key,
                                         refused_props[r].why);
                                err = SEAM_ERR_CONFIG;
                                break;
                        }
                }
                if (!err)
                        err = set(conf, kv->key, kv->value, cfg->path, kv->line, where,
                                  errstr, errstr_size);
        }
        if (!err && bootstrap_override)
                err = set(conf, "bootstrap.servers", bootstrap_override, cfg->path,
                          cc->line, where, errstr, errstr_size);
        if (!err && !bootstrap_override && !seam_kv_find(&cc->kafka, "bootstrap.servers")) {
                snprintf(errstr, errstr_size,
                         "%s:%d: %s.bootstrap.servers: required (in the top-level "
                         "or the consumer's kafka: map), or run with --embedded-broker",
                         cfg->path, cc->line, where);
                err = SEAM_ERR_CONFIG;
        }
        if (!err && !seam_kv_find(&cc->kafka, "client.id")) {
                char id[160];
                snprintf(id, sizeof(id), "seam-%s", cc->name);
                err = set(conf, "client.id", id, cfg->path, cc->line, where, errstr,
                          errstr_size);
        }
        if (!err)
                err = set(conf, "group.id", cc->group_id, cfg->path, cc->line,
                          where, errstr, errstr_size);
        if (!err)
                err = set(conf, "enable.auto.commit", "false", cfg->path, cc->line,
                          where, errstr, errstr_size);
        if (!err)
                err = set(conf, "enable.auto.offset.store", "false", cfg->path,
                          cc->line, where, errstr, errstr_size);
        if (err) {
                rd_kafka_conf_destroy(conf);
                return err;
        }
        *out = conf;
        return 0;
}
