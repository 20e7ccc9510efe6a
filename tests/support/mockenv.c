#define _GNU_SOURCE /* nftw's FTW_DEPTH, FTW_PHYS */
#include "mockenv.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "embedded.h"
#include "kafka_util.h"
#include "testutil.h"

#define MAX_SEAMS 16
#define MAX_GROUPS 8
/* Tail of each seam log printed when a test fails. */
#define DUMP_TAIL_BYTES 12000

struct me_seam {
        struct me_env *env;
        char *log_path;
        char *name;
        pid_t pid;
        int running;     /* not reaped yet */
        int status;      /* waitpid status once reaped */
        int expect_exit; /* waiting helpers tolerate its exit */
};

struct group_handle {
        char *group;
        rd_kafka_t *rk;
};

struct me_env {
        char *name;
        char *dir;
        struct seam_embedded *emb;
        rd_kafka_t *producer;
        struct group_handle groups[MAX_GROUPS];
        size_t group_count;
        struct me_seam seams[MAX_SEAMS];
        size_t seam_count;
        char **strings; /* owned by the env: me_strf and friends */
        size_t string_count, string_cap;
        int finished;
        int64_t started_ms;
};

/* The one env of this process, for the exit-time post-mortem. */
static struct me_env *current_env;

#define FAIL(...)                                                              \
        do {                                                                   \
                fprintf(stderr, "mockenv: FAIL: ");                            \
                fprintf(stderr, __VA_ARGS__);                                  \
                fputc('\n', stderr);                                           \
                exit(1);                                                       \
        } while (0)

static char *xstrdup(const char *s)
{
        char *d = strdup(s);
        if (!d)
                FAIL("out of memory");
        return d;
}

static const char *keep(struct me_env *env, char *s)
{
        if (env->string_count == env->string_cap) {
                size_t cap = env->string_cap ? env->string_cap * 2 : 32;
                char **n = realloc(env->strings, cap * sizeof(*n));
                if (!n)
                        FAIL("out of memory");
                env->strings = n;
                env->string_cap = cap;
        }
        env->strings[env->string_count++] = s;
        return s;
}

const char *me_strf(struct me_env *env, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                FAIL("out of memory");
        return keep(env, s);
}

const char *me_path(struct me_env *env, const char *name)
{
        return me_strf(env, "%s/%s", env->dir, name);
}

const char *me_dir(const struct me_env *env)
{
        return env->dir;
}

const char *me_bootstrap(const struct me_env *env)
{
        return env->emb ? seam_embedded_bootstraps(env->emb) : NULL;
}

rd_kafka_mock_cluster_t *me_mock(const struct me_env *env)
{
        return env->emb ? seam_embedded_cluster(env->emb) : NULL;
}

/* ---- children --------------------------------------------------------- */

static void reap(struct me_seam *s, int block)
{
        if (!s->running)
                return;
        int status;
        pid_t r = waitpid(s->pid, &status, block ? 0 : WNOHANG);
        if (r == s->pid) {
                s->running = 0;
                s->status = status;
        } else if (r < 0 && errno == ECHILD) {
                s->running = 0;
                s->status = 0;
        }
}

static int exit_code_of(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -1;
}

static void dump_log(const struct me_seam *s)
{
        size_t len = 0;
        char *log = tu_read_file(s->log_path, &len);
        fprintf(stderr, "----- %s (%s, %zu bytes)%s -----\n", s->name, s->log_path, len,
                len > DUMP_TAIL_BYTES ? ", tail" : "");
        if (log) {
                const char *from = log;
                if (len > DUMP_TAIL_BYTES) {
                        from = log + len - DUMP_TAIL_BYTES;
                        const char *nl = strchr(from, '\n');
                        if (nl)
                                from = nl + 1;
                }
                fputs(from, stderr);
                if (len && log[len - 1] != '\n')
                        fputc('\n', stderr);
        }
        fprintf(stderr, "----- end of %s -----\n", s->name);
        free(log);
}

/* A failed test: stop what is still running, show the logs, keep the dir. */
static void post_mortem(void)
{
        struct me_env *env = current_env;
        if (!env || env->finished)
                return;
        for (size_t i = 0; i < env->seam_count; i++) {
                struct me_seam *s = &env->seams[i];
                reap(s, 0);
                if (s->running) {
                        kill(s->pid, SIGKILL);
                        reap(s, 1);
                        fprintf(stderr, "mockenv: killed %s (pid %d), still running at exit\n",
                                s->name, (int)s->pid);
                }
        }
        for (size_t i = 0; i < env->seam_count; i++)
                dump_log(&env->seams[i]);
        fprintf(stderr, "mockenv: %s failed after %.1f s; files kept in %s\n", env->name,
                (double)(seam_mono_ms() - env->started_ms) / 1000.0, env->dir);
}

static const char *const sanitizer_marks[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
        "WARNING: ThreadSanitizer", NULL,
};

static void check_sanitizer(struct me_seam *s)
{
        char *log = tu_read_file(s->log_path, NULL);
        for (int i = 0; log && sanitizer_marks[i]; i++) {
                if (strstr(log, sanitizer_marks[i])) {
                        free(log);
                        FAIL("%s: sanitizer report in %s (\"%s\")", s->name, s->log_path,
                             sanitizer_marks[i]);
                }
        }
        free(log);
}

struct me_seam *me_seam_exec(struct me_env *env, const char *const *args, const char *log_name)
{
        if (env->seam_count == MAX_SEAMS)
                FAIL("too many seam processes in one test");
        struct me_seam *s = &env->seams[env->seam_count];
        memset(s, 0, sizeof(*s));
        s->env = env;
        s->name = xstrdup(log_name);
        s->log_path = xstrdup(me_path(env, log_name));
        const char *bin = tu_env("SEAM_BIN");
        char *argv[16];
        size_t n = 0;
        argv[n++] = (char *)bin;
        for (size_t i = 0; args[i]; i++) {
                if (n == sizeof(argv) / sizeof(argv[0]) - 1)
                        FAIL("too many arguments");
                argv[n++] = (char *)args[i];
        }
        argv[n] = NULL;
        s->pid = tu_spawn(argv, s->log_path);
        s->running = 1;
        env->seam_count++;
        fprintf(stderr, "mockenv: [%.1f s] started %s (pid %d): seam",
                (double)(seam_mono_ms() - env->started_ms) / 1000.0, log_name, (int)s->pid);
        for (size_t i = 0; args[i]; i++)
                fprintf(stderr, " %s", args[i]);
        fputc('\n', stderr);
        return s;
}

struct me_seam *me_seam_start(struct me_env *env, const char *cfg_path, const char *log_name)
{
        const char *args[] = {"run", "-c", cfg_path, NULL};
        return me_seam_exec(env, args, log_name);
}

int me_seam_run(struct me_env *env, const char *log_name, const char **output,
                const char *const *args)
{
        struct me_seam *s = me_seam_exec(env, args, log_name);
        me_seam_expect_exit(s);
        int code = me_seam_wait(s, 30000);
        if (code < 0)
                FAIL("%s still running after 30 s", log_name);
        if (output)
                *output = me_seam_log(s);
        return code;
}

void me_seam_expect_exit(struct me_seam *s)
{
        s->expect_exit = 1;
}

int me_seam_running(struct me_seam *s)
{
        reap(s, 0);
        return s->running;
}

void me_seam_signal(struct me_seam *s, int sig)
{
        reap(s, 0);
        if (!s->running)
                FAIL("%s: cannot send signal %d: it already exited with code %d", s->name, sig,
                     exit_code_of(s->status));
        s->expect_exit = 1;
        if (kill(s->pid, sig) < 0)
                FAIL("kill(%d, %d): %s", (int)s->pid, sig, strerror(errno));
}

int me_seam_wait(struct me_seam *s, int64_t timeout_ms)
{
        int64_t deadline = seam_mono_ms() + timeout_ms;
        for (;;) {
                reap(s, 0);
                if (!s->running)
                        break;
                if (seam_mono_ms() >= deadline)
                        return -1;
                seam_sleep_ms(20);
        }
        check_sanitizer(s);
        int code = exit_code_of(s->status);
        fprintf(stderr, "mockenv: [%.1f s] %s exited with code %d\n",
                (double)(seam_mono_ms() - s->env->started_ms) / 1000.0, s->name, code);
        return code;
}

int me_seam_stop(struct me_seam *s, int sig, int64_t timeout_ms, int64_t *elapsed_ms)
{
        int64_t t0 = seam_mono_ms();
        me_seam_signal(s, sig);
        int code = me_seam_wait(s, timeout_ms);
        int64_t took = seam_mono_ms() - t0;
        if (code < 0)
                FAIL("%s did not exit within %lld ms of signal %d", s->name,
                     (long long)timeout_ms, sig);
        if (elapsed_ms)
                *elapsed_ms = took;
        return code;
}

const char *me_seam_log_path(const struct me_seam *s)
{
        return s->log_path;
}

const char *me_seam_log(struct me_seam *s)
{
        char *log = tu_read_file(s->log_path, NULL);
        return keep(s->env, log ? log : xstrdup(""));
}

int me_seam_log_count(struct me_seam *s, const char *needle)
{
        char *log = tu_read_file(s->log_path, NULL);
        int n = 0;
        for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
                n++;
        free(log);
        return n;
}

/* ---- waiting ----------------------------------------------------------- */

struct guarded {
        struct me_env *env;
        int (*cond)(void *arg);
        void *arg;
        struct me_seam *died;
};

static int guarded_cond(void *arg)
{
        struct guarded *g = arg;
        for (size_t i = 0; i < g->env->seam_count; i++) {
                struct me_seam *s = &g->env->seams[i];
                if (!s->running)
                        continue;
                reap(s, 0);
                if (!s->running && !s->expect_exit) {
                        g->died = s;
                        return 1;
                }
        }
        return g->cond(g->arg);
}

void me_wait(struct me_env *env, const char *what, int (*cond)(void *arg), void *arg,
             int64_t timeout_ms)
{
        struct guarded g = {env, cond, arg, NULL};
        int64_t t0 = seam_mono_ms();
        int ok = tu_wait_for(guarded_cond, &g, timeout_ms);
        if (g.died) {
                check_sanitizer(g.died);
                FAIL("%s exited (code %d) while waiting for: %s", g.died->name,
                     exit_code_of(g.died->status), what);
        }
        if (!ok)
                FAIL("timed out after %lld ms waiting for: %s", (long long)timeout_ms, what);
        fprintf(stderr, "mockenv: [%.1f s] %s (%.1f s)\n",
                (double)(seam_mono_ms() - env->started_ms) / 1000.0, what,
                (double)(seam_mono_ms() - t0) / 1000.0);
}

int64_t me_count_lines(const char *path)
{
        FILE *f = fopen(path, "r");
        if (!f)
                return 0;
        char buf[65536];
        size_t n;
        int64_t lines = 0;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                for (size_t i = 0; i < n; i++)
                        lines += buf[i] == '\n';
        fclose(f);
        return lines;
}

struct lines_arg {
        const char *path;
        int64_t min;
};

static int lines_cond(void *arg)
{
        struct lines_arg *a = arg;
        return me_count_lines(a->path) >= a->min;
}

void me_wait_lines(struct me_env *env, const char *path, int64_t min_lines, int64_t timeout_ms)
{
        struct lines_arg a = {path, min_lines};
        const char *base = strrchr(path, '/');
        me_wait(env, me_strf(env, "%lld lines in %s", (long long)min_lines, base ? base + 1 : path),
                lines_cond, &a, timeout_ms);
}

struct committed_arg {
        struct me_env *env;
        const char *group, *topic;
        int n;
        const int64_t *want;
        int64_t last[64];
        int overshot;
};

static int committed_cond(void *arg)
{
        struct committed_arg *a = arg;
        if (me_committed(a->env, a->group, a->topic, a->n, a->last) < 0)
                return 0;
        for (int p = 0; p < a->n; p++) {
                /* Committed offsets never go down: past the target now means
                 * past it for good, no need to wait out the timeout. */
                if (a->last[p] > a->want[p]) {
                        a->overshot = 1;
                        return 1;
                }
        }
        for (int p = 0; p < a->n; p++)
                if (a->last[p] != a->want[p])
                        return 0;
        return 1;
}

static void format_offsets(char *buf, size_t size, const int64_t *v, int n)
{
        size_t used = 0;
        buf[0] = '\0';
        for (int p = 0; p < n && used < size; p++) {
                int w = snprintf(buf + used, size - used, "%s%lld", p ? "," : "",
                                 (long long)v[p]);
                if (w < 0)
                        break;
                used += (size_t)w;
        }
}

void me_wait_committed(struct me_env *env, const char *group, const char *topic, int n,
                       const int64_t *want, int64_t timeout_ms)
{
        struct committed_arg a = {env, group, topic, n, want, {0}, 0};
        char buf[512];
        CHECK(n <= 64);
        for (int p = 0; p < n; p++)
                a.last[p] = -2;
        format_offsets(buf, sizeof(buf), want, n);
        struct guarded g = {env, committed_cond, &a, NULL};
        int ok = tu_wait_for(guarded_cond, &g, timeout_ms);
        if (g.died) {
                check_sanitizer(g.died);
                FAIL("%s exited (code %d) while waiting for group %s to commit [%s]",
                     g.died->name, exit_code_of(g.died->status), group, buf);
        }
        if (a.overshot) {
                char last[512];
                format_offsets(last, sizeof(last), a.last, n);
                FAIL("group %s committed [%s] on %s, past the expected [%s]", group, last,
                     topic, buf);
        }
        if (!ok) {
                char last[512];
                format_offsets(last, sizeof(last), a.last, n);
                FAIL("timed out after %lld ms waiting for group %s to commit [%s] on %s; "
                     "last seen [%s]",
                     (long long)timeout_ms, group, buf, topic, last);
        }
        fprintf(stderr, "mockenv: [%.1f s] group %s committed [%s]\n",
                (double)(seam_mono_ms() - env->started_ms) / 1000.0, group, buf);
}

struct log_arg {
        struct me_seam *s;
        const char *needle;
};

static int log_cond(void *arg)
{
        struct log_arg *a = arg;
        return me_seam_log_count(a->s, a->needle) > 0;
}

void me_wait_log(struct me_env *env, struct me_seam *s, const char *needle, int64_t timeout_ms)
{
        struct log_arg a = {s, needle};
        me_wait(env, me_strf(env, "\"%s\" in %s", needle, s->name), log_cond, &a, timeout_ms);
}

static int never(void *arg)
{
        (void)arg;
        return 0;
}

void me_expect_not(struct me_env *env, const char *what, int (*cond)(void *arg), void *arg,
                   int64_t ms)
{
        struct guarded g = {env, cond, arg, NULL};
        int happened = tu_wait_for(guarded_cond, &g, ms);
        if (g.died) {
                check_sanitizer(g.died);
                FAIL("%s exited (code %d) during a %lld ms observation window", g.died->name,
                     exit_code_of(g.died->status), (long long)ms);
        }
        if (happened)
                FAIL("within %lld ms: %s", (long long)ms, what);
}

void me_expect_running_for(struct me_env *env, struct me_seam *s, int64_t ms)
{
        int saved = s->expect_exit;
        s->expect_exit = 0;
        me_expect_not(env, "(never)", never, NULL, ms);
        s->expect_exit = saved;
}

/* ---- broker ------------------------------------------------------------ */

struct me_env *me_env_new(const char *test_name, int broker)
{
        struct me_env *env = calloc(1, sizeof(*env));
        if (!env)
                FAIL("out of memory");
        if (current_env)
                FAIL("one me_env per test process");
        env->started_ms = seam_mono_ms();
        env->name = xstrdup(test_name);
        env->dir = tu_mkdtemp(test_name);
        current_env = env;
        atexit(post_mortem);
        /* A seam child killed while we write to it must not kill the test. */
        signal(SIGPIPE, SIG_IGN);
        if (broker) {
                char err[512];
                if (seam_embedded_start(broker, &env->emb, err, sizeof(err)) < 0)
                        FAIL("mock cluster: %s", err);
                env->producer = seam_kafka_tool_handle(RD_KAFKA_PRODUCER, me_bootstrap(env),
                                                       NULL, NULL, err, sizeof(err));
                if (!env->producer)
                        FAIL("producer: %s", err);
        }
        fprintf(stderr, "mockenv: %s: dir %s, broker %s\n", test_name, env->dir,
                broker ? me_bootstrap(env) : "(none)");
        return env;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

void me_env_finish(struct me_env *env)
{
        for (size_t i = 0; i < env->seam_count; i++) {
                struct me_seam *s = &env->seams[i];
                reap(s, 0);
                if (s->running)
                        FAIL("%s (pid %d) is still running at the end of the test", s->name,
                             (int)s->pid);
                check_sanitizer(s);
        }
        fprintf(stderr, "mockenv: %s passed in %.1f s\n", env->name,
                (double)(seam_mono_ms() - env->started_ms) / 1000.0);
        env->finished = 1;
        for (size_t i = 0; i < env->group_count; i++) {
                rd_kafka_destroy(env->groups[i].rk);
                free(env->groups[i].group);
        }
        if (env->producer)
                rd_kafka_destroy(env->producer);
        seam_embedded_stop(env->emb);
        for (size_t i = 0; i < env->seam_count; i++) {
                free(env->seams[i].name);
                free(env->seams[i].log_path);
        }
        for (size_t i = 0; i < env->string_count; i++)
                free(env->strings[i]);
        free(env->strings);
        if (!getenv("SEAM_TEST_KEEP"))
                nftw(env->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(env->dir);
        free(env->name);
        free(env);
        current_env = NULL;
}

void me_create_topic(struct me_env *env, const char *topic, int partitions)
{
        char err[512];
        if (seam_embedded_create_topic(env->emb, topic, partitions, err, sizeof(err)) < 0)
                FAIL("%s", err);
}

void me_high_watermarks(struct me_env *env, const char *topic, int n, int64_t *out)
{
        char err[512];
        if (seam_kafka_high_watermarks(env->producer, topic, n, out, 10000, err, sizeof(err)) <
            0)
                FAIL("%s", err);
}

void me_produce(struct me_env *env, const char *topic, int partition, int64_t count)
{
        int64_t lo, before, after;
        rd_kafka_resp_err_t rerr = rd_kafka_query_watermark_offsets(
            env->producer, topic, partition, &lo, &before, 10000);
        if (rerr)
                FAIL("watermarks of %s[%d]: %s", topic, partition, rd_kafka_err2str(rerr));
        for (int64_t i = 0; i < count; i++) {
                char key[64], value[96];
                int kl = snprintf(key, sizeof(key), "p%d-%lld", partition,
                                  (long long)(before + i));
                int vl = snprintf(value, sizeof(value), "value of %s[%d] #%lld", topic,
                                  partition, (long long)(before + i));
                for (;;) {
                        rerr = rd_kafka_producev(env->producer, RD_KAFKA_V_TOPIC(topic),
                                                 RD_KAFKA_V_PARTITION(partition),
                                                 RD_KAFKA_V_KEY(key, (size_t)kl),
                                                 RD_KAFKA_V_VALUE(value, (size_t)vl),
                                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                 RD_KAFKA_V_END);
                        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                break;
                        rd_kafka_poll(env->producer, 50);
                }
                if (rerr)
                        FAIL("produce to %s[%d]: %s", topic, partition, rd_kafka_err2str(rerr));
        }
        rerr = rd_kafka_flush(env->producer, 30000);
        if (rerr)
                FAIL("flush: %s", rd_kafka_err2str(rerr));
        rerr = rd_kafka_query_watermark_offsets(env->producer, topic, partition, &lo, &after,
                                                10000);
        if (rerr)
                FAIL("watermarks of %s[%d]: %s", topic, partition, rd_kafka_err2str(rerr));
        /* Keys name offsets: a lost or doubled message would mislabel them. */
        if (after != before + count)
                FAIL("produced %lld to %s[%d] at %lld, but the end offset is %lld",
                     (long long)count, topic, partition, (long long)before, (long long)after);
}

static rd_kafka_t *group_handle(struct me_env *env, const char *group)
{
        for (size_t i = 0; i < env->group_count; i++)
                if (!strcmp(env->groups[i].group, group))
                        return env->groups[i].rk;
        if (env->group_count == MAX_GROUPS)
                FAIL("too many groups");
        char err[512];
        rd_kafka_t *rk = seam_kafka_tool_handle(RD_KAFKA_CONSUMER, me_bootstrap(env), NULL, group,
                                                err, sizeof(err));
        if (!rk)
                FAIL("committed-offsets handle for %s: %s", group, err);
        env->groups[env->group_count].group = xstrdup(group);
        env->groups[env->group_count].rk = rk;
        env->group_count++;
        return rk;
}

int me_committed(struct me_env *env, const char *group, const char *topic, int n, int64_t *out)
{
        rd_kafka_t *rk = group_handle(env, group);
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
        for (int p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(list, topic, p);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, list, 5000);
        for (int p = 0; !err && p < n; p++) {
                const rd_kafka_topic_partition_t *e = &list->elems[p];
                if (e->err) {
                        err = e->err;
                        break;
                }
                out[p] = e->offset < 0 ? -1 : e->offset;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return err ? -(int)err - 1000 : 0;
}

void me_committed_or_die(struct me_env *env, const char *group, const char *topic, int n,
                         int64_t *out)
{
        /* The coordinator may be briefly unavailable (faults injected on
         * purpose, a rebalance): a few tries before giving up. */
        int rc = 0;
        for (int i = 0; i < 5; i++) {
                if ((rc = me_committed(env, group, topic, n, out)) == 0)
                        return;
                seam_sleep_ms(200);
        }
        FAIL("committed offsets of group %s on %s: %s", group, topic,
             rd_kafka_err2str((rd_kafka_resp_err_t)(-rc - 1000)));
}

/* ---- config ------------------------------------------------------------ */

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
        for (;;) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
                va_end(ap);
                if (n < 0)
                        FAIL("vsnprintf failed");
                if ((size_t)n < *cap - *len) {
                        *len += (size_t)n;
                        return;
                }
                *cap = (*cap + (size_t)n) * 2;
                char *nb = realloc(*buf, *cap);
                if (!nb)
                        FAIL("out of memory");
                *buf = nb;
        }
}

/* Each line of `lines` indented by `indent` spaces. */
static void append_lines(char **buf, size_t *len, size_t *cap, int indent, const char *lines)
{
        while (lines && *lines) {
                const char *nl = strchr(lines, '\n');
                int n = nl ? (int)(nl - lines) : (int)strlen(lines);
                if (n > 0)
                        append(buf, len, cap, "%*s%.*s\n", indent, "", n, lines);
                lines += n + (nl ? 1 : 0);
        }
}

const char *me_write_config(struct me_env *env, const char *file, const struct me_cfg *c)
{
        CHECK(c->topic && c->group && c->out);
        size_t len = 0, cap = 2048;
        char *y = malloc(cap);
        if (!y)
                FAIL("out of memory");
        y[0] = '\0';
        const char *bootstrap = c->bootstrap ? c->bootstrap : me_bootstrap(env);
        CHECK(bootstrap);
        append(&y, &len, &cap,
               "seam:\n"
               "  plugin_path: [%s]\n"
               "  shutdown_timeout_ms: %lld\n"
               "  log_level: %s\n"
               "kafka:\n"
               "  bootstrap.servers: %s\n"
               "  auto.offset.reset: earliest\n"
               "  session.timeout.ms: 6000\n"
               "  heartbeat.interval.ms: 1000\n",
               tu_env("SEAM_TEST_PLUGIN_DIR"),
               (long long)(c->shutdown_timeout_ms ? c->shutdown_timeout_ms : 10000),
               c->log_level ? c->log_level : "info", bootstrap);
        append_lines(&y, &len, &cap, 2, c->kafka);
        append(&y, &len, &cap,
               "consumers:\n"
               "  - name: %s\n"
               "    plugin: recorder\n"
               "    topics: [%s]\n"
               "    group_id: %s\n"
               "    workers: %d\n"
               "    commit_interval_ms: %d\n",
               c->name ? c->name : "c", c->topic, c->group, c->workers ? c->workers : 4,
               c->commit_interval_ms ? c->commit_interval_ms : 200);
        if (c->retry_backoff_ms)
                append(&y, &len, &cap, "    retry_backoff_ms: %d\n", c->retry_backoff_ms);
        append(&y, &len, &cap, "    config:\n      out: %s\n", c->out);
        append_lines(&y, &len, &cap, 6, c->plugin_config);
        const char *path = me_path(env, file);
        tu_write_file(path, y);
        free(y);
        return path;
}

/* ---- records ------------------------------------------------------------ */

static void part_add(struct me_part *p, int64_t offset, uint32_t attempt, int64_t line, int file)
{
        if (p->nrecs == p->caprecs) {
                size_t cap = p->caprecs ? p->caprecs * 2 : 256;
                struct me_rec *n = realloc(p->recs, cap * sizeof(*n));
                if (!n)
                        FAIL("out of memory");
                p->recs = n;
                p->caprecs = cap;
        }
        p->recs[p->nrecs++] = (struct me_rec){offset, attempt, line, file};
        if (offset >= p->ncount) {
                int64_t n = p->ncount ? p->ncount : 1024;
                while (n <= offset)
                        n *= 2;
                uint32_t *c = realloc(p->count, (size_t)n * sizeof(*c));
                if (!c)
                        FAIL("out of memory");
                memset(c + p->ncount, 0, (size_t)(n - p->ncount) * sizeof(*c));
                p->count = c;
                p->ncount = n;
        }
        p->count[offset]++;
}

static void load_file(struct me_records *r, const char *path)
{
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        int file = r->files++;
        if (!data)
                return; /* nothing recorded yet */
        int64_t lineno = 0;
        char *line = data;
        while (line < data + len) {
                char *nl = memchr(line, '\n', (size_t)(data + len - line));
                lineno++;
                /* One write(2) per line: a torn line means a lost effect. */
                if (!nl)
                        FAIL("%s:%lld: line without newline: \"%s\"", path, (long long)lineno,
                             line);
                *nl = '\0';
                char topic[256], key[256];
                int part, used = 0;
                long long off;
                unsigned attempt;
                if (sscanf(line, "%255s %d %lld %255s %u%n", topic, &part, &off, key, &attempt,
                           &used) != 5 ||
                    line[used] != '\0')
                        FAIL("%s:%lld: not a record line: \"%s\"", path, (long long)lineno, line);
                if (strcmp(topic, r->topic) || part < 0 || part >= r->partitions || off < 0)
                        FAIL("%s:%lld: unexpected topic/partition/offset: \"%s\"", path,
                             (long long)lineno, line);
                char want[64];
                snprintf(want, sizeof(want), "p%d-%lld", part, off);
                if (strcmp(key, want))
                        FAIL("%s:%lld: message at %s[%d]@%lld has key \"%s\", produced as "
                             "\"%s\"",
                             path, (long long)lineno, topic, part, off, key, want);
                part_add(&r->p[part], off, attempt, lineno, file);
                r->lines++;
                line = nl + 1;
        }
        free(data);
}

void me_records_load(struct me_records *r, const char *topic, int partitions,
                     const char *const *files)
{
        memset(r, 0, sizeof(*r));
        r->topic = xstrdup(topic);
        r->partitions = partitions;
        r->p = calloc((size_t)partitions, sizeof(*r->p));
        if (!r->p)
                FAIL("out of memory");
        for (size_t i = 0; files[i]; i++)
                load_file(r, files[i]);
}

void me_records_free(struct me_records *r)
{
        for (int i = 0; r->p && i < r->partitions; i++) {
                free(r->p[i].recs);
                free(r->p[i].count);
        }
        free(r->p);
        free(r->topic);
        memset(r, 0, sizeof(*r));
}

uint32_t me_records_count(const struct me_records *r, int partition, int64_t offset)
{
        const struct me_part *p = &r->p[partition];
        return offset >= 0 && offset < p->ncount ? p->count[offset] : 0;
}

int64_t me_records_max(const struct me_records *r, int partition)
{
        const struct me_part *p = &r->p[partition];
        for (int64_t o = p->ncount - 1; o >= 0; o--)
                if (p->count[o])
                        return o;
        return -1;
}

int64_t me_records_first_missing(const struct me_records *r, int partition, int64_t upto)
{
        for (int64_t o = 0; o < upto; o++)
                if (!me_records_count(r, partition, o))
                        return o;
        return -1;
}

int64_t me_records_duplicates(const struct me_records *r)
{
        int64_t d = 0;
        for (int i = 0; i < r->partitions; i++)
                for (int64_t o = 0; o < r->p[i].ncount; o++)
                        if (r->p[i].count[o] > 1)
                                d += r->p[i].count[o] - 1;
        return d;
}

void me_check_committed_prefix(const struct me_records *r, const int64_t *committed,
                               const char *when)
{
        for (int p = 0; p < r->partitions; p++) {
                int64_t miss = me_records_first_missing(r, p, committed[p]);
                if (miss >= 0)
                        FAIL("%s: %s[%d] committed offset %lld, but offset %lld was never "
                             "handled (committed ahead of an unfinished message)",
                             when, r->topic, p, (long long)committed[p], (long long)miss);
        }
        char buf[512];
        format_offsets(buf, sizeof(buf), committed, r->partitions);
        fprintf(stderr, "mockenv: %s: committed [%s], every offset below it recorded\n", when,
                buf);
}

void me_check_all_recorded(const struct me_records *r, const int64_t *end)
{
        for (int p = 0; p < r->partitions; p++) {
                int64_t miss = me_records_first_missing(r, p, end[p]);
                if (miss >= 0)
                        FAIL("%s[%d]: offset %lld (of %lld) was never handled", r->topic, p,
                             (long long)miss, (long long)end[p]);
        }
}

/* ---- scenarios ------------------------------------------------------------ */

#define RB_TOPIC "rb"
#define RB_GROUP "rb-group"
#define RB_PARTITIONS 4
/* Enough work (about 25 s for one instance at 10 ms a message) that A is
 * still busy when B, whose join the mock delays by about 10 s, gets its
 * share. */
#define RB_PER_PARTITION 2500

static void rb_check_prefix(struct me_env *env, const char *const *files, const char *when)
{
        int64_t committed[RB_PARTITIONS];
        struct me_records r;
        me_committed_or_die(env, RB_GROUP, RB_TOPIC, RB_PARTITIONS, committed);
        me_records_load(&r, RB_TOPIC, RB_PARTITIONS, files);
        me_check_committed_prefix(&r, committed, when);
        me_records_free(&r);
}

void me_rebalance_scenario(const char *test_name, const char *kafka_extra, const char *protocol)
{
        /* librdkafka's debug lines (kafka_extra "debug: cgrp") need it. */
        const char *level = getenv("SEAM_TEST_LOG_LEVEL");
        struct me_env *env = me_env_new(test_name, 1);
        me_create_topic(env, RB_TOPIC, RB_PARTITIONS);
        for (int p = 0; p < RB_PARTITIONS; p++)
                me_produce(env, RB_TOPIC, p, RB_PER_PARTITION);
        int64_t end[RB_PARTITIONS];
        me_high_watermarks(env, RB_TOPIC, RB_PARTITIONS, end);

        const char *out_a = me_path(env, "a.records"), *out_b = me_path(env, "b.records");
        const char *files[] = {out_a, out_b, NULL};
        struct me_cfg ca = {
                .name = "a", .topic = RB_TOPIC, .group = RB_GROUP, .out = out_a,
                .kafka = kafka_extra, .plugin_config = "sleep_ms: 10",
                .log_level = level,
        };
        struct me_cfg cb = ca;
        cb.name = "b";
        cb.out = out_b;
        struct me_seam *a = me_seam_start(env, me_write_config(env, "a.yaml", &ca), "a.log");
        me_wait_lines(env, out_a, 400, 30000);

        struct me_seam *b = me_seam_start(env, me_write_config(env, "b.yaml", &cb), "b.log");
        me_wait_lines(env, out_b, 50, 45000);
        int64_t a_lines = me_count_lines(out_a);
        CHECKF(a_lines < RB_PARTITIONS * RB_PER_PARTITION, "A handled everything alone");
        rb_check_prefix(env, files, "both running");

        /* A leaves: its partitions are revoked (drained and committed) and B
         * must get them. */
        int64_t took;
        int code = me_seam_stop(a, SIGTERM, 25000, &took);
        fprintf(stderr, "A: SIGTERM -> exit %d in %lld ms\n", code, (long long)took);
        CHECK_EQ_INT(code, 0);
        rb_check_prefix(env, files, "A stopped");

        me_wait_committed(env, RB_GROUP, RB_TOPIC, RB_PARTITIONS, end, 90000);
        struct me_records r;
        me_records_load(&r, RB_TOPIC, RB_PARTITIONS, files);
        me_check_all_recorded(&r, end);
        me_check_committed_prefix(&r, end, "B finished");
        int64_t la = me_count_lines(out_a), lb = me_count_lines(out_b);
        fprintf(stderr, "%s: %lld messages, A handled %lld, B handled %lld, %lld handled twice\n",
                protocol, (long long)(RB_PARTITIONS * RB_PER_PARTITION), (long long)la,
                (long long)lb, (long long)me_records_duplicates(&r));
        me_records_free(&r);

        code = me_seam_stop(b, SIGTERM, 25000, &took);
        fprintf(stderr, "B: SIGTERM -> exit %d in %lld ms\n", code, (long long)took);
        CHECK_EQ_INT(code, 0);

        /* The strategy asked for was the one used (the log line of every
         * rebalance names the protocol). */
        const char *mark = me_strf(env, "rebalance (%s)", protocol);
        CHECKF(me_seam_log_count(a, mark) > 0 && me_seam_log_count(b, mark) > 0,
               "no \"%s\" line in a.log / b.log", mark);
        /* B was assigned partitions at least twice: when it joined, and when
         * A left. */
        CHECKF(me_seam_log_count(b, "assigned") >= 2, "B saw fewer than two assignments");
        me_env_finish(env);
}
