/* cli_replay.c - `seam replay`: move a stopped consumer group's committed
 * offsets back (or to any point) so a team can reprocess after a bug fix
 * (docs/dedup.md, "Replay").
 *
 *   seam replay -c seam.yaml --consumer NAME
 *        (--to-earliest | --to-timestamp T | --to-offset [TOPIC:]P:O ... |
 *         --to-offset O) [--reprocess] [--dry-run] [--allow-skip]
 *        [--bootstrap H:P] [--timeout-ms N]
 *
 * Steps, each of which can refuse before anything changes:
 *   1. the consumer's group, topics and librdkafka properties from the config
 *   2. with idempotency.store_offsets: read the offsets the inbox keeps in
 *      PostgreSQL (they win over Kafka's when ahead, so they are reset too)
 *   3. the group must have no active member: DescribeConsumerGroups, state
 *      Empty or Dead. The embedded broker (librdkafka's mock cluster)
 *      implements neither DescribeGroups nor commits from outside the group
 *      once it had members, so there the tool joins the group itself and
 *      requires to be given every partition (nobody else is in it)
 *   4. target offsets per partition, a table, and --dry-run stops here
 *   5. database offsets (one transaction), then the Kafka commit, then a
 *      read-back that must show exactly the offsets and metadata written
 *
 * With --reprocess each partition's commit carries metadata
 * {"v":1,"rp":X}, X the resume point before the reset: the consumer applies
 * offsets below X again even though its dedup store has their keys
 * (consumer.c restore_metadata, worker.c). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "cli_common.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "kafka_conf.h"
#include "log.h"

/* The exit codes of this command (documented in --help and docs/dedup.md). */
enum {
        REPLAY_EXIT_OK = 0,
        REPLAY_EXIT_FAILED = 1, /* the broker refused, or the read-back differs */
        REPLAY_EXIT_USAGE = 2,
        REPLAY_EXIT_CONFIG = 3,
        REPLAY_EXIT_KAFKA = 5,  /* brokers unreachable or not answering in time */
        REPLAY_EXIT_ACTIVE = 8, /* the group has active members */
        REPLAY_EXIT_DB = 9      /* the offsets database could not be read or updated */
};

#define DEFAULT_TIMEOUT_MS 30000
/* librdkafka 2.0.2 reads commit metadata back with strndup: text only, and
 * small (brokers cap it at offset.metadata.max.bytes, 4096 by default). */
#define METADATA_MAX 4096
/* Epoch values below this are taken for seconds, not milliseconds. */

#define SYNOPSIS                                                                     \
        "usage: seam replay -c FILE --consumer NAME\n"                               \
        "           (--to-earliest | --to-timestamp T | --to-offset [TOPIC:]P:O ... |\n" \
        "            --to-offset O) [--reprocess] [--dry-run] [--allow-skip]\n"      \
        "           [--bootstrap H:P] [--timeout-ms N] [--log-level L]\n"

static const char usage_text[] =
    SYNOPSIS
    "\n"
    "Resets the committed offsets of consumer NAME's group so that the group\n"
    "reads its topics again from the chosen point, after every instance of the\n"
    "consumer was stopped. Refuses while the group has active members and names\n"
    "them. Prints, per partition, the committed offset, the new one and the\n"
    "messages that will be handled again; then commits and reads the offsets\n"
    "back to verify them.\n"
    "\n"
    "  -c FILE             the seam config: group_id, topics and kafka properties\n"
    "                      of the consumer are taken from it\n"
    "  --consumer NAME     the consumer (consumers[].name)\n"
    "  --to-earliest       every partition to its first offset (low watermark)\n"
    "  --to-timestamp T    every partition to its first message at or after T:\n"
    "                      ISO-8601 (2026-11-22T10:00:00Z, +HH:MM offsets; a date\n"
    "                      alone is midnight UTC) or epoch milliseconds; partitions\n"
    "                      without such a message go to their end\n"
    "  --to-offset O       every partition to offset O\n"
    "  --to-offset [TOPIC:]P:O  partition P (of TOPIC; it may be left out when the\n"
    "                      consumer reads one topic) to offset O; repeat for more,\n"
    "                      other partitions are left as they are. Offsets outside\n"
    "                      a partition's low..end are clamped to it.\n"
    "  --reprocess         handle again, on purpose, the events the consumer's dedup\n"
    "                      store already has (an idempotent plugin after a fix);\n"
    "                      without it they are skipped as duplicates\n"
    "  --dry-run           print what would change, change nothing (on the\n"
    "                      embedded broker without the active-member check:\n"
    "                      there it takes joining the group)\n"
    "  --allow-skip        allow moving a partition forward, past messages the\n"
    "                      consumer never handled (they are then never handled)\n"
    "  --bootstrap H:P     brokers to use instead of the config's bootstrap.servers\n"
    "  --timeout-ms N      bound of each broker or database call (default 30000)\n"
    "  --log-level L       debug|info|warn|error (default error)\n"
    "\n"
    "With idempotency.store_offsets the offsets the inbox keeps in PostgreSQL\n"
    "(seam.dedup.postgres_dsn, table seam_offsets) are set to the new offsets\n"
    "too, in one transaction, before the Kafka commit.\n"
    "\n"
    "exit codes: 0 done (or dry run printed), 1 the broker refused the commit or\n"
    "            the offsets read back differ, 2 usage (also: a forward move\n"
    "            without --allow-skip), 3 config, 5 brokers unreachable,\n"
    "            8 the group has active members (nothing changed),\n"
    "            9 the offsets database could not be read or updated (nothing\n"
    "            committed to Kafka)\n";

enum target_mode { TO_NONE, TO_EARLIEST, TO_TIMESTAMP, TO_OFFSET_ALL, TO_OFFSET_LIST };

struct offset_spec {
        char *topic; /* NULL: the consumer's only topic */
        int32_t partition;
        int64_t offset;
};

struct opts {
        const char *config;
        const char *consumer;
        const char *bootstrap;
        enum target_mode mode;
        const char *to_text; /* as given, for the header line */
        int64_t ts_ms;
        int64_t offset_all;
        struct offset_spec *specs;
        size_t spec_count;
        int reprocess, dry_run, allow_skip;
        long timeout_ms;
        const char *log_level;
};

struct part {
        char *topic;
        int32_t partition;
        int64_t low, high;
        int64_t committed; /* Kafka; -1: nothing committed */
        int64_t prev_rp;   /* a reprocess range still pending there; -1: none */
        int64_t db;        /* the inbox's next_offset; -1: no row */
        int64_t current;   /* where the consumer would resume; -1: unknown */
        int64_t target;
        int64_t rp;        /* metadata to write; -1: none */
        int selected;      /* this partition is reset */
        const char *note;
};

struct replay {
        const char *log_name; /* FIRST: see seam_kafka_conf_route_logs */
        const struct opts *o;
        struct seam_config *cfg;
        const struct seam_consumer_config *cc;
        size_t cc_idx;
        rd_kafka_t *rk;
        char *cluster_id;
        int embedded;       /* librdkafka's mock cluster: the join path */
        int subscribed;
        int assigned_seen;  /* the join path got its first assignment */
        int revoked;        /* ... and later lost (part of) it */
        rd_kafka_topic_partition_list_t *assignment;
        struct part *parts;
        size_t count, cap;
        PGconn *db;
        char offsets_table[160];
        int db_table_missing;
};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void say_err(const char *fmt, ...)
{
        va_list ap;
        fflush(stdout); /* keep the order of what was printed so far */
        fputs("seam replay: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static int is_unreachable(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
               err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

static int kafka_exit(rd_kafka_resp_err_t err)
{
        return is_unreachable(err) ? REPLAY_EXIT_KAFKA : REPLAY_EXIT_FAILED;
}

/* ---- time ---------------------------------------------------------------- */

/* ---- options ------------------------------------------------------------- */

static void opts_free(struct opts *o)
{
        for (size_t i = 0; i < o->spec_count; i++)
                free(o->specs[i].topic);
        free(o->specs);
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

/* "O", "P:O" or "TOPIC:P:O" (topic names cannot contain ':'). Returns 0 for
 * a per-partition spec, 1 for a bare offset, -1 if malformed. */
static int parse_offset_arg(const char *s, struct offset_spec *spec, int64_t *all)
{
        const char *last = strrchr(s, ':');
        if (!last)
                return parse_i64(s, 0, INT64_MAX, all) ? -1 : 1;
        int64_t off, part;
        if (parse_i64(last + 1, 0, INT64_MAX, &off))
                return -1;
        const char *prev = NULL;
        for (const char *p = s; p < last; p++)
                if (*p == ':')
                        prev = p;
        const char *pstart = prev ? prev + 1 : s;
        char pbuf[16];
        size_t plen = (size_t)(last - pstart);
        if (plen == 0 || plen >= sizeof(pbuf))
                return -1;
        memcpy(pbuf, pstart, plen);
        pbuf[plen] = '\0';
        if (parse_i64(pbuf, 0, INT32_MAX, &part))
                return -1;
        spec->topic = NULL;
        if (prev) {
                if (prev == s || !(spec->topic = strndup(s, (size_t)(prev - s))))
                        return -1;
        }
        spec->partition = (int32_t)part;
        spec->offset = off;
        return 0;
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
        static const struct option longopts[] = {
                {"config", required_argument, NULL, 'c'},
                {"consumer", required_argument, NULL, 'n'},
                {"to-earliest", no_argument, NULL, 'E'},
                {"to-timestamp", required_argument, NULL, 'T'},
                {"to-offset", required_argument, NULL, 'O'},
                {"reprocess", no_argument, NULL, 'r'},
                {"dry-run", no_argument, NULL, 'd'},
                {"allow-skip", no_argument, NULL, 's'},
                {"bootstrap", required_argument, NULL, 'b'},
                {"timeout-ms", required_argument, NULL, 't'},
                {"log-level", required_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        char why[256];
        const char *bad = NULL, *twhy;
        int c;
        int64_t v;
        o->timeout_ms = DEFAULT_TIMEOUT_MS;
        optind = 1;
        while (!bad && (c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
                enum target_mode m = TO_NONE;
                switch (c) {
                case 'c': o->config = optarg; break;
                case 'n': o->consumer = optarg; break;
                case 'E': m = TO_EARLIEST; break;
                case 'T':
                        m = TO_TIMESTAMP;
                        if (seam_cli_parse_time(optarg, &o->ts_ms, &twhy)) {
                                snprintf(why, sizeof(why), "--to-timestamp '%s': %s", optarg,
                                         twhy);
                                bad = why;
                        }
                        break;
                case 'O': {
                        struct offset_spec spec;
                        int kind = parse_offset_arg(optarg, &spec, &o->offset_all);
                        if (kind < 0) {
                                snprintf(why, sizeof(why),
                                         "--to-offset '%s': expected OFFSET, PARTITION:OFFSET "
                                         "or TOPIC:PARTITION:OFFSET (non-negative numbers)",
                                         optarg);
                                bad = why;
                                break;
                        }
                        m = kind ? TO_OFFSET_ALL : TO_OFFSET_LIST;
                        if (kind == 0) {
                                struct offset_spec *ns =
                                    realloc(o->specs, (o->spec_count + 1) * sizeof(*ns));
                                if (!ns) {
                                        free(spec.topic);
                                        bad = "out of memory";
                                        break;
                                }
                                o->specs = ns;
                                o->specs[o->spec_count++] = spec;
                        }
                        break;
                }
                case 'r': o->reprocess = 1; break;
                case 'd': o->dry_run = 1; break;
                case 's': o->allow_skip = 1; break;
                case 'b': o->bootstrap = optarg; break;
                case 't':
                        if (parse_i64(optarg, 100, 600000, &v))
                                bad = "--timeout-ms takes 100..600000";
                        else
                                o->timeout_ms = (long)v;
                        break;
                case 'V': o->log_level = optarg; break;
                case 'h': fputs(usage_text, stdout); return REPLAY_EXIT_OK;
                default:
                        fputs(SYNOPSIS "Run `seam replay --help` for the options.\n", stderr);
                        return REPLAY_EXIT_USAGE;
                }
                if (m != TO_NONE) {
                        /* --to-offset P:O may repeat; nothing else combines. */
                        if (o->mode != TO_NONE && !(o->mode == TO_OFFSET_LIST && m == TO_OFFSET_LIST))
                                bad = "give one target: --to-earliest, --to-timestamp, "
                                      "--to-offset O, or --to-offset [TOPIC:]P:O (repeatable)";
                        o->mode = m;
                        o->to_text = optarg;
                }
        }
        if (!bad && optind != argc) {
                snprintf(why, sizeof(why), "unexpected argument '%s'", argv[optind]);
                bad = why;
        }
        if (!bad && !o->config)
                bad = "-c FILE is required";
        if (!bad && !o->consumer)
                bad = "--consumer NAME is required";
        if (!bad && o->mode == TO_NONE)
                bad = "a target is required: --to-earliest, --to-timestamp T or --to-offset";
        for (size_t i = 0; !bad && i < o->spec_count; i++) {
                for (size_t j = 0; j < i; j++) {
                        const struct offset_spec *a = &o->specs[i], *b = &o->specs[j];
                        if (a->partition == b->partition &&
                            ((!a->topic && !b->topic) ||
                             (a->topic && b->topic && !strcmp(a->topic, b->topic)))) {
                                snprintf(why, sizeof(why), "--to-offset: partition %s%s%d given "
                                         "twice", a->topic ? a->topic : "",
                                         a->topic ? ":" : "", (int)a->partition);
                                bad = why;
                                break;
                        }
                }
        }
        if (bad) {
                say_err("%s\n\n%sRun `seam replay --help` for the options.", bad, SYNOPSIS);
                return REPLAY_EXIT_USAGE;
        }
        return -1;
}

/* ---- partitions ---------------------------------------------------------- */

static struct part *add_part(struct replay *r, const char *topic, int32_t partition)
{
        if (r->count == r->cap) {
                size_t ncap = r->cap ? r->cap * 2 : 16;
                struct part *np = realloc(r->parts, ncap * sizeof(*np));
                if (!np)
                        return NULL;
                r->parts = np;
                r->cap = ncap;
        }
        struct part *p = &r->parts[r->count];
        memset(p, 0, sizeof(*p));
        if (!(p->topic = strdup(topic)))
                return NULL;
        r->count++;
        p->partition = partition;
        p->low = p->high = p->committed = p->prev_rp = p->db = p->current = -1;
        p->target = p->rp = -1;
        return p;
}

static int cmp_part(const void *a, const void *b)
{
        const struct part *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);
        return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static struct part *find_part(struct replay *r, const char *topic, int32_t partition)
{
        for (size_t i = 0; i < r->count; i++)
                if (r->parts[i].partition == partition && !strcmp(r->parts[i].topic, topic))
                        return &r->parts[i];
        return NULL;
}

static int has_topic(const struct replay *r, const char *topic)
{
        for (size_t i = 0; i < r->count; i++)
                if (!strcmp(r->parts[i].topic, topic))
                        return 1;
        return 0;
}

/* The list of `selected` partitions (all when `all`). */
static rd_kafka_topic_partition_list_t *part_list(const struct replay *r, int all)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->count);
        for (size_t i = 0; i < r->count; i++)
                if (all || r->parts[i].selected)
                        rd_kafka_topic_partition_list_add(l, r->parts[i].topic,
                                                          r->parts[i].partition);
        return l;
}

/* Every partition of the consumer's topics, as librdkafka would subscribe
 * them: a topic starting with '^' is a regex (POSIX extended here; internal
 * topics "__*" never match). */
static int resolve_topics(struct replay *r, const struct rd_kafka_metadata *md)
{
        const struct seam_consumer_config *cc = r->cc;
        for (size_t i = 0; i < cc->topic_count; i++) {
                const char *want = cc->topics[i];
                regex_t re;
                int is_re = want[0] == '^', matched = 0;
                if (is_re && regcomp(&re, want, REG_EXTENDED | REG_NOSUB)) {
                        say_err("%s: consumer %s: topic regex '%s' does not compile", r->cfg->path,
                                cc->name, want);
                        return REPLAY_EXIT_CONFIG;
                }
                for (int t = 0; t < md->topic_cnt; t++) {
                        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                        int hit = is_re ? strncmp(mt->topic, "__", 2) &&
                                              !regexec(&re, mt->topic, 0, NULL, 0)
                                        : !strcmp(mt->topic, want);
                        if (!hit)
                                continue;
                        matched = 1;
                        if (mt->err) {
                                say_err("topic %s: %s", mt->topic, rd_kafka_err2str(mt->err));
                                if (is_re)
                                        regfree(&re);
                                return kafka_exit(mt->err);
                        }
                        if (has_topic(r, mt->topic))
                                continue;
                        for (int p = 0; p < mt->partition_cnt; p++) {
                                if (!add_part(r, mt->topic, mt->partitions[p].id)) {
                                        if (is_re)
                                                regfree(&re);
                                        say_err("out of memory");
                                        return REPLAY_EXIT_FAILED;
                                }
                        }
                }
                if (is_re)
                        regfree(&re);
                if (!matched) {
                        say_err("consumer %s: %s %s matches no topic on the cluster", cc->name,
                                is_re ? "topic regex" : "topic", want);
                        return REPLAY_EXIT_FAILED;
                }
        }
        if (r->count > 1)
                qsort(r->parts, r->count, sizeof(*r->parts), cmp_part);
        return 0;
}

/* ---- the Kafka handle ---------------------------------------------------- */

static void pause_list(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
        /* Assigned only to prove nobody else holds them: no fetching. */
        rd_kafka_resp_err_t e = rd_kafka_pause_partitions(rk, parts);
        if (e)
                seam_log_debug("replay: pause: %s", rd_kafka_err2str(e));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        struct replay *r = opaque;
        int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                if (!r->assignment)
                        r->assignment = rd_kafka_topic_partition_list_new(parts->cnt);
                for (int i = 0; i < parts->cnt; i++)
                        if (!rd_kafka_topic_partition_list_find(r->assignment, parts->elems[i].topic,
                                                                parts->elems[i].partition))
                                rd_kafka_topic_partition_list_add(r->assignment,
                                                                  parts->elems[i].topic,
                                                                  parts->elems[i].partition);
                if (cooperative) {
                        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
                        if (e) {
                                seam_log_warn("replay: incremental_assign: %s",
                                              rd_kafka_error_string(e));
                                rd_kafka_error_destroy(e);
                        }
                } else {
                        rd_kafka_assign(rk, parts);
                }
                pause_list(rk, parts);
                r->assigned_seen = 1;
        } else {
                if (r->assigned_seen)
                        r->revoked = 1;
                for (int i = 0; r->assignment && i < parts->cnt; i++)
                        rd_kafka_topic_partition_list_del(r->assignment, parts->elems[i].topic,
                                                          parts->elems[i].partition);
                if (cooperative) {
                        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
                        if (e)
                                rd_kafka_error_destroy(e);
                } else {
                        rd_kafka_assign(rk, NULL);
                }
        }
}

/* The consumer's own librdkafka properties (bootstrap, security, assignor)
 * under `group` (NULL: its group_id), without group.instance.id: with the
 * member's static id this tool would fence the member it stands for, or be
 * fenced by it. NULL on error (message printed). */
static rd_kafka_conf_t *new_conf(struct replay *r, const char *group, const char *client_id)
{
        const char *dropped[] = {"group.instance.id"};
        char err[1024];
        rd_kafka_conf_t *base = NULL;
        if (seam_kafka_consumer_conf(r->cfg, r->cc_idx, r->o->bootstrap, &base, err,
                                     sizeof(err))) {
                say_err("%s", err);
                return NULL;
        }
        rd_kafka_conf_t *conf = rd_kafka_conf_dup_filter(base, 1, dropped);
        rd_kafka_conf_destroy(base);
        if (!conf) {
                say_err("out of memory");
                return NULL;
        }
        if ((group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err))) ||
            rd_kafka_conf_set(conf, "client.id", client_id, err, sizeof(err))) {
                say_err("librdkafka: %s", err);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        seam_kafka_conf_route_logs(conf);
        rd_kafka_conf_set_opaque(conf, r);
        return conf;
}

/* A consumer handle of the consumer's group: it commits for the group. It
 * is subscribed only on the join path. */
static int open_handle(struct replay *r)
{
        char err[512], id[160];
        snprintf(id, sizeof(id), "seam-replay-%s", r->cc->name);
        rd_kafka_conf_t *conf = new_conf(r, NULL, id);
        if (!conf)
                return REPLAY_EXIT_CONFIG;
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!r->rk) {
                say_err("librdkafka: %s", err);
                rd_kafka_conf_destroy(conf);
                return REPLAY_EXIT_CONFIG;
        }
        return 0;
}

static const char *bootstrap_of(const struct replay *r)
{
        if (r->o->bootstrap)
                return r->o->bootstrap;
        const struct seam_kv *kv = seam_kv_find(&r->cc->kafka, "bootstrap.servers");
        return kv ? kv->value : "?";
}

static int read_cluster(struct replay *r)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 1, NULL, &md, (int)r->o->timeout_ms);
        if (e) {
                if (is_unreachable(e))
                        say_err("cannot reach the Kafka brokers at %s within %ld ms (%s); "
                                "nothing changed",
                                bootstrap_of(r), r->o->timeout_ms, rd_kafka_err2str(e));
                else
                        say_err("metadata: %s; nothing changed", rd_kafka_err2str(e));
                return kafka_exit(e);
        }
        int rc = resolve_topics(r, md);
        rd_kafka_metadata_destroy(md);
        if (rc)
                return rc;
        r->cluster_id = rd_kafka_clusterid(r->rk, (int)r->o->timeout_ms);
        /* librdkafka's mock cluster names itself "mockCluster<hex>"; a real
         * cluster id is a 22-character base64 UUID. */
        r->embedded = r->cluster_id && !strncmp(r->cluster_id, "mockCluster", 11);
        return 0;
}

/* ---- is the group stopped? ----------------------------------------------- */

static const char *nz(const char *s)
{
        return s ? s : "?";
}

/* "t[0,2] u[1]" on stderr. */
static void print_assignment(const rd_kafka_topic_partition_list_t *in)
{
        rd_kafka_topic_partition_list_t *l = in ? rd_kafka_topic_partition_list_copy(in) : NULL;
        if (l)
                rd_kafka_topic_partition_list_sort(l, NULL, NULL);
        const char *topic = NULL;
        for (int i = 0; l && i < l->cnt; i++) {
                if (!topic || strcmp(topic, l->elems[i].topic)) {
                        fprintf(stderr, "%s%s[%d", topic ? "] " : "", l->elems[i].topic,
                                (int)l->elems[i].partition);
                        topic = l->elems[i].topic;
                } else {
                        fprintf(stderr, ",%d", (int)l->elems[i].partition);
                }
        }
        fputs(topic ? "]" : "(none)", stderr);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
}

/* DescribeConsumerGroups: the group must be Empty or Dead (or unknown to
 * the broker). Anything the broker cannot answer is a refusal, never a
 * guess. */
static int check_stopped_described(struct replay *r)
{
        const char *group = r->cc->group_id;
        char errstr[512];
        rd_kafka_AdminOptions_t *opts =
            rd_kafka_AdminOptions_new(r->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
        rd_kafka_queue_t *q = rd_kafka_queue_new(r->rk);
        if (!opts || !q) {
                if (opts)
                        rd_kafka_AdminOptions_destroy(opts);
                if (q)
                        rd_kafka_queue_destroy(q);
                say_err("out of memory");
                return REPLAY_EXIT_FAILED;
        }
        if (rd_kafka_AdminOptions_set_request_timeout(opts, (int)r->o->timeout_ms, errstr,
                                                      sizeof(errstr)))
                seam_log_warn("replay: admin request timeout: %s", errstr);
        const char *groups[1] = {group};
        rd_kafka_DescribeConsumerGroups(r->rk, groups, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        /* The request times itself out; the extra second covers the way
         * back through the queue. */
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)r->o->timeout_ms + 1000);
        int rc = 0;
        const rd_kafka_ConsumerGroupDescription_t *g = NULL;
        size_t n = 0;
        if (!ev) {
                say_err("refused: no answer to DescribeConsumerGroups for group %s within %ld ms, "
                        "so it cannot be shown to be stopped; nothing changed",
                        group, r->o->timeout_ms);
                rc = REPLAY_EXIT_KAFKA;
        } else if (rd_kafka_event_error(ev)) {
                say_err("refused: DescribeConsumerGroups for group %s: %s; nothing changed",
                        group, rd_kafka_event_error_string(ev));
                rc = kafka_exit(rd_kafka_event_error(ev));
        } else {
                const rd_kafka_DescribeConsumerGroups_result_t *res =
                    rd_kafka_event_DescribeConsumerGroups_result(ev);
                const rd_kafka_ConsumerGroupDescription_t **gs =
                    res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &n) : NULL;
                g = n == 1 ? gs[0] : NULL;
                const rd_kafka_error_t *ge = g ? rd_kafka_ConsumerGroupDescription_error(g) : NULL;
                if (!g) {
                        say_err("refused: DescribeConsumerGroups: %zu results for one group; "
                                "nothing changed", n);
                        rc = REPLAY_EXIT_FAILED;
                } else if (ge && rd_kafka_error_code(ge) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                        g = NULL; /* no such group: nobody is in it */
                } else if (ge) {
                        say_err("refused: DescribeConsumerGroups for group %s: %s; nothing "
                                "changed", group, rd_kafka_error_string(ge));
                        rc = kafka_exit(rd_kafka_error_code(ge));
                }
        }
        if (!rc && g) {
                rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(g);
                size_t members = rd_kafka_ConsumerGroupDescription_member_count(g);
                int stopped = (st == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY ||
                               st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD) &&
                              members == 0;
                if (!stopped) {
                        say_err("refused: group %s is active (state %s, %zu member(s)); stop "
                                "every instance of consumer %s first. Members:",
                                group, rd_kafka_consumer_group_state_name(st), members,
                                r->cc->name);
                        int statics = 0;
                        for (size_t i = 0; i < members; i++) {
                                const rd_kafka_MemberDescription_t *m =
                                    rd_kafka_ConsumerGroupDescription_member(g, i);
                                const char *gi = rd_kafka_MemberDescription_group_instance_id(m);
                                statics |= gi && *gi;
                                const rd_kafka_MemberAssignment_t *a =
                                    rd_kafka_MemberDescription_assignment(m);
                                fprintf(stderr, "  member %s client.id=%s host=%s",
                                        nz(rd_kafka_MemberDescription_consumer_id(m)),
                                        nz(rd_kafka_MemberDescription_client_id(m)),
                                        nz(rd_kafka_MemberDescription_host(m)));
                                if (gi && *gi)
                                        fprintf(stderr, " group.instance.id=%s", gi);
                                fputs(" partitions: ", stderr);
                                print_assignment(a ? rd_kafka_MemberAssignment_partitions(a)
                                                   : NULL);
                                fputc('\n', stderr);
                        }
                        if (statics)
                                fputs("Members with a group.instance.id (static membership) "
                                      "stay in the group after their process stopped, until "
                                      "their session.timeout.ms runs out.\n",
                                      stderr);
                        fputs("nothing changed\n", stderr);
                        rc = REPLAY_EXIT_ACTIVE;
                } else {
                        printf("group %s has no active members (state %s)\n", group,
                               rd_kafka_consumer_group_state_name(st));
                }
        } else if (!rc) {
                printf("group %s has no active members (unknown to the brokers)\n", group);
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* The embedded broker answers neither DescribeGroups nor an OffsetCommit
 * from outside a group that ever had members (UNKNOWN_MEMBER_ID), and
 * librdkafka 2.0.2 cannot be destroyed after DescribeConsumerGroups failed
 * there as unsupported. So the tool joins the group with the consumer's own
 * subscription and assignor: given every partition, nobody else is in the
 * group, and the commit goes out with this member's generation. Given fewer,
 * other members hold the rest: refuse (and leave, which rebalances them
 * back). A broker this old cannot say who they are. */
static int check_stopped_by_joining(struct replay *r)
{
        rd_kafka_poll_set_consumer(r->rk);
        rd_kafka_topic_partition_list_t *sub =
            rd_kafka_topic_partition_list_new((int)r->cc->topic_count);
        for (size_t i = 0; i < r->cc->topic_count; i++)
                rd_kafka_topic_partition_list_add(sub, r->cc->topics[i], RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(r->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e) {
                say_err("refused: cannot join group %s to check it is stopped: %s; nothing "
                        "changed", r->cc->group_id, rd_kafka_err2str(e));
                return REPLAY_EXIT_FAILED;
        }
        r->subscribed = 1;
        int64_t deadline = seam_mono_ms() + r->o->timeout_ms;
        while (!r->assigned_seen && seam_mono_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
                if (m)
                        rd_kafka_message_destroy(m);
        }
        if (!r->assigned_seen) {
                say_err("refused: joining group %s got no assignment within %ld ms, so it "
                        "cannot be shown to be stopped (other members may be holding it up: "
                        "the embedded broker waits for them up to their session.timeout.ms); "
                        "nothing changed", r->cc->group_id, r->o->timeout_ms);
                return REPLAY_EXIT_KAFKA;
        }
        rd_kafka_topic_partition_list_t *missing = rd_kafka_topic_partition_list_new(4);
        for (size_t i = 0; i < r->count; i++)
                if (!rd_kafka_topic_partition_list_find(r->assignment, r->parts[i].topic,
                                                        r->parts[i].partition))
                        rd_kafka_topic_partition_list_add(missing, r->parts[i].topic,
                                                          r->parts[i].partition);
        int rc = 0;
        if (missing->cnt) {
                say_err("refused: group %s has other active members: they were assigned %d of "
                        "its %zu partition(s) when this tool joined it. Stop every instance of "
                        "consumer %s first. (This broker, the embedded one, cannot describe "
                        "groups, so the members cannot be named.)",
                        r->cc->group_id, missing->cnt, r->count, r->cc->name);
                fputs("  held by other members: ", stderr);
                print_assignment(missing);
                fputs("\nnothing changed\n", stderr);
                rc = REPLAY_EXIT_ACTIVE;
        } else {
                printf("group %s has no other members (joined it alone: the embedded broker "
                       "cannot describe groups)\n",
                       r->cc->group_id);
        }
        rd_kafka_topic_partition_list_destroy(missing);
        return rc;
}

/* ---- offsets ------------------------------------------------------------- */

/* An "rp" still pending in the committed metadata: a reprocess range an
 * earlier replay asked for that the consumer has not passed yet. */
static int64_t pending_rp(const rd_kafka_topic_partition_t *e)
{
        if (!e->metadata || !e->metadata_size)
                return -1;
        json_error_t jerr;
        json_t *j = json_loadb(e->metadata, e->metadata_size, 0, &jerr);
        json_int_t v = 0, rp = -1;
        int ok = j && json_unpack(j, "{s:I,s:I}", "v", &v, "rp", &rp) == 0 && v == 1 &&
                 rp > e->offset;
        json_decref(j);
        return ok ? (int64_t)rp : -1;
}

static int read_offsets(struct replay *r)
{
        for (size_t i = 0; i < r->count; i++) {
                struct part *p = &r->parts[i];
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                    r->rk, p->topic, p->partition, &p->low, &p->high, (int)r->o->timeout_ms);
                if (e) {
                        say_err("watermarks of %s[%d]: %s; nothing changed", p->topic,
                                (int)p->partition, rd_kafka_err2str(e));
                        return kafka_exit(e);
                }
        }
        rd_kafka_topic_partition_list_t *l = part_list(r, 1);
        rd_kafka_resp_err_t e = rd_kafka_committed(r->rk, l, (int)r->o->timeout_ms);
        if (e) {
                say_err("committed offsets of group %s: %s; nothing changed", r->cc->group_id,
                        rd_kafka_err2str(e));
                rd_kafka_topic_partition_list_destroy(l);
                return kafka_exit(e);
        }
        int rc = 0;
        for (int i = 0; i < l->cnt && !rc; i++) {
                const rd_kafka_topic_partition_t *el = &l->elems[i];
                struct part *p = find_part(r, el->topic, el->partition);
                if (el->err) {
                        say_err("committed offset of %s[%d]: %s; nothing changed", el->topic,
                                (int)el->partition, rd_kafka_err2str(el->err));
                        rc = kafka_exit(el->err);
                } else if (p) {
                        p->committed = el->offset >= 0 ? el->offset : -1;
                        p->prev_rp = p->committed >= 0 ? pending_rp(el) : -1;
                }
        }
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

static int64_t clamp(struct part *p, int64_t off)
{
        if (off < p->low) {
                p->note = "below the low watermark: clamped";
                return p->low;
        }
        if (off > p->high) {
                p->note = "past the end: clamped";
                return p->high;
        }
        return off;
}

/* The embedded broker answers every ListOffsets by timestamp with -1 ("no
 * such message"), so there the first message at or after the time is found
 * by reading the partitions (small there) with a handle of its own that
 * only assigns, under a group id of its own that nothing commits to.
 * l: every partition with offset = the time; on return the offset found, or
 * -1 when no message is at or after it (as offsets_for_times). */
static int scan_for_time(struct replay *r, rd_kafka_topic_partition_list_t *l)
{
        char err[512], id[96];
        snprintf(id, sizeof(id), "seam-replay-scan-%ld-%lld", (long)getpid(),
                 (long long)seam_wall_ms());
        rd_kafka_conf_t *conf = new_conf(r, id, id);
        if (!conf)
                return REPLAY_EXIT_CONFIG;
        if (rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err))) {
                say_err("scan: %s", err);
                rd_kafka_conf_destroy(conf);
                return REPLAY_EXIT_CONFIG;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!rk) {
                say_err("scan: librdkafka: %s", err);
                rd_kafka_conf_destroy(conf);
                return REPLAY_EXIT_CONFIG;
        }
        rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(l->cnt);
        int pending = 0;
        for (int i = 0; i < l->cnt; i++) {
                rd_kafka_topic_partition_t *e = &l->elems[i];
                const struct part *p = find_part(r, e->topic, e->partition);
                e->offset = -1;
                if (p && p->high > p->low) {
                        rd_kafka_topic_partition_list_add(assign, e->topic, e->partition)->offset =
                            p->low;
                        e->err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
                        pending++;
                }
        }
        rd_kafka_resp_err_t ae = pending ? rd_kafka_assign(rk, assign) : 0;
        rd_kafka_topic_partition_list_destroy(assign);
        int rc = 0;
        if (ae) {
                say_err("scan: assign: %s", rd_kafka_err2str(ae));
                rc = kafka_exit(ae);
        }
        int64_t deadline = seam_mono_ms() + r->o->timeout_ms;
        while (!rc && pending && seam_mono_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                rd_kafka_topic_partition_t *e =
                    m->rkt ? rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt),
                                                                m->partition)
                           : NULL;
                if (e && e->err == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
                        int done = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
                        if (!m->err) {
                                rd_kafka_timestamp_type_t type;
                                int64_t ts = rd_kafka_message_timestamp(m, &type);
                                if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE &&
                                    ts >= r->o->ts_ms) {
                                        e->offset = m->offset;
                                        done = 1;
                                }
                        } else if (!done) {
                                seam_log_warn("replay: scan %s[%d]: %s", e->topic,
                                              (int)e->partition, rd_kafka_err2str(m->err));
                        }
                        if (done) {
                                e->err = 0;
                                pending--;
                                rd_kafka_topic_partition_list_t *one =
                                    rd_kafka_topic_partition_list_new(1);
                                rd_kafka_topic_partition_list_add(one, e->topic, e->partition);
                                rd_kafka_pause_partitions(rk, one);
                                rd_kafka_topic_partition_list_destroy(one);
                        }
                }
                rd_kafka_message_destroy(m);
        }
        if (!rc && pending) {
                say_err("scan for timestamp: %d partition(s) not read to the time within %ld ms; "
                        "nothing changed", pending, r->o->timeout_ms);
                rc = REPLAY_EXIT_KAFKA;
        }
        rd_kafka_destroy(rk);
        return rc;
}

static int compute_targets(struct replay *r)
{
        const struct opts *o = r->o;
        if (o->mode == TO_OFFSET_LIST) {
                for (size_t s = 0; s < o->spec_count; s++) {
                        struct offset_spec *sp = &o->specs[s];
                        const char *topic = sp->topic;
                        if (!topic) {
                                for (size_t i = 1; i < r->count; i++) {
                                        if (strcmp(r->parts[i].topic, r->parts[0].topic)) {
                                                say_err("--to-offset %d:%" PRId64 ": consumer %s "
                                                        "reads more than one topic; write "
                                                        "TOPIC:PARTITION:OFFSET",
                                                        (int)sp->partition, sp->offset,
                                                        r->cc->name);
                                                return REPLAY_EXIT_USAGE;
                                        }
                                }
                                topic = r->count ? r->parts[0].topic : "";
                        }
                        struct part *p = find_part(r, topic, sp->partition);
                        if (!p) {
                                say_err("--to-offset: %s[%d] is not a partition consumer %s "
                                        "reads", topic, (int)sp->partition, r->cc->name);
                                return REPLAY_EXIT_USAGE;
                        }
                        p->selected = 1;
                        p->target = clamp(p, sp->offset);
                }
                return 0;
        }
        for (size_t i = 0; i < r->count; i++)
                r->parts[i].selected = 1;
        if (o->mode == TO_EARLIEST) {
                for (size_t i = 0; i < r->count; i++)
                        r->parts[i].target = r->parts[i].low;
        } else if (o->mode == TO_OFFSET_ALL) {
                for (size_t i = 0; i < r->count; i++)
                        r->parts[i].target = clamp(&r->parts[i], o->offset_all);
        } else {
                rd_kafka_topic_partition_list_t *l = part_list(r, 1);
                for (int i = 0; i < l->cnt; i++)
                        l->elems[i].offset = o->ts_ms;
                rd_kafka_resp_err_t e = 0;
                int rc = 0;
                if (r->embedded)
                        rc = scan_for_time(r, l);
                else
                        e = rd_kafka_offsets_for_times(r->rk, l, (int)o->timeout_ms);
                if (e) {
                        say_err("offsets for timestamp %" PRId64 ": %s; nothing changed",
                                o->ts_ms, rd_kafka_err2str(e));
                        rc = kafka_exit(e);
                }
                for (int i = 0; !rc && i < l->cnt; i++) {
                        const rd_kafka_topic_partition_t *el = &l->elems[i];
                        struct part *p = find_part(r, el->topic, el->partition);
                        if (el->err) {
                                say_err("offset for timestamp of %s[%d]: %s; nothing changed",
                                        el->topic, (int)el->partition, rd_kafka_err2str(el->err));
                                rc = kafka_exit(el->err);
                        } else if (p && el->offset < 0) {
                                p->target = p->high;
                                p->note = "no message at or after the time: to the end";
                        } else if (p) {
                                p->target = clamp(p, el->offset);
                        }
                }
                rd_kafka_topic_partition_list_destroy(l);
                if (rc)
                        return rc;
        }
        return 0;
}

/* Where the consumer would resume, what it handles again, and the "rp"
 * metadata of --reprocess. */
static void plan(struct replay *r)
{
        for (size_t i = 0; i < r->count; i++) {
                struct part *p = &r->parts[i];
                /* The inbox's offset wins when ahead of Kafka's (consumer.c
                 * apply_db_offsets): messages up to it were applied. */
                p->current = p->committed > p->db ? p->committed : p->db;
                if (!p->selected)
                        continue;
                int64_t x = p->current;
                if (p->prev_rp > x)
                        x = p->prev_rp;
                if (r->o->reprocess && x > p->target)
                        p->rp = x;
                if (!r->o->reprocess && p->prev_rp > p->target && !p->note)
                        p->note = "an earlier --reprocess range is dropped";
        }
}

/* ---- the table ----------------------------------------------------------- */

enum { COL_TOPIC, COL_PART, COL_COMMITTED, COL_DB, COL_NEW, COL_AGAIN, NCOL };

static void cells(const struct replay *r, const struct part *p, char cell[NCOL][48],
                  const char **text)
{
        text[COL_TOPIC] = p->topic;
        snprintf(cell[COL_PART], 48, "%d", (int)p->partition);
        if (p->committed >= 0)
                snprintf(cell[COL_COMMITTED], 48, "%" PRId64, p->committed);
        else
                snprintf(cell[COL_COMMITTED], 48, "(none)");
        if (p->db >= 0)
                snprintf(cell[COL_DB], 48, "%" PRId64, p->db);
        else
                snprintf(cell[COL_DB], 48, r->db_table_missing ? "(no table)" : "(none)");
        snprintf(cell[COL_NEW], 48, "%" PRId64, p->target);
        int64_t again = p->current > p->target ? p->current - p->target : 0;
        snprintf(cell[COL_AGAIN], 48, "%" PRId64, again);
        for (int c = COL_PART; c < NCOL; c++)
                text[c] = cell[c];
}

static int64_t skipped(const struct part *p)
{
        return p->current >= 0 && p->target > p->current ? p->target - p->current : 0;
}

static void print_table(const struct replay *r)
{
        static const char *const head[NCOL] = {
                "TOPIC", "PARTITION", "COMMITTED", "DB_OFFSET", "NEW", "REPROCESS",
        };
        int show_db = r->cc->inbox_store_offsets;
        size_t width[NCOL];
        char cell[NCOL][48];
        const char *text[NCOL];
        for (int c = 0; c < NCOL; c++)
                width[c] = strlen(head[c]);
        for (size_t i = 0; i < r->count; i++) {
                if (!r->parts[i].selected)
                        continue;
                cells(r, &r->parts[i], cell, text);
                for (int c = 0; c < NCOL; c++)
                        if (strlen(text[c]) > width[c])
                                width[c] = strlen(text[c]);
        }
        for (int c = 0; c < NCOL; c++)
                if (c != COL_DB || show_db)
                        printf("%s%*s", c ? "  " : "", c == COL_TOPIC ? -(int)width[c]
                                                                      : (int)width[c], head[c]);
        printf("  NOTE\n");
        int64_t total = 0, total_skip = 0;
        for (size_t i = 0; i < r->count; i++) {
                const struct part *p = &r->parts[i];
                if (!p->selected)
                        continue;
                cells(r, p, cell, text);
                for (int c = 0; c < NCOL; c++)
                        if (c != COL_DB || show_db)
                                printf("%s%*s", c ? "  " : "",
                                       c == COL_TOPIC ? -(int)width[c] : (int)width[c], text[c]);
                int64_t skip = skipped(p);
                char note[256];
                int n = 0;
                note[0] = '\0';
                if (skip)
                        n += snprintf(note + n, sizeof(note) - (size_t)n,
                                      "SKIPS %" PRId64 " never handled", skip);
                if (p->note && n < (int)sizeof(note))
                        n += snprintf(note + n, sizeof(note) - (size_t)n, "%s%s", n ? "; " : "",
                                      p->note);
                if (p->rp >= 0 && n < (int)sizeof(note))
                        snprintf(note + n, sizeof(note) - (size_t)n, "%sreprocess below %" PRId64,
                                 n ? "; " : "", p->rp);
                if (note[0])
                        printf("  %s", note);
                putchar('\n');
                total += p->current > p->target ? p->current - p->target : 0;
                total_skip += skip;
        }
        printf("%" PRId64 " message(s) to be handled again", total);
        if (total_skip)
                printf(", %" PRId64 " skipped", total_skip);
        printf(" (%s)\n", r->o->reprocess
                              ? "--reprocess: applied again even where the dedup store has them"
                          : !strcmp(r->cc->dedup_store, "none")
                              ? "no dedup store: every one is handled again"
                              : "those the dedup store has are skipped as duplicates");
}

/* ---- the offsets database (idempotency.store_offsets) -------------------- */

static int valid_ident(const char *s, size_t n)
{
        if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return 0;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return 0;
        return 1;
}

static void pg_message(PGconn *c, const PGresult *res, char *buf, size_t size)
{
        const char *m = res ? PQresultErrorMessage(res) : NULL;
        if (!m || !*m)
                m = PQerrorMessage(c);
        snprintf(buf, size, "%s", m && *m ? m : "unknown error");
        buf[strcspn(buf, "\n")] = '\0';
}

static int db_open(struct replay *r)
{
        const char *dsn = r->cfg->dedup_postgres_dsn;
        if (!dsn) {
                say_err("%s: consumer %s has idempotency.store_offsets but seam.dedup."
                        "postgres_dsn is not set", r->cfg->path, r->cc->name);
                return REPLAY_EXIT_CONFIG;
        }
        /* seam_offsets lives in the schema of the dedup table (dedup_pg.c). */
        const char *table = r->cfg->dedup_table ? r->cfg->dedup_table : "seam_dedup";
        const char *dot = strchr(table, '.');
        if ((dot && (!valid_ident(table, (size_t)(dot - table)) ||
                     !valid_ident(dot + 1, strlen(dot + 1)))) ||
            (!dot && !valid_ident(table, strlen(table)))) {
                say_err("%s: seam.dedup.table \"%s\": expected [schema.]name with lower-case "
                        "[a-z_][a-z0-9_]* parts", r->cfg->path, table);
                return REPLAY_EXIT_CONFIG;
        }
        snprintf(r->offsets_table, sizeof(r->offsets_table), "%.*sseam_offsets",
                 dot ? (int)(dot - table + 1) : 0, table);
        char timeout[24];
        snprintf(timeout, sizeof(timeout), "%ld", (r->o->timeout_ms + 999) / 1000);
        /* The DSN comes after connect_timeout: its own value, if any, wins. */
        const char *keys[] = {"connect_timeout", "dbname", NULL};
        const char *vals[] = {timeout, dsn, NULL};
        r->db = PQconnectdbParams(keys, vals, 1);
        if (!r->db || PQstatus(r->db) != CONNECTION_OK) {
                char msg[512];
                pg_message(r->db, NULL, msg, sizeof(msg));
                say_err("refused: consumer %s keeps its offsets in PostgreSQL "
                        "(idempotency.store_offsets) and the database cannot be reached: %s; "
                        "nothing changed", r->cc->name, msg);
                return REPLAY_EXIT_DB;
        }
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT topic, partition, next_offset FROM %s WHERE group_id = $1",
                 r->offsets_table);
        const char *params[1] = {r->cc->group_id};
        PGresult *res = PQexecParams(r->db, sql, 1, NULL, params, NULL, NULL, 0);
        int rc = 0;
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
                for (int i = 0; i < PQntuples(res); i++) {
                        struct part *p = find_part(r, PQgetvalue(res, i, 0),
                                                   (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10));
                        if (p)
                                p->db = strtoll(PQgetvalue(res, i, 2), NULL, 10);
                }
        } else {
                const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                if (state && !strcmp(state, "42P01")) {
                        /* The inbox never ran: nothing stored, nothing to reset. */
                        r->db_table_missing = 1;
                } else {
                        char msg[512];
                        pg_message(r->db, res, msg, sizeof(msg));
                        say_err("refused: reading %s: %s; nothing changed", r->offsets_table,
                                msg);
                        rc = REPLAY_EXIT_DB;
                }
        }
        PQclear(res);
        return rc;
}

static int db_exec(PGconn *c, const char *sql, char *msg, size_t size)
{
        PGresult *res = PQexec(c, sql);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
                pg_message(c, res, msg, size);
        else if (!strcmp(sql, "COMMIT") && strcmp(PQcmdStatus(res), "COMMIT")) {
                /* The server answers ROLLBACK to the COMMIT of a failed
                 * transaction. */
                snprintf(msg, size, "COMMIT was answered with %s", PQcmdStatus(res));
                ok = 0;
        }
        PQclear(res);
        return ok ? 0 : -1;
}

/* next_offset of every reset partition that has a row, in one transaction.
 * A partition without a row resumes from Kafka's offset anyway. */
static int db_update(struct replay *r)
{
        if (r->db_table_missing) {
                printf("database: %s does not exist (the inbox never stored offsets): nothing "
                       "to update\n", r->offsets_table);
                return 0;
        }
        char msg[512], sql[320];
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET next_offset = $4, updated_at = now()"
                 " WHERE group_id = $1 AND topic = $2 AND partition = $3",
                 r->offsets_table);
        if (db_exec(r->db, "BEGIN", msg, sizeof(msg))) {
                say_err("database: BEGIN: %s; nothing committed to Kafka", msg);
                return REPLAY_EXIT_DB;
        }
        long rows = 0;
        for (size_t i = 0; i < r->count; i++) {
                const struct part *p = &r->parts[i];
                if (!p->selected)
                        continue;
                char part[16], off[24];
                snprintf(part, sizeof(part), "%d", (int)p->partition);
                snprintf(off, sizeof(off), "%" PRId64, p->target);
                const char *params[4] = {r->cc->group_id, p->topic, part, off};
                PGresult *res = PQexecParams(r->db, sql, 4, NULL, params, NULL, NULL, 0);
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                        pg_message(r->db, res, msg, sizeof(msg));
                        PQclear(res);
                        PQclear(PQexec(r->db, "ROLLBACK"));
                        say_err("database: updating %s for %s[%d]: %s; rolled back, nothing "
                                "committed to Kafka", r->offsets_table, p->topic,
                                (int)p->partition, msg);
                        return REPLAY_EXIT_DB;
                }
                rows += strtol(PQcmdTuples(res), NULL, 10);
                PQclear(res);
        }
        if (db_exec(r->db, "COMMIT", msg, sizeof(msg))) {
                say_err("database: COMMIT of %s: %s; nothing committed to Kafka (if the "
                        "COMMIT did land, the database's offsets are now behind Kafka's, "
                        "which the consumer ignores: run the replay again)",
                        r->offsets_table, msg);
                return REPLAY_EXIT_DB;
        }
        printf("database: set next_offset of group %s in %s to the new offsets: %ld row(s)",
               r->cc->group_id, r->offsets_table, rows);
        printf(" (a partition without a row resumes from Kafka's offset)\n");
        return 0;
}

/* ---- commit and read-back ------------------------------------------------ */

static char *metadata_for(const struct part *p)
{
        if (p->rp < 0)
                return NULL;
        char buf[64];
        snprintf(buf, sizeof(buf), "{\"v\":1,\"rp\":%" PRId64 "}", p->rp);
        _Static_assert(sizeof(buf) <= METADATA_MAX, "commit metadata limit");
        return strdup(buf);
}

static rd_kafka_topic_partition_list_t *commit_list(const struct replay *r)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->count);
        for (size_t i = 0; i < r->count; i++) {
                const struct part *p = &r->parts[i];
                if (!p->selected)
                        continue;
                rd_kafka_topic_partition_t *e =
                    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
                e->offset = p->target;
                char *md = metadata_for(p);
                if (md) {
                        e->metadata = md; /* freed with the list */
                        e->metadata_size = strlen(md);
                }
        }
        return l;
}

static int group_changed(rd_kafka_resp_err_t e)
{
        return e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
               e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
               e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
               e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID;
}

/* One OffsetCommit for all partitions, bounded: rd_kafka_commit() would
 * wait without limit. A real broker accepts a commit from outside the group
 * only while the group is Empty, so a member that joined since the check
 * makes it fail here rather than be overwritten. */
static int commit(struct replay *r, int db_done)
{
        const char *db_note = db_done ? " The database's offsets were already lowered; while "
                                        "behind Kafka's they are ignored by the consumer."
                                      : "";
        if (r->revoked) {
                say_err("refused: group %s rebalanced while this tool held it (a member "
                        "joined); stop every instance of consumer %s and run the replay again; "
                        "nothing committed.%s", r->cc->group_id, r->cc->name, db_note);
                return REPLAY_EXIT_ACTIVE;
        }
        rd_kafka_topic_partition_list_t *l = commit_list(r);
        rd_kafka_queue_t *q = rd_kafka_queue_new(r->rk);
        rd_kafka_resp_err_t e = rd_kafka_commit_queue(r->rk, l, q, NULL, NULL);
        int rc = 0;
        if (e) {
                say_err("commit: %s; nothing committed.%s", rd_kafka_err2str(e), db_note);
                rc = kafka_exit(e);
        }
        rd_kafka_event_t *ev = NULL;
        if (!rc) {
                int64_t deadline = seam_mono_ms() + r->o->timeout_ms;
                while (!ev && seam_mono_ms() < deadline) {
                        ev = rd_kafka_queue_poll(q, 100);
                        if (ev && rd_kafka_event_type(ev) != RD_KAFKA_EVENT_OFFSET_COMMIT) {
                                rd_kafka_event_destroy(ev);
                                ev = NULL;
                        }
                        if (r->subscribed) {
                                /* Serve the group (a rebalance must show up). */
                                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 0);
                                if (m)
                                        rd_kafka_message_destroy(m);
                        }
                }
                if (!ev) {
                        say_err("commit: no answer within %ld ms; whether the offsets were "
                                "committed is unknown: check with --dry-run.%s",
                                r->o->timeout_ms, db_note);
                        rc = REPLAY_EXIT_KAFKA;
                }
        }
        if (ev) {
                e = rd_kafka_event_error(ev);
                const rd_kafka_topic_partition_list_t *res = rd_kafka_event_topic_partition_list(ev);
                rd_kafka_resp_err_t first = e;
                for (int i = 0; res && i < res->cnt; i++) {
                        if (res->elems[i].err) {
                                if (!first)
                                        first = res->elems[i].err;
                                say_err("commit %s[%d]: %s", res->elems[i].topic,
                                        (int)res->elems[i].partition,
                                        rd_kafka_err2str(res->elems[i].err));
                        }
                }
                if (first && group_changed(first)) {
                        say_err("refused by the broker: a member joined group %s meanwhile "
                                "(%s); stop every instance of consumer %s and run the replay "
                                "again.%s", r->cc->group_id, rd_kafka_err2str(first),
                                r->cc->name, db_note);
                        rc = REPLAY_EXIT_ACTIVE;
                } else if (first) {
                        say_err("commit refused: %s.%s", rd_kafka_err2str(first), db_note);
                        rc = kafka_exit(first);
                }
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_queue_destroy(q);
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* The group must now hold exactly what was written, metadata included. */
static int verify(struct replay *r)
{
        rd_kafka_topic_partition_list_t *l = part_list(r, 0);
        rd_kafka_resp_err_t e = rd_kafka_committed(r->rk, l, (int)r->o->timeout_ms);
        if (e) {
                say_err("reading the offsets back: %s; the commit was acknowledged but could "
                        "not be verified", rd_kafka_err2str(e));
                rd_kafka_topic_partition_list_destroy(l);
                return kafka_exit(e);
        }
        int bad = 0;
        for (int i = 0; i < l->cnt; i++) {
                const rd_kafka_topic_partition_t *el = &l->elems[i];
                const struct part *p = find_part(r, el->topic, el->partition);
                char *want = p ? metadata_for(p) : NULL;
                size_t want_len = want ? strlen(want) : 0;
                int same = p && !el->err && el->offset == p->target &&
                           el->metadata_size == want_len &&
                           (!want_len || !memcmp(el->metadata, want, want_len));
                if (!same) {
                        say_err("read back %s[%d]: offset %" PRId64 " metadata '%.*s' (%s), "
                                "expected %" PRId64 " '%s'", el->topic, (int)el->partition,
                                el->offset, (int)(el->metadata_size < 200 ? el->metadata_size : 200),
                                el->metadata ? (const char *)el->metadata : "",
                                rd_kafka_err2str(el->err), p ? p->target : -1,
                                want ? want : "");
                        bad++;
                }
                free(want);
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (bad) {
                say_err("%d partition(s) of group %s do not hold the offsets just committed",
                        bad, r->cc->group_id);
                return REPLAY_EXIT_FAILED;
        }
        return 0;
}

/* ---- the command --------------------------------------------------------- */

static void replay_close(struct replay *r)
{
        if (r->rk) {
                if (r->subscribed) {
                        /* Leaves the group (join path). */
                        rd_kafka_resp_err_t e = rd_kafka_consumer_close(r->rk);
                        if (e)
                                seam_log_warn("replay: leaving group %s: %s", r->cc->group_id,
                                              rd_kafka_err2str(e));
                }
                rd_kafka_destroy(r->rk);
        }
        if (r->assignment)
                rd_kafka_topic_partition_list_destroy(r->assignment);
        if (r->cluster_id)
                rd_kafka_mem_free(NULL, r->cluster_id);
        for (size_t i = 0; i < r->count; i++)
                free(r->parts[i].topic);
        free(r->parts);
        if (r->db)
                PQfinish(r->db);
        seam_config_destroy(r->cfg);
}

static const char *target_text(const struct opts *o, char *buf, size_t size)
{
        switch (o->mode) {
        case TO_EARLIEST: return "the earliest offsets";
        case TO_TIMESTAMP: snprintf(buf, size, "timestamp %s (%" PRId64 " ms)", o->to_text,
                                    o->ts_ms);
                return buf;
        case TO_OFFSET_ALL: snprintf(buf, size, "offset %" PRId64, o->offset_all); return buf;
        default: return "the given partition offsets";
        }
}

static int run(struct replay *r)
{
        const struct opts *o = r->o;
        int rc = seam_cli_load_config(o->config, &r->cfg);
        if (rc)
                return REPLAY_EXIT_CONFIG;
        if ((rc = seam_cli_setup_log(r->cfg, NULL, o->log_level ? o->log_level : "error")))
                return rc;
        for (size_t i = 0; i < r->cfg->consumer_count; i++) {
                if (!strcmp(r->cfg->consumers[i].name, o->consumer)) {
                        r->cc = &r->cfg->consumers[i];
                        r->cc_idx = i;
                }
        }
        if (!r->cc) {
                say_err("%s: no consumer named '%s'; the config has:", r->cfg->path, o->consumer);
                for (size_t i = 0; i < r->cfg->consumer_count; i++)
                        fprintf(stderr, "  %s (group %s)\n", r->cfg->consumers[i].name,
                                r->cfg->consumers[i].group_id);
                return REPLAY_EXIT_CONFIG;
        }
        if (r->cfg->embedded_broker && !o->bootstrap) {
                say_err("%s: seam.embedded_broker is true: that broker lives inside `seam run` "
                        "and its topics and offsets are gone when it stops, so there is nothing "
                        "to reset. Give --bootstrap to reset the group on a real cluster.",
                        r->cfg->path);
                return REPLAY_EXIT_CONFIG;
        }
        if (o->reprocess && r->cc->inbox) {
                say_err("--reprocess: consumer %s uses the transactional inbox, whose mark is "
                        "part of the side effect's transaction: it always skips applied events, "
                        "so they cannot be applied again. Replay without --reprocess, or give "
                        "the events new idempotency keys.", r->cc->name);
                return REPLAY_EXIT_USAGE;
        }
        if ((rc = open_handle(r)) || (rc = read_cluster(r)))
                return rc;
        char tbuf[160];
        printf("seam replay: consumer %s, group %s, %zu partition(s), to %s%s%s\n", r->cc->name,
               r->cc->group_id, r->count, target_text(o, tbuf, sizeof(tbuf)),
               o->reprocess ? ", --reprocess" : "", o->dry_run ? ", dry run" : "");
        /* The database before the group: unreachable means no change at all. */
        if (r->cc->inbox_store_offsets && (rc = db_open(r)))
                return rc;
        if (r->embedded && o->dry_run)
                /* Joining would rebalance a running group: a dry run must
                 * not touch it. */
                printf("dry run: group %s not checked for active members (on the embedded "
                       "broker that takes joining it)\n", r->cc->group_id);
        else if ((rc = r->embedded ? check_stopped_by_joining(r) : check_stopped_described(r)))
                return rc;
        if ((rc = read_offsets(r)) || (rc = compute_targets(r)))
                return rc;
        plan(r);
        print_table(r);
        fflush(stdout);
        if (o->reprocess && !strcmp(r->cc->dedup_store, "none"))
                printf("note: consumer %s has no dedup store: replayed messages are handled "
                       "again with or without --reprocess\n", r->cc->name);
        int64_t skips = 0;
        for (size_t i = 0; i < r->count; i++)
                skips += r->parts[i].selected ? skipped(&r->parts[i]) : 0;
        if (skips && !o->allow_skip) {
                say_err("refused: %" PRId64 " message(s) the consumer never handled would be "
                        "skipped (partitions marked SKIPS); pass --allow-skip to skip them on "
                        "purpose; nothing changed", skips);
                return REPLAY_EXIT_USAGE;
        }
        if (o->dry_run) {
                printf("dry run: nothing changed\n");
                return 0;
        }
        int db_done = 0;
        if (r->cc->inbox_store_offsets) {
                if ((rc = db_update(r)))
                        return rc;
                db_done = !r->db_table_missing;
        }
        if ((rc = commit(r, db_done)) || (rc = verify(r)))
                return rc;
        printf("committed and verified the new offsets of group %s; start the consumer "
               "again to replay\n", r->cc->group_id);
        return 0;
}

int seam_cli_replay(int argc, char **argv)
{
        struct opts o = {0};
        int code = parse(argc, argv, &o);
        if (code >= 0) {
                opts_free(&o);
                return code;
        }
        struct replay r = {.log_name = "replay", .o = &o};
        code = run(&r);
        fflush(stdout);
        replay_close(&r);
        opts_free(&o);
        return code;
}
