#include "tracker.h"

#include <stdlib.h>

#include "err.h"

/* A ring of entries in fetch order. [0, done_prefix) are complete; the
 * commit point is entry done_prefix's offset (or newest + 1). Entries below
 * the broker's committed offset are released; the newest entry is always
 * kept so the commit point survives an empty window. */
struct entry {
        int64_t offset;
        int64_t ts;
        int done;
};

struct seam_tracker {
        struct entry *ring;
        size_t cap, head, count;
        size_t done_prefix;
        int64_t last_added;  /* -1: nothing added yet */
        int64_t forgot_from; /* -1: none; else commit point can't pass it */
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

static void advance_done_prefix(struct seam_tracker *t)
{
        while (t->done_prefix < t->count && at(t, t->done_prefix)->done)
                t->done_prefix++;
}

int seam_tracker_add(struct seam_tracker *t, int64_t offset, int64_t timestamp_ms)
{
        if (offset < 0 || offset <= t->last_added)
                return SEAM_ERR_INVALID;
        if (t->count == t->cap && grow(t) < 0)
                return SEAM_ERR_NOMEM;
        *at(t, t->count) = (struct entry){offset, timestamp_ms, 0};
        t->count++;
        t->pending++;
        t->last_added = offset;
        /* A re-fetch after forget_from starts at the forgotten offset again. */
        if (t->forgot_from >= 0 && offset >= t->forgot_from)
                t->forgot_from = -1;
        return 0;
}

/* Binary search: offsets in the ring are strictly increasing. Returns the
 * index of the first entry >= offset (count if none). */
static size_t lower_bound(const struct seam_tracker *t, int64_t offset)
{
        size_t lo = 0, hi = t->count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (at(t, mid)->offset < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int seam_tracker_complete(struct seam_tracker *t, int64_t offset)
{
        /* Within a partition messages complete in order: the entry is
         * almost always the first pending one. */
        size_t i = t->done_prefix < t->count && at(t, t->done_prefix)->offset == offset
                           ? t->done_prefix
                           : lower_bound(t, offset);
        if (i == t->count || at(t, i)->offset != offset || at(t, i)->done)
                return SEAM_ERR_NOTFOUND;
        at(t, i)->done = 1;
        t->pending--;
        advance_done_prefix(t);
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
        if (t->done_prefix > t->count)
                t->done_prefix = t->count;
        /* The next add may reuse these offsets. */
        t->last_added = t->count ? at(t, t->count - 1)->offset : offset - 1;
        if (t->forgot_from < 0 || offset < t->forgot_from)
                t->forgot_from = offset;
}

int seam_tracker_start_at(struct seam_tracker *t, int64_t offset)
{
        if (t->count || t->last_added >= 0 || offset < 0)
                return SEAM_ERR_INVALID;
        /* The same state as "everything from `offset` on was forgotten". */
        t->forgot_from = offset;
        t->last_added = offset - 1;
        return 0;
}

int64_t seam_tracker_commit_point(const struct seam_tracker *t)
{
        int64_t cp;
        if (t->done_prefix < t->count)
                cp = at(t, t->done_prefix)->offset;
        else if (t->count)
                cp = at(t, t->count - 1)->offset + 1;
        else
                cp = t->forgot_from; /* -1 when nothing was ever added */
        if (t->forgot_from >= 0 && cp > t->forgot_from)
                cp = t->forgot_from;
        return cp;
}

void seam_tracker_release(struct seam_tracker *t, int64_t committed)
{
        /* Keep the newest entry: it carries the commit point (newest + 1). */
        while (t->count > 1 && t->done_prefix > 0 && at(t, 0)->offset < committed) {
                t->head = (t->head + 1) % t->cap;
                t->count--;
                t->done_prefix--;
        }
}

int seam_tracker_first_from(const struct seam_tracker *t, int64_t offset,
                            int64_t *offset_out, int64_t *ts_out)
{
        size_t i = lower_bound(t, offset);
        if (i == t->count)
                return SEAM_ERR_NOTFOUND;
        *offset_out = at(t, i)->offset;
        *ts_out = at(t, i)->ts;
        return 0;
}

size_t seam_tracker_pending(const struct seam_tracker *t)
{
        return t->pending;
}

size_t seam_tracker_size(const struct seam_tracker *t)
{
        return t->count;
}

int64_t seam_tracker_oldest_pending(const struct seam_tracker *t)
{
        return t->done_prefix < t->count ? at(t, t->done_prefix)->offset : -1;
}
