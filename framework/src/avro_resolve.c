/* avro_resolve.c - compiling the resolution of a writer schema into a reader
 * schema (the "Schema Resolution" section of the Avro specification) into a
 * plan that avro_decode.c runs over the bytes.
 *
 * Everything that depends only on the two schemas is decided here, once:
 * field matching by name and alias, promotions, union branch choices, enum
 * symbol mapping, and the reader's default values, built as Avro C values
 * to be copied into each decoded record. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_plan.h"
#include "err.h"

/* A default value nested this deep is a recursive default (a record whose
 * field's default is the record again), not data. */
#define DEFAULT_MAX_DEPTH 64

struct memo {
        avro_schema_t w;
        avro_schema_t r; /* NULL: skipping */
        struct seam_avro_node *node;
};

struct builder {
        struct seam_avro_plan *plan;
        const struct seam_avro_schema *reader;
        struct memo *memo;
        size_t memo_count;
        size_t memo_cap;
        char path[512];
        size_t path_len;
        char *err;
        size_t errlen;
};

struct cost {
        size_t elements;
        size_t bytes;
};

static int bfail(struct builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bfail(struct builder *b, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(b->err, b->errlen, "resolve: %s: ", b->path);

        if (n < 0 || (size_t)n >= b->errlen)
                return SEAM_ERR_INVALID;
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return SEAM_ERR_INVALID;
}

static int bnomem(struct builder *b)
{
        snprintf(b->err, b->errlen, "resolve: %s: out of memory", b->path);
        return SEAM_ERR_NOMEM;
}

/* Appends a path segment; returns the length to restore with path_pop. A
 * path too long for the buffer is cut, which only shortens messages. */
static size_t path_push(struct builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(struct builder *b, const char *fmt, ...)
{
        size_t saved = b->path_len;
        size_t room = sizeof(b->path) - b->path_len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(b->path + b->path_len, room, fmt, ap);
        va_end(ap);
        if (n > 0)
                b->path_len += (size_t)n < room ? (size_t)n : room - 1;
        return saved;
}

static void path_pop(struct builder *b, size_t saved)
{
        b->path_len = saved;
        b->path[saved] = '\0';
}

static avro_schema_t deref(avro_schema_t s)
{
        while (is_avro_link(s))
                s = avro_schema_link_target(s);
        return s;
}

static const char *type_name(avro_schema_t s)
{
        s = deref(s);
        switch (avro_typeof(s)) {
        case AVRO_STRING: return "string";
        case AVRO_BYTES: return "bytes";
        case AVRO_INT32: return "int";
        case AVRO_INT64: return "long";
        case AVRO_FLOAT: return "float";
        case AVRO_DOUBLE: return "double";
        case AVRO_BOOLEAN: return "boolean";
        case AVRO_NULL: return "null";
        case AVRO_ARRAY: return "array";
        case AVRO_MAP: return "map";
        case AVRO_UNION: return "union";
        case AVRO_RECORD:
        case AVRO_ENUM:
        case AVRO_FIXED: return avro_schema_name(s);
        default: return "?";
        }
}

/* "record Order", "enum Suit", "string": how messages name a type. */
static const char *describe(avro_schema_t s, char *buf, size_t cap)
{
        const char *kind = NULL;

        s = deref(s);
        switch (avro_typeof(s)) {
        case AVRO_RECORD: kind = "record"; break;
        case AVRO_ENUM: kind = "enum"; break;
        case AVRO_FIXED: kind = "fixed"; break;
        default: return type_name(s);
        }
        snprintf(buf, cap, "%s %s", kind, avro_schema_name(s));
        return buf;
}

static struct seam_avro_node *node_new(struct builder *b, uint8_t op)
{
        struct seam_avro_plan *p = b->plan;
        struct seam_avro_node *n;

        if (p->node_count == p->node_cap) {
                size_t cap = p->node_cap ? p->node_cap * 2 : 16;
                struct seam_avro_node **v =
                    realloc(p->nodes, cap * sizeof(*v));
                if (!v)
                        return NULL;
                p->nodes = v;
                p->node_cap = cap;
        }
        n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->op = op;
        p->nodes[p->node_count++] = n;
        return n;
}

static struct seam_avro_node *memo_find(struct builder *b, avro_schema_t w,
                                        avro_schema_t r)
{
        for (size_t i = 0; i < b->memo_count; i++)
                if (b->memo[i].w == w && b->memo[i].r == r)
                        return b->memo[i].node;
        return NULL;
}

static int memo_add(struct builder *b, avro_schema_t w, avro_schema_t r,
                    struct seam_avro_node *node)
{
        if (b->memo_count == b->memo_cap) {
                size_t cap = b->memo_cap ? b->memo_cap * 2 : 16;
                struct memo *m = realloc(b->memo, cap * sizeof(*m));
                if (!m)
                        return SEAM_ERR_NOMEM;
                b->memo = m;
                b->memo_cap = cap;
        }
        b->memo[b->memo_count++] = (struct memo){w, r, node};
        return 0;
}

/* The reader names a writer's named type by its (unqualified) name or by
 * one of its aliases; namespaces are not compared, as in Java's
 * SchemaCompatibility, so moving a type between namespaces is compatible. */
static int names_match(struct builder *b, avro_schema_t w, avro_schema_t r)
{
        const char *wn = avro_schema_name(w);
        const json_t *def = seam_avro_schema_def(b->reader, r);
        json_t *aliases = def ? json_object_get(def, "aliases") : NULL;
        size_t i;
        json_t *a;

        if (!strcmp(wn, avro_schema_name(r)))
                return 1;
        json_array_foreach(aliases, i, a)
        {
                const char *s = json_string_value(a);
                const char *dot = s ? strrchr(s, '.') : NULL;
                if (s && !strcmp(dot ? dot + 1 : s, wn))
                        return 1;
        }
        return 0;
}

static int promotable(avro_type_t w, avro_type_t r)
{
        switch (w) {
        case AVRO_INT32:
                return r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE;
        case AVRO_INT64: return r == AVRO_FLOAT || r == AVRO_DOUBLE;
        case AVRO_FLOAT: return r == AVRO_DOUBLE;
        case AVRO_STRING: return r == AVRO_BYTES;
        case AVRO_BYTES: return r == AVRO_STRING;
        default: return 0;
        }
}

/* The reader union branch a (non-union) writer type resolves to: the first
 * branch of the same type (and name, for named types), else the first one
 * the writer's type promotes to. -1 if none. */
static int pick_branch(struct builder *b, avro_schema_t w, avro_schema_t ru)
{
        size_t n = avro_schema_union_size(ru);
        avro_type_t wt = avro_typeof(w);

        for (size_t i = 0; i < n; i++) {
                avro_schema_t rb = deref(avro_schema_union_branch(ru, (int)i));
                if (avro_typeof(rb) != wt)
                        continue;
                if (!is_avro_named_type(rb) || names_match(b, w, rb))
                        return (int)i;
        }
        for (size_t i = 0; i < n; i++) {
                avro_schema_t rb = deref(avro_schema_union_branch(ru, (int)i));
                if (promotable(wt, avro_typeof(rb)))
                        return (int)i;
        }
        return -1;
}

static int primitive_op(avro_type_t w, avro_type_t r)
{
        switch (w) {
        case AVRO_NULL: return r == AVRO_NULL ? SEAM_OP_NULL : -1;
        case AVRO_BOOLEAN: return r == AVRO_BOOLEAN ? SEAM_OP_BOOLEAN : -1;
        case AVRO_INT32:
                switch (r) {
                case AVRO_INT32: return SEAM_OP_INT;
                case AVRO_INT64: return SEAM_OP_INT_LONG;
                case AVRO_FLOAT: return SEAM_OP_INT_FLOAT;
                case AVRO_DOUBLE: return SEAM_OP_INT_DOUBLE;
                default: return -1;
                }
        case AVRO_INT64:
                switch (r) {
                case AVRO_INT64: return SEAM_OP_LONG;
                case AVRO_FLOAT: return SEAM_OP_LONG_FLOAT;
                case AVRO_DOUBLE: return SEAM_OP_LONG_DOUBLE;
                default: return -1;
                }
        case AVRO_FLOAT:
                return r == AVRO_FLOAT    ? SEAM_OP_FLOAT
                       : r == AVRO_DOUBLE ? SEAM_OP_FLOAT_DOUBLE
                                          : -1;
        case AVRO_DOUBLE: return r == AVRO_DOUBLE ? SEAM_OP_DOUBLE : -1;
        case AVRO_STRING:
        case AVRO_BYTES:
                return r == AVRO_STRING  ? SEAM_OP_STRING
                       : r == AVRO_BYTES ? SEAM_OP_BYTES
                                         : -1;
        default: return -1;
        }
}

static int build(struct builder *b, avro_schema_t w, avro_schema_t r,
                 struct seam_avro_node **out);

/* ---- defaults ---------------------------------------------------------- */

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
                        out[o++] = (unsigned char)(((c & 0x1f) << 6) |
                                                   ((unsigned char)s[++i] & 0x3f));
                } else {
                        return -1;
                }
        }
        *n = o;
        return 0;
}

static void dflt_free(struct seam_avro_dflt *d)
{
        switch (d->type) {
        case AVRO_STRING:
        case AVRO_BYTES:
        case AVRO_FIXED: free(d->u.bytes.buf); break;
        case AVRO_ARRAY:
        case AVRO_MAP:
        case AVRO_RECORD:
                for (size_t i = 0; i < d->u.list.count; i++) {
                        dflt_free(&d->u.list.items[i]);
                        if (d->u.list.keys)
                                free(d->u.list.keys[i]);
                }
                free(d->u.list.items);
                free(d->u.list.keys);
                break;
        case AVRO_UNION:
                if (d->u.branch.value) {
                        dflt_free(d->u.branch.value);
                        free(d->u.branch.value);
                }
                break;
        default: break;
        }
}

static int dflt_build(struct builder *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d, struct cost *c, int depth);

static int dflt_bytes(struct builder *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d, struct cost *c)
{
        size_t len = json_string_length(j), n;

        if (!(d->u.bytes.buf = malloc(len + 1)))
                return bnomem(b);
        if (avro_typeof(r) == AVRO_STRING) {
                memcpy(d->u.bytes.buf, json_string_value(j), len + 1);
                n = len;
        } else if (latin1(json_string_value(j), len,
                          (unsigned char *)d->u.bytes.buf, &n)) {
                return bfail(b, "default: type %s needs a string of code "
                             "points 0-255", type_name(r));
        }
        d->u.bytes.buf[n] = '\0';
        d->u.bytes.len = n;
        if (is_avro_fixed(r) && (int64_t)n != avro_schema_fixed_size(r))
                return bfail(b, "default: %zu bytes for fixed %s of size "
                             "%lld", n, avro_schema_name(r),
                             (long long)avro_schema_fixed_size(r));
        c->bytes += n;
        return 0;
}

static int dflt_record(struct builder *b, avro_schema_t r, const json_t *j,
                       struct seam_avro_dflt *d, struct cost *c, int depth)
{
        const json_t *def = seam_avro_schema_def(b->reader, r);
        json_t *fields = def ? json_object_get(def, "fields") : NULL;
        size_t n = avro_schema_record_size(r);

        if (!(d->u.list.items = calloc(n ? n : 1, sizeof(*d->u.list.items))))
                return bnomem(b);
        for (size_t k = 0; k < n; k++) {
                const char *name = avro_schema_record_field_name(r, (int)k);
                json_t *fv = json_object_get(j, name);
                size_t saved;
                int rc;

                /* A missing key takes the field's own default. */
                if (!fv)
                        fv = json_object_get(json_array_get(fields, k),
                                             "default");
                saved = path_push(b, ".%s", name);
                d->u.list.count = k + 1;
                if (!fv)
                        return bfail(b, "default: the record default has no "
                                     "value for this field and the field "
                                     "has no default");
                rc = dflt_build(b,
                                avro_schema_record_field_get_by_index(r, (int)k),
                                fv, &d->u.list.items[k], c, depth + 1);
                if (rc)
                        return rc;
                path_pop(b, saved);
        }
        return 0;
}

static int dflt_list(struct builder *b, avro_schema_t r, const json_t *j,
                     struct seam_avro_dflt *d, struct cost *c, int depth)
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
                        saved = path_push(b, "[%zu]", i);
                        if ((rc = dflt_build(b, sub, item, &d->u.list.items[i],
                                             c, depth + 1)))
                                return rc;
                        path_pop(b, saved);
                }
        } else {
                json_object_foreach((json_t *)j, key, item)
                {
                        d->u.list.count = i + 1;
                        if (!(d->u.list.keys[i] = strdup(key)))
                                return bnomem(b);
                        saved = path_push(b, "[\"%s\"]", key);
                        if ((rc = dflt_build(b, sub, item, &d->u.list.items[i],
                                             c, depth + 1)))
                                return rc;
                        path_pop(b, saved);
                        i++;
                }
        }
        c->elements += n;
        return 0;
}

static int dflt_build(struct builder *b, avro_schema_t r, const json_t *j,
                      struct seam_avro_dflt *d, struct cost *c, int depth)
{
        r = deref(r);
        d->type = avro_typeof(r);
        if (depth > DEFAULT_MAX_DEPTH)
                return bfail(b, "default: nested deeper than %d levels "
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
                return dflt_bytes(b, r, j, d, c);
        case AVRO_ENUM:
                if (!json_is_string(j))
                        break;
                d->u.symbol =
                    avro_schema_enum_get_by_name(r, json_string_value(j));
                if (d->u.symbol < 0)
                        return bfail(b, "default: \"%s\" is not a symbol of "
                                     "enum %s", json_string_value(j),
                                     avro_schema_name(r));
                return 0;
        case AVRO_ARRAY:
                if (!json_is_array(j))
                        break;
                return dflt_list(b, r, j, d, c, depth);
        case AVRO_MAP:
                if (!json_is_object(j))
                        break;
                return dflt_list(b, r, j, d, c, depth);
        case AVRO_RECORD:
                if (!json_is_object(j))
                        break;
                return dflt_record(b, r, j, d, c, depth);
        case AVRO_UNION:
                /* The specification: a union's default is of its first
                 * branch. */
                d->u.branch.branch = 0;
                if (!(d->u.branch.value = calloc(1, sizeof(*d->u.branch.value))))
                        return bnomem(b);
                return dflt_build(b, avro_schema_union_branch(r, 0), j,
                                  d->u.branch.value, c, depth + 1);
        default: break;
        }
        return bfail(b, "default: type %s needs %s", type_name(r),
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

static int fill_new(struct builder *b, struct seam_avro_fill *f,
                    avro_schema_t rtype, const json_t *dflt)
{
        struct cost c = {0, 0};
        int rc;

        if (!(f->value = calloc(1, sizeof(*f->value))))
                return bnomem(b);
        rc = dflt_build(b, rtype, dflt, f->value, &c, 0);
        f->elements = c.elements;
        f->bytes = c.bytes;
        return rc;
}

/* ---- the writer/reader walk -------------------------------------------- */

static int build_skip(struct builder *b, avro_schema_t w,
                      struct seam_avro_node **out)
{
        struct seam_avro_node *n;
        size_t count, i;
        int rc;

        switch (avro_typeof(w)) {
        case AVRO_NULL: n = node_new(b, SEAM_OP_NULL); break;
        case AVRO_BOOLEAN: n = node_new(b, SEAM_OP_BOOLEAN); break;
        case AVRO_INT32: n = node_new(b, SEAM_OP_INT); break;
        case AVRO_INT64: n = node_new(b, SEAM_OP_LONG); break;
        case AVRO_FLOAT: n = node_new(b, SEAM_OP_FLOAT); break;
        case AVRO_DOUBLE: n = node_new(b, SEAM_OP_DOUBLE); break;
        case AVRO_STRING:
        case AVRO_BYTES: n = node_new(b, SEAM_OP_BYTES); break;
        case AVRO_FIXED:
                if (!(n = node_new(b, SEAM_OP_FIXED)))
                        break;
                n->u.fixed_size = (size_t)avro_schema_fixed_size(w);
                break;
        case AVRO_ENUM:
                if (!(n = node_new(b, SEAM_OP_ENUM)))
                        break;
                n->u.enm.count =
                    (size_t)avro_schema_enum_number_of_symbols(w);
                break;
        case AVRO_ARRAY:
        case AVRO_MAP:
                n = node_new(b, is_avro_array(w) ? SEAM_OP_ARRAY
                                                 : SEAM_OP_MAP);
                if (!n)
                        break;
                *out = n;
                return build(b,
                             is_avro_array(w) ? avro_schema_array_items(w)
                                              : avro_schema_map_values(w),
                             NULL, &n->u.items);
        case AVRO_UNION:
                count = avro_schema_union_size(w);
                if (!(n = node_new(b, SEAM_OP_WUNION)))
                        break;
                *out = n;
                n->u.wunion.branches = calloc(count, sizeof(*n->u.wunion.branches));
                if (!n->u.wunion.branches)
                        return bnomem(b);
                n->u.wunion.count = count;
                for (i = 0; i < count; i++)
                        if ((rc = build(b, avro_schema_union_branch(w, (int)i),
                                        NULL, &n->u.wunion.branches[i])))
                                return rc;
                return 0;
        case AVRO_RECORD:
                if (!(n = node_new(b, SEAM_OP_RECORD)))
                        break;
                *out = n;
                if (memo_add(b, w, NULL, n))
                        return bnomem(b);
                count = avro_schema_record_size(w);
                n->u.rec.steps = calloc(count ? count : 1, sizeof(*n->u.rec.steps));
                if (!n->u.rec.steps)
                        return bnomem(b);
                n->u.rec.step_count = count;
                for (i = 0; i < count; i++) {
                        struct seam_avro_step *s = &n->u.rec.steps[i];
                        s->reader_index = -1;
                        s->name = avro_schema_record_field_name(w, (int)i);
                        if ((rc = build(b, avro_schema_record_field_get_by_index(
                                               w, (int)i),
                                        NULL, &s->node)))
                                return rc;
                }
                return 0;
        default:
                return bfail(b, "unsupported writer type %d", avro_typeof(w));
        }
        if (!n)
                return bnomem(b);
        *out = n;
        return 0;
}

static int field_index_by_alias(const json_t *rfields, const char *wname,
                                const unsigned char *taken)
{
        size_t k, i;
        json_t *f, *a;

        json_array_foreach(rfields, k, f)
        {
                if (taken[k])
                        continue;
                json_array_foreach(json_object_get(f, "aliases"), i, a)
                {
                        if (!strcmp(json_string_value(a), wname))
                                return (int)k;
                }
        }
        return -1;
}

static int build_record(struct builder *b, avro_schema_t w, avro_schema_t r,
                        struct seam_avro_node *n)
{
        const json_t *rdef = seam_avro_schema_def(b->reader, r);
        json_t *rfields = rdef ? json_object_get(rdef, "fields") : NULL;
        size_t wn = avro_schema_record_size(w);
        size_t rn = avro_schema_record_size(r);
        unsigned char *taken = calloc(rn ? rn : 1, 1);
        int *target = calloc(wn ? wn : 1, sizeof(int));
        size_t i, fills = 0;
        int rc = 0;

        n->u.rec.steps = calloc(wn ? wn : 1, sizeof(*n->u.rec.steps));
        if (!taken || !target || !n->u.rec.steps) {
                rc = bnomem(b);
                goto out;
        }
        n->u.rec.step_count = wn;
        /* Names first, then aliases, so an alias never takes a reader field
         * from the writer field that has its very name. */
        for (i = 0; i < wn; i++) {
                int j = avro_schema_record_field_get_index(
                    r, avro_schema_record_field_name(w, (int)i));
                target[i] = j;
                if (j >= 0)
                        taken[j] = 1;
        }
        for (i = 0; i < wn; i++) {
                if (target[i] >= 0 || !rfields)
                        continue;
                target[i] = field_index_by_alias(
                    rfields, avro_schema_record_field_name(w, (int)i), taken);
                if (target[i] >= 0)
                        taken[target[i]] = 1;
        }
        for (i = 0; i < wn && !rc; i++) {
                struct seam_avro_step *s = &n->u.rec.steps[i];
                avro_schema_t wt = avro_schema_record_field_get_by_index(w, (int)i);
                size_t saved;

                s->reader_index = target[i];
                if (target[i] < 0) {
                        s->name = avro_schema_record_field_name(w, (int)i);
                        saved = path_push(b, ".%s", s->name);
                        rc = build(b, wt, NULL, &s->node);
                } else {
                        s->name = avro_schema_record_field_name(r, target[i]);
                        saved = path_push(b, ".%s", s->name);
                        rc = build(b, wt,
                                   avro_schema_record_field_get_by_index(
                                       r, target[i]),
                                   &s->node);
                }
                if (!rc)
                        path_pop(b, saved);
        }
        if (rc)
                goto out;
        for (i = 0; i < rn; i++)
                fills += !taken[i];
        n->u.rec.fills = calloc(fills ? fills : 1, sizeof(*n->u.rec.fills));
        if (!n->u.rec.fills) {
                rc = bnomem(b);
                goto out;
        }
        for (i = 0; i < rn && !rc; i++) {
                struct seam_avro_fill *f;
                json_t *dflt;
                size_t saved;

                if (taken[i])
                        continue;
                f = &n->u.rec.fills[n->u.rec.fill_count++];
                f->reader_index = (int32_t)i;
                f->name = avro_schema_record_field_name(r, (int)i);
                saved = path_push(b, ".%s", f->name);
                dflt = json_object_get(json_array_get(rfields, i), "default");
                if (!dflt) {
                        rc = bfail(b, "the reader's field is not in the "
                                   "writer's record %s and has no default",
                                   avro_schema_name(w));
                        break;
                }
                rc = fill_new(b, f, avro_schema_record_field_get_by_index(r, (int)i),
                              dflt);
                if (!rc)
                        path_pop(b, saved);
        }
out:
        free(taken);
        free(target);
        return rc;
}

static int build_enum(struct builder *b, avro_schema_t w, avro_schema_t r,
                      struct seam_avro_node *n)
{
        const json_t *rdef = seam_avro_schema_def(b->reader, r);
        json_t *jdflt = rdef ? json_object_get(rdef, "default") : NULL;
        int dflt = jdflt ? avro_schema_enum_get_by_name(
                               r, json_string_value(jdflt))
                         : -1;
        size_t count = (size_t)avro_schema_enum_number_of_symbols(w);

        n->u.enm.map = calloc(count, sizeof(int));
        if (!n->u.enm.map)
                return bnomem(b);
        n->u.enm.count = count;
        for (size_t i = 0; i < count; i++) {
                const char *sym = avro_schema_enum_get(w, (int)i);
                int j = avro_schema_enum_get_by_name(r, sym);
                if (j < 0)
                        j = dflt;
                if (j < 0)
                        return bfail(b, "the writer's enum symbol %s is not "
                                     "in the reader's enum %s, which has no "
                                     "default", sym, avro_schema_name(r));
                n->u.enm.map[i] = j;
        }
        return 0;
}

static int build(struct builder *b, avro_schema_t w, avro_schema_t r,
                 struct seam_avro_node **out)
{
        struct seam_avro_node *n;
        avro_type_t wt, rt;
        size_t saved;
        int op, rc;

        w = deref(w);
        r = r ? deref(r) : NULL;
        if (is_avro_named_type(w) && (n = memo_find(b, w, r))) {
                *out = n;
                return 0;
        }
        if (!r)
                return build_skip(b, w, out);
        wt = avro_typeof(w);
        rt = avro_typeof(r);
        if (wt == AVRO_UNION) {
                size_t count = avro_schema_union_size(w);
                if (!(n = node_new(b, SEAM_OP_WUNION)))
                        return bnomem(b);
                *out = n;
                n->u.wunion.branches = calloc(count, sizeof(*n->u.wunion.branches));
                if (!n->u.wunion.branches)
                        return bnomem(b);
                n->u.wunion.count = count;
                for (size_t i = 0; i < count; i++)
                        if ((rc = build(b, avro_schema_union_branch(w, (int)i),
                                        r, &n->u.wunion.branches[i])))
                                return rc;
                return 0;
        }
        if (rt == AVRO_UNION) {
                int j = pick_branch(b, w, r);
                if (j < 0)
                        return bfail(b, "the writer's %s matches no branch of "
                                     "the reader's union", type_name(w));
                if (!(n = node_new(b, SEAM_OP_RUNION)))
                        return bnomem(b);
                *out = n;
                n->u.runion.branch = j;
                return build(b, w, avro_schema_union_branch(r, j),
                             &n->u.runion.sub);
        }
        if ((op = primitive_op(wt, rt)) >= 0) {
                if (!(n = node_new(b, (uint8_t)op)))
                        return bnomem(b);
                *out = n;
                return 0;
        }
        if (wt != rt || (is_avro_named_type(w) && !names_match(b, w, r))) {
                char d1[160], d2[160];
                return bfail(b, "the writer's %s cannot be read as the "
                             "reader's %s", describe(w, d1, sizeof(d1)),
                             describe(r, d2, sizeof(d2)));
        }
        switch (wt) {
        case AVRO_RECORD:
                if (!(n = node_new(b, SEAM_OP_RECORD)))
                        return bnomem(b);
                *out = n;
                if (memo_add(b, w, r, n))
                        return bnomem(b);
                return build_record(b, w, r, n);
        case AVRO_ENUM:
                if (!(n = node_new(b, SEAM_OP_ENUM)))
                        return bnomem(b);
                *out = n;
                if (memo_add(b, w, r, n))
                        return bnomem(b);
                return build_enum(b, w, r, n);
        case AVRO_FIXED:
                if (avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
                        return bfail(b, "fixed %s has size %lld in the writer "
                                     "and %lld in the reader",
                                     avro_schema_name(r),
                                     (long long)avro_schema_fixed_size(w),
                                     (long long)avro_schema_fixed_size(r));
                if (!(n = node_new(b, SEAM_OP_FIXED)))
                        return bnomem(b);
                *out = n;
                n->u.fixed_size = (size_t)avro_schema_fixed_size(w);
                return memo_add(b, w, r, n) ? bnomem(b) : 0;
        case AVRO_ARRAY:
        case AVRO_MAP:
                if (!(n = node_new(b, wt == AVRO_ARRAY ? SEAM_OP_ARRAY
                                                       : SEAM_OP_MAP)))
                        return bnomem(b);
                *out = n;
                saved = path_push(b, wt == AVRO_ARRAY ? "[]" : "{}");
                rc = wt == AVRO_ARRAY
                         ? build(b, avro_schema_array_items(w),
                                 avro_schema_array_items(r), &n->u.items)
                         : build(b, avro_schema_map_values(w),
                                 avro_schema_map_values(r), &n->u.items);
                if (!rc)
                        path_pop(b, saved);
                return rc;
        default:
                return bfail(b, "unsupported writer type %s", type_name(w));
        }
}

static void node_free(struct seam_avro_node *n)
{
        switch (n->op) {
        case SEAM_OP_RECORD:
                for (size_t i = 0; i < n->u.rec.fill_count; i++) {
                        struct seam_avro_fill *f = &n->u.rec.fills[i];
                        if (f->value) {
                                dflt_free(f->value);
                                free(f->value);
                        }
                }
                free(n->u.rec.steps);
                free(n->u.rec.fills);
                break;
        case SEAM_OP_WUNION: free(n->u.wunion.branches); break;
        case SEAM_OP_ENUM: free(n->u.enm.map); break;
        default: break;
        }
        free(n);
}

void seam_avro_plan_destroy(struct seam_avro_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->node_count; i++)
                node_free(p->nodes[i]);
        free(p->nodes);
        free(p->root_name);
        if (p->writer)
                avro_schema_decref(p->writer);
        if (p->reader)
                avro_schema_decref(p->reader);
        free(p);
}

int seam_avro_plan_new(const struct seam_avro_schema *writer,
                       const struct seam_avro_schema *reader,
                       struct seam_avro_plan **out, char *err, size_t errlen)
{
        struct builder b = {.reader = reader, .err = err, .errlen = errlen};
        struct seam_avro_plan *p = calloc(1, sizeof(*p));
        avro_schema_t r = reader->avro;
        int rc;

        *out = NULL;
        if (!p) {
                snprintf(err, errlen, "resolve: out of memory");
                return SEAM_ERR_NOMEM;
        }
        b.plan = p;
        p->writer = avro_schema_incref(writer->avro);
        p->reader = avro_schema_incref(r);
        p->root_name = strdup(type_name(r));
        if (!p->root_name) {
                seam_avro_plan_destroy(p);
                snprintf(err, errlen, "resolve: out of memory");
                return SEAM_ERR_NOMEM;
        }
        path_push(&b, "%s", p->root_name);
        rc = build(&b, writer->avro, r, &p->root);
        free(b.memo);
        if (rc) {
                seam_avro_plan_destroy(p);
                return rc;
        }
        *out = p;
        return 0;
}

avro_schema_t seam_avro_plan_reader(const struct seam_avro_plan *plan)
{
        return plan->reader;
}
