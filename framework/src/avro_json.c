#include "avro_json.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
        snprintf(err, errlen, "%s: %s", *path ? path : "(record)", what);
        return SEAM_ERR_INVALID;
}

static int fill(const json_t *j, avro_value_t *v, const char *path, char *err, size_t errlen);

/* Avro's JSON encoding of bytes: one character per byte (U+0000..U+00FF). */
static int json_bytes(const json_t *j, char *buf, size_t cap, size_t *len)
{
        const unsigned char *s = (const unsigned char *)json_string_value(j);
        size_t n = 0;
        while (*s) {
                unsigned c = *s++;
                if (c >= 0x80) {
                        if ((c & 0xe0) != 0xc0 || (*s & 0xc0) != 0x80)
                                return -1;
                        c = ((c & 0x1f) << 6) | (*s++ & 0x3f);
                        if (c > 0xff)
                                return -1;
                }
                if (n == cap)
                        return -1;
                buf[n++] = (char)c;
        }
        *len = n;
        return 0;
}

static int fill_union(const json_t *j, avro_value_t *v, const char *path, char *err, size_t errlen)
{
        avro_schema_t s = avro_value_get_schema(v);
        size_t n = avro_schema_union_size(s);
        /* {"type-name": value}: Avro's own JSON encoding of a union. */
        if (json_is_object(j) && json_object_size(j) == 1) {
                const char *name = json_object_iter_key(json_object_iter((json_t *)j));
                for (size_t i = 0; i < n; i++) {
                        avro_schema_t b = avro_schema_union_branch(s, (int)i);
                        const char *bname = avro_schema_type_name(b);
                        if (bname && !strcmp(bname, name)) {
                                avro_value_t bv;
                                if (avro_value_set_branch(v, (int)i, &bv))
                                        return fail(err, errlen, path, "cannot select union branch");
                                return fill(json_object_get(j, name), &bv, path, err, errlen);
                        }
                }
        }
        for (size_t i = 0; i < n; i++) {
                avro_value_t bv;
                char inner[256];
                if (avro_value_set_branch(v, (int)i, &bv))
                        continue;
                if (fill(j, &bv, path, inner, sizeof(inner)) == 0)
                        return 0;
        }
        return fail(err, errlen, path, "matches no branch of the union");
}

static int fill(const json_t *j, avro_value_t *v, const char *path, char *err, size_t errlen)
{
        avro_type_t t = avro_value_get_type(v);
        avro_schema_t s = avro_value_get_schema(v);
        char sub[512];
        switch (t) {
        case AVRO_NULL:
                return json_is_null(j) ? avro_value_set_null(v)
                                       : fail(err, errlen, path, "expected null");
        case AVRO_BOOLEAN:
                return json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j))
                                          : fail(err, errlen, path, "expected true or false");
        case AVRO_INT32:
                if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
                    json_integer_value(j) > INT32_MAX)
                        return fail(err, errlen, path, "expected an int (32-bit integer)");
                return avro_value_set_int(v, (int32_t)json_integer_value(j));
        case AVRO_INT64:
                if (!json_is_integer(j))
                        return fail(err, errlen, path, "expected a long (integer)");
                return avro_value_set_long(v, json_integer_value(j));
        case AVRO_FLOAT:
                if (!json_is_number(j))
                        return fail(err, errlen, path, "expected a number");
                return avro_value_set_float(v, (float)json_number_value(j));
        case AVRO_DOUBLE:
                if (!json_is_number(j))
                        return fail(err, errlen, path, "expected a number");
                return avro_value_set_double(v, json_number_value(j));
        case AVRO_STRING:
                if (!json_is_string(j))
                        return fail(err, errlen, path, "expected a string");
                return avro_value_set_string_len(v, json_string_value(j),
                                                 json_string_length(j) + 1);
        case AVRO_BYTES:
        case AVRO_FIXED: {
                char buf[65536];
                size_t len;
                if (!json_is_string(j) || json_bytes(j, buf, sizeof(buf), &len))
                        return fail(err, errlen, path,
                                    "expected a string of characters U+0000..U+00FF (bytes)");
                if (t == AVRO_FIXED) {
                        if ((int64_t)len != avro_schema_fixed_size(s))
                                return fail(err, errlen, path, "wrong length for fixed");
                        return avro_value_set_fixed(v, buf, len);
                }
                return avro_value_set_bytes(v, buf, len);
        }
        case AVRO_ENUM: {
                int idx = json_is_string(j) ? avro_schema_enum_get_by_name(s, json_string_value(j)) : -1;
                if (idx < 0)
                        return fail(err, errlen, path, "expected one of the enum's symbols");
                return avro_value_set_enum(v, idx);
        }
        case AVRO_ARRAY: {
                if (!json_is_array(j))
                        return fail(err, errlen, path, "expected an array");
                size_t i;
                json_t *item;
                json_array_foreach(j, i, item) {
                        avro_value_t e;
                        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                        if (avro_value_append(v, &e, NULL) || fill(item, &e, sub, err, errlen))
                                return SEAM_ERR_INVALID;
                }
                return 0;
        }
        case AVRO_MAP: {
                if (!json_is_object(j))
                        return fail(err, errlen, path, "expected an object (map)");
                const char *k;
                json_t *item;
                json_object_foreach((json_t *)j, k, item) {
                        avro_value_t e;
                        snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, k);
                        if (avro_value_add(v, k, &e, NULL, NULL) || fill(item, &e, sub, err, errlen))
                                return SEAM_ERR_INVALID;
                }
                return 0;
        }
        case AVRO_RECORD: {
                if (!json_is_object(j))
                        return fail(err, errlen, path, "expected an object (record)");
                size_t n = avro_schema_record_size(s);
                for (size_t i = 0; i < n; i++) {
                        const char *name = avro_schema_record_field_name(s, (int)i);
                        avro_value_t f;
                        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", name);
                        json_t *fj = json_object_get(j, name);
                        if (!fj)
                                return fail(err, errlen, sub, "missing field");
                        if (avro_value_get_by_index(v, i, &f, NULL) ||
                            fill(fj, &f, sub, err, errlen))
                                return SEAM_ERR_INVALID;
                }
                const char *k;
                json_t *item;
                json_object_foreach((json_t *)j, k, item) {
                        if (avro_schema_record_field_get_index(s, k) < 0) {
                                snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
                                return fail(err, errlen, sub, "not a field of the schema");
                        }
                }
                return 0;
        }
        case AVRO_UNION:
                return fill_union(j, v, path, err, errlen);
        default:
                return fail(err, errlen, path, "unsupported Avro type");
        }
}

int seam_avro_from_json(const json_t *json, avro_value_t *out, char *err, size_t errlen)
{
        return fill(json, out, "", err, errlen) ? SEAM_ERR_INVALID : 0;
}
