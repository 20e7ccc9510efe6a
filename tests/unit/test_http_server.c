/* test_http_server - the embedded HTTP server over real sockets, fetched
 * with libcurl: /metrics (content type, live body), /healthz and /readyz
 * (200, then 503 naming the failing checks), 404, 405, HEAD, binding only
 * to the given address, port 0 and a port already in use. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "err.h"
#include "http_server.h"
#include "metrics.h"

struct resp {
        long status;
        char *body;
        size_t len;
        char ctype[128];
        char allow[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
        struct resp *r = ud;
        size_t add = size * n;
        char *b = realloc(r->body, r->len + add + 1);
        CHECK(b != NULL);
        memcpy(b + r->len, p, add);
        r->body = b;
        r->len += add;
        r->body[r->len] = '\0';
        return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
        struct resp *r = ud;
        size_t len = size * n;
        if (len > 6 && !strncasecmp(p, "Allow:", 6)) {
                size_t v = len - 6 < sizeof(r->allow) ? len - 6 : sizeof(r->allow) - 1;
                memcpy(r->allow, p + 6, v);
                r->allow[v] = '\0';
                /* trim spaces and CRLF */
                char *s = r->allow;
                while (*s == ' ')
                        memmove(s, s + 1, strlen(s));
                for (size_t k = strlen(s); k && (s[k - 1] == '\r' || s[k - 1] == '\n'); k--)
                        s[k - 1] = '\0';
        }
        return len;
}

/* method: "GET", "HEAD" or "POST". Returns the curl result; *r filled. */
static CURLcode fetch(const char *method, const char *host, int port,
                      const char *path, struct resp *r)
{
        char url[256];
        snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
        memset(r, 0, sizeof(*r));
        CURL *c = curl_easy_init();
        CHECK(c != NULL);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an http_proxy from the env */
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else if (!strcmp(method, "POST"))
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
        CURLcode rc = curl_easy_perform(c);
        if (rc == CURLE_OK) {
                char *ct = NULL;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
                curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
                snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
        }
        curl_easy_cleanup(c);
        if (!r->body)
                r->body = calloc(1, 1);
        return rc;
}

static void get_ok(const char *path, int port, long status, struct resp *r)
{
        CURLcode rc = fetch("GET", "127.0.0.1", port, path, r);
        CHECKF(rc == CURLE_OK, "GET %s: %s", path, curl_easy_strerror(rc));
        CHECKF(r->status == status, "GET %s: status %ld, expected %ld; body: %s", path,
               r->status, status, r->body);
}

struct flag_check {
        atomic_int failing;
        _Atomic(const char *) why;
        atomic_int calls;
};

static int flag_check_fn(void *arg, char *why, size_t whylen)
{
        struct flag_check *f = arg;
        atomic_fetch_add(&f->calls, 1);
        if (!atomic_load(&f->failing))
                return 0;
        snprintf(why, whylen, "%s", atomic_load(&f->why));
        return 1;
}

static void test_metrics_route(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_metric_family *f = seam_metrics_counter(
            m, "seam_test_requests_total", "Requests.", SEAM_METRIC_LABELS("who"));
        struct seam_metric *c = seam_metric_get(f, SEAM_METRIC_LABELS("a\"b"));
        seam_counter_inc(c);
        struct seam_http_server *s = NULL;
        char err[256] = "";
        CHECKF(seam_http_server_start("127.0.0.1", 0, m, &s, err, sizeof(err)) == 0, "%s", err);
        int port = seam_http_server_port(s);
        CHECK(port > 0 && port < 65536);

        struct resp r;
        get_ok("/metrics", port, 200, &r);
        CHECK_STR_EQ(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
        char *want = seam_metrics_render(m, NULL);
        CHECK_STR_EQ(r.body, want);
        CHECK_CONTAINS(r.body, "seam_test_requests_total{who=\"a\\\"b\"} 1\n");
        CHECK_CONTAINS(r.body, "seam_build_info{version=\"" SEAM_VERSION "\"} 1\n");
        free(want);
        free(r.body);

        /* Each scrape renders the registry as it is now. */
        seam_counter_add_int(c, 41);
        get_ok("/metrics", port, 200, &r);
        CHECK_CONTAINS(r.body, "seam_test_requests_total{who=\"a\\\"b\"} 42\n");
        free(r.body);

        /* A query string does not change the route. */
        get_ok("/metrics?x=1", port, 200, &r);
        CHECK_CONTAINS(r.body, "# TYPE seam_test_requests_total counter\n");
        free(r.body);

        seam_http_server_stop(s);
        seam_metrics_destroy(m);
}

static void test_health_routes(void)
{
        struct seam_http_server *s = NULL;
        char err[256] = "";
        CHECKF(seam_http_server_start(NULL, 0, NULL, &s, err, sizeof(err)) == 0, "%s", err);
        int port = seam_http_server_port(s);
        struct resp r;

        /* No checks registered: healthy and ready. */
        get_ok("/healthz", port, 200, &r);
        CHECK_STR_EQ(r.body, "ok\n");
        CHECK_CONTAINS(r.ctype, "text/plain");
        free(r.body);
        get_ok("/readyz", port, 200, &r);
        CHECK_STR_EQ(r.body, "ok\n");
        free(r.body);
        /* Without a registry /metrics does not exist. */
        get_ok("/metrics", port, 404, &r);
        free(r.body);

        struct flag_check poll = {0, "poll loop of consumer audit silent for 12000 ms", 0};
        struct flag_check worker = {0, "handler stuck\nfor 60 s", 0};
        struct flag_check plugins = {0, "plugin audit_log not loaded", 0};
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_LIVENESS, "poll_loop",
                                                flag_check_fn, &poll), 0);
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_LIVENESS, "workers",
                                                flag_check_fn, &worker), 0);
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_READINESS, "plugins",
                                                flag_check_fn, &plugins), 0);
        /* Names are unique per kind; the same name may serve both kinds. */
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_LIVENESS, "poll_loop",
                                                flag_check_fn, &poll), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_READINESS, "poll_loop",
                                                flag_check_fn, &poll), 0);
        CHECK_EQ_INT(seam_http_server_remove_check(s, SEAM_HEALTH_READINESS, "poll_loop"), 0);
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_LIVENESS, "", flag_check_fn, &poll),
                     SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_http_server_add_check(s, SEAM_HEALTH_LIVENESS, "x", NULL, &poll),
                     SEAM_ERR_INVALID);

        get_ok("/healthz", port, 200, &r);
        CHECK_STR_EQ(r.body, "ok\n");
        free(r.body);
        CHECK(atomic_load(&poll.calls) >= 1 && atomic_load(&worker.calls) >= 1);

        /* One failing liveness check: 503 with its name and reason. */
        atomic_store(&poll.failing, 1);
        get_ok("/healthz", port, 503, &r);
        CHECK_STR_EQ(r.body, "poll_loop: poll loop of consumer audit silent for 12000 ms\n");
        free(r.body);
        /* Readiness is a separate list. */
        get_ok("/readyz", port, 200, &r);
        CHECK_STR_EQ(r.body, "ok\n");
        free(r.body);

        /* Two failing: both listed, in registration order, one line each. */
        atomic_store(&worker.failing, 1);
        get_ok("/healthz", port, 503, &r);
        CHECK_STR_EQ(r.body, "poll_loop: poll loop of consumer audit silent for 12000 ms\n"
                             "workers: handler stuck for 60 s\n");
        free(r.body);

        atomic_store(&plugins.failing, 1);
        get_ok("/readyz", port, 503, &r);
        CHECK_STR_EQ(r.body, "plugins: plugin audit_log not loaded\n");
        free(r.body);

        /* A check that gives no reason still names itself. */
        atomic_store(&plugins.why, "");
        get_ok("/readyz", port, 503, &r);
        CHECK_STR_EQ(r.body, "plugins: failing\n");
        free(r.body);

        /* Removed checks no longer count, and are no longer called. */
        CHECK_EQ_INT(seam_http_server_remove_check(s, SEAM_HEALTH_LIVENESS, "poll_loop"), 0);
        CHECK_EQ_INT(seam_http_server_remove_check(s, SEAM_HEALTH_LIVENESS, "poll_loop"),
                     SEAM_ERR_NOTFOUND);
        int poll_calls = atomic_load(&poll.calls);
        get_ok("/healthz", port, 503, &r);
        CHECK_STR_EQ(r.body, "workers: handler stuck for 60 s\n");
        free(r.body);
        CHECK_EQ_INT(atomic_load(&poll.calls), poll_calls);
        atomic_store(&worker.failing, 0);
        get_ok("/healthz", port, 200, &r);
        CHECK_STR_EQ(r.body, "ok\n");
        free(r.body);

        seam_http_server_stop(s);
}

static void test_other_requests(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_http_server *s = NULL;
        char err[256] = "";
        CHECKF(seam_http_server_start("127.0.0.1", 0, m, &s, err, sizeof(err)) == 0, "%s", err);
        int port = seam_http_server_port(s);
        struct resp r;

        const char *missing[] = {"/", "/nope", "/metrics/x", "/healthz/", "/METRICS"};
        for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
                get_ok(missing[i], port, 404, &r);
                free(r.body);
        }
        /* Another method on a known path: 405 with Allow; unknown: 404. */
        CHECK(fetch("POST", "127.0.0.1", port, "/metrics", &r) == CURLE_OK);
        CHECK_EQ_INT(r.status, 405);
        CHECK_STR_EQ(r.allow, "GET, HEAD");
        free(r.body);
        CHECK(fetch("POST", "127.0.0.1", port, "/healthz", &r) == CURLE_OK);
        CHECK_EQ_INT(r.status, 405);
        free(r.body);
        CHECK(fetch("POST", "127.0.0.1", port, "/nope", &r) == CURLE_OK);
        CHECK_EQ_INT(r.status, 404);
        free(r.body);
        /* HEAD is GET without the body. */
        CHECK(fetch("HEAD", "127.0.0.1", port, "/readyz", &r) == CURLE_OK);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_INT(r.len, 0);
        free(r.body);
        /* The server still answers after all that. */
        get_ok("/healthz", port, 200, &r);
        free(r.body);

        seam_http_server_stop(s);
        seam_metrics_destroy(m);
}

static void test_binding(void)
{
        struct seam_http_server *s = NULL, *s2 = NULL;
        char err[256] = "";
        struct resp r;
        CHECKF(seam_http_server_start("127.0.0.1", 0, NULL, &s, err, sizeof(err)) == 0, "%s", err);
        int port = seam_http_server_port(s);

        /* Bound to 127.0.0.1 only: the same port on another loopback
         * address (Linux routes all of 127/8 to lo) refuses connections. */
        CURLcode rc = fetch("GET", "127.0.0.2", port, "/healthz", &r);
        CHECKF(rc == CURLE_COULDNT_CONNECT, "connect to 127.0.0.2: %s", curl_easy_strerror(rc));
        free(r.body);
        /* ... and is free to bind there. */
        CHECKF(seam_http_server_start("127.0.0.2", port, NULL, &s2, err, sizeof(err)) == 0, "%s", err);
        CHECK(fetch("GET", "127.0.0.2", port, "/healthz", &r) == CURLE_OK);
        CHECK_EQ_INT(r.status, 200);
        free(r.body);
        seam_http_server_stop(s2);
        s2 = NULL;

        /* The port taken on the same address: a clear error. */
        err[0] = '\0';
        CHECK(seam_http_server_start("127.0.0.1", port, NULL, &s2, err, sizeof(err)) == SEAM_ERR_IO);
        CHECK(s2 == NULL);
        CHECK_CONTAINS(err, "127.0.0.1");
        fprintf(stderr, "expected error: %s\n", err);

        CHECK(seam_http_server_start("127.0.0.1", 65536, NULL, &s2, err, sizeof(err)) == SEAM_ERR_INVALID);
        CHECK(seam_http_server_start("127.0.0.1", -1, NULL, &s2, err, sizeof(err)) == SEAM_ERR_INVALID);
        CHECK(s2 == NULL);

        /* "localhost" resolves without DNS (/etc/hosts). */
        CHECKF(seam_http_server_start("localhost", 0, NULL, &s2, err, sizeof(err)) == 0, "%s", err);
        seam_http_server_stop(s2);
        s2 = NULL;

        /* IPv6 loopback, where the machine has it. */
        if (seam_http_server_start("::1", 0, NULL, &s2, err, sizeof(err)) == 0) {
                CHECK(fetch("GET", "[::1]", seam_http_server_port(s2), "/readyz", &r) == CURLE_OK);
                CHECK_EQ_INT(r.status, 200);
                free(r.body);
                seam_http_server_stop(s2);
        } else {
                fprintf(stderr, "no IPv6 loopback here, not tested: %s\n", err);
        }

        seam_http_server_stop(s);
        seam_http_server_stop(NULL);
        CHECK_EQ_INT(seam_http_server_port(NULL), -1);
}

int main(void)
{
        CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);
        TEST_RUN(test_metrics_route);
        TEST_RUN(test_health_routes);
        TEST_RUN(test_other_requests);
        TEST_RUN(test_binding);
        curl_global_cleanup();
        return 0;
}
