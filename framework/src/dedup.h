/* dedup.h - idempotency-key stores: "was the message with this key already
 * handled by this consumer group?", behind one interface.
 *
 *   SEAM_DEDUP_EMBEDDED   an LMDB file on local disk: one instance (the demo,
 *                         a single pod with a persistent volume).
 *   SEAM_DEDUP_POSTGRES   a table in PostgreSQL (libpq), shared by every pod
 *                         of a group: partitions move between pods on a
 *                         rebalance, so their keys must be where the next
 *                         owner looks. It also carries the transactional
 *                         inbox (inbox.h).
 *
 * A scope is the consumer group: several groups can share one store, and a
 * key marked in one scope is unknown to the others. Keys are NUL-terminated
 * byte strings of 1..SEAM_DEDUP_MAX_KEY bytes, compared byte for byte (not
 * required to be UTF-8); scopes are 1..SEAM_DEDUP_MAX_SCOPE bytes.
 *
 * Durability: seam_dedup_mark returns 0 only when the keys are on disk (LMDB
 * fsync / PostgreSQL COMMIT with synchronous_commit=on). Marks must be durable
 * before the offsets they cover are committed, so a crash can only ever
 * redeliver messages whose keys are known, never lose a mark whose offset
 * was committed.
 *
 * Thread-safety: every function may be called concurrently from any thread,
 * except seam_dedup_close, which must be the last call on a handle.
 *
 * Results: 0 (or the documented non-negative value), or a negative seam_err:
 *   SEAM_ERR_INVALID    a bad argument (key empty or too long, scope too
 *                       long, bad table name): the same call will fail again.
 *   SEAM_ERR_TRANSIENT  the store could not answer now (connection lost,
 *                       server restarting, lock timeout, disk or map full):
 *                       pause and retry, never skip the message.
 *   SEAM_ERR_IO         the store is unusable (corrupt file, wrong format)
 *                       or could not be opened.
 *   SEAM_ERR_NOMEM
 * Every error fills err with a message naming the store.
 */
#ifndef SEAM_DEDUP_H
#define SEAM_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#define SEAM_DEDUP_MAX_KEY 1024
#define SEAM_DEDUP_MAX_SCOPE 255
#define SEAM_DEDUP_DEFAULT_TABLE "seam_dedup"
#define SEAM_DEDUP_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)

struct seam_dedup;

enum seam_dedup_type { SEAM_DEDUP_EMBEDDED = 1, SEAM_DEDUP_POSTGRES = 2 };

/* Strings are copied by seam_dedup_open; zero means "default" everywhere. */
struct seam_dedup_options {
        enum seam_dedup_type type;
        const char *path;     /* embedded: the LMDB data file; its lock file
                                 is <path>-lock in the same folder */
        const char *dsn;      /* postgres: libpq conninfo or URI */
        /* postgres: [schema.]table, lower-case [a-z_][a-z0-9_]* parts;
         * default "seam_dedup". The inbox's offsets go to seam_offsets in
         * the same schema. embedded: the name of the LMDB sub-database. */
        const char *table;
        int64_t retention_ms; /* marks older than this are expired; default
                                 7 days */
        /* Appended fields. */
        int pool_size;        /* postgres: most connections held at once
                                 (one per concurrent call); default 4 */
        int64_t max_bytes;    /* embedded: the LMDB map size, the most the
                                 file can grow to; default 64 GiB (address
                                 space only: the file grows as it fills) */
};

/* Open (and create, CREATE TABLE IF NOT EXISTS / a new LMDB file) a store.
 * Returns 0 with a handle in *out, or a negative seam_err with err filled:
 * a folder that does not exist or is not writable, an unreachable database
 * (SEAM_ERR_TRANSIENT) or a bad option (SEAM_ERR_INVALID). */
int seam_dedup_open(const struct seam_dedup_options *opts,
                    struct seam_dedup **out, char *err, size_t errlen);
/* Accepts NULL. Pending keys not flushed are dropped (their offsets were
 * not committed either, so they will be redelivered). */
void seam_dedup_close(struct seam_dedup *d);

enum seam_dedup_type seam_dedup_get_type(const struct seam_dedup *d);
int64_t seam_dedup_retention_ms(const struct seam_dedup *d);

/* 1: key already recorded in scope; 0: not; <0 error. Reads the store only
 * (see seam_dedup_claim for keys being handled in this process). */
int seam_dedup_seen(struct seam_dedup *d, const char *scope, const char *key,
                    char *err, size_t errlen);

/* seam_dedup_seen for n keys in one round trip: seen[i] = 1 or 0. */
int seam_dedup_seen_batch(struct seam_dedup *d, const char *scope,
                          const char *const *keys, size_t n,
                          unsigned char *seen, char *err, size_t errlen);

/* Record n keys with marked_at = now_ms in one durable transaction. A key
 * already recorded keeps its first marked_at (retention counts from the
 * first mark). All or nothing: on error no key of the batch is recorded. */
int seam_dedup_mark(struct seam_dedup *d, const char *scope,
                    const char *const *keys, size_t n, int64_t now_ms,
                    char *err, size_t errlen);

/* Delete marks older than now_ms - retention, in short transactions so
 * marks are not held up. Returns the number of marks deleted, or <0. A
 * message redelivered after its mark expired is handled again: retention
 * must exceed the longest replay or redelivery window. */
long seam_dedup_expire(struct seam_dedup *d, int64_t now_ms, char *err,
                       size_t errlen);

/* ---- In-process claims: closing the gap between "seen" and "marked" ----
 *
 * Between a worker's seen() and the batched mark of its key, another message
 * with the same key (a business duplicate a few messages later, or on
 * another partition handled by this process) would also pass seen(). Claims
 * close that gap inside one process; across processes only the inbox can
 * (docs/dedup.md).
 *
 *   claim(K) -> NEW: handle the message, then release(K, handled)
 *            -> SEEN: duplicate (recorded, or handled here and not yet
 *               flushed): do not call the plugin
 *            -> BUSY: another message with K is being handled in this
 *               process now; its outcome decides: try again later (the
 *               partition waits, no attempt is counted)
 *   release(K, 1)   handled: K joins the pending marks
 *   release(K, 0)   not handled (RETRY, POISON sent to the DLQ): forgotten,
 *                   so a later copy of the message is handled
 *   flush(now)      mark every pending key durably, then it may commit the
 *                   offsets of the messages released before the call
 *
 * Release a message's key before completing its offset in the commit
 * tracker, and flush before every commit: then a committed offset never
 * covers a key that is not durable. */
enum seam_dedup_claim {
        SEAM_DEDUP_NEW = 0,
        SEAM_DEDUP_SEEN = 1,
        SEAM_DEDUP_BUSY = 2
};

/* Returns a seam_dedup_claim value, or <0 (the store could not be read:
 * nothing was claimed). */
int seam_dedup_claim(struct seam_dedup *d, const char *scope, const char *key,
                     char *err, size_t errlen);
/* seam_dedup_claim for n keys with one store round trip (what a lane does
 * with the messages it has queued: against PostgreSQL a round trip per
 * message caps a worker at a few thousand messages per second). out[i] gets
 * the claim value of keys[i]; a key repeated later in the same call is BUSY
 * (the earlier message decides). On error nothing is claimed. */
int seam_dedup_claim_batch(struct seam_dedup *d, const char *scope,
                           const char *const *keys, size_t n, int *out,
                           char *err, size_t errlen);
/* Ends a claim taken by seam_dedup_claim (NEW). Returns 0, SEAM_ERR_NOTFOUND
 * if the key was not claimed, SEAM_ERR_NOMEM. */
int seam_dedup_release(struct seam_dedup *d, const char *scope,
                       const char *key, int handled);
/* Mark all pending keys (one transaction per scope). On error the keys not
 * yet marked stay pending for the next flush; do not commit offsets then. */
int seam_dedup_flush(struct seam_dedup *d, int64_t now_ms, char *err,
                     size_t errlen);
/* Keys released as handled and not yet flushed. */
size_t seam_dedup_pending(struct seam_dedup *d);

/* 0 if scope and key are acceptable, else SEAM_ERR_INVALID with a message. */
int seam_dedup_check_key(const char *scope, const char *key, char *err,
                         size_t errlen);

#ifdef SEAM_DEDUP_BACKEND
/* ---- Between dedup.c, the stores (dedup_embedded.c, dedup_pg.c) and
 * inbox.c; nothing else includes this part. ---- */

/* Scope and keys are checked by dedup.c before a store sees them. */
struct seam_dedup_ops {
        int (*seen_batch)(void *impl, const char *scope,
                          const char *const *keys, size_t n,
                          unsigned char *seen, char *err, size_t errlen);
        int (*mark)(void *impl, const char *scope, const char *const *keys,
                    size_t n, int64_t now_ms, char *err, size_t errlen);
        /* Delete marks with marked_at < cutoff_ms. */
        long (*expire)(void *impl, int64_t cutoff_ms, char *err,
                       size_t errlen);
        void (*destroy)(void *impl);
};

int seam_dedup_embedded_open(const struct seam_dedup_options *opts,
                             const struct seam_dedup_ops **ops, void **impl,
                             char *err, size_t errlen);
int seam_dedup_pg_open(const struct seam_dedup_options *opts,
                       const struct seam_dedup_ops **ops, void **impl,
                       char *err, size_t errlen);

/* The store's implementation object (for inbox.c: the PostgreSQL store). */
void *seam_dedup_impl(struct seam_dedup *d);

/* SHA-256 of data, for keys too long for an LMDB key. */
void seam_dedup_sha256(const void *data, size_t len, unsigned char out[32]);

/* ---- The PostgreSQL connection pool, shared with inbox.c ---- */
struct pg_conn;   /* libpq's PGconn */
struct pg_result; /* libpq's PGresult */
struct seam_pg_store;
struct seam_pg_slot;

/* Take a connection (opening one if needed; waits while the pool is
 * exhausted). SEAM_ERR_TRANSIENT if the server cannot be reached. */
int seam_pg_acquire(struct seam_pg_store *s, struct seam_pg_slot **out,
                    char *err, size_t errlen);
/* Give it back; broken = 1 closes it (and the idle ones, which the same
 * outage most likely broke too). */
void seam_pg_release(struct seam_pg_store *s, struct seam_pg_slot *slot,
                     int broken);
struct pg_conn *seam_pg_slot_conn(struct seam_pg_slot *slot);
/* The statement names prepared on every connection (see dedup_pg.c). */
#define SEAM_PG_STMT_CLAIM "seam_claim"
#define SEAM_PG_STMT_STORE_OFFSET "seam_store_offset"
#define SEAM_PG_STMT_LOAD_OFFSETS "seam_load_offsets"

/* Classify a failed result (NULL: no result at all) on conn: writes
 * "<what>: <server message> (SQLSTATE xxxxx)" to err and returns
 * SEAM_ERR_TRANSIENT (connection, shutdown, serialization failure,
 * deadlock, lock or statement timeout, out of resources),
 * SEAM_ERR_INVALID (data: classes 22 and 23) or SEAM_ERR_FATAL (the
 * statement itself is wrong: syntax, unknown table or column, permission).
 * *broken is set when the connection can no longer be used. */
int seam_pg_classify(struct pg_conn *conn, const struct pg_result *res,
                     const char *what, int *broken, char *err, size_t errlen);
#endif

#endif
