#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#ifndef SEAM_VERSION
#define SEAM_VERSION "unknown"
#endif

const double seam_metrics_latency_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t seam_metrics_latency_bucket_count =
    sizeof(seam_metrics_latency_buckets) / sizeof(seam_metrics_latency_buckets[0]);

struct seam_metric {
        /* Counters keep whole increments apart from fractional adds: the
         * common inc() is then a fetch_add, not a CAS loop on a double. */
        _Atomic uint64_t count;
        /* Bits of a double: a counter's fractional adds, a gauge's value, a
         * histogram's sum. All-zero bits are 0.0, so calloc initialises. */
        _Atomic uint64_t bits;
        enum seam_metric_type type; /* copied here so the hot path checks it
                                       without touching the family */
        struct seam_metric_family *family;
        struct seam_metric *hnext;       /* hash chain */
        struct seam_metric *prev, *next; /* creation order, for rendering */
        uint64_t hash;
        char **values;
        char *text; /* label pairs, escaped once: a="x",b="y" (or "") */
        /* Histogram: per-bucket (not cumulative) counts, the last one +Inf.
         * _count is their sum at render time, so _count always equals the
         * +Inf bucket even while observations race with the scrape. */
        _Atomic uint64_t buckets[];
};

struct seam_metric_family {
        struct seam_metric_family *next; /* registration order */
        enum seam_metric_type type;
        int refs;
        char *name;
        char *help;
        size_t nlabels;
        char **labels;
        double *bounds; /* histogram upper bounds, +Inf implied */
        char (*le)[32]; /* the same, formatted for the le label */
        size_t nbounds;
        seam_metric_collect_fn collect;
        void *collect_arg;
        pthread_mutex_t lock; /* the children: table and list */
        struct seam_metric **table;
        size_t tsize; /* power of two, or 0 */
        size_t count;
        struct seam_metric *first, *last;
};

struct seam_metrics {
        pthread_mutex_t lock; /* the family list; held for a whole render */
        struct seam_metric_family *first, *last;
};

struct buf {
        char *p;
        size_t len, cap;
        int failed;
};

struct seam_metric_sink {
        struct buf *buf;
        const struct seam_metric_family *family;
        int header_done;
};

/* C11 has no fetch_add for doubles: doubles live as bits in an atomic
 * uint64_t and adds are a CAS loop on those bits. */
union dbits {
        double d;
        uint64_t u;
};
#define d2u(v) (((union dbits){.d = (v)}).u)
#define u2d(v) (((union dbits){.u = (v)}).d)

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
        uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            a, &old, d2u(u2d(old) + v), memory_order_relaxed, memory_order_relaxed))
                ;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
        if (b->failed)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 1024;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->failed = 1;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
        buf_put(b, s, strlen(s));
}

/* Label values escape backslash, double quote and newline; HELP text only
 * backslash and newline (the format's two escaping rules). */
static void buf_escaped(struct buf *b, const char *s, int label_value)
{
        for (; *s; s++) {
                if (*s == '\\')
                        buf_put(b, "\\\\", 2);
                else if (*s == '\n')
                        buf_put(b, "\\n", 2);
                else if (*s == '"' && label_value)
                        buf_put(b, "\\\"", 2);
                else
                        buf_put(b, s, 1);
        }
}

static void buf_labels(struct buf *b, const struct seam_metric_family *f,
                       const char *const *values)
{
        for (size_t i = 0; i < f->nlabels; i++) {
                if (i)
                        buf_put(b, ",", 1);
                buf_puts(b, f->labels[i]);
                buf_put(b, "=\"", 2);
                buf_escaped(b, values[i], 1);
                buf_put(b, "\"", 1);
        }
}

/* Shortest of %.15g / %.17g that reads back to the same double, so bucket
 * bounds print as 0.005 rather than 0.0050000000000000001; the special
 * values are spelled as Prometheus (Go's ParseFloat) reads them. */
static void fmt_double(char out[32], double v)
{
        if (isnan(v))
                snprintf(out, 32, "NaN");
        else if (isinf(v))
                snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
        else {
                snprintf(out, 32, "%.15g", v);
                if (strtod(out, NULL) != v)
                        snprintf(out, 32, "%.17g", v);
        }
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, without ':' for labels. Not
 * isalpha(): the locale must not change what is valid. */
static int valid_name(const char *s, int colon)
{
        if (!s || !*s)
                return 0;
        for (const char *p = s; *p; p++) {
                char c = *p;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (colon && c == ':') || (p != s && c >= '0' && c <= '9')))
                        return 0;
        }
        return 1;
}

/* Prometheus rejects a whole scrape over one label value that is not UTF-8,
 * and values such as group ids come from outside. */
static int utf8_valid(const char *s)
{
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1
                      : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
                if (n < 0)
                        return 0;
                uint32_t cp = *p++ & (n ? 0x3f >> n : 0x7f);
                for (int i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80) /* also stops at NUL */
                                return 0;
                        cp = cp << 6 | (*p & 0x3f);
                }
                /* overlong, beyond Unicode, or a surrogate */
                if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
        }
        return 1;
}

/* FNV-1a; 0xff separates the values as it never occurs in UTF-8. */
static uint64_t hash_values(size_t n, const char *const *v)
{
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < n; i++) {
                for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
                        h = (h ^ *p) * 1099511628211ULL;
                h = (h ^ 0xff) * 1099511628211ULL;
        }
        return h;
}

static int values_equal(size_t n, char *const *a, const char *const *b)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return 0;
        return 1;
}

static void child_free(struct seam_metric *c)
{
        if (!c)
                return;
        if (c->values)
                for (size_t i = 0; i < c->family->nlabels; i++)
                        free(c->values[i]);
        free(c->values);
        free(c->text);
        free(c);
}

static struct seam_metric *child_new(struct seam_metric_family *f,
                                     const char *const *values, uint64_t hash)
{
        size_t nb = f->type == SEAM_METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
        struct seam_metric *c = calloc(1, sizeof(*c) + nb * sizeof(c->buckets[0]));
        struct buf b = {0};
        if (!c)
                return NULL;
        c->type = f->type;
        c->family = f;
        c->hash = hash;
        c->values = calloc(f->nlabels + 1, sizeof(char *));
        if (!c->values)
                goto error;
        for (size_t i = 0; i < f->nlabels; i++)
                if (!(c->values[i] = strdup(values[i])))
                        goto error;
        buf_labels(&b, f, values);
        buf_put(&b, "", 0); /* allocates "" when there are no labels */
        if (b.failed)
                goto error;
        c->text = b.p;
        return c;
error:
        free(b.p);
        child_free(c);
        return NULL;
}

static struct seam_metric *table_find(const struct seam_metric_family *f,
                                      uint64_t hash, const char *const *values)
{
        if (!f->tsize)
                return NULL;
        for (struct seam_metric *c = f->table[hash & (f->tsize - 1)]; c; c = c->hnext)
                if (c->hash == hash && values_equal(f->nlabels, c->values, values))
                        return c;
        return NULL;
}

static int table_insert(struct seam_metric_family *f, struct seam_metric *c)
{
        if (f->count + 1 > f->tsize) {
                size_t ns = f->tsize ? f->tsize * 2 : 8;
                struct seam_metric **t = calloc(ns, sizeof(*t));
                if (!t)
                        return SEAM_ERR_NOMEM;
                for (struct seam_metric *x = f->first; x; x = x->next) {
                        x->hnext = t[x->hash & (ns - 1)];
                        t[x->hash & (ns - 1)] = x;
                }
                free(f->table);
                f->table = t;
                f->tsize = ns;
        }
        c->hnext = f->table[c->hash & (f->tsize - 1)];
        f->table[c->hash & (f->tsize - 1)] = c;
        c->prev = f->last;
        c->next = NULL;
        if (f->last)
                f->last->next = c;
        else
                f->first = c;
        f->last = c;
        f->count++;
        return 0;
}

static void table_unlink(struct seam_metric_family *f, struct seam_metric *c)
{
        struct seam_metric **pp = &f->table[c->hash & (f->tsize - 1)];
        while (*pp != c)
                pp = &(*pp)->hnext;
        *pp = c->hnext;
        if (c->prev)
                c->prev->next = c->next;
        else
                f->first = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                f->last = c->prev;
        f->count--;
}

static void family_free(struct seam_metric_family *f)
{
        if (!f)
                return;
        for (struct seam_metric *c = f->first, *next; c; c = next) {
                next = c->next;
                child_free(c);
        }
        if (f->labels)
                for (size_t i = 0; i < f->nlabels; i++)
                        free(f->labels[i]);
        free(f->labels);
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f->le);
        free(f->table);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

static struct seam_metric_family *
family_new(enum seam_metric_type type, const char *name, const char *help,
           size_t nlabels, const char *const *labels, const double *bounds,
           size_t nbounds)
{
        struct seam_metric_family *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        pthread_mutex_init(&f->lock, NULL);
        f->type = type;
        f->refs = 1;
        f->nlabels = nlabels;
        f->nbounds = nbounds;
        f->name = strdup(name);
        f->help = strdup(help);
        f->labels = calloc(nlabels + 1, sizeof(char *));
        f->bounds = calloc(nbounds + 1, sizeof(double));
        f->le = calloc(nbounds + 1, sizeof(f->le[0]));
        if (!f->name || !f->help || !f->labels || !f->bounds || !f->le)
                goto error;
        for (size_t i = 0; i < nlabels; i++)
                if (!(f->labels[i] = strdup(labels[i])))
                        goto error;
        for (size_t i = 0; i < nbounds; i++) {
                f->bounds[i] = bounds[i];
                fmt_double(f->le[i], bounds[i]);
        }
        return f;
error:
        family_free(f);
        return NULL;
}

static int same_shape(const struct seam_metric_family *f,
                      enum seam_metric_type type, size_t nlabels,
                      const char *const *labels, const double *bounds,
                      size_t nbounds)
{
        if (f->collect || f->type != type || f->nlabels != nlabels ||
            !values_equal(nlabels, f->labels, labels) || f->nbounds != nbounds)
                return 0;
        for (size_t i = 0; i < nbounds; i++)
                if (f->bounds[i] != bounds[i])
                        return 0;
        return 1;
}

static const char *check_family(enum seam_metric_type type, const char *name,
                                const char *help, size_t nlabels,
                                const char *const *labels, const double *bounds,
                                size_t nbounds)
{
        size_t nlen = name ? strlen(name) : 0;
        if (!valid_name(name, 1))
                return "invalid metric name";
        if (type == SEAM_METRIC_COUNTER &&
            (nlen < 6 || strcmp(name + nlen - 6, "_total") != 0))
                return "a counter's name must end in _total";
        if (!help || !*help)
                return "help text missing";
        for (size_t i = 0; i < nlabels; i++) {
                const char *l = labels[i];
                if (!valid_name(l, 0) || !strncmp(l, "__", 2))
                        return "invalid label name";
                if (!strcmp(l, "offset") || !strcmp(l, "key"))
                        return "offsets and keys are never labels";
                if (type == SEAM_METRIC_HISTOGRAM && !strcmp(l, "le"))
                        return "a histogram cannot have a label named le";
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(l, labels[j]))
                                return "duplicate label name";
        }
        for (size_t i = 0; i < nbounds; i++)
                if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                        return "buckets must be finite and strictly increasing";
        return NULL;
}

static struct seam_metric_family *
family_add(struct seam_metrics *m, enum seam_metric_type type, const char *name,
           const char *help, size_t nlabels, const char *const *labels,
           const double *bounds, size_t nbounds, seam_metric_collect_fn collect,
           void *arg)
{
        if (!m)
                return NULL;
        if (type == SEAM_METRIC_HISTOGRAM && !bounds) {
                bounds = seam_metrics_latency_buckets;
                nbounds = seam_metrics_latency_bucket_count;
        }
        if (type != SEAM_METRIC_HISTOGRAM)
                nbounds = 0;
        if (nbounds && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
                nbounds--;
        const char *why = check_family(type, name, help, nlabels, labels, bounds, nbounds);
        if (why) {
                seam_log_error("metrics: cannot register %s: %s", name ? name : "(null)", why);
                return NULL;
        }

        struct seam_metric_family *f;
        pthread_mutex_lock(&m->lock);
        for (f = m->first; f; f = f->next)
                if (!strcmp(f->name, name))
                        break;
        if (f) {
                if (!collect && same_shape(f, type, nlabels, labels, bounds, nbounds)) {
                        f->refs++;
                } else {
                        f = NULL;
                        why = "name already registered with another type, labels "
                              "or buckets, or as a callback";
                }
        } else if ((f = family_new(type, name, help, nlabels, labels, bounds, nbounds))) {
                f->collect = collect;
                f->collect_arg = arg;
                /* A series without labels exists from the start, at 0, so
                 * rate() sees the first increment. */
                struct seam_metric *c = NULL;
                if (!nlabels && !collect &&
                    (!(c = child_new(f, NULL, hash_values(0, NULL))) || table_insert(f, c))) {
                        child_free(c);
                        family_free(f);
                        f = NULL;
                } else {
                        if (m->last)
                                m->last->next = f;
                        else
                                m->first = f;
                        m->last = f;
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (!f)
                seam_log_error("metrics: cannot register %s: %s", name,
                               why ? why : "out of memory");
        return f;
}

struct seam_metric_family *seam_metrics_counter(struct seam_metrics *m,
                                                const char *name,
                                                const char *help, size_t nlabels,
                                                const char *const *labels)
{
        return family_add(m, SEAM_METRIC_COUNTER, name, help, nlabels, labels,
                          NULL, 0, NULL, NULL);
}

struct seam_metric_family *seam_metrics_gauge(struct seam_metrics *m,
                                              const char *name,
                                              const char *help, size_t nlabels,
                                              const char *const *labels)
{
        return family_add(m, SEAM_METRIC_GAUGE, name, help, nlabels, labels,
                          NULL, 0, NULL, NULL);
}

struct seam_metric_family *
seam_metrics_histogram(struct seam_metrics *m, const char *name,
                       const char *help, size_t nlabels,
                       const char *const *labels, const double *bounds,
                       size_t nbounds)
{
        return family_add(m, SEAM_METRIC_HISTOGRAM, name, help, nlabels, labels,
                          bounds, nbounds, NULL, NULL);
}

struct seam_metric_family *
seam_metrics_gauge_func(struct seam_metrics *m, const char *name,
                        const char *help, size_t nlabels,
                        const char *const *labels, seam_metric_collect_fn collect,
                        void *arg)
{
        if (!collect)
                return NULL;
        return family_add(m, SEAM_METRIC_GAUGE, name, help, nlabels, labels,
                          NULL, 0, collect, arg);
}

struct seam_metric_family *
seam_metrics_counter_func(struct seam_metrics *m, const char *name,
                          const char *help, size_t nlabels,
                          const char *const *labels, seam_metric_collect_fn collect,
                          void *arg)
{
        if (!collect)
                return NULL;
        return family_add(m, SEAM_METRIC_COUNTER, name, help, nlabels, labels,
                          NULL, 0, collect, arg);
}

void seam_metrics_unregister(struct seam_metrics *m, struct seam_metric_family *f)
{
        if (!m || !f)
                return;
        struct seam_metric_family **pp, *prev = NULL;
        pthread_mutex_lock(&m->lock);
        for (pp = &m->first; *pp && *pp != f; pp = &(*pp)->next)
                prev = *pp;
        if (!*pp || --f->refs > 0) {
                pthread_mutex_unlock(&m->lock);
                return;
        }
        *pp = f->next;
        if (m->last == f)
                m->last = prev;
        pthread_mutex_unlock(&m->lock);
        family_free(f);
}

struct seam_metric *seam_metric_get(struct seam_metric_family *f,
                                    size_t nvalues, const char *const *values)
{
        if (!f || f->collect || nvalues != f->nlabels) {
                seam_log_limited("metrics-get", 60000, SEAM_LOG_ERROR, NULL,
                                 "metrics: %s: no stored family or wrong number "
                                 "of label values (%zu)",
                                 f ? f->name : "(unregistered)", nvalues);
                return NULL;
        }
        for (size_t i = 0; i < nvalues; i++)
                if (!values[i])
                        return NULL;
        uint64_t hash = hash_values(nvalues, values);
        pthread_mutex_lock(&f->lock);
        struct seam_metric *c = table_find(f, hash, values);
        if (!c) {
                int valid = 1;
                for (size_t i = 0; i < nvalues && valid; i++)
                        valid = utf8_valid(values[i]);
                if (valid && (c = child_new(f, values, hash)) && table_insert(f, c)) {
                        child_free(c);
                        c = NULL;
                }
                if (!valid)
                        seam_log_limited("metrics-utf8", 60000, SEAM_LOG_WARN, NULL,
                                         "metrics: %s: label value is not UTF-8; "
                                         "series dropped", f->name);
        }
        pthread_mutex_unlock(&f->lock);
        return c;
}

int seam_metric_remove(struct seam_metric_family *f, size_t nvalues,
                       const char *const *values)
{
        int removed = 0;
        if (!f || nvalues > f->nlabels)
                return 0;
        for (size_t i = 0; i < nvalues; i++)
                if (!values[i])
                        return 0;
        pthread_mutex_lock(&f->lock);
        for (struct seam_metric *c = f->first, *next; c; c = next) {
                next = c->next;
                if (values_equal(nvalues, c->values, values)) {
                        table_unlink(f, c);
                        child_free(c);
                        removed++;
                }
        }
        pthread_mutex_unlock(&f->lock);
        return removed;
}

void seam_counter_inc(struct seam_metric *c)
{
        if (c && c->type == SEAM_METRIC_COUNTER)
                atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
}

void seam_counter_add_int(struct seam_metric *c, uint64_t n)
{
        if (c && c->type == SEAM_METRIC_COUNTER)
                atomic_fetch_add_explicit(&c->count, n, memory_order_relaxed);
}

void seam_counter_add(struct seam_metric *c, double v)
{
        if (c && c->type == SEAM_METRIC_COUNTER && v > 0) /* false for NaN */
                atomic_add_double(&c->bits, v);
}

void seam_gauge_set(struct seam_metric *g, double v)
{
        if (g && g->type == SEAM_METRIC_GAUGE)
                atomic_store_explicit(&g->bits, d2u(v), memory_order_relaxed);
}

void seam_gauge_add(struct seam_metric *g, double v)
{
        if (g && g->type == SEAM_METRIC_GAUGE)
                atomic_add_double(&g->bits, v);
}

void seam_histogram_observe(struct seam_metric *h, double v)
{
        if (!h || h->type != SEAM_METRIC_HISTOGRAM)
                return;
        const struct seam_metric_family *f = h->family;
        size_t i = 0;
        /* `!(v <= bound)` puts NaN in +Inf, as Prometheus' Go client does. */
        while (i < f->nbounds && !(v <= f->bounds[i]))
                i++;
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
        atomic_add_double(&h->bits, v);
}

double seam_metric_value(const struct seam_metric *m)
{
        if (!m)
                return 0;
        double d = u2d(atomic_load_explicit(&m->bits, memory_order_relaxed));
        if (m->type == SEAM_METRIC_COUNTER)
                d += (double)atomic_load_explicit(&m->count, memory_order_relaxed);
        return d;
}

uint64_t seam_histogram_count(const struct seam_metric *h)
{
        uint64_t n = 0;
        if (h && h->type == SEAM_METRIC_HISTOGRAM)
                for (size_t i = 0; i <= h->family->nbounds; i++)
                        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        return n;
}

static void put_header(struct buf *b, const struct seam_metric_family *f)
{
        static const char *const types[] = {"counter", "gauge", "histogram"};
        buf_puts(b, "# HELP ");
        buf_puts(b, f->name);
        buf_put(b, " ", 1);
        buf_escaped(b, f->help, 0);
        buf_puts(b, "\n# TYPE ");
        buf_puts(b, f->name);
        buf_put(b, " ", 1);
        buf_puts(b, types[f->type]);
        buf_put(b, "\n", 1);
}

static void put_sample(struct buf *b, const struct seam_metric_family *f,
                       const char *suffix, const char *labels, const char *le,
                       const char *value)
{
        buf_puts(b, f->name);
        buf_puts(b, suffix);
        if (*labels || le) {
                buf_put(b, "{", 1);
                buf_puts(b, labels);
                if (le) {
                        buf_puts(b, *labels ? ",le=\"" : "le=\"");
                        buf_puts(b, le);
                        buf_put(b, "\"", 1);
                }
                buf_put(b, "}", 1);
        }
        buf_put(b, " ", 1);
        buf_puts(b, value);
        buf_put(b, "\n", 1);
}

static void render_family(struct buf *b, const struct seam_metric_family *f)
{
        char v[32];
        if (f->first)
                put_header(b, f);
        for (const struct seam_metric *c = f->first; c; c = c->next) {
                uint64_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
                double d = u2d(atomic_load_explicit(&c->bits, memory_order_relaxed));
                if (c->type == SEAM_METRIC_COUNTER) {
                        /* Whole counts print exactly, even past 2^53. */
                        if (d == 0)
                                snprintf(v, sizeof(v), "%" PRIu64, n);
                        else
                                fmt_double(v, (double)n + d);
                        put_sample(b, f, "", c->text, NULL, v);
                } else if (c->type == SEAM_METRIC_GAUGE) {
                        fmt_double(v, d);
                        put_sample(b, f, "", c->text, NULL, v);
                } else {
                        uint64_t cum = 0;
                        for (size_t i = 0; i <= f->nbounds; i++) {
                                cum += atomic_load_explicit(&c->buckets[i],
                                                            memory_order_relaxed);
                                snprintf(v, sizeof(v), "%" PRIu64, cum);
                                put_sample(b, f, "_bucket", c->text,
                                           i < f->nbounds ? f->le[i] : "+Inf", v);
                        }
                        fmt_double(v, d);
                        put_sample(b, f, "_sum", c->text, NULL, v);
                        snprintf(v, sizeof(v), "%" PRIu64, cum);
                        put_sample(b, f, "_count", c->text, NULL, v);
                }
        }
}

void seam_metric_emit(struct seam_metric_sink *s, double value, size_t nvalues,
                      const char *const *values)
{
        if (!s || nvalues != s->family->nlabels)
                return;
        for (size_t i = 0; i < nvalues; i++)
                if (!values[i] || !utf8_valid(values[i]))
                        return;
        struct buf *b = s->buf;
        char v[32];
        /* The header only with a first sample: an empty family prints
         * nothing, as the stored families do. */
        if (!s->header_done)
                put_header(b, s->family);
        s->header_done = 1;
        buf_puts(b, s->family->name);
        if (nvalues) {
                buf_put(b, "{", 1);
                buf_labels(b, s->family, values);
                buf_put(b, "}", 1);
        }
        fmt_double(v, value);
        buf_put(b, " ", 1);
        buf_puts(b, v);
        buf_put(b, "\n", 1);
}

char *seam_metrics_render(struct seam_metrics *m, size_t *len)
{
        struct buf b = {0};
        if (!m)
                return NULL;
        buf_put(&b, "", 0);
        pthread_mutex_lock(&m->lock);
        for (struct seam_metric_family *f = m->first; f; f = f->next) {
                if (f->collect) {
                        struct seam_metric_sink sink = {&b, f, 0};
                        f->collect(f->collect_arg, &sink);
                } else {
                        pthread_mutex_lock(&f->lock);
                        render_family(&b, f);
                        pthread_mutex_unlock(&f->lock);
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (b.failed) {
                free(b.p);
                return NULL;
        }
        if (len)
                *len = b.len;
        return b.p;
}

struct seam_metrics *seam_metrics_new(void)
{
        struct seam_metrics *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        pthread_mutex_init(&m->lock, NULL);
        struct seam_metric_family *f = seam_metrics_gauge(
            m, "seam_build_info", "Build of this seam binary; the value is always 1.",
            SEAM_METRIC_LABELS("version"));
        struct seam_metric *g = seam_metric_get(f, SEAM_METRIC_LABELS(SEAM_VERSION));
        if (!g) {
                seam_metrics_destroy(m);
                return NULL;
        }
        seam_gauge_set(g, 1);
        return m;
}

void seam_metrics_destroy(struct seam_metrics *m)
{
        if (!m)
                return;
        for (struct seam_metric_family *f = m->first, *next; f; f = next) {
                next = f->next;
                family_free(f);
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
}
