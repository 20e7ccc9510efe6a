/* mockenv.h - the harness of the integration tests: librdkafka's mock
 * cluster in the test process, keyed messages produced to explicit
 * partitions, a recorder-plugin config, `seam run` as a child process with
 * its own log, the recorder's file parsed per partition, and the group's
 * committed offsets read back from the mock.
 *
 * Every helper that can fail ends the test (exit 1) with a message. Until
 * me_env_finish() is called, an exit of the test process (a failed CHECK
 * included) kills the seam children still running, prints their logs and
 * keeps the temp dir for a post-mortem. A seam log that contains a
 * sanitizer report fails the test when that seam is waited for.
 *
 * Messages produced by me_produce() have key "p<PARTITION>-<OFFSET>", so a
 * record line can be checked against the message it names. */
#ifndef SEAM_TEST_MOCKENV_H
#define SEAM_TEST_MOCKENV_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <sys/types.h>

struct me_env;
struct me_seam;

/* A temp dir named after the test and, with `broker` > 0, a mock cluster of
 * that many brokers listening on 127.0.0.1. One env per test process. */
struct me_env *me_env_new(const char *test_name, int broker);
/* Checks that no seam child is left running, frees everything, removes the
 * temp dir. Call it last, on success. */
void me_env_finish(struct me_env *env);

const char *me_dir(const struct me_env *env);
const char *me_bootstrap(const struct me_env *env);
rd_kafka_mock_cluster_t *me_mock(const struct me_env *env);
/* printf into a string owned by the env (freed by me_env_finish). */
const char *me_strf(struct me_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "DIR/name", env-owned. */
const char *me_path(struct me_env *env, const char *name);

void me_create_topic(struct me_env *env, const char *topic, int partitions);
/* Produces `count` messages to `partition`, keys "p<P>-<OFFSET>", and checks
 * with the broker that they landed at the offsets the keys name. */
void me_produce(struct me_env *env, const char *topic, int partition, int64_t count);
/* High watermarks of partitions 0..n-1, from the broker. */
void me_high_watermarks(struct me_env *env, const char *topic, int n, int64_t *out);
/* Committed offsets of `group` for partitions 0..n-1 (-1: none). Returns 0
 * or a negative error (a transient broker answer); _or_die fails the test. */
int me_committed(struct me_env *env, const char *group, const char *topic, int n,
                 int64_t *out);
void me_committed_or_die(struct me_env *env, const char *group, const char *topic, int n,
                         int64_t *out);

/* A config with one recorder consumer. Unset fields take the defaults. */
struct me_cfg {
        const char *name;           /* consumer name; default "c" */
        const char *topic;          /* required */
        const char *group;          /* required */
        const char *out;            /* record file; required */
        const char *bootstrap;      /* default: the mock */
        int workers;                /* default 4 */
        int commit_interval_ms;     /* default 200 */
        int retry_backoff_ms;       /* default: the framework's */
        int64_t shutdown_timeout_ms; /* default 10000 */
        const char *log_level;      /* default "info" */
        /* Extra "key: value" lines (separated by '\n') for the recorder's
         * config: block and the top-level kafka: block. */
        const char *plugin_config;
        const char *kafka;
};
/* Writes DIR/file and returns its path (env-owned). Always sets
 * auto.offset.reset=earliest and session.timeout.ms=6000. */
const char *me_write_config(struct me_env *env, const char *file, const struct me_cfg *c);

/* `$SEAM_BIN run -c cfg`, stdout and stderr to DIR/<log_name>. */
struct me_seam *me_seam_start(struct me_env *env, const char *cfg_path, const char *log_name);
/* `$SEAM_BIN args...` (NULL-terminated), output to DIR/<log_name>. */
struct me_seam *me_seam_exec(struct me_env *env, const char *const *args, const char *log_name);
/* Runs `$SEAM_BIN args...` to completion (fails the test after 30 s) and
 * returns its exit code; *output (may be NULL) gets stdout+stderr. */
int me_seam_run(struct me_env *env, const char *log_name, const char **output,
                const char *const *args);
/* An exit of this seam is expected: waiting helpers do not fail on it. */
void me_seam_expect_exit(struct me_seam *s);
int me_seam_running(struct me_seam *s);
void me_seam_signal(struct me_seam *s, int sig);
/* Waits up to timeout_ms; returns the exit code (128+N if killed by signal
 * N) or -1 on timeout (the child is left running). Fails the test if the
 * log holds a sanitizer report. */
int me_seam_wait(struct me_seam *s, int64_t timeout_ms);
/* Sends `sig`, waits up to timeout_ms and returns the exit code; on timeout
 * it fails the test. *elapsed_ms (may be NULL) gets the time to exit. */
int me_seam_stop(struct me_seam *s, int sig, int64_t timeout_ms, int64_t *elapsed_ms);
const char *me_seam_log_path(const struct me_seam *s);
/* The log so far; env-owned. */
const char *me_seam_log(struct me_seam *s);
/* Occurrences of `needle` in the log. */
int me_seam_log_count(struct me_seam *s, const char *needle);

/* Polls cond(arg) every 20 ms; fails the test naming `what` on timeout or if
 * a seam child not marked expect_exit exits meanwhile. */
void me_wait(struct me_env *env, const char *what, int (*cond)(void *arg), void *arg,
             int64_t timeout_ms);
/* Lines in a file (0 if missing). */
int64_t me_count_lines(const char *path);
void me_wait_lines(struct me_env *env, const char *path, int64_t min_lines, int64_t timeout_ms);
/* Until committed[p] == want[p] for every p < n. */
void me_wait_committed(struct me_env *env, const char *group, const char *topic, int n,
                       const int64_t *want, int64_t timeout_ms);
void me_wait_log(struct me_env *env, struct me_seam *s, const char *needle,
                 int64_t timeout_ms);
/* Bounded observations (not syncs): for `ms`, polls cond(arg) and fails
 * naming `what` if it becomes true, or if a seam child exits. */
void me_expect_not(struct me_env *env, const char *what, int (*cond)(void *arg), void *arg,
                   int64_t ms);
/* Fails if `s` exits within `ms`. */
void me_expect_running_for(struct me_env *env, struct me_seam *s, int64_t ms);

/* The recorder's lines, per partition, in file order. */
struct me_rec {
        int64_t offset;
        uint32_t attempt;
        int64_t line; /* 1-based line in its file */
        int file;     /* index of the file it came from */
};

struct me_part {
        struct me_rec *recs; /* in file order (files in load order) */
        size_t nrecs, caprecs;
        uint32_t *count; /* count[offset]: times recorded */
        int64_t ncount;
};

struct me_records {
        char *topic;
        int partitions;
        struct me_part *p;
        int files;
        int64_t lines;
};

/* Loads one or more record files (NULL-terminated list). Every line must be
 * "TOPIC P OFFSET pP-OFFSET ATTEMPT" for this topic; anything else fails. */
void me_records_load(struct me_records *r, const char *topic, int partitions,
                     const char *const *files);
void me_records_free(struct me_records *r);
uint32_t me_records_count(const struct me_records *r, int partition, int64_t offset);
/* Highest offset recorded on the partition, -1 if none. */
int64_t me_records_max(const struct me_records *r, int partition);
/* First offset below `upto` never recorded, -1 if all were. */
int64_t me_records_first_missing(const struct me_records *r, int partition, int64_t upto);
/* Records beyond the first of each offset. */
int64_t me_records_duplicates(const struct me_records *r);

/* The commit-after-effect invariant: on every partition, every offset below
 * committed[p] was recorded. Load the records AFTER reading the committed
 * offsets (both only grow), or a fresh commit could look ahead. */
void me_check_committed_prefix(const struct me_records *r, const int64_t *committed,
                               const char *when);
/* Every offset below end[p] recorded at least once. */
void me_check_all_recorded(const struct me_records *r, const int64_t *end);

/* The two-instance rebalance scenario shared by test_rebalance_eager and
 * test_rebalance_cooperative: instance A handles part of a topic, B joins
 * the group and handles some too, A gets SIGTERM and B must take over and
 * finish. Checks commit-after-effect across both record files at each step
 * and that the rebalances used `protocol` ("eager" or "cooperative");
 * `kafka_extra` goes into the kafka: block of both configs. */
void me_rebalance_scenario(const char *test_name, const char *kafka_extra,
                           const char *protocol);

#endif
