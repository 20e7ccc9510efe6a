/* registry.c - the common part of the schema registries: the interface, the
 * in-memory caches (by id, by subject/version, negative), health and
 * counters. The backends (registry_local.c, registry_http.c) only answer
 * what the caches miss.
 *
 * Locking: one mutex guards every table; it is never held while a backend
 * talks to the network, so a slow registry blocks only the threads that
 * asked for an uncached id. Two threads missing the same id may both fetch
 * it; the second result is dropped on insert (schemas by id are immutable),
 * which is cheaper than a single-flight protocol for an event that happens
 * once per id. */
#define SEAM_REGISTRY_BACKEND
#include "registry.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_decode.h"
#include "clock.h"
#include "err.h"

/* Cap of the negative cache: a stream of garbage ids must not grow memory
 * without bound; the oldest entries go first. */
#define NEG_MAX 4096

struct id_slot {
        uint32_t id;
        struct seam_schema *s; /* NULL: empty slot */
};

struct subj_entry {
        char *subject;
        int version; /* -1: the last known latest */
        const struct seam_schema *s;
};

struct neg_entry {
        uint32_t id;
        int rc;
        int64_t expires_ms;
        char msg[192];
};

struct memo_entry {
        const struct seam_schema *s;
        char *subject;
        int answer;
};

struct seam_registry {
        enum seam_registry_type type;
        const struct seam_registry_ops *ops;
        void *impl;
        int64_t negative_ttl_ms;

        pthread_mutex_t lock;
        struct id_slot *slots; /* open addressing, power-of-two size */
        size_t slot_cap, slot_used;
        struct subj_entry *subj;
        size_t subj_count, subj_cap;
        struct neg_entry *neg;
        size_t neg_count, neg_cap;
        struct memo_entry *memo;
        size_t memo_count, memo_cap;
        /* Every schema object, whatever table points at it: freed at
         * destroy, never before. */
        struct seam_schema **owned;
        size_t owned_count, owned_cap;
        const struct seam_schema **sorted; /* local listing, built once */
        size_t sorted_count;

        struct seam_registry_health health;
        struct seam_registry_stats stats;
};

/* Avro C keeps its error text in a global buffer (the Debian build has no
 * thread-local storage), and the parser reports through it, so parses are
 * serialized; they happen once per id. */
static pthread_mutex_t avro_parse_lock = PTHREAD_MUTEX_INITIALIZER;

void seam_registry_options_init(struct seam_registry_options *opts)
{
        memset(opts, 0, sizeof(*opts));
        opts->connect_timeout_ms = 2000;
        opts->timeout_ms = 5000;
        opts->retries = 2;
        opts->backoff_ms = 100;
        opts->negative_ttl_ms = 30000;
}

/* ---- schema objects ---- */

int seam_schema_new(uint32_t id, const char *json, size_t json_len,
                    const struct seam_schema_ref *refs, size_t ref_count,
                    int refs_complete, struct seam_schema **out, char *err,
                    size_t errlen)
{
        struct seam_schema *s = calloc(1, sizeof(*s));
        char *text = malloc(json_len + 1);
        struct seam_schema_ref *r = ref_count ? calloc(ref_count, sizeof(*r)) : NULL;
        if (!s || !text || (ref_count && !r)) {
                free(s);
                free(text);
                free(r);
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        memcpy(text, json, json_len);
        text[json_len] = '\0';
        s->id = id;
        s->json = text;
        s->json_len = json_len;
        s->refs = r;
        s->refs_complete = refs_complete;
        s->version = -1;
        for (size_t i = 0; i < ref_count; i++) {
                r[i].version = refs[i].version;
                r[i].subject = strdup(refs[i].subject);
                s->ref_count = i + 1;
                if (!r[i].subject) {
                        seam_schema_free(s);
                        seam_errf(err, errlen, "out of memory");
                        return SEAM_ERR_NOMEM;
                }
        }
        if (ref_count) {
                s->subject = r[0].subject;
                s->version = r[0].version;
        }

        /* An embedded NUL would make the text mean different things to
         * different parsers. */
        if (memchr(json, '\0', json_len)) {
                seam_schema_free(s);
                seam_errf(err, errlen, "schema text contains a NUL byte");
                return SEAM_ERR_INVALID;
        }
        struct seam_avro_schema *parsed = NULL;
        char why[512] = "";
        pthread_mutex_lock(&avro_parse_lock);
        int prc = seam_avro_schema_parse(text, json_len, &parsed, why, sizeof(why));
        pthread_mutex_unlock(&avro_parse_lock);
        if (prc != 0) {
                seam_schema_free(s);
                seam_errf(err, errlen, "not a valid Avro schema: %s", why);
                return prc == SEAM_ERR_NOMEM ? prc : SEAM_ERR_INVALID;
        }
        s->parsed = parsed;
        s->avro = seam_avro_schema_avro(parsed);
        *out = s;
        return 0;
}

void seam_schema_free(struct seam_schema *s)
{
        if (!s)
                return;
        seam_avro_schema_destroy((struct seam_avro_schema *)s->parsed);
        for (size_t i = 0; i < s->ref_count; i++)
                free((char *)s->refs[i].subject);
        free((void *)s->refs);
        free((char *)s->json);
        free(s);
}

/* ---- tables (caller holds reg->lock) ---- */

static size_t id_hash(uint32_t id, size_t cap)
{
        /* Fibonacci hashing: registry ids are small and sequential. */
        return (size_t)((id * 2654435769u) & (uint32_t)(cap - 1));
}

static struct seam_schema *id_find(struct seam_registry *reg, uint32_t id)
{
        if (!reg->slot_cap)
                return NULL;
        for (size_t i = id_hash(id, reg->slot_cap);; i = (i + 1) & (reg->slot_cap - 1)) {
                if (!reg->slots[i].s)
                        return NULL;
                if (reg->slots[i].id == id)
                        return reg->slots[i].s;
        }
}

static int id_insert(struct seam_registry *reg, struct seam_schema *s)
{
        if ((reg->slot_used + 1) * 2 > reg->slot_cap) {
                size_t ncap = reg->slot_cap ? reg->slot_cap * 2 : 64;
                struct id_slot *n = calloc(ncap, sizeof(*n));
                if (!n)
                        return SEAM_ERR_NOMEM;
                for (size_t i = 0; i < reg->slot_cap; i++) {
                        if (!reg->slots[i].s)
                                continue;
                        size_t j = id_hash(reg->slots[i].id, ncap);
                        while (n[j].s)
                                j = (j + 1) & (ncap - 1);
                        n[j] = reg->slots[i];
                }
                free(reg->slots);
                reg->slots = n;
                reg->slot_cap = ncap;
        }
        size_t i = id_hash(s->id, reg->slot_cap);
        while (reg->slots[i].s)
                i = (i + 1) & (reg->slot_cap - 1);
        reg->slots[i].id = s->id;
        reg->slots[i].s = s;
        reg->slot_used++;
        return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
        if (need <= *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 16;
        while (ncap < need)
                ncap *= 2;
        void *n = realloc(*arr, ncap * elem);
        if (!n)
                return SEAM_ERR_NOMEM;
        *arr = n;
        *cap = ncap;
        return 0;
}

static int own(struct seam_registry *reg, struct seam_schema *s)
{
        if (grow((void **)&reg->owned, &reg->owned_cap, reg->owned_count + 1,
                 sizeof(*reg->owned)))
                return SEAM_ERR_NOMEM;
        reg->owned[reg->owned_count++] = s;
        return 0;
}

static struct subj_entry *subj_find(struct seam_registry *reg, const char *subject,
                                    int version)
{
        for (size_t i = 0; i < reg->subj_count; i++) {
                struct subj_entry *e = &reg->subj[i];
                if (e->version == version && !strcmp(e->subject, subject))
                        return e;
        }
        return NULL;
}

static int subj_set(struct seam_registry *reg, const char *subject, int version,
                    const struct seam_schema *s)
{
        struct subj_entry *e = subj_find(reg, subject, version);
        if (e) {
                e->s = s;
                return 0;
        }
        if (grow((void **)&reg->subj, &reg->subj_cap, reg->subj_count + 1,
                 sizeof(*reg->subj)))
                return SEAM_ERR_NOMEM;
        char *copy = strdup(subject);
        if (!copy)
                return SEAM_ERR_NOMEM;
        reg->subj[reg->subj_count++] =
            (struct subj_entry){.subject = copy, .version = version, .s = s};
        return 0;
}

static struct neg_entry *neg_find(struct seam_registry *reg, uint32_t id, int64_t now)
{
        for (size_t i = 0; i < reg->neg_count; i++) {
                if (reg->neg[i].id == id && reg->neg[i].expires_ms > now)
                        return &reg->neg[i];
        }
        return NULL;
}

static void neg_insert(struct seam_registry *reg, uint32_t id, int rc, const char *msg,
                       int64_t now)
{
        /* Drop expired entries (and the one for this id) first; the array
         * stays ordered by insertion, so the oldest is at the front. */
        size_t w = 0;
        for (size_t i = 0; i < reg->neg_count; i++) {
                if (reg->neg[i].expires_ms > now && reg->neg[i].id != id)
                        reg->neg[w++] = reg->neg[i];
        }
        reg->neg_count = w;
        if (reg->neg_count >= NEG_MAX) {
                memmove(reg->neg, reg->neg + 1, (reg->neg_count - 1) * sizeof(*reg->neg));
                reg->neg_count--;
        }
        if (grow((void **)&reg->neg, &reg->neg_cap, reg->neg_count + 1, sizeof(*reg->neg)))
                return; /* not remembering a 404 only costs a request */
        struct neg_entry *e = &reg->neg[reg->neg_count++];
        e->id = id;
        e->rc = rc;
        e->expires_ms = now + reg->negative_ttl_ms;
        snprintf(e->msg, sizeof(e->msg), "%s", msg ? msg : "");
}

static int refs_have(const struct seam_schema *s, const char *subject, int version)
{
        for (size_t i = 0; i < s->ref_count; i++) {
                if (!strcmp(s->refs[i].subject, subject) &&
                    (version < 0 || s->refs[i].version == version))
                        return 1;
        }
        return 0;
}

/* ---- lifecycle ---- */

void seam_registry_set_backend(struct seam_registry *reg,
                               const struct seam_registry_ops *ops, void *impl)
{
        reg->ops = ops;
        reg->impl = impl;
}

int seam_registry_new(const struct seam_registry_options *opts,
                      struct seam_registry **out, char *err, size_t errlen)
{
        *out = NULL;
        if (opts->type != SEAM_REGISTRY_LOCAL && opts->type != SEAM_REGISTRY_HTTP) {
                seam_errf(err, errlen, "registry type must be local or http");
                return SEAM_ERR_CONFIG;
        }
        struct seam_registry *reg = calloc(1, sizeof(*reg));
        if (!reg) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        pthread_mutex_init(&reg->lock, NULL);
        reg->type = opts->type;
        reg->negative_ttl_ms = opts->negative_ttl_ms > 0 ? opts->negative_ttl_ms : 0;
        int rc = opts->type == SEAM_REGISTRY_LOCAL
                     ? seam_registry_local_open(reg, opts, err, errlen)
                     : seam_registry_http_open(reg, opts, err, errlen);
        if (rc) {
                seam_registry_destroy(reg);
                return rc;
        }
        if (opts->type == SEAM_REGISTRY_LOCAL) {
                reg->health.reachable = 1;
                reg->health.last_contact_ms = reg->health.last_success_ms = seam_wall_ms();
        }
        *out = reg;
        return 0;
}

void seam_registry_destroy(struct seam_registry *reg)
{
        if (!reg)
                return;
        if (reg->ops && reg->ops->destroy)
                reg->ops->destroy(reg->impl);
        for (size_t i = 0; i < reg->owned_count; i++)
                seam_schema_free(reg->owned[i]);
        free(reg->owned);
        free(reg->slots);
        for (size_t i = 0; i < reg->subj_count; i++)
                free(reg->subj[i].subject);
        free(reg->subj);
        free(reg->neg);
        for (size_t i = 0; i < reg->memo_count; i++)
                free(reg->memo[i].subject);
        free(reg->memo);
        free(reg->sorted);
        pthread_mutex_destroy(&reg->lock);
        free(reg);
}

enum seam_registry_type seam_registry_type(const struct seam_registry *reg)
{
        return reg->type;
}

int seam_registry_preload(struct seam_registry *reg, struct seam_schema *s)
{
        int rc = 0;
        pthread_mutex_lock(&reg->lock);
        if (id_find(reg, s->id) || own(reg, s)) {
                rc = id_find(reg, s->id) ? SEAM_ERR_INVALID : SEAM_ERR_NOMEM;
                pthread_mutex_unlock(&reg->lock);
                seam_schema_free(s);
                return rc;
        }
        /* Owned from here on, whatever fails. */
        if ((rc = id_insert(reg, s)) != 0)
                goto out;
        for (size_t i = 0; i < s->ref_count; i++) {
                const struct seam_schema_ref *r = &s->refs[i];
                if ((rc = subj_set(reg, r->subject, r->version, s)) != 0)
                        goto out;
                struct subj_entry *latest = subj_find(reg, r->subject, -1);
                int latest_version = -1;
                if (latest) {
                        for (size_t k = 0; k < latest->s->ref_count; k++) {
                                if (!strcmp(latest->s->refs[k].subject, r->subject))
                                        latest_version = latest->s->refs[k].version;
                        }
                }
                if (!latest || r->version > latest_version) {
                        if ((rc = subj_set(reg, r->subject, -1, s)) != 0)
                                goto out;
                }
        }
out:
        pthread_mutex_unlock(&reg->lock);
        return rc;
}

/* ---- lookups ---- */

int seam_registry_by_id(struct seam_registry *reg, uint32_t id,
                        const struct seam_schema **out, char *err, size_t errlen)
{
        atomic_fetch_add(&reg->stats.lookups, 1);
        pthread_mutex_lock(&reg->lock);
        struct seam_schema *s = id_find(reg, id);
        if (s) {
                pthread_mutex_unlock(&reg->lock);
                atomic_fetch_add(&reg->stats.cache_hits, 1);
                *out = s;
                return 0;
        }
        struct neg_entry *n = neg_find(reg, id, seam_mono_ms());
        if (n) {
                int rc = n->rc;
                seam_errf(err, errlen, "%s", n->msg);
                pthread_mutex_unlock(&reg->lock);
                atomic_fetch_add(&reg->stats.negative_hits, 1);
                return rc;
        }
        pthread_mutex_unlock(&reg->lock);

        if (!reg->ops->fetch_id) {
                seam_errf(err, errlen, "schema id %u is not in the registry", id);
                return SEAM_ERR_NOTFOUND;
        }
        struct seam_schema *fetched = NULL;
        int rc = reg->ops->fetch_id(reg->impl, reg, id, &fetched, err, errlen);
        if (rc == SEAM_ERR_NOTFOUND || rc == SEAM_ERR_INVALID) {
                if (reg->negative_ttl_ms > 0) {
                        pthread_mutex_lock(&reg->lock);
                        neg_insert(reg, id, rc, err, seam_mono_ms());
                        pthread_mutex_unlock(&reg->lock);
                }
                return rc;
        }
        if (rc)
                return rc;

        pthread_mutex_lock(&reg->lock);
        s = id_find(reg, id);
        if (!s) {
                if (own(reg, fetched)) {
                        pthread_mutex_unlock(&reg->lock);
                        seam_schema_free(fetched);
                        seam_errf(err, errlen, "out of memory caching schema id %u", id);
                        return SEAM_ERR_NOMEM;
                }
                s = fetched;
                fetched = NULL;
                /* Owned either way; a failed index insert only means the
                 * next lookup fetches again. */
                (void)id_insert(reg, s);
        }
        pthread_mutex_unlock(&reg->lock);
        seam_schema_free(fetched); /* another thread won the race */
        *out = s;
        return 0;
}

/* Put a subject lookup's result in the tables and return the object to
 * hand out: an existing one with the same id and this (subject, version)
 * when there is one, so repeated "latest" lookups do not pile up copies. */
static const struct seam_schema *subj_merge(struct seam_registry *reg, const char *subject,
                                            int asked_version, struct seam_schema *fetched,
                                            int *rc)
{
        int version = fetched->version;
        const struct seam_schema *use = NULL;
        *rc = 0;
        pthread_mutex_lock(&reg->lock);
        struct seam_schema *by_id = id_find(reg, fetched->id);
        struct subj_entry *e = subj_find(reg, subject, version);
        if (by_id && refs_have(by_id, subject, version))
                use = by_id;
        else if (e && e->s->id == fetched->id)
                use = e->s;
        if (!use) {
                if ((*rc = own(reg, fetched)) != 0) {
                        pthread_mutex_unlock(&reg->lock);
                        seam_schema_free(fetched);
                        return NULL;
                }
                use = fetched;
                fetched = NULL;
        }
        if (subj_set(reg, subject, version, use) ||
            (asked_version == -1 && subj_set(reg, subject, -1, use)))
                *rc = SEAM_ERR_NOMEM;
        pthread_mutex_unlock(&reg->lock);
        seam_schema_free(fetched);
        return *rc ? NULL : use;
}

int seam_registry_by_subject(struct seam_registry *reg, const char *subject, int version,
                             const struct seam_schema **out, char *err, size_t errlen)
{
        atomic_fetch_add(&reg->stats.lookups, 1);
        if (!subject || !*subject || version == 0 || version < -1) {
                seam_errf(err, errlen, "subject lookup needs a subject and a version >= 1 or latest");
                return SEAM_ERR_INVALID;
        }
        /* "latest" moves, so a live registry is asked every time; a fixed
         * version never changes and is served from memory. */
        if (version != -1 || !reg->ops->fetch_subject) {
                pthread_mutex_lock(&reg->lock);
                struct subj_entry *e = subj_find(reg, subject, version);
                const struct seam_schema *s = e ? e->s : NULL;
                pthread_mutex_unlock(&reg->lock);
                if (s) {
                        atomic_fetch_add(&reg->stats.cache_hits, 1);
                        *out = s;
                        return 0;
                }
                if (!reg->ops->fetch_subject) {
                        if (version == -1)
                                seam_errf(err, errlen, "subject '%s' is not in the registry", subject);
                        else
                                seam_errf(err, errlen, "subject '%s' has no version %d in the registry",
                                        subject, version);
                        return SEAM_ERR_NOTFOUND;
                }
        }
        struct seam_schema *fetched = NULL;
        int rc = reg->ops->fetch_subject(reg->impl, reg, subject, version, &fetched, err, errlen);
        if (rc == SEAM_ERR_TRANSIENT && version == -1) {
                pthread_mutex_lock(&reg->lock);
                struct subj_entry *e = subj_find(reg, subject, -1);
                const struct seam_schema *s = e ? e->s : NULL;
                pthread_mutex_unlock(&reg->lock);
                if (s) {
                        atomic_fetch_add(&reg->stats.cache_hits, 1);
                        *out = s;
                        return 0;
                }
        }
        if (rc)
                return rc;
        const struct seam_schema *s = subj_merge(reg, subject, version, fetched, &rc);
        if (rc) {
                seam_errf(err, errlen, "out of memory caching subject '%s'", subject);
                return rc;
        }
        *out = s;
        return 0;
}

int seam_registry_schema_in_subject(struct seam_registry *reg,
                                    const struct seam_schema *schema, const char *subject,
                                    char *err, size_t errlen)
{
        if (refs_have(schema, subject, -1))
                return 1;
        if (schema->refs_complete || !reg->ops->in_subject)
                return 0;
        pthread_mutex_lock(&reg->lock);
        for (size_t i = 0; i < reg->memo_count; i++) {
                if (reg->memo[i].s == schema && !strcmp(reg->memo[i].subject, subject)) {
                        int answer = reg->memo[i].answer;
                        pthread_mutex_unlock(&reg->lock);
                        return answer;
                }
        }
        pthread_mutex_unlock(&reg->lock);
        int rc = reg->ops->in_subject(reg->impl, reg, schema, subject, err, errlen);
        if (rc < 0)
                return rc;
        pthread_mutex_lock(&reg->lock);
        char *copy = strdup(subject);
        if (copy && !grow((void **)&reg->memo, &reg->memo_cap, reg->memo_count + 1,
                          sizeof(*reg->memo)))
                reg->memo[reg->memo_count++] =
                    (struct memo_entry){.s = schema, .subject = copy, .answer = rc};
        else
                free(copy); /* not remembering only costs a request */
        pthread_mutex_unlock(&reg->lock);
        return rc;
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;
        return (x > y) - (x < y);
}

int seam_registry_subject_versions(struct seam_registry *reg, const char *subject,
                                   int **versions, size_t *count, char *err, size_t errlen)
{
        *versions = NULL;
        *count = 0;
        if (reg->ops->list_versions)
                return reg->ops->list_versions(reg->impl, reg, subject, versions, count, err,
                                               errlen);
        pthread_mutex_lock(&reg->lock);
        size_t n = 0;
        int *v = malloc((reg->subj_count + 1) * sizeof(*v));
        for (size_t i = 0; v && i < reg->subj_count; i++) {
                if (reg->subj[i].version >= 1 && !strcmp(reg->subj[i].subject, subject))
                        v[n++] = reg->subj[i].version;
        }
        pthread_mutex_unlock(&reg->lock);
        if (!v) {
                seam_errf(err, errlen, "out of memory");
                return SEAM_ERR_NOMEM;
        }
        if (!n) {
                free(v);
                seam_errf(err, errlen, "subject '%s' is not in the registry", subject);
                return SEAM_ERR_NOTFOUND;
        }
        qsort(v, n, sizeof(*v), cmp_int);
        *versions = v;
        *count = n;
        return 0;
}

int seam_registry_register(struct seam_registry *reg, const char *subject,
                           const char *schema_json, uint32_t *id_out, char *err,
                           size_t errlen)
{
        if (!reg->ops->register_schema) {
                seam_errf(err, errlen, "registering schemas needs an http registry");
                return SEAM_ERR_INVALID;
        }
        return reg->ops->register_schema(reg->impl, reg, subject, schema_json, id_out, err,
                                         errlen);
}

static int cmp_schema(const void *a, const void *b)
{
        const struct seam_schema *x = *(const struct seam_schema *const *)a;
        const struct seam_schema *y = *(const struct seam_schema *const *)b;
        int c = strcmp(x->subject ? x->subject : "", y->subject ? y->subject : "");
        if (c)
                return c;
        return (x->version > y->version) - (x->version < y->version);
}

const struct seam_schema *const *seam_registry_local_schemas(struct seam_registry *reg,
                                                              size_t *count)
{
        *count = 0;
        if (reg->type != SEAM_REGISTRY_LOCAL)
                return NULL;
        pthread_mutex_lock(&reg->lock);
        if (!reg->sorted && reg->owned_count) {
                reg->sorted = malloc(reg->owned_count * sizeof(*reg->sorted));
                if (reg->sorted) {
                        memcpy(reg->sorted, reg->owned, reg->owned_count * sizeof(*reg->sorted));
                        reg->sorted_count = reg->owned_count;
                        qsort(reg->sorted, reg->sorted_count, sizeof(*reg->sorted), cmp_schema);
                }
        }
        *count = reg->sorted_count;
        const struct seam_schema *const *r = reg->sorted;
        pthread_mutex_unlock(&reg->lock);
        return r;
}

/* ---- health and counters ---- */

void seam_registry_note_contact(struct seam_registry *reg, int rc, const char *msg)
{
        int64_t now = seam_wall_ms();
        pthread_mutex_lock(&reg->lock);
        struct seam_registry_health *h = &reg->health;
        h->last_contact_ms = now;
        h->last_result = rc;
        if (rc == 0 || rc == SEAM_ERR_NOTFOUND || rc == SEAM_ERR_INVALID) {
                h->reachable = 1;
                h->consecutive_failures = 0;
                h->last_success_ms = now;
                h->last_error[0] = '\0';
        } else {
                h->reachable = 0;
                h->consecutive_failures++;
                snprintf(h->last_error, sizeof(h->last_error), "%s", msg ? msg : "");
        }
        pthread_mutex_unlock(&reg->lock);
}

void seam_registry_health(struct seam_registry *reg, struct seam_registry_health *out)
{
        pthread_mutex_lock(&reg->lock);
        *out = reg->health;
        pthread_mutex_unlock(&reg->lock);
}

struct seam_registry_stats *seam_registry_stats(struct seam_registry *reg)
{
        return &reg->stats;
}
