/* order_audit.c - example consumer: appends every order event it receives
 * to an audit file as one JSON line, made durable (fsync) before it returns
 * OK, so the offset is committed only after the record is on disk.
 *
 * Each line carries the message's idempotency key: a reader of the audit
 * file can drop the duplicates that at-least-once delivery may produce
 * after a crash. See README.md for the config keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seam/plugin.h"

struct order_audit {
        const struct seam_host_api *api;
        seam_ctx *ctx;
        int fd;
        int fsync_each;
        int64_t max_value_bytes;
};

static const struct seam_config_key order_audit_keys[] = {
        {"path", SEAM_CONFIG_STRING, NULL, 1, "the audit file (JSON lines, appended)"},
        {"fsync", SEAM_CONFIG_BOOL, "true", 0, "fsync after every record before returning OK"},
        {"max_value_bytes", SEAM_CONFIG_INT, "65536", 0,
         "larger values are POISON (not written)"},
        {NULL, 0, NULL, 0, NULL},
};

static int order_audit_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        const char *path;
        struct order_audit *a = calloc(1, sizeof(*a));
        if (!a)
                return -1;
        a->api = api;
        a->ctx = ctx;
        api->config_string(ctx, "path", &path);
        api->config_bool(ctx, "fsync", &a->fsync_each);
        api->config_int(ctx, "max_value_bytes", &a->max_value_bytes);
        a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (a->fd < 0) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "cannot open audit file %s: %s", path,
                         strerror(errno));
                free(a);
                return -1;
        }
        api->log(ctx, NULL, SEAM_LOG_INFO, "writing audit records to %s", path);
        *state = a;
        return 0;
}

/* Appends `s` (len bytes) as a JSON string body; returns the new length or
 * -1 if it does not fit. */
static long json_escape(char *out, size_t cap, size_t n, const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                char esc[8];
                const char *add = esc;
                size_t alen;
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)c;
                        alen = 2;
                } else if (c < 0x20 || c >= 0x7f) {
                        /* Bytes, not text: keep them reversible. */
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        alen = 6;
                } else {
                        esc[0] = (char)c;
                        alen = 1;
                }
                if (n + alen >= cap)
                        return -1;
                memcpy(out + n, add, alen);
                n += alen;
        }
        return (long)n;
}

static seam_result order_audit_handle(void *state, const seam_msg *msg)
{
        struct order_audit *a = state;
        const struct seam_host_api *api = a->api;
        size_t vlen = 0, klen = 0;
        const char *value = api->msg_payload(msg, &vlen);
        const char *key = api->msg_key(msg, &klen);
        if ((int64_t)vlen > a->max_value_bytes) {
                api->msg_set_error(msg, "value larger than max_value_bytes");
                return SEAM_POISON;
        }
        size_t cap = 512 + 6 * (vlen + klen);
        char *line = malloc(cap);
        if (!line)
                return SEAM_RETRY;
        long n = snprintf(line, cap,
                          "{\"idempotency_key\":\"%s\",\"topic\":\"%s\",\"partition\":%d,"
                          "\"offset\":%lld,\"timestamp_ms\":%lld,\"key\":\"",
                          api->msg_idempotency_key(msg), api->msg_topic(msg),
                          (int)api->msg_partition(msg), (long long)api->msg_offset(msg),
                          (long long)api->msg_timestamp(msg));
        n = json_escape(line, cap, (size_t)n, key ? key : "", key ? klen : 0);
        /* The decoded order (format avro) as JSON; raw bytes otherwise. */
        const char *decoded = SEAM_API_HAS(api, msg_value_json) ? api->msg_value_json(msg) : NULL;
        if (decoded) {
                size_t dlen = strlen(decoded);
                char *bigger = n >= 0 ? realloc(line, cap + dlen) : NULL;
                if (bigger) {
                        line = bigger;
                        cap += dlen;
                        n += snprintf(line + n, cap - (size_t)n, "\",\"order\":%s}\n", decoded);
                } else {
                        n = -1;
                }
        } else {
                if (n >= 0 && (size_t)n + 11 < cap) {
                        memcpy(line + n, "\",\"value\":\"", 11);
                        n = json_escape(line, cap, (size_t)n + 11, value ? value : "",
                                        value ? vlen : 0);
                }
                if (n >= 0 && (size_t)n + 3 <= cap) {
                        memcpy(line + n, "\"}\n", 3);
                        n += 3;
                } else {
                        n = -1;
                }
        }
        if (n < 0) {
                free(line);
                api->msg_set_error(msg, "record does not fit the line buffer");
                return SEAM_POISON;
        }
        /* A failed or short write is the disk's trouble, not the message's:
         * retry it. A short write leaves a partial line that readers skip
         * (it does not parse); the retry appends the whole record. */
        ssize_t w = write(a->fd, line, (size_t)n);
        free(line);
        if (w != n || (a->fsync_each && fsync(a->fd) != 0)) {
                api->msg_set_error(msg, w < 0 ? strerror(errno) : "short write or fsync failure");
                return SEAM_RETRY;
        }
        if (SEAM_API_HAS(api, metric_counter_add))
                api->metric_counter_add(a->ctx, "seam_plugin_order_audit_written_bytes_total",
                                        "Bytes appended to the audit file.", (double)n);
        return SEAM_OK;
}

static void order_audit_close(void *state)
{
        struct order_audit *a = state;
        if (!a)
                return;
        close(a->fd);
        free(a);
}

static const struct seam_plugin order_audit_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = "order_audit",
        .version = "1.0.0",
        .config_keys = order_audit_keys,
        .init = order_audit_init,
        .handle = order_audit_handle,
        .close = order_audit_close,
};

SEAM_PLUGIN_DEFINE(order_audit_plugin)
