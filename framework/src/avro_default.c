/* avro_default.c - the reader's field defaults: JSON (as written in the
 * reader schema) checked against the field's type and converted once at
 * plan time into a small tree, then applied to each decoded record that
 * lacks the field. Not Avro C values: Avro C cannot create a value class
 * for a type that refers to named types defined outside of it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_plan.h"
#include "err.h"

/* A default value nested this deep is a recursive default (a record whose
 * field's default is the record again), not data. */
#define DEFAULT_MAX_DEPTH 64

struct dbuild {
        const struct seam_avro_schema *reader;
        const char *where; /* the resolver's path to the field */
        struct seam_avro_path path; /* inside the default */
        char *err;
        size_t errlen;
        size_t elements;
        size_t bytes;
};

static int bfail(struct dbuild *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bfail(struct dbuild *b, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(b->err, b->errlen, "resolve: %s%s: default: ",
                         b->where, b->path.text);

        if (n < 0 || (size_t)n >= b->errlen)
                return SEAM_ERR_INVALID;
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return SEAM_ERR_INVALID;
}

static int bnomem(struct dbuild *b)
{
        snprintf(b->err, b->errlen, "resolve: %s%s: out of memory", b->where,
                 b->path.text);
        return SEAM_ERR_NOMEM;
}

/* JSON encodes bytes and fixed defaults as strings whose code points 0-255
 * are the byte values (ISO-8859-1). jansson hands out valid UTF-8. */
static int latin1(const char *s, size_t len, unsigned char *out, size_t *n)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x80) {
                        out[o++] = c;
                } else if ((c == 0xc2 || c == 0xc3) && i + 1 < len) {
                        unsigned char next = (unsigned char)s[++i];
                        out[o++] = (unsigned char)(((c & 0x1f) << 6) |
                                                   (next & 0x3f));
                } else {
                        return -1;
                }
        }
        *n = o;
        return 0;
}

static void dflt_clear(struct seam_avro_dflt *d)
{
        switch (d->type) {
        case AVRO_STRING:
        case AVRO_BYTES:
        case AVRO_FIXED: free(d->u.bytes.buf); break;
        case AVRO_ARRAY:
        case AVRO_MAP:
        case AVRO_RECORD:
                for (size_t i = 0; i < d->u.list.count; i++) {
                        dflt_clear(&d->u.list.items[i]);
                        if (d->u.list.keys)
                                free(d->u.list.keys[i]);
                }
                free(d->u.list.items);
                free(d->u.list.keys);
                break;
        case AVRO_UNION:
                seam_avro_default_free(d->u.branch.value);
                break;
        default: break;
        }
}

void seam_avro_default_free(struct seam_avro_dflt *d)
{
        if (!d)
                return;
        dflt_clear(d);
        free(d);
}

static int dflt_build(struct dbuild *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d, int depth);

static int dflt_bytes(struct dbuild *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d)
{
        size_t len = json_string_length(j), n;

        if (!(d->u.bytes.buf = malloc(len + 1)))
                return bnomem(b);
        if (avro_typeof(r) == AVRO_STRING) {
                memcpy(d->u.bytes.buf, json_string_value(j), len + 1);
                n = len;
        } else if (latin1(json_string_value(j), len,
                          (unsigned char *)d->u.bytes.buf, &n)) {
                return bfail(b, "type %s needs a string of code "
                             "points 0-255", seam_avro_type_name(r));
        }
        d->u.bytes.buf[n] = '\0';
        d->u.bytes.len = n;
        if (is_avro_fixed(r) && (int64_t)n != avro_schema_fixed_size(r))
                return bfail(b, "%zu bytes for fixed %s of size "
                             "%lld", n, avro_schema_name(r),
                             (long long)avro_schema_fixed_size(r));
        b->bytes += n;
        return 0;
}

static int dflt_record(struct dbuild *b, avro_schema_t r, const json_t *j,
                       struct seam_avro_dflt *d, int depth)
{
        const json_t *def = seam_avro_schema_def(b->reader, r);
        json_t *fields = def ? json_object_get(def, "fields") : NULL;
        size_t n = avro_schema_record_size(r);

        if (!(d->u.list.items = calloc(n ? n : 1, sizeof(*d->u.list.items))))
                return bnomem(b);
        b->elements += n;
        for (size_t k = 0; k < n; k++) {
                const char *name = avro_schema_record_field_name(r, (int)k);
                json_t *fv = json_object_get(j, name);
                size_t saved;
                int rc;

                /* A missing key takes the field's own default. */
                if (!fv)
                        fv = json_object_get(json_array_get(fields, k),
                                             "default");
                saved = seam_avro_path_push(&b->path, ".%s", name);
                d->u.list.count = k + 1;
                if (!fv)
                        return bfail(b, "the record default has no "
                                     "value for this field and the field "
                                     "has no default");
                rc = dflt_build(
                    b, avro_schema_record_field_get_by_index(r, (int)k), fv,
                    &d->u.list.items[k], depth + 1);
                if (rc)
                        return rc;
                seam_avro_path_pop(&b->path, saved);
        }
        return 0;
}

static int dflt_list(struct dbuild *b, avro_schema_t r, const json_t *j,
                     struct seam_avro_dflt *d, int depth)
{
        int is_map = avro_typeof(r) == AVRO_MAP;
        size_t n = is_map ? json_object_size(j) : json_array_size(j), i = 0;
        avro_schema_t sub =
            is_map ? avro_schema_map_values(r) : avro_schema_array_items(r);
        const char *key;
        json_t *item;
        size_t saved;
        int rc;

        if (!(d->u.list.items = calloc(n ? n : 1, sizeof(*d->u.list.items))))
                return bnomem(b);
        if (is_map && !(d->u.list.keys = calloc(n ? n : 1, sizeof(char *))))
                return bnomem(b);
        if (!is_map) {
                json_array_foreach(j, i, item)
                {
                        d->u.list.count = i + 1;
                        saved = seam_avro_path_push(&b->path, "[%zu]", i);
                        if ((rc = dflt_build(b, sub, item, &d->u.list.items[i],
                                             depth + 1)))
                                return rc;
                        seam_avro_path_pop(&b->path, saved);
                }
        } else {
                json_object_foreach((json_t *)j, key, item)
                {
                        d->u.list.count = i + 1;
                        if (!(d->u.list.keys[i] = strdup(key)))
                                return bnomem(b);
                        saved = seam_avro_path_push(&b->path, "[\"%s\"]", key);
                        if ((rc = dflt_build(b, sub, item, &d->u.list.items[i],
                                             depth + 1)))
                                return rc;
                        seam_avro_path_pop(&b->path, saved);
                        i++;
                }
        }
        b->elements += n;
        return 0;
}

static int dflt_build(struct dbuild *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d, int depth)
{
        r = seam_avro_deref(r);
        d->type = avro_typeof(r);
        if (depth > DEFAULT_MAX_DEPTH)
                return bfail(b, "nested deeper than %d levels "
                             "(a recursive default?)", DEFAULT_MAX_DEPTH);
        switch (avro_typeof(r)) {
        case AVRO_NULL:
                if (!json_is_null(j))
                        break;
                return 0;
        case AVRO_BOOLEAN:
                if (!json_is_boolean(j))
                        break;
                d->u.boolean = json_is_true(j);
                return 0;
        case AVRO_INT32:
                if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
                    json_integer_value(j) > INT32_MAX)
                        break;
                d->u.i = (int32_t)json_integer_value(j);
                return 0;
        case AVRO_INT64:
                if (!json_is_integer(j))
                        break;
                d->u.l = json_integer_value(j);
                return 0;
        case AVRO_FLOAT:
                if (!json_is_number(j))
                        break;
                d->u.f = (float)json_number_value(j);
                return 0;
        case AVRO_DOUBLE:
                if (!json_is_number(j))
                        break;
                d->u.d = json_number_value(j);
                return 0;
        case AVRO_STRING:
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (!json_is_string(j))
                        break;
                return dflt_bytes(b, r, j, d);
        case AVRO_ENUM:
                if (!json_is_string(j))
                        break;
                d->u.symbol =
                    avro_schema_enum_get_by_name(r, json_string_value(j));
                if (d->u.symbol < 0)
                        return bfail(b, "\"%s\" is not a symbol of "
                                     "enum %s", json_string_value(j),
                                     avro_schema_name(r));
                return 0;
        case AVRO_ARRAY:
                if (!json_is_array(j))
                        break;
                return dflt_list(b, r, j, d, depth);
        case AVRO_MAP:
                if (!json_is_object(j))
                        break;
                return dflt_list(b, r, j, d, depth);
        case AVRO_RECORD:
                if (!json_is_object(j))
                        break;
                return dflt_record(b, r, j, d, depth);
        case AVRO_UNION:
                /* The specification: a union's default is of its first
                 * branch. */
                d->u.branch.branch = 0;
                d->u.branch.value = calloc(1, sizeof(*d->u.branch.value));
                if (!d->u.branch.value)
                        return bnomem(b);
                return dflt_build(b, avro_schema_union_branch(r, 0), j,
                                  d->u.branch.value, depth + 1);
        default: break;
        }
        return bfail(b, "type %s needs %s", seam_avro_type_name(r),
                     is_avro_record(r)                 ? "an object"
                     : avro_typeof(r) == AVRO_NULL     ? "null"
                     : avro_typeof(r) == AVRO_BOOLEAN  ? "true or false"
                     : avro_typeof(r) == AVRO_INT32    ? "an integer within "
                                                         "32 bits"
                     : avro_typeof(r) == AVRO_INT64    ? "an integer"
                     : avro_typeof(r) == AVRO_FLOAT ||
                             avro_typeof(r) == AVRO_DOUBLE
                         ? "a number"
                     : avro_typeof(r) == AVRO_ARRAY    ? "an array"
                     : avro_typeof(r) == AVRO_MAP      ? "an object"
                                                       : "a string");
}

int seam_avro_default_new(const struct seam_avro_schema *reader,
                          avro_schema_t type, const json_t *json,
                          const char *where, struct seam_avro_dflt **out,
                          size_t *elements, size_t *bytes, char *err,
                          size_t errlen)
{
        struct dbuild b = {.reader = reader, .where = where, .err = err,
                           .errlen = errlen};
        struct seam_avro_dflt *d = calloc(1, sizeof(*d));
        int rc;

        *out = NULL;
        if (!d)
                return bnomem(&b);
        rc = dflt_build(&b, type, json, d, 0);
        if (rc) {
                seam_avro_default_free(d);
                return rc;
        }
        *out = d;
        *elements = b.elements;
        *bytes = b.bytes;
        return 0;
}

int seam_avro_default_apply(const struct seam_avro_dflt *d, avro_value_t *v)
{
        avro_value_t child;
        size_t i;
        int is_new;

        switch (d->type) {
        case AVRO_NULL: return 0;
        case AVRO_BOOLEAN: return avro_value_set_boolean(v, d->u.boolean);
        case AVRO_INT32: return avro_value_set_int(v, d->u.i);
        case AVRO_INT64: return avro_value_set_long(v, d->u.l);
        case AVRO_FLOAT: return avro_value_set_float(v, d->u.f);
        case AVRO_DOUBLE: return avro_value_set_double(v, d->u.d);
        case AVRO_STRING:
                return avro_value_set_string_len(v, d->u.bytes.buf,
                                                 d->u.bytes.len + 1);
        case AVRO_BYTES:
                return avro_value_set_bytes(v, d->u.bytes.buf,
                                            d->u.bytes.len);
        case AVRO_FIXED:
                return avro_value_set_fixed(v, d->u.bytes.buf,
                                            d->u.bytes.len);
        case AVRO_ENUM: return avro_value_set_enum(v, d->u.symbol);
        case AVRO_ARRAY:
                for (i = 0; i < d->u.list.count; i++)
                        if (avro_value_append(v, &child, NULL) ||
                            seam_avro_default_apply(&d->u.list.items[i],
                                                    &child))
                                return ENOMEM;
                return 0;
        case AVRO_MAP:
                for (i = 0; i < d->u.list.count; i++)
                        if (avro_value_add(v, d->u.list.keys[i], &child, NULL,
                                           &is_new) ||
                            seam_avro_default_apply(&d->u.list.items[i],
                                                    &child))
                                return ENOMEM;
                return 0;
        case AVRO_RECORD:
                for (i = 0; i < d->u.list.count; i++)
                        if (avro_value_get_by_index(v, i, &child, NULL) ||
                            seam_avro_default_apply(&d->u.list.items[i],
                                                    &child))
                                return ENOMEM;
                return 0;
        case AVRO_UNION:
                if (avro_value_set_branch(v, d->u.branch.branch, &child))
                        return ENOMEM;
                return seam_avro_default_apply(d->u.branch.value, &child);
        default: return EINVAL;
        }
}
