/* test_metrics - the metrics registry: exact rendered text of every metric
 * type, label escaping, removal, registration rules, scrape-time callbacks
 * and exact totals under concurrent increments.
 *
 * `unit_test_metrics --dump FILE` writes a representative scrape to FILE
 * instead (tests/unit/test_metrics_promtool.sh feeds it to promtool). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

#define BUILD_INFO                                                             \
        "# HELP seam_build_info Build of this seam binary; the value is always 1.\n" \
        "# TYPE seam_build_info gauge\n"                                       \
        "seam_build_info{version=\"" SEAM_VERSION "\"} 1\n"

static void check_render(struct seam_metrics *m, const char *expected)
{
        size_t len = 0;
        char *text = seam_metrics_render(m, &len);
        CHECK(text != NULL);
        CHECK_EQ_INT(len, strlen(text));
        CHECK_STR_EQ(text, expected);
        free(text);
}

static char *render(struct seam_metrics *m)
{
        char *text = seam_metrics_render(m, NULL);
        CHECK(text != NULL);
        return text;
}

static void test_counters(void)
{
        struct seam_metrics *m = seam_metrics_new();
        CHECK(m != NULL);
        struct seam_metric_family *rebal = seam_metrics_counter(
            m, "seam_consumer_rebalances_total", "Rebalances seen.", SEAM_METRIC_NO_LABELS);
        struct seam_metric_family *msgs = seam_metrics_counter(
            m, "seam_consumer_messages_total", "Messages by outcome.",
            SEAM_METRIC_LABELS("consumer", "outcome"));
        CHECK(rebal && msgs);
        /* A family without labels shows 0 before its first increment. */
        check_render(m, BUILD_INFO
                     "# HELP seam_consumer_rebalances_total Rebalances seen.\n"
                     "# TYPE seam_consumer_rebalances_total counter\n"
                     "seam_consumer_rebalances_total 0\n");

        struct seam_metric *handled = seam_metric_get(msgs, SEAM_METRIC_LABELS("audit", "handled"));
        struct seam_metric *dup = seam_metric_get(msgs, SEAM_METRIC_LABELS("audit", "duplicate"));
        CHECK(handled && dup && handled != dup);
        /* The same label values give the same child. */
        CHECK(seam_metric_get(msgs, SEAM_METRIC_LABELS("audit", "handled")) == handled);
        seam_counter_inc(handled);
        seam_counter_inc(handled);
        seam_counter_add_int(handled, 40);
        seam_counter_inc(dup);
        seam_counter_add(dup, 0.5);
        seam_counter_add(dup, -3);  /* counters never go down */
        seam_counter_add(dup, NAN); /* nor become NaN */
        seam_counter_inc(seam_metric_get(rebal, SEAM_METRIC_NO_LABELS));
        CHECK(seam_metric_value(handled) == 42);
        CHECK(seam_metric_value(dup) == 1.5);
        check_render(m, BUILD_INFO
                     "# HELP seam_consumer_rebalances_total Rebalances seen.\n"
                     "# TYPE seam_consumer_rebalances_total counter\n"
                     "seam_consumer_rebalances_total 1\n"
                     "# HELP seam_consumer_messages_total Messages by outcome.\n"
                     "# TYPE seam_consumer_messages_total counter\n"
                     "seam_consumer_messages_total{consumer=\"audit\",outcome=\"handled\"} 42\n"
                     "seam_consumer_messages_total{consumer=\"audit\",outcome=\"duplicate\"} 1.5\n");
        /* Whole counts past 2^53 print exactly. */
        seam_counter_add_int(handled, (1ULL << 60) - 42);
        char *text = render(m);
        CHECK_CONTAINS(text, "outcome=\"handled\"} 1152921504606846976\n");
        free(text);
        seam_metrics_destroy(m);
}

static void test_gauges(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_metric_family *f = seam_metrics_gauge(
            m, "seam_partition_lag_messages", "Lag in messages.",
            SEAM_METRIC_LABELS("topic", "partition"));
        CHECK(f != NULL);
        struct seam_metric *a = seam_metric_get(f, SEAM_METRIC_LABELS("orders", "0"));
        struct seam_metric *b = seam_metric_get(f, SEAM_METRIC_LABELS("orders", "1"));
        struct seam_metric *c = seam_metric_get(f, SEAM_METRIC_LABELS("orders", "2"));
        struct seam_metric *d = seam_metric_get(f, SEAM_METRIC_LABELS("orders", "3"));
        struct seam_metric *e = seam_metric_get(f, SEAM_METRIC_LABELS("orders", "4"));
        seam_gauge_set(a, 10);
        seam_gauge_add(a, -12.25);
        seam_gauge_set(b, NAN);
        seam_gauge_set(c, INFINITY);
        seam_gauge_set(d, -INFINITY);
        seam_gauge_set(e, 0.1);
        CHECK(seam_metric_value(a) == -2.25);
        check_render(m, BUILD_INFO
                     "# HELP seam_partition_lag_messages Lag in messages.\n"
                     "# TYPE seam_partition_lag_messages gauge\n"
                     "seam_partition_lag_messages{topic=\"orders\",partition=\"0\"} -2.25\n"
                     "seam_partition_lag_messages{topic=\"orders\",partition=\"1\"} NaN\n"
                     "seam_partition_lag_messages{topic=\"orders\",partition=\"2\"} +Inf\n"
                     "seam_partition_lag_messages{topic=\"orders\",partition=\"3\"} -Inf\n"
                     "seam_partition_lag_messages{topic=\"orders\",partition=\"4\"} 0.1\n");
        /* Type mismatches are ignored rather than corrupting the value. */
        seam_counter_inc(a);
        seam_histogram_observe(a, 1);
        CHECK(seam_metric_value(a) == -2.25);
        /* A value that needs 17 digits to read back keeps them. */
        seam_gauge_set(e, 0.1 + 0.2);
        char *text = render(m);
        CHECK_CONTAINS(text, "partition=\"4\"} 0.30000000000000004\n");
        free(text);
        seam_metrics_destroy(m);
}

static void test_histograms(void)
{
        struct seam_metrics *m = seam_metrics_new();
        static const double bounds[] = {0.125, 0.5, 1, INFINITY};
        struct seam_metric_family *f = seam_metrics_histogram(
            m, "seam_handler_duration_seconds", "Handler duration.",
            SEAM_METRIC_LABELS("consumer"), bounds, 4);
        struct seam_metric_family *nolabel = seam_metrics_histogram(
            m, "seam_dedup_store_duration_seconds", "Dedup store latency.",
            SEAM_METRIC_NO_LABELS, bounds, 3);
        CHECK(f && nolabel);
        struct seam_metric *h = seam_metric_get(f, SEAM_METRIC_LABELS("audit"));
        seam_histogram_observe(h, 0.0625);
        seam_histogram_observe(h, 0.125); /* le is inclusive */
        seam_histogram_observe(h, 0.25);
        seam_histogram_observe(h, 2);
        CHECK_EQ_INT(seam_histogram_count(h), 4);
        CHECK(seam_metric_value(h) == 2.4375);
        seam_histogram_observe(seam_metric_get(nolabel, SEAM_METRIC_NO_LABELS), 0.5);
        check_render(m, BUILD_INFO
                     "# HELP seam_handler_duration_seconds Handler duration.\n"
                     "# TYPE seam_handler_duration_seconds histogram\n"
                     "seam_handler_duration_seconds_bucket{consumer=\"audit\",le=\"0.125\"} 2\n"
                     "seam_handler_duration_seconds_bucket{consumer=\"audit\",le=\"0.5\"} 3\n"
                     "seam_handler_duration_seconds_bucket{consumer=\"audit\",le=\"1\"} 3\n"
                     "seam_handler_duration_seconds_bucket{consumer=\"audit\",le=\"+Inf\"} 4\n"
                     "seam_handler_duration_seconds_sum{consumer=\"audit\"} 2.4375\n"
                     "seam_handler_duration_seconds_count{consumer=\"audit\"} 4\n"
                     "# HELP seam_dedup_store_duration_seconds Dedup store latency.\n"
                     "# TYPE seam_dedup_store_duration_seconds histogram\n"
                     "seam_dedup_store_duration_seconds_bucket{le=\"0.125\"} 0\n"
                     "seam_dedup_store_duration_seconds_bucket{le=\"0.5\"} 1\n"
                     "seam_dedup_store_duration_seconds_bucket{le=\"1\"} 1\n"
                     "seam_dedup_store_duration_seconds_bucket{le=\"+Inf\"} 1\n"
                     "seam_dedup_store_duration_seconds_sum 0.5\n"
                     "seam_dedup_store_duration_seconds_count 1\n");

        /* Default buckets: latency in seconds, 0.0005 .. 10. */
        struct seam_metric_family *def = seam_metrics_histogram(
            m, "seam_registry_fetch_duration_seconds", "Registry fetches.",
            SEAM_METRIC_NO_LABELS, NULL, 0);
        struct seam_metric *dh = seam_metric_get(def, SEAM_METRIC_NO_LABELS);
        seam_histogram_observe(dh, 0.0001);
        seam_histogram_observe(dh, 0.003);
        seam_histogram_observe(dh, 60);
        seam_histogram_observe(dh, NAN); /* counted in +Inf, as Prometheus does */
        char *text = render(m);
        CHECK_CONTAINS(text, "seam_registry_fetch_duration_seconds_bucket{le=\"0.0005\"} 1\n"
                             "seam_registry_fetch_duration_seconds_bucket{le=\"0.001\"} 1\n"
                             "seam_registry_fetch_duration_seconds_bucket{le=\"0.0025\"} 1\n"
                             "seam_registry_fetch_duration_seconds_bucket{le=\"0.005\"} 2\n");
        CHECK_CONTAINS(text, "seam_registry_fetch_duration_seconds_bucket{le=\"10\"} 2\n"
                             "seam_registry_fetch_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                             "seam_registry_fetch_duration_seconds_sum NaN\n"
                             "seam_registry_fetch_duration_seconds_count 4\n");
        free(text);
        seam_metrics_destroy(m);
}

static void test_escaping(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_metric_family *f = seam_metrics_gauge(
            m, "seam_test_escape_ratio", "Help with a \\ backslash,\na newline and \"quotes\".",
            SEAM_METRIC_LABELS("v"));
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("a\\b\"c\nd")), 1);
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("")), 2);
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("caf\xc3\xa9 {x=\"1\"}")), 3);
        check_render(m, BUILD_INFO
                     "# HELP seam_test_escape_ratio Help with a \\\\ backslash,\\na newline and \"quotes\".\n"
                     "# TYPE seam_test_escape_ratio gauge\n"
                     "seam_test_escape_ratio{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                     "seam_test_escape_ratio{v=\"\"} 2\n"
                     "seam_test_escape_ratio{v=\"caf\xc3\xa9 {x=\\\"1\\\"}\"} 3\n");
        /* Not UTF-8: Prometheus would reject the whole scrape, so the series
         * is refused instead. */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xff")) == NULL);
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xc3")) == NULL);         /* truncated */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xc0\xaf")) == NULL);     /* overlong */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xed\xa0\x80")) == NULL); /* surrogate */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xf0\x9f\x98\x80")) != NULL);
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xe2\x82\xac")) != NULL);     /* 3 bytes */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xf4\x8f\xbf\xbf")) != NULL); /* U+10FFFF */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("\xf4\x90\x80\x80")) == NULL); /* past it */
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("a\x80")) == NULL);             /* lone tail */
        seam_metrics_destroy(m);
}

static void test_removal(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_metric_family *f = seam_metrics_gauge(
            m, "seam_partition_lag_seconds", "Lag in seconds.",
            SEAM_METRIC_LABELS("consumer", "topic", "partition"));
        struct seam_metric_family *g = seam_metrics_counter(
            m, "seam_partition_retries_total", "Retries.",
            SEAM_METRIC_LABELS("consumer", "topic", "partition", "class"));
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("a", "t", "0")), 5);
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("a", "t", "1")), 6);
        seam_gauge_set(seam_metric_get(f, SEAM_METRIC_LABELS("a", "u", "1")), 7);
        seam_counter_inc(seam_metric_get(g, SEAM_METRIC_LABELS("a", "t", "1", "x")));
        seam_counter_inc(seam_metric_get(g, SEAM_METRIC_LABELS("a", "t", "1", "y")));
        seam_counter_inc(seam_metric_get(g, SEAM_METRIC_LABELS("a", "t", "10", "y")));

        /* Partition t/1 revoked: exact removal in one family, by prefix in
         * the one with an extra label. */
        CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_LABELS("a", "t", "1")), 1);
        CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_LABELS("a", "t", "1")), 0);
        CHECK_EQ_INT(seam_metric_remove(g, SEAM_METRIC_LABELS("a", "t", "1")), 2);
        check_render(m, BUILD_INFO
                     "# HELP seam_partition_lag_seconds Lag in seconds.\n"
                     "# TYPE seam_partition_lag_seconds gauge\n"
                     "seam_partition_lag_seconds{consumer=\"a\",topic=\"t\",partition=\"0\"} 5\n"
                     "seam_partition_lag_seconds{consumer=\"a\",topic=\"u\",partition=\"1\"} 7\n"
                     "# HELP seam_partition_retries_total Retries.\n"
                     "# TYPE seam_partition_retries_total counter\n"
                     "seam_partition_retries_total{consumer=\"a\",topic=\"t\",partition=\"10\",class=\"y\"} 1\n");
        /* Assigned again: the series starts over at 0. */
        CHECK(seam_metric_value(seam_metric_get(f, SEAM_METRIC_LABELS("a", "t", "1"))) == 0);
        /* Removing everything leaves no samples and no header. */
        CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_NO_LABELS), 3);
        CHECK_EQ_INT(seam_metric_remove(g, SEAM_METRIC_LABELS("a")), 1);
        check_render(m, BUILD_INFO);
        /* More values than labels matches nothing. */
        CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_LABELS("a", "t", "1", "x")), 0);
        seam_metrics_destroy(m);
}

static void test_many_series(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct seam_metric_family *f = seam_metrics_counter(
            m, "seam_test_series_total", "Many series.", SEAM_METRIC_LABELS("topic", "partition"));
        struct seam_metric *kids[2000];
        char part[16];
        for (int i = 0; i < 2000; i++) {
                snprintf(part, sizeof(part), "%d", i);
                kids[i] = seam_metric_get(f, SEAM_METRIC_LABELS(i % 2 ? "odd" : "even", part));
                CHECK(kids[i] != NULL);
                seam_counter_add_int(kids[i], (uint64_t)i);
        }
        /* Removing half and re-reading the rest finds the same children
         * through the grown and relinked hash table. */
        for (int i = 0; i < 2000; i += 3) {
                snprintf(part, sizeof(part), "%d", i);
                CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_LABELS(i % 2 ? "odd" : "even", part)), 1);
        }
        for (int i = 0; i < 2000; i++) {
                if (i % 3 == 0)
                        continue;
                snprintf(part, sizeof(part), "%d", i);
                struct seam_metric *c = seam_metric_get(f, SEAM_METRIC_LABELS(i % 2 ? "odd" : "even", part));
                CHECK(c == kids[i]);
                CHECK(seam_metric_value(c) == i);
        }
        CHECK_EQ_INT(seam_metric_remove(f, SEAM_METRIC_LABELS("odd")), 667);
        seam_metrics_destroy(m);
}

static void test_registration_rules(void)
{
        struct seam_metrics *m = seam_metrics_new();
        static const double bad_bounds[] = {1, 0.5};
        static const double nan_bounds[] = {0.1, NAN};
        CHECK(!seam_metrics_counter(m, "seam_x_count", "no _total", SEAM_METRIC_NO_LABELS));
        CHECK(!seam_metrics_gauge(m, "seam-x", "bad name", SEAM_METRIC_NO_LABELS));
        CHECK(!seam_metrics_gauge(m, "9seam", "bad name", SEAM_METRIC_NO_LABELS));
        CHECK(!seam_metrics_gauge(m, "seam_x", "", SEAM_METRIC_NO_LABELS));
        CHECK(!seam_metrics_gauge(m, "seam_x", NULL, SEAM_METRIC_NO_LABELS));
        CHECK(!seam_metrics_gauge(m, "seam_x", "h", SEAM_METRIC_LABELS("offset")));
        CHECK(!seam_metrics_gauge(m, "seam_x", "h", SEAM_METRIC_LABELS("key")));
        CHECK(!seam_metrics_gauge(m, "seam_x", "h", SEAM_METRIC_LABELS("a", "a")));
        CHECK(!seam_metrics_gauge(m, "seam_x", "h", SEAM_METRIC_LABELS("__a")));
        CHECK(!seam_metrics_gauge(m, "seam_x", "h", SEAM_METRIC_LABELS("a:b")));
        CHECK(!seam_metrics_histogram(m, "seam_x", "h", SEAM_METRIC_LABELS("le"), NULL, 0));
        CHECK(!seam_metrics_histogram(m, "seam_x", "h", SEAM_METRIC_NO_LABELS, bad_bounds, 2));
        CHECK(!seam_metrics_histogram(m, "seam_x", "h", SEAM_METRIC_NO_LABELS, nan_bounds, 2));

        /* The same shape shares the family; anything else under the name is
         * refused. */
        struct seam_metric_family *a = seam_metrics_counter(
            m, "seam_x_total", "h", SEAM_METRIC_LABELS("consumer"));
        CHECK(a != NULL);
        CHECK(seam_metrics_counter(m, "seam_x_total", "h", SEAM_METRIC_LABELS("consumer")) == a);
        CHECK(!seam_metrics_counter(m, "seam_x_total", "h", SEAM_METRIC_LABELS("topic")));
        CHECK(!seam_metrics_gauge(m, "seam_x_total", "h", SEAM_METRIC_LABELS("consumer")));
        CHECK(!seam_metrics_gauge(m, "seam_build_info", "h", SEAM_METRIC_LABELS("version", "x")));
        seam_counter_inc(seam_metric_get(a, SEAM_METRIC_LABELS("c")));
        /* Two registrations, two unregisters: the first keeps it. */
        seam_metrics_unregister(m, a);
        char *text = render(m);
        CHECK_CONTAINS(text, "seam_x_total{consumer=\"c\"} 1\n");
        free(text);
        seam_metrics_unregister(m, a);
        check_render(m, BUILD_INFO);
        /* The name is free again, with a new shape. */
        CHECK(seam_metrics_gauge(m, "seam_y", "h", SEAM_METRIC_NO_LABELS) != NULL);
        CHECK(seam_metrics_counter(m, "seam_x_total", "h", SEAM_METRIC_NO_LABELS) != NULL);

        /* Wrong label counts and NULLs cost a series, never the process. */
        struct seam_metric_family *g = seam_metrics_gauge(m, "seam_z", "h", SEAM_METRIC_LABELS("a", "b"));
        CHECK(seam_metric_get(g, SEAM_METRIC_LABELS("1")) == NULL);
        CHECK(seam_metric_get(g, SEAM_METRIC_LABELS("1", "2", "3")) == NULL);
        CHECK(seam_metric_get(g, SEAM_METRIC_LABELS("1", NULL)) == NULL);
        CHECK(seam_metric_get(NULL, SEAM_METRIC_NO_LABELS) == NULL);
        seam_counter_inc(NULL);
        seam_counter_add(NULL, 1);
        seam_gauge_set(NULL, 1);
        seam_gauge_add(NULL, 1);
        seam_histogram_observe(NULL, 1);
        CHECK(seam_metric_value(NULL) == 0);
        CHECK_EQ_INT(seam_metric_remove(NULL, SEAM_METRIC_NO_LABELS), 0);
        seam_metrics_unregister(m, NULL);
        seam_metrics_destroy(NULL);
        CHECK(!seam_metrics_counter(NULL, "seam_a_total", "h", SEAM_METRIC_NO_LABELS));
        seam_metrics_destroy(m);
}

struct lag_source {
        int calls;
        int partitions;
};

static void collect_lag(void *arg, struct seam_metric_sink *sink)
{
        struct lag_source *src = arg;
        char part[16];
        src->calls++;
        for (int i = 0; i < src->partitions; i++) {
                snprintf(part, sizeof(part), "%d", i);
                seam_metric_emit(sink, 100.0 * i + 0.5, SEAM_METRIC_LABELS("orders", part));
        }
        /* Dropped: wrong count, not UTF-8. */
        seam_metric_emit(sink, 1, SEAM_METRIC_LABELS("orders"));
        seam_metric_emit(sink, 1, SEAM_METRIC_LABELS("orders", "\xfe"));
}

static void test_callbacks(void)
{
        struct seam_metrics *m = seam_metrics_new();
        struct lag_source src = {0, 2};
        struct seam_metric_family *f = seam_metrics_gauge_func(
            m, "seam_partition_lag_seconds", "Age of the oldest uncommitted message.",
            SEAM_METRIC_LABELS("topic", "partition"), collect_lag, &src);
        CHECK(f != NULL);
        struct seam_metric_family *after = seam_metrics_gauge(
            m, "seam_after", "After.", SEAM_METRIC_NO_LABELS);
        CHECK(after != NULL);
        /* Callback families are not shared and have no stored children. */
        CHECK(!seam_metrics_gauge_func(m, "seam_partition_lag_seconds", "x",
                                       SEAM_METRIC_LABELS("topic", "partition"), collect_lag, &src));
        CHECK(!seam_metrics_gauge(m, "seam_partition_lag_seconds", "x",
                                  SEAM_METRIC_LABELS("topic", "partition")));
        CHECK(seam_metric_get(f, SEAM_METRIC_LABELS("orders", "0")) == NULL);
        CHECK(!seam_metrics_gauge_func(m, "seam_nocb", "x", SEAM_METRIC_NO_LABELS, NULL, NULL));
        check_render(m, BUILD_INFO
                     "# HELP seam_partition_lag_seconds Age of the oldest uncommitted message.\n"
                     "# TYPE seam_partition_lag_seconds gauge\n"
                     "seam_partition_lag_seconds{topic=\"orders\",partition=\"0\"} 0.5\n"
                     "seam_partition_lag_seconds{topic=\"orders\",partition=\"1\"} 100.5\n"
                     "# HELP seam_after After.\n"
                     "# TYPE seam_after gauge\n"
                     "seam_after 0\n");
        CHECK_EQ_INT(src.calls, 1);
        /* Nothing to report: no header either. */
        src.partitions = 0;
        check_render(m, BUILD_INFO "# HELP seam_after After.\n# TYPE seam_after gauge\nseam_after 0\n");
        /* Unregistered: never called again. */
        seam_metrics_unregister(m, f);
        check_render(m, BUILD_INFO "# HELP seam_after After.\n# TYPE seam_after gauge\nseam_after 0\n");
        CHECK_EQ_INT(src.calls, 2);
        seam_metrics_destroy(m);
}

#define THREADS 4
#define PER_THREAD 200000

struct hammer {
        struct seam_metric_family *counters, *gauges, *hists, *churn;
        int id;
};

static void *hammer_run(void *arg)
{
        struct hammer *h = arg;
        char id[8];
        snprintf(id, sizeof(id), "%d", h->id);
        /* Lookups of the shared series race with each other's creation. */
        struct seam_metric *c = seam_metric_get(h->counters, SEAM_METRIC_LABELS("shared"));
        struct seam_metric *g = seam_metric_get(h->gauges, SEAM_METRIC_LABELS("shared"));
        struct seam_metric *hist = seam_metric_get(h->hists, SEAM_METRIC_LABELS("shared"));
        struct seam_metric *own = seam_metric_get(h->counters, SEAM_METRIC_LABELS(id));
        for (int i = 0; i < PER_THREAD; i++) {
                seam_counter_inc(c);
                seam_counter_inc(own);
                if (i % 4 == 0) {
                        seam_counter_add(c, 0.5);
                        seam_gauge_add(g, 2);
                        seam_histogram_observe(hist, (i % 8) ? 0.25 : 4);
                }
                /* Other children of another family come and go meanwhile. */
                if (i % 1000 == 0) {
                        seam_counter_inc(seam_metric_get(h->churn, SEAM_METRIC_LABELS(id)));
                        seam_metric_remove(h->churn, SEAM_METRIC_LABELS(id));
                }
        }
        return NULL;
}

static void test_concurrent(void)
{
        struct seam_metrics *m = seam_metrics_new();
        static const double bounds[] = {1};
        struct hammer hs[THREADS];
        pthread_t th[THREADS];
        struct hammer base = {
            .counters = seam_metrics_counter(m, "seam_test_hammer_total", "h", SEAM_METRIC_LABELS("who")),
            .gauges = seam_metrics_gauge(m, "seam_test_hammer_level", "h", SEAM_METRIC_LABELS("who")),
            .hists = seam_metrics_histogram(m, "seam_test_hammer_seconds", "h",
                                            SEAM_METRIC_LABELS("who"), bounds, 1),
            .churn = seam_metrics_counter(m, "seam_test_churn_total", "h", SEAM_METRIC_LABELS("who")),
        };
        for (int i = 0; i < THREADS; i++) {
                hs[i] = base;
                hs[i].id = i;
                CHECK(pthread_create(&th[i], NULL, hammer_run, &hs[i]) == 0);
        }
        /* Scrapes race with the increments. */
        for (int i = 0; i < 20; i++)
                free(render(m));
        for (int i = 0; i < THREADS; i++)
                pthread_join(th[i], NULL);

        char *text = render(m);
        /* 4 x 200000 increments + 4 x 50000 x 0.5 */
        CHECK_CONTAINS(text, "seam_test_hammer_total{who=\"shared\"} 900000\n");
        for (int i = 0; i < THREADS; i++) {
                char line[64];
                snprintf(line, sizeof(line), "seam_test_hammer_total{who=\"%d\"} 200000\n", i);
                CHECK_CONTAINS(text, line);
        }
        CHECK_CONTAINS(text, "seam_test_hammer_level{who=\"shared\"} 400000\n");
        CHECK_CONTAINS(text, "seam_test_hammer_seconds_bucket{who=\"shared\",le=\"1\"} 100000\n"
                             "seam_test_hammer_seconds_bucket{who=\"shared\",le=\"+Inf\"} 200000\n"
                             "seam_test_hammer_seconds_sum{who=\"shared\"} 425000\n"
                             "seam_test_hammer_seconds_count{who=\"shared\"} 200000\n");
        CHECK(strstr(text, "seam_test_churn_total{") == NULL);
        free(text);
        seam_metrics_destroy(m);
}

/* A scrape with every kind of sample, for promtool. */
static int dump(const char *path)
{
        struct seam_metrics *m = seam_metrics_new();
        struct lag_source src = {0, 3};
        struct seam_metric_family *msgs = seam_metrics_counter(
            m, "seam_consumer_messages_total", "Messages by outcome.",
            SEAM_METRIC_LABELS("consumer", "topic", "outcome"));
        struct seam_metric_family *reb = seam_metrics_counter(
            m, "seam_consumer_rebalances_total", "Rebalances.", SEAM_METRIC_NO_LABELS);
        struct seam_metric_family *lagm = seam_metrics_gauge(
            m, "seam_partition_lag_messages", "Lag in messages, high watermark minus committed offset.",
            SEAM_METRIC_LABELS("consumer", "topic", "partition"));
        struct seam_metric_family *odd = seam_metrics_gauge(
            m, "seam_test_values_ratio", "Odd values and \\ escapes\nin help.",
            SEAM_METRIC_LABELS("case"));
        struct seam_metric_family *dur = seam_metrics_histogram(
            m, "seam_handler_duration_seconds", "Handler duration.",
            SEAM_METRIC_LABELS("consumer"), NULL, 0);
        struct seam_metric_family *lags = seam_metrics_gauge_func(
            m, "seam_partition_lag_seconds", "Age of the oldest uncommitted message.",
            SEAM_METRIC_LABELS("topic", "partition"), collect_lag, &src);
        if (!m || !msgs || !reb || !lagm || !odd || !dur || !lags)
                return 1;
        seam_counter_add_int(seam_metric_get(msgs, SEAM_METRIC_LABELS("audit", "orders", "handled")), 1234);
        seam_counter_add(seam_metric_get(msgs, SEAM_METRIC_LABELS("audit", "orders", "duplicate")), 2.5);
        seam_counter_inc(seam_metric_get(reb, SEAM_METRIC_NO_LABELS));
        seam_gauge_set(seam_metric_get(lagm, SEAM_METRIC_LABELS("audit", "orders", "0")), 17);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("nan")), NAN);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("inf")), INFINITY);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("-inf")), -INFINITY);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("tiny")), 1e-300);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("huge")), 1.7e308);
        seam_gauge_set(seam_metric_get(odd, SEAM_METRIC_LABELS("a\\b\"c\nd caf\xc3\xa9")), -0.1);
        struct seam_metric *h = seam_metric_get(dur, SEAM_METRIC_LABELS("audit"));
        for (int i = 0; i < 100; i++)
                seam_histogram_observe(h, i * 0.0137);
        seam_histogram_observe(seam_metric_get(dur, SEAM_METRIC_LABELS("billing")), 0.002);

        char *text = seam_metrics_render(m, NULL);
        FILE *f = fopen(path, "w");
        int ok = text && f && fputs(text, f) >= 0;
        if (f && fclose(f) != 0)
                ok = 0;
        free(text);
        seam_metrics_destroy(m);
        if (!ok)
                fprintf(stderr, "cannot write %s\n", path);
        return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
        if (argc == 3 && !strcmp(argv[1], "--dump"))
                return dump(argv[2]);
        if (argc != 1) {
                fprintf(stderr, "usage: %s [--dump FILE]\n", argv[0]);
                return 2;
        }
        TEST_RUN(test_counters);
        TEST_RUN(test_gauges);
        TEST_RUN(test_histograms);
        TEST_RUN(test_escaping);
        TEST_RUN(test_removal);
        TEST_RUN(test_many_series);
        TEST_RUN(test_registration_rules);
        TEST_RUN(test_callbacks);
        TEST_RUN(test_concurrent);
        return 0;
}
