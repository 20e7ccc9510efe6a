/* test_poison_stops: the recorder returns POISON for offset 50, which only
 * partition 0 has (the others hold 40 messages). The message may be skipped
 * only once its dead-letter record is durable, so:
 *
 * 1. While the DLQ topic has no leader (its writes cannot be acknowledged),
 *    partition 0 stops at the poison message: its committed offset stays
 *    exactly 50 (not skipped, not committed past), nothing after it is
 *    handled, and the other partitions reach their end meanwhile.
 * 2. Once the DLQ topic is back, the record is written, partition 0 goes on
 *    to its end, offset 50 was never "handled", and the DLQ holds exactly one
 *    record: the original key and value with seam.* provenance headers. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kafka_util.h"
#include "mockenv.h"

#define TOPIC "poison"
#define DLQ_TOPIC "poison.dlq"
#define GROUP "poison-group"
#define PARTITIONS 4
#define POISON_OFFSET 50

static struct me_env *env;

struct stays_arg {
        int64_t last[PARTITIONS];
        const int64_t *want;
};

/* Becomes true only if the committed offsets move away from `want`. */
static int moved(void *arg)
{
        struct stays_arg *a = arg;
        if (me_committed(env, GROUP, TOPIC, PARTITIONS, a->last) < 0)
                return 0;
        for (int p = 0; p < PARTITIONS; p++) {
                if (a->last[p] != a->want[p]) {
                        fprintf(stderr, "partition %d: committed %lld, expected it to stay %lld\n",
                                p, (long long)a->last[p], (long long)a->want[p]);
                        return 1;
                }
        }
        return 0;
}

static const char *header(rd_kafka_headers_t *hdrs, const char *name)
{
        const void *v;
        size_t n;
        if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &n))
                return NULL;
        return me_strf(env, "%.*s", (int)n, (const char *)v);
}

/* The one record of the DLQ topic: where it came from and why. */
static void check_dlq_record(void)
{
        int64_t end[1];
        me_high_watermarks(env, DLQ_TOPIC, 1, end);
        CHECK_EQ_INT(end[0], 1);
        char err[512];
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL,
                                                "poison-dlq-reader", err, sizeof(err));
        CHECKF(rk, "%s", err);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, DLQ_TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        CHECK(rd_kafka_assign(rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        rd_kafka_message_t *m = NULL;
        for (int i = 0; i < 100 && !m; i++) {
                m = rd_kafka_consumer_poll(rk, 100);
                if (m && m->err) {
                        rd_kafka_message_destroy(m);
                        m = NULL;
                }
        }
        CHECKF(m, "no record read from %s", DLQ_TOPIC);
        CHECK(m->key_len == 5 && !memcmp(m->key, "p0-50", 5));
        const char *value = me_strf(env, "value of %s[0] #%d", TOPIC, POISON_OFFSET);
        CHECK(m->len == strlen(value) && !memcmp(m->payload, value, m->len));
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_message_headers(m, &hdrs);
        CHECK_STR_EQ(header(hdrs, "seam.original.topic"), TOPIC);
        CHECK_STR_EQ(header(hdrs, "seam.original.partition"), "0");
        CHECK_STR_EQ(header(hdrs, "seam.original.offset"), "50");
        CHECK_STR_EQ(header(hdrs, "seam.group"), GROUP);
        CHECK_STR_EQ(header(hdrs, "seam.error.class"), "handler");
        CHECK_CONTAINS(header(hdrs, "seam.error.message"), "poison_offset reached");
        rd_kafka_message_destroy(m);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

int main(void)
{
        env = me_env_new("poison_stops", 1);
        const int64_t counts[PARTITIONS] = {100, 40, 40, 40};
        const int64_t stopped[PARTITIONS] = {POISON_OFFSET, 40, 40, 40};
        me_create_topic(env, TOPIC, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, TOPIC, p, counts[p]);
        /* The DLQ topic exists but has no leader: writes wait, unacknowledged. */
        me_create_topic(env, DLQ_TOPIC, 1);
        CHECK(rd_kafka_mock_partition_set_leader(me_mock(env), DLQ_TOPIC, 0, -1) == 0);

        const char *out = me_path(env, "records");
        struct me_cfg c = {
                .topic = TOPIC, .group = GROUP, .out = out, .retry_backoff_ms = 200,
                .plugin_config = "sleep_ms: 1\npoison_offset: 50",
        };
        struct me_seam *s = me_seam_start(env, me_write_config(env, "cfg.yaml", &c), "seam.log");
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, stopped, 30000);
        me_wait_log(env, s, "poison message (handler)", 5000);

        /* Several commit intervals (200 ms) pass with partition 0 still at
         * the poison message. */
        struct stays_arg a = {{0}, stopped};
        me_expect_not(env, "committed offsets moved while the DLQ was down", moved, &a, 2000);
        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, PARTITIONS, files);
        me_check_all_recorded(&r, stopped);
        CHECKF(me_records_max(&r, 0) == POISON_OFFSET - 1,
               "partition 0 handled up to %lld while the poison message at %d was not yet "
               "dead-lettered",
               (long long)me_records_max(&r, 0), POISON_OFFSET);
        me_records_free(&r);

        /* DLQ back: the record is written and partition 0 finishes. */
        CHECK(rd_kafka_mock_partition_set_leader(me_mock(env), DLQ_TOPIC, 0, 1) == 0);
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, counts, 30000);
        me_records_load(&r, TOPIC, PARTITIONS, files);
        CHECK_EQ_INT(r.lines, 99 + 3 * 40);
        for (int64_t o = 0; o < counts[0]; o++)
                CHECKF(me_records_count(&r, 0, o) == (o == POISON_OFFSET ? 0u : 1u),
                       "partition 0 offset %lld recorded %u times", (long long)o,
                       me_records_count(&r, 0, o));
        me_records_free(&r);
        check_dlq_record();

        CHECK_EQ_INT(me_seam_stop(s, SIGTERM, 20000, NULL), 0);
        me_env_finish(env);
        return 0;
}
