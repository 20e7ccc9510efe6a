/* inbox.c - the transactional inbox on a connection of the PostgreSQL dedup
 * store's pool (see inbox.h). */
#define SEAM_DEDUP_BACKEND
#include "inbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#else
#include <libpq-fe.h>
#endif

#include "err.h"

struct seam_inbox_tx {
        struct seam_pg_store *store;
        struct seam_pg_slot *slot;
        PGconn *conn;
        int failed;      /* the seam_err that failed the transaction */
        char reason[256]; /* and why, repeated by later calls */
};

static int need_pg(struct seam_dedup *d, char *err, size_t errlen)
{
        if (!d || seam_dedup_get_type(d) != SEAM_DEDUP_POSTGRES) {
                seam_errf(err, errlen, "inbox: needs a postgres dedup store");
                return SEAM_ERR_INVALID;
        }
        return 0;
}

/* Ends the transaction on the server (if the connection still works) and
 * returns the connection to the pool. */
static void finish(struct seam_inbox_tx *tx, int rollback)
{
        int broken = PQstatus(tx->conn) != CONNECTION_OK;
        if (rollback && !broken &&
            PQtransactionStatus(tx->conn) != PQTRANS_IDLE) {
                PGresult *r = PQexec(tx->conn, "ROLLBACK");
                broken = PQresultStatus(r) != PGRES_COMMAND_OK;
                PQclear(r);
        }
        seam_pg_release(tx->store, tx->slot, broken);
        free(tx);
}

/* Record a failed statement: classify it and keep the reason. Whether the
 * connection survived is looked at when the transaction ends (finish). */
static int fail(struct seam_inbox_tx *tx, const PGresult *r, const char *what,
                char *err, size_t errlen)
{
        int rc = seam_pg_classify(tx->conn, r, what, NULL, tx->reason,
                                  sizeof(tx->reason));
        tx->failed = rc;
        seam_errf(err, errlen, "%s", tx->reason);
        return rc;
}

static int check_open(struct seam_inbox_tx *tx, char *err, size_t errlen)
{
        if (!tx) {
                seam_errf(err, errlen, "inbox: no transaction");
                return SEAM_ERR_INVALID;
        }
        if (tx->failed) {
                seam_errf(err, errlen, "inbox: transaction already failed: %s",
                        tx->reason);
                return tx->failed;
        }
        return 0;
}

int seam_inbox_begin(struct seam_dedup *pg, const char *scope,
                     const char *key, int64_t now_ms,
                     struct seam_inbox_tx **tx, int *duplicate, char *err,
                     size_t errlen)
{
        *tx = NULL;
        *duplicate = 0;
        int rc = need_pg(pg, err, errlen);
        if (rc == 0)
                rc = seam_dedup_check_key(scope, key, err, errlen);
        if (rc != 0)
                return rc;
        struct seam_inbox_tx *t = calloc(1, sizeof(*t));
        if (!t) {
                seam_errf(err, errlen, "inbox: out of memory");
                return SEAM_ERR_NOMEM;
        }
        t->store = seam_dedup_impl(pg);
        rc = seam_pg_acquire(t->store, &t->slot, err, errlen);
        if (rc != 0) {
                free(t);
                return rc;
        }
        t->conn = seam_pg_slot_conn(t->slot);

        PGresult *r = PQexec(t->conn, "BEGIN");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = fail(t, r, "inbox: BEGIN", err, errlen);
                PQclear(r);
                finish(t, 1);
                return rc;
        }
        PQclear(r);

        char now[24];
        snprintf(now, sizeof(now), "%lld", (long long)now_ms);
        const char *vals[3] = {scope, key, now};
        int lens[3] = {0, (int)strlen(key), 0};
        int fmts[3] = {0, 1, 0};
        r = PQexecPrepared(t->conn, SEAM_PG_STMT_CLAIM, 3, vals, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = fail(t, r, "inbox: claim key", err, errlen);
                PQclear(r);
                finish(t, 1);
                /* Our own INSERT failing is store trouble, not the
                 * message's fault, unless the key itself is bad data. */
                return rc == SEAM_ERR_INVALID ? rc : SEAM_ERR_TRANSIENT;
        }
        int inserted = strcmp(PQcmdTuples(r), "1") == 0;
        PQclear(r);
        if (!inserted) {
                *duplicate = 1;
                finish(t, 1);
                return 0;
        }
        *tx = t;
        return 0;
}

static int exec_params(struct seam_inbox_tx *tx, const char *sql, int nparams,
                       const char *const *params, PGresult **out, char *err,
                       size_t errlen)
{
        *out = NULL;
        int rc = check_open(tx, err, errlen);
        if (rc != 0)
                return rc;
        if (!sql || nparams < 0 || (nparams > 0 && !params)) {
                seam_errf(err, errlen, "inbox: no statement or parameters");
                return SEAM_ERR_INVALID;
        }
        PGresult *r = PQexecParams(tx->conn, sql, nparams, NULL, params, NULL,
                                   NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                rc = fail(tx, r, "inbox: statement failed", err, errlen);
                PQclear(r);
                return rc;
        }
        /* A COMMIT or ROLLBACK sent through exec would split the effect
         * from its mark: refuse it, the transaction is then lost. */
        if (PQtransactionStatus(tx->conn) != PQTRANS_INTRANS) {
                PQclear(r);
                snprintf(tx->reason, sizeof(tx->reason),
                         "inbox: the statement ended the inbox transaction "
                         "(COMMIT/ROLLBACK are the host's)");
                tx->failed = SEAM_ERR_FATAL;
                seam_errf(err, errlen, "%s", tx->reason);
                return SEAM_ERR_FATAL;
        }
        *out = r;
        return 0;
}

int seam_inbox_exec(struct seam_inbox_tx *tx, const char *sql, int nparams,
                    const char *const *params, long *rows_affected, char *err,
                    size_t errlen)
{
        PGresult *r;
        int rc = exec_params(tx, sql, nparams, params, &r, err, errlen);
        if (rc != 0)
                return rc;
        if (rows_affected) {
                const char *n = PQcmdTuples(r);
                *rows_affected = *n ? strtol(n, NULL, 10)
                                    : (long)PQntuples(r);
        }
        PQclear(r);
        return 0;
}

int seam_inbox_query_value(struct seam_inbox_tx *tx, const char *sql,
                           int nparams, const char *const *params, char *out,
                           size_t outlen, int *found, char *err,
                           size_t errlen)
{
        *found = 0;
        if (outlen)
                out[0] = '\0';
        PGresult *r;
        int rc = exec_params(tx, sql, nparams, params, &r, err, errlen);
        if (rc != 0)
                return rc;
        if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) {
                int len = PQgetlength(r, 0, 0);
                if ((size_t)len >= outlen) {
                        PQclear(r);
                        snprintf(tx->reason, sizeof(tx->reason),
                                 "inbox: value of %d bytes does not fit in "
                                 "%zu",
                                 len, outlen);
                        tx->failed = SEAM_ERR_INVALID;
                        seam_errf(err, errlen, "%s", tx->reason);
                        return SEAM_ERR_INVALID;
                }
                memcpy(out, PQgetvalue(r, 0, 0), (size_t)len + 1);
                *found = 1;
        }
        PQclear(r);
        return 0;
}

int seam_inbox_store_offset(struct seam_inbox_tx *tx, const char *group,
                            const char *topic, int32_t partition,
                            int64_t next_offset, char *err, size_t errlen)
{
        int rc = check_open(tx, err, errlen);
        if (rc != 0)
                return rc;
        if (!group || !*group || !topic || !*topic || partition < 0 ||
            next_offset < 0) {
                seam_errf(err, errlen, "inbox: store_offset needs a group, a "
                                     "topic and non-negative numbers");
                return SEAM_ERR_INVALID;
        }
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", (int)partition);
        snprintf(off, sizeof(off), "%lld", (long long)next_offset);
        const char *vals[4] = {group, topic, part, off};
        PGresult *r = PQexecPrepared(tx->conn, SEAM_PG_STMT_STORE_OFFSET, 4,
                                     vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = fail(tx, r, "inbox: store offset", err, errlen);
                PQclear(r);
                return rc == SEAM_ERR_INVALID ? rc : SEAM_ERR_TRANSIENT;
        }
        PQclear(r);
        return 0;
}

int seam_inbox_commit(struct seam_inbox_tx *tx, char *err, size_t errlen)
{
        int rc = check_open(tx, err, errlen);
        if (rc != 0) {
                if (tx)
                        finish(tx, 1);
                return rc;
        }
        PGresult *r = PQexec(tx->conn, "COMMIT");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = fail(tx, r, "inbox: COMMIT", err, errlen);
        } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
                /* The server answers ROLLBACK to the COMMIT of a failed
                 * transaction. */
                seam_errf(err, errlen, "inbox: COMMIT was answered with %s",
                        PQcmdStatus(r));
                rc = SEAM_ERR_TRANSIENT;
        }
        PQclear(r);
        finish(tx, rc != 0);
        return rc;
}

void seam_inbox_rollback(struct seam_inbox_tx *tx)
{
        if (tx)
                finish(tx, 1);
}

int seam_inbox_load_offsets(struct seam_dedup *pg, const char *group,
                            void (*fn)(void *arg, const char *topic,
                                       int32_t partition, int64_t next_offset),
                            void *arg, char *err, size_t errlen)
{
        int rc = need_pg(pg, err, errlen);
        if (rc != 0)
                return rc;
        if (!group || !*group) {
                seam_errf(err, errlen, "inbox: load_offsets needs a group");
                return SEAM_ERR_INVALID;
        }
        struct seam_pg_store *s = seam_dedup_impl(pg);
        struct seam_pg_slot *slot;
        rc = seam_pg_acquire(s, &slot, err, errlen);
        if (rc != 0)
                return rc;
        PGconn *c = seam_pg_slot_conn(slot);
        const char *vals[1] = {group};
        PGresult *r = PQexecPrepared(c, SEAM_PG_STMT_LOAD_OFFSETS, 1, vals,
                                     NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                int broken = 0;
                rc = seam_pg_classify(c, r, "inbox: load offsets", &broken,
                                      err, errlen);
                PQclear(r);
                seam_pg_release(s, slot, broken);
                return rc == SEAM_ERR_INVALID ? rc : SEAM_ERR_TRANSIENT;
        }
        /* The result outlives the connection: give that back before
         * calling fn, which may take its time. */
        int rows = PQntuples(r);
        seam_pg_release(s, slot, 0);
        for (int i = 0; i < rows; i++)
                fn(arg, PQgetvalue(r, i, 0),
                   (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10),
                   (int64_t)strtoll(PQgetvalue(r, i, 2), NULL, 10));
        PQclear(r);
        return 0;
}
