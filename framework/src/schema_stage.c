#include "schema_stage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_decode.h"
#include "err.h"
#include "wire.h"

/* One compiled resolution per writer schema id. Writers are few (versions
 * of a subject), so a small array searched linearly under a read lock. */
struct plan_entry {
        uint32_t id;
        struct seam_avro_plan *plan; /* NULL: incompatible (message cached) */
        char *error;
};

struct seam_schema_stage {
        const struct seam_consumer_config *cc;
        struct seam_registry *reg;
        struct seam_avro_limits limits;

        pthread_mutex_t reader_lock;
        struct seam_avro_schema *reader_owned; /* from reader_file */
        const struct seam_avro_schema *reader; /* NULL until resolved */
        avro_value_iface_t *iface;             /* generic class of reader */

        pthread_rwlock_t plans_lock;
        struct plan_entry **plans; /* entries never move nor go away */
        size_t plan_count;
};

static int read_file(const char *path, char **out, size_t *len, char *errstr, size_t n)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                snprintf(errstr, n, "reader_file %s: cannot open", path);
                return SEAM_ERR_CONFIG;
        }
        size_t cap = 8192, used = 0;
        char *buf = malloc(cap);
        size_t r;
        while (buf && (r = fread(buf + used, 1, cap - used, f)) > 0) {
                used += r;
                if (used == cap) {
                        if (cap >= SEAM_AVRO_SCHEMA_MAX_LEN) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
        }
        fclose(f);
        if (!buf) {
                snprintf(errstr, n, "reader_file %s: too large or out of memory", path);
                return SEAM_ERR_CONFIG;
        }
        *out = buf;
        *len = used;
        return 0;
}

static int set_reader(struct seam_schema_stage *s, const struct seam_avro_schema *reader,
                      char *errstr, size_t n)
{
        avro_value_iface_t *iface = avro_generic_class_from_schema(seam_avro_schema_avro(reader));
        if (!iface) {
                snprintf(errstr, n, "reader schema: %s", avro_strerror());
                return SEAM_ERR_CONFIG;
        }
        s->iface = iface;
        s->reader = reader;
        return 0;
}

int seam_schema_stage_new(const struct seam_consumer_config *cc, struct seam_registry *reg,
                          struct seam_schema_stage **out, char *errstr, size_t errstr_size)
{
        struct seam_schema_stage *s = calloc(1, sizeof(*s));
        if (!s)
                return SEAM_ERR_NOMEM;
        s->cc = cc;
        s->reg = reg;
        seam_avro_limits_default(&s->limits);
        pthread_mutex_init(&s->reader_lock, NULL);
        pthread_rwlock_init(&s->plans_lock, NULL);
        if (cc->reader_file) {
                char *json, inner[512];
                size_t len;
                int err = read_file(cc->reader_file, &json, &len, errstr, errstr_size);
                if (!err) {
                        err = seam_avro_schema_parse(json, len, &s->reader_owned, inner,
                                                     sizeof(inner));
                        free(json);
                        if (err) {
                                snprintf(errstr, errstr_size, "reader_file %s: %s",
                                         cc->reader_file, inner);
                                err = SEAM_ERR_CONFIG;
                        }
                }
                if (!err)
                        err = set_reader(s, s->reader_owned, errstr, errstr_size);
                if (err) {
                        seam_schema_stage_destroy(s);
                        return err;
                }
        }
        *out = s;
        return 0;
}

void seam_schema_stage_destroy(struct seam_schema_stage *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->plan_count; i++) {
                seam_avro_plan_destroy(s->plans[i]->plan);
                free(s->plans[i]->error);
                free(s->plans[i]);
        }
        free(s->plans);
        if (s->iface)
                avro_value_iface_decref(s->iface);
        seam_avro_schema_destroy(s->reader_owned);
        pthread_rwlock_destroy(&s->plans_lock);
        pthread_mutex_destroy(&s->reader_lock);
        free(s);
}

/* The reader schema from the registry, on first use (lock-free after). */
static enum seam_stage_result ensure_reader(struct seam_schema_stage *s, const char **cls,
                                            char *msg, size_t msglen)
{
        pthread_mutex_lock(&s->reader_lock);
        enum seam_stage_result r = SEAM_STAGE_OK;
        if (!s->reader) {
                const struct seam_schema *sc;
                char inner[512];
                int err = seam_registry_by_subject(s->reg, s->cc->reader_subject,
                                                   s->cc->reader_version, &sc, inner,
                                                   sizeof(inner));
                if (!err)
                        err = set_reader(s, sc->parsed, inner, sizeof(inner));
                if (err) {
                        /* Without its reader schema the consumer can decode
                         * nothing: never the message's fault. */
                        snprintf(msg, msglen, "reader schema %s version %d: %s",
                                 s->cc->reader_subject, s->cc->reader_version, inner);
                        *cls = "schema";
                        r = SEAM_STAGE_TRANSIENT;
                }
        }
        pthread_mutex_unlock(&s->reader_lock);
        return r;
}

static const struct plan_entry *find_plan(struct seam_schema_stage *s, uint32_t id)
{
        const struct plan_entry *found = NULL;
        pthread_rwlock_rdlock(&s->plans_lock);
        for (size_t i = 0; i < s->plan_count && !found; i++)
                if (s->plans[i]->id == id)
                        found = s->plans[i];
        pthread_rwlock_unlock(&s->plans_lock);
        return found;
}

/* Compiles and caches the plan of writer `id`; an incompatible writer is
 * cached too, with its message, so every later message of that id is
 * rejected without recompiling. */
static const struct plan_entry *add_plan(struct seam_schema_stage *s, const struct seam_schema *w)
{
        struct seam_avro_plan *plan = NULL;
        char err[512] = "";
        int rc = seam_avro_plan_new(w->parsed, s->reader, &plan, err, sizeof(err));
        if (rc == SEAM_ERR_NOMEM)
                return NULL; /* not the schema's fault: not cached, retried */
        if (rc)
                plan = NULL;
        pthread_rwlock_wrlock(&s->plans_lock);
        struct plan_entry *e = NULL;
        for (size_t i = 0; i < s->plan_count && !e; i++)
                if (s->plans[i]->id == w->id)
                        e = s->plans[i]; /* another thread was first */
        if (!e) {
                struct plan_entry **n = realloc(s->plans, (s->plan_count + 1) * sizeof(*n));
                if (n)
                        s->plans = n;
                if (n && (e = calloc(1, sizeof(*e)))) {
                        *e = (struct plan_entry){w->id, plan, plan ? NULL : strdup(err)};
                        s->plans[s->plan_count++] = e;
                        plan = NULL;
                }
        }
        pthread_rwlock_unlock(&s->plans_lock);
        seam_avro_plan_destroy(plan);
        return e;
}

enum seam_stage_result seam_schema_stage_run(struct seam_schema_stage *s, const void *payload,
                                             size_t len, struct seam_decode_slot *slot,
                                             int64_t *schema_id, const char **error_class,
                                             char *msg, size_t msglen)
{
        uint32_t id;
        const uint8_t *body;
        size_t body_len;
        char inner[512];
        *schema_id = -1;

        *error_class = "framing";
        if (seam_wire_parse(payload, len, &id, &body, &body_len, inner, sizeof(inner))) {
                snprintf(msg, msglen, "%s", inner);
                return SEAM_STAGE_POISON;
        }
        *schema_id = id;

        *error_class = "schema";
        enum seam_stage_result r = ensure_reader(s, error_class, msg, msglen);
        if (r != SEAM_STAGE_OK)
                return r;
        const struct seam_schema *w;
        int err = seam_registry_by_id(s->reg, id, &w, inner, sizeof(inner));
        if (err == SEAM_ERR_TRANSIENT) {
                snprintf(msg, msglen, "schema id %u: registry unreachable and not cached: %s", id,
                         inner);
                return SEAM_STAGE_TRANSIENT;
        }
        if (err) {
                snprintf(msg, msglen, "schema id %u: %s", id, inner);
                return SEAM_STAGE_POISON;
        }
        int accepted = 0;
        for (size_t i = 0; i < s->cc->subject_count && !accepted; i++) {
                int in = seam_registry_schema_in_subject(s->reg, w, s->cc->subjects[i], inner,
                                                         sizeof(inner));
                if (in == SEAM_ERR_TRANSIENT) {
                        snprintf(msg, msglen, "schema id %u: subject check: %s", id, inner);
                        return SEAM_STAGE_TRANSIENT;
                }
                accepted = in == 1;
        }
        if (!accepted) {
                snprintf(msg, msglen, "schema id %u (subject %s) is not one of the subjects this "
                                      "consumer accepts",
                         id, w->subject ? w->subject : "?");
                return SEAM_STAGE_POISON;
        }

        const struct plan_entry *pe = find_plan(s, id);
        if (!pe)
                pe = add_plan(s, w);
        if (!pe) {
                snprintf(msg, msglen, "schema id %u: out of memory compiling its plan", id);
                return SEAM_STAGE_TRANSIENT;
        }
        if (!pe->plan) {
                snprintf(msg, msglen, "schema id %u cannot be read with the reader schema: %s", id,
                         pe->error ? pe->error : "incompatible");
                return SEAM_STAGE_POISON;
        }
        const struct seam_avro_plan *plan = pe->plan;

        *error_class = "decode";
        if (!slot->ready) {
                if (avro_generic_value_new(s->iface, &slot->value)) {
                        snprintf(msg, msglen, "out of memory for the reader value");
                        return SEAM_STAGE_TRANSIENT;
                }
                slot->ready = 1;
        }
        avro_value_reset(&slot->value);
        int derr = seam_avro_decode(plan, body, body_len, &s->limits, &slot->value, inner,
                                    sizeof(inner));
        if (derr) {
                snprintf(msg, msglen, "%s", inner);
                /* Out of memory is ours, not the message's: wait and retry. */
                return derr == SEAM_ERR_NOMEM ? SEAM_STAGE_TRANSIENT : SEAM_STAGE_POISON;
        }
        return SEAM_STAGE_OK;
}

void seam_decode_slot_release(struct seam_decode_slot *slot)
{
        if (slot && slot->ready) {
                avro_value_decref(&slot->value);
                slot->ready = 0;
        }
}
