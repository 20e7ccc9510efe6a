/* cli_demo.c - `seam demo`: a self-contained run on the embedded broker. It
 * creates a topic, produces a stream of order events, hosts the example
 * consumer `order_audit` until every message is handled and committed, and
 * prints what happened. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "clock.h"
#include "err.h"
#include "kafka_util.h"
#include "log.h"
#include "runtime.h"

#define DEMO_TOPIC "demo.orders"
#define DEMO_GROUP "demo-order-audit"
#define DEMO_MAX_PARTITIONS 64
/* --keep-running: events per second of the live stream. */
#define DEMO_LIVE_RATE 50

struct demo {
        struct seam_runtime *rt;
        const char *bootstrap;
        int partitions;
        int64_t end[DEMO_MAX_PARTITIONS];
        int64_t committed[DEMO_MAX_PARTITIONS];
        int64_t next_check;
        int64_t deadline;
        int timed_out;
};

static rd_kafka_t *demo_producer(const char *bootstrap)
{
        char err[512];
        const char *props[] = {"enable.idempotence", "true", "linger.ms", "5", NULL};
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, bootstrap, props, NULL, err,
                                                sizeof(err));
        if (!rk)
                fprintf(stderr, "seam demo: %s\n", err);
        return rk;
}

/* Produces order event number i (JSON text, keyed by customer). */
static int produce_order(rd_kafka_t *rk, int i, int partitions)
{
        static const char *const currencies[] = {"EUR", "USD", "GBP"};
        char key[32], value[256];
        snprintf(key, sizeof(key), "customer-%d", i % 50);
        int n = snprintf(value, sizeof(value),
                         "{\"order_id\":\"o-%06d\",\"customer\":\"%s\","
                         "\"amount_cents\":%d,\"currency\":\"%s\"}",
                         i, key, 100 + (i * 37) % 90000, currencies[i % 3]);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                                      RD_KAFKA_V_PARTITION(i % partitions),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(value, (size_t)n),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        if (e) {
                fprintf(stderr, "seam demo: produce: %s\n", rd_kafka_err2str(e));
                return -1;
        }
        rd_kafka_poll(rk, 0);
        return 0;
}

static int produce_stream(const char *bootstrap, int messages, int partitions,
                          int64_t *end)
{
        char err[512];
        rd_kafka_t *rk = demo_producer(bootstrap);
        if (!rk)
                return -1;
        for (int i = 0; i < messages; i++) {
                if (produce_order(rk, i, partitions)) {
                        rd_kafka_destroy(rk);
                        return -1;
                }
        }
        int rc = rd_kafka_flush(rk, 30000) ? -1 : 0;
        if (rc == 0)
                rc = seam_kafka_high_watermarks(rk, DEMO_TOPIC, partitions, end, 10000, err,
                                                sizeof(err));
        if (rc)
                fprintf(stderr, "seam demo: produce: %s\n", rc == -1 ? "flush timed out" : err);
        rd_kafka_destroy(rk);
        return rc;
}

struct live {
        const char *bootstrap;
        int partitions;
        int next;
        atomic_int stop;
};

/* --keep-running: a steady stream, so lag and throughput move on a
 * dashboard. */
static void *live_main(void *arg)
{
        struct live *lv = arg;
        rd_kafka_t *rk = demo_producer(lv->bootstrap);
        if (!rk)
                return NULL;
        while (!atomic_load(&lv->stop)) {
                if (produce_order(rk, lv->next++, lv->partitions))
                        break;
                seam_sleep_ms(1000 / DEMO_LIVE_RATE);
        }
        rd_kafka_flush(rk, 5000);
        rd_kafka_destroy(rk);
        return NULL;
}

/* Polled by seam_runtime_wait: true once the group's committed offsets
 * reached the end of every partition. */
static int demo_done(void *arg)
{
        struct demo *d = arg;
        int64_t now = seam_mono_ms();
        if (now > d->deadline) {
                d->timed_out = 1;
                return 1;
        }
        if (now < d->next_check)
                return 0;
        d->next_check = now + 500;
        char err[512];
        if (seam_kafka_committed(d->bootstrap, NULL, DEMO_GROUP, DEMO_TOPIC, d->partitions,
                                 d->committed, 5000, err, sizeof(err)))
                return 0;
        for (int p = 0; p < d->partitions; p++)
                if (d->committed[p] < d->end[p])
                        return 0;
        return 1;
}

static long count_lines(const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        long n = 0;
        int c;
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static void demo_usage(FILE *out)
{
        fprintf(out,
                "usage: seam demo [--messages N] [--partitions P] [--out FILE]\n"
                "                 [--keep-running] [--metrics-port PORT] [--metrics-bind ADDR]\n"
                "Runs the example consumer order_audit on the embedded broker: produces N\n"
                "order events (default 2000) to %s (P partitions, default 4),\n"
                "consumes them until all are committed, and prints what happened.\n"
                "  --keep-running      keep producing (%d/s) and consuming until SIGTERM/SIGINT\n"
                "  --metrics-port PORT serve /metrics, /healthz, /readyz on PORT\n"
                "  --metrics-bind ADDR address to serve on (default 127.0.0.1)\n",
                DEMO_TOPIC, DEMO_LIVE_RATE);
}

int seam_cli_demo(int argc, char **argv)
{
        static const struct option opts[] = {
                {"messages", required_argument, NULL, 'n'},
                {"partitions", required_argument, NULL, 'p'},
                {"out", required_argument, NULL, 'o'},
                {"keep-running", no_argument, NULL, 'k'},
                {"metrics-port", required_argument, NULL, 'm'},
                {"metrics-bind", required_argument, NULL, 'b'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int messages = 2000, partitions = 4, keep_running = 0, metrics_port = 0, c;
        const char *out = NULL, *metrics_bind = "127.0.0.1";
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'n': messages = atoi(optarg); break;
                case 'p': partitions = atoi(optarg); break;
                case 'o': out = optarg; break;
                case 'k': keep_running = 1; break;
                case 'm': metrics_port = atoi(optarg); break;
                case 'b': metrics_bind = optarg; break;
                case 'h': demo_usage(stdout); return SEAM_EXIT_OK;
                default: demo_usage(stderr); return SEAM_EXIT_USAGE;
                }
        }
        if (messages < 1 || messages > 100000 || partitions < 1 ||
            partitions > DEMO_MAX_PARTITIONS || metrics_port < 0 || metrics_port > 65535 ||
            optind != argc) {
                fprintf(stderr, "seam demo: --messages must be 1..100000, --partitions "
                                "1..%d, --metrics-port 1..65535\n", DEMO_MAX_PARTITIONS);
                return SEAM_EXIT_USAGE;
        }
        char out_path[512];
        if (out)
                snprintf(out_path, sizeof(out_path), "%s", out);
        else
                snprintf(out_path, sizeof(out_path), "%s/seam-demo-audit-%d.jsonl",
                         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        remove(out_path);

        seam_signals_block();
        /* The demo is configured like any deployment: through a config. */
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "seam:\n"
                 "  http: {bind: \"%s\", port: %d}\n"
                 "  embedded_broker: true\n"
                 "  embedded_topics: [{name: %s, partitions: %d}]\n"
                 "  shutdown_timeout_ms: 10000\n"
                 "  log_format: logfmt\n"
                 "  log_level: info\n"
                 "kafka:\n"
                 "  session.timeout.ms: 6000\n"
                 "  auto.offset.reset: earliest\n"
                 "consumers:\n"
                 "  - name: order-audit\n"
                 "    plugin: order_audit\n"
                 "    topics: [%s]\n"
                 "    group_id: %s\n"
                 "    commit_interval_ms: 500\n"
                 "    config:\n"
                 "      path: \"%s\"\n",
                 metrics_bind, metrics_port, DEMO_TOPIC, partitions, DEMO_TOPIC, DEMO_GROUP,
                 out_path);
        struct seam_config *cfg;
        char err[2048];
        if (seam_config_parse(yaml, strlen(yaml), "<demo>", &cfg, err, sizeof(err))) {
                fprintf(stderr, "seam demo: %s\n", err);
                return SEAM_EXIT_CONFIG;
        }
        seam_cli_setup_log(cfg, NULL, NULL);

        struct demo d = {.partitions = partitions};
        int rc = seam_runtime_open(cfg, 1, &d.rt, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam demo: %s\n", err);
                seam_config_destroy(cfg);
                return seam_err_exit_code(rc);
        }
        d.bootstrap = seam_embedded_bootstraps(seam_runtime_embedded(d.rt));
        printf("seam demo: embedded broker at %s\n", d.bootstrap);
        printf("seam demo: producing %d order events to %s (%d partitions)\n", messages,
               DEMO_TOPIC, partitions);
        if (produce_stream(d.bootstrap, messages, partitions, d.end)) {
                seam_runtime_destroy(d.rt);
                seam_config_destroy(cfg);
                return SEAM_EXIT_KAFKA;
        }
        int64_t started = seam_mono_ms();
        d.deadline = started + 120000;
        if ((rc = seam_runtime_start(d.rt, err, sizeof(err)))) {
                fprintf(stderr, "seam demo: %s\n", err);
                seam_runtime_destroy(d.rt);
                seam_config_destroy(cfg);
                return seam_err_exit_code(rc);
        }
        printf("seam demo: consuming with plugin order_audit (group %s)...\n", DEMO_GROUP);
        if (seam_runtime_http_port(d.rt) > 0)
                printf("seam demo: metrics at http://%s:%d/metrics (also /healthz, /readyz)\n",
                       metrics_bind, seam_runtime_http_port(d.rt));
        struct live lv = {.bootstrap = d.bootstrap, .partitions = partitions, .next = messages};
        pthread_t live_thread;
        int live_started = 0;
        if (keep_running) {
                printf("seam demo: producing %d events/s until SIGTERM or Ctrl-C\n", DEMO_LIVE_RATE);
                live_started = pthread_create(&live_thread, NULL, live_main, &lv) == 0;
        }
        fflush(stdout);
        int code = seam_runtime_wait(d.rt, keep_running ? NULL : demo_done, &d);
        if (live_started) {
                atomic_store(&lv.stop, 1);
                pthread_join(live_thread, NULL);
                /* Live messages after the drain are not committed: report
                 * against the offsets as the broker has them now. */
                rd_kafka_t *q = demo_producer(d.bootstrap);
                if (q) {
                        seam_kafka_high_watermarks(q, DEMO_TOPIC, partitions, d.end, 5000, err,
                                                   sizeof(err));
                        rd_kafka_destroy(q);
                }
        }
        struct seam_instance_counters k;
        seam_instance_counters(seam_runtime_instance(d.rt, 0), &k);
        int64_t elapsed = seam_mono_ms() - started;

        /* Read the committed offsets again after the drain: what the broker
         * holds now is what a restart would resume from. */
        int queried = seam_kafka_committed(d.bootstrap, NULL, DEMO_GROUP, DEMO_TOPIC, partitions,
                                           d.committed, 5000, err, sizeof(err)) == 0;
        int ok = !d.timed_out && code == SEAM_EXIT_OK && !keep_running && queried;
        printf("\n%-10s %12s %12s\n", "partition", "end offset", "committed");
        int64_t total_end = 0;
        for (int p = 0; p < partitions; p++) {
                printf("%-10d %12lld %12lld\n", p, (long long)d.end[p],
                       (long long)d.committed[p]);
                total_end += d.end[p];
                ok = ok && d.committed[p] == d.end[p];
        }
        long lines = count_lines(out_path);
        printf("\nmessages produced:   %lld\n"
               "messages handled:    %llu (retried %llu, poison %llu)\n"
               "audit records:       %ld in %s\n"
               "%s %.1f s (includes the ~3 s first group join)\n",
               (long long)total_end, (unsigned long long)k.handled,
               (unsigned long long)k.retried, (unsigned long long)k.poisoned, lines, out_path,
               keep_running ? "run time:           " : "time to all committed:", (double)elapsed / 1000.0);
        if (keep_running) {
                /* Stopped by a signal mid-stream: what was handled is
                 * committed; the rest waits for the next run. */
                printf("result: stopped (exit %d); committed offsets above are where a "
                       "restart resumes\n", code);
                seam_runtime_destroy(d.rt);
                seam_config_destroy(cfg);
                return code;
        }
        printf("result: %s\n", ok ? "OK: every message handled and committed"
                                  : d.timed_out ? "FAILED: not everything was committed in 120 s"
                                                : "FAILED");
        seam_runtime_destroy(d.rt);
        seam_config_destroy(cfg);
        if (!ok)
                return code != SEAM_EXIT_OK ? code : SEAM_EXIT_RUNTIME;
        return SEAM_EXIT_OK;
}
