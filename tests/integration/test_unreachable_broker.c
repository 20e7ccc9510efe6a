/* test_unreachable_broker: bootstrap 127.0.0.1:1, where nothing listens.
 * seam must keep running and log the connection errors (a broker outage is
 * not a reason to crash or exit), and SIGTERM must still exit 0 within 15 s
 * even though the consumer never reached a coordinator. */
#include <signal.h>
#include <stdio.h>

#include "check.h"
#include "mockenv.h"

int main(void)
{
        struct me_env *env = me_env_new("unreachable_broker", 0);
        struct me_cfg c = {
                .topic = "nowhere", .group = "nowhere-group", .out = me_path(env, "records"),
                .bootstrap = "127.0.0.1:1", .shutdown_timeout_ms = 5000,
        };
        struct me_seam *s = me_seam_start(env, me_write_config(env, "cfg.yaml", &c), "seam.log");
        me_wait_log(env, s, "Connection refused", 20000);
        /* Still up a while later, retrying. */
        me_expect_running_for(env, s, 3000);
        CHECK_EQ_INT(me_count_lines(me_path(env, "records")), 0);

        int64_t took;
        int code = me_seam_stop(s, SIGTERM, 15000, &took);
        fprintf(stderr, "unreachable: SIGTERM -> exit %d in %lld ms\n", code, (long long)took);
        CHECK_EQ_INT(code, 0);
        me_env_finish(env);
        return 0;
}
