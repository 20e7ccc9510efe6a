/* cli_lag.c - the external lag view of consumer groups, from the brokers'
 * side (group_lag.h), so it works while every consumer of the group is down:
 *
 *   seam lag --group G [--group G2 ...] --bootstrap HOST:PORT
 *            [-X key=value ...] [--topic T ...] [--json] [--timeout-ms N]
 *   seam lag-exporter --group G [--group G2 ...] --bootstrap HOST:PORT
 *            [-X key=value ...] [--topic T ...] [--listen ADDR:PORT]
 *            [--interval-ms N] [--timeout-ms N]
 *
 * `lag` prints one table (or JSON document) and exits; `lag-exporter`
 * serves the same numbers on /metrics, refreshed in the background every
 * interval (a scrape never waits for Kafka), until SIGTERM/SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_common.h"
#include "clock.h"
#include "err.h"
#include "group_lag.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_INTERVAL_MS 15000
#define DEFAULT_LISTEN "0.0.0.0:9465"

static const char lag_usage_text[] =
    "usage: seam lag --group G [--group G2 ...] --bootstrap HOST:PORT\n"
    "                [-X key=value ...] [--topic T ...] [--json] [--timeout-ms N]\n"
    "\n"
    "Prints, for every partition of the topics a consumer group has committed\n"
    "offsets on: the committed offset, the end offset (high watermark), the lag\n"
    "in messages and the lag in seconds (the age of the first message not yet\n"
    "consumed, fetched from the broker). Read from the brokers only: works while\n"
    "every consumer of the group is down; never joins the group, never commits.\n"
    "\n"
    "  --group G           a consumer group (repeat for more)\n"
    "  --bootstrap H:P     Kafka bootstrap servers (bootstrap.servers)\n"
    "  -X key=value        a librdkafka property, e.g. security.protocol=SASL_SSL,\n"
    "                      sasl.mechanism=PLAIN, sasl.username=U, ssl.ca.location=F\n"
    "  --topic T           only these topics, with every partition listed even\n"
    "                      when the group never committed on it (repeat for more)\n"
    "  --json              one JSON document instead of the table\n"
    "  --timeout-ms N      bound per group (default 10000)\n"
    "  --log-level L       debug|info|warn|error (default error)\n"
    "\n"
    "No commit on a partition: lag counts from the low watermark, COMMITTED shows\n"
    "(none). A committed offset below the low watermark (retention deleted those\n"
    "messages) counts from the low watermark too. See docs/metrics.md.\n"
    "\n"
    "exit codes: 0 every number read, 2 usage, 5 brokers unreachable or a number\n"
    "            could not be read (the rest is still printed)\n";

static const char exporter_usage_text[] =
    "usage: seam lag-exporter --group G [--group G2 ...] --bootstrap HOST:PORT\n"
    "                [-X key=value ...] [--topic T ...] [--listen ADDR:PORT]\n"
    "                [--interval-ms N] [--timeout-ms N]\n"
    "                [--log-format json|logfmt] [--log-level L]\n"
    "\n"
    "Serves the numbers of `seam lag` as Prometheus metrics on /metrics\n"
    "(seam_group_lag_messages, seam_group_lag_seconds,\n"
    "seam_group_committed_offset, seam_group_high_watermark_offset,\n"
    "seam_group_lag_scrape_success), refreshed in the background every\n"
    "interval, plus /healthz and /readyz, until SIGTERM or SIGINT.\n"
    "\n"
    "  --listen ADDR:PORT  address to serve on (default " DEFAULT_LISTEN "; port 0\n"
    "                      picks a free one, logged at start)\n"
    "  --interval-ms N     refresh period (default 15000)\n"
    "  --timeout-ms N      bound of one group's refresh (default 10000)\n"
    "  other options as for `seam lag`\n"
    "\n"
    "exit codes: 0 stopped by a signal, 2 usage, 5 cannot set up the Kafka client,\n"
    "            1 cannot listen\n";

struct opts {
        const char **groups;
        size_t group_count;
        const char **topics;
        size_t topic_count;
        char **props; /* key, value, ..., NULL */
        size_t prop_count;
        const char *bootstrap;
        int json;
        long timeout_ms;
        long interval_ms;
        const char *listen;
        const char *log_format;
        const char *log_level;
};

static void opts_free(struct opts *o)
{
        for (size_t i = 0; i < o->prop_count; i++)
                free(o->props[i]);
        free(o->props);
        free(o->groups);
        free(o->topics);
}

/* -X key=value into the NULL-terminated pair list. */
static int add_prop(struct opts *o, const char *kv, const char *cmd)
{
        if (seam_cli_add_prop(&o->props, &o->prop_count, kv) == 0)
                return 0;
        if (!strchr(kv, '=') || *kv == '=')
                fprintf(stderr, "seam %s: -X takes key=value, got '%s'\n", cmd, kv);
        return -1;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, int exporter, struct opts *o)
{
        static const struct option longopts[] = {
                {"group", required_argument, NULL, 'g'},
                {"bootstrap", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"json", no_argument, NULL, 'j'},
                {"timeout-ms", required_argument, NULL, 'T'},
                {"listen", required_argument, NULL, 'L'},
                {"interval-ms", required_argument, NULL, 'I'},
                {"log-format", required_argument, NULL, 'F'},
                {"log-level", required_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *cmd = exporter ? "lag-exporter" : "lag";
        const char *usage = exporter ? exporter_usage_text : lag_usage_text;
        const char *bad = NULL;
        char why[256];
        int c;
        o->timeout_ms = DEFAULT_TIMEOUT_MS;
        o->interval_ms = DEFAULT_INTERVAL_MS;
        o->listen = DEFAULT_LISTEN;
        optind = 1;
        while (!bad && (c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'g':
                        if (!*optarg)
                                bad = "--group takes a group id";
                        else if (seam_cli_append(&o->groups, &o->group_count, optarg))
                                bad = "out of memory";
                        break;
                case 'b': o->bootstrap = optarg; break;
                case 't':
                        if (!*optarg)
                                bad = "--topic takes a topic name";
                        else if (seam_cli_append(&o->topics, &o->topic_count, optarg))
                                bad = "out of memory";
                        break;
                case 'X':
                        if (add_prop(o, optarg, cmd))
                                return SEAM_EXIT_USAGE;
                        break;
                case 'j':
                        if (exporter)
                                bad = "--json goes with seam lag";
                        o->json = 1;
                        break;
                case 'T':
                        if (seam_cli_parse_long(optarg, 100, 600000, &o->timeout_ms))
                                bad = "--timeout-ms takes 100..600000";
                        break;
                case 'L':
                        if (!exporter)
                                bad = "--listen goes with seam lag-exporter";
                        o->listen = optarg;
                        break;
                case 'I':
                        if (!exporter)
                                bad = "--interval-ms goes with seam lag-exporter";
                        else if (seam_cli_parse_long(optarg, 100, 86400000, &o->interval_ms))
                                bad = "--interval-ms takes 100..86400000";
                        break;
                case 'F': o->log_format = optarg; break;
                case 'V': o->log_level = optarg; break;
                case 'h': fputs(usage, stdout); return SEAM_EXIT_OK;
                default: fputs(usage, stderr); return SEAM_EXIT_USAGE;
                }
        }
        if (!bad && optind != argc) {
                snprintf(why, sizeof(why), "unexpected argument '%s'", argv[optind]);
                bad = why;
        }
        if (!bad && !o->group_count)
                bad = "--group is required";
        if (!bad && !o->bootstrap)
                bad = "--bootstrap is required";
        for (size_t i = 0; !bad && i < o->group_count; i++) {
                for (size_t j = 0; j < i; j++) {
                        if (!strcmp(o->groups[i], o->groups[j])) {
                                snprintf(why, sizeof(why), "group '%s' given twice",
                                         o->groups[i]);
                                bad = why;
                        }
                }
        }
        for (size_t i = 0; !bad && i < o->prop_count; i += 2) {
                static const char *const owned[] = {
                        "group.id", "enable.auto.commit", "enable.auto.offset.store",
                        "bootstrap.servers", NULL,
                };
                for (int k = 0; owned[k]; k++) {
                        if (!strcmp(o->props[i], owned[k])) {
                                snprintf(why, sizeof(why),
                                         "-X %s: not allowed (%s)", owned[k],
                                         k == 3 ? "use --bootstrap"
                                                : "seam lag never joins or commits for a group");
                                bad = why;
                        }
                }
        }
        enum seam_log_format fmt = exporter ? SEAM_LOG_JSON : SEAM_LOG_LOGFMT;
        seam_log_level level = exporter ? SEAM_LOG_INFO : SEAM_LOG_ERROR;
        if (!bad && o->log_format && seam_log_parse_format(o->log_format, &fmt))
                bad = "--log-format takes json or logfmt";
        if (!bad && o->log_level && seam_log_parse_level(o->log_level, &level))
                bad = "--log-level takes debug, info, warn or error";
        if (bad) {
                fprintf(stderr, "seam %s: %s\n\n", cmd, bad);
                fputs(usage, stderr);
                return SEAM_EXIT_USAGE;
        }
        seam_log_setup(fmt, level);
        return -1;
}

/* A bad -X property is the user's input, not a Kafka failure. */
static int client_new(const struct opts *o, const char *cmd, struct seam_lag_client **out)
{
        char err[512];
        int rc = seam_lag_client_new(o->bootstrap, (const char *const *)o->props, out, err,
                                     sizeof(err));
        if (rc) {
                fprintf(stderr, "seam %s: %s\n", cmd, err);
                return rc == SEAM_ERR_NOMEM ? SEAM_EXIT_RUNTIME : SEAM_EXIT_USAGE;
        }
        return 0;
}

/* Reads every group. Once the brokers proved unreachable, the remaining
 * groups are not tried: each would only wait out the same timeout. */
static void read_groups(struct seam_lag_client *client, const struct opts *o,
                        struct seam_group_lag *out)
{
        const char *unreachable = NULL;
        for (size_t i = 0; i < o->group_count; i++) {
                if (unreachable) {
                        memset(&out[i], 0, sizeof(out[i]));
                        out[i].group = strdup(o->groups[i]);
                        out[i].err = SEAM_ERR_TIMEOUT;
                        out[i].unreachable = 1;
                        snprintf(out[i].errstr, sizeof(out[i].errstr),
                                 "not read: the brokers did not answer for group %s",
                                 unreachable);
                        continue;
                }
                seam_lag_client_read(client, o->groups[i], o->topics, o->topic_count,
                                     (int)o->timeout_ms, &out[i]);
                if (out[i].unreachable)
                        unreachable = o->groups[i];
        }
}

/* ---- seam lag ---------------------------------------------------------- */

static double round_ms(double seconds)
{
        return round(seconds * 1000.0) / 1000.0;
}

static json_t *group_json(const struct seam_group_lag *g)
{
        json_t *parts = json_array();
        for (size_t i = 0; i < g->count; i++) {
                const struct seam_lag_partition *p = &g->parts[i];
                json_t *j = json_object();
                json_object_set_new(j, "topic", json_string(p->topic));
                json_object_set_new(j, "partition", json_integer(p->partition));
                json_object_set_new(j, "committed",
                                    p->committed >= 0 ? json_integer(p->committed) : json_null());
                json_object_set_new(j, "low", p->low >= 0 ? json_integer(p->low) : json_null());
                json_object_set_new(j, "end", p->high >= 0 ? json_integer(p->high) : json_null());
                json_object_set_new(j, "lag", p->lag >= 0 ? json_integer(p->lag) : json_null());
                json_object_set_new(j, "lag_seconds", p->lag_seconds >= 0
                                                          ? json_real(round_ms(p->lag_seconds))
                                                          : json_null());
                json_object_set_new(j, "error", p->err ? json_string(p->errstr) : json_null());
                json_array_append_new(parts, j);
        }
        json_t *j = json_object();
        json_object_set_new(j, "group", json_string(g->group ? g->group : ""));
        json_object_set_new(j, "error", g->err ? json_string(g->errstr) : json_null());
        json_object_set_new(j, "partitions", parts);
        return j;
}

static int print_json(const struct seam_group_lag *groups, size_t n)
{
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, group_json(&groups[i]));
        json_t *doc = json_object();
        json_object_set_new(doc, "groups", arr);
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(doc);
        if (!s)
                return -1;
        puts(s);
        free(s);
        return 0;
}

enum { COL_GROUP, COL_TOPIC, COL_PARTITION, COL_COMMITTED, COL_END, COL_LAG, COL_SECONDS, NCOL };

static void cells(const struct seam_group_lag *g, const struct seam_lag_partition *p,
                  char cell[NCOL][64], const char **text)
{
        text[COL_GROUP] = g->group;
        text[COL_TOPIC] = p->topic;
        snprintf(cell[COL_PARTITION], 64, "%d", (int)p->partition);
        if (p->committed >= 0)
                snprintf(cell[COL_COMMITTED], 64, "%lld", (long long)p->committed);
        else
                snprintf(cell[COL_COMMITTED], 64, "%s", p->committed == -1 ? "(none)" : "-");
        if (p->high >= 0)
                snprintf(cell[COL_END], 64, "%lld", (long long)p->high);
        else
                snprintf(cell[COL_END], 64, "-");
        if (p->lag >= 0)
                snprintf(cell[COL_LAG], 64, "%lld", (long long)p->lag);
        else
                snprintf(cell[COL_LAG], 64, "-");
        if (p->lag_seconds >= 0)
                snprintf(cell[COL_SECONDS], 64, "%.3f", p->lag_seconds);
        else
                snprintf(cell[COL_SECONDS], 64, "-");
        for (int c = COL_PARTITION; c < NCOL; c++)
                text[c] = cell[c];
}

static void print_table(const struct seam_group_lag *groups, size_t n)
{
        static const char *const head[NCOL] = {
                "GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LAG_SECONDS",
        };
        size_t width[NCOL];
        for (int c = 0; c < NCOL; c++)
                width[c] = strlen(head[c]);
        char cell[NCOL][64];
        const char *text[NCOL];
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < groups[i].count; k++) {
                        cells(&groups[i], &groups[i].parts[k], cell, text);
                        for (int c = 0; c < NCOL; c++)
                                if (strlen(text[c]) > width[c])
                                        width[c] = strlen(text[c]);
                }
        }
        /* Names left-aligned, numbers right-aligned. */
        for (int c = 0; c < NCOL; c++)
                printf("%s%*s", c ? "  " : "", c < COL_PARTITION ? -(int)width[c] : (int)width[c],
                       head[c]);
        putchar('\n');
        for (size_t i = 0; i < n; i++) {
                const struct seam_group_lag *g = &groups[i];
                for (size_t k = 0; k < g->count; k++) {
                        cells(g, &g->parts[k], cell, text);
                        for (int c = 0; c < NCOL; c++)
                                printf("%s%*s", c ? "  " : "",
                                       c < COL_PARTITION ? -(int)width[c] : (int)width[c],
                                       text[c]);
                        if (g->parts[k].err)
                                printf("  (%s)", g->parts[k].errstr);
                        putchar('\n');
                }
        }
}

static void print_notes(const struct seam_group_lag *groups, size_t n, const struct opts *o)
{
        for (size_t i = 0; i < n; i++) {
                const struct seam_group_lag *g = &groups[i];
                if (g->err)
                        fprintf(stderr, "seam lag: group %s: %s\n", g->group, g->errstr);
                else if (!g->count && !o->topic_count)
                        fprintf(stderr, "seam lag: group %s has no committed offsets (with "
                                        "--topic T its lag on T is shown from the low "
                                        "watermark)\n", g->group);
        }
}

int seam_cli_lag(int argc, char **argv)
{
        struct opts o = {0};
        int code = parse(argc, argv, 0, &o);
        if (code >= 0) {
                opts_free(&o);
                return code;
        }
        /* The command says itself why it failed; librdkafka's own
         * connection errors would only repeat that, unless asked for. */
        int rdk_log_set = 0;
        for (size_t i = 0; i < o.prop_count; i += 2)
                rdk_log_set |= !strcmp(o.props[i], "log_level");
        if (!o.log_level && !rdk_log_set && add_prop(&o, "log_level=2", "lag")) {
                opts_free(&o);
                return SEAM_EXIT_RUNTIME;
        }
        struct seam_lag_client *client = NULL;
        if ((code = client_new(&o, "lag", &client))) {
                opts_free(&o);
                return code;
        }
        struct seam_group_lag *groups = calloc(o.group_count, sizeof(*groups));
        if (!groups) {
                seam_lag_client_destroy(client);
                opts_free(&o);
                return SEAM_EXIT_RUNTIME;
        }
        read_groups(client, &o, groups);
        seam_lag_client_destroy(client);

        code = SEAM_EXIT_OK;
        size_t rows = 0;
        for (size_t i = 0; i < o.group_count; i++)
                rows += groups[i].count;
        if (o.json) {
                if (print_json(groups, o.group_count))
                        code = SEAM_EXIT_RUNTIME;
        } else if (rows) {
                print_table(groups, o.group_count);
        }
        fflush(stdout);
        print_notes(groups, o.group_count, &o);
        for (size_t i = 0; i < o.group_count; i++) {
                const struct seam_group_lag *g = &groups[i];
                for (size_t k = 0; k < g->count; k++)
                        if (g->parts[k].err)
                                fprintf(stderr, "seam lag: group %s: %s[%d]: %s\n", g->group,
                                        g->parts[k].topic, (int)g->parts[k].partition,
                                        g->parts[k].errstr);
                if (!seam_group_lag_complete(g) && code == SEAM_EXIT_OK)
                        code = SEAM_EXIT_KAFKA;
                seam_group_lag_clear(&groups[i]);
        }
        free(groups);
        opts_free(&o);
        return code;
}

/* ---- seam lag-exporter -------------------------------------------------- */

enum field { F_LAG, F_SECONDS, F_COMMITTED, F_HIGH, F_SUCCESS, NFIELD };

struct exporter;

struct collect_arg {
        struct exporter *x;
        enum field field;
};

struct exporter {
        const struct opts *o;
        struct seam_lag_client *client;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC */
        int stop;
        /* The last refresh, swapped in whole so a scrape sees one refresh,
         * never half of two. NULL until the first one finished. */
        struct seam_group_lag *snap;
        int64_t last_loop_ms; /* monotonic: end of the last refresh */
        int64_t stall_ms;
        struct collect_arg args[NFIELD];
};

static void free_groups(struct seam_group_lag *g, size_t n)
{
        for (size_t i = 0; g && i < n; i++)
                seam_group_lag_clear(&g[i]);
        free(g);
}

static void collect(void *arg, struct seam_metric_sink *sink)
{
        struct collect_arg *ca = arg;
        struct exporter *x = ca->x;
        pthread_mutex_lock(&x->lock);
        for (size_t i = 0; x->snap && i < x->o->group_count; i++) {
                const struct seam_group_lag *g = &x->snap[i];
                if (ca->field == F_SUCCESS) {
                        seam_metric_emit(sink, seam_group_lag_complete(g) ? 1 : 0, 1,
                                         (const char *[]){x->o->groups[i]});
                        continue;
                }
                for (size_t k = 0; k < g->count; k++) {
                        const struct seam_lag_partition *p = &g->parts[k];
                        double v;
                        /* An unknown number has no sample: a gap beats a
                         * wrong value on a dashboard. */
                        switch (ca->field) {
                        case F_LAG:
                                if (p->lag < 0)
                                        continue;
                                v = (double)p->lag;
                                break;
                        case F_SECONDS:
                                if (p->lag_seconds < 0)
                                        continue;
                                v = p->lag_seconds;
                                break;
                        case F_COMMITTED:
                                /* -1: nothing committed, as
                                 * seam_partition_committed_offset */
                                if (p->committed < -1)
                                        continue;
                                v = (double)p->committed;
                                break;
                        default:
                                if (p->high < 0)
                                        continue;
                                v = (double)p->high;
                                break;
                        }
                        char part[16];
                        snprintf(part, sizeof(part), "%d", (int)p->partition);
                        seam_metric_emit(sink, v, 3,
                                         (const char *[]){x->o->groups[i], p->topic, part});
                }
        }
        pthread_mutex_unlock(&x->lock);
}

static void *refresh_main(void *arg)
{
        struct exporter *x = arg;
        const struct opts *o = x->o;
        pthread_mutex_lock(&x->lock);
        while (!x->stop) {
                pthread_mutex_unlock(&x->lock);
                int64_t t0 = seam_mono_ms();
                struct seam_group_lag *fresh = calloc(o->group_count, sizeof(*fresh));
                if (fresh)
                        read_groups(x->client, o, fresh);
                for (size_t i = 0; fresh && i < o->group_count; i++) {
                        const struct seam_group_lag *g = &fresh[i];
                        char key[160];
                        snprintf(key, sizeof(key), "lag-exporter:%s", g->group);
                        if (g->err) {
                                seam_log_limited(key, 60000, SEAM_LOG_WARN, NULL,
                                                 "lag-exporter: group %s: %s", g->group,
                                                 g->errstr);
                                continue;
                        }
                        for (size_t k = 0; k < g->count; k++)
                                if (g->parts[k].err)
                                        seam_log_limited(key, 60000, SEAM_LOG_WARN, NULL,
                                                         "lag-exporter: group %s: %s[%d]: %s",
                                                         g->group, g->parts[k].topic,
                                                         (int)g->parts[k].partition,
                                                         g->parts[k].errstr);
                }
                int64_t t1 = seam_mono_ms();
                if (seam_log_enabled(SEAM_LOG_DEBUG))
                        seam_log_debug("lag-exporter: refreshed %zu group(s) in %lld ms",
                                       o->group_count, (long long)(t1 - t0));
                pthread_mutex_lock(&x->lock);
                struct seam_group_lag *old = NULL;
                if (fresh) {
                        old = x->snap;
                        x->snap = fresh;
                }
                x->last_loop_ms = t1;
                pthread_mutex_unlock(&x->lock);
                free_groups(old, o->group_count);

                int64_t next = t0 + o->interval_ms;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t wait_ms = next - seam_mono_ms();
                if (wait_ms < 0)
                        wait_ms = 0;
                ts.tv_sec += (time_t)(wait_ms / 1000);
                ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_mutex_lock(&x->lock);
                while (!x->stop && seam_mono_ms() < next)
                        if (pthread_cond_timedwait(&x->cond, &x->lock, &ts) == ETIMEDOUT)
                                break;
        }
        pthread_mutex_unlock(&x->lock);
        return NULL;
}

static int check_ready(void *arg, char *why, size_t whylen)
{
        struct exporter *x = arg;
        pthread_mutex_lock(&x->lock);
        int ready = x->snap != NULL;
        pthread_mutex_unlock(&x->lock);
        if (!ready)
                snprintf(why, whylen, "the first lag refresh has not finished");
        return !ready;
}

/* A refresh thread stuck inside librdkafka far beyond its own timeouts. */
static int check_live(void *arg, char *why, size_t whylen)
{
        struct exporter *x = arg;
        pthread_mutex_lock(&x->lock);
        int64_t since = seam_mono_ms() - x->last_loop_ms;
        pthread_mutex_unlock(&x->lock);
        if (since <= x->stall_ms)
                return 0;
        snprintf(why, whylen, "lag refresh has not completed for %lld ms", (long long)since);
        return 1;
}

/* "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (every address). */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
        const char *colon = strrchr(s, ':');
        long p;
        if (!colon || seam_cli_parse_long(colon + 1, 0, 65535, &p))
                return -1;
        const char *h = s;
        size_t n = (size_t)(colon - s);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
                h++;
                n -= 2;
        }
        if (n == 0) {
                h = "0.0.0.0";
                n = strlen(h);
        }
        if (n >= hostlen)
                return -1;
        memcpy(host, h, n);
        host[n] = '\0';
        *port = (int)p;
        return 0;
}

static int register_families(struct exporter *x, struct seam_metrics *m)
{
        static const struct {
                const char *name, *help;
        } fam[NFIELD] = {
                [F_LAG] = {"seam_group_lag_messages",
                           "Messages between the group's committed offset (or the low watermark) "
                           "and the high watermark."},
                [F_SECONDS] = {"seam_group_lag_seconds",
                               "Age of the first message the group has not consumed; 0 when "
                               "caught up."},
                [F_COMMITTED] = {"seam_group_committed_offset",
                                 "The group's committed offset (-1: none)."},
                [F_HIGH] = {"seam_group_high_watermark_offset",
                            "End offset of the partition, queried from the broker."},
                [F_SUCCESS] = {"seam_group_lag_scrape_success",
                               "1 when the last refresh read every number of the group."},
        };
        for (int f = 0; f < NFIELD; f++) {
                x->args[f] = (struct collect_arg){x, (enum field)f};
                struct seam_metric_family *fm =
                    f == F_SUCCESS
                        ? seam_metrics_gauge_func(m, fam[f].name, fam[f].help,
                                                  SEAM_METRIC_LABELS("group"), collect,
                                                  &x->args[f])
                        : seam_metrics_gauge_func(m, fam[f].name, fam[f].help,
                                                  SEAM_METRIC_LABELS("group", "topic",
                                                                     "partition"),
                                                  collect, &x->args[f]);
                if (!fm)
                        return -1;
        }
        return 0;
}

int seam_cli_lag_exporter(int argc, char **argv)
{
        struct opts o = {0};
        int code = parse(argc, argv, 1, &o);
        if (code >= 0) {
                opts_free(&o);
                return code;
        }
        char host[256];
        int port;
        if (parse_listen(o.listen, host, sizeof(host), &port)) {
                fprintf(stderr, "seam lag-exporter: --listen takes ADDR:PORT, got '%s'\n\n%s",
                        o.listen, exporter_usage_text);
                opts_free(&o);
                return SEAM_EXIT_USAGE;
        }
        /* Before any thread exists (librdkafka's, the HTTP server's, ours):
         * every thread inherits the mask, only sigwait below takes them. */
        seam_signals_block();

        struct exporter x = {.o = &o};
        struct seam_metrics *metrics = NULL;
        struct seam_http_server *http = NULL;
        pthread_condattr_t ca;
        int cond_ok = 0, mutex_ok = 0, thread_ok = 0;
        /* A refresh takes at most about one timeout per group; a loop that
         * has not come round in three such periods is stuck. */
        x.stall_ms = 3 * (o.interval_ms + (int64_t)o.group_count * o.timeout_ms);
        x.last_loop_ms = seam_mono_ms();

        if ((code = client_new(&o, "lag-exporter", &x.client)))
                goto out;
        code = SEAM_EXIT_RUNTIME;
        if (pthread_mutex_init(&x.lock, NULL))
                goto out;
        mutex_ok = 1;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cond_ok = !pthread_cond_init(&x.cond, &ca);
        pthread_condattr_destroy(&ca);
        if (!cond_ok)
                goto out;
        if (!(metrics = seam_metrics_new()) || register_families(&x, metrics)) {
                fprintf(stderr, "seam lag-exporter: cannot set up the metrics registry\n");
                goto out;
        }
        char err[512];
        if (seam_http_server_start(host, port, metrics, &http, err, sizeof(err))) {
                fprintf(stderr, "seam lag-exporter: cannot listen on %s: %s\n", o.listen, err);
                goto out;
        }
        if (seam_http_server_add_check(http, SEAM_HEALTH_READINESS, "lag_refreshed", check_ready,
                                       &x) ||
            seam_http_server_add_check(http, SEAM_HEALTH_LIVENESS, "lag_refresh_loop",
                                       check_live, &x))
                goto out;
        if (pthread_create(&x.thread, NULL, refresh_main, &x)) {
                fprintf(stderr, "seam lag-exporter: cannot start the refresh thread\n");
                goto out;
        }
        thread_ok = 1;
        seam_log_info("lag-exporter listening on %s:%d: /metrics for %zu group(s), refreshed "
                      "every %ld ms from %s", host, seam_http_server_port(http), o.group_count,
                      o.interval_ms, o.bootstrap);

        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        int sig = 0;
        while (sigwait(&set, &sig) != 0)
                ;
        seam_log_info("lag-exporter: %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        code = SEAM_EXIT_OK;

out:
        if (thread_ok) {
                pthread_mutex_lock(&x.lock);
                x.stop = 1;
                pthread_cond_signal(&x.cond);
                pthread_mutex_unlock(&x.lock);
                pthread_join(x.thread, NULL);
        }
        /* The server reads the snapshot through the collect callbacks and
         * the checks: stop it before freeing what they read. */
        seam_http_server_stop(http);
        seam_metrics_destroy(metrics);
        free_groups(x.snap, o.group_count);
        seam_lag_client_destroy(x.client);
        if (cond_ok)
                pthread_cond_destroy(&x.cond);
        if (mutex_ok)
                pthread_mutex_destroy(&x.lock);
        opts_free(&o);
        return code;
}
