#include "group_lag.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "err.h"
#include "kafka_conf.h"
#include "log.h"

/* Properties the client sets itself: it must never commit, and must never be
 * a member of (or share an id with) the group it inspects. */
static const char *const owned_props[] = {
        "group.id", "enable.auto.commit", "enable.auto.offset.store", "bootstrap.servers", NULL,
};

struct seam_lag_client {
        const char *log_name; /* FIRST: see seam_kafka_conf_route_logs */
        rd_kafka_t *rk;       /* metadata, admin, watermarks, the probe fetch */
        char *bootstrap;
        char **props;         /* copy, NULL-terminated pairs */
        char probe_group[96];
};

int64_t seam_lag_messages(int64_t committed, int64_t low, int64_t high)
{
        int64_t start = committed < low ? low : committed; /* also "none" (-1) */
        return high > start ? high - start : 0;
}

static int64_t start_offset(const struct seam_lag_partition *p)
{
        return p->committed < p->low ? p->low : p->committed;
}

static int remaining_ms(int64_t deadline)
{
        int64_t r = deadline - seam_mono_ms();
        return r <= 0 ? 0 : r > INT_MAX ? INT_MAX : (int)r;
}

static int is_unreachable(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
               err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
               err == RD_KAFKA_RESP_ERR__RESOLVE;
}

static int set_prop(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errstr_size)
{
        char rderr[512];
        if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
                /* The key only: values may be secrets (sasl.password). */
                snprintf(errstr, errstr_size, "librdkafka property %s: %s", key, rderr);
                return SEAM_ERR_KAFKA;
        }
        return 0;
}

/* A consumer handle with group.id `group` that is never subscribed: it can
 * assign partitions and ask the group coordinator for offsets, but it never
 * joins a group, and with auto commit and offset store off it never
 * commits. */
static rd_kafka_t *new_handle(struct seam_lag_client *c, const char *group, char *errstr,
                              size_t errstr_size)
{
        static const char *const defaults[] = {
                "client.id", "seam-lag",
                /* The end offset is the high watermark, as Kafka's own tools
                 * report it; read_committed would give the last stable
                 * offset instead (librdkafka asks ListOffsets with the
                 * handle's isolation level). */
                "isolation.level", "read_uncommitted",
                /* The probe reads one message per partition: no large
                 * prefetch, and a short long-poll so the next watermark
                 * query does not queue behind a pending Fetch. */
                "fetch.wait.max.ms", "100",
                "max.partition.fetch.bytes", "65536",
                "queued.min.messages", "1",
                /* Offset out of range while probing: the messages at the
                 * committed offset were just deleted; the first one left
                 * is the first unconsumed. */
                "auto.offset.reset", "earliest",
                /* Reaching the end without a message means only control
                 * records (transaction markers) were left. */
                "enable.partition.eof", "true",
                NULL,
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        seam_kafka_conf_route_logs(conf);
        rd_kafka_conf_set_opaque(conf, c);
        int err = 0;
        for (int i = 0; !err && defaults[i]; i += 2)
                err = set_prop(conf, defaults[i], defaults[i + 1], errstr, errstr_size);
        for (int i = 0; !err && c->props && c->props[i]; i += 2)
                err = set_prop(conf, c->props[i], c->props[i + 1], errstr, errstr_size);
        if (!err)
                err = set_prop(conf, "bootstrap.servers", c->bootstrap, errstr, errstr_size);
        if (!err)
                err = set_prop(conf, "group.id", group, errstr, errstr_size);
        if (!err)
                err = set_prop(conf, "enable.auto.commit", "false", errstr, errstr_size);
        if (!err)
                err = set_prop(conf, "enable.auto.offset.store", "false", errstr, errstr_size);
        if (err) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        char rderr[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
        if (!rk) {
                snprintf(errstr, errstr_size, "librdkafka: %s", rderr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

void seam_lag_client_destroy(struct seam_lag_client *c)
{
        if (!c)
                return;
        if (c->rk)
                rd_kafka_destroy(c->rk);
        for (size_t i = 0; c->props && c->props[i]; i++)
                free(c->props[i]);
        free(c->props);
        free(c->bootstrap);
        free(c);
}

int seam_lag_client_new(const char *bootstrap, const char *const *props,
                        struct seam_lag_client **out, char *errstr, size_t errstr_size)
{
        size_t n = 0;
        while (props && props[n])
                n += 2;
        for (size_t i = 0; i < n; i += 2) {
                for (int k = 0; owned_props[k]; k++) {
                        if (!strcmp(props[i], owned_props[k])) {
                                snprintf(errstr, errstr_size,
                                         "property %s is set by seam lag itself", props[i]);
                                return SEAM_ERR_INVALID;
                        }
                }
        }
        struct seam_lag_client *c = calloc(1, sizeof(*c));
        if (!c)
                return SEAM_ERR_NOMEM;
        c->log_name = "lag";
        c->bootstrap = strdup(bootstrap);
        c->props = calloc(n + 1, sizeof(*c->props));
        int oom = !c->bootstrap || !c->props;
        for (size_t i = 0; !oom && i < n; i++)
                oom = !(c->props[i] = strdup(props[i]));
        if (oom) {
                seam_lag_client_destroy(c);
                return SEAM_ERR_NOMEM;
        }
        /* Unique per process so two exporters never look like one client;
         * it names no real group (nothing is ever committed under it). */
        snprintf(c->probe_group, sizeof(c->probe_group), "seam-lag-probe-%ld-%lld",
                 (long)getpid(), (long long)seam_wall_ms());
        if (!(c->rk = new_handle(c, c->probe_group, errstr, errstr_size))) {
                seam_lag_client_destroy(c);
                return SEAM_ERR_KAFKA;
        }
        *out = c;
        return 0;
}

/* ---- the partition list of a read ------------------------------------ */

static int fail(struct seam_group_lag *g, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct seam_group_lag *g, int err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->errstr, sizeof(g->errstr), fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < g->count; i++)
                free(g->parts[i].topic);
        free(g->parts);
        g->parts = NULL;
        g->count = 0;
        g->err = err;
        return err;
}

static void part_fail(struct seam_lag_partition *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void part_fail(struct seam_lag_partition *p, int err, const char *fmt, ...)
{
        if (p->err)
                return; /* the first reason is the one that matters */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->errstr, sizeof(p->errstr), fmt, ap);
        va_end(ap);
        p->err = err;
}

static int add_part(struct seam_group_lag *g, size_t *cap, const char *topic, int32_t partition)
{
        if (g->count == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                struct seam_lag_partition *np = realloc(g->parts, ncap * sizeof(*np));
                if (!np)
                        return SEAM_ERR_NOMEM;
                g->parts = np;
                *cap = ncap;
        }
        struct seam_lag_partition *p = &g->parts[g->count];
        memset(p, 0, sizeof(*p));
        if (!(p->topic = strdup(topic)))
                return SEAM_ERR_NOMEM;
        p->partition = partition;
        p->committed = p->low = p->high = p->lag = -1;
        p->lag_seconds = -1;
        g->count++;
        return 0;
}

static int cmp_part(const void *a, const void *b)
{
        const struct seam_lag_partition *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);
        return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static struct seam_lag_partition *find_part(struct seam_group_lag *g, const char *topic,
                                            int32_t partition)
{
        if (!g->count)
                return NULL; /* bsearch on a NULL array is undefined */
        struct seam_lag_partition key = {.topic = (char *)topic, .partition = partition};
        return bsearch(&key, g->parts, g->count, sizeof(*g->parts), cmp_part);
}

static const rd_kafka_metadata_topic_t *md_topic(const struct rd_kafka_metadata *md,
                                                 const char *topic)
{
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                        return &md->topics[i];
        return NULL;
}

/* Every partition of `t` into g. */
static int add_topic(struct seam_group_lag *g, size_t *cap, const rd_kafka_metadata_topic_t *t)
{
        for (int j = 0; j < t->partition_cnt; j++) {
                int err = add_part(g, cap, t->topic, t->partitions[j].id);
                if (err)
                        return err;
        }
        return 0;
}

/* ---- committed offsets ------------------------------------------------ */

/* The group's committed offsets through the Admin API (OffsetFetch to the
 * group coordinator; no membership needed). `req` NULL asks for every
 * partition the group has offsets for. On success *out is a copy of the
 * result list. */
static int list_group_offsets(struct seam_lag_client *c, const char *group,
                              const rd_kafka_topic_partition_list_t *req, int64_t deadline,
                              rd_kafka_topic_partition_list_t **out, char *errstr,
                              size_t errstr_size)
{
        char rderr[512];
        int timeout = remaining_ms(deadline);
        if (timeout <= 0) {
                snprintf(errstr, errstr_size, "timed out before listing committed offsets");
                return SEAM_ERR_TIMEOUT;
        }
        rd_kafka_AdminOptions_t *opts =
            rd_kafka_AdminOptions_new(c->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
        rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
        rd_kafka_ListConsumerGroupOffsets_t *lg = rd_kafka_ListConsumerGroupOffsets_new(group, req);
        if (!opts || !q || !lg) {
                if (opts)
                        rd_kafka_AdminOptions_destroy(opts);
                if (q)
                        rd_kafka_queue_destroy(q);
                if (lg)
                        rd_kafka_ListConsumerGroupOffsets_destroy(lg);
                return SEAM_ERR_NOMEM;
        }
        if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout, rderr, sizeof(rderr)))
                seam_log_warn("lag: admin request timeout: %s", rderr);
        rd_kafka_ListConsumerGroupOffsets(c->rk, &lg, 1, opts, q);
        rd_kafka_ListConsumerGroupOffsets_destroy(lg);
        rd_kafka_AdminOptions_destroy(opts);

        /* The request times itself out; the extra second only covers the
         * result's way back through the queue. */
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout + 1000);
        int rc = 0;
        if (!ev) {
                snprintf(errstr, errstr_size, "no answer to ListConsumerGroupOffsets within %d ms",
                         timeout);
                rc = SEAM_ERR_TIMEOUT;
        } else if (rd_kafka_event_error(ev)) {
                rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
                snprintf(errstr, errstr_size, "ListConsumerGroupOffsets: %s",
                         rd_kafka_event_error_string(ev));
                rc = is_unreachable(e) ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        } else {
                const rd_kafka_ListConsumerGroupOffsets_result_t *res =
                    rd_kafka_event_ListConsumerGroupOffsets_result(ev);
                size_t n = 0;
                const rd_kafka_group_result_t **groups =
                    res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
                const rd_kafka_error_t *gerr = n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
                const rd_kafka_topic_partition_list_t *parts =
                    n == 1 ? rd_kafka_group_result_partitions(groups[0]) : NULL;
                if (n != 1) {
                        snprintf(errstr, errstr_size,
                                 "ListConsumerGroupOffsets: %zu group results for one group", n);
                        rc = SEAM_ERR_KAFKA;
                } else if (gerr) {
                        snprintf(errstr, errstr_size, "ListConsumerGroupOffsets: %s",
                                 rd_kafka_error_string(gerr));
                        rc = is_unreachable(rd_kafka_error_code(gerr)) ? SEAM_ERR_TIMEOUT
                                                                       : SEAM_ERR_KAFKA;
                } else {
                        *out = parts ? rd_kafka_topic_partition_list_copy(parts)
                                     : rd_kafka_topic_partition_list_new(0);
                        rc = *out ? 0 : SEAM_ERR_NOMEM;
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* The fallback when the Admin API call fails (an old broker, a proxy that
 * does not pass it): rd_kafka_committed() on a handle whose group.id is the
 * inspected group. Such a handle only sends OffsetFetch; it is never
 * subscribed, so it never joins the group, and it never commits. */
static int committed_fallback(struct seam_lag_client *c, const char *group,
                              rd_kafka_topic_partition_list_t *list, int64_t deadline,
                              char *errstr, size_t errstr_size)
{
        rd_kafka_t *rk = new_handle(c, group, errstr, errstr_size);
        if (!rk)
                return SEAM_ERR_KAFKA;
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, list, remaining_ms(deadline));
        rd_kafka_destroy(rk);
        if (err) {
                snprintf(errstr, errstr_size, "committed offsets: %s", rd_kafka_err2str(err));
                return is_unreachable(err) ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA;
        }
        return 0;
}

static int has_commit(const rd_kafka_topic_partition_t *e)
{
        return !e->err && e->offset >= 0;
}

static void apply_committed(struct seam_group_lag *g, const rd_kafka_topic_partition_list_t *res)
{
        for (int i = 0; i < res->cnt; i++) {
                const rd_kafka_topic_partition_t *e = &res->elems[i];
                struct seam_lag_partition *p = find_part(g, e->topic, e->partition);
                if (!p)
                        continue;
                if (e->err) {
                        p->committed = -2;
                        part_fail(p, SEAM_ERR_KAFKA, "committed offset: %s",
                                  rd_kafka_err2str(e->err));
                } else if (e->offset >= 0)
                        p->committed = e->offset;
        }
}

static rd_kafka_topic_partition_list_t *list_of(const struct seam_group_lag *g)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)g->count);
        for (size_t i = 0; i < g->count; i++)
                rd_kafka_topic_partition_list_add(l, g->parts[i].topic, g->parts[i].partition);
        return l;
}

/* --topic given: exactly those topics, every partition. */
static int committed_of_topics(struct seam_lag_client *c, struct seam_group_lag *g,
                               const struct rd_kafka_metadata *md, const char *const *topics,
                               size_t topic_count, int64_t deadline)
{
        size_t cap = 0;
        for (size_t i = 0; i < topic_count; i++) {
                int twice = 0;
                for (size_t j = 0; j < i && !twice; j++)
                        twice = !strcmp(topics[j], topics[i]);
                if (twice)
                        continue;
                const rd_kafka_metadata_topic_t *t = md_topic(md, topics[i]);
                if (!t)
                        return fail(g, SEAM_ERR_NOTFOUND, "topic %s does not exist", topics[i]);
                int err = add_topic(g, &cap, t);
                if (err)
                        return fail(g, err, "out of memory");
        }
        if (g->count > 1)
                qsort(g->parts, g->count, sizeof(*g->parts), cmp_part);
        rd_kafka_topic_partition_list_t *req = list_of(g), *res = NULL;
        char why[SEAM_LAG_ERRSTR_MAX];
        int err = list_group_offsets(c, g->group, req, deadline, &res, why, sizeof(why));
        if (err == SEAM_ERR_KAFKA) {
                char why2[SEAM_LAG_ERRSTR_MAX];
                seam_log_warn("lag: group %s: %s; trying the consumer API (OffsetFetch)", g->group,
                              why);
                err = committed_fallback(c, g->group, req, deadline, why2, sizeof(why2));
                if (err) {
                        rd_kafka_topic_partition_list_destroy(req);
                        return fail(g, err, "%.100s; then %.100s", why, why2);
                }
                res = req;
                req = NULL;
        }
        if (req)
                rd_kafka_topic_partition_list_destroy(req);
        if (err)
                return fail(g, err, "%s", why);
        apply_committed(g, res);
        rd_kafka_topic_partition_list_destroy(res);
        return 0;
}

/* No --topic: the topics the group has committed offsets on. */
static int committed_of_group(struct seam_lag_client *c, struct seam_group_lag *g,
                              const struct rd_kafka_metadata *md, int64_t deadline)
{
        rd_kafka_topic_partition_list_t *res = NULL;
        char why[SEAM_LAG_ERRSTR_MAX];
        int err = list_group_offsets(c, g->group, NULL, deadline, &res, why, sizeof(why));
        if (err)
                return fail(g, err, "%s (with --topic the offsets of a topic can be read "
                            "another way)", why);
        int any = 0;
        for (int i = 0; i < res->cnt && !any; i++)
                any = has_commit(&res->elems[i]);
        if (!any) {
                /* librdkafka 2.0.2 sends "all partitions" as an empty topic
                 * array, which brokers before Kafka 2.4 and the embedded
                 * broker answer with nothing (fixed upstream in 2.3.0,
                 * #4346). So an empty answer is checked by naming every
                 * partition of the cluster. */
                rd_kafka_topic_partition_list_destroy(res);
                res = NULL;
                rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(64);
                for (int i = 0; i < md->topic_cnt; i++)
                        for (int j = 0; !md->topics[i].err && j < md->topics[i].partition_cnt; j++)
                                rd_kafka_topic_partition_list_add(all, md->topics[i].topic,
                                                                  md->topics[i].partitions[j].id);
                err = all->cnt ? list_group_offsets(c, g->group, all, deadline, &res, why,
                                                    sizeof(why))
                               : 0;
                rd_kafka_topic_partition_list_destroy(all);
                if (err)
                        return fail(g, err, "%s", why);
                if (!res)
                        return 0; /* a cluster without topics */
        }
        /* Every partition of each topic with a commit: a partition never
         * committed on still has lag. */
        size_t cap = 0;
        rd_kafka_topic_partition_list_sort(res, NULL, NULL);
        for (int i = 0; i < res->cnt && !err; i++) {
                const rd_kafka_topic_partition_t *e = &res->elems[i];
                if (!has_commit(e))
                        continue;
                const rd_kafka_metadata_topic_t *t = md_topic(md, e->topic);
                if (t) {
                        /* res is sorted: a topic already added is the last */
                        if (!g->count || strcmp(g->parts[g->count - 1].topic, e->topic))
                                err = add_topic(g, &cap, t);
                } else if (!(err = add_part(g, &cap, e->topic, e->partition))) {
                        part_fail(&g->parts[g->count - 1], SEAM_ERR_NOTFOUND,
                                  "topic no longer exists");
                }
        }
        if (err) {
                rd_kafka_topic_partition_list_destroy(res);
                return fail(g, err, "out of memory");
        }
        if (g->count > 1)
                qsort(g->parts, g->count, sizeof(*g->parts), cmp_part);
        apply_committed(g, res);
        rd_kafka_topic_partition_list_destroy(res);
        return 0;
}

/* ---- watermarks and the probe ----------------------------------------- */

static void query_watermarks(struct seam_lag_client *c, struct seam_group_lag *g, int64_t deadline)
{
        for (size_t i = 0; i < g->count; i++) {
                struct seam_lag_partition *p = &g->parts[i];
                if (p->err)
                        continue;
                int timeout = remaining_ms(deadline);
                if (timeout <= 0) {
                        part_fail(p, SEAM_ERR_TIMEOUT, "timed out before the watermark query");
                        continue;
                }
                int64_t lo, hi;
                rd_kafka_resp_err_t err =
                    rd_kafka_query_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi,
                                                     timeout);
                if (err) {
                        part_fail(p, is_unreachable(err) ? SEAM_ERR_TIMEOUT : SEAM_ERR_KAFKA,
                                  "watermarks: %s", rd_kafka_err2str(err));
                        continue;
                }
                p->low = lo;
                p->high = hi;
                p->lag = seam_lag_messages(p->committed, lo, hi);
                if (p->lag == 0)
                        p->lag_seconds = 0;
        }
}

/* The timestamp of the first message at or after the start offset of every
 * lagging partition: one assignment of all of them at those offsets, the
 * first message of each taken, then unassigned. */
static void probe_timestamps(struct seam_lag_client *c, struct seam_group_lag *g, int64_t deadline)
{
        rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(16);
        char *done = calloc(g->count ? g->count : 1, 1);
        if (!done) {
                rd_kafka_topic_partition_list_destroy(assign);
                for (size_t i = 0; i < g->count; i++)
                        if (!g->parts[i].err && g->parts[i].lag > 0)
                                part_fail(&g->parts[i], SEAM_ERR_NOMEM, "out of memory");
                return;
        }
        size_t pending = 0;
        for (size_t i = 0; i < g->count; i++) {
                struct seam_lag_partition *p = &g->parts[i];
                if (p->err || p->lag <= 0)
                        continue;
                rd_kafka_topic_partition_list_add(assign, p->topic, p->partition)->offset =
                    start_offset(p);
                pending++;
        }
        rd_kafka_resp_err_t aerr = pending ? rd_kafka_assign(c->rk, assign) : 0;
        rd_kafka_topic_partition_list_destroy(assign);
        if (aerr) {
                for (size_t i = 0; i < g->count; i++)
                        if (!g->parts[i].err && g->parts[i].lag > 0)
                                part_fail(&g->parts[i], SEAM_ERR_KAFKA, "fetch: assign: %s",
                                          rd_kafka_err2str(aerr));
                free(done);
                return;
        }
        char last_error[160] = "";
        while (pending) {
                int timeout = remaining_ms(deadline);
                if (timeout <= 0)
                        break;
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout < 100 ? timeout : 100);
                if (!m)
                        continue;
                struct seam_lag_partition *p =
                    m->rkt ? find_part(g, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
                size_t idx = p ? (size_t)(p - g->parts) : 0;
                if (!p || p->err || p->lag <= 0 || done[idx]) {
                        if (m->err && !p && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                snprintf(last_error, sizeof(last_error), "%s",
                                         rd_kafka_err2str(m->err));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Nothing but control records (transaction markers)
                         * between the start and the end: no message is
                         * waiting, so none is old. */
                        p->lag_seconds = 0;
                        done[idx] = 1;
                        pending--;
                } else if (m->err) {
                        snprintf(last_error, sizeof(last_error), "%s", rd_kafka_err2str(m->err));
                } else if (m->offset >= start_offset(p)) {
                        rd_kafka_timestamp_type_t type;
                        int64_t ts = rd_kafka_message_timestamp(m, &type);
                        if (ts >= 0 && type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
                                int64_t age = seam_wall_ms() - ts;
                                /* A producer clock ahead of ours: the message
                                 * is new, not from the future. */
                                p->lag_seconds = age > 0 ? (double)age / 1000.0 : 0.0;
                        } /* else: no timestamp (message format v0), unknown */
                        done[idx] = 1;
                        pending--;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_resp_err_t uerr = rd_kafka_assign(c->rk, NULL);
        if (uerr)
                seam_log_warn("lag: unassign after the probe: %s", rd_kafka_err2str(uerr));
        for (size_t i = 0; i < g->count; i++) {
                struct seam_lag_partition *p = &g->parts[i];
                if (!p->err && p->lag > 0 && !done[i])
                        part_fail(p, SEAM_ERR_TIMEOUT,
                                  "no message fetched from offset %lld in time%s%s",
                                  (long long)start_offset(p), *last_error ? ": " : "",
                                  last_error);
        }
        free(done);
}

int seam_lag_client_read(struct seam_lag_client *c, const char *group,
                         const char *const *topics, size_t topic_count, int timeout_ms,
                         struct seam_group_lag *out)
{
        memset(out, 0, sizeof(*out));
        if (!(out->group = strdup(group)))
                return fail(out, SEAM_ERR_NOMEM, "out of memory");
        if (!strcmp(group, c->probe_group))
                return fail(out, SEAM_ERR_INVALID, "group %s is this client's own id", group);
        int64_t deadline = seam_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);

        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t merr = rd_kafka_metadata(c->rk, 1, NULL, &md, remaining_ms(deadline));
        if (merr) {
                out->unreachable = is_unreachable(merr);
                if (out->unreachable)
                        return fail(out, SEAM_ERR_TIMEOUT,
                                    "cannot reach the Kafka brokers at %s within %d ms (%s)",
                                    c->bootstrap, timeout_ms, rd_kafka_err2str(merr));
                return fail(out, SEAM_ERR_KAFKA, "metadata: %s", rd_kafka_err2str(merr));
        }
        int err = topic_count ? committed_of_topics(c, out, md, topics, topic_count, deadline)
                              : committed_of_group(c, out, md, deadline);
        rd_kafka_metadata_destroy(md);
        if (err)
                return err;
        query_watermarks(c, out, deadline);
        probe_timestamps(c, out, deadline);
        return 0;
}

int seam_group_lag_complete(const struct seam_group_lag *g)
{
        if (g->err)
                return 0;
        for (size_t i = 0; i < g->count; i++)
                if (g->parts[i].err)
                        return 0;
        return 1;
}

void seam_group_lag_clear(struct seam_group_lag *g)
{
        for (size_t i = 0; i < g->count; i++)
                free(g->parts[i].topic);
        free(g->parts);
        free(g->group);
        memset(g, 0, sizeof(*g));
}
