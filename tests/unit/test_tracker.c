/* test_tracker.c - the commit point never passes an unfinished offset. */
#include <stdlib.h>

#include "check.h"
#include "err.h"
#include "tracker.h"

static void test_in_order(void)
{
        struct seam_tracker *t = seam_tracker_new();
        CHECK_EQ_INT(seam_tracker_commit_point(t), -1);
        for (int64_t o = 10; o < 15; o++)
                CHECK_EQ_INT(seam_tracker_add(t, o, 1000 + (o)), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 10);
        CHECK_EQ_INT(seam_tracker_complete(t, 10), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 11);
        for (int64_t o = 11; o < 15; o++)
                CHECK_EQ_INT(seam_tracker_complete(t, o), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 15);
        CHECK_EQ_INT(seam_tracker_pending(t), 0);
        seam_tracker_destroy(t);
}

static void test_out_of_order_and_gaps(void)
{
        struct seam_tracker *t = seam_tracker_new();
        /* Gaps (transaction markers, compaction) are fine. */
        int64_t offs[] = {3, 4, 7, 8, 20};
        for (int i = 0; i < 5; i++)
                CHECK_EQ_INT(seam_tracker_add(t, offs[i], 1000 + (offs[i])), 0);
        CHECK_EQ_INT(seam_tracker_complete(t, 7), 0);
        CHECK_EQ_INT(seam_tracker_complete(t, 20), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 3);
        CHECK_EQ_INT(seam_tracker_complete(t, 3), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 4);
        CHECK_EQ_INT(seam_tracker_oldest_pending(t), 4);
        CHECK_EQ_INT(seam_tracker_complete(t, 4), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 8);
        CHECK_EQ_INT(seam_tracker_complete(t, 8), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 21);
        CHECK_EQ_INT(seam_tracker_oldest_pending(t), -1);
        seam_tracker_destroy(t);
}

static void test_errors(void)
{
        struct seam_tracker *t = seam_tracker_new();
        CHECK_EQ_INT(seam_tracker_add(t, 5, 1000 + (5)), 0);
        CHECK_EQ_INT(seam_tracker_add(t, 5, 1000 + (5)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_tracker_add(t, 4, 1000 + (4)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_tracker_add(t, -1, 1000 + (-1)), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_tracker_complete(t, 6), SEAM_ERR_NOTFOUND);
        CHECK_EQ_INT(seam_tracker_complete(t, 5), 0);
        CHECK_EQ_INT(seam_tracker_complete(t, 5), SEAM_ERR_NOTFOUND);
        seam_tracker_destroy(t);
        seam_tracker_destroy(NULL);
}

static void test_forget(void)
{
        struct seam_tracker *t = seam_tracker_new();
        for (int64_t o = 0; o < 10; o++)
                seam_tracker_add(t, o, 1000 + (o));
        for (int64_t o = 0; o < 4; o++)
                seam_tracker_complete(t, o);
        seam_tracker_complete(t, 6);
        seam_tracker_forget_from(t, 5);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 4);
        seam_tracker_complete(t, 4);
        /* 5.. were forgotten: the commit point stops at 5, not 10. */
        CHECK_EQ_INT(seam_tracker_commit_point(t), 5);
        CHECK_EQ_INT(seam_tracker_pending(t), 0);
        /* Fetched again from 5. */
        CHECK_EQ_INT(seam_tracker_add(t, 5, 1000 + (5)), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 5);
        seam_tracker_complete(t, 5);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 6);
        seam_tracker_destroy(t);
}

/* Random completion order against a brute-force model. */
static void test_random_against_model(void)
{
        enum { N = 5000 };
        static int done[N];
        struct seam_tracker *t = seam_tracker_new();
        unsigned seed = 42;
        for (int i = 0; i < N; i++)
                CHECK_EQ_INT(seam_tracker_add(t, 2 * i, 1000 + (2 * i)), 0); /* gaps everywhere */
        for (int k = 0; k < N; k++) {
                int i;
                do
                        i = rand_r(&seed) % N;
                while (done[i]);
                done[i] = 1;
                CHECK_EQ_INT(seam_tracker_complete(t, 2 * i), 0);
                int first = 0;
                while (first < N && done[first])
                        first++;
                int64_t expect = first < N ? 2 * first : 2 * (N - 1) + 1;
                CHECK_EQ_INT(seam_tracker_commit_point(t), expect);
        }
        seam_tracker_destroy(t);
}

static void test_release_and_timestamps(void)
{
        struct seam_tracker *t = seam_tracker_new();
        for (int64_t o = 0; o < 6; o++)
                CHECK_EQ_INT(seam_tracker_add(t, o, 500 + o), 0);
        for (int64_t o = 0; o < 4; o++)
                seam_tracker_complete(t, o);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 4);
        /* Nothing acknowledged yet: the oldest uncommitted is offset 0. */
        int64_t off, ts;
        CHECK_EQ_INT(seam_tracker_first_from(t, 0, &off, &ts), 0);
        CHECK_EQ_INT(off, 0);
        CHECK_EQ_INT(ts, 500);
        CHECK_EQ_INT(seam_tracker_size(t), 6);
        /* The broker acknowledged 2: entries 0 and 1 go. */
        seam_tracker_release(t, 2);
        CHECK_EQ_INT(seam_tracker_size(t), 4);
        CHECK_EQ_INT(seam_tracker_first_from(t, 2, &off, &ts), 0);
        CHECK_EQ_INT(ts, 502);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 4);
        /* Release never drops pending entries. */
        seam_tracker_release(t, 100);
        CHECK_EQ_INT(seam_tracker_size(t), 2);
        CHECK_EQ_INT(seam_tracker_oldest_pending(t), 4);
        seam_tracker_complete(t, 4);
        seam_tracker_complete(t, 5);
        seam_tracker_release(t, 6);
        /* The newest stays: it carries the commit point. */
        CHECK_EQ_INT(seam_tracker_size(t), 1);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 6);
        CHECK_EQ_INT(seam_tracker_first_from(t, 6, &off, &ts), SEAM_ERR_NOTFOUND);
        seam_tracker_destroy(t);
}

static void test_start_at(void)
{
        struct seam_tracker *t = seam_tracker_new();
        CHECK_EQ_INT(seam_tracker_start_at(t, 486), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 486);
        CHECK_EQ_INT(seam_tracker_add(t, 485, 0), SEAM_ERR_INVALID);
        CHECK_EQ_INT(seam_tracker_add(t, 486, 0), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 486);
        CHECK_EQ_INT(seam_tracker_complete(t, 486), 0);
        CHECK_EQ_INT(seam_tracker_commit_point(t), 487);
        CHECK_EQ_INT(seam_tracker_start_at(t, 900), SEAM_ERR_INVALID);
        seam_tracker_destroy(t);
}

int main(void)
{
        TEST_RUN(test_start_at);
        TEST_RUN(test_release_and_timestamps);
        TEST_RUN(test_in_order);
        TEST_RUN(test_out_of_order_and_gaps);
        TEST_RUN(test_errors);
        TEST_RUN(test_forget);
        TEST_RUN(test_random_against_model);
        return 0;
}
