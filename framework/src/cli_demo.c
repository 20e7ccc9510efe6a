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
#include "registry.h"
#include "runtime.h"
#include "wire.h"

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

/* The schemas folder: $SEAM_SCHEMAS_DIR, ./schemas, beside the build
 * directory, or the installed share/seam/schemas. */
static int find_schemas_dir(char *out, size_t outlen)
{
        const char *env = getenv("SEAM_SCHEMAS_DIR");
        char exe[1024];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        const char *candidates[4] = {env, "schemas", NULL, NULL};
        char beside[1100], installed[1100];
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash)
                        *slash = '\0';
                snprintf(beside, sizeof(beside), "%s/../schemas", exe);
                snprintf(installed, sizeof(installed), "%s/../share/seam/schemas", exe);
                candidates[2] = beside;
                candidates[3] = installed;
        }
        for (int i = 0; i < 4; i++) {
                char manifest[1200];
                if (!candidates[i])
                        continue;
                snprintf(manifest, sizeof(manifest), "%s/manifest.yaml", candidates[i]);
                if (access(manifest, R_OK) == 0) {
                        snprintf(out, outlen, "%s", candidates[i]);
                        return 0;
                }
        }
        return -1;
}

/* The demo's writers: both registered versions of demo.orders-value, so
 * the consumer (reader v2) shows schema evolution: v1 records arrive with
 * the default of the field v1 lacks. */
struct demo_writers {
        struct seam_registry *reg;
        const struct seam_schema *v[2];
        avro_value_iface_t *iface[2];
};

static int writers_open(struct demo_writers *w, const char *dir)
{
        struct seam_registry_options o;
        char err[512];
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = dir;
        memset(w, 0, sizeof(*w));
        if (seam_registry_new(&o, &w->reg, err, sizeof(err)) ||
            seam_registry_by_subject(w->reg, "demo.orders-value", 1, &w->v[0], err, sizeof(err)) ||
            seam_registry_by_subject(w->reg, "demo.orders-value", 2, &w->v[1], err, sizeof(err))) {
                fprintf(stderr, "seam demo: schemas in %s: %s\n", dir, err);
                return -1;
        }
        for (int i = 0; i < 2; i++)
                w->iface[i] = avro_generic_class_from_schema(w->v[i]->avro);
        return w->iface[0] && w->iface[1] ? 0 : -1;
}

static void writers_close(struct demo_writers *w)
{
        for (int i = 0; i < 2; i++)
                if (w->iface[i])
                        avro_value_iface_decref(w->iface[i]);
        seam_registry_destroy(w->reg);
}

/* Order event i, Confluent-framed Avro; every 250th is deliberately broken
 * (not framed) so the demo shows dead-lettering, and every 100th repeats
 * the order of the event before it (a producer's retry) so it shows
 * deduplication. Returns the length. */
static size_t encode_order(struct demo_writers *w, int i, char *key, size_t keylen,
                           uint8_t *out, size_t cap)
{
        static const char *const channels[] = {"web", "app", "store"};
        char order_id[32], customer[32];
        snprintf(order_id, sizeof(order_id), "o-%06d", i % 100 == 99 ? i - 1 : i);
        snprintf(customer, sizeof(customer), "customer-%d", i % 50);
        snprintf(key, keylen, "%s", customer);
        if (i % 250 == 249)
                return (size_t)snprintf((char *)out, cap, "{\"order_id\":\"%s\"} (not Avro)",
                                        order_id);
        int version = i % 2; /* 0: v1, 1: v2 */
        avro_value_t rec, f;
        avro_generic_value_new(w->iface[version], &rec);
        avro_value_get_by_name(&rec, "order_id", &f, NULL);
        avro_value_set_string(&f, order_id);
        avro_value_get_by_name(&rec, "customer", &f, NULL);
        avro_value_set_string(&f, customer);
        avro_value_get_by_name(&rec, "amount_cents", &f, NULL);
        avro_value_set_long(&f, 100 + (i * 37) % 90000);
        avro_value_get_by_name(&rec, "currency", &f, NULL);
        avro_value_set_enum(&f, i % 3);
        avro_value_get_by_name(&rec, "created_at", &f, NULL);
        avro_value_set_long(&f, seam_wall_ms());
        if (version == 1) {
                avro_value_get_by_name(&rec, "channel", &f, NULL);
                avro_value_set_string(&f, channels[i % 3]);
        }
        uint8_t body[512];
        avro_writer_t wr = avro_writer_memory((char *)body, sizeof(body));
        size_t n = 0;
        if (avro_value_write(wr, &rec) == 0 &&
            seam_wire_frame(w->v[version]->id, body, (size_t)avro_writer_tell(wr), out, cap, &n))
                n = 0;
        avro_writer_free(wr);
        avro_value_decref(&rec);
        return n;
}

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

/* Produces order event number i, keyed by customer. */
static int produce_order(rd_kafka_t *rk, struct demo_writers *w, int i, int partitions)
{
        char key[32];
        uint8_t value[512];
        size_t n = encode_order(w, i, key, sizeof(key), value, sizeof(value));
        if (!n) {
                fprintf(stderr, "seam demo: could not encode order %d\n", i);
                return -1;
        }
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

static int produce_stream(const char *bootstrap, struct demo_writers *w, int messages,
                          int partitions, int64_t *end)
{
        char err[512];
        rd_kafka_t *rk = demo_producer(bootstrap);
        if (!rk)
                return -1;
        for (int i = 0; i < messages; i++) {
                if (produce_order(rk, w, i, partitions)) {
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
        struct demo_writers *w;
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
                if (produce_order(rk, lv->w, lv->next++, lv->partitions))
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
        char dedup_path[560];
        snprintf(dedup_path, sizeof(dedup_path), "%s.dedup", out_path);
        remove(dedup_path);
        snprintf(dedup_path, sizeof(dedup_path), "%s.dedup-lock", out_path);
        remove(dedup_path);

        char schemas[1024];
        struct demo_writers writers;
        if (find_schemas_dir(schemas, sizeof(schemas))) {
                fprintf(stderr, "seam demo: no schemas folder (schemas/manifest.yaml) found; run "
                                "from the repository or set SEAM_SCHEMAS_DIR\n");
                return SEAM_EXIT_CONFIG;
        }
        if (writers_open(&writers, schemas)) {
                writers_close(&writers);
                return SEAM_EXIT_CONFIG;
        }
        seam_signals_block();
        /* The demo is configured like any deployment: through a config. */
        char yaml[3072];
        snprintf(yaml, sizeof(yaml),
                 "seam:\n"
                 "  http: {bind: \"%s\", port: %d}\n"
                 "  embedded_broker: true\n"
                 "  embedded_topics: [{name: %s, partitions: %d}, {name: %s.dlq, partitions: 1}]\n"
                 "  registry: {type: local, dir: \"%s\"}\n"
                 "  dedup: {embedded_path: \"%s.dedup\"}\n"
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
                 "    schema:\n"
                 "      subjects: [demo.orders-value]\n"
                 "      reader: {subject: demo.orders-value, version: 2}\n"
                 "    idempotency: {key: {field: order_id}, store: embedded}\n"
                 "    config:\n"
                 "      path: \"%s\"\n",
                 metrics_bind, metrics_port, DEMO_TOPIC, partitions, DEMO_TOPIC, schemas, out_path,
                 DEMO_TOPIC, DEMO_GROUP, out_path);
        struct seam_config *cfg;
        char err[2048];
        if (seam_config_parse(yaml, strlen(yaml), "<demo>", &cfg, err, sizeof(err))) {
                fprintf(stderr, "seam demo: %s\n", err);
                writers_close(&writers);
                return SEAM_EXIT_CONFIG;
        }
        seam_cli_setup_log(cfg, NULL, NULL);

        struct demo d = {.partitions = partitions};
        int rc = seam_runtime_open(cfg, 1, &d.rt, err, sizeof(err));
        if (rc) {
                fprintf(stderr, "seam demo: %s\n", err);
                seam_config_destroy(cfg);
                writers_close(&writers);
                return seam_err_exit_code(rc);
        }
        d.bootstrap = seam_embedded_bootstraps(seam_runtime_embedded(d.rt));
        printf("seam demo: embedded broker at %s\n", d.bootstrap);
        printf("seam demo: producing %d order events to %s (%d partitions)\n", messages,
               DEMO_TOPIC, partitions);
        if (produce_stream(d.bootstrap, &writers, messages, partitions, d.end)) {
                writers_close(&writers);
                seam_runtime_destroy(d.rt);
                seam_config_destroy(cfg);
                return SEAM_EXIT_KAFKA;
        }
        int64_t started = seam_mono_ms();
        d.deadline = started + 120000;
        if ((rc = seam_runtime_start(d.rt, err, sizeof(err)))) {
                fprintf(stderr, "seam demo: %s\n", err);
                writers_close(&writers);
                seam_runtime_destroy(d.rt);
                seam_config_destroy(cfg);
                return seam_err_exit_code(rc);
        }
        printf("seam demo: consuming with plugin order_audit (group %s)...\n", DEMO_GROUP);
        if (seam_runtime_http_port(d.rt) > 0)
                printf("seam demo: metrics at http://%s:%d/metrics (also /healthz, /readyz)\n",
                       metrics_bind, seam_runtime_http_port(d.rt));
        struct live lv = {.bootstrap = d.bootstrap, .w = &writers, .partitions = partitions,
                          .next = messages};
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
        writers_close(&writers);
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
        /* Every offset ended handled or dead-lettered, none twice. */
        ok = ok && (int64_t)(k.handled + k.dead_lettered + k.duplicates) == total_end;
        long lines = count_lines(out_path);
        printf("\nmessages produced:   %lld\n"
               "messages handled:    %llu (retried %llu)\n"
               "dead-lettered:       %llu to %s.dlq (the deliberately broken ones)\n"
               "duplicates skipped:  %llu (same order_id as an earlier event)\n"
               "audit records:       %ld in %s\n"
               "%s %.1f s (includes the ~3 s first group join)\n",
               (long long)total_end, (unsigned long long)k.handled,
               (unsigned long long)k.retried, (unsigned long long)k.dead_lettered, DEMO_TOPIC,
               (unsigned long long)k.duplicates,
               lines, out_path,
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
