/* test_dlq_tools: `seam dlq inspect` and `seam dlq replay` against the
 * embedded broker in this process.
 *
 * The DLQ records are written by the test with the headers of docs/dlq.md
 * (version 1), at known partitions and offsets: several classes, consumers,
 * failure times and replay counts, one loop-guarded record and one record
 * without any seam header. Inspect is checked field by field (JSON lines)
 * and per filter; replay is checked by reading the destination topics back:
 * a dry run changes nothing, a replay republishes exactly the selected
 * records with seam.replay.count incremented and the original headers kept,
 * a second run republishes nothing, a --limit run followed by a full run
 * republishes every selected record exactly once, failures commit nothing.
 * Last, a round trip through the real writer (dlq.c): dead-letter, replay,
 * dead-letter the replayed message again, and the loop guard refuses it. */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "dlq.h"
#include "kafka_util.h"
#include "mockenv.h"
#include "testutil.h"

#define DLQ "orders.dlq"
/* RD_KAFKAP_*: not in the public headers */
#define API_PRODUCE 0
#define API_OFFSET_COMMIT 8

/* 2026-11-22T09:00:00Z .. 13:00:00Z */
#define T09 INT64_C(1795338000000)
#define T10 INT64_C(1795341600000)
#define T11 INT64_C(1795345200000)
#define T12 INT64_C(1795348800000)
#define T13 INT64_C(1795352400000)

struct hdr {
        const char *name;
        const char *value; /* NULL: a null header value */
        size_t len;
};

#define H(n, v) {n, v, sizeof(v) - 1}

/* One DLQ record as the test writes it. */
struct rec {
        const char *dlq_topic_override; /* NULL: DLQ */
        int32_t dlq_partition;
        int64_t dlq_offset;
        const char *key; /* NULL: no key */
        const char *value;
        size_t value_len; /* value NULL: a null value */
        int seam;         /* 0: no seam.* header at all */
        const char *orig_topic;
        int32_t orig_partition;
        int64_t orig_offset, orig_ts;
        const char *consumer, *group, *plugin, *plugin_version, *cls, *msg;
        int attempts;
        int64_t first, last, schema_id; /* schema_id -1: none */
        int replay;
        struct hdr orig[3];
        int norig;
};

#define SEAM_REC(cons, grp, plug, plugv)                                       \
        .seam = 1, .consumer = cons, .group = grp, .plugin = plug, .plugin_version = plugv
#define AUDIT SEAM_REC("audit", "audit-group", "order_audit", "1.2.0")
#define BILLING SEAM_REC("billing", "billing-group", "billing", "0.9")

static const struct rec recs[] = {
        {.dlq_partition = 0, .dlq_offset = 0, .key = "k-10", .value = "{\"amount\":-5}",
         .value_len = 13, AUDIT, .orig_topic = "orders", .orig_partition = 1, .orig_offset = 10,
         .orig_ts = T09 - 3600000, .cls = "handler", .msg = "amount is negative", .attempts = 1,
         .first = T09 - 60000, .last = T09, .schema_id = -1, .replay = 0,
         .orig = {H("traceparent", "00-abc-01"), H("x-bin", "\xff\x00\x01")}, .norig = 2},
        {.dlq_partition = 0, .dlq_offset = 1, .key = "k-11",
         .value = "\x00\x00\x00\x00\x2a\xff\xfe", .value_len = 7, AUDIT, .orig_topic = "orders",
         .orig_partition = 2, .orig_offset = 11, .orig_ts = T10 - 1000, .cls = "decode",
         .msg = "truncated body at byte 5", .attempts = 0, .first = T10, .last = T10,
         .schema_id = 42, .replay = 1},
        {.dlq_partition = 0, .dlq_offset = 2, .key = "p-5", .value = "pay-5", .value_len = 5,
         BILLING, .orig_topic = "payments", .orig_partition = 0, .orig_offset = 5,
         .orig_ts = T11 - 1000, .cls = "handler", .msg = "unknown currency", .attempts = 1,
         .first = T11, .last = T11, .schema_id = -1, .replay = 3,
         .orig = {H("corr", "c-5")}, .norig = 1},
        /* A record some other tool wrote: no seam header. */
        {.dlq_partition = 0, .dlq_offset = 3, .key = "x", .value = "foreign", .value_len = 7,
         .seam = 0, .orig = {H("h", "1")}, .norig = 1},
        {.dlq_partition = 1, .dlq_offset = 0, .key = "p-7", .value = "pay-7", .value_len = 5,
         BILLING, .orig_topic = "payments", .orig_partition = 1, .orig_offset = 7, .orig_ts = -1,
         .cls = "retries_exhausted", .msg = "ledger timeout", .attempts = 5,
         .first = T12 - 50000, .last = T12, .schema_id = -1, .replay = 2},
        {.dlq_partition = 1, .dlq_offset = 1, .key = "k-12", .value = "v12", .value_len = 3,
         AUDIT, .orig_topic = "orders", .orig_partition = 0, .orig_offset = 12,
         .orig_ts = T13 - 1000, .cls = "handler", .msg = "no customer", .attempts = 1,
         .first = T13, .last = T13, .schema_id = -1, .replay = 0,
         .orig = {H("traceparent", "t12")}, .norig = 1},
        /* Null key and value. */
        {.dlq_partition = 1, .dlq_offset = 2, .key = NULL, .value = NULL, .value_len = 0, AUDIT,
         .orig_topic = "orders", .orig_partition = 0, .orig_offset = 13, .orig_ts = T13 - 500,
         .cls = "framing", .msg = "empty message", .attempts = 0, .first = T13 + 1,
         .last = T13 + 1, .schema_id = -1, .replay = 0},
};
#define NRECS ((int)(sizeof(recs) / sizeof(recs[0])))
#define R0 0
#define R1 1
#define R2 2
#define R3 3
#define R4 4
#define R5 5
#define R6 6

static struct me_env *env;
static rd_kafka_t *producer, *reader;

/* ---- writing --------------------------------------------------------------- */

static void add_num(rd_kafka_headers_t *h, const char *name, int64_t v)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, v);
        rd_kafka_header_add(h, name, -1, buf, -1);
}

/* The original headers, then the seam.* ones in the order dlq.c writes. */
static rd_kafka_headers_t *rec_headers(const struct rec *r)
{
        rd_kafka_headers_t *h = rd_kafka_headers_new(24);
        for (int i = 0; i < r->norig; i++)
                rd_kafka_header_add(h, r->orig[i].name, -1, r->orig[i].value,
                                    (ssize_t)r->orig[i].len);
        if (!r->seam)
                return h;
        rd_kafka_header_add(h, "seam.dlq.version", -1, "1", -1);
        rd_kafka_header_add(h, "seam.original.topic", -1, r->orig_topic, -1);
        add_num(h, "seam.original.partition", r->orig_partition);
        add_num(h, "seam.original.offset", r->orig_offset);
        add_num(h, "seam.original.timestamp", r->orig_ts);
        rd_kafka_header_add(h, "seam.consumer", -1, r->consumer, -1);
        rd_kafka_header_add(h, "seam.group", -1, r->group, -1);
        rd_kafka_header_add(h, "seam.plugin.name", -1, r->plugin, -1);
        rd_kafka_header_add(h, "seam.plugin.version", -1, r->plugin_version, -1);
        rd_kafka_header_add(h, "seam.error.class", -1, r->cls, -1);
        rd_kafka_header_add(h, "seam.error.message", -1, r->msg, -1);
        add_num(h, "seam.attempts", r->attempts);
        add_num(h, "seam.failure.first", r->first);
        add_num(h, "seam.failure.last", r->last);
        if (r->schema_id >= 0)
                add_num(h, "seam.schema.id", r->schema_id);
        add_num(h, "seam.replay.count", r->replay);
        return h;
}

static atomic_int dr_count;
static atomic_llong dr_last_offset;
static atomic_int dr_last_err;

static void test_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        atomic_store(&dr_last_err, m->err);
        atomic_store(&dr_last_offset, m->offset);
        atomic_fetch_add(&dr_count, 1);
}

static void write_rec(const struct rec *r)
{
        int before = atomic_load(&dr_count);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(r->dlq_topic_override ? r->dlq_topic_override : DLQ),
            RD_KAFKA_V_PARTITION(r->dlq_partition),
            RD_KAFKA_V_KEY(r->key, r->key ? strlen(r->key) : 0),
            RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(rec_headers(r)),
            RD_KAFKA_V_END);
        CHECKF(!e, "produce: %s", rd_kafka_err2str(e));
        rd_kafka_flush(producer, 10000);
        CHECK_EQ_INT(atomic_load(&dr_count), before + 1);
        CHECKF(!atomic_load(&dr_last_err), "delivery: %s",
               rd_kafka_err2str(atomic_load(&dr_last_err)));
        CHECK_EQ_INT(atomic_load(&dr_last_offset), r->dlq_offset);
}

/* ---- running seam ------------------------------------------------------------ */

struct result {
        int code;
        const char *out, *err; /* env-owned */
};

static int run_count;

/* `$SEAM_BIN args...` with stdout and stderr in separate files, so JSON
 * lines are never mixed with warnings. Fails the test after 60 s or on a
 * sanitizer report. */
static struct result run(const char *first, ...)
{
        const char *argv[64];
        int n = 0;
        argv[n++] = tu_env("SEAM_BIN");
        va_list ap;
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *)) {
                CHECK(n < 62);
                argv[n++] = a;
        }
        va_end(ap);
        argv[n] = NULL;
        int id = ++run_count;
        const char *out_path = me_path(env, me_strf(env, "run%02d.out", id));
        const char *err_path = me_path(env, me_strf(env, "run%02d.err", id));
        fprintf(stderr, "run%02d:", id);
        for (int i = 1; i < n; i++)
                fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
        fflush(stderr);
        int64_t t0 = seam_mono_ms();
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
                        _exit(127);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        int status = tu_wait(pid, 60000);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                CHECKF(0, "run%02d still running after 60 s", id);
        }
        struct result r;
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        char *o = tu_read_file(out_path, NULL), *e = tu_read_file(err_path, NULL);
        r.out = me_strf(env, "%s", o ? o : "");
        r.err = me_strf(env, "%s", e ? e : "");
        free(o);
        free(e);
        if (strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error:"))
                CHECKF(0, "run%02d: sanitizer report:\n%s", id, r.err);
        fprintf(stderr, "run%02d: exit %d in %lld ms\n%s%s", id, r.code,
                (long long)(seam_mono_ms() - t0), r.out, r.err);
        return r;
}

/* ---- inspect --------------------------------------------------------------- */

struct lines {
        json_t *item[64];
        int n;
};

static struct lines parse_lines(const char *out)
{
        struct lines l = {.n = 0};
        const char *p = out;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                if (len) {
                        json_error_t jerr;
                        CHECK(l.n < 64);
                        l.item[l.n] = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
                        CHECKF(l.item[l.n], "not a JSON line: %.*s (%s)", (int)len, p, jerr.text);
                        l.n++;
                }
                p += len + (nl ? 1 : 0);
        }
        return l;
}

static void free_lines(struct lines *l)
{
        for (int i = 0; i < l->n; i++)
                json_decref(l->item[i]);
        l->n = 0;
}

static const char *jstr(json_t *o, const char *k)
{
        json_t *v = json_object_get(o, k);
        CHECKF(v, "no field %s", k);
        return json_is_null(v) ? NULL : json_string_value(v);
}

static long long jint(json_t *o, const char *k)
{
        json_t *v = json_object_get(o, k);
        CHECKF(v && json_is_integer(v), "field %s is not an integer", k);
        return json_integer_value(v);
}

static void check_null(json_t *o, const char *k)
{
        json_t *v = json_object_get(o, k);
        CHECKF(v && json_is_null(v), "field %s is not null", k);
}

/* The listed records are exactly `want` (indexes into recs), in order. */
static void check_listed(struct result r, const int *want, int nwant)
{
        CHECK_EQ_INT(r.code, 0);
        struct lines l = parse_lines(r.out);
        CHECKF(l.n == nwant, "listed %d records, want %d", l.n, nwant);
        for (int i = 0; i < nwant; i++) {
                const struct rec *x = &recs[want[i]];
                CHECK_EQ_INT(jint(l.item[i], "dlq_partition"), x->dlq_partition);
                CHECK_EQ_INT(jint(l.item[i], "dlq_offset"), x->dlq_offset);
        }
        free_lines(&l);
}

#define LISTED(r, ...)                                                         \
        do {                                                                   \
                const int want_[] = {__VA_ARGS__};                             \
                check_listed(r, want_, (int)(sizeof(want_) / sizeof(want_[0]))); \
        } while (0)

static void check_header(json_t *h, const char *name, const char *value)
{
        CHECK_STR_EQ(jstr(h, "name"), name);
        CHECK_STR_EQ(jstr(h, "value"), value);
}

static void test_inspect(void)
{
        const char *b = me_bootstrap(env);

        struct result r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", NULL);
        LISTED(r, R0, R1, R2, R3, R4, R5, R6);
        CHECK_CONTAINS(r.err, "warning: orders.dlq[0]@3: no seam.dlq.version header");
        CHECK_CONTAINS(r.err, "7 record(s) listed of 7 read from orders.dlq; 1 without seam");
        struct lines l = parse_lines(r.out);

        /* R0, every field. */
        json_t *j = l.item[R0];
        CHECK_EQ_INT(json_object_size(j), 27);
        CHECK_STR_EQ(jstr(j, "dlq_topic"), DLQ);
        CHECK(jint(j, "dlq_timestamp") > 0);
        CHECK_EQ_INT(jint(j, "version"), 1);
        CHECK_STR_EQ(jstr(j, "class"), "handler");
        CHECK_STR_EQ(jstr(j, "consumer"), "audit");
        CHECK_STR_EQ(jstr(j, "group"), "audit-group");
        CHECK_STR_EQ(jstr(j, "plugin_name"), "order_audit");
        CHECK_STR_EQ(jstr(j, "plugin_version"), "1.2.0");
        CHECK_STR_EQ(jstr(j, "original_topic"), "orders");
        CHECK_EQ_INT(jint(j, "original_partition"), 1);
        CHECK_EQ_INT(jint(j, "original_offset"), 10);
        CHECK_EQ_INT(jint(j, "original_timestamp"), T09 - 3600000);
        CHECK_STR_EQ(jstr(j, "error_message"), "amount is negative");
        CHECK_EQ_INT(jint(j, "attempts"), 1);
        CHECK_EQ_INT(jint(j, "failure_first"), T09 - 60000);
        CHECK_EQ_INT(jint(j, "failure_last"), T09);
        CHECK_STR_EQ(jstr(j, "failure_last_iso"), "2026-11-22T09:00:00.000Z");
        check_null(j, "schema_id");
        CHECK_EQ_INT(jint(j, "replay_count"), 0);
        CHECK_STR_EQ(jstr(j, "key_b64"), "ay0xMA==");
        CHECK_STR_EQ(jstr(j, "value_b64"), "eyJhbW91bnQiOi01fQ==");
        CHECK_EQ_INT(jint(j, "value_size"), 13);
        CHECK_STR_EQ(jstr(j, "value_preview"), "{\"amount\":-5}");
        check_null(j, "warning");
        json_t *hs = json_object_get(j, "headers");
        CHECK_EQ_INT(json_array_size(hs), 2 + 15);
        check_header(json_array_get(hs, 0), "traceparent", "00-abc-01");
        CHECK_STR_EQ(jstr(json_array_get(hs, 1), "name"), "x-bin");
        CHECK_STR_EQ(jstr(json_array_get(hs, 1), "value_b64"), "/wAB");
        CHECK(!json_object_get(json_array_get(hs, 1), "value"));
        check_header(json_array_get(hs, 2), "seam.dlq.version", "1");
        check_header(json_array_get(hs, 3), "seam.original.topic", "orders");
        check_header(json_array_get(hs, 16), "seam.replay.count", "0");

        /* R1: binary value, schema id, replayed once already. */
        j = l.item[R1];
        CHECK_STR_EQ(jstr(j, "class"), "decode");
        CHECK_EQ_INT(jint(j, "schema_id"), 42);
        CHECK_EQ_INT(jint(j, "attempts"), 0);
        CHECK_EQ_INT(jint(j, "replay_count"), 1);
        CHECK_STR_EQ(jstr(j, "key_b64"), "ay0xMQ==");
        CHECK_STR_EQ(jstr(j, "value_b64"), "AAAAACr//g==");
        CHECK_STR_EQ(jstr(j, "value_preview"), "....*..");
        CHECK_EQ_INT(json_array_size(json_object_get(j, "headers")), 16);

        /* R3: no seam headers: listed, class unknown, with a warning. */
        j = l.item[R3];
        CHECK_STR_EQ(jstr(j, "class"), "unknown");
        check_null(j, "version");
        check_null(j, "consumer");
        check_null(j, "original_topic");
        check_null(j, "original_partition");
        check_null(j, "failure_last");
        check_null(j, "failure_last_iso");
        CHECK_EQ_INT(jint(j, "replay_count"), 0);
        CHECK_STR_EQ(jstr(j, "key_b64"), "eA==");
        CHECK_STR_EQ(jstr(j, "value_b64"), "Zm9yZWlnbg==");
        CHECK_STR_EQ(jstr(j, "value_preview"), "foreign");
        CHECK_CONTAINS(jstr(j, "warning"), "not a seam dead-letter record");
        CHECK_EQ_INT(json_array_size(json_object_get(j, "headers")), 1);
        check_header(json_array_get(json_object_get(j, "headers"), 0), "h", "1");

        /* R4: retries exhausted, original without timestamp. */
        j = l.item[R4];
        CHECK_STR_EQ(jstr(j, "class"), "retries_exhausted");
        CHECK_EQ_INT(jint(j, "original_timestamp"), -1);
        CHECK_EQ_INT(jint(j, "attempts"), 5);
        CHECK_EQ_INT(jint(j, "replay_count"), 2);

        /* R6: null key and value. */
        j = l.item[R6];
        check_null(j, "key_b64");
        check_null(j, "value_b64");
        check_null(j, "value_size");
        check_null(j, "value_preview");
        CHECK_STR_EQ(jstr(j, "failure_last_iso"), "2026-11-22T13:00:00.001Z");
        free_lines(&l);

        /* Filters. */
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--class", "handler", NULL),
               R0, R2, R5);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--class", "handler",
                   "--consumer", "audit", NULL),
               R0, R5);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--class", "decode",
                   "--class", "framing", NULL),
               R1, R6);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--consumer", "billing",
                   NULL),
               R2, R4);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--class", "unknown", NULL),
               R3);
        /* --since inclusive, --until exclusive, on seam.failure.last. */
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--since",
                   "2026-11-22T10:00:00Z", "--until", "2026-11-22T12:00:00Z", NULL),
               R1, R2);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--since",
                   me_strf(env, "%" PRId64, T12), NULL),
               R4, R5, R6);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--since",
                   "2026-11-22T11:00:00+01:00", "--until", "2026-11-22T10:00:00.001Z", NULL),
               R1);
        /* Midnight of that day: nothing failed before it. */
        check_listed(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--until",
                         "2026-11-22", NULL),
                     NULL, 0);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--since",
                   "2026-11-22T13:00:00.001Z", NULL),
               R6);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--partition", "1", NULL),
               R4, R5, R6);
        LISTED(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--limit", "2", NULL), R0,
               R1);
        check_listed(run("dlq", "inspect", DLQ, "--bootstrap", b, "--json", "--class", "schema",
                         NULL),
                     NULL, 0);

        /* The table. */
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "DLQ P@OFFSET");
        CHECK_CONTAINS(r.out, "LAST FAILURE");
        const char *row = strstr(r.out, "\n0@0 ");
        CHECKF(row, "no row 0@0");
        const char *eol = strchr(row + 1, '\n');
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(eol - row), row);
        CHECK_CONTAINS(line, "orders[1]@10");
        CHECK_CONTAINS(line, "handler");
        CHECK_CONTAINS(line, "audit");
        CHECK_CONTAINS(line, "2026-11-22T09:00:00Z");
        CHECK_CONTAINS(line, "amount is negative");
        CHECK_CONTAINS(r.out, "\n0@3 ");
        CHECK_EQ_INT(me_count_lines(me_path(env, me_strf(env, "run%02d.out", run_count))),
                     1 + NRECS);
}

static void test_errors(void)
{
        const char *b = me_bootstrap(env);
        struct result r;

        r = run("dlq", "inspect", DLQ, NULL);
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "--bootstrap is required");
        r = run("dlq", "inspect", "--bootstrap", b, NULL);
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "the DLQ topic is required");
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--class", "handlr", NULL);
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "--class 'handlr': not a class");
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--since", "yesterday", NULL);
        CHECK_EQ_INT(r.code, 2);
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--since", "2026-11-22T10:00:00", NULL);
        CHECK_EQ_INT(r.code, 2); /* no zone: would depend on the operator's TZ */
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--since", "2026-02-30", NULL);
        CHECK_EQ_INT(r.code, 2);
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--json", NULL);
        CHECK_EQ_INT(r.code, 2);
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--dry-run", NULL);
        CHECK_EQ_INT(r.code, 2);
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "-X", "enable.idempotence=false", NULL);
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "-X enable.idempotence: not allowed");
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "-X", "group.id=x", NULL);
        CHECK_EQ_INT(r.code, 2);
        r = run("dlq", "inspect", DLQ, "--bootstrap", b, "--partition", "2", NULL);
        CHECK_EQ_INT(r.code, 2);
        CHECK_CONTAINS(r.err, "has 2 partition(s)");
        r = run("dlq", "frobnicate", NULL);
        CHECK_EQ_INT(r.code, 2);

        /* A missing topic (exit 1, "topic X does not exist") cannot be
         * shown here: the mock cluster answers Metadata v2 at most, whose
         * requests cannot say "do not create", so it creates every topic it
         * is asked about. */

        int64_t t0 = seam_mono_ms();
        r = run("dlq", "inspect", DLQ, "--bootstrap", "127.0.0.1:1", "--timeout-ms", "1000", NULL);
        CHECK_EQ_INT(r.code, 5);
        r = run("dlq", "replay", DLQ, "--bootstrap", "127.0.0.1:1", "--timeout-ms", "1000", NULL);
        CHECK_EQ_INT(r.code, 5);
        int64_t took = seam_mono_ms() - t0;
        fprintf(stderr, "two runs against an unreachable broker: %lld ms\n", (long long)took);
        CHECK(took < 20000);
}

/* ---- replay ---------------------------------------------------------------- */

static void hw(const char *topic, int n, int64_t *out)
{
        me_high_watermarks(env, topic, n, out);
}

static void check_hw(const char *topic, int n, const int64_t *want)
{
        int64_t got[8];
        hw(topic, n, got);
        for (int p = 0; p < n; p++)
                CHECKF(got[p] == want[p], "%s[%d]: end offset %" PRId64 ", want %" PRId64, topic,
                       p, got[p], want[p]);
}

static void check_committed(const char *group, int64_t p0, int64_t p1)
{
        int64_t c[2];
        me_committed_or_die(env, group, DLQ, 2, c);
        CHECKF(c[0] == p0 && c[1] == p1, "group %s committed %" PRId64 ",%" PRId64
               ", want %" PRId64 ",%" PRId64, group, c[0], c[1], p0, p1);
}

/* The record at topic[partition]@offset (destroy it). */
static rd_kafka_message_t *fetch(const char *topic, int32_t partition, int64_t offset)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
        CHECK(!rd_kafka_assign(reader, l));
        rd_kafka_topic_partition_list_destroy(l);
        int64_t deadline = seam_mono_ms() + 10000;
        rd_kafka_message_t *m = NULL;
        while (seam_mono_ms() < deadline) {
                m = rd_kafka_consumer_poll(reader, 100);
                if (m && !m->err && m->partition == partition && m->offset == offset &&
                    !strcmp(rd_kafka_topic_name(m->rkt), topic))
                        break;
                if (m)
                        rd_kafka_message_destroy(m);
                m = NULL;
        }
        rd_kafka_assign(reader, NULL);
        CHECKF(m, "no record at %s[%d]@%" PRId64, topic, (int)partition, offset);
        return m;
}

/* `m` is `x` republished: same key and value, the original headers in
 * order, then seam.replay.count = count, and nothing else. */
static void check_republished(const char *topic, int32_t partition, int64_t offset,
                              const struct rec *x, int count)
{
        rd_kafka_message_t *m = fetch(topic, partition, offset);
        fprintf(stderr, "check %s[%d]@%" PRId64 " is dlq %d@%" PRId64 " replay %d\n", topic,
                (int)partition, offset, (int)x->dlq_partition, x->dlq_offset, count);
        if (x->key) {
                CHECK(m->key && m->key_len == strlen(x->key));
                CHECK(!memcmp(m->key, x->key, m->key_len));
        } else {
                CHECK(!m->key);
        }
        if (x->value) {
                CHECK(m->payload && m->len == x->value_len);
                CHECK(!memcmp(m->payload, x->value, m->len));
        } else {
                CHECK(!m->payload);
        }
        rd_kafka_headers_t *h = NULL;
        CHECK(!rd_kafka_message_headers(m, &h));
        CHECK_EQ_INT(rd_kafka_header_cnt(h), x->norig + 1);
        const char *name;
        const void *v;
        size_t len;
        for (int i = 0; i < x->norig; i++) {
                CHECK(!rd_kafka_header_get_all(h, (size_t)i, &name, &v, &len));
                CHECK_STR_EQ(name, x->orig[i].name);
                CHECK(len == x->orig[i].len && !memcmp(v, x->orig[i].value, len));
        }
        CHECK(!rd_kafka_header_get_all(h, (size_t)x->norig, &name, &v, &len));
        CHECK_STR_EQ(name, "seam.replay.count");
        char want[16];
        snprintf(want, sizeof(want), "%d", count);
        CHECK(len == strlen(want) && !memcmp(v, want, len));
        rd_kafka_message_destroy(m);
}

static const int64_t zero3[3] = {0, 0, 0};

static void test_dry_run(void)
{
        const char *b = me_bootstrap(env);
        struct result r = run("dlq", "replay", DLQ, "--bootstrap", b, "--dry-run", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "group seam-dlq-replay-orders.dlq");
        CHECK_CONTAINS(r.out, "would replay dlq 0@0 -> orders[1] (original orders[1]@10, "
                              "class handler, replay count 0 -> 1)");
        CHECK_CONTAINS(r.out, "would replay dlq 1@0 -> payments[1]");
        CHECK_CONTAINS(r.out, "would skip   dlq 0@2: loop guard: replayed 3 time(s) already "
                              "(--max-replays 3)");
        CHECK_CONTAINS(r.out, "would skip   dlq 0@3: not replayable: no seam.dlq.version");
        CHECK_CONTAINS(r.out, "summary (dry run): would replay 5, skipped by loop guard 1, "
                              "not replayable 1, filtered out 0\n");
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--dry-run", "--max-replays", "1", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "would replay 3, skipped by loop guard 3, not replayable 1,");
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--dry-run", "--class", "handler", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary (dry run): would replay 2, skipped by loop guard 1, "
                              "not replayable 0, filtered out 4\n");
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--dry-run", "--limit", "1", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "would replay 1, skipped by loop guard 0,");
        /* Nothing published, nothing committed. */
        check_hw("orders", 3, zero3);
        check_hw("payments", 2, zero3);
        check_hw("elsewhere", 1, zero3);
        check_committed("seam-dlq-replay-orders.dlq", -1, -1);
}

static void test_replay_all(void)
{
        const char *b = me_bootstrap(env);
        struct result r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-all", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 5, skipped by loop guard 1, not replayable 1, "
                              "filtered out 0\n");
        CHECK_CONTAINS(r.out, "replayed     dlq 0@0 -> orders[1]@0 (original orders[1]@10, "
                              "class handler, replay count 1)");
        CHECK_CONTAINS(r.out, "skipped      dlq 0@2: loop guard");
        check_committed("g-all", 4, 3);
        check_hw("orders", 3, (const int64_t[]){2, 1, 1});
        check_hw("payments", 2, (const int64_t[]){0, 1});
        /* Back to the original partitions, in DLQ order. */
        check_republished("orders", 1, 0, &recs[R0], 1);
        check_republished("orders", 2, 0, &recs[R1], 2);
        check_republished("payments", 1, 0, &recs[R4], 3);
        check_republished("orders", 0, 0, &recs[R5], 1);
        check_republished("orders", 0, 1, &recs[R6], 1);

        /* Again: resumes at the committed offsets, which are at the end. */
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-all", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 0, skipped by loop guard 0, not replayable 0, "
                              "filtered out 0\n");
        check_hw("orders", 3, (const int64_t[]){2, 1, 1});
        check_hw("payments", 2, (const int64_t[]){0, 1});
}

/* An interrupted replay (--limit) and its resumption: every selected record
 * republished exactly once in total. */
static void test_replay_resume(void)
{
        const char *b = me_bootstrap(env);
        struct result r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-audit",
                              "--consumer", "audit", "--limit", "2", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 2, skipped by loop guard 0, not replayable 0, "
                              "filtered out 0\n");
        check_committed("g-audit", 2, -1);
        check_hw("orders", 3, (const int64_t[]){2, 2, 2});

        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-audit", "--consumer",
                "audit", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 2, skipped by loop guard 0, not replayable 0, "
                              "filtered out 3\n");
        check_committed("g-audit", 4, 3);
        check_hw("orders", 3, (const int64_t[]){4, 2, 2});
        check_hw("payments", 2, (const int64_t[]){0, 1});
        check_republished("orders", 1, 1, &recs[R0], 1);
        check_republished("orders", 2, 1, &recs[R1], 2);
        check_republished("orders", 0, 2, &recs[R5], 1);
        check_republished("orders", 0, 3, &recs[R6], 1);

        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-audit", "--consumer",
                "audit", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 0,");
        check_hw("orders", 3, (const int64_t[]){4, 2, 2});
}

static void test_replay_to(void)
{
        const char *b = me_bootstrap(env);
        struct result r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-to", "--to",
                              "elsewhere", "--class", "retries_exhausted", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "-> elsewhere[0]@0 (original payments[1]@7");
        CHECK_CONTAINS(r.out, "summary: replayed 1, skipped by loop guard 0, not replayable 0, "
                              "filtered out 6\n");
        check_hw("elsewhere", 1, (const int64_t[]){1});
        check_hw("payments", 2, (const int64_t[]){0, 1});
        check_republished("elsewhere", 0, 0, &recs[R4], 3);
        check_committed("g-to", 4, 3);
}

static void test_replay_failures(void)
{
        const char *b = me_bootstrap(env);
        /* A destination partition that does not exist: exit 1 with the
         * reason, nothing committed. */
        struct rec bad = recs[R5];
        bad.dlq_topic_override = "bad.dlq";
        bad.dlq_partition = 0;
        bad.dlq_offset = 0;
        bad.orig_partition = 7;
        write_rec(&bad);
        struct result r = run("dlq", "replay", "bad.dlq", "--bootstrap", b, NULL);
        CHECK_EQ_INT(r.code, 1);
        CHECK_CONTAINS(r.err, "partition 7 of orders does not exist (3 partitions)");
        CHECK_CONTAINS(r.out, "FAILED       dlq 0@0:");
        CHECK_CONTAINS(r.out, "stopped early");
        int64_t c[1];
        me_committed_or_die(env, "seam-dlq-replay-bad.dlq", "bad.dlq", 1, c);
        CHECK_EQ_INT(c[0], -1);
        /* With --to the partitioner chooses. */
        r = run("dlq", "replay", "bad.dlq", "--bootstrap", b, "--to", "orders", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 1,");
        me_committed_or_die(env, "seam-dlq-replay-bad.dlq", "bad.dlq", 1, c);
        CHECK_EQ_INT(c[0], 1);

        /* A replay stops at the end offsets it found at start: replayed into
         * its own DLQ topic, the new record is not chased in the same run;
         * the next run finds it (without seam.dlq.version: not replayable). */
        r = run("dlq", "replay", "bad.dlq", "--bootstrap", b, "--group", "g-self", "--to",
                "bad.dlq", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "replayed     dlq 0@0 -> bad.dlq[0]@1");
        CHECK_CONTAINS(r.out, "summary: replayed 1, skipped by loop guard 0, not replayable 0, "
                              "filtered out 0\n");
        me_committed_or_die(env, "g-self", "bad.dlq", 1, c);
        CHECK_EQ_INT(c[0], 1);
        check_hw("bad.dlq", 1, (const int64_t[]){2});
        r = run("dlq", "replay", "bad.dlq", "--bootstrap", b, "--group", "g-self", "--to",
                "bad.dlq", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 0, skipped by loop guard 0, not replayable 1, "
                              "filtered out 0\n");
        check_hw("bad.dlq", 1, (const int64_t[]){2});

        /* The broker refuses the first write: exit 1 with the reason,
         * nothing committed, nothing published; the next run does it. */
        rd_kafka_mock_push_request_errors(me_mock(env), API_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        int64_t orders_end[3];
        hw("orders", 3, orders_end);
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-fail", "--class", "handler",
                "--max-replays", "5", NULL);
        CHECK_EQ_INT(r.code, 1);
        CHECK_CONTAINS(r.out, "FAILED       dlq 0@0: delivery to orders failed");
        CHECK_CONTAINS(r.err, "Topic authorization failed");
        check_committed("g-fail", -1, -1);
        check_hw("orders", 3, orders_end);

        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-fail", "--class", "handler",
                "--max-replays", "5", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 3, skipped by loop guard 0, not replayable 0, "
                              "filtered out 4\n");
        check_committed("g-fail", 4, 3);
        check_hw("orders", 3,
                 (const int64_t[]){orders_end[0] + 1, orders_end[1] + 1, orders_end[2]});
        check_hw("payments", 2, (const int64_t[]){1, 1});
        check_republished("orders", 1, orders_end[1], &recs[R0], 1);
        check_republished("payments", 0, 0, &recs[R2], 4);
        check_republished("orders", 0, orders_end[0], &recs[R5], 1);

        /* The documented window: delivered, then the commit fails. Exit 1
         * naming the record, which the next run republishes: that record
         * once more, nothing else. */
        hw("orders", 3, orders_end);
        rd_kafka_mock_push_request_errors(me_mock(env), API_OFFSET_COMMIT, 1,
                                          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-window", "--partition", "1",
                "--class", "framing", NULL);
        CHECK_EQ_INT(r.code, 1);
        CHECK_CONTAINS(r.out, "FAILED       dlq 1@2: published to orders[0]@");
        CHECK_CONTAINS(r.out, "but not committed");
        CHECK_CONTAINS(r.out, "the next run republishes it");
        check_committed("g-window", -1, -1);
        check_hw("orders", 3, (const int64_t[]){orders_end[0] + 1, orders_end[1], orders_end[2]});
        r = run("dlq", "replay", DLQ, "--bootstrap", b, "--group", "g-window", "--partition", "1",
                "--class", "framing", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 1, skipped by loop guard 0, not replayable 0, "
                              "filtered out 2\n");
        check_committed("g-window", -1, 3);
        check_hw("orders", 3, (const int64_t[]){orders_end[0] + 2, orders_end[1], orders_end[2]});
        check_republished("orders", 0, orders_end[0], &recs[R6], 1);
        check_republished("orders", 0, orders_end[0] + 1, &recs[R6], 1);
}

/* Records that claim to be seam records but break the contract: listed with
 * the reason, never replayed. */
static void test_malformed(void)
{
        const char *b = me_bootstrap(env);
        me_create_topic(env, "odd.dlq", 1);
        struct rec x = recs[R0];
        x.dlq_topic_override = "odd.dlq";
        x.dlq_offset = 0;
        write_rec(&x); /* a good one, for contrast */

        /* A replay count the writer's reader would take as 0: the loop
         * guard must not. */
        rd_kafka_headers_t *h = rec_headers(&recs[R5]);
        rd_kafka_header_add(h, "seam.replay.count", -1, "12345678901", -1);
        CHECK(!rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("odd.dlq"), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END));
        /* A later version of the contract. */
        h = rec_headers(&recs[R5]);
        rd_kafka_header_add(h, "seam.dlq.version", -1, "2", -1);
        CHECK(!rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("odd.dlq"), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END));
        /* Version 1 with a required header missing and a number that is not. */
        h = rd_kafka_headers_new(4);
        rd_kafka_header_add(h, "seam.dlq.version", -1, "1", -1);
        rd_kafka_header_add(h, "seam.original.topic", -1, "orders", -1);
        rd_kafka_header_add(h, "seam.original.partition", -1, "zero", -1);
        CHECK(!rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("odd.dlq"), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END));
        rd_kafka_flush(producer, 10000);
        check_hw("odd.dlq", 1, (const int64_t[]){4});

        struct result r = run("dlq", "inspect", "odd.dlq", "--bootstrap", b, "--json", NULL);
        CHECK_EQ_INT(r.code, 0);
        struct lines l = parse_lines(r.out);
        CHECK_EQ_INT(l.n, 4);
        check_null(l.item[0], "warning");
        CHECK_STR_EQ(jstr(l.item[1], "warning"), "header seam.replay.count is out of range");
        CHECK_CONTAINS(jstr(l.item[2], "warning"), "seam.dlq.version 2 is newer than this reader");
        CHECK_EQ_INT(jint(l.item[2], "version"), 2);
        CHECK_STR_EQ(jstr(l.item[3], "warning"), "missing header seam.consumer");
        check_null(l.item[3], "original_partition");
        CHECK_STR_EQ(jstr(l.item[3], "class"), "unknown");
        free_lines(&l);
        CHECK_CONTAINS(r.err, "warning: odd.dlq[0]@1: header seam.replay.count is out of range");

        r = run("dlq", "replay", "odd.dlq", "--bootstrap", b, "--to", "elsewhere", "--max-replays",
                "1000000", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 1, skipped by loop guard 0, not replayable 3, "
                              "filtered out 0\n");
        CHECK_CONTAINS(r.out, "dlq 0@1: not replayable: header seam.replay.count is out of range");
}

/* ---- round trip through the real writer ------------------------------------- */

static atomic_int written;

static void written_cb(void *opaque, rd_kafka_resp_err_t err, const char *errstr)
{
        (void)opaque;
        if (err)
                fprintf(stderr, "dlq write failed: %s\n", errstr ? errstr : "");
        atomic_store(&written, err ? -1 : 1);
}

static int written_cond(void *arg)
{
        (void)arg;
        return atomic_load(&written) != 0;
}

static void dead_letter(struct seam_dlq *d, const rd_kafka_message_t *m)
{
        struct seam_dlq_record rec = {
                .original = m, .dlq_topic = "rt.dlq", .consumer = "rtc", .group = "rtg",
                .plugin_name = "recorder", .plugin_version = "1", .error_class = "handler",
                .error_message = "rejected", .attempts = 1, .first_failure_ms = T09,
                .last_failure_ms = T09, .schema_id = -1,
        };
        char err[512];
        atomic_store(&written, 0);
        CHECKF(!seam_dlq_write(d, &rec, written_cb, NULL, err, sizeof(err)), "%s", err);
        CHECK(tu_wait_for(written_cond, NULL, 20000));
        CHECK_EQ_INT(atomic_load(&written), 1);
}

static void test_writer_round_trip(void)
{
        const char *b = me_bootstrap(env);
        me_create_topic(env, "rt", 1);
        me_create_topic(env, "rt.dlq", 1);
        rd_kafka_headers_t *h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, "corr", -1, "c-rt", -1);
        CHECK(!rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("rt"), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_KEY("rt-key", 6), RD_KAFKA_V_VALUE("rt-value", 8),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                 RD_KAFKA_V_END));
        rd_kafka_flush(producer, 10000);

        struct seam_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.path = "test_dlq_tools";
        struct seam_dlq *d = NULL;
        char err[512];
        CHECKF(!seam_dlq_new(&cfg, b, &d, err, sizeof(err)), "%s", err);
        rd_kafka_message_t *m = fetch("rt", 0, 0);
        dead_letter(d, m);
        rd_kafka_message_destroy(m);

        struct result r = run("dlq", "inspect", "rt.dlq", "--bootstrap", b, "--json", NULL);
        CHECK_EQ_INT(r.code, 0);
        struct lines l = parse_lines(r.out);
        CHECK_EQ_INT(l.n, 1);
        CHECK_STR_EQ(jstr(l.item[0], "class"), "handler");
        CHECK_STR_EQ(jstr(l.item[0], "original_topic"), "rt");
        CHECK_EQ_INT(jint(l.item[0], "original_offset"), 0);
        CHECK_STR_EQ(jstr(l.item[0], "consumer"), "rtc");
        CHECK_EQ_INT(jint(l.item[0], "replay_count"), 0);
        check_null(l.item[0], "warning");
        check_header(json_array_get(json_object_get(l.item[0], "headers"), 0), "corr", "c-rt");
        free_lines(&l);

        r = run("dlq", "replay", "rt.dlq", "--bootstrap", b, "--max-replays", "1", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 1,");
        const struct rec rt = {.key = "rt-key", .value = "rt-value", .value_len = 8,
                               .orig = {H("corr", "c-rt")}, .norig = 1};
        check_republished("rt", 0, 1, &rt, 1);

        /* The replayed message fails again: the writer carries its count. */
        m = fetch("rt", 0, 1);
        dead_letter(d, m);
        rd_kafka_message_destroy(m);
        seam_dlq_destroy(d, 5000);

        r = run("dlq", "inspect", "rt.dlq", "--bootstrap", b, "--json", NULL);
        l = parse_lines(r.out);
        CHECK_EQ_INT(l.n, 2);
        CHECK_EQ_INT(jint(l.item[1], "replay_count"), 1);
        CHECK_EQ_INT(jint(l.item[1], "original_offset"), 1);
        json_t *hs = json_object_get(l.item[1], "headers");
        int counts = 0;
        for (size_t i = 0; i < json_array_size(hs); i++)
                counts += !strcmp(jstr(json_array_get(hs, i), "name"), "seam.replay.count");
        CHECK_EQ_INT(counts, 1);
        free_lines(&l);

        r = run("dlq", "replay", "rt.dlq", "--bootstrap", b, "--max-replays", "1", NULL);
        CHECK_EQ_INT(r.code, 0);
        CHECK_CONTAINS(r.out, "summary: replayed 0, skipped by loop guard 1,");
        check_hw("rt", 1, (const int64_t[]){2});
}

int main(void)
{
        env = me_env_new("dlq_tools", 1);
        const char *b = me_bootstrap(env);
        me_create_topic(env, DLQ, 2);
        me_create_topic(env, "orders", 3);
        me_create_topic(env, "payments", 2);
        me_create_topic(env, "elsewhere", 1);
        me_create_topic(env, "bad.dlq", 1);

        char err[512];
        static const char *const pprops[] = {"enable.idempotence", "true", NULL};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        CHECK(!rd_kafka_conf_set(conf, "bootstrap.servers", b, err, sizeof(err)));
        CHECK(!rd_kafka_conf_set(conf, pprops[0], pprops[1], err, sizeof(err)));
        rd_kafka_conf_set_dr_msg_cb(conf, test_dr);
        producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        CHECKF(producer, "%s", err);
        /* fetch() reassigns for each record: a fetch left waiting at the
         * old position would hold the next one for fetch.wait.max.ms. */
        static const char *const cprops[] = {"auto.offset.reset", "earliest",
                                             "fetch.wait.max.ms", "20", NULL};
        reader = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, b, cprops, "test-reader", err,
                                        sizeof(err));
        CHECKF(reader, "%s", err);

        for (int i = 0; i < NRECS; i++)
                write_rec(&recs[i]);

        TEST_RUN(test_inspect);
        TEST_RUN(test_errors);
        TEST_RUN(test_dry_run);
        TEST_RUN(test_replay_all);
        TEST_RUN(test_replay_resume);
        TEST_RUN(test_replay_to);
        TEST_RUN(test_replay_failures);
        TEST_RUN(test_malformed);
        TEST_RUN(test_writer_round_trip);

        rd_kafka_consumer_close(reader);
        rd_kafka_destroy(reader);
        rd_kafka_destroy(producer);
        me_env_finish(env);
        return 0;
}
