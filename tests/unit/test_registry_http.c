/* The HTTP registry client against a test double of a Confluent-compatible
 * registry (libmicrohttpd on 127.0.0.1, started inside the test): hits,
 * 404s and the negative cache, 5xx with retries, an unreachable registry
 * (never NOTFOUND), the last-known-good disk cache, basic auth, bounded
 * timeouts, subject lookups, membership checks and registration. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "check.h"
#include "clock.h"
#include "err.h"
#include "registry.h"
#include "testutil.h"

static const char *V1 =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}";
static const char *V2 = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\","
                        "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":"
                        "\"x\"}]}";

/* Declared here until cli.h lists it. */
int seam_cli_schema(int argc, char **argv);

/* ---- the registry double ---- */

#define MAX_SCHEMAS 32

struct stored {
        uint32_t id;
        char subject[128];
        int version;
        char *json;
        const char *type; /* NULL: AVRO, omitted as Confluent does */
};

struct fake {
        struct MHD_Daemon *d;
        uint16_t port;
        pthread_mutex_t lock;
        struct stored s[MAX_SCHEMAS];
        int n;
        uint32_t next_id;
        /* behaviour */
        int fail_500;         /* answer 500 to this many requests (-1: all) */
        int bare_404;         /* every answer is a 404 without a body */
        int no_versions;      /* no GET /schemas/ids/{id}/versions */
        const char *auth;     /* required Authorization header, or NULL */
        /* observations */
        int requests;
        int id_requests;      /* GET /schemas/ids/{id} */
        int lookup_requests;  /* POST /subjects/{s} */
        char last_auth[128];
};

struct body {
        char *data;
        size_t len;
};

static void add_schema(struct fake *f, uint32_t id, const char *subject, int version,
                       const char *json, const char *type)
{
        struct stored *s = &f->s[f->n++];
        s->id = id;
        snprintf(s->subject, sizeof(s->subject), "%s", subject);
        s->version = version;
        s->json = strdup(json);
        s->type = type;
        if (id >= f->next_id)
                f->next_id = id + 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *j)
{
        char *text = j ? json_dumps(j, JSON_COMPACT) : strdup("");
        json_decref(j);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (status != 404 || text[0])
                MHD_add_response_header(r, "Content-Type", "application/vnd.schemaregistry.v1+json");
        enum MHD_Result ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static json_t *not_found(int code, const char *msg)
{
        return json_pack("{s:i, s:s}", "error_code", code, "message", msg);
}

static json_t *schema_json(const struct stored *s)
{
        json_t *j = json_pack("{s:s}", "schema", s->json);
        if (s->type)
                json_object_set_new(j, "schemaType", json_string(s->type));
        return j;
}

/* Called with f->lock held. */
static enum MHD_Result route(struct fake *f, struct MHD_Connection *c, const char *url,
                             const char *method, const struct body *b)
{
        unsigned id;
        char subject[128], ver[32];
        int n = 0;
        if (f->bare_404)
                return reply(c, 404, NULL);
        if (f->fail_500) {
                if (f->fail_500 > 0)
                        f->fail_500--;
                return reply(c, 500, json_pack("{s:i,s:s}", "error_code", 50001, "message",
                                               "store unavailable"));
        }
        if (!strcmp(method, "GET") && sscanf(url, "/schemas/ids/%u%n", &id, &n) == 1 &&
            url[n] == '\0') {
                f->id_requests++;
                for (int i = 0; i < f->n; i++)
                        if (f->s[i].id == id)
                                return reply(c, 200, schema_json(&f->s[i]));
                return reply(c, 404, not_found(40403, "Schema not found"));
        }
        if (!strcmp(method, "GET") && sscanf(url, "/schemas/ids/%u/versions%n", &id, &n) == 1 &&
            url[n] == '\0') {
                if (f->no_versions)
                        return reply(c, 404, NULL);
                json_t *arr = json_array();
                for (int i = 0; i < f->n; i++)
                        if (f->s[i].id == id)
                                json_array_append_new(arr, json_pack("{s:s,s:i}", "subject",
                                                                     f->s[i].subject, "version",
                                                                     f->s[i].version));
                if (!json_array_size(arr)) {
                        json_decref(arr);
                        return reply(c, 404, not_found(40403, "Schema not found"));
                }
                return reply(c, 200, arr);
        }
        if (!strcmp(method, "GET") &&
            sscanf(url, "/subjects/%127[^/]/versions/%31[a-z0-9]%n", subject, ver, &n) == 2 &&
            url[n] == '\0') {
                const struct stored *best = NULL;
                int any = 0;
                for (int i = 0; i < f->n; i++) {
                        if (strcmp(f->s[i].subject, subject))
                                continue;
                        any = 1;
                        if (!strcmp(ver, "latest") ? (!best || f->s[i].version > best->version)
                                                   : f->s[i].version == atoi(ver))
                                best = &f->s[i];
                }
                if (!best)
                        return reply(c, 404, any ? not_found(40402, "Version not found")
                                                 : not_found(40401, "Subject not found"));
                json_t *j = schema_json(best);
                json_object_set_new(j, "subject", json_string(best->subject));
                json_object_set_new(j, "version", json_integer(best->version));
                json_object_set_new(j, "id", json_integer(best->id));
                return reply(c, 200, j);
        }
        if (!strcmp(method, "GET") && sscanf(url, "/subjects/%127[^/]/versions%n", subject, &n) == 1 &&
            url[n] == '\0') {
                json_t *arr = json_array();
                for (int v = 1; v < 100; v++)
                        for (int i = 0; i < f->n; i++)
                                if (!strcmp(f->s[i].subject, subject) && f->s[i].version == v)
                                        json_array_append_new(arr, json_integer(v));
                if (!json_array_size(arr)) {
                        json_decref(arr);
                        return reply(c, 404, not_found(40401, "Subject not found"));
                }
                return reply(c, 200, arr);
        }
        if (!strcmp(method, "POST")) {
                int is_register = 0;
                if (sscanf(url, "/subjects/%127[^/]/versions%n", subject, &n) == 1 &&
                    url[n] == '\0')
                        is_register = 1;
                else if (!(sscanf(url, "/subjects/%127[^/]%n", subject, &n) == 1 &&
                           url[n] == '\0'))
                        return reply(c, 404, NULL);
                json_t *req = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
                const char *text = json_string_value(json_object_get(req, "schema"));
                if (!text) {
                        json_decref(req);
                        return reply(c, 422, json_pack("{s:i,s:s}", "error_code", 42201,
                                                       "message", "Invalid schema"));
                }
                if (!is_register)
                        f->lookup_requests++;
                /* incompatible: a type change of field a */
                if (is_register && strstr(text, "\"a\",\"type\":\"string\"")) {
                        json_decref(req);
                        return reply(c, 409, json_pack("{s:i,s:s}", "error_code", 409,
                                                       "message", "Incompatible: a"));
                }
                int max_version = 0;
                for (int i = 0; i < f->n; i++) {
                        if (strcmp(f->s[i].subject, subject))
                                continue;
                        if (f->s[i].version > max_version)
                                max_version = f->s[i].version;
                        if (!strcmp(f->s[i].json, text)) {
                                json_t *j = json_pack("{s:i}", "id", f->s[i].id);
                                if (!is_register) {
                                        json_object_set_new(j, "subject", json_string(subject));
                                        json_object_set_new(j, "version",
                                                            json_integer(f->s[i].version));
                                }
                                json_decref(req);
                                return reply(c, 200, j);
                        }
                }
                if (!is_register) {
                        json_decref(req);
                        return reply(c, 404, max_version ? not_found(40403, "Schema not found")
                                                         : not_found(40401, "Subject not found"));
                }
                uint32_t nid = f->next_id;
                add_schema(f, nid, subject, max_version + 1, text, NULL);
                json_decref(req);
                return reply(c, 200, json_pack("{s:i}", "id", nid));
        }
        return reply(c, 404, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
        struct fake *f = cls;
        if (!*con_cls) {
                *con_cls = calloc(1, sizeof(struct body));
                return MHD_YES;
        }
        struct body *b = *con_cls;
        if (*upload_size) {
                b->data = realloc(b->data, b->len + *upload_size);
                memcpy(b->data + b->len, upload, *upload_size);
                b->len += *upload_size;
                *upload_size = 0;
                return MHD_YES;
        }
        pthread_mutex_lock(&f->lock);
        f->requests++;
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        snprintf(f->last_auth, sizeof(f->last_auth), "%s", auth ? auth : "");
        enum MHD_Result ret;
        if (f->auth && (!auth || strcmp(auth, f->auth)))
                ret = reply(c, 401, json_pack("{s:i,s:s}", "error_code", 40101, "message",
                                              "Unauthorized"));
        else
                ret = route(f, c, url, method, b);
        pthread_mutex_unlock(&f->lock);
        return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
        struct body *b = *con_cls;
        if (b) {
                free(b->data);
                free(b);
        }
        *con_cls = NULL;
}

static void fake_start(struct fake *f, uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, f,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
        CHECK(f->d != NULL);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
        CHECK(info != NULL);
        f->port = info->port;
}

static void fake_stop(struct fake *f)
{
        if (f->d)
                MHD_stop_daemon(f->d);
        f->d = NULL;
}

static struct fake *fake_new(void)
{
        struct fake *f = calloc(1, sizeof(*f));
        pthread_mutex_init(&f->lock, NULL);
        f->next_id = 1;
        add_schema(f, 1, "t-value", 1, V1, NULL);
        add_schema(f, 2, "t-value", 2, V2, NULL);
        add_schema(f, 3, "p-value", 1, "syntax = \"proto3\"; message M {}", "PROTOBUF");
        add_schema(f, 4, "x-value", 1, "{\"type\": \"record\", \"name\": \"NoFields\"}", NULL);
        /* The same text as v1 again under its own id: the double need not
         * share ids the way a real registry may. */
        add_schema(f, 7, "t-value", 3, V1, NULL);
        add_schema(f, 1, "u-value", 1, V1, NULL); /* id 1 under a second subject */
        fake_start(f, 0);
        return f;
}

static void fake_free(struct fake *f)
{
        fake_stop(f);
        for (int i = 0; i < f->n; i++)
                free(f->s[i].json);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

static int fake_get(struct fake *f, int *field)
{
        pthread_mutex_lock(&f->lock);
        int v = *field;
        pthread_mutex_unlock(&f->lock);
        return v;
}

static void fake_set(struct fake *f, int *field, int v)
{
        pthread_mutex_lock(&f->lock);
        *field = v;
        pthread_mutex_unlock(&f->lock);
}

/* ---- helpers ---- */

static void rm_rf(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                char path[1024];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (e->d_type == DT_DIR)
                        rm_rf(path);
                else
                        unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(dir);
}

static void options(struct seam_registry_options *o, const struct fake *f)
{
        static char url[128];
        seam_registry_options_init(o);
        o->type = SEAM_REGISTRY_HTTP;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", f->port);
        o->url = url;
        o->connect_timeout_ms = 500;
        o->timeout_ms = 1000;
        o->retries = 2;
        o->backoff_ms = 10;
}

static struct seam_registry *open_http(const struct seam_registry_options *o)
{
        struct seam_registry *reg = NULL;
        char err[512] = "";
        int rc = seam_registry_new(o, &reg, err, sizeof(err));
        CHECKF(rc == 0, "%s", err);
        return reg;
}

#define STAT(reg, field) atomic_load(&seam_registry_stats(reg)->field)

/* ---- tests ---- */

static void test_hit_and_cache(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL, *again = NULL;
        CHECKF(seam_registry_by_id(reg, 1, &s, err, sizeof(err)) == 0, "%s", err);
        CHECK_EQ_INT(s->id, 1);
        CHECK_STR_EQ(s->json, V1);
        CHECK(avro_typeof(s->avro) == AVRO_RECORD);
        CHECK(s->refs_complete);
        CHECK_EQ_INT(s->ref_count, 2); /* t-value v1 and u-value v1 */
        CHECK_STR_EQ(s->subject, "t-value");
        CHECK_EQ_INT(s->version, 1);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "u-value", err, sizeof(err)), 1);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "x-value", err, sizeof(err)), 0);
        CHECK_EQ_INT(fake_get(f, &f->lookup_requests), 0); /* answered from refs */

        int before = fake_get(f, &f->requests);
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &again, err, sizeof(err)), 0);
        CHECK(again == s);
        CHECK_EQ_INT(fake_get(f, &f->requests), before);
        CHECK_EQ_INT(STAT(reg, cache_hits), 1);
        CHECK_EQ_INT(STAT(reg, fetches), 2); /* the schema and its versions */

        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 1);
        CHECK_EQ_INT(h.consecutive_failures, 0);
        CHECK(h.last_success_ms > 0);
        seam_registry_destroy(reg);
        fake_free(f);
}

static int refetched(void *arg)
{
        void **a = arg;
        struct fake *f = a[0];
        struct seam_registry *reg = a[1];
        int before = fake_get(f, &f->id_requests);
        const struct seam_schema *s;
        char err[256];
        int rc = seam_registry_by_id(reg, 99, &s, err, sizeof(err));
        CHECK_EQ_INT(rc, SEAM_ERR_NOTFOUND);
        return fake_get(f, &f->id_requests) > before;
}

static void test_miss_and_negative_cache(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        o.negative_ttl_ms = 300;
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        int64_t t0 = seam_mono_ms();
        CHECK_EQ_INT(seam_registry_by_id(reg, 99, &s, err, sizeof(err)), SEAM_ERR_NOTFOUND);
        CHECK_CONTAINS(err, "40403");
        CHECK_EQ_INT(fake_get(f, &f->id_requests), 1); /* a 404 is not retried */
        CHECK_EQ_INT(STAT(reg, not_found), 1);

        /* Within the TTL: answered without asking. */
        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_by_id(reg, 99, &s, err, sizeof(err)), SEAM_ERR_NOTFOUND);
        CHECK_CONTAINS(err, "40403");
        if (seam_mono_ms() - t0 < 300) {
                CHECK_EQ_INT(fake_get(f, &f->id_requests), 1);
                CHECK_EQ_INT(STAT(reg, negative_hits), 1);
        }
        /* After it: asked again. */
        void *arg[2] = {f, reg};
        CHECK(tu_wait_for(refetched, arg, 3000));
        CHECK(seam_mono_ms() - t0 >= 300);

        /* A 404 is an answer: the registry is healthy. */
        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 1);
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_5xx_retries_then_transient(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        o.retries = 2;
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;

        fake_set(f, &f->fail_500, -1);
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(err, "HTTP 500");
        CHECK_CONTAINS(err, "after 3 attempts");
        CHECK_EQ_INT(fake_get(f, &f->requests), 3);
        CHECK_EQ_INT(STAT(reg, failures), 3);
        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 0);
        CHECK_EQ_INT(h.consecutive_failures, 1);
        CHECK_EQ_INT(h.last_result, SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(h.last_error, "HTTP 500");

        /* Not negative-cached: the next call asks again, and two failures
         * then a success within the retries is a success. */
        fake_set(f, &f->fail_500, 2);
        CHECKF(seam_registry_by_id(reg, 1, &s, err, sizeof(err)) == 0, "%s", err);
        CHECK_EQ_INT(s->id, 1);
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 1);
        CHECK_EQ_INT(h.consecutive_failures, 0);
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_unreachable_is_transient(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), 0);
        uint16_t port = f->port;
        fake_stop(f);

        /* Cached ids keep working; unknown ones are TRANSIENT, never
         * NOTFOUND, and not remembered as missing. */
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), 0);
        for (int i = 0; i < 2; i++) {
                err[0] = '\0';
                CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s, err, sizeof(err)),
                             SEAM_ERR_TRANSIENT);
                CHECK_CONTAINS(err, "127.0.0.1");
        }
        CHECK_EQ_INT(STAT(reg, negative_hits), 0);
        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 0);
        CHECK_EQ_INT(h.consecutive_failures, 2);

        /* A bare 404 (wrong URL, a proxy) is not "no such id". */
        fake_start(f, port);
        fake_set(f, &f->bare_404, 1);
        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(err, "without a registry error body");

        /* The registry comes back. */
        fake_set(f, &f->bare_404, 0);
        CHECKF(seam_registry_by_id(reg, 2, &s, err, sizeof(err)) == 0, "%s", err);
        CHECK_EQ_INT(s->version, 2);
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 1);
        CHECK_EQ_INT(h.consecutive_failures, 0);
        seam_registry_destroy(reg);
        fake_free(f);
}

static int count_files(const char *dir, const char *prefix)
{
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += !strncmp(e->d_name, prefix, strlen(prefix));
        closedir(d);
        return n;
}

static void test_disk_cache(void)
{
        struct fake *f = fake_new();
        char *cache = tu_mkdtemp("seam-reg-cache");
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/nested/dir", cache); /* created on open */
        struct seam_registry_options o;
        options(&o, f);
        o.cache_dir = sub;
        char err[512] = "";
        const struct seam_schema *s = NULL;

        struct seam_registry *reg = open_http(&o);
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", -1, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->version, 3);
        seam_registry_destroy(reg);
        CHECK_EQ_INT(count_files(sub, "id-"), 1);
        CHECK_EQ_INT(count_files(sub, "subject-"), 1);
        CHECK_EQ_INT(count_files(sub, ".tmp-"), 0); /* renamed into place */

        /* A restart during an outage: known ids decode, unknown ones wait. */
        fake_stop(f);
        reg = open_http(&o);
        CHECKF(seam_registry_by_id(reg, 1, &s, err, sizeof(err)) == 0, "%s", err);
        CHECK_STR_EQ(s->json, V1);
        CHECK(avro_typeof(s->avro) == AVRO_RECORD);
        CHECK_EQ_INT(s->ref_count, 2);
        CHECK(s->refs_complete);
        CHECK_EQ_INT(STAT(reg, disk_hits), 1);
        CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        CHECKF(seam_registry_by_subject(reg, "t-value", -1, &s, err, sizeof(err)) == 0, "%s",
               err);
        CHECK_EQ_INT(s->version, 3);
        CHECK_EQ_INT(s->id, 7);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", 1, &s, err, sizeof(err)),
                     SEAM_ERR_TRANSIENT);
        /* The health still says the registry is down: the cache hides it
         * from messages, not from operators. */
        struct seam_registry_health h;
        seam_registry_health(reg, &h);
        CHECK_EQ_INT(h.reachable, 0);
        seam_registry_destroy(reg);

        /* Files of another registry in the same folder are not used. */
        struct seam_registry_options other = o;
        other.url = "http://127.0.0.1:1/other";
        reg = open_http(&other);
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        seam_registry_destroy(reg);

        /* A damaged file is ignored, not trusted. */
        char path[1200];
        snprintf(path, sizeof(path), "%s/id-1.json", sub);
        tu_write_file(path, "{\"registry\": \"x\", \"schema\": ");
        reg = open_http(&o);
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        seam_registry_destroy(reg);

        rm_rf(cache);
        free(cache);
        fake_free(f);
}

static void test_auth(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        o.username = "user";
        o.password = "s3cret";
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        pthread_mutex_lock(&f->lock);
        f->auth = "Basic dXNlcjpzM2NyZXQ=";
        pthread_mutex_unlock(&f->lock);
        CHECKF(seam_registry_by_id(reg, 1, &s, err, sizeof(err)) == 0, "%s", err);
        pthread_mutex_lock(&f->lock);
        CHECK_STR_EQ(f->last_auth, "Basic dXNlcjpzM2NyZXQ=");
        pthread_mutex_unlock(&f->lock);
        seam_registry_destroy(reg);

        /* Wrong credentials: an operator problem, not a data problem, and
         * retrying at once does not fix it. The password is not in the
         * message. */
        o.password = "wrong";
        reg = open_http(&o);
        int before = fake_get(f, &f->requests);
        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(err, "401");
        CHECK(!strstr(err, "wrong"));
        CHECK_EQ_INT(fake_get(f, &f->requests) - before, 1);
        seam_registry_destroy(reg);

        /* Credentials in the URL are not repeated in messages either. */
        char url[128];
        snprintf(url, sizeof(url), "http://user:wrong@127.0.0.1:%u", f->port);
        o.url = url;
        o.username = NULL;
        reg = open_http(&o);
        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_by_id(reg, 2, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(err, "401");
        CHECK(!strstr(err, "wrong"));
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_timeouts_bounded(void)
{
        /* A server that accepts connections (the kernel does, via the
         * backlog) and never answers. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        CHECK(listen(fd, 16) == 0);
        socklen_t sl = sizeof(sa);
        CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));

        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_HTTP;
        o.url = url;
        o.connect_timeout_ms = 200;
        o.timeout_ms = 300;
        o.retries = 1;
        o.backoff_ms = 50;
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        int64_t t0 = seam_mono_ms();
        CHECK_EQ_INT(seam_registry_by_id(reg, 1, &s, err, sizeof(err)), SEAM_ERR_TRANSIENT);
        int64_t took = seam_mono_ms() - t0;
        fprintf(stderr, "   2 attempts x 300 ms timeout + backoff took %lld ms: %s\n",
                (long long)took, err);
        CHECK_CONTAINS(err, "timed out");
        CHECK(took >= 2 * 300);
        CHECK(took < 2 * 300 + 50 + 1000); /* generous slack for a loaded CI box */
        seam_registry_destroy(reg);
        close(fd);
}

static void test_invalid_schemas(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        CHECK_EQ_INT(seam_registry_by_id(reg, 3, &s, err, sizeof(err)), SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "PROTOBUF");
        CHECK_EQ_INT(seam_registry_by_id(reg, 4, &s, err, sizeof(err)), SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "not a valid Avro schema");
        int before = fake_get(f, &f->requests);
        CHECK_EQ_INT(seam_registry_by_id(reg, 4, &s, err, sizeof(err)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(fake_get(f, &f->requests), before); /* remembered like a 404 */
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_no_versions_endpoint(void)
{
        struct fake *f = fake_new();
        fake_set(f, &f->no_versions, 1);
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL;
        CHECKF(seam_registry_by_id(reg, 1, &s, err, sizeof(err)) == 0, "%s", err);
        CHECK_EQ_INT(s->refs_complete, 0);
        CHECK_EQ_INT(s->ref_count, 0);
        CHECK(s->subject == NULL);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "u-value", err, sizeof(err)), 1);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "x-value", err, sizeof(err)), 0);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "nope-value", err, sizeof(err)), 0);
        CHECK_EQ_INT(fake_get(f, &f->lookup_requests), 3);
        /* Remembered. */
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "u-value", err, sizeof(err)), 1);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "x-value", err, sizeof(err)), 0);
        CHECK_EQ_INT(fake_get(f, &f->lookup_requests), 3);
        /* Down: cannot tell, so TRANSIENT, not "no". */
        fake_stop(f);
        CHECK_EQ_INT(seam_registry_schema_in_subject(reg, s, "t-value", err, sizeof(err)),
                     SEAM_ERR_TRANSIENT);
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_subjects_and_register(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        const struct seam_schema *s = NULL, *v2 = NULL;
        CHECKF(seam_registry_by_subject(reg, "t-value", 2, &v2, err, sizeof(err)) == 0, "%s",
               err);
        CHECK_EQ_INT(v2->id, 2);
        CHECK_EQ_INT(v2->version, 2);
        CHECK_STR_EQ(v2->subject, "t-value");
        int before = fake_get(f, &f->requests);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", 2, &s, err, sizeof(err)), 0);
        CHECK(s == v2);
        CHECK_EQ_INT(fake_get(f, &f->requests), before);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", 9, &s, err, sizeof(err)),
                     SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "nope", -1, &s, err, sizeof(err)),
                     SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", -1, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->version, 3);

        /* Registration is idempotent; a new schema gets a new id and becomes
         * latest, which is asked for every time. */
        uint32_t id = 0;
        CHECKF(seam_registry_register(reg, "t-value", V2, &id, err, sizeof(err)) == 0, "%s",
               err);
        CHECK_EQ_INT(id, 2);
        const char *v4 = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\","
                         "\"type\":\"long\"}]}";
        CHECKF(seam_registry_register(reg, "t-value", v4, &id, err, sizeof(err)) == 0, "%s",
               err);
        CHECK_EQ_INT(id, 8);
        uint32_t again = 0;
        CHECK_EQ_INT(seam_registry_register(reg, "t-value", v4, &again, err, sizeof(err)), 0);
        CHECK_EQ_INT(again, 8);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", -1, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->id, 8);
        CHECK_EQ_INT(s->version, 4);

        /* A registry refusing a schema is INVALID, with its reason. */
        const char *bad = "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\","
                          "\"type\":\"string\"}]}";
        err[0] = '\0';
        CHECK_EQ_INT(seam_registry_register(reg, "t-value", bad, &id, err, sizeof(err)),
                     SEAM_ERR_INVALID);
        CHECK_CONTAINS(err, "409");
        CHECK_CONTAINS(err, "Incompatible");

        /* "latest" falls back to the last answer when the registry is down. */
        fake_stop(f);
        CHECK_EQ_INT(seam_registry_by_subject(reg, "t-value", -1, &s, err, sizeof(err)), 0);
        CHECK_EQ_INT(s->id, 8);
        CHECK_EQ_INT(seam_registry_register(reg, "t-value", V1, &id, err, sizeof(err)),
                     SEAM_ERR_TRANSIENT);
        seam_registry_destroy(reg);
        fake_free(f);
}

struct race_arg {
        struct seam_registry *reg;
        const struct seam_schema *got[50];
        int bad;
};

static void *race(void *p)
{
        struct race_arg *a = p;
        char err[256];
        for (int i = 0; i < 50; i++) {
                if (seam_registry_by_id(a->reg, 1 + (uint32_t)(i % 2), &a->got[i], err,
                                        sizeof(err)))
                        a->bad++;
        }
        return NULL;
}

static void test_concurrent(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        pthread_t t[4];
        struct race_arg *args = calloc(4, sizeof(*args));
        for (int i = 0; i < 4; i++) {
                args[i].reg = reg;
                CHECK(pthread_create(&t[i], NULL, race, &args[i]) == 0);
        }
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        /* Every thread got the one cached object per id. */
        for (int i = 0; i < 4; i++) {
                CHECK_EQ_INT(args[i].bad, 0);
                for (int k = 0; k < 50; k++)
                        CHECK(args[i].got[k] == args[0].got[k % 2]);
        }
        CHECK(args[0].got[0]->id == 1 && args[0].got[1]->id == 2);
        free(args);
        seam_registry_destroy(reg);
        fake_free(f);
}

/* `seam schema ARGS...` in this process, stdout captured into out. */
static int run_cli(char *out, size_t outlen, ...)
{
        char *argv[32];
        int argc = 0;
        argv[argc++] = "schema";
        va_list ap;
        va_start(ap, outlen);
        char *a;
        while ((a = va_arg(ap, char *)) != NULL && argc < 31)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;
        fflush(stdout);
        int saved = dup(1);
        FILE *tmp = tmpfile();
        CHECK(saved >= 0 && tmp);
        dup2(fileno(tmp), 1);
        int rc = seam_cli_schema(argc, argv);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        rewind(tmp);
        size_t n = fread(out, 1, outlen - 1, tmp);
        out[n] = '\0';
        fclose(tmp);
        fprintf(stderr, "   seam schema %s -> %d\n%s", argv[1], rc, out);
        return rc;
}

static void test_versions_list(void)
{
        struct fake *f = fake_new();
        struct seam_registry_options o;
        options(&o, f);
        struct seam_registry *reg = open_http(&o);
        char err[512] = "";
        int *v = NULL;
        size_t n = 0;
        CHECKF(seam_registry_subject_versions(reg, "t-value", &v, &n, err, sizeof(err)) == 0,
               "%s", err);
        CHECK_EQ_INT(n, 3);
        CHECK(v[0] == 1 && v[1] == 2 && v[2] == 3);
        free(v);
        CHECK_EQ_INT(seam_registry_subject_versions(reg, "nope", &v, &n, err, sizeof(err)),
                     SEAM_ERR_NOTFOUND);
        fake_stop(f);
        CHECK_EQ_INT(seam_registry_subject_versions(reg, "t-value", &v, &n, err, sizeof(err)),
                     SEAM_ERR_TRANSIENT);
        seam_registry_destroy(reg);
        fake_free(f);
}

static void test_cli_against_registry(void)
{
        struct fake *f = fake_new();
        char url[64], dir[1024], v2[1100], out[8192];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", f->port);
        snprintf(dir, sizeof(dir), "%s/schemas", tu_env("SEAM_SOURCE_DIR"));
        snprintf(v2, sizeof(v2), "%s/demo.orders-value/v2.avsc", dir);

        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", url, "--dir", dir,
                             NULL),
                     0);
        CHECK_CONTAINS(out, "demo.orders-value v1: id 8\n");
        CHECK_CONTAINS(out, "demo.orders-value v2: id 9\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", url, "--dir", dir,
                             NULL),
                     0);
        CHECK_CONTAINS(out, "demo.orders-value v1: id 8\n");
        CHECK_CONTAINS(out, "demo.orders-value v2: id 9\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", url,
                             "--subject", "demo.orders-value", "--all-versions", NULL),
                     0);
        CHECK_CONTAINS(out, "demo.orders-value v1 (id 8): compatible\n");
        CHECK_CONTAINS(out, "demo.orders-value v2 (id 9): compatible\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", url, "--id", "9", NULL), 0);
        CHECK_CONTAINS(out, "id 9\nregistered as demo.orders-value v2\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "get", "--registry", url, "--id", "99", NULL), 3);

        /* The double refuses a type change of field a (HTTP 409). */
        char *tmp = tu_mkdtemp("seam-cli-register");
        char path[1200];
        snprintf(path, sizeof(path), "%s/t-value", tmp);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/t-value/v1.avsc", tmp);
        tu_write_file(path, "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\","
                            "\"type\":\"string\"}]}");
        snprintf(path, sizeof(path), "%s/t-value/v2.avsc", tmp);
        tu_write_file(path, V1);
        snprintf(path, sizeof(path), "%s/manifest.yaml", tmp);
        tu_write_file(path, "schemas:\n  - {subject: t-value, version: 1, id: 1}\n"
                            "  - {subject: t-value, version: 2, id: 2}\n");
        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", url, "--dir", tmp,
                             NULL),
                     1);
        CHECK_CONTAINS(out, "t-value v1: REFUSED by the registry: HTTP 409");
        CHECK_CONTAINS(out, "t-value v2: skipped");

        /* Down: exit 5, distinct from "incompatible". */
        fake_stop(f);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "check", "--reader", v2, "--registry", url,
                             "--subject", "demo.orders-value", "--timeout-ms", "500", NULL),
                     5);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", url, "--dir", dir,
                             NULL),
                     5);
        snprintf(path, sizeof(path), "%s/manifest.yaml", tmp);
        unlink(path);
        CHECK_EQ_INT(run_cli(out, sizeof(out), "register", "--registry", url, "--dir", tmp,
                             NULL),
                     3); /* not a schemas folder: bad input before any request */
        rm_rf(tmp);
        free(tmp);
        fake_free(f);
}

static void test_bad_options(void)
{
        struct seam_registry_options o;
        seam_registry_options_init(&o);
        o.type = SEAM_REGISTRY_HTTP;
        struct seam_registry *reg = NULL;
        char err[256] = "";
        o.url = "ftp://x";
        CHECK_EQ_INT(seam_registry_new(&o, &reg, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "http://");
        o.url = "http://127.0.0.1:1";
        o.client_cert = "c.pem";
        CHECK_EQ_INT(seam_registry_new(&o, &reg, err, sizeof(err)), SEAM_ERR_CONFIG);
        o.client_cert = NULL;
        o.cache_dir = "/proc/seam-cannot-create";
        CHECK_EQ_INT(seam_registry_new(&o, &reg, err, sizeof(err)), SEAM_ERR_CONFIG);
        CHECK_CONTAINS(err, "cache_dir");
        CHECK(reg == NULL);
}

int main(void)
{
        TEST_RUN(test_hit_and_cache);
        TEST_RUN(test_miss_and_negative_cache);
        TEST_RUN(test_5xx_retries_then_transient);
        TEST_RUN(test_unreachable_is_transient);
        TEST_RUN(test_disk_cache);
        TEST_RUN(test_auth);
        TEST_RUN(test_timeouts_bounded);
        TEST_RUN(test_invalid_schemas);
        TEST_RUN(test_no_versions_endpoint);
        TEST_RUN(test_subjects_and_register);
        TEST_RUN(test_concurrent);
        TEST_RUN(test_versions_list);
        TEST_RUN(test_cli_against_registry);
        TEST_RUN(test_bad_options);
        return 0;
}
