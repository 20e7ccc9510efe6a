/* payments_ledger.c - example consumer: applies payment events
 * (schemas/payments.payment-value) to a PostgreSQL ledger through Seam's
 * transactional inbox, so a payment delivered twice is booked once.
 *
 * For each message the host has already BEGUN a transaction and inserted the
 * message's idempotency key (payment_id) into its dedup table; a key that was
 * there means the payment was booked before, and handle() is not called at
 * all. handle() then adds, through api->sql_exec in that same transaction:
 *   1. the ledger row (ledger_entries, PRIMARY KEY payment_id: a second
 *      guard, should the dedup key ever be configured differently);
 *   2. the amount to the account's balance (account_balances, upsert),
 *      refused when the account is kept in another currency.
 * The host COMMITs on SEAM_OK and rolls back otherwise, so the ledger row,
 * the balance change and the dedup mark exist together or not at all.
 *
 * The tables are created on the first message (create_tables: true, the
 * default) because the host API offers SQL only inside a message's
 * transaction; see README.md for why that is safe and for the DDL. */
#include <avro.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seam/plugin.h"

struct ledger {
        const struct seam_host_api *api;
        seam_ctx *ctx;
        int create_tables;
        /* Set once the tables are seen at the start of a transaction, i.e.
         * committed by someone: from then on no message checks again. */
        atomic_int tables_ready;
        atomic_int warned_key;
};

static const struct seam_config_key ledger_keys[] = {
        {"create_tables", SEAM_CONFIG_BOOL, "true", 0,
         "create ledger_entries and account_balances on the first message if missing"},
        {NULL, 0, NULL, 0, NULL},
};

/* One statement per entry: sql_exec takes one statement (text parameters go
 * through the extended protocol, which refuses several). */
static const char *const ledger_ddl[] = {
        "CREATE TABLE IF NOT EXISTS ledger_entries ("
        " payment_id text PRIMARY KEY,"
        " account_id text NOT NULL,"
        " amount_cents bigint NOT NULL CHECK (amount_cents <> 0),"
        " currency text NOT NULL,"
        " kind text NOT NULL CHECK (kind IN ('CAPTURE', 'REFUND')),"
        " occurred_at timestamptz NOT NULL,"
        " description text,"
        " kafka_topic text NOT NULL,"
        " kafka_partition integer NOT NULL,"
        " kafka_offset bigint NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (account_id)",
        "CREATE TABLE IF NOT EXISTS account_balances ("
        " account_id text PRIMARY KEY,"
        " currency text NOT NULL,"
        " balance_cents bigint NOT NULL,"
        " entries bigint NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())",
};

static const char ledger_insert_entry[] =
        "INSERT INTO ledger_entries (payment_id, account_id, amount_cents, currency, kind,"
        " occurred_at, description, kafka_topic, kafka_partition, kafka_offset)"
        " VALUES ($1, $2, $3::bigint, $4, $5,"
        " timestamptz 'epoch' + $6::bigint * interval '1 millisecond',"
        " $7, $8, $9::integer, $10::bigint)";

/* The WHERE of DO UPDATE makes a currency conflict update nothing (0 rows)
 * instead of mixing currencies in one balance. */
static const char ledger_upsert_balance[] =
        "INSERT INTO account_balances AS b (account_id, currency, balance_cents, entries)"
        " VALUES ($1, $2, $3::bigint, 1)"
        " ON CONFLICT (account_id) DO UPDATE"
        " SET balance_cents = b.balance_cents + EXCLUDED.balance_cents,"
        " entries = b.entries + 1, updated_at = now()"
        " WHERE b.currency = EXCLUDED.currency";

/* One decoded payment event; strings are borrowed from the message. */
struct payment {
        const char *payment_id;
        const char *account_id;
        int64_t amount_cents;
        const char *currency;
        int64_t occurred_at_ms;
        const char *kind;
        const char *description; /* NULL: none */
};

static int ledger_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        /* An older host has no inbox entries at all: refuse to start rather
         * than fail every message. */
        if (!SEAM_API_HAS(api, sql_query_value)) {
                api->log(ctx, NULL, SEAM_LOG_ERROR,
                         "this seam host predates the transactional inbox (ABI 1.1 with "
                         "sql_exec); payments_ledger needs it");
                return -1;
        }
        struct ledger *l = calloc(1, sizeof(*l));
        if (!l)
                return -1;
        l->api = api;
        l->ctx = ctx;
        api->config_bool(ctx, "create_tables", &l->create_tables);
        atomic_init(&l->tables_ready, 0);
        atomic_init(&l->warned_key, 0);
        *state = l;
        return 0;
}

/* SQL result -> outcome. The host has attached its reason (PostgreSQL's
 * message and SQLSTATE) already. SEAM_SQL_FATAL (the statement is wrong
 * whatever the data), SEAM_SQL_NO_INBOX and codes this plugin does not know
 * (a newer host's) stop the instance rather than dead-letter every
 * message. */
static seam_result sql_outcome(int rc)
{
        switch (rc) {
        case SEAM_SQL_OK:
                return SEAM_OK;
        case SEAM_SQL_TRANSIENT:
                return SEAM_RETRY;
        case SEAM_SQL_INVALID:
                return SEAM_POISON;
        case SEAM_SQL_FATAL:
                return SEAM_FATAL;
        default:
                return SEAM_FATAL;
        }
}

/* The error text for a failed field read; every message would fail the same
 * way (the consumer's reader schema is not payments.payment-value), so the
 * caller returns FATAL. */
static seam_result schema_fatal(const struct ledger *l, const seam_msg *msg, const char *field)
{
        char why[256];
        snprintf(why, sizeof(why),
                 "the decoded record has no usable field '%s': configure schema.reader "
                 "{subject: payments.payment-value, version: 1}",
                 field);
        l->api->msg_set_error(msg, why);
        return SEAM_FATAL;
}

static int get_string(avro_value_t *rec, const char *name, const char **out)
{
        avro_value_t f;
        size_t size;
        if (avro_value_get_by_name(rec, name, &f, NULL) != 0 ||
            avro_value_get_string(&f, out, &size) != 0 || size == 0)
                return -1;
        /* Avro strings may hold NUL bytes; a text parameter would silently
         * end at the first one. */
        return strlen(*out) == size - 1 ? 0 : 1;
}

static int get_enum(avro_value_t *rec, const char *name, const char **out)
{
        avro_value_t f;
        int idx;
        if (avro_value_get_by_name(rec, name, &f, NULL) != 0 ||
            avro_value_get_enum(&f, &idx) != 0)
                return -1;
        *out = avro_schema_enum_get(avro_value_get_schema(&f), idx);
        return *out ? 0 : -1;
}

/* Fills p from the record. Returns SEAM_OK, or the outcome with the reason
 * attached. */
static seam_result read_payment(const struct ledger *l, const seam_msg *msg, struct payment *p)
{
        const struct seam_host_api *api = l->api;
        const struct avro_value *v = api->msg_value(msg);
        if (!v) {
                api->msg_set_error(msg, "no decoded record: payments_ledger needs format: avro");
                return SEAM_FATAL;
        }
        /* Avro C's getters take a non-const value; they do not modify it. */
        avro_value_t rec = *v;
        static const char *const strings[] = {"payment_id", "account_id"};
        const char **dest[] = {&p->payment_id, &p->account_id};
        for (size_t i = 0; i < 2; i++) {
                int rc = get_string(&rec, strings[i], dest[i]);
                if (rc < 0)
                        return schema_fatal(l, msg, strings[i]);
                if (rc > 0 || (*dest[i])[0] == '\0') {
                        char why[128];
                        snprintf(why, sizeof(why), "%s is empty or contains a NUL byte",
                                 strings[i]);
                        api->msg_set_error(msg, why);
                        return SEAM_POISON;
                }
        }
        avro_value_t f;
        if (avro_value_get_by_name(&rec, "amount_cents", &f, NULL) != 0 ||
            avro_value_get_long(&f, &p->amount_cents) != 0)
                return schema_fatal(l, msg, "amount_cents");
        if (avro_value_get_by_name(&rec, "occurred_at", &f, NULL) != 0 ||
            avro_value_get_long(&f, &p->occurred_at_ms) != 0)
                return schema_fatal(l, msg, "occurred_at");
        if (get_enum(&rec, "currency", &p->currency) != 0)
                return schema_fatal(l, msg, "currency");
        if (get_enum(&rec, "kind", &p->kind) != 0)
                return schema_fatal(l, msg, "kind");
        avro_value_t branch;
        p->description = NULL;
        if (avro_value_get_by_name(&rec, "description", &f, NULL) != 0 ||
            avro_value_get_current_branch(&f, &branch) != 0)
                return schema_fatal(l, msg, "description");
        if (avro_value_get_type(&branch) == AVRO_STRING) {
                size_t size;
                if (avro_value_get_string(&branch, &p->description, &size) != 0)
                        return schema_fatal(l, msg, "description");
                if (size == 0 || strlen(p->description) != size - 1) {
                        api->msg_set_error(msg, "description contains a NUL byte");
                        return SEAM_POISON;
                }
        } else if (avro_value_get_type(&branch) != AVRO_NULL) {
                return schema_fatal(l, msg, "description");
        }
        return SEAM_OK;
}

/* Makes sure both tables exist before this transaction uses them. */
static seam_result ensure_tables(struct ledger *l, const seam_msg *msg)
{
        const struct seam_host_api *api = l->api;
        if (atomic_load(&l->tables_ready))
                return SEAM_OK;
        char out[8];
        int found = 0;
        int rc = api->sql_query_value(msg,
                                      "SELECT to_regclass('ledger_entries') IS NOT NULL"
                                      " AND to_regclass('account_balances') IS NOT NULL",
                                      0, NULL, out, sizeof(out), &found);
        if (rc != SEAM_SQL_OK) {
                if (rc == SEAM_SQL_NO_INBOX)
                        api->msg_set_error(msg, "payments_ledger needs the transactional inbox: "
                                                "idempotency: {store: postgres, inbox: true}");
                return sql_outcome(rc);
        }
        if (found && !strcmp(out, "t")) {
                /* Seen at the start of our transaction: committed, for good. */
                atomic_store(&l->tables_ready, 1);
                return SEAM_OK;
        }
        if (!l->create_tables) {
                api->msg_set_error(msg, "tables ledger_entries/account_balances do not exist and "
                                        "create_tables is false: create them (README.md) first");
                return SEAM_FATAL;
        }
        /* Created in THIS transaction, which may still roll back: do not set
         * tables_ready here; the next message checks again. Two creators
         * (workers, pods) would race in CREATE TABLE IF NOT EXISTS, whose
         * loser gets a unique violation on pg_type (POISON for a good
         * message): the advisory lock, held until our COMMIT, serializes
         * them, and the second then finds the tables. */
        rc = api->sql_exec(msg, "SELECT pg_advisory_xact_lock(hashtext('payments_ledger_ddl'))",
                           0, NULL, NULL);
        for (size_t i = 0; rc == SEAM_SQL_OK && i < sizeof(ledger_ddl) / sizeof(ledger_ddl[0]); i++)
                rc = api->sql_exec(msg, ledger_ddl[i], 0, NULL, NULL);
        if (rc == SEAM_SQL_OK)
                api->log(l->ctx, msg, SEAM_LOG_INFO,
                         "ledger tables created if missing (committed with this message)");
        return sql_outcome(rc);
}

static seam_result ledger_handle(void *state, const seam_msg *msg)
{
        struct ledger *l = state;
        const struct seam_host_api *api = l->api;
        struct payment p;
        seam_result res = read_payment(l, msg, &p);
        if (res != SEAM_OK)
                return res;
        if (p.amount_cents == 0) {
                api->msg_set_error(msg, "amount_cents is 0: a payment must move money");
                return SEAM_POISON;
        }
        /* With any other key, business duplicates reach handle() and end on
         * the primary key as POISON: say so once. */
        const char *key = api->msg_idempotency_key(msg);
        if ((!key || strcmp(key, p.payment_id)) && !atomic_exchange(&l->warned_key, 1))
                api->log(l->ctx, msg, SEAM_LOG_WARN,
                         "the idempotency key is not payment_id: configure idempotency.key.field: "
                         "payment_id, or a repeated payment is dead-lettered by the primary key "
                         "instead of skipped");

        res = ensure_tables(l, msg);
        if (res != SEAM_OK)
                return res;

        char amount[24], occurred[24], partition[16], offset[24];
        snprintf(amount, sizeof(amount), "%lld", (long long)p.amount_cents);
        snprintf(occurred, sizeof(occurred), "%lld", (long long)p.occurred_at_ms);
        snprintf(partition, sizeof(partition), "%d", (int)api->msg_partition(msg));
        snprintf(offset, sizeof(offset), "%lld", (long long)api->msg_offset(msg));
        const char *entry[] = {p.payment_id, p.account_id, amount,
                               p.currency, p.kind, occurred,
                               p.description, api->msg_topic(msg), partition,
                               offset};
        /* A unique violation here (SQLSTATE 23505) means this payment_id is
         * booked under another idempotency key: POISON, the row stays as it
         * was and the message goes to the DLQ for a human. */
        int rc = api->sql_exec(msg, ledger_insert_entry, 10, entry, NULL);
        if (rc != SEAM_SQL_OK)
                return sql_outcome(rc);

        const char *bal[] = {p.account_id, p.currency, amount};
        long rows = -1;
        rc = api->sql_exec(msg, ledger_upsert_balance, 3, bal, &rows);
        if (rc != SEAM_SQL_OK)
                return sql_outcome(rc);
        if (rows == 1)
                return SEAM_OK;

        /* 0 rows: the account exists in another currency. Name it. */
        char kept[64];
        int found = 0;
        const char *acc[] = {p.account_id};
        rc = api->sql_query_value(msg, "SELECT currency FROM account_balances WHERE account_id = $1",
                                  1, acc, kept, sizeof(kept), &found);
        if (rc != SEAM_SQL_OK)
                return sql_outcome(rc);
        char why[512];
        if (found)
                snprintf(why, sizeof(why),
                         "currency mismatch: account %.128s is kept in %s, payment %.128s is in %s",
                         p.account_id, kept, p.payment_id, p.currency);
        else
                snprintf(why, sizeof(why), "balance upsert of account %.128s changed %ld rows",
                         p.account_id, rows);
        api->msg_set_error(msg, why);
        /* Not found cannot happen while our upsert holds the row's lock;
         * should it anyway, trying again is the harmless answer. */
        return found ? SEAM_POISON : SEAM_RETRY;
}

static void ledger_close(void *state)
{
        free(state);
}

static const struct seam_plugin ledger_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = "payments_ledger",
        .version = "1.0.0",
        .config_keys = ledger_keys,
        .init = ledger_init,
        .handle = ledger_handle,
        .close = ledger_close,
};

SEAM_PLUGIN_DEFINE(ledger_plugin)
