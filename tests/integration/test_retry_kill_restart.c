/* test_retry_kill_restart: a message the plugin always RETRYs; the process
 * is SIGKILLed during the backoff after its 3rd attempt and restarted. The
 * attempt count lives in the partition's commit metadata, so the new
 * process goes on with attempt 4 (not 1), dead-letters the message after
 * attempt 6 (retry_max_attempts) and finishes the partition: a message
 * cannot retry forever by crashing the process. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mockenv.h"
#include "testutil.h"

#define TOPIC "rkr"
#define DLQ_TOPIC "rkr.dlq"
#define GROUP "rkr-group"
#define COUNT 20

static struct me_env *env;

static const char *config(const char *out)
{
        const char *path = me_path(env, "cfg.yaml");
        tu_write_file(path, me_strf(env,
                                    "seam:\n"
                                    "  plugin_path: [\"%s\"]\n"
                                    "  shutdown_timeout_ms: 5000\n"
                                    "  log_format: logfmt\n"
                                    "kafka:\n"
                                    "  bootstrap.servers: \"%s\"\n"
                                    "  session.timeout.ms: 6000\n"
                                    "  auto.offset.reset: earliest\n"
                                    "consumers:\n"
                                    "  - name: c\n"
                                    "    plugin: recorder\n"
                                    "    topics: [%s]\n"
                                    "    group_id: %s\n"
                                    "    commit_interval_ms: 200\n"
                                    "    retry_backoff_ms: 800\n"
                                    "    retry_multiplier: 1\n"
                                    "    retry_jitter: 0\n"
                                    "    retry_max_attempts: 6\n"
                                    "    config: {out: \"%s\", retry_offset: 5, retry_times: 1000}\n",
                                    tu_env("SEAM_TEST_PLUGIN_DIR"), me_bootstrap(env), TOPIC,
                                    GROUP, out));
        return path;
}

int main(void)
{
        env = me_env_new("retry_kill_restart", 1);
        me_create_topic(env, TOPIC, 1);
        me_create_topic(env, DLQ_TOPIC, 1);
        me_produce(env, TOPIC, 0, COUNT);
        const char *out = me_path(env, "records");
        const char *cfg = config(out);

        struct me_seam *a = me_seam_start(env, cfg, "seam-a.log");
        me_wait_log(env, a, "attempt 3 of 6", 30000);
        me_seam_expect_exit(a);
        me_seam_signal(a, SIGKILL); /* in the 800 ms backoff after attempt 3 */
        me_seam_wait(a, 10000);
        CHECK(me_seam_log_count(a, "attempt 4 of 6") == 0);

        struct me_seam *b = me_seam_start(env, cfg, "seam-b.log");
        const int64_t end[1] = {COUNT};
        me_wait_committed(env, GROUP, TOPIC, 1, end, 60000);
        CHECKF(me_seam_log_count(b, "attempt 1 of 6") == 0 &&
                   me_seam_log_count(b, "attempt 2 of 6") == 0 &&
                   me_seam_log_count(b, "attempt 3 of 6") == 0,
               "the restarted process counted the attempts from the beginning");
        CHECK(me_seam_log_count(b, "attempt 4 of 6") == 1);
        CHECK(me_seam_log_count(b, "attempt 5 of 6") == 1);
        CHECK(me_seam_log_count(b, "gave up after 6 attempts") == 1);
        int64_t dlq_end[1];
        me_high_watermarks(env, DLQ_TOPIC, 1, dlq_end);
        CHECK_EQ_INT(dlq_end[0], 1);

        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, 1, files);
        for (int64_t o = 0; o < COUNT; o++)
                CHECKF(me_records_count(&r, 0, o) >= (o == 5 ? 0u : 1u) &&
                           (o != 5 || me_records_count(&r, 0, o) == 0),
                       "offset %lld recorded %u times", (long long)o, me_records_count(&r, 0, o));
        me_records_free(&r);
        CHECK_EQ_INT(me_seam_stop(b, SIGTERM, 20000, NULL), 0);
        me_env_finish(env);
        return 0;
}
