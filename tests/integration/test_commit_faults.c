/* test_commit_faults: OffsetCommit requests fail on the broker while seam
 * consumes: first COORDINATOR_NOT_AVAILABLE and REQUEST_TIMED_OUT (which
 * librdkafka retries or defers itself), then REBALANCE_IN_PROGRESS refusals
 * (which reach seam). seam must log them, keep consuming, and send the
 * commit again later. Checked:
 * seam saw a failed commit, the invariant (nothing committed ahead of an
 * unfinished message) holds while the faults are active, and at the end the
 * group commits the end of every partition. */
#include <signal.h>
#include <stdio.h>

#include "check.h"
#include "mockenv.h"

#define TOPIC "cfault"
#define GROUP "cfault-group"
#define PARTITIONS 4
#define PER_PARTITION 2000
#define API_OFFSET_COMMIT 8 /* RD_KAFKAP_OffsetCommit: not in the public headers */

int main(void)
{
        struct me_env *env = me_env_new("commit_faults", 1);
        me_create_topic(env, TOPIC, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, TOPIC, p, PER_PARTITION);
        int64_t end[PARTITIONS];
        me_high_watermarks(env, TOPIC, PARTITIONS, end);
        const char *out = me_path(env, "records");
        struct me_cfg c = {
                .topic = TOPIC, .group = GROUP, .out = out, .commit_interval_ms = 100,
                .plugin_config = "sleep_ms: 2",
        };
        struct me_seam *s = me_seam_start(env, me_write_config(env, "cfg.yaml", &c), "seam.log");
        const char *files[] = {out, NULL};
        me_wait_lines(env, out, 200, 30000);

        /* First coordinator/timeout errors, which librdkafka mostly absorbs
         * (retries, or defers until the coordinator is back), then refusals
         * it does not retry, which reach seam's commit callback. Queued up
         * front, with seconds of work left to commit. */
        rd_kafka_mock_push_request_errors(
            me_mock(env), API_OFFSET_COMMIT, 12, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
        me_wait_log(env, s, "offset commit failed", 20000);
        /* The invariant while commits fail and after they recover. */
        for (int64_t lines = me_count_lines(out) + 500; lines < PARTITIONS * PER_PARTITION;
             lines += 1000) {
                me_wait_lines(env, out, lines, 30000);
                int64_t committed[PARTITIONS];
                me_committed_or_die(env, GROUP, TOPIC, PARTITIONS, committed);
                struct me_records r;
                me_records_load(&r, TOPIC, PARTITIONS, files);
                me_check_committed_prefix(&r, committed, "commit faults");
                me_records_free(&r);
        }

        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, end, 60000);
        struct me_records r;
        me_records_load(&r, TOPIC, PARTITIONS, files);
        me_check_all_recorded(&r, end);
        me_check_committed_prefix(&r, end, "end");
        fprintf(stderr, "commit faults: %lld duplicates\n", (long long)me_records_duplicates(&r));
        me_records_free(&r);
        CHECK_EQ_INT(me_seam_stop(s, SIGTERM, 20000, NULL), 0);
        me_env_finish(env);
        return 0;
}
