/* test_loader.c - the plugin loader refuses bad plugins with a message
 * naming the file and the reason, and checks plugin config blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "loader.h"
#include "plugin_config.h"
#include "testutil.h"

static char dir[1024];

static char *fixture(const char *name)
{
        static char path[1200];
        snprintf(path, sizeof(path), "%s/%s.so", dir, name);
        return path;
}

static void expect_refused(const char *name, const char *reason)
{
        struct seam_plugin_set *set = seam_plugin_set_new();
        const struct seam_loaded_plugin *lp = NULL;
        char err[1024] = "";
        int rc = seam_plugin_set_load(set, fixture(name), NULL, 0, &lp, err, sizeof(err));
        CHECKF(rc == SEAM_ERR_PLUGIN, "%s: rc %d", name, rc);
        CHECK_CONTAINS(err, name); /* names the file */
        CHECK_CONTAINS(err, reason);
        seam_plugin_set_destroy(set);
}

static void test_refusals(void)
{
        expect_refused("fixture_bad_abi", "built for plugin ABI 99.0");
        expect_refused("fixture_no_entry", "does not export the symbol seam_plugin_entry");
        expect_refused("fixture_null_entry", "returned NULL");
        expect_refused("fixture_no_handle", "missing handle callback");
        expect_refused("fixture_small_struct", "smaller than");
        expect_refused("no_such_plugin_file", "not found");
}

static void test_lookup_by_name_and_duplicates(void)
{
        struct seam_plugin_set *set = seam_plugin_set_new();
        const struct seam_loaded_plugin *a, *b, *c;
        char err[1024];
        char *dirs[] = {dir};
        CHECK_EQ_INT(seam_plugin_set_load(set, "recorder", dirs, 1, &a, err, sizeof(err)), 0);
        CHECK_STR_EQ(a->def->name, "recorder");
        /* The same file again is the same plugin, not a duplicate. */
        CHECK_EQ_INT(seam_plugin_set_load(set, fixture("recorder"), NULL, 0, &b, err, sizeof(err)), 0);
        CHECK(a == b);
        /* Another file registering the same name is refused. */
        CHECK_EQ_INT(seam_plugin_set_load(set, "fixture_dup_recorder", dirs, 1, &c, err, sizeof(err)),
                     SEAM_ERR_PLUGIN);
        CHECK_CONTAINS(err, "duplicate plugin name 'recorder'");
        CHECK_CONTAINS(err, "fixture_dup_recorder.so");
        CHECK_CONTAINS(err, "recorder.so");
        /* Unknown names say where they were looked for. */
        CHECK_EQ_INT(seam_plugin_set_load(set, "nope", dirs, 1, &c, err, sizeof(err)), SEAM_ERR_PLUGIN);
        CHECK_CONTAINS(err, "no nope.so on the plugin path");
        /* A newer minor of the same major loads. */
        CHECK_EQ_INT(seam_plugin_set_load(set, "fixture_newer_minor", dirs, 1, &c, err, sizeof(err)), 0);
        CHECK_STR_EQ(c->def->version, "9");
        seam_plugin_set_destroy(set);
}

static void test_env_plugin_path(void)
{
        struct seam_plugin_set *set = seam_plugin_set_new();
        const struct seam_loaded_plugin *a;
        char err[1024], env[1200];
        snprintf(env, sizeof(env), "/nonexistent:%s", dir);
        setenv("SEAM_PLUGIN_PATH", env, 1);
        CHECK_EQ_INT(seam_plugin_set_load(set, "recorder", NULL, 0, &a, err, sizeof(err)), 0);
        unsetenv("SEAM_PLUGIN_PATH");
        seam_plugin_set_destroy(set);
}

static void test_plugin_config(void)
{
        struct seam_plugin_set *set = seam_plugin_set_new();
        const struct seam_loaded_plugin *lp;
        char err[1024];
        char *dirs[] = {dir};
        CHECK_EQ_INT(seam_plugin_set_load(set, "recorder", dirs, 1, &lp, err, sizeof(err)), 0);

        struct seam_kv good_items[] = {{"out", "/tmp/x", 7}, {"sleep_ms", "5", 8}};
        struct seam_kv_list good = {good_items, 2};
        struct seam_plugin_config pc;
        CHECK_EQ_INT(seam_plugin_config_build(lp->def, &good, "f.yaml", "consumers[0].config", 6,
                                              &pc, err, sizeof(err)), 0);
        const struct seam_plugin_config_value *v = seam_plugin_config_get(&pc, "sleep_ms", SEAM_CONFIG_INT);
        CHECK(v && v->i == 5);
        v = seam_plugin_config_get(&pc, "retry_times", SEAM_CONFIG_INT);
        CHECK(v && v->i == 2); /* default applied */
        CHECK(!seam_plugin_config_get(&pc, "out", SEAM_CONFIG_INT)); /* wrong type */
        seam_plugin_config_free(&pc);

        struct seam_kv unknown_items[] = {{"out", "/tmp/x", 7}, {"colour", "red", 9}};
        struct seam_kv_list unknown = {unknown_items, 2};
        CHECK_EQ_INT(seam_plugin_config_build(lp->def, &unknown, "f.yaml", "consumers[0].config", 6,
                                              &pc, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "f.yaml:9: consumers[0].config.colour: unknown key for plugin 'recorder'");
        CHECK_CONTAINS(err, "valid keys: out, sleep_ms");

        struct seam_kv bad_items[] = {{"out", "/tmp/x", 7}, {"sleep_ms", "soon", 8}};
        struct seam_kv_list bad = {bad_items, 2};
        CHECK_EQ_INT(seam_plugin_config_build(lp->def, &bad, "f.yaml", "consumers[0].config", 6,
                                              &pc, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "f.yaml:8: consumers[0].config.sleep_ms: expected an integer, got \"soon\"");

        struct seam_kv_list empty = {NULL, 0};
        CHECK_EQ_INT(seam_plugin_config_build(lp->def, &empty, "f.yaml", "consumers[0].config", 6,
                                              &pc, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "f.yaml:6: consumers[0].config.out: required by plugin 'recorder'");

        struct seam_kv badbool_items[] = {{"out", "/tmp/x", 7}, {"fail_init", "yes", 8}};
        struct seam_kv_list badbool = {badbool_items, 2};
        CHECK_EQ_INT(seam_plugin_config_build(lp->def, &badbool, "f.yaml", "consumers[0].config", 6,
                                              &pc, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "expected true or false");
        seam_plugin_set_destroy(set);
}

int main(void)
{
        snprintf(dir, sizeof(dir), "%s", tu_env("SEAM_TEST_PLUGIN_DIR"));
        TEST_RUN(test_refusals);
        TEST_RUN(test_lookup_by_name_and_duplicates);
        TEST_RUN(test_env_plugin_path);
        TEST_RUN(test_plugin_config);
        return 0;
}
