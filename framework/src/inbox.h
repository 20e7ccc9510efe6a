/* inbox.h - the transactional inbox: a plugin's SQL side effect, its
 * idempotency mark and (optionally) the consumed offset, committed in ONE
 * PostgreSQL transaction on one connection of a postgres dedup store.
 *
 *   begin     BEGIN; INSERT the key ON CONFLICT DO NOTHING. No row inserted:
 *             the message was applied before -> *duplicate = 1, rolled back.
 *             While another transaction holds the same key uncommitted (the
 *             same business key on another pod), the INSERT waits for it and
 *             then reports duplicate (it committed) or proceeds (it rolled
 *             back): this is what closes the race seen()/mark() cannot.
 *   exec      the plugin's statements, parameterised ($1..$n, text values)
 *   store_offset   the consumer's resume point, in the same transaction
 *   commit    all of it or nothing
 *
 * If commit fails on a lost connection the outcome is unknown: retry the
 * whole message; begin will then say duplicate if the commit did land.
 *
 * Results of exec/query_value/commit, which a plugin maps to its outcome:
 *   0                   done
 *   SEAM_ERR_TRANSIENT  connection lost, server restarting, serialization
 *                       failure, deadlock, lock or statement timeout, out of
 *                       disk: roll back and retry the whole message (RETRY)
 *   SEAM_ERR_INVALID    the data: a constraint violation (class 23), bad
 *                       input (class 22), a trigger RAISE (P0): POISON
 *   SEAM_ERR_FATAL      the statement itself is wrong whatever the data
 *                       (syntax, unknown table or column, permission denied)
 *                       or it ended the transaction (COMMIT/ROLLBACK sent
 *                       through exec): every message would fail the same
 *                       way, so stop instead of dead-lettering them all
 * err then holds PostgreSQL's message and SQLSTATE (and the constraint).
 * After any error the transaction is failed: only rollback is useful (commit
 * returns the same error and rolls back).
 *
 * Threads: a transaction belongs to one thread at a time; different
 * transactions run concurrently on separate pooled connections. A thread
 * holding a transaction must not wait for another pooled connection of the
 * same store (pool_size bounds concurrent transactions). */
#ifndef SEAM_INBOX_H
#define SEAM_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "dedup.h"

struct seam_inbox_tx;

/* pg must be a SEAM_DEDUP_POSTGRES store (else SEAM_ERR_INVALID). On 0:
 * either *duplicate = 1 and *tx = NULL (nothing to do), or *duplicate = 0
 * and *tx is open. On error *tx is NULL. */
int seam_inbox_begin(struct seam_dedup *pg, const char *scope,
                     const char *key, int64_t now_ms,
                     struct seam_inbox_tx **tx, int *duplicate, char *err,
                     size_t errlen);

/* One statement with text parameters (params may be NULL when nparams is 0;
 * a NULL entry is SQL NULL). rows_affected (may be NULL) gets the row count
 * of INSERT/UPDATE/DELETE, or the rows returned by a SELECT. */
int seam_inbox_exec(struct seam_inbox_tx *tx, const char *sql, int nparams,
                    const char *const *params, long *rows_affected, char *err,
                    size_t errlen);

/* The first column of the first row as text into out (NUL-terminated).
 * *found = 0 when there is no row or the value is NULL. A value that does
 * not fit in outlen is SEAM_ERR_INVALID (and fails the transaction). */
int seam_inbox_query_value(struct seam_inbox_tx *tx, const char *sql,
                           int nparams, const char *const *params, char *out,
                           size_t outlen, int *found, char *err,
                           size_t errlen);

/* Upsert (group, topic, partition) -> next_offset into seam_offsets.
 * next_offset must be a point below which every message of the partition is
 * done (the commit tracker's commit point), not just this message's offset
 * + 1 when messages of a partition complete out of order. */
int seam_inbox_store_offset(struct seam_inbox_tx *tx, const char *group,
                            const char *topic, int32_t partition,
                            int64_t next_offset, char *err, size_t errlen);

/* Frees tx whatever the result. */
int seam_inbox_commit(struct seam_inbox_tx *tx, char *err, size_t errlen);
/* Frees tx; accepts NULL. */
void seam_inbox_rollback(struct seam_inbox_tx *tx);

/* Calls fn for every offset stored for group (ordered by topic, partition).
 * Returns 0 or a negative seam_err. */
int seam_inbox_load_offsets(struct seam_dedup *pg, const char *group,
                            void (*fn)(void *arg, const char *topic,
                                       int32_t partition, int64_t next_offset),
                            void *arg, char *err, size_t errlen);

#endif
