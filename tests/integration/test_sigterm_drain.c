/* test_sigterm_drain: SIGTERM while handlers run.
 *
 * drain_finishes_in_flight: slow handlers (200 ms) on 4 partitions; SIGTERM
 * arrives while each partition has a handler running. seam must let those
 * finish, not start the queued ones, commit exactly what was handled
 * (committed == highest recorded + 1, no gap below it) and exit 0 well
 * within shutdown_timeout_ms.
 *
 * drain_timeout: handlers slower (5 s) than shutdown_timeout_ms (1 s):
 * seam must give up on them, exit 6 within the bound, and commit nothing
 * past the stuck message of any partition. */
#include <signal.h>
#include <stdio.h>

#include "check.h"
#include "mockenv.h"

#define PARTITIONS 4

static struct me_env *env;

static void drain_finishes_in_flight(void)
{
        const char *topic = "drain", *group = "drain-group";
        const int per_partition = 40;
        const int64_t shutdown_ms = 10000;
        me_create_topic(env, topic, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, topic, p, per_partition);
        const char *out = me_path(env, "drain.records");
        struct me_cfg c = {
                .topic = topic, .group = group, .out = out,
                .shutdown_timeout_ms = shutdown_ms,
                .plugin_config = "sleep_ms: 200",
        };
        const char *cfg = me_write_config(env, "drain.yaml", &c);
        struct me_seam *s = me_seam_start(env, cfg, "drain.log");

        /* Two rounds of handlers done: every partition is busy now. */
        me_wait_lines(env, out, 2 * PARTITIONS, 30000);
        struct me_records before;
        const char *files[] = {out, NULL};
        me_records_load(&before, topic, PARTITIONS, files);

        int64_t took;
        int code = me_seam_stop(s, SIGTERM, shutdown_ms + 5000, &took);
        fprintf(stderr, "drain: SIGTERM -> exit %d in %lld ms (shutdown_timeout_ms %lld)\n",
                code, (long long)took, (long long)shutdown_ms);
        CHECK_EQ_INT(code, 0);
        CHECKF(took < shutdown_ms, "drain took %lld ms: it waited for more than the running "
                                   "handlers", (long long)took);

        int64_t committed[PARTITIONS];
        me_committed_or_die(env, group, topic, PARTITIONS, committed);
        struct me_records after;
        me_records_load(&after, topic, PARTITIONS, files);
        CHECKF(after.lines < PARTITIONS * per_partition,
               "all %lld messages were handled: the drain did not stop fetching",
               (long long)after.lines);
        me_check_committed_prefix(&after, committed, "drain");
        for (int p = 0; p < PARTITIONS; p++) {
                int64_t max_before = me_records_max(&before, p);
                int64_t max_after = me_records_max(&after, p);
                /* The handler running at SIGTERM was allowed to finish... */
                CHECKF(max_after > max_before,
                       "partition %d: in-flight message (after %lld) not finished by the drain",
                       p, (long long)max_before);
                /* ...and what was handled was committed, nothing more. */
                CHECKF(committed[p] == max_after + 1,
                       "partition %d: committed %lld, highest handled %lld", p,
                       (long long)committed[p], (long long)max_after);
        }
        me_records_free(&before);
        me_records_free(&after);
}

static void drain_timeout(void)
{
        const char *topic = "stuck", *group = "stuck-group";
        const int64_t shutdown_ms = 1000;
        me_create_topic(env, topic, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, topic, p, 3);
        const char *out = me_path(env, "stuck.records");
        struct me_cfg c = {
                .topic = topic, .group = group, .out = out,
                .shutdown_timeout_ms = shutdown_ms,
                .plugin_config = "sleep_ms: 5000",
        };
        const char *cfg = me_write_config(env, "stuck.yaml", &c);
        struct me_seam *s = me_seam_start(env, cfg, "stuck.log");

        /* The first message of a partition is done: its second one has just
         * started and needs ~5 s more. */
        me_wait_lines(env, out, 1, 30000);
        int64_t took;
        int code = me_seam_stop(s, SIGTERM, shutdown_ms + 20000, &took);
        fprintf(stderr, "stuck: SIGTERM -> exit %d in %lld ms (shutdown_timeout_ms %lld)\n",
                code, (long long)took, (long long)shutdown_ms);
        CHECK_EQ_INT(code, 6);
        CHECKF(took <= shutdown_ms + 4000, "drain timeout took %lld ms", (long long)took);
        CHECK(me_seam_log_count(s, "handler still running at the drain deadline") > 0);

        int64_t committed[PARTITIONS];
        me_committed_or_die(env, group, topic, PARTITIONS, committed);
        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, topic, PARTITIONS, files);
        me_check_committed_prefix(&r, committed, "drain timeout");
        for (int p = 0; p < PARTITIONS; p++) {
                int64_t max = me_records_max(&r, p);
                CHECKF(committed[p] <= max + 1,
                       "partition %d: committed %lld past the stuck message %lld", p,
                       (long long)committed[p], (long long)(max + 1));
                fprintf(stderr, "stuck: partition %d: handled up to %lld, committed %lld\n", p,
                        (long long)max, (long long)committed[p]);
        }
        me_records_free(&r);
}

int main(void)
{
        env = me_env_new("sigterm_drain", 1);
        TEST_RUN(drain_finishes_in_flight);
        TEST_RUN(drain_timeout);
        me_env_finish(env);
        return 0;
}
