#include "host_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "metrics.h"

static void msg_init_common(struct seam_msg *m, const struct seam_ctx *ctx, uint32_t attempt)
{
        m->ctx = ctx;
        m->attempt = attempt;
        m->error = NULL;
        m->headers = NULL;
        m->headers_read = 0;
        m->idempotency_key[0] = '\0';
        m->correlation_read = 0;
        m->correlation_id[0] = '\0';
        m->value = NULL;
        m->schema_id = -1;
        m->json = NULL;
        m->inbox_tx = NULL;
}

void seam_msg_init(struct seam_msg *m, rd_kafka_message_t *rkm,
                   const struct seam_ctx *ctx, uint32_t attempt)
{
        msg_init_common(m, ctx, attempt);
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(rkm, &type);
        m->rkm = rkm;
        m->d = (struct seam_msg_data){
                .topic = rd_kafka_topic_name(rkm->rkt),
                .partition = rkm->partition,
                .offset = rkm->offset,
                .timestamp = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
                .key = rkm->key,
                .key_len = rkm->key_len,
                .payload = rkm->payload,
                .len = rkm->len,
        };
}

void seam_msg_init_data(struct seam_msg *m, const struct seam_msg_data *d,
                        rd_kafka_headers_t *headers, const struct seam_ctx *ctx,
                        uint32_t attempt)
{
        msg_init_common(m, ctx, attempt);
        m->rkm = NULL;
        m->d = *d;
        m->headers = headers;
        m->headers_read = 1;
}

void seam_msg_release(struct seam_msg *m)
{
        free(m->error);
        m->error = NULL;
        free(m->json);
        m->json = NULL;
}

static rd_kafka_headers_t *headers_of(const seam_msg *cmsg)
{
        struct seam_msg *msg = (struct seam_msg *)cmsg;
        if (!msg->headers_read) {
                msg->headers_read = 1;
                if (!msg->rkm || rd_kafka_message_headers(msg->rkm, &msg->headers))
                        msg->headers = NULL;
        }
        return msg->headers;
}

/* The correlation header's value, made printable (it comes from the
 * network: non-printable bytes become '?', length is capped). */
static const char *correlation_of(const struct seam_msg *cm)
{
        struct seam_msg *m = (struct seam_msg *)cm;
        if (!m->correlation_read) {
                m->correlation_read = 1;
                rd_kafka_headers_t *h = headers_of(m);
                const void *v;
                size_t len;
                if (m->ctx->correlation_header && *m->ctx->correlation_header && h &&
                    !rd_kafka_header_get_last(h, m->ctx->correlation_header, &v, &len) && v) {
                        if (len >= sizeof(m->correlation_id))
                                len = sizeof(m->correlation_id) - 1;
                        for (size_t i = 0; i < len; i++) {
                                unsigned char c = ((const unsigned char *)v)[i];
                                m->correlation_id[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
                        }
                        m->correlation_id[len] = '\0';
                }
        }
        return m->correlation_id[0] ? m->correlation_id : NULL;
}

struct seam_log_ctx seam_msg_log_ctx(const struct seam_msg *m)
{
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        lc.correlation_id = correlation_of(m);
        lc.consumer = m->ctx->consumer_name;
        lc.plugin = m->ctx->plugin_name;
        lc.topic = m->d.topic;
        lc.partition = m->d.partition;
        lc.offset = m->d.offset;
        return lc;
}

static void api_log(seam_ctx *ctx, const seam_msg *msg, seam_log_level level,
                    const char *fmt, ...)
{
        if (level < SEAM_LOG_DEBUG || level > SEAM_LOG_ERROR)
                level = SEAM_LOG_ERROR;
        if (!seam_log_enabled(level))
                return;
        char text[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        struct seam_log_ctx lc = SEAM_LOG_CTX_NONE;
        if (msg) {
                lc = seam_msg_log_ctx(msg);
        } else if (ctx) {
                lc.consumer = ctx->consumer_name;
                lc.plugin = ctx->plugin_name;
        }
        seam_log(level, &lc, "%s", text);
}

static int api_config_string(seam_ctx *ctx, const char *key, const char **out)
{
        const struct seam_plugin_config_value *v =
            seam_plugin_config_get(ctx->plugin_config, key, SEAM_CONFIG_STRING);
        if (!v)
                return SEAM_ERR_NOTFOUND;
        *out = v->text;
        return 0;
}

static int api_config_int(seam_ctx *ctx, const char *key, int64_t *out)
{
        const struct seam_plugin_config_value *v =
            seam_plugin_config_get(ctx->plugin_config, key, SEAM_CONFIG_INT);
        if (!v)
                return SEAM_ERR_NOTFOUND;
        *out = v->i;
        return 0;
}

static int api_config_bool(seam_ctx *ctx, const char *key, int *out)
{
        const struct seam_plugin_config_value *v =
            seam_plugin_config_get(ctx->plugin_config, key, SEAM_CONFIG_BOOL);
        if (!v)
                return SEAM_ERR_NOTFOUND;
        *out = v->b;
        return 0;
}

static int api_config_double(seam_ctx *ctx, const char *key, double *out)
{
        const struct seam_plugin_config_value *v =
            seam_plugin_config_get(ctx->plugin_config, key, SEAM_CONFIG_DOUBLE);
        if (!v)
                return SEAM_ERR_NOTFOUND;
        *out = v->d;
        return 0;
}

static const char *api_consumer_name(seam_ctx *ctx)
{
        return ctx->consumer_name;
}

static const void *api_msg_payload(const seam_msg *msg, size_t *len)
{
        if (len)
                *len = msg->d.len;
        return msg->d.payload;
}

static const void *api_msg_key(const seam_msg *msg, size_t *len)
{
        if (len)
                *len = msg->d.key_len;
        return msg->d.key;
}

static const char *api_msg_topic(const seam_msg *msg)
{
        return msg->d.topic;
}

static int32_t api_msg_partition(const seam_msg *msg)
{
        return msg->d.partition;
}

static int64_t api_msg_offset(const seam_msg *msg)
{
        return msg->d.offset;
}

static int64_t api_msg_timestamp(const seam_msg *msg)
{
        return msg->d.timestamp;
}

static size_t api_msg_header_count(const seam_msg *msg)
{
        rd_kafka_headers_t *h = headers_of(msg);
        return h ? rd_kafka_header_cnt(h) : 0;
}

static int api_msg_header_at(const seam_msg *msg, size_t idx, const char **name,
                             const void **value, size_t *len)
{
        rd_kafka_headers_t *h = headers_of(msg);
        if (!h || rd_kafka_header_get_all(h, idx, name, value, len))
                return SEAM_ERR_NOTFOUND;
        return 0;
}

static int api_msg_header(const seam_msg *msg, const char *name,
                          const void **value, size_t *len)
{
        rd_kafka_headers_t *h = headers_of(msg);
        if (!h || rd_kafka_header_get_last(h, name, value, len))
                return SEAM_ERR_NOTFOUND;
        return 0;
}

static const char *api_msg_idempotency_key(const seam_msg *cmsg)
{
        struct seam_msg *msg = (struct seam_msg *)cmsg;
        if (!msg->idempotency_key[0])
                snprintf(msg->idempotency_key, sizeof(msg->idempotency_key),
                         "%s/%d/%lld", msg->d.topic, (int)msg->d.partition,
                         (long long)msg->d.offset);
        return msg->idempotency_key;
}

static void api_msg_set_error(const seam_msg *cmsg, const char *reason)
{
        struct seam_msg *msg = (struct seam_msg *)cmsg;
        char *copy = reason ? strdup(reason) : NULL;
        free(msg->error);
        msg->error = copy;
}

static uint32_t api_msg_attempt(const seam_msg *msg)
{
        return msg->attempt;
}

/* Inbox SQL: the plugin gets a code and the reason on the message. */
static int sql_result(const seam_msg *msg, int rc, const char *err)
{
        if (!rc)
                return SEAM_SQL_OK;
        char reason[600];
        snprintf(reason, sizeof(reason), "sql: %s", err);
        api_msg_set_error(msg, reason);
        return rc == SEAM_ERR_INVALID ? SEAM_SQL_INVALID
               : rc == SEAM_ERR_FATAL ? SEAM_SQL_FATAL
                                      : SEAM_SQL_TRANSIENT;
}

static int api_sql_exec(const seam_msg *msg, const char *sql, int nparams,
                        const char *const *params, long *rows)
{
        char err[512];
        long affected = 0;
        if (!msg->inbox_tx) {
                api_msg_set_error(msg, "sql_exec: this consumer has no transactional inbox "
                                       "(idempotency: {store: postgres, inbox: true})");
                return SEAM_SQL_NO_INBOX;
        }
        int rc = seam_inbox_exec(msg->inbox_tx, sql, nparams, params, &affected, err, sizeof(err));
        if (rows)
                *rows = affected;
        return sql_result(msg, rc, err);
}

static int api_sql_query_value(const seam_msg *msg, const char *sql, int nparams,
                               const char *const *params, char *out, size_t outlen, int *found)
{
        char err[512];
        if (!msg->inbox_tx) {
                api_msg_set_error(msg, "sql_query_value: this consumer has no transactional inbox");
                return SEAM_SQL_NO_INBOX;
        }
        int rc = seam_inbox_query_value(msg->inbox_tx, sql, nparams, params, out, outlen, found,
                                        err, sizeof(err));
        return sql_result(msg, rc, err);
}

/* Plugin metrics are families like any other, labelled by consumer, so
 * two instances of one plugin report apart. Names must carry the plugin's
 * prefix, so a plugin cannot shadow the host's own series. */
static struct seam_metric *plugin_metric(seam_ctx *ctx, const char *name, const char *help,
                                         int counter)
{
        if (!name || strncmp(name, "seam_plugin_", 12))
                return NULL;
        struct seam_metric_family *f =
            counter ? seam_metrics_counter(ctx->metrics, name, help, SEAM_METRIC_LABELS("consumer"))
                    : seam_metrics_gauge(ctx->metrics, name, help, SEAM_METRIC_LABELS("consumer"));
        return seam_metric_get(f, 1, (const char *[]){ctx->consumer_name});
}

static int api_metric_counter_add(seam_ctx *ctx, const char *name, const char *help, double value)
{
        if (!ctx->metrics)
                return 0; /* the offline harness keeps none */
        struct seam_metric *m = plugin_metric(ctx, name, help, 1);
        if (!m || value < 0)
                return SEAM_ERR_INVALID;
        seam_counter_add(m, value);
        return 0;
}

static int api_metric_gauge_set(seam_ctx *ctx, const char *name, const char *help, double value)
{
        if (!ctx->metrics)
                return 0;
        struct seam_metric *m = plugin_metric(ctx, name, help, 0);
        if (!m)
                return SEAM_ERR_INVALID;
        seam_gauge_set(m, value);
        return 0;
}

static const struct avro_value *api_msg_value(const seam_msg *msg)
{
        return msg->value;
}

static int64_t api_msg_schema_id(const seam_msg *msg)
{
        return msg->schema_id;
}

static const char *api_msg_value_json(const seam_msg *cmsg)
{
        struct seam_msg *msg = (struct seam_msg *)cmsg;
        /* Safe on any decoded value: the bounded decoder range-checked every
         * enum and union index Avro C's printer would trust. */
        if (msg->value && !msg->json && avro_value_to_json(msg->value, 1, &msg->json))
                msg->json = NULL;
        return msg->json;
}

const struct seam_host_api seam_host_api_v1 = {
        .abi_version = SEAM_ABI_VERSION,
        .struct_size = sizeof(struct seam_host_api),
        .log = api_log,
        .config_string = api_config_string,
        .config_int = api_config_int,
        .config_bool = api_config_bool,
        .config_double = api_config_double,
        .consumer_name = api_consumer_name,
        .msg_payload = api_msg_payload,
        .msg_key = api_msg_key,
        .msg_topic = api_msg_topic,
        .msg_partition = api_msg_partition,
        .msg_offset = api_msg_offset,
        .msg_timestamp = api_msg_timestamp,
        .msg_header_count = api_msg_header_count,
        .msg_header_at = api_msg_header_at,
        .msg_header = api_msg_header,
        .msg_idempotency_key = api_msg_idempotency_key,
        .msg_set_error = api_msg_set_error,
        .msg_attempt = api_msg_attempt,
        .msg_value = api_msg_value,
        .msg_schema_id = api_msg_schema_id,
        .msg_value_json = api_msg_value_json,
        .sql_exec = api_sql_exec,
        .sql_query_value = api_sql_query_value,
        .metric_counter_add = api_metric_counter_add,
        .metric_gauge_set = api_metric_gauge_set,
};
