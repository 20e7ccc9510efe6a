/* test_user_sync_broker: consumers/user_sync hosted by `seam run` on the
 * embedded broker (the mock cluster of this process), with the host's dedup
 * keyed by event_id and the repository's schemas as the local registry.
 *
 * The test produces Confluent-framed Avro user events (schema
 * identity.user-event-value v1) keyed by user_id to 3 partitions: six users
 * whose histories hold an exact duplicate (twice), a stale event (an older
 * version under a new event_id), an invalid transition, values from sources
 * that do not own the field, a deletion; and 30 plain users so that the
 * three partitions are handled concurrently. Checks, once the group
 * committed the end of every partition:
 *   - each user's last journal record (status, version, email, role,
 *     display_name), and the journal's line count: one line per event that
 *     took a version, none for the duplicates and the stale event;
 *   - the duplicates never reached the plugin (host DUPLICATE) and the
 *     stale event did, once (the plugin's "stale event" log line);
 *   - the DLQ topic holds exactly the invalid transition, class handler,
 *     with a message naming both states;
 *   - SIGTERM exits 0 and the plugin's close line has the counters. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kafka_util.h"
#include "mockenv.h"
#include "registry.h"
#include "testutil.h"
#include "wire.h"

#define TOPIC "identity.users"
#define DLQ_TOPIC "identity.users.dlq"
#define GROUP "user-sync"
#define SUBJECT "identity.user-event-value"
#define PARTITIONS 3
#define BULK_USERS 30

static struct me_env *env;
static rd_kafka_t *producer;
static const struct seam_schema *schema;
static avro_value_iface_t *iface;
static int64_t produced[PARTITIONS];

struct event {
        const char *event_id, *user_id;
        int64_t version;
        const char *type, *source;
        const char *email, *role, *display_name; /* NULL: null */
};

static void set_text(avro_value_t *rec, const char *name, const char *v)
{
        avro_value_t f;
        CHECK(avro_value_get_by_name(rec, name, &f, NULL) == 0);
        CHECK(avro_value_set_string(&f, v) == 0);
}

static void set_optional(avro_value_t *rec, const char *name, const char *v)
{
        avro_value_t f, branch;
        CHECK(avro_value_get_by_name(rec, name, &f, NULL) == 0);
        CHECK(avro_value_set_branch(&f, v ? 1 : 0, &branch) == 0);
        CHECK((v ? avro_value_set_string(&branch, v) : avro_value_set_null(&branch)) == 0);
}

/* The user's partition: producers key by user_id, so one user's events
 * stay in one partition, in order. */
static int partition_of(const char *user_id)
{
        unsigned h = 0;
        for (const char *p = user_id; *p; p++)
                h = h * 31 + (unsigned char)*p;
        return (int)(h % PARTITIONS);
}

static void produce(const struct event *e)
{
        avro_value_t rec, f;
        CHECK(avro_generic_value_new(iface, &rec) == 0);
        set_text(&rec, "event_id", e->event_id);
        set_text(&rec, "user_id", e->user_id);
        set_text(&rec, "source", e->source);
        CHECK(avro_value_get_by_name(&rec, "version", &f, NULL) == 0);
        CHECK(avro_value_set_long(&f, e->version) == 0);
        CHECK(avro_value_get_by_name(&rec, "occurred_at", &f, NULL) == 0);
        CHECK(avro_value_set_long(&f, 1700000000000 + e->version * 1000) == 0);
        CHECK(avro_value_get_by_name(&rec, "type", &f, NULL) == 0);
        int sym = avro_schema_enum_get_by_name(avro_value_get_schema(&f), e->type);
        CHECKF(sym >= 0, "no event type %s", e->type);
        CHECK(avro_value_set_enum(&f, sym) == 0);
        set_optional(&rec, "email", e->email);
        set_optional(&rec, "role", e->role);
        set_optional(&rec, "display_name", e->display_name);

        char body[1024];
        uint8_t framed[1100];
        size_t n = 0;
        avro_writer_t wr = avro_writer_memory(body, sizeof(body));
        CHECK(avro_value_write(wr, &rec) == 0);
        CHECK(seam_wire_frame(schema->id, body, (size_t)avro_writer_tell(wr), framed,
                              sizeof(framed), &n) == 0);
        avro_writer_free(wr);
        avro_value_decref(&rec);

        int p = partition_of(e->user_id);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(p),
                                        RD_KAFKA_V_KEY(e->user_id, strlen(e->user_id)),
                                        RD_KAFKA_V_VALUE(framed, n),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(producer, 50);
        CHECKF(!err, "produce: %s", rd_kafka_err2str(err));
        produced[p]++;
}

/* The six users with a story, in production order (per user it is the
 * order that counts; the users interleave). */
static const struct event story[] = {
        {"e-1-1", "u-1", 1, "CREATED", "idp", "ann@example.com", NULL, "Ann"},
        {"e-2-1", "u-2", 1, "CREATED", "crm", "bob@crm.example.com", NULL, "Bob"},
        {"e-3-1", "u-3", 1, "CREATED", "idp", "carol@example.com", NULL, "Carol"},
        {"e-1-2", "u-1", 2, "ACTIVATED", "idp", NULL, NULL, NULL},
        {"e-2-2", "u-2", 2, "ACTIVATED", "idp", "bob@example.com", NULL, NULL},
        {"e-4-1", "u-4", 1, "CREATED", "idp", "dan@example.com", NULL, "Dan"},
        {"e-1-2", "u-1", 2, "ACTIVATED", "idp", NULL, NULL, NULL}, /* duplicate */
        {"e-3-2", "u-3", 2, "ACTIVATED", "idp", NULL, NULL, NULL},
        {"e-5-1", "u-5", 1, "CREATED", "idp", "eve@example.com", NULL, "Eve"},
        {"e-6-1", "u-6", 1, "CREATED", "idp", "fay@example.com", NULL, "Fay"},
        {"e-2-3", "u-2", 3, "SUSPENDED", "idp", NULL, NULL, NULL},
        {"e-3-3", "u-3", 3, "CREATED", "idp", NULL, NULL, NULL}, /* ACTIVE -> CREATED */
        {"e-4-2", "u-4", 2, "ACTIVATED", "idp", NULL, NULL, NULL},
        {"e-1-3", "u-1", 3, "ROLE_CHANGED", "hr", NULL, "admin", NULL},
        {"e-5-2", "u-5", 2, "ACTIVATED", "idp", NULL, NULL, NULL},
        {"e-6-1", "u-6", 1, "CREATED", "idp", "fay@example.com", NULL, "Fay"}, /* duplicate */
        {"e-2-4", "u-2", 4, "ACTIVATED", "idp", NULL, NULL, NULL},
        {"e-3-4", "u-3", 4, "SUSPENDED", "idp", NULL, NULL, NULL},
        {"e-4-3", "u-4", 3, "SUSPENDED", "idp", NULL, NULL, NULL},
        {"e-5-3", "u-5", 3, "ROLE_CHANGED", "crm", NULL, "owner", NULL}, /* not the owner */
        {"e-2-5", "u-2", 5, "DELETED", "idp", NULL, NULL, NULL},
        {"e-4-x", "u-4", 2, "ROLE_CHANGED", "hr", NULL, "late", NULL}, /* stale */
        {"e-5-4", "u-5", 4, "ROLE_CHANGED", "hr", NULL, "analyst", "Eve A"},
};
#define STORY_LEN (sizeof(story) / sizeof(story[0]))
/* Events that take a version: all but the two duplicates and the stale one. */
#define STORY_VERSIONS (STORY_LEN - 3)

struct want {
        const char *user_id;
        int64_t version;
        const char *status, *email, *role, *display_name;
};

static const struct want wants[] = {
        {"u-1", 3, "ACTIVE", "ann@example.com", "admin", "Ann"},
        {"u-2", 5, "DELETED", NULL, NULL, NULL},
        {"u-3", 4, "SUSPENDED", "carol@example.com", NULL, "Carol"},
        {"u-4", 3, "SUSPENDED", "dan@example.com", NULL, "Dan"},
        {"u-5", 4, "ACTIVE", "eve@example.com", "analyst", "Eve A"},
        {"u-6", 1, "CREATED", "fay@example.com", NULL, "Fay"},
};

static void produce_all(void)
{
        size_t next = 0;
        char ids[BULK_USERS][3][32], user[BULK_USERS][16], mail[BULK_USERS][40],
            role[BULK_USERS][16];
        /* Bulk users' three events interleave with the story. */
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < BULK_USERS; i++) {
                        snprintf(user[i], sizeof(user[i]), "b-%d", i);
                        snprintf(ids[i][round], sizeof(ids[i][round]), "e-b-%d-%d", i, round + 1);
                        snprintf(mail[i], sizeof(mail[i]), "b%d@example.com", i);
                        snprintf(role[i], sizeof(role[i]), "role-%d", i);
                        static const char *const types[] = {"CREATED", "ACTIVATED",
                                                            "ROLE_CHANGED"};
                        struct event e = {ids[i][round], user[i], round + 1, types[round],
                                          round == 2 ? "hr" : "idp",
                                          round == 0 ? mail[i] : NULL,
                                          round == 2 ? role[i] : NULL, NULL};
                        produce(&e);
                        if (i % 4 == 3 && next < STORY_LEN)
                                produce(&story[next++]);
                }
        }
        while (next < STORY_LEN)
                produce(&story[next++]);
        rd_kafka_resp_err_t err = rd_kafka_flush(producer, 30000);
        CHECKF(!err, "flush: %s", rd_kafka_err2str(err));
}

static const char *str_or_null(json_t *o, const char *key)
{
        json_t *j = json_object_get(o, key);
        return json_is_string(j) ? json_string_value(j) : NULL;
}

static void check_opt(const char *user, const char *field, const char *got, const char *want)
{
        CHECKF((!got && !want) || (got && want && !strcmp(got, want)), "user %s: %s is %s, want %s",
               user, field, got ? got : "null", want ? want : "null");
}

static void check_journal(const char *path)
{
        size_t len;
        char *text = tu_read_file(path, &len);
        CHECKF(text, "no journal at %s", path);
        json_t *last = json_object(); /* user_id -> last record */
        int64_t lines = 0, rejected = 0;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                json_error_t jerr;
                json_t *o = json_loads(l, 0, &jerr);
                CHECKF(json_is_object(o), "%s:%lld: %s", path, (long long)lines + 1, jerr.text);
                const char *u = str_or_null(o, "user_id");
                CHECK(u);
                const char *outcome = str_or_null(o, "outcome");
                if (outcome && !strcmp(outcome, "rejected"))
                        rejected++;
                /* Values from a source that does not own the field were
                 * ignored, and the line says so. */
                const char *id = str_or_null(o, "event_id");
                if (id && !strcmp(id, "e-2-1")) {
                        check_opt(u, "email", str_or_null(o, "email"), NULL);
                        check_opt(u, "ignored", str_or_null(o, "ignored"), "email");
                }
                if (id && !strcmp(id, "e-5-3")) {
                        check_opt(u, "role", str_or_null(o, "role"), NULL);
                        check_opt(u, "ignored", str_or_null(o, "ignored"), "role");
                }
                json_object_set_new(last, u, o);
                lines++;
        }
        free(text);
        CHECK_EQ_INT(lines, STORY_VERSIONS + 3 * BULK_USERS);
        CHECK_EQ_INT(rejected, 1);
        CHECK_EQ_INT(json_object_size(last), 6 + BULK_USERS);
        for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
                const struct want *w = &wants[i];
                json_t *o = json_object_get(last, w->user_id);
                CHECKF(o, "user %s not in the journal", w->user_id);
                CHECKF(json_integer_value(json_object_get(o, "version")) == w->version,
                       "user %s: version %lld, want %lld", w->user_id,
                       (long long)json_integer_value(json_object_get(o, "version")),
                       (long long)w->version);
                check_opt(w->user_id, "status", str_or_null(o, "status"), w->status);
                check_opt(w->user_id, "email", str_or_null(o, "email"), w->email);
                check_opt(w->user_id, "role", str_or_null(o, "role"), w->role);
                check_opt(w->user_id, "display_name", str_or_null(o, "display_name"),
                          w->display_name);
        }
        for (int i = 0; i < BULK_USERS; i++) {
                char u[16], mail[40], role[16];
                snprintf(u, sizeof(u), "b-%d", i);
                snprintf(mail, sizeof(mail), "b%d@example.com", i);
                snprintf(role, sizeof(role), "role-%d", i);
                json_t *o = json_object_get(last, u);
                CHECKF(o, "user %s not in the journal", u);
                CHECK_EQ_INT(json_integer_value(json_object_get(o, "version")), 3);
                check_opt(u, "status", str_or_null(o, "status"), "ACTIVE");
                check_opt(u, "email", str_or_null(o, "email"), mail);
                check_opt(u, "role", str_or_null(o, "role"), role);
        }
        json_decref(last);
}

static const char *header(rd_kafka_headers_t *hdrs, const char *name)
{
        const void *v;
        size_t n;
        if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &n))
                return NULL;
        return me_strf(env, "%.*s", (int)n, (const char *)v);
}

static void check_dlq(void)
{
        int64_t end[1];
        me_high_watermarks(env, DLQ_TOPIC, 1, end);
        CHECK_EQ_INT(end[0], 1);
        char err[512];
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL,
                                                "user-sync-dlq-reader", err, sizeof(err));
        CHECKF(rk, "%s", err);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, DLQ_TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        CHECK(rd_kafka_assign(rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        rd_kafka_message_t *m = NULL;
        for (int i = 0; i < 100 && !m; i++) {
                m = rd_kafka_consumer_poll(rk, 100);
                if (m && m->err) {
                        rd_kafka_message_destroy(m);
                        m = NULL;
                }
        }
        CHECKF(m, "no record read from %s", DLQ_TOPIC);
        CHECK(m->key_len == 3 && !memcmp(m->key, "u-3", 3));
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_message_headers(m, &hdrs);
        CHECK_STR_EQ(header(hdrs, "seam.original.topic"), TOPIC);
        CHECK_STR_EQ(header(hdrs, "seam.original.partition"),
                     me_strf(env, "%d", partition_of("u-3")));
        CHECK_STR_EQ(header(hdrs, "seam.error.class"), "handler");
        CHECK_STR_EQ(header(hdrs, "seam.plugin.name"), "user_sync");
        CHECK_CONTAINS(header(hdrs, "seam.error.message"),
                       "user u-3: invalid transition ACTIVE -> CREATED (event e-3-3, version 3)");
        rd_kafka_message_destroy(m);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

int main(void)
{
        const char *plugin_dir = tu_env("SEAM_PLUGIN_DIR");
        const char *src = tu_env("SEAM_SOURCE_DIR");
        char so[1024];
        snprintf(so, sizeof(so), "%s/user_sync.so", plugin_dir);
        CHECKF(access(so, R_OK) == 0, "%s not built (target user_sync)", so);

        env = me_env_new("user_sync_broker", 1);
        me_create_topic(env, TOPIC, PARTITIONS);
        me_create_topic(env, DLQ_TOPIC, 1);

        struct seam_registry_options o;
        struct seam_registry *reg;
        char err[512];
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_LOCAL;
        o.dir = me_strf(env, "%s/schemas", src);
        CHECKF(seam_registry_new(&o, &reg, err, sizeof(err)) == 0, "%s", err);
        CHECKF(seam_registry_by_subject(reg, SUBJECT, 1, &schema, err, sizeof(err)) == 0, "%s",
               err);
        iface = avro_generic_class_from_schema(schema->avro);
        CHECK(iface);
        producer = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, me_bootstrap(env), NULL, NULL, err,
                                          sizeof(err));
        CHECKF(producer, "%s", err);
        produce_all();
        int64_t end[PARTITIONS];
        me_high_watermarks(env, TOPIC, PARTITIONS, end);
        for (int p = 0; p < PARTITIONS; p++) {
                CHECK_EQ_INT(end[p], produced[p]);
                CHECKF(end[p] > 0, "partition %d got no events", p);
        }

        const char *journal = me_path(env, "users.jsonl");
        const char *cfg = me_path(env, "cfg.yaml");
        tu_write_file(cfg, me_strf(env,
                "seam:\n"
                "  plugin_path: [%s]\n"
                "  registry: {type: local, dir: \"%s/schemas\"}\n"
                "  dedup: {embedded_path: \"%s\"}\n"
                "  shutdown_timeout_ms: 10000\n"
                "  log_level: info\n"
                "kafka:\n"
                "  bootstrap.servers: %s\n"
                "  auto.offset.reset: earliest\n"
                "  session.timeout.ms: 6000\n"
                "  heartbeat.interval.ms: 1000\n"
                "consumers:\n"
                "  - name: user-sync\n"
                "    plugin: user_sync\n"
                "    topics: [" TOPIC "]\n"
                "    group_id: " GROUP "\n"
                "    workers: 3\n"
                "    commit_interval_ms: 200\n"
                "    retry_backoff_ms: 100\n"
                "    dlq_topic: " DLQ_TOPIC "\n"
                "    schema:\n"
                "      subjects: [" SUBJECT "]\n"
                "      reader: {subject: " SUBJECT ", version: 1}\n"
                "    idempotency: {key: {field: event_id}, store: embedded}\n"
                "    config:\n"
                "      path: \"%s\"\n",
                plugin_dir, src, me_path(env, "dedup.mdb"), me_bootstrap(env), journal));
        struct me_seam *s = me_seam_start(env, cfg, "seam.log");
        me_wait_committed(env, GROUP, TOPIC, PARTITIONS, end, 45000);

        check_journal(journal);
        check_dlq();
        /* The stale event reached the plugin and was skipped; the duplicates
         * were stopped by the host's dedup before it. */
        CHECK_EQ_INT(me_seam_log_count(s, "\"msg\":\"stale event "), 1);
        CHECK_EQ_INT(me_seam_log_count(s, "stale event e-4-x (ROLE_CHANGED, version 2) for user "
                                          "u-4 skipped: older than stored version 3"),
                     1);

        CHECK_EQ_INT(me_seam_stop(s, SIGTERM, 20000, NULL), 0);
        CHECK_EQ_INT(me_seam_log_count(s, "this run: 109 applied, 1 refused, 1 stale skipped, "
                                          "0 gap retries"),
                     1);
        avro_value_iface_decref(iface);
        seam_registry_destroy(reg);
        rd_kafka_destroy(producer);
        me_env_finish(env);
        return 0;
}
