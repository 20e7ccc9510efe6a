/* user_sync.c - example consumer from the integration world: applies user
 * lifecycle events (subject identity.user-event-value) to a local store
 * through an explicit state machine.
 *
 *   - Transitions are checked against one table; an event the table does
 *     not allow is POISON, with a reason naming both states.
 *   - Each event carries a per-user version that grows by 1. An event at or
 *     below the stored version is stale (a redelivery or a late copy): it is
 *     skipped and counted. An event more than 1 ahead means one is missing:
 *     RETRY, so the host waits and tries again up to retry_max_attempts,
 *     then dead-letters it (class retries_exhausted).
 *   - Each field has an owner (an upstream source); a value from another
 *     source is ignored, not an error.
 *
 * Every event that takes a user's next version, applied or refused, is
 * written to the store's journal (fsynced) before handle() returns: a
 * redelivery after a crash is then recognised by its version, and a
 * refused event is refused again rather than taken as stale.
 * README.md documents all of it; keep the two in step. */
#include <avro.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seam/plugin.h"
#include "user_store.h"

#define USER_SYNC_MAX_TEXT 1024 /* bytes of any one string field */
#define USER_SYNC_MAX_SOURCE 64

enum event_type { EV_CREATED, EV_ACTIVATED, EV_ROLE_CHANGED, EV_SUSPENDED, EV_DELETED, EV_COUNT };

static const char *const event_names[EV_COUNT] = {"CREATED", "ACTIVATED", "ROLE_CHANGED",
                                                  "SUSPENDED", "DELETED"};

/* The state machine: next[from][event], or -1 where the event is not
 * allowed. DELETED users refuse everything before this table is asked.
 * ROLE_CHANGED keeps the state; it is refused in CREATED because a role
 * grants access and an account gets access only once activated (the
 * initial role travels with CREATED). */
static const int next_state[USER_DELETED][EV_COUNT] = {
        /*                CREATED       ACTIVATED    ROLE_CHANGED    SUSPENDED       DELETED */
        [USER_NONE] = {USER_CREATED, -1, -1, -1, -1},
        [USER_CREATED] = {-1, USER_ACTIVE, -1, -1, USER_DELETED},
        [USER_ACTIVE] = {-1, -1, USER_ACTIVE, USER_SUSPENDED, USER_DELETED},
        [USER_SUSPENDED] = {-1, USER_ACTIVE, USER_SUSPENDED, -1, USER_DELETED},
};

/* The fields with an owner, in the order of the record. */
enum field { F_EMAIL, F_ROLE, F_DISPLAY_NAME, F_COUNT };
static const char *const field_names[F_COUNT] = {"email", "role", "display_name"};
static const char *const default_owners[F_COUNT] = {"idp", "hr", "*"};

struct user_sync {
        seam_ctx *ctx;
        const struct seam_host_api *api;
        struct user_store *store;
        pthread_mutex_t lock; /* the store and the counters */
        /* A source name, or "*": any source, the highest version wins. */
        char owner[F_COUNT][USER_SYNC_MAX_SOURCE + 1];
        uint64_t applied, rejected, stale, gap_retries;
};

/* One decoded event; strings borrowed from the message. */
struct user_event {
        const char *event_id, *user_id, *source;
        int64_t version, occurred_at;
        enum event_type type;
        const char *field[F_COUNT]; /* NULL: not carried */
};

static const struct seam_config_key user_sync_keys[] = {
        {"path", SEAM_CONFIG_STRING, NULL, 1,
         "the store's journal file (JSON lines, appended; PATH.lock next to it)"},
        {"fsync", SEAM_CONFIG_BOOL, "true", 0,
         "fsync the journal after every event before returning OK"},
        {"owners", SEAM_CONFIG_STRING, "email=idp,role=hr,display_name=*", 0,
         "field owners, FIELD=SOURCE,... (email, role, display_name; SOURCE * = any)"},
        {NULL, 0, NULL, 0, NULL},
};

/* ---- config ------------------------------------------------------------- */

/* "email=idp,role=hr": each pair overrides one default owner. */
static int parse_owners(struct user_sync *u, const char *spec, char *err, size_t errlen)
{
        for (int f = 0; f < F_COUNT; f++)
                snprintf(u->owner[f], sizeof(u->owner[f]), "%s", default_owners[f]);
        const char *p = spec;
        while (*p) {
                size_t len = strcspn(p, ",");
                const char *eq = memchr(p, '=', len);
                if (!eq) {
                        snprintf(err, errlen, "owners: \"%.*s\" is not FIELD=SOURCE", (int)len,
                                 p);
                        return -1;
                }
                size_t flen = (size_t)(eq - p), slen = len - flen - 1;
                int f = 0;
                while (f < F_COUNT &&
                       (strlen(field_names[f]) != flen || strncmp(field_names[f], p, flen)))
                        f++;
                if (f == F_COUNT) {
                        snprintf(err, errlen,
                                 "owners: unknown field \"%.*s\" (expected email, role or "
                                 "display_name)",
                                 (int)flen, p);
                        return -1;
                }
                if (slen == 0 || slen > USER_SYNC_MAX_SOURCE) {
                        snprintf(err, errlen, "owners: the source of %s must be 1 to %d characters",
                                 field_names[f], USER_SYNC_MAX_SOURCE);
                        return -1;
                }
                snprintf(u->owner[f], sizeof(u->owner[f]), "%.*s", (int)slen, eq + 1);
                p += len;
                if (*p == ',')
                        p++;
        }
        return 0;
}

static int user_sync_init(seam_ctx *ctx, const struct seam_host_api *api, void **state)
{
        if (!SEAM_API_HAS(api, msg_value)) {
                api->log(ctx, NULL, SEAM_LOG_ERROR,
                         "this host has no msg_value (ABI 1.1 needed): cannot read events");
                return -1;
        }
        struct user_sync *u = calloc(1, sizeof(*u));
        if (!u)
                return -1;
        u->ctx = ctx;
        u->api = api;
        const char *path = NULL, *owners = "";
        int fsync_each = 1;
        char err[1024];
        /* The host checked `path` is present and applied the defaults;
         * the fallbacks above only guard against a host that did not. */
        if (api->config_string(ctx, "path", &path) || !path) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "config: path is required");
                free(u);
                return -1;
        }
        api->config_bool(ctx, "fsync", &fsync_each);
        api->config_string(ctx, "owners", &owners);
        if (parse_owners(u, owners, err, sizeof(err))) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "config: %s", err);
                free(u);
                return -1;
        }
        struct user_store_info info;
        if (user_store_open(path, fsync_each, &u->store, &info, err, sizeof(err))) {
                api->log(ctx, NULL, SEAM_LOG_ERROR, "user store: %s", err);
                free(u);
                return -1;
        }
        if (pthread_mutex_init(&u->lock, NULL)) {
                user_store_close(u->store);
                free(u);
                return -1;
        }
        api->log(ctx, NULL, SEAM_LOG_INFO,
                 "user store %s: %zu users from %lld journal lines%s%s; owners email=%s "
                 "role=%s display_name=%s; fsync %s",
                 path, info.users, (long long)info.lines,
                 info.torn_bytes ? ", a partial last line dropped" : "",
                 info.compacted ? ", compacted" : "", u->owner[F_EMAIL], u->owner[F_ROLE],
                 u->owner[F_DISPLAY_NAME], fsync_each ? "on" : "off");
        *state = u;
        return 0;
}

/* ---- reading the event -------------------------------------------------- */

/* Avro strings are UTF-8 by spec, but the bytes come from the network;
 * the journal (JSON) can only hold valid UTF-8. Rejects overlong forms,
 * surrogates and code points above U+10FFFF, as jansson does. */
static int utf8_valid(const unsigned char *s, size_t n)
{
        size_t i = 0;
        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        k = 1;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        k = 2;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        k = 3;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (n - i <= k)
                        return 0;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
                if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += k + 1;
        }
        return 1;
}

enum read_result { READ_OK, READ_POISON, READ_FATAL };

/* A string field: *out points into the message. Returns READ_FATAL when the
 * reader schema lacks the field (the consumer is misconfigured, no message
 * would read), READ_POISON when this message's text is unusable. */
static enum read_result text_of(avro_value_t *f, const char *name, const char **out, char *why,
                                size_t whylen)
{
        size_t size = 0;
        if (avro_value_get_string(f, out, &size) != 0 || size == 0) {
                snprintf(why, whylen, "field %s is not a string in the reader schema", name);
                return READ_FATAL;
        }
        size--; /* Avro C counts the NUL */
        if (size > USER_SYNC_MAX_TEXT) {
                snprintf(why, whylen, "field %s is longer than %d bytes", name,
                         USER_SYNC_MAX_TEXT);
                return READ_POISON;
        }
        if (strlen(*out) != size || !utf8_valid((const unsigned char *)*out, size)) {
                snprintf(why, whylen, "field %s is not UTF-8 text", name);
                return READ_POISON;
        }
        return READ_OK;
}

static enum read_result get_text(avro_value_t *rec, const char *name, int nullable,
                                 const char **out, char *why, size_t whylen)
{
        avro_value_t f, branch;
        *out = NULL;
        if (avro_value_get_by_name(rec, name, &f, NULL) != 0) {
                snprintf(why, whylen, "the reader schema has no field %s", name);
                return READ_FATAL;
        }
        if (!nullable)
                return text_of(&f, name, out, why, whylen);
        if (avro_value_get_type(&f) != AVRO_UNION ||
            avro_value_get_current_branch(&f, &branch) != 0) {
                snprintf(why, whylen, "field %s is not [\"null\", \"string\"] in the reader schema",
                         name);
                return READ_FATAL;
        }
        if (avro_value_get_type(&branch) == AVRO_NULL)
                return READ_OK;
        return text_of(&branch, name, out, why, whylen);
}

static enum read_result get_long(avro_value_t *rec, const char *name, int64_t *out, char *why,
                                 size_t whylen)
{
        avro_value_t f;
        if (avro_value_get_by_name(rec, name, &f, NULL) != 0 ||
            avro_value_get_long(&f, out) != 0) {
                snprintf(why, whylen, "the reader schema has no long field %s", name);
                return READ_FATAL;
        }
        return READ_OK;
}

static enum read_result read_event(const struct avro_value *value, struct user_event *ev,
                                   char *why, size_t whylen)
{
        if (!value) {
                snprintf(why, whylen, "no decoded record: the consumer needs format: avro and "
                                      "schema subject identity.user-event-value");
                return READ_FATAL;
        }
        avro_value_t rec = *value, f;
        enum read_result r;
        memset(ev, 0, sizeof(*ev));
        if ((r = get_text(&rec, "event_id", 0, &ev->event_id, why, whylen)) ||
            (r = get_text(&rec, "user_id", 0, &ev->user_id, why, whylen)) ||
            (r = get_text(&rec, "source", 0, &ev->source, why, whylen)) ||
            (r = get_long(&rec, "version", &ev->version, why, whylen)) ||
            (r = get_long(&rec, "occurred_at", &ev->occurred_at, why, whylen)))
                return r;
        for (int i = 0; i < F_COUNT; i++)
                if ((r = get_text(&rec, field_names[i], 1, &ev->field[i], why, whylen)))
                        return r;
        int idx;
        const char *sym = NULL;
        if (avro_value_get_by_name(&rec, "type", &f, NULL) != 0 ||
            avro_value_get_enum(&f, &idx) != 0 ||
            !(sym = avro_schema_enum_get(avro_value_get_schema(&f), idx))) {
                snprintf(why, whylen, "the reader schema has no enum field type");
                return READ_FATAL;
        }
        /* By name, not index: the reader schema's order is not ours. */
        for (ev->type = 0; ev->type < EV_COUNT && strcmp(event_names[ev->type], sym); ev->type++)
                ;
        if (ev->type == EV_COUNT) {
                snprintf(why, whylen, "event %s: unknown event type %s", ev->event_id, sym);
                return READ_POISON;
        }
        if (!*ev->event_id || !*ev->user_id) {
                snprintf(why, whylen, "event \"%s\" for user \"%s\": event_id and user_id must "
                                      "not be empty",
                         ev->event_id, ev->user_id);
                return READ_POISON;
        }
        if (ev->version < 1) {
                snprintf(why, whylen, "event %s for user %s: version %lld is not 1 or more",
                         ev->event_id, ev->user_id, (long long)ev->version);
                return READ_POISON;
        }
        return READ_OK;
}

/* ---- applying ----------------------------------------------------------- */

static int owns(const struct user_sync *u, enum field f, const char *source)
{
        return !strcmp(u->owner[f], "*") || !strcmp(u->owner[f], source);
}

/* "ACTIVE or SUSPENDED": the states where `t` is allowed. */
static void allowed_states(enum event_type t, char *out, size_t len)
{
        size_t n = 0;
        out[0] = '\0';
        for (int st = USER_NONE; st < USER_DELETED; st++) {
                if (next_state[st][t] < 0)
                        continue;
                int w = snprintf(out + n, len - n, "%s%s", n ? " or " : "",
                                 user_status_name((enum user_status)st));
                if (w < 0 || (size_t)w >= len - n)
                        break;
                n += (size_t)w;
        }
}

/* Builds the record after `ev`, on top of `cur` (NULL: a user not seen
 * before). Strings point into `cur` or the message; the store copies. */
static void build_record(const struct user_sync *u, const struct user_record *cur,
                         const struct user_event *ev, const seam_msg *msg, char *origin,
                         size_t originlen, char *ignored, size_t ignoredlen,
                         struct user_record *next)
{
        const struct seam_host_api *api = u->api;
        if (cur)
                *next = *cur;
        else
                memset(next, 0, sizeof(*next));
        next->user_id = (char *)ev->user_id;
        next->version = ev->version;
        next->event_id = (char *)ev->event_id;
        next->event_type = (char *)event_names[ev->type];
        next->source = (char *)ev->source;
        next->occurred_at = ev->occurred_at;
        next->rejected = NULL;
        snprintf(origin, originlen, "%s/%d/%lld", api->msg_topic(msg),
                 (int)api->msg_partition(msg), (long long)api->msg_offset(msg));
        next->origin = origin;
        ignored[0] = '\0';
        next->ignored = NULL;
        char **slot[F_COUNT] = {&next->email, &next->role, &next->display_name};
        for (int f = 0; f < F_COUNT; f++) {
                if (!ev->field[f])
                        continue;
                if (owns(u, (enum field)f, ev->source)) {
                        *slot[f] = (char *)ev->field[f];
                } else {
                        size_t n = strlen(ignored);
                        snprintf(ignored + n, ignoredlen - n, "%s%s", n ? "," : "",
                                 field_names[f]);
                        next->ignored = ignored;
                }
        }
}

/* Writes `r`; maps the store's answer to a result. Lock held. */
static seam_result store_put(struct user_sync *u, const seam_msg *msg,
                             const struct user_record *r)
{
        char err[1024];
        int rc = user_store_put(u->store, r, err, sizeof(err));
        if (rc == 0)
                return SEAM_OK;
        u->api->msg_set_error(msg, err);
        if (rc == USER_STORE_EIO || rc == USER_STORE_ENOMEM)
                return SEAM_RETRY; /* the disk's trouble, not the event's */
        if (rc == USER_STORE_EINVAL)
                return SEAM_POISON;
        return SEAM_FATAL; /* the journal may end in a partial line */
}

/* The decision for one event; u->lock held. */
static seam_result apply_event(struct user_sync *u, const seam_msg *msg,
                               const struct user_event *ev)
{
        const struct seam_host_api *api = u->api;
        const struct user_record *cur = user_store_get(u->store, ev->user_id);
        int64_t stored = cur ? cur->version : 0;
        enum user_status from = cur ? cur->status : USER_NONE;
        char why[1536];

        if (ev->version <= stored) {
                /* The very event that was refused at this version, again
                 * (a redelivery after a crash, a replay): refuse it again,
                 * or it would pass as stale and never reach the DLQ. */
                if (ev->version == stored && cur->rejected && !strcmp(cur->event_id, ev->event_id)) {
                        u->rejected++;
                        api->msg_set_error(msg, cur->rejected);
                        return SEAM_POISON;
                }
                u->stale++;
                int same = ev->version == stored && !strcmp(cur->event_id, ev->event_id);
                api->log(u->ctx, msg, SEAM_LOG_INFO,
                         "stale event %s (%s, version %lld) for user %s skipped: %s stored "
                         "version %lld (event %s); %llu stale events skipped so far",
                         ev->event_id, event_names[ev->type], (long long)ev->version,
                         ev->user_id, same ? "already applied as" : "older than",
                         (long long)stored, cur->event_id, (unsigned long long)u->stale);
                return SEAM_OK;
        }
        if (from == USER_DELETED) {
                snprintf(why, sizeof(why),
                         "user %s deleted (version %lld, event %s): %s event %s (version %lld) "
                         "refused",
                         ev->user_id, (long long)stored, cur->event_id, event_names[ev->type],
                         ev->event_id, (long long)ev->version);
                api->msg_set_error(msg, why);
                u->rejected++;
                return SEAM_POISON;
        }
        if (ev->version > stored + 1) {
                u->gap_retries++;
                snprintf(why, sizeof(why),
                         "user %s: event %s (version %lld) is ahead of stored version %lld: "
                         "version %lld has not arrived yet (attempt %u)",
                         ev->user_id, ev->event_id, (long long)ev->version, (long long)stored,
                         (long long)stored + 1, api->msg_attempt(msg) + 1);
                api->msg_set_error(msg, why);
                return SEAM_RETRY;
        }

        char origin[600], ignored[64];
        struct user_record next;
        build_record(u, cur, ev, msg, origin, sizeof(origin), ignored, sizeof(ignored), &next);
        int to = next_state[from][ev->type];
        if (to < 0) {
                /* Refused, but the version is taken: the state stays, and
                 * the user's later events are not stuck behind a gap that
                 * would never fill. */
                char allowed[128];
                enum user_status named = ev->type == EV_ROLE_CHANGED ? from
                                         : ev->type == EV_ACTIVATED  ? USER_ACTIVE
                                         : ev->type == EV_CREATED    ? USER_CREATED
                                         : ev->type == EV_SUSPENDED  ? USER_SUSPENDED
                                                                     : USER_DELETED;
                allowed_states(ev->type, allowed, sizeof(allowed));
                snprintf(why, sizeof(why),
                         "user %s: invalid transition %s -> %s (event %s, version %lld): %s is "
                         "allowed only in state %s",
                         ev->user_id, user_status_name(from), user_status_name(named),
                         ev->event_id, (long long)ev->version, event_names[ev->type], allowed);
                if (cur) {
                        next.email = cur->email;
                        next.role = cur->role;
                        next.display_name = cur->display_name;
                } else {
                        next.email = next.role = next.display_name = NULL;
                }
                next.status = from;
                next.ignored = NULL;
                next.rejected = why;
                seam_result r = store_put(u, msg, &next);
                if (r != SEAM_OK)
                        return r;
                u->rejected++;
                api->msg_set_error(msg, why);
                return SEAM_POISON;
        }
        next.status = (enum user_status)to;
        if (to == USER_DELETED) /* a deleted user keeps no personal data */
                next.email = next.role = next.display_name = NULL;
        seam_result r = store_put(u, msg, &next);
        if (r == SEAM_OK) {
                u->applied++;
                if (next.ignored)
                        api->log(u->ctx, msg, SEAM_LOG_DEBUG,
                                 "user %s: %s from source %s ignored (not the owner)",
                                 ev->user_id, next.ignored, ev->source);
        }
        return r;
}

static seam_result user_sync_handle(void *state, const seam_msg *msg)
{
        struct user_sync *u = state;
        const struct seam_host_api *api = u->api;
        struct user_event ev;
        char why[1536];
        switch (read_event(api->msg_value(msg), &ev, why, sizeof(why))) {
        case READ_OK:
                break;
        case READ_POISON:
                api->msg_set_error(msg, why);
                return SEAM_POISON;
        case READ_FATAL:
        default:
                api->msg_set_error(msg, why);
                return SEAM_FATAL;
        }
        pthread_mutex_lock(&u->lock);
        seam_result r = apply_event(u, msg, &ev);
        pthread_mutex_unlock(&u->lock);
        return r;
}

static void user_sync_close(void *state)
{
        struct user_sync *u = state;
        if (!u)
                return;
        u->api->log(u->ctx, NULL, SEAM_LOG_INFO,
                    "user store closed: %zu users; this run: %llu applied, %llu refused, %llu "
                    "stale skipped, %llu gap retries",
                    user_store_users(u->store), (unsigned long long)u->applied,
                    (unsigned long long)u->rejected, (unsigned long long)u->stale,
                    (unsigned long long)u->gap_retries);
        user_store_close(u->store);
        pthread_mutex_destroy(&u->lock);
        free(u);
}

static const struct seam_plugin user_sync_plugin = {
        SEAM_PLUGIN_HEADER,
        .name = "user_sync",
        .version = "1.0.0",
        .config_keys = user_sync_keys,
        .init = user_sync_init,
        .handle = user_sync_handle,
        .close = user_sync_close,
};

SEAM_PLUGIN_DEFINE(user_sync_plugin)
