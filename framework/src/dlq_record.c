#include "dlq_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq.h"
#include "err.h"

/* The version this reader understands (docs/dlq.md). */
#define READER_VERSION 1

static void problem(struct seam_dlq_info *i, const char *fmt, const char *arg)
{
        if (i->problem[0])
                return;
        snprintf(i->problem, sizeof(i->problem), fmt, arg);
}

/* Decimal text of at most 19 digits with an optional '-'. */
static int parse_i64(const void *v, size_t len, int64_t *out)
{
        const char *s = v;
        size_t k = 0;
        int neg = 0;
        if (!s || len == 0)
                return -1;
        if (s[0] == '-') {
                neg = 1;
                k = 1;
        }
        if (k == len || len - k > 19)
                return -1;
        uint64_t n = 0;
        for (; k < len; k++) {
                if (s[k] < '0' || s[k] > '9')
                        return -1;
                n = n * 10 + (uint64_t)(s[k] - '0');
        }
        if (n > (uint64_t)INT64_MAX)
                return -1;
        *out = neg ? -(int64_t)n : (int64_t)n;
        return 0;
}

/* Returns 1 when the header exists (v, len set), else 0. */
static int get(rd_kafka_headers_t *h, const char *name, const void **v, size_t *len)
{
        return h && rd_kafka_header_get_last(h, name, v, len) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static int get_text(rd_kafka_headers_t *h, const char *name, int required,
                    struct seam_dlq_info *i, char **out)
{
        const void *v;
        size_t len;
        if (!get(h, name, &v, &len)) {
                if (required)
                        problem(i, "missing header %s", name);
                return 0;
        }
        char *s = malloc(len + 1);
        if (!s)
                return SEAM_ERR_NOMEM;
        if (v && len)
                memcpy(s, v, len);
        s[len] = '\0';
        *out = s;
        return 0;
}

static void get_num(rd_kafka_headers_t *h, const char *name, int required, unsigned bit,
                    struct seam_dlq_info *i, int64_t *out)
{
        const void *v;
        size_t len;
        if (!get(h, name, &v, &len)) {
                if (required)
                        problem(i, "missing header %s", name);
                return;
        }
        if (parse_i64(v, v ? len : 0, out)) {
                problem(i, "header %s is not a decimal number", name);
                return;
        }
        i->present |= bit;
}

int seam_dlq_info_parse(const rd_kafka_message_t *m, struct seam_dlq_info *out)
{
        memset(out, 0, sizeof(*out));
        rd_kafka_headers_t *h = NULL;
        if (rd_kafka_message_headers(m, &h))
                h = NULL;

        const void *v;
        size_t len;
        int64_t n;
        if (!get(h, "seam.dlq.version", &v, &len)) {
                out->version = 0;
                problem(out, "%s", "no seam.dlq.version header: not a seam dead-letter record");
        } else if (parse_i64(v, v ? len : 0, &n) || n < 1 || n > 1000000) {
                out->version = -1;
                problem(out, "%s", "header seam.dlq.version is not a version number");
        } else {
                out->version = (int)n;
                if (n > READER_VERSION) {
                        char buf[64];
                        snprintf(buf, sizeof(buf), "%d", out->version);
                        problem(out,
                                "seam.dlq.version %s is newer than this reader knows (1): "
                                "its headers may mean something else",
                                buf);
                }
        }
        /* Only a record that claims to be a seam record is held to the
         * contract's required headers; a foreign record simply has none. */
        int req = out->version != 0;
        int rc = 0;
        if (!rc) rc = get_text(h, "seam.original.topic", req, out, &out->original_topic);
        if (!rc) rc = get_text(h, "seam.consumer", req, out, &out->consumer);
        if (!rc) rc = get_text(h, "seam.group", req, out, &out->group);
        if (!rc) rc = get_text(h, "seam.plugin.name", req, out, &out->plugin_name);
        if (!rc) rc = get_text(h, "seam.plugin.version", req, out, &out->plugin_version);
        if (!rc) rc = get_text(h, "seam.error.class", req, out, &out->error_class);
        if (!rc) rc = get_text(h, "seam.error.message", req, out, &out->error_message);
        if (rc) {
                seam_dlq_info_clear(out);
                return rc;
        }
        int64_t part = 0;
        get_num(h, "seam.original.partition", req, SEAM_DLQ_HAS_PARTITION, out, &part);
        if ((out->present & SEAM_DLQ_HAS_PARTITION) && (part < 0 || part > INT32_MAX)) {
                out->present &= ~(unsigned)SEAM_DLQ_HAS_PARTITION;
                problem(out, "header %s is out of range", "seam.original.partition");
        }
        out->original_partition = (int32_t)part;
        get_num(h, "seam.original.offset", req, SEAM_DLQ_HAS_OFFSET, out, &out->original_offset);
        get_num(h, "seam.original.timestamp", req, SEAM_DLQ_HAS_TIMESTAMP, out,
                &out->original_timestamp);
        get_num(h, "seam.attempts", req, SEAM_DLQ_HAS_ATTEMPTS, out, &out->attempts);
        get_num(h, "seam.failure.first", req, SEAM_DLQ_HAS_FIRST, out, &out->failure_first);
        get_num(h, "seam.failure.last", req, SEAM_DLQ_HAS_LAST, out, &out->failure_last);
        get_num(h, "seam.schema.id", 0, SEAM_DLQ_HAS_SCHEMA_ID, out, &out->schema_id);
        int64_t count = 0;
        get_num(h, "seam.replay.count", req, SEAM_DLQ_HAS_REPLAY, out, &count);
        /* The writer's reader takes at most 9 digits and reads anything else
         * as 0; a loop guard must not be fooled by that, so say it. */
        if ((out->present & SEAM_DLQ_HAS_REPLAY) && (count < 0 || count > 999999999)) {
                out->present &= ~(unsigned)SEAM_DLQ_HAS_REPLAY;
                problem(out, "header %s is out of range", "seam.replay.count");
        }
        out->replay_count = seam_dlq_replay_count(m);
        return 0;
}

void seam_dlq_info_clear(struct seam_dlq_info *i)
{
        if (!i)
                return;
        free(i->original_topic);
        free(i->consumer);
        free(i->group);
        free(i->plugin_name);
        free(i->plugin_version);
        free(i->error_class);
        free(i->error_message);
        memset(i, 0, sizeof(*i));
}
