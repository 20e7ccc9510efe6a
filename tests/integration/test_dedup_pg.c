/* test_dedup_pg.c - the PostgreSQL dedup store and the transactional inbox
 * against a real PostgreSQL server, which this test starts itself with
 * tests/e2e/lib/postgres.sh on 127.0.0.1 (and fails, never skips, if it
 * cannot): two "pods" (store handles) sharing a table, inbox semantics and
 * error classes, the race the inbox closes, offsets, and the server
 * restarting or going away under open handles. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "dedup.h"
#include "err.h"
#include "inbox.h"
#include "pgbed.h"
#include "testutil.h"

static const char *dsn;
static char errbuf[1024];

/* ---- helpers ---- */

static struct seam_dedup *open_pg(const char *table, int64_t retention,
                                  int pool)
{
        struct seam_dedup_options o = {.type = SEAM_DEDUP_POSTGRES,
                                       .dsn = dsn,
                                       .table = table,
                                       .retention_ms = retention,
                                       .pool_size = pool};
        struct seam_dedup *d = NULL;
        int rc = seam_dedup_open(&o, &d, errbuf, sizeof(errbuf));
        CHECKF(rc == 0, "open: %d %s", rc, errbuf);
        return d;
}

static int seen(struct seam_dedup *d, const char *scope, const char *key)
{
        int rc = seam_dedup_seen(d, scope, key, errbuf, sizeof(errbuf));
        CHECKF(rc == 0 || rc == 1, "seen %s: %d %s", key, rc, errbuf);
        return rc;
}

static void mark1(struct seam_dedup *d, const char *scope, const char *key,
                  int64_t now)
{
        const char *k[1] = {key};
        int rc = seam_dedup_mark(d, scope, k, 1, now, errbuf, sizeof(errbuf));
        CHECKF(rc == 0, "mark %s: %d %s", key, rc, errbuf);
}

static struct seam_inbox_tx *begin_new(struct seam_dedup *d, const char *scope,
                                       const char *key)
{
        struct seam_inbox_tx *tx = NULL;
        int dup = -1;
        int rc = seam_inbox_begin(d, scope, key, 1000, &tx, &dup, errbuf,
                                  sizeof(errbuf));
        CHECKF(rc == 0, "begin %s: %d %s", key, rc, errbuf);
        CHECKF(dup == 0 && tx, "begin %s: duplicate", key);
        return tx;
}

static int is_duplicate(struct seam_dedup *d, const char *scope,
                        const char *key)
{
        struct seam_inbox_tx *tx = NULL;
        int dup = -1;
        int rc = seam_inbox_begin(d, scope, key, 1000, &tx, &dup, errbuf,
                                  sizeof(errbuf));
        CHECKF(rc == 0, "begin %s: %d %s", key, rc, errbuf);
        if (!dup) {
                CHECK(tx != NULL);
                seam_inbox_rollback(tx);
        } else {
                CHECK(tx == NULL);
        }
        return dup;
}

static void exec_ok(struct seam_inbox_tx *tx, const char *sql, int n,
                    const char *const *params)
{
        long rows = -1;
        int rc = seam_inbox_exec(tx, sql, n, params, &rows, errbuf,
                                 sizeof(errbuf));
        CHECKF(rc == 0, "exec %s: %d %s", sql, rc, errbuf);
}

/* One value through a throwaway inbox transaction (rolled back). */
static long long query_ll(struct seam_dedup *d, const char *sql)
{
        static int probe;
        char key[64], out[64];
        snprintf(key, sizeof(key), "probe-%d", probe++);
        struct seam_inbox_tx *tx = begin_new(d, "probe", key);
        int found = 0;
        int rc = seam_inbox_query_value(tx, sql, 0, NULL, out, sizeof(out),
                                        &found, errbuf, sizeof(errbuf));
        CHECKF(rc == 0 && found, "query %s: %d %s", sql, rc, errbuf);
        seam_inbox_rollback(tx);
        return strtoll(out, NULL, 10);
}

/* ---- tests ---- */

struct opener {
        const char *table;
        struct seam_dedup *d;
        int rc;
        char err[512];
};

static void *open_thread(void *arg)
{
        struct opener *o = arg;
        struct seam_dedup_options opts = {.type = SEAM_DEDUP_POSTGRES,
                                          .dsn = dsn,
                                          .table = o->table,
                                          .retention_ms = 2000};
        o->rc = seam_dedup_open(&opts, &o->d, o->err, sizeof(o->err));
        return NULL;
}

static struct seam_dedup *pod_a, *pod_b;

/* Two pods starting at once both create the tables. */
static void test_two_pods_open(void)
{
        pthread_t th[2];
        struct opener o[2] = {{.table = "pods"}, {.table = "pods"}};
        for (int i = 0; i < 2; i++)
                CHECK(pthread_create(&th[i], NULL, open_thread, &o[i]) == 0);
        for (int i = 0; i < 2; i++) {
                pthread_join(th[i], NULL);
                CHECKF(o[i].rc == 0, "pod %d: %d %s", i, o[i].rc, o[i].err);
        }
        pod_a = o[0].d;
        pod_b = o[1].d;
        CHECK_EQ_INT(seam_dedup_get_type(pod_a), SEAM_DEDUP_POSTGRES);
}

static void test_seen_mark(void)
{
        CHECK_EQ_INT(seen(pod_b, "g1", "orders/0/1"), 0);
        const char *keys[] = {"orders/0/2", "orders/0/1", "evt-\xff\xfe-not-utf8",
                              "orders/0/1"};
        CHECK_EQ_INT(seam_dedup_mark(pod_a, "g1", keys, 4, 1000, errbuf, sizeof(errbuf)), 0);
        /* The other pod sees what this one marked. */
        CHECK_EQ_INT(seen(pod_b, "g1", "orders/0/1"), 1);
        CHECK_EQ_INT(seen(pod_b, "g1", "orders/0/2"), 1);
        CHECK_EQ_INT(seen(pod_b, "g1", "evt-\xff\xfe-not-utf8"), 1);
        CHECK_EQ_INT(seen(pod_b, "g1", "orders/0/3"), 0);
        CHECK_EQ_INT(seen(pod_b, "g2", "orders/0/1"), 0);
        CHECK_EQ_INT(seam_dedup_mark(pod_b, "g1", keys, 4, 1500, errbuf, sizeof(errbuf)), 0);

        const char *probe[] = {"orders/0/3", "orders/0/2", "nope", "orders/0/1"};
        unsigned char s[4];
        memset(s, 9, sizeof(s));
        CHECK_EQ_INT(seam_dedup_seen_batch(pod_a, "g1", probe, 4, s, errbuf, sizeof(errbuf)), 0);
        CHECK(s[0] == 0 && s[1] == 1 && s[2] == 0 && s[3] == 1);

        char key[SEAM_DEDUP_MAX_KEY + 2];
        memset(key, 'k', sizeof(key));
        key[SEAM_DEDUP_MAX_KEY] = '\0';
        mark1(pod_a, "g1", key, 1000);
        CHECK_EQ_INT(seen(pod_b, "g1", key), 1);
        key[SEAM_DEDUP_MAX_KEY - 1] = 'x';
        CHECK_EQ_INT(seen(pod_b, "g1", key), 0);
        key[SEAM_DEDUP_MAX_KEY] = 'k';
        key[SEAM_DEDUP_MAX_KEY + 1] = '\0';
        const char *one[1] = {key};
        CHECK_EQ_INT(seam_dedup_mark(pod_a, "g1", one, 1, 1, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_dedup_seen(pod_a, "g1", key, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);

        /* Claims across the pods: pod A's pending key is a duplicate for A
         * at once, for B once flushed. */
        CHECK_EQ_INT(seam_dedup_claim(pod_a, "g1", "claimed", errbuf, sizeof(errbuf)), SEAM_DEDUP_NEW);
        CHECK_EQ_INT(seam_dedup_release(pod_a, "g1", "claimed", 1), 0);
        CHECK_EQ_INT(seam_dedup_claim(pod_a, "g1", "claimed", errbuf, sizeof(errbuf)), SEAM_DEDUP_SEEN);
        CHECK_EQ_INT(seen(pod_b, "g1", "claimed"), 0);
        CHECK_EQ_INT(seam_dedup_flush(pod_a, 1000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_claim(pod_b, "g1", "claimed", errbuf, sizeof(errbuf)), SEAM_DEDUP_SEEN);
        const char *batch[] = {"claimed", "fresh", "orders/0/2", "fresh"};
        int out[4];
        CHECK_EQ_INT(seam_dedup_claim_batch(pod_b, "g1", batch, 4, out, errbuf, sizeof(errbuf)), 0);
        CHECK(out[0] == SEAM_DEDUP_SEEN && out[1] == SEAM_DEDUP_NEW &&
              out[2] == SEAM_DEDUP_SEEN && out[3] == SEAM_DEDUP_BUSY);
        CHECK_EQ_INT(seam_dedup_release(pod_b, "g1", "fresh", 0), 0);
}

static void test_expire(void)
{
        struct seam_dedup *d = open_pg("expiry", 2000, 0);
        enum { OLD = 23000 }; /* more than two expiry chunks */
        const char **keys = malloc(OLD * sizeof(*keys));
        char (*buf)[24] = malloc(OLD * sizeof(*buf));
        for (int i = 0; i < OLD; i++) {
                snprintf(buf[i], 24, "old/%d", i);
                keys[i] = buf[i];
        }
        CHECK_EQ_INT(seam_dedup_mark(d, "g", keys, OLD, 1000, errbuf, sizeof(errbuf)), 0);
        mark1(d, "g", "new", 5000);
        mark1(d, "g", "old/3", 5000); /* keeps its first time */
        CHECK_EQ_INT(seam_dedup_expire(d, 2999, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_expire(d, 6000, errbuf, sizeof(errbuf)), OLD);
        CHECK_EQ_INT(seen(d, "g", "old/3"), 0);
        CHECK_EQ_INT(seen(d, "g", "old/22999"), 0);
        CHECK_EQ_INT(seen(d, "g", "new"), 1);
        CHECK_EQ_INT(seam_dedup_expire(d, 6000, errbuf, sizeof(errbuf)), 0);
        free(keys);
        free(buf);
        seam_dedup_close(d);
}

/* A lookup in a scope the table's statistics have not seen yet must still
 * probe the index on (scope, key). It once became an index scan on scope
 * alone with key as a join filter, reading the whole scope per lookup. The
 * plan is read on a pooled connection, where the store's statement is
 * prepared. */
static void test_seen_plan(void)
{
        struct seam_dedup *d = open_pg("plans", 0, 1);
        enum { N = 5000 };
        char (*buf)[24] = malloc(N * sizeof(*buf));
        const char **keys = malloc(N * sizeof(*keys));
        for (int i = 0; i < N; i++) {
                snprintf(buf[i], 24, "orders/%d/%d", i % 8, i / 8);
                keys[i] = buf[i];
        }
        CHECK_EQ_INT(seam_dedup_mark(d, "known-scope", keys, N, 1000, errbuf, sizeof(errbuf)), 0);
        struct seam_inbox_tx *tx = begin_new(d, "probe", "analyze");
        exec_ok(tx, "ANALYZE plans", 0, NULL);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_dedup_mark(d, "new-scope", keys, N, 1000, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seen(d, "new-scope", "orders/3/100"), 1);

        static const char *const modes[] = {"force_custom_plan", "force_generic_plan"};
        for (int m = 0; m < 2; m++) {
                char sql[128], plan[8192];
                int found = 0;
                tx = begin_new(d, "probe", modes[m]);
                snprintf(sql, sizeof(sql), "SET LOCAL plan_cache_mode = %s", modes[m]);
                exec_ok(tx, sql, 0, NULL);
                int rc = seam_inbox_query_value(
                    tx,
                    "EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) EXECUTE "
                    "seam_seen('new-scope', ARRAY['orders/3/100'::bytea])",
                    0, NULL, plan, sizeof(plan), &found, errbuf, sizeof(errbuf));
                CHECKF(rc == 0 && found, "explain: %d %s", rc, errbuf);
                seam_inbox_rollback(tx);
                CHECKF(strstr(plan, "Join Filter") == NULL,
                       "%s: the lookup filters rows instead of probing (scope, key):\n%s",
                       modes[m], plan);
                CHECKF(strstr(plan, "\"Index Cond\": \"((scope = ") &&
                       strstr(plan, "AND (key = u.k))\""),
                       "%s: key is not an index condition:\n%s", modes[m], plan);
        }
        free(buf);
        free(keys);
        seam_dedup_close(d);
}

struct marker {
        struct seam_dedup *d;
        int id;
        int rc;
};

enum { THREADS = 4, PER_THREAD = 2000, BATCH = 250 };

/* Overlapping batches from several threads and both pods: sorted inserts
 * keep them from deadlocking. */
static void *mark_thread(void *arg)
{
        struct marker *m = arg;
        char err[512];
        char buf[BATCH][32];
        const char *keys[BATCH];
        for (int base = 0; base < PER_THREAD; base += BATCH) {
                for (int i = 0; i < BATCH; i++) {
                        int n = base + i;
                        /* Descending for odd threads: opposite orders. */
                        if (n < 500)
                                snprintf(buf[i], 32, "shared/%d",
                                         m->id % 2 ? 499 - n : n);
                        else
                                snprintf(buf[i], 32, "t%d/%d", m->id, n);
                        keys[i] = buf[i];
                }
                int rc = seam_dedup_mark(m->d, "g", keys, BATCH, 1000, err, sizeof(err));
                if (rc != 0) {
                        fprintf(stderr, "thread %d: %d %s\n", m->id, rc, err);
                        m->rc = rc;
                        return NULL;
                }
        }
        return NULL;
}

static void test_concurrent_marks(void)
{
        /* A pool of 2 for 2 threads per pod: calls also wait for a
         * connection. */
        struct seam_dedup *a = open_pg("concurrent", 0, 1);
        struct seam_dedup *b = open_pg("concurrent", 0, 2);
        pthread_t th[THREADS];
        struct marker m[THREADS];
        for (int i = 0; i < THREADS; i++) {
                m[i] = (struct marker){.d = i < 2 ? a : b, .id = i};
                CHECK(pthread_create(&th[i], NULL, mark_thread, &m[i]) == 0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(th[i], NULL);
                CHECK_EQ_INT(m[i].rc, 0);
        }
        CHECK_EQ_INT(query_ll(a, "SELECT count(*) FROM concurrent WHERE scope = 'g'"),
                     THREADS * (PER_THREAD - 500) + 500);
        CHECK_EQ_INT(seen(b, "g", "t0/1999"), 1);
        CHECK_EQ_INT(seen(a, "g", "t3/500"), 1);
        seam_dedup_close(a);
        seam_dedup_close(b);
}

static void test_inbox(void)
{
        struct seam_inbox_tx *tx = begin_new(pod_a, "ledger", "pay-1");
        exec_ok(tx,
                "CREATE TABLE IF NOT EXISTS ledger (id text PRIMARY KEY,"
                " amount bigint NOT NULL CONSTRAINT amount_positive CHECK (amount > 0))",
                0, NULL);
        const char *p1[] = {"pay-1", "100"};
        long rows = -1;
        CHECK_EQ_INT(seam_inbox_exec(tx, "INSERT INTO ledger (id, amount) VALUES ($1, $2)",
                                     2, p1, &rows, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(rows, 1);
        char out[32];
        int found = -1;
        const char *q[] = {"pay-1"};
        CHECK_EQ_INT(seam_inbox_query_value(tx, "SELECT amount FROM ledger WHERE id = $1", 1, q,
                                            out, sizeof(out), &found, errbuf, sizeof(errbuf)), 0);
        CHECK(found == 1);
        CHECK_STR_EQ(out, "100");
        const char *q2[] = {"nope"};
        CHECK_EQ_INT(seam_inbox_query_value(tx, "SELECT amount FROM ledger WHERE id = $1", 1, q2,
                                            out, sizeof(out), &found, errbuf, sizeof(errbuf)), 0);
        CHECK(found == 0);
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "payments", 0, 11, errbuf, sizeof(errbuf)), 0);
        /* Not visible to the other pod before COMMIT. */
        CHECK_EQ_INT(seen(pod_b, "ledger", "pay-1"), 0);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seen(pod_b, "ledger", "pay-1"), 1);
        CHECK_EQ_INT(query_ll(pod_b, "SELECT count(*) FROM ledger"), 1);

        /* Redelivered, on either pod: duplicate, nothing happens. */
        CHECK_EQ_INT(is_duplicate(pod_a, "ledger", "pay-1"), 1);
        CHECK_EQ_INT(is_duplicate(pod_b, "ledger", "pay-1"), 1);
        /* A key recorded by mark() is a duplicate for the inbox too. */
        CHECK_EQ_INT(is_duplicate(pod_b, "g1", "orders/0/1"), 1);

        /* Rollback leaves nothing: no row, no key, no offset. */
        tx = begin_new(pod_b, "ledger", "pay-2");
        const char *p2[] = {"pay-2", "50"};
        exec_ok(tx, "INSERT INTO ledger (id, amount) VALUES ($1, $2)", 2, p2);
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "payments", 0, 12, errbuf, sizeof(errbuf)), 0);
        seam_inbox_rollback(tx);
        CHECK_EQ_INT(seen(pod_a, "ledger", "pay-2"), 0);
        CHECK_EQ_INT(query_ll(pod_a, "SELECT count(*) FROM ledger"), 1);
        CHECK_EQ_INT(query_ll(pod_a, "SELECT next_offset FROM seam_offsets"
                                     " WHERE group_id = 'ledger' AND partition = 0"), 11);
        CHECK_EQ_INT(is_duplicate(pod_a, "ledger", "pay-2"), 0);
        seam_inbox_rollback(NULL);
}

static void expect_poison(const char *key, const char *sql, int n,
                          const char *const *params, int code,
                          const char *sqlstate)
{
        struct seam_inbox_tx *tx = begin_new(pod_a, "ledger", key);
        int rc = seam_inbox_exec(tx, sql, n, params, NULL, errbuf, sizeof(errbuf));
        CHECKF(rc == code, "%s: %d, expected %d: %s", sql, rc, code, errbuf);
        CHECK_CONTAINS(errbuf, sqlstate);
        /* The transaction is failed: later calls repeat the error, commit
         * rolls back. */
        const char *p[] = {key, "1"};
        CHECK_EQ_INT(seam_inbox_exec(tx, "INSERT INTO ledger VALUES ($1, $2)", 2, p, NULL,
                                     errbuf, sizeof(errbuf)), code);
        CHECK_CONTAINS(errbuf, "already failed");
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), code);
        CHECK_EQ_INT(seen(pod_b, "ledger", key), 0);
}

static void test_inbox_errors(void)
{
        const char *neg[] = {"pay-3", "-5"};
        expect_poison("pay-3", "INSERT INTO ledger (id, amount) VALUES ($1, $2)", 2, neg,
                      SEAM_ERR_INVALID, "SQLSTATE 23514");
        CHECK_CONTAINS(errbuf, "amount_positive");
        /* Same payment id under another idempotency key: data conflict. */
        const char *again[] = {"pay-1", "7"};
        expect_poison("pay-1-copy", "INSERT INTO ledger (id, amount) VALUES ($1, $2)", 2, again,
                      SEAM_ERR_INVALID, "SQLSTATE 23505");
        const char *bad[] = {"pay-4", "abc"};
        expect_poison("pay-4", "INSERT INTO ledger (id, amount) VALUES ($1, $2)", 2, bad,
                      SEAM_ERR_INVALID, "SQLSTATE 22P02");
        /* The statement itself is wrong: every message would fail. */
        expect_poison("pay-5", "INSERT INTO ledgr (id) VALUES ('x')", 0, NULL,
                      SEAM_ERR_FATAL, "SQLSTATE 42P01");
        expect_poison("pay-6", "INSERTT 1", 0, NULL, SEAM_ERR_FATAL, "SQLSTATE 42601");

        /* COMMIT through exec would separate the effect from its key. */
        struct seam_inbox_tx *tx = begin_new(pod_a, "ledger", "pay-7");
        CHECK_EQ_INT(seam_inbox_exec(tx, "COMMIT", 0, NULL, NULL, errbuf, sizeof(errbuf)),
                     SEAM_ERR_FATAL);
        CHECK_CONTAINS(errbuf, "ended the inbox transaction");
        seam_inbox_rollback(tx);

        /* A value longer than the buffer. */
        tx = begin_new(pod_a, "ledger", "pay-8");
        char small[4];
        int found;
        CHECK_EQ_INT(seam_inbox_query_value(tx, "SELECT 'long value'", 0, NULL, small,
                                            sizeof(small), &found, errbuf, sizeof(errbuf)),
                     SEAM_ERR_INVALID);
        seam_inbox_rollback(tx);
        CHECK_EQ_INT(query_ll(pod_b, "SELECT count(*) FROM ledger"), 1);

        /* The inbox needs the postgres store. */
        char path[1200];
        snprintf(path, sizeof(path), "%s/embedded.mdb", pg_bed_dir());
        struct seam_dedup_options o = {.type = SEAM_DEDUP_EMBEDDED, .path = path};
        struct seam_dedup *e = NULL;
        CHECK_EQ_INT(seam_dedup_open(&o, &e, errbuf, sizeof(errbuf)), 0);
        int dup = 0;
        CHECK_EQ_INT(seam_inbox_begin(e, "g", "k", 1, &tx, &dup, errbuf, sizeof(errbuf)),
                     SEAM_ERR_INVALID);
        CHECK(tx == NULL);
        seam_dedup_close(e);
}

struct racer {
        const char *key;
        int rc;
        int dup;
        int done;
        char err[512];
        pthread_mutex_t mu;
};

static void *race_thread(void *arg)
{
        struct racer *r = arg;
        struct seam_inbox_tx *tx = NULL;
        int dup = -1;
        int rc = seam_inbox_begin(pod_b, "ledger", r->key, 1000, &tx, &dup, r->err,
                                  sizeof(r->err));
        if (rc == 0 && !dup) {
                const char *p[] = {r->key, "1"};
                rc = seam_inbox_exec(tx, "INSERT INTO ledger VALUES ($1, $2)", 2, p, NULL,
                                     r->err, sizeof(r->err));
                if (rc == 0)
                        rc = seam_inbox_commit(tx, r->err, sizeof(r->err));
                else
                        seam_inbox_rollback(tx);
        }
        pthread_mutex_lock(&r->mu);
        r->rc = rc;
        r->dup = dup;
        r->done = 1;
        pthread_mutex_unlock(&r->mu);
        return NULL;
}

static int lock_waiters(void *arg)
{
        (void)arg;
        return query_ll(pod_a, "SELECT count(*) FROM pg_stat_activity"
                               " WHERE wait_event_type = 'Lock'") == 1;
}

/* The same business key on two pods at the same time: pod B's begin waits
 * for pod A's transaction and then knows the outcome. */
static void race(const char *key, int a_commits)
{
        struct seam_inbox_tx *tx = begin_new(pod_a, "ledger", key);
        const char *p[] = {key, "1"};
        exec_ok(tx, "INSERT INTO ledger VALUES ($1, $2)", 2, p);
        struct racer r = {.key = key};
        pthread_mutex_init(&r.mu, NULL);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, race_thread, &r) == 0);
        CHECKF(tu_wait_for(lock_waiters, NULL, 10000), "pod B never waited on pod A's key");
        pthread_mutex_lock(&r.mu);
        CHECK(!r.done);
        pthread_mutex_unlock(&r.mu);
        if (a_commits)
                CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);
        else
                seam_inbox_rollback(tx);
        pthread_join(th, NULL);
        CHECKF(r.rc == 0, "pod B: %d %s", r.rc, r.err);
        /* Committed by A: B sees a duplicate. Rolled back: B applies it. */
        CHECK_EQ_INT(r.dup, a_commits ? 1 : 0);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM ledger WHERE id = '%s'", key);
        CHECK_EQ_INT(query_ll(pod_a, sql), 1);
        pthread_mutex_destroy(&r.mu);
}

static void test_inbox_race(void)
{
        race("race-commit", 1);
        race("race-rollback", 0);
}

struct offset_row {
        char topic[32];
        int32_t partition;
        int64_t next;
};

struct offsets {
        struct offset_row rows[8];
        int n;
};

static void collect(void *arg, const char *topic, int32_t partition, int64_t next)
{
        struct offsets *o = arg;
        CHECK(o->n < 8);
        snprintf(o->rows[o->n].topic, sizeof(o->rows[o->n].topic), "%s", topic);
        o->rows[o->n].partition = partition;
        o->rows[o->n].next = next;
        o->n++;
}

static void test_offsets(void)
{
        struct seam_inbox_tx *tx = begin_new(pod_b, "ledger", "pay-10");
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "payments", 1, 5, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "refunds", 0, 3000000000LL, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "other", "payments", 0, 99, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "payments", -1, 5, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);
        tx = begin_new(pod_a, "ledger", "pay-11");
        CHECK_EQ_INT(seam_inbox_store_offset(tx, "ledger", "payments", 0, 20, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);

        struct offsets o = {.n = 0};
        CHECK_EQ_INT(seam_inbox_load_offsets(pod_a, "ledger", collect, &o, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(o.n, 3);
        CHECK_STR_EQ(o.rows[0].topic, "payments");
        CHECK_EQ_INT(o.rows[0].partition, 0);
        CHECK_EQ_INT(o.rows[0].next, 20);
        CHECK_EQ_INT(o.rows[1].partition, 1);
        CHECK_EQ_INT(o.rows[1].next, 5);
        CHECK_STR_EQ(o.rows[2].topic, "refunds");
        CHECK_EQ_INT(o.rows[2].next, 3000000000LL);
        o.n = 0;
        CHECK_EQ_INT(seam_inbox_load_offsets(pod_b, "nobody", collect, &o, errbuf, sizeof(errbuf)), 0);
        CHECK_EQ_INT(o.n, 0);
}

/* The first call on a connection the restart killed fails TRANSIENT; the
 * next one reconnects. */
static void expect_transient_then_ok(struct seam_dedup *d, const char *key)
{
        int rc = seam_dedup_seen(d, "g1", key, errbuf, sizeof(errbuf));
        CHECKF(rc == SEAM_ERR_TRANSIENT, "seen after restart: %d %s", rc, errbuf);
        CHECK_EQ_INT(seen(d, "g1", key), 1);
}

static void test_restart(void)
{
        /* A transaction open across the restart is lost, and says so. */
        struct seam_inbox_tx *tx = begin_new(pod_b, "ledger", "pay-restart");
        const char *p[] = {"pay-restart", "1"};
        exec_ok(tx, "INSERT INTO ledger VALUES ($1, $2)", 2, p);

        int64_t t0 = seam_mono_ms();
        CHECK(pg_bed_run("restart") == 0);
        fprintf(stderr, "restart took %lld ms\n", (long long)(seam_mono_ms() - t0));

        CHECK_EQ_INT(seam_inbox_exec(tx, "SELECT 1", 0, NULL, NULL, errbuf, sizeof(errbuf)),
                     SEAM_ERR_TRANSIENT);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), SEAM_ERR_TRANSIENT);
        expect_transient_then_ok(pod_a, "orders/0/1");
        /* Marks made before the restart are still there (they were
         * committed), and marks work again. Pod B's first call succeeds:
         * its lost transaction already dropped its idle connections. */
        CHECK_EQ_INT(seen(pod_b, "g1", "orders/0/2"), 1);
        mark1(pod_b, "g1", "after-restart", 2000);
        CHECK_EQ_INT(seen(pod_a, "g1", "after-restart"), 1);
        CHECK_EQ_INT(seen(pod_a, "ledger", "pay-restart"), 0);
        /* Retried as a whole, the message goes through. */
        tx = begin_new(pod_b, "ledger", "pay-restart");
        exec_ok(tx, "INSERT INTO ledger VALUES ($1, $2)", 2, p);
        CHECK_EQ_INT(seam_inbox_commit(tx, errbuf, sizeof(errbuf)), 0);

        /* Server down: TRANSIENT at once (connection refused), no hang. */
        CHECK(pg_bed_run("stop") == 0);
        t0 = seam_mono_ms();
        int rc = seam_dedup_seen(pod_a, "g1", "orders/0/1", errbuf, sizeof(errbuf));
        CHECKF(rc == SEAM_ERR_TRANSIENT, "%d %s", rc, errbuf);
        rc = seam_dedup_seen(pod_a, "g1", "orders/0/1", errbuf, sizeof(errbuf));
        CHECKF(rc == SEAM_ERR_TRANSIENT, "%d %s", rc, errbuf);
        CHECK_CONTAINS(errbuf, "cannot connect");
        const char *k[1] = {"while-down"};
        CHECK_EQ_INT(seam_dedup_mark(pod_b, "g1", k, 1, 1, errbuf, sizeof(errbuf)), SEAM_ERR_TRANSIENT);
        struct seam_inbox_tx *t2 = NULL;
        int dup = -1;
        CHECK_EQ_INT(seam_inbox_begin(pod_b, "ledger", "x", 1, &t2, &dup, errbuf, sizeof(errbuf)),
                     SEAM_ERR_TRANSIENT);
        CHECK(t2 == NULL);
        CHECK(seam_mono_ms() - t0 < 10000);
        struct seam_dedup_options o = {.type = SEAM_DEDUP_POSTGRES, .dsn = dsn};
        struct seam_dedup *d = NULL;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_TRANSIENT);

        CHECK(pg_bed_run("start") == 0);
        CHECK_EQ_INT(seen(pod_a, "g1", "orders/0/1"), 1);
        mark1(pod_b, "g1", "while-down", 3000);
        CHECK_EQ_INT(is_duplicate(pod_a, "ledger", "pay-restart"), 1);
        CHECK_EQ_INT(query_ll(pod_a, "SELECT count(*) FROM ledger WHERE id = 'pay-restart'"), 1);
}

static void test_bad_options(void)
{
        struct seam_dedup_options o = {.type = SEAM_DEDUP_POSTGRES, .dsn = "host= = broken"};
        struct seam_dedup *d = NULL;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        CHECK_CONTAINS(errbuf, "invalid dsn");
        o.dsn = dsn;
        const char *bad[] = {"Upper", "1abc", "a.b.c", "x;drop", "", "a.", ".a"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                o.table = bad[i];
                CHECKF(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)) == SEAM_ERR_INVALID,
                       "table \"%s\"", bad[i]);
        }
        o.dsn = NULL;
        o.table = NULL;
        CHECK_EQ_INT(seam_dedup_open(&o, &d, errbuf, sizeof(errbuf)), SEAM_ERR_INVALID);
        /* A schema-qualified table puts seam_offsets in that schema. */
        struct seam_dedup *a = open_pg("public.qualified", 0, 0);
        CHECK_EQ_INT(query_ll(a, "SELECT count(*) FROM pg_tables WHERE tablename = 'qualified'"), 1);
        seam_dedup_close(a);
        CHECK(d == NULL);
}

int main(void)
{
        int64_t t0 = seam_mono_ms();
        dsn = pg_bed_start("seam-dedup-pg");
        TEST_RUN(test_two_pods_open);
        TEST_RUN(test_seen_mark);
        TEST_RUN(test_expire);
        TEST_RUN(test_seen_plan);
        TEST_RUN(test_concurrent_marks);
        TEST_RUN(test_inbox);
        TEST_RUN(test_inbox_errors);
        TEST_RUN(test_inbox_race);
        TEST_RUN(test_offsets);
        TEST_RUN(test_restart);
        TEST_RUN(test_bad_options);
        seam_dedup_close(pod_a);
        seam_dedup_close(pod_b);
        fprintf(stderr, "done in %lld ms\n", (long long)(seam_mono_ms() - t0));
        pg_bed_passed();
        return 0;
}
