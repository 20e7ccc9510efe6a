/* test_cli_errors: bad command lines and bad configs each get a clear
 * message and their own exit code (README: 2 usage, 3 config, 4 plugin),
 * and a good config passes `seam check-config`. No broker is needed: every
 * case fails (or passes) before anything connects; the bootstrap address
 * is a port where nothing listens. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mockenv.h"
#include "testutil.h"

static struct me_env *env;

/* The consumer block with `extra_consumer` lines (4-space indented, after
 * group_id, so the first extra line is line 11 when `extra_kafka` is NULL)
 * and `extra_kafka` lines in the top-level kafka: block (after
 * bootstrap.servers, so its first line is line 6). */
static const char *write_cfg(const char *file, const char *plugin, const char *extra_kafka,
                             const char *extra_consumer, const char *plugin_config)
{
        const char *y = me_strf(env,
                                "seam:\n"                          /* 1 */
                                "  plugin_path: [%s]\n"            /* 2 */
                                "  shutdown_timeout_ms: 2000\n"    /* 3 */
                                "kafka:\n"                         /* 4 */
                                "  bootstrap.servers: 127.0.0.1:1\n" /* 5 */
                                "%s"
                                "consumers:\n"
                                "  - name: c\n"
                                "    plugin: %s\n"
                                "    topics: [t]\n"
                                "    group_id: g\n"
                                "%s"
                                "    config:\n"
                                "      out: %s\n"
                                "%s",
                                tu_env("SEAM_TEST_PLUGIN_DIR"), extra_kafka ? extra_kafka : "",
                                plugin, extra_consumer ? extra_consumer : "",
                                me_path(env, "records"), plugin_config ? plugin_config : "");
        const char *path = me_path(env, file);
        tu_write_file(path, y);
        return path;
}

/* Line n (1-based) of a file, env-owned; "" if there is none. */
static const char *line_at(const char *path, int n)
{
        char *data = tu_read_file(path, NULL);
        CHECK(data);
        const char *p = data;
        for (int i = 1; i < n && p; i++) {
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        const char *line = p ? me_strf(env, "%.*s", (int)strcspn(p, "\n"), p) : "";
        free(data);
        return line;
}

static void run_without_config(void)
{
        const char *out;
        const char *args[] = {"run", NULL};
        CHECK_EQ_INT(me_seam_run(env, "noconfig.log", &out, args), 2);
        CHECK_CONTAINS(out, "-c FILE is required");
}

static void missing_config_file(void)
{
        const char *out, *path = me_path(env, "does-not-exist.yaml");
        const char *args[] = {"run", "-c", path, NULL};
        CHECK_EQ_INT(me_seam_run(env, "missing.log", &out, args), 3);
        CHECK_CONTAINS(out, path);
}

static void unknown_key(void)
{
        const char *out;
        /* Line 11 of the file: see write_cfg. */
        const char *cfg = write_cfg("unknown.yaml", "recorder", NULL, "    bogus_key: 1\n", NULL);
        CHECK_CONTAINS(line_at(cfg, 11), "bogus_key");
        const char *args[] = {"run", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "unknown.log", &out, args), 3);
        CHECK_CONTAINS(out, me_strf(env, "%s:11:", cfg));
        CHECK_CONTAINS(out, "bogus_key");
        const char *check[] = {"check-config", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "unknown-check.log", &out, check), 3);
        CHECK_CONTAINS(out, me_strf(env, "%s:11:", cfg));
}

static void missing_plugin(void)
{
        const char *out;
        const char *cfg = write_cfg("noplugin.yaml", "/nonexistent/dir/nope.so", NULL, NULL,
                                    NULL);
        const char *args[] = {"run", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "noplugin.log", &out, args), 4);
        CHECK_CONTAINS(out, "/nonexistent/dir/nope.so");
        const char *check[] = {"check-config", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "noplugin-check.log", &out, check), 4);
}

static void plugin_init_fails(void)
{
        const char *out;
        const char *cfg = write_cfg("failinit.yaml", "recorder", NULL, NULL,
                                    "      fail_init: true\n");
        const char *args[] = {"run", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "failinit.log", &out, args), 4);
        CHECK_CONTAINS(out, "init failed");
        CHECK_CONTAINS(out, "fail_init is set"); /* the plugin's own log line */
}

static void bad_kafka_property(void)
{
        const char *out;
        const char *cfg = write_cfg("badprop.yaml", "recorder", "  no.such.property: 1\n", NULL,
                                    NULL);
        const char *args[] = {"run", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "badprop.log", &out, args), 3);
        CHECK_CONTAINS(out, "No such configuration property"); /* librdkafka's text */
        CHECK_CONTAINS(out, "no.such.property");
        CHECK_CONTAINS(out, me_strf(env, "%s:6:", cfg));
}

static void auto_commit_refused(void)
{
        const char *out;
        const char *cfg = write_cfg("autocommit.yaml", "recorder", "  enable.auto.commit: true\n",
                                    NULL, NULL);
        const char *args[] = {"run", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "autocommit.log", &out, args), 3);
        CHECK_CONTAINS(out, "enable.auto.commit");
        const char *check[] = {"check-config", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "autocommit-check.log", &out, check), 3);
}

static void check_config_ok(void)
{
        const char *out;
        const char *cfg = write_cfg("good.yaml", "recorder", NULL, NULL, "      sleep_ms: 1\n");
        const char *args[] = {"check-config", "-c", cfg, NULL};
        CHECK_EQ_INT(me_seam_run(env, "good.log", &out, args), 0);
        CHECK_CONTAINS(out, "OK");
        /* Nothing ran: check-config connects to nothing and inits nothing. */
        CHECK_EQ_INT(me_count_lines(me_path(env, "records")), 0);
}

int main(void)
{
        env = me_env_new("cli_errors", 0);
        TEST_RUN(run_without_config);
        TEST_RUN(missing_config_file);
        TEST_RUN(unknown_key);
        TEST_RUN(missing_plugin);
        TEST_RUN(plugin_init_fails);
        TEST_RUN(bad_kafka_property);
        TEST_RUN(auto_commit_refused);
        TEST_RUN(check_config_ok);
        me_env_finish(env);
        return 0;
}
