/* test_lag_metrics: /metrics of a running seam against the broker's own
 * numbers. A partition held by retries for 30 s keeps its lag (messages,
 * exact; seconds, rising) while more is produced; the scrape passes
 * `promtool check metrics`; after a rebalance the series of revoked
 * partitions are gone; a secret from the config never reaches the logs. */
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "mockenv.h"
#include "testutil.h"

#define TOPIC "lagm"
#define GROUP "lagm-group"
#define SECRET "s3cr3t-must-never-be-logged"

static struct me_env *env;

static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
        close(fd);
        return ntohs(a.sin_port);
}

struct buf {
        char *p;
        size_t n;
};

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
        struct buf *b = arg;
        char *np = realloc(b->p, b->n + s * n + 1);
        CHECK(np);
        memcpy(np + b->n, d, s * n);
        b->p = np;
        b->n += s * n;
        b->p[b->n] = '\0';
        return s * n;
}

/* GET http://127.0.0.1:PORT/metrics; caller frees. */
static char *scrape(int port)
{
        struct buf b = {calloc(1, 1), 0};
        CURL *c = curl_easy_init();
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        CHECKF(rc == CURLE_OK, "scrape :%d: %s", port, curl_easy_strerror(rc));
        return b.p;
}

/* The value of the sample `name{...partition="P"}`, or -1e9 if absent. */
static double sample(const char *text, const char *name, int partition)
{
        char needle[160];
        snprintf(needle, sizeof(needle), "%s{consumer=\"c\",topic=\"%s\",partition=\"%d\"} ", name,
                 TOPIC, partition);
        const char *p = strstr(text, needle);
        return p ? strtod(p + strlen(needle), NULL) : -1e9;
}

struct lag_want {
        int port;
        int partition;
        double lag;
};

static int lag_is(void *arg)
{
        struct lag_want *w = arg;
        char *m = scrape(w->port);
        double v = sample(m, "seam_partition_lag_messages", w->partition);
        free(m);
        return v == w->lag;
}

static const char *config(const char *name, int port, const char *out)
{
        const char *path = me_path(env, name);
        tu_write_file(path, me_strf(env,
                                    "seam:\n"
                                    "  plugin_path: [\"%s\"]\n"
                                    "  http: {bind: 127.0.0.1, port: %d}\n"
                                    "  lag_refresh_ms: 300\n"
                                    "  log_level: debug\n"
                                    "kafka:\n"
                                    "  bootstrap.servers: \"%s\"\n"
                                    "  session.timeout.ms: 6000\n"
                                    "  auto.offset.reset: earliest\n"
                                    "  sasl.password: \"%s\"\n"
                                    "consumers:\n"
                                    "  - name: c\n"
                                    "    plugin: recorder\n"
                                    "    topics: [%s]\n"
                                    "    group_id: %s\n"
                                    "    commit_interval_ms: 200\n"
                                    "    retry_backoff_ms: 400\n"
                                    "    retry_multiplier: 1\n"
                                    "    retry_max_attempts: 100000\n"
                                    "    config: {out: \"%s\", retry_offset: 5, retry_times: 1000000}\n",
                                    tu_env("SEAM_TEST_PLUGIN_DIR"), port, me_bootstrap(env), SECRET,
                                    TOPIC, GROUP, out));
        return path;
}

static void promtool_check(const char *text)
{
        const char *file = me_path(env, "scrape.txt");
        tu_write_file(file, text);
        int rc = system(me_strf(env, "promtool check metrics < '%s' > '%s' 2>&1", file,
                                me_path(env, "promtool.out")));
        char *out = tu_read_file(me_path(env, "promtool.out"), NULL);
        CHECKF(rc == 0, "promtool check metrics failed (is Debian's prometheus package "
                        "installed?): %s",
               out ? out : "");
        free(out);
}

int main(void)
{
        env = me_env_new("lag_metrics", 1);
        me_create_topic(env, TOPIC, 2);
        /* Offset 5 of both partitions is retried for good: both hold there. */
        me_produce(env, TOPIC, 0, 10);
        me_produce(env, TOPIC, 1, 10);
        const char *out = me_path(env, "records");
        int port_a = free_port();
        struct me_seam *a = me_seam_start(env, config("a.yaml", port_a, out), "seam-a.log");
        const int64_t held[2] = {5, 5};
        me_wait_committed(env, GROUP, TOPIC, 2, held, 30000);

        /* Lag = high watermark - committed, exactly; paused. */
        struct lag_want w = {port_a, 0, 5};
        me_wait(env, "lag of partition 0 == 5", lag_is, &w, 15000);
        char *m = scrape(port_a);
        CHECK(sample(m, "seam_partition_committed_offset", 0) == 5);
        CHECK(sample(m, "seam_partition_high_watermark_offset", 0) == 10);
        CHECK(sample(m, "seam_partition_paused", 0) == 1);
        double secs_before = sample(m, "seam_partition_lag_seconds", 0);
        CHECK(secs_before >= 0);
        /* The plugin's own counter (host API metric_counter_add). */
        CHECK_CONTAINS(m, "seam_plugin_recorder_records_total{consumer=\"c\"} 10\n");
        promtool_check(m);
        free(m);

        /* More arrives while paused: the framework queries the watermark
         * itself, so lag rises although the partition fetches nothing. */
        me_produce(env, TOPIC, 0, 7);
        w.lag = 12;
        me_wait(env, "lag of partition 0 == 12 while paused", lag_is, &w, 15000);
        int64_t t0 = seam_mono_ms();
        while (seam_mono_ms() - t0 < 30000) {
                me_expect_running_for(env, a, 5000);
                char *s = scrape(port_a);
                CHECK(sample(s, "seam_partition_lag_messages", 0) == 12);
                CHECK(sample(s, "seam_partition_paused", 0) == 1);
                free(s);
        }
        m = scrape(port_a);
        double secs_after = sample(m, "seam_partition_lag_seconds", 0);
        CHECKF(secs_after >= secs_before + 29, "lag seconds %.1f -> %.1f over 30 s paused",
               secs_before, secs_after);
        free(m);

        /* A second instance joins: each keeps the series of what it holds,
         * and only that. */
        int port_b = free_port();
        struct me_seam *b = me_seam_start(env, config("b.yaml", port_b, out), "seam-b.log");
        me_wait_log(env, b, "assigned 1 partition(s)", 30000);
        me_wait_log(env, a, "assigned 1 partition(s)", 30000);
        char *ma = scrape(port_a), *mb = scrape(port_b);
        for (int p = 0; p < 2; p++) {
                int in_a = sample(ma, "seam_partition_lag_messages", p) > -1e9;
                int in_b = sample(mb, "seam_partition_lag_messages", p) > -1e9 ||
                           sample(mb, "seam_partition_committed_offset", p) > -1e9;
                int in_a_any = in_a || sample(ma, "seam_partition_committed_offset", p) > -1e9;
                CHECKF(in_a_any != in_b, "partition %d: series in A %d, in B %d", p, in_a_any,
                       in_b);
        }
        free(ma);
        free(mb);

        CHECK_EQ_INT(me_seam_stop(b, SIGTERM, 20000, NULL), 0);
        CHECK_EQ_INT(me_seam_stop(a, SIGTERM, 20000, NULL), 0);
        CHECKF(!strstr(me_seam_log(a), SECRET) && !strstr(me_seam_log(b), SECRET),
               "the configured secret appears in a log");
        me_env_finish(env);
        return 0;
}
