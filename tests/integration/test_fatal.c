/* test_fatal: the recorder returns FATAL at offset 30, which only partition
 * 0 has (the others hold 20 messages). The instance must stop and, being
 * the only one, seam exits 7 by itself within a bound; nothing at or past
 * the fatal offset is handled or committed on partition 0, and nothing is
 * committed ahead of an unfinished message anywhere. */
#include <stdio.h>

#include "check.h"
#include "clock.h"
#include "mockenv.h"

#define TOPIC "fatal"
#define GROUP "fatal-group"
#define PARTITIONS 4
#define FATAL_OFFSET 30

struct p0_arg {
        const char *out;
        int64_t last;
};

/* Partition 0 reached the message before the fatal one. */
static int reached(void *arg)
{
        struct p0_arg *a = arg;
        struct me_records r;
        const char *files[] = {a->out, NULL};
        me_records_load(&r, TOPIC, PARTITIONS, files);
        int got = me_records_count(&r, 0, a->last) > 0;
        me_records_free(&r);
        return got;
}

int main(void)
{
        struct me_env *env = me_env_new("fatal", 1);
        const int64_t counts[PARTITIONS] = {100, 20, 20, 20};
        me_create_topic(env, TOPIC, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, TOPIC, p, counts[p]);
        const char *out = me_path(env, "records");
        struct me_cfg c = {
                .topic = TOPIC, .group = GROUP, .out = out, .shutdown_timeout_ms = 5000,
                .plugin_config = "sleep_ms: 5\nfatal_offset: 30",
        };
        struct me_seam *s = me_seam_start(env, me_write_config(env, "cfg.yaml", &c), "seam.log");
        me_seam_expect_exit(s);
        struct p0_arg a = {out, FATAL_OFFSET - 1};
        me_wait(env, "partition 0 handled the message before the fatal one", reached, &a, 30000);
        int64_t t0 = seam_mono_ms();
        int code = me_seam_wait(s, 15000);
        fprintf(stderr, "fatal: exit %d %lld ms after offset %d was handled\n", code,
                (long long)(seam_mono_ms() - t0), FATAL_OFFSET - 1);
        CHECKF(code >= 0, "seam still running 15 s after the FATAL message");
        CHECK_EQ_INT(code, 7);
        CHECK(me_seam_log_count(s, "handler returned FATAL") == 1);

        int64_t committed[PARTITIONS];
        me_committed_or_die(env, GROUP, TOPIC, PARTITIONS, committed);
        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, PARTITIONS, files);
        me_check_committed_prefix(&r, committed, "after FATAL");
        CHECKF(committed[0] <= FATAL_OFFSET, "partition 0 committed %lld, past the FATAL "
                                             "message at %d",
               (long long)committed[0], FATAL_OFFSET);
        CHECKF(me_records_max(&r, 0) == FATAL_OFFSET - 1,
               "partition 0 handled up to %lld (FATAL at %d)", (long long)me_records_max(&r, 0),
               FATAL_OFFSET);
        fprintf(stderr, "fatal: partition 0 committed %lld\n", (long long)committed[0]);
        me_records_free(&r);
        me_env_finish(env);
        return 0;
}
