/* dedup.c - what every dedup store shares: argument checks, dispatch to the
 * store, the in-process claim table and SHA-256 for over-long LMDB keys. */
#define SEAM_DEDUP_BACKEND
#include "dedup.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Marks per store transaction when flushing: bounds how long one flush
 * holds the store's write lock and how big one PostgreSQL statement gets. */
#define FLUSH_CHUNK 5000

enum claim_state { CLAIM_BUSY, CLAIM_PENDING, CLAIM_FLUSHING };

/* One key claimed or handled in this process; data is scope NUL key NUL. */
struct claim {
        struct claim *next;
        uint64_t hash;
        enum claim_state state;
        size_t scope_len;
        size_t len; /* scope_len + 1 + key length */
        char data[];
};

struct seam_dedup {
        enum seam_dedup_type type;
        const struct seam_dedup_ops *ops;
        void *impl;
        int64_t retention_ms;

        pthread_mutex_t mu; /* the claim table */
        struct claim **buckets;
        size_t nbuckets;
        size_t count;
        size_t pending; /* PENDING + FLUSHING */
        /* One flush at a time: a flush that returned 0 must mean every key
         * released before it is durable, including keys another flush was
         * still writing. */
        pthread_mutex_t flush_mu;
};

int seam_dedup_check_key(const char *scope, const char *key, char *err,
                         size_t errlen)
{
        if (!scope || !*scope) {
                seam_errf(err, errlen, "dedup: empty scope (consumer group)");
                return SEAM_ERR_INVALID;
        }
        if (strnlen(scope, SEAM_DEDUP_MAX_SCOPE + 1) > SEAM_DEDUP_MAX_SCOPE) {
                seam_errf(err, errlen, "dedup: scope longer than %d bytes",
                        SEAM_DEDUP_MAX_SCOPE);
                return SEAM_ERR_INVALID;
        }
        /* An empty key would make every message without one a duplicate of
         * the first: refuse it rather than skip messages. */
        if (!key || !*key) {
                seam_errf(err, errlen, "dedup: empty idempotency key");
                return SEAM_ERR_INVALID;
        }
        if (strnlen(key, SEAM_DEDUP_MAX_KEY + 1) > SEAM_DEDUP_MAX_KEY) {
                seam_errf(err, errlen,
                        "dedup: idempotency key longer than %d bytes",
                        SEAM_DEDUP_MAX_KEY);
                return SEAM_ERR_INVALID;
        }
        return 0;
}

int seam_dedup_open(const struct seam_dedup_options *opts,
                    struct seam_dedup **out, char *err, size_t errlen)
{
        *out = NULL;
        if (!opts) {
                seam_errf(err, errlen, "dedup: no options");
                return SEAM_ERR_INVALID;
        }
        if (opts->retention_ms < 0) {
                seam_errf(err, errlen, "dedup: retention_ms must be >= 0 (0: "
                                     "the default of 7 days)");
                return SEAM_ERR_INVALID;
        }
        struct seam_dedup *d = calloc(1, sizeof(*d));
        if (!d) {
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        d->type = opts->type;
        d->retention_ms = opts->retention_ms ? opts->retention_ms
                                             : SEAM_DEDUP_DEFAULT_RETENTION_MS;
        d->nbuckets = 64;
        d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
        if (!d->buckets) {
                free(d);
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        pthread_mutex_init(&d->mu, NULL);
        pthread_mutex_init(&d->flush_mu, NULL);

        int rc;
        switch (opts->type) {
        case SEAM_DEDUP_EMBEDDED:
                rc = seam_dedup_embedded_open(opts, &d->ops, &d->impl, err,
                                              errlen);
                break;
        case SEAM_DEDUP_POSTGRES:
                rc = seam_dedup_pg_open(opts, &d->ops, &d->impl, err, errlen);
                break;
        default:
                seam_errf(err, errlen, "dedup: unknown store type %d",
                        (int)opts->type);
                rc = SEAM_ERR_INVALID;
        }
        if (rc != 0) {
                d->ops = NULL;
                seam_dedup_close(d);
                return rc;
        }
        *out = d;
        return 0;
}

void seam_dedup_close(struct seam_dedup *d)
{
        if (!d)
                return;
        if (d->ops && d->ops->destroy)
                d->ops->destroy(d->impl);
        for (size_t i = 0; i < d->nbuckets; i++) {
                struct claim *c = d->buckets[i];
                while (c) {
                        struct claim *next = c->next;
                        free(c);
                        c = next;
                }
        }
        free(d->buckets);
        pthread_mutex_destroy(&d->mu);
        pthread_mutex_destroy(&d->flush_mu);
        free(d);
}

enum seam_dedup_type seam_dedup_get_type(const struct seam_dedup *d)
{
        return d->type;
}

int64_t seam_dedup_retention_ms(const struct seam_dedup *d)
{
        return d->retention_ms;
}

void *seam_dedup_impl(struct seam_dedup *d)
{
        return d->impl;
}

int seam_dedup_seen(struct seam_dedup *d, const char *scope, const char *key,
                    char *err, size_t errlen)
{
        int rc = seam_dedup_check_key(scope, key, err, errlen);
        if (rc != 0)
                return rc;
        unsigned char seen = 0;
        const char *keys[1] = {key};
        rc = d->ops->seen_batch(d->impl, scope, keys, 1, &seen, err, errlen);
        return rc != 0 ? rc : seen;
}

int seam_dedup_seen_batch(struct seam_dedup *d, const char *scope,
                          const char *const *keys, size_t n,
                          unsigned char *seen, char *err, size_t errlen)
{
        for (size_t i = 0; i < n; i++) {
                int rc = seam_dedup_check_key(scope, keys[i], err, errlen);
                if (rc != 0)
                        return rc;
        }
        if (n == 0)
                return 0;
        return d->ops->seen_batch(d->impl, scope, keys, n, seen, err, errlen);
}

int seam_dedup_mark(struct seam_dedup *d, const char *scope,
                    const char *const *keys, size_t n, int64_t now_ms,
                    char *err, size_t errlen)
{
        for (size_t i = 0; i < n; i++) {
                int rc = seam_dedup_check_key(scope, keys[i], err, errlen);
                if (rc != 0)
                        return rc;
        }
        if (n == 0)
                return 0;
        return d->ops->mark(d->impl, scope, keys, n, now_ms, err, errlen);
}

long seam_dedup_expire(struct seam_dedup *d, int64_t now_ms, char *err,
                       size_t errlen)
{
        return d->ops->expire(d->impl, now_ms - d->retention_ms, err, errlen);
}

/* ---- claims ---- */

static uint64_t fnv1a(const char *p, size_t n)
{
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

/* The table key: scope NUL key, hashed as one byte string. */
static uint64_t claim_hash(const char *scope, size_t scope_len,
                           const char *key, size_t key_len)
{
        uint64_t h = fnv1a(scope, scope_len);
        h ^= 0xff; /* the separator, so ("ab","c") != ("a","bc") */
        h *= 1099511628211ULL;
        h ^= fnv1a(key, key_len);
        return h;
}

/* Caller holds d->mu. */
static struct claim **claim_find(struct seam_dedup *d, uint64_t hash,
                                 const char *scope, size_t scope_len,
                                 const char *key, size_t key_len)
{
        struct claim **pp = &d->buckets[hash & (d->nbuckets - 1)];
        for (; *pp; pp = &(*pp)->next) {
                struct claim *c = *pp;
                if (c->hash == hash && c->scope_len == scope_len &&
                    c->len == scope_len + 1 + key_len &&
                    memcmp(c->data, scope, scope_len) == 0 &&
                    memcmp(c->data + scope_len + 1, key, key_len) == 0)
                        return pp;
        }
        return pp;
}

/* Caller holds d->mu. Growing is best effort: a full table only gets slower. */
static void claim_grow(struct seam_dedup *d)
{
        size_t n = d->nbuckets * 2;
        struct claim **b = calloc(n, sizeof(*b));
        if (!b)
                return;
        for (size_t i = 0; i < d->nbuckets; i++) {
                struct claim *c = d->buckets[i];
                while (c) {
                        struct claim *next = c->next;
                        c->next = b[c->hash & (n - 1)];
                        b[c->hash & (n - 1)] = c;
                        c = next;
                }
        }
        free(d->buckets);
        d->buckets = b;
        d->nbuckets = n;
}

/* Caller holds d->mu. */
static void claim_remove(struct seam_dedup *d, struct claim *target)
{
        struct claim **pp = &d->buckets[target->hash & (d->nbuckets - 1)];
        for (; *pp; pp = &(*pp)->next) {
                if (*pp == target) {
                        *pp = target->next;
                        if (target->state != CLAIM_BUSY)
                                d->pending--;
                        d->count--;
                        free(target);
                        return;
                }
        }
}

int seam_dedup_claim(struct seam_dedup *d, const char *scope, const char *key,
                     char *err, size_t errlen)
{
        int rc = seam_dedup_check_key(scope, key, err, errlen);
        if (rc != 0)
                return rc;
        size_t sl = strlen(scope), kl = strlen(key);
        uint64_t h = claim_hash(scope, sl, key, kl);

        pthread_mutex_lock(&d->mu);
        struct claim **pp = claim_find(d, h, scope, sl, key, kl);
        if (*pp) {
                int state = (*pp)->state;
                pthread_mutex_unlock(&d->mu);
                return state == CLAIM_BUSY ? SEAM_DEDUP_BUSY : SEAM_DEDUP_SEEN;
        }
        /* Claim before asking the store, so a second message with this key
         * arriving meanwhile waits for this one's outcome. */
        struct claim *c = malloc(sizeof(*c) + sl + 1 + kl + 1);
        if (!c) {
                pthread_mutex_unlock(&d->mu);
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        c->hash = h;
        c->state = CLAIM_BUSY;
        c->scope_len = sl;
        c->len = sl + 1 + kl;
        memcpy(c->data, scope, sl + 1);
        memcpy(c->data + sl + 1, key, kl + 1);
        c->next = NULL;
        *pp = c;
        d->count++;
        if (d->count > d->nbuckets)
                claim_grow(d);
        pthread_mutex_unlock(&d->mu);

        unsigned char seen = 0;
        const char *keys[1] = {key};
        rc = d->ops->seen_batch(d->impl, scope, keys, 1, &seen, err, errlen);
        if (rc == 0 && !seen)
                return SEAM_DEDUP_NEW;
        pthread_mutex_lock(&d->mu);
        claim_remove(d, c);
        pthread_mutex_unlock(&d->mu);
        return rc != 0 ? rc : SEAM_DEDUP_SEEN;
}

int seam_dedup_claim_batch(struct seam_dedup *d, const char *scope,
                           const char *const *keys, size_t n, int *out,
                           char *err, size_t errlen)
{
        for (size_t i = 0; i < n; i++) {
                int rc = seam_dedup_check_key(scope, keys[i], err, errlen);
                if (rc != 0)
                        return rc;
        }
        if (n == 0)
                return 0;
        struct claim **mine = malloc(n * sizeof(*mine));
        const char **ask = malloc(n * sizeof(*ask));
        size_t *pos = malloc(n * sizeof(*pos));
        unsigned char *seen = malloc(n);
        if (!mine || !ask || !pos || !seen) {
                free(mine);
                free(ask);
                free(pos);
                free(seen);
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        size_t sl = strlen(scope), m = 0;
        int rc = 0;
        pthread_mutex_lock(&d->mu);
        for (size_t i = 0; i < n; i++) {
                size_t kl = strlen(keys[i]);
                uint64_t h = claim_hash(scope, sl, keys[i], kl);
                struct claim **pp = claim_find(d, h, scope, sl, keys[i], kl);
                if (*pp) {
                        out[i] = (*pp)->state == CLAIM_BUSY ? SEAM_DEDUP_BUSY
                                                            : SEAM_DEDUP_SEEN;
                        continue;
                }
                struct claim *c = malloc(sizeof(*c) + sl + 1 + kl + 1);
                if (!c) {
                        seam_errf(err, errlen, "dedup: out of memory");
                        rc = SEAM_ERR_NOMEM;
                        break;
                }
                c->hash = h;
                c->state = CLAIM_BUSY;
                c->scope_len = sl;
                c->len = sl + 1 + kl;
                memcpy(c->data, scope, sl + 1);
                memcpy(c->data + sl + 1, keys[i], kl + 1);
                c->next = NULL;
                *pp = c;
                d->count++;
                if (d->count > d->nbuckets)
                        claim_grow(d);
                mine[m] = c;
                ask[m] = keys[i];
                pos[m] = i;
                m++;
        }
        pthread_mutex_unlock(&d->mu);

        if (rc == 0 && m > 0)
                rc = d->ops->seen_batch(d->impl, scope, ask, m, seen, err,
                                        errlen);
        pthread_mutex_lock(&d->mu);
        for (size_t j = 0; j < m; j++) {
                if (rc == 0 && !seen[j]) {
                        out[pos[j]] = SEAM_DEDUP_NEW;
                } else {
                        out[pos[j]] = SEAM_DEDUP_SEEN;
                        claim_remove(d, mine[j]);
                }
        }
        pthread_mutex_unlock(&d->mu);
        free(mine);
        free(ask);
        free(pos);
        free(seen);
        return rc;
}

int seam_dedup_release(struct seam_dedup *d, const char *scope,
                       const char *key, int handled)
{
        if (!scope || !key)
                return SEAM_ERR_INVALID;
        size_t sl = strlen(scope), kl = strlen(key);
        uint64_t h = claim_hash(scope, sl, key, kl);
        pthread_mutex_lock(&d->mu);
        struct claim **pp = claim_find(d, h, scope, sl, key, kl);
        struct claim *c = *pp;
        if (!c || c->state != CLAIM_BUSY) {
                pthread_mutex_unlock(&d->mu);
                return SEAM_ERR_NOTFOUND;
        }
        if (handled) {
                c->state = CLAIM_PENDING;
                d->pending++;
        } else {
                claim_remove(d, c);
        }
        pthread_mutex_unlock(&d->mu);
        return 0;
}

size_t seam_dedup_pending(struct seam_dedup *d)
{
        pthread_mutex_lock(&d->mu);
        size_t n = d->pending;
        pthread_mutex_unlock(&d->mu);
        return n;
}

static int claim_cmp_scope(const void *a, const void *b)
{
        const struct claim *x = *(const struct claim *const *)a;
        const struct claim *y = *(const struct claim *const *)b;
        return strcmp(x->data, y->data);
}

int seam_dedup_flush(struct seam_dedup *d, int64_t now_ms, char *err,
                     size_t errlen)
{
        pthread_mutex_lock(&d->flush_mu);
        pthread_mutex_lock(&d->mu);
        size_t n = 0;
        struct claim **batch = d->pending ? malloc(d->pending * sizeof(*batch))
                                          : NULL;
        if (d->pending && !batch) {
                pthread_mutex_unlock(&d->mu);
                pthread_mutex_unlock(&d->flush_mu);
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        for (size_t i = 0; i < d->nbuckets; i++)
                for (struct claim *c = d->buckets[i]; c; c = c->next)
                        if (c->state == CLAIM_PENDING) {
                                c->state = CLAIM_FLUSHING;
                                batch[n++] = c;
                        }
        pthread_mutex_unlock(&d->mu);

        int rc = 0;
        const char **keys = n ? malloc(FLUSH_CHUNK * sizeof(*keys)) : NULL;
        if (n && !keys) {
                seam_errf(err, errlen, "dedup: out of memory");
                rc = SEAM_ERR_NOMEM;
        }
        /* FLUSHING entries are only touched by this flush, so their data can
         * be read without the lock. */
        if (rc == 0 && n)
                qsort(batch, n, sizeof(*batch), claim_cmp_scope);
        size_t done = 0;
        while (rc == 0 && done < n) {
                const char *scope = batch[done]->data;
                size_t k = 0;
                while (done + k < n && k < FLUSH_CHUNK &&
                       strcmp(batch[done + k]->data, scope) == 0) {
                        keys[k] = batch[done + k]->data +
                                  batch[done + k]->scope_len + 1;
                        k++;
                }
                rc = d->ops->mark(d->impl, scope, keys, k, now_ms, err,
                                  errlen);
                if (rc != 0)
                        break;
                pthread_mutex_lock(&d->mu);
                for (size_t i = 0; i < k; i++)
                        claim_remove(d, batch[done + i]);
                pthread_mutex_unlock(&d->mu);
                done += k;
        }
        if (done < n) {
                pthread_mutex_lock(&d->mu);
                for (size_t i = done; i < n; i++)
                        batch[i]->state = CLAIM_PENDING;
                pthread_mutex_unlock(&d->mu);
        }
        free(keys);
        free(batch);
        pthread_mutex_unlock(&d->flush_mu);
        return rc;
}

/* ---- SHA-256 (FIPS 180-4) ---- */

static const uint32_t sha_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
        0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
        0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
        0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
        0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror32(uint32_t x, int n)
{
        return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t st[8], const unsigned char *p)
{
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^
                              (w[i - 15] >> 3);
                uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^
                              (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = st[0], b = st[1], c = st[2], dd = st[3], e = st[4],
                 f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
                              ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
                uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
                              ((a & b) ^ (a & c) ^ (b & c));
                h = g;
                g = f;
                f = e;
                e = dd + t1;
                dd = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += dd;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;
}

void seam_dedup_sha256(const void *data, size_t len, unsigned char out[32])
{
        uint32_t st[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        const unsigned char *p = data;
        size_t left = len;
        while (left >= 64) {
                sha256_block(st, p);
                p += 64;
                left -= 64;
        }
        unsigned char tail[128] = {0};
        memcpy(tail, p, left);
        tail[left] = 0x80;
        size_t tl = left + 1 + 8 <= 64 ? 64 : 128;
        uint64_t bits = (uint64_t)len * 8;
        for (int i = 0; i < 8; i++)
                tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
        sha256_block(st, tail);
        if (tl == 128)
                sha256_block(st, tail + 64);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (unsigned char)(st[i] >> 24);
                out[4 * i + 1] = (unsigned char)(st[i] >> 16);
                out[4 * i + 2] = (unsigned char)(st[i] >> 8);
                out[4 * i + 3] = (unsigned char)st[i];
        }
}
