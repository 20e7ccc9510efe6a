/* user_store.h - the local user store of the user_sync plugin: an
 * append-only journal file (one JSON line per event that reached a user,
 * holding the user's whole record after it) replayed into an in-memory hash
 * map when the store is opened.
 *
 * Why a journal of records and not of events: replay must give the state
 * the plugin acknowledged, even if the plugin's rules (the field owners of
 * the config) changed since. The last line of a user is its state.
 *
 * Durability: user_store_put() returns only after the line is written and
 * (with fsync) on disk, so the plugin returns SEAM_OK only for what a crash
 * keeps. A line cut short by a crash was never acknowledged: opening drops
 * it. Opening also compacts the file (one line per user) once most of its
 * lines are superseded.
 *
 * Threading: not thread-safe; the plugin serialises every call with its
 * mutex. One store per file: opening takes an exclusive lock on PATH.lock,
 * so two instances configured with the same path cannot both write it.
 *
 * Results: 0 or one of the negative USER_STORE_E* codes below (the plugin
 * cannot use the host's seam_err codes: a plugin links nothing from Seam). */
#ifndef USER_STORE_H
#define USER_STORE_H

#include <stddef.h>
#include <stdint.h>

#define USER_STORE_EIO (-1)      /* a write or fsync failed; nothing changed, try again */
#define USER_STORE_EBROKEN (-2)  /* a failed write could not be undone: the file may end
                                    with a partial line; stop writing */
#define USER_STORE_ECORRUPT (-3) /* open: a line that is not a journal record */
#define USER_STORE_ENOMEM (-4)
#define USER_STORE_ELOCKED (-5)  /* open: another instance holds the store */
#define USER_STORE_EINVAL (-6)   /* put: text that JSON cannot carry (not UTF-8) */

enum user_status {
        USER_NONE = 0, /* never created (only a refused first event reached it) */
        USER_CREATED,
        USER_ACTIVE,
        USER_SUSPENDED,
        USER_DELETED
};

/* A user as stored. Strings are NUL-terminated; NULL where noted. */
struct user_record {
        char *user_id;
        int64_t version; /* of the last event that reached the user, applied or refused */
        enum user_status status;
        char *email;        /* NULL: not known */
        char *role;         /* NULL: not known */
        char *display_name; /* NULL: not known */
        /* The event that set `version`. */
        char *event_id;
        char *event_type;
        char *source;
        int64_t occurred_at;
        char *rejected; /* NULL: applied; else why it was refused (state unchanged) */
        char *ignored;  /* NULL, or fields the event carried from a non-owner: "email,role" */
        char *origin;   /* NULL, or "topic/partition/offset" of the message */
};

struct user_store;

/* What opening found, for the plugin's start-up log line. */
struct user_store_info {
        int64_t lines;      /* journal lines replayed */
        size_t users;
        int64_t torn_bytes; /* a partial last line dropped (a crash mid-write) */
        int compacted;      /* the file was rewritten with one line per user */
};

/* Opens (creating it if missing) and replays the journal at `path`. With
 * `fsync_each` every put is fsynced before it returns. On failure returns a
 * negative code with a message naming the file (and line) in `err`. */
int user_store_open(const char *path, int fsync_each, struct user_store **out,
                    struct user_store_info *info, char *err, size_t errlen);

/* The stored user, or NULL. Borrowed until the next put or close. */
const struct user_record *user_store_get(const struct user_store *s, const char *user_id);

/* Appends `r` to the journal (durably, see above), then makes it the
 * user's record in memory. `r` is copied. On failure the store is
 * unchanged. */
int user_store_put(struct user_store *s, const struct user_record *r, char *err, size_t errlen);

size_t user_store_users(const struct user_store *s);

/* Accepts NULL. */
void user_store_close(struct user_store *s);

/* "NONE" "CREATED" "ACTIVE" "SUSPENDED" "DELETED". */
const char *user_status_name(enum user_status st);

#endif
