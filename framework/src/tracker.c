#include "tracker.h"

#include <stdlib.h>

#include "err.h"

/* A ring of (offset, done) in fetch order. Completed entries at the head are
 * popped at once, so the ring holds only the window between the oldest
 * pending offset and the newest fetched one. */
struct entry {
        int64_t offset;
        int done;
};

struct seam_tracker {
        struct entry *ring;
        size_t cap, head, count;
        int64_t last_added;   /* -1: nothing added yet */
        int64_t forgot_from;  /* -1: none; else commit point can't pass it */
        size_t pending;
};

struct seam_tracker *seam_tracker_new(void)
{
        struct seam_tracker *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->last_added = -1;
        t->forgot_from = -1;
        return t;
}

void seam_tracker_destroy(struct seam_tracker *t)
{
        if (!t)
                return;
        free(t->ring);
        free(t);
}

static struct entry *at(const struct seam_tracker *t, size_t i)
{
        return &t->ring[(t->head + i) % t->cap];
}

static int grow(struct seam_tracker *t)
{
        size_t ncap = t->cap ? t->cap * 2 : 64;
        struct entry *n = malloc(ncap * sizeof(*n));
        if (!n)
                return SEAM_ERR_NOMEM;
        for (size_t i = 0; i < t->count; i++)
                n[i] = *at(t, i);
        free(t->ring);
        t->ring = n;
        t->cap = ncap;
        t->head = 0;
        return 0;
}

int seam_tracker_add(struct seam_tracker *t, int64_t offset)
{
        if (offset < 0 || offset <= t->last_added)
                return SEAM_ERR_INVALID;
        if (t->count == t->cap && grow(t) < 0)
                return SEAM_ERR_NOMEM;
        *at(t, t->count) = (struct entry){offset, 0};
        t->count++;
        t->pending++;
        t->last_added = offset;
        /* A re-fetch after forget_from starts at the forgotten offset again. */
        if (t->forgot_from >= 0 && offset >= t->forgot_from)
                t->forgot_from = -1;
        return 0;
}

/* Binary search: offsets in the ring are strictly increasing. */
static long find(const struct seam_tracker *t, int64_t offset)
{
        size_t lo = 0, hi = t->count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int64_t o = at(t, mid)->offset;
                if (o == offset)
                        return (long)mid;
                if (o < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

int seam_tracker_complete(struct seam_tracker *t, int64_t offset)
{
        long i = find(t, offset);
        if (i < 0 || at(t, (size_t)i)->done)
                return SEAM_ERR_NOTFOUND;
        at(t, (size_t)i)->done = 1;
        t->pending--;
        /* Pop the completed prefix, but keep the newest entry so the commit
         * point (newest + 1) survives an empty window. */
        while (t->count > 1 && at(t, 0)->done) {
                t->head = (t->head + 1) % t->cap;
                t->count--;
        }
        return 0;
}

void seam_tracker_forget_from(struct seam_tracker *t, int64_t offset)
{
        while (t->count > 0) {
                struct entry *last = at(t, t->count - 1);
                if (last->offset < offset)
                        break;
                if (!last->done)
                        t->pending--;
                t->count--;
        }
        /* The next add may reuse these offsets. */
        t->last_added = t->count ? at(t, t->count - 1)->offset : offset - 1;
        if (t->forgot_from < 0 || offset < t->forgot_from)
                t->forgot_from = offset;
}

int64_t seam_tracker_commit_point(const struct seam_tracker *t)
{
        int64_t cp = -1;
        for (size_t i = 0; i < t->count; i++) {
                const struct entry *e = at(t, i);
                if (!e->done) {
                        cp = e->offset;
                        break;
                }
                cp = e->offset + 1;
        }
        if (t->count == 0 && t->forgot_from >= 0)
                cp = t->forgot_from;
        if (t->forgot_from >= 0 && cp > t->forgot_from)
                cp = t->forgot_from;
        return cp;
}

size_t seam_tracker_pending(const struct seam_tracker *t)
{
        return t->pending;
}

int64_t seam_tracker_oldest_pending(const struct seam_tracker *t)
{
        for (size_t i = 0; i < t->count; i++)
                if (!at(t, i)->done)
                        return at(t, i)->offset;
        return -1;
}
