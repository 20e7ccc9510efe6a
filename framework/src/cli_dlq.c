/* cli_dlq.c - the DLQ tools (docs/dlq.md, "DLQ tools"):
 *
 *   seam dlq inspect TOPIC --bootstrap HOST:PORT [filters] [--json]
 *   seam dlq replay TOPIC --bootstrap HOST:PORT [filters] [--to TOPIC]
 *            [--max-replays N] [--group G] [--dry-run]
 *
 * Both read the DLQ topic partition by partition, from the start (inspect)
 * or from the replay group's committed offsets (replay), up to the end
 * offsets queried when they started: a record written meanwhile, for
 * instance by a consumer dead-lettering a replayed message again, is left
 * for the next run instead of being chased forever. They only ever assign
 * partitions, never join a group.
 *
 * Replay publishes one record at a time and commits its DLQ offset after the
 * delivery report succeeded, synchronously, so an interrupted replay resumes
 * after the last committed record. The window that remains: a crash after a
 * record's delivery and before its commit republishes that one record on the
 * next run (the idempotent producer dedups retries within one run only). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_common.h"
#include "clock.h"
#include "dlq_record.h"
#include "err.h"
#include "kafka_conf.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_REPLAYS 3
#define TABLE_ERROR_MAX 60   /* bytes of the error message in the table */
#define PREVIEW_MAX 120      /* bytes of the value in value_preview */
#define WARN_MAX 10          /* per-record warnings before summarizing */
#define POLL_MS 200

static const char *const known_classes[] = {
        "framing", "schema", "decode", "handler", "retries_exhausted", "unknown", NULL,
};

static const char dlq_usage_text[] =
    "usage: seam dlq inspect TOPIC --bootstrap HOST:PORT [options]\n"
    "       seam dlq replay TOPIC --bootstrap HOST:PORT [options]\n"
    "\n"
    "Run `seam dlq inspect --help` or `seam dlq replay --help` for the options.\n";

static const char inspect_usage_text[] =
    "usage: seam dlq inspect TOPIC --bootstrap HOST:PORT [-X key=value ...]\n"
    "                [--class C] [--consumer NAME] [--since TIME] [--until TIME]\n"
    "                [--partition P] [--limit N] [--json] [--timeout-ms N]\n"
    "\n"
    "Lists the dead-letter records of TOPIC, from the beginning to the end\n"
    "offsets found at start, with their provenance and error (headers of\n"
    "docs/dlq.md). Reads only: never joins a group, never commits.\n"
    "\n"
    "  --bootstrap H:P     Kafka bootstrap servers (bootstrap.servers)\n"
    "  -X key=value        a librdkafka property (security.protocol, sasl.*, ssl.*)\n"
    "  --class C           only this error class (repeat for more): framing, schema,\n"
    "                      decode, handler, retries_exhausted, or unknown (records\n"
    "                      without seam headers)\n"
    "  --consumer NAME     only records dead-lettered by this consumer (repeat)\n"
    "  --since TIME        only records whose last failure is at or after TIME\n"
    "  --until TIME        only records whose last failure is before TIME\n"
    "                      TIME: 2026-11-22T10:00:00Z (UTC, optional .mmm and\n"
    "                      +HH:MM offset), 2026-11-22, or epoch milliseconds\n"
    "  --partition P       only this partition of the DLQ topic\n"
    "  --limit N           stop after N listed records\n"
    "  --json              JSON lines: every field, all headers, key and value in\n"
    "                      base64 and a printable value_preview\n"
    "  --timeout-ms N      bound of each broker request and of a read that makes\n"
    "                      no progress (default 10000)\n"
    "  --log-level L       librdkafka and seam logs on stderr (default error)\n"
    "\n"
    "exit codes: 0 listed, 2 usage, 5 brokers unreachable, 1 other failure\n"
    "            (topic missing, read error)\n";

static const char replay_usage_text[] =
    "usage: seam dlq replay TOPIC --bootstrap HOST:PORT [-X key=value ...]\n"
    "                [--to TOPIC] [--class C] [--consumer NAME] [--since TIME]\n"
    "                [--until TIME] [--partition P] [--max-replays N] [--group G]\n"
    "                [--limit N] [--dry-run] [--timeout-ms N]\n"
    "\n"
    "Re-publishes the selected dead-letter records of TOPIC to their original\n"
    "topic and partition (or to --to, partitioned by key) with the original key,\n"
    "value and headers and seam.replay.count incremented, through an idempotent\n"
    "producer (acks=all). Progress is committed on TOPIC under the replay group\n"
    "after each delivered record, so a second run resumes where the first\n"
    "stopped; the run ends at the end offsets found at start.\n"
    "\n"
    "  --to TOPIC          publish there instead of seam.original.topic\n"
    "  --max-replays N     loop guard: skip records replayed N times already\n"
    "                      (default 3)\n"
    "  --group G           the replay's own group (default seam-dlq-replay-TOPIC);\n"
    "                      records it passed, selected or not, are not read again\n"
    "                      by it: replay another selection later with another group\n"
    "  --limit N           stop after N replayed records\n"
    "  --dry-run           print what would be replayed; publish and commit nothing\n"
    "  --timeout-ms N      bound of each broker request, of one record's delivery\n"
    "                      and of a read that makes no progress (default 10000)\n"
    "  other options as for `seam dlq inspect`\n"
    "\n"
    "exit codes: 0 done, 2 usage, 5 brokers unreachable, 1 a delivery or commit\n"
    "            failed or the run was interrupted (the reason is printed; the next\n"
    "            run starts at that record)\n";

struct opts {
        int replay;
        const char *topic;
        const char *bootstrap;
        char **props; /* key, value, ..., NULL */
        size_t prop_count;
        const char **classes;
        size_t class_count;
        const char **consumers;
        size_t consumer_count;
        int has_since, has_until;
        int64_t since_ms, until_ms;
        long partition; /* -1: all */
        long limit;     /* 0: none */
        int json;
        long timeout_ms;
        const char *to;
        long max_replays;
        const char *group;
        char *group_default;
        int dry_run;
        const char *log_level;
};

static void opts_free(struct opts *o)
{
        for (size_t i = 0; i < o->prop_count; i++)
                free(o->props[i]);
        free(o->props);
        free(o->classes);
        free(o->consumers);
        free(o->group_default);
}

/* ---- small text helpers ------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
        if (s[0] < 0x80)
                return 1;
        size_t len;
        uint32_t cp;
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                cp = s[0] & 0x07;
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3f);
        }
        /* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

static int utf8_valid(const void *p, size_t n)
{
        const unsigned char *s = p;
        for (size_t i = 0; i < n;) {
                size_t l = utf8_len(s + i, n - i);
                if (!l || (l == 1 && s[i] == 0))
                        return 0;
                i += l;
        }
        return 1;
}

/* Printable text of at most `max` bytes of input: valid UTF-8 characters
 * are kept, control characters and invalid bytes become '.', and "..." marks
 * a cut. Returns a malloc'ed string. */
static char *printable(const void *p, size_t n, size_t max)
{
        const unsigned char *s = p;
        size_t lim = n < max ? n : max;
        char *out = malloc(lim + 4);
        size_t o = 0;
        if (!out)
                return NULL;
        for (size_t i = 0; i < lim;) {
                size_t l = utf8_len(s + i, n - i);
                if (l > 1 && i + l <= lim) {
                        memcpy(out + o, s + i, l);
                        o += l;
                        i += l;
                        continue;
                }
                if (l > 1) /* a character cut by the limit */
                        break;
                out[o++] = (l == 1 && s[i] >= 0x20 && s[i] != 0x7f) ? (char)s[i] : '.';
                i++;
        }
        if (lim < n) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = '\0';
        return out;
}

static char *base64(const void *p, size_t n)
{
        static const char tab[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *s = p;
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        size_t o = 0, i = 0;
        if (!out)
                return NULL;
        for (; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = tab[(v >> 6) & 63];
                out[o++] = tab[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        out[o] = '\0';
        return out;
}

/* ---- time ---------------------------------------------------------------- */

/* "2026-11-22T10:00:00Z", with ".mmm" when `millis`. */
static void format_time(int64_t ms, int millis, char *buf, size_t size)
{
        time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)t * 1000);
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
                snprintf(buf, size, "%" PRId64, ms);
                return;
        }
        char base[32];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        if (millis)
                snprintf(buf, size, "%s.%03dZ", base, frac);
        else
                snprintf(buf, size, "%sZ", base);
}

/* ---- options ------------------------------------------------------------- */

/* Properties the tools set themselves; taking them from -X would break
 * what they promise (no group membership, commits only after delivery,
 * an idempotent acks=all producer). */
static const struct {
        const char *key, *why;
} owned_props[] = {
        {"bootstrap.servers", "use --bootstrap"},
        {"group.id", "use --group (replay); inspect never joins or commits"},
        {"enable.auto.commit", "replay commits each record after its delivery"},
        {"enable.auto.offset.store", "replay commits each record after its delivery"},
        {"enable.partition.eof", "the tools find the end of each partition with it"},
        {"enable.idempotence", "the replay producer is always idempotent"},
        {"acks", "the replay producer always waits for all in-sync replicas"},
        {"transactional.id", "the replay producer is not transactional"},
        {NULL, NULL},
};

/* argv[0] is "inspect" or "replay". Returns -1 to go on, else an exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
        static const struct option longopts[] = {
                {"bootstrap", required_argument, NULL, 'b'},
                {"class", required_argument, NULL, 'c'},
                {"consumer", required_argument, NULL, 'C'},
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'},
                {"partition", required_argument, NULL, 'p'},
                {"limit", required_argument, NULL, 'l'},
                {"json", no_argument, NULL, 'j'},
                {"timeout-ms", required_argument, NULL, 'T'},
                {"to", required_argument, NULL, 't'},
                {"max-replays", required_argument, NULL, 'm'},
                {"group", required_argument, NULL, 'g'},
                {"dry-run", no_argument, NULL, 'n'},
                {"log-level", required_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *cmd = o->replay ? "dlq replay" : "dlq inspect";
        const char *usage = o->replay ? replay_usage_text : inspect_usage_text;
        const char *bad = NULL, *twhy = NULL;
        char why[512];
        int c;
        o->partition = -1;
        o->timeout_ms = DEFAULT_TIMEOUT_MS;
        o->max_replays = DEFAULT_MAX_REPLAYS;
        optind = 1;
        while (!bad && (c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'b': o->bootstrap = optarg; break;
                case 'X':
                        if (seam_cli_add_prop(&o->props, &o->prop_count, optarg)) {
                                snprintf(why, sizeof(why), "-X takes key=value, got '%s'", optarg);
                                bad = why;
                        }
                        break;
                case 'c': {
                        int known = 0;
                        for (int k = 0; known_classes[k]; k++)
                                known |= !strcmp(optarg, known_classes[k]);
                        if (!known) {
                                snprintf(why, sizeof(why),
                                         "--class '%s': not a class; one of framing, schema, "
                                         "decode, handler, retries_exhausted, unknown",
                                         optarg);
                                bad = why;
                        } else if (seam_cli_append(&o->classes, &o->class_count, optarg)) {
                                bad = "out of memory";
                        }
                        break;
                }
                case 'C':
                        if (!*optarg)
                                bad = "--consumer takes a consumer name";
                        else if (seam_cli_append(&o->consumers, &o->consumer_count, optarg))
                                bad = "out of memory";
                        break;
                case 's':
                case 'u':
                        if (seam_cli_parse_time(optarg, c == 's' ? &o->since_ms : &o->until_ms,
                                                &twhy)) {
                                snprintf(why, sizeof(why), "--%s '%s': %s",
                                         c == 's' ? "since" : "until", optarg, twhy);
                                bad = why;
                        }
                        *(c == 's' ? &o->has_since : &o->has_until) = 1;
                        break;
                case 'p':
                        if (seam_cli_parse_long(optarg, 0, INT32_MAX, &o->partition))
                                bad = "--partition takes a partition number";
                        break;
                case 'l':
                        if (seam_cli_parse_long(optarg, 1, 1000000000L, &o->limit))
                                bad = "--limit takes a number of records >= 1";
                        break;
                case 'j':
                        if (o->replay)
                                bad = "--json goes with seam dlq inspect";
                        o->json = 1;
                        break;
                case 'T':
                        if (seam_cli_parse_long(optarg, 100, 600000, &o->timeout_ms))
                                bad = "--timeout-ms takes 100..600000";
                        break;
                case 't':
                        if (!o->replay)
                                bad = "--to goes with seam dlq replay";
                        else if (!*optarg)
                                bad = "--to takes a topic name";
                        o->to = optarg;
                        break;
                case 'm':
                        if (!o->replay)
                                bad = "--max-replays goes with seam dlq replay";
                        else if (seam_cli_parse_long(optarg, 0, 1000000L, &o->max_replays))
                                bad = "--max-replays takes 0..1000000";
                        break;
                case 'g':
                        if (!o->replay)
                                bad = "--group goes with seam dlq replay (inspect uses no group)";
                        else if (!*optarg)
                                bad = "--group takes a group id";
                        o->group = optarg;
                        break;
                case 'n':
                        if (!o->replay)
                                bad = "--dry-run goes with seam dlq replay";
                        o->dry_run = 1;
                        break;
                case 'V': o->log_level = optarg; break;
                case 'h': fputs(usage, stdout); return SEAM_EXIT_OK;
                default: fputs(usage, stderr); return SEAM_EXIT_USAGE;
                }
        }
        if (!bad && optind >= argc)
                bad = "the DLQ topic is required";
        if (!bad && optind + 1 < argc) {
                snprintf(why, sizeof(why), "unexpected argument '%s'", argv[optind + 1]);
                bad = why;
        }
        if (!bad) {
                o->topic = argv[optind];
                if (!*o->topic)
                        bad = "the DLQ topic is required";
        }
        if (!bad && !o->bootstrap)
                bad = "--bootstrap is required";
        if (!bad && o->has_since && o->has_until && o->until_ms <= o->since_ms)
                bad = "--until must be after --since";
        for (size_t i = 0; !bad && i < o->prop_count; i += 2) {
                for (int k = 0; owned_props[k].key; k++) {
                        if (!strcmp(o->props[i], owned_props[k].key)) {
                                snprintf(why, sizeof(why), "-X %s: not allowed (%s)",
                                         owned_props[k].key, owned_props[k].why);
                                bad = why;
                                break;
                        }
                }
        }
        seam_log_level level = SEAM_LOG_ERROR;
        if (!bad && o->log_level && seam_log_parse_level(o->log_level, &level))
                bad = "--log-level takes debug, info, warn or error";
        if (!bad && o->replay && !o->group) {
                size_t n = strlen("seam-dlq-replay-") + strlen(o->topic) + 1;
                if (!(o->group_default = malloc(n)))
                        bad = "out of memory";
                else
                        snprintf(o->group_default, n, "seam-dlq-replay-%s", o->topic);
                o->group = o->group_default;
        }
        if (bad) {
                fprintf(stderr, "seam %s: %s\n\n", cmd, bad);
                fputs(usage, stderr);
                return SEAM_EXIT_USAGE;
        }
        seam_log_setup(SEAM_LOG_LOGFMT, level);
        return -1;
}

/* ---- Kafka clients --------------------------------------------------------- */

static int is_unreachable(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
               err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE;
}

/* `defaults` go before the user's -X (which may change them), `forced`
 * after (the parser refused -X for those). */
static rd_kafka_t *new_client(rd_kafka_type_t type, const struct opts *o, const char *group,
                              const char *const *defaults, const char *const *forced,
                              void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              void *opaque, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char rderr[512];
        const char *const *lists[] = {defaults, (const char *const *)o->props, forced};
        seam_kafka_conf_route_logs(conf);
        if (dr)
                rd_kafka_conf_set_dr_msg_cb(conf, dr);
        rd_kafka_conf_set_opaque(conf, opaque);
        if (rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, rderr, sizeof(rderr)) ||
            (group && rd_kafka_conf_set(conf, "group.id", group, rderr, sizeof(rderr)))) {
                snprintf(errstr, errstr_size, "%s", rderr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        for (int l = 0; l < 3; l++) {
                for (int i = 0; lists[l] && lists[l][i]; i += 2) {
                        if (rd_kafka_conf_set(conf, lists[l][i], lists[l][i + 1], rderr,
                                              sizeof(rderr))) {
                                snprintf(errstr, errstr_size, "%s: %s", lists[l][i], rderr);
                                rd_kafka_conf_destroy(conf);
                                return NULL;
                        }
                }
        }
        rd_kafka_t *rk = rd_kafka_new(type, conf, rderr, sizeof(rderr));
        if (!rk) {
                snprintf(errstr, errstr_size, "%s", rderr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

/* Partition count of `topic`: > 0, or SEAM_ERR_NOTFOUND (no such topic),
 * SEAM_ERR_TIMEOUT (brokers unreachable), SEAM_ERR_KAFKA, with errstr. */
static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                           size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (!rkt) {
                snprintf(errstr, errstr_size, "topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return SEAM_ERR_KAFKA;
        }
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err) {
                snprintf(errstr, errstr_size, "metadata of topic %s: %s", topic,
                         rd_kafka_err2str(err));
                return is_unreachable(err) ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        }
        int rc = SEAM_ERR_KAFKA;
        if (md->topic_cnt != 1) {
                snprintf(errstr, errstr_size, "metadata of topic %s: no answer for it", topic);
        } else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                   (!md->topics[0].err && md->topics[0].partition_cnt == 0)) {
                snprintf(errstr, errstr_size, "topic %s does not exist", topic);
                rc = SEAM_ERR_NOTFOUND;
        } else if (md->topics[0].err) {
                snprintf(errstr, errstr_size, "topic %s: %s", topic,
                         rd_kafka_err2str(md->topics[0].err));
        } else {
                rc = md->topics[0].partition_cnt;
        }
        rd_kafka_metadata_destroy(md);
        return rc;
}

static int exit_code_of(int err)
{
        return err == SEAM_ERR_TIMEOUT ? SEAM_EXIT_KAFKA
               : err == SEAM_ERR_USAGE ? SEAM_EXIT_USAGE
                                       : SEAM_EXIT_RUNTIME;
}

/* The DLQ topic as found at start: its partitions and their watermarks. */
struct reader {
        const struct opts *o;
        const char *cmd;
        rd_kafka_t *rk; /* a consumer used with assign only */
        int partitions;
        int64_t *lo, *hi;
};

/* Returns 0 or an exit code (message printed). */
static int reader_open(struct reader *r, const struct opts *o, const char *cmd, const char *group)
{
        /* Partitions are read one after the other; a fetch left waiting at
         * the end of the previous one would delay the next by up to
         * fetch.wait.max.ms (default 500). */
        static const char *const defaults[] = {
                "auto.offset.reset", "earliest",
                "client.id", "seam-dlq",
                "fetch.wait.max.ms", "50",
                NULL,
        };
        static const char *const forced[] = {
                "enable.auto.commit", "false",
                "enable.auto.offset.store", "false",
                "enable.partition.eof", "true",
                NULL,
        };
        char err[1024];
        memset(r, 0, sizeof(*r));
        r->o = o;
        r->cmd = cmd;
        if (!(r->rk = new_client(RD_KAFKA_CONSUMER, o, group, defaults, forced, NULL, NULL, err,
                                 sizeof(err)))) {
                fprintf(stderr, "seam %s: kafka: %s\n", cmd, err);
                return SEAM_EXIT_USAGE;
        }
        int n = partition_count(r->rk, o->topic, (int)o->timeout_ms, err, sizeof(err));
        if (n < 0) {
                fprintf(stderr, "seam %s: %s%s\n", cmd, err,
                        n == SEAM_ERR_TIMEOUT ? " (brokers unreachable?)" : "");
                return exit_code_of(n);
        }
        if (o->partition >= n) {
                fprintf(stderr, "seam %s: --partition %ld: topic %s has %d partition(s)\n", cmd,
                        o->partition, o->topic, n);
                return SEAM_EXIT_USAGE;
        }
        r->partitions = n;
        r->lo = calloc((size_t)n, sizeof(*r->lo));
        r->hi = calloc((size_t)n, sizeof(*r->hi));
        if (!r->lo || !r->hi)
                return SEAM_EXIT_RUNTIME;
        for (int p = 0; p < n; p++) {
                if (o->partition >= 0 && p != o->partition)
                        continue;
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                    r->rk, o->topic, p, &r->lo[p], &r->hi[p], (int)o->timeout_ms);
                if (e) {
                        fprintf(stderr, "seam %s: watermarks of %s[%d]: %s\n", cmd, o->topic, p,
                                rd_kafka_err2str(e));
                        return is_unreachable(e) ? SEAM_EXIT_KAFKA : SEAM_EXIT_RUNTIME;
                }
        }
        return 0;
}

static void reader_close(struct reader *r)
{
        if (r->rk) {
                rd_kafka_consumer_close(r->rk);
                rd_kafka_destroy(r->rk);
        }
        free(r->lo);
        free(r->hi);
}

/* What a record callback returns: go on, or stop the whole read. */
enum { READ_ON = 0, READ_STOP = 1 };
/* read_partition's results beyond those: the end was reached (0) or: */
enum { READ_STALLED = -100, READ_FAILED = -101, READ_INTERRUPTED = -102 };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        (void)sig;
        interrupted = 1;
}

/* Reads partition p from `start` up to the end offset found at start,
 * calling fn for each record. Returns 0 at the end, READ_STOP when fn asked
 * to stop, or READ_STALLED / READ_FAILED / READ_INTERRUPTED (printed). */
static int read_partition(struct reader *r, int32_t p, int64_t start,
                          int (*fn)(void *arg, const rd_kafka_message_t *m), void *arg,
                          int stop_on_signal)
{
        const struct opts *o = r->o;
        if (start >= r->hi[p])
                return 0;
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, o->topic, p)->offset = start;
        rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (e) {
                fprintf(stderr, "seam %s: assign %s[%d]: %s\n", r->cmd, o->topic, p,
                        rd_kafka_err2str(e));
                return READ_FAILED;
        }
        int rc = 0;
        int64_t progress = seam_mono_ms(), next = start;
        for (;;) {
                if (stop_on_signal && interrupted) {
                        rc = READ_INTERRUPTED;
                        break;
                }
                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
                if (!m) {
                        if (seam_mono_ms() - progress > o->timeout_ms) {
                                fprintf(stderr,
                                        "seam %s: %s[%d]: no record for %ld ms at offset %" PRId64
                                        " (end %" PRId64 "); brokers unreachable?\n",
                                        r->cmd, o->topic, p, o->timeout_ms, next, r->hi[p]);
                                rc = READ_STALLED;
                                break;
                        }
                        continue;
                }
                if (m->partition != p) { /* from an earlier assignment */
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Also ends a partition whose last offsets hold no
                         * record (transaction markers, compaction). */
                        int end = m->offset >= r->hi[p];
                        rd_kafka_message_destroy(m);
                        if (end)
                                break;
                        continue;
                }
                if (m->err) {
                        rd_kafka_resp_err_t me = m->err;
                        char text[512];
                        snprintf(text, sizeof(text), "%s", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        if (me == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                            me == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                            me == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                            me == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                            me == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
                                fprintf(stderr, "seam %s: reading %s[%d]: %s\n", r->cmd, o->topic,
                                        p, text);
                                rc = READ_FAILED;
                                break;
                        }
                        /* librdkafka retries the rest itself; the stall bound
                         * above ends a wait that never recovers. */
                        seam_log_limited("dlq-read", 5000, SEAM_LOG_WARN, NULL,
                                         "reading %s[%d]: %s", o->topic, (int)p, text);
                        continue;
                }
                progress = seam_mono_ms();
                if (m->offset >= r->hi[p]) {
                        rd_kafka_message_destroy(m);
                        break;
                }
                next = m->offset + 1;
                int last = m->offset >= r->hi[p] - 1;
                int frc = fn(arg, m);
                rd_kafka_message_destroy(m);
                if (frc) {
                        rc = frc;
                        break;
                }
                if (last)
                        break;
        }
        rd_kafka_assign(r->rk, NULL);
        return rc;
}

/* ---- selection ------------------------------------------------------------ */

static const char *class_of(const struct seam_dlq_info *i)
{
        return i->version != 0 && i->error_class && *i->error_class ? i->error_class : "unknown";
}

static int selected(const struct opts *o, const struct seam_dlq_info *i)
{
        if (o->class_count) {
                int hit = 0;
                for (size_t k = 0; k < o->class_count; k++)
                        hit |= !strcmp(o->classes[k], class_of(i));
                if (!hit)
                        return 0;
        }
        if (o->consumer_count) {
                int hit = 0;
                for (size_t k = 0; i->consumer && k < o->consumer_count; k++)
                        hit |= !strcmp(o->consumers[k], i->consumer);
                if (!hit)
                        return 0;
        }
        /* A record without seam.failure.last is outside every time range. */
        if ((o->has_since || o->has_until) && !(i->present & SEAM_DLQ_HAS_LAST))
                return 0;
        if (o->has_since && i->failure_last < o->since_ms)
                return 0;
        if (o->has_until && i->failure_last >= o->until_ms)
                return 0;
        return 1;
}

/* ---- inspect --------------------------------------------------------------- */

struct inspect {
        const struct opts *o;
        long read, listed, foreign, warned;
        int failed;
};

static void warn_record(struct inspect *s, const rd_kafka_message_t *m, const char *problem)
{
        if (s->warned++ < WARN_MAX)
                fprintf(stderr, "seam dlq inspect: warning: %s[%d]@%" PRId64 ": %s\n",
                        s->o->topic, (int)m->partition, m->offset, problem);
}

static json_t *json_text(const char *s)
{
        if (!s)
                return json_null();
        if (utf8_valid(s, strlen(s)))
                return json_string(s);
        char *p = printable(s, strlen(s), strlen(s));
        json_t *j = p ? json_string(p) : json_null();
        free(p);
        return j;
}

static json_t *json_i64(int present, int64_t v)
{
        return present ? json_integer(v) : json_null();
}

static json_t *json_b64(const void *p, size_t n)
{
        if (!p)
                return json_null();
        char *b = base64(p, n);
        json_t *j = b ? json_string(b) : json_null();
        free(b);
        return j;
}

static json_t *headers_json(const rd_kafka_message_t *m)
{
        json_t *arr = json_array();
        rd_kafka_headers_t *h;
        if (rd_kafka_message_headers(m, &h))
                return arr;
        const char *name;
        const void *v;
        size_t len;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &len); i++) {
                json_t *j = json_object();
                json_object_set_new(j, "name", json_text(name));
                /* Text stays text; anything else is kept exactly, in base64. */
                if (!v)
                        json_object_set_new(j, "value", json_null());
                else if (utf8_valid(v, len))
                        json_object_set_new(j, "value", json_stringn(v, len));
                else
                        json_object_set_new(j, "value_b64", json_b64(v, len));
                json_array_append_new(arr, j);
        }
        return arr;
}

static int print_json(const struct opts *o, const rd_kafka_message_t *m,
                      const struct seam_dlq_info *i)
{
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        unsigned has = i->present;
        char iso[40];
        json_t *j = json_object();
        json_object_set_new(j, "dlq_topic", json_string(o->topic));
        json_object_set_new(j, "dlq_partition", json_integer(m->partition));
        json_object_set_new(j, "dlq_offset", json_integer(m->offset));
        json_object_set_new(j, "dlq_timestamp", json_i64(ts >= 0, ts));
        json_object_set_new(j, "version", i->version > 0 ? json_integer(i->version) : json_null());
        json_object_set_new(j, "class", json_string(class_of(i)));
        json_object_set_new(j, "consumer", json_text(i->consumer));
        json_object_set_new(j, "group", json_text(i->group));
        json_object_set_new(j, "plugin_name", json_text(i->plugin_name));
        json_object_set_new(j, "plugin_version", json_text(i->plugin_version));
        json_object_set_new(j, "original_topic", json_text(i->original_topic));
        json_object_set_new(j, "original_partition",
                            json_i64(has & SEAM_DLQ_HAS_PARTITION, i->original_partition));
        json_object_set_new(j, "original_offset",
                            json_i64(has & SEAM_DLQ_HAS_OFFSET, i->original_offset));
        json_object_set_new(j, "original_timestamp",
                            json_i64(has & SEAM_DLQ_HAS_TIMESTAMP, i->original_timestamp));
        json_object_set_new(j, "error_message", json_text(i->error_message));
        json_object_set_new(j, "attempts", json_i64(has & SEAM_DLQ_HAS_ATTEMPTS, i->attempts));
        json_object_set_new(j, "failure_first",
                            json_i64(has & SEAM_DLQ_HAS_FIRST, i->failure_first));
        json_object_set_new(j, "failure_last", json_i64(has & SEAM_DLQ_HAS_LAST, i->failure_last));
        if (has & SEAM_DLQ_HAS_LAST) {
                format_time(i->failure_last, 1, iso, sizeof(iso));
                json_object_set_new(j, "failure_last_iso", json_string(iso));
        } else {
                json_object_set_new(j, "failure_last_iso", json_null());
        }
        json_object_set_new(j, "schema_id", json_i64(has & SEAM_DLQ_HAS_SCHEMA_ID, i->schema_id));
        json_object_set_new(j, "replay_count", json_integer(i->replay_count));
        json_object_set_new(j, "headers", headers_json(m));
        json_object_set_new(j, "key_b64", json_b64(m->key, m->key_len));
        json_object_set_new(j, "value_b64", json_b64(m->payload, m->len));
        json_object_set_new(j, "value_size", m->payload ? json_integer((json_int_t)m->len)
                                                        : json_null());
        char *preview = m->payload ? printable(m->payload, m->len, PREVIEW_MAX) : NULL;
        json_object_set_new(j, "value_preview", json_text(preview));
        free(preview);
        json_object_set_new(j, "warning", i->problem[0] ? json_string(i->problem) : json_null());
        char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (!text)
                return -1;
        puts(text);
        free(text);
        return 0;
}

static void print_table_header(void)
{
        printf("%-12s %-28s %-17s %-14s %8s %7s  %-20s  %s\n", "DLQ P@OFFSET", "ORIGINAL",
               "CLASS", "CONSUMER", "ATTEMPTS", "REPLAYS", "LAST FAILURE", "ERROR");
}

static void print_table_row(const rd_kafka_message_t *m, const struct seam_dlq_info *i)
{
        char dlq[48], orig[320], attempts[24], last[40];
        unsigned has = i->present;
        snprintf(dlq, sizeof(dlq), "%d@%" PRId64, (int)m->partition, m->offset);
        if (i->original_topic && (has & SEAM_DLQ_HAS_PARTITION) && (has & SEAM_DLQ_HAS_OFFSET))
                snprintf(orig, sizeof(orig), "%.256s[%d]@%" PRId64, i->original_topic,
                         (int)i->original_partition, i->original_offset);
        else if (i->original_topic)
                snprintf(orig, sizeof(orig), "%.256s[?]@?", i->original_topic);
        else
                snprintf(orig, sizeof(orig), "-");
        if (has & SEAM_DLQ_HAS_ATTEMPTS)
                snprintf(attempts, sizeof(attempts), "%" PRId64, i->attempts);
        else
                snprintf(attempts, sizeof(attempts), "-");
        if (has & SEAM_DLQ_HAS_LAST)
                format_time(i->failure_last, 0, last, sizeof(last));
        else
                snprintf(last, sizeof(last), "-");
        const char *msg = i->error_message ? i->error_message : (i->version ? "" : i->problem);
        char *err = printable(msg, strlen(msg), TABLE_ERROR_MAX);
        printf("%-12s %-28s %-17s %-14s %8s %7d  %-20s  %s\n", dlq, orig, class_of(i),
               i->consumer ? i->consumer : "-", attempts, i->replay_count, last,
               err ? err : "");
        free(err);
}

static int inspect_record(void *arg, const rd_kafka_message_t *m)
{
        struct inspect *s = arg;
        struct seam_dlq_info info;
        if (seam_dlq_info_parse(m, &info)) {
                s->failed = 1;
                return READ_STOP;
        }
        s->read++;
        if (info.version == 0)
                s->foreign++;
        int rc = READ_ON;
        if (selected(s->o, &info)) {
                if (info.problem[0])
                        warn_record(s, m, info.problem);
                if (s->o->json) {
                        if (print_json(s->o, m, &info)) {
                                s->failed = 1;
                                rc = READ_STOP;
                        }
                } else {
                        print_table_row(m, &info);
                }
                if (++s->listed == s->o->limit)
                        rc = READ_STOP;
        }
        seam_dlq_info_clear(&info);
        return rc;
}

static int run_inspect(const struct opts *o)
{
        struct reader r;
        /* librdkafka assigns only with a group id; inspect never joins it
         * nor commits under it. */
        int code = reader_open(&r, o, "dlq inspect", "seam-dlq-inspect");
        struct inspect s = {.o = o};
        if (code)
                goto out;
        if (!o->json)
                print_table_header();
        for (int p = 0; p < r.partitions; p++) {
                if (o->partition >= 0 && p != o->partition)
                        continue;
                int rc = read_partition(&r, p, r.lo[p], inspect_record, &s, 0);
                if (rc == READ_STALLED) {
                        code = SEAM_EXIT_KAFKA;
                        break;
                }
                if (rc == READ_FAILED || s.failed) {
                        code = SEAM_EXIT_RUNTIME;
                        break;
                }
                if (rc == READ_STOP)
                        break;
        }
        fflush(stdout);
        if (s.warned > WARN_MAX)
                fprintf(stderr, "seam dlq inspect: %ld more warning(s) not shown\n",
                        s.warned - WARN_MAX);
        fprintf(stderr, "seam dlq inspect: %ld record(s) listed of %ld read from %s", s.listed,
                s.read, o->topic);
        if (s.foreign)
                fprintf(stderr, "; %ld without seam headers (class unknown)", s.foreign);
        fprintf(stderr, "\n");
out:
        reader_close(&r);
        return code;
}

/* ---- replay ---------------------------------------------------------------- */

struct topic_info {
        char *name;
        int partitions;
};

struct replay {
        const struct opts *o;
        struct reader *r;
        rd_kafka_t *producer; /* NULL in a dry run */
        struct topic_info *topics;
        size_t topic_count;
        int32_t part;
        int64_t done_upto;  /* every record of `part` below it is processed */
        int64_t committed;  /* committed offset of `part` (-1: none) */
        long replayed, loop_guarded, not_replayable, filtered;
        int failed;         /* an exit code when != 0 */
        /* the delivery report of the one record in flight */
        int dr_done;
        rd_kafka_resp_err_t dr_err;
        int32_t dr_partition;
        int64_t dr_offset;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        struct replay *x = opaque;
        (void)rk;
        x->dr_done = 1;
        x->dr_err = m->err;
        x->dr_partition = m->partition;
        x->dr_offset = m->offset;
}

/* Partition count of a destination, asked once per topic. */
static int dest_partitions(struct replay *x, const char *topic, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < x->topic_count; i++)
                if (!strcmp(x->topics[i].name, topic))
                        return x->topics[i].partitions;
        /* Asked through the producer when there is one: its metadata cache
         * then knows the topic's leaders before the first write (else that
         * write waits about a second for them). Neither client has topics
         * auto-created. */
        int n = partition_count(x->producer ? x->producer : x->r->rk, topic,
                                (int)x->o->timeout_ms, errstr, errstr_size);
        if (n < 0)
                return n;
        struct topic_info *t = realloc(x->topics, (x->topic_count + 1) * sizeof(*t));
        if (!t)
                return SEAM_ERR_NOMEM;
        x->topics = t;
        if (!(t[x->topic_count].name = strdup(topic)))
                return SEAM_ERR_NOMEM;
        t[x->topic_count++].partitions = n;
        return n;
}

static int commit_offset(struct replay *x, int64_t offset, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, x->o->topic, x->part)->offset = offset;
        rd_kafka_resp_err_t e = rd_kafka_commit(x->r->rk, list, 0);
        if (!e && list->elems[0].err)
                e = list->elems[0].err;
        rd_kafka_topic_partition_list_destroy(list);
        if (e) {
                snprintf(errstr, errstr_size,
                         "commit of %s[%d] offset %" PRId64 " for group %s: %s", x->o->topic,
                         (int)x->part, offset, x->o->group, rd_kafka_err2str(e));
                return is_unreachable(e) ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        }
        x->committed = offset;
        return 0;
}

/* The original headers (every non-seam.* one, in order) and the next
 * replay count, as docs/dlq.md "Replay" says. */
static rd_kafka_headers_t *replay_headers(const rd_kafka_message_t *m, int count)
{
        rd_kafka_headers_t *src = NULL;
        size_t n = 0;
        if (!rd_kafka_message_headers(m, &src))
                n = rd_kafka_header_cnt(src);
        rd_kafka_headers_t *h = rd_kafka_headers_new(n + 1);
        for (size_t i = 0; i < n; i++) {
                const char *name;
                const void *v;
                size_t len;
                if (!rd_kafka_header_get_all(src, i, &name, &v, &len) &&
                    strncmp(name, "seam.", 5) != 0)
                        rd_kafka_header_add(h, name, -1, v, v ? (ssize_t)len : 0);
        }
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", count);
        rd_kafka_header_add(h, "seam.replay.count", -1, buf, -1);
        return h;
}

static void fail(struct replay *x, const rd_kafka_message_t *m, int code, const char *what)
{
        printf("%-12s dlq %d@%" PRId64 ": %s\n", "FAILED", (int)m->partition, m->offset, what);
        fflush(stdout);
        fprintf(stderr, "seam dlq replay: %s[%d]@%" PRId64 ": %s\n", x->o->topic,
                (int)m->partition, m->offset, what);
        x->failed = code;
}

/* Produces one record and waits for its delivery report. */
static int publish(struct replay *x, const rd_kafka_message_t *m, const char *dest, int32_t part,
                   int count, char *errstr, size_t errstr_size)
{
        rd_kafka_headers_t *h = replay_headers(m, count);
        x->dr_done = 0;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            x->producer, RD_KAFKA_V_TOPIC(dest), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e) {
                rd_kafka_headers_destroy(h); /* not taken over on failure */
                snprintf(errstr, errstr_size, "produce to %s: %s", dest, rd_kafka_err2str(e));
                return SEAM_ERR_KAFKA;
        }
        /* message.timeout.ms bounds the report; the margin only guards
         * against a report that never comes. */
        int64_t deadline = seam_mono_ms() + x->o->timeout_ms + 30000;
        while (!x->dr_done && seam_mono_ms() < deadline)
                rd_kafka_poll(x->producer, 100);
        if (!x->dr_done) {
                snprintf(errstr, errstr_size, "no delivery report from %s in time: outcome unknown",
                         dest);
                return SEAM_ERR_TIMEOUT;
        }
        if (x->dr_err) {
                char fatal[512] = "";
                if (rd_kafka_fatal_error(x->producer, fatal, sizeof(fatal)))
                        snprintf(errstr, errstr_size, "delivery to %s failed: %s (%s)", dest,
                                 rd_kafka_err2str(x->dr_err), fatal);
                else
                        snprintf(errstr, errstr_size, "delivery to %s failed: %s", dest,
                                 rd_kafka_err2str(x->dr_err));
                return SEAM_ERR_KAFKA;
        }
        return 0;
}

static int replay_one(struct replay *x, const rd_kafka_message_t *m,
                      const struct seam_dlq_info *i)
{
        const struct opts *o = x->o;
        const char *verb = o->dry_run ? "would skip" : "skipped";
        char err[1024];
        if (!selected(o, i)) {
                x->filtered++;
                return READ_ON;
        }
        if (i->problem[0] || i->version != 1) {
                x->not_replayable++;
                printf("%-12s dlq %d@%" PRId64 ": not replayable: %s\n", verb, (int)m->partition,
                       m->offset, i->problem[0] ? i->problem : "unsupported seam.dlq.version");
                return READ_ON;
        }
        if (i->replay_count >= o->max_replays) {
                x->loop_guarded++;
                printf("%-12s dlq %d@%" PRId64 ": loop guard: replayed %d time(s) already "
                       "(--max-replays %ld)\n",
                       verb, (int)m->partition, m->offset, i->replay_count, o->max_replays);
                return READ_ON;
        }
        /* Back to the original partition keeps the key's ordering and
         * placement whatever partitioner the original producer used; a named
         * topic is partitioned by key. */
        const char *dest = o->to ? o->to : i->original_topic;
        int32_t part = o->to ? RD_KAFKA_PARTITION_UA : i->original_partition;
        int n = dest_partitions(x, dest, err, sizeof(err));
        if (n >= 0 && part >= n) {
                snprintf(err, sizeof(err),
                         "partition %d of %s does not exist (%d partitions); --to %s "
                         "lets the partitioner choose",
                         (int)part, dest, n, dest);
                n = SEAM_ERR_NOTFOUND;
        }
        if (n < 0) {
                fail(x, m, n == SEAM_ERR_TIMEOUT ? SEAM_EXIT_KAFKA : SEAM_EXIT_RUNTIME, err);
                return READ_STOP;
        }
        char where[300];
        if (part >= 0)
                snprintf(where, sizeof(where), "%.256s[%d]", dest, (int)part);
        else
                snprintf(where, sizeof(where), "%.256s", dest);
        if (o->dry_run) {
                printf("%-12s dlq %d@%" PRId64 " -> %s (original %s[%d]@%" PRId64
                       ", class %s, replay count %d -> %d)\n",
                       "would replay", (int)m->partition, m->offset, where, i->original_topic,
                       (int)i->original_partition, i->original_offset, class_of(i),
                       i->replay_count, i->replay_count + 1);
        } else {
                if (publish(x, m, dest, part, i->replay_count + 1, err, sizeof(err))) {
                        fail(x, m, SEAM_EXIT_RUNTIME, err);
                        return READ_STOP;
                }
                /* Delivered: from here until the commit returns is the window
                 * in which a crash republishes this record next run. */
                if (commit_offset(x, m->offset + 1, err, sizeof(err))) {
                        char what[1600];
                        snprintf(what, sizeof(what),
                                 "published to %.256s[%d]@%" PRId64
                                 " but not committed (%s); the next run republishes it",
                                 dest, (int)x->dr_partition, x->dr_offset, err);
                        x->replayed++;
                        fail(x, m, SEAM_EXIT_RUNTIME, what);
                        return READ_STOP;
                }
                printf("%-12s dlq %d@%" PRId64 " -> %s[%d]@%" PRId64 " (original %s[%d]@%" PRId64
                       ", class %s, replay count %d)\n",
                       "replayed", (int)m->partition, m->offset, dest, (int)x->dr_partition,
                       x->dr_offset, i->original_topic, (int)i->original_partition,
                       i->original_offset, class_of(i), i->replay_count + 1);
        }
        x->replayed++;
        return o->limit && x->replayed >= o->limit ? READ_STOP : READ_ON;
}

static int replay_record(void *arg, const rd_kafka_message_t *m)
{
        struct replay *x = arg;
        struct seam_dlq_info info;
        if (seam_dlq_info_parse(m, &info)) {
                fail(x, m, SEAM_EXIT_RUNTIME, "out of memory");
                return READ_STOP;
        }
        int rc = replay_one(x, m, &info);
        seam_dlq_info_clear(&info);
        if (!x->failed)
                x->done_upto = m->offset + 1;
        fflush(stdout);
        return rc;
}

/* Committed offsets of the replay group on every partition (-1: none). */
static int replay_start_offsets(struct reader *r, const struct opts *o, int64_t *out)
{
        rd_kafka_topic_partition_list_t *list =
            rd_kafka_topic_partition_list_new(r->partitions);
        for (int p = 0; p < r->partitions; p++)
                rd_kafka_topic_partition_list_add(list, o->topic, p);
        rd_kafka_resp_err_t e = rd_kafka_committed(r->rk, list, (int)o->timeout_ms);
        for (int p = 0; !e && p < r->partitions; p++) {
                const rd_kafka_topic_partition_t *t = &list->elems[p];
                if (t->err) {
                        e = t->err;
                        break;
                }
                out[p] = t->offset >= 0 ? t->offset : -1;
        }
        rd_kafka_topic_partition_list_destroy(list);
        if (e) {
                fprintf(stderr, "seam dlq replay: committed offsets of group %s on %s: %s\n",
                        o->group, o->topic, rd_kafka_err2str(e));
                return is_unreachable(e) ? SEAM_EXIT_KAFKA : SEAM_EXIT_RUNTIME;
        }
        return 0;
}

static int run_replay(const struct opts *o)
{
        static const char *const producer_forced[] = {
                "enable.idempotence", "true",
                "acks", "all",
                NULL,
        };
        struct reader r;
        struct replay x = {.o = o, .r = &r};
        int64_t *start = NULL;
        char err[1024];
        int code = reader_open(&r, o, "dlq replay", o->group);
        if (code)
                goto out;
        if (!(start = calloc((size_t)r.partitions, sizeof(*start)))) {
                code = SEAM_EXIT_RUNTIME;
                goto out;
        }
        if ((code = replay_start_offsets(&r, o, start)))
                goto out;
        if (!o->dry_run) {
                char timeout[24];
                snprintf(timeout, sizeof(timeout), "%ld", o->timeout_ms);
                /* A replay never creates a topic: a destination that does not
                 * exist is an error the operator has to see. */
                const char *defaults[] = {"client.id", "seam-dlq-replay",
                                          "allow.auto.create.topics", "false",
                                          "message.timeout.ms", timeout, NULL};
                if (!(x.producer = new_client(RD_KAFKA_PRODUCER, o, NULL, defaults,
                                              producer_forced, dr_cb, &x, err, sizeof(err)))) {
                        fprintf(stderr, "seam dlq replay: kafka producer: %s\n", err);
                        code = SEAM_EXIT_USAGE;
                        goto out;
                }
        }
        /* From here Ctrl-C or SIGTERM ends the replay between records,
         * never between a delivery and its commit. */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        printf("%sreplaying %s with group %s: max replays %ld%s%s%s\n",
               o->dry_run ? "dry run: " : "", o->topic, o->group, o->max_replays,
               o->to ? ", to " : "", o->to ? o->to : "",
               o->dry_run ? " (nothing is published or committed)" : "");
        fflush(stdout);
        int stop = 0;
        for (int p = 0; !stop && p < r.partitions; p++) {
                if (o->partition >= 0 && p != o->partition)
                        continue;
                /* Below the low watermark retention already took them. */
                int64_t from = start[p] > r.lo[p] ? start[p] : r.lo[p];
                x.part = p;
                x.committed = start[p];
                x.done_upto = from;
                int rc = read_partition(&r, p, from, replay_record, &x, 1);
                if (rc == READ_STALLED && !x.failed)
                        x.failed = SEAM_EXIT_KAFKA;
                if (rc == READ_FAILED && !x.failed)
                        x.failed = SEAM_EXIT_RUNTIME;
                if (rc == READ_INTERRUPTED && !x.failed) {
                        fprintf(stderr, "seam dlq replay: interrupted; the next run resumes "
                                        "at the first record not committed\n");
                        x.failed = SEAM_EXIT_RUNTIME;
                }
                stop = rc != 0 || x.failed;
                /* Records passed over (filtered, skipped) count as done for
                 * this group; at the end of a partition everything below
                 * the end offset found at start is. Never past a failure. */
                int64_t upto = rc == 0 ? (r.hi[p] > from ? r.hi[p] : from) : x.done_upto;
                if (!o->dry_run && (!x.failed || rc == READ_INTERRUPTED) && upto > x.committed &&
                    commit_offset(&x, upto, err, sizeof(err))) {
                        fprintf(stderr, "seam dlq replay: %s\n", err);
                        if (!x.failed)
                                x.failed = SEAM_EXIT_RUNTIME;
                        stop = 1;
                }
        }
        printf("summary%s: %s %ld, skipped by loop guard %ld, not replayable %ld, "
               "filtered out %ld%s\n",
               o->dry_run ? " (dry run)" : "", o->dry_run ? "would replay" : "replayed",
               x.replayed, x.loop_guarded, x.not_replayable, x.filtered,
               x.failed ? "; stopped early, see the reason above" : "");
        code = x.failed;
out:
        fflush(stdout);
        if (x.producer) {
                rd_kafka_flush(x.producer, 1000);
                rd_kafka_destroy(x.producer);
        }
        for (size_t i = 0; i < x.topic_count; i++)
                free(x.topics[i].name);
        free(x.topics);
        free(start);
        reader_close(&r);
        return code;
}

int seam_cli_dlq(int argc, char **argv)
{
        if (argc < 2) {
                fputs(dlq_usage_text, stderr);
                return SEAM_EXIT_USAGE;
        }
        const char *sub = argv[1];
        if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
                fputs(dlq_usage_text, stdout);
                return SEAM_EXIT_OK;
        }
        struct opts o = {0};
        if (!strcmp(sub, "replay")) {
                o.replay = 1;
        } else if (strcmp(sub, "inspect")) {
                fprintf(stderr, "seam dlq: unknown subcommand '%s'\n\n%s", sub, dlq_usage_text);
                return SEAM_EXIT_USAGE;
        }
        int code = parse(argc - 1, argv + 1, &o);
        if (code >= 0) {
                opts_free(&o);
                return code;
        }
        code = o.replay ? run_replay(&o) : run_inspect(&o);
        opts_free(&o);
        return code;
}
