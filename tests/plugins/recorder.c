/* recorder.c - test plugin: records every message it handled, one line per
 * message, so a test can compare what the plugin finished with what was
 * committed.
 *
 * Line format (one write(2) per line, file opened O_APPEND, so a line is
 * either fully there or absent after a SIGKILL):
 *   TOPIC PARTITION OFFSET KEY ATTEMPT\n    (KEY "-" when the message has none)
 * With `values: true` and format avro, the decoded record follows as JSON:
 *   TOPIC PARTITION OFFSET KEY ATTEMPT SCHEMA_ID {json}\n
 *
 * Config keys:
 *   out          path of the record file (required)
 *   sleep_ms     delay inside handle(), to make handling slow (default 0)
 *   retry_offset offset that returns RETRY on its first `retry_times` attempts
 *   retry_times  (default 2)
 *   poison_offset  offset that returns POISON (default -1: none)
 *   fatal_offset   offset that returns FATAL (default -1: none)
 *   fail_init    make init() fail (default false)
 *   values       append the schema id and the decoded record (default false)
 *   poison_key   messages with this key return POISON (default: none)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seam/plugin.h"

struct recorder {
        const struct seam_host_api *api;
        seam_ctx *ctx;
        int fd;
        int64_t sleep_ms;
        int64_t retry_offset, retry_times, poison_offset, fatal_offset;
        int values;
        const char *poison_key;
};

static const struct seam_config_key recorder_keys[] = {
        {"out", SEAM_CONFIG_STRING, NULL, 1, "path of the record file"},
        {"sleep_ms", SEAM_CONFIG_INT, "0", 0, "delay inside handle()"},
        {"retry_offset", SEAM_CONFIG_INT, "-1", 0, "offset that returns RETRY first"},
        {"retry_times", SEAM_CONFIG_INT, "2", 0, "how many RETRYs for retry_offset"},
        {"poison_offset", SEAM_CONFIG_INT, "-1", 0, "offset that returns POISON"},
        {"fatal_offset", SEAM_CONFIG_INT, "-1", 0, "offset that returns FATAL"},
        {"fail_init", SEAM_CONFIG_BOOL, "false", 0, "make init() fail"},
        {"values", SEAM_CONFIG_BOOL, "false", 0, "record the decoded value as JSON"},
        {"poison_key", SEAM_CONFIG_STRING, NULL, 0, "messages with this key are POISON"},
        {NULL, 0, NULL, 0, NULL},
};

static int recorder_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        const char *out;
        int fail_init = 0;
        api->config_bool(ctx, "fail_init", &fail_init);
        if (fail_init) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "fail_init is set");
                return -1;
        }
        if (api->config_string(ctx, "out", &out) < 0)
                return -1;
        struct recorder *r = calloc(1, sizeof(*r));
        if (!r)
                return -1;
        r->api = api;
        r->ctx = ctx;
        api->config_int(ctx, "sleep_ms", &r->sleep_ms);
        api->config_int(ctx, "retry_offset", &r->retry_offset);
        api->config_int(ctx, "retry_times", &r->retry_times);
        api->config_int(ctx, "poison_offset", &r->poison_offset);
        api->config_int(ctx, "fatal_offset", &r->fatal_offset);
        api->config_bool(ctx, "values", &r->values);
        if (api->config_string(ctx, "poison_key", &r->poison_key) < 0)
                r->poison_key = NULL;
        r->fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (r->fd < 0) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "cannot open %s: %s", out,
                         strerror(errno));
                free(r);
                return -1;
        }
        *state = r;
        return 0;
}

static seam_result recorder_handle(void *state, const seam_msg *msg)
{
        struct recorder *r = state;
        const struct seam_host_api *api = r->api;
        int64_t offset = api->msg_offset(msg);
        if (r->sleep_ms > 0) {
                struct timespec ts = {r->sleep_ms / 1000, (r->sleep_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
        }
        if (offset == r->retry_offset && api->msg_attempt(msg) < (uint32_t)r->retry_times) {
                api->msg_set_error(msg, "recorder: retry_offset reached");
                return SEAM_RETRY;
        }
        size_t pklen = 0;
        const char *pk = api->msg_key(msg, &pklen);
        if (r->poison_key && pk && pklen == strlen(r->poison_key) &&
            !memcmp(pk, r->poison_key, pklen)) {
                api->msg_set_error(msg, "recorder: poison_key matched");
                return SEAM_POISON;
        }
        if (offset == r->poison_offset) {
                api->msg_set_error(msg, "recorder: poison_offset reached");
                return SEAM_POISON;
        }
        if (offset == r->fatal_offset) {
                api->msg_set_error(msg, "recorder: fatal_offset reached");
                return SEAM_FATAL;
        }
        size_t klen = 0;
        const char *key = api->msg_key(msg, &klen);
        char line[8192];
        const char *json = r->values && SEAM_API_HAS(api, msg_value_json) ? api->msg_value_json(msg)
                                                                        : NULL;
        int n = snprintf(line, sizeof(line), "%s %d %lld %.*s %u", api->msg_topic(msg),
                         (int)api->msg_partition(msg), (long long)offset,
                         key && klen ? (int)(klen > 200 ? 200 : klen) : 1,
                         key && klen ? key : "-", api->msg_attempt(msg));
        if (n > 0 && r->values && (size_t)n < sizeof(line))
                n += snprintf(line + n, sizeof(line) - (size_t)n, " %lld %s",
                              (long long)(SEAM_API_HAS(api, msg_schema_id) ? api->msg_schema_id(msg) : -1),
                              json ? json : "null");
        if (n > 0 && (size_t)n < sizeof(line) - 1)
                line[n++] = '\n';
        if (n < 0 || (size_t)n >= sizeof(line) || write(r->fd, line, (size_t)n) != n) {
                api->msg_set_error(msg, "recorder: write failed");
                return SEAM_RETRY;
        }
        if (SEAM_API_HAS(api, metric_counter_add))
                api->metric_counter_add(r->ctx, "seam_plugin_recorder_records_total",
                                        "Lines the recorder test plugin wrote.", 1);
        return SEAM_OK;
}

static void recorder_close(void *state)
{
        struct recorder *r = state;
        if (!r)
                return;
        close(r->fd);
        free(r);
}

static const struct seam_plugin recorder_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = "recorder",
        .version = "1.0.0",
        .config_keys = recorder_keys,
        .init = recorder_init,
        .handle = recorder_handle,
        .close = recorder_close,
};

SEAM_PLUGIN_DEFINE(recorder_plugin)
