/* test_dlq_broker_down: the broker leading the DLQ topic is down for 30 s.
 * The poison messages of three partitions cannot be dead-lettered
 * meanwhile, so no partition is committed past its poison message; once
 * the broker is back every poison record is in the DLQ exactly once and
 * the partitions finish. (Issue 4: "DLQ broker down for 30 s then back".) */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mockenv.h"

#define TOPIC "dbd"
#define DLQ_TOPIC "dbd.dlq"
#define GROUP "dbd-group"
#define PARTITIONS 3
#define POISON_OFFSET 10
#define COUNT 40
#define DOWN_MS 30000

static struct me_env *env;

struct stays_arg {
        int64_t seen[PARTITIONS];
};

static int moved_past_poison(void *arg)
{
        struct stays_arg *a = arg;
        if (me_committed(env, GROUP, TOPIC, PARTITIONS, a->seen) < 0)
                return 0;
        for (int p = 0; p < PARTITIONS; p++)
                if (a->seen[p] > POISON_OFFSET)
                        return 1;
        return 0;
}

int main(void)
{
        env = me_env_new("dlq_broker_down", 2);
        rd_kafka_mock_cluster_t *mock = me_mock(env);
        me_create_topic(env, TOPIC, PARTITIONS);
        me_create_topic(env, DLQ_TOPIC, 1);
        /* Source partitions and the group on broker 1, the DLQ on broker 2. */
        for (int p = 0; p < PARTITIONS; p++)
                CHECK(rd_kafka_mock_partition_set_leader(mock, TOPIC, p, 1) == 0);
        CHECK(rd_kafka_mock_partition_set_leader(mock, DLQ_TOPIC, 0, 2) == 0);
        CHECK(rd_kafka_mock_coordinator_set(mock, "group", GROUP, 1) == 0);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, TOPIC, p, COUNT);

        const char *out = me_path(env, "records");
        struct me_cfg c = {
                .topic = TOPIC, .group = GROUP, .out = out, .retry_backoff_ms = 200,
                .plugin_config = "poison_offset: 10",
        };
        const char *cfg = me_write_config(env, "cfg.yaml", &c);
        CHECK(rd_kafka_mock_broker_set_down(mock, 2) == 0);
        struct me_seam *s = me_seam_start(env, cfg, "seam.log");
        const int64_t stopped[PARTITIONS] = {POISON_OFFSET, POISON_OFFSET, POISON_OFFSET};
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, stopped, 30000);

        /* The rest of the 30 s: nothing is committed past a poison message,
         * nothing after one is handled. */
        struct stays_arg a = {{0}};
        me_expect_not(env, "a partition was committed past its unacknowledged poison message",
                      moved_past_poison, &a, DOWN_MS - 5000);
        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, PARTITIONS, files);
        for (int p = 0; p < PARTITIONS; p++)
                CHECKF(me_records_max(&r, p) == POISON_OFFSET - 1,
                       "partition %d handled up to %lld while its poison message waited", p,
                       (long long)me_records_max(&r, p));
        me_records_free(&r);

        /* Back: each poison record lands once and the partitions finish. */
        CHECK(rd_kafka_mock_broker_set_up(mock, 2) == 0);
        const int64_t end[PARTITIONS] = {COUNT, COUNT, COUNT};
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, end, 60000);
        int64_t dlq_end[1];
        me_high_watermarks(env, DLQ_TOPIC, 1, dlq_end);
        CHECKF(dlq_end[0] == PARTITIONS, "DLQ holds %lld records, expected exactly %d",
               (long long)dlq_end[0], PARTITIONS);
        me_records_load(&r, TOPIC, PARTITIONS, files);
        for (int p = 0; p < PARTITIONS; p++)
                for (int64_t o = 0; o < COUNT; o++)
                        CHECKF(me_records_count(&r, p, o) == (o == POISON_OFFSET ? 0u : 1u),
                               "partition %d offset %lld recorded %u times", p, (long long)o,
                               me_records_count(&r, p, o));
        me_records_free(&r);
        CHECK_EQ_INT(me_seam_stop(s, SIGTERM, 20000, NULL), 0);
        me_env_finish(env);
        return 0;
}
