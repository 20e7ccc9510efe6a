/* user_store.c - the journal file and hash map behind user_store.h. */
#include "user_store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
        struct user_record rec;
        struct entry *next;
};

struct user_store {
        char *path;
        int fd;      /* the journal, O_APPEND */
        int lock_fd; /* PATH.lock, flock()ed while open */
        int fsync_each;
        int broken;   /* a failed write left the file in doubt */
        off_t size;   /* length of the file up to its last complete line */
        struct entry **buckets;
        size_t nbuckets, count;
};

static const char *const status_names[] = {"NONE", "CREATED", "ACTIVE", "SUSPENDED", "DELETED"};

const char *user_status_name(enum user_status st)
{
        return (unsigned)st < sizeof(status_names) / sizeof(status_names[0]) ? status_names[st]
                                                                               : "?";
}

static int status_parse(const char *s, enum user_status *out)
{
        for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
                if (!strcmp(s, status_names[i])) {
                        *out = (enum user_status)i;
                        return 0;
                }
        }
        return -1;
}

/* ---- records ------------------------------------------------------------ */

static void record_free(struct user_record *r)
{
        free(r->user_id);
        free(r->email);
        free(r->role);
        free(r->display_name);
        free(r->event_id);
        free(r->event_type);
        free(r->source);
        free(r->rejected);
        free(r->ignored);
        free(r->origin);
        memset(r, 0, sizeof(*r));
}

static int dup_opt(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -1;
}

static int record_copy(struct user_record *dst, const struct user_record *src)
{
        memset(dst, 0, sizeof(*dst));
        dst->version = src->version;
        dst->status = src->status;
        dst->occurred_at = src->occurred_at;
        if (dup_opt(&dst->user_id, src->user_id) || dup_opt(&dst->email, src->email) ||
            dup_opt(&dst->role, src->role) || dup_opt(&dst->display_name, src->display_name) ||
            dup_opt(&dst->event_id, src->event_id) ||
            dup_opt(&dst->event_type, src->event_type) || dup_opt(&dst->source, src->source) ||
            dup_opt(&dst->rejected, src->rejected) || dup_opt(&dst->ignored, src->ignored) ||
            dup_opt(&dst->origin, src->origin)) {
                record_free(dst);
                return USER_STORE_ENOMEM;
        }
        return 0;
}

/* ---- the map ------------------------------------------------------------ */

static uint64_t hash(const char *s)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return h;
}

static struct entry *find(const struct user_store *s, const char *user_id)
{
        if (!s->nbuckets)
                return NULL;
        for (struct entry *e = s->buckets[hash(user_id) & (s->nbuckets - 1)]; e; e = e->next)
                if (!strcmp(e->rec.user_id, user_id))
                        return e;
        return NULL;
}

static int grow(struct user_store *s)
{
        size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
        struct entry **b = calloc(n, sizeof(*b));
        if (!b)
                return USER_STORE_ENOMEM;
        for (size_t i = 0; i < s->nbuckets; i++) {
                struct entry *e = s->buckets[i];
                while (e) {
                        struct entry *next = e->next;
                        size_t at = hash(e->rec.user_id) & (n - 1);
                        e->next = b[at];
                        b[at] = e;
                        e = next;
                }
        }
        free(s->buckets);
        s->buckets = b;
        s->nbuckets = n;
        return 0;
}

/* Makes `r` (taken over: its strings now belong to the map) the record of
 * its user. */
static int map_set(struct user_store *s, struct user_record *r)
{
        struct entry *e = find(s, r->user_id);
        if (e) {
                record_free(&e->rec);
                e->rec = *r;
                return 0;
        }
        if (s->count >= s->nbuckets && grow(s))
                return USER_STORE_ENOMEM;
        e = calloc(1, sizeof(*e));
        if (!e)
                return USER_STORE_ENOMEM;
        e->rec = *r;
        size_t at = hash(r->user_id) & (s->nbuckets - 1);
        e->next = s->buckets[at];
        s->buckets[at] = e;
        s->count++;
        return 0;
}

const struct user_record *user_store_get(const struct user_store *s, const char *user_id)
{
        const struct entry *e = find(s, user_id);
        return e ? &e->rec : NULL;
}

size_t user_store_users(const struct user_store *s)
{
        return s->count;
}

/* ---- JSON lines --------------------------------------------------------- */

static int set_opt(json_t *o, const char *key, const char *v)
{
        json_t *j = v ? json_string(v) : json_null();
        return j ? json_object_set_new(o, key, j) : -1;
}

/* The record as one line, '\n' included; malloc'ed. */
static char *record_line(const struct user_record *r, size_t *len)
{
        json_t *o = json_object();
        int bad = !o;
        bad = bad || set_opt(o, "user_id", r->user_id);
        bad = bad || json_object_set_new(o, "version", json_integer(r->version));
        bad = bad || set_opt(o, "status", user_status_name(r->status));
        bad = bad || set_opt(o, "email", r->email);
        bad = bad || set_opt(o, "role", r->role);
        bad = bad || set_opt(o, "display_name", r->display_name);
        bad = bad || set_opt(o, "event_id", r->event_id);
        bad = bad || set_opt(o, "type", r->event_type);
        bad = bad || set_opt(o, "source", r->source);
        bad = bad || json_object_set_new(o, "occurred_at", json_integer(r->occurred_at));
        bad = bad || set_opt(o, "outcome", r->rejected ? "rejected" : "applied");
        if (r->rejected)
                bad = bad || set_opt(o, "reason", r->rejected);
        if (r->ignored)
                bad = bad || set_opt(o, "ignored", r->ignored);
        if (r->origin)
                bad = bad || set_opt(o, "origin", r->origin);
        char *text = bad ? NULL : json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text)
                return NULL;
        size_t n = strlen(text);
        char *line = realloc(text, n + 2);
        if (!line) {
                free(text);
                return NULL;
        }
        line[n] = '\n';
        line[n + 1] = '\0';
        *len = n + 1;
        return line;
}

/* A string member, or NULL for null/absent when `optional`. */
static int get_str(json_t *o, const char *key, int optional, char **out)
{
        json_t *j = json_object_get(o, key);
        *out = NULL;
        if (!j || json_is_null(j))
                return optional ? 0 : -1;
        if (!json_is_string(j))
                return -1;
        *out = strdup(json_string_value(j));
        return *out ? 0 : -1;
}

static int record_parse(const char *line, struct user_record *r, const char **why)
{
        json_error_t jerr;
        memset(r, 0, sizeof(*r));
        json_t *o = json_loads(line, 0, &jerr);
        char *status = NULL, *outcome = NULL, *reason = NULL;
        *why = "not a JSON object";
        if (!json_is_object(o))
                goto error;
        json_t *version = json_object_get(o, "version"), *at = json_object_get(o, "occurred_at");
        *why = "missing or mistyped member";
        if (get_str(o, "user_id", 0, &r->user_id) || get_str(o, "status", 0, &status) ||
            get_str(o, "email", 1, &r->email) || get_str(o, "role", 1, &r->role) ||
            get_str(o, "display_name", 1, &r->display_name) ||
            get_str(o, "event_id", 0, &r->event_id) || get_str(o, "type", 0, &r->event_type) ||
            get_str(o, "source", 0, &r->source) || get_str(o, "outcome", 0, &outcome) ||
            get_str(o, "reason", 1, &reason) || get_str(o, "ignored", 1, &r->ignored) ||
            get_str(o, "origin", 1, &r->origin) || !json_is_integer(version) ||
            !json_is_integer(at))
                goto error;
        r->version = json_integer_value(version);
        r->occurred_at = json_integer_value(at);
        *why = "invalid value (user_id, version, status or outcome)";
        if (!*r->user_id || r->version < 1 || status_parse(status, &r->status))
                goto error;
        if (!strcmp(outcome, "rejected") && reason) {
                r->rejected = reason;
                reason = NULL;
        } else if (strcmp(outcome, "applied") || reason) {
                goto error;
        }
        free(status);
        free(outcome);
        json_decref(o);
        return 0;
error:
        free(status);
        free(outcome);
        free(reason);
        record_free(r);
        json_decref(o);
        return -1;
}

/* ---- files -------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
        while (len) {
                ssize_t w = write(fd, buf, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                buf += w;
                len -= (size_t)w;
        }
        return 0;
}

/* A rename or a new file is durable only once its directory is synced. */
static int sync_dir(const char *path)
{
        char *copy = strdup(path);
        if (!copy)
                return -1;
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(copy);
        if (fd < 0)
                return -1;
        int rc = fsync(fd);
        close(fd);
        return rc;
}

static int by_user_id(const void *a, const void *b)
{
        const struct user_record *ra = *(const struct user_record *const *)a;
        const struct user_record *rb = *(const struct user_record *const *)b;
        return strcmp(ra->user_id, rb->user_id);
}

/* Rewrites the journal with one line per user (sorted, so the file reads
 * well), through a temporary file renamed over it: a crash leaves either
 * the old journal or the new one, both complete. */
static int compact(struct user_store *s, char *err, size_t errlen)
{
        size_t tlen = strlen(s->path) + 9;
        char *tmp = malloc(tlen);
        const struct user_record **all = calloc(s->count ? s->count : 1, sizeof(*all));
        int fd = -1, rc = USER_STORE_ENOMEM;
        off_t size = 0;
        if (!tmp || !all)
                goto out;
        snprintf(tmp, tlen, "%s.compact", s->path);
        size_t n = 0;
        for (size_t i = 0; i < s->nbuckets; i++)
                for (const struct entry *e = s->buckets[i]; e; e = e->next)
                        all[n++] = &e->rec;
        qsort(all, n, sizeof(*all), by_user_id);
        rc = USER_STORE_EIO;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                size_t len;
                char *line = record_line(all[i], &len);
                int bad = !line || write_all(fd, line, len);
                free(line);
                if (bad) {
                        snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
                        goto out;
                }
                size += (off_t)len;
        }
        if (fsync(fd) || close(fd)) {
                fd = -1;
                snprintf(err, errlen, "%s: fsync failed: %s", tmp, strerror(errno));
                goto out;
        }
        fd = -1;
        if (rename(tmp, s->path) || sync_dir(s->path)) {
                snprintf(err, errlen, "renaming %s to %s: %s", tmp, s->path, strerror(errno));
                goto out;
        }
        fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0) {
                snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
                goto out;
        }
        close(s->fd);
        s->fd = fd;
        s->size = size;
        fd = -1;
        rc = 0;
out:
        if (fd >= 0) {
                close(fd);
                unlink(tmp);
        }
        free(tmp);
        free(all);
        return rc;
}

/* Replays the journal into the map. A last line without its newline was
 * cut by a crash before the put returned, so it was never acknowledged:
 * it is dropped (the file truncated before it). Anything else that does not
 * parse means the file is not ours or was damaged: refuse to guess. */
static int replay(struct user_store *s, struct user_store_info *info, char *err, size_t errlen)
{
        FILE *f = fopen(s->path, "r");
        if (!f) {
                snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
                return USER_STORE_EIO;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t lineno = 0;
        int rc = 0;
        s->size = 0;
        while ((n = getline(&line, &cap, f)) > 0) {
                lineno++;
                if (line[n - 1] != '\n') {
                        info->torn_bytes = n;
                        break;
                }
                line[n - 1] = '\0';
                struct user_record r;
                const char *why;
                if (record_parse(line, &r, &why)) {
                        snprintf(err, errlen, "%s:%lld: not a user_sync journal record (%s)",
                                 s->path, (long long)lineno, why);
                        rc = USER_STORE_ECORRUPT;
                        break;
                }
                const struct entry *prev = find(s, r.user_id);
                if (prev && prev->rec.version >= r.version) {
                        snprintf(err, errlen,
                                 "%s:%lld: user %s goes back from version %lld to %lld",
                                 s->path, (long long)lineno, r.user_id,
                                 (long long)prev->rec.version, (long long)r.version);
                        record_free(&r);
                        rc = USER_STORE_ECORRUPT;
                        break;
                }
                if (map_set(s, &r)) {
                        record_free(&r);
                        snprintf(err, errlen, "out of memory replaying %s", s->path);
                        rc = USER_STORE_ENOMEM;
                        break;
                }
                s->size += n;
                info->lines++;
        }
        if (!rc && ferror(f)) {
                snprintf(err, errlen, "%s: read failed: %s", s->path, strerror(errno));
                rc = USER_STORE_EIO;
        }
        free(line);
        fclose(f);
        if (!rc && info->torn_bytes &&
            (ftruncate(s->fd, s->size) || fsync(s->fd))) {
                snprintf(err, errlen, "%s: cannot drop the partial last line: %s", s->path,
                         strerror(errno));
                rc = USER_STORE_EIO;
        }
        return rc;
}

static int lock_store(struct user_store *s, char *err, size_t errlen)
{
        size_t len = strlen(s->path) + 6;
        char *lock_path = malloc(len);
        if (!lock_path)
                return USER_STORE_ENOMEM;
        snprintf(lock_path, len, "%s.lock", s->path);
        s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        int rc = 0;
        if (s->lock_fd < 0) {
                snprintf(err, errlen, "%s: %s", lock_path, strerror(errno));
                rc = USER_STORE_EIO;
        } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
                if (errno == EWOULDBLOCK) {
                        snprintf(err, errlen,
                                 "%s is in use by another user_sync instance (%s is locked)",
                                 s->path, lock_path);
                        rc = USER_STORE_ELOCKED;
                } else {
                        snprintf(err, errlen, "%s: flock: %s", lock_path, strerror(errno));
                        rc = USER_STORE_EIO;
                }
        }
        free(lock_path);
        return rc;
}

int user_store_open(const char *path, int fsync_each, struct user_store **out,
                    struct user_store_info *info, char *err, size_t errlen)
{
        struct user_store *s = calloc(1, sizeof(*s));
        int rc = USER_STORE_ENOMEM;
        memset(info, 0, sizeof(*info));
        *out = NULL;
        if (!s) {
                snprintf(err, errlen, "out of memory");
                return rc;
        }
        s->fd = s->lock_fd = -1;
        if (!(s->path = strdup(path))) {
                snprintf(err, errlen, "out of memory");
                goto error;
        }
        s->fsync_each = fsync_each;
        if ((rc = lock_store(s, err, errlen)))
                goto error;
        s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s->fd < 0) {
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                rc = USER_STORE_EIO;
                goto error;
        }
        if (sync_dir(path)) {
                snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
                rc = USER_STORE_EIO;
                goto error;
        }
        if ((rc = replay(s, info, err, errlen)))
                goto error;
        info->users = s->count;
        /* Only once most lines are superseded, so a restart does not pay a
         * full rewrite for a journal that is already mostly live. */
        if (info->lines > 0 && (size_t)info->lines >= 2 * s->count) {
                if ((rc = compact(s, err, errlen)))
                        goto error;
                info->compacted = 1;
        }
        *out = s;
        return 0;
error:
        user_store_close(s);
        return rc;
}

int user_store_put(struct user_store *s, const struct user_record *r, char *err, size_t errlen)
{
        if (s->broken) {
                snprintf(err, errlen, "%s: an earlier failed write could not be undone",
                         s->path);
                return USER_STORE_EBROKEN;
        }
        size_t len;
        char *line = record_line(r, &len);
        if (!line) {
                /* jansson refuses text that is not UTF-8; memory is the
                 * other cause, rare enough to report the same way. */
                snprintf(err, errlen, "record of user %s cannot be written as JSON (not UTF-8?)",
                         r->user_id);
                return USER_STORE_EINVAL;
        }
        struct user_record copy;
        if (record_copy(&copy, r)) {
                free(line);
                snprintf(err, errlen, "out of memory");
                return USER_STORE_ENOMEM;
        }
        if (write_all(s->fd, line, len) || (s->fsync_each && fsync(s->fd))) {
                snprintf(err, errlen, "%s: %s failed: %s", s->path,
                         s->fsync_each ? "write or fsync" : "write", strerror(errno));
                free(line);
                record_free(&copy);
                /* Cut off whatever part of the line got in, so the next put
                 * does not continue a partial line. */
                if (ftruncate(s->fd, s->size)) {
                        s->broken = 1;
                        return USER_STORE_EBROKEN;
                }
                return USER_STORE_EIO;
        }
        free(line);
        s->size += (off_t)len;
        if (map_set(s, &copy)) {
                /* On disk but not in memory: the map would disagree with the
                 * file until a restart; stop instead. */
                record_free(&copy);
                s->broken = 1;
                snprintf(err, errlen, "out of memory after writing %s", s->path);
                return USER_STORE_EBROKEN;
        }
        return 0;
}

void user_store_close(struct user_store *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->nbuckets; i++) {
                struct entry *e = s->buckets[i];
                while (e) {
                        struct entry *next = e->next;
                        record_free(&e->rec);
                        free(e);
                        e = next;
                }
        }
        free(s->buckets);
        if (s->fd >= 0)
                close(s->fd);
        if (s->lock_fd >= 0)
                close(s->lock_fd); /* releases the flock */
        free(s->path);
        free(s);
}
