/* test_dedup_embedded.c - the embedded (LMDB) dedup store and the
 * in-process claims: seen/mark/expire, durability across a crash, long keys,
 * concurrent marks and claims, a full store, unusable paths. */
#define SEAM_DEDUP_BACKEND
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "dedup.h"
#include "err.h"
#include "testutil.h"

static char *dir;
static char errbuf[512];

static char *store_path(const char *name)
{
        static char buf[8][512];
        static int next;
        char *p = buf[next++ % 8];
        snprintf(p, 512, "%s/%s", dir, name);
        return p;
}

static struct seam_dedup *open_store(const char *path, int64_t retention_ms,
                                     int64_t max_bytes)
{
        struct seam_dedup_options o = {.type = SEAM_DEDUP_EMBEDDED,
                                       .path = path,
                                       .retention_ms = retention_ms,
                                       .max_bytes = max_bytes};
        struct seam_dedup *d = NULL;
        int rc = seam_dedup_open(&o, &d, errbuf, sizeof(errbuf));
        CHECKF(rc == 0, "open %s: %d %s", path, rc, errbuf);
        return d;
}

static void remove_store(const char *path)
{
        char lock[600];
        snprintf(lock, sizeof(lock), "%s-lock", path);
        unlink(path);
        unlink(lock);
}

static int seen(struct seam_dedup *d, const char *scope, const char *key)
{
        int rc = seam_dedup_seen(d, scope, key, errbuf, sizeof(errbuf));
        CHECKF(rc == 0 || rc == 1, "seen %s/%s: %d %s", scope, key, rc, errbuf);
        return rc;
}

static void mark1(struct seam_dedup *d, const char *scope, const char *key,
                  int64_t now)
{
        const char *keys[1] = {key};
        int rc = seam_dedup_mark(d, scope, keys, 1, now, errbuf, sizeof(errbuf));
        CHECKF(rc == 0, "mark %s/%s: %d %s", scope, key, rc, errbuf);
}

static void hex(const unsigned char *h, char *out)
{
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void test_sha256(void)
{
        unsigned char h[32];
        char x[65];
        seam_dedup_sha256("", 0, h);
        hex(h, x);
        CHECK_STR_EQ(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        seam_dedup_sha256("abc", 3, h);
        hex(h, x);
        CHECK_STR_EQ(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        /* 56 bytes: the length no longer fits in the first padded block. */
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        seam_dedup_sha256(m, strlen(m), h);
        hex(h, x);
        CHECK_STR_EQ(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        char *a = malloc(1000000);
        memset(a, 'a', 1000000);
        seam_dedup_sha256(a, 1000000, h);
        free(a);
        hex(h, x);
        CHECK_STR_EQ(x, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_seen_mark(void)
{
        char *path = store_path("basic.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        CHECK_EQ_INT(seam_dedup_get_type(d), SEAM_DEDUP_EMBEDDED);
        CHECK_EQ_INT(seam_dedup_retention_ms(d), SEAM_DEDUP_DEFAULT_RETENTION_MS);
        CHECK_EQ_INT(seen(d, "g1", "orders/0/1"), 0);
        const char *keys[] = {"orders/0/1", "orders/0/2", "evt-\xff\x01-bytes"};
        CHECK_EQ_INT(seam_dedup_mark(d, "g1", keys, 3, 1000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seen(d, "g1", "orders/0/1"), 1);
        CHECK_EQ_INT(seen(d, "g1", "orders/0/2"), 1);
        CHECK_EQ_INT(seen(d, "g1", "evt-\xff\x01-bytes"), 1);
        CHECK_EQ_INT(seen(d, "g1", "orders/0/3"), 0);
        /* Scopes are separate, and a prefix is not a match. */
        CHECK_EQ_INT(seen(d, "g2", "orders/0/1"), 0);
        CHECK_EQ_INT(seen(d, "g", "1orders/0/1"), 0);
        CHECK_EQ_INT(seen(d, "g1", "orders/0/"), 0);
        /* Marking again (a redelivered batch) is fine. */
        CHECK_EQ_INT(seam_dedup_mark(d, "g1", keys, 3, 2000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_mark(d, "g1", keys, 0, 2000, errbuf, sizeof(errbuf)), 0);

        const char *probe[] = {"orders/0/3", "orders/0/2", "x", "orders/0/1"};
        unsigned char s[4];
        memset(s, 7, sizeof(s));
        CHECK_EQ_INT(seam_dedup_seen_batch(d, "g1", probe, 4, s, errbuf, sizeof(errbuf)), 0);
        CHECK(s[0] == 0 && s[1] == 1 && s[2] == 0 && s[3] == 1);

        /* The same file twice in one process would break LMDB's locks. */
        struct seam_dedup_options o = {.type = SEAM_DEDUP_EMBEDDED, .path = path};
        struct seam_dedup *d2 = (struct seam_dedup *)1;
        CHECK_EQ_INT(seam_dedup_open(&o, &d2, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK(d2 == NULL);
        CHECK_CONTAINS(errbuf, "already open");
        seam_dedup_close(d);
        remove_store(path);
}

static void test_key_limits(void)
{
        char *path = store_path("limits.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        char key[SEAM_DEDUP_MAX_KEY + 2];
        memset(key, 'k', sizeof(key));
        key[SEAM_DEDUP_MAX_KEY + 1] = '\0';
        const char *one[1] = {key};
        CHECK_EQ_INT(seam_dedup_mark(d, "g", one, 1, 1, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_CONTAINS(errbuf, "longer than 1024");
        CHECK_EQ_INT(seam_dedup_seen(d, "g", key, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", key, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_dedup_seen(d, "g", "", errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_CONTAINS(errbuf, "empty");
        char scope[SEAM_DEDUP_MAX_SCOPE + 2];
        memset(scope, 's', sizeof(scope));
        scope[SEAM_DEDUP_MAX_SCOPE + 1] = '\0';
        CHECK_EQ_INT(seam_dedup_seen(d, scope, "k", errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        /* A batch with one bad key records none. */
        const char *mixed[2] = {"good", key};
        CHECK_EQ_INT(seam_dedup_mark(d, "g", mixed, 2, 1, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seen(d, "g", "good"), 0);

        /* Keys past LMDB's 511-byte limit are stored by hash: long keys that
         * differ only in their last byte stay distinct, at every length
         * around the switch and at the maximum. */
        size_t lens[] = {400, 499, 500, 501, 502, 503, 511, 512, 1023, 1024};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                key[lens[i]] = '\0';
                key[lens[i] - 1] = 'A';
                CHECK_EQ_INT(seen(d, "g", key), 0);
                mark1(d, "g", key, 1);
                CHECK_EQ_INT(seen(d, "g", key), 1);
                key[lens[i] - 1] = 'B';
                CHECKF(seen(d, "g", key) == 0, "length %zu", lens[i]);
                key[lens[i] - 1] = 'k';
                CHECKF(seen(d, "g", key) == 0, "length %zu", lens[i]);
                key[lens[i]] = 'k';
        }
        /* The maximal scope with a maximal key. */
        scope[SEAM_DEDUP_MAX_SCOPE] = '\0';
        key[SEAM_DEDUP_MAX_KEY] = '\0';
        mark1(d, scope, key, 1);
        CHECK_EQ_INT(seen(d, scope, key), 1);
        CHECK_EQ_INT(seen(d, "g", key), 0);
        seam_dedup_close(d);
        remove_store(path);
}

static void test_expire(void)
{
        char *path = store_path("expire.mdb");
        struct seam_dedup *d = open_store(path, 2000, 0);
        enum { OLD = 25000 }; /* more than one expiry transaction */
        const char **keys = malloc(OLD * sizeof(*keys));
        char (*buf)[24] = malloc(OLD * sizeof(*buf));
        for (int i = 0; i < OLD; i++) {
                snprintf(buf[i], 24, "old/%d", i);
                keys[i] = buf[i];
        }
        CHECK_EQ_INT(seam_dedup_mark(d, "g", keys, OLD, 1000, errbuf, sizeof(errbuf)), 0);
        mark1(d, "g", "new", 5000);
        mark1(d, "h", "new", 5000);
        /* Re-marking keeps the first time: it expires with the old ones. */
        mark1(d, "g", "old/7", 5000);
        CHECK_EQ_INT(seam_dedup_expire(d, 2999, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seen(d, "g", "old/7"), 1);
        CHECK_EQ_INT(seam_dedup_expire(d, 6000, errbuf, sizeof(errbuf)), OLD);
        CHECK_EQ_INT(seen(d, "g", "old/0"), 0);
        CHECK_EQ_INT(seen(d, "g", "old/7"), 0);
        CHECK_EQ_INT(seen(d, "g", "old/24999"), 0);
        CHECK_EQ_INT(seen(d, "g", "new"), 1);
        CHECK_EQ_INT(seen(d, "h", "new"), 1);
        CHECK_EQ_INT(seam_dedup_expire(d, 6000, errbuf, sizeof(errbuf)), 0);
        /* An expired key can be marked again and expires on its new time. */
        mark1(d, "g", "old/0", 6500);
        CHECK_EQ_INT(seam_dedup_expire(d, 7100, errbuf, sizeof(errbuf)), 2);
        CHECK_EQ_INT(seen(d, "g", "old/0"), 1);
        CHECK_EQ_INT(seam_dedup_expire(d, 9000, errbuf, sizeof(errbuf)), 1);
        CHECK_EQ_INT(seen(d, "g", "old/0"), 0);
        free(keys);
        free(buf);
        seam_dedup_close(d);
        remove_store(path);
}

/* A child marks and dies without closing: the marks are on disk. */
static void test_durable_across_crash(void)
{
        char *path = store_path("crash.mdb");
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                struct seam_dedup *d = open_store(path, 0, 0);
                const char *keys[] = {"a", "b", "c"};
                if (seam_dedup_mark(d, "g", keys, 3, 1000, errbuf, sizeof(errbuf)) != 0)
                        _exit(3);
                _exit(0);
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        struct seam_dedup *d = open_store(path, 0, 0);
        CHECK_EQ_INT(seen(d, "g", "a"), 1);
        CHECK_EQ_INT(seen(d, "g", "c"), 1);
        CHECK_EQ_INT(seen(d, "g", "d"), 0);
        mark1(d, "g", "d", 2000);
        seam_dedup_close(d);
        d = open_store(path, 0, 0);
        CHECK_EQ_INT(seen(d, "g", "d"), 1);
        seam_dedup_close(d);
        remove_store(path);
}

struct worker {
        struct seam_dedup *d;
        int id;
        int news;
        int rc;
};

enum { THREADS = 4, PER_THREAD = 2000, BATCH = 100 };

/* Each thread marks its own keys plus a share of everyone's first 500,
 * reading as it goes. */
static void *mark_worker(void *arg)
{
        struct worker *w = arg;
        char err[256];
        char buf[BATCH][32];
        const char *keys[BATCH];
        for (int base = 0; base < PER_THREAD; base += BATCH) {
                for (int i = 0; i < BATCH; i++) {
                        int n = base + i;
                        if (n < 500)
                                snprintf(buf[i], 32, "shared/%d", n);
                        else
                                snprintf(buf[i], 32, "t%d/%d", w->id, n);
                        keys[i] = buf[i];
                }
                int rc = seam_dedup_mark(w->d, "g", keys, BATCH, 1000 + base, err, sizeof(err));
                if (rc == 0)
                        rc = seam_dedup_seen(w->d, "g", keys[BATCH - 1], err, sizeof(err)) == 1 ? 0 : -100;
                if (rc != 0) {
                        fprintf(stderr, "thread %d: %d %s\n", w->id, rc, err);
                        w->rc = rc;
                        return NULL;
                }
        }
        return NULL;
}

static void test_concurrent_marks(void)
{
        char *path = store_path("threads.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        pthread_t th[THREADS];
        struct worker w[THREADS];
        for (int i = 0; i < THREADS; i++) {
                w[i] = (struct worker){.d = d, .id = i};
                CHECK(pthread_create(&th[i], NULL, mark_worker, &w[i]) == 0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(th[i], NULL);
                CHECK_EQ_INT(w[i].rc, 0);
        }
        char k[32];
        for (int t = 0; t < THREADS; t++)
                for (int n = 500; n < PER_THREAD; n++) {
                        snprintf(k, sizeof(k), "t%d/%d", t, n);
                        CHECK_EQ_INT(seen(d, "g", k), 1);
                }
        for (int n = 0; n < 500; n++) {
                snprintf(k, sizeof(k), "shared/%d", n);
                CHECK_EQ_INT(seen(d, "g", k), 1);
        }
        /* 4 x 1500 own keys + 500 shared ones, each exactly once. */
        CHECK_EQ_INT(seam_dedup_expire(d, INT64_MAX / 2, errbuf, sizeof(errbuf)),
                     THREADS * (PER_THREAD - 500) + 500);
        seam_dedup_close(d);
        remove_store(path);
}

static void test_claims(void)
{
        char *path = store_path("claims.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_BUSY);
        CHECK_EQ_INT(seam_dedup_claim(d, "h", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(d, "h", "k1", 0), 0);
        /* Not handled (RETRY, dead-lettered): the next copy is handled. */
        CHECK_EQ_INT(seam_dedup_release(d, "g", "k1", 0), 0);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "k1", 0), SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "k1", 1), 0);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "k1", 1), SEAM_ERR_NOTFOUND);
        /* Handled, not yet flushed: a duplicate although the store does not
         * have it yet. */
        CHECK_EQ_INT(seen(d, "g", "k1"), 0);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_SEEN);
        CHECK_EQ_INT(seam_dedup_pending(d), 1);
        CHECK_EQ_INT(seam_dedup_claim(d, "g2", "k2", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(d, "g2", "k2", 1), 0);
        CHECK_EQ_INT(seam_dedup_flush(d, 1000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_pending(d), 0);
        CHECK_EQ_INT(seen(d, "g", "k1"), 1);
        CHECK_EQ_INT(seen(d, "g2", "k2"), 1);
        CHECK_EQ_INT(seen(d, "g", "k2"), 0);
        /* Now from the store. */
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "k1", errbuf, sizeof(errbuf)), SEAM_DEDUP_SEEN);
        CHECK_EQ_INT(seam_dedup_flush(d, 1000, errbuf, sizeof(errbuf)), 0);
        seam_dedup_close(d);
        remove_store(path);
}

static void test_claim_batch(void)
{
        char *path = store_path("claim-batch.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        mark1(d, "g", "stored", 1000);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "pending", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "pending", 1), 0);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "busy", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        const char *keys[] = {"new1", "stored", "pending", "busy", "new2", "new1", "stored"};
        int out[7];
        CHECK_EQ_INT(seam_dedup_claim_batch(d, "g", keys, 7, out, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(out[0], SEAM_DEDUP_NEW);
        CHECK_EQ_INT(out[1], SEAM_DEDUP_SEEN);
        CHECK_EQ_INT(out[2], SEAM_DEDUP_SEEN);
        CHECK_EQ_INT(out[3], SEAM_DEDUP_BUSY);
        CHECK_EQ_INT(out[4], SEAM_DEDUP_NEW);
        CHECK_EQ_INT(out[5], SEAM_DEDUP_BUSY); /* the first new1 decides */
        CHECK_EQ_INT(out[6], SEAM_DEDUP_BUSY); /* so does the first "stored" */
        /* The new ones are claimed: released, they become pending. */
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "new1", errbuf, sizeof(errbuf)), SEAM_DEDUP_BUSY);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "new1", 1), 0);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "new2", 0), 0);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "busy", 1), 0);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "stored", 1), SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_dedup_pending(d), 3);
        CHECK_EQ_INT(seam_dedup_flush(d, 2000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seen(d, "g", "new1"), 1);
        CHECK_EQ_INT(seen(d, "g", "new2"), 0);
        CHECK_EQ_INT(seen(d, "g", "busy"), 1);
        /* A bad key refuses the whole call and claims nothing. */
        const char *bad[] = {"fresh", ""};
        CHECK_EQ_INT(seam_dedup_claim_batch(d, "g", bad, 2, out, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_dedup_claim(d, "g", "fresh", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(d, "g", "fresh", 0), 0);
        CHECK_EQ_INT(seam_dedup_claim_batch(d, "g", bad, 0, out, errbuf, sizeof(errbuf)), 0);
        seam_dedup_close(d);
        remove_store(path);
}

enum { CLAIM_KEYS = 3000 };

static void *claim_worker(void *arg)
{
        struct worker *w = arg;
        char err[256], k[32];
        for (int i = 0; i < CLAIM_KEYS; i++) {
                /* Threads walk the keys from different starts so they meet. */
                int n = (i + w->id * 997) % CLAIM_KEYS;
                snprintf(k, sizeof(k), "biz/%d", n);
                for (int attempt = 0;; attempt++) {
                        int rc = seam_dedup_claim(w->d, "g", k, err, sizeof(err));
                        if (rc == SEAM_DEDUP_BUSY) {
                                sched_yield();
                                continue;
                        }
                        if (rc == SEAM_DEDUP_NEW) {
                                w->news++;
                                /* Every 7th first try "fails" (RETRY):
                                 * released unhandled, so someone must
                                 * handle it later. */
                                int handled = attempt > 0 || (n + w->id) % 7 != 0;
                                if (seam_dedup_release(w->d, "g", k, handled) != 0)
                                        w->rc = -200;
                                if (!handled) {
                                        w->news--;
                                        continue;
                                }
                        } else if (rc != SEAM_DEDUP_SEEN) {
                                fprintf(stderr, "claim: %d %s\n", rc, err);
                                w->rc = rc;
                                return NULL;
                        }
                        break;
                }
                if (i % 500 == 0 &&
                    (w->rc = seam_dedup_flush(w->d, 1000 + i, err, sizeof(err))) != 0) {
                        fprintf(stderr, "flush: %s\n", err);
                        return NULL;
                }
        }
        return NULL;
}

/* Business duplicates handled by several workers of one process: each key
 * is handled exactly once, whatever the interleaving with flushes. */
static void test_concurrent_claims(void)
{
        char *path = store_path("claims-mt.mdb");
        struct seam_dedup *d = open_store(path, 0, 0);
        pthread_t th[THREADS];
        struct worker w[THREADS];
        for (int i = 0; i < THREADS; i++) {
                w[i] = (struct worker){.d = d, .id = i};
                CHECK(pthread_create(&th[i], NULL, claim_worker, &w[i]) == 0);
        }
        int news = 0;
        for (int i = 0; i < THREADS; i++) {
                pthread_join(th[i], NULL);
                CHECK_EQ_INT(w[i].rc, 0);
                news += w[i].news;
        }
        CHECK_EQ_INT(news, CLAIM_KEYS);
        CHECK_EQ_INT(seam_dedup_flush(d, 9000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_pending(d), 0);
        CHECK_EQ_INT(seam_dedup_expire(d, INT64_MAX / 2, errbuf, sizeof(errbuf)), CLAIM_KEYS);
        seam_dedup_close(d);
        remove_store(path);
}

/* A full store is TRANSIENT (it passes once expiry frees space) and a
 * failed flush keeps its keys pending. */
static void test_store_full(void)
{
        char *path = store_path("full.mdb");
        struct seam_dedup *d = open_store(path, 1000, 256 * 1024);
        char buf[BATCH][48];
        const char *keys[BATCH];
        int rc = 0, batches = 0;
        while (rc == 0 && batches < 1000) {
                for (int i = 0; i < BATCH; i++) {
                        snprintf(buf[i], sizeof(buf[i]), "fill-%06d-%s", batches * BATCH + i,
                                 "padding-padding-padding");
                        keys[i] = buf[i];
                }
                rc = seam_dedup_mark(d, "g", keys, BATCH, 1000, errbuf, sizeof(errbuf));
                batches++;
        }
        CHECK_EQ_INT(rc, SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(errbuf, "is full");
        CHECK(batches > 2);
        /* The failed batch left nothing behind. */
        CHECK_EQ_INT(seen(d, "g", keys[0]), 0);

        /* Fill what room is left with single keys, then queue 200 keys:
         * flushing them needs more pages than the single key that failed. */
        for (int i = 0; rc == 0 || i == 0; i++) {
                char one[32];
                snprintf(one, sizeof(one), "top-%d", i);
                const char *k1[1] = {one};
                rc = seam_dedup_mark(d, "g", k1, 1, 1000, errbuf, sizeof(errbuf));
                CHECK(rc == 0 || rc == SEAM_ERR_TRANSIENT);
                CHECK(i < 100000);
        }
        char late[200][24];
        for (int i = 0; i < 200; i++) {
                snprintf(late[i], sizeof(late[i]), "late-%d", i);
                CHECK_EQ_INT(seam_dedup_claim(d, "g", late[i], errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
                CHECK_EQ_INT(seam_dedup_release(d, "g", late[i], 1), 0);
        }
        CHECK_EQ_INT(seam_dedup_flush(d, 3000, errbuf, sizeof(errbuf)), SEAM_ERR_TRANSIENT);
        CHECK_CONTAINS(errbuf, "is full");
        CHECK_EQ_INT(seam_dedup_pending(d), 200);
        CHECK_EQ_INT(seen(d, "g", late[0]), 0);
        /* Still duplicates for this process while they wait. */
        CHECK_EQ_INT(seam_dedup_claim(d, "g", late[7], errbuf, sizeof(errbuf)), SEAM_DEDUP_SEEN);
        /* Expiry frees the space; the flush then goes through. */
        long n = seam_dedup_expire(d, 2500, errbuf, sizeof(errbuf));
        CHECKF(n > 0, "expire: %ld %s", n, errbuf);
        rc = seam_dedup_flush(d, 3000, errbuf, sizeof(errbuf));
        CHECKF(rc == 0, "flush: %d %s", rc, errbuf);
        CHECK_EQ_INT(seam_dedup_pending(d), 0);
        CHECK_EQ_INT(seen(d, "g", late[0]), 1);
        CHECK_EQ_INT(seen(d, "g", late[199]), 1);
        for (int i = 0; i < BATCH; i++) {
                snprintf(buf[i], sizeof(buf[i]), "again-%d", i);
                keys[i] = buf[i];
        }
        CHECK_EQ_INT(seam_dedup_mark(d, "g", keys, BATCH, 4000, errbuf, sizeof(errbuf)), 0);
        seam_dedup_close(d);
        remove_store(path);
}

static int open_code(const char *path)
{
        struct seam_dedup_options o = {.type = SEAM_DEDUP_EMBEDDED, .path = path};
        struct seam_dedup *d = NULL;
        int rc = seam_dedup_open(&o, &d, errbuf, sizeof(errbuf));
        if (rc == 0)
                seam_dedup_close(d);
        return rc;
}

static void test_bad_paths(void)
{
        char missing[600];
        snprintf(missing, sizeof(missing), "%s/no-such-dir/d.mdb", dir);
        CHECK_EQ_INT(open_code(missing), SEAM_ERR_IO);
        CHECK_CONTAINS(errbuf, missing);
        CHECK_CONTAINS(errbuf, "must exist and be writable");

        char *ro = store_path("readonly");
        CHECK(mkdir(ro, 0555) == 0);
        char inside[600];
        snprintf(inside, sizeof(inside), "%s/d.mdb", ro);
        if (geteuid() != 0) {
                CHECK_EQ_INT(open_code(inside), SEAM_ERR_IO);
                CHECK_CONTAINS(errbuf, inside);
                CHECK_CONTAINS(errbuf, "Permission denied");
        } else {
                /* root writes anywhere: try as nobody in a child. */
                CHECK(chmod(dir, 0755) == 0);
                int fds[2];
                CHECK(pipe(fds) == 0);
                pid_t pid = fork();
                CHECK(pid >= 0);
                if (pid == 0) {
                        close(fds[0]);
                        if (setgid(65534) != 0 || setuid(65534) != 0)
                                _exit(10);
                        int rc = open_code(inside);
                        if (write(fds[1], errbuf, strlen(errbuf) + 1) < 0)
                                _exit(11);
                        _exit(rc == SEAM_ERR_IO ? 0 : 12);
                }
                close(fds[1]);
                char msg[512] = {0};
                ssize_t got = read(fds[0], msg, sizeof(msg) - 1);
                close(fds[0]);
                int status = 0;
                CHECK(waitpid(pid, &status, 0) == pid);
                CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                       "child status %d, message \"%s\"", status, msg);
                CHECK(got > 0);
                CHECK_CONTAINS(msg, inside);
                CHECK_CONTAINS(msg, "Permission denied");
                CHECK_CONTAINS(msg, "must exist and be writable");
        }
        rmdir(ro);

        struct seam_dedup_options o = {.type = SEAM_DEDUP_EMBEDDED};
        struct seam_dedup *d = NULL;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        o.path = store_path("x.mdb");
        o.retention_ms = -1;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        o.retention_ms = 0;
        o.table = "bad name";
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        o.table = "x.by_time"; /* would share x's expiry index */
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        o.type = 9;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK(d == NULL);
        seam_dedup_close(NULL);
}

int main(void)
{
        dir = tu_mkdtemp("seam-dedup");
        TEST_RUN(test_sha256);
        TEST_RUN(test_seen_mark);
        TEST_RUN(test_key_limits);
        TEST_RUN(test_expire);
        TEST_RUN(test_durable_across_crash);
        TEST_RUN(test_concurrent_marks);
        TEST_RUN(test_claims);
        TEST_RUN(test_claim_batch);
        TEST_RUN(test_concurrent_claims);
        TEST_RUN(test_store_full);
        TEST_RUN(test_bad_paths);
        rmdir(dir);
        free(dir);
        return 0;
}
