/* bench_dedup.c - dedup store throughput: the embedded store (LMDB) and,
 * with --pg-dsn, the PostgreSQL store, through the same seam_dedup calls the
 * host makes. Not a test: it prints numbers and asserts nothing about speed.
 *
 * For each store and key kind, on a fresh store per run:
 *   mark        N keys, seam_dedup_mark in batches of --batch (one durable
 *               transaction each)
 *   seen hit    N single seam_dedup_seen calls on marked keys, timed per
 *               --batch calls
 *   seen miss   the same on keys never marked
 *   seen batch  seam_dedup_seen_batch of --batch marked keys per call
 *   pipeline    what one worker does per message: claim (NEW), release as
 *               handled, and a flush every --batch messages
 *   pipe batch  the same with one seam_dedup_claim_batch per --batch
 *               messages instead of a claim each (on a third key set)
 * Printed: keys/s (median of the runs) and p50/p99 latency of one batch
 * (over all batches of all runs).
 *
 * Key kinds: seq is the default idempotency key, "topic/partition/offset",
 * ascending per partition; uuid is a random 36-character business key (an
 * event id), which spreads writes over the whole index.
 *
 *   bench_dedup [--keys N] [--batch B] [--runs R] [--kind seq|uuid|both]
 *               [--dir DIR] [--pg-dsn DSN] [--no-embedded]
 *
 * The PostgreSQL store uses the table seam_bench_dedup (created if needed,
 * emptied by expiry at the end). A throwaway server:
 *   bash tests/e2e/lib/postgres.sh start /tmp/pgbench   # prints the DSN
 *   bash tests/e2e/lib/postgres.sh stop /tmp/pgbench
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dedup.h"
#include "err.h"
#include "testutil.h"

enum phase { MARK, SEEN_HIT, SEEN_MISS, SEEN_BATCH, PIPELINE, PIPELINE_BATCH, PHASES };

static const char *const phase_names[PHASES] = {
        "mark", "seen hit", "seen miss", "seen batch", "pipeline", "pipe batch"};

struct opts {
        long keys;
        int batch;
        int runs;
        int seq;
        int uuid;
        int embedded;
        const char *dir;
        const char *pg_dsn;
};

struct samples {
        int64_t *ns;
        size_t n, cap;
        double rate[16]; /* keys/s per run */
        int runs;
};

static char err[1024];

static void die(const char *what, int rc)
{
        fprintf(stderr, "bench_dedup: %s: %s (%s)\n", what, err, seam_err_str(rc));
        exit(1);
}

static void add_sample(struct samples *s, int64_t ns)
{
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 1024;
                s->ns = realloc(s->ns, s->cap * sizeof(*s->ns));
                if (!s->ns) {
                        perror("realloc");
                        exit(1);
                }
        }
        s->ns[s->n++] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* N keys of one kind; `salt` keeps runs and the miss set apart. */
static char **make_keys(long n, int uuid, int salt)
{
        char **k = malloc((size_t)n * sizeof(*k));
        char *buf = malloc((size_t)n * 40);
        if (!k || !buf) {
                perror("malloc");
                exit(1);
        }
        rng_state = 0x9E3779B97F4A7C15ULL * (uint64_t)(salt + 1);
        for (long i = 0; i < n; i++) {
                k[i] = buf + i * 40;
                if (uuid) {
                        uint64_t a = rng(), b = rng();
                        snprintf(k[i], 40, "%08x-%04x-4%03x-%04x-%012llx",
                                 (unsigned)a, (unsigned)(a >> 32) & 0xffff,
                                 (unsigned)(a >> 48) & 0xfff,
                                 (unsigned)b & 0xffff,
                                 (unsigned long long)(b >> 16) & 0xffffffffffffULL);
                } else {
                        snprintf(k[i], 40, "orders/%ld/%ld", i % 8,
                                 (long)salt * 100000000L + i / 8);
                }
        }
        return k;
}

static void free_keys(char **k)
{
        free(k[0]);
        free(k);
}

static void run_once(struct seam_dedup *d, const char *scope, char **keys,
                     char **miss, char **fresh, const struct opts *o,
                     int64_t now, struct samples *s)
{
        long n = o->keys;
        int b = o->batch;
        unsigned char *seen = malloc((size_t)b);
        int64_t t0, t1, total[PHASES] = {0};
        int rc;

        for (long i = 0; i < n; i += b) {
                int m = (int)(i + b <= n ? b : n - i);
                t0 = seam_mono_ns();
                /* Time moves on between batches, as in a consumer: the
                 * expiry index then grows at its end. */
                rc = seam_dedup_mark(d, scope, (const char *const *)keys + i,
                                     (size_t)m, now + i / b, err, sizeof(err));
                t1 = seam_mono_ns();
                if (rc != 0)
                        die("mark", rc);
                add_sample(&s[MARK], t1 - t0);
                total[MARK] += t1 - t0;
        }
        for (int ph = SEEN_HIT; ph <= SEEN_MISS; ph++) {
                char **set = ph == SEEN_HIT ? keys : miss;
                for (long i = 0; i < n; i += b) {
                        int m = (int)(i + b <= n ? b : n - i);
                        t0 = seam_mono_ns();
                        for (int j = 0; j < m; j++) {
                                rc = seam_dedup_seen(d, scope, set[i + j], err,
                                                     sizeof(err));
                                if (rc != (ph == SEEN_HIT))
                                        die(ph == SEEN_HIT ? "seen (hit)" : "seen (miss)",
                                            rc < 0 ? rc : SEAM_ERR_INVALID);
                        }
                        t1 = seam_mono_ns();
                        add_sample(&s[ph], t1 - t0);
                        total[ph] += t1 - t0;
                }
        }
        for (long i = 0; i < n; i += b) {
                int m = (int)(i + b <= n ? b : n - i);
                t0 = seam_mono_ns();
                rc = seam_dedup_seen_batch(d, scope, (const char *const *)keys + i,
                                           (size_t)m, seen, err, sizeof(err));
                t1 = seam_mono_ns();
                if (rc != 0)
                        die("seen_batch", rc);
                for (int j = 0; j < m; j++)
                        if (!seen[j])
                                die("seen_batch missed a marked key", SEAM_ERR_INVALID);
                add_sample(&s[SEEN_BATCH], t1 - t0);
                total[SEEN_BATCH] += t1 - t0;
        }
        /* The miss keys are new: claim, "handle", release, flush. */
        for (long i = 0; i < n; i += b) {
                int m = (int)(i + b <= n ? b : n - i);
                t0 = seam_mono_ns();
                for (int j = 0; j < m; j++) {
                        rc = seam_dedup_claim(d, scope, miss[i + j], err, sizeof(err));
                        if (rc != SEAM_DEDUP_NEW)
                                die("claim", rc < 0 ? rc : SEAM_ERR_INVALID);
                        seam_dedup_release(d, scope, miss[i + j], 1);
                }
                rc = seam_dedup_flush(d, now + i / b, err, sizeof(err));
                t1 = seam_mono_ns();
                if (rc != 0)
                        die("flush", rc);
                add_sample(&s[PIPELINE], t1 - t0);
                total[PIPELINE] += t1 - t0;
        }
        int *claims = malloc((size_t)b * sizeof(*claims));
        for (long i = 0; i < n; i += b) {
                int m = (int)(i + b <= n ? b : n - i);
                t0 = seam_mono_ns();
                rc = seam_dedup_claim_batch(d, scope, (const char *const *)fresh + i,
                                            (size_t)m, claims, err, sizeof(err));
                if (rc != 0)
                        die("claim_batch", rc);
                for (int j = 0; j < m; j++) {
                        if (claims[j] != SEAM_DEDUP_NEW)
                                die("claim_batch: not new", SEAM_ERR_INVALID);
                        seam_dedup_release(d, scope, fresh[i + j], 1);
                }
                rc = seam_dedup_flush(d, now + i / b, err, sizeof(err));
                t1 = seam_mono_ns();
                if (rc != 0)
                        die("flush", rc);
                add_sample(&s[PIPELINE_BATCH], t1 - t0);
                total[PIPELINE_BATCH] += t1 - t0;
        }
        free(claims);
        for (int ph = 0; ph < PHASES; ph++)
                s[ph].rate[s[ph].runs++] = (double)n / ((double)total[ph] / 1e9);
        free(seen);
}

static void report(const char *store, const char *kind, struct samples *s)
{
        for (int ph = 0; ph < PHASES; ph++) {
                qsort(s[ph].ns, s[ph].n, sizeof(int64_t), cmp_i64);
                qsort(s[ph].rate, (size_t)s[ph].runs, sizeof(double), cmp_double);
                double p50 = (double)s[ph].ns[s[ph].n / 2] / 1e6;
                double p99 = (double)s[ph].ns[(s[ph].n * 99) / 100] / 1e6;
                printf("%-9s %-5s %-11s %11.0f keys/s   batch p50 %8.2f ms   p99 %8.2f ms   runs:",
                       store, kind, phase_names[ph], s[ph].rate[s[ph].runs / 2], p50, p99);
                for (int r = 0; r < s[ph].runs; r++)
                        printf(" %.0fk", s[ph].rate[r] / 1000);
                printf("\n");
                free(s[ph].ns);
        }
        fflush(stdout);
}

static void bench_embedded(const struct opts *o, int uuid)
{
        struct samples s[PHASES];
        memset(s, 0, sizeof(s));
        char *dir = o->dir ? strdup(o->dir) : tu_mkdtemp("seam-bench-dedup");
        for (int r = 0; r < o->runs; r++) {
                char path[1024], lock[1100];
                snprintf(path, sizeof(path), "%s/bench-%d-%d.mdb", dir, (int)getpid(), r);
                snprintf(lock, sizeof(lock), "%s-lock", path);
                struct seam_dedup_options opts = {.type = SEAM_DEDUP_EMBEDDED, .path = path};
                struct seam_dedup *d;
                int rc = seam_dedup_open(&opts, &d, err, sizeof(err));
                if (rc != 0)
                        die("open embedded", rc);
                char **keys = make_keys(o->keys, uuid, 3 * r);
                char **miss = make_keys(o->keys, uuid, 3 * r + 1);
                char **fresh = make_keys(o->keys, uuid, 3 * r + 2);
                run_once(d, "bench", keys, miss, fresh, o, 1000, s);
                seam_dedup_close(d);
                unlink(path);
                unlink(lock);
                free_keys(keys);
                free_keys(miss);
                free_keys(fresh);
        }
        if (!o->dir)
                rmdir(dir);
        free(dir);
        report("embedded", uuid ? "uuid" : "seq", s);
}

static void bench_pg(const struct opts *o, int uuid)
{
        struct samples s[PHASES];
        memset(s, 0, sizeof(s));
        struct seam_dedup_options opts = {.type = SEAM_DEDUP_POSTGRES,
                                          .dsn = o->pg_dsn,
                                          .table = "seam_bench_dedup"};
        struct seam_dedup *d;
        int rc = seam_dedup_open(&opts, &d, err, sizeof(err));
        if (rc != 0)
                die("open postgres", rc);
        /* Start from an empty table: leftovers of an interrupted run. */
        if (seam_dedup_expire(d, INT64_MAX / 2, err, sizeof(err)) < 0)
                die("expire", SEAM_ERR_TRANSIENT);
        for (int r = 0; r < o->runs; r++) {
                char scope[64];
                snprintf(scope, sizeof(scope), "bench-%d-%d", (int)getpid(), r);
                char **keys = make_keys(o->keys, uuid, 3 * r);
                char **miss = make_keys(o->keys, uuid, 3 * r + 1);
                char **fresh = make_keys(o->keys, uuid, 3 * r + 2);
                run_once(d, scope, keys, miss, fresh, o, 1000, s);
                free_keys(keys);
                free_keys(miss);
                free_keys(fresh);
        }
        long gone = seam_dedup_expire(d, INT64_MAX / 2, err, sizeof(err));
        if (gone < 0)
                die("expire", (int)gone);
        seam_dedup_close(d);
        report("postgres", uuid ? "uuid" : "seq", s);
}

static void usage(void)
{
        fprintf(stderr,
                "usage: bench_dedup [--keys N] [--batch B] [--runs R] [--kind seq|uuid|both]\n"
                "                   [--dir DIR] [--pg-dsn DSN] [--no-embedded]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        struct opts o = {.keys = 100000, .batch = 500, .runs = 3, .seq = 1,
                         .uuid = 1, .embedded = 1};
        static const struct option lo[] = {
                {"keys", required_argument, NULL, 'n'},
                {"batch", required_argument, NULL, 'b'},
                {"runs", required_argument, NULL, 'r'},
                {"kind", required_argument, NULL, 'k'},
                {"dir", required_argument, NULL, 'd'},
                {"pg-dsn", required_argument, NULL, 'p'},
                {"no-embedded", no_argument, NULL, 'E'},
                {NULL, 0, NULL, 0}};
        int c;
        while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                switch (c) {
                case 'n': o.keys = strtol(optarg, NULL, 10); break;
                case 'b': o.batch = (int)strtol(optarg, NULL, 10); break;
                case 'r': o.runs = (int)strtol(optarg, NULL, 10); break;
                case 'k':
                        o.seq = !strcmp(optarg, "seq") || !strcmp(optarg, "both");
                        o.uuid = !strcmp(optarg, "uuid") || !strcmp(optarg, "both");
                        if (!o.seq && !o.uuid)
                                usage();
                        break;
                case 'd': o.dir = optarg; break;
                case 'p': o.pg_dsn = optarg; break;
                case 'E': o.embedded = 0; break;
                default: usage();
                }
        }
        if (o.keys < 1 || o.batch < 1 || o.runs < 1 || o.runs > 16)
                usage();

        double load[3] = {0};
        FILE *f = fopen("/proc/loadavg", "r");
        if (f) {
                if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
                        load[0] = -1;
                fclose(f);
        }
        printf("bench_dedup: %ld keys, batches of %d, %d runs, %ld CPUs, load %.2f\n",
               o.keys, o.batch, o.runs, sysconf(_SC_NPROCESSORS_ONLN), load[0]);
        printf("  embedded: LMDB, synced commits; postgres: %s\n",
               o.pg_dsn ? "one connection per call, synchronous_commit as the server has it"
                        : "skipped (no --pg-dsn)");
        for (int kind = 0; kind < 2; kind++) {
                if ((kind == 0 && !o.seq) || (kind == 1 && !o.uuid))
                        continue;
                if (o.embedded)
                        bench_embedded(&o, kind);
                if (o.pg_dsn)
                        bench_pg(&o, kind);
        }
        return 0;
}
