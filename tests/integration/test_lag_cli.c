/* test_lag_cli: `seam lag` and `seam lag-exporter` against the embedded
 * broker, with numbers known exactly in advance.
 *
 * Topics and what group G committed (explicit commits from a handle that
 * never joins; no consumer of G runs at any time):
 *
 *   lag.t[0]  10 messages, offsets 0-3 stamped now-100 s, 4-9 now-60 s;
 *             committed 4  -> lag 6, lag seconds ~60 (the message AT the
 *             committed offset, not the oldest of the partition: ~100)
 *   lag.t[1]   7 messages, 0 stamped now-30 s, 1-6 now-10 s; no commit
 *             -> "(none)", lag 7 counted from the low watermark, ~30 s
 *   lag.t[2]   5 messages, now-20 s; committed 5 -> lag 0, 0 s
 *   lag.u[0]   3 messages; no commit -> listed (its topic has a commit), lag 3
 *   lag.u[1]   3 messages; committed 1 -> lag 2
 *   lag.other  4 messages, never committed by G -> not listed
 *
 * Group E never committed anything: no rows (with --topic: every partition
 * "(none)"). The Admin API call failing (injected) falls back to
 * rd_kafka_committed with --topic. An unreachable bootstrap exits 5 within
 * the timeout. The exporter serves the same numbers, refreshes them in the
 * background (a new message shows up without a restart) and exits 0 on
 * SIGTERM. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "check.h"
#include "clock.h"
#include "group_lag.h"
#include "kafka_util.h"
#include "mockenv.h"
#include "testutil.h"

#define G "lag-group"
#define E "lag-empty-group"

static struct me_env *env;
static const char *seam_bin;
static pid_t exporter_pid = -1;
static int64_t produced_at_ms; /* wall clock when the stamps were computed */

/* A failed CHECK exits: do not leave the exporter running. */
static void kill_exporter(void)
{
        if (exporter_pid > 0) {
                kill(exporter_pid, SIGKILL);
                waitpid(exporter_pid, NULL, 0);
                exporter_pid = -1;
        }
}

/* ---- fixtures ----------------------------------------------------------- */

static void produce(rd_kafka_t *p, const char *topic, int partition, int count,
                    int64_t (*stamp)(int offset))
{
        for (int i = 0; i < count; i++) {
                char value[32];
                int n = snprintf(value, sizeof(value), "%s-%d-%d", topic, partition, i);
                rd_kafka_resp_err_t err = rd_kafka_producev(
                    p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                    RD_KAFKA_V_VALUE(value, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(stamp ? stamp(i) : 0), RD_KAFKA_V_END);
                CHECKF(!err, "produce %s[%d]: %s", topic, partition, rd_kafka_err2str(err));
        }
        CHECK_EQ_INT(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int64_t stamp_t0(int offset) { return produced_at_ms - (offset < 4 ? 100000 : 60000); }
static int64_t stamp_t1(int offset) { return produced_at_ms - (offset == 0 ? 30000 : 10000); }
static int64_t stamp_t2(int offset) { (void)offset; return produced_at_ms - 20000; }

static void commit(const char *group, const char *topic, const int32_t *parts,
                   const int64_t *offsets, int n)
{
        char err[512];
        rd_kafka_t *c = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL, group,
                                               err, sizeof(err));
        CHECKF(c, "%s", err);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic, parts[i])->offset = offsets[i];
        rd_kafka_resp_err_t e = rd_kafka_commit(c, l, 0);
        CHECKF(!e, "commit %s: %s", group, rd_kafka_err2str(e));
        for (int i = 0; i < n; i++)
                CHECKF(!l->elems[i].err, "commit %s[%d]: %s", topic, (int)parts[i],
                       rd_kafka_err2str(l->elems[i].err));
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(c);
}

static void setup(void)
{
        char err[512];
        rd_kafka_t *p = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, me_bootstrap(env), NULL, NULL,
                                               err, sizeof(err));
        CHECKF(p, "%s", err);
        me_create_topic(env, "lag.t", 3);
        me_create_topic(env, "lag.u", 2);
        me_create_topic(env, "lag.other", 1);
        produced_at_ms = seam_wall_ms();
        produce(p, "lag.t", 0, 10, stamp_t0);
        produce(p, "lag.t", 1, 7, stamp_t1);
        produce(p, "lag.t", 2, 5, stamp_t2);
        produce(p, "lag.u", 0, 3, NULL);
        produce(p, "lag.u", 1, 3, NULL);
        produce(p, "lag.other", 0, 4, NULL);
        rd_kafka_destroy(p);

        int64_t hw[3];
        me_high_watermarks(env, "lag.t", 3, hw);
        CHECK_EQ_INT(hw[0], 10);
        CHECK_EQ_INT(hw[1], 7);
        CHECK_EQ_INT(hw[2], 5);

        commit(G, "lag.t", (int32_t[]){0, 2}, (int64_t[]){4, 5}, 2);
        commit(G, "lag.u", (int32_t[]){1}, (int64_t[]){1}, 1);
        int64_t c[3];
        me_committed_or_die(env, G, "lag.t", 3, c);
        CHECK_EQ_INT(c[0], 4);
        CHECK_EQ_INT(c[1], -1);
        CHECK_EQ_INT(c[2], 5);
}

/* ---- running seam ------------------------------------------------------- */

struct run {
        int code;
        char *out;
        char *err;
        int64_t took_ms;
};

/* `seam ARGS...` with stdout and stderr in separate files. */
static struct run run_seam(const char *name, char *const args[])
{
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)seam_bin;
        for (int i = 0; args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        const char *out_path = me_path(env, me_strf(env, "%s.out", name));
        const char *err_path = me_path(env, me_strf(env, "%s.err", name));
        int64_t t0 = seam_mono_ms();
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (o < 0 || e < 0)
                        _exit(126);
                dup2(o, 1);
                dup2(e, 2);
                execv(argv[0], argv);
                _exit(127);
        }
        int status = tu_wait(pid, 60000);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                CHECKF(0, "seam %s did not exit within 60 s", name);
        }
        struct run r = {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                        tu_read_file(out_path, NULL), tu_read_file(err_path, NULL),
                        seam_mono_ms() - t0};
        CHECK(r.out && r.err);
        fprintf(stderr, "seam %s: exit %d in %lld ms\n--- stdout\n%s--- stderr\n%s---\n", name,
                r.code, (long long)r.took_ms, r.out, r.err);
        CHECKF(!strstr(r.err, "Sanitizer") && !strstr(r.err, "runtime error:"),
               "sanitizer report from seam %s", name);
        return r;
}

static void run_free(struct run *r)
{
        free(r->out);
        free(r->err);
}

/* The partition object of group `group` in a `seam lag --json` document. */
static json_t *find_partition(json_t *doc, const char *group, const char *topic, int partition)
{
        json_t *groups = json_object_get(doc, "groups"), *g, *p;
        size_t i, k;
        json_array_foreach(groups, i, g) {
                if (strcmp(json_string_value(json_object_get(g, "group")), group))
                        continue;
                json_array_foreach(json_object_get(g, "partitions"), k, p) {
                        if (!strcmp(json_string_value(json_object_get(p, "topic")), topic) &&
                            json_integer_value(json_object_get(p, "partition")) == partition)
                                return p;
                }
        }
        return NULL;
}

static size_t partition_count(json_t *doc, const char *group)
{
        json_t *g;
        size_t i;
        json_array_foreach(json_object_get(doc, "groups"), i, g)
                if (!strcmp(json_string_value(json_object_get(g, "group")), group))
                        return json_array_size(json_object_get(g, "partitions"));
        CHECKF(0, "group %s not in the output", group);
        return 0;
}

/* committed -1 means JSON null ("(none)"). */
static void check_row(json_t *doc, const char *group, const char *topic, int partition,
                      int64_t committed, int64_t end, int64_t lag)
{
        json_t *p = find_partition(doc, group, topic, partition);
        CHECKF(p, "no row for %s %s[%d]", group, topic, partition);
        json_t *c = json_object_get(p, "committed");
        if (committed < 0)
                CHECKF(json_is_null(c), "%s[%d]: committed should be null", topic, partition);
        else
                CHECK_EQ_INT(json_integer_value(c), committed);
        CHECK_EQ_INT(json_integer_value(json_object_get(p, "end")), end);
        CHECK_EQ_INT(json_integer_value(json_object_get(p, "low")), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(p, "lag")), lag);
        CHECKF(json_is_null(json_object_get(p, "error")), "%s[%d]: error %s", topic, partition,
               json_string_value(json_object_get(p, "error")));
}

/* Age of a message stamped `age_at_produce` s before production, now. */
static void check_seconds(double got, double age_at_produce, const char *what)
{
        double expect = age_at_produce + (double)(seam_wall_ms() - produced_at_ms) / 1000.0;
        CHECKF(fabs(got - expect) <= 5.0, "%s: lag seconds %.3f, expected %.1f +- 5", what, got,
               expect);
}

static double seconds_of(json_t *doc, const char *group, const char *topic, int partition)
{
        json_t *p = find_partition(doc, group, topic, partition);
        CHECK(p);
        json_t *s = json_object_get(p, "lag_seconds");
        CHECKF(json_is_number(s), "%s[%d]: lag_seconds is not a number", topic, partition);
        return json_number_value(s);
}

static json_t *parse_json(const char *text)
{
        json_error_t jerr;
        json_t *doc = json_loads(text, 0, &jerr);
        CHECKF(doc, "output is not JSON: %s (line %d)", jerr.text, jerr.line);
        return doc;
}

/* ---- tests -------------------------------------------------------------- */

static void formula(void)
{
        /* committed inside [low, high] */
        CHECK_EQ_INT(seam_lag_messages(4, 0, 10), 6);
        /* nothing committed: from the low watermark */
        CHECK_EQ_INT(seam_lag_messages(-1, 0, 7), 7);
        CHECK_EQ_INT(seam_lag_messages(-1, 3, 7), 4);
        /* committed below the low watermark (retention): from the low one */
        CHECK_EQ_INT(seam_lag_messages(2, 5, 9), 4);
        /* caught up, and committed past the end (topic re-created) */
        CHECK_EQ_INT(seam_lag_messages(9, 5, 9), 0);
        CHECK_EQ_INT(seam_lag_messages(12, 0, 9), 0);
}

static void lag_json(void)
{
        struct run r = run_seam("lag-json", (char *[]){"lag", "--group", G, "--bootstrap",
                                                        (char *)me_bootstrap(env), "--json",
                                                        NULL});
        CHECK_EQ_INT(r.code, 0);
        json_t *doc = parse_json(r.out);
        check_row(doc, G, "lag.t", 0, 4, 10, 6);
        check_row(doc, G, "lag.t", 1, -1, 7, 7);
        check_row(doc, G, "lag.t", 2, 5, 5, 0);
        check_row(doc, G, "lag.u", 0, -1, 3, 3);
        check_row(doc, G, "lag.u", 1, 1, 3, 2);
        CHECKF(!find_partition(doc, G, "lag.other", 0), "lag.other has no commit of %s", G);
        CHECK_EQ_INT(partition_count(doc, G), 5);
        check_seconds(seconds_of(doc, G, "lag.t", 0), 60, "lag.t[0] (message at offset 4)");
        check_seconds(seconds_of(doc, G, "lag.t", 1), 30, "lag.t[1] (no commit: offset 0)");
        CHECK(seconds_of(doc, G, "lag.t", 2) == 0.0);
        json_decref(doc);
        run_free(&r);

        /* Reading changed nothing for the group. */
        int64_t c[3];
        me_committed_or_die(env, G, "lag.t", 3, c);
        CHECK_EQ_INT(c[0], 4);
        CHECK_EQ_INT(c[1], -1);
        CHECK_EQ_INT(c[2], 5);
}

static void lag_table(void)
{
        struct run r = run_seam("lag-table", (char *[]){"lag", "--group", G, "--bootstrap",
                                                         (char *)me_bootstrap(env), NULL});
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "GROUP");
        CHECK_CONTAINS(r.out, "LAG_SECONDS");
        /* One line per partition: group, topic, partition, committed, end, lag. */
        int rows = 0;
        for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
                char grp[64], topic[64], committed[32], seconds[32];
                int part;
                long long end, lag;
                if (sscanf(line, "%63s %63s %d %31s %lld %lld %31s", grp, topic, &part,
                           committed, &end, &lag, seconds) != 7)
                        continue;
                rows++;
                if (!strcmp(topic, "lag.t") && part == 1) {
                        CHECK_STR_EQ(committed, "(none)");
                        CHECK_EQ_INT(end, 7);
                        CHECK_EQ_INT(lag, 7);
                }
                if (!strcmp(topic, "lag.t") && part == 0) {
                        CHECK_STR_EQ(committed, "4");
                        CHECK_EQ_INT(lag, 6);
                }
        }
        CHECK_EQ_INT(rows, 5);
        run_free(&r);
}

static void lag_empty_group(void)
{
        struct run r = run_seam("lag-empty", (char *[]){"lag", "--group", E, "--group", G,
                                                         "--bootstrap",
                                                         (char *)me_bootstrap(env), "--json",
                                                         NULL});
        CHECK_EQ_INT(r.code, 0);
        json_t *doc = parse_json(r.out);
        CHECK_EQ_INT(partition_count(doc, E), 0);
        CHECK_EQ_INT(partition_count(doc, G), 5);
        CHECK_CONTAINS(r.err, "group " E " has no committed offsets");
        json_decref(doc);
        run_free(&r);

        /* With --topic every partition is listed, counted from the low
         * watermark. */
        r = run_seam("lag-empty-topic", (char *[]){"lag", "--group", E, "--bootstrap",
                                                    (char *)me_bootstrap(env), "--topic",
                                                    "lag.t", "--json", NULL});
        CHECK_EQ_INT(r.code, 0);
        doc = parse_json(r.out);
        CHECK_EQ_INT(partition_count(doc, E), 3);
        check_row(doc, E, "lag.t", 0, -1, 10, 10);
        check_row(doc, E, "lag.t", 1, -1, 7, 7);
        check_row(doc, E, "lag.t", 2, -1, 5, 5);
        check_seconds(seconds_of(doc, E, "lag.t", 0), 100, "lag.t[0] for " E " (offset 0)");
        json_decref(doc);
        run_free(&r);
}

/* The Admin API's OffsetFetch refused once: --topic reads the offsets with
 * rd_kafka_committed instead, with the same result. */
/* Kafka protocol API key of OffsetFetch; librdkafka does not install
 * rdkafka_protocol.h, which names it. */
#define API_OFFSET_FETCH 9

static void lag_topic_fallback(void)
{
        rd_kafka_mock_push_request_errors(me_mock(env), API_OFFSET_FETCH, 1,
                                          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
        struct run r = run_seam("lag-fallback",
                                (char *[]){"lag", "--group", G, "--bootstrap",
                                           (char *)me_bootstrap(env), "--topic", "lag.t",
                                           "--json", "--log-level", "warn", NULL});
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.err, "trying the consumer API");
        json_t *doc = parse_json(r.out);
        CHECK_EQ_INT(partition_count(doc, G), 3);
        check_row(doc, G, "lag.t", 0, 4, 10, 6);
        check_row(doc, G, "lag.t", 1, -1, 7, 7);
        check_row(doc, G, "lag.t", 2, 5, 5, 0);
        json_decref(doc);
        run_free(&r);
}

static void lag_unreachable(void)
{
        struct run r = run_seam("lag-unreachable",
                                (char *[]){"lag", "--group", G, "--group", E, "--bootstrap",
                                           "127.0.0.1:1", "--timeout-ms", "2000", NULL});
        CHECK_EQ_INT(r.code, 5);
        CHECK_CONTAINS(r.err, "cannot reach the Kafka brokers at 127.0.0.1:1");
        /* One timeout, not one per group. */
        CHECKF(r.took_ms < 4500, "took %lld ms with --timeout-ms 2000", (long long)r.took_ms);
        run_free(&r);

        r = run_seam("lag-usage", (char *[]){"lag", "--group", G, NULL});
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "--bootstrap is required");
        run_free(&r);
}

/* ---- the exporter ------------------------------------------------------- */

struct buf {
        char *data;
        size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
        struct buf *b = arg;
        char *d = realloc(b->data, b->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->len, ptr, size * n);
        b->len += size * n;
        d[b->len] = '\0';
        b->data = d;
        return size * n;
}

/* GET, body (malloc'ed) or NULL on a transport error; *status the HTTP
 * status. */
static char *http_get(int port, const char *path, long *status)
{
        CURL *c = curl_easy_init();
        CHECK(c);
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        struct buf b = {NULL, 0};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        CURLcode rc = curl_easy_perform(c);
        *status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                free(b.data);
                return NULL;
        }
        return b.data ? b.data : strdup("");
}

/* The value of the sample `name{labels}`; NAN when absent. */
static double sample(const char *text, const char *name, const char *labels)
{
        char prefix[256];
        snprintf(prefix, sizeof(prefix), "%s{%s} ", name, labels);
        for (const char *line = text; line && *line;) {
                if (!strncmp(line, prefix, strlen(prefix)))
                        return strtod(line + strlen(prefix), NULL);
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return NAN;
}

#define PL(t, p) "group=\"" G "\",topic=\"" t "\",partition=\"" #p "\""

struct scrape_wait {
        int port;
        const char *name, *labels;
        double want;
        char *last;
};

static int scrape_has(void *arg)
{
        struct scrape_wait *w = arg;
        long status;
        CHECKF(exporter_pid > 0 && waitpid(exporter_pid, NULL, WNOHANG) == 0,
               "lag-exporter exited early");
        char *body = http_get(w->port, "/metrics", &status);
        if (!body)
                return 0;
        int ok = status == 200 && sample(body, w->name, w->labels) == w->want;
        free(w->last);
        w->last = body;
        return ok;
}

static int exporter_port(const char *log_path)
{
        char *log = tu_read_file(log_path, NULL);
        const char *mark = "lag-exporter listening on 127.0.0.1:";
        const char *at = log ? strstr(log, mark) : NULL;
        int port = at ? atoi(at + strlen(mark)) : 0;
        free(log);
        return port;
}

static int port_logged(void *arg)
{
        CHECKF(waitpid(exporter_pid, NULL, WNOHANG) == 0, "lag-exporter exited early");
        return exporter_port(arg) > 0;
}

static void exporter(void)
{
        const char *log = me_path(env, "exporter.log");
        char *argv[] = {(char *)seam_bin, "lag-exporter", "--group", G, "--group", E,
                        "--bootstrap", (char *)me_bootstrap(env), "--listen", "127.0.0.1:0",
                        "--interval-ms", "300", "--log-format", "logfmt", NULL};
        exporter_pid = tu_spawn(argv, log);
        CHECKF(tu_wait_for(port_logged, (void *)log, 15000), "no 'listening on' line in %s",
               log);
        int port = exporter_port(log);

        struct scrape_wait w = {port, "seam_group_lag_scrape_success", "group=\"" G "\"", 1,
                                NULL};
        CHECKF(tu_wait_for(scrape_has, &w, 20000), "no successful refresh; last scrape:\n%s",
               w.last ? w.last : "(none)");
        const char *m = w.last;
        fprintf(stderr, "scrape:\n%s", m);
        CHECK(sample(m, "seam_group_lag_scrape_success", "group=\"" E "\"") == 1);

        CHECK(sample(m, "seam_group_lag_messages", PL("lag.t", 0)) == 6);
        CHECK(sample(m, "seam_group_lag_messages", PL("lag.t", 1)) == 7);
        CHECK(sample(m, "seam_group_lag_messages", PL("lag.t", 2)) == 0);
        CHECK(sample(m, "seam_group_lag_messages", PL("lag.u", 0)) == 3);
        CHECK(sample(m, "seam_group_lag_messages", PL("lag.u", 1)) == 2);
        CHECK(isnan(sample(m, "seam_group_lag_messages", PL("lag.other", 0))));
        CHECK(sample(m, "seam_group_committed_offset", PL("lag.t", 0)) == 4);
        CHECK(sample(m, "seam_group_committed_offset", PL("lag.t", 1)) == -1);
        CHECK(sample(m, "seam_group_committed_offset", PL("lag.t", 2)) == 5);
        CHECK(sample(m, "seam_group_committed_offset", PL("lag.u", 1)) == 1);
        CHECK(sample(m, "seam_group_high_watermark_offset", PL("lag.t", 0)) == 10);
        CHECK(sample(m, "seam_group_high_watermark_offset", PL("lag.t", 1)) == 7);
        CHECK(sample(m, "seam_group_high_watermark_offset", PL("lag.t", 2)) == 5);
        CHECK(sample(m, "seam_group_high_watermark_offset", PL("lag.u", 0)) == 3);
        check_seconds(sample(m, "seam_group_lag_seconds", PL("lag.t", 0)), 60, "exporter lag.t[0]");
        check_seconds(sample(m, "seam_group_lag_seconds", PL("lag.t", 1)), 30, "exporter lag.t[1]");
        CHECK(sample(m, "seam_group_lag_seconds", PL("lag.t", 2)) == 0);
        CHECK_CONTAINS(m, "# TYPE seam_group_lag_messages gauge");
        CHECK_CONTAINS(m, "# TYPE seam_group_lag_seconds gauge");
        CHECK_CONTAINS(m, "# TYPE seam_group_committed_offset gauge");
        CHECK_CONTAINS(m, "# TYPE seam_group_high_watermark_offset gauge");
        CHECK_CONTAINS(m, "# TYPE seam_group_lag_scrape_success gauge");

        long status;
        char *ready = http_get(port, "/readyz", &status);
        CHECK(ready && status == 200);
        free(ready);
        char *live = http_get(port, "/healthz", &status);
        CHECK(live && status == 200);
        free(live);

        /* Refreshed in the background: three more messages on lag.t[2],
         * committed 5 -> lag 3, and nothing restarted. */
        char err[512];
        rd_kafka_t *p = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, me_bootstrap(env), NULL, NULL,
                                               err, sizeof(err));
        CHECKF(p, "%s", err);
        produce(p, "lag.t", 2, 3, NULL);
        rd_kafka_destroy(p);
        struct scrape_wait w2 = {port, "seam_group_lag_messages", PL("lag.t", 2), 3, NULL};
        CHECKF(tu_wait_for(scrape_has, &w2, 15000), "lag.t[2] did not become 3; last:\n%s",
               w2.last ? w2.last : "(none)");
        CHECK(sample(w2.last, "seam_group_high_watermark_offset", PL("lag.t", 2)) == 8);
        /* Fresh messages: seconds, not ~20 s (the older ones are committed). */
        CHECK(sample(w2.last, "seam_group_lag_seconds", PL("lag.t", 2)) < 5);
        free(w.last);
        free(w2.last);

        int64_t t0 = seam_mono_ms();
        kill(exporter_pid, SIGTERM);
        int st = tu_wait(exporter_pid, 15000);
        CHECKF(st != -1, "lag-exporter did not exit within 15 s of SIGTERM");
        exporter_pid = -1;
        fprintf(stderr, "lag-exporter: SIGTERM -> exit in %lld ms\n",
                (long long)(seam_mono_ms() - t0));
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "lag-exporter exit status %d", st);
        char *text = tu_read_file(log, NULL);
        CHECK(text);
        CHECKF(!strstr(text, "Sanitizer") && !strstr(text, "runtime error:"),
               "sanitizer report in %s:\n%s", log, text);
        free(text);
}

int main(void)
{
        seam_bin = tu_env("SEAM_BIN");
        env = me_env_new("test_lag_cli", 1);
        atexit(kill_exporter);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        TEST_RUN(formula);
        TEST_RUN(setup);
        TEST_RUN(lag_json);
        TEST_RUN(lag_table);
        TEST_RUN(lag_empty_group);
        TEST_RUN(lag_topic_fallback);
        TEST_RUN(lag_unreachable);
        TEST_RUN(exporter);
        curl_global_cleanup();
        me_env_finish(env);
        fprintf(stderr, "test_lag_cli: ok\n");
        return 0;
}
