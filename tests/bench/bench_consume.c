/* bench_consume.c - consumer throughput: a minimal librdkafka poll loop
 * against `seam run` hosting the no-op plugin, on the same data, in the same
 * run, with the same librdkafka consumer properties. Not a test: it prints
 * numbers and asserts nothing about speed (it fails only when a consumer
 * does not finish). See tests/bench/README.md, "Consumer throughput".
 *
 * Processes, so that each measured consumer is alone in its process and its
 * peak RSS comes from wait4():
 *   - this process (the coordinator): produces, spawns, polls, prints;
 *   - a launcher forked first, while this process is still small, which
 *     forks+execs every measured child and reports its wait4() rusage
 *     (ru_maxrss of a child also covers the image it was forked from, so
 *     forking from the coordinator after it produced would inflate it);
 *   - without --bootstrap, the embedded broker (the mock cluster) in a
 *     process of its own;
 *   - per run: `bench_consume --child-raw ...` (the raw loop) or
 *     `seam run -c cfg.yaml`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "embedded.h"
#include "kafka_util.h"
#include "testutil.h"

#define DEFAULT_MESSAGES 200000L
#define DEFAULT_PARTITIONS 8
#define DEFAULT_RUNS 3
#define VALUE_SIZE 48
#define KEY_SIZE 8
/* The mock drops the oldest batches of a partition above 5 MiB
 * (rdkafka_mock.c, mpart->max_size); a consumer waiting for every message
 * would then never finish. Stay well below, counting the v2 record
 * overhead (length, attributes, deltas, lengths: ~10 bytes) generously. */
#define MOCK_PARTITION_BUDGET (4L * 1024 * 1024)
#define RECORD_BYTES (VALUE_SIZE + KEY_SIZE + 16)
#define POLL_INTERVAL_MS 50
#define STOP_TIMEOUT_MS 30000

/* The consumer keys of seam's YAML (--seam-opt adds to them). format raw:
 * the values are plain bytes, so no framing, registry or decoding stage
 * runs; this measures the host. A commit after every batch, as far as seam
 * has such a thing: a periodic commit of everything handled, every 200 ms.
 * Workers and buffering stay seam's defaults; the output shows them. */
static const char *const base_seam_opts[] = {
        "format", "raw",
        "commit_interval_ms", "200",
        NULL,
};

/* The librdkafka consumer properties of BOTH consumers (-X adds to them).
 * queued.min.messages: the default (100000) caps the whole queue and, once
 * exceeded, fetching resumes only on a 1 s timer, so the default config
 * measures that timer rather than the consumer (see the README). The
 * session timeout is the mock's recommended value; it also suits Kafka. */
static const char *const base_props[] = {
        "auto.offset.reset", "earliest",
        "queued.min.messages", "1000000",
        "session.timeout.ms", "6000",
        NULL,
};

/* Settings printed with the results: the ones above plus the librdkafka
 * defaults that shape fetching. */
static const char *const shown_props[] = {
        "auto.offset.reset", "queued.min.messages", "queued.max.messages.kbytes",
        "fetch.max.bytes", "max.partition.fetch.bytes", "fetch.min.bytes",
        "fetch.wait.max.ms", "session.timeout.ms", "partition.assignment.strategy",
        NULL,
};

static int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int read_full(int fd, void *buf, size_t len)
{
        char *p = buf;
        size_t got = 0;
        while (got < len) {
                ssize_t r = read(fd, p + got, len - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                got += (size_t)r;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        size_t done = 0;
        while (done < len) {
                ssize_t w = write(fd, p + done, len - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                done += (size_t)w;
        }
        return 0;
}

/* ---- consumer properties ------------------------------------------------ */

/* base_props overridden/extended by -X: a NULL-terminated key, value list. */
struct props {
        const char **kv;
        size_t n; /* pairs */
};

static void props_set(struct props *p, const char *key, const char *value)
{
        for (size_t i = 0; i < p->n; i++) {
                if (!strcmp(p->kv[2 * i], key)) {
                        p->kv[2 * i + 1] = value;
                        return;
                }
        }
        const char **kv = realloc(p->kv, (2 * (p->n + 1) + 1) * sizeof(*kv));
        if (!kv) {
                fprintf(stderr, "bench_consume: out of memory\n");
                exit(1);
        }
        kv[2 * p->n] = key;
        kv[2 * p->n + 1] = value;
        kv[2 * p->n + 2] = NULL;
        p->kv = kv;
        p->n++;
}

/* -X key=value; the strings stay owned by argv. */
static int props_add_arg(struct props *p, char *arg)
{
        char *eq = strchr(arg, '=');
        if (!eq || eq == arg)
                return -1;
        *eq = '\0';
        props_set(p, arg, eq + 1);
        return 0;
}

/* The conf of the raw consumer: what seam forces (no auto commit, no auto
 * offset store), bootstrap and group, then the shared properties. */
static rd_kafka_conf_t *raw_conf(const char *bootstrap, const char *group,
                                 const struct props *p, char *errstr, size_t size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char rderr[256];
        const char *fixed[] = {"bootstrap.servers", bootstrap, "group.id", group,
                               "enable.auto.commit", "false",
                               "enable.auto.offset.store", "false", NULL};
        for (int i = 0; fixed[i]; i += 2) {
                if (rd_kafka_conf_set(conf, fixed[i], fixed[i + 1], rderr, sizeof(rderr))) {
                        snprintf(errstr, size, "%s: %s", fixed[i], rderr);
                        rd_kafka_conf_destroy(conf);
                        return NULL;
                }
        }
        for (size_t i = 0; i < p->n; i++) {
                if (rd_kafka_conf_set(conf, p->kv[2 * i], p->kv[2 * i + 1], rderr,
                                      sizeof(rderr))) {
                        snprintf(errstr, size, "%s: %s", p->kv[2 * i], rderr);
                        rd_kafka_conf_destroy(conf);
                        return NULL;
                }
        }
        return conf;
}

static int shown(const char *key)
{
        for (int i = 0; shown_props[i]; i++)
                if (!strcmp(shown_props[i], key))
                        return 1;
        return 0;
}

static void print_setting(rd_kafka_conf_t *conf, const char *key, int *col)
{
        char val[512];
        size_t len = sizeof(val);
        if (rd_kafka_conf_get(conf, key, val, &len) != RD_KAFKA_CONF_OK)
                snprintf(val, sizeof(val), "?");
        printf("%s%s=%s", *col % 3 ? " " : "\n  ", key, val);
        (*col)++;
}

static void print_settings(const struct props *p)
{
        char errstr[512];
        rd_kafka_conf_t *conf = raw_conf("127.0.0.1:9", "x", p, errstr, sizeof(errstr));
        if (!conf)
                return;
        printf("consumer properties (both consumers; seam forces the first two):\n"
               "  enable.auto.commit=false enable.auto.offset.store=false");
        int col = 0;
        for (int i = 0; shown_props[i]; i++)
                print_setting(conf, shown_props[i], &col);
        for (size_t i = 0; i < p->n; i++)
                if (!shown(p->kv[2 * i]))
                        print_setting(conf, p->kv[2 * i], &col);
        printf("\n");
        rd_kafka_conf_destroy(conf);
}

/* ---- the launcher ------------------------------------------------------- */

struct spawn_reply {
        int32_t pid; /* <= 0: fork failed, err is errno */
        int32_t err;
        int64_t t_start_us; /* just before fork() */
};

struct child_exit {
        int32_t pid;
        int32_t status;
        int64_t maxrss_kb;
        int64_t cpu_us; /* user + system */
};

static int launcher_fd = -1;
static pid_t launcher_pid = -1;

/* Request: u32 length, then log path, argv[0], argv[1], ... each
 * NUL-terminated. Replies: spawn_reply, then child_exit when it exits. */
static void launcher_main(int fd, pid_t parent)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(0);
        for (;;) {
                uint32_t len;
                if (read_full(fd, &len, sizeof(len)) < 0)
                        _exit(0); /* the coordinator is gone */
                char *buf = malloc((size_t)len + 1);
                char **argv = calloc((size_t)len + 1, sizeof(*argv));
                if (!buf || !argv || read_full(fd, buf, len) < 0)
                        _exit(1);
                buf[len] = '\0';
                const char *log_path = buf;
                size_t off = strlen(buf) + 1, argc = 0;
                while (off < len) {
                        argv[argc++] = buf + off;
                        off += strlen(buf + off) + 1;
                }
                argv[argc] = NULL;

                struct spawn_reply sr = {0, 0, now_us()};
                pid_t self = getpid();
                pid_t pid = fork();
                if (pid == 0) {
                        /* A measured child never outlives the benchmark. */
                        prctl(PR_SET_PDEATHSIG, SIGTERM);
                        if (getppid() != self)
                                _exit(127);
                        int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                        int in = open("/dev/null", O_RDONLY);
                        if (out >= 0) {
                                dup2(out, 1);
                                dup2(out, 2);
                                close(out);
                        }
                        if (in >= 0) {
                                dup2(in, 0);
                                close(in);
                        }
                        execv(argv[0], argv);
                        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                        _exit(127);
                }
                sr.pid = pid;
                sr.err = pid < 0 ? errno : 0;
                if (write_full(fd, &sr, sizeof(sr)) < 0)
                        _exit(0);
                if (pid > 0) {
                        struct child_exit ce = {pid, 0, 0, 0};
                        struct rusage ru;
                        int status;
                        while (wait4(pid, &status, 0, &ru) < 0) {
                                if (errno != EINTR)
                                        _exit(1);
                        }
                        ce.status = status;
                        ce.maxrss_kb = ru.ru_maxrss;
                        ce.cpu_us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                                    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
                        if (write_full(fd, &ce, sizeof(ce)) < 0)
                                _exit(0);
                }
                free(argv);
                free(buf);
        }
}

static int launcher_start(void)
{
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -1;
        fflush(NULL);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close(sv[0]);
                launcher_main(sv[1], parent);
        }
        close(sv[1]);
        launcher_fd = sv[0];
        launcher_pid = pid;
        return 0;
}

static int spawn(char *const argv[], const char *log_path, struct spawn_reply *sr)
{
        size_t len = strlen(log_path) + 1;
        for (int i = 0; argv[i]; i++)
                len += strlen(argv[i]) + 1;
        char *buf = malloc(sizeof(uint32_t) + len);
        if (!buf)
                return -1;
        uint32_t l32 = (uint32_t)len;
        memcpy(buf, &l32, sizeof(l32));
        char *p = buf + sizeof(l32);
        p = stpcpy(p, log_path) + 1;
        for (int i = 0; argv[i]; i++)
                p = stpcpy(p, argv[i]) + 1;
        int rc = write_full(launcher_fd, buf, sizeof(l32) + len);
        free(buf);
        if (rc < 0 || read_full(launcher_fd, sr, sizeof(*sr)) < 0)
                return -1;
        if (sr->pid <= 0) {
                fprintf(stderr, "bench_consume: fork: %s\n", strerror(sr->err));
                return -1;
        }
        return 0;
}

/* Waits up to timeout_ms for the running child's exit report: 1 if it
 * exited (*ce filled), 0 if still running, -1 if the launcher is gone. */
static int child_exited(int timeout_ms, struct child_exit *ce)
{
        struct pollfd pfd = {launcher_fd, POLLIN, 0};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
                return 0;
        if (r <= 0)
                return r < 0 ? -1 : 0;
        return read_full(launcher_fd, ce, sizeof(*ce)) < 0 ? -1 : 1;
}

/* SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns 0 if it exited on
 * the TERM, -1 if it had to be killed. */
static int stop_child(pid_t pid, struct child_exit *ce)
{
        kill(pid, SIGTERM);
        int64_t deadline = now_us() + (int64_t)STOP_TIMEOUT_MS * 1000;
        while (now_us() < deadline) {
                int r = child_exited(100, ce);
                if (r)
                        return r > 0 ? 0 : -1;
        }
        kill(pid, SIGKILL);
        child_exited(-1, ce);
        return -1;
}

/* ---- the embedded broker in its own process ----------------------------- */

static pid_t broker_pid = -1;
static int broker_fd = -1; /* closing it stops the broker */

static int broker_start(const char *topic, int partitions, char *bootstrap, size_t size)
{
        int up[2], down[2];
        if (pipe(up) < 0 || pipe(down) < 0)
                return -1;
        /* Measured children must not hold the write end: the broker stops
         * when the last one closes. */
        for (int i = 0; i < 2; i++) {
                fcntl(up[i], F_SETFD, FD_CLOEXEC);
                fcntl(down[i], F_SETFD, FD_CLOEXEC);
        }
        fflush(NULL);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                close(up[0]);
                close(down[1]);
                close(launcher_fd); /* the launcher sees EOF when we exit */
                struct seam_embedded *e = NULL;
                char err[512], line[1024];
                int rc = seam_embedded_start(1, &e, err, sizeof(err));
                if (!rc)
                        rc = seam_embedded_create_topic(e, topic, partitions, err, sizeof(err));
                if (rc)
                        snprintf(line, sizeof(line), "ERR %s\n", err);
                else
                        snprintf(line, sizeof(line), "OK %s\n", seam_embedded_bootstraps(e));
                write_full(up[1], line, strlen(line));
                close(up[1]);
                char c;
                while (read(down[0], &c, 1) != 0 && errno == EINTR)
                        ;
                seam_embedded_stop(e);
                _exit(rc ? 1 : 0);
        }
        close(up[1]);
        close(down[0]);
        broker_pid = pid;
        broker_fd = down[1];
        char line[1024];
        size_t n = 0;
        while (n + 1 < sizeof(line)) {
                ssize_t r = read(up[0], line + n, 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0 || line[n] == '\n')
                        break;
                n++;
        }
        line[n] = '\0';
        close(up[0]);
        if (strncmp(line, "OK ", 3)) {
                fprintf(stderr, "bench_consume: embedded broker: %s\n",
                        n ? line : "exited before it was ready");
                return -1;
        }
        snprintf(bootstrap, size, "%s", line + 3);
        return 0;
}

static void broker_stop(void)
{
        if (broker_pid <= 0)
                return;
        close(broker_fd);
        waitpid(broker_pid, NULL, 0);
        broker_pid = -1;
}

/* ---- topic and data ----------------------------------------------------- */

static int create_topic_admin(rd_kafka_t *rk, const char *topic, int partitions)
{
        char errstr[512];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr,
                                                        sizeof(errstr));
        if (!nt) {
                fprintf(stderr, "bench_consume: create topic %s: %s\n", topic, errstr);
                return -1;
        }
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
        int rc = -1;
        const char *why = "no answer within 60 s";
        if (ev && rd_kafka_event_error(ev)) {
                why = rd_kafka_event_error_string(ev);
        } else if (ev) {
                size_t cnt = 0;
                const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
                    rd_kafka_event_CreateTopics_result(ev), &cnt);
                if (cnt == 1 && rd_kafka_topic_result_error(res[0]))
                        why = rd_kafka_topic_result_error_string(res[0]);
                else if (cnt == 1)
                        rc = 0;
                else
                        why = "no topic in the result";
        }
        if (rc)
                fprintf(stderr, "bench_consume: create topic %s: %s\n", topic, why);
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy(nt);
        if (rc)
                return rc;
        /* Kafka answers before every broker has the metadata. */
        int64_t deadline = now_us() + 30 * 1000000LL;
        while (seam_kafka_partition_count(rk, topic, 5000) != partitions) {
                if (now_us() > deadline) {
                        fprintf(stderr, "bench_consume: topic %s: metadata did not show "
                                        "%d partitions within 30 s\n", topic, partitions);
                        return -1;
                }
                sleep_ms(100);
        }
        return 0;
}

static long delivered_ok, delivered_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        if (m->err) {
                if (!delivered_failed)
                        fprintf(stderr, "bench_consume: delivery failed: %s\n",
                                rd_kafka_err2str(m->err));
                delivered_failed++;
        } else {
                delivered_ok++;
        }
}

/* Produces n messages round-robin over the partitions, so every partition
 * holds the same count; fills end[] with the end offsets. */
static int produce(const char *bootstrap, const char *topic, int partitions, int create,
                   long n, int64_t *end, double *secs)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char rderr[512];
        /* Batching makes producing quick and keeps the mock's per-batch
         * bookkeeping small; none of this affects how consumers fetch. */
        const char *pp[] = {"bootstrap.servers", bootstrap, "linger.ms", "20",
                            "batch.num.messages", "10000", "queue.buffering.max.messages",
                            "1000000", "acks", "all", NULL};
        for (int i = 0; pp[i]; i += 2) {
                if (rd_kafka_conf_set(conf, pp[i], pp[i + 1], rderr, sizeof(rderr))) {
                        fprintf(stderr, "bench_consume: producer %s: %s\n", pp[i], rderr);
                        rd_kafka_conf_destroy(conf);
                        return -1;
                }
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
        if (!rk) {
                fprintf(stderr, "bench_consume: producer: %s\n", rderr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        int rc = create ? create_topic_admin(rk, topic, partitions) : 0;
        int64_t t0 = now_us();
        char value[VALUE_SIZE], key[KEY_SIZE + 1];
        for (long i = 0; !rc && i < n; i++) {
                snprintf(key, sizeof(key), "%08lu", (unsigned long)i % 100000000UL);
                /* Bytes that vary per message, like real records (no
                 * compression is configured, so this is cosmetic). */
                for (int b = 0; b < VALUE_SIZE; b++)
                        value[b] = (char)('a' + (i * 7 + b) % 26);
                rd_kafka_resp_err_t err;
                while ((err = rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(topic),
                            RD_KAFKA_V_PARTITION((int32_t)(i % partitions)),
                            RD_KAFKA_V_KEY(key, KEY_SIZE), RD_KAFKA_V_VALUE(value, VALUE_SIZE),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 10);
                if (err) {
                        fprintf(stderr, "bench_consume: produce: %s\n", rd_kafka_err2str(err));
                        rc = -1;
                }
                if (i % 10000 == 0)
                        rd_kafka_poll(rk, 0);
        }
        if (!rc && rd_kafka_flush(rk, 120000)) {
                fprintf(stderr, "bench_consume: produce: not all delivered within 120 s\n");
                rc = -1;
        }
        *secs = (double)(now_us() - t0) / 1e6;
        if (!rc && (delivered_failed || delivered_ok != n)) {
                fprintf(stderr, "bench_consume: produce: %ld delivered, %ld failed of %ld\n",
                        delivered_ok, delivered_failed, n);
                rc = -1;
        }
        char errstr[512];
        if (!rc && seam_kafka_high_watermarks(rk, topic, partitions, end, 10000, errstr,
                                              sizeof(errstr))) {
                fprintf(stderr, "bench_consume: %s\n", errstr);
                rc = -1;
        }
        rd_kafka_destroy(rk);
        if (rc)
                return rc;
        int64_t sum = 0;
        for (int p = 0; p < partitions; p++)
                sum += end[p];
        if (sum != n) {
                fprintf(stderr, "bench_consume: the topic holds %" PRId64 " messages, produced "
                                "%ld (not a fresh topic?)\n", sum, n);
                return -1;
        }
        return 0;
}

/* ---- the raw consumer (a child process) --------------------------------- */

static int64_t raw_assigned_us;

static void raw_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        (void)opaque;
        int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                if (!raw_assigned_us)
                        raw_assigned_us = now_us();
                if (coop)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
        } else if (coop) {
                error = rd_kafka_incremental_unassign(rk, parts);
        } else {
                rd_kafka_assign(rk, NULL);
        }
        if (error) {
                fprintf(stderr, "raw: rebalance: %s\n", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

/* argv: --child-raw BOOTSTRAP TOPIC GROUP EXPECT PARTITIONS RESULT [K=V...]
 * Writes "assigned_us first_us last_us committed_us count" to RESULT. */
static int raw_child_main(int argc, char **argv)
{
        if (argc < 8) {
                fprintf(stderr, "raw: bad arguments\n");
                return 2;
        }
        const char *bootstrap = argv[2], *topic = argv[3], *group = argv[4];
        long expect = strtol(argv[5], NULL, 10);
        int partitions = (int)strtol(argv[6], NULL, 10);
        const char *result = argv[7];
        struct props p = {NULL, 0};
        for (int i = 8; i < argc; i++) {
                if (props_add_arg(&p, argv[i]) < 0) {
                        fprintf(stderr, "raw: bad property %s\n", argv[i]);
                        free(p.kv);
                        return 2;
                }
        }
        char errstr[512];
        rd_kafka_conf_t *conf = raw_conf(bootstrap, group, &p, errstr, sizeof(errstr));
        free(p.kv); /* the conf has copies */
        if (!conf) {
                fprintf(stderr, "raw: %s\n", errstr);
                return 2;
        }
        rd_kafka_conf_set_rebalance_cb(conf, raw_rebalance_cb);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "raw: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 2;
        }
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                fprintf(stderr, "raw: subscribe: %s\n", rd_kafka_err2str(err));
                rd_kafka_destroy(rk);
                return 1;
        }

        int64_t *next = calloc((size_t)partitions, sizeof(*next));
        long count = 0;
        int64_t first = 0, deadline = now_us() + (60 + expect / 2000) * 1000000LL;
        while (count < expect && now_us() < deadline) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
                if (!rkm)
                        continue;
                if (rkm->err) {
                        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "raw: consume: %s\n",
                                        rd_kafka_message_errstr(rkm));
                } else {
                        if (!count)
                                first = now_us();
                        count++;
                        if (next && rkm->partition >= 0 && rkm->partition < partitions &&
                            rkm->offset + 1 > next[rkm->partition])
                                next[rkm->partition] = rkm->offset + 1;
                }
                rd_kafka_message_destroy(rkm);
        }
        int64_t last = now_us();
        int rc = count == expect ? 0 : 1;
        if (rc)
                fprintf(stderr, "raw: saw %ld of %ld messages before the deadline\n", count,
                        expect);

        /* Commit once, at the end, what was consumed: the equivalent of
         * seam's commit after handling. */
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(partitions);
        for (int i = 0; next && i < partitions; i++)
                if (next[i] > 0)
                        rd_kafka_topic_partition_list_add(offs, topic, i)->offset = next[i];
        err = offs->cnt ? rd_kafka_commit(rk, offs, 0) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_topic_partition_list_destroy(offs);
        int64_t committed = now_us();
        if (err) {
                fprintf(stderr, "raw: commit: %s\n", rd_kafka_err2str(err));
                rc = 1;
        }
        free(next);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);

        FILE *f = fopen(result, "w");
        if (!f || fprintf(f, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %ld\n",
                          raw_assigned_us, first, last, committed, count) < 0 ||
            fclose(f) != 0) {
                fprintf(stderr, "raw: cannot write %s\n", result);
                return 1;
        }
        return rc;
}

/* ---- one measured run ---------------------------------------------------- */

struct bench {
        const char *bootstrap;
        const char *topic;
        int partitions;
        long messages;
        const int64_t *end;
        const struct props *props;
        const char *self_exe;
        const char *seam_bin;
        const char *plugin_path;
        const char *dir;
        const struct props *seam_opts; /* consumer keys of the seam YAML */
        const char *dedup;             /* none, embedded or postgres: this seam run */
        const char *pg_dsn;            /* for postgres */
};

#define MAX_DEDUP_MODES 3

struct result {
        int ok;
        double start_to_first_s; /* exec, connect, group join, first fetch */
        double join_s;           /* raw only: start to partitions assigned */
        double first_to_last_s;  /* every message handled */
        double first_to_commit_s;
        double start_to_commit_s;
        double rate;             /* messages / first_to_last */
        double rss_mib;
        double cpu_s;
};

static void show_log_tail(const char *path)
{
        size_t len;
        char *text = tu_read_file(path, &len);
        if (!text)
                return;
        size_t from = len > 3000 ? len - 3000 : 0;
        fprintf(stderr, "---- last lines of %s ----\n%s\n", path, text + from);
        free(text);
}

static int exit_ok(const struct child_exit *ce, const char *what, const char *log)
{
        if (WIFEXITED(ce->status) && WEXITSTATUS(ce->status) == 0)
                return 1;
        if (WIFEXITED(ce->status))
                fprintf(stderr, "bench_consume: %s exited with %d\n", what,
                        WEXITSTATUS(ce->status));
        else
                fprintf(stderr, "bench_consume: %s killed by signal %d\n", what,
                        WTERMSIG(ce->status));
        show_log_tail(log);
        return 0;
}

static int run_raw(const struct bench *b, int run, struct result *r)
{
        char group[128], result[512], log[512], expect[32], parts[32];
        snprintf(group, sizeof(group), "%s-raw-%d", b->topic, run);
        snprintf(result, sizeof(result), "%s/raw-%d.result", b->dir, run);
        snprintf(log, sizeof(log), "%s/raw-%d.log", b->dir, run);
        snprintf(expect, sizeof(expect), "%ld", b->messages);
        snprintf(parts, sizeof(parts), "%d", b->partitions);
        char **argv = calloc(9 + b->props->n, sizeof(*argv));
        if (!argv)
                return -1;
        int a = 0;
        argv[a++] = (char *)b->self_exe;
        argv[a++] = "--child-raw";
        argv[a++] = (char *)b->bootstrap;
        argv[a++] = (char *)b->topic;
        argv[a++] = group;
        argv[a++] = expect;
        argv[a++] = parts;
        argv[a++] = result;
        char **kv = calloc(b->props->n + 1, sizeof(*kv));
        for (size_t i = 0; kv && i < b->props->n; i++) {
                size_t n = strlen(b->props->kv[2 * i]) + strlen(b->props->kv[2 * i + 1]) + 2;
                if ((kv[i] = malloc(n)))
                        snprintf(kv[i], n, "%s=%s", b->props->kv[2 * i],
                                 b->props->kv[2 * i + 1]);
                argv[a++] = kv[i];
        }
        argv[a] = NULL;
        struct spawn_reply sr;
        struct child_exit ce;
        int rc = kv ? spawn(argv, log, &sr) : -1;
        for (size_t i = 0; kv && i < b->props->n; i++)
                free(kv[i]);
        free(kv);
        free(argv);
        if (rc)
                return -1;
        if (child_exited(-1, &ce) <= 0)
                return -1;
        if (!exit_ok(&ce, "the raw consumer", log))
                return -1;
        long long assigned, first, last, committed;
        long count;
        char *text = tu_read_file(result, NULL);
        if (!text || sscanf(text, "%lld %lld %lld %lld %ld", &assigned, &first, &last,
                            &committed, &count) != 5) {
                fprintf(stderr, "bench_consume: no result in %s\n", result);
                free(text);
                return -1;
        }
        free(text);
        r->ok = 1;
        r->join_s = (double)(assigned - sr.t_start_us) / 1e6;
        r->start_to_first_s = (double)(first - sr.t_start_us) / 1e6;
        r->first_to_last_s = (double)(last - first) / 1e6;
        r->first_to_commit_s = (double)(committed - first) / 1e6;
        r->start_to_commit_s = (double)(committed - sr.t_start_us) / 1e6;
        r->rate = (double)b->messages / r->first_to_last_s;
        r->rss_mib = (double)ce.maxrss_kb / 1024.0;
        r->cpu_s = (double)ce.cpu_us / 1e6;
        return 0;
}

/* Reads the no-op plugin's marks; 0 where a mark is missing. */
static void read_stamps(const char *path, int64_t *first, int64_t *done)
{
        char *text = tu_read_file(path, NULL);
        if (!text)
                return;
        for (char *line = text; line && *line;) {
                long long v;
                if (sscanf(line, "first %lld", &v) == 1)
                        *first = v;
                else if (sscanf(line, "done %lld", &v) == 1)
                        *done = v;
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        free(text);
}

static int all_committed(rd_kafka_t *rk, const struct bench *b)
{
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(b->partitions);
        for (int p = 0; p < b->partitions; p++)
                rd_kafka_topic_partition_list_add(list, b->topic, p);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, list, 5000);
        int all = !err;
        for (int p = 0; all && p < b->partitions; p++)
                all = !list->elems[p].err && list->elems[p].offset == b->end[p];
        rd_kafka_topic_partition_list_destroy(list);
        return all;
}

static int write_seam_config(const struct bench *b, int run, const char *group,
                             const char *stamps, const char *path)
{
        FILE *f = fopen(path, "w");
        if (!f) {
                fprintf(stderr, "bench_consume: cannot write %s: %s\n", path, strerror(errno));
                return -1;
        }
        fprintf(f, "# written by bench_consume, run %d\nseam:\n  shutdown_timeout_ms: 30000\n",
                run);
        /* Each run its own store: a fresh group must not find the marks of
         * the run before it. */
        if (!strcmp(b->dedup, "embedded"))
                fprintf(f, "  dedup: {embedded_path: \"%s/dedup-%s-%d.mdb\"}\n", b->dir, group, run);
        else if (!strcmp(b->dedup, "postgres"))
                fprintf(f, "  dedup: {postgres_dsn: \"%s\", table: bench_dedup_%d_%ld}\n", b->pg_dsn,
                        run, (long)getpid());
        fprintf(f, "kafka:\n  bootstrap.servers: \"%s\"\n", b->bootstrap);
        for (size_t i = 0; i < b->props->n; i++)
                fprintf(f, "  %s: \"%s\"\n", b->props->kv[2 * i], b->props->kv[2 * i + 1]);
        fprintf(f,
                "consumers:\n"
                "  - name: bench\n"
                "    plugin: \"%s\"\n"
                "    topics: [\"%s\"]\n"
                "    group_id: \"%s\"\n",
                b->plugin_path, b->topic, group);
        for (size_t i = 0; i < b->seam_opts->n; i++)
                fprintf(f, "    %s: %s\n", b->seam_opts->kv[2 * i], b->seam_opts->kv[2 * i + 1]);
        if (strcmp(b->dedup, "none"))
                fprintf(f, "    idempotency: {store: %s}\n", b->dedup);
        fprintf(f,
                "    config:\n"
                "      stamp_file: \"%s\"\n"
                "      expect: %ld\n",
                stamps, b->messages);
        if (fclose(f) != 0) {
                fprintf(stderr, "bench_consume: cannot write %s\n", path);
                return -1;
        }
        return 0;
}

/* The seam settings in effect, read back through seam's own config loader,
 * so the output shows seam's defaults as they are today. */
static int print_seam_settings(const struct bench *b)
{
        char path[512], stamps[512], errstr[2048];
        snprintf(path, sizeof(path), "%s/seam-preview.yaml", b->dir);
        snprintf(stamps, sizeof(stamps), "%s/seam-preview.stamps", b->dir);
        if (write_seam_config(b, 0, "preview", stamps, path) < 0)
                return -1;
        struct seam_config *cfg;
        if (seam_config_load(path, &cfg, errstr, sizeof(errstr))) {
                fprintf(stderr, "bench_consume: seam config: %s\n", errstr);
                return -1;
        }
        const struct seam_consumer_config *cc = &cfg->consumers[0];
        printf("seam: %s\n  plugin %s\n  set here:", b->seam_bin, b->plugin_path);
        for (size_t i = 0; i < b->seam_opts->n; i++)
                printf(" %s=%s", b->seam_opts->kv[2 * i], b->seam_opts->kv[2 * i + 1]);
        printf("\n  in effect: workers=%d max_buffered_per_partition=%d "
               "commit_interval_ms=%lld\n", cc->workers, cc->max_buffered_per_partition,
               (long long)cc->commit_interval_ms);
        seam_config_destroy(cfg);
        return 0;
}

static int run_seam(const struct bench *b, int run, struct result *r)
{
        char group[128], cfg_path[512], stamps[512], log[512], errstr[512];
        /* One group and one set of files per run and dedup mode. */
        snprintf(group, sizeof(group), "%s-seam-%s-%d", b->topic, b->dedup, run);
        snprintf(cfg_path, sizeof(cfg_path), "%s/seam-%s-%d.yaml", b->dir, b->dedup, run);
        snprintf(stamps, sizeof(stamps), "%s/seam-%s-%d.stamps", b->dir, b->dedup, run);
        snprintf(log, sizeof(log), "%s/seam-%s-%d.log", b->dir, b->dedup, run);

        if (write_seam_config(b, run, group, stamps, cfg_path) < 0)
                return -1;

        /* Created before seam starts so its connection setup is not part of
         * the measurement; it only reads the group's committed offsets. */
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, b->bootstrap, NULL, group,
                                                errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "bench_consume: %s\n", errstr);
                return -1;
        }
        char *argv[] = {(char *)b->seam_bin, "run", "-c", cfg_path, NULL};
        struct spawn_reply sr;
        struct child_exit ce;
        if (spawn(argv, log, &sr)) {
                rd_kafka_destroy(rk);
                return -1;
        }
        int64_t first = 0, done = 0, committed = 0;
        int64_t deadline = sr.t_start_us + (60 + b->messages / 2000) * 1000000LL;
        int rc = 0;
        while (!committed) {
                int ex = child_exited(POLL_INTERVAL_MS, &ce);
                if (ex) {
                        if (ex > 0 &&
                            exit_ok(&ce, "seam (before it had committed everything)", log))
                                show_log_tail(log);
                        fprintf(stderr, "bench_consume: seam stopped early\n");
                        rd_kafka_destroy(rk);
                        return -1;
                }
                /* The broker is asked only once the plugin saw everything,
                 * so the polling does not compete with seam for the CPU
                 * while it consumes. */
                if (!done)
                        read_stamps(stamps, &first, &done);
                if (done && all_committed(rk, b))
                        committed = now_us();
                if (!committed && now_us() > deadline) {
                        fprintf(stderr, "bench_consume: seam run %d: %s within %lld s\n", run,
                                done ? "committed offsets did not reach the end offsets"
                                     : "the plugin did not see every message",
                                (long long)((deadline - sr.t_start_us) / 1000000));
                        rc = -1;
                        break;
                }
        }
        rd_kafka_destroy(rk);
        if (stop_child(sr.pid, &ce) < 0) {
                fprintf(stderr, "bench_consume: seam did not exit within %d s of SIGTERM\n",
                        STOP_TIMEOUT_MS / 1000);
                show_log_tail(log);
                return -1;
        }
        if (!exit_ok(&ce, "seam", log) || rc)
                return -1;
        r->ok = 1;
        r->join_s = -1;
        r->start_to_first_s = (double)(first - sr.t_start_us) / 1e6;
        r->first_to_last_s = (double)(done - first) / 1e6;
        r->first_to_commit_s = (double)(committed - first) / 1e6;
        r->start_to_commit_s = (double)(committed - sr.t_start_us) / 1e6;
        r->rate = (double)b->messages / r->first_to_last_s;
        r->rss_mib = (double)ce.maxrss_kb / 1024.0;
        r->cpu_s = (double)ce.cpu_us / 1e6;
        return 0;
}

/* ---- report --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(const struct result *rs, int n, double (*get)(const struct result *))
{
        double *v = malloc((size_t)n * sizeof(*v));
        if (!v || !n) {
                free(v);
                return 0;
        }
        for (int i = 0; i < n; i++)
                v[i] = get(&rs[i]);
        qsort(v, (size_t)n, sizeof(*v), cmp_double);
        double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        free(v);
        return m;
}

static double get_rate(const struct result *r) { return r->rate; }
static double get_commit_rate(const struct result *r)
{
        return r->first_to_commit_s > 0 ? 1.0 / r->first_to_commit_s : 0;
}
static double get_start_to_commit(const struct result *r) { return r->start_to_commit_s; }
static double get_cpu(const struct result *r) { return r->cpu_s; }

/* The machine's load average: wall-clock numbers from a busy machine say
 * more about the neighbours than about the consumers. */
static void print_loadavg(const char *when)
{
        char *text = tu_read_file("/proc/loadavg", NULL);
        double l1, l5;
        if (text && sscanf(text, "%lf %lf", &l1, &l5) == 2)
                printf("load average %s: %.2f (1 min) %.2f (5 min) on %ld CPUs\n", when, l1, l5,
                       sysconf(_SC_NPROCESSORS_ONLN));
        free(text);
}

static void print_row(int run, const char *who, const struct result *r)
{
        char join[16];
        if (r->join_s >= 0)
                snprintf(join, sizeof(join), "%5.2f", r->join_s);
        else
                snprintf(join, sizeof(join), "%5s", "-");
        printf("%3d  %-4s %s %7.2f %11.3f %9.0f %10.3f %9.2f %6.2f %8.1f\n", run, who, join,
               r->start_to_first_s, r->first_to_last_s, r->rate, r->first_to_commit_s,
               r->start_to_commit_s, r->cpu_s, r->rss_mib);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *out)
{
        fprintf(out,
                "usage: bench_consume [--messages N] [--partitions P] [--runs R]\n"
                "                     [--bootstrap HOST:PORT] [--seam PATH] [--plugin-dir DIR]\n"
                "                     [-X key=value ...] [--seam-opt key=value ...] [--keep]\n"
                "                     [--dedup none,embedded,postgres] [--pg-dsn DSN]\n"
                "\n"
                "Produces N messages (%d-byte values, %d-byte keys) round-robin to P partitions\n"
                "of a fresh topic, then R times, alternating, consumes all of them with a\n"
                "minimal librdkafka poll loop (raw) and with `seam run` hosting the no-op\n"
                "plugin, each in a fresh group and its own process; prints msgs/s of both,\n"
                "the ratio seam/raw and peak RSS. Not a test: it asserts nothing about speed.\n"
                "\n"
                "  --messages N       default %ld (the embedded broker keeps ~5 MiB per\n"
                "                     partition: larger data needs --bootstrap)\n"
                "  --partitions P     default %d\n"
                "  --runs R           default %d (each consumer R times)\n"
                "  --bootstrap H:P    an existing broker (real Kafka); default: start the\n"
                "                     embedded broker (mock cluster) in a process of its own\n"
                "  --seam PATH        the seam executable (default: $SEAM_BIN, else\n"
                "                     ../seam next to this program)\n"
                "  --plugin-dir DIR   where noop.so is (default: $SEAM_TEST_PLUGIN_DIR, else\n"
                "                     ../test-plugins next to this program)\n"
                "  -X key=value       a librdkafka consumer property for BOTH consumers\n"
                "                     (overrides the benchmark's defaults)\n"
                "  --seam-opt key=value  a consumer key of seam's YAML (workers,\n"
                "                     commit_interval_ms, max_buffered_per_partition, ...)\n"
                "  --dedup MODES      seam runs per round, comma-separated: none (default),\n"
                "                     embedded (LMDB store), postgres (needs --pg-dsn);\n"
                "                     each beside the same raw run\n"
                "  --pg-dsn DSN       libpq conninfo of a scratch PostgreSQL database\n"
                "  --keep             keep the work dir (seam configs and logs)\n",
                VALUE_SIZE, KEY_SIZE, DEFAULT_MESSAGES, DEFAULT_PARTITIONS, DEFAULT_RUNS);
}

static long parse_long(const char *s, const char *what, long min, long max)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                fprintf(stderr, "bench_consume: %s: expected an integer in [%ld, %ld], got '%s'\n",
                        what, min, max, s);
                exit(2);
        }
        return v;
}

static int remove_dir(const char *dir)
{
        char cmd[1024];
        /* Only our own mkdtemp() dir, whose name has no quote. */
        if (strchr(dir, '\''))
                return -1;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd);
}

struct cli {
        long messages;
        int partitions, runs, keep;
        const char *bootstrap_arg, *seam_bin, *plugin_dir;
        struct props props, seam_opts;
        const char *dedup_modes[MAX_DEDUP_MODES];
        int dedup_count;
        const char *pg_dsn;
};

/* Returns -1 to go on, else the exit code. */
static int parse_cli(int argc, char **argv, struct cli *o)
{
        static const struct option opts[] = {
                {"messages", required_argument, NULL, 'n'},
                {"partitions", required_argument, NULL, 'p'},
                {"runs", required_argument, NULL, 'r'},
                {"bootstrap", required_argument, NULL, 'b'},
                {"seam", required_argument, NULL, 's'},
                {"plugin-dir", required_argument, NULL, 'd'},
                {"seam-opt", required_argument, NULL, 'o'},
                {"dedup", required_argument, NULL, 'D'},
                {"pg-dsn", required_argument, NULL, 'P'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;
        o->messages = DEFAULT_MESSAGES;
        o->partitions = DEFAULT_PARTITIONS;
        o->runs = DEFAULT_RUNS;
        o->seam_bin = getenv("SEAM_BIN");
        o->plugin_dir = getenv("SEAM_TEST_PLUGIN_DIR");
        for (int i = 0; base_props[i]; i += 2)
                props_set(&o->props, base_props[i], base_props[i + 1]);
        for (int i = 0; base_seam_opts[i]; i += 2)
                props_set(&o->seam_opts, base_seam_opts[i], base_seam_opts[i + 1]);
        while ((c = getopt_long(argc, argv, "X:h", opts, NULL)) != -1) {
                switch (c) {
                case 'n': o->messages = parse_long(optarg, "--messages", 1, 100000000L); break;
                case 'p': o->partitions = (int)parse_long(optarg, "--partitions", 1, 1000); break;
                case 'r': o->runs = (int)parse_long(optarg, "--runs", 1, 100); break;
                case 'b': o->bootstrap_arg = optarg; break;
                case 's': o->seam_bin = optarg; break;
                case 'd': o->plugin_dir = optarg; break;
                case 'X':
                        if (props_add_arg(&o->props, optarg) < 0) {
                                fprintf(stderr, "bench_consume: -X wants key=value, got '%s'\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'o':
                        if (props_add_arg(&o->seam_opts, optarg) < 0) {
                                fprintf(stderr, "bench_consume: --seam-opt wants key=value, "
                                                "got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'D': {
                        /* A comma list of modes, each a seam run per round. */
                        static char modes[64];
                        snprintf(modes, sizeof(modes), "%s", optarg);
                        o->dedup_count = 0;
                        char *save = NULL;
                        for (char *m = strtok_r(modes, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
                                if ((strcmp(m, "none") && strcmp(m, "embedded") &&
                                     strcmp(m, "postgres")) ||
                                    o->dedup_count == MAX_DEDUP_MODES) {
                                        fprintf(stderr, "bench_consume: --dedup takes up to 3 of "
                                                        "none,embedded,postgres, got '%s'\n", optarg);
                                        return 2;
                                }
                                o->dedup_modes[o->dedup_count++] = m;
                        }
                        break;
                }
                case 'P': o->pg_dsn = optarg; break;
                case 'k': o->keep = 1; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        if (!o->dedup_count)
                o->dedup_modes[o->dedup_count++] = "none";
        for (int i = 0; i < o->dedup_count; i++) {
                if (!strcmp(o->dedup_modes[i], "postgres") && !o->pg_dsn) {
                        fprintf(stderr, "bench_consume: --dedup postgres needs --pg-dsn DSN\n");
                        return 2;
                }
        }
        return -1;
}

static int bench_run(const struct cli *o)
{
        long messages = o->messages;
        int partitions = o->partitions, runs = o->runs, keep = o->keep;
        const char *bootstrap_arg = o->bootstrap_arg, *seam_bin = o->seam_bin;
        const char *plugin_dir = o->plugin_dir;
        struct props props = o->props, seam_opts = o->seam_opts;

        char self_exe[PATH_MAX], exe_dir[PATH_MAX], seam_buf[PATH_MAX + 16],
            plugin_buf[PATH_MAX + 32];
        ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
        if (sl <= 0) {
                fprintf(stderr, "bench_consume: readlink /proc/self/exe: %s\n", strerror(errno));
                return 1;
        }
        self_exe[sl] = '\0';
        snprintf(exe_dir, sizeof(exe_dir), "%s", self_exe);
        char *slash = strrchr(exe_dir, '/');
        if (slash)
                *slash = '\0';
        if (!seam_bin || !*seam_bin) {
                snprintf(seam_buf, sizeof(seam_buf), "%s/../seam", exe_dir);
                seam_bin = seam_buf;
        }
        if (!plugin_dir || !*plugin_dir) {
                snprintf(plugin_buf, sizeof(plugin_buf), "%s/../test-plugins", exe_dir);
                plugin_dir = plugin_buf;
        }
        char plugin_path[PATH_MAX + 64];
        snprintf(plugin_path, sizeof(plugin_path), "%s/noop.so", plugin_dir);
        if (access(seam_bin, X_OK)) {
                fprintf(stderr, "bench_consume: %s is not an executable (build the seam "
                                "target, or pass --seam)\n", seam_bin);
                return 1;
        }
        if (access(plugin_path, R_OK)) {
                fprintf(stderr, "bench_consume: %s not found (build the noop target, or pass "
                                "--plugin-dir)\n", plugin_path);
                return 1;
        }
        char errstr[512];
        rd_kafka_conf_t *check = raw_conf("127.0.0.1:9", "x", &props, errstr, sizeof(errstr));
        if (!check) {
                fprintf(stderr, "bench_consume: -X %s\n", errstr);
                return 2;
        }
        rd_kafka_conf_destroy(check);
        if (!bootstrap_arg &&
            (messages + partitions - 1) / partitions * RECORD_BYTES > MOCK_PARTITION_BUDGET) {
                fprintf(stderr,
                        "bench_consume: %ld messages over %d partitions exceed what the "
                        "embedded broker keeps (~5 MiB per partition; at most ~%ld here): "
                        "use more partitions or a real broker (--bootstrap)\n",
                        messages, partitions, MOCK_PARTITION_BUDGET / RECORD_BYTES * partitions);
                return 2;
        }

        /* Before anything grows this process: see the top comment. */
        if (launcher_start() < 0) {
                fprintf(stderr, "bench_consume: cannot start the launcher: %s\n",
                        strerror(errno));
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);

        char topic[96], bootstrap[1024];
        snprintf(topic, sizeof(topic), "bench-%d-%lld", (int)getpid(),
                 (long long)time(NULL));
        if (bootstrap_arg) {
                snprintf(bootstrap, sizeof(bootstrap), "%s", bootstrap_arg);
        } else if (broker_start(topic, partitions, bootstrap, sizeof(bootstrap)) < 0) {
                return 1;
        }
        char *dir = tu_mkdtemp("seam-bench");

        printf("bench_consume: %ld messages (%d-byte values, %d-byte keys), %d partitions, "
               "%d run(s) each\n", messages, VALUE_SIZE, KEY_SIZE, partitions, runs);
        printf("broker: %s\n", bootstrap_arg ? bootstrap_arg
                                             : "embedded (librdkafka mock cluster, 1 broker, "
                                               "own process)");
        print_loadavg("at the start");
        print_settings(&props);
        struct bench b = {bootstrap, topic, partitions, messages, NULL, &props,
                          self_exe, seam_bin, plugin_path, dir, &seam_opts, "none", o->pg_dsn};
        int rc = print_seam_settings(&b);
        fflush(stdout);

        int64_t *end = calloc((size_t)partitions, sizeof(*end));
        int64_t *end_tmp = calloc((size_t)partitions, sizeof(*end_tmp));
        double produce_s = 0;
        b.end = end;
        if (!rc && (!end || !end_tmp))
                rc = -1;
        if (!rc)
                rc = produce(bootstrap, topic, partitions, bootstrap_arg != NULL, messages,
                             end, &produce_s);
        if (!rc) {
                /* On a fresh Kafka the first group lookup creates
                 * __consumer_offsets (about a second): not the business of
                 * whichever consumer happens to run first. */
                char wgroup[128];
                snprintf(wgroup, sizeof(wgroup), "%s-warmup", topic);
                if (seam_kafka_committed(bootstrap, NULL, wgroup, topic, partitions, end_tmp,
                                         60000, errstr, sizeof(errstr))) {
                        fprintf(stderr, "bench_consume: warm-up: %s\n", errstr);
                        rc = -1;
                }
        }
        if (!rc) {
                printf("produced %ld messages to %s in %.2f s (%.0f msgs/s)\n\n", messages,
                       topic, produce_s, (double)messages / produce_s);
                printf("run  who   join start->  first->    msgs/s    first->   start->    cpu  "
                       "peak RSS\n"
                       "           (s) first(s)  last (s)   handled  commit (s) commit(s)    (s)  "
                       "   (MiB)\n");
                fflush(stdout);
        }

        struct result *raw = calloc((size_t)runs, sizeof(*raw));
        struct result *sm[MAX_DEDUP_MODES] = {NULL};
        int nmodes = o->dedup_count;
        if (!raw)
                rc = -1;
        for (int m = 0; m < nmodes; m++)
                if (!(sm[m] = calloc((size_t)runs, sizeof(*sm[m]))))
                        rc = -1;
        for (int run = 1; !rc && run <= runs; run++) {
                /* Alternate who goes first, so a drift of the machine (or
                 * of the broker's state) does not favour one side. */
                for (int k = 0; !rc && k <= nmodes; k++) {
                        int slot = run % 2 == 1 ? k : nmodes - k; /* raw first, then last */
                        int do_raw = slot == 0;
                        struct result *r = do_raw ? &raw[run - 1] : &sm[slot - 1][run - 1];
                        char who[32];
                        if (!do_raw)
                                b.dedup = o->dedup_modes[slot - 1];
                        snprintf(who, sizeof(who), "%s", do_raw ? "raw"
                                                   : nmodes == 1 && !strcmp(b.dedup, "none")
                                                       ? "seam"
                                                       : b.dedup);
                        rc = do_raw ? run_raw(&b, run, r) : run_seam(&b, run, r);
                        if (!rc) {
                                print_row(run, who, r);
                                fflush(stdout);
                        }
                }
        }
        if (!rc) {
                double mraw = median(raw, runs, get_rate);
                double craw = median(raw, runs, get_commit_rate) * (double)messages;
                double rss_raw = 0;
                for (int i = 0; i < runs; i++)
                        if (raw[i].rss_mib > rss_raw)
                                rss_raw = raw[i].rss_mib;
                printf("\n%-14s %14s %6s %16s %6s %14s %10s %8s\n", "consumer", "msgs/s handled",
                       "ratio", "msgs/s committed", "ratio", "start->commit s", "cpu us/msg",
                       "RSS MiB");
                printf("%-14s %14.0f %6s %16.0f %6s %14.2f %10.2f %8.1f\n", "raw", mraw, "1.00",
                       craw, "1.00", median(raw, runs, get_start_to_commit),
                       median(raw, runs, get_cpu) * 1e6 / (double)messages, rss_raw);
                for (int m = 0; m < nmodes; m++) {
                        double mseam = median(sm[m], runs, get_rate);
                        double cseam = median(sm[m], runs, get_commit_rate) * (double)messages;
                        double rss_seam = 0;
                        for (int i = 0; i < runs; i++)
                                if (sm[m][i].rss_mib > rss_seam)
                                        rss_seam = sm[m][i].rss_mib;
                        char label[32];
                        snprintf(label, sizeof(label), "seam%s%s",
                                 strcmp(o->dedup_modes[m], "none") ? "+" : "",
                                 strcmp(o->dedup_modes[m], "none") ? o->dedup_modes[m] : "");
                        printf("%-14s %14.0f %6.2f %16.0f %6.2f %14.2f %10.2f %8.1f\n", label,
                               mseam, mseam / mraw, cseam, cseam / craw,
                               median(sm[m], runs, get_start_to_commit),
                               median(sm[m], runs, get_cpu) * 1e6 / (double)messages, rss_seam);
                }
                printf("(medians of %d run(s); ratio = seam / raw of the same run set; "
                       "seam+STORE = with that idempotency store)\n",
                       runs);
                print_loadavg("at the end");
        }

        broker_stop();
        close(launcher_fd);
        waitpid(launcher_pid, NULL, 0);
        if (rc)
                fprintf(stderr, "bench_consume: FAILED; files kept in %s\n", dir);
        else if (keep)
                printf("files (configs, logs) kept in %s\n", dir);
        else
                remove_dir(dir);
        free(dir);
        free(raw);
        for (int m = 0; m < MAX_DEDUP_MODES; m++)
                free(sm[m]);
        free(end);
        free(end_tmp);
        return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
        if (argc > 1 && !strcmp(argv[1], "--child-raw"))
                return raw_child_main(argc, argv);
        struct cli o;
        memset(&o, 0, sizeof(o));
        int code = parse_cli(argc, argv, &o);
        if (code < 0)
                code = bench_run(&o);
        free(o.props.kv);
        free(o.seam_opts.kv);
        return code;
}
