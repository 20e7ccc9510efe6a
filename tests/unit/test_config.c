/* test_config.c - the YAML config: a full valid file, defaults, ${ENV}
 * substitution, the kafka merge, plugin config flattening, and one bad
 * config per validation rule, each checked for the file name, the line and
 * the key path in its message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "err.h"
#include "testutil.h"

#define NAME "seam.yaml"

static const struct seam_kv *kv_at(const struct seam_kv_list *l, size_t i)
{
        CHECK(i < l->count);
        return &l->items[i];
}

static void check_kv(const struct seam_kv_list *l, const char *key,
                     const char *value, int line)
{
        const struct seam_kv *kv = seam_kv_find(l, key);

        CHECKF(kv != NULL, "key %s missing", key);
        CHECK_STR_EQ(kv->value, value);
        CHECK_EQ_INT(kv->line, line);
}

static struct seam_config *parse_ok(const char *yaml)
{
        struct seam_config *cfg = NULL;
        char err[1024];
        int rc = seam_config_parse(yaml, strlen(yaml), NAME, &cfg, err,
                                   sizeof(err));

        CHECKF(rc == 0, "rc %d: %s", rc, err);
        CHECK(cfg != NULL);
        return cfg;
}

/* Line numbers below count from the first line of the string. */
static const char full_yaml[] =
    "seam:\n"                                              /* 1 */
    "  plugin_path: [/opt/seam/plugins, \"${SEAM_TEST_PLUGDIR}\"]\n"
    "  embedded_broker: true\n"
    "  embedded_broker_count: 3\n"
    "  embedded_topics:\n"                                 /* 5 */
    "    - {name: orders, partitions: 4}\n"
    "    - name: payments\n"
    "  shutdown_timeout_ms: 45000\n"
    "  log_format: logfmt\n"
    "  log_level: debug\n"                                 /* 10 */
    "kafka:\n"
    "  bootstrap.servers: ${SEAM_TEST_BOOTSTRAP}\n"
    "  client.id: seam-process\n"
    "  security.protocol: ${SEAM_TEST_UNSET_PROTO:-plaintext}\n"
    "consumers:\n"                                         /* 15 */
    "  - name: audit\n"
    "    plugin: audit_log\n"
    "    topics: [orders, payments]\n"
    "    group_id: audit-v2\n"
    "    workers: ${SEAM_TEST_WORKERS}\n"                  /* 20 */
    "    commit_interval_ms: 500\n"
    "    retry_backoff_ms: 200\n"
    "    retry_backoff_max_ms: 60000\n"
    "    max_buffered_per_partition: 5000\n"
    "    kafka:\n"                                         /* 25 */
    "      client.id: seam-audit\n"
    "      session.timeout.ms: 45000\n"
    "      enable.partition.eof: true\n"
    "      sasl.password: \"${SEAM_TEST_SECRET}\"\n"
    "    config:\n"                                        /* 30 */
    "      table: audit_events\n"
    "      price: \"$$5 and $lone\"\n"
    "      db:\n"
    "        host: ${SEAM_TEST_DB_HOST:-localhost}\n"
    "        port: 5432\n"                                 /* 35 */
    "        opts: {ssl: true, mode: verify-full}\n"
    "      empty: \"\"\n"
    "  - name: min.imal-1_\n"
    "    plugin: ./build/plugins/minimal.so\n"
    "    topics:\n"                                        /* 40 */
    "      - \"^orders-.*\"\n";

static void test_full_config(void)
{
        struct seam_config *cfg;
        const struct seam_consumer_config *a, *m;

        setenv("SEAM_TEST_PLUGDIR", "/srv/plugins", 1);
        setenv("SEAM_TEST_BOOTSTRAP", "broker-1:9092,broker-2:9092", 1);
        unsetenv("SEAM_TEST_UNSET_PROTO");
        unsetenv("SEAM_TEST_DB_HOST");
        setenv("SEAM_TEST_WORKERS", "8", 1);
        /* YAML syntax inside a secret must stay text. */
        setenv("SEAM_TEST_SECRET", "p: [a, {b}] # not a comment\n- x", 1);

        cfg = parse_ok(full_yaml);
        CHECK_STR_EQ(cfg->path, NAME);
        CHECK_EQ_INT(cfg->plugin_path_count, 2);
        CHECK_STR_EQ(cfg->plugin_path[0], "/opt/seam/plugins");
        CHECK_STR_EQ(cfg->plugin_path[1], "/srv/plugins");
        CHECK_EQ_INT(cfg->embedded_broker, 1);
        CHECK_EQ_INT(cfg->embedded_broker_count, 3);
        CHECK_EQ_INT(cfg->embedded_topic_count, 2);
        CHECK_STR_EQ(cfg->embedded_topics[0].name, "orders");
        CHECK_EQ_INT(cfg->embedded_topics[0].partitions, 4);
        CHECK_STR_EQ(cfg->embedded_topics[1].name, "payments");
        CHECK_EQ_INT(cfg->embedded_topics[1].partitions, 1);
        CHECK_EQ_INT(cfg->shutdown_timeout_ms, 45000);
        CHECK_STR_EQ(cfg->log_format, "logfmt");
        CHECK_STR_EQ(cfg->log_level, "debug");

        /* The process-level list as written. */
        CHECK_EQ_INT(cfg->kafka.count, 3);
        check_kv(&cfg->kafka, "bootstrap.servers",
                 "broker-1:9092,broker-2:9092", 12);
        check_kv(&cfg->kafka, "client.id", "seam-process", 13);
        check_kv(&cfg->kafka, "security.protocol", "plaintext", 14);

        CHECK_EQ_INT(cfg->consumer_count, 2);
        a = &cfg->consumers[0];
        CHECK_STR_EQ(a->name, "audit");
        CHECK_STR_EQ(a->plugin, "audit_log");
        CHECK_EQ_INT(a->topic_count, 2);
        CHECK_STR_EQ(a->topics[0], "orders");
        CHECK_STR_EQ(a->topics[1], "payments");
        CHECK_STR_EQ(a->group_id, "audit-v2");
        CHECK_EQ_INT(a->workers, 8);
        CHECK_EQ_INT(a->commit_interval_ms, 500);
        CHECK_EQ_INT(a->retry_backoff_ms, 200);
        CHECK_EQ_INT(a->retry_backoff_max_ms, 60000);
        CHECK_EQ_INT(a->max_buffered_per_partition, 5000);
        CHECK_EQ_INT(a->line, 16);

        /* Merge: process keys first in their order, the consumer's value
         * (and line) wins, then the consumer-only keys; one entry per key. */
        CHECK_EQ_INT(a->kafka.count, 6);
        CHECK_STR_EQ(kv_at(&a->kafka, 0)->key, "bootstrap.servers");
        CHECK_STR_EQ(kv_at(&a->kafka, 1)->key, "client.id");
        CHECK_STR_EQ(kv_at(&a->kafka, 1)->value, "seam-audit");
        CHECK_EQ_INT(kv_at(&a->kafka, 1)->line, 26);
        CHECK_STR_EQ(kv_at(&a->kafka, 2)->key, "security.protocol");
        CHECK_STR_EQ(kv_at(&a->kafka, 3)->key, "session.timeout.ms");
        check_kv(&a->kafka, "session.timeout.ms", "45000", 27);
        check_kv(&a->kafka, "enable.partition.eof", "true", 28);
        check_kv(&a->kafka, "sasl.password", "p: [a, {b}] # not a comment\n- x",
                 29);

        /* Flattened plugin config, scalars as text. */
        CHECK_EQ_INT(a->plugin_config.count, 7);
        check_kv(&a->plugin_config, "table", "audit_events", 31);
        check_kv(&a->plugin_config, "price", "$5 and $lone", 32);
        check_kv(&a->plugin_config, "db.host", "localhost", 34);
        check_kv(&a->plugin_config, "db.port", "5432", 35);
        check_kv(&a->plugin_config, "db.opts.ssl", "true", 36);
        check_kv(&a->plugin_config, "db.opts.mode", "verify-full", 36);
        check_kv(&a->plugin_config, "empty", "", 37);
        CHECK(seam_kv_find(&a->plugin_config, "db") == NULL);
        CHECK(seam_kv_find(&a->plugin_config, "db.opts") == NULL);

        /* The second consumer takes every default. */
        m = &cfg->consumers[1];
        CHECK_STR_EQ(m->name, "min.imal-1_");
        CHECK_STR_EQ(m->plugin, "./build/plugins/minimal.so");
        CHECK_EQ_INT(m->topic_count, 1);
        CHECK_STR_EQ(m->topics[0], "^orders-.*");
        CHECK_STR_EQ(m->group_id, "min.imal-1_");
        CHECK_EQ_INT(m->workers, 4);
        CHECK_EQ_INT(m->commit_interval_ms, 1000);
        CHECK_EQ_INT(m->retry_backoff_ms, 1000);
        CHECK_EQ_INT(m->retry_backoff_max_ms, 30000);
        CHECK_EQ_INT(m->max_buffered_per_partition, 20000);
        CHECK_EQ_INT(m->plugin_config.count, 0);
        CHECK_EQ_INT(m->line, 38);
        CHECK_EQ_INT(m->kafka.count, 3);
        check_kv(&m->kafka, "client.id", "seam-process", 13);

        seam_config_destroy(cfg);
}

static void test_defaults(void)
{
        struct seam_config *cfg = parse_ok("consumers:\n"
                                           "  - name: c\n"
                                           "    plugin: p\n"
                                           "    topics: [t]\n");

        CHECK_EQ_INT(cfg->plugin_path_count, 0);
        CHECK(cfg->plugin_path == NULL);
        CHECK_EQ_INT(cfg->embedded_broker, 0);
        CHECK_EQ_INT(cfg->embedded_broker_count, 1);
        CHECK_EQ_INT(cfg->embedded_topic_count, 0);
        CHECK_EQ_INT(cfg->shutdown_timeout_ms, 30000);
        CHECK_STR_EQ(cfg->log_format, "json");
        CHECK_STR_EQ(cfg->log_level, "info");
        CHECK_EQ_INT(cfg->kafka.count, 0);
        CHECK_EQ_INT(cfg->consumers[0].kafka.count, 0);
        CHECK_STR_EQ(cfg->consumers[0].group_id, "c");
        seam_config_destroy(cfg);

        /* Empty `seam:` / `kafka:` / `config:` mean empty maps. */
        cfg = parse_ok("seam:\nkafka:\nconsumers:\n"
                       "  - {name: c, plugin: p, topics: [t], config: }\n");
        CHECK_STR_EQ(cfg->log_level, "info");
        CHECK_EQ_INT(cfg->consumers[0].plugin_config.count, 0);
        seam_config_destroy(cfg);

        seam_config_destroy(NULL);
        CHECK(seam_kv_find(NULL, "x") == NULL);
}

static void test_expand_env(void)
{
        /* Through pointers: check.h's NULL tests warn on arrays. */
        char errbuf[256], *err = errbuf, *s;

        setenv("SEAM_TEST_A", "alpha", 1);
        setenv("SEAM_TEST_EMPTY", "", 1);
        unsetenv("SEAM_TEST_NOPE");

        s = seam_config_expand_env("x${SEAM_TEST_A}y$${SEAM_TEST_A}$", err,
                                   sizeof(errbuf));
        CHECK_STR_EQ(s, "xalphay${SEAM_TEST_A}$");
        free(s);
        s = seam_config_expand_env("${SEAM_TEST_NOPE:-d e f}|${SEAM_TEST_EMPTY:-dflt}|${SEAM_TEST_EMPTY}|${SEAM_TEST_NOPE:-}",
                                   err, sizeof(errbuf));
        CHECK_STR_EQ(s, "d e f|dflt||");
        free(s);
        s = seam_config_expand_env("", err, sizeof(errbuf));
        CHECK_STR_EQ(s, "");
        free(s);

        CHECK(seam_config_expand_env("a${SEAM_TEST_NOPE}", err, sizeof(errbuf)) ==
              NULL);
        CHECK_CONTAINS(err, "SEAM_TEST_NOPE");
        CHECK_CONTAINS(err, "not set");
        CHECK(seam_config_expand_env("a${SEAM_TEST_A", err, sizeof(errbuf)) ==
              NULL);
        CHECK_CONTAINS(err, "expected '}'");
        CHECK(seam_config_expand_env("${1BAD}", err, sizeof(errbuf)) == NULL);
        CHECK_CONTAINS(err, "\"1BAD\"");
        CHECK(seam_config_expand_env("${}", err, sizeof(errbuf)) == NULL);
        CHECK_CONTAINS(err, "variable name");
}

struct bad_case {
        const char *what;
        const char *yaml;
        int line;
        const char *path; /* NULL: a message about the whole file */
        const char *fragment;
};

/* A valid consumer entry to build bad configs around. */
#define GOOD_CONSUMER                                                          \
        "consumers:\n"                                                         \
        "  - name: c\n"                                                        \
        "    plugin: p\n"                                                      \
        "    topics: [t]\n"

static const struct bad_case bad_cases[] = {
        {"unknown top-level key", GOOD_CONSUMER "consumer: x\n", 5,
         "consumer", "expected one of the keys seam, kafka, consumers, got an "
                     "unknown key"},
        {"unknown consumer key",
         "consumers:\n  - name: c\n    plugin: p\n    topics: [t]\n"
         "    wrokers: 3\n",
         5, "consumers[0].wrokers",
         /* The list grows with every issue; its start and end are stable. */
         "kafka, config, got an unknown key \"wrokers\""},
        {"unknown seam key", "seam:\n  log_levle: debug\n" GOOD_CONSUMER, 2,
         "seam.log_levle", "log_format, log_level"},
        {"workers not an integer",
         "consumers:\n  - name: a\n    plugin: p\n    topics: [t]\n"
         "  - name: b\n    plugin: p\n    topics: [t]\n    workers: many\n",
         8, "consumers[1].workers",
         "consumers[1].workers: expected an integer between 1 and 256, got "
         "\"many\""},
        {"workers 0", GOOD_CONSUMER "    workers: 0\n", 5,
         "consumers[0].workers", "between 1 and 256, got \"0\""},
        {"workers 257", GOOD_CONSUMER "    workers: 257\n", 5,
         "consumers[0].workers", "got \"257\""},
        {"workers a map", GOOD_CONSUMER "    workers: {n: 1}\n", 5,
         "consumers[0].workers", "got a map"},
        {"commit interval 0", GOOD_CONSUMER "    commit_interval_ms: 0\n", 5,
         "consumers[0].commit_interval_ms", "between 1 and 2147483647"},
        {"retry backoff negative", GOOD_CONSUMER "    retry_backoff_ms: -5\n",
         5, "consumers[0].retry_backoff_ms", "got \"-5\""},
        {"backoff max below backoff",
         GOOD_CONSUMER "    retry_backoff_ms: 5000\n"
                       "    retry_backoff_max_ms: 100\n",
         6, "consumers[0].retry_backoff_max_ms",
         "expected at least retry_backoff_ms (5000), got 100"},
        {"backoff above default max", GOOD_CONSUMER
         "    retry_backoff_ms: 60000\n",
         5, "consumers[0].retry_backoff_ms",
         "expected at most retry_backoff_max_ms (30000)"},
        {"buffered 0", GOOD_CONSUMER "    max_buffered_per_partition: 0\n", 5,
         "consumers[0].max_buffered_per_partition", "got \"0\""},
        {"bool yes", "seam:\n  embedded_broker: yes\n" GOOD_CONSUMER, 2,
         "seam.embedded_broker", "expected true or false, got \"yes\""},
        {"shutdown timeout low", "seam:\n  shutdown_timeout_ms: 999\n"
         GOOD_CONSUMER, 2, "seam.shutdown_timeout_ms",
         "between 1000 and 600000"},
        {"shutdown timeout high", "seam:\n  shutdown_timeout_ms: 600001\n"
         GOOD_CONSUMER, 2, "seam.shutdown_timeout_ms", "got \"600001\""},
        {"broker count 9", "seam:\n  embedded_broker_count: 9\n" GOOD_CONSUMER,
         2, "seam.embedded_broker_count", "between 1 and 8, got \"9\""},
        {"partitions 0",
         "seam:\n  embedded_topics:\n    - name: x\n      partitions: 0\n"
         GOOD_CONSUMER,
         4, "seam.embedded_topics[0].partitions", "between 1 and 1000"},
        {"topic spec without name",
         "seam:\n  embedded_topics:\n    - {partitions: 2}\n" GOOD_CONSUMER, 3,
         "seam.embedded_topics[0].name", "got no such key"},
        {"topic spec a string",
         "seam:\n  embedded_topics: [orders]\n" GOOD_CONSUMER, 2,
         "seam.embedded_topics[0]",
         "expected a map with the keys name, partitions, got \"orders\""},
        {"duplicate embedded topic",
         "seam:\n  embedded_topics:\n    - name: x\n    - name: x\n"
         GOOD_CONSUMER,
         4, "seam.embedded_topics[1].name", "also used at line 3"},
        {"log format", "seam:\n  log_format: xml\n" GOOD_CONSUMER, 2,
         "seam.log_format", "expected one of json, logfmt, got \"xml\""},
        {"log level", "seam:\n  log_level: verbose\n" GOOD_CONSUMER, 2,
         "seam.log_level",
         "expected one of debug, info, warn, error, got \"verbose\""},
        {"plugin_path a string", "seam:\n  plugin_path: /opt\n" GOOD_CONSUMER,
         2, "seam.plugin_path", "expected a list of strings, got \"/opt\""},
        {"plugin_path item a map",
         "seam:\n  plugin_path:\n    - {a: b}\n" GOOD_CONSUMER, 3,
         "seam.plugin_path[0]", "expected a non-empty string, got a map"},
        {"seam a list", "seam: [1]\n" GOOD_CONSUMER, 1, "seam",
         "expected a map with the keys plugin_path"},
        {"topics a string",
         "consumers:\n  - name: c\n    plugin: p\n    topics: orders\n", 4,
         "consumers[0].topics",
         "expected a non-empty list of strings, got \"orders\""},
        {"topics empty",
         "consumers:\n  - name: c\n    plugin: p\n    topics: []\n", 4,
         "consumers[0].topics", "got an empty list"},
        {"topic empty string",
         "consumers:\n  - name: c\n    plugin: p\n    topics: [a, \"\"]\n", 4,
         "consumers[0].topics[1]", "got an empty value"},
        {"missing plugin", "consumers:\n  - name: c\n    topics: [t]\n", 2,
         "consumers[0].plugin", "got no such key"},
        {"missing name", "consumers:\n  - plugin: p\n    topics: [t]\n", 2,
         "consumers[0].name", "got no such key"},
        {"missing topics", "consumers:\n  - name: c\n    plugin: p\n", 2,
         "consumers[0].topics", "got no such key"},
        {"empty plugin", "consumers:\n  - name: c\n    plugin: \"\"\n"
         "    topics: [t]\n", 3, "consumers[0].plugin",
         "expected a non-empty string, got an empty value"},
        {"empty group_id", GOOD_CONSUMER "    group_id:\n", 5,
         "consumers[0].group_id", "got an empty value"},
        {"consumers empty", "consumers: []\n", 1, "consumers",
         "expected a non-empty list of maps"},
        {"consumers missing", "seam:\n  log_level: info\n", 1, "consumers",
         "got no such key"},
        {"consumer a string", "consumers:\n  - audit\n", 2, "consumers[0]",
         "got \"audit\""},
        {"bad name", "consumers:\n  - name: a b\n    plugin: p\n"
         "    topics: [t]\n", 2, "consumers[0].name",
         "expected a name of letters, digits, '_', '.' and '-', got \"a b\""},
        {"duplicate names",
         "consumers:\n  - name: dup\n    plugin: p\n    topics: [t]\n"
         "  - name: x\n    plugin: p\n    topics: [t]\n"
         "  - plugin: p\n    topics: [t]\n    name: dup\n",
         10, "consumers[2].name",
         "expected a unique name, got \"dup\" which is also used at line 2 "
         "(consumers[0])"},
        {"duplicate key", GOOD_CONSUMER "    workers: 2\n    workers: 3\n", 6,
         "consumers[0].workers",
         "expected each key once, got it again (first at line 5)"},
        {"duplicate top-level key", GOOD_CONSUMER "seam: {}\nseam: {}\n", 6,
         "seam", "first at line 5"},
        {"duplicate kafka key",
         "kafka:\n  client.id: a\n  acks: all\n  client.id: b\n" GOOD_CONSUMER,
         4, "kafka.client.id", "got it again (first at line 2)"},
        {"kafka value a map", "kafka:\n  sasl:\n    mechanism: PLAIN\n"
         GOOD_CONSUMER, 3, "kafka.sasl",
         "expected a scalar value (librdkafka properties are text), got a map"},
        {"consumer kafka value a list",
         GOOD_CONSUMER "    kafka:\n      bootstrap.servers: [a, b]\n", 6,
         "consumers[0].kafka.bootstrap.servers", "got a list"},
        {"kafka a list", "kafka: [a]\n" GOOD_CONSUMER, 1, "kafka",
         "expected a map of librdkafka properties, got a list"},
        {"plugin config list",
         GOOD_CONSUMER "    config:\n      db:\n        hosts: [a, b]\n", 7,
         "consumers[0].config.db.hosts",
         "expected a scalar or a map, got a list"},
        {"plugin config duplicate after flattening",
         GOOD_CONSUMER "    config:\n      db.host: a\n      db:\n"
                       "        host: b\n",
         8, "consumers[0].config.db.host", "first at line 6"},
        {"plugin config a string", GOOD_CONSUMER "    config: text\n", 5,
         "consumers[0].config", "expected a map, got \"text\""},
        {"unset env var",
         "kafka:\n  sasl.password: ${SEAM_TEST_UNSET_SECRET}\n" GOOD_CONSUMER,
         2, "kafka.sasl.password",
         "expected environment variable SEAM_TEST_UNSET_SECRET to be set"},
        {"unset env var in a plugin config",
         GOOD_CONSUMER "    config:\n      db:\n"
                       "        password: x${SEAM_TEST_UNSET_SECRET}\n",
         7, "consumers[0].config.db.password", "SEAM_TEST_UNSET_SECRET"},
        {"unterminated ${", GOOD_CONSUMER "    group_id: g${HOME\n", 5,
         "consumers[0].group_id", "expected '}'"},
        {"env value of the wrong type", GOOD_CONSUMER
         "    workers: ${SEAM_TEST_BAD_WORKERS}\n",
         5, "consumers[0].workers", "got \"lots\""},
        {"NUL in a value", GOOD_CONSUMER "    group_id: \"a\\0b\"\n", 5,
         "consumers[0].group_id", "NUL character"},
        {"complex key", GOOD_CONSUMER "    ? [a]\n    : 1\n", 5, "consumers[0]",
         "expected a key name, got a list"},
        {"recursive alias in plugin config",
         GOOD_CONSUMER "    config: &a\n      x: *a\n", 5,
         "consumers[0].config.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x",
         "expected at most 16 levels of nested maps"},
        {"top level a list", "- a\n- b\n", 1, NULL,
         "expected a map with the keys seam, kafka, consumers, got a list"},
        {"empty file", "", 1, "consumers", "got an empty file"},
        {"comments only", "# nothing here\n\n", 1, "consumers",
         "got an empty file"},
        {"syntax error", GOOD_CONSUMER "    workers: 3\n   bad: : x\n", 6,
         NULL, "expected valid YAML, got: "},
        {"unclosed flow list", GOOD_CONSUMER "    kafka: {a: [1, 2}\n", 5,
         NULL, "expected valid YAML, got: "},
        {"tab indentation", "consumers:\n\t- name: c\n", 2, NULL,
         "found character that cannot start any token"},
        {"invalid UTF-8", GOOD_CONSUMER "    group_id: \"\xff\"\n", 5, NULL,
         "invalid leading UTF-8 octet"},
        {"second document", GOOD_CONSUMER "---\nconsumers: []\n", 5, NULL,
         "expected one YAML document, got a second one"},
};

static void test_bad_configs(void)
{
        unsetenv("SEAM_TEST_UNSET_SECRET");
        setenv("SEAM_TEST_BAD_WORKERS", "lots", 1);
        for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
                const struct bad_case *bc = &bad_cases[i];
                struct seam_config *cfg = (struct seam_config *)1;
                char err[1024], prefix[512];
                int rc;

                rc = seam_config_parse(bc->yaml, strlen(bc->yaml), NAME, &cfg,
                                       err, sizeof(err));
                if (bc->path)
                        snprintf(prefix, sizeof(prefix), NAME ":%d: %s: ",
                                 bc->line, bc->path);
                else
                        snprintf(prefix, sizeof(prefix), NAME ":%d: ",
                                 bc->line);
                fprintf(stderr, "   %-42s %s\n", bc->what, err);
                CHECKF(rc == SEAM_ERR_CONFIG, "%s: rc %d", bc->what, rc);
                CHECKF(cfg == NULL, "%s: out not cleared", bc->what);
                CHECKF(strncmp(err, prefix, strlen(prefix)) == 0,
                       "%s: \"%s\" does not start with \"%s\"", bc->what, err,
                       prefix);
                CHECKF(strstr(err, bc->fragment) != NULL,
                       "%s: \"%s\" does not contain \"%s\"", bc->what, err,
                       bc->fragment);
        }
}

static void test_load(void)
{
        char *dir = tu_mkdtemp("seam-config");
        char pathbuf[1024], errbuf[1024], *path = pathbuf, *err = errbuf;
        struct seam_config *cfg = NULL;
        int rc;

        snprintf(path, sizeof(pathbuf), "%s/good.yaml", dir);
        tu_write_file(path, GOOD_CONSUMER);
        rc = seam_config_load(path, &cfg, err, sizeof(errbuf));
        CHECKF(rc == 0, "%s", err);
        CHECK_STR_EQ(cfg->path, path);
        CHECK_STR_EQ(cfg->consumers[0].name, "c");
        seam_config_destroy(cfg);

        /* Errors from a file name the file. */
        snprintf(path, sizeof(pathbuf), "%s/bad.yaml", dir);
        tu_write_file(path, GOOD_CONSUMER "    workers: 0\n");
        rc = seam_config_load(path, &cfg, err, sizeof(errbuf));
        CHECK_EQ_INT(rc, SEAM_ERR_CONFIG);
        CHECK(cfg == NULL);
        CHECK_CONTAINS(err, "bad.yaml:5: consumers[0].workers: ");
        CHECK(strncmp(err, path, strlen(path)) == 0);

        snprintf(path, sizeof(pathbuf), "%s/missing.yaml", dir);
        rc = seam_config_load(path, &cfg, err, sizeof(errbuf));
        CHECK_EQ_INT(rc, SEAM_ERR_CONFIG);
        CHECK(cfg == NULL);
        CHECK(strncmp(err, path, strlen(path)) == 0);
        CHECK_CONTAINS(err, strerror(ENOENT));

        rc = seam_config_load(dir, &cfg, err, sizeof(errbuf));
        CHECK_EQ_INT(rc, SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, dir);
        CHECK_CONTAINS(err, strerror(EISDIR));

        snprintf(path, sizeof(pathbuf), "%s/empty.yaml", dir);
        tu_write_file(path, "");
        rc = seam_config_load(path, &cfg, err, sizeof(errbuf));
        CHECK_EQ_INT(rc, SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "empty.yaml:1: consumers: ");
        CHECK_CONTAINS(err, "empty file");

        /* Larger than the 4 KiB first read, so the buffer has to grow. */
        snprintf(path, sizeof(pathbuf), "%s/big.yaml", dir);
        {
                size_t n = 0, cap = 64 * 1024;
                char *big = malloc(cap);

                CHECK(big != NULL);
                n += (size_t)snprintf(big + n, cap - n, GOOD_CONSUMER
                                      "    config:\n");
                for (int i = 0; i < 500; i++)
                        n += (size_t)snprintf(big + n, cap - n,
                                              "      key%03d: value%03d\n", i,
                                              i);
                tu_write_file(path, big);
                free(big);
        }
        rc = seam_config_load(path, &cfg, err, sizeof(errbuf));
        CHECKF(rc == 0, "%s", err);
        CHECK_EQ_INT(cfg->consumers[0].plugin_config.count, 500);
        check_kv(&cfg->consumers[0].plugin_config, "key499", "value499", 505);
        seam_config_destroy(cfg);

        unlink(path);
        snprintf(path, sizeof(pathbuf), "%s/good.yaml", dir);
        unlink(path);
        snprintf(path, sizeof(pathbuf), "%s/bad.yaml", dir);
        unlink(path);
        snprintf(path, sizeof(pathbuf), "%s/empty.yaml", dir);
        unlink(path);
        rmdir(dir);
        free(dir);
}

int main(void)
{
        TEST_RUN(test_full_config);
        TEST_RUN(test_defaults);
        TEST_RUN(test_expand_env);
        TEST_RUN(test_bad_configs);
        TEST_RUN(test_load);
        return 0;
}
