/* test_ledger_inbox: the payments_ledger example consumer on the
 * transactional inbox, with the embedded broker in this process and a real
 * PostgreSQL server started with tests/e2e/lib/postgres.sh (the test fails,
 * never skips, when it cannot start one).
 *
 * Payment events (Confluent-framed Avro, schemas/payments.payment-value v1)
 * go to 4 partitions, including exact business duplicates (same payment_id
 * and bytes at another offset, on the same or another partition) and six
 * invalid payments (amount 0; a currency other than the account's).
 * `seam run` (idempotency: key payment_id, store postgres, inbox) is
 * SIGKILLed mid-stream and started again, in two phases, each in its own
 * database, topic and group:
 *   A. store_offsets: false: run 2 resumes from the group's Kafka commits;
 *   B. store_offsets: true: run 1 commits nothing to Kafka (a long commit
 *      interval) and one partition is finished before the kill, so run 2
 *      resumes every partition from the database's offsets, and must still
 *      bring the group's Kafka commits to the end (lag 0), also on the
 *      partition where nothing is left to handle.
 * Checked in each phase:
 *   - right after the kill: every ledger row has its dedup mark and every
 *     mark its ledger row (effect and mark commit together), balances equal
 *     the sum of their entries;
 *   - at the end: every valid payment exactly once in ledger_entries with
 *     its fields, balances equal the sum of the distinct payments per
 *     account, dedup rows == distinct payments, the invalid ones are in the
 *     DLQ with the plugin's reason and nowhere in the ledger;
 *   - run 2's counters: handled == distinct - rows at the kill, and every
 *     message from the resume points (the Kafka commit, or the database's
 *     offset where that is ahead) to the end got exactly one outcome
 *     (handled, duplicate or dead-lettered);
 *   - committed offsets == end offsets; SIGTERM exits 0. */
#include <avro.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#else
#include <libpq-fe.h>
#endif

#include "check.h"
#include "clock.h"
#include "kafka_util.h"
#include "mockenv.h"
#include "pgbed.h"
#include "registry.h"
#include "testutil.h"
#include "wire.h"

#define PARTITIONS 4
/* Phase B: partition 3 gets only the events before this one. */
#define SMALL_PARTITION_UNTIL 40
#define ACCOUNTS 40
#define DISTINCT 4000
/* A duplicate of event j is produced after event j + DUP_LAG. */
#define DUP_LAG 37
#define POISON_EACH 3
#define NEVENTS (DISTINCT + 2 * POISON_EACH)
#define MAXMSGS (NEVENTS + DISTINCT / 10 + 16)

static const char *const currencies[] = {"EUR", "USD", "GBP", "CHF", "JPY"};

enum poison { VALID = 0, ZERO_AMOUNT = 1, WRONG_CURRENCY = 2 };

struct event {
        char payment_id[32];
        char account_id[16];
        int64_t amount;
        int currency;
        int kind; /* 0 CAPTURE, 1 REFUND */
        int64_t occurred_at;
        char description[64]; /* "" : null */
        enum poison poison;
        int copies; /* produced messages carrying it */
        int booked; /* ledger rows found at the end */
};

struct message {
        int ev;
        int32_t partition;
        int64_t offset; /* from the delivery report */
};

/* What differs between the phases. */
struct phase {
        const char *name;
        const char *topic;
        const char *dlq_topic;
        const char *group;
        const char *db;
        int store_offsets;
        int small_partition; /* partition 3 only gets the first events */
        int run1_commit_interval_ms;
};

static const struct phase *ph;
static struct event events[NEVENTS];
static struct message msgs[MAXMSGS];
static int nmsgs;
static int64_t per_partition[PARTITIONS];

static struct me_env *env;
static PGconn *pg;

/* ---- PostgreSQL (tests/support/pgbed.h) ---- */

static const char *dsn;

/* The test's own connection closes before the server stops at exit. */
static void pg_close(void)
{
        if (pg) {
                PQfinish(pg);
                pg = NULL;
        }
}

static void pg_start(void)
{
        dsn = pg_bed_start("seam-ledger-pg");
        atexit(pg_close);
        pg = PQconnectdb(dsn);
        CHECKF(PQstatus(pg) == CONNECTION_OK, "connect %s: %s", dsn, PQerrorMessage(pg));
}

/* Rows of a query; NULL when it failed (a table not created yet). */
static PGresult *pg_rows(const char *sql)
{
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                PQclear(r);
                return NULL;
        }
        return r;
}

/* A one-number query; -1 when it failed. */
static long long pg_ll(const char *sql)
{
        PGresult *r = pg_rows(sql);
        long long v = -1;
        if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
                v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
}

static long long pg_ll_or_die(const char *sql)
{
        PGresult *r = PQexec(pg, sql);
        CHECKF(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1,
               "%s: %s", sql, PQerrorMessage(pg));
        long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
}

/* ---- the events ---- */

static int home_partition(int account)
{
        return account % PARTITIONS;
}

/* Where event i goes: its account's home partition, except in phase B,
 * where partition 3 gets the first events only, so it is finished long
 * before the kill. */
static int32_t partition_of(int i, int home)
{
        if (ph->small_partition && home == 3 && i >= SMALL_PARTITION_UNTIL)
                return (int32_t)(i % 3);
        return (int32_t)home;
}

static void make_events(void)
{
        for (int i = 0; i < DISTINCT; i++) {
                struct event *e = &events[i];
                int account = i % ACCOUNTS;
                snprintf(e->payment_id, sizeof(e->payment_id), "pay-%05d", i);
                snprintf(e->account_id, sizeof(e->account_id), "acc-%02d", account);
                e->currency = account % 5;
                /* Signed, never 0; the kind follows the sign. */
                e->amount = (int64_t)((i * 7919LL) % 200001) - 50000;
                if (e->amount == 0)
                        e->amount = 1;
                e->kind = e->amount > 0 ? 0 : 1;
                e->occurred_at = 1763800000000LL + i * 1000LL;
                if (i % 7)
                        snprintf(e->description, sizeof(e->description),
                                 "Zahlung #%d für acc-%02d", i, account);
        }
        for (int k = 0; k < POISON_EACH; k++) {
                struct event *z = &events[DISTINCT + k];
                int account = k + 3;
                snprintf(z->payment_id, sizeof(z->payment_id), "pay-zero-%d", k);
                snprintf(z->account_id, sizeof(z->account_id), "acc-%02d", account);
                z->currency = account % 5;
                z->occurred_at = 1763900000000LL + k;
                z->poison = ZERO_AMOUNT;
                struct event *w = &events[DISTINCT + POISON_EACH + k];
                account = k;
                snprintf(w->payment_id, sizeof(w->payment_id), "pay-mismatch-%d", k);
                snprintf(w->account_id, sizeof(w->account_id), "acc-%02d", account);
                w->currency = (account % 5 + 1) % 5;
                w->amount = 100;
                w->occurred_at = 1763900000100LL + k;
                w->poison = WRONG_CURRENCY;
        }
}

/* The produce order: each event on its account's home partition; every
 * tenth event again DUP_LAG events later, half of those on the next
 * partition; the invalid events in the middle of the stream (after the
 * first event of their account, on the same partition, so the currency
 * conflict is deterministic). */
static void plan_messages(void)
{
        nmsgs = 0;
        memset(per_partition, 0, sizeof(per_partition));
        for (int i = 0; i < NEVENTS; i++)
                events[i].copies = events[i].booked = 0;
        for (int i = 0; i < DISTINCT; i++) {
                msgs[nmsgs++] =
                    (struct message){i, partition_of(i, home_partition(i % ACCOUNTS)), -1};
                int j = i - DUP_LAG;
                if (j >= 0 && j % 10 == 3) {
                        int home = partition_of(j, home_partition(j % ACCOUNTS));
                        int p = j % 20 == 3 ? home : (home + 1) % PARTITIONS;
                        /* Phase B: the small partition ends with a message
                         * that is applied (a skipped duplicate stores no
                         * offset in the database). */
                        if (ph->small_partition && p == 3)
                                p = 2;
                        msgs[nmsgs++] = (struct message){j, (int32_t)p, -1};
                }
                if (i == DISTINCT / 2) {
                        for (int k = 0; k < 2 * POISON_EACH; k++) {
                                const struct event *e = &events[DISTINCT + k];
                                int account = atoi(e->account_id + 4);
                                msgs[nmsgs++] = (struct message){
                                        DISTINCT + k,
                                        partition_of(DISTINCT + k, home_partition(account)), -1};
                        }
                }
        }
        CHECK(nmsgs <= MAXMSGS);
        for (int m = 0; m < nmsgs; m++)
                events[msgs[m].ev].copies++;
}

static size_t encode(avro_value_iface_t *iface, uint32_t schema_id, const struct event *e,
                     uint8_t *out, size_t cap)
{
        avro_value_t rec, f, branch;
        CHECK(avro_generic_value_new(iface, &rec) == 0);
        CHECK(avro_value_get_by_name(&rec, "payment_id", &f, NULL) == 0);
        CHECK(avro_value_set_string(&f, e->payment_id) == 0);
        CHECK(avro_value_get_by_name(&rec, "account_id", &f, NULL) == 0);
        CHECK(avro_value_set_string(&f, e->account_id) == 0);
        CHECK(avro_value_get_by_name(&rec, "amount_cents", &f, NULL) == 0);
        CHECK(avro_value_set_long(&f, e->amount) == 0);
        CHECK(avro_value_get_by_name(&rec, "currency", &f, NULL) == 0);
        CHECK(avro_value_set_enum(&f, e->currency) == 0);
        CHECK(avro_value_get_by_name(&rec, "occurred_at", &f, NULL) == 0);
        CHECK(avro_value_set_long(&f, e->occurred_at) == 0);
        CHECK(avro_value_get_by_name(&rec, "kind", &f, NULL) == 0);
        CHECK(avro_value_set_enum(&f, e->kind) == 0);
        CHECK(avro_value_get_by_name(&rec, "description", &f, NULL) == 0);
        if (e->description[0]) {
                CHECK(avro_value_set_branch(&f, 1, &branch) == 0);
                CHECK(avro_value_set_string(&branch, e->description) == 0);
        } else {
                CHECK(avro_value_set_branch(&f, 0, &branch) == 0);
                CHECK(avro_value_set_null(&branch) == 0);
        }
        uint8_t body[512];
        avro_writer_t wr = avro_writer_memory((char *)body, sizeof(body));
        CHECKF(avro_value_write(wr, &rec) == 0, "avro_value_write: %s", avro_strerror());
        size_t n = 0;
        CHECK(seam_wire_frame(schema_id, body, (size_t)avro_writer_tell(wr), out, cap, &n) == 0);
        avro_writer_free(wr);
        avro_value_decref(&rec);
        return n;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        struct message *msg = m->_private;
        CHECKF(!m->err, "delivery: %s", rd_kafka_err2str(m->err));
        msg->offset = m->offset;
}

/* Encodes with Avro C against the registry's copy of the schema, frames with
 * seam_wire_frame, produces in plan order; offsets from delivery reports. */
static void produce_all(void)
{
        char err[512], dir[1024];
        snprintf(dir, sizeof(dir), "%s/schemas", tu_env("SEAM_SOURCE_DIR"));
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = dir;
        struct seam_registry *reg = NULL;
        const struct seam_schema *schema = NULL;
        CHECKF(seam_registry_new(&o, &reg, err, sizeof(err)) == 0, "%s", err);
        CHECKF(seam_registry_by_subject(reg, "payments.payment-value", 1, &schema, err,
                                        sizeof(err)) == 0,
               "%s", err);
        avro_value_iface_t *iface = avro_generic_class_from_schema(schema->avro);
        CHECK(iface != NULL);

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        CHECK(rd_kafka_conf_set(conf, "bootstrap.servers", me_bootstrap(env), err,
                                sizeof(err)) == RD_KAFKA_CONF_OK);
        CHECK(rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ==
              RD_KAFKA_CONF_OK);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        CHECKF(rk, "producer: %s", err);
        for (int m = 0; m < nmsgs; m++) {
                const struct event *e = &events[msgs[m].ev];
                uint8_t value[600];
                size_t len = encode(iface, schema->id, e, value, sizeof(value));
                rd_kafka_resp_err_t rerr;
                for (;;) {
                        rerr = rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(ph->topic),
                            RD_KAFKA_V_PARTITION(msgs[m].partition),
                            RD_KAFKA_V_KEY(e->account_id, strlen(e->account_id)),
                            RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(&msgs[m]), RD_KAFKA_V_END);
                        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                break;
                        rd_kafka_poll(rk, 50);
                }
                CHECKF(!rerr, "produce: %s", rd_kafka_err2str(rerr));
                per_partition[msgs[m].partition]++;
        }
        CHECK(rd_kafka_flush(rk, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(rk);
        avro_value_iface_decref(iface);
        seam_registry_destroy(reg);
        for (int m = 0; m < nmsgs; m++)
                CHECKF(msgs[m].offset >= 0, "message %d has no delivery report", m);
}

/* ---- seam ---- */

static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
        close(fd);
        return ntohs(a.sin_port);
}

static const char *write_config(const char *file, int port, int commit_interval_ms)
{
        const char *y = me_strf(
            env,
            "seam:\n"
            "  plugin_path: [%s]\n"
            "  shutdown_timeout_ms: 10000\n"
            "  http: {bind: 127.0.0.1, port: %d}\n"
            "  registry: {type: local, dir: %s/schemas}\n"
            "  dedup: {postgres_dsn: \"%s\", table: seam_dedup}\n"
            "kafka:\n"
            "  bootstrap.servers: %s\n"
            "  auto.offset.reset: earliest\n"
            "  session.timeout.ms: 6000\n"
            "  heartbeat.interval.ms: 1000\n"
            "consumers:\n"
            "  - name: ledger\n"
            "    plugin: payments_ledger\n"
            "    topics: [%s]\n"
            "    group_id: %s\n"
            "    workers: 4\n"
            "    commit_interval_ms: %d\n"
            "    retry_backoff_ms: 100\n"
            "    format: avro\n"
            "    schema:\n"
            "      subjects: [payments.payment-value]\n"
            "      reader: {subject: payments.payment-value, version: 1}\n"
            "    idempotency:\n"
            "      key: {field: payment_id}\n"
            "      store: postgres\n"
            "      inbox: true\n"
            "      store_offsets: %s\n",
            tu_env("SEAM_PLUGIN_DIR"), port, tu_env("SEAM_SOURCE_DIR"),
            /* The contract's form: the DSN from the environment. */
            me_strf(env, "${SEAM_PG_DSN_%s}", ph->name), me_bootstrap(env), ph->topic, ph->group,
            commit_interval_ms, ph->store_offsets ? "true" : "false");
        const char *path = me_path(env, file);
        tu_write_file(path, y);
        return path;
}

struct buf {
        char *data;
        size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
        struct buf *b = arg;
        char *bigger = realloc(b->data, b->len + size * n + 1);
        if (!bigger)
                return 0;
        b->data = bigger;
        memcpy(b->data + b->len, p, size * n);
        b->len += size * n;
        b->data[b->len] = '\0';
        return size * n;
}

/* The value of the first series of `family` whose labels contain `label`. */
static long long metric(const char *text, const char *family, const char *label)
{
        size_t flen = strlen(family);
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                if (len > flen && !strncmp(line, family, flen) && line[flen] == '{') {
                        const char *close = memchr(line, '}', len);
                        char labels[512];
                        size_t llen = close ? (size_t)(close - line) : 0;
                        snprintf(labels, sizeof(labels), "%.*s", (int)llen, line);
                        if (close && strstr(labels, label))
                                return strtoll(close + 1, NULL, 10);
                }
                line = nl ? nl + 1 : NULL;
        }
        CHECKF(0, "no series %s{...%s...} in /metrics", family, label);
        return -1;
}

static char *scrape(int port)
{
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
        struct buf b = {NULL, 0};
        CURL *c = curl_easy_init();
        CHECK(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        CHECKF(rc == CURLE_OK && status == 200 && b.data, "GET %s: %s, status %ld", url,
               curl_easy_strerror(rc), status);
        return b.data;
}

/* ---- checks ---- */

static int64_t booked_rows(void)
{
        long long n = pg_ll("SELECT count(*) FROM ledger_entries");
        return n < 0 ? 0 : n;
}

static int kill_point_reached(void *arg)
{
        (void)arg;
        return booked_rows() >= DISTINCT / 3;
}

/* Effect and mark commit together: after a SIGKILL, every ledger row has
 * its dedup mark and every mark its row; each balance is the sum of its
 * account's entries. */
static void check_atomic(const char *when)
{
        long long rows = pg_ll_or_die("SELECT count(*) FROM ledger_entries");
        long long marks = pg_ll_or_die(
            me_strf(env, "SELECT count(*) FROM seam_dedup WHERE scope = '%s'", ph->group));
        long long orphans = pg_ll_or_die(me_strf(
            env,
            "SELECT count(*) FROM ledger_entries e WHERE NOT EXISTS (SELECT 1 FROM seam_dedup d"
            " WHERE d.scope = '%s' AND d.key = convert_to(e.payment_id, 'UTF8'))",
            ph->group));
        long long unapplied = pg_ll_or_die(me_strf(
            env,
            "SELECT count(*) FROM seam_dedup d WHERE d.scope = '%s' AND NOT EXISTS"
            " (SELECT 1 FROM ledger_entries e WHERE convert_to(e.payment_id, 'UTF8') = d.key)",
            ph->group));
        long long off = pg_ll_or_die(
            "SELECT count(*) FROM account_balances b WHERE balance_cents <> (SELECT"
            " sum(amount_cents) FROM ledger_entries e WHERE e.account_id = b.account_id)"
            " OR entries <> (SELECT count(*) FROM ledger_entries e"
            " WHERE e.account_id = b.account_id)");
        fprintf(stderr, "%s: %lld ledger rows, %lld marks\n", when, rows, marks);
        CHECKF(orphans == 0, "%s: %lld ledger rows without their dedup mark", when, orphans);
        CHECKF(unapplied == 0, "%s: %lld dedup marks without their ledger row", when, unapplied);
        CHECK_EQ_INT(rows, marks);
        CHECKF(off == 0, "%s: %lld balances differ from the sum of their entries", when, off);
}

static int event_of(const char *payment_id)
{
        int i;
        char tail;
        if (sscanf(payment_id, "pay-%d%c", &i, &tail) != 1 || i < 0 || i >= DISTINCT)
                return -1;
        return i;
}

/* Every valid payment once, with the fields it was produced with, at the
 * offset of one of its copies; the invalid ones nowhere. */
static void check_ledger(void)
{
        PGresult *r = pg_rows("SELECT payment_id, account_id, amount_cents, currency, kind,"
                              " round(extract(epoch FROM occurred_at) * 1000)::bigint,"
                              " description, kafka_topic, kafka_partition, kafka_offset"
                              " FROM ledger_entries");
        CHECKF(r, "reading ledger_entries: %s", PQerrorMessage(pg));
        for (int row = 0; row < PQntuples(r); row++) {
                const char *id = PQgetvalue(r, row, 0);
                int i = event_of(id);
                CHECKF(i >= 0, "unexpected ledger row %s", id);
                struct event *e = &events[i];
                e->booked++;
                CHECK_STR_EQ(PQgetvalue(r, row, 1), e->account_id);
                CHECK_EQ_INT(strtoll(PQgetvalue(r, row, 2), NULL, 10), e->amount);
                CHECK_STR_EQ(PQgetvalue(r, row, 3), currencies[e->currency]);
                CHECK_STR_EQ(PQgetvalue(r, row, 4), e->kind ? "REFUND" : "CAPTURE");
                CHECK_EQ_INT(strtoll(PQgetvalue(r, row, 5), NULL, 10), e->occurred_at);
                if (e->description[0])
                        CHECK_STR_EQ(PQgetvalue(r, row, 6), e->description);
                else
                        CHECK(PQgetisnull(r, row, 6));
                CHECK_STR_EQ(PQgetvalue(r, row, 7), ph->topic);
                int32_t p = (int32_t)atoi(PQgetvalue(r, row, 8));
                int64_t o = strtoll(PQgetvalue(r, row, 9), NULL, 10);
                int found = 0;
                for (int m = 0; m < nmsgs && !found; m++)
                        found = msgs[m].ev == i && msgs[m].partition == p && msgs[m].offset == o;
                CHECKF(found, "%s booked from %d/%lld, which is not one of its messages", id, p,
                       (long long)o);
        }
        PQclear(r);
        int dup_messages = 0;
        for (int i = 0; i < DISTINCT; i++) {
                CHECKF(events[i].booked == 1, "%s booked %d times", events[i].payment_id,
                       events[i].booked);
                dup_messages += events[i].copies - 1;
        }
        fprintf(stderr, "ledger: %d distinct payments booked once each; %d exact duplicates "
                        "were in the stream\n",
                DISTINCT, dup_messages);
        CHECK(dup_messages > 0);

        /* Balances against the produced events, not against the table. */
        int64_t sum[ACCOUNTS] = {0}, count[ACCOUNTS] = {0};
        for (int i = 0; i < DISTINCT; i++) {
                sum[i % ACCOUNTS] += events[i].amount;
                count[i % ACCOUNTS]++;
        }
        r = pg_rows("SELECT account_id, currency, balance_cents, entries FROM account_balances");
        CHECKF(r, "reading account_balances: %s", PQerrorMessage(pg));
        CHECK_EQ_INT(PQntuples(r), ACCOUNTS);
        for (int row = 0; row < PQntuples(r); row++) {
                int a = atoi(PQgetvalue(r, row, 0) + 4);
                CHECK(a >= 0 && a < ACCOUNTS);
                CHECK_STR_EQ(PQgetvalue(r, row, 1), currencies[a % 5]);
                CHECKF(strtoll(PQgetvalue(r, row, 2), NULL, 10) == sum[a],
                       "acc-%02d: balance %s, expected %lld", a, PQgetvalue(r, row, 2),
                       (long long)sum[a]);
                CHECK_EQ_INT(strtoll(PQgetvalue(r, row, 3), NULL, 10), count[a]);
        }
        PQclear(r);
        CHECK_EQ_INT(pg_ll_or_die(me_strf(env, "SELECT count(*) FROM seam_dedup WHERE scope = '%s'",
                                          ph->group)),
                     DISTINCT);
        CHECK_EQ_INT(pg_ll_or_die(me_strf(env,
                                          "SELECT count(*) FROM seam_dedup WHERE scope = '%s'"
                                          " AND convert_from(key, 'UTF8') NOT LIKE 'pay-_____'",
                                          ph->group)),
                     0);
}

static const char *header(rd_kafka_headers_t *h, const char *name)
{
        const void *v;
        size_t n;
        if (!h || rd_kafka_header_get_last(h, name, &v, &n))
                return NULL;
        return me_strf(env, "%.*s", (int)n, (const char *)v);
}

/* Every DLQ record is one of the invalid messages, with the plugin's
 * reason; each invalid message is there (twice when the kill fell between
 * its DLQ write and the commit). */
static void check_dlq(void)
{
        int64_t end[1];
        me_high_watermarks(env, ph->dlq_topic, 1, end);
        CHECKF(end[0] >= 2 * POISON_EACH && end[0] <= 4 * POISON_EACH,
               "%lld DLQ records for %d invalid payments", (long long)end[0], 2 * POISON_EACH);
        char err[512];
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL,
                                                me_strf(env, "%s-dlq-reader", ph->group), err,
                                                sizeof(err));
        CHECKF(rk, "%s", err);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, ph->dlq_topic, 0)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        CHECK(rd_kafka_assign(rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        int seen[2 * POISON_EACH] = {0};
        int64_t read = 0;
        int64_t deadline = seam_mono_ms() + 10000;
        while (read < end[0] && seam_mono_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                read++;
                rd_kafka_headers_t *h = NULL;
                rd_kafka_message_headers(m, &h);
                const char *hp = header(h, "seam.original.partition");
                const char *ho = header(h, "seam.original.offset");
                CHECK(hp && ho);
                int32_t p = (int32_t)atoi(hp);
                int64_t o = strtoll(ho, NULL, 10);
                int k = -1;
                for (int i = 0; i < nmsgs; i++)
                        if (msgs[i].partition == p && msgs[i].offset == o)
                                k = msgs[i].ev - DISTINCT;
                CHECKF(k >= 0 && k < 2 * POISON_EACH, "DLQ record of %d/%lld, a valid payment",
                       p, (long long)o);
                seen[k]++;
                CHECK_STR_EQ(header(h, "seam.error.class"), "handler");
                const char *why = header(h, "seam.error.message");
                CHECK_CONTAINS(why, events[DISTINCT + k].poison == ZERO_AMOUNT
                                        ? "amount_cents is 0"
                                        : "currency mismatch: account");
                /* The account's currency: the one before the payment's. */
                if (events[DISTINCT + k].poison == WRONG_CURRENCY)
                        CHECK_CONTAINS(why, me_strf(env, "is kept in %s",
                                                    currencies[(events[DISTINCT + k].currency + 4) %
                                                               5]));
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        CHECK_EQ_INT(read, end[0]);
        for (int k = 0; k < 2 * POISON_EACH; k++)
                CHECKF(seen[k] >= 1, "%s is not in the DLQ", events[DISTINCT + k].payment_id);
        CHECK_EQ_INT(pg_ll_or_die("SELECT count(*) FROM ledger_entries"
                                  " WHERE payment_id LIKE 'pay-zero-%' OR payment_id LIKE"
                                  " 'pay-mismatch-%'"),
                     0);
}

/* The database's stored offsets of the phase's group, -1 where none. */
static void db_offsets(int64_t *out)
{
        for (int p = 0; p < PARTITIONS; p++)
                out[p] = -1;
        PGresult *r = pg_rows(me_strf(env,
                                      "SELECT partition, next_offset FROM seam_offsets"
                                      " WHERE group_id = '%s' AND topic = '%s'",
                                      ph->group, ph->topic));
        if (!r)
                return; /* no table: nothing stored */
        for (int row = 0; row < PQntuples(r); row++) {
                int p = atoi(PQgetvalue(r, row, 0));
                CHECK(p >= 0 && p < PARTITIONS);
                out[p] = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        }
        PQclear(r);
}

static void run_phase(const struct phase *phase)
{
        int64_t t0 = seam_mono_ms();
        ph = phase;
        fprintf(stderr, "== phase %s: store_offsets %s, database %s, topic %s\n", ph->name,
                ph->store_offsets ? "true" : "false", ph->db, ph->topic);
        /* Each phase in its own database: its ledger starts empty. */
        if (strcmp(ph->db, "postgres")) {
                char sql[128];
                snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ph->db);
                PGresult *r = PQexec(pg, sql);
                CHECKF(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(pg));
                PQclear(r);
        }
        PQfinish(pg);
        const char *phase_dsn = me_strf(env, "%s dbname=%s", dsn, ph->db);
        pg = PQconnectdb(phase_dsn);
        CHECKF(PQstatus(pg) == CONNECTION_OK, "connect %s: %s", phase_dsn, PQerrorMessage(pg));
        setenv(me_strf(env, "SEAM_PG_DSN_%s", ph->name), phase_dsn, 1);

        plan_messages();
        me_create_topic(env, ph->topic, PARTITIONS);
        me_create_topic(env, ph->dlq_topic, 1);
        produce_all();
        int64_t end[PARTITIONS];
        me_high_watermarks(env, ph->topic, PARTITIONS, end);
        for (int p = 0; p < PARTITIONS; p++)
                CHECK_EQ_INT(end[p], per_partition[p]);
        fprintf(stderr, "produced %d messages (%d payments, %d invalid) in %lld ms, end offsets "
                        "%lld %lld %lld %lld\n",
                nmsgs, DISTINCT, 2 * POISON_EACH, (long long)(seam_mono_ms() - t0),
                (long long)end[0], (long long)end[1], (long long)end[2], (long long)end[3]);

        /* Run 1: SIGKILL a third of the way in. */
        int port = free_port();
        const char *cfg = write_config(me_strf(env, "%s-run1.yaml", ph->name), port,
                                       ph->run1_commit_interval_ms);
        struct me_seam *s1 = me_seam_start(env, cfg, me_strf(env, "%s-seam1.log", ph->name));
        me_wait(env, "a third of the payments booked", kill_point_reached, NULL, 30000);
        CHECK_EQ_INT(me_seam_stop(s1, SIGKILL, 10000, NULL), 128 + SIGKILL);
        int64_t committed[PARTITIONS], stored[PARTITIONS], resume[PARTITIONS];
        me_committed_or_die(env, ph->group, ph->topic, PARTITIONS, committed);
        db_offsets(stored);
        int64_t at_kill = booked_rows();
        fprintf(stderr, "at the kill: Kafka committed %lld %lld %lld %lld, database %lld %lld "
                        "%lld %lld\n",
                (long long)committed[0], (long long)committed[1], (long long)committed[2],
                (long long)committed[3], (long long)stored[0], (long long)stored[1],
                (long long)stored[2], (long long)stored[3]);
        CHECKF(at_kill < DISTINCT, "run 1 booked everything before the kill");
        check_atomic("after SIGKILL");
        for (int p = 0; p < PARTITIONS; p++) {
                resume[p] = committed[p] < 0 ? 0 : committed[p];
                /* With store_offsets, the database's offset where it is ahead. */
                if (ph->store_offsets && stored[p] > resume[p])
                        resume[p] = stored[p];
        }
        if (ph->small_partition)
                /* The scenario: partition 3 finished in run 1, recorded only
                 * in the database. */
                CHECKF(stored[3] == end[3] && committed[3] < end[3],
                       "phase set-up: partition 3 should be done in the database (%lld of "
                       "%lld) and not in Kafka (%lld)",
                       (long long)stored[3], (long long)end[3], (long long)committed[3]);

        /* Run 2, once the killed member's session expired. */
        port = free_port();
        cfg = write_config(me_strf(env, "%s-run2.yaml", ph->name), port, 200);
        struct me_seam *s2 = me_seam_start(env, cfg, me_strf(env, "%s-seam2.log", ph->name));
        me_wait_committed(env, ph->group, ph->topic, PARTITIONS, end, 30000);
        char *text = scrape(port);
        long long handled = metric(text, "seam_consumer_messages_total", "outcome=\"handled\"");
        long long dups = metric(text, "seam_consumer_messages_total", "outcome=\"duplicate\"");
        long long dead = metric(text, "seam_consumer_messages_total",
                                "outcome=\"dead_lettered\"");
        long long rebalances = metric(text, "seam_consumer_rebalances_total", "consumer=");
        free(text);
        int64_t consumed = 0;
        for (int p = 0; p < PARTITIONS; p++)
                consumed += end[p] - resume[p];
        fprintf(stderr, "run 2: %lld handled, %lld duplicates skipped, %lld dead-lettered of "
                        "%lld messages after the resume points (%lld rebalance callbacks)\n",
                handled, dups, dead, (long long)consumed, rebalances);
        CHECK_EQ_INT(handled, DISTINCT - at_kill);
        CHECK(dups > 0);
        /* One assignment: each message from the resume points on got
         * exactly one outcome. */
        if (rebalances == 1)
                CHECK_EQ_INT(handled + dups + dead, consumed);
        else
                CHECK(handled + dups + dead >= consumed);

        int64_t took;
        CHECK_EQ_INT(me_seam_stop(s2, SIGTERM, 20000, &took), 0);
        me_committed_or_die(env, ph->group, ph->topic, PARTITIONS, committed);
        for (int p = 0; p < PARTITIONS; p++)
                CHECK_EQ_INT(committed[p], end[p]);
        check_atomic("at the end");
        check_ledger();
        check_dlq();
        fprintf(stderr, "phase %s passed in %.1f s\n", ph->name,
                (double)(seam_mono_ms() - t0) / 1000.0);
}

int main(void)
{
        static const struct phase phases[] = {
                {.name = "A", .topic = "payments", .dlq_topic = "payments.dlq",
                 .group = "ledger-it", .db = "postgres", .store_offsets = 0,
                 .run1_commit_interval_ms = 200},
                /* Run 1 never reaches its first periodic commit. */
                {.name = "B", .topic = "payments-so", .dlq_topic = "payments-so.dlq",
                 .group = "ledger-it-so", .db = "ledger_so", .store_offsets = 1,
                 .small_partition = 1, .run1_commit_interval_ms = 600000},
        };
        int64_t t0 = seam_mono_ms();
        env = me_env_new("ledger_inbox", 1);
        pg_start();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        make_events();
        for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
                run_phase(&phases[i]);
        curl_global_cleanup();
        fprintf(stderr, "test_ledger_inbox passed in %.1f s\n",
                (double)(seam_mono_ms() - t0) / 1000.0);
        pg_bed_passed();
        me_env_finish(env);
        return 0;
}
