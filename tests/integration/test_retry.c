/* test_retry: the recorder returns RETRY twice for offset 5, then OK. Only
 * partition 0 has an offset 5 (the other partitions hold 5 messages each),
 * so only it waits out the backoff (300 ms, then about 600 ms), paused,
 * while the others finish. Checks: the retried message is handled once,
 * with ATTEMPT 2; partition 0 is handled in strictly increasing offset
 * order (nothing after offset 5 ran before it); every message of the other
 * partitions was recorded before the retried one finished; the group
 * commits the end of every partition. */
#include <signal.h>
#include <stdio.h>

#include "check.h"
#include "mockenv.h"

#define TOPIC "retry"
#define GROUP "retry-group"
#define PARTITIONS 4
#define RETRY_OFFSET 5

int main(void)
{
        struct me_env *env = me_env_new("retry", 1);
        const int64_t counts[PARTITIONS] = {40, 5, 5, 5};
        me_create_topic(env, TOPIC, PARTITIONS);
        for (int p = 0; p < PARTITIONS; p++)
                me_produce(env, TOPIC, p, counts[p]);
        const char *out = me_path(env, "records");
        struct me_cfg c = {
                .topic = TOPIC, .group = GROUP, .out = out, .retry_backoff_ms = 300,
                .plugin_config = "sleep_ms: 1\nretry_offset: 5\nretry_times: 2",
        };
        struct me_seam *s = me_seam_start(env, me_write_config(env, "cfg.yaml", &c), "seam.log");
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, counts, 30000);

        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, PARTITIONS, files);
        me_check_all_recorded(&r, counts);
        CHECK_EQ_INT(r.lines, 55); /* nothing handled twice, RETRY records nothing */

        const struct me_part *p0 = &r.p[0];
        int64_t retried_line = -1;
        for (size_t i = 0; i < p0->nrecs; i++) {
                const struct me_rec *rec = &p0->recs[i];
                /* Ordered within the partition: a message after the retried
                 * one must not run while it waits. */
                if (i > 0)
                        CHECKF(rec->offset > p0->recs[i - 1].offset,
                               "partition 0: offset %lld recorded after %lld",
                               (long long)rec->offset, (long long)p0->recs[i - 1].offset);
                CHECKF(rec->attempt == (rec->offset == RETRY_OFFSET ? 2u : 0u),
                       "partition 0 offset %lld: ATTEMPT %u", (long long)rec->offset,
                       rec->attempt);
                if (rec->offset == RETRY_OFFSET)
                        retried_line = rec->line;
        }
        CHECK(retried_line > 0);
        /* The other partitions were not held up by partition 0's backoff. */
        for (int p = 1; p < PARTITIONS; p++) {
                for (size_t i = 0; i < r.p[p].nrecs; i++) {
                        CHECKF(r.p[p].recs[i].line < retried_line,
                               "partition %d offset %lld recorded (line %lld) after the "
                               "retried message finished (line %lld)",
                               p, (long long)r.p[p].recs[i].offset,
                               (long long)r.p[p].recs[i].line, (long long)retried_line);
                        CHECK_EQ_INT(r.p[p].recs[i].attempt, 0);
                }
        }
        me_records_free(&r);
        CHECK_EQ_INT(me_seam_log_count(s, "handler asked to retry"), 2);

        CHECK_EQ_INT(me_seam_stop(s, SIGTERM, 20000, NULL), 0);
        me_env_finish(env);
        return 0;
}
