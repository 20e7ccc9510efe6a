/* test_replay: `seam replay` against the embedded broker (librdkafka's mock
 * cluster in this process), with real `seam run` consumers (the recorder
 * test plugin, format raw) stopped and started around it.
 *
 * Topic rp.t, 3 partitions, 10/8/6 messages with explicit timestamps
 * (T = t0 + 5 s):
 *   p0: t0 + i s          -> first at or after T: offset 5
 *   p1: t0 + 100 s + i s  -> every message is after T: offset 0
 *   p2: t0 - 100 s + i s  -> none after T: the end (6)
 *
 * plain (group rp-plain, no dedup store):
 *   - replay while the consumer runs: refused (exit 8), the partitions the
 *     member holds named, nothing changed, the consumer keeps running
 *   - dry run: the table, nothing changed
 *   - --to-timestamp (ISO) -> 5/0/6 exactly; epoch ms in a dry run: same
 *   - --to-offset 7 moves p0 forward: refused without --allow-skip (exit 2),
 *     nothing changed; with it (dry run) p2 is clamped to its end
 *   - --to-offset 0:3 rp.t:2:4 -> 3/0/4 (p1 untouched), no metadata
 *   - the consumer started again handles exactly [3,10) [0,8) [4,6) again
 * dedup (group rp-dedup, store embedded):
 *   - --to-earliest without --reprocess -> 0/0/0; the consumer skips everything it had
 *     applied: no new record, 24 duplicates counted (/metrics)
 *   - --reprocess to 4/6/5 -> metadata {"v":1,"rp":X} with X = 10/8/6; the
 *     consumer applies exactly [4,10) [6,8) [5,6) once more, and its own
 *     last commit no longer carries "rp"
 * inbox (group rp-inbox, store postgres, inbox, store_offsets; PostgreSQL
 * started by tests/e2e/lib/postgres.sh):
 *   - DSN unreachable: refused (exit 9) before touching Kafka
 *   - --reprocess refused (the inbox cannot reapply)
 *   - replay -> seam_offsets rows and Kafka set to 2/3/1; the consumer
 *     resumes there (18 duplicates counted; had the rows stayed at 10/8/6,
 *     which win when ahead, it would have resumed at the end: 0) */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "kafka_util.h"
#include "mockenv.h"
#include "pgbed.h"
#include "testutil.h"

#define TOPIC "rp.t"
#define NP 3

static const int64_t END[NP] = {10, 8, 6};
static struct me_env *env;
static int64_t t0_ms;

/* ---- fixtures ----------------------------------------------------------- */

static int64_t stamp(int partition, int i)
{
        static const int64_t base[NP] = {0, 100000, -100000};
        return t0_ms + base[partition] + (int64_t)i * 1000;
}

/* Keys "p<P>-<OFFSET>" as me_produce writes them (the recorder's lines are
 * checked against them), with the timestamps above. */
static void produce(void)
{
        char err[512];
        rd_kafka_t *p = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, me_bootstrap(env), NULL, NULL,
                                               err, sizeof(err));
        CHECKF(p, "%s", err);
        for (int part = 0; part < NP; part++) {
                for (int i = 0; i < END[part]; i++) {
                        char key[32], value[32];
                        int kl = snprintf(key, sizeof(key), "p%d-%d", part, i);
                        int vl = snprintf(value, sizeof(value), "v%d-%d", part, i);
                        rd_kafka_resp_err_t e = rd_kafka_producev(
                            p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(part),
                            RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(value, (size_t)vl),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_TIMESTAMP(stamp(part, i)), RD_KAFKA_V_END);
                        CHECKF(!e, "produce: %s", rd_kafka_err2str(e));
                }
        }
        CHECK_EQ_INT(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(p);
        int64_t hw[NP];
        me_high_watermarks(env, TOPIC, NP, hw);
        for (int i = 0; i < NP; i++)
                CHECK_EQ_INT(hw[i], END[i]);
}

/* A port nothing listens on right now, for seam.http.port. */
static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
        close(fd);
        return ntohs(a.sin_port);
}

/* A config with one recorder consumer "c" on rp.t; `idem` is its
 * idempotency: block (NULL: none), `seam_extra` lines go under seam:. */
static const char *write_cfg(const char *file, const char *group, const char *out,
                             const char *idem, const char *seam_extra, int http_port)
{
        char *y = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&y, &n);
        CHECK(f);
        fprintf(f,
                "seam:\n"
                "  plugin_path: [%s]\n"
                "  shutdown_timeout_ms: 10000\n"
                "  log_level: info\n"
                "  http: {bind: 127.0.0.1, port: %d}\n"
                "%s"
                "kafka:\n"
                "  bootstrap.servers: %s\n"
                "  auto.offset.reset: earliest\n"
                "  session.timeout.ms: 6000\n"
                "  heartbeat.interval.ms: 1000\n"
                "consumers:\n"
                "  - name: c\n"
                "    plugin: recorder\n"
                "    format: raw\n"
                "    topics: [" TOPIC "]\n"
                "    group_id: %s\n"
                "    workers: 2\n"
                "    commit_interval_ms: 200\n"
                "%s"
                "    config:\n"
                "      out: %s\n",
                tu_env("SEAM_TEST_PLUGIN_DIR"), http_port, seam_extra ? seam_extra : "",
                me_bootstrap(env), group, idem ? idem : "", out);
        fclose(f);
        const char *path = me_path(env, file);
        tu_write_file(path, y);
        free(y);
        return path;
}

/* Committed offsets and their metadata (text) of partitions 0..NP-1. */
static void committed_md(const char *group, int64_t *off, char md[NP][128])
{
        char err[512];
        rd_kafka_t *c = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL, group,
                                               err, sizeof(err));
        CHECKF(c, "%s", err);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NP);
        for (int p = 0; p < NP; p++)
                rd_kafka_topic_partition_list_add(l, TOPIC, p);
        rd_kafka_resp_err_t e = rd_kafka_committed(c, l, 10000);
        CHECKF(!e, "committed %s: %s", group, rd_kafka_err2str(e));
        for (int p = 0; p < NP; p++) {
                const rd_kafka_topic_partition_t *el = &l->elems[p];
                CHECKF(!el->err, "committed %s[%d]: %s", group, p, rd_kafka_err2str(el->err));
                off[p] = el->offset;
                snprintf(md[p], 128, "%.*s", (int)el->metadata_size,
                         el->metadata ? (const char *)el->metadata : "");
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(c);
}

static void check_committed(const char *group, int64_t a, int64_t b, int64_t c, const char *when)
{
        int64_t got[NP];
        me_committed_or_die(env, group, TOPIC, NP, got);
        const int64_t want[NP] = {a, b, c};
        for (int p = 0; p < NP; p++)
                CHECKF(got[p] == want[p], "%s: group %s partition %d committed %lld, expected "
                       "%lld", when, group, p, (long long)got[p], (long long)want[p]);
}

static const char *const sanitizer_marks[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", NULL,
};

/* `seam replay -c CFG --consumer c ARGS...` -> exit code; *out its output
 * (env-owned). Not through me_seam_run: a test may start only so many seam
 * processes that way, and the consumers need them. */
static int replay(const char *log, const char *cfg, const char **out, ...)
{
        char *argv[24] = {(char *)tu_env("SEAM_BIN"), "replay", "-c", (char *)cfg,
                          "--consumer", "c"};
        int n = 6;
        va_list ap;
        va_start(ap, out);
        const char *a;
        while ((a = va_arg(ap, const char *)) && n < 23)
                argv[n++] = (char *)a;
        va_end(ap);
        argv[n] = NULL;
        const char *path = me_path(env, me_strf(env, "replay-%s.log", log));
        int64_t t = seam_mono_ms();
        pid_t pid = tu_spawn(argv, path);
        int st = tu_wait(pid, 60000);
        if (st == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        char *text = tu_read_file(path, NULL);
        CHECKF(st != -1, "replay %s still running after 60 s; output:\n%s", log,
               text ? text : "");
        for (int i = 0; text && sanitizer_marks[i]; i++)
                CHECKF(!strstr(text, sanitizer_marks[i]), "replay %s: sanitizer report:\n%s",
                       log, text);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        fprintf(stderr, "replay %s: exit %d in %lld ms\n", log, code,
                (long long)(seam_mono_ms() - t));
        *out = me_strf(env, "%s", text ? text : "");
        free(text);
        return code;
}

/* An exit code, then what was printed. */
#define CHECK_EXIT(code, want, out)                                                        \
        CHECKF((code) == (want), "exit %d, expected %d; output:\n%s", code, want, out)

/* The output holds a table row "TOPIC P COMMITTED NEW REPROCESS ..."
 * (committed -1: "(none)"). */
static void check_row(const char *out, int p, int64_t committed, int64_t target, int64_t again)
{
        char want_committed[24];
        if (committed >= 0)
                snprintf(want_committed, sizeof(want_committed), "%lld", (long long)committed);
        else
                snprintf(want_committed, sizeof(want_committed), "(none)");
        for (const char *line = out; line && *line;) {
                const char *next = strchr(line, '\n');
                char topic[64], c[24];
                int part;
                long long n, a;
                if (sscanf(line, "%63s %d %23s %lld %lld", topic, &part, c, &n, &a) == 5 &&
                    !strcmp(topic, TOPIC) && part == p) {
                        CHECKF(!strcmp(c, want_committed) && n == target && a == again,
                               "row of partition %d: committed %s new %lld reprocess %lld, "
                               "expected %s %lld %lld", p, c, n, a, want_committed,
                               (long long)target, (long long)again);
                        return;
                }
                line = next ? next + 1 : NULL;
        }
        CHECKF(0, "no table row for partition %d in:\n%s", p, out);
}

/* ---- metrics ------------------------------------------------------------ */

struct buf {
        char *data;
        size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
        struct buf *b = arg;
        char *d = realloc(b->data, b->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->len, p, size * n);
        b->len += size * n;
        d[b->len] = '\0';
        b->data = d;
        return size * n;
}

/* seam_consumer_messages_total{consumer="c",outcome=OUTCOME}; -1 if absent. */
static double messages_total(int port, const char *outcome)
{
        CURL *c = curl_easy_init();
        CHECK(c);
        char url[96];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
        struct buf b = {NULL, 0};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        CHECKF(rc == CURLE_OK && b.data, "GET %s: %s", url, curl_easy_strerror(rc));
        char key[128];
        snprintf(key, sizeof(key), "seam_consumer_messages_total{consumer=\"c\",outcome=\"%s\"} ",
                 outcome);
        const char *at = strstr(b.data, key);
        double v = at ? strtod(at + strlen(key), NULL) : -1;
        free(b.data);
        return v;
}

/* ---- the consumers ---------------------------------------------------- */

struct consumer {
        const char *group, *out, *cfg, *name;
        int port;
        struct me_seam *seam;
        int runs;
        double dups; /* duplicates counted by the last run */
};

static void consumer_start(struct consumer *c)
{
        c->runs++;
        c->seam = me_seam_start(env, c->cfg, me_strf(env, "%s-%d.log", c->name, c->runs));
}

/* Until the group committed the end of every partition; then the
 * duplicates of this run and SIGTERM (exit 0). */
static void consumer_finish(struct consumer *c)
{
        me_wait_committed(env, c->group, TOPIC, NP, END, 30000);
        c->dups = messages_total(c->port, "duplicate");
        CHECK_EQ_INT(me_seam_stop(c->seam, SIGTERM, 15000, NULL), 0);
        c->seam = NULL;
}

/* Every offset of partition p at or above from[p] recorded twice, the
 * others once. */
static void check_records(const char *out, const int64_t *from, const char *when)
{
        struct me_records r;
        const char *files[] = {out, NULL};
        me_records_load(&r, TOPIC, NP, files);
        for (int p = 0; p < NP; p++) {
                for (int64_t o = 0; o < END[p]; o++) {
                        uint32_t want = o >= from[p] ? 2 : 1;
                        CHECKF(me_records_count(&r, p, o) == want,
                               "%s: partition %d offset %lld handled %u times, expected %u",
                               when, p, (long long)o, me_records_count(&r, p, o), want);
                }
                CHECK_EQ_INT(me_records_max(&r, p), END[p] - 1);
        }
        me_records_free(&r);
}

static int consumer_exited(void *arg)
{
        return !me_seam_running(arg);
}

static struct consumer plain_c, dedup_c, inbox_c;

/* ---- plain: no dedup store ------------------------------------------------ */

/* While the consumer runs: refused, nothing changed, the consumer goes on. */
static void plain_running(void)
{
        const char *o;
        int code = replay("running", plain_c.cfg, &o, "--to-earliest", NULL);
        CHECK_EXIT(code, 8, o);
        CHECK_CONTAINS(o, "refused: group rp-plain has other active members");
        CHECK_CONTAINS(o, "held by other members: " TOPIC "[");
        CHECK_CONTAINS(o, "nothing changed");
        check_committed(plain_c.group, 10, 8, 6, "refused while running");
        me_expect_not(env, "the consumer exited after the refused replay", consumer_exited,
                      plain_c.seam, 300);
}

static void plain_replays(void)
{
        const char *group = plain_c.group, *cfg = plain_c.cfg, *o;
        int code;

        /* Dry run: the plan, no change. */
        code = replay("dry-earliest", cfg, &o, "--to-earliest", "--dry-run", NULL);
        CHECK_EXIT(code, 0, o);
        check_row(o, 0, 10, 0, 10);
        check_row(o, 1, 8, 0, 8);
        check_row(o, 2, 6, 0, 6);
        CHECK_CONTAINS(o, "24 message(s) to be handled again");
        CHECK_CONTAINS(o, "dry run: nothing changed");
        check_committed(group, 10, 8, 6, "dry run");

        /* Timestamps: ISO, then epoch milliseconds in a dry run. */
        char iso[40], epoch[24];
        time_t secs = (time_t)((t0_ms + 5000) / 1000);
        struct tm tm;
        CHECK(gmtime_r(&secs, &tm));
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(iso + strlen(iso), sizeof(iso) - strlen(iso), ".%03dZ",
                 (int)((t0_ms + 5000) % 1000));
        snprintf(epoch, sizeof(epoch), "%lld", (long long)(t0_ms + 5000));
        code = replay("to-timestamp", cfg, &o, "--to-timestamp", iso, NULL);
        CHECK_EXIT(code, 0, o);
        check_row(o, 0, 10, 5, 5);
        check_row(o, 1, 8, 0, 8);
        check_row(o, 2, 6, 6, 0);
        CHECK_CONTAINS(o, "no message at or after the time: to the end");
        CHECK_CONTAINS(o, "committed and verified");
        check_committed(group, 5, 0, 6, "--to-timestamp");
        code = replay("to-epoch", cfg, &o, "--to-timestamp", epoch, "--dry-run", NULL);
        CHECK_EXIT(code, 0, o);
        check_row(o, 0, 5, 5, 0);
        check_row(o, 1, 0, 0, 0);
        check_row(o, 2, 6, 6, 0);

        /* Forward past unhandled messages: refused unless allowed. */
        code = replay("skip", cfg, &o, "--to-offset", "7", "--dry-run", NULL);
        CHECK_EXIT(code, 2, o);
        CHECK_CONTAINS(o, "SKIPS 2 never handled");
        CHECK_CONTAINS(o, "refused: 9 message(s) the consumer never handled would be skipped");
        code = replay("skip-allowed", cfg, &o, "--to-offset", "7", "--allow-skip", "--dry-run",
                      NULL);
        CHECK_EXIT(code, 0, o);
        check_row(o, 2, 6, 6, 0);
        CHECK_CONTAINS(o, "past the end: clamped");
        check_committed(group, 5, 0, 6, "forward moves in dry runs");

        /* Single partitions, back from 5/0/6 (p1 left as it is). */
        code = replay("to-offset", cfg, &o, "--to-offset", "0:3", "--to-offset", TOPIC ":2:4",
                      NULL);
        CHECK_EXIT(code, 0, o);
        check_row(o, 0, 5, 3, 2);
        check_row(o, 2, 6, 4, 2);
        CHECK_CONTAINS(o, "4 message(s) to be handled again");
        int64_t off[NP];
        char md[NP][128];
        committed_md(group, off, md);
        CHECK_EQ_INT(off[0], 3);
        CHECK_EQ_INT(off[1], 0);
        CHECK_EQ_INT(off[2], 4);
        for (int p = 0; p < NP; p++)
                CHECKF(!md[p][0], "partition %d: metadata '%s' without --reprocess", p, md[p]);
}

/* Refused before anything is read or changed. */
static void cli_errors(void)
{
        const char *cfg = plain_c.cfg, *o;
        static const struct {
                const char *a, *b, *c, *want;
                int code;
        } cases[] = {
                {"--to-timestamp", "2026-11-22T10:00:00", NULL, "needs its zone", 2},
                {"--to-timestamp", "1795360000", NULL, "looks like epoch seconds", 2},
                {"--to-timestamp", "2026-02-30", NULL, "expected ISO-8601", 2},
                {"--to-offset", "x:1", NULL, "expected OFFSET, PARTITION:OFFSET", 2},
                {"--to-offset", "1", "--to-earliest", "give one target", 2},
                {"--to-offset", "0:1", "--to-offset=0:2", "given twice", 2},
                {"--dry-run", NULL, NULL, "a target is required", 2},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int code = replay(me_strf(env, "usage-%zu", i), cfg, &o, cases[i].a, cases[i].b,
                                  cases[i].c, NULL);
                CHECK_EXIT(code, cases[i].code, o);
                CHECK_CONTAINS(o, cases[i].want);
        }
        int code = replay("no-such-partition", cfg, &o, "--to-offset", "7:1", "--dry-run", NULL);
        CHECK_EXIT(code, 2, o);
        CHECK_CONTAINS(o, "rp.t[7] is not a partition consumer c reads");
        const char *args[] = {"replay", "-c", cfg, "--consumer", "nope", "--to-earliest", NULL};
        char *argv[8];
        argv[0] = (char *)tu_env("SEAM_BIN");
        for (int i = 0; args[i]; i++)
                argv[i + 1] = (char *)args[i];
        argv[7] = NULL;
        const char *path = me_path(env, "replay-no-consumer.log");
        int st = tu_wait(tu_spawn(argv, path), 30000);
        char *text = tu_read_file(path, NULL);
        CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 3, "unknown consumer: status %d: %s", st,
               text ? text : "");
        CHECK_CONTAINS(text, "no consumer named 'nope'; the config has:\n  c (group rp-plain)");
        free(text);
        const char *emb = me_path(env, "embedded.yaml");
        tu_write_file(emb, me_strf(env, "seam:\n  embedded_broker: true\n  plugin_path: [%s]\n"
                                        "consumers:\n  - {name: c, plugin: recorder, topics: "
                                        "[t], config: {out: /dev/null}}\n",
                                   tu_env("SEAM_TEST_PLUGIN_DIR")));
        code = replay("embedded-broker", emb, &o, "--to-earliest", NULL);
        CHECK_EXIT(code, 3, o);
        CHECK_CONTAINS(o, "seam.embedded_broker is true");
}

/* ---- dedup: the embedded store -------------------------------------------- */

/* Without --reprocess everything applied is skipped by the next run. */
static void dedup_replay(void)
{
        const char *o;
        int code = replay("dedup-earliest", dedup_c.cfg, &o, "--to-earliest", NULL);
        CHECK_EXIT(code, 0, o);
        CHECK_CONTAINS(o, "those the dedup store has are skipped as duplicates");
        check_committed(dedup_c.group, 0, 0, 0, "dedup --to-earliest");
}

/* --reprocess: applied once more, exactly the range. */
static void dedup_reprocess(void)
{
        const char *o;
        int code = replay("dedup-reprocess", dedup_c.cfg, &o, "--to-offset", "0:4",
                          "--to-offset", "1:6", "--to-offset", "2:5", "--reprocess", NULL);
        CHECK_EXIT(code, 0, o);
        CHECK_CONTAINS(o, "reprocess below 10");
        int64_t off[NP];
        char md[NP][128];
        committed_md(dedup_c.group, off, md);
        const int64_t want_off[NP] = {4, 6, 5};
        for (int p = 0; p < NP; p++) {
                char want[64];
                snprintf(want, sizeof(want), "{\"v\":1,\"rp\":%lld}", (long long)END[p]);
                CHECK_EQ_INT(off[p], want_off[p]);
                CHECK_STR_EQ(md[p], want);
        }
        consumer_start(&dedup_c);
        consumer_finish(&dedup_c);
        CHECKF(dedup_c.dups == 0, "duplicates counted during --reprocess: %g", dedup_c.dups);
        check_records(dedup_c.out, want_off, "after --reprocess");
        committed_md(dedup_c.group, off, md);
        for (int p = 0; p < NP; p++)
                CHECKF(!strstr(md[p], "\"rp\""), "partition %d: the consumer passed the range "
                       "but still commits '%s'", p, md[p]);
}

/* ---- inbox: offsets kept in PostgreSQL ------------------------------------ */

#define INBOX_IDEM "    idempotency: {store: postgres, inbox: true, store_offsets: true}\n"

static void db_offsets(const char *dsn, const char *group, int64_t *out)
{
        PGconn *c = PQconnectdb(dsn);
        CHECKF(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
        const char *params[1] = {group};
        PGresult *r = PQexecParams(c, "SELECT partition, next_offset FROM seam_offsets "
                                      "WHERE group_id = $1 AND topic = '" TOPIC "'",
                                   1, NULL, params, NULL, NULL, 0);
        CHECKF(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
        for (int p = 0; p < NP; p++)
                out[p] = -1;
        for (int i = 0; i < PQntuples(r); i++) {
                int p = atoi(PQgetvalue(r, i, 0));
                CHECK(p >= 0 && p < NP);
                out[p] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        }
        PQclear(r);
        PQfinish(c);
}

/* Refusals before anything changes, then the replay of rows and commits. */
static void inbox_replays(const char *dsn)
{
        const char *o;
        /* Port 1 on loopback refuses connections at once. */
        const char *bad = write_cfg("inbox-bad.yaml", inbox_c.group, inbox_c.out, INBOX_IDEM,
                                    "  dedup: {postgres_dsn: \"host=127.0.0.1 port=1 "
                                    "dbname=x connect_timeout=2\"}\n",
                                    inbox_c.port);
        int code = replay("inbox-unreachable", bad, &o, "--to-earliest", NULL);
        CHECK_EXIT(code, 9, o);
        CHECK_CONTAINS(o, "the database cannot be reached");
        CHECK_CONTAINS(o, "nothing changed");
        check_committed(inbox_c.group, 10, 8, 6, "database unreachable");
        code = replay("inbox-reprocess", inbox_c.cfg, &o, "--to-earliest", "--reprocess", NULL);
        CHECK_EXIT(code, 2, o);
        CHECK_CONTAINS(o, "uses the transactional inbox");

        code = replay("inbox-replay", inbox_c.cfg, &o, "--to-offset", "0:2", "--to-offset", "1:3",
                      "--to-offset", "2:1", NULL);
        CHECK_EXIT(code, 0, o);
        CHECK_CONTAINS(o, "DB_OFFSET");
        CHECK_CONTAINS(o, "database: set next_offset of group rp-inbox in seam_offsets to the "
                          "new offsets: 3 row(s)");
        int64_t db[NP];
        db_offsets(dsn, inbox_c.group, db);
        CHECK_EQ_INT(db[0], 2);
        CHECK_EQ_INT(db[1], 3);
        CHECK_EQ_INT(db[2], 1);
        check_committed(inbox_c.group, 2, 3, 1, "inbox replay");
}

int main(void)
{
        int64_t t = seam_mono_ms();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        env = me_env_new("test_replay", 1);
        me_create_topic(env, TOPIC, NP);
        t0_ms = seam_wall_ms() - 3600 * 1000;
        produce();
        const char *dsn = pg_bed_start("seam-replay-pg");

        plain_c = (struct consumer){.group = "rp-plain", .name = "plain"};
        dedup_c = (struct consumer){.group = "rp-dedup", .name = "dedup"};
        inbox_c = (struct consumer){.group = "rp-inbox", .name = "inbox"};
        struct consumer *all[] = {&plain_c, &dedup_c, &inbox_c};
        for (int i = 0; i < 3; i++) {
                all[i]->out = me_path(env, me_strf(env, "%s.records", all[i]->name));
                all[i]->port = free_port();
        }
        plain_c.cfg = write_cfg("plain.yaml", plain_c.group, plain_c.out, NULL, NULL,
                                plain_c.port);
        dedup_c.cfg = write_cfg("dedup.yaml", dedup_c.group, dedup_c.out,
                                "    idempotency: {store: embedded}\n",
                                me_strf(env, "  dedup: {embedded_path: %s}\n",
                                        me_path(env, "dedup.lmdb")),
                                dedup_c.port);
        inbox_c.cfg = write_cfg("inbox.yaml", inbox_c.group, inbox_c.out, INBOX_IDEM,
                                me_strf(env, "  dedup: {postgres_dsn: \"%s\"}\n", dsn),
                                inbox_c.port);

        /* First run of the three consumers, side by side; the replay of the
         * plain one is refused while it runs. */
        for (int i = 0; i < 3; i++)
                consumer_start(all[i]);
        me_wait_committed(env, plain_c.group, TOPIC, NP, END, 30000);
        plain_running();
        for (int i = 0; i < 3; i++) {
                consumer_finish(all[i]);
                CHECKF(all[i]->dups == 0, "%s: %g duplicates on the first run", all[i]->name,
                       all[i]->dups);
        }
        int64_t db[NP];
        db_offsets(dsn, inbox_c.group, db);
        for (int p = 0; p < NP; p++)
                CHECK_EQ_INT(db[p], END[p]);
        fprintf(stderr, "first run done at %lld ms\n", (long long)(seam_mono_ms() - t));

        cli_errors();
        plain_replays();
        dedup_replay();
        inbox_replays(dsn);
        fprintf(stderr, "replays done at %lld ms\n", (long long)(seam_mono_ms() - t));

        /* Second run: each consumer starts where its replay put it. */
        for (int i = 0; i < 3; i++)
                consumer_start(all[i]);
        for (int i = 0; i < 3; i++)
                consumer_finish(all[i]);
        check_records(plain_c.out, (const int64_t[]){3, 0, 4}, "plain, after the replay");
        CHECKF(dedup_c.dups == 24, "dedup: %g duplicates counted, expected 24", dedup_c.dups);
        CHECK_EQ_INT(me_count_lines(dedup_c.out), 24);
        /* Had the database rows stayed at 10/8/6 (they win when ahead), the
         * consumer would have resumed at the end: 0 duplicates. */
        CHECKF(inbox_c.dups == 8 + 5 + 5, "inbox: %g duplicates counted, expected 18",
               inbox_c.dups);
        CHECK_EQ_INT(me_count_lines(inbox_c.out), 24);
        /* Duplicates store no offset (the inbox rolls their transaction
         * back): the rows stay at the replayed offsets, behind Kafka's,
         * where the consumer ignores them. */
        db_offsets(dsn, inbox_c.group, db);
        CHECK_EQ_INT(db[0], 2);
        CHECK_EQ_INT(db[1], 3);
        CHECK_EQ_INT(db[2], 1);
        fprintf(stderr, "second run done at %lld ms\n", (long long)(seam_mono_ms() - t));

        dedup_reprocess();

        me_env_finish(env);
        pg_bed_passed();
        curl_global_cleanup();
        fprintf(stderr, "test_replay: ok (%lld ms)\n", (long long)(seam_mono_ms() - t));
        return 0;
}
