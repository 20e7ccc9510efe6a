/* tracker.h - per-partition commit tracker.
 *
 * Offsets are added in the order they were fetched (increasing, possibly with
 * gaps: transaction markers, compaction), each with its message timestamp,
 * and completed in any order. The commit point is the offset of the oldest
 * message not yet completed, or one past the newest when all are complete:
 * committing it never skips a message that was not finished.
 *
 * Entries stay until the broker acknowledged a commit past them
 * (seam_tracker_release), so the timestamp of the oldest message not yet
 * committed is known: that is the partition's lag in seconds.
 * Not thread-safe: the caller serialises access. */
#ifndef SEAM_TRACKER_H
#define SEAM_TRACKER_H

#include <stddef.h>
#include <stdint.h>

struct seam_tracker;

struct seam_tracker *seam_tracker_new(void);
void seam_tracker_destroy(struct seam_tracker *t); /* accepts NULL */

/* Record a fetched offset and its timestamp (ms, -1 if none); the offset
 * must be greater than every offset added before. Returns 0,
 * SEAM_ERR_INVALID if out of order, SEAM_ERR_NOMEM. */
int seam_tracker_add(struct seam_tracker *t, int64_t offset, int64_t timestamp_ms);

/* Mark an added offset complete. Returns 0, or SEAM_ERR_NOTFOUND if the
 * offset is not pending (never added, or already completed). */
int seam_tracker_complete(struct seam_tracker *t, int64_t offset);

/* Forget pending offsets at or above `offset` (they were dropped without
 * being handled and will be fetched again); the commit point then stops at
 * the oldest forgotten one. */
void seam_tracker_forget_from(struct seam_tracker *t, int64_t offset);

/* Before anything was added: the partition starts at `offset`, everything
 * below it counts as complete, so the commit point is `offset` until
 * messages arrive. Returns SEAM_ERR_INVALID if offsets were added. */
int seam_tracker_start_at(struct seam_tracker *t, int64_t offset);

/* The offset to commit, or -1 if nothing was ever added. */
int64_t seam_tracker_commit_point(const struct seam_tracker *t);

/* The broker acknowledged a commit of `committed`: drop completed entries
 * below it. */
void seam_tracker_release(struct seam_tracker *t, int64_t committed);

/* Timestamp of the first tracked message at or after `offset`; returns 0
 * and sets *offset_out and *ts_out, or SEAM_ERR_NOTFOUND. */
int seam_tracker_first_from(const struct seam_tracker *t, int64_t offset,
                            int64_t *offset_out, int64_t *ts_out);

/* Offsets added and not yet completed. */
size_t seam_tracker_pending(const struct seam_tracker *t);

/* Entries held: pending plus completed-but-not-released. */
size_t seam_tracker_size(const struct seam_tracker *t);

/* The oldest pending offset, or -1 if none. */
int64_t seam_tracker_oldest_pending(const struct seam_tracker *t);

#endif
