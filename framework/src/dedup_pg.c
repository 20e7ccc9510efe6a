/* dedup_pg.c - the PostgreSQL dedup store, shared by every pod of a group.
 *
 *   <table> (scope text, key bytea, marked_at bigint, PRIMARY KEY (scope, key))
 *   index <table>_marked_at USING brin (marked_at)
 *   seam_offsets (group_id, topic, partition, next_offset, updated_at),
 *       for the transactional inbox (inbox.c)
 *
 * Keys are bytea because a key is arbitrary bytes (a header value) and text
 * would reject anything that is not valid UTF-8. marked_at is BRIN-indexed:
 * rows arrive in time order, so the index costs almost nothing per insert
 * and still lets expiry find old rows without a full scan.
 *
 * A batch of marks is ONE statement, INSERT ... SELECT FROM unnest($2::bytea[])
 * ON CONFLICT DO NOTHING, with the keys as one binary array parameter: its
 * implicit transaction commits (durably, synchronous_commit=on) before the
 * call returns. Measured against 500 pipelined single-row INSERTs in one
 * transaction and against unpipelined ones, it was 1.6x and 3x faster
 * (docs/dedup.md). Keys are sorted first, so two pods marking overlapping
 * batches take row locks in the same order and cannot deadlock.
 *
 * Connections: a pool of up to pool_size, each used by one thread at a
 * time, with the statements prepared on connect. A call that finds its
 * connection broken returns SEAM_ERR_TRANSIENT and closes it together with
 * the idle ones (the same outage most likely broke them); the next call
 * connects again. */
#define SEAM_DEDUP_BACKEND
#include "dedup.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* pkg-config's libpq cflags add /usr/include/postgresql; without them
 * (a build configured before libpq was added) use the Debian path. */
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

#define DEFAULT_POOL 4
#define POOL_WAIT_MS 30000
#define EXPIRE_CHUNK 10000
#define SQL_MAX 768

/* Built-in type OIDs (pg_type.h is a server header; these never change). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25
#define OID_BYTEA_ARRAY 1001

struct seam_pg_slot {
        PGconn *conn;
        unsigned gen;
        struct seam_pg_slot *next;
};

struct seam_pg_store {
        char *dsn;
        char table[128];   /* [schema.]name */
        char offsets[128]; /* [schema.]seam_offsets */

        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct seam_pg_slot *idle;
        int open; /* slots in existence, idle or in use */
        int max;
        unsigned gen; /* bumped when an outage is seen */

        char sql_seen[SQL_MAX];
        char sql_mark[SQL_MAX];
        char sql_expire[SQL_MAX];
        char sql_claim[SQL_MAX];
        char sql_store_offset[SQL_MAX];
        char sql_load_offsets[SQL_MAX];
};

/* libpq messages end with a newline and may hold several lines. */
static void copy_msg(char *dst, size_t n, const char *src)
{
        snprintf(dst, n, "%s", src ? src : "");
        size_t l = strlen(dst);
        while (l && (dst[l - 1] == '\n' || dst[l - 1] == ' '))
                dst[--l] = '\0';
        for (char *p = dst; *p; p++)
                if (*p == '\n')
                        *p = ' ';
}

static int sqlstate_is(const char *st, const char *prefix)
{
        return st && strncmp(st, prefix, strlen(prefix)) == 0;
}

int seam_pg_classify(struct pg_conn *conn, const struct pg_result *res,
                     const char *what, int *broken, char *err, size_t errlen)
{
        const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *primary =
            res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *constraint =
            res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
        char msg[512];
        copy_msg(msg, sizeof(msg), primary ? primary : PQerrorMessage(conn));
        if (!*msg)
                snprintf(msg, sizeof(msg), "no answer from the server");

        int bad = PQstatus(conn) != CONNECTION_OK || sqlstate_is(st, "08") ||
                  sqlstate_is(st, "57P01") || sqlstate_is(st, "57P02") ||
                  sqlstate_is(st, "57P03");
        if (broken)
                *broken = bad;
        int code;
        if (bad || !st)
                code = SEAM_ERR_TRANSIENT;
        else if (sqlstate_is(st, "40") || sqlstate_is(st, "53") ||
                 sqlstate_is(st, "55") || sqlstate_is(st, "57") ||
                 sqlstate_is(st, "58") || sqlstate_is(st, "XX"))
                /* serialization failure, deadlock, out of disk/memory/
                 * connections, lock timeout, cancel (statement_timeout),
                 * I/O error: all may pass */
                code = SEAM_ERR_TRANSIENT;
        else if (sqlstate_is(st, "22") || sqlstate_is(st, "23") ||
                 sqlstate_is(st, "P0"))
                /* the data: bad input, constraint violation, or a trigger
                 * that RAISEs on it */
                code = SEAM_ERR_INVALID;
        else
                /* the statement: syntax, unknown table or column,
                 * permission, feature not supported */
                code = SEAM_ERR_FATAL;
        if (constraint)
                seam_errf(err, errlen, "%s: %s (SQLSTATE %s, constraint %s)",
                        what, msg, st ? st : "none", constraint);
        else
                seam_errf(err, errlen, "%s: %s (SQLSTATE %s)", what, msg,
                        st ? st : "none");
        return code;
}

/* For the store's own statements: anything but bad data is trouble with the
 * store that an operator can fix while the consumer waits. */
static int store_code(int code)
{
        return code == SEAM_ERR_INVALID ? SEAM_ERR_INVALID : SEAM_ERR_TRANSIENT;
}

/* ---- connections ---- */

static void ignore_notice(void *arg, const char *message)
{
        (void)arg;
        (void)message;
}

static PGconn *pg_connect(const char *dsn, char *err, size_t errlen)
{
        /* Defaults first: a key repeated later (in the DSN, expanded in
         * place of dbname) wins. Keepalives and tcp_user_timeout turn a
         * silently dead server into an error instead of a hung worker. */
        const char *keys[] = {"connect_timeout", "keepalives",
                              "keepalives_idle", "keepalives_interval",
                              "keepalives_count", "tcp_user_timeout",
                              "application_name", "dbname", NULL};
        const char *vals[] = {"10", "1", "10", "5", "3", "30000", "seam", dsn,
                              NULL};
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        if (!c) {
                seam_errf(err, errlen, "dedup postgres: out of memory");
                return NULL;
        }
        if (PQstatus(c) != CONNECTION_OK) {
                char msg[512];
                copy_msg(msg, sizeof(msg), PQerrorMessage(c));
                seam_errf(err, errlen, "dedup postgres: cannot connect: %s", msg);
                PQfinish(c);
                return NULL;
        }
        /* libpq prints NOTICEs ("relation already exists, skipping") to
         * stderr, outside the structured log. */
        PQsetNoticeProcessor(c, ignore_notice, NULL);
        return c;
}

static int prepare_one(PGconn *c, const char *name, const char *sql, int n,
                       const Oid *types, char *err, size_t errlen)
{
        PGresult *r = PQprepare(c, name, sql, n, types);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                PQclear(r);
                return 0;
        }
        char what[64];
        snprintf(what, sizeof(what), "dedup postgres: prepare %s", name);
        int rc = seam_pg_classify(c, r, what, NULL, err, errlen);
        PQclear(r);
        return store_code(rc);
}

static int prepare_all(struct seam_pg_store *s, PGconn *c, char *err,
                       size_t errlen)
{
        static const Oid seen_t[] = {OID_TEXT, OID_BYTEA_ARRAY};
        static const Oid mark_t[] = {OID_TEXT, OID_BYTEA_ARRAY, OID_INT8};
        static const Oid expire_t[] = {OID_INT8};
        static const Oid claim_t[] = {OID_TEXT, OID_BYTEA, OID_INT8};
        static const Oid store_t[] = {OID_TEXT, OID_TEXT, OID_INT4, OID_INT8};
        static const Oid load_t[] = {OID_TEXT};
        int rc;
        if ((rc = prepare_one(c, "seam_seen", s->sql_seen, 2, seen_t, err,
                              errlen)) != 0 ||
            (rc = prepare_one(c, "seam_mark", s->sql_mark, 3, mark_t, err,
                              errlen)) != 0 ||
            (rc = prepare_one(c, "seam_expire", s->sql_expire, 1, expire_t,
                              err, errlen)) != 0 ||
            (rc = prepare_one(c, SEAM_PG_STMT_CLAIM, s->sql_claim, 3, claim_t,
                              err, errlen)) != 0 ||
            (rc = prepare_one(c, SEAM_PG_STMT_STORE_OFFSET,
                              s->sql_store_offset, 4, store_t, err,
                              errlen)) != 0 ||
            (rc = prepare_one(c, SEAM_PG_STMT_LOAD_OFFSETS,
                              s->sql_load_offsets, 1, load_t, err,
                              errlen)) != 0)
                return rc;
        return 0;
}

static void slot_free(struct seam_pg_slot *slot)
{
        if (!slot)
                return;
        if (slot->conn)
                PQfinish(slot->conn);
        free(slot);
}

int seam_pg_acquire(struct seam_pg_store *s, struct seam_pg_slot **out,
                    char *err, size_t errlen)
{
        *out = NULL;
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += POOL_WAIT_MS / 1000;

        pthread_mutex_lock(&s->mu);
        while (!s->idle && s->open >= s->max) {
                if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) ==
                    ETIMEDOUT) {
                        pthread_mutex_unlock(&s->mu);
                        seam_errf(err, errlen,
                                "dedup postgres: all %d connections stayed "
                                "busy for %d s (raise pool_size)",
                                s->max, POOL_WAIT_MS / 1000);
                        return SEAM_ERR_TRANSIENT;
                }
        }
        struct seam_pg_slot *slot = s->idle;
        if (slot) {
                s->idle = slot->next;
                slot->next = NULL;
                pthread_mutex_unlock(&s->mu);
                *out = slot;
                return 0;
        }
        s->open++;
        unsigned gen = s->gen;
        pthread_mutex_unlock(&s->mu);

        /* Connect outside the lock: it may take up to connect_timeout. */
        int rc = 0;
        slot = calloc(1, sizeof(*slot));
        if (!slot) {
                seam_errf(err, errlen, "dedup postgres: out of memory");
                rc = SEAM_ERR_NOMEM;
        } else if (!(slot->conn = pg_connect(s->dsn, err, errlen))) {
                rc = SEAM_ERR_TRANSIENT;
        } else if ((rc = prepare_all(s, slot->conn, err, errlen)) == 0) {
                slot->gen = gen;
        }
        if (rc != 0) {
                slot_free(slot);
                pthread_mutex_lock(&s->mu);
                s->open--;
                pthread_cond_signal(&s->cv);
                pthread_mutex_unlock(&s->mu);
                return rc;
        }
        *out = slot;
        return 0;
}

void seam_pg_release(struct seam_pg_store *s, struct seam_pg_slot *slot,
                     int broken)
{
        if (!slot)
                return;
        struct seam_pg_slot *drop = NULL;
        pthread_mutex_lock(&s->mu);
        if (broken) {
                s->gen++;
                drop = s->idle;
                for (struct seam_pg_slot *p = s->idle; p; p = p->next)
                        s->open--;
                s->idle = NULL;
        }
        if (broken || slot->gen != s->gen ||
            PQtransactionStatus(slot->conn) != PQTRANS_IDLE) {
                /* Broken, older than an outage, or left inside a
                 * transaction by a failed rollback: never reuse. */
                s->open--;
                slot->next = drop;
                drop = slot;
        } else {
                slot->next = s->idle;
                s->idle = slot;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        while (drop) {
                struct seam_pg_slot *next = drop->next;
                slot_free(drop);
                drop = next;
        }
}

struct pg_conn *seam_pg_slot_conn(struct seam_pg_slot *slot)
{
        return slot->conn;
}

/* ---- statements ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
        p[0] = (unsigned char)(v >> 24);
        p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);
        p[3] = (unsigned char)v;
}

/* The binary wire form of a one-dimensional bytea[] without NULLs. */
static unsigned char *bytea_array(const char *const *keys, size_t n,
                                  size_t *len)
{
        size_t total = 20;
        for (size_t i = 0; i < n; i++)
                total += 4 + strlen(keys[i]);
        unsigned char *buf = malloc(total), *p = buf;
        if (!buf)
                return NULL;
        put_be32(p, 1);          /* dimensions */
        put_be32(p + 4, 0);      /* no NULLs */
        put_be32(p + 8, OID_BYTEA);
        put_be32(p + 12, (uint32_t)n);
        put_be32(p + 16, 1);     /* lower bound */
        p += 20;
        for (size_t i = 0; i < n; i++) {
                size_t kl = strlen(keys[i]);
                put_be32(p, (uint32_t)kl);
                memcpy(p + 4, keys[i], kl);
                p += 4 + kl;
        }
        *len = total;
        return buf;
}

/* Run a prepared statement of the store on a pooled connection. Returns 0
 * with the result in *out (caller PQclears), or a negative seam_err. */
static int run(struct seam_pg_store *s, const char *stmt, int n,
               const char *const *vals, const int *lens, const int *fmts,
               ExecStatusType want, const char *what, PGresult **out,
               char *err, size_t errlen)
{
        struct seam_pg_slot *slot;
        *out = NULL;
        int rc = seam_pg_acquire(s, &slot, err, errlen);
        if (rc != 0)
                return rc;
        PGresult *r = PQexecPrepared(slot->conn, stmt, n, vals, lens, fmts, 0);
        if (PQresultStatus(r) == want) {
                seam_pg_release(s, slot, 0);
                *out = r;
                return 0;
        }
        int broken = 0;
        rc = seam_pg_classify(slot->conn, r, what, &broken, err, errlen);
        PQclear(r);
        seam_pg_release(s, slot, broken);
        return store_code(rc);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int pg_seen_batch(void *impl, const char *scope,
                         const char *const *keys, size_t n,
                         unsigned char *seen, char *err, size_t errlen)
{
        struct seam_pg_store *s = impl;
        size_t alen;
        unsigned char *arr = bytea_array(keys, n, &alen);
        if (!arr) {
                seam_errf(err, errlen, "dedup postgres: out of memory");
                return SEAM_ERR_NOMEM;
        }
        const char *vals[2] = {scope, (const char *)arr};
        int lens[2] = {0, (int)alen};
        int fmts[2] = {0, 1};
        PGresult *r;
        int rc = run(s, "seam_seen", 2, vals, lens, fmts, PGRES_TUPLES_OK,
                     "dedup postgres: seen", &r, err, errlen);
        free(arr);
        if (rc != 0)
                return rc;
        memset(seen, 0, n);
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
                long long ord = strtoll(PQgetvalue(r, i, 0), NULL, 10);
                if (ord >= 1 && (size_t)ord <= n)
                        seen[ord - 1] = 1;
        }
        PQclear(r);
        return 0;
}

static int pg_mark(void *impl, const char *scope, const char *const *keys,
                   size_t n, int64_t now_ms, char *err, size_t errlen)
{
        struct seam_pg_store *s = impl;
        const char **sorted = malloc(n * sizeof(*sorted));
        if (!sorted) {
                seam_errf(err, errlen, "dedup postgres: out of memory");
                return SEAM_ERR_NOMEM;
        }
        memcpy(sorted, keys, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_str);
        size_t alen;
        unsigned char *arr = bytea_array(sorted, n, &alen);
        free(sorted);
        if (!arr) {
                seam_errf(err, errlen, "dedup postgres: out of memory");
                return SEAM_ERR_NOMEM;
        }
        char now[24];
        snprintf(now, sizeof(now), "%lld", (long long)now_ms);
        const char *vals[3] = {scope, (const char *)arr, now};
        int lens[3] = {0, (int)alen, 0};
        int fmts[3] = {0, 1, 0};
        PGresult *r;
        int rc = run(s, "seam_mark", 3, vals, lens, fmts, PGRES_COMMAND_OK,
                     "dedup postgres: mark", &r, err, errlen);
        free(arr);
        PQclear(r);
        return rc;
}

static long pg_expire(void *impl, int64_t cutoff_ms, char *err, size_t errlen)
{
        struct seam_pg_store *s = impl;
        char cutoff[24];
        snprintf(cutoff, sizeof(cutoff), "%lld", (long long)cutoff_ms);
        const char *vals[1] = {cutoff};
        long total = 0;
        for (;;) {
                PGresult *r;
                int rc = run(s, "seam_expire", 1, vals, NULL, NULL,
                             PGRES_COMMAND_OK, "dedup postgres: expire", &r,
                             err, errlen);
                if (rc != 0)
                        return rc;
                long n = strtol(PQcmdTuples(r), NULL, 10);
                PQclear(r);
                total += n;
                if (n < EXPIRE_CHUNK)
                        return total;
        }
}

static void pg_destroy(void *impl)
{
        struct seam_pg_store *s = impl;
        if (!s)
                return;
        struct seam_pg_slot *p = s->idle;
        while (p) {
                struct seam_pg_slot *next = p->next;
                slot_free(p);
                p = next;
        }
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->dsn);
        free(s);
}

static const struct seam_dedup_ops pg_ops = {
        .seen_batch = pg_seen_batch,
        .mark = pg_mark,
        .expire = pg_expire,
        .destroy = pg_destroy,
};

/* ---- open ---- */

static int valid_ident(const char *p, size_t n, size_t max)
{
        if (n == 0 || n > max || !((*p >= 'a' && *p <= 'z') || *p == '_'))
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!((p[i] >= 'a' && p[i] <= 'z') ||
                      (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
                        return 0;
        return 1;
}

/* [schema.]table in the lower-case identifier alphabet, so names need no
 * quoting and mean the same in a plugin's SQL. The table part leaves room
 * for the "_marked_at" index name within PostgreSQL's 63 bytes. */
static int parse_table(const char *t, char *schema, size_t slen,
                       const char **name)
{
        const char *dot = strchr(t, '.');
        if (dot) {
                if (!valid_ident(t, (size_t)(dot - t), 63) ||
                    !valid_ident(dot + 1, strlen(dot + 1), 50))
                        return 0;
                snprintf(schema, slen, "%.*s.", (int)(dot - t), t);
                *name = dot + 1;
                return 1;
        }
        if (!valid_ident(t, strlen(t), 50))
                return 0;
        schema[0] = '\0';
        *name = t;
        return 1;
}

static int create_schema(struct seam_pg_store *s, PGconn *c, const char *name,
                         char *err, size_t errlen)
{
        /* Two pods starting at once would race in CREATE TABLE IF NOT
         * EXISTS (a unique violation on pg_type): serialize on an advisory
         * lock held until COMMIT. */
        char sql[2048];
        snprintf(sql, sizeof(sql),
                 "BEGIN;"
                 "SELECT pg_advisory_xact_lock(hashtext('seam_dedup_schema'));"
                 "CREATE TABLE IF NOT EXISTS %s ("
                 " scope text NOT NULL,"
                 " key bytea NOT NULL,"
                 " marked_at bigint NOT NULL,"
                 " PRIMARY KEY (scope, key));"
                 "CREATE INDEX IF NOT EXISTS %s_marked_at ON %s"
                 " USING brin (marked_at);"
                 "CREATE TABLE IF NOT EXISTS %s ("
                 " group_id text NOT NULL,"
                 " topic text NOT NULL,"
                 " partition integer NOT NULL,"
                 " next_offset bigint NOT NULL,"
                 " updated_at timestamptz NOT NULL DEFAULT now(),"
                 " PRIMARY KEY (group_id, topic, partition));"
                 "COMMIT;",
                 s->table, name, s->table, s->offsets);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                PQclear(r);
                return 0;
        }
        int rc = seam_pg_classify(c, r, "dedup postgres: create tables", NULL,
                                  err, errlen);
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return rc == SEAM_ERR_TRANSIENT ? rc : SEAM_ERR_IO;
}

int seam_dedup_pg_open(const struct seam_dedup_options *opts,
                       const struct seam_dedup_ops **ops, void **impl,
                       char *err, size_t errlen)
{
        const char *table = opts->table ? opts->table : SEAM_DEDUP_DEFAULT_TABLE;
        char schema[80];
        const char *name;
        if (!opts->dsn) {
                seam_errf(err, errlen, "dedup: the postgres store needs a dsn "
                                     "(libpq conninfo)");
                return SEAM_ERR_INVALID;
        }
        if (!parse_table(table, schema, sizeof(schema), &name)) {
                seam_errf(err, errlen,
                        "dedup: table \"%s\" must be [schema.]name with "
                        "lower-case [a-z_][a-z0-9_]* parts (name at most 50)",
                        table);
                return SEAM_ERR_INVALID;
        }
        if (opts->pool_size < 0) {
                seam_errf(err, errlen, "dedup: pool_size must be >= 0");
                return SEAM_ERR_INVALID;
        }
        char *perr = NULL;
        PQconninfoOption *ci = PQconninfoParse(opts->dsn, &perr);
        if (!ci) {
                char msg[256];
                copy_msg(msg, sizeof(msg), perr ? perr : "out of memory");
                PQfreemem(perr);
                seam_errf(err, errlen, "dedup: invalid dsn: %s", msg);
                return SEAM_ERR_INVALID;
        }
        PQconninfoFree(ci);

        struct seam_pg_store *s = calloc(1, sizeof(*s));
        if (!s || !(s->dsn = strdup(opts->dsn))) {
                free(s);
                seam_errf(err, errlen, "dedup: out of memory");
                return SEAM_ERR_NOMEM;
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->max = opts->pool_size ? opts->pool_size : DEFAULT_POOL;
        snprintf(s->table, sizeof(s->table), "%s", table);
        snprintf(s->offsets, sizeof(s->offsets), "%sseam_offsets", schema);
        /* OFFSET 0 keeps the EXISTS a per-key subplan whose index
         * condition is (scope, key). As a semi-join the planner, trusting
         * statistics that have not seen a new scope yet (estimate: 1 row),
         * chose an index scan on scope alone with key as a join filter:
         * every lookup read the whole scope (measured: 3 ms per lookup at
         * 100k keys, growing with the table). */
        snprintf(s->sql_seen, SQL_MAX,
                 "SELECT u.i FROM unnest($2::bytea[]) WITH ORDINALITY AS u(k, i)"
                 " WHERE EXISTS (SELECT 1 FROM %s t"
                 " WHERE t.scope = $1 AND t.key = u.k OFFSET 0)",
                 s->table);
        snprintf(s->sql_mark, SQL_MAX,
                 "INSERT INTO %s (scope, key, marked_at)"
                 " SELECT $1, k, $3 FROM unnest($2::bytea[]) AS k"
                 " ON CONFLICT DO NOTHING",
                 s->table);
        snprintf(s->sql_expire, SQL_MAX,
                 "DELETE FROM %s WHERE ctid = ANY(ARRAY("
                 "SELECT ctid FROM %s WHERE marked_at < $1 LIMIT %d))",
                 s->table, s->table, EXPIRE_CHUNK);
        snprintf(s->sql_claim, SQL_MAX,
                 "INSERT INTO %s (scope, key, marked_at) VALUES ($1, $2, $3)"
                 " ON CONFLICT DO NOTHING",
                 s->table);
        snprintf(s->sql_store_offset, SQL_MAX,
                 "INSERT INTO %s (group_id, topic, partition, next_offset)"
                 " VALUES ($1, $2, $3, $4)"
                 " ON CONFLICT (group_id, topic, partition) DO UPDATE"
                 " SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                 s->offsets);
        snprintf(s->sql_load_offsets, SQL_MAX,
                 "SELECT topic, partition, next_offset FROM %s"
                 " WHERE group_id = $1 ORDER BY topic, partition",
                 s->offsets);

        /* The first connection creates the tables, then joins the pool:
         * statements can only be prepared once the tables exist. */
        struct seam_pg_slot *slot = calloc(1, sizeof(*slot));
        int rc = 0;
        if (!slot) {
                seam_errf(err, errlen, "dedup: out of memory");
                rc = SEAM_ERR_NOMEM;
        } else if (!(slot->conn = pg_connect(s->dsn, err, errlen))) {
                rc = SEAM_ERR_TRANSIENT;
        } else if ((rc = create_schema(s, slot->conn, name, err, errlen)) ==
                       0 &&
                   (rc = prepare_all(s, slot->conn, err, errlen)) == 0) {
                s->open = 1;
                s->idle = slot;
        }
        if (rc != 0) {
                slot_free(slot);
                pg_destroy(s);
                return rc;
        }
        *ops = &pg_ops;
        *impl = s;
        return 0;
}
