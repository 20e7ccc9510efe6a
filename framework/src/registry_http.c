/* registry_http.c - a Confluent-compatible Schema Registry over REST
 * (libcurl + jansson): GET /schemas/ids/{id}[/versions],
 * GET /subjects/{s}/versions/{v}, POST /subjects/{s}[/versions].
 *
 * Failure policy (the reason this file exists): only an answer from the
 * registry itself can make a message poison. A 404 counts as "no such id"
 * only when its body is a Confluent error (error_code 404xx); a bare 404 is
 * a wrong URL or a proxy, and like connection errors, timeouts, 5xx and auth
 * refusals it is TRANSIENT: the partition waits, nothing is dead-lettered.
 *
 * The last-known-good cache: every schema fetched is written to cache_dir
 * (one file per id, atomically with rename) and read back only when the
 * registry cannot be reached, so a restart during an outage still decodes
 * every id it has seen. Schemas by id are immutable, so a stale file is
 * never wrong. */
#define SEAM_REGISTRY_BACKEND
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "err.h"
#include "log.h"

#define MAX_BODY (8 * 1024 * 1024) /* far above any real schema */
#define POOL_MAX 8                 /* idle curl handles kept for keep-alive */
#define MAX_BACKOFF_MS 10000

struct http_impl {
        char *base;    /* no trailing '/' */
        char *display; /* base without user:password@, for messages */
        char *username;
        char *password;
        char *ca_file;
        char *client_cert;
        char *client_key;
        int insecure;
        long connect_timeout_ms;
        long timeout_ms;
        int retries;
        int64_t backoff_ms;
        char *cache_dir;

        pthread_mutex_t pool_lock;
        CURL *pool[POOL_MAX];
        int pool_count;
};

struct resp {
        char *data;
        size_t len;
        size_t cap;
        int overflow;
        long status;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
        /* Both must happen before threads use them: curl's global init is
         * not thread-safe, and jansson seeds its hash function lazily. */
        global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
        json_object_seed(0);
}

/* ---- HTTP ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
        struct resp *r = arg;
        size_t n = size * nmemb;
        if (r->len + n > MAX_BODY) {
                r->overflow = 1;
                return 0; /* aborts the transfer */
        }
        if (r->len + n + 1 > r->cap) {
                size_t ncap = r->cap ? r->cap : 4096;
                while (ncap < r->len + n + 1)
                        ncap *= 2;
                char *d = realloc(r->data, ncap);
                if (!d)
                        return 0;
                r->data = d;
                r->cap = ncap;
        }
        memcpy(r->data + r->len, ptr, n);
        r->len += n;
        r->data[r->len] = '\0';
        return n;
}

static CURL *handle_get(struct http_impl *h)
{
        CURL *c = NULL;
        pthread_mutex_lock(&h->pool_lock);
        if (h->pool_count > 0)
                c = h->pool[--h->pool_count];
        pthread_mutex_unlock(&h->pool_lock);
        if (c) {
                curl_easy_reset(c); /* keeps the open connections */
                return c;
        }
        return curl_easy_init();
}

static void handle_put(struct http_impl *h, CURL *c)
{
        pthread_mutex_lock(&h->pool_lock);
        if (h->pool_count < POOL_MAX) {
                h->pool[h->pool_count++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&h->pool_lock);
        if (c)
                curl_easy_cleanup(c);
}

/* One request. 0: an HTTP response arrived (r->status); SEAM_ERR_TRANSIENT:
 * the transfer failed (err says why); SEAM_ERR_INVALID: the body exceeded
 * MAX_BODY. */
static int http_once(struct http_impl *h, const char *method, const char *path,
                     const char *body, struct resp *r, char *err, size_t errlen)
{
        char url[4096];
        if (snprintf(url, sizeof(url), "%s%s", h->base, path) >= (int)sizeof(url)) {
                seam_errf(err, errlen, "request URL too long");
                return SEAM_ERR_INVALID;
        }
        CURL *c = handle_get(h);
        if (!c) {
                seam_errf(err, errlen, "cannot create a curl handle");
                return SEAM_ERR_TRANSIENT;
        }
        char curl_err[CURL_ERROR_SIZE] = "";
        struct curl_slist *hdrs = NULL;
        hdrs = curl_slist_append(hdrs, "Accept: application/vnd.schemaregistry.v1+json, "
                                       "application/json");
        if (body)
                hdrs = curl_slist_append(hdrs,
                                         "Content-Type: application/vnd.schemaregistry.v1+json");
        r->len = 0;
        r->overflow = 0;
        r->status = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* worker threads: no SIGALRM */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "seam/" SEAM_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        if (h->username) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERNAME, h->username);
                curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
        }
        if (h->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        if (h->client_cert)
                curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
        if (h->client_key)
                curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key);
        if (h->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (!strcmp(method, "POST")) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        }
        CURLcode cc = curl_easy_perform(c);
        int rc = 0;
        if (r->overflow) {
                seam_errf(err, errlen, "%s %s%s: response larger than %d bytes", method,
                        h->display, path, MAX_BODY);
                rc = SEAM_ERR_INVALID;
        } else if (cc != CURLE_OK) {
                seam_errf(err, errlen, "%s %s%s: %s", method, h->display, path,
                        curl_err[0] ? curl_err : curl_easy_strerror(cc));
                rc = SEAM_ERR_TRANSIENT;
        } else {
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        }
        curl_slist_free_all(hdrs);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        if (cc == CURLE_OK)
                handle_put(h, c);
        else
                curl_easy_cleanup(c); /* a broken connection is not reused */
        return rc;
}

static int retriable_status(long status)
{
        return status >= 500 || status == 429 || status == 408;
}

static unsigned jitter_rand(void)
{
        static _Thread_local unsigned seed;
        if (!seed)
                seed = (unsigned)seam_mono_ms() ^ (unsigned)(uintptr_t)&seed;
        seed = seed * 1103515245u + 12345u;
        return seed >> 8;
}

/* A request with retries on transport errors, 5xx, 408 and 429, sleeping
 * backoff_ms, 2x, 4x ... (capped, with jitter so a fleet does not retry in
 * step). 0: a final HTTP status is in r; otherwise a negative seam_err. */
static int http_call(struct http_impl *h, struct seam_registry *reg, const char *method,
                     const char *path, const char *body, struct resp *r, char *err,
                     size_t errlen)
{
        struct seam_registry_stats *st = seam_registry_stats(reg);
        int attempts = h->retries + 1;
        int rc = SEAM_ERR_TRANSIENT;
        for (int a = 0; a < attempts; a++) {
                if (a > 0) {
                        int64_t d = h->backoff_ms;
                        for (int k = 1; k < a && d < MAX_BACKOFF_MS; k++)
                                d *= 2;
                        if (d > MAX_BACKOFF_MS)
                                d = MAX_BACKOFF_MS;
                        if (d > 1)
                                d = d / 2 + (int64_t)(jitter_rand() % (unsigned)(d / 2 + 1));
                        seam_sleep_ms(d);
                }
                atomic_fetch_add(&st->fetches, 1);
                rc = http_once(h, method, path, body, r, err, errlen);
                if (rc == 0 && !retriable_status(r->status))
                        return 0;
                if (rc == SEAM_ERR_INVALID)
                        return rc;
                atomic_fetch_add(&st->failures, 1);
                if (rc == 0) {
                        /* Keep the server's words: they often say why. */
                        seam_errf(err, errlen, "%s %s%s: HTTP %ld%s%.200s", method, h->display,
                                path, r->status, r->len ? ": " : "", r->len ? r->data : "");
                        rc = SEAM_ERR_TRANSIENT;
                }
        }
        if (attempts > 1) {
                size_t l = strlen(err);
                if (l + 32 < errlen)
                        snprintf(err + l, errlen - l, " (after %d attempts)", attempts);
        }
        return rc;
}

/* The Confluent error body: {"error_code": 40403, "message": "..."}. */
static int confluent_error(const struct resp *r, int *code, char *msg, size_t msglen)
{
        if (!r->len)
                return 0;
        json_t *j = json_loadb(r->data, r->len, 0, NULL);
        if (!j)
                return 0;
        json_t *c = json_object_get(j, "error_code");
        json_t *m = json_object_get(j, "message");
        int ok = json_is_integer(c);
        if (ok) {
                *code = (int)json_integer_value(c);
                snprintf(msg, msglen, "%s", json_is_string(m) ? json_string_value(m) : "");
        }
        json_decref(j);
        return ok;
}

/* Turn a final status into a result. 2xx: 0. A Confluent 404: NOTFOUND.
 * With `refusal_is_invalid` (registration), 409/422/400 are the registry
 * refusing the schema: INVALID. Everything else: TRANSIENT. */
static int classify(struct http_impl *h, const char *method, const char *path,
                    const struct resp *r, int refusal_is_invalid, char *err, size_t errlen)
{
        if (r->status >= 200 && r->status < 300)
                return 0;
        int code = 0;
        char msg[512] = "";
        int confluent = confluent_error(r, &code, msg, sizeof(msg));
        if (r->status == 404 && confluent && code / 100 == 404) {
                seam_errf(err, errlen, "%s (error_code %d)", msg, code);
                return SEAM_ERR_NOTFOUND;
        }
        if (r->status == 404) {
                seam_errf(err, errlen,
                        "%s %s%s: HTTP 404 without a registry error body (is %s the "
                        "Confluent-compatible API base?)",
                        method, h->display, path, h->display);
                return SEAM_ERR_TRANSIENT;
        }
        if (r->status == 401 || r->status == 403) {
                seam_errf(err, errlen, "%s %s%s: HTTP %ld: the registry refused the credentials",
                        method, h->display, path, r->status);
                return SEAM_ERR_TRANSIENT;
        }
        if (refusal_is_invalid && (r->status == 409 || r->status == 422 || r->status == 400)) {
                seam_errf(err, errlen, "HTTP %ld: %s", r->status,
                        confluent ? msg : (r->len ? r->data : "(no body)"));
                return SEAM_ERR_INVALID;
        }
        seam_errf(err, errlen, "%s %s%s: HTTP %ld%s%.200s", method, h->display, path, r->status,
                confluent ? ": " : "", confluent ? msg : "");
        return SEAM_ERR_TRANSIENT;
}

/* Percent-encode a path segment (RFC 3986 unreserved kept). */
static int path_escape(const char *in, char *out, size_t outlen)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
                int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                           *p == '~';
                if (o + (keep ? 1 : 3) + 1 > outlen)
                        return -1;
                if (keep) {
                        out[o++] = (char)*p;
                } else {
                        out[o++] = '%';
                        out[o++] = hex[*p >> 4];
                        out[o++] = hex[*p & 15];
                }
        }
        out[o] = '\0';
        return 0;
}

/* ---- the last-known-good disk cache ---- */

static uint64_t fnv1a(const char *s)
{
        uint64_t hsh = 1469598103934665603ull;
        for (; *s; s++) {
                hsh ^= (unsigned char)*s;
                hsh *= 1099511628211ull;
        }
        return hsh;
}

/* Subjects can be long and contain anything, so their files are named by a
 * hash; the file holds the subject and is checked on read. */
static void cache_path(const struct http_impl *h, uint32_t id, const char *subject,
                       int version, char *out, size_t outlen)
{
        if (!subject)
                snprintf(out, outlen, "%s/id-%u.json", h->cache_dir, id);
        else if (version < 0)
                snprintf(out, outlen, "%s/subject-%016llx-latest.json", h->cache_dir,
                         (unsigned long long)fnv1a(subject));
        else
                snprintf(out, outlen, "%s/subject-%016llx-v%d.json", h->cache_dir,
                         (unsigned long long)fnv1a(subject), version);
}

static void cache_write(struct http_impl *h, const struct seam_schema *s,
                        const char *subject, int version)
{
        if (!h->cache_dir)
                return;
        json_t *refs = json_array();
        for (size_t i = 0; refs && i < s->ref_count; i++)
                json_array_append_new(refs, json_pack("{s:s, s:i}", "subject",
                                                      s->refs[i].subject, "version",
                                                      s->refs[i].version));
        json_t *j = json_pack("{s:s, s:I, s:s, s:o, s:b, s:s?}", "registry", h->base, "id",
                              (json_int_t)s->id, "schema", s->json, "refs", refs,
                              "refs_complete", s->refs_complete, "subject", subject);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        char path[PATH_MAX], tmp[PATH_MAX];
        cache_path(h, s->id, subject, version, path, sizeof(path));
        snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", h->cache_dir);
        int fd = text ? mkstemp(tmp) : -1;
        int ok = 0;
        if (fd >= 0) {
                size_t len = strlen(text), off = 0;
                while (off < len) {
                        ssize_t w = write(fd, text + off, len - off);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0)
                                break;
                        off += (size_t)w;
                }
                /* fsync before rename: after a crash the file is either the
                 * old one or the whole new one, never a torn write. */
                ok = off == len && fsync(fd) == 0;
                ok = close(fd) == 0 && ok;
                ok = ok && rename(tmp, path) == 0;
                if (!ok)
                        unlink(tmp);
        }
        free(text);
        if (!ok)
                seam_log_limited("registry-cache-write", 60000, SEAM_LOG_WARN, NULL,
                                 "schema registry: cannot write the disk cache %s: %s", path,
                                 strerror(errno));
}

static int cache_read(struct http_impl *h, uint32_t id, const char *subject, int version,
                      struct seam_schema **out)
{
        if (!h->cache_dir)
                return SEAM_ERR_NOTFOUND;
        char path[PATH_MAX];
        cache_path(h, id, subject, version, path, sizeof(path));
        json_error_t jerr;
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return SEAM_ERR_NOTFOUND;
        int rc = SEAM_ERR_NOTFOUND;
        const char *reg_url = json_string_value(json_object_get(j, "registry"));
        const char *text = json_string_value(json_object_get(j, "schema"));
        json_t *jid = json_object_get(j, "id");
        json_t *refs = json_object_get(j, "refs");
        const char *subj = json_string_value(json_object_get(j, "subject"));
        size_t n = json_array_size(refs);
        struct seam_schema_ref *r = n ? calloc(n, sizeof(*r)) : NULL;
        if (!reg_url || strcmp(reg_url, h->base) || !text || !json_is_integer(jid) ||
            json_integer_value(jid) < 0 || json_integer_value(jid) > UINT32_MAX ||
            (!subject && json_integer_value(jid) != id) ||
            (subject && (!subj || strcmp(subj, subject))) || (n && !r))
                goto out;
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(refs, i);
                r[i].subject = json_string_value(json_object_get(e, "subject"));
                r[i].version = (int)json_integer_value(json_object_get(e, "version"));
                if (!r[i].subject)
                        goto out;
        }
        char why[256];
        rc = seam_schema_new((uint32_t)json_integer_value(jid), text, strlen(text), r, n,
                             json_is_true(json_object_get(j, "refs_complete")), out, why,
                             sizeof(why));
        if (rc)
                rc = SEAM_ERR_NOTFOUND; /* a damaged file is as good as none */
out:
        free(r);
        json_decref(j);
        return rc;
}

/* ---- the operations ---- */

/* A response body that should be JSON; a 200 that is not (a captive proxy,
 * a login page) says nothing about the schema, hence TRANSIENT. */
static json_t *parse_body(struct http_impl *h, const char *path, const struct resp *r,
                          char *err, size_t errlen)
{
        json_error_t jerr;
        json_t *j = r->len ? json_loadb(r->data, r->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        if (!j)
                seam_errf(err, errlen, "GET %s%s: the response is not JSON%s%s", h->display, path,
                        r->len ? ": " : "", r->len ? jerr.text : "");
        return j;
}

/* Only Avro without references can be decoded; anything else the registry
 * holds under this id will never be, so it is INVALID (poison), not a
 * reason to wait. */
static int check_schema_type(json_t *j, const char *what, char *err, size_t errlen)
{
        const char *type = json_string_value(json_object_get(j, "schemaType"));
        if (type && strcmp(type, "AVRO")) {
                seam_errf(err, errlen, "%s is a %s schema, not Avro", what, type);
                return SEAM_ERR_INVALID;
        }
        if (json_array_size(json_object_get(j, "references")) > 0) {
                seam_errf(err, errlen, "%s uses schema references, which seam does not resolve",
                        what);
                return SEAM_ERR_INVALID;
        }
        if (!json_is_string(json_object_get(j, "schema"))) {
                seam_errf(err, errlen, "%s: the registry's answer has no \"schema\" string", what);
                return SEAM_ERR_TRANSIENT;
        }
        return 0;
}

/* GET /schemas/ids/{id}/versions: 0 with refs, or refs unknown (*complete =
 * 0) when the registry does not have that endpoint. */
static int fetch_refs(struct http_impl *h, struct seam_registry *reg, uint32_t id,
                      struct seam_schema_ref **refs, size_t *count, int *complete,
                      json_t **holder, char *err, size_t errlen)
{
        char path[64];
        snprintf(path, sizeof(path), "/schemas/ids/%u/versions", id);
        struct resp r = {0};
        *refs = NULL;
        *count = 0;
        *complete = 0;
        *holder = NULL;
        int rc = http_call(h, reg, "GET", path, NULL, &r, err, errlen);
        /* An absurd answer to an optional question, or no such endpoint
         * (older registries): the subjects stay unknown. */
        if (rc == SEAM_ERR_INVALID || (rc == 0 && (r.status == 404 || r.status == 405 ||
                                                    r.status == 501))) {
                free(r.data);
                return 0;
        }
        if (rc) {
                free(r.data);
                return rc;
        }
        rc = classify(h, "GET", path, &r, 0, err, errlen);
        json_t *j = rc ? NULL : parse_body(h, path, &r, err, errlen);
        free(r.data);
        if (rc)
                return rc;
        if (!j || !json_is_array(j)) {
                json_decref(j);
                return 0;
        }
        size_t n = json_array_size(j);
        struct seam_schema_ref *out = n ? calloc(n, sizeof(*out)) : NULL;
        if (n && !out) {
                json_decref(j);
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(j, i);
                const char *s = json_string_value(json_object_get(e, "subject"));
                json_t *v = json_object_get(e, "version");
                if (!s || !json_is_integer(v))
                        continue;
                out[k].subject = s; /* borrowed from j, kept alive by holder */
                out[k].version = (int)json_integer_value(v);
                k++;
        }
        *refs = out;
        *count = k;
        *complete = 1;
        *holder = j;
        return 0;
}

static int http_fetch_id(void *impl, struct seam_registry *reg, uint32_t id,
                         struct seam_schema **out, char *err, size_t errlen)
{
        struct http_impl *h = impl;
        char path[64], what[64];
        snprintf(path, sizeof(path), "/schemas/ids/%u", id);
        snprintf(what, sizeof(what), "schema id %u", id);
        struct resp r = {0};
        json_t *j = NULL, *holder = NULL;
        struct seam_schema_ref *refs = NULL;
        size_t nrefs = 0;
        int complete = 0;

        int rc = http_call(h, reg, "GET", path, NULL, &r, err, errlen);
        if (rc == 0)
                rc = classify(h, "GET", path, &r, 0, err, errlen);
        if (rc == 0 && !(j = parse_body(h, path, &r, err, errlen)))
                rc = SEAM_ERR_TRANSIENT;
        if (rc == 0)
                rc = check_schema_type(j, what, err, errlen);
        if (rc == 0)
                rc = fetch_refs(h, reg, id, &refs, &nrefs, &complete, &holder, err, errlen);
        if (rc == 0) {
                const char *text = json_string_value(json_object_get(j, "schema"));
                char why[512];
                rc = seam_schema_new(id, text, strlen(text), refs, nrefs, complete, out, why,
                                     sizeof(why));
                if (rc)
                        seam_errf(err, errlen, "%s: %s", what, why);
        }
        free(refs);
        json_decref(holder);
        json_decref(j);
        free(r.data);
        seam_registry_note_contact(reg, rc, err);

        if (rc == 0) {
                cache_write(h, *out, NULL, -1);
        } else if (rc == SEAM_ERR_NOTFOUND) {
                atomic_fetch_add(&seam_registry_stats(reg)->not_found, 1);
        } else if (rc == SEAM_ERR_TRANSIENT) {
                seam_log_limited("registry-unreachable", 10000, SEAM_LOG_WARN, NULL,
                                 "schema registry: %s", err);
                if (cache_read(h, id, NULL, -1, out) == 0) {
                        atomic_fetch_add(&seam_registry_stats(reg)->disk_hits, 1);
                        seam_log_limited("registry-disk-cache", 10000, SEAM_LOG_WARN, NULL,
                                         "schema registry unreachable: schema id %u served "
                                         "from the last-known-good cache %s",
                                         id, h->cache_dir);
                        return 0;
                }
        }
        return rc;
}

static int http_fetch_subject(void *impl, struct seam_registry *reg, const char *subject,
                              int version, struct seam_schema **out, char *err,
                              size_t errlen)
{
        struct http_impl *h = impl;
        char esc[1024], path[1200], what[1300];
        if (path_escape(subject, esc, sizeof(esc))) {
                seam_errf(err, errlen, "subject name too long");
                return SEAM_ERR_INVALID;
        }
        if (version < 0) {
                snprintf(path, sizeof(path), "/subjects/%s/versions/latest", esc);
                snprintf(what, sizeof(what), "subject '%s' latest", subject);
        } else {
                snprintf(path, sizeof(path), "/subjects/%s/versions/%d", esc, version);
                snprintf(what, sizeof(what), "subject '%s' v%d", subject, version);
        }
        struct resp r = {0};
        json_t *j = NULL;
        int rc = http_call(h, reg, "GET", path, NULL, &r, err, errlen);
        if (rc == 0)
                rc = classify(h, "GET", path, &r, 0, err, errlen);
        if (rc == 0 && !(j = parse_body(h, path, &r, err, errlen)))
                rc = SEAM_ERR_TRANSIENT;
        if (rc == 0)
                rc = check_schema_type(j, what, err, errlen);
        if (rc == 0) {
                json_t *jid = json_object_get(j, "id");
                json_t *jv = json_object_get(j, "version");
                if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
                    json_integer_value(jid) > UINT32_MAX) {
                        seam_errf(err, errlen, "%s: the registry's answer has no valid \"id\"",
                                what);
                        rc = SEAM_ERR_TRANSIENT;
                } else {
                        struct seam_schema_ref ref = {
                            .subject = subject,
                            .version = json_is_integer(jv) ? (int)json_integer_value(jv)
                                                           : version};
                        const char *text = json_string_value(json_object_get(j, "schema"));
                        char why[512];
                        rc = seam_schema_new((uint32_t)json_integer_value(jid), text,
                                             strlen(text), &ref, 1, 0, out, why, sizeof(why));
                        if (rc)
                                seam_errf(err, errlen, "%s: %s", what, why);
                }
        }
        json_decref(j);
        free(r.data);
        seam_registry_note_contact(reg, rc, err);

        if (rc == 0) {
                cache_write(h, *out, subject, version);
        } else if (rc == SEAM_ERR_NOTFOUND) {
                atomic_fetch_add(&seam_registry_stats(reg)->not_found, 1);
        } else if (rc == SEAM_ERR_TRANSIENT) {
                seam_log_limited("registry-unreachable", 10000, SEAM_LOG_WARN, NULL,
                                 "schema registry: %s", err);
                if (cache_read(h, 0, subject, version, out) == 0) {
                        atomic_fetch_add(&seam_registry_stats(reg)->disk_hits, 1);
                        return 0;
                }
        }
        return rc;
}

static int http_in_subject(void *impl, struct seam_registry *reg,
                           const struct seam_schema *schema, const char *subject, char *err,
                           size_t errlen)
{
        struct http_impl *h = impl;
        char esc[1024], path[1100];
        if (path_escape(subject, esc, sizeof(esc))) {
                seam_errf(err, errlen, "subject name too long");
                return SEAM_ERR_INVALID;
        }
        snprintf(path, sizeof(path), "/subjects/%s", esc);
        json_t *req = json_pack("{s:s}", "schema", schema->json);
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        struct resp r = {0};
        int rc = http_call(h, reg, "POST", path, body, &r, err, errlen);
        free(body);
        if (rc == 0)
                rc = classify(h, "POST", path, &r, 0, err, errlen);
        int answer = 0;
        if (rc == 0) {
                json_t *j = parse_body(h, path, &r, err, errlen);
                json_t *jid = json_object_get(j, "id");
                if (!json_is_integer(jid))
                        rc = SEAM_ERR_TRANSIENT;
                else
                        answer = json_integer_value(jid) == schema->id;
                json_decref(j);
        }
        free(r.data);
        seam_registry_note_contact(reg, rc, err);
        if (rc == SEAM_ERR_NOTFOUND)
                return 0; /* subject unknown, or the schema is not under it */
        return rc ? rc : answer;
}

static int http_register(void *impl, struct seam_registry *reg, const char *subject,
                         const char *json, uint32_t *id_out, char *err, size_t errlen)
{
        struct http_impl *h = impl;
        char esc[1024], path[1100];
        if (path_escape(subject, esc, sizeof(esc))) {
                seam_errf(err, errlen, "subject name too long");
                return SEAM_ERR_INVALID;
        }
        snprintf(path, sizeof(path), "/subjects/%s/versions", esc);
        json_t *req = json_pack("{s:s}", "schema", json);
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body) {
                seam_errf(err, errlen, "out of memory or the schema is not UTF-8");
                return SEAM_ERR_INVALID;
        }
        struct resp r = {0};
        int rc = http_call(h, reg, "POST", path, body, &r, err, errlen);
        free(body);
        if (rc == 0)
                rc = classify(h, "POST", path, &r, 1, err, errlen);
        if (rc == SEAM_ERR_NOTFOUND)
                rc = SEAM_ERR_INVALID; /* e.g. a subject the registry will not create */
        if (rc == 0) {
                json_t *j = parse_body(h, path, &r, err, errlen);
                json_t *jid = json_object_get(j, "id");
                if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
                    json_integer_value(jid) > UINT32_MAX) {
                        if (j)
                                seam_errf(err, errlen, "POST %s%s: the answer has no valid \"id\"",
                                        h->display, path);
                        rc = SEAM_ERR_TRANSIENT;
                } else {
                        *id_out = (uint32_t)json_integer_value(jid);
                }
                json_decref(j);
        }
        free(r.data);
        seam_registry_note_contact(reg, rc, err);
        return rc;
}

static int http_list_versions(void *impl, struct seam_registry *reg, const char *subject,
                              int **versions, size_t *count, char *err, size_t errlen)
{
        struct http_impl *h = impl;
        char esc[1024], path[1100];
        if (path_escape(subject, esc, sizeof(esc))) {
                seam_errf(err, errlen, "subject name too long");
                return SEAM_ERR_INVALID;
        }
        snprintf(path, sizeof(path), "/subjects/%s/versions", esc);
        struct resp r = {0};
        json_t *j = NULL;
        int rc = http_call(h, reg, "GET", path, NULL, &r, err, errlen);
        if (rc == 0)
                rc = classify(h, "GET", path, &r, 0, err, errlen);
        if (rc == 0 && (!(j = parse_body(h, path, &r, err, errlen)) || !json_is_array(j))) {
                if (j)
                        seam_errf(err, errlen, "GET %s%s: expected a list of versions",
                                h->display, path);
                rc = SEAM_ERR_TRANSIENT;
        }
        free(r.data);
        seam_registry_note_contact(reg, rc, err);
        if (rc) {
                json_decref(j);
                return rc;
        }
        size_t n = json_array_size(j), k = 0;
        int *v = malloc((n + 1) * sizeof(*v));
        for (size_t i = 0; v && i < n; i++) {
                json_t *e = json_array_get(j, i);
                if (json_is_integer(e) && json_integer_value(e) >= 1 &&
                    json_integer_value(e) <= INT32_MAX)
                        v[k++] = (int)json_integer_value(e);
        }
        json_decref(j);
        if (!v) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        /* Registries list them in order; sort anyway, the contract says so. */
        for (size_t i = 1; i < k; i++)
                for (size_t m = i; m > 0 && v[m - 1] > v[m]; m--) {
                        int t = v[m];
                        v[m] = v[m - 1];
                        v[m - 1] = t;
                }
        *versions = v;
        *count = k;
        return 0;
}

static void http_destroy(void *impl)
{
        struct http_impl *h = impl;
        if (!h)
                return;
        for (int i = 0; i < h->pool_count; i++)
                curl_easy_cleanup(h->pool[i]);
        pthread_mutex_destroy(&h->pool_lock);
        free(h->base);
        free(h->display);
        free(h->username);
        free(h->password);
        free(h->ca_file);
        free(h->client_cert);
        free(h->client_key);
        free(h->cache_dir);
        free(h);
}

static const struct seam_registry_ops http_ops = {
        .fetch_id = http_fetch_id,
        .fetch_subject = http_fetch_subject,
        .in_subject = http_in_subject,
        .register_schema = http_register,
        .list_versions = http_list_versions,
        .destroy = http_destroy,
};

static int mkdirs(const char *path)
{
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static char *dup_or_null(const char *s, int *oom)
{
        if (!s)
                return NULL;
        char *d = strdup(s);
        if (!d)
                *oom = 1;
        return d;
}

int seam_registry_http_open(struct seam_registry *reg,
                            const struct seam_registry_options *opts, char *err,
                            size_t errlen)
{
        pthread_once(&global_once, global_init);
        if (global_rc) {
                seam_errf(err, errlen, "curl_global_init failed");
                return SEAM_ERR_CONFIG;
        }
        const char *url = opts->url;
        if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
                seam_errf(err, errlen, "schema registry url must start with http:// or https://");
                return SEAM_ERR_CONFIG;
        }
        if (opts->timeout_ms <= 0 || opts->connect_timeout_ms <= 0 || opts->retries < 0 ||
            opts->backoff_ms < 0) {
                seam_errf(err, errlen,
                        "schema registry: timeouts must be > 0, retries and backoff >= 0");
                return SEAM_ERR_CONFIG;
        }
        if ((opts->client_cert == NULL) != (opts->client_key == NULL)) {
                seam_errf(err, errlen, "schema registry: client cert and key go together");
                return SEAM_ERR_CONFIG;
        }
        struct http_impl *h = calloc(1, sizeof(*h));
        if (!h) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        pthread_mutex_init(&h->pool_lock, NULL);
        seam_registry_set_backend(reg, &http_ops, h);
        int oom = 0;
        h->base = dup_or_null(url, &oom);
        h->username = dup_or_null(opts->username, &oom);
        h->password = dup_or_null(opts->password, &oom);
        h->ca_file = dup_or_null(opts->ca_file, &oom);
        h->client_cert = dup_or_null(opts->client_cert, &oom);
        h->client_key = dup_or_null(opts->client_key, &oom);
        h->cache_dir = dup_or_null(opts->cache_dir, &oom);
        h->display = dup_or_null(url, &oom);
        if (oom) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        size_t n = strlen(h->base);
        while (n > 0 && h->base[n - 1] == '/')
                h->base[--n] = '\0';
        /* Messages and logs must not carry a password written in the URL. */
        char *scheme_end = strstr(h->display, "://");
        char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
        char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
        if (at && (!slash || at < slash))
                memmove(scheme_end + 3, at + 1, strlen(at + 1) + 1);
        n = strlen(h->display);
        while (n > 0 && h->display[n - 1] == '/')
                h->display[--n] = '\0';
        h->insecure = opts->insecure_skip_verify;
        h->connect_timeout_ms = (long)opts->connect_timeout_ms;
        h->timeout_ms = (long)opts->timeout_ms;
        h->retries = opts->retries;
        h->backoff_ms = opts->backoff_ms;
        if (h->cache_dir && *h->cache_dir && mkdirs(h->cache_dir) != 0) {
                seam_errf(err, errlen, "schema registry cache_dir %s: cannot create: %s",
                        h->cache_dir, strerror(errno));
                return SEAM_ERR_CONFIG;
        }
        if (h->cache_dir && !*h->cache_dir) {
                free(h->cache_dir);
                h->cache_dir = NULL;
        }
        return 0;
}
